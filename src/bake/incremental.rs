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

use super::record::{Digest, PageDeps};
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

fn unhex<const N: usize>(s: &str) -> Option<[u8; N]> {
    if s.len() != 2 * N {
        return None;
    }
    let mut out = [0; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

fn paths(v: &serde_json::Value) -> Option<Vec<SitePath>> {
    v.as_array()?
        .iter()
        .map(|p| SitePath::from_relative(p.as_str()?.as_bytes()).ok())
        .collect()
}

impl Incremental {
    /// Reads the record of the output at `old_out`. `None` (a full bake) when there
    /// is none, it does not parse, or it was made with other settings or other
    /// `.htaccess` files than `fingerprint` and `htaccess` say.
    pub(super) fn load(
        old_out: &Path,
        text: &[u8],
        fingerprint: &str,
        htaccess: &[(String, Option<[u8; 16]>)],
    ) -> Option<Incremental> {
        let v: serde_json::Value = serde_json::from_slice(text).ok()?;
        let state = &v["state"];
        if state["fingerprint"].as_str()? != fingerprint {
            return None;
        }
        let old_htaccess: Vec<(String, Option<[u8; 16]>)> = state["htaccess"]
            .as_object()?
            .iter()
            .map(|(k, s)| (k.clone(), s.as_str().and_then(unhex)))
            .collect();
        let mut now: Vec<(String, Option<[u8; 16]>)> = htaccess.to_vec();
        now.sort();
        let mut then = old_htaccess;
        then.sort();
        if now != then {
            return None;
        }
        let mut pages = HashMap::new();
        for (page, p) in v["pages"].as_object()? {
            let s = &p["state"];
            let flag = |k: &str| s[k].as_bool().unwrap_or(true);
            if p["partial"].as_bool() != Some(false)
                || p["failed"].as_bool() != Some(false)
                || flag("watched")
                || flag("clock")
                || flag("warned")
            {
                continue;
            }
            let Some(deps) = (|| {
                let inputs = s["stamps"]
                    .as_object()?
                    .iter()
                    .map(|(k, h)| {
                        Some((
                            SitePath::from_relative(k.as_bytes()).ok()?,
                            unhex(h.as_str()?)?,
                        ))
                    })
                    .collect::<Option<Vec<_>>>()?;
                let revved = s["revved"]
                    .as_array()?
                    .iter()
                    .map(|pair| {
                        let f = SitePath::from_relative(pair[0].as_str()?.as_bytes()).ok()?;
                        let r = SitePath::from_relative(pair[1].as_str()?.as_bytes()).ok()?;
                        Some((f, r))
                    })
                    .collect::<Option<Vec<_>>>()?;
                let included = paths(&p["includes"])?;
                Some(PageDeps {
                    page: page.clone(),
                    output: p["output"].as_str()?.to_string(),
                    partial: false,
                    failed: false,
                    includes: included.iter().map(SitePath::display).collect(),
                    stamped: paths(&p["stamped"])?
                        .iter()
                        .map(SitePath::display)
                        .collect(),
                    inputs: paths(&p["inputs"])?.iter().map(SitePath::display).collect(),
                    missing: paths(&p["missing"])?
                        .iter()
                        .map(SitePath::display)
                        .collect(),
                    settings: paths(&p["settings"])?
                        .iter()
                        .map(SitePath::display)
                        .collect(),
                    included,
                    state: super::record::PageState {
                        stamps: inputs,
                        digest: unhex(s["digest"].as_str()?)?,
                        revved,
                        stamped_paths: paths(&p["stamped"])?,
                        missing_paths: paths(&p["missing"])?,
                        includes: s["includeCount"].as_u64()? as usize,
                        newest: s["newest"].as_i64()?,
                        watched: false,
                        clock: false,
                        warned: false,
                    },
                })
            })() else {
                continue;
            };
            pages.insert(page.clone(), OldPage { deps });
        }
        let assets = state["assets"]
            .as_object()?
            .iter()
            .filter_map(|(k, a)| {
                let stamp = unhex(a["stamp"].as_str()?)?;
                let digest = a["digest"].as_str().and_then(unhex);
                Some((k.clone(), (stamp, digest)))
            })
            .collect();
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
        if st
            .missing_paths
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
