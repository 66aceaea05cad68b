//! The circuit breaker of one provider: closed → open after N consecutive failed attempts →
//! half-open after a cool-down, letting one probe through → closed on its success, open again
//! on its failure.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::ExchangeError;

/// Where a provider's breaker stands, as [`ExchangeClient::breaker_state`] reports it.
///
/// [`ExchangeClient::breaker_state`]: crate::ExchangeClient::breaker_state
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls go through.
    Closed,
    /// Calls fail fast with [`ExchangeError::CircuitOpen`] until the cool-down ends.
    Open,
    /// The cool-down has ended: the next call is a probe (or one is in flight and the others
    /// still fail fast).
    HalfOpen,
}

#[derive(Debug)]
enum State {
    Closed { failures: u32 },
    Open { until: Instant },
    Probing,
}

/// One provider's breaker. Cool-downs run on real (monotonic) time, not the injected clock.
#[derive(Debug)]
pub(crate) struct Breaker {
    threshold: u32,
    cooldown: Duration,
    state: Mutex<State>,
}

impl Breaker {
    pub(crate) fn new(threshold: u32, cooldown: Duration) -> Breaker {
        Breaker {
            threshold: threshold.max(1),
            cooldown,
            state: Mutex::new(State::Closed { failures: 0 }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Every transition is one assignment, so a poisoned lock holds a valid state.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn state(&self) -> BreakerState {
        match *self.lock() {
            State::Closed { .. } => BreakerState::Closed,
            State::Open { until } if Instant::now() < until => BreakerState::Open,
            State::Open { .. } | State::Probing => BreakerState::HalfOpen,
        }
    }

    /// Permission for one attempt, or `CircuitOpen`.
    pub(crate) fn try_acquire(self: &Arc<Self>) -> Result<BreakerPermit, ExchangeError> {
        let mut state = self.lock();
        let probe = match *state {
            State::Closed { .. } => false,
            State::Open { until } if Instant::now() >= until => {
                *state = State::Probing;
                true
            }
            State::Open { .. } | State::Probing => return Err(ExchangeError::CircuitOpen),
        };
        Ok(BreakerPermit {
            breaker: Arc::clone(self),
            probe,
            settled: false,
        })
    }

    fn record(&self, success: bool) {
        let mut state = self.lock();
        *state = match (&*state, success) {
            (_, true) => State::Closed { failures: 0 },
            (State::Closed { failures }, false) if failures + 1 < self.threshold => State::Closed {
                failures: failures + 1,
            },
            // Already open: a late failure of an attempt that started before does not extend
            // the cool-down.
            (State::Open { until }, false) => State::Open { until: *until },
            (_, false) => State::Open {
                until: Instant::now() + self.cooldown,
            },
        };
    }
}

/// One attempt's pass through the breaker; report how it went.
#[derive(Debug)]
pub(crate) struct BreakerPermit {
    breaker: Arc<Breaker>,
    probe: bool,
    settled: bool,
}

impl BreakerPermit {
    /// The provider answered properly (any signed answer but 503).
    pub(crate) fn success(mut self) {
        self.settled = true;
        self.breaker.record(true);
    }

    /// The provider timed out, could not be reached, was unavailable or answered garbage.
    pub(crate) fn failure(mut self) {
        self.settled = true;
        self.breaker.record(false);
    }
}

impl Drop for BreakerPermit {
    fn drop(&mut self) {
        // A probe abandoned before it was sent (the caller gave up, or no concurrency permit
        // came in time) says nothing about the provider: let the next call probe at once
        // instead of leaving the breaker half-open forever.
        if self.probe && !self.settled {
            *self.breaker.lock() = State::Open {
                until: Instant::now(),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_consecutive_failures_and_recovers_through_one_probe() {
        let breaker = Arc::new(Breaker::new(2, Duration::from_millis(30)));
        breaker.try_acquire().unwrap().failure();
        breaker.try_acquire().unwrap().success();
        breaker.try_acquire().unwrap().failure();
        assert_eq!(breaker.state(), BreakerState::Closed);
        breaker.try_acquire().unwrap().failure();
        assert_eq!(breaker.state(), BreakerState::Open);
        assert!(matches!(
            breaker.try_acquire(),
            Err(ExchangeError::CircuitOpen)
        ));

        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        let probe = breaker.try_acquire().unwrap();
        assert!(breaker.try_acquire().is_err(), "only one probe at a time");
        probe.failure();
        assert_eq!(breaker.state(), BreakerState::Open);

        std::thread::sleep(Duration::from_millis(40));
        breaker.try_acquire().unwrap().success();
        assert_eq!(breaker.state(), BreakerState::Closed);
    }

    #[test]
    fn an_abandoned_probe_lets_the_next_call_probe() {
        let breaker = Arc::new(Breaker::new(1, Duration::from_millis(10)));
        breaker.try_acquire().unwrap().failure();
        std::thread::sleep(Duration::from_millis(20));
        drop(breaker.try_acquire().unwrap());
        assert!(breaker.try_acquire().is_ok());
    }
}
