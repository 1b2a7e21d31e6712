//! The deploy recipes of `examples/recipes/` (see "Deploy recipes" in the README),
//! each run for real on a temporary checkout with the built binary: a CI check
//! script and a Makefile. The git hooks are in `recipes_git.rs`, Vite in
//! `recipes_vite.rs`, the copy to several servers in `recipes_sync.rs`.

mod common;
mod recipe_tools;

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use recipe_tools::*;

// ----------------------------------------------------------- npm postbuild

/// The Vite project of the recipe, with `vite build` replaced by a copy of the
/// checked-in `fake-dist/` (what `vite build` writes for this project; Vite is
/// not downloaded). `postbuild` is the recipe's, unchanged.
fn vite_project(dir: &Path) {
    let recipe_dir = recipe("vite");
    let mut pkg: serde_json::Value =
        serde_json::from_slice(&read(&recipe_dir.join("package.json"))).unwrap();
    assert_eq!(pkg["scripts"]["build"], "vite build");
    assert_eq!(
        pkg["scripts"]["postbuild"],
        "ssibake --root dist --in-place dist/index.html"
    );
    pkg["scripts"]["build"] = "rm -rf dist && cp -R fake-dist dist".into();
    pkg.as_object_mut().unwrap().remove("devDependencies");
    fs::create_dir_all(dir).unwrap();
    fs::write(
        dir.join("package.json"),
        serde_json::to_vec_pretty(&pkg).unwrap(),
    )
    .unwrap();
    copy_tree(&recipe_dir.join("fake-dist"), &dir.join("fake-dist"));
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

const VITE_BAKED: &str = r#"<!doctype html>
<html lang="en">
  <head>
    <meta charset="UTF-8">
    <title>Example app</title>
    <script type="module" crossorigin src="/assets/index-BXq3nJ2Z.js"></script>
  </head>
  <body>
    <header class="banner">Scheduled maintenance on Sunday</header>

    <div id="app"></div>
    
    <footer>Deployed 2023-11-14</footer>
  </body>
</html>
"#;

#[test]
fn npm_postbuild_bakes_the_vite_index_html() {
    if !require("npm") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().join("app");
    vite_project(&project);
    // `ssibake` on the PATH, as after `cargo install ssibake`.
    let bin_dir = tmp.path().join("bin");
    fs::create_dir(&bin_dir).unwrap();
    std::os::unix::fs::symlink(bin(), bin_dir.join("ssibake")).unwrap();
    let mut search = OsString::from(&bin_dir);
    search.push(":");
    search.push(path());
    let npm = |project: &Path| {
        let mut cmd = tool("npm", project, tmp.path());
        cmd.env("PATH", &search)
            .env("npm_config_cache", tmp.path().join("npm-cache"))
            .env("npm_config_update_notifier", "false")
            .env("npm_config_fund", "false")
            .env("npm_config_audit", "false")
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .args(["run", "build"]);
        run(&mut cmd)
    };

    let template = read(&project.join("fake-dist/index.html"));
    let r = npm(&project);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout_text(), r.stderr);
    assert!(
        r.stdout_text().contains("> postbuild") || r.stdout_text().contains(" postbuild\n"),
        "npm ran postbuild:\n{}",
        r.stdout_text()
    );
    assert!(r.stderr.contains("ssibake: baked 1 page"), "{}", r.stderr);
    let dist = project.join("dist");
    assert_eq!(read_text(&dist.join("index.html")), VITE_BAKED);
    assert_eq!(
        read(&dist.join("assets/index-BXq3nJ2Z.js")),
        read(&project.join("fake-dist/assets/index-BXq3nJ2Z.js"))
    );
    // The build writes a fresh dist/ each time, so baking it in place never
    // consumes the template: a second build gives the same page.
    assert_eq!(read(&project.join("fake-dist/index.html")), template);
    let r = npm(&project);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(read_text(&dist.join("index.html")), VITE_BAKED);

    // A broken include fails `npm run build` and leaves the page unbaked.
    let broken = tmp.path().join("broken");
    vite_project(&broken);
    fs::remove_file(broken.join("fake-dist/partials/banner.html")).unwrap();
    let r = npm(&broken);
    assert_ne!(r.code, 0, "a failed bake fails the build");
    assert!(
        r.stderr
            .contains("dist/index.html:9:18: error: `partials/banner.html` does not exist"),
        "{}",
        r.stderr
    );
    assert_eq!(read(&broken.join("dist/index.html")), template);
}

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
