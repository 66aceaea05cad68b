//! `supply_chain`: the batch pre-approval of 供应链融资 against the goal of its issue, in-process
//! on the real application (`AppServer` with the simulated agencies, A集团 included), calling
//! the functions its handlers call.
//!
//! - `batch_10k_total_s`: `run_batch` over a network of 10,000 distributors, every record and
//!   every month of trade pulled through the exchange from the simulator, which answers at once
//!   (goal ≤ 10 s on 2 cores, `goal_s`), against the pure computation of the same
//!   pre-approvals on the same data (`pure_compute_10k_s`); with its per-distributor cost and
//!   the batch's own split into fetching, computing and storing;
//! - `batch_10k_warm_total_s`: the same batch run again, the offers updated in place, against
//!   the first run;
//! - `batch_850_total_s`: the same for A集团's real network of 850 distributors.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use bianmin_govsim::Uscc;
use bianmin_govsim::agencies::{Agency, FaultConfig, LatencyConfig};
use bianmin_govsim::records::enterprise::{
    DistributorRecord, DistributorTrade, Distributors, EnterpriseTrade, MAX_PAGE_SIZE,
    MAX_TRADE_BATCH,
};
use bianmin_lending::supply::{DistributorFacts, PreOutcome, SupplyPolicy, pre_approve};
use bianmin_server::AppState;
use bianmin_server::supply::enterprise::{BatchSummary, grant, register, run_batch};
use bianmin_server::supply::{
    DEMO_ENTERPRISE_INSTITUTION, DEMO_ENTERPRISE_NAME, DEMO_ENTERPRISE_USCC, EnterpriseRow,
    call_enterprise, policy,
};
use serde_json::json;

use super::Settings;
use crate::figure::Figures;
use crate::scratch::ScratchDatabase;

/// The goal of the issue for 10,000 distributors, in seconds (on 2 cores).
const GOAL_S: f64 = 10.0;
/// The networks measured: distributors in the simulated A集团's network, the label of their
/// figures, and whether the batch is run a second time. 850 is A集团's real size.
const NETWORKS: [(u32, &str, bool); 2] = [(10_000, "10k", true), (850, "850", false)];
/// Passes of the pure computation over the whole network; the median is the baseline.
const PURE_ROUNDS: usize = 5;
/// Who the audit trail says ran the batches.
const ACTOR: &str = "bench:supply_chain";
/// No network's measurement may run longer.
const PHASE_LIMIT: Duration = Duration::from_secs(900);
/// The kernel's clock ticks per second in `/proc` (`USER_HZ`, 100 on Linux).
const USER_HZ: f64 = 100.0;

/// Runs the suite.
pub async fn run(settings: &Settings, figures: &mut Figures) -> anyhow::Result<()> {
    figures.record("goal_s", GOAL_S, "s");
    for (distributors, label, rerun) in NETWORKS {
        eprintln!(
            "supply_chain: batch pre-approval of {distributors} distributors through the \
             exchange, the simulator answering without latency"
        );
        let database =
            ScratchDatabase::create(settings.database_url.as_deref(), "supply_chain").await?;
        let outcome = tokio::time::timeout(
            PHASE_LIMIT,
            network(&database, distributors, label, rerun, figures),
        )
        .await
        .map_err(|_| anyhow!("gave up after {} s", PHASE_LIMIT.as_secs()))
        .and_then(|measured| measured);
        database.remove().await?;
        outcome?;
    }
    Ok(())
}

/// One batch as measured from outside: its wall time and CPU, and what it says of itself.
struct Batch {
    wall: Duration,
    cpu: Option<Duration>,
    summary: BatchSummary,
}

/// The pure computation's baseline: the median pass and what it decided.
struct Pure {
    median: Duration,
    distributors: usize,
    offered: usize,
}

