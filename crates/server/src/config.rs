//! Configuration: defaults that work, overridden by a TOML file, overridden by `BIANMIN_*`
//! environment variables (nested keys with `__`, e.g. `BIANMIN_AUTH__DEV_LOGIN=true`), overridden
//! by command-line flags.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize, Serializer};

/// Environment variables with the `BIANMIN_` prefix that are not configuration keys.
const NOT_CONFIG: &[&str] = &[
    "CONFIG",
    "TEST_DATABASE_URL",
    "REQUIRE_BROWSER",
    "LOG",
    "KEYRING",
    "CHROMEDRIVER",
    "CHROMIUM",
    "TEST_REDIS_URL",
];

/// The whole configuration of one `bianmin` process.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Address the HTTP server listens on.
    pub listen: SocketAddr,
    /// Directory for the SQLite database, generated keys and other local state.
    pub data_dir: PathBuf,
    /// `postgres://…` to use PostgreSQL; unset means SQLite at `<data_dir>/bianmin.db`.
    pub database_url: Option<Secret>,
    /// Database pool settings.
    pub database: DatabaseConfig,
    /// `redis://host:port/db` of the Redis that every instance shares rate limits through;
    /// unset means each instance limits on its own (see `guard`).
    pub redis_url: Option<Secret>,
    /// Rate limits per endpoint class (anti-crawler protection, `docs/security.md`).
    pub guard: GuardConfig,
    /// HTTP limits and timeouts.
    pub http: HttpConfig,
    /// Sign-in settings.
    pub auth: AuthConfig,
    /// Key management.
    pub keys: KeysConfig,
    /// The unified access standard: this platform's identity and how agencies are reached.
    pub exchange: ExchangeConfig,
    /// The simulated agencies (`exchange.govsim = true`, or `bianmin govsim`).
    pub govsim: bianmin_govsim::agencies::GovSimConfig,
    /// 闪电贷 Lightning Loan.
    pub lending: LendingConfig,
    /// 智能客服 AI customer service.
    pub assistant: AssistantConfig,
    /// Logging.
    pub log: LogConfig,
}

/// Rate limits: GCRA quotas per endpoint class, keyed by the signed-in session and the
/// client's address (`docs/security.md`, "Rate limits").
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct GuardConfig {
    /// Limit requests at all. Off only for benchmarks and load tests.
    pub enabled: bool,
    /// Addresses or networks (`10.0.0.0/8`, `192.0.2.7`) of the reverse proxies and load
    /// balancers in front of the server. Only a request arriving from one of them has its
    /// `X-Forwarded-For` read; empty means the TCP peer is the client.
    pub trusted_proxies: Vec<String>,
    /// Prefix of the rate-limit keys in Redis; every instance sharing budgets must use the same.
    pub redis_prefix: String,
    /// Sign-in (`/api/v1/auth/dev-login`, `/api/v1/auth/assertion`, `/api/v1/auth/otp/send`,
    /// `/api/v1/auth/otp/verify`).
    pub login: ClassLimits,
    /// A citizen's own data (`/api/v1/me/…`), which is what a scraper of personal data wants.
    pub query: ClassLimits,
    /// Requests that move money: fine payments, loan draws and repayments.
    pub pay: ClassLimits,
    /// Every other `/api/` request (the assistant, calculators, consoles, unknown paths).
    pub public: ClassLimits,
    /// Per device key, for requests signed by one (`docs/sdk.md`, "Signed requests"):
    /// `query` and `pay` requests together.
    pub per_device: Option<LimitSetting>,
    /// Whether a citizen's requests under `/api/v1/me/` must be signed by an enrolled device
    /// key: `required` (the default), `optional` (signatures that come are checked, unsigned
    /// requests pass) or `off` (signature headers are ignored).
    pub signatures: SignatureMode,
    /// Behaviour scoring and its escalations (slow down, challenge, block).
    pub behaviour: BehaviourSettings,
}

/// How the server treats device signatures on citizens' requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignatureMode {
    /// A citizen's `/api/v1/me/` requests must carry a valid signature.
    Required,
    /// Signatures that come are checked; unsigned requests pass (and count as unsigned in
    /// behaviour scoring).
    Optional,
    /// Signature headers are ignored.
    Off,
}

/// Behaviour scoring (`docs/security.md`, "Behaviour scoring").
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct BehaviourSettings {
    /// Score requests and escalate; off only for load tests.
    pub enabled: bool,
    /// Leading zero bits of the proof-of-work challenges (1–32; default 16).
    pub challenge_difficulty: u8,
    /// Days an escalation record is kept for the console (default 90).
    pub retention_days: u32,
}

