//! The message format both sides share: header names, the strings that are signed (§5), the
//! encrypted payload (§4), timestamps, nonces and the problem body (§7).
//!
//! [`ExchangeClient`](crate::ExchangeClient) and [`provider_router`](crate::provider_router)
//! are built on these; they are public so that tests, tools and other implementations can
//! build (or deliberately break) messages by hand.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bianmin_crypto::{
    Sm2SigningKey, Sm2VerifyingKey, Sm4Gcm, random_bytes, sm2_decrypt, sm2_encrypt, sm3_digest,
};
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, percent_encode};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::{ClientId, ExchangeError, MemberKeys, ServiceId, Session, SignedConsent};

/// `X-Exchange-Client`: the client identifier.
pub const HEADER_CLIENT: &str = "x-exchange-client";
/// `X-Exchange-Service`: the service identifier (must match the path).
pub const HEADER_SERVICE: &str = "x-exchange-service";
/// `X-Exchange-Message-Id`: UUID of the message, reused by retries, echoed by the response.
pub const HEADER_MESSAGE_ID: &str = "x-exchange-message-id";
/// `X-Exchange-Timestamp`: RFC 3339 UTC.
pub const HEADER_TIMESTAMP: &str = "x-exchange-timestamp";
/// `X-Exchange-Nonce`: 32 hex digits, fresh per attempt.
pub const HEADER_NONCE: &str = "x-exchange-nonce";
/// `X-Exchange-Consent`: the id of the consent the request is made under (the artefact itself
/// travels in the encrypted body, see [`BODY_CONSENT`]).
pub const HEADER_CONSENT: &str = "x-exchange-consent";
/// `X-Exchange-Signature`: base64 of the SM2 signature.
pub const HEADER_SIGNATURE: &str = "x-exchange-signature";
/// `X-Exchange-Session`: the session a message is sent in (§5a), instead of a signature.
pub const HEADER_SESSION: &str = "x-exchange-session";
/// `X-Exchange-Mac`: base64 of the HMAC-SM3 of the signing string under the session's key
/// for the message's direction (§5a).
pub const HEADER_MAC: &str = "x-exchange-mac";

/// Content type of a plain JSON body.
pub const CONTENT_TYPE_JSON: &str = "application/json";
/// Content type of an encrypted body (§4).
pub const CONTENT_TYPE_ENCRYPTED: &str = "application/vnd.exchange.encrypted+json";
/// Content type of an error body (§7).
pub const CONTENT_TYPE_PROBLEM: &str = "application/problem+json";

/// The `alg` of every encrypted body.
pub const ENCRYPTION_ALG: &str = "SM2+SM4-GCM";
/// Largest difference between a message's timestamp and the receiver's clock.
pub const MAX_CLOCK_SKEW_SECS: i64 = 300;
/// How long a provider remembers a `(client, nonce)` pair: long enough that a request cannot
/// be replayed while its timestamp is still acceptable.
pub const REPLAY_WINDOW_SECS: i64 = 600;

/// First line of the request signing string.
const REQUEST_TAG: &str = "EXCHANGE-V1-REQUEST";
/// First line of the response signing string.
const RESPONSE_TAG: &str = "EXCHANGE-V1-RESPONSE";

/// RFC 3986 unreserved characters stay as they are; everything else is `%XX` (upper case).
const QUERY_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The timestamp form the protocol sends: `2026-11-29T08:00:00Z` (whole seconds, UTC).
#[must_use]
pub fn format_timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Parses an RFC 3339 timestamp whose offset is UTC (`Z` or `+00:00`).
///
/// # Errors
///
/// [`ExchangeError::Malformed`] for anything else.
pub fn parse_timestamp(text: &str) -> Result<DateTime<Utc>, ExchangeError> {
    let parsed = DateTime::parse_from_rfc3339(text)
        .map_err(|_| ExchangeError::Malformed("时间戳应为 RFC 3339 格式".to_string()))?;
    if parsed.offset().local_minus_utc() != 0 {
        return Err(ExchangeError::Malformed("时间戳应为 UTC".to_string()));
    }
    Ok(parsed.with_timezone(&Utc))
}

