//! Personal data endpoints: masked by default; clear values only to a role with a purpose, each
//! read audited in the same transaction (by the vault); erasure by crypto-shredding.

use axum::Json;
use axum::extract::State;
use axum::http::header::CACHE_CONTROL;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bianmin_people::{MaskedPerson, PeopleError, RevealedPerson};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::app::AppState;
use crate::auth::{Principal, Role};
use crate::http::json::ApiJson;
use crate::http::path::ApiPath;
use crate::http::problem::{ApiError, Problem};

/// A person as every response shows them by default (JR/T 0171 masking).
#[derive(Debug, Serialize, ToSchema)]
pub struct MaskedProfile {
    /// Person id.
    pub id: Uuid,
    /// e.g. `510104********0031`.
    pub resident_id: String,
    /// e.g. `*伟`.
    pub name: String,
    /// e.g. `138****0001`.
    pub phone: Option<String>,
}

impl From<MaskedPerson> for MaskedProfile {
    fn from(p: MaskedPerson) -> Self {
        MaskedProfile {
            id: p.id,
            resident_id: p.resident_id,
            name: p.name,
            phone: p.phone,
        }
    }
}

/// A person in clear: only from a `reveal` endpoint, never cached.
#[derive(Debug, Serialize, ToSchema)]
pub struct RevealedProfile {
    /// Person id.
    pub id: Uuid,
    /// 居民身份证号码 in clear.
    pub resident_id: String,
    /// Name in clear.
    pub name: String,
    /// Mobile number in clear.
    pub phone: Option<String>,
}

/// Why bank staff need clear values; recorded in the audit log.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RevealPurpose {
    /// Manual review of an automated decision (PIPL art. 24).
    ManualReview,
    /// The person asked the bank for their data.
    CustomerRequest,
    /// A court or regulator demanded it.
    LegalRequest,
}

impl RevealPurpose {
    fn code(self) -> &'static str {
        match self {
            RevealPurpose::ManualReview => "manual_review",
            RevealPurpose::CustomerRequest => "customer_request",
            RevealPurpose::LegalRequest => "legal_request",
        }
    }
}

/// Body of `POST /api/v1/persons/{id}/reveal`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RevealRequest {
    /// Why the clear values are needed.
    pub purpose: RevealPurpose,
}

/// Body of `DELETE /api/v1/persons/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct EraseRequest {
    /// Case or ticket reference (never personal data), recorded in the audit log.
    pub reason: String,
}

impl From<PeopleError> for ApiError {
    fn from(err: PeopleError) -> ApiError {
        match err {
            PeopleError::NotFound => ApiError::not_found("未找到该人员。"),
            PeopleError::Erased => ApiError::new(
                StatusCode::GONE,
                "person.erased",
                "该人员的个人信息已依申请删除，无法再读取。",
            ),
            PeopleError::InvalidInput(rule) => {
                ApiError::invalid("person.invalid_input", format!("输入不符合要求：{rule}"))
            }
            PeopleError::Conflict => ApiError::new(
                StatusCode::CONFLICT,
                "person.conflict",
                "该人员信息正在被并发修改，请稍后重试。",
            ),
            PeopleError::Interrupted => {
                ApiError::unavailable("person.interrupted", "服务正在重启，请稍后重试。", 5)
            }
            PeopleError::Corrupt { field } => {
                tracing::error!(%field, "SECURITY: stored personal data does not decrypt for its row (tampering?)");
                ApiError::internal("stored personal data failed its integrity check")
            }
            PeopleError::Store(e) => e.into(),
            other => ApiError::internal(other),
        }
    }
}

fn revealed(person: RevealedPerson) -> Response {
    let body = RevealedProfile {
        id: person.id,
        resident_id: person.resident_id.as_str().to_string(),
        name: person.name.clone(),
        phone: person.phone.as_ref().map(|p| p.as_str().to_string()),
    };
    let mut response = Json(body).into_response();
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The signed-in citizen's (or enterprise owner's) own person id; others are refused.
pub(crate) fn own_person(principal: &Principal) -> Result<Uuid, ApiError> {
    principal.require(&[Role::Citizen, Role::Enterprise])?;
    principal
        .person_id
        .ok_or_else(|| ApiError::not_found("尚未完成实名信息登记。"))
}

/// The signed-in citizen's own identity, masked.
#[utoipa::path(get, path = "/api/v1/me/profile", tag = "people",
    responses((status = 200, body = MaskedProfile), (status = 401, body = Problem), (status = 403, body = Problem), (status = 410, body = Problem)))]
pub async fn my_profile(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<MaskedProfile>, ApiError> {
    let id = own_person(&principal)?;
    Ok(Json(state.vault().masked(id).await?.into()))
}

/// The signed-in citizen's own identity in clear (audited).
#[utoipa::path(post, path = "/api/v1/me/profile/reveal", tag = "people",
    responses((status = 200, body = RevealedProfile), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn reveal_my_profile(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Response, ApiError> {
    let id = own_person(&principal)?;
    let person = state
        .vault()
        .reveal(
            id,
            &principal.audit_actor(),
            "self_service",
            state.clock().now(),
        )
        .await?;
    Ok(revealed(person))
}

/// A person, masked (bank operator, admin).
#[utoipa::path(get, path = "/api/v1/persons/{id}", tag = "people",
    params(("id" = Uuid, Path, description = "person id")),
    responses((status = 200, body = MaskedProfile), (status = 403, body = Problem), (status = 404, body = Problem), (status = 410, body = Problem)))]
pub async fn person(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<MaskedProfile>, ApiError> {
    principal.require(&[Role::BankOperator, Role::Admin])?;
    Ok(Json(state.vault().masked(id).await?.into()))
}

/// A person in clear, for a stated purpose (bank operator, admin; audited).
#[utoipa::path(post, path = "/api/v1/persons/{id}/reveal", tag = "people", request_body = RevealRequest,
    params(("id" = Uuid, Path, description = "person id")),
    responses((status = 200, body = RevealedProfile), (status = 403, body = Problem), (status = 404, body = Problem), (status = 410, body = Problem)))]
pub async fn reveal_person(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(request): ApiJson<RevealRequest>,
) -> Result<Response, ApiError> {
    principal.require(&[Role::BankOperator, Role::Admin])?;
    let person = state
        .vault()
        .reveal(
            id,
            &principal.audit_actor(),
            request.purpose.code(),
            state.clock().now(),
        )
        .await?;
    Ok(revealed(person))
}

/// Ends the person's consents and erases them by destroying their data key (admin; audited).
/// Idempotent.
#[utoipa::path(delete, path = "/api/v1/persons/{id}", tag = "people", request_body = EraseRequest,
    params(("id" = Uuid, Path, description = "person id")),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn erase_person(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(request): ApiJson<EraseRequest>,
) -> Result<StatusCode, ApiError> {
    principal.require(&[Role::Admin])?;
    state
        .erase_person(id, &principal.audit_actor(), &request.reason)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
