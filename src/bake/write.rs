//! Write: the only stage that touches the output. Sinks receive each output file
//! (a staging directory, memory, or a comparison with an existing tree); a staging
//! tree is swapped in atomically under a lock; single files are replaced
//! atomically.

use std::collections::BTreeSet;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::record::{content_digest, Digest, Hasher};

use super::record::{Build, Previous};
use super::report::Difference;
use crate::engine::baker::Baker;
use crate::engine::templates::Cache;
use crate::site::resolve::SitePath;

/// Receives the output files of a bake.
pub(crate) trait Sink: Sync {
    fn page(&self, path: &SitePath, bytes: &[u8]) -> io::Result<()>;
    /// Writes a file of the record at `path`, its bytes written by `fill` as they
    /// are made (by default gathered, then written as a page).
    fn file_from(
        &self,
        path: &SitePath,
        fill: &mut dyn FnMut(&mut dyn io::Write) -> io::Result<()>,
    ) -> io::Result<()> {
        let mut bytes = Vec::new();
        fill(&mut bytes)?;
        self.page(path, &bytes)
    }
    /// Takes back a page written earlier in the run (it turned out to be a partial).
    fn remove(&self, path: &SitePath) -> io::Result<()>;
    /// Publishes the file `path` as it is; its identity digest when `digest` is
    /// asked for, and its change stamp when the copy saw it. With `stable`, the
    /// copy gets the file's version time (else its own time).
    fn asset(
        &self,
        baker: &Baker,
        cache: &Cache,
        path: &SitePath,
        digest: bool,
        stable: bool,
    ) -> io::Result<Copied>;
    /// Publishes at `path` the file `from` of the previous output (unchanged).
    fn reuse(&self, _path: &SitePath, _from: &Path) -> io::Result<()> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "no previous output",
        ))
    }
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

/// What publishing one file saw.
pub(crate) type Copied = (Option<Digest>, Option<[u8; 16]>);

/// The record of the output at `out`, if it has one.
pub(super) fn read_record(out: &Path) -> Option<Vec<u8>> {
    std::fs::read(out.join(super::record::STATE)).ok()
}

