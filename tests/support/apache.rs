//! A throw-away Apache httpd 2.4 (Debian's `apache2`) serving the golden cases.
//!
//! One server per time zone (TZ is process-wide in Apache): own config in a temporary
//! directory, `ServerRoot /usr/lib/apache2`, only the modules mod_include needs, one
//! name-based virtual host per case (`<case>.test`), listening on 127.0.0.1 on a free high
//! port. It runs in its own process group (prefork signals its whole group on shutdown) and is
//! stopped from `Drop` by signalling the pid in its PidFile, then waiting until the port closes.
//! See /work/shared/reference/apache-in-tests.md (shared/reference in the steering repo).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::fixture::{temp_parent, Scratch};

pub const DEFAULT_BIN: &str = "/usr/sbin/apache2";
pub const MODULE_DIR: &str = "/usr/lib/apache2/modules";
const MODULES: &[(&str, &str)] = &[
    ("mpm_prefork_module", "mod_mpm_prefork.so"),
    ("authz_core_module", "mod_authz_core.so"),
    ("mime_module", "mod_mime.so"),
    ("include_module", "mod_include.so"),
    ("dir_module", "mod_dir.so"),
];
/// Loaded only when a case has `defines` (they become `SetEnv` lines).
const ENV_MODULE: (&str, &str) = ("env_module", "mod_env.so");

/// One case served by Apache.
#[derive(Debug, Clone, Default)]
pub struct VHost {
    pub name: String,
    pub root: PathBuf,
    pub legacy_expr: bool,
    pub defines: BTreeMap<String, String>,
    /// `AllowOverride` of the document root (`None`: `AllowOverride None`, .htaccess ignored).
    pub allow_override: Option<String>,
    /// A `DirectoryIndex` line for the document root (`None`: mod_dir's default, `index.html`).
    pub directory_index: Option<String>,
    /// Further lines inside the document root's `<Directory>` block.
    pub extra: Vec<String>,
    /// Further lines at the virtual host's level (e.g. `LogLevel info include:debug`).
    pub vhost_extra: Vec<String>,
}

