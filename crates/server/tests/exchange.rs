//! The platform reaches the simulated agencies through the unified access standard, with the
//! simulator inside the server process (as in `bianmin demo`) and as a separate `bianmin govsim`
//! process whose registry file the server loads.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use bianmin_govsim::Population;
use bianmin_govsim::agencies::service_id;
use common::{TestApp, assert_problem, spawn_app, spawn_app_with};
use serde_json::{Value, json};

/// A company-figures call (no personal data, no consent) through the real client.
async fn orders_of_a_distributor(app: &TestApp, population: &Population) -> Value {
    let exchange = app.state.exchange().expect("exchange configured");
    let distributor = &population.group().distributors()[3];
    exchange
        .client
        .call(
            &service_id("enterprise.orders").unwrap(),
            None,
            None,
            json!({ "uscc": distributor.uscc.as_str() }),
        )
        .await
        .unwrap()
}

async fn exchange_view(app: &TestApp) -> Value {
    let operator = app.login("operator-liu").await;
    let response = app.get_as("/api/v1/ops/exchange", &operator).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_reaches_the_simulator_in_process() {
    let app = spawn_app_with(|c| c.exchange.govsim = true).await;
    let view = exchange_view(&app).await;
    assert_eq!(view["simulated"], true);
    let providers = view["providers"].as_array().unwrap();
    assert_eq!(providers.len(), 8, "{view}");
    for p in providers {
        assert_eq!(p["breaker"], "closed");
        assert!(
            p["base_url"]
                .as_str()
                .unwrap()
                .starts_with("http://127.0.0.1:")
        );
        assert!(!p["services"].as_array().unwrap().is_empty());
    }
    let running = app.state.exchange().unwrap().govsim.as_ref().unwrap();
    let orders = orders_of_a_distributor(&app, running.population()).await;
    assert!(
        orders["months"].as_array().is_some_and(|m| !m.is_empty()),
        "{orders}"
    );

    let citizen = app.login("citizen-zhang").await;
    assert_problem(
        app.get_as("/api/v1/ops/exchange", &citizen).await,
        403,
        "auth.forbidden",
    )
    .await;
}

#[tokio::test]
async fn without_agencies_the_exchange_says_it_is_not_configured() {
    let app = spawn_app().await;
    let operator = app.login("operator-liu").await;
    let response = app.get_as("/api/v1/ops/exchange", &operator).await;
    assert_problem(response, 503, "exchange.not_configured").await;
}

struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_reaches_a_separate_govsim_process_through_its_registry() {
    let shared = tempfile::tempdir().unwrap();
    let registry = shared.path().join("registry.toml");
    let _govsim = Child(
        Command::new(env!("CARGO_BIN_EXE_bianmin"))
            .args(["govsim", "--listen", "127.0.0.1", "--data-dir"])
            .arg(shared.path())
            .arg("--registry-out")
            .arg(&registry)
            .env("BIANMIN_LOG", "warn")
            .env_remove("BIANMIN_CONFIG")
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    for _ in 0..200 {
        if registry.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(registry.exists(), "bianmin govsim wrote no registry");

    // The server shares the platform keys (same data dir) and loads the registry file.
    let data_dir = shared.path().to_path_buf();
    let registry_file = registry.clone();
    let app = spawn_app_with(move |c| {
        c.data_dir = data_dir;
        c.exchange.registry_file = Some(registry_file);
    })
    .await;
    let view = exchange_view(&app).await;
    assert_eq!(view["simulated"], false);
    assert_eq!(view["providers"].as_array().unwrap().len(), 8, "{view}");

    let defaults = bianmin_govsim::agencies::GovSimConfig::default();
    let population = Population::new(defaults.seed, defaults.size);
    let orders = orders_of_a_distributor(&app, &population).await;
    assert!(
        orders["months"].as_array().is_some_and(|m| !m.is_empty()),
        "{orders}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_workers_purge_the_message_log_past_its_retention() {
    use bianmin_exchange::{LogRecord, LogSide, MessageLog};

    let db = bianmin_store::testing::TestDb::new().await;
    let data_dir = tempfile::tempdir().unwrap();
    let mut config = bianmin_server::Config {
        data_dir: data_dir.path().to_path_buf(),
        database_url: Some(bianmin_server::config::Secret::new(db.url.clone())),
        ..bianmin_server::Config::default()
    };
    config.exchange.govsim = true;
    config.exchange.log_retention_days = 30;
    let state = bianmin_server::build_default_state(config).await.unwrap();
    let log = std::sync::Arc::clone(&state.exchange().unwrap().log);
    let record = |days_ago: i64| LogRecord {
        message_id: uuid::Uuid::now_v7(),
        side: LogSide::Client,
        client: "CN-CD/COM/bank/bianmin".into(),
        service: "CN-CD/GOV/hpf-center/accounts/hpf.rates/v1".into(),
        consent_id: None,
        request_sm3: "00".repeat(32),
        response_sm3: None,
        started_at: chrono::Utc::now() - chrono::TimeDelta::days(days_ago),
        duration_ms: 5,
        status: None,
        outcome: "exchange.timeout".into(),
    };
    let (old, recent) = (record(31), record(29));
    for r in [&old, &recent] {
        log.record(r).await.unwrap();
    }

    // The workers purge once at start, then once a day.
    let workers = bianmin_server::workers::spawn(state.clone());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !log.records_for(old.message_id).await.unwrap().is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the old record was not purged"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(log.records_for(recent.message_id).await.unwrap().len(), 1);
    for worker in workers {
        worker.abort();
    }
}
