//! `$VAR` / `${VAR}` substitution in attribute values and legacy-expression strings,
//! as Apache's `ap_ssi_parse_string` does it with `leave_name = 0`.
//!
//! Length: every mod_include caller passes `out = NULL, length = 0`, which means no
//! output limit, so nothing is truncated here. (Only `exec cmd`, which ssibake refuses,
//! uses an 8192-byte buffer and keeps undefined names.)

/// Substitutes `$name` and `${name}` in `input`.
///
/// `lookup(name)` is Apache's `get_include_var`: `None` = undefined (expands to nothing).
///
/// - `$name`: the name is the longest run of ASCII letters, digits and `_`.
/// - `${name}`: everything up to the first `}`.
/// - `$` followed by anything else, `$` at the end, and `${}` stay literal.
/// - `${` without a `}`: the rest of the string is dropped (Apache logs AH01331).
/// - `\$` is a literal `$`; any other backslash is kept and escapes nothing.
/// - Substituted values are not scanned again.
/// - C strings: the input ends at its first NUL byte, a value at its first NUL byte.
///
/// Apache has no limit; here the result stops growing once it is longer than `limit`
/// (the caller refuses such a result: `$a$a$a…` with a large `a` would otherwise
/// exhaust memory).
pub(crate) fn substitute(
    input: &[u8],
    lookup: &mut dyn FnMut(&[u8]) -> Option<Vec<u8>>,
    limit: usize,
) -> Vec<u8> {
    let input = ssibake_grammar::expr::c_str(input);
    let mut out = Vec::with_capacity(input.len());
    let mut p = 0;
    while p < input.len() {
        let Some(k) = memchr::memchr2(b'\\', b'$', &input[p..]) else {
            out.extend_from_slice(&input[p..]);
            break;
        };
        out.extend_from_slice(&input[p..p + k]);
        p += k;
        if input[p] == b'\\' {
            if input.get(p + 1) == Some(&b'$') {
                out.push(b'$');
                p += 2;
            } else {
                // the backslash is copied and the next byte is looked at normally:
                // `\\$X` gives `\` and then `\$` → `$X`
                out.push(b'\\');
                p += 1;
            }
            continue;
        }
        // `$`
        let (name, next) = if input.get(p + 1) == Some(&b'{') {
            let from = p + 2;
            match memchr::memchr(b'}', &input[from..]) {
                // "Missing '}' on variable": Apache stops and returns what it has
                None => return out,
                Some(0) => (None, p + 1),
                Some(n) => (Some(&input[from..from + n]), from + n + 1),
            }
        } else {
            let from = p + 1;
            let n = input[from..]
                .iter()
                .take_while(|&&b| b == b'_' || b.is_ascii_alphanumeric())
                .count();
            if n == 0 {
                (None, p + 1)
            } else {
                (Some(&input[from..from + n]), from + n)
            }
        };
        match name {
            // empty name: the `$` is copied, scanning goes on after it
            None => out.push(b'$'),
            Some(name) => {
                if let Some(val) = lookup(name) {
                    out.extend_from_slice(ssibake_grammar::expr::c_str(&val));
                    if out.len() > limit {
                        return out;
                    }
                }
            }
        }
        p = next;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(s: &str) -> String {
        let mut lookup = |name: &[u8]| -> Option<Vec<u8>> {
            match name.to_ascii_lowercase().as_slice() {
                b"a" => Some(b"A".to_vec()),
                b"a_b" => Some(b"AB".to_vec()),
                b"foo" => Some(b"bar".to_vec()),
                b"empty" => Some(Vec::new()),
                b"dollar" => Some(b"$a".to_vec()),
                b"nul" => Some(b"x\0y".to_vec()),
                b"1" => Some(b"one".to_vec()),
                b"weird name" => Some(b"W".to_vec()),
                _ => None,
            }
        };
        String::from_utf8(substitute(s.as_bytes(), &mut lookup, usize::MAX)).unwrap()
    }

    #[test]
    fn names() {
        assert_eq!(sub("$a"), "A");
        assert_eq!(sub("${a}"), "A");
        assert_eq!(sub("x$a.y"), "xA.y");
        assert_eq!(sub("$a_b"), "AB");
        assert_eq!(sub("${a}_b"), "A_b");
        assert_eq!(sub("$1x"), "");
        assert_eq!(sub("$1"), "one");
        assert_eq!(sub("${1}x"), "onex");
        assert_eq!(sub("${weird name}"), "W");
        assert_eq!(sub("$FOO $Foo"), "bar bar");
        assert_eq!(sub("$undefined|${undefined}|"), "||");
        assert_eq!(sub("[$empty]"), "[]");
    }

    #[test]
    fn literal_dollars() {
        assert_eq!(sub("a$"), "a$");
        assert_eq!(sub("${}"), "${}");
        assert_eq!(sub("$ a"), "$ a");
        assert_eq!(sub("$-"), "$-");
        assert_eq!(sub("$$a"), "$A");
        assert_eq!(sub("a${}b$ c"), "a${}b$ c");
    }

    #[test]
    fn unterminated_brace_drops_the_rest() {
        assert_eq!(sub("a${}b$ c${x"), "a${}b$ c");
        assert_eq!(sub("$a${"), "A");
        assert_eq!(sub("${a"), "");
    }

    #[test]
    fn backslashes() {
        assert_eq!(sub(r"\$a"), "$a");
        assert_eq!(sub(r"\\$a"), r"\$a");
        assert_eq!(sub(r"\x"), r"\x");
        assert_eq!(sub(r"a\"), r"a\");
        assert_eq!(sub(r"\\"), r"\\");
        assert_eq!(sub(r"\${a}"), "${a}");
    }

    #[test]
    fn no_recursion_and_c_strings() {
        assert_eq!(sub("$dollar"), "$a");
        assert_eq!(sub("[$nul]"), "[x]");
        assert_eq!(sub("a\0$a"), "a");
        assert_eq!(sub("plain"), "plain");
        assert_eq!(sub(""), "");
    }
}
