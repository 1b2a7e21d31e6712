//! Diagnostics: what went wrong in a template, where, and how to show it to a
//! person (`path:line:col`, the source line, carets) or to a tool (JSON).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ssibake_grammar::{LineIndex, Span};

use crate::site::resolve::SitePath;

/// A stable identifier for every kind of template error. The strings never change
/// once released; the README lists them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Code {
    /// A directive that does not parse (unterminated, no name, value without name).
    Syntax,
    /// An element name Apache does not know.
    UnknownDirective,
    /// An attribute the element does not take.
    UnknownAttribute,
    /// A required attribute is missing, or an attribute has no value.
    MissingAttribute,
    /// An attribute value the element does not accept (`sizefmt="BYTES"`, an
    /// unknown encoding).
    BadValue,
    /// A `file`/`virtual` target that does not exist.
    NotFound,
    /// A path that leaves the document root (`..`, absolute `file`, a symlink).
    OutsideRoot,
    /// An include that includes itself, directly or not.
    IncludeCycle,
    /// Includes nested deeper than Apache's limit of 10.
    IncludeDepth,
    /// `#exec`, which ssibake refuses as Apache does under `IncludesNOEXEC`.
    ExecRefused,
    /// An `#if`/`#elif` expression that does not parse or evaluate.
    Expression,
    /// An included file whose type is not `text/*` (refused under `IncludesNOEXEC`).
    NotText,
    /// `#else`, `#elif` or `#endif` misplaced or with attributes.
    Conditional,
    /// `#if` without `#endif` at the end of the document.
    UnclosedIf,
    /// A `${` without its `}` (Apache drops the rest of the value).
    Substitution,
    /// A file that exists but cannot be read.
    Io,
    /// An element that cannot give Apache's output at deploy time (`#printenv`).
    Unsupported,
    /// `#echo` of a variable nobody defined, which Apache prints as `(none)`
    /// (strict mode only; `#config echomsg` accepts it).
    UndefinedVariable,
    /// A file without a git time under `--strict-git` (untracked, modified, or
    /// older than a shallow clone's history).
    NotInGit,
    /// A page that needs more than ssibake allows (a million directives, 256 MiB
    /// of output, a 16 MiB variable), in every error mode.
    Limit,
    /// A `.htaccess` or `--apache-conf` line ssibake cannot read, or one Apache
    /// refuses in that place (it answers 500 for the whole directory).
    Config,
    /// A warning: an included file that is not a template holds SSI directives,
    /// which are shipped as they are (Apache does the same).
    RawDirective,
    /// A warning: a comment that looks like a directive but is not one
    /// (`<!-- #include`, `<!--include`), shipped as it is.
    NearMiss,
}

impl Code {
    /// The stable string form, as printed in JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Syntax => "syntax",
            Code::UnknownDirective => "unknown-directive",
            Code::UnknownAttribute => "unknown-attribute",
            Code::MissingAttribute => "missing-attribute",
            Code::BadValue => "bad-value",
            Code::NotFound => "not-found",
            Code::OutsideRoot => "outside-root",
            Code::IncludeCycle => "include-cycle",
            Code::IncludeDepth => "include-depth",
            Code::ExecRefused => "exec-refused",
            Code::Expression => "expression",
            Code::NotText => "not-text",
            Code::Conditional => "conditional",
            Code::UnclosedIf => "unclosed-if",
            Code::Substitution => "substitution",
            Code::Io => "io",
            Code::Unsupported => "unsupported",
            Code::UndefinedVariable => "undefined-variable",
            Code::NotInGit => "not-in-git",
            Code::Limit => "limit",
            Code::Config => "config",
            Code::RawDirective => "raw-directive",
            Code::NearMiss => "near-miss",
        }
    }

    /// Every code, for documentation and tests.
    pub const ALL: [Code; 23] = [
        Code::Syntax,
        Code::UnknownDirective,
        Code::UnknownAttribute,
        Code::MissingAttribute,
        Code::BadValue,
        Code::NotFound,
        Code::OutsideRoot,
        Code::IncludeCycle,
        Code::IncludeDepth,
        Code::ExecRefused,
        Code::Expression,
        Code::NotText,
        Code::Conditional,
        Code::UnclosedIf,
        Code::Substitution,
        Code::Io,
        Code::Unsupported,
        Code::UndefinedVariable,
        Code::NotInGit,
        Code::Limit,
        Code::Config,
        Code::RawDirective,
        Code::NearMiss,
    ];
}

/// How bad a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Severity {
    /// The page is not written (strict mode).
    Error,
    /// The page is written, but probably not as meant: Apache's error text shipped
    /// in `errmsg` mode, a directive in a file included raw, a comment that looks
    /// like a directive. `--deny-warnings` makes these fail the run.
    Warning,
}

impl Severity {
    /// `error` or `warning`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// A place in a template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// The template, relative to the document root.
    pub file: SitePath,
    /// Byte span in that file.
    pub span: Span,
}

