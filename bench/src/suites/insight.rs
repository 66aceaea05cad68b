//! `insight`: the 管理驾驶舱 cockpit against the goals of its issue, on the suite's database (a
//! temporary SQLite file, or a fresh schema of the `--database-url` PostgreSQL database):
//!
//! - **ingest**: about 300,000 outbox events of three recent days (a generated history, each
//!   fact written as the domain event that records it) folded into the rollup cells by
//!   `bianmin_server::insight::ingest`, in events per second (goal ≥ 50,000 on SQLite), against
//!   reading the same events from the outbox with the ingester's own `SELECT` and nothing else;
//! - **panels**: a year of about 10,000,000 facts loaded into the cells with `load_history`, and
//!   into a plain table `bench_raw_facts` (one row a fact, indexed on metric and time); then each
//!   of the cockpit page's panels asked over HTTP as a government officer, its median latency
//!   (goal ≤ 50 ms) against the same answer computed by a plain `GROUP BY` over the raw table.
//!
//! Both parts check their answers: the cells count every ingested event once, and every panel's
//! counts equal the plain `GROUP BY`'s (people may differ a little: the cells count them with a
//! sketch). A wrong answer fails the suite.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use bianmin_core::SystemClock;
use bianmin_insight::fact::{Fact, Metric, from_event};
use bianmin_insight::history::{HistoryConfig, generate};
use bianmin_insight::rollup::{Granularity, cover};
use bianmin_server::AppState;
use bianmin_server::config::{Config, Secret};
use bianmin_store::{Backend, NewEvent, on_pool};
use chrono::{DateTime, NaiveDate, SecondsFormat, TimeDelta, Utc};
use hyper::StatusCode;
use hyper::header::AUTHORIZATION;
use serde_json::{Value, json};
use sqlx::types::Json;
use tempfile::TempDir;
use uuid::Uuid;

use super::Settings;
use crate::client::Connection;
use crate::figure::Figures;
use crate::scratch::ScratchDatabase;
use crate::servers::AppServer;

/// Seed of the ingest part's history.
const INGEST_SEED: u64 = 11;
/// Days of history the ingest part appends to the outbox (ending today, China time).
const INGEST_DAYS: u32 = 3;
/// People (and so events) of the ingest part's history relative to the demo's 1.0: three days
/// hold about 5,400 facts at 1.0, so about 300,000 at 55. A constant rather than fitted to the
/// count, so that runs on the same day generate the same history on either engine.
const INGEST_SCALE: f64 = 55.0;
/// Events appended per transaction while preparing (untimed).
const APPEND_BATCH: usize = 5_000;
/// Rows per page of the outbox read baseline: the ingester's batch.
const OUTBOX_PAGE: i64 = bianmin_server::insight::BATCH;
/// Seed of the panels part's history.
const PANEL_SEED: u64 = 29;
/// Days of history of the panels part: a year.
const PANEL_DAYS: u32 = 365;
/// People (and so facts) of the panels part's year relative to the demo's 1.0 (about 2.49
/// million facts a year): about 10,000,000 facts.
const PANEL_SCALE: f64 = 4.0;
/// Rows of `bench_raw_facts` per `INSERT`, bound as one JSON text parameter.
const RAW_ROWS_PER_INSERT: usize = 10_000;
/// Batches of raw rows generated ahead of the inserts.
const RAW_BATCHES_AHEAD: usize = 4;
/// Unrecorded runs of each panel's HTTP queries.
const PANEL_WARMUP: usize = 2;
/// Timed runs of each panel's HTTP queries.
const PANEL_RUNS: usize = 15;
/// Timed runs of each panel's baseline, at most.
const BASELINE_RUNS: usize = 3;
/// A baseline is not run again once its runs have taken this long: a plain `GROUP BY` over
/// millions of rows takes seconds, and its spread is small beside the ratio.
const BASELINE_BUDGET: Duration = Duration::from_secs(10);
/// The goal of the issue for ingestion on SQLite, in events per second (printed, never
/// enforced).
const GOAL_EVENTS_PER_S: f64 = 50_000.0;
/// The goal of the issue for a panel's latency, in milliseconds (printed, never enforced).
const GOAL_PANEL_MS: f64 = 50.0;
/// Neither part may run longer.
const PART_LIMIT: Duration = Duration::from_secs(1_200);

