//! Sign-in (development personas and bank-app assertions), sessions and role checks.

mod common;

use bianmin_crypto::Sm2SigningKey;
use bianmin_server::auth::assertion::{self, Claims};
use common::{assert_problem, spawn_app, spawn_app_with};
use serde_json::{Value, json};

#[tokio::test]
async fn a_persona_signs_in_and_sees_only_a_masked_name() {
    let app = spawn_app().await;
    let response = app
        .post_json(
            "/api/v1/auth/dev-login",
            &json!({ "persona": "citizen-zhang" }),
        )
        .await;
    assert_eq!(response.status(), 200);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(cookie.starts_with("bianmin_session=v1."), "{cookie}");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["home"], "/citizen/");
    assert_eq!(body["principal"]["display_name"], "*伟");

    // The cookie alone authenticates the browser.
    let session = cookie.split(';').next().unwrap();
    let me: Value = app
        .client
        .get(app.url("/api/v1/me"))
        .header("cookie", session)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["persona"], "citizen-zhang");
    assert_eq!(me["role"], "citizen");
    assert!(!me.to_string().contains("张伟"), "clear name leaked: {me}");
}

#[tokio::test]
async fn each_role_lands_on_its_own_front_end() {
    let app = spawn_app().await;
    for (persona, home, department) in [
        ("citizen-li", "/citizen/", Value::Null),
        ("enterprise-chen", "/citizen/", Value::Null),
        ("officer-hpf", "/cockpit/", json!("hpf")),
        ("operator-liu", "/console/", Value::Null),
        ("auditor-sun", "/console/", Value::Null),
        ("admin-zhou", "/console/", Value::Null),
    ] {
        let token = app.login(persona).await;
        let me: Value = app.get_as("/api/v1/me", &token).await.json().await.unwrap();
        assert_eq!(me["home"], home, "{persona}");
        assert_eq!(me["department"]["code"], department, "{persona}");
    }
}

#[tokio::test]
async fn signing_in_writes_the_session_and_its_event_together() {
    let app = spawn_app().await;
    app.login("operator-liu").await;
    let events = app.db.store.events_after(0, 10).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, "auth.login");
    assert_eq!(events[0].payload.0["role"], "bank_operator");
}

#[tokio::test]
async fn no_token_a_forged_token_or_a_garbage_token_gets_401_and_no_data() {
    let app = spawn_app().await;
    assert_problem(app.get("/api/v1/me").await, 401, "auth.unauthenticated").await;
    let token = app.login("citizen-zhang").await;
    // Another last character (a forged token must differ from the real one).
    let last = if token.ends_with('A') { 'B' } else { 'A' };
    let forged = format!("{}{last}", &token[..token.len() - 1]);
    for bad in [forged.as_str(), "v1.x.y", "Bearer", "🙂"] {
        let response = app.get_as("/api/v1/me", bad).await;
        let body = assert_problem(response, 401, "auth.unauthenticated").await;
        assert!(body.get("persona").is_none());
    }
}

