//! Differential fuzzing against a real Apache: random documents built from SSI
//! directives (well-formed and broken), rendered by Apache and by ssibake in errmsg
//! mode, in both expression languages, must give the same bytes.
//!
//! Deterministic (fixed seeds), so a failure is reproducible; `SSIBAKE_FUZZ_CASES`
//! raises the number of documents and `SSIBAKE_FUZZ_SEED` picks other ones for a
//! longer hunt. Skipped without Apache,
//! except under `CI=true`, where it fails.

mod support;

use std::fs;
use std::path::Path;

use ssibake::{Baker, OnError, Zone};
use support::apache::{apache_or_skip, apache_version, Apache, VHost};
use support::diff::diff;
use support::fixture;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

const VALUES: &[&str] = &[
    "X",
    "Y",
    "Z",
    "x",
    "$X",
    "${X}",
    "${X}b",
    "$X$Y",
    "\\$X",
    "a b",
    "&amp;",
    "&lt;b&gt;",
    "&#65;",
    "&eacute;",
    "%s",
    "%Y-%m-%d",
    "%A %Z",
    "%e %k",
    "[err]",
    "(undef)",
    "/inc.shtml",
    "inc.shtml",
    "/raw.html",
    "raw.html",
    "sub/inner.shtml",
    "/sub/inner.shtml",
    "/nope.html",
    "../x.html",
    "url",
    "entity",
    "none",
    "urlencoded",
    "base64",
    "url,entity",
    "bogus",
    "bytes",
    "abbrev",
    "BYTES",
    "DOCUMENT_NAME",
    "DOCUMENT_URI",
    "LAST_MODIFIED",
    "",
    "a\"b",
    "1",
    "0",
    "a=b&c=d e",
];

const AP_EXPRS: &[&str] = &[
    "true",
    "false",
    "v('X') == 'a'",
    "v('X') != ''",
    "-z v('Y')",
    "-n v('X')",
    "'a' =~ /(a)/",
    "v('X') =~ /^(.)(.)?/",
    "true && false",
    "true || false",
    "!(v('X') == 'a')",
    "'1' -lt '2'",
    "'b' > 'a'",
    "%{DOCUMENT_URI} =~ /shtml$/",
    "$X = a",
    "v('X') in {'a', 'b'}",
    "",
    "tolower('A') == 'a'",
    "(true",
    "v('X') . 'b' == 'ab'",
];

const LEGACY_EXPRS: &[&str] = &[
    "$X",
    "$X = a",
    "$X != a",
    "!$Y",
    "$X = /a(.)?/",
    "$X = /^$/",
    "a < b",
    "100 < 20",
    "'' || x",
    "x && ''",
    "$X && $Y || $Z",
    "($X = a) && !($Y = b)",
    "!($X)",
    "'a b' = a b",
    "$X=/\\./",
    "",
    "(a",
    "a)",
    "$X <= a",
    "$X >= b",
];

// Pieces of generated expressions: only what needs no request, so both sides can
// evaluate it (request data is refused by ssibake on purpose; see COMPATIBILITY.md).
const AP_STRINGS: &[&str] = &[
    "'a'",
    "'b'",
    "''",
    "'10'",
    "'9'",
    "'0'",
    "'off'",
    "'a b'",
    "'\u{e9}'",
    "'A\u{c9}b'",
    "'\u{663}'",
    "v('X')",
    "v('Y')",
    "v('x')",
    "%{DOCUMENT_URI}",
    "%{DOCUMENT_NAME}",
    "\"%{DOCUMENT_NAME}-x\"",
    "'$1'",
    "$0",
    "$1",
    "tolower('A\u{c9}b')",
    "toupper(v('X'))",
    "escape('a b/\u{e9}?')",
    "unescape('%41%2f%zz')",
    "base64('x\u{e9}')",
    "unbase64('eA==')",
    "md5('a')",
    "sha1('')",
    "env('X')",
];

const AP_BINARY: &[&str] = &[
    "==",
    "!=",
    "=",
    "<",
    "<=",
    ">",
    ">=",
    "-eq",
    "-ne",
    "-lt",
    "-le",
    "-gt",
    "-ge",
    ".",
    "-ipmatch",
    "-strmatch",
    "-strcmatch",
    "-fnmatch",
];

