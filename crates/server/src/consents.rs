//! A citizen's consents (我的授权): list, read with every use, ask for one for a service, approve,
//! reject, revoke. Only the signed-in person's own consents are ever visible; another person's
//! consent id answers exactly as an unknown one.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use bianmin_consent::{Consent, ConsentError, ConsentRequest, ConsentUse, Purpose, kinds};
use bianmin_exchange::{Frequency, FrequencyUnit};
use bianmin_gateway::FetchError;
use chrono::{DateTime, Days, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::app::AppState;
use crate::auth::Principal;
use crate::http::json::ApiJson;
use crate::http::path::ApiPath;
use crate::http::problem::{ApiError, Problem};
use crate::people::own_person;

/// Purposes a citizen may ask for from the service pages, with the terms the platform offers.
/// Loan purposes are asked for by the loan journey with its own terms.
struct Terms {
    valid_days: u64,
    per_day: u32,
    /// Months of history covered, counted back from the request.
    history_months: u32,
    data_life_days: u32,
}

fn offered_terms(purpose: Purpose, per_day: u32) -> Option<Terms> {
    match purpose {
        Purpose::ServiceHpfQuery | Purpose::ServiceSsCard | Purpose::ServiceTraffic => {
            Some(Terms {
                valid_days: 180,
                per_day: per_day.clamp(1, 1_000),
                history_months: 36,
                data_life_days: 1,
            })
        }
        // 闪电贷: one application's underwriting (a submission uses identity, 公积金, 社保,
        // 税务 and 法院 once each; retries and re-submissions fit in the daily allowance), and
        // the credit report asked for separately, as the PBoC rules require.
        Purpose::LoanUnderwriting => Some(Terms {
            valid_days: 30,
            per_day: 20,
            history_months: 36,
            data_life_days: 1,
        }),
        Purpose::LoanCreditReport => Some(Terms {
            valid_days: 30,
            per_day: 3,
            history_months: 24,
            data_life_days: 1,
        }),
        // 供应链融资: the owner's distributors are listed on each visit to the page and once
        // more on acceptance, with the real-name check and court records.
        Purpose::ScfDistributor => Some(Terms {
            valid_days: 30,
            per_day: 50,
            history_months: 36,
            data_life_days: 1,
        }),
    }
}

/// A data kind with its Chinese label.
#[derive(Debug, Serialize, ToSchema)]
pub struct KindView {
    /// e.g. `hpf.account`.
    pub code: String,
    /// e.g. 住房公积金账户.
    pub label: String,
}

/// One consent as its person sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentView {
    /// Consent id.
    pub id: Uuid,
    /// Purpose code, e.g. `SERVICE_HPF_QUERY`.
    pub purpose: String,
    /// What the person approves, e.g. 公积金查询.
    pub purpose_text: String,
    /// Who may use it (client subsystem identifier).
    pub consumer: String,
    /// The data it covers.
    pub data_kinds: Vec<KindView>,
    /// First day of the data covered.
    pub data_from: NaiveDate,
    /// Last day of the data covered.
    pub data_to: NaiveDate,
    /// `day`, `month` or `year`.
    pub frequency_unit: String,
    /// Uses allowed per period.
    pub frequency_max: u32,
    /// Start of validity.
    pub valid_from: DateTime<Utc>,
    /// End of validity.
    pub valid_until: DateTime<Utc>,
    /// Days fetched data may be kept.
    pub data_life_days: u32,
    /// `PENDING`, `ACTIVE`, `REJECTED`, `REVOKED` or `EXPIRED`.
    pub state: String,
    /// The state in Chinese.
    pub state_text: String,
    /// When it was asked for.
    pub created_at: DateTime<Utc>,
    /// When the person decided.
    pub decided_at: Option<DateTime<Utc>>,
    /// When the person revoked it.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Requests made under it.
    pub use_count: u64,
    /// Last use.
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<Consent> for ConsentView {
    fn from(c: Consent) -> Self {
        ConsentView {
            id: c.id,
            purpose: c.purpose.code().to_owned(),
            purpose_text: c.purpose.text_zh().to_owned(),
            consumer: c.consumer.to_string(),
            data_kinds: c.data_kinds.iter().map(|k| kind_view(k)).collect(),
            data_from: c.data_from,
            data_to: c.data_to,
            frequency_unit: match c.frequency.unit {
                FrequencyUnit::Day => "day",
                FrequencyUnit::Month => "month",
                FrequencyUnit::Year => "year",
            }
            .to_owned(),
            frequency_max: c.frequency.max,
            valid_from: c.valid_from,
            valid_until: c.valid_until,
            data_life_days: c.data_life_days,
            state: c.state.as_str().to_owned(),
            state_text: state_text(c.state.as_str()).to_owned(),
            created_at: c.created_at,
            decided_at: c.decided_at,
            revoked_at: c.revoked_at,
            use_count: c.use_count,
            last_used_at: c.last_used_at,
        }
    }
}

fn kind_view(code: &str) -> KindView {
    KindView {
        code: code.to_owned(),
        label: kinds::label_zh(code).unwrap_or(code).to_owned(),
    }
}

fn state_text(state: &str) -> &'static str {
    match state {
        "PENDING" => "待确认",
        "ACTIVE" => "已授权",
        "REJECTED" => "已拒绝",
        "REVOKED" => "已撤回",
        _ => "已过期",
    }
}

