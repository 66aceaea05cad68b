//! Sessions: the row in `sessions`, the signed token that names it, and the extractor that turns a
//! request's token into a [`Principal`].

use std::path::Path;

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bianmin_store::{NewEvent, on_pool, on_tx};
use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use uuid::Uuid;

use super::{Principal, Role, department};
use crate::app::AppState;
use crate::config::SignatureMode;
use crate::http::problem::ApiError;
use crate::signing::SignedBy;

/// Name of the HttpOnly session cookie.
pub const SESSION_COOKIE: &str = "bianmin_session";

/// Domain separation so a session tag can never be confused with another HMAC-SM3 use of the key.
const TAG_CONTEXT: &[u8] = b"bianmin/session/v1\0";

/// The key that signs session tokens. `Debug` never shows it.
#[derive(Clone)]
pub struct SessionKey([u8; 32]);

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKey(********)")
    }
}

impl SessionKey {
    /// Parses a 64-hex-digit key.
    pub fn from_hex(hex_key: &str) -> anyhow::Result<SessionKey> {
        let bytes = hex::decode(hex_key.trim())
            .map_err(|_| anyhow::anyhow!("auth.session_secret must be 64 hex digits"))?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| anyhow::anyhow!("auth.session_secret must be 32 bytes (64 hex digits)"))?;
        Ok(SessionKey(key))
    }

    /// Reads `<data_dir>/keys/session.key`, creating it (mode 0600) with a fresh random key on
    /// first use, so a single instance needs no configuration.
    pub fn load_or_create(data_dir: &Path) -> anyhow::Result<SessionKey> {
        let dir = data_dir.join("keys");
        let path = dir.join("session.key");
        if path.exists() {
            return SessionKey::from_hex(&std::fs::read_to_string(&path)?);
        }
        std::fs::create_dir_all(&dir)?;
        let key = bianmin_crypto::random_bytes::<32>();
        crate::keys::write_private(&path, &hex::encode(key))?;
        Ok(SessionKey(key))
    }

    /// A key for another purpose, derived as `HMAC-SM3(session key, label)`.
    ///
    /// The session key is already the one secret every instance behind a load balancer must
    /// share, so keys that need the same property (the rate limiter's, see `crate::guard`)
    /// are derived from it rather than configured separately. Labels must not start with
    /// the session tags' context, so no derived key equals a session tag.
    pub fn derive(&self, label: &[u8]) -> [u8; 32] {
        debug_assert!(!label.starts_with(TAG_CONTEXT));
        bianmin_crypto::hmac_sm3(&self.0, label)
    }

    fn tag(&self, session_id: &Uuid) -> [u8; 32] {
        let mut message = TAG_CONTEXT.to_vec();
        message.extend_from_slice(session_id.as_bytes());
        bianmin_crypto::hmac_sm3(&self.0, &message)
    }

    /// The bearer token for a session.
    pub fn token(&self, session_id: &Uuid) -> String {
        format!(
            "v1.{}.{}",
            URL_SAFE_NO_PAD.encode(session_id.as_bytes()),
            URL_SAFE_NO_PAD.encode(self.tag(session_id))
        )
    }

    /// The session id named by a token whose tag is genuine, or `None`.
    pub fn verify(&self, token: &str) -> Option<Uuid> {
        let mut parts = token.split('.');
        let (Some("v1"), Some(id), Some(tag), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let id = Uuid::from_slice(&URL_SAFE_NO_PAD.decode(id).ok()?).ok()?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        let mut message = TAG_CONTEXT.to_vec();
        message.extend_from_slice(id.as_bytes());
        bianmin_crypto::hmac_sm3_verify(&self.0, &message, &tag).then_some(id)
    }
}

