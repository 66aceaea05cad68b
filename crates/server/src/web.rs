//! The front-ends in `web/` (citizen H5, cockpit, console, API docs), embedded in the binary.

use axum::body::Body;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH, LOCATION};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

use crate::http::problem::ApiError;

#[derive(RustEmbed)]
#[folder = "../../web/"]
#[exclude = "node_modules/*"]
#[exclude = "*.md"]
#[exclude = "vendor/*/PROVENANCE.md"]
struct Assets;

/// Serves an embedded file for any path no API route matched.
pub async fn serve(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path();
    let is_api = path.starts_with("/api/") && path != "/api/docs";
    if is_api || !(method == Method::GET || method == Method::HEAD) {
        return ApiError::not_found("请求的资源不存在。").into_response();
    }
    let relative = path.trim_start_matches('/');
    let file = match relative {
        "" => "index.html".to_owned(),
        "api/docs" => "api-docs/index.html".to_owned(),
        p if p.ends_with('/') => format!("{p}index.html"),
        p => p.to_owned(),
    };
    if let Some(asset) = Assets::get(&file) {
        let etag = format!("\"{}\"", hex::encode(&asset.metadata.sha256_hash()[..12]));
        if headers
            .get(IF_NONE_MATCH)
            .is_some_and(|v| v.as_bytes() == etag.as_bytes())
        {
            return (StatusCode::NOT_MODIFIED, [(ETAG, etag)]).into_response();
        }
        let mime = asset.metadata.mimetype();
        let cache = if file.ends_with(".html") {
            "no-cache"
        } else {
            "public, max-age=300"
        };
        let mut response = Response::new(Body::from(asset.data.into_owned()));
        let h = response.headers_mut();
        if let Ok(v) = HeaderValue::from_str(mime) {
            h.insert(CONTENT_TYPE, v);
        }
        h.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
        if let Ok(v) = HeaderValue::from_str(&etag) {
            h.insert(ETAG, v);
        }
        return response;
    }
    // `/citizen` → `/citizen/` so relative links inside the page resolve.
    if !relative.is_empty() && Assets::get(&format!("{relative}/index.html")).is_some() {
        return (
            StatusCode::PERMANENT_REDIRECT,
            [(LOCATION, format!("/{relative}/"))],
        )
            .into_response();
    }
    ApiError::not_found("页面不存在。").into_response()
}
