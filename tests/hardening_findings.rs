//! Issue 13, the findings without a test elsewhere: each test here failed on the
//! behaviour the issue found. (The others: `tests/hardening.rs`, `tests/cli_bake.rs`,
//! `src/cli/config.rs`; the list is in `tests/hardening_property.rs`' header.)
//!
//! - a large asset is hashed and revved by streaming it (it was refused past the
//!   256 MiB read limit, and read whole below it);
//! - SIGTERM/SIGINT during `--in-place` remove its temporaries (they were left);
//! - a published file is a copy: an edit of the source in place does not reach the
//!   output, nor a write into the output the source (they were hard links);
//! - a 1 GB page is refused from its size without being read (it was read whole,
//!   and the allocation aborted the process);
//! - 100,000 errors, on one line or one per line, and 20,000 unclosed `#if`s end
//!   (under a watchdog) in little memory (they took minutes and gigabytes, or
//!   aborted);
//! - the staging tree is synced before the swap and the swap after (seen with
//!   strace; nothing was synced).

use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_ssibake")
}

/// How a measured run ended.
struct Measured {
    /// The exit status, or 128 + the signal that ended it.
    code: i32,
    stdout: Vec<u8>,
    stderr: String,
    /// Peak resident memory of the process in KiB, its `VmHWM` sampled every
    /// millisecond while it ran. (`ru_maxrss` would not do: a child spawned with
    /// vfork inherits the parent's high-water mark at exec.)
    max_rss_kib: i64,
    /// Set when the watchdog had to kill it.
    hung: bool,
}

