//! The owner's side before a line exists: the offers of the distributors the signed-in owner
//! owns (A集团 confirms which, under the owner's consent), accepting one in one step — ownership,
//! the real-name check, the owner's credit report and court records through the gateway, the
//! owner check, and the line opened with its contract — and the contract as accepted.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bianmin_consent::Purpose;
use bianmin_core::{Money, Rate};
use bianmin_crypto::sm3_digest;
use bianmin_gateway::{BatchItem, FetchError};
use bianmin_govsim::records::court::CourtCases;
use bianmin_govsim::records::credit::CreditReportRecord;
use bianmin_govsim::records::enterprise::Distributors;
use bianmin_govsim::records::identity::{IdentityVerification, VerifyResult};
use bianmin_lending::interest::{DailyRateQuote, DayCount};
use bianmin_lending::ledger::{CreditLine, LineTerms};
use bianmin_lending::supply::{Offer, OwnerCheck, Reason, confirm_owner};
use bianmin_store::{AuditEntry, NewEvent, StoreError, on_pool};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::time::Instant;
use utoipa::ToSchema;
use uuid::Uuid;

use super::enterprise::line_status_text;
use super::line::{LINES, SupplyLineView, line_view, my_line};
use super::{EnterpriseRow, conflict, enterprise, owner, parse_uscc, policy};
use crate::app::AppState;
use crate::auth::Principal;
use crate::http::json::ApiJson;
use crate::http::no_store;
use crate::http::path::ApiPath;
use crate::http::problem::{ApiError, Problem};
use crate::lending::line::ledger_error;
use crate::lending::{ledger_annual_rate, open_json, seal_json};
use crate::signing::SignedBy;

const OFFERS: &str = "scf_offers";
/// Version of the contract template.
pub const CONTRACT_VERSION: &str = "scf-distributor-contract-2026.1";
/// Share of each sales receipt swept to repay, until the owner changes it.
pub const DEFAULT_SWEEP_PERCENT: u32 = 30;

// ---------------------------------------------------------------------------------------------
// What the owner sees
// ---------------------------------------------------------------------------------------------

/// A pre-approved offer as the owner sees it: the APR first (PBoC announcement 2021 No. 3).
#[derive(Debug, Serialize, ToSchema)]
pub struct OfferTerms {
    /// Limit.
    pub limit: String,
    /// APR (IRR, no fees), e.g. `5.48%`.
    pub apr_text: String,
    /// Daily rate, e.g. `万分之1.5`.
    pub daily_rate_text: String,
    /// Daily rate as a decimal.
    pub daily_rate: String,
    /// Grade.
    pub grade: String,
    /// Term in months.
    pub term_months: u32,
    /// Open until.
    pub expires_on: NaiveDate,
    /// The contract to accept.
    pub contract: ContractText,
}

/// The contract as shown; its SM3 is what an acceptance confirms.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContractText {
    /// Template version.
    pub version: &'static str,
    /// Full text.
    pub text: String,
    /// SM3 of the text (UTF-8), hex.
    pub sm3: String,
}

/// One distributor the owner owns.
#[derive(Debug, Serialize, ToSchema)]
pub struct MyDistributor {
    /// 统一社会信用代码.
    pub uscc: String,
    /// Name.
    pub name: String,
    /// City.
    pub city: String,
    /// The core enterprise.
    pub enterprise: String,
    /// Months with it.
    pub tenure_months: i64,
    /// `offered`, `declined`, `refused` (declined at acceptance), `line` or `none` (not yet
    /// assessed).
    pub stage: &'static str,
    /// The open offer.
    pub offer: Option<OfferTerms>,
    /// Why it was declined.
    pub reasons: Vec<String>,
    /// The line, once opened.
    pub line: Option<super::enterprise::LineSummary>,
}