/// Whether `at` is within [`MAX_CLOCK_SKEW_SECS`] of `now`, in either direction.
#[must_use]
pub fn is_fresh(at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    (now - at).abs() <= TimeDelta::seconds(MAX_CLOCK_SKEW_SECS)
}

/// A fresh nonce: 16 random bytes as 32 lower-case hex digits.
#[must_use]
pub fn new_nonce() -> String {
    hex::encode(random_bytes::<16>())
}

/// Whether `nonce` is 32 hex digits.
#[must_use]
pub fn is_valid_nonce(nonce: &str) -> bool {
    nonce.len() == 32 && nonce.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The media type of a message's `Content-Type`, lower case, without parameters.
pub(crate) fn media_type(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
}

/// Lower-case hex SM3 of `bytes`.
#[must_use]
pub fn sm3_hex(bytes: &[u8]) -> String {
    hex::encode(sm3_digest(bytes))
}

/// The canonical query of §5: every `name=value` pair percent-decoded, re-encoded keeping only
/// RFC 3986 unreserved characters, sorted, joined by `&`. Empty for no query. `+` is a
/// literal plus sign, not a space.
#[must_use]
pub fn canonical_query(raw: Option<&str>) -> String {
    let Some(raw) = raw else {
        return String::new();
    };
    let encode = |part: &str| {
        let bytes: Vec<u8> = percent_decode_str(part).collect();
        percent_encode(&bytes, QUERY_ENCODE).to_string()
    };
    let mut pairs: Vec<String> = raw
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            format!("{}={}", encode(name), encode(value))
        })
        .collect();
    pairs.sort_unstable();
    pairs.join("&")
}

/// What the client signs (§5). Every field is the text exactly as sent in its header.
#[derive(Debug, Clone, Copy)]
pub struct RequestToSign<'a> {
    /// HTTP method, upper case (`POST`).
    pub method: &'a str,
    /// The protocol path, [`ServiceId::path`], without any prefix of the base URL.
    pub path: &'a str,
    /// The canonical query ([`canonical_query`]); empty when there is none.
    pub canonical_query: &'a str,
    /// `X-Exchange-Client`.
    pub client: &'a str,
    /// `X-Exchange-Service`.
    pub service: &'a str,
    /// `X-Exchange-Message-Id`.
    pub message_id: &'a str,
    /// `X-Exchange-Timestamp`.
    pub timestamp: &'a str,
    /// `X-Exchange-Nonce`.
    pub nonce: &'a str,
    /// `X-Exchange-Consent`, if sent.
    pub consent_id: Option<Uuid>,
    /// The body bytes as sent (ciphertext envelope when encrypted).
    pub body: &'a [u8],
}

impl RequestToSign<'_> {
    /// The signing string: the lines of §5 joined by `\n`, no trailing newline.
    #[must_use]
    pub fn signing_string(&self) -> String {
        let consent = self
            .consent_id
            .map_or_else(|| "-".to_string(), |id| id.hyphenated().to_string());
        [
            REQUEST_TAG,
            self.method,
            self.path,
            self.canonical_query,
            self.client,
            self.service,
            self.message_id,
            self.timestamp,
            self.nonce,
            &consent,
            &sm3_hex(self.body),
        ]
        .join("\n")
    }
}

/// What the provider signs on every response, errors included (§5).
#[derive(Debug, Clone, Copy)]
pub struct ResponseToSign<'a> {
    /// HTTP status code.
    pub status: u16,
    /// The request's message id as echoed in `X-Exchange-Message-Id`.
    pub message_id: &'a str,
    /// The request's service identifier, `-` if it carried none.
    pub service: &'a str,
    /// `X-Exchange-Timestamp` of the response.
    pub timestamp: &'a str,
    /// `X-Exchange-Nonce` of the response.
    pub nonce: &'a str,
    /// The body bytes as sent.
    pub body: &'a [u8],
}

impl ResponseToSign<'_> {
    /// The signing string: the lines of §5 joined by `\n`, no trailing newline.
    #[must_use]
    pub fn signing_string(&self) -> String {
        [
            RESPONSE_TAG,
            &self.status.to_string(),
            self.message_id,
            self.service,
            self.timestamp,
            self.nonce,
            &sm3_hex(self.body),
        ]
        .join("\n")
    }
}

