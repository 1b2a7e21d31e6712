//! `#if`/`#elif` conditions: parse the `expr` value in the configured language
//! (ap_expr, or the legacy syntax) and evaluate it.

use ssibake_grammar::expr::{ap, legacy};
use ssibake_grammar::Span;

use crate::engine::expr::{self, Backrefs, Vars};

/// Why a condition could not be decided; `span` is relative to the `expr` value.
pub(crate) struct ConditionError {
    pub(crate) message: String,
    pub(crate) span: Option<Span>,
    /// Apache would decide it, but not from what exists at deploy time.
    pub(crate) unsupported: bool,
}

/// Parses `source` without evaluating it (strict mode checks every branch).
pub(crate) fn check_syntax(source: &[u8], legacy_expr: bool) -> Result<(), ConditionError> {
    let source = crate::engine::limits::c_string(source);
    if legacy_expr {
        legacy::parse(source).map(drop).map_err(from_parse)
    } else {
        ap::parse(source).map(drop).map_err(from_parse)
    }
}

fn from_parse(e: ssibake_grammar::expr::ExprError) -> ConditionError {
    ConditionError {
        message: format!("invalid expression: {}", e.message),
        span: Some(e.span),
        unsupported: false,
    }
}

/// Parses and evaluates `source` (Apache's `parse_expr` / `parse_ap_expr`).
pub(crate) fn evaluate(
    source: &[u8],
    legacy_expr: bool,
    vars: &mut dyn Vars,
    refs: &mut Backrefs,
) -> Result<bool, ConditionError> {
    let result = if legacy_expr {
        let tree = legacy::parse(source).map_err(from_parse)?;
        expr::eval_legacy(&tree, vars, refs)
    } else {
        let tree = ap::parse(source).map_err(from_parse)?;
        expr::eval_ap(&tree, vars, refs)
    };
    result.map_err(|e| ConditionError {
        message: if e.unsupported {
            format!("cannot evaluate at deploy time: {}", e.message)
        } else {
            format!("invalid expression: {}", e.message)
        },
        span: e.span,
        unsupported: e.unsupported,
    })
}
