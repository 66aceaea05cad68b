//! The line, in the H5 pages and for the bank's payment system: its view, draws that pay an
//! order of the core enterprise directly (受托支付), repayments from the distributor's
//! settlement account or swept from a share of each sales receipt, the owner's sweep share, and
//! the nightly accrual — on the same ledger as the 闪电贷 line (daily interest), in its own
//! tables.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bianmin_core::{Money, Rate};
use bianmin_crypto::sm3_digest;
use bianmin_govsim::records::enterprise::{OpenOrders, OrderPayment};
use bianmin_lending::interest::{DailyRateQuote, DayCount};
use bianmin_lending::ledger::{CreditLine, Journal, LedgerError, LineStatus};
use bianmin_lending::supply::{TradeFeatures, sweep_amount};
use bianmin_store::{AuditEntry, NewEvent, StoreError, Tx, on_pool};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::enterprise::line_status_text;
use super::{EnterpriseRow, call_enterprise, conflict, enterprise, owner, parse_uscc};
use crate::app::AppState;
use crate::auth::{Principal, Role};
use crate::http::json::ApiJson;
use crate::http::no_store;
use crate::http::path::ApiPath;
use crate::http::problem::{ApiError, Problem};
use crate::lending::line::{LedgerTables, idempotency_key, insert_journal_into, ledger_error};

/// The supply-chain lines' ledger.
pub(crate) const SUPPLY_LEDGER: LedgerTables = LedgerTables {
    journals: "scf_journals",
    postings: "scf_postings",
};
/// Table of lines (sealed columns are bound to it).
pub(crate) const LINES: &str = "scf_lines";

// ---------------------------------------------------------------------------------------------
// The line
// ---------------------------------------------------------------------------------------------

/// A movement on the line.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MovementView {
    /// Journal id.
    pub id: Uuid,
    /// `draw` or `repayment`.
    pub kind: String,
    /// Value date.
    pub date: NaiveDate,
    /// Amount.
    pub amount: String,
    /// For a draw: the order paid and the payee.
    pub order_no: Option<String>,
    /// Payee of a draw (the core enterprise).
    pub payee: Option<String>,
    /// For a draw: `pending` (A集团 not yet confirmed) or `confirmed`.
    pub payment_state: Option<String>,
    /// A集团's receipt number.
    pub receipt_no: Option<String>,
    /// For a repayment: `manual` or `sweep` (from a sales receipt).
    pub source: Option<String>,
    /// Paid to interest.
    pub to_interest: Option<String>,
    /// Paid to principal.
    pub to_principal: Option<String>,
    /// Booked.
    pub at: DateTime<Utc>,
}

/// A sales receipt into the settlement account.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReceiptView {
    /// The payment system's reference.
    pub reference: String,
    /// Amount received.
    pub amount: String,
    /// Swept to repay.
    pub swept: String,
    /// Received.
    pub at: DateTime<Utc>,
}

/// The supply-chain line as its owner sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SupplyLineView {
    /// Line id.
    pub id: Uuid,
    /// 统一社会信用代码.
    pub uscc: String,
    /// The distributor.
    pub distributor: String,
    /// The core enterprise (the only payee of draws).
    pub enterprise: String,
    /// Limit now.
    pub limit: String,
    /// Available to draw (0 while frozen).
    pub available: String,
    /// Principal outstanding.
    pub principal: String,
    /// Interest accrued and not yet paid, to today.
    pub interest_due: String,
    /// To pay everything off today.
    pub payoff_amount: String,
    /// APR, e.g. `5.48%`.
    pub apr_text: String,
    /// Daily rate, e.g. `万分之1.5`.
    pub daily_rate_text: String,
    /// `active`, `lowered`, `frozen`, `expired` or `closed`.
    pub status: String,
    /// Chinese status label.
    pub status_text: String,
    /// Why lowered or frozen.
    pub status_reason: Option<String>,
    /// Early warnings acted on, newest first.
    pub warnings: Vec<super::monitor::WarningView>,
    /// Share of sales receipts swept to repay.
    pub sweep_percent: i64,
    /// Settlement account balance.
    pub account_balance: String,
    /// Opened.
    pub opened_on: NaiveDate,
    /// Expires.
    pub expires_on: NaiveDate,
    /// Movements, newest first.
    pub movements: Vec<MovementView>,
    /// Sales receipts, newest first.
    pub receipts: Vec<ReceiptView>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct LineRow {
    pub id: Uuid,
    pub distributor_id: Uuid,
    pub status: String,
    pub status_reason: Option<String>,
    pub sweep_percent: i64,
    pub baseline: String,
    pub state_json: String,
    pub version: i64,
    pub uscc: String,
    pub name: String,
    pub enterprise_id: Uuid,
}

impl LineRow {
    pub(crate) fn line(&self) -> Result<CreditLine, ApiError> {
        serde_json::from_str(&self.state_json).map_err(ApiError::internal)
    }

    pub(crate) fn baseline(&self) -> Result<TradeFeatures, ApiError> {
        serde_json::from_str(&self.baseline).map_err(ApiError::internal)
    }
}

const LINE_SELECT: &str = "SELECT l.id, l.distributor_id, l.status, \
     l.status_reason, CAST(l.sweep_percent AS BIGINT) AS sweep_percent, l.baseline, \
     l.state_json, l.version, d.uscc, d.name, d.enterprise_id \
     FROM scf_lines l JOIN scf_distributors d ON d.id = l.distributor_id";

