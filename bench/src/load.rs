//! A closed-loop HTTP/1.1 load generator: N keep-alive connections, each sending its next request
//! as soon as the previous answer has been read, first for a warm-up that is not recorded, then
//! for the measured window.
//!
//! Closed loop means a slow server receives fewer requests, so the latencies are those of a
//! saturated server, not of one under a fixed arrival rate; that is the right shape for
//! comparing two handlers on the same machine, which is what the suites do.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::Context;
use hdrhistogram::Histogram;
use hyper::StatusCode;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};

use crate::client::Connection;

/// Recorded latencies are clamped to this; the application answers 503 after 30 s anyway.
const LONGEST_RECORDED: Duration = Duration::from_secs(60);

/// How hard and how long to load a target.
#[derive(Debug, Clone, Copy)]
pub struct LoadPlan {
    /// Concurrent keep-alive connections, each with one request in flight.
    pub connections: usize,
    /// Loading before the measured window, to fill caches and pools; not recorded.
    pub warmup: Duration,
    /// The measured window.
    pub duration: Duration,
}

/// What to request: a `GET` of one path, with fixed extra headers.
#[derive(Debug, Clone)]
pub struct Target {
    address: SocketAddr,
    path: String,
    headers: HeaderMap,
}

impl Target {
    /// `GET http://{address}{path}`.
    pub fn get(address: SocketAddr, path: impl Into<String>) -> Target {
        Target {
            address,
            path: path.into(),
            headers: HeaderMap::new(),
        }
    }

    /// The same target with `name: value` sent on every request.
    pub fn with_header(mut self, name: HeaderName, value: &str) -> anyhow::Result<Target> {
        self.headers.insert(name, HeaderValue::from_str(value)?);
        Ok(self)
    }
}

/// The outcome of loading one target for the measured window.
#[derive(Debug)]
pub struct LoadReport {
    /// Requests answered `200 OK` in the measured window.
    pub ok: u64,
    /// Requests in the measured window that got another status or no answer at all.
    pub errors: u64,
    /// From the start of the measured window until the last of its requests was answered.
    pub elapsed: Duration,
    /// Latency of every `200 OK` in the measured window, in nanoseconds.
    latencies: Histogram<u64>,
}

impl LoadReport {
    /// A report of nothing yet, to add connections' tallies to.
    pub fn empty() -> anyhow::Result<LoadReport> {
        Ok(LoadReport {
            ok: 0,
            errors: 0,
            elapsed: Duration::ZERO,
            latencies: new_histogram()?,
        })
    }

    /// Adds a connection's latencies (a histogram made by [`new_histogram`]).
    pub fn add_latencies(&mut self, latencies: &Histogram<u64>) -> anyhow::Result<()> {
        self.latencies
            .add(latencies)
            .context("latency histograms have the same bounds")
    }

    /// Successful requests per second over the measured window.
    pub fn requests_per_second(&self) -> f64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds > 0.0 {
            self.ok as f64 / seconds
        } else {
            0.0
        }
    }

    /// The latency (ms) below which `quantile` of the successful requests were answered, or
    /// `None` if none was.
    pub fn latency_ms(&self, quantile: f64) -> Option<f64> {
        (!self.latencies.is_empty())
            .then(|| self.latencies.value_at_quantile(quantile) as f64 / 1e6)
    }
}

/// Loads `target` according to `plan` and reports the measured window.
pub async fn run(target: &Target, plan: &LoadPlan) -> anyhow::Result<LoadReport> {
    let started = Instant::now();
    let window = Window {
        measure_from: started + plan.warmup,
        end: started + plan.warmup + plan.duration,
    };
    let workers: Vec<_> = (0..plan.connections.max(1))
        .map(|_| tokio::spawn(load_one_connection(target.clone(), window)))
        .collect();
    let mut report = LoadReport::empty()?;
    let mut last_answer = window.measure_from;
    for worker in workers {
        let tally = worker.await.context("a load generator task panicked")??;
        report.ok += tally.ok;
        report.errors += tally.errors;
        report.add_latencies(&tally.latencies)?;
        last_answer = last_answer.max(tally.last_answer);
    }
    report.elapsed = last_answer.saturating_duration_since(window.measure_from);
    Ok(report)
}

#[derive(Debug, Clone, Copy)]
struct Window {
    measure_from: Instant,
    end: Instant,
}

struct Tally {
    ok: u64,
    errors: u64,
    latencies: Histogram<u64>,
    last_answer: Instant,
}

/// One connection's loop. A failed exchange counts as an error and the connection is opened
/// again, as a real client would; nothing is retried silently.
async fn load_one_connection(target: Target, window: Window) -> anyhow::Result<Tally> {
    let mut tally = Tally {
        ok: 0,
        errors: 0,
        latencies: new_histogram()?,
        last_answer: window.measure_from,
    };
    let mut connection: Option<Connection> = None;
    loop {
        let sent_at = Instant::now();
        if sent_at >= window.end {
            break;
        }
        let measured = sent_at >= window.measure_from;
        let open = match connection.as_mut() {
            Some(open) => open,
            None => match Connection::open(target.address).await {
                Ok(opened) => connection.insert(opened),
                Err(_) => {
                    if measured {
                        tally.errors += 1;
                    }
                    // A server that refuses connections would otherwise be hammered in a
                    // tight loop that also starves the other connections of CPU.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let mut request = open.get(&target.path)?;
        for (name, value) in &target.headers {
            request.headers_mut().insert(name.clone(), value.clone());
        }
        let status = match open.send(request).await {
            Ok(answer) => Some(answer.status),
            Err(_) => {
                connection = None;
                None
            }
        };
        let answered_at = Instant::now();
        if measured {
            tally.last_answer = answered_at;
            if status == Some(StatusCode::OK) {
                tally.ok += 1;
                let nanos = u64::try_from((answered_at - sent_at).as_nanos()).unwrap_or(u64::MAX);
                tally.latencies.saturating_record(nanos);
            } else {
                tally.errors += 1;
            }
        }
    }
    Ok(tally)
}

/// A latency histogram in nanoseconds, up to a minute, three significant digits.
pub fn new_histogram() -> anyhow::Result<Histogram<u64>> {
    let highest = u64::try_from(LONGEST_RECORDED.as_nanos())?;
    Ok(Histogram::new_with_bounds(1, highest, 3)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::servers::BareServer;

    const BRIEF: LoadPlan = LoadPlan {
        connections: 2,
        warmup: Duration::from_millis(50),
        duration: Duration::from_millis(200),
    };

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_healthy_target_is_measured_without_errors() {
        let bare = BareServer::start().await.expect("the bare server starts");
        let report = run(&Target::get(bare.address(), BareServer::PATH), &BRIEF)
            .await
            .expect("the load runs");
        bare.stop().await.expect("the bare server stops");
        assert!(report.ok > 0);
        assert_eq!(report.errors, 0);
        assert!(report.requests_per_second() > 0.0);
        let p50 = report.latency_ms(0.5).expect("answers have latencies");
        let p99 = report.latency_ms(0.99).expect("answers have latencies");
        assert!(0.0 < p50 && p50 <= p99);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_answer_other_than_200_counts_as_an_error() {
        let bare = BareServer::start().await.expect("the bare server starts");
        let report = run(&Target::get(bare.address(), "/no-such-route"), &BRIEF)
            .await
            .expect("the load runs");
        bare.stop().await.expect("the bare server stops");
        assert_eq!(report.ok, 0);
        assert!(report.errors > 0);
        assert_eq!(report.latency_ms(0.5), None);
    }
}
