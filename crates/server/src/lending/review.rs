//! Human review of an automated decline (PIPL art. 24): the applicant asks, a bank operator
//! sees the evidence (points, reasons, versions) in the console, replays the decision, and
//! upholds or overturns it with a note. A decline on a hard rule the law or the credit policy
//! fixes (age, 失信被执行人, current overdue, inquiries, debt-to-income, the caps) cannot be
//! overturned; one on the score, a cross-check or the limit can, with a limit the reviewer
//! sets and the price of the applicant's score band.

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use bianmin_core::{Money, Rate};
use bianmin_lending::decision::{Outcome, ReasonSource, decide};
use bianmin_lending::features::AgencyRecords;
use bianmin_store::{AuditEntry, NewEvent, StoreError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::application::{
    ApplicationRow, ApplicationView, ReasonView, insert_steps, load, load_any, next_seq,
    step_label, view,
};
use super::{
    APPLICATIONS, MAX_AMOUNT, MIN_AMOUNT, TimelineEntry, citizen, conflict, open_decision,
    open_json, seal_json,
};
use crate::app::AppState;
use crate::auth::{Principal, Role};
use crate::http::json::ApiJson;
use crate::http::no_store;
use crate::http::path::ApiPath;
use crate::http::problem::{ApiError, Problem};

const REVIEWS: &str = "loan_reviews";

/// A review as the applicant sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReviewView {
    /// Review id.
    pub id: Uuid,
    /// `pending`, `upheld` or `overturned`.
    pub state: String,
    /// Asked for.
    pub requested_at: DateTime<Utc>,
    /// Resolved.
    pub resolved_at: Option<DateTime<Utc>>,
    /// The reviewer's note.
    pub note: Option<String>,
}

/// A review as stored.
#[derive(Debug, Clone)]
pub struct Review {
    /// What the applicant sees.
    pub view: ReviewView,
    limit_fen: Option<i64>,
    daily_rate: Option<String>,
}

impl Review {
    /// The line a reviewer granted by overturning the decline.
    pub fn overturned_offer(&self) -> Option<(Money, Rate)> {
        if self.view.state != "overturned" {
            return None;
        }
        let limit = Money::from_fen(self.limit_fen?);
        let daily = Rate::parse(self.daily_rate.as_deref()?).ok()?;
        Some((limit, daily))
    }
}

#[derive(sqlx::FromRow)]
struct ReviewRow {
    id: Uuid,
    application_id: Uuid,
    person_id: Uuid,
    reason_enc: Vec<u8>,
    state: String,
    requested_at: DateTime<Utc>,
    resolved_at: Option<DateTime<Utc>>,
    reviewer: Option<String>,
    note: Option<String>,
    limit_fen: Option<i64>,
    daily_rate: Option<String>,
}

const COLUMNS: &str = "id, application_id, person_id, reason_enc, state, requested_at, \
     resolved_at, reviewer, note, limit_fen, daily_rate";

impl From<&ReviewRow> for Review {
    fn from(row: &ReviewRow) -> Review {
        Review {
            view: ReviewView {
                id: row.id,
                state: row.state.clone(),
                requested_at: row.requested_at,
                resolved_at: row.resolved_at,
                note: row.note.clone(),
            },
            limit_fen: row.limit_fen,
            daily_rate: row.daily_rate.clone(),
        }
    }
}

/// The review of application `id`, if one was asked for.
pub(crate) async fn review_of(state: &AppState, id: Uuid) -> Result<Option<Review>, ApiError> {
    let sql = format!("SELECT {COLUMNS} FROM loan_reviews WHERE application_id = $1");
    let row = bianmin_store::on_pool!(state.store(), pool => {
        sqlx::query_as::<_, ReviewRow>(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(id)
            .fetch_optional(pool)
            .await
            .map_err(StoreError::from)?
    });
    Ok(row.as_ref().map(Review::from))
}

/// Body of `POST /api/v1/me/loan/applications/{id}/review`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewRequest {
    /// Why the applicant asks (1–500 characters).
    pub reason: String,
}

