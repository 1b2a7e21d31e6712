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
mod incremental;
mod options;
pub(crate) mod plan;
pub(crate) mod publish;
pub(crate) mod record;
pub(crate) mod render;
mod report;
pub(crate) mod run;
pub(crate) mod write;

use std::collections::BTreeSet;
use std::io;
use std::path::Path;
use std::sync::Mutex;

pub use options::BakeOptions;
pub use record::PageDeps;
pub use report::{BakeError, BakeReport, BakedFile, Difference};
#[cfg(feature = "cli")]
pub(crate) use write::{unified_diff, write_atomically};

use crate::engine::baker::Baker;
use crate::engine::errors::Error;
use crate::site::resolve::SitePath;
use plan::{check_collisions, Item};
use record::Previous;
use report::{io_err, write_err};
use run::Ran;
use write::{
    absolute, finish_in_place, foreign_output, keep_revved, lock_dir, prune_revved_in_place,
    read_previous, remove_dead_temporaries, remove_leftovers, removed_files, replace_all,
    staging_dir, swap_into_place, sync_dir, sync_tree, write_if_changed, write_marker,
    write_revved_in_place, CheckSink, DirSink, InPlaceSink, MemorySink, Sink,
};

/// Removes what an interrupted bake into `out` left beside it (its staging tree
/// and temporaries, `.ssibake-*` in `out`'s parent). Only for a process that holds
/// the output's lock, i.e. while its own bake runs: the command line calls it from
/// its SIGINT/SIGTERM handler just before exiting.
#[cfg(feature = "cli")]
pub(crate) fn clean_up_interrupted(out: &Path) -> usize {
    match absolute(out)
        .ok()
        .and_then(|o| o.parent().map(Path::to_path_buf))
    {
        Some(parent) => write::interrupt_and_clean(&parent),
        None => 0,
    }
}

/// Removes the `.ssibake-` temporaries of an interrupted `--in-place` run (or
/// single-file write) beside their targets, after letting an in-place
/// transaction's renames end if they began. The command line calls it from its
/// SIGINT/SIGTERM handler just before exiting.
#[cfg(feature = "cli")]
pub(crate) fn clean_up_in_place() -> usize {
    write::interrupt_in_place()
}

impl Baker {
    /// How many pages a bake with `opts` would render.
    pub fn count_pages(&self, opts: &BakeOptions) -> Result<usize, BakeError> {
        Ok(self
            .plan(opts, &[])?
            .iter()
            .filter(|i| matches!(i, Item::Page { .. }))
            .count())
    }

    /// The output directory as a root-relative path when it lies inside the root.
    pub(crate) fn inside_root(&self, out: &Path) -> Option<SitePath> {
        let root = self.disk_root.as_ref()?;
        let out = absolute(out).ok()?;
        let rel = out.strip_prefix(root).ok()?;
        SitePath::from_relative(rel.as_os_str().as_encoded_bytes()).ok()
    }

