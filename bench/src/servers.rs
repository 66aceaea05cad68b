//! Servers under test, started inside this process on loopback: the real application, built the
//! way production builds it, and a bare axum server that serves as the baseline.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, anyhow, bail};
use axum::routing::get;
use axum::{Json, Router};
use bianmin_core::SystemClock;
use bianmin_server::AppState;
use bianmin_server::config::{AuthConfig, Config, GuardConfig, Secret, SignatureMode};
use bianmin_store::Backend;
use hyper::StatusCode;
use serde::Serialize;
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::client::Connection;

/// A server task listening on a loopback port until [`RunningServer::stop`].
struct RunningServer {
    address: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl RunningServer {
    /// Binds `127.0.0.1:0` and runs `serve(listener, shutdown)` on its own task.
    async fn start<F, Fut>(serve: F) -> anyhow::Result<RunningServer>
    where
        F: FnOnce(TcpListener, oneshot::Receiver<()>) -> Fut,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let address = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(serve(listener, stopped));
        Ok(RunningServer {
            address,
            stop,
            task,
        })
    }

    /// Asks for a graceful shutdown and waits for it. Close client connections first: a
    /// graceful shutdown waits for open ones.
    async fn stop(self) -> anyhow::Result<()> {
        // The server may already have stopped on its own; its result is reported below.
        let _ = self.stop.send(());
        self.task.await.context("the server task panicked")?
    }
}

/// The baseline: axum and nothing else, one route whose handler returns a tiny static JSON
/// document, serialised per request like the application's handlers do.
pub struct BareServer {
    server: RunningServer,
}

/// Body of the bare server's only route.
#[derive(Serialize)]
struct BareAnswer {
    status: &'static str,
}

impl BareServer {
    /// Path of the bare server's only route.
    pub const PATH: &str = "/";

    /// Starts the bare server on a loopback port.
    pub async fn start() -> anyhow::Result<BareServer> {
        let router = Router::new().route(
            Self::PATH,
            get(|| async { Json(BareAnswer { status: "ok" }) }),
        );
        let server = RunningServer::start(|listener, stopped| async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await?;
            Ok(())
        })
        .await?;
        Ok(BareServer { server })
    }

    /// Where it listens.
    pub fn address(&self) -> SocketAddr {
        self.server.address
    }

    /// Stops it.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.server.stop().await
    }
}

/// The whole application with its middleware, database and demo personas, started with
/// `bianmin_server::build_state` and `bianmin_server::serve` like the `bianmin` binary does.
pub struct AppServer {
    server: RunningServer,
    backend: Backend,
    // The state the server runs on, for suites that call the application's functions
    // in-process; dropped after the server, before the data directory.
    state: AppState,
    // Holds the SQLite file and the session key; deleted on drop, after the server stopped.
    _data_dir: TempDir,
}

impl AppServer {
    /// Starts the application on a loopback port with a fresh data directory and either a
    /// SQLite database in it or the database at `database_url`. Development sign-in is on so
    /// that benchmarks can sign in as a demo persona, and the rate limits are off: the load
    /// generator is one address sending thousands of requests a second.
    pub async fn start(database_url: Option<&str>) -> anyhow::Result<AppServer> {
        AppServer::start_with(database_url, |_| {}).await
    }

    /// As [`start`](Self::start), with `configure` applied to the configuration last (e.g. to
    /// start the simulated agencies).
    pub async fn start_with(
        database_url: Option<&str>,
        configure: impl FnOnce(&mut Config),
    ) -> anyhow::Result<AppServer> {
        let data_dir = tempfile::tempdir().context("cannot create a temporary data directory")?;
        // Defaults rather than `Config::load`: a `bianmin.toml` or `BIANMIN_*` variables
        // around the benchmark must not change what is measured.
        let defaults = Config::default();
        let mut config = Config {
            data_dir: data_dir.path().to_path_buf(),
            database_url: database_url.map(Secret::new),
            auth: AuthConfig {
                dev_login: true,
                secure_cookies: false,
                ..defaults.auth
            },
            // The load generators are programs at machine speed with no device keys: no
            // limits, no behaviour scoring, no signatures required (signatures that come are
            // still checked; the `antibot` suite measures their cost).
            guard: GuardConfig {
                enabled: false,
                signatures: SignatureMode::Optional,
                ..defaults.guard
            },
            ..defaults
        };
        configure(&mut config);
        let state = bianmin_server::build_state(config, Arc::new(SystemClock))
            .await
            .context("cannot build the application")?;
        let backend = state.store().backend();
        let shared = state.clone();
        let server = RunningServer::start(|listener, stopped| {
            bianmin_server::serve(listener, state, async {
                let _ = stopped.await;
            })
        })
        .await?;
        Ok(AppServer {
            server,
            backend,
            state: shared,
            _data_dir: data_dir,
        })
    }

    /// Where it listens.
    pub fn address(&self) -> SocketAddr {
        self.server.address
    }

    /// The database engine it runs on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The application's state, to call its functions in-process (as its handlers do,
    /// without HTTP).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Signs in as the demo `persona` (e.g. `citizen-zhang`) and returns the bearer token.
    pub async fn sign_in(&self, persona: &str) -> anyhow::Result<String> {
        let mut connection = Connection::open(self.address()).await?;
        let request = connection.post_json(
            "/api/v1/auth/dev-login",
            &serde_json::json!({ "persona": persona }),
        )?;
        let answer = connection.send(request).await?;
        if answer.status != StatusCode::OK {
            bail!(
                "signing in as {persona} answered {}: {}",
                answer.status,
                String::from_utf8_lossy(&answer.body)
            );
        }
        let login: serde_json::Value =
            serde_json::from_slice(&answer.body).context("the sign-in answer is not JSON")?;
        login["token"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("the sign-in answer has no token"))
    }

    /// Stops it (gracefully, like on SIGTERM) and removes its data directory.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.server.stop().await
    }
}
