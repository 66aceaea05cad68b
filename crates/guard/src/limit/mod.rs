//! Rate limits with GCRA (the generic cell rate algorithm), per instance or shared through
//! Redis.
//!
//! A limit is a [`Quota`] applied to a [`LimitKey`]: an endpoint class ("query", "login",
//! "pay", "public"), a [`Dimension`] (user, device, client key, IP address) and the value in
//! that dimension. GCRA keeps one number per key, the theoretical arrival time (TAT) of the
//! next request, and lets a request through if it is no earlier than `TAT − τ`, where the
//! tolerance `τ = T × (burst − 1)` and `T = period / per_period` is the emission interval. A
//! quiet key can therefore take `burst` requests at once and then one every `T`.
//!
//! Two implementations of [`RateLimiter`]:
//!
//! | | [`LocalLimiter`] | [`RedisLimiter`] |
//! | --- | --- | --- |
//! | state | this process (governor keyed limiters) | Redis, one key per limit key |
//! | clock | injected (governor's `Clock`) | Redis `TIME`, so every instance agrees |
//! | several instances | each counts alone | one budget for all |
//! | Redis down | — | falls back to its own [`LocalLimiter`]: per instance, never off |
//!
//! Keys never hold personal data in clear: the value is replaced by its pseudonym,
//! `HMAC-SM3(key derived from the GuardSecret, dimension || 0x00 || value)` truncated to 16
//! bytes and hex-encoded, so the stored key is `class:dimension:<32 hex digits>` (behind a
//! prefix in Redis). IP addresses and user ids are personal information under PIPL, and an
//! unkeyed hash of an IPv4 address is reversed in seconds.

mod local;
mod shared;

use std::fmt;
use std::hash::{Hash, Hasher};
use std::num::NonZeroU32;
use std::time::Duration;

use async_trait::async_trait;

pub use self::local::LocalLimiter;
pub use self::shared::{DEFAULT_REDIS_PREFIX, RedisLimiter};
use crate::GuardError;
use crate::secret::{GuardSecret, SubKey};

/// How many requests a key may make: `per_period` per `period` on average, and up to `burst`
/// at once after a quiet spell.
///
/// Built by [`Quota::new`], which refuses values the algorithm cannot represent, so a `Quota`
/// that exists is usable by both limiters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    per_period: u32,
    period: Duration,
    burst: NonZeroU32,
    /// The same quota in governor's terms, built once here so that no later step can fail.
    governor: governor::Quota,
}

impl Hash for Quota {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // `governor` is a function of the other three fields, so they alone decide equality.
        self.per_period.hash(state);
        self.period.hash(state);
        self.burst.hash(state);
    }
}

impl Quota {
    /// A quota of `per_period` requests per `period` with bursts of up to `burst`.
    ///
    /// Refused: zero counts or period, an emission interval (`period / per_period`) under one
    /// microsecond (the resolution of Redis `TIME`), and a burst window (`burst` emission
    /// intervals) over 366 days.
    pub fn new(per_period: u32, period: Duration, burst: u32) -> Result<Self, GuardError> {
        let (Some(burst), true) = (NonZeroU32::new(burst), per_period > 0) else {
            return Err(GuardError::InvalidConfig(
                "a quota needs at least one request per period and a burst of at least one",
            ));
        };
        let emission_interval = period / per_period;
        let Some(governor) = governor::Quota::with_period(emission_interval)
            .filter(|_| emission_interval >= Duration::from_micros(1))
        else {
            return Err(GuardError::InvalidConfig(
                "a quota's emission interval (period / per_period) must be at least 1 µs",
            ));
        };
        let quota = Self {
            per_period,
            period,
            burst,
            governor: governor.allow_burst(burst),
        };
        let longest_window = Duration::from_secs(366 * 24 * 3600);
        if quota.burst_window() > longest_window {
            return Err(GuardError::InvalidConfig(
                "a quota's burst window (burst × period / per_period) must be at most 366 days",
            ));
        }
        Ok(quota)
    }

    /// The average number of requests allowed per [`Quota::period`].
    pub fn per_period(&self) -> u32 {
        self.per_period
    }

    /// The period over which [`Quota::per_period`] requests are allowed.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// The most requests allowed at once after a quiet spell.
    pub fn burst(&self) -> u32 {
        self.burst.get()
    }

    /// The time in which one request's allowance comes back: `period / per_period`.
    pub fn emission_interval(&self) -> Duration {
        self.period / self.per_period
    }

    /// How long an exhausted key takes to refill completely; also how long state for a key is
    /// worth keeping after its last request.
    pub fn burst_window(&self) -> Duration {
        self.emission_interval().saturating_mul(self.burst.get())
    }

    /// The quota as governor takes it.
    pub(crate) fn governor(&self) -> governor::Quota {
        self.governor
    }
}

/// The kind of value a limit is keyed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dimension {
    /// An authenticated user's id.
    User,
    /// A device id (e.g. of an enrolled device key).
    Device,
    /// An API client key of a partner or app build.
    ClientKey,
    /// The client's IP address (or network prefix, at the caller's choice).
    Ip,
}

impl Dimension {
    /// The label used in stored keys and as the pseudonym's domain.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Device => "device",
            Self::ClientKey => "client_key",
            Self::Ip => "ip",
        }
    }
}

