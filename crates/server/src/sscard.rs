//! 电子社保卡 electronic social-security card: the citizen's card from the 社保局 (under their
//! `SERVICE_SSCARD` consent), activating the electronic card on one device, the dynamic QR code
//! (new every 60 s, SM2-signed by the platform, bound to the card and the device), revoking a
//! lost device, contribution records; and the institutions' side: a hospital or pharmacy
//! verifies a scanned code (valid / expired / forged / revoked, with the holder's masked name).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use bianmin_consent::Purpose;
use bianmin_govsim::records::social_insurance::{
    SiCard, SiCardActivation, SiCardStatus, SiContributions,
};
use bianmin_services::sscard::qr::{QrPolicy, QrRejection, QrVerifier, VerifiedQr, device_digest};
use bianmin_store::on_pool;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::app::{AppState, QR_KEY_ID};
use crate::auth::{InstitutionKind, Principal, Role, institution_kind};
use crate::hpf::citizen_and_gateway;
use crate::http::json::ApiJson;
use crate::http::no_store;
use crate::http::problem::{ApiError, Problem};
use crate::http::query::ApiQuery;
use crate::usage::Use;

fn verifier(state: &AppState) -> QrVerifier {
    QrVerifier::new().with_key(QR_KEY_ID, state.platform_keys().sign.verifying_key())
}

/// A device id as the app sends it: 8 to 128 characters of `A-Z a-z 0-9 - _ .`.
fn check_device(device_id: &str) -> Result<(), ApiError> {
    if (8..=128).contains(&device_id.len())
        && device_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "sscard.invalid_device",
            "设备标识须为 8 至 128 位字母、数字或 - _ .",
        ))
    }
}

#[derive(sqlx::FromRow)]
struct Binding {
    card_token: Uuid,
    person_id: Uuid,
    device_digest: Vec<u8>,
    activated_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
}

async fn live_binding(state: &AppState, person: Uuid) -> Result<Option<Binding>, ApiError> {
    Ok(on_pool!(state.store(), pool => {
        sqlx::query_as::<_, Binding>(
            "SELECT card_token, person_id, device_digest, activated_at, revoked_at \
             FROM sscard_bindings WHERE person_id = $1 AND revoked_at IS NULL",
        )
        .bind(person)
        .fetch_optional(pool)
        .await?
    }))
}

/// The card as the H5 page shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CardView {
    /// Card number, masked to its last 4 characters (`null` if no card was issued).
    pub card_number: Option<String>,
    /// `active`, `not_issued`, `suspended` or `lost`.
    pub status: String,
    /// 正常 / 未制卡 / 暂停使用 / 挂失.
    pub status_text: String,
    /// Issuing bank.
    pub issuing_bank: Option<String>,
    /// Issued on.
    pub issued_on: Option<chrono::NaiveDate>,
    /// Whether the electronic card is activated (at the 社保局).
    pub electronic: bool,
    /// Whether it is bound to a device here (QR codes can be shown).
    pub bound: bool,
    /// When it was bound here.
    pub bound_at: Option<DateTime<Utc>>,
    /// Date the data describe.
    pub as_of: chrono::NaiveDate,
}

fn mask_tail(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let shown = 4.min(chars.len() / 2);
    "*".repeat(chars.len() - shown) + &chars[chars.len() - shown..].iter().collect::<String>()
}

fn card_status(status: SiCardStatus) -> (&'static str, &'static str) {
    match status {
        SiCardStatus::Active => ("active", "正常"),
        SiCardStatus::NotIssued => ("not_issued", "未制卡"),
        SiCardStatus::Suspended => ("suspended", "暂停使用"),
        SiCardStatus::Lost => ("lost", "挂失"),
    }
}

/// The signed-in citizen's social-security card. Needs a live `SERVICE_SSCARD` consent.
#[utoipa::path(get, path = "/api/v1/me/sscard", tag = "services",
    responses((status = 200, body = CardView), (status = 403, body = Problem)))]
