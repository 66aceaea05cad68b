//! Fresh, isolated, migrated databases for tests, on the backend the environment selects.
//!
//! `BIANMIN_TEST_DATABASE_URL` unset: a SQLite file in a temporary directory per test.
//! Set to `postgres://…`: a new schema per test in that database (the connection's
//! `search_path` is pinned to it), so tests run in parallel without seeing each other. A
//! PostgreSQL URL that cannot be reached fails the test: CI must never skip the backend it was
//! asked to test.

use std::str::FromStr;

use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use tempfile::TempDir;

use crate::{Store, StoreOptions};

/// Environment variable naming the PostgreSQL database that tests should use.
pub const TEST_DATABASE_URL_VAR: &str = "BIANMIN_TEST_DATABASE_URL";

/// A migrated, empty database that lives as long as this value.
#[derive(Debug)]
pub struct TestDb {
    /// The store to test against.
    pub store: Store,
    /// URL another process (e.g. the `bianmin` binary) can use to reach the same database.
    pub url: String,
    _dir: Option<TempDir>,
}

impl TestDb {
    /// Creates the database and applies all migrations; panics with a clear message on failure
    /// because a test cannot proceed without it.
    #[allow(clippy::expect_used)] // test support: failing loudly is the point
    pub async fn new() -> TestDb {
        match std::env::var(TEST_DATABASE_URL_VAR) {
            Ok(url) if !url.trim().is_empty() => Self::postgres(url.trim()).await,
            _ => Self::sqlite().await,
        }
    }

    #[allow(clippy::expect_used)]
    async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        let path = dir.path().join("bianmin.db");
        let options = StoreOptions {
            sqlite_durable: false,
            ..StoreOptions::default()
        };
        let store = Store::open_sqlite(&path, &options)
            .await
            .expect("open the test SQLite database");
        store
            .migrate()
            .await
            .expect("migrate the test SQLite database");
        TestDb {
            store,
            url: format!("sqlite:{}", path.display()),
            _dir: Some(dir),
        }
    }

    #[allow(clippy::expect_used)]
    async fn postgres(url: &str) -> TestDb {
        let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
        let base = PgConnectOptions::from_str(url).expect("parse BIANMIN_TEST_DATABASE_URL");
        let mut admin = PgConnection::connect_with(&base).await.unwrap_or_else(|e| {
            panic!("{TEST_DATABASE_URL_VAR} is set but PostgreSQL is unreachable: {e}")
        });
        // The name is `t_` and 32 hex digits generated here: nothing from outside reaches the SQL.
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&mut admin)
            .await
            .expect("create the test schema");
        admin.close().await.ok();
        let options = StoreOptions {
            max_connections: 8,
            ..StoreOptions::default()
        };
        let store =
            Store::connect_postgres(base.options([("search_path", schema.as_str())]), &options)
                .await
                .expect("connect to the test schema");
        store
            .migrate()
            .await
            .expect("migrate the test PostgreSQL schema");
        let separator = if url.contains('?') { '&' } else { '?' };
        TestDb {
            store,
            url: format!("{url}{separator}options=-csearch_path%3D{schema}"),
            _dir: None,
        }
    }
}
