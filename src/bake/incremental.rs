//! Incremental: what the previous output and its dependency record allow a bake to
//! reuse. A page is reused (hard-linked from the previous output into the staging
//! tree) only when everything its output depends on is as it was: the settings
//! (the server's configuration, the flags, ssibake's version), every `.htaccess`
//! of the site, the page itself and each file it looked up (by a stamp of its
//! `stat`: device, inode, size, times to the nanosecond), and every path it looked
//! for and did not find (still absent). Pages that show the build identity or the
//! clock, had warnings or failed, and partials, are always rendered. A copied file
//! is reused when its stamp is the same. Everything else is baked as in a full
//! bake, so the result is the same bytes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::record::{content_digest, Digest, PageDeps, PageState};
use crate::engine::templates::Cache;
use crate::site::fs::FileSystem;
use crate::site::resolve::SitePath;

/// A page of the previous bake that may be reused.
pub(super) struct OldPage {
    pub(super) deps: PageDeps,
}

/// The previous output, as its record describes it.
pub(super) struct Incremental {
    pub(super) old_out: PathBuf,
    pages: HashMap<String, OldPage>,
    assets: HashMap<String, ([u8; 16], Option<Digest>)>,
}

fn unhex<const N: usize>(s: &[u8]) -> Option<[u8; N]> {
    if s.len() != 2 * N {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut out = [0; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = digit(s[2 * i])? << 4 | digit(s[2 * i + 1])?;
    }
    Some(out)
}

/// A path of the state file, its `%XX` escapes undone.
fn unescaped_path(field: &[u8]) -> Option<SitePath> {
    let mut raw = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        if field[i] == b'%' {
            let h = std::str::from_utf8(field.get(i + 1..i + 3)?).ok()?;
            raw.push(u8::from_str_radix(h, 16).ok()?);
            i += 3;
        } else {
            raw.push(field[i]);
            i += 1;
        }
    }
    SitePath::from_relative(&raw).ok()
}

impl Incremental {
    /// Reads the state of the output at `old_out`. `None` (a full bake) when there
    /// is none, it does not parse, or it was made with other settings or other
    /// `.htaccess` files than `fingerprint` and `htaccess` say.
    pub(super) fn load(
        old_out: &Path,
        text: &[u8],
        fingerprint: &str,
        htaccess: &[(String, Option<[u8; 16]>)],
    ) -> Option<Incremental> {
        // One copy of each path, however many pages name it (see `PageDeps::new`).
        let mut shared: std::collections::HashSet<SitePath> = std::collections::HashSet::new();
        let mut path = |field: &[u8]| -> Option<SitePath> {
            let p = unescaped_path(field)?;
            Some(match shared.get(&p) {
                Some(s) => s.clone(),
                None => {
                    shared.insert(p.clone());
                    p
                }
            })
        };
        let mut lines = text.split(|&b| b == b'\n');
        if lines.next()? != b"ssibake-state 1" {
            return None;
        }
        let mut pages: HashMap<String, OldPage> = HashMap::new();
        let mut assets = HashMap::new();
        let mut old_htaccess = Vec::new();
        let mut fingerprint_ok = false;
        let mut current: Option<PageDeps> = None;
        let mut usable = true;
        let finish = |pages: &mut HashMap<String, OldPage>, d: Option<PageDeps>, ok: bool| {
            if let Some(d) = d.filter(|_| ok) {
                pages.insert(d.page.clone(), OldPage { deps: d });
            }
        };
        for line in lines {
            if line.is_empty() {
                continue;
            }
            let f: Vec<&[u8]> = line.split(|&b| b == b'\t').collect();
            match (f[0], f.len()) {
                (b"f", 2) => {
                    fingerprint_ok =
                        unhex::<16>(f[1]) == Some(content_digest(fingerprint.as_bytes()));
                }
                (b"h", 3) => old_htaccess.push((path(f[1])?.display(), unhex::<16>(f[2]))),
                (b"a", 4) => {
                    assets.insert(path(f[1])?.display(), (unhex(f[2])?, unhex(f[3])));
                }
                (b"p", 7) => {
                    finish(&mut pages, current.take(), usable);
                    let flags = f[6];
                    let page = path(f[1])?;
                    let output = path(f[2])?;
                    usable = !flags.iter().any(|b| matches!(b, b'w' | b'c' | b'W'));
                    current = Some(PageDeps {
                        page: page.display(),
                        output: output.display(),
                        state: PageState {
                            digest: unhex(f[3])?,
                            includes: std::str::from_utf8(f[4]).ok()?.parse().ok()?,
                            newest: std::str::from_utf8(f[5]).ok()?.parse().ok()?,
                            ..PageState::default()
                        },
                        ..PageDeps::default()
                    });
                }
                (tag, n) => {
                    let d = current.as_mut()?;
                    let st = &mut d.state;
                    match (tag, n) {
                        (b"s", 3) => {
                            let p = path(f[1])?;
                            if !st.stamps.is_empty() {
                                d.inputs.push(p.clone());
                            }
                            st.stamps.push((p, unhex(f[2])?));
                        }
                        (b"m", 2) => d.missing.push(path(f[1])?),
                        (b"i", 2) => d.includes.push(path(f[1])?),
                        (b"t", 2) => d.stamped.push(path(f[1])?),
                        (b"r", 3) => st.revved.push((path(f[1])?, path(f[2])?)),
                        (b"g", 2) => d.settings.push(path(f[1])?),
                        _ => return None,
                    }
                }
            }
        }
        finish(&mut pages, current.take(), usable);
        if !fingerprint_ok {
            return None;
        }
        let mut now: Vec<(String, Option<[u8; 16]>)> = htaccess.to_vec();
        now.sort();
        old_htaccess.sort();
        if now != old_htaccess {
            return None;
        }
        Some(Incremental {
            old_out: old_out.to_path_buf(),
            pages,
            assets,
        })
    }

    /// The previous bake of `input` into `output`, when nothing it depends on
    /// changed (and its output is still there).
    pub(super) fn page(
        &self,
        input: &SitePath,
        output: &SitePath,
        cache: &Cache,
        fs: &dyn FileSystem,
    ) -> Option<&OldPage> {
        let old = self.pages.get(&input.display())?;
        let st = &old.deps.state;
        if old.deps.output != output.display() {
            return None;
        }
        if st
            .stamps
            .iter()
            .any(|(p, s)| cache.stamp(fs, p) != Some(*s))
        {
            return None;
        }
        if old
            .deps
            .missing
            .iter()
            .any(|p| cache.metadata(fs, p).is_ok())
        {
            return None;
        }
        let kept = self.old_out.join(output.to_path());
        std::fs::symlink_metadata(&kept)
            .is_ok_and(|m| m.is_file())
            .then_some(old)
    }

    /// The digest of a copied file whose stamp is what the previous bake saw
    /// (`Some(None)` when that bake did not hash it).
    pub(super) fn asset(
        &self,
        path: &SitePath,
        cache: &Cache,
        fs: &dyn FileSystem,
    ) -> Option<Option<Digest>> {
        let (stamp, digest) = self.assets.get(&path.display())?;
        (cache.stamp(fs, path) == Some(*stamp)).then_some(*digest)
    }
}