async fn load(state: &AppState, id: Uuid) -> Result<LineRow, ApiError> {
    let sql = format!("{LINE_SELECT} WHERE l.id = $1");
    on_pool!(state.store(), pool => {
        sqlx::query_as::<_, LineRow>(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(id)
            .fetch_optional(pool)
            .await
            .map_err(StoreError::from)?
    })
    .ok_or_else(|| ApiError::not_found("未找到该额度。"))
}

/// The owner's line of distributor `uscc`.
pub(crate) async fn my_line(
    state: &AppState,
    person: Uuid,
    uscc: &str,
) -> Result<LineRow, ApiError> {
    let sql = format!("{LINE_SELECT} WHERE d.uscc = $1 AND l.owner_person_id = $2");
    on_pool!(state.store(), pool => {
        sqlx::query_as::<_, LineRow>(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(uscc)
            .bind(person)
            .fetch_optional(pool)
            .await
            .map_err(StoreError::from)?
    })
    .ok_or_else(|| ApiError::not_found("该经销商尚未开通供应链融资额度。"))
}

/// The signed-in owner's line of the distributor with credit code `uscc` (as written in the
/// path: its check character is checked first).
async fn owners_line(
    state: &AppState,
    principal: &Principal,
    uscc: &str,
) -> Result<LineRow, ApiError> {
    let person = owner(principal)?;
    let uscc = parse_uscc(uscc)?;
    my_line(state, person, uscc.as_str()).await
}

/// The line row `id`, locked for the rest of `tx` (PostgreSQL; SQLite's write transaction
/// already excludes other writers).
pub(crate) async fn lock(tx: &mut Tx, id: Uuid) -> Result<LineRow, ApiError> {
    let sqlite = format!("{LINE_SELECT} WHERE l.id = $1");
    let postgres = format!("{LINE_SELECT} WHERE l.id = $1 FOR UPDATE OF l");
    let row = match tx {
        Tx::Sqlite(conn) => sqlx::query_as::<_, LineRow>(sqlx::AssertSqlSafe(sqlite.as_str()))
            .bind(id)
            .fetch_optional(&mut **conn)
            .await
            .map_err(StoreError::from)?,
        Tx::Postgres(conn) => sqlx::query_as::<_, LineRow>(sqlx::AssertSqlSafe(postgres.as_str()))
            .bind(id)
            .fetch_optional(&mut **conn)
            .await
            .map_err(StoreError::from)?,
    };
    row.ok_or_else(|| ApiError::not_found("未找到该额度。"))
}

/// The status column for `line`: the ledger's, except that a line lowered by monitoring stays
/// `lowered` while the ledger calls it active.
pub(crate) fn status_of(line: &CreditLine, previous: &str) -> Result<String, ApiError> {
    let position = line.position().map_err(ledger_error)?;
    Ok(match position.status {
        LineStatus::Active if previous == "lowered" => "lowered".to_owned(),
        LineStatus::Active => "active".to_owned(),
        LineStatus::Frozen => "frozen".to_owned(),
        LineStatus::Expired => "expired".to_owned(),
        LineStatus::Closed => "closed".to_owned(),
    })
}

/// Saves the line's new state (optimistically: the version must not have moved), with its
/// status, reason and principal.
pub(crate) async fn save(
    tx: &mut Tx,
    row: &LineRow,
    line: &CreditLine,
    status: &str,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let json = serde_json::to_string(line).map_err(ApiError::internal)?;
    let position = line.position().map_err(ledger_error)?;
    let updated = bianmin_store::on_tx!(tx, conn => {
        sqlx::query(
            "UPDATE scf_lines SET state_json = $1, status = $2, status_reason = $3, \
             limit_fen = $4, principal_fen = $5, accrued_through = $6, version = version + 1, \
             updated_at = $7 WHERE id = $8 AND version = $9",
        )
        .bind(&json)
        .bind(status)
        .bind(reason)
        .bind(position.limit.fen())
        .bind(position.principal.fen())
        .bind(line.accrued_until())
        .bind(now)
        .bind(row.id)
        .bind(row.version)
        .execute(conn)
        .await
        .map_err(StoreError::from)?
        .rows_affected()
    });
    if updated != 1 {
        return Err(conflict(
            "loan.busy",
            "额度正在处理另一笔交易，请稍后重试。",
        ));
    }
    Ok(())
}

/// Writes `journals`; returns the id given to `main` (if among them).
pub(crate) async fn write_journals(
    tx: &mut Tx,
    line: Uuid,
    journals: &[Journal],
    main: Option<(&Journal, serde_json::Value)>,
    now: DateTime<Utc>,
) -> Result<Option<Uuid>, ApiError> {
    let mut main_id = None;
    for journal in journals {
        let id = Uuid::now_v7();
        let detail = match &main {
            Some((m, detail)) if *m == journal && main_id.is_none() => {
                main_id = Some(id);
                Some(detail.to_string())
            }
            _ => None,
        };
        insert_journal_into(tx, SUPPLY_LEDGER, line, id, journal, detail, now).await?;
    }
    Ok(main_id)
}

/// The line `id` as its owner sees it today.
pub(crate) async fn line_view(state: &AppState, id: Uuid) -> Result<SupplyLineView, ApiError> {
    let row = load(state, id).await?;
    let enterprise = enterprise(state, row.enterprise_id).await?;
    let mut line = row.line()?;
    let today = state.clock().today_china();
    if line.accrued_until() < today {
        line.accrue_through(today).map_err(ledger_error)?;
    }
    let position = line.position().map_err(ledger_error)?;
    let payoff = line.payoff_amount(today).map_err(ledger_error)?;
    let terms = line.terms();
    let daily = Rate::from_decimal(terms.day_count.daily_rate(terms.annual_rate))
        .map_err(ApiError::internal)?;
    let quote = DailyRateQuote::from_daily(daily, DayCount::Act365).map_err(ApiError::internal)?;
    let interest_due = Money::from_yuan(position.unposted_interest, bianmin_core::Rounding::HalfUp)
        .ok()
        .and_then(|u| position.interest_receivable.checked_add(u).ok())
        .unwrap_or(position.interest_receivable);
    let balance: Option<i64> = on_pool!(state.store(), pool => {
        sqlx::query_scalar("SELECT balance_fen FROM scf_accounts WHERE distributor_id = $1")
            .bind(row.distributor_id)
            .fetch_optional(pool)
            .await
            .map_err(StoreError::from)?
    });
    let status = status_of(&line, &row.status)?;
    Ok(SupplyLineView {
        id: row.id,
        uscc: row.uscc.clone(),
        distributor: row.name.clone(),
        enterprise: enterprise.name.clone(),
        limit: position.limit.to_string(),
        // Nothing may be drawn from a frozen (or expired, closed) line, whatever is unused.
        available: if position.status == LineStatus::Active {
            position.available
        } else {
            Money::ZERO
        }
        .to_string(),
        principal: position.principal.to_string(),
        interest_due: interest_due.to_string(),
        payoff_amount: payoff.to_string(),
        apr_text: quote.annual.to_percent_string(2),
        daily_rate_text: quote.per_ten_thousand(),
        status_text: line_status_text(&status).to_owned(),
        status,
        status_reason: row.status_reason.clone(),
        warnings: super::monitor::for_line(state, row.id).await?,
        sweep_percent: row.sweep_percent,
        account_balance: Money::from_fen(balance.unwrap_or(0)).to_string(),
        opened_on: line.opened_on(),
        expires_on: line.expires_on(),
        movements: movements(state, row.id, &enterprise.name).await?,
        receipts: receipts(state, row.distributor_id).await?,
    })
}

async fn movements(
    state: &AppState,
    line: Uuid,
    payee: &str,
) -> Result<Vec<MovementView>, ApiError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        id: Uuid,
        kind: String,
        value_date: NaiveDate,
        amount_fen: i64,
        detail: Option<String>,
        created_at: DateTime<Utc>,
        order_no: Option<String>,
        payment_state: Option<String>,
        receipt_no: Option<String>,
    }
    let rows = on_pool!(state.store(), pool => {
        sqlx::query_as::<_, Row>(
            "SELECT j.id, j.kind, j.value_date, j.amount_fen, j.detail, j.created_at, \
             p.order_no, p.state AS payment_state, p.receipt_no FROM scf_journals j \
             LEFT JOIN scf_payments p ON p.journal_id = j.id \
             WHERE j.line_id = $1 AND j.kind IN ('draw', 'repayment') \
             ORDER BY j.created_at DESC, j.id DESC LIMIT 50",
        )
        .bind(line)
        .fetch_all(pool)
        .await
        .map_err(StoreError::from)?
    });
    Ok(rows
        .into_iter()
        .map(|r| {
            let detail: serde_json::Value = r
                .detail
                .as_deref()
                .and_then(|d| serde_json::from_str(d).ok())
                .unwrap_or_default();
            let text = |key: &str| detail.get(key).and_then(|v| v.as_str()).map(str::to_owned);
            MovementView {
                id: r.id,
                payee: r.order_no.as_ref().map(|_| payee.to_owned()),
                order_no: r.order_no,
                payment_state: r.payment_state,
                receipt_no: r.receipt_no,
                source: text("source"),
                to_interest: text("to_interest"),
                to_principal: text("to_principal"),
                kind: r.kind,
                date: r.value_date,
                amount: Money::from_fen(r.amount_fen).to_string(),
                at: r.created_at,
            }
        })
        .collect())
}

