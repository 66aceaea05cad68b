//! 交通罚没 traffic fines: vehicles, driving licence, violations, and paying fines from the
//! citizen's bank account — exactly once — with an electronic receipt and a notification to
//! the 交管局 that is retried until acknowledged.
//!
//! # Paying exactly once
//!
//! A payment request names the fines (处罚决定书编号), the total the citizen was shown, and an
//! idempotency key chosen by the client (one per tap on 缴款). Three guards make retries,
//! double taps and concurrent requests pay once:
//!
//! 1. **The key.** Before anything is fetched or moved, the request claims its key
//!    (`payment_claims`, unique on person and key, with SM3 of the sorted fine numbers and the
//!    total). Twins with the same key wait for the owner and answer with its outcome: the
//!    payment (`replayed`) or the same refusal (a refusal on the facts — unknown or already
//!    paid fine, changed amount, insufficient funds — is the key's answer for good; other
//!    failures release the key for a retry). The same key for another request is refused
//!    (`idempotency.key_reused`). `fine_payments` is unique on (person, key) as well.
//! 2. **The fine.** `fine_payment_items` is unique on (person, fine): a fine paid under one
//!    key cannot be paid again under another (`traffic.already_paid`).
//! 3. **The balance.** The debit runs on the locked account row in the same transaction.
//!
//! The amounts are the agency's, fetched through the gateway under the citizen's
//! `SERVICE_TRAFFIC` consent just before paying; if they differ from what the citizen was
//! shown (a late fee accrued), nothing is paid (`traffic.amount_changed`).
//!
//! # Notifying the 交管局
//!
//! The payment commits with `notify_state = 'pending'`; [`TrafficService::notify_due`] sends
//! each fine's `traffic.fine.notify` (under the payment's consent, as the same payment id, so
//! the agency de-duplicates) and marks it acknowledged; failures are retried with exponential
//! backoff (1 s doubling to 10 min), never charging again. The server runs it in the
//! background and wakes it after every payment.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use bianmin_consent::Purpose;
use bianmin_core::{Money, SharedClock};
use bianmin_crypto::sm3_digest;
use bianmin_exchange::MemberKeys;
use bianmin_gateway::{FetchError, Gateway};
use bianmin_govsim::records::traffic::{
    FineNotification, FineStatus, TrafficLicence, TrafficVehicles, TrafficViolations,
    ViolationRecord,
};
use bianmin_store::{NewEvent, Store, StoreError};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use crate::accounts::{AccountError, Accounts};
use crate::events::ServiceUse;

/// Most fines one payment may cover.
pub const MAX_FINES_PER_PAYMENT: usize = 20;
/// Longest idempotency key.
const MAX_KEY_LEN: usize = 64;
/// How long a request waits for a twin with the same key to finish.
const CLAIM_WAIT: std::time::Duration = std::time::Duration::from_secs(15);
/// How often it looks.
const CLAIM_POLL: std::time::Duration = std::time::Duration::from_millis(25);
/// A claim without an outcome this old was abandoned (its request died) and may be taken over.
const CLAIM_STALE_SECS: i64 = 60;
/// Longest wait between two notification attempts.
const MAX_NOTIFY_BACKOFF_SECS: i64 = 600;

