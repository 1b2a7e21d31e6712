//! The command line: one clap definition for parsing, help, completions and the
//! man page; `main` maps the outcome to an exit status.

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};

pub(crate) mod config;

use crate::bake::{unified_diff, write_atomically, BakeError, BakeOptions, BakeReport, Difference};
use crate::engine::baker::Baker;
use crate::engine::compat::ApacheVersion;
use crate::engine::errors::{Error, TemplateErrors};
use crate::engine::eval::OnError;
use crate::format::timefmt::Zone;
use crate::site::version::{MtimeFrom, MtimeSource};
use config::Config;

/// Exit statuses, as documented in `--help`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Every page rendered (or, with `--check`, nothing differs).
    Success = 0,
    /// A template error (nothing was written), or `--check` found a difference.
    TemplateError = 1,
    /// Bad arguments, a bad `TZ`, a bad configuration.
    Usage = 2,
    /// Reading the site or writing the output failed (the message says which path,
    /// and whether it was read or written).
    Io = 3,
    /// `--check` found differences (the diffs are on standard output).
    Differs = 4,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e as u8)
    }
}

/// `--scheme`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Scheme {
    /// Plain HTTP.
    Http,
    /// HTTP over TLS.
    Https,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum MessageFormat {
    /// `path:line:col: error: message`, the source line and carets.
    Human,
    /// `path:line:col: error: message`, one line per diagnostic.
    Short,
    /// One JSON object per diagnostic and line.
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), e.g. `ssibake man > ssibake.1`.
    Man,
    /// Preview the site: every page as --out would write it, on 127.0.0.1, reloaded
    /// in the browser when one of its inputs changes, errors shown in the page.
    Serve(Box<ServeArgs>),
    /// Print the update-notice client script (classic script; `--module` for the ES module).
    Client {
        /// Print the ES module form.
        #[arg(long)]
        module: bool,
    },
}

/// `ssibake serve`: the site's flags, and where to listen.
#[derive(Debug, clap::Args)]
struct ServeArgs {
    #[command(flatten)]
    site: SiteArgs,

    /// The port to listen on (0: any free port).
    #[arg(
        help_heading = "Serving",
        long,
        default_value_t = 8000,
        value_name = "N"
    )]
    port: u16,

    /// The address to listen on. Anything but a loopback address makes the preview
    /// (and every file of the site) reachable from other machines.
    #[arg(
        help_heading = "Serving",
        long,
        default_value = "127.0.0.1",
        value_name = "HOST"
    )]
    host: String,

    /// Open the site in the default browser once it is served.
    #[arg(help_heading = "Serving", long)]
    open: bool,
}

/// Bake Apache Server Side Includes into static HTML, byte-identical to Apache
/// httpd 2.4 mod_include.
///
/// Four ways to run:
///
///   ssibake [OPTIONS] FILE...            render pages to standard output (or -o)
///   ssibake --root site --out dist       bake a whole tree into dist/
///   ssibake --in-place FILE...           rewrite pages where they are
///   ssibake serve [--root DIR]           preview the site, reloading on change
///
/// With an ssibake.toml at the root (see the README), `ssibake` alone bakes the
/// tree it describes; flags override it.
///
/// The only environment variables read are TZ (the local time zone for dates;
/// unset means UTC) and SOURCE_DATE_EPOCH (the time DATE_LOCAL, DATE_GMT and
/// BUILD_DATE show, and every file's time with --mtime-from epoch). Templates
/// never see the process environment; give them variables with --define.
///
/// Exit status: 0 success; 1 template errors (or warnings with --deny-warnings;
/// nothing written); 2 usage errors; 3 a file that cannot be read or written;
/// 4 differences found by --check.
#[derive(Debug, Parser)]
#[command(
    name = "ssibake",
    version,
    about,
    long_about,
    verbatim_doc_comment,
    args_conflicts_with_subcommands = true
)]
pub struct Args {
    #[command(subcommand)]
    command: Option<Command>,

    /// Pages to render (paths under the root).
    #[arg(help_heading = "Modes", value_name = "FILE")]
    files: Vec<PathBuf>,

    #[command(flatten)]
    site: SiteArgs,

    /// Bake every page under the root into DIR, with a copy of every other file.
    #[arg(help_heading = "Modes", long, value_name = "DIR", conflicts_with_all = ["in_place", "output"])]
    out: Option<PathBuf>,

    /// Let --out replace what is not an earlier bake's output: a file, or a non-empty
    /// directory without ssibake's mark (.ssibake/output).
    #[arg(long, help_heading = "Modes")]
    force: bool,

    /// Rewrite each FILE in place (atomically; a file without directives is left alone).
    #[arg(help_heading = "Modes", long, conflicts_with = "output")]
    in_place: bool,

    /// Compare with the existing output (-o FILE or --out DIR) instead of writing;
    /// print a unified diff per differing file (standard output) and exit 4 if any
    /// differs (the version file's builtAt is not a difference).
    #[arg(long, help_heading = "Modes")]
    check: bool,

