//! Publish: the build identity, the version file, the update-notice client and the
//! asset manifest.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::options::BakeOptions;
use super::plan::output_path;
use super::render::Stamps;
use super::report::{write_err, BakeReport};
use super::write::{create_dirs, write_atomically};
use crate::engine::baker::Baker;
use crate::engine::errors::Error;
use crate::engine::templates::Cache;
use crate::site::resolve::SitePath;

/// One line of the manifest.
pub(super) struct ManifestEntry {
    revved: Vec<String>,
    sha256: String,
    size: u64,
    mtime: i64,
}

impl Baker {
    /// The manifest's entries: every stamped or revved file.
    pub(super) fn manifest_entries(
        &self,
        cache: &Cache,
        stamps: &Stamps,
    ) -> Result<BTreeMap<String, ManifestEntry>, Error> {
        stamps
            .stamped
            .par_iter()
            .map(|path| {
                let io = |e: crate::site::cache::IoFailure| Error::Io {
                    path: self.root.join(path.to_path()).display().to_string(),
                    source: io::Error::new(e.kind, e.message),
                };
                let meta = cache.metadata(&*self.fs, path).map_err(io)?;
                let digest = cache.digest(&*self.fs, path).map_err(io)?;
                let revved = stamps
                    .revved
                    .get(path)
                    .map(|rs| rs.iter().map(SitePath::display).collect())
                    .unwrap_or_default();
                Ok((
                    path.display(),
                    ManifestEntry {
                        revved,
                        sha256: crate::engine::eval::hex(&digest),
                        size: meta.len,
                        mtime: meta.mtime,
                    },
                ))
            })
            .collect()
    }

    /// Writes the manifest and its details file, when asked for.
    pub(super) fn write_manifest(
        &self,
        opts: &BakeOptions,
        cache: &Cache,
        stamps: &Stamps,
        build: Option<&str>,
    ) -> Result<(), Error> {
        let Some(path) = &opts.manifest else {
            return Ok(());
        };
        let entries = self.manifest_entries(cache, stamps)?;
        let (flat, details) = manifest_json(&entries, self.versions.from().name(), build);
        let details_path = details_path(path);
        for (p, text) in [(&details_path, details), (path, flat)] {
            if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                create_dirs(dir).map_err(|e| write_err(dir, e))?;
            }
            write_atomically(p, text.as_bytes()).map_err(|e| write_err(p, e))?;
        }
        Ok(())
    }

    /// The version file and the client script, written after every page.
    pub(super) fn write_extras(
        &self,
        opts: &BakeOptions,
        report: &BakeReport,
        mut write: impl FnMut(&SitePath, &[u8]) -> io::Result<()>,
    ) -> Result<(), Error> {
        if let Some(client) = &opts.emit_client {
            let path = output_path(client)?;
            write(&path, client_script(client).as_bytes())
                .map_err(|e| write_err(Path::new(client), e))?;
        }
        if let Some(version) = &opts.version_file {
            let path = output_path(version)?;
            write(&path, version_json(report).as_bytes())
                .map_err(|e| write_err(Path::new(version), e))?;
        }
        Ok(())
    }
}

/// `rev-manifest.json` → `rev-manifest.details.json`.
pub(super) fn details_path(manifest: &Path) -> PathBuf {
    let name = manifest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "manifest".into());
    let stem = name.strip_suffix(".json").unwrap_or(&name);
    manifest.with_file_name(format!("{stem}.details.json"))
}

/// The flat map (file → revved path, or the file itself when only stamped) and
/// the details document, each pretty-printed with sorted keys and a final newline.
pub(super) fn manifest_json(
    entries: &BTreeMap<String, ManifestEntry>,
    mtime_from: &str,
    build: Option<&str>,
) -> (String, String) {
    // serde_json's map keeps its keys sorted.
    let flat: serde_json::Map<String, serde_json::Value> = entries
        .iter()
        .map(|(k, e)| {
            // Revved with several `hashlen`s: the longest hash (the first on a tie).
            let longest = e.revved.iter().rev().max_by_key(|r| r.len());
            (k.clone(), longest.unwrap_or(k).as_str().into())
        })
        .collect();
    let assets: serde_json::Map<String, serde_json::Value> = entries
        .iter()
        .map(|(k, e)| {
            (
                k.clone(),
                serde_json::json!({
                    "revved": e.revved,
                    "sha256": e.sha256,
                    "size": e.size,
                    "mtime": e.mtime,
                    "build": build,
                }),
            )
        })
        .collect();
    let details = serde_json::json!({
        "mtimeFrom": mtime_from,
        "assets": assets,
    });
    (pretty(&flat.into()), pretty(&details))
}

/// Pretty JSON with a final newline.
pub(super) fn pretty(value: &serde_json::Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default() + "\n"
}

/// `{"buildId": "...", "builtAt": "..."}` followed by a newline.
pub(crate) fn version_json(report: &BakeReport) -> String {
    let value = serde_json::json!({
        "buildId": report.build_id.clone().unwrap_or_default(),
        "builtAt": report.built_at.clone().unwrap_or_default(),
    });
    format!("{value}\n")
}

/// The update-notice client for `--emit-client NAME` (the module for `.mjs`).
pub(crate) fn client_script(name: &str) -> &'static str {
    if name.ends_with(".mjs") {
        crate::bake::client::MODULE
    } else {
        crate::bake::client::CLASSIC
    }
}