/// The `VmHWM` of a live process, in KiB.
fn high_water(pid: u32) -> Option<i64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs `cmd` with its output in files, sampling its peak memory; a watchdog kills
/// it after `limit` (then `hung` is set).
fn run_measured(cmd: &mut Command, limit: Duration) -> Measured {
    let dir = tempfile::tempdir().unwrap();
    let (out, err) = (dir.path().join("out"), dir.path().join("err"));
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    let (mut peak, mut hung) = (0, false);
    let status = loop {
        if let Some(kib) = high_water(child.id()) {
            peak = peak.max(kib);
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > limit {
            hung = true;
            let _ = child.kill();
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    use std::os::unix::process::ExitStatusExt;
    Measured {
        code: status
            .code()
            .unwrap_or_else(|| 128 + status.signal().unwrap_or(0)),
        stdout: std::fs::read(&out).unwrap(),
        stderr: String::from_utf8_lossy(&std::fs::read(&err).unwrap()).into_owned(),
        max_rss_kib: peak,
        hung,
    }
}

/// `sha256sum FILE`'s hash.
fn sha256sum(path: &Path) -> String {
    let o = Command::new("sha256sum").arg(path).output().unwrap();
    assert!(o.status.success());
    String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// A sparse file of `len` bytes with a few bytes written at its start and end.
fn sparse(path: &Path, len: u64) {
    let f = std::fs::File::create(path).unwrap();
    f.set_len(len).unwrap();
    f.write_at(b"head", 0).unwrap();
    f.write_at(b"tail", len - 4).unwrap();
}

const MIB: u64 = 1 << 20;

/// Issue 13, item 4: `#fhash` and `#frev` of a file past the 256 MiB read limit
/// used to be refused; the hash is now streamed, and the revved copy streamed from
/// the same descriptor, in constant memory.
#[test]
fn a_large_sparse_asset_is_hashed_and_revved_by_streaming() {
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("site");
    std::fs::create_dir_all(&site).unwrap();
    let big = site.join("big.bin");
    sparse(&big, 300 * MIB);
    let expected = sha256sum(&big);
    let page = "<!--#config hashlen=\"64\" --><!--#fhash virtual=\"/big.bin\" -->\n\
                <!--#frev virtual=\"/big.bin\" -->\n";
    std::fs::write(site.join("index.shtml"), page).unwrap();
    let revved = format!("big.{expected}.bin");

    let m = run_measured(
        Command::new(bin())
            .arg("--root")
            .arg(&site)
            .arg("--out")
            .arg(tmp.path().join("dist"))
            .args(["-q", "--no-fsync"]),
        Duration::from_secs(300),
    );
    assert_eq!(m.code, 0, "{}", m.stderr);
    let dist = tmp.path().join("dist");
    assert_eq!(
        std::fs::read_to_string(dist.join("index.html")).unwrap(),
        format!("{expected}\n/{revved}\n")
    );
    assert_eq!(
        std::fs::metadata(dist.join(&revved)).unwrap().len(),
        300 * MIB
    );
    assert_eq!(sha256sum(&dist.join(&revved)), expected);
    eprintln!("--out: peak {} KiB", m.max_rss_kib);
    assert!(
        m.max_rss_kib < 64 * 1024,
        "a 300 MiB file was held in memory: peak {} KiB",
        m.max_rss_kib
    );

    // In place: the revved copy beside the original, streamed too.
    std::fs::write(site.join("page.html"), page).unwrap();
    let m = run_measured(
        Command::new(bin())
            .arg("--root")
            .arg(&site)
            .args(["--in-place", "-q", "--no-fsync"])
            .arg(site.join("page.html")),
        Duration::from_secs(300),
    );
    assert_eq!(m.code, 0, "{}", m.stderr);
    assert_eq!(
        std::fs::read_to_string(site.join("page.html")).unwrap(),
        format!("{expected}\n/{revved}\n")
    );
    assert_eq!(sha256sum(&site.join(&revved)), expected);
    eprintln!("--in-place: peak {} KiB", m.max_rss_kib);
    assert!(m.max_rss_kib < 64 * 1024, "peak {} KiB", m.max_rss_kib);
}

/// The `.ssibake-` temporaries under `dir`, at any depth (not the `.ssibake` record).
fn temporaries(dir: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .flatten()
        .filter(|e| e.file_name().as_encoded_bytes().starts_with(b".ssibake-"))
        .map(|e| e.into_path())
        .collect()
}

/// Issue 13, item 5: SIGTERM or SIGINT during `--in-place` used to leave the
/// temporaries written beside the pages. Now they are removed before the process
/// ends, and the pages are the old set or (when the signal came during the
/// renames, which then end first) the new set, never a mix.
#[test]
fn an_interrupted_in_place_run_leaves_no_temporaries() {
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("site");
    std::fs::create_dir_all(site.join("sub")).unwrap();
    let n = 400;
    let names: Vec<String> = (0..n)
        .map(|i| format!("{}p{i:03}.html", if i % 2 == 0 { "" } else { "sub/" }))
        .collect();
    let old = |i: usize| format!("<p><!--#echo var=\"V\" --> {i}</p>\n{}", "x".repeat(50_000));
    let new = |i: usize| format!("<p>new {i}</p>\n{}", "x".repeat(50_000));
    let mut interrupted = 0;
    let mut outcomes = Vec::new();
    for (round, sig) in [libc::SIGTERM, libc::SIGINT, libc::SIGTERM, libc::SIGINT]
        .into_iter()
        .enumerate()
    {
        for (i, name) in names.iter().enumerate() {
            std::fs::write(site.join(name), old(i)).unwrap();
        }
        // Synced file by file (no --no-fsync): the temporaries stay a while.
        let mut child = Command::new(bin())
            .arg("--root")
            .arg(&site)
            .args(["--in-place", "-q", "-D", "V=new"])
            .args(names.iter().map(|n| site.join(n)))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let start = std::time::Instant::now();
        let mut saw = false;
        while start.elapsed() < Duration::from_secs(60) {
            if !temporaries(&site).is_empty() {
                saw = true;
                break;
            }
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_micros(500));
        }
        if saw && round % 2 == 1 {
            // Later in the writing, some rounds.
            std::thread::sleep(Duration::from_millis(20));
        }
        // SAFETY: kill(2) of our own child.
        unsafe { libc::kill(child.id() as i32, sig) };
        let status = child.wait().unwrap();
        let contents: Vec<String> = names
            .iter()
            .map(|n| std::fs::read_to_string(site.join(n)).unwrap())
            .collect();
        let olds = (0..n).filter(|&i| contents[i] == old(i)).count();
        let news = (0..n).filter(|&i| contents[i] == new(i)).count();
        assert!(
            olds == n || news == n,
            "round {round}: {olds} old and {news} new files"
        );
        // Ended by the signal: through ssibake's handler (128 + its number), or
        // by the signal itself (as before there was a handler).
        use std::os::unix::process::ExitStatusExt;
        if status.code() == Some(128 + sig) || status.signal() == Some(sig) {
            interrupted += 1;
            outcomes.push(if olds == n { "old" } else { "new" });
            assert_eq!(temporaries(&site), Vec::<PathBuf>::new(), "round {round}");
            assert!(!site.join(".ssibake/in-place-journal").exists());
        }
    }
    eprintln!("{interrupted} runs interrupted, the pages then: {outcomes:?}");
    assert!(interrupted > 0, "no run was interrupted while writing");
}

/// Issue 13, item 6 (finding 7): published files used to be hard links to the
/// sources, so an edit of a source in place (same inode: `>`, `rsync --inplace`)
/// changed the live site without a bake, and a write into the output the source.
#[test]
fn an_in_place_edit_of_a_source_never_reaches_the_output() {
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("site");
    std::fs::create_dir_all(site.join("css")).unwrap();
    std::fs::write(site.join("css/app.css"), "body{color:red}").unwrap();
    std::fs::write(site.join("index.shtml"), "<p>home</p>").unwrap();
    let dist = tmp.path().join("dist");
    let bake = |extra: &[&str]| {
        let o = Command::new(bin())
            .arg("--root")
            .arg(&site)
            .arg("--out")
            .arg(&dist)
            .args(["-q", "--no-fsync"])
            .args(extra)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    // A first bake, then an incremental one (which reuses the previous output).
    bake(&[]);
    bake(&[]);
    let (source, published) = (site.join("css/app.css"), dist.join("css/app.css"));
    assert_ne!(
        std::fs::metadata(&source).unwrap().ino(),
        std::fs::metadata(&published).unwrap().ino(),
        "the published file is the source's inode"
    );
    // Rewrite the source where it is (truncate and write: the same inode).
    std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&source)
        .unwrap()
        .write_all_at(b"body{color:EVIL}", 0)
        .unwrap();
    assert_eq!(std::fs::read(&published).unwrap(), b"body{color:red}");
    // And a write into the output leaves the source alone.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&published)
        .unwrap()
        .write_all_at(b"XXXX", 0)
        .unwrap();
    assert_eq!(std::fs::read(&source).unwrap(), b"body{color:EVIL}");
    // The next bake publishes the edit.
    bake(&[]);
    assert_eq!(std::fs::read(&published).unwrap(), b"body{color:EVIL}");
}

/// Issue 13, item 4 (finding 4): a 1 GB page used to be read whole (the process
/// aborted at 5.3 GB). It is refused from its size, without being read: the peak
/// memory stays far below the 256 MiB a read would take.
#[test]
fn a_one_gigabyte_page_is_refused_from_its_size() {
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("site");
    std::fs::create_dir_all(&site).unwrap();
    sparse(&site.join("huge.shtml"), 1 << 30);
    std::fs::write(
        site.join("inc.shtml"),
        "<!--#include virtual=\"/huge.shtml\" -->",
    )
    .unwrap();
    for args in [
        vec!["site/huge.shtml"],
        vec!["site/inc.shtml"],
        vec!["--out", "dist", "-q", "--no-fsync"],
    ] {
        let m = run_measured(
            Command::new(bin())
                .current_dir(tmp.path())
                .args(["--root", "site"])
                .args(&args),
            Duration::from_secs(120),
        );
        assert!(!m.hung, "{args:?} hung");
        // A page named on the command line that cannot be read is a read failure
        // (exit 3); an include of it, a template error (exit 1).
        let code = if args[0] == "site/huge.shtml" { 3 } else { 1 };
        assert_eq!(m.code, code, "{args:?}: {}", m.stderr);
        assert!(
            m.stderr
                .contains("is 1024 MiB, past the 256 MiB a file may have"),
            "{args:?}: {}",
            m.stderr
        );
        assert!(
            m.max_rss_kib < 64 * 1024,
            "{args:?}: peak {} KiB",
            m.max_rss_kib
        );
    }
    assert!(!tmp.path().join("dist").exists());
}

/// Issue 13, item 4 (finding 3): diagnostics used to be quadratic: 10,000 errors
/// on one line took 30 s and 4.4 GB, 20,000 (or 10,000 unclosed `#if`s) aborted
/// the process, 100,000 one per line ran past a minute. A watchdog (not a timed
/// assertion: a generous bound for a slow machine) and the peak memory say they
/// are linear now.
#[test]
fn a_hundred_thousand_errors_end_in_little_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("site");
    std::fs::create_dir_all(&site).unwrap();
    let docs = [
        ("lines.shtml", "<!--#nosuch -->\n".repeat(100_000), 99_900),
        ("one-line.shtml", "<!--#nosuch -->".repeat(100_000), 99_900),
        (
            "ifs.shtml",
            "<!--#if expr=\"true\" -->".repeat(20_000),
            19_900,
        ),
    ];
    for (name, text, more) in &docs {
        std::fs::write(site.join(name), text).unwrap();
        for mode in ["fail", "errmsg"] {
            let m = run_measured(
                Command::new(bin())
                    .current_dir(tmp.path())
                    .args(["--root", "site", "--on-error", mode])
                    .arg(format!("site/{name}")),
                Duration::from_secs(240),
            );
            assert!(!m.hung, "{name} ({mode}) ran past the watchdog");
            eprintln!(
                "{name} ({mode}): exit {}, peak {} KiB",
                m.code, m.max_rss_kib
            );
            if mode == "fail" {
                assert_eq!(m.code, 1, "{name} ({mode})");
                assert!(
                    m.stderr.contains(&format!("... and {more} more errors")),
                    "{name} ({mode}): {}",
                    &m.stderr[m.stderr.len().saturating_sub(300)..]
                );
            } else {
                // errmsg: Apache's text for each (an unclosed `#if` is a
                // warning there), and the page is written.
                assert_eq!(m.code, 0, "{name} ({mode})");
                if *name != "ifs.shtml" {
                    assert!(m.stdout.len() >= 100_000);
                }
            }
            assert!(
                m.max_rss_kib < 400 * 1024,
                "{name} ({mode}): peak {} KiB",
                m.max_rss_kib
            );
        }
    }
}

/// Issue 13, item 8 (finding 9): nothing was synced before the swap. Traced with
/// strace: the staging tree is synced (`syncfs`) before the exchange, the parent
/// directory (`fsync`) after it; `--no-fsync` does neither.
#[test]
fn the_staging_tree_is_synced_before_the_swap() {
    if Command::new("strace").arg("-V").output().is_err() {
        assert!(
            std::env::var_os("CI").is_none(),
            "strace is needed under CI (Debian package strace)"
        );
        eprintln!("skipped: no strace");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("site");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(site.join("index.shtml"), "<p>home</p>").unwrap();
    let trace = |extra: &[&str]| -> Vec<String> {
        let log = tmp.path().join("trace");
        let o = Command::new("strace")
            .args([
                "-f",
                "-qq",
                "-e",
                "trace=syncfs,fsync,fdatasync,sync,renameat2,rename,renameat",
                "-o",
            ])
            .arg(&log)
            .arg(bin())
            .arg("--root")
            .arg(&site)
            .arg("--out")
            .arg(tmp.path().join("dist"))
            .args(["-q", "--full"])
            .args(extra)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        std::fs::read_to_string(&log)
            .unwrap()
            .lines()
            .map(|l| {
                let call = l.split_whitespace().nth(1).unwrap_or("");
                call.split('(').next().unwrap_or("").to_string()
            })
            .filter(|c| !c.is_empty())
            .collect()
    };
    // The first bake renames the staging tree into place; the second exchanges.
    for round in 0..2 {
        let calls = trace(&[]);
        let swap = calls
            .iter()
            .position(|c| c.starts_with("rename"))
            .unwrap_or_else(|| panic!("round {round}: no rename in {calls:?}"));
        assert!(
            calls[..swap].iter().any(|c| c == "syncfs"),
            "round {round}: nothing synced before the swap: {calls:?}"
        );
        assert!(
            calls[swap..].iter().any(|c| c == "fsync"),
            "round {round}: the swap is not synced: {calls:?}"
        );
    }
    let calls = trace(&["--no-fsync"]);
    assert!(
        !calls.iter().any(|c| c == "syncfs" || c == "fsync"),
        "--no-fsync synced: {calls:?}"
    );
}
