//! Apache's configuration syntax, as `server/util.c` (`ap_cfg_getline`,
//! `ap_getword_conf`) and `server/config.c` (`ap_build_config`) read it: logical lines
//! (a `\` right before the newline joins the next line), leading and trailing
//! white space dropped, lines starting with `#` skipped, a directive name and its raw
//! arguments, containers `<Name args>` … `</Name>` nested by name. No meaning yet.

/// One logical line: a directive, or the opening line of a container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Line {
    /// The physical line it starts on (1-based).
    pub(crate) line: usize,
    /// The logical line as written (continuations joined, trimmed), for messages.
    pub(crate) text: String,
    /// The name as written: `Options`, `<Files` (a container keeps its `<`).
    pub(crate) name: Vec<u8>,
    /// Everything after the name, trimmed (a container's closing `>` still there).
    pub(crate) args: Vec<u8>,
}

impl Line {
    /// The name lower-cased, without a container's `<`.
    pub(crate) fn key(&self) -> String {
        String::from_utf8_lossy(self.name.strip_prefix(b"<").unwrap_or(&self.name))
            .to_ascii_lowercase()
    }

    /// The name for messages (`Options`, `<Files>`).
    pub(crate) fn display_name(&self) -> String {
        let name = String::from_utf8_lossy(&self.name).into_owned();
        if self.name.starts_with(b"<") {
            format!("{name}>")
        } else {
            name
        }
    }

    /// The arguments split as `ap_getword_conf` splits them.
    pub(crate) fn words(&self) -> Vec<Vec<u8>> {
        words(&self.args)
    }
}

/// A parsed configuration file: directives and containers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Node {
    Directive(Line),
    Section { open: Line, children: Vec<Node> },
}

impl Node {
    pub(crate) fn line(&self) -> &Line {
        match self {
            Node::Directive(l) => l,
            Node::Section { open, .. } => open,
        }
    }
}

/// A line that does not parse: where, what, why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub(crate) line: usize,
    pub(crate) text: String,
    pub(crate) message: String,
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if !is_space(*first) {
            break;
        }
        s = rest;
    }
    while let [rest @ .., last] = s {
        if !is_space(*last) {
            break;
        }
        s = rest;
    }
    s
}

/// The logical lines of `text` with the number of the physical line each starts on.
fn logical_lines(text: &[u8]) -> Vec<(usize, Vec<u8>)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, Vec<u8>)> = None;
    let mut physical = text.split(|&b| b == b'\n').peekable();
    let mut number = 0;
    while let Some(line) = physical.next() {
        number += 1;
        if physical.peek().is_none() && line.is_empty() {
            break;
        }
        let has_newline = physical.peek().is_some();
        let body = line.strip_suffix(b"\r").unwrap_or(line);
        let (start, buf) = current.get_or_insert_with(|| (number, Vec::new()));
        // `[^\\]\\[\r]\n`: a backslash right before the newline continues the line.
        if has_newline && body.ends_with(b"\\") {
            buf.extend_from_slice(&body[..body.len() - 1]);
            let _ = start;
            continue;
        }
        buf.extend_from_slice(body);
        out.push(current.take().expect("current line"));
    }
    if let Some(rest) = current {
        out.push(rest);
    }
    out
}

/// `ap_getword_conf`: the next word, quoted (`"…"` or `'…'`, where `\` escapes the
/// quote and itself) or up to white space.
fn next_word(s: &[u8]) -> Option<(Vec<u8>, &[u8])> {
    let s = trim(s);
    let (&first, _) = s.split_first()?;
    let (raw, rest, quote) = if first == b'"' || first == b'\'' {
        let mut end = 1;
        while end < s.len() && s[end] != first {
            if s[end] == b'\\' && end + 1 < s.len() && (s[end + 1] == first || s[end + 1] == b'\\')
            {
                end += 2;
            } else {
                end += 1;
            }
        }
        let rest = if end < s.len() {
            &s[end + 1..]
        } else {
            &s[end..]
        };
        (&s[1..end.min(s.len())], rest, Some(first))
    } else {
        let end = s.iter().position(|&b| is_space(b)).unwrap_or(s.len());
        (&s[..end], &s[end..], None)
    };
    let mut word = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'\\'
            && i + 1 < raw.len()
            && (raw[i + 1] == b'\\' || quote.is_some_and(|q| raw[i + 1] == q))
        {
            i += 1;
        }
        word.push(raw[i]);
        i += 1;
    }
    Some((word, rest))
}

/// Every word of an argument string, as `ap_getword_conf` reads them one by one.
pub(crate) fn words(mut s: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while let Some((word, rest)) = next_word(s) {
        out.push(word);
        s = rest;
    }
    out
}

/// A container's argument: the raw arguments without the closing `>`
/// (`"p.html">` → `"p.html"`), `None` when the `>` is missing.
pub(crate) fn section_args(open: &Line) -> Option<Vec<u8>> {
    if open.name.ends_with(b">") {
        return Some(Vec::new());
    }
    let args = trim(&open.args);
    args.strip_suffix(b">").map(|a| trim(a).to_vec())
}