impl Default for BehaviourSettings {
    fn default() -> Self {
        BehaviourSettings {
            enabled: true,
            challenge_difficulty: bianmin_guard::DEFAULT_DIFFICULTY_BITS,
            retention_days: 90,
        }
    }
}

/// The limits of one endpoint class; a request must stay within every limit that applies.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ClassLimits {
    /// Per client address (always applies).
    pub per_ip: Option<LimitSetting>,
    /// Per signed-in session (applies when the request carries a genuine session token); for
    /// `login`, per account signing in (a persona, or the bank app's subject).
    pub per_user: Option<LimitSetting>,
}

/// One GCRA quota: `per_minute` requests a minute on average, up to `burst` at once.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct LimitSetting {
    /// Average requests per minute (at least 1).
    pub per_minute: u32,
    /// Requests allowed at once after a quiet spell (at least 1).
    pub burst: u32,
}

impl LimitSetting {
    /// `per_minute` a minute with bursts of `burst`.
    pub const fn new(per_minute: u32, burst: u32) -> LimitSetting {
        LimitSetting { per_minute, burst }
    }
}

impl Default for GuardConfig {
    fn default() -> Self {
        // Sized for people, not programs: a citizen checking their provident fund and fines
        // makes a handful of requests a minute, a page load a few dozen at once. Many citizens
        // share one address behind carrier-grade NAT, hence the generous per-address figures.
        GuardConfig {
            enabled: true,
            trusted_proxies: Vec::new(),
            redis_prefix: "bianmin:rl:".into(),
            login: ClassLimits {
                per_ip: Some(LimitSetting::new(10, 5)),
                per_user: Some(LimitSetting::new(10, 5)),
            },
            query: ClassLimits {
                per_ip: Some(LimitSetting::new(120, 40)),
                per_user: Some(LimitSetting::new(60, 20)),
            },
            pay: ClassLimits {
                per_ip: Some(LimitSetting::new(30, 10)),
                per_user: Some(LimitSetting::new(10, 5)),
            },
            public: ClassLimits {
                per_ip: Some(LimitSetting::new(300, 100)),
                per_user: None,
            },
            per_device: Some(LimitSetting::new(60, 20)),
            signatures: SignatureMode::Required,
            behaviour: BehaviourSettings::default(),
        }
    }
}

/// 闪电贷 Lightning Loan settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct LendingConfig {
    /// The shortest time, in seconds, between showing the contract and accepting its signature
    /// (the applicant must have had the chance to read it); 0–600.
    pub contract_min_read_seconds: u64,
    /// Days of grace after a monthly statement before an unpaid minimum becomes overdue.
    pub grace_days: u32,
}

impl Default for LendingConfig {
    fn default() -> Self {
        LendingConfig {
            contract_min_read_seconds: 15,
            grace_days: 20,
        }
    }
}

/// 智能客服 AI customer service settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct AssistantConfig {
    /// Minutes after a completed service (a fine paid, a loan approved) before its follow-up
    /// (自动回访) is delivered; 0–10080.
    pub followup_delay_minutes: u32,
    /// Channels follow-ups go out through: `inbox` (in-app) and `sms` (the development sink
    /// `sms_outbox` until an SMS gateway is configured).
    pub followup_channels: Vec<String>,
}

impl Default for AssistantConfig {
    fn default() -> Self {
        AssistantConfig {
            followup_delay_minutes: 60,
            followup_channels: vec!["inbox".to_owned()],
        }
    }
}

/// Database pool settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct DatabaseConfig {
    /// Maximum pooled connections.
    pub max_connections: u32,
    /// SQLite: fsync every commit (`synchronous=FULL`). Turn off only for throw-away data.
    pub sqlite_durable: bool,
}

/// HTTP limits and timeouts.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct HttpConfig {
    /// Largest accepted request body, in bytes.
    pub body_limit_bytes: usize,
    /// A request still running after this many seconds is answered with 503.
    pub request_timeout_secs: u64,
    /// After SIGTERM, in-flight requests get this long to finish.
    pub shutdown_grace_secs: u64,
}

