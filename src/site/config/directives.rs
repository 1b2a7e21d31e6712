//! What each directive does to a section, where it may appear, and which
//! `AllowOverride` class it needs (`server/core.c:core_cmds`,
//! `modules/http/mod_mime.c:mime_cmds`, `modules/filters/mod_include.c:includes_cmds`,
//! `modules/mappers/mod_dir.c:dir_cmds`; observed in apache-rules.md §6.5).
//!
//! Directives that cannot change what mod_include sends (RewriteRule, Header,
//! ExpiresActive, ErrorDocument, Require …) are skipped without a word.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use crate::site::config::model::{
    AllowOverride, Field, FileMatch, FileSection, PathInfo, Section, Set, Source, XBitHack,
    OPT_ALL, OPT_EXECCGI, OPT_INCLUDES, OPT_INC_WITH_EXEC, OPT_INDEXES, OPT_MULTI, OPT_NONE,
    OPT_SYM_LINKS, OPT_SYM_OWNER, OR_ALL, OR_AUTHCFG, OR_FILEINFO, OR_INDEXES, OR_LIMIT,
    OR_OPTIONS,
};
use crate::site::config::parse::{section_args, Line, Node, SyntaxError};

/// A configuration line ssibake cannot accept, or one Apache refuses (which makes
/// Apache answer 500 for every request in that directory).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ConfigError {
    /// `--apache-conf`'s file name, or the root-relative path of the `.htaccess`.
    pub(crate) file: String,
    pub(crate) line: usize,
    /// The line as written.
    pub(crate) text: String,
    pub(crate) message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}\n  | {}",
            self.file, self.line, self.message, self.text
        )
    }
}

impl std::error::Error for ConfigError {}

/// The modules `<IfModule>` sees as loaded: Debian's default set (`a2query -m` on a
/// fresh install: core and the statically built ones, then mods-enabled) plus
/// mod_include, which a site using SSI has enabled. Each has an identifier
/// (`include_module`) and a source file name (`mod_include.c`); both forms match.
pub(crate) const DEFAULT_MODULES: &[(&str, &str)] = &[
    ("core_module", "core.c"),
    ("http_module", "http_core.c"),
    ("so_module", "mod_so.c"),
    ("watchdog_module", "mod_watchdog.c"),
    ("log_config_module", "mod_log_config.c"),
    ("logio_module", "mod_logio.c"),
    ("version_module", "mod_version.c"),
    ("unixd_module", "mod_unixd.c"),
    ("mpm_event_module", "event.c"),
    ("access_compat_module", "mod_access_compat.c"),
    ("alias_module", "mod_alias.c"),
    ("auth_basic_module", "mod_auth_basic.c"),
    ("authn_core_module", "mod_authn_core.c"),
    ("authn_file_module", "mod_authn_file.c"),
    ("authz_core_module", "mod_authz_core.c"),
    ("authz_host_module", "mod_authz_host.c"),
    ("authz_user_module", "mod_authz_user.c"),
    ("autoindex_module", "mod_autoindex.c"),
    ("deflate_module", "mod_deflate.c"),
    ("dir_module", "mod_dir.c"),
    ("env_module", "mod_env.c"),
    ("filter_module", "mod_filter.c"),
    ("mime_module", "mod_mime.c"),
    ("negotiation_module", "mod_negotiation.c"),
    ("reqtimeout_module", "mod_reqtimeout.c"),
    ("setenvif_module", "mod_setenvif.c"),
    ("status_module", "mod_status.c"),
    ("include_module", "mod_include.c"),
];

/// The loaded modules, by identifier and by file name.
pub(crate) fn default_modules() -> BTreeSet<String> {
    DEFAULT_MODULES
        .iter()
        .flat_map(|(id, file)| [id.to_string(), file.to_string()])
        .collect()
}

/// Where a list of directives is read.
#[derive(Clone, Copy)]
pub(crate) enum Where<'a> {
    /// The main server or a `<VirtualHost>` (RSRC_CONF).
    Server,
    /// A `<Directory>` block, or a `<Files>` inside the server configuration
    /// (ACCESS_CONF).
    Directory,
    /// A `.htaccess` file, or a `<Files>` inside one, under this AllowOverride.
    Htaccess(&'a AllowOverride),
}

