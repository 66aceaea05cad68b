//! The seeded draw of latency and faults for each request an agency receives.

use std::sync::Mutex;
use std::time::Duration;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, LogNormal};

use super::config::{FaultConfig, LatencyConfig};

/// What happens to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// Served normally.
    None,
    /// Held past the client's timeout.
    Timeout,
    /// A signed 503.
    Unavailable,
    /// A body that breaks the schema.
    Malformed,
    /// Signed with the wrong key.
    BadSignature,
    /// Served after an extra delay.
    Slow,
}

/// The `z` of the 99th percentile of a standard normal.
const Z99: f64 = 2.326_347_874;

/// A latency and fault source for one agency.
#[derive(Debug)]
pub(crate) struct FaultPlan {
    rng: Mutex<ChaCha8Rng>,
    latency: Option<LogNormal<f64>>,
    faults: FaultConfig,
    hang: Duration,
}

impl FaultPlan {
    pub(crate) fn new(
        rng: ChaCha8Rng,
        latency: LatencyConfig,
        faults: FaultConfig,
        service_timeout: Duration,
    ) -> Self {
        Self {
            rng: Mutex::new(rng),
            latency: log_normal(latency),
            faults,
            hang: faults.hang_ms.map_or(
                service_timeout + Duration::from_secs(1),
                Duration::from_millis,
            ),
        }
    }

    /// The fault and the delay before answering.
    pub(crate) fn draw(&self) -> (Fault, Duration) {
        // A panic while holding the lock leaves a generator that is still a generator.
        let mut rng = self
            .rng
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let draw: f64 = rng.random();
        let latency = self
            .latency
            .map_or(0.0, |distribution| distribution.sample(&mut *rng));
        let mut cumulative = 0.0;
        let mut fault = Fault::None;
        for (rate, candidate) in self.faults.rates().into_iter().zip([
            Fault::Timeout,
            Fault::Unavailable,
            Fault::Malformed,
            Fault::BadSignature,
            Fault::Slow,
        ]) {
            cumulative += rate;
            if draw < cumulative {
                fault = candidate;
                break;
            }
        }
        let delay = Duration::from_secs_f64(latency.max(0.0) / 1_000.0)
            + match fault {
                Fault::Timeout => self.hang,
                Fault::Slow => Duration::from_millis(self.faults.slow_ms),
                _ => Duration::ZERO,
            };
        (fault, delay)
    }
}

/// The log-normal with the given mean and 99th percentile (in ms), or `None` for no latency.
///
/// With `m` the mean and `q` the 99th percentile: `ln m = μ + σ²/2` and `ln q = μ + z σ`, so
/// `σ = z − sqrt(z² − 2 ln(q/m))` (the smaller root; `σ = z` when `q/m` exceeds `e^(z²/2)`,
/// about 15) and `μ = ln m − σ²/2`.
pub(crate) fn log_normal(latency: LatencyConfig) -> Option<LogNormal<f64>> {
    if latency.mean_ms <= 0.0 {
        return None;
    }
    let ratio = (latency.p99_ms / latency.mean_ms).max(1.0).ln();
    let sigma = Z99 - (Z99 * Z99 - 2.0 * ratio).max(0.0).sqrt();
    let mu = latency.mean_ms.ln() - sigma * sigma / 2.0;
    LogNormal::new(mu, sigma).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn latency_has_the_configured_mean_and_tail() {
        let distribution = log_normal(LatencyConfig {
            mean_ms: 50.0,
            p99_ms: 300.0,
        })
        .unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut samples: Vec<f64> = (0..200_000)
            .map(|_| distribution.sample(&mut rng))
            .collect();
        let mean = samples.iter().sum::<f64>() / samples.len() as f64;
        samples.sort_by(f64::total_cmp);
        let p99 = samples[samples.len() * 99 / 100];
        assert!((mean - 50.0).abs() < 1.5, "mean {mean}");
        assert!((p99 - 300.0).abs() < 15.0, "p99 {p99}");
        assert!(log_normal(LatencyConfig::default()).is_none());
    }

    #[test]
    fn faults_come_in_the_configured_proportions() {
        let faults = FaultConfig {
            timeout: 0.1,
            http_5xx: 0.2,
            malformed_payload: 0.05,
            bad_signature: 0.05,
            slow: 0.1,
            ..FaultConfig::default()
        };
        let plan = FaultPlan::new(
            ChaCha8Rng::seed_from_u64(7),
            LatencyConfig::default(),
            faults,
            Duration::from_millis(500),
        );
        let mut counts = std::collections::HashMap::new();
        for _ in 0..20_000 {
            let (fault, delay) = plan.draw();
            match fault {
                Fault::Timeout => assert_eq!(delay, Duration::from_millis(1_500)),
                Fault::Slow => assert_eq!(delay, Duration::from_millis(1_000)),
                _ => assert_eq!(delay, Duration::ZERO),
            }
            *counts.entry(fault).or_insert(0u32) += 1;
        }
        let share = |fault| f64::from(counts[&fault]) / 20_000.0;
        assert!((share(Fault::Timeout) - 0.1).abs() < 0.01);
        assert!((share(Fault::Unavailable) - 0.2).abs() < 0.012);
        assert!((share(Fault::Malformed) - 0.05).abs() < 0.008);
        assert!((share(Fault::BadSignature) - 0.05).abs() < 0.008);
        assert!((share(Fault::Slow) - 0.1).abs() < 0.01);
        assert!((share(Fault::None) - 0.5).abs() < 0.015);
    }
}
