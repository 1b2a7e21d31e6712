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
    /// What to do about it.
    pub(crate) help: Option<String>,
}

/// Parses `source` without evaluating it (strict mode checks every branch).
pub(crate) fn check_syntax(source: &[u8], legacy_expr: bool) -> Result<(), ConditionError> {
    let source = crate::engine::limits::c_string(source);
    if legacy_expr {
        legacy::parse(source).map(drop).map_err(from_parse)
    } else {
        ap::parse(source)
            .map(drop)
            .map_err(|e| from_ap_parse(e, source))
    }
}

fn from_parse(e: ssibake_grammar::expr::ExprError) -> ConditionError {
    let lower = e.message.to_ascii_lowercase();
    let unclosed = lower.contains("unterminated") || lower.contains("unclosed");
    ConditionError {
        message: format!("invalid expression: {}", e.message),
        span: Some(e.span),
        unsupported: false,
        help: unclosed.then(|| {
            "a quote (or a `%{` variable) is left open: close it before the end of the value"
                .to_string()
        }),
    }
}

/// An ap_expr parse error; when the text is valid legacy syntax, says how a site
/// migrating from Apache 2.2 turns that on.
fn from_ap_parse(e: ssibake_grammar::expr::ExprError, source: &[u8]) -> ConditionError {
    let mut err = from_parse(e);
    if err.help.is_none() && legacy::parse(source).is_ok() {
        err.help = Some(
            "this is the legacy #if syntax (Apache 2.2): Apache 2.4 reads it with \
             `SSILegacyExprParser on` (put it in the site's .htaccess, or pass --legacy-expr)"
                .into(),
        );
    }
    err
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
        let tree = ap::parse(source).map_err(|e| from_ap_parse(e, source))?;
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
        help: None,
    })
}
