//! Golden cases: `fixtures/<case>/case.toml` + `site/` + `expected.html` / `expected.stderr`.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The default mtime of every file of a site: 2001-02-03 04:05:06 UTC
/// (Friday, 02-Feb-2001 23:05:06 EST).
pub const DEFAULT_MTIME: i64 = 981_173_106;
pub const DEFAULT_TZ: &str = "America/New_York";
pub const DEFAULT_PAGE: &str = "index.shtml";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `--on-error errmsg`: Apache's error text inline, exit 0, compared with `expected.html`.
    Errmsg,
    /// `--on-error fail`: diagnostics on stderr, nothing on stdout, compared with `expected.stderr`.
    Fail,
}

impl Mode {
    pub fn flag(self) -> &'static str {
        match self {
            Mode::Errmsg => "errmsg",
            Mode::Fail => "fail",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseToml {
    description: String,
    page: Option<String>,
    tz: Option<String>,
    #[serde(default)]
    legacy_expr: bool,
    mode: Option<String>,
    exit: Option<i32>,
    #[serde(default)]
    defines: BTreeMap<String, String>,
    apache: Option<bool>,
    reason: Option<String>,
    source_date_epoch: Option<i64>,
    default_mtime: Option<i64>,
    #[serde(default)]
    mtimes: BTreeMap<String, i64>,
    #[serde(default)]
    sizes: BTreeMap<String, u64>,
}

#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    /// `fixtures/<name>`
    pub dir: PathBuf,
    pub description: String,
    /// Path of the rendered page relative to the site root (`/`-separated).
    pub page: String,
    pub tz: String,
    pub legacy_expr: bool,
    pub mode: Mode,
    /// Expected exit code in fail mode.
    pub exit: i32,
    pub defines: BTreeMap<String, String>,
    /// Compared with a live Apache (and `expected.html` recorded from it).
    pub apache: bool,
    pub reason: Option<String>,
    pub source_date_epoch: Option<i64>,
    pub default_mtime: i64,
    pub mtimes: BTreeMap<String, i64>,
    pub sizes: BTreeMap<String, u64>,
    /// `fixtures/<name>/apache.conf`, when there is one: server configuration lines
    /// that Apache gets inside the case's virtual host and ssibake with `--apache-conf`
    /// (for directives `.htaccess` cannot carry, such as SSIStartTag).
    pub apache_conf: Option<PathBuf>,
}

pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// Loads every case (sorted by name). `SSIBAKE_CASES=a,b` keeps only the cases whose name
/// contains one of the comma-separated substrings. Invalid `case.toml` files panic: a broken
/// corpus must never pass silently.
pub fn load_cases() -> Vec<Case> {
    let dir = fixtures_dir();
    let mut names: Vec<String> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let filter: Vec<String> = std::env::var("SSIBAKE_CASES")
        .ok()
        .map(|s| {
            s.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    let mut errors = Vec::new();
    let mut cases = Vec::new();
    for name in names {
        if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        match load_case(&dir.join(&name)) {
            Ok(c) => cases.push(c),
            Err(e) => errors.push(format!("{name}: {e}")),
        }
    }
    if !errors.is_empty() {
        panic!("invalid fixtures:\n  {}", errors.join("\n  "));
    }
    if cases.is_empty() {
        panic!(
            "no fixtures selected in {} (SSIBAKE_CASES={:?})",
            dir.display(),
            filter
        );
    }
    cases
}

fn load_case(dir: &Path) -> Result<Case, String> {
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        || name.starts_with('-')
        || name.len() > 60
    {
        return Err("case names must be [a-z0-9-]+ (they become host names)".into());
    }
    let toml_path = dir.join("case.toml");
    let text = fs::read_to_string(&toml_path).map_err(|e| format!("case.toml: {e}"))?;
    let t: CaseToml = toml::from_str(&text).map_err(|e| format!("case.toml: {e}"))?;
    if t.description.trim().is_empty() {
        return Err("description is empty".into());
    }
    let mode = match t.mode.as_deref() {
        None | Some("errmsg") => Mode::Errmsg,
        Some("fail") => Mode::Fail,
        Some(other) => {
            return Err(format!(
                "mode must be \"errmsg\" or \"fail\", not {other:?}"
            ))
        }
    };
    if t.exit.is_some() && mode != Mode::Fail {
        return Err("`exit` only makes sense with mode = \"fail\"".into());
    }
    let apache = t.apache.unwrap_or(true);
    if !apache && t.reason.as_deref().map_or(true, |r| r.trim().is_empty()) {
        return Err("apache = false needs a `reason`".into());
    }
    if apache && t.source_date_epoch.is_some() {
        return Err(
            "source_date_epoch cannot be given to Apache (request time); set apache = false".into(),
        );
    }
    let page = t.page.unwrap_or_else(|| DEFAULT_PAGE.to_string());
    let site = dir.join("site");
    if !site.join(&page).exists() && !t.sizes.contains_key(&page) {
        return Err(format!("page site/{page} does not exist"));
    }
    for p in t.mtimes.keys().chain(t.sizes.keys()) {
        if p.starts_with('/') || p.split('/').any(|s| s == "..") {
            return Err(format!(
                "{p}: paths in [mtimes]/[sizes] are relative to site/"
            ));
        }
    }
    for p in t.mtimes.keys() {
        if !site.join(p).exists() && !t.sizes.contains_key(p) {
            return Err(format!("[mtimes] names site/{p}, which does not exist"));
        }
    }
    Ok(Case {
        name,
        dir: dir.to_path_buf(),
        description: t.description.trim().to_string(),
        page,
        tz: t.tz.unwrap_or_else(|| DEFAULT_TZ.to_string()),
        legacy_expr: t.legacy_expr,
        mode,
        exit: t.exit.unwrap_or(1),
        defines: t.defines,
        apache,
        reason: t.reason,
        source_date_epoch: t.source_date_epoch,
        default_mtime: t.default_mtime.unwrap_or(DEFAULT_MTIME),
        mtimes: t.mtimes,
        sizes: t.sizes,
        apache_conf: Some(dir.join("apache.conf")).filter(|p| p.is_file()),
    })
}

/// The last Apache release before 2.4.68, whose erroring `#if` still prints its body:
/// cases where it differs carry `expected.before-2.4.68.html` recorded from it.
pub const BEFORE_2_4_68: &str = "2.4.67";

/// True for an Apache release (`2.4.67`) older than 2.4.68.
pub fn is_before_2_4_68(version: &str) -> bool {
    let patch = version
        .strip_prefix("2.4.")
        .and_then(|p| p.parse::<u32>().ok());
    matches!(patch, Some(p) if p < 68)
}

impl Case {
    pub fn expected_html_path(&self) -> PathBuf {
        self.dir.join("expected.html")
    }

    /// What Apache before 2.4.68 serves, where that differs from `expected.html`.
    pub fn expected_before_2_4_68_path(&self) -> PathBuf {
        self.dir.join("expected.before-2.4.68.html")
    }

    /// The recorded output of the Apache release `version`: `expected.html`, or for a
    /// release before 2.4.68 `expected.before-2.4.68.html` when the case has one.
    pub fn expected_html_path_for(&self, version: &str) -> PathBuf {
        let before = self.expected_before_2_4_68_path();
        if is_before_2_4_68(version) && before.is_file() {
            before
        } else {
            self.expected_html_path()
        }
    }

    pub fn expected_stderr_path(&self) -> PathBuf {
        self.dir.join("expected.stderr")
    }

    /// The URL path Apache serves the page under.
    pub fn url_path(&self) -> String {
        let mut s = String::from("/");
        // As a browser sends it (the WHATWG path percent-encode set, and `%`).
        for b in self.page.bytes() {
            if !(b <= b' ' || b >= 0x7f || b"\"#<>?`{}%".contains(&b)) {
                s.push(b as char);
            } else {
                s.push_str(&format!("%{b:02X}"));
            }
        }
        s
    }

    pub fn header(&self) -> String {
        let mut s = format!(
            "case:        {}\ndescription: {}\n",
            self.name, self.description
        );
        s.push_str(&format!(
            "page:        {}   tz: {}   legacy_expr: {}   mode: {}\n",
            self.page,
            self.tz,
            self.legacy_expr,
            self.mode.flag()
        ));
        s
    }

    /// Copies `site/` to `<parent>/<case>/site`, creates the `[sizes]` files as sparse files,
    /// applies the mtimes and makes the tree world-readable (Apache runs as www-data).
    /// Returns the absolute document root.
    pub fn materialize(&self, parent: &Path) -> PathBuf {
        let case_dir = parent.join(&self.name);
        let root = case_dir.join("site");
        fs::create_dir_all(&case_dir).unwrap();
        let src = self.dir.join("site");
        if src.exists() {
            copy_tree(&src, &root).unwrap_or_else(|e| panic!("{}: copying site: {e}", self.name));
        } else {
            fs::create_dir_all(&root).unwrap();
        }
        for (path, size) in &self.sizes {
            let p = root.join(path);
            if let Some(d) = p.parent() {
                fs::create_dir_all(d).unwrap();
            }
            let f = fs::OpenOptions::new()
                .create(true)
                .write(true)
                .truncate(false)
                .open(&p)
                .unwrap_or_else(|e| panic!("{}: creating {path}: {e}", self.name));
            f.set_len(*size).unwrap();
        }
        make_world_readable(parent).unwrap();
        make_world_readable(&case_dir).unwrap();
        set_tree_permissions(&root).unwrap();
        self.apply_mtimes(&root);
        root
    }

    fn apply_mtimes(&self, root: &Path) {
        let mut all = Vec::new();
        walk(root, &mut all).unwrap();
        // Deepest first, so that touching an entry never disturbs a directory done earlier
        // (setting times does not change the parent's mtime anyway, but be safe).
        all.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
        for p in all.iter().chain(std::iter::once(&root.to_path_buf())) {
            let meta = fs::symlink_metadata(p).unwrap();
            if meta.file_type().is_symlink() {
                continue;
            }
            let rel = p
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            let secs = self.mtimes.get(&rel).copied().unwrap_or(self.default_mtime);
            let t = filetime::FileTime::from_unix_time(secs, 0);
            filetime::set_file_times(p, t, t)
                .unwrap_or_else(|e| panic!("{}: set mtime of {rel}: {e}", self.name));
        }
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for e in fs::read_dir(dir)? {
        let e = e?;
        let p = e.path();
        let ft = e.file_type()?;
        out.push(p.clone());
        if ft.is_dir() {
            walk(&p, out)?;
        }
    }
    Ok(())
}

fn copy_tree(src: &Path, dst: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dst)?;
    for e in fs::read_dir(src)? {
        let e = e?;
        let ft = e.file_type()?;
        let from = e.path();
        let to = dst.join(e.file_name());
        if ft.is_symlink() {
            let target = fs::read_link(&from)?;
            std::os::unix::fs::symlink(target, &to)?;
        } else if ft.is_dir() {
            copy_tree(&from, &to)?;
        } else {
            fs::copy(&from, &to)?;
        }
    }
    Ok(())
}

fn make_world_readable(dir: &Path) -> std::io::Result<()> {
    let mut perm = fs::metadata(dir)?.permissions();
    perm.set_mode(perm.mode() | 0o755);
    fs::set_permissions(dir, perm)
}

/// `chmod -R a+rX` without following symlinks.
fn set_tree_permissions(p: &Path) -> std::io::Result<()> {
    let meta = fs::symlink_metadata(p)?;
    if meta.file_type().is_symlink() {
        return Ok(());
    }
    let mut perm = meta.permissions();
    if meta.is_dir() {
        perm.set_mode(perm.mode() | 0o755);
        fs::set_permissions(p, perm)?;
        for e in fs::read_dir(p)? {
            set_tree_permissions(&e?.path())?;
        }
    } else {
        perm.set_mode(perm.mode() | 0o444);
        fs::set_permissions(p, perm)?;
    }
    Ok(())
}

/// Checks that every ancestor of `p` can be traversed by other users (Apache's www-data).
pub fn check_parents_traversable(p: &Path) -> Result<(), String> {
    let mut cur = p.parent();
    while let Some(d) = cur {
        if let Ok(m) = fs::metadata(d) {
            if m.permissions().mode() & 0o001 == 0 {
                return Err(format!(
                    "{} is not traversable by other users; www-data cannot reach the document roots",
                    d.display()
                ));
            }
        }
        cur = d.parent();
    }
    Ok(())
}

/// A temporary directory, removed on drop unless `SSIBAKE_KEEP_TMP=1` (then its path is
/// printed, so the commands shown in failure reports can be re-run by hand).
pub struct Scratch {
    dir: Option<tempfile::TempDir>,
    path: PathBuf,
}

impl Scratch {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Some(d) = self.dir.take() {
            if super::env_flag("SSIBAKE_KEEP_TMP") {
                let p = d.keep();
                eprintln!("SSIBAKE_KEEP_TMP: kept {}", p.display());
            }
        }
    }
}

/// A fresh world-readable temporary directory under /tmp.
pub fn temp_parent(prefix: &str) -> Scratch {
    let base = Path::new("/tmp");
    let t = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(if base.is_dir() {
            base.to_path_buf()
        } else {
            std::env::temp_dir()
        })
        .expect("cannot create a temporary directory");
    make_world_readable(t.path()).unwrap();
    Scratch {
        path: t.path().to_path_buf(),
        dir: Some(t),
    }
}
