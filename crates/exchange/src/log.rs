//! The message log (§8): both sides record every exchange — identifiers, digests, times,
//! status and outcome, never a body or a subject — each record signed by the side that wrote
//! it.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use async_trait::async_trait;
use bianmin_core::SharedClock;
use bianmin_crypto::Sm2VerifyingKey;
use bianmin_store::{Store, StoreError, on_pool, on_tx};
use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::wire::format_timestamp;
use crate::{ClientId, ExchangeError, MemberKeys};

/// Which side of the exchange wrote a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogSide {
    /// The calling subsystem.
    Client,
    /// The serving subsystem.
    Provider,
}

impl LogSide {
    /// `client` or `provider`, as stored.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            LogSide::Client => "client",
            LogSide::Provider => "provider",
        }
    }

    fn parse(text: &str) -> Option<LogSide> {
        match text {
            "client" => Some(LogSide::Client),
            "provider" => Some(LogSide::Provider),
            _ => None,
        }
    }
}

/// One exchange (one attempt, for a client that retries) as logged. Nothing in it is personal
/// data: bodies appear only as SM3 digests of the bytes as sent, which for personal-data
/// services are ciphertexts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    /// The message id (the nil UUID when a provider received none that parses).
    pub message_id: Uuid,
    /// Who wrote the record.
    pub side: LogSide,
    /// The client identifier, `-` if the request carried none that parses.
    pub client: String,
    /// The service identifier, `-` if the request carried none that parses.
    pub service: String,
    /// The consent the request was made under.
    pub consent_id: Option<Uuid>,
    /// Hex SM3 of the request body as sent.
    pub request_sm3: String,
    /// Hex SM3 of the response body as sent, if there was a response.
    pub response_sm3: Option<String>,
    /// When the exchange started (the logging side's clock).
    pub started_at: DateTime<Utc>,
    /// How long it took, in milliseconds of real time.
    pub duration_ms: u64,
    /// The HTTP status, if a response was sent or received.
    pub status: Option<u16>,
    /// `ok` or the error code, e.g. `exchange.consent_invalid`, `exchange.timeout`.
    pub outcome: String,
}

impl LogRecord {
    /// The text a logging side signs (signer id = `logged_by`): the fields, one per line,
    /// after the line `EXCHANGE-V1-LOG` and the logger's identifier; `-` for absent values.
    #[must_use]
    pub fn signing_string(&self, logged_by: &ClientId) -> String {
        let optional = |value: Option<String>| value.unwrap_or_else(|| "-".to_string());
        [
            "EXCHANGE-V1-LOG".to_string(),
            logged_by.to_string(),
            self.message_id.hyphenated().to_string(),
            self.side.as_str().to_string(),
            self.client.clone(),
            self.service.clone(),
            optional(self.consent_id.map(|id| id.hyphenated().to_string())),
            self.request_sm3.clone(),
            optional(self.response_sm3.clone()),
            self.started_at
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            self.duration_ms.to_string(),
            optional(self.status.map(|s| s.to_string())),
            self.outcome.clone(),
        ]
        .join("\n")
    }

    /// Signs the record as `keys`. `started_at` is cut to microseconds first, the precision
    /// both databases keep, so that the signature still verifies on the stored record.
    #[must_use]
    pub fn sign(&self, keys: &MemberKeys) -> SignedLogRecord {
        let mut record = self.clone();
        record.started_at = record.started_at.trunc_subsecs(6);
        let signature = keys.sign.sign(
            &keys.id.to_string(),
            record.signing_string(&keys.id).as_bytes(),
        );
        SignedLogRecord {
            record,
            logged_by: keys.id.clone(),
            signature: signature.to_vec(),
        }
    }
}

/// A record with the identity and signature of the side that logged it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedLogRecord {
    /// The record.
    pub record: LogRecord,
    /// Who logged (and signed) it.
    pub logged_by: ClientId,
    /// SM2 signature over [`LogRecord::signing_string`].
    pub signature: Vec<u8>,
}

impl SignedLogRecord {
    /// Verifies the signature with the logger's registered signing key.
    ///
    /// # Errors
    ///
    /// [`ExchangeError::BadSignature`] if the record or signature was altered.
    pub fn verify(&self, key: &Sm2VerifyingKey) -> Result<(), ExchangeError> {
        key.verify(
            &self.logged_by.to_string(),
            self.record.signing_string(&self.logged_by).as_bytes(),
            &self.signature,
        )
        .map_err(|_| ExchangeError::BadSignature)
    }
}

/// Where a side writes its log.
#[async_trait]
pub trait MessageLog: Send + Sync {
    /// Records one exchange.
    ///
    /// # Errors
    ///
    /// If it cannot be recorded. A client then does not release the response (no data is used
    /// unlogged); a provider answers 503 instead of the data.
    async fn record(&self, record: &LogRecord) -> Result<(), ExchangeError>;
}

/// The most recent records in memory, for tests and simulators. Bounded: beyond its capacity
/// the oldest records are dropped.
#[derive(Debug)]
pub struct MemoryMessageLog {
    capacity: usize,
    records: Mutex<VecDeque<LogRecord>>,
}

