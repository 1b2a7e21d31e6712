//! Strict-mode checks that do not depend on evaluation: every directive of a
//! template, in taken and untaken branches alike, must be one Apache knows, with
//! attributes it takes. Suggests the nearest name for a misspelling.

use ssibake_grammar::{Directive, Document, Malformed, Node, Span};

use crate::engine::diag::Code;
use crate::format::encoding;

/// A problem found without evaluating.
pub(crate) struct Finding {
    pub(crate) span: Span,
    pub(crate) code: Code,
    pub(crate) message: String,
    pub(crate) help: Option<String>,
}

/// The elements ssibake knows and the attributes each takes (`None`: any).
const ELEMENTS: &[(&str, Option<&[&str]>)] = &[
    (
        "config",
        Some(&["errmsg", "echomsg", "timefmt", "sizefmt", "hashlen"]),
    ),
    ("echo", Some(&["var", "encoding", "decoding"])),
    ("fsize", Some(&["file", "virtual"])),
    ("flastmod", Some(&["file", "virtual"])),
    ("include", Some(&["file", "virtual", "onerror"])),
    ("set", Some(&["var", "value", "encoding", "decoding"])),
    ("if", Some(&["expr"])),
    ("elif", Some(&["expr"])),
    ("else", Some(&[])),
    ("endif", Some(&[])),
    ("printenv", Some(&[])),
    ("comment", None),
    ("exec", Some(&["cmd", "cgi"])),
    ("fhash", Some(&["file", "virtual"])),
    ("frev", Some(&["file", "virtual"])),
];

/// ssibake's own elements, which Apache does not know (refused by `--apache-only`).
pub(crate) const EXTENSION_ELEMENTS: &[&str] = &["fhash", "frev"];

/// ssibake's own attributes of Apache elements (refused by `--apache-only`).
pub(crate) const EXTENSION_ATTRIBUTES: &[(&str, &str)] = &[("config", "hashlen")];

/// The longest `hashlen` (a SHA-256 has 64 hex digits).
pub(crate) const MAX_HASHLEN: usize = 64;

/// Parses a `hashlen` value: a decimal number from 1 to 64.
pub(crate) fn parse_hashlen(value: &[u8]) -> Option<usize> {
    let s = std::str::from_utf8(value).ok()?;
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<usize>()
        .ok()
        .filter(|n| (1..=MAX_HASHLEN).contains(n))
}

/// Elements that take attributes: `<!--include virtual=...` is a near miss of one.
const WITH_ATTRIBUTES: &[&str] = &[
    "config", "echo", "fsize", "flastmod", "include", "set", "if", "elif", "exec", "fhash", "frev",
];

/// Comments that look like directives but are not (`<!-- #include ...`,
/// `<!--include virtual=...`): Apache ships them as they are, which is rarely
/// what the author meant. Reported as warnings.
fn near_misses(source: &[u8], span: Span, out: &mut Vec<Finding>) {
    let text = &source[span.range()];
    for at in memchr::memmem::find_iter(text, b"<!--") {
        let rest = &text[at + 4..];
        let spaces = rest.iter().take_while(|b| b.is_ascii_whitespace()).count();
        let after = &rest[spaces..];
        let (hash, after) = match after.first() {
            Some(b'#') => (true, &after[1..]),
            _ => (false, after),
        };
        let len = after.iter().take_while(|b| b.is_ascii_alphabetic()).count();
        let name = after[..len].to_ascii_lowercase();
        let name = std::str::from_utf8(&name).unwrap_or("");
        let next = after.get(len).copied();
        let known = ELEMENTS.iter().any(|(n, _)| *n == name);
        let looks = if hash {
            // `<!-- #echo`: the space is the only mistake.
            known && !matches!(next, Some(b) if b.is_ascii_alphanumeric())
        } else {
            // `<!--include virtual="...": an element and an attribute, no `#`.
            WITH_ATTRIBUTES.contains(&name)
                && next.is_some_and(|b| b.is_ascii_whitespace())
                && after[len..]
                    .iter()
                    .skip_while(|b| b.is_ascii_whitespace())
                    .take_while(|b| b.is_ascii_alphabetic())
                    .count()
                    > 0
                && {
                    let tail = &after[len..];
                    let word = tail.iter().skip_while(|b| b.is_ascii_whitespace());
                    let word: Vec<u8> = word
                        .take_while(|b| b.is_ascii_alphabetic())
                        .copied()
                        .collect();
                    let end = tail
                        .iter()
                        .position(|&b| !b.is_ascii_whitespace())
                        .unwrap_or(0)
                        + word.len();
                    tail.get(end) == Some(&b'=')
                }
        };
        if !looks {
            continue;
        }
        let start = span.start + at;
        let end = start + 4 + spaces + usize::from(hash) + len;
        let (message, help) = if hash {
            (
                format!(
                    "`<!-- #{name}` is an HTML comment, not a directive: Apache ships it as it is"
                ),
                "write `<!--#` with no space between `--` and `#`".to_string(),
            )
        } else {
            (
                format!(
                    "`<!--{name}` is an HTML comment, not a directive: Apache ships it as it is"
                ),
                format!("a directive starts with `<!--#`: `<!--#{name}`"),
            )
        };
        out.push(Finding {
            span: Span::new(start, end),
            code: Code::NearMiss,
            message,
            help: Some(help),
        });
    }
}

