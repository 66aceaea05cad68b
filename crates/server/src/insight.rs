//! The cockpit's ingestion: the outbox's domain events folded into `insight_cells`, at least
//! once and de-duplicated, in the transaction that moves the consumer's cursor.
//!
//! One round, in one write transaction: lock the cursor; read up to [`BATCH`] events after it
//! (on PostgreSQL from [`REREAD`] events before it, skipping those already counted, because a
//! sequence number is taken at insert and a slow transaction can commit below the cursor); fold
//! them into cells (`bianmin_insight::rollup`); load the stored cells of every bucket touched,
//! merge, and write them back with multi-row upserts; record what was counted; move the cursor.
//! A crash anywhere leaves the cells and the cursor as they were.
//!
//! Also here: the pruning of minute and hour cells past their retention, and the demo's year of
//! history written straight into the cells.

use std::collections::HashMap;

use bianmin_insight::distinct::Distinct;
use bianmin_insight::fact::{Metric, from_event};
use bianmin_insight::history::{HistoryConfig, generate};
use bianmin_insight::rollup::{Aggregator, Cell, CellKey, Cube, Granularity, LATENCY_BUCKETS};
use bianmin_store::{Backend, StoreError, Tx, on_pool, on_tx};
use chrono::{DateTime, Utc};
use sqlx::types::Json;
use uuid::Uuid;

use crate::app::AppState;
use crate::http::problem::ApiError;

/// The consumer's name in `outbox_consumers`.
pub const CONSUMER: &str = "insight";
/// Events read per round.
pub const BATCH: i64 = 10_000;
/// PostgreSQL: events re-read behind the cursor each round.
pub const REREAD: i64 = 1_000;
/// Rows per multi-row upsert (15 parameters each).
const UPSERT_ROWS: usize = 400;

/// What a round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Round {
    /// Events read past the cursor.
    pub read: u64,
    /// Facts counted into cells.
    pub counted: u64,
    /// Cells written.
    pub cells: u64,
}

#[derive(sqlx::FromRow)]
struct EventRow {
    seq: i64,
    event_id: Uuid,
    kind: String,
    payload: Json<serde_json::Value>,
    occurred_at: DateTime<Utc>,
}

/// A stored cell (the key's cube and granularity are the query's).
#[derive(sqlx::FromRow)]
pub(crate) struct CellRow {
    pub(crate) bucket: DateTime<Utc>,
    service: String,
    department: String,
    district: String,
    channel: String,
    outcome: String,
    age_band: String,
    count: i64,
    timed: i64,
    latency_sum_ms: i64,
    latency: String,
    people: Option<Vec<u8>>,
}

impl CellRow {
    /// The value of dimension `name` (`service`, `department`, `district`, `channel`,
    /// `outcome`, otherwise the age band).
    pub(crate) fn dimension(&self, name: &str) -> &str {
        match name {
            "service" => &self.service,
            "department" => &self.department,
            "district" => &self.district,
            "channel" => &self.channel,
            "outcome" => &self.outcome,
            _ => &self.age_band,
        }
    }

    /// Its counts, histogram and sketch.
    pub(crate) fn cell(&self) -> Result<Cell, ApiError> {
        let histogram: Vec<u64> =
            serde_json::from_str(&self.latency).map_err(ApiError::internal)?;
        let mut cell = Cell {
            count: u64::try_from(self.count).unwrap_or(0),
            timed: u64::try_from(self.timed).unwrap_or(0),
            latency_sum_ms: u64::try_from(self.latency_sum_ms).unwrap_or(0),
            ..Cell::default()
        };
        for (slot, value) in cell
            .latency
            .iter_mut()
            .zip(histogram.into_iter().take(LATENCY_BUCKETS))
        {
            *slot = value;
        }
        cell.people = self
            .people
            .as_deref()
            .map(Distinct::from_bytes)
            .transpose()
            .map_err(ApiError::internal)?;
        Ok(cell)
    }
}

fn store_error(error: sqlx::Error) -> ApiError {
    StoreError::from(error).into()
}

