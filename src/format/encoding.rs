//! mod_include's byte transformations: attribute entity decoding (`decodehtml`) and the `encoding=`/`decoding=` tokens of `echo` and `set`, each matching the Apache/APR function it stands for.
//!
//! Apache works on NUL-terminated C strings, so every function here reads its input only up
//! to the first NUL byte, and a step that produces a NUL (`%00`, base64 of a zero byte) ends
//! the value there, exactly as the next `strlen`/`apr_pstrdup` in Apache would.

/// One token of an `encoding=`/`decoding=` list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Coding {
    /// `none`: leave the value alone.
    None,
    /// `url`: decode with `ap_unescape_url`, encode with `ap_escape_uri`
    /// (`ap_os_escape_path(.., partial=1)`).
    Url,
    /// `urlencoded`: decode with `ap_unescape_urlencoded`, encode with `ap_escape_urlencoded`.
    Urlencoded,
    /// `entity`: decode with mod_include's `decodehtml`, encode with `ap_escape_html2(.., 0)`.
    Entity,
    /// `base64`: `ap_pbase64decode` / `ap_pbase64encode` (apr-util `apr_base64`).
    Base64,
}

/// The part of `value` a C function would see: up to the first NUL.
fn cstr(value: &[u8]) -> &[u8] {
    match memchr::memchr(0, value) {
        Some(n) => &value[..n],
        None => value,
    }
}

/// Splits a token list the way `apr_strtok(list, ", \t", ..)` does: any run of commas,
/// spaces and tabs separates tokens, and empty tokens do not exist.
fn tokens(list: &[u8]) -> impl Iterator<Item = &[u8]> {
    cstr(list)
        .split(|&c| matches!(c, b',' | b' ' | b'\t'))
        .filter(|t| !t.is_empty())
}

/// One token, compared ASCII case-insensitively (`ap_cstr_casecmp`).
fn parse_token(token: &[u8]) -> Option<Coding> {
    let known: [(&[u8], Coding); 5] = [
        (b"none", Coding::None),
        (b"url", Coding::Url),
        (b"urlencoded", Coding::Urlencoded),
        (b"entity", Coding::Entity),
        (b"base64", Coding::Base64),
    ];
    known
        .iter()
        .find(|(name, _)| token.eq_ignore_ascii_case(name))
        .map(|&(_, c)| c)
}

/// Parses a token list (comma/space/tab separated, case-insensitive).
///
/// `Err` carries the first unknown token. An empty list is `Ok(vec![])` (nothing applied).
///
/// How `handle_echo`/`handle_set` use the two lists (checked against Apache 2.4.71): the
/// decoding loop stops at its first unknown token (error AH01344/AH01364), but the encoding
/// loop *still runs* and stops at its own first unknown token (AH01345/AH01365), so unknown
/// tokens in both lists give **two** errmsgs. After any error the value is dropped (nothing
/// echoed, nothing set). For `echo` of an undefined variable the lists are never looked at,
/// so unknown tokens there give no error at all.
pub fn parse_codings(list: &[u8]) -> Result<Vec<Coding>, Vec<u8>> {
    tokens(list)
        .map(|t| parse_token(t).ok_or_else(|| t.to_vec()))
        .collect()
}

/// Applies decodings left to right, as the first loop of `handle_echo`/`handle_set` does.
pub fn decode(codings: &[Coding], value: &[u8]) -> Vec<u8> {
    let mut v = cstr(value).to_vec();
    for c in codings {
        v = decode_one(*c, &v);
    }
    v
}

/// Applies encodings left to right, as the second loop of `handle_echo`/`handle_set` does.
pub fn encode(codings: &[Coding], value: &[u8]) -> Vec<u8> {
    let mut v = cstr(value).to_vec();
    for c in codings {
        v = encode_one(*c, &v);
    }
    v
}