async fn receipts(state: &AppState, distributor: Uuid) -> Result<Vec<ReceiptView>, ApiError> {
    let rows: Vec<(String, i64, i64, DateTime<Utc>)> = on_pool!(state.store(), pool => {
        sqlx::query_as(
            "SELECT reference, amount_fen, swept_fen, received_at FROM scf_receipts \
             WHERE distributor_id = $1 ORDER BY received_at DESC, id DESC LIMIT 20",
        )
        .bind(distributor)
        .fetch_all(pool)
        .await
        .map_err(StoreError::from)?
    });
    Ok(rows
        .into_iter()
        .map(|(reference, amount, swept, at)| ReceiptView {
            reference,
            amount: Money::from_fen(amount).to_string(),
            swept: Money::from_fen(swept).to_string(),
            at,
        })
        .collect())
}

/// `GET /api/v1/me/supply/{uscc}/line`.
#[utoipa::path(get, path = "/api/v1/me/supply/{uscc}/line", tag = "supply",
    params(("uscc" = String, Path, description = "统一社会信用代码")),
    responses((status = 200, body = SupplyLineView), (status = 404, body = Problem)))]
pub async fn get_line(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(uscc): ApiPath<String>,
) -> Result<Response, ApiError> {
    let row = owners_line(&state, &principal, &uscc).await?;
    Ok(no_store(line_view(&state, row.id).await?))
}

/// `GET /api/v1/me/supply/{uscc}/orders`: the distributor's unpaid orders at the core
/// enterprise, which a draw may pay.
#[utoipa::path(get, path = "/api/v1/me/supply/{uscc}/orders", tag = "supply",
    params(("uscc" = String, Path, description = "统一社会信用代码")),
    responses((status = 200, body = Object), (status = 404, body = Problem)))]
