//! The evaluator: walks a parsed document and writes its output, with Apache
//! httpd 2.4 `mod_include` semantics for every element.
//!
//! Each handler below mirrors the Apache function named in its doc comment. Where
//! Apache inserts its error text (`SSI_CREATE_ERROR_BUCKET`) the evaluator calls
//! [`Rendering::fail`], which inserts the same text in `errmsg` mode and records a
//! diagnostic in `fail` mode. Problems Apache passes over silently are recorded
//! with [`Rendering::strict`], which `errmsg` mode ignores.

use std::collections::HashSet;
use std::io;
use std::sync::Arc;

use ssibake_grammar::{Arg, Directive, Node, Span};

use crate::engine::compat::ApacheVersion;
use crate::engine::condition;
use crate::engine::diag::{Code, Diagnostic, Location, Severity, Sources};
use crate::engine::expr::{self, Backrefs, Vars};
use crate::engine::limits::{
    c_string, MAX_DEPTH, MAX_DIAGNOSTICS, MAX_DIRECTIVES, MAX_OUTPUT, MAX_VALUE,
};
use crate::engine::lint;
use crate::engine::subst::substitute;
use crate::engine::templates::{Cache, Parsed};
use crate::engine::vars::{Found, Lazy, VarTable};
use crate::format::encoding;
use crate::format::sizefmt;
use crate::format::timefmt::{ht_time, Zone, DEFAULT_TIMEFMT};
use crate::site::cache::IoFailure;
use crate::site::config::{ConfigError, Includes, SiteConfig};
use crate::site::fs::{FileSystem, Metadata};
use crate::site::resolve::{PathError, SitePath};
use crate::site::urlmap::{self, Kind, MapError, Mapped, Request};

/// Apache's default `SSIErrorMsg`.
pub(crate) const DEFAULT_ERRMSG: &[u8] = b"[an error occurred while processing this directive]";
/// Apache's default `SSIUndefinedEcho`.
pub(crate) const DEFAULT_ECHOMSG: &[u8] = b"(none)";

/// What to do where Apache would print its error text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum, serde::Deserialize))]
#[cfg_attr(feature = "cli", serde(rename_all = "lowercase"))]
pub enum OnError {
    /// Report every error with its location and write nothing.
    #[default]
    Fail,
    /// Insert Apache's error text where the directive was, and go on (as Apache).
    Errmsg,
}

/// Settings of one rendering, fixed by the `Baker`.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub(crate) on_error: OnError,
    pub(crate) legacy_expr: bool,
    pub(crate) defines: Vec<(Vec<u8>, Vec<u8>)>,
    /// The site's Apache configuration: which files are parsed, their types, the
    /// SSI settings of each directory (`.htaccess`, `--apache-conf`, defaults).
    pub(crate) config: Arc<SiteConfig>,
    pub(crate) zone: Zone,
    /// The "request time" for `DATE_LOCAL`/`DATE_GMT`.
    pub(crate) now: i64,
    /// Refuse ssibake's extensions (`#fhash`, `#frev`, `config hashlen`).
    pub(crate) apache_only: bool,
    /// The Apache release reproduced where releases differ.
    pub(crate) apache_version: ApacheVersion,
    /// What the server's configuration says of itself.
    pub(crate) server: Server,
    /// Variables whose reading is recorded in [`Outcome::read_watched`] (the build
    /// identity, so that only the pages that show it are rendered again once it is
    /// known).
    pub(crate) watched: Vec<Vec<u8>>,
}

/// The server a bake stands for: what Apache takes from its configuration
/// (`ServerName`, the port, `ServerAdmin`, the scheme). Unset values stay undefined.
#[derive(Clone, Debug, Default)]
pub(crate) struct Server {
    pub(crate) name: Option<Vec<u8>>,
    pub(crate) port: Option<u16>,
    pub(crate) admin: Option<Vec<u8>>,
    /// `Some(true)` for https.
    pub(crate) https: Option<bool>,
}

/// The result of rendering one page.
#[cfg_attr(not(feature = "bake"), allow(dead_code))]
pub(crate) struct Outcome {
    pub(crate) output: Vec<u8>,
    pub(crate) diagnostics: Vec<Diagnostic>,
    /// Errors past [`MAX_DIAGNOSTICS`], counted but not kept.
    pub(crate) more_diagnostics: usize,
    pub(crate) sources: Sources,
    /// Every file the page included or stat'ed, with its metadata, in order of use.
    pub(crate) inputs: Vec<(SitePath, Metadata)>,
    /// Successful includes.
    pub(crate) includes: usize,
    /// Files whose size, time or hash was printed (`fsize`, `flastmod`, `fhash`,
    /// `frev`).
    pub(crate) stamped: Vec<SitePath>,
    /// Files `frev` printed a revved URL for: the file and its revved path.
    pub(crate) revved: Vec<(SitePath, SitePath)>,
    /// Files included (evaluated or copied in), in order of use.
    pub(crate) included: Vec<SitePath>,
    /// Paths looked for and not found (a file created there changes the page).
    pub(crate) missing: Vec<SitePath>,
    /// A [`Settings::watched`] variable was read.
    pub(crate) read_watched: bool,
    /// `DATE_LOCAL` or `DATE_GMT` was read (the output depends on the time).
    pub(crate) read_clock: bool,
    /// Warnings: the page is written, but probably not as meant.
    pub(crate) warnings: Vec<Diagnostic>,
}

/// One page being rendered, with everything its includes share.
pub(crate) struct Rendering<'s> {
    settings: &'s Settings,
    fs: &'s dyn FileSystem,
    vars: VarTable,
    top_mtime: i64,
    /// The page's request URI as a client sends it (`REQUEST_URI`).
    request_uri: Vec<u8>,
    out: Vec<u8>,
    diagnostics: Vec<Diagnostic>,
    more_diagnostics: usize,
    seen: HashSet<(SitePath, usize, Code)>,
    sources: Sources,
    cache: &'s Cache,
    inputs: Vec<(SitePath, Metadata)>,
    includes: usize,
    stamped: Vec<SitePath>,
    revved: Vec<(SitePath, SitePath)>,
    included: Vec<SitePath>,
    missing: Vec<SitePath>,
    warnings: Vec<Diagnostic>,
    /// Where each open include was made, outermost first.
    chain: Vec<Location>,
    /// Documents being rendered, outermost first.
    stack: Vec<SitePath>,
    /// Directives evaluated so far (see [`MAX_DIRECTIVES`]).
    directives: usize,
    /// A limit was hit: the page is abandoned.
    stopped: bool,
    /// What `ap_add_common_vars`, `ap_add_cgi_vars` and `add_include_vars` set for
    /// the page's request.
    request_env: VarTable,
    /// The INCLUDES filters of the open documents, outermost first.
    filters: Vec<Filter>,
}

/// The INCLUDES filter that is parsing an open document.
struct Filter {
    /// Another INCLUDES filter of the same document comes after this one.
    later: bool,
    /// The page's own request (not a sub-request).
    top: bool,
    /// The request's query (`r->args`; `None` without `?`).
    args: Option<Vec<u8>>,
    /// Where in this pass's output the first EOS of a sub-request run under it
    /// arrived (see `sub_request_ended`).
    eos: Option<usize>,
}

/// The per-document state of Apache's `include_ctx_t`: each included document
/// starts afresh (config, conditionals, regex captures) while variables are shared.
struct Doc {
    path: SitePath,
    /// The document's URL (empty for a document included with `file` from another
    /// directory: Apache gives it an empty URI).
    url: Option<Vec<u8>>,
    /// The query string of the document's request (`r->args`).
    query: Vec<u8>,
    /// The document's modification time (`r->mtime`).
    mtime: i64,
    /// `#if` in the legacy syntax (`SSILegacyExprParser` of the document's directory).
    legacy_expr: bool,
    /// What `Options` of the document's directory allows.
    includes: Includes,
    depth: usize,
    printing: bool,
    cond_true: bool,
    /// `if` elements met while not printing (Apache's `if_nesting_level`).
    nesting: usize,
    /// Set when an `if`/`elif` errored: `else` does nothing until `endif` (httpd
    /// 2.4.68+, observed on 2.4.71).
    errored: bool,
    /// Apache's `intern->error`: a malformed directive met while not printing keeps
    /// the flag up, and every directive is skipped until one is met while printing.
    lex_error: bool,
    timefmt: Vec<u8>,
    size_in_bytes: bool,
    /// Hex digits `fhash`/`frev` print (`config hashlen`, an extension).
    hashlen: usize,
    errmsg: Vec<u8>,
    echomsg: Vec<u8>,
    /// `#config echomsg` was given: the page chose what an undefined `#echo`
    /// prints, so strict mode lets it pass.
    echomsg_configured: bool,
    refs: Backrefs,
    open_ifs: Vec<Span>,
}

/// Why an include, `fsize` or `flastmod` target could not be used.
struct Failure {
    code: Code,
    message: String,
    help: Option<String>,
}

impl Failure {
    fn new(code: Code, message: String) -> Failure {
        Failure {
            code,
            message,
            help: None,
        }
    }
}