/// The encrypted body of §4.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncryptedPayload {
    /// Always [`ENCRYPTION_ALG`].
    pub alg: String,
    /// Base64 of the SM2 ciphertext (`C1||C3||C2`) of the 16-byte content key.
    pub key: String,
    /// Base64 of the 12-byte SM4-GCM nonce.
    pub nonce: String,
    /// Base64 of SM4-GCM ciphertext followed by its tag.
    pub ciphertext: String,
}

/// The additional data bound into every payload: `message id "\n" service id`.
pub(crate) fn payload_aad(message_id: &Uuid, service: &ServiceId) -> Vec<u8> {
    format!("{}\n{}", message_id.hyphenated(), service).into_bytes()
}

/// Encrypts `plaintext` to `recipient` under a fresh content key, bound to the message and
/// service, and returns the JSON envelope bytes.
///
/// # Errors
///
/// [`ExchangeError::Crypto`] only if the OS random generator fails.
pub fn encrypt_payload(
    recipient: &Sm2VerifyingKey,
    message_id: &Uuid,
    service: &ServiceId,
    plaintext: &[u8],
) -> Result<Vec<u8>, ExchangeError> {
    let content_key = Zeroizing::new(random_bytes::<16>());
    let nonce = random_bytes::<12>();
    let sealed =
        Sm4Gcm::new(&content_key).seal(&nonce, &payload_aad(message_id, service), plaintext);
    let envelope = EncryptedPayload {
        alg: ENCRYPTION_ALG.to_string(),
        key: STANDARD.encode(sm2_encrypt(recipient, content_key.as_slice())?),
        nonce: STANDARD.encode(nonce),
        ciphertext: STANDARD.encode(sealed),
    };
    serde_json::to_vec(&envelope).map_err(|e| ExchangeError::Malformed(e.to_string()))
}

/// Opens an envelope made by [`encrypt_payload`] for `key`'s owner.
///
/// # Errors
///
/// [`ExchangeError::Malformed`] if it is not an envelope, names another algorithm, or does
/// not decrypt (wrong key, another message or service, tampered bytes — deliberately not
/// told apart).
pub fn decrypt_payload(
    key: &Sm2SigningKey,
    message_id: &Uuid,
    service: &ServiceId,
    body: &[u8],
) -> Result<Vec<u8>, ExchangeError> {
    let undecryptable = || ExchangeError::Malformed("加密载荷无法解密".to_string());
    let envelope: EncryptedPayload = serde_json::from_slice(body)
        .map_err(|_| ExchangeError::Malformed("加密载荷格式错误".to_string()))?;
    if envelope.alg != ENCRYPTION_ALG {
        return Err(ExchangeError::Malformed("不支持的加密算法".to_string()));
    }
    let wrapped = STANDARD
        .decode(&envelope.key)
        .map_err(|_| undecryptable())?;
    let (nonce, sealed) = decode_sealed(&envelope.nonce, &envelope.ciphertext)?;
    let content_key: Zeroizing<[u8; 16]> = Zeroizing::new(
        Zeroizing::new(sm2_decrypt(key, &wrapped).map_err(|_| undecryptable())?)
            .as_slice()
            .try_into()
            .map_err(|_| undecryptable())?,
    );
    Sm4Gcm::new(&content_key)
        .open(&nonce, &payload_aad(message_id, service), &sealed)
        .map_err(|_| undecryptable())
}

/// The 12-byte SM4-GCM nonce and the ciphertext-and-tag of an envelope (§4, §5a), from
/// their base64; a bad one is as undecryptable as a wrong key.
pub(crate) fn decode_sealed(
    nonce: &str,
    ciphertext: &str,
) -> Result<([u8; 12], Vec<u8>), ExchangeError> {
    let undecryptable = || ExchangeError::Malformed("加密载荷无法解密".to_string());
    let nonce: [u8; 12] = STANDARD
        .decode(nonce)
        .ok()
        .and_then(|n| n.try_into().ok())
        .ok_or_else(undecryptable)?;
    let sealed = STANDARD.decode(ciphertext).map_err(|_| undecryptable())?;
    Ok((nonce, sealed))
}