/// Why a traffic request failed. Messages name rules, never personal data.
#[derive(Debug, thiserror::Error)]
pub enum TrafficError {
    /// The request is malformed (the text says which rule it breaks).
    #[error("invalid request: {0}")]
    Invalid(&'static str),
    /// A fine number the agency does not list for this person.
    #[error("unknown fine")]
    UnknownFine {
        /// The number asked for (a 20-digit 处罚决定书编号, not personal data).
        violation_id: String,
    },
    /// A fine already paid (here or elsewhere).
    #[error("fine already paid")]
    AlreadyPaid {
        /// The fine's number.
        violation_id: String,
    },
    /// The total is not what the citizen was shown: nothing was paid.
    #[error("amount changed")]
    AmountChanged {
        /// What is due now.
        due: Money,
    },
    /// The idempotency key was already used for another request.
    #[error("idempotency key reused for another request")]
    KeyReused,
    /// A request with the same key is still being processed.
    #[error("a request with this idempotency key is in progress")]
    InProgress,
    /// The account cannot pay.
    #[error(transparent)]
    Account(#[from] AccountError),
    /// No payment with this id for this person.
    #[error("payment not found")]
    PaymentNotFound,
    /// Fetching from the agency failed or was refused (consent, exchange).
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for TrafficError {
    fn from(e: sqlx::Error) -> Self {
        TrafficError::Store(e.into())
    }
}

impl TrafficError {
    /// Stable machine-readable code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            TrafficError::Invalid(_) => "traffic.invalid_request",
            TrafficError::UnknownFine { .. } => "traffic.unknown_fine",
            TrafficError::AlreadyPaid { .. } => "traffic.already_paid",
            TrafficError::AmountChanged { .. } => "traffic.amount_changed",
            TrafficError::KeyReused => "idempotency.key_reused",
            TrafficError::InProgress => "idempotency.in_progress",
            TrafficError::Account(AccountError::NoAccount) => "payment.no_account",
            TrafficError::Account(AccountError::InsufficientFunds { .. }) => {
                "payment.insufficient_funds"
            }
            TrafficError::Account(_) => "payment.account_unavailable",
            TrafficError::PaymentNotFound => "traffic.payment_not_found",
            TrafficError::Fetch(e) => e.code(),
            TrafficError::Store(_) => "database",
        }
    }
}

/// A request to pay fines.
#[derive(Debug, Clone)]
pub struct PayFines {
    /// The client's idempotency key: 1–64 of `A-Z a-z 0-9 - _`.
    pub idempotency_key: String,
    /// The fines' 20-digit numbers, 1 to 20 of them, each once.
    pub violation_ids: Vec<String>,
    /// The total the citizen was shown and agreed to pay.
    pub expected_total: Money,
}

/// One fine of a payment.
#[derive(Debug, Clone, Serialize)]
pub struct PaidFine {
    /// 处罚决定书编号.
    pub violation_id: String,
    /// The fine.
    pub fine: Money,
    /// 加处罚款 (late fee) paid with it.
    pub late_fee: Money,
    /// When the 交管局 acknowledged it, if it has.
    pub notified_at: Option<DateTime<Utc>>,
}

/// A payment and its electronic receipt.
#[derive(Debug, Clone, Serialize)]
pub struct FinePayment {
    /// Payment id.
    pub id: Uuid,
    /// Receipt number, e.g. `JT20261129-0193A5C2D4E6`.
    pub receipt_no: String,
    /// Total paid.
    pub amount: Money,
    /// When.
    pub paid_at: DateTime<Utc>,
    /// The account it was paid from (尾号).
    pub account_suffix: String,
    /// The fines paid.
    pub fines: Vec<PaidFine>,
    /// `pending` until the 交管局 acknowledged every fine, then `acknowledged`.
    pub notify_state: String,
    /// The platform's SM2 signature over [`receipt_text`](Self::receipt_text), hex.
    pub signature: String,
    /// Who signed (the platform's client id).
    pub signer: String,
    /// True when this answer is the replay of an earlier request with the same key.
    pub replayed: bool,
}

impl FinePayment {
    /// The canonical text the receipt signature covers.
    #[must_use]
    pub fn receipt_text(&self) -> String {
        receipt_text(
            &self.receipt_no,
            self.id,
            self.paid_at,
            self.amount,
            self.fines.iter().map(|f| f.violation_id.as_str()),
            &self.account_suffix,
        )
    }
}

fn receipt_text<'a>(
    receipt_no: &str,
    id: Uuid,
    paid_at: DateTime<Utc>,
    amount: Money,
    fines: impl Iterator<Item = &'a str>,
    suffix: &str,
) -> String {
    let fines: Vec<&str> = fines.collect();
    format!(
        "BIANMIN-FINE-RECEIPT-1\n{receipt_no}\n{id}\n{}\n{amount}\n{}\n{suffix}\n",
        paid_at.to_rfc3339_opts(SecondsFormat::Micros, true),
        fines.join(",")
    )
}

/// What one run of [`TrafficService::notify_due`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NotifyReport {
    /// Fines acknowledged by the 交管局.
    pub acknowledged: usize,
    /// Payments whose attempt failed and were rescheduled.
    pub rescheduled: usize,
}

/// The traffic service; cheap to clone.
#[derive(Clone)]
pub struct TrafficService {
    store: Store,
    gateway: Gateway,
    accounts: Accounts,
    platform: Arc<MemberKeys>,
    clock: SharedClock,
}

impl std::fmt::Debug for TrafficService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrafficService").finish_non_exhaustive()
    }
}

#[derive(sqlx::FromRow)]
struct PaymentRow {
    id: Uuid,
    request_sm3: String,
    amount_fen: i64,
    receipt_no: String,
    receipt_signature: Vec<u8>,
    paid_at: DateTime<Utc>,
    notify_state: String,
    account_suffix: String,
}

#[derive(sqlx::FromRow)]
struct ItemRow {
    violation_id: String,
    fine_fen: i64,
    late_fee_fen: i64,
    notified_at: Option<DateTime<Utc>>,
}