/// One recorded use of a consent.
#[derive(Debug, Serialize, ToSchema)]
pub struct UseView {
    /// The data fetched.
    pub data_kind: KindView,
    /// The service it was fetched from.
    pub service: String,
    /// The exchange message id of the request.
    pub message_id: Uuid,
    /// When.
    pub used_at: DateTime<Utc>,
}

impl From<ConsentUse> for UseView {
    fn from(u: ConsentUse) -> Self {
        UseView {
            data_kind: kind_view(&u.data_kind),
            service: u.service,
            message_id: u.message_id,
            used_at: u.used_at,
        }
    }
}

/// A consent with its uses, newest last.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentDetail {
    /// The consent.
    #[serde(flatten)]
    pub consent: ConsentView,
    /// Every use.
    pub uses: Vec<UseView>,
}

/// The person's consents, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentList {
    /// Consents.
    pub items: Vec<ConsentView>,
}

/// Body of `POST /api/v1/me/consents`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewConsent {
    /// `SERVICE_HPF_QUERY`, `SERVICE_SSCARD` or `SERVICE_TRAFFIC`.
    pub purpose: String,
}

/// The signed-in person's consents, newest first.
#[utoipa::path(get, path = "/api/v1/me/consents", tag = "consents",
    responses((status = 200, body = ConsentList), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<ConsentList>, ApiError> {
    let person = own_person(&principal)?;
    let items = state
        .ledger()
        .list_for(person, state.clock().now())
        .await?
        .into_iter()
        .map(ConsentView::from)
        .collect();
    Ok(Json(ConsentList { items }))
}

/// One of the signed-in person's consents, with every use made of it.
#[utoipa::path(get, path = "/api/v1/me/consents/{id}", tag = "consents",
    params(("id" = Uuid, Path, description = "consent id")),
    responses((status = 200, body = ConsentDetail), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn detail(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<ConsentDetail>, ApiError> {
    let person = own_person(&principal)?;
    let consent = state.ledger().get(id, person, state.clock().now()).await?;
    let uses = state.ledger().uses(id, person).await?;
    Ok(Json(ConsentDetail {
        consent: consent.into(),
        uses: uses.into_iter().map(UseView::from).collect(),
    }))
}

/// Asks the signed-in person for a consent for one of the services, on the platform's terms
/// (180 days, `exchange.consent_uses_per_day` fetches a day (50 by default), 36 months of
/// history, data kept 1 day); they then approve or reject it.
#[utoipa::path(post, path = "/api/v1/me/consents", tag = "consents", request_body = NewConsent,
    responses((status = 201, body = ConsentView), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<NewConsent>,
) -> Result<(StatusCode, Json<ConsentView>), ApiError> {
    let person = own_person(&principal)?;
    let purpose: Purpose = body.purpose.parse()?;
    let terms =
        offered_terms(purpose, state.config().exchange.consent_uses_per_day).ok_or_else(|| {
            ApiError::invalid(
                "consent.purpose_not_offered",
                format!(
                    "「{}」的授权由对应业务流程发起，不能在此申请。",
                    purpose.text_zh()
                ),
            )
        })?;
    let now = state.clock().now();
    let today = state.clock().today_china();
    let data_from = today
        .checked_sub_months(chrono::Months::new(terms.history_months))
        .unwrap_or(today);
    let data_to = today
        .checked_add_days(Days::new(terms.valid_days))
        .unwrap_or(today);
    let request = ConsentRequest {
        person_id: person,
        consumer: state.platform_keys().id.clone(),
        purpose,
        data_kinds: purpose
            .data_kinds()
            .iter()
            .map(|k| (*k).to_owned())
            .collect(),
        data_from,
        data_to,
        frequency: Frequency {
            unit: FrequencyUnit::Day,
            max: terms.per_day,
        },
        valid_for: Duration::days(i64::try_from(terms.valid_days).unwrap_or(180)),
        data_life_days: terms.data_life_days,
    };
    let consent = state
        .ledger()
        .request(&request, &principal.audit_actor(), now)
        .await?;
    Ok((StatusCode::CREATED, Json(consent.into())))
}

/// Approves one of the signed-in person's pending consents: the platform signs it and it can
/// be used from now on.
#[utoipa::path(post, path = "/api/v1/me/consents/{id}/approve", tag = "consents",
    params(("id" = Uuid, Path, description = "consent id")),
    responses((status = 200, body = ConsentView), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn approve(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<ConsentView>, ApiError> {
    let person = own_person(&principal)?;
    // Ownership first: another person's consent id must not cost a vault read.
    state.ledger().get(id, person, state.clock().now()).await?;
    let subject = state.vault().subject_of(person).await?;
    let consent = state
        .ledger()
        .approve(
            id,
            person,
            &subject,
            &principal.audit_actor(),
            state.clock().now(),
        )
        .await?;
    Ok(Json(consent.into()))
}

/// Rejects one of the signed-in person's pending consents.
#[utoipa::path(post, path = "/api/v1/me/consents/{id}/reject", tag = "consents",
    params(("id" = Uuid, Path, description = "consent id")),
    responses((status = 200, body = ConsentView), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn reject(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<ConsentView>, ApiError> {
    let person = own_person(&principal)?;
    let consent = state
        .ledger()
        .reject(id, person, &principal.audit_actor(), state.clock().now())
        .await?;
    Ok(Json(consent.into()))
}

/// Revokes one of the signed-in person's consents: the next request under it is refused and
/// nothing more is fetched; answers cached under it are dropped. Revoking twice is accepted.
#[utoipa::path(post, path = "/api/v1/me/consents/{id}/revoke", tag = "consents",
    params(("id" = Uuid, Path, description = "consent id")),
    responses((status = 200, body = ConsentView), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn revoke(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<ConsentView>, ApiError> {
    let person = own_person(&principal)?;
    let actor = principal.audit_actor();
    let consent = match state.gateway() {
        Some(gateway) => gateway.revoke(id, person, &actor).await?,
        None => {
            state
                .ledger()
                .revoke(id, person, &actor, state.clock().now())
                .await?
        }
    };
    Ok(Json(consent.into()))
}

impl From<ConsentError> for ApiError {
    fn from(err: ConsentError) -> ApiError {
        let code = err.code();
        match err {
            ConsentError::NotFound | ConsentError::NotYours => {
                ApiError::new(StatusCode::NOT_FOUND, "consent.not_found", "未找到该授权。")
            }
            ConsentError::NotActive { state } => ApiError::new(
                StatusCode::CONFLICT,
                code,
                format!(
                    "该授权当前为「{}」，不能进行此操作。",
                    state_text(state.as_str())
                ),
            ),
            ConsentError::Expired => ApiError::new(
                StatusCode::CONFLICT,
                code,
                "该授权已过期，如需继续办理请重新授权。",
            ),
            ConsentError::NotYetValid => {
                ApiError::new(StatusCode::CONFLICT, code, "该授权尚未生效，请稍后再试。")
            }
            ConsentError::Revoked => ApiError::new(
                StatusCode::CONFLICT,
                code,
                "该授权已撤回，如需继续办理请重新授权。",
            ),
            ConsentError::KindNotCovered { .. } => ApiError::new(
                StatusCode::FORBIDDEN,
                code,
                "该授权未覆盖此项数据，请重新授权。",
            ),
            ConsentError::FrequencyExceeded { unit, max } => {
                let period = match unit {
                    "day" => "每天",
                    "month" => "每月",
                    _ => "每年",
                };
                ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    code,
                    format!("该授权{period}最多使用 {max} 次，本期次数已用完。"),
                )
            }
            ConsentError::UnknownPurpose => {
                ApiError::invalid(code, "授权用途不在平台的用途目录中。")
            }
            ConsentError::KindNotInPurpose { .. } | ConsentError::CreditNotSeparate => {
                ApiError::invalid(code, "所请求的数据类别超出该用途的范围。")
            }
            ConsentError::InvalidRequest(rule) => {
                ApiError::invalid(code, format!("授权请求不符合要求：{rule}"))
            }
            ConsentError::UnknownPerson => ApiError::not_found("未找到该人员。"),
            ConsentError::SubjectErased => ApiError::new(
                StatusCode::GONE,
                "person.erased",
                "该人员的个人信息已依申请删除，相关授权无法再使用。",
            ),
            ConsentError::Corrupt(what) => {
                tracing::error!(%what, "SECURITY: a stored consent failed its integrity check");
                ApiError::internal("stored consent failed its integrity check")
            }
            ConsentError::Vault(e) => e.into(),
            ConsentError::Store(e) => e.into(),
        }
    }
}

impl From<FetchError> for ApiError {
    fn from(err: FetchError) -> ApiError {
        match err {
            // The purpose is named so that a page can ask for exactly that consent.
            FetchError::ConsentRequired { purpose } => ApiError::new(
                StatusCode::FORBIDDEN,
                "consent.required",
                format!(
                    "办理「{}」需要您的授权，请先同意授权后再查询。",
                    purpose.text_zh()
                ),
            )
            .with_extension("purpose", purpose.code().into()),
            FetchError::Consent(e) => e.into(),
            FetchError::Person(e) => e.into(),
            FetchError::Exchange(e) => exchange_error(e),
            FetchError::UnknownService(code) => {
                tracing::error!(%code, "service not in the registry or not granted");
                ApiError::unavailable("exchange.not_configured", "该服务暂未接入。", 300)
            }
            other @ FetchError::NotInPurpose { .. } => ApiError::internal(other),
        }
    }
}

fn exchange_error(err: bianmin_exchange::ExchangeError) -> ApiError {
    use bianmin_exchange::ExchangeError as E;
    let code = err.code();
    match err {
        E::NotFound => ApiError::new(StatusCode::NOT_FOUND, code, "相关部门未查到您的记录。"),
        E::Timeout | E::CircuitOpen | E::Unavailable | E::Http(_) => {
            tracing::warn!(error = %err, "agency unavailable");
            ApiError::unavailable(code, "相关部门系统暂时无法访问，请稍后重试。", 30)
        }
        E::BadResponse(_) => {
            tracing::error!(error = %err, "agency response rejected");
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                code,
                "相关部门返回的数据未通过校验，已丢弃，请稍后重试。",
            )
        }
        other => {
            tracing::error!(error = %other, code = other.code(), "exchange refused the call");
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                "exchange.refused",
                "与相关部门的数据交换未能完成，请稍后重试。",
            )
        }
    }
}
