//! Rate limits as a client meets them: 429 `rate_limited` with `Retry-After` once a class's
//! quota is spent, per address and per session, spoofed `X-Forwarded-For` ignored, forwarded
//! addresses believed only from trusted proxies, and one budget shared through Redis by two
//! instances.
//!
//! Quotas here are a few requests a minute, so a test spends them in milliseconds and nothing
//! refills while it runs (one request's allowance takes 10 s to come back).

mod common;

use bianmin_server::Config;
use bianmin_server::config::{LimitSetting, Secret};
use common::{TestApp, assert_problem, spawn_app_with};
use serde_json::{Value, json};

/// Six a minute: one request's allowance comes back after 10 s, longer than any test here.
fn tight(burst: u32) -> Option<LimitSetting> {
    Some(LimitSetting::new(6, burst))
}

async fn get_from(app: &TestApp, path: &str, forwarded_for: Option<&str>) -> reqwest::Response {
    let mut request = app.client.get(app.url(path));
    if let Some(forwarded_for) = forwarded_for {
        request = request.header("x-forwarded-for", forwarded_for);
    }
    request.send().await.unwrap()
}

/// Asserts a 429 `rate_limited` problem whose `Retry-After` is whole seconds within the
/// quota's emission interval and matches the Chinese detail.
async fn assert_rate_limited(response: reqwest::Response) {
    let retry_after: u64 = response
        .headers()
        .get("retry-after")
        .expect("Retry-After on a 429")
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After in whole seconds");
    assert!(
        (1..=10).contains(&retry_after),
        "Retry-After: {retry_after}"
    );
    let body = assert_problem(response, 429, "rate_limited").await;
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains(&format!("请 {retry_after} 秒后再试")),
        "{detail}"
    );
}

#[tokio::test]
async fn a_burst_past_the_public_quota_is_refused_with_retry_after() {
    let app = spawn_app_with(|c| c.guard.public.per_ip = tight(3)).await;
    for _ in 0..3 {
        assert_eq!(
            get_from(&app, "/api/v1/auth/personas", None).await.status(),
            200
        );
    }
    assert_rate_limited(get_from(&app, "/api/v1/auth/personas", None).await).await;
    assert_rate_limited(get_from(&app, "/api/v1/no-such-endpoint", None).await).await;

    // Health checks, metrics and the front-ends are never limited.
    for path in ["/healthz", "/readyz", "/metrics", "/citizen/"] {
        assert_eq!(get_from(&app, path, None).await.status(), 200, "{path}");
    }
    let readiness: Value = get_from(&app, "/readyz", None).await.json().await.unwrap();
    assert_eq!(readiness["rate_limits"], "local");
    let metrics = get_from(&app, "/metrics", None).await.text().await.unwrap();
    assert!(
        metrics
            .lines()
            .any(|line| line.starts_with("rate_limit_verdicts_total")
                && line.contains("class=\"public\"")
                && line.contains("verdict=\"deny\"")),
        "{metrics}"
    );
}

#[tokio::test]
async fn each_signed_in_session_has_its_own_query_budget() {
    let app = spawn_app_with(|c| c.guard.query.per_user = tight(2)).await;
    let zhang = app.login("citizen-zhang").await;
    let li = app.login("citizen-li").await;
    for _ in 0..2 {
        assert_eq!(
            app.get_as("/api/v1/me/consents", &zhang).await.status(),
            200
        );
    }
    assert_rate_limited(app.get_as("/api/v1/me/inbox", &zhang).await).await;
    assert_eq!(
        app.get_as("/api/v1/me/consents", &li).await.status(),
        200,
        "another citizen is not held back by the first one's requests"
    );
    assert_eq!(
        app.get_as("/api/v1/auth/personas", &zhang).await.status(),
        200,
        "other classes keep their own budget"
    );
}

#[tokio::test]
async fn sign_ins_and_payments_are_limited_in_their_own_classes() {
    let app = spawn_app_with(|c| {
        c.guard.login.per_ip = tight(2);
        c.guard.pay.per_user = tight(1);
    })
    .await;
    let zhang = app.login("citizen-zhang").await;
    app.login("citizen-li").await;
    assert_rate_limited(
        app.post_json(
            "/api/v1/auth/dev-login",
            &json!({ "persona": "citizen-wang" }),
        )
        .await,
    )
    .await;

    let pay = json!({ "violation_ids": [], "expected_total": "0.00" });
    let first = app
        .post_as("/api/v1/me/traffic/payments", &zhang, &pay)
        .await;
    assert_ne!(first.status(), 429, "the first payment reaches the handler");
    assert_rate_limited(
        app.post_as("/api/v1/me/traffic/payments", &zhang, &pay)
            .await,
    )
    .await;
    assert_eq!(
        app.get_as("/api/v1/me/traffic/payments", &zhang)
            .await
            .status(),
        503,
        "listing payments is a query, not a payment (503: no agencies in this test)"
    );
}

