//! The service hall (服务大厅): the services on offer, with their availability per district of
//! 成都, and for a signed-in citizen whether each is available where they live.

use axum::Json;
use axum::extract::State;
use bianmin_services::catalogue::{SERVICES, Status, districts_of};
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::AppState;
use crate::auth::{Principal, Role};
use crate::http::problem::{ApiError, Problem};

/// A district where a service can be used.
#[derive(Debug, Serialize, ToSchema)]
pub struct DistrictView {
    /// GB/T 2260 code.
    pub code: &'static str,
    /// Name.
    pub name: &'static str,
}

/// One service of the hall.
#[derive(Debug, Serialize, ToSchema)]
pub struct HallService {
    /// Stable code.
    pub code: &'static str,
    /// Name.
    pub name: &'static str,
    /// What it does.
    pub summary: &'static str,
    /// Who runs it.
    pub department: &'static str,
    /// The consent purpose it asks for, if any.
    pub purpose: Option<&'static str>,
    /// `live` or `coming`.
    pub status: &'static str,
    /// Its H5 page, when live.
    pub href: Option<&'static str>,
    /// Whether it is available in every district.
    pub everywhere: bool,
    /// The districts where it is available.
    pub districts: Vec<DistrictView>,
    /// For a signed-in citizen: whether it is available in their district.
    pub available_to_me: Option<bool>,
}

/// The hall, with the citizen's district when known.
#[derive(Debug, Serialize, ToSchema)]
pub struct Hall {
    /// The signed-in citizen's district (of household registration), when known.
    pub my_district: Option<DistrictView>,
    /// The services.
    pub services: Vec<HallService>,
}

/// The service hall for the signed-in citizen: every service with the districts where it can be
/// used and whether it can be used where they are registered.
#[utoipa::path(get, path = "/api/v1/me/services", tag = "services",
    responses((status = 200, body = Hall), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn hall(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Hall>, ApiError> {
    principal.require(&[Role::Citizen, Role::Enterprise])?;
    let district = match principal.person_id {
        Some(person) => state.demographics(person).await.and_then(|d| d.district),
        None => None,
    };
    let my_district = district.and_then(|code| {
        bianmin_core::region::CHENGDU_DISTRICTS
            .iter()
            .find(|d| d.code == code)
            .map(|d| DistrictView {
                code: d.code,
                name: d.name,
            })
    });
    let services = SERVICES
        .iter()
        .map(|entry| {
            let districts: Vec<DistrictView> = districts_of(entry)
                .into_iter()
                .map(|d| DistrictView {
                    code: d.code,
                    name: d.name,
                })
                .collect();
            HallService {
                code: entry.code,
                name: entry.name,
                summary: entry.summary,
                department: entry.department,
                purpose: entry.purpose,
                status: match entry.status {
                    Status::Live => "live",
                    Status::Coming => "coming",
                },
                href: entry.href,
                everywhere: districts.len() == bianmin_core::region::CHENGDU_DISTRICTS.len(),
                available_to_me: district.map(|code| entry.availability.covers(code)),
                districts,
            }
        })
        .collect();
    Ok(Json(Hall {
        my_district,
        services,
    }))
}
