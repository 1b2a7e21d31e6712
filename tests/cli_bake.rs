//! The deploy workflows of the command line, run for real: tree bakes, in-place
//! rewrites, `--check`, diagnostics formats, `ssibake.toml`, completions and the
//! man page. Every test runs the built binary with a cleared environment on a
//! temporary tree and asserts bytes, exit statuses and file times.

mod common;

use std::fs;
use std::path::Path;

use common::*;

/// When the example tree's stylesheet was last changed (with nanoseconds, so a
/// copy that drops them is caught).
const CSS_SECS: u64 = 1_355_283_501;
const CSS_NANOS: u32 = 123_456_789;

const INDEX: &str = r#"<!--#config timefmt="%s" -->
<link href="/css/app.css?<!--#flastmod virtual="/css/app.css" -->" rel="stylesheet">
<!--#include virtual="/includes/header.shtml" -->
<!--#include virtual="/includes/footer.html" -->
"#;

const INDEX_BAKED: &str = r#"
<link href="/css/app.css?1355283501" rel="stylesheet">
<h1>Example</h1>

<footer>f</footer>

"#;

const LOGO: &[u8] = b"\x89PNG\r\n\x1a\n\x00\xff binary";

/// A small site: two pages, an included template, assets, and a `.git`.
fn make_site(root: &Path) {
    write(root, "index.shtml", INDEX);
    write(
        root,
        "includes/header.shtml",
        "<h1><!--#echo var=\"SITE\" --></h1>\n",
    );
    write(root, "includes/footer.html", "<footer>f</footer>\n");
    write(
        root,
        "blog/post.shtml",
        "<!--#set var=\"x\" value=\"post\" --><p><!--#echo var=\"x\" --></p>\n",
    );
    write_at(root, "css/app.css", "body{}\n", at(CSS_SECS, CSS_NANOS));
    write_at(root, "img/logo.png", LOGO, at(1_600_000_000, 0));
    write(root, ".git/HEAD", "ref: refs/heads/main\n");
    write(root, ".git/config", "[core]\n");
}

fn bake(dir: &Path, args: &[&str]) -> Run {
    run_expect(ssibake(dir).args(args), 0)
}

/// Renders `probe` as a page of `root` (written there first) and returns stdout.
fn render_probe(root: &Path, probe: &str) -> Vec<u8> {
    write(root, "probe.shtml", probe);
    let r = run_expect(
        ssibake(root)
            .args(["--root", "."])
            .arg(root.join("probe.shtml")),
        0,
    );
    fs::remove_file(root.join("probe.shtml")).unwrap();
    r.stdout
}

// ---------------------------------------------------------------- tree bake

#[test]
fn tree_bake_renders_pages_and_links_assets_with_their_times() {
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("site");
    make_site(&site);
    let r = bake(
        tmp.path(),
        &["--root", "site", "--out", "dist", "-D", "SITE=Example"],
    );
    let dist = tmp.path().join("dist");

    assert_eq!(
        files(&dist),
        [
            "blog/post.html",
            "css/app.css",
            "img/logo.png",
            "includes/footer.html",
            "index.html",
        ],
        "pages renamed to .html, every other file copied, .git left out, the partial \
         includes/header.shtml (included by index.shtml) not published"
    );
    assert_eq!(read_text(&dist.join("index.html")), INDEX_BAKED);
    assert_eq!(read_text(&dist.join("blog/post.html")), "<p>post</p>\n");
    assert_eq!(read(&dist.join("img/logo.png")), LOGO);
    assert!(!dist.join(".git").exists(), ".git must not be published");

    // Assets keep their times to the nanosecond, so `flastmod` against the
    // output says what it says against the source.
    for asset in ["css/app.css", "img/logo.png", "includes/footer.html"] {
        assert_eq!(
            mtime(&dist.join(asset)),
            mtime(&site.join(asset)),
            "{asset} lost its modification time"
        );
    }
    assert_eq!(mtime(&dist.join("css/app.css")), at(CSS_SECS, CSS_NANOS));
    let probe = "<!--#config timefmt=\"%s %Y-%m-%d %H:%M:%S\" -->\
                 <!--#flastmod virtual=\"/css/app.css\" -->|\
                 <!--#flastmod virtual=\"/img/logo.png\" -->|\
                 <!--#fsize virtual=\"/img/logo.png\" -->";
    let from_source = render_probe(&site, probe);
    assert_eq!(
        String::from_utf8_lossy(&from_source),
        "1355283501 2012-12-12 03:38:21|1600000000 2020-09-13 12:26:40| 17 "
    );
    assert_eq!(render_probe(&dist, probe), from_source);

    // Baked pages are new files that a server can read.
    assert_eq!(mode(&dist.join("index.html")), 0o644);
    assert_eq!(leftovers(tmp.path(), ".ssibake"), Vec::<String>::new());

    let summary = summary_lines(&r.stderr);
    assert_eq!(summary.len(), 1, "one summary line: {}", r.stderr);
    assert_summary(
        summary[0],
        "baked 2 pages (2 includes, 1 file stamped), 1 partial, copied 3 files, 0 errors, \
         0 warnings in ",
        "",
    );
    assert!(r.stdout.is_empty(), "a tree bake prints nothing on stdout");
}

fn device(path: &Path) -> u64 {
    std::os::unix::fs::MetadataExt::dev(&fs::metadata(path).unwrap())
}

#[test]
fn assets_on_another_file_system_are_copied_with_their_times() {
    // /dev/shm is a tmpfs on Linux: a hard link into it fails and ssibake copies.
    let shm = Path::new("/dev/shm");
    let tmp = tempfile::tempdir().unwrap();
    let other = match tempfile::tempdir_in(shm) {
        Ok(d) if device(d.path()) != device(tmp.path()) => d,
        _ => {
            eprintln!("SKIPPED: no second file system (/dev/shm) to copy across");
            return;
        }
    };
    let site = tmp.path().join("site");
    make_site(&site);
    let dist = other.path().join("dist");
    bake(
        tmp.path(),
        &[
            "--root",
            "site",
            "-D",
            "SITE=Example",
            "--out",
            dist.to_str().unwrap(),
            "-q",
        ],
    );
    for asset in ["css/app.css", "img/logo.png"] {
        assert_ne!(
            device(&dist.join(asset)),
            device(&site.join(asset)),
            "{asset} is a copy on the other file system"
        );
        assert_eq!(read(&dist.join(asset)), read(&site.join(asset)));
        assert_eq!(
            mtime(&dist.join(asset)),
            mtime(&site.join(asset)),
            "{asset}: a copy keeps the time"
        );
    }
    let probe = "<!--#config timefmt=\"%s\" --><!--#flastmod virtual=\"/css/app.css\" -->";
    assert_eq!(render_probe(&dist, probe), b"1355283501");
    assert_eq!(leftovers(other.path(), ".ssibake"), Vec::<String>::new());
}

