//! Serve: the preview server behind `ssibake serve`. It answers what `--out` would
//! publish, byte for byte, from the bake's own plan and engine, and reloads the
//! browser pages a change touches.
//!
//! Stages: `site` holds the site as one immutable snapshot (the plan, every page
//! rendered with its dependency record); a watcher (the `notify` crate) turns file
//! events into a new snapshot, rendering again only the pages whose record names a
//! changed path, and `live` tells each connected page what that means for it
//! (reload, swap a stylesheet, nothing) over Server-Sent Events; `http` reads
//! requests and writes responses (ETag, 304, ranges). Request paths are checked
//! before anything is looked up (no `..`, encoded or not, no NUL, no backslash, no
//! hidden segment), and only paths of the plan are answered, read beneath the root
//! as every directive's file is; request headers never reach a template.

mod http;
mod live;
mod site;

use std::collections::HashSet;
use std::io::{self, BufReader, BufWriter, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use crate::bake::record::content_digest;
use crate::bake::BakeOptions;
use crate::engine::baker::Baker;
use crate::engine::errors::TemplateErrors;
use crate::site::fs::is_ignored_dir;
use crate::site::resolve::SitePath;
use crate::site::urlmap::percent_decode;
use http::{Body, ReadError, Request, Response};
use live::Hub;
use site::{Changed, Output, PageResult, PageResultRef, Resolved, Snapshot};

/// How the server listens and works.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// The address to bind (`127.0.0.1` by default in the command line).
    pub host: String,
    /// The port (0: any free port).
    pub port: u16,
    /// Pages rendered at once, at most (the fixed worker pool's size).
    pub workers: usize,
    /// Files outside the root whose change changes every page (`--apache-conf`).
    pub also_watch: Vec<PathBuf>,
    /// Open connections at most; more are answered 503.
    pub max_connections: usize,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            host: "127.0.0.1".into(),
            port: 8000,
            workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
            also_watch: Vec::new(),
            max_connections: 512,
        }
    }
}

/// Builds the engine and the bake's options afresh (the command line reads its
/// flags and `ssibake.toml` again): called at start and after every change.
pub type Load = Box<dyn Fn() -> Result<Loaded, String> + Send + Sync>;

/// What [`Load`] gives: the engine, the bake's options and where a bake would
/// write (left out of the site when it lies inside the root, as a bake leaves it).
pub struct Loaded {
    /// The engine with its site.
    pub baker: Baker,
    /// The bake's options: pages, exclusions, page extension, the extras.
    pub options: BakeOptions,
    /// The bake's output directory (`out` in `ssibake.toml`), if any.
    pub out: Option<PathBuf>,
}

