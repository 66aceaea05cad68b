//! The application: amount and purpose, the two consents, and the decision — real-name check
//! and every agency fetched in parallel through the gateway, then the pure, replayable
//! `decide`. Each step is recorded (the timeline), published to the SSE stream and, where it
//! changes the application's state, written as a domain event in the same transaction.

use std::convert::Infallible;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use bianmin_consent::Purpose;
use bianmin_core::Money;
use bianmin_exchange::ExchangeError;
use bianmin_gateway::{BatchItem, FetchError, Gateway};
use bianmin_govsim::records::court::CourtCases;
use bianmin_govsim::records::credit::CreditReportRecord;
use bianmin_govsim::records::housing_fund::HpfAccount;
use bianmin_govsim::records::identity::{IdentityVerification, VerifyResult};
use bianmin_govsim::records::social_insurance::SiStatus;
use bianmin_govsim::records::tax::TaxIncome;
use bianmin_lending::decision::{Application, Decision, Outcome, decide};
use bianmin_lending::features::AgencyRecords;
use bianmin_store::{NewEvent, StoreError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::review::ReviewView;
use super::{
    APPLICATIONS, Broadcast, FORBIDDEN_PURPOSES, MAX_AMOUNT, MIN_AMOUNT, OfferView, PURPOSES,
    TimelineEntry, citizen, conflict, open_decision, purpose_label, seal_json,
};
use crate::app::AppState;
use crate::auth::Principal;
use crate::http::json::ApiJson;
use crate::http::no_store;
use crate::http::path::ApiPath;
use crate::http::problem::{ApiError, Problem};

/// An application left `processing` this long (its request died) may be submitted again.
const STALE_PROCESSING_SECS: i64 = 120;
/// How long an SSE stream stays open waiting for a decision.
const STREAM_SECS: u64 = 120;

/// An application as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct ApplicationRow {
    pub id: Uuid,
    pub person_id: Uuid,
    pub requested_fen: i64,
    pub purpose: String,
    pub state: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decision_ms: Option<i64>,
    pub decision_enc: Option<Vec<u8>>,
    pub records_enc: Option<Vec<u8>>,
}

const COLUMNS: &str = "id, person_id, requested_fen, purpose, state, created_at, updated_at, \
     decided_at, decision_ms, decision_enc, records_enc";

/// Whether one of the two consents is held.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConsentState {
    /// `LOAN_UNDERWRITING` or `LOAN_CREDIT_REPORT`.
    pub purpose: &'static str,
    /// A live, usable consent exists.
    pub granted: bool,
}

/// The two consents of an application.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConsentsView {
    /// Government data: identity, 公积金, 社保, 税务, 法院.
    pub government: ConsentState,
    /// The PBoC credit report (征信), asked for separately.
    pub credit_report: ConsentState,
}

/// A reason for a decline.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReasonView {
    /// Stable code (`P02_DISHONEST`, `S03_…`, `X04_…`, `D01_…`).
    pub code: String,
    /// The reason in Chinese.
    pub reason: String,
}

/// An application as its applicant sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApplicationView {
    /// Application id.
    pub id: Uuid,
    /// Amount asked for.
    pub amount: String,
    /// Purpose code.
    pub purpose: String,
    /// Purpose label.
    pub purpose_label: String,
    /// `awaiting_consent`, `processing`, `approved`, `declined`, `signed` or `failed`.
    pub state: String,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Decided.
    pub decided_at: Option<DateTime<Utc>>,
    /// Milliseconds from submission to decision.
    pub decision_ms: Option<i64>,
    /// The two consents.
    pub consents: ConsentsView,
    /// The offer, once approved (by the model, or by a reviewer overturning a decline).
    pub offer: Option<OfferView>,
    /// Why it was declined (empty otherwise).
    pub reasons: Vec<ReasonView>,
    /// Human review, if asked for.
    pub review: Option<ReviewView>,
    /// Every step so far.
    pub timeline: Vec<TimelineEntry>,
}

/// The product as shown before applying.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProductView {
    /// 闪电贷.
    pub name: &'static str,
    /// The largest line.
    pub max_limit: String,
    /// The smallest line one may apply for.
    pub min_amount: String,
    /// Lowest APR offered.
    pub apr_min: String,
    /// Highest APR offered (at most 24%).
    pub apr_max: String,
    /// Permitted purposes.
    pub purposes: Vec<PurposeView>,
    /// What the money may not be used for.
    pub forbidden_uses: Vec<&'static str>,
}

