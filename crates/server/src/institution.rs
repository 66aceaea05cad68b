//! The institutions' side (B-end) beyond QR verification: an employer sees its own employees'
//! social-insurance contribution status (单位参保人员缴费情况), from the 社保局's
//! `si.employer.staff`, with names and ids masked by the agency. The employer's credit code
//! comes from its account, never from the request, so no employer can ask about another's
//! staff.

use axum::extract::State;
use axum::response::Response;
use bianmin_govsim::Population;
use bianmin_govsim::records::social_insurance::SiEmployerStaff;
use serde::Deserialize;
use serde_json::json;
use utoipa::IntoParams;

use crate::app::AppState;
use crate::auth::{InstitutionKind, Principal, Role, institution_kind};
use crate::http::no_store;
use crate::http::problem::{ApiError, Problem};
use crate::http::query::ApiQuery;

/// The demo employer's 统一社会信用代码: in the simulated city, the employer of the persona
/// the institution persona says it employs (张伟). A real deployment keeps the credit code on
/// the institution's account.
fn employer_uscc(state: &AppState) -> Option<String> {
    state
        .demo_employer_uscc()
        .get_or_init(|| {
            let govsim = &state.config().govsim;
            let population = Population::new(govsim.seed, govsim.size);
            let zhang = crate::auth::personas::simulated_residents(&population)
                .into_iter()
                .find(|r| r.name == "张伟")?;
            let employer = population.person(zhang.template).employment.employer?;
            population
                .employers()
                .get(usize::from(employer))
                .map(|e| e.uscc.as_str().to_owned())
        })
        .clone()
}

/// Query of `GET /api/v1/institution/staff`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct StaffQuery {
    /// Page, from 1.
    pub page: Option<u32>,
    /// Rows per page, 1–200 (default 50).
    pub per_page: Option<u32>,
}

/// The signed-in employer's own employees and their contribution status (employer staff only).
#[utoipa::path(get, path = "/api/v1/institution/staff", tag = "institutions", params(StaffQuery),
    responses((status = 200, body = Object), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn staff(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<StaffQuery>,
) -> Result<Response, ApiError> {
    principal.require(&[Role::Institution])?;
    let kind = principal.department.and_then(|d| institution_kind(d.code));
    if kind != Some(InstitutionKind::Employer) {
        return Err(ApiError::forbidden(
            "只有用人单位可以查看本单位职工参保情况。",
        ));
    }
    let page = query.page.unwrap_or(1);
    let per_page = query.per_page.unwrap_or(50);
    if page == 0 || !(1..=200).contains(&per_page) {
        return Err(ApiError::invalid(
            "institution.invalid_page",
            "页码从 1 开始，每页 1 至 200 条。",
        ));
    }
    let gateway = state
        .gateway()
        .ok_or_else(ApiError::exchange_not_configured)?;
    let uscc = employer_uscc(&state)
        .ok_or_else(|| ApiError::not_found("未找到本单位的统一社会信用代码。"))?;
    let service = gateway.service("si.employer.staff")?;
    let answer: SiEmployerStaff = gateway
        .client()
        .call_as(
            &service.id,
            None,
            None,
            json!({ "uscc": uscc, "page": page, "per_page": per_page }),
        )
        .await
        .map_err(|e| ApiError::from(bianmin_gateway::FetchError::from(e)))?;
    Ok(no_store(answer))
}
