//! `lending`: the 闪电贷 Lightning Loan against the goals of its issue, in-process on the real
//! application (`AppServer` with the simulated agencies), calling the functions its handlers
//! call.
//!
//! - `decision_latency_p50`, `decision_latency_p99`: `submit_for` of one applicant after
//!   another, the agencies answering after fixed latencies of 50 to 200 ms, against the
//!   slowest agency's 200 ms (goal ≤ 1.2×): the six fetches run at once, so a decision should
//!   cost little more than waiting for the slowest of them;
//! - `decisions_per_s`: many prepared applicants submitted by concurrent tasks, the agencies
//!   answering at once (goal ≥ 200 on this machine), and the CPU each decision takes;
//! - `accrual_1m_s`: the nightly job `accrue_all` over 1,000,000 seeded credit lines (goal
//!   ≤ 60 s).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use bianmin_consent::{ConsentRequest, Purpose};
use bianmin_core::{Money, Rate};
use bianmin_exchange::{Frequency, FrequencyUnit};
use bianmin_govsim::Population;
use bianmin_govsim::agencies::{Agency, AgencyConfig, LatencyConfig};
use bianmin_lending::ledger::{CreditLine, LineTerms};
use bianmin_people::NewPerson;
use bianmin_server::AppState;
use bianmin_server::lending::application::{NewApplication, create_for, submit_for};
use bianmin_server::lending::ledger_annual_rate;
use bianmin_server::lending::line::accrue_all;
use chrono::{NaiveDate, TimeDelta, Utc};
use hdrhistogram::Histogram;
use sqlx::{Connection, QueryBuilder};
use tokio::task::JoinSet;
use uuid::Uuid;

use super::{LendingPhase, Settings};
use crate::figure::Figures;
use crate::scratch::ScratchDatabase;
use crate::servers::AppServer;

/// The fixed latency (ms) each agency the decision fetches from adds to every answer; the
/// last is the slowest, and the latency figures' baseline.
const LATENCIES: [(Agency, u32); 6] = [
    (Agency::Identity, 50),
    (Agency::Hpf, 80),
    (Agency::Si, 110),
    (Agency::Tax, 140),
    (Agency::Court, 170),
    (Agency::Credit, 200),
];
/// Applicants decided one after another for the latency figures, after the unrecorded ones.
const LATENCY_APPLICANTS: usize = 60;
/// Unrecorded decisions first: they open the connections to the agencies.
const LATENCY_WARMUP: usize = 4;
/// Applicants decided for the throughput figure, after one unrecorded round per task.
const THROUGHPUT_APPLICANTS: usize = 2_000;
/// Tasks preparing applicants (registration, consents, application) at once.
const SETUP_TASKS: usize = 8;
/// Lines per transaction of `accrue_all`.
const ACCRUAL_BATCH: i64 = 1_000;
/// Lines per multi-row `INSERT` when seeding (13 parameters each: 13,000 per statement, under
/// both SQLite's 32,766 and PostgreSQL's 65,535).
const SEED_ROWS_PER_INSERT: usize = 1_000;
/// Statements per seeding transaction.
const SEED_INSERTS_PER_TX: usize = 50;
/// Distinct line states seeded (draws from 2,000.00 to 8,300.00 yuan); the rows differ by id.
const LINE_VARIANTS: i64 = 64;
/// No measurement of this suite may run longer; a decision in flight is bounded by the
/// exchange client's timeouts, the accrual by its row count.
const PHASE_LIMIT: Duration = Duration::from_secs(900);
/// The kernel's clock ticks per second in `/proc` (`USER_HZ`, 100 on Linux).
const USER_HZ: f64 = 100.0;

/// Runs the suite.
pub async fn run(settings: &Settings, figures: &mut Figures) -> anyhow::Result<()> {
    let runs = |phase| settings.lending_phases.contains(&phase);
    let url = settings.database_url.as_deref();
    if runs(LendingPhase::Latency) {
        eprintln!("lending: decision latency with agency latencies of 50-200 ms");
        on_scratch_database(url, async |database| {
            decision_latency(database, figures).await
        })
        .await?;
    }
    if runs(LendingPhase::Throughput) {
        eprintln!(
            "lending: decisions per second, {} concurrent tasks, agencies without latency",
            settings.connections
        );
        on_scratch_database(url, async |database| {
            decisions_per_second(database, settings, figures).await
        })
        .await?;
    }
    if runs(LendingPhase::Accrual) {
        eprintln!(
            "lending: nightly accrual of {} credit lines",
            settings.accrual_lines
        );
        on_scratch_database(url, async |database| {
            accrual(database, settings.accrual_lines, figures).await
        })
        .await?;
    }
    Ok(())
}