/// The Apache binary (`SSIBAKE_APACHE` overrides `/usr/sbin/apache2`), or why it is unusable.
pub fn find_apache() -> Result<PathBuf, String> {
    let bin = std::env::var_os("SSIBAKE_APACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_BIN));
    if !bin.is_file() {
        return Err(format!("{} not found", bin.display()));
    }
    for (_, so) in MODULES.iter().chain(std::iter::once(&ENV_MODULE)) {
        let p = Path::new(MODULE_DIR).join(so);
        if !p.is_file() {
            return Err(format!("{} not found", p.display()));
        }
    }
    if !Path::new("/etc/mime.types").is_file() {
        return Err("/etc/mime.types not found".into());
    }
    Ok(bin)
}

/// The release of the Apache binary (`2.4.67`), from `apache2 -v`.
pub fn apache_version(bin: &Path) -> String {
    let out = Command::new(bin)
        .arg("-v")
        .output()
        .unwrap_or_else(|e| panic!("{} -v: {e}", bin.display()));
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .find_map(|w| w.strip_prefix("Apache/"))
        .map(|v| {
            v.chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect()
        })
        .unwrap_or_else(|| panic!("{} -v printed no version:\n{text}", bin.display()))
}

/// `Some(binary)`, or `None` after a loud skip message. Under `CI=true` a missing Apache
/// is a test failure, never a skip.
pub fn apache_or_skip(test: &str) -> Option<PathBuf> {
    match find_apache() {
        Ok(b) => Some(b),
        Err(why) => {
            let ci = std::env::var("CI")
                .map(|v| v == "true" || v == "1")
                .unwrap_or(false);
            let msg = format!(
                "\n\n################################################################\n\
                 ##  {test}: Apache httpd is not usable: {why}\n\
                 ##  install it with `apt-get install -y apache2` (see .ci/run)\n\
                 ################################################################\n"
            );
            if ci {
                panic!("{msg}CI=true: the Apache differential test must not be skipped");
            }
            eprintln!("{msg}##  SKIPPING {test} (it would fail under CI=true)\n");
            None
        }
    }
}

fn running_as_root() -> bool {
    if let Ok(m) = fs::metadata("/proc/self") {
        return m.uid() == 0;
    }
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn free_port() -> u16 {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("cannot bind a free port");
    l.local_addr().unwrap().port()
}

fn port_open(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
}

fn quote_conf(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

pub struct Apache {
    dir: Scratch,
    child: Option<Child>,
    pub port: u16,
    pub tz: String,
    stopped: bool,
}

/// An HTTP response: status code and body bytes.
pub struct Response {
    pub status: u16,
    pub headers: String,
    pub body: Vec<u8>,
}

impl Apache {
    /// Starts Apache with `TZ=<tz>` serving `vhosts`; waits until it accepts connections.
    pub fn start(bin: &Path, tz: &str, vhosts: &[VHost]) -> Result<Apache, String> {
        let mut last_err = String::new();
        for _attempt in 0..3 {
            match Self::start_once(bin, tz, vhosts) {
                Ok(a) => return Ok(a),
                Err(e) => {
                    let retry = e.contains("Address already in use");
                    last_err = e;
                    if !retry {
                        break;
                    }
                }
            }
        }
        Err(last_err)
    }

    fn start_once(bin: &Path, tz: &str, vhosts: &[VHost]) -> Result<Apache, String> {
        let dir = temp_parent("ssibake-apache-");
        let d = dir.path();
        let empty = d.join("empty");
        fs::create_dir_all(&empty).unwrap();
        let port = free_port();
        let conf = d.join("httpd.conf");
        fs::write(&conf, config(d, port, vhosts)).unwrap();
        let log = fs::File::create(d.join("startup.log")).unwrap();
        let child = Command::new(bin)
            .arg("-f")
            .arg(&conf)
            .arg("-DFOREGROUND")
            .env_clear()
            .env("TZ", tz)
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("LANG", "C")
            .current_dir(d)
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        let mut a = Apache {
            dir,
            child: Some(child),
            port,
            tz: tz.to_string(),
            stopped: false,
        };
        let start = Instant::now();
        loop {
            if let Some(c) = a.child.as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    a.stopped = true;
                    return Err(format!(
                        "Apache exited during start-up ({status}):\n{}\n{}",
                        a.read_file("startup.log"),
                        a.error_log()
                    ));
                }
            }
            if a.dir.path().join("httpd.pid").exists() && port_open(port) {
                return Ok(a);
            }
            if start.elapsed() > Duration::from_secs(30) {
                return Err(format!(
                    "Apache did not accept connections on port {port} within 30s:\n{}\n{}",
                    a.read_file("startup.log"),
                    a.error_log()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn read_file(&self, name: &str) -> String {
        fs::read_to_string(self.dir.path().join(name)).unwrap_or_default()
    }

    pub fn error_log(&self) -> String {
        self.read_file("error.log")
    }

    /// The error-log lines that mention `needle` (e.g. a case's document root).
    pub fn error_log_lines(&self, needle: &str) -> String {
        self.error_log()
            .lines()
            .filter(|l| l.contains(needle))
            .fold(String::new(), |mut s, l| {
                let _ = writeln!(s, "{l}");
                s
            })
    }

    /// The current length of the error log, for [`Apache::error_log_since`].
    pub fn error_log_len(&self) -> u64 {
        fs::metadata(self.dir.path().join("error.log"))
            .map(|m| m.len())
            .unwrap_or(0)
    }

    /// What the error log gained after `offset` (the lines of the requests made since).
    pub fn error_log_since(&self, offset: u64) -> String {
        let all = fs::read(self.dir.path().join("error.log")).unwrap_or_default();
        let start = (offset as usize).min(all.len());
        String::from_utf8_lossy(&all[start..]).into_owned()
    }

    /// `GET path HTTP/1.0` with `Host: <host>`.
    pub fn get(&self, host: &str, path: &str) -> Result<Response, String> {
        self.request(host, path, "HTTP/1.0")
    }

    /// `GET path HTTP/1.1` with `Host: <host>` and `Connection: close`, as a browser asks
    /// (so `SERVER_PROTOCOL` is `HTTP/1.1`); a chunked body is decoded.
    pub fn get_http11(&self, host: &str, path: &str) -> Result<Response, String> {
        self.request(host, path, "HTTP/1.1")
    }

    fn request(&self, host: &str, path: &str, protocol: &str) -> Result<Response, String> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(10))
            .map_err(|e| format!("connect to Apache on {addr}: {e}"))?;
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
        let req = format!(
            "GET {path} {protocol}\r\nHost: {host}\r\nUser-Agent: ssibake-tests\r\nConnection: close\r\n\r\n"
        );
        s.write_all(req.as_bytes())
            .map_err(|e| format!("send request: {e}"))?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw)
            .map_err(|e| format!("read response: {e}"))?;
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or_else(|| format!("malformed HTTP response ({} bytes)", raw.len()))?;
        let headers = String::from_utf8_lossy(&raw[..split]).into_owned();
        let mut body = raw[split + 4..].to_vec();
        let status = headers
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse::<u16>().ok())
            .ok_or_else(|| format!("no status in {headers:?}"))?;
        if headers
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            if protocol == "HTTP/1.0" {
                return Err("unexpected chunked response to an HTTP/1.0 request".into());
            }
            body = dechunk(&body)?;
        }
        Ok(Response {
            status,
            headers,
            body,
        })
    }

    fn pid(&self) -> Option<u32> {
        self.read_file("httpd.pid")
            .trim()
            .parse()
            .ok()
            .or_else(|| self.child.as_ref().map(|c| c.id()))
    }

    /// Stops the server: SIGTERM to the PidFile's pid, wait for exit and for the port to
    /// close; SIGKILL to our own process group as a last resort.
    pub fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        let pgid = self.child.as_ref().map(|c| c.id());
        if let Some(pid) = self.pid() {
            signal(&pid.to_string(), "TERM");
        }
        let start = Instant::now();
        let mut exited = false;
        while start.elapsed() < Duration::from_secs(15) {
            let child_done = match self.child.as_mut() {
                Some(c) => matches!(c.try_wait(), Ok(Some(_))),
                None => true,
            };
            if child_done && !port_open(self.port) {
                exited = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if !exited {
            if let Some(g) = pgid {
                // The group we created with process_group(0): only our Apache processes.
                signal(&format!("-{g}"), "KILL");
            }
            if let Some(c) = self.child.as_mut() {
                let _ = c.wait();
            }
        }
        // Keep the error log where a developer can read it after the run.
        let keep = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("apache-{}-error.log", self.tz.replace('/', "_")));
        let _ = fs::copy(self.dir.path().join("error.log"), keep);
    }

    pub fn kept_error_log_path(&self) -> PathBuf {
        Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("apache-{}-error.log", self.tz.replace('/', "_")))
    }
}

