//! Engine: evaluates a parsed page the way `mod_include` does.
//!
//! In: a syntax tree from `ssibake-grammar` (bytes and spans), the [`Baker`]'s settings and
//! variables, and the site (files, metadata, paths) through `site`. Out: the page's bytes,
//! or every diagnostic with its `file:line:col`, and what the page used (includes, stamped
//! and revved files, inputs with their times).
//!
//! - [`baker`]: the library's front door, a configured [`Baker`] that renders pages;
//! - [`templates`]: each template parsed and linted once per run;
//! - [`eval`]: walks the tree, element by element; [`limits`] bounds it;
//! - [`condition`] and [`expr`]: `#if` in both syntaxes; [`subst`]: `$var` substitution;
//!   [`vars`]: the variables a page sees (only those given to it, never the environment);
//! - [`compat`]: the Apache release reproduced, where releases differ;
//! - [`lint`]: strict-mode checks before evaluation; [`diag`] and [`errors`]: what goes wrong.
//!
//! [`Baker`]: baker::Baker

pub(crate) mod baker;
pub(crate) mod compat;
pub(crate) mod condition;
pub(crate) mod diag;
pub(crate) mod errors;
pub(crate) mod eval;
pub(crate) mod expr;
pub(crate) mod limits;
pub(crate) mod lint;
pub(crate) mod subst;
pub(crate) mod templates;
pub(crate) mod vars;
