//! Post-loan monitoring (贷后预警): each open line's distributor is re-read from the core
//! enterprise's books (`enterprise.trade`, under its agreement) and compared, by the pure
//! rules of `bianmin_lending::supply::early_warning`, with the figures the line was approved
//! on. Orders falling, returns rising or payments late lower the limit or freeze the line;
//! the reason is recorded (`scf_warnings`), audited, and shown to the owner, the bank console
//! and — as a status only — the enterprise.

use std::str::FromStr;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bianmin_core::Money;
use bianmin_govsim::YearMonth;
use bianmin_govsim::records::enterprise::{
    DistributorRecord, DistributorTrade, EnterpriseTrade, MAX_TRADE_BATCH,
};
use bianmin_lending::ledger::LineStatus;
use bianmin_lending::supply::{Action, DistributorFacts, Warning, early_warning};
use bianmin_store::{AuditEntry, NewEvent, StoreError, on_pool};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::line::{LineRow, lock, save, status_of, write_journals};
use super::{EnterpriseRow, call_unchecked, enterprise, policy, require_agreement};
use crate::app::AppState;
use crate::auth::{Principal, Role};
use crate::http::no_store;
use crate::http::path::ApiPath;
use crate::http::problem::{ApiError, Problem};
use crate::lending::line::ledger_error;

/// One signal of a warning.
#[derive(Debug, Clone, Serialize, serde::Deserialize, ToSchema)]
pub struct SignalView {
    /// `orders_falling`, `returns_rising`, `payments_late` or `status_changed`.
    pub signal: String,
    /// `watch`, `lower` or `freeze`.
    pub severity: String,
    /// What was seen, in Chinese with the figures.
    pub text: String,
}

/// An early warning acted on.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WarningView {
    /// 统一社会信用代码 of the distributor.
    pub uscc: String,
    /// The distributor.
    pub distributor: String,
    /// `lower` or `freeze`.
    pub action: String,
    /// 调减额度 / 冻结额度.
    pub action_text: &'static str,
    /// The reason shown.
    pub reason: String,
    /// The month of the enterprise's books it was seen in.
    pub closed_month: String,
    /// Limit before.
    pub old_limit: String,
    /// Limit after.
    pub new_limit: String,
    /// Every signal.
    pub signals: Vec<SignalView>,
    /// When.
    pub at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct WarningRow {
    uscc: String,
    name: String,
    action: String,
    reason: String,
    closed_month: String,
    old_limit_fen: i64,
    new_limit_fen: i64,
    signals: String,
    at: DateTime<Utc>,
}

impl From<WarningRow> for WarningView {
    fn from(r: WarningRow) -> Self {
        let signals: Vec<SignalView> = serde_json::from_str::<serde_json::Value>(&r.signals)
            .ok()
            .and_then(|v| v.get("warnings").cloned())
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default();
        Self {
            uscc: r.uscc,
            distributor: r.name,
            action_text: if r.action == "freeze" {
                "冻结额度"
            } else {
                "调减额度"
            },
            action: r.action,
            reason: r.reason,
            closed_month: r.closed_month,
            old_limit: Money::from_fen(r.old_limit_fen).to_string(),
            new_limit: Money::from_fen(r.new_limit_fen).to_string(),
            signals,
            at: r.at,
        }
    }
}

const WARNING_SELECT: &str = "SELECT d.uscc, d.name, w.action, w.reason, w.closed_month, \
     w.old_limit_fen, w.new_limit_fen, w.signals, w.at FROM scf_warnings w \
     JOIN scf_lines l ON l.id = w.line_id JOIN scf_distributors d ON d.id = l.distributor_id";

