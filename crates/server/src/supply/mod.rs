//! 供应链融资 supply-chain loans for a core enterprise's small distributors, over HTTP.
//!
//! - [`enterprise`]: the core enterprise (A集团) onboarded by the bank, its data-sharing
//!   agreement (the enterprise's consent: scope, purpose, expiry), the distributor list and
//!   the batch pre-approval of every distributor from the enterprise's data, pulled through the
//!   exchange; the bank console's view per enterprise and the enterprise's own view of its
//!   distributors' use of their lines (no personal data).
//! - [`line`]: the distributor's side in the H5 pages: the owner's consent, the pre-approved
//!   offers of the distributors they own, accepting one in one step (real-name check, owner's
//!   credit report and court records), draws that pay an order of the core enterprise directly
//!   (受托支付), repayments any time from the settlement account or swept from a share of each
//!   sales receipt, on the same ledger as the 闪电贷 line (daily interest).
//! - [`monitor`]: early warning from the enterprise's monthly data: orders falling, returns
//!   rising, payments late lower or freeze a line, with the reason recorded and shown.
//!
//! The rules (features, pre-approval, owner check, warnings, sweep) are pure, in
//! `bianmin_lending::supply`; this module is orchestration and SQL, like `crate::lending`.

pub mod demo;
pub mod enterprise;
pub mod line;
pub mod monitor;
pub mod offer;

use std::sync::OnceLock;

use axum::http::StatusCode;
use bianmin_core::Uscc;
use bianmin_lending::supply::SupplyPolicy;
use bianmin_store::{StoreError, on_pool};
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde_json::Value;
use uuid::Uuid;

use crate::app::AppState;
use crate::auth::{Principal, Role};
use crate::http::problem::ApiError;

/// The core enterprise of the demo: A集团, served by the simulator's subsystem of that name.
pub const DEMO_ENTERPRISE_NAME: &str = "A集团";
/// A集团's 统一社会信用代码 (fictional, with a valid GB 32100 check character).
pub const DEMO_ENTERPRISE_USCC: &str = "91510100MA62Q8TY3B";
/// The institution whose staff act for A集团.
pub const DEMO_ENTERPRISE_INSTITUTION: &str = "inst-agroup";

/// The services a data-sharing agreement lets the bank call at the enterprise.
pub const AGREEMENT_SCOPE: [&str; 4] = [
    "enterprise.network",
    "enterprise.trade",
    "enterprise.orders.open",
    "enterprise.order.pay",
];

/// What the agreement's data are for, as the enterprise signs it.
pub const AGREEMENT_PURPOSE: &str =
    "供应链融资：经销商批量预授信、受托支付订货款、贷后预警监测（不含经销商个人信息）";

/// Days an agreement runs when the enterprise does not say.
pub const AGREEMENT_DEFAULT_DAYS: u32 = 365;

/// The shipped supply-chain credit policy.
pub fn policy() -> Result<&'static SupplyPolicy, ApiError> {
    static POLICY: OnceLock<Result<&'static SupplyPolicy, String>> = OnceLock::new();
    POLICY
        .get_or_init(|| SupplyPolicy::embedded().map_err(|e| e.to_string()))
        .clone()
        .map_err(ApiError::internal)
}

/// A core enterprise.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EnterpriseRow {
    /// Id.
    pub id: Uuid,
    /// The exchange subsystem serving its data.
    pub subsystem: String,
    /// 统一社会信用代码.
    pub uscc: String,
    /// Name.
    pub name: String,
    /// Department code of its staff.
    pub institution: String,
}

const ENTERPRISE_COLUMNS: &str = "id, subsystem, uscc, name, institution";

