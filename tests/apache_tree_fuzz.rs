//! Differential fuzzing of WHOLE TREES against a real Apache httpd 2.4.
//!
//! From a seed, a small random document root is generated: nested directories with and
//! without index files (`index.html`, `index.shtml`, `index.htm`), multi-extension names
//! (`notes.shtml.txt`, `a.shtml.html`, `a.en.shtml`, `x.json.txt`, `data.json.foo`, `noext`),
//! names with spaces, UTF-8 and a literal `%` (`pct%41.html`), a directory named `x.shtml`,
//! symlinks to files and directories inside the root, executable files, and `.htaccess`
//! files with the directives that change what mod_include prints (Options ±Includes /
//! IncludesNOEXEC, XBitHack, AddOutputFilter / RemoveOutputFilter / SetOutputFilter /
//! AddHandler, AddType, ForceType, DirectoryIndex, SSITimeFormat, SSIErrorMsg,
//! SSIUndefinedEcho, SSILegacyExprParser), bare or inside `<Files>`, `<FilesMatch>` and
//! `<IfModule include_module>`. Pages hold random `include virtual|file`, `flastmod`,
//! `fsize`, `echo`, `config` and `#if` directives whose targets are drawn from the tree
//! (files, directories with and without trailing slash, symlinks) or are special values
//! (`.`, empty, `?x=1`, `..`, path info, `%2f`, `%00`, a bare `%`, `%zz`, `%41`, a query,
//! a fragment). Every file and directory gets a fixed mtime; both sides run with `TZ=UTC`.
//!
//! Apache serves each tree from its own virtual host (`AllowOverride All`, `Options
//! +IncludesNOEXEC`, and at server level as Debian has them `AddType text/html .shtml`, `AddOutputFilter INCLUDES .shtml`, Debian's
//! default `DirectoryIndex index.html index.cgi index.pl index.php index.xhtml index.htm`,
//! `ServerName localhost`), and `ssibake --root TREE --out OUT --on-error errmsg --keep-ext`
//! bakes the same tree. Every file either side parses (Apache's body or ssibake's output
//! differs from the source bytes) is a page; its Apache body (`GET` of its URL over
//! HTTP/1.1, no query string) must equal ssibake's output file byte for byte.
//!
//! Each directive of a page is preceded by a marker `{{N.k}}` (page N, directive k), so a
//! differing page is split into per-directive segments and each differing segment is
//! tagged with what the generator put there (e.g. `include virtual dir/(index.html)`).
//!
//! Modes (deterministic: tree `S` is always generated from seed `S`):
//! * default (CI): 8 trees, seeds 1..=8, well under a minute;
//! * `SSIBAKE_TREE_FUZZ=N`: seeds 1..=N;
//! * `SSIBAKE_TREE_FUZZ_SEED=S`: only seed S (to rerun one tree); with
//!   `SSIBAKE_TREE_FUZZ=N` too, the N seeds from S on (S..S+N);
//! * `SSIBAKE_TREE_FUZZ_DIR=DIR`: replay a tree from disk (a kept `<seed>/site`, or a
//!   hand-reduced reproducer) as "seed 0"; pages there are compared without directive tags.
//!
//! `scripts/tree-fuzz-classify.py <target>/tree-fuzz/summary.tsv` groups the differing
//! segments of a run into difference classes (see /work/notes/tree-fuzz-findings.md).
//!
//! Output: every difference is printed (seed, tree listing with `.htaccess` contents, page
//! source, Apache's and ssibake's bytes escaped, the request's Apache error-log lines) and
//! written to `<target>/tree-fuzz/<seed>/` (the tree as `site/`, `tree.txt`, and one folder
//! per differing page with `source`, `apache.out`, `ssibake.out`, `error_log.txt`,
//! `report.txt`), plus `<target>/tree-fuzz/summary.tsv` with one line per differing
//! directive segment (`SSIBAKE_TREE_FUZZ_OUT` moves `<target>/tree-fuzz`). The test fails
//! when any page differs and prints `trees: T, pages: P, identical: I, differing: D`.
//! Without Apache it is skipped loudly, except under `CI=true`, where it fails.
//!
//! Deliberately NOT generated, because a bake cannot know them (they depend on the
//! client, the server's address or the clock, not on the tree):
//! * `DATE_GMT`, `DATE_LOCAL` (request time) and `#printenv` (prints them and all below);
//! * `REMOTE_ADDR`, `REMOTE_PORT`, `REMOTE_HOST`, `HTTP_*` (client and its headers);
//! * `SERVER_NAME`, `SERVER_PORT`, `SERVER_ADDR`, `SERVER_ADMIN`, `SERVER_SOFTWARE`,
//!   `SERVER_SIGNATURE`, `REQUEST_SCHEME`, `HTTPS` (server and deployment, not the tree);
//! * `DOCUMENT_ROOT`, `CONTEXT_DOCUMENT_ROOT`, `SCRIPT_FILENAME`, `PATH_TRANSLATED` (the
//!   absolute path of the temporary root), `USER_NAME` (the file owner), `PATH`,
//!   `UNIQUE_ID`;
//! * `#exec` (IncludesNOEXEC; a bake never runs programs), `-A`/`-U`/`-F` and `%{...}`
//!   request lookups other than `REQUEST_URI` in `#if`;
//! * requests with a query string or path info for the top page (a bake has one URL per
//!   file), `.htaccess` directives Apache refuses in `.htaccess` (`SSIStartTag`, ...) and
//!   `Options` without `+`/`-` (it drops FollowSymLinks: symlinked pages become 403).

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use support::apache::{apache_or_skip, apache_version, Apache, VHost};
use support::fixture;

const TZ: &str = "UTC";
const CI_TREES: u64 = 8;
/// Trees served by one Apache (one virtual host each).
const BATCH: usize = 25;
const DEBIAN_DIRECTORY_INDEX: &str =
    "index.html index.cgi index.pl index.php index.xhtml index.htm";

// ---------------------------------------------------------------------------------------
// A small deterministic PRNG (xorshift64*), as in apache_fuzz.rs.

struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        // splitmix64 of the seed, so that neighbouring seeds give unrelated trees.
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Rng((z ^ (z >> 31)) | 1)
    }
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

// ---------------------------------------------------------------------------------------
// The tree model.