/// `GET /api/v1/me/supply`.
#[derive(Debug, Serialize, ToSchema)]
pub struct MySupply {
    /// The distributors the owner owns, as A集团 confirms through the exchange.
    pub distributors: Vec<MyDistributor>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct OwnedRow {
    distributor_id: Uuid,
    enterprise_id: Uuid,
    uscc: String,
    name: String,
    city: String,
    tenure_months: i64,
    outcome: Option<String>,
    limit_fen: Option<i64>,
    daily_rate: Option<String>,
    grade: Option<String>,
    points: Option<i64>,
    reasons: Option<String>,
    features: Option<String>,
    offer_state: Option<String>,
    expires_on: Option<NaiveDate>,
    refused_person_id: Option<Uuid>,
    line_id: Option<Uuid>,
    owner_person_id: Option<Uuid>,
    line_limit_fen: Option<i64>,
    principal_fen: Option<i64>,
    line_status: Option<String>,
    status_reason: Option<String>,
}

const OWNED_SELECT: &str = "SELECT d.id AS distributor_id, d.enterprise_id, d.uscc, d.name, \
     d.city, CAST(d.tenure_months AS BIGINT) AS tenure_months, o.outcome, o.limit_fen, \
     o.daily_rate, o.grade, CAST(o.points AS BIGINT) AS points, o.reasons, o.features, \
     o.state AS offer_state, o.expires_on, o.refused_person_id, l.id AS line_id, \
     l.owner_person_id, l.limit_fen AS line_limit_fen, l.principal_fen, l.status AS line_status, \
     l.status_reason FROM scf_distributors d LEFT JOIN scf_offers o ON o.distributor_id = d.id \
     LEFT JOIN scf_lines l ON l.distributor_id = d.id";

async fn owned_row(state: &AppState, uscc: &str) -> Result<Option<OwnedRow>, ApiError> {
    let sql =
        format!("{OWNED_SELECT} WHERE d.uscc = $1 ORDER BY d.synced_at DESC, d.id DESC LIMIT 1");
    Ok(on_pool!(state.store(), pool => {
        sqlx::query_as::<_, OwnedRow>(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(uscc)
            .fetch_optional(pool)
            .await
            .map_err(StoreError::from)?
    }))
}

/// The credit codes of the distributors `person` owns, from A集团 under their consent.
async fn owned_usccs(
    state: &AppState,
    person: Uuid,
    one: Option<&str>,
) -> Result<Vec<String>, ApiError> {
    let gateway = state
        .gateway()
        .ok_or_else(ApiError::exchange_not_configured)?;
    let body = match one {
        Some(uscc) => json!({ "uscc": uscc }),
        None => json!({ "page_size": 200 }),
    };
    match gateway
        .fetch::<Distributors>(
            person,
            Purpose::ScfDistributor,
            "enterprise.distributors",
            body,
        )
        .await
    {
        Ok(fetched) => Ok(fetched
            .value
            .distributors
            .into_iter()
            .map(|d| d.uscc)
            .collect()),
        Err(FetchError::Exchange(e)) if e.code() == "exchange.not_found" => Ok(Vec::new()),
        Err(e) => Err(e.into()),
    }
}

/// `GET /api/v1/me/supply`: the distributors the owner owns (A集团 confirms which, under the
/// owner's consent), with their offers and lines.
#[utoipa::path(get, path = "/api/v1/me/supply", tag = "supply",
    responses((status = 200, body = MySupply), (status = 403, body = Problem)))]
