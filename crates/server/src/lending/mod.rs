//! 闪电贷 Lightning Loan over HTTP: the application journey (amount and purpose, two consents,
//! the real-name check and every agency fetched in parallel through the gateway, the pure
//! decision of `bianmin_lending::decision`), the timeline streamed over SSE, human review of
//! an automated decline (PIPL art. 24) in the bank console, the contract signed with the
//! applicant's device key, and the revolving line (draws into and repayments from the bank
//! account, idempotent, on a double-entry ledger).
//!
//! Layout: [`application`] (apply, submit, decide, timeline), [`contract`] (render, sign, open
//! the line), [`line`] (draws, repayments, accrual), [`review`] (the console's queue).

pub mod application;
pub mod contract;
pub mod line;
pub mod review;

use std::sync::Arc;

use axum::http::StatusCode;
use bianmin_core::{Money, Rate};
use bianmin_crypto::FieldAad;
use bianmin_lending::crosscheck::CrosscheckRules;
use bianmin_lending::decision::{Decision, DecisionContext, Pricing};
use bianmin_lending::interest::{DailyRateQuote, DayCount};
use bianmin_lending::policy::CreditPolicy;
use bianmin_lending::scorecard::Scorecard;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::app::AppState;
use crate::auth::{Principal, Role};
use crate::http::problem::ApiError;

/// Table of applications (sealed columns are bound to it).
pub(crate) const APPLICATIONS: &str = "loan_applications";

/// The smallest line one may apply for.
pub const MIN_AMOUNT: Money = Money::from_fen(100_000);
/// The largest (the regulatory cap for online consumer credit per person).
pub const MAX_AMOUNT: Money = Money::from_fen(20_000_000);

/// Purposes a 闪电贷 line may be used for (consumer purposes only).
pub const PURPOSES: &[(&str, &str)] = &[
    ("daily_consumption", "日常消费"),
    ("home_appliances", "家电数码"),
    ("home_renovation", "家居装修"),
    ("education", "教育培训"),
    ("travel", "旅游出行"),
    ("medical", "医疗健康"),
    ("wedding", "婚庆"),
];

/// Purposes the law forbids for consumer credit; asked for, they are refused by name.
pub const FORBIDDEN_PURPOSES: &[(&str, &str)] = &[
    ("house_purchase", "购房"),
    ("down_payment", "支付购房首付"),
    ("securities", "证券投资"),
    ("futures", "期货及金融衍生品"),
    ("equity", "股权投资"),
    ("wealth_products", "购买理财产品"),
];

/// The label of a permitted purpose.
pub fn purpose_label(code: &str) -> Option<&'static str> {
    PURPOSES
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, label)| *label)
}

/// One step of the process as the applicant sees it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TimelineEntry {
    /// Order within the application, from 1.
    pub seq: i64,
    /// `application`, `consent`, `identity`, `data`, `crosscheck`, `policy`, `score`,
    /// `decision`, `review`, `contract` or `line`.
    pub step: String,
    /// Chinese label of the step.
    pub label: String,
    /// `running`, `done` or `failed`.
    pub state: String,
    /// When it reached this state.
    pub at: chrono::DateTime<chrono::Utc>,
    /// What happened (never personal data beyond the applicant's own amounts).
    pub detail: Option<String>,
}

/// A timeline update for the SSE stream.
#[derive(Debug, Clone)]
pub enum Broadcast {
    /// A step changed.
    Step(Uuid, TimelineEntry),
    /// The application reached a state the stream ends on.
    Finished(Uuid),
}

/// Everything the journey needs that does not change while the server runs.
pub struct Lending {
    policy: &'static CreditPolicy,
    scorecard: &'static Scorecard,
    rules: CrosscheckRules,
    pricing: Pricing,
    updates: broadcast::Sender<Broadcast>,
}

impl std::fmt::Debug for Lending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lending")
            .field("policy", &self.policy.version())
            .field("model", &self.scorecard.version)
            .field("pricing", &self.pricing.version)
            .finish_non_exhaustive()
    }
}

impl Lending {
    /// The shipped policy, scorecard, cross-check rules and pricing.
    ///
    /// # Errors
    ///
    /// If an embedded artefact does not parse (a build defect, caught by the tests).
    pub fn embedded() -> anyhow::Result<Arc<Lending>> {
        let (updates, _) = broadcast::channel(1024);
        Ok(Arc::new(Lending {
            policy: CreditPolicy::embedded()?,
            scorecard: Scorecard::embedded()?,
            rules: CrosscheckRules::default(),
            pricing: Pricing::illustrative(),
            updates,
        }))
    }