/// The enterprise with id `id`.
pub async fn enterprise(state: &AppState, id: Uuid) -> Result<EnterpriseRow, ApiError> {
    let sql = format!("SELECT {ENTERPRISE_COLUMNS} FROM scf_enterprises WHERE id = $1");
    let row = on_pool!(state.store(), pool => {
        sqlx::query_as::<_, EnterpriseRow>(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(id)
            .fetch_optional(pool)
            .await
            .map_err(StoreError::from)?
    });
    row.ok_or_else(|| ApiError::not_found("未找到该核心企业。"))
}

/// The enterprise whose staff belong to institution `code`, if onboarded.
pub async fn enterprise_of_institution(
    state: &AppState,
    code: &str,
) -> Result<Option<EnterpriseRow>, ApiError> {
    let sql = format!("SELECT {ENTERPRISE_COLUMNS} FROM scf_enterprises WHERE institution = $1");
    Ok(on_pool!(state.store(), pool => {
        sqlx::query_as::<_, EnterpriseRow>(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(code)
            .fetch_optional(pool)
            .await
            .map_err(StoreError::from)?
    }))
}

/// Every onboarded enterprise, by name.
pub async fn enterprises(state: &AppState) -> Result<Vec<EnterpriseRow>, ApiError> {
    let sql = format!("SELECT {ENTERPRISE_COLUMNS} FROM scf_enterprises ORDER BY name");
    Ok(on_pool!(state.store(), pool => {
        sqlx::query_as::<_, EnterpriseRow>(sqlx::AssertSqlSafe(sql.as_str()))
            .fetch_all(pool)
            .await
            .map_err(StoreError::from)?
    }))
}

/// A data-sharing agreement.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AgreementRow {
    /// Id.
    pub id: Uuid,
    /// JSON array of service codes.
    pub scope: String,
    /// Purpose.
    pub purpose: String,
    /// Signed.
    pub granted_at: DateTime<Utc>,
    /// Who signed (audit actor).
    pub granted_by: String,
    /// Runs until.
    pub expires_at: DateTime<Utc>,
    /// Revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl AgreementRow {
    /// The service codes it covers.
    pub fn services(&self) -> Vec<String> {
        serde_json::from_str(&self.scope).unwrap_or_default()
    }

    /// `active`, `expired` or `revoked` at `now`.
    pub fn state_at(&self, now: DateTime<Utc>) -> &'static str {
        if self.revoked_at.is_some() {
            "revoked"
        } else if self.expires_at <= now {
            "expired"
        } else {
            "active"
        }
    }
}

/// The enterprise's latest agreement, whatever its state.
pub async fn latest_agreement(
    state: &AppState,
    enterprise: Uuid,
) -> Result<Option<AgreementRow>, ApiError> {
    Ok(on_pool!(state.store(), pool => {
        sqlx::query_as::<_, AgreementRow>(
            "SELECT id, scope, purpose, granted_at, granted_by, expires_at, revoked_at \
             FROM scf_agreements WHERE enterprise_id = $1 ORDER BY granted_at DESC, id DESC LIMIT 1",
        )
        .bind(enterprise)
        .fetch_optional(pool)
        .await
        .map_err(StoreError::from)?
    }))
}

/// Refuses unless `enterprise` has an agreement in force covering `service`.
pub async fn require_agreement(
    state: &AppState,
    enterprise: &EnterpriseRow,
    service: &str,
) -> Result<(), ApiError> {
    let now = state.clock().now();
    match latest_agreement(state, enterprise.id).await? {
        Some(agreement) if agreement.state_at(now) == "active" => {
            if agreement.services().iter().any(|s| s == service) {
                Ok(())
            } else {
                Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "supply.out_of_scope",
                    format!(
                        "{}的数据共享协议未授权本行调用该服务（{service}）。",
                        enterprise.name
                    ),
                ))
            }
        }
        _ => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "supply.no_agreement",
            format!(
                "{}尚未签署或已撤回、已到期数据共享协议：本行不能获取其经销商数据。",
                enterprise.name
            ),
        )),
    }
}

/// Calls company service `code` of `enterprise` through the exchange, under its agreement.
pub async fn call_enterprise<T: DeserializeOwned>(
    state: &AppState,
    enterprise: &EnterpriseRow,
    code: &str,
    body: Value,
) -> Result<T, ApiError> {
    require_agreement(state, enterprise, code).await?;
    call_unchecked(state, code, body).await
}

/// Calls company service `code` with the agreement already checked by the caller (a batch
/// checks once for its hundred calls).
pub(crate) async fn call_unchecked<T: DeserializeOwned>(
    state: &AppState,
    code: &str,
    body: Value,
) -> Result<T, ApiError> {
    let gateway = state
        .gateway()
        .ok_or_else(ApiError::exchange_not_configured)?;
    let service = gateway.service(code)?;
    gateway
        .client()
        .call_as(&service.id, None, None, body)
        .await
        .map_err(|e| ApiError::from(bianmin_gateway::FetchError::from(e)))
}

/// The signed-in owner's person id (a distributor's owner signs in as 企业用户, or as a
/// citizen with a real-name record).
pub(crate) fn owner(principal: &Principal) -> Result<Uuid, ApiError> {
    principal.require(&[Role::Enterprise, Role::Citizen])?;
    principal
        .person_id
        .ok_or_else(|| ApiError::not_found("尚未完成实名信息登记。"))
}

pub(crate) fn parse_uscc(text: &str) -> Result<Uscc, ApiError> {
    Uscc::parse(text).map_err(|e| ApiError::invalid("supply.invalid_uscc", e.to_string()))
}

/// A 409 with `code`.
pub(crate) fn conflict(code: &'static str, detail: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, code, detail)
}
