//! The message log (§8): both sides record every exchange — identifiers, digests, times,
//! status and outcome, never a body or a subject — each record signed by the side that wrote
//! it, one by one or (what [`StoreMessageLog`] writes) under a signed seal over a batch.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use async_trait::async_trait;
use bianmin_core::SharedClock;
use bianmin_crypto::{SM3_OUTPUT_LEN, Sm2VerifyingKey, sm3_digest};
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

    /// The record as stored: `started_at` cut to microseconds, the precision both databases
    /// keep, so that what was signed is what is read back.
    fn as_stored(&self) -> LogRecord {
        let mut record = self.clone();
        record.started_at = record.started_at.trunc_subsecs(6);
        record
    }

    /// SM3 of the [`signing_string`](Self::signing_string): what a [`LogSeal`] lists.
    #[must_use]
    pub fn digest(&self, logged_by: &ClientId) -> [u8; SM3_OUTPUT_LEN] {
        sm3_digest(self.signing_string(logged_by).as_bytes())
    }
}

/// One SM2 signature over a batch of records (§8): the logging side signs the list of the
/// records' digests instead of each record. Editing a record changes its digest, so it no
/// longer matches its entry; removing one leaves an entry without a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSeal {
    /// The seal's identifier.
    pub id: Uuid,
    /// When the batch was sealed (microseconds).
    pub sealed_at: DateTime<Utc>,
    /// The SM3 digests ([`LogRecord::digest`]) of the sealed records, in the order written.
    pub digests: Vec<[u8; SM3_OUTPUT_LEN]>,
    /// SM2 signature of the logging side over [`signing_string`](Self::signing_string).
    pub signature: Vec<u8>,
}

impl LogSeal {
    /// Seals `records` as `keys`: one signature for all of them.
    #[must_use]
    pub fn seal(records: &[LogRecord], keys: &MemberKeys, now: DateTime<Utc>) -> LogSeal {
        let mut seal = LogSeal {
            id: Uuid::now_v7(),
            sealed_at: now.trunc_subsecs(6),
            digests: records.iter().map(|r| r.digest(&keys.id)).collect(),
            signature: Vec::new(),
        };
        seal.signature = keys
            .sign
            .sign(
                &keys.id.to_string(),
                seal.signing_string(&keys.id).as_bytes(),
            )
            .to_vec();
        seal
    }

    /// The text the logging side signs: `EXCHANGE-V1-LOG-SEAL`, the logger's identifier, the
    /// seal id, the time, the number of records and then each record's digest in lower-case
    /// hex, one per line.
    #[must_use]
    pub fn signing_string(&self, logged_by: &ClientId) -> String {
        let mut text = format!(
            "EXCHANGE-V1-LOG-SEAL\n{logged_by}\n{}\n{}\n{}",
            self.id.hyphenated(),
            self.sealed_at
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            self.digests.len()
        );
        for digest in &self.digests {
            text.push('\n');
            text.push_str(&hex::encode(digest));
        }
        text
    }

    fn packed_digests(&self) -> Vec<u8> {
        self.digests.concat()
    }

    fn unpack_digests(packed: &[u8]) -> Option<Vec<[u8; SM3_OUTPUT_LEN]>> {
        if !packed.len().is_multiple_of(SM3_OUTPUT_LEN) {
            return None;
        }
        packed
            .chunks_exact(SM3_OUTPUT_LEN)
            .map(|chunk| chunk.try_into().ok())
            .collect()
    }
}

/// What proves a stored record was written by its logger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogProof {
    /// A signature over this record alone (records written before seals, migration 0014).
    Signature(Vec<u8>),
    /// Entry `index` of a seal.
    Sealed {
        /// The seal.
        seal: LogSeal,
        /// Which of its digests is this record's.
        index: usize,
    },
}

/// A record with the identity of the side that logged it and the proof that it did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedLogRecord {
    /// The record.
    pub record: LogRecord,
    /// Who logged (and signed or sealed) it.
    pub logged_by: ClientId,
    /// The logger's signature over it, or its place in a signed seal.
    pub proof: LogProof,
}

