//! `ssibake serve` in a real browser, as part of `cargo test`: Node's test runner over
//! `client/test/serve/serve.test.mjs`, which starts this crate's binary (`SSIBAKE_BIN`) with
//! `serve` on 127.0.0.1 and drives headless Debian Chromium (`/usr/bin/chromium`, or
//! `CHROMIUM`) through the client's `playwright-core`: a partial's change reloads exactly the
//! pages that include it, a stylesheet is swapped without a navigation, the error overlay
//! appears and clears, a page reconnects to a restarted server. It prints the time from a saved
//! file to the reloaded page (`save-to-reload: ...`).
//!
//! Needs `node` (20 or later), the client's node modules (`npm ci` in `client/`) and Chromium;
//! `.ci/run` installs them. When one is missing the test is skipped loudly, except under
//! `CI=true`, where it fails.

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
         ##  serve_browser: {why}\n\
         ##  needs node >= 20, `npm ci` in client/ and `apt-get install -y chromium`\n\
         ##  (see .ci/run)\n\
         ################################################################\n"
    );
    if ci() {
        panic!("{msg}CI=true: the serve browser test must not be skipped");
    }
    eprintln!("{msg}##  SKIPPING the serve browser test (it would fail under CI=true)\n");
}

#[test]
fn serve_in_chromium() {
    let client = Path::new(env!("CARGO_MANIFEST_DIR")).join("client");
    let version = Command::new("node")
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    let Some(version) = version else {
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
    if !client.join("node_modules/playwright-core").exists() {
        return skip("client/node_modules/playwright-core is missing (`npm ci` in client/)");
    }
    let chromium = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    if !chromium.exists() {
        return skip(&format!("no Chromium at {}", chromium.display()));
    }
    let out = Command::new("node")
        .arg("--test")
        .arg("--test-reporter=spec")
        // No test may hang the suite (and CI) forever.
        .arg("--test-timeout=180000")
        .arg("--test-force-exit")
        .arg("test/serve/serve.test.mjs")
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
        "node --test client/test/serve/serve.test.mjs failed ({}): see the output above",
        out.status
    );
}