    /// Print the Apache settings in force for each FILE (is it parsed, its type,
    /// SSI options, DirectoryIndex, time format, ...) and where each comes from,
    /// then exit.
    #[arg(long, help_heading = "Modes")]
    explain: bool,

    /// Write a JSON map of every stamped or revved file to its revved path
    /// (gulp-rev's rev-manifest.json shape) at PATH after every page, and
    /// hashes, sizes and times in PATH's .details.json beside it.
    #[arg(help_heading = "Versions and the build", long, value_name = "PATH")]
    manifest: Option<PathBuf>,

    /// Give every published file its version time: each baked page the newest of
    /// its inputs (the page, its includes, the files it stamps), each copied file
    /// and revved copy its own, so every server sends the same Last-Modified and
    /// ETag.
    #[arg(long, help_heading = "Versions and the build")]
    stable_mtimes: bool,

    /// Keep the revved files (#frev) of the last N builds in the output, this one
    /// included, so pages cached elsewhere still find them; older ones are pruned
    /// [default: 3].
    #[arg(help_heading = "Versions and the build", long, value_name = "N")]
    keep_builds: Option<usize>,

    /// Render every page and copy every file, even those the previous output and its
    /// dependency record show unchanged.
    #[arg(long, help_heading = "The site")]
    full: bool,

    /// Do not sync the new output to disk before swapping it in (faster, for scratch
    /// bakes; a power loss may then leave empty files).
    #[arg(long, help_heading = "Messages and runs")]
    no_fsync: bool,

    /// Write the output to FILE (atomically) instead of standard output; only with
    /// one page.
    #[arg(help_heading = "Modes", short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

impl std::ops::Deref for Args {
    type Target = SiteArgs;
    fn deref(&self) -> &SiteArgs {
        &self.site
    }
}

/// What every mode reads the site with: the root, what templates see, which files
/// are pages, messages. `ssibake serve` takes the same.
#[derive(Clone, Debug, clap::Args)]
pub struct SiteArgs {
    /// The document root: `virtual="/x"` is looked up here.
    #[arg(help_heading = "The site", short, long, value_name = "DIR")]
    root: Option<PathBuf>,

