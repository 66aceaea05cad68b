//! A small federation on 127.0.0.1: the bank's platform (client and consent signer), the
//! provident-fund centre (a real provider router with a fake handler), a registered subsystem
//! without access rights, and one nobody registered.

#![allow(dead_code)] // each test file uses its own part of the fixture

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bianmin_core::{ResidentId, SharedClock, TestClock};
use bianmin_exchange::wire::{
    CONTENT_TYPE_PROBLEM, HEADER_MESSAGE_ID, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP,
    PreparedRequest, ResponseToSign,
};
use bianmin_exchange::{
    AcceptedRequest, ClientConfig, ClientId, ConsentArtefact, ExchangeClient, Frequency,
    FrequencyUnit, LogRecord, MemberKeys, MemoryMessageLog, MemoryNonceStore, MessageLog, Provider,
    Registry, SESSION_SERVICE_CODE, ServiceDef, ServiceFailure, ServiceHandler, ServiceId,
    SignedConsent, async_trait, provider_router,
};
use chrono::{DateTime, NaiveDate, TimeDelta, TimeZone, Utc};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tower::ServiceExt as _;
use uuid::Uuid;

/// The name the provider returns for the subject: personal data that must never appear in
/// clear on the wire or in a log.
pub const HOLDER_NAME: &str = "王小明";

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 29, 8, 0, 0).unwrap()
}

pub fn subject() -> ResidentId {
    ResidentId::with_check_digit("51010419900307123").unwrap()
}

pub fn other_subject() -> ResidentId {
    ResidentId::with_check_digit("51010419850101002").unwrap()
}

/// A subject the provider has no record of.
pub fn unknown_subject() -> ResidentId {
    ResidentId::with_check_digit("51010720000101001").unwrap()
}

/// The fake provident-fund handler: counts hits, can fail or stall on demand, tracks how many
/// requests it serves at once, and remembers the last request it accepted.
#[derive(Default)]
pub struct FakeHandler {
    pub hits: AtomicUsize,
    pub failures: Mutex<VecDeque<ServiceFailure>>,
    pub always: Mutex<Option<ServiceFailure>>,
    pub slow_calls: AtomicUsize,
    pub delay: Mutex<Duration>,
    in_flight: AtomicUsize,
    pub max_in_flight: AtomicUsize,
    pub last: Mutex<Option<AcceptedRequest>>,
}

impl FakeHandler {
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    pub fn fail_next(&self, failures: &[ServiceFailure]) {
        self.failures
            .lock()
            .unwrap()
            .extend(failures.iter().cloned());
    }

    pub fn fail_always(&self, failure: Option<ServiceFailure>) {
        *self.always.lock().unwrap() = failure;
    }
}

#[async_trait]
impl ServiceHandler for FakeHandler {
    async fn handle(&self, request: &AcceptedRequest) -> Result<Value, ServiceFailure> {
        self.hits.fetch_add(1, Ordering::SeqCst);
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let delay = *self.delay.lock().unwrap();
        let slow = self
            .slow_calls
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        let pause = if slow {
            Duration::from_millis(800)
        } else {
            delay
        };
        if !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        *self.last.lock().unwrap() = Some(request.clone());
        if let Some(failure) = self.failures.lock().unwrap().pop_front() {
            return Err(failure);
        }
        if let Some(failure) = self.always.lock().unwrap().clone() {
            return Err(failure);
        }
        match request.service.id.code.as_str() {
            "hpf.account" if request.subject.as_ref() == Some(&unknown_subject()) => {
                Err(ServiceFailure::NotFound)
            }
            "hpf.account" => Ok(json!({
                "holder_name": HOLDER_NAME,
                "balance_fen": 1_234_500,
                "status": "normal",
            })),
            "hpf.withdrawal" => Ok(json!({"accepted": true})),
            "hpf.rates" => Ok(json!({"rate": "3.10"})),
            "hpf.slow" => Ok(json!({"ok": true})),
            "hpf.unschema" => Ok(json!({"unexpected": [1, 2, 3]})),
            _ => Err(ServiceFailure::Invalid("unknown code".into())),
        }
    }
}

