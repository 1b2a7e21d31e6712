//! Write: the only stage that touches the output. Sinks receive each output file
//! (a staging directory, memory, or a comparison with an existing tree); a staging
//! tree is swapped in atomically under a lock; single files are replaced
//! atomically.

use std::collections::BTreeSet;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::report::Difference;
use crate::engine::baker::Baker;
use crate::site::resolve::SitePath;

/// Receives the output files of a bake.
pub(super) trait Sink: Sync {
    fn page(&self, path: &SitePath, bytes: &[u8]) -> io::Result<()>;
    fn asset(&self, baker: &Baker, path: &SitePath) -> io::Result<()>;
    /// The revved copy `revved` of `file` (time `mtime` when given).
    fn revved(
        &self,
        baker: &Baker,
        file: &SitePath,
        revved: &SitePath,
        mtime: Option<i64>,
    ) -> io::Result<()>;
    /// Sets a written page's modification time.
    fn set_mtime(&self, _path: &SitePath, _mtime: i64) -> io::Result<()> {
        Ok(())
    }
    /// A symlink that leads out of the root, published as the same symlink.
    fn link(&self, _path: &SitePath, _target: &Path) -> io::Result<()> {
        Ok(())
    }
}

/// The revved copy of `file` beside it, unless a file of that name and size is
/// already there (the name carries the content's hash).
pub(super) fn write_revved_in_place(
    baker: &Baker,
    file: &SitePath,
    target: &Path,
    mtime: Option<i64>,
) -> io::Result<()> {
    let bytes = baker.fs.read(file)?;
    let present = std::fs::metadata(target).is_ok_and(|m| m.len() == bytes.len() as u64);
    if !present {
        write_atomically(target, &bytes)?;
    }
    if let Some(t) = mtime {
        filetime::set_file_mtime(target, filetime::FileTime::from_unix_time(t, 0))?;
    }
    Ok(())
}

pub(super) fn absolute(p: &Path) -> io::Result<PathBuf> {
    if let Ok(c) = p.canonicalize() {
        return Ok(c);
    }
    // Not there yet: canonicalize the parent.
    let parent = p
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = p
        .file_name()
        .ok_or_else(|| io::Error::other("output path has no name"))?;
    std::fs::create_dir_all(parent)?;
    Ok(parent.canonicalize()?.join(name))
}

/// Takes an exclusive advisory lock (`flock`) on `dir`, the output's parent, for
/// the whole run: two deploys baking into the same place (two quick pushes) run
/// one after the other, so the later one reads the newer files and its output is
/// the one that stays. Best effort: where `dir` cannot be opened or locked, the
/// run goes on unlocked (the swap itself is atomic either way).
pub(super) fn lock_dir(dir: &Path) -> Option<std::fs::File> {
    let f = std::fs::File::open(dir).ok()?;
    rustix::fs::flock(&f, rustix::fs::FlockOperation::LockExclusive).ok()?;
    Some(f)
}

/// Removes what killed runs left in `dir`: staging trees (`.ssibake-staging-*`, and
/// their `.old` half of a fallback swap) and temporary files (`.ssibake-*`). Called
/// only while holding [`lock_dir`]'s lock on `dir`: runs into the same place take
/// turns under it, so nothing of that shape there belongs to a live run.
pub(super) fn remove_leftovers(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.as_encoded_bytes().starts_with(b".ssibake-") {
            continue;
        }
        let path = entry.path();
        let gone = match entry.file_type() {
            Ok(t) if t.is_dir() => std::fs::remove_dir_all(&path),
            Ok(_) => std::fs::remove_file(&path),
            Err(e) => Err(e),
        };
        removed += usize::from(gone.is_ok());
    }
    removed
}

/// Puts the finished `staging` tree at `out`. With an existing `out` the two
/// directories are exchanged in one atomic `renameat2(RENAME_EXCHANGE)` where the
/// file system supports it, so a server never sees a missing or half-built tree;
/// elsewhere `out` is moved aside and `staging` renamed in its place. Afterwards
/// `staging` holds the previous output (to be deleted).
pub(super) fn swap_into_place(staging: &Path, out: &Path) -> io::Result<()> {
    if !out.exists() {
        std::fs::rename(staging, out)?;
        // Leave an empty directory for the staging guard to remove.
        return std::fs::create_dir(staging);
    }
    match rustix::fs::renameat_with(
        rustix::fs::CWD,
        staging,
        rustix::fs::CWD,
        out,
        rustix::fs::RenameFlags::EXCHANGE,
    ) {
        Ok(()) => Ok(()),
        Err(_) => {
            let old = staging.with_extension("old");
            std::fs::rename(out, &old)?;
            std::fs::rename(staging, out)?;
            std::fs::rename(&old, staging)
        }
    }
}

