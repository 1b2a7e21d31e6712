//! The nom parser for `directive.peg`: one function per grammar rule.
//!
//! Parsing is total: every input gives a [`Document`]. Malformed directives are
//! kept as nodes carrying a [`Malformed`] mark, because Apache renders them as an
//! error message in place and goes on, and ssibake's `errmsg` mode must do the same.

use std::borrow::Cow;

use memchr::memmem;
use nom::bytes::complete::{tag, take_till, take_while};
use nom::{IResult, Parser};

use crate::ast::{Arg, Directive, Document, Malformed, Node};
use crate::span::{Span, Spanned};

/// `START` in the grammar (Apache's default `SSIStartTag`).
pub const START: &[u8] = b"<!--#";
/// `END` in the grammar (Apache's default `SSIEndTag`).
pub const END: &[u8] = b"-->";

/// The `START` and `END` of the grammar: Apache's `SSIStartTag` and `SSIEndTag`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tags<'t> {
    /// `START`; never empty.
    pub start: &'t [u8],
    /// `END`; never empty.
    pub end: &'t [u8],
}

impl Tags<'static> {
    /// `<!--#` and `-->`.
    pub const DEFAULT: Tags<'static> = Tags {
        start: START,
        end: END,
    };
}

impl Default for Tags<'static> {
    fn default() -> Self {
        Tags::DEFAULT
    }
}

/// C `isspace` in the C locale, as Apache's `apr_isspace`.
pub fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn is_quote(b: u8) -> bool {
    matches!(b, b'"' | b'\'' | b'`')
}

/// Parses a whole document (`document` in the grammar) with the default tags.
pub fn parse(source: &[u8]) -> Document<'_> {
    parse_with(source, Tags::DEFAULT)
}

/// Parses a whole document with `tags` as `START` and `END` (an empty tag is taken
/// as the default one: Apache refuses an empty `SSIStartTag`/`SSIEndTag`).
pub fn parse_with<'a>(source: &'a [u8], tags: Tags<'_>) -> Document<'a> {
    let tags = Tags {
        start: if tags.start.is_empty() {
            START
        } else {
            tags.start
        },
        end: if tags.end.is_empty() { END } else { tags.end },
    };
    let finder = memmem::Finder::new(tags.start);
    // One SIMD pass to count the candidates sizes the node list exactly (a text run and a
    // directive each) instead of growing it by doubling: the copies and the fresh pages
    // of each doubling were most of the time on pages dense with directives.
    let candidates = finder.find_iter(source).count();
    let mut nodes = Vec::with_capacity(2 * candidates + 1);
    // Attributes are gathered here and copied into each directive's own exact-size list.
    let mut scratch = Vec::new();
    let mut pos = 0;
    // `text`: jump straight to the next `<!--#`; everything before it is one text node.
    while let Some(found) = finder.find(&source[pos..]) {
        let start = pos + found;
        if start > pos {
            nodes.push(Node::Text(Span::new(pos, start)));
        }
        match directive(source, start, tags, &mut scratch) {
            Some((d, end)) => {
                nodes.push(Node::Directive(d));
                pos = end;
            }
            None => {
                nodes.push(Node::Unterminated(Span::new(start, source.len())));
                return Document { source, nodes };
            }
        }
    }
    if pos < source.len() {
        nodes.push(Node::Text(Span::new(pos, source.len())));
    }
    Document { source, nodes }
}

/// The offset of `rest` inside `source` (both slices of the same input).
fn offset(source: &[u8], rest: &[u8]) -> usize {
    source.len() - rest.len()
}

/// `directive <- START name (END / space args)`, starting at `start` (the `<`).
/// Returns the directive and the offset just past it, or `None` when the input
/// ends first.
fn directive<'a>(
    source: &'a [u8],
    start: usize,
    tags: Tags<'_>,
    scratch: &mut Vec<Arg<'a>>,
) -> Option<(Directive<'a>, usize)> {
    let input = &source[start + tags.start.len()..];
    let (rest, name_bytes) = name(input, tags.end);
    let name_start = start + tags.start.len();
    let name = Spanned::new(
        lowercase(name_bytes),
        Span::new(name_start, name_start + name_bytes.len()),
    );
    let mut malformed = name_bytes.is_empty().then_some(Malformed::EmptyName);
    scratch.clear();

    let rest = match end(rest, tags.end) {
        Ok((rest, _)) => rest,
        // The name stopped at a space (or at the end of the input).
        Err(_) => {
            if rest.is_empty() {
                return None;
            }
            args_loop(source, rest, tags.end, scratch, &mut malformed)?
        }
    };
    let end_at = offset(source, rest);
    // An exact-size list of its own; the scratch list keeps its capacity for the
    // next directive (`mem::take` would hand over the big buffer and lose it).
    #[allow(clippy::drain_collect)]
    let args = scratch.drain(..).collect();
    Some((
        Directive {
            span: Span::new(start, end_at),
            name,
            args,
            malformed,
        },
        end_at,
    ))
}

