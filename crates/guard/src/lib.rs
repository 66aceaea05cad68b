//! The engine of Bianmin's protection against automated threats: scraping (OWASP OAT-011),
//! credential stuffing (OAT-008), account aggregation (OAT-020) and scanning (OAT-014).
//!
//! The crate knows nothing of HTTP: the server calls it from middleware, with what it read
//! from the request, and turns its answers into responses. Four capabilities:
//!
//! | module | answers | state |
//! | --- | --- | --- |
//! | [`limit`] | may this request go through, by GCRA quotas per endpoint class and user, device, client key or address? | [`RedisLimiter`]: shared by all instances through Redis; [`LocalLimiter`]: per instance (also the Redis limiter's fallback) |
//! | [`behaviour`] | does this session or device act like a bot (enumeration, breadth, machine timing, errors, automation signatures), and what friction follows? | per instance, bounded |
//! | [`challenge`] | a stateless proof-of-work challenge for subjects that must show they are worth serving | none but answered ids: per instance, plus Redis if configured |
//! | [`login`] | may this login or OTP attempt be checked, and was that credential stuffing? | per instance, bounded |
//!
//! # How the server uses it
//!
//! For a citizen's lookup (provident fund, social security, fines by plate):
//!
//! 1. `limiter.check_all(&[(&user_key, &query_quota), (&ip_key, &ip_quota)])`; on
//!    [`Verdict::Deny`] answer 429 with `Retry-After: retry_after`.
//! 2. `tracker.standing(session, now)`: [`Level::Block`] → 429 until `until`;
//!    [`Level::Challenge`] → refuse with `issuer.issue(session)` as the body for the SDK to
//!    solve, unless the request carries an answer that `issuer.verify(session, token,
//!    counter)` accepts, after which `tracker.challenge_passed(session, now)`;
//!    [`Level::Slow`] → wait `delay`, then serve.
//! 3. Serve, then `tracker.observe(session, observation)` with the target, the outcome and
//!    the client's signals; log any [`Escalation`] it returns.
//!
//! For a login: `login.before_attempt(account, source, known_device)`, then (on `Allow`, or
//! on `Challenge` once answered) check the credentials and `login.record(...)`; log any
//! [`SourceBlock`].
//!
//! ```
//! use std::time::Duration;
//!
//! use bianmin_guard::{
//!     BehaviourConfig, BehaviourTracker, ClientSignals, Dimension, GuardSecret, Level,
//!     LimitKey, LocalLimiter, Observation, Outcome, Quota, RateLimiter,
//! };
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! // In production: 32 random bytes from the deployment's keyring, the same on every instance.
//! let secret = GuardSecret::from_bytes(&[7u8; 32])?;
//! let limiter = LocalLimiter::new(&secret);
//! let lookups = Quota::new(30, Duration::from_secs(60), 10)?;
//! let user = LimitKey::new("query", Dimension::User, "user-42");
//! assert!(limiter.check(&user, &lookups).await?.is_allowed());
//!
//! let tracker = BehaviourTracker::new(BehaviourConfig::default())?;
//! let now = chrono::Utc::now();
//! assert_eq!(tracker.standing("session-1", now).level, Level::Normal);
//! let browser = ClientSignals {
//!     user_agent: Some("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X)".into()),
//!     accept_language: true,
//!     webdriver: false,
//!     signed: true,
//! };
//! let lookup = Observation {
//!     at: now,
//!     class: "query".into(),
//!     target: Some("川A12345".into()),
//!     outcome: Outcome::Ok,
//!     client: browser,
//! };
//! assert_eq!(tracker.observe("session-1", lookup).level, Level::Normal);
//! # Ok::<(), bianmin_guard::GuardError>(())
//! # }).unwrap();
//! ```
//!
//! Every instance of a deployment uses the same [`GuardSecret`], from which all keys are
//! derived: pseudonyms of rate-limit keys, of subjects in challenges and of accounts and
//! sources in login state, and the challenges' MAC. No personal data (addresses, user ids,
//! resident ids, plates, account names) is stored in clear, written to Redis, or put into an
//! evidence string.
//!
//! Time is injected everywhere: governor's clock for [`LocalLimiter`], Redis `TIME` for
//! [`RedisLimiter`] (so instances agree), the caller's timestamps for [`BehaviourTracker`],
//! and a [`bianmin_core::SharedClock`] for [`ChallengeIssuer`] and [`LoginGuard`].

#![warn(missing_docs)]

pub mod behaviour;
pub mod challenge;
mod error;
pub mod limit;
pub mod login;
mod redis_link;
mod secret;

use std::time::Duration;

pub use self::behaviour::{
    Assessment, BehaviourConfig, BehaviourTracker, ClientSignals, Escalation, Evidence, Level,
    Observation, Outcome, Signal, Thresholds, Weights,
};
pub use self::challenge::{
    Challenge, ChallengeIssuer, DEFAULT_DIFFICULTY_BITS, RedisSpentStore, SpentStore, solve,
};
pub use self::error::GuardError;
pub use self::limit::{
    Dimension, LimitKey, LocalLimiter, Quota, RateLimiter, RedisLimiter, Verdict,
};
pub use self::login::{LoginConfig, LoginGuard, LoginVerdict, OtpAttempt, SourceBlock};
pub use self::secret::GuardSecret;

/// A wait as a `Retry-After` value: whole seconds, rounded up, and at least one, since "retry
/// after 0 seconds" invites an immediate retry that is refused again.
pub(crate) fn retry_after(wait: Duration) -> Duration {
    let whole = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    Duration::from_secs(whole.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_rounds_up_to_whole_seconds_of_at_least_one() {
        assert_eq!(retry_after(Duration::ZERO), Duration::from_secs(1));
        assert_eq!(
            retry_after(Duration::from_millis(1)),
            Duration::from_secs(1)
        );
        assert_eq!(retry_after(Duration::from_secs(6)), Duration::from_secs(6));
        assert_eq!(
            retry_after(Duration::from_millis(6_001)),
            Duration::from_secs(7)
        );
    }
}
