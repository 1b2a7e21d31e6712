//! A small byte-exact, unified-style line diff for failure reports.
//!
//! Lines are split after `\n` and compared as raw bytes (a `\r` is part of its line, never
//! normalised). Non-printable bytes are shown escaped (`\r`, `\t`, `\0`, `\xNN`), so CRLF,
//! NUL, BOM and Latin-1 differences are visible.

use std::fmt::Write as _;

const CONTEXT: usize = 3;
/// Above this many lines on either side the O(n*m) LCS is skipped and only the first
/// differing line is shown.
const MAX_LINES: usize = 4000;

fn split_lines(b: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, &c) in b.iter().enumerate() {
        if c == b'\n' {
            out.push(&b[start..=i]);
            start = i + 1;
        }
    }
    if start < b.len() {
        out.push(&b[start..]);
    }
    out
}

/// Shows a line with escapes; a missing final newline is marked.
pub fn show_line(line: &[u8]) -> String {
    let (body, nl) = match line.last() {
        Some(b'\n') => (&line[..line.len() - 1], true),
        _ => (line, false),
    };
    let mut s = String::new();
    for &b in body {
        match b {
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            0 => s.push_str("\\0"),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(b as char),
            _ => {
                let _ = write!(s, "\\x{b:02x}");
            }
        }
    }
    if !nl {
        s.push_str("    <-- no newline at end");
    }
    s
}

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Same,
    Del,
    Add,
}

/// A unified-style diff of `expected` (`-`) against `actual` (`+`); empty when equal.
pub fn diff(expected_label: &str, expected: &[u8], actual_label: &str, actual: &[u8]) -> String {
    if expected == actual {
        return String::new();
    }
    let mut out = String::new();
    let first = expected
        .iter()
        .zip(actual.iter())
        .position(|(a, b)| a != b)
        .unwrap_or(expected.len().min(actual.len()));
    let _ = writeln!(
        out,
        "--- {expected_label} ({} bytes)\n+++ {actual_label} ({} bytes)\nfirst difference at byte offset {first}",
        expected.len(),
        actual.len()
    );
    let a = split_lines(expected);
    let b = split_lines(actual);
    if a.len() > MAX_LINES || b.len() > MAX_LINES {
        let i = a
            .iter()
            .zip(b.iter())
            .position(|(x, y)| x != y)
            .unwrap_or(a.len().min(b.len()));
        let _ = writeln!(
            out,
            "(too many lines for a full diff; first differing line {})",
            i + 1
        );
        if let Some(l) = a.get(i) {
            let _ = writeln!(out, "-{}", show_line(l));
        }
        if let Some(l) = b.get(i) {
            let _ = writeln!(out, "+{}", show_line(l));
        }
        return out;
    }
    // LCS table over lines.
    let (n, m) = (a.len(), b.len());
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut ops: Vec<(Op, usize, usize)> = Vec::new(); // (op, index in a, index in b)
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            ops.push((Op::Same, i, j));
            i += 1;
            j += 1;
        } else if j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j]) {
            ops.push((Op::Add, i, j));
            j += 1;
        } else {
            ops.push((Op::Del, i, j));
            i += 1;
        }
    }
    // Group into hunks with CONTEXT lines around changes.
    let changed: Vec<usize> = ops
        .iter()
        .enumerate()
        .filter(|(_, o)| o.0 != Op::Same)
        .map(|(k, _)| k)
        .collect();
    let mut k = 0;
    while k < changed.len() {
        let start = changed[k].saturating_sub(CONTEXT);
        let mut end = changed[k];
        while k < changed.len() && changed[k] <= end + 2 * CONTEXT + 1 {
            end = changed[k];
            k += 1;
        }
        let end = (end + CONTEXT + 1).min(ops.len());
        let (ai, bj) = (ops[start].1, ops[start].2);
        let _ = writeln!(out, "@@ -{} +{} @@", ai + 1, bj + 1);
        for &(op, i, j) in &ops[start..end] {
            match op {
                Op::Same => {
                    let _ = writeln!(out, " {}", show_line(a[i]));
                }
                Op::Del => {
                    let _ = writeln!(out, "-{}", show_line(a[i]));
                }
                Op::Add => {
                    let _ = writeln!(out, "+{}", show_line(b[j]));
                }
            }
        }
    }
    out
}
