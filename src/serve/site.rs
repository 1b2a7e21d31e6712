//! The site as `--out` would publish it, held in memory: the bake's own plan
//! (which file becomes which output, partials, revved copies, the version file and
//! the client), every page rendered by the bake's first pass with the dependency
//! record the bake keeps, and the build identity computed by the bake's own run
//! when a page shows it. A change rebuilds the snapshot, rendering again only the
//! pages whose record names a changed path.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, OnceLock};

use rayon::prelude::*;

use super::Loaded;
use crate::bake::plan::{check_collisions, output_path, settings_files, Item};
use crate::bake::publish::{client_script, version_json};
use crate::bake::record::{content_digest, PageDeps, Previous};
use crate::bake::render::Baked;
use crate::bake::write::InPlaceSink;
use crate::bake::{BakeOptions, BakeReport};
use crate::engine::baker::Baker;
use crate::engine::errors::{Error, TemplateErrors};
use crate::site::mime::types_config;
use crate::site::resolve::SitePath;

/// What one output path is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Output {
    /// A baked page, from this template.
    Page(SitePath),
    /// A file published as it is.
    Asset(SitePath),
    /// A `#frev` copy of this file.
    Revved(SitePath),
    /// A symlink out of the root: published as a link, never read through.
    Link,
    /// `--version-file`.
    Version,
    /// `--emit-client`, with its script.
    Client(&'static str),
}

/// A page's rendering.
pub(crate) enum PageResult {
    Ok(Arc<[u8]>),
    /// Template errors: the page is not published.
    Failed(Arc<TemplateErrors>),
    /// The page could not be read.
    Broken(String),
}

/// One page as rendered, with what it used.
pub(crate) struct PageState {
    pub(crate) result: PageResult,
    /// Every path whose change may change the page: itself, every file it looked
    /// up, every path it looked for and did not find, the `.htaccess` files in force.
    pub(crate) deps: HashSet<SitePath>,
    /// Files it included.
    pub(crate) included: Vec<SitePath>,
    /// Inputs only stamped (a time, size or hash printed, never included or revved):
    /// a stylesheet among them can be swapped in the browser.
    pub(crate) stamped_only: HashSet<SitePath>,
    pub(crate) revved: Vec<(SitePath, SitePath)>,
    /// It shows `BUILD_ID` or `BUILD_DATE`: its bytes come from the identity run.
    pub(crate) watched: bool,
    /// It shows `DATE_LOCAL` or `DATE_GMT`: rendered on every request.
    pub(crate) clock: bool,
    /// The newest version time among its inputs (its Last-Modified).
    pub(crate) newest: i64,
    pub(crate) warnings: Option<Arc<TemplateErrors>>,
}

/// What a request path names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Resolved {
    /// An output path and what it is.
    Found(SitePath, Output),
    /// A directory without its slash (mod_dir's redirect to it with one).
    Redirect,
    /// Hidden: `.ht*`, version control, ssibake's record, a link out of the root.
    Forbidden,
    NotFound,
}

/// The bake's full run, for pages that show the build identity and the version
/// file (computed once per snapshot, when first asked for).
struct Identity {
    pages: HashMap<SitePath, Arc<[u8]>>,
    version: Arc<[u8]>,
}

/// The site at one moment.
pub(crate) struct Snapshot {
    pub(crate) base: Baker,
    first: Baker,
    pub(crate) opts: BakeOptions,
    items: Vec<Item>,
    outputs: HashMap<SitePath, Output>,
    /// Every directory that holds an output.
    dirs: HashSet<SitePath>,
    /// Template → its output path.
    page_outputs: HashMap<SitePath, SitePath>,
    pub(crate) pages: HashMap<SitePath, Arc<PageState>>,
    pub(crate) partials: HashSet<SitePath>,
    /// Why nothing can be served (a bad ssibake.toml, a refused plan).
    pub(crate) problem: Option<String>,
    /// A bake's output inside the root: not part of the site.
    pub(crate) skip: Vec<SitePath>,
    identity: OnceLock<Identity>,
}

/// What changed since the last snapshot.
#[derive(Default, Debug)]
pub(crate) struct Changed {
    pub(crate) paths: HashSet<SitePath>,
    /// Settings changed (`.htaccess`, `ssibake.toml`, `--apache-conf`, git): every
    /// page is rendered again.
    pub(crate) all: bool,
    /// Files were created, removed, renamed or had their attributes changed (not
    /// only their content): the tree is planned again.
    pub(crate) structure: bool,
}

