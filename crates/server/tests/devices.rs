//! Device keys over HTTP: a citizen enrols the SM2 public key of a key pair made on the device
//! (idempotently, never another person's key, at most five), sees and revokes only their own,
//! and what the device signs verifies through `verify_device_signature` — including signatures
//! made in JavaScript by the vendored sm-crypto (fixed vectors).

mod common;

use bianmin_crypto::{DEFAULT_SM2_USER_ID, Sm2SigningKey, sm3_digest};
use bianmin_server::devices::{DeviceKeyInfo, verify_device_signature};
use bianmin_server::http::problem::ApiError;
use bianmin_store::on_pool;
use common::{TestApp, assert_problem, spawn_app};
use serde_json::{Value, json};
use uuid::Uuid;

async fn person_of(app: &TestApp, persona: &str) -> Uuid {
    on_pool!(app.db.store, pool => {
        sqlx::query_scalar("SELECT person_id FROM principals WHERE persona = $1")
            .bind(persona)
            .fetch_one(pool)
            .await
            .unwrap()
    })
}

async fn enrol(app: &TestApp, token: &str, public_key: &str, label: &str) -> reqwest::Response {
    app.post_as(
        "/api/v1/me/devices",
        token,
        &json!({ "public_key": public_key, "label": label }),
    )
    .await
}

/// Enrols a fresh Rust-generated key; returns the key and the device id.
async fn enrolled_key(app: &TestApp, token: &str) -> (Sm2SigningKey, Uuid) {
    let key = Sm2SigningKey::generate();
    let response = enrol(app, token, &key.verifying_key().to_hex(), "测试手机").await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    (key, body["id"].as_str().unwrap().parse().unwrap())
}

async fn devices(app: &TestApp, token: &str) -> Vec<Value> {
    let response = app.get_as("/api/v1/me/devices", token).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn assert_refused(result: Result<DeviceKeyInfo, ApiError>, code: &str, status: u16) {
    let err = result.unwrap_err();
    assert_eq!((err.code(), err.status().as_u16()), (code, status), "{err}");
}

async fn audit_count(app: &TestApp, action: &str) -> i64 {
    on_pool!(app.db.store, pool => {
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = $1")
            .bind(action)
            .fetch_one(pool)
            .await
            .unwrap()
    })
}

#[tokio::test]
async fn a_citizen_enrols_a_device_once_sees_only_their_own_and_revokes_it() {
    let app = spawn_app().await;
    let zhang = app.login("citizen-zhang").await;
    let li = app.login("citizen-li").await;
    let key = Sm2SigningKey::generate();
    let public_key = key.verifying_key().to_hex();

    let response = enrol(&app, &zhang, &public_key, "iPhone 15").await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let device: Value = response.json().await.unwrap();
    assert_eq!(device["label"], "iPhone 15");
    assert_eq!(device["public_key"], public_key);
    assert_eq!(
        device["fingerprint"],
        hex::encode(sm3_digest(&key.verifying_key().to_sec1_bytes()))
    );
    assert_eq!(device["active"], true);
    assert!(device["created_at"].is_string());
    let id = device["id"].as_str().unwrap().to_owned();

    // The same key again (an app enrolling on every start): the same device, nothing new.
    let again = enrol(&app, &zhang, &public_key.to_uppercase(), "别的名字").await;
    assert_eq!(again.status(), 200);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["id"], id);
    assert_eq!(again["label"], "iPhone 15");
    assert_eq!(again["created_at"], device["created_at"]);
    assert_eq!(audit_count(&app, "device.enrol").await, 1);

    let listed = devices(&app, &zhang).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0], device);
    // Li sees none of Zhang's, cannot take his key, and cannot revoke his device.
    assert!(devices(&app, &li).await.is_empty());
    assert_problem(
        enrol(&app, &li, &public_key, "偷来的").await,
        409,
        "device.key_taken",
    )
    .await;
    assert_problem(
        app.post_as(&format!("/api/v1/me/devices/{id}/revoke"), &li, &json!({}))
            .await,
        404,
        "device.unknown",
    )
    .await;
    assert_problem(
        app.post_as(
            &format!("/api/v1/me/devices/{}/revoke", Uuid::now_v7()),
            &zhang,
            &json!({}),
        )
        .await,
        404,
        "device.unknown",
    )
    .await;

    let revoked = app
        .post_as(
            &format!("/api/v1/me/devices/{id}/revoke"),
            &zhang,
            &json!({}),
        )
        .await;
    assert_eq!(revoked.status(), 200);
    let revoked: Value = revoked.json().await.unwrap();
    assert_eq!(revoked["active"], false);
    assert!(revoked["revoked_at"].is_string());
    // Twice is the same answer, audited once.
    let twice: Value = app
        .post_as(
            &format!("/api/v1/me/devices/{id}/revoke"),
            &zhang,
            &json!({}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(twice, revoked);
    assert_eq!(audit_count(&app, "device.revoke").await, 1);
    assert_eq!(devices(&app, &zhang).await, vec![revoked]);
    // A revoked key does not come back.
    assert_problem(
        enrol(&app, &zhang, &public_key, "iPhone 15").await,
        409,
        "device.key_revoked",
    )
    .await;
    let report = app
        .db
        .store
        .verify_audit(app.state.keyring().audit_key())
        .await
        .unwrap();
    assert!(report.is_intact(), "{report:?}");
}

#[tokio::test]
async fn invalid_keys_and_labels_are_refused_in_chinese() {
    let app = spawn_app().await;
    let zhang = app.login("citizen-zhang").await;
    let off_curve = format!("04{}", "01".repeat(64));
    let valid = Sm2SigningKey::generate().verifying_key().to_hex();
    for bad in ["", "hello", "04abcd", off_curve.as_str(), &valid[..128]] {
        let body = assert_problem(
            enrol(&app, &zhang, bad, "手机").await,
            422,
            "device.invalid_key",
        )
        .await;
        assert!(body["detail"].as_str().unwrap().contains("公钥"), "{body}");
    }
    assert_problem(
        enrol(&app, &zhang, &valid, &"长".repeat(33)).await,
        422,
        "device.invalid_label",
    )
    .await;
    assert_problem(
        enrol(&app, &zhang, &valid, "手机\n第二行").await,
        422,
        "device.invalid_label",
    )
    .await;
    assert!(devices(&app, &zhang).await.is_empty());

    // Staff have no device keys of their own here.
    let hospital = app.login("institution-hospital").await;
    assert_problem(
        enrol(&app, &hospital, &valid, "前台").await,
        403,
        "auth.forbidden",
    )
    .await;
}

#[tokio::test]
async fn no_more_than_five_active_devices() {
    let app = spawn_app().await;
    let zhang = app.login("citizen-zhang").await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(enrolled_key(&app, &zhang).await.1);
    }
    let sixth = Sm2SigningKey::generate().verifying_key().to_hex();
    assert_problem(
        enrol(&app, &zhang, &sixth, "第六台").await,
        409,
        "device.too_many",
    )
    .await;
    let revoked = app
        .post_as(
            &format!("/api/v1/me/devices/{}/revoke", ids[2]),
            &zhang,
            &json!({}),
        )
        .await;
    assert_eq!(revoked.status(), 200);
    assert_eq!(enrol(&app, &zhang, &sixth, "第六台").await.status(), 201);
    let listed = devices(&app, &zhang).await;
    assert_eq!(listed.len(), 6);
    assert_eq!(listed.iter().filter(|d| d["active"] == true).count(), 5);
}