/// Sign-in settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthConfig {
    /// Enables the development identity provider (demo personas). Never enable in production.
    pub dev_login: bool,
    /// Lifetime of a session, in minutes.
    pub session_ttl_minutes: i64,
    /// 32-byte key (64 hex digits) that signs session tokens; every instance behind one load
    /// balancer needs the same. Unset: generated once into `<data_dir>/keys/session.key`.
    pub session_secret: Option<Secret>,
    /// SM2 public key (hex, SEC1) with which the bank app signs identity assertions.
    pub bank_app_public_key: Option<String>,
    /// The `iss` the bank app puts in its assertions.
    pub bank_app_issuer: String,
    /// SM2 signer id (GB/T 32918 `ID_A`) the bank app signs with.
    pub bank_app_signer_id: String,
    /// Oldest accepted assertion, in seconds since its `iat`.
    pub assertion_max_age_secs: i64,
    /// Send the session cookie with `Secure` (HTTPS only). On by default; the demo turns it off
    /// because it serves plain HTTP on localhost.
    pub secure_cookies: bool,
}

/// Key management.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct KeysConfig {
    /// Keyring file (KEK versions, blind-index and audit keys). Unset:
    /// `<data_dir>/keys/keyring.toml`, generated on first start. `BIANMIN_KEYRING` (the file's
    /// TOML content) takes precedence over any file.
    pub keyring_file: Option<PathBuf>,
}

/// How this platform takes part in the unified access standard.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ExchangeConfig {
    /// This platform's subsystem identifier (it signs requests and consents as this).
    pub platform_id: String,
    /// Registry file (the federation's global configuration): agencies, their keys and base
    /// URLs, services and access rights. `bianmin govsim --registry-out` writes one.
    pub registry_file: Option<PathBuf>,
    /// Start the simulated agencies inside this process (on by default in `bianmin demo`).
    pub govsim: bool,
    /// Keep agencies' answers in memory for the consent's data life, so that showing them
    /// again sends nothing and uses nothing of the consent's frequency (on by default; off
    /// to measure or debug every fetch).
    pub response_cache: bool,
    /// How many fetches a day a service consent allows (the platform's terms for the
    /// `SERVICE_*` purposes; 1–1000).
    pub consent_uses_per_day: u32,
    /// Days the message log keeps a record (`docs/exchange-protocol.md` §8); older ones are
    /// purged once a day (1–3650).
    pub log_retention_days: u32,
}

impl Default for ExchangeConfig {
    fn default() -> Self {
        ExchangeConfig {
            platform_id: "CN-CD/COM/bank/bianmin".into(),
            registry_file: None,
            govsim: false,
            response_cache: true,
            consent_uses_per_day: 50,
            log_retention_days: 180,
        }
    }
}

/// Logging.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct LogConfig {
    /// `json` (one object per line, for collectors) or `pretty` (for people).
    pub format: LogFormat,
    /// `tracing` filter, e.g. `info` or `bianmin_server=debug,info`.
    pub filter: String,
}

/// Log output format.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable lines.
    Pretty,
}

/// A configuration value that must never be printed: `Debug` and `Serialize` show `********`.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value (for code that builds a `Config` directly).
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("********")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("********")
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            database: DatabaseConfig::default(),
            redis_url: None,
            guard: GuardConfig::default(),
            http: HttpConfig::default(),
            auth: AuthConfig::default(),
            keys: KeysConfig::default(),
            exchange: ExchangeConfig::default(),
            govsim: bianmin_govsim::agencies::GovSimConfig::default(),
            lending: LendingConfig::default(),
            assistant: AssistantConfig::default(),
            log: LogConfig::default(),
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            max_connections: 16,
            sqlite_durable: true,
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            body_limit_bytes: 1024 * 1024,
            request_timeout_secs: 30,
            shutdown_grace_secs: 30,
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            dev_login: false,
            session_ttl_minutes: 8 * 60,
            session_secret: None,
            bank_app_public_key: None,
            bank_app_issuer: "bank-app".into(),
            bank_app_signer_id: bianmin_crypto::DEFAULT_SM2_USER_ID.into(),
            assertion_max_age_secs: 300,
            secure_cookies: true,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::Json,
            filter: "info".into(),
        }
    }
}

impl Config {
    /// Loads defaults, then `file` (or `./bianmin.toml` if it exists), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Config, Box<figment::Error>> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(path) => figment = figment.merge(Toml::file_exact(path)),
            None => figment = figment.merge(Toml::file("bianmin.toml")),
        }
        figment
            .merge(Env::prefixed("BIANMIN_").ignore(NOT_CONFIG).split("__"))
            .extract()
            .map_err(Box::new)
    }

    /// The database URL in force: the configured one, or the SQLite file in the data directory.
    pub fn effective_database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.expose().to_string(),
            None => format!("sqlite:{}", self.data_dir.join("bianmin.db").display()),
        }
    }

    /// The configuration as TOML with every secret replaced by `********`.
    pub fn to_masked_toml(&self) -> Result<String, toml::ser::Error> {
        toml::to_string_pretty(self)
    }
}
