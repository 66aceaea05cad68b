//! 交通罚没 over HTTP: the signed-in citizen's vehicles, licence and fines from the 交管局 (under
//! their `SERVICE_TRAFFIC` consent), paying fines from their bank account exactly once
//! (`Idempotency-Key`), receipts, and their bank account.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use bianmin_core::Money;
use bianmin_govsim::records::traffic::{FineStatus, TrafficLicence, TrafficVehicles};
use bianmin_services::accounts::AccountError;
use bianmin_services::traffic::{FinePayment, PayFines, TrafficError, TrafficService};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::app::AppState;
use crate::auth::{Principal, Role};
use crate::http::json::ApiJson;
use crate::http::no_store;
use crate::http::path::ApiPath;
use crate::http::problem::{ApiError, Problem};
use crate::http::query::ApiQuery;
use crate::usage::Use;

/// The header carrying the client's idempotency key.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

fn citizen(state: &AppState, principal: &Principal) -> Result<(Uuid, TrafficService), ApiError> {
    principal.require(&[Role::Citizen])?;
    let person = principal
        .person_id
        .ok_or_else(|| ApiError::not_found("尚未完成实名信息登记。"))?;
    let traffic = state
        .traffic()
        .cloned()
        .ok_or_else(ApiError::exchange_not_configured)?;
    Ok((person, traffic))
}

/// A plate with its middle hidden: `川A·12345` → `川A·***45`.
pub fn mask_plate(plate: &str) -> String {
    let chars: Vec<char> = plate.chars().collect();
    let keep_head = chars.iter().position(|c| *c == '·').map_or(2, |i| i + 1);
    if chars.len() <= keep_head + 2 {
        return plate.to_owned();
    }
    let hidden = chars.len() - keep_head - 2;
    let head: String = chars[..keep_head].iter().collect();
    let tail: String = chars[chars.len() - 2..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(hidden))
}

/// A vehicle.
#[derive(Debug, Serialize, ToSchema)]
pub struct VehicleView {
    /// Plate, middle hidden.
    pub plate: String,
    /// `fuel`, `electric` or `hybrid`.
    pub energy: String,
    /// Brand.
    pub brand: String,
    /// Registered on.
    pub registered_on: NaiveDate,
    /// Next inspection due.
    pub inspection_due: NaiveDate,
    /// Status as the 交管局 gives it.
    pub status: String,
}

/// The citizen's vehicles.
#[derive(Debug, Serialize, ToSchema)]
pub struct VehiclesView {
    /// Vehicles registered to them.
    pub vehicles: Vec<VehicleView>,
    /// Date the data describe.
    pub as_of: NaiveDate,
}

fn enum_text<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

impl From<TrafficVehicles> for VehiclesView {
    fn from(v: TrafficVehicles) -> Self {
        VehiclesView {
            vehicles: v
                .vehicles
                .into_iter()
                .map(|v| VehicleView {
                    plate: mask_plate(&v.plate),
                    energy: enum_text(&v.energy),
                    brand: v.brand,
                    registered_on: v.registered_on,
                    inspection_due: v.inspection_due,
                    status: enum_text(&v.status),
                })
                .collect(),
            as_of: v.as_of,
        }
    }
}

/// The citizen's driving licence.
#[derive(Debug, Serialize, ToSchema)]
pub struct LicenceView {
    /// Licence number (the resident id), masked.
    pub licence_number: String,
    /// Class, e.g. `C1`.
    pub class: String,
    /// `valid`, `suspended`, `revoked` or `expired`.
    pub status: String,
    /// First issued.
    pub first_issued: NaiveDate,
    /// Valid until (none: long-term).
    pub valid_until: Option<NaiveDate>,
    /// Points deducted in the current 12-point cycle.
    pub points_deducted: u32,
    /// End of the current cycle.
    pub cycle_end: NaiveDate,
    /// Date the data describe.
    pub as_of: NaiveDate,
}

