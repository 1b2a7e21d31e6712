//! The ap_expr language of Apache 2.4 (`server/util_expr_scan.l` + `util_expr_parse.y` of
//! the 2.4.x branch), as mod_include's `parse_ap_expr` uses it: boolean mode, restricted
//! (`AP_EXPR_FLAG_RESTRICTED`), with mod_include's `v`/`reqenv`/`env` functions.
//!
//! The scanner's longest-match rules and start states (`str`, `var`, `vararg`, `regex`)
//! are folded into the lexeme parsers; the yacc rules become recursive-descent functions
//! with the same precedence (`||` < `&&` < `!` < `.`). Apache resolves function, variable
//! and operator names while parsing (`ap_expr_info_make`), so an unknown or restricted
//! name is a parse error even where evaluation would never reach it; the names are
//! resolved here too. Regexes are compiled by the evaluator, which must do it before
//! evaluating (Apache compiles them while parsing).

use std::borrow::Cow;
use std::cell::Cell;

use nom::bytes::complete::{tag, take_while, take_while1};
use nom::error::{ErrorKind, ParseError};
use nom::{Err, IResult, Parser};

use super::{c_str, ExprError, Span, Spanned, MAX_DEPTH};

/// Apache's `MAX_STRING_LEN`: the scanner's string and regex buffers hold this many bytes
/// including the terminating NUL ("String too long", "Regexp too long").
const MAX_STRING_LEN: usize = 8192;

/// A parsed ap_expr (boolean).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expr {
    /// The condition.
    pub root: Cond,
}

/// A boolean node with its span.
pub type Cond = Spanned<CondKind>;

/// Boolean nodes (`expr` and `comparison` of util_expr_parse.y).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CondKind {
    /// `true`
    True,
    /// `false`
    False,
    /// `!c` or `not c`
    Not(Box<Cond>),
    /// `a && b` or `a and b` (right-associative, as `%right T_OP_AND`)
    And(Box<Cond>, Box<Cond>),
    /// `a || b` or `a or b` (right-associative)
    Or(Box<Cond>, Box<Cond>),
    /// A string or integer comparison.
    Compare {
        /// The operator.
        op: CompareOp,
        /// Left operand.
        left: Word,
        /// Right operand.
        right: Word,
    },
    /// `word -in {a, b}` / `word in {a, b}`
    In {
        /// The word looked for.
        needle: Word,
        /// The list, in source order.
        list: Vec<Word>,
    },
    /// `word =~ /re/` (or `!~` when `negated`)
    Match {
        /// `!~`
        negated: bool,
        /// The word matched.
        subject: Word,
        /// The regex.
        regex: Spanned<Regex>,
    },
    /// `-n word` and the other unary operators.
    Unary {
        /// The operator.
        op: UnaryOp,
        /// Its operand.
        arg: Word,
    },
    /// `word -strmatch word` and the other named binary operators.
    Binary {
        /// The operator.
        op: BinaryOp,
        /// Left operand.
        left: Word,
        /// Right operand.
        right: Word,
    },
}

/// Comparison operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompareOp {
    /// `-eq` / `eq`: integers (`apr_atoi64`)
    IntEq,
    /// `-ne` / `ne`
    IntNe,
    /// `-lt` / `lt`
    IntLt,
    /// `-le` / `le`
    IntLe,
    /// `-gt` / `gt`
    IntGt,
    /// `-ge` / `ge`
    IntGe,
    /// `==` / `=`: bytes (`strcmp`)
    StrEq,
    /// `!=`
    StrNe,
    /// `<`
    StrLt,
    /// `<=`
    StrLe,
    /// `>`
    StrGt,
    /// `>=`
    StrGe,
}

impl CompareOp {
    /// Canonical spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::IntEq => "-eq",
            CompareOp::IntNe => "-ne",
            CompareOp::IntLt => "-lt",
            CompareOp::IntLe => "-le",
            CompareOp::IntGt => "-gt",
            CompareOp::IntGe => "-ge",
            CompareOp::StrEq => "==",
            CompareOp::StrNe => "!=",
            CompareOp::StrLt => "<",
            CompareOp::StrLe => "<=",
            CompareOp::StrGt => ">",
            CompareOp::StrGe => ">=",
        }
    }
}

/// A regex operand: the bytes between the delimiters (no escape processing at all), and
/// the `i` flag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Regex {
    /// The pattern (PCRE syntax).
    pub pattern: Vec<u8>,
    /// `/re/i`
    pub case_insensitive: bool,
}

/// Unary operators that exist in a restricted context (`unary_op_providers`); the file
/// tests `-d -e -f -s -L -h -x` are refused by Apache itself in mod_include.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnaryOp {
    /// `-n`: non-empty
    N,
    /// `-z`: empty
    Z,
    /// `-T`: "true" unless empty, `0`, `off`, `no`, `false`
    T,
    /// `-R subnet`: client address test
    R,
    /// `-F path`: file sub-request
    F,
    /// `-U url`: URL sub-request
    U,
    /// `-A url`: alias of `-U`
    A,
}

impl UnaryOp {
    /// The name after `-`.
    pub fn name(self) -> &'static str {
        match self {
            UnaryOp::N => "n",
            UnaryOp::Z => "z",
            UnaryOp::T => "T",
            UnaryOp::R => "R",
            UnaryOp::F => "F",
            UnaryOp::U => "U",
            UnaryOp::A => "A",
        }
    }
}

/// Named binary operators (`binary_op_providers`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    /// `-ipmatch`
    Ipmatch,
    /// `-fnmatch` (`apr_fnmatch` with `APR_FNM_PATHNAME`)
    Fnmatch,
    /// `-strmatch` (`apr_fnmatch`)
    Strmatch,
    /// `-strcmatch` (`apr_fnmatch`, case-blind)
    Strcmatch,
}

impl BinaryOp {
    /// The name after `-`.
    pub fn name(self) -> &'static str {
        match self {
            BinaryOp::Ipmatch => "ipmatch",
            BinaryOp::Fnmatch => "fnmatch",
            BinaryOp::Strmatch => "strmatch",
            BinaryOp::Strcmatch => "strcmatch",
        }
    }
}

