//! 公积金 housing provident fund: the signed-in citizen's account, fetched from the 公积金中心
//! through the gateway under their consent (`SERVICE_HPF_QUERY`).
//!
//! The response types are those of the standard's schemas (`docs/schemas/hpf.*.json`), whose
//! reference implementation is `bianmin_govsim::records`.

use axum::Json;
use axum::extract::State;
use axum::http::header::CACHE_CONTROL;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bianmin_consent::Purpose;
use bianmin_govsim::population::housing_fund::HousingFundStatus;
use bianmin_govsim::records::housing_fund::HpfAccount;
use chrono::NaiveDate;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::app::AppState;
use crate::auth::{Principal, Role};
use crate::http::problem::{ApiError, Problem};

/// The citizen's provident-fund account as the H5 page shows it. Money as decimal strings in
/// yuan with two places; the account number masked.
#[derive(Debug, Serialize, ToSchema)]
pub struct HpfAccountView {
    /// Masked to its last four digits, e.g. `********0012`.
    pub account_number: String,
    /// `active`, `sealed` or `closed`.
    pub status: String,
    /// 正常 / 封存 / 销户.
    pub status_text: String,
    /// Employer making the deposits.
    pub employer_name: Option<String>,
    /// First month with a deposit, `YYYY-MM`.
    pub opened: String,
    /// Monthly deposit base.
    pub deposit_base: String,
    /// Employer's rate, percent.
    pub employer_rate_percent: u8,
    /// Employee's rate, percent.
    pub employee_rate_percent: u8,
    /// Monthly deposit, both shares.
    pub monthly_deposit: String,
    /// Balance.
    pub balance: String,
    /// Months with a deposit.
    pub months_contributed: u32,
    /// Last month with a deposit, `YYYY-MM`.
    pub last_deposit: String,
    /// Date the 公积金中心's data describe.
    pub as_of: NaiveDate,
    /// The consent it was fetched under.
    pub consent_id: Uuid,
    /// How long the fetch took, in milliseconds.
    pub fetch_ms: u64,
}

/// All but the last four characters hidden (a 12-digit account number keeps too little
/// hidden under the bank-card rule of showing the first six as well).
fn mask_account(number: &str) -> String {
    let chars: Vec<char> = number.chars().collect();
    let shown = 4.min(chars.len() / 2);
    let hidden = chars.len() - shown;
    "*".repeat(hidden) + &chars[hidden..].iter().collect::<String>()
}

fn status_text(status: HousingFundStatus) -> (&'static str, &'static str) {
    match status {
        HousingFundStatus::Active => ("active", "正常"),
        HousingFundStatus::Sealed => ("sealed", "封存"),
        HousingFundStatus::Closed => ("closed", "销户"),
    }
}

/// The signed-in citizen's provident-fund account. Needs a live `SERVICE_HPF_QUERY` consent:
/// without one the answer is 403 `consent.required` and nothing is sent to the 公积金中心.
#[utoipa::path(get, path = "/api/v1/me/hpf/account", tag = "services",
    responses((status = 200, body = HpfAccountView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 503, body = Problem)))]
pub async fn my_account(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Response, ApiError> {
    principal.require(&[Role::Citizen])?;
    let person = principal
        .person_id
        .ok_or_else(|| ApiError::not_found("尚未完成实名信息登记。"))?;
    let gateway = state.gateway().ok_or_else(|| {
        ApiError::unavailable(
            "exchange.not_configured",
            "未配置政务数据接入（统一接入标准）。",
            60,
        )
    })?;
    let fetched = gateway
        .fetch::<HpfAccount>(person, Purpose::ServiceHpfQuery, "hpf.account", json!({}))
        .await
        .map_err(|e| match e {
            bianmin_gateway::FetchError::Exchange(bianmin_exchange::ExchangeError::NotFound) => {
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    "hpf.no_account",
                    "公积金中心未查到您的公积金账户。",
                )
            }
            other => other.into(),
        })?;
    let account = fetched.value;
    let (status, status_text) = status_text(account.status);
    let view = HpfAccountView {
        account_number: mask_account(&account.account_number),
        status: status.to_owned(),
        status_text: status_text.to_owned(),
        employer_name: account.employer_name,
        opened: account.opened.to_string(),
        deposit_base: account.deposit_base.to_string(),
        employer_rate_percent: account.employer_rate_percent,
        employee_rate_percent: account.employee_rate_percent,
        monthly_deposit: account.monthly_deposit.to_string(),
        balance: account.balance.to_string(),
        months_contributed: account.months_contributed,
        last_deposit: account.last_deposit.to_string(),
        as_of: account.as_of,
        consent_id: fetched.consent_id,
        fetch_ms: u64::try_from(fetched.elapsed.as_millis()).unwrap_or(u64::MAX),
    };
    let mut response = Json(view).into_response();
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
