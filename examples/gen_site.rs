//! Writes a synthetic SSI site for benchmarks: N pages in nested directories, each
//! with the cache-busting recipe, two includes and some text, plus shared assets.
//!
//! `cargo run --release --example gen_site -- 20000 /tmp/bench-site`

use std::fs;
use std::path::Path;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let pages: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(20_000);
    let dir = args.next().unwrap_or_else(|| "bench-site".into());
    let root = Path::new(&dir);
    fs::create_dir_all(root.join("css"))?;
    fs::create_dir_all(root.join("js"))?;
    fs::create_dir_all(root.join("includes"))?;
    fs::write(root.join("css/app.css"), "body { margin: 0 }\n".repeat(200))?;
    fs::write(root.join("js/app.js"), "console.log(1);\n".repeat(500))?;
    fs::write(
        root.join("includes/header.shtml"),
        "<header><a href=\"/\">Home</a> <!--#echo var=\"DOCUMENT_URI\" --></header>\n",
    )?;
    fs::write(
        root.join("includes/footer.html"),
        "<footer>Example</footer>\n",
    )?;
    let body = "<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua.</p>\n".repeat(30);
    for i in 0..pages {
        let sub = root.join(format!("section{}/part{}", i % 50, i % 7));
        fs::create_dir_all(&sub)?;
        let page = format!(
            "<!--#config timefmt=\"%s\" --><!DOCTYPE html>\n<html><head><title>Page {i}</title>\n\
             <link href=\"/css/app.css?<!--#flastmod virtual=\"/css/app.css\" -->\" rel=\"stylesheet\">\n\
             <script src=\"/js/app.js?<!--#flastmod virtual=\"/js/app.js\" -->\"></script></head><body>\n\
             <!--#include virtual=\"/includes/header.shtml\" -->\n{body}\
             <!--#include virtual=\"/includes/footer.html\" --></body></html>\n"
        );
        fs::write(sub.join(format!("page{i}.shtml")), page)?;
        // An image-sized asset beside every tenth page.
        if i % 10 == 0 {
            fs::write(sub.join(format!("img{i}.png")), vec![0u8; 20_000])?;
        }
    }
    println!("wrote {pages} pages under {}", root.display());
    Ok(())
}