#[test]
fn exclude_pages_keep_ext_and_page_ext() {
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("site");
    make_site(&site);
    write(&site, "drafts/wip.shtml", "<!--#bogus -->");
    write(&site, "design/logo.psd", "psd");
    write(
        &site,
        "plain/raw.html",
        "<!--#echo var=\"SITE\" --> stays raw unless --pages says so\n",
    );

    // --exclude: neither baked (the broken draft would fail) nor copied.
    bake(
        tmp.path(),
        &[
            "--root",
            "site",
            "--out",
            "a",
            "-q",
            "-D",
            "SITE=Example",
            "--exclude",
            "drafts/**",
            "--exclude",
            "**/*.psd",
        ],
    );
    let a = tmp.path().join("a");
    assert!(!a.join("drafts").exists() && !a.join("design/logo.psd").exists());
    assert_eq!(
        read_text(&a.join("plain/raw.html")),
        "<!--#echo var=\"SITE\" --> stays raw unless --pages says so\n",
        "a file that is not a page is copied verbatim"
    );

    // --pages: .html files are pages too (the extension stays .html).
    bake(
        tmp.path(),
        &[
            "--root",
            "site",
            "--out",
            "b",
            "-q",
            "-D",
            "SITE=Example",
            "--exclude",
            "drafts/**",
            "--pages",
            "**/*.shtml",
            "--pages",
            "plain/*.html",
        ],
    );
    let b = tmp.path().join("b");
    assert_eq!(
        read_text(&b.join("plain/raw.html")),
        "Example stays raw unless --pages says so\n"
    );
    assert_eq!(read_text(&b.join("index.html")), INDEX_BAKED);

    // --keep-ext: pages keep .shtml, no .html appears.
    bake(
        tmp.path(),
        &[
            "--root",
            "site",
            "--out",
            "c",
            "-q",
            "-D",
            "SITE=Example",
            "--exclude",
            "drafts/**",
            "--keep-ext",
        ],
    );
    let c = tmp.path().join("c");
    assert_eq!(read_text(&c.join("index.shtml")), INDEX_BAKED);
    assert_eq!(read_text(&c.join("blog/post.shtml")), "<p>post</p>\n");
    assert!(!c.join("index.html").exists());

    // --page-ext htm.
    bake(
        tmp.path(),
        &[
            "--root",
            "site",
            "--out",
            "d",
            "-q",
            "-D",
            "SITE=Example",
            "--exclude",
            "drafts/**",
            "--page-ext",
            "htm",
        ],
    );
    let d = tmp.path().join("d");
    assert_eq!(read_text(&d.join("index.htm")), INDEX_BAKED);
    assert!(!d.join("index.html").exists() && !d.join("index.shtml").exists());

    // --keep-ext and --page-ext contradict each other.
    run_expect(
        ssibake(tmp.path()).args([
            "--root",
            "site",
            "--out",
            "e",
            "--keep-ext",
            "--page-ext",
            "htm",
        ]),
        2,
    );
    assert!(!tmp.path().join("e").exists());
}

#[test]
fn output_inside_the_root_does_not_bake_itself() {
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("site");
    make_site(&site);
    let expected = [
        "blog/post.html",
        "css/app.css",
        "img/logo.png",
        "includes/footer.html",
        "index.html",
    ];
    for round in 0..3 {
        bake(
            &site,
            &["--root", ".", "--out", "dist", "-q", "-D", "SITE=Example"],
        );
        assert_eq!(
            files(&site.join("dist")),
            expected,
            "round {round}: the previous output was baked or copied into the new one"
        );
        assert_eq!(read_text(&site.join("dist/index.html")), INDEX_BAKED);
        assert_eq!(leftovers(&site, ".ssibake"), Vec::<String>::new());
    }
    // And --check with the same output inside the root sees no difference.
    let r = run_expect(
        ssibake(&site).args([
            "--root",
            ".",
            "--out",
            "dist",
            "--check",
            "-D",
            "SITE=Example",
        ]),
        0,
    );
    assert!(r.stderr.contains("0 files differ"), "{}", r.stderr);
}

// ------------------------------------------------- failures write nothing

/// Twenty good pages in several directories.
fn many_pages(site: &Path) {
    make_site(site);
    for i in 0..20 {
        write(
            site,
            &format!("section{}/page{i:02}.shtml", i % 4),
            format!("<p><!--#echo var=\"SITE\" --> {i}</p>\n"),
        );
    }
}