/// String functions known in mod_include's restricted context: mod_include's own
/// (`v`, `reqenv`, `env`, looked up first by `include_expr_lookup`) and core's
/// (`string_func_providers`, without `file` and `filesize`, which are restricted).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Func {
    /// `v(name)`: SSI variable
    V,
    /// `reqenv(name)`: SSI variable (mod_include's version)
    Reqenv,
    /// `env(name)`: request notes, SSI variable, then the OS environment in Apache
    Env,
    /// `osenv(name)`
    Osenv,
    /// `resp(header)`
    Resp,
    /// `req(header)`
    Req,
    /// `http(header)`
    Http,
    /// `note(name)`
    Note,
    /// `req_novary(header)`
    ReqNovary,
    /// `tolower(s)`
    Tolower,
    /// `toupper(s)`
    Toupper,
    /// `escape(s)`: `ap_escape_uri`
    Escape,
    /// `unescape(s)`: `ap_unescape_url_keep2f`
    Unescape,
    /// `base64(s)`
    Base64,
    /// `unbase64(s)`
    Unbase64,
    /// `sha1(s)`: lower-case hex
    Sha1,
    /// `md5(s)`: lower-case hex
    Md5,
    /// `ldap(s)`: `apr_pescape_ldap`
    Ldap,
}

const FUNCS: &[(&str, Func)] = &[
    ("v", Func::V),
    ("reqenv", Func::Reqenv),
    ("env", Func::Env),
    ("osenv", Func::Osenv),
    ("resp", Func::Resp),
    ("req", Func::Req),
    ("http", Func::Http),
    ("note", Func::Note),
    ("req_novary", Func::ReqNovary),
    ("tolower", Func::Tolower),
    ("toupper", Func::Toupper),
    ("escape", Func::Escape),
    ("unescape", Func::Unescape),
    ("base64", Func::Base64),
    ("unbase64", Func::Unbase64),
    ("sha1", Func::Sha1),
    ("md5", Func::Md5),
    ("ldap", Func::Ldap),
];

impl Func {
    /// The function's name in lower case.
    pub fn name(self) -> &'static str {
        FUNCS
            .iter()
            .find(|(_, f)| *f == self)
            .map(|(n, _)| *n)
            .unwrap_or("?")
    }
}

/// The `%{NAME}` variables core knows (`var_providers`), in Apache's spelling. Names are
/// matched case-insensitively; the tree keeps the canonical spelling.
pub const VARIABLES: &[&str] = &[
    "TIME_YEAR",
    "TIME_MON",
    "TIME_DAY",
    "TIME_HOUR",
    "TIME_MIN",
    "TIME_SEC",
    "TIME_WDAY",
    "TIME",
    "SERVER_SOFTWARE",
    "API_VERSION",
    "HTTP_USER_AGENT",
    "HTTP_PROXY_CONNECTION",
    "HTTP_REFERER",
    "HTTP_COOKIE",
    "HTTP_FORWARDED",
    "HTTP_HOST",
    "HTTP_ACCEPT",
    "REQUEST_METHOD",
    "REQUEST_SCHEME",
    "REQUEST_URI",
    "REQUEST_FILENAME",
    "REMOTE_HOST",
    "REMOTE_IDENT",
    "REMOTE_USER",
    "SERVER_ADMIN",
    "SERVER_NAME",
    "SERVER_PORT",
    "SERVER_PROTOCOL",
    "SCRIPT_FILENAME",
    "PATH_INFO",
    "QUERY_STRING",
    "IS_SUBREQ",
    "DOCUMENT_ROOT",
    "AUTH_TYPE",
    "THE_REQUEST",
    "CONTENT_TYPE",
    "HANDLER",
    "REQUEST_LOG_ID",
    "SCRIPT_USER",
    "SCRIPT_GROUP",
    "DOCUMENT_URI",
    "LAST_MODIFIED",
    "CONTEXT_PREFIX",
    "CONTEXT_DOCUMENT_ROOT",
    "REQUEST_STATUS",
    "REMOTE_ADDR",
    "REMOTE_PORT",
    "HTTPS",
    "IPV6",
    "CONN_LOG_ID",
    "CONN_REMOTE_ADDR",
    "HTTP2",
];

/// A string-valued node with its span.
pub type Word = Spanned<WordKind>;

/// String-valued nodes (`word`, `string`, `strpart`, `var` of util_expr_parse.y).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WordKind {
    /// A number as written (`-?[0-9]+`).
    Digit(Vec<u8>),
    /// Literal text of a quoted string, escapes decoded, cut at a NUL byte.
    String(Vec<u8>),
    /// Concatenation. `a . b . c` nests to the right; the parts of one quoted string
    /// nest to the left (`'x%{A}y'` is `Concat(Concat(x, A), y)`), as in Apache.
    Concat(Box<Word>, Box<Word>),
    /// `%{NAME}` (canonical spelling from [`VARIABLES`]).
    Var(&'static str),
    /// `name(word)` or `%{name:string}`.
    Call {
        /// The function.
        func: Func,
        /// Its argument.
        arg: Box<Word>,
    },
    /// `$0` .. `$9`
    Backref(u8),
}

/// Parses an ap_expr in boolean mode, as `ap_expr_parse` does for mod_include.
/// The input is cut at its first NUL byte (Apache takes `strlen`).
pub fn parse(input: &[u8]) -> Result<Expr, ExprError> {
    let input = c_str(input);
    let st = St {
        total: input.len(),
        depth: Cell::new(0),
    };
    let res = (|| {
        let (rest, root) = expr(&st, input)?;
        let (rest, _) = ws(rest)?;
        if !rest.is_empty() {
            // a scanner error ("Parse error near '$'") says more than "syntax error"
            lexeme(rest)?;
            return Err(syntax(rest));
        }
        Ok(root)
    })();
    match res {
        Ok(root) => Ok(Expr { root }),
        Err(Err::Error(e) | Err::Failure(e)) => {
            let at = st.total - e.rest_len;
            let end = if e.len == 0 {
                at
            } else {
                (at + e.len).min(st.total)
            };
            Err(ExprError::new(Span::new(at, end), e.message))
        }
        Err(Err::Incomplete(_)) => Err(ExprError::new(
            Span::new(st.total, st.total),
            "syntax error",
        )),
    }
}

// ---------------------------------------------------------------------------------------
// Parser state and errors

struct St {
    total: usize,
    depth: Cell<usize>,
}

impl St {
    fn pos(&self, rest: &[u8]) -> usize {
        self.total - rest.len()
    }
    fn span(&self, from: &[u8], to: &[u8]) -> Span {
        Span::new(self.pos(from), self.pos(to))
    }
    /// Counts one nesting level; the guard gives it back.
    fn enter<'s>(&'s self, at: &[u8]) -> Result<DepthGuard<'s>, Err<PErr>> {
        let d = self.depth.get() + 1;
        if d > MAX_DEPTH {
            return Err(Err::Failure(PErr::at(
                at,
                0,
                "expression nested too deeply",
            )));
        }
        self.depth.set(d);
        Ok(DepthGuard(&self.depth))
    }
}