/// Where a key stands.
enum Claim {
    /// This request does the work.
    Owned,
    /// Paid: the payment.
    Paid(Uuid),
    /// Refused on the facts: the same refusal again.
    Refused(TrafficError),
    /// Another request with the key is at work.
    Busy,
    /// Another request claimed it between our read and our write: read again.
    Raced,
}

#[derive(sqlx::FromRow)]
struct ClaimRow {
    request_sm3: String,
    claimed_at: DateTime<Utc>,
    payment_id: Option<Uuid>,
    refusal_code: Option<String>,
    refusal_detail: Option<String>,
}

/// The refusal recorded for a key, as the error it was.
fn refusal(code: &str, detail: &str) -> TrafficError {
    let money = || Money::parse(detail).unwrap_or(Money::ZERO);
    match code {
        "traffic.unknown_fine" => TrafficError::UnknownFine {
            violation_id: detail.to_owned(),
        },
        "traffic.already_paid" => TrafficError::AlreadyPaid {
            violation_id: detail.to_owned(),
        },
        "traffic.amount_changed" => TrafficError::AmountChanged { due: money() },
        "payment.insufficient_funds" => {
            TrafficError::Account(AccountError::InsufficientFunds { available: money() })
        }
        _ => TrafficError::Account(AccountError::NoAccount),
    }
}

#[derive(sqlx::FromRow)]
struct DueRow {
    id: Uuid,
    person_id: Uuid,
    consent_id: Uuid,
    notify_attempts: i64,
    paid_at: DateTime<Utc>,
}

impl TrafficService {
    /// A service over `store`, fetching through `gateway`, paying from `accounts`, signing
    /// receipts as `platform`.
    #[must_use]
    pub fn new(
        store: Store,
        gateway: Gateway,
        accounts: Accounts,
        platform: Arc<MemberKeys>,
        clock: SharedClock,
    ) -> TrafficService {
        TrafficService {
            store,
            gateway,
            accounts,
            platform,
            clock,
        }
    }

    /// The person's vehicles (and licence summary), from the 交管局.
    ///
    /// # Errors
    ///
    /// [`TrafficError::Fetch`].
    pub async fn vehicles(&self, person_id: Uuid) -> Result<TrafficVehicles, TrafficError> {
        Ok(self
            .gateway
            .fetch(
                person_id,
                Purpose::ServiceTraffic,
                "traffic.vehicles",
                json!({}),
            )
            .await?
            .value)
    }

    /// The person's driving licence, from the 交管局.
    ///
    /// # Errors
    ///
    /// [`TrafficError::Fetch`] (`exchange.not_found` without a licence).
    pub async fn licence(&self, person_id: Uuid) -> Result<TrafficLicence, TrafficError> {
        Ok(self
            .gateway
            .fetch(
                person_id,
                Purpose::ServiceTraffic,
                "traffic.licence",
                json!({}),
            )
            .await?
            .value)
    }

    /// The person's violations and fines, from the 交管局, with fines paid here but not yet
    /// acknowledged by the agency shown as paid (so nobody pays twice while it catches up).
    ///
    /// # Errors
    ///
    /// [`TrafficError::Fetch`], [`TrafficError::Store`].
    pub async fn violations(&self, person_id: Uuid) -> Result<TrafficViolations, TrafficError> {
        let fetched = self
            .gateway
            .fetch::<TrafficViolations>(
                person_id,
                Purpose::ServiceTraffic,
                "traffic.violations",
                json!({}),
            )
            .await?;
        let mut answer = fetched.value;
        let paid_here = self.paid_here(person_id).await?;
        for violation in &mut answer.violations {
            if violation.status == FineStatus::Unpaid
                && let Some(paid_on) = paid_here.get(&violation.id)
            {
                violation.status = FineStatus::Paid;
                violation.paid_on = Some(*paid_on);
                violation.amount_due = Money::ZERO;
            }
        }
        answer.unpaid_total =
            Money::from_fen(answer.violations.iter().map(|v| v.amount_due.fen()).sum());
        Ok(answer)
    }