/// What the server has to say, for the terminal.
#[non_exhaustive]
pub enum Event<'a> {
    /// A page failed (once per change that rendered it).
    Errors(&'a TemplateErrors),
    /// A page rendered with warnings (once per change that rendered it).
    Warnings(&'a TemplateErrors),
    /// The site or a page cannot be served at all.
    Problem(&'a str),
    /// A change was taken in.
    Changed {
        /// Paths changed.
        paths: usize,
        /// Pages rendered again.
        rendered: usize,
        /// Connected pages told to reload.
        reloaded: usize,
        /// From the first event to the new snapshot.
        elapsed: Duration,
    },
    /// The tree cannot be watched: no live reload.
    WatchFailed(String),
}

/// Receives the server's [`Event`]s.
pub type Report = Box<dyn Fn(Event<'_>) + Send + Sync>;

struct Shared {
    current: Mutex<Arc<Snapshot>>,
    load: Load,
    report: Report,
    /// The fixed pool every render runs on.
    pool: rayon::ThreadPool,
    hub: Hub,
    /// This process: a page served by another one reloads when it reconnects.
    instance: String,
    root: PathBuf,
    also_watch: Vec<PathBuf>,
    connections: AtomicUsize,
    max_connections: usize,
    /// Bound to a loopback address: only requests for a local host name are answered.
    loopback: bool,
}

impl Shared {
    fn current(&self) -> Arc<Snapshot> {
        self.current
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// A bound preview server; [`run`](Server::run) serves until the process ends.
pub struct Server {
    listener: TcpListener,
    shared: Arc<Shared>,
}

impl Server {
    /// Loads the site (every page rendered once, its errors reported), then binds.
    pub fn bind(
        root: &Path,
        opts: &ServeOptions,
        load: Load,
        report: Report,
    ) -> Result<Server, String> {
        let root = root
            .canonicalize()
            .map_err(|e| format!("cannot open the root `{}`: {e}", root.display()))?;
        let loaded = load()?;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(opts.workers.max(1))
            .thread_name(|i| format!("ssibake-render-{i}"))
            .build()
            .map_err(|e| format!("cannot start the render threads: {e}"))?;
        let (snapshot, rendered) = pool.install(|| {
            Snapshot::build(
                loaded,
                None,
                &Changed {
                    all: true,
                    ..Changed::default()
                },
            )
        });
        report_pages(&report, &snapshot, &rendered);
        let addr = (opts.host.as_str(), opts.port)
            .to_socket_addrs()
            .map_err(|e| format!("bad --host `{}`: {e}", opts.host))?
            .next()
            .ok_or_else(|| format!("bad --host `{}`", opts.host))?;
        let listener =
            TcpListener::bind(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        let seed = format!(
            "{:?}{}{:?}",
            std::time::SystemTime::now(),
            std::process::id(),
            addr
        );
        let instance = crate::engine::eval::hex(&content_digest(seed.as_bytes())[..8]);
        Ok(Server {
            listener,
            shared: Arc::new(Shared {
                current: Mutex::new(Arc::new(snapshot)),
                load,
                report,
                pool,
                hub: Hub::new(),
                instance,
                root,
                also_watch: opts.also_watch.clone(),
                connections: AtomicUsize::new(0),
                max_connections: opts.max_connections.max(1),
                loopback: addr.ip().is_loopback(),
            }),
        })
    }

    /// The address listened on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Watches the tree and answers requests, one thread per connection.
    pub fn run(self) -> io::Result<()> {
        let shared = self.shared.clone();
        std::thread::Builder::new()
            .name("ssibake-watch".into())
            .spawn(move || watch(shared))?;
        for stream in self.listener.incoming() {
            let Ok(stream) = stream else { continue };
            let shared = self.shared.clone();
            if shared.connections.fetch_add(1, Ordering::AcqRel) >= shared.max_connections {
                shared.connections.fetch_sub(1, Ordering::AcqRel);
                let mut w = BufWriter::new(stream);
                let _ =
                    http::write_response(&mut w, None, plain(503, "too many connections"), false);
                continue;
            }
            let spawned = std::thread::Builder::new()
                .name("ssibake-conn".into())
                .spawn(move || {
                    connection(&shared, stream);
                    shared.connections.fetch_sub(1, Ordering::AcqRel);
                });
            if spawned.is_err() {
                self.shared.connections.fetch_sub(1, Ordering::AcqRel);
            }
        }
        Ok(())
    }
}

/// Reports the failures and warnings of the pages just rendered (partials fail
/// through the pages that include them, as in a bake).
fn report_pages(report: &Report, snapshot: &Snapshot, rendered: &[SitePath]) {
    if let Some(p) = &snapshot.problem {
        report(Event::Problem(p));
        return;
    }
    let mut rendered: Vec<&SitePath> = rendered.iter().collect();
    rendered.sort();
    for input in rendered {
        if snapshot.partials.contains(input) {
            continue;
        }
        let Some(state) = snapshot.pages.get(input) else {
            continue;
        };
        if let Some(w) = &state.warnings {
            report(Event::Warnings(w));
        }
        match &state.result {
            PageResult::Failed(t) => report(Event::Errors(t)),
            PageResult::Broken(m) => report(Event::Problem(m)),
            PageResult::Ok(_) => {}
        }
    }
}

// ---- watching -------------------------------------------------------------------------

fn watch(shared: Arc<Shared>) {
    use notify::{RecursiveMode, Watcher};
    let (tx, rx) = mpsc::channel();
    let mut watcher = match notify::recommended_watcher(move |e| {
        let _ = tx.send(e);
    }) {
        Ok(w) => w,
        Err(e) => return (shared.report)(Event::WatchFailed(e.to_string())),
    };
    if let Err(e) = watcher.watch(&shared.root, RecursiveMode::Recursive) {
        return (shared.report)(Event::WatchFailed(e.to_string()));
    }
    // An editor saves by renaming over the file: its directory is watched.
    let mut extra = Vec::new();
    for f in &shared.also_watch {
        if let Ok(f) = f.canonicalize() {
            if let Some(dir) = f.parent() {
                let _ = watcher.watch(dir, RecursiveMode::NonRecursive);
            }
            extra.push(f);
        }
    }
    loop {
        let Ok(first) = rx.recv() else { return };
        let start = Instant::now();
        let mut events = vec![first];
        // The events of one save (write, rename, attributes) come as a burst.
        while start.elapsed() < Duration::from_millis(300) {
            match rx.recv_timeout(Duration::from_millis(25)) {
                Ok(e) => events.push(e),
                Err(mpsc::RecvTimeoutError::Timeout) => break,
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            }
        }
        let changed = classify(&shared, &extra, events);
        if changed.paths.is_empty() && !changed.all {
            continue;
        }
        rebuild(&shared, changed, start);
    }
}

/// The root-relative paths of a burst of events, and whether settings changed.
fn classify(
    shared: &Shared,
    extra: &[PathBuf],
    events: Vec<notify::Result<notify::Event>>,
) -> Changed {
    let mut changed = Changed::default();
    let current = shared.current();
    let git = current.base.mtime_from() == crate::site::version::MtimeFrom::Git;
    for event in events {
        let event = match event {
            Ok(e) => e,
            // Events were lost (a queue overflow): everything may have changed.
            Err(_) => {
                changed.all = true;
                continue;
            }
        };
        use notify::event::{EventKind, ModifyKind};
        match event.kind {
            EventKind::Access(_) => continue,
            EventKind::Modify(ModifyKind::Data(_)) => {}
            _ => changed.structure = true,
        }
        if event.need_rescan() {
            changed.all = true;
        }
        for path in event.paths {
            if extra.contains(&path) {
                changed.all = true;
                continue;
            }
            let Ok(rel) = path.strip_prefix(&shared.root) else {
                continue;
            };
            let Ok(site) = SitePath::from_relative(rel.as_os_str().as_encoded_bytes()) else {
                continue;
            };
            let first = site.as_bytes().split(|&b| b == b'/').next().unwrap_or(b"");
            if first == b".git" {
                // The git index or a new commit changes version times.
                changed.all |= git;
                continue;
            }
            // ssibake's own record and staging trees, other version control, and a
            // bake's output inside the root are not the site.
            if site.as_bytes().split(|&b| b == b'/').any(is_ignored_dir)
                || current
                    .skip
                    .iter()
                    .any(|s| site::touches(&HashSet::from([s.clone()]), &site))
            {
                continue;
            }
            if site.file_name() == b".htaccess" || site.as_bytes() == b"ssibake.toml" {
                changed.all = true;
            }
            changed.paths.insert(site);
        }
    }
    changed
}

/// Takes a change in: a new snapshot, its failures reported, the pages told.
fn rebuild(shared: &Shared, changed: Changed, start: Instant) {
    let old = shared.current();
    let (new, rendered) = match (shared.load)() {
        Ok(loaded) => shared
            .pool
            .install(|| Snapshot::build(loaded, Some(&old), &changed)),
        Err(message) => (
            Snapshot::broken(old.base.clone(), old.opts.clone(), message),
            Vec::new(),
        ),
    };
    report_pages(&shared.report, &new, &rendered);
    let new = Arc::new(new);
    *shared.current.lock().unwrap_or_else(|p| p.into_inner()) = new.clone();
    let paths: HashSet<SitePath> = changed.paths;
    let reloaded = shared.hub.notify(&old, &new, &paths);
    (shared.report)(Event::Changed {
        paths: paths.len(),
        rendered: rendered.len(),
        reloaded,
        elapsed: start.elapsed(),
    });
}

// ---- requests -------------------------------------------------------------------------

fn connection(shared: &Shared, stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(30)));
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut writer = BufWriter::with_capacity(64 * 1024, stream);
    loop {
        let req = match http::read_request(&mut reader) {
            Ok(r) => r,
            Err(ReadError::Closed) => return,
            Err(ReadError::Bad(status)) => {
                let _ = http::write_response(
                    &mut writer,
                    None,
                    plain(status, http::reason(status)),
                    false,
                );
                return;
            }
        };
        let keep = req.keep_alive();
        let resp = match route(shared, &req) {
            Route::Events(path, slash, version) => {
                return events(shared, writer, path, slash, &version)
            }
            Route::Respond(r) => r,
        };
        if http::write_response(&mut writer, Some(&req), resp, keep).is_err() || !keep {
            return;
        }
    }
}

enum Route {
    Respond(Response),
    /// The event stream of the page at this path (what it was served as).
    Events(SitePath, bool, String),
}

/// A request path checked as a directive's is, before anything is looked up: the
/// query cut off (never seen by a template), `%XX` decoded (malformed escapes,
/// `%00` and `%2F` refused), and refused outright with a `..` or `.` segment,
/// encoded or not, a backslash or a control character. Returns the path, whether
/// it ended in `/`, the raw path and the query.
#[allow(clippy::type_complexity)]
fn request_path(target: &[u8]) -> Result<(SitePath, bool, Vec<u8>, Option<Vec<u8>>), u16> {
    let target = match target
        .strip_prefix(b"http://")
        .or_else(|| target.strip_prefix(b"https://"))
    {
        Some(rest) => &rest[memchr::memchr(b'/', rest).ok_or(400u16)?..],
        None => target,
    };
    if target.first() != Some(&b'/') {
        return Err(400);
    }
    let (raw, query) = match memchr::memchr(b'?', target) {
        Some(i) => (&target[..i], Some(target[i + 1..].to_vec())),
        None => (target, None),
    };
    let bad = |b: &u8| *b == b'\\' || *b < b' ' || *b == 0x7f;
    if raw.iter().any(|b| bad(b) || *b == b' ' || *b == b'#') {
        return Err(400);
    }
    let decoded = percent_decode(raw).ok_or(400u16)?;
    if decoded.iter().any(bad) {
        return Err(400);
    }
    if decoded
        .split(|&b| b == b'/')
        .any(|s| s == b".." || s == b".")
    {
        return Err(400);
    }
    let slash = decoded.ends_with(b"/");
    let path = SitePath::from_relative(&decoded).map_err(|_| 400u16)?;
    Ok((path, slash, raw.to_vec(), query))
}

/// `.htaccess`, `.htpasswd`, version control and ssibake's own record are never
/// served, whatever the plan says.
fn hidden(path: &SitePath) -> bool {
    path.as_bytes()
        .split(|&b| b == b'/')
        .any(|s| s.starts_with(b".ht") || is_ignored_dir(s))
}

/// A query parameter, `%XX` and `+` decoded.
fn query_param(query: &[u8], name: &str) -> Option<Vec<u8>> {
    for pair in query.split(|&b| b == b'&') {
        let (k, v) = match memchr::memchr(b'=', pair) {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &b""[..]),
        };
        if k != name.as_bytes() {
            continue;
        }
        let mut out = Vec::with_capacity(v.len());
        let mut i = 0;
        while i < v.len() {
            match v[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < v.len() => {
                    let hex = std::str::from_utf8(&v[i + 1..i + 3]).ok()?;
                    out.push(u8::from_str_radix(hex, 16).ok()?);
                    i += 2;
                }
                b => out.push(b),
            }
            i += 1;
        }
        return Some(out);
    }
    None
}

/// A `Host` a loopback server answers: `localhost` (or a name under it) or an IP
/// address. Any other name reached 127.0.0.1 by DNS rebinding: a page of another
/// site reading the preview (and the files it serves) through the visitor's browser.
fn local_host(host: Option<&str>) -> bool {
    let Some(host) = host else {
        // HTTP/1.0 without a Host: not a browser's request.
        return true;
    };
    let name = match host.strip_prefix('[') {
        Some(rest) => {
            return rest
                .split(']')
                .next()
                .is_some_and(|ip| ip.parse::<std::net::Ipv6Addr>().is_ok())
        }
        None => host.rsplit_once(':').map_or(host, |(n, _)| n),
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name.parse::<std::net::IpAddr>().is_ok() || name == "localhost" || name.ends_with(".localhost")
}

fn plain(status: u16, text: &str) -> Response {
    Response::new(status, "text/plain; charset=utf-8", format!("{text}\n"))
}

fn route(shared: &Shared, req: &Request) -> Route {
    if req.method != "GET" && req.method != "HEAD" {
        return Route::Respond(plain(405, "only GET and HEAD").header("Allow", "GET, HEAD"));
    }
    if shared.loopback && !local_host(req.header("host")) {
        return Route::Respond(plain(
            403,
            "ssibake serve on a loopback address answers requests for localhost only",
        ));
    }
    let (path, slash, raw, query) = match request_path(&req.target) {
        Ok(p) => p,
        Err(status) => return Route::Respond(plain(status, "refused: not a path of this site")),
    };
    if raw.starts_with(live::PREFIX.as_bytes()) {
        if &raw[..] == format!("{}events", live::PREFIX).as_bytes() {
            let q = query.unwrap_or_default();
            let page = query_param(&q, "path").unwrap_or_else(|| b"/".to_vec());
            let version = query_param(&q, "v").unwrap_or_default();
            if let Ok((p, s, _, _)) = request_path(&page) {
                return Route::Events(p, s, String::from_utf8_lossy(&version).into_owned());
            }
        }
        return Route::Respond(plain(404, "not found"));
    }
    let snap = shared.current();
    let script = |path: &SitePath, slash: bool| {
        let v = crate::engine::eval::hex(&snap.fingerprint(path, slash)[..8]);
        live::script(&shared.instance, &v)
    };
    if let Some(problem) = &snap.problem {
        let page = live::overlay("the site cannot be served", problem, &script(&path, slash));
        return Route::Respond(
            Response::new(500, "text/html; charset=utf-8", page)
                .header("Cache-Control", "no-store"),
        );
    }
    if hidden(&path) {
        return Route::Respond(plain(403, "forbidden"));
    }
    let resp = match snap.resolve(&path, slash) {
        Resolved::Found(out, Output::Page(input)) => {
            let content_type = snap.content_type(&out, &Output::Page(input.clone()));
            let needs_pool = snap.pages.get(&input).is_some_and(|s| s.clock || s.watched);
            let answer = if needs_pool {
                shared.pool.install(|| snap.page(&input, &out))
            } else {
                snap.page(&input, &out)
            };
            match answer {
                Some(PageResultRef::Ok(bytes, state)) => {
                    let html = content_type
                        .as_deref()
                        .is_some_and(|t| t.starts_with("text/html"));
                    let body: Arc<[u8]> = if html {
                        live::inject(&bytes, &script(&path, slash)).into()
                    } else {
                        bytes
                    };
                    bytes_response(body, content_type, Some(state.newest))
                }
                Some(PageResultRef::Err(state)) => {
                    let (title, text) = match &state.result {
                        PageResult::Failed(t) => {
                            (format!("error in {}", t.page()), live::diagnostics_text(t))
                        }
                        PageResult::Broken(m) => {
                            (format!("cannot read {}", input.display()), m.clone())
                        }
                        PageResult::Ok(_) => (String::new(), String::new()),
                    };
                    let page = live::overlay(&title, &text, &script(&path, slash));
                    Response::new(500, "text/html; charset=utf-8", page)
                        .header("Cache-Control", "no-store")
                }
                None => not_found(&script(&path, slash)),
            }
        }
        Resolved::Found(out, o @ (Output::Asset(_) | Output::Revved(_))) => {
            let (Output::Asset(file) | Output::Revved(file)) = &o else {
                unreachable!()
            };
            match static_file(&snap, file, snap.content_type(&out, &o)) {
                Ok(r) => r,
                Err(e) if e.kind() == io::ErrorKind::NotFound => not_found(&script(&path, slash)),
                Err(_) => plain(403, "forbidden"),
            }
        }
        Resolved::Found(out, o @ Output::Version) => {
            // The build ID is the bake's own run: on the render pool.
            let version = shared.pool.install(|| snap.version());
            bytes_response(version, snap.content_type(&out, &o), None)
        }
        Resolved::Found(out, o @ Output::Client(s)) => {
            bytes_response(s.as_bytes().into(), snap.content_type(&out, &o), None)
        }
        Resolved::Found(_, Output::Link) | Resolved::Forbidden => plain(403, "forbidden"),
        Resolved::Redirect => {
            // The path as the client sent it (still %-encoded), with its slash.
            let mut url = raw;
            url.push(b'/');
            if let Some(q) = query {
                url.push(b'?');
                url.extend_from_slice(&q);
            }
            plain(301, "moved").header("Location", String::from_utf8_lossy(&url).into_owned())
        }
        Resolved::NotFound => not_found(&script(&path, slash)),
    };
    Route::Respond(resp)
}

fn not_found(script: &str) -> Response {
    let page = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>404 Not Found</title></head>\
<body><h1>Not Found</h1><p>The bake would publish nothing at this path.</p>{script}</body></html>\n"
    );
    Response::new(404, "text/html; charset=utf-8", page).header("Cache-Control", "no-store")
}

fn bytes_response(body: Arc<[u8]>, content_type: Option<String>, mtime: Option<i64>) -> Response {
    let etag = format!("\"{}\"", crate::engine::eval::hex(&content_digest(&body)));
    let mut headers = vec![("Cache-Control", "no-cache".to_string())];
    if let Some(t) = content_type {
        headers.push(("Content-Type", t));
    }
    Response {
        status: 200,
        headers,
        body: Body::Bytes(body),
        etag: Some(etag),
        mtime,
        ranges: true,
    }
}

/// A file published as it is, opened beneath the root (a symlink out of it is
/// refused by the same open that reads it).
fn static_file(
    snap: &Snapshot,
    file: &SitePath,
    content_type: Option<String>,
) -> io::Result<Response> {
    let f = snap.base.fs.open_file(file)?;
    let meta = f.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::new(io::ErrorKind::NotFound, "not a file"));
    }
    use std::os::unix::fs::MetadataExt;
    // As Apache's default FileETag: inode, size, modification time (a file from
    // before 1970 has a negative one).
    let etag = format!(
        "\"{:x}-{:x}-{}.{:09}\"",
        meta.ino(),
        meta.len(),
        meta.mtime(),
        meta.mtime_nsec()
    );
    let mut headers = vec![("Cache-Control", "no-cache".to_string())];
    if let Some(t) = content_type {
        headers.push(("Content-Type", t));
    }
    Ok(Response {
        status: 200,
        headers,
        body: Body::File(f, meta.len()),
        etag: Some(etag),
        mtime: Some(meta.mtime()),
        ranges: true,
    })
}

/// The event stream of one page: `hello` with the instance, then `reload` or `css`
/// when a change touches it, a comment every 15 s to find closed connections.
fn events(
    shared: &Shared,
    mut w: BufWriter<TcpStream>,
    path: SitePath,
    slash: bool,
    version: &str,
) {
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n\
Connection: close\r\n\r\nretry: 500\n\nevent: hello\ndata: {}\n\n",
        shared.instance
    );
    // Joined before `hello` is sent: a change right after the page saw it is not lost.
    let (id, rx) = shared.hub.join(path.clone(), slash);
    if w.write_all(head.as_bytes())
        .and_then(|()| w.flush())
        .is_err()
    {
        shared.hub.leave(id);
        return;
    }
    // Changed between the page's response and this connection: reload now.
    let now = crate::engine::eval::hex(&shared.current().fingerprint(&path, slash)[..8]);
    if !version.is_empty() && now != version {
        let _ = w
            .write_all(b"event: reload\ndata: \n\n")
            .and_then(|()| w.flush());
    }
    loop {
        let message = match rx.recv_timeout(Duration::from_secs(15)) {
            Ok(m) => m,
            Err(mpsc::RecvTimeoutError::Timeout) => ": ping\n\n".to_string(),
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        };
        if w.write_all(message.as_bytes())
            .and_then(|()| w.flush())
            .is_err()
        {
            break;
        }
    }
    shared.hub.leave(id);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_paths_are_refused_before_any_lookup() {
        let ok = |t: &str| request_path(t.as_bytes()).map(|(p, s, _, _)| (p.display(), s));
        assert_eq!(ok("/a/b.html?x=1"), Ok(("a/b.html".into(), false)));
        assert_eq!(ok("/a/"), Ok(("a".into(), true)));
        assert_eq!(ok("/a%20b"), Ok(("a b".into(), false)));
        assert_eq!(ok("//a//b"), Ok(("a/b".into(), false)));
        for bad in [
            "/../etc/passwd",
            "/a/../../x",
            "/a/./b",
            "/%2e%2e/x",
            "/%2E%2E/x",
            "/.%2e/x",
            "/a%2f..%2fb",
            "/a%00.html",
            "/a\\..\\b",
            "/a%5c..%5cb",
            "/a%5Cb",
            "a",
            "/a%zz",
            "/a%",
        ] {
            assert!(ok(bad).is_err(), "{bad} must be refused");
        }
        assert!(hidden(&SitePath::from_relative(b".git/config").unwrap()));
        assert!(hidden(&SitePath::from_relative(b"a/.htaccess").unwrap()));
        assert!(hidden(
            &SitePath::from_relative(b".ssibake/deps.json").unwrap()
        ));
        assert!(!hidden(&SitePath::from_relative(b".well-known/x").unwrap()));
    }

    #[test]
    fn only_local_hosts_reach_a_loopback_server() {
        for ok in [
            "127.0.0.1:8000",
            "localhost",
            "LOCALHOST:1",
            "a.localhost",
            "[::1]:80",
            "10.0.0.1",
        ] {
            assert!(local_host(Some(ok)), "{ok}");
        }
        for bad in [
            "evil.example",
            "evil.example:8000",
            "localhost.evil.example",
            "[evil]",
        ] {
            assert!(!local_host(Some(bad)), "{bad}");
        }
    }

    #[test]
    fn query_parameters() {
        assert_eq!(
            query_param(b"path=%2Fa%20b&v=1", "path"),
            Some(b"/a b".to_vec())
        );
        assert_eq!(query_param(b"path=%2Fa%20b&v=1", "v"), Some(b"1".to_vec()));
        assert_eq!(query_param(b"x", "v"), None);
    }
}
