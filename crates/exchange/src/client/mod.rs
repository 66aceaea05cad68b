//! The client side (§9): local checks before anything is sent, signed and encrypted requests,
//! verified responses, per-service timeouts, retries with jittered exponential backoff for
//! idempotent services, a circuit breaker and a concurrency limit per provider, a response
//! cache bounded by the consent, and a log record for every attempt.

mod breaker;
mod cache;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bianmin_core::{ResidentId, SharedClock};
use bianmin_crypto::{Sm2Ephemeral, random_bytes, sm3_digest};
use reqwest::header::HeaderMap;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::Semaphore;
use uuid::Uuid;

use self::breaker::Breaker;
pub use self::breaker::BreakerState;
use self::cache::ResponseCache;
use crate::log::{LogRecord, LogSide, MessageLog};
use crate::wire::{
    self, BODY_CONSENT, BODY_SUBJECT, CONTENT_TYPE_ENCRYPTED, CONTENT_TYPE_JSON,
    CONTENT_TYPE_PROBLEM, HEADER_MAC, HEADER_MESSAGE_ID, HEADER_NONCE, HEADER_SIGNATURE,
    HEADER_TIMESTAMP, PreparedRequest, Problem, ResponseToSign,
};
use crate::{
    ClientId, ExchangeError, MemberKeys, Registry, ServiceDef, ServiceId, Session, SessionGrant,
    SessionHello, SignedConsent, Subsystem, session_service,
};

/// Largest response body read; anything longer is a bad response.
const MAX_RESPONSE_BYTES: usize = 8 * 1024 * 1024;
/// Longest wait between two attempts, however many retries.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// How an [`ExchangeClient`] behaves towards providers.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Extra attempts after the first, for idempotent services only.
    pub max_retries: u32,
    /// Wait before the first retry; doubled for each further one, with jitter.
    pub backoff_base: Duration,
    /// Consecutive failed attempts that open a provider's breaker.
    pub breaker_failures: u32,
    /// How long an open breaker fails calls fast before letting a probe through.
    pub breaker_cooldown: Duration,
    /// Attempts in flight to one provider at once; further ones wait (within the service's
    /// timeout).
    pub max_concurrency_per_provider: usize,
    /// Whether answers of idempotent services under a consent are cached.
    pub cache: bool,
    /// Whether requests of idempotent services go in sessions (§5a: one SM2-signed handshake
    /// per provider, then HMAC-SM3 and SM4-GCM per message) rather than each signed and
    /// encrypted with SM2. Requests of other services are always signed one by one.
    pub sessions: bool,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            max_retries: 2,
            backoff_base: Duration::from_millis(100),
            breaker_failures: 5,
            breaker_cooldown: Duration::from_secs(30),
            max_concurrency_per_provider: 32,
            cache: true,
            sessions: true,
        }
    }
}

/// Breaker, concurrency limit and session of one provider.
#[derive(Debug)]
struct Lane {
    breaker: Arc<Breaker>,
    permits: Semaphore,
    /// The session requests go in, once made.
    session: Mutex<Option<Arc<Session>>>,
    /// Held while a handshake is under way, so that concurrent calls wait for one handshake
    /// instead of each making their own.
    handshake: tokio::sync::Mutex<()>,
}

impl Lane {
    fn held(&self) -> std::sync::MutexGuard<'_, Option<Arc<Session>>> {
        // Only replaced whole under this lock; a poisoned value is still whole.
        self.session.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The held session, if it may still carry a request at `now`.
    fn usable(&self, now: chrono::DateTime<chrono::Utc>) -> Option<Arc<Session>> {
        self.held()
            .as_ref()
            .filter(|session| session.usable(now))
            .map(Arc::clone)
    }

    /// Forgets session `id` (the provider no longer holds it), unless another replaced it.
    fn forget(&self, id: Uuid) {
        let mut held = self.held();
        if held.as_ref().is_some_and(|session| session.id == id) {
            *held = None;
        }
    }
}

/// A request prepared for one way of sending it (a session, or SM2 when `None`): its body is
/// encrypted for that.
type Prepared = Option<(Option<Uuid>, PreparedRequest)>;

