//! 闪电贷 over HTTP against the simulated agencies: apply, the two consents, a decision from
//! data fetched in parallel, the timeline, the contract read for its minimum time and signed
//! with a device key, draws and repayments exactly once whatever the retries, a balanced
//! ledger, human review of a decline, replay, and nobody else's loan.

mod common;

use bianmin_crypto::{DEFAULT_SM2_USER_ID, Sm2SigningKey};
use common::{TestApp, assert_problem, spawn_app_with};
use serde_json::{Value, json};

const ZHANG: &str = "citizen-zhang";

async fn app() -> TestApp {
    spawn_app_with(|c| {
        c.exchange.govsim = true;
        c.lending.contract_min_read_seconds = 10;
    })
    .await
}

fn cents(text: &str) -> i64 {
    let (yuan, fen) = text.split_once('.').unwrap();
    yuan.parse::<i64>().unwrap() * 100 + fen.parse::<i64>().unwrap()
}

async fn apply(app: &TestApp, token: &str, amount: &str, purpose: &str) -> reqwest::Response {
    app.post_as(
        "/api/v1/me/loan/applications",
        token,
        &json!({ "amount": amount, "purpose": purpose }),
    )
    .await
}

async fn submit(app: &TestApp, token: &str, id: &str) -> reqwest::Response {
    app.post_as(
        &format!("/api/v1/me/loan/applications/{id}/submit"),
        token,
        &json!({}),
    )
    .await
}

