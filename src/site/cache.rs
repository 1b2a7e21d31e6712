//! What one run has read: each distinct file is stat'ed and read at most once,
//! however many pages (on however many threads) use it.

use std::collections::HashMap;
use std::hash::Hash;
use std::io;
use std::sync::{Arc, Mutex, OnceLock};

use crate::site::fs::{FileSystem, Metadata, OutsideRoot};
use crate::site::resolve::SitePath;
use crate::site::version::Versions;

/// A cloneable record of an `io::Error`.
#[derive(Clone, Debug)]
pub(crate) struct IoFailure {
    pub(crate) kind: io::ErrorKind,
    pub(crate) message: String,
    /// Set when a symlink led out of the root.
    pub(crate) outside_root: bool,
    /// Set when `--strict-git` found no git time for the file (`message` says why).
    pub(crate) unversioned: bool,
    /// With `unversioned`: the file is older than a shallow clone's history.
    pub(crate) shallow: bool,
}

impl From<io::Error> for IoFailure {
    fn from(e: io::Error) -> IoFailure {
        let outside_root = e.get_ref().is_some_and(|inner| inner.is::<OutsideRoot>());
        IoFailure {
            kind: e.kind(),
            message: e.get_ref().map_or_else(|| e.to_string(), |i| i.to_string()),
            outside_root,
            unversioned: false,
            shallow: false,
        }
    }
}

/// A map whose values are computed once per key, even under concurrent use.
/// Keys are paths, hashed with FxHash: fast, and these maps never see keys an
/// attacker can choose to collide (only the site's own paths).
pub(crate) struct OnceMap<K, V> {
    slots: Mutex<HashMap<K, Arc<OnceLock<V>>, rustc_hash::FxBuildHasher>>,
}

impl<K: Eq + Hash + Clone, V: Clone> OnceMap<K, V> {
    pub(crate) fn new() -> Self {
        OnceMap {
            slots: Mutex::new(HashMap::default()),
        }
    }

    pub(crate) fn get_or_init(&self, key: &K, init: impl FnOnce() -> V) -> V {
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            match slots.get(key) {
                // Found: no key to clone, no allocation.
                Some(slot) => slot.clone(),
                None => slots.entry(key.clone()).or_default().clone(),
            }
        };
        slot.get_or_init(init).clone()
    }

    /// The value for `key` if it was computed already.
    pub(crate) fn peek(&self, key: &K) -> Option<V> {
        let slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.get(key).and_then(|s| s.get().cloned())
    }
}

/// The files of one run: each is stat'ed and read at most once.
pub(crate) struct FileCache {
    versions: Arc<Versions>,
    metadata: OnceMap<SitePath, Result<Metadata, IoFailure>>,
    bytes: OnceMap<SitePath, Result<Arc<[u8]>, IoFailure>>,
    digests: OnceMap<SitePath, Result<[u8; 32], IoFailure>>,
    stamps: OnceMap<SitePath, Option<[u8; 16]>>,
}

impl FileCache {
    pub(crate) fn new(versions: Arc<Versions>) -> FileCache {
        FileCache {
            versions,
            metadata: OnceMap::new(),
            bytes: OnceMap::new(),
            digests: OnceMap::new(),
            stamps: OnceMap::new(),
        }
    }
    /// The file's metadata, its `mtime` being the version time the run uses
    /// (the file's own with the default `--mtime-from fs`), so every `flastmod`,
    /// `LAST_MODIFIED` and stable output time agrees.
    pub(crate) fn metadata(
        &self,
        fs: &dyn FileSystem,
        path: &SitePath,
    ) -> Result<Metadata, IoFailure> {
        self.metadata.get_or_init(path, || {
            let meta = fs.metadata(path).map_err(IoFailure::from)?;
            let mtime = self
                .versions
                .time(path, &meta)
                .map_err(|(message, shallow)| IoFailure {
                    kind: io::ErrorKind::Other,
                    message,
                    outside_root: false,
                    unversioned: true,
                    shallow,
                })?;
            Ok(Metadata { mtime, ..meta })
        })
    }

    /// The SHA-256 of the file's content, streamed (once per run, never kept in
    /// memory, whatever the file's size: see [`FileSystem::sha256`]).
    pub(crate) fn digest(
        &self,
        fs: &dyn FileSystem,
        path: &SitePath,
    ) -> Result<[u8; 32], IoFailure> {
        self.digests
            .get_or_init(path, || fs.sha256(path).map_err(IoFailure::from))
    }

    /// The file's change stamp (see [`FileSystem::stamp`]); `None` when it is not
    /// there (or cannot be stat'ed).
    pub(crate) fn stamp(&self, fs: &dyn FileSystem, path: &SitePath) -> Option<[u8; 16]> {
        self.stamps.get_or_init(path, || fs.stamp(path).ok())
    }

    /// Reads the file (never kept here: see `bytes`) and keeps the change stamp of
    /// the very bytes read, so the record's stamp of a page costs no further
    /// `open`, `stat` and `close`.
    pub(crate) fn read_and_stamp(
        &self,
        fs: &dyn FileSystem,
        path: &SitePath,
    ) -> Result<Vec<u8>, IoFailure> {
        let (bytes, stamp) = fs.read_stamped(path).map_err(IoFailure::from)?;
        if let Some(stamp) = stamp {
            self.stamps.get_or_init(path, || Some(stamp));
        }
        Ok(bytes)
    }

    pub(crate) fn bytes(
        &self,
        fs: &dyn FileSystem,
        path: &SitePath,
    ) -> Result<Arc<[u8]>, IoFailure> {
        self.bytes.get_or_init(path, || {
            fs.read(path).map(Arc::from).map_err(IoFailure::from)
        })
    }
}