/// Parses a whole file into directives and containers.
pub(crate) fn parse(text: &[u8]) -> Result<Vec<Node>, SyntaxError> {
    // Each open container: its line and the children gathered so far.
    let mut stack: Vec<(Line, Vec<Node>)> = Vec::new();
    let mut top: Vec<Node> = Vec::new();
    for (number, raw) in logical_lines(text) {
        let line = trim(&raw);
        if line.is_empty() || line.starts_with(b"#") {
            continue;
        }
        let end = line.iter().position(|&b| is_space(b)).unwrap_or(line.len());
        let entry = Line {
            line: number,
            text: String::from_utf8_lossy(line).into_owned(),
            name: line[..end].to_vec(),
            args: trim(&line[end..]).to_vec(),
        };
        if let Some(closing) = entry.name.strip_prefix(b"</") {
            let closing = closing.strip_suffix(b">").unwrap_or(closing).to_vec();
            let shown = String::from_utf8_lossy(&closing).into_owned();
            let Some((open, children)) = stack.pop() else {
                return Err(SyntaxError {
                    line: number,
                    text: entry.text,
                    message: format!("</{shown}> without matching <{shown}> section"),
                });
            };
            let opened = &open.name[1..];
            let opened = opened.strip_suffix(b">").unwrap_or(opened);
            if !opened.eq_ignore_ascii_case(&closing) {
                return Err(SyntaxError {
                    line: number,
                    text: entry.text,
                    message: format!(
                        "Expected </{}> but saw </{shown}>",
                        String::from_utf8_lossy(opened)
                    ),
                });
            }
            let node = Node::Section { open, children };
            match stack.last_mut() {
                Some((_, siblings)) => siblings.push(node),
                None => top.push(node),
            }
            continue;
        }
        if entry.name.starts_with(b"<") {
            if section_args(&entry).is_none() {
                return Err(SyntaxError {
                    line: number,
                    message: format!("{} directive missing closing '>'", entry.display_name()),
                    text: entry.text,
                });
            }
            let mut entry = entry;
            if let Some(stripped) = entry.name.strip_suffix(b">") {
                entry.name = stripped.to_vec();
            }
            stack.push((entry, Vec::new()));
            continue;
        }
        let node = Node::Directive(entry);
        match stack.last_mut() {
            Some((_, siblings)) => siblings.push(node),
            None => top.push(node),
        }
    }
    if let Some((open, _)) = stack.pop() {
        return Err(SyntaxError {
            line: open.line,
            message: format!("{} was not closed.", open.display_name()),
            text: open.text,
        });
    }
    Ok(top)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<String> {
        words(s.as_bytes())
            .into_iter()
            .map(|w| String::from_utf8(w).unwrap())
            .collect()
    }

    #[test]
    fn words_follow_ap_getword_conf() {
        assert_eq!(
            w(r#"  a "b c"  'd e' f\g "h\"i" 'j\\k' "#),
            ["a", "b c", "d e", r"f\g", "h\"i", r"j\k"]
        );
        assert_eq!(w(r#""unterminated rest"#), ["unterminated rest"]);
        assert_eq!(w(r#""""#), [""]);
        assert!(w("   ").is_empty());
    }

    #[test]
    fn continuation_comments_and_containers() {
        let text = b"# comment\n  Options +Includes \\\n+FollowSymLinks\n\n<Files \"a b\">\n  XBitHack on\r\n</files>\n";
        let nodes = parse(text).unwrap();
        assert_eq!(nodes.len(), 2);
        let Node::Directive(opt) = &nodes[0] else {
            panic!()
        };
        assert_eq!(opt.line, 2);
        assert_eq!(opt.key(), "options");
        assert_eq!(
            opt.words(),
            [b"+Includes".to_vec(), b"+FollowSymLinks".to_vec()]
        );
        let Node::Section { open, children } = &nodes[1] else {
            panic!()
        };
        assert_eq!(open.key(), "files");
        assert_eq!(section_args(open).unwrap(), b"\"a b\"");
        assert_eq!(children.len(), 1);
        assert_eq!(children[0].line().line, 6);
    }

    #[test]
    fn a_backslash_before_white_space_does_not_continue() {
        let nodes = parse(b"SSIErrorMsg x\\ \nXBitHack on\n").unwrap();
        assert_eq!(nodes.len(), 2);
    }

    #[test]
    fn unbalanced_containers_are_errors_with_their_line() {
        let e = parse(b"<Files x>\nXBitHack on\n").unwrap_err();
        assert_eq!((e.line, e.message.as_str()), (1, "<Files> was not closed."));
        let e = parse(b"XBitHack on\n</Files>\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert_eq!(e.text, "</Files>");
        let e = parse(b"<Files x>\n</FilesMatch>\n").unwrap_err();
        assert_eq!(e.message, "Expected </Files> but saw </FilesMatch>");
        let e = parse(b"<Files x\n</Files>\n").unwrap_err();
        assert_eq!(e.message, "<Files> directive missing closing '>'");
        assert!(parse(b"<IfModule>\n</IfModule>\n").is_ok());
    }
}
