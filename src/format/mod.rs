//! Formats: pure functions from values to Apache's bytes, with no I/O but the system's
//! zone files.
//!
//! - [`timefmt`]: `strftime` as glibc does it, in a `TZ` zone (`flastmod`, `DATE_LOCAL`);
//! - [`sizefmt`]: `fsize` in `abbrev` and `bytes`;
//! - [`encoding`]: `encoding="url|entity|base64|none"` and entity decoding of values;
//! - [`fnmatch`]: `apr_fnmatch`, for ap_expr's `-fnmatch` and `-strmatch`.

pub(crate) mod encoding;
pub(crate) mod fnmatch;
pub(crate) mod sizefmt;
pub(crate) mod timefmt;
