//! `ssibake serve` over HTTP, as a browser or `curl` meets it: the real binary on
//! 127.0.0.1 (port 0), a small HTTP/1.1 client of the test's own.
//!
//! - Every fixture of `fixtures/` and a baked tree (the example site with the
//!   version file and the client) are served byte for byte as `--out` writes them
//!   (the reload script cut out), and what the bake would not publish is a 404.
//! - 304 for a repeated request (ETag and Last-Modified), HEAD, byte ranges.
//! - Path escapes (`/../`, `%2e%2e`, `%00`, backslashes, symlinks out of the root,
//!   `.git`, `.ssibake`, `.htaccess`) refused.
//! - A bounded load test: 10,000 requests at concurrency 8, every one answered.
//! - Live reload at the event-stream level: a partial's change reaches exactly the
//!   pages that include it; a failing page is reported once per change.
//! - The command line: `ssibake serve` beside `ssibake [OPTIONS] FILE...`.

mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::fixture::{load_cases, Mode};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_ssibake")
}

// ---- the server process ---------------------------------------------------------------

/// A running `ssibake serve`, killed when dropped.
struct Serve {
    child: Child,
    addr: String,
    stderr: Arc<Mutex<String>>,
}

impl Serve {
    /// Starts `ssibake serve --port 0 ARGS...` with `env` and waits for its address.
    fn start(args: &[&str], env: &[(&str, &str)]) -> Serve {
        let mut cmd = Command::new(bin());
        cmd.env_clear()
            .arg("serve")
            .args(["--port", "0"])
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn ssibake serve");
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let mut lines = BufReader::new(child.stderr.take().unwrap());
        let log = stderr.clone();
        std::thread::spawn(move || {
            let mut line = String::new();
            loop {
                line.clear();
                match lines.read_line(&mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                log.lock().unwrap().push_str(&line);
                if let Some(i) = line.find(" at http://") {
                    let rest = &line[i + " at http://".len()..];
                    let addr = rest.split('/').next().unwrap().to_string();
                    let _ = tx.send(addr);
                }
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(a) => a,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "ssibake serve {args:?} did not start:\n{}",
                    stderr.lock().unwrap()
                );
            }
        };
        Serve {
            child,
            addr,
            stderr,
        }
    }

    fn get(&self, target: &str) -> Reply {
        request(&self.addr, "GET", target, &[])
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits until standard error holds `n` occurrences of `needle`.
    fn wait_stderr(&self, needle: &str, n: usize) {
        let start = Instant::now();
        while self.stderr().matches(needle).count() < n {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "never saw {n} × {needle:?} on stderr:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---- a small HTTP client --------------------------------------------------------------

#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One request on its own connection (`Connection: close`), the target sent as is.
fn request(addr: &str, method: &str, target: &str, headers: &[(&str, &str)]) -> Reply {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut head = format!("{method} {target} HTTP/1.1\r\nConnection: close\r\n");
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        head.push_str(&format!("Host: {addr}\r\n"));
    }
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    let mut r = BufReader::new(s);
    // No reply at all (the connection closed): status 0.
    read_reply(&mut r, method == "HEAD").unwrap_or(Reply {
        status: 0,
        headers: Vec::new(),
        body: Vec::new(),
    })
}

fn read_reply(r: &mut impl BufRead, head_only: bool) -> Option<Reply> {
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let status: u16 = line.split(' ').nth(1)?.parse().ok()?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        r.read_line(&mut line).ok()?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (n, v) = l.split_once(':')?;
        headers.push((n.to_string(), v.trim().to_string()));
    }
    let mut reply = Reply {
        status,
        headers,
        body: Vec::new(),
    };
    if !head_only && status != 304 {
        let len: usize = reply.header("content-length")?.parse().ok()?;
        reply.body.resize(len, 0);
        r.read_exact(&mut reply.body).ok()?;
    }
    Some(reply)
}

/// The page with the reload script cut out; there must be exactly one.
fn without_script(body: &[u8]) -> Result<Vec<u8>, String> {
    let start = b"<script id=\"ssibake-live-reload\">";
    let found: Vec<usize> = body
        .windows(start.len())
        .enumerate()
        .filter(|(_, w)| w == start)
        .map(|(i, _)| i)
        .collect();
    if found.len() != 1 {
        return Err(format!("{} reload scripts in the page", found.len()));
    }
    let at = found[0];
    let end = body[at..]
        .windows(9)
        .position(|w| w == b"</script>")
        .ok_or("an unterminated reload script")?
        + at
        + 9;
    Ok([&body[..at], &body[end..]].concat())
}

/// `%XX` for every byte but the unreserved ones and `/`.
fn encode(path: &[u8]) -> String {
    let mut out = String::from("/");
    for &b in path {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Every file (and symlink) under `dir`, root-relative, `.ssibake/` left out.
fn files(dir: &Path) -> BTreeMap<Vec<u8>, PathBuf> {
    let mut out = BTreeMap::new();
    for e in walkdir::WalkDir::new(dir).follow_links(false) {
        let e = e.unwrap();
        if e.file_type().is_dir() {
            continue;
        }
        let rel = e.path().strip_prefix(dir).unwrap();
        let bytes = rel.as_os_str().as_encoded_bytes().to_vec();
        if bytes.starts_with(b".ssibake/") || bytes.starts_with(b".git/") {
            continue;
        }
        out.insert(bytes, e.path().to_path_buf());
    }
    out
}

/// Compares what the server answers for every path of `out` (the bake's output)
/// and of `root` (the site) with what the bake published.
fn compare_tree(serve: &Serve, root: &Path, out: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let published = files(out);
    for (rel, path) in &published {
        let target = encode(rel);
        let name = String::from_utf8_lossy(rel).into_owned();
        let hidden = rel.split(|&b| b == b'/').any(|s| s.starts_with(b".ht"));
        let meta = std::fs::symlink_metadata(path).unwrap();
        if hidden || meta.file_type().is_symlink() {
            let r = serve.get(&target);
            if r.status != 403 {
                problems.push(format!("{name}: {} instead of 403", r.status));
            }
            continue;
        }
        if meta.len() > 1 << 20 {
            let r = request(&serve.addr, "HEAD", &target, &[]);
            if r.status != 200 || r.header("content-length") != Some(&meta.len().to_string()) {
                problems.push(format!(
                    "{name}: HEAD {} {:?}",
                    r.status,
                    r.header("content-length")
                ));
            }
            continue;
        }
        let want = std::fs::read(path).unwrap();
        let r = serve.get(&target);
        if r.status != 200 {
            problems.push(format!("{name}: status {}: {}", r.status, r.text()));
            continue;
        }
        let html = r
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/html"));
        let is_page = r.header("cache-control") == Some("no-cache") && html && want != r.body;
        let got = if is_page {
            match without_script(&r.body) {
                Ok(b) => b,
                Err(e) => {
                    problems.push(format!("{name}: {e}"));
                    continue;
                }
            }
        } else {
            r.body.clone()
        };
        if got != want {
            problems.push(format!(
                "{name}: served bytes differ from --out's\n--- out\n{}\n--- served\n{}",
                String::from_utf8_lossy(&want),
                String::from_utf8_lossy(&got)
            ));
        }
    }
    // What the bake does not publish is not served.
    for (rel, _) in files(root) {
        if published.contains_key(&rel) {
            continue;
        }
        let r = serve.get(&encode(&rel));
        if r.status != 404 && r.status != 403 {
            problems.push(format!(
                "{}: not in --out, yet served with {}",
                String::from_utf8_lossy(&rel),
                r.status
            ));
        }
    }
    problems
}

fn tmp() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("ssibake-serve-")
        .tempdir()
        .unwrap()
}

// ---- byte for byte as --out -----------------------------------------------------------

/// Every fixture, in `errmsg` mode and (for the failing ones) in `fail` mode: what
/// `ssibake serve` answers is what `ssibake --out` writes.
#[test]
fn every_fixture_is_served_as_the_bake_writes_it() {
    let cases = load_cases();
    let dir = tmp();
    let mut failures = support::Failures::default();
    for case in &cases {
        let root = case.materialize(dir.path());
        let modes: &[Mode] = if case.mode == Mode::Fail {
            &[Mode::Errmsg, Mode::Fail]
        } else {
            &[Mode::Errmsg]
        };
        for &mode in modes {
            let out = root.parent().unwrap().join(format!("out-{}", mode.flag()));
            let mut flags: Vec<String> = vec![
                "--root".into(),
                root.display().to_string(),
                "--on-error".into(),
                mode.flag().into(),
            ];
            if case.legacy_expr {
                flags.push("--legacy-expr".into());
            }
            for (k, v) in &case.defines {
                flags.push("--define".into());
                flags.push(format!("{k}={v}"));
            }
            if let Some(conf) = &case.apache_conf {
                flags.push("--apache-conf".into());
                flags.push(conf.display().to_string());
            }
            let sde = case.source_date_epoch.map(|t| t.to_string());
            let mut env = vec![("TZ", case.tz.as_str())];
            if let Some(s) = &sde {
                env.push(("SOURCE_DATE_EPOCH", s.as_str()));
            }
            let bake = Command::new(bin())
                .env_clear()
                .envs(env.iter().copied())
                .args(&flags)
                .arg("--out")
                .arg(&out)
                .args(["--no-fsync", "-q"])
                .output()
                .unwrap();
            let flag_refs: Vec<&str> = flags.iter().map(String::as_str).collect();
            let serve = Serve::start(&flag_refs, &env);
            let label = format!("{} ({})", case.name, mode.flag());
            match bake.status.code() {
                Some(0) => {
                    let problems = compare_tree(&serve, &root, &out);
                    if !problems.is_empty() {
                        failures.add(&label, problems.join("\n"));
                    }
                }
                Some(1) => {
                    // The page fails: a 500 with each diagnostic the bake printed.
                    let page = case.page.replace(".shtml", ".html");
                    let r = serve.get(&encode(page.as_bytes()));
                    let bake_err = String::from_utf8_lossy(&bake.stderr);
                    let overlay = r
                        .text()
                        .replace("&lt;", "<")
                        .replace("&gt;", ">")
                        .replace("&quot;", "\"")
                        .replace("&#39;", "'")
                        .replace("&amp;", "&");
                    let missing: Vec<&str> = bake_err
                        .lines()
                        .filter(|l| l.contains(": error: "))
                        .filter(|l| !overlay.contains(l.trim()))
                        .collect();
                    if r.status != 500 || !missing.is_empty() {
                        failures.add(
                            &label,
                            format!(
                                "status {} (500 expected); lines of the bake's diagnostics not in the overlay: {missing:?}\n{}",
                                r.status,
                                r.text()
                            ),
                        );
                    }
                }
                // A refused plan (two sources for one output): every page
                // answers the message; with --keep-ext the trees compare.
                Some(2) => {
                    let r = serve.get("/");
                    let bake_err = String::from_utf8_lossy(&bake.stderr);
                    let first = bake_err.lines().next().unwrap_or("");
                    let first = first.trim_start_matches("ssibake: error: ");
                    if r.status != 500 || !r.text().contains(first) {
                        failures.add(
                            &label,
                            format!("{} for a refused plan:\n{}", r.status, r.text()),
                        );
                    }
                    drop(serve);
                    let keep = root.parent().unwrap().join(format!("keep-{}", mode.flag()));
                    let bake = Command::new(bin())
                        .env_clear()
                        .envs(env.iter().copied())
                        .args(&flags)
                        .args(["--keep-ext", "--no-fsync", "-q", "--out"])
                        .arg(&keep)
                        .output()
                        .unwrap();
                    let mut keep_flags = flag_refs.clone();
                    keep_flags.push("--keep-ext");
                    let serve = Serve::start(&keep_flags, &env);
                    if !bake.status.success() {
                        failures.add(
                            &label,
                            format!("--keep-ext: {}", String::from_utf8_lossy(&bake.stderr)),
                        );
                    } else {
                        let problems = compare_tree(&serve, &root, &keep);
                        if !problems.is_empty() {
                            failures.add(&label, problems.join("\n"));
                        }
                    }
                }
                code => failures.add(
                    &label,
                    format!(
                        "the bake exited {code:?}:\n{}",
                        String::from_utf8_lossy(&bake.stderr)
                    ),
                ),
            }
        }
    }
    failures.finish("serve = --out", cases.len());
}

/// A baked tree with everything the bake publishes: pages under their page
/// extension, partials left out, the version file, the client, revved copies, the
/// build ID in a page.
#[test]
fn a_baked_tree_is_served_as_the_bake_writes_it() {
    let dir = tmp();
    let root = dir.path().join("site");
    let write = |rel: &str, text: &str| {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    write(
        "index.shtml",
        "<html><body><!--#include virtual=\"/inc/head.shtml\" -->\
         <link rel=stylesheet href=\"<!--#frev virtual=\"/css/a.css\" -->\">\
         <p>build <!--#echo var=\"BUILD_ID\" --></p></body></html>\n",
    );
    write("inc/head.shtml", "<h1><!--#echo var=\"TITLE\" --></h1>");
    write(
        "blog/index.shtml",
        "<!--#flastmod virtual=\"/css/a.css\" -->",
    );
    write("blog/post.html", "<p>plain</p>");
    write("css/a.css", "body{color:red}");
    write("img/logo.svg", "<svg/>");
    let out = dir.path().join("out");
    let flags = [
        "--root",
        root.to_str().unwrap(),
        "-D",
        "TITLE=<Home>",
        "--version-file",
        "/version.json",
        "--emit-client",
        "/js/update.js",
    ];
    let env = [("TZ", "UTC"), ("SOURCE_DATE_EPOCH", "1700000000")];
    let bake = Command::new(bin())
        .env_clear()
        .envs(env)
        .args(flags)
        .args(["--out", out.to_str().unwrap(), "--no-fsync", "-q"])
        .output()
        .unwrap();
    assert!(
        bake.status.success(),
        "{}",
        String::from_utf8_lossy(&bake.stderr)
    );
    // The reload script is serve's own: never in a bake.
    for (rel, path) in files(&out) {
        let bytes = std::fs::read(&path).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&bytes).contains("ssibake-live-reload"),
            "{} has the reload script",
            String::from_utf8_lossy(&rel)
        );
    }
    let serve = Serve::start(&flags, &env);
    let problems = compare_tree(&serve, &root, &out);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The directory index is the baked page; a directory without its slash redirects.
    let index = serve.get("/");
    assert_eq!(index.status, 200);
    assert_eq!(
        without_script(&index.body).unwrap(),
        std::fs::read(out.join("index.html")).unwrap()
    );
    let blog = serve.get("/blog?x=1");
    assert_eq!(
        (blog.status, blog.header("location")),
        (301, Some("/blog/?x=1"))
    );
    assert_eq!(serve.get("/blog/").status, 200);
    // The partial and the templates are not published.
    assert_eq!(serve.get("/inc/head.shtml").status, 404);
    assert_eq!(serve.get("/inc/head.html").status, 404);
    assert_eq!(serve.get("/index.shtml").status, 404);
    assert_eq!(serve.get("/ssibake.toml").status, 404);
    // With --publish-partials the partial is a page of its own, as in the bake.
    let all = dir.path().join("all");
    let bake = Command::new(bin())
        .env_clear()
        .envs(env)
        .args(flags)
        .args([
            "--publish-partials",
            "--out",
            all.to_str().unwrap(),
            "--no-fsync",
            "-q",
        ])
        .output()
        .unwrap();
    assert!(
        bake.status.success(),
        "{}",
        String::from_utf8_lossy(&bake.stderr)
    );
    assert!(all.join("inc/head.html").exists());
    let mut with_partials = flags.to_vec();
    with_partials.push("--publish-partials");
    let partials = Serve::start(&with_partials, &env);
    let problems = compare_tree(&partials, &root, &all);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_eq!(partials.get("/inc/head.html").status, 200);
    // Types as the site's.
    assert_eq!(
        serve.get("/css/a.css").header("content-type"),
        Some("text/css")
    );
    assert_eq!(
        serve.get("/version.json").header("content-type"),
        Some("application/json")
    );
}

/// `out` in `ssibake.toml` inside the root: the bake leaves its own output out of
/// the site, and so does the preview.
#[test]
fn an_output_inside_the_root_is_not_the_site() {
    let dir = tmp();
    let root = dir.path().join("site");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("ssibake.toml"), "out = \"dist\"\n").unwrap();
    std::fs::write(
        root.join("index.shtml"),
        "<p><!--#echo var=\"DOCUMENT_NAME\" --></p>",
    )
    .unwrap();
    let bake = Command::new(bin())
        .env_clear()
        .args(["--root", root.to_str().unwrap(), "-q", "--no-fsync"])
        .output()
        .unwrap();
    assert!(
        bake.status.success(),
        "{}",
        String::from_utf8_lossy(&bake.stderr)
    );
    assert!(root.join("dist/index.html").exists());
    let serve = Serve::start(&["--root", root.to_str().unwrap()], &[]);
    let problems = compare_tree(&serve, &root, &root.join("dist"));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_eq!(serve.get("/dist/index.html").status, 404);
}

// ---- HTTP -----------------------------------------------------------------------------

fn small_site() -> (tempfile::TempDir, PathBuf) {
    let dir = tmp();
    let root = dir.path().join("site");
    std::fs::create_dir_all(root.join("inc")).unwrap();
    std::fs::write(
        root.join("index.shtml"),
        "<html><body><!--#include virtual=\"/inc/nav.shtml\" --> index</body></html>\n",
    )
    .unwrap();
    std::fs::write(
        root.join("other.shtml"),
        "<html><body>other <!--#flastmod virtual=\"/style.css\" --></body></html>\n",
    )
    .unwrap();
    std::fs::write(root.join("inc/nav.shtml"), "<nav>one</nav>").unwrap();
    std::fs::write(root.join("style.css"), "body{}").unwrap();
    let data: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
    std::fs::write(root.join("data.bin"), data).unwrap();
    (dir, root)
}

#[test]
fn repeated_requests_are_304_and_ranges_are_served() {
    let (_dir, root) = small_site();
    let serve = Serve::start(&["--root", root.to_str().unwrap()], &[]);
    for path in ["/index.html", "/style.css", "/data.bin"] {
        let first = serve.get(path);
        assert_eq!(first.status, 200, "{path}");
        let etag = first.header("etag").expect("an ETag").to_string();
        let modified = first
            .header("last-modified")
            .expect("a Last-Modified")
            .to_string();
        let again = request(&serve.addr, "GET", path, &[("If-None-Match", &etag)]);
        assert_eq!(again.status, 304, "{path} with If-None-Match");
        assert!(again.body.is_empty());
        assert_eq!(again.header("etag"), Some(etag.as_str()));
        let since = request(
            &serve.addr,
            "GET",
            path,
            &[("If-Modified-Since", &modified)],
        );
        assert_eq!(since.status, 304, "{path} with If-Modified-Since");
        let stale = request(&serve.addr, "GET", path, &[("If-None-Match", "\"other\"")]);
        assert_eq!(stale.status, 200, "{path} with another ETag");
        let head = request(&serve.addr, "HEAD", path, &[]);
        assert_eq!(head.status, 200);
        assert_eq!(
            head.header("content-length"),
            first.header("content-length")
        );
        assert_eq!(head.header("etag"), Some(etag.as_str()));
    }
    let data = std::fs::read(root.join("data.bin")).unwrap();
    let part = request(
        &serve.addr,
        "GET",
        "/data.bin",
        &[("Range", "bytes=100-199")],
    );
    assert_eq!(part.status, 206);
    assert_eq!(part.header("content-range"), Some("bytes 100-199/10000"));
    assert_eq!(part.body, &data[100..200]);
    let tail = request(&serve.addr, "GET", "/data.bin", &[("Range", "bytes=-10")]);
    assert_eq!((tail.status, &tail.body[..]), (206, &data[9990..]));
    let open = request(&serve.addr, "GET", "/data.bin", &[("Range", "bytes=9999-")]);
    assert_eq!((open.status, &open.body[..]), (206, &data[9999..]));
    let past = request(
        &serve.addr,
        "GET",
        "/data.bin",
        &[("Range", "bytes=10000-")],
    );
    assert_eq!(past.status, 416);
    assert_eq!(past.header("content-range"), Some("bytes */10000"));
    let stale_range = request(
        &serve.addr,
        "GET",
        "/data.bin",
        &[("Range", "bytes=0-1"), ("If-Range", "\"old\"")],
    );
    assert_eq!((stale_range.status, stale_range.body.len()), (200, 10_000));
    assert_eq!(request(&serve.addr, "POST", "/index.html", &[]).status, 405);
}

#[test]
fn path_escapes_are_refused() {
    let (dir, root) = small_site();
    let secret = dir.path().join("secret.txt");
    std::fs::write(&secret, "TOP-SECRET").unwrap();
    std::os::unix::fs::symlink(&secret, root.join("leak.txt")).unwrap();
    std::os::unix::fs::symlink(dir.path(), root.join("up")).unwrap();
    std::os::unix::fs::symlink("../secret.txt", root.join("rel.txt")).unwrap();
    std::fs::create_dir_all(root.join(".git")).unwrap();
    std::fs::write(root.join(".git/config"), "TOP-SECRET").unwrap();
    std::fs::write(root.join(".htaccess"), "# TOP-SECRET\n").unwrap();
    std::fs::write(root.join(".htpasswd"), "TOP-SECRET").unwrap();
    std::fs::create_dir_all(root.join(".ssibake")).unwrap();
    std::fs::write(root.join(".ssibake/deps.json"), "TOP-SECRET").unwrap();
    let serve = Serve::start(&["--root", root.to_str().unwrap()], &[]);
    for target in [
        "/../secret.txt",
        "/inc/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E/secret.txt",
        "/.%2e/secret.txt",
        "/inc/%2e%2e/%2e%2e/secret.txt",
        "/..%2fsecret.txt",
        "/..%2Fsecret.txt",
        "/index.html%00.css",
        "/%00",
        "/..\\secret.txt",
        "/inc\\..\\..\\secret.txt",
        "/..%5csecret.txt",
        "/%5C..%5Csecret.txt",
        "/leak.txt",
        "/rel.txt",
        "/up/secret.txt",
        "/up/site/index.shtml",
        "/.git/config",
        "/.htaccess",
        "/.htpasswd",
        "/.ssibake/deps.json",
        "http://evil/../secret.txt",
        "secret.txt",
        "/%",
        "/%zz",
    ] {
        let r = request(&serve.addr, "GET", target, &[]);
        assert!(
            (400..500).contains(&r.status),
            "{target}: status {} ({})",
            r.status,
            r.text()
        );
        assert!(!r.text().contains("TOP-SECRET"), "{target} leaked");
    }
    // The site itself is still served, for local host names only (a page of another
    // site reaching 127.0.0.1 by DNS rebinding names its own host).
    assert_eq!(serve.get("/index.html").status, 200);
    for host in ["localhost", "127.0.0.1", "[::1]:1"] {
        let r = request(&serve.addr, "GET", "/index.html", &[("Host", host)]);
        assert_eq!(r.status, 200, "Host: {host}");
    }
    let rebound = request(
        &serve.addr,
        "GET",
        "/index.html",
        &[("Host", "attacker.example")],
    );
    assert_eq!(rebound.status, 403);
}

#[test]
fn ten_thousand_requests_at_concurrency_eight() {
    let (_dir, root) = small_site();
    let serve = Serve::start(&["--root", root.to_str().unwrap()], &[]);
    let addr = serve.addr.clone();
    let expected: Vec<(String, usize)> = ["/index.html", "/other.html", "/style.css", "/data.bin"]
        .iter()
        .map(|p| (p.to_string(), serve.get(p).body.len()))
        .collect();
    let expected = Arc::new(expected);
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let (addr, expected) = (addr.clone(), expected.clone());
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(&addr).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
                let mut r = BufReader::new(s.try_clone().unwrap());
                let mut errors = 0;
                for i in 0..1250 {
                    let (path, len) = &expected[(i + t) % expected.len()];
                    let req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
                    if s.write_all(req.as_bytes()).is_err() {
                        errors += 1;
                        s = TcpStream::connect(&addr).unwrap();
                        r = BufReader::new(s.try_clone().unwrap());
                        continue;
                    }
                    match read_reply(&mut r, false) {
                        Some(reply) if reply.status == 200 && reply.body.len() == *len => {}
                        _ => errors += 1,
                    }
                }
                errors
            })
        })
        .collect();
    let errors: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(errors, 0, "of 10,000 requests at concurrency 8");
}