/// What the reader needs besides the lines.
pub(crate) struct Reader<'a> {
    pub(crate) file: Arc<str>,
    pub(crate) htaccess: bool,
    pub(crate) modules: &'a BTreeSet<String>,
}

impl Reader<'_> {
    pub(crate) fn source(&self, line: &Line) -> Source {
        if self.htaccess {
            Source::Htaccess {
                file: self.file.clone(),
                line: line.line,
            }
        } else {
            Source::ApacheConf {
                file: self.file.clone(),
                line: line.line,
            }
        }
    }

    pub(crate) fn error(&self, line: &Line, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.file.to_string(),
            line: line.line,
            text: line.text.clone(),
            message: message.into(),
        }
    }

    pub(crate) fn syntax(&self, e: SyntaxError) -> ConfigError {
        ConfigError {
            file: self.file.to_string(),
            line: e.line,
            text: e.text,
            message: e.message,
        }
    }
}

/// What a directive needs to be allowed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Req {
    /// Allowed anywhere, and in `.htaccess` under one of these AllowOverride classes.
    Classes(u8),
    /// RSRC_CONF: the server or a virtual host only.
    Server,
    /// ACCESS_CONF: `<Directory>` only.
    Directory,
}

fn allowed(req: Req, at: Where<'_>, key: &str) -> bool {
    match (req, at) {
        (Req::Classes(_), Where::Server | Where::Directory) => true,
        (Req::Server, Where::Server) | (Req::Directory, Where::Directory) => true,
        (Req::Classes(c), Where::Htaccess(ao)) => {
            c & ao.classes != 0 || ao.list.iter().any(|d| d == key)
        }
        _ => false,
    }
}

/// Directives ssibake models: a container it cannot evaluate is an error when it
/// holds one of these.
const MODELED: &[&str] = &[
    "options",
    "xbithack",
    "addtype",
    "addoutputfilter",
    "addhandler",
    "removetype",
    "removeoutputfilter",
    "removehandler",
    "forcetype",
    "sethandler",
    "setoutputfilter",
    "directoryindex",
    "acceptpathinfo",
    "ssilegacyexprparser",
    "ssitimeformat",
    "ssierrormsg",
    "ssiundefinedecho",
    "ssistarttag",
    "ssiendtag",
    "serveradmin",
    "files",
    "filesmatch",
];

/// core directives ssibake does not model: they still give the section a core part,
/// which changes how `Options` merge (see `model.rs`).
const OTHER_CORE: &[&str] = &[
    "adddefaultcharset",
    "cgimapextension",
    "cgipassauth",
    "cgivar",
    "contentdigest",
    "enablemmap",
    "enablesendfile",
    "error",
    "errordocument",
    "fileetag",
    "hostnamelookups",
    "limitrequestbody",
    "limitxmlrequestbody",
    "loglevel",
    "qualifyredirecturl",
    "serversignature",
    "setinputfilter",
    "usecanonicalname",
    "usecanonicalphysicalport",
];

/// mod_mime directives ssibake does not model beyond their effect on merging.
const OTHER_MIME: &[(&str, Field)] = &[
    ("addcharset", Field::Charset),
    ("addencoding", Field::Encoding),
    ("addlanguage", Field::Language),
    ("addinputfilter", Field::InputFilter),
];

const OTHER_MIME_REMOVE: &[(&str, Field)] = &[
    ("removecharset", Field::Charset),
    ("removeencoding", Field::Encoding),
    ("removelanguage", Field::Language),
    ("removeinputfilter", Field::InputFilter),
];

fn holds_modeled(children: &[Node]) -> Option<String> {
    children.iter().find_map(|n| match n {
        Node::Directive(l) => MODELED
            .contains(&l.key().as_str())
            .then(|| l.display_name()),
        Node::Section { open, children } => {
            if MODELED.contains(&open.key().as_str()) {
                Some(open.display_name())
            } else {
                holds_modeled(children)
            }
        }
    })
}

