//! The limits of one page's evaluation, and the C-string rule every value obeys.

/// Apache refuses a sub-request from a request that already has this many
/// ancestors (`LimitInternalRecursion`, `ap_is_recursion_limit_exceeded`).
pub(crate) const MAX_DEPTH: usize = 10;

// Limits per page, far beyond any real page, so that no input can keep a deploy busy
// for hours or exhaust memory (ten includes of ten includes ... ten levels deep is
// 10^10 includes; forty `set`s that double a value need a terabyte). Apache has none:
// it would stream such a page for ever.
/// Directives evaluated for one page, includes counted.
pub(crate) const MAX_DIRECTIVES: usize = 1_000_000;
/// Bytes of one rendered page.
pub(crate) const MAX_OUTPUT: usize = 256 << 20;
/// Diagnostics kept for one page; the rest are counted ("... and 9,900 more").
pub(crate) const MAX_DIAGNOSTICS: usize = 100;
/// Bytes of one variable's value (or any substituted attribute value).
pub(crate) const MAX_VALUE: usize = 16 << 20;

/// Cuts a value at its first NUL, as Apache's C strings do.
pub(crate) fn c_string(bytes: &[u8]) -> &[u8] {
    match memchr::memchr(0, bytes) {
        Some(i) => &bytes[..i],
        None => bytes,
    }
}
