//! Run: the plan carried out into a sink. Pages are rendered in parallel and
//! written as they finish; partials (templates some page includes) are taken back
//! out; every other file is copied; the build identity is a hash of what was
//! published, so the few pages that show it are rendered again once it is known.
//!
//! The build ID: every page is first rendered with a placeholder for `BUILD_ID`
//! and `BUILD_DATE`. The ID is the hash of every published output (path and bytes
//! of each page as rendered with the placeholder, each copied file, each revved
//! copy, each symlink, the client script), never of the version file, of defines
//! nobody reads or of what was excluded. So it changes exactly when the published
//! bytes do. The pages that read `BUILD_ID` or `BUILD_DATE` are not written in the
//! first pass; they are rendered again with the real values.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use rayon::prelude::*;

use super::incremental::Incremental;
use super::options::BakeOptions;
use super::plan::{output_path, settings_files, Item};
use super::record::{content_digest, Digest, PageDeps, Previous, SiteState};
use super::render::{Baked, Stamps};
use super::report::{io_err, write_err, BakeError, BakeReport};
use super::write::Sink;
use crate::engine::baker::Baker;
use crate::engine::diag::Diagnostic;
use crate::engine::errors::{Error, TemplateErrors};
use crate::engine::templates::Cache;
use crate::format::timefmt::rfc3339;
use crate::site::resolve::SitePath;

/// What `BUILD_ID` holds while the build ID is not known yet.
const PLACEHOLDER_ID: &[u8] = b"0000000000000000";
/// What `BUILD_DATE` holds while the build ID is not known yet.
const PLACEHOLDER_DATE: &[u8] = b"1970-01-01T00:00:00Z";

/// What a run produced besides the files in the sink.
pub(crate) struct Ran {
    pub(crate) report: BakeReport,
    pub(super) stamps: Stamps,
    pub(super) cache: Cache,
    /// Digests of the pages written with the build ID in them (published and
    /// as rendered with the placeholder), so that a later `--in-place` run, which
    /// finds them as plain files, hashes them as this run did.
    pub(super) with_id: Vec<WithId>,
    /// The build time in Unix seconds (with a build ID).
    pub(super) built_at_unix: Option<i64>,
    /// The site-wide part of the dependency record.
    pub(super) site_state: SiteState,
}

/// A page published with the build ID in it: its path, its digest as published
/// and as rendered with the placeholder.
type WithId = (SitePath, Digest, Digest);

/// One page after the first pass.
struct PageRun {
    input: SitePath,
    output: SitePath,
    /// Digest of the output as rendered with the placeholder.
    digest: Digest,
    /// Not written yet: it shows the build identity.
    deferred: bool,
    deps: PageDeps,
    failure: Option<Box<TemplateErrors>>,
    warnings: Option<TemplateErrors>,
    baked: Option<Baked>,
}

impl PageRun {
    /// A page that has template errors: nothing to write, its record marked failed.
    fn failed(
        input: &SitePath,
        output: &SitePath,
        deps: PageDeps,
        failure: Box<TemplateErrors>,
        warnings: Option<TemplateErrors>,
    ) -> PageRun {
        PageRun {
            input: input.clone(),
            output: output.clone(),
            digest: Digest::default(),
            deferred: false,
            deps: PageDeps {
                failed: true,
                ..deps
            },
            failure: Some(failure),
            warnings,
            baked: None,
        }
    }
}

