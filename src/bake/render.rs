//! Render: each page through the evaluator, with the build identity defined, and
//! what the pages stamped and revved gathered for the publish stage.

use std::collections::{BTreeMap, BTreeSet};
use std::io;

use super::options::BakeOptions;
use super::plan::Item;
use std::sync::Arc;

use crate::engine::baker::Baker;
use crate::engine::errors::Error;
use crate::engine::templates::Cache;
use crate::engine::templates::Parsed;
use crate::format::timefmt::rfc3339;
use crate::site::fs::Metadata;
use crate::site::resolve::SitePath;

/// What the pages of a run stamped and revved.
#[derive(Default)]
pub(super) struct Stamps {
    pub(super) stamped: BTreeSet<SitePath>,
    /// File to revved paths (one per `hashlen` used).
    pub(super) revved: BTreeMap<SitePath, BTreeSet<SitePath>>,
}

impl Stamps {
    pub(super) fn add(&mut self, baked: &Baked) {
        self.stamped.extend(baked.stamped.iter().cloned());
        for (file, revved) in &baked.revved {
            self.revved
                .entry(file.clone())
                .or_default()
                .insert(revved.clone());
        }
    }

    pub(super) fn revved_pairs(&self) -> Vec<(SitePath, SitePath)> {
        self.revved
            .iter()
            .flat_map(|(f, rs)| rs.iter().map(move |r| (f.clone(), r.clone())))
            .collect()
    }
}

/// A rendered page with what it used.
pub(super) struct Baked {
    pub(super) bytes: Vec<u8>,
    pub(super) includes: usize,
    pub(super) stamped: Vec<SitePath>,
    /// `frev` targets and their revved paths.
    pub(super) revved: Vec<(SitePath, SitePath)>,
    /// The newest version time among the page and its inputs.
    pub(super) newest: i64,
}

impl Baker {
    /// Renders a parsed page; the output, the number of includes, the files
    /// stamped and revved, and the newest version time among its inputs.
    pub(super) fn render_counted(
        &self,
        cache: &Cache,
        path: SitePath,
        parsed: Arc<Parsed>,
        meta: Metadata,
    ) -> Result<Baked, Error> {
        let outcome = self.outcome(cache, &path, parsed, meta)?;
        let newest = outcome
            .inputs
            .iter()
            .map(|(_, m)| m.mtime)
            .fold(meta.mtime, i64::max);
        Ok(Baked {
            bytes: outcome.output,
            includes: outcome.includes,
            stamped: outcome.stamped,
            revved: outcome.revved,
            newest,
        })
    }

    /// The baker that renders pages: the configured one plus `BUILD_ID` and
    /// `BUILD_DATE` when a build identity is in use.
    pub(super) fn with_build(&self, build_id: &Option<String>) -> Baker {
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

    pub(super) fn needs_build_id(&self, opts: &BakeOptions, items: &[Item]) -> bool {
        if opts.build_id.is_some() || opts.version_file.is_some() {
            return true;
        }
        items.iter().any(|item| match item {
            Item::Page { input, .. } => self
                .fs
                .read(input)
                .is_ok_and(|b| memchr::memmem::find(&b, b"BUILD_").is_some()),
            Item::Asset(_) | Item::Link { .. } => false,
        })
    }

    /// Renders one page, returning its bytes, its include count and the files it
    /// stamped.
    pub(super) fn bake_page(&self, cache: &Cache, page: &SitePath) -> Result<Baked, Error> {
        let io = |e: crate::site::cache::IoFailure| Error::Io {
            path: self.root.join(page.to_path()).display().to_string(),
            source: io::Error::new(e.kind, e.message),
        };
        let meta = cache.metadata(&*self.fs, page).map_err(io)?;
        let parsed = cache.parsed(&*self.fs, page).map_err(io)?;
        self.render_counted(cache, page.clone(), parsed, meta)
    }
}
