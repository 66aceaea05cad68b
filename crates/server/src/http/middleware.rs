//! Cross-cutting middleware: request ids, metrics, security headers, and turning bare error
//! statuses from lower layers into problem+json.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::header::{CONTENT_TYPE, HeaderName};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::problem::{REQUEST_ID, bare_status_problem};

/// Header carrying the request id (set by `SetRequestIdLayer`, echoed to the client).
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Makes the request id available to error bodies built anywhere below, and gives
/// status-only error responses (404 from routing, 405, 408 from the timeout layer, panics) a
/// problem+json body.
pub async fn request_context(request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(&REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    REQUEST_ID
        .scope(id, async move {
            let response = next.run(request).await;
            let status = response.status();
            let bare = (status.is_client_error() || status.is_server_error())
                && !response.headers().contains_key(CONTENT_TYPE);
            if bare {
                bare_status_problem(status).into_response()
            } else {
                response
            }
        })
        .await
}

/// Counts requests and observes their latency per route template (never the raw path, which
/// may carry identifiers).
pub async fn record_metrics(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| {
            if request.uri().path().starts_with("/api/") {
                "unmatched".to_owned()
            } else {
                "static".to_owned()
            }
        });
    let method = request.method().as_str().to_owned();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    response
}

/// Headers that keep pages from being framed, sniffed or made to load foreign code.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
             img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; \
             frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ),
    );
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    response
}

/// Answer for a panicking handler: a problem body; the panic itself is logged by the layer.
pub fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("handler panicked");
    bare_status_problem(StatusCode::INTERNAL_SERVER_ERROR).into_response()
}
