//! Whole runs over a real document root on disk (issue 13): the input builds a
//! tree in a temporary directory (files, pages, `.htaccess` files, FIFOs, symlinks
//! out of the root and into it, dangling and looping symlinks, large sparse
//! files) and chooses the options (mode, on-error, legacy expressions, stable
//! times, time source, extensions, partials, warnings, extras). Nothing may panic
//! or hang, nothing from outside the root may reach an output, nothing outside
//! may change, a failed bake leaves the previous output as it was, and no
//! `.ssibake-` temporary stays behind.
//!
//! The input (read with `arbitrary`'s `Unstructured`, so that seeds can be
//! written by hand: see `seed_corpus.py`): 12 option bytes, then files separated
//! by `\n\0\0\n`, each `KIND NAME \n CONTENT` with KIND one byte (see [`Kind`]).
#![no_main]
use std::collections::BTreeMap;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use ssibake::{BakeOptions, Baker, MtimeFrom, OnError};

const SEPARATOR: &[u8] = b"\n\0\0\n";

/// What one entry of the tree is.
#[derive(Debug)]
enum Kind {
    /// A regular file with the content.
    File,
    /// A FIFO.
    Fifo,
    /// A symlink out of the root: to the secret file, absolute or relative, or to
    /// the outside directory.
    LinkOut(u8),
    /// A symlink inside the root, to the content as a path.
    LinkIn,
    /// A symlink to nothing.
    Dangling,
    /// A symlink to its own directory.
    Loop,
    /// A sparse page past the 256 MiB a file may have (named `.shtml`).
    Sparse,
}

impl Kind {
    fn from_byte(b: u8) -> Kind {
        match b % 16 {
            0..=8 => Kind::File,
            9 => Kind::Fifo,
            10 | 11 => Kind::LinkOut(b / 16),
            12 => Kind::LinkIn,
            13 => Kind::Dangling,
            14 => Kind::Loop,
            _ => Kind::Sparse,
        }
    }
}

#[derive(Debug)]
enum Mode {
    /// `--out`, into a directory a first bake of the tree made (when it could).
    Out,
    /// `--out` into a new directory.
    OutFresh,
    /// `--in-place` of every page and `.html` file.
    InPlace,
    /// Each page rendered alone.
    Render,
}

#[derive(Debug)]
struct Tree {
    mode: Mode,
    errmsg: bool,
    legacy: bool,
    stable: bool,
    git: bool,
    keep_ext: bool,
    partials: bool,
    deny_warnings: bool,
    apache_only: bool,
    full: bool,
    extras: bool,
    files: Vec<(Kind, PathBuf, Vec<u8>)>,
}

/// A name inside the root: `[A-Za-z0-9._-]` segments, at most three, never `.` or
/// `..` (escapes are what the symlinks and the directives try, not the tree).
fn clean_name(raw: &[u8]) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for seg in raw.split(|&b| b == b'/').filter(|s| !s.is_empty()).take(3) {
        let seg: String = seg
            .iter()
            .take(40)
            .map(|&b| {
                if b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_' {
                    b as char
                } else {
                    '_'
                }
            })
            .collect();
        if seg == "." || seg == ".." {
            return None;
        }
        out.push(seg);
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

impl<'a> Arbitrary<'a> for Tree {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let o: [u8; 12] = u.arbitrary()?;
        let rest = u.bytes(u.len())?;
        let mut files = Vec::new();
        let mut at = 0;
        while at < rest.len() && files.len() < 32 {
            let end = memmem(&rest[at..], SEPARATOR).map_or(rest.len(), |i| at + i);
            let chunk = &rest[at..end];
            at = end + SEPARATOR.len();
            let Some((&kind, chunk)) = chunk.split_first() else {
                continue;
            };
            let nl = chunk
                .iter()
                .position(|&b| b == b'\n')
                .unwrap_or(chunk.len());
            let Some(name) = clean_name(&chunk[..nl]) else {
                continue;
            };
            let content = chunk.get(nl + 1..).unwrap_or_default().to_vec();
            files.push((Kind::from_byte(kind), name, content));
        }
        Ok(Tree {
            mode: match o[0] % 4 {
                0 => Mode::Out,
                1 => Mode::OutFresh,
                2 => Mode::InPlace,
                _ => Mode::Render,
            },
            errmsg: o[1] & 1 == 1,
            legacy: o[2] & 1 == 1,
            stable: o[3] & 1 == 1,
            git: o[4] % 8 == 7,
            keep_ext: o[5] & 1 == 1,
            partials: o[6] & 1 == 1,
            deny_warnings: o[7] % 4 == 3,
            apache_only: o[8] % 4 == 3,
            full: o[9] & 1 == 1,
            extras: o[10] & 1 == 1,
            files,
        })
    }
}