/// Runs the suite.
pub async fn run(settings: &Settings, figures: &mut Figures) -> anyhow::Result<()> {
    eprintln!(
        "insight: goals: ingest ≥ {GOAL_EVENTS_PER_S} events/s on SQLite, each panel ≤ \
         {GOAL_PANEL_MS} ms over 12 months and 10,000,000 events (reported, not enforced)"
    );
    let started = Instant::now();
    let database = ScratchDatabase::create(settings.database_url.as_deref(), "insight").await?;
    let outcome = within_limit(ingest(&database, figures)).await;
    database.remove().await?;
    outcome?;
    eprintln!(
        "insight: the ingest part took {:.0} s",
        started.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    let database = ScratchDatabase::create(settings.database_url.as_deref(), "insight").await?;
    let outcome = within_limit(panels(&database, figures)).await;
    database.remove().await?;
    outcome?;
    eprintln!(
        "insight: the panels part took {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn within_limit(measurement: impl Future<Output = anyhow::Result<()>>) -> anyhow::Result<()> {
    tokio::time::timeout(PART_LIMIT, measurement)
        .await
        .map_err(|_| anyhow!("gave up after {} s", PART_LIMIT.as_secs()))?
}

/// Runs CPU-bound work on a blocking thread of the runtime.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> anyhow::Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .context("a generating thread panicked")
}

/// The application's state built as `AppServer` builds it, but neither served nor running its
/// background workers: nothing ingests the outbox but the suite.
struct QuietState {
    state: AppState,
    // Holds the SQLite file and the keys; deleted on drop, after the state.
    _data_dir: TempDir,
}

impl QuietState {
    async fn start(database_url: Option<&str>) -> anyhow::Result<QuietState> {
        let data_dir = tempfile::tempdir().context("cannot create a temporary data directory")?;
        // Defaults, as `AppServer` uses: the environment must not change what is measured.
        let config = Config {
            data_dir: data_dir.path().to_path_buf(),
            database_url: database_url.map(Secret::new),
            ..Config::default()
        };
        let state = bianmin_server::build_state(config, Arc::new(SystemClock))
            .await
            .context("cannot build the application")?;
        Ok(QuietState {
            state,
            _data_dir: data_dir,
        })
    }

    async fn stop(self) {
        self.state.store().close().await;
    }
}

/// Today in China (UTC+8), the last day of a history ending `now`.
fn china_today(now: DateTime<Utc>) -> NaiveDate {
    (now + TimeDelta::hours(8)).date_naive()
}

/// The history of `days` days ending today (China time) at `scale`.
fn history(seed: u64, days: u32, scale: f64, now: DateTime<Utc>) -> HistoryConfig {
    HistoryConfig {
        seed,
        end: china_today(now),
        days,
        scale,
    }
}

// --- Part 1: ingest ----------------------------------------------------------------------

/// The outbox event that records `fact`, as the server writes it (`service.used` from the
/// services' usage recorder, the loan steps from the 闪电贷 journey, the assistant's turns and
/// surveys), occurring at the fact's time.
fn event_for(fact: &Fact) -> NewEvent {
    let whom = json!({
        "district": fact.district,
        "age_band": fact.age_band,
        "channel": fact.channel,
    });
    let (kind, aggregate, aggregate_id, mut payload) = match fact.metric {
        Metric::ServiceUse => (
            "service.used",
            "service",
            fact.service.clone(),
            json!({
                "service": fact.service,
                "department": fact.department,
                "subject": fact.subject,
                "outcome": fact.outcome,
                "latency_ms": fact.latency_ms,
            }),
        ),
        Metric::LoanApplied => (
            "loan.applied",
            "loan_application",
            Uuid::now_v7().to_string(),
            json!({ "purpose": "daily_consumption", "amount_band": "10k-50k" }),
        ),
        Metric::LoanDecided => (
            "loan.decided",
            "loan_application",
            Uuid::now_v7().to_string(),
            json!({
                "outcome": fact.outcome,
                "decision_ms": fact.latency_ms,
                "purpose": "daily_consumption",
                "amount_band": "10k-50k",
            }),
        ),
        Metric::LoanSigned => (
            "loan.contract_signed",
            "loan_application",
            Uuid::now_v7().to_string(),
            json!({}),
        ),
        Metric::LoanDrawn => (
            "loan.drawn",
            "credit_line",
            Uuid::now_v7().to_string(),
            json!({}),
        ),
        Metric::AssistantTurn => (
            "assistant.turn",
            "assistant_session",
            Uuid::now_v7().to_string(),
            json!({ "outcome": fact.outcome, "signed_in": true }),
        ),
        Metric::Survey => (
            "assistant.survey_answered",
            "followup",
            Uuid::now_v7().to_string(),
            // The score is a number in the real event.
            json!({
                "score": fact.outcome.parse::<u64>().map_or_else(|_| json!(fact.outcome), |score| json!(score)),
                "commented": false,
            }),
        ),
    };
    if let (Some(payload), Value::Object(whom)) = (payload.as_object_mut(), whom) {
        payload.extend(whom);
    }
    NewEvent::new(kind, aggregate, aggregate_id, payload, fact.at)
}

/// The events of `facts`, each checked to be read back by `from_event` as the fact it records.
fn events_for(facts: &[Fact]) -> anyhow::Result<Vec<NewEvent>> {
    facts
        .iter()
        .map(|fact| {
            let event = event_for(fact);
            let read = from_event(&event.kind, &event.payload, event.occurred_at);
            if read.as_ref() != Some(fact) {
                bail!(
                    "the {} event built for {fact:?} reads back as {read:?}",
                    event.kind
                );
            }
            Ok(event)
        })
        .collect()
}

/// A row of `outbox_events` as the ingester reads it.
type EventRow = (i64, Uuid, String, Json<Value>, DateTime<Utc>);

/// Ingest: appends the events (untimed), reads them back as the baseline, then ingests them.
async fn ingest(database: &ScratchDatabase, figures: &mut Figures) -> anyhow::Result<()> {
    let now = Utc::now();
    let (facts, events) = blocking(move || {
        let config = history(INGEST_SEED, INGEST_DAYS, INGEST_SCALE, now);
        let mut facts = Vec::new();
        generate(&config, &mut |fact| {
            if fact.at <= now {
                facts.push(fact);
            }
        });
        let events = events_for(&facts)?;
        anyhow::Ok((facts, events))
    })
    .await??;
    let mut by_metric: BTreeMap<&str, u64> = BTreeMap::new();
    for fact in &facts {
        *by_metric.entry(fact.metric.name()).or_default() += 1;
    }
    eprintln!(
        "insight: ingest: {} facts of {INGEST_DAYS} days up to now (seed {INGEST_SEED}, scale \
         {INGEST_SCALE}) as outbox events, each read back as its fact by from_event; by metric: \
         {by_metric:?}",
        events.len()
    );
    drop(facts);

    let quiet = QuietState::start(database.url.as_deref()).await?;
    let outcome = measure_ingest(&quiet.state, &events, figures).await;
    quiet.stop().await;
    outcome
}

async fn measure_ingest(
    state: &AppState,
    events: &[NewEvent],
    figures: &mut Figures,
) -> anyhow::Result<()> {
    let store = state.store();
    let started = Instant::now();
    for chunk in events.chunks(APPEND_BATCH) {
        let mut tx = store.begin_write().await?;
        tx.append_events(chunk).await?;
        tx.commit().await?;
    }
    eprintln!(
        "insight: ingest: appended {} events in {:.1} s (untimed)",
        events.len(),
        started.elapsed().as_secs_f64()
    );

    eprintln!("insight: ingest: baseline, the outbox read in pages of {OUTBOX_PAGE} events");
    let started = Instant::now();
    let mut after = 0_i64;
    let mut read = 0_u64;
    loop {
        let page: Vec<EventRow> = on_pool!(store, pool => {
            sqlx::query_as(
                "SELECT seq, event_id, kind, payload, occurred_at FROM outbox_events \
                 WHERE seq > $1 ORDER BY seq LIMIT $2",
            )
            .bind(after)
            .bind(OUTBOX_PAGE)
            .fetch_all(pool)
            .await?
        });
        let Some(last) = page.last() else { break };
        after = last.0;
        read += page.len() as u64;
        std::hint::black_box(&page);
    }
    let read_s = started.elapsed().as_secs_f64();
    eprintln!("insight: ingest: read {read} events in {read_s:.2} s");

    eprintln!("insight: ingest: bianmin_server::insight::ingest until a round reads nothing");
    let started = Instant::now();
    let (mut ingested, mut counted, mut cells, mut rounds) = (0_u64, 0_u64, 0_u64, 0_u64);
    loop {
        let round = bianmin_server::insight::ingest(state)
            .await
            .map_err(|error| anyhow!("ingest: {error}"))?;
        rounds += 1;
        if round.read == 0 {
            break;
        }
        ingested += round.read;
        counted += round.counted;
        cells += round.cells;
    }
    let ingest_s = started.elapsed().as_secs_f64();
    eprintln!(
        "insight: ingest: {rounds} rounds read {ingested} events, counted {counted} facts and \
         wrote {cells} cells in {ingest_s:.2} s"
    );

    let in_cells: i64 = on_pool!(store, pool => {
        sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(count), 0) AS BIGINT) FROM insight_cells \
             WHERE cube = 'reach' AND granularity = 'day'",
        )
        .fetch_one(pool)
        .await?
    });
    let appended = events.len() as u64;
    if u64::try_from(in_cells).ok() != Some(appended) {
        bail!("the reach cube's day cells count {in_cells} events, {appended} were appended");
    }
    if ingested != read {
        bail!("ingest read {ingested} events, the outbox holds {read}");
    }
    figures.record("ingest.events", appended as f64, "events");
    figures.record_against(
        "ingest.events_per_s",
        ingested as f64 / ingest_s,
        "events/s",
        read as f64 / read_s,
    );
    figures.record("ingest.cells", cells as f64, "cells");
    Ok(())
}