pub struct Services {
    /// Personal, idempotent.
    pub account: ServiceId,
    /// Personal, not idempotent.
    pub withdrawal: ServiceId,
    /// Public, idempotent.
    pub rates: ServiceId,
    /// Public, idempotent, 300 ms timeout.
    pub slow: ServiceId,
    /// Public, idempotent, answers with a body of the wrong shape.
    pub unschema: ServiceId,
    /// At the provider's address but not in the registry.
    pub unlisted: ServiceId,
}

/// Makes the provider's message log from the provider's keys.
pub type MakeLog = Box<dyn FnOnce(&Arc<MemberKeys>) -> Arc<dyn MessageLog>>;

pub struct World {
    pub registry: Arc<Registry>,
    pub bank: Arc<MemberKeys>,
    pub hpf: Arc<MemberKeys>,
    pub outsider: Arc<MemberKeys>,
    pub stranger: Arc<MemberKeys>,
    pub services: Services,
    /// The provider's clock (and the client's, unless a test gives it another).
    pub clock: TestClock,
    pub handler: Arc<FakeHandler>,
    pub provider_log: Arc<MemoryMessageLog>,
    pub base_url: String,
    pub http: reqwest::Client,
    /// The provider serving at `base_url`; [`restart_provider`](Self::restart_provider)
    /// replaces it.
    serving: Arc<Mutex<Router>>,
    provider_log_sink: Arc<dyn MessageLog>,
    /// Applied to every response on its way out: a man in the middle.
    tamper: Arc<Mutex<Option<Tamper>>>,
}

/// What a man in the middle does to a response.
pub type Tamper = fn(&mut axum::response::Response);

fn service(
    id: &ServiceId,
    kinds: &[&str],
    idempotent: bool,
    personal: bool,
    ms: u64,
) -> ServiceDef {
    ServiceDef {
        id: id.clone(),
        data_kinds: kinds.iter().map(|k| (*k).to_string()).collect(),
        idempotent,
        personal_data: personal,
        timeout: Duration::from_millis(ms),
    }
}

impl World {
    pub async fn start() -> World {
        World::start_logging(None).await
    }

    /// Starts the provider, logging to the log `provider_log` makes from the provider's keys
    /// when given (else to memory).
    pub async fn start_logging(provider_log: Option<MakeLog>) -> World {
        let bank = Arc::new(MemberKeys::generate(
            "CN-CD/COM/bank/bianmin".parse().unwrap(),
        ));
        let hpf = Arc::new(MemberKeys::generate(
            "CN-CD/GOV/hpf-center/accounts".parse().unwrap(),
        ));
        let outsider = Arc::new(MemberKeys::generate(
            "CN-CD/COM/insurer/claims".parse().unwrap(),
        ));
        let stranger = Arc::new(MemberKeys::generate(
            "CN-CD/COM/unknown/probe".parse().unwrap(),
        ));
        let id = |code: &str| -> ServiceId {
            format!("CN-CD/GOV/hpf-center/accounts/{code}/v1")
                .parse()
                .unwrap()
        };
        let services = Services {
            account: id("hpf.account"),
            withdrawal: id("hpf.withdrawal"),
            rates: id("hpf.rates"),
            slow: id("hpf.slow"),
            unschema: id("hpf.unschema"),
            unlisted: id("hpf.unlisted"),
        };

        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let registry = Arc::new(
            Registry::builder()
                .subsystem(bank.subsystem("便民服务平台", None))
                .subsystem(hpf.subsystem("成都住房公积金管理中心", Some(base_url.clone())))
                .subsystem(outsider.subsystem("某保险公司理赔系统", None))
                .service(service(
                    &services.account,
                    &["hpf.account"],
                    true,
                    true,
                    2000,
                ))
                .service(service(
                    &services.withdrawal,
                    &["hpf.account"],
                    false,
                    true,
                    2000,
                ))
                .service(service(&services.rates, &["hpf.rates"], true, false, 2000))
                .service(service(&services.slow, &["hpf.rates"], true, false, 300))
                .service(service(
                    &services.unschema,
                    &["hpf.rates"],
                    true,
                    false,
                    2000,
                ))
                .allow(&bank.id, &services.account)
                .allow(&bank.id, &services.withdrawal)
                .allow(&bank.id, &services.rates)
                .allow(&bank.id, &services.slow)
                .allow(&bank.id, &services.unschema)
                .build(),
        );
        registry.validate().unwrap();

        let clock = TestClock::at(t0());
        let handler = Arc::new(FakeHandler::default());
        let memory_log = Arc::new(MemoryMessageLog::new());
        let log: Arc<dyn MessageLog> = match provider_log {
            Some(make) => make(&hpf),
            None => memory_log.clone(),
        };
        let serving = Arc::new(Mutex::new(Router::new()));
        let tamper: Arc<Mutex<Option<Tamper>>> = Arc::default();
        let (front, meddler) = (Arc::clone(&serving), Arc::clone(&tamper));
        let app = Router::new().fallback(move |request: axum::extract::Request| {
            let router = front.lock().unwrap().clone();
            let tamper = *meddler.lock().unwrap();
            async move {
                let mut response = router.oneshot(request).await.unwrap();
                if let Some(tamper) = tamper {
                    tamper(&mut response);
                }
                response
            }
        });
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

        let world = World {
            registry,
            bank,
            hpf,
            outsider,
            stranger,
            services,
            clock,
            handler,
            provider_log: memory_log,
            base_url,
            http: reqwest::Client::new(),
            serving,
            provider_log_sink: log,
            tamper,
        };
        world.restart_provider();
        world
    }

