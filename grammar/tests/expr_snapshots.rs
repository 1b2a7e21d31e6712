//! Snapshot of both expression trees: every node with the exact source bytes its span
//! covers. Any change in tree shape or spans fails this test.

use ssibake_grammar::expr::ap::{self, CondKind, WordKind};
use ssibake_grammar::expr::legacy::{self, NodeKind};
use ssibake_grammar::Span;

fn slice(src: &str, span: Span) -> &str {
    &src[span.range()]
}

fn legacy_node(src: &str, n: &legacy::Node, depth: usize, out: &mut String) {
    let label = match &n.node {
        NodeKind::Str(s) => format!("Str {:?}", String::from_utf8_lossy(s)),
        NodeKind::Regex(s) => format!("Regex {:?}", String::from_utf8_lossy(s)),
        NodeKind::Not(_) => "Not".into(),
        NodeKind::Group(_) => "Group".into(),
        NodeKind::UnclosedGroup(_) => "UnclosedGroup".into(),
        NodeKind::Access(_) => "Access".into(),
        NodeKind::And(..) => "And".into(),
        NodeKind::Or(..) => "Or".into(),
        NodeKind::Compare { op, left, .. } => {
            format!(
                "Compare {} left={:?}@{:?}",
                op.as_str(),
                String::from_utf8_lossy(left),
                slice(src, left.span)
            )
        }
    };
    out.push_str(&format!(
        "{}{} @ {:?}\n",
        "  ".repeat(depth),
        label,
        slice(src, n.span)
    ));
    let child = |c: &Option<Box<legacy::Node>>, out: &mut String| match c {
        Some(c) => legacy_node(src, c, depth + 1, out),
        None => out.push_str(&format!("{}<missing>\n", "  ".repeat(depth + 1))),
    };
    match &n.node {
        NodeKind::Not(r)
        | NodeKind::Group(r)
        | NodeKind::UnclosedGroup(r)
        | NodeKind::Access(r) => child(r, out),
        NodeKind::And(l, r) | NodeKind::Or(l, r) => {
            legacy_node(src, l, depth + 1, out);
            child(r, out);
        }
        NodeKind::Compare { right, .. } => child(right, out),
        NodeKind::Str(_) | NodeKind::Regex(_) => {}
    }
}

fn ap_word(src: &str, w: &ap::Word, depth: usize, out: &mut String) {
    let label = match &w.node {
        WordKind::Digit(d) => format!("Digit {:?}", String::from_utf8_lossy(d)),
        WordKind::String(s) => format!("String {:?}", String::from_utf8_lossy(s)),
        WordKind::Concat(..) => "Concat".into(),
        WordKind::Var(v) => format!("Var {v}"),
        WordKind::Call { func, .. } => format!("Call {}", func.name()),
        WordKind::Backref(n) => format!("Backref {n}"),
    };
    out.push_str(&format!(
        "{}{} @ {:?}\n",
        "  ".repeat(depth),
        label,
        slice(src, w.span)
    ));
    match &w.node {
        WordKind::Concat(a, b) => {
            ap_word(src, a, depth + 1, out);
            ap_word(src, b, depth + 1, out);
        }
        WordKind::Call { arg, .. } => ap_word(src, arg, depth + 1, out),
        _ => {}
    }
}

fn ap_cond(src: &str, c: &ap::Cond, depth: usize, out: &mut String) {
    let label = match &c.node {
        CondKind::True => "True".to_string(),
        CondKind::False => "False".into(),
        CondKind::Not(_) => "Not".into(),
        CondKind::And(..) => "And".into(),
        CondKind::Or(..) => "Or".into(),
        CondKind::Compare { op, .. } => format!("Compare {}", op.as_str()),
        CondKind::In { .. } => "In".into(),
        CondKind::Match { negated, regex, .. } => format!(
            "Match{} {:?}{} regex@{:?}",
            if *negated { " negated" } else { "" },
            String::from_utf8_lossy(&regex.pattern),
            if regex.case_insensitive { " i" } else { "" },
            slice(src, regex.span)
        ),
        CondKind::Unary { op, .. } => format!("Unary -{}", op.name()),
        CondKind::Binary { op, .. } => format!("Binary -{}", op.name()),
    };
    out.push_str(&format!(
        "{}{} @ {:?}\n",
        "  ".repeat(depth),
        label,
        slice(src, c.span)
    ));
    match &c.node {
        CondKind::Not(a) => ap_cond(src, a, depth + 1, out),
        CondKind::And(a, b) | CondKind::Or(a, b) => {
            ap_cond(src, a, depth + 1, out);
            ap_cond(src, b, depth + 1, out);
        }
        CondKind::Compare { left, right, .. } | CondKind::Binary { left, right, .. } => {
            ap_word(src, left, depth + 1, out);
            ap_word(src, right, depth + 1, out);
        }
        CondKind::In { needle, list } => {
            ap_word(src, needle, depth + 1, out);
            for w in list {
                ap_word(src, w, depth + 1, out);
            }
        }
        CondKind::Match { subject, .. } => ap_word(src, subject, depth + 1, out),
        CondKind::Unary { arg, .. } => ap_word(src, arg, depth + 1, out),
        CondKind::True | CondKind::False => {}
    }
}

const LEGACY_INPUTS: &[&str] = &[
    "$a = x",
    "a || b && c",
    "'' && '' || b",
    "!($x = /^a(.)c$/) && ${y} != 'a b'",
    "one two  'three' = x",
    "(a < b) || -A /x",
    "a && (b",
    "a = (b) && !",
    r"x = /a\.b/",
];

