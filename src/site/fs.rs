//! The small file-system interface the evaluator reads through: on disk (confined
//! to the document root, symlinks included) or in memory.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use crate::site::resolve::SitePath;

/// What the evaluator needs to know about a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Metadata {
    /// Size in bytes (`st_size`; for a directory, the size of its inode).
    pub len: u64,
    /// Modification time, whole seconds since the Unix epoch.
    pub mtime: i64,
    /// True for a directory.
    pub is_dir: bool,
}

/// The files under a root, and the symlinks in it that lead out of it with their
/// targets (see [`FileSystem::list_with_links`]).
pub type Listing = (Vec<SitePath>, Vec<(SitePath, PathBuf)>);

/// Read access to a document root. Paths are [`SitePath`]s: already normalised,
/// relative to the root, never containing `..`.
pub trait FileSystem: Send + Sync {
    /// Metadata of the file or directory at `path`.
    fn metadata(&self, path: &SitePath) -> io::Result<Metadata>;
    /// The whole content of the file at `path`.
    fn read(&self, path: &SitePath) -> io::Result<Vec<u8>>;

    /// [`read`](Self::read), and the file's [`stamp`](Self::stamp) when the back end
    /// has it at no extra cost: on disk both come from the one open file (the stamp
    /// then describes the bytes read, and costs no further `open`/`stat`/`close`);
    /// elsewhere `None`, and the stamp is asked for when it is needed.
    fn read_stamped(&self, path: &SitePath) -> io::Result<(Vec<u8>, Option<[u8; 16]>)> {
        Ok((self.read(path)?, None))
    }

    /// The permission bits (`st_mode & 0o7777`) of the file at `path`, for XBitHack.
    /// A trait method with a default rather than a `Metadata` field, so that code
    /// building `Metadata` by hand keeps compiling: back ends that know no modes
    /// answer `0o644` (not executable).
    fn mode(&self, path: &SitePath) -> io::Result<u32> {
        self.metadata(path).map(|_| 0o644)
    }

    /// [`metadata`](Self::metadata) and [`mode`](Self::mode) at once (one `fstat`
    /// on disk).
    fn metadata_and_mode(&self, path: &SitePath) -> io::Result<(Metadata, u32)> {
        Ok((self.metadata(path)?, self.mode(path)?))
    }

    /// What changes whenever the file at `path` changes, for the incremental bake:
    /// on disk a digest of its `stat` (device, inode, size, modification and
    /// change times to the nanosecond, mode), as git's index keeps it; elsewhere a
    /// digest of its metadata and content.
    fn stamp(&self, path: &SitePath) -> io::Result<[u8; 16]> {
        let meta = self.metadata(path)?;
        let mut h = hmac_sha256::Hash::new();
        h.update(meta.len.to_le_bytes());
        h.update(meta.mtime.to_le_bytes());
        if !meta.is_dir {
            h.update(self.read(path)?);
        }
        let mut out = [0; 16];
        out.copy_from_slice(&h.finalize()[..16]);
        Ok(out)
    }

    /// The regular file at `path`, open for reading (to copy it whatever its size).
    /// Back ends without files answer `Unsupported`; callers then [`read`](Self::read).
    fn open_file(&self, _path: &SitePath) -> io::Result<std::fs::File> {
        Err(io::Error::new(io::ErrorKind::Unsupported, "not on disk"))
    }

    /// The SHA-256 of the file at `path` (for `#fhash` and `#frev`). A file that
    /// [`open_file`](Self::open_file) gives is streamed through the hash in chunks,
    /// whatever its size, in constant memory; other back ends hash what
    /// [`read`](Self::read) returns.
    fn sha256(&self, path: &SitePath) -> io::Result<[u8; 32]> {
        match self.open_file(path) {
            Ok(mut file) => sha256_of(&mut file),
            Err(e) if e.kind() == io::ErrorKind::Unsupported => {
                Ok(hmac_sha256::Hash::hash(&self.read(path)?))
            }
            Err(e) => Err(e),
        }
    }