pub async fn orders(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(uscc): ApiPath<String>,
) -> Result<Response, ApiError> {
    let row = owners_line(&state, &principal, &uscc).await?;
    let enterprise = enterprise(&state, row.enterprise_id).await?;
    let open: OpenOrders = call_enterprise(
        &state,
        &enterprise,
        "enterprise.orders.open",
        json!({ "uscc": row.uscc }),
    )
    .await?;
    Ok(no_store(open))
}

// ---------------------------------------------------------------------------------------------
// Draws (受托支付) and repayments
// ---------------------------------------------------------------------------------------------

/// Body of a draw: the order to pay.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Draw {
    /// A集团's order number.
    pub order_no: String,
    /// Amount to pay (yuan, two decimals); the order's outstanding amount when left out.
    #[serde(default)]
    pub amount: Option<String>,
}

/// Body of a repayment.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Repay {
    /// Amount (yuan, two decimals).
    #[serde(default)]
    pub amount: Option<String>,
    /// Pay everything off.
    #[serde(default)]
    pub payoff: bool,
}

/// What a draw or repayment answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct MoveResult {
    /// The movement.
    pub movement: MovementView,
    /// The line after it.
    pub line: SupplyLineView,
}

fn parse_amount(text: &str) -> Result<Money, ApiError> {
    Money::parse_positive(text.trim()).map_err(|_| {
        ApiError::invalid(
            "loan.invalid_amount",
            "金额应为大于 0、最多两位小数的数字。",
        )
    })
}

/// The movement booked under an idempotency key on a line, with the digest of its request.
const CLAIMED: &str = "SELECT request_sm3, journal_id FROM scf_money_claims \
     WHERE line_id = $1 AND idempotency_key = $2";

/// The movement already booked under idempotency key `key` on line `line`, if any, with the
/// digest of the request that booked it (read without waiting for the write lock, so that a
/// retry is answered at once).
async fn claimed(
    state: &AppState,
    line: Uuid,
    key: &str,
) -> Result<Option<(String, Uuid)>, ApiError> {
    Ok(on_pool!(state.store(), pool => {
        sqlx::query_as(CLAIMED)
            .bind(line)
            .bind(key)
            .fetch_optional(pool)
            .await
            .map_err(StoreError::from)?
    }))
}

/// As [`claimed`], inside the transaction that holds the line.
async fn claimed_in(
    tx: &mut Tx,
    line: Uuid,
    key: &str,
) -> Result<Option<(String, Uuid)>, ApiError> {
    Ok(bianmin_store::on_tx!(tx, conn => {
        sqlx::query_as(CLAIMED)
            .bind(line)
            .bind(key)
            .fetch_optional(conn)
            .await
            .map_err(StoreError::from)?
    }))
}