#[tokio::test]
async fn a_device_signature_verifies_until_the_device_is_revoked() {
    let app = spawn_app().await;
    let zhang = app.login("citizen-zhang").await;
    app.login("citizen-li").await;
    let person = person_of(&app, "citizen-zhang").await;
    let li_person = person_of(&app, "citizen-li").await;
    let (key, device) = enrolled_key(&app, &zhang).await;
    let message = "bianmin.loan-contract.v1\n合同 SM3：abc".as_bytes();
    let signature = hex::encode(key.sign(DEFAULT_SM2_USER_ID, message));

    let info = verify_device_signature(&app.state, person, device, message, &signature)
        .await
        .unwrap();
    assert_eq!(info.id, device);
    assert_eq!(info.label, "测试手机");
    assert_eq!(info.public_key, key.verifying_key().to_hex());
    assert_eq!(
        info.fingerprint,
        hex::encode(sm3_digest(&key.verifying_key().to_sec1_bytes()))
    );
    // Upper-case hex is the same signature.
    verify_device_signature(
        &app.state,
        person,
        device,
        message,
        &signature.to_uppercase(),
    )
    .await
    .unwrap();
    let listed = devices(&app, &zhang).await;
    assert!(listed[0]["last_used_at"].is_string(), "{listed:?}");

    let bad = |result| assert_refused(result, "device.bad_signature", 422);
    let unknown = |result| assert_refused(result, "device.unknown", 403);
    // Another message, a flipped bit, a signature with another signer id, garbage.
    bad(verify_device_signature(&app.state, person, device, b"other", &signature).await);
    let mut flipped = hex::decode(&signature).unwrap();
    flipped[40] ^= 0x01;
    bad(verify_device_signature(&app.state, person, device, message, &hex::encode(flipped)).await);
    let other_id = hex::encode(key.sign("bianmin", message));
    bad(verify_device_signature(&app.state, person, device, message, &other_id).await);
    bad(verify_device_signature(&app.state, person, device, message, "zz").await);
    bad(verify_device_signature(&app.state, person, device, message, &signature[..126]).await);
    // The right signature under another person or an unknown device.
    unknown(verify_device_signature(&app.state, li_person, device, message, &signature).await);
    unknown(verify_device_signature(&app.state, person, Uuid::now_v7(), message, &signature).await);

    let revoked = app
        .post_as(
            &format!("/api/v1/me/devices/{device}/revoke"),
            &zhang,
            &json!({}),
        )
        .await;
    assert_eq!(revoked.status(), 200);
    unknown(verify_device_signature(&app.state, person, device, message, &signature).await);
}