    /// Every file under the root, sorted, except version-control directories
    /// (`.git`, `.hg`, `.svn`), ssibake's own staging directories and the
    /// directories in `skip`.
    fn list(&self, skip: &[SitePath]) -> io::Result<Vec<SitePath>>;

    /// Like [`list`](Self::list), and also the symlinks inside the root that lead out
    /// of it, with their targets as written (`uploads -> /srv/shared/uploads`). A
    /// bake publishes those as symlinks; nothing is ever read through them.
    fn list_with_links(&self, skip: &[SitePath]) -> io::Result<Listing> {
        Ok((self.list(skip)?, Vec::new()))
    }
}

/// The largest file read (a page, an include, a hashed file): a page's output may not
/// pass 256 MiB either.
pub(crate) const MAX_FILE: u64 = 256 << 20;

/// The SHA-256 of what is left to read in `file`, read in 256 KiB chunks (no size
/// limit: the memory used does not grow with the file).
pub(crate) fn sha256_of(file: &mut impl io::Read) -> io::Result<[u8; 32]> {
    let mut h = hmac_sha256::Hash::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        match file.read(&mut buf) {
            Ok(0) => return Ok(h.finalize()),
            Ok(n) => h.update(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Opens `path` for reading with `O_NONBLOCK`, so a FIFO does not block the open.
#[cfg(not(target_os = "linux"))]
fn open_nonblocking(path: &Path) -> io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32);
    }
    options.open(path)
}

/// Directories never baked or copied.
pub(crate) fn is_ignored_dir(name: &[u8]) -> bool {
    matches!(name, b".git" | b".hg" | b".svn" | b".ssibake") || name.starts_with(b".ssibake-")
}

fn skipped(path: &SitePath, skip: &[SitePath]) -> bool {
    skip.iter()
        .any(|s| path == s || path.as_bytes().starts_with(&[s.as_bytes(), b"/"].concat()))
}

/// The real file system under a root directory.
///
/// Every lookup is resolved beneath one open handle on the root: on Linux with
/// `openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)`, so a symlink (or a `..` in
/// one) that leads out of the root is refused by the kernel in the same call that
/// opens the file, and what is then stat'ed and read is that same descriptor: a
/// directory swapped for a symlink between a check and the open cannot lead
/// outside. An absolute symlink that stays inside the root is resolved by its
/// canonical path, opened with `RESOLVE_NO_SYMLINKS`. Elsewhere (or on a kernel
/// without `openat2`, before 5.6) the canonical path is checked, then opened.
#[derive(Clone, Debug)]
pub struct DiskFs {
    root: PathBuf,
    #[cfg(target_os = "linux")]
    dir: std::sync::Arc<std::os::fd::OwnedFd>,
}

/// What one `fstat` tells: the metadata and the permission bits.
struct Stat {
    meta: Metadata,
    mode: u32,
}

