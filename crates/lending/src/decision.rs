//! The credit decision: one pure function, [`decide`], from an application and the agencies'
//! answers to an approval or a decline, and a [`Decision`] record that can be replayed.
//!
//! # Steps
//!
//! 1. [`crate::features::from_records`] on [`Application::applied_on`];
//! 2. [`crate::crosscheck::crosscheck`] of the answers (flags and the conservative monthly
//!    income, [`crate::crosscheck::IncomeEstimate::monthly`]);
//! 3. [`Scorecard::score`]: points, PD and reasons;
//! 4. the price of the applicant's score band ([`Pricing::band_for`]): a daily rate, quoted
//!    with its annual rate by [`DailyRateQuote::from_daily`] under ACT/365. There are no fees,
//!    so the APR (年化利率) is the nominal annual rate `daily × 365`, the figure
//!    [`crate::interest::apr_irr`] annualises a one-day draw to;
//! 5. [`CreditPolicy::evaluate`] of a [`PolicyInput`] carrying that APR;
//! 6. the limit and the outcome (below).
//!
//! # Limit
//!
//! `limit = min(policy max_limit, monthly income × band multiple)`, rounded **down** to a
//! multiple of 100 yuan. Without a verified income the limit is zero. All of it is integer
//! fen, except the multiple, which is an exact [`Decimal`] applied once and cut to the fen.
//!
//! # Outcome
//!
//! [`Outcome::Approved`] when **all** of these hold, [`Outcome::Declined`] otherwise:
//!
//! * every policy rule passed;
//! * points ≥ [`Pricing::cutoff`];
//! * no [`Severity::Severe`] cross-check flag;
//! * the limit is at least [`Pricing::min_limit`].
//!
//! A decline lists every reason that applies ([`DeclineReason`]), in this order: failed policy
//! rules (their `reason_zh`), severe cross-check flags, the scorecard's top reasons when the
//! points are below the cut-off, then the limit (`D01_NO_VERIFIED_INCOME`,
//! `D02_LIMIT_BELOW_MINIMUM`).
//!
//! # Replay
//!
//! A [`Decision`] records the versions (model, policy, pricing), the application and the
//! hash of the features; [`Decision::replay`] decides again on the same answers and checks
//! that the record comes out identical. [`decide`] reads no clock and no global state.

use bianmin_core::{Money, MoneyError, Rate, Rounding};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::crosscheck::{CrosscheckRules, Severity, crosscheck};
use crate::features::{AgencyRecords, FeatureError, from_records};
use crate::interest::{DailyRateQuote, DayCount, InterestError};
use crate::policy::{CreditPolicy, PolicyError, PolicyInput, RuleResult};
use crate::scorecard::{Scorecard, inputs_hash};

/// 100 yuan in fen: limits are whole multiples of it.
const LIMIT_STEP_FEN: i64 = 10_000;

/// Term of an approved line in months.
pub const TERM_MONTHS: u32 = 12;

/// What the applicant asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Application {
    /// The line asked for; positive.
    pub requested_amount: Money,
    /// Current online consumer credit limits at this bank (granted, not drawn); not negative.
    pub existing_online_credit: Money,
    /// The application date: features, cross-check and policy are evaluated on it.
    pub applied_on: NaiveDate,
}

/// One score band of [`Pricing`]: the price and income multiple from `min_points` up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceBand {
    /// Lowest points (included) of the band.
    pub min_points: i32,
    /// Daily interest rate offered, e.g. `0.0002` (0.02 %, 万分之二).
    pub daily_rate: Rate,
    /// The limit is at most this many times the verified monthly income (e.g. `3`, `1.5`).
    pub income_multiple: Decimal,
}

/// Risk-based pricing and the limit rule: score bands, a cut-off and a minimum line.
///
/// [`Pricing::illustrative`] is an example, **not** an approved pricing policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pricing {
    /// Identifies this pricing in every [`Decision`].
    pub version: String,
    /// Bands, highest `min_points` first (strictly decreasing). A score takes the first band
    /// whose `min_points` it reaches; a score below every band takes the last one.
    pub bands: Vec<PriceBand>,
    /// Points below this are declined.
    pub cutoff: i32,
    /// Limits below this are declined.
    pub min_limit: Money,
}

