//! Application state and the router: every route and the middleware around them.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{get, post, put};
use bianmin_consent::ConsentLedger;
use bianmin_core::{Clock, SharedClock};
use bianmin_crypto::{LocalKeyring, Sm2VerifyingKey};
use bianmin_exchange::MemberKeys;
use bianmin_gateway::Gateway;
use bianmin_people::PersonVault;
use bianmin_services::{Accounts, TrafficService};
use tokio::sync::Notify;

use crate::exchange::Exchange;
use bianmin_store::Store;
use metrics_exporter_prometheus::PrometheusHandle;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveHeadersLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::auth::{self, SessionKey};
use crate::config::Config;
use crate::http::middleware::{self as mw, REQUEST_ID_HEADER};
use crate::{
    assistant, audit, cockpit, consents, devices, hall, hpf, institution, lending, openapi, ops,
    people, sscard, supply, traffic, web,
};

/// Key id of the platform key that signs 电子社保卡 QR codes.
pub const QR_KEY_ID: u16 = 1;
/// Read-only service uses waiting to be written (beyond it they are written one by one).
const USAGE_QUEUE: usize = 10_000;
/// People whose district and age band are kept in memory.
const DEMOGRAPHICS_CACHE: usize = 100_000;

/// Everything a request handler may need; cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    config: Config,
    store: Store,
    clock: SharedClock,
    session_key: SessionKey,
    bank_app_key: Option<Sm2VerifyingKey>,
    keyring: Arc<LocalKeyring>,
    vault: PersonVault,
    platform_keys: Arc<MemberKeys>,
    ledger: ConsentLedger,
    exchange: Option<Exchange>,
    gateway: Option<Gateway>,
    accounts: Accounts,
    traffic: Option<TrafficService>,
    /// Wakes the background worker that reports fine payments to the 交管局.
    notifier: Notify,
    /// District and age band per person, read off their resident id once.
    demographics: std::sync::Mutex<
        std::collections::HashMap<uuid::Uuid, Option<bianmin_services::Demographics>>,
    >,
    /// Events of read-only service uses, written in batches by a background worker.
    usage_tx: tokio::sync::mpsc::Sender<bianmin_store::NewEvent>,
    usage_rx: tokio::sync::Mutex<tokio::sync::mpsc::Receiver<bianmin_store::NewEvent>>,
    /// Signs the 电子社保卡 QR codes with the platform key (made once; `None` only if the key
    /// does not copy, which a valid key always does).
    qr_issuer: Option<bianmin_services::sscard::qr::QrIssuer>,
    /// The demo employer's credit code, worked out from the simulated city once.
    demo_employer_uscc: std::sync::OnceLock<Option<String>>,
    /// 闪电贷: policy, model, pricing and the timeline's live updates.
    lending: Arc<crate::lending::Lending>,
    /// 智能客服: the assistant built from the knowledge base, and what people ask most.
    assistant: crate::assistant::AssistantHub,
    /// 管理驾驶舱: what queries read of closed day and month cells.
    cockpit_cache: crate::cockpit::ClosedCache,
    metrics: PrometheusHandle,
    /// Rate limits per endpoint class (`crate::guard`).
    guard: crate::guard::Guard,
}

/// The keys a running server holds.
pub struct Keys {
    /// Signs session tokens.
    pub session: SessionKey,
    /// Verifies the bank app's identity assertions, if configured.
    pub bank_app: Option<Sm2VerifyingKey>,
    /// KEKs, blind-index and audit keys.
    pub keyring: LocalKeyring,
    /// The platform's exchange keys: sign requests and consent artefacts.
    pub platform: Arc<MemberKeys>,
}