impl Snapshot {
    /// A site that cannot be served at all.
    pub(crate) fn broken(base: Baker, opts: BakeOptions, problem: String) -> Snapshot {
        Snapshot {
            first: base.clone(),
            base,
            opts,
            items: Vec::new(),
            outputs: HashMap::new(),
            dirs: HashSet::new(),
            page_outputs: HashMap::new(),
            pages: HashMap::new(),
            partials: HashSet::new(),
            problem: Some(problem),
            skip: Vec::new(),
            identity: OnceLock::new(),
        }
    }

    /// Plans the site and renders its pages: those of `old` whose inputs did not
    /// change are taken over. Also returns the templates rendered now. Runs its
    /// renders on the current rayon pool (the server's fixed pool).
    pub(crate) fn build(
        loaded: Loaded,
        old: Option<&Snapshot>,
        changed: &Changed,
    ) -> (Snapshot, Vec<SitePath>) {
        let Loaded {
            baker: base,
            options: opts,
            out,
        } = loaded;
        let skip: Vec<SitePath> = out.and_then(|o| base.inside_root(&o)).into_iter().collect();
        // Only contents changed: the same files, the same settings, the same plan.
        let unchanged = old.filter(|o| {
            !changed.all && !changed.structure && o.problem.is_none() && o.skip == skip
        });
        let items = match unchanged {
            Some(o) => o.items.clone(),
            None => match base
                .plan(&opts, &skip)
                .and_then(|items| check_collisions(&items, &opts).map(|()| items))
            {
                Ok(items) => items,
                Err(e) => return (Snapshot::broken(base, opts, e.to_string()), Vec::new()),
            },
        };
        let first = base.first_pass(&opts, &Previous::default());
        let settings_files = settings_files(&items);
        let page_items: Vec<(&SitePath, &SitePath)> = items
            .iter()
            .filter_map(|i| match i {
                Item::Page { input, output } => Some((input, output)),
                _ => None,
            })
            .collect();
        let reuse = |input: &SitePath| -> Option<Arc<PageState>> {
            if changed.all {
                return None;
            }
            let state = old?.pages.get(input)?;
            let touched = state.clock || state.deps.iter().any(|d| touches(&changed.paths, d));
            (!touched).then(|| state.clone())
        };
        let cache = first.cache();
        let rendered: Vec<(SitePath, Arc<PageState>, bool)> = page_items
            .par_iter()
            .map(|(input, output)| match reuse(input) {
                Some(state) => ((*input).clone(), state, false),
                None => {
                    let state = render_page(&first, &cache, input, output, &settings_files);
                    ((*input).clone(), Arc::new(state), true)
                }
            })
            .collect();
        let fresh: Vec<SitePath> = rendered
            .iter()
            .filter(|(_, _, f)| *f)
            .map(|(p, _, _)| p.clone())
            .collect();
        let pages: HashMap<SitePath, Arc<PageState>> =
            rendered.into_iter().map(|(p, s, _)| (p, s)).collect();

        // Partials: templates some page includes (failed pages count, as in the bake).
        let partials: HashSet<SitePath> = if opts.publish_partials {
            HashSet::new()
        } else {
            pages
                .values()
                .flat_map(|s| s.included.iter().cloned())
                .filter(|p| pages.contains_key(p))
                .collect()
        };
        let mut outputs = HashMap::with_capacity(items.len());
        let mut page_outputs = HashMap::new();
        for item in &items {
            match item {
                Item::Page { input, output } => {
                    if !partials.contains(input) {
                        outputs.insert(output.clone(), Output::Page(input.clone()));
                        page_outputs.insert(input.clone(), output.clone());
                    }
                }
                Item::Asset(p) => {
                    outputs.insert(p.clone(), Output::Asset(p.clone()));
                }
                Item::Link { path, .. } => {
                    outputs.insert(path.clone(), Output::Link);
                }
            }
        }
        for (input, state) in &pages {
            if partials.contains(input) {
                continue;
            }
            for (file, revved) in &state.revved {
                outputs
                    .entry(revved.clone())
                    .or_insert_with(|| Output::Revved(file.clone()));
            }
        }
        if let Some(p) = opts.emit_client.as_deref() {
            if let Ok(path) = output_path(p) {
                outputs.insert(path, Output::Client(client_script(p)));
            }
        }
        if let Some(p) = opts.version_file.as_deref() {
            if let Ok(path) = output_path(p) {
                outputs.insert(path, Output::Version);
            }
        }
        let mut dirs = HashSet::new();
        dirs.insert(SitePath::root());
        for path in outputs.keys() {
            let mut d = path.parent();
            while dirs.insert(d.clone()) && !d.as_bytes().is_empty() {
                d = d.parent();
            }
        }
        let snapshot = Snapshot {
            base,
            first,
            opts,
            items,
            outputs,
            dirs,
            page_outputs,
            pages,
            partials,
            problem: None,
            skip,
            identity: OnceLock::new(),
        };
        (snapshot, fresh)
    }

