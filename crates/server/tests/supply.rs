//! 供应链融资 over HTTP against the simulated A集团: the bank onboards the core enterprise, the
//! enterprise signs its data-sharing agreement, every distributor is pre-approved from data
//! pulled through the exchange; a distributor's owner accepts in one step, draws to pay an
//! order of A集团 directly (受托支付) and repays by hand and from a share of sales receipts,
//! exactly once whatever the retries, on a balanced ledger; a distributor whose business slips
//! has its line frozen with the reason shown; nobody sees or moves another's line.

mod common;

use bianmin_govsim::agencies::Agency;
use common::{TestApp, assert_problem, spawn_app_with};
use rust_decimal::Decimal;
use serde_json::{Value, json};

const CHEN: &str = "enterprise-chen";
const ZHAO: &str = "enterprise-zhao";
const A_GROUP_USCC: &str = "91510100MA62Q8TY3B";

async fn app() -> TestApp {
    spawn_app_with(|c| c.exchange.govsim = true).await
}

fn cents(text: &str) -> i64 {
    let (yuan, fen) = text.split_once('.').unwrap();
    let sign = if yuan.starts_with('-') { -1 } else { 1 };
    yuan.parse::<i64>().unwrap() * 100 + sign * fen.parse::<i64>().unwrap()
}

/// Fen as the API writes yuan: `123456` → `"1234.56"`.
fn yuan(fen: i64) -> String {
    format!("{}.{:02}", fen / 100, fen % 100)
}

async fn json_of(response: reqwest::Response, status: u16) -> Value {
    let got = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    assert_eq!(got, status, "{body}");
    body
}

async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: &str,
    key: Option<&str>,
    body: &Value,
) -> reqwest::Response {
    let mut request = app
        .client
        .request(method, app.url(path))
        .bearer_auth(token)
        .json(body);
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    request.send().await.unwrap()
}

/// POSTs `body` as `token` with `key` as the Idempotency-Key.
async fn post_keyed(
    app: &TestApp,
    path: &str,
    token: &str,
    key: &str,
    body: &Value,
) -> reqwest::Response {
    send(app, reqwest::Method::POST, path, token, Some(key), body).await
}

/// A sales receipt into distributor `uscc`'s settlement account, as the bank's payment system
/// reports it (through the operator).
async fn book_receipt(
    app: &TestApp,
    operator: &str,
    uscc: &str,
    amount: impl std::fmt::Display,
    reference: &str,
) -> reqwest::Response {
    app.post_as(
        "/api/v1/console/supply/receipts",
        operator,
        &json!({ "uscc": uscc, "amount": amount.to_string(), "reference": reference }),
    )
    .await
}

/// Onboards A集团 as the operator; returns its id.
async fn onboard(app: &TestApp, operator: &str) -> String {
    let response = app
        .post_as(
            "/api/v1/console/supply/enterprises",
            operator,
            &json!({
                "name": "A集团",
                "uscc": A_GROUP_USCC,
                "institution": "inst-agroup",
                "subsystem": Agency::AGroup.subsystem_id(),
            }),
        )
        .await;
    let body = json_of(response, 201).await;
    body["id"].as_str().unwrap().to_owned()
}

/// A集团 onboarded, its agreement signed and every distributor pre-approved; returns the
/// enterprise id and the operator's token.
async fn programme(app: &TestApp) -> (String, String) {
    let operator = app.login("operator-liu").await;
    let id = onboard(app, &operator).await;
    let staff = app.login("institution-agroup").await;
    let response = app
        .post_as("/api/v1/institution/supply/agreement", &staff, &json!({}))
        .await;
    json_of(response, 201).await;
    let response = app
        .post_as(
            &format!("/api/v1/console/supply/enterprises/{id}/preapprovals"),
            &operator,
            &json!({}),
        )
        .await;
    json_of(response, 201).await;
    (id, operator)
}

