//! The update-notice client (`client/`) in a real browser, as part of `cargo test`.
//!
//! Runs Node's test runner over `client/test/*.test.mjs`: the dist files are checked against a
//! fresh build of `client/src/` and the 2.5 KB budget, then the example app in `client/test/app/`
//! is baked by this crate's `ssibake` binary (passed as `SSIBAKE_BIN`), served from 127.0.0.1
//! (by a Node server, and by Debian's nginx, `/usr/sbin/nginx`) and driven in headless Debian
//! Chromium (`/usr/bin/chromium`, or `CHROMIUM`) by `playwright-core`, with an axe-core audit.
//!
//! Needs `node` (20 or later), the client's node modules (`npm ci` in `client/`, which this test
//! runs itself when `client/node_modules` is missing and `npm` is there), Chromium and nginx
//! (`apt-get install -y chromium nginx`); `.ci/run` installs all of them. When one is missing the
//! test (for nginx: the nginx part) is skipped loudly, except under `CI=true`, where it fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn ci() -> bool {
    std::env::var("CI")
        .map(|v| v == "true" || v == "1")
        .unwrap_or(false)
}

/// Fails under `CI=true`; otherwise prints a loud skip message.
fn skip(why: &str) {
    let msg = format!(
        "\n\n################################################################\n\
         ##  browser: {why}\n\
         ##  needs node >= 20, `npm ci` in client/ and `apt-get install -y chromium`\n\
         ##  (see .ci/run)\n\
         ################################################################\n"
    );
    if ci() {
        panic!("{msg}CI=true: the browser test must not be skipped");
    }
    eprintln!("{msg}##  SKIPPING the browser test (it would fail under CI=true)\n");
}

fn works(cmd: &str, args: &[&str], dir: &Path) -> Option<String> {
    let out = Command::new(cmd)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[test]
fn browser() {
    let client = Path::new(env!("CARGO_MANIFEST_DIR")).join("client");

    let Some(version) = works("node", &["--version"], &client) else {
        return skip("`node` is not installed");
    };
    let major: u32 = version
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    if major < 20 {
        return skip(&format!("node {version} is too old (20 or later)"));
    }

    // Every dev-dependency the tests load (an older node_modules may lack axe-core).
    let installed = || {
        ["playwright-core", "axe-core"]
            .iter()
            .all(|m| client.join("node_modules").join(m).exists())
    };
    if !installed() && works("npm", &["--version"], &client).is_some() {
        eprintln!(
            "browser: client/node_modules is missing or incomplete, running `npm ci` in client/"
        );
        let status = Command::new("npm")
            .arg("ci")
            .current_dir(&client)
            .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
            .stdin(Stdio::null())
            .status();
        if !matches!(status, Ok(s) if s.success()) {
            return skip(&format!("`npm ci` in client/ failed: {status:?}"));
        }
    }
    if !installed() {
        return skip("client/node_modules is incomplete and npm is not installed");
    }

    let chromium = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    if !chromium.exists() {
        return skip(&format!("no Chromium at {}", chromium.display()));
    }

    let mut tests: Vec<PathBuf> = std::fs::read_dir(client.join("test"))
        .expect("client/test/")
        .map(|e| e.expect("client/test/ entry").path())
        .filter(|p| p.to_string_lossy().ends_with(".test.mjs"))
        .collect();
    tests.sort();
    assert!(!tests.is_empty(), "no client/test/*.test.mjs");

    let out = Command::new("node")
        .arg("--test")
        .arg("--test-reporter=spec")
        // No test, hook or leftover handle may hang the suite (and CI) forever.
        .arg("--test-timeout=180000")
        .arg("--test-force-exit")
        .args(&tests)
        .current_dir(&client)
        .env("SSIBAKE_BIN", env!("CARGO_BIN_EXE_ssibake"))
        .env("CHROMIUM", &chromium)
        .stdin(Stdio::null())
        .output()
        .expect("run node --test");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stdout}{stderr}");
    assert!(
        out.status.success(),
        "node --test client/test/ failed ({}): see the output above",
        out.status
    );
}
