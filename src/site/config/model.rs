//! The per-directory configuration of one section (a `<Directory>`, a `.htaccess`, a
//! `<Files>`), one part per module as Apache keeps it, and Apache's merge of a section
//! onto its base.
//!
//! Apache creates a module's part of a section only when a directive of that module
//! appears in it, and `ap_merge_per_dir_configs` passes a missing part through
//! untouched. That matters: core's merge recomputes `Options` from the accumulated
//! `+`/`-` words, and mod_mime's merge applies (and then forgets) a section's
//! `Remove*` lists. So each part is an `Option`.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// Where a setting came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    /// ssibake's built-in server configuration (Debian-like).
    Default,
    /// The embedded TypesConfig table (Debian's `/etc/mime.types`).
    TypesConfig,
    /// A line of the `--apache-conf` file.
    ApacheConf { file: Arc<str>, line: usize },
    /// A line of a `.htaccess` file (root-relative path).
    Htaccess { file: Arc<str>, line: usize },
    /// A command-line flag.
    Flag(Arc<str>),
    /// XBitHack with the file's user-execute bit (the source is the XBitHack line).
    XBitHack(Box<Source>),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("ssibake default"),
            Source::TypesConfig => f.write_str("TypesConfig (Debian mime.types)"),
            Source::ApacheConf { file, line } => write!(f, "--apache-conf {file}:{line}"),
            Source::Htaccess { file, line } => write!(f, "{file}:{line}"),
            Source::Flag(flag) => f.write_str(flag),
            Source::XBitHack(s) => write!(f, "XBitHack, user-execute bit ({s})"),
        }
    }
}

/// A value and where it came from.
pub(crate) type Set<T> = (T, Source);

// `include/http_core.h` option bits.
pub(crate) const OPT_NONE: u8 = 0;
pub(crate) const OPT_INDEXES: u8 = 1;
pub(crate) const OPT_INCLUDES: u8 = 2;
pub(crate) const OPT_SYM_LINKS: u8 = 4;
pub(crate) const OPT_EXECCGI: u8 = 8;
pub(crate) const OPT_UNSET: u8 = 16;
pub(crate) const OPT_INC_WITH_EXEC: u8 = 32;
pub(crate) const OPT_SYM_OWNER: u8 = 64;
pub(crate) const OPT_MULTI: u8 = 128;
pub(crate) const OPT_ALL: u8 =
    OPT_INDEXES | OPT_INCLUDES | OPT_INC_WITH_EXEC | OPT_SYM_LINKS | OPT_EXECCGI;

// AllowOverride classes (`OR_*`).
pub(crate) const OR_LIMIT: u8 = 1;
pub(crate) const OR_OPTIONS: u8 = 2;
pub(crate) const OR_FILEINFO: u8 = 4;
pub(crate) const OR_AUTHCFG: u8 = 8;
pub(crate) const OR_INDEXES: u8 = 16;
pub(crate) const OR_ALL: u8 = OR_LIMIT | OR_OPTIONS | OR_FILEINFO | OR_AUTHCFG | OR_INDEXES;

/// `AllowOverride` (and `AllowOverrideList`) in force for a directory's `.htaccess`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AllowOverride {
    /// `OR_*` bits.
    pub(crate) classes: u8,
    /// `Options=…`: the options a `.htaccess` may set.
    pub(crate) options: u8,
    /// `Nonfatal=Override`: a forbidden directive is skipped instead of failing.
    pub(crate) nonfatal_override: bool,
    /// `AllowOverrideList`: directive names (lower case) allowed whatever the classes.
    pub(crate) list: Vec<String>,
    pub(crate) source: Source,
}

impl AllowOverride {
    pub(crate) fn all(source: Source) -> AllowOverride {
        AllowOverride {
            classes: OR_ALL,
            options: OPT_ALL | OPT_SYM_OWNER | OPT_MULTI,
            nonfatal_override: false,
            list: Vec::new(),
            source,
        }
    }

    /// True when `.htaccess` files are read at all.
    pub(crate) fn reads_htaccess(&self) -> bool {
        self.classes != 0 || !self.list.is_empty()
    }
}

/// `AcceptPathInfo`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PathInfo {
    On,
    Off,
    Default,
}

/// `XBitHack`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum XBitHack {
    Off,
    On,
    Full,
}

/// How a `<Files>`/`<FilesMatch>` section matches the last segment of a file name.
#[derive(Clone, Debug)]
pub(crate) enum FileMatch {
    Exact(Vec<u8>),
    /// `apr_fnmatch` with `APR_FNM_PATHNAME` (the name has `*`, `?` or `[`).
    Wildcard(Vec<u8>),
    Regex(regex::bytes::Regex),
}

