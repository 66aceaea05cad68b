//! 公积金 housing provident fund: the signed-in citizen's account, fetched from the 公积金中心
//! through the gateway under their consent (`SERVICE_HPF_QUERY`).
//!
//! The response types are those of the standard's schemas (`docs/schemas/hpf.*.json`), whose
//! reference implementation is `bianmin_govsim::records`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use bianmin_consent::Purpose;
use bianmin_core::Money;
use bianmin_core::money::Rate;
use bianmin_govsim::YearMonth;
use bianmin_govsim::population::housing_fund::HousingFundStatus;
use bianmin_govsim::records::housing_fund::{EntryKind, HpfAccount, HpfDeposits};
use bianmin_services::hpf::loan::{
    self, BorrowerType, HomeOrder, HpfError, LoanRules, LoanTerms, QuotaRequest, RepaymentMethod,
    RepaymentSchedule,
};
use bianmin_services::hpf::withdrawal::{AccountFacts, AccountStatus, WithdrawalRules};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::app::AppState;
use crate::auth::{Principal, Role};
use crate::http::json::ApiJson;
use crate::http::no_store;
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
    let gateway = state
        .gateway()
        .ok_or_else(ApiError::exchange_not_configured)?;
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

// ---------- 公积金贷款试算 and 提取条件 ----------

impl From<HpfError> for ApiError {
    fn from(e: HpfError) -> ApiError {
        match e {
            HpfError::InvalidRules { .. } | HpfError::Overflow => ApiError::internal(e),
            other => ApiError::invalid(other.code(), other.to_string()),
        }
    }
}

fn rules_unavailable(e: HpfError) -> ApiError {
    ApiError::internal(format!("provident-fund rules do not load: {e}"))
}

fn money_field(text: &str, field: &'static str) -> Result<Money, ApiError> {
    Money::parse(text).map_err(|_| {
        ApiError::invalid(
            "hpf.invalid_amount",
            format!("{field} 须为以元为单位、最多两位小数的金额字符串，例如 \"500000.00\"。"),
        )
    })
}

/// Body of `POST /api/v1/hpf/loan/schedule`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleRequest {
    /// Loan amount, yuan string, e.g. `"500000.00"`.
    pub principal: String,
    /// Term in months, 12–360.
    pub term_months: u32,
    /// `equal_instalment` (等额本息) or `equal_principal` (等额本金).
    #[schema(value_type = String)]
    pub method: RepaymentMethod,
    /// `first` or `second` home: picks the configured rate when `annual_rate` is absent.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub home: Option<HomeOrder>,
    /// Annual rate as a decimal string, e.g. `"0.026"`; default: the configured rate.
    #[serde(default)]
    pub annual_rate: Option<String>,
}

/// A provident-fund loan repayment schedule (公积金贷款试算), month by month. Open to anyone:
/// nothing personal goes in or out. Interest is computed on the remaining principal at the
/// monthly rate (annual ÷ 12) and rounded half-up to the fen each month; 等额本息 rounds the
/// payment half-up to the fen and the last instalment clears the balance.
#[utoipa::path(post, path = "/api/v1/hpf/loan/schedule", tag = "services", request_body = ScheduleRequest,
    responses((status = 200, body = Object), (status = 422, body = Problem)))]
pub async fn loan_schedule(
    ApiJson(body): ApiJson<ScheduleRequest>,
) -> Result<Json<RepaymentSchedule>, ApiError> {
    let rules = LoanRules::embedded().map_err(rules_unavailable)?;
    let principal = money_field(&body.principal, "principal")?;
    let annual_rate = match &body.annual_rate {
        Some(text) => Rate::parse(text).map_err(|_| {
            ApiError::invalid(
                "hpf.invalid_rate",
                "annual_rate 须为小数形式的年利率字符串，例如 \"0.026\"。",
            )
        })?,
        None => rules.annual_rate(body.home.unwrap_or(HomeOrder::First), body.term_months)?,
    };
    let terms = LoanTerms {
        principal,
        term_months: body.term_months,
        annual_rate,
        method: body.method,
    };
    Ok(Json(loan::schedule(&terms)?))
}

/// Query of `GET /api/v1/me/hpf/loan/quota`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct QuotaQuery {
    /// Total price of the home, yuan string.
    pub house_price: String,
    /// `single` or `couple` (default `single`).
    #[param(value_type = Option<String>)]
    pub borrower: Option<BorrowerType>,
    /// `first` or `second` home (default `first`).
    #[param(value_type = Option<String>)]
    pub home: Option<HomeOrder>,
    /// Term in months (default: the longest allowed).
    pub term_months: Option<u32>,
    /// `equal_instalment` (default) or `equal_principal`.
    #[param(value_type = Option<String>)]
    pub method: Option<RepaymentMethod>,
}

