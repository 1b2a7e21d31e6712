//! Golden test: renders every case of `fixtures/` with the `ssibake` binary and compares
//! the result with the committed expectation.
//!
//! * `mode = "errmsg"` (default): `--on-error errmsg`, exit 0, stdout byte-identical to
//!   `expected.html` (recorded from Apache: `RECORD_APACHE=1 cargo test --test apache_differential`).
//! * `mode = "fail"`: `--on-error fail`, the case's exit code, empty stdout, and stderr (with the
//!   temporary document root replaced by `$ROOT`) equal to `expected.stderr`. Fail-mode cases
//!   that Apache also serves (`apache = true`) are checked in errmsg mode against
//!   `expected.html` as well.
//!
//! * A case with `expected.before-2.4.68.html` (recorded from an Apache older than 2.4.68,
//!   where that release serves other bytes) is also rendered with `--apache-version 2.4.67`
//!   and compared with it.
//!
//! `UPDATE_GOLDEN=1 cargo test --test golden` rewrites the `expected.stderr` files from ssibake's
//! diagnostics (review the changes before committing). `SSIBAKE_CASES=lex-,echo-` selects cases.

mod support;

use std::fs;
use std::path::Path;

use support::diff::diff;
use support::fixture::{self, Case, Mode};
use support::run::{normalize_stderr, run_ssibake, run_ssibake_as, Output};
use support::{env_flag, Failures};

fn stderr_excerpt(out: &Output) -> String {
    if out.stderr.is_empty() {
        return "(stderr empty)\n".to_string();
    }
    let s = String::from_utf8_lossy(&out.stderr);
    let cut: String = s.chars().take(2000).collect();
    format!(
        "stderr:\n{cut}{}\n",
        if cut.len() < s.len() { "\n[...]" } else { "" }
    )
}

fn check_errmsg(case: &Case, root: &Path) -> Option<String> {
    check_errmsg_as(case, root, None)
}

/// `check_errmsg` as the Apache release `version` (`--apache-version`), against that
/// release's recording.
fn check_errmsg_as(case: &Case, root: &Path, version: Option<&str>) -> Option<String> {
    let path = match version {
        Some(v) => case.expected_html_path_for(v),
        None => case.expected_html_path(),
    };
    let expected = match fs::read(&path) {
        Ok(b) => b,
        Err(_) if case.apache => {
            return Some(format!(
                "{}no expected.html yet: record it from Apache with\n  RECORD_APACHE=1 cargo test --test apache_differential\n",
                case.header()
            ))
        }
        Err(_) => {
            return Some(format!(
                "{}no expected.html: this apache = false case ({}) needs a hand-derived expected.html\n",
                case.header(),
                case.reason.as_deref().unwrap_or("")
            ))
        }
    };
    let out = run_ssibake_as(case, root, Mode::Errmsg, version);
    if out.code == Some(0) && out.stdout == expected {
        return None;
    }
    let mut r = case.header();
    r.push_str(&format!("command:     {}\n", out.command));
    r.push_str(&format!(
        "status:      {} (expected exit 0)\n",
        out.describe_status()
    ));
    r.push_str(&diff(
        &path.file_name().unwrap().to_string_lossy(),
        &expected,
        "ssibake stdout",
        &out.stdout,
    ));
    r.push_str(&stderr_excerpt(&out));
    Some(r)
}

/// Returns a failure report and whether `expected.stderr` was rewritten.
fn check_fail(case: &Case, root: &Path, update: bool) -> (Option<String>, bool) {
    let out = run_ssibake(case, root, Mode::Fail);
    let stderr = normalize_stderr(&out.stderr, root);
    let mut problems = Vec::new();
    if out.code != Some(case.exit) {
        problems.push(format!(
            "status:      {} (expected exit {})",
            out.describe_status(),
            case.exit
        ));
    }
    if !out.stdout.is_empty() {
        problems.push(format!(
            "stdout must be empty in fail mode, got {} bytes:\n{}",
            out.stdout.len(),
            String::from_utf8_lossy(&out.stdout)
                .chars()
                .take(1000)
                .collect::<String>()
        ));
    }
    if stderr.is_empty() {
        problems.push("stderr is empty: fail mode must print a diagnostic".to_string());
    }
    let path = case.expected_stderr_path();
    let expected = fs::read(&path).ok();
    let mut blessed = false;
    if update && problems.is_empty() && expected.as_deref() != Some(&stderr[..]) {
        fs::write(&path, &stderr).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        blessed = true;
    } else {
        match &expected {
            None => problems.push(
                "no expected.stderr yet: bless ssibake's diagnostics with\n  UPDATE_GOLDEN=1 cargo test --test golden\n(and review them)"
                    .to_string(),
            ),
            Some(e) if *e != stderr => {
                problems.push(diff("expected.stderr", e, "ssibake stderr", &stderr))
            }
            Some(_) => {}
        }
    }
    if problems.is_empty() {
        return (None, blessed);
    }
    let mut r = case.header();
    r.push_str(&format!("command:     {}\n", out.command));
    for p in problems {
        r.push_str(&p);
        if !r.ends_with('\n') {
            r.push('\n');
        }
    }
    if expected.is_some() || update {
        r.push_str(&stderr_excerpt(&out));
    }
    (Some(r), blessed)
}

#[test]
fn golden() {
    let cases = fixture::load_cases();
    let update = env_flag("UPDATE_GOLDEN");
    let tmp = fixture::temp_parent("ssibake-golden-");
    let mut failures = Failures::default();
    let mut blessed = Vec::new();
    for case in &cases {
        let root = case.materialize(tmp.path());
        // What Apache before 2.4.68 serves, where it differs (src/engine/compat.rs).
        if case.expected_before_2_4_68_path().is_file() {
            if let Some(r) = check_errmsg_as(case, &root, Some(fixture::BEFORE_2_4_68)) {
                failures.add(&format!("{} (--apache-version 2.4.67)", case.name), r);
            }
        }
        match case.mode {
            Mode::Errmsg => {
                if let Some(r) = check_errmsg(case, &root) {
                    failures.add(&case.name, r);
                }
            }
            Mode::Fail => {
                let (r, b) = check_fail(case, &root, update);
                if b {
                    blessed.push(case.name.clone());
                }
                let mut report = r.unwrap_or_default();
                if case.apache && case.expected_html_path().exists() {
                    if let Some(r) = check_errmsg(case, &root) {
                        report.push_str("\n---- the same case in errmsg mode ----\n");
                        report.push_str(&r);
                    }
                }
                if !report.is_empty() {
                    failures.add(&case.name, report);
                }
            }
        }
    }
    if update {
        if blessed.is_empty() {
            eprintln!("UPDATE_GOLDEN: no expected.stderr changed");
        } else {
            eprintln!(
                "UPDATE_GOLDEN: rewrote {} expected.stderr file(s) (review with git diff fixtures/):\n  {}",
                blessed.len(),
                blessed.join("\n  ")
            );
        }
    }
    failures.finish("golden", cases.len());
}