impl Baker {
    /// Carries out `items` into `sink`. `previous` is what the output held before
    /// (its build ID and time), so that an unchanged site keeps both.
    pub(crate) fn run(
        &self,
        opts: &BakeOptions,
        items: &[Item],
        sink: &dyn Sink,
        previous: &Previous,
        old_out: Option<&std::path::Path>,
    ) -> Result<Ran, BakeError> {
        let start = Instant::now();
        let explicit = opts.build_id.clone();
        let first = self.first_pass(opts, previous);
        let cache = self.cache();
        let settings_files = settings_files(items);
        let fingerprint = self.fingerprint(opts);
        let htaccess: Vec<(String, Option<[u8; 16]>)> = settings_files
            .iter()
            .map(|p| (p.display(), cache.stamp(&*self.fs, p)))
            .collect();
        let incremental = old_out.filter(|_| !opts.full).and_then(|old| {
            let text = super::write::read_record(old)?;
            Incremental::load(old, &text, &fingerprint, &htaccess)
        });
        let reused = AtomicUsize::new(0);
        let io_failures = Mutex::new(Vec::new());
        let io_failed = |e: Error| {
            io_failures
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(e)
        };

        // First pass: every page, written unless it shows the build identity.
        let mut runs: Vec<PageRun> = items
            .par_iter()
            .filter_map(|item| {
                let Item::Page { input, output } = item else {
                    return None;
                };
                // Unchanged since the previous output: its bytes are taken over.
                if let Some(inc) = &incremental {
                    if let Some(old) = inc.page(input, output, &cache, &*self.fs) {
                        let from = inc.old_out.join(output.to_path());
                        if sink.reuse(output, &from).is_ok() {
                            reused.fetch_add(1, Ordering::Relaxed);
                            if let Some(p) = &opts.progress {
                                p();
                            }
                            return Some(reused_run(input, output, &old.deps));
                        }
                    }
                }
                let run =
                    first.page_run(&cache, input, output, &settings_files, explicit.is_none());
                if let Some(p) = &opts.progress {
                    p();
                }
                match run {
                    Ok(mut run) => {
                        if let Some(baked) = run.baked.as_ref().filter(|_| !run.deferred) {
                            let written = sink.page(output, &baked.bytes).and_then(|()| {
                                if opts.stable_mtimes {
                                    sink.set_mtime(output, baked.newest)
                                } else {
                                    Ok(())
                                }
                            });
                            if let Err(e) = written {
                                io_failed(write_err(&output.to_path(), e));
                            }
                            if let Some(b) = run.baked.as_mut() {
                                // Written: only what the record needs is kept.
                                b.bytes = Vec::new();
                            }
                        } else if let Some(b) = run.baked.as_mut() {
                            b.bytes = Vec::new();
                        }
                        Some(run)
                    }
                    Err(e) => {
                        io_failed(e);
                        None
                    }
                }
            })
            .collect();
        runs.sort_by(|a, b| a.input.cmp(&b.input));

        // Partials: templates some page includes. Neither baked on their own nor
        // copied, unless asked for; their errors are reported through the pages
        // that include them.
        let included: HashSet<&SitePath> =
            runs.iter().flat_map(|r| r.deps.includes.iter()).collect();
        let partial: Vec<bool> = runs
            .iter()
            .map(|r| !opts.publish_partials && included.contains(&r.input))
            .collect();
        for (run, &is_partial) in runs.iter().zip(&partial) {
            if is_partial && run.baked.is_some() && !run.deferred {
                if let Err(e) = sink.remove(&run.output) {
                    io_failed(write_err(&run.output.to_path(), e));
                }
            }
        }
        drop(included);

        let mut report = BakeReport::default();
        let mut failures = Vec::new();
        let mut warnings = Vec::new();
        let mut stamps = Stamps::default();
        for (run, &is_partial) in runs.iter_mut().zip(&partial) {
            run.deps.partial = is_partial;
            if is_partial {
                report.partials += 1;
                continue;
            }
            if let Some(f) = run.failure.take() {
                failures.push(f);
            }
            if let Some(w) = run.warnings.take() {
                warnings.push(w);
            }
            if let Some(baked) = &run.baked {
                report.pages += 1;
                report.includes += baked.includes;
                stamps.add(baked);
            }
        }
        report.stamped = stamps.stamped.len();
        report.warnings = share_out(warnings);
        report.deps = runs
            .iter_mut()
            .map(|r| std::mem::take(&mut r.deps))
            .collect();
        if !failures.is_empty() {
            let failures = share_out(failures.into_iter().map(|b| *b).collect())
                .into_iter()
                .map(Box::new)
                .collect();
            report.elapsed = start.elapsed();
            return Err(BakeError::Pages {
                failures,
                report: Box::new(report),
            });
        }
        if let Some(e) = io_failures.lock().unwrap_or_else(|p| p.into_inner()).pop() {
            return Err(BakeError::Other(e));
        }
        if opts.deny_warnings && !report.warnings.is_empty() {
            report.elapsed = start.elapsed();
            return Err(BakeError::Warnings {
                report: Box::new(report),
            });
        }

        // A revved copy must not land on another output (unless that is already a
        // copy of the same bytes: a revved file checked in).
        let outputs: HashMap<&SitePath, &Item> = items
            .iter()
            .map(|i| match i {
                Item::Page { output, .. } => (output, i),
                Item::Asset(p) | Item::Link { path: p, .. } => (p, i),
            })
            .collect();
        let mut clashes = Vec::new();
        for (file, revved) in stamps.revved_pairs() {
            let Some(item) = outputs.get(&revved) else {
                continue;
            };
            let same = matches!(item, Item::Asset(_))
                && cache.digest(&*self.fs, &revved).ok() == cache.digest(&*self.fs, &file).ok();
            if !same {
                let other = match item {
                    Item::Page { input, .. } => format!("`{}` (baked)", input.display()),
                    Item::Asset(p) => format!("`{}` (copied)", p.display()),
                    Item::Link { path, .. } => format!("`{}` (a symlink)", path.display()),
                };
                clashes.push(format!(
                    "`{}` would come from both `{}` (revved by #frev) and {other}",
                    revved.display(),
                    file.display()
                ));
            }
        }
        if !clashes.is_empty() {
            return Err(BakeError::Usage(format!(
                "{} output file{} would have two sources:\n  {}\nrename or remove the site file, or change `hashlen`",
                clashes.len(),
                if clashes.len() == 1 { "" } else { "s" },
                clashes.join("\n  ")
            )));
        }

        // Every other file, hashed while copied when the build ID is needed.
        let deferred = runs.iter().zip(&partial).any(|(r, &p)| r.deferred && !p);
        let want_id = explicit.is_none() && (deferred || opts.version_file.is_some());
        let copied = AtomicUsize::new(0);
        type Published<'i> = (&'i SitePath, Option<Digest>, Option<[u8; 16]>);
        let published: Vec<Published<'_>> = items
            .par_iter()
            .filter_map(|item| {
                let (path, result) = match item {
                    Item::Asset(path) => {
                        copied.fetch_add(1, Ordering::Relaxed);
                        // Unchanged since the previous output: linked from there.
                        if let Some(inc) = &incremental {
                            if let Some(d) = inc.asset(path, &cache, &*self.fs) {
                                let from = inc.old_out.join(path.to_path());
                                if !(want_id && d.is_none()) && sink.reuse(path, &from).is_ok() {
                                    reused.fetch_add(1, Ordering::Relaxed);
                                    return Some((path, d, cache.stamp(&*self.fs, path)));
                                }
                            }
                        }
                        (
                            path,
                            sink.asset(self, &cache, path, want_id, opts.stable_mtimes),
                        )
                    }
                    Item::Link { path, target } => {
                        let d = sink.link(path, target).map(|()| {
                            let d = content_digest(target.as_os_str().as_encoded_bytes());
                            (want_id.then_some(d), None)
                        });
                        (path, d)
                    }
                    Item::Page { .. } => return None,
                };
                match result {
                    Ok((d, stamp)) => Some((path, d, stamp)),
                    Err(e) => {
                        io_failed(io_err(&self.root.join(path.to_path()), e));
                        None
                    }
                }
            })
            .collect();
        report.copied = copied.into_inner();
        let mut digests: Vec<(Vec<u8>, Digest)> = published
            .iter()
            .filter_map(|(p, d, _)| d.map(|d| (p.as_bytes().to_vec(), d)))
            .collect();
        let mut site_state = SiteState {
            fingerprint,
            htaccess,
            assets: published
                .iter()
                .filter(|(p, _, _)| matches!(outputs.get(p), Some(Item::Asset(_))))
                .filter_map(|(p, d, s)| Some(((*p).clone(), (*s)?, *d)))
                .collect(),
        };
        site_state.assets.sort_by(|a, b| a.0.cmp(&b.0));
        drop(published);
        let revved: Vec<(Vec<u8>, Digest)> = stamps
            .revved_pairs()
            .par_iter()
            .filter_map(|(file, revved)| {
                let mtime = opts
                    .stable_mtimes
                    .then(|| cache.metadata(&*self.fs, file).ok().map(|m| m.mtime))
                    .flatten();
                if let Err(e) = sink.revved(self, file, revved, mtime) {
                    io_failed(write_err(&revved.to_path(), e));
                    return None;
                }
                // The SHA-256 `frev` computed anyway, cut to the identity's width.
                let sha = want_id
                    .then(|| cache.digest(&*self.fs, file).ok())
                    .flatten()?;
                let mut digest = Digest::default();
                digest.copy_from_slice(&sha[..std::mem::size_of::<Digest>()]);
                Some((revved.as_bytes().to_vec(), digest))
            })
            .collect();
        if let Some(e) = io_failures.lock().unwrap_or_else(|p| p.into_inner()).pop() {
            return Err(BakeError::Other(e));
        }

