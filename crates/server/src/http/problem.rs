//! The one place where errors become HTTP responses: RFC 9457 `application/problem+json`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

tokio::task_local! {
    /// The id of the request being served, so an error built anywhere below the handler can
    /// name it in its body (the same id is in the `x-request-id` header and the logs).
    pub static REQUEST_ID: String;
}

/// Media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An error on its way to the client, carrying everything the problem body says.
///
/// `detail` is meant for people (Chinese), `code` for programs (stable, English).
#[derive(Debug, Clone)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    detail: String,
    retry_after: Option<u64>,
    /// One extension member of the problem body (RFC 9457 §3.2), e.g. a challenge to answer.
    extension: Option<(&'static str, serde_json::Value)>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.status, self.code, self.detail)
    }
}

impl std::error::Error for ApiError {}

/// Body of an error response (RFC 9457 plus `code` and `request_id`).
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// URI naming the problem type.
    #[serde(rename = "type")]
    pub type_uri: String,
    /// Short English summary of the status.
    pub title: String,
    /// HTTP status code.
    pub status: u16,
    /// What went wrong, in Chinese, specific enough to act on.
    pub detail: String,
    /// Stable machine-readable code, e.g. `resident_id.bad_check_digit`.
    pub code: String,
    /// The request's id, to quote to support.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl ApiError {
    /// An error with the given status, code and human-readable detail.
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            detail: detail.into(),
            retry_after: None,
            extension: None,
        }
    }

    /// The same error with a `Retry-After` of `seconds`.
    #[must_use]
    pub fn with_retry_after(mut self, seconds: u64) -> ApiError {
        self.retry_after = Some(seconds);
        self
    }

    /// The same error with the extension member `name` (a snake_case name that is not one of
    /// the standard members) set to `value` in its body.
    #[must_use]
    pub fn with_extension(mut self, name: &'static str, value: serde_json::Value) -> ApiError {
        self.extension = Some((name, value));
        self
    }

    /// 400: the request is malformed.
    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, detail)
    }

    /// 422: well-formed, but a value is invalid.
    pub fn invalid(code: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail)
    }

    /// 401: no valid session or credential.
    pub fn unauthenticated(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "auth.unauthenticated", detail)
    }

    /// 403: authenticated, but this role may not do this.
    pub fn forbidden(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "auth.forbidden", detail)
    }

    /// 404: no such resource (also used where revealing existence would leak data).
    pub fn not_found(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", detail)
    }

    /// 503: a dependency is down; the client may retry after `seconds`.
    pub fn unavailable(code: &'static str, detail: impl Into<String>, seconds: u64) -> ApiError {
        ApiError {
            retry_after: Some(seconds),
            ..ApiError::new(StatusCode::SERVICE_UNAVAILABLE, code, detail)
        }
    }

    /// 429: the caller exceeded a rate limit; one request after `seconds` would pass.
    pub fn rate_limited(seconds: u64) -> ApiError {
        ApiError {
            retry_after: Some(seconds),
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("请求过于频繁，请 {seconds} 秒后再试。"),
            )
        }
    }

    /// 503: no agency is configured (neither a registry file nor the in-process simulator).
    pub fn exchange_not_configured() -> ApiError {
        ApiError::unavailable(
            "exchange.not_configured",
            "未配置政务数据接入（统一接入标准）。",
            60,
        )
    }

    /// 500: a bug or an unexpected failure. The cause is logged here, never sent to the client.
    pub fn internal(cause: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %cause, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "服务器内部错误，请稍后重试；如持续出现请联系客服并提供请求编号。",
        )
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The machine-readable code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The human-readable detail (Chinese).
    pub fn detail(&self) -> &str {
        &self.detail
    }
}

/// The problem body for a status that some layer produced without one.
pub fn bare_status_problem(status: StatusCode) -> ApiError {
    let (code, detail) = match status {
        StatusCode::NOT_FOUND => ("not_found", "请求的资源不存在。"),
        StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", "该地址不支持此请求方法。"),
        StatusCode::PAYLOAD_TOO_LARGE => ("body.too_large", "请求体过大。"),
        StatusCode::REQUEST_TIMEOUT | StatusCode::GATEWAY_TIMEOUT => {
            ("timeout", "请求处理超时，请稍后重试。")
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "body.unsupported_media_type",
            "请求体类型不受支持，请使用 application/json。",
        ),
        StatusCode::TOO_MANY_REQUESTS => ("rate_limited", "请求过于频繁，请稍后再试。"),
        s if s.is_server_error() => ("internal", "服务器内部错误，请稍后重试。"),
        _ => ("bad_request", "请求无效。"),
    };
    ApiError::new(status, code, detail)
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let title = self
            .status
            .canonical_reason()
            .unwrap_or("Error")
            .to_string();
        let body = Problem {
            type_uri: format!("https://bianmin.dev/problems/{}", self.code),
            title,
            status: self.status.as_u16(),
            detail: self.detail,
            code: self.code.to_string(),
            request_id: REQUEST_ID.try_with(Clone::clone).ok(),
        };
        let mut response = match self.extension {
            None => (self.status, Json(body)).into_response(),
            Some((name, value)) => {
                let mut body = serde_json::to_value(&body).unwrap_or_default();
                if let Some(members) = body.as_object_mut() {
                    members.insert(name.to_owned(), value);
                }
                (self.status, Json(body)).into_response()
            }
        };
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<bianmin_store::StoreError> for ApiError {
    fn from(err: bianmin_store::StoreError) -> ApiError {
        if err.is_unavailable() {
            tracing::error!(error = %err, "database unavailable");
            ApiError::unavailable("database.unavailable", "数据库暂不可用，请稍后重试。", 5)
        } else {
            ApiError::internal(err)
        }
    }
}

impl From<bianmin_core::Error> for ApiError {
    fn from(err: bianmin_core::Error) -> ApiError {
        ApiError::invalid(err.code(), err.to_string())
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> ApiError {
        bianmin_store::StoreError::from(err).into()
    }
}