/// Runs one measurement on a database of its own, within [`PHASE_LIMIT`], and removes the
/// database whatever the outcome.
async fn on_scratch_database(
    url: Option<&str>,
    measurement: impl AsyncFnOnce(&ScratchDatabase) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let database = ScratchDatabase::create(url, "lending").await?;
    let outcome = within_limit(measurement(&database)).await;
    database.remove().await?;
    outcome
}

async fn within_limit(measurement: impl Future<Output = anyhow::Result<()>>) -> anyhow::Result<()> {
    tokio::time::timeout(PHASE_LIMIT, measurement)
        .await
        .map_err(|_| anyhow!("gave up after {} s", PHASE_LIMIT.as_secs()))?
}

/// An applicant ready to be decided: registered, both consents approved, application open.
#[derive(Debug, Clone, Copy)]
struct Applicant {
    person: Uuid,
    application: Uuid,
}

/// The simulated city's population the application's agencies answer about.
fn population(state: &AppState) -> anyhow::Result<Arc<Population>> {
    state
        .exchange()
        .and_then(|exchange| exchange.govsim.as_ref())
        .map(|govsim| Arc::clone(govsim.population()))
        .ok_or_else(|| anyhow!("the application runs without the simulated agencies"))
}

/// Prepares the generated residents `first..first + count` as applicants, [`SETUP_TASKS`] at
/// a time.
async fn prepare(state: &AppState, first: u32, count: usize) -> anyhow::Result<Vec<Applicant>> {
    let population = population(state)?;
    let last = first
        .checked_add(u32::try_from(count)?)
        .filter(|last| *last <= population.size())
        .ok_or_else(|| anyhow!("the simulated city has fewer than {count} residents"))?;
    let queue = Arc::new(Mutex::new((first..last).rev().collect::<Vec<u32>>()));
    let mut tasks = JoinSet::new();
    for _ in 0..SETUP_TASKS {
        let (state, population, queue) =
            (state.clone(), Arc::clone(&population), Arc::clone(&queue));
        tasks.spawn(async move {
            let mut ready = Vec::new();
            loop {
                let next = queue.lock().map_err(|_| anyhow!("queue poisoned"))?.pop();
                let Some(index) = next else { break };
                ready.push((index, applicant(&state, &population, index).await?));
            }
            anyhow::Ok(ready)
        });
    }
    let mut ready = Vec::with_capacity(count);
    while let Some(done) = tasks.join_next().await {
        ready.extend(done.context("a setup task panicked")??);
    }
    ready.sort_by_key(|(index, _)| *index);
    Ok(ready.into_iter().map(|(_, applicant)| applicant).collect())
}

/// Registers generated resident `index` with their real name, resident id and phone (so the
/// real-name check matches), approves the two consents on the terms the server offers, and
/// records an application of 20,000 yuan for daily consumption.
async fn applicant(
    state: &AppState,
    population: &Population,
    index: u32,
) -> anyhow::Result<Applicant> {
    let resident = population.person(index);
    let now = state.clock().now();
    let person = state
        .vault()
        .register(
            &NewPerson {
                resident_id: resident.resident_id.clone(),
                name: resident.name.clone(),
                phone: Some(resident.phone.clone()),
            },
            now,
        )
        .await?;
    let today = state.clock().today_china();
    // The terms of `offered_terms` in the server's consents module: valid 30 days, 20 uses a
    // day for underwriting and 3 for the credit report, 36 and 24 months of history.
    for (purpose, per_day, history_months) in [
        (Purpose::LoanUnderwriting, 20, 36),
        (Purpose::LoanCreditReport, 3, 24),
    ] {
        let pending = state
            .ledger()
            .request(
                &ConsentRequest {
                    person_id: person,
                    consumer: state.platform_keys().id.clone(),
                    purpose,
                    data_kinds: purpose
                        .data_kinds()
                        .iter()
                        .map(|kind| (*kind).to_owned())
                        .collect(),
                    data_from: today
                        .checked_sub_months(chrono::Months::new(history_months))
                        .unwrap_or(today),
                    data_to: today
                        .checked_add_days(chrono::Days::new(30))
                        .unwrap_or(today),
                    frequency: Frequency {
                        unit: FrequencyUnit::Day,
                        max: per_day,
                    },
                    valid_for: TimeDelta::days(30),
                    data_life_days: 1,
                },
                "bench",
                now,
            )
            .await?;
        state
            .ledger()
            .approve(pending.id, person, &resident.resident_id, "bench", now)
            .await?;
    }
    let application = create_for(
        state,
        person,
        &NewApplication {
            amount: "20000.00".into(),
            purpose: "daily_consumption".into(),
        },
    )
    .await?;
    Ok(Applicant {
        person,
        application: application.id,
    })
}