/// The request of one call, as the caller gave it, for preparing each attempt.
struct Call<'a> {
    def: &'a ServiceDef,
    provider: &'a Subsystem,
    url: &'a str,
    message_id: Uuid,
    consent: Option<&'a SignedConsent>,
    body: &'a Value,
    /// Whether the body travels encrypted (personal data, or about a subject).
    sealed: bool,
}

/// SM3 of a request body as the caller gave it (no subject, no consent): the cache key's
/// request part. `Null` and `{}` are the same request.
fn cache_digest(body: &Value) -> Option<[u8; 32]> {
    let bytes = match body {
        Value::Null => b"{}".to_vec(),
        other => serde_json::to_vec(other).ok()?,
    };
    Some(sm3_digest(&bytes))
}

/// A checker of response bodies, run before a response is logged as accepted or cached.
type BodyCheck<'a> = &'a (dyn Fn(&Value) -> Result<(), String> + Send + Sync);

/// Calls services of other members as one subsystem.
///
/// Before sending, it refuses locally (and sends nothing) what a provider would refuse: an
/// unknown service, a missing access right, a personal-data service or a subject without a
/// consent, a consent for another consumer, subject, time or data kind. Revocation is the
/// caller's to check (its consent ledger) before calling; after a revocation, call
/// [`forget_consent`](Self::forget_consent) so cached answers go too.
pub struct ExchangeClient {
    registry: Arc<Registry>,
    keys: Arc<MemberKeys>,
    log: Arc<dyn MessageLog>,
    clock: SharedClock,
    config: ClientConfig,
    http: reqwest::Client,
    lanes: Mutex<HashMap<ClientId, Arc<Lane>>>,
    cache: ResponseCache,
}

impl std::fmt::Debug for ExchangeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExchangeClient")
            .field("id", &self.keys.id)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// What one attempt produced, for the breaker, the log and the retry decision.
struct Attempt {
    result: Result<Value, ExchangeError>,
    status: Option<u16>,
    response_sm3: Option<String>,
}

impl ExchangeClient {
    /// A client calling as `keys.id`, logging every attempt to `log`, timestamping with
    /// `clock` (timeouts, backoff and cool-downs use real time).
    #[must_use]
    pub fn new(
        registry: Arc<Registry>,
        keys: impl Into<Arc<MemberKeys>>,
        log: Arc<dyn MessageLog>,
        clock: SharedClock,
        config: ClientConfig,
    ) -> ExchangeClient {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            // Building fails only when the TLS backend cannot initialise; none is compiled in,
            // and the default client is the same minus the redirect policy.
            .unwrap_or_default();
        ExchangeClient {
            registry,
            keys: keys.into(),
            log,
            clock,
            config,
            http,
            lanes: Mutex::new(HashMap::new()),
            cache: ResponseCache::default(),
        }
    }

    /// The subsystem this client calls as.
    #[must_use]
    pub fn id(&self) -> &ClientId {
        &self.keys.id
    }

    /// Calls `service` with `body` (a JSON object), about `subject` under `consent`, and
    /// returns the provider's verified (and decrypted) response body.
    ///
    /// # Errors
    ///
    /// Local refusals (nothing sent): `UnknownService`, `AccessDenied`, `ConsentMissing`,
    /// `ConsentInvalid`, `Malformed`; `CircuitOpen` while the provider's breaker is open. From
    /// the provider: the protocol's errors (§7). On the way: `Timeout`, `Http`, and
    /// `BadResponse` for a response that is unsigned, wrongly signed, stale, for another
    /// message or not a JSON object. `Store` if the attempt could not be logged (the answer
    /// is then not released).
    pub async fn call(
        &self,
        service: &ServiceId,
        consent: Option<&SignedConsent>,
        subject: Option<&ResidentId>,
        body: Value,
    ) -> Result<Value, ExchangeError> {
        self.call_checked(Uuid::now_v7(), service, consent, subject, body, &|_| Ok(()))
            .await
    }

