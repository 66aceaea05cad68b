//! The crate's one error type, and the failures a service handler may report.

use bianmin_crypto::CryptoError;
use bianmin_store::StoreError;

/// Why an exchange was refused or failed.
///
/// The variants that travel on the wire (§7 of `docs/exchange-protocol.md`) map one to one to
/// the protocol's codes through [`code`](Self::code) and [`http_status`](Self::http_status); a
/// client turns a provider's signed problem response back into the same variant with
/// [`from_problem`](Self::from_problem). The others (`Timeout`, `CircuitOpen`, `BadResponse`,
/// `Http`, `Registry`, `Store`, `Crypto`) happen on one side only and never cross the wire.
///
/// Messages never carry personal data: the texts inside `ConsentInvalid`, `Malformed` and
/// `BadResponse` are fixed phrases chosen by this crate (or by a provider's problem `detail`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExchangeError {
    /// The client is not in the registry.
    #[error("the client subsystem is not in the registry")]
    UnknownClient,
    /// No such service in the registry, or not at this provider.
    #[error("no such service at this provider")]
    UnknownService,
    /// The registry lists no access right for this (client, service) pair.
    #[error("the client has no access right for this service")]
    AccessDenied,
    /// The request's signature does not verify.
    #[error("the signature does not verify")]
    BadSignature,
    /// The timestamp is more than 300 seconds from the receiver's clock.
    #[error("the timestamp is more than 300 seconds from the receiver's clock")]
    StaleTimestamp,
    /// The `(client, nonce)` pair was seen in the last 600 seconds.
    #[error("the nonce was already used")]
    Replay,
    /// The provider holds no live session of this client by that id (expired, used up,
    /// forgotten on a restart, or never made): the client makes a new one and resends.
    #[error("the provider holds no such session")]
    SessionUnknown,
    /// A personal-data service (or a request naming a subject) without a consent.
    #[error("a consent is required for this request")]
    ConsentMissing,
    /// The consent is unsigned, expired, not yet valid, or for another consumer, subject or
    /// data kind.
    #[error("the consent does not allow this request: {0}")]
    ConsentInvalid(String),
    /// A missing header, a bad identifier, an undecryptable or invalid body.
    #[error("malformed exchange message: {0}")]
    Malformed(String),
    /// The provider has no record for this subject.
    #[error("the provider has no record for this subject")]
    NotFound,
    /// The provider is temporarily unavailable.
    #[error("the provider is temporarily unavailable")]
    Unavailable,
    /// No response within the service's timeout (client side).
    #[error("the provider did not answer within the service's timeout")]
    Timeout,
    /// The provider's circuit breaker is open: the call failed fast without being sent.
    #[error("the circuit breaker for this provider is open")]
    CircuitOpen,
    /// The provider's response was unsigned, wrongly signed, stale, for another message, or
    /// malformed; it was logged and discarded.
    #[error("the provider's response was rejected: {0}")]
    BadResponse(String),
    /// The connection failed (refused, reset, DNS): nothing usable came back.
    #[error("HTTP transport failed: {0}")]
    Http(String),
    /// The registry file or builder is inconsistent.
    #[error("invalid registry: {0}")]
    Registry(String),
    /// The message log or nonce store could not be written or read.
    #[error("exchange storage failed: {0}")]
    Store(#[from] StoreError),
    /// A cryptographic operation failed (only the OS random generator can fail here).
    #[error("cryptography failed: {0}")]
    Crypto(#[from] CryptoError),
}

impl ExchangeError {
    /// The stable code: the protocol's (`exchange.replay`, …) for wire errors, and
    /// `exchange.timeout`, `exchange.circuit_open`, `exchange.bad_response`, `exchange.http`,
    /// `exchange.registry`, `exchange.store`, `exchange.crypto` for the local ones.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            ExchangeError::UnknownClient => "exchange.unknown_client",
            ExchangeError::UnknownService => "exchange.unknown_service",
            ExchangeError::AccessDenied => "exchange.access_denied",
            ExchangeError::BadSignature => "exchange.bad_signature",
            ExchangeError::StaleTimestamp => "exchange.stale_timestamp",
            ExchangeError::Replay => "exchange.replay",
            ExchangeError::SessionUnknown => "exchange.session_unknown",
            ExchangeError::ConsentMissing => "exchange.consent_missing",
            ExchangeError::ConsentInvalid(_) => "exchange.consent_invalid",
            ExchangeError::Malformed(_) => "exchange.malformed",
            ExchangeError::NotFound => "exchange.not_found",
            ExchangeError::Unavailable => "exchange.unavailable",
            ExchangeError::Timeout => "exchange.timeout",
            ExchangeError::CircuitOpen => "exchange.circuit_open",
            ExchangeError::BadResponse(_) => "exchange.bad_response",
            ExchangeError::Http(_) => "exchange.http",
            ExchangeError::Registry(_) => "exchange.registry",
            ExchangeError::Store(_) => "exchange.store",
            ExchangeError::Crypto(_) => "exchange.crypto",
        }
    }

    /// The HTTP status: the protocol's for wire errors (§7); for local errors the status a
    /// gateway would give (504 timeout, 503 circuit open, 502 bad response or transport, 500
    /// otherwise), for callers that pass them on.
    #[must_use]
    pub fn http_status(&self) -> u16 {
        match self {
            ExchangeError::Malformed(_) => 400,
            ExchangeError::UnknownClient
            | ExchangeError::BadSignature
            | ExchangeError::StaleTimestamp
            | ExchangeError::Replay
            | ExchangeError::SessionUnknown => 401,
            ExchangeError::AccessDenied
            | ExchangeError::ConsentMissing
            | ExchangeError::ConsentInvalid(_) => 403,
            ExchangeError::UnknownService | ExchangeError::NotFound => 404,
            ExchangeError::Unavailable | ExchangeError::CircuitOpen => 503,
            ExchangeError::Timeout => 504,
            ExchangeError::BadResponse(_) | ExchangeError::Http(_) => 502,
            ExchangeError::Registry(_) | ExchangeError::Store(_) | ExchangeError::Crypto(_) => 500,
        }
    }

    /// True for the errors a provider sends as a problem response (§7).
    #[must_use]
    pub fn is_wire_error(&self) -> bool {
        self.wire_detail().is_some()
    }

    /// The error a signed problem response stands for, if `status` and `code` are a pair the
    /// protocol defines; `detail` fills the variants that carry text.
    #[must_use]
    pub fn from_problem(status: u16, code: &str, detail: &str) -> Option<ExchangeError> {
        let error = match code {
            "exchange.malformed" => ExchangeError::Malformed(detail.to_string()),
            "exchange.unknown_client" => ExchangeError::UnknownClient,
            "exchange.bad_signature" => ExchangeError::BadSignature,
            "exchange.stale_timestamp" => ExchangeError::StaleTimestamp,
            "exchange.replay" => ExchangeError::Replay,
            "exchange.session_unknown" => ExchangeError::SessionUnknown,
            "exchange.access_denied" => ExchangeError::AccessDenied,
            "exchange.consent_missing" => ExchangeError::ConsentMissing,
            "exchange.consent_invalid" => ExchangeError::ConsentInvalid(detail.to_string()),
            "exchange.unknown_service" => ExchangeError::UnknownService,
            "exchange.not_found" => ExchangeError::NotFound,
            "exchange.unavailable" => ExchangeError::Unavailable,
            _ => return None,
        };
        (error.http_status() == status).then_some(error)
    }

    /// The `detail` a provider writes into the problem body, for wire errors only.
    pub(crate) fn wire_detail(&self) -> Option<String> {
        let text = match self {
            ExchangeError::Malformed(why) => format!("请求格式错误：{why}"),
            ExchangeError::ConsentInvalid(why) => format!("授权无效：{why}"),
            ExchangeError::UnknownClient => "调用方子系统未在注册表中登记".to_string(),
            ExchangeError::BadSignature => "签名验证失败".to_string(),
            ExchangeError::StaleTimestamp => "时间戳与服务方时钟相差超过 300 秒".to_string(),
            ExchangeError::Replay => "随机数已被使用（疑似重放）".to_string(),
            ExchangeError::SessionUnknown => "会话不存在或已过期，请重新建立会话".to_string(),
            ExchangeError::AccessDenied => "调用方无权访问该服务".to_string(),
            ExchangeError::ConsentMissing => "该服务涉及个人信息，须携带授权".to_string(),
            ExchangeError::UnknownService => "服务方无此服务".to_string(),
            ExchangeError::NotFound => "服务方无此主体的记录".to_string(),
            ExchangeError::Unavailable => "服务方暂不可用，请稍后重试".to_string(),
            _ => return None,
        };
        Some(text)
    }

    /// The text a problem's `detail` carries back into `Malformed` / `ConsentInvalid`: the
    /// reason after the Chinese prefix [`wire_detail`](Self::wire_detail) adds.
    pub(crate) fn strip_detail_prefix(detail: &str) -> &str {
        detail.split_once('：').map_or(detail, |(_, reason)| reason)
    }

    /// Whether a client may retry the same message after this error (§9): timeouts,
    /// connection errors and 503, never anything the provider decided about the request.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ExchangeError::Timeout | ExchangeError::Http(_) | ExchangeError::Unavailable
        )
    }
}

