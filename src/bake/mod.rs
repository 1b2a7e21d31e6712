//! Whole-tree baking: every page under the root rendered (in parallel) into an
//! output tree beside a copy of every other file, built in a staging directory and
//! swapped in only when every page succeeded; plus in-place rewriting and the
//! golden check that compares instead of writing.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use globset::{Glob, GlobSet, GlobSetBuilder};
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::baker::Baker;
use crate::cache::Cache;
use crate::errors::{Error, TemplateErrors};
use crate::resolve::SitePath;

/// How a tree is baked. Paths are relative to the document root unless noted.
#[derive(Clone)]
pub struct BakeOptions {
    pages: Vec<String>,
    exclude: Vec<String>,
    page_ext: Option<String>,
    build_id: Option<String>,
    version_file: Option<String>,
    emit_client: Option<String>,
    manifest: Option<PathBuf>,
    stable_mtimes: bool,
    progress: Option<Arc<dyn Fn() + Send + Sync>>,
}

impl Default for BakeOptions {
    fn default() -> Self {
        BakeOptions {
            pages: vec!["**/*.shtml".into()],
            exclude: Vec::new(),
            page_ext: Some("html".into()),
            build_id: None,
            version_file: None,
            emit_client: None,
            manifest: None,
            stable_mtimes: false,
            progress: None,
        }
    }
}

impl std::fmt::Debug for BakeOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BakeOptions")
            .field("pages", &self.pages)
            .field("exclude", &self.exclude)
            .field("page_ext", &self.page_ext)
            .field("build_id", &self.build_id)
            .field("version_file", &self.version_file)
            .field("emit_client", &self.emit_client)
            .field("manifest", &self.manifest)
            .field("stable_mtimes", &self.stable_mtimes)
            .finish_non_exhaustive()
    }
}

impl BakeOptions {
    /// Globs (root-relative) selecting the pages to bake; default `**/*.shtml`.
    pub fn with_pages<I: IntoIterator<Item = S>, S: Into<String>>(mut self, globs: I) -> Self {
        self.pages = globs.into_iter().map(Into::into).collect();
        self
    }

    /// Globs of files neither baked nor copied.
    pub fn with_exclude<I: IntoIterator<Item = S>, S: Into<String>>(mut self, globs: I) -> Self {
        self.exclude = globs.into_iter().map(Into::into).collect();
        self
    }

    /// The extension baked pages get (default `html`); `None` keeps the template's.
    pub fn with_page_ext(mut self, ext: Option<&str>) -> Self {
        self.page_ext = ext.map(|e| e.trim_start_matches('.').to_string());
        self
    }

    /// The build ID templates see as `BUILD_ID` (default: a hash of every input).
    pub fn with_build_id(mut self, id: Option<&str>) -> Self {
        self.build_id = id.map(str::to_string);
        self
    }

    /// Write `{"buildId": ..., "builtAt": ...}` at this output path, after every page.
    pub fn with_version_file(mut self, path: Option<&str>) -> Self {
        self.version_file = path.map(str::to_string);
        self
    }

    /// Write the update-notice client script at this output path.
    pub fn with_client(mut self, path: Option<&str>) -> Self {
        self.emit_client = path.map(str::to_string);
        self
    }

    /// Write the asset manifest at this path (on disk, not in the output tree),
    /// atomically, after every page: a flat JSON map of every stamped or revved
    /// file to its revved path (gulp-rev's `rev-manifest.json` shape), and beside
    /// it `<name>.details.json` with each file's SHA-256, size and version time.
    pub fn with_manifest(mut self, path: Option<impl Into<PathBuf>>) -> Self {
        self.manifest = path.map(Into::into);
        self
    }

    /// Set each baked page's modification time to the newest version time among
    /// its inputs (the page, its includes, the files it stamped), and each revved
    /// copy's to its file's, so servers give the same `Last-Modified` and `ETag`
    /// everywhere.
    pub fn with_stable_mtimes(mut self, on: bool) -> Self {
        self.stable_mtimes = on;
        self
    }

    /// Called once per page baked, from any thread (for a progress bar).
    pub fn with_progress(mut self, f: impl Fn() + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(f));
        self
    }
}

/// What a bake did, for the one-line summary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BakeReport {
    /// Pages rendered.
    pub pages: usize,
    /// Pages left alone by `--in-place` because they have no directive.
    pub unchanged: usize,
    /// Successful `#include`s, over all pages.
    pub includes: usize,
    /// Distinct files whose size or time a page printed.
    pub stamped: usize,
    /// Other files copied (or hard-linked) into the output.
    pub copied: usize,
    /// The build ID, when one was computed.
    pub build_id: Option<String>,
    /// Wall time.
    pub elapsed: Duration,
}

