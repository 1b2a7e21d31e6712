//! Parser throughput in bytes per second, on three shapes of page:
//! directive-free HTML (the `<!--#` scan alone), a page dense with directives (one
//! on every line, about 55 bytes apart, the shape of a cache-busted `<head>`; and
//! one every 200 bytes, the density the performance issue measured), and a page full of
//! ordinary `<!-- -->` comments (candidates for the scan that are not directives).
//!
//! `cargo bench -p ssibake-grammar --bench parse`

use divan::counter::BytesCount;
use divan::{black_box, Bencher};

fn main() {
    divan::main();
}

const SIZE: usize = 1 << 20;

/// Repeats `unit` (with a counter so no two are alike) up to about `SIZE` bytes.
fn build(unit: impl Fn(usize) -> String) -> Vec<u8> {
    let mut out = Vec::with_capacity(SIZE + 4096);
    let mut i = 0;
    while out.len() < SIZE {
        out.extend_from_slice(unit(i).as_bytes());
        i += 1;
    }
    out
}

fn directive_free() -> Vec<u8> {
    build(|i| {
        format!(
            "<p class=\"c{i}\">Lorem ipsum dolor sit amet, <a href=\"/p/{i}.html\">consectetur</a> \
             adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna.</p>\n"
        )
    })
}

fn directive_dense() -> Vec<u8> {
    build(|i| {
        match i % 5 {
        0 => format!("<link href=\"/css/a{i}.css?<!--#flastmod virtual=\"/css/a{i}.css\" -->\" rel=\"stylesheet\">\n"),
        1 => format!("<script src=\"/js/b{i}.js?<!--#fsize file='js/b{i}.js' -->\"></script>\n"),
        2 => "<!--#config timefmt=\"%s\" sizefmt=\"bytes\" -->\n".to_string(),
        3 => format!("<li><!--#echo encoding=\"entity\" var=\"ITEM_{i}\" --></li>\n"),
        _ => format!("<!--#include virtual=\"/inc/part{}.shtml\" -->\n", i % 7),
    }
    })
}

/// The density the performance issue measured (355 MB/s, 560 ns a directive): one
/// directive in about 200 bytes of markup.
fn directive_every_200_bytes() -> Vec<u8> {
    build(|i| {
        format!(
            "<li class=\"item\"><a href=\"/docs/page{i}.html\">Page {i}</a> updated \
             <!--#flastmod virtual=\"/docs/page{i}.html\" --> by the docs team, see the \
             changelog for details of this revision.</li>\n"
        )
    })
}

fn comment_heavy() -> Vec<u8> {
    build(|i| format!("<!-- block {i} --><div>x</div><!-- /block {i} -->\n"))
}

fn run(bencher: Bencher, input: Vec<u8>) {
    bencher
        .counter(BytesCount::of_slice(&input))
        .bench(|| ssibake_grammar::parse(black_box(&input)).nodes.len());
}

#[divan::bench]
fn free(bencher: Bencher) {
    run(bencher, directive_free());
}

#[divan::bench]
fn dense(bencher: Bencher) {
    run(bencher, directive_dense());
}

#[divan::bench]
fn dense_200(bencher: Bencher) {
    run(bencher, directive_every_200_bytes());
}

#[divan::bench]
fn comments(bencher: Bencher) {
    run(bencher, comment_heavy());
}