    /// As [`call`](Self::call), and the response must deserialize as `T` (the service's
    /// response schema); one that does not is a `BadResponse`, logged as such and not cached.
    ///
    /// # Errors
    ///
    /// As [`call`](Self::call).
    pub async fn call_as<T: DeserializeOwned>(
        &self,
        service: &ServiceId,
        consent: Option<&SignedConsent>,
        subject: Option<&ResidentId>,
        body: Value,
    ) -> Result<T, ExchangeError> {
        self.call_as_message(Uuid::now_v7(), service, consent, subject, body)
            .await
    }

    /// As [`call_as`](Self::call_as), sending the request as message `message_id` (the
    /// `X-Exchange-Message-Id`, and the id of its message-log records), so that the caller's
    /// own record of the request (its consent use) names the same message. Every attempt of
    /// the call carries that id; a fresh UUIDv7 per call is expected.
    ///
    /// # Errors
    ///
    /// As [`call`](Self::call).
    pub async fn call_as_message<T: DeserializeOwned>(
        &self,
        message_id: Uuid,
        service: &ServiceId,
        consent: Option<&SignedConsent>,
        subject: Option<&ResidentId>,
        body: Value,
    ) -> Result<T, ExchangeError> {
        let check = |value: &Value| {
            T::deserialize(value)
                .map(|_| ())
                .map_err(|e| format!("response does not match the service's schema: {e}"))
        };
        let value = self
            .call_checked(message_id, service, consent, subject, body, &check)
            .await?;
        serde_json::from_value(value).map_err(|e| ExchangeError::BadResponse(e.to_string()))
    }

    /// The cached answer of idempotent `service` to `body` under consent
    /// `consent_id`, if one is held and still within the consent's data life; `None` otherwise
    /// (also when caching is off or the answer does not deserialize as `T`). Sends nothing
    /// and checks no consent: the caller has checked that the consent is live, and a revoked
    /// consent's answers are dropped by [`forget_consent`](Self::forget_consent).
    #[must_use]
    pub fn cached_as<T: DeserializeOwned>(
        &self,
        service: &ServiceId,
        consent_id: &Uuid,
        body: &Value,
    ) -> Option<T> {
        if !self.config.cache {
            return None;
        }
        let def = self.registry.service(service)?;
        if !def.idempotent {
            return None;
        }
        let value = self
            .cache
            .get(consent_id, service, &cache_digest(body)?, self.clock.now())?;
        serde_json::from_value(value).ok()
    }

    /// Drops every cached answer fetched under `consent_id`; call it when the consent is
    /// revoked.
    pub fn forget_consent(&self, consent_id: &Uuid) {
        self.cache.forget(consent_id);
    }

    /// Where `provider`'s circuit breaker stands (`Closed` for a provider never called).
    #[must_use]
    pub fn breaker_state(&self, provider: &ClientId) -> BreakerState {
        self.lanes()
            .get(provider)
            .map_or(BreakerState::Closed, |lane| lane.breaker.state())
    }

    fn lanes(&self) -> std::sync::MutexGuard<'_, HashMap<ClientId, Arc<Lane>>> {
        // Only inserts happen under this lock; a poisoned map is still whole.
        self.lanes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lane(&self, provider: &ClientId) -> Arc<Lane> {
        Arc::clone(self.lanes().entry(provider.clone()).or_insert_with(|| {
            Arc::new(Lane {
                breaker: Arc::new(Breaker::new(
                    self.config.breaker_failures,
                    self.config.breaker_cooldown,
                )),
                permits: Semaphore::new(self.config.max_concurrency_per_provider.max(1)),
                session: Mutex::new(None),
                handshake: tokio::sync::Mutex::new(()),
            })
        }))
    }