fn decode_one(coding: Coding, v: &[u8]) -> Vec<u8> {
    match coding {
        Coding::None => cstr(v).to_vec(),
        Coding::Url => unescape_url(v),
        Coding::Urlencoded => unescape_urlencoded(v),
        Coding::Entity => decode_html(v),
        Coding::Base64 => base64_decode(v),
    }
}

fn encode_one(coding: Coding, v: &[u8]) -> Vec<u8> {
    match coding {
        Coding::None => cstr(v).to_vec(),
        Coding::Url => escape_uri(v),
        Coding::Urlencoded => escape_urlencoded(v),
        Coding::Entity => escape_html(v),
        Coding::Base64 => base64_encode(v),
    }
}

/// mod_include's `decodehtml`, applied to attribute values (`SSI_VALUE_DECODED`) and to the
/// `entity` decoding.
///
/// - `&#NNN;` (decimal only) becomes the byte NNN if it is 9, 10, 32–126 or 161–255; any
///   other number, or a non-digit before the `;` (`&#x41;`), deletes the whole reference.
///   The number is accumulated in a C `int`, so very long digit strings wrap.
/// - A fixed list of names (`lt gt amp quot` and Latin-1 letters such as `eacute`, `szlig`,
///   `THORN`) becomes the single ISO-8859-1 byte, case-sensitively. `&nbsp;`, `&apos;`,
///   `&copy;` and anything else unknown are left as written.
/// - An `&` with no `;` after it is left as is.
pub fn decode_html(input: &[u8]) -> Vec<u8> {
    // The names grouped by length, each followed by its Latin-1 byte (the `entlist` table).
    const ENTITIES: &[(&[u8], u8)] = &[
        (b"lt", b'<'),
        (b"gt", b'>'),
        (b"amp", b'&'),
        (b"ETH", 0xD0),
        (b"eth", 0xF0),
        (b"quot", b'"'),
        (b"Auml", 0xC4),
        (b"Euml", 0xCB),
        (b"Iuml", 0xCF),
        (b"Ouml", 0xD6),
        (b"Uuml", 0xDC),
        (b"auml", 0xE4),
        (b"euml", 0xEB),
        (b"iuml", 0xEF),
        (b"ouml", 0xF6),
        (b"uuml", 0xFC),
        (b"yuml", 0xFF),
        (b"Acirc", 0xC2),
        (b"Aring", 0xC5),
        (b"AElig", 0xC6),
        (b"Ecirc", 0xCA),
        (b"Icirc", 0xCE),
        (b"Ocirc", 0xD4),
        (b"Ucirc", 0xDB),
        (b"THORN", 0xDE),
        (b"szlig", 0xDF),
        (b"acirc", 0xE2),
        (b"aring", 0xE5),
        (b"aelig", 0xE6),
        (b"ecirc", 0xEA),
        (b"icirc", 0xEE),
        (b"ocirc", 0xF4),
        (b"ucirc", 0xFB),
        (b"thorn", 0xFE),
        (b"Agrave", 0xC0),
        (b"Aacute", 0xC1),
        (b"Atilde", 0xC3),
        (b"Ccedil", 0xC7),
        (b"Egrave", 0xC8),
        (b"Eacute", 0xC9),
        (b"Igrave", 0xCC),
        (b"Iacute", 0xCD),
        (b"Ntilde", 0xD1),
        (b"Ograve", 0xD2),
        (b"Oacute", 0xD3),
        (b"Otilde", 0xD5),
        (b"Oslash", 0xD8),
        (b"Ugrave", 0xD9),
        (b"Uacute", 0xDA),
        (b"Yacute", 0xDD),
        (b"agrave", 0xE0),
        (b"aacute", 0xE1),
        (b"atilde", 0xE3),
        (b"ccedil", 0xE7),
        (b"egrave", 0xE8),
        (b"eacute", 0xE9),
        (b"igrave", 0xEC),
        (b"iacute", 0xED),
        (b"ntilde", 0xF1),
        (b"ograve", 0xF2),
        (b"oacute", 0xF3),
        (b"otilde", 0xF5),
        (b"oslash", 0xF8),
        (b"ugrave", 0xF9),
        (b"uacute", 0xFA),
        (b"yacute", 0xFD),
    ];
    let s = cstr(input);
    let mut out = Vec::with_capacity(s.len());
    let mut k = 0;
    while k < s.len() {
        if s[k] != b'&' {
            out.push(s[k]);
            k += 1;
            continue;
        }
        // i: offset of the ';' ending the reference.
        let Some(i) = s[k + 1..].iter().position(|&c| c == b';').map(|p| p + 1) else {
            out.push(b'&');
            k += 1;
            continue;
        };
        let body = &s[k + 1..k + i];
        if body.first() == Some(&b'#') {
            let digits = &body[1..];
            let n = digits.iter().take_while(|c| c.is_ascii_digit()).count();
            let val = digits[..n].iter().fold(0i32, |v, &d| {
                v.wrapping_mul(10).wrapping_add(i32::from(d - b'0'))
            });
            let allowed = matches!(val, 9 | 10 | 32..=126 | 161..=255);
            if n == digits.len() && allowed {
                out.push(val as u8);
            }
            k += i + 1;
        } else if let Some(&(_, byte)) = ENTITIES.iter().find(|(name, _)| *name == body) {
            out.push(byte);
            k += i + 1;
        } else {
            // Unknown or wrong length: the '&' stays and the rest is read as plain text.
            out.push(b'&');
            k += 1;
        }
    }
    out
}

