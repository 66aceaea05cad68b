//! Rate limits shared by every instance through Redis, with GCRA in a Lua script.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use governor::{DefaultDirectRateLimiter, Quota as GovernorQuota, RateLimiter as GovernorLimiter};
use redis::Script;
use redis::aio::ConnectionManager;

use super::{KeyPseudonymizer, LimitKey, LocalLimiter, Quota, RateLimiter, Verdict};
use crate::redis_link::{OutageWarning, lazy_connection, within_deadline};
use crate::{GuardError, GuardSecret};

/// The prefix of rate-limit keys in Redis unless [`RedisLimiter::with_prefix`] sets another.
pub const DEFAULT_REDIS_PREFIX: &str = "bianmin:rl:";

/// GCRA over several keys, all or nothing. This script is Bianmin's own (not taken from a
/// library); it follows governor's arithmetic, so both limiters give the same verdicts.
///
/// `KEYS[i]` is a stored limit key; `ARGV[2i-1]` its emission interval `T` and `ARGV[2i]` its
/// tolerance `τ = T × (burst − 1)`, both in microseconds. Time is Redis `TIME`, so instances
/// with skewed clocks still share one budget. Lua numbers are doubles: microseconds since
/// 1970 (about 2^51) are exact, and `%d` keeps them so when stored.
///
/// Returns `{1, remaining}` after charging every key, or `{0, wait}` with the longest wait in
/// microseconds, having charged none. Each key expires when its state would equal a fresh
/// one, at most one burst window after its last charge.
const GCRA_SCRIPT: &str = r"
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local arrivals = {}
local longest_wait = 0
local remaining = -1
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[2 * i - 1])
  local tolerance = tonumber(ARGV[2 * i])
  local arrival = tonumber(redis.call('GET', key)) or now
  local earliest = arrival - tolerance
  if now < earliest then
    longest_wait = math.max(longest_wait, earliest - now)
  else
    local next_arrival = math.max(arrival, now) + interval
    arrivals[i] = next_arrival
    local left = math.floor((now + tolerance + interval - next_arrival) / interval)
    if remaining < 0 or left < remaining then
      remaining = left
    end
  end
end
if longest_wait > 0 then
  return {0, longest_wait}
end
for i, key in ipairs(KEYS) do
  local lifetime_ms = math.max(1, math.ceil((arrivals[i] - now) / 1000))
  redis.call('SET', key, string.format('%d', arrivals[i]), 'PX', lifetime_ms)
end
return {1, remaining}
";

/// Rate limits shared by all instances of a deployment through Redis.
///
/// One script call per request, whatever the number of keys ([`RateLimiter::check_all`]),
/// over a [`ConnectionManager`] that reconnects by itself. Keys are
/// `prefix + class:dimension:<pseudonym>`; the arrival time is stored as microseconds of
/// Redis `TIME` and expires one burst window after the last charge at most.
///
/// If Redis fails or takes longer than 300 ms, the request is decided by this instance's own
/// [`LocalLimiter`] instead and a warning is logged (at most once a minute): protection
/// degrades to per instance, never off. While Redis keeps failing, one request a second tries
/// it and the others go straight to the local limiter, so an outage adds no latency.
///
/// Needs Redis 5 or later (for `TIME` in scripts) and a single Redis or a primary with
/// replicas: keys of one request may lie in different Redis Cluster slots.
pub struct RedisLimiter {
    connection: ConnectionManager,
    keys: KeyPseudonymizer,
    prefix: String,
    script: Script,
    fallback: LocalLimiter,
    redis_healthy: AtomicBool,
    probe_while_failing: DefaultDirectRateLimiter,
    outage: OutageWarning,
}

impl RedisLimiter {
    /// A limiter on the Redis at `url` (`redis://host:port/db`), keying pseudonyms with
    /// `secret`, which every instance must share.
    ///
    /// Does not connect: the connection is made on first use, so an instance starts (and
    /// limits on its own) while Redis is down. Fails only on a malformed URL. Must be called
    /// inside a Tokio runtime.
    pub fn new(url: &str, secret: &GuardSecret) -> Result<Self, GuardError> {
        Ok(Self {
            connection: lazy_connection(url)?,
            keys: KeyPseudonymizer::new(secret),
            prefix: DEFAULT_REDIS_PREFIX.to_owned(),
            script: Script::new(GCRA_SCRIPT),
            fallback: LocalLimiter::new(secret),
            redis_healthy: AtomicBool::new(true),
            probe_while_failing: GovernorLimiter::direct(GovernorQuota::per_second(
                NonZeroU32::MIN,
            )),
            outage: OutageWarning::new("rate limits now count per instance"),
        })
    }

    /// Sets the prefix of keys in Redis (default [`DEFAULT_REDIS_PREFIX`]); instances sharing
    /// budgets must use the same one.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The limiter that decides while Redis is unavailable; call its
    /// [`LocalLimiter::retain_recent`] from the same periodic task as for any local limiter.
    pub fn fallback(&self) -> &LocalLimiter {
        &self.fallback
    }

    async fn decide_in_redis(&self, limits: &[(&LimitKey, &Quota)]) -> Result<Verdict, GuardError> {
        let mut invocation = self.script.prepare_invoke();
        for (key, quota) in limits {
            let interval = micros(quota.emission_interval());
            let tolerance = interval.saturating_mul(u64::from(quota.burst() - 1));
            invocation
                .key(format!("{}{}", self.prefix, self.keys.stored_key(key)))
                .arg(interval)
                .arg(tolerance);
        }
        let mut connection = self.connection.clone();
        let (allowed, amount): (i64, i64) =
            within_deadline(invocation.invoke_async(&mut connection)).await?;
        Ok(if allowed == 1 {
            Verdict::Allow {
                remaining: u32::try_from(amount).unwrap_or(u32::MAX),
            }
        } else {
            let wait = Duration::from_micros(u64::try_from(amount).unwrap_or(u64::MAX));
            Verdict::from_outcome(Some(wait), 0)
        })
    }
}

#[async_trait]
impl RateLimiter for RedisLimiter {
    async fn check_all(&self, limits: &[(&LimitKey, &Quota)]) -> Result<Verdict, GuardError> {
        if limits.is_empty() {
            return Ok(Verdict::Allow {
                remaining: u32::MAX,
            });
        }
        let try_redis =
            self.redis_healthy.load(Ordering::Relaxed) || self.probe_while_failing.check().is_ok();
        if try_redis {
            match self.decide_in_redis(limits).await {
                Ok(verdict) => {
                    if !self.redis_healthy.swap(true, Ordering::Relaxed) {
                        tracing::info!("Redis reachable again: rate limits are shared again");
                    }
                    return Ok(verdict);
                }
                Err(error) => {
                    self.redis_healthy.store(false, Ordering::Relaxed);
                    self.outage.report(&error);
                }
            }
        }
        Ok(self.fallback.decide(limits))
    }
}

/// `duration` in whole microseconds; quotas are at most 366 days long, far inside `u64`.
fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}