/// The revved copy of `file` beside it, unless a file of that name and size is
/// already there (the name carries the content's hash).
///
/// The copy is streamed from the descriptor opened beneath the root (the file the
/// hash was taken of), so a revved file of any size is made in constant memory.
pub(super) fn write_revved_in_place(
    baker: &Baker,
    file: &SitePath,
    target: &Path,
    mtime: Option<i64>,
) -> io::Result<()> {
    match baker.fs.open_file(file) {
        Ok(mut from) => {
            let len = from.metadata()?.len();
            if !std::fs::metadata(target).is_ok_and(|m| m.len() == len) {
                copy_atomically(&mut from, target)?;
            }
        }
        Err(e) if e.kind() == io::ErrorKind::Unsupported => {
            let bytes = baker.fs.read(file)?;
            if !std::fs::metadata(target).is_ok_and(|m| m.len() == bytes.len() as u64) {
                write_atomically(target, &bytes)?;
            }
        }
        Err(e) => return Err(e),
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
    // Only the last component is ever created: a mistyped `--out` is an error,
    // not a new tree of directories.
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

/// Makes the finished staging tree durable before it is swapped in: one `syncfs`
/// of its file system (every file and directory written in it, in one call rather
/// than one `fsync` per file), where the system has it; else an `fsync` of each
/// directory's entries is left to the kernel's writeback.
pub(super) fn sync_tree(staging: &Path) -> io::Result<()> {
    let dir = std::fs::File::open(staging)?;
    #[cfg(target_os = "linux")]
    {
        rustix::fs::syncfs(&dir)?;
    }
    #[cfg(not(target_os = "linux"))]
    {
        dir.sync_all()?;
    }
    Ok(())
}

/// Makes a rename in `dir` durable (the directory's entries).
pub(super) fn sync_dir(dir: &Path) -> io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
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

/// Where an `--in-place` run notes the renames it is about to make.
const JOURNAL: &str = ".ssibake/in-place-journal";

/// `--in-place` as one transaction: every new file is written beside its target
/// (a `.ssibake-` temporary, mode and owner kept) and synced, the list of renames
/// is written to a journal and synced, and only then is each file renamed over
/// its target; the journal goes last. A run killed before the journal is complete
/// leaves the old set (its temporaries are removed on SIGINT/SIGTERM, see
/// [`interrupt_in_place`]; those a SIGKILL leaves, never published, the next run
/// removes, see [`remove_dead_temporaries`]); one killed during the renames is
/// finished by the next run ([`finish_in_place`]). Returns how many files changed.
pub(super) fn replace_all(
    root: &Path,
    files: &[(PathBuf, &[u8], Option<i64>)],
    fsync: bool,
) -> io::Result<usize> {
    let mut staged = Vec::new();
    let result =
        stage_all(files, fsync, &mut staged).and_then(|()| commit_all(root, &staged, fsync));
    if result.is_err() {
        // Before the journal (or without one): the old set stays, and the
        // temporaries go. A journal that was written keeps them for the next run.
        let mut temps = temps();
        for (tmp, _) in &staged {
            // (Those the journal names were taken off the list when it was written.)
            if temps.remove(tmp) {
                let _ = std::fs::remove_file(tmp);
            }
        }
    }
    result.map(|()| staged.len())
}

/// Writes each new file beside its target (see [`replace_all`]), noting in
/// `staged` the temporaries made.
fn stage_all(
    files: &[(PathBuf, &[u8], Option<i64>)],
    fsync: bool,
    staged: &mut Vec<(PathBuf, PathBuf)>,
) -> io::Result<()> {
    for (target, bytes, mtime) in files {
        if holds(target, bytes) {
            if let Some(t) = mtime {
                set_mtime(target, *t)?;
            }
            continue;
        }
        let mut tmp = temp_beside(target)?;
        staged.push((tmp.path().to_path_buf(), target.clone()));
        tmp.write_all(bytes)?;
        let old = std::fs::metadata(target).ok();
        let perms = old
            .as_ref()
            .map_or_else(default_permissions, |m| m.permissions());
        tmp.as_file().set_permissions(perms)?;
        #[cfg(unix)]
        if let Some(meta) = &old {
            use std::os::unix::fs::MetadataExt;
            // Only root may give a file away; for anyone else it is already theirs.
            let _ = std::os::unix::fs::fchown(tmp.as_file(), Some(meta.uid()), Some(meta.gid()));
        }
        if let Some(t) = mtime {
            tmp.as_file().set_modified(
                std::time::UNIX_EPOCH + std::time::Duration::from_secs((*t).max(0) as u64),
            )?;
        }
        if fsync {
            tmp.as_file().sync_all()?;
        }
        // Kept on disk under its temporary name until the journal says where it goes.
        tmp.keep().map_err(|e| e.error)?;
    }
    Ok(())
}

/// The journal of `staged`, then the renames (see [`replace_all`]). Holds the
/// temporaries' lock throughout: a signal waits for the renames to end.
fn commit_all(root: &Path, staged: &[(PathBuf, PathBuf)], fsync: bool) -> io::Result<()> {
    if staged.is_empty() {
        return Ok(());
    }
    let mut temps = temps();
    if INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst) {
        return Err(io::Error::new(io::ErrorKind::Interrupted, "interrupted"));
    }
    let journal = root.join(JOURNAL);
    if let Some(d) = journal.parent() {
        std::fs::create_dir_all(d)?;
    }
    let mut text = Vec::new();
    for (tmp, target) in staged {
        text.extend_from_slice(tmp.as_os_str().as_encoded_bytes());
        text.push(0);
        text.extend_from_slice(target.as_os_str().as_encoded_bytes());
        text.push(0);
    }
    // Written as write_atomically does, but under the lock already held.
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".ssibake-{}-", std::process::id()))
        .tempfile_in(journal.parent().unwrap_or(root))?;
    finish_atomically(&mut tmp, &journal, |f| f.write_all(&text))?;
    tmp.persist(&journal).map_err(|e| e.error)?;
    // From here the journal owns the temporaries: the next run finishes the renames.
    for (tmp, _) in staged {
        temps.remove(tmp);
    }
    for (tmp, target) in staged {
        std::fs::rename(tmp, target)?;
    }
    if fsync {
        for dir in staged
            .iter()
            .filter_map(|(_, t)| t.parent())
            .collect::<BTreeSet<_>>()
        {
            sync_dir(dir)?;
        }
    }
    std::fs::remove_file(&journal)
}

