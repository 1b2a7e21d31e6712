//! Record: what a bake leaves in its output under `.ssibake/` for the next run and
//! for other tools (never served as a page, never compared by `--check`).
//!
//! - `.ssibake/deps.json`: each page's inputs (includes, stamped files, every file
//!   looked up, files looked for and not found, the `.htaccess` files whose
//!   settings apply), also for a page that failed. The preview server and the
//!   incremental bake build on it.
//! - `.ssibake/builds.json`: the build ID and time, the last builds' revved files
//!   (kept for `--keep-builds` builds), and the digests of the pages that show the
//!   build ID, so an unchanged site keeps its ID.

use std::collections::{BTreeMap, HashMap};

use crate::engine::eval::Outcome;
use crate::site::resolve::SitePath;

/// What the build ID is made of: a 128-bit hash of one output's bytes (XXH3).
pub(crate) type Digest = [u8; 16];

/// The identity hash of `bytes`.
pub(crate) fn content_digest(bytes: &[u8]) -> Digest {
    xxhash_rust::xxh3::xxh3_128(bytes).to_le_bytes()
}

/// [`content_digest`] over a stream.
pub(super) struct Hasher(xxhash_rust::xxh3::Xxh3);

impl Hasher {
    pub(super) fn new() -> Hasher {
        Hasher(xxhash_rust::xxh3::Xxh3::new())
    }
    pub(super) fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
    pub(super) fn finalize(self) -> Digest {
        self.0.digest128().to_le_bytes()
    }
}

/// Where the record lives in an output (or, for `--in-place`, in the root).
pub(super) const DEPS: &str = ".ssibake/deps.json";
/// The same record for the next bake: compact lines, read back in one pass.
pub(super) const STATE: &str = ".ssibake/state";
/// The build history.
pub(super) const BUILDS: &str = ".ssibake/builds.json";

/// One page's inputs, as the dependency record keeps them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PageDeps {
    /// The template, relative to the root.
    pub page: String,
    /// Where its output goes, relative to the output.
    pub output: String,
    /// Some page includes it: not published on its own (unless partials are).
    pub partial: bool,
    /// It has template errors.
    pub failed: bool,
    /// Files it included, in order, without repeats.
    pub includes: Vec<SitePath>,
    /// Files whose size, time or hash it printed.
    pub stamped: Vec<SitePath>,
    /// Every file it looked up (includes, stamps, index files...).
    pub inputs: Vec<SitePath>,
    /// Paths it looked for that did not exist: creating one changes the page.
    pub missing: Vec<SitePath>,
    /// The `.htaccess` files whose settings apply to it or to one of its inputs.
    pub settings: Vec<SitePath>,
    pub(super) state: PageState,
}

/// What the incremental bake needs to know that a page is unchanged.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct PageState {
    /// The page and every file it looked up, with their change stamps.
    pub(super) stamps: Vec<(SitePath, [u8; 16])>,
    /// The digest of its output as rendered with the placeholder build ID.
    pub(super) digest: Digest,
    /// `frev` targets and their revved paths.
    pub(super) revved: Vec<(SitePath, SitePath)>,
    /// Successful includes.
    pub(super) includes: usize,
    /// The newest version time among its inputs.
    pub(super) newest: i64,
    /// It shows `BUILD_ID` or `BUILD_DATE`.
    pub(super) watched: bool,
    /// It shows `DATE_LOCAL` or `DATE_GMT`.
    pub(super) clock: bool,
    /// It had warnings.
    pub(super) warned: bool,
}

/// The site-wide part of the record: what every page depends on.
#[derive(Default)]
pub(super) struct SiteState {
    pub(super) fingerprint: String,
    pub(super) htaccess: Vec<(String, Option<[u8; 16]>)>,
    /// Each copied file's stamp and, when it was hashed, its digest.
    pub(super) assets: Vec<(SitePath, [u8; 16], Option<Digest>)>,
}