impl From<PathError> for Failure {
    fn from(e: PathError) -> Failure {
        let code = match e {
            PathError::AboveRoot(_) | PathError::Absolute(_) | PathError::AboveDocument(_) => {
                Code::OutsideRoot
            }
            _ => Code::NotFound,
        };
        Failure::new(code, e.to_string())
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The variable access the expression evaluator and `$VAR` substitution see:
/// the shared table, with lazy built-ins rendered in the asking document's format.
struct DocVars<'a> {
    table: &'a mut VarTable,
    settings: &'a Settings,
    top_mtime: i64,
    timefmt: &'a [u8],
    here: Here<'a>,
}

/// The request of the document being evaluated, for ap_expr's `%{...}`, `-A`, `-U`
/// and `-F`.
struct Here<'a> {
    fs: &'a dyn FileSystem,
    cache: &'a Cache,
    path: &'a SitePath,
    /// `r->uri` (`None` for a document included with `file` from elsewhere).
    url: Option<&'a [u8]>,
    /// `r->args`.
    query: &'a [u8],
    /// `r->mtime`.
    mtime: i64,
    /// An included document (a sub-request).
    subreq: bool,
    /// The page's request URI, as sent (`THE_REQUEST`).
    request_uri: &'a [u8],
    /// Where lookups record what they found and did not find (the page's inputs).
    inputs: &'a mut Vec<(SitePath, Metadata)>,
    missing: &'a mut Vec<SitePath>,
}

impl Vars for DocVars<'_> {
    fn get(&mut self, name: &[u8]) -> Option<Vec<u8>> {
        match self.table.get(name)? {
            Found::Value(v) => Some(v.to_vec()),
            Found::Lazy(lazy) => {
                let s = self.settings;
                if matches!(lazy, Lazy::DateLocal | Lazy::DateGmt) {
                    self.table.clock_read = true;
                }
                let value = match lazy {
                    Lazy::DateLocal => ht_time(self.timefmt, s.now, &s.zone, false),
                    Lazy::DateGmt => ht_time(self.timefmt, s.now, &s.zone, true),
                    Lazy::LastModified => ht_time(self.timefmt, self.top_mtime, &s.zone, false),
                };
                // Apache stores the rendered value: later readers see this format.
                self.table.set(name, value.clone());
                Some(value)
            }
        }
    }

    /// `request_var_fn`, for what a bake knows of the request (a `GET` of the page's
    /// own URL, no client). Measured on Apache 2.4.71: inside an include, the
    /// request variables describe the included document.
    fn request(&mut self, name: &str) -> Option<Vec<u8>> {
        let s = self.settings;
        let h = &self.here;
        let text = |v: &str| Some(v.as_bytes().to_vec());
        match name {
            "REQUEST_URI" => h.url.map(<[u8]>::to_vec),
            "QUERY_STRING" => Some(h.query.to_vec()),
            "LAST_MODIFIED" => Some(ht_time(b"%Y%m%d%H%M%S", h.mtime, &s.zone, false)),
            "IS_SUBREQ" => text(if h.subreq { "true" } else { "false" }),
            "SERVER_PROTOCOL" => text(if h.subreq { "INCLUDED" } else { "HTTP/1.1" }),
            "REQUEST_METHOD" => text("GET"),
            "REQUEST_STATUS" => text("200"),
            "CONTEXT_PREFIX" => text(""),
            "THE_REQUEST" => {
                let mut v = b"GET ".to_vec();
                v.extend_from_slice(h.request_uri);
                v.extend_from_slice(b" HTTP/1.1");
                Some(v)
            }
            "REQUEST_SCHEME" => s.server.https.map(|on| {
                if on {
                    b"https".to_vec()
                } else {
                    b"http".to_vec()
                }
            }),
            "HTTPS" => s
                .server
                .https
                .map(|on| if on { b"on".to_vec() } else { b"off".to_vec() }),
            "SERVER_NAME" => s.server.name.clone(),
            "SERVER_ADMIN" => s.server.admin.clone(),
            _ => None,
        }
    }

    /// `op_url_subr` and `op_file_subr`: a lookup sub-request (no handler runs), so a
    /// missing file is a success for `-A`/`-U` (only the handler would answer 404),
    /// and only a malformed URL, `..` above the root or a symlink out of it fail;
    /// `-F` is true for an existing regular file. There are no access rules in a bake.
    fn lookup(&mut self, op: expr::Lookup, arg: &[u8]) -> Option<bool> {
        let h = &self.here;
        let req = match op {
            expr::Lookup::Url => urlmap::parse_virtual(arg, h.url),
            // An absolute path names the server's own file system.
            expr::Lookup::File if arg.first() == Some(&b'/') => return None,
            expr::Lookup::File => urlmap::parse_file(arg, h.path),
        };
        let Ok(req) = req else { return Some(false) };
        let (fs, cache) = (h.fs, h.cache);
        let config = &self.settings.config;
        let index = |d: &SitePath| directory_index(config, fs, d);
        let (inputs, missing) = (&mut *self.here.inputs, &mut *self.here.missing);
        let mapped = urlmap::map(&req, &index, true, &mut |p| {
            let got = cache.metadata(fs, p);
            match &got {
                Ok(meta) => inputs.push((p.clone(), *meta)),
                Err(e) if e.kind == io::ErrorKind::NotFound => missing.push(p.clone()),
                Err(_) => {}
            }
            got
        });
        Some(match (op, mapped) {
            (expr::Lookup::Url, Ok(_) | Err(MapError::NotFound(_) | MapError::Directory(_))) => {
                true
            }
            (expr::Lookup::Url, Err(MapError::Io(_, e))) => !e.outside_root,
            (expr::Lookup::File, Ok(m)) => !m.meta.is_dir && m.path_info.is_empty(),
            _ => false,
        })
    }
}

impl<'s> Rendering<'s> {
    /// Renders the page at `path`, whose bytes are `source`.
    pub(crate) fn render(
        settings: &'s Settings,
        fs: &'s dyn FileSystem,
        cache: &'s Cache,
        path: SitePath,
        page: Arc<Parsed>,
        mtime: i64,
    ) -> Outcome {
        let mut r = Rendering {
            settings,
            fs,
            vars: VarTable::default(),
            top_mtime: mtime,
            request_uri: Vec::new(),
            out: Vec::with_capacity(page.source.len() + page.source.len() / 8),
            diagnostics: Vec::new(),
            more_diagnostics: 0,
            seen: HashSet::new(),
            sources: Sources::default(),
            cache,
            inputs: Vec::new(),
            includes: 0,
            stamped: Vec::new(),
            revved: Vec::new(),
            included: Vec::new(),
            missing: Vec::new(),
            warnings: Vec::new(),
            chain: Vec::new(),
            stack: Vec::new(),
            directives: 0,
            stopped: false,
            request_env: VarTable::default(),
            filters: Vec::new(),
        };
        // `SetEnv`-style variables first, then Apache's add_include_vars.
        for (name, value) in &settings.defines {
            r.vars.set(name, value.clone());
        }
        for name in &settings.watched {
            r.vars.watch(name);
        }
        // ap_add_common_vars and ap_add_cgi_vars, in Apache's order, for a `GET` of the
        // page's own URL with no query string. What depends on the client (REMOTE_*,
        // HTTP_*) is never defined; what the server's configuration says only when
        // the settings give it.
        let url = path.url();
        let mut env = VarTable::default();
        let request_uri = encoding::request_uri(&url);
        let server = &settings.server;
        if let Some(name) = &server.name {
            env.set(b"SERVER_NAME", name.clone());
        }
        if let Some(port) = server.port {
            env.set(b"SERVER_PORT", port.to_string().into_bytes());
        }
        if let Some(https) = server.https {
            if https {
                env.set(b"HTTPS", b"on".to_vec());
            }
            let scheme: &[u8] = if https { b"https" } else { b"http" };
            env.set(b"REQUEST_SCHEME", scheme.to_vec());
        }
        env.set(b"CONTEXT_PREFIX", Vec::new());
        if let Some(admin) = &server.admin {
            env.set(b"SERVER_ADMIN", admin.clone());
        }
        env.set(b"GATEWAY_INTERFACE", b"CGI/1.1".to_vec());
        env.set(b"SERVER_PROTOCOL", b"HTTP/1.1".to_vec());
        env.set(b"REQUEST_METHOD", b"GET".to_vec());
        env.set(b"QUERY_STRING", Vec::new());
        env.set(b"REQUEST_URI", request_uri.clone());
        env.set(b"SCRIPT_NAME", url.clone());
        r.request_uri = request_uri;
        env.set_lazy(b"DATE_LOCAL", Lazy::DateLocal);
        env.set_lazy(b"DATE_GMT", Lazy::DateGmt);
        env.set_lazy(b"LAST_MODIFIED", Lazy::LastModified);
        env.set(b"DOCUMENT_URI", path.url());
        env.set(b"DOCUMENT_ARGS", Vec::new());
        env.set(b"DOCUMENT_NAME", path.file_name().to_vec());
        // The same again whenever a later INCLUDES filter of the page is handed output
        // (see `flush`).
        r.vars.overlay(&env);
        r.request_env = env;
        // The INCLUDES filter may be in the page's chain twice (XBitHack on an
        // executable `.shtml`, `SetOutputFilter INCLUDES` on a `.shtml`): the second
        // parses what the first produced, with the same variables (measured on Apache
        // 2.4.71: text an include copied in raw is evaluated then).
        let passes = settings
            .config
            .file(fs, &path)
            .map_or(1, |i| i.runs().max(1));
        // A directory whose configuration Apache refuses (a bad `.htaccess` line) is
        // answered with 500 for every file in it, this page included: an error in
        // every mode, since there is no page to match.
        if let Err(e) = settings.config.dir(fs, &path.parent()) {
            let f = config_failure(&e);
            let d = r.diagnostic(&path, Span::new(0, 0), f.code, f.message, f.help);
            r.diagnostics.push(d);
            r.stopped = true;
        }
        r.passes(path, Some(url), (None, mtime), page, 0, passes);
        Outcome {
            output: r.out,
            diagnostics: r.diagnostics,
            more_diagnostics: r.more_diagnostics,
            sources: r.sources,
            inputs: r.inputs,
            includes: r.includes,
            stamped: r.stamped,
            revved: r.revved,
            included: r.included,
            missing: r.missing,
            read_watched: r.vars.watched_read(),
            read_clock: r.vars.clock_read,
            warnings: r.warnings,
        }
    }

