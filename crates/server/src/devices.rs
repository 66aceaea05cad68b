//! The citizen's device keys (SM2). A phone or browser creates a key pair, keeps the private key
//! (the app in the platform keystore, the H5 pages in `localStorage`, see
//! `web/assets/devicekey.js`) and enrols only the public key here. What the device later signs —
//! a loan contract, and signed API requests after that — is checked with
//! [`verify_device_signature`]. `docs/sdk.md` describes the enrolment and the signature format
//! for client developers.
//!
//! A person holds at most [`MAX_ACTIVE_KEYS`] active keys; a key belongs to one person for ever
//! and does not come back once revoked (a lost phone's key stays refused).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use bianmin_crypto::{DEFAULT_SM2_USER_ID, SM2_SIGNATURE_LEN, Sm2VerifyingKey, sm3_digest};
use bianmin_store::{AuditEntry, Tx, on_pool, on_tx};
use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::app::AppState;
use crate::auth::{Principal, Role};
use crate::http::json::ApiJson;
use crate::http::no_store;
use crate::http::path::ApiPath;
use crate::http::problem::{ApiError, Problem};

/// Most active device keys one person may hold; the database enforces it too (a unique
/// `(person_id, slot)` among active rows, `slot` in 1..=5).
pub const MAX_ACTIVE_KEYS: i32 = 5;

/// The SM2 signer id (GB/T 32918.2 `ID_A`) of every device signature: the GB/T 35276 default,
/// which is also what sm-crypto and most 国密 SDKs use when none is given. The key itself is
/// already bound into `Z_A`; telling purposes apart is the signed message's job.
pub const DEVICE_SIGNER_ID: &str = DEFAULT_SM2_USER_ID;

/// Longest device label, in characters.
const LABEL_MAX_CHARS: usize = 32;

/// The label of a device enrolled without one.
const DEFAULT_LABEL: &str = "未命名设备";

/// `last_used_at` is written at most this often per key: request signing will verify on every
/// request, and one write per request would cost more than the verification.
const LAST_USED_GRANULARITY: TimeDelta = TimeDelta::seconds(60);

/// Attempts at an enrolment that lost a race for a slot or a key (PostgreSQL; SQLite's write
/// transactions are serialised and never conflict). Each lost race means another enrolment
/// committed, so after one more attempt than there are slots the person's slots are full.
const ENROL_ATTEMPTS: i32 = MAX_ACTIVE_KEYS + 1;

/// A device key as its owner sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceView {
    /// Device id: the `device_id` to send with signatures.
    pub id: Uuid,
    /// The name the citizen gave the device (e.g. `iPhone 15`).
    pub label: String,
    /// SM3 of the uncompressed public key, lower-case hex (64 characters).
    pub fingerprint: String,
    /// The public key, SEC1 uncompressed (`04 || x || y`), lower-case hex (130 characters).
    pub public_key: String,
    /// When it was enrolled.
    pub created_at: DateTime<Utc>,
    /// When a signature of it was last accepted (to the minute), if ever.
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked; `null` while active.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Whether signatures of it are accepted.
    pub active: bool,
}

/// What [`verify_device_signature`] tells its caller about the key that signed, to record
/// with the signed thing (a contract keeps the fingerprint and public key as evidence).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceKeyInfo {
    /// Device id.
    pub id: Uuid,
    /// The device's label.
    pub label: String,
    /// SM3 of the uncompressed public key, lower-case hex.
    pub fingerprint: String,
    /// The public key, SEC1 uncompressed, lower-case hex.
    pub public_key: String,
}

#[derive(sqlx::FromRow)]
struct DeviceRow {
    id: Uuid,
    person_id: Uuid,
    public_key: Vec<u8>,
    fingerprint: Vec<u8>,
    label: String,
    created_at: DateTime<Utc>,
    last_used_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
}

/// The columns of a [`DeviceRow`], as a literal so queries stay `&'static str` (sqlx refuses
/// SQL built at run time).
macro_rules! device_columns {
    () => {
        "id, person_id, public_key, fingerprint, label, created_at, last_used_at, revoked_at"
    };
}

