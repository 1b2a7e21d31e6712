//! No input makes ssibake panic, hang or blow the stack: random documents built from
//! SSI fragments, in every mode, and a few pathological shapes.

use ssibake::{Baker, MemoryFs, OnError};

/// A small deterministic generator (xorshift64*), so a failure is reproducible
/// from the printed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

const FRAGMENTS: &[&str] = &[
    "<!--#",
    "-->",
    " -->",
    "--->",
    "<!--",
    "#",
    "echo",
    "include",
    "fsize",
    "flastmod",
    "config",
    "set",
    "if",
    "elif",
    "else",
    "endif",
    "printenv",
    "exec",
    "comment",
    " var=",
    " virtual=",
    " file=",
    " expr=",
    " value=",
    " encoding=",
    " decoding=",
    " timefmt=",
    " sizefmt=",
    " errmsg=",
    " onerror=",
    "\"",
    "'",
    "`",
    "\\",
    "$",
    "${",
    "}",
    "$X",
    "${X}",
    "&amp;",
    "&#65;",
    "%",
    "%s",
    "%Z",
    "%5Y",
    "/",
    "../",
    "/a.shtml",
    "b.html",
    "x",
    " ",
    "\n",
    "\r\n",
    "\0",
    "\u{feff}",
    "\u{00e9}",
    "v('X')",
    "%{X}",
    "==",
    "=~",
    "/(a)/",
    "&&",
    "||",
    "!",
    "(",
    ")",
    "-z",
    "-n",
    "=",
    "<",
    ">",
    "url",
    "entity",
    "base64",
    "bytes",
    "abbrev",
    "$0",
    "$1",
];

fn site() -> MemoryFs {
    let mut fs = MemoryFs::new();
    fs.insert("a.shtml", "A<!--#include virtual=\"/a.shtml\" -->", 1)
        .insert("b.html", "B<!--#echo var=\"X\" -->", 2)
        .insert(
            "c.shtml",
            "<!--#set var=\"X\" value=\"${X}${X}\" --><!--#include file=\"c.shtml\" -->",
            3,
        )
        .insert("sub/d.shtml", "<!--#include virtual=\"../a.shtml\" -->", 4);
    fs
}

fn bakers() -> Vec<Baker> {
    let mut out = Vec::new();
    for on_error in [OnError::Fail, OnError::Errmsg] {
        for legacy in [false, true] {
            out.push(
                Baker::builder()
                    .file_system(site())
                    .on_error(on_error)
                    .legacy_expr(legacy)
                    .define("X", "1")
                    .now(0)
                    .build()
                    .unwrap(),
            );
        }
    }
    out
}

#[test]
fn random_documents_render_or_fail_cleanly() {
    let bakers = bakers();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for case in 0..3000 {
        let len = (rng.next() % 40) as usize;
        let doc: String = (0..len).map(|_| rng.pick(FRAGMENTS)).collect();
        for baker in &bakers {
            // Either result is fine; a panic fails the test with the document shown.
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                baker.render_bytes("index.shtml", doc.as_bytes(), 0)
            }));
            assert!(result.is_ok(), "case {case} panicked on {doc:?}");
        }
    }
}

#[test]
fn self_including_pages_stop() {
    for baker in bakers() {
        let out = baker.render("a.shtml");
        if let Ok(r) = out {
            // Apache's limit: the page and 10 nested copies.
            assert_eq!(r.output.iter().filter(|&&b| b == b'A').count(), 11);
        }
        let _ = baker.render("c.shtml");
        let _ = baker.render("sub/d.shtml");
    }
}

#[test]
fn deep_nesting_is_bounded() {
    let nested_ifs =
        "<!--#if expr=\"true\" -->".repeat(100_000) + &"<!--#endif -->".repeat(100_000);
    let parens = format!(
        "<!--#if expr=\"{}true{}\" -->x<!--#endif -->",
        "(".repeat(100_000),
        ")".repeat(100_000)
    );
    let bangs = format!(
        "<!--#if expr=\"{}true\" -->x<!--#endif -->",
        "!".repeat(100_000)
    );
    let legacy_parens = format!(
        "<!--#if expr=\"{}a{}\" -->x<!--#endif -->",
        "(".repeat(100_000),
        ")".repeat(100_000)
    );
    let ands = format!(
        "<!--#if expr=\"true{}\" -->x<!--#endif -->",
        " && true".repeat(50_000)
    );
    for baker in bakers() {
        for doc in [&nested_ifs, &parens, &bangs, &legacy_parens, &ands] {
            let _ = baker.render_bytes("index.shtml", doc.as_bytes(), 0);
        }
    }
}

