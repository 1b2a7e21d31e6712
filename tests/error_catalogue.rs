//! Issue 13: the error catalogue. Every diagnostic code has a case here asserting
//! its exact message, its place, its code and the exit status, through a whole
//! invocation (`--message-format json`); `not-in-git` is in `tests/versions.rs`.
//! The README's error table lists the same codes (a unit test keeps them in step).
//! I/O errors say whether they were reading or writing, and which path.

mod common;

use common::*;

struct Case {
    code: &'static str,
    files: &'static [(&'static str, &'static str)],
    page: &'static str,
    flags: &'static [&'static str],
    exit: i32,
    severity: &'static str,
    message: &'static str,
    at: (&'static str, u64, u64),
}

const fn case(
    code: &'static str,
    files: &'static [(&'static str, &'static str)],
    message: &'static str,
    at: (&'static str, u64, u64),
) -> Case {
    Case {
        code,
        files,
        page: "p.shtml",
        flags: &[],
        exit: 1,
        severity: "error",
        message,
        at,
    }
}

const DEPTH: &[(&str, &str)] = &[
    ("p.shtml", "<!--#include virtual=\"/d1.shtml\" -->"),
    ("d1.shtml", "<!--#include virtual=\"/d2.shtml\" -->"),
    ("d2.shtml", "<!--#include virtual=\"/d3.shtml\" -->"),
    ("d3.shtml", "<!--#include virtual=\"/d4.shtml\" -->"),
    ("d4.shtml", "<!--#include virtual=\"/d5.shtml\" -->"),
    ("d5.shtml", "<!--#include virtual=\"/d6.shtml\" -->"),
    ("d6.shtml", "<!--#include virtual=\"/d7.shtml\" -->"),
    ("d7.shtml", "<!--#include virtual=\"/d8.shtml\" -->"),
    ("d8.shtml", "<!--#include virtual=\"/d9.shtml\" -->"),
    ("d9.shtml", "<!--#include virtual=\"/d10.shtml\" -->"),
    ("d10.shtml", "<!--#include virtual=\"/d11.shtml\" -->"),
    ("d11.shtml", "end"),
];

const CASES: &[Case] = &[
    case(
        "syntax",
        &[("p.shtml", "<p><!--#echo var=\"x\"")],
        "directive is not closed before the end of the file",
        ("site/p.shtml", 1, 4),
    ),
    case(
        "unknown-directive",
        &[("p.shtml", "<!--#nope -->")],
        "unknown directive `#nope`",
        ("site/p.shtml", 1, 6),
    ),
    case(
        "unknown-attribute",
        &[("p.shtml", "<!--#echo bogus=\"x\" -->")],
        "unknown attribute `bogus` for `#echo`",
        ("site/p.shtml", 1, 11),
    ),
    case(
        "missing-attribute",
        &[("p.shtml", "<!--#include -->")],
        "`#include` needs a `virtual` or `file` attribute",
        ("site/p.shtml", 1, 1),
    ),
    case(
        "bad-value",
        &[("p.shtml", "<!--#config sizefmt=\"BYTES\" -->")],
        "unknown sizefmt `BYTES` (expected `bytes` or `abbrev`, lower-case)",
        ("site/p.shtml", 1, 13),
    ),
    case(
        "not-found",
        &[("p.shtml", "<!--#include virtual=\"/nope.html\" -->")],
        "`nope.html` does not exist",
        ("site/p.shtml", 1, 14),
    ),
    case(
        "outside-root",
        &[("p.shtml", "<!--#include file=\"../x.html\" -->")],
        "`../x.html` climbs above the including document's directory (use `virtual`)",
        ("site/p.shtml", 1, 14),
    ),
    case(
        "include-cycle",
        &[("p.shtml", "<!--#include virtual=\"/p.shtml\" -->")],
        "include cycle: p.shtml -> p.shtml",
        ("site/p.shtml", 1, 14),
    ),
    case(
        "include-depth",
        DEPTH,
        "includes are nested more than 10 levels deep (Apache's limit)",
        ("site/d10.shtml", 1, 14),
    ),
    case(
        "exec-refused",
        &[("p.shtml", "<!--#exec cmd=\"ls\" -->")],
        "`#exec` is refused: ssibake never runs commands (Apache's IncludesNOEXEC)",
        ("site/p.shtml", 1, 1),
    ),
    case(
        "expression",
        &[("p.shtml", "<!--#if expr=\"(\" -->x<!--#endif -->")],
        "invalid expression: syntax error",
        ("site/p.shtml", 1, 16),
    ),
    case(
        "not-text",
        &[
            ("p.shtml", "<!--#include virtual=\"/img.png\" -->"),
            ("img.png", "PNG"),
        ],
        "`img.png` is not a text/* file; Apache refuses to include it under IncludesNOEXEC",
        ("site/p.shtml", 1, 14),
    ),
    case(
        "conditional",
        &[("p.shtml", "<!--#endif -->")],
        "`#endif` without `#if`",
        ("site/p.shtml", 1, 1),
    ),
    case(
        "unclosed-if",
        &[("p.shtml", "<!--#if expr=\"1 = 1\" -->x")],
        "`#if` without `#endif`",
        ("site/p.shtml", 1, 1),
    ),
    case(
        "substitution",
        &[("p.shtml", "<!--#set var=\"a\" value=\"${b\" -->")],
        "`${` without a closing `}`: Apache drops the rest of the value",
        ("site/p.shtml", 1, 18),
    ),
    case(
        "io",
        &[("p.shtml", "<!--#include virtual=\"/fifo.html\" -->")],
        "cannot read `fifo.html`: `fifo.html` is not a regular file (a directory, FIFO, socket or device): only regular files are read",
        ("site/p.shtml", 1, 14),
    ),
    case(
        "unsupported",
        &[("p.shtml", "<!--#printenv -->")],
        "`#printenv` cannot be reproduced at deploy time: Apache prints the CGI environment of each request",
        ("site/p.shtml", 1, 1),
    ),
    case(
        "undefined-variable",
        &[("p.shtml", "<!--#echo var=\"NOPE\" -->")],
        "`NOPE` is undefined (Apache would print `(none)`)",
        ("site/p.shtml", 1, 11),
    ),
    case(
        "config",
        &[
            ("p.shtml", "<!--#include virtual=\"/sub/q.html\" -->"),
            ("sub/.htaccess", "SSIStartTag <%\n"),
            ("sub/q.html", "q"),
        ],
        "the site's configuration cannot be used: sub/.htaccess:1: SSIStartTag not allowed here (`SSIStartTag <%`)",
        ("site/p.shtml", 1, 14),
    ),
    Case {
        flags: &["--on-error", "errmsg"],
        exit: 0,
        severity: "warning",
        ..case(
            "raw-directive",
            &[
                ("p.shtml", "<!--#include virtual=\"/raw.html\" -->"),
                ("raw.html", "<!--#echo var=\"x\" -->"),
            ],
            "`raw.html` holds SSI directives but is not parsed here: it is included as it is, directives and all (as Apache does)",
            ("site/p.shtml", 1, 14),
        )
    },
    Case {
        exit: 0,
        severity: "warning",
        ..case(
            "near-miss",
            &[("p.shtml", "<!-- #include virtual=\"/x.html\" -->")],
            "`<!-- #include` is an HTML comment, not a directive: Apache ships it as it is",
            ("site/p.shtml", 1, 1),
        )
    },
];

#[test]
fn every_code_has_its_message_place_and_exit_status() {
    let mut seen = Vec::new();
    for c in CASES {
        let tmp = tempfile::tempdir().unwrap();
        let site = tmp.path().join("site");
        for (path, text) in c.files {
            write(&site, path, text);
        }
        if c.code == "io" {
            let fifo = std::ffi::CString::new(site.join("fifo.html").to_str().unwrap()).unwrap();
            // SAFETY: a valid path; mkfifo only reads it.
            assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
        }
        let page = format!("site/{}", c.page);
        let r = run_expect(
            ssibake(tmp.path())
                .args(["--root", "site", "--message-format", "json"])
                .args(c.flags)
                .arg(&page),
            c.exit,
        );
        let first: serde_json::Value = r
            .stderr
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).expect(l))
            .find(|o| o["type"] == "diagnostic")
            .unwrap_or_else(|| panic!("{}: no diagnostic in {}", c.code, r.stderr));
        assert_eq!(first["code"], c.code, "{}", r.stderr);
        assert_eq!(first["severity"], c.severity, "{}", c.code);
        assert_eq!(first["message"], c.message, "{}", c.code);
        assert_eq!(
            (
                first["file"].as_str().unwrap(),
                first["line"].as_u64().unwrap(),
                first["column"].as_u64().unwrap()
            ),
            c.at,
            "{}",
            c.code
        );
        seen.push(c.code);
    }
    // Every code has its case: here, `limit` below, `not-in-git` in tests/versions.rs.
    for code in ssibake::Code::ALL {
        let name = code.as_str();
        assert!(
            seen.contains(&name) || ["limit", "not-in-git"].contains(&name),
            "the code `{name}` has no case in the catalogue"
        );
    }
}

