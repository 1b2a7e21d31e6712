//! Render: each page through the evaluator, with the build identity defined, and
//! what the pages stamped and revved gathered for the publish stage.

use std::collections::{BTreeMap, BTreeSet};

use crate::engine::baker::Baker;
use crate::engine::errors::Error;
use crate::engine::eval::Outcome;
use crate::engine::templates::Cache;
use crate::site::fs::FileSystem;
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
pub(crate) struct Baked {
    pub(crate) bytes: Vec<u8>,
    pub(super) includes: usize,
    pub(super) stamped: Vec<SitePath>,
    /// `frev` targets and their revved paths.
    pub(super) revved: Vec<(SitePath, SitePath)>,
    /// The newest version time among the page and its inputs.
    pub(crate) newest: i64,
}

impl Baked {
    /// The page's output and what it used, from a rendering without errors.
    pub(crate) fn from_outcome(
        outcome: Outcome,
        cache: &Cache,
        fs: &dyn FileSystem,
        page: &SitePath,
    ) -> Baked {
        let own = cache.metadata(fs, page).map_or(i64::MIN, |m| m.mtime);
        let newest = outcome
            .inputs
            .iter()
            .map(|(_, m)| m.mtime)
            .fold(own, i64::max);
        Baked {
            bytes: outcome.output,
            includes: outcome.includes,
            stamped: outcome.stamped,
            revved: outcome.revved,
            newest,
        }
    }
}

impl Baker {
    /// The baker that renders pages with `BUILD_ID` and `BUILD_DATE` defined (and
    /// their reading recorded).
    pub(crate) fn with_build(&self, id: &[u8], date: &[u8]) -> Baker {
        let mut baker = self.clone();
        let s = &mut baker.settings;
        s.defines.push((b"BUILD_ID".to_vec(), id.to_vec()));
        s.defines.push((b"BUILD_DATE".to_vec(), date.to_vec()));
        s.watched = vec![b"BUILD_ID".to_vec(), b"BUILD_DATE".to_vec()];
        baker
    }

    /// Renders one page: its output and what it used, or its template errors.
    pub(super) fn bake_page(&self, cache: &Cache, page: &SitePath) -> Result<Baked, Error> {
        let outcome = self.page_outcome(cache, page)?;
        if !outcome.diagnostics.is_empty() {
            return Err(self.template_errors(
                page,
                outcome.diagnostics,
                outcome.more_diagnostics,
                outcome.sources,
            ));
        }
        Ok(Baked::from_outcome(outcome, cache, &*self.fs, page))
    }
}
