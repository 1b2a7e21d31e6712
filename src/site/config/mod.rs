//! The per-directory Apache configuration: which files mod_include parses (and how
//! many times), their content types, and the SSI settings of each directory, from a
//! server configuration (ssibake's Debian-like defaults, or `--apache-conf`) and the
//! `.htaccess` files of the tree, merged as Apache merges them.
//!
//! - [`parse`]: Apache's configuration syntax (lines, words, containers);
//! - [`model`]: a section's settings, one part per module, and Apache's merges;
//! - [`directives`]: what each directive does, where it is allowed, AllowOverride.
//!
//! The walk follows `server/request.c`: for each directory from `/` down to the
//! file's, the matching `<Directory>` blocks and then that directory's `.htaccess`
//! are merged in order (the first becomes the accumulator itself); the result is
//! merged onto the server's configuration; then the `<Files>` sections gathered on
//! the way (server first, root down) that match the file name are merged, in order,
//! on top. mod_mime's `find_ct` then types the file from every extension of its
//! name, core applies `ForceType`/`SetHandler`, mod_include's fixup handles
//! `server-parsed` and XBitHack, and core adds `SetOutputFilter`. Each INCLUDES
//! filter added on the way parses the output once more; none runs when the file's
//! `Options` lack Includes.
//!
//! The modules `<IfModule>` sees: [`directives::DEFAULT_MODULES`] (Debian's
//! default set plus mod_include), and any `LoadModule` of `--apache-conf`.
//! `.htaccess` files above the document root are not read; `<Directory>` blocks for
//! the root's ancestors apply. Containers ssibake cannot evaluate (`<If>`,
//! `<Location>`, `<DirectoryMatch>`, `<Limit>` …) are an error when they hold a
//! directive ssibake models, and skipped otherwise.

// The model is complete where the evaluator reads only part of it so far (the
// command-line overrides of every setting, FollowSymLinks, SSIETag, a section's own
// path); `--explain` and the tests read the rest.
#![allow(dead_code)]

pub(crate) mod directives;
pub(crate) mod model;
pub(crate) mod parse;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io;
use std::path::Path;
use std::sync::Arc;

use crate::site::cache::OnceMap;
use crate::site::fs::FileSystem;
use crate::site::mime;
use crate::site::resolve::SitePath;

pub(crate) use directives::ConfigError;
use directives::{DirectoryBlock, Reader, Server, Where};
pub(crate) use model::Source;
use model::{
    AllowOverride, Core, Field, PathInfo, Section, Set, XBitHack, OPT_INCLUDES, OPT_INC_WITH_EXEC,
    OPT_SYM_LINKS,
};

/// The content type mod_mime gives a directory.
pub(crate) const DIRECTORY_TYPE: &[u8] = b"httpd/unix-directory";

/// mod_include's defaults (`mod_include.c`).
pub(crate) const DEFAULT_ERRMSG: &[u8] = b"[an error occurred while processing this directive]";
pub(crate) const DEFAULT_TIMEFMT: &[u8] = b"%A, %d-%b-%Y %H:%M:%S %Z";
pub(crate) const DEFAULT_ECHOMSG: &[u8] = b"(none)";
pub(crate) const DEFAULT_START_TAG: &[u8] = b"<!--#";
pub(crate) const DEFAULT_END_TAG: &[u8] = b"-->";

/// Debian's `dir.conf`.
pub(crate) const DEBIAN_DIRECTORY_INDEX: &[&str] = &[
    "index.html",
    "index.cgi",
    "index.pl",
    "index.php",
    "index.xhtml",
    "index.htm",
];

/// What `Options` allows mod_include to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Includes {
    /// No Includes: the INCLUDES filter removes itself (AH01374), the file is raw.
    Off,
    /// IncludesNOEXEC: `#exec` refused, `include` of a non-`text/*` type refused.
    NoExec,
    /// Includes.
    Exec,
}

impl Includes {
    fn from_opts(opts: u8) -> Includes {
        if opts & OPT_INCLUDES == 0 {
            Includes::Off
        } else if opts & OPT_INC_WITH_EXEC != 0 {
            Includes::Exec
        } else {
            Includes::NoExec
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Includes::Off => "off",
            Includes::NoExec => "on, no exec (IncludesNOEXEC)",
            Includes::Exec => "on, with exec (Includes)",
        }
    }
}

/// A setting given on the command line: it wins over every configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Override {
    Includes(Includes),
    LegacyExpr(bool),
    TimeFmt(Vec<u8>),
    ErrMsg(Vec<u8>),
    EchoMsg(Vec<u8>),
    StartTag(Vec<u8>),
    EndTag(Vec<u8>),
    ServerAdmin(Vec<u8>),
    DirectoryIndex(Vec<Vec<u8>>),
    AcceptPathInfo(Option<bool>),
}

/// The settings in force for a directory or a file, each with its source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Settings {
    pub(crate) includes: Includes,
    /// The `Options` lines that made `includes` (empty: the built-in default).
    pub(crate) includes_source: Vec<Set<String>>,
    pub(crate) follow_symlinks: bool,
    pub(crate) xbithack: Set<XBitHack>,
    pub(crate) directory_index: Set<Vec<Vec<u8>>>,
    /// `Some(true)` On, `Some(false)` Off, `None` Default (the handler decides; the
    /// default handler refuses path info).
    pub(crate) accept_path_info: Set<Option<bool>>,
    pub(crate) legacy_expr: Set<bool>,
    pub(crate) timefmt: Set<Option<Vec<u8>>>,
    pub(crate) errmsg: Set<Option<Vec<u8>>>,
    pub(crate) echomsg: Set<Option<Vec<u8>>>,
    pub(crate) start_tag: Set<Vec<u8>>,
    pub(crate) end_tag: Set<Vec<u8>>,
    /// `None`: not configured (Apache says `[no address given]`).
    pub(crate) server_admin: Set<Option<Vec<u8>>>,
}

fn or_default<T: Clone, U>(v: &Option<Set<T>>, f: impl FnOnce(T) -> U, default: U) -> Set<U> {
    match v {
        Some((v, s)) => (f(v.clone()), s.clone()),
        None => (default, Source::Default),
    }
}

impl Settings {
    fn new(section: &Section, shared: &Shared) -> Settings {
        let core = section.core.clone().unwrap_or_else(Core::server);
        let inc = section.include.clone().unwrap_or_default();
        let dir = section.dir.clone().unwrap_or_default();
        let server = &shared.server;
        let mut s = Settings {
            includes: Includes::from_opts(core.opts),
            includes_source: core.opts_lines.clone(),
            follow_symlinks: core.opts & OPT_SYM_LINKS != 0,
            xbithack: or_default(&inc.xbithack, |x| x, XBitHack::Off),
            directory_index: or_default(&dir.index, |x| x, Vec::new()),
            accept_path_info: or_default(
                &core.accept_path_info,
                |p| match p {
                    PathInfo::On => Some(true),
                    PathInfo::Off => Some(false),
                    PathInfo::Default => None,
                },
                None,
            ),
            legacy_expr: or_default(&inc.legacy_expr, |x| x, false),
            timefmt: or_default(&inc.timefmt, Some, None),
            errmsg: or_default(&inc.errmsg, Some, None),
            echomsg: or_default(&inc.echomsg, Some, None),
            start_tag: or_default(&server.start_tag, |x| x, DEFAULT_START_TAG.to_vec()),
            end_tag: or_default(&server.end_tag, |x| x, DEFAULT_END_TAG.to_vec()),
            server_admin: or_default(&server.server_admin, Some, None),
        };
        for (o, flag) in &shared.overrides {
            let src = Source::Flag(flag.clone());
            match o.clone() {
                Override::Includes(i) => {
                    s.includes = i;
                    s.includes_source = vec![(format!("{i:?}"), src)];
                }
                Override::LegacyExpr(v) => s.legacy_expr = (v, src),
                Override::TimeFmt(v) => s.timefmt = (Some(v), src),
                Override::ErrMsg(v) => s.errmsg = (Some(v), src),
                Override::EchoMsg(v) => s.echomsg = (Some(v), src),
                Override::StartTag(v) => s.start_tag = (v, src),
                Override::EndTag(v) => s.end_tag = (v, src),
                Override::ServerAdmin(v) => s.server_admin = (Some(v), src),
                Override::DirectoryIndex(v) => s.directory_index = (v, src),
                Override::AcceptPathInfo(v) => s.accept_path_info = (v, src),
            }
        }
        s
    }