#[test]
fn huge_values_and_many_directives() {
    let baker = Baker::builder()
        .file_system(site())
        .on_error(OnError::Errmsg)
        .build()
        .unwrap();
    let many = "<!--#echo var=\"X\" -->".repeat(200_000);
    let out = baker
        .render_bytes("index.shtml", many.as_bytes(), 0)
        .unwrap();
    assert_eq!(out.output.len(), 200_000 * "(none)".len());
    let long_value = format!(
        "<!--#set var=\"Y\" value=\"{}\" --><!--#echo var=\"Y\" -->",
        "$Y".repeat(100_000)
    );
    baker
        .render_bytes("index.shtml", long_value.as_bytes(), 0)
        .unwrap();
    let long_fmt = format!(
        "<!--#config timefmt=\"{}\" --><!--#echo var=\"DATE_LOCAL\" -->",
        "%c".repeat(100_000)
    );
    let out = baker
        .render_bytes("index.shtml", long_fmt.as_bytes(), 0)
        .unwrap();
    // Apache cuts formatted times at 8191 bytes.
    assert!(out.output.len() <= 8191);
}

/// The limit error of `result`, which must be one.
fn limit_error(result: Result<ssibake::Rendered, ssibake::Error>) -> String {
    match result {
        Err(ssibake::Error::Template(t)) => {
            let d = t.diagnostics();
            assert_eq!(d.len(), 1, "{d:?}");
            assert_eq!(d[0].code.as_str(), "limit");
            d[0].message.clone()
        }
        other => panic!(
            "expected a limit error, got {:?}",
            other.map(|r| r.output.len())
        ),
    }
}

#[test]
fn multiplying_includes_and_doubling_values_stop_at_a_limit() {
    // Ten includes of ten includes, ten levels deep: 10^10 includes, which Apache
    // would stream for ever and a naive baker would try to hold in memory.
    let mut fs = MemoryFs::new();
    for level in 0..10 {
        let next = format!("<!--#include virtual=\"l{}.shtml\" -->", level + 1);
        fs.insert(&format!("l{level}.shtml"), next.repeat(10), 1);
    }
    fs.insert("l10.shtml", "0123456789abcdef", 1);
    // Forty doublings: a terabyte.
    let doubling = "<!--#set var=\"a\" value=\"xxxxxxxx\" -->".to_string()
        + &"<!--#set var=\"a\" value=\"$a$a\" -->".repeat(40);
    fs.insert("grow.shtml", doubling, 1);
    // Output alone: a 4 MiB file included 100 times, ten times over.
    fs.insert("big.html", "x".repeat(4 << 20), 1);
    let hundred = "<!--#include virtual=\"/big.html\" -->".repeat(100);
    fs.insert("hundred.shtml", hundred, 1);
    fs.insert(
        "wide.shtml",
        "<!--#include virtual=\"/hundred.shtml\" -->".repeat(10),
        1,
    );
    for on_error in [OnError::Fail, OnError::Errmsg] {
        let baker = Baker::builder()
            .file_system(fs.clone())
            .on_error(on_error)
            .build()
            .unwrap();
        let m = limit_error(baker.render("l0.shtml"));
        assert!(m.contains("directives evaluated"), "{m}");
        let m = limit_error(baker.render("grow.shtml"));
        assert!(m.contains("grow past 16 MiB"), "{m}");
        let m = limit_error(baker.render("wide.shtml"));
        assert!(m.contains("grew past 256 MiB"), "{m}");
    }
}

#[test]
fn substitutions_and_expressions_cannot_exhaust_memory() {
    let big = "x".repeat(1 << 20);
    let set_big = format!("<!--#set var=\"a\" value=\"{big}\" -->");
    // 40 × 1 MiB in one value.
    let subst = set_big.clone() + &format!("<!--#set var=\"b\" value=\"{}\" -->", "$a".repeat(40));
    // The same in a legacy expression string, and an ap_expr concatenation chain.
    let legacy = set_big.clone()
        + &format!(
            "<!--#if expr=\"{} = x\" -->y<!--#endif -->",
            "$a".repeat(40)
        );
    let ap = set_big
        + &format!(
            "<!--#if expr=\"v('a'){} == 'x'\" -->y<!--#endif -->",
            " . v('a')".repeat(40)
        );
    // base64() makes 3 bytes 4: fifteen levels of it (within the recursion limit) turn
    // 1 MiB into 75.
    let nested = format!(
        "<!--#set var=\"c\" value=\"{big}\" --><!--#if expr=\"{}v('c'){} == 'x'\" -->y<!--#endif -->",
        "base64(".repeat(15),
        ")".repeat(15)
    );
    let baker = |legacy_expr: bool| {
        Baker::builder()
            .file_system(site())
            .legacy_expr(legacy_expr)
            .build()
            .unwrap()
    };
    let m = limit_error(baker(false).render_bytes("index.shtml", subst.as_bytes(), 0));
    assert!(m.contains("grow past 16 MiB"), "{m}");
    for (legacy_expr, doc) in [(true, &legacy), (false, &ap), (false, &nested)] {
        match baker(legacy_expr).render_bytes("index.shtml", doc.as_bytes(), 0) {
            Err(ssibake::Error::Template(t)) => {
                let d = t.diagnostics();
                assert!(d[0].message.contains("grow past 16 MiB"), "{d:?}");
            }
            other => panic!("expected an error, got {:?}", other.map(|r| r.output.len())),
        }
    }
}