const DIR_NAMES: &[&str] = &[
    "sub",
    "docs",
    "a b",
    "\u{fc}n\u{ef}",
    "x.shtml",
    "inc",
    "d%41",
];

const FILE_NAMES: &[&str] = &[
    "page.shtml",
    "other.shtml",
    "frag.shtml",
    "notes.shtml.txt",
    "a.shtml.html",
    "a.en.shtml",
    "x.json.txt",
    "data.json.foo",
    "data.json",
    "noext",
    "plain.html",
    "frag.html",
    "plain.txt",
    "a b.shtml",
    "\u{e9}t\u{e9}.shtml",
    "pct%41.html",
    "pct%41.shtml",
    "UPPER.SHTML",
    "x.css",
    "img.png",
    "index.htm",
];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Role {
    /// Random directives, includes among them.
    Page,
    /// A few echoes: shows whether (and in which context) it was parsed when included.
    Fragment,
    Htaccess,
}

#[derive(Clone, Debug)]
struct FileSpec {
    rel: String,
    role: Role,
    exec: bool,
    mtime: i64,
    content: String,
    /// Page number N of its `{{N.k}}` markers, and per directive k its text and tag.
    directives: Vec<(String, String)>,
    number: usize,
}

#[derive(Clone, Debug)]
struct LinkSpec {
    rel: String,
    /// Relative symlink target.
    target: String,
    /// The entry it points at (root-relative).
    points_at: String,
    is_dir: bool,
}

#[derive(Clone, Debug)]
struct Tree {
    seed: u64,
    /// Root-relative directory paths; "" is the root.
    dirs: Vec<String>,
    dir_mtimes: BTreeMap<String, i64>,
    files: Vec<FileSpec>,
    links: Vec<LinkSpec>,
}

fn parent_of(rel: &str) -> &str {
    rel.rfind('/').map_or("", |i| &rel[..i])
}

