//! The client over real HTTP: it rejects responses it cannot trust, retries only what may be
//! retried, fails fast behind an open breaker, limits concurrency, and caches within the
//! consent's bounds.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bianmin_exchange::wire::{
    HEADER_MESSAGE_ID, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP, ResponseToSign,
    format_timestamp, new_nonce,
};
use bianmin_exchange::{
    BreakerState, ClientConfig, ExchangeClient, ExchangeError, MemberKeys, MemoryMessageLog,
    Registry, ServiceDef, ServiceFailure, ServiceId,
};
use chrono::TimeDelta;
use common::*;
use serde_json::json;
use tokio::net::TcpListener;
use uuid::Uuid;

/// How an impostor provider answers.
#[derive(Clone, Copy)]
enum Junk {
    /// A plausible body, no protocol headers at all.
    Unsigned,
    /// Signed, but with a key that is not the provider's.
    WrongKey,
    /// Signed by the provider, but for another message.
    OtherMessage,
}

/// A provider address served by a raw axum app that answers every request with `junk`, and a
/// registry naming it as the provider of a public service. Returns the service, the registry,
/// the bank's keys and the impostor's hit counter.
async fn impostor(junk: Junk) -> (ServiceId, Arc<Registry>, Arc<MemberKeys>, Arc<AtomicUsize>) {
    let bank = Arc::new(MemberKeys::generate(client_id("CN-CD/COM/bank/bianmin")));
    let provider = Arc::new(MemberKeys::generate(client_id("CN-CD/GOV/tax/rates")));
    let service: ServiceId = "CN-CD/GOV/tax/rates/tax.rates/v1".parse().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let signer = match junk {
        Junk::WrongKey => Arc::new(MemberKeys::generate(provider.id.clone())),
        _ => Arc::clone(&provider),
    };
    let counter = Arc::clone(&hits);
    let service_text = service.to_string();
    let app = Router::new().fallback(move || {
        let signer = Arc::clone(&signer);
        let counter = Arc::clone(&counter);
        let service_text = service_text.clone();
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            let body = br#"{"rate":"9.99"}"#.to_vec();
            if matches!(junk, Junk::Unsigned) {
                return (StatusCode::OK, [("content-type", "application/json")], body)
                    .into_response();
            }
            // Whichever message was asked about, answer about another one.
            let message_id = Uuid::now_v7().hyphenated().to_string();
            let timestamp = format_timestamp(t0());
            let nonce = new_nonce();
            let signing = ResponseToSign {
                status: 200,
                message_id: &message_id,
                service: &service_text,
                timestamp: &timestamp,
                nonce: &nonce,
                body: &body,
            }
            .signing_string();
            let signature =
                STANDARD.encode(signer.sign.sign(&signer.id.to_string(), signing.as_bytes()));
            (
                StatusCode::OK,
                [
                    ("content-type", "application/json".to_string()),
                    (HEADER_MESSAGE_ID, message_id),
                    (HEADER_TIMESTAMP, timestamp),
                    (HEADER_NONCE, nonce),
                    (HEADER_SIGNATURE, signature),
                ],
                body,
            )
                .into_response()
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let registry = Registry::builder()
        .subsystem(bank.subsystem("便民服务平台", None))
        .subsystem(provider.subsystem("税务局", Some(base_url)))
        .service(ServiceDef {
            id: service.clone(),
            data_kinds: vec!["tax.rates".into()],
            idempotent: true,
            personal_data: false,
            timeout: Duration::from_secs(2),
        })
        .allow(&bank.id, &service)
        .build();
    (service, Arc::new(registry), bank, hits)
}

#[tokio::test]
async fn unsigned_wrongly_signed_or_misaddressed_responses_are_rejected_and_logged() {
    for junk in [Junk::Unsigned, Junk::WrongKey, Junk::OtherMessage] {
        let (service, registry, bank, hits) = impostor(junk).await;
        let log = Arc::new(MemoryMessageLog::new());
        let client = ExchangeClient::new(
            registry,
            bank,
            log.clone(),
            Arc::new(bianmin_core::TestClock::at(t0())),
            fast_config(),
        );
        let answer = client.call(&service, None, None, json!({})).await;
        assert!(
            matches!(answer, Err(ExchangeError::BadResponse(_))),
            "{answer:?}"
        );
        // Rejected, logged, and not retried (a bad answer is no transient failure).
        assert_eq!(hits.load(Ordering::SeqCst), 1);
        let records = log.records();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].outcome, "exchange.bad_response");
        assert_eq!(records[0].status, Some(200));
        assert!(records[0].response_sm3.is_some());
    }
}

