//! Issue 13, item 10: a property test over real trees. A seeded generator builds
//! document roots on disk with what a push can put there (FIFOs, symlinks out of
//! the root and into it, dangling and looping symlinks, large sparse files,
//! `.htaccess` files, pages with random directives naming all of these and files
//! outside), runs the real binary on them with random options (`--out`,
//! `--in-place`, single pages, `--check`; on-error mode, legacy expressions, stable
//! times, time source, extension, partials, warnings, jobs, extras), edits the
//! tree between runs, and checks after every run:
//!
//! - it ended (a watchdog kills it after two minutes: a hang fails the test) with
//!   a documented exit status (0-4), never a panic or a signal;
//! - nothing from outside the root reached any output (standard output, the
//!   output tree, the pages rewritten in place), and nothing outside was changed;
//! - a failed run left the old output (or, in place, the old pages) untouched,
//!   byte for byte and time for time; a successful one left a complete output:
//!   marked as ssibake's, and equal to what `--check` bakes afresh;
//! - no `.ssibake-` temporary or staging tree is left anywhere.
//!
//! A failure prints the tree's seed; `SSIBAKE_PROPERTY_SEED=N` runs that tree
//! alone, `SSIBAKE_PROPERTY_TREES=N` more trees.
//!
//! Where each finding of issue 13 is tested (each test failed before its fix):
//!
//! | finding | test |
//! |---|---|
//! | 1 `ssibake.toml` writes anywhere | `cli::config::tests::hostile_paths_are_refused` (src/cli/config.rs) |
//! | 2 symlink race | `hardening::a_directory_swapped_for_a_symlink_never_leaks_outside_files` |
//! | 3 quadratic diagnostics | `hardening_findings::a_hundred_thousand_errors_end_in_little_memory`, `cli_bake::many_errors_are_capped_and_long_lines_clipped` |
//! | 4 whole files read first | `hardening_findings::a_one_gigabyte_page_is_refused_from_its_size`, `hardening_findings::a_large_sparse_asset_is_hashed_and_revved_by_streaming`, `cli_bake::fifos_and_huge_files_are_refused_without_reading_them` |
//! | 5 FIFO hangs | `cli_bake::fifos_and_huge_files_are_refused_without_reading_them`, this test |
//! | 6 leftovers | `cli_bake::leftovers_of_killed_runs_are_removed_and_never_published`, `hardening::an_interrupted_bake_leaves_no_staging_tree`, `hardening_findings::an_interrupted_in_place_run_leaves_no_temporaries` |
//! | 7 hard links to sources | `hardening_findings::an_in_place_edit_of_a_source_never_reaches_the_output` |
//! | 8 `--out` replaces anything | `cli_bake::out_replaces_only_its_own_output` |
//! | 9 no fsync | `hardening_findings::the_staging_tree_is_synced_before_the_swap` |
//! | 10 `--in-place` per file | `hardening::a_killed_in_place_run_leaves_the_old_set_or_one_the_next_run_finishes` |

use std::collections::BTreeMap;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const SECRET: &str = "OUTSIDE-SECRET";
const MIB: u64 = 1 << 20;

/// xorshift64*: a failure is reproducible from the printed seed.
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
    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
    fn pick<'a, T: ?Sized>(&mut self, items: &[&'a T]) -> &'a T {
        items[self.below(items.len())]
    }
}

/// What a directive can name: files of the tree, and ways out of it.
const ESCAPES: &[&str] = &[
    "../outside/secret.txt",
    "/../outside/secret.txt",
    "out-file.html",
    "outdir/secret.txt",
    "sub/../../outside/secret.txt",
    "%2e%2e/outside/secret.txt",
    "/etc/hostname",
    "pipe.html",
    "pipe-link.html",
    "dead.html",
    "loop/loop/index.shtml",
    "big.html",
    "big.shtml",
    "sub/",
    "",
];