/// The latest `limit` warnings over `enterprise`'s lines.
pub async fn recent(
    state: &AppState,
    enterprise: Uuid,
    limit: i64,
) -> Result<Vec<WarningView>, ApiError> {
    let sql = format!(
        "{WARNING_SELECT} WHERE d.enterprise_id = $1 ORDER BY w.at DESC, w.id DESC LIMIT $2"
    );
    let rows = on_pool!(state.store(), pool => {
        sqlx::query_as::<_, WarningRow>(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(enterprise)
            .bind(limit)
            .fetch_all(pool)
            .await
            .map_err(StoreError::from)?
    });
    Ok(rows.into_iter().map(WarningView::from).collect())
}

/// The warnings of line `line`, newest first.
pub async fn for_line(state: &AppState, line: Uuid) -> Result<Vec<WarningView>, ApiError> {
    let sql =
        format!("{WARNING_SELECT} WHERE w.line_id = $1 ORDER BY w.at DESC, w.id DESC LIMIT 20");
    let rows = on_pool!(state.store(), pool => {
        sqlx::query_as::<_, WarningRow>(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(line)
            .fetch_all(pool)
            .await
            .map_err(StoreError::from)?
    });
    Ok(rows.into_iter().map(WarningView::from).collect())
}

/// One line's outcome in a monitoring run.
#[derive(Debug, Serialize, ToSchema)]
pub struct MonitorResult {
    /// 统一社会信用代码.
    pub uscc: String,
    /// The distributor.
    pub distributor: String,
    /// `keep`, `lower`, `freeze` or `unchanged` (already frozen, or a lower limit already
    /// in force).
    pub action: &'static str,
    /// The reason, when acted on.
    pub reason: Option<String>,
}

/// What a monitoring run did.
#[derive(Debug, Serialize, ToSchema)]
pub struct MonitorSummary {
    /// The enterprise's last closed month the data describe.
    pub closed_month: String,
    /// Lines checked.
    pub checked: usize,
    /// Left as they were.
    pub kept: usize,
    /// Limits lowered.
    pub lowered: usize,
    /// Lines frozen.
    pub frozen: usize,
    /// Each line acted on (lowered or frozen).
    pub acted: Vec<MonitorResult>,
}

/// `POST /api/v1/console/supply/enterprises/{id}/monitoring`: runs the early warnings over the
/// enterprise's open lines now (the nightly job does the same).
#[utoipa::path(post, path = "/api/v1/console/supply/enterprises/{id}/monitoring", tag = "supply",
    params(("id" = Uuid, Path, description = "Enterprise id")),
    responses((status = 201, body = MonitorSummary), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn monitor(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Response, ApiError> {
    principal.require(&[Role::BankOperator, Role::Admin])?;
    let enterprise = enterprise(&state, id).await?;
    let summary = run(&state, &enterprise, &principal.audit_actor()).await?;
    Ok((StatusCode::CREATED, no_store(summary)).into_response())
}

#[derive(sqlx::FromRow)]
struct FactsRow {
    line_id: Uuid,
    uscc: String,
    name: String,
    province: String,
    city: String,
    tier: String,
    joined: String,
    tenure_months: i64,
    core_limit_fen: i64,
    status: String,
}

/// Rebuilds the list record of a distributor from its row.
fn record_of(row: &FactsRow) -> Result<DistributorRecord, ApiError> {
    Ok(DistributorRecord {
        uscc: row.uscc.clone(),
        name: row.name.clone(),
        province: row.province.clone(),
        city: row.city.clone(),
        tier: serde_json::from_value(json!(row.tier)).map_err(ApiError::internal)?,
        joined: YearMonth::from_str(&row.joined).map_err(ApiError::internal)?,
        tenure_months: u32::try_from(row.tenure_months).unwrap_or(0),
        credit_limit: Money::from_fen(row.core_limit_fen),
        status: serde_json::from_value(json!(row.status)).map_err(ApiError::internal)?,
    })
}

/// Runs the early warnings over every open line of `enterprise`.
pub async fn run(
    state: &AppState,
    enterprise: &EnterpriseRow,
    actor: &str,
) -> Result<MonitorSummary, ApiError> {
    require_agreement(state, enterprise, "enterprise.trade").await?;
    let policy = policy()?;
    let rows = on_pool!(state.store(), pool => {
        sqlx::query_as::<_, FactsRow>(
            "SELECT l.id AS line_id, d.uscc, d.name, d.province, d.city, d.tier, d.joined, \
             CAST(d.tenure_months AS BIGINT) AS tenure_months, d.core_limit_fen, d.status \
             FROM scf_lines l JOIN scf_distributors d ON d.id = l.distributor_id \
             WHERE d.enterprise_id = $1 AND l.status <> 'closed' ORDER BY d.uscc",
        )
        .bind(enterprise.id)
        .fetch_all(pool)
        .await
        .map_err(StoreError::from)?
    });
    let mut summary = MonitorSummary {
        closed_month: String::new(),
        checked: 0,
        kept: 0,
        lowered: 0,
        frozen: 0,
        acted: Vec::new(),
    };
    for chunk in rows.chunks(MAX_TRADE_BATCH) {
        let usccs: Vec<&str> = chunk.iter().map(|r| r.uscc.as_str()).collect();
        let answer: EnterpriseTrade =
            call_unchecked(state, "enterprise.trade", json!({ "usccs": usccs })).await?;
        summary.closed_month = answer.closed_month.to_string();
        let trades: std::collections::HashMap<&str, &DistributorTrade> = answer
            .distributors
            .iter()
            .map(|t| (t.uscc.as_str(), t))
            .collect();
        for row in chunk {
            let Some(trade) = trades.get(row.uscc.as_str()) else {
                continue;
            };
            summary.checked += 1;
            let facts = DistributorFacts::of(&record_of(row)?, trade);
            let result = act(
                state,
                row.line_id,
                &facts,
                &summary.closed_month,
                policy,
                actor,
            )
            .await?;
            match result.action {
                "lower" => summary.lowered += 1,
                "freeze" => summary.frozen += 1,
                _ => summary.kept += 1,
            }
            if matches!(result.action, "lower" | "freeze") {
                summary.acted.push(result);
            }
        }
    }
    tracing::info!(
        enterprise = %enterprise.name, checked = summary.checked, lowered = summary.lowered,
        frozen = summary.frozen, "supply-chain monitoring"
    );
    Ok(summary)
}

/// Applies the warnings of one line in one transaction.
async fn act(
    state: &AppState,
    line_id: Uuid,
    facts: &DistributorFacts,
    closed_month: &str,
    policy: &bianmin_lending::supply::SupplyPolicy,
    actor: &str,
) -> Result<MonitorResult, ApiError> {
    let now = state.clock().now();
    let today = state.clock().today_china();
    let mut tx = state.store().begin_write().await?;
    let row: LineRow = lock(&mut tx, line_id).await?;
    let mut line = row.line()?;
    let position = line.position().map_err(ledger_error)?;
    let baseline = row.baseline()?;
    let monitoring = early_warning(&baseline, facts, position.limit, policy);
    let reason_of = |warnings: &[Warning]| {
        warnings
            .iter()
            .map(|w| w.text.as_str())
            .collect::<Vec<_>>()
            .join("；")
    };
    let (action, new_limit, reason, journals) = match &monitoring.action {
        Action::Freeze { reason } if position.status != LineStatus::Frozen => {
            let journals = line.freeze(today, reason.clone()).map_err(ledger_error)?;
            ("freeze", position.limit, reason.clone(), journals)
        }
        Action::Lower { limit }
            if *limit < position.limit && position.status == LineStatus::Active =>
        {
            let journals = line.change_limit(today, *limit).map_err(ledger_error)?;
            let reason = reason_of(&monitoring.warnings);
            ("lower", *limit, reason, journals)
        }
        Action::Keep => {
            bianmin_store::on_tx!(&mut tx, conn => {
                sqlx::query("UPDATE scf_lines SET monitored_at = $1 WHERE id = $2")
                    .bind(now)
                    .bind(row.id)
                    .execute(conn)
                    .await
                    .map_err(StoreError::from)?
                    .rows_affected()
            });
            tx.commit().await?;
            return Ok(MonitorResult {
                uscc: row.uscc,
                distributor: row.name,
                action: "keep",
                reason: None,
            });
        }
        _ => {
            return Ok(MonitorResult {
                uscc: row.uscc,
                distributor: row.name,
                action: "unchanged",
                reason: None,
            });
        }
    };
    write_journals(&mut tx, row.id, &journals, None, now).await?;
    let status = if action == "freeze" {
        "frozen".to_owned()
    } else {
        let ledger_status = status_of(&line, &row.status)?;
        if ledger_status == "active" {
            "lowered".to_owned()
        } else {
            ledger_status
        }
    };
    save(&mut tx, &row, &line, &status, Some(&reason), now).await?;
    let signals = json!({
        "warnings": monitoring.warnings.iter().map(|w| SignalView {
            signal: super::enterprise::enum_text(&w.signal),
            severity: super::enterprise::enum_text(&w.severity),
            text: w.text.clone(),
        }).collect::<Vec<_>>(),
        "features": monitoring.features,
        "baseline": baseline,
    });
    bianmin_store::on_tx!(&mut tx, conn => {
        sqlx::query(
            "INSERT INTO scf_warnings (id, line_id, closed_month, action, old_limit_fen, \
             new_limit_fen, reason, signals, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(Uuid::now_v7())
        .bind(row.id)
        .bind(closed_month)
        .bind(action)
        .bind(position.limit.fen())
        .bind(new_limit.fen())
        .bind(&reason)
        .bind(signals.to_string())
        .bind(now)
        .execute(&mut *conn)
        .await
        .map_err(StoreError::from)?;
        sqlx::query("UPDATE scf_lines SET monitored_at = $1 WHERE id = $2")
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
            actor: actor.to_owned(),
            action: format!("supply.line.{action}"),
            target: format!("scf_line:{}", row.id),
            purpose: Some("供应链融资贷后预警".into()),
            details: json!({
                "closed_month": closed_month, "old_limit_fen": position.limit.fen(),
                "new_limit_fen": new_limit.fen(), "reason": reason,
            }),
            occurred_at: now,
        },
    )
    .await?;
    tx.append_event(&NewEvent::new(
        "supply.warned",
        "scf_line",
        row.id.to_string(),
        json!({ "enterprise": row.enterprise_id, "action": action }),
        now,
    ))
    .await?;
    tx.commit().await?;
    Ok(MonitorResult {
        uscc: row.uscc,
        distributor: row.name,
        action,
        reason: Some(reason),
    })
}

/// The nightly job: monitoring of every enterprise whose agreement is in force.
pub async fn run_all(state: &AppState) -> Result<usize, ApiError> {
    let mut acted = 0;
    for enterprise in super::enterprises(state).await? {
        if require_agreement(state, &enterprise, "enterprise.trade")
            .await
            .is_err()
        {
            continue;
        }
        let summary = run(state, &enterprise, "system:supply-monitoring").await?;
        acted += summary.lowered + summary.frozen;
    }
    Ok(acted)
}

/// Body of `POST /api/v1/console/supply/distributors/{uscc}/unfreeze`.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Unfreeze {
    /// The reviewer's note: why the freeze is lifted (kept in the audit chain).
    pub note: String,
}

/// `POST /api/v1/console/supply/distributors/{uscc}/unfreeze`: a bank operator lifts a freeze
/// after reviewing the distributor (a lowered limit stays as it is). Monitoring freezes it
/// again if the next month's figures still call for it.
#[utoipa::path(post, path = "/api/v1/console/supply/distributors/{uscc}/unfreeze", tag = "supply",
    params(("uscc" = String, Path, description = "统一社会信用代码")),
    request_body = Unfreeze,
    responses((status = 200, body = super::enterprise::LineSummary), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn unfreeze(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(uscc): ApiPath<String>,
    crate::http::json::ApiJson(body): crate::http::json::ApiJson<Unfreeze>,
) -> Result<Response, ApiError> {
    principal.require(&[Role::BankOperator, Role::Admin])?;
    let uscc = super::parse_uscc(&uscc)?;
    let note = body.note.trim();
    if note.is_empty() || note.chars().count() > 200 {
        return Err(ApiError::invalid(
            "supply.invalid_note",
            "请填写复核意见（不超过 200 字）。",
        ));
    }
    let line_id: Uuid = on_pool!(state.store(), pool => {
        sqlx::query_scalar(
            "SELECT l.id FROM scf_lines l JOIN scf_distributors d ON d.id = l.distributor_id \
             WHERE d.uscc = $1",
        )
        .bind(uscc.as_str())
        .fetch_optional(pool)
        .await
        .map_err(StoreError::from)?
    })
    .ok_or_else(|| ApiError::not_found("该经销商没有供应链融资额度。"))?;
    let now = state.clock().now();
    let today = state.clock().today_china();
    let mut tx = state.store().begin_write().await?;
    let row = lock(&mut tx, line_id).await?;
    let mut line = row.line()?;
    let journals = line.unfreeze(today).map_err(|e| match e {
        bianmin_lending::ledger::LedgerError::NotFrozen => {
            super::conflict("supply.not_frozen", "该额度未被冻结。")
        }
        other => ledger_error(other),
    })?;
    write_journals(&mut tx, row.id, &journals, None, now).await?;
    // A limit lowered before the freeze stays lowered, and the status says so.
    let lowered: i64 = bianmin_store::on_tx!(&mut tx, conn => {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM scf_warnings WHERE line_id = $1 AND action = 'lower'",
        )
        .bind(row.id)
        .fetch_one(conn)
        .await
        .map_err(StoreError::from)?
    });
    let status = status_of(&line, if lowered > 0 { "lowered" } else { "active" })?;
    save(&mut tx, &row, &line, &status, None, now).await?;
    tx.append_audit(
        state.keyring().audit_key(),
        &AuditEntry {
            actor: principal.audit_actor(),
            action: "supply.line.unfreeze".into(),
            target: format!("scf_line:{}", row.id),
            purpose: Some("供应链融资贷后预警人工复核".into()),
            details: json!({ "note": note, "frozen_reason": row.status_reason }),
            occurred_at: now,
        },
    )
    .await?;
    tx.append_event(&NewEvent::new(
        "supply.unfrozen",
        "scf_line",
        row.id.to_string(),
        json!({ "enterprise": row.enterprise_id }),
        now,
    ))
    .await?;
    tx.commit().await?;
    let position = line.position().map_err(ledger_error)?;
    Ok(no_store(super::enterprise::LineSummary {
        limit: position.limit.to_string(),
        outstanding: position.principal.to_string(),
        status_text: super::enterprise::line_status_text(&status).to_owned(),
        status,
        status_reason: None,
    }))
}
