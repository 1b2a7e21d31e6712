//! Issue 13, hardening. A symlink swapped in during a run cannot make ssibake read
//! outside the root; a killed `--in-place` run is one transaction; SIGTERM cleans up.
//!
//! The race: a symlink swapped in during a run cannot make ssibake read outside the
//! root. A thread exchanges a directory of the site with a symlink to a directory
//! outside it (`renameat2(RENAME_EXCHANGE)`, atomically, as fast as it can) while
//! pages that include files from that directory are rendered and baked, for a
//! fixed number of rounds; nothing outside the root may ever reach an output.
//! (Before lookups were resolved beneath one root handle, 15 of 1,500 renders
//! leaked.)

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

const SECRET: &str = "OUTSIDE-SECRET";

fn exchange(a: &Path, b: &Path) -> bool {
    let (a, b) = (
        CString::new(a.as_os_str().as_bytes()).unwrap(),
        CString::new(b.as_os_str().as_bytes()).unwrap(),
    );
    // SAFETY: two valid NUL-terminated paths; renameat2 only reads them.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    rc == 0
}

#[test]
fn a_directory_swapped_for_a_symlink_never_leaks_outside_files() {
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("site");
    let outside = tmp.path().join("outside");
    std::fs::create_dir_all(site.join("inc")).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    let mut page = String::from("<!--#config errmsg=\"[E]\" -->");
    for i in 0..40 {
        std::fs::write(site.join(format!("inc/d{i}.txt")), "inside\n").unwrap();
        std::fs::write(outside.join(format!("d{i}.txt")), format!("{SECRET}\n")).unwrap();
        page.push_str(&format!("<!--#include virtual=\"/inc/d{i}.txt\" -->"));
    }
    std::fs::write(site.join("index.shtml"), &page).unwrap();
    for p in 0..20 {
        std::fs::write(site.join(format!("p{p}.shtml")), &page).unwrap();
    }
    // `site/swap` is a symlink out of the root; exchanging it with `site/inc`
    // makes `inc` the symlink for a moment, again and again.
    std::os::unix::fs::symlink(&outside, site.join("swap")).unwrap();
    let (inc, swap) = (site.join("inc"), site.join("swap"));
    assert!(
        exchange(&inc, &swap) && exchange(&inc, &swap),
        "renameat2 works here"
    );

    let stop = Arc::new(AtomicBool::new(false));
    let swapper = {
        let stop = stop.clone();
        let (inc, swap) = (inc.clone(), swap.clone());
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                exchange(&inc, &swap);
                n += 1;
            }
            // Leave the tree as it was.
            if std::fs::symlink_metadata(&inc)
                .unwrap()
                .file_type()
                .is_symlink()
            {
                exchange(&inc, &swap);
            }
            n
        })
    };
    let bin = env!("CARGO_BIN_EXE_ssibake");
    let (mut renders, mut inside, mut leaks) = (0, 0, 0);
    for round in 0..300 {
        let o = Command::new(bin)
            .args(["--root"])
            .arg(&site)
            .args(["--on-error", "errmsg"])
            .arg(site.join("index.shtml"))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&o.stdout);
        renders += 1;
        inside += text.matches("inside").count();
        if text.contains(SECRET) {
            leaks += 1;
        }
        if round % 30 == 0 {
            let out = tmp.path().join(format!("dist{round}"));
            let o = Command::new(bin)
                .args(["--root"])
                .arg(&site)
                .arg("--out")
                .arg(&out)
                .args(["--on-error", "errmsg", "-q", "--no-fsync"])
                .output()
                .unwrap();
            if o.status.success() {
                for entry in walkdir::WalkDir::new(&out).follow_links(false) {
                    let entry = entry.unwrap();
                    if entry.file_type().is_file() {
                        let bytes = std::fs::read(entry.path()).unwrap();
                        if String::from_utf8_lossy(&bytes).contains(SECRET) {
                            leaks += 1;
                        }
                    }
                }
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    let swaps = swapper.join().unwrap();
    eprintln!(
        "{renders} renders and 10 bakes against {swaps} swaps: {inside} inside reads, {leaks} leaks"
    );
    assert!(swaps > 1000, "the swapper ran ({swaps} swaps)");
    assert!(inside > 0, "some reads found the real directory");
    assert_eq!(leaks, 0, "an outside file reached an output");
}

/// Issue 13: `--in-place` of many files is one transaction. Killed at random
/// moments, a run leaves either the old set, the new set, or a journal that the
/// next run finishes from; never a mix without a journal.
#[test]
fn a_killed_in_place_run_leaves_the_old_set_or_one_the_next_run_finishes() {
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("site");
    std::fs::create_dir_all(&site).unwrap();
    let n = 120;
    let names: Vec<String> = (0..n).map(|i| format!("p{i:03}.html")).collect();
    let old = |i: usize| format!("<p><!--#echo var=\"V\" --> {i}</p>\n{}", "x".repeat(20_000));
    let new = |i: usize| format!("<p>new {i}</p>\n{}", "x".repeat(20_000));
    let bin = env!("CARGO_BIN_EXE_ssibake");
    let journal = site.join(".ssibake/in-place-journal");
    let mut states = std::collections::BTreeMap::new();
    let mut seed = 12345u64;
    for round in 0..30 {
        for (i, name) in names.iter().enumerate() {
            std::fs::write(site.join(name), old(i)).unwrap();
        }
        let _ = std::fs::remove_file(&journal);
        let mut child = Command::new(bin)
            .arg("--root")
            .arg(&site)
            .args(["--in-place", "-q", "-D", "V=new"])
            .args(names.iter().map(|n| site.join(n)))
            .spawn()
            .unwrap();
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        // Anywhere in a run (about 0.2 s for this tree in a debug build).
        std::thread::sleep(std::time::Duration::from_micros(seed % 260_000));
        let _ = child.kill();
        let _ = child.wait();
        let contents: Vec<String> = names
            .iter()
            .map(|n| std::fs::read_to_string(site.join(n)).unwrap())
            .collect();
        let olds = (0..n).filter(|&i| contents[i] == old(i)).count();
        let news = (0..n).filter(|&i| contents[i] == new(i)).count();
        let state = if journal.exists() {
            "journal"
        } else if olds == n {
            "old"
        } else if news == n {
            "new"
        } else {
            panic!("round {round}: {olds} old and {news} new files and no journal");
        };
        *states.entry(state).or_insert(0) += 1;
        if state == "journal" {
            // The next run finishes the renames before anything else.
            let o = Command::new(bin)
                .arg("--root")
                .arg(&site)
                .args(["--in-place", "-q", "-D", "V=new"])
                .args(names.iter().map(|n| site.join(n)))
                .output()
                .unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            for (i, name) in names.iter().enumerate() {
                let text = std::fs::read_to_string(site.join(name)).unwrap();
                assert!(
                    text.starts_with(&format!("<p>new {i}</p>")),
                    "round {round}: {name}"
                );
            }
        }
    }
    eprintln!("states after a kill: {states:?}");
    // What the killed runs left beside the pages (their temporaries) is removed by
    // the next run.
    let o = Command::new(bin)
        .arg("--root")
        .arg(&site)
        .args(["--in-place", "-q", "-D", "V=new"])
        .args(names.iter().map(|n| site.join(n)))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let left: Vec<String> = walkdir::WalkDir::new(&site)
        .into_iter()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".ssibake-"))
        .collect();
    assert!(
        left.is_empty(),
        "{} temporaries of killed runs stayed (first: {:?})",
        left.len(),
        left.first()
    );
}

