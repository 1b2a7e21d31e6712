//! `ssibake.toml`: the optional configuration at the document root, so that a
//! deploy hook is one word. Command-line flags override every key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::engine::eval::OnError;
use crate::site::version::MtimeSource;

/// The file's keys; paths are relative to the root.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct Config {
    /// Bake the tree into this directory (relative to the root).
    pub(crate) out: Option<PathBuf>,
    /// Globs of pages.
    pub(crate) pages: Option<Vec<String>>,
    /// Globs of files neither baked nor copied.
    pub(crate) exclude: Option<Vec<String>>,
    /// Extension of baked pages ("" keeps the template's).
    pub(crate) page_ext: Option<String>,
    /// Extensions of included templates.
    pub(crate) template_ext: Option<Vec<String>>,
    /// `fail` or `errmsg`.
    pub(crate) on_error: Option<OnError>,
    /// The legacy `#if` syntax.
    pub(crate) legacy_expr: Option<bool>,
    /// `SERVER_NAME`.
    pub(crate) server_name: Option<String>,
    /// `SERVER_PORT`.
    pub(crate) server_port: Option<u16>,
    /// `SERVER_ADMIN`.
    pub(crate) server_admin: Option<String>,
    /// `http` or `https`.
    pub(crate) scheme: Option<super::Scheme>,
    /// Variables for templates.
    #[serde(default)]
    pub(crate) defines: BTreeMap<String, String>,
    /// A fixed build ID.
    pub(crate) build_id: Option<String>,
    /// Where to write the version file in the output.
    pub(crate) version_file: Option<String>,
    /// Where to write the client script in the output.
    pub(crate) emit_client: Option<String>,
    /// Where `flastmod` and `LAST_MODIFIED` take times: `fs`, `git` or `epoch`.
    pub(crate) mtime_from: Option<MtimeSource>,
    /// With `mtime-from = "git"`: fail instead of falling back to file times.
    pub(crate) strict_git: Option<bool>,
    /// Refuse ssibake's extensions (`#fhash`, `#frev`, `config hashlen`).
    pub(crate) apache_only: Option<bool>,
    /// Write the asset manifest here (relative to the root).
    pub(crate) manifest: Option<PathBuf>,
    /// Set baked pages' times to the newest version time of their inputs.
    pub(crate) stable_mtimes: Option<bool>,
}

impl Config {
    /// Reads `root/ssibake.toml` if there is one.
    pub(crate) fn load(root: &Path) -> Result<Option<Config>, String> {
        let path = root.join("ssibake.toml");
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("cannot read `{}`: {e}", path.display())),
        };
        toml::from_str(&text)
            .map(Some)
            .map_err(|e| format!("`{}`: {e}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_key_and_refuses_unknown_ones() {
        let c: Config = toml::from_str(
            r#"
            out = "../dist"
            pages = ["**/*.shtml"]
            exclude = ["includes/**"]
            page-ext = "html"
            template-ext = ["shtml", "inc"]
            on-error = "errmsg"
            legacy-expr = true
            version-file = "/version.json"
            emit-client = "/ssibake-update.js"
            mtime-from = "git"
            strict-git = true
            apache-only = false
            manifest = "../dist/rev-manifest.json"
            stable-mtimes = true
            [defines]
            SITE_NAME = "Example"
            "#,
        )
        .unwrap();
        assert_eq!(c.out.as_deref(), Some(Path::new("../dist")));
        assert_eq!(c.on_error, Some(OnError::Errmsg));
        assert_eq!(c.defines["SITE_NAME"], "Example");
        assert_eq!(c.mtime_from, Some(MtimeSource::Git));
        assert_eq!(c.stable_mtimes, Some(true));
        assert!(toml::from_str::<Config>("outt = \"x\"").is_err());
    }
}
