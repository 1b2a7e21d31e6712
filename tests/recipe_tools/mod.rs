//! What the recipe tests (`recipes*.rs`) share: the recipe files, the real tools
//! they name run with a cleared environment, and the rule for a missing tool
//! (fails under `CI=true`, a loud skip elsewhere).
#![allow(dead_code)] // each test crate uses a different part

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `examples/recipes/<name>`.
pub fn recipe(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/recipes")
        .join(name)
}

/// The test process's PATH (where git, make, npm, rsync and bash are).
pub fn path() -> OsString {
    std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into())
}

/// `dir` in front of the test process's PATH.
pub fn path_with(dir: &Path) -> OsString {
    let mut search = OsString::from(dir);
    search.push(":");
    search.push(path());
    search
}

/// `program` with a cleared environment: PATH, a private HOME, and no system or
/// global git configuration.
pub fn tool(program: impl AsRef<std::ffi::OsStr>, dir: &Path, home: &Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.env_clear()
        .current_dir(dir)
        .env("PATH", path())
        .env("HOME", home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.invalid")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.invalid");
    cmd
}

pub fn have(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .env("PATH", path())
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Under `CI=true`.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// A missing tool skips the test loudly, except under CI where it fails.
pub fn require(program: &str) -> bool {
    if have(program) {
        return true;
    }
    skip(&format!(
        "`{program}` is not installed: this recipe test cannot run"
    ));
    false
}

/// Says on stderr why a test did not run; under `CI=true` that fails it.
pub fn skip(msg: &str) {
    if in_ci() {
        panic!("{msg} (CI=true: install it)");
    }
    eprintln!("\n!!!!!!!! SKIPPED: {msg} !!!!!!!!\n");
}

pub fn secs(t: std::time::SystemTime) -> u64 {
    t.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

/// The first `n` hex digits of the SHA-256 of `bytes` (`sha256sum | cut -c1-n`).
pub fn sha256_hex(bytes: &[u8], n: usize) -> String {
    let digest = hmac_sha256::Hash::hash(bytes);
    let full: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    full[..n].to_string()
}