#[test]
fn one_bad_page_among_many_leaves_the_output_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("site");
    many_pages(&site);
    bake(
        tmp.path(),
        &[
            "--root",
            "site",
            "--out",
            "dist",
            "-q",
            "-D",
            "SITE=Example",
        ],
    );
    let dist = tmp.path().join("dist");
    // Make the published times distinctive, so a rewrite cannot go unnoticed.
    set_mtime(&dist.join("index.html"), at(1_000_000_000, 0));
    set_mtime(&dist.join("section1/page05.html"), at(1_000_000_001, 0));
    let before = snapshot(&dist);
    let parent_before: Vec<_> = files(tmp.path()).into_iter().collect();

    // Two broken pages, in different directories, one with two errors.
    write(
        &site,
        "section2/broken.shtml",
        "ok\n<p>\n<!--#flastmode virtual=\"/css/app.css\" -->\n<!--#echo var=\"SITE\" -->\n<!--#include virtual=\"/missing.html\" -->\n",
    );
    write(
        &site,
        "zz/also-broken.shtml",
        "<!--#set var=\"x\" value=\"1\" -->\n<!--#include virtual=\"/nope/nothing.html\" -->\n",
    );
    // A good page changed too: it must not be published on its own.
    write(&site, "section0/page00.shtml", "<p>CHANGED</p>\n");

    let r = run_expect(
        ssibake(tmp.path()).args(["--root", "site", "--out", "dist", "-D", "SITE=Example"]),
        1,
    );
    for located in [
        "site/section2/broken.shtml:3:6: error: unknown directive `#flastmode`",
        "site/section2/broken.shtml:5:14: error: `missing.html` does not exist",
        "site/zz/also-broken.shtml:2:14: error: `nope/nothing.html` does not exist",
    ] {
        assert!(
            r.stderr.contains(located),
            "stderr lacks `{located}`:\n{}",
            r.stderr
        );
    }
    assert!(
        r.stderr.contains("did you mean `#flastmod`?"),
        "{}",
        r.stderr
    );
    let summary = summary_lines(&r.stderr);
    assert_eq!(summary.len(), 1, "{}", r.stderr);
    assert!(
        summary[0].contains(", 3 errors, 0 warnings in ")
            && summary[0].ends_with("(nothing was written)"),
        "{}",
        summary[0]
    );

    assert_same_tree(&before, &snapshot(&dist));
    assert_eq!(
        files(tmp.path())
            .into_iter()
            .filter(|f| !f.starts_with("site/"))
            .collect::<Vec<_>>(),
        parent_before
            .into_iter()
            .filter(|f| !f.starts_with("site/"))
            .collect::<Vec<_>>(),
        "no staging directory or other file left beside dist"
    );
    assert_eq!(leftovers(tmp.path(), ".ssibake"), Vec::<String>::new());

    // Without a previous output, a failed bake creates none.
    let r = run(ssibake(tmp.path()).args(["--root", "site", "--out", "fresh", "-q"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(!tmp.path().join("fresh").exists());
    assert_eq!(leftovers(tmp.path(), ".ssibake"), Vec::<String>::new());
}

// ----------------------------------------------------------------- in place

#[test]
fn in_place_rewrites_atomically_keeps_mode_and_skips_plain_files() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write_at(root, "css/app.css", "body{}\n", at(CSS_SECS, 0));
    let a = write_at(
        root,
        "a.html",
        "<!--#config timefmt=\"%s\" -->a?v=<!--#flastmod virtual=\"/css/app.css\" -->\n",
        at(1_000_000_000, 0),
    );
    set_mode(&a, 0o640);
    let b = write_at(
        root,
        "sub/b.html",
        "<!--#include virtual=\"/inc.txt\" -->|<!--#echo var=\"V\" -->\n",
        at(1_000_000_000, 0),
    );
    set_mode(&b, 0o600);
    write(root, "inc.txt", "included");
    let plain = write_at(
        root,
        "plain.html",
        "<!-- an ordinary comment -->\n",
        at(1_000_000_000, 0),
    );
    set_mode(&plain, 0o640);
    let (a_ino, plain_ino) = (inode(&a), inode(&plain));

    let r = run_expect(
        ssibake(root).args([
            "--in-place",
            "-D",
            "V=1",
            "a.html",
            "sub/b.html",
            "plain.html",
        ]),
        0,
    );
    assert_eq!(read_text(&a), "a?v=1355283501\n");
    assert_eq!(read_text(&b), "included|1\n");
    assert_eq!(mode(&a), 0o640, "mode kept");
    assert_eq!(mode(&b), 0o600, "mode kept");
    assert_ne!(
        inode(&a),
        a_ino,
        "replaced by rename (a new file), not rewritten in place"
    );
    // The file without directives is not touched at all.
    assert_eq!(read_text(&plain), "<!-- an ordinary comment -->\n");
    assert_eq!(mtime(&plain), at(1_000_000_000, 0));
    assert_eq!(inode(&plain), plain_ino);
    assert_eq!(mode(&plain), 0o640);
    // No temporary file left anywhere.
    assert_eq!(
        files(root),
        [
            "a.html",
            "css/app.css",
            "inc.txt",
            "plain.html",
            "sub/b.html"
        ]
    );
    let summary = summary_lines(&r.stderr);
    assert_eq!(summary.len(), 1, "{}", r.stderr);
    assert_summary(
        summary[0],
        "baked 2 pages (1 include, 1 file stamped), left 1 without directives unchanged, \
         copied 0 files, 0 errors, 0 warnings in ",
        "",
    );
}

#[test]
fn in_place_with_one_bad_page_rewrites_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let t = at(1_000_000_000, 0);
    write_at(root, "good1.html", "<!--#echo var=\"V\" -->\n", t);
    write_at(
        root,
        "good2.html",
        "<!--#set var=\"x\" value=\"y\" --><!--#echo var=\"x\" -->\n",
        t,
    );
    write_at(root, "bad.html", "fine\nfine <!--#echo varr=\"V\" -->\n", t);
    write_at(root, "plain.html", "nothing to do\n", t);
    set_mode(&root.join("good1.html"), 0o640);
    let before = snapshot(root);

    let r = run_expect(
        ssibake(root).args([
            "--in-place",
            "-D",
            "V=1",
            "good1.html",
            "bad.html",
            "good2.html",
            "plain.html",
        ]),
        1,
    );
    assert!(
        r.stderr
            .contains("bad.html:2:16: error: unknown attribute `varr`"),
        "the bad page is named with line and column:\n{}",
        r.stderr
    );
    assert!(r.stderr.contains("(nothing was written)"), "{}", r.stderr);
    assert_same_tree(&before, &snapshot(root));
}

// -------------------------------------------------------------------- check

#[test]
fn check_compares_a_tree_and_prints_unified_diffs() {
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("site");
    make_site(&site);
    write(&site, "version.shtml", "v<!--#echo var=\"V\" -->\nsame\n");
    bake(
        tmp.path(),
        &[
            "--root",
            "site",
            "--out",
            "golden",
            "-q",
            "-D",
            "SITE=Example",
            "-D",
            "V=1",
        ],
    );
    let golden = tmp.path().join("golden");
    let before = snapshot(&golden);

    let same = run_expect(
        ssibake(tmp.path()).args([
            "--root",
            "site",
            "--out",
            "golden",
            "--check",
            "-D",
            "SITE=Example",
            "-D",
            "V=1",
        ]),
        0,
    );
    let summary = summary_lines(&same.stderr);
    assert_eq!(summary.len(), 1, "{}", same.stderr);
    assert_summary(
        summary[0],
        "checked: baked 3 pages (2 includes, 1 file stamped), 1 partial, copied 3 files, \
         0 errors, 0 warnings in ",
        "; 0 files differ",
    );

    let differ = run_expect(
        ssibake(tmp.path()).args([
            "--root",
            "site",
            "--out",
            "golden",
            "--check",
            "-D",
            "SITE=Example",
            "-D",
            "V=2",
        ]),
        4,
    );
    // The diff is the result: on standard output; the summary on standard error.
    assert!(
        differ
            .stdout_text()
            .contains("--- a/version.html\n+++ b/version.html\n@@ -1,2 +1,2 @@\n-v1\n+v2\n same\n"),
        "a unified diff naming the file:\n{}",
        differ.stdout_text()
    );
    assert!(
        !differ.stdout_text().contains("index.html"),
        "{}",
        differ.stdout_text()
    );
    assert!(!differ.stderr.contains("--- a/"), "{}", differ.stderr);
    assert!(
        differ.stderr.contains("; 1 file differs"),
        "{}",
        differ.stderr
    );
    assert_same_tree(&before, &snapshot(&golden));
    assert_eq!(leftovers(tmp.path(), ".ssibake"), Vec::<String>::new());

    // A file only in the output, and one missing from it, are differences too.
    write(&golden, "stale.html", "old");
    fs::remove_file(golden.join("img/logo.png")).unwrap();
    let r = run_expect(
        ssibake(tmp.path()).args([
            "--root",
            "site",
            "--out",
            "golden",
            "--check",
            "-D",
            "SITE=Example",
            "-D",
            "V=1",
        ]),
        4,
    );
    assert!(
        r.stdout_text().contains("stale.html"),
        "{}",
        r.stdout_text()
    );
    assert!(
        r.stdout_text().contains("img/logo.png"),
        "{}",
        r.stdout_text()
    );
    assert!(r.stderr.contains("; 2 files differ"), "{}", r.stderr);

    // A template error under --check is still an error (exit 1, reported).
    write(&site, "bad.shtml", "<!--#bogus -->");
    let r = run_expect(
        ssibake(tmp.path()).args(["--root", "site", "--out", "golden", "--check"]),
        1,
    );
    assert!(
        r.stderr.contains("site/bad.shtml:1:6: error:"),
        "{}",
        r.stderr
    );
}