// --- Part 2: panels ----------------------------------------------------------------------

/// The panels: a year of facts in the cells and in the raw table, then each panel's queries.
async fn panels(database: &ScratchDatabase, figures: &mut Figures) -> anyhow::Result<()> {
    let now = Utc::now();
    let config = history(PANEL_SEED, PANEL_DAYS, PANEL_SCALE, now);
    let app = AppServer::start(database.url.as_deref()).await?;
    let outcome = measure_panels(&app, &config, now, figures).await;
    app.stop().await?;
    outcome
}

async fn measure_panels(
    app: &AppServer,
    config: &HistoryConfig,
    now: DateTime<Utc>,
    figures: &mut Figures,
) -> anyhow::Result<()> {
    eprintln!(
        "insight: panels: load_history (seed {}, {} days to {}, scale {:.3}) into the cells",
        config.seed, config.days, config.end, config.scale
    );
    let started = Instant::now();
    let load = bianmin_server::insight::load_history(app.state(), config, now)
        .await
        .map_err(|error| anyhow!("load_history: {error}"))?
        .context("load_history found this history already loaded")?;
    let load_s = started.elapsed().as_secs_f64();
    eprintln!(
        "insight: panels: {} facts of {} people into {} cells in {load_s:.1} s ({:.1} s \
         generating and folding, {:.1} s writing)",
        load.facts, load.people, load.cells, load.fold_seconds, load.write_seconds
    );
    figures.record("panels.events", load.facts as f64, "events");
    figures.record("history.load_s", load_s, "s");
    figures.record("history.facts_per_s", load.facts as f64 / load_s, "facts/s");
    figures.record("history.cells", load.cells as f64, "cells");

    let raw = load_raw(app, config, now).await?;
    if raw != load.facts {
        bail!(
            "bench_raw_facts holds {raw} facts, load_history folded {}",
            load.facts
        );
    }

    let tokens = [
        app.sign_in(Officer::Data.persona()).await?,
        app.sign_in(Officer::Hpf.persona()).await?,
    ];
    let mut connection = Connection::open(app.address()).await?;
    let mut wrong = Vec::new();
    for panel in panel_list(now) {
        let token = &tokens[panel.officer as usize];
        let measured = measure_panel(app, &mut connection, token, &panel).await?;
        eprintln!(
            "insight: panel {}: first {:.1} ms, then p50 {:.1} ms, max {:.1} ms, reading {} cells \
             of {}; plain GROUP BY {:.1} ms (median of {}){}",
            panel.name,
            measured.cold_ms,
            measured.p50_ms,
            measured.max_ms,
            measured.cells,
            measured.cubes,
            measured.baseline_ms,
            measured.baseline_runs,
            if measured.p50_ms > GOAL_PANEL_MS {
                format!(" (over the goal of {GOAL_PANEL_MS} ms)")
            } else {
                String::new()
            }
        );
        figures.record_against(
            format!("panel.{}.p50_ms", panel.name),
            measured.p50_ms,
            "ms",
            measured.baseline_ms,
        );
        figures.record(
            format!("panel.{}.max_ms", panel.name),
            measured.max_ms,
            "ms",
        );
        figures.record_against(
            format!("panel.{}.cold_ms", panel.name),
            measured.cold_ms,
            "ms",
            measured.baseline_ms,
        );
        if let Some(error) = measured.people_error {
            figures.record(
                format!("panel.{}.people_error_pct", panel.name),
                error * 100.0,
                "%",
            );
        }
        wrong.extend(measured.wrong);
    }
    if !wrong.is_empty() {
        bail!(
            "the panels' counts differ from the plain GROUP BY's in {} places: {}",
            wrong.len(),
            wrong.join("; ")
        );
    }
    Ok(())
}

