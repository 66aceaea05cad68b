use std::sync::Arc;

use bianmin_core::TestClock;
use chrono::TimeZone;

use super::*;

fn guard_with(config: LoginConfig) -> (LoginGuard, TestClock) {
    let clock = TestClock::at(Utc.with_ymd_and_hms(2025, 3, 3, 20, 0, 0).unwrap());
    let secret = GuardSecret::from_bytes(&[11u8; 32]).unwrap();
    let guard = LoginGuard::new(&secret, Arc::new(clock.clone()), config).unwrap();
    (guard, clock)
}

fn guard() -> (LoginGuard, TestClock) {
    guard_with(LoginConfig::default())
}

fn locked_for(seconds: u64) -> LoginVerdict {
    LoginVerdict::Locked {
        retry_after: Duration::from_secs(seconds),
    }
}

const ACCOUNT: &str = "13800138000";
const PHONE: &str = "device:4f1c9a";

#[test]
fn five_failures_lock_the_pair_and_further_failures_double_the_lock() {
    let (guard, clock) = guard();
    for _ in 0..4 {
        assert_eq!(
            guard.before_attempt(ACCOUNT, PHONE, true),
            LoginVerdict::Allow
        );
        assert_eq!(guard.record(ACCOUNT, PHONE, false), None);
        clock.advance(TimeDelta::seconds(10));
    }
    guard.record(ACCOUNT, PHONE, false);
    assert_eq!(guard.before_attempt(ACCOUNT, PHONE, true), locked_for(60));
    assert_eq!(
        guard.before_attempt(ACCOUNT, "203.0.113.7", false),
        LoginVerdict::Allow,
        "the lock is the pair's, not the account's"
    );

    let mut locks = Vec::new();
    for _ in 0..7 {
        let LoginVerdict::Locked { retry_after } = guard.before_attempt(ACCOUNT, PHONE, true)
        else {
            panic!("not locked");
        };
        locks.push(retry_after.as_secs() / 60);
        clock.advance(TimeDelta::from_std(retry_after).unwrap());
        assert_eq!(
            guard.before_attempt(ACCOUNT, PHONE, true),
            LoginVerdict::Allow
        );
        guard.record(ACCOUNT, PHONE, false);
    }
    assert_eq!(locks, [1, 2, 4, 8, 16, 30, 30]);
}

#[test]
fn a_success_resets_the_pair() {
    let (guard, clock) = guard();
    for _ in 0..5 {
        guard.record(ACCOUNT, PHONE, false);
    }
    clock.advance(TimeDelta::minutes(1));
    guard.record(ACCOUNT, PHONE, true);
    for _ in 0..4 {
        guard.record(ACCOUNT, PHONE, false);
    }
    assert_eq!(
        guard.before_attempt(ACCOUNT, PHONE, true),
        LoginVerdict::Allow
    );
}

#[test]
fn failures_older_than_the_window_and_quiet_pairs_are_forgiven() {
    let (guard, clock) = guard();
    for _ in 0..4 {
        guard.record(ACCOUNT, PHONE, false);
        clock.advance(TimeDelta::minutes(4));
    }
    // The first failure is now 16 minutes old: four within 15 minutes lock nothing.
    guard.record(ACCOUNT, PHONE, false);
    assert_eq!(
        guard.before_attempt(ACCOUNT, PHONE, true),
        LoginVerdict::Allow
    );

    guard.record(ACCOUNT, PHONE, false);
    assert_eq!(guard.before_attempt(ACCOUNT, PHONE, true), locked_for(60));
    // Quiet for 15 minutes after the lock: the next failure starts from scratch.
    clock.advance(TimeDelta::minutes(16));
    guard.record(ACCOUNT, PHONE, false);
    assert_eq!(
        guard.before_attempt(ACCOUNT, PHONE, true),
        LoginVerdict::Allow
    );
}

