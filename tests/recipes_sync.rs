//! "Bake once, copy the same bytes to N servers": `examples/recipes/bake-and-sync.sh`
//! run for real with rsync into three local server directories. Every server gets
//! the same bytes and modification times; the version file reaches each server
//! only after every asset and page reached every server; a failed bake copies
//! nothing.

mod common;
mod recipe_tools;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;

use common::*;
use recipe_tools::*;

fn sync(dir: &Path, args: &[&str]) -> Run {
    let mut cmd = Command::new(recipe("bake-and-sync.sh"));
    cmd.env_clear()
        .current_dir(dir)
        .env("PATH", path())
        .env("SSIBAKE", bin())
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .args(args);
    run(&mut cmd)
}

/// The published files of `dir` (ssibake's record left out) with their bytes
/// and modification times.
fn published(dir: &Path) -> BTreeMap<String, (Vec<u8>, std::time::SystemTime)> {
    snapshot(dir)
        .into_iter()
        .filter(|(k, _)| !k.starts_with(".ssibake"))
        .filter_map(|(k, e)| e.bytes.map(|b| (k, (b, e.mtime))))
        .collect()
}

/// The script's log as (step, target, file) in the order things were copied.
fn copies(stdout: &str) -> Vec<(String, String, String)> {
    let mut step = (String::new(), String::new());
    let mut out = Vec::new();
    for line in stdout.lines() {
        if let Some(rest) = line.strip_prefix("bake-and-sync: ") {
            if let Some((s, target)) = rest.split_once(" -> ") {
                step = (s.to_string(), target.to_string());
            }
        } else if let Some(name) = line.strip_prefix("  ") {
            if !name.ends_with('/') {
                out.push((step.0.clone(), step.1.clone(), name.to_string()));
            }
        }
    }
    out
}

/// Asserts the order: assets, then pages, then version.json, each step on
/// every server before the next step starts anywhere.
fn assert_ordered(log: &[(String, String, String)], servers: &[String]) {
    let step_of = |name: &str| {
        if name == "version.json" {
            "3/3 version"
        } else if name.ends_with(".html") {
            "2/3 pages"
        } else {
            "1/3 assets"
        }
    };
    for (step, _, name) in log {
        assert_eq!(
            step,
            step_of(name),
            "`{name}` copied in step {step}: {log:?}"
        );
    }
    let steps: Vec<&str> = log.iter().map(|(s, _, _)| s.as_str()).collect();
    let mut sorted = steps.clone();
    sorted.sort();
    assert_eq!(steps, sorted, "steps interleaved: {log:?}");
    let versions: Vec<&str> = log
        .iter()
        .filter(|(_, _, n)| n == "version.json")
        .map(|(_, t, _)| t.as_str())
        .collect();
    assert_eq!(versions, servers, "version.json once per server, last");
    assert_eq!(log.last().unwrap().2, "version.json");
}

#[test]
fn bake_once_and_copy_the_same_bytes_to_three_servers_version_last() {
    if !require("rsync") || !require("bash") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    write(
        t,
        "site/index.shtml",
        "<link href=\"<!--#frev virtual=\"/css/app.css\" -->\">\
         <meta name=\"build-id\" content=\"<!--#echo var='BUILD_ID' -->\">\n\
         <!--#include virtual=\"/inc/nav.html\" -->",
    );
    write(t, "site/about/index.shtml", "<p>about</p>\n");
    write(t, "site/inc/nav.html", "<nav>v1</nav>\n");
    write(t, "site/css/app.css", "body{color:red}\n");
    write(t, "site/img/logo.svg", "<svg/>\n");
    write(t, "site/old.txt", "to be removed\n");
    let servers: Vec<String> = (1..=3).map(|i| format!("srv{i}/www")).collect();
    for s in &servers {
        fs::create_dir_all(t.join(s)).unwrap();
    }
    let mut args = vec!["site", "dist"];
    args.extend(servers.iter().map(String::as_str));

    // First copy, into empty servers.
    let r = sync(t, &args);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout_text(), r.stderr);
    assert!(r
        .stdout_text()
        .ends_with("bake-and-sync: dist copied to 3 servers\n"));
    let log = copies(&r.stdout_text());
    assert_ordered(&log, &servers);
    let dist = published(&t.join("dist"));
    let old_css = format!("css/app.{}.css", sha256_hex(b"body{color:red}\n", 10));
    assert!(dist.contains_key(&old_css) && dist.contains_key("version.json"));
    for s in &servers {
        assert_eq!(published(&t.join(s)), dist, "{s}: same bytes and times");
        assert!(
            !t.join(s).join(".ssibake").exists(),
            "the record stays home"
        );
    }
    for (step, name) in [("1/3 assets", "css/app.css"), ("2/3 pages", "index.html")] {
        for s in &servers {
            assert!(
                log.contains(&(step.to_string(), s.clone(), name.to_string())),
                "{name} to {s} in {step}: {log:?}"
            );
        }
    }

    // A new build: the stylesheet changes, a file goes away. Only what changed
    // is copied, still in order; the previous revved stylesheet stays (ssibake
    // keeps the last builds' in dist), the removed file goes, last.
    write(t, "site/css/app.css", "body{color:blue}\n");
    fs::remove_file(t.join("site/old.txt")).unwrap();
    let r = sync(t, &args);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout_text(), r.stderr);
    let log = copies(&r.stdout_text());
    assert_ordered(&log, &servers);
    for s in &servers {
        // The removal comes after the new version file, on each server.
        let step = format!("bake-and-sync: 3/3 version -> {s}\n  version.json\ndeleting old.txt\n");
        assert!(r.stdout_text().contains(&step), "{}", r.stdout_text());
    }
    let new_css = format!("css/app.{}.css", sha256_hex(b"body{color:blue}\n", 10));
    let dist = published(&t.join("dist"));
    assert!(dist.contains_key(&new_css) && dist.contains_key(&old_css));
    assert!(!dist.contains_key("old.txt"));
    for s in &servers {
        assert_eq!(published(&t.join(s)), dist, "{s} after the second build");
        assert!(
            !log.iter()
                .any(|(_, target, n)| target == s && n == "img/logo.svg"),
            "an unchanged file is not copied again: {log:?}"
        );
    }
    assert!(read_text(&t.join("srv2/www/index.html")).contains(&format!("/{new_css}")));

    // A failed bake copies nothing anywhere.
    let before: Vec<_> = servers.iter().map(|s| snapshot(&t.join(s))).collect();
    write(t, "site/broken.shtml", "<!--#bogus -->\n");
    let r = sync(t, &args);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("broken.shtml:1:6: error:"),
        "{}",
        r.stderr
    );
    assert!(!r.stdout_text().contains("->"), "{}", r.stdout_text());
    for (s, b) in servers.iter().zip(&before) {
        assert_same_tree(b, &snapshot(&t.join(s)));
    }
}
