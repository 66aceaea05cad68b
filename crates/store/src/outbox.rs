//! The transactional outbox: domain events written in the same transaction as the change they
//! record, read later by consumers such as `insight` in commit-sequence order.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use crate::{Result, Store, Tx};

/// A domain event about to be recorded.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// Globally unique id; consumers de-duplicate on it.
    pub event_id: Uuid,
    /// Dotted event kind, e.g. `auth.login`, `services.hpf.balance_viewed`.
    pub kind: String,
    /// The kind of thing the event is about, e.g. `session`, `loan_application`.
    pub aggregate: String,
    /// Identifier of that thing (never personal data in clear).
    pub aggregate_id: String,
    /// Event details: dimensions and measures only, no personal data in clear.
    pub payload: Value,
    /// When it happened (the caller's clock).
    pub occurred_at: DateTime<Utc>,
}

impl NewEvent {
    /// A new event with a fresh time-ordered id.
    pub fn new(
        kind: impl Into<String>,
        aggregate: impl Into<String>,
        aggregate_id: impl Into<String>,
        payload: Value,
        occurred_at: DateTime<Utc>,
    ) -> NewEvent {
        NewEvent {
            event_id: Uuid::now_v7(),
            kind: kind.into(),
            aggregate: aggregate.into(),
            aggregate_id: aggregate_id.into(),
            payload,
            occurred_at,
        }
    }
}

/// An event as stored, with its position in the outbox.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct StoredEvent {
    /// Position in the outbox, increasing with insertion.
    pub seq: i64,
    /// The event's unique id.
    pub event_id: Uuid,
    /// Dotted event kind.
    pub kind: String,
    /// Aggregate kind.
    pub aggregate: String,
    /// Aggregate identifier.
    pub aggregate_id: String,
    /// Event details.
    pub payload: Json<Value>,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
}

impl Tx {
    /// Appends `event` to the outbox inside this transaction and returns its sequence number.
    /// The event becomes visible to consumers exactly when the transaction commits.
    pub async fn append_event(&mut self, event: &NewEvent) -> Result<i64> {
        let seq: i64 = crate::on_tx!(self, conn => {
            sqlx::query_scalar(
                "INSERT INTO outbox_events (event_id, kind, aggregate, aggregate_id, payload, occurred_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING seq",
            )
            .bind(event.event_id)
            .bind(&event.kind)
            .bind(&event.aggregate)
            .bind(&event.aggregate_id)
            .bind(Json(&event.payload))
            .bind(event.occurred_at)
            .fetch_one(conn)
            .await?
        });
        Ok(seq)
    }

    /// Appends `events` to the outbox inside this transaction, in order, with multi-row
    /// inserts (100 rows a statement): for writers that batch many small events, e.g. the
    /// service-use events of reads.
    pub async fn append_events(&mut self, events: &[NewEvent]) -> Result<()> {
        for chunk in events.chunks(100) {
            match self {
                Tx::Sqlite(conn) => {
                    let mut insert = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
                        "INSERT INTO outbox_events (event_id, kind, aggregate, aggregate_id, payload, occurred_at) ",
                    );
                    insert.push_values(chunk, |mut row, event| {
                        row.push_bind(event.event_id)
                            .push_bind(event.kind.clone())
                            .push_bind(event.aggregate.clone())
                            .push_bind(event.aggregate_id.clone())
                            .push_bind(Json(event.payload.clone()))
                            .push_bind(event.occurred_at);
                    });
                    insert.build().execute(&mut **conn).await?;
                }
                Tx::Postgres(conn) => {
                    let mut insert = sqlx::QueryBuilder::<sqlx::Postgres>::new(
                        "INSERT INTO outbox_events (event_id, kind, aggregate, aggregate_id, payload, occurred_at) ",
                    );
                    insert.push_values(chunk, |mut row, event| {
                        row.push_bind(event.event_id)
                            .push_bind(event.kind.clone())
                            .push_bind(event.aggregate.clone())
                            .push_bind(event.aggregate_id.clone())
                            .push_bind(Json(event.payload.clone()))
                            .push_bind(event.occurred_at);
                    });
                    insert.build().execute(&mut **conn).await?;
                }
            }
        }
        Ok(())
    }
}

impl Store {
    /// Up to `limit` committed events with `seq > after`, oldest first.
    ///
    /// On PostgreSQL a sequence number is taken at insert, not at commit, so a slow transaction
    /// can commit an event whose `seq` is below one already read; a consumer that keeps a cursor
    /// must therefore re-read a window behind it and de-duplicate on `event_id`.
    pub async fn events_after(&self, after: i64, limit: i64) -> Result<Vec<StoredEvent>> {
        let events = crate::on_pool!(self, pool => {
            sqlx::query_as::<_, StoredEvent>(
                "SELECT seq, event_id, kind, aggregate, aggregate_id, payload, occurred_at \
                 FROM outbox_events WHERE seq > $1 ORDER BY seq LIMIT $2",
            )
            .bind(after)
            .bind(limit)
            .fetch_all(pool)
            .await?
        });
        Ok(events)
    }
}
