//! Differential test against a real Apache httpd 2.4 mod_include.
//!
//! Starts one Apache per time zone over every case with `apache = true` and asserts, for each,
//! that
//! 1. Apache still serves exactly the recorded `expected.html` (a drift of the reference
//!    shows up here), and
//! 2. `ssibake --on-error errmsg --apache-version <the running release>` (plus
//!    `--legacy-expr` when the case asks) prints the same bytes as Apache.
//!
//! Apache releases differ (`src/engine/compat.rs`): `expected.html` is what 2.4.68 and later
//! serve; a case where a release before 2.4.68 serves other bytes also carries
//! `expected.before-2.4.68.html`, recorded from such a release, and that is the reference
//! when the running Apache is older than 2.4.68.
//!
//! `RECORD_APACHE=1 cargo test --test apache_differential` (re)writes the running release's
//! recording from Apache's response; that is the only way these files are produced.
//! Without Apache the test is skipped loudly, except under `CI=true`, where it fails.

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;

use support::apache::{apache_or_skip, apache_version, Apache, VHost};
use support::diff::diff;
use support::fixture::{self, Case, Mode};
use support::run::run_ssibake_as;
use support::{env_flag, Failures};

#[test]
fn apache_differential() {
    let Some(bin) = apache_or_skip("apache_differential") else {
        return;
    };
    let record = env_flag("RECORD_APACHE");
    // Releases differ (see src/engine/compat.rs): ssibake is run as the release that
    // serves, and that release's recording is the reference.
    let version = apache_version(&bin);
    let before_2_4_68 = fixture::is_before_2_4_68(&version);
    eprintln!("apache_differential: Apache {version} (ssibake --apache-version {version})");
    let cases: Vec<Case> = fixture::load_cases()
        .into_iter()
        .filter(|c| c.apache)
        .collect();
    let tmp = fixture::temp_parent("ssibake-differential-");
    if let Err(e) = fixture::check_parents_traversable(tmp.path()) {
        panic!("{e}");
    }
    let mut by_tz: BTreeMap<&str, Vec<&Case>> = BTreeMap::new();
    for c in &cases {
        by_tz.entry(c.tz.as_str()).or_default().push(c);
    }
    let mut failures = Failures::default();
    let mut recorded = Vec::new();
    for (tz, group) in by_tz {
        let roots: Vec<PathBuf> = group.iter().map(|c| c.materialize(tmp.path())).collect();
        let vhosts: Vec<VHost> = group
            .iter()
            .zip(&roots)
            .map(|(c, r)| VHost {
                name: c.name.clone(),
                root: r.clone(),
                legacy_expr: c.legacy_expr,
                defines: c.defines.clone(),
                vhost_extra: c
                    .apache_conf
                    .as_ref()
                    .map(|p| {
                        let text = fs::read_to_string(p)
                            .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                        text.lines()
                            .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
                            .map(String::from)
                            .collect()
                    })
                    .unwrap_or_default(),
                ..VHost::default()
            })
            .collect();
        let mut apache = Apache::start(&bin, tz, &vhosts)
            .unwrap_or_else(|e| panic!("cannot start Apache with TZ={tz}: {e}"));
        eprintln!(
            "apache_differential: Apache (TZ={tz}) on 127.0.0.1:{} serving {} case(s)",
            apache.port,
            group.len()
        );
        for (case, root) in group.iter().zip(&roots) {
            let host = format!("{}.test", case.name);
            let resp = match apache.get_http11(&host, &case.url_path()) {
                Ok(r) => r,
                Err(e) => {
                    failures.add(
                        &case.name,
                        format!("{}Apache request failed: {e}\n", case.header()),
                    );
                    continue;
                }
            };
            let root_s = root.to_string_lossy().into_owned();
            let apache_log = apache.error_log_lines(&root_s).replace(&root_s, "$ROOT");
            if resp.status != 200 {
                failures.add(
                    &case.name,
                    format!(
                        "{}Apache answered {} (a parsed page should be 200; the case input is wrong)\n{}\nbody:\n{}\nApache error log:\n{}",
                        case.header(),
                        resp.status,
                        resp.headers,
                        String::from_utf8_lossy(&resp.body),
                        apache_log
                    ),
                );
                continue;
            }
            let expected_path = case.expected_html_path_for(&version);
            let expected = fs::read(&expected_path).ok();
            if record {
                // A release before 2.4.68 records only where it differs from
                // `expected.html` (the newer releases' recording).
                let main = fs::read(case.expected_html_path()).ok();
                let path = if !before_2_4_68 {
                    Some(case.expected_html_path())
                } else if main.as_deref() == Some(&resp.body[..]) {
                    None
                } else if main.is_none() {
                    Some(case.expected_html_path())
                } else {
                    Some(case.expected_before_2_4_68_path())
                };
                if let Some(path) = path {
                    if fs::read(&path).ok().as_deref() != Some(&resp.body[..]) {
                        fs::write(&path, &resp.body)
                            .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
                        recorded.push(format!(
                            "{}/{}",
                            case.name,
                            path.file_name().unwrap().to_string_lossy()
                        ));
                    }
                }
            } else {
                match &expected {
                    None => failures.add(
                        &case.name,
                        format!(
                            "{}no expected.html yet: record it with\n  RECORD_APACHE=1 cargo test --test apache_differential\n",
                            case.header()
                        ),
                    ),
                    Some(e) if *e != resp.body => failures.add(
                        &format!("{} (Apache drift)", case.name),
                        format!(
                            "{}Apache {version} no longer serves the recorded {} (a different Apache build?)\n{}Apache error log:\n{}",
                            case.header(),
                            expected_path.file_name().unwrap().to_string_lossy(),
                            diff("recorded", e, "Apache now", &resp.body),
                            apache_log
                        ),
                    ),
                    Some(_) => {}
                }
            }
            let out = run_ssibake_as(case, root, Mode::Errmsg, Some(&version));
            if out.code != Some(0) || out.stdout != resp.body {
                let mut r = case.header();
                r.push_str(&format!("command:     {}\n", out.command));
                r.push_str(&format!(
                    "status:      {} (expected exit 0)\n",
                    out.describe_status()
                ));
                r.push_str(&diff("Apache", &resp.body, "ssibake", &out.stdout));
                if !out.stderr.is_empty() {
                    let s = String::from_utf8_lossy(&out.stderr);
                    r.push_str(&format!(
                        "ssibake stderr:\n{}\n",
                        s.chars().take(2000).collect::<String>()
                    ));
                }
                if !apache_log.is_empty() {
                    r.push_str(&format!("Apache error log for this case:\n{apache_log}"));
                }
                failures.add(&case.name, r);
            }
        }
        apache.stop();
        eprintln!(
            "apache_differential: Apache error log kept at {}",
            apache.kept_error_log_path().display()
        );
    }
    if record {
        if recorded.is_empty() {
            eprintln!("RECORD_APACHE: every expected.html already matched Apache");
        } else {
            eprintln!(
                "RECORD_APACHE: wrote {} expected.html file(s) from Apache (review with git diff fixtures/):\n  {}",
                recorded.len(),
                recorded.join("\n  ")
            );
        }
    }
    failures.finish("apache_differential", cases.len());
}