fn base_of(rel: &str) -> &str {
    rel.rfind('/').map_or(rel, |i| &rel[i + 1..])
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

fn depth(dir: &str) -> usize {
    if dir.is_empty() {
        0
    } else {
        dir.split('/').count()
    }
}

/// `to` (root-relative) as seen from directory `from` (root-relative), with `../`.
fn relative(from: &str, to: &str) -> String {
    let f: Vec<&str> = if from.is_empty() {
        vec![]
    } else {
        from.split('/').collect()
    };
    let t: Vec<&str> = if to.is_empty() {
        vec![]
    } else {
        to.split('/').collect()
    };
    let common = f.iter().zip(&t).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<&str> = vec![".."; f.len() - common];
    parts.extend(&t[common..]);
    parts.join("/")
}

impl Tree {
    fn files_in(&self, dir: &str) -> impl Iterator<Item = &FileSpec> {
        let dir = dir.to_string();
        self.files
            .iter()
            .filter(move |f| parent_of(&f.rel) == dir && f.role != Role::Htaccess)
    }

    fn index_desc(&self, dir: &str) -> String {
        let names: Vec<&str> = self.files_in(dir).map(|f| base_of(&f.rel)).collect();
        let mut has = Vec::new();
        for ix in ["index.html", "index.shtml", "index.htm"] {
            if names.contains(&ix) {
                has.push(ix);
            }
        }
        if has.is_empty() {
            "no index".into()
        } else {
            has.join("+")
        }
    }

    fn htaccess(&self, dir: &str) -> Option<&FileSpec> {
        let p = join(dir, ".htaccess");
        self.files.iter().find(|f| f.rel == p)
    }

    /// Whether `dir` or one of its ancestors has a `.htaccess`.
    fn htaccess_chain(&self, dir: &str) -> bool {
        let mut d = dir.to_string();
        loop {
            if self.htaccess(&d).is_some() {
                return true;
            }
            if d.is_empty() {
                return false;
            }
            d = parent_of(&d).to_string();
        }
    }
}

fn name_class(name: &str) -> String {
    let mut c = match name {
        "page.shtml" | "other.shtml" | "frag.shtml" | "index.shtml" | "a b.shtml"
        | "pct%41.shtml" => ".shtml".to_string(),
        n if n.ends_with(".shtml") && n.matches('.').count() == 1 => ".shtml".to_string(),
        "plain.html" | "frag.html" | "index.html" | "pct%41.html" => ".html".to_string(),
        n => n.to_string(),
    };
    if name.contains(' ') {
        c.push_str("[space]");
    }
    if !name.is_ascii() {
        c.push_str("[utf8]");
    }
    if name.contains('%') {
        c.push_str("[pct]");
    }
    c
}

fn generate(seed: u64) -> Tree {
    let mut rng = Rng::new(seed);
    let mut dirs = vec![String::new()];
    for _ in 0..1 + rng.below(4) {
        let parents: Vec<String> = dirs.iter().filter(|d| depth(d) < 2).cloned().collect();
        let parent = parents[rng.below(parents.len())].clone();
        let name = rng.pick(DIR_NAMES);
        let p = join(&parent, name);
        if !dirs.contains(&p) {
            dirs.push(p);
        }
    }
    let mut files: Vec<FileSpec> = Vec::new();
    let mut add = |rel: String, role: Role, rng: &mut Rng| {
        let exec = rng.chance(20);
        let mtime = 1_100_000_000 + rng.below(400_000_000) as i64;
        files.push(FileSpec {
            rel,
            role,
            exec,
            mtime,
            content: String::new(),
            directives: Vec::new(),
            number: 0,
        });
    };
    for d in &dirs {
        let mut names: BTreeSet<&str> = BTreeSet::new();
        if d.is_empty() {
            names.insert("page.shtml");
        }
        if rng.chance(45) {
            names.insert("index.html");
        }
        if rng.chance(35) {
            names.insert("index.shtml");
        }
        for _ in 0..2 + rng.below(4) {
            names.insert(rng.pick(FILE_NAMES));
        }
        for n in names {
            let role = if d.is_empty() && n == "page.shtml" {
                Role::Page
            } else if n.contains(".shtml") || n.contains(".SHTML") {
                if rng.chance(50) {
                    Role::Page
                } else {
                    Role::Fragment
                }
            } else if n.ends_with(".html") && rng.chance(30) {
                Role::Page
            } else {
                Role::Fragment
            };
            add(join(d, n), role, &mut rng);
        }
    }
    // At most 6 pages with includes (bounded work even if they include each other).
    let mut pages = 0;
    for f in files.iter_mut() {
        if f.role == Role::Page {
            pages += 1;
            if pages > 6 {
                f.role = Role::Fragment;
            }
        }
    }
    let mut tree = Tree {
        seed,
        dir_mtimes: dirs
            .iter()
            .map(|d| (d.clone(), 1_000_000_000 + rng.below(99_000_000) as i64))
            .collect(),
        dirs,
        files,
        links: Vec::new(),
    };
    // Symlinks inside the root: to a page file, and to a directory that does not contain
    // the link (no loops).
    if rng.chance(35) {
        let pages: Vec<String> = tree
            .files
            .iter()
            .filter(|f| f.role == Role::Page)
            .map(|f| f.rel.clone())
            .collect();
        let target = pages[rng.below(pages.len())].clone();
        let dir = tree.dirs[rng.below(tree.dirs.len())].clone();
        let rel = join(
            &dir,
            if rng.chance(70) {
                "link.shtml"
            } else {
                "link.html"
            },
        );
        if !tree.files.iter().any(|f| f.rel == rel) {
            tree.links.push(LinkSpec {
                target: relative(&dir, &target),
                points_at: target,
                rel,
                is_dir: false,
            });
        }
    }
    if rng.chance(30) && tree.dirs.len() > 1 {
        let target = tree.dirs[1 + rng.below(tree.dirs.len() - 1)].clone();
        let candidates: Vec<String> = tree
            .dirs
            .iter()
            .filter(|d| !(*d == &target || d.starts_with(&format!("{target}/"))))
            .cloned()
            .collect();
        if !candidates.is_empty() {
            let dir = candidates[rng.below(candidates.len())].clone();
            tree.links.push(LinkSpec {
                rel: join(&dir, "linkdir"),
                target: relative(&dir, &target),
                points_at: target,
                is_dir: true,
            });
        }
    }
    // .htaccess files.
    for d in tree.dirs.clone() {
        if rng.chance(40) {
            let names: Vec<String> = tree
                .files_in(&d)
                .map(|f| base_of(&f.rel).to_string())
                .collect();
            let mut lines = Vec::new();
            for _ in 0..1 + rng.below(3) {
                lines.push(htaccess_block(&mut rng, &names));
            }
            let mtime = 1_000_000_000 + rng.below(99_000_000) as i64;
            tree.files.push(FileSpec {
                rel: join(&d, ".htaccess"),
                role: Role::Htaccess,
                exec: false,
                mtime,
                content: lines.join(""),
                directives: Vec::new(),
                number: 0,
            });
        }
    }
    // Contents, now that every name is known.
    let targets = target_pool(&tree);
    for i in 0..tree.files.len() {
        let (role, rel) = (tree.files[i].role, tree.files[i].rel.clone());
        tree.files[i].number = i;
        match role {
            Role::Htaccess => {}
            Role::Fragment => {
                let (content, directives) = fragment(&mut rng, i, &rel);
                tree.files[i].content = content;
                tree.files[i].directives = directives;
            }
            Role::Page => {
                let (content, directives) = page(&mut rng, &tree, &targets, i, &rel);
                tree.files[i].content = content;
                tree.files[i].directives = directives;
            }
        }
    }
    tree
}

const OPTIONS: &[&str] = &[
    "Options +Includes",
    "Options -Includes",
    "Options -Includes +IncludesNOEXEC",
    "Options +IncludesNOEXEC",
    "Options -IncludesNOEXEC",
];

/// Directives that may also stand inside `<Files>` / `<FilesMatch>`.
const FILE_LEVEL: &[&str] = &[
    "AddOutputFilter INCLUDES .html",
    "AddOutputFilter INCLUDES .txt",
    "RemoveOutputFilter .shtml",
    "RemoveOutputFilter .html",
    "AddType text/plain .json",
    "AddType text/html .foo",
    "ForceType text/plain",
    "ForceType text/html",
    "SetOutputFilter INCLUDES",
    "AddHandler server-parsed .html",
    "SSITimeFormat \"%Y-%m-%d %H:%M\"",
    "SSITimeFormat \"%s\"",
    "SSIErrorMsg \"[E!]\"",
    "SSIErrorMsg \"<!-- oops -->\"",
    "SSIUndefinedEcho \"[undef]\"",
    "SSIUndefinedEcho \"-\"",
    "SSILegacyExprParser on",
    "SSILegacyExprParser off",
];

const DIR_LEVEL: &[&str] = &[
    "XBitHack on",
    "XBitHack full",
    "XBitHack off",
    "DirectoryIndex index.shtml",
    "DirectoryIndex index.shtml index.html",
    "DirectoryIndex frag.html",
];

fn htaccess_block(rng: &mut Rng, names: &[String]) -> String {
    let directive = match rng.below(10) {
        0 | 1 => rng.pick(OPTIONS),
        2 | 3 => rng.pick(DIR_LEVEL),
        _ => rng.pick(FILE_LEVEL),
    };
    let file_level = FILE_LEVEL.contains(&directive);
    match rng.below(10) {
        0 | 1 if file_level && !names.is_empty() => {
            let n = &names[rng.below(names.len())];
            format!("<Files \"{n}\">\n    {directive}\n</Files>\n")
        }
        2 if file_level => {
            let re = rng.pick(&["\\.(html|txt)$", "^a\\.", "\\.shtml$", "^index\\."]);
            format!("<FilesMatch \"{re}\">\n    {directive}\n</FilesMatch>\n")
        }
        3 => format!("<IfModule include_module>\n    {directive}\n</IfModule>\n"),
        _ => format!("{directive}\n"),
    }
}

const FRAGMENT_VARS: &[&str] = &[
    "DOCUMENT_URI",
    "DOCUMENT_NAME",
    "QUERY_STRING",
    "QUERY_STRING_UNESCAPED",
    "LAST_MODIFIED",
    "NOPE",
];

fn fragment(rng: &mut Rng, number: usize, rel: &str) -> (String, Vec<(String, String)>) {
    let mut directives = Vec::new();
    let mut s = format!("[{rel} ");
    let mut push = |s: &mut String, text: String, tag: String| {
        let k = directives.len();
        let _ = write!(s, "{{{{{number}.{k}}}}}{text}");
        directives.push((text, tag));
    };
    for i in 0..1 + usize::from(rng.chance(30)) {
        if i > 0 {
            s.push(' ');
        }
        let var = rng.pick(FRAGMENT_VARS);
        push(
            &mut s,
            format!("<!--#echo var=\"{var}\" -->"),
            format!("echo {var}"),
        );
    }
    if rng.chance(25) {
        s.push(' ');
        push(
            &mut s,
            format!("<!--#flastmod file=\"{}\" -->", base_of(rel)),
            "flastmod file (itself)".into(),
        );
    }
    s.push_str("]\n");
    (s, directives)
}

const ECHO_VARS: &[&str] = &[
    "DOCUMENT_URI",
    "DOCUMENT_NAME",
    "REQUEST_URI",
    "SCRIPT_NAME",
    "QUERY_STRING",
    "QUERY_STRING_UNESCAPED",
    "REQUEST_METHOD",
    "SERVER_PROTOCOL",
    "LAST_MODIFIED",
    "DOCUMENT_ARGS",
    "DOCUMENT_PATH_INFO",
    "PATH_INFO",
    "GATEWAY_INTERFACE",
    "NOPE",
];

/// What a directive can point at.
#[derive(Clone, Debug)]
struct Target {
    rel: String,
    kind: String,
    is_dir: bool,
}

fn target_pool(tree: &Tree) -> Vec<Target> {
    let mut v = Vec::new();
    for f in &tree.files {
        if f.role == Role::Htaccess {
            continue;
        }
        v.push(Target {
            rel: f.rel.clone(),
            kind: format!("file:{}", name_class(base_of(&f.rel))),
            is_dir: false,
        });
    }
    for d in tree.dirs.iter().skip(1) {
        v.push(Target {
            rel: d.clone(),
            kind: format!("dir({})", tree.index_desc(d)),
            is_dir: true,
        });
    }
    for l in &tree.links {
        v.push(Target {
            rel: l.rel.clone(),
            kind: if l.is_dir {
                format!("symlink-dir({})", tree.index_desc(&l.points_at))
            } else {
                "symlink-file".into()
            },
            is_dir: l.is_dir,
        });
    }
    v
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~".contains(&b)
}

/// Percent-encodes every byte outside the unreserved set (keeping `/`).
fn encode_path(p: &str) -> String {
    let mut s = String::new();
    for b in p.bytes() {
        if is_unreserved(b) || b == b'/' {
            s.push(b as char);
        } else {
            let _ = write!(s, "%{b:02X}");
        }
    }
    s
}

/// The page's URL as a browser requests it (the WHATWG path percent-encode set, and
/// `%`), so REQUEST_URI is what a visitor's request gives.
fn browser_path(p: &str) -> String {
    let mut s = String::new();
    for b in p.bytes() {
        if b <= b' ' || b >= 0x7f || b"\"#<>?`{}%".contains(&b) {
            let _ = write!(s, "%{b:02X}");
        } else {
            s.push(b as char);
        }
    }
    s
}

const VIRTUAL_SPECIALS: &[&str] = &[
    ".",
    "",
    "?x=1",
    "..",
    "./",
    "/",
    "/?x=1",
    "/..",
    "/../page.shtml",
    "nope.html",
    "/nope/",
    "%",
    "%zz",
    "%2f",
    "/%70age.shtml",
    "page.shtml?a=%41&b=c%26d",
    "//page.shtml",
];
const FILE_SPECIALS: &[&str] = &[
    ".",
    "",
    "..",
    "../page.shtml",
    "/page.shtml",
    "nope.html",
    "%zz",
    "?x=1",
    "./",
];

/// A `virtual=`/`file=` value for a directive in a page of directory `dir`, and its tag.
fn target_value(rng: &mut Rng, targets: &[Target], dir: &str, virtual_: bool) -> (String, String) {
    if rng.chance(18) {
        let v = rng.pick(if virtual_ {
            VIRTUAL_SPECIALS
        } else {
            FILE_SPECIALS
        });
        return (v.to_string(), format!("special \"{v}\""));
    }
    let t = &targets[rng.below(targets.len())];
    let mut tag = t.kind.clone();
    let absolute = if virtual_ {
        rng.chance(50)
    } else {
        rng.chance(5)
    };
    let mut path = if absolute {
        format!("/{}", t.rel)
    } else {
        relative(dir, &t.rel)
    };
    if absolute {
        tag.push_str(" abs");
    }
    if path.starts_with("..") {
        tag.push_str(" ../");
    }
    if t.is_dir && rng.chance(50) {
        path.push('/');
        tag = tag.replacen("dir(", "dir/(", 1);
    }
    // How the name is spelled.
    let special = path.bytes().any(|b| !(is_unreserved(b) || b == b'/'));
    match rng.below(10) {
        0..=2 if special => {
            path = encode_path(&path);
            tag.push_str(" encoded");
        }
        3 => {
            // One letter as %XX.
            if let Some(i) = path.rfind(|c: char| c.is_ascii_alphabetic()) {
                let b = path.as_bytes()[i];
                path = format!("{}%{b:02X}{}", &path[..i], &path[i + 1..]);
                tag.push_str(" %XX-letter");
            }
        }
        _ => {}
    }
    if rng.chance(25) {
        let (m, label) = match rng.below(9) {
            0 => ("?x=1".to_string(), "+query"),
            1 => ("?x=%41&y=a+b%26c".to_string(), "+query-escaped"),
            2 => ("/extra".to_string(), "+pathinfo"),
            3 => ("%00".to_string(), "+%00"),
            4 => ("%".to_string(), "+bare%"),
            5 => ("%zz".to_string(), "+%zz"),
            6 => ("#frag".to_string(), "+#frag"),
            7 => ("?".to_string(), "+bare?"),
            _ => (String::new(), "+%2f"),
        };
        if label == "+%2f" {
            // The first `/` that is not the leading one.
            if let Some(i) = path.bytes().skip(1).position(|b| b == b'/') {
                path = format!("{}%2f{}", &path[..=i], &path[i + 2..]);
                tag.push_str(" +%2f");
            }
        } else {
            path.push_str(&m);
            tag.push(' ');
            tag.push_str(label);
        }
    }
    (path, tag)
}

fn page(
    rng: &mut Rng,
    tree: &Tree,
    targets: &[Target],
    number: usize,
    rel: &str,
) -> (String, Vec<(String, String)>) {
    let dir = parent_of(rel);
    let mut s = format!("<{rel}>\n");
    let mut directives = Vec::new();
    let mut push = |s: &mut String, text: String, tag: String| {
        let k = directives.len();
        let _ = writeln!(s, "{{{{{number}.{k}}}}}{text}");
        directives.push((text, tag));
    };
    if rng.chance(60) {
        push(
            &mut s,
            "<!--#config timefmt=\"%s\" -->".into(),
            "config timefmt %s".into(),
        );
    }
    if rng.chance(20) {
        push(
            &mut s,
            "<!--#config sizefmt=\"bytes\" -->".into(),
            "config sizefmt bytes".into(),
        );
    }
    for _ in 0..3 + rng.below(6) {
        let roll = rng.below(100);
        if roll < 30 {
            let virtual_ = rng.chance(65);
            let (v, tag) = target_value(rng, targets, dir, virtual_);
            let attr = if virtual_ { "virtual" } else { "file" };
            push(
                &mut s,
                format!("<!--#include {attr}=\"{v}\" -->"),
                format!("include {attr} {tag}"),
            );
        } else if roll < 60 {
            let d = if roll < 45 { "flastmod" } else { "fsize" };
            let virtual_ = rng.chance(50);
            let (v, tag) = target_value(rng, targets, dir, virtual_);
            let attr = if virtual_ { "virtual" } else { "file" };
            push(
                &mut s,
                format!("<!--#{d} {attr}=\"{v}\" -->"),
                format!("{d} {attr} {tag}"),
            );
        } else if roll < 88 {
            let var = rng.pick(ECHO_VARS);
            let (enc, enc_tag) = match rng.below(10) {
                0..=2 => (" encoding=\"none\"", ""),
                3 => (" encoding=\"url\"", " url"),
                _ => ("", ""),
            };
            push(
                &mut s,
                format!("<!--#echo{enc} var=\"{var}\" -->"),
                format!("echo {var}{enc_tag}"),
            );
        } else if roll < 94 {
            let (expr, tag) = match rng.below(4) {
                0 => ("$DOCUMENT_NAME = /shtml/", "if legacy-syntax"),
                1 => ("v('DOCUMENT_NAME') =~ /shtml/", "if ap-syntax"),
                2 => ("%{REQUEST_URI} =~ m#/.*/#", "if %{REQUEST_URI}"),
                _ => ("$QUERY_STRING = ''", "if legacy $QUERY_STRING"),
            };
            push(
                &mut s,
                format!("<!--#if expr=\"{expr}\" -->T<!--#else -->F<!--#endif -->"),
                tag.into(),
            );
        } else {
            let (c, tag) = match rng.below(5) {
                0 => (
                    "<!--#config timefmt=\"%Y-%m-%d\" -->",
                    "config timefmt %Y-%m-%d",
                ),
                1 => ("<!--#config timefmt=\"%s\" -->", "config timefmt %s"),
                2 => ("<!--#config errmsg=\"[cfgE]\" -->", "config errmsg"),
                3 => ("<!--#config echomsg=\"[cfgU]\" -->", "config echomsg"),
                _ => (
                    "<!--#config sizefmt=\"abbrev\" -->",
                    "config sizefmt abbrev",
                ),
            };
            push(&mut s, c.into(), tag.into());
        }
    }
    let _ = tree;
    (s, directives)
}

// ---------------------------------------------------------------------------------------
// Materialising, listing and copying trees.

fn materialize(tree: &Tree, root: &Path) {
    for d in &tree.dirs {
        fs::create_dir_all(root.join(d)).unwrap();
    }
    for f in &tree.files {
        let p = root.join(&f.rel);
        fs::write(&p, &f.content).unwrap();
        let mode = if f.exec { 0o755 } else { 0o644 };
        fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
    }
    for l in &tree.links {
        std::os::unix::fs::symlink(&l.target, root.join(&l.rel)).unwrap();
    }
    for f in &tree.files {
        let t = filetime::FileTime::from_unix_time(f.mtime, 0);
        filetime::set_file_times(root.join(&f.rel), t, t).unwrap();
    }
    // Deepest directories first.
    let mut dirs = tree.dirs.clone();
    dirs.sort_by_key(|d| std::cmp::Reverse(depth(d)));
    for d in dirs {
        let p = root.join(&d);
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
        let t = filetime::FileTime::from_unix_time(tree.dir_mtimes[&d], 0);
        filetime::set_file_times(&p, t, t).unwrap();
    }
}

fn listing(tree: &Tree) -> String {
    let mut entries: Vec<(String, String)> = Vec::new();
    for d in &tree.dirs {
        entries.push((
            d.clone(),
            format!("d 0755 mtime={} {}/", tree.dir_mtimes[d], d),
        ));
    }
    for f in &tree.files {
        let mode = if f.exec { "0755" } else { "0644" };
        let role = match f.role {
            Role::Page => "page",
            Role::Fragment => "fragment",
            Role::Htaccess => "htaccess",
        };
        let mut line = format!(
            "f {mode} mtime={} {} ({} bytes, {role})",
            f.mtime,
            f.rel,
            f.content.len()
        );
        if f.role == Role::Htaccess {
            for l in f.content.lines() {
                let _ = write!(line, "\n        | {l}");
            }
        }
        entries.push((f.rel.clone(), line));
    }
    for l in &tree.links {
        entries.push((
            l.rel.clone(),
            format!(
                "l {} -> {}{}",
                l.rel,
                l.target,
                if l.is_dir { "/" } else { "" }
            ),
        ));
    }
    entries.sort();
    let mut s = format!("tree of seed {} (TZ={TZ}):\n", tree.seed);
    for (_, e) in entries {
        let _ = writeln!(s, "    {e}");
    }
    s
}

/// Copies a tree keeping symlinks, modes and mtimes.
fn copy_tree(src: &Path, dst: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dst)?;
    for e in fs::read_dir(src)? {
        let e = e?;
        let ft = e.file_type()?;
        let from = e.path();
        let to = dst.join(e.file_name());
        if ft.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&from)?, &to)?;
            continue;
        }
        let meta = fs::metadata(&from)?;
        if ft.is_dir() {
            copy_tree(&from, &to)?;
        } else {
            fs::copy(&from, &to)?;
        }
        fs::set_permissions(&to, meta.permissions())?;
        let t = filetime::FileTime::from_last_modification_time(&meta);
        filetime::set_file_times(&to, t, t)?;
    }
    Ok(())
}

