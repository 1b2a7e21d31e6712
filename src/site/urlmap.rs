//! URL → file, as Apache's sub-requests map it: the one place that decides which file
//! (or directory) a `virtual` or `file` attribute names, with its path info.
//!
//! The rules, each measured on Apache 2.4.71 and pinned by a fixture:
//! - `virtual` is a request URI (`server/request.c:ap_sub_req_method_uri`): relative to
//!   the directory of the current document's URI; `?` starts the query, `#` the
//!   fragment (dropped); `%XX` decoded, a malformed escape, a bare `%`, `%2F` or `%00`
//!   refused (`server/util.c:ap_normalize_path`, `ap_unescape_url`), `..` above `/`
//!   refused.
//! - `file` is a path relative to the document's directory, *not* decoded
//!   (`ap_sub_req_lookup_file`), yet its escapes are checked as a URI's are: a file
//!   named `100%.html` cannot be included with `file`.
//! - The walk (`server/request.c:ap_directory_walk`) stops at the first segment that is
//!   not a directory: the rest is path info (`/app.css/extra` → `app.css` with path
//!   info `/extra`). A missing segment before that is a 404.
//! - A directory named with a trailing slash (`/sub/`, `.`, `""`, `?x=1`) is answered
//!   by the first existing regular file of its `DirectoryIndex`
//!   (`modules/mappers/mod_dir.c:fixup_dir`), or stays the directory itself; without
//!   the slash, and always for `file`, mod_dir answers a redirect (301), which a
//!   sub-request treats as failure (`fixup_dflt`).

use std::io;

use crate::site::cache::IoFailure;
use crate::site::fs::Metadata;
use crate::site::resolve::{PathError, SitePath};

/// Which attribute named the target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `virtual=`: a URL.
    Virtual,
    /// `file=`: a path relative to the document's directory.
    File,
}

/// A parsed `virtual` or `file` value, before the file system is asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Request {
    /// `virtual` or `file`.
    pub(crate) kind: Kind,
    /// The normalised path (decoded for `virtual`).
    pub(crate) path: SitePath,
    /// The path ended in `/` (or in `.` or `..`, or was empty): a directory is
    /// answered by its index instead of a redirect.
    pub(crate) trailing_slash: bool,
    /// The query string of a `virtual` (`r->args`), without the `?`.
    pub(crate) query: Option<Vec<u8>>,
}

/// What a request maps to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Mapped {
    /// The file served (an index file for a directory), or the directory itself when
    /// it has no index file.
    pub(crate) path: SitePath,
    /// Its metadata (the version time the run uses).
    pub(crate) meta: Metadata,
    /// The segments after the file (`/extra`), empty when none.
    pub(crate) path_info: Vec<u8>,
    /// `path` is the requested directory's index file.
    pub(crate) index: bool,
}

/// Why a request maps to no file.
#[derive(Clone, Debug)]
pub(crate) enum MapError {
    /// The value is not a path Apache accepts (400 or 404 before any lookup).
    Path(PathError),
    /// A segment of the path does not exist (404).
    NotFound(SitePath),
    /// A directory without its trailing slash, or any directory named by `file`:
    /// mod_dir answers a redirect (301).
    Directory(SitePath),
    /// The file system refused (a symlink out of the root, permissions, ...).
    Io(SitePath, IoFailure),
    /// The directory's index would be looked up one nesting level deeper than
    /// Apache allows (mod_dir's own sub-request).
    TooDeep,
}

