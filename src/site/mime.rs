//! Content types from TypesConfig (Debian's `/etc/mime.types`, embedded), and which
//! included files Apache refuses under `IncludesNOEXEC`: those whose content type
//! does not start with `text/`.
//!
//! The per-directory rules (every extension of a name, `AddType`, `RemoveType`,
//! `ForceType`, the INCLUDES filter) live in [`crate::site::config`]; this module is
//! only the table.

#[path = "mime_table.rs"]
mod table;

/// The TypesConfig type of one extension token (lower-cased by the caller or not:
/// the lookup lower-cases it, as mod_mime does). `None` when mime.types does not list it.
pub(crate) fn types_config(extension: &[u8]) -> Option<&'static str> {
    let ext = std::str::from_utf8(extension).ok()?.to_ascii_lowercase();
    table::TYPES
        .binary_search_by(|(e, _)| e.cmp(&ext.as_str()))
        .ok()
        .map(|i| table::TYPES[i].1)
}

/// True when Apache's text/* test (`mod_include.c:handle_include`, a case-sensitive
/// `strncmp` with `text/`) refuses this content type; no type at all passes.
pub(crate) fn is_refused_type(content_type: Option<&[u8]>) -> bool {
    content_type.is_some_and(|t| !t.starts_with(b"text/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_types_pass_and_others_are_refused() {
        let refused = |ext: &str| is_refused_type(types_config(ext.as_bytes()).map(str::as_bytes));
        for ok in [
            "html",
            "shtml",
            "css",
            "js",
            "txt",
            "csv",
            "md",
            "unknownext",
        ] {
            assert!(!refused(ok), "{ok}");
        }
        for no in ["json", "svg", "png", "xml", "pdf"] {
            assert!(refused(no), "{no}");
        }
        assert!(!is_refused_type(None));
    }

    #[test]
    fn table_is_sorted_for_binary_search() {
        assert!(table::TYPES.windows(2).all(|w| w[0].0 < w[1].0));
    }

    // apache-rules.md §2.1: entries with a dot can never match one token; Debian lists
    // `sh` twice and the later `text/x-sh` wins; the type keeps mime.types' case.
    #[test]
    fn table_follows_mod_mime() {
        assert_eq!(types_config(b"sh"), Some("text/x-sh"));
        assert_eq!(types_config(b"SHTML"), Some("text/html"));
        assert_eq!(types_config(b"json"), Some("application/json"));
        assert_eq!(types_config(b"pcf"), Some("application/x-font-pcf"));
        assert_eq!(types_config(b"Z"), None);
        assert_eq!(types_config(b"en"), None);
        assert!(table::TYPES.iter().all(|(e, _)| !e.contains('.')));
        assert_eq!(types_config(b"a2l"), Some("application/A2L"));
    }
}