/// Signatures made in Node by the vendored `web/vendor/sm-crypto/sm2.js` with
/// `doSignature(message, privateKey, { hash: true, userId: '1234567812345678' })` (the script is
/// in `docs/sdk.md`): what the browser sends must verify here, byte for byte.
#[tokio::test]
async fn signatures_made_by_sm_crypto_in_javascript_verify() {
    let vectors: Value = serde_json::from_str(include_str!("data/sm2_js_vectors.json")).unwrap();
    assert_eq!(vectors["user_id"], DEFAULT_SM2_USER_ID);
    let app = spawn_app().await;
    let zhang = app.login("citizen-zhang").await;
    let person = person_of(&app, "citizen-zhang").await;
    // The key pair sm-crypto generated enrols as the browser would send it.
    let response = enrol(
        &app,
        &zhang,
        vectors["public_key"].as_str().unwrap(),
        "Chrome 浏览器",
    )
    .await;
    assert_eq!(response.status(), 201);
    let device: Uuid = response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    // Our own signer agrees with sm-crypto about the key: the private key gives the public one.
    let private = hex::decode(vectors["private_key"].as_str().unwrap()).unwrap();
    assert_eq!(
        Sm2SigningKey::from_secret_bytes(&private)
            .unwrap()
            .verifying_key()
            .to_hex(),
        vectors["public_key"]
    );

    let list = vectors["vectors"].as_array().unwrap();
    assert!(list.len() >= 5);
    assert!(
        list.iter().any(|v| {
            let s = v["signature"].as_str().unwrap();
            s.starts_with("00") || s[64..].starts_with("00")
        }),
        "one vector pins the fixed-width encoding of a short r or s"
    );
    for vector in list {
        let message = vector["message"].as_str().unwrap().as_bytes();
        let signature = vector["signature"].as_str().unwrap();
        verify_device_signature(&app.state, person, device, message, signature)
            .await
            .unwrap_or_else(|e| panic!("{:?}: {e}", vector["message"]));
        for bit in [0usize, 255, 511] {
            let mut flipped = hex::decode(signature).unwrap();
            flipped[bit / 8] ^= 1 << (bit % 8);
            let err =
                verify_device_signature(&app.state, person, device, message, &hex::encode(flipped))
                    .await
                    .unwrap_err();
            assert_eq!(err.code(), "device.bad_signature");
        }
    }
}

/// Racing enrolments (a double-tapped button, several tabs): the limit holds and one key is one
/// device. On PostgreSQL the losers of a race hit the unique indexes and look again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_enrolments_keep_the_limit_and_one_device_per_key() {
    let app = spawn_app().await;
    let zhang = app.login("citizen-zhang").await;
    let same = Sm2SigningKey::generate().verifying_key().to_hex();
    let statuses = enrol_at_once(&app, &zhang, &[same.as_str(); 6]).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        5,
        "{statuses:?}"
    );

    let keys: Vec<String> = (0..8)
        .map(|_| Sm2SigningKey::generate().verifying_key().to_hex())
        .collect();
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    let statuses = enrol_at_once(&app, &zhang, &keys).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        4,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        4,
        "{statuses:?}"
    );
    assert_eq!(devices(&app, &zhang).await.len(), 5);
}

/// Sends one enrolment per key, all at once; returns the statuses.
async fn enrol_at_once(app: &TestApp, token: &str, keys: &[&str]) -> Vec<u16> {
    let mut requests = tokio::task::JoinSet::new();
    for key in keys {
        let request = app
            .client
            .post(app.url("/api/v1/me/devices"))
            .bearer_auth(token)
            .json(&json!({ "public_key": key, "label": "同时" }));
        requests.spawn(async move { request.send().await.unwrap().status().as_u16() });
    }
    requests.join_all().await
}