/// A purpose.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PurposeView {
    /// Code.
    pub code: &'static str,
    /// Label.
    pub label: &'static str,
}

/// The bank account the line pays into.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BankAccountView {
    /// 尾号.
    pub suffix: String,
    /// Balance.
    pub balance: String,
}

/// `GET /api/v1/me/loan`.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoanOverview {
    /// The product.
    pub product: ProductView,
    /// The latest application.
    pub application: Option<ApplicationView>,
    /// The line, once signed.
    pub line: Option<super::line::LineView>,
    /// The bank account.
    pub bank_account: Option<BankAccountView>,
}

/// The signed-in citizen's 闪电贷: the product, their latest application and their line.
#[utoipa::path(get, path = "/api/v1/me/loan", tag = "lending",
    responses((status = 200, body = LoanOverview), (status = 403, body = Problem)))]
pub async fn overview(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Response, ApiError> {
    let person = citizen(&principal)?;
    let (apr_min, apr_max) = state.lending().apr_range();
    let product = ProductView {
        name: "闪电贷",
        max_limit: MAX_AMOUNT.to_string(),
        min_amount: MIN_AMOUNT.to_string(),
        apr_min: apr_min.to_string(),
        apr_max: apr_max.to_string(),
        purposes: PURPOSES
            .iter()
            .map(|(code, label)| PurposeView { code, label })
            .collect(),
        forbidden_uses: FORBIDDEN_PURPOSES.iter().map(|(_, label)| *label).collect(),
    };
    let application = match latest(&state, person).await? {
        Some(row) => Some(view(&state, row).await?),
        None => None,
    };
    let line = super::line::line_view(&state, person).await?;
    let bank_account = bank_account(&state, person).await?;
    Ok(no_store(LoanOverview {
        product,
        application,
        line,
        bank_account,
    }))
}

/// The citizen's bank account, if any.
pub(crate) async fn bank_account(
    state: &AppState,
    person: Uuid,
) -> Result<Option<BankAccountView>, ApiError> {
    Ok(state
        .accounts()
        .view(person)
        .await
        .map_err(ApiError::internal)?
        .map(|a| BankAccountView {
            suffix: a.suffix,
            balance: a.balance.to_string(),
        }))
}

/// Body of `POST /api/v1/me/loan/applications`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApplication {
    /// Amount wanted, yuan (1,000–200,000, a multiple of 100).
    pub amount: String,
    /// Purpose code (see `GET /api/v1/me/loan`).
    pub purpose: String,
}

/// Applies for a line: checks the amount and purpose and records the application, which then
/// waits for the applicant's two consents.
#[utoipa::path(post, path = "/api/v1/me/loan/applications", tag = "lending",
    request_body = NewApplication,
    responses((status = 201, body = ApplicationView), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<NewApplication>,
) -> Result<Response, ApiError> {
    let person = citizen(&principal)?;
    let view = create_for(&state, person, &body).await?;
    Ok((StatusCode::CREATED, no_store(view)).into_response())
}

/// Records an application of `person` (the handler's work, for tools and benchmarks).
///
/// # Errors
///
/// As `POST /api/v1/me/loan/applications`.
pub async fn create_for(
    state: &AppState,
    person: Uuid,
    body: &NewApplication,
) -> Result<ApplicationView, ApiError> {
    let amount = check_amount(&body.amount)?;
    let purpose = check_purpose(&body.purpose)?;
    if super::line::has_line(state, person).await? {
        return Err(conflict(
            "loan.line_exists",
            "您已开通闪电贷额度，可直接在额度内借款。",
        ));
    }
    record_application(state, person, amount, purpose).await
}

/// The purpose recorded for the annual re-approval of a line.
pub const RENEWAL: (&str, &str) = ("renewal", "额度续期");

/// Records the annual re-approval of `person`'s line of `limit` as an application (decided
/// like any other, on fresh data under fresh consents).
pub(crate) async fn create_renewal(
    state: &AppState,
    person: Uuid,
    limit: Money,
) -> Result<ApplicationView, ApiError> {
    record_application(state, person, limit, RENEWAL).await
}

