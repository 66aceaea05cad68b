//! Exchange sessions (§5a): the handshake, messages MACed and encrypted under the session's
//! keys, every refusal, renewal on expiry, recovery after a provider restart, and the client's
//! check of MACed answers.

mod common;

use axum::http::HeaderValue;
use bianmin_crypto::Sm2Ephemeral;
use bianmin_exchange::wire::{
    CONTENT_TYPE_ENCRYPTED, HEADER_MAC, HEADER_MESSAGE_ID, HEADER_NONCE, HEADER_SESSION,
    HEADER_SIGNATURE, HEADER_TIMESTAMP, PreparedRequest, ResponseToSign,
};
use bianmin_exchange::{
    ClientConfig, ExchangeError, MemberKeys, SESSION_LIFETIME_SECS, SESSION_RENEW_MARGIN_SECS,
    Session, SessionGrant, SessionHello, SignedConsent, session_service,
};
use chrono::TimeDelta;
use common::*;
use serde_json::{Value, json};
use uuid::Uuid;

/// A handshake by hand as `keys`: the session, or the provider's refusal.
async fn handshake(world: &World, keys: &MemberKeys) -> Result<Session, RawResponse> {
    let service = session_service(&world.hpf.id);
    let ephemeral = Sm2Ephemeral::generate();
    let hello = SessionHello {
        ephemeral: ephemeral.public_key().to_hex(),
    };
    let prepared = PreparedRequest::new(
        &service,
        Uuid::now_v7(),
        None,
        &serde_json::to_value(&hello).unwrap(),
        None,
    )
    .unwrap();
    let response = world
        .send_raw(&service, &world.headers(&prepared, keys), &prepared.body)
        .await;
    if response.status != 200 {
        return Err(response);
    }
    world.assert_signed(&response, prepared.message_id, &service.to_string());
    let grant: SessionGrant = serde_json::from_slice(&response.body).unwrap();
    Ok(Session::accept(ephemeral, &keys.id, &world.hpf.id, &hello, &grant).unwrap())
}

/// The account request of `subject` prepared in `session`.
fn in_session(world: &World, session: &Session, consent: &SignedConsent) -> PreparedRequest {
    PreparedRequest::in_session(
        &world.services.account,
        Uuid::now_v7(),
        Some(consent),
        &account_body(&subject()),
        true,
        session,
    )
    .unwrap()
}

fn headers_now(
    world: &World,
    prepared: &PreparedRequest,
    session: &Session,
) -> Vec<(&'static str, String)> {
    prepared.session_headers(session, bianmin_core::Clock::now(&world.clock))
}