/// `chmod -R a+rX` (Apache runs as www-data), symlinks left alone.
fn readable(p: &Path) {
    let meta = fs::symlink_metadata(p).unwrap();
    if meta.file_type().is_symlink() {
        return;
    }
    let mode = meta.permissions().mode();
    let t = filetime::FileTime::from_last_modification_time(&meta);
    if meta.is_dir() {
        fs::set_permissions(p, fs::Permissions::from_mode(mode | 0o755)).unwrap();
        for e in fs::read_dir(p).unwrap() {
            readable(&e.unwrap().path());
        }
    } else {
        fs::set_permissions(p, fs::Permissions::from_mode(mode | 0o444)).unwrap();
    }
    filetime::set_file_times(p, t, t).unwrap();
}

/// A listing of a tree on disk (for replays): mode, mtime, size, symlink targets, and
/// the contents of `.htaccess` files.
fn disk_listing(root: &Path) -> String {
    fn walk(root: &Path, rel: &str, out: &mut String) {
        let mut names: Vec<String> = fs::read_dir(root.join(rel))
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for n in names {
            let r = join(rel, &n);
            let p = root.join(&r);
            let m = fs::symlink_metadata(&p).unwrap();
            let mode = m.permissions().mode() & 0o7777;
            let mtime = filetime::FileTime::from_last_modification_time(&m).unix_seconds();
            if m.file_type().is_symlink() {
                let _ = writeln!(out, "    l {r} -> {}", fs::read_link(&p).unwrap().display());
            } else if m.is_dir() {
                let _ = writeln!(out, "    d {mode:04o} mtime={mtime} {r}/");
                walk(root, &r, out);
            } else {
                let _ = writeln!(
                    out,
                    "    f {mode:04o} mtime={mtime} {r} ({} bytes)",
                    m.len()
                );
                if n == ".htaccess" {
                    for l in fs::read_to_string(&p).unwrap_or_default().lines() {
                        let _ = writeln!(out, "        | {l}");
                    }
                }
            }
        }
    }
    let mut s = format!("tree {} (TZ={TZ}):\n", root.display());
    walk(root, "", &mut s);
    s
}