/// `paths` without repeats, in order (a page's lists are short: a linear scan).
fn unique(paths: impl IntoIterator<Item = SitePath>) -> Vec<SitePath> {
    let mut out: Vec<SitePath> = Vec::new();
    for p in paths {
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

impl PageDeps {
    pub(crate) fn new(
        page: &SitePath,
        output: &SitePath,
        outcome: &Outcome,
        settings_files: &[SitePath],
        cache: &crate::engine::templates::Cache,
        fs: &dyn crate::site::fs::FileSystem,
    ) -> PageDeps {
        // Every path the record keeps is the run's shared copy: a site's pages name
        // the same few hundred files, and the record of 20,000 pages would otherwise
        // hold a million copies of their names.
        let shared = |p: &SitePath| cache.intern(p);
        let includes = unique(outcome.included.iter().map(shared));
        let inputs = unique(outcome.inputs.iter().map(|(p, _)| shared(p)));
        let mut settings = Vec::new();
        if !settings_files.is_empty() {
            let dirs = unique(
                std::iter::once(page)
                    .chain(inputs.iter())
                    .flat_map(|p| ancestors(p.parent())),
            );
            for s in settings_files {
                if dirs.contains(&s.parent()) {
                    settings.push(s.clone());
                }
            }
        }
        let stamped = unique(outcome.stamped.iter().map(shared));
        let missing = unique(outcome.missing.iter().map(shared));
        let stamps = std::iter::once(shared(page))
            .chain(inputs.iter().cloned())
            .filter_map(|p| {
                let stamp = cache.stamp(fs, &p)?;
                Some((p, stamp))
            })
            .collect();
        PageDeps {
            page: page.display(),
            output: output.display(),
            partial: false,
            failed: false,
            includes,
            stamped,
            inputs,
            missing,
            settings,
            state: PageState {
                stamps,
                digest: Digest::default(),
                revved: outcome.revved.clone(),
                includes: outcome.includes,
                newest: 0,
                watched: outcome.read_watched,
                clock: outcome.read_clock,
                warned: !outcome.warnings.is_empty(),
            },
        }
    }
}

/// `dir` and every directory above it, up to the root.
fn ancestors(dir: SitePath) -> Vec<SitePath> {
    let mut out = vec![dir.clone()];
    let mut d = dir;
    while !d.as_bytes().is_empty() {
        d = d.parent();
        out.push(d.clone());
    }
    out
}

/// Bytes a record writer gathers before handing them on: the record of a large site
/// is tens of megabytes, and it is written out as it is made, never held whole.
const FLUSH_AT: usize = 1 << 16;

/// `deps.json`, one page per line, sorted by page, with a final newline, written to
/// `w` as it is made (one pass, no tree of values): it has a line per page of the site.
pub(super) fn write_deps_json(
    deps: &[PageDeps],
    w: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    use crate::engine::diag::json_string as q;
    use std::fmt::Write as _;
    let mut sorted: Vec<&PageDeps> = deps.iter().collect();
    sorted.sort_by(|a, b| a.page.cmp(&b.page));
    let list = |out: &mut String, items: &[SitePath]| {
        out.push('[');
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&q(&item.display()));
        }
        out.push(']');
    };
    let mut out = String::with_capacity(FLUSH_AT + 4096);
    out.push_str("{\"version\":1,\"pages\":{");
    for (i, d) in sorted.iter().enumerate() {
        out.push_str(if i == 0 { "\n" } else { ",\n" });
        let _ = write!(
            out,
            "{}:{{\"output\":{},\"partial\":{},\"failed\":{},\"includes\":",
            q(&d.page),
            q(&d.output),
            d.partial,
            d.failed
        );
        list(&mut out, &d.includes);
        out.push_str(",\"stamped\":");
        list(&mut out, &d.stamped);
        out.push_str(",\"inputs\":");
        list(&mut out, &d.inputs);
        out.push_str(",\"missing\":");
        list(&mut out, &d.missing);
        out.push_str(",\"settings\":");
        list(&mut out, &d.settings);
        out.push('}');
        if out.len() >= FLUSH_AT {
            w.write_all(out.as_bytes())?;
            out.clear();
        }
    }
    out.push_str("\n}}\n");
    w.write_all(out.as_bytes())
}

/// A path in the state file: `%`, tab, CR and LF %-escaped (names are untrusted
/// bytes), so a line is always one record and a tab always a separator.
fn esc(out: &mut Vec<u8>, p: &[u8]) {
    for &b in p {
        match b {
            b'%' | b'\t' | b'\n' | b'\r' => out.extend_from_slice(format!("%{b:02X}").as_bytes()),
            b => out.push(b),
        }
    }
}