impl SignedLogRecord {
    /// Verifies the record with the logger's registered signing key: its own signature, or
    /// its digest at its place in a seal whose signature verifies.
    ///
    /// # Errors
    ///
    /// [`ExchangeError::BadSignature`] if the record, the seal or a signature was altered.
    pub fn verify(&self, key: &Sm2VerifyingKey) -> Result<(), ExchangeError> {
        let signer = self.logged_by.to_string();
        match &self.proof {
            LogProof::Signature(signature) => key.verify(
                &signer,
                self.record.signing_string(&self.logged_by).as_bytes(),
                signature,
            ),
            LogProof::Sealed { seal, index } => {
                if seal.digests.get(*index) != Some(&self.record.digest(&self.logged_by)) {
                    return Err(ExchangeError::BadSignature);
                }
                key.verify(
                    &signer,
                    seal.signing_string(&self.logged_by).as_bytes(),
                    &seal.signature,
                )
            }
        }
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

/// The log in the `exchange_log` table, sealed with the logging subsystem's key.
///
/// Records are written with group commit: [`record`](MessageLog::record) hands its record to
/// one writer task per log and waits until the transaction holding it has committed. The
/// writer takes whatever records are waiting (up to [`MAX_LOG_BATCH`]), signs one [`LogSeal`]
/// over them and writes seal and records in one transaction. Concurrent exchanges so share a
/// commit (on SQLite with `synchronous=FULL`, one fsync) and a signature instead of each
/// paying one; a record is still never reported written before it is.
#[derive(Clone)]
pub struct StoreMessageLog {
    store: Store,
    keys: Arc<MemberKeys>,
    clock: SharedClock,
    /// The writer task's queue, started on the first record (inside the runtime that writes).
    writer: Arc<OnceLock<mpsc::UnboundedSender<Pending>>>,
}

/// Records one transaction (and one seal) of the writer holds at most.
pub const MAX_LOG_BATCH: usize = 256;

/// A record waiting for its commit, and whom to tell how it went.
struct Pending {
    record: LogRecord,
    written: oneshot::Sender<Result<(), String>>,
}

/// The writer task: each round, every waiting record (up to [`MAX_LOG_BATCH`]) sealed and
/// written in one transaction, then the outcome to each of their writers. Ends when every
/// sender is gone.
async fn write_batches(
    store: Store,
    keys: Arc<MemberKeys>,
    clock: SharedClock,
    mut queue: mpsc::UnboundedReceiver<Pending>,
) {
    let mut batch = Vec::with_capacity(MAX_LOG_BATCH);
    while queue.recv_many(&mut batch, MAX_LOG_BATCH).await > 0 {
        let records: Vec<LogRecord> = batch.iter().map(|p| p.record.clone()).collect();
        let seal = LogSeal::seal(&records, &keys, clock.now());
        let outcome = insert_batch(&store, &keys.id, &seal, &records)
            .await
            .map_err(|error| error.to_string());
        for pending in batch.drain(..) {
            // A writer that stopped waiting (its call was cancelled) needs no answer.
            let _ = pending.written.send(outcome.clone());
        }
    }
}

async fn insert_batch(
    store: &Store,
    logged_by: &ClientId,
    seal: &LogSeal,
    records: &[LogRecord],
) -> Result<(), StoreError> {
    let logged_by = logged_by.to_string();
    let mut tx = store.begin_write().await?;
    on_tx!(&mut tx, conn => {
        sqlx::query(
            "INSERT INTO exchange_log_seals (id, logged_by, sealed_at, digests, signature) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(seal.id)
        .bind(&logged_by)
        .bind(seal.sealed_at)
        .bind(seal.packed_digests())
        .bind(&seal.signature)
        .execute(&mut *conn)
        .await?;
    });
    // One multi-row statement (14 parameters a row: 3,584 for a full batch, within both
    // databases' limits), not a round trip per record while holding the write lock.
    on_tx!(&mut tx, conn => {
        let mut insert = sqlx::QueryBuilder::new(
            "INSERT INTO exchange_log (message_id, side, logged_by, client, service, \
             consent_id, request_sm3, response_sm3, started_at, duration_ms, status, \
             outcome, seal_id, seal_index) ",
        );
        insert.push_values(records.iter().enumerate(), |mut row, (index, record)| {
            row.push_bind(record.message_id)
                .push_bind(record.side.as_str())
                .push_bind(&logged_by)
                .push_bind(&record.client)
                .push_bind(&record.service)
                .push_bind(record.consent_id)
                .push_bind(&record.request_sm3)
                .push_bind(&record.response_sm3)
                .push_bind(record.started_at)
                .push_bind(i64::try_from(record.duration_ms).unwrap_or(i64::MAX))
                .push_bind(record.status.map(i32::from))
                .push_bind(&record.outcome)
                .push_bind(seal.id)
                // At most MAX_LOG_BATCH records per seal.
                .push_bind(i32::try_from(index).unwrap_or(i32::MAX));
        });
        insert.build().execute(conn).await?;
    });
    tx.commit().await
}

/// Records read per query by [`StoreMessageLog::verify_all`].
const VERIFY_PAGE: i64 = 1_000;

/// Problems of each kind [`LogVerification`] lists (all are counted).
pub const MAX_LISTED_PROBLEMS: usize = 100;

/// What [`StoreMessageLog::verify_all`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogVerification {
    /// Records read.
    pub records_checked: u64,
    /// Seals read.
    pub seals_checked: u64,
    /// Records whose proof does not verify, or that no longer parse: how many.
    pub bad_records: u64,
    /// The first of them, as (`seq`, message id).
    pub bad_records_listed: Vec<(i64, Uuid)>,
    /// Seals listing records that are no longer there: how many.
    pub incomplete_seals: u64,
    /// The first of them, as (seal id, records listed, records present).
    pub incomplete_seals_listed: Vec<(Uuid, usize, usize)>,
}

impl LogVerification {
    /// Whether every record verified and every seal still has all its records.
    #[must_use]
    pub fn intact(&self) -> bool {
        self.bad_records == 0 && self.incomplete_seals == 0
    }

    fn bad_record(&mut self, seq: i64, message_id: Uuid) {
        self.bad_records += 1;
        if self.bad_records_listed.len() < MAX_LISTED_PROBLEMS {
            self.bad_records_listed.push((seq, message_id));
        }
    }
}

#[derive(sqlx::FromRow)]
struct NumberedLogRow {
    seq: i64,
    #[sqlx(flatten)]
    row: LogRow,
}

#[derive(sqlx::FromRow)]
struct SealRow {
    id: Uuid,
    sealed_at: DateTime<Utc>,
    digests: Vec<u8>,
}

/// What [`StoreMessageLog::verify_all`] knows of a seal met through its records.
struct SealSeen {
    signature_verifies: bool,
    present: usize,
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
    signature: Option<Vec<u8>>,
    seal_index: Option<i32>,
    seal_id: Option<Uuid>,
    sealed_at: Option<DateTime<Utc>>,
    seal_digests: Option<Vec<u8>>,
    seal_signature: Option<Vec<u8>>,
}

impl LogRow {
    fn into_record(self) -> Result<SignedLogRecord, ExchangeError> {
        let corrupt = |what: &str| ExchangeError::Malformed(format!("exchange_log: bad {what}"));
        let proof = match (self.signature, self.seal_index, self.seal_id) {
            (Some(signature), None, None) => LogProof::Signature(signature),
            (None, Some(index), Some(id)) => LogProof::Sealed {
                seal: LogSeal {
                    id,
                    sealed_at: self.sealed_at.ok_or_else(|| corrupt("seal"))?,
                    digests: self
                        .seal_digests
                        .as_deref()
                        .and_then(LogSeal::unpack_digests)
                        .ok_or_else(|| corrupt("seal digests"))?,
                    signature: self.seal_signature.ok_or_else(|| corrupt("seal"))?,
                },
                index: usize::try_from(index).map_err(|_| corrupt("seal_index"))?,
            },
            _ => return Err(corrupt("proof")),
        };
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
            proof,
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
            let deleted = sqlx::query("DELETE FROM exchange_log WHERE started_at < $1")
                .bind(cutoff)
                .execute(pool)
                .await?
                .rows_affected();
            // A seal goes with the last of its records (a batch may straddle the cutoff).
            sqlx::query(
                "DELETE FROM exchange_log_seals WHERE sealed_at < $1 AND NOT EXISTS \
                 (SELECT 1 FROM exchange_log l WHERE l.seal_id = exchange_log_seals.id)",
            )
            .bind(cutoff)
            .execute(pool)
            .await?;
            deleted
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
                "SELECT l.message_id, l.side, l.logged_by, l.client, l.service, l.consent_id, \
                 l.request_sm3, l.response_sm3, l.started_at, l.duration_ms, l.status, \
                 l.outcome, l.signature, l.seal_index, s.id AS seal_id, s.sealed_at, \
                 s.digests AS seal_digests, s.signature AS seal_signature \
                 FROM exchange_log l LEFT JOIN exchange_log_seals s ON s.id = l.seal_id \
                 WHERE l.message_id = $1 ORDER BY l.seq",
            )
            .bind(message_id)
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(LogRow::into_record).collect()
    }

    /// Verifies every record this log's subsystem wrote, with `key` (its registered signing
    /// key): each record against its own signature or its seal, each seal's signature once,
    /// and that each seal's records are all still there, so that an edited record and a
    /// deleted one are both found. Seals made before `retained_since` may have lost records
    /// to [`purge_older_than`](Self::purge_older_than) and are not counted incomplete.
    ///
    /// Reads the log in pages of records; memory grows with the number of seals, not records.
    ///
    /// # Errors
    ///
    /// [`ExchangeError::Store`] if the database refuses.
    pub async fn verify_all(
        &self,
        key: &Sm2VerifyingKey,
        retained_since: Option<DateTime<Utc>>,
    ) -> Result<LogVerification, ExchangeError> {
        let logged_by = self.keys.id.to_string();
        let mut report = LogVerification::default();
        let mut seals: HashMap<Uuid, SealSeen> = HashMap::new();
        let mut after = i64::MIN;
        loop {
            let page: Vec<NumberedLogRow> = on_pool!(self.store, pool => {
                sqlx::query_as::<_, NumberedLogRow>(
                    "SELECT l.seq, l.message_id, l.side, l.logged_by, l.client, l.service, \
                     l.consent_id, l.request_sm3, l.response_sm3, l.started_at, l.duration_ms, \
                     l.status, l.outcome, l.signature, l.seal_index, s.id AS seal_id, \
                     s.sealed_at, s.digests AS seal_digests, s.signature AS seal_signature \
                     FROM exchange_log l LEFT JOIN exchange_log_seals s ON s.id = l.seal_id \
                     WHERE l.logged_by = $1 AND l.seq > $2 ORDER BY l.seq LIMIT $3",
                )
                .bind(&logged_by)
                .bind(after)
                .bind(VERIFY_PAGE)
                .fetch_all(pool)
                .await?
            });
            let Some(last) = page.last() else { break };
            after = last.seq;
            for NumberedLogRow { seq, row } in page {
                report.records_checked += 1;
                let message_id = row.message_id;
                let verified = match row.into_record() {
                    Err(_) => false,
                    Ok(signed) => match &signed.proof {
                        LogProof::Signature(_) => signed.verify(key).is_ok(),
                        LogProof::Sealed { seal, index } => {
                            let seen = seals.entry(seal.id).or_insert_with(|| SealSeen {
                                signature_verifies: key
                                    .verify(
                                        &signed.logged_by.to_string(),
                                        seal.signing_string(&signed.logged_by).as_bytes(),
                                        &seal.signature,
                                    )
                                    .is_ok(),
                                present: 0,
                            });
                            seen.present += 1;
                            seen.signature_verifies
                                && seal.digests.get(*index)
                                    == Some(&signed.record.digest(&signed.logged_by))
                        }
                    },
                };
                if !verified {
                    report.bad_record(seq, message_id);
                }
            }
        }
        let all_seals: Vec<SealRow> = on_pool!(self.store, pool => {
            sqlx::query_as::<_, SealRow>(
                "SELECT id, sealed_at, digests FROM exchange_log_seals WHERE logged_by = $1 \
                 ORDER BY id",
            )
            .bind(&logged_by)
            .fetch_all(pool)
            .await?
        });
        for seal in all_seals {
            report.seals_checked += 1;
            let listed = seal.digests.len() / SM3_OUTPUT_LEN;
            let present = seals.get(&seal.id).map_or(0, |seen| seen.present);
            let purged = retained_since.is_some_and(|since| seal.sealed_at < since);
            if present < listed && !purged {
                report.incomplete_seals += 1;
                if report.incomplete_seals_listed.len() < MAX_LISTED_PROBLEMS {
                    report
                        .incomplete_seals_listed
                        .push((seal.id, listed, present));
                }
            }
        }
        Ok(report)
    }
}

#[async_trait]
impl MessageLog for StoreMessageLog {
    async fn record(&self, record: &LogRecord) -> Result<(), ExchangeError> {
        let writer = self.writer.get_or_init(|| {
            let (sender, queue) = mpsc::unbounded_channel();
            tokio::spawn(write_batches(
                self.store.clone(),
                Arc::clone(&self.keys),
                Arc::clone(&self.clock),
                queue,
            ));
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
                record: record.as_stored(),
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
    fn sealed_records_verify_and_detect_edits() {
        let keys = MemberKeys::generate("CN-CD/COM/bank/bianmin".parse().unwrap());
        let records: Vec<LogRecord> = (0..3).map(|_| record().as_stored()).collect();
        let seal = LogSeal::seal(&records, &keys, Utc::now());
        let key = keys.sign.verifying_key();
        let sealed = |index: usize| SignedLogRecord {
            record: records[index].clone(),
            logged_by: keys.id.clone(),
            proof: LogProof::Sealed {
                seal: seal.clone(),
                index,
            },
        };
        for index in 0..3 {
            sealed(index).verify(&key).unwrap();
        }
        // An edited record no longer matches its entry.
        let mut edited = sealed(1);
        edited.record.outcome = "exchange.not_found".into();
        assert!(edited.verify(&key).is_err());
        // Nor does a record claim another's place.
        let mut moved = sealed(1);
        moved.proof = LogProof::Sealed {
            seal: seal.clone(),
            index: 2,
        };
        assert!(moved.verify(&key).is_err());
        // A seal with an entry removed (to hide a record) no longer verifies.
        let mut shortened = sealed(0);
        if let LogProof::Sealed { seal, .. } = &mut shortened.proof {
            seal.digests.pop();
        }
        assert!(shortened.verify(&key).is_err());
        // Another logger's key does not verify it.
        let other = MemberKeys::generate("CN-CD/GOV/hpf-center/accounts".parse().unwrap());
        assert!(sealed(0).verify(&other.sign.verifying_key()).is_err());
    }

    #[test]
    fn records_signed_one_by_one_still_verify() {
        let keys = MemberKeys::generate("CN-CD/COM/bank/bianmin".parse().unwrap());
        let record = record().as_stored();
        let signature = keys.sign.sign(
            &keys.id.to_string(),
            record.signing_string(&keys.id).as_bytes(),
        );
        let mut signed = SignedLogRecord {
            record,
            logged_by: keys.id.clone(),
            proof: LogProof::Signature(signature.to_vec()),
        };
        signed.verify(&keys.sign.verifying_key()).unwrap();
        signed.record.duration_ms += 1;
        assert!(signed.verify(&keys.sign.verifying_key()).is_err());
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
