//! The authorisation matrix of the services: every endpoint refuses the unauthenticated and the
//! wrong roles; a citizen's endpoints read only their own data (ids of other people's records
//! answer as unknown); and no endpoint reaches an agency without a live consent.

mod common;

use common::{TestApp, sent_messages, spawn_app_with};
use serde_json::{Value, json};

/// Every citizen data endpoint: method, path, body.
const CITIZEN: &[(&str, &str, Option<&str>)] = &[
    ("GET", "/api/v1/me/consents", None),
    (
        "POST",
        "/api/v1/me/consents",
        Some(r#"{"purpose":"SERVICE_HPF_QUERY"}"#),
    ),
    ("GET", "/api/v1/me/hpf/account", None),
    ("GET", "/api/v1/me/hpf/deposits", None),
    (
        "GET",
        "/api/v1/me/hpf/loan/quota?house_price=1000000.00",
        None,
    ),
    ("GET", "/api/v1/me/hpf/withdrawal", None),
    ("GET", "/api/v1/me/traffic/vehicles", None),
    ("GET", "/api/v1/me/traffic/licence", None),
    ("GET", "/api/v1/me/traffic/violations", None),
    ("GET", "/api/v1/me/traffic/payments", None),
    ("GET", "/api/v1/me/bank-account", None),
    ("GET", "/api/v1/me/sscard", None),
    (
        "POST",
        "/api/v1/me/sscard/activate",
        Some(r#"{"device_id":"phone-0001"}"#),
    ),
    ("GET", "/api/v1/me/sscard/qr?device_id=phone-0001", None),
    ("POST", "/api/v1/me/sscard/revoke", Some("{}")),
    ("GET", "/api/v1/me/sscard/contributions", None),
];

/// The endpoints that fetch from an agency.
const FETCHING: &[(&str, &str, Option<&str>)] = &[
    ("GET", "/api/v1/me/hpf/account", None),
    ("GET", "/api/v1/me/hpf/deposits", None),
    (
        "GET",
        "/api/v1/me/hpf/loan/quota?house_price=1000000.00",
        None,
    ),
    ("GET", "/api/v1/me/hpf/withdrawal", None),
    ("GET", "/api/v1/me/traffic/vehicles", None),
    ("GET", "/api/v1/me/traffic/licence", None),
    ("GET", "/api/v1/me/traffic/violations", None),
    ("GET", "/api/v1/me/sscard", None),
    (
        "POST",
        "/api/v1/me/sscard/activate",
        Some(r#"{"device_id":"phone-0001"}"#),
    ),
    ("GET", "/api/v1/me/sscard/contributions", None),
];

async fn call(
    app: &TestApp,
    token: Option<&str>,
    (method, path, body): (&str, &str, Option<&str>),
) -> (u16, Value) {
    let mut request = match method {
        "POST" => app.client.post(app.url(path)),
        _ => app.client.get(app.url(path)),
    };
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_owned());
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_refuses_strangers_and_the_wrong_roles() {
    let app = spawn_app_with(|c| c.exchange.govsim = true).await;
    for &endpoint in CITIZEN {
        let (status, body) = call(&app, None, endpoint).await;
        assert_eq!(status, 401, "{endpoint:?}: {body}");
        assert_eq!(body["code"], "auth.unauthenticated");
    }
    for persona in [
        "officer-hpf",
        "operator-liu",
        "auditor-sun",
        "admin-zhou",
        "institution-hospital",
    ] {
        let token = app.login(persona).await;
        for &endpoint in CITIZEN {
            let (status, body) = call(&app, Some(&token), endpoint).await;
            assert_eq!(status, 403, "{persona} {endpoint:?}: {body}");
            assert_eq!(body["code"], "auth.forbidden");
        }
    }
    // The institutions' endpoints are theirs, and each only for its kind.
    let zhang = app.login("citizen-zhang").await;
    let verify = (
        "POST",
        "/api/v1/institution/sscard/verify",
        Some(r#"{"code":"x"}"#),
    );
    let staff = ("GET", "/api/v1/institution/staff", None);
    for (persona, verify_status, staff_status) in [
        ("citizen-zhang", 403, 403),
        ("operator-liu", 403, 403),
        ("institution-hospital", 200, 403),
        ("institution-pharmacy", 200, 403),
        ("institution-employer", 403, 200),
    ] {
        let token = if persona == "citizen-zhang" {
            zhang.clone()
        } else {
            app.login(persona).await
        };
        assert_eq!(
            call(&app, Some(&token), verify).await.0,
            verify_status,
            "{persona}"
        );
        assert_eq!(
            call(&app, Some(&token), staff).await.0,
            staff_status,
            "{persona}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_endpoint_reaches_an_agency_without_a_live_consent() {
    let app = spawn_app_with(|c| c.exchange.govsim = true).await;
    let zhang = app.login("citizen-zhang").await;
    for &endpoint in FETCHING {
        let (status, body) = call(&app, Some(&zhang), endpoint).await;
        assert_eq!(status, 403, "{endpoint:?}: {body}");
        assert_eq!(body["code"], "consent.required", "{endpoint:?}");
    }
    assert_eq!(sent_messages(&app).await, 0);

    // With a consent for one service, the others still ask for theirs.
    app.grant(&zhang, "SERVICE_HPF_QUERY").await;
    for &endpoint in &FETCHING[4..] {
        let (status, body) = call(&app, Some(&zhang), endpoint).await;
        assert_eq!(status, 403, "{endpoint:?}: {body}");
        assert_eq!(body["code"], "consent.required", "{endpoint:?}");
    }
    assert_eq!(sent_messages(&app).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizen_never_reads_another_citizens_records() {
    let app = spawn_app_with(|c| c.exchange.govsim = true).await;
    let zhang = app.login("citizen-zhang").await;
    let li = app.login("citizen-li").await;
    // Zhang's records with ids: a consent, a payment.
    let consent = app.grant(&zhang, "SERVICE_TRAFFIC").await;
    let violations: Value = app
        .get_as("/api/v1/me/traffic/violations", &zhang)
        .await
        .json()
        .await
        .unwrap();
    let fine = violations["violations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["status"] == "unpaid")
        .unwrap()
        .clone();
    let receipt: Value = app
        .client
        .post(app.url("/api/v1/me/traffic/payments"))
        .bearer_auth(&zhang)
        .header("Idempotency-Key", "idor-1")
        .json(&json!({ "violation_ids": [fine["id"]], "expected_total": fine["amount_due"] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let payment = receipt["id"].as_str().unwrap().to_owned();

    for (method, path) in [
        ("GET", format!("/api/v1/me/consents/{consent}")),
        ("POST", format!("/api/v1/me/consents/{consent}/revoke")),
        ("POST", format!("/api/v1/me/consents/{consent}/approve")),
        ("GET", format!("/api/v1/me/traffic/payments/{payment}")),
    ] {
        let body = (method == "POST").then_some("{}");
        let (status, answer) = call(&app, Some(&li), (method, &path, body)).await;
        assert_eq!(status, 404, "{method} {path}: {answer}");
        // Answered exactly as an unknown id: nothing of Zhang's in the body.
        assert!(
            ["consent.not_found", "traffic.payment_not_found"]
                .contains(&answer["code"].as_str().unwrap()),
            "{answer}"
        );
        assert!(!answer.to_string().contains("SERVICE_TRAFFIC"), "{answer}");
    }
    // Li paying Zhang's fine by its number: it is not hers.
    app.grant(&li, "SERVICE_TRAFFIC").await;
    let response = app
        .client
        .post(app.url("/api/v1/me/traffic/payments"))
        .bearer_auth(&li)
        .header("Idempotency-Key", "idor-2")
        .json(&json!({ "violation_ids": [fine["id"]], "expected_total": fine["amount_due"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    // Zhang's consent is still active: Li's attempts changed nothing.
    let mine: Value = app
        .get_as(&format!("/api/v1/me/consents/{consent}"), &zhang)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine["state"], "ACTIVE");
}