#[test]
fn an_attack_from_many_sources_never_locks_the_owner_out() {
    let (guard, clock) = guard();
    let victim = "13912345678";
    let victims_phone = "device:victim-phone";
    let mut verdicts = Vec::new();
    for attempt in 0..1_000 {
        let attacker = format!("198.51.100.{}", attempt % 200);
        // The bot answers whatever challenge it is given, and fails.
        if !matches!(
            guard.before_attempt(victim, &attacker, false),
            LoginVerdict::Locked { .. }
        ) {
            guard.record(victim, &attacker, false);
        }
        clock.advance(TimeDelta::seconds(1));
        if attempt % 10 == 0 {
            verdicts.push(guard.before_attempt(victim, victims_phone, true));
        }
    }
    assert!(
        !verdicts
            .iter()
            .any(|verdict| matches!(verdict, LoginVerdict::Locked { .. })),
        "the owner was locked out: {verdicts:?}"
    );
    assert_eq!(verdicts[0], LoginVerdict::Allow);
    assert!(
        verdicts[1..].iter().all(|v| *v == LoginVerdict::Challenge),
        "{verdicts:?}"
    );
    assert!(guard.requires_challenge(victim));
    assert!(
        matches!(
            guard.before_attempt(victim, "198.51.100.199", false),
            LoginVerdict::Locked { .. }
        ),
        "each address came back every 200 s: its fifth failure within 15 minutes locked its pair"
    );

    // The owner answers the challenge and logs in; the attack goes on, so do the challenges.
    assert_eq!(guard.record(victim, victims_phone, true), None);
    assert_eq!(
        guard.before_attempt(victim, victims_phone, true),
        LoginVerdict::Challenge
    );
    assert_eq!(
        guard.before_attempt("13700000000", victims_phone, true),
        LoginVerdict::Allow,
        "other accounts are untouched"
    );

    // An hour after the attack stops, the account is back to normal.
    clock.advance(TimeDelta::hours(1));
    assert_eq!(
        guard.before_attempt(victim, victims_phone, true),
        LoginVerdict::Allow
    );
}

#[test]
fn failures_from_three_sources_require_a_challenge_but_lock_nothing() {
    let (guard, _clock) = guard();
    guard.record(ACCOUNT, "203.0.113.1", false);
    guard.record(ACCOUNT, "203.0.113.2", false);
    assert!(!guard.requires_challenge(ACCOUNT));
    guard.record(ACCOUNT, "203.0.113.3", false);
    assert!(guard.requires_challenge(ACCOUNT));
    assert_eq!(
        guard.before_attempt(ACCOUNT, "203.0.113.9", false),
        LoginVerdict::Challenge
    );
}

#[test]
fn a_source_failing_against_many_accounts_is_blocked_with_evidence() {
    let (guard, clock) = guard();
    let stuffer = "203.0.113.66";
    for account in 0..4 {
        assert_eq!(
            guard.record(&format!("1380000000{account}"), stuffer, false),
            None
        );
        clock.advance(TimeDelta::seconds(20));
    }
    let block = guard
        .record("13800000004", stuffer, false)
        .expect("five accounts failing from one source is stuffing");
    assert_eq!(
        (block.distinct_accounts, block.failures, block.attempts),
        (5, 5, 5)
    );
    assert_eq!(block.until - block.at, TimeDelta::hours(1));
    assert_eq!(block.source.len(), 32);
    assert!(!block.source.contains("203.0.113.66"));
    assert!(block.evidence.contains("撞库"), "{}", block.evidence);
    assert!(
        block.evidence.contains("5 个不同账户"),
        "{}",
        block.evidence
    );

    assert_eq!(
        guard.before_attempt("13999999999", stuffer, false),
        locked_for(3600)
    );
    assert_eq!(
        guard.before_attempt("13999999999", stuffer, true),
        LoginVerdict::Challenge,
        "a citizen behind the same NAT address, on their own enrolled device"
    );
    assert_eq!(
        guard.request_otp("13999999999", stuffer, false),
        locked_for(3600)
    );
    assert_eq!(
        guard.before_attempt("13999999999", "203.0.113.67", false),
        LoginVerdict::Allow
    );
    assert_eq!(
        guard.record("13800000005", stuffer, false),
        None,
        "one block is reported once"
    );
}

#[test]
fn a_busy_shared_address_with_mostly_successes_is_not_stuffing() {
    let (guard, clock) = guard();
    let office = "203.0.113.80";
    for account in 0..20 {
        let account = format!("1390000{account:04}");
        if account.ends_with('0') || account.ends_with('5') {
            // Some mistype their password once.
            assert_eq!(guard.record(&account, office, false), None);
        }
        assert_eq!(guard.record(&account, office, true), None);
        clock.advance(TimeDelta::seconds(15));
    }
    assert_eq!(
        guard.before_attempt("13900009999", office, false),
        LoginVerdict::Allow
    );
}

