//! The update-notice client (see `client/`), embedded so that a bake can publish it
//! without any other tool.

/// The classic-script form (a global `ssibakeUpdate`), minified.
pub const CLASSIC: &str = include_str!("../../client/dist/ssibake-update.js");
/// The ES module form, minified.
pub const MODULE: &str = include_str!("../../client/dist/ssibake-update.mjs");
