//! The Vite recipe (`examples/recipes/vite/`), run with the real Vite of each
//! major version users have today (5, 6, 7 and 8), installed from the lockfile
//! of `tests/vite/` (`npm ci` there; `.ci/run` does it). Each project is the
//! recipe's files with `node_modules/vite` pointing at one major, and
//! `npm run build` runs `vite build`, then the recipe's `postbuild` (the built
//! `ssibake` on the PATH).
//!
//! Also pinned: the double-quoted directive inside an attribute (the form the
//! README used to show) stops `vite build` on Vite 5 and 6 and draws a parse5
//! warning on 7 and 8, which is why the recipe writes `var='BUILD_ID'`; and in
//! dev mode the recipe's `vite.config.js` plugin makes the `#frev` URL one the
//! dev server answers (without it, the browser asks for `/<!--#frev ...`).

mod common;
mod recipe_tools;

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::*;
use recipe_tools::*;

const MAJORS: [u32; 4] = [5, 6, 7, 8];

fn vite_package(major: u32) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vite/node_modules")
        .join(format!("vite{major}"))
}

/// node, npm and every Vite major installed; a loud skip (a failure under
/// `CI=true`) otherwise.
fn require_vite() -> bool {
    if !require("node") || !require("npm") {
        return false;
    }
    for major in MAJORS {
        if !vite_package(major).join("bin/vite.js").exists() {
            skip(&format!(
                "Vite {major} is not installed: run `npm ci` in tests/vite"
            ));
            return false;
        }
    }
    true
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The recipe's project in `dir`, with Vite `major` installed in it as npm
/// would (`node_modules/vite`, `node_modules/.bin/vite`).
fn project(dir: &Path, major: u32) -> PathBuf {
    let app = dir.join(format!("app-vite{major}"));
    copy_tree(&recipe("vite"), &app);
    fs::create_dir_all(app.join("node_modules/.bin")).unwrap();
    std::os::unix::fs::symlink(vite_package(major), app.join("node_modules/vite")).unwrap();
    std::os::unix::fs::symlink("../vite/bin/vite.js", app.join("node_modules/.bin/vite")).unwrap();
    app
}

/// A directory with `ssibake` in it, as after `cargo install`.
fn bin_dir(dir: &Path) -> PathBuf {
    let bin_dir = dir.join("bin");
    if !bin_dir.exists() {
        fs::create_dir(&bin_dir).unwrap();
        std::os::unix::fs::symlink(bin(), bin_dir.join("ssibake")).unwrap();
    }
    bin_dir
}

fn npm_build(tmp: &Path, app: &Path) -> Run {
    let mut cmd = tool("npm", app, tmp);
    cmd.env("PATH", path_with(&bin_dir(tmp)))
        .env("npm_config_cache", tmp.join("npm-cache"))
        .env("npm_config_update_notifier", "false")
        .env("npm_config_fund", "false")
        .env("npm_config_audit", "false")
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .args(["run", "build"]);
    run(&mut cmd)
}

/// `node node_modules/vite/bin/vite.js ARGS` in `app`.
fn vite(tmp: &Path, app: &Path, args: &[&str]) -> Command {
    let mut cmd = tool("node", app, tmp);
    cmd.env("NO_COLOR", "1")
        .arg("node_modules/vite/bin/vite.js")
        .args(args);
    cmd
}

/// The one file of `dir` whose name starts with `prefix` and ends with `suffix`.
fn only_file(dir: &Path, prefix: &str, suffix: &str) -> String {
    let names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(prefix) && n.ends_with(suffix))
        .collect();
    assert_eq!(names.len(), 1, "{names:?} in {}", dir.display());
    names.into_iter().next().unwrap()
}

