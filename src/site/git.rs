//! The git history behind `--mtime-from git`: for every file of the work tree, the
//! committer time of the last commit that changed it, read in one pass.
//!
//! Four `git` processes per run, however many files: two `rev-parse` (where the
//! work tree is, whether the clone is shallow, whether there is a commit yet), one
//! `log` over the first-parent history and one `status` (which files differ from
//! the last commit). Shelling out to the
//! `git` that made the checkout is preferred to a Rust git library: it reads every
//! repository format, `safe.directory`, alternates, clean/smudge filters and
//! `core.autocrlf` exactly as the checkout did, and adds no dependency tree.
//!
//! The log is `git log --first-parent -m --no-renames --name-only -z`:
//!
//! * `--first-parent -m`: the history of the branch as deployed, each merge
//!   showing what it brought in compared with the branch before it. A file's time
//!   is when its current content arrived on the branch, however long the feature
//!   branch lived, and the walk is linear so "first seen" is "last changed" even
//!   when committer clocks are skewed.
//! * `--no-renames`: a rename is a new path (its URL changed), whatever the user's
//!   `diff.renames` says.
//! * `-z`: paths come raw (spaces, newlines, any bytes), never quoted.
//! * run at the top of the work tree, so paths are relative to it whatever
//!   `diff.relative` says, with the repository variables a hook inherits
//!   (`GIT_DIR`, `GIT_INDEX_FILE`, `GIT_WORK_TREE`, ...) removed: the repository
//!   is the one around the document root, never the caller's; the document root's prefix is matched later against
//!   real paths (a symlinked root or file is resolved first).
//!
//! In a shallow clone the oldest commit reachable is a graft: its "changes" are
//! every file that existed then, so those files' times are not known and fall
//! back like untracked ones.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// One commit of the first-parent log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Commit {
    /// Committer time, Unix seconds.
    pub(crate) time: i64,
    /// Full object name.
    pub(crate) hash: String,
    /// Paths (relative to the top of the work tree) the commit changed.
    pub(crate) paths: Vec<Vec<u8>>,
}

/// Why a file has no git time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unversioned {
    /// Not in the history (untracked, ignored, or outside the work tree).
    Untracked,
    /// Different from the last commit (modified, staged, or untracked at a
    /// committed path).
    Modified,
    /// Last changed before the oldest commit of a shallow clone.
    Shallow,
}

/// What the history says about the files of one work tree.
#[derive(Debug)]
pub(crate) struct History {
    /// The top of the work tree, canonical.
    toplevel: PathBuf,
    /// Path to (time, changed in the shallow boundary commit).
    times: HashMap<Vec<u8>, (i64, bool)>,
    /// Paths `git status` lists: true for untracked ones (`??`).
    dirty: HashMap<Vec<u8>, bool>,
}

/// The committer time of the last change of each path, newest commit first in
/// `commits` (as `git log` prints them). A path seen in `boundary` (the hash of a
/// shallow graft) is flagged.
pub(crate) fn last_changes(
    commits: &[Commit],
    boundary: &HashSet<String>,
) -> HashMap<Vec<u8>, (i64, bool)> {
    let mut times = HashMap::new();
    for c in commits {
        let grafted = boundary.contains(&c.hash);
        for p in &c.paths {
            times.entry(p.clone()).or_insert((c.time, grafted));
        }
    }
    times
}

/// Parses `git log -z --format=%x00%ct%x20%H --name-only` output.
///
/// With `-z` every path ends in NUL and the format starts with one, so a header
/// is the first non-empty token after an empty one (a path is never empty, and
/// every path follows its header or another path). The first path of a commit
/// starts with the newline git puts after the header.
pub(crate) fn parse_log(out: &[u8]) -> Result<Vec<Commit>, String> {
    let mut commits: Vec<Commit> = Vec::new();
    let mut prev_empty = true;
    let mut first_path = false;
    for token in out.split(|&b| b == 0) {
        if token.is_empty() {
            prev_empty = true;
            continue;
        }
        if prev_empty {
            let header = String::from_utf8_lossy(token);
            let mut parts = header.split_whitespace();
            let time = parts
                .next()
                .and_then(|t| t.parse::<i64>().ok())
                .ok_or_else(|| format!("unexpected `git log` output near `{header}`"))?;
            let hash = parts.next().unwrap_or_default().to_string();
            commits.push(Commit {
                time,
                hash,
                paths: Vec::new(),
            });
            first_path = true;
        } else {
            let path = if first_path {
                token.strip_prefix(b"\n").unwrap_or(token)
            } else {
                token
            };
            first_path = false;
            let commit = commits
                .last_mut()
                .ok_or("unexpected `git log` output: a path before any commit")?;
            if !path.is_empty() {
                commit.paths.push(path.to_vec());
            }
        }
        prev_empty = false;
    }
    Ok(commits)
}