// Subjects and wildcard patterns for -strmatch, -strcmatch and -fnmatch.
const GLOB_SUBJECTS: &[&str] = &[
    "'app.css'",
    "'APP.CSS'",
    "'a/b/x'",
    "''",
    "']'",
    "'['",
    "'-'",
    "'a\\b'",
    "'*'",
    "%{DOCUMENT_URI}",
    "v('X')",
    "'\u{e9}'",
    "'.hidden'",
];
const GLOB_PATTERNS: &[&str] = &[
    "'*.css'",
    "'*.CSS'",
    "'a?c'",
    "'*'",
    "''",
    "'*/x'",
    "'*/*/x'",
    "'a\\/b/x'",
    "'[]]'",
    "'[!]]'",
    "'[a-c]*'",
    "'[A-C]*'",
    "'[a-]'",
    "'[a-m-z]'",
    "'['",
    "'[ab'",
    "'\\*'",
    "'a\\'",
    "'a[/]b/x'",
    "'*p*'",
    "'/p*.shtml'",
    "'?'",
    "'[^a]'",
    "'[\u{e0}-\u{ff}]'",
    "v('X')",
    "'.*'",
    "'[Z-\\]]'",
];

// `-ipmatch` on a host name is refused on purpose (a DNS lookup on the server): its
// left side here is an address, or not address-like at all.
const IP_LEFT: &[&str] = &[
    "'10.1.2.3'",
    "'9'",
    "'0x0a.1'",
    "'::1'",
    "'::ffff:10.0.0.1'",
    "'a b'",
    "''",
    "'1.2.3.4.5'",
    "v('Y')",
    "%{DOCUMENT_URI}",
];
const IP_RIGHT: &[&str] = &[
    "'10'",
    "'0'",
    "'10.0.0.0/8'",
    "'10.1.2.3/255.255.0.0'",
    "'::1/128'",
    "'192.168.'",
    "'a b'",
    "''",
    "'10/8'",
    "v('X')",
];

const AP_UNARY: &[&str] = &["-z", "-n", "-T", "!"];

const REGEXES: &[&str] = &[
    "/a/",
    "/^(.)(.)?$/",
    "/A/i",
    "m#^/p#",
    "m#X#i",
    "/[[:alpha:]]+/",
    "/\\d/",
    "/\\w+$/",
    "/^.$/",
    "/^..$/",
    "/\u{e9}/i",
    "/\u{c9}/i",
    "/(a)|(b)/",
    "/^$/",
];

/// A random ap_expr condition of nesting depth at most `depth`.
fn ap_expr(rng: &mut Rng, depth: usize) -> String {
    let choice = if depth == 0 {
        rng.below(4)
    } else {
        rng.below(7)
    };
    match choice {
        0 => {
            let op = rng.pick(AP_BINARY);
            let (a, b) = (rng.pick(AP_STRINGS), rng.pick(AP_STRINGS));
            if matches!(op, "-strmatch" | "-strcmatch" | "-fnmatch") {
                format!(
                    "{} {op} {}",
                    rng.pick(GLOB_SUBJECTS),
                    rng.pick(GLOB_PATTERNS)
                )
            } else if op == "-ipmatch" {
                format!("{} -ipmatch {}", rng.pick(IP_LEFT), rng.pick(IP_RIGHT))
            } else if op == "." {
                format!("{a} . {b} == {}", rng.pick(AP_STRINGS))
            } else {
                format!("{a} {op} {b}")
            }
        }
        1 => format!(
            "{} {} {}",
            rng.pick(AP_STRINGS),
            if rng.chance(70) { "=~" } else { "!~" },
            rng.pick(REGEXES)
        ),
        2 => {
            let op = rng.pick(AP_UNARY);
            if op == "!" {
                format!("!{}", ap_expr(rng, depth.saturating_sub(1)))
            } else {
                format!("{op} {}", rng.pick(AP_STRINGS))
            }
        }
        3 => format!(
            "{} in {{{}, {}}}",
            rng.pick(AP_STRINGS),
            rng.pick(AP_STRINGS),
            rng.pick(AP_STRINGS)
        ),
        4 => format!("({})", ap_expr(rng, depth - 1)),
        _ => format!(
            "{} {} {}",
            ap_expr(rng, depth - 1),
            if rng.chance(50) { "&&" } else { "||" },
            ap_expr(rng, depth - 1)
        ),
    }
}