fn lower(v: &[u8]) -> Vec<u8> {
    v.to_ascii_lowercase()
}

fn lossy(v: &[u8]) -> String {
    String::from_utf8_lossy(v).into_owned()
}

/// An extension key as mod_mime stores it: lower case, one leading dot dropped.
fn ext_key(ext: &[u8]) -> Vec<u8> {
    lower(ext.strip_prefix(b".").unwrap_or(ext))
}

fn take1(r: &Reader<'_>, line: &Line) -> Result<Vec<u8>, ConfigError> {
    let words = line.words();
    match words.as_slice() {
        [one] => Ok(one.clone()),
        _ => Err(r.error(line, format!("{} takes one argument", line.display_name()))),
    }
}

fn flag(r: &Reader<'_>, line: &Line) -> Result<bool, ConfigError> {
    let word = take1(r, line)?;
    if word.eq_ignore_ascii_case(b"on") {
        Ok(true)
    } else if word.eq_ignore_ascii_case(b"off") {
        Ok(false)
    } else {
        Err(r.error(line, format!("{} must be On or Off", line.display_name())))
    }
}

/// `set_options`: applies one `Options` line; `may` is the AllowOverride
/// `Options=` set (everything outside `.htaccess`).
fn options(r: &Reader<'_>, line: &Line, section: &mut Section, may: u8) -> Result<(), ConfigError> {
    let source = r.source(line);
    let core = section.core_mut();
    let mut first = true;
    let mut merge = false;
    let mut all_none = false;
    let mixed = "Either all Options must start with + or -, or no Option may.";
    for word in line.words() {
        let (action, w) = match word.first() {
            Some(b'+') | Some(b'-') => {
                if !merge && !first && !all_none {
                    return Err(r.error(line, mixed));
                }
                merge = true;
                (word[0], &word[1..])
            }
            _ => {
                if first {
                    core.opts = OPT_NONE;
                } else if merge {
                    return Err(r.error(line, mixed));
                }
                (0, &word[..])
            }
        };
        let opt = match lower(w).as_slice() {
            b"indexes" => OPT_INDEXES,
            b"includes" => OPT_INCLUDES | OPT_INC_WITH_EXEC,
            b"includesnoexec" => OPT_INCLUDES,
            b"followsymlinks" => OPT_SYM_LINKS,
            b"symlinksifownermatch" => OPT_SYM_OWNER,
            b"execcgi" => OPT_EXECCGI,
            b"multiviews" => OPT_MULTI,
            b"runscripts" => OPT_MULTI | OPT_EXECCGI,
            b"none" => {
                if !first {
                    return Err(r.error(line, "'Options None' must be the first Option given."));
                }
                if merge {
                    return Err(
                        r.error(line, "You may not use 'Options +None' or 'Options -None'.")
                    );
                }
                all_none = true;
                OPT_NONE
            }
            b"all" => {
                if !first {
                    return Err(r.error(line, "'Options All' must be the first option given."));
                }
                if merge {
                    return Err(r.error(line, "You may not use 'Options +All' or 'Options -All'."));
                }
                all_none = true;
                OPT_ALL
            }
            _ => return Err(r.error(line, format!("Illegal option {}", lossy(w)))),
        };
        if may & opt != opt {
            return Err(r.error(line, format!("Option {} not allowed here", lossy(w))));
        }
        match action {
            b'-' => {
                core.opts_remove |= opt;
                core.opts_add &= !opt;
                core.opts &= !opt;
            }
            b'+' => {
                core.opts_add |= opt;
                core.opts_remove &= !opt;
                core.opts |= opt;
            }
            _ => core.opts |= opt,
        }
        first = false;
    }
    core.opts_lines.push((line.text.clone(), source));
    Ok(())
}