        // The identity, then the pages that show it.
        let mut with_id = Vec::new();
        let mut built_at_unix = None;
        let build_id = match explicit {
            Some(id) => Some(id),
            None if want_id => {
                digests.extend(revved);
                for (run, &is_partial) in runs.iter().zip(&partial) {
                    if !is_partial {
                        digests.push((run.output.as_bytes().to_vec(), run.digest));
                    }
                }
                if let Some(client) = &opts.emit_client {
                    let path = output_path(client).map_err(BakeError::Other)?;
                    let script = super::publish::client_script(client);
                    digests.push((path.as_bytes().to_vec(), content_digest(script.as_bytes())));
                }
                // A file published earlier with the ID in it (an `--in-place` page
                // now plain) counts as it was rendered then, with the placeholder.
                let mut carried = Vec::new();
                for (path, d) in digests.iter_mut() {
                    let name = String::from_utf8_lossy(path).into_owned();
                    if let Some((published, placeholder)) = previous.with_id.get(&name) {
                        if d == published {
                            if let Ok(p) = SitePath::from_relative(path) {
                                carried.push((p, *published, *placeholder));
                            }
                            *d = *placeholder;
                        }
                    }
                }
                let id = identity(digests);
                let at = self.built_at(Some(&runs), previous, &id);
                let second = self.with_build(id.as_bytes(), at.0.as_bytes());
                let again: Vec<_> = runs
                    .iter()
                    .zip(&partial)
                    .filter(|(r, &p)| r.deferred && !p)
                    .map(|(r, _)| r)
                    .collect();
                let written: Vec<Result<WithId, Error>> = again
                    .par_iter()
                    .map(|run| {
                        let baked = second.bake_page(&cache, &run.input)?;
                        sink.page(&run.output, &baked.bytes)
                            .and_then(|()| {
                                if opts.stable_mtimes {
                                    sink.set_mtime(&run.output, baked.newest)
                                } else {
                                    Ok(())
                                }
                            })
                            .map_err(|e| write_err(&run.output.to_path(), e))?;
                        Ok((run.output.clone(), content_digest(&baked.bytes), run.digest))
                    })
                    .collect();
                for w in written {
                    match w {
                        Ok(w) => with_id.push(w),
                        Err(Error::Template(t)) => {
                            return Err(BakeError::Pages {
                                failures: vec![t],
                                report: Box::new(report),
                            })
                        }
                        Err(e) => return Err(BakeError::Other(e)),
                    }
                }
                for c in carried {
                    if !with_id.iter().any(|(p, _, _)| *p == c.0) {
                        with_id.push(c);
                    }
                }
                report.built_at = Some(at.0);
                built_at_unix = Some(at.1);
                Some(id)
            }
            None => None,
        };
        if report.built_at.is_none() {
            if let Some(id) = &build_id {
                let at = self.built_at(Some(&runs), previous, id);
                report.built_at = Some(at.0);
                built_at_unix = Some(at.1);
            }
        }
        report.build_id = build_id;
        report.reused = reused.into_inner();
        report.elapsed = start.elapsed();
        Ok(Ran {
            report,
            stamps,
            cache,
            with_id,
            built_at_unix,
            site_state,
        })
    }

    /// The baker of the first pass: the explicit build ID (`--build-id`) and its
    /// time, or the placeholders until the ID is known.
    pub(crate) fn first_pass(&self, opts: &BakeOptions, previous: &Previous) -> Baker {
        match &opts.build_id {
            Some(id) => self.with_build(
                id.as_bytes(),
                self.built_at(None, previous, id).0.as_bytes(),
            ),
            None => self.with_build(PLACEHOLDER_ID, PLACEHOLDER_DATE),
        }
    }

    /// Renders one page for the first pass.
    fn page_run(
        &self,
        cache: &Cache,
        input: &SitePath,
        output: &SitePath,
        settings_files: &[SitePath],
        defer: bool,
    ) -> Result<PageRun, Error> {
        let outcome = match self.page_outcome(cache, input) {
            Ok(o) => o,
            // The page itself cannot be used (no git time under --strict-git).
            Err(Error::Template(t)) => {
                let deps = PageDeps {
                    page: input.display(),
                    output: output.display(),
                    ..PageDeps::default()
                };
                return Ok(PageRun::failed(input, output, deps, t, None));
            }
            Err(e) => return Err(e),
        };
        let mut deps = PageDeps::new(input, output, &outcome, settings_files, cache, &*self.fs);
        let deferred = defer && outcome.read_watched;
        let warnings = (!outcome.warnings.is_empty())
            .then(|| self.errors_of(input, outcome.warnings.clone(), 0, outcome.sources.clone()));
        if !outcome.diagnostics.is_empty() {
            let failure = self.errors_of(
                input,
                outcome.diagnostics,
                outcome.more_diagnostics,
                outcome.sources,
            );
            return Ok(PageRun::failed(
                input,
                output,
                deps,
                Box::new(failure),
                warnings,
            ));
        }
        let baked = Baked::from_outcome(outcome, cache, &*self.fs, input);
        let digest = content_digest(&baked.bytes);
        deps.state.digest = digest;
        deps.state.newest = baked.newest;
        Ok(PageRun {
            input: input.clone(),
            output: output.clone(),
            digest,
            deferred,
            deps,
            failure: None,
            warnings,
            baked: Some(baked),
        })
    }

    /// Everything besides the files that changes what a bake publishes: ssibake's
    /// version, the engine's settings (but the clock: pages that show it are always
    /// rendered), the server's configuration and the options.
    fn fingerprint(&self, opts: &BakeOptions) -> String {
        let s = &self.settings;
        let mut defines = s.defines.clone();
        defines.sort();
        format!(
            "ssibake {} | {:?} | {:?} {} {} {} | {:?} | {:?} | {:?} | {} | {:?} {:?} {:?} {:?} {} {}",
            env!("CARGO_PKG_VERSION"),
            defines,
            s.on_error,
            s.legacy_expr,
            s.apache_only,
            s.apache_version,
            s.zone,
            s.server,
            self.versions.from(),
            s.config.fingerprint(),
            opts.pages,
            opts.exclude,
            opts.page_ext,
            opts.build_id,
            opts.publish_partials,
            opts.stable_mtimes,
        )
    }

    /// When this build was made: the time an earlier bake with the same ID gave
    /// (an unchanged site keeps it), else `SOURCE_DATE_EPOCH` or, with version
    /// times from git or the epoch, the newest version time among the pages'
    /// inputs (the same on every server built from one commit), else now.
    fn built_at(&self, runs: Option<&[PageRun]>, previous: &Previous, id: &str) -> (String, i64) {
        if let Some(at) = previous.built_at(id) {
            return at;
        }
        let newest = runs
            .filter(|_| self.versions.from().is_reproducible())
            .and_then(|runs| {
                runs.iter()
                    .filter_map(|r| r.baked.as_ref().map(|b| b.newest))
                    .max()
            });
        let t = match (self.source_date_epoch, newest) {
            (Some(t), _) => t,
            (None, Some(t)) => t,
            (None, None) => self.settings.now,
        };
        (rfc3339(t), t)
    }
}

