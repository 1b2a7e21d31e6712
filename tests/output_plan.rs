//! Issue 10: nothing lost, nothing stale. Partials found by the include graph, a
//! build ID that follows the published bytes, warnings as their own category, the
//! dependency record, revved files kept for the last builds.

mod common;

use std::path::Path;

use common::*;

fn bake_out(dir: &Path, extra: &[&str], code: i32) -> Run {
    let mut cmd = ssibake(dir);
    cmd.env("SOURCE_DATE_EPOCH", "1700000000")
        .args(["--root", "site", "--out", "dist"])
        .args(extra);
    run_expect(&mut cmd, code)
}

fn version(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&read_text(&dir.join("dist/version.json"))).unwrap()
}

fn id(dir: &Path) -> String {
    version(dir)["buildId"].as_str().unwrap().to_string()
}

// ---------------------------------------------------------------- partials

#[test]
fn partials_are_neither_baked_alone_nor_copied_unless_asked() {
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("site");
    // The partial needs the page's variable: baked on its own it fails.
    write(
        &site,
        "index.shtml",
        "<!--#set var=\"title\" value=\"Home\" --><!--#include virtual=\"/inc/head.shtml\" -->body\n",
    );
    write(
        &site,
        "about/index.shtml",
        "<!--#set var=\"title\" value=\"About\" --><!--#include virtual=\"/inc/head.shtml\" -->about\n",
    );
    write(
        &site,
        "inc/head.shtml",
        "<title><!--#echo var=\"title\" --></title>\n",
    );
    write(
        &site,
        "orphan.shtml",
        "<!--#echo var=\"DOCUMENT_NAME\" -->\n",
    );

    let r = bake_out(tmp.path(), &[], 0);
    assert_eq!(
        files(&tmp.path().join("dist")),
        ["about/index.html", "index.html", "orphan.html"],
        "{}",
        r.stderr
    );
    assert_eq!(
        read_text(&tmp.path().join("dist/index.html")),
        "<title>Home</title>\nbody\n"
    );
    let summary = summary_lines(&r.stderr);
    assert!(
        summary[0].starts_with("ssibake: baked 3 pages (2 includes, 0 files stamped), 1 partial,"),
        "{}",
        summary[0]
    );

    // Published too, as Apache would serve it: its own variables unset.
    let r = bake_out(tmp.path(), &["--publish-partials"], 1);
    assert!(
        r.stderr
            .contains("site/inc/head.shtml:1:18: error: `title` is undefined"),
        "{}",
        r.stderr
    );
    write(
        &site,
        "ssibake.toml",
        "publish-partials = true\non-error = \"errmsg\"\n",
    );
    bake_out(tmp.path(), &[], 0);
    assert_eq!(
        read_text(&tmp.path().join("dist/inc/head.html")),
        "<title>(none)</title>\n"
    );
}