impl From<TrafficLicence> for LicenceView {
    fn from(l: TrafficLicence) -> Self {
        LicenceView {
            licence_number: bianmin_core::mask::mask_resident_id(&l.licence_number),
            class: enum_text(&l.class),
            status: enum_text(&l.status),
            first_issued: l.first_issued,
            valid_until: l.valid_until,
            points_deducted: l.points_deducted,
            cycle_end: l.cycle_end,
            as_of: l.as_of,
        }
    }
}

/// A violation and its fine.
#[derive(Debug, Serialize, ToSchema)]
pub struct ViolationView {
    /// 处罚决定书编号 (20 digits): what a payment names.
    pub id: String,
    /// Plate, middle hidden.
    pub plate: String,
    /// When.
    pub occurred_at: String,
    /// Where.
    pub location: String,
    /// What.
    pub description: String,
    /// Penalty points.
    pub points: u32,
    /// Fine, yuan.
    pub fine: String,
    /// 加处罚款 (late fee), yuan.
    pub late_fee: String,
    /// Due now, yuan.
    pub amount_due: String,
    /// `unpaid` or `paid`.
    pub status: String,
    /// When paid.
    pub paid_on: Option<NaiveDate>,
}

/// The citizen's violations, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ViolationsView {
    /// Violations of the last 24 months.
    pub violations: Vec<ViolationView>,
    /// Sum due, yuan.
    pub unpaid_total: String,
    /// Date the data describe.
    pub as_of: NaiveDate,
}

/// Body of `POST /api/v1/me/traffic/payments`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayRequest {
    /// The fines to pay (处罚决定书编号), 1 to 20.
    pub violation_ids: Vec<String>,
    /// The total shown to the citizen, yuan as a string with two decimals, e.g. `"200.00"`.
    pub expected_total: String,
}

/// A fine of a payment.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaidFineView {
    /// 处罚决定书编号.
    pub violation_id: String,
    /// Fine, yuan.
    pub fine: String,
    /// Late fee, yuan.
    pub late_fee: String,
    /// When the 交管局 acknowledged it.
    pub notified_at: Option<DateTime<Utc>>,
}

/// A payment and its electronic receipt (电子回单).
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentView {
    /// Payment id.
    pub id: Uuid,
    /// Receipt number.
    pub receipt_no: String,
    /// Total paid, yuan.
    pub amount: String,
    /// When.
    pub paid_at: DateTime<Utc>,
    /// Account paid from (尾号).
    pub account_suffix: String,
    /// The fines.
    pub fines: Vec<PaidFineView>,
    /// `pending` until the 交管局 acknowledged every fine, then `acknowledged`.
    pub notify_state: String,
    /// The platform's SM2 signature over `receipt_text`, hex.
    pub signature: String,
    /// The signer's client id.
    pub signer: String,
    /// The canonical text the signature covers.
    pub receipt_text: String,
    /// True when this is the answer to an earlier request with the same key.
    pub replayed: bool,
}

impl From<FinePayment> for PaymentView {
    fn from(p: FinePayment) -> Self {
        PaymentView {
            receipt_text: p.receipt_text(),
            id: p.id,
            receipt_no: p.receipt_no,
            amount: p.amount.to_string(),
            paid_at: p.paid_at,
            account_suffix: p.account_suffix,
            fines: p
                .fines
                .into_iter()
                .map(|f| PaidFineView {
                    violation_id: f.violation_id,
                    fine: f.fine.to_string(),
                    late_fee: f.late_fee.to_string(),
                    notified_at: f.notified_at,
                })
                .collect(),
            notify_state: p.notify_state,
            signature: p.signature,
            signer: p.signer,
            replayed: p.replayed,
        }
    }
}

/// The citizen's payments, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentList {
    /// Payments.
    pub items: Vec<PaymentView>,
}

/// The citizen's bank account.
#[derive(Debug, Serialize, ToSchema)]
pub struct BankAccountView {
    /// Last four digits.
    pub suffix: String,
    /// Available balance, yuan.
    pub balance: String,
}

