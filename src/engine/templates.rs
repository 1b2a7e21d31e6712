//! The run's templates: each file parsed and linted at most once, on top of the
//! site's file cache.

use std::sync::{Arc, Mutex, RwLock};

use rustc_hash::{FxHashMap, FxHashSet};

use ssibake_grammar::{Node, Tags};

use crate::engine::lint::{self, Finding};
use crate::format::timefmt::{ht_time, Zone};
use crate::site::cache::{FileCache, IoFailure, OnceMap};
use crate::site::config::SiteConfig;
use crate::site::fs::{FileSystem, Metadata};
use crate::site::resolve::SitePath;
use crate::site::version::Versions;

/// A syntax tree borrowing from the bytes it was parsed from.
type Nodes<'a> = Vec<Node<'a>>;

self_cell::self_cell!(
    /// The bytes and the nodes that borrow them, kept together: names and values
    /// stay slices of the source instead of each being copied into a tree of its
    /// own (that copy was a third of the cost of parsing a page). `self_cell`
    /// rather than hand-written unsafe code: it is the audited form of exactly this.
    struct Tree {
        owner: Arc<[u8]>,
        #[covariant]
        dependent: Nodes,
    }
);

/// A parsed template: its bytes, its syntax tree, and the strict-mode findings.
pub(crate) struct Parsed {
    pub(crate) source: Arc<[u8]>,
    tree: Tree,
    pub(crate) findings: Vec<Finding>,
}

impl Parsed {
    /// Parses `source` (and lints it for strict mode; `apache_only` refuses
    /// ssibake's extensions).
    /// `tags` are the SSIStartTag and SSIEndTag in force.
    pub(crate) fn new(
        source: Arc<[u8]>,
        legacy_expr: bool,
        apache_only: bool,
        tags: Tags<'_>,
    ) -> Parsed {
        let mut findings = Vec::new();
        let tree = Tree::new(source.clone(), |source| {
            let doc = ssibake_grammar::parse_with(source, tags);
            findings = lint::check(&doc, legacy_expr, apache_only);
            doc.nodes
        });
        Parsed {
            source,
            tree,
            findings,
        }
    }

    /// The syntax tree, in document order.
    pub(crate) fn nodes(&self) -> &[Node<'_>] {
        self.tree.borrow_dependent()
    }

    /// Parses `source` with the SSIStartTag and SSIEndTag in force in `dir` (the
    /// server's: they are server-config only).
    pub(crate) fn in_dir(
        config: &SiteConfig,
        fs: &dyn FileSystem,
        dir: &SitePath,
        source: Arc<[u8]>,
        legacy_expr: bool,
        apache_only: bool,
    ) -> Parsed {
        let dir = config.dir(fs, dir).ok();
        let tags = dir.as_ref().map_or(Tags::DEFAULT, |d| Tags {
            start: d.start_tag(),
            end: d.end_tag(),
        });
        Parsed::new(source, legacy_expr, apache_only, tags)
    }

    /// True when the document has at least one directive (or an unterminated one).
    #[cfg_attr(not(feature = "bake"), allow(dead_code))]
    pub(crate) fn has_directives(&self) -> bool {
        self.nodes().iter().any(|n| !matches!(n, Node::Text(_)))
    }
}

/// What one run has read and parsed.
pub(crate) struct Cache {
    config: Arc<SiteConfig>,
    apache_only: bool,
    files: FileCache,
    parsed: OnceMap<SitePath, Result<Arc<Parsed>, IoFailure>>,
    /// `flastmod` texts by format and time: a site's pages stamp the same few
    /// hundred files with one or two formats, tens of thousands of times.
    times: RwLock<TimeTexts>,
    /// One shared copy of each path the run records (see [`Cache::intern`]).
    paths: Mutex<FxHashSet<SitePath>>,
}

/// Formatted local times, by `timefmt` then by time (one run has one zone).
type TimeTexts = FxHashMap<Box<[u8]>, FxHashMap<i64, Box<[u8]>>>;

impl Cache {
    pub(crate) fn new(
        config: Arc<SiteConfig>,
        apache_only: bool,
        versions: Arc<Versions>,
    ) -> Cache {
        Cache {
            config,
            apache_only,
            files: FileCache::new(versions),
            parsed: OnceMap::new(),
            times: RwLock::new(TimeTexts::default()),
            paths: Mutex::new(FxHashSet::default()),
        }
    }

    /// The run's shared copy of `path` (equal bytes, one allocation for the run).
    #[cfg_attr(not(feature = "bake"), allow(dead_code))]
    pub(crate) fn intern(&self, path: &SitePath) -> SitePath {
        let mut paths = self.paths.lock().unwrap_or_else(|p| p.into_inner());
        match paths.get(path) {
            Some(shared) => shared.clone(),
            None => {
                paths.insert(path.clone());
                path.clone()
            }
        }
    }