/// The error body of §7 (RFC 9457 plus `code`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// `https://bianmin.dev/problems/{code}`.
    #[serde(rename = "type")]
    pub type_uri: String,
    /// The status's reason phrase.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// Stable code, e.g. `exchange.replay`.
    pub code: String,
    /// What went wrong, in Chinese; never personal data.
    pub detail: String,
}

/// Key of the request body that carries the data subject's 居民身份证号码 (§3).
pub const BODY_SUBJECT: &str = "subject";
/// Key of the request body that carries the signed consent artefact (§6).
pub const BODY_CONSENT: &str = "consent";

/// A request ready to be signed and sent: everything that stays the same across retries
/// (message id, body bytes as sent, consent). [`signed_headers`](Self::signed_headers) gives
/// each attempt its own nonce, timestamp and signature.
#[derive(Debug, Clone)]
pub struct PreparedRequest {
    /// The service called.
    pub service: ServiceId,
    /// The message id.
    pub message_id: Uuid,
    /// The consent the request is made under; its id goes in `X-Exchange-Consent` (the
    /// artefact itself travels inside the encrypted body).
    pub consent: Option<SignedConsent>,
    /// [`CONTENT_TYPE_JSON`] or [`CONTENT_TYPE_ENCRYPTED`].
    pub content_type: &'static str,
    /// The body bytes as sent.
    pub body: Vec<u8>,
}

impl PreparedRequest {
    /// Prepares `body` (a JSON object, `subject` already in it when there is one) for
    /// `service`: adds the consent artefact as `consent`, then encrypts the whole object to
    /// `encrypt_to` when given. A request carrying a consent or a subject must be encrypted.
    ///
    /// # Errors
    ///
    /// [`ExchangeError::Malformed`] if `body` is not an object, already has a `consent`, or
    /// would carry a consent or subject in clear; [`ExchangeError::Crypto`] if the OS random
    /// generator fails.
    pub fn new(
        service: &ServiceId,
        message_id: Uuid,
        consent: Option<&SignedConsent>,
        body: &serde_json::Value,
        encrypt_to: Option<&Sm2VerifyingKey>,
    ) -> Result<PreparedRequest, ExchangeError> {
        let (plaintext, personal) = plaintext_with_consent(consent, body)?;
        let (content_type, body) = match encrypt_to {
            Some(recipient) => (
                CONTENT_TYPE_ENCRYPTED,
                encrypt_payload(recipient, &message_id, service, &plaintext)?,
            ),
            None if personal => return Err(in_clear()),
            None => (CONTENT_TYPE_JSON, plaintext),
        };
        Ok(PreparedRequest {
            service: service.clone(),
            message_id,
            consent: consent.cloned(),
            content_type,
            body,
        })
    }