    /// Evaluates a document through its `passes` INCLUDES filters into `self.out`:
    /// each later filter parses what the one before produced, the sub-requests'
    /// output included (their `next_filter` is the filter after the one that ran
    /// them), with the same variables (measured on Apache 2.4.71).
    fn passes(
        &mut self,
        path: SitePath,
        url: Option<Vec<u8>>,
        (args, mtime): (Option<Vec<u8>>, i64),
        parsed: Arc<Parsed>,
        depth: usize,
        passes: u32,
    ) {
        let query = args.clone().unwrap_or_default();
        self.filters.push(Filter {
            later: passes > 1,
            top: depth == 0,
            args,
            eos: None,
        });
        if passes <= 1 {
            self.document(path, url, (query, mtime), parsed, depth);
            self.filters.pop();
            return;
        }
        let before = std::mem::take(&mut self.out);
        self.document(
            path.clone(),
            url.clone(),
            (query.clone(), mtime),
            parsed,
            depth,
        );
        let settings = self.settings;
        for pass in 1..passes {
            if let Some(f) = self.filters.last_mut() {
                f.later = pass + 1 < passes;
            }
            if self.stopped || !self.diagnostics.is_empty() {
                break;
            }
            let mut first = std::mem::take(&mut self.out);
            // An included document's later filter stops parsing at the first EOS of
            // a sub-request run under it (see `sub_request_ended`); the rest passes.
            let rest = match self.filters.last().and_then(|f| f.eos) {
                Some(cut) if pass == 1 && depth > 0 && cut < first.len() => first.split_off(cut),
                _ => Vec::new(),
            };
            let dir_legacy = settings
                .config
                .dir(self.fs, &path.parent())
                .map_or(settings.legacy_expr, |d| d.legacy_expr());
            let again = Arc::new(Parsed::in_dir(
                &settings.config,
                self.fs,
                &path.parent(),
                first.into(),
                dir_legacy,
                settings.apache_only,
            ));
            if !again.has_directives() {
                self.out = again.source.to_vec();
                self.out.extend_from_slice(&rest);
                continue;
            }
            self.out = Vec::with_capacity(again.source.len() + rest.len());
            self.document(
                path.clone(),
                url.clone(),
                (query.clone(), mtime),
                again,
                depth,
            );
            self.out.extend_from_slice(&rest);
        }
        self.filters.pop();
        let out = std::mem::replace(&mut self.out, before);
        self.out.extend_from_slice(&out);
    }

    /// A sub-request that was run (its handler called, even one answering 404) ends
    /// with an EOS bucket. Only a sub-request of the page itself gets its own
    /// SUBREQ_CORE filter, which drops it (`make_sub_request` adds one only when the
    /// chain after `next_filter` has none); deeper ones share their depth-1
    /// ancestor's, so their EOS first reaches the later INCLUDES filters of the
    /// included documents above them, which stop parsing there and pass everything
    /// after it through (observed on Apache 2.4.71: an XBitHack-full executable
    /// `.shtml` that is included parses the output of its first include again, not of
    /// the later ones).
    fn sub_request_ended(&mut self) {
        let at = self.out.len();
        if let Some(f) = self.filters.iter_mut().rev().find(|f| f.later) {
            if !f.top && f.eos.is_none() {
                f.eos = Some(at);
            }
        }
    }

    /// A document's filter hands what it has so far to the next filter (mod_include
    /// does at every directive it prints at, and at the end of a sub-request; the
    /// default handler with a raw file). When that next filter is a later INCLUDES
    /// filter, its `includes_filter` runs first and re-sets the environment: for the
    /// page's own request everything `add_include_vars` and the CGI variables set
    /// (QUERY_STRING back to empty, LAST_MODIFIED back to lazy, ...), for a
    /// sub-request its query (observed on Apache 2.4.71). What that filter passes on
    /// reaches the later filters of the enclosing documents in turn, so the page's
    /// own comes last.
    fn flush(&mut self) {
        for i in (0..self.filters.len()).rev() {
            let f = &self.filters[i];
            if !f.later {
                continue;
            }
            if f.top {
                self.vars.overlay(&self.request_env);
            } else if let Some(args) = f.args.clone() {
                self.set_query(&args);
            }
        }
    }

    /// Evaluates one document (the page or an included template) into `self.out`.
    fn document(
        &mut self,
        path: SitePath,
        url: Option<Vec<u8>>,
        (query, mtime): (Vec<u8>, i64),
        parsed: Arc<Parsed>,
        depth: usize,
    ) {
        let source = &parsed.source;
        self.sources.insert(path.clone(), source.clone());
        for d in &parsed.findings {
            if d.code == Code::NearMiss {
                self.warn(&path, d.span, d.code, d.message.clone(), d.help.clone());
            } else if self.settings.on_error == OnError::Fail {
                self.record(&path, d.span, d.code, d.message.clone(), d.help.clone());
            }
        }
        self.stack.push(path.clone());
        // Each document takes the SSI settings of its own directory (measured on
        // Apache 2.4.71: an include from another directory uses that directory's
        // SSIErrorMsg, SSITimeFormat, SSIUndefinedEcho and SSILegacyExprParser).
        // `<Files>` sections apply too: the settings are the file's own.
        let config = &self.settings.config;
        let dir = config
            .file(self.fs, &path)
            .map(|i| i.settings.clone())
            .or_else(|_| {
                config
                    .dir(self.fs, &path.parent())
                    .map(|d| d.settings().clone())
            })
            .ok();
        let mut doc = Doc {
            path,
            url,
            query,
            mtime,
            depth,
            printing: true,
            cond_true: true,
            nesting: 0,
            errored: false,
            lex_error: false,
            timefmt: dir
                .as_ref()
                .and_then(|d| d.timefmt())
                .unwrap_or(DEFAULT_TIMEFMT)
                .to_vec(),
            size_in_bytes: false,
            hashlen: DEFAULT_HASHLEN,
            errmsg: dir
                .as_ref()
                .and_then(|d| d.errmsg())
                .unwrap_or(DEFAULT_ERRMSG)
                .to_vec(),
            echomsg: dir
                .as_ref()
                .and_then(|d| d.echomsg())
                .unwrap_or(DEFAULT_ECHOMSG)
                .to_vec(),
            // SSIUndefinedEcho is the site's choice of what an undefined echo prints.
            echomsg_configured: dir.as_ref().is_some_and(|d| d.echomsg().is_some()),
            legacy_expr: dir
                .as_ref()
                .map_or(self.settings.legacy_expr, |d| d.legacy_expr()),
            includes: dir.as_ref().map_or(Includes::NoExec, |d| d.includes()),
            refs: Backrefs::default(),
            open_ifs: Vec::new(),
        };
        for node in parsed.nodes() {
            if self.stopped {
                break;
            }
            match node {
                Node::Text(span) => {
                    if doc.printing {
                        self.out.extend_from_slice(&source[span.range()]);
                    }
                }
                Node::Unterminated(span) => {
                    // AH01372: the directive's bytes are dropped.
                    if doc.printing {
                        self.fail(
                            &doc,
                            *span,
                            Code::Syntax,
                            "directive is not closed before the end of the file".into(),
                            Some("close it with ` -->`".into()),
                        );
                    }
                }
                Node::Directive(d) => {
                    if doc.printing {
                        self.flush();
                    }
                    self.directive(&mut doc, d);
                }
            }
            if self.out.len() > MAX_OUTPUT && !self.stopped {
                let span = match node {
                    Node::Text(s) | Node::Unterminated(s) => *s,
                    Node::Directive(d) => d.span,
                };
                self.stop(
                    &doc,
                    span,
                    format!("the page grew past {} MiB", MAX_OUTPUT >> 20),
                );
            }
        }
        if self.stopped {
            self.stack.pop();
            return;
        }
        self.flush();
        if !doc.printing || doc.nesting > 0 {
            // Apache only logs AH01373.
            let span = doc.open_ifs.last().copied().unwrap_or_default();
            self.strict(
                &doc,
                span,
                Code::UnclosedIf,
                "`#if` without `#endif`".into(),
                None,
            );
        }
        self.stack.pop();
    }

    /// Records a diagnostic once per place and code.
    fn record(
        &mut self,
        file: &SitePath,
        span: Span,
        code: Code,
        message: String,
        help: Option<String>,
    ) {
        if self.settings.on_error != OnError::Fail {
            return;
        }
        if !self.seen.insert((file.clone(), span.start, code)) {
            return;
        }
        if self.diagnostics.len() >= MAX_DIAGNOSTICS {
            // Time and memory stay linear however many errors a page has.
            self.more_diagnostics += 1;
            return;
        }
        let d = self.diagnostic(file, span, code, message, help);
        self.diagnostics.push(d);
    }

