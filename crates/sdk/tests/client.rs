//! The `Client` against a stand-in server that checks signatures with this crate's
//! `canonical_request` and challenges with a real `ChallengeIssuer`, as the server does.
#![cfg(feature = "client")]

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use bianmin_core::SystemClock;
use bianmin_crypto::Sm2VerifyingKey;
use bianmin_guard::{ChallengeIssuer, GuardSecret};
use bianmin_sdk::{
    Client, HEADER_CHALLENGE, HEADER_DEVICE, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP,
    SIGNER_ID, SdkError, canonical_request, is_signed_path, parse_timestamp,
};
use serde_json::{Value, json};
use uuid::Uuid;

const TOKEN: &str = "session-token-of-a-citizen";
const CHALLENGED: &str = "/api/v1/me/traffic/violations";

/// What the stand-in server saw of one request.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    nonce: Option<String>,
    challenge_answer: Option<String>,
    client_tag: Option<String>,
    user_agent: String,
}

struct Server {
    issuer: ChallengeIssuer,
    devices: Mutex<HashMap<Uuid, Sm2VerifyingKey>>,
    nonces: Mutex<HashSet<String>>,
    seen: Mutex<Vec<Seen>>,
}

type Shared = Arc<Server>;

fn problem(status: StatusCode, code: &str, extra: Value) -> Response {
    let mut body = json!({ "status": status.as_u16(), "code": code, "detail": "中文说明" });
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    let mut response = (status, Json(body)).into_response();
    response
        .headers_mut()
        .insert("content-type", "application/problem+json".parse().unwrap());
    response
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

/// The signature check the server makes (without the clock and device-owner rules).
fn check_signature(
    server: &Server,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), &'static str> {
    let parts = [
        HEADER_DEVICE,
        HEADER_TIMESTAMP,
        HEADER_NONCE,
        HEADER_SIGNATURE,
    ]
    .map(|name| header(headers, name));
    let [Some(device), Some(timestamp), Some(nonce), Some(signature)] = parts else {
        return Err(if parts.iter().all(Option::is_none) {
            "signature.required"
        } else {
            "signature.malformed"
        });
    };
    let timestamp = parse_timestamp(&timestamp).ok_or("signature.malformed")?;
    let device: Uuid = device.parse().map_err(|_| "signature.malformed")?;
    let key = server
        .devices
        .lock()
        .unwrap()
        .get(&device)
        .cloned()
        .ok_or("signature.unknown_device")?;
    let message = canonical_request(
        method.as_str(),
        uri.path(),
        uri.query(),
        timestamp,
        &nonce,
        body,
    );
    let signature = hex::decode(signature).map_err(|_| "signature.malformed")?;
    key.verify(SIGNER_ID, message.as_bytes(), &signature)
        .map_err(|_| "signature.invalid")?;
    if !server
        .nonces
        .lock()
        .unwrap()
        .insert(nonce.to_ascii_lowercase())
    {
        return Err("signature.replayed");
    }
    Ok(())
}

async fn handle(
    State(server): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    server.seen.lock().unwrap().push(Seen {
        path: uri.to_string(),
        nonce: header(&headers, HEADER_NONCE),
        challenge_answer: header(&headers, HEADER_CHALLENGE),
        client_tag: header(&headers, "x-bm-client"),
        user_agent: header(&headers, "user-agent").unwrap_or_default(),
    });
    if header(&headers, "authorization").as_deref() != Some(&format!("Bearer {TOKEN}")) {
        return problem(StatusCode::UNAUTHORIZED, "auth.required", json!({}));
    }
    if uri.path() == "/api/v1/me/devices" && method == Method::POST {
        let request: Value = serde_json::from_slice(&body).unwrap();
        let key = Sm2VerifyingKey::from_hex(request["public_key"].as_str().unwrap()).unwrap();
        let id = Uuid::now_v7();
        server.devices.lock().unwrap().insert(id, key);
        return (
            StatusCode::CREATED,
            Json(json!({ "id": id, "label": request["label"] })),
        )
            .into_response();
    }
    if is_signed_path(uri.path())
        && let Err(code) = check_signature(&server, &method, &uri, &headers, &body)
    {
        return problem(StatusCode::UNAUTHORIZED, code, json!({}));
    }
    let challenge = |code| {
        problem(
            StatusCode::PRECONDITION_REQUIRED,
            code,
            json!({ "challenge": server.issuer.issue("device") }),
        )
    };
    match uri.path() {
        CHALLENGED | "/api/v1/me/always-challenged" => {
            let Some(answer) = header(&headers, HEADER_CHALLENGE) else {
                return challenge("guard.challenge");
            };
            let (token, counter) = answer.rsplit_once(':').unwrap();
            let accepted = server
                .issuer
                .verify("device", token, counter.parse().unwrap())
                .await
                .is_ok();
            if !accepted || uri.path() != CHALLENGED {
                return challenge("guard.challenge_failed");
            }
        }
        "/api/v1/me/limited" => {
            let mut response = problem(StatusCode::TOO_MANY_REQUESTS, "rate_limited", json!({}));
            response
                .headers_mut()
                .insert("retry-after", "7".parse().unwrap());
            return response;
        }
        "/api/v1/me/blocked" => {
            let mut response = problem(StatusCode::FORBIDDEN, "guard.blocked", json!({}));
            response
                .headers_mut()
                .insert("retry-after", "600".parse().unwrap());
            return response;
        }
        _ => {}
    }
    let echo = json!({ "query": uri.query(), "body": String::from_utf8_lossy(&body) });
    Json(echo).into_response()
}