/// `ap_escape_html(p, s)` = `ap_escape_html2(p, s, 0)`: `<` `>` `&` `"` become `&lt;`
/// `&gt;` `&amp;` `&quot;`; everything else (including `'` and bytes ≥ 0x80) is kept.
/// Used by `printenv` and by the `entity` encoding.
pub fn escape_html(value: &[u8]) -> Vec<u8> {
    let s = cstr(value);
    let mut out = Vec::with_capacity(s.len());
    for &c in s {
        match c {
            b'<' => out.extend_from_slice(b"&lt;"),
            b'>' => out.extend_from_slice(b"&gt;"),
            b'&' => out.extend_from_slice(b"&amp;"),
            b'"' => out.extend_from_slice(b"&quot;"),
            _ => out.push(c),
        }
    }
    out
}

/// `c2x` in server/util.c: `%` and two **lowercase** hex digits.
fn push_hex(out: &mut Vec<u8>, c: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.extend_from_slice(&[b'%', HEX[usize::from(c >> 4)], HEX[usize::from(c & 15)]]);
}

/// `ap_escape_uri` = `ap_os_escape_path(p, s, partial=1)` (the `url` encoding).
///
/// Keeps ASCII letters, digits and `$-_.+!*'(),:;@&=/~` (`T_OS_ESCAPE_PATH` in
/// gen_test_char.c); every other byte becomes `%xx` in lowercase hex.
pub fn escape_uri(value: &[u8]) -> Vec<u8> {
    let s = cstr(value);
    let mut out = Vec::with_capacity(s.len());
    for &c in s {
        if c.is_ascii_alphanumeric() || b"$-_.+!*'(),:;@&=/~".contains(&c) {
            out.push(c);
        } else {
            push_hex(&mut out, c);
        }
    }
    out
}

/// The request URI a browser sends for a path: the WHATWG URL standard's path
/// percent-encode set (controls, space, `"#<>?` `` ` `` `{}`, and every byte past
/// ASCII) plus `%` itself, in uppercase hex. Used for `REQUEST_URI`, whose value
/// Apache copies from the request line.
pub fn request_uri(path: &[u8]) -> Vec<u8> {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = Vec::with_capacity(path.len());
    for &c in path {
        if c <= b' ' || c >= 0x7f || b"\"#<>?`{}%".contains(&c) {
            out.extend_from_slice(&[b'%', HEX[usize::from(c >> 4)], HEX[usize::from(c & 15)]]);
        } else {
            out.push(c);
        }
    }
    out
}