/// `END`.
fn end<'a>(input: &'a [u8], end_tag: &[u8]) -> IResult<&'a [u8], &'a [u8]> {
    tag(end_tag).parse(input)
}

/// `space*`.
fn spaces(input: &[u8]) -> IResult<&[u8], &[u8]> {
    take_while(is_space).parse(input)
}

/// `name <- (!END !space .)*`; returns the rest and the name.
fn name<'a>(input: &'a [u8], end_tag: &[u8]) -> (&'a [u8], &'a [u8]) {
    let first = end_tag[0];
    let mut i = 0;
    while i < input.len() && !is_space(input[i]) {
        if input[i] == first && input[i..].starts_with(end_tag) {
            break;
        }
        i += 1;
    }
    (&input[i..], &input[..i])
}

/// `args <- space* (END / arg args)`, iterated. Returns the input after `END`.
fn args_loop<'a>(
    source: &'a [u8],
    mut input: &'a [u8],
    end_tag: &[u8],
    args: &mut Vec<Arg<'a>>,
    malformed: &mut Option<Malformed>,
) -> Option<&'a [u8]> {
    loop {
        let (rest, _) = spaces(input).ok()?;
        if rest.is_empty() {
            return None;
        }
        if let Ok((rest, _)) = end(rest, end_tag) {
            return Some(rest);
        }
        let (rest, a) = arg(source, rest)?;
        if malformed.is_none() && a.name.is_empty() {
            // A name-less value starts with its quote; an empty name precedes `=`.
            *malformed = Some(
                if a.quote.is_some()
                    && a.span.start == a.value.as_ref().map_or(0, |v| v.span.start - 1)
                {
                    Malformed::ValueWithoutName(a.span)
                } else {
                    Malformed::EmptyAttributeName(a.span)
                },
            );
        }
        args.push(a);
        input = rest;
    }
}

/// `arg <- quoted / arg_name space* ("=" space* value)?`
fn arg<'a>(source: &'a [u8], input: &'a [u8]) -> Option<(&'a [u8], Arg<'a>)> {
    let start = offset(source, input);
    if is_quote(input[0]) {
        // A value without a name (AH01369).
        let (rest, value, quote) = quoted(source, input)?;
        let arg = Arg {
            span: Span::new(start, offset(source, rest)),
            name: Spanned::new(Cow::Borrowed(&b""[..]), Span::new(start, start)),
            value: Some(value),
            quote: Some(quote),
        };
        return Some((rest, arg));
    }
    let (rest, name_bytes) = arg_name(input).ok()?;
    let name = Spanned::new(
        lowercase(name_bytes),
        Span::new(start, start + name_bytes.len()),
    );
    let (after_space, _) = spaces(rest).ok()?;
    if after_space.is_empty() {
        return None;
    }
    let Ok((after_eq, _)) = tag::<_, _, nom::error::Error<&[u8]>>("=").parse(after_space) else {
        // A value-less attribute; the next byte starts whatever comes next.
        let arg = Arg {
            span: name.span,
            name,
            value: None,
            quote: None,
        };
        return Some((after_space, arg));
    };
    let (value_input, _) = spaces(after_eq).ok()?;
    if value_input.is_empty() {
        return None;
    }
    let (rest, value, quote) = value(source, value_input)?;
    let value_end = match quote {
        Some(_) => offset(source, rest),
        None => value.span.end,
    };
    let arg = Arg {
        span: Span::new(start, value_end),
        name,
        value: Some(value),
        quote,
    };
    Some((rest, arg))
}

/// `arg_name <- (!space !"=" .)*`
fn arg_name(input: &[u8]) -> IResult<&[u8], &[u8]> {
    take_till(|b| is_space(b) || b == b'=').parse(input)
}

type Value<'a> = Spanned<Cow<'a, [u8]>>;