impl FileMatch {
    pub(crate) fn matches(&self, name: &[u8]) -> bool {
        match self {
            FileMatch::Exact(n) => n == name,
            FileMatch::Wildcard(p) => {
                crate::format::fnmatch::fnmatch(p, name, true, false).unwrap_or(false)
            }
            FileMatch::Regex(re) => re.is_match(name),
        }
    }
}

/// A `<Files>` section: what it matches and what it sets.
#[derive(Clone, Debug)]
pub(crate) struct FileSection {
    pub(crate) matcher: FileMatch,
    pub(crate) section: Section,
    /// The opening line, for `--explain`.
    pub(crate) header: String,
    pub(crate) source: Source,
}

/// core's part: `Options`, `AcceptPathInfo`, `ForceType`, `SetHandler`,
/// `SetOutputFilter`, `AllowOverride`, the `<Files>` sections.
#[derive(Clone, Debug)]
pub(crate) struct Core {
    pub(crate) opts: u8,
    pub(crate) opts_add: u8,
    pub(crate) opts_remove: u8,
    /// Every `Options` line that contributes to `opts`, in order.
    pub(crate) opts_lines: Vec<Set<String>>,
    pub(crate) allow_override: Option<AllowOverride>,
    pub(crate) accept_path_info: Option<Set<PathInfo>>,
    pub(crate) forced_type: Option<Set<Vec<u8>>>,
    pub(crate) handler: Option<Set<Vec<u8>>>,
    pub(crate) output_filters: Option<Set<Vec<u8>>>,
    pub(crate) sec_file: Vec<Arc<FileSection>>,
}

impl Core {
    /// A section's fresh part (`create_core_dir_config` with a directory).
    pub(crate) fn section() -> Core {
        Core {
            opts: OPT_UNSET,
            opts_add: 0,
            opts_remove: 0,
            opts_lines: Vec::new(),
            allow_override: None,
            accept_path_info: None,
            forced_type: None,
            handler: None,
            output_filters: None,
            sec_file: Vec::new(),
        }
    }

    /// The server's part (`create_core_dir_config` without a directory):
    /// FollowSymLinks is on.
    pub(crate) fn server() -> Core {
        Core {
            opts: OPT_UNSET | OPT_SYM_LINKS,
            ..Core::section()
        }
    }

    /// `merge_core_dir_configs`.
    fn merge(base: &Core, new: &Core) -> Core {
        let mut conf = base.clone();
        if new.opts & OPT_UNSET != 0 {
            conf.opts_add = (conf.opts_add & !new.opts_remove) | new.opts_add;
            conf.opts_remove = (conf.opts_remove & !new.opts_add) | new.opts_remove;
            conf.opts = (conf.opts & !conf.opts_remove) | conf.opts_add;
            // CVE-2009-1195: Includes with exec in the base and without in the new
            // section drops exec, in `opts` only: `opts_add` keeps INC_WITH_EXEC, so a
            // later merge in the UNSET branch brings it back (observed, see tests).
            let both = OPT_INCLUDES | OPT_INC_WITH_EXEC;
            if base.opts & both == both && new.opts & both == OPT_INCLUDES {
                conf.opts &= !OPT_INC_WITH_EXEC;
            }
            conf.opts_lines.extend(new.opts_lines.iter().cloned());
        } else {
            conf.opts = new.opts;
            conf.opts_add = new.opts_add;
            conf.opts_remove = new.opts_remove;
            conf.opts_lines = new.opts_lines.clone();
        }
        if new.allow_override.is_some() {
            conf.allow_override = new.allow_override.clone();
        }
        if new.accept_path_info.is_some() {
            conf.accept_path_info = new.accept_path_info.clone();
        }
        if new.forced_type.is_some() {
            conf.forced_type = new.forced_type.clone();
        }
        if new.handler.is_some() {
            conf.handler = new.handler.clone();
        }
        if new.output_filters.is_some() {
            conf.output_filters = new.output_filters.clone();
        }
        conf.sec_file.extend(new.sec_file.iter().cloned());
        conf
    }
}

/// The per-extension fields of mod_mime (`extension_info`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Field {
    Type,
    Encoding,
    Language,
    Handler,
    Charset,
    InputFilter,
    OutputFilter,
}

const FIELDS: usize = 7;

/// One extension's mappings; `Type` set to `""` is `RemoveType`.
pub(crate) type ExtInfo = [Option<Set<Vec<u8>>>; FIELDS];

/// mod_mime's part.
#[derive(Clone, Debug, Default)]
pub(crate) struct Mime {
    pub(crate) ext: Option<BTreeMap<Vec<u8>, ExtInfo>>,
    /// `Remove*` (except RemoveType): applied when this section is merged onto a base.
    pub(crate) remove: Vec<(Vec<u8>, Field)>,
}

