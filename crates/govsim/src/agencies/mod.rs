//! The eight simulated agencies as real HTTP servers speaking the exchange protocol.
//!
//! [`GovSim::new`] generates each agency's keys and builds the registry (the eight agencies,
//! their services, and the platform with the right to call them all); [`GovSim::start`] binds
//! every agency to its own port, fills in the base URLs and returns a [`RunningGovSim`].
//!
//! In front of each agency's protocol router sits a front door that draws, per request and
//! from a seeded generator, a latency (log-normal) and a fault (see [`FaultConfig`]): a hang
//! past the client's timeout, a signed 503, a body that breaks the schema, a response signed
//! by an impostor key, or an extra delay. Agencies draw independently, with their own
//! configuration.

pub mod config;
pub mod faults;
mod handler;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tower::ServiceExt;

use bianmin_core::SharedClock;
use bianmin_exchange::{
    ClientId, MemberKeys, MemoryNonceStore, NonceStore, Provider, Registry, ServiceDef, ServiceId,
    Subsystem, provider_router,
};

pub use config::{AgencyConfig, FaultConfig, GovSimConfig, LatencyConfig};
pub use faults::Fault;
pub use handler::{CardActivations, FineLedger, OrderLedger};

use crate::calendar::YearMonth;
use crate::enterprise::MAX_BOOKS_AHEAD;
use crate::population::Population;
use crate::seeding::{Stream, stream_rng};
use faults::FaultPlan;
use handler::{AgencyHandler, FAULT};

/// Why the simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum GovSimError {
    /// The configuration is out of range.
    #[error("invalid govsim configuration: {0}")]
    Config(String),
    /// An agency could not bind its port.
    #[error("cannot bind {agency}: {source}")]
    Bind {
        /// Which agency.
        agency: &'static str,
        /// What the OS said.
        source: std::io::Error,
    },
}

/// One of the simulated agencies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Agency {
    /// 公安: identity verification.
    Identity,
    /// 住房公积金管理中心.
    Hpf,
    /// 社会保险事业管理局.
    Si,
    /// 税务局.
    Tax,
    /// 公安交通管理局.
    Traffic,
    /// 中国人民银行征信中心.
    Credit,
    /// 人民法院.
    Court,
    /// A集团, the core enterprise.
    AGroup,
}

/// A service an agency provides.
#[derive(Debug, Clone, Copy)]
struct ServiceSpec {
    /// Code, e.g. `hpf.account`.
    code: &'static str,
    /// Whether it answers with personal data (and so needs a consent).
    personal_data: bool,
    /// Whether a client may resend it after a failure.
    idempotent: bool,
    /// The data kind a consent must list, when it is not the code.
    data_kind: Option<&'static str>,
}

impl ServiceSpec {
    /// A personal-data, idempotent service whose data kind is its code.
    const fn personal(code: &'static str) -> Self {
        Self {
            code,
            personal_data: true,
            idempotent: true,
            data_kind: None,
        }
    }

    /// An idempotent service answering with a company's own business data (its figures, or
    /// its staff under masked names and ids): no consent, no subject.
    const fn company(code: &'static str) -> Self {
        Self {
            personal_data: false,
            ..Self::personal(code)
        }
    }

    /// This service, not idempotent.
    const fn not_idempotent(self) -> Self {
        Self {
            idempotent: false,
            ..self
        }
    }

    /// This service, covered by consents to `kind` rather than to its code.
    const fn of_kind(self, kind: &'static str) -> Self {
        Self {
            data_kind: Some(kind),
            ..self
        }
    }

    /// The data kind a consent must list.
    fn data_kind(&self) -> &'static str {
        self.data_kind.unwrap_or(self.code)
    }
}

impl Agency {
    /// Every agency.
    pub const ALL: [Agency; 8] = [
        Agency::Identity,
        Agency::Hpf,
        Agency::Si,
        Agency::Tax,
        Agency::Traffic,
        Agency::Credit,
        Agency::Court,
        Agency::AGroup,
    ];