/// `value <- quoted / unquoted`
fn value<'a>(source: &'a [u8], input: &'a [u8]) -> Option<(&'a [u8], Value<'a>, Option<u8>)> {
    if is_quote(input[0]) {
        let (rest, v, q) = quoted(source, input)?;
        Some((rest, v, Some(q)))
    } else {
        let (rest, v) = unquoted(source, input)?;
        Some((rest, v, None))
    }
}

/// `unquoted <- (!space .)+ space`: the terminating space is consumed.
fn unquoted<'a>(source: &'a [u8], input: &'a [u8]) -> Option<(&'a [u8], Value<'a>)> {
    let (rest, raw) = take_till::<_, _, nom::error::Error<&[u8]>>(is_space)
        .parse(input)
        .ok()?;
    if rest.is_empty() {
        return None;
    }
    let start = offset(source, input);
    let v = Spanned::new(Cow::Borrowed(raw), Span::new(start, start + raw.len()));
    Some((&rest[1..], v))
}

/// `quoted <- q body(q) q` for the three quote characters.
fn quoted<'a>(source: &'a [u8], input: &'a [u8]) -> Option<(&'a [u8], Value<'a>, u8)> {
    let q = input[0];
    let body_input = &input[1..];
    let (rest, raw) = body(body_input, q);
    // The closing quote.
    let rest = rest.strip_prefix(&[q][..])?;
    let start = offset(source, body_input);
    let v = Spanned::new(unescape(raw, q), Span::new(start, start + raw.len()));
    Some((rest, v, q))
}

/// `body(q) <- ("\\" q / !q .)*`: up to the first `q` not preceded by a backslash
/// (a `\\` before the quote does not escape the backslash: Apache's PARSE_ARG_VAL).
/// Returns the rest, starting at that quote (or empty), and the body.
fn body(input: &[u8], q: u8) -> (&[u8], &[u8]) {
    let mut i = 0;
    while let Some(found) = memchr::memchr2(q, b'\\', &input[i..]) {
        let at = i + found;
        if input[at] == q {
            return (&input[at..], &input[..at]);
        }
        // A backslash: it escapes a following quote, and only that.
        i = if input.get(at + 1) == Some(&q) {
            at + 2
        } else {
            at + 1
        };
    }
    (&input[input.len()..], input)
}

/// Removes the backslash of every `\q` in a quoted body (Apache's PARSE_ARG_POSTVAL).
fn unescape(raw: &[u8], q: u8) -> Cow<'_, [u8]> {
    if memchr::memchr(b'\\', raw).is_none() {
        return Cow::Borrowed(raw);
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'\\' && raw.get(i + 1) == Some(&q) {
            out.push(q);
            i += 2;
        } else {
            out.push(raw[i]);
            i += 1;
        }
    }
    Cow::Owned(out)
}

/// ASCII lower-casing, borrowing when nothing changes.
fn lowercase(bytes: &[u8]) -> Cow<'_, [u8]> {
    if bytes.iter().any(u8::is_ascii_uppercase) {
        Cow::Owned(bytes.to_ascii_lowercase())
    } else {
        Cow::Borrowed(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(doc: &Document<'_>) -> Vec<String> {
        doc.nodes
            .iter()
            .map(|n| match n {
                Node::Text(s) => format!("T{:?}", String::from_utf8_lossy(&doc.source[s.range()])),
                Node::Directive(d) => format!("D{}", String::from_utf8_lossy(&d.name.node)),
                Node::Unterminated(_) => "U".to_string(),
            })
            .collect()
    }

    #[test]
    fn tags_are_parameters() {
        let tags = Tags {
            start: b"<%#",
            end: b"%>",
        };
        let src = b"a<%#echo var=\"x%>\" %>b<!--#echo -->c<%#echo%%>d<%#x";
        let doc = parse_with(src, tags);
        assert_eq!(
            names(&doc),
            [
                "T\"a\"",
                "Decho",
                "T\"b<!--#echo -->c\"",
                "Decho%",
                "T\"d\"",
                "U"
            ]
        );
        let Node::Directive(d) = &doc.nodes[1] else {
            panic!()
        };
        assert_eq!(d.args[0].value_bytes(), Some(&b"x%>"[..]));
        // the defaults, and an empty tag taken as the default
        assert_eq!(names(&parse(b"<!--#a-->")), ["Da"]);
        let empty = Tags {
            start: b"",
            end: b"",
        };
        assert_eq!(
            names(&parse_with(b"<!--#comment--->B", empty)),
            ["Dcomment-", "T\"B\""]
        );
    }
}
