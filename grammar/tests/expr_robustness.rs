//! No input may panic, overflow the stack or hang either expression parser.

use ssibake_grammar::expr::{ap, legacy};

/// xorshift64*: deterministic pseudo-random bytes without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

const PIECES: &[&str] = &[
    "(",
    ")",
    "!",
    "&&",
    "||",
    "=",
    "==",
    "!=",
    "<",
    ">=",
    "'",
    "\"",
    "/",
    "\\",
    "$",
    "${",
    "}",
    "%{",
    "{",
    ",",
    ":",
    " ",
    "\n",
    "\t",
    "a",
    "0",
    "-A",
    "-n",
    "-eq",
    "-strmatch",
    "m#",
    "#",
    "true",
    "v(",
    "'x'",
    "and",
    "or",
    "not",
    ".",
    "in",
    "$1",
    "\\0",
    "\\777",
    "\u{e9}",
    "\0",
    "=~",
    "!~",
    "/i",
    "\r",
];

fn check(input: &[u8]) {
    let _ = legacy::parse(input);
    let _ = ap::parse(input);
}

#[test]
fn deep_nesting_is_an_error() {
    for s in [
        "(",
        "!",
        "( ",
        "!(",
        "'a' . ",
        "'%{v:",
        "a && ",
        "%{tolower:",
    ] {
        let input = s.repeat(100_000);
        check(input.as_bytes());
    }
    assert!(legacy::parse("(".repeat(100_000).as_bytes()).is_err());
    assert!(ap::parse("(".repeat(100_000).as_bytes()).is_err());
    assert!(ap::parse(format!("{}true", "!".repeat(100_000)).as_bytes()).is_err());
}

#[test]
fn random_inputs_do_not_panic() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for round in 0..3000 {
        let len = if round % 100 == 0 {
            20_000
        } else {
            (rng.next() % 60) as usize
        };
        let mut s = String::new();
        for _ in 0..len {
            s.push_str(PIECES[(rng.next() % PIECES.len() as u64) as usize]);
        }
        check(s.as_bytes());
    }
}

#[test]
fn random_bytes_do_not_panic() {
    let mut rng = Rng(42);
    for _ in 0..2000 {
        let len = (rng.next() % 80) as usize;
        let bytes: Vec<u8> = (0..len).map(|_| (rng.next() >> 24) as u8).collect();
        check(&bytes);
    }
    let big: Vec<u8> = (0..200_000).map(|_| (rng.next() >> 24) as u8).collect();
    check(&big);
}

#[test]
fn long_flat_inputs_are_fast() {
    let start = std::time::Instant::now();
    check("a ".repeat(200_000).as_bytes());
    check(format!("'{}' == ''", "x".repeat(8000)).as_bytes());
    check(format!("'{}' == ''", "x".repeat(9000)).as_bytes());
    check(format!("'' =~ /{}/", "x".repeat(9000)).as_bytes());
    check("a = b || ".repeat(20_000).as_bytes());
    check(")".repeat(100_000).as_bytes());
    assert!(start.elapsed().as_secs() < 20);
}