struct DepthGuard<'s>(&'s Cell<usize>);

impl Drop for DepthGuard<'_> {
    fn drop(&mut self) {
        self.0.set(self.0.get() - 1);
    }
}

/// The parser's error: where (as the length of the rest of the input) and what.
#[derive(Debug)]
struct PErr {
    rest_len: usize,
    len: usize,
    message: Cow<'static, str>,
}

impl PErr {
    fn at(rest: &[u8], len: usize, message: impl Into<Cow<'static, str>>) -> PErr {
        PErr {
            rest_len: rest.len(),
            len: len.min(rest.len()),
            message: message.into(),
        }
    }
}

impl ParseError<&[u8]> for PErr {
    fn from_error_kind(input: &[u8], _: ErrorKind) -> Self {
        PErr::at(input, 1, "syntax error")
    }
    fn append(_: &[u8], _: ErrorKind, other: Self) -> Self {
        other
    }
    fn or(self, other: Self) -> Self {
        // keep the error that got furthest
        if other.rest_len < self.rest_len {
            other
        } else {
            self
        }
    }
}

type PResult<'a, T> = IResult<&'a [u8], T, PErr>;

fn fail(rest: &[u8], len: usize, message: impl Into<Cow<'static, str>>) -> Err<PErr> {
    Err::Failure(PErr::at(rest, len, message))
}

/// bison's message for a token the grammar does not expect here.
fn syntax(rest: &[u8]) -> Err<PErr> {
    let len = if rest.is_empty() { 0 } else { 1 };
    fail(rest, len, "syntax error")
}

/// flex's "anything else is an error" rule.
fn near(rest: &[u8]) -> Err<PErr> {
    fail(
        rest,
        1,
        format!("Parse error near '{}'", rest[0].escape_ascii()),
    )
}

// ---------------------------------------------------------------------------------------
// Lexemes of the INITIAL scanner state

/// `ws <- [ \t\n]*` (only these three: `\r` is "Parse error near '\r'")
fn ws<'a, E: ParseError<&'a [u8]>>(i: &'a [u8]) -> IResult<&'a [u8], &'a [u8], E> {
    take_while(|b| matches!(b, b' ' | b'\t' | b'\n')).parse(i)
}

fn is_id_start(b: u8) -> bool {
    b.is_ascii_alphabetic()
}

fn is_id_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// `ID <- [a-zA-Z][a-zA-Z0-9_]*`
fn ident<'a, E: ParseError<&'a [u8]>>(i: &'a [u8]) -> IResult<&'a [u8], &'a [u8], E> {
    match i.first() {
        Some(&b) if is_id_start(b) => take_while(is_id_char).parse(i),
        _ => Err(Err::Error(E::from_error_kind(i, ErrorKind::Alpha))),
    }
}

/// Delimiters that may follow `m` to start a regex (`"m"[/#$%^,;:_\?\|\^\-\!\.\'\"]`).
fn is_m_delim(b: u8) -> bool {
    b"/#$%^,;:_?|-!.'\"".contains(&b)
}

/// One lexeme of the INITIAL state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lx<'a> {
    Quote(u8),
    VarBegin,
    Backref(u8),
    RegexStart(u8),
    Cmp(CompareOp),
    Reg,
    Nre,
    And,
    Or,
    Not,
    Concat,
    In,
    Unary(&'a [u8]),
    Binary(&'a [u8]),
    True,
    False,
    Digit(&'a [u8]),
    Id(&'a [u8]),
    Punct(u8),
}

/// Reads one lexeme after optional whitespace, with flex's longest-match rule: a keyword
/// only when the identifier run is exactly the keyword (`andx` is an identifier), `m`
/// plus a delimiter starts a regex unless a longer identifier matches (`m_x_` is an
/// identifier), `-eq` is an operator but `-eqx` a binary operator named `eqx`.
fn lexeme(i: &[u8]) -> PResult<'_, Lx<'_>> {
    let (i, _) = ws(i)?;
    let Some(&c) = i.first() else {
        return Err(syntax(i));
    };
    let at = |n: usize, lx: Lx<'static>| Ok((&i[n..], lx));
    match c {
        b'"' | b'\'' => at(1, Lx::Quote(c)),
        b'%' if i.get(1) == Some(&b'{') => at(2, Lx::VarBegin),
        b'$' if i.get(1).is_some_and(u8::is_ascii_digit) => at(2, Lx::Backref(i[1] - b'0')),
        b'/' => at(1, Lx::RegexStart(b'/')),
        b'=' => match i.get(1) {
            Some(b'~') => at(2, Lx::Reg),
            Some(b'=') => at(2, Lx::Cmp(CompareOp::StrEq)),
            _ => at(1, Lx::Cmp(CompareOp::StrEq)),
        },
        b'!' => match i.get(1) {
            Some(b'=') => at(2, Lx::Cmp(CompareOp::StrNe)),
            Some(b'~') => at(2, Lx::Nre),
            _ => at(1, Lx::Not),
        },
        b'<' if i.get(1) == Some(&b'=') => at(2, Lx::Cmp(CompareOp::StrLe)),
        b'<' => at(1, Lx::Cmp(CompareOp::StrLt)),
        b'>' if i.get(1) == Some(&b'=') => at(2, Lx::Cmp(CompareOp::StrGe)),
        b'>' => at(1, Lx::Cmp(CompareOp::StrGt)),
        b'&' if i.get(1) == Some(&b'&') => at(2, Lx::And),
        b'|' if i.get(1) == Some(&b'|') => at(2, Lx::Or),
        b'.' => at(1, Lx::Concat),
        b'(' | b')' | b'{' | b'}' | b',' | b':' => at(1, Lx::Punct(c)),
        b'0'..=b'9' => {
            let (rest, d) = take_while1(|b: u8| b.is_ascii_digit()).parse(i)?;
            Ok((rest, Lx::Digit(d)))
        }
        b'-' => match i.get(1) {
            Some(b) if b.is_ascii_digit() => {
                let (rest, _) = (tag("-"), take_while1(|b: u8| b.is_ascii_digit())).parse(i)?;
                Ok((rest, Lx::Digit(&i[..i.len() - rest.len()])))
            }
            Some(&b) if b.is_ascii_alphabetic() || b == b'_' => {
                let run = i[1..].iter().take_while(|&&b| is_id_char(b)).count();
                if run == 1 {
                    return Ok((&i[2..], Lx::Unary(&i[1..2])));
                }
                let word = &i[1..1 + run];
                let kw = match word {
                    b"in" => Some(Lx::In),
                    b"eq" => Some(Lx::Cmp(CompareOp::IntEq)),
                    b"ne" => Some(Lx::Cmp(CompareOp::IntNe)),
                    b"ge" => Some(Lx::Cmp(CompareOp::IntGe)),
                    b"le" => Some(Lx::Cmp(CompareOp::IntLe)),
                    b"gt" => Some(Lx::Cmp(CompareOp::IntGt)),
                    b"lt" => Some(Lx::Cmp(CompareOp::IntLt)),
                    _ => None,
                };
                Ok((&i[1 + run..], kw.unwrap_or(Lx::Binary(word))))
            }
            _ => Err(near(i)),
        },
        _ if is_id_start(c) => {
            let (rest, id) = ident::<PErr>(i)?;
            if c == b'm' && id.len() <= 2 && i.get(1).is_some_and(|&b| is_m_delim(b)) {
                return Ok((&i[2..], Lx::RegexStart(i[1])));
            }
            let lx = match id {
                b"and" => Lx::And,
                b"or" => Lx::Or,
                b"not" => Lx::Not,
                b"lt" => Lx::Cmp(CompareOp::IntLt),
                b"le" => Lx::Cmp(CompareOp::IntLe),
                b"gt" => Lx::Cmp(CompareOp::IntGt),
                b"ge" => Lx::Cmp(CompareOp::IntGe),
                b"ne" => Lx::Cmp(CompareOp::IntNe),
                b"eq" => Lx::Cmp(CompareOp::IntEq),
                b"in" => Lx::In,
                b"true" => Lx::True,
                b"false" => Lx::False,
                _ => Lx::Id(id),
            };
            Ok((rest, lx))
        }
        _ => Err(near(i)),
    }
}

/// Expects the punctuation `p` as the next lexeme.
fn punct(p: u8) -> impl Fn(&[u8]) -> PResult<'_, ()> {
    move |i| match lexeme(i) {
        Ok((rest, Lx::Punct(q))) if q == p => Ok((rest, ())),
        Ok(_) => {
            let (j, _) = ws::<PErr>(i)?;
            Err(syntax(j))
        }
        Err(e) => Err(e),
    }
}

// ---------------------------------------------------------------------------------------
// Grammar rules

/// `expr <- and (OR expr)?`
fn expr<'a>(st: &St, i: &'a [u8]) -> PResult<'a, Cond> {
    let _g = st.enter(i)?;
    let (rest, left) = and_expr(st, i)?;
    match lexeme(rest) {
        Ok((after, Lx::Or)) => {
            let (rest, right) = expr(st, after)?;
            let span = Span::new(left.span.start, right.span.end);
            Ok((
                rest,
                Spanned::new(CondKind::Or(Box::new(left), Box::new(right)), span),
            ))
        }
        _ => Ok((rest, left)),
    }
}

