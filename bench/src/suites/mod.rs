//! The registry of suites. Adding one is a module in this folder with
//! `pub async fn run(settings: &Settings, figures: &mut Figures) -> anyhow::Result<()>` and one
//! line in [`SUITES`].

use std::pin::Pin;
use std::time::Duration;

use crate::figure::Figures;
use crate::load::LoadPlan;

mod antibot;
mod assistant;
mod crypto;
mod exchange;
mod http;
mod insight;
mod lending;
mod services;
mod supply_chain;

/// Every suite, in the order `all` runs them.
pub const SUITES: &[Suite] = &[
    Suite {
        name: "http",
        about: "requests/s and p50/p99 latency of /healthz and of an authenticated database read, against a bare axum handler",
        run: |settings, figures| Box::pin(http::run(settings, figures)),
    },
    Suite {
        name: "crypto",
        about: "SM4-GCM and SM3 MB/s against AES-256-GCM and SHA-256, SM2 sign/verify per second, and an encrypted person row (insert + read) against plaintext",
        run: |settings, figures| Box::pin(crypto::run(settings, figures)),
    },
    Suite {
        name: "exchange",
        about: "signed + encrypted exchange calls/s against plain HTTP, and a fan-out to 7 agencies with 50-200 ms latency against the slowest alone",
        run: |settings, figures| Box::pin(exchange::run(settings, figures)),
    },
    Suite {
        name: "services",
        about: "公积金 balance over HTTP with the answer cached and uncached against GET /api/v1/me, 50 concurrent duplicate fine payments, and fine payments/s",
        run: |settings, figures| Box::pin(services::run(settings, figures)),
    },
    Suite {
        name: "lending",
        about: "闪电贷 decision latency against the slowest agency (50-200 ms), decisions/s under concurrency, and the nightly accrual of 1,000,000 credit lines",
        run: |settings, figures| Box::pin(lending::run(settings, figures)),
    },
    Suite {
        name: "assistant",
        about: "智能客服 answer latency p50/p99 and asks/s over a 10,000-entry knowledge base on 1 and 2 threads, and its index build time, against the 250-entry starter",
        run: |settings, figures| Box::pin(assistant::run(settings, figures)),
    },
    Suite {
        name: "insight",
        about: "管理驾驶舱 outbox events ingested/s into the rollups against reading them, and each cockpit panel's latency over 12 months and 10,000,000 events against a plain GROUP BY",
        run: |settings, figures| Box::pin(insight::run(settings, figures)),
    },
    Suite {
        name: "antibot",
        about: "scripted crawlers enumerating plates and resident ids against the demo's protection (requests until blocked, records of others obtained), and the per-request cost of signatures, rate limits and behaviour scoring against an unprotected endpoint",
        run: |settings, figures| Box::pin(antibot::run(settings, figures)),
    },
    Suite {
        name: "supply_chain",
        about: "供应链融资 batch pre-approval of 10,000 distributors (and A集团's 850) pulled through the exchange from govsim: total seconds against the 10 s goal and per distributor, against the pure computation on the same data, and a re-run",
        run: |settings, figures| Box::pin(supply_chain::run(settings, figures)),
    },
];

/// What every suite is given: the command line's knobs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The measured window of each measurement.
    pub duration: Duration,
    /// Unrecorded load before each measured window.
    pub warmup: Duration,
    /// Concurrent connections (or workers) a suite loads its target with.
    pub connections: usize,
    /// `postgres://…` for suites that start the application; `None` means a temporary SQLite.
    pub database_url: Option<String>,
    /// Credit lines the `lending` suite seeds and accrues.
    pub accrual_lines: u64,
    /// The measurements of the `lending` suite to run.
    pub lending_phases: Vec<LendingPhase>,
}

/// One measurement of the `lending` suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LendingPhase {
    /// Decision latency against the slowest agency's.
    Latency,
    /// Decisions per second.
    Throughput,
    /// The nightly accrual.
    Accrual,
}

impl LendingPhase {
    /// Every measurement, in the order the suite runs them.
    pub const ALL: [LendingPhase; 3] = [
        LendingPhase::Latency,
        LendingPhase::Throughput,
        LendingPhase::Accrual,
    ];
}

impl Settings {
    /// The load plan these settings describe.
    pub fn load_plan(&self) -> LoadPlan {
        LoadPlan {
            connections: self.connections,
            warmup: self.warmup,
            duration: self.duration,
        }
    }
}

/// A suite's entry point: records its figures into the collection it is given, so that the
/// figures measured before a failure are still reported.
pub type RunSuite = for<'a> fn(
    &'a Settings,
    &'a mut Figures,
) -> Pin<Box<dyn Future<Output = anyhow::Result<()>> + 'a>>;

/// A named, runnable suite.
#[derive(Debug, Clone, Copy)]
pub struct Suite {
    /// Name on the command line and in the `suite` field of its figures.
    pub name: &'static str,
    /// One line for `bianmin-bench list`.
    pub about: &'static str,
    /// Runs it.
    pub run: RunSuite,
}

/// The suite called `name`.
pub fn find(name: &str) -> Option<&'static Suite> {
    SUITES.iter().find(|suite| suite.name == name)
}