const LEGACY_OPERANDS: &[&str] = &[
    "a", "b", "$X", "${X}", "$Y", "'a b'", "''", "\u{e9}", "10", "9", "$X$X", "\\$X", "\"a\"",
];

/// A random legacy (`SSILegacyExprParser on`) condition.
fn legacy_expr(rng: &mut Rng, depth: usize) -> String {
    let choice = if depth == 0 {
        rng.below(3)
    } else {
        rng.below(6)
    };
    match choice {
        0 => rng.pick(LEGACY_OPERANDS).to_string(),
        1 => {
            let op = rng.pick(&["=", "!=", "<", "<=", ">", ">="]);
            let right = if matches!(op, "=" | "!=") && rng.chance(50) {
                rng.pick(REGEXES)
            } else {
                rng.pick(LEGACY_OPERANDS)
            };
            format!("{} {op} {right}", rng.pick(LEGACY_OPERANDS))
        }
        2 => format!("!{}", rng.pick(LEGACY_OPERANDS)),
        3 => format!("({})", legacy_expr(rng, depth - 1)),
        4 => format!("!({})", legacy_expr(rng, depth - 1)),
        _ => format!(
            "{} {} {}",
            legacy_expr(rng, depth - 1),
            if rng.chance(50) { "&&" } else { "||" },
            legacy_expr(rng, depth - 1)
        ),
    }
}

const NAMES: &[&str] = &[
    "echo", "set", "config", "include", "fsize", "flastmod", "comment", "if", "elif", "else",
    "endif", "ECHO", "bogus", "",
];

const ATTRS: &[&str] = &[
    "var", "value", "encoding", "decoding", "errmsg", "echomsg", "timefmt", "sizefmt", "virtual",
    "file", "onerror", "expr", "VAR", "virtul",
];

const TEXT: &[&str] = &[
    "a",
    "text ",
    "\n",
    "\r\n",
    "<p>",
    "<!--",
    "<!-- x -->",
    "-->",
    "\u{feff}",
    "\u{00e9}",
    "\t",
    "&amp;",
];

fn quote(rng: &mut Rng, value: &str) -> String {
    match rng.below(10) {
        0 => format!("'{}'", value.replace('\'', "\\'")),
        1 => format!("`{value}`"),
        2 if !value.is_empty() && !value.contains(char::is_whitespace) => value.to_string(),
        _ => format!("\"{}\"", value.replace('"', "\\\"")),
    }
}

fn directive(rng: &mut Rng, legacy: bool) -> String {
    let name = rng.pick(NAMES);
    let mut d = format!("<!--#{name}");
    let nargs = match name {
        "else" | "endif" => usize::from(rng.chance(5)),
        "if" | "elif" => 1 + usize::from(rng.chance(5)),
        _ => rng.below(4),
    };
    for _ in 0..nargs {
        d.push_str(if rng.chance(10) { "\n\t" } else { " " });
        let attr = match name {
            "if" | "elif" if rng.chance(90) => "expr",
            _ => rng.pick(ATTRS),
        };
        if rng.chance(4) {
            d.push_str(attr);
            continue;
        }
        let generated;
        let value = if attr == "expr" && rng.chance(60) {
            generated = if legacy {
                legacy_expr(rng, 3)
            } else {
                ap_expr(rng, 3)
            };
            &generated
        } else if attr == "expr" {
            rng.pick(if legacy { LEGACY_EXPRS } else { AP_EXPRS })
        } else {
            rng.pick(VALUES)
        };
        d.push_str(attr);
        d.push_str(if rng.chance(10) { " = " } else { "=" });
        d.push_str(&quote(rng, value));
    }
    d.push_str(match rng.below(20) {
        0 => "-->",
        1 => " --->",
        _ => " -->",
    });
    d
}