    /// Records a warning once per place and code (in every error mode).
    fn warn(
        &mut self,
        file: &SitePath,
        span: Span,
        code: Code,
        message: String,
        help: Option<String>,
    ) {
        if self.warnings.len() >= MAX_DIAGNOSTICS
            || !self.seen.insert((file.clone(), span.start, code))
        {
            return;
        }
        let mut d = self.diagnostic(file, span, code, message, help);
        d.severity = Severity::Warning;
        self.warnings.push(d);
    }

    /// A diagnostic at `span` of `file`, with the chain of includes that led there.
    fn diagnostic(
        &self,
        file: &SitePath,
        span: Span,
        code: Code,
        message: String,
        help: Option<String>,
    ) -> Diagnostic {
        let mut included_from: Vec<Location> = self.chain.clone();
        included_from.reverse();
        Diagnostic {
            severity: Severity::Error,
            code,
            message,
            location: Location {
                file: file.clone(),
                span,
            },
            help,
            included_from,
        }
    }

    /// Abandons the page (in every mode: there is no Apache output to match).
    fn stop(&mut self, doc: &Doc, span: Span, what: String) {
        self.stopped = true;
        let d = self.diagnostic(
            &doc.path,
            span,
            Code::Limit,
            format!("{what}: ssibake stops here"),
            Some(
                "no real page comes near this; look for includes that multiply \
                 or a `#set` that doubles a value"
                    .into(),
            ),
        );
        self.diagnostics.push(d);
    }

    /// Where Apache inserts its error text (`SSI_CREATE_ERROR_BUCKET`).
    fn fail(&mut self, doc: &Doc, span: Span, code: Code, message: String, help: Option<String>) {
        match self.settings.on_error {
            OnError::Errmsg => {
                self.out.extend_from_slice(&doc.errmsg);
                let shipped = format!("{message}; the page ships `{}` here", text(&doc.errmsg));
                self.warn(&doc.path, span, code, shipped, help);
            }
            OnError::Fail => self.record(&doc.path, span, code, message, help),
        }
    }

    /// A problem Apache passes over silently: an error in strict mode only.
    fn strict(&mut self, doc: &Doc, span: Span, code: Code, message: String, help: Option<String>) {
        self.record(&doc.path, span, code, message, help);
    }

    /// The variables as `doc` sees them (lazy dates in its `timefmt`).
    fn vars<'a>(&'a mut self, doc: &'a Doc) -> DocVars<'a> {
        DocVars {
            table: &mut self.vars,
            settings: self.settings,
            top_mtime: self.top_mtime,
            timefmt: &doc.timefmt,
            here: Here {
                fs: self.fs,
                cache: self.cache,
                path: &doc.path,
                url: doc.url.as_deref(),
                query: &doc.query,
                mtime: doc.mtime,
                subreq: doc.depth > 0,
                request_uri: &self.request_uri,
                inputs: &mut self.inputs,
                missing: &mut self.missing,
            },
        }
    }

    /// Apache's `ap_ssi_parse_string`.
    fn subst(&mut self, doc: &Doc, value: &[u8], span: Span) -> Vec<u8> {
        let mut vars = self.vars(doc);
        let out = substitute(
            value,
            &mut |name| expr::lookup(&mut vars, &doc.refs, name),
            MAX_VALUE,
        );
        if out.len() > MAX_VALUE {
            self.stop(
                doc,
                span,
                format!("a value would grow past {} MiB", MAX_VALUE >> 20),
            );
            return Vec::new();
        }
        if memchr::memmem::find(value, b"${").is_some() && has_unterminated_brace(value) {
            self.strict(
                doc,
                span,
                Code::Substitution,
                "`${` without a closing `}`: Apache drops the rest of the value".into(),
                Some("close the variable name with `}`".into()),
            );
        }
        out
    }

    /// `send_parsed_content`'s PARSE_EXECUTE step: the error flag, then the handler.
    fn directive(&mut self, doc: &mut Doc, d: &Directive<'_>) {
        self.directives += 1;
        if self.directives > MAX_DIRECTIVES {
            return self.stop(
                doc,
                d.span,
                format!("more than {MAX_DIRECTIVES} directives evaluated for one page"),
            );
        }
        if d.malformed.is_some() || doc.lex_error {
            if doc.printing {
                let span = d.malformed.map_or(d.span, |m| m.span(d));
                self.fail(doc, span, Code::Syntax, malformed_message(d), None);
                doc.lex_error = false;
            } else {
                doc.lex_error = true;
            }
            return;
        }
        match &d.name[..] {
            b"if" => self.handle_if(doc, d),
            b"elif" => self.handle_elif(doc, d),
            b"else" => self.handle_else(doc, d),
            b"endif" => self.handle_endif(doc, d),
            _ if !doc.printing => {}
            b"echo" => self.handle_echo(doc, d),
            b"include" => self.handle_include(doc, d),
            b"fsize" => self.handle_fsize_flastmod(doc, d, true),
            b"flastmod" => self.handle_fsize_flastmod(doc, d, false),
            b"fhash" if !self.settings.apache_only => self.handle_fhash_frev(doc, d, false),
            b"frev" if !self.settings.apache_only => self.handle_fhash_frev(doc, d, true),
            b"config" => self.handle_config(doc, d),
            b"set" => self.handle_set(doc, d),
            b"printenv" => self.handle_printenv(doc, d),
            b"comment" => {}
            b"exec" => self.fail(
                doc,
                d.span,
                Code::ExecRefused,
                "`#exec` is refused: ssibake never runs commands (Apache's IncludesNOEXEC)".into(),
                None,
            ),
            other => {
                let name = text(other);
                let (message, help) = if lint::EXTENSION_ELEMENTS.contains(&name.as_str()) {
                    (
                        lint::extension_refused(&name),
                        Some("drop --apache-only to use ssibake's extensions".into()),
                    )
                } else {
                    (
                        format!("unknown directive `#{name}`"),
                        lint::suggest_directive(other),
                    )
                };
                self.fail(doc, d.name.span, Code::UnknownDirective, message, help);
            }
        }
    }

    /// `handle_echo`.
    fn handle_echo(&mut self, doc: &mut Doc, d: &Directive<'_>) {
        if d.args.is_empty() {
            return self.fail(
                doc,
                d.span,
                Code::MissingAttribute,
                "`#echo` needs a `var` attribute".into(),
                None,
            );
        }
        let mut encoding = (b"entity".to_vec(), d.span);
        let mut decoding = (b"none".to_vec(), d.span);
        for arg in &d.args {
            let Some(raw) = self.value_or_stop(doc, d, arg) else {
                break;
            };
            let value = encoding::decode_html(c_string(raw));
            match &arg.name[..] {
                b"var" => {
                    let name = self.subst(doc, &value, arg.span);
                    let found = expr::lookup(&mut self.vars(doc), &doc.refs, &name);
                    let Some(val) = found else {
                        if !doc.echomsg_configured {
                            let (message, help) = undefined_echo(&name);
                            self.strict(
                                doc,
                                arg.span,
                                Code::UndefinedVariable,
                                message,
                                Some(help),
                            );
                        }
                        self.out.extend_from_slice(&doc.echomsg);
                        continue;
                    };
                    let decoded = self.codings(doc, &decoding, "decoding", &val, true);
                    let encoded = self.codings(
                        doc,
                        &encoding,
                        "encoding",
                        decoded.as_deref().unwrap_or(&val),
                        false,
                    );
                    match (decoded, encoded) {
                        (Some(_), Some(out)) => self.out.extend_from_slice(&out),
                        _ => break,
                    }
                }
                b"decoding" => decoding = (value, arg.span),
                b"encoding" => encoding = (value, arg.span),
                _ => {
                    self.unknown_attribute(doc, d, arg);
                    break;
                }
            }
        }
    }

    /// Applies an `encoding`/`decoding` token list given by the attribute at
    /// `list.1`; `None` (after an error) when a token is unknown.
    fn codings(
        &mut self,
        doc: &Doc,
        list: &(Vec<u8>, Span),
        what: &str,
        value: &[u8],
        decode: bool,
    ) -> Option<Vec<u8>> {
        match encoding::parse_codings(&list.0) {
            Ok(codings) => Some(if decode {
                encoding::decode(&codings, value)
            } else {
                encoding::encode(&codings, value)
            }),
            Err(token) => {
                self.fail(
                    doc,
                    list.1,
                    Code::BadValue,
                    format!(
                        "unknown {what} `{}` (expected none, url, urlencoded, entity or base64)",
                        text(&token)
                    ),
                    None,
                );
                None
            }
        }
    }