    async fn paid_here(
        &self,
        person_id: Uuid,
    ) -> Result<std::collections::HashMap<String, chrono::NaiveDate>, TrafficError> {
        let rows: Vec<(String, DateTime<Utc>)> = bianmin_store::on_pool!(&self.store, pool => {
            sqlx::query_as(
                "SELECT i.violation_id, p.paid_at FROM fine_payment_items i \
                 JOIN fine_payments p ON p.id = i.payment_id WHERE i.person_id = $1",
            )
            .bind(person_id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|(id, at)| {
                (
                    id,
                    at.with_timezone(&bianmin_core::clock::CHINA_STANDARD_TIME)
                        .date_naive(),
                )
            })
            .collect())
    }

    /// Pays the fines of `request` from the person's account, exactly once per key and per
    /// fine (see the module documentation), and returns the payment with its signed receipt.
    /// `usage` is the service-use event, written in the payment's transaction.
    ///
    /// # Errors
    ///
    /// Every [`TrafficError`]; on any error nothing was paid.
    pub async fn pay(
        &self,
        person_id: Uuid,
        request: &PayFines,
        usage: ServiceUse,
    ) -> Result<FinePayment, TrafficError> {
        let started = Instant::now();
        let ids = check_request(request)?;
        let key = request.idempotency_key.as_str();
        let request_sm3 = request_digest(&ids, request.expected_total);
        loop {
            match self.claim(person_id, key, &request_sm3).await? {
                Claim::Owned => break,
                Claim::Paid(id) => {
                    let mut payment = self.payment(person_id, id).await?;
                    payment.replayed = true;
                    return Ok(payment);
                }
                Claim::Refused(error) => return Err(error),
                Claim::Busy if started.elapsed() < CLAIM_WAIT => {
                    tokio::time::sleep(CLAIM_POLL).await;
                }
                Claim::Busy => return Err(TrafficError::InProgress),
                Claim::Raced => {}
            }
        }
        let result = self
            .pay_claimed(person_id, request, &ids, &request_sm3, usage, started)
            .await;
        if let Err(error) = &result {
            // A refusal on the facts is the key's answer from now on; anything else (consent,
            // agency, database) releases the key so that a retry can do the work.
            self.settle_refused(person_id, key, error).await?;
        }
        result
    }

    async fn pay_claimed(
        &self,
        person_id: Uuid,
        request: &PayFines,
        ids: &[String],
        request_sm3: &str,
        mut usage: ServiceUse,
        started: Instant,
    ) -> Result<FinePayment, TrafficError> {
        let request_sm3 = request_sm3.to_owned();

        // What is due, from the agency, under the citizen's consent.
        let fetched = self
            .gateway
            .fetch::<TrafficViolations>(
                person_id,
                Purpose::ServiceTraffic,
                "traffic.violations",
                json!({}),
            )
            .await?;
        let paid_here = self.paid_here(person_id).await?;
        let mut items: Vec<&ViolationRecord> = Vec::with_capacity(ids.len());
        for id in ids {
            let record = fetched
                .value
                .violations
                .iter()
                .find(|v| &v.id == id)
                .ok_or_else(|| TrafficError::UnknownFine {
                    violation_id: id.clone(),
                })?;
            if record.status == FineStatus::Paid || paid_here.contains_key(id) {
                return Err(TrafficError::AlreadyPaid {
                    violation_id: id.clone(),
                });
            }
            items.push(record);
        }
        let due = Money::try_sum(items.iter().map(|v| v.amount_due))
            .map_err(|_| TrafficError::Invalid("total out of range"))?;
        if due != request.expected_total {
            return Err(TrafficError::AmountChanged { due });
        }

        let now = self.clock.now();
        let id = Uuid::now_v7();
        let receipt_no = format!(
            "JT{}-{}",
            now.with_timezone(&bianmin_core::clock::CHINA_STANDARD_TIME)
                .format("%Y%m%d"),
            &id.simple().to_string()[20..].to_uppercase()
        );
        let mut tx = self.store.begin_write().await?;
        // The account row first: it is locked for the rest of the transaction, so one
        // person's payments queue here, before any other row is touched (taking it later
        // deadlocks against the foreign-key locks the payment rows take on it).
        let (account, _) = self.accounts.debit_in(&mut tx, person_id, due, now).await?;
        let text = receipt_text(
            &receipt_no,
            id,
            now,
            due,
            items.iter().map(|v| v.id.as_str()),
            &account.suffix,
        );
        let signature = self
            .platform
            .sign
            .sign(&self.platform.id.to_string(), text.as_bytes());
        // The key: a concurrent twin that committed first wins; this one answers with its
        // payment.
        let inserted: Option<Uuid> = bianmin_store::on_tx!(&mut tx, conn => {
            sqlx::query_scalar(
                "INSERT INTO fine_payments (id, person_id, idempotency_key, request_sm3, \
                 consent_id, account_id, amount_fen, receipt_no, receipt_signature, paid_at, \
                 notify_state, next_notify_at) \
                 VALUES ($1, $2, $3, $4, $5, $10, $6, $7, $8, $9, 'pending', $9) \
                 ON CONFLICT (person_id, idempotency_key) DO NOTHING RETURNING id",
            )
            .bind(id)
            .bind(person_id)
            .bind(&request.idempotency_key)
            .bind(&request_sm3)
            .bind(fetched.consent_id)
            .bind(due.fen())
            .bind(&receipt_no)
            .bind(signature.as_slice())
            .bind(now)
            .bind(account.id)
            .fetch_optional(conn)
            .await?
        });
        if inserted.is_none() {
            drop(tx);
            return match self
                .existing(person_id, &request.idempotency_key, &request_sm3)
                .await?
            {
                Some(existing) => Ok(existing),
                // The conflicting row is gone again: cannot happen (payments are never
                // deleted); answer as a busy key rather than pay.
                None => Err(TrafficError::InProgress),
            };
        }
        for item in &items {
            let added = bianmin_store::on_tx!(&mut tx, conn => {
                sqlx::query(
                    "INSERT INTO fine_payment_items (payment_id, person_id, violation_id, \
                     fine_fen, late_fee_fen) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (person_id, violation_id) DO NOTHING",
                )
                .bind(id)
                .bind(person_id)
                .bind(&item.id)
                .bind(item.fine.fen())
                .bind(item.late_fee.fen())
                .execute(conn)
                .await?
                .rows_affected()
            });
            if added != 1 {
                return Err(TrafficError::AlreadyPaid {
                    violation_id: item.id.clone(),
                });
            }
        }
        bianmin_store::on_tx!(&mut tx, conn => {
            sqlx::query(
                "UPDATE payment_claims SET payment_id = $1 \
                 WHERE person_id = $2 AND idempotency_key = $3",
            )
            .bind(id)
            .bind(person_id)
            .bind(&request.idempotency_key)
            .execute(conn)
            .await?
            .rows_affected()
        });
        tx.append_event(&NewEvent {
            event_id: Uuid::now_v7(),
            kind: "traffic.fines_paid".to_owned(),
            aggregate: "fine_payment".to_owned(),
            aggregate_id: id.to_string(),
            payload: json!({
                "fines": items.len(),
                "amount": due.to_string(),
                "department": "traffic",
            }),
            occurred_at: now,
        })
        .await?;
        usage.outcome = "ok".to_owned();
        usage.latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        usage.append(&mut tx, now).await?;
        tx.commit().await?;
        self.payment(person_id, id).await
    }

    /// Claims `key` for this request, or says who has it. Waiting twins only read; the write
    /// transaction is taken to insert a claim or to take over an abandoned one.
    async fn claim(
        &self,
        person_id: Uuid,
        key: &str,
        request_sm3: &str,
    ) -> Result<Claim, TrafficError> {
        let now = self.clock.now();
        let row: Option<ClaimRow> = bianmin_store::on_pool!(&self.store, pool => {
            sqlx::query_as(
                "SELECT request_sm3, claimed_at, payment_id, refusal_code, refusal_detail \
                 FROM payment_claims WHERE person_id = $1 AND idempotency_key = $2",
            )
            .bind(person_id)
            .bind(key)
            .fetch_optional(pool)
            .await?
        });
        let Some(row) = row else {
            let mut tx = self.store.begin_write().await?;
            let inserted = bianmin_store::on_tx!(&mut tx, conn => {
                sqlx::query(
                    "INSERT INTO payment_claims (person_id, idempotency_key, request_sm3, \
                     claimed_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (person_id, idempotency_key) DO NOTHING",
                )
                .bind(person_id)
                .bind(key)
                .bind(request_sm3)
                .bind(now)
                .execute(conn)
                .await?
                .rows_affected()
            });
            tx.commit().await?;
            // Lost the race to a twin: look again (without waiting).
            return Ok(if inserted == 1 {
                Claim::Owned
            } else {
                Claim::Raced
            });
        };
        if row.request_sm3 != request_sm3 {
            return Err(TrafficError::KeyReused);
        }
        if let Some(id) = row.payment_id {
            return Ok(Claim::Paid(id));
        }
        if let Some(code) = &row.refusal_code {
            return Ok(Claim::Refused(refusal(
                code,
                row.refusal_detail.as_deref().unwrap_or_default(),
            )));
        }
        if row.claimed_at + Duration::seconds(CLAIM_STALE_SECS) < now {
            // Its owner died mid-way (had it paid, the claim would name the payment): take it
            // over, unless a twin just did. A slow owner that is still alive cannot pay twice:
            // the payment row is unique per key as well.
            let mut tx = self.store.begin_write().await?;
            let taken = bianmin_store::on_tx!(&mut tx, conn => {
                sqlx::query(
                    "UPDATE payment_claims SET claimed_at = $1 WHERE person_id = $2 \
                     AND idempotency_key = $3 AND claimed_at = $4 AND payment_id IS NULL \
                     AND refusal_code IS NULL",
                )
                .bind(now)
                .bind(person_id)
                .bind(key)
                .bind(row.claimed_at)
                .execute(conn)
                .await?
                .rows_affected()
            });
            tx.commit().await?;
            return Ok(if taken == 1 {
                Claim::Owned
            } else {
                Claim::Raced
            });
        }
        Ok(Claim::Busy)
    }

    /// After a failed attempt: records a refusal on the facts as the key's answer, or
    /// releases the key.
    async fn settle_refused(
        &self,
        person_id: Uuid,
        key: &str,
        error: &TrafficError,
    ) -> Result<(), TrafficError> {
        let detail = match error {
            TrafficError::UnknownFine { violation_id }
            | TrafficError::AlreadyPaid { violation_id } => Some(violation_id.clone()),
            TrafficError::AmountChanged { due } => Some(due.to_string()),
            TrafficError::Account(AccountError::InsufficientFunds { available }) => {
                Some(available.to_string())
            }
            TrafficError::Account(AccountError::NoAccount) => Some(String::new()),
            _ => None,
        };
        let mut tx = self.store.begin_write().await?;
        match detail {
            Some(detail) => bianmin_store::on_tx!(&mut tx, conn => {
                sqlx::query(
                    "UPDATE payment_claims SET refusal_code = $1, refusal_detail = $2 \
                     WHERE person_id = $3 AND idempotency_key = $4 AND payment_id IS NULL",
                )
                .bind(error.code())
                .bind(detail)
                .bind(person_id)
                .bind(key)
                .execute(conn)
                .await?
                .rows_affected()
            }),
            None => bianmin_store::on_tx!(&mut tx, conn => {
                sqlx::query(
                    "DELETE FROM payment_claims WHERE person_id = $1 AND idempotency_key = $2 \
                     AND payment_id IS NULL",
                )
                .bind(person_id)
                .bind(key)
                .execute(conn)
                .await?
                .rows_affected()
            }),
        };
        tx.commit().await?;
        Ok(())
    }

    /// The earlier payment made with this key, if its request was the same.
    async fn existing(
        &self,
        person_id: Uuid,
        key: &str,
        request_sm3: &str,
    ) -> Result<Option<FinePayment>, TrafficError> {
        let row = self.payment_row(person_id, None, Some(key)).await?;
        match row {
            None => Ok(None),
            Some(row) if row.request_sm3 != request_sm3 => Err(TrafficError::KeyReused),
            Some(row) => {
                let mut payment = self.assemble(row).await?;
                payment.replayed = true;
                Ok(Some(payment))
            }
        }
    }

    async fn payment_row(
        &self,
        person_id: Uuid,
        id: Option<Uuid>,
        key: Option<&str>,
    ) -> Result<Option<PaymentRow>, TrafficError> {
        Ok(bianmin_store::on_pool!(&self.store, pool => {
            sqlx::query_as::<_, PaymentRow>(
                "SELECT p.id, p.request_sm3, p.amount_fen, p.receipt_no, p.receipt_signature, \
                 p.paid_at, p.notify_state, a.account_suffix FROM fine_payments p \
                 JOIN bank_accounts a ON a.id = p.account_id \
                 WHERE p.person_id = $1 AND (p.id = $2 OR p.idempotency_key = $3)",
            )
            .bind(person_id)
            .bind(id)
            .bind(key)
            .fetch_optional(pool)
            .await?
        }))
    }

    async fn assemble(&self, row: PaymentRow) -> Result<FinePayment, TrafficError> {
        let items = bianmin_store::on_pool!(&self.store, pool => {
            sqlx::query_as::<_, ItemRow>(
                "SELECT violation_id, fine_fen, late_fee_fen, notified_at \
                 FROM fine_payment_items WHERE payment_id = $1 ORDER BY violation_id",
            )
            .bind(row.id)
            .fetch_all(pool)
            .await?
        });
        Ok(FinePayment {
            id: row.id,
            receipt_no: row.receipt_no,
            amount: Money::from_fen(row.amount_fen),
            paid_at: row.paid_at,
            account_suffix: row.account_suffix,
            fines: items
                .into_iter()
                .map(|i| PaidFine {
                    violation_id: i.violation_id,
                    fine: Money::from_fen(i.fine_fen),
                    late_fee: Money::from_fen(i.late_fee_fen),
                    notified_at: i.notified_at,
                })
                .collect(),
            notify_state: row.notify_state,
            signature: hex::encode(&row.receipt_signature),
            signer: self.platform.id.to_string(),
            replayed: false,
        })
    }

    /// Payment `id` of `person_id`, with its receipt.
    ///
    /// # Errors
    ///
    /// [`TrafficError::PaymentNotFound`] for an unknown id or another person's.
    pub async fn payment(&self, person_id: Uuid, id: Uuid) -> Result<FinePayment, TrafficError> {
        let row = self
            .payment_row(person_id, Some(id), None)
            .await?
            .ok_or(TrafficError::PaymentNotFound)?;
        self.assemble(row).await
    }

    /// The person's payments, newest first.
    ///
    /// # Errors
    ///
    /// [`TrafficError::Store`].
    pub async fn payments(&self, person_id: Uuid) -> Result<Vec<FinePayment>, TrafficError> {
        let ids: Vec<Uuid> = bianmin_store::on_pool!(&self.store, pool => {
            sqlx::query_scalar(
                "SELECT id FROM fine_payments WHERE person_id = $1 ORDER BY paid_at DESC, id DESC",
            )
            .bind(person_id)
            .fetch_all(pool)
            .await?
        });
        let mut payments = Vec::with_capacity(ids.len());
        for id in ids {
            payments.push(self.payment(person_id, id).await?);
        }
        Ok(payments)
    }

    /// Reports due payments to the 交管局 (at most `limit` payments): each fine not yet
    /// acknowledged is sent as `traffic.fine.notify` under the payment's consent, as the same
    /// payment id every time (the agency answers `duplicate` for a repeat). A payment whose
    /// fines are all acknowledged is marked so; one that failed is retried later with
    /// exponential backoff. Never moves money.
    ///
    /// # Errors
    ///
    /// [`TrafficError::Store`]; agency failures are recorded on the payment, not returned.
    pub async fn notify_due(&self, limit: i64) -> Result<NotifyReport, TrafficError> {
        let now = self.clock.now();
        let due = bianmin_store::on_pool!(&self.store, pool => {
            sqlx::query_as::<_, DueRow>(
                "SELECT id, person_id, consent_id, notify_attempts, paid_at FROM fine_payments \
                 WHERE notify_state = 'pending' AND next_notify_at <= $1 \
                 ORDER BY next_notify_at LIMIT $2",
            )
            .bind(now)
            .bind(limit)
            .fetch_all(pool)
            .await?
        });
        let mut report = NotifyReport::default();
        for payment in due {
            match self.notify_one(&payment).await {
                Ok(acknowledged) => report.acknowledged += acknowledged,
                Err(error) => {
                    report.rescheduled += 1;
                    let attempts = payment.notify_attempts + 1;
                    let backoff = 1_i64
                        .checked_shl(u32::try_from(attempts.min(20)).unwrap_or(20))
                        .unwrap_or(MAX_NOTIFY_BACKOFF_SECS)
                        .min(MAX_NOTIFY_BACKOFF_SECS);
                    tracing::warn!(payment = %payment.id, attempts, code = error.code(), "fine notification failed; will retry");
                    let mut tx = self.store.begin_write().await?;
                    bianmin_store::on_tx!(&mut tx, conn => {
                        sqlx::query(
                            "UPDATE fine_payments SET notify_attempts = $1, next_notify_at = $2, \
                             last_notify_error = $3 WHERE id = $4 AND notify_state = 'pending'",
                        )
                        .bind(attempts)
                        .bind(now + Duration::seconds(backoff))
                        .bind(error.code())
                        .bind(payment.id)
                        .execute(conn)
                        .await?
                        .rows_affected()
                    });
                    tx.commit().await?;
                }
            }
        }
        Ok(report)
    }

    /// Sends every unacknowledged fine of `payment`; returns how many were acknowledged.
    async fn notify_one(&self, payment: &DueRow) -> Result<usize, TrafficError> {
        let items = bianmin_store::on_pool!(&self.store, pool => {
            sqlx::query_as::<_, ItemRow>(
                "SELECT violation_id, fine_fen, late_fee_fen, notified_at \
                 FROM fine_payment_items WHERE payment_id = $1 AND notified_at IS NULL \
                 ORDER BY violation_id",
            )
            .bind(payment.id)
            .fetch_all(pool)
            .await?
        });
        let mut acknowledged = 0;
        for item in items {
            let amount = Money::from_fen(item.fine_fen + item.late_fee_fen);
            let answer = self
                .gateway
                .fetch_under::<FineNotification>(
                    payment.consent_id,
                    payment.person_id,
                    "traffic.fine.notify",
                    json!({
                        "violation_id": item.violation_id,
                        "payment_id": payment.id.to_string(),
                        "amount": amount,
                        "paid_at": payment.paid_at
                            .with_timezone(&bianmin_core::clock::CHINA_STANDARD_TIME)
                            .to_rfc3339_opts(SecondsFormat::Secs, false),
                    }),
                )
                .await?;
            let now = self.clock.now();
            let mut tx = self.store.begin_write().await?;
            bianmin_store::on_tx!(&mut tx, conn => {
                sqlx::query(
                    "UPDATE fine_payment_items SET notified_at = $1 \
                     WHERE payment_id = $2 AND violation_id = $3 AND notified_at IS NULL",
                )
                .bind(now)
                .bind(payment.id)
                .bind(&answer.value.violation_id)
                .execute(conn)
                .await?
                .rows_affected()
            });
            tx.commit().await?;
            acknowledged += 1;
        }
        let now = self.clock.now();
        let mut tx = self.store.begin_write().await?;
        bianmin_store::on_tx!(&mut tx, conn => {
            sqlx::query(
                "UPDATE fine_payments SET notify_state = 'acknowledged', acknowledged_at = $1, \
                 last_notify_error = NULL WHERE id = $2 AND NOT EXISTS (SELECT 1 FROM \
                 fine_payment_items i WHERE i.payment_id = $2 AND i.notified_at IS NULL)",
            )
            .bind(now)
            .bind(payment.id)
            .execute(conn)
            .await?
            .rows_affected()
        });
        tx.commit().await?;
        Ok(acknowledged)
    }
}

/// Checks a request's shape; returns the fine numbers sorted.
fn check_request(request: &PayFines) -> Result<Vec<String>, TrafficError> {
    let key = &request.idempotency_key;
    if key.is_empty()
        || key.len() > MAX_KEY_LEN
        || !key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(TrafficError::Invalid(
            "Idempotency-Key 须为 1 至 64 位字母、数字、- 或 _",
        ));
    }
    if request.violation_ids.is_empty() || request.violation_ids.len() > MAX_FINES_PER_PAYMENT {
        return Err(TrafficError::Invalid("一次缴款须包含 1 至 20 笔罚款"));
    }
    let mut ids = BTreeSet::new();
    for id in &request.violation_ids {
        if id.len() != 20 || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(TrafficError::Invalid("处罚决定书编号须为 20 位数字"));
        }
        if !ids.insert(id.clone()) {
            return Err(TrafficError::Invalid("同一笔罚款不能重复列出"));
        }
    }
    if !request.expected_total.is_positive() {
        return Err(TrafficError::Invalid("缴款金额须大于零"));
    }
    Ok(ids.into_iter().collect())
}