/// `at` as sqlx binds a `DateTime<Utc>` to SQLite (RFC 3339, only the sub-second digits there
/// are, `+00:00`), so that the raw table's text compares with bound times as times; PostgreSQL
/// parses it into a `timestamptz`.
fn stored_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, false)
}

/// One raw row, as a JSON array in the column order of `bench_raw_facts`.
type RawRow = (
    String,
    &'static str,
    String,
    String,
    Option<String>,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<u64>,
);

fn raw_row(fact: Fact) -> RawRow {
    (
        stored_time(fact.at),
        fact.metric.name(),
        fact.service,
        fact.department,
        fact.district,
        fact.channel,
        fact.outcome,
        fact.age_band,
        fact.subject,
        fact.latency_ms,
    )
}

/// Loads the facts of `config` up to `now` into `bench_raw_facts` (generated again: the
/// history is deterministic), indexes and analyses it; returns the rows.
async fn load_raw(
    app: &AppServer,
    config: &HistoryConfig,
    now: DateTime<Utc>,
) -> anyhow::Result<u64> {
    let store = app.state().store();
    let (create, insert) = match app.backend() {
        Backend::Sqlite => (
            "CREATE TABLE bench_raw_facts (at TEXT NOT NULL, metric TEXT NOT NULL, \
             service TEXT NOT NULL, department TEXT NOT NULL, district TEXT, channel TEXT NOT NULL, \
             outcome TEXT NOT NULL, age_band TEXT, subject TEXT, latency_ms INTEGER)",
            "INSERT INTO bench_raw_facts SELECT value ->> 0, value ->> 1, value ->> 2, \
             value ->> 3, value ->> 4, value ->> 5, value ->> 6, value ->> 7, value ->> 8, \
             value ->> 9 FROM json_each($1)",
        ),
        Backend::Postgres => (
            "CREATE TABLE bench_raw_facts (at TIMESTAMPTZ NOT NULL, metric TEXT NOT NULL, \
             service TEXT NOT NULL, department TEXT NOT NULL, district TEXT, channel TEXT NOT NULL, \
             outcome TEXT NOT NULL, age_band TEXT, subject TEXT, latency_ms BIGINT)",
            "INSERT INTO bench_raw_facts SELECT (e ->> 0)::timestamptz, e ->> 1, e ->> 2, \
             e ->> 3, e ->> 4, e ->> 5, e ->> 6, e ->> 7, e ->> 8, (e ->> 9)::bigint \
             FROM jsonb_array_elements($1::jsonb) AS e",
        ),
    };
    on_pool!(store, pool => {
        sqlx::query(create).execute(pool).await?;
    });
    eprintln!(
        "insight: panels: loading the same facts into bench_raw_facts, {RAW_ROWS_PER_INSERT} \
         rows per INSERT (untimed)"
    );
    let started = Instant::now();
    let (batches, mut receiver) = tokio::sync::mpsc::channel::<(usize, String)>(RAW_BATCHES_AHEAD);
    let generating = config.clone();
    let producer = tokio::task::spawn_blocking(move || {
        let mut rows: Vec<RawRow> = Vec::with_capacity(RAW_ROWS_PER_INSERT);
        let mut failed: Option<serde_json::Error> = None;
        // The receiver is gone only when an insert failed (its error is reported): the rest
        // of the history is then generated but not serialised.
        let mut stopped = false;
        let mut send = |rows: &mut Vec<RawRow>| {
            if !stopped {
                match serde_json::to_string(&*rows) {
                    Ok(text) => stopped = batches.blocking_send((rows.len(), text)).is_err(),
                    Err(error) => {
                        failed = Some(error);
                        stopped = true;
                    }
                }
            }
            rows.clear();
        };
        generate(&generating, &mut |fact| {
            if fact.at <= now {
                rows.push(raw_row(fact));
                if rows.len() == RAW_ROWS_PER_INSERT {
                    send(&mut rows);
                }
            }
        });
        if !rows.is_empty() {
            send(&mut rows);
        }
        failed.map_or(Ok(()), Err)
    });
    let mut loaded = 0_u64;
    let mut reported = 0_u64;
    while let Some((rows, json)) = receiver.recv().await {
        on_pool!(store, pool => {
            sqlx::query(insert).bind(json).execute(pool).await?;
        });
        loaded += rows as u64;
        if loaded - reported >= 1_000_000 {
            reported = loaded;
            eprintln!(
                "insight: panels: {loaded} raw rows ({:.0} s)",
                started.elapsed().as_secs_f64()
            );
        }
    }
    producer
        .await
        .context("the generating thread panicked")?
        .context("a raw batch did not serialise")?;
    let inserted_s = started.elapsed().as_secs_f64();
    let indexing = Instant::now();
    on_pool!(store, pool => {
        sqlx::query("CREATE INDEX bench_raw_facts_metric_at ON bench_raw_facts (metric, at)")
            .execute(pool)
            .await?;
        sqlx::query("ANALYZE bench_raw_facts").execute(pool).await?;
    });
    let counted: i64 = on_pool!(store, pool => {
        sqlx::query_scalar("SELECT COUNT(*) FROM bench_raw_facts")
            .fetch_one(pool)
            .await?
    });
    if u64::try_from(counted).ok() != Some(loaded) {
        bail!("bench_raw_facts counts {counted} rows, {loaded} were inserted");
    }
    eprintln!(
        "insight: panels: {loaded} raw rows inserted in {inserted_s:.1} s, indexed on (metric, \
         at) and analysed in {:.1} s",
        indexing.elapsed().as_secs_f64()
    );
    Ok(loaded)
}

