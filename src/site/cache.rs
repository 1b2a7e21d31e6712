//! What one run has read: each distinct file is stat'ed, read and parsed at most
//! once, however many pages (on however many threads) use it.

use std::collections::HashMap;
use std::hash::Hash;
use std::io;
use std::sync::{Arc, Mutex, OnceLock};

use ssibake_grammar::Node;

use sha2::{Digest, Sha256};

use crate::fs::{FileSystem, Metadata, OutsideRoot};
use crate::lint::{self, Finding};
use crate::resolve::SitePath;
use crate::version::Versions;

/// A parsed template: its bytes, its syntax tree, and the strict-mode findings.
pub(crate) struct Parsed {
    pub(crate) source: Arc<[u8]>,
    pub(crate) nodes: Vec<Node<'static>>,
    pub(crate) findings: Vec<Finding>,
}

impl Parsed {
    /// Parses `source` (and lints it for strict mode; `apache_only` refuses
    /// ssibake's extensions).
    pub(crate) fn new(source: Arc<[u8]>, legacy_expr: bool, apache_only: bool) -> Parsed {
        let doc = ssibake_grammar::parse(&source);
        let findings = lint::check(&doc, legacy_expr, apache_only);
        let nodes = doc.nodes.into_iter().map(Node::into_owned).collect();
        Parsed {
            source,
            nodes,
            findings,
        }
    }

    /// True when the document has at least one directive (or an unterminated one).
    pub(crate) fn has_directives(&self) -> bool {
        self.nodes.iter().any(|n| !matches!(n, Node::Text(_)))
    }
}

/// A cloneable record of an `io::Error`.
#[derive(Clone, Debug)]
pub(crate) struct IoFailure {
    pub(crate) kind: io::ErrorKind,
    pub(crate) message: String,
    /// Set when a symlink led out of the root.
    pub(crate) outside_root: bool,
    /// Set when `--strict-git` found no git time for the file (`message` says why).
    pub(crate) unversioned: bool,
}

impl From<io::Error> for IoFailure {
    fn from(e: io::Error) -> IoFailure {
        let outside_root = e.get_ref().is_some_and(|inner| inner.is::<OutsideRoot>());
        IoFailure {
            kind: e.kind(),
            message: e.get_ref().map_or_else(|| e.to_string(), |i| i.to_string()),
            outside_root,
            unversioned: false,
        }
    }
}

/// A map whose values are computed once per key, even under concurrent use.
struct OnceMap<K, V> {
    slots: Mutex<HashMap<K, Arc<OnceLock<V>>>>,
}

impl<K: Eq + Hash + Clone, V: Clone> OnceMap<K, V> {
    fn new() -> Self {
        OnceMap {
            slots: Mutex::new(HashMap::new()),
        }
    }

    fn get_or_init(&self, key: &K, init: impl FnOnce() -> V) -> V {
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            slots.entry(key.clone()).or_default().clone()
        };
        slot.get_or_init(init).clone()
    }
}

/// The files of one run.
pub(crate) struct Cache {
    legacy_expr: bool,
    apache_only: bool,
    versions: Arc<Versions>,
    metadata: OnceMap<SitePath, Result<Metadata, IoFailure>>,
    bytes: OnceMap<SitePath, Result<Arc<[u8]>, IoFailure>>,
    parsed: OnceMap<SitePath, Result<Arc<Parsed>, IoFailure>>,
    digests: OnceMap<SitePath, Result<[u8; 32], IoFailure>>,
}

impl Cache {
    pub(crate) fn new(legacy_expr: bool, apache_only: bool, versions: Arc<Versions>) -> Cache {
        Cache {
            legacy_expr,
            apache_only,
            versions,
            metadata: OnceMap::new(),
            bytes: OnceMap::new(),
            parsed: OnceMap::new(),
            digests: OnceMap::new(),
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
                .map_err(|message| IoFailure {
                    kind: io::ErrorKind::Other,
                    message,
                    outside_root: false,
                    unversioned: true,
                })?;
            Ok(Metadata { mtime, ..meta })
        })
    }

    /// The SHA-256 of the file's content (read once, not kept).
    pub(crate) fn digest(
        &self,
        fs: &dyn FileSystem,
        path: &SitePath,
    ) -> Result<[u8; 32], IoFailure> {
        self.digests.get_or_init(path, || {
            fs.read(path)
                .map(|bytes| Sha256::digest(&bytes).into())
                .map_err(IoFailure::from)
        })
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

    pub(crate) fn parsed(
        &self,
        fs: &dyn FileSystem,
        path: &SitePath,
    ) -> Result<Arc<Parsed>, IoFailure> {
        self.parsed.get_or_init(path, || {
            let bytes = self.bytes(fs, path)?;
            Ok(Arc::new(Parsed::new(
                bytes,
                self.legacy_expr,
                self.apache_only,
            )))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::MemoryFs;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Counting {
        inner: MemoryFs,
        reads: AtomicUsize,
        stats: AtomicUsize,
    }

    impl FileSystem for Counting {
        fn metadata(&self, path: &SitePath) -> io::Result<Metadata> {
            self.stats.fetch_add(1, Ordering::SeqCst);
            self.inner.metadata(path)
        }
        fn read(&self, path: &SitePath) -> io::Result<Vec<u8>> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            self.inner.read(path)
        }
        fn list(&self, skip: &[SitePath]) -> io::Result<Vec<SitePath>> {
            self.inner.list(skip)
        }
    }

    #[test]
    fn each_file_is_read_and_stated_once_across_threads() {
        let mut inner = MemoryFs::new();
        inner.insert("a.shtml", "<!--#echo var=\"x\" -->", 1);
        let fs = Counting {
            inner,
            reads: AtomicUsize::new(0),
            stats: AtomicUsize::new(0),
        };
        let cache = Cache::new(false, false, Arc::new(Versions::fs()));
        let path = SitePath::from_relative(b"a.shtml").unwrap();
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for _ in 0..100 {
                        cache.parsed(&fs, &path).unwrap();
                        cache.metadata(&fs, &path).unwrap();
                    }
                });
            }
        });
        assert_eq!(fs.reads.load(Ordering::SeqCst), 1);
        assert_eq!(fs.stats.load(Ordering::SeqCst), 1);
    }
}
