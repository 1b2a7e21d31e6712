//! The legacy mod_include expression language (`SSILegacyExprParser on`): Apache's
//! `get_ptoken` tokenizer and `parse_expr` tree builder, reproduced byte for byte.
//!
//! The tree is built the way `parse_expr` builds it (a "current node" that walks up
//! through parent links), not by a precedence grammar, because Apache's grouping is
//! unusual: `&&` and `||` have equal precedence and a later operator nests to the right
//! (`a || b && c` is `a || (b && c)`, `a && b || c` is `a && (b || c)`). Some malformed
//! trees are accepted by Apache's builder and only fail when the evaluator reaches them
//! (`a &&`, `(a`, `a = (b)`); because evaluation short-circuits, `'' && (a` is simply
//! false. So the tree here keeps such holes (`Option` children, [`NodeKind::UnclosedGroup`])
//! and the evaluator reports them when it gets there.
//!
//! Strings are kept raw: `$VAR` substitution happens per token at evaluation time
//! (`ap_ssi_parse_string`), after the tokenizer has removed backslash escapes.

use nom::branch::alt;
use nom::bytes::complete::{tag, take_while};
use nom::combinator::{opt, value};
use nom::error::ParseError;
use nom::sequence::pair;
use nom::{IResult, Parser};

use super::{c_str, ExprError, Span, Spanned, MAX_DEPTH};

/// A parsed legacy expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expr {
    /// The tree; `None` for an expression with no tokens (`expr=""`), which is false.
    pub root: Option<Node>,
    /// How many `/regex/` operands the expression has. `parse_expr` short-circuits
    /// `&&`/`||` only while no regex is left to evaluate (it counts them down).
    pub regex_count: usize,
}

/// A node of the legacy tree with its span.
pub type Node = Spanned<NodeKind>;

/// The kinds of node `parse_expr` builds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeKind {
    /// A string: one token, or several adjacent tokens joined with one space (no space
    /// after an empty token: `'' a` is `a`). Backslash escapes are already removed,
    /// `$VAR`s are not yet substituted. True when non-empty after substitution.
    Str(Vec<u8>),
    /// A `/regex/` (delimiters and escapes removed, `$VAR`s not yet substituted). Only
    /// ever the right operand of `=`/`!=`.
    Regex(Vec<u8>),
    /// `!` with its operand (missing at the end of the expression: `!` alone is false).
    Not(Option<Box<Node>>),
    /// `( ... )` that was closed (`()` is true).
    Group(Option<Box<Node>>),
    /// `(` never closed: "Unmatched '('" when evaluated.
    UnclosedGroup(Option<Box<Node>>),
    /// `-A url`: an access check through a sub-request (the operand must be a string).
    Access(Option<Box<Node>>),
    /// `a && b` (right operand missing at the end: "Invalid expression" when reached).
    And(Box<Node>, Option<Box<Node>>),
    /// `a || b`.
    Or(Box<Node>, Option<Box<Node>>),
    /// A comparison; its left operand is always a string, its right operand may be
    /// missing or of the wrong kind ("Invalid expression" when evaluated).
    Compare {
        /// The operator.
        op: CompareOp,
        /// The string on the left.
        left: Spanned<Vec<u8>>,
        /// Whatever was attached on the right.
        right: Option<Box<Node>>,
    },
}

/// Comparison operators; all compare bytes with `strcmp`, `=`/`!=` also match regexes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompareOp {
    /// `=` or `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl CompareOp {
    /// The operator as written (`=` for both spellings of equality).
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "=",
            CompareOp::Ne => "!=",
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
        }
    }
}

/// Token types of `get_ptoken` (`TOKEN_*` in mod_include.c).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tok {
    Str,
    Re,
    Cmp(CompareOp),
    Not,
    And,
    Or,
    LBrace,
    RBrace,
    Group,
    Access,
}

/// C `isspace` in the C locale (Apache never calls `setlocale`).
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// `ws <- [ \t\n\v\f\r]*`
fn ws<'a, E: ParseError<&'a [u8]>>(i: &'a [u8]) -> IResult<&'a [u8], &'a [u8], E> {
    take_while(is_space).parse(i)
}