async fn claim(
    tx: &mut Tx,
    line: Uuid,
    key: &str,
    sm3: &str,
    journal: Uuid,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    bianmin_store::on_tx!(tx, conn => {
        sqlx::query(
            "INSERT INTO scf_money_claims (line_id, idempotency_key, request_sm3, claimed_at, \
             journal_id) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(line)
        .bind(key)
        .bind(sm3)
        .bind(now)
        .bind(journal)
        .execute(conn)
        .await
        .map_err(StoreError::from)?
        .rows_affected()
    });
    Ok(())
}

/// Answers a retried request with the movement it booked first (or refuses a key reused for
/// another request).
async fn replay(
    state: &AppState,
    line: Uuid,
    found: (String, Uuid),
    request_sm3: &str,
) -> Result<Response, ApiError> {
    if found.0 != request_sm3 {
        return Err(conflict(
            "idempotency.key_reused",
            "该 Idempotency-Key 已用于另一笔不同的请求。",
        ));
    }
    answer(state, line, found.1, StatusCode::OK).await
}

/// Line `line` locked in a write transaction for a movement under idempotency key `key` —
/// unless the key has booked one already: then `Err` with the answer to the retry (or the
/// refusal of a key reused for another request).
async fn lock_unclaimed(
    state: &AppState,
    line: Uuid,
    key: &str,
    request_sm3: &str,
) -> Result<Result<(Tx, LineRow), Response>, ApiError> {
    if let Some(found) = claimed(state, line, key).await? {
        return Ok(Err(replay(state, line, found, request_sm3).await?));
    }
    let mut tx = state.store().begin_write().await?;
    let row = lock(&mut tx, line).await?;
    // A twin with the same key may have booked while this request waited for the lock.
    if let Some(found) = claimed_in(&mut tx, line, key).await? {
        drop(tx);
        return Ok(Err(replay(state, line, found, request_sm3).await?));
    }
    Ok(Ok((tx, row)))
}

async fn answer(
    state: &AppState,
    line: Uuid,
    journal: Uuid,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let line = line_view(state, line).await?;
    let movement = line
        .movements
        .iter()
        .find(|m| m.id == journal)
        .cloned()
        .ok_or_else(|| ApiError::internal("movement not listed"))?;
    Ok((status, no_store(MoveResult { movement, line })).into_response())
}

/// `POST /api/v1/me/supply/{uscc}/draws`: draws on the line to pay an order of the core
/// enterprise (受托支付): the money goes to the enterprise, never to the distributor. Needs an
/// `Idempotency-Key`; a retry answers the first draw.
#[utoipa::path(post, path = "/api/v1/me/supply/{uscc}/draws", tag = "supply",
    params(("uscc" = String, Path, description = "统一社会信用代码"),
        ("Idempotency-Key" = String, Header, description = "Same value on every retry")),
    request_body = Draw,
    responses((status = 201, body = MoveResult), (status = 200, body = MoveResult),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn draw(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    ApiPath(uscc): ApiPath<String>,
    ApiJson(body): ApiJson<Draw>,
) -> Result<Response, ApiError> {
    let key = idempotency_key(&headers)?;
    let row = owners_line(&state, &principal, &uscc).await?;
    let order_no = body.order_no.trim().to_owned();
    if order_no.is_empty() || order_no.len() > 40 {
        return Err(ApiError::invalid(
            "supply.invalid_order",
            "请选择要支付的订单。",
        ));
    }
    let requested = body.amount.as_deref().map(parse_amount).transpose()?;
    let canonical = format!(
        "draw|{order_no}|{}",
        requested.map_or_else(|| "outstanding".to_owned(), |m| m.to_string())
    );
    let request_sm3 = hex::encode(sm3_digest(canonical.as_bytes()));
    if let Some(found) = claimed(&state, row.id, &key).await? {
        return replay(&state, row.id, found, &request_sm3).await;
    }
    // The order, as A集团 has it now (no money moves on a stale view: the payment below
    // refuses an amount above what is outstanding, and each order is paid by one draw).
    let enterprise = enterprise(&state, row.enterprise_id).await?;
    let open: OpenOrders = call_enterprise(
        &state,
        &enterprise,
        "enterprise.orders.open",
        json!({ "uscc": uscc.as_str() }),
    )
    .await?;
    let order = open
        .orders
        .iter()
        .find(|o| o.order_no == order_no)
        .ok_or_else(|| ApiError::not_found("该订单不存在或已付清。"))?;
    let amount = requested.unwrap_or(order.outstanding);
    if amount > order.outstanding {
        return Err(ApiError::invalid(
            "supply.over_order",
            format!("支付金额超过订单未付金额（{} 元）。", order.outstanding),
        ));
    }

    let now = state.clock().now();
    let today = state.clock().today_china();
    let (mut tx, row) = match lock_unclaimed(&state, row.id, &key, &request_sm3).await? {
        Ok(locked) => locked,
        Err(replayed) => return Ok(replayed),
    };
    let paid_before: Option<Uuid> = bianmin_store::on_tx!(&mut tx, conn => {
        sqlx::query_scalar("SELECT id FROM scf_payments WHERE line_id = $1 AND order_no = $2")
            .bind(row.id)
            .bind(&order_no)
            .fetch_optional(conn)
            .await
            .map_err(StoreError::from)?
    });
    if paid_before.is_some() {
        return Err(conflict(
            "supply.order_paid",
            "该订单已通过本额度支付过，不能重复支付。",
        ));
    }
    let mut line = row.line()?;
    let receipt = line.draw(today, amount).map_err(supply_ledger_error)?;
    let journals: Vec<Journal> = receipt.journals().cloned().collect();
    let detail = json!({
        "entrusted_payment": { "payee": enterprise.name, "payee_uscc": enterprise.uscc, "order_no": order_no },
    });
    let journal_id = write_journals(
        &mut tx,
        row.id,
        &journals,
        Some((&receipt.journal, detail)),
        now,
    )
    .await?
    .ok_or_else(|| ApiError::internal("draw without its journal"))?;
    let payment_id = Uuid::now_v7();
    bianmin_store::on_tx!(&mut tx, conn => {
        sqlx::query(
            "INSERT INTO scf_payments (id, line_id, journal_id, order_no, payee, amount_fen, \
             state, created_at) VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7)",
        )
        .bind(payment_id)
        .bind(row.id)
        .bind(journal_id)
        .bind(&order_no)
        .bind(&enterprise.uscc)
        .bind(amount.fen())
        .bind(now)
        .execute(conn)
        .await
        .map_err(StoreError::from)?
        .rows_affected()
    });
    claim(&mut tx, row.id, &key, &request_sm3, journal_id, now).await?;
    let status = status_of(&line, &row.status)?;
    save(
        &mut tx,
        &row,
        &line,
        &status,
        row.status_reason.as_deref(),
        now,
    )
    .await?;
    tx.append_event(&NewEvent::new(
        "supply.drawn",
        "scf_line",
        row.id.to_string(),
        json!({ "enterprise": row.enterprise_id, "amount_band": crate::lending::application::amount_band(amount) }),
        now,
    ))
    .await?;
    tx.commit().await?;
    // Tell A集团 the order is paid; a failure leaves the payment pending for the worker.
    if let Err(error) = confirm_payment(&state, &enterprise, payment_id).await {
        tracing::warn!(?error, payment = %payment_id, "entrusted payment not yet confirmed");
    }
    answer(&state, row.id, journal_id, StatusCode::CREATED).await
}

/// The ledger's refusals, as the supply-chain line words them.
fn supply_ledger_error(e: LedgerError) -> ApiError {
    match e {
        LedgerError::LineFrozen { reason } => conflict(
            "supply.line_frozen",
            format!("额度已冻结，暂不能用款：{reason}"),
        ),
        other => ledger_error(other),
    }
}

#[derive(sqlx::FromRow)]
struct PaymentRow {
    id: Uuid,
    order_no: String,
    amount_fen: i64,
    uscc: String,
}

/// Notifies the core enterprise of payment `id` (`enterprise.order.pay`, idempotent by the
/// payment id) and records its receipt.
pub(crate) async fn confirm_payment(
    state: &AppState,
    enterprise: &EnterpriseRow,
    id: Uuid,
) -> Result<(), ApiError> {
    let payment = on_pool!(state.store(), pool => {
        sqlx::query_as::<_, PaymentRow>(
            "SELECT p.id, p.order_no, p.amount_fen, d.uscc FROM scf_payments p \
             JOIN scf_lines l ON l.id = p.line_id JOIN scf_distributors d ON d.id = l.distributor_id \
             WHERE p.id = $1 AND p.state = 'pending'",
        )
        .bind(id)
        .fetch_optional(pool)
        .await
        .map_err(StoreError::from)?
    });
    let Some(payment) = payment else {
        return Ok(());
    };
    let answer: OrderPayment = call_enterprise(
        state,
        enterprise,
        "enterprise.order.pay",
        json!({
            "uscc": payment.uscc,
            "order_no": payment.order_no,
            "amount": Money::from_fen(payment.amount_fen),
            "payment_id": payment.id.to_string(),
        }),
    )
    .await?;
    let now = state.clock().now();
    let mut tx = state.store().begin_write().await?;
    bianmin_store::on_tx!(&mut tx, conn => {
        sqlx::query(
            "UPDATE scf_payments SET state = 'confirmed', receipt_no = $1, confirmed_at = $2 \
             WHERE id = $3 AND state = 'pending'",
        )
        .bind(&answer.receipt_no)
        .bind(now)
        .bind(payment.id)
        .execute(conn)
        .await
        .map_err(StoreError::from)?
        .rows_affected()
    });
    tx.commit().await?;
    Ok(())
}

/// Sends every pending entrusted payment again (the oldest 200; each is idempotent at the
/// enterprise by its payment id); returns how many were confirmed.
pub async fn confirm_pending(state: &AppState) -> Result<u64, ApiError> {
    let pending: Vec<(Uuid, Uuid)> = on_pool!(state.store(), pool => {
        sqlx::query_as(
            "SELECT p.id, d.enterprise_id FROM scf_payments p JOIN scf_lines l ON l.id = p.line_id \
             JOIN scf_distributors d ON d.id = l.distributor_id WHERE p.state = 'pending' \
             ORDER BY p.created_at LIMIT 200",
        )
        .fetch_all(pool)
        .await
        .map_err(StoreError::from)?
    });
    let mut confirmed = 0;
    for (payment, enterprise_id) in pending {
        let enterprise = enterprise(state, enterprise_id).await?;
        if confirm_payment(state, &enterprise, payment).await.is_ok() {
            confirmed += 1;
        }
    }
    Ok(confirmed)
}

/// `POST /api/v1/me/supply/{uscc}/repayments`: repays from the distributor's settlement
/// account, any time, any amount (interest first), or everything (`payoff`). Needs an
/// `Idempotency-Key`.
#[utoipa::path(post, path = "/api/v1/me/supply/{uscc}/repayments", tag = "supply",
    params(("uscc" = String, Path, description = "统一社会信用代码"),
        ("Idempotency-Key" = String, Header, description = "Same value on every retry")),
    request_body = Repay,
    responses((status = 201, body = MoveResult), (status = 200, body = MoveResult),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn repay(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    ApiPath(uscc): ApiPath<String>,
    ApiJson(body): ApiJson<Repay>,
) -> Result<Response, ApiError> {
    let key = idempotency_key(&headers)?;
    let row = owners_line(&state, &principal, &uscc).await?;
    let requested = match (&body.amount, body.payoff) {
        (Some(amount), false) => Some(parse_amount(amount)?),
        (None, true) => None,
        _ => {
            return Err(ApiError::invalid(
                "loan.invalid_amount",
                "请填写还款金额，或选择全部结清。",
            ));
        }
    };
    let canonical = format!(
        "repay|{}",
        requested.map_or_else(|| "payoff".to_owned(), |m| m.to_string())
    );
    let request_sm3 = hex::encode(sm3_digest(canonical.as_bytes()));
    let now = state.clock().now();
    let today = state.clock().today_china();
    let (mut tx, row) = match lock_unclaimed(&state, row.id, &key, &request_sm3).await? {
        Ok(locked) => locked,
        Err(replayed) => return Ok(replayed),
    };
    let mut line = row.line()?;
    let amount = match requested {
        Some(amount) => amount,
        None => line.payoff_amount(today).map_err(ledger_error)?,
    };
    if !amount.is_positive() {
        return Err(conflict("loan.nothing_owed", "当前没有需要归还的款项。"));
    }
    let journal_id = book_repayment(&mut tx, &row, &mut line, today, amount, "manual", now).await?;
    claim(&mut tx, row.id, &key, &request_sm3, journal_id, now).await?;
    tx.commit().await?;
    answer(&state, row.id, journal_id, StatusCode::CREATED).await
}

/// Books a repayment of `amount` on the locked line `row` from the settlement account:
/// debits the account (refusing an overdraft), writes the journals, saves the line. Returns
/// the repayment's journal id.
async fn book_repayment(
    tx: &mut Tx,
    row: &LineRow,
    line: &mut CreditLine,
    today: NaiveDate,
    amount: Money,
    source: &str,
    now: DateTime<Utc>,
) -> Result<Uuid, ApiError> {
    let debited = bianmin_store::on_tx!(tx, conn => {
        sqlx::query(
            "UPDATE scf_accounts SET balance_fen = balance_fen - $1, updated_at = $2 \
             WHERE distributor_id = $3 AND balance_fen >= $1",
        )
        .bind(amount.fen())
        .bind(now)
        .bind(row.distributor_id)
        .execute(conn)
        .await
        .map_err(StoreError::from)?
        .rows_affected()
    });
    if debited != 1 {
        return Err(conflict(
            "account.insufficient_funds",
            "结算账户余额不足，请先存入款项或等待销售回款到账。",
        ));
    }
    let receipt = line.repay(today, amount).map_err(ledger_error)?;
    let journals: Vec<Journal> = receipt.journals().cloned().collect();
    let a = receipt.allocation;
    let to_interest = a
        .total_interest()
        .and_then(|i| Ok(i.checked_add(a.penalty)?))
        .map_err(ledger_error)?;
    let to_principal = a.total_principal().map_err(ledger_error)?;
    let detail = json!({
        "source": source,
        "to_interest": to_interest.to_string(),
        "to_principal": to_principal.to_string(),
        "allocation": a,
    });
    let journal_id = write_journals(tx, row.id, &journals, Some((&receipt.journal, detail)), now)
        .await?
        .ok_or_else(|| ApiError::internal("repayment without its journal"))?;
    let status = status_of(line, &row.status)?;
    save(tx, row, line, &status, row.status_reason.as_deref(), now).await?;
    tx.append_event(&NewEvent::new(
        "supply.repaid",
        "scf_line",
        row.id.to_string(),
        json!({ "enterprise": row.enterprise_id, "source": source, "cleared": line.position().map(|p| p.principal.fen() == 0).unwrap_or(false) }),
        now,
    ))
    .await?;
    Ok(journal_id)
}

/// Body of `PUT /api/v1/me/supply/{uscc}/sweep`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Sweep {
    /// Share of each sales receipt swept to repay, 0–100 (0 turns it off).
    pub percent: u32,
}

/// `PUT /api/v1/me/supply/{uscc}/sweep`: sets the share of each sales receipt that repays
/// the line automatically.
#[utoipa::path(put, path = "/api/v1/me/supply/{uscc}/sweep", tag = "supply",
    params(("uscc" = String, Path, description = "统一社会信用代码")),
    request_body = Sweep,
    responses((status = 200, body = SupplyLineView), (status = 404, body = Problem),
        (status = 422, body = Problem)))]
