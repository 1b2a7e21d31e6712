//! Bake: the tree run. Every file under the root is planned (page or asset), the
//! pages rendered in parallel by the engine, and everything written into a
//! staging directory that is swapped in only when every page succeeded; plus
//! in-place rewriting and the golden check that compares instead of writing.
//!
//! In: a [`Baker`] (the engine with its site) and [`BakeOptions`]. Out: an output
//! tree on disk, files in memory, or a list of [`Difference`]s, and a
//! [`BakeReport`].
//!
//! Stages, in order: [`plan`] (which input becomes which output), [`render`] (pages
//! through the engine), [`publish`] (build identity, version file, client,
//! manifest), [`write`](mod@write) (sinks, staging, swap, lock: the only code that touches the
//! output).

pub mod client;
mod options;
mod plan;
mod publish;
mod render;
mod report;
mod write;

use std::collections::BTreeSet;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use rayon::prelude::*;

pub use options::BakeOptions;
pub use report::{BakeError, BakeReport, BakedFile, Difference};
#[cfg(feature = "cli")]
pub(crate) use write::{unified_diff, write_atomically};

use crate::engine::baker::Baker;
use crate::engine::errors::Error;
use crate::engine::templates::Cache;
use crate::site::resolve::SitePath;
use plan::{check_collisions, Item};
use render::Baked;
use render::Stamps;
use report::io_err;
use write::{
    absolute, create_dirs, foreign_output, lock_dir, remove_leftovers, replace_file, set_mtime,
    staging_dir, swap_into_place, write_marker, write_revved_in_place, CheckSink, DirSink,
    MemorySink, Sink,
};

impl Baker {
    /// How many pages a bake with `opts` would render.
    pub fn count_pages(&self, opts: &BakeOptions) -> Result<usize, BakeError> {
        Ok(self
            .plan(opts, &[])?
            .iter()
            .filter(|i| matches!(i, Item::Page { .. }))
            .count())
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
                Item::Asset(_) | Item::Link { .. } => None,
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
                Item::Link { path, target } => {
                    if let Err(e) = sink.link(path, target) {
                        io_failures
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push(io_err(&path.to_path(), e));
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
        if !opts.force {
            if let Some(why) = foreign_output(&out_abs) {
                return Err(BakeError::Usage(format!(
                    "{why}; choose another --out, empty it, or pass --force"
                )));
            }
        }
        let parent = out_abs.parent().unwrap_or(Path::new("/")).to_path_buf();
        create_dirs(&parent).map_err(|e| BakeError::Other(io_err(&parent, e)))?;
        let lock = lock_dir(&parent);
        if lock.is_some() {
            remove_leftovers(&parent);
        }
        let skip: Vec<SitePath> = self.inside_root(out).into_iter().collect();
        let items = self.plan(opts, &skip)?;
        check_collisions(&items, opts)?;
        let staging = staging_dir(&parent).map_err(|e| BakeError::Other(io_err(&parent, e)))?;
        let sink = DirSink::new(staging.path().to_path_buf());
        let (report, stamps, cache) = self.run(opts, &items, &sink)?;
        self.write_extras(opts, &report, |path, bytes| sink.page(path, bytes))
            .map_err(BakeError::Other)?;
        write_marker(staging.path()).map_err(|e| BakeError::Other(io_err(staging.path(), e)))?;
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
        check_collisions(&items, opts)?;
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
        check_collisions(&items, opts)?;
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
        if let Ok(existing) = crate::site::fs::DiskFs::new(out)
            .and_then(|d| crate::site::fs::FileSystem::list(&d, &[]))
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
                set_mtime(&target, *newest).map_err(|e| BakeError::Other(io_err(&target, e)))?;
            }
        }
        self.write_extras(opts, &report, |path, bytes| {
            let target = root.join(path.to_path());
            if let Some(dir) = target.parent() {
                create_dirs(dir)?;
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

#[cfg(test)]
mod tests {
    use super::plan::with_extension;
    use super::*;
    use crate::site::fs::MemoryFs;

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