/// What a template sees does not come from the request: its headers, query string
/// and path are the bake's, whatever the browser sends.
#[test]
fn request_headers_never_reach_a_template() {
    let dir = tmp();
    let root = dir.path().join("site");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(
        root.join("index.shtml"),
        "<!--#echo var=\"HTTP_USER_AGENT\" -->|<!--#echo var=\"QUERY_STRING\" -->|\
         <!--#echo var=\"HTTP_COOKIE\" -->|<!--#echo var=\"REQUEST_URI\" -->|\
         <!--#printenv -->",
    )
    .unwrap();
    let flags = ["--root", root.to_str().unwrap(), "--on-error", "errmsg"];
    let out = dir.path().join("out");
    let bake = Command::new(bin())
        .env_clear()
        .args(flags)
        .args(["--out", out.to_str().unwrap(), "--no-fsync", "-q"])
        .output()
        .unwrap();
    assert!(
        bake.status.success(),
        "{}",
        String::from_utf8_lossy(&bake.stderr)
    );
    let baked = std::fs::read(out.join("index.html")).unwrap();
    let serve = Serve::start(&flags, &[]);
    let r = request(
        &serve.addr,
        "GET",
        "/index.html?secret=Xq9Z",
        &[("User-Agent", "SECRET-AGENT"), ("Cookie", "session=SECRET")],
    );
    assert_eq!(r.status, 200);
    let body = without_script(&r.body).unwrap();
    assert_eq!(body, baked, "{}", String::from_utf8_lossy(&body));
    assert!(!r.text().contains("SECRET") && !r.text().contains("Xq9Z"));
}