/// `and <- not (AND and)?`
fn and_expr<'a>(st: &St, i: &'a [u8]) -> PResult<'a, Cond> {
    let _g = st.enter(i)?;
    let (rest, left) = not_expr(st, i)?;
    match lexeme(rest) {
        Ok((after, Lx::And)) => {
            let (rest, right) = and_expr(st, after)?;
            let span = Span::new(left.span.start, right.span.end);
            Ok((
                rest,
                Spanned::new(CondKind::And(Box::new(left), Box::new(right)), span),
            ))
        }
        _ => Ok((rest, left)),
    }
}

/// `not <- NOT not / primary`
fn not_expr<'a>(st: &St, i: &'a [u8]) -> PResult<'a, Cond> {
    let _g = st.enter(i)?;
    let (start, _) = ws(i)?;
    match lexeme(i) {
        Ok((after, Lx::Not)) => {
            let (rest, inner) = not_expr(st, after)?;
            let span = Span::new(st.pos(start), inner.span.end);
            Ok((rest, Spanned::new(CondKind::Not(Box::new(inner)), span)))
        }
        _ => primary(st, i),
    }
}

/// `primary <- TRUE / FALSE / '(' expr ')' / UNARY word / word compare_tail`
fn primary<'a>(st: &St, i: &'a [u8]) -> PResult<'a, Cond> {
    let (start, _) = ws(i)?;
    let (after, lx) = lexeme(i)?;
    let done =
        |rest: &'a [u8], kind: CondKind| Ok((rest, Spanned::new(kind, st.span(start, rest))));
    match lx {
        Lx::True => done(after, CondKind::True),
        Lx::False => done(after, CondKind::False),
        Lx::Punct(b'(') => {
            let (rest, inner) = expr(st, after)?;
            let (rest, _) = punct(b')')(rest)?;
            // `'(' expr ')'` is the inner node itself; widen its span over the parens
            let mut inner = inner;
            inner.span = st.span(start, rest);
            Ok((rest, inner))
        }
        Lx::Unary(name) => {
            let (rest, arg) = word(st, after)?;
            let op = unary_op(name, &arg).map_err(|m| fail(&start[1..], name.len(), m))?;
            done(rest, CondKind::Unary { op, arg })
        }
        _ => {
            let (rest, left) = word(st, i)?;
            compare_tail(st, start, rest, left)
        }
    }
}

/// `compare_tail <- BINARY word / CMP word / IN wordlist / (REG / NRE) regex`
fn compare_tail<'a>(st: &St, start: &'a [u8], i: &'a [u8], left: Word) -> PResult<'a, Cond> {
    let (op_at, _) = ws(i)?;
    let (after, lx) = lexeme(i)?;
    let done =
        |rest: &'a [u8], kind: CondKind| Ok((rest, Spanned::new(kind, st.span(start, rest))));
    match lx {
        Lx::Cmp(op) => {
            let (rest, right) = word(st, after)?;
            done(rest, CondKind::Compare { op, left, right })
        }
        Lx::Binary(name) => {
            let (rest, right) = word(st, after)?;
            let op = binary_op(name, &right).map_err(|m| fail(&op_at[1..], name.len(), m))?;
            done(rest, CondKind::Binary { op, left, right })
        }
        Lx::In => {
            let (rest, list) = wordlist(st, after)?;
            done(rest, CondKind::In { needle: left, list })
        }
        Lx::Reg | Lx::Nre => {
            let (rest, regex) = regex(st, after)?;
            done(
                rest,
                CondKind::Match {
                    negated: lx == Lx::Nre,
                    subject: left,
                    regex,
                },
            )
        }
        _ => Err(syntax(op_at)),
    }
}

