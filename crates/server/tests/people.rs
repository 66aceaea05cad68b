//! Personal data over HTTP: masked by default, clear only with a role and a purpose (audited),
//! never another citizen's, erasure by crypto-shredding, and no clear personal data at rest.

mod common;

use bianmin_store::on_pool;
use common::{TestApp, assert_problem, spawn_app};
use serde_json::{Value, json};

async fn person_id_of(app: &TestApp, token: &str) -> String {
    let profile: Value = app
        .get_as("/api/v1/me/profile", token)
        .await
        .json()
        .await
        .unwrap();
    profile["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_citizen_sees_their_identity_masked_and_can_reveal_it_with_an_audit_trail() {
    let app = spawn_app().await;
    let token = app.login("citizen-zhang").await;
    let profile: Value = app
        .get_as("/api/v1/me/profile", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(profile["name"], "*伟");
    assert_eq!(profile["resident_id"], "510104********0039");
    assert_eq!(profile["phone"], "138****0001");

    let response = app
        .post_as("/api/v1/me/profile/reveal", &token, &json!({}))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let clear: Value = response.json().await.unwrap();
    assert_eq!(clear["name"], "张伟");
    assert_eq!(clear["resident_id"], "510104198803120039");
    assert_eq!(clear["phone"], "13800000001");

    let key = app.state.keyring().audit_key();
    let entries = app.db.store.audit_entries(0, 100).await.unwrap();
    let reveal = entries
        .iter()
        .find(|e| e.action == "person.reveal")
        .unwrap();
    assert_eq!(reveal.purpose.as_deref(), Some("self_service"));
    assert!(reveal.actor.starts_with("principal:"));
    assert!(
        app.db
            .store
            .verify_audit(key)
            .await
            .unwrap()
            .first_broken
            .is_none()
    );
}

#[tokio::test]
async fn a_citizen_can_never_read_another_citizens_record() {
    let app = spawn_app().await;
    let zhang = app.login("citizen-zhang").await;
    let li = app.login("citizen-li").await;
    let li_person = person_id_of(&app, &li).await;
    let zhang_profile: Value = app
        .get_as("/api/v1/me/profile", &zhang)
        .await
        .json()
        .await
        .unwrap();
    assert_ne!(zhang_profile["id"], li_person.as_str());

    let path = format!("/api/v1/persons/{li_person}");
    assert_problem(app.get_as(&path, &zhang).await, 403, "auth.forbidden").await;
    let reveal = app
        .post_as(
            &format!("{path}/reveal"),
            &zhang,
            &json!({ "purpose": "customer_request" }),
        )
        .await;
    assert_problem(reveal, 403, "auth.forbidden").await;
    let erase = app
        .client
        .delete(app.url(&path))
        .bearer_auth(&zhang)
        .json(&json!({ "reason": "T-1" }))
        .send()
        .await
        .unwrap();
    assert_problem(erase, 403, "auth.forbidden").await;
    // Officers and auditors do not read person records either.
    for persona in ["officer-hpf", "auditor-sun"] {
        let token = app.login(persona).await;
        assert_problem(app.get_as(&path, &token).await, 403, "auth.forbidden").await;
    }
}

#[tokio::test]
async fn staff_reveal_only_with_a_purpose_and_every_reveal_is_audited() {
    let app = spawn_app().await;
    let li = app.login("citizen-li").await;
    let person = person_id_of(&app, &li).await;
    let operator = app.login("operator-liu").await;

    let masked: Value = app
        .get_as(&format!("/api/v1/persons/{person}"), &operator)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(masked["name"], "*娜");

    let path = format!("/api/v1/persons/{person}/reveal");
    let without = app.post_as(&path, &operator, &json!({})).await;
    assert_problem(without, 422, "body.invalid_field").await;
    let made_up = app
        .post_as(&path, &operator, &json!({ "purpose": "curiosity" }))
        .await;
    assert_problem(made_up, 422, "body.invalid_field").await;
    assert!(app.db.store.audit_entries(0, 100).await.unwrap().is_empty());

    let clear: Value = app
        .post_as(&path, &operator, &json!({ "purpose": "manual_review" }))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(clear["name"], "李娜");
    let entries = app.db.store.audit_entries(0, 100).await.unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].purpose.as_deref(), Some("manual_review"));
    assert_eq!(entries[0].target, format!("person:{person}"));

    // Auditors read the trail and its verification.
    let auditor = app.login("auditor-sun").await;
    let listed: Value = app
        .get_as("/api/v1/audit/entries", &auditor)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed[0]["action"], "person.reveal");
    let verified: Value = app
        .get_as("/api/v1/audit/verify", &auditor)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(verified["intact"], true);
    assert_problem(
        app.get_as("/api/v1/audit/verify", &operator).await,
        403,
        "auth.forbidden",
    )
    .await;
}