#[test]
fn an_error_in_a_shared_partial_is_reported_once() {
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("site");
    for i in 0..40 {
        write(
            &site,
            &format!("p{i:02}.shtml"),
            "<p>\n<!--#include virtual=\"/inc/footer.shtml\" -->\n",
        );
    }
    write(
        &site,
        "inc/footer.shtml",
        "x\n<!--#flastmode virtual=\"/x\" -->\n",
    );
    let r = bake_out(tmp.path(), &[], 1);
    let located = "site/inc/footer.shtml:2:6: error: unknown directive `#flastmode`";
    assert_eq!(r.stderr.matches(located).count(), 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("= note: included from 40 pages (first: p00.shtml); shown once"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.lines().count() < 20,
        "one report, not one per page:\n{}",
        r.stderr
    );
    let summary = summary_lines(&r.stderr);
    assert!(
        summary[0].contains(", 1 error, 0 warnings in "),
        "{}",
        summary[0]
    );

    // JSON: one object, with its type, the page count and the include chain.
    let r = bake_out(tmp.path(), &["--message-format", "json"], 1);
    let objects: Vec<serde_json::Value> = r
        .stderr
        .lines()
        .map(|l| serde_json::from_str(l).expect(l))
        .collect();
    let diags: Vec<&serde_json::Value> = objects
        .iter()
        .filter(|o| o["type"] == "diagnostic")
        .collect();
    assert_eq!(diags.len(), 1, "{}", r.stderr);
    assert_eq!(diags[0]["pages"], 40);
    assert_eq!(diags[0]["page"], "p00.shtml");
    assert_eq!(diags[0]["severity"], "error");
    assert_eq!(diags[0]["included_from"][0]["file"], "site/p00.shtml");
    assert_eq!(diags[0]["included_from"][0]["line"], 2);
    assert_eq!(objects.last().unwrap()["type"], "summary");
}

// ---------------------------------------------------------------- build ID

/// A site with a partial, an excluded partial, an asset and a page that shows
/// the build ID.
fn id_site(site: &Path) {
    write(
        site,
        "index.shtml",
        "<meta content=\"<!--#echo var='BUILD_ID' -->\"><!--#include virtual=\"/inc/nav.shtml\" --><!--#include virtual=\"/parts/footer.html\" -->\n",
    );
    write(site, "inc/nav.shtml", "<nav>nav</nav>\n");
    write(site, "parts/footer.html", "<footer>f</footer>\n");
    write(site, "app.css", "body{}\n");
}

#[test]
fn the_build_id_changes_exactly_when_the_published_bytes_do() {
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("site");
    id_site(&site);
    let flags = ["--version-file", "version.json", "--exclude", "parts/**"];
    bake_out(tmp.path(), &flags, 0);
    let mut last = id(tmp.path());
    let built = version(tmp.path())["builtAt"].clone();
    assert!(read_text(&tmp.path().join("dist/index.html")).contains(&last));

    // Identical inputs: the same ID; an unused define: still the same.
    bake_out(tmp.path(), &flags, 0);
    assert_eq!(id(tmp.path()), last);
    bake_out(tmp.path(), &[&flags[..], &["-D", "UNUSED=1"]].concat(), 0);
    assert_eq!(id(tmp.path()), last, "a define no page reads");
    assert_eq!(version(tmp.path())["builtAt"], built);

    // Each edit that changes a published byte changes it.
    let edits: [(&str, &str); 4] = [
        ("inc/nav.shtml", "<nav>NAV</nav>\n"),
        ("parts/footer.html", "<footer>F</footer>\n"),
        ("app.css", "body{color:red}\n"),
        ("new.txt", "new\n"),
    ];
    for (file, content) in edits {
        write(&site, file, content);
        bake_out(tmp.path(), &flags, 0);
        let now = id(tmp.path());
        assert_ne!(now, last, "editing {file} must change the ID");
        assert!(read_text(&tmp.path().join("dist/index.html")).contains(&now));
        last = now;
    }
    // A define that a page reads changes its bytes, hence the ID.
    write(
        &site,
        "about.shtml",
        "<!--#if expr=\"v('FLAG') = '1'\" -->on<!--#else -->off<!--#endif -->\n",
    );
    bake_out(tmp.path(), &flags, 0);
    let before = id(tmp.path());
    bake_out(tmp.path(), &[&flags[..], &["-D", "FLAG=1"]].concat(), 0);
    assert_ne!(id(tmp.path()), before, "a define a page reads");
}

/// Random edits, many rounds: the ID is equal exactly when the published bytes
/// (everything but the version file and ssibake's record) are.
#[test]
fn build_id_property_over_random_edits() {
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("site");
    id_site(&site);
    let flags = ["--version-file", "version.json", "--exclude", "parts/**"];
    let published = |dir: &Path| {
        let mut c: Vec<(String, Vec<u8>)> = contents(&dir.join("dist"))
            .into_iter()
            .filter(|(k, _)| k != "version.json" && !k.starts_with(".ssibake/"))
            .collect();
        // The page shows the ID itself: compare it with the ID taken out.
        let v = id(dir);
        for (_, bytes) in c.iter_mut() {
            let text = String::from_utf8_lossy(bytes).replace(&v, "ID");
            *bytes = text.into_bytes();
        }
        c
    };
    type Published = Vec<(String, Vec<u8>)>;
    let mut seen: Vec<(String, Published)> = Vec::new();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for round in 0..24 {
        let r = next();
        let value = ["a", "b", "c"][(r >> 8) as usize % 3];
        let mut extra: Vec<String> = flags.iter().map(|s| s.to_string()).collect();
        match r % 5 {
            0 => write(&site, "inc/nav.shtml", format!("<nav>{value}</nav>\n")),
            1 => write(
                &site,
                "parts/footer.html",
                format!("<footer>{value}</footer>\n"),
            ),
            2 => write(&site, "app.css", format!("body{{{value}}}\n")),
            3 => {
                extra.push("-D".into());
                extra.push(format!("UNUSED={value}"));
                site.join("app.css")
            }
            _ => site.join("app.css"),
        };
        let args: Vec<&str> = extra.iter().map(String::as_str).collect();
        bake_out(tmp.path(), &args, 0);
        let (now, bytes) = (id(tmp.path()), published(tmp.path()));
        for (old_id, old_bytes) in &seen {
            assert_eq!(
                *old_id == now,
                *old_bytes == bytes,
                "round {round}: IDs {old_id} and {now} disagree with the bytes"
            );
        }
        seen.push((now, bytes));
    }
    let distinct: std::collections::BTreeSet<&String> = seen.iter().map(|(i, _)| i).collect();
    assert!(distinct.len() > 3, "the edits must produce several builds");
}

#[test]
fn an_identical_in_place_rerun_keeps_the_id() {
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("site");
    write(
        &site,
        "index.html",
        "<meta name=\"build-id\" content=\"<!--#echo var='BUILD_ID' -->\">\n",
    );
    write(&site, "app.js", "1\n");
    let in_place = |code| {
        let mut cmd = ssibake(tmp.path());
        cmd.args([
            "--root",
            "site",
            "--in-place",
            "--version-file",
            "version.json",
            "-q",
        ])
        .arg(site.join("index.html"));
        run_expect(&mut cmd, code)
    };
    in_place(0);
    let v = |p: &Path| -> serde_json::Value {
        serde_json::from_str(&read_text(&p.join("version.json"))).unwrap()
    };
    let first = v(&site);
    assert!(read_text(&site.join("index.html")).contains(first["buildId"].as_str().unwrap()));
    for _ in 0..2 {
        let r = in_place(0);
        assert_eq!(v(&site), first, "{}", r.stderr);
    }
    write(&site, "app.js", "2\n");
    in_place(0);
    assert_ne!(v(&site)["buildId"], first["buildId"]);
}

// ---------------------------------------------------------------- warnings

#[test]
fn errmsg_mode_warns_and_deny_warnings_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("site");
    write(
        &site,
        "index.shtml",
        "<p>\n  <!--#include virtual=\"/missing.html\" -->\n<!-- #echo var=\"X\" -->\n<!--#include virtual=\"/raw.html\" -->\n",
    );
    write(&site, "raw.html", "<!--#echo var=\"DOCUMENT_NAME\" -->\n");

    let r = bake_out(tmp.path(), &["--on-error", "errmsg"], 0);
    for expected in [
        "site/index.shtml:2:16: warning: `missing.html` does not exist; the page ships `[an error occurred while processing this directive]` here",
        "site/index.shtml:3:1: warning: `<!-- #echo` is an HTML comment, not a directive",
        "site/index.shtml:4:14: warning: `raw.html` holds SSI directives but is not parsed here",
    ] {
        assert!(r.stderr.contains(expected), "lacks {expected}:\n{}", r.stderr);
    }
    let summary = summary_lines(&r.stderr);
    assert!(
        summary[0].contains(", 0 errors, 3 warnings in "),
        "{}",
        summary[0]
    );
    let before = snapshot(&tmp.path().join("dist"));

    write(
        &site,
        "index.shtml",
        "<!--#include virtual=\"/gone.html\" -->\n",
    );
    let r = bake_out(tmp.path(), &["--on-error", "errmsg", "--deny-warnings"], 1);
    assert!(
        summary_lines(&r.stderr)[0].ends_with("(nothing was written: --deny-warnings)"),
        "{}",
        r.stderr
    );
    assert_same_tree(&before, &snapshot(&tmp.path().join("dist")));

    // A page that only drops a file warns of the removal.
    write(&site, "index.shtml", "plain\n");
    std::fs::remove_file(site.join("raw.html")).unwrap();
    let r = bake_out(tmp.path(), &[], 0);
    assert!(
        r.stderr.contains(
            "ssibake: warning: `raw.html` is in the previous output but no longer in the site"
        ),
        "{}",
        r.stderr
    );
}