/// One error found in a template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Stable error code.
    pub code: Code,
    /// One sentence, lower-case start, no final period.
    pub message: String,
    /// Where.
    pub location: Location,
    /// A suggested fix, when there is an obvious one.
    pub help: Option<String>,
    /// The include chain that led here, innermost first.
    pub included_from: Vec<Location>,
}

/// The bytes of every template a rendering read, to show source lines.
#[derive(Clone, Debug, Default)]
pub struct Sources {
    files: HashMap<SitePath, Source>,
}

/// One file's bytes and, once a diagnostic needs it, its line index (built once, not
/// once per diagnostic).
#[derive(Clone, Debug)]
struct Source {
    bytes: Arc<[u8]>,
    index: std::sync::OnceLock<Arc<LineIndex>>,
}

impl Sources {
    pub(crate) fn insert(&mut self, path: SitePath, bytes: Arc<[u8]>) {
        self.files.insert(
            path,
            Source {
                bytes,
                index: std::sync::OnceLock::new(),
            },
        );
    }

    /// The bytes of `path`, if it was read.
    pub fn get(&self, path: &SitePath) -> Option<&[u8]> {
        self.files.get(path).map(|s| &s.bytes[..])
    }

    /// The bytes of `path` and its line index.
    fn indexed(&self, path: &SitePath) -> Option<(&[u8], &LineIndex)> {
        let s = self.files.get(path)?;
        let index = s.index.get_or_init(|| Arc::new(LineIndex::new(&s.bytes)));
        Some((&s.bytes[..], index))
    }
}

/// How to show paths and whether to colour.
#[derive(Clone, Debug, Default)]
pub struct RenderOptions {
    /// Prefix for displayed paths (the root as the user gave it).
    pub root: PathBuf,
    /// ANSI colours.
    pub color: bool,
}

fn display_path(root: &Path, file: &SitePath) -> String {
    let joined = root.join(file.to_path());
    let s = joined.to_string_lossy().into_owned();
    s.strip_prefix("./").map(str::to_owned).unwrap_or(s)
}

/// Makes control characters in user-provided text visible, so that a file name or
/// a directive cannot drive the terminal.
fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() && c != '\t' {
                format!("\\u{{{:x}}}", c as u32)
            } else {
                c.to_string()
            }
        })
        .collect()
}

impl Diagnostic {
    /// `path:line:col`, 1-based, for the primary location.
    pub fn position(&self, sources: &Sources) -> (usize, usize) {
        match sources.indexed(&self.location.file) {
            Some((_, index)) => index.line_col(self.location.span.start),
            None => (1, 1),
        }
    }

    /// The human form: `path:line:col: error: message`, then the source line with
    /// carets under the directive, then help and include notes.
    pub fn render(&self, sources: &Sources, opts: &RenderOptions) -> String {
        let (bold, red, blue, reset) = match (opts.color, self.severity) {
            (false, _) => ("", "", "", ""),
            (true, Severity::Error) => ("\x1b[1m", "\x1b[1;31m", "\x1b[1;34m", "\x1b[0m"),
            (true, Severity::Warning) => ("\x1b[1m", "\x1b[1;33m", "\x1b[1;34m", "\x1b[0m"),
        };
        let mut out = String::new();
        let path = sanitize(&display_path(&opts.root, &self.location.file));
        let (line, col) = self.position(sources);
        let _ = writeln!(
            out,
            "{bold}{path}:{line}:{col}: {red}{}{reset}{bold}: {}{reset}",
            self.severity.as_str(),
            sanitize(&self.message)
        );
        if let Some((src, index)) = sources.indexed(&self.location.file) {
            let full = index.line_range(src, line);
            // A long line is shown around the span only, so that a page of one huge
            // line with many errors does not print that line once per error.
            let start = self.location.span.start.clamp(full.start, full.end);
            let range = clip(src, full.clone(), start, self.location.span.end);
            let text = String::from_utf8_lossy(&src[range.clone()]);
            let gutter = line.to_string().len();
            let pad = " ".repeat(gutter);
            // Carets from the column to the end of the span, clipped to this line.
            let span_end = self
                .location
                .span
                .end
                .min(range.end)
                .max(self.location.span.start + 1);
            let prefix =
                String::from_utf8_lossy(&src[range.start..self.location.span.start.min(range.end)]);
            let underline = String::from_utf8_lossy(
                &src[self.location.span.start.min(range.end)..span_end.min(range.end)],
            );
            let offset = prefix.chars().count();
            let width = underline.chars().count().max(1);
            let _ = writeln!(out, "{blue}{pad} |{reset}");
            let _ = writeln!(out, "{blue}{line} |{reset} {}", sanitize(&text));
            let _ = writeln!(
                out,
                "{blue}{pad} |{reset} {}{red}{}{reset}",
                " ".repeat(offset),
                "^".repeat(width)
            );
            if let Some(help) = &self.help {
                let _ = writeln!(
                    out,
                    "{blue}{pad} = {reset}{bold}help{reset}: {}",
                    sanitize(help)
                );
            }
            for from in &self.included_from {
                let (l, c) = sources
                    .indexed(&from.file)
                    .map_or((1, 1), |(_, i)| i.line_col(from.span.start));
                let _ = writeln!(
                    out,
                    "{blue}{pad} = {reset}{bold}note{reset}: included from {}:{l}:{c}",
                    sanitize(&display_path(&opts.root, &from.file))
                );
            }
        } else if let Some(help) = &self.help {
            let _ = writeln!(out, "  = help: {}", sanitize(help));
        }
        out
    }