    pub(crate) fn includes(&self) -> Includes {
        self.includes
    }
    pub(crate) fn directory_index(&self) -> &[Vec<u8>] {
        &self.directory_index.0
    }
    pub(crate) fn accept_path_info(&self) -> Option<bool> {
        self.accept_path_info.0
    }
    pub(crate) fn legacy_expr(&self) -> bool {
        self.legacy_expr.0
    }
    /// `None`: mod_include's default [`DEFAULT_TIMEFMT`].
    pub(crate) fn timefmt(&self) -> Option<&[u8]> {
        self.timefmt.0.as_deref()
    }
    /// `None`: mod_include's default [`DEFAULT_ERRMSG`].
    pub(crate) fn errmsg(&self) -> Option<&[u8]> {
        self.errmsg.0.as_deref()
    }
    /// `None`: mod_include's default [`DEFAULT_ECHOMSG`].
    pub(crate) fn echomsg(&self) -> Option<&[u8]> {
        self.echomsg.0.as_deref()
    }
    pub(crate) fn start_tag(&self) -> &[u8] {
        &self.start_tag.0
    }
    pub(crate) fn end_tag(&self) -> &[u8] {
        &self.end_tag.0
    }
    pub(crate) fn server_admin(&self) -> Option<&[u8]> {
        self.server_admin.0.as_deref()
    }
    pub(crate) fn follow_symlinks(&self) -> bool {
        self.follow_symlinks
    }
}

/// How one file is served.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FileInfo {
    pub(crate) name: Vec<u8>,
    /// `None`: no type (no Content-Type header; passes the text/* test).
    pub(crate) content_type: Option<Vec<u8>>,
    pub(crate) content_type_source: Option<Source>,
    /// The handler (`server-parsed` was turned into the INCLUDES filter).
    pub(crate) handler: Option<Set<Vec<u8>>>,
    /// Every INCLUDES filter added, with where it came from.
    pub(crate) filters: Vec<Source>,
    /// The settings in force for this file (`<Files>` sections included): its
    /// directory's, shared, unless a `<Files>` section applies.
    pub(crate) settings: Arc<Settings>,
}

impl FileInfo {
    /// How many times mod_include parses the file: one per INCLUDES filter, none
    /// when `Options` has no Includes.
    pub(crate) fn runs(&self) -> u32 {
        if self.settings.includes == Includes::Off {
            0
        } else {
            self.filters.len() as u32
        }
    }

    pub(crate) fn is_parsed(&self) -> bool {
        self.runs() > 0
    }

    /// True when `include` refuses this file under IncludesNOEXEC (`text/*` test).
    pub(crate) fn is_refused_include(&self) -> bool {
        mime::is_refused_type(self.content_type.as_deref())
    }

    pub(crate) fn includes(&self) -> Includes {
        self.settings.includes
    }

    /// Every setting in force, as rows of (setting, value, source).
    pub(crate) fn rows(&self) -> Vec<ExplainRow> {
        let s = &self.settings;
        let show = |v: &[u8]| String::from_utf8_lossy(v).into_owned();
        let opt = |v: &Option<Vec<u8>>, default: &[u8]| match v {
            Some(v) => show(v),
            None => format!("{} (Apache default)", show(default)),
        };
        let row = |setting: &'static str, value: String, source: String| ExplainRow {
            setting,
            value,
            source,
        };
        let filters = self
            .filters
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        let parsed = match (self.runs(), self.filters.len()) {
            (0, 0) => "no (no INCLUDES filter)".to_string(),
            (0, _) => "no (INCLUDES filter removed: Options has no Includes)".to_string(),
            (1, _) => "yes".to_string(),
            (n, _) => format!("yes, {n} times (the output is parsed again)"),
        };
        let options_source = if s.includes_source.is_empty() {
            Source::Default.to_string()
        } else {
            s.includes_source
                .iter()
                .map(|(text, src)| format!("{text} ({src})"))
                .collect::<Vec<_>>()
                .join("; ")
        };
        vec![
            row(
                "parsed",
                parsed,
                if filters.is_empty() {
                    "-".into()
                } else {
                    filters
                },
            ),
            row(
                "content type",
                self.content_type.as_deref().map_or("(none)".into(), show),
                self.content_type_source
                    .as_ref()
                    .map_or("-".into(), ToString::to_string),
            ),
            row(
                "handler",
                self.handler
                    .as_ref()
                    .map_or("(none)".into(), |(h, _)| show(h)),
                self.handler
                    .as_ref()
                    .map_or("-".into(), |(_, s)| s.to_string()),
            ),
            row(
                "SSI (Options)",
                s.includes.describe().into(),
                options_source.clone(),
            ),
            row(
                "FollowSymLinks",
                if s.follow_symlinks { "on" } else { "off" }.into(),
                options_source,
            ),
            row(
                "XBitHack",
                format!("{:?}", s.xbithack.0).to_lowercase(),
                s.xbithack.1.to_string(),
            ),
            row(
                "DirectoryIndex",
                if s.directory_index.0.is_empty() {
                    "(disabled)".into()
                } else {
                    s.directory_index
                        .0
                        .iter()
                        .map(|n| show(n))
                        .collect::<Vec<_>>()
                        .join(" ")
                },
                s.directory_index.1.to_string(),
            ),
            row(
                "AcceptPathInfo",
                match s.accept_path_info.0 {
                    Some(true) => "on",
                    Some(false) => "off",
                    None => "default (refused by the default handler)",
                }
                .into(),
                s.accept_path_info.1.to_string(),
            ),
            row(
                "SSILegacyExprParser",
                if s.legacy_expr.0 { "on" } else { "off" }.into(),
                s.legacy_expr.1.to_string(),
            ),
            row(
                "SSITimeFormat",
                opt(&s.timefmt.0, DEFAULT_TIMEFMT),
                s.timefmt.1.to_string(),
            ),
            row(
                "SSIErrorMsg",
                opt(&s.errmsg.0, DEFAULT_ERRMSG),
                s.errmsg.1.to_string(),
            ),
            row(
                "SSIUndefinedEcho",
                opt(&s.echomsg.0, DEFAULT_ECHOMSG),
                s.echomsg.1.to_string(),
            ),
            row(
                "SSIStartTag",
                show(&s.start_tag.0),
                s.start_tag.1.to_string(),
            ),
            row("SSIEndTag", show(&s.end_tag.0), s.end_tag.1.to_string()),
            row(
                "ServerAdmin",
                opt(&s.server_admin.0, b"[no address given]"),
                s.server_admin.1.to_string(),
            ),
        ]
    }

    /// The rows as a readable table.
    pub(crate) fn explain(&self) -> String {
        let rows = self.rows();
        let w1 = rows.iter().map(|r| r.setting.len()).max().unwrap_or(0);
        let w2 = rows
            .iter()
            .map(|r| r.value.chars().count())
            .max()
            .unwrap_or(0)
            .min(48);
        let mut out = format!("{}\n", String::from_utf8_lossy(&self.name));
        for r in rows {
            let _ = writeln!(out, "  {:<w1$}  {:<w2$}  {}", r.setting, r.value, r.source);
        }
        out
    }
}

/// One line of `--explain`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ExplainRow {
    pub(crate) setting: &'static str,
    pub(crate) value: String,
    pub(crate) source: String,
}

/// What every directory shares: the server-only settings and the command-line flags.
#[derive(Clone, Debug)]
struct Shared {
    server: Server,
    overrides: Vec<(Override, Arc<str>)>,
    modules: BTreeSet<String>,
}

/// The merged configuration of one directory.
#[derive(Debug)]
pub(crate) struct DirConfig {
    path: SitePath,
    /// The walk's accumulator (`now_merged`) down to this directory.
    walk: Option<Section>,
    /// AllowOverride for this directory's `.htaccess` and its children's.
    allow_override: AllowOverride,
    /// The walk merged onto the server configuration.
    merged: Section,
    settings: Arc<Settings>,
    shared: Arc<Shared>,
}

/// The extensions `find_ct` looks at: after the base name (leading dots belong to it),
/// each dot-separated token, empty ones skipped, lower-cased.
fn extensions(name: &[u8]) -> Vec<Vec<u8>> {
    let start = name.iter().position(|&b| b != b'.').unwrap_or(name.len());
    match name[start..].iter().position(|&b| b == b'.') {
        None => Vec::new(),
        Some(dot) => name[start + dot + 1..]
            .split(|&b| b == b'.')
            .filter(|t| !t.is_empty())
            .map(<[u8]>::to_ascii_lowercase)
            .collect(),
    }
}

fn includes_filters(list: &[u8]) -> usize {
    list.split(|&b| b == b';')
        .filter(|f| f.eq_ignore_ascii_case(b"includes"))
        .count()
}

impl DirConfig {
    /// The directory (root-relative).
    pub(crate) fn path(&self) -> &SitePath {
        &self.path
    }

    /// The directory's own settings (no `<Files>` section applied).
    pub(crate) fn settings(&self) -> &Arc<Settings> {
        &self.settings
    }

