//! The provider over real HTTP: a round trip, then every rejection path of §7, each answered
//! with the spec's status and code in a response the provider signed — and none of them
//! reaching the service handler.

mod common;

use std::sync::Arc;

use bianmin_exchange::wire::{
    CONTENT_TYPE_ENCRYPTED, CONTENT_TYPE_JSON, HEADER_CONSENT, HEADER_TIMESTAMP, PreparedRequest,
    decrypt_payload, encrypt_payload,
};
use bianmin_exchange::{ExchangeError, MemberKeys, session_service};
use chrono::TimeDelta;
use common::*;
use serde_json::{Value, json};
use uuid::Uuid;

#[tokio::test]
async fn a_round_trip_is_signed_and_encrypted_both_ways() {
    let world = World::start().await;
    let consent = world.consent(&subject());

    // On the wire, by hand: the request and the response bodies are ciphertexts.
    let (prepared, response) = world
        .send(
            &world.bank,
            &world.services.account,
            Some(&consent),
            &account_body(&subject()),
            true,
        )
        .await;
    let sent = String::from_utf8_lossy(&prepared.body);
    assert!(!sent.contains(subject().as_str()) && !sent.contains(&consent.header));
    // Only the consent's id travels in a header: the artefact, whose subject digest could be
    // reversed by trying every possible ID number, is inside the encryption.
    let headers = world.headers(&prepared, &world.bank);
    let consent_header = headers
        .iter()
        .find(|(name, _)| *name == HEADER_CONSENT)
        .unwrap();
    assert_eq!(
        consent_header.1,
        consent.artefact.consent_id.hyphenated().to_string()
    );
    assert!(
        headers
            .iter()
            .all(|(_, value)| !value.contains(&consent.artefact.subject_digest))
    );
    assert_eq!(response.status, 200);
    assert_eq!(response.headers["content-type"], CONTENT_TYPE_ENCRYPTED);
    world.assert_signed(
        &response,
        prepared.message_id,
        &world.services.account.to_string(),
    );
    let text = String::from_utf8_lossy(&response.body);
    assert!(
        !text.contains(HOLDER_NAME) && !text.contains("balance_fen"),
        "{text}"
    );
    let plaintext = decrypt_payload(
        &world.bank.enc,
        &prepared.message_id,
        &world.services.account,
        &response.body,
    )
    .unwrap();
    let answer: Value = serde_json::from_slice(&plaintext).unwrap();
    assert_eq!(answer["holder_name"], HOLDER_NAME);

    // What the handler was given: the subject apart, the rest of the body, the consent.
    let accepted = world.handler.last.lock().unwrap().clone().unwrap();
    assert_eq!(accepted.subject, Some(subject()));
    assert_eq!(accepted.body, json!({"fields": ["balance"]}));
    assert_eq!(accepted.client, world.bank.id);
    assert_eq!(accepted.message_id, prepared.message_id);
    assert_eq!(
        accepted.consent.unwrap().consent_id,
        consent.artefact.consent_id
    );

    // Through the client.
    let (client, log) = world.client(fast_config());
    let answer = client
        .call(
            &world.services.account,
            Some(&consent),
            Some(&subject()),
            json!({"fields": ["balance"]}),
        )
        .await
        .unwrap();
    assert_eq!(answer["balance_fen"], 1_234_500);
    // The client's first call to the provider opened a session (§5a), then sent in it.
    let records = log.records();
    assert_eq!(records.len(), 2);
    assert_eq!(
        records[0].service,
        session_service(&world.hpf.id).to_string()
    );
    assert_eq!(records[0].consent_id, None);
    assert_eq!(
        (records[0].outcome.as_str(), records[1].outcome.as_str()),
        ("ok", "ok")
    );
}

