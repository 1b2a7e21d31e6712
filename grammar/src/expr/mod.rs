//! The two `#if expr=` languages of Apache 2.4 mod_include: [`ap`] (ap_expr, the default)
//! and [`legacy`] (`SSILegacyExprParser on`). Both parse bytes into spanned trees, no I/O.
//!
//! The grammar of both languages is written down in `grammar/expr.peg`; the parsers follow
//! it rule by rule. Spans are byte offsets into the expression value that was parsed.

pub mod ap;
pub mod legacy;
pub mod subnet;

pub use crate::span::{Span, Spanned};

use std::fmt;

/// Deepest nesting (parentheses, `!`, operator chains, concatenations) either parser
/// accepts. Deeper input is an error instead of a stack overflow; Apache itself gives up
/// much earlier when *evaluating* an ap_expr (`AP_EXPR_MAX_RECURSION`, 20 levels).
pub const MAX_DEPTH: usize = 128;

/// A parse error: where, and what went wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExprError {
    /// The bytes of the expression the error points at (empty at the end of input).
    pub span: Span,
    /// What went wrong, in Apache's words where Apache has words for it.
    pub message: String,
}

impl ExprError {
    /// An error at `span` saying `message`.
    pub fn new(span: Span, message: impl Into<String>) -> ExprError {
        ExprError {
            span,
            message: message.into(),
        }
    }
}

impl fmt::Display for ExprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (bytes {}..{})",
            self.message, self.span.start, self.span.end
        )
    }
}

impl std::error::Error for ExprError {}

/// The part of `input` before its first NUL byte: Apache handles expressions and their
/// values as C strings (`strlen` in `ap_expr_parse`, `get_ptoken`, `ap_ssi_parse_string`).
pub fn c_str(input: &[u8]) -> &[u8] {
    match memchr::memchr(0, input) {
        Some(n) => &input[..n],
        None => input,
    }
}