/// Decides `applicant`; a decision is `approved` or `declined`, anything else fails.
async fn decide(state: &AppState, applicant: Applicant) -> anyhow::Result<bool> {
    let view = submit_for(state, applicant.person, applicant.application).await?;
    match view.state.as_str() {
        "approved" => Ok(true),
        "declined" => Ok(false),
        other => bail!("the application ended {other}"),
    }
}

/// Latencies in nanoseconds, 3 significant digits, up to a minute.
fn new_histogram() -> anyhow::Result<Histogram<u64>> {
    Ok(Histogram::new_with_bounds(1, 60_000_000_000, 3)?)
}

fn record_latency(histogram: &mut Histogram<u64>, latency: Duration) {
    histogram.saturating_record(u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX));
}

fn quantile_ms(histogram: &Histogram<u64>, quantile: f64) -> f64 {
    histogram.value_at_quantile(quantile) as f64 / 1e6
}

/// What a set of decisions came to.
#[derive(Default)]
struct Tally {
    approved: u64,
    declined: u64,
    errors: u64,
    first_error: Option<String>,
}

impl Tally {
    fn count(&mut self, outcome: anyhow::Result<bool>) -> bool {
        match outcome {
            Ok(true) => self.approved += 1,
            Ok(false) => self.declined += 1,
            Err(error) => {
                self.errors += 1;
                self.first_error.get_or_insert_with(|| format!("{error:#}"));
                return false;
            }
        }
        true
    }

    fn add(&mut self, other: Tally) {
        self.approved += other.approved;
        self.declined += other.declined;
        self.errors += other.errors;
        self.first_error = self.first_error.take().or(other.first_error);
    }

    fn decided(&self) -> u64 {
        self.approved + self.declined
    }

    fn report(&self, figures: &mut Figures, label: &str) {
        eprintln!(
            "lending: {label}: {} approved, {} declined, {} failed",
            self.approved, self.declined, self.errors
        );
        if self.errors > 0 {
            eprintln!(
                "lending: the first {label} failure: {}",
                self.first_error.as_deref().unwrap_or("?")
            );
            figures.record(format!("{label}.errors"), self.errors as f64, "decisions");
        }
    }
}