/// Issue 13: SIGTERM and SIGINT during a bake remove its staging tree before the
/// process ends; the previous output stays.
#[test]
fn an_interrupted_bake_leaves_no_staging_tree() {
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("site");
    std::fs::create_dir_all(&site).unwrap();
    let body = "<p><!--#echo var=\"DOCUMENT_NAME\" --></p>\n".repeat(1500);
    for i in 0..800 {
        std::fs::write(site.join(format!("p{i}.shtml")), &body).unwrap();
    }
    let bin = env!("CARGO_BIN_EXE_ssibake");
    let out = tmp.path().join("dist");
    let ok = Command::new(bin)
        .arg("--root")
        .arg(&site)
        .arg("--out")
        .arg(&out)
        .args(["-q", "--no-fsync"])
        .output()
        .unwrap();
    assert!(ok.status.success());
    let leftovers = || -> Vec<String> {
        std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".ssibake-"))
            .collect()
    };
    let mut interrupted = 0;
    for (round, sig) in [libc::SIGTERM, libc::SIGINT, libc::SIGTERM]
        .into_iter()
        .enumerate()
    {
        std::fs::write(site.join("p0.shtml"), format!("round {round}\n")).unwrap();
        let mut child = Command::new(bin)
            .arg("--root")
            .arg(&site)
            .arg("--out")
            .arg(&out)
            .args(["-q", "--no-fsync", "--full", "-j1"])
            .spawn()
            .unwrap();
        // Wait until its staging tree exists, then signal it.
        let start = std::time::Instant::now();
        while leftovers().is_empty() && start.elapsed().as_secs() < 10 {
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        // SAFETY: a plain kill(2) of our own child.
        unsafe { libc::kill(child.id() as i32, sig) };
        let status = child.wait().unwrap();
        if status.code() == Some(128 + sig) {
            interrupted += 1;
            assert_eq!(leftovers(), Vec::<String>::new(), "round {round}");
            // The previous output is whole.
            assert_eq!(std::fs::read_dir(&out).unwrap().count(), 800 + 1);
        }
    }
    assert!(interrupted > 0, "no run was interrupted mid-bake");
}