async fn record_application(
    state: &AppState,
    person: Uuid,
    amount: Money,
    purpose: (&'static str, &'static str),
) -> Result<ApplicationView, ApiError> {
    let state = state.clone();
    let id = Uuid::now_v7();
    let now = state.clock().now();
    let entry = TimelineEntry {
        seq: 1,
        step: "application".into(),
        label: "提交申请".into(),
        state: "done".into(),
        at: now,
        detail: Some(format!("申请额度 {amount} 元，用途：{}", purpose.1)),
    };
    let mut tx = state.store().begin_write().await?;
    let inserted = bianmin_store::on_tx!(&mut tx, conn => {
        sqlx::query(
            "INSERT INTO loan_applications (id, person_id, requested_fen, purpose, state, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, 'awaiting_consent', $5, $5)",
        )
        .bind(id)
        .bind(person)
        .bind(amount.fen())
        .bind(purpose.0)
        .bind(now)
        .execute(conn)
        .await
            .map(|r| r.rows_affected())
    });
    if let Err(e) = inserted {
        if is_unique_violation(&e) {
            return Err(conflict(
                "loan.application_open",
                "您有一笔申请正在办理中，请先完成或等待审批结果。",
            ));
        }
        return Err(StoreError::from(e).into());
    }
    insert_steps(&mut tx, id, std::slice::from_ref(&entry)).await?;
    tx.append_event(&NewEvent::new(
        "loan.applied",
        "loan_application",
        id.to_string(),
        json!({ "purpose": purpose.0, "amount_band": amount_band(amount), "channel": "h5" }),
        now,
    ))
    .await?;
    tx.commit().await?;
    let row = load(&state, person, id).await?;
    view(&state, row).await
}

fn check_amount(input: &str) -> Result<Money, ApiError> {
    let invalid = || {
        ApiError::invalid(
            "loan.invalid_amount",
            format!(
                "申请金额应为 {} 至 {} 元之间、100 元的整数倍。",
                MIN_AMOUNT.to_yuan().trunc(),
                MAX_AMOUNT.to_yuan().trunc()
            ),
        )
    };
    let amount = Money::parse_positive(input.trim()).map_err(|_| invalid())?;
    if amount < MIN_AMOUNT || amount > MAX_AMOUNT || amount.fen() % 10_000 != 0 {
        return Err(invalid());
    }
    Ok(amount)
}

fn check_purpose(code: &str) -> Result<(&'static str, &'static str), ApiError> {
    if let Some((code, label)) = PURPOSES.iter().find(|(c, _)| *c == code) {
        return Ok((code, label));
    }
    if let Some((_, label)) = FORBIDDEN_PURPOSES.iter().find(|(c, _)| *c == code) {
        return Err(ApiError::invalid(
            "loan.purpose_not_allowed",
            format!("个人消费贷款不得用于{label}。贷款资金不得用于购房、证券、期货、股权投资等。"),
        ));
    }
    Err(ApiError::invalid(
        "loan.purpose_not_allowed",
        "请从列表中选择借款用途。贷款资金不得用于购房、证券、期货、股权投资等。",
    ))
}

/// A coarse band of an amount, for events (never the amount itself).
pub(crate) fn amount_band(amount: Money) -> &'static str {
    match amount.fen() / 100 {
        ..=10_000 => "<=1万",
        10_001..=50_000 => "1-5万",
        50_001..=100_000 => "5-10万",
        _ => ">10万",
    }
}

pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// The applicant's latest application.
pub(crate) async fn latest(
    state: &AppState,
    person: Uuid,
) -> Result<Option<ApplicationRow>, ApiError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM loan_applications WHERE person_id = $1 \
         ORDER BY created_at DESC, id DESC LIMIT 1"
    );
    Ok(bianmin_store::on_pool!(state.store(), pool => {
        sqlx::query_as::<_, ApplicationRow>(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(person)
            .fetch_optional(pool)
            .await
            .map_err(StoreError::from)?
    }))
}

/// Application `id`, if it is `person`'s (another person's answers 404 like an unknown id).
pub(crate) async fn load(
    state: &AppState,
    person: Uuid,
    id: Uuid,
) -> Result<ApplicationRow, ApiError> {
    load_any(state, id)
        .await?
        .filter(|row| row.person_id == person)
        .ok_or_else(|| ApiError::not_found("未找到该申请。"))
}