#[test]
fn vite_build_then_the_recipes_postbuild_on_every_vite_major() {
    if !require_vite() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let theme = read(&recipe("vite/public/css/theme.css"));
    let revved = format!("theme.{}.css", sha256_hex(&theme, 10));
    let pkg: serde_json::Value =
        serde_json::from_slice(&read(&recipe("vite/package.json"))).unwrap();
    assert_eq!(pkg["scripts"]["build"], "vite build");
    assert_eq!(
        pkg["scripts"]["postbuild"],
        "ssibake --root dist --in-place dist/index.html \
         --version-file /version.json --emit-client /ssibake-update.js"
    );
    let range = pkg["devDependencies"]["vite"].as_str().unwrap();
    assert!(
        MAJORS.iter().any(|m| range == format!("^{m}.0.0")),
        "the recipe's Vite ({range}) is one of the tested majors"
    );
    let client = run_expect(ssibake(t).arg("client"), 0).stdout;

    for major in MAJORS {
        let app = project(t, major);
        let r = npm_build(t, &app);
        let out = format!("{}\n{}", r.stdout_text(), r.stderr);
        assert_eq!(r.code, 0, "Vite {major}:\n{out}");
        assert!(
            out.contains(&format!("vite v{major}.")),
            "the real Vite {major} ran:\n{out}"
        );
        assert!(
            !out.contains("parse5") && !out.contains("Unable to parse HTML"),
            "Vite {major} reads the recipe's index.html without a complaint:\n{out}"
        );
        assert!(out.contains("> postbuild"), "npm ran postbuild:\n{out}");
        assert!(
            r.stderr
                .contains("ssibake: baked 1 page (1 include, 1 file stamped)"),
            "{out}"
        );

        let dist = app.join("dist");
        let script = only_file(&dist.join("assets"), "index-", ".js");
        let version: serde_json::Value =
            serde_json::from_slice(&read(&dist.join("version.json"))).unwrap();
        let build_id = version["buildId"].as_str().unwrap();
        assert!(!build_id.is_empty());
        assert_eq!(
            read_text(&dist.join("index.html")),
            format!(
                r#"<!doctype html>
<html lang="en">
  <head>
    <meta charset="UTF-8">
    <meta name="build-id" content="{build_id}">
    <title>Example app</title>
    <link rel="stylesheet" href="/css/{revved}">
    <script src="/ssibake-update.js" defer></script>
    <script type="module" crossorigin src="/assets/{script}"></script>
  </head>
  <body>
    <header class="banner">Scheduled maintenance on Sunday</header>

    <div id="app"></div>
    
    <footer>Deployed 2023-11-14</footer>
  </body>
</html>
"#
            ),
            "Vite {major}"
        );
        assert_eq!(read(&dist.join("css").join(&revved)), theme);
        assert_eq!(read(&dist.join("css/theme.css")), theme);
        assert_eq!(read(&dist.join("ssibake-update.js")), client);
        assert!(read_text(&dist.join(format!("assets/{script}"))).contains("Hello from Vite"));

        // `vite build` writes a fresh dist/ each time, so baking it in place
        // never consumes the template: a second build gives the same page.
        let first = read(&dist.join("index.html"));
        let r = npm_build(t, &app);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_eq!(read(&dist.join("index.html")), first, "Vite {major}, again");
    }
}

#[test]
fn a_failing_bake_fails_npm_run_build() {
    if !require_vite() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let app = project(t, 8);
    fs::remove_file(app.join("public/partials/banner.html")).unwrap();
    let r = npm_build(t, &app);
    assert_ne!(r.code, 0, "a failed bake fails the build");
    assert!(
        r.stderr
            .contains("dist/index.html:12:18: error: `partials/banner.html` does not exist"),
        "{}",
        r.stderr
    );
    // The page stays as Vite wrote it: nothing was baked.
    assert!(read_text(&app.join("dist/index.html"))
        .contains("<!--#include virtual='/partials/banner.html' -->"));
    assert!(!app.join("dist/version.json").exists());
}