    /// How a file in this directory is treated: content type (None = no type), how
    /// many times INCLUDES runs, with provenance. `mode` is the file's permission
    /// bits (XBitHack reads the user-execute bit).
    pub(crate) fn file(&self, name: &[u8], mode: u32) -> FileInfo {
        let sections = self
            .merged
            .core
            .as_ref()
            .map(|c| c.sec_file.clone())
            .unwrap_or_default();
        let mut files: Option<Section> = None;
        for fs in sections.iter().filter(|f| f.matcher.matches(name)) {
            files = Section::accumulate(files, &fs.section);
        }
        let owned;
        let conf = match &files {
            Some(f) => {
                owned = Section::merge(&self.merged, f);
                &owned
            }
            None => &self.merged,
        };
        let settings = match &files {
            Some(_) => Arc::new(Settings::new(conf, &self.shared)),
            None => self.settings.clone(),
        };
        // mod_mime.c:find_ct
        let mut content_type: Option<Set<Vec<u8>>> = None;
        let mut handler: Option<Set<Vec<u8>>> = None;
        let mut filters = Vec::new();
        let mime = conf.mime.clone().unwrap_or_default();
        for ext in extensions(name) {
            let forced = mime.get(&ext, Field::Type);
            if forced.is_none() {
                if let Some(t) = mime::types_config(&ext) {
                    content_type = Some((t.as_bytes().to_vec(), Source::TypesConfig));
                }
            }
            if let Some((t, src)) = forced {
                if !t.is_empty() {
                    content_type = Some((t.clone(), src.clone()));
                }
            }
            if let Some(h) = mime.get(&ext, Field::Handler) {
                handler = Some(h.clone());
            }
            if let Some((list, src)) = mime.get(&ext, Field::OutputFilter) {
                filters.extend(std::iter::repeat(src.clone()).take(includes_filters(list)));
            }
        }
        // core.c:core_override_type (ForceType, SetHandler).
        let core = conf.core.clone().unwrap_or_else(Core::server);
        if let Some((t, src)) = &core.forced_type {
            if t != b"none" {
                content_type = Some((t.clone(), src.clone()));
            }
        }
        if let Some((h, src)) = &core.handler {
            if h != b"none" {
                handler = Some((h.clone(), src.clone()));
            }
        }
        // mod_include.c:include_fixup
        if let Some((_, src)) = handler.clone().filter(|(h, _)| h == b"server-parsed") {
            if content_type.as_ref().map_or(true, |(t, _)| t.is_empty()) {
                content_type = Some((b"text/html".to_vec(), src.clone()));
            }
            filters.push(src.clone());
            handler = Some((b"default-handler".to_vec(), src));
        } else if settings.xbithack.0 != XBitHack::Off
            && mode & 0o100 != 0
            && content_type
                .as_ref()
                .is_some_and(|(t, _)| t.starts_with(b"text/html"))
        {
            filters.push(Source::XBitHack(Box::new(settings.xbithack.1.clone())));
        }
        // core.c:core_insert_filter (SetOutputFilter).
        if let Some((list, src)) = &core.output_filters {
            filters.extend(std::iter::repeat(src.clone()).take(includes_filters(list)));
        }
        FileInfo {
            name: name.to_vec(),
            content_type_source: content_type.as_ref().map(|(_, s)| s.clone()),
            content_type: content_type.map(|(t, _)| t),
            handler,
            filters,
            settings,
        }
    }

    pub(crate) fn includes(&self) -> Includes {
        self.settings.includes()
    }
    pub(crate) fn directory_index(&self) -> &[Vec<u8>] {
        self.settings.directory_index()
    }
    pub(crate) fn accept_path_info(&self) -> Option<bool> {
        self.settings.accept_path_info()
    }
    pub(crate) fn legacy_expr(&self) -> bool {
        self.settings.legacy_expr()
    }
    pub(crate) fn timefmt(&self) -> Option<&[u8]> {
        self.settings.timefmt()
    }
    pub(crate) fn errmsg(&self) -> Option<&[u8]> {
        self.settings.errmsg()
    }
    pub(crate) fn echomsg(&self) -> Option<&[u8]> {
        self.settings.echomsg()
    }
    pub(crate) fn start_tag(&self) -> &[u8] {
        self.settings.start_tag()
    }
    pub(crate) fn end_tag(&self) -> &[u8] {
        self.settings.end_tag()
    }
    pub(crate) fn server_admin(&self) -> Option<&[u8]> {
        self.settings.server_admin()
    }
}

/// The server configuration and a cache of each directory's merged configuration.
pub(crate) struct SiteConfig {
    server_section: Section,
    dirs: Vec<DirectoryBlock>,
    /// The document root's absolute path with a trailing `/`, for `<Directory>`.
    root: Vec<u8>,
    shared: Arc<Shared>,
    cache: OnceMap<SitePath, Result<Arc<DirConfig>, ConfigError>>,
    /// Each file's treatment, stat'ed once per file.
    files: OnceMap<SitePath, Result<Arc<FileInfo>, ConfigError>>,
}

impl std::fmt::Debug for SiteConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SiteConfig")
            .field("root", &String::from_utf8_lossy(&self.root))
            .field("dirs", &self.dirs.len())
            .finish_non_exhaustive()
    }
}

fn absolute_dir(path: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(path.len() + 1);
    for seg in path
        .split(|&b| b == b'/')
        .filter(|s| !s.is_empty() && *s != b".")
    {
        out.push(b'/');
        out.extend_from_slice(seg);
    }
    out.push(b'/');
    out
}

impl SiteConfig {
    /// What a bake assumes when nothing is configured: Debian's `mime.conf` and
    /// `dir.conf` (`AddType text/html .shtml`, `AddOutputFilter INCLUDES .shtml`,
    /// its DirectoryIndex), the embedded mime.types, `Options +IncludesNOEXEC` on top
    /// of the built-in FollowSymLinks, and `AllowOverride All`.
    pub(crate) fn debian_defaults() -> SiteConfig {
        let mut s = Section::default();
        let core = s.core.insert(Core::server());
        core.opts |= OPT_INCLUDES;
        core.opts_add |= OPT_INCLUDES;
        core.opts_lines
            .push(("FollowSymLinks +IncludesNOEXEC".into(), Source::Default));
        core.allow_override = Some(AllowOverride::all(Source::Default));
        let mime = s.mime_mut();
        mime.set(
            b"shtml".to_vec(),
            Field::Type,
            (b"text/html".to_vec(), Source::Default),
        );
        mime.set(
            b"shtml".to_vec(),
            Field::OutputFilter,
            (b"includes".to_vec(), Source::Default),
        );
        s.dir_mut().index = Some((
            DEBIAN_DIRECTORY_INDEX
                .iter()
                .map(|n| n.as_bytes().to_vec())
                .collect(),
            Source::Default,
        ));
        SiteConfig {
            server_section: s,
            dirs: Vec::new(),
            root: b"/var/www/html/".to_vec(),
            shared: Arc::new(Shared {
                server: Server::default(),
                overrides: Vec::new(),
                modules: directives::default_modules(),
            }),
            cache: OnceMap::new(),
            files: OnceMap::new(),
        }
    }

    /// The defaults with a server or virtual-host configuration read on top.
    /// `<Directory>` blocks map onto the document root: the file's `DocumentRoot` if
    /// it has one, else `doc_root` (absolute).
    pub(crate) fn from_apache_conf(
        text: &[u8],
        file_name: &str,
        doc_root: &Path,
    ) -> Result<SiteConfig, ConfigError> {
        let mut config = SiteConfig::debian_defaults();
        let mut modules = config.shared.modules.clone();
        let mut server = Server::default();
        {
            let reader = Reader {
                file: Arc::from(file_name),
                htaccess: false,
                modules: &BTreeSet::new(),
            };
            let nodes = parse::parse(text).map_err(|e| reader.syntax(e))?;
            directives::read_server(
                &reader,
                &nodes,
                &mut modules,
                &mut server,
                &mut config.server_section,
                &mut config.dirs,
            )?;
        }
        config.root = match &server.document_root {
            Some((root, _)) => absolute_dir(root),
            None => absolute_dir(doc_root.as_os_str().as_encoded_bytes()),
        };
        config.shared = Arc::new(Shared {
            server,
            overrides: Vec::new(),
            modules,
        });
        Ok(config)
    }

    /// A command-line setting that wins over every configuration; `flag` names it in
    /// `--explain`. Call before the first [`SiteConfig::dir`].
    pub(crate) fn set_override(&mut self, setting: Override, flag: &str) {
        let shared = Arc::make_mut(&mut self.shared);
        shared.overrides.push((setting, Arc::from(flag)));
        self.cache = OnceMap::new();
        self.files = OnceMap::new();
    }

    /// Everything of the server's configuration that can change a page (the
    /// server section, the `<Directory>` blocks, the flags' overrides), as text, for
    /// the incremental bake to see that nothing changed. `.htaccess` files are
    /// inputs of their own.
    #[cfg_attr(not(feature = "bake"), allow(dead_code))]
    pub(crate) fn fingerprint(&self) -> String {
        format!(
            "{:?}|{:?}|{:?}|{:?}",
            self.server_section, self.dirs, self.shared.overrides, self.shared.server
        )
    }