pub async fn my_card(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Response, ApiError> {
    let (person, gateway) = citizen_and_gateway(&state, &principal)?;
    let usage = Use::start(&principal, person, "sscard.card", "hrss");
    let result = async {
        let card = gateway
            .fetch::<SiCard>(person, Purpose::ServiceSsCard, "si.card", json!({}))
            .await?
            .value;
        let binding = live_binding(&state, person).await?;
        let (status, status_text) = card_status(card.status);
        Ok::<_, ApiError>(CardView {
            card_number: card.card_number.as_deref().map(mask_tail),
            status: status.to_owned(),
            status_text: status_text.to_owned(),
            issuing_bank: card.issuing_bank,
            issued_on: card.issued_on,
            electronic: card.electronic,
            bound: binding.is_some(),
            bound_at: binding.map(|b| b.activated_at),
            as_of: card.as_of,
        })
    }
    .await;
    usage.finish(&state, &result).await;
    result.map(no_store)
}

/// Body naming the device.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceRequest {
    /// The app's device id (8–128 of `A-Z a-z 0-9 - _ .`), kept on the phone.
    pub device_id: String,
}

/// Outcome of activation.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActivationView {
    /// When the 社保局 activated the electronic card.
    pub electronic_activated_at: String,
    /// When this device was bound.
    pub bound_at: DateTime<Utc>,
    /// True when the card was already activated (a repeat, or another device before).
    pub already_activated: bool,
}

