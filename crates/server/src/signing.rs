//! Signed requests: a citizen's device signs every request under `/api/v1/me/` with its SM2
//! key (`docs/sdk.md`, "Signed requests"; the canonical string is `bianmin-sdk`'s, shared with
//! the Rust SDK, and `web/assets/signing.js` builds the same in the H5 pages).
//!
//! [`verify_signatures`] checks a request that carries signature headers before any handler
//! runs: the headers' form, the clock (±5 minutes), the device (enrolled and not revoked), the
//! signature over method, path, query, timestamp, nonce and SM3 of the body, and last the
//! nonce (never seen within 10 minutes; remembered only once the signature verified, so
//! nobody can spend another device's nonces). A verified request carries [`SignedBy`] to the
//! handlers; the session extractor refuses it when the device is not the signed-in citizen's,
//! and refuses a citizen's unsigned `/api/v1/me/` request when signatures are required
//! ([`required_for`]).

use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bianmin_crypto::{SM2_SIGNATURE_LEN, Sm2VerifyingKey};
use bianmin_guard::SpentStore;
use bianmin_sdk::{
    HEADER_DEVICE, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP, MAX_CLOCK_SKEW_SECS,
    NONCE_WINDOW_SECS,
};
use bianmin_store::on_tx;
use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

use crate::app::AppState;
use crate::config::SignatureMode;
use crate::devices::DEVICE_SIGNER_ID;
use crate::http::problem::ApiError;

/// The device that signed a request, put into the request's extensions once its signature,
/// clock and nonce are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedBy {
    /// The device key's id.
    pub device_id: Uuid,
    /// The person the device is enrolled to.
    pub person_id: Uuid,
}

/// Whether a citizen's request to `path` must be signed when signatures are required: every
/// request under `/api/v1/me/` except device enrolment and the device list, which a device
/// needs before it has an enrolled key, and event streams; and questions to the assistant,
/// which answers personal ones from the citizen's own data (unsigned, a citizen is answered as
/// somebody not signed in). `bianmin_sdk::is_signed_path` is the rule.
pub fn required_for(path: &str) -> bool {
    bianmin_sdk::is_signed_path(path)
}

fn refusal(code: &'static str, detail: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, code, detail)
}

/// 401 `signature.required`: a citizen's unsigned request where signatures are required.
pub fn missing() -> ApiError {
    refusal(
        "signature.required",
        "请求缺少设备签名：请使用便民 App 或网页端的安全组件访问。",
    )
}

/// 401 `signature.unknown_device`: the device is not an active key of the signed-in citizen.
pub fn unknown_device() -> ApiError {
    refusal(
        "signature.unknown_device",
        "签名设备未登记、已注销或不属于当前登录用户，请重新登记本设备。",
    )
}

/// The four signature headers, parsed.
struct Presented {
    device_id: Uuid,
    timestamp: i64,
    nonce: String,
    signature: [u8; SM2_SIGNATURE_LEN],
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).map(|value| value.to_str().unwrap_or(""))
}

/// `None` when the request carries none of the headers (an unsigned request).
fn presented(headers: &HeaderMap) -> Option<Result<Presented, ApiError>> {
    let fields = [
        header(headers, HEADER_DEVICE),
        header(headers, HEADER_TIMESTAMP),
        header(headers, HEADER_NONCE),
        header(headers, HEADER_SIGNATURE),
    ];
    if fields.iter().all(Option::is_none) {
        return None;
    }
    let malformed = |what: &str| {
        refusal(
            "signature.malformed",
            &format!("请求签名格式有误：{what}。"),
        )
    };
    let [
        Some(device),
        Some(timestamp_text),
        Some(nonce),
        Some(signature),
    ] = fields
    else {
        return Some(Err(malformed(
            "x-bm-device、x-bm-timestamp、x-bm-nonce、x-bm-signature 须同时提供",
        )));
    };
    let parsed = (|| {
        let device_id =
            Uuid::parse_str(device.trim()).map_err(|_| malformed("设备 id 不是 UUID"))?;
        let timestamp = bianmin_sdk::parse_timestamp(timestamp_text)
            .ok_or_else(|| malformed("时间戳须为 Unix 秒数"))?;
        if !bianmin_sdk::is_valid_nonce(nonce) {
            return Err(malformed("随机数须为 16–64 位十六进制"));
        }
        let signature = hex::decode(signature.trim())
            .ok()
            .and_then(|bytes| <[u8; SM2_SIGNATURE_LEN]>::try_from(bytes).ok())
            .ok_or_else(|| malformed("签名须为 128 位十六进制（r||s）"))?;
        Ok(Presented {
            device_id,
            timestamp,
            nonce: nonce.to_ascii_lowercase(),
            signature,
        })
    })();
    Some(parsed)
}

