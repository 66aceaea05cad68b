//! The unified access standard (统一接入标准): how Bianmin and every government or partner
//! system exchange data — one signed, encrypted, consent-bearing protocol over HTTP, specified
//! in `docs/exchange-protocol.md` (the section numbers below are that document's).
//!
//! | piece | what it is |
//! | --- | --- |
//! | [`ClientId`], [`ServiceId`] | identifiers (§1), parsed, never built unchecked |
//! | [`Registry`], [`Subsystem`], [`ServiceDef`] | the federation's global configuration and access rights (§2) |
//! | [`MemberKeys`] | a subsystem's own SM2 signing and encryption keys |
//! | [`ConsentArtefact`], [`SignedConsent`] | the citizen's consent, signed by the platform (§6) |
//! | [`Session`] | keys agreed once per client and provider, then HMAC-SM3 and SM4-GCM per message (§5a) |
//! | [`wire`] | header names, signing strings (§5), the encrypted payload (§4), the problem body (§7) |
//! | [`Provider`], [`provider_router`], [`ServiceHandler`] | the serving side: every check, then the handler, then a signed answer |
//! | [`ExchangeClient`], [`ClientConfig`] | the calling side: local checks, timeouts, retries, breaker, concurrency limit, cache (§9) |
//! | [`NonceStore`] | replay protection: [`MemoryNonceStore`], [`StoreNonceStore`] |
//! | [`MessageLog`] | the signed message log (§8): [`StoreMessageLog`], [`MemoryMessageLog`] |
//!
//! A round trip, both sides in one process:
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use bianmin_core::SystemClock;
//! use bianmin_exchange::*;
//!
//! let registry = Arc::new(Registry::from_toml_str(&std::fs::read_to_string("registry.toml")?)?);
//! let keys = MemberKeys::generate("CN-CD/COM/bank/bianmin".parse()?);
//! let client = ExchangeClient::new(
//!     registry,
//!     keys,
//!     Arc::new(MemoryMessageLog::new()),
//!     Arc::new(SystemClock),
//!     ClientConfig::default(),
//! );
//! let service: ServiceId = "CN-CD/GOV/tax/invoices/tax.rates/v1".parse()?;
//! let rates = client.call(&service, None, None, serde_json::json!({"year": 2026})).await?;
//! # let _ = rates; Ok(()) }
//! ```
//!
//! Architecture invariant: this crate knows no service and no domain — not what a loan, a
//! provident-fund account or a consent ledger is. It moves JSON objects between subsystems and
//! enforces the protocol; which data kinds exist and what their bodies mean belongs to the
//! providers (`govsim`) and the callers (`services`, `lending`). It never sees a revocation:
//! the caller checks its consent ledger before calling.

#![warn(missing_docs)]

mod client;
mod consent;
mod error;
mod id;
mod keys;
mod log;
mod nonce;
mod provider;
mod registry;
mod session;
pub mod wire;

/// Re-exported so implementors of [`ServiceHandler`], [`NonceStore`] and [`MessageLog`] need no
/// dependency of their own.
pub use async_trait::async_trait;

pub use self::client::{BreakerState, ClientConfig, ExchangeClient};
pub use self::consent::{
    ConsentArtefact, Frequency, FrequencyUnit, MAX_CONSENT_HEADER_LEN, SignedConsent,
};
pub use self::error::{ExchangeError, ServiceFailure};
pub use self::id::{ClientId, MEMBER_CLASSES, ServiceId};
pub use self::keys::MemberKeys;
pub use self::log::{
    LogProof, LogRecord, LogSeal, LogSide, LogVerification, MAX_LISTED_PROBLEMS, MAX_LOG_BATCH,
    MemoryMessageLog, MessageLog, SignedLogRecord, StoreMessageLog,
};
pub use self::nonce::{MemoryNonceStore, NonceStore, StoreNonceStore};
pub use self::provider::{
    AcceptedRequest, PROVIDER_ROUTE, Provider, ServiceHandler, provider_router, providers_router,
};
pub use self::registry::{Registry, RegistryBuilder, ServiceDef, Subsystem, is_credit_kind};
pub use self::session::{
    MAX_SESSIONS_PER_PROVIDER, SESSION_ENCRYPTION_ALG, SESSION_LIFETIME_SECS, SESSION_MAX_MESSAGES,
    SESSION_RENEW_MARGIN_SECS, SESSION_SERVICE_CODE, Session, SessionGrant, SessionHello,
    SessionPayload, session_service,
};