const NOISE: &[&str] = &[
    "<!--#",
    "-->",
    "<!--#nosuch -->",
    "<!--#include -->",
    "<!--#if expr=\"$X = /a/\" -->",
    "<!--#if expr=\"v('X') =~ /(a+)+$/\" -->",
    "<!--#else -->",
    "<!--#endif -->",
    "<!--#set var=\"X\" value=\"${X}${X}a\" -->",
    "<!--#echo var=\"X\" encoding=\"url\" -->",
    "<!--#echo var=\"BUILD_ID\" -->",
    "<!--#echo var=\"DATE_LOCAL\" -->",
    "<!--#echo var=\"LAST_MODIFIED\" -->",
    "<!--#config timefmt=\"%s\" -->",
    "<!--#config errmsg=\"[E]\" -->",
    "<!--#config hashlen=\"6\" -->",
    "<!--#printenv -->",
    "<!--#exec cmd=\"cat /etc/passwd\" -->",
    "<!-- #include virtual=\"x\" -->",
    "${",
    "\u{0}",
    "\u{feff}",
    "text ",
    "\n",
];

const HTACCESS: &[&str] = &[
    "Options +Includes",
    "Options -Includes",
    "Options +IncludesNOEXEC",
    "XBitHack on",
    "SSILegacyExprParser on",
    "SSIErrorMsg \"[htaccess error]\"",
    "AddOutputFilter INCLUDES .html",
    "AddType text/html .txt",
    "SSIStartTag \"<%\"",
    "DirectoryIndex index.shtml",
    "Nonsense directive here",
    "<Files \"*.html\">\nOptions -Includes\n</Files>",
];

/// A directive naming `target`.
fn directive(rng: &mut Rng, target: &str) -> String {
    let virt = if target.starts_with('/') {
        target.to_string()
    } else {
        format!("/{target}")
    };
    match rng.below(8) {
        0 | 1 => format!("<!--#include virtual=\"{virt}\" -->"),
        2 => format!("<!--#include file=\"{target}\" -->"),
        3 => format!("<!--#fsize virtual=\"{virt}\" -->"),
        4 => format!("<!--#flastmod file=\"{target}\" -->"),
        // Hashing streams the file: a big one is left to the streaming test
        // (SHA-256 of 300 MiB takes seconds in a debug build).
        5 if !target.starts_with("big") => format!("<!--#fhash virtual=\"{virt}\" -->"),
        6 if !target.starts_with("big") => format!("<!--#frev file=\"{target}\" -->"),
        _ => format!("<!--#include virtual=\"{virt}\" -->"),
    }
}

fn page(rng: &mut Rng, names: &[String]) -> String {
    let mut text = String::new();
    for _ in 0..rng.below(12) {
        match rng.below(3) {
            0 => text.push_str(rng.pick(NOISE)),
            1 => {
                let t = ESCAPES[rng.below(ESCAPES.len())];
                text.push_str(&directive(rng, t));
            }
            _ if !names.is_empty() => {
                let t = names[rng.below(names.len())].clone();
                text.push_str(&directive(rng, &t));
            }
            _ => text.push_str("plain"),
        }
    }
    text
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo");
}

fn sparse(path: &Path, len: u64) {
    let f = std::fs::File::create(path).unwrap();
    f.set_len(len).unwrap();
    f.write_at(b"<p>big</p>", 0).unwrap();
}