    /// The value of `arg`, or `None` when it has none: Apache then stops
    /// processing the element without a word.
    fn value_or_stop<'a>(
        &mut self,
        doc: &Doc,
        d: &Directive<'_>,
        arg: &'a Arg<'_>,
    ) -> Option<&'a [u8]> {
        if arg.value.is_none() {
            self.strict(
                doc,
                arg.span,
                Code::MissingAttribute,
                format!(
                    "attribute `{}` of `#{}` has no value; Apache ignores it and everything after it",
                    text(&arg.name),
                    text(&d.name)
                ),
                Some(format!("write `{}=\"...\"`", text(&arg.name))),
            );
        }
        arg.value_bytes()
    }

    fn unknown_attribute(&mut self, doc: &Doc, d: &Directive<'_>, arg: &Arg<'_>) {
        let help = lint::suggest_attribute(&d.name, &arg.name);
        self.fail(
            doc,
            arg.name.span,
            Code::UnknownAttribute,
            format!(
                "unknown attribute `{}` for `#{}`",
                text(&arg.name),
                text(&d.name)
            ),
            help,
        );
    }

    /// `handle_config`.
    fn handle_config(&mut self, doc: &mut Doc, d: &Directive<'_>) {
        if d.args.is_empty() {
            return self.fail(
                doc,
                d.span,
                Code::MissingAttribute,
                "`#config` needs an attribute (timefmt, sizefmt, errmsg or echomsg)".into(),
                None,
            );
        }
        for arg in &d.args {
            let Some(raw) = self.value_or_stop(doc, d, arg) else {
                break;
            };
            let raw = c_string(raw);
            match &arg.name[..] {
                b"errmsg" => doc.errmsg = self.subst(doc, raw, arg.span),
                b"echomsg" => {
                    doc.echomsg = self.subst(doc, raw, arg.span);
                    doc.echomsg_configured = true;
                }
                b"timefmt" => {
                    doc.timefmt = self.subst(doc, raw, arg.span);
                    let s = self.settings;
                    let local = ht_time(&doc.timefmt, s.now, &s.zone, false);
                    let gmt = ht_time(&doc.timefmt, s.now, &s.zone, true);
                    let last = ht_time(&doc.timefmt, self.top_mtime, &s.zone, false);
                    self.vars.set(b"DATE_LOCAL", local);
                    self.vars.set(b"DATE_GMT", gmt);
                    self.vars.set(b"LAST_MODIFIED", last);
                }
                b"hashlen" if !self.settings.apache_only => {
                    let value = self.subst(doc, raw, arg.span);
                    match lint::parse_hashlen(&value) {
                        Some(n) => doc.hashlen = n,
                        None => {
                            let msg = format!(
                                "hashlen `{}` is not a number from 1 to {}",
                                text(&value),
                                lint::MAX_HASHLEN
                            );
                            self.fail(doc, arg.span, Code::BadValue, msg, None);
                            break;
                        }
                    }
                }
                b"hashlen" => {
                    self.fail(
                        doc,
                        arg.name.span,
                        Code::UnknownAttribute,
                        lint::extension_attribute_refused("config", "hashlen"),
                        Some("drop --apache-only to use ssibake's extensions".into()),
                    );
                    break;
                }
                b"sizefmt" => {
                    let value = self.subst(doc, raw, arg.span);
                    match &value[..] {
                        b"bytes" => doc.size_in_bytes = true,
                        b"abbrev" => doc.size_in_bytes = false,
                        other => {
                            let msg = format!(
                                "unknown sizefmt `{}` (expected `bytes` or `abbrev`, lower-case)",
                                text(other)
                            );
                            self.fail(doc, arg.span, Code::BadValue, msg, None);
                            break;
                        }
                    }
                }
                _ => {
                    self.unknown_attribute(doc, d, arg);
                    break;
                }
            }
        }
    }

    /// A `file`/`virtual` attribute of `fsize`, `flastmod`, `fhash` or `frev`: its
    /// value entity-decoded and substituted, and whether it is a `file`. `None`
    /// (after reporting) where Apache stops processing the element: a value-less
    /// or unknown attribute.
    fn path_attribute(
        &mut self,
        doc: &Doc,
        d: &Directive<'_>,
        arg: &Arg<'_>,
    ) -> Option<(Vec<u8>, bool)> {
        let raw = self.value_or_stop(doc, d, arg)?;
        // Substituted before the name is checked, as in Apache (a lazy date
        // variable is rendered, and kept, even for an unknown attribute).
        let value = encoding::decode_html(c_string(raw));
        let value = self.subst(doc, &value, arg.span);
        match &arg.name[..] {
            b"file" => Some((value, true)),
            b"virtual" => Some((value, false)),
            _ => {
                self.unknown_attribute(doc, d, arg);
                None
            }
        }
    }

    /// `handle_fsize` and `handle_flastmod` (they differ only in what they print).
    fn handle_fsize_flastmod(&mut self, doc: &mut Doc, d: &Directive<'_>, fsize: bool) {
        if d.args.is_empty() {
            let msg = format!("`#{}` needs a `virtual` or `file` attribute", text(&d.name));
            return self.fail(doc, d.span, Code::MissingAttribute, msg, None);
        }
        for arg in &d.args {
            let Some((value, is_file)) = self.path_attribute(doc, d, arg) else {
                break;
            };
            // find_file: a lookup only, so path info is ignored and a directory
            // named with its slash is its index file (or, without one, itself).
            match self
                .map_target(doc, &value, is_file, false)
                .map(|(_, mapped)| mapped.meta)
            {
                Ok(meta) => {
                    if let Some((p, _)) = self.inputs.last() {
                        self.stamped.push(p.clone());
                    }
                    if !fsize {
                        let zone = &self.settings.zone;
                        self.cache
                            .push_local_time(&mut self.out, &doc.timefmt, meta.mtime, zone);
                    } else if doc.size_in_bytes {
                        self.out.extend_from_slice(&sizefmt::bytes(meta.len as i64));
                    } else {
                        self.out
                            .extend_from_slice(&sizefmt::abbrev(meta.len as i64));
                    }
                }
                Err(f) => {
                    self.fail(doc, arg.span, f.code, f.message, f.help);
                    break;
                }
            }
        }
    }

    /// `fhash` and `frev`, ssibake's extensions: the file's SHA-256 in hex (the
    /// first `hashlen` digits), or its URL with that hash before the extension.
    /// Attributes and errors as `fsize`.
    fn handle_fhash_frev(&mut self, doc: &mut Doc, d: &Directive<'_>, rev: bool) {
        if d.args.is_empty() {
            let msg = format!("`#{}` needs a `virtual` or `file` attribute", text(&d.name));
            return self.fail(doc, d.span, Code::MissingAttribute, msg, None);
        }
        for arg in &d.args {
            let Some((value, is_file)) = self.path_attribute(doc, d, arg) else {
                break;
            };
            match self.fingerprint(doc, &value, is_file, rev) {
                Ok(printed) => self.out.extend_from_slice(&printed),
                Err(f) => {
                    self.fail(doc, arg.span, f.code, f.message, f.help);
                    break;
                }
            }
        }
    }

    /// What `fhash`/`frev` print for one attribute value.
    fn fingerprint(
        &mut self,
        doc: &Doc,
        value: &[u8],
        is_file: bool,
        rev: bool,
    ) -> Result<Vec<u8>, Failure> {
        let resolve = |v: &[u8]| {
            let req = if is_file {
                urlmap::parse_file(v, &doc.path)
            } else {
                urlmap::parse_virtual(v, doc.url.as_deref())
            };
            req.map(|r| r.path)
        };
        let (_, mapped) = self.map_target(doc, value, is_file, false)?;
        let path = mapped.path;
        if mapped.meta.is_dir {
            return Err(Failure::new(
                Code::NotFound,
                format!("`{}` is a directory", path.display()),
            ));
        }
        if mapped.index || !mapped.path_info.is_empty() {
            return Err(Failure {
                code: Code::BadValue,
                message: format!(
                    "`{}` does not name a file by its own URL (it is {})",
                    text(value),
                    if mapped.index {
                        format!("the directory index `{}`", path.display())
                    } else {
                        format!("`{}` with path info", path.display())
                    }
                ),
                help: Some("name the file itself, so its revved name can replace it".into()),
            });
        }
        let digest = self
            .cache
            .digest(self.fs, &path)
            .map_err(|e| io_failure(&path, &e))?;
        let hash = hex(&digest[..]);
        let hash = &hash.as_bytes()[..doc.hashlen];
        self.stamped.push(path.clone());
        if !rev {
            return Ok(hash.to_vec());
        }
        // The hash goes before the extension of the last segment of the URL's
        // path (before any query or fragment of a `virtual`), as written.
        let end = if is_file {
            value.len()
        } else {
            memchr::memchr2(b'?', b'#', value).unwrap_or(value.len())
        };
        let url = revved_name(&value[..end], hash);
        let revved_path = revved_name(path.as_bytes(), hash);
        let revved_path = SitePath::from_relative(&revved_path).ok();
        // The written URL must name the revved file (a `%2E` for the dot would not).
        match (&revved_path, resolve(&url)) {
            (Some(expected), Ok(got)) if *expected == got => {}
            _ => {
                return Err(Failure {
                    code: Code::BadValue,
                    message: format!(
                    "cannot put the hash into `{}`: the revved URL would not name the revved file",
                    text(value)
                ),
                    help: Some("write the file name without %-escapes".into()),
                })
            }
        }
        let revved_path = revved_path.expect("checked above");
        self.revved.push((path, revved_path));
        let mut out = url;
        out.extend_from_slice(&value[end..]);
        Ok(out)
    }

    /// Maps a `virtual` or `file` value onto the site (see `site::urlmap`), every stat
    /// going through [`Self::lookup`].
    /// `run`: the sub-request is run (`include`), not only looked up (`fsize`, ...).
    fn map_target(
        &mut self,
        doc: &Doc,
        value: &[u8],
        is_file: bool,
        run: bool,
    ) -> Result<(Request, Mapped), Failure> {
        let req = if is_file {
            urlmap::parse_file(value, &doc.path)?
        } else {
            urlmap::parse_virtual(value, doc.url.as_deref())?
        };
        let (config, fs) = (self.settings.config.clone(), self.fs);
        let index = |d: &SitePath| directory_index(&config, fs, d);
        // Measured on Apache 2.4.71 with a page that includes itself: at the deepest
        // level where a lookup still succeeds, a directory's index (mod_dir's own
        // sub-request, one level deeper) already fails.
        let limit = MAX_DEPTH;
        let mut depth_failure = None;
        let index_allowed = doc.depth + 1 < MAX_DEPTH;
        let mapped = urlmap::map(&req, &index, index_allowed, &mut |p| {
            if doc.depth >= limit {
                depth_failure = Some(());
                return Err(IoFailure {
                    kind: io::ErrorKind::Other,
                    message: String::new(),
                    outside_root: false,
                    unversioned: false,
                    shallow: false,
                });
            }
            self.lookup_meta(p)
        });
        if depth_failure.is_some() {
            return Err(Failure::new(
                Code::IncludeDepth,
                format!("includes are nested more than {MAX_DEPTH} levels deep (Apache's limit)"),
            ));
        }
        match mapped {
            Ok(m) => Ok((req, m)),
            Err(MapError::Path(e)) => Err(e.into()),
            Err(MapError::NotFound(p)) => {
                if run {
                    self.handler_refused(&p, req.query.as_deref());
                }
                Err(Failure {
                    code: Code::NotFound,
                    message: format!("`{}` does not exist", req.path.display()),
                    help: (p != req.path).then(|| format!("there is no `{}`", p.display())),
                })
            }
            Err(MapError::Directory(p)) => Err(Failure {
                code: Code::NotFound,
                message: if is_file {
                    format!(
                        "`{}` is a directory, which `file` cannot name (Apache answers a redirect)",
                        p.display()
                    )
                } else {
                    format!(
                        "`{}` is a directory named without its trailing slash (Apache answers a redirect)",
                        text(value)
                    )
                },
                help: Some(if is_file {
                    format!("use `virtual=\"{}/\"` for its index file", text(&p.url()))
                } else {
                    "add the trailing slash for its index file".to_string()
                }),
            }),
            Err(MapError::Io(p, e)) => Err(io_failure(&p, &e)),
            Err(MapError::TooDeep) => Err(Failure::new(
                Code::IncludeDepth,
                format!("includes are nested more than {MAX_DEPTH} levels deep (Apache's limit)"),
            )),
        }
    }

    /// Metadata of `path` through the run's cache, recorded as an input.
    fn lookup_meta(&mut self, path: &SitePath) -> Result<Metadata, IoFailure> {
        match self.cache.metadata(self.fs, path) {
            Ok(meta) => {
                self.inputs.push((path.clone(), meta));
                Ok(meta)
            }
            Err(e) => {
                if e.kind == io::ErrorKind::NotFound {
                    self.missing.push(path.clone());
                }
                Err(e)
            }
        }
    }

    /// `handle_include`, with Apache's `onerror` state machine.
    fn handle_include(&mut self, doc: &mut Doc, d: &Directive<'_>) {
        if d.args.is_empty() {
            return self.fail(
                doc,
                d.span,
                Code::MissingAttribute,
                "`#include` needs a `virtual` or `file` attribute".into(),
                None,
            );
        }
        let mut last_error: Option<(Span, Failure)> = None;
        for arg in &d.args {
            let Some(raw) = self.value_or_stop(doc, d, arg) else {
                break;
            };
            let name = &arg.name[..];
            if !matches!(name, b"virtual" | b"file" | b"onerror") {
                self.unknown_attribute(doc, d, arg);
                break;
            }
            let value = encoding::decode_html(c_string(raw));
            let value = self.subst(doc, &value, arg.span);
            let result = if name == b"file"
                || (name == b"virtual" && last_error.is_none())
                || (name == b"onerror" && last_error.is_some())
            {
                self.map_target(doc, &value, name == b"file", true)
                    .and_then(|(req, mapped)| self.include(doc, arg.span, &value, req, mapped))
            } else {
                continue;
            };
            match result {
                Ok(()) => last_error = None,
                Err(f) => {
                    if last_error.is_some() {
                        // onerror failed too: give up.
                        break;
                    }
                    last_error = Some((arg.span, f));
                }
            }
        }
        if let Some((span, f)) = last_error {
            self.fail(doc, span, f.code, f.message, f.help);
        }
    }

    /// A sub-request whose handler answered 404 (a missing file, path info) still
    /// ends with `ap_finalize_sub_req_protocol`'s EOS, which runs the target's
    /// INCLUDES filter (when its name and directory give it one): `includes_filter`
    /// copies the query into the shared environment before there is anything to parse
    /// (observed on Apache 2.4.71: `include virtual="missing.shtml?a=1"` sets
    /// QUERY_STRING).
    fn handler_refused(&mut self, target: &SitePath, query: Option<&[u8]>) {
        self.sub_request_ended();
        let Some(args) = query else { return };
        let info = match self.fs.metadata(target) {
            Ok(_) => self.settings.config.file(self.fs, target).ok(),
            Err(_) => self
                .settings
                .config
                .dir(self.fs, &target.parent())
                .ok()
                .map(|d| Arc::new(d.file(target.file_name(), 0))),
        };
        if info.is_some_and(|i| i.is_parsed()) {
            self.set_query(args);
        }
    }

    /// `includes_filter`: the sub-request's query, into the environment that nested
    /// documents share with the page.
    fn set_query(&mut self, args: &[u8]) {
        let unescaped = encoding::unescape_url(args);
        self.vars.set(b"QUERY_STRING", args.to_vec());
        self.vars.set(
            b"QUERY_STRING_UNESCAPED",
            encoding::escape_shell_cmd(&unescaped),
        );
    }

    /// Runs one include sub-request: a template is evaluated (sharing variables),
    /// any other text file copied as it is.
    fn include(
        &mut self,
        doc: &Doc,
        span: Span,
        value: &[u8],
        req: Request,
        mapped: Mapped,
    ) -> Result<(), Failure> {
        let path = mapped.path;
        let accept_path_info = self
            .settings
            .config
            .dir(self.fs, &path.parent())
            .ok()
            .and_then(|d| d.accept_path_info());
        if !mapped.path_info.is_empty() && accept_path_info != Some(true) {
            // core's default_handler refuses path info (AcceptPathInfo default): 404.
            self.handler_refused(&path, req.query.as_deref());
            return Err(Failure {
                code: Code::NotFound,
                message: format!(
                    "`{}` has path info `{}` after the file `{}`: Apache answers 404",
                    text(value),
                    text(&mapped.path_info),
                    path.display()
                ),
                help: None,
            });
        }
        if mapped.meta.is_dir {
            return Err(Failure {
                code: Code::NotText,
                message: format!(
                    "`{}` is a directory without an index file; Apache refuses to include it (its type httpd/unix-directory is not text/*)",
                    text(value)
                ),
                help: Some(format!(
                    "add one of its DirectoryIndex files ({})",
                    directory_index(&self.settings.config, self.fs, &path)
                        .iter()
                        .map(|n| text(n))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            });
        }
        let url = match req.kind {
            Kind::File => file_include_url(doc, &path),
            Kind::Virtual => Some(path.url()),
        };
        let query = req.query.as_deref();
        if self.settings.on_error == OnError::Fail && self.stack.contains(&path) {
            let mut chain: Vec<String> = self.stack.iter().map(SitePath::display).collect();
            chain.push(path.display());
            return Err(Failure {
                code: Code::IncludeCycle,
                message: format!("include cycle: {}", chain.join(" -> ")),
                help: Some("Apache would repeat the page until its nesting limit of 10".into()),
            });
        }
        let info = if mapped.meta.is_dir {
            None
        } else {
            Some(
                self.settings
                    .config
                    .file(self.fs, &path)
                    .map_err(|e| config_failure(&e))?,
            )
        };
        let info = info.expect("directories are refused above");
        let config = &self.settings.config;
        // The text/* test of IncludesNOEXEC, skipped under `Options +Includes` of the
        // including document's directory.
        if doc.includes != Includes::Exec && info.is_refused_include() {
            return Err(Failure {
                code: Code::NotText,
                message: format!(
                    "`{}` is not a text/* file; Apache refuses to include it under IncludesNOEXEC",
                    path.display()
                ),
                help: None,
            });
        }
        let runs = match mapped.index && info.includes() != Includes::Off {
            true => info.runs() + config.directory_filters(self.fs, &path.parent()),
            false => info.runs(),
        };
        if runs > 0 {
            let parsed = self
                .cache
                .parsed(self.fs, &path)
                .map_err(|e| io_failure(&path, &e))?;
            if let Some(args) = query {
                // includes_filter adds the sub-request's query to the environment,
                // which nested documents share with the page (observed on 2.4.71).
                self.set_query(args);
            }
            self.includes += 1;
            self.included.push(path.clone());
            self.chain.push(Location {
                file: doc.path.clone(),
                span,
            });
            let (mtime, depth) = (mapped.meta.mtime, doc.depth + 1);
            let args = query.map(<[u8]>::to_vec);
            self.passes(path, url, (args, mtime), parsed, depth, runs);
            self.sub_request_ended();
            self.chain.pop();
        } else {
            let bytes = self
                .cache
                .bytes(self.fs, &path)
                .map_err(|e| io_failure(&path, &e))?;
            self.includes += 1;
            self.included.push(path.clone());
            if memchr::memmem::find(&bytes, ssibake_grammar::START).is_some() {
                // Apache ships them too, but nobody writes a directive to ship it.
                self.warn(
                    &doc.path,
                    span,
                    Code::RawDirective,
                    format!(
                        "`{}` holds SSI directives but is not parsed here: it is included as it is, directives and all (as Apache does)",
                        path.display()
                    ),
                    Some(
                        "name it `.shtml`, or parse its type (`AddOutputFilter INCLUDES .html` in a `.htaccess`)".into(),
                    ),
                );
            }
            if !bytes.is_empty() {
                self.flush();
            }
            self.out.extend_from_slice(&bytes);
            self.sub_request_ended();
        }
        Ok(())
    }

    /// `handle_set`.
    fn handle_set(&mut self, doc: &mut Doc, d: &Directive<'_>) {
        if d.args.len() < 2 {
            return self.fail(
                doc,
                d.span,
                Code::MissingAttribute,
                "`#set` needs `var` and `value` attributes".into(),
                None,
            );
        }
        let mut encoding = (b"none".to_vec(), d.span);
        let mut decoding = (b"none".to_vec(), d.span);
        let mut var: Option<Vec<u8>> = None;
        for arg in &d.args {
            let Some(raw) = self.value_or_stop(doc, d, arg) else {
                break;
            };
            let raw = c_string(raw);
            match &arg.name[..] {
                b"var" => {
                    let name = encoding::decode_html(raw);
                    var = Some(self.subst(doc, &name, arg.span));
                }
                b"decoding" => decoding = (raw.to_vec(), arg.span),
                b"encoding" => encoding = (raw.to_vec(), arg.span),
                b"value" => {
                    let Some(name) = var.clone() else {
                        self.fail(
                            doc,
                            arg.span,
                            Code::MissingAttribute,
                            "`value` before `var` in `#set`".into(),
                            Some("put `var=\"...\"` first".into()),
                        );
                        break;
                    };
                    let value = self.subst(doc, raw, arg.span);
                    let decoded = self.codings(doc, &decoding, "decoding", &value, true);
                    let encoded = self.codings(
                        doc,
                        &encoding,
                        "encoding",
                        decoded.as_deref().unwrap_or(&value),
                        false,
                    );
                    match (decoded, encoded) {
                        (Some(_), Some(v)) if v.len() > MAX_VALUE => {
                            return self.stop(
                                doc,
                                arg.span,
                                format!(
                                    "`{}` would grow past {} MiB",
                                    text(&name),
                                    MAX_VALUE >> 20
                                ),
                            );
                        }
                        (Some(_), Some(v)) => self.vars.set(&name, v),
                        _ => break,
                    }
                }
                _ => {
                    self.unknown_attribute(doc, d, arg);
                    break;
                }
            }
        }
    }

    /// `handle_printenv`: every variable as `name=value`, HTML-escaped. Apache also
    /// prints the CGI environment of the request, which does not exist here.
    fn handle_printenv(&mut self, doc: &mut Doc, d: &Directive<'_>) {
        if !d.args.is_empty() {
            return self.fail(
                doc,
                d.span,
                Code::UnknownAttribute,
                "`#printenv` takes no attributes".into(),
                None,
            );
        }
        self.strict(
            doc,
            d.span,
            Code::Unsupported,
            "`#printenv` cannot be reproduced at deploy time: Apache prints the CGI environment of each request".into(),
            Some("use `--on-error errmsg` to print the variables ssibake has, or `#echo` the ones you need".into()),
        );
        for name in self.vars.names() {
            let value = self.vars(doc).get(&name).unwrap_or_default();
            self.out.extend_from_slice(&encoding::escape_html(&name));
            self.out.push(b'=');
            self.out.extend_from_slice(&encoding::escape_html(&value));
            self.out.push(b'\n');
        }
    }

    /// Checks the single `expr` attribute of `if`/`elif`; `Err` after reporting.
    fn expr_arg<'d>(&mut self, doc: &Doc, d: &'d Directive<'_>) -> Result<&'d Arg<'d>, ()> {
        let what = text(&d.name);
        if d.args.len() != 1 {
            let msg = if d.args.is_empty() {
                format!("`#{what}` needs an `expr` attribute")
            } else {
                format!("`#{what}` takes exactly one attribute, `expr`")
            };
            self.fail(doc, d.span, Code::MissingAttribute, msg, None);
            return Err(());
        }
        let arg = &d.args[0];
        if &arg.name[..] != b"expr" {
            self.unknown_attribute(doc, d, arg);
            return Err(());
        }
        if arg.value.is_none() {
            self.fail(
                doc,
                arg.span,
                Code::MissingAttribute,
                format!("`expr` of `#{what}` has no value"),
                None,
            );
            return Err(());
        }
        Ok(arg)
    }

    /// Parses and evaluates an `expr` value in the configured language.
    fn condition(&mut self, doc: &mut Doc, arg: &Arg<'_>) -> Result<bool, ()> {
        let value = arg.value.as_ref().expect("checked by expr_arg");
        let source = c_string(&value.node);
        let legacy = doc.legacy_expr;
        // The captures are the document's; lent out while its variables are read.
        let mut refs = std::mem::take(&mut doc.refs);
        let result = condition::evaluate(source, legacy, &mut self.vars(doc), &mut refs);
        doc.refs = refs;
        match result {
            Ok(b) => Ok(b),
            Err(e) => {
                // Point into the attribute value when the error has a position.
                let span = match e.span {
                    Some(s)
                        if value.span.start + s.end <= value.span.end && arg.quote.is_some() =>
                    {
                        s.shift(value.span.start)
                    }
                    _ => value.span,
                };
                let code = if e.unsupported {
                    Code::Unsupported
                } else {
                    Code::Expression
                };
                self.fail(doc, span, code, e.message, e.help);
                Err(())
            }
        }
    }

    /// After an `if`/`elif` error. httpd 2.4.68+: nothing prints, and `else` is
    /// inert until `endif` (a later true `elif` prints its body, and the `else` body
    /// too). Before 2.4.68 the flags are left as they were (see `compat`).
    fn errored(&self, doc: &mut Doc) {
        if !self.settings.apache_version.if_error_hides_branches() {
            return;
        }
        doc.printing = false;
        doc.cond_true = false;
        doc.errored = true;
    }

    /// `handle_if`.
    fn handle_if(&mut self, doc: &mut Doc, d: &Directive<'_>) {
        doc.open_ifs.push(d.span);
        if !doc.printing {
            doc.nesting += 1;
            return;
        }
        let Ok(arg) = self.expr_arg(doc, d) else {
            return self.errored(doc);
        };
        // A true or false `if` leaves an earlier error's mark alone: only `endif`
        // clears it, so an `if` nested in a branch after an error has an inert
        // `else` too (observed on 2.4.71: the `if-*-nested-after-error-keeps-else-inert` fixtures).
        match self.condition(doc, arg) {
            Ok(true) => {
                doc.printing = true;
                doc.cond_true = true;
            }
            Ok(false) => {
                doc.printing = false;
                doc.cond_true = false;
            }
            Err(()) => self.errored(doc),
        }
        doc.nesting = 0;
    }

    /// `handle_elif`.
    fn handle_elif(&mut self, doc: &mut Doc, d: &Directive<'_>) {
        if doc.nesting > 0 {
            return;
        }
        if doc.open_ifs.is_empty() {
            self.strict(
                doc,
                d.span,
                Code::Conditional,
                "`#elif` without `#if`: Apache hides everything up to the next `#endif`".into(),
                None,
            );
        }
        let Ok(arg) = self.expr_arg(doc, d) else {
            return self.errored(doc);
        };
        if doc.cond_true {
            doc.printing = false;
            return;
        }
        match self.condition(doc, arg) {
            Ok(true) => {
                doc.printing = true;
                doc.cond_true = true;
            }
            Ok(false) => {
                doc.printing = false;
                doc.cond_true = false;
            }
            Err(()) => self.errored(doc),
        }
    }

    /// `handle_else`.
    fn handle_else(&mut self, doc: &mut Doc, d: &Directive<'_>) {
        if doc.nesting > 0 {
            return;
        }
        if doc.open_ifs.is_empty() {
            self.strict(
                doc,
                d.span,
                Code::Conditional,
                "`#else` without `#if`: Apache hides everything up to the next `#endif`".into(),
                None,
            );
        }
        if !d.args.is_empty() {
            if doc.printing {
                self.fail(
                    doc,
                    d.span,
                    Code::Conditional,
                    "`#else` takes no attributes".into(),
                    None,
                );
            } else {
                self.strict(
                    doc,
                    d.span,
                    Code::Conditional,
                    "`#else` takes no attributes".into(),
                    None,
                );
            }
            return;
        }
        if doc.errored {
            return;
        }
        if doc.cond_true {
            doc.printing = false;
        } else {
            doc.printing = true;
            doc.cond_true = true;
        }
    }

    /// `handle_endif`.
    fn handle_endif(&mut self, doc: &mut Doc, d: &Directive<'_>) {
        doc.open_ifs.pop();
        if doc.nesting > 0 {
            doc.nesting -= 1;
            return;
        }
        if !d.args.is_empty() {
            // Printed even in a false branch, and the endif is not applied.
            return self.fail(
                doc,
                d.span,
                Code::Conditional,
                "`#endif` takes no attributes".into(),
                None,
            );
        }
        doc.printing = true;
        doc.cond_true = true;
        doc.errored = false;
    }
}