    /// The key of its section in [`GovSimConfig::agencies`], e.g. `"hpf"`.
    pub fn key(self) -> &'static str {
        match self {
            Self::Identity => "identity",
            Self::Hpf => "hpf",
            Self::Si => "si",
            Self::Tax => "tax",
            Self::Traffic => "traffic",
            Self::Credit => "credit",
            Self::Court => "court",
            Self::AGroup => "a-group",
        }
    }

    /// Its subsystem identifier, e.g. `CN-CD/GOV/hpf-center/accounts`.
    pub fn subsystem_id(self) -> &'static str {
        match self {
            Self::Identity => "CN-CD/GOV/mps/identity",
            Self::Hpf => "CN-CD/GOV/hpf-center/accounts",
            Self::Si => "CN-CD/GOV/hrss/social-insurance",
            Self::Tax => "CN-CD/GOV/tax/income",
            Self::Traffic => "CN-CD/GOV/traffic/vehicles",
            Self::Credit => "CN-CD/FIN/pbccrc/credit",
            Self::Court => "CN-CD/GOV/court/cases",
            Self::AGroup => "CN-CD/COM/a-group/distribution",
        }
    }

    /// Its name in the registry.
    pub fn name_zh(self) -> &'static str {
        match self {
            Self::Identity => "成都市公安局人口信息核验",
            Self::Hpf => "成都住房公积金管理中心",
            Self::Si => "成都市社会保险事业管理局",
            Self::Tax => "国家税务总局成都市税务局",
            Self::Traffic => "成都市公安局交通管理局",
            Self::Credit => "中国人民银行征信中心",
            Self::Court => "成都市中级人民法院",
            Self::AGroup => "A集团经销商管理系统",
        }
    }

    /// Its services.
    fn services(self) -> &'static [ServiceSpec] {
        use ServiceSpec as S;
        const IDENTITY: &[ServiceSpec] = &[S::personal("identity.verify")];
        const HPF: &[ServiceSpec] = &[S::personal("hpf.account"), S::personal("hpf.deposits")];
        const SI: &[ServiceSpec] = &[
            S::personal("si.status"),
            S::personal("si.contributions"),
            S::personal("si.card"),
            // Activating the electronic card is covered by a consent to the card's data.
            S::personal("si.card.activate")
                .not_idempotent()
                .of_kind("si.card"),
            // An employer's own staff list, identified by masked names and ids only.
            S::company("si.employer.staff"),
        ];
        const TAX: &[ServiceSpec] = &[S::personal("tax.income")];
        const TRAFFIC: &[ServiceSpec] = &[
            S::personal("traffic.vehicles"),
            S::personal("traffic.violations"),
            S::personal("traffic.licence"),
            // Reporting a payment concerns the violation record the citizen consented to.
            S::personal("traffic.fine.notify")
                .not_idempotent()
                .of_kind("traffic.violations"),
        ];
        const CREDIT: &[ServiceSpec] = &[S::personal("credit.report")];
        const COURT: &[ServiceSpec] = &[S::personal("court.cases")];
        const A_GROUP: &[ServiceSpec] = &[
            S::personal("enterprise.distributors"),
            S::company("enterprise.orders"),
            S::company("enterprise.payments"),
            // A集团's own figures on its whole network, shared with the bank under its
            // data-sharing agreement: no consent, no subject.
            S::company("enterprise.network"),
            S::company("enterprise.trade"),
            S::company("enterprise.orders.open"),
            // Repeating a payment is safe by `payment_id`, but a client must not resend one
            // on its own after a failure.
            S::company("enterprise.order.pay").not_idempotent(),
        ];
        match self {
            Self::Identity => IDENTITY,
            Self::Hpf => HPF,
            Self::Si => SI,
            Self::Tax => TAX,
            Self::Traffic => TRAFFIC,
            Self::Credit => CREDIT,
            Self::Court => COURT,
            Self::AGroup => A_GROUP,
        }
    }

    /// The codes of its services, e.g. `["hpf.account", "hpf.deposits"]`.
    pub fn service_codes(self) -> impl Iterator<Item = &'static str> {
        self.services().iter().map(|spec| spec.code)
    }

    fn spec(code: &str) -> Option<(Agency, &'static ServiceSpec)> {
        Self::ALL.into_iter().find_map(|agency| {
            agency
                .services()
                .iter()
                .find(|spec| spec.code == code)
                .map(|spec| (agency, spec))
        })
    }

    /// The agency providing the service with this code, e.g. `"hpf.deposits"`.
    pub fn providing(code: &str) -> Option<Agency> {
        Self::spec(code).map(|(agency, _)| agency)
    }

    fn client_id(self) -> ClientId {
        // The identifiers above are fixed literals of the valid form.
        self.subsystem_id()
            .parse()
            .unwrap_or_else(|error| unreachable!("{}: {error:?}", self.subsystem_id()))
    }
}