    /// The local checks of §9, then the plaintext body with the subject in it.
    fn prepare(
        &self,
        service: &ServiceId,
        consent: Option<&SignedConsent>,
        subject: Option<&ResidentId>,
        body: Value,
    ) -> Result<(&ServiceDef, &Subsystem, String, Value), ExchangeError> {
        let def = self
            .registry
            .service(service)
            .ok_or(ExchangeError::UnknownService)?;
        let provider = self
            .registry
            .subsystem(&service.provider)
            .ok_or(ExchangeError::UnknownService)?;
        let base_url = provider
            .base_url
            .as_deref()
            .ok_or(ExchangeError::UnknownService)?;
        if !self.registry.is_allowed(self.id(), service) {
            return Err(ExchangeError::AccessDenied);
        }
        match (consent, subject) {
            (None, _) if def.personal_data => return Err(ExchangeError::ConsentMissing),
            (None, Some(_)) => return Err(ExchangeError::ConsentMissing),
            (Some(_), None) => {
                return Err(ExchangeError::Malformed(
                    "授权请求须给出 subject".to_string(),
                ));
            }
            (Some(consent), Some(subject)) => {
                consent
                    .artefact
                    .check_use(self.id(), def, self.clock.now())?;
                consent.artefact.check_subject(subject)?;
            }
            (None, None) => {}
        }
        let mut object = match body {
            Value::Object(object) => object,
            Value::Null => serde_json::Map::new(),
            _ => {
                return Err(ExchangeError::Malformed("请求体应为 JSON 对象".to_string()));
            }
        };
        if object.contains_key(BODY_SUBJECT) || object.contains_key(BODY_CONSENT) {
            return Err(ExchangeError::Malformed(
                "subject 与 consent 只能通过参数给出".to_string(),
            ));
        }
        if let Some(subject) = subject {
            object.insert(
                BODY_SUBJECT.to_string(),
                Value::String(subject.as_str().to_string()),
            );
        }
        let url = format!("{}{}", base_url.trim_end_matches('/'), service.path());
        Ok((def, provider, url, Value::Object(object)))
    }

    async fn call_checked(
        &self,
        message_id: Uuid,
        service: &ServiceId,
        consent: Option<&SignedConsent>,
        subject: Option<&ResidentId>,
        body: Value,
        check: BodyCheck<'_>,
    ) -> Result<Value, ExchangeError> {
        // The cache key is the caller's body without the subject: a consent names exactly one
        // subject, and entries are kept per consent.
        let request_digest = cache_digest(&body);
        let (def, provider, url, body) = self.prepare(service, consent, subject, body)?;
        let cache_key = match (consent, request_digest) {
            (Some(consent), Some(digest)) if self.config.cache && def.idempotent => {
                Some((consent, digest))
            }
            _ => None,
        };
        if let Some((consent, digest)) = &cache_key
            && let Some(value) = self.cache.get(
                &consent.artefact.consent_id,
                service,
                digest,
                self.clock.now(),
            )
        {
            return Ok(value);
        }

        // Personal data, and anything naming a subject, travels encrypted both ways.
        let call = Call {
            def,
            provider,
            url: &url,
            message_id,
            consent,
            body: &body,
            sealed: def.personal_data || subject.is_some(),
        };
        let mut prepared: Prepared = None;
        let lane = self.lane(&service.provider);
        let mut retries = 0;
        let mut renewed = false;
        let value = loop {
            let permit = lane.breaker.try_acquire()?;
            // The concurrency limit: waiting for a slot counts against the service's timeout
            // but is not the provider's fault, so it neither trips the breaker nor gets logged.
            let slot = match tokio::time::timeout(def.timeout, lane.permits.acquire()).await {
                Ok(Ok(slot)) => Some(slot),
                Ok(Err(_)) | Err(_) => None,
            };
            let attempt = match slot {
                Some(_slot) => {
                    let result = self.send(&lane, &call, &mut prepared, check).await;
                    match &result {
                        Err(error)
                            if error.is_transient()
                                || matches!(error, ExchangeError::BadResponse(_)) =>
                        {
                            permit.failure();
                        }
                        _ => permit.success(),
                    }
                    result
                }
                None => Err(ExchangeError::Timeout),
            };
            match attempt {
                Ok(value) => break value,
                // The provider no longer holds our session (restart, expiry, eviction): a new
                // one is made and the message sent again at once, once per call.
                Err(ExchangeError::SessionUnknown) if !renewed => renewed = true,
                Err(error)
                    if def.idempotent
                        && error.is_transient()
                        && retries < self.config.max_retries =>
                {
                    tokio::time::sleep(self.backoff(retries)).await;
                    retries += 1;
                }
                Err(error) => return Err(error),
            }
        };
        if let Some((consent, digest)) = cache_key {
            let now = self.clock.now();
            self.cache.insert(
                consent.artefact.consent_id,
                service,
                digest,
                value.clone(),
                consent.artefact.data_expiry(now),
                now,
            );
        }
        Ok(value)
    }

