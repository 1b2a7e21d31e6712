//! HTTP/1.1 on `std::net`: request heads read, responses written, conditional
//! requests (ETag, Last-Modified, 304) and byte ranges (206, 416).
//!
//! Hand-rolled rather than a crate: the preview server answers GET and HEAD on
//! loopback, keeps connections alive and streams Server-Sent Events, which must be
//! flushed message by message (tiny_http's chunked encoder buffers them). That is
//! about 300 lines without a dependency or its compile time; no request body is ever
//! read (one is refused), so there is no body parser to get wrong.

use std::io::{self, BufRead, Read, Seek, Write};

/// The longest request head read (request line and headers).
const MAX_HEAD: usize = 16 * 1024;

/// A request head.
#[derive(Debug)]
pub(crate) struct Request {
    pub(crate) method: String,
    /// The request target as sent (`/a%20b?x=1`).
    pub(crate) target: Vec<u8>,
    /// HTTP/1.1 or later (keep-alive by default).
    pub(crate) http11: bool,
    headers: Vec<(String, String)>,
}

impl Request {
    /// The value of header `name` (case-insensitive), the first one.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The connection stays open after the response.
    pub(crate) fn keep_alive(&self) -> bool {
        let conn = self.header("connection").unwrap_or("").to_ascii_lowercase();
        if self.http11 {
            !conn.split(',').any(|t| t.trim() == "close")
        } else {
            conn.split(',').any(|t| t.trim() == "keep-alive")
        }
    }
}

/// Why a request head could not be read.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The peer closed the connection (or timed out) between requests.
    Closed,
    /// Malformed, or larger than allowed: answered with this status, then closed.
    Bad(u16),
}

impl From<io::Error> for ReadError {
    fn from(_: io::Error) -> ReadError {
        ReadError::Closed
    }
}

/// Reads one request head.
pub(crate) fn read_request(r: &mut impl BufRead) -> Result<Request, ReadError> {
    let mut head = Vec::with_capacity(512);
    // Lines until the empty one; a few empty lines before a request are allowed.
    loop {
        let before = head.len();
        let n = r
            .by_ref()
            .take((MAX_HEAD + 1 - head.len()) as u64)
            .read_until(b'\n', &mut head)?;
        if n == 0 {
            return Err(if head.is_empty() {
                ReadError::Closed
            } else {
                ReadError::Bad(400)
            });
        }
        if head.len() > MAX_HEAD {
            return Err(ReadError::Bad(431));
        }
        if !head.ends_with(b"\n") {
            return Err(ReadError::Bad(400));
        }
        let line = &head[before..];
        if line == b"\r\n" || line == b"\n" {
            if before == 0 {
                head.clear();
                continue;
            }
            break;
        }
    }
    let text = std::str::from_utf8(&head).map_err(|_| ReadError::Bad(400))?;
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let request_line = lines.next().ok_or(ReadError::Bad(400))?;
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ReadError::Bad(400));
    };
    let http11 = match version {
        "HTTP/1.1" => true,
        "HTTP/1.0" => false,
        v if v.starts_with("HTTP/") => return Err(ReadError::Bad(505)),
        _ => return Err(ReadError::Bad(400)),
    };
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(ReadError::Bad(400));
    }
    let mut headers = Vec::new();
    for line in lines.filter(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':').ok_or(ReadError::Bad(400))?;
        if name.is_empty() || name.bytes().any(|b| b == b' ' || b == b'\t') {
            return Err(ReadError::Bad(400));
        }
        headers.push((name.to_string(), value.trim().to_string()));
        if headers.len() > 100 {
            return Err(ReadError::Bad(431));
        }
    }
    let req = Request {
        method: method.to_string(),
        target: target.as_bytes().to_vec(),
        http11,
        headers,
    };
    // No request body is read: one would be taken for the next request.
    let has_body = req.header("transfer-encoding").is_some()
        || req
            .header("content-length")
            .is_some_and(|l| l.trim() != "0");
    if has_body {
        return Err(ReadError::Bad(413));
    }
    Ok(req)
}

/// A response body.
pub(crate) enum Body {
    Bytes(std::sync::Arc<[u8]>),
    /// A file on disk (opened beneath the root), with its length.
    File(std::fs::File, u64),
}