/// Runs one round; call again while it reads a full batch.
pub async fn ingest(state: &AppState) -> Result<Round, ApiError> {
    let backend = state.store().backend();
    let mut tx = state.store().begin_write().await?;
    let cursor = lock_cursor(&mut tx).await?;
    let from = match backend {
        Backend::Postgres => (cursor - REREAD).max(0),
        _ => cursor,
    };
    let events: Vec<EventRow> = on_tx!(&mut tx, conn => {
        sqlx::query_as(
            "SELECT seq, event_id, kind, payload, occurred_at FROM outbox_events \
             WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(from)
        .bind(BATCH + (cursor - from))
        .fetch_all(&mut *conn)
        .await?
    });
    let seen: Vec<Uuid> = if from < cursor {
        on_tx!(&mut tx, conn => {
            sqlx::query_scalar(
                "SELECT event_id FROM outbox_consumed WHERE consumer = $1 AND seq > $2 AND seq <= $3",
            )
            .bind(CONSUMER)
            .bind(from)
            .bind(cursor)
            .fetch_all(&mut *conn)
            .await?
        })
    } else {
        Vec::new()
    };
    let seen: std::collections::HashSet<Uuid> = seen.into_iter().collect();
    let mut round = Round::default();
    let mut aggregator = Aggregator::default();
    let mut consumed: Vec<(Uuid, i64)> = Vec::new();
    let mut last = cursor;
    for event in &events {
        last = last.max(event.seq);
        if event.seq > cursor {
            round.read += 1;
        }
        if seen.contains(&event.event_id) {
            continue;
        }
        consumed.push((event.event_id, event.seq));
        if let Some(fact) = from_event(&event.kind, &event.payload.0, event.occurred_at) {
            aggregator.add(&fact);
            round.counted += 1;
        }
    }
    let cells = aggregator.drain();
    round.cells = cells.len() as u64;
    let now = state.clock().now();
    write_cells(&mut tx, cells, now).await?;
    if backend == Backend::Postgres {
        record_consumed(&mut tx, &consumed, last).await?;
    }
    on_tx!(&mut tx, conn => {
        sqlx::query("UPDATE outbox_consumers SET last_seq = $2, updated_at = $3 WHERE name = $1")
            .bind(CONSUMER)
            .bind(last)
            .bind(now)
            .execute(&mut *conn)
            .await?;
    });
    tx.commit().await?;
    Ok(round)
}

/// The consumer's cursor, created at 0 and locked for the rest of `tx`.
async fn lock_cursor(tx: &mut Tx) -> Result<i64, ApiError> {
    on_tx!(&mut *tx, conn => {
        sqlx::query(
            "INSERT INTO outbox_consumers (name, last_seq, updated_at) VALUES ($1, 0, $2) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(CONSUMER)
        .bind(Utc::now())
        .execute(&mut *conn)
        .await?;
    });
    let cursor: i64 = match tx {
        Tx::Sqlite(conn) => {
            sqlx::query_scalar("SELECT last_seq FROM outbox_consumers WHERE name = $1")
                .bind(CONSUMER)
                .fetch_one(&mut **conn)
                .await
                .map_err(store_error)?
        }
        Tx::Postgres(conn) => {
            sqlx::query_scalar("SELECT last_seq FROM outbox_consumers WHERE name = $1 FOR UPDATE")
                .bind(CONSUMER)
                .fetch_one(&mut **conn)
                .await
                .map_err(store_error)?
        }
    };
    Ok(cursor)
}

async fn record_consumed(tx: &mut Tx, consumed: &[(Uuid, i64)], last: i64) -> Result<(), ApiError> {
    for chunk in consumed.chunks(1_000) {
        let mut sql = String::from("INSERT INTO outbox_consumed (consumer, event_id, seq) VALUES ");
        for (index, _) in chunk.iter().enumerate() {
            if index > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "('{CONSUMER}', ${}, ${})",
                index * 2 + 1,
                index * 2 + 2
            ));
        }
        sql.push_str(" ON CONFLICT DO NOTHING");
        on_tx!(&mut *tx, conn => {
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
            for (event, seq) in chunk {
                query = query.bind(*event).bind(*seq);
            }
            query.execute(&mut *conn).await?;
        });
    }
    on_tx!(&mut *tx, conn => {
        sqlx::query("DELETE FROM outbox_consumed WHERE consumer = $1 AND seq <= $2")
            .bind(CONSUMER)
            .bind(last - 2 * REREAD)
            .execute(&mut *conn)
            .await?;
    });
    Ok(())
}

/// One metric of a cube at one granularity: the unit stored cells are loaded by, as one range
/// of buckets (a prefix of the key, then a range).
type Series = (Cube, Granularity, Metric);

/// A key as the table orders it (by the stored names).
fn stored_order(key: &CellKey) -> (&str, &str, &str, DateTime<Utc>, &str, &str, &str) {
    (
        key.cube.name(),
        key.granularity.name(),
        key.metric.name(),
        key.bucket,
        &key.service,
        &key.department,
        &key.district,
    )
}

/// How close to the end of the day a write counts as touching a closed bucket: longer than any
/// write transaction lasts, so a query that caches a bucket just after midnight cannot miss a
/// write that committed just after it.
const CLOSING_MARGIN: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