    /// From now on, every response passes through `tamper` (`None`: untouched again).
    pub fn tamper_responses(&self, tamper: Option<Tamper>) {
        *self.tamper.lock().unwrap() = tamper;
    }

    /// Serves a new provider instance with the same keys, registry, clock and log: one that
    /// holds no session and remembers no nonce, as after a restart.
    pub fn restart_provider(&self) {
        let provider = Provider::new(
            Arc::clone(&self.registry),
            Arc::clone(&self.hpf),
            self.bank.id.clone(),
            Arc::new(MemoryNonceStore::new()),
            Arc::new(self.clock.clone()),
        )
        .with_log(Arc::clone(&self.provider_log_sink));
        *self.serving.lock().unwrap() = provider_router(Arc::new(provider), self.handler.clone());
    }

    /// The bank's client on the shared clock, logging to memory.
    pub fn client(&self, config: ClientConfig) -> (ExchangeClient, Arc<MemoryMessageLog>) {
        let log = Arc::new(MemoryMessageLog::new());
        let client = self.client_with(config, log.clone(), Arc::new(self.clock.clone()));
        (client, log)
    }

    pub fn client_with(
        &self,
        config: ClientConfig,
        log: Arc<dyn MessageLog>,
        clock: SharedClock,
    ) -> ExchangeClient {
        ExchangeClient::new(
            Arc::clone(&self.registry),
            Arc::clone(&self.bank),
            log,
            clock,
            config,
        )
    }

    /// A consent of `subject` for the bank, valid from an hour ago for 30 days, covering
    /// `kinds`, adjusted by `adjust` and signed by the platform (the bank).
    pub fn consent_with(
        &self,
        subject: &ResidentId,
        kinds: &[&str],
        adjust: impl FnOnce(&mut ConsentArtefact),
    ) -> SignedConsent {
        let consent_id = Uuid::now_v7();
        let mut artefact = ConsentArtefact {
            consent_id,
            subject_digest: ConsentArtefact::subject_digest(&consent_id, subject),
            consumer: self.bank.id.clone(),
            purpose_code: "SERVICE_HPF_QUERY".into(),
            purpose_text: "公积金查询".into(),
            data_kinds: kinds.iter().map(|k| (*k).to_string()).collect(),
            data_from: NaiveDate::from_ymd_opt(2024, 11, 1).unwrap(),
            data_to: NaiveDate::from_ymd_opt(2026, 11, 28).unwrap(),
            frequency: Frequency {
                unit: FrequencyUnit::Day,
                max: 5,
            },
            valid_from: t0() - TimeDelta::hours(1),
            valid_until: t0() + TimeDelta::days(30),
            data_life_days: 7,
            issued_at: t0() - TimeDelta::hours(1),
        };
        adjust(&mut artefact);
        artefact.sign(&self.bank)
    }

    pub fn consent(&self, subject: &ResidentId) -> SignedConsent {
        self.consent_with(subject, &["hpf.account"], |_| {})
    }

