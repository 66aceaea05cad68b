//! 公积金 over HTTP: deposit history by month range and page, the loan calculator (open to
//! anyone), the loan quota and withdrawal eligibility from the citizen's own account.

mod common;

use common::{TestApp, assert_problem, spawn_app, spawn_app_with};
use serde_json::{Value, json};

async fn consented(app: &TestApp, persona: &str) -> String {
    let token = app.login(persona).await;
    app.grant(&token, "SERVICE_HPF_QUERY").await;
    token
}

#[tokio::test]
async fn the_loan_calculator_gives_hand_checked_schedules_to_anyone() {
    let app = spawn_app().await;
    // 1,000,000 over 360 months at 3.1 %, 等额本息: A = P·r(1+r)^n/((1+r)^n−1) = 4,270.16.
    let response = app
        .post_json(
            "/api/v1/hpf/loan/schedule",
            &json!({ "principal": "1000000.00", "term_months": 360,
                     "method": "equal_instalment", "annual_rate": "0.031" }),
        )
        .await;
    assert_eq!(response.status(), 200);
    let schedule: Value = response.json().await.unwrap();
    assert_eq!(schedule["first_payment"], "4270.16");
    assert_eq!(schedule["instalments"].as_array().unwrap().len(), 360);
    assert_eq!(schedule["instalments"][0]["interest"], "2583.33");
    assert_eq!(schedule["instalments"][359]["remaining"], "0.00");
    // 等额本金 of the same loan: 2,777.78 of principal a month, first payment 5,361.11.
    let schedule: Value = app
        .post_json(
            "/api/v1/hpf/loan/schedule",
            &json!({ "principal": "1000000.00", "term_months": 360,
                     "method": "equal_principal", "annual_rate": "0.031" }),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(schedule["first_payment"], "5361.11");
    // Without a rate, the configured one for a first home over 5 years (2.6 %).
    let schedule: Value = app
        .post_json(
            "/api/v1/hpf/loan/schedule",
            &json!({ "principal": "400000.00", "term_months": 360, "method": "equal_instalment" }),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(schedule["terms"]["annual_rate"], "0.026");

    assert_problem(
        app.post_json(
            "/api/v1/hpf/loan/schedule",
            &json!({ "principal": "1000000.00", "term_months": 5, "method": "equal_instalment" }),
        )
        .await,
        422,
        "hpf.invalid_term",
    )
    .await;
    assert_problem(
        app.post_json(
            "/api/v1/hpf/loan/schedule",
            &json!({ "principal": "一百万", "term_months": 360, "method": "equal_instalment" }),
        )
        .await,
        422,
        "hpf.invalid_amount",
    )
    .await;
    assert_problem(
        app.post_json(
            "/api/v1/hpf/loan/schedule",
            &json!({ "principal": "1000000.00", "term_months": 360, "method": "balloon" }),
        )
        .await,
        422,
        "body.invalid_field",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deposits_quota_and_withdrawal_come_from_the_citizens_own_account() {
    let app = spawn_app_with(|c| c.exchange.govsim = true).await;
    let zhang = consented(&app, "citizen-zhang").await;

    let page: Value = app
        .get_as("/api/v1/me/hpf/deposits?per_page=5", &zhang)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["entries"].as_array().unwrap().len(), 5, "{page}");
    assert!(page["total"].as_u64().unwrap() >= 12, "{page}");
    let newest = page["entries"][0]["month"].as_str().unwrap().to_owned();
    let second: Value = app
        .get_as("/api/v1/me/hpf/deposits?per_page=5&page=2", &zhang)
        .await
        .json()
        .await
        .unwrap();
    assert!(second["entries"][0]["month"].as_str().unwrap() <= newest.as_str());
    let range: Value = app
        .get_as("/api/v1/me/hpf/deposits?from=2026-01&to=2026-03", &zhang)
        .await
        .json()
        .await
        .unwrap();
    for entry in range["entries"].as_array().unwrap() {
        let month = entry["month"].as_str().unwrap();
        assert!(("2026-01"..="2026-03").contains(&month), "{month}");
    }
    for (query, code) in [
        ("from=2026-13", "hpf.invalid_month"),
        ("from=2026-05&to=2026-01", "hpf.invalid_range"),
        ("per_page=0", "hpf.invalid_page"),
        ("page=0", "hpf.invalid_page"),
        ("page=abc", "query.invalid"),
    ] {
        assert_problem(
            app.get_as(&format!("/api/v1/me/hpf/deposits?{query}"), &zhang)
                .await,
            422,
            code,
        )
        .await;
    }

    let quota: Value = app
        .get_as("/api/v1/me/hpf/loan/quota?house_price=1500000.00", &zhang)
        .await
        .json()
        .await
        .unwrap();
    assert!(quota["max_amount"].as_str().is_some(), "{quota}");
    assert!(quota["reason"].as_str().is_some_and(|r| !r.is_empty()));
    assert_eq!(quota["constraints"].as_array().unwrap().len(), 4);
    assert_problem(
        app.get_as("/api/v1/me/hpf/loan/quota?house_price=-1", &zhang)
            .await,
        422,
        "hpf.invalid_amount",
    )
    .await;

    let unknown: Value = app
        .get_as("/api/v1/me/hpf/withdrawal", &zhang)
        .await
        .json()
        .await
        .unwrap();
    let assessments = unknown["assessments"].as_array().unwrap();
    assert_eq!(assessments.len(), 7);
    let renting = |v: &Value| {
        v["assessments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["purpose"] == "renting")
            .unwrap()
            .clone()
    };
    // Whether Zhang owns a home is not known to any agency: 租房 is undecided until he says.
    assert_eq!(renting(&unknown)["eligibility"], "unknown");
    let declared: Value = app
        .get_as("/api/v1/me/hpf/withdrawal?owns_home=true", &zhang)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(renting(&declared)["eligibility"], "not_eligible");

    // Nothing of this without being signed in as a citizen.
    let operator = app.login("operator-liu").await;
    assert_problem(
        app.get_as("/api/v1/me/hpf/withdrawal", &operator).await,
        403,
        "auth.forbidden",
    )
    .await;
}
