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
    /// The Apache release reproduced (`"2.4.67"`).
    pub(crate) apache_version: Option<String>,
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
    /// Publish partials (templates some page includes) as pages too.
    pub(crate) publish_partials: Option<bool>,
    /// Warnings fail the run.
    pub(crate) deny_warnings: Option<bool>,
    /// Builds whose revved files an output keeps.
    pub(crate) keep_builds: Option<usize>,
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
        let config: Config =
            toml::from_str(&text).map_err(|e| format!("`{}`: {e}", path.display()))?;
        config
            .confine()
            .map_err(|e| format!("`{}`: {e}", path.display()))?;
        Ok(Some(config))
    }

    /// The file is part of the site, so anyone who can push can edit it, and the hook
    /// may run as root: the paths it names may not leave the site's own places.
    /// `out` is inside the root or one directory beside it (`../dist`), never the
    /// root's parent or above; `manifest` is inside the root or inside `out`. Other
    /// places can be given on the command line only.
    fn confine(&self) -> Result<(), String> {
        let out = match &self.out {
            Some(out) => {
                let n = lexical(out).ok_or_else(|| {
                    format!(
                        "`out = {:?}` must be a relative path inside the site or beside it (`../dist`); \
                         give other places with --out",
                        out.display()
                    )
                })?;
                let ups = n.iter().take_while(|c| *c == "..").count();
                // `../.ssh` would put the site's files among the deploy user's keys.
                let hidden = n.iter().skip(ups).any(|c| c.starts_with('.'));
                if ups > 1 || (ups == 1 && n.len() < 2) || hidden {
                    return Err(format!(
                        "`out = {:?}` leaves the site's parent directory, names it, or names a hidden \
                         directory; it may be inside the site or one directory beside it (`../dist`); \
                         give other places with --out",
                        out.display()
                    ));
                }
                Some(n)
            }
            None => None,
        };
        if let Some(manifest) = &self.manifest {
            let n = lexical(manifest);
            let inside_root = n
                .as_ref()
                .is_some_and(|n| n.first().is_some_and(|c| c != ".."));
            let inside_out = match (&n, &out) {
                (Some(n), Some(out)) => n.len() > out.len() && n.starts_with(out),
                _ => false,
            };
            if !inside_root && !inside_out {
                return Err(format!(
                    "`manifest = {:?}` must be a relative path inside the site or inside `out`; \
                     give other places with --manifest",
                    manifest.display()
                ));
            }
        }
        Ok(())
    }
}

/// The components of a relative path with `.` dropped and `a/..` folded; `None` for an
/// absolute path (or a Windows prefix). Leading `..` stay.
fn lexical(path: &Path) -> Option<Vec<String>> {
    use std::path::Component;
    let mut out: Vec<String> = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(s) => out.push(s.to_string_lossy().into_owned()),
            Component::CurDir => {}
            Component::ParentDir => {
                if out.last().is_some_and(|l| l != "..") {
                    out.pop();
                } else {
                    out.push("..".into());
                }
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 13: a pushed ssibake.toml must not make the hook write elsewhere.
    #[test]
    fn hostile_paths_are_refused() {
        let check = |text: &str| toml::from_str::<Config>(text).unwrap().confine();
        for ok in [
            "out = \"../dist\"",
            "out = \"dist\"",
            "out = \"../public/html\"",
            "out = \"./build/../dist\"",
            "manifest = \"rev-manifest.json\"",
            "out = \"../dist\"\nmanifest = \"../dist/rev-manifest.json\"",
        ] {
            assert!(check(ok).is_ok(), "{ok}: {:?}", check(ok));
        }
        for hostile in [
            "out = \"/tmp/victim\"",
            "out = \"..\"",
            "out = \"../..\"",
            "out = \"../../home\"",
            "out = \"dist/../../..\"",
            "out = \"../.ssh\"",
            "out = \".git/hooks\"",
            "manifest = \"/tmp/victim\"",
            "manifest = \"../.bashrc\"",
            "manifest = \"../../etc/cron.d/x\"",
            "out = \"../dist\"\nmanifest = \"../dist\"",
            "out = \"../dist\"\nmanifest = \"../other/x.json\"",
        ] {
            let e = check(hostile).unwrap_err();
            assert!(e.contains("give other places with --"), "{hostile}: {e}");
        }
    }

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
