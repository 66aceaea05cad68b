//! Per-instance rate limits on governor's keyed GCRA limiters.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::nanos::Nanos;
use governor::state::StateStore;
use governor::state::keyed::{DashMapStateStore, ShrinkableKeyedStateStore};
use parking_lot::RwLock;

use super::{KeyPseudonymizer, LimitKey, Quota, RateLimiter, Verdict};
use crate::{GuardError, GuardSecret};

/// Number of keys one quota's limiter may hold before stale keys are dropped, by default.
const DEFAULT_HOUSEKEEPING_THRESHOLD: usize = 100_000;

/// How many checks pass between two looks at a limiter's size: counting a `DashMap` takes
/// every shard's lock, too much to do on every request.
const CHECKS_BETWEEN_SIZE_LOOKS: u64 = 64;

/// Rate limits kept in this process: one governor keyed limiter per distinct [`Quota`], keyed
/// by the pseudonymous stored form of each [`LimitKey`]. Quotas come from configuration, so
/// there are few of them; each limiter lives as long as the `LocalLimiter`.
///
/// Memory stays bounded by the keys active within one burst window: when a limiter holds more
/// keys than the housekeeping threshold, keys whose state equals a fresh one are dropped (the
/// next threshold is then twice what is left, so a flood of active keys does not make every
/// request rescan the map). [`LocalLimiter::retain_recent`] does the same on demand, e.g.
/// from a periodic task.
///
/// Time comes from a governor [`Clock`]: the monotonic clock in production, and
/// `governor::clock::FakeRelativeClock` in tests.
pub struct LocalLimiter<C: Clock = DefaultClock> {
    keys: KeyPseudonymizer,
    clock: C,
    by_quota: RwLock<HashMap<Quota, Arc<QuotaLimiter<C>>>>,
    housekeeping_threshold: usize,
}

impl LocalLimiter<DefaultClock> {
    /// A limiter on the monotonic clock; `secret` keys the pseudonyms of limit keys.
    pub fn new(secret: &GuardSecret) -> Self {
        Self::with_clock(secret, DefaultClock::default())
    }
}

impl<C: Clock + Clone> LocalLimiter<C> {
    /// A limiter reading time from `clock`.
    pub fn with_clock(secret: &GuardSecret, clock: C) -> Self {
        Self {
            keys: KeyPseudonymizer::new(secret),
            clock,
            by_quota: RwLock::new(HashMap::new()),
            housekeeping_threshold: DEFAULT_HOUSEKEEPING_THRESHOLD,
        }
    }

    /// Sets how many keys one quota's limiter may hold before stale keys are dropped
    /// (default 100,000).
    pub fn with_housekeeping_threshold(mut self, keys: usize) -> Self {
        self.housekeeping_threshold = keys.max(1);
        self
    }

    /// Drops the state of every key that has refilled completely, which is indistinguishable
    /// from no state at all, so no verdict changes.
    pub fn retain_recent(&self) {
        for limiter in self.by_quota.read().values() {
            limiter.drop_stale_keys(self.housekeeping_threshold);
        }
    }

    /// The number of keys with state, over all quotas.
    pub fn tracked_keys(&self) -> usize {
        self.by_quota
            .read()
            .values()
            .map(|limiter| limiter.len())
            .sum()
    }