/// Asks for a human to review an automated decline (PIPL art. 24). Once per application.
#[utoipa::path(post, path = "/api/v1/me/loan/applications/{id}/review", tag = "lending",
    params(("id" = Uuid, Path, description = "application id")),
    request_body = ReviewRequest,
    responses((status = 200, body = ApplicationView), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn request(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<ReviewRequest>,
) -> Result<Response, ApiError> {
    let person = citizen(&principal)?;
    let reason = body.reason.trim();
    let length = reason.chars().count();
    if length == 0 || length > 500 || reason.chars().any(|c| c.is_control() && c != '\n') {
        return Err(ApiError::invalid(
            "loan.invalid_review_reason",
            "请填写复核理由（1 至 500 字）。",
        ));
    }
    let row = load(&state, person, id).await?;
    if row.state != "declined" {
        return Err(conflict(
            "loan.review_not_applicable",
            "只有未通过的申请可以申请人工复核。",
        ));
    }
    if review_of(&state, id).await?.is_some() {
        return Err(conflict(
            "loan.review_exists",
            "您已申请人工复核，请耐心等待结果。",
        ));
    }
    let review_id = Uuid::now_v7();
    let sealed = seal_json(&state, person, REVIEWS, "reason_enc", review_id, &reason).await?;
    let now = state.clock().now();
    let entry = TimelineEntry {
        seq: next_seq(&state, id).await?,
        step: "review".into(),
        label: step_label("review").into(),
        state: "running".into(),
        at: now,
        detail: Some("已申请人工复核，银行工作人员将在 2 个工作日内处理".into()),
    };
    let mut tx = state.store().begin_write().await?;
    let inserted = bianmin_store::on_tx!(&mut tx, conn => {
        sqlx::query(
            "INSERT INTO loan_reviews (id, application_id, person_id, reason_enc, state, \
             requested_at) VALUES ($1, $2, $3, $4, 'pending', $5)",
        )
        .bind(review_id)
        .bind(id)
        .bind(person)
        .bind(&sealed)
        .bind(now)
        .execute(conn)
        .await
            .map(|r| r.rows_affected())
    });
    if let Err(e) = inserted {
        if super::application::is_unique_violation(&e) {
            return Err(conflict(
                "loan.review_exists",
                "您已申请人工复核，请耐心等待结果。",
            ));
        }
        return Err(StoreError::from(e).into());
    }
    insert_steps(&mut tx, id, std::slice::from_ref(&entry)).await?;
    tx.append_event(&NewEvent::new(
        "loan.review_requested",
        "loan_application",
        id.to_string(),
        json!({}),
        now,
    ))
    .await?;
    tx.commit().await?;
    let row = load(&state, person, id).await?;
    Ok(no_store(view(&state, row).await?))
}

/// A review in the console's queue.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueItem {
    /// Review id.
    pub id: Uuid,
    /// Application id.
    pub application_id: Uuid,
    /// `pending`, `upheld` or `overturned`.
    pub state: String,
    /// Asked for.
    pub requested_at: DateTime<Utc>,
    /// Resolved.
    pub resolved_at: Option<DateTime<Utc>>,
    /// The applicant's reason.
    pub reason: String,
    /// The applicant, masked (JR/T 0171).
    pub applicant: String,
    /// Amount asked for.
    pub amount: String,
    /// Scorecard points.
    pub points: i32,
    /// Model version.
    pub model_version: String,
    /// Policy version.
    pub policy_version: String,
    /// Why the model declined.
    pub decline_reasons: Vec<ReasonView>,
    /// Whether a reviewer may overturn it (no hard policy rule failed).
    pub overturnable: bool,
    /// Reviewer.
    pub reviewer: Option<String>,
    /// Reviewer's note.
    pub note: Option<String>,
    /// The limit granted on overturn.
    pub limit: Option<String>,
}