/// A network of `distributors`: the baseline, the batch, and the batch again if `rerun`.
async fn network(
    database: &ScratchDatabase,
    distributors: u32,
    label: &str,
    rerun: bool,
    figures: &mut Figures,
) -> anyhow::Result<()> {
    let app = database
        .start(|config| {
            config.exchange.govsim = true;
            config.govsim.distributors = distributors;
            // Every agency answers at once and never fails: what is measured is the
            // exchange, the computation and the database, not a simulated wait.
            config.govsim.latency = LatencyConfig {
                mean_ms: 0.0,
                p99_ms: 0.0,
            };
            config.govsim.faults = FaultConfig::default();
            config.govsim.agencies.clear();
        })
        .await?;
    let state = app.state().clone();
    let (enterprise, _) = register(
        &state,
        DEMO_ENTERPRISE_NAME,
        DEMO_ENTERPRISE_USCC,
        DEMO_ENTERPRISE_INSTITUTION,
        Agency::AGroup.subsystem_id(),
        ACTOR,
    )
    .await
    .context("onboarding A集团")?;
    grant(&state, &enterprise, None, ACTOR)
        .await
        .context("recording A集团's data-sharing agreement")?;
    let policy = policy().map_err(|error| anyhow!("the supply-chain policy: {error}"))?;

    // The baseline first: the same records and trade, fetched once (not timed), then only
    // what the batch computes on them.
    let started = Instant::now();
    let fetched = fetch(&state, &enterprise).await?;
    eprintln!(
        "supply_chain: {} distributors fetched for the baseline in {:.2} s (not measured)",
        fetched.len(),
        started.elapsed().as_secs_f64()
    );
    let pure = pure_compute(Arc::new(fetched), policy).await?;

    eprintln!("supply_chain: batch {label} (offers inserted)");
    let first = batch(&state, &enterprise).await?;
    let again = if rerun {
        eprintln!("supply_chain: batch {label} again (offers updated in place)");
        Some(batch(&state, &enterprise).await?)
    } else {
        None
    };
    drop(state);
    app.stop().await?;

    if usize::try_from(first.summary.offered).ok() != Some(pure.offered)
        || usize::try_from(first.summary.distributors).ok() != Some(pure.distributors)
    {
        eprintln!(
            "supply_chain: note: the baseline decided {} distributors ({} offered), the batch \
             {} ({} offered): they did not see the same data",
            pure.distributors, pure.offered, first.summary.distributors, first.summary.offered
        );
    }
    let pure_s = pure.median.as_secs_f64();
    let pure_per_us = pure_s * 1e6 / pure.distributors.max(1) as f64;
    figures.record(format!("pure_compute_{label}_s"), pure_s, "s");
    figures.record(
        format!("pure_compute_{label}.per_distributor_us"),
        pure_per_us,
        "us",
    );
    let name = format!("batch_{label}");
    record_batch(figures, &name, &first, pure_s, pure_s, pure_per_us);
    if let Some(again) = again {
        let first_s = first.wall.as_secs_f64();
        record_batch(
            figures,
            &format!("{name}_warm"),
            &again,
            first_s,
            pure_s,
            pure_per_us,
        );
    }
    Ok(())
}

/// Records one batch's figures under `name`: its total against `total_baseline_s`, its
/// per-distributor cost against the pure computation's, its split, its decisions and CPU.
fn record_batch(
    figures: &mut Figures,
    name: &str,
    batch: &Batch,
    total_baseline_s: f64,
    pure_s: f64,
    pure_per_us: f64,
) {
    let summary = &batch.summary;
    let wall = batch.wall.as_secs_f64();
    let count = summary.distributors.max(1) as f64;
    let seconds = |ms: i64| ms as f64 / 1e3;
    figures.record_against(format!("{name}_total_s"), wall, "s", total_baseline_s);
    figures.record_against(
        format!("{name}.per_distributor_us"),
        wall * 1e6 / count,
        "us",
        pure_per_us,
    );
    figures.record(format!("{name}.fetch_s"), seconds(summary.fetch_ms), "s");
    figures.record_against(
        format!("{name}.compute_s"),
        seconds(summary.compute_ms),
        "s",
        pure_s,
    );
    figures.record(format!("{name}.store_s"), seconds(summary.store_ms), "s");
    figures.record(
        format!("{name}.distributors"),
        summary.distributors as f64,
        "distributors",
    );
    figures.record(
        format!("{name}.offered"),
        summary.offered as f64,
        "distributors",
    );
    figures.record(
        format!("{name}.declined"),
        summary.declined as f64,
        "distributors",
    );
    if let Some(cpu) = batch.cpu {
        figures.record(format!("{name}.cpu_s"), cpu.as_secs_f64(), "s");
        figures.record(
            format!("{name}.cores_busy"),
            cpu.as_secs_f64() / wall,
            "cores",
        );
    }
}

