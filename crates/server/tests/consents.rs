//! 我的授权 over HTTP, and the fetch path it guards: a citizen asks for, approves, reads and
//! revokes consents; a service call without a live consent is refused with a clear error and
//! nothing is sent to the agency; revocation and expiry take effect on the next call; nobody
//! sees another citizen's consents.

mod common;

use bianmin_store::on_pool;
use common::{TestApp, assert_problem, sent_messages, spawn_app, spawn_app_with};
use serde_json::{Value, json};

async fn app_with_agencies() -> TestApp {
    spawn_app_with(|c| c.exchange.govsim = true).await
}

/// Asks for a provident-fund consent as `token` and approves it; returns its id.
async fn approved_hpf_consent(app: &TestApp, token: &str) -> String {
    let response = app
        .post_as(
            "/api/v1/me/consents",
            token,
            &json!({ "purpose": "SERVICE_HPF_QUERY" }),
        )
        .await;
    assert_eq!(response.status(), 201);
    let pending: Value = response.json().await.unwrap();
    assert_eq!(pending["state"], "PENDING");
    assert_eq!(pending["state_text"], "待确认");
    assert_eq!(pending["purpose_text"], "公积金查询");
    let id = pending["id"].as_str().unwrap().to_owned();
    let response = app
        .post_as(
            &format!("/api/v1/me/consents/{id}/approve"),
            token,
            &json!({}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let active: Value = response.json().await.unwrap();
    assert_eq!(active["state"], "ACTIVE");
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_call_needs_a_live_consent_and_revocation_stops_the_next_one() {
    let app = app_with_agencies().await;
    let zhang = app.login("citizen-zhang").await;

    // No consent yet: a clear refusal, and nothing reaches the 公积金中心.
    let body = assert_problem(
        app.get_as("/api/v1/me/hpf/account", &zhang).await,
        403,
        "consent.required",
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("公积金查询"));
    assert_eq!(sent_messages(&app).await, 0);

    let id = approved_hpf_consent(&app, &zhang).await;
    let response = app.get_as("/api/v1/me/hpf/account", &zhang).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let account: Value = response.json().await.unwrap();
    assert_eq!(account["consent_id"], id.as_str());
    let number = account["account_number"].as_str().unwrap();
    assert!(number.starts_with("********"), "masked: {number}");
    assert!(account["balance"].as_str().unwrap().contains('.'));
    assert_eq!(sent_messages(&app).await, 1);

    // The use is on record, naming the message that was sent.
    let detail: Value = app
        .get_as(&format!("/api/v1/me/consents/{id}"), &zhang)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(detail["use_count"], 1);
    let uses = detail["uses"].as_array().unwrap();
    assert_eq!(uses.len(), 1);
    assert_eq!(uses[0]["data_kind"]["code"], "hpf.account");
    assert_eq!(uses[0]["data_kind"]["label"], "住房公积金账户");

    // Revoked: the next call is refused, even though an answer is cached, and nothing is sent.
    let response = app
        .post_as(
            &format!("/api/v1/me/consents/{id}/revoke"),
            &zhang,
            &json!({}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let revoked: Value = response.json().await.unwrap();
    assert_eq!(revoked["state"], "REVOKED");
    assert!(revoked["revoked_at"].is_string());
    assert_problem(
        app.get_as("/api/v1/me/hpf/account", &zhang).await,
        403,
        "consent.required",
    )
    .await;
    assert_eq!(sent_messages(&app).await, 1);
    // Revoking again is accepted and changes nothing; approving a revoked one is refused.
    let again = app
        .post_as(
            &format!("/api/v1/me/consents/{id}/revoke"),
            &zhang,
            &json!({}),
        )
        .await;
    assert_eq!(again.status(), 200);
    assert_problem(
        app.post_as(
            &format!("/api/v1/me/consents/{id}/approve"),
            &zhang,
            &json!({}),
        )
        .await,
        409,
        "consent.not_active",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_consent_is_refused_and_nothing_is_sent() {
    let app = app_with_agencies().await;
    let zhang = app.login("citizen-zhang").await;
    let id = approved_hpf_consent(&app, &zhang).await;
    // The platform offers 180 days; move past them. (Sessions last less, so sign in again.)
    app.clock.advance(chrono::TimeDelta::days(181));
    let zhang = app.login("citizen-zhang").await;
    assert_problem(
        app.get_as("/api/v1/me/hpf/account", &zhang).await,
        403,
        "consent.required",
    )
    .await;
    assert_eq!(sent_messages(&app).await, 0);
    let listed: Value = app
        .get_as("/api/v1/me/consents", &zhang)
        .await
        .json()
        .await
        .unwrap();
    let consent = &listed["items"][0];
    assert_eq!(consent["id"], id.as_str());
    assert_eq!(consent["state"], "EXPIRED");
    assert_eq!(consent["state_text"], "已过期");
}

#[tokio::test]
async fn nobody_sees_or_decides_another_citizens_consent() {
    let app = spawn_app().await;
    let zhang = app.login("citizen-zhang").await;
    let li = app.login("citizen-li").await;
    let response = app
        .post_as(
            "/api/v1/me/consents",
            &zhang,
            &json!({ "purpose": "SERVICE_TRAFFIC" }),
        )
        .await;
    assert_eq!(response.status(), 201);
    let pending: Value = response.json().await.unwrap();
    let id = pending["id"].as_str().unwrap();
    let kinds: Vec<&str> = pending["data_kinds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["traffic.violations", "traffic.vehicles", "traffic.licence"]
    );

    // Li: an unknown consent, whatever she tries.
    assert_problem(
        app.get_as(&format!("/api/v1/me/consents/{id}"), &li).await,
        404,
        "consent.not_found",
    )
    .await;
    for action in ["approve", "reject", "revoke"] {
        assert_problem(
            app.post_as(
                &format!("/api/v1/me/consents/{id}/{action}"),
                &li,
                &json!({}),
            )
            .await,
            404,
            "consent.not_found",
        )
        .await;
    }
    let listed: Value = app
        .get_as("/api/v1/me/consents", &li)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 0);

    // Staff have no consents of their own here.
    let operator = app.login("operator-liu").await;
    assert_problem(
        app.get_as("/api/v1/me/consents", &operator).await,
        403,
        "auth.forbidden",
    )
    .await;
    // Unauthenticated.
    assert_problem(
        app.get("/api/v1/me/consents").await,
        401,
        "auth.unauthenticated",
    )
    .await;

    // Zhang rejects it; it stays on his list as rejected.
    let response = app
        .post_as(
            &format!("/api/v1/me/consents/{id}/reject"),
            &zhang,
            &json!({}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let listed: Value = app
        .get_as("/api/v1/me/consents", &zhang)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"][0]["state"], "REJECTED");
}

#[tokio::test]
async fn purposes_outside_the_offer_are_refused_clearly() {
    let app = spawn_app().await;
    let zhang = app.login("citizen-zhang").await;
    assert_problem(
        app.post_as(
            "/api/v1/me/consents",
            &zhang,
            &json!({ "purpose": "SELL_MY_DATA" }),
        )
        .await,
        422,
        "consent.unknown_purpose",
    )
    .await;
    assert_problem(
        app.post_as("/api/v1/me/consents", &zhang, &json!({})).await,
        422,
        "body.invalid_field",
    )
    .await;
    assert_problem(
        app.get_as("/api/v1/me/consents/not-a-uuid", &zhang).await,
        400,
        "path.invalid",
    )
    .await;
}

#[tokio::test]
async fn erasing_a_person_ends_their_consents() {
    let app = spawn_app().await;
    let zhang = app.login("citizen-zhang").await;
    let id = approved_hpf_consent(&app, &zhang).await;
    let profile: Value = app
        .get_as("/api/v1/me/profile", &zhang)
        .await
        .json()
        .await
        .unwrap();
    let person = profile["id"].as_str().unwrap().to_owned();
    let admin = app.login("admin-zhou").await;
    let response = app
        .client
        .delete(app.url(&format!("/api/v1/persons/{person}")))
        .bearer_auth(&admin)
        .json(&json!({ "reason": "ticket-42" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let state: String = on_pool!(&app.db.store, pool => {
        sqlx::query_scalar::<_, String>("SELECT state FROM consents WHERE id = $1")
            .bind(uuid::Uuid::parse_str(&id).unwrap())
            .fetch_one(pool)
            .await
            .unwrap()
    });
    assert_eq!(state, "REVOKED");
    let actions: Vec<String> = app
        .db
        .store
        .audit_entries(0, 1_000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    let revoke = actions.iter().position(|a| a == "consent.revoke").unwrap();
    let erase = actions.iter().position(|a| a == "person.erase").unwrap();
    assert!(revoke < erase, "{actions:?}");
}