/// The queue.
#[derive(Debug, Serialize, ToSchema)]
pub struct Queue {
    /// Pending first (oldest first), then the 50 most recently resolved.
    pub items: Vec<QueueItem>,
}

fn operator(principal: &Principal) -> Result<(), ApiError> {
    principal.require(&[Role::BankOperator])
}

/// The human-review queue of the bank console.
#[utoipa::path(get, path = "/api/v1/console/loan/reviews", tag = "lending",
    responses((status = 200, body = Queue), (status = 403, body = Problem)))]
pub async fn queue(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Response, ApiError> {
    operator(&principal)?;
    let sql = format!(
        "SELECT {COLUMNS} FROM (SELECT {COLUMNS} FROM loan_reviews WHERE state = 'pending' \
         ORDER BY requested_at LIMIT 200) p \
         UNION ALL SELECT {COLUMNS} FROM (SELECT {COLUMNS} FROM loan_reviews \
         WHERE state <> 'pending' ORDER BY resolved_at DESC LIMIT 50) r"
    );
    let rows = bianmin_store::on_pool!(state.store(), pool => {
        sqlx::query_as::<_, ReviewRow>(sqlx::AssertSqlSafe(sql.as_str()))
            .fetch_all(pool)
            .await
            .map_err(StoreError::from)?
    });
    let mut items = Vec::with_capacity(rows.len());
    for row in &rows {
        items.push(item(&state, row).await?);
    }
    Ok(no_store(Queue { items }))
}

async fn item(state: &AppState, row: &ReviewRow) -> Result<QueueItem, ApiError> {
    let application = load_any(state, row.application_id)
        .await?
        .ok_or_else(|| ApiError::internal("review without its application"))?;
    let decision = match &application.decision_enc {
        Some(sealed) => open_decision(state, row.person_id, application.id, sealed).await?,
        None => return Err(ApiError::internal("review of an undecided application")),
    };
    let reason: String = open_json(
        state,
        row.person_id,
        REVIEWS,
        "reason_enc",
        row.id,
        &row.reason_enc,
    )
    .await?;
    let applicant = state.vault().masked(row.person_id).await?.name;
    let (decline_reasons, overturnable) = match &decision.outcome {
        Outcome::Declined { reasons } => (
            reasons
                .iter()
                .map(|r| ReasonView {
                    code: r.code.clone(),
                    reason: r.reason_zh.clone(),
                })
                .collect(),
            !reasons.iter().any(|r| r.source == ReasonSource::Policy),
        ),
        Outcome::Approved { .. } => (Vec::new(), false),
    };
    Ok(QueueItem {
        id: row.id,
        application_id: row.application_id,
        state: row.state.clone(),
        requested_at: row.requested_at,
        resolved_at: row.resolved_at,
        reason,
        applicant,
        amount: Money::from_fen(application.requested_fen).to_string(),
        points: decision.points,
        model_version: decision.model_version.clone(),
        policy_version: decision.policy_version.clone(),
        decline_reasons,
        overturnable,
        reviewer: row.reviewer.clone(),
        note: row.note.clone(),
        limit: row.limit_fen.map(|f| Money::from_fen(f).to_string()),
    })
}

/// Body of `POST /api/v1/console/loan/reviews/{id}/resolve`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Resolution {
    /// `upheld` (the decline stands) or `overturned` (a line is offered).
    pub outcome: String,
    /// The reviewer's note to the applicant (2–500 characters).
    pub note: String,
    /// The line granted when overturning (1,000 up to the amount asked for, a multiple of 100).
    pub limit: Option<String>,
}