    /// One JSON object (no trailing newline): `"type":"diagnostic"`, file, line,
    /// column, byte span, severity, code, message, help, and the include chain
    /// (`included_from`, innermost first, each with file, line and column).
    pub fn to_json(&self, sources: &Sources, opts: &RenderOptions) -> String {
        self.to_json_with(sources, opts, "")
    }

    /// [`Self::to_json`] with `extra` (`,"key":value...`) before the closing brace.
    pub fn to_json_with(&self, sources: &Sources, opts: &RenderOptions, extra: &str) -> String {
        let (line, col) = self.position(sources);
        let mut out = String::from("{");
        let _ = write!(
            out,
            "\"type\":\"diagnostic\",\"file\":{},\"line\":{line},\"column\":{col},\"span\":{{\"start\":{},\"end\":{}}},\"severity\":\"{}\",\"code\":\"{}\",\"message\":{}",
            json_string(&display_path(&opts.root, &self.location.file)),
            self.location.span.start,
            self.location.span.end,
            self.severity.as_str(),
            self.code.as_str(),
            json_string(&self.message),
        );
        if let Some(help) = &self.help {
            let _ = write!(out, ",\"help\":{}", json_string(help));
        }
        out.push_str(",\"included_from\":[");
        for (i, from) in self.included_from.iter().enumerate() {
            let (l, c) = sources
                .indexed(&from.file)
                .map_or((1, 1), |(_, ix)| ix.line_col(from.span.start));
            let _ = write!(
                out,
                "{}{{\"file\":{},\"line\":{l},\"column\":{c}}}",
                if i == 0 { "" } else { "," },
                json_string(&display_path(&opts.root, &from.file)),
            );
        }
        out.push(']');
        out.push_str(extra);
        out.push('}');
        out
    }
}

/// The part of `line` to show for a span starting at `start`: at most 80 bytes before
/// it and 160 after, widened to UTF-8 character boundaries.
fn clip(
    src: &[u8],
    line: std::ops::Range<usize>,
    start: usize,
    end: usize,
) -> std::ops::Range<usize> {
    const BEFORE: usize = 80;
    const AFTER: usize = 160;
    let is_boundary = |i: usize| i >= src.len() || (src[i] & 0xC0) != 0x80;
    let mut from = start.saturating_sub(BEFORE).max(line.start);
    while from > line.start && !is_boundary(from) {
        from -= 1;
    }
    let mut to = end.max(start + 1).saturating_add(AFTER).min(line.end);
    while to < line.end && !is_boundary(to) {
        to += 1;
    }
    from..to.max(from)
}

/// A JSON string literal.
pub(crate) fn json_string(s: &str) -> String {
    // Most strings (paths, messages) need no escape: one copy.
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        let mut out = String::with_capacity(s.len() + 2);
        out.push('"');
        out.push_str(s);
        out.push('"');
        return out;
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_position_line_and_carets() {
        let mut sources = Sources::default();
        let file = SitePath::from_relative(b"index.shtml").unwrap();
        sources.insert(
            file.clone(),
            Arc::from(&b"<p>\n  x<!--#flastmode virtual=\"/a\" -->\n"[..]),
        );
        let d = Diagnostic {
            severity: Severity::Error,
            code: Code::UnknownDirective,
            message: "unknown directive `flastmode`".into(),
            location: Location {
                file,
                span: Span::new(7, 38),
            },
            help: Some("did you mean `flastmod`?".into()),
            included_from: vec![],
        };
        let text = d.render(
            &sources,
            &RenderOptions {
                root: "site".into(),
                color: false,
            },
        );
        assert_eq!(
            text,
            "site/index.shtml:2:4: error: unknown directive `flastmode`\n  |\n2 |   x<!--#flastmode virtual=\"/a\" -->\n  |    ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n  = help: did you mean `flastmod`?\n"
        );
        let json = d.to_json(
            &sources,
            &RenderOptions {
                root: "site".into(),
                color: false,
            },
        );
        assert!(json.contains("\"line\":2,\"column\":4"), "{json}");
        assert!(json.contains("\"code\":\"unknown-directive\""), "{json}");
    }

    #[test]
    fn every_code_is_in_the_readme_table() {
        let readme = include_str!("../../README.md");
        for c in Code::ALL {
            let row = format!("\n| `{}` | ", c.as_str());
            assert!(
                readme.contains(&row),
                "README's error table lacks `{}`",
                c.as_str()
            );
        }
    }

    #[test]
    fn codes_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for c in Code::ALL {
            assert!(seen.insert(c.as_str()));
        }
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(sanitize("a\x1b[31mb"), "a\\u{1b}[31mb");
    }
}