    /// Checks and charges `limits` all or nothing (see [`RateLimiter::check_all`]).
    ///
    /// Governor has no multi-key check, so the keys are charged one by one and, if any
    /// refuses, those already charged are refunded one emission interval each. A request
    /// racing with a refund can see a key fuller than it ends up; that errs towards refusing,
    /// never towards letting more through.
    pub(crate) fn decide(&self, limits: &[(&LimitKey, &Quota)]) -> Verdict {
        let mut charged = Vec::with_capacity(limits.len());
        let mut longest_wait: Option<Duration> = None;
        let mut remaining = u32::MAX;
        for (key, quota) in limits {
            let limiter = self.limiter_for(quota);
            let stored = self.keys.stored_key(key);
            match limiter.gcra.check_key(&stored) {
                Ok(snapshot) => {
                    remaining = remaining.min(snapshot.remaining_burst_capacity());
                    charged.push((limiter, stored));
                }
                Err(not_until) => {
                    let wait = not_until.wait_time_from(self.clock.now());
                    longest_wait = Some(longest_wait.map_or(wait, |longest| longest.max(wait)));
                }
            }
        }
        for (limiter, stored) in &charged {
            if longest_wait.is_some() {
                limiter.refund(stored);
            } else {
                limiter.after_charge(self.housekeeping_threshold);
            }
        }
        Verdict::from_outcome(longest_wait, remaining)
    }

    fn limiter_for(&self, quota: &Quota) -> Arc<QuotaLimiter<C>> {
        if let Some(limiter) = self.by_quota.read().get(quota) {
            return Arc::clone(limiter);
        }
        let mut by_quota = self.by_quota.write();
        let limiter = by_quota
            .entry(*quota)
            .or_insert_with(|| Arc::new(QuotaLimiter::new(quota, self.clock.clone())));
        Arc::clone(limiter)
    }
}

#[async_trait]
impl<C: Clock + Clone + Send + Sync> RateLimiter for LocalLimiter<C>
where
    C::Instant: Send + Sync,
{
    async fn check_all(&self, limits: &[(&LimitKey, &Quota)]) -> Result<Verdict, GuardError> {
        Ok(self.decide(limits))
    }
}

/// The governor limiter of one quota, with a handle on its state for refunds.
struct QuotaLimiter<C: Clock> {
    gcra: governor::RateLimiter<String, SharedState, C, StateInformationMiddleware>,
    state: SharedState,
    emission_interval: Nanos,
    checks: AtomicU64,
    next_housekeeping_at: AtomicUsize,
}

impl<C: Clock> QuotaLimiter<C> {
    fn new(quota: &Quota, clock: C) -> Self {
        let state = SharedState::default();
        let gcra = governor::RateLimiter::new(quota.governor(), state.clone(), clock);
        Self {
            gcra,
            state,
            emission_interval: quota.emission_interval().into(),
            checks: AtomicU64::new(0),
            next_housekeeping_at: AtomicUsize::new(0),
        }
    }

    fn len(&self) -> usize {
        self.gcra.len()
    }

    /// Takes back one charge of `stored`: GCRA advanced its arrival time by one emission
    /// interval, so moving it back by one restores the allowance, whatever other requests did
    /// in between.
    fn refund(&self, stored: &String) {
        let interval = self.emission_interval;
        let Ok(()) = self.state.measure_and_replace(stored, |arrival| {
            let arrival = arrival.unwrap_or(Nanos::new(0));
            Ok::<_, Infallible>(((), arrival.saturating_sub(interval)))
        });
    }

    fn after_charge(&self, threshold: usize) {
        let checks = self.checks.fetch_add(1, Ordering::Relaxed);
        if checks.is_multiple_of(CHECKS_BETWEEN_SIZE_LOOKS) {
            let limit = self
                .next_housekeeping_at
                .load(Ordering::Relaxed)
                .max(threshold);
            if self.len() > limit {
                self.drop_stale_keys(threshold);
            }
        }
    }

    fn drop_stale_keys(&self, threshold: usize) {
        self.gcra.retain_recent();
        self.gcra.shrink_to_fit();
        let left = self.len();
        self.next_housekeeping_at
            .store(left.saturating_mul(2).max(threshold), Ordering::Relaxed);
    }
}

/// A governor state store that the limiter and [`QuotaLimiter::refund`] share.
#[derive(Clone, Default)]
struct SharedState(Arc<DashMapStateStore<String>>);

impl StateStore for SharedState {
    type Key = String;

    fn measure_and_replace<T, F, E>(&self, key: &String, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        self.0.measure_and_replace(key, f)
    }
}

