//! The SSI grammar of ssibake: bytes in, a syntax tree with byte spans out. No I/O.
//!
//! The syntax is written down in `directive.peg` (directives) and `expr.peg` (the two
//! `#if` expression languages); the parsers follow those files rule by rule.
//!
//! ```
//! use ssibake_grammar::{parse, Node};
//!
//! let doc = parse(b"a<!--#echo var=\"X\" -->b");
//! assert_eq!(doc.nodes.len(), 3);
//! let Node::Directive(d) = &doc.nodes[1] else { panic!() };
//! assert_eq!(&d.name.node[..], b"echo");
//! assert_eq!(d.args[0].value_bytes(), Some(&b"X"[..]));
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod ast;
mod error;
pub mod expr;
mod parser;
pub mod span;

pub use ast::{Arg, Directive, Document, Malformed, Node};
pub use error::{ParseError, ParseErrorKind};
pub use parser::{is_space, parse, parse_with, Tags, END, START};
pub use span::{LineIndex, Span, Spanned};
