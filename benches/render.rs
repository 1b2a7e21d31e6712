//! The evaluator and one page end to end, in bytes per second.
//!
//! - `evaluate`: a 20 KB page with 20 `flastmod`/`fsize` stamps and 5 includes rendered
//!   from memory (`MemoryFs`), parsing included: the engine alone, no I/O.
//! - `page_end_to_end`: the same page and files on disk (a temporary directory), a new
//!   `Baker` each time (the `.htaccess` walk, the MIME table, the root handle), then
//!   `render`: everything the command line does for one page but start the process.
//!
//! `cargo bench --bench render`

use divan::counter::BytesCount;
use divan::{black_box, Bencher};
use ssibake::{Baker, MemoryFs};

fn main() {
    divan::main();
}

const STAMPS: usize = 20;
const INCLUDES: usize = 5;

fn page() -> Vec<u8> {
    let mut p = String::from("<!DOCTYPE html>\n<!--#config timefmt=\"%s\" -->\n<head>\n");
    for i in 0..STAMPS {
        let d = if i % 2 == 0 { "flastmod" } else { "fsize" };
        p += &format!(
            "<link href=\"/a/f{i}.css?<!--#{d} virtual=\"/a/f{i}.css\" -->\" rel=\"stylesheet\">\n"
        );
    }
    p += "</head>\n<body>\n";
    for i in 0..INCLUDES {
        p += &format!("<!--#include virtual=\"/inc/part{i}.shtml\" -->\n");
        for _ in 0..8 {
            p += "<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor \
                  incididunt ut labore et dolore magna aliqua. Grüße, café, 日本語.</p>\n";
        }
    }
    p += "</body>\n";
    p.into_bytes()
}

fn files() -> Vec<(String, Vec<u8>)> {
    let mut f = Vec::new();
    for i in 0..STAMPS {
        f.push((format!("a/f{i}.css"), vec![b'x'; 100 + i * 37]));
    }
    for i in 0..INCLUDES {
        f.push((
            format!("inc/part{i}.shtml"),
            format!("<nav>part {i}, <!--#echo var=\"DOCUMENT_NAME\" --></nav>\n").into_bytes(),
        ));
    }
    f
}

#[divan::bench]
fn evaluate(bencher: Bencher) {
    let mut site = MemoryFs::new();
    for (path, bytes) in files() {
        site.insert(&path, bytes, 1_700_000_000);
    }
    let baker = Baker::builder().file_system(site).build().unwrap();
    let page = page();
    bencher.counter(BytesCount::of_slice(&page)).bench(|| {
        baker
            .render_bytes("index.shtml", black_box(&page), 1_700_000_000)
            .unwrap()
            .output
            .len()
    });
}

#[divan::bench]
fn page_end_to_end(bencher: Bencher) {
    let dir = tempfile::tempdir().unwrap();
    for (path, bytes) in files() {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
    let page = page();
    std::fs::write(dir.path().join("index.shtml"), &page).unwrap();
    bencher.counter(BytesCount::of_slice(&page)).bench(|| {
        let baker = Baker::builder().root(dir.path()).build().unwrap();
        baker.render("index.shtml").unwrap().output.len()
    });
}