pub async fn set_sweep(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(uscc): ApiPath<String>,
    ApiJson(body): ApiJson<Sweep>,
) -> Result<Response, ApiError> {
    let row = owners_line(&state, &principal, &uscc).await?;
    if body.percent > 100 {
        return Err(ApiError::invalid(
            "supply.invalid_sweep",
            "自动还款比例应在 0 至 100 之间。",
        ));
    }
    let now = state.clock().now();
    let mut tx = state.store().begin_write().await?;
    bianmin_store::on_tx!(&mut tx, conn => {
        sqlx::query("UPDATE scf_lines SET sweep_percent = $1, updated_at = $2 WHERE id = $3")
            .bind(i32::try_from(body.percent).unwrap_or(0))
            .bind(now)
            .bind(row.id)
            .execute(conn)
            .await
            .map_err(StoreError::from)?
            .rows_affected()
    });
    tx.append_audit(
        state.keyring().audit_key(),
        &AuditEntry {
            actor: principal.audit_actor(),
            action: "supply.sweep.set".into(),
            target: format!("scf_line:{}", row.id),
            purpose: Some("供应链融资销售回款自动还款".into()),
            details: json!({ "percent": body.percent }),
            occurred_at: now,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(no_store(line_view(&state, row.id).await?))
}

// ---------------------------------------------------------------------------------------------
// Sales receipts
// ---------------------------------------------------------------------------------------------

/// Body of `POST /api/v1/console/supply/receipts`: a sales receipt paid into a distributor's
/// settlement account, as the bank's payment system reports it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewReceipt {
    /// The distributor's 统一社会信用代码.
    pub uscc: String,
    /// Amount received (yuan, two decimals).
    pub amount: String,
    /// The payment system's reference: the same reference again answers the first receipt.
    pub reference: String,
}

/// What a receipt did.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReceiptResult {
    /// The receipt.
    pub receipt: ReceiptView,
    /// Settlement account balance after it.
    pub account_balance: String,
    /// Whether this reference had been booked before (nothing was booked again).
    pub duplicate: bool,
}