/// Finishes the renames of an `--in-place` run that was killed after its journal
/// was written (each temporary still there is renamed over its target). Only
/// `.ssibake-` temporaries inside `root` are ever renamed: the journal is in the
/// site, which anyone who can push edits.
pub(super) fn finish_in_place(root: &Path) -> io::Result<usize> {
    let journal = root.join(JOURNAL);
    let Ok(text) = std::fs::read(&journal) else {
        return Ok(0);
    };
    let mut done = 0;
    let mut fields = text.split(|&b| b == 0);
    while let (Some(tmp), Some(target)) = (fields.next(), fields.next()) {
        if tmp.is_empty() {
            break;
        }
        // The journal is ours, but it sits in the untrusted root: each name must be
        // a `.ssibake-` temporary inside the root, renamed within its directory.
        let (tmp, target) = (os_path(tmp), os_path(target));
        let inside = |p: &Path| {
            p.parent()
                .and_then(|d| d.canonicalize().ok())
                .is_some_and(|d| d.starts_with(root))
        };
        let is_temp = tmp
            .file_name()
            .is_some_and(|n| n.as_encoded_bytes().starts_with(b".ssibake-"));
        if is_temp
            && inside(&tmp)
            && inside(&target)
            && tmp.parent() == target.parent()
            && std::fs::symlink_metadata(&tmp).is_ok_and(|m| m.is_file())
        {
            std::fs::rename(&tmp, &target)?;
            done += 1;
        }
    }
    std::fs::remove_file(&journal)?;
    Ok(done)
}

fn os_path(bytes: &[u8]) -> PathBuf {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        PathBuf::from(std::ffi::OsStr::from_bytes(bytes))
    }
    #[cfg(not(unix))]
    {
        PathBuf::from(String::from_utf8_lossy(bytes).into_owned())
    }
}

/// Set when the process is told to stop: no file is written into a staging tree
/// after it, so that the tree can be removed.
static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Stops all writes into staging trees, then removes what this run left in `dir`
/// (see [`remove_leftovers`]), trying again while a write still in flight adds a
/// file (for at most about a second).
#[cfg(feature = "cli")]
pub(super) fn interrupt_and_clean(dir: &Path) -> usize {
    INTERRUPTED.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut removed = 0;
    for _ in 0..200 {
        removed += remove_leftovers(dir);
        let left = std::fs::read_dir(dir).map_or(0, |entries| {
            entries
                .flatten()
                .filter(|e| e.file_name().as_encoded_bytes().starts_with(b".ssibake-"))
                .count()
        });
        if left == 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    removed
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
        if INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "interrupted"));
        }
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
        // One write of the whole page, the file made with its final mode.
        create_with_mode(&target, 0o644)?.write_all(bytes)
    }

    fn file_from(
        &self,
        path: &SitePath,
        fill: &mut dyn FnMut(&mut dyn io::Write) -> io::Result<()>,
    ) -> io::Result<()> {
        let target = self.target(path)?;
        let mut w = io::BufWriter::with_capacity(1 << 18, create_with_mode(&target, 0o644)?);
        fill(&mut w)?;
        w.flush()
    }

    fn remove(&self, path: &SitePath) -> io::Result<()> {
        std::fs::remove_file(self.dir.join(path.to_path()))
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
        self.copy(baker, file, revved, false, mtime).map(|_| ())
    }

    fn set_mtime(&self, path: &SitePath, mtime: i64) -> io::Result<()> {
        filetime::set_file_mtime(
            self.dir.join(path.to_path()),
            filetime::FileTime::from_unix_time(mtime, 0),
        )
    }

    fn asset(
        &self,
        baker: &Baker,
        cache: &Cache,
        path: &SitePath,
        digest: bool,
        stable: bool,
    ) -> io::Result<Copied> {
        let mtime = if stable {
            Some(
                cache
                    .metadata(&*baker.fs, path)
                    .map_err(|e| io::Error::new(e.kind, e.message))?
                    .mtime,
            )
        } else {
            None
        };
        self.copy(baker, path, path, digest, mtime)
    }

    fn reuse(&self, path: &SitePath, from: &Path) -> io::Result<()> {
        let target = self.target(path)?;
        std::fs::hard_link(from, target)
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
    /// `target` in the output as a copy of `path`: a file of its own, never a hard
    /// link, so an edit of the source in place (an editor that does not rename,
    /// `rsync --inplace`) cannot change the live site, nor a write into the output
    /// the source. Its time is `mtime` when given (the version time), else the
    /// source's, as `cp -p` keeps it. Hashed on the way when `digest` is asked for.
    fn copy(
        &self,
        baker: &Baker,
        path: &SitePath,
        target: &SitePath,
        digest: bool,
        mtime: Option<i64>,
    ) -> io::Result<Copied> {
        let target = self.target(target)?;
        let mut from = match baker.fs.open_file(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::Unsupported => {
                let bytes = baker.fs.read(path)?;
                std::fs::write(&target, &bytes)?;
                if let Some(t) = mtime {
                    set_mtime(&target, t)?;
                }
                return Ok((digest.then(|| content_digest(&bytes)), None));
            }
            Err(e) => return Err(e),
        };
        // What was opened (resolved beneath the root) is what is copied.
        let meta = from.metadata()?;
        let mut to = create_with_mode(&target, mode_of(&meta))?;
        let hash = if digest {
            Some(copy_hashing(&mut from, &mut to)?)
        } else {
            // copy_file_range: in the kernel, a reflink where the file system can.
            io::copy(&mut from, &mut to)?;
            None
        };
        let modified = match mtime {
            Some(t) => std::time::UNIX_EPOCH + std::time::Duration::from_secs(t.max(0) as u64),
            None => meta.modified()?,
        };
        let mut times = std::fs::FileTimes::new().set_modified(modified);
        if let Ok(accessed) = meta.accessed() {
            times = times.set_accessed(accessed);
        }
        to.set_times(times)?;
        Ok((hash, Some(crate::site::fs::stamp_of(&meta))))
    }
}