#[test]
fn check_one_page_against_its_output_file() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write(root, "page.shtml", "<p><!--#echo var=\"V\" --></p>\nend\n");
    fs::create_dir(root.join("out")).unwrap();
    run_expect(
        ssibake(root).args(["-D", "V=1", "page.shtml", "-o", "out/page.html"]),
        0,
    );
    let out = root.join("out/page.html");
    assert_eq!(read_text(&out), "<p>1</p>\nend\n");
    let before = snapshot(&root.join("out"));

    let r = run_expect(
        ssibake(root).args(["-D", "V=1", "page.shtml", "-o", "out/page.html", "--check"]),
        0,
    );
    assert!(r.stdout.is_empty());
    let r = run_expect(
        ssibake(root).args(["-D", "V=2", "page.shtml", "-o", "out/page.html", "--check"]),
        4,
    );
    assert!(
        r.stdout_text()
            .contains("--- a/out/page.html\n+++ b/out/page.html\n@@ -1,2 +1,2 @@\n-<p>1</p>\n+<p>2</p>\n end\n"),
        "{}",
        r.stdout_text()
    );
    assert!(r.stderr.is_empty(), "{}", r.stderr);
    assert_same_tree(&before, &snapshot(&root.join("out")));

    // Nothing to compare with: a difference (the bake would create it), as a file
    // missing from a tree is, and still nothing written.
    let r = run_expect(
        ssibake(root).args(["-D", "V=1", "page.shtml", "-o", "out/none.html", "--check"]),
        4,
    );
    assert_eq!(
        r.stdout_text(),
        "out/none.html: missing from the existing output\n"
    );
    assert!(!root.join("out/none.html").exists());
    run_expect(ssibake(root).args(["page.shtml", "--check"]), 2);
}

// ------------------------------------------------------------ diagnostics

const BAD: &str = "<p>\n  <!--#nope -->\n<!--#include virtual=\"/gone.html\" --><!--#echo -->\n";

#[test]
fn json_diagnostics_are_one_object_per_line() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "bad.shtml", BAD);
    let r = run_expect(
        ssibake(tmp.path()).args(["--message-format", "json", "bad.shtml"]),
        1,
    );
    assert!(r.stdout.is_empty());
    let objects: Vec<serde_json::Value> = r
        .stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert_eq!(objects.len(), 3, "{}", r.stderr);
    for o in &objects {
        let keys: Vec<&str> = o.as_object().unwrap().keys().map(String::as_str).collect();
        for key in [
            "file", "line", "column", "span", "severity", "code", "message",
        ] {
            assert!(keys.contains(&key), "`{key}` missing from {o}");
        }
        assert_eq!(o["file"], "bad.shtml");
        assert_eq!(o["severity"], "error");
        // The span points at the bytes the line and column point at.
        let (start, end) = (
            o["span"]["start"].as_u64().unwrap() as usize,
            o["span"]["end"].as_u64().unwrap() as usize,
        );
        assert!(start < end && end <= BAD.len(), "{o}");
        let line = o["line"].as_u64().unwrap() as usize;
        let col = o["column"].as_u64().unwrap() as usize;
        let line_start: usize = BAD.split_inclusive('\n').take(line - 1).map(str::len).sum();
        assert_eq!(
            line_start + col - 1,
            start,
            "line/column and span agree: {o}"
        );
    }
    let first = &objects[0];
    assert_eq!(
        (first["line"].as_u64(), first["column"].as_u64()),
        (Some(2), Some(8))
    );
    assert_eq!(first["code"], "unknown-directive");
    assert_eq!(
        &BAD[first["span"]["start"].as_u64().unwrap() as usize..][..4],
        "nope"
    );
    let codes: Vec<&str> = objects
        .iter()
        .map(|o| o["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"not-found"), "{codes:?}");
    assert!(codes.contains(&"missing-attribute"), "{codes:?}");
}

#[test]
fn json_tree_bake_reports_every_failing_page() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "site/a.shtml", BAD);
    write(tmp.path(), "site/sub/b.shtml", "x<!--#bogus -->");
    let r = run_expect(
        ssibake(tmp.path()).args([
            "--root",
            "site",
            "--out",
            "dist",
            "--message-format",
            "json",
        ]),
        1,
    );
    let objects: Vec<serde_json::Value> = r
        .stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    // The last object is the run's summary; every other one is a diagnostic.
    let (summary, diagnostics) = objects.split_last().unwrap();
    assert_eq!(summary["type"], "summary", "{}", r.stderr);
    assert_eq!(summary["errors"], 4, "{}", r.stderr);
    let files: Vec<&str> = diagnostics
        .iter()
        .map(|o| o["file"].as_str().unwrap())
        .collect();
    assert_eq!(files.len(), 4, "{}", r.stderr);
    assert!(
        files.contains(&"site/a.shtml") && files.contains(&"site/sub/b.shtml"),
        "{files:?}"
    );
    assert!(!tmp.path().join("dist").exists());
}

#[test]
fn json_tree_bake_stderr_is_only_json() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "site/a.shtml", BAD);
    let r = run_expect(
        ssibake(tmp.path()).args([
            "--root",
            "site",
            "--out",
            "dist",
            "--message-format",
            "json",
        ]),
        1,
    );
    for line in r.stderr.lines() {
        assert!(
            serde_json::from_str::<serde_json::Value>(line).is_ok(),
            "a line of --message-format json output is not JSON: {line}"
        );
    }
}

#[test]
fn colour_always_never_and_no_color() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "bad.shtml", BAD);
    let always = run_expect(
        ssibake(tmp.path()).args(["--color", "always", "bad.shtml"]),
        1,
    );
    assert!(always.stderr.contains("\x1b["), "{:?}", always.stderr);
    let never = run_expect(
        ssibake(tmp.path()).args(["--color", "never", "bad.shtml"]),
        1,
    );
    assert!(!never.stderr.contains('\x1b'), "{:?}", never.stderr);
    // The same text once the escapes are taken out.
    assert_eq!(strip_ansi(&always.stderr), never.stderr);
    let auto_pipe = run_expect(ssibake(tmp.path()).args(["bad.shtml"]), 1);
    assert!(
        !auto_pipe.stderr.contains('\x1b'),
        "auto: no colour into a pipe"
    );
    let no_color = run_expect(
        ssibake(tmp.path())
            .env("NO_COLOR", "1")
            .args(["--color", "auto", "bad.shtml"]),
        1,
    );
    assert!(!no_color.stderr.contains('\x1b'), "{:?}", no_color.stderr);

    // On a terminal, auto colours unless NO_COLOR.
    let on_tty = |no_color: bool| {
        let env: &[(&str, &str)] = if no_color { &[("NO_COLOR", "1")] } else { &[] };
        on_terminal(tmp.path(), "--color auto bad.shtml", env)
    };
    let Some(tty) = on_tty(false) else {
        return;
    };
    assert_eq!(tty.code, 1);
    assert!(
        tty.stdout_text().contains("\x1b["),
        "{:?}",
        tty.stdout_text()
    );
    let tty_no_color = on_tty(true).unwrap();
    assert_eq!(tty_no_color.code, 1);
    assert!(
        tty_no_color
            .stdout_text()
            .contains("error: unknown directive"),
        "{:?}",
        tty_no_color.stdout_text()
    );
    assert!(
        !tty_no_color.stdout_text().contains('\x1b'),
        "NO_COLOR is honoured on a terminal"
    );
}

