//! Bakes a small site held in memory, without touching the disk, and prints the
//! output tree.
//!
//! Run with `cargo run --example bake_in_memory`.

use ssibake::{BakeOptions, Baker, MemoryFs};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut site = MemoryFs::new();
    site.insert(
        "index.shtml",
        concat!(
            "<!--#config timefmt=\"%s\" -->",
            "<link href=\"/css/app.css?<!--#flastmod virtual=\"/css/app.css\" -->\">\n",
            "<!--#include virtual=\"/includes/nav.shtml\" -->",
        ),
        1_700_000_000,
    )
    .insert(
        "includes/nav.shtml",
        "<nav><!--#echo var=\"DOCUMENT_URI\" --></nav>\n",
        1_700_000_000,
    )
    .insert("css/app.css", "body { margin: 0 }\n", 1_355_283_501);

    let baker = Baker::builder()
        .file_system(site)
        .now(1_700_000_000)
        .build()?;
    let options = BakeOptions::default().with_exclude(["includes/**"]);
    let (files, report) = baker.bake_to_memory(&options)?;
    for file in &files {
        println!("== {} ({} bytes)", file.path, file.bytes.len());
        println!("{}", String::from_utf8_lossy(&file.bytes));
    }
    println!("{}", report.summary(0));
    Ok(())
}