    /// The decision context.
    pub fn context(&self) -> DecisionContext<'_> {
        DecisionContext {
            policy: self.policy,
            scorecard: self.scorecard,
            crosscheck_rules: &self.rules,
            pricing: self.pricing.clone(),
        }
    }

    /// The pricing in force.
    pub fn pricing(&self) -> &Pricing {
        &self.pricing
    }

    /// The APR range of the pricing bands.
    pub fn apr_range(&self) -> (Rate, Rate) {
        let aprs: Vec<Rate> = self
            .pricing
            .bands
            .iter()
            .filter_map(|band| {
                DailyRateQuote::from_daily(band.daily_rate, DayCount::Act365)
                    .ok()
                    .map(|q| q.annual)
            })
            .collect();
        let min = aprs.iter().copied().min().unwrap_or(Rate::ZERO);
        let max = aprs.iter().copied().max().unwrap_or(Rate::ZERO);
        (min, max)
    }

    /// Subscribes to timeline updates.
    pub fn subscribe(&self) -> broadcast::Receiver<Broadcast> {
        self.updates.subscribe()
    }

    /// Publishes a timeline update (nobody listening is fine).
    pub fn publish(&self, update: Broadcast) {
        let _ = self.updates.send(update);
    }
}

/// The offer as shown: the APR first and largest (PBoC announcement 2021 No. 3).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OfferView {
    /// The line.
    pub limit: String,
    /// The annualised rate (IRR method, every fee included; there are no fees).
    pub apr: String,
    /// The APR as a percentage, e.g. `18.25%`.
    pub apr_text: String,
    /// The daily rate.
    pub daily_rate: String,
    /// The daily rate in ten-thousandths, e.g. `万分之5`.
    pub daily_rate_text: String,
    /// Term of the line in months (re-approved yearly).
    pub term_months: u32,
    /// How days are counted for interest.
    pub day_count: String,
    /// How the line is repaid.
    pub repayment: String,
}

impl OfferView {
    /// The offer of a line of `limit` at `daily` a day.
    pub fn new(limit: Money, daily: Rate, term_months: u32) -> Result<OfferView, ApiError> {
        let quote =
            DailyRateQuote::from_daily(daily, DayCount::Act365).map_err(ApiError::internal)?;
        Ok(OfferView {
            limit: limit.to_string(),
            apr: quote.annual.to_string(),
            apr_text: quote.annual.to_percent_string(2),
            daily_rate: daily.to_string(),
            daily_rate_text: quote.per_ten_thousand(),
            term_months,
            day_count: "ACT/360".to_owned(),
            repayment: "随借随还，按日计息".to_owned(),
        })
    }
}

/// The daily rate charged on a line whose APR quote is `daily`: interest per day is
/// `principal × daily`, so with ACT/360 the nominal annual rate of the ledger is `daily × 360`.
pub fn ledger_annual_rate(daily: Rate) -> Result<Rate, ApiError> {
    DailyRateQuote::from_daily(daily, DayCount::Act360)
        .map(|q| q.annual)
        .map_err(ApiError::internal)
}

/// The signed-in citizen's person id.
pub(crate) fn citizen(principal: &Principal) -> Result<Uuid, ApiError> {
    principal.require(&[Role::Citizen])?;
    principal
        .person_id
        .ok_or_else(|| ApiError::not_found("尚未完成实名信息登记。"))
}

/// Seals `value` as JSON for `person` in `column` of row `row` of `table`.
pub(crate) async fn seal_json<T: Serialize>(
    state: &AppState,
    person: Uuid,
    table: &str,
    column: &str,
    row: Uuid,
    value: &T,
) -> Result<Vec<u8>, ApiError> {
    let json = serde_json::to_vec(value).map_err(ApiError::internal)?;
    Ok(state
        .vault()
        .seal_for(person, &FieldAad::new(table, column, row.as_bytes()), &json)
        .await?)
}

/// Opens what [`seal_json`] sealed.
pub(crate) async fn open_json<T: serde::de::DeserializeOwned>(
    state: &AppState,
    person: Uuid,
    table: &str,
    column: &str,
    row: Uuid,
    sealed: &[u8],
) -> Result<T, ApiError> {
    let clear = state
        .vault()
        .open_for(
            person,
            &FieldAad::new(table, column, row.as_bytes()),
            sealed,
        )
        .await?;
    serde_json::from_slice(&clear).map_err(ApiError::internal)
}

/// The decision of an application, opened.
pub(crate) async fn open_decision(
    state: &AppState,
    person: Uuid,
    application: Uuid,
    sealed: &[u8],
) -> Result<Decision, ApiError> {
    open_json(
        state,
        person,
        APPLICATIONS,
        "decision_enc",
        application,
        sealed,
    )
    .await
}

/// A 409 with `code`.
pub(crate) fn conflict(code: &'static str, detail: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, code, detail)
}
