use std::ops::{Deref, DerefMut};
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, Postgres, Sqlite, SqliteConnection, SqlitePool};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::{Result, StoreError};

/// Which database engine a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite file (WAL mode): the default, needs nothing installed.
    Sqlite,
    /// PostgreSQL server: for several stateless instances.
    Postgres,
}

impl Backend {
    /// Lower-case name used in logs, metrics and `/readyz`.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// Tuning knobs for a [`Store`]; the defaults suit a laptop demo and a modest server.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Upper bound of pooled connections.
    pub max_connections: u32,
    /// How long a caller waits for a free connection before the request fails.
    pub acquire_timeout: Duration,
    /// SQLite only: `synchronous=FULL` (fsync at every commit, survives power loss) when true;
    /// `NORMAL` (survives a process crash, may lose the last commits on power loss) when false.
    pub sqlite_durable: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
            sqlite_durable: true,
        }
    }
}

/// The backend's concrete pool; use [`crate::on_pool!`] rather than matching by hand.
#[derive(Clone, Debug)]
pub enum Pool {
    /// SQLite pool.
    Sqlite(SqlitePool),
    /// PostgreSQL pool.
    Postgres(PgPool),
}

/// A handle to the database: cheap to clone, shared by every request.
#[derive(Clone, Debug)]
pub struct Store {
    pool: Pool,
    /// SQLite only: the turn to write, one at a time per process (see
    /// [`begin_write`](Store::begin_write)).
    writer: Arc<Semaphore>,
}

impl Store {
    /// Connects to `url` (`sqlite:PATH`, `sqlite::memory:` is refused because every pooled
    /// connection would see its own empty database; `postgres://…`), without migrating.
    pub async fn connect(url: &str, options: &StoreOptions) -> Result<Store> {
        if let Some(path) = url
            .strip_prefix("sqlite://")
            .or(url.strip_prefix("sqlite:"))
        {
            if path.is_empty() || path.starts_with(":memory:") {
                return Err(StoreError::UnsupportedUrl(format!(
                    "{url} (in-memory SQLite cannot be shared by a pool; use a file)"
                )));
            }
            Self::open_sqlite(Path::new(path), options).await
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Self::connect_postgres(PgConnectOptions::from_str(url)?, options).await
        } else {
            Err(StoreError::UnsupportedUrl(redact_url(url)))
        }
    }