/// Activates the electronic card at the 社保局 and binds it to this device: from now on only
/// this device can show QR codes, and codes of a previously bound device are revoked. Needs a
/// live `SERVICE_SSCARD` consent.
#[utoipa::path(post, path = "/api/v1/me/sscard/activate", tag = "services", request_body = DeviceRequest,
    responses((status = 200, body = ActivationView), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn activate(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<DeviceRequest>,
) -> Result<Response, ApiError> {
    let (person, gateway) = citizen_and_gateway(&state, &principal)?;
    check_device(&body.device_id)?;
    let usage = Use::start(&principal, person, "sscard.activate", "hrss");
    let result = async {
        let activation = gateway
            .fetch::<SiCardActivation>(
                person,
                Purpose::ServiceSsCard,
                "si.card.activate",
                json!({}),
            )
            .await
            .map_err(|e| match e {
                bianmin_gateway::FetchError::Exchange(
                    bianmin_exchange::ExchangeError::Malformed(detail),
                ) if detail.contains("si.card_not_active") => ApiError::new(
                    StatusCode::CONFLICT,
                    "sscard.card_not_active",
                    "您的社会保障卡当前不是正常状态（未制卡、暂停或挂失），无法申领电子社保卡，请到社保经办机构办理。",
                ),
                other => other.into(),
            })?
            .value;
        let now = state.clock().now();
        let digest = device_digest(&body.device_id);
        let mut tx = state.store().begin_write().await?;
        bianmin_store::on_tx!(&mut tx, conn => {
            sqlx::query(
                "UPDATE sscard_bindings SET revoked_at = $1, revoked_reason = 'rebound' \
                 WHERE person_id = $2 AND revoked_at IS NULL",
            )
            .bind(now)
            .bind(person)
            .execute(conn)
            .await?
            .rows_affected()
        });
        bianmin_store::on_tx!(&mut tx, conn => {
            sqlx::query(
                "INSERT INTO sscard_bindings (card_token, person_id, device_digest, activated_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(Uuid::now_v7())
            .bind(person)
            .bind(digest.as_slice())
            .bind(now)
            .execute(conn)
            .await?
            .rows_affected()
        });
        tx.commit().await?;
        Ok::<_, ApiError>(ActivationView {
            electronic_activated_at: activation.electronic_activated_at.to_rfc3339(),
            bound_at: now,
            already_activated: matches!(
                activation.outcome,
                bianmin_govsim::records::social_insurance::ActivationOutcome::AlreadyActivated
            ),
        })
    }
    .await;
    usage.finish(&state, &result).await;
    result.map(no_store)
}

/// Query of `GET /api/v1/me/sscard/qr`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct QrQuery {
    /// The device asking (must be the bound one).
    pub device_id: String,
}

/// A dynamic QR code.
#[derive(Debug, Serialize, ToSchema)]
pub struct QrView {
    /// The text to render as a QR code (`BMSS1.…`, 156 characters).
    pub text: String,
    /// Start of its 60-second window.
    pub window_start: DateTime<Utc>,
    /// When a new one should be fetched.
    pub expires_at: DateTime<Utc>,
}

/// The current QR code of the signed-in citizen's electronic card, for the bound device only.
/// Changes every 60 seconds; a screenshot stops verifying about a minute later.
#[utoipa::path(get, path = "/api/v1/me/sscard/qr", tag = "services", params(QrQuery),
    responses((status = 200, body = QrView), (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn my_qr(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<QrQuery>,
) -> Result<Response, ApiError> {
    principal.require(&[Role::Citizen])?;
    let person = principal
        .person_id
        .ok_or_else(|| ApiError::not_found("尚未完成实名信息登记。"))?;
    check_device(&query.device_id)?;
    let usage = Use::start(&principal, person, "sscard.qr", "hrss");
    let result = async {
        let binding = live_binding(&state, person).await?.ok_or_else(|| {
            ApiError::new(
                StatusCode::CONFLICT,
                "sscard.not_activated",
                "尚未在本设备申领电子社保卡，请先申领。",
            )
        })?;
        if binding.device_digest != device_digest(&query.device_id) {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "sscard.other_device",
                "电子社保卡已绑定在另一台设备上；如需在本机使用，请重新申领（原设备的二维码将失效）。",
            ));
        }
        let digest: [u8; 16] = binding
            .device_digest
            .as_slice()
            .try_into()
            .map_err(|_| ApiError::internal("stored device digest has the wrong length"))?;
        let qr = state
            .qr_issuer()
            .ok_or_else(|| ApiError::internal("the QR issuer has no key"))?
            .issue_for_digest(binding.card_token, digest, state.clock().now())
            .map_err(ApiError::internal)?;
        Ok(QrView {
            text: qr.text,
            window_start: qr.window_start,
            expires_at: qr.expires_at,
        })
    }
    .await;
    usage.finish(&state, &result).await;
    result.map(no_store)
}

/// Unbinds the electronic card from its device (a lost or replaced phone): every QR code of it
/// fails verification as revoked at once. Idempotent.
#[utoipa::path(post, path = "/api/v1/me/sscard/revoke", tag = "services",
    responses((status = 204), (status = 403, body = Problem)))]
pub async fn revoke(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<StatusCode, ApiError> {
    principal.require(&[Role::Citizen])?;
    let person = principal
        .person_id
        .ok_or_else(|| ApiError::not_found("尚未完成实名信息登记。"))?;
    let mut tx = state.store().begin_write().await?;
    bianmin_store::on_tx!(&mut tx, conn => {
        sqlx::query(
            "UPDATE sscard_bindings SET revoked_at = $1, revoked_reason = 'citizen' \
             WHERE person_id = $2 AND revoked_at IS NULL",
        )
        .bind(state.clock().now())
        .bind(person)
        .execute(conn)
        .await?
        .rows_affected()
    });
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Totals of one insurance over the months shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct InsuranceTotal {
    /// `pension`, `medical`, `unemployment`, `injury`, `maternity`.
    pub insurance: String,
    /// 养老 / 医疗 / 失业 / 工伤 / 生育.
    pub name: String,
    /// Months with a contribution.
    pub months: u32,
    /// Employer's share, yuan.
    pub employer: String,
    /// Employee's share, yuan.
    pub employee: String,
}

/// The signed-in citizen's social-insurance contributions per insurance type (last 24 months)
/// and the monthly records. Needs a live `SERVICE_SSCARD` consent.
#[utoipa::path(get, path = "/api/v1/me/sscard/contributions", tag = "services",
    responses((status = 200, body = Object), (status = 403, body = Problem)))]