#[tokio::test]
async fn each_account_has_its_own_sign_in_budget() {
    let app = spawn_app_with(|c| c.guard.login.per_user = tight(2)).await;
    app.login("citizen-zhang").await;
    app.login("citizen-zhang").await;
    assert_rate_limited(
        app.post_json(
            "/api/v1/auth/dev-login",
            &json!({ "persona": "citizen-zhang" }),
        )
        .await,
    )
    .await;
    app.login("citizen-li").await;
}

#[tokio::test]
async fn a_forwarded_for_header_from_an_untrusted_peer_does_not_open_a_new_budget() {
    let app = spawn_app_with(|c| c.guard.public.per_ip = tight(2)).await;
    for _ in 0..2 {
        assert_eq!(
            get_from(&app, "/api/v1/auth/personas", None).await.status(),
            200
        );
    }
    for spoofed in ["198.51.100.7", "198.51.100.8, 198.51.100.9"] {
        assert_rate_limited(get_from(&app, "/api/v1/auth/personas", Some(spoofed)).await).await;
    }
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_budget() {
    let app = spawn_app_with(|c| {
        c.guard.trusted_proxies = vec!["127.0.0.1/32".into()];
        c.guard.public.per_ip = tight(2);
    })
    .await;
    let first = Some("198.51.100.1");
    for _ in 0..2 {
        assert_eq!(
            get_from(&app, "/api/v1/auth/personas", first)
                .await
                .status(),
            200
        );
    }
    assert_rate_limited(get_from(&app, "/api/v1/auth/personas", first).await).await;
    assert_rate_limited(
        get_from(
            &app,
            "/api/v1/auth/personas",
            Some("203.0.113.5, 198.51.100.1"),
        )
        .await,
    )
    .await;
    assert_eq!(
        get_from(&app, "/api/v1/auth/personas", Some("198.51.100.2"))
            .await
            .status(),
        200,
        "another client behind the same proxy has a budget of its own"
    );
}

#[test]
fn an_invalid_trusted_proxy_stops_the_server_at_startup() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let data_dir = tempfile::tempdir().unwrap();
        let mut config = Config {
            data_dir: data_dir.path().to_path_buf(),
            ..Config::default()
        };
        config.guard.trusted_proxies = vec!["10.0.0.0/40".into()];
        let db = bianmin_store::testing::TestDb::new().await;
        let clock = std::sync::Arc::new(bianmin_core::TestClock::at(chrono::Utc::now()));
        let error = bianmin_server::assemble_state(config, db.store.clone(), clock)
            .await
            .err()
            .expect("startup refused");
        assert!(error.to_string().contains("10.0.0.0/40"), "{error}");
    });
}

/// Two instances with the same Redis and the same session secret (from which the limiter's
/// secret is derived) spend one budget between them.
#[tokio::test]
async fn two_instances_sharing_redis_share_one_budget() {
    let Ok(redis_url) = std::env::var("BIANMIN_TEST_REDIS_URL") else {
        eprintln!("BIANMIN_TEST_REDIS_URL is not set: skipping the shared Redis budget test");
        return;
    };
    // A fresh prefix per run, so concurrent runs against one Redis do not share budgets.
    let prefix = format!("bianmin-test:{}:", uuid::Uuid::now_v7());
    let session_secret = hex::encode(bianmin_crypto::random_bytes::<32>());
    let configure = |c: &mut Config| {
        c.redis_url = Some(Secret::new(redis_url.clone()));
        c.auth.session_secret = Some(Secret::new(session_secret.clone()));
        c.guard.redis_prefix = prefix.clone();
        c.guard.public.per_ip = tight(4);
    };
    let one = spawn_app_with(configure).await;
    let two = spawn_app_with(configure).await;
    let readiness: Value = get_from(&one, "/readyz", None).await.json().await.unwrap();
    assert_eq!(readiness["rate_limits"], "redis");

    for app in [&one, &two, &one, &two] {
        assert_eq!(
            get_from(app, "/api/v1/auth/personas", None).await.status(),
            200
        );
    }
    assert_rate_limited(get_from(&one, "/api/v1/auth/personas", None).await).await;
    assert_rate_limited(get_from(&two, "/api/v1/auth/personas", None).await).await;
}