#[tokio::test]
async fn erasure_shreds_one_person_and_leaves_others_readable() {
    let app = spawn_app().await;
    let zhang = app.login("citizen-zhang").await;
    let li = app.login("citizen-li").await;
    let zhang_person = person_id_of(&app, &zhang).await;
    let admin = app.login("admin-zhou").await;

    let operator = app.login("operator-liu").await;
    let by_operator = app
        .client
        .delete(app.url(&format!("/api/v1/persons/{zhang_person}")))
        .bearer_auth(&operator)
        .json(&json!({ "reason": "T-42" }))
        .send()
        .await
        .unwrap();
    assert_problem(by_operator, 403, "auth.forbidden").await;

    for _ in 0..2 {
        let response = app
            .client
            .delete(app.url(&format!("/api/v1/persons/{zhang_person}")))
            .bearer_auth(&admin)
            .json(&json!({ "reason": "PIPL-47 request T-42" }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 204);
    }
    assert_problem(
        app.get_as("/api/v1/me/profile", &zhang).await,
        410,
        "person.erased",
    )
    .await;
    let reveal = app
        .post_as("/api/v1/me/profile/reveal", &zhang, &json!({}))
        .await;
    assert_problem(reveal, 410, "person.erased").await;
    let li_profile: Value = app
        .get_as("/api/v1/me/profile", &li)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(li_profile["name"], "*娜");

    let erasures: Vec<_> = app
        .db
        .store
        .audit_entries(0, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "person.erase")
        .collect();
    assert_eq!(
        erasures.len(),
        1,
        "a repeated erasure is not a second erasure"
    );
    assert!(
        app.db
            .store
            .verify_audit(app.state.keyring().audit_key())
            .await
            .unwrap()
            .first_broken
            .is_none()
    );
}

#[tokio::test]
async fn staff_have_no_personal_profile() {
    let app = spawn_app().await;
    let operator = app.login("operator-liu").await;
    assert_problem(
        app.get_as("/api/v1/me/profile", &operator).await,
        403,
        "auth.forbidden",
    )
    .await;
}

#[tokio::test]
async fn no_personal_data_is_stored_in_clear() {
    let app = spawn_app().await;
    for persona in ["citizen-zhang", "citizen-li", "enterprise-chen"] {
        let token = app.login(persona).await;
        app.post_as("/api/v1/me/profile/reveal", &token, &json!({}))
            .await;
    }
    let secrets = [
        "张伟",
        "李娜",
        "陈刚",
        "510104198803120039",
        "13800000001",
        "13900000002",
        "13700000003",
    ];
    let dump = raw_dump(&app).await;
    assert!(
        dump.len() > 1000,
        "the dump should hold the database's bytes"
    );
    for secret in secrets {
        let needle = secret.as_bytes();
        assert!(
            !dump.windows(needle.len()).any(|w| w == needle),
            "{secret} found in clear in the raw database"
        );
    }
}

/// Every byte the database holds: the SQLite file and its WAL, or every PostgreSQL row as text.
async fn raw_dump(app: &TestApp) -> Vec<u8> {
    if let Some(path) = app.db.url.strip_prefix("sqlite:") {
        let mut bytes = std::fs::read(path).unwrap();
        if let Ok(wal) = std::fs::read(format!("{path}-wal")) {
            bytes.extend(wal);
        }
        return bytes;
    }
    let mut out = Vec::new();
    for query in [
        "SELECT row_to_json(t)::text FROM principals t",
        "SELECT row_to_json(t)::text FROM persons t",
        "SELECT row_to_json(t)::text FROM sessions t",
        "SELECT row_to_json(t)::text FROM outbox_events t",
        "SELECT row_to_json(t)::text FROM audit_log t",
    ] {
        let rows: Vec<String> = on_pool!(app.db.store, pool => {
            sqlx::query_scalar(query).fetch_all(pool).await.unwrap()
        });
        for row in rows {
            out.extend(row.into_bytes());
        }
    }
    out
}
