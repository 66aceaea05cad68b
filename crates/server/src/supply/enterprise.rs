//! The core enterprise's side: onboarding by the bank, the data-sharing agreement signed by
//! the enterprise's staff, the distributor list and the batch pre-approval pulled through the
//! exchange, the bank console's view per enterprise and the enterprise's view of its
//! distributors' use of their lines.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bianmin_core::Money;
use bianmin_core::Uscc;
use bianmin_govsim::records::enterprise::{
    DistributorRecord, DistributorTrade, Distributors, EnterpriseTrade, MAX_PAGE_SIZE,
    MAX_TRADE_BATCH,
};
use bianmin_lending::supply::{DistributorFacts, PreApproval, PreOutcome, Reason, pre_approve};
use bianmin_store::{AuditEntry, NewEvent, StoreError, on_pool};
use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::Semaphore;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{
    AGREEMENT_DEFAULT_DAYS, AGREEMENT_PURPOSE, AGREEMENT_SCOPE, AgreementRow, EnterpriseRow,
    call_unchecked, enterprise, enterprise_of_institution, enterprises, latest_agreement, policy,
    require_agreement,
};
use crate::app::AppState;
use crate::auth::{InstitutionKind, Principal, Role, institution_kind};
use crate::http::json::ApiJson;
use crate::http::no_store;
use crate::http::path::ApiPath;
use crate::http::problem::{ApiError, Problem};
use crate::http::query::ApiQuery;

/// Days a pre-approved offer stays open.
pub const OFFER_DAYS: u64 = 30;
/// Concurrent calls to the enterprise during a batch.
const CONCURRENT_CALLS: usize = 8;
/// Distributors written per transaction of a batch.
const STORE_CHUNK: usize = 500;

/// The roles of the bank console that work supply-chain credit.
const BANK: &[Role] = &[Role::BankOperator, Role::Admin];

// ---------------------------------------------------------------------------------------------
// Onboarding and the agreement
// ---------------------------------------------------------------------------------------------

/// Body of `POST /api/v1/console/supply/enterprises`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEnterprise {
    /// Name, e.g. A集团.
    pub name: String,
    /// 统一社会信用代码 (18 characters, check character validated).
    pub uscc: String,
    /// The institution code of its staff (a core enterprise's, e.g. `inst-agroup`).
    pub institution: String,
    /// The exchange subsystem that serves its distributors' data.
    pub subsystem: String,
}

/// A data-sharing agreement as shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgreementView {
    /// Id.
    pub id: Uuid,
    /// `active`, `expired` or `revoked`.
    pub state: &'static str,
    /// 有效 / 已到期 / 已撤回.
    pub state_text: &'static str,
    /// Services the bank may call.
    pub scope: Vec<ScopeItem>,
    /// Purpose.
    pub purpose: String,
    /// Signed.
    pub granted_at: DateTime<Utc>,
    /// Runs until.
    pub expires_at: DateTime<Utc>,
    /// Revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// One service of an agreement's scope.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScopeItem {
    /// Service code.
    pub code: String,
    /// Chinese label.
    pub label: &'static str,
}

fn scope_label(code: &str) -> &'static str {
    match code {
        "enterprise.network" => "经销商名录（名称、地区、层级、合作年限、核心企业授信）",
        "enterprise.trade" => "经销商月度订货、退货、回款与账期",
        "enterprise.orders.open" => "经销商未付订单（用于受托支付）",
        "enterprise.order.pay" => "受托支付到账通知",
        _ => "其他",
    }
}

impl AgreementView {
    fn of(row: &AgreementRow, now: DateTime<Utc>) -> Self {
        let state = row.state_at(now);
        Self {
            id: row.id,
            state,
            state_text: match state {
                "active" => "有效",
                "expired" => "已到期",
                _ => "已撤回",
            },
            scope: row
                .services()
                .into_iter()
                .map(|code| ScopeItem {
                    label: scope_label(&code),
                    code,
                })
                .collect(),
            purpose: row.purpose.clone(),
            granted_at: row.granted_at,
            expires_at: row.expires_at,
            revoked_at: row.revoked_at,
        }
    }
}

/// An enterprise as listed in the console.
#[derive(Debug, Serialize, ToSchema)]
pub struct EnterpriseView {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// 统一社会信用代码.
    pub uscc: String,
    /// Its staff's institution code.
    pub institution: String,
    /// Its latest agreement.
    pub agreement: Option<AgreementView>,
    /// Figures over its distributors.
    pub summary: Summary,
    /// The latest batch pre-approval.
    pub last_batch: Option<BatchSummary>,
}

/// Figures over an enterprise's distributors.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct Summary {
    /// Distributors on the list.
    pub distributors: i64,
    /// With an open or accepted offer.
    pub offered: i64,
    /// Declined at pre-approval.
    pub declined: i64,
    /// Sum of the open and accepted offers' limits.
    pub offered_limit: String,
    /// Lines opened.
    pub lines: i64,
    /// Lines frozen by monitoring.
    pub frozen: i64,
    /// Lines lowered by monitoring.
    pub lowered: i64,
    /// Sum of the lines' limits.
    pub line_limit: String,
    /// Principal outstanding on the lines.
    pub outstanding: String,
    /// Paid to the enterprise by entrusted payment.
    pub paid_to_enterprise: String,
}