/// Writes `bytes` over `target` atomically, keeping its permissions and owner.
pub(super) fn replace_file(target: &Path, bytes: &[u8]) -> io::Result<()> {
    let old = std::fs::metadata(target).ok();
    write_atomically(target, bytes)?;
    #[cfg(unix)]
    if let Some(meta) = old {
        use std::os::unix::fs::MetadataExt;
        // Only root may give a file away; for anyone else the owner is already theirs.
        let _ = std::os::unix::fs::chown(target, Some(meta.uid()), Some(meta.gid()));
    }
    Ok(())
}

/// Writes into a staging directory.
pub(super) struct DirSink {
    pub(super) dir: PathBuf,
    pub(super) made: Mutex<BTreeSet<PathBuf>>,
}

impl DirSink {
    pub(super) fn new(dir: PathBuf) -> DirSink {
        DirSink {
            dir,
            made: Mutex::new(BTreeSet::new()),
        }
    }

    fn target(&self, path: &SitePath) -> io::Result<PathBuf> {
        let target = self.dir.join(path.to_path());
        if let Some(parent) = target.parent() {
            let mut made = self.made.lock().unwrap_or_else(|p| p.into_inner());
            if !made.contains(parent) {
                std::fs::create_dir_all(parent)?;
                made.insert(parent.to_path_buf());
            }
        }
        Ok(target)
    }
}

impl Sink for DirSink {
    fn page(&self, path: &SitePath, bytes: &[u8]) -> io::Result<()> {
        let target = self.target(path)?;
        std::fs::write(&target, bytes)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644))?;
        }
        Ok(())
    }

    fn revved(
        &self,
        baker: &Baker,
        file: &SitePath,
        revved: &SitePath,
        mtime: Option<i64>,
    ) -> io::Result<()> {
        if self.dir.join(revved.to_path()).exists() {
            // Copied from the root already (a revved name is content-addressed).
            return Ok(());
        }
        match mtime {
            None => self.link_or_copy(baker, file, revved),
            Some(t) => {
                // A copy of its own: a hard link would change the source's time.
                let target = self.target(revved)?;
                std::fs::write(&target, baker.fs.read(file)?)?;
                filetime::set_file_mtime(&target, filetime::FileTime::from_unix_time(t, 0))
            }
        }
    }

    fn set_mtime(&self, path: &SitePath, mtime: i64) -> io::Result<()> {
        filetime::set_file_mtime(
            self.dir.join(path.to_path()),
            filetime::FileTime::from_unix_time(mtime, 0),
        )
    }

    fn asset(&self, baker: &Baker, path: &SitePath) -> io::Result<()> {
        self.link_or_copy(baker, path, path)
    }

    fn link(&self, path: &SitePath, target: &Path) -> io::Result<()> {
        let link = self.target(path)?;
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(target, link)
        }
        #[cfg(not(unix))]
        {
            let _ = (link, target);
            Err(io::Error::other("symlinks are published on Unix only"))
        }
    }
}

impl DirSink {
    /// `target` in the output as a hard link to `path` (or a copy with its times).
    fn link_or_copy(&self, baker: &Baker, path: &SitePath, target: &SitePath) -> io::Result<()> {
        let target = self.target(target)?;
        let Some(root) = &baker.disk_root else {
            return std::fs::write(&target, baker.fs.read(path)?);
        };
        // The real file (symlinks resolved, and refused if they leave the root).
        let source = crate::site::fs::DiskFs::new(root)?.confine(path)?;
        if std::fs::hard_link(&source, &target).is_ok() {
            return Ok(());
        }
        // Another file system: copy, then keep the times so `flastmod` against the
        // output gives the same answer.
        std::fs::copy(&source, &target)?;
        let meta = std::fs::metadata(&source)?;
        filetime::set_file_times(
            &target,
            filetime::FileTime::from_last_access_time(&meta),
            filetime::FileTime::from_last_modification_time(&meta),
        )
    }
}

/// Keeps the output in memory.
#[derive(Default)]
pub(super) struct MemorySink {
    pub(super) files: Mutex<Vec<(String, Vec<u8>)>>,
}

impl Sink for MemorySink {
    fn page(&self, path: &SitePath, bytes: &[u8]) -> io::Result<()> {
        self.files
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((path.display(), bytes.to_vec()));
        Ok(())
    }

    fn asset(&self, baker: &Baker, path: &SitePath) -> io::Result<()> {
        let bytes = baker.fs.read(path)?;
        self.page(path, &bytes)
    }

    fn revved(
        &self,
        baker: &Baker,
        file: &SitePath,
        revved: &SitePath,
        _mtime: Option<i64>,
    ) -> io::Result<()> {
        let mut files = self.files.lock().unwrap_or_else(|p| p.into_inner());
        let name = revved.display();
        if !files.iter().any(|(p, _)| *p == name) {
            files.push((name, baker.fs.read(file)?));
        }
        Ok(())
    }
}