/// Whether a cell of `granularity` starting at `bucket` had ended before the China day of `at`
/// began (only day and month cells are ever closed).
pub fn closed(granularity: Granularity, bucket: DateTime<Utc>, at: DateTime<Utc>) -> bool {
    matches!(granularity, Granularity::Day | Granularity::Month)
        && granularity.next(bucket) <= Granularity::Day.bucket(at)
}

/// The generation of the closed cells: it changes whenever one of them is written.
pub async fn closed_generation(state: &AppState) -> Result<i64, ApiError> {
    Ok(on_pool!(state.store(), pool => {
        sqlx::query_scalar("SELECT closed FROM insight_generation WHERE id = 1")
            .fetch_one(pool)
            .await?
    }))
}

/// Merges `cells` into the stored ones and writes them back; if any of them is closed at `now`
/// (or within [`CLOSING_MARGIN`] of it), bumps the closed generation in the same transaction.
async fn write_cells(
    tx: &mut Tx,
    cells: Vec<(CellKey, Cell)>,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    if cells
        .iter()
        .any(|(key, _)| closed(key.granularity, key.bucket, now + CLOSING_MARGIN))
    {
        on_tx!(&mut *tx, conn => {
            sqlx::query("UPDATE insight_generation SET closed = closed + 1 WHERE id = 1")
                .execute(&mut *conn)
                .await?;
        });
    }
    let mut by_series: HashMap<Series, (DateTime<Utc>, DateTime<Utc>)> = HashMap::new();
    for (key, _) in &cells {
        let range = by_series
            .entry((key.cube, key.granularity, key.metric))
            .or_insert((key.bucket, key.bucket));
        range.0 = range.0.min(key.bucket);
        range.1 = range.1.max(key.bucket);
    }
    let mut fresh: HashMap<CellKey, Cell> = cells.into_iter().collect();
    let mut merged: Vec<(CellKey, Cell)> = Vec::with_capacity(fresh.len());
    for ((cube, granularity, metric), (first, last)) in by_series {
        let stored: Vec<CellRow> = on_tx!(&mut *tx, conn => {
            sqlx::query_as(
                "SELECT bucket, service, department, district, channel, outcome, age_band, \
                 count, timed, latency_sum_ms, latency, people FROM insight_cells \
                 WHERE cube = $1 AND granularity = $2 AND metric = $3 AND bucket >= $4 AND bucket <= $5",
            )
            .bind(cube.name())
            .bind(granularity.name())
            .bind(metric.name())
            .bind(first)
            .bind(last)
            .fetch_all(&mut *conn)
            .await?
        });
        for row in stored {
            let key = CellKey {
                cube,
                granularity,
                bucket: row.bucket,
                metric,
                service: row.service.clone(),
                department: row.department.clone(),
                district: row.district.clone(),
                channel: row.channel.clone(),
                outcome: row.outcome.clone(),
                age_band: row.age_band.clone(),
            };
            // Stored cells in the range that this round did not touch stay as they are.
            if let Some(cell) = fresh.remove(&key) {
                let mut total = row.cell()?;
                total.merge(&cell);
                merged.push((key, total));
            }
        }
    }
    merged.extend(fresh);
    // In key order: the rows then land next to each other in the table's B-tree instead of
    // all over it (a year of history is 200,000 rows).
    merged.sort_unstable_by(|(left, _), (right, _)| stored_order(left).cmp(&stored_order(right)));
    // SQLite gets anonymous `?` parameters: sqlx asks SQLite for each parameter's name, which
    // is a scan of the statement's named ones, so with `$N` a statement's cost grows with the
    // square of its parameters (400 rows of `$N` wrote 5× slower a row than 20).
    let sqlite = matches!(tx, Tx::Sqlite(_));
    for chunk in merged.chunks(UPSERT_ROWS) {
        let mut sql = String::from(
            "INSERT INTO insight_cells (cube, granularity, bucket, metric, service, department, \
             district, channel, outcome, age_band, count, timed, latency_sum_ms, latency, people) VALUES ",
        );
        for index in 0..chunk.len() {
            if index > 0 {
                sql.push(',');
            }
            sql.push('(');
            for column in 0..15 {
                if column > 0 {
                    sql.push(',');
                }
                if sqlite {
                    sql.push('?');
                } else {
                    sql.push_str(&format!("${}", index * 15 + column + 1));
                }
            }
            sql.push(')');
        }
        sql.push_str(
            " ON CONFLICT (cube, granularity, bucket, metric, service, department, district, \
             channel, outcome, age_band) DO UPDATE SET count = excluded.count, timed = excluded.timed, \
             latency_sum_ms = excluded.latency_sum_ms, latency = excluded.latency, people = excluded.people",
        );
        on_tx!(&mut *tx, conn => {
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
            for (key, cell) in chunk {
                query = query
                    .bind(key.cube.name())
                    .bind(key.granularity.name())
                    .bind(key.bucket)
                    .bind(key.metric.name())
                    .bind(&key.service)
                    .bind(&key.department)
                    .bind(&key.district)
                    .bind(&key.channel)
                    .bind(&key.outcome)
                    .bind(&key.age_band)
                    .bind(i64::try_from(cell.count).unwrap_or(i64::MAX))
                    .bind(i64::try_from(cell.timed).unwrap_or(i64::MAX))
                    .bind(i64::try_from(cell.latency_sum_ms).unwrap_or(i64::MAX))
                    .bind(serde_json::to_string(&cell.latency.to_vec()).unwrap_or_default())
                    .bind(cell.people.as_ref().map(Distinct::to_bytes));
            }
            query.execute(&mut *conn).await?;
        });
    }
    Ok(())
}