// ---------------------------------------------------------------- record

#[test]
fn the_dependency_record_lists_each_pages_inputs() {
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("site");
    write(
        &site,
        "blog/post.shtml",
        "<!--#include virtual=\"/inc/head.shtml\" --><!--#config timefmt=\"%s\" --><!--#flastmod virtual=\"/app.css\" --><!--#include virtual=\"/maybe.html\" onerror=\"/inc/fallback.html\" -->\n",
    );
    write(
        &site,
        "inc/head.shtml",
        "<!--#include file=\"nav.html\" -->",
    );
    write(&site, "inc/nav.html", "nav");
    write(&site, "inc/fallback.html", "fallback");
    write(&site, "app.css", "x");
    write(&site, "blog/.htaccess", "SSITimeFormat \"%Y\"\n");
    bake_out(tmp.path(), &["--on-error", "errmsg"], 0);
    let deps: serde_json::Value =
        serde_json::from_str(&read_text(&tmp.path().join("dist/.ssibake/deps.json"))).unwrap();
    let post = &deps["pages"]["blog/post.shtml"];
    assert_eq!(post["output"], "blog/post.html");
    assert_eq!(
        post["includes"],
        serde_json::json!(["inc/head.shtml", "inc/nav.html", "inc/fallback.html"])
    );
    assert_eq!(post["stamped"], serde_json::json!(["app.css"]));
    assert_eq!(post["missing"], serde_json::json!(["maybe.html"]));
    assert_eq!(post["settings"], serde_json::json!(["blog/.htaccess"]));
    assert_eq!(deps["pages"]["inc/head.shtml"]["partial"], true);
    assert!(!tmp.path().join("dist/inc/head.html").exists());
}