/// A freshly opened session.
#[derive(Debug)]
pub struct OpenedSession {
    /// Session id.
    pub id: Uuid,
    /// Token to hand to the client.
    pub token: String,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

/// Opens a session for `principal_id`, recording an `auth.login` event in the same transaction.
pub async fn open(
    state: &AppState,
    principal_id: Uuid,
    role: Role,
    method: &str,
) -> Result<OpenedSession, ApiError> {
    let now = state.clock().now();
    let id = Uuid::now_v7();
    let expires_at = now + Duration::minutes(state.config().auth.session_ttl_minutes);
    let mut tx = state.store().begin_write().await?;
    on_tx!(&mut tx, conn => {
        sqlx::query(
            "INSERT INTO sessions (id, principal_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(principal_id)
        .bind(now)
        .bind(expires_at)
        .execute(conn)
        .await?;
    });
    tx.append_event(&NewEvent::new(
        "auth.login",
        "session",
        id.to_string(),
        json!({ "role": role.as_str(), "method": method }),
        now,
    ))
    .await?;
    tx.commit().await?;
    Ok(OpenedSession {
        id,
        token: state.session_key().token(&id),
        expires_at,
    })
}

/// Revokes a session (logout); later requests with its token get 401.
pub async fn revoke(state: &AppState, principal: &Principal) -> Result<(), ApiError> {
    let now = state.clock().now();
    let mut tx = state.store().begin_write().await?;
    on_tx!(&mut tx, conn => {
        sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(now)
            .bind(principal.session_id)
            .execute(conn)
            .await?;
    });
    tx.append_event(&NewEvent::new(
        "auth.logout",
        "session",
        principal.session_id.to_string(),
        json!({ "role": principal.role.as_str() }),
        now,
    ))
    .await?;
    tx.commit().await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    principal_id: Uuid,
    expires_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
    persona: Option<String>,
    role: String,
    display_name: String,
    department: Option<String>,
    person_id: Option<Uuid>,
}

/// The session id of the genuine token `headers` carry, checked by its tag alone (no database
/// look-up: the session may have ended since).
pub(crate) fn session_id_in(headers: &HeaderMap, key: &SessionKey) -> Option<Uuid> {
    key.verify(request_token(headers)?)
}

/// The token a request carries: `Authorization: Bearer …` first, then the session cookie.
fn request_token(headers: &HeaderMap) -> Option<&str> {
    if let Some(value) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        return value.strip_prefix("Bearer ").map(str::trim);
    }
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == SESSION_COOKIE).then_some(value)
        })
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token =
            request_token(&parts.headers).ok_or_else(|| ApiError::unauthenticated("请先登录。"))?;
        let session_id = state
            .session_key()
            .verify(token)
            .ok_or_else(|| ApiError::unauthenticated("登录凭证无效，请重新登录。"))?;
        let row: Option<SessionRow> = on_pool!(state.store(), pool => {
            sqlx::query_as(
                "SELECT s.principal_id, s.expires_at, s.revoked_at, p.persona, p.role, \
                        p.display_name, p.department, p.person_id \
                 FROM sessions s JOIN principals p ON p.id = s.principal_id WHERE s.id = $1",
            )
            .bind(session_id)
            .fetch_optional(pool)
            .await?
        });
        let row = row.ok_or_else(|| ApiError::unauthenticated("登录已失效，请重新登录。"))?;
        if row.revoked_at.is_some() {
            return Err(ApiError::unauthenticated("您已退出登录，请重新登录。"));
        }
        if row.expires_at <= state.clock().now() {
            return Err(ApiError::unauthenticated("登录已过期，请重新登录。"));
        }
        let role = Role::parse(&row.role)
            .ok_or_else(|| ApiError::internal(format!("unknown role in database: {}", row.role)))?;
        // A signed request must come from the signed-in citizen's own device; a citizen's
        // unsigned request for their own data is refused where signatures are required.
        match parts.extensions.get::<SignedBy>() {
            Some(signed) if row.person_id != Some(signed.person_id) => {
                return Err(crate::signing::unknown_device());
            }
            Some(_) => {}
            None if role == Role::Citizen
                && state.guard().signatures() == SignatureMode::Required
                && crate::signing::required_for(parts.uri.path()) =>
            {
                return Err(crate::signing::missing());
            }
            None => {}
        }
        Ok(Principal {
            id: row.principal_id,
            session_id,
            persona: row.persona,
            role,
            display_name: row.display_name,
            department: row.department.as_deref().and_then(department),
            person_id: row.person_id,
        })
    }
}

/// `Option<Principal>`: endpoints open to anonymous callers (the assistant) see a signed-in
/// caller when the request carries a valid session, and an anonymous one otherwise — a missing,
/// expired or revoked session is not an error there. A database failure still is.
impl axum::extract::OptionalFromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, ApiError> {
        if request_token(&parts.headers).is_none() {
            return Ok(None);
        }
        match <Principal as FromRequestParts<AppState>>::from_request_parts(parts, state).await {
            Ok(principal) => Ok(Some(principal)),
            Err(error) if error.status() == axum::http::StatusCode::UNAUTHORIZED => Ok(None),
            Err(error) => Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_only_with_the_key_that_signed_them() {
        let key = SessionKey([7; 32]);
        let other = SessionKey([8; 32]);
        let id = Uuid::now_v7();
        let token = key.token(&id);
        assert_eq!(key.verify(&token), Some(id));
        assert_eq!(other.verify(&token), None);
    }

    #[test]
    fn altered_or_malformed_tokens_are_refused() {
        let key = SessionKey([7; 32]);
        let token = key.token(&Uuid::now_v7());
        let forged = key.token(&Uuid::now_v7());
        let (head, _) = token.rsplit_once('.').unwrap();
        let (_, forged_tag) = forged.rsplit_once('.').unwrap();
        assert_eq!(key.verify(&format!("{head}.{forged_tag}")), None);
        for bad in [
            "",
            "v1",
            "v1..",
            "v2.a.b",
            &format!("{token}.x"),
            "v1.!!.??",
        ] {
            assert_eq!(key.verify(bad), None, "{bad}");
        }
    }
}
