//! What several instances share through Redis, against a real Redis.
//!
//! Tests that need Redis read `BIANMIN_TEST_REDIS_URL` (e.g. `redis://127.0.0.1:6379`) and are
//! skipped, with a note, when it is unset. Each uses its own key prefix, so they can run at the
//! same time and against a Redis that holds other data.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bianmin_core::{SharedClock, TestClock};
use bianmin_guard::{
    ChallengeIssuer, Dimension, GuardError, GuardSecret, LimitKey, Quota, RateLimiter,
    RedisLimiter, RedisSpentStore, Verdict, solve,
};
use chrono::{TimeZone, Utc};

fn redis_url(test: &str) -> Option<String> {
    match std::env::var("BIANMIN_TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            println!(
                "skipping {test}: set BIANMIN_TEST_REDIS_URL=redis://127.0.0.1:6379 to run it"
            );
            None
        }
    }
}

fn unique_prefix(test: &str) -> String {
    let run = hex::encode(bianmin_crypto::random_bytes::<6>());
    format!("bianmin:test:{test}:{run}:")
}

fn secret() -> GuardSecret {
    GuardSecret::from_bytes(&[42u8; 32]).unwrap()
}

/// A URL where nothing listens: a port the OS just handed out and took back.
fn closed_port_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("redis://127.0.0.1:{port}")
}

async fn keys_under(url: &str, prefix: &str) -> Vec<String> {
    let mut connection = redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut connection)
        .await
        .unwrap()
}

async fn milliseconds_to_live(url: &str, key: &str) -> i64 {
    let mut connection = redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    redis::cmd("PTTL")
        .arg(key)
        .query_async(&mut connection)
        .await
        .unwrap()
}

#[tokio::test]
async fn two_instances_share_one_budget() {
    let Some(url) = redis_url("two_instances_share_one_budget") else {
        return;
    };
    let prefix = unique_prefix("shared-budget");
    // Two server instances: two limiters, two connections, one Redis.
    let first = RedisLimiter::new(&url, &secret())
        .unwrap()
        .with_prefix(&prefix);
    let second = RedisLimiter::new(&url, &secret())
        .unwrap()
        .with_prefix(&prefix);
    let quota = Quota::new(5, Duration::from_secs(3600), 5).unwrap();
    let key = LimitKey::new("query", Dimension::Ip, "203.0.113.7");

    let mut verdicts = Vec::new();
    for request in 0..10 {
        let instance = if request % 2 == 0 { &first } else { &second };
        verdicts.push(instance.check(&key, &quota).await.unwrap());
    }
    let remaining: Vec<Option<u32>> = verdicts
        .iter()
        .map(|verdict| match verdict {
            Verdict::Allow { remaining } => Some(*remaining),
            Verdict::Deny { .. } => None,
        })
        .collect();
    assert_eq!(
        remaining,
        [
            Some(4),
            Some(3),
            Some(2),
            Some(1),
            Some(0),
            None,
            None,
            None,
            None,
            None
        ],
        "five requests in all, not five per instance"
    );
    assert_eq!(
        verdicts[9],
        Verdict::Deny {
            retry_after: Duration::from_secs(720)
        },
        "one request comes back every 12 minutes"
    );

    let keys = keys_under(&url, &prefix).await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    let stored = &keys[0];
    assert!(!stored.contains("203.0.113.7"), "{stored}");
    let pseudonym = stored
        .strip_prefix(&format!("{prefix}query:ip:"))
        .unwrap_or_else(|| panic!("{stored} is not prefix + class:dimension:pseudonym"));
    assert_eq!(pseudonym.len(), 32);
    let to_live = milliseconds_to_live(&url, stored).await;
    assert!(
        (3_000_000..=3_600_000).contains(&to_live),
        "the state expires once refilled, within one burst window: {to_live} ms"
    );
}

#[tokio::test]
async fn redis_gives_the_same_verdicts_as_the_local_limiter() {
    let Some(url) = redis_url("redis_gives_the_same_verdicts_as_the_local_limiter") else {
        return;
    };
    let limiter = RedisLimiter::new(&url, &secret())
        .unwrap()
        .with_prefix(unique_prefix("parity"));
    let quota = Quota::new(10, Duration::from_secs(60), 3).unwrap();
    let key = LimitKey::new("query", Dimension::User, "user-42");
    for expected_remaining in [2, 1, 0] {
        assert_eq!(
            limiter.check(&key, &quota).await.unwrap(),
            Verdict::Allow {
                remaining: expected_remaining
            }
        );
    }
    assert_eq!(
        limiter.check(&key, &quota).await.unwrap(),
        Verdict::Deny {
            retry_after: Duration::from_secs(6)
        }
    );
}