/// `operator <- '(' / ')' / '=' '='? / '!=' / '!' / '||' / '&&' / '>=' / '>' / '<=' / '<' / '-A'`
fn operator<'a, E: ParseError<&'a [u8]>>(i: &'a [u8]) -> IResult<&'a [u8], Tok, E> {
    alt((
        value(Tok::LBrace, tag("(")),
        value(Tok::RBrace, tag(")")),
        value(Tok::Cmp(CompareOp::Eq), pair(tag("="), opt(tag("=")))),
        value(Tok::Cmp(CompareOp::Ne), tag("!=")),
        value(Tok::Not, tag("!")),
        value(Tok::Or, tag("||")),
        value(Tok::And, tag("&&")),
        value(Tok::Cmp(CompareOp::Ge), tag(">=")),
        value(Tok::Cmp(CompareOp::Gt), tag(">")),
        value(Tok::Cmp(CompareOp::Le), tag("<=")),
        value(Tok::Cmp(CompareOp::Lt), tag("<")),
        value(Tok::Access, tag("-A")),
    ))
    .parse(i)
}

/// The body of a string or regex token, as `get_ptoken`'s scanning loop reads it.
///
/// `delim` is the closing quote (`'` or `/`) or `None` for an unquoted string, which ends
/// before whitespace, `( ) = ! < >`, `||` or `&&`. A backslash makes the next byte
/// literal and disappears (also inside `/regex/`, so `/a\.b/` is the regex `a.b`). A
/// backslash at the very end stays in an unquoted string. An unclosed quote or regex
/// yields the empty string. Returns the value and the rest after the token.
fn body<'a, E: ParseError<&'a [u8]>>(
    delim: Option<u8>,
) -> impl Fn(&'a [u8]) -> IResult<&'a [u8], Vec<u8>, E> {
    move |i: &'a [u8]| {
        let mut out = Vec::new();
        let mut k = 0;
        while k < i.len() {
            let b = i[k];
            if b == b'\\' {
                match i.get(k + 1) {
                    None => {
                        // get_ptoken: `if (!*(++*parse)) { p = *parse; break; }`
                        if delim.is_some() {
                            return Ok((&i[i.len()..], Vec::new()));
                        }
                        out.push(b'\\');
                        return Ok((&i[i.len()..], out));
                    }
                    Some(&next) => {
                        out.push(next);
                        k += 2;
                        continue;
                    }
                }
            }
            match delim {
                Some(d) if b == d => return Ok((&i[k + 1..], out)),
                Some(_) => {}
                None => {
                    let ends = is_space(b)
                        || matches!(b, b'(' | b')' | b'=' | b'!' | b'<' | b'>')
                        || (matches!(b, b'|' | b'&') && i.get(k + 1) == Some(&b));
                    if ends {
                        return Ok((&i[k..], out));
                    }
                }
            }
            out.push(b);
            k += 1;
        }
        if delim.is_some() {
            // unmatched quote: `token->value = apr_pstrdup(ctx->dpool, "")`
            out.clear();
        }
        Ok((&i[i.len()..], out))
    }
}

/// A token: its type, its value (strings and regexes) and its length in the input.
type RawToken = (Tok, Vec<u8>, usize);

/// One token of `get_ptoken`:
/// `token <- ws (operator / "'" body('\'') / '/' body('/') / body(none))`.
/// `/` starts a regex unless the current node is `-A` (then it starts a string).
fn token<'a, E: ParseError<&'a [u8]>>(
    i: &'a [u8],
    after_access: bool,
) -> IResult<&'a [u8], Option<RawToken>, E> {
    let (i, _) = ws(i)?;
    if i.is_empty() {
        return Ok((i, None));
    }
    let before = i.len();
    if let Ok((rest, tok)) = operator::<E>(i) {
        return Ok((rest, Some((tok, Vec::new(), before - rest.len()))));
    }
    let (rest, tok, val) = match i[0] {
        b'\'' => {
            let (rest, v) = body::<E>(Some(b'\''))(&i[1..])?;
            (rest, Tok::Str, v)
        }
        b'/' if !after_access => {
            let (rest, v) = body::<E>(Some(b'/'))(&i[1..])?;
            (rest, Tok::Re, v)
        }
        _ => {
            let (rest, v) = body::<E>(None)(i)?;
            (rest, Tok::Str, v)
        }
    };
    Ok((rest, Some((tok, val, before - rest.len()))))
}

