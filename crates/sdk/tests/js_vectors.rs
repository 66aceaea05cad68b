//! The H5 code and this crate sign the same text: vectors made in Node by
//! `web/assets/signing.js` with the vendored sm-crypto (`tests/data/gen.js`).

use bianmin_crypto::Sm2VerifyingKey;
use bianmin_sdk::{SIGNER_ID, answer_challenge, body_digest_hex, canonical_request};
use serde_json::Value;

fn vectors() -> Value {
    serde_json::from_str(include_str!("data/request_vectors.json")).unwrap()
}

fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is not a string"))
}

#[test]
fn rust_builds_the_canonical_strings_the_browser_signs() {
    let vectors = vectors();
    let requests = vectors["requests"].as_array().unwrap();
    assert!(requests.len() >= 5);
    for request in requests {
        let body = request["body"].as_str().unwrap_or_default().as_bytes();
        let canonical = canonical_request(
            text(request, "method"),
            text(request, "path"),
            request["query"].as_str(),
            request["timestamp"].as_i64().unwrap(),
            text(request, "nonce"),
            body,
        );
        assert_eq!(canonical, text(request, "canonical"));
        assert_eq!(body_digest_hex(body), text(request, "body_sm3"));
    }
}

#[test]
fn the_browser_encodes_a_chinese_plate_as_the_signature_expects() {
    let vectors = vectors();
    let plate = &vectors["requests"][0];
    assert_eq!(
        text(plate, "request_target"),
        "/api/v1/me/traffic/violations?status=unpaid&plate=%E5%B7%9DA12345&page=1"
    );
    assert!(text(plate, "canonical").contains("\npage=1&plate=%E5%B7%9DA12345&status=unpaid\n"));
}

#[test]
fn signatures_made_by_sm2_js_verify_and_altered_ones_do_not() {
    let vectors = vectors();
    let key = Sm2VerifyingKey::from_hex(text(&vectors, "public_key")).unwrap();
    for request in vectors["requests"].as_array().unwrap() {
        let canonical = text(request, "canonical");
        let signature = hex::decode(text(request, "signature")).unwrap();
        key.verify(SIGNER_ID, canonical.as_bytes(), &signature)
            .unwrap_or_else(|_| panic!("{} refused", text(request, "request_target")));

        let mut flipped = signature.clone();
        flipped[40] ^= 1;
        assert!(
            key.verify(SIGNER_ID, canonical.as_bytes(), &flipped)
                .is_err()
        );
        let other_time = canonical.replace("\n175000000", "\n175000009");
        assert!(
            key.verify(SIGNER_ID, other_time.as_bytes(), &signature)
                .is_err()
        );
    }
}

#[test]
fn the_browser_and_rust_find_the_same_proof_of_work() {
    let vectors = vectors();
    let challenges = vectors["challenges"].as_array().unwrap();
    // The worked example of `bianmin_guard::challenge`; its difficulty byte is 0, so only the
    // JavaScript solver (which takes the difficulty apart) can be given it.
    assert_eq!(challenges[0]["counter"], 143);
    for challenge in &challenges[1..] {
        let token = text(challenge, "token");
        let counter = challenge["counter"].as_u64().unwrap();
        assert_eq!(
            answer_challenge(token).unwrap(),
            format!("{token}:{counter}")
        );
    }
}
