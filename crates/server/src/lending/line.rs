//! The revolving line (随借随还): draws into the bank account and repayments from it, each in
//! one write transaction with its balanced journal entries, the bank-account posting, the
//! line's new state and the idempotency claim — so a retried request with the same
//! `Idempotency-Key` answers with the first movement and never moves money twice. Interest
//! accrues daily (ACT/360 on the end-of-day principal, summed unrounded and posted to the fen
//! with the rounding carried; see `bianmin_lending::ledger`); a nightly job brings every line
//! up to date.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bianmin_core::{Money, Rate};
use bianmin_crypto::sm3_digest;
use bianmin_lending::interest::{DailyRateQuote, DayCount};
use bianmin_lending::ledger::{CreditLine, Journal, LedgerError, LineStatus};
use bianmin_services::accounts::AccountError;
use bianmin_store::{NewEvent, StoreError, Tx};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::application::{BankAccountView, amount_band, bank_account};
use super::{citizen, conflict};
use crate::app::AppState;
use crate::auth::Principal;
use crate::http::json::ApiJson;
use crate::http::no_store;
use crate::http::problem::{ApiError, Problem};
use crate::traffic::IDEMPOTENCY_KEY;

/// A movement on the line as shown.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TransactionView {
    /// Journal id.
    pub id: Uuid,
    /// `draw` or `repayment`.
    pub kind: String,
    /// Value date.
    pub date: NaiveDate,
    /// Amount.
    pub amount: String,
    /// Of a repayment: what paid interest and penalty.
    pub to_interest: Option<String>,
    /// Of a repayment: what paid principal.
    pub to_principal: Option<String>,
    /// Recorded.
    pub at: DateTime<Utc>,
}

/// A statement as shown.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StatementView {
    /// Statement date.
    pub statement_date: NaiveDate,
    /// Period.
    pub period_start: NaiveDate,
    /// Period.
    pub period_end: NaiveDate,
    /// Drawn in the period.
    pub drawn: String,
    /// Repaid in the period.
    pub repaid: String,
    /// Interest charged.
    pub interest_charged: String,
    /// Penalty charged.
    pub penalty_charged: String,
    /// Owed at the end of the period.
    pub closing_balance: String,
    /// Minimum payment.
    pub minimum_due: String,
    /// Pay by.
    pub due_date: NaiveDate,
}

/// The line as its borrower sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LineView {
    /// Line id.
    pub id: Uuid,
    /// The line.
    pub limit: String,
    /// What may be drawn now.
    pub available: String,
    /// Principal owed.
    pub principal: String,
    /// Interest owed today (posted and accrued).
    pub interest_due: String,
    /// Penalty interest owed today.
    pub penalty_due: String,
    /// Everything owed today: repaying this clears the line.
    pub payoff_amount: String,
    /// The annualised rate (IRR method).
    pub apr: String,
    /// The APR as a percentage.
    pub apr_text: String,
    /// The daily rate.
    pub daily_rate: String,
    /// The daily rate in ten-thousandths.
    pub daily_rate_text: String,
    /// Interest day count.
    pub day_count: String,
    /// `active`, `frozen`, `expired` or `closed`.
    pub status: String,
    /// Why it is frozen.
    pub status_reason: Option<String>,
    /// Delinquency bucket: `M0` current, `M1` 1–30 days past due, … `M4+`.
    pub bucket: String,
    /// Days past due.
    pub days_past_due: u32,
    /// Minimum payment of the latest statement still owed.
    pub minimum_due: Option<String>,
    /// Its due date.
    pub due_date: Option<NaiveDate>,
    /// Opened.
    pub opened_on: NaiveDate,
    /// Re-approval due (the line is approved for a year).
    pub expires_on: NaiveDate,
    /// Latest movements, newest first.
    pub transactions: Vec<TransactionView>,
    /// Statements, newest first.
    pub statements: Vec<StatementView>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct LineRow {
    pub id: Uuid,
    pub state_json: String,
    pub version: i64,
}

impl LineRow {
    pub(crate) fn line(&self) -> Result<CreditLine, ApiError> {
        serde_json::from_str(&self.state_json).map_err(ApiError::internal)
    }
}

/// Whether `person` has a line.
pub(crate) async fn has_line(state: &AppState, person: Uuid) -> Result<bool, ApiError> {
    Ok(load_line(state, person).await?.is_some())
}