/// Deletes the minute and hour cells past their retention at `now`
/// ([`Granularity::retention`]); returns how many.
pub async fn prune(state: &AppState, now: DateTime<Utc>) -> Result<u64, ApiError> {
    let mut deleted = 0;
    for cube in Cube::ALL {
        for granularity in cube.granularities() {
            let Some(kept) = granularity.retention() else {
                continue;
            };
            let oldest = granularity.bucket(now - kept);
            deleted += on_pool!(state.store(), pool => {
                sqlx::query(
                    "DELETE FROM insight_cells WHERE cube = $1 AND granularity = $2 AND bucket < $3",
                )
                .bind(cube.name())
                .bind(granularity.name())
                .bind(oldest)
                .execute(pool)
                .await?
                .rows_affected()
            });
        }
    }
    Ok(deleted)
}

/// What loading the demo history did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HistoryLoad {
    /// Facts folded (those up to now).
    pub facts: u64,
    /// Distinct people in them.
    pub people: u64,
    /// Cells written.
    pub cells: u64,
    /// Seconds generating and folding.
    pub fold_seconds: f64,
    /// Seconds writing.
    pub write_seconds: f64,
}

/// Writes the demo history of `config` straight into the cells, up to `now`, once per seed
/// (`None`: this seed's history is already there). Minute and hour cells are written only as
/// far back as they are kept. The cells merge with whatever the outbox has already put there.
pub async fn load_history(
    state: &AppState,
    config: &HistoryConfig,
    now: DateTime<Utc>,
) -> Result<Option<HistoryLoad>, ApiError> {
    let seed = i64::try_from(config.seed).map_err(ApiError::internal)?;
    let loaded: Option<i64> = on_pool!(state.store(), pool => {
        sqlx::query_scalar("SELECT seed FROM insight_history WHERE seed = $1")
            .bind(seed)
            .fetch_optional(pool)
            .await?
    });
    if loaded.is_some() {
        return Ok(None);
    }
    let started = std::time::Instant::now();
    let generating = config.clone();
    let (report, facts, cells) = tokio::task::spawn_blocking(move || {
        let mut aggregator = Aggregator::retaining(now);
        let report = generate(&generating, &mut |fact| {
            if fact.at <= now {
                aggregator.add(&fact);
            }
        });
        let facts = aggregator.facts();
        (report, facts, aggregator.drain())
    })
    .await
    .map_err(ApiError::internal)?;
    let fold_seconds = started.elapsed().as_secs_f64();
    let started = std::time::Instant::now();
    let written = cells.len() as u64;
    let mut tx = state.store().begin_write().await?;
    write_cells(&mut tx, cells, now).await?;
    let first = config.end - chrono::Days::new(u64::from(config.days.saturating_sub(1)));
    on_tx!(&mut tx, conn => {
        sqlx::query(
            "INSERT INTO insight_history (seed, first_day, last_day, scale, facts, people, cells, loaded_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(seed)
        .bind(first.to_string())
        .bind(config.end.to_string())
        .bind(config.scale.to_string())
        .bind(i64::try_from(facts).unwrap_or(i64::MAX))
        .bind(i64::try_from(report.people).unwrap_or(i64::MAX))
        .bind(i64::try_from(written).unwrap_or(i64::MAX))
        .bind(now)
        .execute(&mut *conn)
        .await?;
    });
    tx.commit().await?;
    Ok(Some(HistoryLoad {
        facts,
        people: report.people,
        cells: written,
        fold_seconds,
        write_seconds: started.elapsed().as_secs_f64(),
    }))
}