fn memmem(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The content of the file outside the root: new for each input, so that no
/// input can hold it by itself.
fn secret() -> Vec<u8> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "OUTSIDE-SECRET-{nanos:x}-{}-{}",
        std::process::id(),
        COUNT.fetch_add(1, Ordering::Relaxed)
    )
    .into_bytes()
}

fn contains_secret(bytes: &[u8], secret: &[u8]) -> bool {
    memmem(bytes, secret).is_some()
}

/// Builds the tree under `site`; errors (a name that is a file and a directory at
/// once, say) leave that entry out.
fn build(tree: &Tree, site: &Path, outside: &Path) {
    for (kind, name, content) in &tree.files {
        let path = site.join(name);
        if let Some(dir) = path.parent() {
            if std::fs::create_dir_all(dir).is_err() {
                continue;
            }
        }
        let _ = match kind {
            Kind::File => std::fs::write(&path, content),
            Kind::Fifo => {
                let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
                // SAFETY: a valid NUL-terminated path.
                unsafe { libc::mkfifo(c.as_ptr(), 0o644) };
                Ok(())
            }
            Kind::LinkOut(how) => {
                let target = match how % 4 {
                    0 => outside.join("secret.txt"),
                    1 => PathBuf::from("../".repeat(name.components().count()))
                        .join("outside/secret.txt"),
                    2 => outside.to_path_buf(),
                    _ => PathBuf::from("/etc/hostname"),
                };
                std::os::unix::fs::symlink(target, &path)
            }
            Kind::LinkIn => std::os::unix::fs::symlink(
                clean_name(content).unwrap_or_else(|| PathBuf::from("index.shtml")),
                &path,
            ),
            Kind::Dangling => std::os::unix::fs::symlink("nowhere/at/all", &path),
            Kind::Loop => std::os::unix::fs::symlink(".", &path),
            Kind::Sparse => {
                let path = path.with_extension("shtml");
                std::fs::File::create(&path).and_then(|f| {
                    f.set_len((257 << 20) + content.len() as u64 * 4096)?;
                    f.write_at(content, 0).map(drop)
                })
            }
        };
    }
}

/// Every entry under `dir` (symlinks not followed): regular files with their
/// bytes, symlinks with their targets, others by kind.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            let Ok(ft) = e.file_type() else { continue };
            let value = if ft.is_dir() {
                stack.push(path.clone());
                b"dir".to_vec()
            } else if ft.is_symlink() {
                std::fs::read_link(&path)
                    .map(|t| t.into_os_string().into_encoded_bytes())
                    .unwrap_or_default()
            } else if ft.is_file() {
                match e.metadata() {
                    Ok(m) if m.len() > 1 << 20 => format!("big {}", m.len()).into_bytes(),
                    _ => std::fs::read(&path).unwrap_or_default(),
                }
            } else {
                b"special".to_vec()
            };
            out.insert(path.strip_prefix(dir).unwrap().to_path_buf(), value);
        }
    }
    out
}

fn no_leak(dir: &Path, secret: &[u8], what: &str) {
    for (path, bytes) in snapshot(dir) {
        let is_link =
            std::fs::symlink_metadata(dir.join(&path)).is_ok_and(|m| m.file_type().is_symlink());
        assert!(
            is_link || !contains_secret(&bytes, secret),
            "{what}: the outside secret in {}",
            path.display()
        );
    }
}

