//! The audit trail for auditors and admins: entries, and verification of the HMAC-SM3 chain.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::app::AppState;
use crate::auth::{Principal, Role};
use crate::http::problem::{ApiError, Problem};
use crate::http::query::ApiQuery;

/// Paging of `GET /api/v1/audit/entries`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct EntriesQuery {
    /// Return entries after this sequence number (default 0).
    #[serde(default)]
    pub after: i64,
    /// At most this many (1–500, default 100).
    pub limit: Option<i64>,
}

/// One audit entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntryView {
    /// Position in the chain.
    pub seq: i64,
    /// When.
    pub occurred_at: DateTime<Utc>,
    /// Who (`principal:<id>`, `cli:<user>`, `system`).
    pub actor: String,
    /// What, e.g. `person.reveal`.
    pub action: String,
    /// On what, e.g. `person:<id>`.
    pub target: String,
    /// Why.
    pub purpose: Option<String>,
    /// Details (no personal data).
    pub details: serde_json::Value,
    /// HMAC-SM3 chain tag, hex.
    pub tag: String,
}

/// Result of verifying the chain.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditVerification {
    /// True when every entry and the chain head check out.
    pub intact: bool,
    /// Entries checked.
    pub entries_checked: u64,
    /// First broken entry, if any.
    pub first_broken_seq: Option<i64>,
    /// Why it is broken.
    pub reason: Option<String>,
}

/// Audit entries in chain order (auditor, admin).
#[utoipa::path(get, path = "/api/v1/audit/entries", tag = "audit", params(EntriesQuery),
    responses((status = 200, body = [AuditEntryView]), (status = 403, body = Problem)))]
pub async fn entries(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<EntriesQuery>,
) -> Result<Json<Vec<AuditEntryView>>, ApiError> {
    principal.require(&[Role::Auditor, Role::Admin])?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::invalid(
            "audit.bad_limit",
            "limit 须在 1 到 500 之间。",
        ));
    }
    let rows = state
        .store()
        .audit_entries(query.after.max(0), limit)
        .await?;
    Ok(Json(
        rows.into_iter()
            .map(|e| AuditEntryView {
                seq: e.seq,
                occurred_at: e.occurred_at,
                actor: e.actor,
                action: e.action,
                target: e.target,
                purpose: e.purpose,
                details: e.details,
                tag: hex::encode(e.tag),
            })
            .collect(),
    ))
}

/// Recomputes the HMAC-SM3 chain and reports the first broken entry (auditor, admin).
#[utoipa::path(get, path = "/api/v1/audit/verify", tag = "audit",
    responses((status = 200, body = AuditVerification), (status = 403, body = Problem)))]
pub async fn verify(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<AuditVerification>, ApiError> {
    principal.require(&[Role::Auditor, Role::Admin])?;
    let report = state
        .store()
        .verify_audit(state.keyring().audit_key())
        .await?;
    Ok(Json(AuditVerification {
        intact: report.first_broken.is_none(),
        entries_checked: report.entries_checked,
        first_broken_seq: report.first_broken.as_ref().map(|b| b.seq),
        reason: report.first_broken.map(|b| b.reason),
    }))
}
