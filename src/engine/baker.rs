//! The library entry point: a [`Baker`] configured once (root, variables, error
//! mode, time zone) renders pages to bytes.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use std::io;

use crate::engine::compat::ApacheVersion;
use crate::engine::diag::{Diagnostic, RenderOptions, Sources};
use crate::engine::errors::{Error, TemplateErrors};
use crate::engine::eval::{OnError, Outcome, Rendering, Server, Settings};
use crate::engine::templates::{Cache, Parsed};
use crate::format::timefmt::Zone;
use crate::site::config::{Override, SiteConfig};
use crate::site::fs::{DiskFs, FileSystem, Metadata};
use crate::site::resolve::SitePath;
use crate::site::version::{MtimeFrom, Versions};

/// Renders SSI pages against a document root. Cheap to share between threads.
#[derive(Clone)]
pub struct Baker {
    pub(crate) settings: Settings,
    pub(crate) fs: Arc<dyn FileSystem>,
    pub(crate) root: PathBuf,
    /// The canonical root when reading from disk.
    pub(crate) disk_root: Option<PathBuf>,
    /// Where version times come from (read once, at build).
    pub(crate) versions: Arc<Versions>,
    /// The time given to [`BakerBuilder::now`] (`SOURCE_DATE_EPOCH`), if any.
    #[cfg_attr(not(feature = "bake"), allow(dead_code))]
    pub(crate) source_date_epoch: Option<i64>,
}

/// Configures a [`Baker`]; see [`Baker::builder`].
#[derive(Clone, Default)]
pub struct BakerBuilder {
    root: Option<PathBuf>,
    fs: Option<Arc<dyn FileSystem>>,
    defines: Vec<(Vec<u8>, Vec<u8>)>,
    on_error: OnError,
    legacy_expr: bool,
    template_exts: Option<Vec<Vec<u8>>>,
    zone: Option<Zone>,
    now: Option<i64>,
    apache_only: bool,
    apache_version: ApacheVersion,
    mtime_from: MtimeFrom,
    strict_git: bool,
    directory_index: Option<Vec<Vec<u8>>>,
    server: Server,
    apache_conf: Option<(Vec<u8>, String)>,
}

impl BakerBuilder {
    /// The document root on disk (default: the current directory).
    pub fn root(mut self, root: impl Into<PathBuf>) -> Self {
        self.root = Some(root.into());
        self
    }

    /// Reads through `fs` instead of the disk (for example a
    /// [`MemoryFs`](crate::MemoryFs)).
    pub fn file_system(mut self, fs: impl FileSystem + 'static) -> Self {
        self.fs = Some(Arc::new(fs));
        self
    }