impl DiskFs {
    /// The bytes of the regular file at `path` and the `fstat` of the descriptor
    /// they were read from. A FIFO would block the open itself, a device never end:
    /// open without blocking, look at what was opened, and read only a regular
    /// file, no larger than a page may be.
    fn read_with_metadata(&self, path: &SitePath) -> io::Result<(Vec<u8>, std::fs::Metadata)> {
        use std::io::Read as _;
        let mut file = self.open(path)?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(io::Error::other(format!(
                "`{}` is not a regular file (a directory, FIFO, socket or device): \
                 only regular files are read",
                path.display()
            )));
        }
        if meta.len() > MAX_FILE {
            return Err(io::Error::other(format!(
                "`{}` is {} MiB, past the {} MiB a file may have",
                path.display(),
                meta.len() >> 20,
                MAX_FILE >> 20
            )));
        }
        // One byte more than the size, so the end is seen without another call.
        let mut bytes = Vec::with_capacity(meta.len() as usize + 1);
        file.by_ref().take(MAX_FILE + 1).read_to_end(&mut bytes)?;
        if bytes.len() as u64 > MAX_FILE {
            return Err(io::Error::other(format!(
                "`{}` grew past the {} MiB a file may have while it was read",
                path.display(),
                MAX_FILE >> 20
            )));
        }
        Ok((bytes, meta))
    }

    /// A file system rooted at `root`, which must exist.
    pub fn new(root: impl AsRef<Path>) -> io::Result<DiskFs> {
        let root = root.as_ref().canonicalize()?;
        #[cfg(target_os = "linux")]
        let dir = {
            use rustix::fs::{Mode, OFlags};
            let fd = rustix::fs::open(
                &root,
                OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )?;
            std::sync::Arc::new(fd)
        };
        Ok(DiskFs {
            root,
            #[cfg(target_os = "linux")]
            dir,
        })
    }

    /// The canonical root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The real path of `path`, refusing anything that resolves outside the root.
    /// (A name only: what it names may change before it is opened; reads go
    /// through [`Self::open`].)
    pub fn confine(&self, path: &SitePath) -> io::Result<PathBuf> {
        let joined = self.root.join(path.to_path());
        let real = joined.canonicalize()?;
        if real.starts_with(&self.root) {
            Ok(real)
        } else {
            Err(outside(path))
        }
    }

    /// Opens the file at `path` for reading (without blocking on a FIFO), resolved
    /// beneath the root.
    pub fn open(&self, path: &SitePath) -> io::Result<std::fs::File> {
        #[cfg(target_os = "linux")]
        {
            use rustix::fs::OFlags;
            let fd = self.open_beneath(path, OFlags::RDONLY | OFlags::NONBLOCK)?;
            Ok(std::fs::File::from(fd))
        }
        #[cfg(not(target_os = "linux"))]
        {
            open_nonblocking(&self.confine(path)?)
        }
    }

    /// `openat2` beneath the root; see the type's documentation.
    #[cfg(target_os = "linux")]
    fn open_beneath(
        &self,
        path: &SitePath,
        flags: rustix::fs::OFlags,
    ) -> io::Result<std::os::fd::OwnedFd> {
        use rustix::fs::{Mode, OFlags, ResolveFlags};
        let rel = if path.as_bytes().is_empty() {
            PathBuf::from(".")
        } else {
            path.to_path()
        };
        // openat2 refuses flags that do not go with O_PATH (O_NOCTTY among them).
        let flags = if flags.contains(OFlags::PATH) {
            flags | OFlags::CLOEXEC
        } else {
            flags | OFlags::CLOEXEC | OFlags::NOCTTY
        };
        let beneath = ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS;
        match rustix::fs::openat2(&*self.dir, &rel, flags, Mode::empty(), beneath) {
            Ok(fd) => Ok(fd),
            // Leaving the root, or an absolute symlink: the canonical path decides,
            // and is opened with no symlink left to follow.
            Err(rustix::io::Errno::XDEV) => {
                let real = self.confine(path)?;
                let rel = real
                    .strip_prefix(&self.root)
                    .map_err(|_| outside(path))?
                    .to_path_buf();
                let rel = if rel.as_os_str().is_empty() {
                    PathBuf::from(".")
                } else {
                    rel
                };
                let strict = beneath | ResolveFlags::NO_SYMLINKS;
                rustix::fs::openat2(&*self.dir, &rel, flags, Mode::empty(), strict).map_err(|e| {
                    match e {
                        rustix::io::Errno::XDEV | rustix::io::Errno::LOOP => outside(path),
                        e => e.into(),
                    }
                })
            }
            // A kernel before 5.6 (or a sandbox that hides openat2).
            Err(rustix::io::Errno::NOSYS | rustix::io::Errno::PERM) => {
                let real = self.confine(path)?;
                Ok(rustix::fs::open(&real, flags, Mode::empty())?)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// One `fstat` of `path` (opened `O_PATH`, beneath the root).
    fn stat(&self, path: &SitePath) -> io::Result<Stat> {
        #[cfg(target_os = "linux")]
        {
            use rustix::fs::{FileType, OFlags};
            let fd = self.open_beneath(path, OFlags::PATH)?;
            let st = rustix::fs::fstat(&fd)?;
            let ft = FileType::from_raw_mode(st.st_mode);
            let (secs, nanos) = (st.st_mtime, st.st_mtime_nsec);
            Ok(Stat {
                meta: Metadata {
                    len: st.st_size as u64,
                    mtime: apr_seconds(secs, nanos as i64),
                    is_dir: ft == FileType::Directory,
                },
                mode: st.st_mode & 0o7777,
            })
        }
        #[cfg(not(target_os = "linux"))]
        {
            let meta = std::fs::metadata(self.confine(path)?)?;
            let ft = filetime::FileTime::from_last_modification_time(&meta);
            Ok(Stat {
                meta: Metadata {
                    len: meta.len(),
                    mtime: apr_seconds(ft.unix_seconds(), ft.nanoseconds() as i64),
                    is_dir: meta.is_dir(),
                },
                mode: if meta.permissions().readonly() {
                    0o444
                } else {
                    0o644
                },
            })
        }
    }
}

/// The change stamp of what `meta` describes (see [`FileSystem::stamp`]).
pub(crate) fn stamp_of(meta: &std::fs::Metadata) -> [u8; 16] {
    let mut h = hmac_sha256::Hash::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        for v in [
            meta.dev(),
            meta.ino(),
            meta.size(),
            meta.mtime() as u64,
            meta.mtime_nsec() as u64,
            meta.ctime() as u64,
            meta.ctime_nsec() as u64,
            u64::from(meta.mode()),
        ] {
            h.update(v.to_le_bytes());
        }
    }
    #[cfg(not(unix))]
    {
        h.update(meta.len().to_le_bytes());
        if let Ok(t) = meta.modified() {
            h.update(format!("{t:?}"));
        }
    }
    let mut out = [0; 16];
    out.copy_from_slice(&h.finalize()[..16]);
    out
}

/// APR keeps microseconds and Apache divides toward zero: -1.5 s is -1.
fn apr_seconds(secs: i64, nanos: i64) -> i64 {
    if secs < 0 && nanos > 0 {
        secs + 1
    } else {
        secs
    }
}

fn outside(path: &SitePath) -> io::Error {
    io::Error::new(io::ErrorKind::PermissionDenied, OutsideRoot(path.display()))
}

/// The error inside an `io::Error` when a symlink leads out of the root.
#[derive(Debug, thiserror::Error)]
#[error("`{0}` resolves to a location outside the document root")]
pub struct OutsideRoot(pub String);

impl FileSystem for DiskFs {
    fn metadata(&self, path: &SitePath) -> io::Result<Metadata> {
        Ok(self.stat(path)?.meta)
    }

    fn read(&self, path: &SitePath) -> io::Result<Vec<u8>> {
        self.read_with_metadata(path).map(|(bytes, _)| bytes)
    }

    fn read_stamped(&self, path: &SitePath) -> io::Result<(Vec<u8>, Option<[u8; 16]>)> {
        let (bytes, meta) = self.read_with_metadata(path)?;
        Ok((bytes, Some(stamp_of(&meta))))
    }

    fn mode(&self, path: &SitePath) -> io::Result<u32> {
        Ok(self.stat(path)?.mode)
    }

    fn metadata_and_mode(&self, path: &SitePath) -> io::Result<(Metadata, u32)> {
        let st = self.stat(path)?;
        Ok((st.meta, st.mode))
    }

    fn stamp(&self, path: &SitePath) -> io::Result<[u8; 16]> {
        #[cfg(target_os = "linux")]
        {
            use rustix::fs::OFlags;
            let fd = self.open_beneath(path, OFlags::PATH)?;
            Ok(stamp_of(&std::fs::File::from(fd).metadata()?))
        }
        #[cfg(not(target_os = "linux"))]
        {
            Ok(stamp_of(&std::fs::metadata(self.confine(path)?)?))
        }
    }

    fn open_file(&self, path: &SitePath) -> io::Result<std::fs::File> {
        let file = self.open(path)?;
        if !file.metadata()?.is_file() {
            return Err(io::Error::other(format!(
                "`{}` is not a regular file",
                path.display()
            )));
        }
        Ok(file)
    }

    fn list(&self, skip: &[SitePath]) -> io::Result<Vec<SitePath>> {
        Ok(self.list_with_links(skip)?.0)
    }

    fn list_with_links(&self, skip: &[SitePath]) -> io::Result<Listing> {
        let mut out = Vec::new();
        let mut links = Vec::new();
        // Symlinked directories are followed, as Apache follows them (FollowSymLinks):
        // their pages are pages at the link's URL. A symlink that leads out of the
        // root is not entered or read: it is reported, to be published as a symlink.
        // A loop is not followed round.
        let mut walker = walkdir::WalkDir::new(&self.root)
            .follow_links(true)
            .sort_by_file_name()
            .into_iter();
        while let Some(entry) = walker.next() {
            let entry = match entry {
                Ok(e) => e,
                // A loop, or a symlink to nothing: nothing to bake there.
                Err(e) if e.loop_ancestor().is_some() => continue,
                Err(e)
                    if e.io_error()
                        .is_some_and(|io| io.kind() == io::ErrorKind::NotFound) =>
                {
                    continue
                }
                Err(e) => return Err(io::Error::other(e)),
            };
            if entry.depth() == 0 {
                continue;
            }
            let ft = entry.file_type();
            let name = entry.file_name().as_encoded_bytes();
            if ft.is_dir() && is_ignored_dir(name) {
                walker.skip_current_dir();
                continue;
            }
            let rel = entry
                .path()
                .strip_prefix(&self.root)
                .map_err(io::Error::other)?;
            let path = SitePath::from_relative(rel.as_os_str().as_encoded_bytes())
                .map_err(io::Error::other)?;
            if skipped(&path, skip) {
                if ft.is_dir() {
                    walker.skip_current_dir();
                }
                continue;
            }
            if entry.path_is_symlink()
                && !entry
                    .path()
                    .canonicalize()
                    .is_ok_and(|c| c.starts_with(&self.root))
            {
                if ft.is_dir() {
                    walker.skip_current_dir();
                }
                if let Ok(target) = std::fs::read_link(entry.path()) {
                    // It leads out of the root: relative to the output it would lead
                    // somewhere else, so it is published with an absolute target.
                    let target = if target.is_absolute() {
                        target
                    } else {
                        entry.path().canonicalize().unwrap_or_else(|_| {
                            entry.path().parent().unwrap_or(&self.root).join(&target)
                        })
                    };
                    links.push((path, target));
                }
                continue;
            }
            // A temporary file of a killed run (`.ssibake-XXXXXX`) is never published.
            if ft.is_file() && !name.starts_with(b".ssibake-") {
                out.push(path);
            }
        }
        Ok((out, links))
    }
}

/// An in-memory document root, for tools that render without touching the disk.
///
/// Directories exist implicitly as parents of files.
#[derive(Clone, Debug, Default)]
pub struct MemoryFs {
    files: BTreeMap<Vec<u8>, (Vec<u8>, i64)>,
    modes: BTreeMap<Vec<u8>, u32>,
}

impl MemoryFs {
    /// An empty tree.
    pub fn new() -> MemoryFs {
        MemoryFs::default()
    }

    /// Adds (or replaces) the file at `path` (relative to the root, `/`-separated)
    /// with `content` and modification time `mtime` (Unix seconds).
    pub fn insert(&mut self, path: &str, content: impl Into<Vec<u8>>, mtime: i64) -> &mut Self {
        let key = path.trim_start_matches('/').as_bytes().to_vec();
        self.files.insert(key, (content.into(), mtime));
        self
    }

    /// Sets the permission bits of the file at `path` (every file is `0o644` until
    /// then), as XBitHack reads them.
    pub fn set_mode(&mut self, path: &str, mode: u32) -> &mut Self {
        let key = path.trim_start_matches('/').as_bytes().to_vec();
        self.modes.insert(key, mode & 0o7777);
        self
    }

    fn is_dir(&self, path: &[u8]) -> bool {
        if path.is_empty() {
            return true;
        }
        let mut prefix = path.to_vec();
        prefix.push(b'/');
        self.files
            .range(prefix.clone()..)
            .next()
            .is_some_and(|(k, _)| k.starts_with(&prefix))
    }
}

fn not_found() -> io::Error {
    io::Error::from(io::ErrorKind::NotFound)
}

impl FileSystem for MemoryFs {
    fn metadata(&self, path: &SitePath) -> io::Result<Metadata> {
        if let Some((content, mtime)) = self.files.get(path.as_bytes()) {
            return Ok(Metadata {
                len: content.len() as u64,
                mtime: *mtime,
                is_dir: false,
            });
        }
        if self.is_dir(path.as_bytes()) {
            return Ok(Metadata {
                len: 4096,
                mtime: 0,
                is_dir: true,
            });
        }
        Err(not_found())
    }

    fn read(&self, path: &SitePath) -> io::Result<Vec<u8>> {
        self.files
            .get(path.as_bytes())
            .map(|(c, _)| c.clone())
            .ok_or_else(not_found)
    }

    fn mode(&self, path: &SitePath) -> io::Result<u32> {
        let meta = self.metadata(path)?;
        let default = if meta.is_dir { 0o755 } else { 0o644 };
        Ok(self.modes.get(path.as_bytes()).copied().unwrap_or(default))
    }

    fn list(&self, skip: &[SitePath]) -> io::Result<Vec<SitePath>> {
        Ok(self
            .files
            .keys()
            .filter_map(|k| SitePath::from_relative(k).ok())
            .filter(|p| {
                !skipped(p, skip) && !p.as_bytes().split(|&b| b == b'/').any(is_ignored_dir)
            })
            .collect())
    }
}

impl MemoryFs {
    /// The files, root-relative path to content.
    pub fn files(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.files.iter().map(|(k, (c, _))| (&k[..], &c[..]))
    }

    /// The modification time of `path`, if it exists.
    pub fn mtime(&self, path: &str) -> Option<i64> {
        self.files.get(path.as_bytes()).map(|(_, m)| *m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_fs_has_implicit_directories() {
        let mut fs = MemoryFs::new();
        fs.insert("css/app.css", "body{}", 42);
        let css = SitePath::from_relative(b"css/app.css").unwrap();
        assert_eq!(fs.metadata(&css).unwrap().len, 6);
        assert_eq!(fs.metadata(&css).unwrap().mtime, 42);
        let dir = SitePath::from_relative(b"css").unwrap();
        assert!(fs.metadata(&dir).unwrap().is_dir);
        let none = SitePath::from_relative(b"cs").unwrap();
        assert!(fs.metadata(&none).is_err());
    }

    #[test]
    fn modes_default_to_0644_and_can_be_set() {
        let mut fs = MemoryFs::new();
        fs.insert("a.html", "", 0).insert("b.html", "", 0);
        fs.set_mode("b.html", 0o100744);
        let a = SitePath::from_relative(b"a.html").unwrap();
        let b = SitePath::from_relative(b"b.html").unwrap();
        assert_eq!(fs.mode(&a).unwrap(), 0o644);
        assert_eq!(fs.mode(&b).unwrap(), 0o744);
        assert!(fs.mode(&SitePath::from_relative(b"c").unwrap()).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn disk_fs_reports_the_real_mode() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let file = root.path().join("x.html");
        std::fs::write(&file, "x").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o754)).unwrap();
        let fs = DiskFs::new(root.path()).unwrap();
        let x = SitePath::from_relative(b"x.html").unwrap();
        assert_eq!(fs.mode(&x).unwrap(), 0o754);
    }

    #[cfg(unix)]
    #[test]
    fn disk_fs_refuses_symlinks_out_of_the_root() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.txt"), "s").unwrap();
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("ok.txt"), "ok").unwrap();
        std::os::unix::fs::symlink(
            outside.path().join("secret.txt"),
            root.path().join("link.txt"),
        )
        .unwrap();
        std::os::unix::fs::symlink("ok.txt", root.path().join("inner.txt")).unwrap();
        let fs = DiskFs::new(root.path()).unwrap();
        let link = SitePath::from_relative(b"link.txt").unwrap();
        let err = fs.read(&link).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
        let inner = SitePath::from_relative(b"inner.txt").unwrap();
        assert_eq!(fs.read(&inner).unwrap(), b"ok");
    }
}