/// Decisions one after another, each agency answering after its fixed latency.
async fn decision_latency(database: &ScratchDatabase, figures: &mut Figures) -> anyhow::Result<()> {
    let slowest = LATENCIES
        .iter()
        .map(|(_, latency)| *latency)
        .max()
        .unwrap_or_default();
    let app = database
        .start(|config| {
            config.exchange.govsim = true;
            config.govsim.agencies = LATENCIES
                .iter()
                .map(|&(agency, latency)| {
                    let latency = LatencyConfig {
                        // A log-normal whose 99th percentile equals its mean has σ = 0:
                        // every answer waits exactly this long.
                        mean_ms: f64::from(latency),
                        p99_ms: f64::from(latency),
                    };
                    let config = AgencyConfig {
                        latency: Some(latency),
                        faults: None,
                    };
                    (agency, config)
                })
                .collect::<BTreeMap<_, _>>();
        })
        .await?;
    let state = app.state().clone();
    let applicants = prepare(&state, 0, LATENCY_WARMUP + LATENCY_APPLICANTS).await?;
    let (warmup, measured) = applicants.split_at(LATENCY_WARMUP);
    for applicant in warmup {
        decide(&state, *applicant).await?;
    }
    let mut latencies = new_histogram()?;
    let mut tally = Tally::default();
    for applicant in measured {
        let started = Instant::now();
        let outcome = decide(&state, *applicant).await;
        let elapsed = started.elapsed();
        if tally.count(outcome) {
            record_latency(&mut latencies, elapsed);
        }
    }
    drop(state);
    app.stop().await?;
    tally.report(figures, "decision_latency");
    if latencies.is_empty() {
        bail!("no decision completed");
    }
    let baseline = f64::from(slowest);
    for (name, quantile) in [
        ("decision_latency_p50", 0.5),
        ("decision_latency_p99", 0.99),
    ] {
        figures.record_against(name, quantile_ms(&latencies, quantile), "ms", baseline);
    }
    Ok(())
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

/// Prepared applicants decided by concurrent tasks, the agencies answering at once.
async fn decisions_per_second(
    database: &ScratchDatabase,
    settings: &Settings,
    figures: &mut Figures,
) -> anyhow::Result<()> {
    let tasks = settings.connections.max(1);
    let app = database
        .start(|config| config.exchange.govsim = true)
        .await?;
    let state = app.state().clone();
    let started = Instant::now();
    let mut applicants = prepare(&state, 0, tasks + THROUGHPUT_APPLICANTS).await?;
    eprintln!(
        "lending: {} applicants prepared in {:.1} s",
        applicants.len(),
        started.elapsed().as_secs_f64()
    );
    // One unrecorded decision per task opens the connections to the agencies and fills the
    // database's pool.
    let warmup: Vec<Applicant> = applicants.drain(..tasks).collect();
    let (_, warmup_tally) = decide_concurrently(&state, warmup, tasks).await?;
    if warmup_tally.decided() == 0 {
        bail!(
            "no warm-up decision completed: {}",
            warmup_tally.first_error.as_deref().unwrap_or("?")
        );
    }
    let cpu_before = process_cpu();
    let started = Instant::now();
    let (latencies, tally) = decide_concurrently(&state, applicants, tasks).await?;
    let wall = started.elapsed();
    let cpu = process_cpu()
        .zip(cpu_before)
        .map(|(after, before)| after.saturating_sub(before));
    drop(state);
    app.stop().await?;
    tally.report(figures, "decisions");
    let decided = tally.decided();
    if decided == 0 {
        bail!("no decision completed");
    }
    figures.record(
        "decisions_per_s",
        decided as f64 / wall.as_secs_f64(),
        "decisions/s",
    );
    figures.record("decisions.count", decided as f64, "decisions");
    if let Some(cpu) = cpu {
        figures.record(
            "decision_cpu_ms",
            cpu.as_secs_f64() * 1e3 / decided as f64,
            "ms",
        );
        figures.record(
            "decisions.cores_busy",
            cpu.as_secs_f64() / wall.as_secs_f64(),
            "cores",
        );
    }
    figures.record("decisions.p50_ms", quantile_ms(&latencies, 0.5), "ms");
    figures.record("decisions.p99_ms", quantile_ms(&latencies, 0.99), "ms");
    Ok(())
}

/// `applicants` decided by `tasks` tasks, each taking the next as soon as its last is done.
async fn decide_concurrently(
    state: &AppState,
    applicants: Vec<Applicant>,
    tasks: usize,
) -> anyhow::Result<(Histogram<u64>, Tally)> {
    let queue = Arc::new(Mutex::new(applicants));
    let mut workers = JoinSet::new();
    for _ in 0..tasks {
        let (state, queue) = (state.clone(), Arc::clone(&queue));
        workers.spawn(async move {
            let mut latencies = new_histogram()?;
            let mut tally = Tally::default();
            loop {
                let next = queue.lock().map_err(|_| anyhow!("queue poisoned"))?.pop();
                let Some(applicant) = next else { break };
                let started = Instant::now();
                let outcome = decide(&state, applicant).await;
                let elapsed = started.elapsed();
                if tally.count(outcome) {
                    record_latency(&mut latencies, elapsed);
                }
            }
            anyhow::Ok((latencies, tally))
        });
    }
    let mut latencies = new_histogram()?;
    let mut tally = Tally::default();
    while let Some(done) = workers.join_next().await {
        let (their_latencies, their_tally) = done.context("a decision task panicked")??;
        latencies.add(&their_latencies)?;
        tally.add(their_tally);
    }
    Ok((latencies, tally))
}

/// The day accrued to, and the day the seeded lines were opened and drawn on (30 days
/// before). March has 31 days, so the first statement closes on 1 April: the night measured
/// books no journal, it brings every line's accrual one day further.
fn accrual_dates() -> anyhow::Result<(NaiveDate, NaiveDate)> {
    let date = NaiveDate::from_ymd_opt(2026, 3, 31).context("a valid date")?;
    let opened = date
        .checked_sub_days(chrono::Days::new(30))
        .context("a valid date")?;
    Ok((date, opened))
}

/// One seeded line's state as the server keeps it: opened with a limit of 20,000 to 50,000
/// yuan at 0.05 % a day, `draw` drawn on the opening day, accrued through the day before
/// `date`.
struct SeedLine {
    limit: Money,
    expires_on: NaiveDate,
    accrued_through: NaiveDate,
    state_json: String,
}

fn seed_lines(date: NaiveDate, opened: NaiveDate) -> anyhow::Result<Vec<SeedLine>> {
    let annual = ledger_annual_rate(Rate::parse("0.0005")?)
        .map_err(|error| anyhow!("the ledger rate: {error}"))?;
    let day_before = date.pred_opt().context("a valid date")?;
    (0..LINE_VARIANTS)
        .map(|variant| {
            let limit = Money::from_fen(2_000_000 + (variant % 4) * 1_000_000);
            let draw = Money::from_fen(200_000 + variant * 10_000);
            let mut line = CreditLine::open(LineTerms::new(limit, annual), opened)
                .map_err(|error| anyhow!("opening a line: {error}"))?;
            line.draw(opened, draw)
                .map_err(|error| anyhow!("drawing on a line: {error}"))?;
            line.accrue_through(day_before)
                .map_err(|error| anyhow!("accruing a line: {error}"))?;
            Ok(SeedLine {
                limit,
                expires_on: line.expires_on(),
                accrued_through: line.accrued_until(),
                state_json: serde_json::to_string(&line)?,
            })
        })
        .collect()
}

/// Appends `count` rows to `credit_lines` in one statement. The parent rows (person,
/// application, contract) do not exist: the caller's connection does not enforce foreign
/// keys.
fn seed_statement<'a, DB: sqlx::Database>(
    lines: &'a [SeedLine],
    opened: NaiveDate,
    first: u64,
    count: usize,
    now: chrono::DateTime<Utc>,
) -> QueryBuilder<DB>
where
    DB::Arguments: Default,
    Uuid: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    NaiveDate: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    chrono::DateTime<Utc>: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    &'a str: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let mut insert = QueryBuilder::new(
        "INSERT INTO credit_lines (id, person_id, application_id, contract_id, limit_fen, \
         status, opened_on, expires_on, accrued_through, state_json, version, created_at, \
         updated_at) ",
    );
    let active: &'a str = "active";
    insert.push_values(0..count, |mut row, offset| {
        let variant = (first + offset as u64) % LINE_VARIANTS as u64;
        let line = &lines[usize::try_from(variant).unwrap_or_default()];
        row.push_bind(Uuid::now_v7())
            .push_bind(Uuid::now_v7())
            .push_bind(Uuid::now_v7())
            .push_bind(Uuid::now_v7())
            .push_bind(line.limit.fen())
            .push_bind(active)
            .push_bind(opened)
            .push_bind(line.expires_on)
            .push_bind(line.accrued_through)
            .push_bind(line.state_json.as_str())
            .push_bind(1_i64)
            .push_bind(now)
            .push_bind(now);
    });
    insert
}