/// The data kind a consent must list to cover the service with this code: the code itself,
/// except `si.card.activate` (kind `si.card`); `None` for a code no agency serves.
pub fn data_kind(code: &str) -> Option<&'static str> {
    Agency::spec(code).map(|(_, spec)| spec.data_kind())
}

/// The identifier of the service with this code (version `v1`), e.g. `hpf.account` →
/// `CN-CD/GOV/hpf-center/accounts/hpf.account/v1`; `None` for a code no agency serves.
pub fn service_id(code: &str) -> Option<ServiceId> {
    let agency = Agency::providing(code)?;
    format!("{}/{code}/v1", agency.subsystem_id()).parse().ok()
}

/// 32 random bytes that make a valid SM2 secret key.
fn secret_bytes() -> [u8; 32] {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

/// Keys for `id`, and an impostor's keys: the same encryption key (so it can read what is
/// sent to the agency) but another signing key.
fn keys_and_impostor(id: &ClientId) -> (MemberKeys, MemberKeys) {
    loop {
        let (sign, enc, wrong) = (secret_bytes(), secret_bytes(), secret_bytes());
        // A random 256-bit string is a valid scalar except with probability ~2^-32; draw again.
        if let (Ok(keys), Ok(impostor)) = (
            MemberKeys::from_secret_bytes(id.clone(), &sign, &enc),
            MemberKeys::from_secret_bytes(id.clone(), &wrong, &enc),
        ) {
            return (keys, impostor);
        }
    }
}

struct AgencySetup {
    agency: Agency,
    keys: Arc<MemberKeys>,
    impostor: Arc<MemberKeys>,
}

/// The simulated agencies, configured but not yet listening.
pub struct GovSim {
    config: GovSimConfig,
    platform: ClientId,
    registry: Registry,
    population: Arc<Population>,
    agencies: Vec<AgencySetup>,
    clock: SharedClock,
}

impl std::fmt::Debug for GovSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GovSim")
            .field("config", &self.config)
            .field("platform", &self.platform)
            .finish_non_exhaustive()
    }
}

impl GovSim {
    /// The agencies for `config`, serving `platform` (the bank's subsystem, with its public
    /// keys: it signs the consents and may call every service), timing with `clock`.
    ///
    /// # Errors
    ///
    /// [`GovSimError::Config`] for an invalid configuration.
    pub fn new(
        config: GovSimConfig,
        platform: Subsystem,
        clock: SharedClock,
    ) -> Result<Self, GovSimError> {
        config.validate().map_err(GovSimError::Config)?;
        let population = Arc::new(
            Population::with_distributors(config.seed, config.size, config.distributors)
                .with_residents(config.residents.clone())
                .map_err(|error| GovSimError::Config(error.to_string()))?,
        );
        let agencies: Vec<AgencySetup> = Agency::ALL
            .into_iter()
            .map(|agency| {
                let (keys, impostor) = keys_and_impostor(&agency.client_id());
                AgencySetup {
                    agency,
                    keys: Arc::new(keys),
                    impostor: Arc::new(impostor),
                }
            })
            .collect();
        let timeout = Duration::from_millis(config.service_timeout_ms);
        let platform_id = platform.id.clone();
        let mut builder = Registry::builder().subsystem(platform);
        for setup in &agencies {
            builder = builder.subsystem(setup.keys.subsystem(setup.agency.name_zh(), None));
            for spec in setup.agency.services() {
                let Some(id) = service_id(spec.code) else {
                    continue;
                };
                builder = builder
                    .service(ServiceDef {
                        id: id.clone(),
                        data_kinds: vec![spec.data_kind().to_owned()],
                        idempotent: spec.idempotent,
                        personal_data: spec.personal_data,
                        timeout,
                    })
                    .allow(&platform_id, &id);
            }
        }
        Ok(Self {
            config,
            platform: platform_id,
            registry: builder.build(),
            population,
            agencies,
            clock,
        })
    }