/// Compares with an existing output tree.
pub(super) struct CheckSink {
    pub(super) out: PathBuf,
    pub(super) seen: Mutex<BTreeSet<String>>,
    pub(super) diffs: Mutex<Vec<Difference>>,
}

impl CheckSink {
    fn compare(&self, path: &SitePath, fresh: &[u8]) {
        let name = path.display();
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.clone());
        let diff = match std::fs::read(self.out.join(path.to_path())) {
            Ok(old) if old == fresh => return,
            Ok(old) => unified_diff(&name, &old, fresh),
            Err(_) => "missing from the existing output".to_string(),
        };
        self.diffs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Difference { path: name, diff });
    }
}

impl Sink for CheckSink {
    fn page(&self, path: &SitePath, bytes: &[u8]) -> io::Result<()> {
        self.compare(path, bytes);
        Ok(())
    }

    fn asset(&self, baker: &Baker, path: &SitePath) -> io::Result<()> {
        let bytes = baker.fs.read(path)?;
        self.compare(path, &bytes);
        Ok(())
    }

    fn link(&self, path: &SitePath, target: &Path) -> io::Result<()> {
        let name = path.display();
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.clone());
        let existing = std::fs::read_link(self.out.join(path.to_path()));
        if existing.as_deref().ok() != Some(target) {
            self.diffs
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(Difference {
                    path: name,
                    diff: format!("a symlink to `{}` in the fresh bake", target.display()),
                });
        }
        Ok(())
    }

    fn revved(
        &self,
        baker: &Baker,
        file: &SitePath,
        revved: &SitePath,
        _mtime: Option<i64>,
    ) -> io::Result<()> {
        if self
            .seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&revved.display())
        {
            return Ok(());
        }
        let bytes = baker.fs.read(file)?;
        self.compare(revved, &bytes);
        Ok(())
    }
}

/// A unified diff of two versions of a file (shown lossily as UTF-8).
pub(crate) fn unified_diff(name: &str, old: &[u8], new: &[u8]) -> String {
    let old = String::from_utf8_lossy(old);
    let new = String::from_utf8_lossy(new);
    similar::TextDiff::from_lines(old.as_ref(), new.as_ref())
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{name}"), &format!("b/{name}"))
        .to_string()
}

/// Writes `bytes` to `path` through a temporary file in the same directory, synced
/// and renamed over the target, so a reader sees the old file or the new one and
/// never half of either. The target's permissions are kept (new files: 0644).
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".ssibake-")
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    let perms = match std::fs::metadata(path) {
        Ok(m) => m.permissions(),
        Err(_) => default_permissions(),
    };
    tmp.as_file().set_permissions(perms)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(unix)]
fn default_permissions() -> std::fs::Permissions {
    use std::os::unix::fs::PermissionsExt;
    std::fs::Permissions::from_mode(0o644)
}

#[cfg(not(unix))]
fn default_permissions() -> std::fs::Permissions {
    std::fs::metadata(".")
        .map(|m| m.permissions())
        .unwrap_or_else(|_| unreachable!("the current directory exists"))
}

/// Creates `dir` and its missing parents.
pub(super) fn create_dirs(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)
}

/// A new staging directory in `parent` (removed when dropped).
pub(super) fn staging_dir(parent: &Path) -> io::Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix(".ssibake-staging-")
        .tempdir_in(parent)
}

/// Sets a written file's modification time (Unix seconds).
pub(super) fn set_mtime(target: &Path, mtime: i64) -> io::Result<()> {
    filetime::set_file_mtime(target, filetime::FileTime::from_unix_time(mtime, 0))
}

/// The mark a bake leaves in its output, so a later bake knows the directory is its
/// own to replace (`.ssibake/` is never baked, copied or compared).
pub(super) const MARKER: &str = ".ssibake/output";

/// Leaves the mark in a staging tree.
pub(super) fn write_marker(staging: &Path) -> io::Result<()> {
    let marker = staging.join(MARKER);
    if let Some(dir) = marker.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(
        marker,
        "This directory is written by ssibake: every bake replaces all of it.\n",
    )
}

/// Why `out` is not ssibake's to replace: a file, or a non-empty directory without
/// the mark of an earlier bake.
pub(super) fn foreign_output(out: &Path) -> Option<String> {
    let meta = std::fs::symlink_metadata(out).ok()?;
    if !meta.is_dir() {
        return Some(format!(
            "`{}` exists and is not a directory: a bake would replace it",
            out.display()
        ));
    }
    if out.join(MARKER).is_file() {
        return None;
    }
    let mut entries = std::fs::read_dir(out).ok()?;
    entries.next().is_some().then(|| {
        format!(
            "`{}` is not empty and was not written by ssibake: a bake replaces everything in it",
            out.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_keeps_mode() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.html");
        write_atomically(&target, b"one").unwrap();
        write_atomically(&target, b"two").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"two");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&target).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o644);
        }
        let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(leftovers, 1, "no temporary file left behind");
    }
}