    /// Defines a variable visible to templates (repeatable). Nothing else from the
    /// environment is ever visible.
    pub fn define(mut self, name: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Self {
        self.defines
            .push((name.as_ref().to_vec(), value.as_ref().to_vec()));
        self
    }

    /// What to do where Apache prints its error text (default [`OnError::Fail`]).
    pub fn on_error(mut self, mode: OnError) -> Self {
        self.on_error = mode;
        self
    }

    /// Evaluate `#if` with the legacy expression syntax (`SSILegacyExprParser on`).
    pub fn legacy_expr(mut self, on: bool) -> Self {
        self.legacy_expr = on;
        self
    }

    /// Extensions (without the dot) of included files that are templates
    /// themselves; default `shtml`.
    pub fn template_extensions<I, S>(mut self, exts: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let exts = exts
            .into_iter()
            .map(|e| {
                e.as_ref()
                    .trim_start_matches('.')
                    .to_ascii_lowercase()
                    .into_bytes()
            })
            .collect();
        self.template_exts = Some(exts);
        self
    }

    /// The local time zone for dates (default UTC).
    pub fn time_zone(mut self, zone: Zone) -> Self {
        self.zone = Some(zone);
        self
    }

    /// The time `DATE_LOCAL` and `DATE_GMT` show, in Unix seconds (default: now;
    /// the CLI passes `SOURCE_DATE_EPOCH` here).
    pub fn now(mut self, unix_seconds: i64) -> Self {
        self.now = Some(unix_seconds);
        self
    }

    /// `ServerName`: `SERVER_NAME` and ap_expr's `%{SERVER_NAME}` (undefined when not
    /// given: a bake does not know the host a page will be served as).
    pub fn server_name(mut self, name: impl AsRef<[u8]>) -> Self {
        self.server.name = Some(name.as_ref().to_vec());
        self
    }

    /// The port pages are served on: `SERVER_PORT` (undefined when not given).
    pub fn server_port(mut self, port: u16) -> Self {
        self.server.port = Some(port);
        self
    }

    /// `ServerAdmin`: `SERVER_ADMIN` (undefined when not given).
    pub fn server_admin(mut self, admin: impl AsRef<[u8]>) -> Self {
        self.server.admin = Some(admin.as_ref().to_vec());
        self
    }

    /// Whether pages are served over https: `REQUEST_SCHEME` (`http` or `https`) and,
    /// for https, `HTTPS=on` (both undefined when not given).
    pub fn https(mut self, on: bool) -> Self {
        self.server.https = Some(on);
        self
    }

    /// Reads the server's configuration for the site from an Apache configuration
    /// snippet (a server or virtual-host file: `<Directory>` blocks are mapped onto
    /// the root, `ServerName`, `ServerAdmin`, `AllowOverride`, `DocumentRoot`), on
    /// top of ssibake's Debian-like defaults. `name` is how messages call it.
    pub fn apache_conf(mut self, text: impl Into<Vec<u8>>, name: impl Into<String>) -> Self {
        self.apache_conf = Some((text.into(), name.into()));
        self
    }

    /// `DirectoryIndex`: the files that answer a directory's URL
    /// (`virtual="/docs/"`), the first that exists wins. Default: Debian's list,
    /// `index.html index.cgi index.pl index.php index.xhtml index.htm`.
    pub fn directory_index<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        self.directory_index = Some(names.into_iter().map(|n| n.as_ref().to_vec()).collect());
        self
    }

    /// Refuse ssibake's extensions (`#fhash`, `#frev`, `config hashlen`) as
    /// Apache would: an unknown element or attribute.
    pub fn apache_only(mut self, on: bool) -> Self {
        self.apache_only = on;
        self
    }

    /// The Apache httpd 2.4 release whose output to reproduce where releases
    /// differ (default [`ApacheVersion::LATEST`]): before 2.4.68 an `#if` whose
    /// condition errors still prints its body (see [`ApacheVersion`]).
    pub fn apache_version(mut self, version: ApacheVersion) -> Self {
        self.apache_version = version;
        self
    }

    /// Where the times `flastmod`, `LAST_MODIFIED` and stable output times use
    /// come from (default [`MtimeFrom::Fs`], Apache's file times). With
    /// [`MtimeFrom::Git`] the history is read once, when the baker is built.
    pub fn mtime_from(mut self, from: MtimeFrom) -> Self {
        self.mtime_from = from;
        self
    }

    /// With [`MtimeFrom::Git`], a file without a git time (untracked, modified,
    /// or older than a shallow clone) is an error instead of falling back to its
    /// file time with a warning.
    pub fn strict_git(mut self, on: bool) -> Self {
        self.strict_git = on;
        self
    }