/// `wordlist <- '{' word (',' word)* '}' / ID '(' word ')'`
fn wordlist<'a>(st: &St, i: &'a [u8]) -> PResult<'a, Vec<Word>> {
    let (start, _) = ws(i)?;
    match lexeme(i)? {
        (after, Lx::Punct(b'{')) => {
            let mut list = Vec::new();
            let mut rest = after;
            loop {
                let (r, w) = word(st, rest)?;
                list.push(w);
                match lexeme(r)? {
                    (r, Lx::Punct(b',')) => rest = r,
                    (r, Lx::Punct(b'}')) => return Ok((r, list)),
                    _ => return Err(syntax(ws::<PErr>(r)?.0)),
                }
            }
        }
        (after, Lx::Id(name)) => {
            // core registers no list-returning function, so any call is an error
            let (rest, _) = punct(b'(')(after)?;
            let (rest, _) = word(st, rest)?;
            let (_, _) = punct(b')')(rest)?;
            Err(fail(
                start,
                name.len(),
                format!(
                    "List-returning function '{}' does not exist",
                    name.escape_ascii()
                ),
            ))
        }
        _ => Err(syntax(start)),
    }
}

/// `word <- atom (CONCAT atom)*`, nesting to the right (`%right T_OP_CONCAT`).
fn word<'a>(st: &St, i: &'a [u8]) -> PResult<'a, Word> {
    let (mut rest, first) = atom(st, i)?;
    let mut atoms = vec![first];
    let mut guards = Vec::new();
    while let Ok((after, Lx::Concat)) = lexeme(rest) {
        guards.push(st.enter(rest)?);
        let (r, a) = atom(st, after)?;
        atoms.push(a);
        rest = r;
    }
    drop(guards);
    let mut acc = atoms.pop().expect("at least one atom");
    while let Some(a) = atoms.pop() {
        let span = Span::new(a.span.start, acc.span.end);
        acc = Spanned::new(WordKind::Concat(Box::new(a), Box::new(acc)), span);
    }
    Ok((rest, acc))
}

/// `atom <- DIGIT / var / BACKREF / ID '(' word ')' / quote string? quote`
fn atom<'a>(st: &St, i: &'a [u8]) -> PResult<'a, Word> {
    let _g = st.enter(i)?;
    let (start, _) = ws(i)?;
    let (after, lx) = lexeme(i)?;
    let done =
        |rest: &'a [u8], kind: WordKind| Ok((rest, Spanned::new(kind, st.span(start, rest))));
    match lx {
        Lx::Digit(d) => done(after, WordKind::Digit(d.to_vec())),
        Lx::Backref(n) => done(after, WordKind::Backref(n)),
        Lx::VarBegin => var(st, start, after),
        Lx::Id(name) => {
            let (rest, _) = punct(b'(')(after)?;
            let (rest, arg) = word(st, rest)?;
            let (rest, _) = punct(b')')(rest)?;
            let func = func(name).map_err(|m| fail(start, name.len(), m))?;
            done(
                rest,
                WordKind::Call {
                    func,
                    arg: Box::new(arg),
                },
            )
        }
        Lx::Quote(q) => {
            let (rest, parts) = string(st, after, Some(q))?;
            match parts {
                None => done(rest, WordKind::String(Vec::new())),
                Some(mut w) => {
                    w.span = st.span(start, rest);
                    Ok((rest, w))
                }
            }
        }
        _ => Err(syntax(start)),
    }
}

/// `var <- '%{' ID '}' / '%{' ID ':' string '}'` (the `var` and `vararg` scanner states;
/// no whitespace is allowed inside).
fn var<'a>(st: &St, start: &'a [u8], i: &'a [u8]) -> PResult<'a, Word> {
    let name_at = i;
    let (rest, name) = match ident::<PErr>(i) {
        Ok(x) => x,
        Err(_) => return Err(var_char_error(i)),
    };
    match rest.first() {
        Some(b'}') => {
            let rest = &rest[1..];
            let canonical = VARIABLES
                .iter()
                .find(|v| v.as_bytes().eq_ignore_ascii_case(name))
                .ok_or_else(|| {
                    fail(
                        name_at,
                        name.len(),
                        format!("Variable '{}' does not exist", name.escape_ascii()),
                    )
                })?;
            Ok((
                rest,
                Spanned::new(WordKind::Var(canonical), st.span(start, rest)),
            ))
        }
        Some(b':') => {
            let (rest, arg) = string(st, &rest[1..], None)?;
            // `string` needs at least one part: `%{tolower:}` is a syntax error
            let arg = arg.ok_or_else(|| syntax(&rest[rest.len()..]))?;
            let func = func(name).map_err(|m| fail(name_at, name.len(), m))?;
            Ok((
                rest,
                Spanned::new(
                    WordKind::Call {
                        func,
                        arg: Box::new(arg),
                    },
                    st.span(start, rest),
                ),
            ))
        }
        _ => Err(var_char_error(rest)),
    }
}

fn var_char_error(rest: &[u8]) -> Err<PErr> {
    match rest.first() {
        None => fail(rest, 0, "Unterminated string or variable"),
        Some(b'\n') => fail(rest, 1, "Unterminated string or variable"),
        Some(&c) => fail(
            rest,
            1,
            format!("Invalid character in variable name '{}'", c.escape_ascii()),
        ),
    }
}