impl Pricing {
    /// The illustrative pricing (`"shandiandai-pricing-demo-1"`):
    ///
    /// | Points | Daily rate | APR (× 365) | Limit multiple of monthly income |
    /// |---|---|---|---|
    /// | ≥ 680 | 0.02 % (万分之二) | 7.30 % | 3 |
    /// | ≥ 640 | 0.03 % | 10.95 % | 2 |
    /// | ≥ 600 | 0.045 % | 16.425 % | 1.5 |
    /// | below | 0.06 % | 21.90 % | 1 |
    ///
    /// Cut-off 560 points; minimum line 1,000.00 yuan.
    pub fn illustrative() -> Self {
        let band = |min_points, daily_ten_thousandths: i64, scale, multiple: Decimal| PriceBand {
            min_points,
            daily_rate: Rate::from_decimal(Decimal::new(daily_ten_thousandths, scale))
                .unwrap_or(Rate::ZERO),
            income_multiple: multiple,
        };
        Self {
            version: "shandiandai-pricing-demo-1".to_owned(),
            bands: vec![
                band(680, 2, 4, Decimal::from(3)),
                band(640, 3, 4, Decimal::from(2)),
                band(600, 45, 5, Decimal::new(15, 1)),
                band(i32::MIN, 6, 4, Decimal::ONE),
            ],
            cutoff: 560,
            min_limit: Money::from_fen(100_000),
        }
    }

    /// The band for `points`: the first whose `min_points` is reached, else the last;
    /// `None` only without bands.
    pub fn band_for(&self, points: i32) -> Option<&PriceBand> {
        self.bands
            .iter()
            .find(|band| points >= band.min_points)
            .or_else(|| self.bands.last())
    }

    /// Checks the bands are non-empty and strictly decreasing, rates and multiples positive,
    /// and the minimum line positive.
    ///
    /// # Errors
    ///
    /// [`DecisionError::InvalidPricing`] naming the first problem.
    pub fn validate(&self) -> Result<(), DecisionError> {
        let invalid = |message: String| Err(DecisionError::InvalidPricing(message));
        if self.bands.is_empty() {
            return invalid("no bands".to_owned());
        }
        for pair in self.bands.windows(2) {
            if let [higher, lower] = pair
                && lower.min_points >= higher.min_points
            {
                return invalid(format!(
                    "bands not strictly decreasing: {} then {}",
                    higher.min_points, lower.min_points
                ));
            }
        }
        for band in &self.bands {
            if band.daily_rate.as_decimal() <= Decimal::ZERO {
                return invalid(format!("band {}: daily rate not positive", band.min_points));
            }
            if band.income_multiple <= Decimal::ZERO {
                return invalid(format!(
                    "band {}: income multiple not positive",
                    band.min_points
                ));
            }
        }
        if !self.min_limit.is_positive() {
            return invalid("min_limit not positive".to_owned());
        }
        Ok(())
    }
}

/// Everything [`decide`] decides with besides the applicant: versioned rules and the model.
#[derive(Debug, Clone)]
pub struct DecisionContext<'a> {
    /// The credit policy (hard rules, caps, APR ceiling).
    pub policy: &'a CreditPolicy,
    /// The scorecard.
    pub scorecard: &'a Scorecard,
    /// Cross-check thresholds.
    pub crosscheck_rules: &'a CrosscheckRules,
    /// Score bands, cut-off and limit rule.
    pub pricing: Pricing,
}

/// Where a [`DeclineReason`] comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonSource {
    /// A failed policy rule (`P..` codes).
    Policy,
    /// A [`Severity::Severe`] cross-check flag (`X..` codes).
    Crosscheck,
    /// A scorecard reason, given when the points are below the cut-off.
    Scorecard,
    /// The limit rule (`D..` codes).
    Limit,
}

/// One reason for a decline, with a stable code and a Chinese text fit to show the applicant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeclineReason {
    /// Where it comes from.
    pub source: ReasonSource,
    /// Stable code (`P02_DISHONEST`, `X01_INCOME_MISMATCH`, the scorecard's code, `D02_…`).
    pub code: String,
    /// The reason in Chinese.
    pub reason_zh: String,
}