#[tokio::test]
async fn a_public_service_answers_in_clear_and_signed() {
    let world = World::start().await;
    let (prepared, response) = world
        .send(
            &world.bank,
            &world.services.rates,
            None,
            &json!({"year": 2026}),
            false,
        )
        .await;
    assert_eq!(response.status, 200);
    assert_eq!(response.headers["content-type"], "application/json");
    world.assert_signed(
        &response,
        prepared.message_id,
        &world.services.rates.to_string(),
    );
    let (client, _) = world.client(fast_config());
    let answer = client
        .call(&world.services.rates, None, None, json!({"year": 2026}))
        .await
        .unwrap();
    assert_eq!(answer, json!({"rate": "3.10"}));
}

#[tokio::test]
async fn an_unknown_client_is_refused() {
    let world = World::start().await;
    let (prepared, response) = world
        .send(
            &world.stranger,
            &world.services.rates,
            None,
            &json!({}),
            false,
        )
        .await;
    world.assert_problem(
        &response,
        401,
        "exchange.unknown_client",
        prepared.message_id,
        &world.services.rates.to_string(),
    );
    assert_eq!(world.handler.hits(), 0);
}

#[tokio::test]
async fn a_client_without_the_access_right_is_refused_there_and_locally() {
    let world = World::start().await;
    let (prepared, response) = world
        .send(
            &world.outsider,
            &world.services.rates,
            None,
            &json!({}),
            false,
        )
        .await;
    world.assert_problem(
        &response,
        403,
        "exchange.access_denied",
        prepared.message_id,
        &world.services.rates.to_string(),
    );

    let client = bianmin_exchange::ExchangeClient::new(
        Arc::clone(&world.registry),
        Arc::clone(&world.outsider),
        Arc::new(bianmin_exchange::MemoryMessageLog::new()),
        Arc::new(world.clock.clone()),
        fast_config(),
    );
    let refused = client
        .call(&world.services.rates, None, None, json!({}))
        .await;
    assert!(
        matches!(refused, Err(ExchangeError::AccessDenied)),
        "{refused:?}"
    );
    assert_eq!(world.handler.hits(), 0);
}

#[tokio::test]
async fn a_tampered_body_or_header_or_a_foreign_signature_is_refused() {
    let world = World::start().await;
    let service = world.services.rates.to_string();

    let prepared = world.prepare(&world.services.rates, None, &json!({"year": 2026}), false);
    let headers = world.headers(&prepared, &world.bank);
    let tampered_body = br#"{"year": 2025}"#;
    let response = world
        .send_raw(&world.services.rates, &headers, tampered_body)
        .await;
    world.assert_problem(
        &response,
        401,
        "exchange.bad_signature",
        prepared.message_id,
        &service,
    );

    let mut headers = world.headers(&prepared, &world.bank);
    for (name, value) in &mut headers {
        if *name == HEADER_TIMESTAMP {
            *value = bianmin_exchange::wire::format_timestamp(t0() + TimeDelta::seconds(1));
        }
    }
    let response = world
        .send_raw(&world.services.rates, &headers, &prepared.body)
        .await;
    world.assert_problem(
        &response,
        401,
        "exchange.bad_signature",
        prepared.message_id,
        &service,
    );

    // Signed by a key that is not the bank's registered one, under the bank's name.
    let impostor = MemberKeys::generate(world.bank.id.clone());
    let headers = world.headers(&prepared, &impostor);
    let response = world
        .send_raw(&world.services.rates, &headers, &prepared.body)
        .await;
    world.assert_problem(
        &response,
        401,
        "exchange.bad_signature",
        prepared.message_id,
        &service,
    );
    assert_eq!(world.handler.hits(), 0);
}

#[tokio::test]
async fn the_same_nonce_twice_is_a_replay() {
    let world = World::start().await;
    let prepared = world.prepare(&world.services.rates, None, &json!({}), false);
    let headers = world.headers(&prepared, &world.bank);
    let first = world
        .send_raw(&world.services.rates, &headers, &prepared.body)
        .await;
    assert_eq!(first.status, 200);
    let again = world
        .send_raw(&world.services.rates, &headers, &prepared.body)
        .await;
    world.assert_problem(
        &again,
        401,
        "exchange.replay",
        prepared.message_id,
        &world.services.rates.to_string(),
    );
    assert_eq!(world.handler.hits(), 1);
}