#[tokio::test]
async fn an_idempotent_service_is_retried_on_503_with_the_same_message_id() {
    let world = World::start().await;
    let (client, log) = world.client(fast_config());
    world
        .handler
        .fail_next(&[ServiceFailure::Unavailable, ServiceFailure::Unavailable]);
    let consent = world.consent(&subject());
    let answer = client
        .call(
            &world.services.account,
            Some(&consent),
            Some(&subject()),
            json!({}),
        )
        .await
        .unwrap();
    assert_eq!(answer["status"], "normal");
    assert_eq!(world.handler.hits(), 3);
    let records = without_handshakes(log.records());
    let outcomes: Vec<_> = records.iter().map(|r| r.outcome.as_str()).collect();
    assert_eq!(
        outcomes,
        ["exchange.unavailable", "exchange.unavailable", "ok"]
    );
    assert!(
        records
            .iter()
            .all(|r| r.message_id == records[0].message_id)
    );
    // Each attempt had its own nonce, so the provider saw no replay.
    assert!(
        world
            .provider_log
            .records()
            .iter()
            .all(|r| r.outcome != "exchange.replay")
    );
}

#[tokio::test]
async fn retries_stop_after_max_retries() {
    let world = World::start().await;
    let (client, log) = world.client(fast_config());
    world.handler.fail_always(Some(ServiceFailure::Unavailable));
    let answer = client
        .call(&world.services.rates, None, None, json!({}))
        .await;
    assert!(
        matches!(answer, Err(ExchangeError::Unavailable)),
        "{answer:?}"
    );
    assert_eq!(world.handler.hits(), 3);
    assert_eq!(without_handshakes(log.records()).len(), 3);
}

#[tokio::test]
async fn a_non_idempotent_service_is_never_retried() {
    let world = World::start().await;
    let (client, _) = world.client(fast_config());
    world.handler.fail_next(&[ServiceFailure::Unavailable]);
    let consent = world.consent(&subject());
    let answer = client
        .call(
            &world.services.withdrawal,
            Some(&consent),
            Some(&subject()),
            json!({"amount_fen": 100}),
        )
        .await;
    assert!(
        matches!(answer, Err(ExchangeError::Unavailable)),
        "{answer:?}"
    );
    assert_eq!(world.handler.hits(), 1);
}

#[tokio::test]
async fn a_timeout_is_retried_for_an_idempotent_service() {
    let world = World::start().await;
    let (client, log) = world.client(fast_config());
    world.handler.slow_calls.store(1, Ordering::SeqCst);
    let answer = client
        .call(&world.services.slow, None, None, json!({}))
        .await
        .unwrap();
    assert_eq!(answer, json!({"ok": true}));
    let outcomes: Vec<_> = without_handshakes(log.records())
        .into_iter()
        .map(|r| r.outcome)
        .collect();
    assert_eq!(outcomes, ["exchange.timeout", "ok"]);
}

#[tokio::test]
async fn a_refused_connection_is_retried_then_reported() {
    let world = World::start().await;
    // A port that was just free: nothing listens there.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = closed.local_addr().unwrap();
    drop(closed);
    let mut registry = (*world.registry).clone();
    registry.set_base_url(&world.hpf.id, format!("http://{address}"));
    let log = Arc::new(MemoryMessageLog::new());
    let client = ExchangeClient::new(
        Arc::new(registry),
        Arc::clone(&world.bank),
        log.clone(),
        Arc::new(world.clock.clone()),
        fast_config(),
    );
    let answer = client
        .call(&world.services.rates, None, None, json!({}))
        .await;
    assert!(matches!(answer, Err(ExchangeError::Http(_))), "{answer:?}");
    let outcomes: Vec<_> = log.records().into_iter().map(|r| r.outcome).collect();
    assert_eq!(outcomes, ["exchange.http"; 3]);
}