/// Applies, grants both consents and submits; returns the decided application.
async fn decided(app: &TestApp, token: &str, amount: &str) -> Value {
    let response = apply(app, token, amount, "daily_consumption").await;
    assert_eq!(response.status(), 201);
    let application: Value = response.json().await.unwrap();
    let id = application["id"].as_str().unwrap().to_owned();
    app.grant(token, "LOAN_UNDERWRITING").await;
    app.grant(token, "LOAN_CREDIT_REPORT").await;
    let response = submit(app, token, &id).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn enrol(app: &TestApp, token: &str) -> (Sm2SigningKey, String) {
    let key = Sm2SigningKey::generate();
    let response = app
        .post_as(
            "/api/v1/me/devices",
            token,
            &json!({ "public_key": key.verifying_key().to_hex(), "label": "测试手机" }),
        )
        .await;
    assert_eq!(response.status(), 201);
    let device: Value = response.json().await.unwrap();
    (key, device["id"].as_str().unwrap().to_owned())
}

/// Reads the contract, waits out the reading time, signs; returns the line.
async fn sign(app: &TestApp, token: &str, id: &str) -> Value {
    let response = app
        .get_as(
            &format!("/api/v1/me/loan/applications/{id}/contract"),
            token,
        )
        .await;
    assert_eq!(response.status(), 200);
    let contract: Value = response.json().await.unwrap();
    let sm3 = contract["sm3"].as_str().unwrap().to_owned();
    let (key, device) = enrol(app, token).await;
    let signature = hex::encode(key.sign(DEFAULT_SM2_USER_ID, sm3.as_bytes()));
    app.clock.advance(chrono::Duration::seconds(11));
    let response = app
        .post_as(
            &format!("/api/v1/me/loan/applications/{id}/sign"),
            token,
            &json!({ "contract_sm3": sm3, "device_id": device, "signature": signature }),
        )
        .await;
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

async fn money(
    app: &TestApp,
    token: &str,
    path: &str,
    key: &str,
    body: &Value,
) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn balance(app: &TestApp, token: &str) -> i64 {
    let account: Value = app
        .get_as("/api/v1/me/bank-account", token)
        .await
        .json()
        .await
        .unwrap();
    cents(account["balance"].as_str().unwrap())
}

/// Sums the ledger's postings per account, and in all.
async fn ledger_sums(app: &TestApp) -> (i64, i64) {
    let rows: Vec<(String, i64, i64)> = bianmin_store::on_pool!(&app.db.store, pool => {
        sqlx::query_as(
            "SELECT account, CAST(SUM(debit_fen) AS BIGINT), CAST(SUM(credit_fen) AS BIGINT) \
             FROM ledger_postings GROUP BY account",
        )
        .fetch_all(pool)
        .await
        .unwrap()
    });
    let total: i64 = rows.iter().map(|(_, d, c)| d - c).sum();
    let principal = rows
        .iter()
        .find(|(a, _, _)| a == "principal_receivable")
        .map_or(0, |(_, d, c)| d - c);
    (total, principal)
}

#[tokio::test]
async fn a_citizen_is_approved_signs_draws_and_repays_to_the_fen() {
    let app = app().await;
    let token = app.login(ZHANG).await;

    let overview: Value = app
        .get_as("/api/v1/me/loan", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(overview["product"]["max_limit"], "200000.00");
    assert!(overview["application"].is_null());
    assert!(
        overview["product"]["forbidden_uses"]
            .to_string()
            .contains("购房")
    );

    let response = apply(&app, &token, "20000.00", "daily_consumption").await;
    assert_eq!(response.status(), 201);
    let application: Value = response.json().await.unwrap();
    assert_eq!(application["state"], "awaiting_consent");
    assert_eq!(application["consents"]["government"]["granted"], false);
    let id = application["id"].as_str().unwrap().to_owned();

    // Without the consents nothing is fetched.
    let problem = assert_problem(submit(&app, &token, &id).await, 403, "consent.required").await;
    assert!(problem["detail"].as_str().unwrap().contains("授权"));
    app.grant(&token, "LOAN_UNDERWRITING").await;
    assert_problem(submit(&app, &token, &id).await, 403, "consent.required").await;
    app.grant(&token, "LOAN_CREDIT_REPORT").await;

    // A second application while this one is open is refused.
    assert_problem(
        apply(&app, &token, "5000.00", "travel").await,
        409,
        "loan.application_open",
    )
    .await;

    let response = submit(&app, &token, &id).await;
    assert_eq!(response.status(), 200);
    let decided: Value = response.json().await.unwrap();
    assert_eq!(decided["state"], "approved", "{decided}");
    let offer = &decided["offer"];
    assert!(
        cents(offer["limit"].as_str().unwrap()) >= 100_000,
        "{offer}"
    );
    assert!(cents(offer["limit"].as_str().unwrap()) <= 2_000_000);
    assert!(offer["apr_text"].as_str().unwrap().ends_with('%'));
    assert!(
        offer["daily_rate_text"]
            .as_str()
            .unwrap()
            .starts_with("万分之")
    );
    let steps: Vec<&str> = decided["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    for step in [
        "application",
        "consent",
        "identity",
        "data",
        "crosscheck",
        "policy",
        "score",
        "decision",
    ] {
        assert!(steps.contains(&step), "{step} in {steps:?}");
    }
    assert!(decided["decision_ms"].as_i64().unwrap() >= 0);
    // Submitting again answers with the same decision and fetches nothing more.
    let again: Value = submit(&app, &token, &id).await.json().await.unwrap();
    assert_eq!(again["offer"], decided["offer"]);

    // The contract: too early is refused, a wrong hash is refused, then signed.
    let contract: Value = app
        .get_as(
            &format!("/api/v1/me/loan/applications/{id}/contract"),
            &token,
        )
        .await
        .json()
        .await
        .unwrap();
    let sm3 = contract["sm3"].as_str().unwrap();
    assert!(
        contract["text"]
            .as_str()
            .unwrap()
            .contains(offer["apr_text"].as_str().unwrap())
    );
    assert!(
        !contract["text"]
            .as_str()
            .unwrap()
            .contains("51010419880312003"),
        "resident id is masked"
    );
    let (key, device) = enrol(&app, &token).await;
    let signature = hex::encode(key.sign(DEFAULT_SM2_USER_ID, sm3.as_bytes()));
    let body = json!({ "contract_sm3": sm3, "device_id": device, "signature": signature });
    let path = format!("/api/v1/me/loan/applications/{id}/sign");
    assert_problem(
        app.post_as(&path, &token, &body).await,
        422,
        "loan.read_time",
    )
    .await;
    app.clock.advance(chrono::Duration::seconds(11));
    let wrong =
        json!({ "contract_sm3": "00".repeat(32), "device_id": device, "signature": signature });
    assert_problem(
        app.post_as(&path, &token, &wrong).await,
        409,
        "loan.contract_changed",
    )
    .await;
    let forged = json!({ "contract_sm3": sm3, "device_id": device, "signature": "11".repeat(64) });
    assert_problem(
        app.post_as(&path, &token, &forged).await,
        422,
        "device.bad_signature",
    )
    .await;
    let response = app.post_as(&path, &token, &body).await;
    assert_eq!(response.status(), 201);
    let line: Value = response.json().await.unwrap();
    assert_eq!(line["limit"], offer["limit"]);
    assert_eq!(line["available"], offer["limit"]);
    assert_eq!(line["principal"], "0.00");
    assert_eq!(line["bucket"], "M0");

    // Draw 5,000 twice with one key: one draw.
    let before = balance(&app, &token).await;
    let draw = json!({ "amount": "5000.00" });
    let first = money(
        &app,
        &token,
        "/api/v1/me/loan/line/draws",
        "draw-key-0001",
        &draw,
    )
    .await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let retry = money(
        &app,
        &token,
        "/api/v1/me/loan/line/draws",
        "draw-key-0001",
        &draw,
    )
    .await;
    assert_eq!(retry.status(), 200);
    let retry: Value = retry.json().await.unwrap();
    assert_eq!(retry["transaction"]["id"], first["transaction"]["id"]);
    assert_eq!(balance(&app, &token).await, before + 500_000);
    assert_eq!(first["line"]["principal"], "5000.00");
    // The same key with another amount is refused; no key is refused.
    assert_problem(
        money(
            &app,
            &token,
            "/api/v1/me/loan/line/draws",
            "draw-key-0001",
            &json!({ "amount": "6000.00" }),
        )
        .await,
        409,
        "idempotency.key_reused",
    )
    .await;
    assert_problem(
        app.post_as("/api/v1/me/loan/line/draws", &token, &draw)
            .await,
        400,
        "idempotency.key_required",
    )
    .await;
    // Above the available line.
    assert_problem(
        money(
            &app,
            &token,
            "/api/v1/me/loan/line/draws",
            "draw-key-0002",
            &json!({ "amount": "199999.00" }),
        )
        .await,
        409,
        "loan.over_limit",
    )
    .await;

    // Ten days later: interest is principal × daily rate × 10, to the fen.
    app.clock.advance(chrono::Duration::days(10));
    let token = app.login(ZHANG).await;
    let line: Value = app
        .get_as("/api/v1/me/loan/line", &token)
        .await
        .json()
        .await
        .unwrap();
    let daily: rust_decimal::Decimal = line["daily_rate"].as_str().unwrap().parse().unwrap();
    let expected = (rust_decimal::Decimal::from(5000) * daily * rust_decimal::Decimal::from(10))
        .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    assert_eq!(
        line["interest_due"].as_str().unwrap(),
        expected.to_string(),
        "{line}"
    );
    let payoff = line["payoff_amount"].as_str().unwrap().to_owned();
    assert_eq!(cents(&payoff), 500_000 + cents(&expected.to_string()));

    // Repay part, then everything.
    let part = money(
        &app,
        &token,
        "/api/v1/me/loan/line/repayments",
        "repay-key-0001",
        &json!({ "amount": "1000.00" }),
    )
    .await;
    assert_eq!(part.status(), 201);
    let part: Value = part.json().await.unwrap();
    assert_eq!(
        part["transaction"]["to_interest"].as_str().unwrap(),
        expected.to_string()
    );
    let all = money(
        &app,
        &token,
        "/api/v1/me/loan/line/repayments",
        "repay-key-0002",
        &json!({ "payoff": true }),
    )
    .await;
    assert_eq!(all.status(), 201);
    let all: Value = all.json().await.unwrap();
    assert_eq!(all["line"]["principal"], "0.00");
    assert_eq!(all["line"]["payoff_amount"], "0.00");
    assert_eq!(
        balance(&app, &token).await,
        before + 500_000 - cents(&payoff)
    );
    assert_problem(
        money(
            &app,
            &token,
            "/api/v1/me/loan/line/repayments",
            "repay-key-0003",
            &json!({ "payoff": true }),
        )
        .await,
        409,
        "loan.nothing_owed",
    )
    .await;

    // The ledger balances and principal receivable is back to zero.
    let (total, principal) = ledger_sums(&app).await;
    assert_eq!(total, 0);
    assert_eq!(principal, 0);

    // Another citizen sees none of it.
    let li = app.login("citizen-li").await;
    let theirs: Value = app
        .get_as("/api/v1/me/loan", &li)
        .await
        .json()
        .await
        .unwrap();
    assert!(theirs["application"].is_null());
    assert!(theirs["line"].is_null());
    assert_problem(
        app.get_as(&format!("/api/v1/me/loan/applications/{id}/contract"), &li)
            .await,
        404,
        "not_found",
    )
    .await;

    // The decision replays, for an operator.
    let operator = app.login("operator-liu").await;
    let replay: Value = app
        .get_as(
            &format!("/api/v1/console/loan/applications/{id}/replay"),
            &operator,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(replay["replayed"], true, "{replay}");
    assert_problem(
        app.get_as(
            &format!("/api/v1/console/loan/applications/{id}/replay"),
            &token,
        )
        .await,
        403,
        "auth.forbidden",
    )
    .await;
}

#[tokio::test]
async fn bad_input_is_refused_clearly_and_nothing_is_recorded() {
    let app = app().await;
    let token = app.login(ZHANG).await;
    for amount in ["999.00", "200100.00", "1050.00", "abc", "-5000"] {
        assert_problem(
            apply(&app, &token, amount, "travel").await,
            422,
            "loan.invalid_amount",
        )
        .await;
    }
    let problem = assert_problem(
        apply(&app, &token, "50000.00", "house_purchase").await,
        422,
        "loan.purpose_not_allowed",
    )
    .await;
    assert!(problem["detail"].as_str().unwrap().contains("购房"));
    assert_problem(
        apply(&app, &token, "50000.00", "gambling").await,
        422,
        "loan.purpose_not_allowed",
    )
    .await;
    let overview: Value = app
        .get_as("/api/v1/me/loan", &token)
        .await
        .json()
        .await
        .unwrap();
    assert!(overview["application"].is_null());
    assert_problem(
        app.get_as("/api/v1/me/loan/line", &token).await,
        404,
        "not_found",
    )
    .await;
    // Staff have no 闪电贷.
    let operator = app.login("operator-liu").await;
    assert_problem(
        app.get_as("/api/v1/me/loan", &operator).await,
        403,
        "auth.forbidden",
    )
    .await;
}

#[tokio::test]
async fn a_decline_can_be_reviewed_by_a_person_and_overturned() {
    let app = app().await;
    // Find a persona the model declines.
    let mut declined = None;
    for persona in ["citizen-li", ZHANG] {
        let token = app.login(persona).await;
        let decision = decided(&app, &token, "200000.00").await;
        if decision["state"] == "declined" {
            declined = Some((token, decision));
            break;
        }
    }
    let (token, decision) = declined.expect("a demo persona is declined");
    let id = decision["id"].as_str().unwrap().to_owned();
    assert!(
        !decision["reasons"].as_array().unwrap().is_empty(),
        "{decision}"
    );
    assert!(decision["offer"].is_null());
    assert_problem(
        app.get_as(
            &format!("/api/v1/me/loan/applications/{id}/contract"),
            &token,
        )
        .await,
        409,
        "loan.not_approved",
    )
    .await;

    let path = format!("/api/v1/me/loan/applications/{id}/review");
    assert_problem(
        app.post_as(&path, &token, &json!({ "reason": "" })).await,
        422,
        "loan.invalid_review_reason",
    )
    .await;
    let response = app
        .post_as(
            &path,
            &token,
            &json!({ "reason": "我有稳定的经营收入，请人工核实。" }),
        )
        .await;
    assert_eq!(response.status(), 200);
    let reviewed: Value = response.json().await.unwrap();
    assert_eq!(reviewed["review"]["state"], "pending");
    assert_problem(
        app.post_as(&path, &token, &json!({ "reason": "再次申请" }))
            .await,
        409,
        "loan.review_exists",
    )
    .await;

    let operator = app.login("operator-liu").await;
    let queue: Value = app
        .get_as("/api/v1/console/loan/reviews", &operator)
        .await
        .json()
        .await
        .unwrap();
    let item = queue["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["application_id"] == id.as_str())
        .expect("the review is queued")
        .clone();
    assert_eq!(item["reason"], "我有稳定的经营收入，请人工核实。");
    assert!(
        item["applicant"].as_str().unwrap().contains('*'),
        "masked: {item}"
    );
    assert!(!item["decline_reasons"].as_array().unwrap().is_empty());
    // Citizens cannot see the queue.
    assert_problem(
        app.get_as("/api/v1/console/loan/reviews", &token).await,
        403,
        "auth.forbidden",
    )
    .await;

    let resolve = format!(
        "/api/v1/console/loan/reviews/{}/resolve",
        item["id"].as_str().unwrap()
    );
    if item["overturnable"] == true {
        let response = app
            .post_as(&resolve, &operator, &json!({ "outcome": "overturned", "note": "经营流水核实，改判通过", "limit": "10000.00" }))
            .await;
        assert_eq!(response.status(), 200);
        let application: Value = app
            .get_as("/api/v1/me/loan", &token)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(application["application"]["state"], "approved");
        assert_eq!(application["application"]["offer"]["limit"], "10000.00");
        assert_eq!(application["application"]["review"]["state"], "overturned");
    } else {
        assert_problem(
            app.post_as(
                &resolve,
                &operator,
                &json!({ "outcome": "overturned", "note": "试图改判", "limit": "10000.00" }),
            )
            .await,
            409,
            "loan.review_not_overturnable",
        )
        .await;
        let response = app
            .post_as(
                &resolve,
                &operator,
                &json!({ "outcome": "upheld", "note": "维持原决定：硬性规则未通过" }),
            )
            .await;
        assert_eq!(response.status(), 200);
        let application: Value = app
            .get_as("/api/v1/me/loan", &token)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(application["application"]["review"]["state"], "upheld");
    }
    assert_problem(
        app.post_as(
            &resolve,
            &operator,
            &json!({ "outcome": "upheld", "note": "再次处理" }),
        )
        .await,
        409,
        "loan.review_resolved",
    )
    .await;
}

#[tokio::test]
async fn concurrent_retries_of_a_draw_move_money_once() {
    let app = app().await;
    let token = app.login(ZHANG).await;
    let decision = decided(&app, &token, "20000.00").await;
    assert_eq!(decision["state"], "approved", "{decision}");
    sign(&app, &token, decision["id"].as_str().unwrap()).await;
    let before = balance(&app, &token).await;
    let draw = json!({ "amount": "1234.56" });
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let client = app.client.clone();
        let url = app.url("/api/v1/me/loan/line/draws");
        let (token, draw) = (token.clone(), draw.clone());
        set.spawn(async move {
            client
                .post(url)
                .bearer_auth(token)
                .header("Idempotency-Key", "same-key-123456")
                .json(&draw)
                .send()
                .await
                .unwrap()
        });
    }
    let mut ids = std::collections::HashSet::new();
    while let Some(response) = set.join_next().await {
        let response = response.unwrap();
        assert!(
            response.status() == 201 || response.status() == 200,
            "{}",
            response.status()
        );
        let body: Value = response.json().await.unwrap();
        ids.insert(body["transaction"]["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids.len(), 1);
    assert_eq!(balance(&app, &token).await, before + 123_456);
    let (total, principal) = ledger_sums(&app).await;
    assert_eq!((total, principal), (0, 123_456));
}

#[tokio::test]
async fn a_line_is_re_approved_for_another_year_near_its_expiry() {
    let app = app().await;
    let token = app.login(ZHANG).await;
    let decision = decided(&app, &token, "20000.00").await;
    assert_eq!(decision["state"], "approved", "{decision}");
    let line = sign(&app, &token, decision["id"].as_str().unwrap()).await;
    let expires = line["expires_on"].as_str().unwrap().to_owned();

    // Too early: more than 30 days before expiry.
    assert_problem(
        app.post_as("/api/v1/me/loan/line/renewal", &token, &json!({}))
            .await,
        409,
        "loan.renewal_too_early",
    )
    .await;

    // 340 days on, within the window: the consents have expired, so fresh ones are asked for.
    app.clock.advance(chrono::Duration::days(340));
    let token = app.login(ZHANG).await;
    assert_problem(
        app.post_as("/api/v1/me/loan/line/renewal", &token, &json!({}))
            .await,
        403,
        "consent.required",
    )
    .await;
    // The refused renewal left an application waiting for consent; granting them and
    // renewing again decides it.
    app.grant(&token, "LOAN_UNDERWRITING").await;
    app.grant(&token, "LOAN_CREDIT_REPORT").await;
    let response = app
        .post_as("/api/v1/me/loan/line/renewal", &token, &json!({}))
        .await;
    assert_eq!(response.status(), 200);
    let renewed: Value = response.json().await.unwrap();
    assert_eq!(renewed["application"]["purpose"], "renewal");
    assert_eq!(renewed["application"]["state"], "signed", "{renewed}");
    assert!(renewed["line"]["expires_on"].as_str().unwrap() > expires.as_str());
    assert_eq!(renewed["line"]["status"], "active");
}

#[tokio::test]
async fn the_nightly_accrual_brings_lines_up_to_date_and_keeps_the_ledger_balanced() {
    let app = app().await;
    let token = app.login(ZHANG).await;
    let decision = decided(&app, &token, "20000.00").await;
    sign(&app, &token, decision["id"].as_str().unwrap()).await;
    let draw = json!({ "amount": "8000.00" });
    let response = money(
        &app,
        &token,
        "/api/v1/me/loan/line/draws",
        "nightly-draw-01",
        &draw,
    )
    .await;
    assert_eq!(response.status(), 201);

    // 40 days on: the first statement has closed; the view accrues in memory either way.
    app.clock.advance(chrono::Duration::days(40));
    let token = app.login(ZHANG).await;
    let before: Value = app
        .get_as("/api/v1/me/loan/line", &token)
        .await
        .json()
        .await
        .unwrap();
    let today = app.state.clock().today_china();
    let accrued = bianmin_server::lending::line::accrue_all(&app.state, today, 2)
        .await
        .unwrap();
    assert_eq!(accrued, 1);
    // Done for today: a second run finds nothing.
    let again = bianmin_server::lending::line::accrue_all(&app.state, today, 2)
        .await
        .unwrap();
    assert_eq!(again, 0);
    let stored: (chrono::NaiveDate, i64) = bianmin_store::on_pool!(&app.db.store, pool => {
        sqlx::query_as("SELECT accrued_through, version FROM credit_lines")
            .fetch_one(pool)
            .await
            .unwrap()
    });
    assert_eq!(stored.0, today);
    let after: Value = app
        .get_as("/api/v1/me/loan/line", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(after["interest_due"], before["interest_due"]);
    assert_eq!(after["payoff_amount"], before["payoff_amount"]);
    assert!(
        !after["statements"].as_array().unwrap().is_empty(),
        "{after}"
    );
    let (total, principal) = ledger_sums(&app).await;
    assert_eq!((total, principal), (0, 800_000));
}