/// Runs ssibake with `args` in `dir` on a terminal (util-linux `script` makes one,
/// and the transcript is its stdout); `None`, with a note, where `script` is missing.
fn on_terminal(dir: &Path, args: &str, env: &[(&str, &str)]) -> Option<Run> {
    let has_script = std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_script {
        eprintln!("SKIPPED (terminal part): util-linux `script` is not installed");
        return None;
    }
    let mut cmd = std::process::Command::new("script");
    cmd.env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("TERM", "xterm")
        .envs(env.iter().copied())
        .current_dir(dir)
        .args(["-qec"])
        .arg(format!("{} {args}", bin().display()))
        .arg("/dev/null");
    Some(run(&mut cmd))
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

// ------------------------------------------------------------ ssibake.toml

fn config_site(root: &Path, config: &str) {
    write(
        root,
        "index.shtml",
        "hi <!--#echo var=\"WHO\" --> <!--#echo var=\"ENV\" -->\n",
    );
    write(root, "drafts/x.shtml", "<!--#bogus -->");
    write(root, "a.css", "a{}");
    write(root, "ssibake.toml", config);
}

const CONFIG: &str = r#"out = "../dist"
exclude = ["drafts/**"]
page-ext = "htm"

[defines]
WHO = "config"
ENV = "production"
"#;

#[test]
fn config_alone_bakes_the_tree() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("site");
    config_site(&root, CONFIG);
    let r = run_expect(&mut ssibake(&root), 0);
    let dist = tmp.path().join("dist");
    assert_eq!(
        files(&dist),
        ["a.css", "index.htm"],
        "ssibake.toml is not published"
    );
    assert_eq!(read_text(&dist.join("index.htm")), "hi config production\n");
    assert_eq!(summary_lines(&r.stderr).len(), 1, "{}", r.stderr);

    // `--root` from elsewhere finds the same configuration.
    fs::remove_dir_all(&dist).unwrap();
    run_expect(ssibake(tmp.path()).args(["--root", "site", "-q"]), 0);
    assert_eq!(read_text(&dist.join("index.htm")), "hi config production\n");
}

#[test]
fn flags_override_config_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("site");
    config_site(&root, CONFIG);
    run_expect(
        ssibake(&root).args([
            "--out",
            "../other",
            "--page-ext",
            "html",
            "-D",
            "WHO=flag",
            "-q",
        ]),
        0,
    );
    assert!(!tmp.path().join("dist").exists(), "--out overrides `out`");
    let other = tmp.path().join("other");
    assert_eq!(files(&other), ["a.css", "index.html"]);
    assert_eq!(
        read_text(&other.join("index.html")),
        "hi flag production\n",
        "-D overrides one define and keeps the others"
    );
    // --exclude replaces the configured list: the broken draft is baked and fails.
    let r = run_expect(ssibake(&root).args(["--exclude", "*.css"]), 1);
    assert!(r.stderr.contains("drafts/x.shtml:1:6"), "{}", r.stderr);
    assert!(!tmp.path().join("dist").exists());
}

#[test]
fn unknown_config_key_is_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("site");
    config_site(&root, &format!("outt = \"../typo\"\n{CONFIG}"));
    let r = run_expect(&mut ssibake(&root), 2);
    assert!(r.stderr.contains("outt"), "names the key: {}", r.stderr);
    assert!(
        r.stderr.contains("ssibake.toml"),
        "names the file: {}",
        r.stderr
    );
    assert!(!tmp.path().join("dist").exists() && !tmp.path().join("typo").exists());
    // A value of the wrong type too.
    config_site(&root, "out = 3\n");
    run_expect(&mut ssibake(&root), 2);
}

// ------------------------------------------------------- usage and extras

#[test]
fn usage_errors_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "a.shtml", "a");
    for args in [
        &["--no-such-flag"][..],
        &[],
        &["--in-place"],
        &["--color", "sometimes", "a.shtml"],
        &["--out", "dist", "a.shtml"],
        &["-D", "NOEQUALS", "a.shtml"],
    ] {
        let r = run(ssibake(tmp.path()).args(args));
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(!r.stderr.is_empty(), "{args:?} says why");
    }
    let r = run(ssibake(tmp.path())
        .env("SOURCE_DATE_EPOCH", "soon")
        .arg("a.shtml"));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(!tmp.path().join("dist").exists());
}

#[test]
fn completions_and_man_page() {
    let tmp = tempfile::tempdir().unwrap();
    let bash = run_expect(ssibake(tmp.path()).args(["completions", "bash"]), 0);
    let text = bash.stdout_text();
    assert!(text.contains("_ssibake()"), "{text}");
    assert!(text.contains("complete -F _ssibake"), "{text}");
    assert!(text.contains("--in-place") && text.contains("--message-format"));
    let zsh = run_expect(ssibake(tmp.path()).args(["completions", "zsh"]), 0);
    assert!(zsh.stdout_text().starts_with("#compdef ssibake"));
    run_expect(ssibake(tmp.path()).args(["completions", "tcsh"]), 2);

    let man = run_expect(ssibake(tmp.path()).arg("man"), 0);
    let text = man.stdout_text();
    assert!(text.contains(".TH ssibake 1"), "{text}");
    assert!(
        text.contains(".SH NAME") && text.contains(".SH SYNOPSIS"),
        "{text}"
    );
    assert!(text.contains("\\-\\-out"), "documents --out: {text}");
    assert!(
        text.contains("SOURCE_DATE_EPOCH"),
        "documents the environment"
    );
}

// ------------------------------------------------------------- determinism

#[test]
fn same_inputs_same_epoch_same_tree() {
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("site");
    make_site(&site);
    write(
        &site,
        "dates.shtml",
        "<!--#echo var=\"DATE_LOCAL\" -->|<!--#echo var=\"DATE_GMT\" -->|\
         <!--#echo var=\"BUILD_ID\" -->|<!--#echo var=\"BUILD_DATE\" -->|\
         <!--#flastmod virtual=\"/css/app.css\" -->\n",
    );
    let bake_into = |out: &str, jobs: &str, epoch: &str| {
        run_expect(
            ssibake(tmp.path())
                .env("SOURCE_DATE_EPOCH", epoch)
                .env("TZ", "America/New_York")
                .args([
                    "--root",
                    "site",
                    "--out",
                    out,
                    "-q",
                    "-j",
                    jobs,
                    "-D",
                    "SITE=Example",
                    "--version-file",
                    "version.json",
                ]),
            0,
        );
        contents(&tmp.path().join(out))
    };
    let one = bake_into("one", "1", "1700000000");
    let two = bake_into("two", "2", "1700000000");
    assert_eq!(one, two, "two bakes of the same inputs differ");
    let dates = String::from_utf8(one["dates.html"].clone()).unwrap();
    let parts: Vec<&str> = dates.trim_end().split('|').collect();
    assert_eq!(parts[0], "Tuesday, 14-Nov-2023 17:13:20 EST");
    assert_eq!(parts[1], "Tuesday, 14-Nov-2023 22:13:20 GMT");
    assert_eq!(parts[2].len(), 16, "a build ID: {dates}");
    assert_eq!(parts[3], "2023-11-14T22:13:20Z");
    assert_eq!(parts[4], "Tuesday, 11-Dec-2012 22:38:21 EST");
    let version: serde_json::Value = serde_json::from_slice(&one["version.json"]).unwrap();
    assert_eq!(version["buildId"], parts[2]);
    assert_eq!(version["builtAt"], "2023-11-14T22:13:20Z");

    // Another epoch changes the dates but not the build ID (same inputs).
    let later = bake_into("later", "2", "1800000000");
    assert_ne!(later["dates.html"], one["dates.html"]);
    assert_eq!(later["index.html"], one["index.html"]);
    assert_eq!(later["version.json"].len(), one["version.json"].len());
}