/// The permission bits of `meta`.
fn mode_of(meta: &std::fs::Metadata) -> u32 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.permissions().mode() & 0o7777
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        0o644
    }
}

/// Whether the process's umask keeps `0o644` (then a file created with a mode
/// needs no `chmod`). Read once.
fn umask_keeps_644() -> bool {
    static KEEPS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *KEEPS.get_or_init(|| {
        #[cfg(unix)]
        {
            use rustix::fs::Mode;
            let old = rustix::process::umask(Mode::from_raw_mode(0o022));
            rustix::process::umask(old);
            old.bits() & 0o644 == 0
        }
        #[cfg(not(unix))]
        {
            true
        }
    })
}

/// Creates `target` (new) with `mode`, with no separate `chmod` unless the umask
/// would take bits away.
fn create_with_mode(target: &Path, mode: u32) -> io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    let file = options.open(target)?;
    #[cfg(unix)]
    if !umask_keeps_644() {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(mode))?;
    }
    Ok(file)
}

/// Copies `from` into `to` in chunks, hashing as it goes (one read for both; a file
/// of any size).
fn copy_hashing(from: &mut std::fs::File, to: &mut std::fs::File) -> io::Result<Digest> {
    stream_digest(from, Some(to))
}

/// The identity digest of `from`, read in large chunks, each also written to `to`
/// when given (a file of any size, read once).
fn stream_digest(
    from: &mut std::fs::File,
    mut to: Option<&mut std::fs::File>,
) -> io::Result<Digest> {
    use std::io::Read;
    let mut h = Hasher::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        h.update(&buf[..n]);
        if let Some(to) = to.as_mut() {
            to.write_all(&buf[..n])?;
        }
    }
    Ok(h.finalize())
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

    fn remove(&self, path: &SitePath) -> io::Result<()> {
        let name = path.display();
        self.files
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(p, _)| *p != name);
        Ok(())
    }

    fn asset(
        &self,
        baker: &Baker,
        _cache: &Cache,
        path: &SitePath,
        digest: bool,
        _stable: bool,
    ) -> io::Result<Copied> {
        let bytes = baker.fs.read(path)?;
        self.page(path, &bytes)?;
        Ok((digest.then(|| content_digest(&bytes)), None))
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

/// `--in-place`: pages are kept until every one succeeded (the caller writes
/// them); every other file of the site is only hashed, for the build ID.
#[derive(Default)]
pub(crate) struct InPlaceSink {
    /// Each page, its bytes and the time to give it.
    #[allow(clippy::type_complexity)]
    pub(crate) pages: Mutex<Vec<(SitePath, Vec<u8>, Option<i64>)>>,
}

impl Sink for InPlaceSink {
    fn page(&self, path: &SitePath, bytes: &[u8]) -> io::Result<()> {
        self.pages.lock().unwrap_or_else(|p| p.into_inner()).push((
            path.clone(),
            bytes.to_vec(),
            None,
        ));
        Ok(())
    }

    fn set_mtime(&self, path: &SitePath, mtime: i64) -> io::Result<()> {
        let mut pages = self.pages.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = pages.iter_mut().find(|(p, _, _)| p == path) {
            p.2 = Some(mtime);
        }
        Ok(())
    }

    fn remove(&self, path: &SitePath) -> io::Result<()> {
        self.pages
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(p, _, _)| p != path);
        Ok(())
    }

    fn asset(
        &self,
        baker: &Baker,
        _cache: &Cache,
        path: &SitePath,
        digest: bool,
        _stable: bool,
    ) -> io::Result<Copied> {
        if !digest {
            return Ok((None, None));
        }
        let mut file = match baker.fs.open_file(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::Unsupported => {
                return Ok((Some(content_digest(&baker.fs.read(path)?)), None));
            }
            Err(e) => return Err(e),
        };
        Ok((Some(stream_digest(&mut file, None)?), None))
    }

    fn revved(
        &self,
        _baker: &Baker,
        _file: &SitePath,
        _revved: &SitePath,
        _mtime: Option<i64>,
    ) -> io::Result<()> {
        Ok(())
    }
}