/// `POST /api/v1/console/supply/receipts`: books a sales receipt into the distributor's
/// settlement account and sweeps the configured share to repay its line (idempotent by the
/// payment system's reference).
#[utoipa::path(post, path = "/api/v1/console/supply/receipts", tag = "supply",
    request_body = NewReceipt,
    responses((status = 201, body = ReceiptResult), (status = 200, body = ReceiptResult),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn receipt(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<NewReceipt>,
) -> Result<Response, ApiError> {
    principal.require(&[Role::BankOperator, Role::Admin])?;
    let uscc = parse_uscc(&body.uscc)?;
    let amount = parse_amount(&body.amount)?;
    let reference = body.reference.trim();
    if reference.is_empty() || reference.len() > 64 {
        return Err(ApiError::invalid(
            "supply.invalid_reference",
            "请填写支付系统流水号（不超过 64 个字符）。",
        ));
    }
    let (result, created) = book_receipt(&state, uscc.as_str(), amount, reference).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, no_store(result)).into_response())
}

/// Books a sales receipt (see [`receipt`]); true if it was new.
pub async fn book_receipt(
    state: &AppState,
    uscc: &str,
    amount: Money,
    reference: &str,
) -> Result<(ReceiptResult, bool), ApiError> {
    let distributor: Uuid = on_pool!(state.store(), pool => {
        sqlx::query_scalar("SELECT id FROM scf_distributors WHERE uscc = $1 ORDER BY synced_at DESC, id DESC LIMIT 1")
            .bind(uscc)
            .fetch_optional(pool)
            .await
            .map_err(StoreError::from)?
    })
    .ok_or_else(|| ApiError::not_found("本行没有该经销商。"))?;
    let line_id: Option<Uuid> = on_pool!(state.store(), pool => {
        sqlx::query_scalar("SELECT id FROM scf_lines WHERE distributor_id = $1")
            .bind(distributor)
            .fetch_optional(pool)
            .await
            .map_err(StoreError::from)?
    });
    let now = state.clock().now();
    let today = state.clock().today_china();
    let mut tx = state.store().begin_write().await?;
    let row = match line_id {
        Some(id) => Some(lock(&mut tx, id).await?),
        None => None,
    };
    let existing: Option<(Uuid, i64, i64, DateTime<Utc>)> = bianmin_store::on_tx!(&mut tx, conn => {
        sqlx::query_as(
            "SELECT distributor_id, amount_fen, swept_fen, received_at FROM scf_receipts \
             WHERE reference = $1",
        )
        .bind(reference)
        .fetch_optional(conn)
        .await
        .map_err(StoreError::from)?
    });
    if let Some((who, fen, swept, at)) = existing {
        drop(tx);
        if who != distributor || fen != amount.fen() {
            return Err(conflict(
                "supply.reference_reused",
                "该流水号已用于另一笔回款。",
            ));
        }
        return Ok((
            ReceiptResult {
                receipt: ReceiptView {
                    reference: reference.to_owned(),
                    amount: amount.to_string(),
                    swept: Money::from_fen(swept).to_string(),
                    at,
                },
                account_balance: balance(state, distributor).await?.to_string(),
                duplicate: true,
            },
            false,
        ));
    }
    bianmin_store::on_tx!(&mut tx, conn => {
        sqlx::query(
            "INSERT INTO scf_accounts (distributor_id, balance_fen, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (distributor_id) DO UPDATE SET \
             balance_fen = scf_accounts.balance_fen + excluded.balance_fen, updated_at = excluded.updated_at",
        )
        .bind(distributor)
        .bind(amount.fen())
        .bind(now)
        .execute(conn)
        .await
        .map_err(StoreError::from)?
        .rows_affected()
    });
    let mut swept = Money::ZERO;
    let mut journal = None;
    if let Some(row) = &row {
        let mut line = row.line()?;
        let owed = line.payoff_amount(today).map_err(ledger_error)?;
        let share = u32::try_from(row.sweep_percent).unwrap_or(0);
        let sweep = sweep_amount(amount, share, owed);
        if sweep.is_positive() {
            journal =
                Some(book_repayment(&mut tx, row, &mut line, today, sweep, "sweep", now).await?);
            swept = sweep;
        }
    }
    bianmin_store::on_tx!(&mut tx, conn => {
        sqlx::query(
            "INSERT INTO scf_receipts (id, distributor_id, reference, amount_fen, swept_fen, \
             journal_id, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(Uuid::now_v7())
        .bind(distributor)
        .bind(reference)
        .bind(amount.fen())
        .bind(swept.fen())
        .bind(journal)
        .bind(now)
        .execute(conn)
        .await
        .map_err(StoreError::from)?
        .rows_affected()
    });
    tx.commit().await?;
    Ok((
        ReceiptResult {
            receipt: ReceiptView {
                reference: reference.to_owned(),
                amount: amount.to_string(),
                swept: swept.to_string(),
                at: now,
            },
            account_balance: balance(state, distributor).await?.to_string(),
            duplicate: false,
        },
        true,
    ))
}

async fn balance(state: &AppState, distributor: Uuid) -> Result<Money, ApiError> {
    let fen: Option<i64> = on_pool!(state.store(), pool => {
        sqlx::query_scalar("SELECT balance_fen FROM scf_accounts WHERE distributor_id = $1")
            .bind(distributor)
            .fetch_optional(pool)
            .await
            .map_err(StoreError::from)?
    });
    Ok(Money::from_fen(fen.unwrap_or(0)))
}

// ---------------------------------------------------------------------------------------------
// Nightly accrual
// ---------------------------------------------------------------------------------------------

/// Accrues every open supply-chain line through `date` (closing statements, marking bills past
/// due); returns how many lines moved.
pub async fn accrue_all(state: &AppState, date: NaiveDate) -> Result<u64, ApiError> {
    let ids: Vec<Uuid> = on_pool!(state.store(), pool => {
        sqlx::query_scalar(
            "SELECT id FROM scf_lines WHERE accrued_through < $1 AND status <> 'closed'",
        )
        .bind(date)
        .fetch_all(pool)
        .await
        .map_err(StoreError::from)?
    });
    let now = state.clock().now();
    let mut moved = 0;
    for chunk in ids.chunks(200) {
        let mut tx = state.store().begin_write().await?;
        for &id in chunk {
            let row = lock(&mut tx, id).await?;
            let mut line = row.line()?;
            if line.accrued_until() >= date {
                continue;
            }
            let journals = line.accrue_through(date).map_err(ledger_error)?;
            write_journals(&mut tx, row.id, &journals, None, now).await?;
            let status = status_of(&line, &row.status)?;
            save(
                &mut tx,
                &row,
                &line,
                &status,
                row.status_reason.as_deref(),
                now,
            )
            .await?;
            moved += 1;
        }
        tx.commit().await?;
    }
    Ok(moved)
}