/// `ap_escape_urlencoded` (the `urlencoded` encoding): keeps ASCII letters, digits and
/// `.-*_`, turns a space into `+`, and every other byte into lowercase `%xx`
/// (`T_ESCAPE_URLENCODED`).
pub fn escape_urlencoded(value: &[u8]) -> Vec<u8> {
    let s = cstr(value);
    let mut out = Vec::with_capacity(s.len());
    for &c in s {
        if c.is_ascii_alphanumeric() || b".-*_".contains(&c) {
            out.push(c);
        } else if c == b' ' {
            out.push(b'+');
        } else {
            push_hex(&mut out, c);
        }
    }
    out
}

/// util.c's `x2c`: the byte for two hex digits (case-insensitive).
fn x2c(hi: u8, lo: u8) -> u8 {
    let v = |c: u8| {
        if c >= b'A' {
            (c & 0xdf) - b'A' + 10
        } else {
            c - b'0'
        }
    };
    v(hi).wrapping_mul(16).wrapping_add(v(lo))
}

/// util.c's `unescape_url` with the flags mod_include uses (none): `%XX` with two hex
/// digits is decoded, anything else after `%` is kept as is. Forbidden results (`/` for
/// `ap_unescape_url`) are still decoded (only the ignored return code changes), and `%00`
/// ends the string.
fn unescape(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut k = 0;
    while k < s.len() {
        let c = s[k];
        if c == b'%'
            && s.get(k + 1).is_some_and(u8::is_ascii_hexdigit)
            && s.get(k + 2).is_some_and(u8::is_ascii_hexdigit)
        {
            let d = x2c(s[k + 1], s[k + 2]);
            if d == 0 {
                break;
            }
            out.push(d);
            k += 3;
        } else {
            out.push(c);
            k += 1;
        }
    }
    out
}

/// `ap_unescape_url` (the `url` decoding): `%XX` decoded (including `%2F`), `+` kept,
/// invalid escapes such as `%zz` or a trailing `%4` left as written, `%00` truncates.
pub fn unescape_url(value: &[u8]) -> Vec<u8> {
    unescape(cstr(value))
}

/// `ap_unescape_urlencoded` (the `urlencoded` decoding): `+` → space first, then as
/// [`unescape_url`] (so `%2B` stays a literal `+`).
pub fn unescape_urlencoded(value: &[u8]) -> Vec<u8> {
    let plus: Vec<u8> = cstr(value)
        .iter()
        .map(|&c| if c == b'+' { b' ' } else { c })
        .collect();
    unescape(&plus)
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// `ap_pbase64encode` (apr-util `apr_base64_encode`): standard alphabet with `+/` and `=`
/// padding, no line breaks.
pub fn base64_encode(value: &[u8]) -> Vec<u8> {
    let s = cstr(value);
    let mut out = Vec::with_capacity(s.len().div_ceil(3) * 4);
    for chunk in s.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let sextets = [
            b[0] >> 2,
            (b[0] & 3) << 4 | b[1] >> 4,
            (b[1] & 15) << 2 | b[2] >> 6,
            b[2] & 63,
        ];
        for (i, &x) in sextets.iter().enumerate() {
            out.push(if i <= chunk.len() {
                BASE64[usize::from(x)]
            } else {
                b'='
            });
        }
    }
    out
}

