//! The platform's side of the unified access standard: its keys, the registry it trusts, the
//! client it calls agencies with, and (in development) the simulated agencies themselves.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use axum::Json;
use axum::extract::State;
use bianmin_core::SharedClock;
use bianmin_exchange::{
    BreakerState, ClientConfig, ClientId, ExchangeClient, MemberKeys, Registry, StoreMessageLog,
};
use bianmin_govsim::Population;
use bianmin_govsim::agencies::{GovSim, RunningGovSim};
use bianmin_store::Store;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::auth::{Principal, Role};
use crate::config::Config;
use crate::http::problem::{ApiError, Problem};

/// Name under which the platform appears in registries.
const PLATFORM_NAME: &str = "便民服务平台";

/// What a running server holds for the exchange.
pub struct Exchange {
    /// This platform's keys (signing requests and consents, decrypting responses).
    pub keys: Arc<MemberKeys>,
    /// The registry in force.
    pub registry: Arc<Registry>,
    /// The client every domain calls agencies through (through the gateway for personal data).
    pub client: Arc<ExchangeClient>,
    /// The client's message log (`exchange_log`), for the retention purge.
    pub log: Arc<StoreMessageLog>,
    /// The simulated agencies when they run in this process; dropping it stops them.
    pub govsim: Option<RunningGovSim>,
}

#[derive(Serialize, Deserialize)]
struct PlatformKeyFile {
    id: String,
    sign: String,
    enc: String,
}

/// Reads `<data_dir>/keys/platform.toml`, creating it (mode 0600) with fresh SM2 keys on first
/// use. Every instance of a deployment needs the same file.
pub fn load_platform_keys(data_dir: &Path, id: &ClientId) -> anyhow::Result<MemberKeys> {
    let path = data_dir.join("keys").join("platform.toml");
    if path.exists() {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let file: PlatformKeyFile =
            toml::from_str(&text).with_context(|| format!("{} is malformed", path.display()))?;
        if file.id != id.to_string() {
            anyhow::bail!(
                "{} holds the keys of {}, not of {id}",
                path.display(),
                file.id
            );
        }
        let sign = hex::decode(&file.sign).context("platform signing key is not hex")?;
        let enc = hex::decode(&file.enc).context("platform encryption key is not hex")?;
        return MemberKeys::from_secret_bytes(id.clone(), &sign, &enc)
            .map_err(|e| anyhow::anyhow!("platform keys in {} are invalid: {e}", path.display()));
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let keys = MemberKeys::generate(id.clone());
    let file = PlatformKeyFile {
        id: id.to_string(),
        sign: hex::encode(keys.sign.secret_bytes().as_slice()),
        enc: hex::encode(keys.enc.secret_bytes().as_slice()),
    };
    crate::keys::write_private(&path, &toml::to_string(&file)?)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(keys)
}

/// Starts the simulated agencies for `keys`' platform. The demo personas who are citizens are
/// added as named residents (unless configured otherwise), so the agencies know them.
pub async fn start_govsim(
    config: &Config,
    keys: &MemberKeys,
    clock: SharedClock,
) -> anyhow::Result<RunningGovSim> {
    let mut simulated = config.govsim.clone();
    let population =
        Population::with_distributors(simulated.seed, simulated.size, simulated.distributors);
    for resident in crate::auth::personas::simulated_residents(&population) {
        if !simulated
            .residents
            .iter()
            .any(|r| r.resident_id == resident.resident_id)
        {
            simulated.residents.push(resident);
        }
    }
    let govsim = GovSim::new(simulated, keys.subsystem(PLATFORM_NAME, None), clock)
        .context("invalid [govsim] configuration")?;
    govsim
        .start()
        .await
        .context("cannot start the simulated agencies")
}

/// The days the message log keeps records: `exchange.log_retention_days`, within 1–3650.
pub fn log_retention_days(config: &Config) -> u32 {
    config.exchange.log_retention_days.clamp(1, 3650)
}

/// The platform's keys for `config` (`exchange.platform_id`, `<data_dir>/keys/platform.toml`).
/// They sign consent artefacts even when no agency is configured.
pub fn platform_keys(config: &Config) -> anyhow::Result<MemberKeys> {
    let platform: ClientId = config
        .exchange
        .platform_id
        .parse()
        .map_err(|e| anyhow::anyhow!("exchange.platform_id is invalid: {e}"))?;
    load_platform_keys(&config.data_dir, &platform)
}

/// Sets up the exchange for this configuration as the platform `keys`: `None` when neither a
/// registry file nor the in-process simulator is configured (services that need agencies then
/// say so).
pub async fn build(
    config: &Config,
    store: &Store,
    clock: SharedClock,
    keys: Arc<MemberKeys>,
) -> anyhow::Result<Option<Exchange>> {
    if config.exchange.registry_file.is_none() && !config.exchange.govsim {
        return Ok(None);
    }
    let platform = keys.id.clone();
    let (registry, govsim) = match &config.exchange.registry_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the registry {}", path.display()))?;
            let registry = Registry::from_toml_str(&text)
                .map_err(|e| anyhow::anyhow!("registry {} is invalid: {e}", path.display()))?;
            (Arc::new(registry), None)
        }
        None => {
            let running = start_govsim(config, &keys, clock.clone()).await?;
            (running.registry(), Some(running))
        }
    };
    if registry.subsystem(&platform).is_none() {
        anyhow::bail!("the registry does not list this platform ({platform})");
    }
    let log = Arc::new(StoreMessageLog::new(
        store.clone(),
        keys.clone(),
        clock.clone(),
    ));
    let client = Arc::new(ExchangeClient::new(
        registry.clone(),
        keys.clone(),
        Arc::clone(&log) as Arc<dyn bianmin_exchange::MessageLog>,
        clock,
        ClientConfig {
            cache: config.exchange.response_cache,
            ..ClientConfig::default()
        },
    ));
    Ok(Some(Exchange {
        keys,
        registry,
        client,
        log,
        govsim,
    }))
}

