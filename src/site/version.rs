//! Where a file's "version time" comes from: the time `flastmod` and
//! `LAST_MODIFIED` print and `--stable-mtimes` sets. Apache uses the file's
//! modification time (`fs`, the default); a checkout, a CI build or a copy
//! without `-t` resets those, so `git` (the last commit that changed the file) and
//! `epoch` (`SOURCE_DATE_EPOCH` for every file) give the same answer on every
//! machine.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::site::fs::Metadata;
use crate::site::git::{History, Unversioned};
use crate::site::resolve::SitePath;

/// The source of the times `flastmod`, `LAST_MODIFIED` and stable output times
/// use. `fsize` and the content hashes never depend on it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MtimeFrom {
    /// The file's modification time, as Apache (the default).
    #[default]
    Fs,
    /// The committer time of the last commit that changed the file (on the
    /// checked-out branch's first-parent history); untracked or modified files
    /// fall back to `Fs` with a warning, or fail with
    /// [`strict_git`](crate::BakerBuilder::strict_git).
    Git,
    /// This time (Unix seconds; the CLI passes `SOURCE_DATE_EPOCH`) for every file.
    Epoch(i64),
}

/// A version source by name, without its value: what `--mtime-from` and
/// `mtime-from` in `ssibake.toml` say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum, serde::Deserialize))]
#[cfg_attr(feature = "cli", serde(rename_all = "lowercase"))]
pub enum MtimeSource {
    /// The file's modification time, as Apache.
    Fs,
    /// The committer time of the last commit that changed the file.
    Git,
    /// SOURCE_DATE_EPOCH for every file.
    Epoch,
}

impl MtimeFrom {
    /// Version times that are the same on every machine with the same commit
    /// (git or the epoch; file times are not).
    pub fn is_reproducible(self) -> bool {
        !matches!(self, MtimeFrom::Fs)
    }

    /// `fs`, `git` or `epoch`.
    pub fn name(self) -> &'static str {
        match self {
            MtimeFrom::Fs => "fs",
            MtimeFrom::Git => "git",
            MtimeFrom::Epoch(_) => "epoch",
        }
    }
}

/// The version times of one baker's files.
#[derive(Debug)]
pub(crate) struct Versions {
    from: MtimeFrom,
    strict: bool,
    /// The canonical document root (for git: files are looked up by real path).
    root: Option<PathBuf>,
    history: Option<History>,
    /// Files that fell back to their file time, with the reason.
    fallbacks: Mutex<BTreeMap<String, Unversioned>>,
}

impl Versions {
    /// Apache's behaviour.
    #[cfg(test)]
    pub(crate) fn fs() -> Versions {
        Versions {
            from: MtimeFrom::Fs,
            strict: false,
            root: None,
            history: None,
            fallbacks: Mutex::new(BTreeMap::new()),
        }
    }

    /// Prepares `from` for the document root `root` (`None` when not on disk):
    /// for git, reads the history once.
    pub(crate) fn new(
        from: MtimeFrom,
        strict: bool,
        root: Option<&Path>,
    ) -> Result<Versions, String> {
        let history = match from {
            MtimeFrom::Git => {
                let root = root.ok_or("--mtime-from git needs a document root on disk")?;
                Some(History::load(root)?)
            }
            _ => None,
        };
        Ok(Versions {
            from,
            strict,
            root: root.map(Path::to_path_buf),
            history,
            fallbacks: Mutex::new(BTreeMap::new()),
        })
    }

    pub(crate) fn from(&self) -> MtimeFrom {
        self.from
    }

    /// The version time of `path`, whose file-system metadata is `meta`; `Err`
    /// (a sentence) when git has none and `--strict-git` is on.
    pub(crate) fn time(&self, path: &SitePath, meta: &Metadata) -> Result<i64, (String, bool)> {
        let why = match self.from {
            MtimeFrom::Fs => return Ok(meta.mtime),
            MtimeFrom::Epoch(t) => return Ok(t),
            MtimeFrom::Git => {
                let (Some(history), Some(root)) = (&self.history, &self.root) else {
                    return Ok(meta.mtime);
                };
                if meta.is_dir {
                    Unversioned::Untracked
                } else {
                    match root.join(path.to_path()).canonicalize() {
                        Ok(real) => match history.time(&real) {
                            Ok(t) => return Ok(t),
                            Err(why) => why,
                        },
                        Err(_) => Unversioned::Untracked,
                    }
                }
            }
        };
        if self.strict {
            return Err((
                format!(
                    "`{}` {}, and --strict-git wants every time from git",
                    path.display(),
                    reason(why, meta.is_dir)
                ),
                why == Unversioned::Shallow && !meta.is_dir,
            ));
        }
        self.fallbacks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                path.display(),
                if meta.is_dir {
                    Unversioned::Untracked
                } else {
                    why
                },
            );
        Ok(meta.mtime)
    }

    /// One warning per file that fell back to its file time, but one for all the
    /// files older than a shallow clone's history (a CI checkout of depth 1 would
    /// otherwise print one per file), with the fix.
    pub(crate) fn warnings(&self) -> Vec<String> {
        let fallbacks = self.fallbacks.lock().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<String> = fallbacks
            .iter()
            .filter(|(_, why)| **why != Unversioned::Shallow)
            .map(|(path, why)| format!("`{path}` {}; using its file time", reason(*why, false)))
            .collect();
        let shallow: Vec<&String> = fallbacks
            .iter()
            .filter(|(_, why)| **why == Unversioned::Shallow)
            .map(|(p, _)| p)
            .collect();
        if !shallow.is_empty() {
            let shown: Vec<String> = shallow.iter().take(3).map(|p| format!("`{p}`")).collect();
            let more = shallow.len().saturating_sub(3);
            out.push(format!(
                "this is a shallow clone: {} file{} ({}{}) last changed before its oldest commit, so git has no time for them and their file times are used; fetch the whole history (`git fetch --unshallow`, or `fetch-depth: 0` for actions/checkout)",
                shallow.len(),
                if shallow.len() == 1 { "" } else { "s" },
                shown.join(", "),
                if more > 0 { format!(" and {more} more") } else { String::new() }
            ));
        }
        out
    }
}

fn reason(why: Unversioned, is_dir: bool) -> &'static str {
    if is_dir {
        return "is a directory (git has no time for it)";
    }
    match why {
        Unversioned::Untracked => "is not in the git history (untracked or ignored)",
        Unversioned::Modified => "differs from the last commit (modified or staged)",
        Unversioned::Shallow => {
            "last changed before the oldest commit of this shallow clone (fetch the whole history: `git fetch --unshallow`)"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fs_and_epoch_need_no_repository() {
        let meta = Metadata {
            len: 1,
            mtime: 42,
            is_dir: false,
        };
        let p = SitePath::from_relative(b"a.css").unwrap();
        assert_eq!(Versions::fs().time(&p, &meta), Ok(42));
        let e = Versions::new(MtimeFrom::Epoch(7), false, None).unwrap();
        assert_eq!(e.time(&p, &meta), Ok(7));
        assert!(Versions::new(MtimeFrom::Git, false, None).is_err());
    }
}