impl BakeReport {
    /// `baked 12 pages (30 includes, 4 files stamped), copied 40 files, 0 errors in 0.12s`.
    pub fn summary(&self, errors: usize) -> String {
        let mut s = format!(
            "baked {} page{} ({} include{}, {} file{} stamped)",
            self.pages,
            plural(self.pages),
            self.includes,
            plural(self.includes),
            self.stamped,
            plural(self.stamped),
        );
        if self.unchanged > 0 {
            s += &format!(", left {} without directives unchanged", self.unchanged);
        }
        s += &format!(
            ", copied {} file{}, {} error{} in {:.2}s",
            self.copied,
            plural(self.copied),
            errors,
            plural(errors),
            self.elapsed.as_secs_f64()
        );
        s
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Why a bake wrote nothing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BakeError {
    /// Some pages have template errors; every one is here.
    #[error("{} page{} failed to bake", .failures.len(), plural(.failures.len()))]
    Pages {
        /// Each failing page's errors.
        failures: Vec<Box<TemplateErrors>>,
        /// What was done before giving up (nothing was written).
        report: BakeReport,
    },
    /// Reading the root or writing the output failed.
    #[error(transparent)]
    Other(#[from] Error),
    /// A bad option (glob, output inside the root's own pages...).
    #[error("{0}")]
    Usage(String),
}

/// A file that differs between a fresh bake and the existing output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Difference {
    /// The output path, root-relative.
    pub path: String,
    /// A unified diff for changed text, or a one-line explanation.
    pub diff: String,
}

fn io_err(path: &Path, source: io::Error) -> Error {
    Error::Io {
        path: path.display().to_string(),
        source,
    }
}

fn globset(globs: &[String]) -> Result<GlobSet, BakeError> {
    let mut b = GlobSetBuilder::new();
    for g in globs {
        let glob = Glob::new(g).map_err(|e| BakeError::Usage(format!("bad glob `{g}`: {e}")))?;
        b.add(glob);
    }
    b.build()
        .map_err(|e| BakeError::Usage(format!("bad globs: {e}")))
}

/// One baked file of an in-memory bake.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BakedFile {
    /// The output path, root-relative.
    pub path: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// A rendered page with what it used.
pub(crate) struct Baked {
    pub(crate) bytes: Vec<u8>,
    pub(crate) includes: usize,
    pub(crate) stamped: Vec<SitePath>,
    /// `frev` targets and their revved paths.
    pub(crate) revved: Vec<(SitePath, SitePath)>,
    /// The newest version time among the page and its inputs.
    pub(crate) newest: i64,
}

/// What the pages of a run stamped and revved.
#[derive(Default)]
struct Stamps {
    stamped: BTreeSet<SitePath>,
    /// File to revved paths (one per `hashlen` used).
    revved: BTreeMap<SitePath, BTreeSet<SitePath>>,
}

impl Stamps {
    fn add(&mut self, baked: &Baked) {
        self.stamped.extend(baked.stamped.iter().cloned());
        for (file, revved) in &baked.revved {
            self.revved
                .entry(file.clone())
                .or_default()
                .insert(revved.clone());
        }
    }

    fn revved_pairs(&self) -> Vec<(SitePath, SitePath)> {
        self.revved
            .iter()
            .flat_map(|(f, rs)| rs.iter().map(move |r| (f.clone(), r.clone())))
            .collect()
    }
}

/// One line of the manifest.
struct ManifestEntry {
    revved: Vec<String>,
    sha256: String,
    size: u64,
    mtime: i64,
}

/// Where the output of one input goes.
enum Item {
    Page { input: SitePath, output: SitePath },
    Asset(SitePath),
}

/// Receives the output files of a bake.
trait Sink: Sync {
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
}

impl Baker {
    /// Lists the inputs and decides what each becomes.
    fn plan(&self, opts: &BakeOptions, skip: &[SitePath]) -> Result<Vec<Item>, BakeError> {
        let pages = globset(&opts.pages)?;
        let exclude = globset(&opts.exclude)?;
        let files = self
            .fs
            .list(skip)
            .map_err(|e| BakeError::Other(io_err(&self.root, e)))?;
        let mut items = Vec::with_capacity(files.len());
        for path in files {
            let text = path.display();
            if exclude.is_match(&text) || text == "ssibake.toml" {
                continue;
            }
            if pages.is_match(&text) {
                let output = match &opts.page_ext {
                    Some(ext) => with_extension(&path, ext),
                    None => path.clone(),
                };
                items.push(Item::Page {
                    input: path,
                    output,
                });
            } else {
                items.push(Item::Asset(path));
            }
        }
        Ok(items)
    }

    /// How many pages a bake with `opts` would render.
    pub fn count_pages(&self, opts: &BakeOptions) -> Result<usize, BakeError> {
        Ok(self
            .plan(opts, &[])?
            .iter()
            .filter(|i| matches!(i, Item::Page { .. }))
            .count())
    }

    /// A hash of every input file (path and content), the defines and the
    /// options that change output: identical inputs give the same ID.
    fn compute_build_id(&self, items: &[Item]) -> Result<String, BakeError> {
        let hashes: Vec<(String, [u8; 32])> = items
            .par_iter()
            .map(|item| {
                let path = match item {
                    Item::Page { input, .. } => input,
                    Item::Asset(p) => p,
                };
                let bytes = self
                    .fs
                    .read(path)
                    .map_err(|e| io_err(&self.root.join(path.to_path()), e))?;
                Ok((path.display(), Sha256::digest(&bytes).into()))
            })
            .collect::<Result<_, Error>>()?;
        let mut h = Sha256::new();
        h.update(b"ssibake build id v1\0");
        for (path, digest) in &hashes {
            h.update(path.as_bytes());
            h.update([0]);
            h.update(digest);
        }
        let mut defines = self.settings.defines.clone();
        defines.sort();
        for (k, v) in defines {
            h.update(&k);
            h.update([0]);
            h.update(&v);
            h.update([0]);
        }
        h.update([u8::from(self.settings.legacy_expr)]);
        let digest = h.finalize();
        Ok(digest[..8].iter().map(|b| format!("{b:02x}")).collect())
    }

    /// The baker that renders pages: the configured one plus `BUILD_ID` and
    /// `BUILD_DATE` when a build identity is in use.
    fn with_build(&self, build_id: &Option<String>) -> Baker {
        let mut baker = self.clone();
        if let Some(id) = build_id {
            baker
                .settings
                .defines
                .push((b"BUILD_ID".to_vec(), id.clone().into_bytes()));
            baker.settings.defines.push((
                b"BUILD_DATE".to_vec(),
                rfc3339(self.settings.now).into_bytes(),
            ));
        }
        baker
    }

    fn needs_build_id(&self, opts: &BakeOptions, items: &[Item]) -> bool {
        if opts.build_id.is_some() || opts.version_file.is_some() {
            return true;
        }
        items.iter().any(|item| match item {
            Item::Page { input, .. } => self
                .fs
                .read(input)
                .is_ok_and(|b| memchr::memmem::find(&b, b"BUILD_").is_some()),
            Item::Asset(_) => false,
        })
    }

    /// Renders every page into `sink` and copies every asset; all-or-nothing is
    /// the caller's business (the sink writes to staging).
    fn run(
        &self,
        opts: &BakeOptions,
        items: &[Item],
        sink: &dyn Sink,
    ) -> Result<(BakeReport, Stamps, Cache), BakeError> {
        let start = Instant::now();
        let build_id = if self.needs_build_id(opts, items) {
            Some(match &opts.build_id {
                Some(id) => id.clone(),
                None => self.compute_build_id(items)?,
            })
        } else {
            None
        };
        let baker = self.with_build(&build_id);
        let cache = self.cache();
        let includes = AtomicUsize::new(0);
        let stamped = Mutex::new(Stamps::default());
        let failures = Mutex::new(Vec::new());
        let io_failures = Mutex::new(Vec::new());
        let pages = items
            .par_iter()
            .filter_map(|item| match item {
                Item::Page { input, output } => {
                    let result = baker.bake_page(&cache, input);
                    if let Some(p) = &opts.progress {
                        p();
                    }
                    match result {
                        Ok(baked) => {
                            includes.fetch_add(baked.includes, Ordering::Relaxed);
                            stamped
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .add(&baked);
                            let written = sink.page(output, &baked.bytes).and_then(|()| {
                                if opts.stable_mtimes {
                                    sink.set_mtime(output, baked.newest)
                                } else {
                                    Ok(())
                                }
                            });
                            if let Err(e) = written {
                                io_failures
                                    .lock()
                                    .unwrap_or_else(|p| p.into_inner())
                                    .push(io_err(&output.to_path(), e));
                            }
                        }
                        Err(Error::Template(t)) => {
                            failures.lock().unwrap_or_else(|p| p.into_inner()).push(t)
                        }
                        Err(e) => io_failures
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push(e),
                    }
                    Some(())
                }
                Item::Asset(_) => None,
            })
            .count();
        let copied = items
            .par_iter()
            .filter_map(|item| match item {
                Item::Asset(path) => {
                    if let Err(e) = sink.asset(self, path) {
                        io_failures
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push(io_err(&self.root.join(path.to_path()), e));
                    }
                    Some(())
                }
                Item::Page { .. } => None,
            })
            .count();
        let stamps = stamped.into_inner().unwrap_or_else(|p| p.into_inner());
        stamps.revved_pairs().par_iter().for_each(|(file, revved)| {
            let mtime = opts
                .stable_mtimes
                .then(|| cache.metadata(&*self.fs, file).ok().map(|m| m.mtime))
                .flatten();
            if let Err(e) = sink.revved(self, file, revved, mtime) {
                io_failures
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(io_err(&revved.to_path(), e));
            }
        });
        let report = BakeReport {
            pages,
            unchanged: 0,
            includes: includes.into_inner(),
            stamped: stamps.stamped.len(),
            copied,
            build_id,
            elapsed: start.elapsed(),
        };
        let mut failures = failures.into_inner().unwrap_or_else(|p| p.into_inner());
        if !failures.is_empty() {
            failures.sort_by(|a, b| a.page.cmp(&b.page));
            return Err(BakeError::Pages { failures, report });
        }
        if let Some(e) = io_failures
            .into_inner()
            .unwrap_or_else(|p| p.into_inner())
            .pop()
        {
            return Err(BakeError::Other(e));
        }
        Ok((report, stamps, cache))
    }

    /// The manifest's entries: every stamped or revved file.
    fn manifest_entries(
        &self,
        cache: &Cache,
        stamps: &Stamps,
    ) -> Result<BTreeMap<String, ManifestEntry>, Error> {
        stamps
            .stamped
            .par_iter()
            .map(|path| {
                let io = |e: crate::cache::IoFailure| Error::Io {
                    path: self.root.join(path.to_path()).display().to_string(),
                    source: io::Error::new(e.kind, e.message),
                };
                let meta = cache.metadata(&*self.fs, path).map_err(io)?;
                let digest = cache.digest(&*self.fs, path).map_err(io)?;
                let revved = stamps
                    .revved
                    .get(path)
                    .map(|rs| rs.iter().map(SitePath::display).collect())
                    .unwrap_or_default();
                Ok((
                    path.display(),
                    ManifestEntry {
                        revved,
                        sha256: crate::eval::hex(&digest),
                        size: meta.len,
                        mtime: meta.mtime,
                    },
                ))
            })
            .collect()
    }

    /// Writes the manifest and its details file, when asked for.
    fn write_manifest(
        &self,
        opts: &BakeOptions,
        cache: &Cache,
        stamps: &Stamps,
    ) -> Result<(), Error> {
        let Some(path) = &opts.manifest else {
            return Ok(());
        };
        let entries = self.manifest_entries(cache, stamps)?;
        let (flat, details) = manifest_json(&entries, self.versions.from().name());
        let details_path = details_path(path);
        for (p, text) in [(&details_path, details), (path, flat)] {
            if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
            }
            crate::cli::write_atomically(p, text.as_bytes()).map_err(|e| io_err(p, e))?;
        }
        Ok(())
    }

    /// Renders one page, returning its bytes, its include count and the files it
    /// stamped.
    fn bake_page(&self, cache: &Cache, page: &SitePath) -> Result<Baked, Error> {
        let io = |e: crate::cache::IoFailure| Error::Io {
            path: self.root.join(page.to_path()).display().to_string(),
            source: io::Error::new(e.kind, e.message),
        };
        let meta = cache.metadata(&*self.fs, page).map_err(io)?;
        let parsed = cache.parsed(&*self.fs, page).map_err(io)?;
        self.render_counted(cache, page.clone(), parsed, meta)
    }

    /// The output directory as a root-relative path when it lies inside the root.
    fn inside_root(&self, out: &Path) -> Option<SitePath> {
        let root = self.disk_root.as_ref()?;
        let out = absolute(out).ok()?;
        let rel = out.strip_prefix(root).ok()?;
        SitePath::from_relative(rel.as_os_str().as_encoded_bytes()).ok()
    }

    /// Bakes the tree into `out`: every page rendered, every other file hard-linked
    /// (or copied with its times), the version file and client last. Built in a
    /// staging directory beside `out` and swapped in only when everything
    /// succeeded; on any error `out` is left exactly as it was.
    pub fn bake(&self, out: impl AsRef<Path>, opts: &BakeOptions) -> Result<BakeReport, BakeError> {
        let out = out.as_ref();
        let out_abs = absolute(out).map_err(|e| BakeError::Other(io_err(out, e)))?;
        if let Some(root) = &self.disk_root {
            if root.starts_with(&out_abs) {
                return Err(BakeError::Usage(format!(
                    "the output `{}` would contain the document root",
                    out.display()
                )));
            }
        }
        let parent = out_abs.parent().unwrap_or(Path::new("/")).to_path_buf();
        std::fs::create_dir_all(&parent).map_err(|e| BakeError::Other(io_err(&parent, e)))?;
        let _lock = lock_dir(&parent);
        let skip: Vec<SitePath> = self.inside_root(out).into_iter().collect();
        let items = self.plan(opts, &skip)?;
        let staging = tempfile::Builder::new()
            .prefix(".ssibake-staging-")
            .tempdir_in(&parent)
            .map_err(|e| BakeError::Other(io_err(&parent, e)))?;
        let sink = DirSink::new(staging.path().to_path_buf());
        let (report, stamps, cache) = self.run(opts, &items, &sink)?;
        self.write_extras(opts, &report, |path, bytes| sink.page(path, bytes))
            .map_err(BakeError::Other)?;
        swap_into_place(staging.path(), &out_abs).map_err(|e| BakeError::Other(io_err(out, e)))?;
        // The staging directory now holds the old output (or nothing).
        drop(staging);
        self.write_manifest(opts, &cache, &stamps)
            .map_err(BakeError::Other)?;
        Ok(report)
    }

    /// Bakes the tree in memory: output path to bytes (pages, copies and extras).
    pub fn bake_to_memory(
        &self,
        opts: &BakeOptions,
    ) -> Result<(Vec<BakedFile>, BakeReport), BakeError> {
        let items = self.plan(opts, &[])?;
        let sink = MemorySink::default();
        let (report, _, _) = self.run(opts, &items, &sink)?;
        self.write_extras(opts, &report, |path, bytes| sink.page(path, bytes))
            .map_err(BakeError::Other)?;
        let mut files = sink.files.into_inner().unwrap_or_else(|p| p.into_inner());
        files.sort();
        let files = files
            .into_iter()
            .map(|(path, bytes)| BakedFile { path, bytes })
            .collect();
        Ok((files, report))
    }

    /// Bakes the tree and compares it with `out` instead of writing: every page,
    /// copy and extra that differs, is missing or is left over.
    pub fn check(
        &self,
        out: impl AsRef<Path>,
        opts: &BakeOptions,
    ) -> Result<(Vec<Difference>, BakeReport), BakeError> {
        let out = out.as_ref();
        let skip: Vec<SitePath> = self.inside_root(out).into_iter().collect();
        let items = self.plan(opts, &skip)?;
        let sink = CheckSink {
            out: out.to_path_buf(),
            seen: Mutex::new(BTreeSet::new()),
            diffs: Mutex::new(Vec::new()),
        };
        let (report, _, _) = self.run(opts, &items, &sink)?;
        self.write_extras(opts, &report, |path, bytes| sink.page(path, bytes))
            .map_err(BakeError::Other)?;
        let mut diffs = sink.diffs.into_inner().unwrap_or_else(|p| p.into_inner());
        let seen = sink.seen.into_inner().unwrap_or_else(|p| p.into_inner());
        if let Ok(existing) =
            crate::fs::DiskFs::new(out).and_then(|d| crate::fs::FileSystem::list(&d, &[]))
        {
            for p in existing {
                if !seen.contains(&p.display()) {
                    diffs.push(Difference {
                        path: p.display(),
                        diff: "only in the existing output (the bake would remove it)".into(),
                    });
                }
            }
        }
        diffs.sort_by(|a, b| a.path.cmp(&b.path));
        Ok((diffs, report))
    }

    /// The version file and the client script, written after every page.
    fn write_extras(
        &self,
        opts: &BakeOptions,
        report: &BakeReport,
        mut write: impl FnMut(&SitePath, &[u8]) -> io::Result<()>,
    ) -> Result<(), Error> {
        if let Some(client) = &opts.emit_client {
            let path = output_path(client)?;
            let script = if client.ends_with(".mjs") {
                crate::client::MODULE
            } else {
                crate::client::CLASSIC
            };
            write(&path, script.as_bytes()).map_err(|e| io_err(Path::new(client), e))?;
        }
        if let Some(version) = &opts.version_file {
            let path = output_path(version)?;
            write(&path, version_json(report, self.settings.now).as_bytes())
                .map_err(|e| io_err(Path::new(version), e))?;
        }
        Ok(())
    }

    /// Rewrites each page in place: rendered from the originals, then written
    /// atomically (temporary file in the same directory, fsync, rename; mode and
    /// owner kept). Nothing is written unless every page succeeded; a page without
    /// directives is not touched at all.
    pub fn bake_in_place(
        &self,
        pages: &[String],
        opts: &BakeOptions,
    ) -> Result<BakeReport, BakeError> {
        let start = Instant::now();
        let paths: Vec<SitePath> = pages
            .iter()
            .map(|p| {
                SitePath::from_relative(p.as_bytes())
                    .map_err(|_| BakeError::Other(Error::OutsideRoot(p.clone())))
            })
            .collect::<Result<_, _>>()?;
        let items: Vec<Item> = paths
            .iter()
            .map(|p| Item::Page {
                input: p.clone(),
                output: p.clone(),
            })
            .collect();
        let build_id = if self.needs_build_id(opts, &items) {
            Some(match &opts.build_id {
                Some(id) => id.clone(),
                None => {
                    let all = self.plan(opts, &[])?;
                    self.compute_build_id(&all)?
                }
            })
        } else {
            None
        };
        let baker = self.with_build(&build_id);
        let cache = self.cache();
        let results: Vec<Result<Option<Baked>, Error>> = paths
            .par_iter()
            .map(|p| {
                let parsed = cache.parsed(&*self.fs, p).map_err(|e| Error::Io {
                    path: self.root.join(p.to_path()).display().to_string(),
                    source: io::Error::new(e.kind, e.message),
                })?;
                if !parsed.has_directives() {
                    return Ok(None);
                }
                baker.bake_page(&cache, p).map(Some)
            })
            .collect();
        let mut report = BakeReport {
            build_id,
            ..BakeReport::default()
        };
        let mut failures = Vec::new();
        let mut outputs = Vec::new();
        let mut stamps = Stamps::default();
        for (path, result) in paths.iter().zip(results) {
            match result {
                Ok(None) => report.unchanged += 1,
                Ok(Some(baked)) => {
                    report.pages += 1;
                    report.includes += baked.includes;
                    stamps.add(&baked);
                    outputs.push((path.clone(), baked.bytes, baked.newest));
                }
                Err(Error::Template(t)) => failures.push(t),
                Err(e) => return Err(BakeError::Other(e)),
            }
        }
        report.stamped = stamps.stamped.len();
        if !failures.is_empty() {
            report.elapsed = start.elapsed();
            return Err(BakeError::Pages { failures, report });
        }
        let Some(root) = self.disk_root.clone() else {
            return Err(BakeError::Usage(
                "in-place baking needs a root on disk".into(),
            ));
        };
        // Revved copies first, so no page ever names a missing file.
        for (file, revved) in stamps.revved_pairs() {
            let target = root.join(revved.to_path());
            let mtime = opts
                .stable_mtimes
                .then(|| cache.metadata(&*self.fs, &file).ok().map(|m| m.mtime))
                .flatten();
            write_revved_in_place(self, &file, &target, mtime)
                .map_err(|e| BakeError::Other(io_err(&target, e)))?;
        }
        for (path, bytes, newest) in &outputs {
            let target = root.join(path.to_path());
            replace_file(&target, bytes).map_err(|e| BakeError::Other(io_err(&target, e)))?;
            if opts.stable_mtimes {
                filetime::set_file_mtime(&target, filetime::FileTime::from_unix_time(*newest, 0))
                    .map_err(|e| BakeError::Other(io_err(&target, e)))?;
            }
        }
        self.write_extras(opts, &report, |path, bytes| {
            let target = root.join(path.to_path());
            if let Some(dir) = target.parent() {
                std::fs::create_dir_all(dir)?;
            }
            replace_file(&target, bytes)
        })
        .map_err(BakeError::Other)?;
        self.write_manifest(opts, &cache, &stamps)
            .map_err(BakeError::Other)?;
        report.elapsed = start.elapsed();
        Ok(report)
    }
}

/// The revved copy of `file` beside it, unless a file of that name and size is
/// already there (the name carries the content's hash).
fn write_revved_in_place(
    baker: &Baker,
    file: &SitePath,
    target: &Path,
    mtime: Option<i64>,
) -> io::Result<()> {
    let bytes = baker.fs.read(file)?;
    let present = std::fs::metadata(target).is_ok_and(|m| m.len() == bytes.len() as u64);
    if !present {
        crate::cli::write_atomically(target, &bytes)?;
    }
    if let Some(t) = mtime {
        filetime::set_file_mtime(target, filetime::FileTime::from_unix_time(t, 0))?;
    }
    Ok(())
}

/// `rev-manifest.json` → `rev-manifest.details.json`.
fn details_path(manifest: &Path) -> PathBuf {
    let name = manifest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "manifest".into());
    let stem = name.strip_suffix(".json").unwrap_or(&name);
    manifest.with_file_name(format!("{stem}.details.json"))
}

