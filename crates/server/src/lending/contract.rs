//! The contract: rendered from the offer, shown (the reading clock starts at the first
//! showing), signed over its SM3 with the applicant's device key (SM2), and on signature the
//! line is opened on the ledger — all in one transaction.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bianmin_core::Money;
use bianmin_crypto::sm3_digest;
use bianmin_lending::ledger::{CreditLine, LineTerms};
use bianmin_store::{NewEvent, StoreError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::application::{
    ApplicationRow, insert_steps, load, next_seq, offer_and_reasons, step_label,
};
use super::review::review_of;
use super::{
    Broadcast, OfferView, TimelineEntry, citizen, conflict, ledger_annual_rate, open_decision,
    open_json, seal_json,
};
use crate::app::AppState;
use crate::auth::Principal;
use crate::http::json::ApiJson;
use crate::http::no_store;
use crate::http::path::ApiPath;
use crate::http::problem::{ApiError, Problem};

/// Version of the contract template.
pub const CONTRACT_VERSION: &str = "shandiandai-contract-2026.1";
const CONTRACTS: &str = "loan_contracts";

/// The contract as shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContractView {
    /// Contract id.
    pub contract_id: Uuid,
    /// Template version.
    pub version: &'static str,
    /// Title.
    pub title: &'static str,
    /// Full text.
    pub text: String,
    /// SM3 of the text (UTF-8), hex: what the applicant signs.
    pub sm3: String,
    /// The least time between showing and signing.
    pub min_read_seconds: u64,
    /// First shown.
    pub presented_at: DateTime<Utc>,
    /// Signed.
    pub signed_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct ContractRow {
    id: Uuid,
    text_enc: Vec<u8>,
    text_sm3: String,
    presented_at: DateTime<Utc>,
    signed_at: Option<DateTime<Utc>>,
}

async fn contract_row(
    state: &AppState,
    application: Uuid,
) -> Result<Option<ContractRow>, ApiError> {
    Ok(bianmin_store::on_pool!(state.store(), pool => {
        sqlx::query_as::<_, ContractRow>(
            "SELECT id, text_enc, text_sm3, presented_at, signed_at FROM loan_contracts \
             WHERE application_id = $1",
        )
        .bind(application)
        .fetch_optional(pool)
        .await
        .map_err(StoreError::from)?
    }))
}

/// The offer an application stands on, if it is approved.
async fn offer_of(state: &AppState, row: &ApplicationRow) -> Result<OfferView, ApiError> {
    let decision = match &row.decision_enc {
        Some(sealed) => Some(open_decision(state, row.person_id, row.id, sealed).await?),
        None => None,
    };
    let review = review_of(state, row.id).await?;
    offer_and_reasons(decision.as_ref(), review.as_ref())?
        .0
        .ok_or_else(|| conflict("loan.not_approved", "该申请未获批准，没有可签署的合同。"))
}

fn render(
    contract_id: Uuid,
    name: &str,
    masked_id: &str,
    offer: &OfferView,
    date: chrono::NaiveDate,
) -> String {
    format!(
        "闪电贷个人循环授信借款合同（{CONTRACT_VERSION}）\n\
         【演示文本，不构成真实要约】\n\n\
         合同编号：{contract_id}\n\
         借款人：{name}（证件号码 {masked_id}）\n\
         贷款人：便民银行股份有限公司成都分行\n\
         签订日期：{date}\n\n\
         第一条 授信额度\n\
         贷款人向借款人提供人民币 {limit} 元的循环授信额度，额度有效期 {term} 个月，到期经重新审批后可续期。\
         在额度有效期内，借款人可随时在可用额度内借款，借款直接发放至借款人在贷款人处开立的本人结算账户。\n\n\
         第二条 利率与费用\n\
         年化利率（单利，按内部收益率法计算，已包含全部费用）：{apr_text}。\n\
         日利率：{daily}（{daily_text}），按实际占用天数计息（{day_count}），每日按当日日终未还本金计息。\n\
         本产品不收取任何手续费、服务费或其他费用。\n\n\
         第三条 还款\n\
         借款人可随时提前归还全部或部分借款，不收取违约金。每月账单日出具账单，最低还款额为账单利息加未还本金的十二分之一\
         （不低于 100 元，不超过欠款总额），应于账单日后 20 日内归还。还款依次冲抵：逾期利息、罚息、利息、本金。\n\n\
         第四条 逾期\n\
         借款人未按期归还最低还款额的，自逾期之日起对逾期款项按日利率的 1.5 倍计收罚息，逾期期间暂停借款，\
         逾期信息将依法报送金融信用信息基础数据库。\n\n\
         第五条 资金用途\n\
         借款仅限用于个人消费，不得用于购房、证券、期货、理财、股权投资等，不得用于任何违法用途。\n\n\
         第六条 个人信息\n\
         借款人已分别授权贷款人为本次授信查询其政务数据与个人征信信息，并可随时在“我的授权”中撤回；\
         撤回不影响撤回前已进行的处理。贷款人依法保护借款人个人信息。\n\n\
         第七条 争议解决\n\
         本合同适用中华人民共和国法律；争议由贷款人所在地人民法院管辖。\n\n\
         第八条 电子签名\n\
         借款人以本人设备密钥（SM2）对本合同文本的 SM3 摘要进行电子签名，与手写签名具有同等法律效力。\n",
        limit = offer.limit,
        term = offer.term_months,
        apr_text = offer.apr_text,
        daily = offer.daily_rate,
        daily_text = offer.daily_rate_text,
        day_count = offer.day_count,
    )
}

fn min_read(state: &AppState) -> u64 {
    state.config().lending.contract_min_read_seconds.min(600)
}

/// The contract of an approved application: rendered and recorded at the first request, the
/// same text after.
#[utoipa::path(get, path = "/api/v1/me/loan/applications/{id}/contract", tag = "lending",
    params(("id" = Uuid, Path, description = "application id")),
    responses((status = 200, body = ContractView), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn contract(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Response, ApiError> {
    let person = citizen(&principal)?;
    let row = load(&state, person, id).await?;
    if let Some(existing) = contract_row(&state, id).await? {
        let text: String = open_json(
            &state,
            person,
            CONTRACTS,
            "text_enc",
            existing.id,
            &existing.text_enc,
        )
        .await?;
        return Ok(no_store(ContractView {
            contract_id: existing.id,
            version: CONTRACT_VERSION,
            title: "闪电贷个人循环授信借款合同",
            text,
            sm3: existing.text_sm3,
            min_read_seconds: min_read(&state),
            presented_at: existing.presented_at,
            signed_at: existing.signed_at,
        }));
    }
    if row.state != "approved" {
        return Err(conflict(
            "loan.not_approved",
            "该申请未获批准，没有可签署的合同。",
        ));
    }
    let offer = offer_of(&state, &row).await?;
    let now = state.clock().now();
    let revealed = state
        .vault()
        .reveal(person, "system:lending", "闪电贷借款合同", now)
        .await?;
    let masked_id = bianmin_core::mask::mask_resident_id(revealed.resident_id.as_str());
    let contract_id = Uuid::now_v7();
    let text = render(
        contract_id,
        &revealed.name,
        &masked_id,
        &offer,
        state.clock().today_china(),
    );
    drop(revealed);
    let sm3 = hex::encode(sm3_digest(text.as_bytes()));
    let sealed = seal_json(&state, person, CONTRACTS, "text_enc", contract_id, &text).await?;
    let inserted = bianmin_store::on_pool!(state.store(), pool => {
        sqlx::query(
            "INSERT INTO loan_contracts (id, application_id, person_id, version, text_enc, \
             text_sm3, presented_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(contract_id)
        .bind(id)
        .bind(person)
        .bind(CONTRACT_VERSION)
        .bind(&sealed)
        .bind(&sm3)
        .bind(now)
        .execute(pool)
        .await
            .map(|r| r.rows_affected())
    });
    if let Err(e) = inserted {
        if super::application::is_unique_violation(&e) {
            // A twin request rendered it first: show that one.
            return Box::pin(contract(State(state), principal, ApiPath(id))).await;
        }
        return Err(StoreError::from(e).into());
    }
    Ok(no_store(ContractView {
        contract_id,
        version: CONTRACT_VERSION,
        title: "闪电贷个人循环授信借款合同",
        text,
        sm3,
        min_read_seconds: min_read(&state),
        presented_at: now,
        signed_at: None,
    }))
}

/// Body of `POST /api/v1/me/loan/applications/{id}/sign`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignRequest {
    /// The SM3 (hex) of the contract text as shown.
    pub contract_sm3: String,
    /// The enrolled device whose key signs.
    pub device_id: Uuid,
    /// SM2 signature (r‖s, hex) of the UTF-8 bytes of `contract_sm3`.
    pub signature: String,
}

/// Signs the contract with the device key and opens the line.
#[utoipa::path(post, path = "/api/v1/me/loan/applications/{id}/sign", tag = "lending",
    params(("id" = Uuid, Path, description = "application id")),
    request_body = SignRequest,
    responses((status = 201, body = super::line::LineView), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn sign(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<SignRequest>,
) -> Result<Response, ApiError> {
    let person = citizen(&principal)?;
    let row = load(&state, person, id).await?;
    if row.state == "signed" {
        let line = super::line::line_view(&state, person)
            .await?
            .ok_or_else(|| ApiError::internal("signed application without its line"))?;
        return Ok(no_store(line));
    }
    if row.state != "approved" {
        return Err(conflict(
            "loan.not_approved",
            "该申请未获批准，没有可签署的合同。",
        ));
    }
    let contract = contract_row(&state, id)
        .await?
        .ok_or_else(|| conflict("loan.contract_not_shown", "请先阅读合同。"))?;
    if !body.contract_sm3.eq_ignore_ascii_case(&contract.text_sm3) {
        return Err(conflict(
            "loan.contract_changed",
            "合同内容与您阅读的版本不一致，请重新打开合同阅读后签署。",
        ));
    }
    let now = state.clock().now();
    let read = (now - contract.presented_at).num_seconds();
    let min = i64::try_from(min_read(&state)).unwrap_or(i64::MAX);
    if read < min {
        return Err(ApiError::invalid(
            "loan.read_time",
            format!(
                "请完整阅读合同后再签署（至少 {min} 秒，还需 {} 秒）。",
                min - read
            ),
        ));
    }
    let signature = hex::decode(body.signature.trim())
        .map_err(|_| ApiError::invalid("device.bad_signature", "签名格式不正确。"))?;
    crate::devices::verify_device_signature(
        &state,
        person,
        body.device_id,
        contract.text_sm3.as_bytes(),
        body.signature.trim(),
    )
    .await?;

    let offer = offer_of(&state, &row).await?;
    let limit = Money::parse(&offer.limit).map_err(ApiError::internal)?;
    let daily = bianmin_core::Rate::parse(&offer.daily_rate).map_err(ApiError::internal)?;
    let mut terms = LineTerms::new(limit, ledger_annual_rate(daily)?);
    terms.grace_days = state.config().lending.grace_days.clamp(1, 60);
    let today = state.clock().today_china();
    let line = CreditLine::open(terms, today).map_err(super::line::ledger_error)?;
    let line_id = Uuid::now_v7();
    let json = serde_json::to_string(&line).map_err(ApiError::internal)?;
    let seq = next_seq(&state, id).await?;
    let entries = [
        TimelineEntry {
            seq,
            step: "contract".into(),
            label: step_label("contract").into(),
            state: "done".into(),
            at: now,
            detail: Some(format!("已签署合同（SM3 {}…）", &contract.text_sm3[..12])),
        },
        TimelineEntry {
            seq: seq + 1,
            step: "line".into(),
            label: step_label("line").into(),
            state: "done".into(),
            at: now,
            detail: Some(format!("额度 {limit} 元已开通，可随借随还")),
        },
    ];

    let mut tx = state.store().begin_write().await?;
    let signed = bianmin_store::on_tx!(&mut tx, conn => {
        sqlx::query(
            "UPDATE loan_contracts SET signed_at = $1, device_id = $2, signature = $3 \
             WHERE id = $4 AND signed_at IS NULL",
        )
        .bind(now)
        .bind(body.device_id)
        .bind(&signature)
        .bind(contract.id)
        .execute(conn)
        .await
        .map_err(StoreError::from)?
        .rows_affected()
    });
    let moved = bianmin_store::on_tx!(&mut tx, conn => {
        sqlx::query(
            "UPDATE loan_applications SET state = 'signed', updated_at = $1 \
             WHERE id = $2 AND state = 'approved'",
        )
        .bind(now)
        .bind(id)
        .execute(conn)
        .await
        .map_err(StoreError::from)?
        .rows_affected()
    });
    if signed != 1 || moved != 1 {
        return Err(conflict("loan.already_signed", "合同已签署。"));
    }
    let opened = bianmin_store::on_tx!(&mut tx, conn => {
        sqlx::query(
            "INSERT INTO credit_lines (id, person_id, application_id, contract_id, limit_fen, \
             status, opened_on, expires_on, accrued_through, state_json, version, created_at, \
             updated_at) VALUES ($1, $2, $3, $4, $5, 'active', $6, $7, $8, $9, 1, $10, $10)",
        )
        .bind(line_id)
        .bind(person)
        .bind(id)
        .bind(contract.id)
        .bind(limit.fen())
        .bind(line.opened_on())
        .bind(line.expires_on())
        .bind(line.accrued_until())
        .bind(&json)
        .bind(now)
        .execute(conn)
        .await
            .map(|r| r.rows_affected())
    });
    if let Err(e) = opened {
        if super::application::is_unique_violation(&e) {
            return Err(conflict("loan.line_exists", "您已开通闪电贷额度。"));
        }
        return Err(StoreError::from(e).into());
    }
    insert_steps(&mut tx, id, &entries).await?;
    tx.append_events(&[
        NewEvent::new(
            "loan.contract_signed",
            "loan_application",
            id.to_string(),
            json!({ "contract_version": CONTRACT_VERSION }),
            now,
        ),
        NewEvent::new(
            "loan.line_opened",
            "credit_line",
            line_id.to_string(),
            json!({ "limit_band": super::application::amount_band(limit) }),
            now,
        ),
    ])
    .await?;
    tx.commit().await?;
    for entry in entries {
        state.lending().publish(Broadcast::Step(id, entry));
    }
    let line = super::line::line_view(&state, person)
        .await?
        .ok_or_else(|| ApiError::internal("line not found after opening"))?;
    Ok((StatusCode::CREATED, no_store(line)).into_response())
}
