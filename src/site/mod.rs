//! Site: the document root as Apache sees it.
//!
//! In: a request path (`virtual`) or a file path (`file`) from a directive, relative to the
//! page. Out: a confined [`SitePath`](resolve::SitePath), its metadata (with the version
//! time the run uses), its bytes, its content type.
//!
//! - [`resolve`]: normalised root-relative paths, refusing every escape;
//! - [`urlmap`]: which file a `virtual` or `file` names, as Apache's sub-requests map it
//!   (`DirectoryIndex`, the trailing slash, path info, %-escapes);
//! - [`fs`]: the [`FileSystem`](fs::FileSystem) trait, the disk (symlinks confined to the
//!   root) and memory;
//! - [`mime`]: content types as mod_mime assigns them (`include`'s `text/*` check);
//! - [`config`]: the per-directory Apache configuration (server config, `.htaccess`,
//!   `<Files>`): which files are parsed, their types, the SSI settings, with provenance;
//! - [`cache`]: each file stat'ed and read once per run, shared by every thread;
//! - [`version`] and [`git`]: which time a file has (`fs`, `git`, `epoch`).

pub(crate) mod cache;
pub(crate) mod config;
pub(crate) mod fs;
pub(crate) mod git;
pub(crate) mod mime;
pub(crate) mod resolve;
pub(crate) mod urlmap;
pub(crate) mod version;