#[test]
fn the_environment_is_invisible_to_templates() {
    let tmp = tempfile::tempdir().unwrap();
    write(
        tmp.path(),
        "page.shtml",
        "<!--#echo var=\"SECRET_TOKEN\" -->|<!--#echo var=\"HOME\" -->|<!--#echo var=\"V\" -->\n",
    );
    let r = run_expect(
        ssibake(tmp.path())
            .env("SECRET_TOKEN", "hunter2")
            .env("HOME", "/root")
            .args(["--on-error", "errmsg", "-D", "V=given", "page.shtml"]),
        0,
    );
    assert_eq!(r.stdout_text(), "(none)|(none)|given\n");
    // Strict mode says why: the environment is not where variables come from.
    let r = run_expect(
        ssibake(tmp.path()).env("SECRET_TOKEN", "hunter2").args([
            "--on-error",
            "fail",
            "-D",
            "V=given",
            "page.shtml",
        ]),
        1,
    );
    assert!(r.stdout.is_empty());
    assert!(
        r.stderr.contains("`SECRET_TOKEN` is undefined"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("hunter2"), "{}", r.stderr);
}

#[test]
fn progress_bar_on_a_terminal_only_and_always_a_summary() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    for i in 0..300 {
        write(
            tmp.path(),
            &format!("site/p{i}.shtml"),
            "<p><!--#echo var=\"DOCUMENT_NAME\" --></p>\n",
        );
    }
    const SUMMARY: &str = "ssibake: baked 300 pages";
    // Into a pipe: no bar, the summary line.
    let piped = run_expect(
        ssibake(tmp.path()).args(["--root", "site", "--out", "pipe"]),
        0,
    );
    assert!(!piped.stderr.contains("/300 pages"), "{}", piped.stderr);
    assert!(piped.stderr.contains(SUMMARY), "{}", piped.stderr);

    // On a terminal: the bar, unless --quiet.
    let Some(tty) = on_terminal(t, "--root site --out tty", &[]) else {
        return;
    };
    assert_eq!(tty.code, 0);
    let transcript = tty.stdout_text();
    assert!(transcript.contains("/300 pages"), "{transcript:?}");
    assert!(transcript.contains(SUMMARY), "{transcript:?}");
    let quiet = on_terminal(t, "--root site --out quiet --quiet", &[]).unwrap();
    assert_eq!(quiet.code, 0);
    assert!(
        !quiet.stdout_text().contains("/300 pages"),
        "{:?}",
        quiet.stdout_text()
    );
    // -q leaves only problems: no bar, no summary.
    assert!(
        !quiet.stdout_text().contains(SUMMARY),
        "{:?}",
        quiet.stdout_text()
    );
}

#[test]
fn bakes_into_the_same_place_take_turns() {
    if !std::process::Command::new("flock")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        eprintln!("SKIPPED: util-linux `flock` is not installed");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    write(t, "site/index.shtml", "<p>first</p>\n");
    fs::create_dir_all(t.join("public")).unwrap();
    // Another deploy holds the output's parent (as a running ssibake does) until told
    // to let go.
    let mut holder = std::process::Command::new("flock")
        .arg(t.join("public"))
        .args([
            "-c",
            "touch locked; while [ ! -e release ]; do sleep 0.02; done",
        ])
        .current_dir(t)
        .spawn()
        .unwrap();
    while !t.join("locked").exists() {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let bake = ssibake(t)
        .args(["--root", "site", "--out", "public/dist", "-q"])
        .spawn()
        .unwrap();
    // The site changes while the other deploy still runs; this bake must wait for
    // it and then read the new files, not the ones it found when it started.
    std::thread::sleep(std::time::Duration::from_millis(300));
    write(t, "site/index.shtml", "<p>second</p>\n");
    write(t, "release", "");
    assert!(holder.wait().unwrap().success());
    let out = bake.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        read_text(&t.join("public/dist/index.html")),
        "<p>second</p>\n"
    );
}

/// Issue 10: a baked page and an old copy of its output in the same folder
/// (`page.shtml` and `page.html`) used to publish the copy silently.
#[test]
fn two_sources_for_one_output_are_an_error_naming_both() {
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("site");
    write(&site, "page.shtml", "<p>baked</p>\n");
    write(&site, "page.html", "<p>stale</p>\n");
    write(&site, "version.json", "{}\n");
    let r = run_expect(
        ssibake(tmp.path()).args([
            "--root",
            "site",
            "--out",
            "dist",
            "--version-file",
            "/version.json",
        ]),
        2,
    );
    for wanted in [
        "`page.html` would come from both `page.html` (copied) and `page.shtml` (baked)",
        "`version.json` would come from both `version.json` (copied) and --version-file",
        "--keep-ext",
    ] {
        assert!(
            r.stderr.contains(wanted),
            "stderr lacks `{wanted}`:\n{}",
            r.stderr
        );
    }
    assert!(!tmp.path().join("dist").exists(), "nothing is written");
    // The ways out work: --keep-ext keeps both names apart.
    write(&site, "version.json", "{}\n");
    fs::remove_file(site.join("version.json")).unwrap();
    bake(
        tmp.path(),
        &["--root", "site", "--out", "dist", "--keep-ext"],
    );
    assert_eq!(
        fs::read_to_string(tmp.path().join("dist/page.shtml")).unwrap(),
        "<p>baked</p>\n"
    );
    assert_eq!(
        fs::read_to_string(tmp.path().join("dist/page.html")).unwrap(),
        "<p>stale</p>\n"
    );
}