fn temporaries(dir: &Path) -> Vec<PathBuf> {
    snapshot(dir)
        .into_keys()
        .filter(|p| {
            p.components()
                .any(|c| c.as_os_str().as_encoded_bytes().starts_with(b".ssibake-"))
        })
        .collect()
}

fn baker(tree: &Tree, site: &Path) -> Option<Baker> {
    Baker::builder()
        .root(site)
        .on_error(if tree.errmsg {
            OnError::Errmsg
        } else {
            OnError::Fail
        })
        .legacy_expr(tree.legacy)
        .apache_only(tree.apache_only)
        .mtime_from(if tree.git {
            MtimeFrom::Git
        } else {
            MtimeFrom::Fs
        })
        .define("X", "x")
        .now(1_700_000_000)
        .build()
        .ok()
}

fn options(tree: &Tree) -> BakeOptions {
    let mut opts = BakeOptions::default()
        .with_stable_mtimes(tree.stable)
        .with_publish_partials(tree.partials)
        .with_deny_warnings(tree.deny_warnings)
        .with_full(tree.full)
        .with_fsync(false);
    if tree.keep_ext {
        opts = opts.with_page_ext(None);
    }
    if tree.extras {
        opts = opts
            .with_version_file(Some("/version.json"))
            .with_client(Some("/ssibake-update.js"));
    }
    opts
}

fuzz_target!(|data: &[u8]| {
    let Ok(tree) = Tree::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (site, outside, dist) = (
        tmp.path().join("site"),
        tmp.path().join("outside"),
        tmp.path().join("dist"),
    );
    std::fs::create_dir_all(&site).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    let secret = secret();
    std::fs::write(outside.join("secret.txt"), &secret).unwrap();
    build(&tree, &site, &outside);
    let outside_before = snapshot(&outside);
    // The input may plant `.ssibake-` names itself: those may stay (unpublished).
    let planted = temporaries(tmp.path());
    let Some(baker) = baker(&tree, &site) else {
        return;
    };
    let opts = options(&tree);
    let pages: Vec<String> = snapshot(&site)
        .into_keys()
        .filter(|p| {
            p.extension().is_some_and(|e| e == "shtml" || e == "html")
                && std::fs::symlink_metadata(site.join(p)).is_ok_and(|m| m.is_file())
        })
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    match tree.mode {
        Mode::Out | Mode::OutFresh => {
            if matches!(tree.mode, Mode::Out) {
                let _ = baker.bake(&dist, &opts);
            }
            let before = snapshot(&dist);
            match baker.bake(&dist, &opts) {
                Ok(_) => assert!(dist.join(".ssibake/output").is_file(), "unmarked output"),
                Err(_) => assert!(
                    snapshot(&dist) == before,
                    "a failed bake changed the output"
                ),
            }
            no_leak(&dist, &secret, "--out");
        }
        Mode::InPlace => {
            let before: BTreeMap<_, _> = snapshot(&site)
                .into_iter()
                .filter(|(p, _)| !p.starts_with(".ssibake"))
                .collect();
            if baker.bake_in_place(&pages, &opts).is_err() {
                let after: BTreeMap<_, _> = snapshot(&site)
                    .into_iter()
                    .filter(|(p, _)| !p.starts_with(".ssibake"))
                    .collect();
                assert!(after == before, "a failed in-place run changed the site");
            }
            no_leak(&site, &secret, "--in-place");
        }
        Mode::Render => {
            for page in &pages {
                if let Ok(r) = baker.render(page) {
                    assert!(
                        !contains_secret(&r.output, &secret),
                        "the outside secret in {page}"
                    );
                }
            }
        }
    }
    assert!(
        snapshot(&outside) == outside_before,
        "outside the root changed"
    );
    let left: Vec<PathBuf> = temporaries(tmp.path())
        .into_iter()
        .filter(|p| !planted.contains(p))
        .collect();
    assert_eq!(
        left,
        Vec::<PathBuf>::new(),
        "temporaries left (or published)"
    );
});