/// `AllowOverride` (`set_override`).
fn allow_override(r: &Reader<'_>, line: &Line, section: &mut Section) -> Result<(), ConfigError> {
    let core = section.core_mut();
    let previous = core.allow_override.take();
    let mut ao = AllowOverride {
        classes: 0,
        options: previous
            .as_ref()
            .map_or(OPT_ALL | OPT_SYM_OWNER | OPT_MULTI, |p| p.options),
        nonfatal_override: false,
        list: previous.map(|p| p.list).unwrap_or_default(),
        source: r.source(line),
    };
    for word in line.words() {
        let (k, v) = match word.iter().position(|&b| b == b'=') {
            Some(i) => (lower(&word[..i]), Some(&word[i + 1..])),
            None => (lower(&word), None),
        };
        match k.as_slice() {
            b"limit" => ao.classes |= OR_LIMIT,
            b"options" => {
                ao.classes |= OR_OPTIONS;
                ao.options = match v {
                    None => OPT_ALL,
                    Some(list) => {
                        let mut opts = OPT_NONE;
                        for w in list.split(|&b| b == b',').filter(|w| !w.is_empty()) {
                            opts |= match lower(w).as_slice() {
                                b"indexes" => OPT_INDEXES,
                                b"includes" => OPT_INCLUDES | OPT_INC_WITH_EXEC,
                                b"includesnoexec" => OPT_INCLUDES,
                                b"followsymlinks" => OPT_SYM_LINKS,
                                b"symlinksifownermatch" => OPT_SYM_OWNER,
                                b"execcgi" => OPT_EXECCGI,
                                b"multiviews" => OPT_MULTI,
                                b"runscripts" => OPT_MULTI | OPT_EXECCGI,
                                b"none" => OPT_NONE,
                                b"all" => OPT_ALL,
                                _ => {
                                    return Err(
                                        r.error(line, format!("Illegal option {}", lossy(w)))
                                    )
                                }
                            };
                        }
                        opts
                    }
                };
            }
            b"fileinfo" => ao.classes |= OR_FILEINFO,
            b"authconfig" => ao.classes |= OR_AUTHCFG,
            b"indexes" => ao.classes |= OR_INDEXES,
            b"nonfatal" => match v.map(lower).as_deref() {
                Some(b"override") | Some(b"all") => ao.nonfatal_override = true,
                Some(b"unknown") => {}
                Some(_) => {}
                None => {
                    return Err(r.error(line, "=Override, =Unknown or =All expected after Nonfatal"))
                }
            },
            b"none" => ao.classes = 0,
            b"all" => ao.classes = OR_ALL,
            _ => {
                return Err(r.error(line, format!("Illegal override option {}", lossy(&word))));
            }
        }
    }
    core.allow_override = Some(ao);
    Ok(())
}

/// Reads the directives of one section into `section`. `<Files>` blocks become
/// file sections of it; `<IfModule>`/`<IfDefine>` are evaluated.
pub(crate) fn read_section(
    r: &Reader<'_>,
    nodes: &[Node],
    at: Where<'_>,
    in_files: bool,
    section: &mut Section,
) -> Result<(), ConfigError> {
    for node in nodes {
        match node {
            Node::Directive(line) => directive(r, line, at, section)?,
            Node::Section { open, children } => {
                container(r, open, children, at, in_files, section)?
            }
        }
    }
    Ok(())
}

fn not_allowed(r: &Reader<'_>, line: &Line, at: Where<'_>) -> Result<(), ConfigError> {
    if let Where::Htaccess(ao) = at {
        if ao.nonfatal_override {
            return Ok(());
        }
    }
    Err(r.error(line, format!("{} not allowed here", line.display_name())))
}