    /// What the request path `path` names (`trailing_slash`: it ended in `/`).
    pub(crate) fn resolve(&self, path: &SitePath, trailing_slash: bool) -> Resolved {
        if let Some(out) = self.outputs.get(path) {
            if matches!(out, Output::Link) {
                return Resolved::Forbidden;
            }
            if trailing_slash {
                return Resolved::NotFound;
            }
            return Resolved::Found(path.clone(), out.clone());
        }
        if !self.dirs.contains(path) {
            return Resolved::NotFound;
        }
        if !trailing_slash {
            return Resolved::Redirect;
        }
        // The directory's DirectoryIndex names, each as published (an index
        // template under its page name).
        let names = self
            .base
            .settings
            .config
            .dir(&*self.base.fs, path)
            .map(|d| d.directory_index().to_vec())
            .unwrap_or_default();
        for name in names.iter().map(Vec::as_slice).chain([&b"index.html"[..]]) {
            let Ok(candidate) = SitePath::from_relative(&[path.as_bytes(), b"/", name].concat())
            else {
                continue;
            };
            let published = match self.outputs.get(&candidate) {
                Some(_) => Some(candidate.clone()),
                None => self.page_outputs.get(&candidate).cloned(),
            };
            if let Some(out) = published {
                if let Some(o) = self.outputs.get(&out) {
                    if !matches!(o, Output::Link) {
                        return Resolved::Found(out, o.clone());
                    }
                }
            }
        }
        Resolved::NotFound
    }

    /// The Content-Type of an output, as the site's types give it.
    pub(crate) fn content_type(&self, path: &SitePath, out: &Output) -> Option<String> {
        let by_name = |p: &SitePath| p.extension().and_then(types_config).map(str::to_string);
        match out {
            Output::Page(_) => by_name(path).or_else(|| Some("text/html".into())),
            Output::Asset(file) | Output::Revved(file) => self
                .base
                .settings
                .config
                .file(&*self.base.fs, file)
                .ok()
                .and_then(|f| f.content_type.clone())
                .map(|t| String::from_utf8_lossy(&t).into_owned())
                .or_else(|| by_name(path)),
            Output::Version => Some("application/json".into()),
            Output::Client(_) => Some("text/javascript".into()),
            Output::Link => None,
        }
    }

    /// A page's bytes as `--out` writes them: the first pass's, the identity run's
    /// for a page that shows the build ID, or rendered now for one that shows the
    /// clock.
    pub(crate) fn page(&self, input: &SitePath, output: &SitePath) -> Option<PageResultRef> {
        let state = self.pages.get(input)?.clone();
        if let PageResult::Ok(bytes) = &state.result {
            if state.watched && self.opts.build_id.is_none() {
                if let Some(b) = self.identity().pages.get(output) {
                    return Some(PageResultRef::Ok(b.clone(), state));
                }
            } else if state.clock && self.base.source_date_epoch.is_none() {
                let mut now = self.first.clone();
                now.settings.now = jiff::Timestamp::now().as_second();
                let cache = now.cache();
                let settings = Vec::new();
                let fresh = render_page(&now, &cache, input, output, &settings);
                return Some(match fresh.result {
                    PageResult::Ok(b) => PageResultRef::Ok(b, state),
                    _ => PageResultRef::Err(Arc::new(fresh)),
                });
            }
            return Some(PageResultRef::Ok(bytes.clone(), state));
        }
        Some(PageResultRef::Err(state))
    }

    /// The version file as the bake writes it.
    pub(crate) fn version(&self) -> Arc<[u8]> {
        self.identity().version.clone()
    }

    fn identity(&self) -> &Identity {
        self.identity.get_or_init(|| {
            let sink = InPlaceSink::default();
            match self
                .base
                .run(&self.opts, &self.items, &sink, &Previous::default(), None)
            {
                Ok(ran) => {
                    let pages = sink
                        .pages
                        .into_inner()
                        .unwrap_or_else(|p| p.into_inner())
                        .into_iter()
                        .map(|(p, b, _)| (p, Arc::from(b)))
                        .collect();
                    Identity {
                        pages,
                        version: version_json(&ran.report).into_bytes().into(),
                    }
                }
                // Some page fails: there is no build ID (the bake would publish
                // nothing); the pages show the placeholder meanwhile.
                Err(_) => Identity {
                    pages: HashMap::new(),
                    version: version_json(&BakeReport::default()).into_bytes().into(),
                },
            }
        })
    }

