//! A device's request signatures as the server checks them, and answers to real challenges.

use std::sync::Arc;

use bianmin_core::TestClock;
use bianmin_crypto::{Sm2SigningKey, Sm2VerifyingKey};
use bianmin_guard::{ChallengeIssuer, GuardSecret};
use bianmin_sdk::{
    DeviceSigner, SIGNER_ID, SignedHeaders, answer_challenge, canonical_request, parse_timestamp,
};
use chrono::{TimeZone, Utc};
use uuid::Uuid;

const NONCE: &str = "9f86d081884c7d659a2feaa0c55ad015";
const TIMESTAMP: i64 = 1_750_000_000;

fn device() -> (DeviceSigner, Sm2VerifyingKey) {
    let key = Sm2SigningKey::generate();
    let public = key.verifying_key();
    (DeviceSigner::new(Uuid::now_v7(), key), public)
}

/// A request as the server sees it: the request line and the body.
struct Seen<'a> {
    method: &'a str,
    path: &'a str,
    query: Option<&'a str>,
    body: &'a [u8],
}

/// The server's check: rebuild the canonical request from what arrived and verify.
fn server_accepts(public: &Sm2VerifyingKey, seen: &Seen<'_>, headers: &SignedHeaders) -> bool {
    let Some(timestamp) = parse_timestamp(&headers.timestamp) else {
        return false;
    };
    let message = canonical_request(
        seen.method,
        seen.path,
        seen.query,
        timestamp,
        &headers.nonce,
        seen.body,
    );
    let signature = hex::decode(&headers.signature).unwrap();
    public
        .verify(SIGNER_ID, message.as_bytes(), &signature)
        .is_ok()
}

#[test]
fn a_signed_request_verifies_as_sent() {
    let (signer, public) = device();
    let body = r#"{"plate":"川A12345","amount":"200.00"}"#.as_bytes();
    let headers = signer.sign(
        "POST",
        "/api/v1/me/traffic/payments",
        Some("x=1"),
        body,
        TIMESTAMP,
        NONCE,
    );
    assert_eq!(headers.device, signer.device_id().to_string());
    assert_eq!(headers.timestamp, "1750000000");
    assert_eq!(headers.nonce, NONCE);
    assert_eq!(headers.signature.len(), 128);
    let sent = Seen {
        method: "POST",
        path: "/api/v1/me/traffic/payments",
        query: Some("x=1"),
        body,
    };
    assert!(server_accepts(&public, &sent, &headers));
}

#[test]
fn the_query_may_arrive_in_any_order_but_not_changed() {
    let (signer, public) = device();
    let headers = signer.sign(
        "GET",
        "/api/v1/me/traffic/violations",
        Some("plate=%E5%B7%9DA12345&page=2"),
        b"",
        TIMESTAMP,
        NONCE,
    );
    let seen = |query| Seen {
        method: "GET",
        path: "/api/v1/me/traffic/violations",
        query: Some(query),
        body: b"",
    };
    assert!(server_accepts(
        &public,
        &seen("page=2&plate=%E5%B7%9DA12345&"),
        &headers
    ));
    for altered in [
        "plate=%E5%B7%9DA12346&page=2",
        "plate=%E5%B7%9DA12345&page=3",
        "plate=%e5%b7%9dA12345&page=2",
        "plate=%E5%B7%9DA12345",
        "plate=%E5%B7%9DA12345&page=2&page=2",
    ] {
        assert!(
            !server_accepts(&public, &seen(altered), &headers),
            "{altered} accepted"
        );
    }
}

#[test]
fn a_changed_method_path_body_or_time_is_refused() {
    let (signer, public) = device();
    let body = br#"{"amount":"200.00"}"#;
    let headers = signer.sign(
        "POST",
        "/api/v1/me/loan/line/draws",
        None,
        body,
        TIMESTAMP,
        NONCE,
    );
    let sent = Seen {
        method: "POST",
        path: "/api/v1/me/loan/line/draws",
        query: None,
        body,
    };
    assert!(server_accepts(&public, &sent, &headers));

    let other_path = Seen {
        path: "/api/v1/me/loan/line/repayments",
        ..sent
    };
    let other_method = Seen {
        method: "PUT",
        ..sent
    };
    let other_body = Seen {
        body: br#"{"amount":"900.00"}"#,
        ..sent
    };
    let with_query = Seen {
        query: Some("amount=900.00"),
        ..sent
    };
    for seen in [other_path, other_method, other_body, with_query] {
        assert!(!server_accepts(&public, &seen, &headers));
    }

    let later = SignedHeaders {
        timestamp: (TIMESTAMP + 1).to_string(),
        ..headers.clone()
    };
    let other_nonce = SignedHeaders {
        nonce: "0".repeat(32),
        ..headers.clone()
    };
    let padded_time = SignedHeaders {
        timestamp: format!("0{TIMESTAMP}"),
        ..headers.clone()
    };
    for altered in [later, other_nonce, padded_time] {
        assert!(!server_accepts(&public, &sent, &altered));
    }

    let (_, stranger) = device();
    assert!(!server_accepts(&stranger, &sent, &headers));
}

#[tokio::test]
async fn answers_to_real_challenges_are_accepted_once() {
    let clock = TestClock::at(Utc.with_ymd_and_hms(2025, 6, 1, 8, 0, 0).unwrap());
    let secret = GuardSecret::from_bytes(&[9; 32]).unwrap();
    let issuer = ChallengeIssuer::new(&secret, Arc::new(clock), 12).unwrap();
    let challenge = issuer.issue("device-1");

    let answer = answer_challenge(challenge.token()).unwrap();
    let (token, counter) = answer.rsplit_once(':').unwrap();
    assert_eq!(token, challenge.token());
    let counter: u64 = counter.parse().unwrap();
    issuer.verify("device-1", token, counter).await.unwrap();
    assert!(issuer.verify("device-1", token, counter).await.is_err());
}