/// Issue 13: `--out` replaces only its own output.
#[test]
fn out_replaces_only_its_own_output() {
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("site");
    write(&site, "index.shtml", "<p>page</p>\n");
    write(tmp.path(), "precious/keys", "secret\n");
    write(tmp.path(), "notes.txt", "mine\n");
    for (out, why) in [
        ("precious", "is not empty and was not written by ssibake"),
        ("notes.txt", "exists and is not a directory"),
    ] {
        let r = run_expect(
            ssibake(tmp.path()).args(["--root", "site", "--out", out]),
            2,
        );
        assert!(r.stderr.contains(why), "{out}: {}", r.stderr);
        assert!(r.stderr.contains("--force"), "{}", r.stderr);
    }
    assert_eq!(
        fs::read_to_string(tmp.path().join("precious/keys")).unwrap(),
        "secret\n"
    );
    assert_eq!(
        fs::read_to_string(tmp.path().join("notes.txt")).unwrap(),
        "mine\n"
    );
    // A bake's own output (it carries the mark) is replaced without --force, and
    // the mark is not reported as a difference by --check.
    bake(tmp.path(), &["--root", "site", "--out", "dist"]);
    assert!(tmp.path().join("dist/.ssibake/output").is_file());
    write(&site, "index.shtml", "<p>new</p>\n");
    bake(tmp.path(), &["--root", "site", "--out", "dist"]);
    assert_eq!(
        fs::read_to_string(tmp.path().join("dist/index.html")).unwrap(),
        "<p>new</p>\n"
    );
    run_expect(
        ssibake(tmp.path()).args(["--root", "site", "--out", "dist", "--check"]),
        0,
    );
    // --force replaces a foreign directory.
    bake(
        tmp.path(),
        &["--root", "site", "--out", "precious", "--force"],
    );
    assert!(!tmp.path().join("precious/keys").exists());
}

