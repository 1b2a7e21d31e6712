//! Where Apache httpd 2.4 releases differ in what `mod_include` sends, and which
//! release a bake reproduces.
//!
//! One difference is known (both sides observed on Debian's builds, 2.4.67 and 2.4.71):
//! httpd 2.4.68 changed what an `#if` or `#elif` whose condition cannot be evaluated
//! does to the branches ("Don't print any of if/elsif/else content when a
//! conditional evaluation returns an error", httpd PR 658). Before it, the error text
//! is printed and the flags are left as they were (`handle_if` and `handle_elif`
//! return early in 2.4.63's `mod_include.c`), so the `if` body prints and a following
//! `else` does not; since, none of the branches prints (see `eval::Rendering::errored`).

use std::fmt;
use std::str::FromStr;

/// An Apache httpd 2.4 release (`2.4.67`), the one whose output a bake reproduces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ApacheVersion {
    /// Always 2.
    pub major: u16,
    /// Always 4.
    pub minor: u16,
    /// The release.
    pub patch: u16,
}

impl ApacheVersion {
    /// The newest release whose behaviour ssibake was checked against (the default).
    pub const LATEST: ApacheVersion = ApacheVersion::new(2, 4, 71);

    /// The first release whose erroring `#if`/`#elif` prints none of its branches.
    pub const IF_ERROR_HIDES_BRANCHES: ApacheVersion = ApacheVersion::new(2, 4, 68);

    /// `major.minor.patch`.
    pub const fn new(major: u16, minor: u16, patch: u16) -> ApacheVersion {
        ApacheVersion {
            major,
            minor,
            patch,
        }
    }

    /// True when an erroring `#if`/`#elif` hides every branch (2.4.68 and later).
    pub fn if_error_hides_branches(self) -> bool {
        self >= ApacheVersion::IF_ERROR_HIDES_BRANCHES
    }
}

impl Default for ApacheVersion {
    fn default() -> Self {
        ApacheVersion::LATEST
    }
}

impl fmt::Display for ApacheVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// Why an Apache version was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an Apache httpd 2.4 release: give it as `2.4.N` (as `apache2 -v` prints it)")]
pub struct ApacheVersionError(pub String);

impl FromStr for ApacheVersion {
    type Err = ApacheVersionError;

    /// `2.4.67`, also as `apache2 -v` and the `Server` header print it
    /// (`Apache/2.4.67`, `2.4.67-1~deb12u2`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || ApacheVersionError(s.to_string());
        let t = s.trim();
        let t = t.strip_prefix("Apache/").unwrap_or(t);
        let end = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(t.len());
        let mut parts = t[..end].split('.').map(|p| p.parse::<u16>());
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(Ok(2)), Some(Ok(4)), Some(Ok(patch)), None) => {
                Ok(ApacheVersion::new(2, 4, patch))
            }
            _ => Err(bad()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_as_apache_prints_them() {
        for (text, patch) in [
            ("2.4.67", 67),
            ("Apache/2.4.71", 71),
            ("2.4.67-1~deb12u2", 67),
            (" 2.4.0 ", 0),
        ] {
            assert_eq!(text.parse(), Ok(ApacheVersion::new(2, 4, patch)), "{text}");
        }
        for bad in ["2.2.34", "2.4", "2.4.x", "", "2.4.67.1", "3.0.0"] {
            assert!(bad.parse::<ApacheVersion>().is_err(), "{bad}");
        }
        assert!(!ApacheVersion::new(2, 4, 67).if_error_hides_branches());
        assert!(ApacheVersion::new(2, 4, 68).if_error_hides_branches());
        assert!(ApacheVersion::default().if_error_hides_branches());
        assert_eq!(ApacheVersion::LATEST.to_string(), "2.4.71");
    }
}