/// A random document root at `site`, with `outside` beside it.
fn make_tree(rng: &mut Rng, site: &Path, outside: &Path) {
    std::fs::create_dir_all(site.join("sub")).unwrap();
    std::fs::create_dir_all(outside).unwrap();
    std::fs::write(outside.join("secret.txt"), format!("{SECRET}\n")).unwrap();
    std::fs::write(
        outside.join("index.shtml"),
        format!("{SECRET} <!--#echo var=\"X\" -->"),
    )
    .unwrap();
    let mut names: Vec<String> = Vec::new();
    for i in 0..1 + rng.below(5) {
        names.push(format!("f{i}.html"));
        names.push(format!("sub/g{i}.txt"));
    }
    let pages: Vec<String> = (0..1 + rng.below(6))
        .map(|i| {
            if i % 3 == 2 {
                format!("sub/p{i}.shtml")
            } else {
                format!("p{i}.shtml")
            }
        })
        .collect();
    names.extend(pages.iter().cloned());
    for name in &names {
        let text = if name.ends_with(".shtml") || rng.chance(3) {
            page(rng, &names)
        } else {
            format!("plain {name}\n")
        };
        std::fs::write(site.join(name), text).unwrap();
    }
    std::fs::write(site.join("index.shtml"), page(rng, &names)).unwrap();
    // What a push can add besides files.
    if rng.chance(2) {
        mkfifo(&site.join("pipe.html"));
        std::os::unix::fs::symlink("pipe.html", site.join("pipe-link.html")).unwrap();
    }
    if rng.chance(2) {
        let target = if rng.chance(2) {
            outside.join("secret.txt")
        } else {
            PathBuf::from("../outside/secret.txt")
        };
        std::os::unix::fs::symlink(target, site.join("out-file.html")).unwrap();
    }
    if rng.chance(2) {
        std::os::unix::fs::symlink(outside, site.join("outdir")).unwrap();
    }
    if rng.chance(3) {
        std::os::unix::fs::symlink("f0.html", site.join("alias.html")).unwrap();
        std::os::unix::fs::symlink("nowhere", site.join("dead.html")).unwrap();
        std::os::unix::fs::symlink(".", site.join("loop")).unwrap();
    }
    if rng.chance(5) {
        // A large sparse page or include, past the 256 MiB a file may have.
        let name = if rng.chance(2) {
            "big.shtml"
        } else {
            "big.html"
        };
        sparse(&site.join(name), 257 * MIB + rng.below(40) as u64 * MIB);
    }
    for dir in ["", "sub/"] {
        if rng.chance(3) {
            let lines: Vec<&str> = (0..1 + rng.below(3)).map(|_| rng.pick(HTACCESS)).collect();
            std::fs::write(
                site.join(format!("{dir}.htaccess")),
                lines.join("\n") + "\n",
            )
            .unwrap();
        }
    }
}

/// An edit between runs: a page rewritten, a file removed, a FIFO or a symlink out
/// swapped in for a file.
fn edit(rng: &mut Rng, site: &Path) {
    let files: Vec<PathBuf> = walkdir::WalkDir::new(site)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file() && e.metadata().is_ok_and(|m| m.len() < MIB))
        .map(|e| e.into_path())
        .filter(|p| !p.components().any(|c| c.as_os_str() == ".ssibake"))
        .collect();
    if files.is_empty() {
        return;
    }
    let victim = &files[rng.below(files.len())];
    match rng.below(4) {
        0 => {
            let _ = std::fs::remove_file(victim);
            mkfifo(victim);
        }
        1 => {
            let _ = std::fs::remove_file(victim);
            std::os::unix::fs::symlink("/etc/hostname", victim).unwrap();
        }
        2 => {
            let _ = std::fs::remove_file(victim);
        }
        _ => {
            let names = ["f0.html".to_string(), "index.shtml".to_string()];
            std::fs::write(victim, page(rng, &names)).unwrap();
        }
    }
}

/// One entry of a snapshot: what it is, and for a regular file its size, time and
/// (up to 1 MiB) bytes.
#[derive(Debug, PartialEq, Eq)]
enum Entry {
    Dir,
    File {
        len: u64,
        mtime: (i64, i64),
        bytes: Option<Vec<u8>>,
    },
    Link(PathBuf),
    Other,
}

fn snapshot(dir: &Path, skip_record: bool) -> BTreeMap<PathBuf, Entry> {
    let mut out = BTreeMap::new();
    for e in walkdir::WalkDir::new(dir)
        .follow_links(false)
        .into_iter()
        .flatten()
    {
        let rel = e.path().strip_prefix(dir).unwrap().to_path_buf();
        if skip_record && rel.components().any(|c| c.as_os_str() == ".ssibake") {
            continue;
        }
        let ft = e.file_type();
        let entry = if ft.is_dir() {
            Entry::Dir
        } else if ft.is_symlink() {
            Entry::Link(std::fs::read_link(e.path()).unwrap())
        } else if ft.is_file() {
            let m = e.metadata().unwrap();
            Entry::File {
                len: m.len(),
                mtime: (m.mtime(), m.mtime_nsec()),
                bytes: (m.len() <= MIB).then(|| std::fs::read(e.path()).unwrap()),
            }
        } else {
            Entry::Other
        };
        out.insert(rel, entry);
    }
    out
}

/// Regular files under `dir` (symlinks not followed) that hold the secret.
fn leaks(dir: &Path) -> Vec<PathBuf> {
    snapshot(dir, false)
        .into_iter()
        .filter(|(_, e)| {
            matches!(e, Entry::File { bytes: Some(b), .. }
                if memchr_secret(b))
        })
        .map(|(p, _)| p)
        .collect()
}