    /// One attempt of `call`: in the provider's session when sessions are on (made first if
    /// there is none), the body prepared for it (again only if the session changed), sent,
    /// verified and logged.
    async fn send(
        &self,
        lane: &Lane,
        call: &Call<'_>,
        prepared: &mut Prepared,
        check: BodyCheck<'_>,
    ) -> Result<Value, ExchangeError> {
        // Requests that change something at the provider stay signed one by one, so that each
        // can be proven on its own (§5a).
        let session = if self.config.sessions && call.def.idempotent {
            Some(self.session(lane, call.def, call.provider).await?)
        } else {
            None
        };
        let way = session.as_ref().map(|session| session.id);
        let request = match prepared.take() {
            Some((prepared_way, request)) if prepared_way == way => request,
            _ => match &session {
                Some(session) => PreparedRequest::in_session(
                    &call.def.id,
                    call.message_id,
                    call.consent,
                    call.body,
                    call.sealed,
                    session,
                )?,
                None => PreparedRequest::new(
                    &call.def.id,
                    call.message_id,
                    call.consent,
                    call.body,
                    call.sealed.then_some(&call.provider.enc_key),
                )?,
            },
        };
        let request = &prepared.insert((way, request)).1;
        let started_at = self.clock.now();
        let timer = Instant::now();
        let attempt = self
            .attempt(
                call.def.timeout,
                call.provider,
                call.url,
                request,
                session.as_deref(),
                check,
            )
            .await;
        self.log_attempt(request, &attempt, started_at, timer)
            .await?;
        if let (Some(session), Err(ExchangeError::SessionUnknown)) = (&session, &attempt.result) {
            lane.forget(session.id);
        }
        attempt.result
    }

    /// The session with `provider`, made by a handshake if none is held or the held one is
    /// near its end or limit. One handshake at a time per provider: concurrent calls wait for
    /// it and share its session.
    async fn session(
        &self,
        lane: &Lane,
        def: &ServiceDef,
        provider: &Subsystem,
    ) -> Result<Arc<Session>, ExchangeError> {
        let session = match lane.usable(self.clock.now()) {
            Some(session) => session,
            None => {
                let _handshake = tokio::time::timeout(def.timeout, lane.handshake.lock())
                    .await
                    .map_err(|_| ExchangeError::Timeout)?;
                match lane.usable(self.clock.now()) {
                    Some(session) => session,
                    None => {
                        let session = Arc::new(self.handshake(def, provider).await?);
                        *lane.held() = Some(Arc::clone(&session));
                        session
                    }
                }
            }
        };
        // Counted when used; a session at its limit is renewed by the next call.
        session.count_request();
        Ok(session)
    }

    /// The handshake of §5a: a signed request to the provider's session service carrying a
    /// fresh ephemeral key, and its signed grant; logged like any exchange.
    async fn handshake(
        &self,
        def: &ServiceDef,
        provider: &Subsystem,
    ) -> Result<Session, ExchangeError> {
        let service = session_service(&provider.id);
        let base_url = provider
            .base_url
            .as_deref()
            .ok_or(ExchangeError::UnknownService)?;
        let url = format!("{}{}", base_url.trim_end_matches('/'), service.path());
        let ephemeral = Sm2Ephemeral::generate();
        let hello = SessionHello {
            ephemeral: ephemeral.public_key().to_hex(),
        };
        let body =
            serde_json::to_value(&hello).map_err(|e| ExchangeError::Malformed(e.to_string()))?;
        let request = PreparedRequest::new(&service, Uuid::now_v7(), None, &body, None)?;
        let check = |value: &Value| {
            SessionGrant::deserialize(value)
                .map(|_| ())
                .map_err(|e| format!("not a session grant: {e}"))
        };
        let started_at = self.clock.now();
        let timer = Instant::now();
        let attempt = self
            .attempt(def.timeout, provider, &url, &request, None, &check)
            .await;
        self.log_attempt(&request, &attempt, started_at, timer)
            .await?;
        let grant: SessionGrant = serde_json::from_value(attempt.result?)
            .map_err(|e| ExchangeError::BadResponse(e.to_string()))?;
        Session::accept(ephemeral, self.id(), &provider.id, &hello, &grant)
    }

