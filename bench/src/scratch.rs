//! Scratch databases for the suites that start the application: a temporary SQLite file, or
//! a fresh schema of the `--database-url` PostgreSQL database, dropped at the end.

use anyhow::Context;
use sqlx::Connection as _;
use uuid::Uuid;

use crate::servers::AppServer;

/// Where one measurement's application keeps its data: a temporary SQLite file (the
/// `AppServer`'s own data directory), or a fresh schema of the `--database-url` PostgreSQL
/// database, dropped at the end, so a run leaves nothing behind.
pub struct ScratchDatabase {
    /// The URL the application is started with; `None` is the temporary SQLite.
    pub url: Option<String>,
    /// The PostgreSQL database and the schema created in it.
    postgres: Option<(String, String)>,
}

impl ScratchDatabase {
    /// A scratch database for the suite `suite` (the schema's prefix).
    pub async fn create(
        database_url: Option<&str>,
        suite: &str,
    ) -> anyhow::Result<ScratchDatabase> {
        let Some(base) = database_url else {
            return Ok(ScratchDatabase {
                url: None,
                postgres: None,
            });
        };
        let schema = format!("bench_{suite}_{}", Uuid::new_v4().simple());
        let mut connection = sqlx::PgConnection::connect(base)
            .await
            .context("cannot connect to --database-url")?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&mut connection)
            .await
            .context("cannot create the benchmark's schema")?;
        connection.close().await?;
        let separator = if base.contains('?') { '&' } else { '?' };
        Ok(ScratchDatabase {
            url: Some(format!("{base}{separator}options=-csearch_path%3D{schema}")),
            postgres: Some((base.to_owned(), schema)),
        })
    }

    /// The application, served, on this database.
    pub async fn start(
        &self,
        configure: impl FnOnce(&mut bianmin_server::Config),
    ) -> anyhow::Result<AppServer> {
        AppServer::start_with(self.url.as_deref(), configure).await
    }

    /// Drops the PostgreSQL schema, if any.
    pub async fn remove(self) -> anyhow::Result<()> {
        if let Some((base, schema)) = self.postgres {
            let mut connection = sqlx::PgConnection::connect(&base).await?;
            sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                .execute(&mut connection)
                .await
                .with_context(|| format!("cannot drop the benchmark's schema {schema}"))?;
            connection.close().await?;
        }
        Ok(())
    }
}