/// The signed-in citizen's vehicles, from the 交管局.
#[utoipa::path(get, path = "/api/v1/me/traffic/vehicles", tag = "services",
    responses((status = 200, body = VehiclesView), (status = 403, body = Problem), (status = 503, body = Problem)))]
pub async fn vehicles(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Response, ApiError> {
    let (person, traffic) = citizen(&state, &principal)?;
    let usage = Use::start(&principal, person, "traffic.vehicles", "traffic");
    let result = traffic
        .vehicles(person)
        .await
        .map(VehiclesView::from)
        .map_err(ApiError::from);
    usage.finish(&state, &result).await;
    result.map(no_store)
}

/// The signed-in citizen's driving licence, from the 交管局.
#[utoipa::path(get, path = "/api/v1/me/traffic/licence", tag = "services",
    responses((status = 200, body = LicenceView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn licence(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Response, ApiError> {
    let (person, traffic) = citizen(&state, &principal)?;
    let usage = Use::start(&principal, person, "traffic.licence", "traffic");
    let result = traffic
        .licence(person)
        .await
        .map(LicenceView::from)
        .map_err(|e| match e {
            TrafficError::Fetch(bianmin_gateway::FetchError::Exchange(
                bianmin_exchange::ExchangeError::NotFound,
            )) => ApiError::new(
                StatusCode::NOT_FOUND,
                "traffic.no_licence",
                "交管局未查到您的机动车驾驶证。",
            ),
            other => other.into(),
        });
    usage.finish(&state, &result).await;
    result.map(no_store)
}

/// Query of `GET /api/v1/me/traffic/violations`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct ViolationsQuery {
    /// Only the violations of this vehicle, e.g. `川A12345` or `川AD12345` (new energy); the
    /// `·` after the letter is optional.
    pub plate: Option<String>,
}

/// A 机动车号牌 as people type it: a province character, a letter, then five characters
/// (letters other than I and O, digits), or six for new-energy vehicles (GA 36-2018); the
/// `·` after the letter is optional. Returned without it, upper-cased.
pub fn normalise_plate(text: &str) -> Option<String> {
    const PROVINCES: &str = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼";
    let chars: Vec<char> = text.trim().chars().filter(|c| *c != '·').collect();
    let (province, rest) = chars.split_first()?;
    if !PROVINCES.contains(*province) || !(6..=7).contains(&rest.len()) {
        return None;
    }
    let rest: Vec<char> = rest.iter().map(char::to_ascii_uppercase).collect();
    let letter_ok = rest[0].is_ascii_uppercase();
    let tail_ok = rest[1..]
        .iter()
        .all(|c| (c.is_ascii_uppercase() || c.is_ascii_digit()) && *c != 'I' && *c != 'O');
    (letter_ok && tail_ok).then(|| std::iter::once(*province).chain(rest).collect())
}

/// The signed-in citizen's violations and fines, newest first, from the 交管局 (fines paid
/// here and not yet acknowledged there show as paid); optionally of one vehicle.
#[utoipa::path(get, path = "/api/v1/me/traffic/violations", tag = "services", params(ViolationsQuery),
    responses((status = 200, body = ViolationsView), (status = 403, body = Problem), (status = 422, body = Problem), (status = 503, body = Problem)))]
pub async fn violations(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<ViolationsQuery>,
) -> Result<Response, ApiError> {
    let plate = match &query.plate {
        Some(text) => Some(normalise_plate(text).ok_or_else(|| {
            ApiError::invalid(
                "traffic.invalid_plate",
                "号牌格式有误：应为省份简称加字母和 5 位（新能源 6 位）字母或数字，例如 川A12345。",
            )
        })?),
        None => None,
    };
    let (person, traffic) = citizen(&state, &principal)?;
    let usage = Use::start(&principal, person, "traffic.violations", "traffic");
    let result = traffic
        .violations(person)
        .await
        .map(|v| {
            let mut violations: Vec<ViolationView> = v
                .violations
                .into_iter()
                .filter(|v| {
                    plate
                        .as_deref()
                        .is_none_or(|p| v.plate.replace('·', "") == p)
                })
                .map(|v| ViolationView {
                    id: v.id,
                    plate: mask_plate(&v.plate),
                    occurred_at: v.occurred_at.to_rfc3339(),
                    location: v.location,
                    description: v.description,
                    points: v.points,
                    fine: v.fine.to_string(),
                    late_fee: v.late_fee.to_string(),
                    amount_due: v.amount_due.to_string(),
                    status: match v.status {
                        FineStatus::Unpaid => "unpaid",
                        FineStatus::Paid => "paid",
                    }
                    .to_owned(),
                    paid_on: v.paid_on,
                })
                .collect();
            violations.reverse();
            ViolationsView {
                violations,
                unpaid_total: v.unpaid_total.to_string(),
                as_of: v.as_of,
            }
        })
        .map_err(ApiError::from);
    usage.finish(&state, &result).await;
    // A plate asked about is a lookup for behaviour scoring: a crawler walks through plates
    // here, each finding nothing, since only the citizen's own vehicles have fines to show.
    result.map(|view| {
        let found = !view.violations.is_empty();
        let response = no_store(view);
        match plate {
            Some(plate) => crate::antibot::lookup(response, plate, found),
            None => response,
        }
    })
}

/// Pays fines from the signed-in citizen's bank account. Requires an `Idempotency-Key` header
/// (1–64 of `A-Z a-z 0-9 - _`): retries, double taps and concurrent requests with the same key
/// pay once and get the same receipt (200 with `replayed: true`); the same key for another
/// request is refused. The total must equal what is due now.
#[utoipa::path(post, path = "/api/v1/me/traffic/payments", tag = "services", request_body = PayRequest,
    params(("Idempotency-Key" = String, Header, description = "client-chosen key, one per payment")),
    responses((status = 201, body = PaymentView), (status = 200, body = PaymentView), (status = 400, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn pay(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    ApiJson(body): ApiJson<PayRequest>,
) -> Result<Response, ApiError> {
    let (person, traffic) = citizen(&state, &principal)?;
    let key = headers
        .get(IDEMPOTENCY_KEY)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ApiError::bad_request(
                "idempotency.key_required",
                "缴款请求须带 Idempotency-Key 请求头，以保证重试不会重复扣款。",
            )
        })?
        .to_owned();
    let expected_total = Money::parse(&body.expected_total).map_err(|_| {
        ApiError::invalid(
            "traffic.invalid_amount",
            "expected_total 须为以元为单位、两位小数的金额字符串，例如 \"200.00\"。",
        )
    })?;
    let usage = Use::start(&principal, person, "traffic.pay", "traffic");
    let event = usage.event(&state).await;
    let request = PayFines {
        idempotency_key: key,
        violation_ids: body.violation_ids,
        expected_total,
    };
    let result = traffic
        .pay(person, &request, event)
        .await
        .map_err(ApiError::from);
    match result {
        Ok(payment) => {
            let status = if payment.replayed {
                StatusCode::OK
            } else {
                state.wake_notifier();
                StatusCode::CREATED
            };
            let mut response = no_store(PaymentView::from(payment));
            *response.status_mut() = status;
            Ok(response)
        }
        Err(error) => {
            // Refusals are uses too (the successful one is in the payment's transaction).
            usage.finish::<()>(&state, &Err(error.clone())).await;
            Err(error)
        }
    }
}

/// The signed-in citizen's payments, newest first.
#[utoipa::path(get, path = "/api/v1/me/traffic/payments", tag = "services",
    responses((status = 200, body = PaymentList), (status = 403, body = Problem)))]