    /// Builds the baker. Fails when the root does not exist, or (with
    /// [`MtimeFrom::Git`]) when the root is not in a git work tree.
    pub fn build(self) -> Result<Baker, Error> {
        let root = self.root.unwrap_or_else(|| PathBuf::from("."));
        let (fs, disk_root): (Arc<dyn FileSystem>, _) = match self.fs {
            Some(fs) => (fs, None),
            None => {
                let disk = DiskFs::new(&root).map_err(|source| Error::Io {
                    path: root.display().to_string(),
                    source,
                })?;
                let canonical = disk.root().to_path_buf();
                (Arc::new(disk), Some(canonical))
            }
        };
        let versions = Versions::new(self.mtime_from, self.strict_git, disk_root.as_deref())
            .map_err(|e| Error::Io {
                path: root.display().to_string(),
                source: io::Error::other(e),
            })?;
        let mut config = match &self.apache_conf {
            None => SiteConfig::debian_defaults(),
            Some((text, name)) => {
                let doc_root = disk_root.clone().unwrap_or_else(|| PathBuf::from("/"));
                SiteConfig::from_apache_conf(text, name, &doc_root)
                    .map_err(|e| Error::Config(e.to_string()))?
            }
        };
        for ext in self.template_exts.iter().flatten() {
            config.add_includes_extension(ext, "--template-ext");
        }
        if self.legacy_expr {
            config.set_override(Override::LegacyExpr(true), "--legacy-expr");
        }
        if let Some(names) = self.directory_index {
            config.set_override(Override::DirectoryIndex(names), "directory_index");
        }
        let mut server = self.server;
        if server.name.is_none() {
            server.name = config.server_name().map(<[u8]>::to_vec);
        }
        if server.admin.is_none() {
            server.admin = config.server_admin().map(<[u8]>::to_vec);
        }
        let source_date_epoch = self.now;
        let now = self.now.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64)
        });
        Ok(Baker {
            settings: Settings {
                on_error: self.on_error,
                legacy_expr: self.legacy_expr,
                defines: self.defines,
                config: Arc::new(config),
                zone: self.zone.unwrap_or_else(Zone::utc),
                now,
                apache_only: self.apache_only,
                apache_version: self.apache_version,
                server,
                watched: Vec::new(),
            },
            fs,
            root,
            disk_root,
            versions: Arc::new(versions),
            source_date_epoch,
        })
    }
}

/// A rendered page.
#[derive(Clone, Debug)]
pub struct Rendered {
    /// The output bytes.
    pub output: Vec<u8>,
    /// Every file the page included or stat'ed (root-relative), with its
    /// version time (its modification time unless
    /// [`mtime_from`](BakerBuilder::mtime_from) says otherwise), in the order
    /// they were used; the page itself first.
    pub inputs: Vec<(String, i64)>,
    /// Files the page included (evaluated or copied in), in order of use.
    pub includes: Vec<String>,
    /// Paths the page looked for that did not exist (creating one changes it).
    pub missing: Vec<String>,
    /// Warnings: the page was rendered, but probably not as meant.
    pub warnings: Option<TemplateErrors>,
}

impl Baker {
    /// A builder with Apache's defaults.
    pub fn builder() -> BakerBuilder {
        BakerBuilder::default()
    }

    /// The root as given to the builder (used to show paths).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where version times come from.
    pub fn mtime_from(&self) -> MtimeFrom {
        self.versions.from()
    }

    /// One warning per file whose git time was unknown and whose file time was
    /// used instead (with [`MtimeFrom::Git`]), for every render so far.
    pub fn version_warnings(&self) -> Vec<String> {
        self.versions.warnings()
    }

    /// A cache for one run.
    pub(crate) fn cache(&self) -> Cache {
        Cache::new(
            self.settings.config.clone(),
            self.settings.apache_only,
            self.versions.clone(),
        )
    }

    /// Maps a path on disk (absolute or relative to the current directory) to a
    /// root-relative page path.
    pub fn page_path(&self, file: &Path) -> Result<String, Error> {
        let Some(root) = &self.disk_root else {
            return Ok(file.to_string_lossy().into_owned());
        };
        let real = file.canonicalize().map_err(|source| Error::Io {
            path: file.display().to_string(),
            source,
        })?;
        let rel = real
            .strip_prefix(root)
            .map_err(|_| Error::OutsideRoot(file.display().to_string()))?;
        Ok(rel.to_string_lossy().into_owned())
    }