    /// Bakes the tree into `out`: every page rendered, every other file copied
    /// (with its times), the version file and client last, the revved files of
    /// the last builds kept. Built in a staging directory beside `out` and swapped
    /// in only when everything succeeded; on any error `out` is left exactly as it
    /// was.
    pub fn bake(&self, out: impl AsRef<Path>, opts: &BakeOptions) -> Result<BakeReport, BakeError> {
        let out = out.as_ref();
        let out_abs = absolute(out).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                BakeError::Usage(format!(
                    "the directory that would hold the output `{}` does not exist: create it \
                     first (a bake creates only the output directory itself)",
                    out.display()
                ))
            } else {
                BakeError::Other(io_err(out, e))
            }
        })?;
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
        let lock = lock_dir(&parent);
        if lock.is_some() {
            remove_leftovers(&parent);
        }
        let skip: Vec<SitePath> = self.inside_root(out).into_iter().collect();
        let items = self.plan(opts, &skip)?;
        check_collisions(&items, opts)?;
        let previous = read_previous(&out_abs.join(record::BUILDS));
        let staging = staging_dir(&parent).map_err(|e| BakeError::Other(write_err(&parent, e)))?;
        let sink = DirSink::new(staging.path().to_path_buf());
        let mut ran = self.run(opts, &items, &sink, &previous, Some(&out_abs))?;
        let this = this_build(&ran);
        let (kept_builds, _) = previous.split(&this, opts.keep_builds);
        let kept = keep_revved(&kept_builds, &out_abs, staging.path())
            .map_err(|e| BakeError::Other(write_err(staging.path(), e)))?;
        self.write_extras(opts, &ran.report, |path, bytes| {
            sink.page(path, bytes)?;
            match ran.built_at_unix.filter(|_| opts.stable_mtimes) {
                // The version file and the client carry the build's time.
                Some(t) => sink.set_mtime(path, t),
                None => Ok(()),
            }
        })
        .map_err(BakeError::Other)?;
        self.write_record(opts, &ran, &previous, |path, fill| {
            sink.file_from(path, fill)
        })
        .map_err(BakeError::Other)?;
        ran.report.removed = removed_files(&out_abs, staging.path(), &kept, &previous);
        if opts.deny_warnings && ran.report.warning_count() > 0 {
            return Err(BakeError::Warnings {
                report: Box::new(ran.report),
            });
        }
        write_marker(staging.path()).map_err(|e| BakeError::Other(write_err(staging.path(), e)))?;
        if opts.fsync {
            // A power loss after the swap must not leave a tree of empty files.
            sync_tree(staging.path())
                .map_err(|e| BakeError::Other(write_err(staging.path(), e)))?;
        }
        swap_into_place(staging.path(), &out_abs)
            .map_err(|e| BakeError::Other(write_err(out, e)))?;
        if opts.fsync {
            sync_dir(&parent).map_err(|e| BakeError::Other(write_err(&parent, e)))?;
        }
        // The staging directory now holds the old output (or nothing).
        drop(staging);
        self.write_manifest(
            opts,
            &ran.cache,
            &ran.stamps,
            ran.report.build_id.as_deref(),
        )
        .map_err(BakeError::Other)?;
        Ok(ran.report)
    }

    /// Bakes the tree in memory: output path to bytes (pages, copies and extras).
    pub fn bake_to_memory(
        &self,
        opts: &BakeOptions,
    ) -> Result<(Vec<BakedFile>, BakeReport), BakeError> {
        let items = self.plan(opts, &[])?;
        check_collisions(&items, opts)?;
        let sink = MemorySink::default();
        let ran = self.run(opts, &items, &sink, &Previous::default(), None)?;
        self.write_extras(opts, &ran.report, |path, bytes| sink.page(path, bytes))
            .map_err(BakeError::Other)?;
        let mut files = sink.files.into_inner().unwrap_or_else(|p| p.into_inner());
        files.sort();
        let files = files
            .into_iter()
            .map(|(path, bytes)| BakedFile { path, bytes })
            .collect();
        Ok((files, ran.report))
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
        let previous = read_previous(&out.join(record::BUILDS));
        let sink = CheckSink {
            out: out.to_path_buf(),
            version_file: opts
                .version_file
                .as_deref()
                .and_then(|v| plan::output_path(v).ok())
                .map(|p| p.display()),
            seen: Mutex::new(BTreeSet::new()),
            diffs: Mutex::new(Vec::new()),
        };
        let ran = self.run(opts, &items, &sink, &previous, None)?;
        self.write_extras(opts, &ran.report, |path, bytes| sink.page(path, bytes))
            .map_err(BakeError::Other)?;
        let mut diffs = sink.diffs.into_inner().unwrap_or_else(|p| p.into_inner());
        let seen = sink.seen.into_inner().unwrap_or_else(|p| p.into_inner());
        let kept: BTreeSet<String> = previous
            .split(&this_build(&ran), opts.keep_builds)
            .0
            .iter()
            .flat_map(|b| b.revved.iter().cloned())
            .collect();
        if let Ok(existing) = crate::site::fs::DiskFs::new(out)
            .and_then(|d| crate::site::fs::FileSystem::list(&d, &[]))
        {
            for p in existing {
                let name = p.display();
                if !seen.contains(&name) && !kept.contains(&name) {
                    diffs.push(Difference {
                        path: name,
                        diff: "only in the existing output (the bake would remove it)".into(),
                    });
                }
            }
        }
        diffs.sort_by(|a, b| a.path.cmp(&b.path));
        Ok((diffs, ran.report))
    }

    /// Rewrites each page in place: rendered from the originals, then written
    /// atomically (temporary file in the same directory, fsync, rename; mode and
    /// owner kept). Nothing is written unless every page succeeded; a page whose
    /// output equals its bytes (no directives) is not touched at all.
    pub fn bake_in_place(
        &self,
        pages: &[String],
        opts: &BakeOptions,
    ) -> Result<BakeReport, BakeError> {
        let paths: Vec<SitePath> = pages
            .iter()
            .map(|p| {
                SitePath::from_relative(p.as_bytes())
                    .map_err(|_| BakeError::Other(Error::OutsideRoot(p.clone())))
            })
            .collect::<Result<_, _>>()?;
        let Some(root) = self.disk_root.clone() else {
            return Err(BakeError::Usage(
                "in-place baking needs a root on disk".into(),
            ));
        };
        // The listed pages are rendered; every other file of the site counts
        // towards the build ID as it is (but the extras this run writes).
        let listed: BTreeSet<&SitePath> = paths.iter().collect();
        let extras: Vec<SitePath> = [&opts.version_file, &opts.emit_client]
            .into_iter()
            .flatten()
            .filter_map(|p| plan::output_path(p).ok())
            .collect();
        let mut items: Vec<Item> = paths
            .iter()
            .map(|p| Item::Page {
                input: p.clone(),
                output: p.clone(),
            })
            .collect();
        for item in self.plan(opts, &[])? {
            let path = match &item {
                Item::Page { input, .. } => input.clone(),
                Item::Asset(p) => p.clone(),
                Item::Link { path, .. } => path.clone(),
            };
            if listed.contains(&path) || extras.contains(&path) {
                continue;
            }
            items.push(match item {
                Item::Page { input, .. } => Item::Asset(input),
                other => other,
            });
        }
        // Runs in place on one root take turns (an advisory lock on the root, as
        // a tree bake locks its output's parent); a run killed during its renames
        // is finished first, then what killed runs left beside the pages removed.
        let _lock = lock_dir(&root);
        finish_in_place(&root).map_err(|e| BakeError::Other(write_err(&root, e)))?;
        let dirs: BTreeSet<std::path::PathBuf> = paths
            .iter()
            .filter_map(|p| root.join(p.to_path()).parent().map(Path::to_path_buf))
            .chain([root.join(".ssibake")])
            .collect();
        for dir in &dirs {
            remove_dead_temporaries(dir);
        }
        let previous = read_previous(&root.join(record::BUILDS));
        let sink = InPlaceSink::default();
        let opts_all = opts.clone().with_publish_partials(true);
        let mut ran = self.run(&opts_all, &items, &sink, &previous, None)?;
        let written = sink.pages.into_inner().unwrap_or_else(|p| p.into_inner());
        // Revved copies first, so no page ever names a missing file.
        for (file, revved) in ran.stamps.revved_pairs() {
            let target = root.join(revved.to_path());
            let mtime = opts
                .stable_mtimes
                .then(|| ran.cache.metadata(&*self.fs, &file).ok().map(|m| m.mtime))
                .flatten();
            write_revved_in_place(self, &file, &target, mtime)
                .map_err(|e| BakeError::Other(write_err(&target, e)))?;
        }
        // One transaction: every file written and synced, then every rename.
        let files: Vec<(std::path::PathBuf, &[u8], Option<i64>)> = written
            .iter()
            .map(|(path, bytes, mtime)| (root.join(path.to_path()), &bytes[..], *mtime))
            .collect();
        let rewritten = replace_all(&root, &files, opts.fsync)
            .map_err(|e| BakeError::Other(write_err(&root, e)))?;
        ran.report.unchanged = ran.report.pages.saturating_sub(rewritten);
        ran.report.pages = rewritten;
        ran.report.copied = 0;
        self.write_extras(opts, &ran.report, |path, bytes| {
            write_if_changed(&root.join(path.to_path()), bytes)
        })
        .map_err(BakeError::Other)?;
        self.write_record(opts, &ran, &previous, |path, fill| {
            let mut bytes = Vec::new();
            fill(&mut bytes)?;
            write_if_changed(&root.join(path.to_path()), &bytes)
        })
        .map_err(BakeError::Other)?;
        let this = this_build(&ran);
        let (kept_builds, dropped) = previous.split(&this, opts.keep_builds);
        prune_revved_in_place(self, &root, &this, &kept_builds, &dropped);
        self.write_manifest(
            opts,
            &ran.cache,
            &ran.stamps,
            ran.report.build_id.as_deref(),
        )
        .map_err(BakeError::Other)?;
        Ok(ran.report)
    }

    /// The record under `.ssibake/`: the dependency record and the build history.
    /// `write(path, fill)` creates the file `path` and has `fill` write its bytes (the
    /// dependency record of a large site is tens of megabytes, streamed as it is made).
    fn write_record(
        &self,
        opts: &BakeOptions,
        ran: &Ran,
        previous: &Previous,
        mut write: impl FnMut(
            &SitePath,
            &mut dyn FnMut(&mut dyn io::Write) -> io::Result<()>,
        ) -> io::Result<()>,
    ) -> Result<(), Error> {
        let deps = SitePath::from_relative(record::DEPS.as_bytes()).expect("a relative path");
        write(&deps, &mut |w| record::write_deps_json(&ran.report.deps, w))
            .map_err(|e| write_err(&deps.to_path(), e))?;
        let state = SitePath::from_relative(record::STATE.as_bytes()).expect("a relative path");
        write(&state, &mut |w| {
            record::write_state(&ran.report.deps, &ran.site_state, w)
        })
        .map_err(|e| write_err(&state.to_path(), e))?;
        let this = this_build(ran);
        let builds = SitePath::from_relative(record::BUILDS.as_bytes()).expect("a relative path");
        let text = record::builds_json(&this, previous, opts.keep_builds, &ran.with_id);
        write(&builds, &mut |w| w.write_all(text.as_bytes()))
            .map_err(|e| write_err(&builds.to_path(), e))
    }
}

/// This build as the history remembers it. Without a build ID (no page shows it,
/// no version file) the history still says which revved files it published.
fn this_build(ran: &Ran) -> record::Build {
    record::Build {
        id: ran.report.build_id.clone().unwrap_or_default(),
        built_at: ran.report.built_at.clone().unwrap_or_default(),
        unix: ran.built_at_unix.unwrap_or_default(),
        revved: ran
            .stamps
            .revved_pairs()
            .iter()
            .map(|(_, r)| r.display())
            .collect(),
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