/// Every regular file Apache could serve (symlinks followed, bounded depth), as
/// root-relative paths; `.htaccess` left out.
fn servable(root: &Path) -> Vec<String> {
    fn walk(root: &Path, rel: &str, depth: usize, out: &mut Vec<String>) {
        if depth > 6 {
            return;
        }
        let Ok(rd) = fs::read_dir(root.join(rel)) else {
            return;
        };
        let mut names: Vec<String> = rd
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for n in names {
            let r = join(rel, &n);
            let Ok(meta) = fs::metadata(root.join(&r)) else {
                continue;
            };
            if meta.is_dir() {
                walk(root, &r, depth + 1, out);
            } else if n != ".htaccess" {
                out.push(r);
            }
        }
    }
    let mut out = Vec::new();
    walk(root, "", 0, &mut out);
    out
}

// ---------------------------------------------------------------------------------------
// Running ssibake.

struct Bake {
    code: Option<i32>,
    stderr: String,
    command: String,
}

fn bake(root: &Path, out: &Path, version: &str) -> Bake {
    let bin = env!("CARGO_BIN_EXE_ssibake");
    let o = Command::new(bin)
        .env_clear()
        .env("TZ", TZ)
        // The release that serves (src/engine/compat.rs).
        .arg("--apache-version")
        .arg(version)
        .arg("--root")
        .arg(root)
        .arg("--out")
        .arg(out)
        .arg("--on-error")
        .arg("errmsg")
        .arg("--keep-ext")
        // Apache serves every file: partials too.
        .arg("--publish-partials")
        .arg("--quiet")
        .arg("--jobs")
        .arg("1")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {bin}: {e}"));
    Bake {
        code: o.status.code(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        command: format!(
            "env -i TZ={TZ} {bin} --root '{}' --out '{}' --on-error errmsg --keep-ext --quiet --jobs 1",
            root.display(),
            out.display()
        ),
    }
}

// ---------------------------------------------------------------------------------------
// Comparing and reporting.

/// Bytes escaped on one line per source line (`\n` shown, then a real line break).
fn escape(bytes: &[u8]) -> String {
    let mut s = String::from("    ");
    for &b in bytes {
        let _ = write!(s, "{}", std::ascii::escape_default(b));
        if b == b'\n' {
            s.push_str("\n    ");
        }
    }
    s
}

/// Splits a page's output at its own markers `{{N.k}}`: segment k is what directive k
/// printed (with the text after it up to the next marker). `None` when a marker is missing.
fn segments(out: &[u8], number: usize, count: usize) -> Option<Vec<Vec<u8>>> {
    let find = |hay: &[u8], from: usize, needle: &[u8]| -> Option<usize> {
        hay.get(from..)?
            .windows(needle.len())
            .position(|w| w == needle)
            .map(|p| p + from)
    };
    let mut starts = Vec::new();
    let mut pos = 0;
    for k in 0..count {
        let m = format!("{{{{{number}.{k}}}}}");
        let at = find(out, pos, m.as_bytes())?;
        starts.push((at, at + m.len()));
        pos = at + m.len();
    }
    let mut segs = Vec::new();
    for k in 0..count {
        let end = if k + 1 < count {
            starts[k + 1].0
        } else {
            out.len()
        };
        segs.push(out[starts[k].1..end].to_vec());
    }
    Some(segs)
}

type Tag = (String, Vec<u8>, Vec<u8>, String);

/// Tags the directives of `spec` whose segments differ. A differing segment that holds
/// the markers of an included page on both sides is examined inside that page first
/// (tag prefixed `in include: `); only if nothing differs there is the directive itself
/// tagged.
fn diff_directives(
    apache: &[u8],
    ours: &[u8],
    spec: &FileSpec,
    files: &[FileSpec],
    prefix: &str,
    tags: &mut Vec<Tag>,
) {
    let n = spec.directives.len();
    let (Some(a), Some(o)) = (
        segments(apache, spec.number, n),
        segments(ours, spec.number, n),
    ) else {
        tags.push((
            format!("{prefix}markers missing"),
            Vec::new(),
            Vec::new(),
            String::new(),
        ));
        return;
    };
    for (k, (sa, so)) in a.iter().zip(&o).enumerate() {
        if sa == so {
            continue;
        }
        let before = tags.len();
        if prefix.len() < 12 * "in include: ".len() {
            // The included page whose first marker comes first (the outermost include).
            let nested = files
                .iter()
                .filter(|f| !f.directives.is_empty())
                .filter_map(|f| {
                    let m = format!("{{{{{}.0}}}}", f.number);
                    let at = |h: &[u8]| h.windows(m.len()).position(|w| w == m.as_bytes());
                    Some((at(sa)?.max(at(so)?), f))
                })
                .min_by_key(|(at, _)| *at)
                .map(|(_, f)| f);
            // Was the included page parsed on each side? Its first directive's text right
            // after its first marker means it was copied raw.
            if let Some(f) = nested {
                let raw = |h: &[u8]| {
                    let m = format!("{{{{{}.0}}}}{}", f.number, f.directives[0].0);
                    h.windows(m.len()).any(|w| w == m.as_bytes())
                };
                if raw(sa) != raw(so) {
                    tags.push((
                        format!(
                            "{prefix}{} [included file parsed by {} only]",
                            spec.directives[k].1,
                            if raw(sa) { "ssibake" } else { "Apache" }
                        ),
                        sa.clone(),
                        so.clone(),
                        spec.directives[k].0.clone(),
                    ));
                    continue;
                }
            }
            if let Some(f) = nested {
                diff_directives(sa, so, f, files, &format!("{prefix}in include: "), tags);
                // Only the nested page's own difference counts when it explains all.
                if tags.len() > before
                    && tags[before..]
                        .iter()
                        .any(|t| !t.0.ends_with("markers missing"))
                {
                    continue;
                }
                tags.truncate(before);
            }
        }
        tags.push((
            format!("{prefix}{}", spec.directives[k].1),
            sa.clone(),
            so.clone(),
            spec.directives[k].0.clone(),
        ));
    }
}

fn slug(rel: &str) -> String {
    rel.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn out_base() -> PathBuf {
    match std::env::var_os("SSIBAKE_TREE_FUZZ_OUT") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_TARGET_TMPDIR"))
            .parent()
            .unwrap()
            .join("tree-fuzz"),
    }
}

#[derive(Default)]
struct Totals {
    trees: usize,
    pages: usize,
    identical: usize,
    differing: usize,
    /// Tag → count of differing segments (and of whole-page differences).
    tags: BTreeMap<String, usize>,
    summary: String,
}

fn seeds() -> Vec<u64> {
    let env = |name: &str| -> Option<u64> {
        std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
    };
    match (env("SSIBAKE_TREE_FUZZ_SEED"), env("SSIBAKE_TREE_FUZZ")) {
        (Some(s), Some(n)) => (s..s.saturating_add(n)).collect(),
        (Some(s), None) => vec![s],
        (None, n) => (1..=n.unwrap_or(CI_TREES)).collect(),
    }
}

#[test]
fn apache_tree_fuzz() {
    let Some(bin) = apache_or_skip("apache_tree_fuzz") else {
        return;
    };
    let version = apache_version(&bin);
    let started = Instant::now();
    // SSIBAKE_TREE_FUZZ_DIR=DIR replays a kept (or hand-reduced) tree, e.g.
    // `<target>/tree-fuzz/<seed>/site`, as "seed 0".
    let replay = std::env::var_os("SSIBAKE_TREE_FUZZ_DIR").map(PathBuf::from);
    let seeds = if replay.is_some() { vec![0] } else { seeds() };
    let tmp = fixture::temp_parent("ssibake-tree-fuzz-");
    fixture::check_parents_traversable(tmp.path()).unwrap();
    let base = out_base();
    let mut totals = Totals::default();
    let mut printed = 0usize;
    for batch in seeds.chunks(BATCH) {
        let trees: Vec<Tree> = match &replay {
            Some(_) => vec![Tree {
                seed: 0,
                dirs: Vec::new(),
                dir_mtimes: BTreeMap::new(),
                files: Vec::new(),
                links: Vec::new(),
            }],
            None => batch.iter().map(|&s| generate(s)).collect(),
        };
        let mut vhosts = Vec::new();
        for t in &trees {
            let root = tmp.path().join(format!("t{}", t.seed)).join("root");
            match &replay {
                Some(dir) => {
                    copy_tree(dir, &root).unwrap_or_else(|e| panic!("copy {}: {e}", dir.display()));
                    readable(&root);
                }
                None => materialize(t, &root),
            }
            vhosts.push(VHost {
                name: format!("t{}", t.seed),
                root,
                allow_override: Some("All".into()),
                directory_index: Some(DEBIAN_DIRECTORY_INDEX.into()),
                vhost_extra: vec!["LogLevel info include:debug".into()],
                ..VHost::default()
            });
        }
        let mut apache = Apache::start(&bin, TZ, &vhosts).expect("start Apache");
        for (t, vh) in trees.iter().zip(&vhosts) {
            totals.trees += 1;
            let root = &vh.root;
            let out = root.parent().unwrap().join("out");
            let b = bake(root, &out, &version);
            let root_s = root.to_string_lossy().into_owned();
            let host = format!("{}.test", vh.name);
            let list = if replay.is_some() {
                disk_listing(root)
            } else {
                listing(t)
            };
            let case_dir = base.join(t.seed.to_string());
            let _ = fs::remove_dir_all(&case_dir);
            let mut tree_printed = false;
            for rel in servable(root) {
                let src = fs::read(root.join(&rel)).unwrap();
                let url = format!("/{}", browser_path(&rel));
                let log_at = apache.error_log_len();
                let resp = apache
                    .get_http11(&host, &url)
                    .unwrap_or_else(|e| panic!("seed {}: GET {url}: {e}", t.seed));
                let log = apache.error_log_since(log_at).replace(&root_s, "$ROOT");
                let ours = fs::read(out.join(&rel)).ok();
                let apache_parsed = resp.status == 200 && resp.body != src;
                let ours_parsed = ours.as_ref().is_some_and(|o| *o != src);
                if !apache_parsed && !ours_parsed {
                    continue;
                }
                totals.pages += 1;
                if resp.status == 200 && ours.as_deref() == Some(&resp.body[..]) {
                    totals.identical += 1;
                    continue;
                }
                totals.differing += 1;
                // Which directives differ, and what the generator put there.
                let spec = t.files.iter().find(|f| f.rel == rel).or_else(|| {
                    // Reached through a symlink: the file it points at.
                    let target = fs::canonicalize(root.join(&rel)).ok()?;
                    let canon_root = fs::canonicalize(root).ok()?;
                    let r = target.strip_prefix(&canon_root).ok()?;
                    let r = r.to_string_lossy().into_owned();
                    t.files.iter().find(|f| f.rel == r)
                });
                let via_link = spec.is_some_and(|s| s.rel != rel);
                let htaccess = t.htaccess_chain(parent_of(&rel));
                let mut tags: Vec<Tag> = Vec::new();
                let whole = if resp.status != 200 {
                    Some(format!("whole page: Apache answers {}", resp.status))
                } else if ours.is_none() {
                    Some(format!(
                        "whole page: no ssibake output (bake exit {:?})",
                        b.code
                    ))
                } else if !ours_parsed {
                    Some(format!(
                        "whole page: Apache parses, ssibake copies raw ({})",
                        name_class(base_of(&rel))
                    ))
                } else if !apache_parsed {
                    Some(format!(
                        "whole page: ssibake parses, Apache serves raw ({})",
                        name_class(base_of(&rel))
                    ))
                } else {
                    None
                };
                if let Some(w) = &whole {
                    tags.push((w.clone(), Vec::new(), Vec::new(), String::new()));
                } else if let Some(spec) = spec.filter(|s| !s.directives.is_empty()) {
                    diff_directives(
                        &resp.body,
                        ours.as_deref().unwrap(),
                        spec,
                        &t.files,
                        "",
                        &mut tags,
                    );
                    if tags.is_empty() {
                        tags.push((
                            "heading differs".into(),
                            Vec::new(),
                            Vec::new(),
                            String::new(),
                        ));
                    }
                } else {
                    tags.push((
                        "fragment page differs".into(),
                        Vec::new(),
                        Vec::new(),
                        String::new(),
                    ));
                }
                for (tag, sa, so, text) in &tags {
                    *totals.tags.entry(tag.clone()).or_default() += 1;
                    let _ = writeln!(
                        totals.summary,
                        "{}\t{}\t{}\t{}\t{}\t{:?}\t{:?}\t{:?}",
                        t.seed,
                        rel,
                        if htaccess { "htaccess" } else { "-" },
                        if via_link { "via-link" } else { "-" },
                        tag,
                        text,
                        String::from_utf8_lossy(sa),
                        String::from_utf8_lossy(so)
                    );
                }
                // The report.
                let mut r = String::new();
                let _ = writeln!(
                    r,
                    "======== DIFFERS: seed {} page /{rel} (GET {url}) ========",
                    t.seed
                );
                if tree_printed {
                    let _ = writeln!(r, "tree: seed {} (listed above)", t.seed);
                } else {
                    r.push_str(&list);
                }
                let _ = writeln!(r, "ssibake: {} -> {:?}", b.command, b.code);
                if !b.stderr.is_empty() {
                    let e: String = b.stderr.chars().take(3000).collect();
                    let _ = writeln!(
                        r,
                        "ssibake stderr (whole bake):\n{}",
                        e.replace(&root_s, "$ROOT")
                    );
                }
                let _ = writeln!(r, "page source ({} bytes):\n{}", src.len(), escape(&src));
                let _ = writeln!(
                    r,
                    "Apache: HTTP {} ({} bytes):\n{}",
                    resp.status,
                    resp.body.len(),
                    escape(&resp.body)
                );
                match &ours {
                    Some(o) => {
                        let _ = writeln!(r, "ssibake ({} bytes):\n{}", o.len(), escape(o));
                    }
                    None => {
                        let _ = writeln!(r, "ssibake: no output file {}", out.join(&rel).display());
                    }
                }
                let _ = writeln!(r, "differing directives:");
                for (tag, sa, so, text) in &tags {
                    let _ = writeln!(r, "  [{tag}] {text}");
                    if !sa.is_empty() || !so.is_empty() {
                        let _ = writeln!(r, "      Apache:  {:?}", String::from_utf8_lossy(sa));
                        let _ = writeln!(r, "      ssibake: {:?}", String::from_utf8_lossy(so));
                    }
                }
                let _ = writeln!(r, "Apache error log for this request:\n{log}");
                eprint!("{r}");
                printed += 1;
                // Keep the case.
                if !tree_printed {
                    fs::create_dir_all(&case_dir).unwrap();
                    copy_tree(root, &case_dir.join("site")).unwrap();
                    fs::write(case_dir.join("tree.txt"), &list).unwrap();
                    tree_printed = true;
                }
                let pd = case_dir.join("pages").join(slug(&rel));
                fs::create_dir_all(&pd).unwrap();
                fs::write(pd.join("url.txt"), format!("{url}\n")).unwrap();
                fs::write(pd.join("source"), &src).unwrap();
                fs::write(pd.join("apache.out"), &resp.body).unwrap();
                if let Some(o) = &ours {
                    fs::write(pd.join("ssibake.out"), o).unwrap();
                }
                fs::write(pd.join("error_log.txt"), &log).unwrap();
                fs::write(pd.join("report.txt"), &r).unwrap();
            }
        }
        apache.stop();
    }
    let _ = fs::create_dir_all(&base);
    let _ = fs::write(
        base.join(if replay.is_some() {
            "summary-replay.tsv"
        } else {
            "summary.tsv"
        }),
        format!(
            "seed\tpage\thtaccess-chain\tvia-link\ttag\tdirective\tapache\tssibake\n{}",
            totals.summary
        ),
    );
    let mut classes: Vec<(&String, &usize)> = totals.tags.iter().collect();
    classes.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    eprintln!("\napache_tree_fuzz: differing directive segments by tag:");
    for (tag, n) in classes {
        eprintln!("  {n:5}  {tag}");
    }
    let line = format!(
        "trees: {}, pages: {}, identical: {}, differing: {}",
        totals.trees, totals.pages, totals.identical, totals.differing
    );
    eprintln!(
        "\napache_tree_fuzz: {line} (seeds {}..={}, {:.1}s; {printed} reports, cases in {})",
        seeds.first().unwrap(),
        seeds.last().unwrap(),
        started.elapsed().as_secs_f64(),
        base.display()
    );
    assert_eq!(totals.differing, 0, "{line}");
}
