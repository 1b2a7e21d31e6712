//! Which included files Apache refuses under `IncludesNOEXEC`: those whose
//! content type (from the extension, as mod_mime assigns it) is not `text/*`.

#[path = "mime_table.rs"]
mod table;

/// True when Apache (Debian's mime.types) would give a file with this extension a
/// content type outside `text/*`. Unknown extensions get no type and are allowed.
pub(crate) fn is_refused(extension: Option<&[u8]>) -> bool {
    let Some(ext) = extension else { return false };
    let Ok(ext) = std::str::from_utf8(ext) else {
        return false;
    };
    let ext = ext.to_ascii_lowercase();
    table::NOT_TEXT.binary_search(&ext.as_str()).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_types_pass_and_others_are_refused() {
        for ok in ["html", "shtml", "css", "js", "txt", "csv", "md"] {
            assert!(!is_refused(Some(ok.as_bytes())), "{ok}");
        }
        for refused in ["json", "svg", "png", "xml", "PNG", "pdf"] {
            assert!(is_refused(Some(refused.as_bytes())), "{refused}");
        }
        assert!(!is_refused(None));
        assert!(!is_refused(Some(b"unknownext")));
    }

    #[test]
    fn table_is_sorted_for_binary_search() {
        assert!(table::NOT_TEXT.windows(2).all(|w| w[0] < w[1]));
    }
}