fn hex_into(out: &mut Vec<u8>, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)]);
        out.push(DIGITS[usize::from(b & 15)]);
    }
}

/// `.ssibake/state`: what the incremental bake reads back (see
/// [`super::incremental`]). One line per fact, tab-separated:
///
/// ```text
/// ssibake-state 1
/// f <fingerprint digest>
/// h <.htaccess path> <stamp or ->
/// a <file> <stamp> <digest or ->
/// p <page> <output> <digest> <includes> <newest> <flags: w c W>
/// s <input> <stamp>      (the page itself first)
/// m <missing path>
/// i <included path>
/// t <stamped path>
/// r <file> <revved path>
/// g <settings path>
/// ```
pub(super) fn write_state(
    deps: &[PageDeps],
    site: &SiteState,
    w: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    let mut out = Vec::with_capacity(FLUSH_AT + 4096);
    out.extend_from_slice(b"ssibake-state 1\nf\t");
    hex_into(&mut out, &content_digest(site.fingerprint.as_bytes()));
    out.push(b'\n');
    for (p, s) in &site.htaccess {
        out.extend_from_slice(b"h\t");
        esc(&mut out, p.as_bytes());
        out.push(b'\t');
        match s {
            Some(s) => hex_into(&mut out, s),
            None => out.push(b'-'),
        }
        out.push(b'\n');
    }
    for (p, s, d) in &site.assets {
        out.extend_from_slice(b"a\t");
        esc(&mut out, p.as_bytes());
        out.push(b'\t');
        hex_into(&mut out, s);
        out.push(b'\t');
        match d {
            Some(d) => hex_into(&mut out, d),
            None => out.push(b'-'),
        }
        out.push(b'\n');
    }
    for d in deps {
        // Only what a later bake may take over.
        if d.partial || d.failed {
            continue;
        }
        let st = &d.state;
        out.extend_from_slice(b"p\t");
        esc(&mut out, d.page.as_bytes());
        out.push(b'\t');
        esc(&mut out, d.output.as_bytes());
        out.push(b'\t');
        hex_into(&mut out, &st.digest);
        let flags = format!(
            "\t{}\t{}\t{}{}{}\n",
            st.includes,
            st.newest,
            if st.watched { "w" } else { "" },
            if st.clock { "c" } else { "" },
            if st.warned { "W" } else { "" },
        );
        out.extend_from_slice(flags.as_bytes());
        for (p, s) in &st.stamps {
            out.extend_from_slice(b"s\t");
            esc(&mut out, p.as_bytes());
            out.push(b'\t');
            hex_into(&mut out, s);
            out.push(b'\n');
        }
        let lists: [(&[u8], &[SitePath]); 3] =
            [(b"m", &d.missing), (b"i", &d.includes), (b"t", &d.stamped)];
        for (tag, paths) in lists {
            for p in paths {
                out.extend_from_slice(tag);
                out.push(b'\t');
                esc(&mut out, p.as_bytes());
                out.push(b'\n');
            }
        }
        for (f, r) in &st.revved {
            out.extend_from_slice(b"r\t");
            esc(&mut out, f.as_bytes());
            out.push(b'\t');
            esc(&mut out, r.as_bytes());
            out.push(b'\n');
        }
        for g in &d.settings {
            out.extend_from_slice(b"g\t");
            esc(&mut out, g.as_bytes());
            out.push(b'\n');
        }
        if out.len() >= FLUSH_AT {
            w.write_all(&out)?;
            out.clear();
        }
    }
    w.write_all(&out)
}

/// One earlier build, as `builds.json` remembers it.
#[derive(Clone, Debug, Default)]
pub(super) struct Build {
    pub(super) id: String,
    pub(super) built_at: String,
    /// The same time in Unix seconds.
    pub(super) unix: i64,
    /// The revved files it published.
    pub(super) revved: Vec<String>,
}

/// What the output held before this run (empty for a first bake).
#[derive(Clone, Debug, Default)]
pub(crate) struct Previous {
    /// Newest first.
    pub(super) builds: Vec<Build>,
    /// Pages published with the build ID in them: output path to (digest as
    /// published, digest with the placeholder).
    pub(super) with_id: HashMap<String, (Digest, Digest)>,
}