/// The limits of `person`'s lines at this bank (for the household cap).
pub(crate) async fn existing_limits(state: &AppState, person: Uuid) -> Result<Money, ApiError> {
    let total: Option<i64> = bianmin_store::on_pool!(state.store(), pool => {
        sqlx::query_scalar(
            "SELECT SUM(limit_fen) FROM credit_lines WHERE person_id = $1 AND status <> 'closed'",
        )
        .bind(person)
        .fetch_one(pool)
        .await
        .map_err(StoreError::from)?
    });
    Ok(Money::from_fen(total.unwrap_or(0)))
}

async fn load_line(state: &AppState, person: Uuid) -> Result<Option<LineRow>, ApiError> {
    Ok(bianmin_store::on_pool!(state.store(), pool => {
        sqlx::query_as::<_, LineRow>(
            "SELECT id, state_json, version FROM credit_lines WHERE person_id = $1",
        )
        .bind(person)
        .fetch_optional(pool)
        .await
        .map_err(StoreError::from)?
    }))
}

/// The line row of `person`, locked for the rest of `tx` (PostgreSQL; SQLite's write
/// transaction already excludes other writers).
async fn lock_line(tx: &mut Tx, person: Uuid) -> Result<Option<LineRow>, ApiError> {
    Ok(match tx {
        Tx::Sqlite(conn) => sqlx::query_as::<_, LineRow>(
            "SELECT id, state_json, version FROM credit_lines WHERE person_id = $1",
        )
        .bind(person)
        .fetch_optional(&mut **conn)
        .await
        .map_err(StoreError::from)?,
        Tx::Postgres(conn) => sqlx::query_as::<_, LineRow>(
            "SELECT id, state_json, version FROM credit_lines WHERE person_id = $1 \
             FOR UPDATE",
        )
        .bind(person)
        .fetch_optional(&mut **conn)
        .await
        .map_err(StoreError::from)?,
    })
}

/// The line of `person` as of today, if they have one.
pub(crate) async fn line_view(
    state: &AppState,
    person: Uuid,
) -> Result<Option<LineView>, ApiError> {
    match load_line(state, person).await? {
        Some(row) => Ok(Some(view(state, &row).await?)),
        None => Ok(None),
    }
}

fn status_text(status: LineStatus) -> String {
    serde_json::to_value(status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "active".to_owned())
}

/// The daily rate of a line whose ledger rate is `annual` under `day_count`.
fn daily_of(annual: Rate, day_count: DayCount) -> Result<Rate, ApiError> {
    Rate::from_decimal(day_count.daily_rate(annual)).map_err(ApiError::internal)
}

pub(crate) async fn view(state: &AppState, row: &LineRow) -> Result<LineView, ApiError> {
    let mut line = row.line()?;
    let today = state.clock().today_china();
    // Today's position: accrue in memory (the nightly job persists it).
    if line.accrued_until() < today {
        line.accrue_through(today).map_err(ledger_error)?;
    }
    let position = line.position().map_err(ledger_error)?;
    let payoff = line.payoff_amount(today).map_err(ledger_error)?;
    let terms = line.terms();
    let daily = daily_of(terms.annual_rate, terms.day_count)?;
    let quote = DailyRateQuote::from_daily(daily, DayCount::Act365).map_err(ApiError::internal)?;
    let interest_due = Money::from_yuan(position.unposted_interest, bianmin_core::Rounding::HalfUp)
        .ok()
        .and_then(|u| position.interest_receivable.checked_add(u).ok())
        .unwrap_or(position.interest_receivable);
    let penalty_due = Money::from_yuan(position.unposted_penalty, bianmin_core::Rounding::HalfUp)
        .ok()
        .and_then(|u| position.penalty_receivable.checked_add(u).ok())
        .unwrap_or(position.penalty_receivable);
    let statements = line
        .statements()
        .iter()
        .rev()
        .take(12)
        .map(|s| StatementView {
            statement_date: s.statement_date,
            period_start: s.period_start,
            period_end: s.period_end,
            drawn: s.drawn.to_string(),
            repaid: s.repaid.to_string(),
            interest_charged: s.interest_charged.to_string(),
            penalty_charged: s.penalty_charged.to_string(),
            closing_balance: s.closing_balance.to_string(),
            minimum_due: s.minimum_due.to_string(),
            due_date: s.due_date,
        })
        .collect();
    Ok(LineView {
        id: row.id,
        limit: position.limit.to_string(),
        available: position.available.to_string(),
        principal: position.principal.to_string(),
        interest_due: interest_due.to_string(),
        penalty_due: penalty_due.to_string(),
        payoff_amount: payoff.to_string(),
        apr: quote.annual.to_string(),
        apr_text: quote.annual.to_percent_string(2),
        daily_rate: daily.to_string(),
        daily_rate_text: quote.per_ten_thousand(),
        day_count: terms.day_count.to_string(),
        status: status_text(position.status),
        status_reason: position.frozen_reason.clone(),
        bucket: position.delinquency.to_string(),
        days_past_due: position.days_past_due,
        minimum_due: position
            .minimum_due
            .is_positive()
            .then(|| position.minimum_due.to_string()),
        due_date: position.due_date,
        opened_on: line.opened_on(),
        expires_on: line.expires_on(),
        transactions: transactions(state, row.id).await?,
        statements,
    })
}