impl Mime {
    pub(crate) fn set(&mut self, ext: Vec<u8>, field: Field, value: Set<Vec<u8>>) {
        let map = self.ext.get_or_insert_with(BTreeMap::new);
        map.entry(ext).or_default()[field as usize] = Some(value);
    }

    pub(crate) fn get(&self, ext: &[u8], field: Field) -> Option<&Set<Vec<u8>>> {
        self.ext.as_ref()?.get(ext)?[field as usize].as_ref()
    }

    /// `merge_mime_dir_configs`.
    fn merge(base: &Mime, add: &Mime) -> Mime {
        let mut ext = match (&base.ext, &add.ext) {
            (Some(b), Some(a)) => {
                let mut m = b.clone();
                for (key, info) in a {
                    let slot = m.entry(key.clone()).or_default();
                    for (i, value) in info.iter().enumerate() {
                        if value.is_some() {
                            slot[i] = value.clone();
                        }
                    }
                }
                Some(m)
            }
            (None, a) => a.clone(),
            (b, None) => b.clone(),
        };
        if let Some(m) = &mut ext {
            for (key, field) in &add.remove {
                if let Some(info) = m.get_mut(key) {
                    info[*field as usize] = None;
                }
            }
        }
        Mime {
            ext,
            remove: Vec::new(),
        }
    }
}

/// mod_include's part.
#[derive(Clone, Debug, Default)]
pub(crate) struct Include {
    pub(crate) errmsg: Option<Set<Vec<u8>>>,
    pub(crate) timefmt: Option<Set<Vec<u8>>>,
    pub(crate) echomsg: Option<Set<Vec<u8>>>,
    pub(crate) xbithack: Option<Set<XBitHack>>,
    pub(crate) legacy_expr: Option<Set<bool>>,
}

impl Include {
    /// `merge_includes_dir_config`: each field from the new section when set.
    fn merge(base: &Include, new: &Include) -> Include {
        Include {
            errmsg: new.errmsg.clone().or_else(|| base.errmsg.clone()),
            timefmt: new.timefmt.clone().or_else(|| base.timefmt.clone()),
            echomsg: new.echomsg.clone().or_else(|| base.echomsg.clone()),
            xbithack: new.xbithack.clone().or_else(|| base.xbithack.clone()),
            legacy_expr: new.legacy_expr.clone().or_else(|| base.legacy_expr.clone()),
        }
    }
}

/// mod_dir's part.
#[derive(Clone, Debug, Default)]
pub(crate) struct Dir {
    pub(crate) index: Option<Set<Vec<Vec<u8>>>>,
}

impl Dir {
    fn merge(base: &Dir, new: &Dir) -> Dir {
        Dir {
            index: new.index.clone().or_else(|| base.index.clone()),
        }
    }
}

/// One section: a part per module, each present only if one of its directives appears.
#[derive(Clone, Debug, Default)]
pub(crate) struct Section {
    pub(crate) core: Option<Core>,
    pub(crate) mime: Option<Mime>,
    pub(crate) include: Option<Include>,
    pub(crate) dir: Option<Dir>,
}

fn merge_part<T: Clone>(base: &Option<T>, new: &Option<T>, f: fn(&T, &T) -> T) -> Option<T> {
    match (base, new) {
        (_, None) => base.clone(),
        (None, Some(n)) => Some(n.clone()),
        (Some(b), Some(n)) => Some(f(b, n)),
    }
}

impl Section {
    /// `ap_merge_per_dir_configs(base, new)`.
    pub(crate) fn merge(base: &Section, new: &Section) -> Section {
        Section {
            core: merge_part(&base.core, &new.core, Core::merge),
            mime: merge_part(&base.mime, &new.mime, Mime::merge),
            include: merge_part(&base.include, &new.include, Include::merge),
            dir: merge_part(&base.dir, &new.dir, Dir::merge),
        }
    }

    /// Merges `new` onto an optional accumulated section, as the walks do
    /// (`now_merged` starts as the first matching section itself).
    pub(crate) fn accumulate(acc: Option<Section>, new: &Section) -> Option<Section> {
        Some(match acc {
            None => new.clone(),
            Some(acc) => Section::merge(&acc, new),
        })
    }

    pub(crate) fn core_mut(&mut self) -> &mut Core {
        self.core.get_or_insert_with(Core::section)
    }

    pub(crate) fn mime_mut(&mut self) -> &mut Mime {
        self.mime.get_or_insert_with(Mime::default)
    }

    pub(crate) fn include_mut(&mut self) -> &mut Include {
        self.include.get_or_insert_with(Include::default)
    }

    pub(crate) fn dir_mut(&mut self) -> &mut Dir {
        self.dir.get_or_insert_with(Dir::default)
    }
}