    /// The Apache settings in force for the file at `page` (relative to the root) and
    /// where each comes from: ssibake's defaults, `--apache-conf`, a `.htaccess` line
    /// or a flag. A readable table, as `ssibake --explain` prints it.
    pub fn explain(&self, page: &str) -> Result<String, Error> {
        let path = SitePath::from_relative(page.as_bytes())
            .map_err(|_| Error::OutsideRoot(page.to_string()))?;
        self.settings
            .config
            .explain(&*self.fs, &path)
            .map_err(|e| Error::Config(e.to_string()))
    }

    /// Renders the page at `page` (relative to the root, `/`-separated).
    pub fn render(&self, page: &str) -> Result<Rendered, Error> {
        let path = SitePath::from_relative(page.as_bytes())
            .map_err(|_| Error::OutsideRoot(page.to_string()))?;
        let io = |source| Error::Io {
            path: self.root.join(path.to_path()).display().to_string(),
            source,
        };
        let cache = self.cache();
        let meta = match cache.metadata(&*self.fs, &path) {
            Ok(m) => m,
            Err(e) if e.unversioned => return Err(self.not_in_git(&path, &e)),
            Err(e) => return Err(io(io::Error::new(e.kind, e.message))),
        };
        let parsed = cache
            .parsed(&*self.fs, &path)
            .map_err(|e| io(io::Error::new(e.kind, e.message)))?;
        self.render_parsed(&cache, path, parsed, meta)
    }

    /// Renders `source` as if it were the page at `page` with modification time
    /// `mtime` (Unix seconds); includes are read from the root.
    pub fn render_bytes(&self, page: &str, source: &[u8], mtime: i64) -> Result<Rendered, Error> {
        let path = SitePath::from_relative(page.as_bytes())
            .map_err(|_| Error::OutsideRoot(page.to_string()))?;
        let meta = Metadata {
            len: source.len() as u64,
            mtime,
            is_dir: false,
        };
        let cache = self.cache();
        let parsed = Arc::new(Parsed::in_dir(
            &self.settings.config,
            &*self.fs,
            &path.parent(),
            source.into(),
            self.settings.legacy_expr,
            self.settings.apache_only,
        ));
        self.render_parsed(&cache, path, parsed, meta)
    }

    pub(crate) fn template_errors(
        &self,
        path: &SitePath,
        diagnostics: Vec<Diagnostic>,
        more: usize,
        sources: Sources,
    ) -> Error {
        Error::Template(Box::new(self.errors_of(path, diagnostics, more, sources)))
    }

    /// The diagnostics of `path` (errors or warnings), ready to show.
    pub(crate) fn errors_of(
        &self,
        path: &SitePath,
        diagnostics: Vec<Diagnostic>,
        more: usize,
        sources: Sources,
    ) -> TemplateErrors {
        TemplateErrors {
            page: path.display(),
            diagnostics,
            more,
            shared: Vec::new(),
            sources,
            options: RenderOptions {
                root: self.root.clone(),
                color: false,
            },
        }
    }

    /// `--strict-git` and a page without a git time: the same template error
    /// (`not-in-git`) as for a file it stamps, not a failed read.
    fn not_in_git(&self, path: &SitePath, e: &crate::site::cache::IoFailure) -> Error {
        let d = Diagnostic {
            severity: crate::engine::diag::Severity::Error,
            code: crate::engine::diag::Code::NotInGit,
            message: e.message.clone(),
            location: crate::engine::diag::Location {
                file: path.clone(),
                span: ssibake_grammar::Span::new(0, 0),
            },
            help: Some(crate::engine::eval::not_in_git_help(e.shallow).into()),
            included_from: Vec::new(),
        };
        self.template_errors(path, vec![d], 0, Sources::default())
    }

