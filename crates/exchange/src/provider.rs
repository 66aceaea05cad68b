//! The provider side: accept a request only if every check of §2–§6 passes, hand it to the
//! service's handler, and answer with a signed (and, for personal data, encrypted) response —
//! or with a signed problem saying which check failed.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bianmin_core::{ResidentId, SharedClock};
use serde_json::Value;
use uuid::Uuid;

use crate::log::{LogRecord, LogSide, MemoryMessageLog, MessageLog};
use crate::session::{SESSION_SERVICE_CODE, SessionTable};
use crate::wire::{
    self, BODY_CONSENT, BODY_SUBJECT, CONTENT_TYPE_ENCRYPTED, CONTENT_TYPE_JSON,
    CONTENT_TYPE_PROBLEM, HEADER_CLIENT, HEADER_CONSENT, HEADER_MAC, HEADER_MESSAGE_ID,
    HEADER_NONCE, HEADER_SERVICE, HEADER_SESSION, HEADER_SIGNATURE, HEADER_TIMESTAMP, Problem,
    RequestToSign, ResponseToSign,
};
use crate::{
    ClientId, ConsentArtefact, ExchangeError, MemberKeys, NonceStore, Registry, ServiceDef,
    ServiceFailure, ServiceId, Session, SessionHello, SignedConsent,
};

/// The route every provider serves (§3).
pub const PROVIDER_ROUTE: &str = "/exchange/v1/{member}/{subsystem}/{service}/{version}";

/// A request that passed every check, as a [`ServiceHandler`] sees it.
#[derive(Debug, Clone)]
pub struct AcceptedRequest {
    /// The authenticated client.
    pub client: ClientId,
    /// The service called.
    pub service: ServiceDef,
    /// The message id (the same on the client's retries).
    pub message_id: Uuid,
    /// The verified consent, checked against client, service, time and subject. A handler
    /// should return only data within its `data_from..=data_to`.
    pub consent: Option<ConsentArtefact>,
    /// The data subject, taken from the decrypted body.
    pub subject: Option<ResidentId>,
    /// The decrypted request body without `subject`.
    pub body: Value,
}

/// What a provider does with an accepted request: one implementation serves every service of
/// the provider (dispatch on `request.service.id.code`).
#[async_trait]
pub trait ServiceHandler: Send + Sync {
    /// The response body (a JSON object), or why there is none.
    async fn handle(&self, request: &AcceptedRequest) -> Result<Value, ServiceFailure>;
}

/// One serving subsystem: its keys, the registry it trusts, the platform whose consents it
/// accepts, its replay window, clock, message log, and the sessions it has granted (§5a; held
/// in memory, so a restart forgets them and clients make new ones).
pub struct Provider {
    registry: Arc<Registry>,
    keys: Arc<MemberKeys>,
    platform: ClientId,
    nonces: Arc<dyn NonceStore>,
    clock: SharedClock,
    log: Arc<dyn MessageLog>,
    sessions: SessionTable,
}

/// What an accepted request asks for: a service, or a session (§5a).
enum Accepted {
    Service(Box<AcceptedRequest>),
    /// The body of the granted session's answer.
    Session(Vec<u8>),
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("id", &self.keys.id)
            .field("platform", &self.platform)
            .finish_non_exhaustive()
    }
}

impl Provider {
    /// A provider serving as `keys.id`, accepting consents signed by `platform` (whose key it
    /// finds in `registry`). It logs into a [`MemoryMessageLog`] until given another with
    /// [`with_log`](Self::with_log).
    #[must_use]
    pub fn new(
        registry: Arc<Registry>,
        keys: impl Into<Arc<MemberKeys>>,
        platform: ClientId,
        nonces: Arc<dyn NonceStore>,
        clock: SharedClock,
    ) -> Provider {
        Provider {
            registry,
            keys: keys.into(),
            platform,
            nonces,
            clock,
            log: Arc::new(MemoryMessageLog::new()),
            sessions: SessionTable::default(),
        }
    }

    /// The same provider writing its message log to `log`.
    #[must_use]
    pub fn with_log(mut self, log: Arc<dyn MessageLog>) -> Provider {
        self.log = log;
        self
    }

