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
use bianmin_govsim::YearMonth;
use bianmin_govsim::population::housing_fund::HousingFundStatus;
use bianmin_govsim::records::housing_fund::{EntryKind, HpfAccount, HpfDeposits};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::app::AppState;
use crate::auth::{Principal, Role};
use crate::http::problem::{ApiError, Problem};
use crate::http::query::ApiQuery;
use crate::usage::Use;

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

/// The signed-in citizen's person id and the gateway, or the error to answer with.
pub(crate) fn citizen_and_gateway<'a>(
    state: &'a AppState,
    principal: &Principal,
) -> Result<(Uuid, &'a bianmin_gateway::Gateway), ApiError> {
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
    Ok((person, gateway))
}

/// `not_found` from the 公积金中心 means the citizen has no account.
fn no_account(e: bianmin_gateway::FetchError) -> ApiError {
    match e {
        bianmin_gateway::FetchError::Exchange(bianmin_exchange::ExchangeError::NotFound) => {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "hpf.no_account",
                "公积金中心未查到您的公积金账户。",
            )
        }
        other => other.into(),
    }
}

/// A JSON answer that is personal data: never cached.
pub(crate) fn no_store<T: Serialize>(body: T) -> Response {
    let mut response = Json(body).into_response();
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The signed-in citizen's provident-fund account. Needs a live `SERVICE_HPF_QUERY` consent:
/// without one the answer is 403 `consent.required` and nothing is sent to the 公积金中心.
#[utoipa::path(get, path = "/api/v1/me/hpf/account", tag = "services",
    responses((status = 200, body = HpfAccountView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 503, body = Problem)))]
pub async fn my_account(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Response, ApiError> {
    let (person, gateway) = citizen_and_gateway(&state, &principal)?;
    let usage = Use::start(&principal, person, "hpf.account", "hpf");
    let result = account_view(gateway, person).await;
    usage.finish(&state, &result).await;
    result.map(no_store)
}

async fn account_view(
    gateway: &bianmin_gateway::Gateway,
    person: Uuid,
) -> Result<HpfAccountView, ApiError> {
    let fetched = gateway
        .fetch::<HpfAccount>(person, Purpose::ServiceHpfQuery, "hpf.account", json!({}))
        .await
        .map_err(no_account)?;
    let account = fetched.value;
    let (status, status_text) = status_text(account.status);
    Ok(HpfAccountView {
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
    })
}

/// Query of `GET /api/v1/me/hpf/deposits`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct DepositsQuery {
    /// First month, `YYYY-MM` (default: 12 months before `to`).
    pub from: Option<String>,
    /// Last month, `YYYY-MM` (default: the latest).
    pub to: Option<String>,
    /// Page, from 1 (newest entries first).
    pub page: Option<u32>,
    /// Entries per page, 1–60 (default 12).
    pub per_page: Option<u32>,
}

/// One entry of the deposit history.
#[derive(Debug, Serialize, ToSchema)]
pub struct DepositView {
    /// `YYYY-MM`.
    pub month: String,
    /// `deposit` (缴存) or `interest` (结息).
    pub kind: String,
    /// Deposit base.
    pub base: Option<String>,
    /// Employer's share.
    pub employer_amount: Option<String>,
    /// Employee's share.
    pub employee_amount: Option<String>,
    /// Amount credited.
    pub amount: String,
    /// Balance after it.
    pub balance: String,
}

/// A page of the deposit history, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct DepositsPage {
    /// The months covered.
    pub from: String,
    /// The months covered.
    pub to: String,
    /// This page.
    pub page: u32,
    /// Entries per page.
    pub per_page: u32,
    /// Entries in the range.
    pub total: usize,
    /// The entries of this page.
    pub entries: Vec<DepositView>,
}

fn parse_month(text: &str, field: &'static str) -> Result<YearMonth, ApiError> {
    text.parse::<YearMonth>().map_err(|_| {
        ApiError::invalid(
            "hpf.invalid_month",
            format!("{field} 须为 YYYY-MM 格式的月份，例如 2026-01。"),
        )
    })
}

/// The signed-in citizen's deposit history (缴存明细) in a month range, paged, newest first.
/// Needs a live `SERVICE_HPF_QUERY` consent.
#[utoipa::path(get, path = "/api/v1/me/hpf/deposits", tag = "services", params(DepositsQuery),
    responses((status = 200, body = DepositsPage), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn my_deposits(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<DepositsQuery>,
) -> Result<Response, ApiError> {
    let (person, gateway) = citizen_and_gateway(&state, &principal)?;
    let usage = Use::start(&principal, person, "hpf.deposits", "hpf");
    let result = deposits_page(gateway, person, &query).await;
    usage.finish(&state, &result).await;
    result.map(no_store)
}

async fn deposits_page(
    gateway: &bianmin_gateway::Gateway,
    person: Uuid,
    query: &DepositsQuery,
) -> Result<DepositsPage, ApiError> {
    let to = match &query.to {
        Some(text) => parse_month(text, "to")?,
        None => YearMonth::of(bianmin_govsim::REFERENCE_DATE).plus(-1),
    };
    let from = match &query.from {
        Some(text) => parse_month(text, "from")?,
        None => to.plus(-11),
    };
    if from > to {
        return Err(ApiError::invalid(
            "hpf.invalid_range",
            "起始月份不能晚于结束月份。",
        ));
    }
    if to.months_since(from) >= 120 {
        return Err(ApiError::invalid(
            "hpf.invalid_range",
            "一次最多查询 120 个月。",
        ));
    }
    let per_page = query.per_page.unwrap_or(12);
    if !(1..=60).contains(&per_page) {
        return Err(ApiError::invalid(
            "hpf.invalid_page",
            "每页条数须在 1 至 60 之间。",
        ));
    }
    let page = query.page.unwrap_or(1);
    if page == 0 {
        return Err(ApiError::invalid("hpf.invalid_page", "页码从 1 开始。"));
    }
    let fetched = gateway
        .fetch::<HpfDeposits>(
            person,
            Purpose::ServiceHpfQuery,
            "hpf.deposits",
            json!({ "from": from.to_string(), "to": to.to_string() }),
        )
        .await
        .map_err(no_account)?;
    let mut entries = fetched.value.entries;
    entries.reverse();
    let total = entries.len();
    let start = usize::try_from((page - 1) * per_page).unwrap_or(usize::MAX);
    let entries = entries
        .into_iter()
        .skip(start)
        .take(usize::try_from(per_page).unwrap_or(12))
        .map(|e| DepositView {
            month: e.month.to_string(),
            kind: match e.kind {
                EntryKind::Deposit => "deposit",
                EntryKind::Interest => "interest",
            }
            .to_owned(),
            base: e.base.map(|m| m.to_string()),
            employer_amount: e.employer_amount.map(|m| m.to_string()),
            employee_amount: e.employee_amount.map(|m| m.to_string()),
            amount: e.amount.to_string(),
            balance: e.balance.to_string(),
        })
        .collect();
    Ok(DepositsPage {
        from: from.to_string(),
        to: to.to_string(),
        page,
        per_page,
        total,
        entries,
    })
}