/// Why a service handler could not answer an accepted request; the provider turns it into the
/// protocol's signed problem response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceFailure {
    /// No record for this subject: 404 `exchange.not_found`.
    #[error("no record for this subject")]
    NotFound,
    /// The backing system is down: 503 `exchange.unavailable` (clients may retry idempotent
    /// services).
    #[error("temporarily unavailable")]
    Unavailable,
    /// The request body does not satisfy the service's schema: 400 `exchange.malformed`. The
    /// text goes back to the client, so it must name the field, never its value.
    #[error("invalid request: {0}")]
    Invalid(String),
}

impl From<sqlx::Error> for ExchangeError {
    fn from(error: sqlx::Error) -> ExchangeError {
        ExchangeError::Store(StoreError::from(error))
    }
}

impl From<ServiceFailure> for ExchangeError {
    fn from(failure: ServiceFailure) -> ExchangeError {
        match failure {
            ServiceFailure::NotFound => ExchangeError::NotFound,
            ServiceFailure::Unavailable => ExchangeError::Unavailable,
            ServiceFailure::Invalid(why) => ExchangeError::Malformed(why),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_wire_error_round_trips_through_its_problem() {
        let errors = [
            ExchangeError::Malformed("缺少请求头 X-Exchange-Nonce".into()),
            ExchangeError::UnknownClient,
            ExchangeError::BadSignature,
            ExchangeError::StaleTimestamp,
            ExchangeError::Replay,
            ExchangeError::SessionUnknown,
            ExchangeError::AccessDenied,
            ExchangeError::ConsentMissing,
            ExchangeError::ConsentInvalid("已过期".into()),
            ExchangeError::UnknownService,
            ExchangeError::NotFound,
            ExchangeError::Unavailable,
        ];
        for error in errors {
            let detail = error.wire_detail().unwrap();
            let back = ExchangeError::from_problem(
                error.http_status(),
                error.code(),
                ExchangeError::strip_detail_prefix(&detail),
            )
            .unwrap();
            assert_eq!(back.code(), error.code());
            assert_eq!(back.to_string(), error.to_string());
        }
    }

    #[test]
    fn a_code_with_the_wrong_status_is_not_a_protocol_error() {
        assert!(ExchangeError::from_problem(500, "exchange.replay", "").is_none());
        assert!(ExchangeError::from_problem(401, "exchange.teapot", "").is_none());
    }

    #[test]
    fn local_errors_never_travel() {
        for error in [
            ExchangeError::Timeout,
            ExchangeError::CircuitOpen,
            ExchangeError::BadResponse("unsigned".into()),
            ExchangeError::Http("refused".into()),
        ] {
            assert!(!error.is_wire_error(), "{}", error.code());
        }
    }
}
