pub(crate) mod cache;
pub(crate) mod fs;
pub(crate) mod git;
pub(crate) mod mime;
pub(crate) mod resolve;
pub(crate) mod version;
