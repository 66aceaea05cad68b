//! The `bianmin` server: a thin HTTP layer over the domain crates, the embedded web front-ends and
//! the CLI. It parses requests, calls the domain, and maps errors once (to problem+json); it holds
//! no business rules.

#![warn(missing_docs)]

pub mod antibot;
pub mod app;
pub mod assistant;
pub mod audit;
pub mod auth;
pub mod cockpit;
pub mod config;
pub mod consents;
pub mod devices;
pub mod exchange;
pub mod guard;
pub mod hall;
pub mod hpf;
pub mod http;
pub mod insight;
pub mod institution;
pub mod keys;
pub mod lending;
pub mod openapi;
pub mod ops;
pub mod people;
pub mod signing;
pub mod sscard;
pub mod supply;
pub mod traffic;
pub mod usage;
pub mod web;
pub mod workers;

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::Context;
use bianmin_core::{SharedClock, SystemClock};
use bianmin_crypto::Sm2VerifyingKey;
use bianmin_store::{Store, StoreOptions};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;

pub use app::{AppState, router};
pub use config::Config;

/// The process-wide Prometheus recorder (a process has one global metrics recorder, so several
/// servers in one test process share it).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets(&[
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                ])
                .unwrap_or_else(|_| PrometheusBuilder::new());
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            // Another recorder installed first (e.g. by an embedding test) keeps working; ours
            // then only renders what it saw.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// Opens the configured database and applies pending migrations.
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    let options = StoreOptions {
        max_connections: config.database.max_connections,
        sqlite_durable: config.database.sqlite_durable,
        ..StoreOptions::default()
    };
    let store = Store::connect(&config.effective_database_url(), &options)
        .await
        .context("cannot open the database")?;
    store
        .migrate()
        .await
        .context("cannot migrate the database")?;
    Ok(store)
}

/// Builds the application state from configuration: database (migrated), keys, clock.
pub async fn build_state(config: Config, clock: SharedClock) -> anyhow::Result<AppState> {
    let store = open_store(&config).await?;
    assemble_state(config, store, clock).await
}

/// Builds the application state around an already opened, migrated `store` (tests and
/// benchmarks pass their own).
pub async fn assemble_state(
    config: Config,
    store: Store,
    clock: SharedClock,
) -> anyhow::Result<AppState> {
    let session_key = match &config.auth.session_secret {
        Some(secret) => auth::SessionKey::from_hex(secret.expose())?,
        None => auth::SessionKey::load_or_create(&config.data_dir).with_context(|| {
            format!(
                "cannot create the session key in {}",
                config.data_dir.display()
            )
        })?,
    };
    let bank_app_key = match &config.auth.bank_app_public_key {
        Some(hex_key) => Some(Sm2VerifyingKey::from_hex(hex_key).map_err(|e| {
            anyhow::anyhow!("auth.bank_app_public_key is not an SM2 public key: {e}")
        })?),
        None => None,
    };
    let guard = guard::Guard::from_config(&config, &session_key, clock.clone())?;
    let (keyring, _) = keys::load(&config, clock.now())?;
    let dev_login = config.auth.dev_login;
    let platform = std::sync::Arc::new(exchange::platform_keys(&config)?);
    let exchange = exchange::build(&config, &store, clock.clone(), platform.clone()).await?;
    let keys = app::Keys {
        session: session_key,
        bank_app: bank_app_key,
        keyring,
        platform,
    };
    let lending =
        lending::Lending::embedded().context("cannot load the lending policy and model")?;
    let state = AppState::new(
        config,
        store,
        clock,
        keys,
        exchange,
        lending,
        metrics_handle(),
        guard,
    );
    if dev_login {
        auth::personas::seed_all(&state)
            .await
            .context("cannot create the demo personas")?;
    }
    Ok(state)
}

/// Builds the state with the system clock.
pub async fn build_default_state(config: Config) -> anyhow::Result<AppState> {
    build_state(config, std::sync::Arc::new(SystemClock)).await
}

/// Serves `state` on `listener` until `shutdown` resolves, then lets in-flight requests finish
/// (up to `http.shutdown_grace_secs`) and closes the database pool.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let grace = Duration::from_secs(state.config().http.shutdown_grace_secs);
    let store = state.store().clone();
    let workers = workers::spawn(state.clone());
    let state_for_flush = state.clone();
    let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
    let signal = async move {
        shutdown.await;
        tracing::info!("shutdown requested: no new connections, finishing in-flight requests");
        let _ = stopping_tx.send(());
    };
    let server = axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(signal);
    let mut server = tokio::spawn(async move { server.await });
    tokio::select! {
        result = &mut server => result??,
        _ = async {
            let _ = stopping_rx.await;
            tokio::time::sleep(grace).await;
        } => {
            tracing::warn!(seconds = grace.as_secs(), "grace period over: dropping remaining connections");
            server.abort();
        }
    }
    for worker in &workers {
        worker.abort();
    }
    while state_for_flush.flush_usage(500, false).await > 0 {}
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