pub async fn mine(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Response, ApiError> {
    let person = owner(&principal)?;
    let usccs = owned_usccs(&state, person, None).await?;
    let mut distributors = Vec::new();
    for uscc in usccs {
        let Some(row) = owned_row(&state, &uscc).await? else {
            continue;
        };
        let enterprise = enterprise(&state, row.enterprise_id).await?;
        distributors.push(my_distributor(&enterprise, row, person)?);
    }
    Ok(no_store(MySupply { distributors }))
}

fn my_distributor(
    enterprise: &EnterpriseRow,
    row: OwnedRow,
    person: Uuid,
) -> Result<MyDistributor, ApiError> {
    let reasons: Vec<Reason> = row
        .reasons
        .as_deref()
        .and_then(|json| serde_json::from_str(json).ok())
        .unwrap_or_default();
    let offer = offer_of(&row)?;
    let stage = match (
        &row.line_status,
        row.outcome.as_deref(),
        row.offer_state.as_deref(),
    ) {
        (Some(_), _, _) => "line",
        (None, Some("offered"), Some("refused")) if row.refused_person_id == Some(person) => {
            "refused"
        }
        (None, Some("offered"), Some("open")) => "offered",
        (None, Some("declined"), _) => "declined",
        _ => "none",
    };
    let mine = row.owner_person_id == Some(person);
    Ok(MyDistributor {
        uscc: row.uscc.clone(),
        name: row.name.clone(),
        city: row.city.clone(),
        enterprise: enterprise.name.clone(),
        tenure_months: row.tenure_months,
        stage,
        offer: if stage == "offered" {
            offer
                .map(|(offer, expires_on)| terms_of(enterprise, &row, &offer, expires_on))
                .transpose()?
        } else {
            None
        },
        reasons: if stage == "declined" {
            reasons.into_iter().map(|r| r.text).collect()
        } else {
            Vec::new()
        },
        line: match (&row.line_status, mine) {
            (Some(status), true) => Some(super::enterprise::LineSummary {
                limit: Money::from_fen(row.line_limit_fen.unwrap_or(0)).to_string(),
                outstanding: Money::from_fen(row.principal_fen.unwrap_or(0)).to_string(),
                status: status.clone(),
                status_text: line_status_text(status).to_owned(),
                status_reason: row.status_reason.clone(),
            }),
            _ => None,
        },
    })
}

/// The open offer of a row, with its expiry.
fn offer_of(row: &OwnedRow) -> Result<Option<(Offer, NaiveDate)>, ApiError> {
    match (
        row.outcome.as_deref(),
        row.limit_fen,
        &row.daily_rate,
        &row.grade,
        row.expires_on,
    ) {
        (Some("offered"), Some(limit), Some(daily), Some(grade), Some(expires_on)) => Ok(Some((
            Offer {
                limit: Money::from_fen(limit),
                daily_rate: Rate::parse(daily).map_err(ApiError::internal)?,
                grade: grade.clone(),
                points: i32::try_from(row.points.unwrap_or(0)).unwrap_or(0),
                term_months: 12,
            },
            expires_on,
        ))),
        _ => Ok(None),
    }
}

fn terms_of(
    enterprise: &EnterpriseRow,
    row: &OwnedRow,
    offer: &Offer,
    expires_on: NaiveDate,
) -> Result<OfferTerms, ApiError> {
    let quote = DailyRateQuote::from_daily(offer.daily_rate, DayCount::Act365)
        .map_err(ApiError::internal)?;
    let text = contract_text(enterprise, row, offer, &quote);
    Ok(OfferTerms {
        limit: offer.limit.to_string(),
        apr_text: quote.annual.to_percent_string(2),
        daily_rate_text: quote.per_ten_thousand(),
        daily_rate: offer.daily_rate.to_string(),
        grade: offer.grade.clone(),
        term_months: offer.term_months,
        expires_on,
        contract: ContractText {
            version: CONTRACT_VERSION,
            sm3: hex::encode(sm3_digest(text.as_bytes())),
            text,
        },
    })
}

/// The contract of an offer: everything the distributor agrees to, in Chinese.
fn contract_text(
    enterprise: &EnterpriseRow,
    row: &OwnedRow,
    offer: &Offer,
    quote: &DailyRateQuote,
) -> String {
    format!(
        "供应链融资（经销商订货贷）额度合同\n\
         合同版本：{CONTRACT_VERSION}\n\
         借款人：{name}（统一社会信用代码 {uscc}）\n\
         核心企业：{enterprise}\n\
         一、授信额度：人民币 {limit} 元，循环使用，期限 {term} 个月，随借随还。\n\
         二、利率：日利率 {daily}，按实际用款天数计息，每日利息 = 借款本金 × 日利率；折合年化利率（单利，按日利率 × 365 计，IRR 口径，无任何其他费用）{apr}。逾期部分按合同利率上浮 50% 计收罚息。\n\
         三、资金用途：仅限向{enterprise}支付订货款。每笔用款由贷款人以受托支付方式直接划付至{enterprise}的收款账户，不划入借款人账户。\n\
         四、还款：借款人可随时通过结算账户提前归还全部或部分借款，不收取提前还款费用；借款人同意贷款人按约定比例（默认 {sweep}%，可随时调整）从其结算账户收到的每笔销售回款中自动扣收应还款项。\n\
         五、贷后管理：贷款人依据{enterprise}按数据共享协议提供的订货、退货、回款数据持续监测；出现订货下滑、退货上升、回款逾期等预警信号时，贷款人可调减或冻结未使用额度，并在借款人手机端告知原因。已用款项按原合同继续计息还款。\n\
         六、借款人授权贷款人查询其法定代表人（实际控制人）的个人信用报告及涉诉信息，仅用于本次授信审批。\n\
         七、本合同经借款人在手机银行以数字证书（SM2）签名确认后生效。",
        name = row.name,
        uscc = row.uscc,
        enterprise = enterprise.name,
        limit = offer.limit,
        term = offer.term_months,
        apr = quote.annual.to_percent_string(2),
        daily = quote.per_ten_thousand(),
        sweep = DEFAULT_SWEEP_PERCENT,
    )
}

// ---------------------------------------------------------------------------------------------
// Accepting an offer
// ---------------------------------------------------------------------------------------------

/// Body of an acceptance.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Accept {
    /// SM3 of the contract text shown (hex): the acceptance is of that text.
    pub contract_sm3: String,
}

