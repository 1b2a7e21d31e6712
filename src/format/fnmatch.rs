//! Shell-style wildcard matching as APR's `apr_fnmatch` does it, for ap_expr's
//! `-strmatch` (flags 0), `-strcmatch` (case-blind) and `-fnmatch` (`/` only
//! matched by `/`).
//!
//! Written by hand rather than with a glob crate: the answers must be APR's in
//! its corner cases (an unterminated `[` is a literal, `]` first in a class is a
//! member, `a-]` is not a range, `\/` separates path segments, ranges compare
//! bytes as signed `char`s, case folding is ASCII only), which glob crates
//! define differently or refuse.

/// Pattern elements tried per match at most. Matching is O(pattern × string) at
/// worst (`*a*a*a…b` against `aaaa…`), as in APR; past this the answer is `None`
/// rather than a deploy that never ends.
const MAX_STEPS: usize = 50_000_000;

/// Does `string` match `pattern`? `None` when finding out would take more than
/// [`MAX_STEPS`].
pub(crate) fn fnmatch(pattern: &[u8], string: &[u8], pathname: bool, nocase: bool) -> Option<bool> {
    let mut budget = MAX_STEPS;
    if !pathname {
        return segment(pattern, string, nocase, &mut budget);
    }
    // With FNM_PATHNAME, `/` (or `\/` in the pattern) separates segments that are
    // matched on their own, and a wildcard never crosses one.
    let patterns = split_pattern(pattern);
    let strings: Vec<&[u8]> = string.split(|&b| b == b'/').collect();
    if patterns.len() != strings.len() {
        return Some(false);
    }
    for (p, s) in patterns.iter().zip(&strings) {
        if !segment(p, s, nocase, &mut budget)? {
            return Some(false);
        }
    }
    Some(true)
}

/// Splits at `/` and `\/`, skipping other escaped pairs.
fn split_pattern(pattern: &[u8]) -> Vec<&[u8]> {
    let mut parts = Vec::new();
    let (mut start, mut i) = (0, 0);
    while i < pattern.len() {
        match pattern[i] {
            b'/' => {
                parts.push(&pattern[start..i]);
                start = i + 1;
            }
            b'\\' if pattern.get(i + 1) == Some(&b'/') => {
                parts.push(&pattern[start..i]);
                i += 1;
                start = i + 1;
            }
            b'\\' => i += 1,
            _ => {}
        }
        i += 1;
    }
    parts.push(&pattern[start..]);
    parts
}

/// One element of a pattern.
enum Token<'p> {
    Star,
    Any,
    Byte(u8),
    /// A bracket expression: its members (without the brackets), negated or not.
    Class(&'p [u8], bool),
}

/// Reads the token at the start of `p`; returns it and its length.
fn token(p: &[u8]) -> (Token<'_>, usize) {
    match p[0] {
        b'*' => (Token::Star, 1),
        b'?' => (Token::Any, 1),
        b'\\' if p.len() > 1 => (Token::Byte(p[1]), 2),
        b'[' => match class_end(p) {
            Some((body_start, end)) => {
                (Token::Class(&p[body_start..end], body_start == 2), end + 1)
            }
            // Not a balanced bracket expression: a literal `[`.
            None => (Token::Byte(b'['), 1),
        },
        b => (Token::Byte(b), 1),
    }
}

/// For `p` starting with `[`: where the members start and the index of the
/// closing `]`, or `None` when the expression is not terminated.
fn class_end(p: &[u8]) -> Option<(usize, usize)> {
    let mut i = 1;
    if matches!(p.get(i), Some(b'!' | b'^')) {
        i += 1;
    }
    let body = i;
    let mut first = true;
    while i < p.len() {
        if !first || p[i] != b']' {
            if p[i] == b']' {
                return Some((body, i));
            }
            if p[i] == b'\\' {
                i += 1;
                if i == p.len() {
                    return None;
                }
            }
        }
        first = false;
        // A range `x-y` (but `x-]` is `x`, `-`, then the end).
        if p.get(i + 1) == Some(&b'-') && p.get(i + 2) != Some(&b']') {
            i += if p.get(i + 2) == Some(&b'\\') { 3 } else { 2 };
            if i >= p.len() {
                return None;
            }
        }
        i += 1;
    }
    None
}

