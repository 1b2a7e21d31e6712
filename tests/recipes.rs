//! The deploy recipes of `examples/recipes/` (see "Deploy recipes" in the README),
//! each run for real on a temporary checkout with the built binary: a CI check
//! script and a Makefile. The git hooks are in `recipes_git.rs`, Vite in
//! `recipes_vite.rs`, the copy to several servers in `recipes_sync.rs`.

mod common;
mod recipe_tools;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::*;
use recipe_tools::*;

// ------------------------------------------------------------ CI script

fn ci_site(site: &Path) {
    write(
        site,
        "index.shtml",
        "<!--#config timefmt=\"%s\" -->\
         <link href=\"/app.css?<!--#flastmod virtual=\"/app.css\" -->\">\n\
         <!--#include virtual=\"/partials/nav.html\" -->\
         <p>Built <!--#echo var=\"DATE_GMT\" --></p>\n",
    );
    write(site, "partials/nav.html", "<nav>home</nav>\n");
    write(site, "app.css", "body{}\n");
}

fn ci_script(dir: &Path, args: &[&str]) -> Run {
    let mut cmd = Command::new(recipe("ci-bake.sh"));
    cmd.env_clear()
        .current_dir(dir)
        .env("PATH", path())
        .env("SSIBAKE", bin())
        .args(args);
    run(&mut cmd)
}

#[test]
fn ci_script_passes_on_the_golden_output_and_fails_on_a_difference() {
    if !require("bash") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let site = t.join("site");
    ci_site(&site);

    // Without a golden output there is nothing to check against.
    let r = ci_script(t, &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--update"), "{}", r.stderr);

    let r = ci_script(t, &["--update"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let golden = t.join("golden");
    assert_eq!(
        read_text(&golden.join("index.html")),
        "<link href=\"/app.css?1700000000\">\n<nav>home</nav>\n\
         <p>Built 1700000000</p>\n",
        "every file is pinned to SSIBAKE_EPOCH, which is also the date shown"
    );

    // Matching tree: exit 0, whatever the checkout's times are.
    let site_before = snapshot(&site);
    let r = ci_script(t, &["site", "golden"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("0 files differ"), "{}", r.stderr);
    assert_same_tree(&site_before, &snapshot(&site));
    set_mtime(&site.join("app.css"), at(1_234_567_890, 0));
    set_mtime(&site.join("partials/nav.html"), at(1_234_567_890, 0));
    let r = ci_script(t, &[]);
    assert_eq!(
        r.code, 0,
        "a fresh clone's times do not matter: {}",
        r.stderr
    );

    // Non-matching tree: exit 4, a unified diff naming the file on standard
    // output, the count in the summary.
    write(&site, "partials/nav.html", "<nav>home | blog</nav>\n");
    let golden_before = snapshot(&golden);
    let r = ci_script(t, &[]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    for expected in [
        "--- a/index.html\n+++ b/index.html\n",
        "\n-<nav>home</nav>\n+<nav>home | blog</nav>\n",
        "--- a/partials/nav.html\n",
    ] {
        assert!(
            r.stdout_text().contains(expected),
            "lacks `{expected}`:\n{}",
            r.stdout_text()
        );
    }
    assert!(r.stderr.contains("2 files differ"), "{}", r.stderr);
    assert_same_tree(&golden_before, &snapshot(&golden));

    // A template error fails the job too, named as in the repository.
    write(&site, "bad.shtml", "<!--#echo -->\n");
    let r = ci_script(t, &[]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("site/bad.shtml:1:"), "{}", r.stderr);

    // --update accepts the change; the check passes again.
    fs::remove_file(site.join("bad.shtml")).unwrap();
    assert_eq!(ci_script(t, &["--update"]).code, 0);
    let r = ci_script(t, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(read_text(&golden.join("index.html")).contains("home | blog"));
}

// ---------------------------------------------------------------- Makefile

#[test]
fn makefile_bake_and_check_targets() {
    if !require("make") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    fs::copy(recipe("Makefile"), t.join("Makefile")).unwrap();
    write(t, "site/index.shtml", "<p><!--#echo var=\"ENV\" --></p>\n");
    write(t, "site/style.css", "p{}\n");
    let ssibake = format!("SSIBAKE={}", bin().display());
    let make = |args: &[&str]| {
        let mut cmd = tool("make", t, t);
        cmd.arg("--no-print-directory").arg(&ssibake).args(args);
        run(&mut cmd)
    };

    let r = make(&["bake", "SSIBAKE_FLAGS=-D ENV=prod"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(read_text(&t.join("dist/index.html")), "<p>prod</p>\n");
    assert_eq!(read(&t.join("dist/style.css")), b"p{}\n");

    let r = make(&["check", "SSIBAKE_FLAGS=-D ENV=prod"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let before = snapshot(&t.join("dist"));
    let r = make(&["check", "SSIBAKE_FLAGS=-D ENV=staging"]);
    assert_ne!(r.code, 0, "make check fails on a difference");
    assert!(
        r.stdout_text().contains("-<p>prod</p>\n+<p>staging</p>"),
        "{}",
        r.stdout_text()
    );
    assert_same_tree(&before, &snapshot(&t.join("dist")));

    // A broken page fails `make bake` and keeps the previous output.
    write(t, "site/broken.shtml", "<!--#bogus -->\n");
    let r = make(&["bake", "SSIBAKE_FLAGS=-D ENV=prod"]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("site/broken.shtml:1:6: error:"),
        "{}",
        r.stderr
    );
    assert_same_tree(&before, &snapshot(&t.join("dist")));

    // SITE and DIST are variables too.
    fs::remove_file(t.join("site/broken.shtml")).unwrap();
    fs::rename(t.join("site"), t.join("public")).unwrap();
    let r = make(&[
        "bake",
        "SITE=public",
        "DIST=build",
        "SSIBAKE_FLAGS=-D ENV=test",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(read_text(&t.join("build/index.html")), "<p>test</p>\n");
    // Without the define the page would print Apache's `(none)`: refused.
    let r = make(&["bake", "SITE=public", "DIST=build2"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("`ENV` is undefined"), "{}", r.stderr);
    assert!(!t.join("build2").exists());
}