/// Parses `git status --porcelain=v1 -z` output: every path listed (both sides of
/// a rename or copy), true when it is untracked (`??`). A path listed twice
/// (`D ` and `??` after `git rm --cached`) counts as modified.
pub(crate) fn parse_status(out: &[u8]) -> HashMap<Vec<u8>, bool> {
    let mut dirty: HashMap<Vec<u8>, bool> = HashMap::new();
    let mut add = |path: &[u8], untracked: bool| {
        let e = dirty.entry(path.to_vec()).or_insert(untracked);
        *e = *e && untracked;
    };
    let mut tokens = out.split(|&b| b == 0);
    while let Some(entry) = tokens.next() {
        if entry.len() < 4 {
            continue;
        }
        let (xy, path) = (&entry[..2], &entry[3..]);
        add(path, xy == b"??");
        if xy.contains(&b'R') || xy.contains(&b'C') {
            if let Some(origin) = tokens.next() {
                add(origin, false);
            }
        }
    }
    dirty
}

/// The variables that point git at a repository, an index or an object store
/// other than the one found from the directory it runs in: git's own list
/// (`git rev-parse --local-env-vars`, less the `-c` settings, which are the
/// user's), plus the ones a hook inherits (`GIT_QUARANTINE_PATH` in
/// `pre-receive`, `GIT_NAMESPACE`). A hook exports `GIT_DIR` for its bare
/// repository and often `GIT_INDEX_FILE` or `GIT_WORK_TREE`; inherited by the
/// `git` run here, they would make it read that repository instead of the one
/// around the document root (or fail: "not in a git work tree"). The document
/// root's own repository is the only one asked, found from `-C <dir>` as
/// `git status` would in a shell there.
pub(crate) const REPOSITORY_ENV: &[&str] = &[
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_IMPLICIT_WORK_TREE",
    "GIT_GRAFT_FILE",
    "GIT_SHALLOW_FILE",
    "GIT_NO_REPLACE_OBJECTS",
    "GIT_REPLACE_REF_BASE",
    "GIT_PREFIX",
    "GIT_CONFIG",
    "GIT_QUARANTINE_PATH",
    "GIT_NAMESPACE",
];

fn git(dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    for var in REPOSITORY_ENV {
        cmd.env_remove(var);
    }
    cmd.arg("-C")
        .arg(dir)
        .args(["-c", "log.showSignature=false", "--no-optional-locks"]);
    cmd
}

fn run(mut cmd: Command, what: &str) -> Result<Vec<u8>, String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run `git {what}`: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "`git {what}` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(out.stdout)
}

impl History {
    /// Reads the history of the work tree containing `dir`.
    pub(crate) fn load(dir: &Path) -> Result<History, String> {
        let mut cmd = git(dir);
        cmd.args([
            "rev-parse",
            "--show-toplevel",
            "--is-shallow-repository",
            "--git-path",
            "shallow",
        ]);
        let out = run(cmd, "rev-parse").map_err(|e| {
            format!(
                "--mtime-from git: `{}` is not in a git work tree ({e})",
                dir.display()
            )
        })?;
        let text = String::from_utf8_lossy(&out);
        let mut lines = text.lines();
        let (Some(top), Some(shallow), Some(shallow_file)) =
            (lines.next(), lines.next(), lines.next())
        else {
            return Err(format!("unexpected `git rev-parse` output: `{text}`"));
        };
        let toplevel = Path::new(top)
            .canonicalize()
            .map_err(|e| format!("cannot resolve the git work tree `{top}`: {e}"))?;
        let boundary: HashSet<String> = if shallow == "true" {
            let file = dir.join(shallow_file);
            std::fs::read_to_string(&file)
                .map_err(|e| format!("cannot read `{}`: {e}", file.display()))?
                .lines()
                .map(|l| l.trim().to_string())
                .collect()
        } else {
            HashSet::new()
        };

        let mut head = git(&toplevel);
        head.args(["rev-parse", "--verify", "--quiet", "HEAD"]);
        let has_head = head.output().is_ok_and(|o| o.status.success());
        let commits = if has_head {
            let mut log = git(&toplevel);
            log.args([
                "log",
                "--first-parent",
                "-m",
                "--root",
                "--no-renames",
                "--no-color",
                "--name-only",
                "-z",
                "--format=%x00%ct%x20%H",
                "HEAD",
                "--",
            ]);
            parse_log(&run(log, "log")?)?
        } else {
            Vec::new()
        };
        let mut status = git(&toplevel);
        status.args([
            "status",
            "--porcelain=v1",
            "-z",
            "--untracked-files=all",
            "--no-renames",
        ]);
        let dirty = parse_status(&run(status, "status")?);
        Ok(History {
            toplevel,
            times: last_changes(&commits, &boundary),
            dirty,
        })
    }