#[derive(sqlx::FromRow)]
struct DeviceKeyRow {
    person_id: Uuid,
    public_key: Vec<u8>,
}

/// Middleware: verifies the signature of a request that carries one (see the module
/// documentation) and marks it [`SignedBy`]; refuses it with 401 `signature.*` otherwise.
/// Unsigned requests pass untouched: whether they needed a signature is the session
/// extractor's call, as only it knows who is signed in.
pub async fn verify_signatures(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if state.guard().signatures() == SignatureMode::Off {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let presented = match presented(&parts.headers) {
        None => return next.run(Request::from_parts(parts, body)).await,
        Some(Err(refused)) => return refused.into_response(),
        Some(Ok(presented)) => presented,
    };
    let limit = state.config().http.body_limit_bytes;
    let body = match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "request.too_large",
                "请求体过大。",
            )
            .into_response();
        }
    };
    let checked = match check(&state, &parts, &presented, &body).await {
        Ok(signed) => state
            .guard()
            .check_device(signed.device_id)
            .await
            .map(|()| signed),
        Err(refused) => Err(refused),
    };
    match checked {
        Ok(signed) => {
            let mut request = Request::from_parts(parts, Body::from(body));
            request.extensions_mut().insert(signed);
            next.run(request).await
        }
        Err(refused) => refused.into_response(),
    }
}