/// Application `id`, whoever's it is (the console).
pub(crate) async fn load_any(
    state: &AppState,
    id: Uuid,
) -> Result<Option<ApplicationRow>, ApiError> {
    let sql = format!("SELECT {COLUMNS} FROM loan_applications WHERE id = $1");
    Ok(bianmin_store::on_pool!(state.store(), pool => {
        sqlx::query_as::<_, ApplicationRow>(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(id)
            .fetch_optional(pool)
            .await
            .map_err(StoreError::from)?
    }))
}

/// The timeline of application `id`.
pub(crate) async fn steps(state: &AppState, id: Uuid) -> Result<Vec<TimelineEntry>, ApiError> {
    #[derive(sqlx::FromRow)]
    struct StepRow {
        seq: i64,
        step: String,
        state: String,
        at: DateTime<Utc>,
        detail: Option<String>,
    }
    let rows = bianmin_store::on_pool!(state.store(), pool => {
        sqlx::query_as::<_, StepRow>(
            "SELECT seq, step, state, at, detail FROM loan_steps WHERE application_id = $1 \
             ORDER BY seq",
        )
        .bind(id)
        .fetch_all(pool)
        .await
        .map_err(StoreError::from)?
    });
    Ok(rows
        .into_iter()
        .map(|r| TimelineEntry {
            seq: r.seq,
            label: step_label(&r.step).to_owned(),
            step: r.step,
            state: r.state,
            at: r.at,
            detail: r.detail,
        })
        .collect())
}

/// The Chinese label of a step.
pub fn step_label(step: &str) -> &'static str {
    match step {
        "application" => "提交申请",
        "consent" => "授权确认",
        "identity" => "实名核验",
        "data" => "数据获取",
        "crosscheck" => "交叉核验",
        "policy" => "政策规则",
        "score" => "模型评分",
        "decision" => "审批结果",
        "review" => "人工复核",
        "contract" => "签署合同",
        "line" => "额度开通",
        _ => "处理",
    }
}

/// Writes timeline entries inside `tx`.
pub(crate) async fn insert_steps(
    tx: &mut bianmin_store::Tx,
    id: Uuid,
    entries: &[TimelineEntry],
) -> Result<(), ApiError> {
    if entries.is_empty() {
        return Ok(());
    }
    // One statement for all of them (a decision stores about eight): each statement is a
    // round trip made while holding the write lock.
    bianmin_store::on_tx!(tx, conn => {
        let mut insert = sqlx::QueryBuilder::new(
            "INSERT INTO loan_steps (application_id, seq, step, state, at, detail) ",
        );
        insert.push_values(entries, |mut row, entry| {
            row.push_bind(id)
                .push_bind(entry.seq)
                .push_bind(&entry.step)
                .push_bind(&entry.state)
                .push_bind(entry.at)
                .push_bind(&entry.detail);
        });
        insert
            .build()
            .execute(conn)
            .await
            .map_err(StoreError::from)?;
    });
    Ok(())
}

/// The next free step number of application `id`.
pub(crate) async fn next_seq(state: &AppState, id: Uuid) -> Result<i64, ApiError> {
    let max: Option<i64> = bianmin_store::on_pool!(state.store(), pool => {
        sqlx::query_scalar("SELECT MAX(seq) FROM loan_steps WHERE application_id = $1")
            .bind(id)
            .fetch_one(pool)
            .await
            .map_err(StoreError::from)?
    });
    Ok(max.unwrap_or(0) + 1)
}

async fn consent_granted(
    state: &AppState,
    gateway: &Gateway,
    person: Uuid,
    purpose: Purpose,
) -> Result<bool, ApiError> {
    let kinds: Vec<String> = purpose
        .data_kinds()
        .iter()
        .map(|k| (*k).to_owned())
        .collect();
    Ok(gateway
        .ledger()
        .find_usable(
            person,
            gateway.client().id(),
            purpose,
            &kinds,
            state.clock().now(),
        )
        .await?
        .is_some())
}

async fn consents(state: &AppState, person: Uuid) -> Result<ConsentsView, ApiError> {
    let (government, credit) = match state.gateway() {
        Some(gateway) => (
            consent_granted(state, gateway, person, Purpose::LoanUnderwriting).await?,
            consent_granted(state, gateway, person, Purpose::LoanCreditReport).await?,
        ),
        None => (false, false),
    };
    Ok(ConsentsView {
        government: ConsentState {
            purpose: Purpose::LoanUnderwriting.code(),
            granted: government,
        },
        credit_report: ConsentState {
            purpose: Purpose::LoanCreditReport.code(),
            granted: credit,
        },
    })
}