#[test]
fn an_otp_takes_five_entries_then_is_dead() {
    let (guard, clock) = guard();
    assert_eq!(
        guard.begin_otp_attempt(ACCOUNT),
        OtpAttempt::Dead,
        "none sent"
    );
    assert_eq!(
        guard.request_otp(ACCOUNT, PHONE, false),
        LoginVerdict::Allow
    );
    for left in (0..5).rev() {
        assert_eq!(
            guard.begin_otp_attempt(ACCOUNT),
            OtpAttempt::Compare {
                attempts_left: left
            }
        );
    }
    assert_eq!(guard.begin_otp_attempt(ACCOUNT), OtpAttempt::Dead);

    assert_eq!(
        guard.request_otp(ACCOUNT, PHONE, false),
        LoginVerdict::Allow
    );
    assert_eq!(
        guard.begin_otp_attempt(ACCOUNT),
        OtpAttempt::Compare { attempts_left: 4 },
        "a new OTP has its own five entries"
    );
    guard.otp_accepted(ACCOUNT);
    assert_eq!(
        guard.begin_otp_attempt(ACCOUNT),
        OtpAttempt::Dead,
        "used once"
    );

    assert_eq!(
        guard.request_otp(ACCOUNT, PHONE, false),
        LoginVerdict::Allow
    );
    clock.advance(TimeDelta::minutes(5));
    assert_eq!(
        guard.begin_otp_attempt(ACCOUNT),
        OtpAttempt::Dead,
        "expired"
    );
}

#[test]
fn otp_sends_are_limited_per_pair_and_per_source_and_then_need_a_challenge() {
    let (guard, clock) = guard();
    for _ in 0..5 {
        assert_eq!(
            guard.request_otp(ACCOUNT, PHONE, false),
            LoginVerdict::Allow
        );
        clock.advance(TimeDelta::minutes(10));
    }
    // The first send was 50 minutes ago: this pair may send again in 10 minutes…
    assert_eq!(guard.request_otp(ACCOUNT, PHONE, false), locked_for(600));
    // …but another source is not held back by it: an attacker spending a number's sends
    // does not spend its owner's.
    let attacker = "203.0.113.7";
    for _ in 0..5 {
        assert_eq!(
            guard.request_otp(ACCOUNT, attacker, false),
            LoginVerdict::Allow
        );
    }
    // Ten sends to the account within the hour, from any sources: a challenge for everyone,
    // never a lock; nothing is counted until it is answered.
    let owner_elsewhere = "198.51.100.99";
    assert_eq!(
        guard.request_otp(ACCOUNT, owner_elsewhere, false),
        LoginVerdict::Challenge
    );
    assert_eq!(
        guard.request_otp(ACCOUNT, owner_elsewhere, false),
        LoginVerdict::Challenge
    );
    assert_eq!(
        guard.request_otp(ACCOUNT, owner_elsewhere, true),
        LoginVerdict::Allow
    );
    assert_eq!(
        guard.begin_otp_attempt(ACCOUNT),
        OtpAttempt::Compare { attempts_left: 4 },
        "the answered send's OTP is live"
    );

    let pump = "198.51.100.23";
    for account in 0..20 {
        assert_eq!(
            guard.request_otp(&format!("1370000{account:04}"), pump, false),
            LoginVerdict::Allow
        );
    }
    assert_eq!(
        guard.request_otp("13799999999", pump, false),
        locked_for(3600)
    );
    assert_eq!(
        guard.request_otp("13799999999", PHONE, false),
        LoginVerdict::Allow
    );
}

#[test]
fn state_is_bounded() {
    let (guard, _clock) = guard_with(LoginConfig {
        max_tracked: 100,
        ..LoginConfig::default()
    });
    for account in 0..1_000 {
        guard.record(
            &format!("account-{account}"),
            &format!("source-{account}"),
            false,
        );
    }
    let state = guard.state.lock();
    assert!(state.pairs.len() <= 101 && state.accounts.len() <= 101 && state.sources.len() <= 101);
}

#[test]
fn unreasonable_configurations_are_refused() {
    let secret = GuardSecret::from_bytes(&[11u8; 32]).unwrap();
    let clock: SharedClock = Arc::new(TestClock::at(Utc::now()));
    for config in [
        LoginConfig {
            pair_failures: 0,
            ..LoginConfig::default()
        },
        LoginConfig {
            stuffing_failure_share: 1.5,
            ..LoginConfig::default()
        },
        LoginConfig {
            first_lock: Duration::from_secs(3600),
            ..LoginConfig::default()
        },
        LoginConfig {
            otp_lifetime: Duration::ZERO,
            ..LoginConfig::default()
        },
    ] {
        assert!(LoginGuard::new(&secret, clock.clone(), config).is_err());
    }
}