/// `ap_pbase64decode` (apr-util `apr_base64_decode`), which never fails.
///
/// Only the leading run of alphabet characters is read: decoding stops at the first `=`,
/// space, newline, `-`/`_` or other byte outside `A-Za-z0-9+/`. Full groups of 4 give 3
/// bytes; a trailing 2 or 3 characters give 1 or 2 bytes (leftover bits dropped); a single
/// trailing character is ignored. The result ends at its first NUL byte (C string).
pub fn base64_decode(value: &[u8]) -> Vec<u8> {
    let six = |c: u8| BASE64.iter().position(|&b| b == c).map(|p| p as u8);
    let vals: Vec<u8> = cstr(value).iter().map_while(|&c| six(c)).collect();
    let mut out = Vec::with_capacity(vals.len() / 4 * 3 + 2);
    for group in vals.chunks(4) {
        if group.len() > 1 {
            out.push(group[0] << 2 | group[1] >> 4);
        }
        if group.len() > 2 {
            out.push(group[1] << 4 | group[2] >> 2);
        }
        if group.len() > 3 {
            out.push(group[2] << 6 | group[3]);
        }
    }
    cstr(&out).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codings(list: &str) -> Vec<Coding> {
        parse_codings(list.as_bytes()).unwrap()
    }

    #[test]
    fn token_lists() {
        assert_eq!(codings("url,entity"), vec![Coding::Url, Coding::Entity]);
        assert_eq!(
            codings(" URL ,\t,Base64  none"),
            vec![Coding::Url, Coding::Base64, Coding::None]
        );
        assert_eq!(codings("UrlEncoded"), vec![Coding::Urlencoded]);
        assert_eq!(codings(""), vec![]);
        assert_eq!(codings(", \t"), vec![]);
        assert_eq!(parse_codings(b"url;entity"), Err(b"url;entity".to_vec()));
        assert_eq!(parse_codings(b"entity, html, bogus"), Err(b"html".to_vec()));
        // A NUL ends the C string.
        assert_eq!(codings("url\0bogus"), vec![Coding::Url]);
    }

    #[test]
    fn decode_then_encode() {
        let run = |d: &str, e: &str, v: &[u8]| encode(&codings(e), &decode(&codings(d), v));
        assert_eq!(run("none", "entity", b"<a>"), b"&lt;a&gt;".to_vec());
        assert_eq!(run("url", "none", b"a%20b"), b"a b".to_vec());
        // Decoding then encoding, each left to right.
        assert_eq!(
            run("base64", "url,entity", b"PGEgYj4="),
            b"%3ca%20b%3e".to_vec()
        );
        assert_eq!(run("", "", b"a\0b"), b"a".to_vec());
    }

    #[test]
    fn entity_encoding() {
        assert_eq!(
            escape_html(b"<a href=\"x\">&'</a>"),
            b"&lt;a href=&quot;x&quot;&gt;&amp;'&lt;/a&gt;".to_vec()
        );
        assert_eq!(
            escape_html("é\u{80}".as_bytes()),
            "é\u{80}".as_bytes().to_vec()
        );
        assert_eq!(
            escape_html(&[0xff, b'<', 0x01]),
            vec![0xff, b'&', b'l', b't', b';', 0x01]
        );
        assert_eq!(encode(&[Coding::Entity], b"a\0<"), b"a".to_vec());
    }

    #[test]
    fn url_encoding() {
        assert_eq!(escape_uri("é".as_bytes()), b"%c3%a9".to_vec());
        assert_eq!(escape_uri(b"a b?c%d#e"), b"a%20b%3fc%25d%23e".to_vec());
        assert_eq!(
            escape_uri(b"$-_.+!*'(),:;@&=/~AZaz09"),
            b"$-_.+!*'(),:;@&=/~AZaz09".to_vec()
        );
        assert_eq!(
            escape_uri(b"\"<>\\^`{|}[]\x7f\x01"),
            b"%22%3c%3e%5c%5e%60%7b%7c%7d%5b%5d%7f%01".to_vec()
        );
        assert_eq!(escape_uri(&[0xff, 0x80]), b"%ff%80".to_vec());
        // ':' before '/' is not prefixed with "./" because partial=1.
        assert_eq!(escape_uri(b"a:b"), b"a:b".to_vec());
    }

    #[test]
    fn urlencoded_encoding() {
        assert_eq!(
            escape_urlencoded(b"a b&c=d/e.f-g*h_i~j+k"),
            b"a+b%26c%3dd%2fe.f-g*h_i%7ej%2bk".to_vec()
        );
        assert_eq!(escape_urlencoded("é".as_bytes()), b"%c3%a9".to_vec());
    }

    #[test]
    fn url_decoding() {
        assert_eq!(
            unescape_url(b"a%20b%2Fc+d%zz%4%"),
            b"a b/c+d%zz%4%".to_vec()
        );
        assert_eq!(unescape_url(b"%c3%A9"), "é".as_bytes().to_vec());
        assert_eq!(unescape_url(b"ab%00cd"), b"ab".to_vec());
        assert_eq!(unescape_url(b"%ff%FE"), vec![0xff, 0xfe]);
        assert_eq!(unescape_url(b"%%41"), b"%A".to_vec());
        assert_eq!(unescape_urlencoded(b"a+b%2Bc%20d"), b"a b+c d".to_vec());
        assert_eq!(unescape_urlencoded(b"%zz+"), b"%zz ".to_vec());
    }

    #[test]
    fn base64() {
        assert_eq!(base64_encode(b""), b"".to_vec());
        assert_eq!(base64_encode(b"a"), b"YQ==".to_vec());
        assert_eq!(base64_encode(b"ab"), b"YWI=".to_vec());
        assert_eq!(base64_encode(b"abc"), b"YWJj".to_vec());
        assert_eq!(base64_encode(&[0xfb, 0xff, 0xbf]), b"+/+/".to_vec());
        assert_eq!(base64_encode("é".as_bytes()), b"w6k=".to_vec());
        assert_eq!(base64_decode(b"YWJj"), b"abc".to_vec());
        assert_eq!(base64_decode(b"YQ=="), b"a".to_vec());
        assert_eq!(base64_decode(b"YQ"), b"a".to_vec());
        assert_eq!(base64_decode(b"YWI"), b"ab".to_vec());
        assert_eq!(base64_decode(b"Y"), b"".to_vec());
        assert_eq!(base64_decode(b"YWJjZ"), b"abc".to_vec());
        // Decoding stops at the first byte outside the alphabet.
        assert_eq!(base64_decode(b"YW Jj"), b"a".to_vec());
        assert_eq!(base64_decode(b"YQ==YWJj"), b"a".to_vec());
        assert_eq!(base64_decode(b"-_8"), b"".to_vec());
        // A decoded NUL ends the string.
        assert_eq!(base64_decode(b"YQBi"), b"a".to_vec());
        assert_eq!(base64_decode(b"+/+/"), vec![0xfb, 0xff, 0xbf]);
    }

    #[test]
    fn decodehtml() {
        let d = |s: &[u8]| decode_html(s);
        assert_eq!(d(b"&lt;&gt;&amp;&quot;"), b"<>&\"".to_vec());
        assert_eq!(
            d(b"&eacute;&szlig;&THORN;&yuml;"),
            vec![0xe9, 0xdf, 0xde, 0xff]
        );
        assert_eq!(d(b"&Eacute;&EACUTE;"), b"\xc9&EACUTE;".to_vec());
        assert_eq!(
            d(b"&nbsp;&apos;&copy;&euro;"),
            b"&nbsp;&apos;&copy;&euro;".to_vec()
        );
        assert_eq!(
            d(b"&#65;&#065;&#9;&#10;&#32;&#126;&#161;&#255;"),
            b"AA\t\n ~\xa1\xff".to_vec()
        );
        // Numbers outside 9, 10, 32-126, 161-255 and non-decimal references are deleted.
        assert_eq!(
            d(b"a&#0;&#8;&#11;&#13;&#31;&#127;&#160;&#256;&#x41;&#;&#12a;b"),
            b"ab".to_vec()
        );
        // The value wraps like a C int: 4294967361 = 2^32 + 65.
        assert_eq!(d(b"&#4294967361;"), b"A".to_vec());
        assert_eq!(d(b"a & b"), b"a & b".to_vec());
        assert_eq!(d(b"a &amp"), b"a &amp".to_vec());
        assert_eq!(d(b"&;&x;"), b"&;&x;".to_vec());
        assert_eq!(d(b"&&lt;"), b"&<".to_vec());
        assert_eq!(d(b"& &lt;"), b"& <".to_vec());
        assert_eq!(d(b"&toolongname;"), b"&toolongname;".to_vec());
        assert_eq!(d(b"&lt;\0&gt;"), b"<".to_vec());
        assert_eq!(
            d(&[0xc3, 0xa9, b'&', b'g', b't', b';']),
            vec![0xc3, 0xa9, b'>']
        );
    }

    #[test]
    fn decode_and_encode_chains() {
        assert_eq!(
            decode(&codings("urlencoded, entity"), b"%26lt%3B+x"),
            b"< x".to_vec()
        );
        assert_eq!(decode(&codings("entity,url"), b"&#37;41"), b"A".to_vec());
        assert_eq!(
            encode(&codings("base64, urlencoded"), b"a?"),
            b"YT8%3d".to_vec()
        );
        assert_eq!(encode(&codings("none"), b"<"), b"<".to_vec());
        assert_eq!(
            encode(&codings("entity,entity"), b"&"),
            b"&amp;amp;".to_vec()
        );
    }
}