#[tokio::test]
async fn check_all_charges_no_key_when_one_denies() {
    let Some(url) = redis_url("check_all_charges_no_key_when_one_denies") else {
        return;
    };
    let limiter = RedisLimiter::new(&url, &secret())
        .unwrap()
        .with_prefix(unique_prefix("all-or-nothing"));
    let user = LimitKey::new("query", Dimension::User, "user-42");
    let user_quota = Quota::new(30, Duration::from_secs(3600), 3).unwrap();
    let address = LimitKey::new("query", Dimension::Ip, "203.0.113.7");
    let address_quota = Quota::new(1, Duration::from_secs(3600), 1).unwrap();
    let device = LimitKey::new("query", Dimension::Device, "device-7");
    let device_quota = Quota::new(2, Duration::from_secs(3600), 1).unwrap();

    assert_eq!(
        limiter
            .check_all(&[(&user, &user_quota), (&address, &address_quota)])
            .await
            .unwrap(),
        Verdict::Allow { remaining: 0 }
    );
    assert!(
        limiter
            .check(&device, &device_quota)
            .await
            .unwrap()
            .is_allowed()
    );

    for _ in 0..3 {
        assert_eq!(
            limiter
                .check_all(&[
                    (&user, &user_quota),
                    (&address, &address_quota),
                    (&device, &device_quota)
                ])
                .await
                .unwrap(),
            Verdict::Deny {
                retry_after: Duration::from_secs(3600)
            },
            "the address waits an hour, the device half: the longer wait counts"
        );
    }
    assert_eq!(
        limiter.check(&user, &user_quota).await.unwrap(),
        Verdict::Allow { remaining: 1 },
        "the three refused requests used none of the user's allowance"
    );
}

#[tokio::test]
async fn an_unreachable_redis_falls_back_to_per_instance_limits() {
    let limiter = RedisLimiter::new(&closed_port_url(), &secret()).unwrap();
    let quota = Quota::new(2, Duration::from_secs(3600), 2).unwrap();
    let key = LimitKey::new("login", Dimension::Ip, "203.0.113.7");
    let started = Instant::now();
    let verdicts = [
        limiter.check(&key, &quota).await.unwrap(),
        limiter.check(&key, &quota).await.unwrap(),
        limiter.check(&key, &quota).await.unwrap(),
    ];
    assert_eq!(
        verdicts,
        [
            Verdict::Allow { remaining: 1 },
            Verdict::Allow { remaining: 0 },
            Verdict::Deny {
                retry_after: Duration::from_secs(1800)
            }
        ],
        "protection degrades to this instance, never off"
    );
    assert_eq!(limiter.fallback().tracked_keys(), 1);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "an outage must not hold requests: {:?}",
        started.elapsed()
    );
}

fn clock() -> TestClock {
    TestClock::at(Utc.with_ymd_and_hms(2025, 3, 3, 9, 0, 0).unwrap())
}

fn issuer(clock: &TestClock, store: RedisSpentStore) -> ChallengeIssuer {
    let shared: SharedClock = Arc::new(clock.clone());
    ChallengeIssuer::new(&secret(), shared, 10)
        .unwrap()
        .with_spent_store(Arc::new(store))
}

#[tokio::test]
async fn an_answer_accepted_by_one_instance_is_refused_by_another() {
    let Some(url) = redis_url("an_answer_accepted_by_one_instance_is_refused_by_another") else {
        return;
    };
    let prefix = unique_prefix("spent");
    let clock = clock();
    let first = issuer(
        &clock,
        RedisSpentStore::new(&url).unwrap().with_prefix(&prefix),
    );
    let second = issuer(
        &clock,
        RedisSpentStore::new(&url).unwrap().with_prefix(&prefix),
    );

    let challenge = first.issue("session-1");
    let counter = solve(&challenge);
    first
        .verify("session-1", challenge.token(), counter)
        .await
        .unwrap();
    assert!(matches!(
        second.verify("session-1", challenge.token(), counter).await,
        Err(GuardError::ChallengeReused)
    ));

    let keys = keys_under(&url, &prefix).await;
    assert_eq!(keys, [format!("{prefix}{}", challenge.id())]);
    let to_live = milliseconds_to_live(&url, &keys[0]).await;
    assert!(
        (110_000..=120_000).contains(&to_live),
        "kept as long as the token lives: {to_live} ms"
    );

    // A fresh challenge is still accepted by the second instance.
    let another = second.issue("session-1");
    second
        .verify("session-1", another.token(), solve(&another))
        .await
        .unwrap();
}

#[tokio::test]
async fn an_unreachable_spent_store_leaves_the_instance_refusing_reuse_itself() {
    let clock = clock();
    let issuer = issuer(&clock, RedisSpentStore::new(&closed_port_url()).unwrap());
    let challenge = issuer.issue("session-1");
    let counter = solve(&challenge);
    issuer
        .verify("session-1", challenge.token(), counter)
        .await
        .unwrap();
    assert!(matches!(
        issuer.verify("session-1", challenge.token(), counter).await,
        Err(GuardError::ChallengeReused)
    ));
}