/// `POST /api/v1/console/supply/enterprises`: the bank registers a core enterprise (once per
/// credit code; again answers the existing one).
#[utoipa::path(post, path = "/api/v1/console/supply/enterprises", tag = "supply",
    request_body = NewEnterprise,
    responses((status = 201, body = EnterpriseView), (status = 200, body = EnterpriseView),
        (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn onboard(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<NewEnterprise>,
) -> Result<Response, ApiError> {
    principal.require(BANK)?;
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::invalid(
            "supply.invalid_name",
            "请填写企业名称（不超过 100 字）。",
        ));
    }
    let uscc = Uscc::parse(&body.uscc)
        .map_err(|e| ApiError::invalid("supply.invalid_uscc", e.to_string()))?;
    if institution_kind(&body.institution) != Some(InstitutionKind::CoreEnterprise) {
        return Err(ApiError::invalid(
            "supply.invalid_institution",
            "请选择核心企业的机构账号。",
        ));
    }
    let known = match (state.exchange(), body.subsystem.parse()) {
        (Some(exchange), Ok(id)) => exchange.registry.subsystem(&id).is_some(),
        _ => false,
    };
    if !known {
        return Err(ApiError::invalid(
            "supply.unknown_subsystem",
            "接入标准登记簿中没有该企业系统。",
        ));
    }
    let (row, created) = register(
        &state,
        name,
        uscc.as_str(),
        &body.institution,
        &body.subsystem,
        &principal.audit_actor(),
    )
    .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, no_store(view(&state, &row).await?)).into_response())
}

/// Registers an enterprise unless its credit code is known; true if it was new.
pub async fn register(
    state: &AppState,
    name: &str,
    uscc: &str,
    institution: &str,
    subsystem: &str,
    actor: &str,
) -> Result<(EnterpriseRow, bool), ApiError> {
    let now = state.clock().now();
    let id = Uuid::now_v7();
    let mut tx = state.store().begin_write().await?;
    let inserted = bianmin_store::on_tx!(&mut tx, conn => {
        sqlx::query(
            "INSERT INTO scf_enterprises (id, subsystem, uscc, name, institution, created_at, \
             created_by) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        )
        .bind(id)
        .bind(subsystem)
        .bind(uscc)
        .bind(name)
        .bind(institution)
        .bind(now)
        .bind(actor)
        .execute(conn)
        .await
        .map_err(StoreError::from)?
        .rows_affected()
    });
    if inserted == 1 {
        tx.append_audit(
            state.keyring().audit_key(),
            &AuditEntry {
                actor: actor.to_owned(),
                action: "supply.enterprise.onboard".into(),
                target: format!("scf_enterprise:{id}"),
                purpose: Some("供应链融资核心企业准入".into()),
                details: json!({ "uscc": uscc, "name": name, "subsystem": subsystem }),
                occurred_at: now,
            },
        )
        .await?;
    }
    tx.commit().await?;
    let row = on_pool!(state.store(), pool => {
        sqlx::query_as::<_, EnterpriseRow>(
            "SELECT id, subsystem, uscc, name, institution FROM scf_enterprises WHERE uscc = $1",
        )
        .bind(uscc)
        .fetch_optional(pool)
        .await
        .map_err(StoreError::from)?
    })
    .ok_or_else(|| {
        super::conflict(
            "supply.enterprise_conflict",
            "该机构账号或企业系统已登记为另一家核心企业。",
        )
    })?;
    Ok((row, inserted == 1))
}

/// `GET /api/v1/console/supply/enterprises`.
#[utoipa::path(get, path = "/api/v1/console/supply/enterprises", tag = "supply",
    responses((status = 200, body = [EnterpriseView]), (status = 403, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Response, ApiError> {
    principal.require(&[Role::BankOperator, Role::Admin, Role::Auditor])?;
    let mut views = Vec::new();
    for row in enterprises(&state).await? {
        views.push(view(&state, &row).await?);
    }
    Ok(no_store(views))
}

async fn view(state: &AppState, row: &EnterpriseRow) -> Result<EnterpriseView, ApiError> {
    let now = state.clock().now();
    Ok(EnterpriseView {
        id: row.id,
        name: row.name.clone(),
        uscc: row.uscc.clone(),
        institution: row.institution.clone(),
        agreement: latest_agreement(state, row.id)
            .await?
            .map(|a| AgreementView::of(&a, now)),
        summary: summary(state, row.id).await?,
        last_batch: last_batch(state, row.id).await?,
    })
}

async fn summary(state: &AppState, enterprise: Uuid) -> Result<Summary, ApiError> {
    type Counts = (i64, i64, i64, Option<i64>);
    let (distributors, offered, declined, offered_limit): Counts = on_pool!(state.store(), pool => {
        sqlx::query_as(
            "SELECT COUNT(*), \
                    COALESCE(SUM(CASE WHEN o.outcome = 'offered' THEN 1 ELSE 0 END), 0), \
                    COALESCE(SUM(CASE WHEN o.outcome = 'declined' THEN 1 ELSE 0 END), 0), \
                    CAST(SUM(CASE WHEN o.outcome = 'offered' THEN o.limit_fen ELSE 0 END) AS BIGINT) \
             FROM scf_distributors d LEFT JOIN scf_offers o ON o.distributor_id = d.id \
             WHERE d.enterprise_id = $1",
        )
        .bind(enterprise)
        .fetch_one(pool)
        .await
        .map_err(StoreError::from)?
    });
    type LineCounts = (i64, i64, i64, Option<i64>, Option<i64>);
    let (lines, frozen, lowered, line_limit, outstanding): LineCounts = on_pool!(state.store(), pool => {
        sqlx::query_as(
            "SELECT COUNT(*), \
                    COALESCE(SUM(CASE WHEN l.status = 'frozen' THEN 1 ELSE 0 END), 0), \
                    COALESCE(SUM(CASE WHEN l.status = 'lowered' THEN 1 ELSE 0 END), 0), \
                    CAST(SUM(l.limit_fen) AS BIGINT), CAST(SUM(l.principal_fen) AS BIGINT) \
             FROM scf_lines l JOIN scf_distributors d ON d.id = l.distributor_id \
             WHERE d.enterprise_id = $1",
        )
        .bind(enterprise)
        .fetch_one(pool)
        .await
        .map_err(StoreError::from)?
    });
    let paid: Option<i64> = on_pool!(state.store(), pool => {
        sqlx::query_scalar(
            "SELECT CAST(SUM(p.amount_fen) AS BIGINT) FROM scf_payments p \
             JOIN scf_lines l ON l.id = p.line_id \
             JOIN scf_distributors d ON d.id = l.distributor_id WHERE d.enterprise_id = $1",
        )
        .bind(enterprise)
        .fetch_one(pool)
        .await
        .map_err(StoreError::from)?
    });
    let yuan = |fen: Option<i64>| Money::from_fen(fen.unwrap_or(0)).to_string();
    Ok(Summary {
        distributors,
        offered,
        declined,
        offered_limit: yuan(offered_limit),
        lines,
        frozen,
        lowered,
        line_limit: yuan(line_limit),
        outstanding: yuan(outstanding),
        paid_to_enterprise: yuan(paid),
    })
}

/// Body of `POST /api/v1/institution/supply/agreement`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignAgreement {
    /// Last day in force (China time); a year from today when left out.
    #[serde(default)]
    pub expires_on: Option<NaiveDate>,
}

/// The enterprise whose staff the principal is.
async fn own_enterprise(
    state: &AppState,
    principal: &Principal,
) -> Result<EnterpriseRow, ApiError> {
    principal.require(&[Role::Institution])?;
    let code = principal
        .department
        .map(|d| d.code)
        .filter(|code| institution_kind(code) == Some(InstitutionKind::CoreEnterprise))
        .ok_or_else(|| ApiError::forbidden("仅核心企业账号可以办理供应链融资协议。"))?;
    enterprise_of_institution(state, code)
        .await?
        .ok_or_else(|| ApiError::not_found("贵司尚未在本行完成核心企业准入，请联系客户经理。"))
}

/// `POST /api/v1/institution/supply/agreement`: the enterprise signs (or renews) its
/// data-sharing agreement.
#[utoipa::path(post, path = "/api/v1/institution/supply/agreement", tag = "supply",
    request_body = SignAgreement,
    responses((status = 201, body = AgreementView), (status = 403, body = Problem),
        (status = 422, body = Problem)))]