/// The flat map (file → revved path, or the file itself when only stamped) and
/// the details document, each pretty-printed with sorted keys and a final newline.
fn manifest_json(entries: &BTreeMap<String, ManifestEntry>, mtime_from: &str) -> (String, String) {
    let flat: BTreeMap<&str, &str> = entries
        .iter()
        .map(|(k, e)| {
            // Revved with several `hashlen`s: the longest hash (the first on a tie).
            let longest = e.revved.iter().rev().max_by_key(|r| r.len());
            (k.as_str(), longest.map_or(k.as_str(), String::as_str))
        })
        .collect();
    let assets: serde_json::Map<String, serde_json::Value> = entries
        .iter()
        .map(|(k, e)| {
            (
                k.clone(),
                serde_json::json!({
                    "revved": e.revved,
                    "sha256": e.sha256,
                    "size": e.size,
                    "mtime": e.mtime,
                }),
            )
        })
        .collect();
    let details = serde_json::json!({
        "mtimeFrom": mtime_from,
        "assets": assets,
    });
    (pretty(&flat), pretty(&details))
}

/// Pretty JSON with a final newline.
fn pretty<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default() + "\n"
}

/// `{"buildId": "...", "builtAt": "..."}` followed by a newline.
fn version_json(report: &BakeReport, now: i64) -> String {
    let value = serde_json::json!({
        "buildId": report.build_id.clone().unwrap_or_default(),
        "builtAt": rfc3339(now),
    });
    format!("{value}\n")
}