impl Drop for Apache {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Decodes a `Transfer-Encoding: chunked` body (no trailers expected).
fn dechunk(mut raw: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let eol = raw
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("chunked body: no chunk-size line")?;
        let line = String::from_utf8_lossy(&raw[..eol]);
        let hex = line.split(';').next().unwrap_or("").trim();
        let n = usize::from_str_radix(hex, 16)
            .map_err(|_| format!("chunked body: bad chunk size {hex:?}"))?;
        raw = &raw[eol + 2..];
        if n == 0 {
            return Ok(out);
        }
        if raw.len() < n + 2 {
            return Err("chunked body: truncated chunk".into());
        }
        out.extend_from_slice(&raw[..n]);
        raw = &raw[n + 2..];
    }
}

fn signal(target: &str, sig: &str) {
    // The shell's builtin `kill` exists everywhere; `--` lets a negative pid name a group.
    let _ = Command::new("sh")
        .arg("-c")
        .arg("kill -s \"$1\" -- \"$2\" 2>/dev/null")
        .arg("sh")
        .arg(sig)
        .arg(target)
        .stdin(Stdio::null())
        .status();
}

fn config(dir: &Path, port: u16, vhosts: &[VHost]) -> String {
    let d = dir.display();
    let mut c = String::new();
    let _ = writeln!(c, "# generated by ssibake's tests/support/apache.rs");
    let _ = writeln!(c, "ServerRoot \"/usr/lib/apache2\"");
    let _ = writeln!(c, "DefaultRuntimeDir \"{d}\"");
    let _ = writeln!(c, "PidFile \"{d}/httpd.pid\"");
    let _ = writeln!(c, "ErrorLog \"{d}/error.log\"");
    let _ = writeln!(c, "LogLevel warn include:debug");
    let _ = writeln!(c, "Listen 127.0.0.1:{port}");
    let _ = writeln!(c, "ServerName localhost");
    let mut modules: Vec<(&str, &str)> = MODULES.to_vec();
    if vhosts.iter().any(|v| !v.defines.is_empty()) {
        modules.push(ENV_MODULE);
    }
    for (name, so) in modules {
        let _ = writeln!(c, "LoadModule {name} {MODULE_DIR}/{so}");
    }
    if running_as_root() {
        let _ = writeln!(c, "User www-data\nGroup www-data");
    }
    let _ = writeln!(c, "TypesConfig /etc/mime.types");
    // As Debian's mods-available/mime.conf has them: at server level, which matters
    // for how a .htaccess RemoveOutputFilter merges (ssibake's defaults are Debian's).
    let _ = writeln!(c, "AddType text/html .shtml");
    let _ = writeln!(c, "AddOutputFilter INCLUDES .shtml");
    let _ = writeln!(
        c,
        "StartServers 2\nMinSpareServers 1\nMaxSpareServers 4\nKeepAlive Off\nTimeout 60"
    );
    let _ = writeln!(
        c,
        "<Directory />\n    AllowOverride None\n    Require all denied\n</Directory>"
    );
    // The first virtual host is the default for unknown Host headers.
    let _ = writeln!(
        c,
        "<VirtualHost 127.0.0.1:{port}>\n    ServerName default.invalid\n    DocumentRoot \"{d}/empty\"\n</VirtualHost>"
    );
    for v in vhosts {
        let root = v.root.display();
        let _ = writeln!(c, "<VirtualHost 127.0.0.1:{port}>");
        let _ = writeln!(c, "    ServerName {}.test", v.name);
        let _ = writeln!(c, "    DocumentRoot \"{root}\"");
        let _ = writeln!(c, "    <Directory \"{root}\">");
        let _ = writeln!(c, "        Options +IncludesNOEXEC");
        // A site's own .htaccess files count, as ssibake reads them; Debian's
        // dir.conf DirectoryIndex is what ssibake assumes by default.
        let _ = writeln!(
            c,
            "        AllowOverride {}",
            v.allow_override.as_deref().unwrap_or("All")
        );
        let _ = writeln!(
            c,
            "        DirectoryIndex {}",
            v.directory_index
                .as_deref()
                .unwrap_or("index.html index.cgi index.pl index.php index.xhtml index.htm")
        );
        let _ = writeln!(c, "        Require all granted");
        if v.legacy_expr {
            let _ = writeln!(c, "        SSILegacyExprParser on");
        }
        for line in &v.extra {
            let _ = writeln!(c, "        {line}");
        }
        let _ = writeln!(c, "    </Directory>");
        for (k, val) in &v.defines {
            let _ = writeln!(c, "    SetEnv {k} {}", quote_conf(val));
        }
        for line in &v.vhost_extra {
            let _ = writeln!(c, "    {line}");
        }
        let _ = writeln!(c, "</VirtualHost>");
    }
    c
}
