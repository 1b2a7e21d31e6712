//! Rendering never panics, in every mode, with includes available.
#![no_main]
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use ssibake::{Baker, MemoryFs, OnError};

#[derive(Arbitrary, Debug)]
struct Input {
    page: Vec<u8>,
    include: Vec<u8>,
    errmsg: bool,
    legacy: bool,
}

fuzz_target!(|input: Input| {
    let mut fs = MemoryFs::new();
    fs.insert("inc.shtml", input.include.clone(), 1);
    fs.insert("raw.html", b"raw".to_vec(), 2);
    let baker = Baker::builder()
        .file_system(fs)
        .on_error(if input.errmsg { OnError::Errmsg } else { OnError::Fail })
        .legacy_expr(input.legacy)
        .now(0)
        .build()
        .unwrap();
    let _ = baker.render_bytes("index.shtml", &input.page, 0);
});