#[tokio::test]
async fn logout_ends_the_session_at_once() {
    let app = spawn_app().await;
    let token = app.login("citizen-zhang").await;
    let response = app
        .client
        .post(app.url("/api/v1/auth/logout"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert!(
        response.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    assert_problem(
        app.get_as("/api/v1/me", &token).await,
        401,
        "auth.unauthenticated",
    )
    .await;
}

#[tokio::test]
async fn sessions_expire() {
    let app = spawn_app().await;
    let token = app.login("citizen-zhang").await;
    assert_eq!(app.get_as("/api/v1/me", &token).await.status(), 200);
    app.clock.advance(chrono::TimeDelta::hours(9));
    let body = assert_problem(
        app.get_as("/api/v1/me", &token).await,
        401,
        "auth.unauthenticated",
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("过期"));
}

#[tokio::test]
async fn staff_endpoints_refuse_other_roles_with_403() {
    let app = spawn_app().await;
    for persona in ["citizen-zhang", "enterprise-chen", "officer-hpf"] {
        let token = app.login(persona).await;
        let response = app.get_as("/api/v1/ops/overview", &token).await;
        let body = assert_problem(response, 403, "auth.forbidden").await;
        assert!(body.get("principals_by_role").is_none());
    }
    assert_problem(
        app.get("/api/v1/ops/overview").await,
        401,
        "auth.unauthenticated",
    )
    .await;
    for persona in ["operator-liu", "auditor-sun", "admin-zhou"] {
        let token = app.login(persona).await;
        let body: Value = app
            .get_as("/api/v1/ops/overview", &token)
            .await
            .json()
            .await
            .unwrap();
        assert!(
            body["principals_by_role"]["citizen"].as_i64().unwrap() >= 2,
            "{body}"
        );
        assert!(body["active_sessions"].as_i64().unwrap() >= 1);
    }
}

#[tokio::test]
async fn unknown_personas_are_refused_clearly() {
    let app = spawn_app().await;
    let response = app
        .post_json("/api/v1/auth/dev-login", &json!({ "persona": "mallory" }))
        .await;
    let body = assert_problem(response, 422, "auth.unknown_persona").await;
    assert!(body["detail"].as_str().unwrap().contains("mallory"));
}

#[tokio::test]
async fn development_sign_in_is_off_in_production_mode() {
    let app = spawn_app_with(|c| c.auth.dev_login = false).await;
    assert_problem(app.get("/api/v1/auth/personas").await, 404, "not_found").await;
    let response = app
        .post_json(
            "/api/v1/auth/dev-login",
            &json!({ "persona": "admin-zhou" }),
        )
        .await;
    assert_problem(response, 404, "not_found").await;
}

struct BankApp {
    key: Sm2SigningKey,
}

impl BankApp {
    fn claims(&self, now: i64) -> Claims {
        Claims {
            iss: "bank-app".into(),
            sub: "u-000123".into(),
            role: "citizen".into(),
            name: "欧阳明".into(),
            iat: now,
            exp: now + 120,
            nonce: hex::encode(bianmin_crypto::random_bytes::<16>()),
            resident_id: Some("11010519491231002X".into()),
        }
    }

    fn sign(&self, claims: &Claims) -> String {
        assertion::sign(&self.key, bianmin_crypto::DEFAULT_SM2_USER_ID, claims)
    }
}

async fn app_trusting(bank: &BankApp) -> common::TestApp {
    let public = bank.key.verifying_key().to_hex();
    spawn_app_with(move |c| {
        c.auth.dev_login = false;
        c.auth.bank_app_public_key = Some(public);
    })
    .await
}

#[tokio::test]
async fn a_bank_app_assertion_signs_the_citizen_in_once() {
    let bank = BankApp {
        key: Sm2SigningKey::generate(),
    };
    let app = app_trusting(&bank).await;
    let now = app.clock.now_ts();
    let signed = bank.sign(&bank.claims(now));
    let response = app
        .post_json("/api/v1/auth/assertion", &json!({ "assertion": signed }))
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["principal"]["display_name"], "**明");
    let token = body["token"].as_str().unwrap();
    let me: Value = app.get_as("/api/v1/me", token).await.json().await.unwrap();
    assert_eq!(me["role"], "citizen");

    // The same assertion again is a replay.
    let replay = app
        .post_json("/api/v1/auth/assertion", &json!({ "assertion": signed }))
        .await;
    assert_problem(replay, 401, "auth.assertion_invalid").await;
}

#[tokio::test]
async fn forged_stale_or_overreaching_assertions_are_refused() {
    let bank = BankApp {
        key: Sm2SigningKey::generate(),
    };
    let impostor = BankApp {
        key: Sm2SigningKey::generate(),
    };
    let app = app_trusting(&bank).await;
    let now = app.clock.now_ts();

    let forged = impostor.sign(&bank.claims(now));
    let mut stale = bank.claims(now - 3600);
    stale.exp = now - 3000;
    let mut admin = bank.claims(now);
    admin.role = "admin".into();
    let mut foreign = bank.claims(now);
    foreign.iss = "other-bank".into();
    let tampered = {
        let good = bank.sign(&bank.claims(now));
        let (_, signature) = good.split_once('.').unwrap();
        let mut rich = bank.claims(now);
        rich.role = "enterprise".into();
        let (body, _) = bank
            .sign(&rich)
            .split_once('.')
            .map(|(b, s)| (b.to_string(), s.to_string()))
            .unwrap();
        format!("{body}.{signature}")
    };
    for assertion in [
        forged,
        bank.sign(&stale),
        bank.sign(&admin),
        bank.sign(&foreign),
        tampered,
        "not-an-assertion".into(),
    ] {
        let response = app
            .post_json("/api/v1/auth/assertion", &json!({ "assertion": assertion }))
            .await;
        assert_problem(response, 401, "auth.assertion_invalid").await;
    }
    assert!(app.db.store.events_after(0, 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn an_assertion_with_a_wrong_resident_id_names_the_error() {
    let bank = BankApp {
        key: Sm2SigningKey::generate(),
    };
    let app = app_trusting(&bank).await;
    let mut claims = bank.claims(app.clock.now_ts());
    claims.resident_id = Some("110105194912310021".into());
    let response = app
        .post_json(
            "/api/v1/auth/assertion",
            &json!({ "assertion": bank.sign(&claims) }),
        )
        .await;
    let body = assert_problem(response, 422, "resident_id.bad_check_digit").await;
    assert!(
        body["detail"].as_str().unwrap().contains("校验位"),
        "{body}"
    );
    assert!(!body.to_string().contains("110105194912310021"), "{body}");
}

trait NowTs {
    fn now_ts(&self) -> i64;
}

impl NowTs for bianmin_core::TestClock {
    fn now_ts(&self) -> i64 {
        use bianmin_core::Clock;
        self.now().timestamp()
    }
}