impl From<PathError> for MapError {
    fn from(e: PathError) -> MapError {
        MapError::Path(e)
    }
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Parses a `virtual` value against the current document's URL (`None` for a document
/// that has no URL of its own).
pub(crate) fn parse_virtual(value: &[u8], base_url: Option<&[u8]>) -> Result<Request, PathError> {
    let before_fragment = &value[..memchr::memchr(b'#', value).unwrap_or(value.len())];
    let (raw, query) = match memchr::memchr(b'?', before_fragment) {
        Some(i) => (
            &before_fragment[..i],
            Some(before_fragment[i + 1..].to_vec()),
        ),
        None => (before_fragment, None),
    };
    let decoded = percent_decode(raw).ok_or_else(|| PathError::BadEscape(lossy(value)))?;
    let full = if decoded.first() == Some(&b'/') {
        decoded
    } else {
        let base = base_url.ok_or_else(|| PathError::NoBaseUrl(lossy(value)))?;
        let dir_end = memchr::memrchr(b'/', base).map_or(0, |i| i + 1);
        let mut full = base[..dir_end].to_vec();
        if full.first() != Some(&b'/') {
            full.insert(0, b'/');
        }
        full.extend_from_slice(&decoded);
        full
    };
    let path = SitePath::from_relative(&full).map_err(|_| PathError::AboveRoot(lossy(value)))?;
    Ok(Request {
        kind: Kind::Virtual,
        path,
        trailing_slash: names_a_directory(&full),
        query,
    })
}

/// Parses a `file` value against the including document's path.
pub(crate) fn parse_file(value: &[u8], document: &SitePath) -> Result<Request, PathError> {
    // The sub-request's URI is built from the name, and Apache checks its escapes
    // (a malformed one is a 400, `%2F` or `%00` a 404) even though the file itself is
    // looked up by its literal name.
    if percent_decode(value).is_none() {
        return Err(PathError::BadEscape(lossy(value)));
    }
    let path = crate::site::resolve::resolve_file(value, document)?;
    // `ap_sub_req_lookup_file` also parses the name as a URI (`ap_parse_uri`): what
    // follows a `?` (up to a `#`) becomes the sub-request's query, though the file
    // looked up keeps it in its name (observed on 2.4.71: `file="x.shtml?a=1"`
    // sets QUERY_STRING).
    let before_fragment = &value[..memchr::memchr(b'#', value).unwrap_or(value.len())];
    let query = memchr::memchr(b'?', before_fragment).map(|i| before_fragment[i + 1..].to_vec());
    Ok(Request {
        kind: Kind::File,
        path,
        trailing_slash: names_a_directory(value),
        query,
    })
}

/// `/sub/`, `/sub/.`, `..`: after normalisation the path ends in a slash.
fn names_a_directory(path: &[u8]) -> bool {
    let last = path.rsplit(|&b| b == b'/').next().unwrap_or(b"");
    matches!(last, b"" | b"." | b"..")
}

fn missing(e: &IoFailure) -> bool {
    !e.outside_root
        && matches!(
            e.kind,
            io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
        )
}

/// Maps a parsed request onto the site: `stat` gives a path's metadata (through the
/// run's cache), `directory_index` the `DirectoryIndex` names in force in a directory.
///
/// `index_allowed` is false where mod_dir's sub-request for the index would exceed
/// Apache's nesting limit.
pub(crate) fn map(
    req: &Request,
    directory_index: &dyn Fn(&SitePath) -> Vec<Vec<u8>>,
    index_allowed: bool,
    stat: &mut dyn FnMut(&SitePath) -> Result<Metadata, IoFailure>,
) -> Result<Mapped, MapError> {
    let (path, meta, path_info) = match stat(&req.path) {
        Ok(meta) => {
            let info = if req.trailing_slash && !meta.is_dir {
                b"/".to_vec()
            } else {
                Vec::new()
            };
            (req.path.clone(), meta, info)
        }
        Err(e) if missing(&e) => walk(req, stat)?,
        Err(e) => return Err(MapError::Io(req.path.clone(), e)),
    };
    if !meta.is_dir {
        return Ok(Mapped {
            path,
            meta,
            path_info,
            index: false,
        });
    }
    if req.kind == Kind::File || !req.trailing_slash {
        return Err(MapError::Directory(path));
    }
    if !index_allowed {
        return Err(MapError::TooDeep);
    }
    for name in directory_index(&path) {
        let candidate = SitePath::from_relative(&[path.as_bytes(), b"/", &name].concat())
            .map_err(MapError::Path)?;
        match stat(&candidate) {
            Ok(m) if !m.is_dir => {
                return Ok(Mapped {
                    path: candidate,
                    meta: m,
                    path_info: Vec::new(),
                    index: true,
                })
            }
            _ => continue,
        }
    }
    Ok(Mapped {
        path,
        meta,
        path_info: Vec::new(),
        index: false,
    })
}

/// The directory walk after the whole path was not found: the first segment that is
/// a file ends it, and the rest is path info.
fn walk(
    req: &Request,
    stat: &mut dyn FnMut(&SitePath) -> Result<Metadata, IoFailure>,
) -> Result<(SitePath, Metadata, Vec<u8>), MapError> {
    let bytes = req.path.as_bytes();
    let segments: Vec<&[u8]> = bytes.split(|&b| b == b'/').collect();
    for n in 1..segments.len() {
        let prefix = SitePath::from_relative(&segments[..n].join(&b'/')).map_err(MapError::Path)?;
        match stat(&prefix) {
            Ok(meta) if meta.is_dir => continue,
            Ok(meta) => {
                let mut info = Vec::new();
                for s in &segments[n..] {
                    info.push(b'/');
                    info.extend_from_slice(s);
                }
                if req.trailing_slash {
                    info.push(b'/');
                }
                return Ok((prefix, meta, info));
            }
            Err(e) if missing(&e) => return Err(MapError::NotFound(prefix)),
            Err(e) => return Err(MapError::Io(prefix, e)),
        }
    }
    Err(MapError::NotFound(req.path.clone()))
}

/// `%XX` decoding as Apache's `ap_unescape_url`: a malformed escape, `%2F` and `%00`
/// are refused.
pub(crate) fn percent_decode(input: &[u8]) -> Option<Vec<u8>> {
    if memchr::memchr(b'%', input).is_none() {
        return Some(input.to_vec());
    }
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] == b'%' {
            let hex = input.get(i + 1..i + 3)?;
            let s = std::str::from_utf8(hex).ok()?;
            let byte = u8::from_str_radix(s, 16).ok()?;
            if byte == b'/' || byte == 0 {
                return None;
            }
            out.push(byte);
            i += 3;
        } else {
            out.push(input[i]);
            i += 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn sp(s: &str) -> SitePath {
        SitePath::from_relative(s.as_bytes()).unwrap()
    }

    /// A tree: directories end in `/`.
    fn tree(entries: &[&str]) -> BTreeMap<SitePath, Metadata> {
        let mut t = BTreeMap::new();
        t.insert(
            SitePath::root(),
            Metadata {
                len: 4096,
                mtime: 0,
                is_dir: true,
            },
        );
        for (i, e) in entries.iter().enumerate() {
            let is_dir = e.ends_with('/');
            t.insert(
                sp(e.trim_end_matches('/')),
                Metadata {
                    len: if is_dir { 4096 } else { i as u64 + 1 },
                    mtime: i as i64,
                    is_dir,
                },
            );
        }
        t
    }

    fn run(t: &BTreeMap<SitePath, Metadata>, req: Result<Request, PathError>) -> String {
        let req = match req {
            Ok(r) => r,
            Err(e) => return format!("path error: {e}"),
        };
        let index = |_: &SitePath| vec![b"index.html".to_vec(), b"index.shtml".to_vec()];
        let mut stat = |p: &SitePath| {
            t.get(p).copied().ok_or_else(|| IoFailure {
                kind: io::ErrorKind::NotFound,
                message: "not found".into(),
                outside_root: false,
                unversioned: false,
                shallow: false,
            })
        };
        match map(&req, &index, true, &mut stat) {
            Ok(m) => format!(
                "{}{}{}",
                m.path.display(),
                if m.path_info.is_empty() {
                    String::new()
                } else {
                    format!(" info={}", lossy(&m.path_info))
                },
                if m.index { " (index)" } else { "" }
            ),
            Err(MapError::NotFound(p)) => format!("404 {}", p.display()),
            Err(MapError::Directory(p)) => format!("301 {}", p.display()),
            Err(e) => format!("{e:?}"),
        }
    }

    // Each expectation below is what Apache 2.4.71 did with the same tree
    // (/work/notes/apache-rules.md §1; fixtures url-* pin them end to end).
    #[test]
    fn directories_with_and_without_the_slash() {
        let t = tree(&[
            "sub/",
            "sub/index.html",
            "subs/",
            "subs/index.shtml",
            "nodir/",
            "d/",
        ]);
        let base = Some(&b"/d/page.shtml"[..]);
        let v = |s: &str| run(&t, parse_virtual(s.as_bytes(), base));
        assert_eq!(v("/sub/"), "sub/index.html (index)");
        assert_eq!(v("/subs/"), "subs/index.shtml (index)");
        assert_eq!(v("/nodir/"), "nodir");
        assert_eq!(v("/sub"), "301 sub");
        assert_eq!(v("../sub"), "301 sub");
        assert_eq!(v("../sub/."), "sub/index.html (index)");
        assert_eq!(v(""), "d");
        assert_eq!(v("."), "d");
        assert_eq!(v("?x=1"), "d");
        assert_eq!(v("/"), "");
        let doc = sp("page.shtml");
        assert_eq!(run(&t, parse_file(b"sub", &doc)), "301 sub");
        assert_eq!(run(&t, parse_file(b"sub/", &doc)), "301 sub");
    }

    #[test]
    fn path_info_after_a_file() {
        let t = tree(&["css/", "css/app.css", "inc/", "inc/header.html"]);
        let base = Some(&b"/index.shtml"[..]);
        let v = |s: &str| run(&t, parse_virtual(s.as_bytes(), base));
        assert_eq!(v("/css/app.css/extra"), "css/app.css info=/extra");
        assert_eq!(v("/css/app.css/a/b/"), "css/app.css info=/a/b/");
        assert_eq!(v("/inc/header.html/"), "inc/header.html info=/");
        assert_eq!(v("/inc/missing.html"), "404 inc/missing.html");
        assert_eq!(v("/nope/x.html"), "404 nope");
        let doc = sp("index.shtml");
        assert_eq!(
            run(&t, parse_file(b"css/app.css/extra", &doc)),
            "css/app.css info=/extra"
        );
    }

    #[test]
    fn escapes_in_virtual_and_file() {
        let t = tree(&[
            "A.html",
            "a b.html",
            "pct%41.html",
            "100%.html",
            "inc/",
            "inc/header.html",
        ]);
        let base = Some(&b"/index.shtml"[..]);
        let v = |s: &str| run(&t, parse_virtual(s.as_bytes(), base));
        assert_eq!(v("/%41.html"), "A.html");
        assert_eq!(v("/a%20b.html"), "a b.html");
        assert_eq!(v("/a b.html"), "a b.html");
        assert_eq!(v("/t/%2e%2e/inc/header.html"), "inc/header.html");
        assert_eq!(v("//inc//header.html"), "inc/header.html");
        assert!(v("/inc%2fheader.html").starts_with("path error"));
        assert!(v("/inc/header.html%00").starts_with("path error"));
        assert!(v("/inc/header.html%").starts_with("path error"));
        assert!(v("/inc/header%zz.html").starts_with("path error"));
        assert!(v("/../inc/header.html").starts_with("path error"));
        assert_eq!(v("/inc/header.html#x?y"), "inc/header.html");
        let doc = sp("index.shtml");
        let f = |s: &str| run(&t, parse_file(s.as_bytes(), &doc));
        assert_eq!(f("pct%41.html"), "pct%41.html");
        assert_eq!(f("%41.html"), "404 %41.html");
        assert_eq!(f("a b.html"), "a b.html");
        assert_eq!(f("a%20b.html"), "404 a%20b.html");
        assert!(f("100%.html").starts_with("path error"));
        assert!(f("inc%2fheader.html").starts_with("path error"));
    }

    #[test]
    fn the_query_and_fragment_of_a_virtual() {
        let r = parse_virtual(b"/qs.shtml?a=%41&b#frag?x", None).unwrap();
        assert_eq!(r.path, sp("qs.shtml"));
        assert_eq!(r.query.as_deref(), Some(&b"a=%41&b"[..]));
        let r = parse_virtual(b"/qs.shtml?", None).unwrap();
        assert_eq!(r.query.as_deref(), Some(&b""[..]));
        let r = parse_virtual(b"/qs.shtml#a?b", None).unwrap();
        assert_eq!(r.query, None);
    }
}