fn set(headers: &mut [(&'static str, String)], name: &str, value: String) {
    for (header, old) in headers.iter_mut() {
        if *header == name {
            *old = value.clone();
        }
    }
}

/// Asserts `response` is MACed in `session` for `message_id`.
fn assert_maced(world: &World, response: &RawResponse, session: &Session, message_id: Uuid) {
    let header = |name: &str| response.headers[name].to_str().unwrap().to_string();
    assert!(response.headers.get(HEADER_SIGNATURE).is_none());
    assert_eq!(
        header(HEADER_MESSAGE_ID),
        message_id.hyphenated().to_string()
    );
    let signing_string = ResponseToSign {
        status: response.status,
        message_id: &header(HEADER_MESSAGE_ID),
        service: &world.services.account.to_string(),
        timestamp: &header(HEADER_TIMESTAMP),
        nonce: &header(HEADER_NONCE),
        body: &response.body,
    }
    .signing_string();
    assert!(session.verify_response_mac(&signing_string, &header(HEADER_MAC)));
}

#[tokio::test]
async fn a_request_in_a_session_is_maced_and_encrypted_both_ways() {
    let world = World::start().await;
    let session = handshake(&world, &world.bank).await.unwrap();
    let consent = world.consent(&subject());
    let prepared = in_session(&world, &session, &consent);
    let sent = String::from_utf8(prepared.body.clone()).unwrap();
    assert!(sent.contains("\"alg\":\"SM4-GCM\""), "{sent}");
    assert!(!sent.contains(subject().as_str()) && !sent.contains("\"key\""));
    let headers = headers_now(&world, &prepared, &session);
    assert!(headers.iter().all(|(name, _)| *name != HEADER_SIGNATURE));
    let response = world
        .send_raw(&world.services.account, &headers, &prepared.body)
        .await;
    assert_eq!(response.status, 200, "{:?}", response.body);
    assert_eq!(
        response.headers["content-type"].to_str().unwrap(),
        CONTENT_TYPE_ENCRYPTED
    );
    assert_maced(&world, &response, &session, prepared.message_id);
    let text = String::from_utf8(response.body.clone()).unwrap();
    assert!(!text.contains(HOLDER_NAME) && !text.contains("balance_fen"));
    let answer: Value = serde_json::from_slice(
        &session
            .open_response(
                &prepared.message_id,
                &world.services.account,
                &response.body,
            )
            .unwrap(),
    )
    .unwrap();
    assert_eq!(answer["holder_name"], HOLDER_NAME);
    let accepted = world.handler.last.lock().unwrap().clone().unwrap();
    assert_eq!(accepted.subject, Some(subject()));
    assert_eq!(accepted.client, world.bank.id);

    // The same message again is a replay, answered in the session.
    let replayed = world
        .send_raw(&world.services.account, &headers, &prepared.body)
        .await;
    assert_eq!(replayed.status, 401);
    let problem: Value = serde_json::from_slice(&replayed.body).unwrap();
    assert_eq!(problem["code"], "exchange.replay");
    assert_maced(&world, &replayed, &session, prepared.message_id);
}

#[tokio::test]
async fn a_wrong_mac_a_tampered_body_or_an_unknown_session_is_refused() {
    let world = World::start().await;
    let session = handshake(&world, &world.bank).await.unwrap();
    let other = handshake(&world, &world.bank).await.unwrap();
    let consent = world.consent(&subject());
    let service = world.services.account.to_string();

    // Another session's MAC on this session's id.
    let prepared = in_session(&world, &session, &consent);
    let mut headers = headers_now(&world, &prepared, &session);
    let foreign = headers_now(&world, &prepared, &other);
    let foreign_mac = foreign.iter().find(|(n, _)| *n == HEADER_MAC).unwrap();
    set(&mut headers, HEADER_MAC, foreign_mac.1.clone());
    let response = world
        .send_raw(&world.services.account, &headers, &prepared.body)
        .await;
    world.assert_problem(
        &response,
        401,
        "exchange.bad_signature",
        prepared.message_id,
        &service,
    );

    // A body changed after the MAC was computed.
    let prepared = in_session(&world, &session, &consent);
    let headers = headers_now(&world, &prepared, &session);
    let mut body = prepared.body.clone();
    let last = body.len() - 3;
    body[last] ^= 1;
    let response = world
        .send_raw(&world.services.account, &headers, &body)
        .await;
    world.assert_problem(
        &response,
        401,
        "exchange.bad_signature",
        prepared.message_id,
        &service,
    );

    // A session the provider never granted; and a real one named by another client.
    let prepared = in_session(&world, &session, &consent);
    let mut headers = headers_now(&world, &prepared, &session);
    set(&mut headers, HEADER_SESSION, Uuid::now_v7().to_string());
    let response = world
        .send_raw(&world.services.account, &headers, &prepared.body)
        .await;
    world.assert_problem(
        &response,
        401,
        "exchange.session_unknown",
        prepared.message_id,
        &service,
    );
    let mut headers = headers_now(&world, &prepared, &session);
    set(
        &mut headers,
        "x-exchange-client",
        world.outsider.id.to_string(),
    );
    let response = world
        .send_raw(&world.services.account, &headers, &prepared.body)
        .await;
    world.assert_problem(
        &response,
        401,
        "exchange.session_unknown",
        prepared.message_id,
        &service,
    );

    // A session header beside a signature.
    let prepared = in_session(&world, &session, &consent);
    let mut headers = headers_now(&world, &prepared, &session);
    headers.push((HEADER_SIGNATURE, "AAAA".to_string()));
    let response = world
        .send_raw(&world.services.account, &headers, &prepared.body)
        .await;
    world.assert_problem(
        &response,
        400,
        "exchange.malformed",
        prepared.message_id,
        &service,
    );

    // Nothing reached the handler.
    assert_eq!(world.handler.hits(), 0);
}

#[tokio::test]
async fn only_a_registered_client_with_a_right_here_gets_a_session() {
    let world = World::start().await;
    let service = session_service(&world.hpf.id).to_string();
    let refused = handshake(&world, &world.outsider).await.unwrap_err();
    let id =
        |r: &RawResponse| Uuid::parse_str(r.headers[HEADER_MESSAGE_ID].to_str().unwrap()).unwrap();
    world.assert_problem(
        &refused,
        403,
        "exchange.access_denied",
        id(&refused),
        &service,
    );
    let refused = handshake(&world, &world.stranger).await.unwrap_err();
    world.assert_problem(
        &refused,
        401,
        "exchange.unknown_client",
        id(&refused),
        &service,
    );

    // A handshake whose key is no point, or that carries a consent.
    let bad_key = world.prepare(
        &session_service(&world.hpf.id),
        None,
        &json!({"ephemeral": "04".repeat(65)}),
        false,
    );
    let response = world
        .send_raw(
            &session_service(&world.hpf.id),
            &world.headers(&bad_key, &world.bank),
            &bad_key.body,
        )
        .await;
    world.assert_problem(
        &response,
        400,
        "exchange.malformed",
        bad_key.message_id,
        &service,
    );
    let consent = world.consent(&subject());
    let with_consent = world.prepare(
        &session_service(&world.hpf.id),
        Some(&consent),
        &json!({"ephemeral": Sm2Ephemeral::generate().public_key().to_hex(), "subject": subject().as_str()}),
        true,
    );
    let response = world
        .send_raw(
            &session_service(&world.hpf.id),
            &world.headers(&with_consent, &world.bank),
            &with_consent.body,
        )
        .await;
    world.assert_problem(
        &response,
        400,
        "exchange.malformed",
        with_consent.message_id,
        &service,
    );
}

#[tokio::test]
async fn the_client_makes_one_session_and_renews_it_before_its_end() {
    let world = World::start().await;
    // Uncached, so that every call reaches the provider.
    let (client, log) = world.client(ClientConfig {
        cache: false,
        ..fast_config()
    });
    let consent = world.consent(&subject());
    let resident = subject();
    let account = || {
        client.call(
            &world.services.account,
            Some(&consent),
            Some(&resident),
            json!({"fields": ["balance"]}),
        )
    };
    let (first, second, third) = tokio::join!(account(), account(), account());
    for answer in [first, second, third] {
        answer.unwrap();
    }
    let handshakes = |records: Vec<bianmin_exchange::LogRecord>| {
        records.len() - without_handshakes(records).len()
    };
    // Three concurrent first calls wait for one handshake.
    assert_eq!(handshakes(log.records()), 1);
    assert_eq!(world.handler.hits(), 3);

    // Near the end of its life, the next call makes a new session first.
    world.clock.advance(TimeDelta::seconds(
        SESSION_LIFETIME_SECS - SESSION_RENEW_MARGIN_SECS,
    ));
    account().await.unwrap();
    assert_eq!(handshakes(log.records()), 2);
    assert!(log.records().iter().all(|record| record.outcome == "ok"));
}

#[tokio::test]
async fn an_expired_session_is_refused_by_the_provider() {
    let world = World::start().await;
    let session = handshake(&world, &world.bank).await.unwrap();
    world
        .clock
        .advance(TimeDelta::seconds(SESSION_LIFETIME_SECS));
    let consent = world.consent(&subject());
    let prepared = in_session(&world, &session, &consent);
    let response = world
        .send_raw(
            &world.services.account,
            &headers_now(&world, &prepared, &session),
            &prepared.body,
        )
        .await;
    world.assert_problem(
        &response,
        401,
        "exchange.session_unknown",
        prepared.message_id,
        &world.services.account.to_string(),
    );
}

#[tokio::test]
async fn after_a_provider_restart_the_client_makes_a_new_session_and_resends() {
    let world = World::start().await;
    let (client, log) = world.client(ClientConfig {
        max_retries: 0,
        ..fast_config()
    });
    let call = || client.call(&world.services.rates, None, None, json!({"year": 2026}));
    call().await.unwrap();
    world.restart_provider();
    assert_eq!(call().await.unwrap(), json!({"rate": "3.10"}));
    let records = log.records();
    let outcomes: Vec<(bool, &str)> = records
        .iter()
        .map(|r| (r.service.contains("exchange.session"), r.outcome.as_str()))
        .collect();
    assert_eq!(
        outcomes,
        [
            (true, "ok"),
            (false, "ok"),
            (false, "exchange.session_unknown"),
            (true, "ok"),
            (false, "ok"),
        ]
    );
    // The same message, sent again in the new session.
    assert_eq!(records[2].message_id, records[4].message_id);
    assert_eq!(world.handler.hits(), 2);
}

#[tokio::test]
async fn a_tampered_maced_answer_is_rejected() {
    let world = World::start().await;
    let (client, log) = world.client(fast_config());
    // The session is made before the meddling starts.
    client
        .call(&world.services.rates, None, None, json!({}))
        .await
        .unwrap();
    let forge: Tamper = |response| {
        if let Some(mac) = response.headers().get(HEADER_MAC) {
            let mut forged = mac.as_bytes().to_vec();
            forged[0] = if forged[0] == b'A' { b'B' } else { b'A' };
            let forged = HeaderValue::from_bytes(&forged).unwrap();
            response.headers_mut().insert(HEADER_MAC, forged);
        }
    };
    world.tamper_responses(Some(forge));
    let answer = client
        .call(&world.services.rates, None, None, json!({"x": 1}))
        .await;
    assert!(
        matches!(answer, Err(ExchangeError::BadResponse(_))),
        "{answer:?}"
    );
    assert_eq!(
        log.records().last().unwrap().outcome,
        "exchange.bad_response"
    );
    world.tamper_responses(None);
}

#[tokio::test]
async fn requests_that_change_something_and_clients_without_sessions_stay_signed() {
    let world = World::start().await;
    let (client, log) = world.client(fast_config());
    let consent = world.consent(&subject());
    client
        .call(
            &world.services.withdrawal,
            Some(&consent),
            Some(&subject()),
            json!({"amount_fen": 100}),
        )
        .await
        .unwrap();
    assert_eq!(log.records().len(), 1, "no handshake for a withdrawal");

    let (plain, plain_log) = world.client(ClientConfig {
        sessions: false,
        ..fast_config()
    });
    plain
        .call(&world.services.rates, None, None, json!({}))
        .await
        .unwrap();
    assert_eq!(plain_log.records().len(), 1);
    assert!(
        world
            .provider_log
            .records()
            .iter()
            .all(|r| !r.service.contains("exchange.session"))
    );
}
