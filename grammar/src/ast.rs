//! The syntax tree of an SSI document: text runs and directives, each with its span.

use std::borrow::Cow;

use crate::span::{Span, Spanned};

/// A parsed document: the sequence of text runs and directives, in input order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Document<'a> {
    /// The input the spans point into.
    pub source: &'a [u8],
    /// Text runs and directives, covering the whole input without gaps.
    pub nodes: Vec<Node<'a>>,
}

/// One piece of a document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node<'a> {
    /// Bytes outside any directive, passed through unchanged.
    Text(Span),
    /// A complete `<!--# ... -->` directive.
    Directive(Directive<'a>),
    /// A directive that was still open at the end of the input (Apache: AH01372).
    /// Its bytes never reach the output.
    Unterminated(Span),
}

/// A directive such as `<!--#echo var="X" -->`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Directive<'a> {
    /// From the `<` of `<!--#` to the `>` of `-->`, inclusive.
    pub span: Span,
    /// The element name, lower-cased as Apache does (`ECHO` is `echo`).
    pub name: Spanned<Cow<'a, [u8]>>,
    /// The attributes in document order (order matters to several elements).
    pub args: Vec<Arg<'a>>,
    /// The first lexical problem Apache would flag for this directive, if any.
    /// Such a directive is never executed.
    pub malformed: Option<Malformed>,
}

/// One attribute: `name`, `name=value`, `name="value"`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Arg<'a> {
    /// The whole attribute, including quotes.
    pub span: Span,
    /// The attribute name, lower-cased. Empty when it was missing (see [`Malformed`]).
    pub name: Spanned<Cow<'a, [u8]>>,
    /// The value with quote escapes removed, or `None` for a value-less attribute.
    /// Its span covers the raw value between the quotes.
    pub value: Option<Spanned<Cow<'a, [u8]>>>,
    /// The quote character used (`"`, `'` or `` ` ``), if any.
    pub quote: Option<u8>,
}

impl Arg<'_> {
    /// The value bytes, or `None` for a value-less attribute.
    pub fn value_bytes(&self) -> Option<&[u8]> {
        self.value.as_ref().map(|v| &v.node[..])
    }
}

/// Lexical problems that make Apache refuse to run a directive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Malformed {
    /// `<!--# echo -->` or `<!--#-->`: nothing between `<!--#` and the first space (AH01368).
    EmptyName,
    /// `<!--#echo "x" -->`: a quoted value with no attribute name before it (AH01369).
    ValueWithoutName(Span),
    /// `<!--#echo =x -->`: an attribute that starts with `=` (AH01370).
    EmptyAttributeName(Span),
}

impl Malformed {
    /// Where the problem is.
    pub fn span(&self, directive: &Directive<'_>) -> Span {
        match *self {
            Malformed::EmptyName => directive.name.span,
            Malformed::ValueWithoutName(s) | Malformed::EmptyAttributeName(s) => s,
        }
    }
}

fn owned(c: Cow<'_, [u8]>) -> Cow<'static, [u8]> {
    Cow::Owned(c.into_owned())
}

fn owned_spanned(s: Spanned<Cow<'_, [u8]>>) -> Spanned<Cow<'static, [u8]>> {
    Spanned::new(owned(s.node), s.span)
}

impl Node<'_> {
    /// The same node, owning its bytes, so that parsed documents can be cached
    /// beside their source (text spans still point into that source).
    pub fn into_owned(self) -> Node<'static> {
        match self {
            Node::Text(s) => Node::Text(s),
            Node::Unterminated(s) => Node::Unterminated(s),
            Node::Directive(d) => Node::Directive(Directive {
                span: d.span,
                name: owned_spanned(d.name),
                args: d
                    .args
                    .into_iter()
                    .map(|a| Arg {
                        span: a.span,
                        name: owned_spanned(a.name),
                        value: a.value.map(owned_spanned),
                        quote: a.quote,
                    })
                    .collect(),
                malformed: d.malformed,
            }),
        }
    }
}
