//! The cockpit's ingestion: the outbox's domain events folded into `insight_cells`, at least
//! once and de-duplicated, in the transaction that moves the consumer's cursor.
//!
//! One round, in one write transaction: lock the cursor; read up to [`BATCH`] events after it
//! (on PostgreSQL from [`REREAD`] events before it, skipping those already counted, because a
//! sequence number is taken at insert and a slow transaction can commit below the cursor); fold
//! them into cells (`bianmin_insight::rollup`); load the stored cells of every bucket touched,
//! merge, and write them back with multi-row upserts; record what was counted; move the cursor.
//! A crash anywhere leaves the cells and the cursor as they were.

use std::collections::HashMap;

use bianmin_insight::distinct::Distinct;
use bianmin_insight::fact::{Metric, from_event};
use bianmin_insight::rollup::{Aggregator, Cell, CellKey, Cube, Granularity, LATENCY_BUCKETS};
use bianmin_store::{Backend, StoreError, Tx, on_tx};
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
    metric: String,
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

    /// The metric's stable name.
    pub(crate) fn metric(&self) -> &str {
        &self.metric
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
    write_cells(&mut tx, cells).await?;
    if backend == Backend::Postgres {
        record_consumed(&mut tx, &consumed, last).await?;
    }
    let now = state.clock().now();
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

/// A cube's bucket: the unit the stored cells are loaded by.
type BucketKey = (Cube, Granularity, DateTime<Utc>);

/// Merges `cells` into the stored ones of their buckets and writes them back.
async fn write_cells(tx: &mut Tx, cells: Vec<(CellKey, Cell)>) -> Result<(), ApiError> {
    let mut by_bucket: HashMap<BucketKey, Vec<(CellKey, Cell)>> = HashMap::new();
    for (key, cell) in cells {
        by_bucket
            .entry((key.cube, key.granularity, key.bucket))
            .or_default()
            .push((key, cell));
    }
    let mut merged: Vec<(CellKey, Cell)> = Vec::new();
    for ((cube, granularity, bucket), fresh) in by_bucket {
        let stored: Vec<CellRow> = on_tx!(&mut *tx, conn => {
            sqlx::query_as(
                "SELECT bucket, metric, service, department, district, channel, outcome, age_band, \
                 count, timed, latency_sum_ms, latency, people FROM insight_cells \
                 WHERE cube = $1 AND granularity = $2 AND bucket = $3",
            )
            .bind(cube.name())
            .bind(granularity.name())
            .bind(bucket)
            .fetch_all(&mut *conn)
            .await?
        });
        let mut existing: HashMap<CellKey, Cell> = HashMap::with_capacity(stored.len());
        for row in stored {
            let Some(metric) = Metric::parse(row.metric()) else {
                continue;
            };
            let cell = row.cell()?;
            let key = CellKey {
                cube,
                granularity,
                bucket,
                metric,
                service: row.service,
                department: row.department,
                district: row.district,
                channel: row.channel,
                outcome: row.outcome,
                age_band: row.age_band,
            };
            existing.insert(key, cell);
        }
        for (key, cell) in fresh {
            let mut total = existing.remove(&key).unwrap_or_default();
            total.merge(&cell).map_err(ApiError::internal)?;
            merged.push((key, total));
        }
    }
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
                sql.push_str(&format!("${}", index * 15 + column + 1));
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