/// `run_batch` of `enterprise`, timed from outside.
async fn batch(state: &AppState, enterprise: &EnterpriseRow) -> anyhow::Result<Batch> {
    let cpu_before = process_cpu();
    let started = Instant::now();
    let summary = run_batch(state, enterprise, ACTOR)
        .await
        .map_err(|error| anyhow!("run_batch: {error}"))?;
    let wall = started.elapsed();
    let cpu = process_cpu()
        .zip(cpu_before)
        .map(|(after, before)| after.saturating_sub(before));
    eprintln!(
        "supply_chain: {} distributors in {:.2} s (fetch {} ms, compute {} ms, store {} ms): \
         {} offered, {} declined, {} yuan in all",
        summary.distributors,
        wall.as_secs_f64(),
        summary.fetch_ms,
        summary.compute_ms,
        summary.store_ms,
        summary.offered,
        summary.declined,
        summary.total_limit
    );
    Ok(Batch { wall, cpu, summary })
}

/// Every distributor of `enterprise` with its trade, through the exchange as the batch pulls
/// them (`enterprise.network` by pages of 200, `enterprise.trade` by batches of 100), one call
/// after another: this is the baseline's data, not a measurement.
async fn fetch(
    state: &AppState,
    enterprise: &EnterpriseRow,
) -> anyhow::Result<Vec<(DistributorRecord, Option<DistributorTrade>)>> {
    let mut records: Vec<DistributorRecord> = Vec::new();
    let mut page = 1;
    loop {
        let answer: Distributors = call_enterprise(
            state,
            enterprise,
            "enterprise.network",
            json!({ "page": page, "page_size": MAX_PAGE_SIZE }),
        )
        .await
        .map_err(|error| anyhow!("enterprise.network page {page}: {error}"))?;
        let last =
            answer.distributors.is_empty() || page >= answer.total.div_ceil(MAX_PAGE_SIZE).max(1);
        records.extend(answer.distributors);
        if last {
            break;
        }
        page += 1;
    }
    let mut trades: HashMap<String, DistributorTrade> = HashMap::with_capacity(records.len());
    for chunk in records.chunks(MAX_TRADE_BATCH) {
        let usccs: Vec<&str> = chunk.iter().map(|r| r.uscc.as_str()).collect();
        let answer: EnterpriseTrade = call_enterprise(
            state,
            enterprise,
            "enterprise.trade",
            json!({ "usccs": usccs }),
        )
        .await
        .map_err(|error| anyhow!("enterprise.trade: {error}"))?;
        trades.extend(
            answer
                .distributors
                .into_iter()
                .map(|trade| (trade.uscc.clone(), trade)),
        );
    }
    Ok(records
        .into_iter()
        .map(|record| {
            let trade = trades.remove(&record.uscc);
            (record, trade)
        })
        .collect())
}

/// The pure computation of the batch on `fetched`, [`PURE_ROUNDS`] times on a blocking
/// thread as the batch runs it: for each distributor, the credit code's check character, the
/// facts from its record and trade, and `pre_approve`. No I/O, no serialisation.
async fn pure_compute(
    fetched: Arc<Vec<(DistributorRecord, Option<DistributorTrade>)>>,
    policy: &'static SupplyPolicy,
) -> anyhow::Result<Pure> {
    tokio::task::spawn_blocking(move || {
        let mut passes = Vec::with_capacity(PURE_ROUNDS);
        let mut offered = 0;
        for _ in 0..PURE_ROUNDS {
            let started = Instant::now();
            offered = 0;
            for (record, trade) in fetched.iter() {
                let Some(trade) = trade else { continue };
                if Uscc::parse(&record.uscc).is_err() {
                    continue;
                }
                let facts = DistributorFacts::of(record, trade);
                let approval = std::hint::black_box(pre_approve(&facts, policy));
                if matches!(approval.outcome, PreOutcome::Offer(_)) {
                    offered += 1;
                }
            }
            passes.push(started.elapsed());
        }
        passes.sort();
        Pure {
            median: passes[passes.len() / 2],
            distributors: fetched.len(),
            offered,
        }
    })
    .await
    .context("the pure computation panicked")
}

/// User plus system CPU time of this process so far, from `/proc/self/stat`.
fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces; the fields after it are plain numbers.
    // utime and stime are fields 14 and 15, so the 12th and 13th after the name.
    let mut after_name = stat.rsplit_once(')')?.1.split_whitespace().skip(11);
    let user: f64 = after_name.next()?.parse().ok()?;
    let system: f64 = after_name.next()?.parse().ok()?;
    Some(Duration::from_secs_f64((user + system) / USER_HZ))
}
