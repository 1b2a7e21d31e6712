//! Path resolution: normalised paths inside the document root, refusing every path that
//! would leave it (`virtual` URLs are parsed in `urlmap`, which uses these).
//!
//! Resolution is pure string work on [`SitePath`]s; the file system is consulted
//! only afterwards (and checks symlinks itself, see `fs.rs`).

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// A normalised path relative to the document root: `/`-separated segments, no
/// empty, `.` or `..` segment, no leading slash. The root itself is empty.
///
/// Shared bytes: a clone is a reference count, so the run's record of every page's
/// inputs holds each of the site's paths once however many pages name it.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SitePath(Arc<[u8]>);

/// Why a path was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    /// `..` would climb above the root (or, for `file=`, above the document's directory).
    #[error("`{0}` leaves the document root")]
    AboveRoot(String),
    /// `file=` takes relative paths only, as in Apache.
    #[error("`file` paths must be relative; use `virtual` for `{0}`")]
    Absolute(String),
    /// `file=` may not contain `..` that climbs above the document's directory.
    #[error("`{0}` climbs above the including document's directory (use `virtual`)")]
    AboveDocument(String),
    /// A `%` escape Apache refuses: malformed, an encoded `/`, or NUL.
    #[error("`{0}` has an invalid or forbidden %-escape")]
    BadEscape(String),
    /// An empty path.
    #[error("empty path")]
    Empty,
    /// A relative `virtual` path in a document that has no URL of its own (it was
    /// included with `file=` from another directory, as in Apache).
    #[error("relative `virtual` path `{0}` in a document included with `file` from another directory has no URL to be relative to")]
    NoBaseUrl(String),
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

impl SitePath {
    /// The root directory.
    pub fn root() -> SitePath {
        SitePath(Arc::from(&b""[..]))
    }

    /// Normalises a root-relative path (a leading `/` is allowed and ignored).
    /// `..` may not climb above the root.
    pub fn from_relative(path: &[u8]) -> Result<SitePath, PathError> {
        normalise(&SitePath::root(), path).ok_or_else(|| PathError::AboveRoot(lossy(path)))
    }

    /// The path bytes (`css/app.css`; empty for the root).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The path as a relative file-system path.
    pub fn to_path(&self) -> PathBuf {
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            PathBuf::from(std::ffi::OsStr::from_bytes(&self.0))
        }
        #[cfg(not(unix))]
        {
            PathBuf::from(lossy(&self.0))
        }
    }

    /// The URL of this path (`/css/app.css`).
    pub fn url(&self) -> Vec<u8> {
        let mut url = Vec::with_capacity(self.0.len() + 1);
        url.push(b'/');
        url.extend_from_slice(&self.0);
        url
    }

    /// The last segment.
    pub fn file_name(&self) -> &[u8] {
        match memchr::memrchr(b'/', &self.0) {
            Some(i) => &self.0[i + 1..],
            None => &self.0,
        }
    }

    /// The directory containing this path.
    pub fn parent(&self) -> SitePath {
        match memchr::memrchr(b'/', &self.0) {
            Some(i) => SitePath(Arc::from(&self.0[..i])),
            None => SitePath::root(),
        }
    }

    /// The extension of the last segment, without the dot.
    pub fn extension(&self) -> Option<&[u8]> {
        let name = self.file_name();
        let dot = memchr::memrchr(b'.', name)?;
        (dot > 0).then(|| &name[dot + 1..])
    }

    /// Lossy text form for messages.
    pub fn display(&self) -> String {
        lossy(&self.0)
    }
}

impl fmt::Debug for SitePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SitePath({:?})", self.display())
    }
}

/// Appends the segments of `path` to `base`, resolving `.` and `..` and dropping
/// empty segments. `None` when `..` climbs above `base`'s root.
fn normalise(base: &SitePath, path: &[u8]) -> Option<SitePath> {
    let mut segments: Vec<&[u8]> = if base.0.is_empty() {
        Vec::new()
    } else {
        base.0.split(|&b| b == b'/').collect()
    };
    for seg in path.split(|&b| b == b'/') {
        match seg {
            b"" | b"." => {}
            b".." => {
                segments.pop()?;
            }
            s => segments.push(s),
        }
    }
    Some(SitePath(Arc::from(segments.join(&b'/'))))
}

/// Resolves `<!--#... file="value" -->` against the directory of `document`.
///
/// As in Apache (`apr_filepath_merge` with `SECUREROOTTEST | NOTABSOLUTE`): no
/// absolute path, no `..` above the document's directory, no %-decoding (a `?` is
/// part of the name).
pub fn resolve_file(value: &[u8], document: &SitePath) -> Result<SitePath, PathError> {
    if value.first() == Some(&b'/') {
        return Err(PathError::Absolute(lossy(value)));
    }
    let relative = normalise(&SitePath::root(), value)
        .ok_or_else(|| PathError::AboveDocument(lossy(value)))?;
    if relative.0.is_empty() {
        return Err(PathError::Empty);
    }
    Ok(normalise(&document.parent(), &relative.0)
        .expect("a relative path without `..` cannot climb"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sp(s: &str) -> SitePath {
        SitePath::from_relative(s.as_bytes()).unwrap()
    }

    #[test]
    fn file_is_relative_to_the_document_directory() {
        let doc = sp("blog/post.shtml");
        assert_eq!(resolve_file(b"inc/a.html", &doc), Ok(sp("blog/inc/a.html")));
        assert_eq!(resolve_file(b"inc/../b.html", &doc), Ok(sp("blog/b.html")));
        assert_eq!(resolve_file(b"x?y", &doc), Ok(sp("blog/x?y")));
        assert!(matches!(
            resolve_file(b"/etc/passwd", &doc),
            Err(PathError::Absolute(_))
        ));
        assert!(matches!(
            resolve_file(b"../x", &doc),
            Err(PathError::AboveDocument(_))
        ));
        assert!(matches!(
            resolve_file(b"a/../../x", &doc),
            Err(PathError::AboveDocument(_))
        ));
        assert_eq!(resolve_file(b"", &doc), Err(PathError::Empty));
        assert_eq!(resolve_file(b".", &doc), Err(PathError::Empty));
    }
}