    /// A variable for templates, NAME=VALUE (repeatable).
    #[arg(
        help_heading = "What templates see",
        short = 'D',
        long = "define",
        value_name = "NAME=VALUE"
    )]
    defines: Vec<String>,

    /// What to do where Apache would print "[an error occurred while processing
    /// this directive]" [default: fail].
    #[arg(
        help_heading = "What templates see",
        long,
        value_enum,
        value_name = "MODE"
    )]
    on_error: Option<OnError>,

    /// Evaluate #if with the legacy expression syntax (SSILegacyExprParser on).
    #[arg(long, help_heading = "What templates see")]
    legacy_expr: bool,

    /// The Apache httpd 2.4 release to reproduce where releases differ, as
    /// `apache2 -v` prints it [default: 2.4.71]. Before 2.4.68 an #if whose
    /// condition cannot be evaluated still prints its body (in errmsg mode).
    #[arg(long, help_heading = "What templates see", value_name = "2.4.N")]
    apache_version: Option<ApacheVersion>,

    /// Read the server's settings for the site from this Apache configuration file
    /// (a server or virtual-host snippet: <Directory> blocks mapped onto the root,
    /// AllowOverride, DirectoryIndex, AddOutputFilter, SSI*, ServerName,
    /// ServerAdmin). The site's .htaccess files are read in any case.
    #[arg(help_heading = "The site", long, value_name = "FILE")]
    apache_conf: Option<PathBuf>,

    /// The local time zone for dates, as TZ would give it (`America/New_York`,
    /// `KST-9`); it wins over TZ [default: TZ, else UTC].
    #[arg(help_heading = "What templates see", long, value_name = "ZONE")]
    tz: Option<String>,

    /// The host name pages are served as: SERVER_NAME (ServerName).
    #[arg(help_heading = "What templates see", long, value_name = "NAME")]
    server_name: Option<String>,

    /// The port pages are served on: SERVER_PORT.
    #[arg(help_heading = "What templates see", long, value_name = "PORT")]
    server_port: Option<u16>,

    /// SERVER_ADMIN (ServerAdmin).
    #[arg(help_heading = "What templates see", long, value_name = "EMAIL")]
    server_admin: Option<String>,

    /// The scheme pages are served over: REQUEST_SCHEME, and HTTPS=on for https.
    #[arg(
        help_heading = "What templates see",
        long,
        value_enum,
        value_name = "SCHEME"
    )]
    scheme: Option<Scheme>,

    /// Extension of included files that are templates themselves (repeatable;
    /// default: shtml).
    #[arg(help_heading = "The site", long = "template-ext", value_name = "EXT")]
    template_exts: Vec<String>,

    /// Which files under the root are pages to bake (glob, repeatable; default:
    /// **/*.shtml).
    #[arg(help_heading = "The site", long = "pages", value_name = "GLOB")]
    pages: Vec<String>,

    /// Files neither baked nor copied (glob, repeatable).
    #[arg(help_heading = "The site", long = "exclude", value_name = "GLOB")]
    exclude: Vec<String>,

    /// The extension baked pages get in --out [default: html].
    #[arg(
        help_heading = "The site",
        long,
        value_name = "EXT",
        conflicts_with = "keep_ext"
    )]
    page_ext: Option<String>,

    /// Keep the pages' own extension in --out.
    #[arg(long, help_heading = "The site")]
    keep_ext: bool,

    /// The build ID templates see as BUILD_ID [default: a hash of every input].
    #[arg(help_heading = "Versions and the build", long, value_name = "ID")]
    build_id: Option<String>,

    /// Write {"buildId", "builtAt"} at this path of the output, after every page.
    #[arg(help_heading = "Versions and the build", long, value_name = "PATH")]
    version_file: Option<String>,

    /// Write the update-notice client script at this path of the output.
    #[arg(help_heading = "Versions and the build", long, value_name = "PATH")]
    emit_client: Option<String>,

    /// Where the times flastmod and LAST_MODIFIED print come from: fs (the file's
    /// modification time, as Apache), git (the last commit that changed the file;
    /// untracked or modified files fall back to fs with a warning) or epoch
    /// (SOURCE_DATE_EPOCH for every file) [default: fs].
    #[arg(
        help_heading = "Versions and the build",
        long,
        value_enum,
        value_name = "SOURCE"
    )]
    mtime_from: Option<MtimeSource>,

    /// With --mtime-from git: a file without a git time (untracked, modified,
    /// older than a shallow clone) is an error instead of a warning.
    #[arg(long, help_heading = "Versions and the build")]
    strict_git: bool,

    /// Refuse ssibake's extensions (#fhash, #frev, config hashlen) as Apache
    /// would.
    #[arg(long, help_heading = "What templates see")]
    apache_only: bool,

    /// Publish partials (templates some page includes) as pages of their own too,
    /// as Apache would serve them; by default they are neither baked alone nor
    /// copied.
    #[arg(long, help_heading = "The site")]
    publish_partials: bool,

    /// Warnings fail the run (exit 1, nothing written): Apache's error text shipped
    /// with --on-error errmsg, directives in a file included as it is, comments
    /// that look like directives, files the previous output had that this one
    /// drops.
    #[arg(long, help_heading = "Messages and runs")]
    deny_warnings: bool,

    /// No progress bar.
    #[arg(help_heading = "Messages and runs", short, long)]
    quiet: bool,

    /// Threads for baking a tree [default: the number of cores].
    #[arg(help_heading = "Messages and runs", short, long, value_name = "N")]
    jobs: Option<usize>,

    /// How to print diagnostics.
    #[arg(
        help_heading = "Messages and runs",
        long,
        value_enum,
        default_value = "human",
        value_name = "FORMAT"
    )]
    message_format: MessageFormat,

    /// Colour diagnostics (auto: only on a terminal, never with NO_COLOR).
    #[arg(
        help_heading = "Messages and runs",
        long,
        value_enum,
        default_value = "auto",
        value_name = "WHEN"
    )]
    color: Color,
}

/// Runs the command line and returns the exit status.
pub fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                Exit::Usage
            } else {
                Exit::Success
            }
            .into();
        }
    };
    run(args).into()
}

/// `--message-format json` was given: usage errors are JSON lines too.
static JSON_MESSAGES: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn usage(message: impl std::fmt::Display) -> Exit {
    if JSON_MESSAGES.load(std::sync::atomic::Ordering::Relaxed) {
        eprintln!(
            "{}",
            serde_json::json!({
                "type": "error",
                "severity": "error",
                "message": message.to_string(),
            })
        );
    } else {
        eprintln!("ssibake: error: {message}");
    }
    Exit::Usage
}

/// Writes to stdout; a closed pipe (`| head`) is not an error.
fn print_stdout(bytes: &[u8]) -> Exit {
    let mut out = io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Exit::Success,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Exit::Success,
        Err(e) => usage(format!("cannot write to standard output: {e}")),
    }
}

/// The clap command, for completions, the man page and tests.
pub fn command() -> clap::Command {
    Args::command()
}

struct Reporter {
    format: MessageFormat,
    color: bool,
    /// Colour on standard output (diffs).
    color_out: bool,
    quiet: bool,
}