impl From<DeviceRow> for DeviceView {
    fn from(row: DeviceRow) -> DeviceView {
        DeviceView {
            id: row.id,
            label: row.label,
            fingerprint: hex::encode(row.fingerprint),
            public_key: hex::encode(row.public_key),
            created_at: row.created_at,
            last_used_at: row.last_used_at,
            active: row.revoked_at.is_none(),
            revoked_at: row.revoked_at,
        }
    }
}

/// The signed-in citizen's person id.
fn own_person(principal: &Principal) -> Result<Uuid, ApiError> {
    principal.require(&[Role::Citizen])?;
    principal
        .person_id
        .ok_or_else(|| ApiError::not_found("尚未完成实名信息登记。"))
}

/// The clock's time at the precision both databases keep, so that what an answer shows equals
/// what a later read returns.
fn now(state: &AppState) -> DateTime<Utc> {
    state.clock().now().trunc_subsecs(6)
}

fn unknown_device() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "device.unknown", "未找到该设备。")
}

fn conflict(code: &'static str, detail: &str) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, code, detail)
}

/// The public key as stored: 65 bytes `04 || x || y` of a point on the SM2 curve. A compressed
/// key is accepted and expanded, so one key has one form and cannot be enrolled twice.
fn parse_public_key(text: &str) -> Result<Vec<u8>, ApiError> {
    Sm2VerifyingKey::from_hex(text.trim())
        .map(|key| key.to_sec1_bytes())
        .map_err(|_| {
            ApiError::invalid(
                "device.invalid_key",
                "设备公钥无效：须为 SM2 曲线上的点，以十六进制表示的 65 字节非压缩格式（04||x||y，130 位）或 33 字节压缩格式。",
            )
        })
}

fn parse_label(label: Option<&str>) -> Result<String, ApiError> {
    let label = label.map(str::trim).unwrap_or_default();
    if label.is_empty() {
        return Ok(DEFAULT_LABEL.to_owned());
    }
    if label.chars().count() > LABEL_MAX_CHARS || label.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "device.invalid_label",
            format!("设备名称最多 {LABEL_MAX_CHARS} 个字符，且不能包含控制字符。"),
        ));
    }
    Ok(label.to_owned())
}

fn audit(principal: &Principal, action: &str, row: &DeviceRow, at: DateTime<Utc>) -> AuditEntry {
    AuditEntry {
        actor: principal.audit_actor(),
        action: action.to_owned(),
        target: format!("device:{}", row.id),
        purpose: None,
        // The label is the citizen's own text and may carry a name: it stays out of the log.
        details: json!({
            "person_id": row.person_id,
            "fingerprint": hex::encode(&row.fingerprint),
        }),
        occurred_at: at,
    }
}

async fn key_row(tx: &mut Tx, public_key: &[u8]) -> Result<Option<DeviceRow>, ApiError> {
    let sql = concat!(
        "SELECT ",
        device_columns!(),
        " FROM device_keys WHERE public_key = $1"
    );
    Ok(on_tx!(tx, conn => {
        sqlx::query_as::<_, DeviceRow>(sql)
            .bind(public_key)
            .fetch_optional(conn)
            .await?
    }))
}

async fn free_slot(tx: &mut Tx, person: Uuid) -> Result<Option<i32>, ApiError> {
    let taken: Vec<i32> = on_tx!(tx, conn => {
        sqlx::query_scalar(
            "SELECT slot FROM device_keys WHERE person_id = $1 AND revoked_at IS NULL",
        )
        .bind(person)
        .fetch_all(conn)
        .await?
    });
    Ok((1..=MAX_ACTIVE_KEYS).find(|slot| !taken.contains(slot)))
}

fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// Body of `POST /api/v1/me/devices`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrolRequest {
    /// The device's SM2 public key, hex: `04 || x || y` (130 characters) or compressed (66).
    pub public_key: String,
    /// A name for the device, up to 32 characters (default `未命名设备`).
    #[serde(default)]
    pub label: Option<String>,
}