/// True when some `${` in `value` has no closing `}` (ignoring `\$` escapes).
fn has_unterminated_brace(value: &[u8]) -> bool {
    let mut i = 0;
    while i < value.len() {
        match value[i] {
            b'\\' if value.get(i + 1) == Some(&b'$') => i += 2,
            b'$' if value.get(i + 1) == Some(&b'{') => {
                match memchr::memchr(b'}', &value[i + 2..]) {
                    Some(j) => i += j + 3,
                    None => return true,
                }
            }
            _ => i += 1,
        }
    }
    false
}

/// The `DirectoryIndex` in force in `dir` (none when its configuration fails).
fn directory_index(config: &SiteConfig, fs: &dyn FileSystem, dir: &SitePath) -> Vec<Vec<u8>> {
    config
        .dir(fs, dir)
        .map(|c| c.directory_index().to_vec())
        .unwrap_or_default()
}

/// A configuration Apache refuses answers 500 for the whole directory.
fn config_failure(e: &ConfigError) -> Failure {
    // One line: the offending line goes in backquotes, not on a line of its own.
    let line = if e.text.is_empty() {
        String::new()
    } else {
        format!(" (`{}`)", e.text.trim())
    };
    Failure {
        code: Code::Config,
        message: format!(
            "the site's configuration cannot be used: {}:{}: {}{line}",
            e.file, e.line, e.message
        ),
        help: Some("Apache answers 500 for every file of that directory".into()),
    }
}