/// Seeds `total` lines into the application's database through a connection of its own.
async fn seed(
    app: &AppServer,
    total: u64,
    date: NaiveDate,
    opened: NaiveDate,
) -> anyhow::Result<()> {
    let lines = seed_lines(date, opened)?;
    let bytes: usize = lines.iter().map(|l| l.state_json.len()).sum();
    eprintln!(
        "lending: seeding {total} lines ({} bytes of state JSON each on average)",
        bytes / lines.len().max(1)
    );
    let url = app.state().config().effective_database_url();
    let now = Utc::now();
    let per_tx = (SEED_ROWS_PER_INSERT * SEED_INSERTS_PER_TX) as u64;
    let started = Instant::now();
    let mut seeded = 0_u64;
    match app.backend() {
        bianmin_store::Backend::Sqlite => {
            let path = url
                .strip_prefix("sqlite://")
                .or(url.strip_prefix("sqlite:"))
                .context("not a SQLite URL")?;
            let options = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(path)
                .foreign_keys(false)
                .synchronous(sqlx::sqlite::SqliteSynchronous::Off)
                .busy_timeout(Duration::from_secs(10));
            let mut connection = sqlx::SqliteConnection::connect_with(&options).await?;
            while seeded < total {
                let mut tx = connection.begin().await?;
                let end = (seeded + per_tx).min(total);
                while seeded < end {
                    let count = usize::try_from((end - seeded).min(SEED_ROWS_PER_INSERT as u64))?;
                    seed_statement(&lines, opened, seeded, count, now)
                        .build()
                        .execute(&mut *tx)
                        .await?;
                    seeded += count as u64;
                }
                tx.commit().await?;
                progress(seeded, total, started);
            }
            connection.close().await?;
        }
        bianmin_store::Backend::Postgres => {
            let mut connection = sqlx::PgConnection::connect(&url).await?;
            // Foreign keys are triggers in PostgreSQL; a replica session fires none
            // (superuser only).
            sqlx::query("SET session_replication_role = replica")
                .execute(&mut connection)
                .await
                .context("cannot turn foreign key checks off (needs a superuser role)")?;
            while seeded < total {
                let mut tx = connection.begin().await?;
                let end = (seeded + per_tx).min(total);
                while seeded < end {
                    let count = usize::try_from((end - seeded).min(SEED_ROWS_PER_INSERT as u64))?;
                    seed_statement(&lines, opened, seeded, count, now)
                        .build()
                        .execute(&mut *tx)
                        .await?;
                    seeded += count as u64;
                }
                tx.commit().await?;
                progress(seeded, total, started);
            }
            // The statistics autovacuum would have gathered by the night after a real load.
            sqlx::query("ANALYZE credit_lines")
                .execute(&mut connection)
                .await?;
            connection.close().await?;
        }
    }
    eprintln!(
        "lending: seeded {seeded} lines in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn progress(seeded: u64, total: u64, started: Instant) {
    if seeded.is_multiple_of(200_000) || seeded == total {
        eprintln!(
            "lending: {seeded} of {total} lines seeded ({:.0} s)",
            started.elapsed().as_secs_f64()
        );
    }
}

/// The nightly accrual of `total` seeded lines through `accrue_all`.
async fn accrual(
    database: &ScratchDatabase,
    total: u64,
    figures: &mut Figures,
) -> anyhow::Result<()> {
    let (date, opened) = accrual_dates()?;
    let app = database.start(|_| {}).await?;
    seed(&app, total, date, opened).await?;
    eprintln!("lending: accrue_all to {date}, {ACCRUAL_BATCH} lines per transaction");
    let started = Instant::now();
    let accrued = accrue_all(app.state(), date, ACCRUAL_BATCH)
        .await
        .map_err(|error| anyhow!("accrue_all: {error}"))?;
    let elapsed = started.elapsed().as_secs_f64();
    app.stop().await?;
    if accrued != total {
        bail!("accrue_all accrued {accrued} lines of {total}");
    }
    figures.record("accrual.lines", accrued as f64, "lines");
    figures.record("accrual.batch", ACCRUAL_BATCH as f64, "lines");
    figures.record("accrual_s", elapsed, "s");
    figures.record("accrual_lines_per_s", accrued as f64 / elapsed, "lines/s");
    // Measured when the run accrued 1,000,000 lines (the default); scaled linearly from a
    // smaller --accrual-lines otherwise.
    figures.record("accrual_1m_s", elapsed * 1e6 / accrued as f64, "s");
    Ok(())
}
