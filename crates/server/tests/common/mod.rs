//! `spawn_app()`: the real application on a random port over a fresh database (SQLite, or
//! PostgreSQL when `BIANMIN_TEST_DATABASE_URL` is set), driven over HTTP like a client.

#![allow(dead_code)] // each test binary uses a different part of this module

use std::sync::Arc;

use bianmin_core::TestClock;
use bianmin_server::config::LimitSetting;
use bianmin_server::{AppState, Config};
use bianmin_store::testing::TestDb;
use serde_json::{Value, json};
use tempfile::TempDir;

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub clock: TestClock,
    pub db: TestDb,
    pub state: AppState,
    _data_dir: TempDir,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(configure: impl FnOnce(&mut Config)) -> TestApp {
    let data_dir = tempfile::tempdir().unwrap();
    let mut config = Config {
        data_dir: data_dir.path().to_path_buf(),
        ..Config::default()
    };
    config.auth.dev_login = true;
    config.auth.secure_cookies = false;
    // Tests make hundreds of requests a second from 127.0.0.1, far beyond what a person does:
    // every limit is raised out of their way, and tests of the limits set their own.
    let unhindered = Some(LimitSetting::new(600_000, 10_000));
    for class in [
        &mut config.guard.login,
        &mut config.guard.query,
        &mut config.guard.pay,
        &mut config.guard.public,
    ] {
        class.per_ip = unhindered;
        class.per_user = unhindered;
    }
    config.guard.per_device = unhindered;
    // Tests drive the API with reqwest, not a signing app, and fire requests at machine
    // speed: signatures that come are checked but none is required, and behaviour scoring is
    // off. The tests of signing and scoring (tests/antibot.rs) switch them on.
    config.guard.signatures = bianmin_server::config::SignatureMode::Optional;
    config.guard.behaviour.enabled = false;
    configure(&mut config);
    let db = TestDb::new().await;
    let clock = TestClock::at(chrono::Utc::now());
    let state = bianmin_server::assemble_state(config, db.store.clone(), Arc::new(clock.clone()))
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let served = state.clone();
    tokio::spawn(async move {
        bianmin_server::serve(listener, served, async {
            let _ = rx.await;
        })
        .await
        .unwrap();
    });
    TestApp {
        base,
        client: reqwest::Client::new(),
        clock,
        db,
        state,
        _data_dir: data_dir,
        _shutdown: tx,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    pub async fn get_as(&self, path: &str, token: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// POSTs JSON with a bearer token.
    pub async fn post_as(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Asks for a service consent (`SERVICE_HPF_QUERY`, …) as `token` and approves it, as the
    /// consent screen does; returns the consent's id.
    pub async fn grant(&self, token: &str, purpose: &str) -> String {
        let response = self
            .post_as("/api/v1/me/consents", token, &json!({ "purpose": purpose }))
            .await;
        assert_eq!(response.status(), 201, "asking for {purpose}");
        let pending: Value = response.json().await.unwrap();
        let id = pending["id"].as_str().unwrap().to_owned();
        let response = self
            .post_as(
                &format!("/api/v1/me/consents/{id}/approve"),
                token,
                &json!({}),
            )
            .await;
        assert_eq!(response.status(), 200, "approving {purpose}");
        id
    }

    /// Pays the citizen's first unpaid fine (they must have consented to SERVICE_TRAFFIC) with
    /// `key` as the Idempotency-Key; returns the receipt.
    #[allow(dead_code)]
    pub async fn pay_first_unpaid_fine(&self, token: &str, key: &str) -> Value {
        let violations: Value = self
            .get_as("/api/v1/me/traffic/violations", token)
            .await
            .json()
            .await
            .unwrap();
        let fine = violations["violations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["status"] == "unpaid")
            .expect("an unpaid fine")
            .clone();
        let response = self
            .client
            .post(self.url("/api/v1/me/traffic/payments"))
            .bearer_auth(token)
            .header("Idempotency-Key", key)
            .json(&json!({ "violation_ids": [fine["id"]], "expected_total": fine["amount_due"] }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "paying {}", fine["id"]);
        response.json().await.unwrap()
    }

    /// Signs in as a demo persona and returns the bearer token.
    pub async fn login(&self, persona: &str) -> String {
        let response = self
            .post_json("/api/v1/auth/dev-login", &json!({ "persona": persona }))
            .await;
        assert_eq!(response.status(), 200, "login as {persona}");
        let body: Value = response.json().await.unwrap();
        body["token"].as_str().unwrap().to_string()
    }
}

/// Asserts a problem+json response with `status` and `code`, returning its body.
pub async fn assert_problem(response: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status().as_u16(), status, "status");
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    assert_eq!(content_type, "application/problem+json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], status);
    assert_eq!(body["code"], code, "{body}");
    assert!(!body["detail"].as_str().unwrap().is_empty());
    assert!(
        !body["request_id"].as_str().unwrap_or_default().is_empty(),
        "{body}"
    );
    body
}

/// Messages the platform has sent to agencies: client-side log rows, session handshakes
/// (exchange protocol §5a) apart.
pub async fn sent_messages(app: &TestApp) -> i64 {
    bianmin_store::on_pool!(&app.db.store, pool => {
        sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM exchange_log WHERE side = 'client' \
             AND service NOT LIKE '%/exchange.session/%'",
        )
        .fetch_one(pool)
        .await
        .unwrap()
    })
}