    /// A request prepared by hand, as `keys`, encrypted to the provider when `encrypt`.
    pub fn prepare(
        &self,
        service: &ServiceId,
        consent: Option<&SignedConsent>,
        body: &Value,
        encrypt: bool,
    ) -> PreparedRequest {
        PreparedRequest::new(
            service,
            Uuid::now_v7(),
            consent,
            body,
            encrypt.then(|| self.hpf.enc.verifying_key()).as_ref(),
        )
        .unwrap()
    }

    /// Signs `prepared` as `keys` at the provider's current time.
    pub fn headers(
        &self,
        prepared: &PreparedRequest,
        keys: &MemberKeys,
    ) -> Vec<(&'static str, String)> {
        prepared.signed_headers(keys, bianmin_core::Clock::now(&self.clock))
    }

    /// POSTs exactly these headers and body to the service's path.
    pub async fn send_raw(
        &self,
        service: &ServiceId,
        headers: &[(&'static str, String)],
        body: &[u8],
    ) -> RawResponse {
        let mut request = self
            .http
            .post(format!("{}{}", self.base_url, service.path()))
            .body(body.to_vec());
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let response = request.send().await.unwrap();
        RawResponse {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: response.bytes().await.unwrap().to_vec(),
        }
    }

    /// Prepares, signs as `keys` and sends.
    pub async fn send(
        &self,
        keys: &MemberKeys,
        service: &ServiceId,
        consent: Option<&SignedConsent>,
        body: &Value,
        encrypt: bool,
    ) -> (PreparedRequest, RawResponse) {
        let prepared = self.prepare(service, consent, body, encrypt);
        let headers = self.headers(&prepared, keys);
        let response = self.send_raw(service, &headers, &prepared.body).await;
        (prepared, response)
    }

    /// Asserts `response` is the provider's signed problem with `status` and `code`, for
    /// `message_id` (the nil UUID when the request had none) and `service`.
    pub fn assert_problem(
        &self,
        response: &RawResponse,
        status: u16,
        code: &str,
        message_id: Uuid,
        service: &str,
    ) {
        let body: Value = serde_json::from_slice(&response.body).unwrap();
        assert_eq!(
            (response.status, body["code"].as_str().unwrap()),
            (status, code),
            "{body}"
        );
        assert_eq!(body["status"], status);
        assert_eq!(
            response.headers["content-type"].to_str().unwrap(),
            CONTENT_TYPE_PROBLEM
        );
        self.assert_signed(response, message_id, service);
    }

    /// Asserts `response` carries a valid provider signature for `message_id` and `service`.
    pub fn assert_signed(&self, response: &RawResponse, message_id: Uuid, service: &str) {
        let header = |name: &str| response.headers[name].to_str().unwrap().to_string();
        assert_eq!(
            header(HEADER_MESSAGE_ID),
            message_id.hyphenated().to_string()
        );
        let signing_string = ResponseToSign {
            status: response.status,
            message_id: &header(HEADER_MESSAGE_ID),
            service,
            timestamp: &header(HEADER_TIMESTAMP),
            nonce: &header(HEADER_NONCE),
            body: &response.body,
        }
        .signing_string();
        let signature = STANDARD.decode(header(HEADER_SIGNATURE)).unwrap();
        self.hpf
            .sign
            .verifying_key()
            .verify(
                &self.hpf.id.to_string(),
                signing_string.as_bytes(),
                &signature,
            )
            .expect("the provider signed its response");
    }
}

#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

/// The account request body of `subject`.
pub fn account_body(subject: &ResidentId) -> Value {
    json!({"subject": subject.as_str(), "fields": ["balance"]})
}

/// The records of service calls, without those of session handshakes (§5a).
pub fn without_handshakes(records: Vec<LogRecord>) -> Vec<LogRecord> {
    records
        .into_iter()
        .filter(|record| {
            !record
                .service
                .contains(&format!("/{SESSION_SERVICE_CODE}/"))
        })
        .collect()
}

pub fn fast_config() -> ClientConfig {
    ClientConfig {
        max_retries: 2,
        backoff_base: Duration::from_millis(10),
        breaker_failures: 5,
        breaker_cooldown: Duration::from_millis(300),
        max_concurrency_per_provider: 8,
        cache: true,
        sessions: true,
    }
}

pub fn client_id(text: &str) -> ClientId {
    text.parse().unwrap()
}