    /// As [`new`](Self::new) for a request sent in `session` (§5a): when `seal` is set, the
    /// body is encrypted under the session's key to the provider.
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new).
    pub fn in_session(
        service: &ServiceId,
        message_id: Uuid,
        consent: Option<&SignedConsent>,
        body: &serde_json::Value,
        seal: bool,
        session: &Session,
    ) -> Result<PreparedRequest, ExchangeError> {
        let (plaintext, personal) = plaintext_with_consent(consent, body)?;
        let (content_type, body) = if seal {
            (
                CONTENT_TYPE_ENCRYPTED,
                session.seal_request(&message_id, service, &plaintext)?,
            )
        } else if personal {
            return Err(in_clear());
        } else {
            (CONTENT_TYPE_JSON, plaintext)
        };
        Ok(PreparedRequest {
            service: service.clone(),
            message_id,
            consent: consent.cloned(),
            content_type,
            body,
        })
    }

    /// The signing string of one attempt, and the header values it covers.
    fn attempt(&self, client: &ClientId, now: DateTime<Utc>) -> AttemptHeaders {
        let client = client.to_string();
        let service = self.service.to_string();
        let message_id = self.message_id.hyphenated().to_string();
        let timestamp = format_timestamp(now);
        let nonce = new_nonce();
        let signing_string = RequestToSign {
            method: "POST",
            path: &self.service.path(),
            canonical_query: "",
            client: &client,
            service: &service,
            message_id: &message_id,
            timestamp: &timestamp,
            nonce: &nonce,
            consent_id: self.consent.as_ref().map(|c| c.artefact.consent_id),
            body: &self.body,
        }
        .signing_string();
        let mut headers = vec![
            ("content-type", self.content_type.to_string()),
            (HEADER_CLIENT, client),
            (HEADER_SERVICE, service),
            (HEADER_MESSAGE_ID, message_id),
            (HEADER_TIMESTAMP, timestamp),
            (HEADER_NONCE, nonce),
        ];
        if let Some(consent) = &self.consent {
            headers.push((
                HEADER_CONSENT,
                consent.artefact.consent_id.hyphenated().to_string(),
            ));
        }
        AttemptHeaders {
            signing_string,
            headers,
        }
    }

    /// The protocol headers of one attempt at `now`, signed by `keys`: client, service,
    /// message id, timestamp, a fresh nonce, the consent if any, the signature, and the
    /// content type.
    #[must_use]
    pub fn signed_headers(
        &self,
        keys: &MemberKeys,
        now: DateTime<Utc>,
    ) -> Vec<(&'static str, String)> {
        let AttemptHeaders {
            signing_string,
            mut headers,
        } = self.attempt(&keys.id, now);
        let signature = keys
            .sign
            .sign(&keys.id.to_string(), signing_string.as_bytes());
        headers.push((HEADER_SIGNATURE, STANDARD.encode(signature)));
        headers
    }

    /// The protocol headers of one attempt at `now` in `session` (§5a): as
    /// [`signed_headers`](Self::signed_headers), with `X-Exchange-Session` and `X-Exchange-Mac`
    /// in place of the signature.
    #[must_use]
    pub fn session_headers(
        &self,
        session: &Session,
        now: DateTime<Utc>,
    ) -> Vec<(&'static str, String)> {
        let AttemptHeaders {
            signing_string,
            mut headers,
        } = self.attempt(&session.client, now);
        headers.push((HEADER_SESSION, session.id.hyphenated().to_string()));
        headers.push((HEADER_MAC, session.request_mac(&signing_string)));
        headers
    }
}