pub async fn sign_agreement(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<SignAgreement>,
) -> Result<Response, ApiError> {
    let enterprise = own_enterprise(&state, &principal).await?;
    let row = grant(
        &state,
        &enterprise,
        body.expires_on,
        &principal.audit_actor(),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        no_store(AgreementView::of(&row, state.clock().now())),
    )
        .into_response())
}

/// Records `enterprise`'s agreement over the whole scope until `expires_on` (a year when
/// `None`), replacing any earlier one.
pub async fn grant(
    state: &AppState,
    enterprise: &EnterpriseRow,
    expires_on: Option<NaiveDate>,
    actor: &str,
) -> Result<AgreementRow, ApiError> {
    let now = state.clock().now();
    let today = state.clock().today_china();
    let last_day = match expires_on {
        Some(day) => day,
        None => today
            .checked_add_days(Days::new(u64::from(AGREEMENT_DEFAULT_DAYS)))
            .unwrap_or(today),
    };
    if last_day <= today || last_day > today + chrono::TimeDelta::days(3 * 366) {
        return Err(ApiError::invalid(
            "supply.invalid_expiry",
            "协议到期日应在今天之后、三年以内。",
        ));
    }
    // In force through the last day, China time: until 24:00 Beijing = 16:00 UTC.
    let expires_at = last_day
        .and_hms_opt(16, 0, 0)
        .map(|t| t.and_utc())
        .unwrap_or(now);
    let id = Uuid::now_v7();
    let scope = serde_json::to_string(&AGREEMENT_SCOPE).map_err(ApiError::internal)?;
    let mut tx = state.store().begin_write().await?;
    bianmin_store::on_tx!(&mut tx, conn => {
        sqlx::query(
            "UPDATE scf_agreements SET revoked_at = $1, revoked_by = $2 \
             WHERE enterprise_id = $3 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(actor)
        .bind(enterprise.id)
        .execute(&mut *conn)
        .await
        .map_err(StoreError::from)?;
        sqlx::query(
            "INSERT INTO scf_agreements (id, enterprise_id, scope, purpose, granted_at, \
             granted_by, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id)
        .bind(enterprise.id)
        .bind(&scope)
        .bind(AGREEMENT_PURPOSE)
        .bind(now)
        .bind(actor)
        .bind(expires_at)
        .execute(conn)
        .await
        .map_err(StoreError::from)?
        .rows_affected()
    });
    tx.append_audit(
        state.keyring().audit_key(),
        &AuditEntry {
            actor: actor.to_owned(),
            action: "supply.agreement.grant".into(),
            target: format!("scf_enterprise:{}", enterprise.id),
            purpose: Some(AGREEMENT_PURPOSE.into()),
            details: json!({ "agreement": id, "scope": AGREEMENT_SCOPE, "expires_at": expires_at }),
            occurred_at: now,
        },
    )
    .await?;
    tx.commit().await?;
    latest_agreement(state, enterprise.id)
        .await?
        .ok_or_else(|| ApiError::internal("agreement vanished"))
}

/// `POST /api/v1/institution/supply/agreement/revoke`: the enterprise withdraws its agreement;
/// the bank stops calling its systems at once (open lines are serviced; monitoring stops).
#[utoipa::path(post, path = "/api/v1/institution/supply/agreement/revoke", tag = "supply",
    responses((status = 200, body = AgreementView), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn revoke_agreement(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Response, ApiError> {
    let enterprise = own_enterprise(&state, &principal).await?;
    let now = state.clock().now();
    let actor = principal.audit_actor();
    let mut tx = state.store().begin_write().await?;
    let revoked = bianmin_store::on_tx!(&mut tx, conn => {
        sqlx::query(
            "UPDATE scf_agreements SET revoked_at = $1, revoked_by = $2 \
             WHERE enterprise_id = $3 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(&actor)
        .bind(enterprise.id)
        .execute(conn)
        .await
        .map_err(StoreError::from)?
        .rows_affected()
    });
    if revoked == 0 {
        return Err(ApiError::not_found("没有可撤回的数据共享协议。"));
    }
    tx.append_audit(
        state.keyring().audit_key(),
        &AuditEntry {
            actor,
            action: "supply.agreement.revoke".into(),
            target: format!("scf_enterprise:{}", enterprise.id),
            purpose: Some(AGREEMENT_PURPOSE.into()),
            details: json!({}),
            occurred_at: now,
        },
    )
    .await?;
    tx.commit().await?;
    let row = latest_agreement(&state, enterprise.id)
        .await?
        .ok_or_else(|| ApiError::internal("agreement vanished"))?;
    Ok(no_store(AgreementView::of(&row, now)))
}

// ---------------------------------------------------------------------------------------------
// Batch pre-approval
// ---------------------------------------------------------------------------------------------

/// What one batch pre-approval did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BatchSummary {
    /// Batch id.
    pub id: Uuid,
    /// Policy version applied.
    pub policy_version: String,
    /// The last closed month of the enterprise's books the data describe (`YYYY-MM`).
    pub closed_month: String,
    /// Distributors assessed.
    pub distributors: i64,
    /// Offers made.
    pub offered: i64,
    /// Declined.
    pub declined: i64,
    /// Sum of the offers.
    pub total_limit: String,
    /// Milliseconds fetching the list and trade through the exchange.
    pub fetch_ms: i64,
    /// Milliseconds computing the pre-approvals.
    pub compute_ms: i64,
    /// Milliseconds writing them.
    pub store_ms: i64,
    /// Started.
    pub started_at: DateTime<Utc>,
    /// Finished.
    pub finished_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct BatchRow {
    id: Uuid,
    policy_version: String,
    closed_month: String,
    distributors: i64,
    offered: i64,
    declined: i64,
    total_limit_fen: i64,
    fetch_ms: i64,
    compute_ms: i64,
    store_ms: i64,
    started_at: DateTime<Utc>,
    finished_at: DateTime<Utc>,
}

impl From<BatchRow> for BatchSummary {
    fn from(row: BatchRow) -> Self {
        Self {
            id: row.id,
            policy_version: row.policy_version,
            closed_month: row.closed_month,
            distributors: row.distributors,
            offered: row.offered,
            declined: row.declined,
            total_limit: Money::from_fen(row.total_limit_fen).to_string(),
            fetch_ms: row.fetch_ms,
            compute_ms: row.compute_ms,
            store_ms: row.store_ms,
            started_at: row.started_at,
            finished_at: row.finished_at,
        }
    }
}

async fn last_batch(state: &AppState, enterprise: Uuid) -> Result<Option<BatchSummary>, ApiError> {
    // Counts are BIGINT in both schemas' arithmetic but INTEGER columns in PostgreSQL: cast.
    let row = on_pool!(state.store(), pool => {
        sqlx::query_as::<_, BatchRow>(
            "SELECT id, policy_version, closed_month, CAST(distributors AS BIGINT) AS distributors, \
             CAST(offered AS BIGINT) AS offered, CAST(declined AS BIGINT) AS declined, \
             total_limit_fen, fetch_ms, compute_ms, store_ms, started_at, finished_at \
             FROM scf_batches WHERE enterprise_id = $1 ORDER BY started_at DESC, id DESC LIMIT 1",
        )
        .bind(enterprise)
        .fetch_optional(pool)
        .await
        .map_err(StoreError::from)?
    });
    Ok(row.map(BatchSummary::from))
}

/// `POST /api/v1/console/supply/enterprises/{id}/preapprovals`: pulls every distributor and
/// its trade through the exchange and pre-approves them all at once.
#[utoipa::path(post, path = "/api/v1/console/supply/enterprises/{id}/preapprovals", tag = "supply",
    params(("id" = Uuid, Path, description = "Enterprise id")),
    responses((status = 201, body = BatchSummary), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 502, body = Problem)))]
pub async fn preapprove(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Response, ApiError> {
    principal.require(BANK)?;
    let enterprise = enterprise(&state, id).await?;
    let summary = run_batch(&state, &enterprise, &principal.audit_actor()).await?;
    Ok((StatusCode::CREATED, no_store(summary)).into_response())
}

/// One distributor as fetched: its list record and trade.
struct Fetched {
    record: DistributorRecord,
    trade: Option<DistributorTrade>,
}

/// The whole list of `enterprise`'s distributors with their trade, through the exchange
/// (`enterprise.network` by pages of 200, `enterprise.trade` by batches of 100, eight calls
/// at a time). Returns them and the closed month of the books.
async fn fetch_network(
    state: &AppState,
    enterprise: &EnterpriseRow,
) -> Result<(Vec<Fetched>, String), ApiError> {
    require_agreement(state, enterprise, "enterprise.network").await?;
    require_agreement(state, enterprise, "enterprise.trade").await?;
    let page_size = MAX_PAGE_SIZE;
    let first: Distributors = call_unchecked(
        state,
        "enterprise.network",
        json!({ "page": 1, "page_size": page_size }),
    )
    .await?;
    let pages = first.total.div_ceil(page_size).max(1);
    let permits = Arc::new(Semaphore::new(CONCURRENT_CALLS));
    let mut pending = tokio::task::JoinSet::new();
    for page in 2..=pages {
        let state = state.clone();
        let permits = permits.clone();
        pending.spawn(async move {
            let _permit = permits.acquire_owned().await;
            let answer: Result<Distributors, ApiError> = call_unchecked(
                &state,
                "enterprise.network",
                json!({ "page": page, "page_size": page_size }),
            )
            .await;
            (page, answer)
        });
    }
    let mut by_page = vec![first.distributors];
    let mut rest = Vec::new();
    while let Some(done) = pending.join_next().await {
        let (page, answer) = done.map_err(ApiError::internal)?;
        rest.push((page, answer?.distributors));
    }
    rest.sort_by_key(|(page, _)| *page);
    by_page.extend(rest.into_iter().map(|(_, records)| records));
    let records: Vec<DistributorRecord> = by_page.into_iter().flatten().collect();

    let mut pending = tokio::task::JoinSet::new();
    for (chunk_no, chunk) in records.chunks(MAX_TRADE_BATCH).enumerate() {
        let usccs: Vec<String> = chunk.iter().map(|r| r.uscc.clone()).collect();
        let state = state.clone();
        let permits = permits.clone();
        pending.spawn(async move {
            let _permit = permits.acquire_owned().await;
            let answer: Result<EnterpriseTrade, ApiError> =
                call_unchecked(&state, "enterprise.trade", json!({ "usccs": usccs })).await;
            (chunk_no, answer)
        });
    }
    let mut trades = Vec::new();
    let mut closed_month = String::new();
    while let Some(done) = pending.join_next().await {
        let (chunk_no, answer) = done.map_err(ApiError::internal)?;
        let answer = answer?;
        closed_month = answer.closed_month.to_string();
        trades.push((chunk_no, answer.distributors));
    }
    trades.sort_by_key(|(chunk_no, _)| *chunk_no);
    let mut by_uscc: std::collections::HashMap<String, DistributorTrade> = trades
        .into_iter()
        .flat_map(|(_, list)| list)
        .map(|trade| (trade.uscc.clone(), trade))
        .collect();
    let fetched = records
        .into_iter()
        .map(|record| Fetched {
            trade: by_uscc.remove(&record.uscc),
            record,
        })
        .collect();
    Ok((fetched, closed_month))
}

/// One distributor's pre-approval, ready to store.
struct Assessed {
    record: DistributorRecord,
    approval: Result<PreApproval, Vec<Reason>>,
}

/// The pre-approval of one fetched distributor: the credit code's check character first (a
/// code that fails it is not assessed), then the policy.
fn assess(fetched: Fetched, policy: &bianmin_lending::supply::SupplyPolicy) -> Assessed {
    let approval = match (Uscc::parse(&fetched.record.uscc), &fetched.trade) {
        (Err(e), _) => Err(vec![Reason {
            code: "uscc.invalid".into(),
            text: format!("营业执照{e}，无法核实经营主体"),
        }]),
        (Ok(_), None) => Err(vec![Reason {
            code: "trade.missing".into(),
            text: "核心企业未提供该经销商的交易数据".into(),
        }]),
        (Ok(_), Some(trade)) => {
            let facts = DistributorFacts::of(&fetched.record, trade);
            Ok(pre_approve(&facts, policy))
        }
    };
    Assessed {
        record: fetched.record,
        approval,
    }
}

/// Runs a batch pre-approval of every distributor of `enterprise`.
pub async fn run_batch(
    state: &AppState,
    enterprise: &EnterpriseRow,
    actor: &str,
) -> Result<BatchSummary, ApiError> {
    let policy = policy()?;
    let started_at = state.clock().now();
    let clock = Instant::now();
    let (fetched, closed_month) = fetch_network(state, enterprise).await?;
    let fetch_ms = elapsed_ms(clock);

    let clock = Instant::now();
    let assessed: Vec<Assessed> = tokio::task::spawn_blocking(move || {
        fetched
            .into_iter()
            .map(|fetched| assess(fetched, policy))
            .collect()
    })
    .await
    .map_err(ApiError::internal)?;
    let compute_ms = elapsed_ms(clock);

    let clock = Instant::now();
    let batch_id = Uuid::now_v7();
    let today = state.clock().today_china();
    let expires_on = today
        .checked_add_days(Days::new(OFFER_DAYS))
        .unwrap_or(today);
    let mut offered = 0i64;
    let mut total_limit = 0i64;
    for a in &assessed {
        if let Ok(PreApproval {
            outcome: PreOutcome::Offer(offer),
            ..
        }) = &a.approval
        {
            offered += 1;
            total_limit += offer.limit.fen();
        }
    }
    let count = i64::try_from(assessed.len()).unwrap_or(i64::MAX);
    let mut tx = state.store().begin_write().await?;
    bianmin_store::on_tx!(&mut tx, conn => {
        sqlx::query(
            "INSERT INTO scf_batches (id, enterprise_id, policy_version, closed_month, \
             distributors, offered, declined, total_limit_fen, fetch_ms, compute_ms, store_ms, \
             started_at, finished_at, run_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, $11, $11, $12)",
        )
        .bind(batch_id)
        .bind(enterprise.id)
        .bind(policy.version())
        .bind(&closed_month)
        .bind(i32::try_from(count).unwrap_or(i32::MAX))
        .bind(i32::try_from(offered).unwrap_or(i32::MAX))
        .bind(i32::try_from(count - offered).unwrap_or(i32::MAX))
        .bind(total_limit)
        .bind(fetch_ms)
        .bind(compute_ms)
        .bind(started_at)
        .bind(actor)
        .execute(conn)
        .await
        .map_err(StoreError::from)?
        .rows_affected()
    });
    tx.commit().await?;
    let now = state.clock().now();
    for chunk in assessed.chunks(STORE_CHUNK) {
        let mut tx = state.store().begin_write().await?;
        store_chunk(
            &mut tx,
            enterprise.id,
            batch_id,
            chunk,
            today,
            expires_on,
            now,
        )
        .await?;
        tx.commit().await?;
    }
    let store_ms = elapsed_ms(clock);
    let finished_at = state.clock().now();
    let mut tx = state.store().begin_write().await?;
    bianmin_store::on_tx!(&mut tx, conn => {
        sqlx::query("UPDATE scf_batches SET store_ms = $1, finished_at = $2 WHERE id = $3")
            .bind(store_ms)
            .bind(finished_at)
            .bind(batch_id)
            .execute(conn)
            .await
            .map_err(StoreError::from)?
            .rows_affected()
    });
    let details = json!({
        "batch": batch_id, "distributors": count, "offered": offered,
        "declined": count - offered, "total_limit_fen": total_limit,
        "closed_month": closed_month, "policy_version": policy.version(),
    });
    tx.append_audit(
        state.keyring().audit_key(),
        &AuditEntry {
            actor: actor.to_owned(),
            action: "supply.preapprove".into(),
            target: format!("scf_enterprise:{}", enterprise.id),
            purpose: Some("供应链融资批量预授信".into()),
            details: details.clone(),
            occurred_at: finished_at,
        },
    )
    .await?;
    tx.append_event(&NewEvent::new(
        "supply.preapproved",
        "scf_enterprise",
        enterprise.id.to_string(),
        details,
        finished_at,
    ))
    .await?;
    tx.commit().await?;
    tracing::info!(
        enterprise = %enterprise.name, distributors = count, offered, fetch_ms, compute_ms,
        store_ms, "supply-chain batch pre-approval"
    );
    Ok(BatchSummary {
        id: batch_id,
        policy_version: policy.version().to_owned(),
        closed_month,
        distributors: count,
        offered,
        declined: count - offered,
        total_limit: Money::from_fen(total_limit).to_string(),
        fetch_ms,
        compute_ms,
        store_ms,
        started_at,
        finished_at,
    })
}

fn elapsed_ms(since: Instant) -> i64 {
    i64::try_from(since.elapsed().as_millis()).unwrap_or(i64::MAX)
}

/// Writes one chunk of a batch: the distributors (inserted or refreshed) and their offers (a
/// distributor whose offer was accepted keeps it: its line has its own terms).
async fn store_chunk(
    tx: &mut bianmin_store::Tx,
    enterprise: Uuid,
    batch: Uuid,
    chunk: &[Assessed],
    today: NaiveDate,
    expires_on: NaiveDate,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let ids: Vec<(Uuid, String)> = bianmin_store::on_tx!(tx, conn => {
        let mut insert = sqlx::QueryBuilder::new(
            "INSERT INTO scf_distributors (id, enterprise_id, uscc, name, province, city, tier, \
             joined, tenure_months, core_limit_fen, status, synced_at) ",
        );
        insert.push_values(chunk, |mut row, a| {
            let r = &a.record;
            row.push_bind(Uuid::now_v7())
                .push_bind(enterprise)
                .push_bind(&r.uscc)
                .push_bind(&r.name)
                .push_bind(&r.province)
                .push_bind(&r.city)
                .push_bind(enum_text(&r.tier))
                .push_bind(r.joined.to_string())
                .push_bind(i32::try_from(r.tenure_months).unwrap_or(i32::MAX))
                .push_bind(r.credit_limit.fen())
                .push_bind(enum_text(&r.status))
                .push_bind(now);
        });
        insert.push(
            " ON CONFLICT (enterprise_id, uscc) DO UPDATE SET name = excluded.name, \
             province = excluded.province, city = excluded.city, tier = excluded.tier, \
             joined = excluded.joined, tenure_months = excluded.tenure_months, \
             core_limit_fen = excluded.core_limit_fen, status = excluded.status, \
             synced_at = excluded.synced_at RETURNING id, uscc",
        );
        insert
            .build_query_as::<(Uuid, String)>()
            .fetch_all(conn)
            .await
            .map_err(StoreError::from)?
    });
    let by_uscc: std::collections::HashMap<&str, Uuid> =
        ids.iter().map(|(id, uscc)| (uscc.as_str(), *id)).collect();
    let mut rows = Vec::with_capacity(chunk.len());
    for a in chunk {
        let Some(&id) = by_uscc.get(a.record.uscc.as_str()) else {
            return Err(ApiError::internal("distributor row not returned"));
        };
        let row = match &a.approval {
            Err(reasons) => OfferRow::declined(id, reasons, None)?,
            Ok(PreApproval {
                outcome: PreOutcome::Decline(reasons),
                features,
                ..
            }) => OfferRow::declined(id, reasons, features.as_ref())?,
            Ok(PreApproval {
                outcome: PreOutcome::Offer(offer),
                features,
                ..
            }) => OfferRow {
                distributor: id,
                outcome: "offered",
                limit_fen: Some(offer.limit.fen()),
                daily_rate: Some(offer.daily_rate.to_string()),
                grade: Some(offer.grade.clone()),
                points: Some(offer.points),
                reasons: "[]".into(),
                features: features
                    .as_ref()
                    .map(serde_json::to_string)
                    .transpose()
                    .map_err(ApiError::internal)?,
            },
        };
        rows.push(row);
    }
    bianmin_store::on_tx!(tx, conn => {
        let mut insert = sqlx::QueryBuilder::new(
            "INSERT INTO scf_offers (distributor_id, batch_id, outcome, limit_fen, daily_rate, \
             grade, points, reasons, features, state, offered_on, expires_on, updated_at) ",
        );
        insert.push_values(&rows, |mut row, o| {
            row.push_bind(o.distributor)
                .push_bind(batch)
                .push_bind(o.outcome)
                .push_bind(o.limit_fen)
                .push_bind(&o.daily_rate)
                .push_bind(&o.grade)
                .push_bind(o.points)
                .push_bind(&o.reasons)
                .push_bind(&o.features)
                .push_bind("open")
                .push_bind(today)
                .push_bind(expires_on)
                .push_bind(now);
        });
        insert.push(
            " ON CONFLICT (distributor_id) DO UPDATE SET batch_id = excluded.batch_id, \
             outcome = excluded.outcome, limit_fen = excluded.limit_fen, \
             daily_rate = excluded.daily_rate, grade = excluded.grade, points = excluded.points, \
             reasons = excluded.reasons, features = excluded.features, state = excluded.state, \
             offered_on = excluded.offered_on, expires_on = excluded.expires_on, \
             updated_at = excluded.updated_at WHERE scf_offers.state <> 'accepted'",
        );
        insert
            .build()
            .execute(conn)
            .await
            .map_err(StoreError::from)?
            .rows_affected()
    });
    Ok(())
}

struct OfferRow {
    distributor: Uuid,
    outcome: &'static str,
    limit_fen: Option<i64>,
    daily_rate: Option<String>,
    grade: Option<String>,
    points: Option<i32>,
    reasons: String,
    features: Option<String>,
}

impl OfferRow {
    fn declined(
        distributor: Uuid,
        reasons: &[Reason],
        features: Option<&bianmin_lending::supply::TradeFeatures>,
    ) -> Result<Self, ApiError> {
        Ok(Self {
            distributor,
            outcome: "declined",
            limit_fen: None,
            daily_rate: None,
            grade: None,
            points: None,
            reasons: serde_json::to_string(reasons).map_err(ApiError::internal)?,
            features: features
                .map(serde_json::to_string)
                .transpose()
                .map_err(ApiError::internal)?,
        })
    }
}

/// The snake_case name serde gives a unit variant.
pub(crate) fn enum_text<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// The console's view of one enterprise
// ---------------------------------------------------------------------------------------------

/// Query of `GET /api/v1/console/supply/enterprises/{id}`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DetailQuery {
    /// `all` (default), `offered`, `declined`, `lines` or `warned`.
    #[serde(default)]
    pub view: Option<String>,
    /// Part of a name or credit code.
    #[serde(default)]
    pub q: Option<String>,
    /// Page, from 1.
    #[serde(default)]
    pub page: Option<u32>,
    /// Rows per page, 1–100 (default 20).
    #[serde(default)]
    pub per_page: Option<u32>,
}

/// One distributor row of the console's view.
#[derive(Debug, Serialize, ToSchema)]
pub struct DistributorRow {
    /// 统一社会信用代码.
    pub uscc: String,
    /// Name.
    pub name: String,
    /// City.
    pub city: String,
    /// `first` or `second`.
    pub tier: String,
    /// Months with the enterprise.
    pub tenure_months: i64,
    /// The enterprise's view of its standing.
    pub status: String,
    /// `offered`, `declined` or none.
    pub outcome: Option<String>,
    /// Pre-approved limit.
    pub offer_limit: Option<String>,
    /// Grade.
    pub grade: Option<String>,
    /// `open`, `accepted` or `refused`.
    pub offer_state: Option<String>,
    /// Why declined (the first reasons).
    pub reasons: Vec<String>,
    /// The line, once opened.
    pub line: Option<LineSummary>,
}

/// A line in the console's and the enterprise's lists.
#[derive(Debug, Serialize, ToSchema)]
pub struct LineSummary {
    /// Limit now.
    pub limit: String,
    /// Principal outstanding.
    pub outstanding: String,
    /// `active`, `lowered`, `frozen`, `expired` or `closed`.
    pub status: String,
    /// Chinese status label.
    pub status_text: String,
    /// Why lowered or frozen.
    pub status_reason: Option<String>,
}

/// The console's view of one enterprise.
#[derive(Debug, Serialize, ToSchema)]
pub struct EnterpriseDetail {
    /// The enterprise, its agreement, figures and latest batch.
    pub enterprise: EnterpriseView,
    /// This page of distributors.
    pub distributors: Vec<DistributorRow>,
    /// Matching rows in all pages.
    pub total: i64,
    /// Page.
    pub page: u32,
    /// Rows per page.
    pub per_page: u32,
    /// Recent early warnings acted on.
    pub warnings: Vec<super::monitor::WarningView>,
}

#[derive(sqlx::FromRow)]
struct DetailRow {
    uscc: String,
    name: String,
    city: String,
    tier: String,
    tenure_months: i64,
    status: String,
    outcome: Option<String>,
    limit_fen: Option<i64>,
    grade: Option<String>,
    offer_state: Option<String>,
    reasons: Option<String>,
    line_limit_fen: Option<i64>,
    principal_fen: Option<i64>,
    line_status: Option<String>,
    status_reason: Option<String>,
}

/// Chinese label of a line status.
pub fn line_status_text(status: &str) -> &'static str {
    match status {
        "active" => "正常",
        "lowered" => "已调减",
        "frozen" => "已冻结",
        "expired" => "已到期",
        "closed" => "已结清关闭",
        _ => "其他",
    }
}

/// `GET /api/v1/console/supply/enterprises/{id}`: the enterprise, its distributors with
/// their pre-approvals and lines, and recent warnings.
#[utoipa::path(get, path = "/api/v1/console/supply/enterprises/{id}", tag = "supply",
    params(("id" = Uuid, Path, description = "Enterprise id"), DetailQuery),
    responses((status = 200, body = EnterpriseDetail), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn detail(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(query): ApiQuery<DetailQuery>,
) -> Result<Response, ApiError> {
    principal.require(&[Role::BankOperator, Role::Admin, Role::Auditor])?;
    let row = enterprise(&state, id).await?;
    let filter = match query.view.as_deref().unwrap_or("all") {
        "all" => "",
        "offered" => " AND o.outcome = 'offered'",
        "declined" => " AND o.outcome = 'declined'",
        "lines" => " AND l.id IS NOT NULL",
        "warned" => " AND l.status IN ('lowered','frozen')",
        _ => {
            return Err(ApiError::invalid(
                "query.invalid",
                "view 只能是 all、offered、declined、lines 或 warned。",
            ));
        }
    };
    let per_page = query.per_page.unwrap_or(20).clamp(1, 100);
    let page = query.page.unwrap_or(1).max(1);
    let pattern = query
        .q
        .as_deref()
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .map_or_else(
            || "%".to_owned(),
            |q| format!("%{}%", q.replace(['%', '_'], "")),
        );
    let from = format!(
        "FROM scf_distributors d LEFT JOIN scf_offers o ON o.distributor_id = d.id \
         LEFT JOIN scf_lines l ON l.distributor_id = d.id \
         WHERE d.enterprise_id = $1{filter} AND (d.name LIKE $2 OR d.uscc LIKE $2)"
    );
    let count_sql = format!("SELECT COUNT(*) {from}");
    let total: i64 = on_pool!(state.store(), pool => {
        sqlx::query_scalar(sqlx::AssertSqlSafe(count_sql.as_str()))
            .bind(id)
            .bind(&pattern)
            .fetch_one(pool)
            .await
            .map_err(StoreError::from)?
    });
    let sql = format!(
        "SELECT d.uscc, d.name, d.city, d.tier, CAST(d.tenure_months AS BIGINT) AS tenure_months, \
         d.status, o.outcome, o.limit_fen, o.grade, o.state AS offer_state, o.reasons, \
         l.limit_fen AS line_limit_fen, l.principal_fen, l.status AS line_status, l.status_reason \
         {from} ORDER BY CASE WHEN l.id IS NULL THEN 1 ELSE 0 END, \
         CASE WHEN o.outcome = 'offered' THEN 0 ELSE 1 END, d.name, d.uscc LIMIT $3 OFFSET $4"
    );
    let rows = on_pool!(state.store(), pool => {
        sqlx::query_as::<_, DetailRow>(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(id)
            .bind(&pattern)
            .bind(i64::from(per_page))
            .bind(i64::from((page - 1) * per_page))
            .fetch_all(pool)
            .await
            .map_err(StoreError::from)?
    });
    let distributors = rows
        .into_iter()
        .map(|r| {
            let reasons: Vec<Reason> = r
                .reasons
                .as_deref()
                .and_then(|json| serde_json::from_str(json).ok())
                .unwrap_or_default();
            DistributorRow {
                uscc: r.uscc,
                name: r.name,
                city: r.city,
                tier: r.tier,
                tenure_months: r.tenure_months,
                status: r.status,
                outcome: r.outcome,
                offer_limit: r.limit_fen.map(|f| Money::from_fen(f).to_string()),
                grade: r.grade,
                offer_state: r.offer_state,
                reasons: reasons.into_iter().map(|r| r.text).collect(),
                line: r.line_status.map(|status| LineSummary {
                    limit: Money::from_fen(r.line_limit_fen.unwrap_or(0)).to_string(),
                    outstanding: Money::from_fen(r.principal_fen.unwrap_or(0)).to_string(),
                    status_text: line_status_text(&status).to_owned(),
                    status,
                    status_reason: r.status_reason,
                }),
            }
        })
        .collect();
    Ok(no_store(EnterpriseDetail {
        enterprise: view(&state, &row).await?,
        distributors,
        total,
        page,
        per_page,
        warnings: super::monitor::recent(&state, id, 20).await?,
    }))
}

// ---------------------------------------------------------------------------------------------
// The enterprise's own view
// ---------------------------------------------------------------------------------------------

/// One distributor's use of its line, as its core enterprise sees it: no owner, no personal
/// data, no reasons drawn from the owner's credit report.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageRow {
    /// 统一社会信用代码.
    pub uscc: String,
    /// Name.
    pub name: String,
    /// City.
    pub city: String,
    /// Limit.
    pub limit: String,
    /// Principal outstanding.
    pub outstanding: String,
    /// Paid to the enterprise by entrusted payment.
    pub paid_to_enterprise: String,
    /// Line status.
    pub status: String,
    /// Chinese status label.
    pub status_text: String,
}

/// What a core enterprise sees of the programme.
#[derive(Debug, Serialize, ToSchema)]
pub struct InstitutionSupplyView {
    /// The enterprise.
    pub name: String,
    /// Its agreement.
    pub agreement: Option<AgreementView>,
    /// The services an agreement would cover, with their labels (for the signing screen).
    pub scope: Vec<ScopeItem>,
    /// The purpose an agreement states.
    pub purpose: &'static str,
    /// Figures.
    pub summary: Summary,
    /// Distributors with a line, by outstanding.
    pub usage: Vec<UsageRow>,
}

#[derive(sqlx::FromRow)]
struct UsageDbRow {
    uscc: String,
    name: String,
    city: String,
    limit_fen: i64,
    principal_fen: i64,
    status: String,
    paid_fen: Option<i64>,
}

/// `GET /api/v1/institution/supply`: the core enterprise's agreement and its distributors'
/// use of their lines.
#[utoipa::path(get, path = "/api/v1/institution/supply", tag = "supply",
    responses((status = 200, body = InstitutionSupplyView), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn institution_view(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Response, ApiError> {
    let enterprise = own_enterprise(&state, &principal).await?;
    let now = state.clock().now();
    let rows = on_pool!(state.store(), pool => {
        sqlx::query_as::<_, UsageDbRow>(
            "SELECT d.uscc, d.name, d.city, l.limit_fen, l.principal_fen, l.status, \
             (SELECT CAST(SUM(p.amount_fen) AS BIGINT) FROM scf_payments p WHERE p.line_id = l.id) AS paid_fen \
             FROM scf_lines l JOIN scf_distributors d ON d.id = l.distributor_id \
             WHERE d.enterprise_id = $1 ORDER BY l.principal_fen DESC, d.name, d.uscc LIMIT 500",
        )
        .bind(enterprise.id)
        .fetch_all(pool)
        .await
        .map_err(StoreError::from)?
    });
    Ok(no_store(InstitutionSupplyView {
        name: enterprise.name.clone(),
        agreement: latest_agreement(&state, enterprise.id)
            .await?
            .map(|a| AgreementView::of(&a, now)),
        scope: AGREEMENT_SCOPE
            .iter()
            .map(|code| ScopeItem {
                code: (*code).to_owned(),
                label: scope_label(code),
            })
            .collect(),
        purpose: AGREEMENT_PURPOSE,
        summary: summary(&state, enterprise.id).await?,
        usage: rows
            .into_iter()
            .map(|r| UsageRow {
                uscc: r.uscc,
                name: r.name,
                city: r.city,
                limit: Money::from_fen(r.limit_fen).to_string(),
                outstanding: Money::from_fen(r.principal_fen).to_string(),
                paid_to_enterprise: Money::from_fen(r.paid_fen.unwrap_or(0)).to_string(),
                status_text: line_status_text(&r.status).to_owned(),
                status: r.status,
            })
            .collect(),
    }))
}