impl MemoryMessageLog {
    /// Records kept by [`new`](Self::new).
    pub const DEFAULT_CAPACITY: usize = 10_000;

    /// A log keeping the last [`DEFAULT_CAPACITY`](Self::DEFAULT_CAPACITY) records.
    #[must_use]
    pub fn new() -> MemoryMessageLog {
        MemoryMessageLog::with_capacity(MemoryMessageLog::DEFAULT_CAPACITY)
    }

    /// A log keeping the last `capacity` records.
    #[must_use]
    pub fn with_capacity(capacity: usize) -> MemoryMessageLog {
        MemoryMessageLog {
            capacity,
            records: Mutex::new(VecDeque::new()),
        }
    }

    /// The records held, oldest first.
    #[must_use]
    pub fn records(&self) -> Vec<LogRecord> {
        self.lock().iter().cloned().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<LogRecord>> {
        // A push or pop cannot leave the queue half-updated, so a poisoned lock is usable.
        self.records.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for MemoryMessageLog {
    fn default() -> Self {
        MemoryMessageLog::new()
    }
}

#[async_trait]
impl MessageLog for MemoryMessageLog {
    async fn record(&self, record: &LogRecord) -> Result<(), ExchangeError> {
        let mut records = self.lock();
        while records.len() >= self.capacity.max(1) {
            records.pop_front();
        }
        records.push_back(record.clone());
        Ok(())
    }
}

/// The log in the `exchange_log` table, each row signed with the logging subsystem's key.
///
/// Records are written with group commit: [`record`](MessageLog::record) hands its signed
/// record to one writer task per log and waits until the transaction holding it has
/// committed. The writer takes whatever records are waiting (up to [`MAX_LOG_BATCH`]) into one
/// transaction, so concurrent exchanges share a commit (on SQLite with `synchronous=FULL`, one
/// fsync) instead of each paying one; a record is still never reported written before it is.
#[derive(Clone)]
pub struct StoreMessageLog {
    store: Store,
    keys: Arc<MemberKeys>,
    clock: SharedClock,
    /// The writer task's queue, started on the first record (inside the runtime that writes).
    writer: Arc<OnceLock<mpsc::UnboundedSender<Pending>>>,
}

/// Records one transaction of the writer holds at most.
pub const MAX_LOG_BATCH: usize = 256;

/// A signed record waiting for its commit, and whom to tell how it went.
struct Pending {
    signed: SignedLogRecord,
    written: oneshot::Sender<Result<(), String>>,
}

/// The writer task: each round, every waiting record (up to [`MAX_LOG_BATCH`]) in one
/// transaction, then the outcome to each of their writers. Ends when every sender is gone.
async fn write_batches(store: Store, mut queue: mpsc::UnboundedReceiver<Pending>) {
    let mut batch = Vec::with_capacity(MAX_LOG_BATCH);
    while queue.recv_many(&mut batch, MAX_LOG_BATCH).await > 0 {
        let outcome = insert_batch(&store, &batch)
            .await
            .map_err(|error| error.to_string());
        for pending in batch.drain(..) {
            // A writer that stopped waiting (its call was cancelled) needs no answer.
            let _ = pending.written.send(outcome.clone());
        }
    }
}

async fn insert_batch(store: &Store, batch: &[Pending]) -> Result<(), StoreError> {
    let mut tx = store.begin_write().await?;
    for pending in batch {
        let signed = &pending.signed;
        let record = &signed.record;
        let duration = i64::try_from(record.duration_ms).unwrap_or(i64::MAX);
        on_tx!(&mut tx, conn => {
            sqlx::query(
                "INSERT INTO exchange_log (message_id, side, logged_by, client, service, \
                 consent_id, request_sm3, response_sm3, started_at, duration_ms, status, \
                 outcome, signature) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            )
            .bind(record.message_id)
            .bind(record.side.as_str())
            .bind(signed.logged_by.to_string())
            .bind(&record.client)
            .bind(&record.service)
            .bind(record.consent_id)
            .bind(&record.request_sm3)
            .bind(&record.response_sm3)
            .bind(record.started_at)
            .bind(duration)
            .bind(record.status.map(i32::from))
            .bind(&record.outcome)
            .bind(&signed.signature)
            .execute(conn)
            .await?;
        });
    }
    tx.commit().await
}

impl std::fmt::Debug for StoreMessageLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreMessageLog")
            .field("logged_by", &self.keys.id)
            .finish_non_exhaustive()
    }
}

#[derive(sqlx::FromRow)]
struct LogRow {
    message_id: Uuid,
    side: String,
    logged_by: String,
    client: String,
    service: String,
    consent_id: Option<Uuid>,
    request_sm3: String,
    response_sm3: Option<String>,
    started_at: DateTime<Utc>,
    duration_ms: i64,
    status: Option<i32>,
    outcome: String,
    signature: Vec<u8>,
}

impl LogRow {
    fn into_record(self) -> Result<SignedLogRecord, ExchangeError> {
        let corrupt = |what: &str| ExchangeError::Malformed(format!("exchange_log: bad {what}"));
        Ok(SignedLogRecord {
            record: LogRecord {
                message_id: self.message_id,
                side: LogSide::parse(&self.side).ok_or_else(|| corrupt("side"))?,
                client: self.client,
                service: self.service,
                consent_id: self.consent_id,
                request_sm3: self.request_sm3,
                response_sm3: self.response_sm3,
                started_at: self.started_at,
                duration_ms: u64::try_from(self.duration_ms).map_err(|_| corrupt("duration_ms"))?,
                status: self
                    .status
                    .map(u16::try_from)
                    .transpose()
                    .map_err(|_| corrupt("status"))?,
                outcome: self.outcome,
            },
            logged_by: self.logged_by.parse().map_err(|_| corrupt("logged_by"))?,
            signature: self.signature,
        })
    }
}

impl StoreMessageLog {
    /// A log in `store`, signed with `keys` (the logging subsystem's); `clock` decides what
    /// [`purge_older_than`](Self::purge_older_than) counts as old.
    #[must_use]
    pub fn new(
        store: Store,
        keys: impl Into<Arc<MemberKeys>>,
        clock: SharedClock,
    ) -> StoreMessageLog {
        StoreMessageLog {
            store,
            keys: keys.into(),
            clock,
            writer: Arc::default(),
        }
    }

    /// Deletes the records that started more than `days` days ago (the retention period,
    /// `exchange.log_retention_days`); returns how many.
    ///
    /// # Errors
    ///
    /// [`ExchangeError::Store`] if the database refuses.
    pub async fn purge_older_than(&self, days: u32) -> Result<u64, ExchangeError> {
        let cutoff = self.clock.now() - TimeDelta::days(i64::from(days));
        let deleted = on_pool!(self.store, pool => {
            sqlx::query("DELETE FROM exchange_log WHERE started_at < $1")
                .bind(cutoff)
                .execute(pool)
                .await?
                .rows_affected()
        });
        tracing::info!(deleted, cutoff = %format_timestamp(cutoff), "exchange log purged");
        Ok(deleted)
    }

    /// Every record of `message_id` in this log, in the order written.
    ///
    /// # Errors
    ///
    /// [`ExchangeError::Store`] if the database refuses, [`ExchangeError::Malformed`] for a
    /// row that no longer parses.
    pub async fn records_for(
        &self,
        message_id: Uuid,
    ) -> Result<Vec<SignedLogRecord>, ExchangeError> {
        let rows: Vec<LogRow> = on_pool!(self.store, pool => {
            sqlx::query_as::<_, LogRow>(
                "SELECT message_id, side, logged_by, client, service, consent_id, request_sm3, \
                 response_sm3, started_at, duration_ms, status, outcome, signature \
                 FROM exchange_log WHERE message_id = $1 ORDER BY seq",
            )
            .bind(message_id)
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(LogRow::into_record).collect()
    }
}

#[async_trait]
impl MessageLog for StoreMessageLog {
    async fn record(&self, record: &LogRecord) -> Result<(), ExchangeError> {
        let writer = self.writer.get_or_init(|| {
            let (sender, queue) = mpsc::unbounded_channel();
            tokio::spawn(write_batches(self.store.clone(), queue));
            sender
        });
        let (written, outcome) = oneshot::channel();
        // The writer reports failures as text (one outcome goes to every record of a batch).
        let unwritten = |why: String| {
            ExchangeError::Store(StoreError::Database(sqlx::Error::Io(
                std::io::Error::other(why),
            )))
        };
        let gone = || unwritten("the message log's writer has stopped".to_string());
        writer
            .send(Pending {
                signed: record.sign(&self.keys),
                written,
            })
            .map_err(|_| gone())?;
        outcome
            .await
            .map_err(|_| gone())?
            .map_err(|error| unwritten(format!("writing the message log failed: {error}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> LogRecord {
        LogRecord {
            message_id: Uuid::now_v7(),
            side: LogSide::Client,
            client: "CN-CD/COM/bank/bianmin".into(),
            service: "CN-CD/GOV/hpf-center/accounts/hpf.account/v1".into(),
            consent_id: Some(Uuid::now_v7()),
            request_sm3: "00".repeat(32),
            response_sm3: None,
            started_at: Utc::now(),
            duration_ms: 12,
            status: Some(200),
            outcome: "ok".into(),
        }
    }

    #[test]
    fn signed_records_verify_and_detect_edits() {
        let keys = MemberKeys::generate("CN-CD/COM/bank/bianmin".parse().unwrap());
        let signed = record().sign(&keys);
        signed.verify(&keys.sign.verifying_key()).unwrap();
        let mut edited = signed.clone();
        edited.record.outcome = "exchange.not_found".into();
        assert!(edited.verify(&keys.sign.verifying_key()).is_err());
    }

    #[tokio::test]
    async fn the_memory_log_keeps_the_latest() {
        let log = MemoryMessageLog::with_capacity(2);
        for _ in 0..3 {
            log.record(&record()).await.unwrap();
        }
        assert_eq!(log.records().len(), 2);
    }
}
