//! Storage for Bianmin: one interface over SQLite (the embedded default) and PostgreSQL.
//!
//! [`Store`] owns a connection pool for whichever backend the URL names, applies that backend's
//! migrations (`migrations/sqlite`, `migrations/postgres`), hands out transactions ([`Tx`]) and
//! writes domain events to the outbox inside the caller's transaction, so an event exists exactly
//! when the change it describes was committed. The tamper-evident audit log ([`audit`]) is
//! appended the same way, each entry chained to the last with HMAC-SM3.
//!
//! Queries are written once: SQL that both engines accept (`$1` placeholders, `RETURNING`,
//! `ON CONFLICT`) runs through [`on_pool!`] or [`on_tx!`], which expand the same code once per
//! backend so that each arm is checked by the compiler against that backend's types. This crate
//! holds no business rules: domain crates own their queries and call these building blocks.

#![warn(missing_docs)]

pub mod audit;
mod error;
mod outbox;
mod pool;
#[cfg(feature = "test-support")]
pub mod testing;

pub use audit::{AuditEntry, AuditReport, BrokenEntry, StoredAuditEntry};
pub use error::StoreError;
pub use outbox::{NewEvent, StoredEvent};
pub use pool::{Backend, Pool, SqliteTx, Store, StoreOptions, Tx};

/// Result type of this crate.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Runs `$body` with `$pool` bound to the backend's concrete pool (`&SqlitePool` or `&PgPool`).
///
/// The body is expanded once per backend, so it must compile against both; that is what keeps
/// the two implementations from drifting apart.
#[macro_export]
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match $store.pool() {
            $crate::Pool::Sqlite($pool) => $body,
            $crate::Pool::Postgres($pool) => $body,
        }
    };
}

/// Runs `$body` with `$conn` bound to the transaction's connection (`&mut SqliteConnection` or
/// `&mut PgConnection`); `$tx` is a `&mut Tx`.
#[macro_export]
macro_rules! on_tx {
    ($tx:expr, $conn:ident => $body:expr) => {
        match $tx {
            $crate::Tx::Sqlite(tx) => {
                let $conn = &mut **tx;
                $body
            }
            $crate::Tx::Postgres(tx) => {
                let $conn = &mut **tx;
                $body
            }
        }
    };
}