    /// The subsystem this provider serves as.
    #[must_use]
    pub fn id(&self) -> &ClientId {
        &self.keys.id
    }

    /// Runs every check of the protocol in order (§5 lists it), filling `seen` with what it
    /// learns for the response and the log. The order makes unauthenticated requests cheap to
    /// refuse and tells an unauthenticated caller nothing about services or consents.
    async fn accept(
        &self,
        seen: &mut Seen,
        path: &PathParts,
        query: Option<&str>,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Accepted, ExchangeError> {
        let request = RequestHeaders::parse(headers, seen)?;
        if request.service.path() != path.protocol_path() {
            return Err(ExchangeError::Malformed(
                "X-Exchange-Service 与请求路径不符".to_string(),
            ));
        }
        if &request.service.provider != self.id() {
            return Err(ExchangeError::UnknownService);
        }
        let now = self.authenticate(&request, seen, path, query, body).await?;
        if request.service.code == SESSION_SERVICE_CODE {
            return self.grant_session(&request, seen, headers, body, now);
        }

        // Authorisation: the service exists here, and the client may call it.
        let def = self
            .registry
            .service(&request.service)
            .ok_or(ExchangeError::UnknownService)?;
        if !self.registry.is_allowed(&request.client, &request.service) {
            return Err(ExchangeError::AccessDenied);
        }
        if def.personal_data && request.consent_id.is_none() {
            return Err(ExchangeError::ConsentMissing);
        }

        // The body, then the consent inside it: the platform's, for this client, service and
        // time, naming the subject the body names.
        let opened = self.open_body(
            headers,
            def,
            seen.session.as_deref(),
            &request.message_id,
            body,
        )?;
        let consent = match (request.consent_id, opened.consent) {
            (None, None) => None,
            (Some(_), None) => return Err(ExchangeError::ConsentMissing),
            (None, Some(_)) => {
                return Err(ExchangeError::Malformed(
                    "携带授权的请求须给出 X-Exchange-Consent".to_string(),
                ));
            }
            (Some(id), Some(signed)) => {
                let consent = self.verify_consent(&signed, &request.client, def, now)?;
                if consent.consent_id != id {
                    return Err(ExchangeError::ConsentInvalid(
                        "授权与 X-Exchange-Consent 不符".to_string(),
                    ));
                }
                Some(consent)
            }
        };
        match (&consent, &opened.subject) {
            (Some(consent), Some(subject)) => consent.check_subject(subject)?,
            (Some(_), None) => {
                return Err(ExchangeError::Malformed(
                    "授权请求须在请求体中给出 subject".to_string(),
                ));
            }
            (None, Some(_)) => return Err(ExchangeError::ConsentMissing),
            (None, None) => {}
        }
        Ok(Accepted::Service(Box::new(AcceptedRequest {
            client: request.client,
            service: def.clone(),
            message_id: request.message_id,
            consent,
            subject: opened.subject,
            body: Value::Object(opened.rest),
        })))
    }

    /// The handshake (§5a): a signed request of a client with an access right to at least one
    /// service here, carrying nothing but its ephemeral key, is granted a session.
    fn grant_session(
        &self,
        request: &RequestHeaders<'_>,
        seen: &Seen,
        headers: &HeaderMap,
        body: &[u8],
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Accepted, ExchangeError> {
        if request.service.version != "v1" {
            return Err(ExchangeError::UnknownService);
        }
        if seen.session.is_some() {
            return Err(ExchangeError::Malformed(
                "建立会话的请求须以 SM2 签名".to_string(),
            ));
        }
        if !self.registry.may_call_any(&request.client, self.id()) {
            return Err(ExchangeError::AccessDenied);
        }
        if request.consent_id.is_some()
            || wire::media_type(headers).as_deref() != Some(CONTENT_TYPE_JSON)
        {
            return Err(ExchangeError::Malformed(
                "建立会话的请求体应为不含授权的 JSON".to_string(),
            ));
        }
        let hello: SessionHello = serde_json::from_slice(body)
            .map_err(|_| ExchangeError::Malformed("建立会话的请求体格式错误".to_string()))?;
        let (session, grant) = Session::grant(&request.client, self.id(), &hello, now)?;
        self.sessions.insert(session, now);
        let body = serde_json::to_vec(&grant).map_err(|_| ExchangeError::Unavailable)?;
        Ok(Accepted::Session(body))
    }

    /// The client is registered, signed this very request (or sent it in a session it holds,
    /// with its MAC), recently, and never sent its nonce before. Returns the provider's time of
    /// the check; a request's session goes into `seen`, for the response.
    async fn authenticate(
        &self,
        request: &RequestHeaders<'_>,
        seen: &mut Seen,
        path: &PathParts,
        query: Option<&str>,
        body: &[u8],
    ) -> Result<chrono::DateTime<chrono::Utc>, ExchangeError> {
        let subsystem = self
            .registry
            .subsystem(&request.client)
            .ok_or(ExchangeError::UnknownClient)?;
        let signing_string = RequestToSign {
            method: "POST",
            path: &path.protocol_path(),
            canonical_query: &wire::canonical_query(query),
            client: request.client_text,
            service: request.service_text,
            message_id: request.message_text,
            timestamp: request.timestamp_text,
            nonce: request.nonce,
            consent_id: request.consent_id,
            body,
        }
        .signing_string();
        let now = self.clock.now();
        match &request.auth {
            RequestAuth::Signature(signature) => subsystem
                .sign_key
                .verify(request.client_text, signing_string.as_bytes(), signature)
                .map_err(|_| ExchangeError::BadSignature)?,
            RequestAuth::Session { id, mac } => {
                let session = self
                    .sessions
                    .find(id, &request.client, now)
                    .ok_or(ExchangeError::SessionUnknown)?;
                if !session.verify_request_mac(&signing_string, mac) {
                    return Err(ExchangeError::BadSignature);
                }
                if !session.count_request() {
                    return Err(ExchangeError::SessionUnknown);
                }
                seen.session = Some(session);
            }
        }
        if !wire::is_fresh(request.timestamp, now) {
            return Err(ExchangeError::StaleTimestamp);
        }
        if !self
            .nonces
            .first_use(&request.client, request.nonce, now)
            .await?
        {
            return Err(ExchangeError::Replay);
        }
        Ok(now)
    }

    fn verify_consent(
        &self,
        signed: &str,
        client: &ClientId,
        service: &ServiceDef,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<ConsentArtefact, ExchangeError> {
        let platform = self.registry.subsystem(&self.platform).ok_or_else(|| {
            tracing::error!(platform = %self.platform, "the consent platform is not in the registry");
            ExchangeError::ConsentInvalid("签发授权的平台未登记".to_string())
        })?;
        let consent = SignedConsent::parse_and_verify(signed, &platform.sign_key, &self.platform)?;
        consent.artefact.check_use(client, service, now)?;
        Ok(consent.artefact)
    }

    /// Decrypts and parses the body, and takes the protocol's `consent` and `subject` out of
    /// it; both may only have travelled encrypted.
    fn open_body(
        &self,
        headers: &HeaderMap,
        service: &ServiceDef,
        session: Option<&Session>,
        message_id: &Uuid,
        body: &[u8],
    ) -> Result<OpenedBody, ExchangeError> {
        let (plaintext, encrypted) = match wire::media_type(headers).as_deref() {
            Some(CONTENT_TYPE_ENCRYPTED) => (
                match session {
                    Some(session) => session.open_request(message_id, &service.id, body)?,
                    None => wire::decrypt_payload(&self.keys.enc, message_id, &service.id, body)?,
                },
                true,
            ),
            Some(CONTENT_TYPE_JSON) if service.personal_data => {
                return Err(ExchangeError::Malformed(
                    "涉及个人信息的请求体必须加密".to_string(),
                ));
            }
            Some(CONTENT_TYPE_JSON) => (body.to_vec(), false),
            _ => {
                return Err(ExchangeError::Malformed(
                    "不支持的 Content-Type".to_string(),
                ));
            }
        };
        let mut rest = match serde_json::from_slice::<Value>(&plaintext) {
            Ok(Value::Object(object)) => object,
            _ => return Err(ExchangeError::Malformed("请求体应为 JSON 对象".to_string())),
        };
        let consent = rest.remove(BODY_CONSENT);
        let subject = rest.remove(BODY_SUBJECT);
        if !encrypted && (consent.is_some() || subject.is_some()) {
            return Err(ExchangeError::Malformed(
                "授权与主体只能加密传输".to_string(),
            ));
        }
        let consent = match consent {
            None => None,
            Some(Value::String(signed)) => Some(signed),
            Some(_) => return Err(ExchangeError::ConsentInvalid("授权格式错误".to_string())),
        };
        let subject = match subject {
            None => None,
            Some(Value::String(text)) => Some(ResidentId::parse(&text).map_err(|_| {
                ExchangeError::Malformed("subject 不是有效的居民身份证号码".to_string())
            })?),
            Some(_) => {
                return Err(ExchangeError::Malformed("subject 应为字符串".to_string()));
            }
        };
        Ok(OpenedBody {
            consent,
            subject,
            rest,
        })
    }

    /// The response body for an accepted request: the handler's JSON, encrypted to the client
    /// for personal-data services and for any request about a subject.
    fn seal_result(
        &self,
        request: &AcceptedRequest,
        session: Option<&Session>,
        value: &Value,
    ) -> Result<(&'static str, Vec<u8>), ExchangeError> {
        if !value.is_object() {
            tracing::error!(service = %request.service.id, "handler returned a body that is not a JSON object");
            return Err(ExchangeError::Unavailable);
        }
        let plaintext = serde_json::to_vec(value).map_err(|_| ExchangeError::Unavailable)?;
        if !request.service.personal_data && request.subject.is_none() {
            return Ok((CONTENT_TYPE_JSON, plaintext));
        }
        if let Some(session) = session {
            let sealed =
                session.seal_response(&request.message_id, &request.service.id, &plaintext)?;
            return Ok((CONTENT_TYPE_ENCRYPTED, sealed));
        }
        let client = self
            .registry
            .subsystem(&request.client)
            .ok_or(ExchangeError::UnknownClient)?;
        let sealed = wire::encrypt_payload(
            &client.enc_key,
            &request.message_id,
            &request.service.id,
            &plaintext,
        )?;
        Ok((CONTENT_TYPE_ENCRYPTED, sealed))
    }

    /// Builds the signed response: MACed in the request's session once it is known, SM2-signed
    /// otherwise.
    fn respond(
        &self,
        seen: &Seen,
        status: StatusCode,
        content_type: &'static str,
        body: Vec<u8>,
    ) -> Response {
        let message_id = seen
            .message_id
            .unwrap_or(Uuid::nil())
            .hyphenated()
            .to_string();
        let service = seen
            .service
            .as_ref()
            .map_or_else(|| "-".to_string(), ToString::to_string);
        let timestamp = wire::format_timestamp(self.clock.now());
        let nonce = wire::new_nonce();
        let signed = ResponseToSign {
            status: status.as_u16(),
            message_id: &message_id,
            service: &service,
            timestamp: &timestamp,
            nonce: &nonce,
            body: &body,
        };
        let (proof_header, proof) = match &seen.session {
            Some(session) => (HEADER_MAC, session.response_mac(&signed.signing_string())),
            None => (HEADER_SIGNATURE, wire::sign_response(&self.keys, &signed)),
        };
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        for (name, value) in [
            (HEADER_MESSAGE_ID, message_id),
            (HEADER_TIMESTAMP, timestamp),
            (HEADER_NONCE, nonce),
            (proof_header, proof),
        ] {
            // Infallible: UUIDs, RFC 3339 timestamps, hex and base64 are visible ASCII.
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
        response
    }

    async fn serve(
        &self,
        handler: &dyn ServiceHandler,
        path: &PathParts,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Response {
        let started_at = self.clock.now();
        let timer = Instant::now();
        let mut seen = Seen::default();
        let outcome = match self
            .accept(&mut seen, path, uri.query(), headers, body)
            .await
        {
            Ok(Accepted::Service(request)) => match handler.handle(&request).await {
                Ok(value) => self.seal_result(&request, seen.session.as_deref(), &value),
                Err(failure) => Err(failure.into()),
            },
            Ok(Accepted::Session(grant)) => Ok((CONTENT_TYPE_JSON, grant)),
            Err(rejection) => Err(rejection),
        };
        let (status, content_type, response_body, outcome_code) = match outcome {
            Ok((content_type, body)) => (StatusCode::OK, content_type, body, "ok"),
            Err(error) => {
                let (status, body) = problem(&error);
                let code = if error.is_wire_error() {
                    error.code()
                } else {
                    ExchangeError::Unavailable.code()
                };
                (status, CONTENT_TYPE_PROBLEM, body, code)
            }
        };
        let record = LogRecord {
            message_id: seen.message_id.unwrap_or(Uuid::nil()),
            side: LogSide::Provider,
            client: seen
                .client
                .as_ref()
                .map_or_else(|| "-".to_string(), ToString::to_string),
            service: seen
                .service
                .as_ref()
                .map_or_else(|| "-".to_string(), ToString::to_string),
            consent_id: seen.consent_id,
            request_sm3: wire::sm3_hex(body),
            response_sm3: Some(wire::sm3_hex(&response_body)),
            started_at,
            duration_ms: u64::try_from(timer.elapsed().as_millis()).unwrap_or(u64::MAX),
            status: Some(status.as_u16()),
            outcome: outcome_code.to_string(),
        };
        if let Err(error) = self.log.record(&record).await {
            // No data leaves unlogged: the client gets a (signed) 503 instead.
            tracing::error!(%error, "exchange log unavailable; withholding the response");
            let (status, body) = problem(&ExchangeError::Unavailable);
            return self.respond(&seen, status, CONTENT_TYPE_PROBLEM, body);
        }
        self.respond(&seen, status, content_type, response_body)
    }
}

/// The protocol headers of a request, syntax-checked. The `*_text` fields are the values as
/// sent, which is what the signature covers.
struct RequestHeaders<'a> {
    client: ClientId,
    client_text: &'a str,
    service: ServiceId,
    service_text: &'a str,
    message_id: Uuid,
    message_text: &'a str,
    timestamp: chrono::DateTime<chrono::Utc>,
    timestamp_text: &'a str,
    nonce: &'a str,
    consent_id: Option<Uuid>,
    auth: RequestAuth<'a>,
}

/// How a request proves its sender: an SM2 signature (§5), or a session and its MAC (§5a).
enum RequestAuth<'a> {
    Signature(Vec<u8>),
    Session { id: Uuid, mac: &'a str },
}

impl<'a> RequestHeaders<'a> {
    /// Reads every protocol header, noting in `seen` what it could read before a failure.
    fn parse(headers: &'a HeaderMap, seen: &mut Seen) -> Result<RequestHeaders<'a>, ExchangeError> {
        let text = |name: &'static str| -> Result<&'a str, ExchangeError> {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| ExchangeError::Malformed(format!("缺少请求头 {name}")))
        };
        let uuid = |text: &str| {
            Uuid::parse_str(text)
                .ok()
                .filter(|id| id.hyphenated().to_string() == text)
        };
        let service_text = text(HEADER_SERVICE)?;
        let service: ServiceId = service_text.parse()?;
        seen.service = Some(service.clone());
        let message_text = text(HEADER_MESSAGE_ID)?;
        let message_id = uuid(message_text).ok_or_else(|| {
            ExchangeError::Malformed("消息标识应为小写带连字符的 UUID".to_string())
        })?;
        seen.message_id = Some(message_id);
        let client_text = text(HEADER_CLIENT)?;
        let client: ClientId = client_text.parse()?;
        seen.client = Some(client.clone());
        let consent_id = match headers.get(HEADER_CONSENT) {
            None => None,
            Some(value) => Some(value.to_str().ok().and_then(uuid).ok_or_else(|| {
                ExchangeError::Malformed("X-Exchange-Consent 应为授权标识 UUID".to_string())
            })?),
        };
        seen.consent_id = consent_id;
        let timestamp_text = text(HEADER_TIMESTAMP)?;
        let timestamp = wire::parse_timestamp(timestamp_text)?;
        let nonce = text(HEADER_NONCE)?;
        if !wire::is_valid_nonce(nonce) {
            return Err(ExchangeError::Malformed(
                "随机数应为 32 位十六进制".to_string(),
            ));
        }
        let auth = match (headers.get(HEADER_SESSION), headers.get(HEADER_SIGNATURE)) {
            (Some(_), Some(_)) => {
                return Err(ExchangeError::Malformed(
                    "会话请求不应同时携带签名".to_string(),
                ));
            }
            (Some(session), None) => RequestAuth::Session {
                id: session.to_str().ok().and_then(uuid).ok_or_else(|| {
                    ExchangeError::Malformed("X-Exchange-Session 应为会话标识 UUID".to_string())
                })?,
                mac: text(HEADER_MAC)?,
            },
            (None, _) => RequestAuth::Signature(wire::decode_signature(text(HEADER_SIGNATURE)?)?),
        };
        Ok(RequestHeaders {
            client,
            client_text,
            service,
            service_text,
            message_id,
            message_text,
            timestamp,
            timestamp_text,
            nonce,
            consent_id,
            auth,
        })
    }
}

/// A decrypted request body: the protocol's fields apart from the service's.
struct OpenedBody {
    /// The signed consent artefact, if sent.
    consent: Option<String>,
    /// The data subject, if named.
    subject: Option<ResidentId>,
    /// Everything else: the service's request.
    rest: serde_json::Map<String, Value>,
}

/// What the provider has learnt about a request so far, for the response and the log.
#[derive(Debug, Default)]
struct Seen {
    message_id: Option<Uuid>,
    client: Option<ClientId>,
    service: Option<ServiceId>,
    consent_id: Option<Uuid>,
    /// The session the request came in, once its MAC verified: the response is MACed in it.
    session: Option<Arc<Session>>,
}

/// The four path segments after `/exchange/v1/`.
#[derive(Debug)]
struct PathParts {
    member: String,
    subsystem: String,
    service: String,
    version: String,
}

impl PathParts {
    fn protocol_path(&self) -> String {
        format!(
            "/exchange/v1/{}/{}/{}/{}",
            self.member, self.subsystem, self.service, self.version
        )
    }
}

/// The problem body of `error`; errors that are not the protocol's become 503 unavailable
/// (the provider's own failure, not the client's).
fn problem(error: &ExchangeError) -> (StatusCode, Vec<u8>) {
    let unavailable = ExchangeError::Unavailable;
    let (error, detail) = match error.wire_detail() {
        Some(detail) => (error, detail),
        None => {
            tracing::error!(%error, "provider failure");
            (&unavailable, unavailable.wire_detail().unwrap_or_default())
        }
    };
    let status =
        StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let body = Problem {
        type_uri: format!("https://bianmin.dev/problems/{}", error.code()),
        title: status.canonical_reason().unwrap_or("Error").to_string(),
        status: status.as_u16(),
        code: error.code().to_string(),
        detail,
    };
    // Infallible: a struct of strings and an integer always serializes.
    let body = serde_json::to_vec(&body).unwrap_or_default();
    (status, body)
}

type Served = (Arc<Provider>, Arc<dyn ServiceHandler>);

/// The router of one provider: `POST /exchange/v1/{member}/{subsystem}/{service}/{version}`.
/// Mount it at the root of the provider's base URL.
pub fn provider_router(provider: Arc<Provider>, handler: Arc<dyn ServiceHandler>) -> Router {
    providers_router(vec![(provider, handler)])
}

/// One router for several providers on the same base URL (a simulator hosting several
/// agencies on one port); requests go to the provider named by the path's member and
/// subsystem. A path naming none of them is answered by the first, as an unknown service.
pub fn providers_router(providers: Vec<(Arc<Provider>, Arc<dyn ServiceHandler>)>) -> Router {
    Router::new()
        .route(PROVIDER_ROUTE, post(serve))
        .with_state(Arc::new(providers))
}

async fn serve(
    State(providers): State<Arc<Vec<Served>>>,
    Path((member, subsystem, service, version)): Path<(String, String, String, String)>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = PathParts {
        member,
        subsystem,
        service,
        version,
    };
    let chosen = providers
        .iter()
        .find(|(provider, _)| {
            provider.id().member == path.member && provider.id().subsystem == path.subsystem
        })
        .or_else(|| providers.first());
    match chosen {
        Some((provider, handler)) => {
            provider
                .serve(handler.as_ref(), &path, &uri, &headers, &body)
                .await
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
