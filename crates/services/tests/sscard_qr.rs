//! The electronic social-security card's dynamic QR code, through the public API: issue and
//! verify, each rejection, key rotation, and what the text does (not) reveal.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bianmin_crypto::Sm2SigningKey;
use bianmin_services::sscard::qr::{
    DEVICE_DIGEST_LEN, DynamicQr, NONCE_LEN, PAYLOAD_LEN, QR_FORMAT_VERSION, QR_PREFIX,
    QR_TEXT_LEN, QrIssuer, QrPolicy, QrRejection, QrVerifier, VerifiedQr, device_digest,
};
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use uuid::Uuid;

const DEVICE_ID: &str = "7f3c9a2e-5b41-4d8e-9c06-1a2b3c4d5e6f";
const RESIDENT_ID: &str = "11010519491231002X";
const CARD_NUMBER: &str = "A12345678";

/// 2025-03-01 08:00:00 UTC, the start of a window.
fn window_start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 8, 0, 0).unwrap()
}

fn at(offset_secs: i64) -> DateTime<Utc> {
    window_start() + TimeDelta::seconds(offset_secs)
}

fn platform(key_id: u16) -> (QrIssuer, QrVerifier) {
    let issuer = QrIssuer::new(key_id, Sm2SigningKey::generate());
    let verifier = QrVerifier::new().with_key(key_id, issuer.verifying_key());
    (issuer, verifier)
}

fn verify(
    verifier: &QrVerifier,
    qr: &DynamicQr,
    now: DateTime<Utc>,
) -> Result<VerifiedQr, QrRejection> {
    verifier.verify(&qr.text, now, &QrPolicy::default())
}

/// The two base64url parts of a code, decoded.
fn decode_parts(text: &str) -> (Vec<u8>, Vec<u8>) {
    let (payload, signature) = text
        .strip_prefix(QR_PREFIX)
        .unwrap()
        .split_once('.')
        .unwrap();
    (
        URL_SAFE_NO_PAD.decode(payload).unwrap(),
        URL_SAFE_NO_PAD.decode(signature).unwrap(),
    )
}