/// The outcome of an application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Outcome {
    /// A line is offered.
    Approved {
        /// The line, a multiple of 100 yuan, at least [`Pricing::min_limit`].
        limit: Money,
        /// The daily rate.
        daily_rate: Rate,
        /// The annualised rate to show (daily × 365; no fees).
        apr: Rate,
        /// Term in months ([`TERM_MONTHS`]).
        term_months: u32,
    },
    /// Nothing is offered.
    Declined {
        /// Every reason that applies, never empty.
        reasons: Vec<DeclineReason>,
    },
}

impl Outcome {
    /// Whether a line is offered.
    pub fn is_approved(&self) -> bool {
        matches!(self, Self::Approved { .. })
    }
}

/// The record of one decision: the outcome and everything needed to explain and replay it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// Approved or declined.
    pub outcome: Outcome,
    /// The application decided.
    pub application: Application,
    /// Scorecard points.
    pub points: i32,
    /// The PD the points imply.
    pub pd_estimate: Decimal,
    /// [`Scorecard::version`] used.
    pub model_version: String,
    /// [`CreditPolicy::version`] used.
    pub policy_version: String,
    /// [`Pricing::version`] used.
    pub pricing_version: String,
    /// [`inputs_hash`] of the features scored.
    pub inputs_hash: String,
    /// Codes of every cross-check flag raised, in order.
    pub flags: Vec<String>,
    /// Every policy rule's result.
    pub policy_results: Vec<RuleResult>,
    /// The verified monthly income the limit was based on; `None` without one.
    pub income: Option<Money>,
    /// The decision date (the application date).
    pub decided_on: NaiveDate,
}

impl Decision {
    /// Whether deciding again on `records` with `context` gives this very record: the same
    /// versions, outcome, points, inputs hash and everything else. `false` if the context's
    /// model, policy or pricing version differs from the recorded one, or if deciding fails.
    pub fn replay(&self, records: &AgencyRecords, context: &DecisionContext<'_>) -> bool {
        if context.scorecard.version != self.model_version
            || context.policy.version() != self.policy_version
            || context.pricing.version != self.pricing_version
        {
            return false;
        }
        decide(&self.application, records, context).is_ok_and(|again| again == *self)
    }
}

/// Why no decision could be made (as opposed to a decline).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecisionError {
    /// The answers cannot be turned into features.
    #[error(transparent)]
    Features(#[from] FeatureError),
    /// The policy refused the input (negative existing credit, non-positive request).
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// The rate could not be quoted.
    #[error(transparent)]
    Interest(#[from] InterestError),
    /// An amount overflowed.
    #[error(transparent)]
    Money(#[from] MoneyError),
    /// The policy is not in force on the application date.
    #[error("policy {version} is not effective on {date}")]
    PolicyNotEffective {
        /// The policy version.
        version: String,
        /// The application date.
        date: NaiveDate,
    },
    /// The pricing is malformed.
    #[error("invalid pricing: {0}")]
    InvalidPricing(String),
}

impl DecisionError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Features(_) => "lending.invalid_features",
            Self::Policy(error) => error.code(),
            Self::Interest(error) => error.code(),
            Self::Money(error) => error.code(),
            Self::PolicyNotEffective { .. } => "lending.policy_not_effective",
            Self::InvalidPricing(_) => "lending.invalid_pricing",
        }
    }
}