impl Body {
    fn len(&self) -> u64 {
        match self {
            Body::Bytes(b) => b.len() as u64,
            Body::File(_, n) => *n,
        }
    }
}

/// A response before it is written.
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) body: Body,
    /// Validators: the ETag and the modification time (Unix seconds).
    pub(crate) etag: Option<String>,
    pub(crate) mtime: Option<i64>,
    /// Byte ranges may be served from the body.
    pub(crate) ranges: bool,
}

impl Response {
    pub(crate) fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Response {
        let body: Vec<u8> = body.into();
        Response {
            status,
            headers: vec![("Content-Type", content_type.to_string())],
            body: Body::Bytes(body.into()),
            etag: None,
            mtime: None,
            ranges: false,
        }
    }

    pub(crate) fn header(mut self, name: &'static str, value: impl Into<String>) -> Response {
        self.headers.push((name, value.into()));
        self
    }
}

pub(crate) fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        206 => "Partial Content",
        301 => "Moved Permanently",
        304 => "Not Modified",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Content Too Large",
        416 => "Range Not Satisfiable",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// `Sun, 06 Nov 1994 08:49:37 GMT`.
pub(crate) fn http_date(unix: i64) -> String {
    jiff::Timestamp::from_second(unix)
        .map(|t| t.strftime("%a, %d %b %Y %H:%M:%S GMT").to_string())
        .unwrap_or_default()
}

fn parse_http_date(s: &str) -> Option<i64> {
    jiff::fmt::rfc2822::parse(s)
        .ok()
        .map(|z| z.timestamp().as_second())
}

/// `If-None-Match` lists `etag` (weak comparison, as for GET) or is `*`.
fn none_match(header: &str, etag: &str) -> bool {
    let bare = |t: &str| t.trim().trim_start_matches("W/").to_string();
    header
        .split(',')
        .any(|t| t.trim() == "*" || bare(t) == bare(etag))
}

/// One range of `bytes=` against a body of `len` bytes: `Ok(None)` serve it all,
/// `Err(())` unsatisfiable.
fn range(header: &str, len: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    // Several ranges would need multipart/byteranges: the whole body instead, as
    // RFC 9110 allows.
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return Ok(None);
    };
    let num = |s: &str| s.trim().parse::<u64>().ok();
    let (start, end) = match (a.trim().is_empty(), b.trim().is_empty()) {
        // `-N`: the last N bytes.
        (true, false) => {
            let n = num(b).ok_or(())?;
            if n == 0 {
                return Err(());
            }
            (len.saturating_sub(n), len.checked_sub(1).ok_or(())?)
        }
        (false, true) => (num(a).ok_or(())?, len.saturating_sub(1)),
        (false, false) => {
            let (s, e) = (num(a).ok_or(())?, num(b).ok_or(())?);
            if e < s {
                return Ok(None);
            }
            (s, e.min(len.saturating_sub(1)))
        }
        (true, true) => return Ok(None),
    };
    if start >= len {
        return Err(());
    }
    Ok(Some((start, end)))
}