/// `2026-11-23T12:00:00Z`.
pub(crate) fn rfc3339(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// An option's output path (`/version.json` or `version.json`), root-relative.
fn output_path(p: &str) -> Result<SitePath, Error> {
    SitePath::from_relative(p.as_bytes())
        .ok()
        .filter(|s| !s.as_bytes().is_empty())
        .ok_or_else(|| Error::OutsideRoot(p.to_string()))
}

fn with_extension(path: &SitePath, ext: &str) -> SitePath {
    let bytes = path.as_bytes();
    let name_start = memchr::memrchr(b'/', bytes).map_or(0, |i| i + 1);
    let stem_end = memchr::memrchr(b'.', &bytes[name_start..])
        .filter(|&i| i > 0)
        .map_or(bytes.len(), |i| name_start + i);
    let mut out = bytes[..stem_end].to_vec();
    out.push(b'.');
    out.extend_from_slice(ext.as_bytes());
    SitePath::from_relative(&out).expect("same directory, new extension")
}

fn absolute(p: &Path) -> io::Result<PathBuf> {
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
fn lock_dir(dir: &Path) -> Option<std::fs::File> {
    let f = std::fs::File::open(dir).ok()?;
    rustix::fs::flock(&f, rustix::fs::FlockOperation::LockExclusive).ok()?;
    Some(f)
}

/// Puts the finished `staging` tree at `out`. With an existing `out` the two
/// directories are exchanged in one atomic `renameat2(RENAME_EXCHANGE)` where the
/// file system supports it, so a server never sees a missing or half-built tree;
/// elsewhere `out` is moved aside and `staging` renamed in its place. Afterwards
/// `staging` holds the previous output (to be deleted).
fn swap_into_place(staging: &Path, out: &Path) -> io::Result<()> {
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
fn replace_file(target: &Path, bytes: &[u8]) -> io::Result<()> {
    let old = std::fs::metadata(target).ok();
    crate::cli::write_atomically(target, bytes)?;
    #[cfg(unix)]
    if let Some(meta) = old {
        use std::os::unix::fs::MetadataExt;
        // Only root may give a file away; for anyone else the owner is already theirs.
        let _ = std::os::unix::fs::chown(target, Some(meta.uid()), Some(meta.gid()));
    }
    Ok(())
}

/// Writes into a staging directory.
struct DirSink {
    dir: PathBuf,
    made: Mutex<BTreeSet<PathBuf>>,
}

impl DirSink {
    fn new(dir: PathBuf) -> DirSink {
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
}

impl DirSink {
    /// `target` in the output as a hard link to `path` (or a copy with its times).
    fn link_or_copy(&self, baker: &Baker, path: &SitePath, target: &SitePath) -> io::Result<()> {
        let target = self.target(target)?;
        let Some(root) = &baker.disk_root else {
            return std::fs::write(&target, baker.fs.read(path)?);
        };
        // The real file (symlinks resolved, and refused if they leave the root).
        let source = crate::fs::DiskFs::new(root)?.confine(path)?;
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
struct MemorySink {
    files: Mutex<Vec<(String, Vec<u8>)>>,
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
struct CheckSink {
    out: PathBuf,
    seen: Mutex<BTreeSet<String>>,
    diffs: Mutex<Vec<Difference>>,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryFs;

    #[test]
    fn renames_the_extension_only() {
        let p = SitePath::from_relative(b"a.b/c.shtml").unwrap();
        assert_eq!(with_extension(&p, "html").display(), "a.b/c.html");
        let p = SitePath::from_relative(b"a.b/.hidden").unwrap();
        assert_eq!(with_extension(&p, "html").display(), "a.b/.hidden.html");
    }

    #[test]
    fn bakes_a_tree_in_memory() {
        let mut fs = MemoryFs::new();
        fs.insert(
            "index.shtml",
            "<!--#include virtual=\"/inc/nav.html\" -->|<!--#echo var=\"BUILD_ID\" -->",
            1,
        )
        .insert("inc/nav.html", "nav", 2)
        .insert("css/a.css", "body{}", 3);
        let baker = Baker::builder().file_system(fs).now(0).build().unwrap();
        let opts = BakeOptions::default().with_build_id(Some("abc"));
        let (files, report) = baker.bake_to_memory(&opts).unwrap();
        let names: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(names, ["css/a.css", "inc/nav.html", "index.html"]);
        assert_eq!(files[2].bytes, b"nav|abc");
        assert_eq!((report.pages, report.includes, report.copied), (1, 1, 2));
    }

    #[test]
    fn fingerprints_rev_into_memory_and_refuse_under_apache_only() {
        let mut fs = MemoryFs::new();
        fs.insert(
            "index.shtml",
            "<!--#fhash virtual=\"/css/a.css\" -->|<!--#config hashlen=\"4\" --><!--#frev file=\"css/a.css\" -->|<!--#frev virtual=\"LICENSE\" -->",
            1,
        )
        .insert("css/a.css", "body{}", 3)
        .insert("LICENSE", "MIT", 3);
        let baker = Baker::builder()
            .file_system(fs.clone())
            .now(0)
            .build()
            .unwrap();
        let (files, report) = baker.bake_to_memory(&BakeOptions::default()).unwrap();
        let names: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        // `printf "body{}" | sha256sum` = 7c98040a54..., `printf MIT | sha256sum` = e5dc...
        assert_eq!(
            names,
            [
                "LICENSE",
                "LICENSE.e5dc",
                "css/a.7c98.css",
                "css/a.css",
                "index.html"
            ],
        );
        assert_eq!(
            String::from_utf8_lossy(&files[4].bytes),
            "7c98040a54|css/a.7c98.css|LICENSE.e5dc"
        );
        assert_eq!(files[2].bytes, b"body{}");
        assert_eq!(report.stamped, 2);

        let strict = Baker::builder()
            .file_system(fs)
            .apache_only(true)
            .build()
            .unwrap();
        let Err(BakeError::Pages { failures, .. }) = strict.bake_to_memory(&BakeOptions::default())
        else {
            panic!("apache-only must refuse the extensions");
        };
        let codes: Vec<&str> = failures[0]
            .diagnostics()
            .iter()
            .map(|d| d.code.as_str())
            .collect();
        assert_eq!(
            codes,
            [
                "unknown-directive",
                "unknown-attribute",
                "unknown-directive",
                "unknown-directive"
            ]
        );
    }

    #[test]
    fn build_id_depends_on_content_only() {
        let make = |css: &str, mtime: i64| {
            let mut fs = MemoryFs::new();
            fs.insert("index.shtml", "<!--#echo var=\"BUILD_ID\" -->", mtime)
                .insert("a.css", css, mtime);
            let baker = Baker::builder().file_system(fs).now(mtime).build().unwrap();
            baker
                .bake_to_memory(&BakeOptions::default())
                .unwrap()
                .1
                .build_id
                .unwrap()
        };
        assert_eq!(make("x", 1), make("x", 99));
        assert_ne!(make("x", 1), make("y", 1));
    }
}