/// Runs `cmd`, killing it (and failing) if it is still running after 30 s.
fn run_bounded(cmd: &mut std::process::Command) -> std::process::Output {
    use std::time::{Duration, Instant};
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("ssibake hung for 30 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Issue 13: a FIFO (or a symlink to one) inside the root used to hang the run for
/// ever; a huge file was read whole before any limit applied.
#[test]
fn fifos_and_huge_files_are_refused_without_reading_them() {
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("site");
    write(&site, "a.shtml", "<!--#include virtual=\"/pipe.html\" -->");
    write(&site, "b.shtml", "<!--#include virtual=\"/link.html\" -->");
    write(&site, "c.shtml", "<!--#include virtual=\"/huge.html\" -->");
    write(&site, "d.shtml", "<!--#fhash virtual=\"/pipe.html\" -->");
    let fifo = std::ffi::CString::new(site.join("pipe.html").to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    std::os::unix::fs::symlink("pipe.html", site.join("link.html")).unwrap();
    let huge = fs::File::create(site.join("huge.html")).unwrap();
    huge.set_len(300 << 20).unwrap(); // sparse: nothing is written
    for (page, why) in [
        ("a.shtml", "is not a regular file"),
        ("b.shtml", "is not a regular file"),
        ("c.shtml", "past the 256 MiB a file may have"),
        ("d.shtml", "is not a regular file"),
    ] {
        let out =
            run_bounded(ssibake(tmp.path()).args(["--root", "site", &format!("site/{page}")]));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{page}: {stderr}");
        assert!(stderr.contains(why), "{page}: {stderr}");
    }
    // A tree bake neither hangs on the FIFO nor publishes it.
    let out = run_bounded(ssibake(tmp.path()).args([
        "--root",
        "site",
        "--out",
        "dist",
        "--exclude",
        "*.shtml",
    ]));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!tmp.path().join("dist/pipe.html").exists());
}

/// Issue 13: diagnostics stay linear: a page with 100,000 errors shows the first 100
/// and counts the rest; a huge line is shown around each error only.
#[test]
fn many_errors_are_capped_and_long_lines_clipped() {
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("site");
    write(&site, "many.shtml", "<!--#nosuch -->\n".repeat(100_000));
    write(&site, "line.shtml", "<!--#nosuch -->".repeat(10_000));
    let r = run_expect(
        ssibake(tmp.path()).args(["--root", "site", "site/many.shtml"]),
        1,
    );
    assert_eq!(r.stderr.matches(": error: unknown directive").count(), 100);
    assert!(
        r.stderr
            .contains("... and 99900 more errors in many.shtml (only the first 100 are shown)"),
        "{}",
        &r.stderr[r.stderr.len().saturating_sub(300)..]
    );
    let r = run_expect(
        ssibake(tmp.path()).args(["--root", "site", "site/line.shtml"]),
        1,
    );
    let longest = r.stderr.lines().map(str::len).max().unwrap();
    assert!(
        longest < 300,
        "a source line of {longest} bytes was printed"
    );
    assert!(r.stderr.contains("... and 9900 more errors"));
}

/// Issue 13: what killed runs leave (staging trees, temporary files) is removed by the
/// next run and never published.
#[test]
fn leftovers_of_killed_runs_are_removed_and_never_published() {
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("site");
    write(&site, "index.shtml", "<p>page</p>\n");
    write(&site, ".ssibake-Ab12Cd", "half a page");
    write(
        tmp.path(),
        ".ssibake-staging-XyZ123/index.html",
        "old staging",
    );
    write(
        tmp.path(),
        ".ssibake-staging-XyZ123.old/index.html",
        "old swap",
    );
    write(tmp.path(), ".ssibake-Qw34Er", "half a file");
    bake(tmp.path(), &["--root", "site", "--out", "dist"]);
    assert_eq!(leftovers(tmp.path(), ".ssibake-"), Vec::<String>::new());
    assert_eq!(files(&tmp.path().join("dist")), ["index.html"]);
}

/// Issue 11: `--tz ZONE` beside `TZ` (and winning over it); an empty
/// SOURCE_DATE_EPOCH is unset, as most tools read it.
#[test]
fn tz_flag_and_empty_source_date_epoch() {
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("site");
    write(
        &site,
        "a.shtml",
        "<!--#config timefmt=\"%H %Z\" --><!--#echo var=\"DATE_LOCAL\" -->",
    );
    let r = run_expect(
        ssibake(tmp.path())
            .env("SOURCE_DATE_EPOCH", "0")
            .env("TZ", "UTC")
            .args(["--root", "site", "--tz", "Asia/Seoul", "site/a.shtml"]),
        0,
    );
    assert_eq!(r.stdout_text(), "09 KST");
    run_expect(
        ssibake(tmp.path())
            .env("SOURCE_DATE_EPOCH", "")
            .args(["--root", "site", "site/a.shtml"]),
        0,
    );
    let r = run_expect(
        ssibake(tmp.path()).env("SOURCE_DATE_EPOCH", "soon").args([
            "--root",
            "site",
            "site/a.shtml",
        ]),
        2,
    );
    assert!(
        r.stderr.contains("SOURCE_DATE_EPOCH is not a number"),
        "{}",
        r.stderr
    );
}

/// Issue 10: a symlink inside the root that leads out of it (`uploads ->
/// /srv/shared/uploads`) used to stop the bake (a file) or vanish from the output (a
/// directory). It is published as the same symlink; reading through it from a
/// directive stays refused.
#[test]
fn symlinks_out_of_the_root_are_published_as_symlinks() {
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("site");
    let shared = tmp.path().join("shared");
    write(&shared, "uploads/photo.jpg", "JPEG");
    write(&shared, "secret.txt", "do not include me");
    write(&site, "index.shtml", "<p>home</p>\n");
    std::os::unix::fs::symlink(shared.join("uploads"), site.join("uploads")).unwrap();
    std::os::unix::fs::symlink(shared.join("secret.txt"), site.join("notes.txt")).unwrap();
    // A relative link out of the root is published with its absolute target: from
    // an output elsewhere `../shared` would lead somewhere else.
    std::os::unix::fs::symlink("../shared/uploads", site.join("rel")).unwrap();
    fs::create_dir_all(tmp.path().join("deep/er")).unwrap();
    bake(tmp.path(), &["--root", "site", "--out", "deep/er/dist"]);
    assert_eq!(
        fs::read_link(tmp.path().join("deep/er/dist/rel")).unwrap(),
        shared.join("uploads").canonicalize().unwrap()
    );
    assert_eq!(
        fs::read(tmp.path().join("deep/er/dist/rel/photo.jpg")).unwrap(),
        b"JPEG"
    );
    bake(tmp.path(), &["--root", "site", "--out", "dist"]);
    let dist = tmp.path().join("dist");
    assert_eq!(
        fs::read_link(dist.join("uploads")).unwrap(),
        shared.join("uploads")
    );
    assert_eq!(
        fs::read_link(dist.join("notes.txt")).unwrap(),
        shared.join("secret.txt")
    );
    assert_eq!(
        fs::read_to_string(dist.join("index.html")).unwrap(),
        "<p>home</p>\n"
    );
    // The same output again is no difference.
    run_expect(
        ssibake(tmp.path()).args(["--root", "site", "--out", "dist", "--check"]),
        0,
    );
    // A directive still cannot read through the link.
    write(
        &site,
        "leak.shtml",
        "<!--#include virtual=\"/notes.txt\" -->",
    );
    let r = run_expect(
        ssibake(tmp.path()).args(["--root", "site", "site/leak.shtml"]),
        1,
    );
    assert!(!r.stdout_text().contains("do not include me"));
    assert!(
        r.stderr.contains("outside") || r.stderr.contains("leaves"),
        "{}",
        r.stderr
    );
}

/// Issue 11: exit codes, `-q`, `--out`'s last component, `short` messages, binary
/// differences, each through a whole invocation.
#[test]
fn the_command_line_behaves_as_cargo_users_expect() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    write(t, "site/index.shtml", "<p>home</p>\n");
    write(t, "site/logo.png", b"PNG\x00\x01");

    // -q: nothing at all on success.
    let r = run_expect(
        ssibake(t).args(["--root", "site", "--out", "dist", "-q"]),
        0,
    );
    assert_eq!((r.stdout_text(), r.stderr.as_str()), (String::new(), ""));

    // --out creates only its last component.
    let r = run_expect(ssibake(t).args(["--root", "site", "--out", "typo/dist"]), 2);
    assert!(
        r.stderr
            .contains("the directory that would hold the output `typo/dist` does not exist"),
        "{}",
        r.stderr
    );
    assert!(!t.join("typo").exists());

    // A write that fails: exit 3, saying it was a write and where.
    write(t, "notadir", "x");
    let r = run_expect(
        ssibake(t).args([
            "--root",
            "site",
            "site/index.shtml",
            "-o",
            "notadir/page.html",
        ]),
        3,
    );
    assert!(
        r.stderr.contains("cannot write `notadir/page.html`"),
        "{}",
        r.stderr
    );

    // A binary difference is summarised, not printed.
    write(t, "dist/logo.png", b"PNG\x00\x02");
    let r = run_expect(
        ssibake(t).args(["--root", "site", "--out", "dist", "--check"]),
        4,
    );
    assert!(
        r.stdout_text()
            .starts_with("logo.png: binary file differs: 5 bytes (sha256 "),
        "{}",
        r.stdout_text()
    );
    assert!(!r.stdout.contains(&0), "no raw bytes on the terminal");

    // One line per diagnostic with --message-format short.
    write(t, "site/bad.shtml", "<p>\n<!--#nope -->\n<!--#echo -->\n");
    let r = run_expect(
        ssibake(t).args([
            "--root",
            "site",
            "site/bad.shtml",
            "--message-format",
            "short",
        ]),
        1,
    );
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{}", r.stderr);
    assert!(lines[0].starts_with("site/bad.shtml:2:6: error: unknown directive `#nope`"));
    assert!(lines[1].starts_with("site/bad.shtml:3:"));
}

/// Apache releases differ: before 2.4.68 an `#if` whose condition errors still prints
/// its body (Debian 12 ships 2.4.67). `--apache-version` and `apache-version` in
/// `ssibake.toml` choose the release; the flag wins; a value that is not a 2.4 release
/// is a usage error.
#[test]
fn apache_version_flag_and_key() {
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("site");
    write(
        &site,
        "a.shtml",
        "<!--#if expr=\"bogus word\" -->1<!--#else -->2<!--#endif -->3",
    );
    let err = "[an error occurred while processing this directive]";
    let render = |extra: &[&str], code: i32| {
        let mut args = vec!["--root", "site", "--on-error", "errmsg"];
        args.extend_from_slice(extra);
        args.push("site/a.shtml");
        run_expect(ssibake(tmp.path()).args(&args), code)
    };
    assert_eq!(render(&[], 0).stdout_text(), format!("{err}3"));
    assert_eq!(
        render(&["--apache-version", "2.4.67"], 0).stdout_text(),
        format!("{err}13")
    );
    assert_eq!(
        render(&["--apache-version", "Apache/2.4.68"], 0).stdout_text(),
        format!("{err}3")
    );
    write(&site, "ssibake.toml", "apache-version = \"2.4.62\"\n");
    assert_eq!(render(&[], 0).stdout_text(), format!("{err}13"));
    assert_eq!(
        render(&["--apache-version", "2.4.71"], 0).stdout_text(),
        format!("{err}3")
    );
    write(&site, "ssibake.toml", "apache-version = \"2.2.34\"\n");
    let r = render(&[], 2);
    assert!(r.stderr.contains("apache-version"), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("`2.2.34` is not an Apache httpd 2.4 release"),
        "{}",
        r.stderr
    );
    let r = render(&["--apache-version", "2.4"], 2);
    assert!(
        r.stderr
            .contains("`2.4` is not an Apache httpd 2.4 release"),
        "{}",
        r.stderr
    );
}

/// A subcommand written after the options (`ssibake --root site serve`) is not taken
/// as a page named `serve`: a usage error says where it goes, unless such a file
/// exists, which is then rendered as before.
#[test]
fn a_subcommand_after_the_options_says_where_it_goes() {
    let tmp = tempfile::tempdir().unwrap();
    write(&tmp.path().join("site"), "a.shtml", "a");
    let r = run_expect(ssibake(tmp.path()).args(["--root", "site", "serve"]), 2);
    assert!(
        r.stderr
            .contains("`serve` is a subcommand: write it right after `ssibake`"),
        "{}",
        r.stderr
    );
    write(tmp.path(), "serve", "<!--#echo var=\"DOCUMENT_NAME\" -->");
    let r = run_expect(ssibake(tmp.path()).args(["--root", ".", "serve"]), 0);
    assert_eq!(r.stdout_text(), "serve");
}