/// The inside of a quoted string (`Some(quote)`, scanner state `str`) or of a `%{f:...}`
/// argument (`None`, state `vararg`), after the opening quote or colon, up to and
/// including the closing quote or `}`. Returns the parts folded to the left (`string :
/// string strpart`), or `None` when there is no part at all.
fn string<'a>(st: &St, i: &'a [u8], quote: Option<u8>) -> PResult<'a, Option<Word>> {
    let mut acc: Option<Word> = None;
    let mut nparts = 0usize;
    let mut buf: Vec<u8> = Vec::new();
    let mut buf_start = i;
    let mut k = 0usize;
    // Emits the literal collected so far as one T_STRING (cut at NUL like apr_pstrdup).
    macro_rules! flush {
        () => {
            if !buf.is_empty() {
                nparts += 1;
                if nparts > MAX_DEPTH {
                    return Err(fail(&i[k..], 0, "expression nested too deeply"));
                }
                let lit = super::c_str(&buf).to_vec();
                let span = st.span(buf_start, &i[k..]);
                push_part(&mut acc, Spanned::new(WordKind::String(lit), span));
                buf.clear();
            }
        };
    }
    loop {
        let Some(&c) = i.get(k) else {
            return Err(fail(&i[k..], 0, "Unterminated string or variable"));
        };
        if buf.is_empty() {
            buf_start = &i[k..];
        }
        match c {
            b'\n' => return Err(fail(&i[k..], 1, "Unterminated string or variable")),
            b'"' | b'\'' if quote == Some(c) => {
                flush!();
                return Ok((&i[k + 1..], acc));
            }
            b'"' | b'\'' if quote.is_none() => {
                // no rule of the `vararg` state matches a quote (flex would "jam")
                return Err(fail(&i[k..], 1, "Invalid character in function argument"));
            }
            b'}' if quote.is_none() => {
                flush!();
                return Ok((&i[k + 1..], acc));
            }
            b'\\' => {
                let (len, byte) = escape(&i[k..])?;
                buf.push(byte);
                k += len;
            }
            b'$' if i.get(k + 1).is_some_and(u8::is_ascii_digit) => {
                flush!();
                nparts += 1;
                let n = i[k + 1] - b'0';
                push_part(
                    &mut acc,
                    Spanned::new(
                        WordKind::Backref(n),
                        Span::new(st.pos(&i[k..]), st.pos(&i[k + 2..])),
                    ),
                );
                k += 2;
            }
            b'%' if i.get(k + 1) == Some(&b'{') => {
                flush!();
                nparts += 1;
                if nparts > MAX_DEPTH {
                    return Err(fail(&i[k..], 0, "expression nested too deeply"));
                }
                let _g = st.enter(&i[k..])?;
                let (rest, w) = var(st, &i[k..], &i[k + 2..])?;
                push_part(&mut acc, w);
                k = i.len() - rest.len();
            }
            _ => {
                buf.push(c);
                k += 1;
            }
        }
        if buf.len() >= MAX_STRING_LEN {
            return Err(fail(buf_start, 0, "String too long"));
        }
    }
}

/// Appends a part to a string, nesting to the left like `string : string strpart`.
fn push_part(acc: &mut Option<Word>, w: Word) {
    *acc = Some(match acc.take() {
        None => w,
        Some(a) => {
            let span = Span::new(a.span.start, w.span.end);
            Spanned::new(WordKind::Concat(Box::new(a), Box::new(w)), span)
        }
    });
}

/// A backslash escape inside a string: `\ooo` (octal, up to 3 digits, at most 0xff),
/// `\n \r \t \b \f`, or `\x` for any other byte `x`. A backslash followed by a longer
/// run of digits than the octal rule takes, or by 8 or 9, is "Bad escape sequence"
/// (flex prefers the longer `\\[0-9]+` rule). Returns the bytes consumed and the byte.
fn escape(i: &[u8]) -> Result<(usize, u8), Err<PErr>> {
    let digits = i[1..].iter().take_while(|b| b.is_ascii_digit()).count();
    let octal = i[1..]
        .iter()
        .take(3)
        .take_while(|b| (b'0'..=b'7').contains(b))
        .count();
    if digits > 0 {
        if digits > octal {
            return Err(fail(i, 1 + digits, "Bad escape sequence"));
        }
        let v = i[1..=octal]
            .iter()
            .fold(0u32, |v, &b| v * 8 + u32::from(b - b'0'));
        if v > 0xff {
            return Err(fail(i, 1 + octal, "Escape sequence out of bound"));
        }
        return Ok((1 + octal, v as u8));
    }
    match i.get(1) {
        None => Err(fail(i, 1, "Unterminated string or variable")),
        Some(b'n') => Ok((2, b'\n')),
        Some(b'r') => Ok((2, b'\r')),
        Some(b't') => Ok((2, b'\t')),
        Some(b'b') => Ok((2, 0x08)),
        Some(b'f') => Ok((2, 0x0c)),
        Some(&b) => Ok((2, b)),
    }
}

/// `regex <- ('/' / 'm' delim) [^delim]* delim 'i'?` — no escapes: the pattern ends at
/// the first delimiter byte, whatever precedes it.
fn regex<'a>(st: &St, i: &'a [u8]) -> PResult<'a, Spanned<Regex>> {
    let (start, _) = ws(i)?;
    let (after, lx) = lexeme(i)?;
    let Lx::RegexStart(delim) = lx else {
        return Err(syntax(start));
    };
    let Some(n) = memchr::memchr(delim, after) else {
        // EOF inside the regex: the scanner ends the input, bison reports a syntax error
        return Err(fail(&after[after.len()..], 0, "syntax error"));
    };
    if n >= MAX_STRING_LEN {
        return Err(fail(after, 0, "Regexp too long"));
    }
    let pattern = after[..n].to_vec();
    let mut rest = &after[n + 1..];
    let case_insensitive = rest.first() == Some(&b'i');
    if case_insensitive {
        rest = &rest[1..];
    }
    Ok((
        rest,
        Spanned::new(
            Regex {
                pattern,
                case_insensitive,
            },
            st.span(start, rest),
        ),
    ))
}

// ---------------------------------------------------------------------------------------
// Name resolution (`include_expr_lookup`, `core_expr_lookup`, `expr_lookup_not_found`)

fn func(name: &[u8]) -> Result<Func, String> {
    if name.eq_ignore_ascii_case(b"file") || name.eq_ignore_ascii_case(b"filesize") {
        return Err(format!(
            "{} not available in restricted context",
            name.to_ascii_lowercase().escape_ascii()
        ));
    }
    FUNCS
        .iter()
        .find(|(n, _)| n.as_bytes().eq_ignore_ascii_case(name))
        .map(|(_, f)| *f)
        .ok_or_else(|| format!("Function '{}' does not exist", name.escape_ascii()))
}

/// Unary operator names are compared case-sensitively (`strcmp` in `core_expr_lookup`).
fn unary_op(name: &[u8], arg: &Word) -> Result<UnaryOp, String> {
    let op = match name {
        b"n" => UnaryOp::N,
        b"z" => UnaryOp::Z,
        b"T" => UnaryOp::T,
        b"R" => UnaryOp::R,
        b"F" => UnaryOp::F,
        b"U" => UnaryOp::U,
        b"A" => UnaryOp::A,
        b"d" | b"e" | b"f" | b"s" | b"L" | b"h" | b"x" => {
            return Err(format!(
                "-{} not available in restricted context",
                name.escape_ascii()
            ))
        }
        _ => {
            return Err(format!(
                "Unary operator '-{}' does not exist",
                name.escape_ascii()
            ))
        }
    };
    if op == UnaryOp::R {
        subnet_operand("R", arg)?;
    }
    Ok(op)
}

