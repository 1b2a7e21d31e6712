//! ssibake evaluates Apache httpd 2.4 `mod_include` Server Side Includes once, at
//! deploy time, and writes the HTML Apache would have served, byte for byte.
//!
//! ```
//! use ssibake::{Baker, MemoryFs};
//!
//! let mut site = MemoryFs::new();
//! site.insert("css/app.css", "body{}", 1355283501);
//! let baker = Baker::builder()
//!     .file_system(site)
//!     .build()
//!     .unwrap();
//! let page = b"<!--#config timefmt=\"%s\" --><link href=\"/css/app.css?<!--#flastmod virtual=\"/css/app.css\" -->\">";
//! let out = baker.render_bytes("index.shtml", page, 0).unwrap();
//! assert_eq!(out.output, b"<link href=\"/css/app.css?1355283501\">");
//! ```
//!
//! A whole tree bakes in parallel, here in memory (`Baker::bake` writes a directory,
//! swapping it in only when every page succeeded):
//!
//! ```
//! use ssibake::{BakeOptions, Baker, MemoryFs};
//!
//! let mut site = MemoryFs::new();
//! site.insert("index.shtml", "<!--#include virtual=\"/nav.html\" -->home", 0)
//!     .insert("blog/index.shtml", "<!--#include virtual=\"../nav.html\" -->blog", 0)
//!     .insert("nav.html", "[nav]", 0);
//! let baker = Baker::builder().file_system(site).build().unwrap();
//! let (files, report) = baker.bake_to_memory(&BakeOptions::default()).unwrap();
//! let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
//! assert_eq!(paths, ["blog/index.html", "index.html", "nav.html"]);
//! assert_eq!(files[0].bytes, b"[nav]blog");
//! assert_eq!((report.pages, report.includes, report.copied), (2, 2, 1));
//! ```
//!
//! Errors are reported, never rendered, unless [`OnError::Errmsg`] asks for
//! Apache's inline error text:
//!
//! ```
//! use ssibake::{Baker, Error, MemoryFs};
//!
//! let baker = Baker::builder().file_system(MemoryFs::new()).build().unwrap();
//! let err = baker.render_bytes("index.shtml", b"<!--#include virtual=\"/nav.html\" -->", 0).unwrap_err();
//! let Error::Template(errors) = err else { panic!() };
//! assert!(errors.render(false).starts_with("index.shtml:1:14: error: `nav.html` does not exist"));
//! ```
#![deny(unsafe_code)]
#![deny(missing_docs)]

#[cfg(feature = "bake")]
mod bake;
#[cfg(feature = "cli")]
#[doc(hidden)]
pub mod cli;
mod engine;
mod format;
#[cfg(feature = "serve")]
pub mod serve;
mod site;

#[cfg(feature = "bake")]
pub use bake::client;
#[cfg(feature = "bake")]
pub use bake::{BakeError, BakeOptions, BakeReport, BakedFile, Difference, PageDeps};
pub use engine::baker::{Baker, BakerBuilder, Rendered};
pub use engine::compat::{ApacheVersion, ApacheVersionError};
pub use engine::diag::{Code, Diagnostic, Location, RenderOptions, Severity, Sources};
pub use engine::errors::{Error, TemplateErrors};
pub use engine::eval::OnError;
pub use format::timefmt::{Zone, ZoneError};
pub use site::fs::{DiskFs, FileSystem, MemoryFs, Metadata};
pub use site::resolve::{PathError, SitePath};
pub use site::version::{MtimeFrom, MtimeSource};

/// The README's Rust examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
