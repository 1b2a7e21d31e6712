//! What a bake tells its caller: the report, the errors, the differences found.

use std::io;
use std::path::Path;
use std::time::Duration;

use super::record::PageDeps;
use crate::engine::errors::{Error, TemplateErrors};

/// What a bake did, for the one-line summary.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct BakeReport {
    /// Pages rendered.
    pub pages: usize,
    /// Templates some page includes, not published on their own.
    pub partials: usize,
    /// Pages left alone by `--in-place` because they have no directive.
    pub unchanged: usize,
    /// Pages and files taken over from the previous output, nothing they depend
    /// on having changed (the incremental bake).
    pub reused: usize,
    /// Successful `#include`s, over all pages.
    pub includes: usize,
    /// Distinct files whose size or time a page printed.
    pub stamped: usize,
    /// Other files copied (or hard-linked) into the output.
    pub copied: usize,
    /// The build ID, when one was computed.
    pub build_id: Option<String>,
    /// When this build was made (RFC 3339), with the build ID.
    pub built_at: Option<String>,
    /// Warnings, page by page (a warning in a shared partial once).
    pub warnings: Vec<TemplateErrors>,
    /// Each page's inputs (the dependency record), failed pages and partials too.
    pub deps: Vec<PageDeps>,
    /// Files the previous output had that this bake does not publish.
    pub removed: Vec<String>,
    /// Wall time.
    pub elapsed: Duration,
}

impl BakeReport {
    /// Warnings over all pages.
    pub fn warning_count(&self) -> usize {
        self.warnings
            .iter()
            .map(|w| w.diagnostics().len())
            .sum::<usize>()
            + self.removed.len()
    }

    /// `baked 12 pages (30 includes, 4 files stamped), 2 partials, copied 40 files,
    /// 0 errors, 1 warning in 0.12s`.
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
        if self.partials > 0 {
            s += &format!(", {} partial{}", self.partials, plural(self.partials));
        }
        if self.unchanged > 0 {
            s += &format!(", left {} without directives unchanged", self.unchanged);
        }
        if self.reused > 0 {
            s += &format!(", {} unchanged since the last bake", self.reused);
        }
        let warnings = self.warning_count();
        s += &format!(
            ", copied {} file{}, {} error{}, {} warning{} in {:.2}s",
            self.copied,
            plural(self.copied),
            errors,
            plural(errors),
            warnings,
            plural(warnings),
            self.elapsed.as_secs_f64()
        );
        s
    }
}

pub(super) fn plural(n: usize) -> &'static str {
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
        report: Box<BakeReport>,
    },
    /// `--deny-warnings` and the bake had warnings (in the report); nothing was
    /// written.
    #[error("{} warning{} denied", .report.warning_count(), plural(.report.warning_count()))]
    Warnings {
        /// What was done, with the warnings.
        report: Box<BakeReport>,
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

/// One baked file of an in-memory bake.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BakedFile {
    /// The output path, root-relative.
    pub path: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// Writing `path` failed.
pub(super) fn write_err(path: &Path, source: io::Error) -> Error {
    Error::Write {
        path: path.display().to_string(),
        source,
    }
}

/// Reading `path` failed.
pub(super) fn io_err(path: &Path, source: io::Error) -> Error {
    Error::Io {
        path: path.display().to_string(),
        source,
    }
}