async fn transactions(state: &AppState, line: Uuid) -> Result<Vec<TransactionView>, ApiError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        id: Uuid,
        kind: String,
        value_date: NaiveDate,
        amount_fen: i64,
        detail: Option<String>,
        created_at: DateTime<Utc>,
    }
    let rows = bianmin_store::on_pool!(state.store(), pool => {
        sqlx::query_as::<_, Row>(
            "SELECT id, kind, value_date, amount_fen, detail, created_at FROM ledger_journals \
             WHERE line_id = $1 AND kind IN ('draw', 'repayment') \
             ORDER BY created_at DESC, id DESC LIMIT 50",
        )
        .bind(line)
        .fetch_all(pool)
        .await
        .map_err(StoreError::from)?
    });
    Ok(rows
        .into_iter()
        .map(|r| {
            let detail: Option<serde_json::Value> = r
                .detail
                .as_deref()
                .and_then(|d| serde_json::from_str(d).ok());
            let field = |name: &str| {
                detail
                    .as_ref()
                    .and_then(|d| d.get(name))
                    .and_then(|v| v.as_str())
                    .map(str::to_owned)
            };
            TransactionView {
                id: r.id,
                to_interest: field("to_interest"),
                to_principal: field("to_principal"),
                kind: r.kind,
                date: r.value_date,
                amount: Money::from_fen(r.amount_fen).to_string(),
                at: r.created_at,
            }
        })
        .collect())
}

/// The signed-in citizen's line.
#[utoipa::path(get, path = "/api/v1/me/loan/line", tag = "lending",
    responses((status = 200, body = LineView), (status = 404, body = Problem)))]
pub async fn my_line(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Response, ApiError> {
    let person = citizen(&principal)?;
    let line = line_view(&state, person)
        .await?
        .ok_or_else(|| ApiError::not_found("您尚未开通闪电贷额度。"))?;
    Ok(no_store(line))
}

/// Body of a draw or a repayment.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoneyMove {
    /// Amount, yuan.
    pub amount: Option<String>,
    /// Repay everything owed today (repayments only; instead of `amount`).
    #[serde(default)]
    pub payoff: bool,
}

/// What a draw or repayment answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct MoveResult {
    /// The movement.
    pub transaction: TransactionView,
    /// The line after it.
    pub line: LineView,
    /// The bank account after it.
    pub bank_account: Option<BankAccountView>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Draw,
    Repay,
}

