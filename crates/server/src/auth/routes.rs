//! Sign-in, sign-out and "who am I" endpoints.

use axum::Json;
use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::personas::{self, PERSONAS, PersonaView};
use super::session::{self, OpenedSession, SESSION_COOKIE};
use super::{Principal, PrincipalView, assertion, department};
use crate::app::AppState;
use crate::http::json::ApiJson;
use crate::http::problem::{ApiError, Problem};

/// Body of `POST /api/v1/auth/dev-login`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct DevLoginRequest {
    /// Persona id from `GET /api/v1/auth/personas`.
    pub persona: String,
}

/// Body of `POST /api/v1/auth/assertion`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AssertionLoginRequest {
    /// `base64url(claims).base64url(SM2 signature)` from the bank app.
    pub assertion: String,
}

/// A successful sign-in.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    /// Who is now signed in.
    pub principal: PrincipalView,
    /// Where the front-end should go next.
    pub home: &'static str,
    /// Bearer token for API clients (browsers use the HttpOnly cookie instead).
    pub token: String,
    /// When the session ends.
    pub expires_at: DateTime<Utc>,
}

/// Lists the demo personas of the development identity provider.
#[utoipa::path(get, path = "/api/v1/auth/personas", tag = "auth",
    responses((status = 200, body = [PersonaView]), (status = 404, body = Problem, description = "development sign-in is off")))]
pub async fn list_personas(
    State(state): State<AppState>,
) -> Result<Json<Vec<PersonaView>>, ApiError> {
    require_dev_login(&state)?;
    Ok(Json(PERSONAS.iter().map(PersonaView::from).collect()))
}

/// Signs in as a demo persona (development identity provider; off in production).
#[utoipa::path(post, path = "/api/v1/auth/dev-login", tag = "auth", request_body = DevLoginRequest,
    responses((status = 200, body = LoginResponse), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn dev_login(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<DevLoginRequest>,
) -> Result<impl IntoResponse, ApiError> {
    require_dev_login(&state)?;
    let persona = personas::persona(&request.persona).ok_or_else(|| {
        ApiError::invalid(
            "auth.unknown_persona",
            format!("演示身份“{}”不存在。", request.persona),
        )
    })?;
    state.guard().check_sign_in(persona.id).await?;
    let (id, person_id) = personas::ensure(&state, persona).await?;
    let session = session::open(&state, id, persona.role, "dev").await?;
    let principal = Principal {
        id,
        session_id: session.id,
        persona: Some(persona.id.to_string()),
        role: persona.role,
        display_name: bianmin_core::mask::mask_name(persona.name),
        department: persona.department.and_then(department),
        person_id,
    };
    Ok(signed_in(&state, &principal, session))
}

/// Signs in with an identity assertion signed by the bank app (SM2).
#[utoipa::path(post, path = "/api/v1/auth/assertion", tag = "auth", request_body = AssertionLoginRequest,
    responses((status = 200, body = LoginResponse), (status = 401, body = Problem)))]
pub async fn assertion_login(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<AssertionLoginRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let Some(public_key) = state.bank_app_key() else {
        return Err(ApiError::not_found(
            "未配置银行 App 身份断言公钥，无法使用此登录方式。",
        ));
    };
    let auth = &state.config().auth;
    let (claims, role) = assertion::verify(
        &request.assertion,
        public_key,
        &auth.bank_app_signer_id,
        &auth.bank_app_issuer,
        auth.assertion_max_age_secs,
        state.clock().now(),
    )?;
    // After the signature is verified, so that nobody can spend another person's sign-ins.
    state
        .guard()
        .check_sign_in(&format!("{}\u{0}{}", claims.iss, claims.sub))
        .await?;
    let (id, person_id) = assertion::admit(&state, &claims, role).await?;
    let session = session::open(&state, id, role, "assertion").await?;
    let principal = Principal {
        id,
        session_id: session.id,
        persona: None,
        role,
        display_name: bianmin_core::mask::mask_name(&claims.name),
        department: None,
        person_id,
    };
    Ok(signed_in(&state, &principal, session))
}

/// Signs out: the session stops working at once and the cookie is cleared.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth",
    responses((status = 204), (status = 401, body = Problem)))]
pub async fn logout(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<impl IntoResponse, ApiError> {
    session::revoke(&state, &principal).await?;
    let mut headers = HeaderMap::new();
    headers.insert(
        SET_COOKIE,
        HeaderValue::from_static("bianmin_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    Ok((StatusCode::NO_CONTENT, headers))
}

/// The signed-in principal (masked display name, role, department, landing page).
#[utoipa::path(get, path = "/api/v1/me", tag = "auth",
    responses((status = 200, body = PrincipalView), (status = 401, body = Problem)))]
pub async fn me(principal: Principal) -> Json<PrincipalView> {
    Json(PrincipalView::from(&principal))
}

fn require_dev_login(state: &AppState) -> Result<(), ApiError> {
    if state.config().auth.dev_login {
        Ok(())
    } else {
        Err(ApiError::not_found("开发身份登录未启用。"))
    }
}

/// The answer to a successful sign-in: the session cookie and the [`LoginResponse`].
pub(super) fn signed_in(
    state: &AppState,
    principal: &Principal,
    session: OpenedSession,
) -> impl IntoResponse + use<> {
    let max_age = (session.expires_at - state.clock().now())
        .num_seconds()
        .max(0);
    let secure = if state.config().auth.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}",
        session.token
    );
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        headers.insert(SET_COOKIE, value);
    }
    let view = PrincipalView::from(principal);
    let home = view.home;
    (
        headers,
        Json(LoginResponse {
            principal: view,
            home,
            token: session.token,
            expires_at: session.expires_at,
        }),
    )
}
