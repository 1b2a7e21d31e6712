//! How a tree bake is asked for: the pages, the exclusions, the extras it writes.

use std::path::PathBuf;
use std::sync::Arc;

/// How a tree is baked. Paths are relative to the document root unless noted.
#[derive(Clone)]
pub struct BakeOptions {
    pub(super) pages: Vec<String>,
    pub(super) exclude: Vec<String>,
    pub(super) page_ext: Option<String>,
    pub(crate) build_id: Option<String>,
    pub(crate) version_file: Option<String>,
    pub(crate) emit_client: Option<String>,
    pub(super) manifest: Option<PathBuf>,
    pub(super) stable_mtimes: bool,
    pub(super) force: bool,
    pub(crate) publish_partials: bool,
    pub(super) deny_warnings: bool,
    pub(super) keep_builds: usize,
    pub(super) full: bool,
    pub(super) fsync: bool,
    pub(super) progress: Option<Arc<dyn Fn() + Send + Sync>>,
}

impl Default for BakeOptions {
    fn default() -> Self {
        BakeOptions {
            pages: Vec::new(),
            exclude: Vec::new(),
            page_ext: Some("html".into()),
            build_id: None,
            version_file: None,
            emit_client: None,
            manifest: None,
            stable_mtimes: false,
            force: false,
            publish_partials: false,
            deny_warnings: false,
            keep_builds: 3,
            full: false,
            fsync: true,
            progress: None,
        }
    }
}

impl std::fmt::Debug for BakeOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BakeOptions")
            .field("pages", &self.pages)
            .field("exclude", &self.exclude)
            .field("page_ext", &self.page_ext)
            .field("build_id", &self.build_id)
            .field("version_file", &self.version_file)
            .field("emit_client", &self.emit_client)
            .field("manifest", &self.manifest)
            .field("stable_mtimes", &self.stable_mtimes)
            .field("publish_partials", &self.publish_partials)
            .field("deny_warnings", &self.deny_warnings)
            .field("keep_builds", &self.keep_builds)
            .finish_non_exhaustive()
    }
}

impl BakeOptions {
    /// Globs (root-relative) selecting the pages to bake. By default (no globs) the
    /// site's Apache configuration decides, file by file, as Apache would: every file
    /// the INCLUDES filter would parse (`.shtml` by default; what the `.htaccess`
    /// files and `--apache-conf` add or take away: `AddOutputFilter INCLUDES .html`,
    /// XBitHack, `Options -Includes` ...).
    pub fn with_pages<I: IntoIterator<Item = S>, S: Into<String>>(mut self, globs: I) -> Self {
        self.pages = globs.into_iter().map(Into::into).collect();
        self
    }

    /// Globs of files neither baked nor copied.
    pub fn with_exclude<I: IntoIterator<Item = S>, S: Into<String>>(mut self, globs: I) -> Self {
        self.exclude = globs.into_iter().map(Into::into).collect();
        self
    }

    /// The extension baked pages get (default `html`); `None` keeps the template's.
    pub fn with_page_ext(mut self, ext: Option<&str>) -> Self {
        self.page_ext = ext.map(|e| e.trim_start_matches('.').to_string());
        self
    }

    /// The build ID templates see as `BUILD_ID` (default: a hash of every input).
    pub fn with_build_id(mut self, id: Option<&str>) -> Self {
        self.build_id = id.map(str::to_string);
        self
    }

    /// Write `{"buildId": ..., "builtAt": ...}` at this output path, after every page.
    pub fn with_version_file(mut self, path: Option<&str>) -> Self {
        self.version_file = path.map(str::to_string);
        self
    }

    /// Write the update-notice client script at this output path.
    pub fn with_client(mut self, path: Option<&str>) -> Self {
        self.emit_client = path.map(str::to_string);
        self
    }

    /// Write the asset manifest at this path (on disk, not in the output tree),
    /// atomically, after every page: a flat JSON map of every stamped or revved
    /// file to its revved path (gulp-rev's `rev-manifest.json` shape), and beside
    /// it `<name>.details.json` with each file's SHA-256, size and version time.
    pub fn with_manifest(mut self, path: Option<impl Into<PathBuf>>) -> Self {
        self.manifest = path.map(Into::into);
        self
    }

    /// Set each baked page's modification time to the newest version time among
    /// its inputs (the page, its includes, the files it stamped), and each revved
    /// copy's to its file's, so servers give the same `Last-Modified` and `ETag`
    /// everywhere.
    pub fn with_stable_mtimes(mut self, on: bool) -> Self {
        self.stable_mtimes = on;
        self
    }

    /// Let [`Baker::bake`](crate::Baker::bake) replace an output that is not its own:
    /// a file, or a non-empty directory without the mark of an earlier bake
    /// (`.ssibake/output`). Without it such an output is refused.
    pub fn with_force(mut self, on: bool) -> Self {
        self.force = on;
        self
    }

    /// Publish partials (templates some page includes) as pages of their own too, as
    /// Apache would serve them. By default they are neither baked alone nor copied.
    pub fn with_publish_partials(mut self, on: bool) -> Self {
        self.publish_partials = on;
        self
    }

    /// Fail the bake (writing nothing) when it has warnings: Apache's error text
    /// shipped in `errmsg` mode, directives in a file included raw, a comment that
    /// looks like a directive, files the previous output had that this one drops.
    pub fn with_deny_warnings(mut self, on: bool) -> Self {
        self.deny_warnings = on;
        self
    }

    /// How many builds' revved files an output keeps (default 3, this one
    /// included), so a page cached elsewhere or open in a tab still finds the
    /// stylesheet it names after a deploy. Older ones are pruned. At least 1.
    pub fn with_keep_builds(mut self, n: usize) -> Self {
        self.keep_builds = n.max(1);
        self
    }

    /// Render every page and copy every file, even where the previous output and
    /// its dependency record show nothing changed.
    pub fn with_full(mut self, on: bool) -> Self {
        self.full = on;
        self
    }

    /// Sync the staging tree to disk before it is swapped in, and the swap itself
    /// after (default on): a power loss leaves the old output or the new one. Off
    /// for scratch bakes.
    pub fn with_fsync(mut self, on: bool) -> Self {
        self.fsync = on;
        self
    }

    /// Called once per page baked, from any thread (for a progress bar).
    pub fn with_progress(mut self, f: impl Fn() + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(f));
        self
    }
}