#[test]
fn a_limit_is_an_error_in_every_mode() {
    let tmp = tempfile::tempdir().unwrap();
    let doubling = "<!--#set var=\"a\" value=\"$a$a\" -->".repeat(30);
    write(
        &tmp.path().join("site"),
        "p.shtml",
        format!("<!--#set var=\"a\" value=\"xxxxxxxxxxxxxxxx\" -->{doubling}"),
    );
    for mode in ["fail", "errmsg"] {
        let r = run_expect(
            ssibake(tmp.path()).args([
                "--root",
                "site",
                "--on-error",
                mode,
                "--message-format",
                "json",
                "site/p.shtml",
            ]),
            1,
        );
        let v: serde_json::Value = serde_json::from_str(r.stderr.lines().next().unwrap()).unwrap();
        assert_eq!(v["code"], "limit");
        assert_eq!(
            v["message"],
            "a value would grow past 16 MiB: ssibake stops here"
        );
    }
}

#[test]
fn io_errors_say_read_or_write_and_where() {
    let tmp = tempfile::tempdir().unwrap();
    write(&tmp.path().join("site"), "p.shtml", "<p>x</p>\n");
    // Reading: a page that is not there.
    let r = run_expect(
        ssibake(tmp.path()).args(["--root", "site", "site/gone.shtml"]),
        3,
    );
    assert!(
        r.stderr.contains("cannot read `site/gone.shtml`"),
        "{}",
        r.stderr
    );
    // Writing: into a path under a regular file.
    write(tmp.path(), "file", "x");
    let r = run_expect(
        ssibake(tmp.path()).args(["--root", "site", "site/p.shtml", "-o", "file/out.html"]),
        3,
    );
    assert!(
        r.stderr.contains("cannot write `file/out.html`"),
        "{}",
        r.stderr
    );
}

/// A page in a directory whose `.htaccess` Apache refuses is answered with 500:
/// a `config` error for the page itself, in every mode.
#[test]
fn a_page_under_a_refused_htaccess_is_an_error_in_every_mode() {
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("site");
    write(&site, "sub/.htaccess", "SSIStartTag <%\n");
    write(&site, "sub/q.shtml", "<p>q</p>\n");
    for mode in ["fail", "errmsg"] {
        let r = run_expect(
            ssibake(tmp.path()).args([
                "--root",
                "site",
                "--on-error",
                mode,
                "--message-format",
                "json",
                "site/sub/q.shtml",
            ]),
            1,
        );
        let v: serde_json::Value = serde_json::from_str(r.stderr.lines().next().unwrap()).unwrap();
        assert_eq!(v["code"], "config", "{mode}: {}", r.stderr);
        assert_eq!(
            (v["file"].as_str(), v["line"].as_u64()),
            (Some("site/sub/q.shtml"), Some(1))
        );
        assert!(r.stdout.is_empty(), "{mode}: nothing rendered");
    }
}
