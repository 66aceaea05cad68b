//! HTTP plumbing shared by every route: problem+json errors, the JSON extractor, middleware.

pub mod json;
pub mod middleware;
pub mod path;
pub mod problem;
pub mod query;