/// One step of the acceptance as the owner sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Step {
    /// `ownership`, `identity`, `credit`, `court`, `decision` or `line`.
    pub step: &'static str,
    /// Chinese label.
    pub label: &'static str,
    /// `done` or `failed`.
    pub state: &'static str,
    /// What happened (no personal data beyond the owner's own outcome).
    pub detail: String,
    /// Milliseconds the step took.
    pub ms: u64,
}

/// What an acceptance answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct AcceptResult {
    /// `opened` or `declined`.
    pub outcome: &'static str,
    /// Each step.
    pub steps: Vec<Step>,
    /// Why declined.
    pub reasons: Vec<String>,
    /// The line, when opened.
    pub line: Option<SupplyLineView>,
    /// Milliseconds from request to decision.
    pub decision_ms: u64,
}

struct Steps {
    list: Vec<Step>,
    since: Instant,
}

impl Steps {
    fn new() -> Self {
        Self {
            list: Vec::new(),
            since: Instant::now(),
        }
    }

    fn push(
        &mut self,
        step: &'static str,
        label: &'static str,
        ok: bool,
        detail: impl Into<String>,
    ) {
        let ms = u64::try_from(self.since.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.list.push(Step {
            step,
            label,
            state: if ok { "done" } else { "failed" },
            detail: detail.into(),
            ms,
        });
        self.since = Instant::now();
    }

    /// Records steps that ran at the same time, each with the time they took together.
    fn push_parallel(&mut self, done: &[(&'static str, &'static str, &'static str)]) {
        let ms = u64::try_from(self.since.elapsed().as_millis()).unwrap_or(u64::MAX);
        for &(step, label, detail) in done {
            self.list.push(Step {
                step,
                label,
                state: "done",
                detail: detail.to_owned(),
                ms,
            });
        }
        self.since = Instant::now();
    }
}

/// `POST /api/v1/me/supply/{uscc}/accept`: accepts the distributor's pre-approved offer in
/// one step — ownership confirmed by A集团, the real-name check, the owner's credit report and
/// court records through the exchange, the owner check, and the line opened. Accepting again
/// answers the line.
#[utoipa::path(post, path = "/api/v1/me/supply/{uscc}/accept", tag = "supply",
    params(("uscc" = String, Path, description = "统一社会信用代码")),
    request_body = Accept,
    responses((status = 201, body = AcceptResult), (status = 200, body = AcceptResult),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn accept(
    State(state): State<AppState>,
    principal: Principal,
    signed: Option<axum::Extension<SignedBy>>,
    ApiPath(uscc): ApiPath<String>,
    ApiJson(body): ApiJson<Accept>,
) -> Result<Response, ApiError> {
    let person = owner(&principal)?;
    let uscc = parse_uscc(&uscc)?;
    let started = Instant::now();
    let row = owned_row(&state, uscc.as_str())
        .await?
        .ok_or_else(|| ApiError::not_found("本行尚未对该经销商开展预授信。"))?;
    if let Some(line) = row.line_id {
        if row.owner_person_id != Some(person) {
            return Err(conflict("supply.line_exists", "该经销商已开通额度。"));
        }
        let view = line_view(&state, line).await?;
        return Ok(no_store(AcceptResult {
            outcome: "opened",
            steps: Vec::new(),
            reasons: Vec::new(),
            line: Some(view),
            decision_ms: 0,
        }));
    }
    let enterprise = enterprise(&state, row.enterprise_id).await?;
    let Some((offer, expires_on)) = offer_of(&row)? else {
        return Err(ApiError::not_found("该经销商暂无可接受的预授信额度。"));
    };
    if row.offer_state.as_deref() != Some("open") {
        return Err(conflict(
            "supply.offer_closed",
            "该预授信额度已处理，请刷新后查看。",
        ));
    }
    if expires_on < state.clock().today_china() {
        return Err(conflict(
            "supply.offer_expired",
            "该预授信额度已过期，请等待银行重新评估。",
        ));
    }
    let terms = terms_of(&enterprise, &row, &offer, expires_on)?;
    if !body.contract_sm3.eq_ignore_ascii_case(&terms.contract.sm3) {
        return Err(conflict(
            "supply.contract_changed",
            "合同内容已更新，请重新阅读后确认。",
        ));
    }

    let mut steps = Steps::new();
    // Ownership: A集团 says whether this person owns the distributor (under their consent).
    let owned = owned_usccs(&state, person, Some(uscc.as_str())).await?;
    if !owned.iter().any(|u| u == uscc.as_str()) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "supply.not_owner",
            "核心企业登记的经销商负责人不是您，不能代为接受额度。",
        ));
    }
    steps.push(
        "ownership",
        "核验经营主体",
        true,
        format!(
            "营业执照校验通过，{}确认您为该经销商负责人",
            enterprise.name
        ),
    );

    let gateway = state
        .gateway()
        .ok_or_else(ApiError::exchange_not_configured)?;
    let revealed = state.vault().subject_person(person).await?;
    let identity_body = json!({
        "name": revealed.name,
        "phone": revealed.phone.as_ref().map(|p| p.as_str().to_owned()),
    });
    drop(revealed);
    let item = |purpose, code, body| BatchItem {
        purpose,
        code,
        body,
    };
    let batch = gateway
        .authorize_batch(
            person,
            vec![
                item(Purpose::ScfDistributor, "identity.verify", identity_body),
                item(Purpose::LoanCreditReport, "credit.report", json!({})),
                item(Purpose::ScfDistributor, "court.cases", json!({})),
            ],
        )
        .await?;
    let (identity, credit, court) = tokio::join!(
        gateway.send_authorized::<IdentityVerification>(&batch, 0),
        gateway.send_authorized::<CreditReportRecord>(&batch, 1),
        gateway.send_authorized::<CourtCases>(&batch, 2),
    );
    let identity = identity?.value;
    let birth_date = match (identity.result, identity.birth_date) {
        (VerifyResult::Match, Some(birth_date)) => birth_date,
        _ => {
            return Err(ApiError::invalid(
                "supply.identity_mismatch",
                "实名核验未通过：您的身份信息与公安登记不一致，请到柜台核实。",
            ));
        }
    };
    let credit = credit?.value;
    let court = court?.value;
    // The three went out together: each shows the time the three took.
    steps.push_parallel(&[
        ("identity", "实名核验", "身份信息一致"),
        ("credit", "查询征信", "已获取本人信用报告"),
        ("court", "查询司法信息", "已获取涉诉与执行信息"),
    ]);

    let today = state.clock().today_china();
    let check = confirm_owner(&offer, birth_date, &credit, &court, today, policy()?);
    let now = state.clock().now();
    match check {
        OwnerCheck::Declined(reasons) => {
            steps.push("decision", "额度确认", false, "未通过负责人资信核查");
            let sealed = seal_json(
                &state,
                person,
                OFFERS,
                "refusal_enc",
                row.distributor_id,
                &reasons,
            )
            .await?;
            let mut tx = state.store().begin_write().await?;
            bianmin_store::on_tx!(&mut tx, conn => {
                sqlx::query(
                    "UPDATE scf_offers SET state = 'refused', refused_person_id = $1, \
                     refusal_enc = $2, updated_at = $3 WHERE distributor_id = $4 AND state = 'open'",
                )
                .bind(person)
                .bind(&sealed)
                .bind(now)
                .bind(row.distributor_id)
                .execute(conn)
                .await
                .map_err(StoreError::from)?
                .rows_affected()
            });
            tx.append_audit(
                state.keyring().audit_key(),
                &AuditEntry {
                    actor: principal.audit_actor(),
                    action: "supply.offer.refused".into(),
                    target: format!("scf_distributor:{}", row.distributor_id),
                    purpose: Some("供应链融资额度确认".into()),
                    details: json!({ "codes": reasons.iter().map(|r| &r.code).collect::<Vec<_>>() }),
                    occurred_at: now,
                },
            )
            .await?;
            tx.commit().await?;
            Ok(no_store(AcceptResult {
                outcome: "declined",
                steps: steps.list,
                reasons: reasons.into_iter().map(|r| r.text).collect(),
                line: None,
                decision_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            }))
        }
        OwnerCheck::Confirmed { limit, notes } => {
            let detail = if limit < offer.limit {
                format!(
                    "额度确认为 {limit} 元（{}）",
                    notes
                        .iter()
                        .map(|n| n.text.as_str())
                        .collect::<Vec<_>>()
                        .join("；")
                )
            } else {
                format!("额度确认为 {limit} 元")
            };
            steps.push("decision", "额度确认", true, detail);
            let line_id = open_line(
                &state,
                &principal,
                person,
                &row,
                &offer,
                limit,
                &terms.contract,
                &OwnerCheckRecord {
                    limit,
                    notes: notes.clone(),
                    checked_on: today,
                },
                signed.map(|s| s.device_id),
            )
            .await?;
            steps.push(
                "line",
                "开通额度",
                true,
                "额度已开通，可用于向核心企业支付订货款",
            );
            let view = line_view(&state, line_id).await?;
            Ok((
                StatusCode::CREATED,
                no_store(AcceptResult {
                    outcome: "opened",
                    steps: steps.list,
                    reasons: Vec::new(),
                    line: Some(view),
                    decision_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                }),
            )
                .into_response())
        }
    }
}

/// What the owner check found, sealed with the line.
#[derive(Debug, Serialize, Deserialize)]
struct OwnerCheckRecord {
    limit: Money,
    notes: Vec<Reason>,
    checked_on: NaiveDate,
}

/// Opens the line of an accepted offer, in one transaction with the contract, the settlement
/// account, the offer's state, the audit entry and the event.
#[allow(clippy::too_many_arguments)]
async fn open_line(
    state: &AppState,
    principal: &Principal,
    person: Uuid,
    row: &OwnedRow,
    offer: &Offer,
    limit: Money,
    contract: &ContractText,
    check: &OwnerCheckRecord,
    device: Option<Uuid>,
) -> Result<Uuid, ApiError> {
    let now = state.clock().now();
    let today = state.clock().today_china();
    let id = Uuid::now_v7();
    let annual = ledger_annual_rate(offer.daily_rate)?;
    let line = CreditLine::open(LineTerms::new(limit, annual), today).map_err(ledger_error)?;
    let json_state = serde_json::to_string(&line).map_err(ApiError::internal)?;
    let contract_enc = seal_json(state, person, LINES, "contract_enc", id, &contract.text).await?;
    let check_enc = seal_json(state, person, LINES, "owner_check_enc", id, check).await?;
    let baseline = row
        .features
        .clone()
        .ok_or_else(|| ApiError::internal("offer without its features"))?;
    let mut tx = state.store().begin_write().await?;
    let inserted = bianmin_store::on_tx!(&mut tx, conn => {
        sqlx::query(
            "INSERT INTO scf_lines (id, distributor_id, owner_person_id, limit_fen, status, \
             status_reason, principal_fen, sweep_percent, baseline, contract_enc, contract_sm3, \
             owner_check_enc, accepted_device, opened_on, expires_on, accrued_through, \
             state_json, version, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 'active', NULL, 0, $5, $6, $7, $8, $9, $10, $11, $12, $11, \
             $13, 0, $14, $14) ON CONFLICT (distributor_id) DO NOTHING",
        )
        .bind(id)
        .bind(row.distributor_id)
        .bind(person)
        .bind(limit.fen())
        .bind(i32::try_from(DEFAULT_SWEEP_PERCENT).unwrap_or(30))
        .bind(&baseline)
        .bind(&contract_enc)
        .bind(&contract.sm3)
        .bind(&check_enc)
        .bind(device)
        .bind(today)
        .bind(line.expires_on())
        .bind(&json_state)
        .bind(now)
        .execute(&mut *conn)
        .await
        .map_err(StoreError::from)?
        .rows_affected()
    });
    if inserted == 0 {
        return Err(conflict("supply.line_exists", "该经销商已开通额度。"));
    }
    bianmin_store::on_tx!(&mut tx, conn => {
        sqlx::query(
            "UPDATE scf_offers SET state = 'accepted', updated_at = $1 WHERE distributor_id = $2",
        )
        .bind(now)
        .bind(row.distributor_id)
        .execute(&mut *conn)
        .await
        .map_err(StoreError::from)?;
        sqlx::query(
            "INSERT INTO scf_accounts (distributor_id, balance_fen, updated_at) VALUES ($1, 0, $2) \
             ON CONFLICT (distributor_id) DO NOTHING",
        )
        .bind(row.distributor_id)
        .bind(now)
        .execute(conn)
        .await
        .map_err(StoreError::from)?
        .rows_affected()
    });
    tx.append_audit(
        state.keyring().audit_key(),
        &AuditEntry {
            actor: principal.audit_actor(),
            action: "supply.line.open".into(),
            target: format!("scf_line:{id}"),
            purpose: Some("供应链融资额度开通".into()),
            details: json!({
                "distributor": row.distributor_id, "limit_fen": limit.fen(),
                "offered_fen": offer.limit.fen(), "contract_sm3": contract.sm3,
                "device": device,
            }),
            occurred_at: now,
        },
    )
    .await?;
    tx.append_event(&NewEvent::new(
        "supply.line_opened",
        "scf_line",
        id.to_string(),
        json!({ "enterprise": row.enterprise_id, "grade": offer.grade }),
        now,
    ))
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// The contract as accepted.
#[derive(Debug, Serialize, ToSchema)]
pub struct AcceptedContract {
    /// Template version.
    pub version: &'static str,
    /// Full text, as accepted.
    pub text: String,
    /// Its SM3, hex.
    pub sm3: String,
    /// The device whose signed request accepted it.
    pub device_id: Option<Uuid>,
    /// Accepted.
    pub accepted_at: DateTime<Utc>,
}

/// `GET /api/v1/me/supply/{uscc}/contract`: the contract as the owner accepted it.
#[utoipa::path(get, path = "/api/v1/me/supply/{uscc}/contract", tag = "supply",
    params(("uscc" = String, Path, description = "统一社会信用代码")),
    responses((status = 200, body = AcceptedContract), (status = 404, body = Problem)))]
pub async fn contract(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(uscc): ApiPath<String>,
) -> Result<Response, ApiError> {
    let person = owner(&principal)?;
    let uscc = parse_uscc(&uscc)?;
    let row = my_line(&state, person, uscc.as_str()).await?;
    let (sealed, sm3, device_id, accepted_at): (Vec<u8>, String, Option<Uuid>, DateTime<Utc>) = on_pool!(state.store(), pool => {
        sqlx::query_as(
            "SELECT contract_enc, contract_sm3, accepted_device, created_at FROM scf_lines \
             WHERE id = $1",
        )
        .bind(row.id)
        .fetch_one(pool)
        .await
        .map_err(StoreError::from)?
    });
    let text: String = open_json(&state, person, LINES, "contract_enc", row.id, &sealed).await?;
    Ok(no_store(AcceptedContract {
        version: CONTRACT_VERSION,
        text,
        sm3,
        device_id,
        accepted_at,
    }))
}