pub async fn payments(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Response, ApiError> {
    let (person, traffic) = citizen(&state, &principal)?;
    let items = traffic
        .payments(person)
        .await?
        .into_iter()
        .map(PaymentView::from)
        .collect();
    Ok(no_store(PaymentList { items }))
}

/// One of the signed-in citizen's payments, with its receipt.
#[utoipa::path(get, path = "/api/v1/me/traffic/payments/{id}", tag = "services",
    params(("id" = Uuid, Path, description = "payment id")),
    responses((status = 200, body = PaymentView), (status = 404, body = Problem)))]
pub async fn payment(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Response, ApiError> {
    let (person, traffic) = citizen(&state, &principal)?;
    Ok(no_store(PaymentView::from(
        traffic.payment(person, id).await?,
    )))
}

/// The signed-in citizen's bank account (尾号 and balance).
#[utoipa::path(get, path = "/api/v1/me/bank-account", tag = "services",
    responses((status = 200, body = BankAccountView), (status = 404, body = Problem)))]
pub async fn bank_account(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Response, ApiError> {
    principal.require(&[Role::Citizen, Role::Enterprise])?;
    let person = principal
        .person_id
        .ok_or_else(|| ApiError::not_found("尚未完成实名信息登记。"))?;
    let view = state
        .accounts()
        .view(person)
        .await
        .map_err(account_error)?
        .ok_or_else(|| account_error(AccountError::NoAccount))?;
    Ok(no_store(BankAccountView {
        suffix: view.suffix,
        balance: view.balance.to_string(),
    }))
}

fn account_error(e: AccountError) -> ApiError {
    match e {
        AccountError::NoAccount => ApiError::new(
            StatusCode::NOT_FOUND,
            "payment.no_account",
            "您在本行尚无可用于缴款的账户。",
        ),
        AccountError::InsufficientFunds { available } => ApiError::new(
            StatusCode::CONFLICT,
            "payment.insufficient_funds",
            format!("账户余额不足（可用 {available} 元），未扣款。"),
        ),
        AccountError::Vault(e) => e.into(),
        AccountError::Store(e) => e.into(),
        AccountError::Corrupt(what) => {
            tracing::error!(%what, "SECURITY: a bank account failed its integrity check");
            ApiError::internal("bank account failed its integrity check")
        }
    }
}

impl From<TrafficError> for ApiError {
    fn from(e: TrafficError) -> ApiError {
        let code = e.code();
        match e {
            TrafficError::Invalid(rule) => ApiError::invalid(code, rule),
            TrafficError::UnknownFine { violation_id } => ApiError::new(
                StatusCode::NOT_FOUND,
                code,
                format!("未查到处罚决定书编号为 {violation_id} 的待缴罚款。"),
            ),
            TrafficError::AlreadyPaid { violation_id } => ApiError::new(
                StatusCode::CONFLICT,
                code,
                format!("处罚决定书 {violation_id} 的罚款已缴纳，未重复扣款。"),
            ),
            TrafficError::AmountChanged { due } => ApiError::new(
                StatusCode::CONFLICT,
                code,
                format!(
                    "应缴金额已变为 {due} 元（可能产生了加处罚款），请确认后重新缴款。未扣款。"
                ),
            ),
            TrafficError::KeyReused => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                code,
                "该 Idempotency-Key 已用于另一笔不同的缴款请求，请为新的缴款生成新的键。",
            ),
            TrafficError::InProgress => ApiError::new(
                StatusCode::CONFLICT,
                code,
                "相同 Idempotency-Key 的缴款正在处理中，请稍后查看缴款记录。",
            ),
            TrafficError::PaymentNotFound => {
                ApiError::new(StatusCode::NOT_FOUND, code, "未找到该缴款记录。")
            }
            TrafficError::Account(e) => account_error(e),
            TrafficError::Fetch(e) => e.into(),
            TrafficError::Store(e) => e.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plates_are_recognised_as_people_type_them() {
        assert_eq!(normalise_plate("川A12345").as_deref(), Some("川A12345"));
        assert_eq!(normalise_plate("川a·1234b").as_deref(), Some("川A1234B"));
        assert_eq!(normalise_plate(" 川AD12345 ").as_deref(), Some("川AD12345"));
        for bad in [
            "",
            "川",
            "A12345",
            "X川12345",
            "川A1234",
            "川A12345678",
            "川A1234O",
            "川A12-45",
            "沪AI2345",
        ] {
            assert_eq!(normalise_plate(bad), None, "{bad}");
        }
    }
}