/// The owner's distributors, after granting the consent they need.
async fn my_distributors(app: &TestApp, token: &str) -> Vec<Value> {
    app.grant(token, "SCF_DISTRIBUTOR").await;
    let body = json_of(app.get_as("/api/v1/me/supply", token).await, 200).await;
    body["distributors"].as_array().unwrap().clone()
}

/// Accepts the owner's first offered distributor; returns (uscc, the acceptance).
async fn accept_first(app: &TestApp, token: &str) -> (String, Value) {
    let distributors = my_distributors(app, token).await;
    let offered = distributors
        .iter()
        .find(|d| d["stage"] == "offered")
        .unwrap_or_else(|| panic!("an offer in {distributors:?}"));
    let uscc = offered["uscc"].as_str().unwrap().to_owned();
    app.grant(token, "LOAN_CREDIT_REPORT").await;
    let response = app
        .post_as(
            &format!("/api/v1/me/supply/{uscc}/accept"),
            token,
            &json!({ "contract_sm3": offered["offer"]["contract"]["sm3"] }),
        )
        .await;
    let body = json_of(response, 201).await;
    (uscc, body)
}

/// Draws to pay the first open order (at most what is available); returns the result.
async fn pay_first_order(app: &TestApp, token: &str, uscc: &str, key: &str) -> Value {
    let orders = json_of(
        app.get_as(&format!("/api/v1/me/supply/{uscc}/orders"), token)
            .await,
        200,
    )
    .await;
    let order = &orders["orders"][0];
    let line = json_of(
        app.get_as(&format!("/api/v1/me/supply/{uscc}/line"), token)
            .await,
        200,
    )
    .await;
    let amount = cents(order["outstanding"].as_str().unwrap())
        .min(cents(line["available"].as_str().unwrap()));
    let response = send(
        app,
        reqwest::Method::POST,
        &format!("/api/v1/me/supply/{uscc}/draws"),
        token,
        Some(key),
        &json!({ "order_no": order["order_no"], "amount": yuan(amount) }),
    )
    .await;
    json_of(response, 201).await
}