/// One attempt's headers before its signature or MAC, and the string that covers them.
struct AttemptHeaders {
    signing_string: String,
    headers: Vec<(&'static str, String)>,
}

/// The error for a consent or subject that would travel in clear.
fn in_clear() -> ExchangeError {
    ExchangeError::Malformed("授权与主体只能加密传输".to_string())
}

/// The body's JSON with the consent artefact added as `consent`, and whether it carries a
/// consent or a subject (and so must be encrypted).
fn plaintext_with_consent(
    consent: Option<&SignedConsent>,
    body: &serde_json::Value,
) -> Result<(Vec<u8>, bool), ExchangeError> {
    let serde_json::Value::Object(object) = body else {
        return Err(ExchangeError::Malformed("请求体应为 JSON 对象".to_string()));
    };
    if object.contains_key(BODY_CONSENT) {
        return Err(ExchangeError::Malformed(
            "consent 只能通过授权参数给出".to_string(),
        ));
    }
    let personal = consent.is_some() || object.contains_key(BODY_SUBJECT);
    let plaintext = match consent {
        Some(consent) => {
            let mut object = object.clone();
            object.insert(
                BODY_CONSENT.to_string(),
                serde_json::Value::String(consent.header.clone()),
            );
            serde_json::to_vec(&object)
        }
        None => serde_json::to_vec(body),
    }
    .map_err(|e| ExchangeError::Malformed(e.to_string()))?;
    Ok((plaintext, personal))
}

/// Verifies a response signature by `provider` with its registered key.
pub(crate) fn verify_response_signature(
    provider: &ClientId,
    key: &Sm2VerifyingKey,
    response: &ResponseToSign<'_>,
    signature_b64: &str,
) -> bool {
    STANDARD.decode(signature_b64).is_ok_and(|signature| {
        key.verify(
            &provider.to_string(),
            response.signing_string().as_bytes(),
            &signature,
        )
        .is_ok()
    })
}

/// Signs a response as `keys` and returns the signature in base64.
pub(crate) fn sign_response(keys: &MemberKeys, response: &ResponseToSign<'_>) -> String {
    STANDARD.encode(
        keys.sign
            .sign(&keys.id.to_string(), response.signing_string().as_bytes()),
    )
}

/// Decodes the base64 of a request signature.
pub(crate) fn decode_signature(text: &str) -> Result<Vec<u8>, ExchangeError> {
    STANDARD
        .decode(text)
        .map_err(|_| ExchangeError::Malformed("签名应为 base64".to_string()))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn service() -> ServiceId {
        "CN-CD/GOV/hpf-center/accounts/hpf.account/v1"
            .parse()
            .unwrap()
    }

    #[test]
    fn timestamps_are_whole_seconds_utc() {
        let at = Utc.with_ymd_and_hms(2026, 11, 29, 8, 0, 0).unwrap();
        assert_eq!(format_timestamp(at), "2026-11-29T08:00:00Z");
        assert_eq!(parse_timestamp("2026-11-29T08:00:00Z").unwrap(), at);
        assert_eq!(parse_timestamp("2026-11-29T08:00:00+00:00").unwrap(), at);
        assert!(parse_timestamp("2026-11-29T16:00:00+08:00").is_err());
        assert!(parse_timestamp("yesterday").is_err());
        assert!(is_fresh(at, at + TimeDelta::seconds(300)));
        assert!(!is_fresh(at, at - TimeDelta::seconds(301)));
    }

    #[test]
    fn canonical_query_sorts_and_normalises_encoding() {
        assert_eq!(canonical_query(None), "");
        assert_eq!(canonical_query(Some("")), "");
        assert_eq!(
            canonical_query(Some("b=2&a=%e4%b8%ad&a=1&flag")),
            "a=%E4%B8%AD&a=1&b=2&flag="
        );
        assert_eq!(canonical_query(Some("x=a b~")), "x=a%20b~");
    }

    #[test]
    fn request_signing_string_has_the_lines_of_the_spec() {
        let consent_id = Uuid::parse_str("0190f3a4-7d1c-7000-8000-000000000042").unwrap();
        let text = RequestToSign {
            method: "POST",
            path: "/exchange/v1/hpf-center/accounts/hpf.account/v1",
            canonical_query: "",
            client: "CN-CD/COM/bank/bianmin",
            service: "CN-CD/GOV/hpf-center/accounts/hpf.account/v1",
            message_id: "0190f3a4-7d1c-7000-8000-000000000001",
            timestamp: "2026-11-29T08:00:00Z",
            nonce: "00112233445566778899aabbccddeeff",
            consent_id: Some(consent_id),
            body: b"",
        }
        .signing_string();
        let lines: Vec<&str> = text.split('\n').collect();
        assert_eq!(lines.len(), 11);
        assert_eq!(lines[0], "EXCHANGE-V1-REQUEST");
        assert_eq!(lines[3], "");
        assert_eq!(lines[9], "0190f3a4-7d1c-7000-8000-000000000042");
        assert_eq!(
            lines[10],
            "1ab21d8355cfa17f8e61194831e81a8f22bec8c728fefb747ed035eb5082aa2b"
        );
    }

    #[test]
    fn payloads_open_only_for_their_recipient_message_and_service() {
        let recipient = Sm2SigningKey::generate();
        let message_id = Uuid::now_v7();
        let body = encrypt_payload(
            &recipient.verifying_key(),
            &message_id,
            &service(),
            br#"{"subject":"x"}"#,
        )
        .unwrap();
        assert_eq!(
            decrypt_payload(&recipient, &message_id, &service(), &body).unwrap(),
            br#"{"subject":"x"}"#
        );
        assert!(
            decrypt_payload(&Sm2SigningKey::generate(), &message_id, &service(), &body).is_err()
        );
        assert!(decrypt_payload(&recipient, &Uuid::now_v7(), &service(), &body).is_err());
        let other: ServiceId = "CN-CD/GOV/hpf-center/accounts/hpf.loans/v1"
            .parse()
            .unwrap();
        assert!(decrypt_payload(&recipient, &message_id, &other, &body).is_err());
        assert!(decrypt_payload(&recipient, &message_id, &service(), b"{}").is_err());
        let text = String::from_utf8(body).unwrap();
        assert!(text.contains("\"alg\":\"SM2+SM4-GCM\""));
        assert!(!text.contains("subject"));
    }
}