/// Compares with an existing output tree.
pub(super) struct CheckSink {
    pub(super) out: PathBuf,
    /// The version file's output path, compared without its `builtAt`.
    pub(super) version_file: Option<String>,
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
            // The version file's time is not a difference: only its build ID.
            Ok(old)
                if self.version_file.as_deref() == Some(name.as_str())
                    && mask_built_at(&old) == mask_built_at(fresh) =>
            {
                return
            }
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

    fn remove(&self, path: &SitePath) -> io::Result<()> {
        let name = path.display();
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&name);
        self.diffs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|d| d.path != name);
        Ok(())
    }

    fn asset(
        &self,
        baker: &Baker,
        _cache: &Cache,
        path: &SitePath,
        digest: bool,
        _stable: bool,
    ) -> io::Result<Copied> {
        let bytes = baker.fs.read(path)?;
        self.compare(path, &bytes);
        Ok((digest.then(|| content_digest(&bytes)), None))
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

/// The version file with its `builtAt` value blanked.
fn mask_built_at(bytes: &[u8]) -> Vec<u8> {
    const KEY: &[u8] = b"\"builtAt\":\"";
    let Some(at) = memchr::memmem::find(bytes, KEY) else {
        return bytes.to_vec();
    };
    let start = at + KEY.len();
    let end = memchr::memchr(b'"', &bytes[start..]).map_or(bytes.len(), |i| start + i);
    [&bytes[..start], &bytes[end..]].concat()
}

/// A unified diff of two versions of a file (shown lossily as UTF-8).
pub(crate) fn unified_diff(name: &str, old: &[u8], new: &[u8]) -> String {
    let binary = |b: &[u8]| memchr::memchr(0, b).is_some() || std::str::from_utf8(b).is_err();
    if binary(old) || binary(new) {
        // Raw bytes on a terminal help nobody: sizes and hashes say enough.
        let sum = |b: &[u8]| crate::engine::eval::hex(&hmac_sha256::Hash::hash(b)[..8]);
        return format!(
            "binary file differs: {} bytes (sha256 {}...) in the existing output, {} bytes (sha256 {}...) baked",
            old.len(),
            sum(old),
            new.len(),
            sum(new)
        );
    }
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
    let mut tmp = temp_beside(path)?;
    let result = finish_atomically(&mut tmp, path, |f| f.write_all(bytes));
    forget_temp(tmp.path());
    result.and_then(|()| tmp.persist(path).map(drop).map_err(|e| e.error))
}

/// [`write_atomically`] of what is left to read in `from` (streamed: a file of any
/// size in constant memory; `copy_file_range` where the kernel has it).
fn copy_atomically(from: &mut std::fs::File, path: &Path) -> io::Result<()> {
    let mut tmp = temp_beside(path)?;
    let result = finish_atomically(&mut tmp, path, |f| io::copy(from, f).map(drop));
    forget_temp(tmp.path());
    result.and_then(|()| tmp.persist(path).map(drop).map_err(|e| e.error))
}

/// Fills `tmp` with `fill`, gives it `path`'s permissions (new files: 0644) and
/// syncs it.
fn finish_atomically(
    tmp: &mut tempfile::NamedTempFile,
    path: &Path,
    fill: impl FnOnce(&mut std::fs::File) -> io::Result<()>,
) -> io::Result<()> {
    fill(tmp.as_file_mut())?;
    let perms = match std::fs::metadata(path) {
        Ok(m) => m.permissions(),
        Err(_) => default_permissions(),
    };
    tmp.as_file().set_permissions(perms)?;
    tmp.as_file().sync_all()
}

/// The `.ssibake-` temporaries this process has on disk beside their targets
/// (`--in-place` and single-file writes), so that SIGINT and SIGTERM can remove
/// them before the process ends ([`interrupt_in_place`]). The in-place
/// transaction holds the lock from its journal to its last rename, so a signal
/// then waits for the renames to end instead of removing what the journal names.
static TEMPS: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());

