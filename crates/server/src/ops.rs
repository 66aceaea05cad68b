//! Operational endpoints: liveness, readiness, Prometheus metrics.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::AppState;
use crate::http::problem::{ApiError, Problem};

/// Liveness answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok` while the process serves requests.
    pub status: &'static str,
    /// Version of this build.
    pub version: &'static str,
}

/// Readiness answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// `ready`.
    pub status: &'static str,
    /// Each dependency and its state.
    pub checks: BTreeMap<&'static str, &'static str>,
    /// Database engine in use.
    pub database: &'static str,
    /// Where rate-limit budgets are kept: `redis` (shared by every instance), `local` (this
    /// instance only) or `off`.
    pub rate_limits: &'static str,
}

/// The process is up (does not touch dependencies: a load balancer should not kill an instance
/// because the database blinked).
#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
    })
}

/// The instance can serve traffic: the database answers within two seconds.
#[utoipa::path(get, path = "/readyz", tag = "ops",
    responses((status = 200, body = Readiness), (status = 503, body = Problem)))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Readiness>, ApiError> {
    match tokio::time::timeout(Duration::from_secs(2), state.store().ping()).await {
        Ok(Ok(())) => Ok(Json(Readiness {
            status: "ready",
            checks: BTreeMap::from([("database", "ok")]),
            database: state.store().backend().name(),
            rate_limits: state.guard().mode(),
        })),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: database check failed");
            Err(ApiError::unavailable(
                "not_ready.database",
                "数据库不可用，实例暂不接收流量。",
                5,
            ))
        }
        Err(_) => Err(ApiError::unavailable(
            "not_ready.database",
            "数据库响应超时，实例暂不接收流量。",
            5,
        )),
    }
}

/// Prometheus text exposition of this process's metrics.
#[utoipa::path(get, path = "/metrics", tag = "ops", responses((status = 200, content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics().render(),
    )
}

/// What the bank console's overview shows about this deployment.
#[derive(Debug, Serialize, ToSchema)]
pub struct Overview {
    /// Version of this build.
    pub version: &'static str,
    /// Database engine in use.
    pub database: &'static str,
    /// Principals per role.
    pub principals_by_role: BTreeMap<String, i64>,
    /// Sessions that are neither revoked nor expired.
    pub active_sessions: i64,
    /// Domain events recorded in the outbox.
    pub outbox_events: i64,
}

/// Deployment overview for bank staff (operator, auditor, admin).
#[utoipa::path(get, path = "/api/v1/ops/overview", tag = "ops",
    responses((status = 200, body = Overview), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn overview(
    State(state): State<AppState>,
    principal: crate::auth::Principal,
) -> Result<Json<Overview>, ApiError> {
    use crate::auth::Role;
    principal.require(&[Role::BankOperator, Role::Auditor, Role::Admin])?;
    let now = state.clock().now();
    let (roles, active_sessions, outbox_events) = bianmin_store::on_pool!(state.store(), pool => {
        let roles: Vec<(String, i64)> =
            sqlx::query_as("SELECT role, COUNT(*) FROM principals GROUP BY role")
                .fetch_all(pool)
                .await?;
        let active: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM sessions WHERE revoked_at IS NULL AND expires_at > $1",
        )
        .bind(now)
        .fetch_one(pool)
        .await?;
        let events: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox_events")
            .fetch_one(pool)
            .await?;
        (roles, active, events)
    });
    Ok(Json(Overview {
        version: env!("CARGO_PKG_VERSION"),
        database: state.store().backend().name(),
        principals_by_role: roles.into_iter().collect(),
        active_sessions,
        outbox_events,
    }))
}