/// A node of the tree under construction (`parse_node_t`).
struct ANode {
    tok: Tok,
    value: Vec<u8>,
    span: Span,
    parent: Option<usize>,
    left: Option<usize>,
    right: Option<usize>,
}

/// Parses a legacy expression the way `parse_expr` builds its tree.
///
/// Parse-time errors are those `parse_expr` reports while building ("Invalid
/// expression", "Unmatched ')'"); holes it lets through stay in the tree. The input is
/// cut at its first NUL byte, as Apache sees a C string.
pub fn parse(input: &[u8]) -> Result<Expr, ExprError> {
    let input = c_str(input);
    let total = input.len();
    let mut rest = input;
    let mut nodes: Vec<ANode> = Vec::new();
    let mut root: Option<usize> = None;
    let mut current: Option<usize> = None;
    let mut regex_count = 0usize;

    let too_deep = |span: Span| ExprError::new(span, "expression nested too deeply");

    loop {
        let start_of_token = {
            let skipped = rest.iter().take_while(|&&b| is_space(b)).count();
            total - rest.len() + skipped
        };
        let after_access = current.is_some_and(|c| nodes[c].tok == Tok::Access);
        let (r, tok) = match token::<nom::error::Error<&[u8]>>(rest, after_access) {
            Ok(x) => x,
            Err(_) => {
                return Err(ExprError::new(
                    Span::new(start_of_token, total),
                    "Invalid expression",
                ))
            }
        };
        rest = r;
        let Some((tok, value, len)) = tok else { break };
        let span = Span::new(total - rest.len() - len, total - rest.len());
        let invalid = || ExprError::new(span, "Invalid expression");

        let new_node = |nodes: &mut Vec<ANode>, parent: Option<usize>| {
            nodes.push(ANode {
                tok,
                value: value.clone(),
                span,
                parent,
                left: None,
                right: None,
            });
            nodes.len() - 1
        };

        let Some(cur) = current else {
            match tok {
                Tok::Str | Tok::Not | Tok::Access | Tok::LBrace => {
                    let n = new_node(&mut nodes, None);
                    root = Some(n);
                    current = Some(n);
                    continue;
                }
                _ => return Err(invalid()),
            }
        };

        match tok {
            Tok::Str => match nodes[cur].tok {
                Tok::Str => {
                    // Adjacent strings are joined with one space, unless the first is
                    // empty (`*current->token.value ? " " : ""`).
                    let c = &mut nodes[cur];
                    if !c.value.is_empty() {
                        c.value.push(b' ');
                    }
                    c.value.extend_from_slice(&value);
                    c.span.end = span.end;
                }
                Tok::Re | Tok::RBrace | Tok::Group => return Err(invalid()),
                _ => {
                    let n = new_node(&mut nodes, Some(cur));
                    nodes[cur].right = Some(n);
                    current = Some(n);
                }
            },
            Tok::Re => match nodes[cur].tok {
                Tok::Cmp(CompareOp::Eq) | Tok::Cmp(CompareOp::Ne) => {
                    let n = new_node(&mut nodes, Some(cur));
                    nodes[cur].right = Some(n);
                    current = Some(n);
                    regex_count += 1;
                }
                _ => return Err(invalid()),
            },
            Tok::And | Tok::Or => match nodes[cur].tok {
                Tok::Str | Tok::Re | Tok::Group => {
                    // Walk up to the nearest &&, || or unclosed '(' ...
                    let mut c = nodes[cur].parent;
                    let mut steps = 0;
                    while let Some(x) = c {
                        if matches!(nodes[x].tok, Tok::And | Tok::Or | Tok::LBrace) {
                            break;
                        }
                        c = nodes[x].parent;
                        steps += 1;
                        if steps > MAX_DEPTH {
                            return Err(too_deep(span));
                        }
                    }
                    let n = new_node(&mut nodes, c);
                    match c {
                        // ... none: the operator becomes the new root.
                        None => {
                            let r = root.expect("a current node implies a root");
                            nodes[n].left = Some(r);
                            nodes[r].parent = Some(n);
                            root = Some(n);
                        }
                        // ... found: the operator takes over its right operand.
                        Some(x) => {
                            let l = nodes[x].right.expect("walked up through the right child");
                            nodes[n].left = Some(l);
                            nodes[l].parent = Some(n);
                            nodes[x].right = Some(n);
                        }
                    }
                    current = Some(n);
                }
                _ => return Err(invalid()),
            },
            Tok::Cmp(_) => {
                if nodes[cur].tok != Tok::Str {
                    return Err(invalid());
                }
                match nodes[cur].parent {
                    None => {
                        let n = new_node(&mut nodes, None);
                        let r = root.expect("a current node implies a root");
                        nodes[n].left = Some(r);
                        nodes[r].parent = Some(n);
                        root = Some(n);
                        current = Some(n);
                    }
                    Some(x) if matches!(nodes[x].tok, Tok::LBrace | Tok::And | Tok::Or) => {
                        let n = new_node(&mut nodes, Some(x));
                        let l = nodes[x].right.expect("the string is the right child");
                        nodes[n].left = Some(l);
                        nodes[l].parent = Some(n);
                        nodes[x].right = Some(n);
                        current = Some(n);
                    }
                    // e.g. `!a = b`, `a = b = c`, `-A a = b`
                    Some(_) => return Err(invalid()),
                }
            }
            Tok::RBrace => {
                let mut c = Some(cur);
                let mut steps = 0;
                while let Some(x) = c {
                    if nodes[x].tok == Tok::LBrace {
                        break;
                    }
                    c = nodes[x].parent;
                    steps += 1;
                    if steps > MAX_DEPTH {
                        return Err(too_deep(span));
                    }
                }
                match c {
                    Some(x) => {
                        nodes[x].tok = Tok::Group;
                        nodes[x].span.end = span.end;
                        current = Some(x);
                    }
                    None => return Err(ExprError::new(span, "Unmatched ')'")),
                }
            }
            Tok::Not | Tok::Access | Tok::LBrace => match nodes[cur].tok {
                Tok::Str | Tok::Re | Tok::RBrace | Tok::Group => return Err(invalid()),
                _ => {
                    let n = new_node(&mut nodes, Some(cur));
                    nodes[cur].right = Some(n);
                    current = Some(n);
                }
            },
            Tok::Group => unreachable!("the tokenizer never yields a group"),
        }
    }

    let Some(root) = root else {
        return Ok(Expr {
            root: None,
            regex_count: 0,
        });
    };

    // Depth check without recursion, so that the conversion below cannot overflow.
    let mut stack = vec![(root, 1usize)];
    while let Some((n, d)) = stack.pop() {
        if d > MAX_DEPTH {
            return Err(too_deep(nodes[n].span));
        }
        stack.extend(nodes[n].left.map(|c| (c, d + 1)));
        stack.extend(nodes[n].right.map(|c| (c, d + 1)));
    }

    let root = convert(&mut nodes, root);
    Ok(Expr {
        root: Some(root),
        regex_count,
    })
}