pub async fn my_contributions(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Response, ApiError> {
    let (person, gateway) = citizen_and_gateway(&state, &principal)?;
    let usage = Use::start(&principal, person, "si.contributions", "hrss");
    let result = async {
        let contributions = gateway
            .fetch::<SiContributions>(
                person,
                Purpose::ServiceSsCard,
                "si.contributions",
                json!({}),
            )
            .await?
            .value;
        let sum =
            |f: &dyn Fn(&bianmin_govsim::records::social_insurance::SiContribution) -> i64| {
                bianmin_core::Money::from_fen(contributions.records.iter().map(f).sum::<i64>())
                    .to_string()
            };
        let months =
            |f: &dyn Fn(&bianmin_govsim::records::social_insurance::SiContribution) -> i64| {
                u32::try_from(contributions.records.iter().filter(|r| f(r) > 0).count())
                    .unwrap_or(0)
            };
        let totals = vec![
            InsuranceTotal {
                insurance: "pension".into(),
                name: "养老保险".into(),
                months: months(&|r| r.pension_employer.fen() + r.pension_employee.fen()),
                employer: sum(&|r| r.pension_employer.fen()),
                employee: sum(&|r| r.pension_employee.fen()),
            },
            InsuranceTotal {
                insurance: "medical".into(),
                name: "医疗保险".into(),
                months: months(&|r| r.medical_employer.fen() + r.medical_employee.fen()),
                employer: sum(&|r| r.medical_employer.fen()),
                employee: sum(&|r| r.medical_employee.fen()),
            },
            InsuranceTotal {
                insurance: "unemployment".into(),
                name: "失业保险".into(),
                months: months(&|r| r.unemployment_employer.fen() + r.unemployment_employee.fen()),
                employer: sum(&|r| r.unemployment_employer.fen()),
                employee: sum(&|r| r.unemployment_employee.fen()),
            },
            InsuranceTotal {
                insurance: "injury".into(),
                name: "工伤保险".into(),
                months: months(&|r| r.injury_employer.fen()),
                employer: sum(&|r| r.injury_employer.fen()),
                employee: "0.00".into(),
            },
            InsuranceTotal {
                insurance: "maternity".into(),
                name: "生育保险".into(),
                months: months(&|r| r.maternity_employer.fen()),
                employer: sum(&|r| r.maternity_employer.fen()),
                employee: "0.00".into(),
            },
        ];
        let mut records = contributions.records;
        records.reverse();
        Ok::<_, ApiError>(json!({
            "totals": totals,
            "records": records,
            "as_of": contributions.as_of,
        }))
    }
    .await;
    usage.finish(&state, &result).await;
    result.map(no_store)
}

/// Body of `POST /api/v1/institution/sscard/verify`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    /// The scanned text.
    pub code: String,
}

/// What a scan tells the institution.
#[derive(Debug, Serialize, ToSchema)]
pub struct VerifyView {
    /// `valid`, `expired`, `forged`, `revoked`, `malformed` or `not_yet_valid`.
    pub result: String,
    /// The outcome in Chinese.
    pub result_text: String,
    /// The holder's name, masked (`*伟`), for a valid code only.
    pub holder_name: Option<String>,
    /// The holder's card status at the 社保局 is not consulted here: the binding is the
    /// platform's. When the code was issued (start of its window).
    pub issued_at: Option<DateTime<Utc>>,
}