fn request_digest(ids: &[String], total: Money) -> String {
    hex::encode(sm3_digest(
        format!("{}|{}", ids.join(","), total.fen()).as_bytes(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(key: &str, ids: &[&str], total: i64) -> PayFines {
        PayFines {
            idempotency_key: key.into(),
            violation_ids: ids.iter().map(|s| (*s).to_owned()).collect(),
            expected_total: Money::from_fen(total),
        }
    }

    #[test]
    fn malformed_requests_are_refused_before_anything_is_read() {
        let id = "51010000000000000001";
        assert!(check_request(&request("k-1", &[id], 100)).is_ok());
        for bad in [
            request("", &[id], 100),
            request("has space", &[id], 100),
            request(&"k".repeat(65), &[id], 100),
            request("k", &[], 100),
            request("k", &["123"], 100),
            request("k", &["5101000000000000000x"], 100),
            request("k", &[id, id], 100),
            request("k", &[id], 0),
            request("k", &[id], -5),
        ] {
            assert!(
                matches!(check_request(&bad), Err(TrafficError::Invalid(_))),
                "{bad:?}"
            );
        }
        let many: Vec<String> = (0..21).map(|i| format!("{i:020}")).collect();
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        assert!(check_request(&request("k", &refs, 100)).is_err());
    }

    #[test]
    fn the_digest_ignores_order_but_not_content() {
        let a = check_request(&request(
            "k",
            &["00000000000000000002", "00000000000000000001"],
            5,
        ))
        .unwrap();
        let b = check_request(&request(
            "k",
            &["00000000000000000001", "00000000000000000002"],
            5,
        ))
        .unwrap();
        assert_eq!(
            request_digest(&a, Money::from_fen(5)),
            request_digest(&b, Money::from_fen(5))
        );
        assert_ne!(
            request_digest(&a, Money::from_fen(5)),
            request_digest(&a, Money::from_fen(6))
        );
    }
}