/// Binary operator names are compared case-insensitively.
fn binary_op(name: &[u8], right: &Word) -> Result<BinaryOp, String> {
    let op = [
        BinaryOp::Ipmatch,
        BinaryOp::Fnmatch,
        BinaryOp::Strmatch,
        BinaryOp::Strcmatch,
    ]
    .into_iter()
    .find(|op| op.name().as_bytes().eq_ignore_ascii_case(name))
    .ok_or_else(|| format!("Binary operator '-{}' does not exist", name.escape_ascii()))?;
    if op == BinaryOp::Ipmatch {
        subnet_operand("ipmatch", right)?;
    }
    Ok(op)
}

/// `-R` and `-ipmatch` parse their subnet when the expression is parsed
/// (`subnet_parse_arg`), so a bad one is an error even where evaluation never goes.
fn subnet_operand(op: &str, word: &Word) -> Result<(), String> {
    let WordKind::String(text) = &word.node else {
        return Err(format!(
            "-{op} requires subnet/netmask as constant argument"
        ));
    };
    match super::subnet::Subnet::parse(text) {
        Some(_) => Ok(()),
        None => Err("parsing of subnet/netmask failed".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(n: &Word) -> String {
        match &n.node {
            WordKind::Digit(d) => format!("#{}", String::from_utf8_lossy(d)),
            WordKind::String(s) => format!("{:?}", String::from_utf8_lossy(s)),
            WordKind::Concat(a, b) => format!("(. {} {})", w(a), w(b)),
            WordKind::Var(v) => format!("%{{{v}}}"),
            WordKind::Call { func, arg } => format!("{}({})", func.name(), w(arg)),
            WordKind::Backref(n) => format!("${n}"),
        }
    }

    fn c(n: &Cond) -> String {
        match &n.node {
            CondKind::True => "true".into(),
            CondKind::False => "false".into(),
            CondKind::Not(a) => format!("(! {})", c(a)),
            CondKind::And(a, b) => format!("(&& {} {})", c(a), c(b)),
            CondKind::Or(a, b) => format!("(|| {} {})", c(a), c(b)),
            CondKind::Compare { op, left, right } => {
                format!("({} {} {})", op.as_str(), w(left), w(right))
            }
            CondKind::In { needle, list } => {
                format!(
                    "(in {} {})",
                    w(needle),
                    list.iter().map(w).collect::<Vec<_>>().join(" ")
                )
            }
            CondKind::Match {
                negated,
                subject,
                regex,
            } => format!(
                "({} {} /{}/{})",
                if *negated { "!~" } else { "=~" },
                w(subject),
                String::from_utf8_lossy(&regex.pattern),
                if regex.case_insensitive { "i" } else { "" }
            ),
            CondKind::Unary { op, arg } => format!("(-{} {})", op.name(), w(arg)),
            CondKind::Binary { op, left, right } => {
                format!("(-{} {} {})", op.name(), w(left), w(right))
            }
        }
    }

    fn tree(s: &str) -> String {
        c(&parse(s.as_bytes())
            .unwrap_or_else(|e| panic!("{s:?}: {e}"))
            .root)
    }

    fn err(s: &str) -> String {
        parse(s.as_bytes()).expect_err(s).message
    }

    #[test]
    fn precedence() {
        assert_eq!(tree("true || false && false"), "(|| true (&& false false))");
        assert_eq!(tree("true && false || false"), "(|| (&& true false) false)");
        assert_eq!(tree("!true && false"), "(&& (! true) false)");
        assert_eq!(tree("!(true && false)"), "(! (&& true false))");
        assert_eq!(
            tree("true and not false or false"),
            "(|| (&& true (! false)) false)"
        );
        assert_eq!(
            tree(
                "a || b || c"
                    .replace('a', "true")
                    .replace('b', "false")
                    .replace('c', "true")
                    .as_str()
            ),
            "(|| true (|| false true))"
        );
        assert_eq!(tree("!'a' == 'b'"), r#"(! (== "a" "b"))"#);
    }

    #[test]
    fn comparisons() {
        assert_eq!(tree("'a' == 'b'"), r#"(== "a" "b")"#);
        assert_eq!(tree("'a' = 'b'"), r#"(== "a" "b")"#);
        assert_eq!(tree("'a'!='b'"), r#"(!= "a" "b")"#);
        assert_eq!(tree("'a' < 'b'"), r#"(< "a" "b")"#);
        assert_eq!(tree("'a' <= 'b'"), r#"(<= "a" "b")"#);
        assert_eq!(tree("'a' > 'b'"), r#"(> "a" "b")"#);
        assert_eq!(tree("'a' >= 'b'"), r#"(>= "a" "b")"#);
        assert_eq!(tree("1 -eq 2"), "(-eq #1 #2)");
        assert_eq!(tree("1 -ne -2"), "(-ne #1 #-2)");
        assert_eq!(tree("1 -lt 2"), "(-lt #1 #2)");
        assert_eq!(tree("1 -le 2"), "(-le #1 #2)");
        assert_eq!(tree("1 -gt 2"), "(-gt #1 #2)");
        assert_eq!(tree("1 -ge 2"), "(-ge #1 #2)");
        assert_eq!(tree("1 eq 2"), "(-eq #1 #2)");
        assert_eq!(tree("1 lt 2 and 1 gt 0"), "(&& (-lt #1 #2) (-gt #1 #0))");
        assert_eq!(tree("1 ne 2"), "(-ne #1 #2)");
        assert_eq!(tree("1 le 2"), "(-le #1 #2)");
        assert_eq!(tree("1 ge 2"), "(-ge #1 #2)");
    }

    #[test]
    fn regexes() {
        assert_eq!(tree("'abc' =~ /b(c)/"), r#"(=~ "abc" /b(c)/)"#);
        assert_eq!(tree("'abc' !~ m#B#i"), r#"(!~ "abc" /B/i)"#);
        assert_eq!(tree(r"'a/b' =~ m|a/b|"), r#"(=~ "a/b" /a/b/)"#);
        assert_eq!(tree(r"'a' =~ /a\/"), r#"(=~ "a" /a\/)"#);
        // flex's longest match: `m_a_` is an identifier, `m_._` a regex
        assert_eq!(err("'a' =~ m_a_"), "syntax error");
        assert_eq!(tree("'a' =~ m_._"), r#"(=~ "a" /./)"#);
        assert_eq!(err("'a' =~ /abc"), "syntax error");
        assert_eq!(err("'a' =~ 'a'"), "syntax error");
        assert_eq!(err("'a' =~ /a/x"), "syntax error");
    }

    #[test]
    fn words() {
        assert_eq!(tree("v('a') == 'x'"), r#"(== v("a") "x")"#);
        assert_eq!(
            tree("V ( 'a' ) == reqenv('b')"),
            r#"(== v("a") reqenv("b"))"#
        );
        assert_eq!(
            tree("%{v:a} == %{TOLOWER:A%{API_VERSION}}"),
            r#"(== v("a") tolower((. "A" %{API_VERSION})))"#
        );
        assert_eq!(
            tree("'a' . 'b' . 'c' == 'abc'"),
            r#"(== (. "a" (. "b" "c")) "abc")"#
        );
        assert_eq!(
            tree("'x%{api_version}y$1z' == ''"),
            r#"(== (. (. (. (. "x" %{API_VERSION}) "y") $1) "z") "")"#
        );
        assert_eq!(tree("$1 == \"\""), r#"(== $1 "")"#);
        assert_eq!(tree("'a' in {'a', 'b'}"), r#"(in "a" "a" "b")"#);
        assert_eq!(tree("'a' -in {'a'}"), r#"(in "a" "a")"#);
        assert_eq!(tree("-n 'a'"), r#"(-n "a")"#);
        assert_eq!(tree("-z v('x')"), r#"(-z v("x"))"#);
        assert_eq!(tree("-T 'off'"), r#"(-T "off")"#);
        assert_eq!(tree("'a' -strmatch 'a*'"), r#"(-strmatch "a" "a*")"#);
        assert_eq!(tree("'a' -STRCMATCH 'A*'"), r#"(-strcmatch "a" "A*")"#);
        assert_eq!(
            tree("%{DOCUMENT_URI} == '/'"),
            r#"(== %{DOCUMENT_URI} "/")"#
        );
    }

    #[test]
    fn string_escapes() {
        assert_eq!(tree(r"'a\'b' == 'a\x'"), r#"(== "a'b" "ax")"#);
        assert_eq!(tree(r"'\101\n\t' == ''"), r#"(== "A\n\t" "")"#);
        assert_eq!(tree(r#"'a"b' == "a'b""#), r#"(== "a\"b" "a'b")"#);
        assert_eq!(tree(r"'a\0b' == 'a%}$'"), r#"(== "a" "a%}$")"#);
        assert_eq!(err(r"'\8' == ''"), "Bad escape sequence");
        assert_eq!(err(r"'\0123' == ''"), "Bad escape sequence");
        assert_eq!(err(r"'\777' == ''"), "Escape sequence out of bound");
        assert_eq!(err("'a\nb' == ''"), "Unterminated string or variable");
        assert_eq!(err("'abc"), "Unterminated string or variable");
        // the scanner's buffer is MAX_STRING_LEN (8192) bytes including the NUL
        let ok = format!("'{}' == ''", "x".repeat(8191));
        assert!(parse(ok.as_bytes()).is_ok());
        assert_eq!(
            err(&format!("'{}' == ''", "x".repeat(8192))),
            "String too long"
        );
        assert!(parse(format!("'' =~ /{}/", "x".repeat(8191)).as_bytes()).is_ok());
        assert_eq!(
            err(&format!("'' =~ /{}/", "x".repeat(8192))),
            "Regexp too long"
        );
    }

    #[test]
    fn errors() {
        assert_eq!(err(""), "syntax error");
        assert_eq!(err("a"), "syntax error");
        assert_eq!(err("'a'"), "syntax error");
        assert_eq!(err("$a = x"), "Parse error near '$'");
        assert_eq!(err("true\r"), "Parse error near '\\r'");
        assert_eq!(err("true == 'a'"), "syntax error");
        assert_eq!(err("foo('a') == 'b'"), "Function 'foo' does not exist");
        assert_eq!(
            err("file('a') == 'b'"),
            "file not available in restricted context"
        );
        assert_eq!(err("-d 'a'"), "-d not available in restricted context");
        assert_eq!(err("-N 'a'"), "Unary operator '-N' does not exist");
        assert_eq!(err("'a' -foo 'b'"), "Binary operator '-foo' does not exist");
        assert_eq!(err("%{FOO} == 'a'"), "Variable 'FOO' does not exist");
        assert_eq!(
            err("%{ FOO} == 'a'"),
            "Invalid character in variable name ' '"
        );
        assert_eq!(err("%{v:} == 'a'"), "syntax error");
        assert_eq!(
            err("'a' in lst('x')"),
            "List-returning function 'lst' does not exist"
        );
        assert_eq!(
            err("-R v('a')"),
            "-R requires subnet/netmask as constant argument"
        );
        // Apache resolves the name while reducing, before it sees the syntax error
        assert_eq!(err("true || foo('x')"), "Function 'foo' does not exist");
        assert_eq!(
            err("true || foo('x') == ''"),
            "Function 'foo' does not exist"
        );
        assert_eq!(err("('a') == 'a'"), "syntax error");
        assert_eq!(err("- 1 -eq 1"), "Parse error near '-'");
    }

    #[test]
    fn spans_cover_source() {
        let src = "v('a') == 'x%{API_VERSION}'";
        let e = parse(src.as_bytes()).unwrap();
        assert_eq!(&src[e.root.span.range()], src);
        let CondKind::Compare { left, right, .. } = &e.root.node else {
            panic!()
        };
        assert_eq!(&src[left.span.range()], "v('a')");
        assert_eq!(&src[right.span.range()], "'x%{API_VERSION}'");
        let e = parse(b"true && %{FOO}").unwrap_err();
        assert_eq!(e.span, Span::new(10, 13));
    }

    #[test]
    fn deep_input_is_an_error_not_a_crash() {
        for s in [
            "(".repeat(100_000),
            "!".repeat(100_000),
            "'a'.".repeat(100_000),
        ] {
            assert_eq!(err(&s), "expression nested too deeply");
        }
        let ok = format!("{}true{}", "(".repeat(30), ")".repeat(30));
        assert_eq!(tree(&ok), "true");
    }
}