/// One agency as the console shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderView {
    /// Subsystem identifier.
    pub id: String,
    /// Name.
    pub name: String,
    /// Where it is reached.
    pub base_url: Option<String>,
    /// `closed` (calls go through), `open` (failing fast) or `half_open` (probing).
    pub breaker: &'static str,
    /// Services this platform may call there.
    pub services: Vec<String>,
}

/// The exchange as the console shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExchangeView {
    /// This platform's identifier.
    pub platform: String,
    /// Whether the agencies are simulated in this process.
    pub simulated: bool,
    /// Every agency with a service this platform may call.
    pub providers: Vec<ProviderView>,
}

/// Agencies reachable through the unified access standard, with circuit-breaker states
/// (bank operator, auditor, admin).
#[utoipa::path(get, path = "/api/v1/ops/exchange", tag = "ops",
    responses((status = 200, body = ExchangeView), (status = 403, body = Problem), (status = 503, body = Problem)))]
pub async fn overview(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<ExchangeView>, ApiError> {
    principal.require(&[Role::BankOperator, Role::Auditor, Role::Admin])?;
    let exchange = state
        .exchange()
        .ok_or_else(ApiError::exchange_not_configured)?;
    let platform = &exchange.keys.id;
    let providers = exchange
        .registry
        .subsystems()
        .filter(|s| &s.id != platform)
        .map(|s| ProviderView {
            id: s.id.to_string(),
            name: s.name.clone(),
            base_url: s.base_url.clone(),
            breaker: match exchange.client.breaker_state(&s.id) {
                BreakerState::Closed => "closed",
                BreakerState::Open => "open",
                BreakerState::HalfOpen => "half_open",
            },
            services: exchange
                .registry
                .services()
                .filter(|d| d.id.provider == s.id && exchange.registry.is_allowed(platform, &d.id))
                .map(|d| d.id.to_string())
                .collect(),
        })
        .collect();
    Ok(Json(ExchangeView {
        platform: platform.to_string(),
        simulated: exchange.govsim.is_some(),
        providers,
    }))
}