fn temps() -> std::sync::MutexGuard<'static, BTreeSet<PathBuf>> {
    TEMPS.lock().unwrap_or_else(|p| p.into_inner())
}

/// A new `.ssibake-` temporary in the directory of `path`, registered (see
/// [`TEMPS`]); none once the process is interrupted.
fn temp_beside(path: &Path) -> io::Result<tempfile::NamedTempFile> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut temps = temps();
    if INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst) {
        return Err(io::Error::new(io::ErrorKind::Interrupted, "interrupted"));
    }
    // The process's ID in the name: a later run can tell a dead run's temporary
    // from a live one's ([`remove_dead_temporaries`]).
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".ssibake-{}-", std::process::id()))
        .tempfile_in(dir)?;
    temps.insert(tmp.path().to_path_buf());
    Ok(tmp)
}

/// Removes from `dir` the temporaries of killed runs beside files (`--in-place`,
/// single-file writes): regular files named `.ssibake-PID-XXXXXX` whose process
/// is no longer alive. (A SIGKILL leaves them; SIGINT and SIGTERM do not.) Called
/// by `--in-place` under the lock on its root, after a killed run's journal was
/// finished, so nothing a journal names is removed. Returns how many it removed.
pub(super) fn remove_dead_temporaries(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.as_encoded_bytes().strip_prefix(b".ssibake-") else {
            continue;
        };
        let Some((pid, _)) = std::str::from_utf8(rest)
            .ok()
            .and_then(|r| r.split_once('-'))
            .and_then(|(pid, tail)| Some((pid.parse::<i32>().ok()?, tail)))
        else {
            continue;
        };
        let dead = match rustix::process::Pid::from_raw(pid) {
            Some(pid) => rustix::process::test_kill_process(pid) == Err(rustix::io::Errno::SRCH),
            None => true,
        };
        if dead
            && pid != std::process::id() as i32
            && entry.file_type().is_ok_and(|t| t.is_file())
            && std::fs::remove_file(entry.path()).is_ok()
        {
            removed += 1;
        }
    }
    removed
}

/// The temporary at `path` is renamed or removed: no longer this process's to
/// clean up.
fn forget_temp(path: &Path) {
    temps().remove(path);
}