#[tokio::test]
async fn a_client_clock_six_minutes_off_gets_stale_timestamp() {
    let world = World::start().await;
    let prepared = world.prepare(&world.services.rates, None, &json!({}), false);
    let late = prepared.signed_headers(&world.bank, t0() - TimeDelta::minutes(6));
    let response = world
        .send_raw(&world.services.rates, &late, &prepared.body)
        .await;
    world.assert_problem(
        &response,
        401,
        "exchange.stale_timestamp",
        prepared.message_id,
        &world.services.rates.to_string(),
    );

    let skewed = bianmin_core::TestClock::at(t0() + TimeDelta::minutes(6));
    let (client_log, client) = {
        let log = Arc::new(bianmin_exchange::MemoryMessageLog::new());
        (
            log.clone(),
            world.client_with(fast_config(), log, Arc::new(skewed)),
        )
    };
    let refused = client
        .call(&world.services.rates, None, None, json!({}))
        .await;
    assert!(
        matches!(refused, Err(ExchangeError::StaleTimestamp)),
        "{refused:?}"
    );
    assert_eq!(client_log.records()[0].outcome, "exchange.stale_timestamp");
    assert_eq!(world.handler.hits(), 0);
}

#[tokio::test]
async fn a_personal_data_service_without_consent_is_refused_there_and_locally() {
    let world = World::start().await;
    let (prepared, response) = world
        .send(
            &world.bank,
            &world.services.account,
            None,
            &account_body(&subject()),
            true,
        )
        .await;
    world.assert_problem(
        &response,
        403,
        "exchange.consent_missing",
        prepared.message_id,
        &world.services.account.to_string(),
    );

    let (client, log) = world.client(fast_config());
    let refused = client
        .call(&world.services.account, None, Some(&subject()), json!({}))
        .await;
    assert!(
        matches!(refused, Err(ExchangeError::ConsentMissing)),
        "{refused:?}"
    );
    // A subject is personal data even for a public service: not without a consent.
    let refused = client
        .call(&world.services.rates, None, Some(&subject()), json!({}))
        .await;
    assert!(
        matches!(refused, Err(ExchangeError::ConsentMissing)),
        "{refused:?}"
    );
    assert!(
        log.records().is_empty(),
        "nothing was sent, so nothing exchanged"
    );
    assert_eq!(world.handler.hits(), 0);
}

/// Sends the account request under `consent` by hand and expects `consent_invalid`; then
/// checks the client refuses the same consent before sending.
async fn assert_consent_invalid(
    world: &World,
    consent: &bianmin_exchange::SignedConsent,
    subject_in_body: &bianmin_core::ResidentId,
) {
    let (prepared, response) = world
        .send(
            &world.bank,
            &world.services.account,
            Some(consent),
            &account_body(subject_in_body),
            true,
        )
        .await;
    world.assert_problem(
        &response,
        403,
        "exchange.consent_invalid",
        prepared.message_id,
        &world.services.account.to_string(),
    );
    let (client, _) = world.client(fast_config());
    let refused = client
        .call(
            &world.services.account,
            Some(consent),
            Some(subject_in_body),
            json!({}),
        )
        .await;
    assert!(
        matches!(refused, Err(ExchangeError::ConsentInvalid(_))),
        "{refused:?}"
    );
    assert_eq!(world.handler.hits(), 0);
}

#[tokio::test]
async fn an_expired_or_not_yet_valid_consent_is_refused() {
    let world = World::start().await;
    let expired = world.consent_with(&subject(), &["hpf.account"], |a| {
        a.valid_from = t0() - TimeDelta::days(40);
        a.valid_until = t0() - TimeDelta::days(10);
    });
    assert_consent_invalid(&world, &expired, &subject()).await;
    let future = world.consent_with(&subject(), &["hpf.account"], |a| {
        a.valid_from = t0() + TimeDelta::days(1);
    });
    assert_consent_invalid(&world, &future, &subject()).await;
}

#[tokio::test]
async fn a_consent_for_another_consumer_is_refused() {
    let world = World::start().await;
    let theirs = world.consent_with(&subject(), &["hpf.account"], |a| {
        a.consumer = world.outsider.id.clone();
    });
    assert_consent_invalid(&world, &theirs, &subject()).await;
}