impl AppState {
    /// Assembles the state.
    // One argument per part that `assemble_state` builds (and may fail to build) on its own.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        config: Config,
        store: Store,
        clock: SharedClock,
        keys: Keys,
        exchange: Option<Exchange>,
        lending: Arc<crate::lending::Lending>,
        metrics: PrometheusHandle,
        guard: crate::guard::Guard,
    ) -> AppState {
        let keyring = Arc::new(keys.keyring);
        let vault = PersonVault::new(
            store.clone(),
            keyring.clone(),
            keyring.blind_index().clone(),
            keyring.audit_key().clone(),
        );
        let ledger = ConsentLedger::new(
            store.clone(),
            vault.clone(),
            keys.platform.clone(),
            keyring.audit_key().clone(),
        );
        let gateway = exchange.as_ref().map(|exchange| {
            Gateway::new(
                ledger.clone(),
                vault.clone(),
                exchange.client.clone(),
                exchange.registry.clone(),
                clock.clone(),
            )
        });
        let accounts = Accounts::new(store.clone(), vault.clone());
        let traffic = gateway.as_ref().map(|gateway| {
            TrafficService::new(
                store.clone(),
                gateway.clone(),
                accounts.clone(),
                keys.platform.clone(),
                clock.clone(),
            )
        });
        let (usage_tx, usage_rx) = tokio::sync::mpsc::channel(USAGE_QUEUE);
        // The signing key zeroizes on drop and is not `Clone`: the issuer gets a copy.
        let qr_issuer = bianmin_crypto::Sm2SigningKey::from_secret_bytes(
            keys.platform.sign.secret_bytes().as_slice(),
        )
        .ok()
        .map(|key| bianmin_services::sscard::qr::QrIssuer::new(QR_KEY_ID, key));
        AppState(Arc::new(Inner {
            config,
            store,
            clock,
            session_key: keys.session,
            bank_app_key: keys.bank_app,
            keyring,
            vault,
            platform_keys: keys.platform,
            ledger,
            exchange,
            gateway,
            accounts,
            traffic,
            notifier: Notify::new(),
            demographics: std::sync::Mutex::new(std::collections::HashMap::new()),
            usage_tx,
            usage_rx: tokio::sync::Mutex::new(usage_rx),
            qr_issuer,
            demo_employer_uscc: std::sync::OnceLock::new(),
            lending,
            assistant: crate::assistant::AssistantHub::default(),
            cockpit_cache: crate::cockpit::ClosedCache::default(),
            metrics,
            guard,
        }))
    }

    /// The rate limiter with its quotas.
    pub fn guard(&self) -> &crate::guard::Guard {
        &self.0.guard
    }

    /// 智能客服.
    pub fn assistant(&self) -> &crate::assistant::AssistantHub {
        &self.0.assistant
    }

    /// The cockpit's cache of closed cells read.
    pub fn cockpit_cache(&self) -> &crate::cockpit::ClosedCache {
        &self.0.cockpit_cache
    }

    /// 闪电贷.
    pub fn lending(&self) -> &Arc<crate::lending::Lending> {
        &self.0.lending
    }

    /// The issuer of 电子社保卡 QR codes.
    pub fn qr_issuer(&self) -> Option<&bianmin_services::sscard::qr::QrIssuer> {
        self.0.qr_issuer.as_ref()
    }

    /// The demo employer's credit code, once worked out (see `institution`).
    pub fn demo_employer_uscc(&self) -> &std::sync::OnceLock<Option<String>> {
        &self.0.demo_employer_uscc
    }

    /// The district and age band of `person` (cached; `None` if their id cannot be read).
    pub async fn demographics(&self, person: uuid::Uuid) -> Option<bianmin_services::Demographics> {
        let cached = self
            .0
            .demographics
            .lock()
            .ok()
            .and_then(|map| map.get(&person).copied());
        if let Some(known) = cached {
            return known;
        }
        let found = self
            .vault()
            .subject_of(person)
            .await
            .ok()
            .map(|id| bianmin_services::Demographics::of(&id, self.clock().today_china()));
        if let Ok(mut map) = self.0.demographics.lock() {
            if map.len() >= DEMOGRAPHICS_CACHE {
                map.clear();
            }
            map.insert(person, found);
        }
        found
    }

    /// Queues the event of a read-only service use for the batch writer; written at once in
    /// its own transaction when the queue is full.
    pub async fn record_usage(&self, event: bianmin_store::NewEvent) {
        if let Err(tokio::sync::mpsc::error::TrySendError::Full(event)) =
            self.0.usage_tx.try_send(event)
        {
            let written = async {
                let mut tx = self.store().begin_write().await?;
                tx.append_event(&event).await?;
                tx.commit().await
            }
            .await;
            if let Err(error) = written {
                tracing::warn!(%error, "could not record a service use");
            }
        }
    }

    /// Writes queued usage events, up to `max` in one transaction; returns how many.
    pub async fn flush_usage(&self, max: usize, wait: bool) -> usize {
        let mut rx = self.0.usage_rx.lock().await;
        let mut batch = Vec::new();
        if wait {
            match rx.recv().await {
                Some(event) => batch.push(event),
                None => return 0,
            }
        }
        while batch.len() < max {
            match rx.try_recv() {
                Ok(event) => batch.push(event),
                Err(_) => break,
            }
        }
        drop(rx);
        if batch.is_empty() {
            return 0;
        }
        let written = async {
            let mut tx = self.store().begin_write().await?;
            tx.append_events(&batch).await?;
            tx.commit().await
        }
        .await;
        match written {
            Ok(()) => batch.len(),
            Err(error) => {
                tracing::warn!(%error, events = batch.len(), "could not record service uses");
                0
            }
        }
    }

    /// Citizens' bank accounts (simulated core banking).
    pub fn accounts(&self) -> &Accounts {
        &self.0.accounts
    }

    /// Traffic fines, if agencies are configured.
    pub fn traffic(&self) -> Option<&TrafficService> {
        self.0.traffic.as_ref()
    }

    /// Wakes the background worker that reports payments to agencies.
    pub fn wake_notifier(&self) {
        self.0.notifier.notify_one();
    }

    /// Waits until [`wake_notifier`](Self::wake_notifier) is called (or was, since the last
    /// wait).
    pub async fn notified(&self) {
        self.0.notifier.notified().await;
    }

    /// Citizens' consents.
    pub fn ledger(&self) -> &ConsentLedger {
        &self.0.ledger
    }

    /// The fetch path to agencies, if agencies are configured.
    pub fn gateway(&self) -> Option<&Gateway> {
        self.0.gateway.as_ref()
    }

    /// The platform's exchange identity and keys.
    pub fn platform_keys(&self) -> &MemberKeys {
        &self.0.platform_keys
    }

    /// Ends every live consent of `person`, forgets the phone number they sign in with by SMS
    /// (its blind index would still link them) and erases them by destroying their data key, in
    /// that order (a consent must not outlive its person even if the erasure then fails).
    ///
    /// # Errors
    ///
    /// The ledger's or the vault's.
    pub async fn erase_person(
        &self,
        person: uuid::Uuid,
        actor: &str,
        reason: &str,
    ) -> Result<(), crate::http::problem::ApiError> {
        match self.gateway() {
            Some(gateway) => gateway.revoke_all_for(person, actor).await?,
            None => {
                self.ledger()
                    .revoke_all_for(person, actor, self.clock().now())
                    .await?
            }
        };
        let mut tx = self.store().begin_write().await?;
        bianmin_store::on_tx!(&mut tx, conn => {
            sqlx::query(
                "DELETE FROM login_phones \
                 WHERE principal_id IN (SELECT id FROM principals WHERE person_id = $1)",
            )
            .bind(person)
            .execute(conn)
            .await?;
        });
        tx.commit().await?;
        self.vault()
            .erase(person, actor, reason, self.clock().now())
            .await?;
        Ok(())
    }

    /// Personal data, encrypted per person.
    pub fn vault(&self) -> &PersonVault {
        &self.0.vault
    }

    /// The unified access standard, if agencies are configured.
    pub fn exchange(&self) -> Option<&Exchange> {
        self.0.exchange.as_ref()
    }

    /// The keyring (for the audit key).
    pub fn keyring(&self) -> &LocalKeyring {
        &self.0.keyring
    }

    /// Configuration in force.
    pub fn config(&self) -> &Config {
        &self.0.config
    }

    /// The database.
    pub fn store(&self) -> &Store {
        &self.0.store
    }

    /// The clock (a settable one in tests).
    pub fn clock(&self) -> &dyn Clock {
        self.0.clock.as_ref()
    }

    /// The key that signs session tokens.
    pub fn session_key(&self) -> &SessionKey {
        &self.0.session_key
    }

    /// The bank app's SM2 public key, if identity assertions are configured.
    pub fn bank_app_key(&self) -> Option<&Sm2VerifyingKey> {
        self.0.bank_app_key.as_ref()
    }

    /// The Prometheus recorder's handle.
    pub fn metrics(&self) -> &PrometheusHandle {
        &self.0.metrics
    }
}

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    let http = &state.config().http;
    let api = Router::new()
        .route("/api/openapi.json", get(openapi::document))
        .route("/api/v1/auth/personas", get(auth::routes::list_personas))
        .route("/api/v1/auth/dev-login", post(auth::routes::dev_login))
        .route(
            "/api/v1/auth/assertion",
            post(auth::routes::assertion_login),
        )
        .route("/api/v1/auth/otp/send", post(auth::otp::send))
        .route("/api/v1/auth/otp/verify", post(auth::otp::verify))
        .route("/api/v1/auth/logout", post(auth::routes::logout))
        .route("/api/v1/me", get(auth::routes::me))
        .route("/api/v1/me/profile", get(people::my_profile))
        .route("/api/v1/me/profile/reveal", post(people::reveal_my_profile))
        .route(
            "/api/v1/me/consents",
            get(consents::list).post(consents::create),
        )
        .route("/api/v1/me/consents/{id}", get(consents::detail))
        .route("/api/v1/me/consents/{id}/approve", post(consents::approve))
        .route("/api/v1/me/consents/{id}/reject", post(consents::reject))
        .route("/api/v1/me/consents/{id}/revoke", post(consents::revoke))
        .route(
            "/api/v1/me/devices",
            get(devices::list).post(devices::enrol),
        )
        .route("/api/v1/me/devices/{id}/revoke", post(devices::revoke))
        .route("/api/v1/me/loan", get(lending::application::overview))
        .route(
            "/api/v1/me/loan/applications",
            post(lending::application::create),
        )
        .route(
            "/api/v1/me/loan/applications/{id}/submit",
            post(lending::application::submit),
        )
        .route(
            "/api/v1/me/loan/applications/{id}/events",
            get(lending::application::events),
        )
        .route(
            "/api/v1/me/loan/applications/{id}/review",
            post(lending::review::request),
        )
        .route(
            "/api/v1/me/loan/applications/{id}/contract",
            get(lending::contract::contract),
        )
        .route(
            "/api/v1/me/loan/applications/{id}/sign",
            post(lending::contract::sign),
        )
        .route("/api/v1/cockpit/query", get(cockpit::query))
        .route("/api/v1/cockpit/live", get(cockpit::live))
        .route("/api/v1/assistant/ask", post(assistant::ask::ask))
        .route("/api/v1/assistant/suggest", get(assistant::ask::suggest))
        .route("/api/v1/assistant/feedback", post(assistant::ask::feedback))
        .route("/api/v1/me/inbox", get(assistant::followup::inbox))
        .route(
            "/api/v1/me/inbox/{id}/read",
            post(assistant::followup::read),
        )
        .route(
            "/api/v1/me/inbox/{id}/survey",
            post(assistant::followup::answer_survey),
        )
        .route(
            "/api/v1/console/kb/entries",
            get(assistant::kb::list).post(assistant::kb::create),
        )
        .route(
            "/api/v1/console/kb/entries/{id}",
            get(assistant::kb::detail)
                .put(assistant::kb::update)
                .delete(assistant::kb::delete),
        )
        .route(
            "/api/v1/console/assistant/insights",
            get(assistant::insights::insights),
        )
        .route("/api/v1/me/loan/line", get(lending::line::my_line))
        .route("/api/v1/me/loan/line/draws", post(lending::line::draw))
        .route(
            "/api/v1/me/loan/line/repayments",
            post(lending::line::repay),
        )
        .route("/api/v1/me/loan/line/renewal", post(lending::line::renew))
        .route("/api/v1/console/loan/reviews", get(lending::review::queue))
        .route(
            "/api/v1/console/loan/reviews/{id}/resolve",
            post(lending::review::resolve),
        )
        .route(
            "/api/v1/console/loan/applications/{id}/replay",
            get(lending::review::replay),
        )
        .route("/api/v1/me/supply", get(supply::offer::mine))
        .route(
            "/api/v1/me/supply/{uscc}/accept",
            post(supply::offer::accept),
        )
        .route("/api/v1/me/supply/{uscc}/line", get(supply::line::get_line))
        .route("/api/v1/me/supply/{uscc}/orders", get(supply::line::orders))
        .route("/api/v1/me/supply/{uscc}/draws", post(supply::line::draw))
        .route(
            "/api/v1/me/supply/{uscc}/repayments",
            post(supply::line::repay),
        )
        .route(
            "/api/v1/me/supply/{uscc}/sweep",
            put(supply::line::set_sweep),
        )
        .route(
            "/api/v1/me/supply/{uscc}/contract",
            get(supply::offer::contract),
        )
        .route(
            "/api/v1/console/supply/enterprises",
            get(supply::enterprise::list).post(supply::enterprise::onboard),
        )
        .route(
            "/api/v1/console/supply/enterprises/{id}",
            get(supply::enterprise::detail),
        )
        .route(
            "/api/v1/console/supply/enterprises/{id}/preapprovals",
            post(supply::enterprise::preapprove),
        )
        .route(
            "/api/v1/console/supply/enterprises/{id}/monitoring",
            post(supply::monitor::monitor),
        )
        .route(
            "/api/v1/console/supply/receipts",
            post(supply::line::receipt),
        )
        .route(
            "/api/v1/console/supply/distributors/{uscc}/unfreeze",
            post(supply::monitor::unfreeze),
        )
        .route(
            "/api/v1/institution/supply",
            get(supply::enterprise::institution_view),
        )
        .route(
            "/api/v1/institution/supply/agreement",
            post(supply::enterprise::sign_agreement),
        )
        .route(
            "/api/v1/institution/supply/agreement/revoke",
            post(supply::enterprise::revoke_agreement),
        )
        .route("/api/v1/me/hpf/account", get(hpf::my_account))
        .route("/api/v1/me/hpf/deposits", get(hpf::my_deposits))
        .route("/api/v1/me/hpf/loan/quota", get(hpf::my_loan_quota))
        .route("/api/v1/me/hpf/withdrawal", get(hpf::my_withdrawal))
        .route("/api/v1/hpf/loan/schedule", post(hpf::loan_schedule))
        .route("/api/v1/me/traffic/vehicles", get(traffic::vehicles))
        .route("/api/v1/me/traffic/licence", get(traffic::licence))
        .route("/api/v1/me/traffic/violations", get(traffic::violations))
        .route(
            "/api/v1/me/traffic/payments",
            get(traffic::payments).post(traffic::pay),
        )
        .route("/api/v1/me/traffic/payments/{id}", get(traffic::payment))
        .route("/api/v1/me/bank-account", get(traffic::bank_account))
        .route("/api/v1/me/services", get(hall::hall))
        .route("/api/v1/me/sscard", get(sscard::my_card))
        .route("/api/v1/me/sscard/activate", post(sscard::activate))
        .route("/api/v1/me/sscard/qr", get(sscard::my_qr))
        .route("/api/v1/me/sscard/revoke", post(sscard::revoke))
        .route(
            "/api/v1/me/sscard/contributions",
            get(sscard::my_contributions),
        )
        .route("/api/v1/institution/sscard/verify", post(sscard::verify))
        .route("/api/v1/institution/staff", get(institution::staff))
        .route(
            "/api/v1/persons/{id}",
            get(people::person).delete(people::erase_person),
        )
        .route("/api/v1/persons/{id}/reveal", post(people::reveal_person))
        .route("/api/v1/audit/entries", get(audit::entries))
        .route("/api/v1/audit/verify", get(audit::verify))
        .route("/api/v1/ops/overview", get(ops::overview))
        .route("/api/v1/ops/exchange", get(crate::exchange::overview))
        .route(
            "/api/v1/console/guard/escalations",
            get(crate::antibot::escalations),
        )
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics));

    let layers = ServiceBuilder::new()
        .layer(SetSensitiveHeadersLayer::new([
            axum::http::header::AUTHORIZATION,
            axum::http::header::COOKIE,
            axum::http::header::SET_COOKIE,
        ]))
        .layer(SetRequestIdLayer::new(REQUEST_ID_HEADER, MakeRequestUuid))
        .layer(
            // Spans name the method and the path only: query strings and bodies may hold
            // personal data and are never logged.
            TraceLayer::new_for_http().make_span_with(|request: &axum::http::Request<_>| {
                let id = request
                    .headers()
                    .get(&REQUEST_ID_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                tracing::info_span!("request", id, method = %request.method(), path = %request.uri().path())
            }),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID_HEADER))
        .layer(from_fn(mw::record_metrics))
        .layer(from_fn(mw::security_headers))
        .layer(from_fn(mw::request_context))
        // Inside `request_context` so that a 429 names its request id, and inside
        // `record_metrics` so that refused requests are counted like any other.
        .layer(from_fn_with_state(
            state.clone(),
            crate::guard::limit_requests,
        ))
        // After the rate limits (cheap, and in front of the database), before the handlers:
        // a signature is checked first, so that behaviour scoring knows the signing device.
        .layer(from_fn_with_state(
            state.clone(),
            crate::signing::verify_signatures,
        ))
        .layer(from_fn_with_state(
            state.clone(),
            crate::antibot::score_requests,
        ))
        .layer(CatchPanicLayer::custom(mw::panic_response))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(http.request_timeout_secs),
        ))
        .layer(DefaultBodyLimit::max(http.body_limit_bytes));

    api.fallback(web::serve).layer(layers).with_state(state)
}