/// The application as its applicant sees it.
pub(crate) async fn view(
    state: &AppState,
    row: ApplicationRow,
) -> Result<ApplicationView, ApiError> {
    let person = row.person_id;
    let decision = match &row.decision_enc {
        Some(sealed) => Some(open_decision(state, person, row.id, sealed).await?),
        None => None,
    };
    let review = super::review::review_of(state, row.id).await?;
    let (offer, reasons) = offer_and_reasons(decision.as_ref(), review.as_ref())?;
    let consents = consents(state, person).await?;
    Ok(ApplicationView {
        id: row.id,
        amount: Money::from_fen(row.requested_fen).to_string(),
        purpose_label: purpose_label(&row.purpose)
            .or((row.purpose == RENEWAL.0).then_some(RENEWAL.1))
            .unwrap_or("其他")
            .to_owned(),
        purpose: row.purpose,
        state: row.state,
        created_at: row.created_at,
        decided_at: row.decided_at,
        decision_ms: row.decision_ms,
        consents,
        offer,
        reasons,
        review: review.map(|r| r.view),
        timeline: steps(state, row.id).await?,
    })
}

/// The offer of a decision (or of a reviewer's overturn), and the reasons of a decline.
pub(crate) fn offer_and_reasons(
    decision: Option<&Decision>,
    review: Option<&super::review::Review>,
) -> Result<(Option<OfferView>, Vec<ReasonView>), ApiError> {
    if let Some(review) = review
        && let Some((limit, daily)) = review.overturned_offer()
    {
        return Ok((
            Some(OfferView::new(
                limit,
                daily,
                bianmin_lending::decision::TERM_MONTHS,
            )?),
            Vec::new(),
        ));
    }
    Ok(match decision.map(|d| &d.outcome) {
        Some(Outcome::Approved {
            limit,
            daily_rate,
            term_months,
            ..
        }) => (
            Some(OfferView::new(*limit, *daily_rate, *term_months)?),
            Vec::new(),
        ),
        Some(Outcome::Declined { reasons }) => (
            None,
            reasons
                .iter()
                .map(|r| ReasonView {
                    code: r.code.clone(),
                    reason: r.reason_zh.clone(),
                })
                .collect(),
        ),
        None => (None, Vec::new()),
    })
}

/// Submits the application for a decision: checks both consents, then fetches identity,
/// 公积金, 社保, 税务, 征信 and 法院 in parallel through the gateway, cross-checks, applies the
/// policy, scores and decides; the decision, sealed with what it was made on, is recorded with
/// its versions and inputs hash. Submitting a decided application answers with it again.
#[utoipa::path(post, path = "/api/v1/me/loan/applications/{id}/submit", tag = "lending",
    params(("id" = Uuid, Path, description = "application id")),
    responses((status = 200, body = ApplicationView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem), (status = 503, body = Problem)))]
pub async fn submit(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Response, ApiError> {
    let person = citizen(&principal)?;
    Ok(no_store(submit_for(&state, person, id).await?))
}

/// Submits application `id` of `person` for a decision (the handler's work, for tools and
/// benchmarks).
///
/// # Errors
///
/// As `POST /api/v1/me/loan/applications/{id}/submit`.
pub async fn submit_for(
    state: &AppState,
    person: Uuid,
    id: Uuid,
) -> Result<ApplicationView, ApiError> {
    let state = state.clone();
    let gateway = state
        .gateway()
        .cloned()
        .ok_or_else(ApiError::exchange_not_configured)?;
    let row = load(&state, person, id).await?;
    let now = state.clock().now();
    match row.state.as_str() {
        "awaiting_consent" | "failed" => {}
        "processing" if row.updated_at + chrono::Duration::seconds(STALE_PROCESSING_SECS) < now => {
        }
        "processing" => {
            return Err(conflict("loan.processing", "您的申请正在审批中，请稍候。"));
        }
        _ => return view(&state, row).await,
    }
    for purpose in [Purpose::LoanUnderwriting, Purpose::LoanCreditReport] {
        if !consent_granted(&state, &gateway, person, purpose).await? {
            return Err(FetchError::ConsentRequired { purpose }.into());
        }
    }
    // In a write transaction, not on the pool: on SQLite that queues for the process's turn
    // to write instead of sleeping in SQLite's busy handler (see `Store::begin_write`).
    let mut tx = state.store().begin_write().await?;
    let taken = bianmin_store::on_tx!(&mut tx, conn => {
        sqlx::query(
            "UPDATE loan_applications SET state = 'processing', submitted_at = $1, \
             updated_at = $1 WHERE id = $2 AND state = $3 AND updated_at = $4",
        )
        .bind(now)
        .bind(id)
        .bind(&row.state)
        .bind(row.updated_at)
        .execute(conn)
        .await
        .map_err(StoreError::from)?
        .rows_affected()
    });
    tx.commit().await?;
    if taken != 1 {
        return Err(conflict("loan.processing", "您的申请正在审批中，请稍候。"));
    }
    let started = Instant::now();
    let mut timeline = Timeline {
        state: &state,
        id,
        seq: next_seq(&state, id).await?,
        entries: Vec::new(),
    };
    timeline.push(
        "consent",
        "done",
        Some("已获授权：政务数据查询、征信查询".into()),
    );
    match decide_application(&state, &gateway, &row, &mut timeline).await {
        Ok((decision, records)) => {
            let elapsed = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
            record_decision(&state, &row, &decision, &records, elapsed, timeline.entries).await?;
        }
        Err(e) => {
            timeline.push("decision", "failed", Some(failure_text(&e)));
            record_failure(&state, &row, e.code(), timeline.entries).await?;
            state.lending().publish(Broadcast::Finished(id));
            return Err(e);
        }
    }
    state.lending().publish(Broadcast::Finished(id));
    let row = load(&state, person, id).await?;
    view(&state, row).await
}

fn failure_text(e: &ApiError) -> String {
    match e.code() {
        "loan.identity_mismatch" => "实名核验未通过，申请已终止".into(),
        code if code.starts_with("consent.") => "授权不可用，请重新授权后再提交".into(),
        _ => "数据获取失败，请稍后重新提交".into(),
    }
}

/// Collects the steps of one submission and publishes each as it happens.
struct Timeline<'a> {
    state: &'a AppState,
    id: Uuid,
    seq: i64,
    entries: Vec<TimelineEntry>,
}

