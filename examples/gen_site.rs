//! Writes a deterministic synthetic SSI site for benchmarks, from a seed: pages of
//! 5 to 50 KB in nested directories, each with 4 to 6 includes and 10 to 20
//! `flastmod`/`fsize` stamps over 500 shared assets; some pages in CRLF, some text
//! non-ASCII (UTF-8 and Latin-1 bytes). Every file gets a fixed modification time,
//! so two runs with one seed write the same tree.
//!
//! `cargo run --release --example gen_site -- PAGES DIR [SEED]`

use std::fs;
use std::path::Path;

/// xorshift64*: small, deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
}

const ASSETS: usize = 500;
const PARTIALS: usize = 12;
const WORDS: &[&str] = &[
    "lorem",
    "ipsum",
    "dolor",
    "sit",
    "amet",
    "consectetur",
    "adipiscing",
    "elit",
    "sed",
    "do",
    "eiusmod",
    "tempor",
    "incididunt",
    "ut",
    "labore",
    "et",
    "dolore",
    "magna",
    "aliqua",
    "Grüße",
    "café",
    "naïve",
    "日本語",
    "한국어",
    "Ελληνικά",
];

fn set_time(path: &Path, t: i64) -> std::io::Result<()> {
    filetime::set_file_mtime(path, filetime::FileTime::from_unix_time(t, 0))
}

fn paragraph(rng: &mut Rng, out: &mut Vec<u8>) {
    out.extend_from_slice(b"<p>");
    for i in 0..rng.range(40, 120) {
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(WORDS[rng.below(WORDS.len() as u64) as usize].as_bytes());
    }
    if rng.below(20) == 0 {
        // A Latin-1 byte: bytes pass through whatever the encoding.
        out.extend_from_slice(b" caf\xe9");
    }
    out.extend_from_slice(b"</p>\n");
}

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let pages: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(5_000);
    let dir = args.next().unwrap_or_else(|| "bench-site".into());
    let seed: u64 = args.next().and_then(|n| n.parse().ok()).unwrap_or(1);
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let root = Path::new(&dir);
    let t0 = 1_600_000_000i64;

    let mut asset_names = Vec::with_capacity(ASSETS);
    for a in 0..ASSETS {
        let (sub, ext) = match a % 4 {
            0 => ("css", "css"),
            1 => ("js", "js"),
            2 => ("img", "png"),
            _ => ("fonts", "woff2"),
        };
        let name = format!("assets/{sub}/a{a:03}.{ext}");
        let path = root.join(&name);
        fs::create_dir_all(path.parent().unwrap())?;
        let len = rng.range(500, 40_000) as usize;
        let bytes: Vec<u8> = (0..len)
            .map(|i| (i as u8).wrapping_mul(31) ^ a as u8)
            .collect();
        fs::write(&path, bytes)?;
        set_time(&path, t0 + rng.below(10_000_000) as i64)?;
        asset_names.push(name);
    }
    fs::create_dir_all(root.join("inc"))?;
    for (p, stamped) in asset_names.iter().take(PARTIALS).enumerate() {
        let path = root.join(format!("inc/part{p:02}.shtml"));
        let mut text = format!("<div class=\"part{p}\">").into_bytes();
        paragraph(&mut rng, &mut text);
        text.extend_from_slice(b"<!--#echo var=\"DOCUMENT_URI\" --> <!--#flastmod virtual=\"/");
        text.extend_from_slice(stamped.as_bytes());
        text.extend_from_slice(b"\" --></div>\n");
        fs::write(&path, text)?;
        set_time(&path, t0)?;
    }
    fs::write(root.join("inc/footer.html"), "<footer>© Example</footer>\n")?;
    set_time(&root.join("inc/footer.html"), t0)?;

    for i in 0..pages {
        let sub = format!("s{:02}/t{:02}", i % 40, (i / 40) % 25);
        fs::create_dir_all(root.join(&sub))?;
        let crlf = rng.below(10) == 0;
        let target = rng.range(5_000, 50_000) as usize;
        let mut page = Vec::with_capacity(target + 4096);
        page.extend_from_slice(
            b"<!--#config timefmt=\"%s\" --><!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\n",
        );
        page.extend_from_slice(format!("<title>Page {i}</title>\n").as_bytes());
        let stamps = rng.range(10, 20);
        let includes = rng.range(4, 6);
        let mut done_stamps = 0;
        let mut done_includes = 0;
        page.extend_from_slice(b"</head><body>\n");
        while page.len() < target || done_stamps < stamps || done_includes < includes {
            match rng.below(4) {
                0 if done_stamps < stamps => {
                    let a = &asset_names[rng.below(ASSETS as u64) as usize];
                    let what = if rng.below(3) == 0 {
                        "fsize"
                    } else {
                        "flastmod"
                    };
                    page.extend_from_slice(
                        format!("<link href=\"/{a}?<!--#{what} virtual=\"/{a}\" -->\">\n")
                            .as_bytes(),
                    );
                    done_stamps += 1;
                }
                1 if done_includes < includes => {
                    if done_includes + 1 == includes {
                        page.extend_from_slice(b"<!--#include virtual=\"/inc/footer.html\" -->\n");
                    } else {
                        let p = rng.below(PARTIALS as u64);
                        page.extend_from_slice(
                            format!("<!--#include virtual=\"/inc/part{p:02}.shtml\" -->\n")
                                .as_bytes(),
                        );
                    }
                    done_includes += 1;
                }
                _ => paragraph(&mut rng, &mut page),
            }
        }
        page.extend_from_slice(b"</body></html>\n");
        if crlf {
            let mut with_cr = Vec::with_capacity(page.len() + page.len() / 40);
            for &b in &page {
                if b == b'\n' {
                    with_cr.push(b'\r');
                }
                with_cr.push(b);
            }
            page = with_cr;
        }
        let path = root.join(format!("{sub}/page{i:05}.shtml"));
        fs::write(&path, page)?;
        set_time(&path, t0 + i as i64)?;
    }
    println!(
        "wrote {pages} pages, {ASSETS} assets under {}",
        root.display()
    );
    Ok(())
}
