//! File sizes as `<!--#fsize -->` prints them: `sizefmt="abbrev"` (APR's `apr_strfsize`) and `sizefmt="bytes"` (`handle_fsize`'s digit grouping).

/// `sizefmt="abbrev"` (the default): exactly what mod_include prints via APR's
/// `apr_strfsize` (strings/apr_strings.c), always 4 bytes including padding.
///
/// Sizes below 973 are printed in 3 columns plus a space (`" 12 "`); above, the size is
/// divided by 1024 until it is below 973 and printed with a unit letter from `KMGTPE`, with
/// one decimal while below 9.95 (`"1.5K"`), else rounded to 3 columns (`" 10K"`).
pub fn abbrev(size: i64) -> Vec<u8> {
    const UNITS: &[u8] = b"KMGTPE";
    if size < 0 {
        return b"  - ".to_vec();
    }
    if size < 973 {
        return format!("{size:3} ").into_bytes();
    }
    let mut size = size;
    let mut unit = 0;
    loop {
        // `remain` is taken from the size as it stands at each step, i.e. after the
        // previous divisions (apr_strfsize keeps only the last remainder).
        let mut remain = size & 1023;
        size >>= 10;
        if size >= 973 {
            unit += 1;
            continue;
        }
        let u = char::from(UNITS[unit.min(UNITS.len() - 1)]);
        if size < 9 || (size == 9 && remain < 973) {
            // Tenths rounded half up: (remain * 10 / 1024) computed as (remain*5 + 256) / 512.
            remain = (remain * 5 + 256) / 512;
            if remain >= 10 {
                size += 1;
                remain = 0;
            }
            return cut4(format!("{size}.{remain}{u}"));
        }
        if remain >= 512 {
            size += 1;
        }
        return cut4(format!("{size:3}{u}"));
    }
}

/// `apr_snprintf(buf, 5, ...)` keeps at most 4 bytes, and mod_include emits exactly 4.
fn cut4(s: String) -> Vec<u8> {
    let mut v = s.into_bytes();
    v.truncate(4);
    v
}

/// `sizefmt="bytes"`: the decimal size with a comma before every group of three digits
/// counted from the right, as `handle_fsize` does it.
///
/// `handle_fsize` counts the `-` sign as a digit, so a (theoretical) negative size of six
/// digits comes out as `-,123,456`.
pub fn bytes(size: i64) -> Vec<u8> {
    let digits = size.to_string().into_bytes();
    let l = digits.len();
    let mut out = Vec::with_capacity(l + l / 3);
    for (x, &d) in digits.iter().enumerate() {
        if x != 0 && (l - x) % 3 == 0 {
            out.push(b',');
        }
        out.push(d);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ab(n: i64) -> String {
        String::from_utf8(abbrev(n)).unwrap()
    }

    #[test]
    fn abbrev_table_from_research() {
        let table: &[(i64, &str)] = &[
            (0, "  0 "),
            (1, "  1 "),
            (972, "972 "),
            (973, "1.0K"),
            (1023, "1.0K"),
            (1024, "1.0K"),
            (1535, "1.5K"),
            (1536, "1.5K"),
            (1587, "1.5K"),
            (1588, "1.6K"),
            (10188, "9.9K"),
            (10189, " 10K"),
            (996_147, "973K"),
            (996_352, "1.0M"),
            (1_000_000, "1.0M"),
            (1_048_575, "1.0M"),
            (1_048_576, "1.0M"),
            (1_234_567, "1.2M"),
            (1 << 30, "1.0G"),
            (5_000_000_000, "4.7G"),
        ];
        for &(n, want) in table {
            assert_eq!(ab(n), want, "size {n}");
        }
    }

    #[test]
    fn abbrev_boundaries() {
        assert_eq!(ab(-1), "  - ");
        assert_eq!(ab(i64::MIN), "  - ");
        assert_eq!(ab(12), " 12 ");
        // 8*1024 + 973: tenths round to 10, so the size goes up.
        assert_eq!(ab(8 * 1024 + 973), "9.0K");
        assert_eq!(ab(9 * 1024 + 972), "9.9K");
        assert_eq!(ab(10 * 1024 + 511), " 10K");
        assert_eq!(ab(10 * 1024 + 512), " 11K");
        assert_eq!(ab(972 * 1024 + 512), "973K");
        // The remainder used for the second unit comes from the already divided size.
        assert_eq!(ab(973 * 1024 - 1), "973K");
        assert_eq!(ab(i64::MAX), "8.0E");
        for n in [0, 5, 999, 1 << 20, 123_456_789_012, i64::MAX] {
            assert_eq!(abbrev(n).len(), 4);
        }
    }

    #[test]
    fn bytes_grouping() {
        let b = |n: i64| String::from_utf8(bytes(n)).unwrap();
        assert_eq!(b(0), "0");
        assert_eq!(b(972), "972");
        assert_eq!(b(1000), "1,000");
        assert_eq!(b(999_999), "999,999");
        assert_eq!(b(1_000_000), "1,000,000");
        assert_eq!(b(5_000_000_000), "5,000,000,000");
        assert_eq!(b(-1_234_567), "-1,234,567");
        assert_eq!(b(-123_456), "-,123,456");
    }
}