/// The message for an extension element refused by `--apache-only`.
pub(crate) fn extension_refused(name: &str) -> String {
    format!("`#{name}` is a ssibake extension, not Apache; --apache-only refuses it")
}

/// The message for an extension attribute refused by `--apache-only`.
pub(crate) fn extension_attribute_refused(element: &str, attr: &str) -> String {
    format!("`{attr}` of `#{element}` is a ssibake extension, not Apache; --apache-only refuses it")
}

fn is_extension_attribute(element: &str, attr: &str) -> bool {
    EXTENSION_ATTRIBUTES
        .iter()
        .any(|(e, a)| *e == element && *a == attr)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Optimal-string-alignment distance (Levenshtein plus adjacent transpositions, so
/// `virutal` is one edit from `virtual`). Words here are a few bytes long, so the
/// quadratic table costs nothing.
fn distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

/// The closest candidate within a third of the word's length (at least one edit).
fn nearest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let len = word.chars().count();
    // No directive or attribute name is this long: nothing is near it (and a page of
    // 100,000 unknown directives must not spend its time here).
    if len > 32 {
        return None;
    }
    let limit = (len / 3).max(1);
    candidates
        // The length difference is a lower bound of the distance.
        .filter(|c| c.chars().count().abs_diff(len) <= limit)
        .map(|c| (distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// "did you mean `#flastmod`?" for an unknown directive name.
pub(crate) fn suggest_directive(name: &[u8]) -> Option<String> {
    thread_local! {
        // The last answer: a page repeats the same mistake (a thousand `#nosuch`).
        static LAST: std::cell::RefCell<Option<(Vec<u8>, Option<String>)>> =
            const { std::cell::RefCell::new(None) };
    }
    if let Some(hit) = LAST.with(|l| {
        l.borrow()
            .as_ref()
            .filter(|(n, _)| n == name)
            .map(|(_, s)| s.clone())
    }) {
        return hit;
    }
    let answer = nearest(
        &text(name),
        ELEMENTS.iter().map(|(n, _)| *n).filter(|n| *n != "exec"),
    )
    .map(|n| format!("did you mean `#{n}`?"));
    LAST.with(|l| *l.borrow_mut() = Some((name.to_vec(), answer.clone())));
    answer
}

/// "did you mean `virtual`?" for an unknown attribute of `directive`.
pub(crate) fn suggest_attribute(directive: &[u8], attr: &[u8]) -> Option<String> {
    let attrs = ELEMENTS
        .iter()
        .find(|(n, _)| n.as_bytes() == directive)?
        .1?;
    nearest(&text(attr), attrs.iter().copied()).map(|n| format!("did you mean `{n}`?"))
}

/// Checks every directive of `doc`; `apache_only` refuses ssibake's extensions.
pub(crate) fn check(doc: &Document<'_>, legacy_expr: bool, apache_only: bool) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut depth: Vec<Span> = Vec::new();
    for node in &doc.nodes {
        let Node::Directive(d) = node else {
            if let Node::Text(span) = node {
                near_misses(doc.source, *span, &mut out);
            }
            if let Node::Unterminated(span) = node {
                out.push(Finding {
                    span: *span,
                    code: Code::Syntax,
                    message: "directive is not closed before the end of the file".into(),
                    help: Some("close it with ` -->`".into()),
                });
            }
            continue;
        };
        if let Some(m) = d.malformed {
            out.push(malformed(d, m));
            continue;
        }
        directive(d, legacy_expr, apache_only, &mut out);
        match &d.name[..] {
            b"if" => depth.push(d.span),
            b"elif" | b"else" if depth.is_empty() => out.push(Finding {
                span: d.span,
                code: Code::Conditional,
                message: format!(
                    "`#{}` without `#if`: Apache hides everything up to the next `#endif`",
                    text(&d.name)
                ),
                help: None,
            }),
            b"endif" if depth.pop().is_none() => out.push(Finding {
                span: d.span,
                code: Code::Conditional,
                message: "`#endif` without `#if`".into(),
                help: None,
            }),
            _ => {}
        }
    }
    for span in depth {
        out.push(Finding {
            span,
            code: Code::UnclosedIf,
            message: "`#if` without `#endif`".into(),
            help: Some("add `<!--#endif -->` where the conditional part ends".into()),
        });
    }
    out
}

fn malformed(d: &Directive<'_>, m: Malformed) -> Finding {
    let (message, help) = match m {
        Malformed::EmptyName => (
            "directive has no name right after `<!--#`",
            Some("write the name right after `#`, as in `<!--#echo var=\"X\" -->`"),
        ),
        Malformed::ValueWithoutName(_) => (
            "attribute value has no name",
            Some("name the attribute, as in `var=\"...\"`"),
        ),
        Malformed::EmptyAttributeName(_) => ("attribute name is empty", None),
    };
    Finding {
        span: m.span(d),
        code: Code::Syntax,
        message: message.into(),
        help: help.map(Into::into),
    }
}

fn directive(d: &Directive<'_>, legacy_expr: bool, apache_only: bool, out: &mut Vec<Finding>) {
    let name = text(&d.name);
    if apache_only && EXTENSION_ELEMENTS.contains(&name.as_str()) {
        out.push(Finding {
            span: d.name.span,
            code: Code::UnknownDirective,
            message: extension_refused(&name),
            help: Some("drop --apache-only to use ssibake's extensions".into()),
        });
        return;
    }
    let Some((_, attrs)) = ELEMENTS.iter().find(|(n, _)| *n == name) else {
        out.push(Finding {
            span: d.name.span,
            code: Code::UnknownDirective,
            message: format!("unknown directive `#{name}`"),
            help: suggest_directive(&d.name),
        });
        return;
    };
    if name == "exec" {
        out.push(Finding {
            span: d.span,
            code: Code::ExecRefused,
            message: "`#exec` is refused: ssibake never runs commands (Apache's IncludesNOEXEC)"
                .into(),
            help: Some("run the command in the build and `#include` its output file".into()),
        });
        return;
    }
    let Some(attrs) = attrs else { return };
    for arg in &d.args {
        let attr = text(&arg.name);
        if apache_only && is_extension_attribute(&name, &attr) {
            out.push(Finding {
                span: arg.name.span,
                code: Code::UnknownAttribute,
                message: extension_attribute_refused(&name, &attr),
                help: Some("drop --apache-only to use ssibake's extensions".into()),
            });
            continue;
        }
        if !attrs.contains(&attr.as_str()) {
            out.push(Finding {
                span: arg.name.span,
                code: Code::UnknownAttribute,
                message: format!("unknown attribute `{attr}` for `#{name}`"),
                help: suggest_attribute(&d.name, &arg.name),
            });
            continue;
        }
        let Some(value) = arg.value_bytes() else {
            out.push(Finding {
                span: arg.span,
                code: Code::MissingAttribute,
                message: format!("attribute `{attr}` of `#{name}` has no value; Apache ignores it and everything after it"),
                help: Some(format!("write `{attr}=\"...\"`")),
            });
            continue;
        };
        let codings = attr == "encoding" || attr == "decoding";
        if codings && memchr::memchr(b'$', value).is_none() {
            let list = if name == "echo" {
                encoding::decode_html(value)
            } else {
                value.to_vec()
            };
            if let Err(token) = encoding::parse_codings(&list) {
                out.push(Finding {
                    span: arg.span,
                    code: Code::BadValue,
                    message: format!(
                        "unknown {attr} `{}` (expected none, url, urlencoded, entity or base64)",
                        text(&token)
                    ),
                    help: None,
                });
            }
        }
        if attr == "sizefmt"
            && memchr::memchr(b'$', value).is_none()
            && value != b"bytes"
            && value != b"abbrev"
        {
            out.push(Finding {
                span: arg.span,
                code: Code::BadValue,
                message: format!(
                    "unknown sizefmt `{}` (expected `bytes` or `abbrev`, lower-case)",
                    text(value)
                ),
                help: None,
            });
        }
        if attr == "hashlen"
            && memchr::memchr(b'$', value).is_none()
            && parse_hashlen(value).is_none()
        {
            out.push(Finding {
                span: arg.span,
                code: Code::BadValue,
                message: format!(
                    "hashlen `{}` is not a number from 1 to {MAX_HASHLEN}",
                    text(value)
                ),
                help: None,
            });
        }
        if attr == "expr" {
            if let Err(e) = crate::engine::condition::check_syntax(value, legacy_expr) {
                let vspan = arg.value.as_ref().map_or(arg.span, |v| v.span);
                out.push(Finding {
                    span: e
                        .span
                        .filter(|s| s.end <= vspan.len())
                        .map_or(vspan, |s| s.shift(vspan.start)),
                    code: Code::Expression,
                    message: e.message,
                    help: e.help,
                });
            }
        }
    }
    let needs = match name.as_str() {
        "echo" | "include" | "config" | "fsize" | "flastmod" | "fhash" | "frev" => 1,
        "set" => 2,
        "if" | "elif" => 1,
        _ => 0,
    };
    if d.args.len() < needs {
        let what = match name.as_str() {
            "echo" => "a `var` attribute",
            "include" | "fsize" | "flastmod" | "fhash" | "frev" => {
                "a `virtual` or `file` attribute"
            }
            "config" => "an attribute (timefmt, sizefmt, errmsg or echomsg)",
            "set" => "`var` and `value` attributes",
            _ => "an `expr` attribute",
        };
        out.push(Finding {
            span: d.span,
            code: Code::MissingAttribute,
            message: format!("`#{name}` needs {what}"),
            help: None,
        });
    }
    if matches!(name.as_str(), "if" | "elif") && d.args.len() > 1 {
        out.push(Finding {
            span: d.span,
            code: Code::MissingAttribute,
            message: format!("`#{name}` takes exactly one attribute, `expr`"),
            help: None,
        });
    }
    if name == "set" {
        let first_value = d.args.iter().position(|a| &a.name[..] == b"value");
        let first_var = d.args.iter().position(|a| &a.name[..] == b"var");
        if let Some(v) = first_value {
            if first_var.map_or(true, |var| var > v) {
                out.push(Finding {
                    span: d.args[v].span,
                    code: Code::MissingAttribute,
                    message: "`value` before `var` in `#set`".into(),
                    help: Some("put `var=\"...\"` first".into()),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warns_of_near_misses() {
        let codes = |src: &str| -> Vec<(usize, usize)> {
            let doc = ssibake_grammar::parse(src.as_bytes());
            check(&doc, false, false)
                .into_iter()
                .filter(|f| f.code == Code::NearMiss)
                .map(|f| (f.span.start, f.span.end))
                .collect()
        };
        assert_eq!(codes("a<!-- #include virtual=\"x\" -->"), [(1, 14)]);
        assert_eq!(codes("<!--  #echo var=\"x\" -->"), [(0, 11)]);
        assert_eq!(codes("<!--include virtual=\"/x\" -->"), [(0, 11)]);
        assert_eq!(codes("<!--INCLUDE file=\"x\" -->"), [(0, 11)]);
        // Ordinary comments are left alone.
        assert!(codes("<!-- include the header here -->").is_empty());
        assert!(codes("<!-- echo -->").is_empty());
        assert!(codes("<!-- comment -->").is_empty());
        assert!(codes("<!-- #section -->").is_empty());
        assert!(codes("<!--#echo var=\"x\" -->").is_empty());
    }

    #[test]
    fn suggests_near_names() {
        assert_eq!(
            suggest_directive(b"flastmode").as_deref(),
            Some("did you mean `#flastmod`?")
        );
        assert_eq!(
            suggest_directive(b"inclde").as_deref(),
            Some("did you mean `#include`?")
        );
        assert_eq!(suggest_directive(b"zzzz"), None);
        assert_eq!(
            suggest_attribute(b"include", b"virutal").as_deref(),
            Some("did you mean `virtual`?")
        );
    }

    #[test]
    fn finds_problems_in_untaken_branches_too() {
        let doc = ssibake_grammar::parse(
            b"<!--#if expr=\"false\" --><!--#ech var=\"x\" --><!--#endif -->",
        );
        let found = check(&doc, false, false);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].code, Code::UnknownDirective);
    }

    #[test]
    fn extensions_are_known_unless_apache_only() {
        let src = b"<!--#config hashlen=\"8\" --><!--#fhash virtual=\"/a.css\" --><!--#frev file=\"a.css\" -->";
        let doc = ssibake_grammar::parse(src);
        assert!(check(&doc, false, false).is_empty());
        let found = check(&doc, false, true);
        let codes: Vec<Code> = found.iter().map(|f| f.code).collect();
        assert_eq!(
            codes,
            [
                Code::UnknownAttribute,
                Code::UnknownDirective,
                Code::UnknownDirective
            ]
        );
        assert!(found[1].message.contains("ssibake extension"));
        let bad = ssibake_grammar::parse(b"<!--#config hashlen=\"0\" --><!--#fhash -->");
        let codes: Vec<Code> = check(&bad, false, false).iter().map(|f| f.code).collect();
        assert_eq!(codes, [Code::BadValue, Code::MissingAttribute]);
        assert_eq!(parse_hashlen(b"64"), Some(64));
        assert_eq!(parse_hashlen(b"65"), None);
        assert_eq!(parse_hashlen(b"+3"), None);
    }
}