fn container(
    r: &Reader<'_>,
    open: &Line,
    children: &[Node],
    at: Where<'_>,
    in_files: bool,
    section: &mut Section,
) -> Result<(), ConfigError> {
    let key = open.key();
    let args = section_args(open).unwrap_or_default();
    let words = crate::site::config::parse::words(&args);
    match key.as_str() {
        "ifmodule" | "ifdefine" => {
            let Some(arg) = words.first() else {
                return Err(r.error(
                    open,
                    format!(
                        "{} directive requires additional arguments",
                        open.display_name()
                    ),
                ));
            };
            let (negate, name) = match arg.strip_prefix(b"!") {
                Some(rest) => (true, rest),
                None => (false, &arg[..]),
            };
            let present = key == "ifmodule" && r.modules.contains(&lossy(name));
            if present != negate {
                read_section(r, children, at, in_files, section)?;
            }
            Ok(())
        }
        "files" | "filesmatch" => {
            if !allowed(Req::Classes(OR_ALL), at, &key) {
                return not_allowed(r, open, at);
            }
            if in_files {
                return Err(r.error(
                    open,
                    format!(
                        "{} cannot occur within <Files> section",
                        open.display_name()
                    ),
                ));
            }
            let (regex, pattern) = match (key.as_str(), words.as_slice()) {
                ("files", [tilde, re, ..]) if tilde == b"~" => (true, re.clone()),
                ("files", [name, ..]) => (false, name.clone()),
                ("filesmatch", [re, ..]) => (true, re.clone()),
                _ => {
                    return Err(r.error(
                        open,
                        format!(
                            "{} directive requires additional arguments",
                            open.display_name()
                        ),
                    ))
                }
            };
            let matcher = if regex {
                FileMatch::Regex(translate_regex(r, open, &pattern)?)
            } else if pattern.iter().any(|b| matches!(b, b'*' | b'?' | b'[')) {
                FileMatch::Wildcard(pattern)
            } else {
                FileMatch::Exact(pattern)
            };
            let inner_at = match at {
                Where::Server => Where::Directory,
                other => other,
            };
            let mut inner = Section::default();
            // `filesection` creates the core part of the new section.
            inner.core_mut();
            read_section(r, children, inner_at, true, &mut inner)?;
            section.core_mut().sec_file.push(Arc::new(FileSection {
                matcher,
                section: inner,
                header: open.text.clone(),
                source: r.source(open),
            }));
            Ok(())
        }
        "directory" | "directorymatch" | "virtualhost" | "location" | "locationmatch" | "proxy"
        | "proxymatch" | "macro" => {
            if !matches!(at, Where::Server) || key == "directory" || key == "virtualhost" {
                // Directory and VirtualHost are read by the server reader; anywhere
                // else they are misplaced.
                return not_allowed(r, open, at);
            }
            unevaluable(r, open, children)
        }
        "if" | "elseif" | "else" | "limit" | "limitexcept" | "iffile" | "ifdirective"
        | "ifsection" | "ifversion" => unevaluable(r, open, children),
        // RequireAll/RequireAny/RequireNone and the containers of modules ssibake
        // does not know hold nothing it models.
        _ => match holds_modeled(children) {
            Some(_) => unevaluable(r, open, children),
            None => Ok(()),
        },
    }
}

fn unevaluable(r: &Reader<'_>, open: &Line, children: &[Node]) -> Result<(), ConfigError> {
    match holds_modeled(children) {
        None => Ok(()),
        Some(inner) => Err(r.error(
            open,
            format!(
                "ssibake cannot evaluate {} and it holds {inner}, which changes what mod_include does",
                open.display_name()
            ),
        )),
    }
}

/// `<FilesMatch>` regular expressions are PCRE; the `regex` crate reads the common
/// subset the same way (bytes, `.` not matching a newline). Look-around, back
/// references and other PCRE-only syntax are refused.
pub(crate) fn translate_regex(
    r: &Reader<'_>,
    line: &Line,
    pattern: &[u8],
) -> Result<regex::bytes::Regex, ConfigError> {
    let text = std::str::from_utf8(pattern)
        .map_err(|_| r.error(line, "the regular expression is not UTF-8"))?;
    regex::bytes::RegexBuilder::new(text)
        .unicode(false)
        .build()
        .or_else(|_| regex::bytes::RegexBuilder::new(text).build())
        .map_err(|e| {
            let reason = e.to_string();
            let reason = reason.lines().last().unwrap_or("").trim().to_string();
            r.error(
                line,
                format!("ssibake cannot translate this PCRE regular expression: {reason}"),
            )
        })
}

