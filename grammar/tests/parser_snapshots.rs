//! Parser snapshots: each input's nodes, with the exact source slice every span covers.
//! A span bug shows up as a wrong slice here.

use ssibake_grammar::{parse, Node, Span};

fn show(src: &[u8], span: Span) -> String {
    format!("{:?}", String::from_utf8_lossy(&src[span.range()]))
}

fn dump(src: &[u8]) -> String {
    let doc = parse(src);
    let mut out = String::new();
    for node in &doc.nodes {
        match node {
            Node::Text(s) => out += &format!("text {}\n", show(src, *s)),
            Node::Unterminated(s) => out += &format!("unterminated {}\n", show(src, *s)),
            Node::Directive(d) => {
                out += &format!(
                    "directive {} name={:?}{}\n",
                    show(src, d.span),
                    String::from_utf8_lossy(&d.name),
                    d.malformed
                        .map_or(String::new(), |m| format!(" malformed={m:?}"))
                );
                for a in &d.args {
                    out += &format!(
                        "  arg {} name={:?}",
                        show(src, a.span),
                        String::from_utf8_lossy(&a.name)
                    );
                    if let Some(v) = &a.value {
                        out += &format!(
                            " value={:?} raw={}",
                            String::from_utf8_lossy(v),
                            show(src, v.span)
                        );
                    }
                    out += "\n";
                }
            }
        }
    }
    out
}

fn check(src: &str, expected: &str) {
    let got = dump(src.as_bytes());
    assert_eq!(got, expected, "input: {src:?}\n--- got ---\n{got}");
}

#[test]
fn plain_text_is_one_node() {
    check(
        "hello <!-- comment --> <!- x",
        "text \"hello <!-- comment --> <!- x\"\n",
    );
}

#[test]
fn echo_with_quoted_value() {
    check(
        "a<!--#echo var=\"X\" -->b",
        "text \"a\"\ndirective \"<!--#echo var=\\\"X\\\" -->\" name=\"echo\"\n  arg \"var=\\\"X\\\"\" name=\"var\" value=\"X\" raw=\"X\"\ntext \"b\"\n",
    );
}

#[test]
fn names_are_lowercased_and_end_may_follow_the_name() {
    check(
        "<!--#PRINTENV--><!--#ECHO VAR='x'-->",
        "directive \"<!--#PRINTENV-->\" name=\"printenv\"\ndirective \"<!--#ECHO VAR='x'-->\" name=\"echo\"\n  arg \"VAR='x'\" name=\"var\" value=\"x\" raw=\"x\"\n",
    );
}

#[test]
fn dash_inside_a_name_is_part_of_it() {
    check(
        "<!--#foo-bar -->",
        "directive \"<!--#foo-bar -->\" name=\"foo-bar\"\n",
    );
}

#[test]
fn triple_dash_ends_a_name_after_its_first_dash() {
    // Apache's find_directive tries `-->` at every byte of the name: `endif-` is the
    // name and the text resumes right after `--->` (measured on Apache 2.4.71).
    check(
        "<!--#endif---> x -->y",
        "directive \"<!--#endif--->\" name=\"endif-\"\ntext \" x -->y\"\n",
    );
}

#[test]
fn unquoted_value_swallows_end_without_space() {
    check(
        "<!--#echo var=X-->B\nC -->D",
        "directive \"<!--#echo var=X-->B\\nC -->\" name=\"echo\"\n  arg \"var=X-->B\" name=\"var\" value=\"X-->B\" raw=\"X-->B\"\n  arg \"C\" name=\"c\"\ntext \"D\"\n",
    );
}