/// What the issue reported, kept true by the lockfile: a double-quoted
/// directive inside a double-quoted attribute is not HTML Vite accepts.
#[test]
fn double_quotes_inside_an_attribute_stop_vite_5_and_6_and_warn_on_7_and_8() {
    if !require_vite() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    for major in MAJORS {
        let app = project(t, major);
        let index = read_text(&app.join("index.html")).replace('\'', "\"");
        assert!(index.contains(r#"content="<!--#echo var="BUILD_ID" -->""#));
        fs::write(app.join("index.html"), index).unwrap();
        let r = run(&mut vite(t, &app, &["build"]));
        let out = format!("{}\n{}", r.stdout_text(), r.stderr);
        assert!(
            out.contains("parse5 error code missing-whitespace-between-attributes"),
            "Vite {major}:\n{out}"
        );
        if major <= 6 {
            assert_ne!(r.code, 0, "Vite {major} stops:\n{out}");
            assert!(!app.join("dist/index.html").exists());
        } else {
            assert_eq!(r.code, 0, "Vite {major} warns and goes on:\n{out}");
        }
    }
}

/// A free port on 127.0.0.1 (the dev server is started with `--strictPort`).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `GET path` over HTTP/1.1: the status code, the content type and the body
/// (chunked transfer decoded).
fn get(port: u16, path: &str) -> (u16, String, Vec<u8>) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: text/html,*/*\r\n\
         Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    let mut body = raw[split + 4..].to_vec();
    let status = head[9..12].parse().unwrap();
    let header = |name: &str| {
        head.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .unwrap_or("")
            .to_string()
    };
    if header("transfer-encoding") == "chunked" {
        let mut decoded = Vec::new();
        let mut rest = &body[..];
        loop {
            let eol = rest.windows(2).position(|w| w == b"\r\n").unwrap();
            let size =
                usize::from_str_radix(std::str::from_utf8(&rest[..eol]).unwrap(), 16).unwrap();
            if size == 0 {
                break;
            }
            decoded.extend_from_slice(&rest[eol + 2..eol + 2 + size]);
            rest = &rest[eol + 2 + size + 2..];
        }
        body = decoded;
    }
    (status, header("content-type"), body)
}

/// A running `vite` dev server, stopped (SIGTERM, then waited for) when dropped.
struct DevServer {
    child: std::process::Child,
    port: u16,
}

impl DevServer {
    fn start(tmp: &Path, app: &Path, extra: &[&str]) -> DevServer {
        let port = free_port();
        let port_text = port.to_string();
        let mut args = vec!["--host", "127.0.0.1", "--port", &port_text, "--strictPort"];
        args.extend_from_slice(extra);
        // Its standard error goes to a file: stopping it while its dependency
        // scan still runs logs a harmless error.
        let log = app.join(format!("dev-{port}.log"));
        let mut child = vite(tmp, app, &args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.contains("Local:") {
                    let _ = tx.send(());
                }
            }
        });
        // Only a guard against a hang: the server says when it listens.
        if rx.recv_timeout(Duration::from_secs(120)).is_err() {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the Vite dev server in {} never said it was ready:\n{}",
                app.display(),
                fs::read_to_string(&log).unwrap_or_default()
            );
        }
        DevServer { child, port }
    }
}

impl Drop for DevServer {
    fn drop(&mut self) {
        // SAFETY: a plain kill(2) of our own child's pid.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let _ = self.child.wait();
    }
}

#[test]
fn vite_dev_server_answers_the_frev_url_with_the_recipes_plugin() {
    if !require_vite() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let theme = read(&recipe("vite/public/css/theme.css"));
    for major in MAJORS {
        let app = project(t, major);
        let server = DevServer::start(t, &app, &[]);
        let (status, _, page) = get(server.port, "/");
        let page = String::from_utf8(page).unwrap();
        assert_eq!(status, 200);
        for expected in [
            r#"<meta name="build-id" content="">"#,
            r#"<link rel="stylesheet" href="/css/theme.css">"#,
            "<header class=\"banner\">Scheduled maintenance on Sunday</header>",
        ] {
            assert!(
                page.contains(expected),
                "Vite {major} dev: `{expected}` lacking:\n{page}"
            );
        }
        assert!(!page.contains("<!--#frev"), "{page}");
        let (status, kind, css) = get(server.port, "/css/theme.css");
        assert_eq!((status, css), (200, theme.clone()), "Vite {major}");
        assert!(kind.starts_with("text/css"), "{kind}");
        let (status, kind, _) = get(server.port, "/ssibake-update.js");
        assert_eq!(status, 200);
        assert!(kind.starts_with("text/javascript"), "{kind}");
        drop(server);

        // Without the plugin, the stylesheet's URL is the directive itself,
        // which the dev server answers with the app's index.html.
        fs::write(app.join("plain.config.js"), "export default {};\n").unwrap();
        let server = DevServer::start(t, &app, &["--config", "plain.config.js"]);
        let (_, _, page) = get(server.port, "/");
        let page = String::from_utf8(page).unwrap();
        assert!(
            page.contains(
                r#"<link rel="stylesheet" href="<!--#frev virtual='/css/theme.css' -->">"#
            ),
            "Vite {major} dev without the plugin:\n{page}"
        );
        let (_, kind, _) = get(
            server.port,
            "/%3C!--%23frev%20virtual='/css/theme.css'%20--%3E",
        );
        assert!(
            kind.starts_with("text/html"),
            "Vite {major}: the literal URL is not the stylesheet ({kind})"
        );
    }
}