    /// The registry, without base URLs until started.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The population the agencies answer from.
    pub fn population(&self) -> &Arc<Population> {
        &self.population
    }

    /// Binds every agency on `config.bind` with a free port and serves until the returned
    /// handle is shut down or dropped. Must be called within a Tokio runtime.
    ///
    /// # Errors
    ///
    /// [`GovSimError::Bind`] if a port cannot be bound.
    pub async fn start(self) -> Result<RunningGovSim, GovSimError> {
        let mut listeners = Vec::with_capacity(self.agencies.len());
        let mut registry = self.registry;
        let mut addresses = BTreeMap::new();
        for setup in &self.agencies {
            let listener = TcpListener::bind(SocketAddr::new(self.config.bind, 0))
                .await
                .map_err(|source| GovSimError::Bind {
                    agency: setup.agency.key(),
                    source,
                })?;
            let address = listener.local_addr().map_err(|source| GovSimError::Bind {
                agency: setup.agency.key(),
                source,
            })?;
            registry.set_base_url(&setup.keys.id, format!("http://{address}"));
            addresses.insert(setup.agency, address);
            listeners.push(listener);
        }
        let registry = Arc::new(registry);
        let fines = Arc::new(FineLedger::default());
        let cards = Arc::new(CardActivations::default());
        let orders = Arc::new(OrderLedger::default());
        let books_ahead = Arc::new(AtomicU32::new(0));
        let (stop, stopped) = watch::channel(false);
        let timeout = Duration::from_millis(self.config.service_timeout_ms);
        let mut tasks = Vec::with_capacity(listeners.len());
        for (setup, listener) in self.agencies.iter().zip(listeners) {
            // Each agency keeps its own replay window, shared with its impostor twin.
            let nonces: Arc<dyn NonceStore> = Arc::new(MemoryNonceStore::new());
            let handler = Arc::new(AgencyHandler {
                population: Arc::clone(&self.population),
                fines: Arc::clone(&fines),
                cards: Arc::clone(&cards),
                orders: Arc::clone(&orders),
                books_ahead: Arc::clone(&books_ahead),
                clock: Arc::clone(&self.clock),
            });
            let provider = |keys: &Arc<MemberKeys>| {
                provider_router(
                    Arc::new(Provider::new(
                        Arc::clone(&registry),
                        Arc::clone(keys),
                        self.platform.clone(),
                        Arc::clone(&nonces),
                        Arc::clone(&self.clock),
                    )),
                    handler.clone(),
                )
            };
            let door = Arc::new(FrontDoor {
                honest: provider(&setup.keys),
                impostor: provider(&setup.impostor),
                plan: FaultPlan::new(
                    stream_rng(self.config.seed, setup.agency as u64, Stream::Agency),
                    self.config.latency_of(setup.agency),
                    self.config.faults_of(setup.agency),
                    timeout,
                ),
            });
            let app = Router::new().fallback(move |request: Request| {
                let door = Arc::clone(&door);
                async move { door.serve(request).await }
            });
            let mut stopped = stopped.clone();
            tasks.push(tokio::spawn(async move {
                let shutdown = async move {
                    // Ends when told to stop or when the handle is dropped.
                    while stopped.changed().await.is_ok() && !*stopped.borrow() {}
                };
                if let Err(error) = axum::serve(listener, app)
                    .with_graceful_shutdown(shutdown)
                    .await
                {
                    tracing::error!(%error, "govsim agency stopped");
                }
            }));
        }
        Ok(RunningGovSim {
            registry,
            population: self.population,
            addresses,
            fines,
            cards,
            orders,
            books_ahead,
            clock: self.clock,
            stop,
            tasks,
        })
    }
}