/// How much the signed-in citizen could borrow from the provident fund (可贷额度估算), from
/// their account (balance, deposit base) and age, under the configured rules; says which limit
/// binds and why. Needs a live `SERVICE_HPF_QUERY` consent.
#[utoipa::path(get, path = "/api/v1/me/hpf/loan/quota", tag = "services", params(QuotaQuery),
    responses((status = 200, body = Object), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn my_loan_quota(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<QuotaQuery>,
) -> Result<Response, ApiError> {
    let (person, gateway) = citizen_and_gateway(&state, &principal)?;
    let house_price = money_field(&query.house_price, "house_price")?;
    let usage = Use::start(&principal, person, "hpf.loan_quota", "hpf");
    let result = async {
        let rules = LoanRules::embedded().map_err(rules_unavailable)?;
        let account = gateway
            .fetch::<HpfAccount>(person, Purpose::ServiceHpfQuery, "hpf.account", json!({}))
            .await
            .map_err(no_account)?
            .value;
        let subject = state.vault().subject_of(person).await?;
        let age = state
            .clock()
            .today_china()
            .years_since(subject.birth_date())
            .unwrap_or(0);
        let request = QuotaRequest {
            borrower: query.borrower.unwrap_or(BorrowerType::Single),
            home: query.home.unwrap_or(HomeOrder::First),
            account_balance: account.balance,
            monthly_deposit_base: account.deposit_base,
            house_price,
            age,
            term_months: query.term_months,
            annual_rate: None,
            method: query.method.unwrap_or(RepaymentMethod::EqualInstalment),
        };
        Ok::<_, ApiError>(rules.estimate_quota(&request)?)
    }
    .await;
    usage.finish(&state, &result).await;
    result.map(no_store)
}

/// Facts the citizen declares for the withdrawal check (the agencies do not hold them).
#[derive(Debug, Deserialize, IntoParams)]
pub struct WithdrawalQuery {
    /// Whether they own a home (租房 needs not).
    pub owns_home: Option<bool>,
    /// Whether they have a provident-fund loan (偿还公积金贷款).
    pub has_hpf_loan: Option<bool>,
    /// Whether they have a new job (离职 needs not).
    pub re_employed: Option<bool>,
}

/// Which withdrawal purposes (购房, 租房, 退休, 离职, 偿还公积金贷款, 大病, 出境定居) the
/// signed-in citizen's account qualifies for, each with the reasons and the maximum amount,
/// under the configured rules. Facts the agencies do not hold come from the query; a missing
/// one makes the purpose `unknown`, never a refusal. Needs a live `SERVICE_HPF_QUERY` consent.
#[utoipa::path(get, path = "/api/v1/me/hpf/withdrawal", tag = "services", params(WithdrawalQuery),
    responses((status = 200, body = Object), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn my_withdrawal(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<WithdrawalQuery>,
) -> Result<Response, ApiError> {
    let (person, gateway) = citizen_and_gateway(&state, &principal)?;
    let usage = Use::start(&principal, person, "hpf.withdrawal", "hpf");
    let result = async {
        let rules = WithdrawalRules::embedded().map_err(rules_unavailable)?;
        let account = gateway
            .fetch::<HpfAccount>(person, Purpose::ServiceHpfQuery, "hpf.account", json!({}))
            .await
            .map_err(no_account)?
            .value;
        let last = account.last_deposit;
        let deposits = gateway
            .fetch::<HpfDeposits>(
                person,
                Purpose::ServiceHpfQuery,
                "hpf.deposits",
                json!({ "from": last.plus(-35).to_string(), "to": last.to_string() }),
            )
            .await
            .map_err(no_account)?
            .value;
        let months: std::collections::BTreeSet<YearMonth> = deposits
            .entries
            .iter()
            .filter(|e| matches!(e.kind, EntryKind::Deposit))
            .map(|e| e.month)
            .collect();
        let consecutive = (0..)
            .take_while(|back| months.contains(&last.plus(-back)))
            .count();
        let subject = state.vault().subject_of(person).await?;
        let today = state.clock().today_china();
        let age = today.years_since(subject.birth_date()).unwrap_or(0);
        // Simplified statutory retirement age (60 for men, 55 for women), before the gradual
        // raise decided in 2024; marked as a simplification in the rules' notice.
        let retirement_age = match subject.gender() {
            bianmin_core::Gender::Male => 60,
            bianmin_core::Gender::Female => 55,
        };
        let facts = AccountFacts {
            status: match account.status {
                HousingFundStatus::Active => AccountStatus::Active,
                HousingFundStatus::Sealed => AccountStatus::Sealed,
                HousingFundStatus::Closed => AccountStatus::Closed,
            },
            balance: account.balance,
            months_contributed: account.months_contributed,
            consecutive_recent_months: u32::try_from(consecutive).unwrap_or(0),
            months_since_last_deposit: u32::try_from(
                YearMonth::of(account.as_of).months_since(last).max(0),
            )
            .unwrap_or(0),
            age,
            reached_retirement_age: Some(age >= retirement_age),
            owns_home: query.owns_home,
            has_hpf_loan: query.has_hpf_loan,
            re_employed: query.re_employed,
        };
        Ok::<_, ApiError>(json!({
            "rules_version": rules.version(),
            "facts": facts,
            "assessments": rules.assess_all(&facts)?,
        }))
    }
    .await;
    usage.finish(&state, &result).await;
    result.map(no_store)
}