    /// A digest of what `path` answers, to tell whether a change altered it.
    pub(crate) fn fingerprint(&self, path: &SitePath, trailing_slash: bool) -> [u8; 16] {
        let mut key = Vec::new();
        if let Some(p) = &self.problem {
            key.extend_from_slice(p.as_bytes());
        }
        match self.resolve(path, trailing_slash) {
            Resolved::Found(out, Output::Page(input)) => {
                key.extend_from_slice(out.as_bytes());
                match self.pages.get(&input).map(|s| &s.result) {
                    Some(PageResult::Ok(b)) => key.extend_from_slice(b),
                    Some(PageResult::Failed(t)) => {
                        key.extend_from_slice(t.render(false).as_bytes())
                    }
                    Some(PageResult::Broken(m)) => key.extend_from_slice(m.as_bytes()),
                    None => {}
                }
            }
            other => key.extend_from_slice(format!("{other:?}").as_bytes()),
        }
        content_digest(&key)
    }
}

/// `path` or a directory above it changed (a directory renamed or removed is one
/// event for everything in it).
pub(crate) fn touches(changed: &HashSet<SitePath>, path: &SitePath) -> bool {
    let mut p = path.clone();
    loop {
        if changed.contains(&p) {
            return true;
        }
        if p.as_bytes().is_empty() {
            return false;
        }
        p = p.parent();
        if p.as_bytes().is_empty() {
            return false;
        }
    }
}

/// A page's answer: its bytes, or its state with the failure.
pub(crate) enum PageResultRef {
    Ok(Arc<[u8]>, Arc<PageState>),
    Err(Arc<PageState>),
}

/// Renders one page with the bake's first-pass baker, recording what it used as
/// the bake's dependency record does.
fn render_page(
    first: &Baker,
    cache: &crate::engine::templates::Cache,
    input: &SitePath,
    output: &SitePath,
    settings_files: &[SitePath],
) -> PageState {
    let only = |result| PageState {
        result,
        deps: HashSet::from([input.clone()]),
        included: Vec::new(),
        stamped_only: HashSet::new(),
        revved: Vec::new(),
        watched: false,
        clock: false,
        newest: 0,
        warnings: None,
    };
    let outcome = match first.page_outcome(cache, input) {
        Ok(o) => o,
        Err(Error::Template(t)) => return only(PageResult::Failed(Arc::from(t))),
        Err(e) => return only(PageResult::Broken(e.to_string())),
    };
    let record = PageDeps::new(input, output, &outcome, settings_files, cache, &*first.fs);
    let mut deps: HashSet<SitePath> = HashSet::from([input.clone()]);
    deps.extend(outcome.inputs.iter().map(|(p, _)| p.clone()));
    deps.extend(outcome.missing.iter().cloned());
    deps.extend(outcome.included.iter().cloned());
    deps.extend(record.settings.iter().cloned());
    let revved_files: HashSet<&SitePath> = outcome.revved.iter().map(|(f, _)| f).collect();
    let stamped_only: HashSet<SitePath> = outcome
        .stamped
        .iter()
        .filter(|p| !outcome.included.contains(p) && !revved_files.contains(p))
        .cloned()
        .collect();
    let warnings = (!outcome.warnings.is_empty()).then(|| {
        Arc::new(first.errors_of(input, outcome.warnings.clone(), 0, outcome.sources.clone()))
    });
    let (watched, clock) = (outcome.read_watched, outcome.read_clock);
    let included = record.includes.clone();
    let revved = outcome.revved.clone();
    let (result, newest) = if outcome.diagnostics.is_empty() {
        let baked = Baked::from_outcome(outcome, cache, &*first.fs, input);
        (PageResult::Ok(baked.bytes.into()), baked.newest)
    } else {
        let errors = first.errors_of(
            input,
            outcome.diagnostics,
            outcome.more_diagnostics,
            outcome.sources,
        );
        (PageResult::Failed(Arc::new(errors)), 0)
    };
    PageState {
        result,
        deps,
        included,
        stamped_only,
        revved,
        watched,
        clock,
        newest,
        warnings,
    }
}
