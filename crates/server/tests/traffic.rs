//! 交通罚没 over HTTP against the simulated 交管局: fines under consent, paying exactly once
//! whatever the retries and races, a signed receipt, the agency notified in the background,
//! and nobody else's payments.

mod common;

use bianmin_crypto::Sm2VerifyingKey;
use common::{TestApp, assert_problem, spawn_app_with};
use serde_json::{Value, json};

async fn app() -> TestApp {
    spawn_app_with(|c| c.exchange.govsim = true).await
}

async fn consent_to_traffic(app: &TestApp, token: &str) {
    app.grant(token, "SERVICE_TRAFFIC").await;
}

async fn pay(app: &TestApp, token: &str, key: Option<&str>, body: &Value) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url("/api/v1/me/traffic/payments"))
        .bearer_auth(token)
        .json(body);
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    request.send().await.unwrap()
}

async fn balance(app: &TestApp, token: &str) -> String {
    let account: Value = app
        .get_as("/api/v1/me/bank-account", token)
        .await
        .json()
        .await
        .unwrap();
    account["balance"].as_str().unwrap().to_owned()
}

/// Zhang's first unpaid fine: (number, amount due).
async fn unpaid_fine(app: &TestApp, token: &str) -> (String, String) {
    let response = app.get_as("/api/v1/me/traffic/violations", token).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let fine = body["violations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["status"] == "unpaid")
        .expect("the persona has an unpaid fine");
    assert!(fine["plate"].as_str().unwrap().contains('*'), "{fine}");
    (
        fine["id"].as_str().unwrap().to_owned(),
        fine["amount_due"].as_str().unwrap().to_owned(),
    )
}

fn cents(text: &str) -> i64 {
    let (yuan, fen) = text.split_once('.').unwrap();
    yuan.parse::<i64>().unwrap() * 100 + fen.parse::<i64>().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fine_is_paid_once_with_a_signed_receipt_and_the_traffic_police_are_told() {
    let app = app().await;
    let zhang = app.login("citizen-zhang").await;
    assert_problem(
        app.get_as("/api/v1/me/traffic/violations", &zhang).await,
        403,
        "consent.required",
    )
    .await;
    consent_to_traffic(&app, &zhang).await;
    let (fine, due) = unpaid_fine(&app, &zhang).await;
    let before = balance(&app, &zhang).await;
    let body = json!({ "violation_ids": [fine], "expected_total": due });

    let response = pay(&app, &zhang, Some("tap-1"), &body).await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let receipt: Value = response.json().await.unwrap();
    assert_eq!(receipt["amount"], due.as_str());
    assert_eq!(receipt["replayed"], false);
    assert_eq!(
        cents(&balance(&app, &zhang).await),
        cents(&before) - cents(&due)
    );

    // The receipt is signed by the platform over its canonical text.
    let key: Sm2VerifyingKey = app.state.platform_keys().sign.verifying_key();
    let signature = hex::decode(receipt["signature"].as_str().unwrap()).unwrap();
    key.verify(
        receipt["signer"].as_str().unwrap(),
        receipt["receipt_text"].as_str().unwrap().as_bytes(),
        &signature,
    )
    .expect("receipt signature verifies");

    // A retry with the same key: the same payment, no second debit.
    let again = pay(&app, &zhang, Some("tap-1"), &body).await;
    assert_eq!(again.status(), 200);
    let replay: Value = again.json().await.unwrap();
    assert_eq!(replay["replayed"], true);
    assert_eq!(replay["receipt_no"], receipt["receipt_no"]);
    assert_eq!(
        cents(&balance(&app, &zhang).await),
        cents(&before) - cents(&due)
    );

    // The same key for something else is refused; another key for the same fine too.
    assert_problem(
        pay(
            &app,
            &zhang,
            Some("tap-1"),
            &json!({ "violation_ids": [fine], "expected_total": "1.00" }),
        )
        .await,
        422,
        "idempotency.key_reused",
    )
    .await;
    assert_problem(
        pay(&app, &zhang, Some("tap-2"), &body).await,
        409,
        "traffic.already_paid",
    )
    .await;

    // The list shows it paid at once; the 交管局 acknowledges it in the background.
    let list: Value = app
        .get_as("/api/v1/me/traffic/violations", &zhang)
        .await
        .json()
        .await
        .unwrap();
    let listed = list["violations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == fine.as_str())
        .unwrap();
    assert_eq!(listed["status"], "paid");
    let id = receipt["id"].as_str().unwrap();
    let mut state = String::new();
    for _ in 0..100 {
        let current: Value = app
            .get_as(&format!("/api/v1/me/traffic/payments/{id}"), &zhang)
            .await
            .json()
            .await
            .unwrap();
        state = current["notify_state"].as_str().unwrap().to_owned();
        if state == "acknowledged" {
            assert!(current["fines"][0]["notified_at"].is_string());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(state, "acknowledged");
    let running = app.state.exchange().unwrap().govsim.as_ref().unwrap();
    assert!(running.fines().paid_on(&fine).is_some());

    // Nobody else sees it.
    let li = app.login("citizen-li").await;
    assert_problem(
        app.get_as(&format!("/api/v1/me/traffic/payments/{id}"), &li)
            .await,
        404,
        "traffic.payment_not_found",
    )
    .await;
    let theirs: Value = app
        .get_as("/api/v1/me/traffic/payments", &li)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(theirs["items"].as_array().unwrap().len(), 0);

    // The uses are events for the cockpit, without personal data.
    let events = app.db.store.events_after(0, 1_000).await.unwrap();
    let paid = events
        .iter()
        .find(|e| e.kind == "service.used" && e.payload["service"] == "traffic.pay")
        .expect("a service.used event for the payment");
    assert_eq!(paid.payload["outcome"], "ok");
    assert_eq!(paid.payload["department"], "traffic");
    assert_eq!(paid.payload["district"], "510104");
    assert!(!paid.payload.to_string().contains("510104198803120039"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_duplicates_pay_exactly_once() {
    let app = app().await;
    let zhang = app.login("citizen-zhang").await;
    consent_to_traffic(&app, &zhang).await;
    let (fine, due) = unpaid_fine(&app, &zhang).await;
    let before = balance(&app, &zhang).await;
    let body = json!({ "violation_ids": [fine], "expected_total": due });
    // Half with one key (double taps), half with another (a second tab), all at once.
    let mut set = tokio::task::JoinSet::new();
    for i in 0..50 {
        let key = if i % 2 == 0 { "tab-a" } else { "tab-b" };
        let request = app
            .client
            .post(app.url("/api/v1/me/traffic/payments"))
            .bearer_auth(&zhang)
            .header("Idempotency-Key", key)
            .json(&body);
        set.spawn(async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            if status >= 500 {
                eprintln!("{status}: {}", response.text().await.unwrap());
            }
            status
        });
    }
    let statuses = set.join_all().await;
    let created = statuses.iter().filter(|s| **s == 201).count();
    let replayed = statuses.iter().filter(|s| **s == 200).count();
    let refused = statuses.iter().filter(|s| **s == 409).count();
    assert_eq!(created, 1, "{statuses:?}");
    assert_eq!(created + replayed + refused, 50, "{statuses:?}");
    assert_eq!(
        cents(&balance(&app, &zhang).await),
        cents(&before) - cents(&due)
    );
    let payments: Value = app
        .get_as("/api/v1/me/traffic/payments", &zhang)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(payments["items"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_payment_requests_get_clear_errors_and_move_no_money() {
    let app = app().await;
    let zhang = app.login("citizen-zhang").await;
    consent_to_traffic(&app, &zhang).await;
    let (fine, due) = unpaid_fine(&app, &zhang).await;
    let before = balance(&app, &zhang).await;
    let good = json!({ "violation_ids": [fine], "expected_total": due });

    assert_problem(
        pay(&app, &zhang, None, &good).await,
        400,
        "idempotency.key_required",
    )
    .await;
    assert_problem(
        pay(&app, &zhang, Some("has space"), &good).await,
        422,
        "traffic.invalid_request",
    )
    .await;
    for ids in [json!([]), json!(["123"]), json!([fine, fine])] {
        assert_problem(
            pay(
                &app,
                &zhang,
                Some("k1"),
                &json!({ "violation_ids": ids, "expected_total": due }),
            )
            .await,
            422,
            "traffic.invalid_request",
        )
        .await;
    }
    for amount in ["abc", "1.234", "-5.00"] {
        let response = pay(
            &app,
            &zhang,
            Some("k2"),
            &json!({ "violation_ids": [fine], "expected_total": amount }),
        )
        .await;
        assert_eq!(response.status(), 422, "{amount}");
    }
    assert_problem(
        pay(
            &app,
            &zhang,
            Some("k3"),
            &json!({ "violation_ids": [fine], "expected_total": "0.01" }),
        )
        .await,
        409,
        "traffic.amount_changed",
    )
    .await;
    assert_problem(
        pay(
            &app,
            &zhang,
            Some("k4"),
            &json!({ "violation_ids": ["00000000000000000000"], "expected_total": "200.00" }),
        )
        .await,
        404,
        "traffic.unknown_fine",
    )
    .await;
    assert_problem(
        pay(
            &app,
            &zhang,
            Some("k5"),
            &json!({ "violation_ids": [fine] }),
        )
        .await,
        422,
        "body.invalid_field",
    )
    .await;
    assert_eq!(balance(&app, &zhang).await, before);
    // A refusal on the facts is the key's answer: the same request with the same key gets it
    // again; the corrected request needs a new key.
    let stale = json!({ "violation_ids": [fine], "expected_total": "0.01" });
    assert_problem(
        pay(&app, &zhang, Some("retry-me"), &stale).await,
        409,
        "traffic.amount_changed",
    )
    .await;
    assert_problem(
        pay(&app, &zhang, Some("retry-me"), &stale).await,
        409,
        "traffic.amount_changed",
    )
    .await;
    assert_problem(
        pay(&app, &zhang, Some("retry-me"), &good).await,
        422,
        "idempotency.key_reused",
    )
    .await;
    assert_eq!(pay(&app, &zhang, Some("fresh"), &good).await.status(), 201);
    for plate in ["川A1234", "ABC", "川A12345678"] {
        assert_problem(
            app.get_as(
                &format!("/api/v1/me/traffic/violations?plate={plate}"),
                &zhang,
            )
            .await,
            422,
            "traffic.invalid_plate",
        )
        .await;
    }
    // His own car by its plate, as he would type it: only its violations.
    let running = app.state.exchange().unwrap().govsim.as_ref().unwrap();
    let zhang_id = bianmin_core::ResidentId::parse("510104198803120039").unwrap();
    let person = running.population().find(&zhang_id).unwrap();
    let plate = &person.traffic.violations[0].plate;
    let own: Value = app
        .get_as(
            &format!("/api/v1/me/traffic/violations?plate={plate}"),
            &zhang,
        )
        .await
        .json()
        .await
        .unwrap();
    let listed = own["violations"].as_array().unwrap();
    assert!(!listed.is_empty(), "{own}");
    let expected = person
        .traffic
        .violations
        .iter()
        .filter(|v| &v.plate == plate)
        .count();
    assert_eq!(listed.len(), expected);
    let none: Value = app
        .get_as("/api/v1/me/traffic/violations?plate=京A00000", &zhang)
        .await
        .json()
        .await
        .unwrap();
    assert!(none["violations"].as_array().unwrap().is_empty());
    assert_problem(
        app.get_as("/api/v1/me/traffic/payments/not-a-uuid", &zhang)
            .await,
        400,
        "path.invalid",
    )
    .await;
}