/// Draws `amount` into the borrower's bank account. Needs an `Idempotency-Key`: a retry with
/// the same key answers with the first draw and moves nothing.
#[utoipa::path(post, path = "/api/v1/me/loan/line/draws", tag = "lending",
    request_body = MoneyMove,
    params(("Idempotency-Key" = String, Header, description = "one key per draw, reused on retry")),
    responses((status = 201, body = MoveResult), (status = 200, body = MoveResult), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn draw(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    ApiJson(body): ApiJson<MoneyMove>,
) -> Result<Response, ApiError> {
    move_money(&state, &principal, &headers, body, Direction::Draw).await
}

/// Repays `amount` (or everything owed, `payoff`) from the borrower's bank account: overdue
/// interest, penalty, interest, then principal. Idempotent like a draw.
#[utoipa::path(post, path = "/api/v1/me/loan/line/repayments", tag = "lending",
    request_body = MoneyMove,
    params(("Idempotency-Key" = String, Header, description = "one key per repayment, reused on retry")),
    responses((status = 201, body = MoveResult), (status = 200, body = MoveResult), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn repay(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    ApiJson(body): ApiJson<MoneyMove>,
) -> Result<Response, ApiError> {
    move_money(&state, &principal, &headers, body, Direction::Repay).await
}

pub(crate) fn idempotency_key(headers: &HeaderMap) -> Result<String, ApiError> {
    let key = headers
        .get(IDEMPOTENCY_KEY)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .unwrap_or_default();
    if key.is_empty() {
        return Err(ApiError::bad_request(
            "idempotency.key_required",
            "借款和还款请求须带 Idempotency-Key 请求头，重试时使用同一个值。",
        ));
    }
    if !(8..=128).contains(&key.len())
        || !key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
    {
        return Err(ApiError::bad_request(
            "idempotency.key_invalid",
            "Idempotency-Key 应为 8 至 128 个字母、数字或 - _ . :。",
        ));
    }
    Ok(key.to_owned())
}

/// Maps a ledger refusal to the API's codes.
pub(crate) fn ledger_error(e: LedgerError) -> ApiError {
    let detail = e.to_string();
    match e {
        LedgerError::InvalidAmount { .. } => ApiError::invalid("loan.invalid_amount", detail),
        LedgerError::ExceedsAvailable { .. } => conflict("loan.over_limit", detail),
        LedgerError::LineFrozen { .. }
        | LedgerError::LineOverdue { .. }
        | LedgerError::LineExpired { .. }
        | LedgerError::LineClosed { .. } => conflict("loan.line_frozen", detail),
        LedgerError::Overpayment { .. } => conflict("loan.overpayment", detail),
        other => ApiError::internal(other),
    }
}

fn account_error(e: AccountError) -> ApiError {
    match e {
        AccountError::NoAccount => ApiError::new(
            StatusCode::CONFLICT,
            "account.none",
            "您在本行没有可用的结算账户，请先开立账户。",
        ),
        AccountError::InsufficientFunds { available } => ApiError::new(
            StatusCode::CONFLICT,
            "account.insufficient_funds",
            format!("账户余额不足：可用 {available} 元。"),
        ),
        other => ApiError::internal(other),
    }
}

async fn move_money(
    state: &AppState,
    principal: &Principal,
    headers: &HeaderMap,
    body: MoneyMove,
    direction: Direction,
) -> Result<Response, ApiError> {
    let person = citizen(principal)?;
    let key = idempotency_key(headers)?;
    let requested = match (&body.amount, body.payoff, direction) {
        (Some(amount), false, _) => Some(Money::parse_positive(amount.trim()).map_err(|_| {
            ApiError::invalid(
                "loan.invalid_amount",
                "金额应为大于 0、最多两位小数的数字。",
            )
        })?),
        (None, true, Direction::Repay) => None,
        _ => {
            return Err(ApiError::invalid(
                "loan.invalid_amount",
                "请填写金额（还款时也可选择全部结清）。",
            ));
        }
    };
    let verb = if direction == Direction::Draw {
        "draw"
    } else {
        "repay"
    };
    let canonical = format!(
        "{verb}|{}",
        requested.map_or_else(|| "payoff".to_owned(), |m| m.to_string())
    );
    let request_sm3 = hex::encode(sm3_digest(canonical.as_bytes()));

    let now = state.clock().now();
    let today = state.clock().today_china();
    let mut tx = state.store().begin_write().await?;
    let row = lock_line(&mut tx, person)
        .await?
        .ok_or_else(|| ApiError::not_found("您尚未开通闪电贷额度。"))?;
    // The line row is locked: a twin request with the same key waits here for us, then finds
    // our claim.
    let claimed: Option<(String, Uuid)> = bianmin_store::on_tx!(&mut tx, conn => {
        sqlx::query_as(
            "SELECT request_sm3, journal_id FROM loan_money_claims \
             WHERE person_id = $1 AND idempotency_key = $2",
        )
        .bind(person)
        .bind(&key)
        .fetch_optional(conn)
        .await
        .map_err(StoreError::from)?
    });
    if let Some((sm3, journal)) = claimed {
        drop(tx);
        if sm3 != request_sm3 {
            return Err(conflict(
                "idempotency.key_reused",
                "该 Idempotency-Key 已用于另一笔不同的请求。",
            ));
        }
        return answer(state, person, &row, journal, StatusCode::OK).await;
    }

    let mut line = row.line()?;
    let (journals, main, detail) = match direction {
        Direction::Draw => {
            let amount = requested.unwrap_or(Money::ZERO);
            let receipt = line.draw(today, amount).map_err(ledger_error)?;
            let journals: Vec<Journal> = receipt.journals().cloned().collect();
            (journals, receipt.journal, json!({}))
        }
        Direction::Repay => {
            let amount = match requested {
                Some(amount) => amount,
                None => line.payoff_amount(today).map_err(ledger_error)?,
            };
            if !amount.is_positive() {
                return Err(conflict("loan.nothing_owed", "当前没有需要归还的款项。"));
            }
            let receipt = line.repay(today, amount).map_err(ledger_error)?;
            let journals: Vec<Journal> = receipt.journals().cloned().collect();
            let a = receipt.allocation;
            let to_interest = a
                .total_interest()
                .and_then(|i| Ok(i.checked_add(a.penalty)?))
                .map_err(ledger_error)?;
            let to_principal = a.total_principal().map_err(ledger_error)?;
            (
                journals,
                receipt.journal,
                json!({
                    "to_interest": to_interest.to_string(),
                    "to_principal": to_principal.to_string(),
                    "allocation": a,
                }),
            )
        }
    };
    let amount = main.amount();
    match direction {
        Direction::Draw => {
            state
                .accounts()
                .credit_in(&mut tx, person, amount, now)
                .await
        }
        Direction::Repay => {
            state
                .accounts()
                .debit_in(&mut tx, person, amount, now)
                .await
        }
    }
    .map_err(account_error)?;

    let mut main_id = None;
    for journal in &journals {
        let id = Uuid::now_v7();
        let is_main = journal == &main && main_id.is_none();
        if is_main {
            main_id = Some(id);
        }
        insert_journal(
            &mut tx,
            row.id,
            id,
            journal,
            is_main.then(|| detail.to_string()),
            now,
        )
        .await?;
    }
    let journal_id = main_id.ok_or_else(|| ApiError::internal("movement without its journal"))?;
    save_line(&mut tx, &row, &line, now).await?;
    bianmin_store::on_tx!(&mut tx, conn => {
        sqlx::query(
            "INSERT INTO loan_money_claims (person_id, idempotency_key, request_sm3, claimed_at, \
             journal_id) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(person)
        .bind(&key)
        .bind(&request_sm3)
        .bind(now)
        .bind(journal_id)
        .execute(conn)
        .await
        .map_err(StoreError::from)?
            .rows_affected()
    });
    let kind = if direction == Direction::Draw {
        "loan.drawn"
    } else {
        "loan.repaid"
    };
    tx.append_event(&NewEvent::new(
        kind,
        "credit_line",
        row.id.to_string(),
        json!({ "amount_band": amount_band(amount), "cleared": line.position().map(|p| p.principal.fen() == 0).unwrap_or(false) }),
        now,
    ))
    .await?;
    tx.commit().await?;
    answer(state, person, &row, journal_id, StatusCode::CREATED).await
}

async fn answer(
    state: &AppState,
    person: Uuid,
    row: &LineRow,
    journal: Uuid,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let line = line_view(state, person)
        .await?
        .ok_or_else(|| ApiError::internal("line vanished"))?;
    let transaction = line
        .transactions
        .iter()
        .find(|t| t.id == journal)
        .cloned()
        .ok_or_else(|| ApiError::internal(format!("journal of line {} not listed", row.id)))?;
    let bank_account = bank_account(state, person).await?;
    Ok((
        status,
        no_store(MoveResult {
            transaction,
            line,
            bank_account,
        }),
    )
        .into_response())
}

/// The tables a ledger is kept in: the 闪电贷 lines' or the supply-chain lines' (same shape).
#[derive(Debug, Clone, Copy)]
pub(crate) struct LedgerTables {
    /// Journals.
    pub journals: &'static str,
    /// Their postings.
    pub postings: &'static str,
}

/// The 闪电贷 ledger.
pub(crate) const CONSUMER_LEDGER: LedgerTables = LedgerTables {
    journals: "ledger_journals",
    postings: "ledger_postings",
};

/// Writes one journal and its postings inside `tx`.
pub(crate) async fn insert_journal(
    tx: &mut Tx,
    line: Uuid,
    id: Uuid,
    journal: &Journal,
    detail: Option<String>,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    insert_journal_into(tx, CONSUMER_LEDGER, line, id, journal, detail, now).await
}

/// Writes one journal of line `line` and its postings into `tables` inside `tx`.
pub(crate) async fn insert_journal_into(
    tx: &mut Tx,
    tables: LedgerTables,
    line: Uuid,
    id: Uuid,
    journal: &Journal,
    detail: Option<String>,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    if !journal.is_balanced() {
        return Err(ApiError::internal("unbalanced journal refused"));
    }
    let kind = serde_json::to_value(journal.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let journal_sql = format!(
        "INSERT INTO {} (id, line_id, kind, value_date, amount_fen, detail, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        tables.journals
    );
    let posting_sql = format!(
        "INSERT INTO {} (journal_id, seq, line_id, account, debit_fen, credit_fen) \
         VALUES ($1, $2, $3, $4, $5, $6)",
        tables.postings
    );
    bianmin_store::on_tx!(tx, conn => {
        sqlx::query(sqlx::AssertSqlSafe(journal_sql.as_str()))
        .bind(id)
        .bind(line)
        .bind(&kind)
        .bind(journal.date)
        .bind(journal.amount().fen())
        .bind(&detail)
        .bind(now)
        .execute(conn)
        .await
        .map_err(StoreError::from)?
            .rows_affected()
    });
    for (seq, posting) in journal.postings.iter().enumerate() {
        let account = serde_json::to_value(posting.account)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        bianmin_store::on_tx!(tx, conn => {
            sqlx::query(sqlx::AssertSqlSafe(posting_sql.as_str()))
            .bind(id)
            .bind(i64::try_from(seq).unwrap_or(i64::MAX))
            .bind(line)
            .bind(&account)
            .bind(posting.debit.fen())
            .bind(posting.credit.fen())
            .execute(conn)
            .await
            .map_err(StoreError::from)?
            .rows_affected()
        });
    }
    Ok(())
}

/// Saves the line's new state (optimistically: the version must not have moved).
pub(crate) async fn save_line(
    tx: &mut Tx,
    row: &LineRow,
    line: &CreditLine,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let json = serde_json::to_string(line).map_err(ApiError::internal)?;
    let status = line
        .position()
        .map(|p| status_text(p.status))
        .unwrap_or_else(|_| "active".to_owned());
    let updated = bianmin_store::on_tx!(tx, conn => {
        sqlx::query(
            "UPDATE credit_lines SET state_json = $1, status = $2, accrued_through = $3, \
             version = version + 1, updated_at = $4 WHERE id = $5 AND version = $6",
        )
        .bind(&json)
        .bind(&status)
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

/// How long before expiry a line may be re-approved.
const RENEWAL_WINDOW_DAYS: i64 = 30;

/// What a renewal answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct RenewalResult {
    /// The re-approval, decided like an application (its timeline, offer or reasons).
    pub application: super::application::ApplicationView,
    /// The line: renewed for a year at the new limit and price if approved, unchanged if not.
    pub line: LineView,
}

/// The annual re-approval (续期): within 30 days of expiry or after it, the line is decided
/// again on fresh data under the applicant's consents (the same two as an application); if
/// approved, it runs for another year at the new limit and price (the contract provides for
/// renewal on re-approval); if declined, it stays as it is and expires, owing what it owes.
#[utoipa::path(post, path = "/api/v1/me/loan/line/renewal", tag = "lending",
    responses((status = 200, body = RenewalResult), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn renew(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Response, ApiError> {
    let person = citizen(&principal)?;
    let row = load_line(&state, person)
        .await?
        .ok_or_else(|| ApiError::not_found("您尚未开通闪电贷额度。"))?;
    let line = row.line()?;
    let today = state.clock().today_china();
    let opens = line.expires_on() - chrono::Duration::days(RENEWAL_WINDOW_DAYS);
    if today < opens {
        return Err(conflict(
            "loan.renewal_too_early",
            format!(
                "额度有效期至 {}，可在到期前 {RENEWAL_WINDOW_DAYS} 天内（{opens} 起）申请续期。",
                line.expires_on()
            ),
        ));
    }
    let limit = line.terms().limit;
    // A renewal refused for want of consent waits for them: submit that one again.
    let pending = super::application::latest(&state, person)
        .await?
        .filter(|row| {
            row.purpose == super::application::RENEWAL.0
                && matches!(row.state.as_str(), "awaiting_consent" | "failed")
        });
    let id = match pending {
        Some(row) => row.id,
        None => {
            super::application::create_renewal(&state, person, limit)
                .await?
                .id
        }
    };
    let decided = super::application::submit_for(&state, person, id).await?;
    if let Some(offer) = &decided.offer {
        let new_limit = Money::parse(&offer.limit).map_err(ApiError::internal)?;
        let daily = Rate::parse(&offer.daily_rate).map_err(ApiError::internal)?;
        let annual = super::ledger_annual_rate(daily)?;
        let now = state.clock().now();
        let mut tx = state.store().begin_write().await?;
        let row = lock_line(&mut tx, person)
            .await?
            .ok_or_else(|| ApiError::internal("line vanished"))?;
        let mut line = row.line()?;
        let journals = line.renew(today, new_limit, annual).map_err(ledger_error)?;
        for journal in &journals {
            insert_journal(&mut tx, row.id, Uuid::now_v7(), journal, None, now).await?;
        }
        save_line(&mut tx, &row, &line, now).await?;
        bianmin_store::on_tx!(&mut tx, conn => {
            sqlx::query(
                "UPDATE credit_lines SET limit_fen = $1, expires_on = $2 WHERE id = $3",
            )
            .bind(new_limit.fen())
            .bind(line.expires_on())
            .bind(row.id)
            .execute(conn)
            .await
            .map_err(StoreError::from)?
            .rows_affected()
        });
        bianmin_store::on_tx!(&mut tx, conn => {
            sqlx::query(
                "UPDATE loan_applications SET state = 'signed', updated_at = $1 WHERE id = $2",
            )
            .bind(now)
            .bind(id)
            .execute(conn)
            .await
            .map_err(StoreError::from)?
            .rows_affected()
        });
        tx.append_event(&NewEvent::new(
            "loan.line_renewed",
            "credit_line",
            row.id.to_string(),
            json!({ "limit_band": amount_band(new_limit) }),
            now,
        ))
        .await?;
        tx.commit().await?;
    }
    let application =
        super::application::view(&state, super::application::load(&state, person, id).await?)
            .await?;
    let line = line_view(&state, person)
        .await?
        .ok_or_else(|| ApiError::internal("line vanished"))?;
    Ok(no_store(RenewalResult { application, line }))
}

/// Lines per multi-row UPDATE of the nightly job (five parameters each).
const UPDATE_CHUNK: usize = 500;

/// A line brought up to date by the nightly job, ready to be written.
struct Accrued {
    id: Uuid,
    version: i64,
    json: String,
    status: String,
    accrued_until: NaiveDate,
    journals: Vec<Journal>,
}

/// Accrues `rows` through `date`, split across the machine's cores.
fn accrue_rows(rows: Vec<LineRow>, date: NaiveDate) -> Result<Vec<Accrued>, ApiError> {
    let one = |row: &LineRow| -> Result<Accrued, ApiError> {
        let mut line = row.line()?;
        let journals = line.accrue_through(date).map_err(ledger_error)?;
        let status = line
            .position()
            .map(|p| status_text(p.status))
            .map_err(ledger_error)?;
        Ok(Accrued {
            id: row.id,
            version: row.version,
            json: serde_json::to_string(&line).map_err(ApiError::internal)?,
            status,
            accrued_until: line.accrued_until(),
            journals,
        })
    };
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let per = rows.len().div_ceil(threads.max(1)).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = rows
            .chunks(per)
            .map(|part| scope.spawn(move || part.iter().map(one).collect::<Result<Vec<_>, _>>()))
            .collect();
        let mut out = Vec::with_capacity(rows.len());
        for handle in handles {
            out.extend(
                handle
                    .join()
                    .map_err(|_| ApiError::internal("accrual thread panicked"))??,
            );
        }
        Ok(out)
    })
}

/// Writes accrued lines with one UPDATE … FROM (VALUES …); every line's version must still be
/// the one read (else the whole batch rolls back and the next run does it again).
async fn update_lines(tx: &mut Tx, lines: &[Accrued], now: DateTime<Utc>) -> Result<(), ApiError> {
    use std::fmt::Write as _;
    // SQLite gets anonymous `?` parameters, bound in the order they appear: sqlx looks each
    // `$N` up by name, a scan of the statement's parameters, so 2,501 of them cost the square
    // (see `crate::insight`).
    let sqlite = matches!(tx, Tx::Sqlite(_));
    let mut sql = String::from(if sqlite {
        "UPDATE credit_lines SET state_json = v.column2, status = v.column3, \
         accrued_through = v.column4, version = credit_lines.version + 1, updated_at = ? \
         FROM (VALUES "
    } else {
        "UPDATE credit_lines SET state_json = v.column2, status = v.column3, \
         accrued_through = v.column4, version = credit_lines.version + 1, updated_at = $1 \
         FROM (VALUES "
    });
    for i in 0..lines.len() {
        let separator = if i == 0 { "" } else { ", " };
        if sqlite {
            let _ = write!(sql, "{separator}(?, ?, ?, ?, ?)");
        } else {
            let base = 2 + i * 5;
            let _ = write!(
                sql,
                "{separator}(${}, ${}, ${}, ${}, ${})",
                base,
                base + 1,
                base + 2,
                base + 3,
                base + 4
            );
        }
    }
    sql.push_str(") AS v WHERE credit_lines.id = v.column1 AND credit_lines.version = v.column5");
    let updated = bianmin_store::on_tx!(tx, conn => {
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).bind(now);
        for line in lines {
            query = query
                .bind(line.id)
                .bind(&line.json)
                .bind(&line.status)
                .bind(line.accrued_until)
                .bind(line.version);
        }
        query
            .execute(conn)
            .await
            .map_err(StoreError::from)?
            .rows_affected()
    });
    if updated != lines.len() as u64 {
        return Err(conflict(
            "loan.busy",
            "额度在计息时被其他交易修改，本批次将在下次计息时重做。",
        ));
    }
    Ok(())
}

/// The nightly job: brings every line not yet accrued through `date` up to it, in batches of
/// `batch` lines per transaction; returns how many lines it accrued.
///
/// # Errors
///
/// A database failure, or a ledger refusal (a corrupt line): the batch rolls back.
pub async fn accrue_all(state: &AppState, date: NaiveDate, batch: i64) -> Result<u64, ApiError> {
    let mut done = 0_u64;
    // Keyset pagination on the primary key: each batch starts where the last one ended.
    let mut after = Uuid::nil();
    loop {
        let now = state.clock().now();
        let mut tx = state.store().begin_write().await?;
        let rows = bianmin_store::on_tx!(&mut tx, conn => {
            sqlx::query_as::<_, LineRow>(
                "SELECT id, state_json, version FROM credit_lines \
                 WHERE id > $1 AND accrued_through < $2 AND status <> 'closed' \
                 ORDER BY id LIMIT $3",
            )
            .bind(after)
            .bind(date)
            .bind(batch)
            .fetch_all(conn)
            .await
            .map_err(StoreError::from)?
        });
        let Some(last) = rows.last() else {
            tx.commit().await?;
            return Ok(done);
        };
        after = last.id;
        // The ledger work (parse, accrue, serialise) on every core, off the async threads;
        // then the journals (a statement night's) and one multi-row UPDATE per chunk.
        let accrued = tokio::task::spawn_blocking(move || accrue_rows(rows, date))
            .await
            .map_err(ApiError::internal)??;
        for line in &accrued {
            for journal in &line.journals {
                insert_journal(&mut tx, line.id, Uuid::now_v7(), journal, None, now).await?;
            }
        }
        for chunk in accrued.chunks(UPDATE_CHUNK) {
            update_lines(&mut tx, chunk, now).await?;
        }
        done += accrued.len() as u64;
        tx.commit().await?;
    }
}