fn directive(
    r: &Reader<'_>,
    line: &Line,
    at: Where<'_>,
    section: &mut Section,
) -> Result<(), ConfigError> {
    let key = line.key();
    let req = match key.as_str() {
        "options" | "xbithack" => Req::Classes(OR_OPTIONS),
        "addtype"
        | "addoutputfilter"
        | "addhandler"
        | "removetype"
        | "removeoutputfilter"
        | "removehandler"
        | "forcetype"
        | "sethandler"
        | "setoutputfilter"
        | "acceptpathinfo"
        | "defaulttype"
        | "addoutputfilterbytype" => Req::Classes(OR_FILEINFO),
        "directoryindex" => Req::Classes(OR_INDEXES),
        "ssilegacyexprparser" | "ssilastmodified" | "ssietag" => Req::Classes(OR_LIMIT),
        "ssierrormsg" | "ssitimeformat" | "ssiundefinedecho" => Req::Classes(OR_ALL),
        "ssistarttag" | "ssiendtag" | "serveradmin" | "servername" | "documentroot"
        | "accessfilename" | "typesconfig" | "loadmodule" => Req::Server,
        "allowoverride" | "allowoverridelist" => Req::Directory,
        k if OTHER_CORE.contains(&k) => Req::Classes(OR_ALL),
        k if OTHER_MIME
            .iter()
            .chain(OTHER_MIME_REMOVE)
            .any(|(n, _)| *n == k) =>
        {
            Req::Classes(OR_FILEINFO)
        }
        "defaultlanguage" | "multiviewsmatch" => Req::Classes(OR_FILEINFO),
        // Everything else cannot change mod_include's output.
        _ => return Ok(()),
    };
    if !allowed(req, at, &key) {
        return not_allowed(r, line, at);
    }
    let source = r.source(line);
    let may = match at {
        Where::Htaccess(ao) => ao.options,
        _ => OPT_ALL | OPT_SYM_OWNER | OPT_MULTI,
    };
    match key.as_str() {
        "options" => options(r, line, section, may)?,
        "xbithack" => {
            let v = take1(r, line)?;
            let x = match lower(&v).as_slice() {
                b"off" => XBitHack::Off,
                b"on" => XBitHack::On,
                b"full" => XBitHack::Full,
                _ => return Err(r.error(line, "XBitHack must be set to Off, On, or Full")),
            };
            section.include_mut().xbithack = Some((x, source));
        }
        "addtype" | "addoutputfilter" | "addhandler" => {
            let words = line.words();
            let [value, exts @ ..] = words.as_slice() else {
                return Err(r.error(
                    line,
                    format!("{} requires at least two arguments", line.display_name()),
                ));
            };
            if exts.is_empty() {
                return Err(r.error(
                    line,
                    format!("{} requires at least two arguments", line.display_name()),
                ));
            }
            let field = match key.as_str() {
                "addtype" => Field::Type,
                "addoutputfilter" => Field::OutputFilter,
                _ => Field::Handler,
            };
            let mime = section.mime_mut();
            for ext in exts {
                mime.set(ext_key(ext), field, (lower(value), source.clone()));
            }
        }
        "removetype" => {
            let words = line.words();
            if words.is_empty() {
                return Err(r.error(line, "RemoveType requires at least one argument"));
            }
            let mime = section.mime_mut();
            for ext in words {
                mime.set(ext_key(&ext), Field::Type, (Vec::new(), source.clone()));
            }
        }
        "removeoutputfilter" | "removehandler" => {
            let field = if key == "removehandler" {
                Field::Handler
            } else {
                Field::OutputFilter
            };
            let words = line.words();
            if words.is_empty() {
                return Err(r.error(
                    line,
                    format!("{} requires at least one argument", line.display_name()),
                ));
            }
            let mime = section.mime_mut();
            for ext in words {
                mime.remove.push((ext_key(&ext), field));
            }
        }
        "forcetype" => {
            let v = take1(r, line)?;
            section.core_mut().forced_type = Some((lower(&v), source));
        }
        "sethandler" => {
            let v = take1(r, line)?;
            if v.windows(2).any(|w| w == b"%{") {
                return Err(r.error(line, "ssibake cannot evaluate a SetHandler expression"));
            }
            section.core_mut().handler = Some((lower(&v), source));
        }
        "setoutputfilter" => {
            let v = take1(r, line)?;
            section.core_mut().output_filters = Some((v, source));
        }
        "acceptpathinfo" => {
            let v = take1(r, line)?;
            let p = match lower(&v).as_slice() {
                b"on" => PathInfo::On,
                b"off" => PathInfo::Off,
                b"default" => PathInfo::Default,
                _ => return Err(r.error(line, "AcceptPathInfo must be set to on, off or default")),
            };
            section.core_mut().accept_path_info = Some((p, source));
        }
        "defaulttype" => {
            // Ignored by Apache 2.4 (AH00117 unless Off/None); still core's.
            take1(r, line)?;
            section.core_mut();
        }
        "addoutputfilterbytype" => {
            let words = line.words();
            if words.first().is_some_and(|f| {
                f.split(|&b| b == b';')
                    .any(|f| f.eq_ignore_ascii_case(b"includes"))
            }) {
                return Err(r.error(
                    line,
                    "ssibake does not model AddOutputFilterByType INCLUDES; use AddOutputFilter INCLUDES .ext",
                ));
            }
        }
        "directoryindex" => {
            let words = line.words();
            let dir = section.dir_mut();
            let mut names = dir.index.take().map(|(n, _)| n).unwrap_or_default();
            if words.len() == 1 && words[0].eq_ignore_ascii_case(b"disabled") {
                names.clear();
            } else {
                names.extend(words);
            }
            dir.index = Some((names, source));
        }
        "ssilegacyexprparser" => {
            let v = flag(r, line)?;
            section.include_mut().legacy_expr = Some((v, source));
        }
        "ssilastmodified" | "ssietag" => {
            flag(r, line)?;
            section.include_mut();
        }
        "ssierrormsg" | "ssitimeformat" | "ssiundefinedecho" => {
            let v = take1(r, line)?;
            let inc = section.include_mut();
            let slot = match key.as_str() {
                "ssierrormsg" => &mut inc.errmsg,
                "ssitimeformat" => &mut inc.timefmt,
                _ => &mut inc.echomsg,
            };
            *slot = Some((v, source));
        }
        "allowoverride" => allow_override(r, line, section)?,
        "allowoverridelist" => {
            let words = line.words();
            let core = section.core_mut();
            let mut ao = core.allow_override.take().unwrap_or_else(|| AllowOverride {
                classes: 0,
                ..AllowOverride::all(source.clone())
            });
            ao.list = if words.len() == 1 && words[0].eq_ignore_ascii_case(b"none") {
                Vec::new()
            } else {
                words
                    .iter()
                    .map(|w| lossy(w).to_ascii_lowercase())
                    .collect()
            };
            core.allow_override = Some(ao);
        }
        k if OTHER_CORE.contains(&k) => {
            section.core_mut();
        }
        k => {
            let mime = section.mime_mut();
            if let Some((_, field)) = OTHER_MIME.iter().find(|(n, _)| *n == k) {
                let words = line.words();
                if let [value, exts @ ..] = words.as_slice() {
                    for ext in exts {
                        mime.set(ext_key(ext), *field, (lower(value), source.clone()));
                    }
                }
            } else if let Some((_, field)) = OTHER_MIME_REMOVE.iter().find(|(n, _)| *n == k) {
                for ext in line.words() {
                    mime.remove.push((ext_key(&ext), *field));
                }
            }
            // DefaultLanguage, MultiviewsMatch: mod_mime's part exists, nothing else.
            // Server-only directives reach here only from the server reader.
        }
    }
    Ok(())
}