async fn start() -> (String, Shared) {
    let secret = GuardSecret::from_bytes(&[3; 32]).unwrap();
    let server = Arc::new(Server {
        issuer: ChallengeIssuer::new(&secret, Arc::new(SystemClock), 10).unwrap(),
        devices: Mutex::default(),
        nonces: Mutex::default(),
        seen: Mutex::default(),
    });
    let app = axum::Router::new()
        .fallback(handle)
        .with_state(Arc::clone(&server));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{address}"), server)
}

async fn enrolled(base: &str) -> Client {
    let mut client = Client::new(base, TOKEN).unwrap();
    client.enrol("测试手机").await.unwrap();
    client
}

fn seen(server: &Server) -> Vec<Seen> {
    server.seen.lock().unwrap().clone()
}

fn refusal(result: Result<reqwest::Response, SdkError>) -> bianmin_sdk::Refusal {
    match result {
        Err(SdkError::Refused(refusal)) => *refusal,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn an_enrolled_client_signs_answers_the_challenge_and_is_served() {
    let (base, server) = start().await;
    let client = enrolled(&base).await;
    let device = client.signer().unwrap().device_id();
    assert!(server.devices.lock().unwrap().contains_key(&device));

    let response = client
        .get(&format!("{CHALLENGED}?plate=川A12345&page=1"))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let echo: Value = response.json().await.unwrap();
    assert_eq!(echo["query"], "plate=%E5%B7%9DA12345&page=1");

    let seen = seen(&server);
    let [enrolment, first, retry] = seen.as_slice() else {
        panic!("{seen:?}");
    };
    assert_eq!(enrolment.nonce, None, "enrolment is not signed");
    assert_eq!(
        retry.path,
        "/api/v1/me/traffic/violations?plate=%E5%B7%9DA12345&page=1"
    );
    assert_eq!(first.challenge_answer, None);
    assert!(retry.challenge_answer.is_some());
    assert_ne!(first.nonce, retry.nonce, "the retry is signed anew");
    assert!(retry.user_agent.contains("BianminApp"));
    assert_eq!(retry.client_tag.as_deref(), Some("sdk-rust"));
}

#[tokio::test]
async fn json_bodies_are_signed_as_sent() {
    let (base, server) = start().await;
    let client = enrolled(&base).await;
    let body = json!({ "plate": "川A12345", "remark": "便民缴费" });
    let response = client
        .post_json("/api/v1/me/traffic/payments", &body)
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let echo: Value = response.json().await.unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(echo["body"].as_str().unwrap()).unwrap(),
        body
    );

    let response = client
        .send(
            Method::POST,
            "/api/v1/me/sscard/activate",
            None,
            &[("Idempotency-Key", "k-1")],
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "an empty body is signed too");
    assert_eq!(seen(&server).len(), 3);
}

#[tokio::test]
async fn rate_limits_and_blocks_are_returned_not_retried() {
    let (base, server) = start().await;
    let client = enrolled(&base).await;

    let limited = refusal(client.get("/api/v1/me/limited").await);
    assert_eq!(
        (limited.status, limited.code.as_str()),
        (429, "rate_limited")
    );
    assert_eq!(limited.retry_after, Some(Duration::from_secs(7)));
    assert_eq!(limited.detail, "中文说明");

    let blocked = refusal(client.get("/api/v1/me/blocked").await);
    assert_eq!(
        (blocked.status, blocked.code.as_str()),
        (403, "guard.blocked")
    );
    assert_eq!(blocked.retry_after, Some(Duration::from_secs(600)));
    assert_eq!(seen(&server).len(), 3, "one request each after enrolment");
}

#[tokio::test]
async fn a_challenge_is_answered_once_at_most() {
    let (base, server) = start().await;
    let client = enrolled(&base).await;
    let refused = refusal(client.get("/api/v1/me/always-challenged").await);
    assert_eq!(
        (refused.status, refused.code.as_str()),
        (428, "guard.challenge_failed")
    );
    assert_eq!(
        seen(&server).len(),
        3,
        "enrolment, the request and one retry"
    );

    let unwilling = enrolled(&base).await.without_challenge_solving();
    let refused = refusal(unwilling.get(CHALLENGED).await);
    assert_eq!(
        (refused.status, refused.code.as_str()),
        (428, "guard.challenge")
    );
    assert_eq!(seen(&server).len(), 5, "a second enrolment and one request");
}

#[tokio::test]
async fn a_client_without_a_key_sends_unsigned_requests() {
    let (base, server) = start().await;
    let client = Client::new(&base, TOKEN)
        .unwrap()
        .with_client_tag(Some("app"))
        .with_user_agent("Mozilla/5.0 BianminApp/9.1");
    let response = client.get("/api/v1/me/hpf/account").await.unwrap();
    assert_eq!(response.status(), 401);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["code"], "signature.required");
    let seen = seen(&server);
    assert_eq!(seen[0].client_tag.as_deref(), Some("app"));
    assert_eq!(seen[0].user_agent, "Mozilla/5.0 BianminApp/9.1");
}

#[test]
fn debug_output_does_not_show_the_session_token() {
    let client = Client::new("http://127.0.0.1:1", TOKEN).unwrap();
    assert!(!format!("{client:?}").contains(TOKEN));
    assert!(matches!(
        Client::new("not a url", TOKEN),
        Err(SdkError::InvalidUrl(_))
    ));
}