impl Timeline<'_> {
    fn push(&mut self, step: &str, state: &str, detail: Option<String>) {
        let entry = TimelineEntry {
            seq: self.seq,
            step: step.to_owned(),
            label: step_label(step).to_owned(),
            state: state.to_owned(),
            at: self.state.clock().now(),
            detail,
        };
        self.seq += 1;
        self.state
            .lending()
            .publish(Broadcast::Step(self.id, entry.clone()));
        self.entries.push(entry);
    }

    /// A `running` notice for the live stream only (not stored: the `done` entry follows).
    fn running(&self, step: &str, detail: &str) {
        self.state.lending().publish(Broadcast::Step(
            self.id,
            TimelineEntry {
                seq: self.seq,
                step: step.to_owned(),
                label: step_label(step).to_owned(),
                state: "running".to_owned(),
                at: self.state.clock().now(),
                detail: Some(detail.to_owned()),
            },
        ));
    }
}

/// `not_found` from an agency means it holds no record: an answer, not a failure.
fn optional<T>(
    result: Result<bianmin_gateway::Fetched<T>, FetchError>,
) -> Result<Option<T>, ApiError> {
    match result {
        Ok(fetched) => Ok(Some(fetched.value)),
        Err(FetchError::Exchange(ExchangeError::NotFound)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

async fn decide_application(
    state: &AppState,
    gateway: &Gateway,
    row: &ApplicationRow,
    timeline: &mut Timeline<'_>,
) -> Result<(Decision, AgencyRecords), ApiError> {
    let person = row.person_id;
    // Sent only to the identity agency, encrypted, under the applicant's consent: recorded as
    // that consent's use and in the exchange log, like the resident id (no audit entry of its
    // own, and no turn at the write lock for one).
    let revealed = state.vault().subject_person(person).await?;
    let identity_body = json!({
        "name": revealed.name,
        "phone": revealed.phone.as_ref().map(|p| p.as_str().to_owned()),
    });
    drop(revealed);
    timeline.running("data", "正在向公积金、社保、税务、征信、法院查询…");
    let underwriting = Purpose::LoanUnderwriting;
    // Every fetch is authorised first, together (one transaction per consent); then the six
    // go out at once. The order here is the index each is sent by below.
    let item = |purpose, code, body| BatchItem {
        purpose,
        code,
        body,
    };
    let batch = gateway
        .authorize_batch(
            person,
            vec![
                item(underwriting, "identity.verify", identity_body),
                item(underwriting, "hpf.account", json!({})),
                item(underwriting, "si.status", json!({})),
                item(underwriting, "tax.income", json!({})),
                item(Purpose::LoanCreditReport, "credit.report", json!({})),
                item(underwriting, "court.cases", json!({})),
            ],
        )
        .await?;
    let batch = &batch;
    let lending = state.lending().clone();
    let id = row.id;
    let seq = timeline.seq;
    let clock_state = state.clone();
    // The real-name check runs alongside the data fetches (one round trip, not two); the
    // decision waits for it and nothing is decided on a mismatch.
    let identity = async move {
        let result = gateway
            .send_authorized::<IdentityVerification>(batch, 0)
            .await;
        if matches!(&result, Ok(f) if f.value.result == VerifyResult::Match) {
            lending.publish(Broadcast::Step(
                id,
                TimelineEntry {
                    seq,
                    step: "identity".into(),
                    label: step_label("identity").into(),
                    state: "done".into(),
                    at: clock_state.clock().now(),
                    detail: Some("身份信息一致".into()),
                },
            ));
        }
        result
    };
    let (identity, hpf, si, tax, credit, court) = tokio::join!(
        identity,
        gateway.send_authorized::<HpfAccount>(batch, 1),
        gateway.send_authorized::<SiStatus>(batch, 2),
        gateway.send_authorized::<TaxIncome>(batch, 3),
        gateway.send_authorized::<CreditReportRecord>(batch, 4),
        gateway.send_authorized::<CourtCases>(batch, 5),
    );
    let identity = identity?.value;
    let birth_date = match (identity.result, identity.birth_date) {
        (VerifyResult::Match, Some(birth_date)) => birth_date,
        _ => {
            timeline.push(
                "identity",
                "failed",
                Some("身份信息与公安登记不一致".into()),
            );
            return Err(ApiError::invalid(
                "loan.identity_mismatch",
                "实名核验未通过：您的身份信息与公安登记不一致，请到柜台核实。",
            ));
        }
    };
    timeline.push("identity", "done", Some("身份信息一致".into()));
    let records = AgencyRecords {
        birth_date,
        hpf: optional(hpf)?,
        si: optional(si)?,
        tax: optional(tax)?,
        credit: credit?.value,
        court: court?.value,
    };
    let found: Vec<&str> = [
        records.hpf.as_ref().map(|_| "公积金"),
        records.si.as_ref().map(|_| "社保"),
        records.tax.as_ref().map(|_| "税务"),
        Some("征信"),
        Some("法院"),
    ]
    .into_iter()
    .flatten()
    .collect();
    timeline.push(
        "data",
        "done",
        Some(format!("已获取：{}（并行查询）", found.join("、"))),
    );

    let application = Application {
        requested_amount: Money::from_fen(row.requested_fen),
        // A renewal replaces the line it renews: that line's limit is not "existing" credit.
        existing_online_credit: if row.purpose == RENEWAL.0 {
            Money::ZERO
        } else {
            super::line::existing_limits(state, person).await?
        },
        applied_on: state.clock().today_china(),
    };
    let context = state.lending().context();
    let decision = decide(&application, &records, &context).map_err(|e| {
        ApiError::invalid(
            e.code(),
            format!("暂时无法完成审批（{}），请稍后重试或联系客服。", e.code()),
        )
    })?;
    let flags = decision.flags.len();
    timeline.push(
        "crosscheck",
        "done",
        Some(if flags == 0 {
            "收入、单位与缴存信息相互印证".into()
        } else {
            format!("发现 {flags} 处数据不一致，已纳入审批")
        }),
    );
    let failed = decision.policy_results.iter().filter(|r| !r.passed).count();
    timeline.push(
        "policy",
        "done",
        Some(if failed == 0 {
            format!("{} 项政策规则全部通过", decision.policy_results.len())
        } else {
            format!("{failed} 项政策规则未通过")
        }),
    );
    timeline.push(
        "score",
        "done",
        Some(format!("评分模型 {} 已完成评分", decision.model_version)),
    );
    let text = match &decision.outcome {
        Outcome::Approved { limit, .. } => format!("审批通过，授信额度 {limit} 元"),
        Outcome::Declined { .. } => "很抱歉，本次申请未通过".to_owned(),
    };
    timeline.push(
        "decision",
        if decision.outcome.is_approved() {
            "done"
        } else {
            "failed"
        },
        Some(text),
    );
    Ok((decision, records))
}

async fn record_decision(
    state: &AppState,
    row: &ApplicationRow,
    decision: &Decision,
    records: &AgencyRecords,
    elapsed_ms: i64,
    entries: Vec<TimelineEntry>,
) -> Result<(), ApiError> {
    let person = row.person_id;
    let decision_enc = seal_json(
        state,
        person,
        APPLICATIONS,
        "decision_enc",
        row.id,
        decision,
    )
    .await?;
    let records_enc =
        seal_json(state, person, APPLICATIONS, "records_enc", row.id, records).await?;
    let approved = decision.outcome.is_approved();
    let outcome = if approved { "approved" } else { "declined" };
    let now = state.clock().now();
    let demographics = state.demographics(person).await;
    let mut tx = state.store().begin_write().await?;
    bianmin_store::on_tx!(&mut tx, conn => {
        sqlx::query(
            "UPDATE loan_applications SET state = $1, outcome = $1, decided_at = $2, \
             updated_at = $2, decision_ms = $3, model_version = $4, policy_version = $5, \
             pricing_version = $6, inputs_hash = $7, decision_enc = $8, records_enc = $9, \
             failure_code = NULL WHERE id = $10",
        )
        .bind(outcome)
        .bind(now)
        .bind(elapsed_ms)
        .bind(&decision.model_version)
        .bind(&decision.policy_version)
        .bind(&decision.pricing_version)
        .bind(&decision.inputs_hash)
        .bind(&decision_enc)
        .bind(&records_enc)
        .bind(row.id)
        .execute(conn)
        .await
        .map_err(StoreError::from)?
            .rows_affected()
    });
    insert_steps(&mut tx, row.id, &entries).await?;
    tx.append_event(&NewEvent::new(
        "loan.decided",
        "loan_application",
        row.id.to_string(),
        json!({
            "outcome": outcome,
            "decision_ms": elapsed_ms,
            "model_version": decision.model_version,
            "policy_version": decision.policy_version,
            "purpose": row.purpose,
            "amount_band": amount_band(Money::from_fen(row.requested_fen)),
            "district": demographics.and_then(|d| d.district),
            "age_band": demographics.map(|d| d.age_band),
            "channel": "h5",
        }),
        now,
    ))
    .await?;
    tx.commit().await?;
    Ok(())
}

async fn record_failure(
    state: &AppState,
    row: &ApplicationRow,
    code: &str,
    entries: Vec<TimelineEntry>,
) -> Result<(), ApiError> {
    let now = state.clock().now();
    let mut tx = state.store().begin_write().await?;
    bianmin_store::on_tx!(&mut tx, conn => {
        sqlx::query(
            "UPDATE loan_applications SET state = 'failed', failure_code = $1, updated_at = $2 \
             WHERE id = $3",
        )
        .bind(code)
        .bind(now)
        .bind(row.id)
        .execute(conn)
        .await
        .map_err(StoreError::from)?
            .rows_affected()
    });
    insert_steps(&mut tx, row.id, &entries).await?;
    tx.commit().await?;
    Ok(())
}

/// The timeline as a live stream (`text/event-stream`): every step so far as `step` events,
/// then each new step as it happens, and a final `state` event with the application once it
/// is decided (or at once, if it already is).
#[utoipa::path(get, path = "/api/v1/me/loan/applications/{id}/events", tag = "lending",
    params(("id" = Uuid, Path, description = "application id")),
    responses((status = 200, description = "text/event-stream of `step` and `state` events"), (status = 404, body = Problem)))]
pub async fn events(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Response, ApiError> {
    let person = citizen(&principal)?;
    // Subscribe before reading what is stored, so nothing falls between the two.
    let mut updates = state.lending().subscribe();
    let row = load(&state, person, id).await?;
    let stored = steps(&state, id).await?;
    let finished = !matches!(row.state.as_str(), "awaiting_consent" | "processing");
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Event, Infallible>>(64);
    tokio::spawn(async move {
        let mut last = 0;
        for entry in stored {
            last = last.max(entry.seq);
            if tx.send(Ok(step_event(&entry))).await.is_err() {
                return;
            }
        }
        if !finished {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(STREAM_SECS);
            loop {
                match tokio::time::timeout_at(deadline, updates.recv()).await {
                    Ok(Ok(Broadcast::Step(app, entry))) if app == id => {
                        let live = entry.state == "running";
                        if live || entry.seq > last {
                            if !live {
                                last = entry.seq;
                            }
                            if tx.send(Ok(step_event(&entry))).await.is_err() {
                                return;
                            }
                        }
                    }
                    Ok(Ok(Broadcast::Finished(app))) if app == id => break,
                    Ok(Ok(_)) => {}
                    Ok(Err(_)) | Err(_) => break,
                }
            }
        }
        if let Ok(row) = load(&state, person, id).await
            && let Ok(view) = view(&state, row).await
            && let Ok(json) = serde_json::to_string(&view)
        {
            let _ = tx
                .send(Ok(Event::default().event("state").data(json)))
                .await;
        }
    });
    let mut response = Sse::new(tokio_stream::wrappers::ReceiverStream::new(rx))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(10)))
        .into_response();
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}

fn step_event(entry: &TimelineEntry) -> Event {
    Event::default()
        .event("step")
        .data(serde_json::to_string(entry).unwrap_or_default())
}