#[tokio::test]
async fn the_breaker_opens_fails_fast_half_opens_and_closes() {
    let world = World::start().await;
    let config = ClientConfig {
        max_retries: 0,
        breaker_failures: 3,
        breaker_cooldown: Duration::from_millis(300),
        ..fast_config()
    };
    let (client, _) = world.client(config);
    let provider = world.hpf.id.clone();
    world.handler.fail_always(Some(ServiceFailure::Unavailable));
    for _ in 0..3 {
        let answer = client
            .call(&world.services.rates, None, None, json!({}))
            .await;
        assert!(
            matches!(answer, Err(ExchangeError::Unavailable)),
            "{answer:?}"
        );
    }
    assert_eq!(client.breaker_state(&provider), BreakerState::Open);

    // Open: calls fail at once, and the provider sees none of them.
    for _ in 0..5 {
        let answer = client
            .call(&world.services.rates, None, None, json!({}))
            .await;
        assert!(
            matches!(answer, Err(ExchangeError::CircuitOpen)),
            "{answer:?}"
        );
    }
    assert_eq!(world.handler.hits(), 3);

    // Half-open after the cool-down: one probe; it fails, so the breaker opens again.
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(client.breaker_state(&provider), BreakerState::HalfOpen);
    let probe = client
        .call(&world.services.rates, None, None, json!({}))
        .await;
    assert!(
        matches!(probe, Err(ExchangeError::Unavailable)),
        "{probe:?}"
    );
    assert_eq!(world.handler.hits(), 4);
    assert_eq!(client.breaker_state(&provider), BreakerState::Open);
    let answer = client
        .call(&world.services.rates, None, None, json!({}))
        .await;
    assert!(matches!(answer, Err(ExchangeError::CircuitOpen)));

    // The provider recovers; the next probe succeeds and closes the breaker.
    world.handler.fail_always(None);
    tokio::time::sleep(Duration::from_millis(350)).await;
    client
        .call(&world.services.rates, None, None, json!({}))
        .await
        .unwrap();
    assert_eq!(client.breaker_state(&provider), BreakerState::Closed);
    assert_eq!(world.handler.hits(), 5);
}

#[tokio::test]
async fn answers_the_provider_decided_do_not_trip_the_breaker() {
    let world = World::start().await;
    let config = ClientConfig {
        breaker_failures: 2,
        ..fast_config()
    };
    let (client, _) = world.client(config);
    let consent = world.consent(&unknown_subject());
    for _ in 0..4 {
        let answer = client
            .call(
                &world.services.account,
                Some(&consent),
                Some(&unknown_subject()),
                json!({}),
            )
            .await;
        assert!(matches!(answer, Err(ExchangeError::NotFound)), "{answer:?}");
    }
    assert_eq!(
        world.handler.hits(),
        4,
        "a provider's decision is not retried either"
    );
    assert_eq!(client.breaker_state(&world.hpf.id), BreakerState::Closed);
}

