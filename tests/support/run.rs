//! Running the `ssibake` binary under the test contract:
//! `ssibake [--root DIR] [--on-error fail|errmsg] [--legacy-expr] [--define NAME=VALUE]... FILE`
//! with a cleared environment plus `TZ` (and `SOURCE_DATE_EPOCH` when the case sets it).

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::fixture::{Case, Mode};

/// How long one render may take before it counts as hung.
const TIMEOUT: Duration = Duration::from_secs(30);

pub struct Output {
    /// `None` when killed by a signal or by the timeout.
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub timed_out: bool,
    pub command: String,
}

impl Output {
    pub fn describe_status(&self) -> String {
        match (self.code, self.timed_out) {
            (_, true) => format!("killed after {}s (hung?)", TIMEOUT.as_secs()),
            (Some(c), _) => format!("exit {c}"),
            (None, _) => "killed by a signal (crash?)".to_string(),
        }
    }
}

pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_ssibake")
}

/// Renders the case's page from the materialised `root`.
pub fn run_ssibake(case: &Case, root: &Path, mode: Mode) -> Output {
    run_ssibake_as(case, root, mode, None)
}

/// [`run_ssibake`] reproducing the Apache release `apache_version` (`--apache-version`).
pub fn run_ssibake_as(
    case: &Case,
    root: &Path,
    mode: Mode,
    apache_version: Option<&str>,
) -> Output {
    let page = root.join(&case.page);
    let mut cmd = Command::new(binary());
    cmd.env_clear()
        .env("TZ", &case.tz)
        .arg("--root")
        .arg(root)
        .arg("--on-error")
        .arg(mode.flag());
    if let Some(sde) = case.source_date_epoch {
        cmd.env("SOURCE_DATE_EPOCH", sde.to_string());
    }
    if case.legacy_expr {
        cmd.arg("--legacy-expr");
    }
    for (k, v) in &case.defines {
        cmd.arg("--define").arg(format!("{k}={v}"));
    }
    if let Some(conf) = &case.apache_conf {
        cmd.arg("--apache-conf").arg(conf);
    }
    if let Some(v) = apache_version {
        cmd.arg("--apache-version").arg(v);
    }
    cmd.arg(&page);
    let mut command = format!(
        "env -i TZ={}{} {} --root {} --on-error {}{}",
        case.tz,
        case.source_date_epoch
            .map(|s| format!(" SOURCE_DATE_EPOCH={s}"))
            .unwrap_or_default(),
        binary(),
        root.display(),
        mode.flag(),
        if case.legacy_expr {
            " --legacy-expr"
        } else {
            ""
        }
    );
    for (k, v) in &case.defines {
        command.push_str(&format!(" --define '{k}={v}'"));
    }
    if let Some(conf) = &case.apache_conf {
        command.push_str(&format!(" --apache-conf {}", conf.display()));
    }
    if let Some(v) = apache_version {
        command.push_str(&format!(" --apache-version {v}"));
    }
    command.push_str(&format!(" {}", page.display()));

    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => panic!("cannot run {}: {e}", binary()),
    };
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let start = Instant::now();
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) if start.elapsed() > TIMEOUT => {
                timed_out = true;
                let _ = child.kill();
                break child.wait().ok();
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(_) => break None,
        }
    };
    Output {
        code: if timed_out {
            None
        } else {
            status.and_then(|s| s.code())
        },
        stdout: t_out.join().unwrap_or_default(),
        stderr: t_err.join().unwrap_or_default(),
        timed_out,
        command,
    }
}

/// Replaces the temporary document root (as given and canonicalised) by `$ROOT`.
pub fn normalize_stderr(stderr: &[u8], root: &Path) -> Vec<u8> {
    let mut s = stderr.to_vec();
    let mut roots = vec![root.to_string_lossy().into_owned()];
    if let Ok(c) = root.canonicalize() {
        let c = c.to_string_lossy().into_owned();
        if !roots.contains(&c) {
            roots.push(c);
        }
    }
    // Longest first, so a canonical path that extends the given one is replaced whole.
    roots.sort_by_key(|r| std::cmp::Reverse(r.len()));
    for r in roots {
        s = replace_bytes(&s, r.as_bytes(), b"$ROOT");
    }
    s
}

fn replace_bytes(hay: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    if needle.is_empty() {
        return hay.to_vec();
    }
    let mut out = Vec::with_capacity(hay.len());
    let mut i = 0;
    while i < hay.len() {
        if hay[i..].starts_with(needle) {
            out.extend_from_slice(with);
            i += needle.len();
        } else {
            out.push(hay[i]);
            i += 1;
        }
    }
    out
}