/// The server-only settings an `--apache-conf` file sets.
#[derive(Clone, Debug, Default)]
pub(crate) struct Server {
    pub(crate) start_tag: Option<Set<Vec<u8>>>,
    pub(crate) end_tag: Option<Set<Vec<u8>>>,
    pub(crate) server_admin: Option<Set<Vec<u8>>>,
    pub(crate) server_name: Option<Set<Vec<u8>>>,
    pub(crate) document_root: Option<Set<Vec<u8>>>,
    pub(crate) access_names: Option<Set<Vec<Vec<u8>>>>,
}

/// A `<Directory>` block of the server configuration.
#[derive(Clone, Debug)]
pub(crate) struct DirectoryBlock {
    /// The absolute path with a trailing `/`.
    pub(crate) path: Vec<u8>,
    pub(crate) wildcard: bool,
    pub(crate) section: Section,
}

/// Reads a server configuration (or virtual-host snippet): the server's own
/// directives into `server_section`, `<Directory>` blocks into `dirs`.
pub(crate) fn read_server(
    r: &Reader<'_>,
    nodes: &[Node],
    modules: &mut BTreeSet<String>,
    server: &mut Server,
    server_section: &mut Section,
    dirs: &mut Vec<DirectoryBlock>,
) -> Result<(), ConfigError> {
    for node in nodes {
        match node {
            Node::Directive(line) => {
                let source = r.source(line);
                match line.key().as_str() {
                    "ssistarttag" | "ssiendtag" => {
                        let v = take1(r, line)?;
                        if v.iter().any(u8::is_ascii_whitespace) {
                            return Err(r.error(
                                line,
                                format!("{} may not contain any whitespaces", line.display_name()),
                            ));
                        }
                        let slot = if line.key() == "ssistarttag" {
                            &mut server.start_tag
                        } else {
                            &mut server.end_tag
                        };
                        *slot = Some((v, source));
                    }
                    "serveradmin" => server.server_admin = Some((take1(r, line)?, source)),
                    "servername" => server.server_name = Some((take1(r, line)?, source)),
                    "documentroot" => server.document_root = Some((take1(r, line)?, source)),
                    "accessfilename" => {
                        let names = line.words();
                        if names.is_empty() {
                            return Err(
                                r.error(line, "AccessFileName requires at least one argument")
                            );
                        }
                        server.access_names = Some((names, source));
                    }
                    "loadmodule" => {
                        if let Some(id) = line.words().first() {
                            modules.insert(lossy(id));
                            if let Some(short) = lossy(id).strip_suffix("_module") {
                                modules.insert(format!("mod_{short}.c"));
                            }
                        }
                    }
                    // TypesConfig: ssibake embeds Debian's table.
                    "typesconfig" => {}
                    _ => directive(r, line, Where::Server, server_section)?,
                }
            }
            Node::Section { open, children } => {
                let key = open.key();
                let args = section_args(open).unwrap_or_default();
                let words = crate::site::config::parse::words(&args);
                match key.as_str() {
                    "virtualhost" => {
                        read_server(r, children, modules, server, server_section, dirs)?
                    }
                    "ifmodule" | "ifdefine" => {
                        let Some(arg) = words.first() else {
                            return Err(r.error(
                                open,
                                format!(
                                    "{} directive requires additional arguments",
                                    open.display_name()
                                ),
                            ));
                        };
                        let (negate, name) = match arg.strip_prefix(b"!") {
                            Some(rest) => (true, rest),
                            None => (false, &arg[..]),
                        };
                        let present = key == "ifmodule" && modules.contains(&lossy(name));
                        if present != negate {
                            read_server(r, children, modules, server, server_section, dirs)?;
                        }
                    }
                    "directory" => {
                        let path = match words.as_slice() {
                            [tilde, ..] if tilde == b"~" => return unevaluable(r, open, children),
                            [p, ..] => p.clone(),
                            [] => {
                                return Err(r.error(
                                    open,
                                    "<Directory> directive requires additional arguments",
                                ))
                            }
                        };
                        if !path.starts_with(b"/") {
                            return Err(r.error(
                                open,
                                format!("<Directory> path must be absolute: {}", lossy(&path)),
                            ));
                        }
                        let mut path = path;
                        if !path.ends_with(b"/") {
                            path.push(b'/');
                        }
                        let mut section = Section::default();
                        section.core_mut();
                        read_section(r, children, Where::Directory, false, &mut section)?;
                        dirs.push(DirectoryBlock {
                            wildcard: path.iter().any(|b| matches!(b, b'*' | b'?' | b'[')),
                            path,
                            section,
                        });
                    }
                    _ => container(r, open, children, Where::Server, false, server_section)?,
                }
            }
        }
    }
    Ok(())
}