/// What a limit counts: requests of one endpoint `class` from one `value` in one `dimension`.
///
/// Keys that differ in any of the three fields have separate budgets. `Debug` hides `value`,
/// which is usually personal data.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct LimitKey {
    /// The endpoint class, e.g. "query", "login", "pay", "public". Chosen by the server, never
    /// taken from the request, and stored in clear.
    pub class: String,
    /// The kind of `value`.
    pub dimension: Dimension,
    /// The user id, device id, client key or address; stored only as a pseudonym.
    pub value: String,
}

impl LimitKey {
    /// A key for `value` in `dimension` under the endpoint `class`.
    pub fn new(class: impl Into<String>, dimension: Dimension, value: impl Into<String>) -> Self {
        Self {
            class: class.into(),
            dimension,
            value: value.into(),
        }
    }
}

impl fmt::Debug for LimitKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LimitKey")
            .field("class", &self.class)
            .field("dimension", &self.dimension)
            .field("value", &"<redacted>")
            .finish()
    }
}

/// The decision on one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Let the request through; `remaining` more requests would pass right now (the smallest
    /// over all keys checked; `u32::MAX` when no key was checked).
    Allow {
        /// Requests that would still pass at once.
        remaining: u32,
    },
    /// Refuse the request; one made after `retry_after` would pass (for all keys checked).
    /// Whole seconds and at least one, ready for a `Retry-After` header.
    Deny {
        /// When to try again.
        retry_after: Duration,
    },
}

impl Verdict {
    /// Whether the request may go through.
    pub fn is_allowed(&self) -> bool {
        matches!(self, Self::Allow { .. })
    }

    /// The verdict for a set of limits of which the longest wait is `longest_wait`, if any
    /// limit refused, and the smallest remaining allowance is `remaining` otherwise.
    fn from_outcome(longest_wait: Option<Duration>, remaining: u32) -> Self {
        match longest_wait {
            Some(wait) => Self::Deny {
                retry_after: crate::retry_after(wait),
            },
            None => Self::Allow { remaining },
        }
    }
}

/// A rate limiter: answers whether a request may go through and charges it if so.
///
/// Object safe (`Arc<dyn RateLimiter>`), so the server can pick [`LocalLimiter`] or
/// [`RedisLimiter`] from its configuration.
#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// Checks and charges one key.
    async fn check(&self, key: &LimitKey, quota: &Quota) -> Result<Verdict, GuardError> {
        self.check_all(&[(key, quota)]).await
    }

    /// Checks several limits for one request, all or nothing: the request is allowed only if
    /// every limit allows it, and then each key is charged once; if any limit refuses, none is
    /// charged and the verdict carries the longest wait. Keys should be distinct.
    async fn check_all(&self, limits: &[(&LimitKey, &Quota)]) -> Result<Verdict, GuardError>;
}

/// Turns limit keys into the stored form `class:dimension:<pseudonym in hex>`.
pub(crate) struct KeyPseudonymizer(SubKey);

impl KeyPseudonymizer {
    pub(crate) fn new(secret: &GuardSecret) -> Self {
        Self(secret.derive("rate-limit-key"))
    }

    pub(crate) fn stored_key(&self, key: &LimitKey) -> String {
        let dimension = key.dimension.as_str();
        let pseudonym = self.0.pseudonym(dimension, &key.value);
        format!("{}:{dimension}:{}", key.class, hex::encode(pseudonym))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> GuardSecret {
        GuardSecret::from_bytes(&[3u8; 32]).unwrap()
    }

    #[test]
    fn quota_refuses_what_gcra_cannot_represent() {
        let minute = Duration::from_secs(60);
        assert!(Quota::new(0, minute, 1).is_err());
        assert!(Quota::new(1, minute, 0).is_err());
        assert!(Quota::new(1, Duration::ZERO, 1).is_err());
        assert!(Quota::new(2_000_000, Duration::from_secs(1), 1).is_err());
        assert!(Quota::new(1, Duration::from_secs(365 * 24 * 3600), 2).is_err());
        let quota = Quota::new(30, minute, 10).unwrap();
        assert_eq!(quota.emission_interval(), Duration::from_secs(2));
        assert_eq!(quota.burst_window(), Duration::from_secs(20));
    }

    #[test]
    fn stored_keys_carry_no_personal_data() {
        let keys = KeyPseudonymizer::new(&secret());
        let stored = keys.stored_key(&LimitKey::new("query", Dimension::Ip, "203.0.113.7"));
        assert!(!stored.contains("203.0.113.7"));
        let (prefix, pseudonym) = stored.split_at("query:ip:".len());
        assert_eq!(prefix, "query:ip:");
        assert_eq!(pseudonym.len(), 32);
        assert!(pseudonym.chars().all(|c| c.is_ascii_hexdigit()));

        let same_value_other_dimension =
            keys.stored_key(&LimitKey::new("query", Dimension::User, "203.0.113.7"));
        assert_ne!(stored[9..], same_value_other_dimension[11..]);
        let other_deployment = KeyPseudonymizer::new(&GuardSecret::from_bytes(&[4u8; 32]).unwrap());
        assert_ne!(
            stored,
            other_deployment.stored_key(&LimitKey::new("query", Dimension::Ip, "203.0.113.7"))
        );
    }

    #[test]
    fn debug_of_a_key_hides_its_value() {
        let key = LimitKey::new("login", Dimension::User, "13800138000");
        assert!(!format!("{key:?}").contains("13800138000"));
    }
}