#[tokio::test]
async fn a_consent_of_another_subject_is_refused() {
    let world = World::start().await;
    let consent = world.consent(&other_subject());
    assert_consent_invalid(&world, &consent, &subject()).await;
}

#[tokio::test]
async fn a_consent_for_other_data_kinds_is_refused() {
    let world = World::start().await;
    let consent = world.consent_with(&subject(), &["si.status"], |_| {});
    assert_consent_invalid(&world, &consent, &subject()).await;
}

#[tokio::test]
async fn a_consent_not_signed_by_the_platform_is_refused() {
    let world = World::start().await;
    let genuine = world.consent(&subject());
    let forged = genuine
        .artefact
        .sign(&MemberKeys::generate(world.bank.id.clone()));
    let (prepared, response) = world
        .send(
            &world.bank,
            &world.services.account,
            Some(&forged),
            &account_body(&subject()),
            true,
        )
        .await;
    world.assert_problem(
        &response,
        403,
        "exchange.consent_invalid",
        prepared.message_id,
        &world.services.account.to_string(),
    );

    // A consent header swapped after signing breaks the request signature instead.
    let other = world.consent(&subject());
    let prepared = world.prepare(
        &world.services.account,
        Some(&genuine),
        &account_body(&subject()),
        true,
    );
    let mut headers = world.headers(&prepared, &world.bank);
    for (name, value) in &mut headers {
        if *name == HEADER_CONSENT {
            *value = other.artefact.consent_id.hyphenated().to_string();
        }
    }
    let response = world
        .send_raw(&world.services.account, &headers, &prepared.body)
        .await;
    world.assert_problem(
        &response,
        401,
        "exchange.bad_signature",
        prepared.message_id,
        &world.services.account.to_string(),
    );

    // Signed honestly, but the consent id named in the header is not the artefact's.
    let mut prepared = world.prepare(
        &world.services.account,
        Some(&genuine),
        &account_body(&subject()),
        true,
    );
    prepared.consent = Some(other);
    let response = world
        .send_raw(
            &world.services.account,
            &world.headers(&prepared, &world.bank),
            &prepared.body,
        )
        .await;
    world.assert_problem(
        &response,
        403,
        "exchange.consent_invalid",
        prepared.message_id,
        &world.services.account.to_string(),
    );
    assert_eq!(world.handler.hits(), 0);
}