/// The URL of a document included with `file=`: Apache (`ap_sub_req_lookup_file`)
/// gives one only to a file in the including document's own directory whose
/// including document has a URI; any other gets the empty URI, against which a
/// relative `virtual` resolves from the root (`ap_make_full_path("", v)` is `/v`;
/// observed on 2.4.71).
fn file_include_url(doc: &Doc, path: &SitePath) -> Option<Vec<u8>> {
    let base = match &doc.url {
        Some(base) if !base.is_empty() && path.parent() == doc.path.parent() => base,
        _ => return Some(Vec::new()),
    };
    let dir_end = memchr::memrchr(b'/', base).map_or(0, |i| i + 1);
    let mut url = base[..dir_end].to_vec();
    url.extend_from_slice(path.file_name());
    // The URI is built from the decoded one and the file's own name, then parsed and
    // unescaped once more by `ap_process_request_internal`: `/d%41/` (requested as
    // `/d%2541/`) becomes `/dA/` (observed on 2.4.71).
    Some(urlmap::percent_decode(&url).unwrap_or(url))
}

/// Whether `path` is a genuine revved copy: a name `revved_name` could have made
/// (`a.<hex>.css`, `LICENSE.<hex>`) whose hex digits begin the SHA-256 of its
/// own content. Only such files are ever deleted as old revved copies.
#[cfg_attr(not(feature = "bake"), allow(dead_code))]
pub(crate) fn is_genuine_revved(fs: &dyn FileSystem, path: &SitePath) -> bool {
    let name = path.file_name();
    let segments: Vec<&[u8]> = name.split(|&b| b == b'.').collect();
    // Streamed: a revved copy may be larger than the read limit.
    let Some(digest) = fs.sha256(path).ok().map(|d| hex(&d)) else {
        return false;
    };
    // The hash is the last segment, or the one before the extension.
    let n = segments.len();
    [n.checked_sub(1), n.checked_sub(2)]
        .into_iter()
        .flatten()
        .filter(|&i| i > 0)
        .any(|i| {
            let h = segments[i];
            !h.is_empty()
                && h.len() <= 64
                && h.iter()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
                && digest.as_bytes().starts_with(h)
        })
}