    /// Appends `secs` formatted with `fmt` as local time in `zone` (`ht_time`) to
    /// `out`, formatting each (format, time) once per run. `zone` must be the same
    /// on every call (the run's).
    pub(crate) fn push_local_time(&self, out: &mut Vec<u8>, fmt: &[u8], secs: i64, zone: &Zone) {
        let read = self.times.read().unwrap_or_else(|p| p.into_inner());
        if let Some(text) = read.get(fmt).and_then(|m| m.get(&secs)) {
            out.extend_from_slice(text);
            return;
        }
        drop(read);
        let text = ht_time(fmt, secs, zone, false);
        out.extend_from_slice(&text);
        let mut write = self.times.write().unwrap_or_else(|p| p.into_inner());
        write
            .entry(fmt.into())
            .or_default()
            .insert(secs, text.into_boxed_slice());
    }

    /// The file's metadata with its version time (see [`FileCache::metadata`]).
    pub(crate) fn metadata(
        &self,
        fs: &dyn FileSystem,
        path: &SitePath,
    ) -> Result<Metadata, IoFailure> {
        self.files.metadata(fs, path)
    }

    /// The SHA-256 of the file's content.
    pub(crate) fn digest(
        &self,
        fs: &dyn FileSystem,
        path: &SitePath,
    ) -> Result<[u8; 32], IoFailure> {
        self.files.digest(fs, path)
    }

    /// The file's change stamp, `None` when it is not there.
    #[cfg_attr(not(feature = "bake"), allow(dead_code))]
    pub(crate) fn stamp(&self, fs: &dyn FileSystem, path: &SitePath) -> Option<[u8; 16]> {
        self.files.stamp(fs, path)
    }

    /// The file's bytes.
    pub(crate) fn bytes(
        &self,
        fs: &dyn FileSystem,
        path: &SitePath,
    ) -> Result<Arc<[u8]>, IoFailure> {
        self.files.bytes(fs, path)
    }

    /// A page parsed and linted for one rendering: taken from the cache when some
    /// include parsed it already, else read and parsed without being kept, so a
    /// run holds only what pages share (includes), never every page.
    pub(crate) fn parsed_once(
        &self,
        fs: &dyn FileSystem,
        path: &SitePath,
    ) -> Result<Arc<Parsed>, IoFailure> {
        if let Some(done) = self.parsed.peek(path) {
            return done;
        }
        let bytes: Arc<[u8]> = self.files.read_and_stamp(fs, path)?.into();
        Ok(Arc::new(self.parse(fs, path, bytes)))
    }

    fn parse(&self, fs: &dyn FileSystem, path: &SitePath, bytes: Arc<[u8]>) -> Parsed {
        // The file's own directory decides its `#if` syntax; the tags are the
        // server's (SSIStartTag/SSIEndTag are server-config only).
        let dir = self.config.dir(fs, &path.parent()).ok();
        let tags = dir.as_ref().map_or(Tags::DEFAULT, |d| Tags {
            start: d.start_tag(),
            end: d.end_tag(),
        });
        Parsed::new(
            bytes,
            dir.as_ref().is_some_and(|d| d.legacy_expr()),
            self.apache_only,
            tags,
        )
    }

    /// The file parsed and linted.
    pub(crate) fn parsed(
        &self,
        fs: &dyn FileSystem,
        path: &SitePath,
    ) -> Result<Arc<Parsed>, IoFailure> {
        self.parsed.get_or_init(path, || {
            // Not through `bytes`: the parse keeps them.
            let bytes: Arc<[u8]> = self.files.read_and_stamp(fs, path)?.into();
            Ok(Arc::new(self.parse(fs, path, bytes)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site::fs::MemoryFs;
    use std::io;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Counting {
        inner: MemoryFs,
        reads: AtomicUsize,
        stats: AtomicUsize,
    }

    impl FileSystem for Counting {
        // Only the page counts: the site's configuration looks for `.htaccess` files
        // (once per directory, in its own cache).
        fn metadata(&self, path: &SitePath) -> io::Result<Metadata> {
            if path.as_bytes() == b"a.shtml" {
                self.stats.fetch_add(1, Ordering::SeqCst);
            }
            self.inner.metadata(path)
        }
        fn read(&self, path: &SitePath) -> io::Result<Vec<u8>> {
            if path.as_bytes() == b"a.shtml" {
                self.reads.fetch_add(1, Ordering::SeqCst);
            }
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
        let cache = Cache::new(
            Arc::new(SiteConfig::debian_defaults()),
            false,
            Arc::new(Versions::fs()),
        );
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