/// Who asks.
#[derive(Debug, Clone, Copy)]
enum Officer {
    /// `officer-data` of the 政务办, who sees every department.
    Data = 0,
    /// `officer-hpf` of the 公积金中心, held to department `hpf`.
    Hpf = 1,
}

impl Officer {
    fn persona(self) -> &'static str {
        match self {
            Officer::Data => "officer-data",
            Officer::Hpf => "officer-hpf",
        }
    }
}

/// What a query groups by, in the cockpit's terms and in the raw table's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    /// A dimension of the cells, a column of the raw table.
    Dimension(&'static str),
    /// The China calendar day of the bucket.
    Day,
    /// The China calendar month of the bucket.
    Month,
}

impl Key {
    /// The raw table's expression for it.
    fn sql(self, backend: Backend) -> &'static str {
        match (self, backend) {
            (Key::Dimension(name), _) => name,
            (Key::Day, Backend::Sqlite) => "date(at, '+8 hours')",
            (Key::Day, Backend::Postgres) => {
                "to_char(at AT TIME ZONE 'UTC' + INTERVAL '8 hours', 'YYYY-MM-DD')"
            }
            (Key::Month, Backend::Sqlite) => "strftime('%Y-%m', at, '+8 hours')",
            (Key::Month, Backend::Postgres) => {
                "to_char(at AT TIME ZONE 'UTC' + INTERVAL '8 hours', 'YYYY-MM')"
            }
        }
    }

    /// Its value in a row of the cockpit's answer, as the raw table's expression gives it.
    fn of_row(self, row: &Value) -> Option<String> {
        let china_date = || {
            let bucket = row["bucket"].as_str()?;
            let bucket = DateTime::parse_from_rfc3339(bucket).ok()?;
            Some(china_today(bucket.with_timezone(&Utc)))
        };
        match self {
            Key::Dimension(name) => Some(row["group"][name].as_str()?.to_owned()),
            Key::Day => Some(china_date()?.format("%Y-%m-%d").to_string()),
            Key::Month => Some(china_date()?.format("%Y-%m").to_string()),
        }
    }
}