/// A unified diff with `-` lines red and `+` lines green, for a terminal.
fn colour_diff(diff: &str) -> String {
    diff.lines()
        .map(|l| {
            if l.starts_with("+++") || l.starts_with("---") {
                format!("\x1b[1m{l}\x1b[0m\n")
            } else if l.starts_with('+') {
                format!("\x1b[32m{l}\x1b[0m\n")
            } else if l.starts_with('-') {
                format!("\x1b[31m{l}\x1b[0m\n")
            } else if l.starts_with("@@") {
                format!("\x1b[36m{l}\x1b[0m\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect()
}

impl Reporter {
    fn template(&self, errors: &TemplateErrors) {
        let text = match self.format {
            MessageFormat::Human => errors.render(self.color),
            MessageFormat::Short => errors
                .render(false)
                .lines()
                .filter(|l| {
                    !l.starts_with(' ') && (l.contains(": error: ") || l.contains(": warning: "))
                })
                .map(|l| format!("{l}\n"))
                .collect(),
            MessageFormat::Json => errors.render_json(),
        };
        let _ = io::stderr().write_all(text.as_bytes());
    }

    fn bake_error(&self, e: &BakeError) -> Exit {
        match e {
            BakeError::Pages { failures, report } => {
                self.warnings(report);
                for f in failures {
                    self.template(f);
                }
                let errors = failures.iter().map(|f| f.diagnostics().len()).sum();
                let text = format!("{} (nothing was written)", report.summary(errors));
                self.summary(report, errors, &text);
                Exit::TemplateError
            }
            BakeError::Warnings { report } => {
                self.warnings(report);
                let text = format!(
                    "{} (nothing was written: --deny-warnings)",
                    report.summary(0)
                );
                self.summary(report, 0, &text);
                Exit::TemplateError
            }
            BakeError::Other(e @ (Error::Io { .. } | Error::Write { .. })) => {
                let _ = usage(e);
                Exit::Io
            }
            other => usage(other),
        }
    }

    /// Every warning of a run: the pages' own, then the files it drops.
    fn warnings(&self, report: &BakeReport) {
        for w in &report.warnings {
            self.template(w);
        }
        for name in &report.removed {
            match self.format {
                MessageFormat::Human | MessageFormat::Short => eprintln!(
                    "ssibake: warning: `{name}` is in the previous output but no longer in the site: the bake removes it"
                ),
                MessageFormat::Json => eprintln!(
                    "{}",
                    serde_json::json!({
                        "type": "diagnostic",
                        "severity": "warning",
                        "code": "removed",
                        "file": name,
                        "message": "in the previous output but no longer in the site: the bake removes it",
                    })
                ),
            }
        }
    }

    /// The closing line of a tree, in-place or check run: text, or one JSON object
    /// (`"type": "summary"`) so that JSON output stays JSON line by line.
    fn summary(&self, report: &BakeReport, errors: usize, text: &str) {
        if self.quiet && errors == 0 && report.warning_count() == 0 {
            // `-q`: only problems, as cargo, ripgrep and fd users expect.
            return;
        }
        match self.format {
            MessageFormat::Human | MessageFormat::Short => eprintln!("ssibake: {text}"),
            MessageFormat::Json => eprintln!(
                "{}",
                serde_json::json!({
                    "type": "summary",
                    "pages": report.pages,
                    "partials": report.partials,
                    "warnings": report.warning_count(),
                    "buildId": report.build_id,
                    "includes": report.includes,
                    "stamped": report.stamped,
                    "copied": report.copied,
                    "errors": errors,
                    "elapsed": report.elapsed.as_secs_f64(),
                    "message": text,
                })
            ),
        }
    }

    /// One difference found by `--check`, on standard output (a diff is the
    /// result asked for, as `diff` and `git diff` print it).
    fn difference(&self, d: &Difference) {
        let text = match self.format {
            MessageFormat::Human | MessageFormat::Short if d.diff.starts_with("--- ") => {
                if self.color_out {
                    colour_diff(&d.diff)
                } else {
                    d.diff.clone()
                }
            }
            MessageFormat::Human | MessageFormat::Short => format!("{}: {}\n", d.path, d.diff),
            MessageFormat::Json => format!(
                "{}\n",
                serde_json::json!({"type": "difference", "file": d.path, "diff": d.diff})
            ),
        };
        let _ = print_stdout(text.as_bytes());
    }
}

/// How diagnostics are printed, from `--message-format`, `--color` and `-q`.
fn reporter(site: &SiteArgs) -> Reporter {
    let on = |terminal: bool| match site.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => std::env::var_os("NO_COLOR").is_none() && terminal,
    };
    Reporter {
        format: site.message_format,
        color: on(io::stderr().is_terminal()),
        color_out: on(io::stdout().is_terminal()),
        quiet: site.quiet,
    }
}

/// A usage error (or a file that cannot be read) found while setting up.
struct Failure {
    exit: Exit,
    message: String,
}

impl Failure {
    fn usage(message: impl std::fmt::Display) -> Failure {
        Failure {
            exit: Exit::Usage,
            message: message.to_string(),
        }
    }

    /// Prints the message as every usage error is printed.
    fn report(self) -> Exit {
        let _ = usage(&self.message);
        self.exit
    }
}

/// The engine and the bake's options from the flags and `ssibake.toml`.
struct Setup {
    root: PathBuf,
    config: Config,
    baker: Baker,
    opts: BakeOptions,
}

/// Reads `ssibake.toml`, the environment's `TZ` and `SOURCE_DATE_EPOCH` and the
/// flags into an engine and the bake's options: the same for every mode, and read
/// again by `ssibake serve` after each change.
fn setup(site: &SiteArgs) -> Result<Setup, Failure> {
    let root = site.root.clone().unwrap_or_else(|| PathBuf::from("."));
    let config = Config::load(&root)
        .map_err(Failure::usage)?
        .unwrap_or_default();

    let tz = site.tz.clone().or_else(|| std::env::var("TZ").ok());
    let zone = Zone::from_tz(tz.as_deref()).map_err(Failure::usage)?;
    let on_error = site.on_error.or(config.on_error).unwrap_or(OnError::Fail);
    let source_date_epoch = match std::env::var("SOURCE_DATE_EPOCH") {
        // Empty means unset, as most tools read it.
        Ok(sde) if sde.trim().is_empty() => None,
        Ok(sde) => match sde.trim().parse::<i64>() {
            Ok(t) => Some(t),
            Err(_) => {
                return Err(Failure::usage(format!(
                    "SOURCE_DATE_EPOCH is not a number of seconds: `{sde}`"
                )))
            }
        },
        Err(_) => None,
    };
    let mtime_from = match site
        .mtime_from
        .or(config.mtime_from)
        .unwrap_or(MtimeSource::Fs)
    {
        MtimeSource::Fs => MtimeFrom::Fs,
        MtimeSource::Git => MtimeFrom::Git,
        MtimeSource::Epoch => match source_date_epoch {
            Some(t) => MtimeFrom::Epoch(t),
            None => {
                return Err(Failure::usage(
                    "--mtime-from epoch needs SOURCE_DATE_EPOCH (Unix seconds)",
                ))
            }
        },
    };
    let strict_git = site.strict_git || config.strict_git.unwrap_or(false);
    if strict_git && mtime_from != MtimeFrom::Git {
        return Err(Failure::usage(
            "--strict-git only applies with --mtime-from git",
        ));
    }
    let apache_version = match (site.apache_version, &config.apache_version) {
        (Some(v), _) => v,
        (None, Some(text)) => text
            .parse()
            .map_err(|e| Failure::usage(format!("ssibake.toml: apache-version: {e}")))?,
        (None, None) => ApacheVersion::LATEST,
    };
    let mut builder = Baker::builder()
        .root(&root)
        .legacy_expr(site.legacy_expr || config.legacy_expr.unwrap_or(false))
        .time_zone(zone)
        .on_error(on_error)
        .apache_only(site.apache_only || config.apache_only.unwrap_or(false))
        .apache_version(apache_version)
        .mtime_from(mtime_from)
        .strict_git(strict_git);
    if let Some(name) = site.server_name.as_ref().or(config.server_name.as_ref()) {
        builder = builder.server_name(name);
    }
    if let Some(port) = site.server_port.or(config.server_port) {
        builder = builder.server_port(port);
    }
    if let Some(admin) = site.server_admin.as_ref().or(config.server_admin.as_ref()) {
        builder = builder.server_admin(admin);
    }
    if let Some(scheme) = site.scheme.or(config.scheme) {
        builder = builder.https(scheme == Scheme::Https);
    }
    if let Some(t) = source_date_epoch {
        builder = builder.now(t);
    }
    for (name, value) in &config.defines {
        if !site
            .defines
            .iter()
            .any(|d| d.split_once('=').is_some_and(|(n, _)| n == name))
        {
            builder = builder.define(name, value);
        }
    }
    for d in &site.defines {
        let Some((name, value)) = d.split_once('=') else {
            return Err(Failure::usage(format!(
                "--define expects NAME=VALUE, got `{d}`"
            )));
        };
        builder = builder.define(name, value);
    }
    let template_exts = if site.template_exts.is_empty() {
        config.template_ext.clone()
    } else {
        Some(site.template_exts.clone())
    };
    if let Some(exts) = template_exts {
        builder = builder.template_extensions(exts);
    }
    if let Some(conf) = &site.apache_conf {
        match std::fs::read(conf) {
            Ok(text) => builder = builder.apache_conf(text, conf.display().to_string()),
            Err(e) => {
                return Err(Failure {
                    exit: Exit::Io,
                    message: format!("cannot read `{}`: {e}", conf.display()),
                })
            }
        }
    }
    let baker = builder.build().map_err(Failure::usage)?;
    let mut opts = BakeOptions::default();
    let pages = if site.pages.is_empty() {
        config.pages.clone()
    } else {
        Some(site.pages.clone())
    };
    if let Some(p) = pages {
        opts = opts.with_pages(p);
    }
    let exclude = if site.exclude.is_empty() {
        config.exclude.clone().unwrap_or_default()
    } else {
        site.exclude.clone()
    };
    opts = opts.with_exclude(exclude);
    if site.keep_ext {
        opts = opts.with_page_ext(None);
    } else if let Some(ext) = site.page_ext.as_deref().or(config.page_ext.as_deref()) {
        opts = opts.with_page_ext(if ext.is_empty() { None } else { Some(ext) });
    }
    opts = opts
        .with_build_id(site.build_id.as_deref().or(config.build_id.as_deref()))
        .with_version_file(
            site.version_file
                .as_deref()
                .or(config.version_file.as_deref()),
        )
        .with_client(
            site.emit_client
                .as_deref()
                .or(config.emit_client.as_deref()),
        );

    opts = opts
        .with_publish_partials(site.publish_partials || config.publish_partials.unwrap_or(false))
        .with_deny_warnings(site.deny_warnings || config.deny_warnings.unwrap_or(false));
    Ok(Setup {
        root,
        config,
        baker,
        opts,
    })
}

/// `ssibake serve`: the site loaded once (a usage error exits 2 before anything
/// listens), then served until the process is stopped.
fn serve(args: &ServeArgs) -> Exit {
    use crate::serve::{Event, ServeOptions, Server};
    let Setup {
        root,
        baker,
        opts,
        config,
    } = match setup(&args.site) {
        Ok(s) => s,
        Err(f) => return f.report(),
    };
    // A bake's output inside the root (`out` in ssibake.toml) is not the site.
    let out_of = |config: &Config, root: &Path| config.out.as_ref().map(|o| root.join(o));
    let out = out_of(&config, &root);
    if !is_loopback(&args.host, args.port) {
        eprintln!(
            "ssibake: warning: serving on {}, which other machines can reach: ssibake serve is \
             a preview server; deploy the output of --out instead",
            args.host
        );
    }
    let site = args.site.clone();
    let first = std::sync::Mutex::new(Some(crate::serve::Loaded {
        baker,
        options: opts,
        out,
    }));
    let load: crate::serve::Load = Box::new(move || {
        if let Some(loaded) = first.lock().unwrap_or_else(|p| p.into_inner()).take() {
            return Ok(loaded);
        }
        setup(&site)
            .map(|s| crate::serve::Loaded {
                out: out_of(&s.config, &s.root),
                baker: s.baker,
                options: s.opts,
            })
            .map_err(|f| f.message)
    });
    let reporter = reporter(&args.site);
    let report: crate::serve::Report = Box::new(move |event| match event {
        Event::Errors(t) | Event::Warnings(t) => reporter.template(t),
        Event::Problem(m) => {
            let _ = usage(m);
        }
        Event::Changed {
            paths,
            rendered,
            reloaded,
            elapsed,
        } => {
            if !reporter.quiet {
                eprintln!(
                    "ssibake: {paths} path{} changed: {rendered} page{} rendered, {reloaded} \
                     open page{} reloaded ({} ms)",
                    if paths == 1 { "" } else { "s" },
                    if rendered == 1 { "" } else { "s" },
                    if reloaded == 1 { "" } else { "s" },
                    elapsed.as_millis()
                );
            }
        }
        Event::WatchFailed(e) => {
            eprintln!("ssibake: warning: cannot watch the site ({e}): pages will not reload")
        }
    });
    let options = ServeOptions {
        host: args.host.clone(),
        port: args.port,
        also_watch: args.site.apache_conf.iter().cloned().collect(),
        ..ServeOptions::default()
    };
    let options = match args.site.jobs {
        Some(n) => ServeOptions {
            workers: n.max(1),
            ..options
        },
        None => options,
    };
    let server = match Server::bind(&root, &options, load, report) {
        Ok(s) => s,
        Err(e) => return usage(e),
    };
    let url = match server.local_addr() {
        Ok(a) => format!("http://{a}/"),
        Err(e) => return usage(e),
    };
    eprintln!(
        "ssibake: serving {} at {url} (Ctrl-C to stop)",
        root.display()
    );
    if args.open {
        let opener = if cfg!(target_os = "macos") {
            "open"
        } else {
            "xdg-open"
        };
        if let Err(e) = std::process::Command::new(opener)
            .arg(&url)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
        {
            eprintln!("ssibake: warning: cannot open a browser with {opener}: {e}");
        }
    }
    match server.run() {
        Ok(()) => Exit::Success,
        Err(e) => {
            let _ = usage(format!("the server stopped: {e}"));
            Exit::Io
        }
    }
}

/// Whether every address `host` names is a loopback address (an unknown name is
/// refused later, by the bind).
fn is_loopback(host: &str, port: u16) -> bool {
    use std::net::ToSocketAddrs;
    match (host, port).to_socket_addrs() {
        Ok(addrs) => addrs.into_iter().all(|a| a.ip().is_loopback()),
        Err(_) => true,
    }
}

fn run(args: Args) -> Exit {
    JSON_MESSAGES.store(
        args.message_format == MessageFormat::Json,
        std::sync::atomic::Ordering::Relaxed,
    );
    match &args.command {
        Some(Command::Completions { shell }) => {
            let mut cmd = command();
            let mut out = Vec::new();
            clap_complete::generate(*shell, &mut cmd, "ssibake", &mut out);
            return print_stdout(&out);
        }
        Some(Command::Man) => {
            let mut out = Vec::new();
            if let Err(e) = clap_mangen::Man::new(command()).render(&mut out) {
                return usage(e);
            }
            return print_stdout(&out);
        }
        Some(Command::Serve(serve_args)) => return serve(serve_args),
        Some(Command::Client { module }) => {
            let script = if *module {
                crate::bake::client::MODULE
            } else {
                crate::bake::client::CLASSIC
            };
            return print_stdout(script.as_bytes());
        }
        None => {}
    }

    // `ssibake --root site serve`: clap takes a subcommand only before the options,
    // so `serve` here would be a page named `serve`. Unless such a file exists, say
    // what was meant.
    if let Some(word) = args.files.first().and_then(|f| f.to_str()) {
        let sub = ["serve", "man", "completions", "client"].contains(&word);
        if sub && !args.files[0].exists() {
            return usage(format!(
                "`{word}` is a subcommand: write it right after `ssibake` \
                 (`ssibake {word} --root site ...`)"
            ));
        }
    }
    let Setup {
        root,
        config,
        baker,
        mut opts,
    } = match setup(&args.site) {
        Ok(s) => s,
        Err(f) => return f.report(),
    };
    if args.explain {
        if args.files.is_empty() {
            return usage("--explain needs the FILEs to explain");
        }
        for file in &args.files {
            let explained = baker.page_path(file).and_then(|page| baker.explain(&page));
            match explained {
                Ok(text) => print!("{text}"),
                Err(e) => return usage(e),
            }
        }
        return Exit::Success;
    }
    let reporter = reporter(&args.site);

    let manifest = args
        .manifest
        .clone()
        .or_else(|| config.manifest.as_ref().map(|m| root.join(m)));
    let stable_mtimes = args.stable_mtimes || config.stable_mtimes.unwrap_or(false);
    opts = opts
        .with_manifest(manifest.clone())
        .with_stable_mtimes(stable_mtimes)
        .with_force(args.force)
        .with_full(args.full)
        .with_fsync(!args.no_fsync);
    if let Some(n) = args.keep_builds.or(config.keep_builds) {
        if n == 0 {
            return usage("--keep-builds must be at least 1 (this build)");
        }
        opts = opts.with_keep_builds(n);
    }

    if let Some(jobs) = args.jobs {
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(jobs.max(1))
            .build_global();
    }

    let out = args
        .out
        .clone()
        .or_else(|| config.out.as_ref().map(|o| root.join(o)));
    if args.files.is_empty() {
        if args.in_place {
            return usage("--in-place needs the FILEs to rewrite");
        }
        let Some(out) = out else {
            return usage("nothing to do: give FILEs to render, or --out DIR (or `out` in ssibake.toml) to bake the tree");
        };
        return bake_tree(&baker, &out, &opts, &args, &reporter);
    }
    if args.out.is_some() {
        return usage("--out bakes the whole tree; give no FILE with it");
    }
    if !args.in_place && (args.manifest.is_some() || args.stable_mtimes) {
        return usage("--manifest and --stable-mtimes need --out DIR or --in-place");
    }

    let mut pages = Vec::with_capacity(args.files.len());
    for file in &args.files {
        match baker.page_path(file) {
            Ok(p) => pages.push(p),
            Err(e @ Error::Io { .. }) => {
                let _ = usage(e);
                return Exit::Io;
            }
            Err(e) => return usage(e),
        }
    }
    if args.in_place {
        if args.check {
            return usage("--check compares with an existing output; --in-place has none");
        }
        let progress = progress_bar(pages.len(), args.quiet);
        if let Some(bar) = &progress {
            let bar = bar.clone();
            opts = opts.with_progress(move || bar.inc(1));
        }
        // SIGINT/SIGTERM: remove the temporaries written beside the pages (once
        // the renames began, they end first) and end with the signal's status.
        on_interrupt(crate::bake::clean_up_in_place);
        let result = baker.bake_in_place(&pages, &opts);
        if let Some(bar) = progress {
            bar.finish_and_clear();
        }
        warn_versions(&baker);
        return match result {
            Ok(report) => {
                reporter.warnings(&report);
                reporter.summary(&report, 0, &report.summary(0));
                Exit::Success
            }
            Err(e) => reporter.bake_error(&e),
        };
    }

    if args.output.is_some() && pages.len() > 1 {
        return usage("--output takes one page; give one FILE");
    }
    let to_stdout = args.output.as_ref().map_or(true, |p| p.as_os_str() == "-");
    if args.check && to_stdout {
        return usage("--check needs the existing output: -o FILE or --out DIR");
    }
    let mut outputs = Vec::with_capacity(pages.len());
    let mut status = Exit::Success;
    let mut warned = false;
    for page in &pages {
        match baker.render(page) {
            Ok(r) => {
                if let Some(w) = &r.warnings {
                    reporter.template(w);
                    warned = true;
                }
                outputs.push(r.output)
            }
            Err(Error::Template(errors)) => {
                status = Exit::TemplateError;
                reporter.template(&errors);
            }
            Err(e) => {
                eprintln!("ssibake: error: {e}");
                if status == Exit::Success {
                    status = match e {
                        Error::Io { .. } | Error::Write { .. } => Exit::Io,
                        _ => Exit::Usage,
                    };
                }
            }
        }
    }
    warn_versions(&baker);
    if status != Exit::Success {
        return status;
    }
    if warned && (args.deny_warnings || config.deny_warnings.unwrap_or(false)) {
        eprintln!("ssibake: warnings denied (--deny-warnings): nothing was written");
        return Exit::TemplateError;
    }
    match &args.output {
        Some(path) if path.as_os_str() != "-" => {
            if args.check {
                return check_file(path, &outputs[0]);
            }
            if let Err(e) = write_atomically(path, &outputs[0]) {
                let _ = usage(format!("cannot write `{}`: {e}", path.display()));
                return Exit::Io;
            }
            Exit::Success
        }
        _ => print_stdout(&outputs.concat()),
    }
}

fn progress_bar(len: usize, quiet: bool) -> Option<indicatif::ProgressBar> {
    if quiet || !io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(len as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} pages {elapsed}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    Some(bar)
}

fn bake_tree(
    baker: &Baker,
    out: &Path,
    opts: &BakeOptions,
    args: &Args,
    reporter: &Reporter,
) -> Exit {
    // The page count (a plan of its own) only for a bar that is shown.
    let shown = !args.quiet && io::stderr().is_terminal();
    let total = if shown { count_pages(baker, opts) } else { 0 };
    let progress = progress_bar(total, args.quiet);
    let mut opts = opts.clone();
    if let Some(bar) = &progress {
        let bar = bar.clone();
        opts = opts.with_progress(move || bar.inc(1));
    }
    if args.check {
        let result = baker.check(out, &opts);
        if let Some(bar) = progress {
            bar.finish_and_clear();
        }
        warn_versions(baker);
        return match result {
            Ok((diffs, report)) => {
                reporter.warnings(&report);
                for d in &diffs {
                    reporter.difference(d);
                }
                let text = format!(
                    "checked: {}; {} file{} differ{}",
                    report.summary(0),
                    diffs.len(),
                    if diffs.len() == 1 { "" } else { "s" },
                    if diffs.len() == 1 { "s" } else { "" },
                );
                reporter.summary(&report, 0, &text);
                if diffs.is_empty() {
                    Exit::Success
                } else {
                    Exit::Differs
                }
            }
            Err(e) => reporter.bake_error(&e),
        };
    }
    // SIGINT/SIGTERM: remove the staging tree (the lock says it is ours) and end
    // with the signal's status, instead of leaving hundreds of megabytes behind.
    let staging_of = out.to_path_buf();
    on_interrupt(move || crate::bake::clean_up_interrupted(&staging_of));
    let result = baker.bake(out, &opts);
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    warn_versions(baker);
    match result {
        Ok(report) => {
            reporter.warnings(&report);
            reporter.summary(&report, 0, &report.summary(0));
            // The process ends here: freeing every page's record one by one would
            // cost a few percent of a large bake for nothing.
            std::mem::forget(report);
            Exit::Success
        }
        Err(e) => reporter.bake_error(&e),
    }
}

/// On SIGINT or SIGTERM, runs `clean_up` (on a thread of its own), then ends the
/// process with the signal's status (128 + its number).
fn on_interrupt(clean_up: impl FnOnce() -> usize + Send + 'static) {
    if let Ok(mut signals) = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
    ]) {
        std::thread::spawn(move || {
            if let Some(sig) = signals.forever().next() {
                clean_up();
                eprintln!("ssibake: interrupted; its temporary files are removed");
                std::process::exit(128 + sig);
            }
        });
    }
}

/// Files whose git time was unknown (`--mtime-from git`), one line each.
fn warn_versions(baker: &Baker) {
    for w in baker.version_warnings() {
        eprintln!("ssibake: warning: {w}");
    }
}

/// Pages in the tree, for the progress bar's length (0 when unknown).
fn count_pages(baker: &Baker, opts: &BakeOptions) -> usize {
    baker.count_pages(opts).unwrap_or(0)
}

/// `--check -o FILE`: compare one rendered page with its existing output.
fn check_file(path: &Path, fresh: &[u8]) -> Exit {
    match std::fs::read(path) {
        Ok(old) if old == fresh => {
            eprintln!("ssibake: {} is up to date", path.display());
            Exit::Success
        }
        Ok(old) => {
            let name = path.display().to_string();
            let diff = unified_diff(&name, &old, fresh);
            let text = if diff.starts_with("--- ") {
                diff
            } else {
                format!("{name}: {diff}\n")
            };
            let _ = print_stdout(text.as_bytes());
            Exit::Differs
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let _ = print_stdout(
                format!("{}: missing from the existing output\n", path.display()).as_bytes(),
            );
            Exit::Differs
        }
        Err(e) => {
            let _ = usage(format!("cannot read `{}`: {e}", path.display()));
            Exit::Io
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_definition_is_consistent() {
        Args::command().debug_assert();
    }

    #[test]
    fn exit_codes_are_stable() {
        assert_eq!(Exit::Success as u8, 0);
        assert_eq!(Exit::TemplateError as u8, 1);
        assert_eq!(Exit::Usage as u8, 2);
        assert_eq!(Exit::Io as u8, 3);
        assert_eq!(Exit::Differs as u8, 4);
    }
}