#[tokio::test]
async fn concurrency_per_provider_is_limited() {
    let world = World::start().await;
    *world.handler.delay.lock().unwrap() = Duration::from_millis(100);
    let config = ClientConfig {
        max_concurrency_per_provider: 2,
        ..fast_config()
    };
    let (client, _) = world.client(config);
    let client = Arc::new(client);
    let calls: Vec<_> = (0..6)
        .map(|i| {
            let client = Arc::clone(&client);
            let service = world.services.rates.clone();
            tokio::spawn(async move { client.call(&service, None, None, json!({"i": i})).await })
        })
        .collect();
    for call in calls {
        call.await.unwrap().unwrap();
    }
    assert_eq!(world.handler.hits(), 6);
    assert_eq!(world.handler.max_in_flight.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_cached_answer_saves_a_call_until_forgotten_or_expired() {
    let world = World::start().await;
    let (client, _) = world.client(fast_config());
    let consent = world.consent_with(&subject(), &["hpf.account"], |a| a.data_life_days = 1);
    let subject = subject();
    let call = |body: serde_json::Value| {
        client.call(
            &world.services.account,
            Some(&consent),
            Some(&subject),
            body,
        )
    };
    let first = call(json!({"fields": ["balance"]})).await.unwrap();
    let second = call(json!({"fields": ["balance"]})).await.unwrap();
    assert_eq!(first, second);
    assert_eq!(
        world.handler.hits(),
        1,
        "the second answer came from the cache"
    );

    // Another request is another key.
    call(json!({"fields": ["status"]})).await.unwrap();
    assert_eq!(world.handler.hits(), 2);

    // Revocation drops the consent's entries.
    client.forget_consent(&consent.artefact.consent_id);
    call(json!({"fields": ["balance"]})).await.unwrap();
    assert_eq!(world.handler.hits(), 3);

    // Data is not kept beyond data_life_days.
    world.clock.advance(TimeDelta::hours(23));
    call(json!({"fields": ["balance"]})).await.unwrap();
    assert_eq!(world.handler.hits(), 3);
    world.clock.advance(TimeDelta::hours(2));
    call(json!({"fields": ["balance"]})).await.unwrap();
    assert_eq!(world.handler.hits(), 4);

    // A non-idempotent service is never answered from the cache.
    for _ in 0..2 {
        client
            .call(
                &world.services.withdrawal,
                Some(&consent),
                Some(&subject),
                json!({}),
            )
            .await
            .unwrap();
    }
    assert_eq!(world.handler.hits(), 6);
}

#[tokio::test]
async fn a_cached_answer_never_outlives_the_consent() {
    let world = World::start().await;
    let (client, _) = world.client(fast_config());
    let consent = world.consent_with(&subject(), &["hpf.account"], |a| {
        a.valid_until = t0() + TimeDelta::hours(2);
    });
    let subject = subject();
    let call = || {
        client.call(
            &world.services.account,
            Some(&consent),
            Some(&subject),
            json!({}),
        )
    };
    call().await.unwrap();
    call().await.unwrap();
    assert_eq!(world.handler.hits(), 1);
    world.clock.advance(TimeDelta::hours(2));
    let after = call().await;
    assert!(
        matches!(after, Err(ExchangeError::ConsentInvalid(_))),
        "{after:?}"
    );
    assert_eq!(world.handler.hits(), 1);
}

#[tokio::test]
async fn a_response_that_does_not_match_the_schema_is_rejected() {
    #[derive(Debug, serde::Deserialize)]
    struct Rates {
        rate: String,
    }
    let world = World::start().await;
    let (client, log) = world.client(fast_config());
    let answer = client
        .call_as::<Rates>(&world.services.unschema, None, None, json!({}))
        .await;
    assert!(
        matches!(answer, Err(ExchangeError::BadResponse(_))),
        "{answer:?}"
    );
    assert_eq!(
        without_handshakes(log.records())[0].outcome,
        "exchange.bad_response"
    );
    let rates: Rates = client
        .call_as(&world.services.rates, None, None, json!({}))
        .await
        .unwrap();
    assert_eq!(rates.rate, "3.10");
}

#[tokio::test]
async fn bodies_must_be_objects_and_subjects_travel_only_as_the_subject_argument() {
    let world = World::start().await;
    let (client, _) = world.client(fast_config());
    let consent = world.consent(&subject());
    let refused = client
        .call(
            &world.services.account,
            Some(&consent),
            Some(&subject()),
            json!([1]),
        )
        .await;
    assert!(matches!(refused, Err(ExchangeError::Malformed(_))));
    let refused = client
        .call(
            &world.services.account,
            Some(&consent),
            Some(&subject()),
            json!({"subject": subject().as_str()}),
        )
        .await;
    assert!(matches!(refused, Err(ExchangeError::Malformed(_))));
    assert_eq!(world.handler.hits(), 0);
}