#[tokio::test]
async fn malformed_payloads_are_refused() {
    let world = World::start().await;
    let consent = world.consent(&subject());
    let account = world.services.account.to_string();

    // Encrypted, but not JSON inside.
    let message_id = Uuid::now_v7();
    let prepared = PreparedRequest {
        service: world.services.account.clone(),
        message_id,
        consent: Some(consent.clone()),
        content_type: CONTENT_TYPE_ENCRYPTED,
        body: encrypt_payload(
            &world.hpf.enc.verifying_key(),
            &message_id,
            &world.services.account,
            b"{not json",
        )
        .unwrap(),
    };
    let response = world
        .send_raw(
            &world.services.account,
            &world.headers(&prepared, &world.bank),
            &prepared.body,
        )
        .await;
    world.assert_problem(
        &response,
        400,
        "exchange.malformed",
        prepared.message_id,
        &account,
    );

    // Encrypted to the wrong key (the bank's own): does not decrypt.
    let prepared = bianmin_exchange::wire::PreparedRequest::new(
        &world.services.account,
        Uuid::now_v7(),
        Some(&consent),
        &account_body(&subject()),
        Some(&world.bank.enc.verifying_key()),
    )
    .unwrap();
    let response = world
        .send_raw(
            &world.services.account,
            &world.headers(&prepared, &world.bank),
            &prepared.body,
        )
        .await;
    world.assert_problem(
        &response,
        400,
        "exchange.malformed",
        prepared.message_id,
        &account,
    );

    // Personal data in clear: a consent and a subject that were never encrypted.
    let mut in_clear = account_body(&subject());
    in_clear["consent"] = json!(consent.header);
    let prepared = PreparedRequest {
        service: world.services.account.clone(),
        message_id: Uuid::now_v7(),
        consent: Some(consent.clone()),
        content_type: CONTENT_TYPE_JSON,
        body: serde_json::to_vec(&in_clear).unwrap(),
    };
    let response = world
        .send_raw(
            &world.services.account,
            &world.headers(&prepared, &world.bank),
            &prepared.body,
        )
        .await;
    world.assert_problem(
        &response,
        400,
        "exchange.malformed",
        prepared.message_id,
        &account,
    );
    // The same for a subject sent in clear to a public service.
    let prepared = PreparedRequest {
        service: world.services.rates.clone(),
        message_id: Uuid::now_v7(),
        consent: None,
        content_type: CONTENT_TYPE_JSON,
        body: serde_json::to_vec(&account_body(&subject())).unwrap(),
    };
    let response = world
        .send_raw(
            &world.services.rates,
            &world.headers(&prepared, &world.bank),
            &prepared.body,
        )
        .await;
    world.assert_problem(
        &response,
        400,
        "exchange.malformed",
        prepared.message_id,
        &world.services.rates.to_string(),
    );

    // A subject that is not a resident id.
    let (prepared, response) = world
        .send(
            &world.bank,
            &world.services.account,
            Some(&consent),
            &json!({"subject": "12345"}),
            true,
        )
        .await;
    world.assert_problem(
        &response,
        400,
        "exchange.malformed",
        prepared.message_id,
        &account,
    );

    // A missing header: the message id is echoed when it was readable …
    let prepared = world.prepare(&world.services.rates, None, &json!({}), false);
    let headers: Vec<_> = world
        .headers(&prepared, &world.bank)
        .into_iter()
        .filter(|(name, _)| *name != bianmin_exchange::wire::HEADER_NONCE)
        .collect();
    let response = world
        .send_raw(&world.services.rates, &headers, &prepared.body)
        .await;
    world.assert_problem(
        &response,
        400,
        "exchange.malformed",
        prepared.message_id,
        &world.services.rates.to_string(),
    );
    // … and the nil UUID when it was not.
    let headers: Vec<_> = world
        .headers(&prepared, &world.bank)
        .into_iter()
        .map(|(name, value)| {
            if name == bianmin_exchange::wire::HEADER_MESSAGE_ID {
                (name, "not-a-uuid".to_string())
            } else {
                (name, value)
            }
        })
        .collect();
    let response = world
        .send_raw(&world.services.rates, &headers, &prepared.body)
        .await;
    world.assert_problem(
        &response,
        400,
        "exchange.malformed",
        Uuid::nil(),
        &world.services.rates.to_string(),
    );
    assert_eq!(world.handler.hits(), 0);
}

#[tokio::test]
async fn a_service_not_in_the_registry_is_unknown() {
    let world = World::start().await;
    let (prepared, response) = world
        .send(
            &world.bank,
            &world.services.unlisted,
            None,
            &json!({}),
            false,
        )
        .await;
    world.assert_problem(
        &response,
        404,
        "exchange.unknown_service",
        prepared.message_id,
        &world.services.unlisted.to_string(),
    );
    let (client, _) = world.client(fast_config());
    let refused = client
        .call(&world.services.unlisted, None, None, json!({}))
        .await;
    assert!(matches!(refused, Err(ExchangeError::UnknownService)));
}

#[tokio::test]
async fn a_subject_without_a_record_is_not_found() {
    let world = World::start().await;
    let (client, log) = world.client(fast_config());
    let consent = world.consent(&unknown_subject());
    let answer = client
        .call(
            &world.services.account,
            Some(&consent),
            Some(&unknown_subject()),
            json!({}),
        )
        .await;
    assert!(matches!(answer, Err(ExchangeError::NotFound)), "{answer:?}");
    assert_eq!(without_handshakes(log.records())[0].status, Some(404));
    assert_eq!(
        without_handshakes(world.provider_log.records())[0].outcome,
        "exchange.not_found"
    );
}