/// A page of the previous output taken over as it is.
fn reused_run(input: &SitePath, output: &SitePath, deps: &PageDeps) -> PageRun {
    let st = &deps.state;
    PageRun {
        input: input.clone(),
        output: output.clone(),
        digest: st.digest,
        deferred: false,
        deps: deps.clone(),
        failure: None,
        warnings: None,
        baked: Some(Baked {
            bytes: Vec::new(),
            includes: st.includes,
            stamped: deps.stamped.clone(),
            revved: st.revved.clone(),
            newest: st.newest,
        }),
    }
}

/// The build ID: a hash of every published path and its content's digest.
fn identity(mut digests: Vec<(Vec<u8>, Digest)>) -> String {
    digests.sort_unstable();
    let mut h = hmac_sha256::Hash::new();
    h.update(b"ssibake build id v2\0");
    for (path, digest) in &digests {
        h.update(path);
        h.update([0]);
        h.update(digest);
    }
    let digest = h.finalize();
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// Reports a diagnostic met in several pages (an error in a shared partial) once:
/// in the first page (by path) that has it, with the number of pages; the others
/// lose it. `all` is sorted by page.
fn share_out(mut all: Vec<TemplateErrors>) -> Vec<TemplateErrors> {
    type Key = (SitePath, usize, usize, &'static str, String);
    let key = |d: &Diagnostic| -> Key {
        (
            d.location.file.clone(),
            d.location.span.start,
            d.location.span.end,
            d.code.as_str(),
            d.message.clone(),
        )
    };
    all.sort_by(|a, b| a.page.cmp(&b.page));
    // Where each shared diagnostic is first met, and in how many pages.
    let mut first: HashMap<Key, (usize, usize, usize)> = HashMap::new();
    for (p, errors) in all.iter().enumerate() {
        let mut here = BTreeSet::new();
        for (i, d) in errors.diagnostics.iter().enumerate() {
            if d.location.file.display() == errors.page {
                continue;
            }
            let k = key(d);
            if !here.insert(k.clone()) {
                continue;
            }
            first.entry(k).or_insert((p, i, 0)).2 += 1;
        }
    }
    for (p, errors) in all.iter_mut().enumerate() {
        let page = errors.page.clone();
        let mut kept = Vec::with_capacity(errors.diagnostics.len());
        let mut shared = Vec::new();
        for (i, d) in std::mem::take(&mut errors.diagnostics)
            .into_iter()
            .enumerate()
        {
            if d.location.file.display() == page {
                kept.push(d);
                continue;
            }
            match first.get(&key(&d)) {
                Some(&(fp, fi, n)) if fp == p && fi == i => {
                    if n > 1 {
                        shared.push((kept.len(), n));
                    }
                    kept.push(d);
                }
                Some(_) => {}
                None => kept.push(d),
            }
        }
        errors.diagnostics = kept;
        errors.shared = shared;
    }
    all.retain(|e| !e.diagnostics.is_empty() || e.more > 0);
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_ignores_order_and_sees_every_byte() {
        let a = (b"a.html".to_vec(), [1; 16]);
        let b = (b"b.css".to_vec(), [2; 16]);
        assert_eq!(
            identity(vec![a.clone(), b.clone()]),
            identity(vec![b.clone(), a.clone()])
        );
        assert_ne!(identity(vec![a.clone()]), identity(vec![a.clone(), b]));
        assert_ne!(
            identity(vec![a]),
            identity(vec![(b"a.html".to_vec(), [3; 16])])
        );
    }
}