fn memchr_secret(bytes: &[u8]) -> bool {
    bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes())
}

/// `.ssibake-` temporaries or staging trees anywhere under `dir`.
fn temporaries(dir: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(dir)
        .follow_links(false)
        .into_iter()
        .flatten()
        .filter(|e| e.file_name().as_encoded_bytes().starts_with(b".ssibake-"))
        .map(|e| e.into_path())
        .collect()
}

struct Ran {
    code: Option<i32>,
    stdout: Vec<u8>,
    stderr: String,
}

/// Runs `cmd`; a watchdog thread kills it after two minutes and the test fails.
fn run_watched(cmd: &mut Command, what: &str) -> Ran {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    let (tx, rx) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let out = child.wait_with_output();
        let _ = tx.send(());
        out
    });
    if rx.recv_timeout(Duration::from_secs(120)).is_err() {
        // SAFETY: kill(2) of our own child, still running (not yet reaped).
        unsafe { libc::kill(pid, libc::SIGKILL) };
        let _ = waiter.join();
        panic!("{what}: still running after 120 s (a hang)");
    }
    let out = waiter.join().unwrap().unwrap();
    Ran {
        code: out.status.code(),
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Out,
    InPlace,
    Page,
}

/// Random options (besides the mode's own).
fn options(rng: &mut Rng, mode: Mode) -> Vec<String> {
    let mut args: Vec<String> = Vec::new();
    let mut flag = |rng: &mut Rng, one_in: usize, a: &[&str]| {
        if rng.chance(one_in) {
            args.extend(a.iter().map(|s| s.to_string()));
        }
    };
    flag(rng, 2, &["--on-error", "errmsg"]);
    flag(rng, 4, &["--legacy-expr"]);
    flag(rng, 6, &["--apache-only"]);
    flag(rng, 12, &["--mtime-from", "git"]);
    if mode != Mode::Page {
        flag(rng, 3, &["--stable-mtimes"]);
        flag(rng, 4, &["--deny-warnings"]);
        flag(rng, 4, &["--version-file", "/version.json"]);
        flag(rng, 6, &["--emit-client", "/ssibake-update.js"]);
        flag(rng, 3, &["-j1"]);
    }
    if mode == Mode::Out {
        flag(rng, 4, &["--keep-ext"]);
        flag(rng, 4, &["--publish-partials"]);
        flag(rng, 4, &["--full"]);
        flag(rng, 5, &["--exclude", "sub/**"]);
        flag(rng, 6, &["--page-ext", "htm"]);
    }
    if !rng.chance(8) {
        args.push("--no-fsync".into());
    }
    args
}

fn ssibake(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ssibake"));
    cmd.env_clear()
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .env("TZ", "UTC")
        .current_dir(dir);
    cmd
}

/// Every page file of the site (for `--in-place` and single renders).
fn page_files(site: &Path) -> Vec<String> {
    snapshot(site, true)
        .into_iter()
        .filter(|(p, e)| {
            matches!(e, Entry::File { .. })
                && p.extension().is_some_and(|x| x == "shtml" || x == "html")
        })
        .map(|(p, _)| format!("site/{}", p.display()))
        .collect()
}