/// Whether byte `c` is a member of the bracket expression `body`.
fn in_class(body: &[u8], c: u8, nocase: bool) -> bool {
    let signed = |b: u8| b as i8; // APR compares plain (signed) chars
    let mut i = 0;
    let mut first = true;
    let mut hit = false;
    while i < body.len() {
        if !(first && body[i] == b']') && body[i] == b'\\' {
            i += 1;
        }
        first = false;
        let lo = body[i];
        if body.get(i + 1) == Some(&b'-') && i + 2 < body.len() {
            i += if body[i + 2] == b'\\' { 3 } else { 2 };
            let hi = body[i];
            let plain = signed(c) >= signed(lo) && signed(c) <= signed(hi);
            let folded = nocase
                && (c.is_ascii_uppercase() || lo.is_ascii_uppercase() || hi.is_ascii_uppercase())
                && signed(c.to_ascii_lowercase()) >= signed(lo.to_ascii_lowercase())
                && signed(c.to_ascii_lowercase()) <= signed(hi.to_ascii_lowercase());
            hit |= plain || folded;
        } else {
            hit |= c == lo || (nocase && c.eq_ignore_ascii_case(&lo));
        }
        i += 1;
    }
    hit
}

/// Matches one segment (no `/` semantics), backtracking over the last `*`.
fn segment(pattern: &[u8], string: &[u8], nocase: bool, budget: &mut usize) -> Option<bool> {
    let (mut p, mut s) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    loop {
        *budget = budget.checked_sub(1)?;
        if p < pattern.len() {
            let (tok, len) = token(&pattern[p..]);
            let matched = match tok {
                Token::Star => {
                    star = Some((p + len, s));
                    p += len;
                    continue;
                }
                _ if s == string.len() => false,
                Token::Any => true,
                Token::Byte(b) => string[s] == b || (nocase && string[s].eq_ignore_ascii_case(&b)),
                Token::Class(body, negated) => in_class(body, string[s], nocase) != negated,
            };
            if matched {
                p += len;
                s += 1;
                continue;
            }
        } else if s == string.len() {
            return Some(true);
        }
        // Mismatch: let the last `*` take one more byte, if there is one.
        match star {
            Some((sp, ss)) if ss < string.len() => {
                star = Some((sp, ss + 1));
                p = sp;
                s = ss + 1;
            }
            _ => return Some(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fnmatch;

    fn m(p: &str, s: &str) -> bool {
        fnmatch(p.as_bytes(), s.as_bytes(), false, false).unwrap()
    }

    fn f(p: &[u8], s: &[u8], pathname: bool, nocase: bool) -> bool {
        fnmatch(p, s, pathname, nocase).unwrap()
    }

    #[test]
    fn quadratic_patterns_give_up() {
        // Every start of the star retries the whole 20,000-byte tail.
        let pattern = "*".to_string() + &"a".repeat(20_000) + "b";
        let string = "a".repeat(40_000);
        assert_eq!(
            fnmatch(pattern.as_bytes(), string.as_bytes(), false, false),
            None
        );
    }

    #[test]
    fn wildcards() {
        assert!(m("*.css", "app.css"));
        assert!(!m("*.css", "app.js"));
        assert!(m("a?c", "abc"));
        assert!(!m("a?c", "ac"));
        assert!(m("*", ""));
        assert!(m("**a**", "xa"));
        assert!(!m("a*", ""));
        assert!(m("a*b*c", "axxbyyc"));
        assert!(!m("a*b*c", "axxbyy"));
        assert!(m("*/x", "a/b/x"), "no FNM_PATHNAME: * crosses /");
        assert!(!f(b"*/x", b"a/b/x", true, false));
        assert!(f(b"*/*/x", b"a/b/x", true, false));
        assert!(f(b"a\\/b", b"a/b", true, false));
    }

    #[test]
    fn classes_and_escapes() {
        assert!(m("[abc]", "b"));
        assert!(!m("[!abc]", "b"));
        assert!(m("[^abc]", "d"));
        assert!(m("[]]", "]"));
        assert!(m("[!]]", "a"));
        assert!(m("[a-c]", "b"));
        assert!(m("[a-]", "-"));
        assert!(m("[a-m-z]", "-"));
        assert!(m("[a-m-z]", "z"));
        assert!(!m("[a-m-z]", "n"));
        assert!(m("[Z-\\]]", "]"));
        assert!(m("[Z-\\]]", "\\"));
        assert!(!m("[a-\\]]", "]"), "a-] is an empty range");
        assert!(m("[", "["), "unterminated: a literal [");
        assert!(m("[ab", "[ab"));
        assert!(m("\\*", "*"));
        assert!(!m("\\*", "x"));
        assert!(m("a\\", "a\\"), "a trailing backslash is literal");
        assert!(!f(b"a[/]b", b"a/b", true, false));
    }

    #[test]
    fn case_blind_is_ascii_only() {
        assert!(f(b"*.CSS", b"app.css", false, true));
        assert!(f(b"[A-C]", b"b", false, true));
        assert!(!f("É".as_bytes(), "é".as_bytes(), false, true));
        assert!(!m("A", "a"));
    }
}