/// Writes `resp` for `req` (conditional requests and ranges applied; no body for
/// HEAD). Returns whether the connection may stay open.
pub(crate) fn write_response(
    w: &mut impl Write,
    req: Option<&Request>,
    mut resp: Response,
    keep_alive: bool,
) -> io::Result<()> {
    let head_only = req.is_some_and(|r| r.method == "HEAD");
    let mut status = resp.status;
    let len = resp.body.len();
    let mut slice = (0, len);
    if status == 200 {
        if let Some(tag) = &resp.etag {
            resp.headers.push(("ETag", tag.clone()));
        }
        if let Some(t) = resp.mtime {
            resp.headers.push(("Last-Modified", http_date(t)));
        }
        let not_modified = match (req.and_then(|r| r.header("if-none-match")), &resp.etag) {
            (Some(h), Some(tag)) => none_match(h, tag),
            (Some(_), None) => false,
            (None, _) => match (
                req.and_then(|r| r.header("if-modified-since"))
                    .and_then(parse_http_date),
                resp.mtime,
            ) {
                (Some(since), Some(t)) => t <= since,
                _ => false,
            },
        };
        if not_modified {
            status = 304;
        } else if resp.ranges {
            resp.headers.push(("Accept-Ranges", "bytes".into()));
            let wanted = req.and_then(|r| r.header("range"));
            // If-Range: the range only while the representation is the one named.
            let current = req.and_then(|r| r.header("if-range")).map_or(true, |v| {
                resp.etag.as_deref() == Some(v.trim())
                    || resp.mtime.map(http_date).as_deref() == Some(v.trim())
            });
            if let (Some(h), true) = (wanted, current) {
                match range(h, len) {
                    Ok(Some((s, e))) => {
                        status = 206;
                        slice = (s, e + 1 - s);
                        resp.headers
                            .push(("Content-Range", format!("bytes {s}-{e}/{len}")));
                    }
                    Ok(None) => {}
                    Err(()) => {
                        status = 416;
                        resp.headers
                            .push(("Content-Range", format!("bytes */{len}")));
                        resp.body = Body::Bytes(Vec::new().into());
                        slice = (0, 0);
                    }
                }
            }
        }
    }
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (n, v) in &resp.headers {
        if status == 304 && (*n == "Content-Type" || *n == "Accept-Ranges") {
            continue;
        }
        head.push_str(n);
        head.push_str(": ");
        head.push_str(v);
        head.push_str("\r\n");
    }
    if status != 304 {
        head.push_str(&format!("Content-Length: {}\r\n", slice.1));
    }
    head.push_str(if keep_alive {
        "Connection: keep-alive\r\n\r\n"
    } else {
        "Connection: close\r\n\r\n"
    });
    w.write_all(head.as_bytes())?;
    if !head_only && status != 304 {
        match resp.body {
            Body::Bytes(b) => {
                let (s, n) = (slice.0 as usize, slice.1 as usize);
                w.write_all(&b[s..s + n])?;
            }
            Body::File(mut f, _) => {
                f.seek(io::SeekFrom::Start(slice.0))?;
                let copied = io::copy(&mut f.take(slice.1), w)?;
                if copied != slice.1 {
                    // The file shrank while it was sent: the length is a lie now.
                    return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "file shrank"));
                }
            }
        }
    }
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(text: &str) -> Result<Request, ReadError> {
        read_request(&mut io::BufReader::new(text.as_bytes()))
    }

    #[test]
    fn reads_a_head() {
        let r = req("GET /a?b HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1\r\n\r\n").unwrap();
        assert_eq!((r.method.as_str(), &r.target[..]), ("GET", &b"/a?b"[..]));
        assert_eq!(r.header("range"), Some("bytes=0-1"));
        assert!(r.keep_alive());
        assert!(matches!(
            req("GET / HTTP/2.0\r\n\r\n"),
            Err(ReadError::Bad(505))
        ));
        assert!(matches!(
            req("GET  / HTTP/1.1\r\n\r\n"),
            Err(ReadError::Bad(400))
        ));
        assert!(matches!(
            req("GET / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"),
            Err(ReadError::Bad(413))
        ));
        assert!(matches!(req(""), Err(ReadError::Closed)));
        let long = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(MAX_HEAD));
        assert!(matches!(req(&long), Err(ReadError::Bad(431))));
    }

    #[test]
    fn ranges() {
        assert_eq!(range("bytes=0-9", 100), Ok(Some((0, 9))));
        assert_eq!(range("bytes=90-", 100), Ok(Some((90, 99))));
        assert_eq!(range("bytes=-10", 100), Ok(Some((90, 99))));
        assert_eq!(range("bytes=-1000", 100), Ok(Some((0, 99))));
        assert_eq!(range("bytes=50-1000", 100), Ok(Some((50, 99))));
        assert_eq!(range("bytes=100-", 100), Err(()));
        assert_eq!(range("bytes=-0", 100), Err(()));
        assert_eq!(range("bytes=0-1,3-4", 100), Ok(None));
        assert_eq!(range("items=0-1", 100), Ok(None));
    }

    #[test]
    fn dates_round_trip() {
        let d = http_date(784_111_777);
        assert_eq!(d, "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(parse_http_date(&d), Some(784_111_777));
    }
}
