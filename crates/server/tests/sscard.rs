//! 电子社保卡 over HTTP: the card under consent, activation bound to a device, a dynamic QR code
//! that a hospital verifies (valid, expired, forged, revoked), contributions per insurance.

mod common;

use common::{TestApp, assert_problem, spawn_app_with};
use serde_json::{Value, json};

async fn consented(app: &TestApp, persona: &str) -> String {
    let token = app.login(persona).await;
    app.grant(&token, "SERVICE_SSCARD").await;
    token
}

async fn qr(app: &TestApp, token: &str, device: &str) -> reqwest::Response {
    app.get_as(&format!("/api/v1/me/sscard/qr?device_id={device}"), token)
        .await
}

async fn scan(app: &TestApp, token: &str, code: &str) -> Value {
    let response = app
        .post_as(
            "/api/v1/institution/sscard/verify",
            token,
            &json!({ "code": code }),
        )
        .await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hospital_verifies_the_code_of_the_bound_device_and_nothing_else() {
    let app = spawn_app_with(|c| c.exchange.govsim = true).await;
    let zhang = consented(&app, "citizen-zhang").await;
    let card: Value = app
        .get_as("/api/v1/me/sscard", &zhang)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(card["status"], "active", "{card}");
    assert_eq!(card["bound"], false);
    assert!(card["card_number"].as_str().unwrap().starts_with("*****"));

    // No QR code before activation.
    assert_problem(
        qr(&app, &zhang, "phone-zhang-001").await,
        409,
        "sscard.not_activated",
    )
    .await;
    let activated = app
        .post_as(
            "/api/v1/me/sscard/activate",
            &zhang,
            &json!({ "device_id": "phone-zhang-001" }),
        )
        .await;
    assert_eq!(activated.status(), 200);
    let code: Value = qr(&app, &zhang, "phone-zhang-001")
        .await
        .json()
        .await
        .unwrap();
    let text = code["text"].as_str().unwrap().to_owned();
    assert!(text.starts_with("BMSS1."));
    assert!(!text.contains("510104198803120039"));
    // Another phone of his cannot show it.
    assert_problem(
        qr(&app, &zhang, "phone-stolen-9").await,
        409,
        "sscard.other_device",
    )
    .await;

    let hospital = app.login("institution-hospital").await;
    let valid = scan(&app, &hospital, &text).await;
    assert_eq!(valid["result"], "valid", "{valid}");
    assert_eq!(valid["holder_name"], "*伟");

    // A forged code (one character changed) and a screenshot two minutes old.
    let mut forged = text.clone().into_bytes();
    let i = 20;
    forged[i] = if forged[i] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    assert_eq!(scan(&app, &hospital, &forged).await["result"], "forged");
    assert_eq!(
        scan(&app, &hospital, "not a code").await["result"],
        "malformed"
    );
    app.clock.advance(chrono::TimeDelta::seconds(120));
    let hospital = app.login("institution-hospital").await;
    let expired = scan(&app, &hospital, &text).await;
    assert_eq!(expired["result"], "expired");
    assert!(expired["holder_name"].is_null());

    // A fresh code verifies; after the phone is reported lost, it does not.
    let zhang = app.login("citizen-zhang").await;
    let fresh: Value = qr(&app, &zhang, "phone-zhang-001")
        .await
        .json()
        .await
        .unwrap();
    let fresh = fresh["text"].as_str().unwrap().to_owned();
    let pharmacy = app.login("institution-pharmacy").await;
    assert_eq!(scan(&app, &pharmacy, &fresh).await["result"], "valid");
    let revoked = app
        .post_as("/api/v1/me/sscard/revoke", &zhang, &json!({}))
        .await;
    assert_eq!(revoked.status(), 204);
    assert_eq!(scan(&app, &pharmacy, &fresh).await["result"], "revoked");

    // Only hospitals and pharmacies scan; citizens and employers do not.
    let employer = app.login("institution-employer").await;
    assert_problem(
        app.post_as(
            "/api/v1/institution/sscard/verify",
            &employer,
            &json!({ "code": fresh }),
        )
        .await,
        403,
        "auth.forbidden",
    )
    .await;
    assert_problem(
        app.post_as(
            "/api/v1/institution/sscard/verify",
            &zhang,
            &json!({ "code": fresh }),
        )
        .await,
        403,
        "auth.forbidden",
    )
    .await;
    assert_problem(
        app.post_as(
            "/api/v1/me/sscard/activate",
            &zhang,
            &json!({ "device_id": "x" }),
        )
        .await,
        422,
        "sscard.invalid_device",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contributions_are_summed_per_insurance() {
    let app = spawn_app_with(|c| c.exchange.govsim = true).await;
    let zhang = consented(&app, "citizen-zhang").await;
    let response = app.get_as("/api/v1/me/sscard/contributions", &zhang).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let totals = body["totals"].as_array().unwrap();
    assert_eq!(totals.len(), 5);
    assert_eq!(totals[0]["name"], "养老保险");
    assert!(totals[0]["months"].as_u64().unwrap() > 0, "{body}");
    assert!(!body["records"].as_array().unwrap().is_empty());
}