/// Apache's `ap_escape_shell_cmd` on Unix: a backslash before each byte of
/// ``&;`'"|*?~<>^()[]{}$\`` and newline (the `T_ESCAPE_SHELL_CMD` class of
/// `server/gen_test_char.c`; carriage return and `%` belong to its Windows and OS/2
/// branch only, as Apache 2.4.71 on Linux shows). Used for `QUERY_STRING_UNESCAPED`.
/// Stops at NUL, as the C string does.
pub fn escape_shell_cmd(value: &[u8]) -> Vec<u8> {
    let value = match memchr::memchr(0, value) {
        Some(i) => &value[..i],
        None => value,
    };
    let mut out = Vec::with_capacity(value.len() + value.len() / 4);
    for &b in value {
        if b"&;`'\"|*?~<>^()[]{}$\\\n".contains(&b) {
            out.push(b'\\');
        }
        out.push(b);
    }
    out
}

#[cfg(test)]
mod shell_tests {
    use super::*;

    #[test]
    fn shell_escaping_matches_apache() {
        assert_eq!(escape_shell_cmd(b"a=b c&d=<x>;e"), b"a=b c\\&d=\\<x\\>\\;e");
        // Measured on Apache 2.4.71 (Linux): `%` and CR pass, LF is escaped.
        assert_eq!(escape_shell_cmd(b"50%\r\n"), b"50%\r\\\n");
        let all: Vec<u8> = (1..=127).collect();
        let out = escape_shell_cmd(&all);
        let mut escaped = Vec::new();
        let mut i = 0;
        while i < out.len() {
            if out[i] == b'\\' {
                escaped.push(out[i + 1]);
                i += 1;
            }
            i += 1;
        }
        assert_eq!(escaped, b"\n\"$&'()*;<>?[\\]^`{|}~");
        assert_eq!(escape_shell_cmd(b"ab\0cd"), b"ab");
    }

    #[test]
    fn request_uris_are_what_a_browser_sends() {
        assert_eq!(
            request_uri(b"/\xc3\xbcn/a b(1)[x]%.shtml"),
            b"/%C3%BCn/a%20b(1)[x]%25.shtml"
        );
    }

    #[test]
    fn uri_escaping_matches_apache() {
        assert_eq!(
            escape_uri(b"/a b/caf\xc3\xa9.shtml"),
            b"/a%20b/caf%c3%a9.shtml"
        );
        assert_eq!(escape_uri(b"/$-_.+!*'(),:;@&=/~x"), b"/$-_.+!*'(),:;@&=/~x");
        assert_eq!(escape_uri(b"/100%?#"), b"/100%25%3f%23");
    }
}