    /// The git time of the file at `real` (a canonical path).
    pub(crate) fn time(&self, real: &Path) -> Result<i64, Unversioned> {
        let rel = real
            .strip_prefix(&self.toplevel)
            .map_err(|_| Unversioned::Untracked)?;
        let key = rel.as_os_str().as_encoded_bytes();
        match self.dirty.get(key) {
            Some(true) => return Err(Unversioned::Untracked),
            Some(false) => return Err(Unversioned::Modified),
            None => {}
        }
        match self.times.get(key) {
            Some((_, true)) => Err(Unversioned::Shallow),
            Some((t, false)) => Ok(*t),
            None => Err(Unversioned::Untracked),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit(time: i64, hash: &str, paths: &[&[u8]]) -> Commit {
        Commit {
            time,
            hash: hash.into(),
            paths: paths.iter().map(|p| p.to_vec()).collect(),
        }
    }

    #[test]
    fn parses_paths_with_spaces_newlines_and_unicode() {
        let out = b"\x00600 ccc\x00\nnew\nline.txt\x00a b.css\x00\x00500 bbb\x00\x00400 aaa\x00\nd/\xc3\xa9.js\x00";
        let commits = parse_log(out).unwrap();
        assert_eq!(
            commits,
            [
                commit(600, "ccc", &[b"new\nline.txt", b"a b.css"]),
                commit(500, "bbb", &[]),
                commit(400, "aaa", &["d/é.js".as_bytes()]),
            ]
        );
    }

    #[test]
    fn a_path_made_of_digits_is_not_a_header() {
        let out = b"\x00700 h\x00\n600\x00123 x\x00";
        let commits = parse_log(out).unwrap();
        assert_eq!(commits, [commit(700, "h", &[b"600", b"123 x"])]);
    }

    #[test]
    fn the_newest_change_wins_for_a_file_touched_several_times() {
        let commits = [
            commit(300, "c", &[b"a.css"]),
            commit(200, "b", &[b"a.css", b"b.css"]),
            commit(100, "a", &[b"a.css", b"b.css", b"c.css"]),
        ];
        let t = last_changes(&commits, &HashSet::new());
        assert_eq!(t[&b"a.css"[..]], (300, false));
        assert_eq!(t[&b"b.css"[..]], (200, false));
        assert_eq!(t[&b"c.css"[..]], (100, false));
    }

    #[test]
    fn clock_skew_does_not_reorder_a_linear_history() {
        // A commit made on a machine whose clock was behind: still the last change.
        let commits = [commit(50, "b", &[b"a.css"]), commit(100, "a", &[b"a.css"])];
        let t = last_changes(&commits, &HashSet::new());
        assert_eq!(t[&b"a.css"[..]].0, 50);
    }

    #[test]
    fn the_shallow_boundary_is_flagged() {
        let commits = [
            commit(300, "c", &[b"a.css"]),
            commit(100, "a", &[b"a.css", b"b.css"]),
        ];
        let boundary: HashSet<String> = ["a".to_string()].into();
        let t = last_changes(&commits, &boundary);
        assert_eq!(t[&b"a.css"[..]], (300, false));
        assert_eq!(t[&b"b.css"[..]], (100, true));
    }

    #[test]
    fn status_lists_both_sides_of_a_rename() {
        let out = b" M css/a b.css\x00?? new\nfile\x00R  to.css\x00from.css\x00A  x.js\x00D  gone\x00?? gone\x00";
        let dirty = parse_status(out);
        for p in [
            &b"css/a b.css"[..],
            b"to.css",
            b"from.css",
            b"x.js",
            b"gone",
        ] {
            assert_eq!(
                dirty.get(p),
                Some(&false),
                "{:?}",
                String::from_utf8_lossy(p)
            );
        }
        assert_eq!(dirty.get(&b"new\nfile"[..]), Some(&true));
        assert_eq!(dirty.len(), 6);
    }

    fn sh(dir: &Path, args: &[&str], time: i64) {
        let date = format!("@{time} +0000");
        let out = Command::new("git")
            .current_dir(dir)
            .args(args)
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn real(dir: &Path, p: &str) -> PathBuf {
        dir.join(p).canonicalize().unwrap()
    }

    #[test]
    fn reads_a_real_history_with_renames_merges_and_odd_names() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        sh(d, &["init", "-q", "-b", "main"], 0);
        std::fs::create_dir_all(d.join("site/css")).unwrap();
        std::fs::write(d.join("site/css/a b.css"), "a").unwrap();
        std::fs::write(d.join("site/é.js"), "e").unwrap();
        std::fs::write(d.join("site/old.txt"), "o").unwrap();
        std::fs::write(d.join("site/keep.txt"), "k").unwrap();
        sh(d, &["add", "."], 100);
        sh(d, &["commit", "-qm", "one"], 100);
        // A feature branch changes é.js at 200; main changes keep.txt at 250; the
        // merge lands at 300.
        sh(d, &["checkout", "-qb", "feature"], 0);
        std::fs::write(d.join("site/é.js"), "e2").unwrap();
        sh(d, &["commit", "-qam", "feature"], 200);
        sh(d, &["checkout", "-q", "main"], 0);
        std::fs::write(d.join("site/keep.txt"), "k2").unwrap();
        sh(d, &["commit", "-qam", "main"], 250);
        sh(
            d,
            &["merge", "-q", "--no-ff", "feature", "-m", "merge"],
            300,
        );
        sh(d, &["mv", "site/old.txt", "site/new.txt"], 0);
        sh(d, &["commit", "-qm", "rename"], 400);
        std::fs::write(d.join("site/css/a b.css"), "a2").unwrap();
        sh(d, &["commit", "-qam", "again"], 500);
        std::fs::write(d.join("site/untracked.txt"), "u").unwrap();
        std::fs::write(d.join("site/keep.txt"), "dirty").unwrap();

        let h = History::load(&d.join("site")).unwrap();
        assert_eq!(h.time(&real(d, "site/css/a b.css")), Ok(500));
        // Arrived on main with the merge.
        assert_eq!(h.time(&real(d, "site/é.js")), Ok(300));
        // A rename is a new path.
        assert_eq!(h.time(&real(d, "site/new.txt")), Ok(400));
        assert_eq!(
            h.time(&real(d, "site/keep.txt")),
            Err(Unversioned::Modified)
        );
        assert_eq!(
            h.time(&real(d, "site/untracked.txt")),
            Err(Unversioned::Untracked)
        );
    }

    #[test]
    fn a_shallow_clone_does_not_invent_times() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        std::fs::create_dir(&src).unwrap();
        sh(&src, &["init", "-q", "-b", "main"], 0);
        std::fs::write(src.join("old.css"), "o").unwrap();
        std::fs::write(src.join("new.css"), "n").unwrap();
        sh(&src, &["add", "."], 0);
        sh(&src, &["commit", "-qm", "one"], 100);
        std::fs::write(src.join("mid.css"), "m").unwrap();
        sh(&src, &["add", "."], 0);
        sh(&src, &["commit", "-qm", "two"], 200);
        std::fs::write(src.join("new.css"), "n2").unwrap();
        sh(&src, &["commit", "-qam", "three"], 300);
        let url = format!("file://{}", src.display());
        sh(
            tmp.path(),
            &["clone", "-q", "--depth", "2", &url, "shallow"],
            0,
        );
        let clone = tmp.path().join("shallow");
        let h = History::load(&clone).unwrap();
        assert_eq!(h.time(&real(&clone, "new.css")), Ok(300));
        assert_eq!(h.time(&real(&clone, "old.css")), Err(Unversioned::Shallow));
        assert_eq!(h.time(&real(&clone, "mid.css")), Err(Unversioned::Shallow));
    }
}
