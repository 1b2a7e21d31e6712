pub(crate) mod encoding;
pub(crate) mod fnmatch;
pub(crate) mod sizefmt;
pub(crate) mod timefmt;