    /// Renders the page at `path` into its raw outcome, errors and all (only a page
    /// that cannot be read is an `Err`).
    #[cfg_attr(not(feature = "bake"), allow(dead_code))]
    pub(crate) fn page_outcome(&self, cache: &Cache, path: &SitePath) -> Result<Outcome, Error> {
        let io = |e: crate::site::cache::IoFailure| Error::Io {
            path: self.root.join(path.to_path()).display().to_string(),
            source: io::Error::new(e.kind, e.message),
        };
        let meta = match cache.metadata(&*self.fs, path) {
            Ok(m) => m,
            // `--strict-git` and a page without a git time: the same template error
            // (`not-in-git`) as for a file it stamps, not a failed read.
            Err(e) if e.unversioned => return Err(self.not_in_git(path, &e)),
            Err(e) => return Err(io(e)),
        };
        let parsed = cache.parsed_once(&*self.fs, path).map_err(io)?;
        Ok(Rendering::render(
            &self.settings,
            &*self.fs,
            cache,
            path.clone(),
            parsed,
            meta.mtime,
        ))
    }

    /// Renders a parsed page: its outcome, or its template errors.
    pub(crate) fn outcome(
        &self,
        cache: &Cache,
        path: &SitePath,
        parsed: Arc<Parsed>,
        meta: Metadata,
    ) -> Result<Outcome, Error> {
        let outcome = Rendering::render(
            &self.settings,
            &*self.fs,
            cache,
            path.clone(),
            parsed,
            meta.mtime,
        );
        if !outcome.diagnostics.is_empty() {
            return Err(self.template_errors(
                path,
                outcome.diagnostics,
                outcome.more_diagnostics,
                outcome.sources,
            ));
        }
        Ok(outcome)
    }

    /// Renders an already parsed page, reading includes through `cache`.
    pub(crate) fn render_parsed(
        &self,
        cache: &Cache,
        path: SitePath,
        parsed: Arc<Parsed>,
        meta: Metadata,
    ) -> Result<Rendered, Error> {
        let outcome = self.outcome(cache, &path, parsed, meta)?;
        let warnings = (!outcome.warnings.is_empty())
            .then(|| self.errors_of(&path, outcome.warnings, 0, outcome.sources.clone()));
        let includes = outcome.included.iter().map(SitePath::display).collect();
        let missing = outcome.missing.iter().map(SitePath::display).collect();
        let mut inputs = vec![(path.display(), meta.mtime)];
        inputs.extend(
            outcome
                .inputs
                .into_iter()
                .map(|(p, m)| (p.display(), m.mtime)),
        );
        Ok(Rendered {
            output: outcome.output,
            inputs,
            includes,
            missing,
            warnings,
        })
    }
}

impl TemplateErrors {
    /// Every diagnostic, rendered for a person (`color` for a terminal).
    pub fn render(&self, color: bool) -> String {
        let opts = RenderOptions {
            color,
            ..self.options.clone()
        };
        let mut text = self
            .diagnostics
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let mut one = d.render(&self.sources, &opts);
                let n = self.pages_with(i);
                if n > 1 {
                    one.push_str(&format!(
                        "  = note: included from {n} pages (first: {}); shown once\n",
                        self.page
                    ));
                }
                one
            })
            .collect::<Vec<_>>()
            .join("\n");
        if self.more > 0 {
            text.push_str(&format!(
                "\n... and {} more error{} in {} (only the first {} are shown)\n",
                self.more,
                if self.more == 1 { "" } else { "s" },
                self.page,
                self.diagnostics.len()
            ));
        }
        text
    }

    /// One JSON object per line per diagnostic.
    pub fn render_json(&self) -> String {
        self.diagnostics
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let extra = format!(
                    ",\"page\":{},\"pages\":{}",
                    crate::engine::diag::json_string(&self.page),
                    self.pages_with(i)
                );
                d.to_json_with(&self.sources, &self.options, &extra) + "\n"
            })
            .collect()
    }

    /// The diagnostics.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    /// The sources the diagnostics point into.
    pub fn sources(&self) -> &Sources {
        &self.sources
    }
}