/// One query of a panel: the cockpit's, and the plain `GROUP BY` that gives the same answer.
#[derive(Debug, Clone)]
struct PanelQuery {
    metric: Metric,
    /// `total`, `day` or `month`.
    granularity: &'static str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    group_by: Vec<Key>,
    /// A filter on the outcome.
    outcome: Option<&'static str>,
    /// The department the officer is held to (the cockpit adds it; the baseline must).
    department: Option<&'static str>,
}

impl PanelQuery {
    fn over(
        metric: Metric,
        granularity: &'static str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Self {
        PanelQuery {
            metric,
            granularity,
            from,
            to,
            group_by: Vec::new(),
            outcome: None,
            department: None,
        }
    }

    fn grouped(self, group_by: &[Key]) -> Self {
        PanelQuery {
            group_by: group_by.to_vec(),
            ..self
        }
    }

    /// The path and query string the cockpit page requests.
    fn path(&self) -> String {
        let time = |at: DateTime<Utc>| at.format("%Y-%m-%dT%H:%M:%SZ");
        let mut path = format!(
            "/api/v1/cockpit/query?metric={}&from={}&to={}&granularity={}",
            self.metric.name(),
            time(self.from),
            time(self.to),
            self.granularity
        );
        let dimensions: Vec<&str> = self
            .group_by
            .iter()
            .filter_map(|key| match key {
                Key::Dimension(name) => Some(*name),
                Key::Day | Key::Month => None,
            })
            .collect();
        if !dimensions.is_empty() {
            path.push_str(&format!("&group_by={}", dimensions.join(",")));
        }
        if let Some(outcome) = self.outcome {
            path.push_str(&format!("&outcome={outcome}"));
        }
        path
    }

    /// The range the cockpit reads: `from` rounded down to its bucket (a day for totals).
    fn read_from(&self) -> DateTime<Utc> {
        match self.granularity {
            "month" => Granularity::Month.bucket(self.from),
            _ => Granularity::Day.bucket(self.from),
        }
    }

    /// The plain `GROUP BY` over `bench_raw_facts`: two grouping columns (null when unused),
    /// facts, distinct people, mean latency.
    fn baseline_sql(&self, backend: Backend) -> String {
        let keys: Vec<&str> = self.group_by.iter().map(|key| key.sql(backend)).collect();
        let mut select: Vec<&str> = keys.clone();
        select.resize(2, "CAST(NULL AS TEXT)");
        let mut sql = format!(
            "SELECT {}, {}, COUNT(*), COUNT(DISTINCT subject), \
             CAST(AVG(latency_ms) AS DOUBLE PRECISION) FROM bench_raw_facts \
             WHERE metric = $1 AND at >= $2 AND at < $3",
            select[0], select[1]
        );
        if self.outcome.is_some() {
            sql.push_str(" AND outcome = $4");
        } else if self.department.is_some() {
            sql.push_str(" AND department = $4");
        }
        if !keys.is_empty() {
            sql.push_str(&format!(" GROUP BY {}", keys.join(", ")));
        }
        sql
    }
}

/// A row of the baseline: the grouping values, facts, people, mean latency.
type BaselineRow = (Option<String>, Option<String>, i64, i64, Option<f64>);

/// A panel of the cockpit page (`web/assets/cockpit.js`): its queries, asked by one officer.
#[derive(Debug, Clone)]
struct Panel {
    name: &'static str,
    officer: Officer,
    queries: Vec<PanelQuery>,
    /// Whether to report how far its people count is from the exact one.
    people: bool,
}

