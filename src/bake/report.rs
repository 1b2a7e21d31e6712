//! What a bake tells its caller: the report, the errors, the differences found.

use std::io;
use std::path::Path;
use std::time::Duration;

use crate::engine::errors::{Error, TemplateErrors};

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

/// One baked file of an in-memory bake.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BakedFile {
    /// The output path, root-relative.
    pub path: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

pub(super) fn io_err(path: &Path, source: io::Error) -> Error {
    Error::Io {
        path: path.display().to_string(),
        source,
    }
}
