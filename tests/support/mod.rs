//! Shared code of the golden and Apache-differential tests.
//!
//! * [`fixture`]: loading `fixtures/<case>/case.toml` and materialising a case's `site/` tree
//!   (copy, sparse files, mtimes, permissions) in a temporary directory.
//! * [`run`]: running the `ssibake` binary the way the tests' contract says.
//! * [`apache`]: starting a throw-away Apache httpd 2.4 and fetching pages from it.
//! * [`diff`]: a readable byte-exact line diff for failure reports.
#![allow(dead_code)]

pub mod apache;
pub mod diff;
pub mod fixture;
pub mod run;

use std::fmt::Write as _;

/// Collects the failures of all cases so that one run reports every broken case.
#[derive(Default)]
pub struct Failures {
    items: Vec<(String, String)>,
}

impl Failures {
    pub fn add(&mut self, case: &str, report: String) {
        self.items.push((case.to_string(), report));
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Prints every failure and panics with a count when there is at least one.
    pub fn finish(self, what: &str, total: usize) {
        if self.items.is_empty() {
            eprintln!("{what}: all {total} cases passed");
            return;
        }
        let mut out = String::new();
        for (case, report) in &self.items {
            let _ = writeln!(out, "\n======== FAILED: {case} ========");
            out.push_str(report);
            if !report.ends_with('\n') {
                out.push('\n');
            }
        }
        let names: Vec<&str> = self.items.iter().map(|(c, _)| c.as_str()).collect();
        let _ = writeln!(
            out,
            "\n{what}: {} of {total} cases failed:\n  {}",
            self.items.len(),
            names.join("\n  ")
        );
        eprintln!("{out}");
        panic!(
            "{what}: {} of {total} cases failed (details above)",
            self.items.len()
        );
    }
}

/// True when the environment variable is set to something other than empty, `0` or `false`.
pub fn env_flag(name: &str) -> bool {
    match std::env::var(name) {
        Ok(v) => !(v.is_empty() || v == "0" || v.eq_ignore_ascii_case("false")),
        Err(_) => false,
    }
}
