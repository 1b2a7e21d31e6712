//! Issue 12: the incremental bake. With the previous output and its dependency
//! record, a bake renders only what changed and links the rest, and the result is
//! byte for byte what a full bake gives. A property test makes random edits and
//! compares the two after each.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime};

use common::*;

fn bake(dir: &Path, out: &str, extra: &[&str]) -> Run {
    let mut cmd = ssibake(dir);
    cmd.env("SOURCE_DATE_EPOCH", "1700000000")
        .args(["--root", "site", "--out", out, "--version-file", "v.json"])
        .args(extra);
    run_expect(&mut cmd, 0)
}

/// Every published file (the record under `.ssibake/` aside).
fn published(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    contents(dir)
        .into_iter()
        .filter(|(k, _)| !k.starts_with(".ssibake/"))
        .collect()
}

fn reused(stderr: &str) -> usize {
    let line = summary_lines(stderr)[0];
    line.split(", ")
        .find_map(|part| part.strip_suffix(" unchanged since the last bake"))
        .map_or(0, |n| n.parse().unwrap())
}

fn site(root: &Path) {
    for i in 0..12 {
        let part = i % 3;
        write(
            root,
            &format!("d{}/p{i}.shtml", i % 4),
            format!(
                "<!--#config timefmt=\"%s\" --><!--#include virtual=\"/inc/part{part}.shtml\" -->\
                 <link href=\"/a/s{part}.css?<!--#flastmod virtual=\"/a/s{part}.css\" -->\">\
                 <!--#include virtual=\"/opt/o{i}.html\" onerror=\"/inc/none.html\" -->\
                 <!--#if expr=\"-F 'f{i}.txt'\" -->F<!--#endif -->p{i}\n"
            ),
        );
    }
    for part in 0..3 {
        write(
            root,
            &format!("inc/part{part}.shtml"),
            format!("<nav>{part} <!--#fsize virtual=\"/a/s{part}.css\" --></nav>"),
        );
        write(root, &format!("a/s{part}.css"), format!("s{part}"));
    }
    write(root, "inc/none.html", "-");
    write(root, "index.shtml", "<!--#echo var=\"BUILD_ID\" -->\n");
    write(root, "img/logo.png", [0u8, 1, 2]);
}

#[test]
fn an_unchanged_site_is_reused_and_a_change_renders_only_its_pages() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("site");
    site(&root);
    let first = bake(tmp.path(), "dist", &[]);
    assert_eq!(reused(&first.stderr), 0, "{}", first.stderr);
    let again = bake(tmp.path(), "dist", &[]);
    // 12 pages (index.html shows the build ID: rendered) and 5 files.
    assert_eq!(reused(&again.stderr), 12 + 5, "{}", again.stderr);
    // One partial changed: its four pages are rendered, the others reused.
    write(&root, "inc/part1.shtml", "<nav>one</nav>");
    let after = bake(tmp.path(), "dist", &[]);
    assert_eq!(reused(&after.stderr), 12 - 4 + 5, "{}", after.stderr);
    // --full renders everything.
    let full = bake(tmp.path(), "dist", &["--full"]);
    assert_eq!(reused(&full.stderr), 0);
}

#[test]
fn incremental_bakes_equal_full_bakes_over_random_edits() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("site");
    site(&root);
    bake(tmp.path(), "inc", &[]);
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let mut define = 0;
    let mut reuses = 0;
    for round in 0..30 {
        let what = next(8);
        let i = next(12);
        match what {
            // A partial's content.
            0 => write(
                &root,
                &format!("inc/part{}.shtml", i % 3),
                format!("<nav>{round}</nav>"),
            ),
            // A stamped asset's time, not its bytes.
            1 => {
                let p = root.join(format!("a/s{}.css", i % 3));
                set_mtime(
                    &p,
                    SystemTime::UNIX_EPOCH + Duration::from_secs(1_500_000_000 + round),
                );
                p
            }
            // A file where a lookup failed before (and its removal).
            2 => write(&root, &format!("opt/o{i}.html"), format!("o{round}")),
            3 => write(&root, &format!("d{}/f{i}.txt", i % 4), "f"),
            4 => {
                let _ = std::fs::remove_file(root.join(format!("opt/o{i}.html")));
                let _ = std::fs::remove_file(root.join(format!("d{}/f{i}.txt", i % 4)));
                root.clone()
            }
            // A page deleted, or brought back.
            5 => {
                let p = root.join(format!("d{}/p{i}.shtml", i % 4));
                if p.exists() {
                    std::fs::remove_file(&p).unwrap();
                } else {
                    write(
                        &root,
                        &format!("d{}/p{i}.shtml", i % 4),
                        format!("back {round}\n"),
                    );
                }
                p
            }
            // A define (the settings change: everything is rendered).
            6 => {
                define += 1;
                root.clone()
            }
            // An .htaccess setting.
            _ => write(
                &root,
                "d1/.htaccess",
                format!("SSIErrorMsg \"[{round}]\"\n"),
            ),
        };
        let d = format!("N={define}");
        let r = bake(tmp.path(), "inc", &["-D", &d]);
        reuses += reused(&r.stderr);
        let full_dir = format!("full{round}");
        bake(tmp.path(), &full_dir, &["-D", &d, "--full"]);
        let (a, b) = (
            published(&tmp.path().join("inc")),
            published(&tmp.path().join(&full_dir)),
        );
        assert_eq!(
            a.keys().collect::<Vec<_>>(),
            b.keys().collect::<Vec<_>>(),
            "round {round} (edit {what}): the same files"
        );
        for (k, v) in &a {
            assert_eq!(
                String::from_utf8_lossy(v),
                String::from_utf8_lossy(&b[k]),
                "round {round} (edit {what}): {k} differs from a full bake"
            );
        }
        std::fs::remove_dir_all(tmp.path().join(&full_dir)).unwrap();
    }
    assert!(
        reuses > 100,
        "the incremental bakes reused only {reuses} files"
    );
}
