//! Helpers shared by the tests that run the real `ssibake` binary
//! (`cli_bake.rs`, `recipes.rs`): temp trees with chosen times, a cleared
//! environment, and snapshots that prove a directory was not touched.
#![allow(dead_code)] // each test crate uses a different part

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The binary under test.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_ssibake"))
}

/// `ssibake` with an empty environment, run in `dir`.
pub fn ssibake(dir: &Path) -> Command {
    let mut cmd = Command::new(bin());
    cmd.env_clear().current_dir(dir);
    cmd
}

/// What a finished process left behind.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Run {
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

/// Runs `cmd` to completion; a signal death is a test failure.
pub fn run(cmd: &mut Command) -> Run {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    Run {
        code: status
            .code()
            .unwrap_or_else(|| panic!("{cmd:?} was killed: {status:?}")),
        stdout,
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// Runs `cmd` and insists on exit status `code`, showing stderr otherwise.
pub fn run_expect(cmd: &mut Command, code: i32) -> Run {
    let r = run(cmd);
    assert_eq!(
        r.code,
        code,
        "{cmd:?} exited {} (expected {code})\n--- stdout\n{}\n--- stderr\n{}",
        r.code,
        r.stdout_text(),
        r.stderr
    );
    r
}

/// A point in time, `secs` after the epoch plus `nanos`.
pub fn at(secs: u64, nanos: u32) -> SystemTime {
    UNIX_EPOCH + Duration::new(secs, nanos)
}

/// Writes `root/rel` (creating directories).
pub fn write(root: &Path, rel: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, bytes).unwrap();
    path
}

/// Writes `root/rel` and sets its modification time.
pub fn write_at(root: &Path, rel: &str, bytes: impl AsRef<[u8]>, time: SystemTime) -> PathBuf {
    let path = write(root, rel, bytes);
    set_mtime(&path, time);
    path
}

/// Sets a file's modification time.
pub fn set_mtime(path: &Path, time: SystemTime) {
    fs::File::options()
        .write(true)
        .open(path)
        .and_then(|f| f.set_modified(time))
        .unwrap_or_else(|e| panic!("cannot set the time of {}: {e}", path.display()));
}

pub fn mtime(path: &Path) -> SystemTime {
    fs::symlink_metadata(path).unwrap().modified().unwrap()
}

pub fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

pub fn set_mode(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

pub fn inode(path: &Path) -> u64 {
    fs::metadata(path).unwrap().ino()
}

pub fn read(path: &Path) -> Vec<u8> {
    fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

pub fn read_text(path: &Path) -> String {
    String::from_utf8(read(path)).unwrap()
}

/// One entry of a [`snapshot`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// `None` for a directory.
    pub bytes: Option<Vec<u8>>,
    pub mtime: SystemTime,
    pub mode: u32,
    pub inode: u64,
}

/// Everything under `dir` (relative paths, `/`-separated): contents, times,
/// modes and inodes, so that equal snapshots mean "not touched".
pub fn snapshot(dir: &Path) -> BTreeMap<String, Entry> {
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Entry>) {
    let meta = fs::symlink_metadata(dir).unwrap();
    let rel = dir
        .strip_prefix(root)
        .unwrap()
        .to_string_lossy()
        .into_owned();
    out.insert(
        if rel.is_empty() { ".".into() } else { rel },
        Entry {
            bytes: None,
            mtime: meta.modified().unwrap(),
            mode: meta.permissions().mode(),
            inode: meta.ino(),
        },
    );
    let mut children: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    children.sort();
    for path in children {
        let meta = fs::symlink_metadata(&path).unwrap();
        if meta.is_dir() {
            walk(root, &path, out);
        } else {
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            out.insert(
                rel,
                Entry {
                    bytes: Some(fs::read(&path).unwrap_or_default()),
                    mtime: meta.modified().unwrap(),
                    mode: meta.permissions().mode(),
                    inode: meta.ino(),
                },
            );
        }
    }
}

/// Files under `dir` with their bytes (no times): what a server would send.
pub fn contents(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    snapshot(dir)
        .into_iter()
        .filter_map(|(k, e)| e.bytes.map(|b| (k, b)))
        .collect()
}

/// The names of the files (not directories) under `dir`.
/// The published files of a tree: ssibake's own mark (`.ssibake/`) left out.
pub fn files(dir: &Path) -> Vec<String> {
    contents(dir)
        .into_keys()
        .filter(|k| !k.starts_with(".ssibake/"))
        .collect()
}

/// Names in `dir` (one level) starting with `prefix`: leftovers of a bake.
pub fn leftovers(dir: &Path, prefix: &str) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(prefix))
        .collect()
}

/// Asserts two snapshots are equal, naming the first entry that differs.
pub fn assert_same_tree(before: &BTreeMap<String, Entry>, after: &BTreeMap<String, Entry>) {
    let names = |s: &BTreeMap<String, Entry>| s.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(before), names(after), "the set of files changed");
    for (name, b) in before {
        let a = &after[name];
        assert_eq!(b.bytes, a.bytes, "`{name}` changed content");
        assert_eq!(b.mtime, a.mtime, "`{name}` changed modification time");
        assert_eq!(b.mode, a.mode, "`{name}` changed mode");
        assert_eq!(b.inode, a.inode, "`{name}` was replaced");
    }
}

/// The `ssibake: ...` summary lines of a run's stderr.
pub fn summary_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.starts_with("ssibake: "))
        .collect()
}

/// Checks `line` is `ssibake: <prefix>N.NNs<suffix>`, with the wall time as a
/// number with two decimals, and returns the time.
pub fn assert_summary(line: &str, prefix: &str, suffix: &str) -> f64 {
    let rest = line
        .strip_prefix("ssibake: ")
        .and_then(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("summary `{line}` does not start with `ssibake: {prefix}`"));
    let time = rest
        .strip_suffix(suffix)
        .and_then(|t| t.strip_suffix('s'))
        .unwrap_or_else(|| panic!("summary `{line}` does not end with `s{suffix}`"));
    let (whole, frac) = time
        .split_once('.')
        .unwrap_or_else(|| panic!("time `{time}` in `{line}` has no decimals"));
    assert!(
        !whole.is_empty()
            && whole.bytes().all(|b| b.is_ascii_digit())
            && frac.len() == 2
            && frac.bytes().all(|b| b.is_ascii_digit()),
        "time `{time}` in `{line}` is not N.NN"
    );
    time.parse().unwrap()
}