/// Resolves a review: upholds the decline, or overturns it with a limit; audited, with the
/// applicant's timeline and an event.
#[utoipa::path(post, path = "/api/v1/console/loan/reviews/{id}/resolve", tag = "lending",
    params(("id" = Uuid, Path, description = "review id")),
    request_body = Resolution,
    responses((status = 200, body = QueueItem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn resolve(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<Resolution>,
) -> Result<Response, ApiError> {
    operator(&principal)?;
    let note = body.note.trim();
    if !(2..=500).contains(&note.chars().count()) {
        return Err(ApiError::invalid(
            "loan.invalid_note",
            "请填写复核意见（2 至 500 字），申请人将看到这段说明。",
        ));
    }
    let sql = format!("SELECT {COLUMNS} FROM loan_reviews WHERE id = $1");
    let row = bianmin_store::on_pool!(state.store(), pool => {
        sqlx::query_as::<_, ReviewRow>(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(id)
            .fetch_optional(pool)
            .await
            .map_err(StoreError::from)?
    })
    .ok_or_else(|| ApiError::not_found("未找到该复核申请。"))?;
    if row.state != "pending" {
        return Err(conflict("loan.review_resolved", "该复核申请已处理。"));
    }
    let application = load_any(&state, row.application_id)
        .await?
        .ok_or_else(|| ApiError::internal("review without its application"))?;
    let current = item(&state, &row).await?;
    let (outcome, limit, daily) = match body.outcome.as_str() {
        "upheld" => ("upheld", None, None),
        "overturned" => {
            if !current.overturnable {
                return Err(conflict(
                    "loan.review_not_overturnable",
                    "该申请未通过法定或政策硬性规则（如年龄、失信被执行人、当前逾期），不能改判。",
                ));
            }
            let limit = overturn_limit(body.limit.as_deref(), &application)?;
            let band = state
                .lending()
                .pricing()
                .bands
                .iter()
                .min_by_key(|b| b.min_points)
                .ok_or_else(|| ApiError::internal("pricing has no bands"))?;
            let daily = state
                .lending()
                .pricing()
                .band_for(current.points)
                .unwrap_or(band)
                .daily_rate;
            ("overturned", Some(limit), Some(daily))
        }
        _ => {
            return Err(ApiError::invalid(
                "loan.invalid_outcome",
                "复核结论应为 upheld（维持）或 overturned（改判通过）。",
            ));
        }
    };
    let now = state.clock().now();
    let seq = next_seq(&state, application.id).await?;
    let entry = TimelineEntry {
        seq,
        step: "review".into(),
        label: step_label("review").into(),
        state: if outcome == "overturned" {
            "done"
        } else {
            "failed"
        }
        .into(),
        at: now,
        detail: Some(if outcome == "overturned" {
            format!(
                "人工复核改判通过，授信额度 {} 元",
                limit.unwrap_or(Money::ZERO)
            )
        } else {
            "人工复核维持原审批结果".to_owned()
        }),
    };
    let mut tx = state.store().begin_write().await?;
    let updated = bianmin_store::on_tx!(&mut tx, conn => {
        sqlx::query(
            "UPDATE loan_reviews SET state = $1, resolved_at = $2, reviewer = $3, note = $4, \
             limit_fen = $5, daily_rate = $6 WHERE id = $7 AND state = 'pending'",
        )
        .bind(outcome)
        .bind(now)
        .bind(principal.audit_actor())
        .bind(note)
        .bind(limit.map(Money::fen))
        .bind(daily.map(|d| d.to_string()))
        .bind(id)
        .execute(conn)
        .await
        .map_err(StoreError::from)?
        .rows_affected()
    });
    if updated != 1 {
        return Err(conflict("loan.review_resolved", "该复核申请已处理。"));
    }
    if outcome == "overturned" {
        bianmin_store::on_tx!(&mut tx, conn => {
            sqlx::query(
                "UPDATE loan_applications SET state = 'approved', updated_at = $1 \
                 WHERE id = $2 AND state = 'declined'",
            )
            .bind(now)
            .bind(application.id)
            .execute(conn)
            .await
            .map_err(StoreError::from)?
            .rows_affected()
        });
    }
    insert_steps(&mut tx, application.id, std::slice::from_ref(&entry)).await?;
    tx.append_audit(
        state.keyring().audit_key(),
        &AuditEntry {
            actor: principal.audit_actor(),
            action: "loan.review".into(),
            target: format!("loan_application:{}", application.id),
            purpose: Some("闪电贷人工复核（个人信息保护法第二十四条）".into()),
            details: json!({ "outcome": outcome, "review": id }),
            occurred_at: now,
        },
    )
    .await?;
    tx.append_event(&NewEvent::new(
        "loan.reviewed",
        "loan_application",
        application.id.to_string(),
        json!({ "outcome": outcome }),
        now,
    ))
    .await?;
    tx.commit().await?;
    let row = bianmin_store::on_pool!(state.store(), pool => {
        sqlx::query_as::<_, ReviewRow>(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(id)
            .fetch_one(pool)
            .await
            .map_err(StoreError::from)?
    });
    Ok(no_store(item(&state, &row).await?))
}

fn overturn_limit(input: Option<&str>, application: &ApplicationRow) -> Result<Money, ApiError> {
    let requested = Money::from_fen(application.requested_fen);
    let invalid = || {
        ApiError::invalid(
            "loan.invalid_limit",
            format!("改判额度应为 {MIN_AMOUNT} 元至申请金额 {requested} 元之间、100 元的整数倍。"),
        )
    };
    let limit = Money::parse_positive(input.ok_or_else(invalid)?.trim()).map_err(|_| invalid())?;
    if limit < MIN_AMOUNT || limit > requested.min(MAX_AMOUNT) || limit.fen() % 10_000 != 0 {
        return Err(invalid());
    }
    Ok(limit)
}

/// The result of replaying a decision.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReplayView {
    /// Whether deciding again on the stored answers gives the stored decision, byte for byte.
    pub replayed: bool,
    /// Model version.
    pub model_version: String,
    /// Policy version.
    pub policy_version: String,
    /// Pricing version.
    pub pricing_version: String,
    /// Fingerprint of the features.
    pub inputs_hash: String,
    /// The same hash, recomputed.
    pub recomputed_hash: String,
}

/// Replays a decision: opens what it was made on and decides again with the same versions.
/// Audited (it reads personal data).
#[utoipa::path(get, path = "/api/v1/console/loan/applications/{id}/replay", tag = "lending",
    params(("id" = Uuid, Path, description = "application id")),
    responses((status = 200, body = ReplayView), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn replay(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<ReplayView>, ApiError> {
    principal.require(&[Role::BankOperator, Role::Auditor])?;
    let application = load_any(&state, id)
        .await?
        .ok_or_else(|| ApiError::not_found("未找到该申请。"))?;
    let (Some(decision_enc), Some(records_enc)) =
        (&application.decision_enc, &application.records_enc)
    else {
        return Err(conflict("loan.not_decided", "该申请尚未作出决定。"));
    };
    let person = application.person_id;
    let decision = open_decision(&state, person, id, decision_enc).await?;
    let records: AgencyRecords =
        open_json(&state, person, APPLICATIONS, "records_enc", id, records_enc).await?;
    let context = state.lending().context();
    let again = decide(&decision.application, &records, &context);
    let recomputed_hash = again
        .as_ref()
        .map(|d| d.inputs_hash.clone())
        .unwrap_or_default();
    let replayed = again.as_ref().is_ok_and(|d| *d == decision);
    state
        .store()
        .append_audit(
            state.keyring().audit_key(),
            &AuditEntry {
                actor: principal.audit_actor(),
                action: "loan.replay".into(),
                target: format!("loan_application:{id}"),
                purpose: Some("复现信贷决策".into()),
                details: json!({ "replayed": replayed }),
                occurred_at: state.clock().now(),
            },
        )
        .await?;
    Ok(Json(ReplayView {
        replayed,
        model_version: decision.model_version,
        policy_version: decision.policy_version,
        pricing_version: decision.pricing_version,
        inputs_hash: decision.inputs_hash,
        recomputed_hash,
    }))
}