async fn check(
    state: &AppState,
    parts: &axum::http::request::Parts,
    presented: &Presented,
    body: &[u8],
) -> Result<SignedBy, ApiError> {
    let now = state.clock().now();
    if (now.timestamp() - presented.timestamp).abs() > MAX_CLOCK_SKEW_SECS {
        return Err(refusal(
            "signature.stale",
            "请求签名已过期：请检查手机时间是否准确后重试。",
        ));
    }
    let row: Option<DeviceKeyRow> = bianmin_store::on_pool!(state.store(), pool => {
        sqlx::query_as(
            "SELECT person_id, public_key FROM device_keys WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(presented.device_id)
        .fetch_optional(pool)
        .await?
    });
    let row = row.ok_or_else(unknown_device)?;
    let key = Sm2VerifyingKey::from_sec1_bytes(&row.public_key).map_err(|_| {
        ApiError::internal(format!(
            "device key {} is not a valid point",
            presented.device_id
        ))
    })?;
    let canonical = bianmin_sdk::canonical_request(
        parts.method.as_str(),
        parts.uri.path(),
        parts.uri.query(),
        presented.timestamp,
        &presented.nonce,
        body,
    );
    if key
        .verify(DEVICE_SIGNER_ID, canonical.as_bytes(), &presented.signature)
        .is_err()
    {
        tracing::warn!(device = %presented.device_id, "request signature rejected");
        return Err(refusal(
            "signature.invalid",
            "请求签名验证未通过：请求内容与签名不一致。",
        ));
    }
    if !first_use(state, presented.device_id, &presented.nonce, now).await? {
        tracing::warn!(device = %presented.device_id, "replayed request refused");
        return Err(refusal(
            "signature.replayed",
            "该请求已处理过（随机数重复），请勿重复提交。",
        ));
    }
    Ok(SignedBy {
        device_id: presented.device_id,
        person_id: row.person_id,
    })
}

/// Inserts into the database's nonce table clean out expired rows once in this many inserts.
const PURGE_EVERY: u64 = 512;

static INSERTS: AtomicU64 = AtomicU64::new(0);

/// Records `nonce` of `device` as used at `now`: true the first time within the window.
/// In Redis when it is configured (falling back to the database while Redis is down), else in
/// the database.
async fn first_use(
    state: &AppState,
    device: Uuid,
    nonce: &str,
    now: DateTime<Utc>,
) -> Result<bool, ApiError> {
    let window = TimeDelta::seconds(NONCE_WINDOW_SECS);
    if let Some(redis) = state.guard().redis_nonces() {
        let mut input = device.as_bytes().to_vec();
        input.extend_from_slice(nonce.as_bytes());
        let digest = bianmin_crypto::sm3_digest(&input);
        let mut id = [0u8; 16];
        id.copy_from_slice(&digest[..16]);
        match redis
            .mark_spent(&id, window.to_std().unwrap_or_default())
            .await
        {
            Ok(first) => return Ok(first),
            Err(error) => {
                tracing::warn!(%error, "Redis nonce store unavailable; using the database");
            }
        }
    }
    let purge = INSERTS
        .fetch_add(1, Ordering::Relaxed)
        .is_multiple_of(PURGE_EVERY);
    let mut tx = state.store().begin_write().await?;
    let inserted = on_tx!(&mut tx, conn => {
        if purge {
            sqlx::query("DELETE FROM request_nonces WHERE expires_at <= $1")
                .bind(now)
                .execute(&mut *conn)
                .await?;
        }
        sqlx::query(
            "INSERT INTO request_nonces (device_id, nonce, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
        )
        .bind(device)
        .bind(nonce)
        .bind(now + window)
        .execute(&mut *conn)
        .await?
        .rows_affected()
    });
    tx.commit().await?;
    if inserted == 1 {
        return Ok(true);
    }
    // The row may be an expired one not purged yet: a nonce may come back after the window.
    let mut tx = state.store().begin_write().await?;
    let renewed = on_tx!(&mut tx, conn => {
        sqlx::query(
            "UPDATE request_nonces SET expires_at = $1 \
             WHERE device_id = $2 AND nonce = $3 AND expires_at <= $4",
        )
        .bind(now + window)
        .bind(device)
        .bind(nonce)
        .bind(now)
        .execute(&mut *conn)
        .await?
        .rows_affected()
    });
    tx.commit().await?;
    Ok(renewed == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enrolment_is_the_only_citizen_path_without_a_signature() {
        assert!(required_for("/api/v1/me/hpf/account"));
        assert!(required_for("/api/v1/me/traffic/payments"));
        assert!(required_for("/api/v1/me/consents/{id}/approve"));
        assert!(!required_for("/api/v1/me/devices"));
        assert!(!required_for("/api/v1/me/devices/{id}/revoke"));
        assert!(!required_for("/api/v1/me"));
        assert!(required_for("/api/v1/assistant/ask"));
        assert!(!required_for("/api/v1/assistant/suggest"));
        assert!(!required_for("/api/v1/auth/dev-login"));
    }

    #[test]
    fn unsigned_requests_are_told_apart_from_partly_signed_ones() {
        let mut headers = HeaderMap::new();
        assert!(presented(&headers).is_none());
        headers.insert(
            HEADER_NONCE,
            "00112233445566778899aabbccddeeff".parse().unwrap(),
        );
        let refused = presented(&headers).unwrap().err().unwrap();
        assert_eq!(refused.code(), "signature.malformed");
        headers.insert(HEADER_DEVICE, Uuid::now_v7().to_string().parse().unwrap());
        headers.insert(HEADER_TIMESTAMP, "+1764453600".parse().unwrap());
        headers.insert(HEADER_SIGNATURE, "00".repeat(64).parse().unwrap());
        let refused = presented(&headers).unwrap().err().unwrap();
        assert!(refused.detail().contains("时间戳"), "{refused}");
        headers.insert(HEADER_TIMESTAMP, "1764453600".parse().unwrap());
        assert!(presented(&headers).unwrap().is_ok());
        headers.insert(HEADER_SIGNATURE, "00".repeat(63).parse().unwrap());
        assert!(presented(&headers).unwrap().is_err());
    }
}