    /// The wait before retry number `retry + 1`: a ceiling of `base * 2^retry` (capped at
    /// [`MAX_BACKOFF`]), of which a random half to all is waited ("equal jitter"), so that
    /// clients that failed together do not retry together yet always back off.
    fn backoff(&self, retry: u32) -> Duration {
        let ceiling = self
            .config
            .backoff_base
            .saturating_mul(2u32.saturating_pow(retry))
            .min(MAX_BACKOFF);
        let fraction = f64::from(u32::from_le_bytes(random_bytes::<4>())) / f64::from(u32::MAX);
        ceiling.mul_f64(0.5 + fraction / 2.0)
    }

    async fn log_attempt(
        &self,
        prepared: &PreparedRequest,
        attempt: &Attempt,
        started_at: chrono::DateTime<chrono::Utc>,
        timer: Instant,
    ) -> Result<(), ExchangeError> {
        let record = LogRecord {
            message_id: prepared.message_id,
            side: LogSide::Client,
            client: self.id().to_string(),
            service: prepared.service.to_string(),
            consent_id: prepared.consent.as_ref().map(|c| c.artefact.consent_id),
            request_sm3: wire::sm3_hex(&prepared.body),
            response_sm3: attempt.response_sm3.clone(),
            started_at,
            duration_ms: u64::try_from(timer.elapsed().as_millis()).unwrap_or(u64::MAX),
            status: attempt.status,
            outcome: match &attempt.result {
                Ok(_) => "ok".to_string(),
                Err(error) => error.code().to_string(),
            },
        };
        if let Err(error) = self.log.record(&record).await {
            tracing::error!(%error, "exchange log unavailable; the response is not released");
            return Err(error);
        }
        if let Err(ExchangeError::BadResponse(why)) = &attempt.result {
            tracing::warn!(
                message_id = %prepared.message_id,
                service = %prepared.service,
                reason = %why,
                "rejected a provider response"
            );
        }
        Ok(())
    }