/// Enrols the public key of a key pair created on the signed-in citizen's device. Enrolling a
/// key already enrolled by the same citizen answers 200 with that device (so a client may
/// enrol on every start); a key of another person, a revoked key or a sixth active device is
/// refused with 409.
#[utoipa::path(post, path = "/api/v1/me/devices", tag = "auth", request_body = EnrolRequest,
    responses((status = 201, body = DeviceView), (status = 200, body = DeviceView),
        (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn enrol(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<EnrolRequest>,
) -> Result<Response, ApiError> {
    let person = own_person(&principal)?;
    let public_key = parse_public_key(&body.public_key)?;
    let label = parse_label(body.label.as_deref())?;
    let fingerprint = sm3_digest(&public_key);
    for _ in 0..ENROL_ATTEMPTS {
        let mut tx = state.store().begin_write().await?;
        if let Some(existing) = key_row(&mut tx, &public_key).await? {
            return match (existing.person_id == person, existing.revoked_at) {
                (true, None) => Ok(no_store(DeviceView::from(existing))),
                (true, Some(_)) => Err(conflict(
                    "device.key_revoked",
                    "该设备密钥已注销，不能再次登记；请在设备上生成新的密钥后重新登记。",
                )),
                (false, _) => Err(conflict(
                    "device.key_taken",
                    "该设备公钥已被他人登记；请在设备上生成新的密钥后重新登记。",
                )),
            };
        }
        let Some(slot) = free_slot(&mut tx, person).await? else {
            return Err(conflict(
                "device.too_many",
                &format!("最多可登记 {MAX_ACTIVE_KEYS} 台设备，请先注销不再使用的设备。"),
            ));
        };
        let row = DeviceRow {
            id: Uuid::now_v7(),
            person_id: person,
            public_key: public_key.clone(),
            fingerprint: fingerprint.to_vec(),
            label: label.clone(),
            created_at: now(&state),
            last_used_at: None,
            revoked_at: None,
        };
        let inserted = on_tx!(&mut tx, conn => {
            sqlx::query(
                "INSERT INTO device_keys \
                 (id, person_id, public_key, fingerprint, label, slot, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(row.id)
            .bind(row.person_id)
            .bind(&row.public_key)
            .bind(&row.fingerprint)
            .bind(&row.label)
            .bind(slot)
            .bind(row.created_at)
            .execute(conn)
            .await
            .map(|_| ())
        });
        match inserted {
            Ok(_) => {}
            // A concurrent enrolment took the slot or the key: look again from the start.
            Err(err) if is_unique_violation(&err) => continue,
            Err(err) => return Err(err.into()),
        }
        tx.append_audit(
            state.keyring().audit_key(),
            &audit(&principal, "device.enrol", &row, row.created_at),
        )
        .await?;
        tx.commit().await?;
        let mut response = no_store(DeviceView::from(row));
        *response.status_mut() = StatusCode::CREATED;
        return Ok(response);
    }
    Err(conflict("device.busy", "设备登记冲突，请稍后重试。"))
}

/// The signed-in citizen's device keys, active and revoked, newest first (at most 100).
#[utoipa::path(get, path = "/api/v1/me/devices", tag = "auth",
    responses((status = 200, body = [DeviceView]), (status = 403, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Response, ApiError> {
    let person = own_person(&principal)?;
    let sql = concat!(
        "SELECT ",
        device_columns!(),
        " FROM device_keys WHERE person_id = $1 \
         ORDER BY created_at DESC, id DESC LIMIT 100"
    );
    let rows = on_pool!(state.store(), pool => {
        sqlx::query_as::<_, DeviceRow>(sql)
            .bind(person)
            .fetch_all(pool)
            .await?
    });
    Ok(no_store(
        rows.into_iter().map(DeviceView::from).collect::<Vec<_>>(),
    ))
}

/// Revokes one of the signed-in citizen's device keys (a lost or replaced phone, a cleared
/// browser): its signatures are refused from now on and the key can never be enrolled again.
/// Revoking twice answers the same. Another person's device answers 404, like an unknown one.
#[utoipa::path(post, path = "/api/v1/me/devices/{id}/revoke", tag = "auth",
    params(("id" = Uuid, Path, description = "device id")),
    responses((status = 200, body = DeviceView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn revoke(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Response, ApiError> {
    let person = own_person(&principal)?;
    let at = now(&state);
    let mut tx = state.store().begin_write().await?;
    let revoked = on_tx!(&mut tx, conn => {
        sqlx::query(
            "UPDATE device_keys SET revoked_at = $1 \
             WHERE id = $2 AND person_id = $3 AND revoked_at IS NULL",
        )
        .bind(at)
        .bind(id)
        .bind(person)
        .execute(conn)
        .await?
        .rows_affected()
    });
    let sql = concat!(
        "SELECT ",
        device_columns!(),
        " FROM device_keys WHERE id = $1 AND person_id = $2"
    );
    let row = on_tx!(&mut tx, conn => {
        sqlx::query_as::<_, DeviceRow>(sql)
            .bind(id)
            .bind(person)
            .fetch_optional(conn)
            .await?
    })
    .ok_or_else(unknown_device)?;
    if revoked > 0 {
        tx.append_audit(
            state.keyring().audit_key(),
            &audit(&principal, "device.revoke", &row, at),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(no_store(DeviceView::from(row)))
}

/// Checks that `signature_hex` is an SM2 signature of `message` by the active device key
/// `device_id` of `person_id`, and notes the key as used.
///
/// The signature is `r || s` (each 32 bytes big-endian, 128 hex characters, either case) over
/// `e = SM3(Z_A || message)` with the signer id [`DEVICE_SIGNER_ID`] — what sm-crypto's
/// `doSignature(message, privateKey, { hash: true, userId: '1234567812345678' })` produces.
/// This function knows nothing of what was signed: the caller builds `message` so that it
/// names its purpose and is fresh (a contract's hash, a nonce), since a signature verifies
/// again as often as it is presented.
///
/// # Errors
///
/// - `device.unknown` (403) if the device is not an active key of this person: unknown, another
///   person's, or revoked (the three are not told apart).
/// - `device.bad_signature` (422) if the signature is not 128 hex characters or does not verify.
pub async fn verify_device_signature(
    state: &AppState,
    person_id: Uuid,
    device_id: Uuid,
    message: &[u8],
    signature_hex: &str,
) -> Result<DeviceKeyInfo, ApiError> {
    let not_enrolled = || {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "device.unknown",
            "本设备未登记或设备密钥已注销，请重新登记本设备后再签名。",
        )
    };
    let bad_signature = |detail: &str| ApiError::invalid("device.bad_signature", detail);
    let signature = hex::decode(signature_hex.trim())
        .ok()
        .filter(|bytes| bytes.len() == SM2_SIGNATURE_LEN)
        .ok_or_else(|| {
            bad_signature("设备签名格式有误：须为 128 位十六进制（r||s，各 32 字节）。")
        })?;
    let sql = concat!(
        "SELECT ",
        device_columns!(),
        " FROM device_keys WHERE id = $1 AND person_id = $2 AND revoked_at IS NULL"
    );
    let row = on_pool!(state.store(), pool => {
        sqlx::query_as::<_, DeviceRow>(sql)
            .bind(device_id)
            .bind(person_id)
            .fetch_optional(pool)
            .await?
    })
    .ok_or_else(not_enrolled)?;
    let key = Sm2VerifyingKey::from_sec1_bytes(&row.public_key)
        .map_err(|_| ApiError::internal(format!("device key {device_id} is not a valid point")))?;
    // One verification is a fraction of a millisecond: cheaper inline than a trip to the
    // blocking pool.
    if key.verify(DEVICE_SIGNER_ID, message, &signature).is_err() {
        tracing::warn!(device = %device_id, "device signature rejected");
        return Err(bad_signature("设备签名验证未通过。"));
    }
    let at = now(state);
    let stale = row
        .last_used_at
        .is_none_or(|last| at - last >= LAST_USED_GRANULARITY);
    if stale {
        let mut tx = state.store().begin_write().await?;
        let still_active = on_tx!(&mut tx, conn => {
            sqlx::query(
                "UPDATE device_keys SET last_used_at = $1 WHERE id = $2 AND revoked_at IS NULL",
            )
            .bind(at)
            .bind(device_id)
            .execute(conn)
            .await?
            .rows_affected()
        });
        tx.commit().await?;
        // Revoked between the read and now: the revocation wins.
        if still_active == 0 {
            return Err(not_enrolled());
        }
    }
    Ok(DeviceKeyInfo {
        id: row.id,
        label: row.label,
        fingerprint: hex::encode(&row.fingerprint),
        public_key: hex::encode(&row.public_key),
    })
}