// ---- live reload (event streams) ------------------------------------------------------

/// An open event stream of a page: its messages as they come.
fn events(addr: &str, page: &str) -> std::sync::mpsc::Receiver<String> {
    let mut s = TcpStream::connect(addr).unwrap();
    let target = format!("/__ssibake/events?path={}", page.replace('/', "%2F"));
    s.write_all(format!("GET {target} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes())
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut r = BufReader::new(s);
        let mut line = String::new();
        while r.read_line(&mut line).is_ok_and(|n| n > 0) {
            if let Some(e) = line.strip_prefix("event: ") {
                if tx.send(e.trim().to_string()).is_err() {
                    break;
                }
            }
            line.clear();
        }
    });
    assert_eq!(rx.recv_timeout(Duration::from_secs(10)).unwrap(), "hello");
    rx
}

#[test]
fn a_partial_reloads_exactly_the_pages_that_include_it() {
    let (_dir, root) = small_site();
    let serve = Serve::start(&["--root", root.to_str().unwrap()], &[]);
    let index = events(&serve.addr, "/index.html");
    let other = events(&serve.addr, "/other.html");
    std::fs::write(root.join("inc/nav.shtml"), "<nav>two</nav>").unwrap();
    assert_eq!(
        index.recv_timeout(Duration::from_secs(10)).unwrap(),
        "reload"
    );
    serve.wait_stderr("changed", 1);
    assert!(other.recv_timeout(Duration::from_millis(300)).is_err());
    // (An editor's save may come as two bursts, the file first emptied: the answer
    // settles on the saved content.)
    settles(
        &serve,
        "/index.html",
        Some(b"<html><body><nav>two</nav> index</body></html>\n"),
    );
    // A stylesheet the other page only stamps: swapped, not reloaded.
    std::fs::write(root.join("style.css"), "body{color:red}").unwrap();
    assert_eq!(other.recv_timeout(Duration::from_secs(10)).unwrap(), "css");
    assert_eq!(index.recv_timeout(Duration::from_secs(10)).unwrap(), "css");
    // The partial's directory renamed (one event for the directory): the page that
    // includes it reloads into its error.
    std::fs::rename(root.join("inc"), root.join("moved")).unwrap();
    assert_eq!(
        index.recv_timeout(Duration::from_secs(10)).unwrap(),
        "reload"
    );
    assert_eq!(serve.get("/index.html").status, 500);
    assert!(other.recv_timeout(Duration::from_millis(300)).is_err());
}