impl Previous {
    /// Reads `builds.json`; anything unreadable is an empty history.
    pub(super) fn parse(text: &[u8]) -> Previous {
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(text) else {
            return Previous::default();
        };
        let s = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
        let builds = v["builds"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|b| Build {
                        id: s(&b["id"]),
                        built_at: s(&b["builtAt"]),
                        unix: b["builtAtUnix"].as_i64().unwrap_or_default(),
                        revved: b["revved"]
                            .as_array()
                            .map(|r| r.iter().map(s).collect())
                            .unwrap_or_default(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let with_id = v["withBuildId"]
            .as_object()
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| {
                        let p = unhex(v["published"].as_str()?)?;
                        let q = unhex(v["placeholder"].as_str()?)?;
                        Some((k.clone(), (p, q)))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Previous { builds, with_id }
    }

    /// The earlier builds whose revved files stay beside `this` one (up to `keep`
    /// builds in all), and those that are dropped. A build with the same ID, or
    /// with the same revved files, is `this` build again.
    pub(super) fn split(&self, this: &Build, keep: usize) -> (Vec<&Build>, Vec<&Build>) {
        let others: Vec<&Build> = self
            .builds
            .iter()
            .filter(|b| (this.id.is_empty() || b.id != this.id) && b.revved != this.revved)
            .collect();
        let n = keep.saturating_sub(1).min(others.len());
        (others[..n].to_vec(), others[n..].to_vec())
    }

    /// The time of the last build, when it had this ID.
    pub(super) fn built_at(&self, id: &str) -> Option<(String, i64)> {
        self.builds
            .first()
            .filter(|b| b.id == id && !b.built_at.is_empty())
            .map(|b| (b.built_at.clone(), b.unix))
    }
}

/// Pretty JSON with a final newline.
fn pretty(value: &serde_json::Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default() + "\n"
}

fn unhex(s: &str) -> Option<Digest> {
    if s.len() != 2 * std::mem::size_of::<Digest>() {
        return None;
    }
    let mut out = Digest::default();
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// `builds.json` for this build: it first, then the earlier ones up to `keep`
/// builds in all.
pub(super) fn builds_json(
    this: &Build,
    previous: &Previous,
    keep: usize,
    with_id: &[(SitePath, Digest, Digest)],
) -> String {
    let mut builds = vec![this.clone()];
    builds.extend(previous.split(this, keep).0.into_iter().cloned());
    let builds: Vec<serde_json::Value> = builds
        .iter()
        .map(|b| {
            serde_json::json!({
                "id": b.id,
                "builtAt": b.built_at,
                "builtAtUnix": b.unix,
                "revved": b.revved,
            })
        })
        .collect();
    let with_id: BTreeMap<String, serde_json::Value> = with_id
        .iter()
        .map(|(p, published, placeholder)| {
            (
                p.display(),
                serde_json::json!({
                    "published": crate::engine::eval::hex(published),
                    "placeholder": crate::engine::eval::hex(placeholder),
                }),
            )
        })
        .collect();
    pretty(&serde_json::json!({
        "version": 1,
        "builds": builds,
        "withBuildId": with_id,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_round_trips_and_is_cut_to_keep() {
        let b = |id: &str| Build {
            id: id.into(),
            built_at: format!("t{id}"),
            unix: 7,
            revved: vec![format!("a.{id}.css")],
        };
        let page = SitePath::from_relative(b"index.html").unwrap();
        let mut prev = Previous::default();
        for id in ["1", "2", "3", "4"] {
            let text = builds_json(&b(id), &prev, 3, &[(page.clone(), [1; 16], [2; 16])]);
            prev = Previous::parse(text.as_bytes());
        }
        let ids: Vec<&str> = prev.builds.iter().map(|b| b.id.as_str()).collect();
        assert_eq!(ids, ["4", "3", "2"]);
        assert_eq!(prev.built_at("4"), Some(("t4".to_string(), 7)));
        assert_eq!(prev.built_at("3"), None);
        assert_eq!(prev.with_id["index.html"], ([1; 16], [2; 16]));
        assert!(Previous::parse(b"not json").builds.is_empty());
    }
}