fn encode_parts(payload: &[u8], signature: &[u8]) -> String {
    format!(
        "{QR_PREFIX}{}.{}",
        URL_SAFE_NO_PAD.encode(payload),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

#[test]
fn issued_code_verifies_and_says_what_was_issued() {
    let (issuer, verifier) = platform(3);
    let card = Uuid::new_v4();
    let qr = issuer.issue(card, DEVICE_ID, at(25)).unwrap();
    assert_eq!(qr.window_start, window_start());
    assert_eq!(qr.expires_at, at(60));

    let verified = verify(&verifier, &qr, at(30)).unwrap();
    assert_eq!(verified.card_token, card);
    assert_eq!(verified.key_id, 3);
    assert_eq!(verified.device_digest, device_digest(DEVICE_ID));
    assert_eq!(
        verified.window,
        u32::try_from(window_start().timestamp() / 60).unwrap()
    );
    assert_eq!(verified.window_start, window_start());
    assert!(!verified.in_grace);
    assert_eq!(verified.check_device(&device_digest(DEVICE_ID)), Ok(()));
    assert_eq!(
        verified.check_device(&device_digest("another-phone")),
        Err(QrRejection::DeviceMismatch)
    );
}

#[test]
fn issue_for_digest_matches_issue() {
    let (issuer, verifier) = platform(1);
    let card = Uuid::new_v4();
    let qr = issuer
        .issue_for_digest(card, device_digest(DEVICE_ID), at(0))
        .unwrap();
    let verified = verify(&verifier, &qr, at(0)).unwrap();
    assert_eq!(verified.device_digest, device_digest(DEVICE_ID));
    assert_eq!(verified.card_token, card);
}

#[test]
fn text_is_short_ascii_and_of_fixed_length() {
    let (issuer, _) = platform(u16::MAX);
    for offset in [0, 17, 59] {
        let qr = issuer.issue(Uuid::new_v4(), DEVICE_ID, at(offset)).unwrap();
        assert!(qr.text.len() < 200);
        assert_eq!(qr.text.len(), QR_TEXT_LEN);
        assert!(qr.text.starts_with("BMSS1."));
        assert!(
            qr.text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        );
    }
}

#[test]
fn payload_is_laid_out_byte_by_byte_as_documented() {
    let (issuer, verifier) = platform(0x0A0B);
    let card = Uuid::new_v4();
    let qr = issuer.issue(card, DEVICE_ID, at(42)).unwrap();
    let verified = verify(&verifier, &qr, at(42)).unwrap();
    let (payload, signature) = decode_parts(&qr.text);
    assert_eq!(payload.len(), PAYLOAD_LEN);
    assert_eq!(signature.len(), 64);
    assert_eq!(payload[0], QR_FORMAT_VERSION);
    assert_eq!(payload[1..3], [0x0A, 0x0B]);
    assert_eq!(payload[3..19], *card.as_bytes());
    assert_eq!(payload[19..35], device_digest(DEVICE_ID));
    assert_eq!(payload[35..39], verified.window.to_be_bytes());
    assert_eq!(payload[39..47], verified.nonce);
    assert_eq!(DEVICE_DIGEST_LEN + NONCE_LEN, 24);
}

#[test]
fn no_personal_identifier_appears_in_clear() {
    let (issuer, _) = platform(1);
    let qr = issuer.issue(Uuid::new_v4(), DEVICE_ID, at(5)).unwrap();
    let (payload, signature) = decode_parts(&qr.text);
    let haystacks: [&[u8]; 3] = [qr.text.as_bytes(), &payload, &signature];
    for haystack in haystacks {
        for secret in [DEVICE_ID, RESIDENT_ID, CARD_NUMBER] {
            let needle = secret.as_bytes();
            assert!(
                !haystack.windows(needle.len()).any(|w| w == needle),
                "{secret} appears in the code"
            );
        }
        // Not even the first 8 characters of the device id.
        assert!(!haystack.windows(8).any(|w| w == &DEVICE_ID.as_bytes()[..8]));
    }
    // The device is there only as its digest, not as bytes of the id.
    assert_eq!(payload[19..35], device_digest(DEVICE_ID));
}

#[test]
fn tampering_any_payload_byte_is_forged() {
    let (issuer, verifier) = platform(1);
    let qr = issuer.issue(Uuid::new_v4(), DEVICE_ID, at(0)).unwrap();
    let (payload, signature) = decode_parts(&qr.text);
    // Every byte but the version (byte 0), whose change makes the code malformed instead.
    for index in 1..PAYLOAD_LEN {
        let mut tampered = payload.clone();
        tampered[index] ^= 0x01;
        let text = encode_parts(&tampered, &signature);
        assert_eq!(
            verifier.verify(&text, at(1), &QrPolicy::default()),
            Err(QrRejection::Forged),
            "payload byte {index}"
        );
    }
    let mut version = payload.clone();
    version[0] ^= 0x01;
    assert_eq!(
        verifier.verify(
            &encode_parts(&version, &signature),
            at(1),
            &QrPolicy::default()
        ),
        Err(QrRejection::Malformed)
    );
    for index in [0, 31, 32, 63] {
        let mut tampered = signature.clone();
        tampered[index] ^= 0x80;
        assert_eq!(
            verifier.verify(
                &encode_parts(&payload, &tampered),
                at(1),
                &QrPolicy::default()
            ),
            Err(QrRejection::Forged),
            "signature byte {index}"
        );
    }
}

#[test]
fn moving_a_code_to_another_card_or_window_is_forged() {
    let (issuer, verifier) = platform(1);
    let qr = issuer.issue(Uuid::new_v4(), DEVICE_ID, at(0)).unwrap();
    let (mut payload, signature) = decode_parts(&qr.text);
    payload[3..19].copy_from_slice(Uuid::new_v4().as_bytes());
    assert_eq!(
        verifier.verify(
            &encode_parts(&payload, &signature),
            at(1),
            &QrPolicy::default()
        ),
        Err(QrRejection::Forged)
    );

    // A screenshot "refreshed" to the current window by rewriting its window number.
    let (mut payload, signature) = decode_parts(&qr.text);
    let window = u32::from_be_bytes(payload[35..39].try_into().unwrap());
    payload[35..39].copy_from_slice(&(window + 5).to_be_bytes());
    assert_eq!(
        verifier.verify(
            &encode_parts(&payload, &signature),
            at(300),
            &QrPolicy::default()
        ),
        Err(QrRejection::Forged)
    );
}

#[test]
fn another_platform_key_is_forged() {
    let (_, verifier) = platform(1);
    // Same key id, different key: an impostor platform.
    let impostor = QrIssuer::new(1, Sm2SigningKey::generate());
    let qr = impostor.issue(Uuid::new_v4(), DEVICE_ID, at(0)).unwrap();
    assert_eq!(verify(&verifier, &qr, at(1)), Err(QrRejection::Forged));
    // A key id the verifier does not hold.
    let unknown = QrIssuer::new(2, Sm2SigningKey::generate());
    let qr = unknown.issue(Uuid::new_v4(), DEVICE_ID, at(0)).unwrap();
    assert_eq!(verify(&verifier, &qr, at(1)), Err(QrRejection::Forged));
    // A verifier without keys refuses everything as forged.
    assert_eq!(
        verify(&QrVerifier::new(), &qr, at(1)),
        Err(QrRejection::Forged)
    );
}

#[test]
fn truncated_or_garbage_text_is_malformed() {
    let (issuer, verifier) = platform(1);
    let qr = issuer.issue(Uuid::new_v4(), DEVICE_ID, at(0)).unwrap();
    let policy = QrPolicy::default();
    let mut inputs: Vec<String> = vec![
        String::new(),
        "BMSS1.".into(),
        "BMSS1..".into(),
        "hello world".into(),
        "https://example.com/?q=BMSS1".into(),
        "社保卡".repeat(52),
        "A".repeat(QR_TEXT_LEN),
        format!("BMSS1.{}", "!".repeat(QR_TEXT_LEN - 6)),
        format!("{}A", qr.text),
        "x".repeat(1_000_000),
    ];
    for cut in [1, 10, QR_TEXT_LEN / 2, QR_TEXT_LEN - 87, QR_TEXT_LEN - 1] {
        inputs.push(qr.text[..cut].to_owned());
    }
    // Payload and signature swapped.
    let (payload, signature) = decode_parts(&qr.text);
    inputs.push(encode_parts(&signature, &payload));
    for input in &inputs {
        assert_eq!(
            verifier.verify(input, at(1), &policy),
            Err(QrRejection::Malformed),
            "{:?}",
            input.chars().take(40).collect::<String>()
        );
    }
}

#[test]
fn code_expires_after_its_window_and_grace() {
    let (issuer, verifier) = platform(1);
    let policy = QrPolicy::default();

    // Issued at the very start of its window: valid 60 s + 10 s grace, then expired.
    let early = issuer.issue(Uuid::new_v4(), DEVICE_ID, at(0)).unwrap();
    assert!(!verify(&verifier, &early, at(59)).unwrap().in_grace);
    assert!(verify(&verifier, &early, at(61)).unwrap().in_grace);
    assert!(verify(&verifier, &early, at(69)).is_ok());
    assert_eq!(verify(&verifier, &early, at(70)), Err(QrRejection::Expired));
    assert_eq!(verify(&verifier, &early, at(71)), Err(QrRejection::Expired));
    assert_eq!(
        verify(&verifier, &early, at(3600)),
        Err(QrRejection::Expired)
    );

    // Without grace, 61 s after issue is always too late.
    let no_grace = policy.with_grace_secs(0);
    assert_eq!(
        verifier.verify(&early.text, at(61), &no_grace),
        Err(QrRejection::Expired)
    );

    // Issued mid-window: 61 s later is past the grace, and so is any screenshot over 70 s old.
    for issued in [0, 11, 30, 59] {
        let qr = issuer.issue(Uuid::new_v4(), DEVICE_ID, at(issued)).unwrap();
        assert_eq!(
            verify(&verifier, &qr, at(issued + 71)),
            Err(QrRejection::Expired),
            "issued at +{issued}s, scanned 71 s later"
        );
        if issued >= 11 {
            assert_eq!(
                verify(&verifier, &qr, at(issued + 61)),
                Err(QrRejection::Expired),
                "issued at +{issued}s, scanned 61 s later"
            );
        }
    }

    // A larger grace, capped at 30 s.
    assert!(
        verifier
            .verify(&early.text, at(84), &policy.with_grace_secs(25))
            .is_ok()
    );
    assert_eq!(
        verifier.verify(&early.text, at(90), &policy.with_grace_secs(600)),
        Err(QrRejection::Expired)
    );
}

#[test]
fn code_from_the_future_is_not_yet_valid() {
    let (issuer, verifier) = platform(1);
    let qr = issuer.issue(Uuid::new_v4(), DEVICE_ID, at(60)).unwrap();
    // The scanner's clock 5 s behind the platform's is tolerated, more is not.
    assert!(verify(&verifier, &qr, at(55)).is_ok());
    assert_eq!(
        verify(&verifier, &qr, at(54)),
        Err(QrRejection::NotYetValid)
    );
    assert_eq!(verify(&verifier, &qr, at(0)), Err(QrRejection::NotYetValid));
    let relaxed = QrPolicy::default().with_future_skew_secs(20);
    assert!(verifier.verify(&qr.text, at(40), &relaxed).is_ok());
}

#[test]
fn rescanning_the_same_code_within_its_window_is_valid() {
    let (issuer, verifier) = platform(1);
    let qr = issuer.issue(Uuid::new_v4(), DEVICE_ID, at(10)).unwrap();
    let first = verify(&verifier, &qr, at(12)).unwrap();
    let second = verify(&verifier, &qr, at(40)).unwrap();
    assert_eq!(first.nonce, second.nonce);
    assert_eq!(first.card_token, second.card_token);
}

#[test]
fn two_codes_in_the_same_window_differ_by_nonce() {
    let (issuer, verifier) = platform(1);
    let card = Uuid::new_v4();
    let one = issuer.issue(card, DEVICE_ID, at(1)).unwrap();
    let two = issuer.issue(card, DEVICE_ID, at(2)).unwrap();
    assert_ne!(one.text, two.text);
    let one = verify(&verifier, &one, at(3)).unwrap();
    let two = verify(&verifier, &two, at(3)).unwrap();
    assert_eq!(one.window, two.window);
    assert_ne!(one.nonce, two.nonce);
}

#[test]
fn old_key_verifies_while_listed_after_rotation() {
    let old = QrIssuer::new(1, Sm2SigningKey::generate());
    let new = QrIssuer::new(2, Sm2SigningKey::generate());
    let mut verifier = QrVerifier::new().with_key(1, old.verifying_key());

    let before = old.issue(Uuid::new_v4(), DEVICE_ID, at(50)).unwrap();
    // Rotation: the new public key is added, then the issuer switches.
    verifier.add_key(2, new.verifying_key());
    assert_eq!(verifier.key_ids().collect::<Vec<_>>(), [1, 2]);
    let after = new.issue(Uuid::new_v4(), DEVICE_ID, at(55)).unwrap();

    assert_eq!(verify(&verifier, &before, at(58)).unwrap().key_id, 1);
    assert_eq!(verify(&verifier, &after, at(58)).unwrap().key_id, 2);

    // The old key dropped: its codes no longer verify, even within their window.
    assert!(verifier.remove_key(1).is_some());
    assert_eq!(verify(&verifier, &before, at(58)), Err(QrRejection::Forged));
    assert!(verify(&verifier, &after, at(58)).is_ok());
}

#[test]
fn rejections_have_stable_codes_and_chinese_messages() {
    let expected = [
        (QrRejection::Malformed, "sscard.qr_malformed"),
        (QrRejection::Forged, "sscard.qr_forged"),
        (QrRejection::Expired, "sscard.qr_expired"),
        (QrRejection::NotYetValid, "sscard.qr_not_yet_valid"),
        (QrRejection::Revoked, "sscard.qr_revoked"),
        (QrRejection::DeviceMismatch, "sscard.qr_device_mismatch"),
    ];
    for (rejection, code) in expected {
        assert_eq!(rejection.code(), code);
        let message = rejection.to_string();
        assert!(message.contains("二维码"), "{message}");
    }
}

#[test]
fn debug_does_not_leak_the_code() {
    let (issuer, verifier) = platform(1);
    let qr = issuer.issue(Uuid::new_v4(), DEVICE_ID, at(0)).unwrap();
    let rendered = format!("{qr:?} {issuer:?} {verifier:?}");
    let (payload_text, signature_text) = qr.text[QR_PREFIX.len()..].split_once('.').unwrap();
    assert!(!rendered.contains(payload_text));
    assert!(!rendered.contains(signature_text));
}
