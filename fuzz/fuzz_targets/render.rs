//! Rendering never panics, in every mode, with includes available.
//!
//! The input (read with `arbitrary`'s `Unstructured`, so that `seed_corpus.py`
//! can write seeds from fixtures): two option bytes, then the page, then after
//! `\n\0\0\n` the included file's bytes.
#![no_main]
use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use ssibake::{Baker, MemoryFs, OnError};

const SEPARATOR: &[u8] = b"\n\0\0\n";

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(flags) = u.arbitrary::<[u8; 2]>() else {
        return;
    };
    let rest = u.take_rest();
    let (page, include) = match rest.windows(SEPARATOR.len()).position(|w| w == SEPARATOR) {
        Some(i) => (&rest[..i], &rest[i + SEPARATOR.len()..]),
        None => (rest, &[][..]),
    };
    let mut fs = MemoryFs::new();
    fs.insert("inc.shtml", include.to_vec(), 1);
    fs.insert("raw.html", b"raw".to_vec(), 2);
    let baker = Baker::builder()
        .file_system(fs)
        .on_error(if flags[0] & 1 == 1 {
            OnError::Errmsg
        } else {
            OnError::Fail
        })
        .legacy_expr(flags[1] & 1 == 1)
        .now(0)
        .build()
        .unwrap();
    let _ = baker.render_bytes("index.shtml", page, 0);
});