#[test]
fn quote_escapes() {
    check(
        r#"<!--#set var="a\"b" value='c\'d\"e' x=`f\g` -->"#,
        "directive \"<!--#set var=\\\"a\\\\\\\"b\\\" value='c\\\\'d\\\\\\\"e' x=`f\\\\g` -->\" name=\"set\"\n  arg \"var=\\\"a\\\\\\\"b\\\"\" name=\"var\" value=\"a\\\"b\" raw=\"a\\\\\\\"b\"\n  arg \"value='c\\\\'d\\\\\\\"e'\" name=\"value\" value=\"c'd\\\\\\\"e\" raw=\"c\\\\'d\\\\\\\"e\"\n  arg \"x=`f\\\\g`\" name=\"x\" value=\"f\\\\g\" raw=\"f\\\\g\"\n",
    );
}

#[test]
fn backslash_backslash_quote_does_not_close() {
    let doc = dump(br#"<!--#echo var="ends\\" --> more" -->"#);
    assert!(doc.contains(r#"value="ends\\\" --> more""#), "{doc}");
}

#[test]
fn value_without_name_and_empty_name() {
    check(
        "<!--#echo \"x\" --><!--# echo --><!--#a =b -->",
        "directive \"<!--#echo \\\"x\\\" -->\" name=\"echo\" malformed=ValueWithoutName(Span { start: 10, end: 13 })\n  arg \"\\\"x\\\"\" name=\"\" value=\"x\" raw=\"x\"\ndirective \"<!--# echo -->\" name=\"\" malformed=EmptyName\n  arg \"echo\" name=\"echo\"\ndirective \"<!--#a =b -->\" name=\"a\" malformed=EmptyAttributeName(Span { start: 38, end: 40 })\n  arg \"=b\" name=\"\" value=\"b\" raw=\"b\"\n",
    );
}

#[test]
fn spaces_around_equals_and_across_lines() {
    check(
        "<!--#echo\r\n\tvar = \"x\"\n-->",
        "directive \"<!--#echo\\r\\n\\tvar = \\\"x\\\"\\n-->\" name=\"echo\"\n  arg \"var = \\\"x\\\"\" name=\"var\" value=\"x\" raw=\"x\"\n",
    );
}

#[test]
fn dash_attribute_and_end_inside_quotes() {
    check(
        "<!--#echo var=\"a-->b\" -x -->",
        "directive \"<!--#echo var=\\\"a-->b\\\" -x -->\" name=\"echo\"\n  arg \"var=\\\"a-->b\\\"\" name=\"var\" value=\"a-->b\" raw=\"a-->b\"\n  arg \"-x\" name=\"-x\"\n",
    );
}

#[test]
fn unterminated_directives() {
    check(
        "a<!--#echo var=\"x",
        "text \"a\"\nunterminated \"<!--#echo var=\\\"x\"\n",
    );
    check("a<!--#echo", "text \"a\"\nunterminated \"<!--#echo\"\n");
    check("a<!--#", "text \"a\"\nunterminated \"<!--#\"\n");
    check(
        "<!--#echo var= -->D-->E",
        "unterminated \"<!--#echo var= -->D-->E\"\n",
    );
    check("a<!--", "text \"a<!--\"\n");
}

#[test]
fn nested_start_inside_text() {
    check(
        "<!--<!--#echo var=x -->",
        "text \"<!--\"\ndirective \"<!--#echo var=x -->\" name=\"echo\"\n  arg \"var=x\" name=\"var\" value=\"x\" raw=\"x\"\n",
    );
}

#[test]
fn no_input_panics_or_is_slow() {
    // Pathological inputs: many starts, long names, long quoted runs.
    let mut big = Vec::new();
    for _ in 0..20_000 {
        big.extend_from_slice(b"<!--#a b=\"\\\\\\\"");
    }
    let doc = parse(&big);
    assert!(!doc.nodes.is_empty());
    let starts = b"<!--#".repeat(50_000);
    assert_eq!(parse(&starts).nodes.len(), 1);
    for n in 0..=256u32 {
        let bytes: Vec<u8> = (0..n).map(|i| (i * 37 % 256) as u8).collect();
        let _ = parse(&bytes);
    }
}
