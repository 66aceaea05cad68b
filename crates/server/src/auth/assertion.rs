//! Identity assertions from the bank app: how a citizen who signed in to the bank's mobile app
//! arrives here already authenticated.
//!
//! An assertion is `base64url(claims JSON) "." base64url(SM2 signature)`, the signature made by
//! the bank app's SM2 key (GB/T 32918, signer id from config) over the ASCII text of the first
//! segment. It is accepted once: its `nonce` is recorded until it expires, so a captured
//! assertion cannot be replayed.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bianmin_core::ResidentId;
use bianmin_crypto::{Sm2SigningKey, Sm2VerifyingKey};
use bianmin_people::NewPerson;
use bianmin_store::{on_pool, on_tx};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Role;
use crate::app::AppState;
use crate::http::problem::ApiError;

/// Clock skew tolerated between the bank app and this server.
const MAX_SKEW_SECS: i64 = 60;

/// What the bank app asserts about the person signing in.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer; must equal `auth.bank_app_issuer`.
    pub iss: String,
    /// The bank app's stable user id.
    pub sub: String,
    /// `citizen` or `enterprise`; staff roles are never taken from the app.
    pub role: String,
    /// Real name (stored masked only).
    pub name: String,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// Expires at, Unix seconds.
    pub exp: i64,
    /// Single-use random value.
    pub nonce: String,
    /// 居民身份证号码 the bank verified at account opening (real-name, KYC). With it the citizen
    /// gets a person record (encrypted under their own data key) that services can use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resident_id: Option<String>,
}

/// Signs `claims` as the bank app would (used by tests, the SDK examples and benchmarks).
pub fn sign(key: &Sm2SigningKey, signer_id: &str, claims: &Claims) -> String {
    // Serialising a struct of strings and integers cannot fail.
    let json = serde_json::to_vec(claims).unwrap_or_default();
    let body = URL_SAFE_NO_PAD.encode(json);
    let signature = key.sign(signer_id, body.as_bytes());
    format!("{body}.{}", URL_SAFE_NO_PAD.encode(signature))
}

fn refused(detail: &str) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::UNAUTHORIZED,
        "auth.assertion_invalid",
        format!("身份断言无效：{detail}"),
    )
}

/// Checks an assertion's signature and validity window and returns its claims and role.
pub fn verify(
    assertion: &str,
    public_key: &Sm2VerifyingKey,
    signer_id: &str,
    issuer: &str,
    max_age_secs: i64,
    now: DateTime<Utc>,
) -> Result<(Claims, Role), ApiError> {
    let (body, signature) = assertion
        .split_once('.')
        .ok_or_else(|| refused("格式错误"))?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| refused("签名编码错误"))?;
    public_key
        .verify(signer_id, body.as_bytes(), &signature)
        .map_err(|_| refused("签名校验失败"))?;
    let json = URL_SAFE_NO_PAD
        .decode(body)
        .map_err(|_| refused("内容编码错误"))?;
    let claims: Claims = serde_json::from_slice(&json).map_err(|_| refused("内容格式错误"))?;
    if claims.iss != issuer {
        return Err(refused("签发方不受信任"));
    }
    let now = now.timestamp();
    if claims.iat > now + MAX_SKEW_SECS || now - claims.iat > max_age_secs || claims.exp <= now {
        return Err(refused("已过期或时间无效"));
    }
    if claims.nonce.len() < 16 || claims.sub.is_empty() {
        return Err(refused("缺少必要字段"));
    }
    if let Some(id) = &claims.resident_id {
        ResidentId::parse(id).map_err(bianmin_core::Error::from)?;
    }
    let role = match Role::parse(&claims.role) {
        Some(role @ (Role::Citizen | Role::Enterprise)) => role,
        _ => return Err(refused("角色不允许由银行 App 断言")),
    };
    Ok((claims, role))
}

/// Admits a verified assertion: records its nonce (a nonce seen before is refused as a replay),
/// then registers or refreshes the person record when the claims carry a resident id, then
/// creates or refreshes the principal. Returns the principal's and person's ids.
///
/// The nonce is consumed first and on its own, so a replay does no other work; an assertion
/// whose later steps fail is spent and the bank app simply issues a new one.
pub async fn admit(
    state: &AppState,
    claims: &Claims,
    role: Role,
) -> Result<(Uuid, Option<Uuid>), ApiError> {
    let now = state.clock().now();
    let expires = DateTime::<Utc>::from_timestamp(claims.exp, 0).unwrap_or(now);
    let mut tx = state.store().begin_write().await?;
    let inserted = on_tx!(&mut tx, conn => {
        sqlx::query("DELETE FROM used_assertions WHERE expires_at < $1")
            .bind(now)
            .execute(&mut *conn)
            .await?;
        sqlx::query(
            "INSERT INTO used_assertions (issuer, nonce, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
        )
        .bind(&claims.iss)
        .bind(&claims.nonce)
        .bind(expires)
        .execute(&mut *conn)
        .await?
        .rows_affected()
    });
    if inserted == 0 {
        return Err(refused("已被使用（疑似重放）"));
    }
    tx.commit().await?;

    let person_id = match &claims.resident_id {
        Some(id) => {
            let person = NewPerson {
                resident_id: ResidentId::parse(id).map_err(bianmin_core::Error::from)?,
                name: claims.name.clone(),
                phone: None,
            };
            Some(state.vault().register(&person, now).await?)
        }
        None => None,
    };
    let subject = format!("{}|{}", claims.iss, claims.sub);
    let masked = bianmin_core::mask::mask_name(&claims.name);
    let id: Uuid = on_pool!(state.store(), pool => {
        sqlx::query_scalar(
            "INSERT INTO principals (id, subject, role, display_name, person_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) \
             ON CONFLICT (subject) DO UPDATE SET role = excluded.role, \
                 display_name = excluded.display_name, person_id = excluded.person_id, \
                 updated_at = excluded.updated_at \
             RETURNING id",
        )
        .bind(Uuid::now_v7())
        .bind(&subject)
        .bind(role.as_str())
        .bind(&masked)
        .bind(person_id)
        .bind(now)
        .fetch_one(pool)
        .await?
    });
    Ok((id, person_id))
}