/// The panels over the last 365 days (the mau over 30) up to `now`.
fn panel_list(now: DateTime<Utc>) -> Vec<Panel> {
    // Whole seconds, as the page sends them.
    let now = DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now);
    let to = now + TimeDelta::minutes(1);
    let year = now - TimeDelta::days(365);
    let month = now - TimeDelta::days(30);
    let uses = |granularity, from| PanelQuery::over(Metric::ServiceUse, granularity, from, to);
    let panel = |name, queries, people| Panel {
        name,
        officer: Officer::Data,
        queries,
        people,
    };
    vec![
        panel("kpi_total", vec![uses("total", year)], true),
        panel("mau_30d", vec![uses("total", month)], true),
        panel(
            "trend_day",
            vec![uses("day", year).grouped(&[Key::Day])],
            false,
        ),
        panel(
            "trend_month",
            vec![uses("month", year).grouped(&[Key::Month])],
            false,
        ),
        panel(
            "district_map",
            vec![uses("total", year).grouped(&[Key::Dimension("district")])],
            false,
        ),
        panel(
            "service_ranking",
            vec![uses("total", year).grouped(&[Key::Dimension("service")])],
            false,
        ),
        panel(
            "outcomes",
            vec![uses("total", year).grouped(&[Key::Dimension("outcome")])],
            false,
        ),
        panel(
            "age_channel",
            vec![
                uses("total", year)
                    .grouped(&[Key::Dimension("age_band"), Key::Dimension("channel")]),
            ],
            false,
        ),
        panel(
            "funnel",
            vec![
                PanelQuery::over(Metric::LoanApplied, "total", year, to),
                PanelQuery {
                    outcome: Some("approved"),
                    ..PanelQuery::over(Metric::LoanDecided, "total", year, to)
                },
                PanelQuery::over(Metric::LoanSigned, "total", year, to),
                PanelQuery::over(Metric::LoanDrawn, "total", year, to),
            ],
            false,
        ),
        Panel {
            name: "kpi_total_hpf",
            officer: Officer::Hpf,
            queries: vec![PanelQuery {
                department: Some("hpf"),
                ..uses("total", year)
            }],
            people: true,
        },
    ]
}

/// What measuring a panel gave.
struct PanelMeasure {
    /// The very first run: nothing of the query kept yet (the server keeps what it read of
    /// closed days and months until one of them is written again).
    cold_ms: f64,
    p50_ms: f64,
    max_ms: f64,
    baseline_ms: f64,
    /// Runs of the baseline.
    baseline_runs: usize,
    /// Cells its queries read, and the cubes they read them from.
    cells: i64,
    cubes: String,
    /// |people − exact| / exact of the first query's first row.
    people_error: Option<f64>,
    /// Where its answer differs from the baseline's.
    wrong: Vec<String>,
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or_default()
}

fn millis(elapsed: Duration) -> f64 {
    elapsed.as_secs_f64() * 1e3
}

/// The baseline of `panel` ([`BASELINE_RUNS`] runs, the median of their summed queries), then its
/// HTTP queries ([`PANEL_WARMUP`] unrecorded and [`PANEL_RUNS`] timed runs, one after another),
/// then their answers compared.
async fn measure_panel(
    app: &AppServer,
    connection: &mut Connection,
    token: &str,
    panel: &Panel,
) -> anyhow::Result<PanelMeasure> {
    let store = app.state().store();
    let backend = app.backend();
    let mut baseline_runs = Vec::with_capacity(BASELINE_RUNS);
    let mut exact: Vec<Vec<BaselineRow>> = Vec::new();
    let mut spent = Duration::ZERO;
    while baseline_runs.len() < BASELINE_RUNS && spent < BASELINE_BUDGET {
        let mut elapsed = Duration::ZERO;
        exact.clear();
        for query in &panel.queries {
            let sql = query.baseline_sql(backend);
            let extra = query.outcome.or(query.department);
            let started = Instant::now();
            let rows: Vec<BaselineRow> = on_pool!(store, pool => {
                let mut statement = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
                    .bind(query.metric.name())
                    .bind(query.read_from())
                    .bind(query.to);
                if let Some(value) = extra {
                    statement = statement.bind(value);
                }
                statement.fetch_all(pool).await?
            });
            elapsed += started.elapsed();
            exact.push(rows);
        }
        spent += elapsed;
        baseline_runs.push(millis(elapsed));
    }

    let bearer = format!("Bearer {token}");
    let paths: Vec<String> = panel.queries.iter().map(PanelQuery::path).collect();
    let mut runs = Vec::with_capacity(PANEL_RUNS);
    let mut cold_ms = 0.0;
    let mut answers: Vec<Value> = Vec::new();
    for run in 0..PANEL_WARMUP + PANEL_RUNS {
        let mut elapsed = Duration::ZERO;
        let mut bodies = Vec::with_capacity(paths.len());
        for path in &paths {
            let mut request = connection.get(path)?;
            request
                .headers_mut()
                .insert(AUTHORIZATION, bearer.parse().context("bearer header")?);
            let started = Instant::now();
            let answer = connection.send(request).await?;
            elapsed += started.elapsed();
            if answer.status != StatusCode::OK {
                bail!(
                    "{path} answered {}: {}",
                    answer.status,
                    String::from_utf8_lossy(&answer.body)
                );
            }
            bodies.push(answer.body);
        }
        if run == 0 {
            cold_ms = millis(elapsed);
        }
        if run >= PANEL_WARMUP {
            runs.push(millis(elapsed));
        }
        if run + 1 == PANEL_WARMUP + PANEL_RUNS {
            answers = bodies
                .iter()
                .map(|body| serde_json::from_slice(body))
                .collect::<Result<_, _>>()
                .context("a cockpit answer is not JSON")?;
        }
    }

    let mut wrong = Vec::new();
    let mut people_error = None;
    for ((query, answer), rows) in panel.queries.iter().zip(&answers).zip(&exact) {
        let label = format!("{} {}", panel.name, query.path());
        compare(query, answer, rows, &label, &mut wrong);
        if panel.people && people_error.is_none() {
            let people = answer["rows"][0]["people"].as_u64();
            let exact_people = rows.first().map(|row| row.3);
            if let (Some(people), Some(exact_people)) = (people, exact_people)
                && exact_people > 0
            {
                let error = (people as f64 - exact_people as f64).abs() / exact_people as f64;
                eprintln!(
                    "insight: panel {}: {people} people from the sketches, {exact_people} exact",
                    panel.name
                );
                people_error = Some(error);
            }
        }
    }
    let mut cells = 0;
    let mut cubes = Vec::new();
    for (query, answer) in panel.queries.iter().zip(&answers) {
        let cube = answer["cube"].as_str().unwrap_or_default().to_owned();
        cells += cells_read(app, query, &cube).await?;
        if !cubes.contains(&cube) {
            cubes.push(cube);
        }
    }
    Ok(PanelMeasure {
        cold_ms,
        p50_ms: median(runs.clone()),
        max_ms: runs.iter().copied().fold(0.0, f64::max),
        baseline_ms: median(baseline_runs.clone()),
        baseline_runs: baseline_runs.len(),
        cells,
        cubes: cubes.join(", "),
        people_error,
        wrong,
    })
}

