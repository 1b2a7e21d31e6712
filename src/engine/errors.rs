//! Every public error type of ssibake.

use std::io;

use crate::engine::diag::{Diagnostic, RenderOptions, Sources};

/// What can go wrong when rendering.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The page has template errors (only in [`OnError::Fail`](crate::OnError) mode).
    #[error("{}", .0)]
    Template(Box<TemplateErrors>),
    /// The page or the root could not be read.
    #[error("cannot read `{path}`: {source}")]
    Io {
        /// The path as shown to the user.
        path: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Writing the output failed.
    #[error("cannot write `{path}`: {source}")]
    Write {
        /// The path as shown to the user.
        path: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The site's Apache configuration (`--apache-conf`) cannot be used.
    #[error("{0}")]
    Config(String),
    /// A page path outside the document root.
    #[error("`{0}` is outside the document root")]
    OutsideRoot(String),
}

/// All template errors (or warnings) of one page, with the sources needed to show
/// them.
#[derive(Clone, Debug)]
pub struct TemplateErrors {
    pub(crate) page: String,
    pub(crate) diagnostics: Vec<Diagnostic>,
    /// Errors past the per-page cap, counted only.
    pub(crate) more: usize,
    /// Diagnostics (by index) also met in other pages, shown once here: the number
    /// of pages that have it (an error in a partial many pages include).
    pub(crate) shared: Vec<(usize, usize)>,
    pub(crate) sources: Sources,
    pub(crate) options: RenderOptions,
}

impl TemplateErrors {
    /// The page, relative to the root.
    pub fn page(&self) -> &str {
        &self.page
    }

    /// How many pages share the diagnostic at `index` (1 when only this one).
    pub fn pages_with(&self, index: usize) -> usize {
        self.shared
            .iter()
            .find(|(i, _)| *i == index)
            .map_or(1, |(_, n)| *n)
    }
}

impl std::fmt::Display for TemplateErrors {
    /// The one-line form for logs: "3 errors in index.shtml (first: ...)".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.diagnostics.len() + self.more;
        write!(
            f,
            "{n} error{} in {}",
            if n == 1 { "" } else { "s" },
            self.page
        )?;
        if let Some(d) = self.diagnostics.first() {
            let (line, col) = d.position(&self.sources);
            write!(
                f,
                " (first: {}:{line}:{col}: {})",
                d.location.file.display(),
                d.message
            )?;
        }
        Ok(())
    }
}