    /// Sends once, with a fresh nonce, timestamp and signature (or MAC, in `session`), and
    /// verifies the answer.
    async fn attempt(
        &self,
        timeout: Duration,
        provider: &Subsystem,
        url: &str,
        prepared: &PreparedRequest,
        session: Option<&Session>,
        check: BodyCheck<'_>,
    ) -> Attempt {
        let mut request = self.http.post(url).body(prepared.body.clone());
        let headers = match session {
            Some(session) => prepared.session_headers(session, self.clock.now()),
            None => prepared.signed_headers(&self.keys, self.clock.now()),
        };
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let exchange = async {
            let mut response = request.send().await?;
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await? {
                if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                    return Ok((status, headers, None));
                }
                body.extend_from_slice(&chunk);
            }
            Ok::<_, reqwest::Error>((status, headers, Some(body)))
        };
        let fail = |error| Attempt {
            result: Err(error),
            status: None,
            response_sm3: None,
        };
        match tokio::time::timeout(timeout, exchange).await {
            Err(_) => fail(ExchangeError::Timeout),
            Ok(Err(error)) if error.is_timeout() => fail(ExchangeError::Timeout),
            Ok(Err(error)) => fail(ExchangeError::Http(error.without_url().to_string())),
            Ok(Ok((status, _, None))) => Attempt {
                result: Err(ExchangeError::BadResponse(
                    "response body too large".to_string(),
                )),
                status: Some(status),
                response_sm3: None,
            },
            Ok(Ok((status, headers, Some(body)))) => Attempt {
                result: self
                    .open_response(provider, prepared, session, status, &headers, &body, check),
                status: Some(status),
                response_sm3: Some(wire::sm3_hex(&body)),
            },
        }
    }

    /// Verifies a response (§5, §5a) and turns it into the answer or the provider's error.
    #[allow(clippy::too_many_arguments)]
    fn open_response(
        &self,
        provider: &Subsystem,
        prepared: &PreparedRequest,
        session: Option<&Session>,
        status: u16,
        headers: &HeaderMap,
        body: &[u8],
        check: BodyCheck<'_>,
    ) -> Result<Value, ExchangeError> {
        let bad = |why: &str| ExchangeError::BadResponse(why.to_string());
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let (Some(message_id), Some(timestamp), Some(nonce)) = (
            header(HEADER_MESSAGE_ID),
            header(HEADER_TIMESTAMP),
            header(HEADER_NONCE),
        ) else {
            return Err(bad("unsigned response"));
        };
        let service = prepared.service.to_string();
        let signed = ResponseToSign {
            status,
            message_id,
            service: &service,
            timestamp,
            nonce,
            body,
        };
        // In a session the provider MACs every answer it can tie to the session, and signs
        // those it refused before it could (such as `exchange.session_unknown`).
        let authentic = match (header(HEADER_MAC), header(HEADER_SIGNATURE), session) {
            (Some(mac), None, Some(session)) => {
                session.verify_response_mac(&signed.signing_string(), mac)
            }
            (None, Some(signature), _) => wire::verify_response_signature(
                &provider.id,
                &provider.sign_key,
                &signed,
                signature,
            ),
            (None, None, _) => return Err(bad("unsigned response")),
            _ => false,
        };
        if !authentic {
            return Err(bad("response signature does not verify"));
        }
        if message_id != prepared.message_id.hyphenated().to_string() {
            return Err(bad("response is for another message"));
        }
        let content_type = wire::media_type(headers).unwrap_or_default();
        let problem = (status != 200 && content_type == CONTENT_TYPE_PROBLEM)
            .then(|| serde_json::from_slice::<Problem>(body).ok())
            .flatten();
        let fresh =
            wire::parse_timestamp(timestamp).is_ok_and(|at| wire::is_fresh(at, self.clock.now()));
        if !fresh {
            // The one stale answer worth believing: the provider's own word that our clock is
            // off, which by its nature carries a timestamp far from ours. It is signed and
            // bound to this message, so it cannot be an old response replayed.
            if status == 401
                && problem
                    .as_ref()
                    .is_some_and(|p| p.code == "exchange.stale_timestamp")
            {
                return Err(ExchangeError::StaleTimestamp);
            }
            return Err(bad("response timestamp is stale"));
        }
        if status != 200 {
            let problem = problem.ok_or_else(|| bad("error response without a problem body"))?;
            return Err(ExchangeError::from_problem(
                status,
                &problem.code,
                ExchangeError::strip_detail_prefix(&problem.detail),
            )
            .ok_or_else(|| bad("error response with an unknown code"))?);
        }
        let plaintext = match content_type.as_str() {
            CONTENT_TYPE_ENCRYPTED => match session {
                Some(session) => {
                    session.open_response(&prepared.message_id, &prepared.service, body)
                }
                None => wire::decrypt_payload(
                    &self.keys.enc,
                    &prepared.message_id,
                    &prepared.service,
                    body,
                ),
            }
            .map_err(|_| bad("response does not decrypt"))?,
            // An encrypted request (personal data, or about a subject) gets an encrypted answer.
            CONTENT_TYPE_JSON if prepared.content_type != CONTENT_TYPE_ENCRYPTED => body.to_vec(),
            CONTENT_TYPE_JSON => return Err(bad("personal data sent unencrypted")),
            _ => return Err(bad("unexpected content type")),
        };
        let value: Value = serde_json::from_slice(&plaintext)
            .ok()
            .filter(Value::is_object)
            .ok_or_else(|| bad("response body is not a JSON object"))?;
        check(&value).map_err(ExchangeError::BadResponse)?;
        Ok(value)
    }
}
