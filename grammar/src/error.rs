//! Parse errors: what went wrong, where, and what was expected there.

use std::fmt;

use crate::ast::{Document, Malformed, Node};
use crate::span::Span;

/// What kind of syntax error a [`ParseError`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// A directive is still open at the end of the input.
    Unterminated,
    /// `<!--#` is followed by a space or `-->`: the directive has no name.
    EmptyName,
    /// A quoted value without an attribute name before it.
    ValueWithoutName,
    /// An attribute starting with `=`.
    EmptyAttributeName,
}

/// A syntax error with its span.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// What went wrong.
    pub kind: ParseErrorKind,
    /// Where.
    pub span: Span,
}

impl ParseError {
    /// What the parser expected at the error, in words.
    pub fn expected(&self) -> &'static str {
        match self.kind {
            ParseErrorKind::Unterminated => "`-->` to close the directive",
            ParseErrorKind::EmptyName => "a directive name right after `<!--#`",
            ParseErrorKind::ValueWithoutName => "an attribute name before the value",
            ParseErrorKind::EmptyAttributeName => "an attribute name before `=`",
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            ParseErrorKind::Unterminated => "directive is not closed before the end of the file",
            ParseErrorKind::EmptyName => "directive has no name",
            ParseErrorKind::ValueWithoutName => "attribute value has no name",
            ParseErrorKind::EmptyAttributeName => "attribute name is empty",
        };
        write!(f, "{what}: expected {}", self.expected())
    }
}

impl std::error::Error for ParseError {}

impl Document<'_> {
    /// Every syntax error in the document, in input order.
    ///
    /// Parsing itself never fails (Apache renders malformed directives as an
    /// error message and goes on); this lists what strict mode refuses.
    pub fn errors(&self) -> Vec<ParseError> {
        let mut out = Vec::new();
        for node in &self.nodes {
            match node {
                Node::Text(_) => {}
                Node::Unterminated(span) => out.push(ParseError {
                    kind: ParseErrorKind::Unterminated,
                    span: *span,
                }),
                Node::Directive(d) => {
                    if let Some(m) = d.malformed {
                        let kind = match m {
                            Malformed::EmptyName => ParseErrorKind::EmptyName,
                            Malformed::ValueWithoutName(_) => ParseErrorKind::ValueWithoutName,
                            Malformed::EmptyAttributeName(_) => ParseErrorKind::EmptyAttributeName,
                        };
                        out.push(ParseError {
                            kind,
                            span: m.span(d),
                        });
                    }
                }
            }
        }
        out
    }
}