// ---------------------------------------------------------------- revved files

#[test]
fn revved_files_are_kept_for_the_last_builds() {
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("site");
    write(
        &site,
        "index.shtml",
        "<link href=\"<!--#config hashlen=\"8\" --><!--#frev virtual=\"/app.css\" -->\">\n",
    );
    let revved = |dir: &Path| -> Vec<String> {
        files(&dir.join("dist"))
            .into_iter()
            .filter(|f| f.starts_with("app.") && f != "app.css")
            .collect()
    };
    let mut names = Vec::new();
    for v in 1..=5 {
        write(&site, "app.css", format!("v{v}\n"));
        bake_out(tmp.path(), &[], 0);
        let page = read_text(&tmp.path().join("dist/index.html"));
        let name = page
            .trim()
            .trim_start_matches("<link href=\"/")
            .trim_end_matches("\">")
            .to_string();
        names.push(name);
        let mut expected: Vec<String> = names.iter().rev().take(3).cloned().collect();
        expected.sort();
        assert_eq!(revved(tmp.path()), expected, "after build {v}");
    }
    // Each kept file still holds the bytes of its build.
    assert_eq!(read_text(&tmp.path().join("dist").join(&names[2])), "v3\n");
    bake_out(tmp.path(), &["--keep-builds", "1"], 0);
    assert_eq!(revved(tmp.path()), [names[4].clone()]);
    let r = bake_out(tmp.path(), &["--keep-builds", "0"], 2);
    assert!(
        r.stderr.contains("--keep-builds must be at least 1"),
        "{}",
        r.stderr
    );
}

// ---------------------------------------------------------------- collisions

#[test]
fn a_revved_name_on_a_site_file_is_a_collision_and_usage_errors_are_json() {
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("site");
    write(
        &site,
        "index.shtml",
        "<!--#config hashlen=\"4\" --><!--#frev virtual=\"/a.css\" -->\n",
    );
    // `printf 'x' | sha256sum` = 2d711642...
    write(&site, "a.css", "x");
    write(&site, "a.2d71.css", "something else");
    let r = bake_out(tmp.path(), &[], 2);
    assert!(
        r.stderr.contains(
            "`a.2d71.css` would come from both `a.css` (revved by #frev) and `a.2d71.css` (copied)"
        ),
        "{}",
        r.stderr
    );
    assert!(!tmp.path().join("dist").exists());
    // The same bytes checked in under the revved name are no collision.
    write(&site, "a.2d71.css", "x");
    bake_out(tmp.path(), &[], 0);
    assert_eq!(
        read_text(&tmp.path().join("dist/index.html")),
        "/a.2d71.css\n"
    );

    let r = bake_out(tmp.path(), &["--message-format", "json", "--pages", "["], 2);
    let v: serde_json::Value = serde_json::from_str(r.stderr.trim()).expect(&r.stderr);
    assert_eq!(v["type"], "error");
    assert!(v["message"].as_str().unwrap().contains("bad glob"), "{v}");
}