#[tokio::test]
async fn the_bank_onboards_a_core_enterprise_and_pre_approves_every_distributor() {
    let app = app().await;
    let operator = app.login("operator-liu").await;
    // The credit code's check character is checked.
    let response = app
        .post_as(
            "/api/v1/console/supply/enterprises",
            &operator,
            &json!({ "name": "A集团", "uscc": "91510100MA62Q8TY3C", "institution": "inst-agroup",
                     "subsystem": Agency::AGroup.subsystem_id() }),
        )
        .await;
    assert_problem(response, 422, "supply.invalid_uscc").await;
    let id = onboard(&app, &operator).await;
    // Registering again answers the same enterprise.
    let response = app
        .post_as(
            "/api/v1/console/supply/enterprises",
            &operator,
            &json!({ "name": "A集团", "uscc": A_GROUP_USCC, "institution": "inst-agroup",
                     "subsystem": Agency::AGroup.subsystem_id() }),
        )
        .await;
    assert_eq!(json_of(response, 200).await["id"], id.as_str());

    // No agreement, no data.
    let preapprove = format!("/api/v1/console/supply/enterprises/{id}/preapprovals");
    assert_problem(
        app.post_as(&preapprove, &operator, &json!({})).await,
        403,
        "supply.no_agreement",
    )
    .await;
    // Only the core enterprise's own staff sign its agreement.
    let employer = app.login("institution-employer").await;
    assert_problem(
        app.post_as(
            "/api/v1/institution/supply/agreement",
            &employer,
            &json!({}),
        )
        .await,
        403,
        "auth.forbidden",
    )
    .await;
    let staff = app.login("institution-agroup").await;
    let agreement = json_of(
        app.post_as("/api/v1/institution/supply/agreement", &staff, &json!({}))
            .await,
        201,
    )
    .await;
    assert_eq!(agreement["state"], "active");
    assert_eq!(agreement["scope"].as_array().unwrap().len(), 4);

    let batch = json_of(app.post_as(&preapprove, &operator, &json!({})).await, 201).await;
    assert_eq!(batch["distributors"], 850, "{batch}");
    let offered = batch["offered"].as_i64().unwrap();
    let declined = batch["declined"].as_i64().unwrap();
    assert_eq!(offered + declined, 850);
    assert!(offered > 500 && declined > 30, "{batch}");
    assert_eq!(batch["closed_month"], "2026-10");
    // Running it again refreshes the same distributors.
    let again = json_of(app.post_as(&preapprove, &operator, &json!({})).await, 201).await;
    assert_eq!(again["offered"], batch["offered"]);

    let detail = json_of(
        app.get_as(
            &format!("/api/v1/console/supply/enterprises/{id}?view=declined&per_page=5"),
            &operator,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(detail["total"], declined);
    assert_eq!(detail["enterprise"]["summary"]["distributors"], 850);
    for row in detail["distributors"].as_array().unwrap() {
        assert_eq!(row["outcome"], "declined");
        assert!(!row["reasons"].as_array().unwrap().is_empty(), "{row}");
    }
    let offered_rows = json_of(
        app.get_as(
            &format!("/api/v1/console/supply/enterprises/{id}?view=offered&per_page=100"),
            &operator,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(offered_rows["total"], offered);
    for row in offered_rows["distributors"].as_array().unwrap() {
        let limit = cents(row["offer_limit"].as_str().unwrap());
        assert!(limit >= 1_000_000 && limit % 100_000 == 0, "{row}");
    }
    assert_problem(
        app.get_as(
            &format!("/api/v1/console/supply/enterprises/{id}?view=everything"),
            &operator,
        )
        .await,
        422,
        "query.invalid",
    )
    .await;
    // A citizen is not the bank.
    let zhang = app.login("citizen-zhang").await;
    assert_problem(
        app.post_as(&preapprove, &zhang, &json!({})).await,
        403,
        "auth.forbidden",
    )
    .await;

    // The enterprise withdraws its agreement: the bank stops at once.
    json_of(
        app.post_as(
            "/api/v1/institution/supply/agreement/revoke",
            &staff,
            &json!({}),
        )
        .await,
        200,
    )
    .await;
    assert_problem(
        app.post_as(&preapprove, &operator, &json!({})).await,
        403,
        "supply.no_agreement",
    )
    .await;
    let view = json_of(app.get_as("/api/v1/institution/supply", &staff).await, 200).await;
    assert_eq!(view["agreement"]["state"], "revoked");
}

#[tokio::test]
async fn a_distributor_accepts_in_one_step_pays_an_order_and_repays() {
    let app = app().await;
    programme(&app).await;
    let chen = app.login(CHEN).await;

    // Without the owner's consent A集团 is not asked who owns what.
    let response = app.get_as("/api/v1/me/supply", &chen).await;
    let problem = assert_problem(response, 403, "consent.required").await;
    assert_eq!(problem["purpose"], "SCF_DISTRIBUTOR");
    let distributors = my_distributors(&app, &chen).await;
    assert!(!distributors.is_empty());
    let offered = distributors
        .iter()
        .find(|d| d["stage"] == "offered")
        .expect("陈刚's distributor has an offer")
        .clone();
    let uscc = offered["uscc"].as_str().unwrap().to_owned();
    let offer = &offered["offer"];
    assert!(offer["apr_text"].as_str().unwrap().ends_with('%'));
    assert!(
        offer["contract"]["text"]
            .as_str()
            .unwrap()
            .contains("受托支付")
    );
    let accept = format!("/api/v1/me/supply/{uscc}/accept");
    // The contract accepted must be the one shown.
    assert_problem(
        app.post_as(&accept, &chen, &json!({ "contract_sm3": "00" }))
            .await,
        409,
        "supply.contract_changed",
    )
    .await;
    // The credit report needs its own consent.
    let sm3 = offer["contract"]["sm3"].clone();
    assert_problem(
        app.post_as(&accept, &chen, &json!({ "contract_sm3": sm3 }))
            .await,
        403,
        "consent.required",
    )
    .await;
    app.grant(&chen, "LOAN_CREDIT_REPORT").await;
    let accepted = json_of(
        app.post_as(&accept, &chen, &json!({ "contract_sm3": sm3 }))
            .await,
        201,
    )
    .await;
    assert_eq!(accepted["outcome"], "opened", "{accepted}");
    let steps: Vec<&str> = accepted["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        [
            "ownership",
            "identity",
            "credit",
            "court",
            "decision",
            "line"
        ]
    );
    assert!(
        accepted["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["state"] == "done")
    );
    let line = &accepted["line"];
    assert_eq!(line["status"], "active");
    assert!(cents(line["limit"].as_str().unwrap()) <= cents(offer["limit"].as_str().unwrap()));
    // Accepting again answers the line.
    let again = json_of(
        app.post_as(&accept, &chen, &json!({ "contract_sm3": sm3 }))
            .await,
        200,
    )
    .await;
    assert_eq!(again["line"]["id"], line["id"]);
    let contract = json_of(
        app.get_as(&format!("/api/v1/me/supply/{uscc}/contract"), &chen)
            .await,
        200,
    )
    .await;
    assert_eq!(contract["sm3"], sm3);

    // Drawing pays an order of A集团 directly: a key is required, and a retry pays once.
    let orders = json_of(
        app.get_as(&format!("/api/v1/me/supply/{uscc}/orders"), &chen)
            .await,
        200,
    )
    .await;
    let order = orders["orders"][0].clone();
    let draws = format!("/api/v1/me/supply/{uscc}/draws");
    assert_problem(
        send(
            &app,
            reqwest::Method::POST,
            &draws,
            &chen,
            None,
            &json!({ "order_no": order["order_no"] }),
        )
        .await,
        400,
        "idempotency.key_required",
    )
    .await;
    assert_problem(
        post_keyed(
            &app,
            &draws,
            &chen,
            "draw-too-much-1",
            &json!({ "order_no": order["order_no"], "amount": "99999999.00" }),
        )
        .await,
        422,
        "supply.over_order",
    )
    .await;
    assert_problem(
        post_keyed(
            &app,
            &draws,
            &chen,
            "draw-bad-amount",
            &json!({ "order_no": order["order_no"], "amount": "abc" }),
        )
        .await,
        422,
        "loan.invalid_amount",
    )
    .await;
    let amount = cents(order["outstanding"].as_str().unwrap())
        .min(cents(line["available"].as_str().unwrap()));
    let amount_text = yuan(amount);
    let body = json!({ "order_no": order["order_no"], "amount": amount_text });
    let first = json_of(
        send(
            &app,
            reqwest::Method::POST,
            &draws,
            &chen,
            Some("chen-draw-0001"),
            &body,
        )
        .await,
        201,
    )
    .await;
    let movement = &first["movement"];
    assert_eq!(movement["kind"], "draw");
    assert_eq!(movement["payee"], "A集团");
    assert_eq!(movement["order_no"], order["order_no"]);
    assert_eq!(movement["payment_state"], "confirmed");
    assert!(movement["receipt_no"].as_str().unwrap().starts_with("RC"));
    assert_eq!(cents(first["line"]["principal"].as_str().unwrap()), amount);
    // Not a fen reached the distributor's own account.
    assert_eq!(first["line"]["account_balance"], "0.00");
    let retry = json_of(
        send(
            &app,
            reqwest::Method::POST,
            &draws,
            &chen,
            Some("chen-draw-0001"),
            &body,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(retry["movement"]["id"], movement["id"]);
    assert_eq!(retry["line"]["principal"], first["line"]["principal"]);
    assert_problem(
        post_keyed(
            &app,
            &draws,
            &chen,
            "chen-draw-0001",
            &json!({ "order_no": order["order_no"], "amount": "1.00" }),
        )
        .await,
        409,
        "idempotency.key_reused",
    )
    .await;
    // Had A集团 not answered, the payment would wait as pending and be sent again: A集团
    // recognises it by its id and answers with the same receipt, and nothing is paid twice.
    let receipt_no = movement["receipt_no"].as_str().unwrap().to_owned();
    bianmin_store::on_pool!(app.db.store, pool => {
        sqlx::query("UPDATE scf_payments SET state = 'pending', receipt_no = NULL")
            .execute(pool)
            .await
            .unwrap();
    });
    assert_eq!(
        bianmin_server::supply::line::confirm_pending(&app.state)
            .await
            .unwrap(),
        1
    );
    let (state, again): (String, String) = bianmin_store::on_pool!(app.db.store, pool => {
        sqlx::query_as("SELECT state, receipt_no FROM scf_payments")
            .fetch_one(pool)
            .await
            .unwrap()
    });
    assert_eq!((state.as_str(), again), ("confirmed", receipt_no));

    // A集团 has the payment: the order is paid or shows less outstanding.
    let after = json_of(
        app.get_as(&format!("/api/v1/me/supply/{uscc}/orders"), &chen)
            .await,
        200,
    )
    .await;
    let still = after["orders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["order_no"] == order["order_no"]);
    if let Some(still) = still {
        assert_eq!(
            cents(still["outstanding"].as_str().unwrap()),
            cents(order["outstanding"].as_str().unwrap()) - amount
        );
        // An order is paid by one draw only.
        assert_problem(
            post_keyed(
                &app,
                &draws,
                &chen,
                "chen-draw-0002",
                &json!({ "order_no": order["order_no"], "amount": "1.00" }),
            )
            .await,
            409,
            "supply.order_paid",
        )
        .await;
    }

    // Ten days of daily interest, to the fen: principal × daily rate × days, half up. (Ten
    // days outlive the session: sign in again.)
    app.clock.advance(chrono::TimeDelta::days(10));
    let chen = app.login(CHEN).await;
    let operator = app.login("operator-liu").await;
    let line = json_of(
        app.get_as(&format!("/api/v1/me/supply/{uscc}/line"), &chen)
            .await,
        200,
    )
    .await;
    let daily: Decimal = offer["daily_rate"].as_str().unwrap().parse().unwrap();
    let expected = (Decimal::from(amount) * daily * Decimal::from(10))
        .round_dp_with_strategy(0, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    let interest = cents(line["interest_due"].as_str().unwrap());
    assert_eq!(Decimal::from(interest), expected, "{line}");
    assert_eq!(
        cents(line["payoff_amount"].as_str().unwrap()),
        amount + interest
    );

    // Repaying needs money in the settlement account.
    let repayments = format!("/api/v1/me/supply/{uscc}/repayments");
    assert_problem(
        post_keyed(
            &app,
            &repayments,
            &chen,
            "chen-repay-0001",
            &json!({ "amount": "100.00" }),
        )
        .await,
        409,
        "account.insufficient_funds",
    )
    .await;
    // A sales receipt comes in: 30 % of it repays at once.
    let receipt = json_of(
        book_receipt(&app, &operator, &uscc, "10000.00", "PAY-0001").await,
        201,
    )
    .await;
    assert_eq!(receipt["receipt"]["swept"], "3000.00");
    assert_eq!(receipt["account_balance"], "7000.00");
    // The payment system resends it: nothing is booked twice.
    let resent = json_of(
        book_receipt(&app, &operator, &uscc, "10000.00", "PAY-0001").await,
        200,
    )
    .await;
    assert_eq!(resent["duplicate"], true);
    assert_eq!(resent["account_balance"], "7000.00");
    assert_problem(
        book_receipt(&app, &operator, &uscc, "1.00", "PAY-0001").await,
        409,
        "supply.reference_reused",
    )
    .await;
    let line = json_of(
        app.get_as(&format!("/api/v1/me/supply/{uscc}/line"), &chen)
            .await,
        200,
    )
    .await;
    let sweep = &line["movements"][0];
    assert_eq!(sweep["kind"], "repayment");
    assert_eq!(sweep["source"], "sweep");
    // Interest first, then principal.
    assert_eq!(sweep["to_interest"].as_str().map(cents), Some(interest));
    assert_eq!(
        cents(line["principal"].as_str().unwrap()),
        amount - (300_000 - interest)
    );

    // The owner turns the sweep off; a receipt then only fills the account.
    assert_problem(
        send(
            &app,
            reqwest::Method::PUT,
            &format!("/api/v1/me/supply/{uscc}/sweep"),
            &chen,
            None,
            &json!({ "percent": 101 }),
        )
        .await,
        422,
        "supply.invalid_sweep",
    )
    .await;
    let swept_off = json_of(
        send(
            &app,
            reqwest::Method::PUT,
            &format!("/api/v1/me/supply/{uscc}/sweep"),
            &chen,
            None,
            &json!({ "percent": 0 }),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(swept_off["sweep_percent"], 0);
    let owed = cents(line["payoff_amount"].as_str().unwrap());
    let top_up = owed + 100_000;
    let receipt = json_of(
        book_receipt(&app, &operator, &uscc, yuan(top_up), "PAY-0002").await,
        201,
    )
    .await;
    assert_eq!(receipt["receipt"]["swept"], "0.00");

    // Everything off, from the account; a retry pays once.
    let paid = json_of(
        post_keyed(
            &app,
            &repayments,
            &chen,
            "chen-payoff-0001",
            &json!({ "payoff": true }),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(paid["line"]["principal"], "0.00");
    assert_eq!(paid["line"]["payoff_amount"], "0.00");
    assert_eq!(cents(paid["movement"]["amount"].as_str().unwrap()), owed);
    let balance = 700_000 + top_up - owed;
    assert_eq!(
        cents(paid["line"]["account_balance"].as_str().unwrap()),
        balance
    );
    let retry = json_of(
        post_keyed(
            &app,
            &repayments,
            &chen,
            "chen-payoff-0001",
            &json!({ "payoff": true }),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(retry["movement"]["id"], paid["movement"]["id"]);
    assert_eq!(
        cents(retry["line"]["account_balance"].as_str().unwrap()),
        balance
    );
    assert_problem(
        post_keyed(
            &app,
            &repayments,
            &chen,
            "chen-payoff-0002",
            &json!({ "payoff": true }),
        )
        .await,
        409,
        "loan.nothing_owed",
    )
    .await;

    // The ledger balances.
    let (debits, credits): (i64, i64) = bianmin_store::on_pool!(app.db.store, pool => {
        sqlx::query_as(
            "SELECT CAST(COALESCE(SUM(debit_fen), 0) AS BIGINT), \
                    CAST(COALESCE(SUM(credit_fen), 0) AS BIGINT) FROM scf_postings",
        )
        .fetch_one(pool)
        .await
        .unwrap()
    });
    assert!(debits > 0);
    assert_eq!(debits, credits);

    // The enterprise sees the use of the line, not who owns the distributor.
    let staff = app.login("institution-agroup").await;
    let view = app.get_as("/api/v1/institution/supply", &staff).await;
    let text = view.text().await.unwrap();
    assert!(text.contains(&uscc));
    assert!(
        !["陈刚", "*刚", "13700000003", "owner", "person"]
            .iter()
            .any(|word| text.contains(word)),
        "{text}"
    );
}

#[tokio::test]
async fn a_deteriorating_distributors_line_is_frozen_with_its_reason() {
    let app = app().await;
    let (id, operator) = programme(&app).await;
    let zhao = app.login(ZHAO).await;
    let (uscc, accepted) = accept_first(&app, &zhao).await;
    assert_eq!(accepted["line"]["status"], "active");
    pay_first_order(&app, &zhao, &uscc, "zhao-draw-0001").await;
    let chen = app.login(CHEN).await;
    let (chen_uscc, _) = accept_first(&app, &chen).await;

    // Nothing has changed yet: monitoring keeps both.
    let monitoring = format!("/api/v1/console/supply/enterprises/{id}/monitoring");
    let summary = json_of(app.post_as(&monitoring, &operator, &json!({})).await, 201).await;
    assert_eq!(summary["checked"], 2, "{summary}");
    assert_eq!(summary["frozen"], 0, "{summary}");

    // A集团 closes the months in which 赵敏's business slips: two months after its turn her
    // limit is lowered, from the third her line is frozen.
    let govsim = app.state.exchange().unwrap().govsim.as_ref().unwrap();
    govsim.advance_books(3);
    let summary = json_of(app.post_as(&monitoring, &operator, &json!({})).await, 201).await;
    assert_eq!(
        (summary["lowered"].clone(), summary["frozen"].clone()),
        (json!(1), json!(0)),
        "{summary}"
    );
    assert_eq!(summary["acted"][0]["uscc"], uscc.as_str());
    let lowered = json_of(
        app.get_as(&format!("/api/v1/me/supply/{uscc}/line"), &zhao)
            .await,
        200,
    )
    .await;
    assert_eq!(lowered["status"], "lowered");
    let approved_limit = cents(accepted["line"]["limit"].as_str().unwrap());
    let lowered_limit = cents(lowered["limit"].as_str().unwrap());
    assert!(lowered_limit * 10 <= approved_limit * 7, "{lowered}");
    assert_eq!(lowered["warnings"][0]["action"], "lower");
    govsim.advance_books(2);
    let summary = json_of(app.post_as(&monitoring, &operator, &json!({})).await, 201).await;
    assert_eq!(summary["frozen"], 1, "{summary}");
    assert_eq!(summary["acted"][0]["uscc"], uscc.as_str());
    let reason = summary["acted"][0]["reason"].as_str().unwrap().to_owned();
    assert!(!reason.is_empty());

    // 赵敏 sees it, with the signals; she cannot draw, but can still repay.
    let line = json_of(
        app.get_as(&format!("/api/v1/me/supply/{uscc}/line"), &zhao)
            .await,
        200,
    )
    .await;
    assert_eq!(line["status"], "frozen");
    assert_eq!(line["status_reason"], reason.as_str());
    assert_eq!(line["available"], "0.00");
    let warning = &line["warnings"][0];
    assert_eq!(warning["action"], "freeze");
    assert!(
        !warning["signals"].as_array().unwrap().is_empty(),
        "{warning}"
    );
    let orders = json_of(
        app.get_as(&format!("/api/v1/me/supply/{uscc}/orders"), &zhao)
            .await,
        200,
    )
    .await;
    if let Some(order) = orders["orders"].as_array().unwrap().first() {
        assert_problem(
            post_keyed(
                &app,
                &format!("/api/v1/me/supply/{uscc}/draws"),
                &zhao,
                "zhao-draw-0002",
                &json!({ "order_no": order["order_no"], "amount": "1.00" }),
            )
            .await,
            409,
            "supply.line_frozen",
        )
        .await;
    }
    let receipt = json_of(
        book_receipt(&app, &operator, &uscc, "1000.00", "ZHAO-PAY-1").await,
        201,
    )
    .await;
    assert_eq!(receipt["receipt"]["swept"], "300.00");

    // The healthy distributor is untouched; a second run changes nothing.
    let chen_line = json_of(
        app.get_as(&format!("/api/v1/me/supply/{chen_uscc}/line"), &chen)
            .await,
        200,
    )
    .await;
    assert_eq!(chen_line["status"], "active", "{chen_line}");
    let again = json_of(app.post_as(&monitoring, &operator, &json!({})).await, 201).await;
    assert_eq!(again["frozen"], 0);
    assert_eq!(again["lowered"], 0);

    // The bank console and the enterprise see the frozen line.
    let detail = json_of(
        app.get_as(
            &format!("/api/v1/console/supply/enterprises/{id}?view=warned"),
            &operator,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(detail["total"], 1);
    assert_eq!(detail["distributors"][0]["line"]["status"], "frozen");
    assert_eq!(detail["warnings"].as_array().unwrap().len(), 2);
    assert_eq!(detail["enterprise"]["summary"]["frozen"], 1);
    let staff = app.login("institution-agroup").await;
    let view = json_of(app.get_as("/api/v1/institution/supply", &staff).await, 200).await;
    let frozen_row = view["usage"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["uscc"] == uscc.as_str())
        .unwrap()
        .clone();
    assert_eq!(frozen_row["status"], "frozen");

    // After review, the bank lifts the freeze with a note; she may draw again.
    let unfreeze = format!("/api/v1/console/supply/distributors/{uscc}/unfreeze");
    assert_problem(
        app.post_as(&unfreeze, &operator, &json!({ "note": "  " }))
            .await,
        422,
        "supply.invalid_note",
    )
    .await;
    assert_problem(
        app.post_as(&unfreeze, &zhao, &json!({ "note": "自己解冻" }))
            .await,
        403,
        "auth.forbidden",
    )
    .await;
    let lifted = json_of(
        app.post_as(
            &unfreeze,
            &operator,
            &json!({ "note": "已电话核实，3月为春节后淡季" }),
        )
        .await,
        200,
    )
    .await;
    // The limit lowered before the freeze stays lowered.
    assert_eq!(lifted["status"], "lowered");
    let line = json_of(
        app.get_as(&format!("/api/v1/me/supply/{uscc}/line"), &zhao)
            .await,
        200,
    )
    .await;
    assert_eq!(line["status"], "lowered");
    assert_eq!(cents(line["limit"].as_str().unwrap()), lowered_limit);
    assert_eq!(line["status_reason"], Value::Null);
    assert!(cents(line["available"].as_str().unwrap()) > 0);
    // The warnings stay on record.
    assert_eq!(line["warnings"].as_array().unwrap().len(), 2);
    assert_problem(
        app.post_as(&unfreeze, &operator, &json!({ "note": "再次解除" }))
            .await,
        409,
        "supply.not_frozen",
    )
    .await;
}

#[tokio::test]
async fn nobody_sees_or_moves_another_owners_line() {
    let app = app().await;
    let (_, _) = programme(&app).await;
    let chen = app.login(CHEN).await;
    let (uscc, _) = accept_first(&app, &chen).await;
    let zhao = app.login(ZHAO).await;
    let zhang = app.login("citizen-zhang").await;
    for token in [&zhao, &zhang] {
        assert_problem(
            app.get_as(&format!("/api/v1/me/supply/{uscc}/line"), token)
                .await,
            404,
            "not_found",
        )
        .await;
        assert_problem(
            post_keyed(
                &app,
                &format!("/api/v1/me/supply/{uscc}/repayments"),
                token,
                "other-repay-0001",
                &json!({ "amount": "1.00" }),
            )
            .await,
            404,
            "not_found",
        )
        .await;
    }
    // Owning nothing at A集团, 张伟 cannot accept 陈刚's offer even with every consent.
    let zhao_distributors = my_distributors(&app, &zhao).await;
    let zhao_uscc = zhao_distributors[0]["uscc"].as_str().unwrap().to_owned();
    app.grant(&zhang, "SCF_DISTRIBUTOR").await;
    app.grant(&zhang, "LOAN_CREDIT_REPORT").await;
    assert_problem(
        app.post_as(
            &format!("/api/v1/me/supply/{zhao_uscc}/accept"),
            &zhang,
            &json!({ "contract_sm3": zhao_distributors[0]["offer"]["contract"]["sm3"] }),
        )
        .await,
        403,
        "supply.not_owner",
    )
    .await;
    let mine = json_of(app.get_as("/api/v1/me/supply", &zhang).await, 200).await;
    assert_eq!(mine["distributors"], json!([]));
    // A malformed credit code is refused as such.
    assert_problem(
        app.get_as("/api/v1/me/supply/91510100MA62Q8TY3C/line", &chen)
            .await,
        422,
        "supply.invalid_uscc",
    )
    .await;
    // Staff do not use the owners' endpoints; owners do not use the console's.
    let operator = app.login("operator-liu").await;
    assert_problem(
        app.get_as("/api/v1/me/supply", &operator).await,
        403,
        "auth.forbidden",
    )
    .await;
    assert_problem(
        app.get_as("/api/v1/console/supply/enterprises", &chen)
            .await,
        403,
        "auth.forbidden",
    )
    .await;
}
