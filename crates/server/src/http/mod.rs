//! HTTP plumbing shared by every route: problem+json errors, the JSON extractor, middleware.

pub mod client_ip;
pub mod json;
pub mod middleware;
pub mod path;
pub mod problem;
pub mod query;

use axum::Json;
use axum::http::HeaderValue;
use axum::http::header::CACHE_CONTROL;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// A JSON answer that is personal data: never cached.
pub(crate) fn no_store<T: Serialize>(body: T) -> Response {
    let mut response = Json(body).into_response();
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