/// The front of one agency: draws the request's fault and latency, waits, and hands the
/// request to the honest or the impostor router.
struct FrontDoor {
    honest: Router,
    impostor: Router,
    plan: FaultPlan,
}

impl FrontDoor {
    async fn serve(&self, request: Request) -> Response {
        let (fault, delay) = self.plan.draw();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let router = if fault == Fault::BadSignature {
            self.impostor.clone()
        } else {
            self.honest.clone()
        };
        // The router's error type is `Infallible`.
        match FAULT.scope(fault, router.oneshot(request)).await {
            Ok(response) => response,
            Err(never) => match never {},
        }
    }
}

/// The agencies, listening. Dropping it stops them (in-flight requests are cut short);
/// [`RunningGovSim::shutdown`] lets them finish.
pub struct RunningGovSim {
    registry: Arc<Registry>,
    population: Arc<Population>,
    addresses: BTreeMap<Agency, SocketAddr>,
    fines: Arc<FineLedger>,
    cards: Arc<CardActivations>,
    orders: Arc<OrderLedger>,
    books_ahead: Arc<AtomicU32>,
    clock: SharedClock,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for RunningGovSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningGovSim")
            .field("addresses", &self.addresses)
            .finish_non_exhaustive()
    }
}

impl RunningGovSim {
    /// The registry with every agency's base URL filled in: give it to the platform's
    /// `ExchangeClient`.
    pub fn registry(&self) -> Arc<Registry> {
        Arc::clone(&self.registry)
    }

    /// The population the agencies answer from (the truth, including each person's `pd`).
    pub fn population(&self) -> &Arc<Population> {
        &self.population
    }

    /// Where `agency` listens.
    pub fn address(&self, agency: Agency) -> Option<SocketAddr> {
        self.addresses.get(&agency).copied()
    }

    /// Fines paid through `traffic.fine.notify`.
    pub fn fines(&self) -> &FineLedger {
        &self.fines
    }

    /// Electronic social-security cards activated through `si.card.activate`.
    pub fn card_activations(&self) -> &CardActivations {
        &self.cards
    }

    /// Payments on A集团's purchase orders notified through `enterprise.order.pay`.
    pub fn order_ledger(&self) -> &OrderLedger {
        &self.orders
    }

    /// Moves A集团's books `months` further ahead of the clock (at most
    /// [`MAX_BOOKS_AHEAD`] in all): each month closes as if its end had passed, so the
    /// next requests see the new months and the distributors' standing then.
    pub fn advance_books(&self, months: u32) {
        // `fetch_update` cannot fail with a closure that always returns `Some`.
        let _ = self
            .books_ahead
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |ahead| {
                Some(ahead.saturating_add(months).min(MAX_BOOKS_AHEAD))
            });
    }

    /// How many months [`RunningGovSim::advance_books`] moved A集团's books in all.
    pub fn books_ahead(&self) -> u32 {
        self.books_ahead.load(Ordering::Relaxed)
    }

    /// The last closed month A集团 answers with now (see
    /// [`closed_month`](crate::enterprise::closed_month)).
    pub fn closed_month(&self) -> YearMonth {
        crate::enterprise::closed_month(self.clock.now(), self.books_ahead())
    }

    /// Stops accepting connections and waits for in-flight requests to finish.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        for task in std::mem::take(&mut self.tasks) {
            let _ = task.await;
        }
    }
}

impl Drop for RunningGovSim {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}