/// Polls until `path` answers `want` (the page without its script; `None`: a 404).
fn settles(serve: &Serve, path: &str, want: Option<&[u8]>) {
    let start = Instant::now();
    loop {
        let r = serve.get(path);
        let got = match r.status {
            200 => without_script(&r.body).ok(),
            _ => None,
        };
        let done = match want {
            Some(w) => got.as_deref() == Some(w),
            None => r.status == 404,
        };
        if done {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{path} never answered {:?}: {} {}",
            want.map(String::from_utf8_lossy),
            r.status,
            r.text()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn pages_created_and_removed_are_planned_again() {
    let (_dir, root) = small_site();
    let serve = Serve::start(&["--root", root.to_str().unwrap()], &[]);
    assert_eq!(serve.get("/new.html").status, 404);
    let page = events(&serve.addr, "/new.html");
    let drain = || while page.try_recv().is_ok() {};
    // Created as editors save: written beside it, renamed over it.
    std::fs::write(root.join("new.tmp"), "<p>new</p>").unwrap();
    std::fs::rename(root.join("new.tmp"), root.join("new.shtml")).unwrap();
    assert_eq!(
        page.recv_timeout(Duration::from_secs(10)).unwrap(),
        "reload"
    );
    settles(&serve, "/new.html", Some(b"<p>new</p>"));
    // Only its content: the plan is kept, the page rendered again.
    drain();
    std::fs::write(root.join("new.shtml"), "<p>newer</p>").unwrap();
    assert_eq!(
        page.recv_timeout(Duration::from_secs(10)).unwrap(),
        "reload"
    );
    settles(&serve, "/new.html", Some(b"<p>newer</p>"));
    drain();
    std::fs::remove_file(root.join("new.shtml")).unwrap();
    assert_eq!(
        page.recv_timeout(Duration::from_secs(10)).unwrap(),
        "reload"
    );
    settles(&serve, "/new.html", None);
}

#[test]
fn a_failing_page_is_a_500_overlay_reported_once_per_change() {
    let (_dir, root) = small_site();
    std::fs::write(
        root.join("index.shtml"),
        "<p><!--#include virtual=\"/missing.html\" --><script>alert(1)</script></p>",
    )
    .unwrap();
    let serve = Serve::start(&["--root", root.to_str().unwrap()], &[]);
    for _ in 0..3 {
        let r = serve.get("/index.html");
        assert_eq!(r.status, 500);
        let text = r.text();
        assert!(text.contains("id=\"ssibake-overlay\""), "{text}");
        assert!(text.contains("index.shtml:1:"), "{text}");
        assert!(
            text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{text}"
        );
        assert!(!text.contains("<script>alert(1)"), "{text}");
        assert!(text.contains("ssibake-live-reload"), "{text}");
    }
    let errors = |s: &str| s.matches("missing.html` does not exist").count();
    assert_eq!(errors(&serve.stderr()), 1, "{}", serve.stderr());
    let page = events(&serve.addr, "/index.html");
    // The missing file appears: the page is fixed and reloads.
    std::fs::write(root.join("missing.html"), "found").unwrap();
    assert_eq!(
        page.recv_timeout(Duration::from_secs(10)).unwrap(),
        "reload"
    );
    settles(
        &serve,
        "/index.html",
        Some(b"<p>found<script>alert(1)</script></p>"),
    );
    // Broken again: reported once more.
    std::fs::remove_file(root.join("missing.html")).unwrap();
    serve.wait_stderr("changed", 2);
    serve.get("/index.html");
    serve.get("/index.html");
    assert_eq!(errors(&serve.stderr()), 2, "{}", serve.stderr());
}

// ---- the command line -----------------------------------------------------------------

fn ssibake(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin())
        .env_clear()
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_serve_command_line() {
    let (code, help, _) = ssibake(&["serve", "--help"]);
    assert_eq!(code, 0);
    for flag in [
        "--root",
        "--port",
        "--host",
        "--open",
        "--define",
        "--on-error",
        "--version-file",
    ] {
        assert!(help.contains(flag), "serve --help lacks {flag}:\n{help}");
    }
    let (_, main_help, _) = ssibake(&["--help"]);
    assert!(main_help.contains("ssibake serve"), "{main_help}");
    // A usage error exits 2 before anything listens.
    let (code, _, err) = ssibake(&["serve", "--root", "/nonexistent/site"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = ssibake(&["serve", "--port", "x"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = ssibake(&["serve", "page.shtml"]);
    assert_eq!(code, 2, "{err}");
    // The bake's own modes are not serve's flags.
    for mode in [
        &["--out", "dist"][..],
        &["--in-place"],
        &["--check"],
        &["-o", "x.html"],
    ] {
        let mut args = vec!["serve"];
        args.extend_from_slice(mode);
        let (code, _, err) = ssibake(&args);
        assert_eq!(code, 2, "serve {mode:?}: {err}");
        assert!(err.contains("unexpected argument"), "{err}");
    }
    let (_dir, root) = small_site();
    std::fs::write(root.join("ssibake.toml"), "no_such_key = 1\n").unwrap();
    let (code, _, err) = ssibake(&["serve", "--root", root.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.starts_with("ssibake: error: "), "{err}");
    std::fs::remove_file(root.join("ssibake.toml")).unwrap();
    // The rendering modes are unchanged beside it.
    let (code, out, err) = ssibake(&[
        "--root",
        root.to_str().unwrap(),
        root.join("index.shtml").to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("<nav>one</nav>") && !out.contains("ssibake-live-reload"));
    // Loopback by default; another address is served with a warning.
    let quiet = Serve::start(&["--root", root.to_str().unwrap()], &[]);
    assert!(quiet.addr.starts_with("127.0.0.1:"), "{}", quiet.addr);
    assert!(!quiet.stderr().contains("warning"), "{}", quiet.stderr());
    let open = Serve::start(
        &["--root", root.to_str().unwrap(), "--host", "0.0.0.0"],
        &[],
    );
    assert!(
        open.stderr()
            .contains("ssibake: warning: serving on 0.0.0.0, which other machines can reach"),
        "{}",
        open.stderr()
    );
}