fn document(rng: &mut Rng, legacy: bool) -> String {
    let mut doc = String::new();
    for _ in 0..rng.below(12) + 1 {
        if rng.chance(60) {
            doc.push_str(&directive(rng, legacy));
        } else {
            doc.push_str(rng.pick(TEXT));
        }
    }
    doc
}

fn write_site(root: &Path, docs: &[String]) {
    fs::create_dir_all(root.join("sub")).unwrap();
    let files: &[(&str, &str)] = &[
        ("inc.shtml", "[inc <!--#echo var=\"X\" --><!--#set var=\"Y\" value=\"from-inc\" --><!--#config timefmt=\"%Y\" -->]"),
        ("raw.html", "[raw <!--#echo var=\"X\" -->]"),
        ("sub/inner.shtml", "[inner <!--#include virtual=\"../raw.html\" --><!--#fsize file=\"../raw.html\" -->]"),
        ("x.html", "[x]"),
    ];
    for (name, content) in files {
        fs::write(root.join(name), content).unwrap();
    }
    for (i, doc) in docs.iter().enumerate() {
        fs::write(root.join(format!("p{i}.shtml")), doc).unwrap();
    }
    let t = filetime::FileTime::from_unix_time(981_173_106, 0);
    for entry in walk(root) {
        filetime::set_file_mtime(&entry, t).unwrap();
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        }
        out.push(p);
    }
    out
}

#[test]
fn apache_fuzz() {
    let Some(bin) = apache_or_skip("apache_fuzz") else {
        return;
    };
    let n: usize = std::env::var("SSIBAKE_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let tz = "America/New_York";
    // ssibake reproduces the release that serves (src/engine/compat.rs).
    let version: ssibake::ApacheVersion = apache_version(&bin).parse().unwrap();
    let tmp = fixture::temp_parent("ssibake-fuzz-");
    fixture::check_parents_traversable(tmp.path()).unwrap();
    let mut mismatches = Vec::new();
    for legacy in [false, true] {
        let seed: u64 = std::env::var("SSIBAKE_FUZZ_SEED")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let base = if legacy {
            0x1234_5678_9abc_def1
        } else {
            0x0fed_cba9_8765_4321
        };
        let mut rng = Rng(base ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let docs: Vec<String> = (0..n).map(|_| document(&mut rng, legacy)).collect();
        let name = if legacy { "legacy" } else { "apexpr" };
        let root = tmp.path().join(name);
        write_site(&root, &docs);
        let mut apache = Apache::start(
            &bin,
            tz,
            &[VHost {
                name: name.into(),
                root: root.clone(),
                legacy_expr: legacy,
                defines: [("X".to_string(), "a".to_string())].into_iter().collect(),
                ..VHost::default()
            }],
        )
        .expect("start Apache");
        let baker = Baker::builder()
            .root(&root)
            .on_error(OnError::Errmsg)
            .legacy_expr(legacy)
            .apache_version(version)
            .time_zone(Zone::from_tz(Some(tz)).unwrap())
            .define("X", "a")
            .build()
            .unwrap();
        // Apache gets X=a through SetEnv, ssibake through --define.
        for (i, doc) in docs.iter().enumerate() {
            let page = format!("p{i}.shtml");
            let ours = baker
                .render(&page)
                .map(|r| r.output)
                .unwrap_or_else(|e| format!("ERROR {e}").into_bytes());
            let theirs = apache
                .get(&format!("{name}.test"), &format!("/{page}"))
                .expect("fetch")
                .body;
            if ours != theirs {
                mismatches.push(format!(
                    "[{name}] p{i}.shtml\n--- document ---\n{doc:?}\n{}",
                    diff("apache", &theirs, "ssibake", &ours)
                ));
            }
        }
        apache.stop();
    }
    if !mismatches.is_empty() {
        for m in mismatches.iter().take(15) {
            eprintln!("{m}\n");
        }
        panic!(
            "{} of {} documents differ from Apache",
            mismatches.len(),
            2 * n
        );
    }
}
