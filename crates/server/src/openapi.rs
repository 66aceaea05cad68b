//! The OpenAPI document served at `/api/openapi.json` (Swagger UI at `/api/docs`).

use axum::Json;
use utoipa::OpenApi;

use crate::auth::{self, Department, PrincipalView, Role};
use crate::http::problem::Problem;
use crate::ops;

/// Every documented endpoint and schema.
#[derive(OpenApi)]
#[openapi(
    info(title = "Bianmin 便民服务平台 API", description = "银行便民服务平台接口。错误一律以 application/problem+json 返回。"),
    paths(
        ops::healthz, ops::readyz, ops::metrics, ops::overview,
        auth::routes::list_personas, auth::routes::dev_login, auth::routes::assertion_login,
        auth::routes::logout, auth::routes::me,
    ),
    components(schemas(Problem, Role, Department, PrincipalView)),
    tags((name = "ops", description = "运维探针与指标"), (name = "auth", description = "登录与身份")),
)]
pub struct ApiDoc;

/// `GET /api/openapi.json`.
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