const AP_INPUTS: &[&str] = &[
    "v('a') == 'x' && !true",
    "'a%{API_VERSION}b$1' =~ m#(a)b#i || false",
    "-n reqenv('x') and 1 -lt 2 or %{tolower:X} in {'x', \"y\"}",
    "'a' . toupper(v('b')) . 'c' != ''",
    "!!('x' -strmatch 'y')",
];

#[test]
fn snapshots() {
    let mut out = String::new();
    for src in LEGACY_INPUTS {
        out.push_str(&format!("legacy {src:?}\n"));
        let e = legacy::parse(src.as_bytes()).unwrap();
        legacy_node(src, e.root.as_ref().unwrap(), 1, &mut out);
    }
    for src in AP_INPUTS {
        out.push_str(&format!("ap {src:?}\n"));
        let e = ap::parse(src.as_bytes()).unwrap();
        ap_cond(src, &e.root, 1, &mut out);
    }
    if out != EXPECTED {
        eprintln!("---- actual ----\n{out}---- end ----");
    }
    assert_eq!(out, EXPECTED);
}

const EXPECTED: &str = r#"legacy "$a = x"
  Compare = left="$a"@"$a" @ "$a = x"
    Str "x" @ "x"
legacy "a || b && c"
  Or @ "a || b && c"
    Str "a" @ "a"
    And @ "b && c"
      Str "b" @ "b"
      Str "c" @ "c"
legacy "'' && '' || b"
  And @ "'' && '' || b"
    Str "" @ "''"
    Or @ "'' || b"
      Str "" @ "''"
      Str "b" @ "b"
legacy "!($x = /^a(.)c$/) && ${y} != 'a b'"
  And @ "!($x = /^a(.)c$/) && ${y} != 'a b'"
    Not @ "!($x = /^a(.)c$/)"
      Group @ "($x = /^a(.)c$/)"
        Compare = left="$x"@"$x" @ "$x = /^a(.)c$/"
          Regex "^a(.)c$" @ "/^a(.)c$/"
    Compare != left="${y}"@"${y}" @ "${y} != 'a b'"
      Str "a b" @ "'a b'"
legacy "one two  'three' = x"
  Compare = left="one two three"@"one two  'three'" @ "one two  'three' = x"
    Str "x" @ "x"
legacy "(a < b) || -A /x"
  Or @ "(a < b) || -A /x"
    Group @ "(a < b)"
      Compare < left="a"@"a" @ "a < b"
        Str "b" @ "b"
    Access @ "-A /x"
      Str "/x" @ "/x"
legacy "a && (b"
  And @ "a && (b"
    Str "a" @ "a"
    UnclosedGroup @ "(b"
      Str "b" @ "b"
legacy "a = (b) && !"
  And @ "a = (b) && !"
    Compare = left="a"@"a" @ "a = (b)"
      Group @ "(b)"
        Str "b" @ "b"
    Not @ "!"
      <missing>
legacy "x = /a\\.b/"
  Compare = left="x"@"x" @ "x = /a\\.b/"
    Regex "a.b" @ "/a\\.b/"
ap "v('a') == 'x' && !true"
  And @ "v('a') == 'x' && !true"
    Compare == @ "v('a') == 'x'"
      Call v @ "v('a')"
        String "a" @ "'a'"
      String "x" @ "'x'"
    Not @ "!true"
      True @ "true"
ap "'a%{API_VERSION}b$1' =~ m#(a)b#i || false"
  Or @ "'a%{API_VERSION}b$1' =~ m#(a)b#i || false"
    Match "(a)b" i regex@"m#(a)b#i" @ "'a%{API_VERSION}b$1' =~ m#(a)b#i"
      Concat @ "'a%{API_VERSION}b$1'"
        Concat @ "a%{API_VERSION}b"
          Concat @ "a%{API_VERSION}"
            String "a" @ "a"
            Var API_VERSION @ "%{API_VERSION}"
          String "b" @ "b"
        Backref 1 @ "$1"
    False @ "false"
ap "-n reqenv('x') and 1 -lt 2 or %{tolower:X} in {'x', \"y\"}"
  Or @ "-n reqenv('x') and 1 -lt 2 or %{tolower:X} in {'x', \"y\"}"
    And @ "-n reqenv('x') and 1 -lt 2"
      Unary -n @ "-n reqenv('x')"
        Call reqenv @ "reqenv('x')"
          String "x" @ "'x'"
      Compare -lt @ "1 -lt 2"
        Digit "1" @ "1"
        Digit "2" @ "2"
    In @ "%{tolower:X} in {'x', \"y\"}"
      Call tolower @ "%{tolower:X}"
        String "X" @ "X"
      String "x" @ "'x'"
      String "y" @ "\"y\""
ap "'a' . toupper(v('b')) . 'c' != ''"
  Compare != @ "'a' . toupper(v('b')) . 'c' != ''"
    Concat @ "'a' . toupper(v('b')) . 'c'"
      String "a" @ "'a'"
      Concat @ "toupper(v('b')) . 'c'"
        Call toupper @ "toupper(v('b'))"
          Call v @ "v('b')"
            String "b" @ "'b'"
        String "c" @ "'c'"
    String "" @ "''"
ap "!!('x' -strmatch 'y')"
  Not @ "!!('x' -strmatch 'y')"
    Not @ "!('x' -strmatch 'y')"
      Binary -strmatch @ "('x' -strmatch 'y')"
        String "x" @ "'x'"
        String "y" @ "'y'"
"#;
