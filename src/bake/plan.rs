//! Plan: which input becomes which output. Every file under the root is listed
//! once and becomes a page (rendered) or an asset (published as it is).

use globset::{Glob, GlobSet, GlobSetBuilder};

use super::options::BakeOptions;
use super::report::{io_err, BakeError};
use crate::engine::baker::Baker;
use crate::engine::errors::Error;
use crate::site::resolve::SitePath;

/// Where the output of one input goes.
#[derive(Clone)]
pub(crate) enum Item {
    Page {
        input: SitePath,
        output: SitePath,
    },
    Asset(SitePath),
    /// A symlink inside the root that leads out of it: published as the same
    /// symlink, never read through.
    Link {
        path: SitePath,
        target: std::path::PathBuf,
    },
}

/// The `.htaccess` files among `items`: the settings every page's record names.
pub(crate) fn settings_files(items: &[Item]) -> Vec<SitePath> {
    items
        .iter()
        .filter_map(|i| match i {
            Item::Asset(p) if p.file_name() == b".htaccess" => Some(p.clone()),
            _ => None,
        })
        .collect()
}

impl Baker {
    /// Lists the inputs and decides what each becomes.
    pub(crate) fn plan(
        &self,
        opts: &BakeOptions,
        skip: &[SitePath],
    ) -> Result<Vec<Item>, BakeError> {
        let pages = (!opts.pages.is_empty())
            .then(|| globset(&opts.pages))
            .transpose()?;
        let exclude = globset(&opts.exclude)?;
        let (files, links) = self
            .fs
            .list_with_links(skip)
            .map_err(|e| BakeError::Other(io_err(&self.root, e)))?;
        let mut items = Vec::with_capacity(files.len() + links.len());
        for (path, target) in links {
            if !exclude.is_match(path.display()) {
                items.push(Item::Link { path, target });
            }
        }
        for path in files {
            let text = path.display();
            if exclude.is_match(&text) || text == "ssibake.toml" {
                continue;
            }
            let is_page = match &pages {
                Some(globs) => globs.is_match(&text),
                None => self
                    .settings
                    .config
                    .file(&*self.fs, &path)
                    .map_err(|e| BakeError::Other(Error::Config(e.to_string())))?
                    .is_parsed(),
            };
            if is_page {
                // The configuration may parse `a.shtml.html` or an XBitHack `.html`:
                // only a `.shtml` name takes the page extension.
                let renamed = pages.is_some()
                    || path
                        .file_name()
                        .rsplit(|&b| b == b'.')
                        .next()
                        .is_some_and(|e| e.eq_ignore_ascii_case(b"shtml"));
                let output = match &opts.page_ext {
                    Some(ext) if renamed => with_extension(&path, ext),
                    _ => path.clone(),
                };
                items.push(Item::Page {
                    input: path,
                    output,
                });
            } else {
                items.push(Item::Asset(path));
            }
        }
        Ok(items)
    }
}

/// Every output path must come from exactly one source: a baked page and a copied
/// file (`page.shtml` and an old `page.html`), or the version file or client on a
/// site file, are an error naming both, before anything is written.
pub(crate) fn check_collisions(items: &[Item], opts: &BakeOptions) -> Result<(), BakeError> {
    let mut sources: std::collections::HashMap<&SitePath, String> =
        std::collections::HashMap::with_capacity(items.len());
    let mut clashes = Vec::new();
    for item in items {
        let (output, source) = match item {
            Item::Page { input, output } => (output, format!("`{}` (baked)", input.display())),
            Item::Asset(p) => (p, format!("`{}` (copied)", p.display())),
            Item::Link { path, .. } => (path, format!("`{}` (a symlink)", path.display())),
        };
        if let Some(first) = sources.get(output) {
            clashes.push(format!(
                "`{}` would come from both {first} and {source}",
                output.display()
            ));
        } else {
            sources.insert(output, source);
        }
    }
    let extras = [
        (&opts.version_file, "--version-file"),
        (&opts.emit_client, "--emit-client"),
    ];
    for (path, flag) in extras {
        let Some(p) = path else { continue };
        if let Ok(p) = output_path(p) {
            if let Some(first) = sources.get(&p) {
                clashes.push(format!(
                    "`{}` would come from both {first} and {flag}",
                    p.display()
                ));
            }
        }
    }
    if clashes.is_empty() {
        return Ok(());
    }
    clashes.sort();
    Err(BakeError::Usage(format!(
        "{} output file{} would have two sources:\n  {}\n\
         remove the stale file, keep the pages' own extension with --keep-ext, or leave one \
         out with --exclude",
        clashes.len(),
        if clashes.len() == 1 { "" } else { "s" },
        clashes.join("\n  ")
    )))
}

pub(super) fn globset(globs: &[String]) -> Result<GlobSet, BakeError> {
    let mut b = GlobSetBuilder::new();
    for g in globs {
        let glob = Glob::new(g).map_err(|e| BakeError::Usage(format!("bad glob `{g}`: {e}")))?;
        b.add(glob);
    }
    b.build()
        .map_err(|e| BakeError::Usage(format!("bad globs: {e}")))
}

/// An option's output path (`/version.json` or `version.json`), root-relative.
pub(crate) fn output_path(p: &str) -> Result<SitePath, Error> {
    SitePath::from_relative(p.as_bytes())
        .ok()
        .filter(|s| !s.as_bytes().is_empty())
        .ok_or_else(|| Error::OutsideRoot(p.to_string()))
}

pub(crate) fn with_extension(path: &SitePath, ext: &str) -> SitePath {
    let bytes = path.as_bytes();
    let name_start = memchr::memrchr(b'/', bytes).map_or(0, |i| i + 1);
    let stem_end = memchr::memrchr(b'.', &bytes[name_start..])
        .filter(|&i| i > 0)
        .map_or(bytes.len(), |i| name_start + i);
    let mut out = bytes[..stem_end].to_vec();
    out.push(b'.');
    out.extend_from_slice(ext.as_bytes());
    SitePath::from_relative(&out).expect("same directory, new extension")
}