/// Turns the arena node `n` into an owned [`Node`]; spans grow to cover the children.
fn convert(nodes: &mut [ANode], n: usize) -> Node {
    let left = nodes[n].left.map(|c| Box::new(convert(nodes, c)));
    let right = nodes[n].right.map(|c| Box::new(convert(nodes, c)));
    let node = &mut nodes[n];
    let mut span = node.span;
    for child in left.iter().chain(right.iter()) {
        span.start = span.start.min(child.span.start);
        span.end = span.end.max(child.span.end);
    }
    let value = std::mem::take(&mut node.value);
    let kind = match node.tok {
        Tok::Str => NodeKind::Str(value),
        Tok::Re => NodeKind::Regex(value),
        Tok::Not => NodeKind::Not(right),
        Tok::Group => NodeKind::Group(right),
        Tok::LBrace => NodeKind::UnclosedGroup(right),
        Tok::Access => NodeKind::Access(right),
        Tok::And => NodeKind::And(left.expect("&& always has a left operand"), right),
        Tok::Or => NodeKind::Or(left.expect("|| always has a left operand"), right),
        Tok::Cmp(op) => {
            let left = left.expect("a comparison always has a left operand");
            let NodeKind::Str(s) = left.node else {
                unreachable!("parse_expr only creates a comparison after a string")
            };
            NodeKind::Compare {
                op,
                left: Spanned::new(s, left.span),
                right,
            }
        }
        Tok::RBrace => unreachable!("')' never becomes a node"),
    };
    Spanned::new(kind, span)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A compact rendering of the tree: `(op l r)`, `_` for a hole.
    fn show(n: &Option<Box<Node>>) -> String {
        match n {
            None => "_".into(),
            Some(n) => render(n),
        }
    }

    fn render(n: &Node) -> String {
        match &n.node {
            NodeKind::Str(s) => format!("{:?}", String::from_utf8_lossy(s)),
            NodeKind::Regex(s) => format!("/{}/", String::from_utf8_lossy(s)),
            NodeKind::Not(r) => format!("(! {})", show(r)),
            NodeKind::Group(r) => format!("(group {})", show(r)),
            NodeKind::UnclosedGroup(r) => format!("(unclosed {})", show(r)),
            NodeKind::Access(r) => format!("(-A {})", show(r)),
            NodeKind::And(l, r) => format!("(&& {} {})", render(l), show(r)),
            NodeKind::Or(l, r) => format!("(|| {} {})", render(l), show(r)),
            NodeKind::Compare { op, left, right } => {
                format!(
                    "({} {:?} {})",
                    op.as_str(),
                    String::from_utf8_lossy(left),
                    show(right)
                )
            }
        }
    }

    fn tree(s: &str) -> String {
        let e = parse(s.as_bytes()).unwrap_or_else(|e| panic!("{s:?}: {e}"));
        match e.root {
            None => "<empty>".into(),
            Some(r) => render(&r),
        }
    }

    fn err(s: &str) -> String {
        parse(s.as_bytes()).expect_err(s).message
    }

    #[test]
    fn grouping_is_apaches() {
        assert_eq!(tree("a || b && c"), r#"(|| "a" (&& "b" "c"))"#);
        assert_eq!(tree("a && b || c"), r#"(&& "a" (|| "b" "c"))"#);
        assert_eq!(tree("'' && '' || b"), r#"(&& "" (|| "" "b"))"#);
        assert_eq!(tree("(a || b) && c"), r#"(&& (group (|| "a" "b")) "c")"#);
        assert_eq!(tree("a = b && c != d"), r#"(&& (= "a" "b") (!= "c" "d"))"#);
        assert_eq!(tree("a && b = c"), r#"(&& "a" (= "b" "c"))"#);
        assert_eq!(tree("!a && b"), r#"(&& (! "a") "b")"#);
        assert_eq!(tree("a && !b || c"), r#"(&& "a" (|| (! "b") "c"))"#);
        assert_eq!(tree("x && (a) || c"), r#"(&& "x" (|| (group "a") "c"))"#);
    }

    #[test]
    fn tokens() {
        assert_eq!(tree("a == b"), r#"(= "a" "b")"#);
        assert_eq!(tree("a=b"), r#"(= "a" "b")"#);
        assert_eq!(tree("a!=b"), r#"(!= "a" "b")"#);
        assert_eq!(tree("a<b"), r#"(< "a" "b")"#);
        assert_eq!(tree("a<=b"), r#"(<= "a" "b")"#);
        assert_eq!(tree("a>b"), r#"(> "a" "b")"#);
        assert_eq!(tree("a>=b"), r#"(>= "a" "b")"#);
        assert_eq!(tree("a|b&c"), r#""a|b&c""#);
        assert_eq!(tree("a||b"), r#"(|| "a" "b")"#);
        assert_eq!(tree("-x"), r#""-x""#);
        assert_eq!(tree("-A /x/y"), r#"(-A "/x/y")"#);
        assert_eq!(tree("\"a b\""), r#""\"a b\"""#);
        assert_eq!(tree("a'b'"), r#""a'b'""#);
    }

    #[test]
    fn strings_join_with_one_space() {
        assert_eq!(tree("a b = 'a b'"), r#"(= "a b" "a b")"#);
        assert_eq!(tree("a   b"), r#""a b""#);
        assert_eq!(tree("'' a"), r#""a""#);
        assert_eq!(tree("a ''"), r#""a ""#);
        assert_eq!(tree("'' ''"), r#""""#);
        assert_eq!(tree("'a'b"), r#""a b""#);
        assert_eq!(tree("a = b c"), r#"(= "a" "b c")"#);
    }

    #[test]
    fn backslashes() {
        assert_eq!(tree(r"x = /a\.b/"), r#"(= "x" /a.b/)"#);
        assert_eq!(tree(r"x = /a\\.b/"), r#"(= "x" /a\.b/)"#);
        assert_eq!(tree(r"x = /a\/b/"), r#"(= "x" /a/b/)"#);
        assert_eq!(tree(r"a\ b"), r#""a b""#);
        assert_eq!(tree(r"a\(b"), r#""a(b""#);
        assert_eq!(tree(r"'it\'s'"), r#""it's""#);
        assert_eq!(tree(r"abc\"), r#""abc\\""#);
        assert_eq!(tree(r"'abc\"), r#""""#);
        assert_eq!(tree(r"\$a"), r#""$a""#);
    }

    #[test]
    fn unmatched_quotes_and_slashes_are_empty() {
        assert_eq!(tree("'abc"), r#""""#);
        assert_eq!(tree("x = /abc"), r#"(= "x" //)"#);
    }

    #[test]
    fn holes_are_kept_for_the_evaluator() {
        assert_eq!(tree("a &&"), r#"(&& "a" _)"#);
        assert_eq!(tree("a ="), r#"(= "a" _)"#);
        assert_eq!(tree("!"), "(! _)");
        assert_eq!(tree("()"), "(group _)");
        assert_eq!(tree("(a"), r#"(unclosed "a")"#);
        assert_eq!(tree("'' && (a"), r#"(&& "" (unclosed "a"))"#);
        assert_eq!(tree("a = (b)"), r#"(= "a" (group "b"))"#);
        assert_eq!(tree("a = !b"), r#"(= "a" (! "b"))"#);
        assert_eq!(tree("-A"), "(-A _)");
        assert_eq!(tree("-A (x)"), r#"(-A (group "x"))"#);
    }

    #[test]
    fn empty_is_no_tree() {
        assert_eq!(tree(""), "<empty>");
        assert_eq!(tree(" \t\r\n\x0b\x0c"), "<empty>");
        assert_eq!(tree("\0a = b"), "<empty>");
    }

    #[test]
    fn parse_errors() {
        assert_eq!(err("!a = b"), "Invalid expression");
        assert_eq!(err("a = b = c"), "Invalid expression");
        assert_eq!(err("= a"), "Invalid expression");
        assert_eq!(err("&& a"), "Invalid expression");
        assert_eq!(err("a )"), "Unmatched ')'");
        assert_eq!(err("(a) )"), "Unmatched ')'");
        assert_eq!(err("/a/"), "Invalid expression");
        assert_eq!(err("a /b/"), "Invalid expression");
        assert_eq!(err("a < /b/"), "Invalid expression");
        assert_eq!(err("a = /b/ c"), "Invalid expression");
        assert_eq!(err("(a) b"), "Invalid expression");
        assert_eq!(err("a !b"), "Invalid expression");
        assert_eq!(err("a ("), "Invalid expression");
        assert_eq!(err("( && a)"), "Invalid expression");
        assert_eq!(err("a -A b"), "Invalid expression");
    }

    #[test]
    fn error_spans_point_at_the_token() {
        let e = parse(b"a = b = c").unwrap_err();
        assert_eq!(e.span, Span::new(6, 7));
        let e = parse(b"x )").unwrap_err();
        assert_eq!(e.span, Span::new(2, 3));
    }

    #[test]
    fn regexes_are_counted() {
        assert_eq!(parse(b"a = /x/ || b != /y/ && c").unwrap().regex_count, 2);
        assert_eq!(parse(b"a = b").unwrap().regex_count, 0);
    }

    #[test]
    fn deep_input_is_an_error_not_a_crash() {
        let deep = "(".repeat(100_000);
        assert_eq!(err(&deep), "expression nested too deeply");
        let bangs = "!".repeat(100_000);
        assert_eq!(err(&bangs), "expression nested too deeply");
        let chain = vec!["a"; 50_000].join(" && ");
        assert_eq!(err(&chain), "expression nested too deeply");
        let closes = format!("{}a{}", "(".repeat(100), ")".repeat(100));
        assert!(parse(closes.as_bytes()).is_ok());
        let flat = vec!["a"; 100_000].join(" ");
        assert!(parse(flat.as_bytes()).is_ok());
    }
}