/// The default `hashlen`.
pub(crate) const DEFAULT_HASHLEN: usize = 10;

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// `css/app.css` with `hash` → `css/app.<hash>.css`; a name without an extension
/// (or a dot file) gets `.<hash>` at its end.
pub(crate) fn revved_name(path: &[u8], hash: &[u8]) -> Vec<u8> {
    let name_start = memchr::memrchr(b'/', path).map_or(0, |i| i + 1);
    let insert = memchr::memrchr(b'.', &path[name_start..])
        .filter(|&i| i > 0)
        .map_or(path.len(), |i| name_start + i);
    let mut out = Vec::with_capacity(path.len() + hash.len() + 1);
    out.extend_from_slice(&path[..insert]);
    out.push(b'.');
    out.extend_from_slice(hash);
    out.extend_from_slice(&path[insert..]);
    out
}

/// Variables Apache takes from each request (`ap_add_common_vars`,
/// `ap_add_cgi_vars`), besides every `HTTP_*` header.
const REQUEST_VARIABLES: &[&str] = &[
    "AUTH_TYPE",
    "PATH_INFO",
    "PATH_TRANSLATED",
    "QUERY_STRING_UNESCAPED",
    "REMOTE_ADDR",
    "REMOTE_HOST",
    "REMOTE_IDENT",
    "REMOTE_PORT",
    "REMOTE_USER",
    "SERVER_ADDR",
    "UNIQUE_ID",
];

/// Variables that come from the server's configuration or its machine, with the
/// setting that gives them (`None`: nothing a bake can know).
const SERVER_VARIABLES: &[(&str, Option<&str>)] = &[
    ("SERVER_NAME", Some("--server-name")),
    ("SERVER_PORT", Some("--server-port")),
    ("SERVER_ADMIN", Some("--server-admin")),
    ("REQUEST_SCHEME", Some("--scheme")),
    ("HTTPS", Some("--scheme https")),
    ("DOCUMENT_ROOT", None),
    ("CONTEXT_DOCUMENT_ROOT", None),
    ("SCRIPT_FILENAME", None),
    ("SERVER_SOFTWARE", None),
    ("SERVER_SIGNATURE", None),
    ("PATH", None),
];

/// The message and help for `#echo` of an undefined variable `name`.
fn undefined_echo(name: &[u8]) -> (String, String) {
    let shown = text(name);
    let upper = shown.to_ascii_uppercase();
    let per_request = upper.starts_with("HTTP_")
        || upper.starts_with("SSL_")
        || upper.starts_with("REDIRECT_")
        || REQUEST_VARIABLES.contains(&upper.as_str());
    let server = SERVER_VARIABLES.iter().find(|(n, _)| *n == upper);
    if let Some((_, flag)) = server {
        let message =
            format!(
            "`{shown}` is undefined: Apache takes it from the server's configuration or machine{}",
            if flag.is_some() { "" } else { ", which a bake does not know" }
        );
        let help = match flag {
            Some(flag) => format!("give it with `{flag}` (or in ssibake.toml)"),
            None => format!("give it a value with `--define {shown}=...`"),
        };
        return (message, help);
    }
    let message = if upper == "USER_NAME" {
        format!(
            "`{shown}` is undefined: Apache prints the page file's owner, which differs between machines"
        )
    } else if per_request {
        format!(
            "`{shown}` is undefined: Apache sets it from each request, and a bake has no request"
        )
    } else {
        format!("`{shown}` is undefined (Apache would print `(none)`)")
    };
    let help = format!(
        "give it a value with `--define {shown}=...`{}, or put `<!--#config echomsg=\"\" -->` \
         before it if an undefined variable should print nothing",
        if per_request {
            ""
        } else {
            " or `#set` it first"
        }
    );
    (message, help)
}

/// What to do about a file without a git time under `--strict-git`.
pub(crate) fn not_in_git_help(shallow: bool) -> &'static str {
    if shallow {
        "fetch the whole history (`git fetch --unshallow`, or `fetch-depth: 0` for actions/checkout), or drop --strict-git to fall back to file times"
    } else {
        "commit the file, or drop --strict-git to fall back to its file time"
    }
}

fn io_failure(path: &SitePath, e: &IoFailure) -> Failure {
    if e.unversioned {
        return Failure {
            code: Code::NotInGit,
            message: e.message.clone(),
            help: Some(not_in_git_help(e.shallow).into()),
        };
    }
    if e.outside_root {
        return Failure::new(Code::OutsideRoot, e.message.clone());
    }
    match e.kind {
        io::ErrorKind::NotFound => Failure {
            code: Code::NotFound,
            message: format!("`{}` does not exist", path.display()),
            help: None,
        },
        _ => Failure::new(
            Code::Io,
            format!("cannot read `{}`: {}", path.display(), e.message),
        ),
    }
}

fn malformed_message(d: &Directive<'_>) -> String {
    use ssibake_grammar::Malformed;
    match d.malformed {
        Some(Malformed::EmptyName) => "directive has no name right after `<!--#`".into(),
        Some(Malformed::ValueWithoutName(_)) => "attribute value has no name".into(),
        Some(Malformed::EmptyAttributeName(_)) => "attribute name is empty".into(),
        // An earlier malformed directive met while not printing (Apache keeps its
        // error flag up until a directive is met while printing).
        None => "an earlier malformed directive in a false branch makes Apache skip this directive"
            .into(),
    }
}
