//! How this crate talks to Redis: a lazily connected manager per user, a deadline on every
//! call, and warnings about outages at most once a minute.

use std::fmt::Display;
use std::future::Future;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota as GovernorQuota, RateLimiter as GovernorLimiter};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::GuardError;

/// The longest a request waits for Redis before the crate falls back to per-instance state.
/// Rate limiting sits in front of every request, so a slow Redis must not become a slow site.
pub(crate) const REDIS_DEADLINE: Duration = Duration::from_millis(300);

/// A connection manager for `url` that connects on first use and reconnects by itself.
///
/// Connecting lazily lets an instance start while Redis is down (it then protects itself alone
/// until Redis is back). Must be called inside a Tokio runtime: the manager spawns its
/// reconnection task there.
pub(crate) fn lazy_connection(url: &str) -> Result<ConnectionManager, GuardError> {
    let client = redis::Client::open(url)?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(REDIS_DEADLINE))
        .set_response_timeout(Some(REDIS_DEADLINE))
        // One quick retry: anything longer is pointless, as callers give up after
        // `REDIS_DEADLINE` and the manager tries again on the next call.
        .set_number_of_retries(1)
        .set_min_delay(Duration::from_millis(20))
        .set_max_delay(Duration::from_millis(100));
    Ok(ConnectionManager::new_lazy_with_config(client, config)?)
}

/// Runs a Redis call with [`REDIS_DEADLINE`].
pub(crate) async fn within_deadline<T>(
    call: impl Future<Output = Result<T, redis::RedisError>>,
) -> Result<T, GuardError> {
    match tokio::time::timeout(REDIS_DEADLINE, call).await {
        Ok(result) => Ok(result?),
        Err(_elapsed) => Err(GuardError::RedisTimeout(REDIS_DEADLINE)),
    }
}

/// Logs an outage of Redis at most once a minute, with the number of failures it kept quiet
/// about since, so that a Redis outage under load does not flood the logs.
pub(crate) struct OutageWarning {
    gate: DefaultDirectRateLimiter,
    suppressed: AtomicU64,
    consequence: &'static str,
}

impl OutageWarning {
    /// A warning whose message says what the outage means, e.g. that limits are now per
    /// instance.
    pub(crate) fn new(consequence: &'static str) -> Self {
        Self {
            gate: GovernorLimiter::direct(GovernorQuota::per_minute(NonZeroU32::MIN)),
            suppressed: AtomicU64::new(0),
            consequence,
        }
    }

    /// Reports one failed call.
    pub(crate) fn report(&self, error: &dyn Display) {
        if self.gate.check().is_ok() {
            let suppressed = self.suppressed.swap(0, Ordering::Relaxed);
            tracing::warn!(
                error = %error,
                suppressed_since_last_warning = suppressed,
                "Redis unavailable: {}",
                self.consequence
            );
        } else {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
        }
    }
}