fn verdict(rejection: &QrRejection) -> &'static str {
    match rejection {
        QrRejection::Expired => "expired",
        QrRejection::Forged => "forged",
        QrRejection::Revoked | QrRejection::DeviceMismatch => "revoked",
        QrRejection::NotYetValid => "not_yet_valid",
        _ => "malformed",
    }
}

/// Verifies a scanned electronic social-security card QR code (hospital, pharmacy staff).
/// Answers 200 with the verdict for every scan — a forged or expired code is a normal
/// outcome of scanning, not a client error — and the holder's masked name when valid. Each
/// scan is recorded for the cockpit.
#[utoipa::path(post, path = "/api/v1/institution/sscard/verify", tag = "institutions", request_body = VerifyRequest,
    responses((status = 200, body = VerifyView), (status = 403, body = Problem)))]
pub async fn verify(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<VerifyRequest>,
) -> Result<Json<VerifyView>, ApiError> {
    principal.require(&[Role::Institution])?;
    let kind = principal
        .department
        .and_then(|d| institution_kind(d.code))
        .ok_or_else(|| ApiError::forbidden("当前机构无社保卡核验权限。"))?;
    if !matches!(kind, InstitutionKind::Hospital | InstitutionKind::Pharmacy) {
        return Err(ApiError::forbidden(
            "只有定点医疗机构和药店可以核验电子社保卡。",
        ));
    }
    let now = state.clock().now();
    let checked = match verifier(&state).verify(&body.code, now, &QrPolicy::DEFAULT) {
        Ok(verified) => check_binding(&state, verified).await?,
        Err(rejection) => Err(rejection),
    };
    let view = match checked {
        Ok((verified, holder)) => {
            let name = state.vault().masked(holder).await.ok().map(|p| p.name);
            VerifyView {
                result: "valid".into(),
                result_text: "有效：电子社保卡核验通过".into(),
                holder_name: name,
                issued_at: Some(verified.window_start),
            }
        }
        Err(rejection) => VerifyView {
            result: verdict(&rejection).into(),
            result_text: rejection.to_string(),
            holder_name: None,
            issued_at: None,
        },
    };
    let event = bianmin_store::NewEvent {
        event_id: Uuid::now_v7(),
        kind: "sscard.verified".into(),
        aggregate: "institution".into(),
        aggregate_id: principal
            .department
            .map(|d| d.code.to_owned())
            .unwrap_or_default(),
        payload: json!({
            "result": view.result,
            "department": "hrss",
            "channel": "api",
        }),
        occurred_at: now,
    };
    let mut tx = state.store().begin_write().await?;
    tx.append_event(&event).await?;
    tx.commit().await?;
    Ok(Json(view))
}

/// The binding behind a well-signed, timely code: live and for the device it names.
async fn check_binding(
    state: &AppState,
    verified: VerifiedQr,
) -> Result<Result<(VerifiedQr, Uuid), QrRejection>, ApiError> {
    let binding = on_pool!(state.store(), pool => {
        sqlx::query_as::<_, Binding>(
            "SELECT card_token, person_id, device_digest, activated_at, revoked_at \
             FROM sscard_bindings WHERE card_token = $1",
        )
        .bind(verified.card_token)
        .fetch_optional(pool)
        .await?
    });
    let Some(binding) = binding else {
        // Signed by us for a card we never bound: only a leaked key could do that.
        tracing::error!("SECURITY: a QR code signed with the platform key names an unknown card");
        return Ok(Err(QrRejection::Forged));
    };
    if binding.revoked_at.is_some() {
        return Ok(Err(QrRejection::Revoked));
    }
    let registered: [u8; 16] = binding
        .device_digest
        .as_slice()
        .try_into()
        .map_err(|_| ApiError::internal("stored device digest has the wrong length"))?;
    if let Err(rejection) = verified.check_device(&registered) {
        return Ok(Err(rejection));
    }
    Ok(Ok((verified, binding.person_id)))
}