/// Decides `application` on the agencies' `records` under `context`; see the
/// [module documentation](self). Pure and deterministic.
///
/// # Errors
///
/// [`DecisionError`] when no decision can be made: invalid pricing, a policy not effective on
/// the application date, answers that do not map to features, invalid amounts.
pub fn decide(
    application: &Application,
    records: &AgencyRecords,
    context: &DecisionContext<'_>,
) -> Result<Decision, DecisionError> {
    let pricing = &context.pricing;
    pricing.validate()?;
    let today = application.applied_on;
    if !context.policy.is_effective_on(today) {
        return Err(DecisionError::PolicyNotEffective {
            version: context.policy.version().to_owned(),
            date: today,
        });
    }

    let features = from_records(records, today)?;
    let check = crosscheck(records, today, context.crosscheck_rules);
    let scored = context.scorecard.score(&features);

    let band = pricing
        .band_for(scored.points)
        .ok_or_else(|| DecisionError::InvalidPricing("no bands".to_owned()))?;
    let quote = DailyRateQuote::from_daily(band.daily_rate, DayCount::Act365)?;
    let apr = quote.annual;

    let input = PolicyInput::from_features(
        &features,
        application.existing_online_credit,
        application.requested_amount,
        apr,
    );
    let policy = context.policy.evaluate(&input)?;

    let income = check.income.monthly;
    let limit = match income {
        Some(monthly) if monthly.is_positive() => {
            let yuan = monthly
                .to_yuan()
                .checked_mul(band.income_multiple)
                .ok_or(InterestError::Overflow)?;
            let by_income = Money::from_yuan(yuan, Rounding::Down)?;
            round_down_to_step(policy.max_limit.min(by_income))
        }
        _ => Money::ZERO,
    };

    let mut reasons: Vec<DeclineReason> = policy
        .failed()
        .into_iter()
        .map(|result| DeclineReason {
            source: ReasonSource::Policy,
            code: result.code.as_str().to_owned(),
            reason_zh: result
                .reason_zh
                .clone()
                .unwrap_or_else(|| result.detail.clone()),
        })
        .collect();
    reasons.extend(
        check
            .flags
            .iter()
            .filter(|flag| flag.severity == Severity::Severe)
            .map(|flag| DeclineReason {
                source: ReasonSource::Crosscheck,
                code: flag.code.as_str().to_owned(),
                reason_zh: flag.reason_zh.clone(),
            }),
    );
    if scored.points < pricing.cutoff {
        reasons.extend(scored.reasons.iter().map(|reason| DeclineReason {
            source: ReasonSource::Scorecard,
            code: reason.code.to_owned(),
            reason_zh: reason.text.to_owned(),
        }));
        if scored.reasons.is_empty() {
            reasons.push(DeclineReason {
                source: ReasonSource::Scorecard,
                code: "D03_SCORE_BELOW_CUTOFF".to_owned(),
                reason_zh: "综合评分未达到准入标准".to_owned(),
            });
        }
    }
    if income.is_none_or(|monthly| !monthly.is_positive()) {
        reasons.push(DeclineReason {
            source: ReasonSource::Limit,
            code: "D01_NO_VERIFIED_INCOME".to_owned(),
            reason_zh: "未能核实稳定的收入来源".to_owned(),
        });
    } else if policy.passed && limit < pricing.min_limit {
        reasons.push(DeclineReason {
            source: ReasonSource::Limit,
            code: "D02_LIMIT_BELOW_MINIMUM".to_owned(),
            reason_zh: format!("可授予额度低于最低额度 {} 元", pricing.min_limit),
        });
    }

    let approved = policy.passed
        && scored.points >= pricing.cutoff
        && !check
            .flags
            .iter()
            .any(|flag| flag.severity == Severity::Severe)
        && limit >= pricing.min_limit;
    let outcome = if approved {
        Outcome::Approved {
            limit,
            daily_rate: quote.daily,
            apr,
            term_months: TERM_MONTHS,
        }
    } else {
        Outcome::Declined { reasons }
    };

    Ok(Decision {
        outcome,
        application: *application,
        points: scored.points,
        pd_estimate: scored.pd_estimate,
        model_version: context.scorecard.version.clone(),
        policy_version: policy.policy_version,
        pricing_version: pricing.version.clone(),
        inputs_hash: inputs_hash(&features),
        flags: check
            .flags
            .iter()
            .map(|flag| flag.code.as_str().to_owned())
            .collect(),
        policy_results: policy.results,
        income,
        decided_on: today,
    })
}

/// `amount` cut down to a whole multiple of 100 yuan (never below zero).
fn round_down_to_step(amount: Money) -> Money {
    let fen = amount.fen().max(0);
    Money::from_fen(fen - fen % LIMIT_STEP_FEN)
}