/// The cells of `cube` the cockpit reads to answer `query`: for a total, the month and day
/// buckets of [`cover`], otherwise the buckets of its granularity in its range.
async fn cells_read(app: &AppServer, query: &PanelQuery, cube: &str) -> anyhow::Result<i64> {
    let from = query.read_from();
    let spans: Vec<(Granularity, DateTime<Utc>, DateTime<Utc>)> = match query.granularity {
        "total" => cover(from, query.to)
            .into_iter()
            .map(|(granularity, bucket)| (granularity, bucket, granularity.next(bucket)))
            .collect(),
        "month" => vec![(Granularity::Month, from, query.to)],
        _ => vec![(Granularity::Day, from, query.to)],
    };
    let mut cells = 0;
    for (granularity, start, end) in spans {
        let count: i64 = on_pool!(app.state().store(), pool => {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM insight_cells WHERE cube = $1 AND granularity = $2 \
                 AND metric = $3 AND bucket >= $4 AND bucket < $5",
            )
            .bind(cube)
            .bind(granularity.name())
            .bind(query.metric.name())
            .bind(start)
            .bind(end)
            .fetch_one(pool)
            .await?
        });
        cells += count;
    }
    Ok(cells)
}

/// Compares the counts of the cockpit's `answer` with the baseline's `rows`, group by group
/// (suppressed groups aside), noting each difference in `wrong`.
fn compare(
    query: &PanelQuery,
    answer: &Value,
    rows: &[BaselineRow],
    label: &str,
    wrong: &mut Vec<String>,
) {
    // A plain aggregate without GROUP BY answers one row of zeros where there are no facts; the
    // cockpit answers no row.
    let exact: BTreeMap<Vec<String>, i64> = rows
        .iter()
        .filter(|row| row.2 > 0)
        .map(|(first, second, count, ..)| {
            let key = [first, second]
                .into_iter()
                .take(query.group_by.len())
                .map(|value| value.clone().unwrap_or_default())
                .collect();
            (key, *count)
        })
        .collect();
    let Some(answer_rows) = answer["rows"].as_array() else {
        wrong.push(format!("{label}: the answer has no rows"));
        return;
    };
    let mut seen = 0;
    for row in answer_rows {
        let key: Option<Vec<String>> = query.group_by.iter().map(|key| key.of_row(row)).collect();
        let Some(key) = key else {
            wrong.push(format!("{label}: a row without its group: {row}"));
            continue;
        };
        seen += usize::from(exact.contains_key(&key));
        if row["suppressed"].as_bool() == Some(true) {
            continue;
        }
        let count = row["count"].as_i64();
        let expected = exact.get(&key).copied();
        if count != expected {
            wrong.push(format!(
                "{label}: {key:?} counts {count:?}, the raw table {expected:?}"
            ));
        }
    }
    if seen != exact.len() {
        wrong.push(format!(
            "{label}: the raw table has {} groups, the answer {seen} of them",
            exact.len()
        ));
    }
}