fn one_tree(seed: u64) -> BTreeMap<&'static str, usize> {
    let mut rng = Rng(seed | 1);
    let tmp = tempfile::tempdir().unwrap();
    let (site, outside, dist) = (
        tmp.path().join("site"),
        tmp.path().join("outside"),
        tmp.path().join("dist"),
    );
    make_tree(&mut rng, &site, &outside);
    let outside_before = snapshot(&outside, false);
    let mut tally = BTreeMap::new();
    for round in 0..3 {
        if round > 0 {
            edit(&mut rng, &site);
        }
        let mode = match rng.below(6) {
            0 => Mode::InPlace,
            1 => Mode::Page,
            _ => Mode::Out,
        };
        let opts = options(&mut rng, mode);
        let mut cmd = ssibake(tmp.path());
        cmd.args(["--root", "site"]).args(&opts);
        let pages = page_files(&site);
        let chosen: Vec<String> = pages.iter().filter(|_| rng.chance(2)).cloned().collect();
        match mode {
            Mode::Out => {
                cmd.args(["--out", "dist"]);
            }
            Mode::InPlace => {
                cmd.arg("--in-place").args(&chosen);
            }
            Mode::Page => {
                cmd.args(chosen.iter().take(2));
            }
        }
        let what = format!("seed {seed} round {round}: {mode:?} {opts:?} {chosen:?}");
        let dist_before = snapshot(&dist, false);
        let site_before = snapshot(&site, true);
        let ran = run_watched(&mut cmd, &what);

        // A documented exit status, never a signal or a panic (101).
        let code = ran
            .code
            .unwrap_or_else(|| panic!("{what}: killed by a signal"));
        assert!(
            (0..=3).contains(&code),
            "{what}: exit {code}\n{}",
            ran.stderr
        );
        *tally
            .entry(["ok", "template", "usage", "io"][code as usize])
            .or_insert(0) += 1;
        if std::env::var_os("SSIBAKE_PROPERTY_VERBOSE").is_some() {
            eprintln!(
                "{what}: exit {code}: {}",
                ran.stderr.lines().next().unwrap_or("")
            );
        }
        // Nothing from outside in any output, nothing outside changed.
        assert!(!memchr_secret(&ran.stdout), "{what}: the secret on stdout");
        assert!(!ran.stderr.contains(SECRET), "{what}: the secret on stderr");
        assert_eq!(leaks(&dist), Vec::<PathBuf>::new(), "{what}: in the output");
        assert_eq!(leaks(&site), Vec::<PathBuf>::new(), "{what}: in the site");
        assert!(
            snapshot(&outside, false) == outside_before,
            "{what}: outside changed"
        );
        let top: Vec<String> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| !["site", "outside", "dist"].contains(&n.as_str()))
            .collect();
        assert_eq!(top, Vec::<String>::new(), "{what}: left beside the output");
        assert_eq!(
            temporaries(&site),
            Vec::<PathBuf>::new(),
            "{what}: in the site"
        );
        assert_eq!(
            temporaries(&dist),
            Vec::<PathBuf>::new(),
            "{what}: in the output"
        );

        match mode {
            Mode::Out if code != 0 => {
                assert!(
                    snapshot(&dist, false) == dist_before,
                    "{what}: a failed bake changed the output\n{}",
                    ran.stderr
                );
            }
            Mode::Out => {
                assert!(
                    dist.join(".ssibake/output").is_file(),
                    "{what}: unmarked output"
                );
                // Complete: a fresh bake of the same tree finds nothing to change.
                // (--check reads each file whole: not with a file past the limit.)
                let big = site.join("big.html").exists() || site.join("big.shtml").exists();
                if !big {
                    let check = run_watched(
                        ssibake(tmp.path())
                            .args(["--root", "site"])
                            .args(&opts)
                            .args(["--out", "dist", "--check"]),
                        &format!("{what} --check"),
                    );
                    assert_eq!(
                        check.code,
                        Some(0),
                        "{what}: the output differs from a fresh bake\n{}{}",
                        String::from_utf8_lossy(&check.stdout),
                        check.stderr
                    );
                }
            }
            Mode::InPlace if code != 0 => {
                assert!(
                    snapshot(&site, true) == site_before,
                    "{what}: a failed in-place run changed the site\n{}",
                    ran.stderr
                );
            }
            _ => {}
        }
    }
    tally
}

#[test]
fn random_real_trees_keep_the_invariants() {
    let trees: u64 = std::env::var("SSIBAKE_PROPERTY_TREES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(40);
    let seeds: Vec<u64> = match std::env::var("SSIBAKE_PROPERTY_SEED") {
        Ok(s) => vec![s.parse().expect("a number")],
        Err(_) => {
            let mut rng = Rng(0x5eed_1313_dead_beef);
            (0..trees).map(|_| rng.next()).collect()
        }
    };
    let mut total: BTreeMap<&str, usize> = BTreeMap::new();
    for seed in seeds {
        eprintln!("tree seed {seed}");
        for (k, v) in one_tree(seed) {
            *total.entry(k).or_insert(0) += v;
        }
    }
    eprintln!("runs by outcome: {total:?}");
    // The trees are hostile, but not all of them fail.
    assert!(total.get("ok").copied().unwrap_or(0) > 0, "{total:?}");
}