    /// `AddOutputFilter INCLUDES .ext` at server level, for `--template-ext`.
    pub(crate) fn add_includes_extension(&mut self, ext: &[u8], flag: &str) {
        self.server_section.mime_mut().set(
            ext.trim_ascii_start().to_ascii_lowercase(),
            Field::OutputFilter,
            (b"includes".to_vec(), Source::Flag(Arc::from(flag))),
        );
        self.cache = OnceMap::new();
        self.files = OnceMap::new();
    }

    /// The server's `DocumentRoot` from `--apache-conf`, if it has one.
    pub(crate) fn document_root(&self) -> Option<&[u8]> {
        self.shared
            .server
            .document_root
            .as_ref()
            .map(|(d, _)| &d[..])
    }

    /// The server's `ServerAdmin` from `--apache-conf`, if it has one.
    pub(crate) fn server_admin(&self) -> Option<&[u8]> {
        self.shared
            .server
            .server_admin
            .as_ref()
            .map(|(d, _)| &d[..])
    }

    /// The server's `ServerName` from `--apache-conf`, if it has one.
    pub(crate) fn server_name(&self) -> Option<&[u8]> {
        self.shared.server.server_name.as_ref().map(|(d, _)| &d[..])
    }

    /// The merged configuration of a directory (root..=dir, .htaccess files read
    /// through fs). An error is what Apache answers with 500 for every request in
    /// that directory (and below).
    pub(crate) fn dir(
        &self,
        fs: &dyn FileSystem,
        dir: &SitePath,
    ) -> Result<Arc<DirConfig>, ConfigError> {
        self.cache.get_or_init(dir, || self.compute(fs, dir))
    }

    /// How the file at `path` is served (a directory: `httpd/unix-directory`, never
    /// parsed, with the directory's own settings).
    pub(crate) fn file(
        &self,
        fs: &dyn FileSystem,
        path: &SitePath,
    ) -> Result<Arc<FileInfo>, ConfigError> {
        self.files
            .get_or_init(path, || self.compute_file(fs, path).map(Arc::new))
    }

    fn compute_file(&self, fs: &dyn FileSystem, path: &SitePath) -> Result<FileInfo, ConfigError> {
        // The directory walk (and its .htaccess errors) comes before the file's stat.
        let parent = match path.as_bytes().is_empty() {
            true => None,
            false => Some(self.dir(fs, &path.parent())?),
        };
        let (meta, mode) = fs.metadata_and_mode(path).map_err(|e| io_error(path, &e))?;
        if meta.is_dir {
            let dir = self.dir(fs, path)?;
            return Ok(FileInfo {
                name: path.file_name().to_vec(),
                content_type: Some(DIRECTORY_TYPE.to_vec()),
                content_type_source: Some(Source::Default),
                handler: None,
                filters: Vec::new(),
                settings: dir.settings.clone(),
            });
        }
        let parent = match parent {
            Some(p) => p,
            None => self.dir(fs, &path.parent())?,
        };
        Ok(parent.file(path.file_name(), mode))
    }

    /// INCLUDES filters that the request for the directory `dir` itself gets in its
    /// fixups, which mod_dir's `ap_internal_fast_redirect` to the index file keeps
    /// (`include_fixup` runs before `dir_fixups`): `SetHandler server-parsed`, or
    /// XBitHack with the directory's user-execute bit and a `ForceType text/html`
    /// (observed on Apache 2.4.71: the index of such a directory is parsed).
    pub(crate) fn directory_filters(&self, fs: &dyn FileSystem, dir: &SitePath) -> u32 {
        let (Ok(d), Ok(mode)) = (self.dir(fs, dir), fs.mode(dir)) else {
            return 0;
        };
        let core = d.merged.core.clone().unwrap_or_else(Core::server);
        let set =
            |v: &Option<Set<Vec<u8>>>| v.as_ref().map(|(t, _)| t.clone()).filter(|t| t != b"none");
        if set(&core.handler).is_some_and(|h| h == b"server-parsed") {
            return 1;
        }
        let html = set(&core.forced_type).is_some_and(|t| t.starts_with(b"text/html"));
        u32::from(d.settings.xbithack.0 != XBitHack::Off && mode & 0o100 != 0 && html)
    }

    /// `--explain` for one file: every setting in force and where it came from.
    pub(crate) fn explain(
        &self,
        fs: &dyn FileSystem,
        path: &SitePath,
    ) -> Result<String, ConfigError> {
        let mut info = FileInfo::clone(&*self.file(fs, path)?);
        info.name = path.as_bytes().to_vec();
        Ok(info.explain())
    }

    fn level_path(&self, dir: &SitePath) -> Vec<u8> {
        let mut level = self.root.clone();
        if !dir.as_bytes().is_empty() {
            level.extend_from_slice(dir.as_bytes());
            level.push(b'/');
        }
        level
    }

    /// The `<Directory>` blocks that match one level of the walk.
    fn apply_blocks(&self, level: &[u8], walk: &mut Option<Section>, ao: &mut AllowOverride) {
        let components = level.iter().filter(|&&b| b == b'/').count();
        for block in &self.dirs {
            let matches = block.path.iter().filter(|&&b| b == b'/').count() == components
                && if block.wildcard {
                    crate::format::fnmatch::fnmatch(&block.path, level, true, false)
                        .unwrap_or(false)
                } else {
                    block.path == level
                };
            if matches {
                *walk = Section::accumulate(walk.take(), &block.section);
                if let Some(a) = block
                    .section
                    .core
                    .as_ref()
                    .and_then(|c| c.allow_override.clone())
                {
                    *ao = a;
                }
            }
        }
    }

    fn compute(&self, fs: &dyn FileSystem, dir: &SitePath) -> Result<Arc<DirConfig>, ConfigError> {
        let (mut walk, ao) = if dir.as_bytes().is_empty() {
            let mut walk = None;
            let mut ao = self
                .server_section
                .core
                .as_ref()
                .and_then(|c| c.allow_override.clone())
                .unwrap_or(AllowOverride {
                    classes: 0,
                    ..AllowOverride::all(Source::Default)
                });
            // The root's ancestors, `/` first, then the root itself.
            let mut prefix = 0;
            while let Some(i) = self.root[prefix..].iter().position(|&b| b == b'/') {
                prefix += i + 1;
                let level = self.root[..prefix].to_vec();
                self.apply_blocks(&level, &mut walk, &mut ao);
            }
            (walk, ao)
        } else {
            let parent = self.dir(fs, &dir.parent())?;
            let mut walk = parent.walk.clone();
            let mut ao = parent.allow_override.clone();
            self.apply_blocks(&self.level_path(dir), &mut walk, &mut ao);
            (walk, ao)
        };
        if ao.reads_htaccess() {
            if let Some(section) = self.htaccess(fs, dir, &ao)? {
                walk = Section::accumulate(walk, &section);
            }
        }
        let merged = match &walk {
            Some(w) => Section::merge(&self.server_section, w),
            None => self.server_section.clone(),
        };
        let settings = Arc::new(Settings::new(&merged, &self.shared));
        Ok(Arc::new(DirConfig {
            path: dir.clone(),
            walk,
            allow_override: ao,
            merged,
            settings,
            shared: self.shared.clone(),
        }))
    }

    fn htaccess(
        &self,
        fs: &dyn FileSystem,
        dir: &SitePath,
        ao: &AllowOverride,
    ) -> Result<Option<Section>, ConfigError> {
        let default_names = [b".htaccess".to_vec()];
        let names = match &self.shared.server.access_names {
            Some((names, _)) => &names[..],
            None => &default_names[..],
        };
        for name in names {
            let mut rel = dir.as_bytes().to_vec();
            if !rel.is_empty() {
                rel.push(b'/');
            }
            rel.extend_from_slice(name);
            let Ok(path) = SitePath::from_relative(&rel) else {
                continue;
            };
            let text = match fs.read(&path) {
                Ok(text) => text,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_error(&path, &e)),
            };
            let reader = Reader {
                file: Arc::from(path.display()),
                htaccess: true,
                modules: &self.shared.modules,
            };
            let nodes = parse::parse(&text).map_err(|e| reader.syntax(e))?;
            let mut section = Section::default();
            directives::read_section(&reader, &nodes, Where::Htaccess(ao), false, &mut section)?;
            return Ok(Some(section));
        }
        Ok(None)
    }
}