    /// Opens (creating if missing) the SQLite database file at `path` in WAL mode.
    pub async fn open_sqlite(path: &Path, options: &StoreOptions) -> Result<Store> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::DataDir {
                path: dir.display().to_string(),
                source,
            })?;
        }
        let connect = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(if options.sqlite_durable {
                SqliteSynchronous::Full
            } else {
                SqliteSynchronous::Normal
            })
            .foreign_keys(true)
            // Writers queue on SQLite's single write lock instead of failing with SQLITE_BUSY.
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
            .await?;
        Ok(Store {
            pool: Pool::Sqlite(pool),
            writer: Arc::new(Semaphore::new(1)),
        })
    }

    /// Connects to PostgreSQL with explicit options (tests use this to pin a `search_path`).
    pub async fn connect_postgres(
        connect: PgConnectOptions,
        options: &StoreOptions,
    ) -> Result<Store> {
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
            .await?;
        Ok(Store {
            pool: Pool::Postgres(pool),
            writer: Arc::new(Semaphore::new(1)),
        })
    }

    /// The concrete pool, for [`crate::on_pool!`].
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Which engine this store talks to.
    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// Applies every pending migration of this backend; safe to run from several instances at
    /// once (PostgreSQL takes an advisory lock, SQLite its write lock).
    pub async fn migrate(&self) -> Result<()> {
        match &self.pool {
            Pool::Sqlite(pool) => sqlx::migrate!("./migrations/sqlite").run(pool).await?,
            Pool::Postgres(pool) => sqlx::migrate!("./migrations/postgres").run(pool).await?,
        }
        Ok(())
    }

    /// Names of the migrations this binary carries and whether each is applied, in order.
    pub async fn migration_status(&self) -> Result<Vec<(i64, String, bool)>> {
        let migrator = match &self.pool {
            Pool::Sqlite(_) => sqlx::migrate!("./migrations/sqlite"),
            Pool::Postgres(_) => sqlx::migrate!("./migrations/postgres"),
        };
        let applied: Vec<i64> = crate::on_pool!(self, pool => {
            let query = "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version";
            match sqlx::query_scalar::<_, i64>(query).fetch_all(pool).await {
                Ok(versions) => versions,
                // A database that was never migrated has no bookkeeping table: nothing applied.
                Err(sqlx::Error::Database(_)) => Vec::new(),
                Err(e) => return Err(e.into()),
            }
        });
        Ok(migrator
            .iter()
            .map(|m| {
                (
                    m.version,
                    m.description.to_string(),
                    applied.contains(&m.version),
                )
            })
            .collect())
    }

    /// Round trip to the database, for `/readyz`.
    pub async fn ping(&self) -> Result<()> {
        crate::on_pool!(self, pool => {
            sqlx::query("SELECT 1").execute(pool).await?;
        });
        Ok(())
    }

    /// Starts a transaction; dropped without [`Tx::commit`] it rolls back.
    pub async fn begin(&self) -> Result<Tx> {
        Ok(match &self.pool {
            Pool::Sqlite(pool) => Tx::Sqlite(SqliteTx {
                tx: pool.begin().await?,
                _turn: None,
            }),
            Pool::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        })
    }

    /// Starts a transaction that will write. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`): a deferred transaction that reads first and writes later fails with
    /// `SQLITE_BUSY` whenever another connection committed in between. On PostgreSQL it is an
    /// ordinary transaction (take row locks with `SELECT … FOR UPDATE` where needed).
    ///
    /// On SQLite the writers of this process also queue for their turn here, first come first
    /// served, before they take a connection: SQLite has one write lock, and a writer that
    /// finds it taken waits in SQLite's busy handler, which sleeps in steps of up to 100 ms
    /// whatever the lock's holder does. Under load those sleeps left the cores idle while
    /// writers waited (and made the slowest decisions take a second); a queue wakes the next
    /// writer the moment the last one commits. The busy timeout still covers writers of other
    /// processes (the CLI beside a running server).
    pub async fn begin_write(&self) -> Result<Tx> {
        Ok(match &self.pool {
            Pool::Sqlite(pool) => {
                // The semaphore is never closed, so acquiring can only wait.
                let turn = Arc::clone(&self.writer)
                    .acquire_owned()
                    .await
                    .map_err(|_| StoreError::Database(sqlx::Error::PoolClosed))?;
                Tx::Sqlite(SqliteTx {
                    tx: pool.begin_with("BEGIN IMMEDIATE").await?,
                    _turn: Some(turn),
                })
            }
            Pool::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        })
    }

    /// Closes the pool, waiting for checked-out connections to come back.
    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite(pool) => pool.close().await,
            Pool::Postgres(pool) => pool.close().await,
        }
    }
}

/// A database transaction on either backend; use [`crate::on_tx!`] to run queries in it.
#[derive(Debug)]
pub enum Tx {
    /// SQLite transaction.
    Sqlite(SqliteTx),
    /// PostgreSQL transaction.
    Postgres(sqlx::Transaction<'static, Postgres>),
}

impl Tx {
    /// Commits; only after this returns `Ok` is the change (and its outbox events) durable.
    pub async fn commit(self) -> Result<()> {
        match self {
            Tx::Sqlite(tx) => tx.tx.commit().await?,
            Tx::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }

    /// Rolls back explicitly (dropping the transaction does the same, later).
    pub async fn rollback(self) -> Result<()> {
        match self {
            Tx::Sqlite(tx) => tx.tx.rollback().await?,
            Tx::Postgres(tx) => tx.rollback().await?,
        }
        Ok(())
    }
}

/// A SQLite transaction, holding its process's turn to write if it was begun with
/// [`Store::begin_write`]; the turn passes on when it commits, rolls back or is dropped.
#[derive(Debug)]
pub struct SqliteTx {
    tx: sqlx::Transaction<'static, Sqlite>,
    _turn: Option<OwnedSemaphorePermit>,
}

impl Deref for SqliteTx {
    type Target = SqliteConnection;

    fn deref(&self) -> &SqliteConnection {
        &self.tx
    }
}

impl DerefMut for SqliteTx {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.tx
    }
}

/// Drops any password from a URL before it goes into an error message or a log line.
pub(crate) fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}://***@{}", &url[..scheme_end], &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_never_reach_error_messages() {
        assert_eq!(
            redact_url("mysql://bank:s3cret@db.internal/x"),
            "mysql://***@db.internal/x"
        );
        assert_eq!(redact_url("mysql://db/x"), "mysql://db/x");
    }
}