/// SIGINT/SIGTERM outside a tree bake: stops every new temporary, waits for an
/// in-place transaction's renames to end (if they started), then removes every
/// temporary this process still has on disk. Returns how many it removed.
#[cfg(feature = "cli")]
pub(super) fn interrupt_in_place() -> usize {
    INTERRUPTED.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut temps = temps();
    let removed = temps
        .iter()
        .filter(|p| std::fs::remove_file(p).is_ok())
        .count();
    temps.clear();
    removed
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

/// The build history an output (or, in place, the root) holds.
pub(super) fn read_previous(path: &Path) -> Previous {
    // Small and ours; an unreadable or absent one is a first bake.
    let file = std::fs::File::open(path);
    let Ok(file) = file else {
        return Previous::default();
    };
    let mut text = Vec::new();
    let _ = io::Read::read_to_end(&mut io::Read::take(file, 16 << 20), &mut text);
    Previous::parse(&text)
}

/// Copies into `staging` the revved files of the earlier builds that stay (see
/// [`Previous::split`]) from the output they are in. Returns their paths.
pub(super) fn keep_revved(
    kept_builds: &[&Build],
    out: &Path,
    staging: &Path,
) -> io::Result<BTreeSet<String>> {
    let mut kept = BTreeSet::new();
    for build in kept_builds {
        for name in &build.revved {
            let Ok(path) = SitePath::from_relative(name.as_bytes()) else {
                continue;
            };
            let target = staging.join(path.to_path());
            if std::fs::symlink_metadata(&target).is_ok() {
                continue;
            }
            let source = out.join(path.to_path());
            // Only a regular file of the old output (never through a symlink).
            let Ok(meta) = std::fs::symlink_metadata(&source) else {
                continue;
            };
            if !meta.is_file() {
                continue;
            }
            if let Some(dir) = target.parent() {
                create_dirs(dir)?;
            }
            std::fs::copy(&source, &target)?;
            filetime::set_file_mtime(
                &target,
                filetime::FileTime::from_last_modification_time(&meta),
            )?;
            kept.insert(name.clone());
        }
    }
    Ok(kept)
}

/// What the old output had that the new one does not (but revved files pruned
/// after their builds and ssibake's own record).
pub(super) fn removed_files(
    out: &Path,
    staging: &Path,
    kept: &BTreeSet<String>,
    previous: &Previous,
) -> Vec<String> {
    let Ok(existing) =
        crate::site::fs::DiskFs::new(out).and_then(|d| crate::site::fs::FileSystem::list(&d, &[]))
    else {
        return Vec::new();
    };
    let revved: BTreeSet<&String> = previous.builds.iter().flat_map(|b| &b.revved).collect();
    existing
        .into_iter()
        .map(|p| p.display())
        .filter(|name| !kept.contains(name) && !revved.contains(name))
        .filter(|name| std::fs::symlink_metadata(staging.join(name)).is_err())
        .collect()
}

/// `target` holds exactly `bytes`.
pub(super) fn holds(target: &Path, bytes: &[u8]) -> bool {
    std::fs::metadata(target).is_ok_and(|m| m.len() == bytes.len() as u64)
        && std::fs::read(target).is_ok_and(|old| old == bytes)
}

/// Writes `bytes` at `target` (atomically, creating its directory) unless it
/// already holds them.
pub(super) fn write_if_changed(target: &Path, bytes: &[u8]) -> io::Result<()> {
    if holds(target, bytes) {
        return Ok(());
    }
    if let Some(dir) = target.parent() {
        create_dirs(dir)?;
    }
    replace_file(target, bytes)
}

/// In place, the revved files of builds older than the last `keep_builds` are
/// deleted, but only files that are what their name says: a revved copy whose
/// hash in the name matches its content (the record is in the repository, and a
/// forged one must not delete anything else).
pub(super) fn prune_revved_in_place(
    baker: &Baker,
    root: &Path,
    this: &Build,
    kept_builds: &[&Build],
    dropped: &[&Build],
) {
    let live: BTreeSet<&String> = kept_builds
        .iter()
        .flat_map(|b| &b.revved)
        .chain(&this.revved)
        .collect();
    for name in dropped.iter().flat_map(|b| &b.revved) {
        if live.contains(name) {
            continue;
        }
        let Ok(path) = SitePath::from_relative(name.as_bytes()) else {
            continue;
        };
        if crate::engine::eval::is_genuine_revved(&*baker.fs, &path) {
            let _ = std::fs::remove_file(root.join(path.to_path()));
        }
    }
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