fn io_error(path: &SitePath, e: &io::Error) -> ConfigError {
    ConfigError {
        file: path.display(),
        line: 0,
        text: String::new(),
        message: format!("cannot read: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site::fs::MemoryFs;

    fn sp(p: &str) -> SitePath {
        SitePath::from_relative(p.as_bytes()).unwrap()
    }

    fn tree(files: &[(&str, &str)]) -> MemoryFs {
        let mut fs = MemoryFs::new();
        for (path, content) in files {
            fs.insert(path, *content, 0);
        }
        fs
    }

    /// The file's treatment; a file the tree does not hold is taken as mode 0644.
    fn info(cfg: &SiteConfig, fs: &MemoryFs, path: &str) -> FileInfo {
        let p = sp(path);
        let got = if fs.metadata(&p).is_ok() {
            cfg.file(fs, &p).map(|i| FileInfo::clone(&i))
        } else {
            cfg.dir(fs, &p.parent())
                .map(|d| d.file(p.file_name(), 0o644))
        };
        got.unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn ct(i: &FileInfo) -> Option<&str> {
        i.content_type
            .as_deref()
            .map(|t| std::str::from_utf8(t).unwrap())
    }

    fn includes(cfg: &SiteConfig, fs: &MemoryFs, dir: &str) -> Includes {
        cfg.dir(fs, &sp(dir)).unwrap().includes()
    }

    fn err(cfg: &SiteConfig, fs: &MemoryFs, dir: &str) -> ConfigError {
        cfg.dir(fs, &sp(dir)).unwrap_err()
    }

    #[test]
    fn site_config_is_shared_between_threads() {
        fn sync<T: Send + Sync>() {}
        sync::<SiteConfig>();
        sync::<DirConfig>();
    }

    // apache-rules.md §2.1: every extension counts, the last known one sets the type,
    // any `.shtml` token adds INCLUDES; leading dots belong to the base name.
    #[test]
    fn find_ct_reads_every_extension() {
        let cfg = SiteConfig::debian_defaults();
        let d = cfg.dir(&MemoryFs::new(), &SitePath::root()).unwrap();
        let cases: &[(&str, Option<&str>, u32)] = &[
            ("notes.shtml.txt", Some("text/plain"), 1),
            ("a.shtml.html", Some("text/html"), 1),
            ("a.html.shtml", Some("text/html"), 1),
            ("a.en.shtml", Some("text/html"), 1),
            ("x.foo.shtml", Some("text/html"), 1),
            ("x.shtml.foo", Some("text/html"), 1),
            ("bad..shtml", Some("text/html"), 1),
            ("x.shtml.", Some("text/html"), 1),
            (".x.shtml", Some("text/html"), 1),
            ("A.SHTML", Some("text/html"), 1),
            ("a.Shtml", Some("text/html"), 1),
            ("x.shtml.png", Some("image/png"), 1),
            ("noext", None, 0),
            ("x.foo", None, 0),
            (".shtml", None, 0),
            ("..shtml", None, 0),
            ("p.html", Some("text/html"), 0),
            // Observed on 2.4.71 for this change: one INCLUDES per `.shtml` token, so
            // `x.shtml.shtml` is parsed twice.
            ("x.shtml.shtml", Some("text/html"), 2),
        ];
        for (name, ty, runs) in cases {
            let i = d.file(name.as_bytes(), 0o644);
            assert_eq!((ct(&i), i.runs()), (*ty, *runs), "{name}");
        }
    }

    // apache-rules.md §2.2: the text/* test on the type find_ct gives.
    #[test]
    fn include_text_test_follows_the_observed_lists() {
        let cfg = SiteConfig::debian_defaults();
        let d = cfg.dir(&MemoryFs::new(), &SitePath::root()).unwrap();
        for name in [
            "img.png",
            "data.json",
            "s.JSON",
            "data.json.foo",
            "data.txt.json",
            "s.png.bak",
            "s.pcf.Z",
            "s.cwl.json",
            "s.svg",
            "s.xml",
            "s.xhtml",
            "s.rtf",
            "s.gz",
            "s.tar.gz",
            "s.ico",
            "s.wasm",
            "x.shtml.png",
        ] {
            assert!(
                d.file(name.as_bytes(), 0o644).is_refused_include(),
                "{name}"
            );
        }
        for name in [
            "noext",
            "x.foo",
            ".json",
            "s.Z",
            "s.en",
            "s.html.en",
            "s.map",
            "s.sh",
            "s.js",
            "s.md",
            "s.c",
            "s.csv",
            "s.ics",
            "s.py",
            "data.json.txt",
        ] {
            assert!(
                !d.file(name.as_bytes(), 0o644).is_refused_include(),
                "{name}"
            );
        }
        assert_eq!(ct(&d.file(b"s.sh", 0o644)), Some("text/x-sh"));
        // A directory is httpd/unix-directory, refused (§1.1).
        let fs = tree(&[("nodir/x.txt", "")]);
        let i = info(&cfg, &fs, "nodir");
        assert_eq!(ct(&i), Some("httpd/unix-directory"));
        assert!(i.is_refused_include());
        assert_eq!(i.runs(), 0);
    }

    fn chain(dirs: &[(&str, &str)]) -> MemoryFs {
        let mut fs = MemoryFs::new();
        for (dir, htaccess) in dirs {
            fs.insert(&format!("{dir}/.htaccess"), *htaccess, 0);
            fs.insert(&format!("{dir}/p.shtml"), "P", 0);
        }
        fs
    }

    // apache-rules.md §6.1, the Options merging table.
    #[test]
    fn options_merge_as_observed() {
        let cfg = SiteConfig::debian_defaults();
        let fs = chain(&[
            ("h/off", "Options -Includes\n"),
            ("h/off/on", "Options +IncludesNOEXEC\n"),
            ("h/exec", "Options +Includes\n"),
            ("h/exec/noexec", "Options +IncludesNOEXEC\n"),
            ("h/exec/downgrade", "Options -Includes +IncludesNOEXEC\n"),
            ("h/exec/minusnoexec", "Options -IncludesNOEXEC\n"),
            ("h/abs", "Options IncludesNOEXEC\n"),
            ("h/absnone", "Options None\n"),
        ]);
        assert_eq!(includes(&cfg, &fs, ""), Includes::NoExec);
        assert_eq!(includes(&cfg, &fs, "h/off"), Includes::Off);
        let raw = info(&cfg, &fs, "h/off/p.shtml");
        assert_eq!(
            (raw.filters.len(), raw.runs()),
            (1, 0),
            "filter added, then removed (AH01374)"
        );
        assert_eq!(includes(&cfg, &fs, "h/off/on"), Includes::NoExec);
        assert_eq!(includes(&cfg, &fs, "h/exec"), Includes::Exec);
        assert_eq!(
            includes(&cfg, &fs, "h/exec/noexec"),
            Includes::Exec,
            "still exec"
        );
        assert_eq!(includes(&cfg, &fs, "h/exec/downgrade"), Includes::NoExec);
        assert_eq!(includes(&cfg, &fs, "h/exec/minusnoexec"), Includes::Off);
        assert_eq!(includes(&cfg, &fs, "h/abs"), Includes::NoExec);
        assert!(cfg.dir(&fs, &sp("h")).unwrap().settings().follow_symlinks());
        assert!(!cfg
            .dir(&fs, &sp("h/abs"))
            .unwrap()
            .settings()
            .follow_symlinks());
        assert_eq!(includes(&cfg, &fs, "h/absnone"), Includes::Off);
        assert_eq!(info(&cfg, &fs, "h/exec/p.shtml").runs(), 1);
    }

    // Observed on 2.4.71 for this change (not in the notes): the "still exec" row of
    // §6.1 holds only under a `+Includes` parent. Under a bare `Options Includes`, a
    // child `+IncludesNOEXEC` does drop exec (core's CVE-2009-1195 rule survives the
    // final merge only when no `+`/`-` accumulation restores it).
    #[test]
    fn includes_noexec_under_a_bare_includes_parent_drops_exec() {
        let cfg = SiteConfig::debian_defaults();
        let fs = chain(&[
            ("z/bare", "Options Includes\n"),
            ("z/bare/noexec", "Options +IncludesNOEXEC\n"),
        ]);
        assert_eq!(includes(&cfg, &fs, "z/bare"), Includes::Exec);
        assert_eq!(includes(&cfg, &fs, "z/bare/noexec"), Includes::NoExec);
    }

    #[test]
    fn options_syntax_errors_carry_file_and_line() {
        let cfg = SiteConfig::debian_defaults();
        let fs = chain(&[
            ("mix", "# c\nOptions +Includes FollowSymLinks\n"),
            ("bad", "Options +Bogus\n"),
            ("none", "Options +None\n"),
        ]);
        let e = err(&cfg, &fs, "mix");
        assert_eq!((e.file.as_str(), e.line), ("mix/.htaccess", 2));
        assert_eq!(
            e.message,
            "Either all Options must start with + or -, or no Option may."
        );
        assert_eq!(
            e.to_string(),
            "mix/.htaccess:2: Either all Options must start with + or -, or no Option may.\n  | Options +Includes FollowSymLinks"
        );
        assert_eq!(err(&cfg, &fs, "bad").message, "Illegal option Bogus");
        assert_eq!(
            err(&cfg, &fs, "none").message,
            "You may not use 'Options +None' or 'Options -None'."
        );
        // Mixing after None is allowed by set_options (`all_none`).
        let ok = chain(&[("n", "Options None +Includes\n")]);
        assert_eq!(includes(&cfg, &ok, "n"), Includes::Exec);
    }

    // apache-rules.md §6.2.
    #[test]
    fn xbithack_needs_the_user_execute_bit_and_text_html() {
        let cfg = SiteConfig::debian_defaults();
        let mut fs = tree(&[
            ("h/xbh/.htaccess", "XBitHack on\n"),
            ("h/xbhfull/.htaccess", "XBitHack full\n"),
            ("h/sof/.htaccess", "SetOutputFilter INCLUDES\n"),
            ("h/xoff/.htaccess", "XBitHack off\n"),
        ]);
        for (p, mode) in [
            ("h/xbh/x.html", 0o744),
            ("h/xbh/nox.html", 0o644),
            ("h/xbh/x.txt", 0o744),
            ("h/xbh/x.shtml", 0o744),
            ("h/xbh/y.shtml", 0o644),
            ("h/xbhfull/x.html", 0o754),
            ("h/xbhfull/g.html", 0o654),
            ("h/sof/p.shtml", 0o644),
            ("h/xoff/x.html", 0o755),
        ] {
            fs.insert(p, "", 0);
            fs.set_mode(p, mode);
        }
        let runs = |p: &str| info(&cfg, &fs, p).runs();
        assert_eq!(runs("h/xbh/x.html"), 1);
        assert_eq!(runs("h/xbh/nox.html"), 0);
        assert_eq!(runs("h/xbh/x.txt"), 0);
        assert_eq!(runs("h/xbh/x.shtml"), 2, "INCLUDES twice: parsed twice");
        assert_eq!(runs("h/xbh/y.shtml"), 1);
        assert_eq!(runs("h/xbhfull/x.html"), 1);
        assert_eq!(
            runs("h/xbhfull/g.html"),
            0,
            "full: the group bit affects headers only"
        );
        assert_eq!(runs("h/sof/p.shtml"), 2);
        assert_eq!(runs("h/xoff/x.html"), 0);
        let x = info(&cfg, &fs, "h/xbh/x.shtml");
        assert_eq!(x.filters[0], Source::Default);
        assert!(
            matches!(&x.filters[1], Source::XBitHack(s) if s.to_string() == "h/xbh/.htaccess:1")
        );
    }

    // apache-rules.md §6.3.
    #[test]
    fn mod_mime_and_core_directives_in_htaccess() {
        let cfg = SiteConfig::debian_defaults();
        let fs = tree(&[
            ("aof/.htaccess", "AddOutputFilter INCLUDES .html\n"),
            ("aof/child/.htaccess", "RemoveOutputFilter .html\n"),
            (
                "files/.htaccess",
                "<Files \"p.html\">\n AddOutputFilter INCLUDES .html\n</Files>\n",
            ),
            (
                "fm/.htaccess",
                "<FilesMatch \"^q\\.(html|txt)$\">\nSetOutputFilter INCLUDES\n</FilesMatch>\n",
            ),
            ("sof/.htaccess", "SetOutputFilter INCLUDES\n"),
            ("ah/.htaccess", "AddHandler server-parsed .ssi\n"),
            ("ft/.htaccess", "ForceType text/plain\n"),
            ("rt/.htaccess", "RemoveType .png\n"),
            (
                "at/.htaccess",
                "AddType text/plain .json\nAddType image/png .txt\n",
            ),
            ("dt/.htaccess", "DefaultType text/plain\n"),
            ("di/.htaccess", "DirectoryIndex index.shtml\n"),
            ("dis/.htaccess", "DirectoryIndex disabled\n"),
            (
                "two/.htaccess",
                "DirectoryIndex a.html\nDirectoryIndex b.html c.html\n",
            ),
            ("api/.htaccess", "AcceptPathInfo On\n"),
            ("api/off/.htaccess", "AcceptPathInfo Off\n"),
        ]);
        let i = |p: &str| info(&cfg, &fs, p);
        assert_eq!(i("aof/p.html").runs(), 1);
        assert_eq!(i("aof/child/p.html").runs(), 0);
        assert_eq!(i("aof/child/p.shtml").runs(), 1);
        assert_eq!(i("files/p.html").runs(), 1);
        assert_eq!(i("files/o.html").runs(), 0);
        assert_eq!(
            (ct(&i("fm/q.txt")), i("fm/q.txt").runs()),
            (Some("text/plain"), 1)
        );
        assert_eq!(i("fm/q.html").runs(), 1);
        assert_eq!(i("fm/r.html").runs(), 0);
        assert_eq!(i("fm/q.shtml").runs(), 1);
        assert_eq!(
            (ct(&i("sof/p.txt")), i("sof/p.txt").runs()),
            (Some("text/plain"), 1)
        );
        assert_eq!(
            (ct(&i("sof/p.png")), i("sof/p.png").runs()),
            (Some("image/png"), 1)
        );
        assert_eq!(
            (ct(&i("ah/p.ssi")), i("ah/p.ssi").runs()),
            (Some("text/html"), 1)
        );
        assert_eq!(
            (ct(&i("ah/q.ssi.txt")), i("ah/q.ssi.txt").runs()),
            (Some("text/plain"), 1)
        );
        assert_eq!(
            (ct(&i("ft/p.shtml")), i("ft/p.shtml").runs()),
            (Some("text/plain"), 1)
        );
        assert!(!i("ft/img.png").is_refused_include());
        assert_eq!(ct(&i("rt/img.png")), None);
        assert!(!i("rt/img.png").is_refused_include());
        assert_eq!(ct(&i("at/d.json")), Some("text/plain"));
        assert!(i("at/t.txt").is_refused_include());
        assert_eq!(ct(&i("dt/noext")), None);
        let dir = |p: &str| cfg.dir(&fs, &sp(p)).unwrap();
        assert_eq!(dir("di").directory_index(), [b"index.shtml".to_vec()]);
        assert_eq!(
            dir("").directory_index().len(),
            DEBIAN_DIRECTORY_INDEX.len(),
            "Debian's list"
        );
        assert!(dir("dis").directory_index().is_empty());
        assert_eq!(
            dir("two").directory_index().len(),
            3,
            "lines of one section add up"
        );
        assert_eq!(dir("").accept_path_info(), None);
        assert_eq!(dir("api").accept_path_info(), Some(true));
        assert_eq!(dir("api/off").accept_path_info(), Some(false));
    }

    // Observed on 2.4.71 for this change: mod_include 2.4 has no trace of the
    // documented `text/x-server-parsed-html` magic type: served raw with that type.
    #[test]
    fn x_server_parsed_html_is_only_a_type() {
        let cfg = SiteConfig::debian_defaults();
        let fs = tree(&[("sp/.htaccess", "AddType text/x-server-parsed-html .sp\n")]);
        let i = info(&cfg, &fs, "sp/p.sp");
        assert_eq!((ct(&i), i.runs()), (Some("text/x-server-parsed-html"), 0));
    }

    // Observed on 2.4.71 for this change (server-level AddOutputFilter, as in Debian's
    // mime.conf): mod_mime applies a section's Remove* lists when that section is
    // merged and then forgets them, so a child .htaccess with any mod_mime directive
    // brings `.shtml` parsing back, while a child without one keeps it off.
    #[test]
    fn remove_output_filter_is_lost_under_a_child_with_mime_directives() {
        let cfg = SiteConfig::debian_defaults();
        let fs = tree(&[
            (".htaccess", "RemoveOutputFilter .shtml\n"),
            ("sub/.htaccess", "SSIErrorMsg x\n"),
            ("sub2/.htaccess", "AddType text/plain .foo\n"),
        ]);
        assert_eq!(info(&cfg, &fs, "p.shtml").runs(), 0);
        assert_eq!(info(&cfg, &fs, "sub/p.shtml").runs(), 0);
        assert_eq!(info(&cfg, &fs, "nohtaccess/p.shtml").runs(), 0);
        assert_eq!(info(&cfg, &fs, "sub2/p.shtml").runs(), 1);
    }

    // Observed on 2.4.71 for this change: <Files> sections apply after every
    // directory's own directives, so a parent's <Files> wins over a child's Options.
    #[test]
    fn files_sections_apply_after_the_directory_walk() {
        let cfg = SiteConfig::debian_defaults();
        let fs = tree(&[
            ("fo/.htaccess", "<Files \"p.shtml\">\nOptions -Includes\n</Files>\n<Files *.txt>\nSSIErrorMsg T\n</Files>\n"),
            ("fo/sub/.htaccess", "Options +Includes\n"),
        ]);
        let p = info(&cfg, &fs, "fo/sub/p.shtml");
        assert_eq!((p.includes(), p.runs()), (Includes::Off, 0));
        assert_eq!(info(&cfg, &fs, "fo/sub/q.shtml").includes(), Includes::Exec);
        assert_eq!(
            info(&cfg, &fs, "fo/a.txt").settings.errmsg(),
            Some(&b"T"[..])
        );
        assert_eq!(info(&cfg, &fs, "fo/a.html").settings.errmsg(), None);
        assert_eq!(
            cfg.dir(&fs, &sp("fo/sub")).unwrap().includes(),
            Includes::Exec
        );
    }

    // apache-rules.md §6.4.
    #[test]
    fn mod_include_directives_per_directory() {
        let cfg = SiteConfig::debian_defaults();
        let fs = tree(&[
            ("tf/.htaccess", "SSITimeFormat \"%Y-%m-%d\"\n"),
            ("em/.htaccess", "SSIErrorMsg \"<!-- oops -->\"\n"),
            ("ue/.htaccess", "SSIUndefinedEcho \"[undef]\"\n"),
            ("leg/.htaccess", "SSILegacyExprParser on\n"),
            ("leg/off/.htaccess", "SSILegacyExprParser Off\n"),
            ("ifm/.htaccess", "<IfModule include_module>\nSSIErrorMsg [ifmod]\n</IfModule>\n<IfModule mod_include.c>\nSSIUndefinedEcho [undef-c]\n</IfModule>\n<IfModule !include_module>\nSSITimeFormat no\n</IfModule>\n<IfModule mod_rewrite.c>\nSSILegacyExprParser on\n</IfModule>\n<IfModule !rewrite_module>\nXBitHack on\n</IfModule>\n"),
            ("st/.htaccess", "SSIStartTag <%\n"),
            ("et/.htaccess", "SSIEndTag %>\n"),
            ("sa/.htaccess", "ServerAdmin x@y\n"),
            ("ao/.htaccess", "AllowOverride None\n"),
            ("bogus/.htaccess", "BogusDirective x\nRewriteRule ^ - [L]\nHeader set X y\nRequire all granted\n"),
        ]);
        let dir = |p: &str| cfg.dir(&fs, &sp(p)).unwrap();
        assert_eq!(dir("tf").timefmt(), Some(&b"%Y-%m-%d"[..]));
        assert_eq!(dir("").timefmt(), None);
        assert_eq!(dir("tf2").timefmt(), None);
        assert_eq!(dir("em").errmsg(), Some(&b"<!-- oops -->"[..]));
        assert_eq!(dir("ue").echomsg(), Some(&b"[undef]"[..]));
        assert!(dir("leg").legacy_expr());
        assert!(dir("leg/x").legacy_expr());
        assert!(!dir("leg/off").legacy_expr());
        assert!(!dir("").legacy_expr());
        let ifm = dir("ifm");
        assert_eq!(ifm.errmsg(), Some(&b"[ifmod]"[..]));
        assert_eq!(ifm.echomsg(), Some(&b"[undef-c]"[..]));
        assert_eq!(ifm.timefmt(), None);
        assert!(!ifm.legacy_expr());
        assert_eq!(ifm.settings().xbithack.0, XBitHack::On);
        assert_eq!(err(&cfg, &fs, "st").message, "SSIStartTag not allowed here");
        assert_eq!(
            err(&cfg, &fs, "st/below").message,
            "SSIStartTag not allowed here"
        );
        assert_eq!(err(&cfg, &fs, "et").message, "SSIEndTag not allowed here");
        assert_eq!(err(&cfg, &fs, "sa").message, "ServerAdmin not allowed here");
        assert_eq!(
            err(&cfg, &fs, "ao").message,
            "AllowOverride not allowed here"
        );
        assert!(
            cfg.dir(&fs, &sp("bogus")).is_ok(),
            "unmodelled directives are skipped"
        );
        assert_eq!(dir("").start_tag(), b"<!--#");
        assert_eq!(dir("").end_tag(), b"-->");
        assert_eq!(dir("").server_admin(), None);
        let e = cfg.file(&fs, &sp("st/p.shtml")).unwrap_err();
        assert_eq!(
            (e.file.as_str(), e.line, e.text.as_str()),
            ("st/.htaccess", 1, "SSIStartTag <%")
        );
    }

    fn conf(text: &str) -> SiteConfig {
        SiteConfig::from_apache_conf(text.as_bytes(), "site.conf", Path::new("/srv/site"))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    // apache-rules.md §6.5: which AllowOverride class each directive needs.
    #[test]
    fn allow_override_classes() {
        let all = [
            ("o", "Options +Includes\n"),
            ("x", "XBitHack on\n"),
            ("f", "AddType text/plain .json\n"),
            ("f2", "AcceptPathInfo On\n"),
            ("f3", "ForceType text/plain\n"),
            ("f4", "SetOutputFilter INCLUDES\n"),
            ("f5", "RemoveType .png\n"),
            ("f6", "AddHandler server-parsed .ssi\n"),
            ("i", "DirectoryIndex index.shtml\n"),
            ("l", "SSILegacyExprParser on\n"),
            ("any", "SSIErrorMsg e\nSSITimeFormat t\nSSIUndefinedEcho u\n"),
            ("ifm", "<IfModule mod_include.c>\nSSIErrorMsg e\n</IfModule>\n<Files x>\nSSIErrorMsg e\n</Files>\n"),
        ];
        let fs = chain(&all);
        let needs = |class: &str, ok: &[&str]| {
            let cfg = conf(&format!(
                "<Directory \"/srv/site\">\n  AllowOverride {class}\n</Directory>\n"
            ));
            for (dir, _) in all {
                let got = cfg.dir(&fs, &sp(dir));
                assert_eq!(
                    got.is_ok(),
                    ok.contains(&dir),
                    "AllowOverride {class}, {dir}: {got:?}"
                );
            }
        };
        needs("Options", &["o", "x", "any", "ifm"]);
        needs(
            "FileInfo",
            &["f", "f2", "f3", "f4", "f5", "f6", "any", "ifm"],
        );
        needs("Indexes", &["i", "any", "ifm"]);
        needs("Limit", &["l", "any", "ifm"]);
        needs("AuthConfig", &["any", "ifm"]);
        needs(
            "All",
            &[
                "o", "x", "f", "f2", "f3", "f4", "f5", "f6", "i", "l", "any", "ifm",
            ],
        );
        let cfg = conf("<Directory /srv/site>\nAllowOverride FileInfo\n</Directory>\n");
        let e = cfg.dir(&fs, &sp("o")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "o/.htaccess:1: Options not allowed here\n  | Options +Includes"
        );
        // Options=IncludesNOEXEC: +Includes refused per option, XBitHack allowed.
        let cfg =
            conf("<Directory /srv/site>\nAllowOverride Options=IncludesNOEXEC\n</Directory>\n");
        assert_eq!(
            err(&cfg, &fs, "o").message,
            "Option Includes not allowed here"
        );
        assert!(cfg.dir(&fs, &sp("x")).is_ok());
        let noexec = chain(&[("n", "Options +IncludesNOEXEC\n")]);
        assert!(cfg.dir(&noexec, &sp("n")).is_ok());
        let cfg = conf("<Directory /srv/site>\nAllowOverride Options=Includes\n</Directory>\n");
        assert!(cfg.dir(&fs, &sp("o")).is_ok());
        assert!(cfg.dir(&noexec, &sp("n")).is_ok());
    }

    #[test]
    fn allow_override_none_ignores_htaccess_and_nonfatal_skips() {
        let fs = chain(&[
            ("broken", "<Files x>\n"),
            ("o", "Options -Includes\nSSIErrorMsg e\n"),
        ]);
        let cfg = conf("<Directory /srv/site>\nAllowOverride None\n</Directory>\n");
        assert!(cfg.dir(&fs, &sp("broken")).is_ok());
        assert_eq!(includes(&cfg, &fs, "o"), Includes::NoExec);
        let cfg =
            conf("<Directory /srv/site>\nAllowOverride Limit Nonfatal=Override\n</Directory>\n");
        let o = cfg.dir(&fs, &sp("o")).unwrap();
        assert_eq!(
            (o.includes(), o.errmsg()),
            (Includes::NoExec, Some(&b"e"[..]))
        );
        // A deeper <Directory> changes it for its subtree only.
        let cfg = conf("<Directory /srv/site>\nAllowOverride None\n</Directory>\n<Directory /srv/site/o>\nAllowOverride All\n</Directory>\n");
        assert_eq!(includes(&cfg, &fs, "o"), Includes::Off);
        // AllowOverrideList names directives allowed whatever the classes.
        let cfg = conf("<Directory /srv/site>\nAllowOverride None\nAllowOverrideList SSIErrorMsg\n</Directory>\n");
        let e = err(&cfg, &fs, "o");
        assert_eq!(e.message, "Options not allowed here");
    }

    #[test]
    fn apache_conf_maps_directories_onto_the_root() {
        let text = "\
ServerName example.test
<VirtualHost *:80>
    ServerAdmin webmaster@example.test
    DocumentRoot /var/www/site
    SSIStartTag <%
    SSIEndTag %>
    <Directory /var/www>
        Options +Includes
    </Directory>
    <Directory \"/var/www/site/docs\">
        SSITimeFormat \"%F\"
        XBitHack full
    </Directory>
    <Directory /elsewhere>
        SSIErrorMsg nope
    </Directory>
    <Directory /var/www/site/docs/*/deep>
        SSIUndefinedEcho deep
    </Directory>
    <IfModule mod_include.c>
        AddOutputFilter INCLUDES .html
    </IfModule>
    RewriteEngine on
    <Location /x>
        Header set A b
    </Location>
</VirtualHost>
";
        let cfg = SiteConfig::from_apache_conf(text.as_bytes(), "site.conf", Path::new("/ignored"))
            .unwrap();
        assert_eq!(cfg.document_root(), Some(&b"/var/www/site"[..]));
        assert_eq!(cfg.server_name(), Some(&b"example.test"[..]));
        let fs = tree(&[("docs/a/deep/x.html", "")]);
        let root = cfg.dir(&fs, &SitePath::root()).unwrap();
        assert_eq!(
            root.includes(),
            Includes::Exec,
            "an ancestor's <Directory> applies"
        );
        assert_eq!(root.start_tag(), b"<%");
        assert_eq!(root.end_tag(), b"%>");
        assert_eq!(root.server_admin(), Some(&b"webmaster@example.test"[..]));
        assert_eq!(
            root.errmsg(),
            None,
            "a <Directory> outside the root is ignored"
        );
        let docs = cfg.dir(&fs, &sp("docs")).unwrap();
        assert_eq!(docs.timefmt(), Some(&b"%F"[..]));
        assert_eq!(
            cfg.dir(&fs, &sp("docs/a/deep")).unwrap().echomsg(),
            Some(&b"deep"[..])
        );
        assert_eq!(cfg.dir(&fs, &sp("docs/a")).unwrap().echomsg(), None);
        assert_eq!(info(&cfg, &fs, "x.html").runs(), 1);
        let explain = cfg.explain(&fs, &sp("docs/a/deep/x.html")).unwrap();
        assert!(explain.contains("--apache-conf site.conf:11"), "{explain}");
        assert!(explain.contains("--apache-conf site.conf:5"), "{explain}");
    }

    #[test]
    fn apache_conf_errors() {
        let e = |text: &str| {
            SiteConfig::from_apache_conf(text.as_bytes(), "c.conf", Path::new("/srv")).unwrap_err()
        };
        let x = e("<Directory /srv>\n  SSIStartTag x\n</Directory>\n");
        assert_eq!(
            (x.line, x.message.as_str()),
            (2, "SSIStartTag not allowed here")
        );
        assert_eq!(
            e("AllowOverride All\n").message,
            "AllowOverride not allowed here"
        );
        assert_eq!(
            e("<Directory /srv>\n").message,
            "<Directory> was not closed."
        );
        assert_eq!(e("<If \"true\">\nOptions +Includes\n</If>\n").line, 1);
        assert!(e("<If \"true\">\nOptions +Includes\n</If>\n")
            .message
            .contains("cannot evaluate <If>"));
        assert_eq!(
            e("SSIStartTag \"a b\"\n").message,
            "SSIStartTag may not contain any whitespaces"
        );
        assert_eq!(
            e("<Directory relative>\n</Directory>\n").message,
            "<Directory> path must be absolute: relative"
        );
        // Skipped without a word: <If> without modelled directives, unknown directives.
        conf("<If \"true\">\nHeader set A b\n</If>\nRewriteRule ^ - [L]\nTypesConfig /etc/mime.types\n");
    }

    #[test]
    fn htaccess_parse_errors_carry_file_and_line() {
        let cfg = SiteConfig::debian_defaults();
        let fs = tree(&[
            ("a/.htaccess", "XBitHack on\n<Files x>\nXBitHack on\n"),
            ("b/.htaccess", "\n\n<FilesMatch \"(?=x)\">\n</FilesMatch>\n"),
            ("c/.htaccess", "XBitHack maybe\n"),
            ("d/.htaccess", "SSIErrorMsg a b\n"),
            ("e/.htaccess", "<Directory /x>\n</Directory>\n"),
            ("f/.htaccess", "<Files a>\n<Files b>\n</Files>\n</Files>\n"),
            ("g/.htaccess", "AddOutputFilterByType INCLUDES text/html\n"),
        ]);
        let a = err(&cfg, &fs, "a");
        assert_eq!(
            (a.file.as_str(), a.line, a.message.as_str()),
            ("a/.htaccess", 2, "<Files> was not closed.")
        );
        let b = err(&cfg, &fs, "b");
        assert_eq!(b.line, 3);
        assert!(
            b.message
                .starts_with("ssibake cannot translate this PCRE regular expression"),
            "{}",
            b.message
        );
        assert_eq!(
            err(&cfg, &fs, "c").message,
            "XBitHack must be set to Off, On, or Full"
        );
        assert_eq!(
            err(&cfg, &fs, "d").message,
            "SSIErrorMsg takes one argument"
        );
        assert_eq!(err(&cfg, &fs, "e").message, "<Directory> not allowed here");
        assert_eq!(err(&cfg, &fs, "f").line, 2);
        assert!(err(&cfg, &fs, "g")
            .message
            .contains("AddOutputFilterByType"));
        // A broken .htaccess breaks its whole subtree, not its siblings.
        assert_eq!(err(&cfg, &fs, "a/sub/deeper").file, "a/.htaccess");
        assert!(cfg.dir(&fs, &sp("h")).is_ok());
    }

    #[test]
    fn files_patterns() {
        let cfg = SiteConfig::debian_defaults();
        let fs = tree(&[(
            ".htaccess",
            "<Files ~ \"\\.inc$\">\nAddOutputFilter INCLUDES .inc\n</Files>\n<Files \"*.htm\">\nSetOutputFilter INCLUDES\n</Files>\n<FilesMatch \"(?i)^README\">\nForceType text/plain\n</FilesMatch>\n",
        )]);
        assert_eq!(info(&cfg, &fs, "a.inc").runs(), 1);
        assert_eq!(info(&cfg, &fs, "a.htm").runs(), 1);
        assert_eq!(info(&cfg, &fs, "a.html").runs(), 0);
        assert_eq!(ct(&info(&cfg, &fs, "readme.png")), Some("text/plain"));
        assert_eq!(
            info(&cfg, &fs, "sub/a.inc").runs(),
            1,
            "a parent's <Files> applies below"
        );
    }

    #[test]
    fn overrides_win_and_explain_shows_sources() {
        let mut cfg = SiteConfig::debian_defaults();
        let fs = tree(&[
            (
                "d/.htaccess",
                "Options +Includes\nSSITimeFormat %s\nSSIErrorMsg E\n",
            ),
            ("d/p.shtml", ""),
        ]);
        let text = cfg.explain(&fs, &sp("d/p.shtml")).unwrap();
        assert!(text.starts_with("d/p.shtml\n"), "{text}");
        for needle in [
            "parsed",
            "ssibake default",
            "on, with exec (Includes)",
            "Options +Includes (d/.htaccess:1)",
            "%s",
            "d/.htaccess:2",
            "index.html index.cgi",
            "[no address given] (Apache default)",
            "(none) (Apache default)",
        ] {
            assert!(text.contains(needle), "{needle} in\n{text}");
        }
        cfg.set_override(Override::TimeFmt(b"%F".to_vec()), "--timefmt");
        cfg.set_override(Override::Includes(Includes::NoExec), "--no-exec");
        let d = cfg.dir(&fs, &sp("d")).unwrap();
        assert_eq!(d.timefmt(), Some(&b"%F"[..]));
        assert_eq!(d.includes(), Includes::NoExec);
        assert_eq!(d.errmsg(), Some(&b"E"[..]));
        let rows = cfg.file(&fs, &sp("d/p.shtml")).unwrap().rows();
        let tf = rows.iter().find(|r| r.setting == "SSITimeFormat").unwrap();
        assert_eq!((tf.value.as_str(), tf.source.as_str()), ("%F", "--timefmt"));
        let ct = rows.iter().find(|r| r.setting == "content type").unwrap();
        assert_eq!(
            (ct.value.as_str(), ct.source.as_str()),
            ("text/html", "ssibake default")
        );
        let parsed = rows.iter().find(|r| r.setting == "parsed").unwrap();
        assert_eq!(
            (parsed.value.as_str(), parsed.source.as_str()),
            ("yes", "ssibake default")
        );
    }
}