impl ShrinkableKeyedStateStore<String> for SharedState {
    fn retain_recent(&self, drop_below: Nanos) {
        self.0.retain_recent(drop_below);
    }

    fn shrink_to_fit(&self) {
        ShrinkableKeyedStateStore::shrink_to_fit(&*self.0);
    }

    fn len(&self) -> usize {
        ShrinkableKeyedStateStore::len(&*self.0)
    }

    fn is_empty(&self) -> bool {
        ShrinkableKeyedStateStore::is_empty(&*self.0)
    }
}

#[cfg(test)]
mod tests {
    use governor::clock::FakeRelativeClock;

    use super::*;
    use crate::limit::Dimension;

    fn limiter() -> (LocalLimiter<FakeRelativeClock>, FakeRelativeClock) {
        let clock = FakeRelativeClock::default();
        let secret = GuardSecret::from_bytes(&[9u8; 32]).unwrap();
        (LocalLimiter::with_clock(&secret, clock.clone()), clock)
    }

    fn per_minute(per_period: u32, burst: u32) -> Quota {
        Quota::new(per_period, Duration::from_secs(60), burst).unwrap()
    }

    fn ip(value: &str) -> LimitKey {
        LimitKey::new("query", Dimension::Ip, value)
    }

    #[tokio::test]
    async fn allows_the_burst_then_denies_with_retry_after() {
        let (limiter, _clock) = limiter();
        // One request every 6 s on average, up to 3 at once.
        let quota = per_minute(10, 3);
        let key = ip("203.0.113.7");
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
    async fn retry_after_is_rounded_up_to_whole_seconds() {
        let (limiter, clock) = limiter();
        let quota = per_minute(10, 1);
        let key = ip("203.0.113.7");
        assert!(limiter.check(&key, &quota).await.unwrap().is_allowed());
        clock.advance(Duration::from_millis(5_500));
        assert_eq!(
            limiter.check(&key, &quota).await.unwrap(),
            Verdict::Deny {
                retry_after: Duration::from_secs(1)
            }
        );
        clock.advance(Duration::from_millis(100));
        assert_eq!(
            limiter.check(&key, &quota).await.unwrap(),
            Verdict::Deny {
                retry_after: Duration::from_secs(1)
            },
            "0.4 s left still reads as one second, never zero"
        );
    }

    #[tokio::test]
    async fn allowance_comes_back_as_time_passes() {
        let (limiter, clock) = limiter();
        let quota = per_minute(10, 2);
        let key = ip("203.0.113.7");
        assert!(limiter.check(&key, &quota).await.unwrap().is_allowed());
        assert!(limiter.check(&key, &quota).await.unwrap().is_allowed());
        assert!(!limiter.check(&key, &quota).await.unwrap().is_allowed());

        clock.advance(Duration::from_secs(6));
        assert_eq!(
            limiter.check(&key, &quota).await.unwrap(),
            Verdict::Allow { remaining: 0 },
            "one emission interval brings back one request"
        );
        assert!(!limiter.check(&key, &quota).await.unwrap().is_allowed());

        clock.advance(Duration::from_secs(60));
        assert_eq!(
            limiter.check(&key, &quota).await.unwrap(),
            Verdict::Allow { remaining: 1 },
            "a long pause refills the burst, and no more"
        );
    }

    #[tokio::test]
    async fn keys_differing_in_class_dimension_or_value_have_separate_budgets() {
        let (limiter, _clock) = limiter();
        let quota = per_minute(1, 1);
        let exhausted = LimitKey::new("query", Dimension::Ip, "203.0.113.7");
        assert!(
            limiter
                .check(&exhausted, &quota)
                .await
                .unwrap()
                .is_allowed()
        );
        assert!(
            !limiter
                .check(&exhausted, &quota)
                .await
                .unwrap()
                .is_allowed()
        );

        for other in [
            LimitKey::new("login", Dimension::Ip, "203.0.113.7"),
            LimitKey::new("query", Dimension::User, "203.0.113.7"),
            LimitKey::new("query", Dimension::Ip, "203.0.113.8"),
        ] {
            assert!(
                limiter.check(&other, &quota).await.unwrap().is_allowed(),
                "{other:?} shares a budget with {exhausted:?}"
            );
        }
    }

    #[tokio::test]
    async fn check_all_denies_with_the_longest_wait_and_charges_nobody() {
        let (limiter, _clock) = limiter();
        let user = LimitKey::new("query", Dimension::User, "user-42");
        let user_quota = per_minute(10, 5);
        let address = ip("203.0.113.7");
        let address_quota = per_minute(2, 1);
        let device = LimitKey::new("query", Dimension::Device, "device-7");
        let device_quota = per_minute(4, 1);
        assert!(
            limiter
                .check(&address, &address_quota)
                .await
                .unwrap()
                .is_allowed()
        );
        assert!(
            limiter
                .check(&device, &device_quota)
                .await
                .unwrap()
                .is_allowed()
        );

        let verdict = limiter
            .check_all(&[
                (&user, &user_quota),
                (&address, &address_quota),
                (&device, &device_quota),
            ])
            .await
            .unwrap();
        assert_eq!(
            verdict,
            Verdict::Deny {
                retry_after: Duration::from_secs(30)
            },
            "the address waits 30 s, the device 15 s: the longer wait counts"
        );
        assert_eq!(
            limiter.check(&user, &user_quota).await.unwrap(),
            Verdict::Allow { remaining: 4 },
            "the refused request did not use the user's allowance"
        );
    }

    #[tokio::test]
    async fn check_all_allows_and_reports_the_smallest_remaining_allowance() {
        let (limiter, _clock) = limiter();
        let user = LimitKey::new("query", Dimension::User, "user-42");
        let address = ip("203.0.113.7");
        let verdict = limiter
            .check_all(&[(&user, &per_minute(10, 5)), (&address, &per_minute(10, 3))])
            .await
            .unwrap();
        assert_eq!(verdict, Verdict::Allow { remaining: 2 });
        assert_eq!(
            limiter.check_all(&[]).await.unwrap(),
            Verdict::Allow {
                remaining: u32::MAX
            }
        );
    }

    #[tokio::test]
    async fn memory_stays_bounded_by_the_keys_active_within_a_burst_window() {
        let (limiter, clock) = limiter();
        let limiter = limiter.with_housekeeping_threshold(100);
        // Burst window: 2 × 6 s.
        let quota = per_minute(10, 2);
        for client in 0..2_000 {
            assert!(
                limiter
                    .check(&ip(&format!("198.51.100.{client}")), &quota)
                    .await
                    .unwrap()
                    .is_allowed()
            );
            // 20 new clients a second, so about 240 are active within one burst window.
            clock.advance(Duration::from_millis(50));
        }
        let tracked = limiter.tracked_keys();
        assert!(tracked <= 600, "{tracked} keys kept for ~240 active ones");

        clock.advance(Duration::from_secs(13));
        limiter.retain_recent();
        assert_eq!(limiter.tracked_keys(), 0);
    }

    #[tokio::test]
    async fn dropping_stale_keys_changes_no_verdict() {
        let (limiter, clock) = limiter();
        let quota = per_minute(10, 2);
        let busy = ip("203.0.113.7");
        let quiet = ip("203.0.113.8");
        assert!(limiter.check(&quiet, &quota).await.unwrap().is_allowed());
        clock.advance(Duration::from_secs(20));
        assert!(limiter.check(&busy, &quota).await.unwrap().is_allowed());
        assert!(limiter.check(&busy, &quota).await.unwrap().is_allowed());
        limiter.retain_recent();
        assert_eq!(limiter.tracked_keys(), 1, "only the busy key is kept");
        assert!(!limiter.check(&busy, &quota).await.unwrap().is_allowed());
        assert_eq!(
            limiter.check(&quiet, &quota).await.unwrap(),
            Verdict::Allow { remaining: 1 }
        );
    }
}
