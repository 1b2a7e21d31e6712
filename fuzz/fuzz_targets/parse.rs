//! The parsers never panic and account for every byte.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let doc = ssibake_grammar::parse(data);
    let _ = doc.errors();
    let _ = ssibake_grammar::expr::ap::parse(data);
    let _ = ssibake_grammar::expr::legacy::parse(data);
});
