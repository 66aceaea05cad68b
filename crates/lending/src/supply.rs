//! 供应链融资 (supply-chain loans): lines of working capital for the small distributors of a
//! core enterprise (A集团), decided on A集团's trade data and watched on it while open.
//!
//! Pure, like the rest of the crate: the inputs are the govsim record types that the exchange
//! returns (`enterprise.distributors`, `enterprise.trade`, the owner's `credit.report` and
//! `court.cases`), the outputs are an offer or reasons, and money is [`Money`] (fen) with
//! [`Decimal`] ratios. The rules are data: [`EMBEDDED_SUPPLY_POLICY_TOML`]
//! (`config/supply-policy.toml`), parsed and validated by [`SupplyPolicy::embedded`].
//!
//! # The journey
//!
//! 1. **Pre-approval** ([`pre_approve`]), in batch over every distributor A集团 shares: its
//!    record and months of trade ([`DistributorFacts`]) become [`TradeFeatures`]; hard rules,
//!    a limit and a points grade make an [`Offer`] or a list of every [`Reason`] to decline.
//!    A few µs each, so the bank can run 10,000 at once.
//! 2. **Owner confirmation** ([`confirm_owner`]) when the owner accepts: the owner's own
//!    credit report and court record may decline the offer or reduce its limit
//!    (unreadable records decline; [`try_confirm_owner`] returns the error instead).
//! 3. **Early warning** ([`early_warning`]) every month on an open line: the current trade
//!    against the [`TradeFeatures`] stored at approval; the [`Action`] is to keep the line,
//!    lower its limit ([`crate::ledger::CreditLine::change_limit`]) or freeze it
//!    ([`crate::ledger::CreditLine::freeze`]). Current data that give no features freeze the
//!    line; [`try_early_warning`] returns the error instead.
//! 4. **Repayment from sales receipts** ([`sweep_amount`]): a configured share of each
//!    receipt, at most what is owed.
//!
//! # Trade features
//!
//! Computed by [`trade_features`] from the months (consecutive, oldest first, at least
//! [`MIN_TRADE_MONTHS`]). "Last 3" are the last three months; "before" are the up to six months
//! before them (at least three, as six months of data are required). Every ratio is exact
//! integer-fen arithmetic in [`Decimal`], then **rounded half away from zero to 4 decimal
//! places**, and rules compare those stored figures, so a baseline re-evaluated later gives the
//! same verdicts.
//!
//! | Feature | Definition | Zero denominator |
//! |---|---|---|
//! | `avg_net_orders_12m` | net orders (ordered − returned) of the last up to 12 months ÷ months, **rounded down to the fen** | — |
//! | `orders_trend` | average net orders of the last 3 ÷ average of the months before | 0, or 99.9999 if the last 3 are positive |
//! | `orders_yoy` | net orders of the last 3 ÷ the same 3 months a year earlier; only with 15+ months | as above |
//! | `return_rate_3m`, `return_rate_before` | returned ÷ ordered | 0 |
//! | `pay_ratio_3m` | paid ÷ due | 1 (nothing fell due) |
//! | `avg_days_late_3m`, `max_days_late_3m` | mean and max of the months' average days late | — |
//! | `receivable_ratio` | receivable at the end of the last month ÷ `avg_net_orders_12m` | 0, or 99.9999 if something is owed |
//!
//! ## Seasonality: why orders are compared with a year earlier
//!
//! A seasonal distributor's orders swing ±25 % around the Spring Festival peak. Three trough
//! months against the six months before them fall to about 0.69 from seasonality alone
//! (June–August against December–May), which would freeze a healthy line. So the **orders
//! ratio** used by every rule is `orders_yoy` — the last 3 months against the same 3 months a
//! year earlier, in which the season cancels — whenever 15 months of data exist, and falls
//! back to `orders_trend` only for distributors with less than 15 months of history (about
//! 5 % of A集团's network). A young seasonal distributor can therefore be declined or lowered
//! at its trough: the bank accepts that, since seasonality cannot be told from decline
//! without a year of history, and the action on a lowered line is soft.
//!
//! # Pre-approval rules
//!
//! Every rule is evaluated, so that a decline lists every reason. Codes are stable.
//!
//! | Code | Declines when | Why |
//! |---|---|---|
//! | `S00_DATA` | the months are not consecutive or an amount is negative | nothing can be judged on broken data |
//! | `S01_STATUS` | A集团's status is not accepted (only `active`) | A集团 already sees payment slippage (`watch`) or stopped supplying (`suspended`) |
//! | `S02_TENURE` | tenure below `min_tenure_months` (6) | too short a record with A集团 |
//! | `S03_HISTORY` | fewer than `min_months_of_data` months of data (6) | features need 3 + 3 months |
//! | `S04_PAY_RATIO` | `pay_ratio_3m` below 0.95 | healthy distributors pay 97–100 % of what falls due |
//! | `S05_DAYS_LATE` | `max_days_late_3m` above 10 | healthy ones are at most 5 days late |
//! | `S06_RETURNS` | `return_rate_3m` ≥ 8 %, or ≥ `return_rate_before` + 3 pp | healthy returns are 2–3 %; rising returns mean unsold stock |
//! | `S07_ORDERS` | orders ratio below 0.80 | a business shrinking by a fifth in a year |
//! | `S08_LIMIT_FLOOR` | the limit below the floor (10,000 yuan) | not worth a line |
//! | `S09_SCORE` | points below the lowest grade (35) | too weak overall |
//!
//! # Limit
//!
//! `avg_net_orders_12m × net_orders_multiple` (1.0: one month of purchases, the working
//! capital a 30-day supplier credit cycle needs), rounded down to the fen, capped by A集团's
//! own credit limit for the distributor (A集团 knows it best and the loan pays A集团's
//! invoices) and by the absolute `cap` (1,000,000 yuan), then **rounded down to a whole
//! `rounding_unit`** (1,000 yuan).
//!
//! # Points and grades
//!
//! | Factor | Points |
//! |---|---|
//! | tenure with A集团 | ≥ 60 months 25, ≥ 36 20, ≥ 24 15, ≥ 12 10, else 0 |
//! | orders ratio | ≥ 1.10 20, ≥ 1.00 15, ≥ 0.90 10, ≥ 0.80 5, else 0 |
//! | `pay_ratio_3m` | ≥ 0.99 25, ≥ 0.98 20, ≥ 0.97 15, ≥ 0.95 5, else 0 |
//! | `avg_days_late_3m` | ≤ 1 15, ≤ 3 12, ≤ 5 8, ≤ 10 3, else 0 |
//! | `return_rate_3m` | ≤ 2.5 % 10, ≤ 4 % 7, ≤ 6 % 3, else 0 |
//! | `receivable_ratio` | ≤ 1.5 5, ≤ 2.5 2, else 0 |
//! | tier | 一级 (first) 5, 二级 0 |
//!
//! At most 105 points. The configured grades (A ≥ 80 at 万分之1.2 a day, B ≥ 65 at 万分之1.6,
//! C ≥ 50 at 万分之2.0, D ≥ 35 at 万分之2.5) map points to a daily rate; the highest,
//! 0.00025 × 365 = 9.125 % simple a year, is far below the 24 % ceiling that validation
//! enforces. The term is `term_months` (12).
//!
//! # Owner confirmation
//!
//! The owner's records are read exactly as the consumer product reads them
//! ([`crate::features::from_records`]: age, 失信, current overdue, worst status, inquiries).
//!
//! | Code | Effect | When |
//! |---|---|---|
//! | `O01_AGE` | decline | age outside 18–65 |
//! | `O02_DISHONEST` | decline | 失信被执行人 |
//! | `O03_ENFORCEMENT` | decline | an open enforcement case against the owner as debtor |
//! | `O04_OVERDUE` | decline | current overdue days above `max_overdue_days` (0) |
//! | `O05_WORST_STATUS` | decline | worst status in 24 months ≥ 3 |
//! | `O06_INQUIRIES` | decline | more than 12 inquiries in 6 months |
//! | `O11_MINOR_DELINQUENCY` | reduce | worst status 1 or 2 in 24 months |
//! | `O12_INQUIRIES` | reduce | more than 6 inquiries in 6 months |
//! | `O07_LIMIT_FLOOR` | decline | the reduced limit below the floor |
//! | `O00_DATA` | decline | the records cannot be read (birth date after today, a negative amount) |
//!
//! A reduction is `reduce_percent` (50 %) of the offer, once however many reasons apply,
//! rounded down to the rounding unit.
//!
//! # Early warning
//!
//! Each rule compares the current figures absolutely, against the baseline stored at
//! approval, or both; each triggered rule gives one [`Warning`] at its highest severity.
//!
//! | Signal | Watch | Lower | Freeze |
//! |---|---|---|---|
//! | orders ratio | < 0.85 | < 0.75 | < 0.65 |
//! | `avg_net_orders_12m` ÷ baseline's | | < 0.80 | |
//! | `return_rate_3m` | | ≥ 8 % | ≥ 12 % |
//! | `return_rate_3m` − baseline's | ≥ 1.5 pp | ≥ 3 pp | |
//! | `pay_ratio_3m` | | < 0.95 | < 0.93 |
//! | `avg_days_late_3m` | | ≥ 10 | ≥ 15 |
//! | `max_days_late_3m` (when the average triggers nothing) | ≥ 8 | | |
//! | A集团 status | | `watch` | `suspended` |
//!
//! Why these figures, against govsim's generator: a healthy distributor pays 97–100 % of
//! what falls due, 0–5 days late, with 2–3 % returns and 12 % monthly noise in orders; three
//! months against the same three a year earlier then have a spread (standard deviation of the
//! log) of about 0.10, so a Lower at 0.75 is about 2.9 standard deviations away (≈ 0.2 % of
//! monthly checks) and a Freeze at 0.65 over 4. A first cut at 0.80 lowered 37 of 646 healthy
//! distributors (5.7 %) at least once in a year of monthly checks — noise, not decline — so
//! monitoring is looser than entry (`S07_ORDERS` stays at 0.80: a new line can wait, a cut
//! one hurts). A deteriorating one loses 4 % of orders, +0.4 pp of returns and 2.5 pp of
//! payment a month and is 4 days a month later: orders and returns move too slowly to
//! matter within half a year (six months past the turn orders are still at about 0.81 of a
//! year earlier), but three months past the turn its last three months average about 92.5 %
//! paid and 13–18 days late — frozen by payments. The freeze threshold on the pay ratio is
//! 0.93 rather than 0.92 for that reason: the weighted mean of 95 %, 92.5 % and 90 % sits
//! just either side of 0.925, and 0.92 is only reliably reached four months past the turn;
//! healthy distributors never pay below 0.97, so the tighter figure costs nothing.
//!
//! Measured by `supply_population` in `tests/supply.rs` (govsim seed 20261129, 850
//! distributors): of 646 healthy distributors approved on their first 12 months and checked
//! monthly for the next 12, 7 (1.1 %) were ever lowered and none frozen (9 of 7,752 checks,
//! 0.12 %, all on orders); against approval 6 months earlier, 0 of 674 at the last month.
//! Deteriorating ones one month past the turn: 0 of 57 acted on; two months: 60 of 60
//! lowered; three months: 66 of 66 frozen; four to six months: all frozen.
//!
//! The [`Action`] is `Freeze` if any warning is Freeze-level (the reason: their texts joined);
//! else `Lower` if any is Lower-level, to the limit recomputed from the current figures and at
//! most the current limit × `lower_factor` (0.70), rounded down to the unit — or `Freeze` if
//! that is below the floor; else `Keep`. Watch-level warnings are for the relationship manager
//! and change nothing.

use std::fmt::{self, Write as _};
use std::sync::OnceLock;

use bianmin_core::{Money, Rate, Rounding};
use bianmin_govsim::calendar::YearMonth;
use bianmin_govsim::enterprise::{DistributorStatus, DistributorTier};
use bianmin_govsim::population::court::{CaseKind, CaseStatus, Role};
use bianmin_govsim::records::court::CourtCases;
use bianmin_govsim::records::credit::CreditReportRecord;
use bianmin_govsim::records::enterprise::{DistributorRecord, DistributorTrade, TradeMonthRecord};
use chrono::NaiveDate;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use crate::features::{AgencyRecords, FeatureError, from_records};
use crate::policy::REGULATORY_MAX_APR;

/// The embedded policy: the workspace's `config/supply-policy.toml`.
pub const EMBEDDED_SUPPLY_POLICY_TOML: &str = include_str!("../../../config/supply-policy.toml");

/// Fewest months of trade [`trade_features`] accepts: the last 3 and at least 3 before.
pub const MIN_TRADE_MONTHS: usize = 6;

/// Months of history from which orders are compared with a year earlier.
pub const YOY_MONTHS: usize = 15;

/// Decimal places of every ratio in [`TradeFeatures`].
pub const RATIO_DP: u32 = 4;

/// Cap of a ratio whose denominator is zero while its numerator is positive.
const RATIO_CAP: Decimal = Decimal::from_parts(999_999, 0, 0, false, 4);

/// Youngest age a policy may accept.
const ADULT_AGE: u32 = 18;

/// Days in the year of the simple annual rate checked against the ceiling.
const DAYS_PER_YEAR: i64 = 365;

/// Why supply-chain data or a policy cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SupplyError {
    /// The policy file does not parse, misses or misnames a key, or breaks a constraint.
    #[error("invalid supply-chain policy: {0}")]
    InvalidPolicy(String),
    /// Fewer months of trade than the features need.
    #[error("{have} months of trade, at least {need} needed")]
    TooFewMonths {
        /// Months given.
        have: usize,
        /// Months needed.
        need: usize,
    },
    /// The months are not consecutive, oldest first.
    #[error("trade month {found} does not follow {after}")]
    MonthsNotConsecutive {
        /// The month before.
        after: YearMonth,
        /// The month that should have been the next.
        found: YearMonth,
    },
    /// An amount that cannot be negative is (named by its field).
    #[error("negative amount in {0}")]
    NegativeAmount(&'static str),
    /// The record and the trade describe different distributors.
    #[error("distributor record {record} and trade {trade} differ")]
    UsccMismatch {
        /// The record's code.
        record: String,
        /// The trade's code.
        trade: String,
    },
    /// The owner's records cannot be read.
    #[error("owner records: {0}")]
    Owner(#[from] FeatureError),
}

impl SupplyError {
    /// Stable machine-readable code, e.g. `"lending.supply.too_few_months"`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidPolicy(_) => "lending.supply.invalid_policy",
            Self::TooFewMonths { .. } => "lending.supply.too_few_months",
            Self::MonthsNotConsecutive { .. } => "lending.supply.months_not_consecutive",
            Self::NegativeAmount(_) => "lending.supply.negative_amount",
            Self::UsccMismatch { .. } => "lending.supply.uscc_mismatch",
            Self::Owner(_) => "lending.supply.owner_records",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Policy
// ---------------------------------------------------------------------------------------------

/// Decimals in the policy file are strings (`"0.95"`), never TOML floats.
mod decimal_text {
    use std::str::FromStr;

    use rust_decimal::Decimal;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub(super) fn serialize<S: Serializer>(
        value: &Decimal,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_str(value)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Decimal, D::Error> {
        let text = String::deserialize(deserializer)?;
        Decimal::from_str(text.trim())
            .map_err(|_| D::Error::custom(format!("`{text}` is not a plain decimal")))
    }
}

/// `[eligibility]`: who may be offered a line at all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Eligibility {
    /// `S02_TENURE`: least months with A集团.
    pub min_tenure_months: u32,
    /// `S03_HISTORY`: least months of trade data; at least [`MIN_TRADE_MONTHS`].
    pub min_months_of_data: u32,
    /// `S01_STATUS`: A集团 standings that may be offered a line.
    pub accepted_statuses: Vec<DistributorStatus>,
}

/// `[limit]`: the limit and its bounds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitRule {
    /// Multiple of the average monthly net orders of the last 12 months; positive.
    #[serde(with = "decimal_text")]
    pub net_orders_multiple: Decimal,
    /// Highest limit; positive.
    pub cap: Money,
    /// Lowest limit offered (`S08_LIMIT_FLOOR`); positive and at most `cap`.
    pub floor: Money,
    /// Limits are rounded down to a whole multiple of this; positive.
    pub rounding_unit: Money,
    /// Term of the line, 1–36 months.
    pub term_months: u32,
    /// Highest simple annual rate (daily × 365) of any grade; at most
    /// [`REGULATORY_MAX_APR`].
    pub max_apr: Rate,
}

/// One `[[grade]]`: points from `min_points` get `daily_rate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grade {
    /// Name, e.g. `"A"`.
    pub name: String,
    /// Least points of the grade.
    pub min_points: i32,
    /// Daily interest rate, e.g. `0.00012` (万分之1.2).
    pub daily_rate: Rate,
}

/// `[hard]`: pre-approval declines on the trade features.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HardLimits {
    /// `S04_PAY_RATIO`: `pay_ratio_3m` below this declines.
    #[serde(with = "decimal_text")]
    pub min_pay_ratio_3m: Decimal,
    /// `S05_DAYS_LATE`: `max_days_late_3m` above this declines.
    pub max_days_late_3m: u32,
    /// `S06_RETURNS`: `return_rate_3m` at or above this declines.
    #[serde(with = "decimal_text")]
    pub max_return_rate_3m: Decimal,
    /// `S06_RETURNS`: `return_rate_3m` at least this above `return_rate_before` declines.
    #[serde(with = "decimal_text")]
    pub max_return_rise: Decimal,
    /// `S07_ORDERS`: the orders ratio below this declines.
    #[serde(with = "decimal_text")]
    pub min_orders_ratio: Decimal,
}

/// `[owner]`: the owner's own records at confirmation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OwnerRules {
    /// `O01_AGE`: youngest accepted age (included); at least 18.
    pub min_age: u32,
    /// `O01_AGE`: oldest accepted age (included).
    pub max_age: u32,
    /// `O04_OVERDUE`: current overdue days above this decline.
    pub max_overdue_days: u32,
    /// `O05_WORST_STATUS`: a worst status in 24 months at or above this declines; from 1
    /// below it reduces. 1–7.
    pub decline_worst_status: u32,
    /// `O06_INQUIRIES`: inquiries in 6 months above this decline.
    pub max_inquiries_6m: u32,
    /// `O12_INQUIRIES`: inquiries in 6 months above this reduce; at most `max_inquiries_6m`.
    pub reduce_inquiries_6m: u32,
    /// A reduced limit is this percentage of the offer, 1–100.
    pub reduce_percent: u32,
}

/// `[warning]`: early-warning thresholds (see the [module documentation](self)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WarningRules {
    /// Orders ratio below this: Watch.
    #[serde(with = "decimal_text")]
    pub orders_watch: Decimal,
    /// Orders ratio below this: Lower.
    #[serde(with = "decimal_text")]
    pub orders_lower: Decimal,
    /// Orders ratio below this: Freeze.
    #[serde(with = "decimal_text")]
    pub orders_freeze: Decimal,
    /// `avg_net_orders_12m` ÷ the baseline's below this: Lower.
    #[serde(with = "decimal_text")]
    pub orders_vs_baseline_lower: Decimal,
    /// `return_rate_3m` at least this above the baseline's: Watch.
    #[serde(with = "decimal_text")]
    pub return_rise_watch: Decimal,
    /// `return_rate_3m` at least this above the baseline's: Lower.
    #[serde(with = "decimal_text")]
    pub return_rise_lower: Decimal,
    /// `return_rate_3m` at least this: Lower.
    #[serde(with = "decimal_text")]
    pub return_lower: Decimal,
    /// `return_rate_3m` at least this: Freeze.
    #[serde(with = "decimal_text")]
    pub return_freeze: Decimal,
    /// `pay_ratio_3m` below this: Lower.
    #[serde(with = "decimal_text")]
    pub pay_ratio_lower: Decimal,
    /// `pay_ratio_3m` below this: Freeze.
    #[serde(with = "decimal_text")]
    pub pay_ratio_freeze: Decimal,
    /// `avg_days_late_3m` at least this: Lower.
    pub days_late_lower: u32,
    /// `avg_days_late_3m` at least this: Freeze.
    pub days_late_freeze: u32,
    /// `max_days_late_3m` at least this (when the average triggers nothing): Watch.
    pub days_late_watch: u32,
    /// A lowered limit is at most the current one × this; in (0, 1).
    #[serde(with = "decimal_text")]
    pub lower_factor: Decimal,
}

/// `[sweep]`: repayment from sales receipts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepRule {
    /// Default share of each receipt swept, in percent (1–100).
    pub share_percent: u32,
}

/// The file layout.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct SupplyPolicyFile {
    version: String,
    effective_from: NaiveDate,
    eligibility: Eligibility,
    limit: LimitRule,
    grade: Vec<Grade>,
    hard: HardLimits,
    owner: OwnerRules,
    warning: WarningRules,
    sweep: SweepRule,
}

/// A validated, versioned supply-chain credit policy.
///
/// Only [`SupplyPolicy::from_toml_str`], [`SupplyPolicy::embedded`] and deserialisation (which
/// validates the same way) make one. Serialises in the layout of the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "SupplyPolicyFile")]
pub struct SupplyPolicy {
    version: String,
    effective_from: NaiveDate,
    eligibility: Eligibility,
    limit: LimitRule,
    grade: Vec<Grade>,
    hard: HardLimits,
    owner: OwnerRules,
    warning: WarningRules,
    sweep: SweepRule,
}

impl TryFrom<SupplyPolicyFile> for SupplyPolicy {
    type Error = SupplyError;

    fn try_from(file: SupplyPolicyFile) -> Result<Self, SupplyError> {
        let policy = SupplyPolicy {
            version: file.version,
            effective_from: file.effective_from,
            eligibility: file.eligibility,
            limit: file.limit,
            grade: file.grade,
            hard: file.hard,
            owner: file.owner,
            warning: file.warning,
            sweep: file.sweep,
        };
        policy.validate()?;
        Ok(policy)
    }
}

impl SupplyPolicy {
    /// The shipped policy ([`EMBEDDED_SUPPLY_POLICY_TOML`], compiled in), parsed once.
    ///
    /// # Errors
    ///
    /// If the compiled-in file is not a valid policy (a build problem, not an input one).
    pub fn embedded() -> Result<&'static SupplyPolicy, SupplyError> {
        static EMBEDDED: OnceLock<Result<SupplyPolicy, SupplyError>> = OnceLock::new();
        EMBEDDED
            .get_or_init(|| SupplyPolicy::from_toml_str(EMBEDDED_SUPPLY_POLICY_TOML))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Parses and validates a policy in the layout of `config/supply-policy.toml`.
    ///
    /// # Errors
    ///
    /// [`SupplyError::InvalidPolicy`] if the text is not TOML, a decimal is not a string, a key
    /// is missing or unknown, or a constraint fails (see the file's comments).
    pub fn from_toml_str(text: &str) -> Result<SupplyPolicy, SupplyError> {
        let file: SupplyPolicyFile =
            toml::from_str(text).map_err(|error| SupplyError::InvalidPolicy(error.to_string()))?;
        SupplyPolicy::try_from(file)
    }

    fn validate(&self) -> Result<(), SupplyError> {
        fn check(ok: bool, message: impl FnOnce() -> String) -> Result<(), SupplyError> {
            if ok {
                Ok(())
            } else {
                Err(SupplyError::InvalidPolicy(message()))
            }
        }
        let (eligibility, limit, hard) = (&self.eligibility, &self.limit, &self.hard);
        let (owner, warning) = (&self.owner, &self.warning);
        check(!self.version.trim().is_empty(), || {
            "`version` is empty".into()
        })?;
        check(
            eligibility.min_months_of_data as usize >= MIN_TRADE_MONTHS,
            || format!("`eligibility.min_months_of_data` is below {MIN_TRADE_MONTHS}"),
        )?;
        check(!eligibility.accepted_statuses.is_empty(), || {
            "`eligibility.accepted_statuses` is empty".into()
        })?;
        check(limit.net_orders_multiple > Decimal::ZERO, || {
            "`limit.net_orders_multiple` must be positive".into()
        })?;
        check(limit.cap.is_positive(), || {
            "`limit.cap` must be positive".into()
        })?;
        check(
            limit.floor.is_positive() && limit.floor <= limit.cap,
            || "`limit.floor` must be positive and at most `limit.cap`".into(),
        )?;
        check(limit.rounding_unit.is_positive(), || {
            "`limit.rounding_unit` must be positive".into()
        })?;
        check((1..=36).contains(&limit.term_months), || {
            "`limit.term_months` must be 1–36".into()
        })?;
        check(
            limit.max_apr.as_decimal() > Decimal::ZERO
                && limit.max_apr.as_decimal() <= REGULATORY_MAX_APR,
            || format!("`limit.max_apr` must be positive and at most {REGULATORY_MAX_APR}"),
        )?;
        check(!self.grade.is_empty(), || "no `[[grade]]`".into())?;
        for (index, grade) in self.grade.iter().enumerate() {
            check(!grade.name.trim().is_empty(), || {
                "a grade has no name".into()
            })?;
            check(grade.daily_rate > Rate::ZERO, || {
                format!("grade {} has no rate", grade.name)
            })?;
            let apr = grade
                .daily_rate
                .as_decimal()
                .checked_mul(Decimal::from(DAYS_PER_YEAR));
            check(
                apr.is_some_and(|apr| apr <= limit.max_apr.as_decimal()),
                || {
                    format!(
                        "grade {} × 365 is above `limit.max_apr` {}",
                        grade.name, limit.max_apr
                    )
                },
            )?;
            if let Some(previous) = index.checked_sub(1).and_then(|i| self.grade.get(i)) {
                check(grade.min_points < previous.min_points, || {
                    format!(
                        "grade {} must need fewer points than {}",
                        grade.name, previous.name
                    )
                })?;
                check(grade.daily_rate >= previous.daily_rate, || {
                    format!(
                        "grade {} must not be cheaper than {}",
                        grade.name, previous.name
                    )
                })?;
                check(
                    self.grade[..index]
                        .iter()
                        .all(|other| other.name != grade.name),
                    || format!("grade {} is named twice", grade.name),
                )?;
            }
        }
        let unit = |value: Decimal| value >= Decimal::ZERO && value <= Decimal::ONE;
        check(
            unit(hard.min_pay_ratio_3m)
                && unit(hard.max_return_rate_3m)
                && unit(hard.max_return_rise)
                && hard.min_orders_ratio >= Decimal::ZERO,
            || "`[hard]` ratios must be within 0–1".into(),
        )?;
        check(
            owner.min_age >= ADULT_AGE && owner.min_age <= owner.max_age,
            || format!("`owner.min_age` must be at least {ADULT_AGE} and at most `owner.max_age`"),
        )?;
        check((1..=7).contains(&owner.decline_worst_status), || {
            "`owner.decline_worst_status` must be 1–7".into()
        })?;
        check(owner.reduce_inquiries_6m <= owner.max_inquiries_6m, || {
            "`owner.reduce_inquiries_6m` is above `owner.max_inquiries_6m`".into()
        })?;
        check((1..=100).contains(&owner.reduce_percent), || {
            "`owner.reduce_percent` must be 1–100".into()
        })?;
        check(
            warning.orders_freeze <= warning.orders_lower
                && warning.orders_lower <= warning.orders_watch
                && warning.orders_freeze >= Decimal::ZERO,
            || "`warning.orders_*` must be freeze ≤ lower ≤ watch".into(),
        )?;
        check(warning.orders_vs_baseline_lower >= Decimal::ZERO, || {
            "`warning.orders_vs_baseline_lower` is negative".into()
        })?;
        check(
            unit(warning.return_rise_watch)
                && warning.return_rise_watch <= warning.return_rise_lower
                && unit(warning.return_rise_lower)
                && unit(warning.return_lower)
                && warning.return_lower <= warning.return_freeze
                && unit(warning.return_freeze),
            || "`warning.return_*` must be within 0–1, watch ≤ lower ≤ freeze".into(),
        )?;
        check(
            warning.pay_ratio_freeze <= warning.pay_ratio_lower && unit(warning.pay_ratio_lower),
            || "`warning.pay_ratio_*` must be within 0–1, freeze ≤ lower".into(),
        )?;
        check(warning.days_late_lower <= warning.days_late_freeze, || {
            "`warning.days_late_lower` is above `warning.days_late_freeze`".into()
        })?;
        check(
            warning.lower_factor > Decimal::ZERO && warning.lower_factor < Decimal::ONE,
            || "`warning.lower_factor` must be within (0, 1)".into(),
        )?;
        check((1..=100).contains(&self.sweep.share_percent), || {
            "`sweep.share_percent` must be 1–100".into()
        })?;
        Ok(())
    }

    /// The policy's version, e.g. `"supply-chain-policy-2026.1"`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The first day the policy applies.
    pub fn effective_from(&self) -> NaiveDate {
        self.effective_from
    }

    /// Whether the policy applies on `date`.
    pub fn is_effective_on(&self, date: NaiveDate) -> bool {
        date >= self.effective_from
    }

    /// Who may be offered a line.
    pub fn eligibility(&self) -> &Eligibility {
        &self.eligibility
    }

    /// The limit rule.
    pub fn limit(&self) -> &LimitRule {
        &self.limit
    }

    /// The grades, best first.
    pub fn grades(&self) -> &[Grade] {
        &self.grade
    }

    /// The hard pre-approval declines.
    pub fn hard(&self) -> &HardLimits {
        &self.hard
    }

    /// The owner rules.
    pub fn owner(&self) -> &OwnerRules {
        &self.owner
    }

    /// The early-warning thresholds.
    pub fn warning(&self) -> &WarningRules {
        &self.warning
    }

    /// The sweep rule.
    pub fn sweep(&self) -> &SweepRule {
        &self.sweep
    }

    /// The grade of `points`: the first whose `min_points` it reaches; `None` below them all.
    pub fn grade_of(&self, points: i32) -> Option<&Grade> {
        self.grade.iter().find(|grade| points >= grade.min_points)
    }

    /// The limit for average monthly net orders `avg_net_orders` and A集团's own credit limit
    /// `core_limit`: see the [module documentation](self#limit). Not checked against the
    /// floor; never negative.
    pub fn limit_for(&self, avg_net_orders: Money, core_limit: Money) -> Money {
        let limit = &self.limit;
        let by_orders = avg_net_orders
            .to_yuan()
            .checked_mul(limit.net_orders_multiple)
            .and_then(|yuan| Money::from_yuan(yuan, Rounding::Down).ok())
            .unwrap_or(limit.cap);
        round_down_to(
            by_orders.min(core_limit).min(limit.cap),
            limit.rounding_unit,
        )
    }
}

/// `amount` rounded down to a whole multiple of `unit` (positive); negative amounts are zero.
fn round_down_to(amount: Money, unit: Money) -> Money {
    let fen = amount.fen().max(0);
    let unit = unit.fen().max(1);
    Money::from_fen(fen - fen % unit)
}

// ---------------------------------------------------------------------------------------------
// Facts and features
// ---------------------------------------------------------------------------------------------

/// What A集团 shares about one distributor: its record and its months of trade.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DistributorFacts {
    /// 统一社会信用代码.
    pub uscc: String,
    /// Registered name.
    pub name: String,
    /// 一级 or 二级.
    pub tier: DistributorTier,
    /// Months with A集团.
    pub tenure_months: u32,
    /// A集团's own credit limit for the distributor.
    pub core_limit: Money,
    /// A集团's view of its standing at the end of the last closed month.
    pub status: DistributorStatus,
    /// Months of trade, oldest first.
    pub months: Vec<TradeMonthRecord>,
}

impl DistributorFacts {
    /// The facts from `enterprise.distributors` (`record`) and `enterprise.trade` (`trade`)
    /// of the same distributor: identity, tier, tenure and A集团's limit from the record; the
    /// status (the standing at the end of the months given) and the months from the trade.
    /// The caller pairs them; [`DistributorFacts::try_of`] also checks the codes agree.
    pub fn of(record: &DistributorRecord, trade: &DistributorTrade) -> Self {
        Self {
            uscc: record.uscc.clone(),
            name: record.name.clone(),
            tier: record.tier,
            tenure_months: record.tenure_months,
            core_limit: record.credit_limit,
            status: trade.status,
            months: trade.months.clone(),
        }
    }

    /// [`DistributorFacts::of`], refusing a record and a trade of different distributors.
    ///
    /// # Errors
    ///
    /// [`SupplyError::UsccMismatch`] if the codes differ.
    pub fn try_of(
        record: &DistributorRecord,
        trade: &DistributorTrade,
    ) -> Result<Self, SupplyError> {
        if record.uscc != trade.uscc {
            return Err(SupplyError::UsccMismatch {
                record: record.uscc.clone(),
                trade: trade.uscc.clone(),
            });
        }
        Ok(Self::of(record, trade))
    }
}

/// The trade figures a decision is made on, stored at approval as the baseline of
/// [`early_warning`]. See the [module documentation](self#trade-features).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TradeFeatures {
    /// Months of data.
    pub months_of_data: u32,
    /// The last month of the data.
    pub last_month: YearMonth,
    /// Average monthly net orders over the last up to 12 months, rounded down to the fen.
    pub avg_net_orders_12m: Money,
    /// Average net orders of the last 3 months ÷ average of the up to 6 before.
    pub orders_trend: Decimal,
    /// Net orders of the last 3 months ÷ the same 3 months a year earlier; `None` with fewer
    /// than [`YOY_MONTHS`] months.
    pub orders_yoy: Option<Decimal>,
    /// Returned ÷ ordered over the last 3 months.
    pub return_rate_3m: Decimal,
    /// Returned ÷ ordered over the up to 6 months before them.
    pub return_rate_before: Decimal,
    /// Paid ÷ due over the last 3 months.
    pub pay_ratio_3m: Decimal,
    /// Mean of the last 3 months' average days late.
    pub avg_days_late_3m: Decimal,
    /// Largest of the last 3 months' average days late.
    pub max_days_late_3m: u32,
    /// Receivable at the end of the last month ÷ `avg_net_orders_12m`.
    pub receivable_ratio: Decimal,
}

impl TradeFeatures {
    /// The orders ratio the rules use: `orders_yoy` when there is a year of history, else
    /// `orders_trend` (see the [module documentation](self#seasonality-why-orders-are-compared-with-a-year-earlier)).
    pub fn orders_ratio(&self) -> Decimal {
        self.orders_yoy.unwrap_or(self.orders_trend)
    }

    /// What the orders ratio compares with, in Chinese: `"去年同期"` or `"前6个月"`.
    fn orders_basis(&self) -> String {
        if self.orders_yoy.is_some() {
            "去年同期".to_owned()
        } else {
            format!("前{}个月", before_len(self.months_of_data as usize))
        }
    }
}

/// Months "before" the last 3 out of `n`.
fn before_len(n: usize) -> usize {
    n.saturating_sub(3).min(6)
}

/// `numerator ÷ denominator` rounded half away from zero to [`RATIO_DP`] places, at least 0;
/// `when_zero` (or [`RATIO_CAP`] for a positive numerator, if `cap_positive`) when the
/// denominator is not positive.
fn ratio(numerator: i128, denominator: i128, when_zero: Decimal, cap_positive: bool) -> Decimal {
    let mut value = if denominator <= 0 {
        if cap_positive && numerator > 0 {
            RATIO_CAP
        } else {
            when_zero
        }
    } else if numerator <= 0 {
        Decimal::ZERO
    } else {
        // Sums of at most 24 amounts of i64 fen (times 6) stay far below Decimal's
        // 7.9 × 10²⁸, so neither conversion nor the division can fail.
        match (
            Decimal::try_from_i128_with_scale(numerator, 0),
            Decimal::try_from_i128_with_scale(denominator, 0),
        ) {
            (Ok(numerator), Ok(denominator)) => {
                numerator
                    .checked_div(denominator)
                    .map_or(RATIO_CAP, |exact| {
                        exact
                            .round_dp_with_strategy(
                                RATIO_DP,
                                RoundingStrategy::MidpointAwayFromZero,
                            )
                            .min(RATIO_CAP)
                    })
            }
            _ => RATIO_CAP,
        }
    };
    // Always with 4 places (`1.0000`), so that a stored baseline reads the same.
    value.rescale(RATIO_DP);
    value
}

#[derive(Default, Clone, Copy)]
struct Sums {
    ordered: i128,
    returned: i128,
    net: i128,
    due: i128,
    paid: i128,
}

fn sums(months: &[TradeMonthRecord]) -> Sums {
    months.iter().fold(Sums::default(), |sums, month| Sums {
        ordered: sums.ordered + i128::from(month.order_amount.fen()),
        returned: sums.returned + i128::from(month.return_amount.fen()),
        net: sums.net + i128::from(month.net_amount.fen()),
        due: sums.due + i128::from(month.amount_due.fen()),
        paid: sums.paid + i128::from(month.amount_paid.fen()),
    })
}

/// The features of `facts` (see the [module documentation](self#trade-features)); no
/// allocation.
///
/// # Errors
///
/// [`SupplyError::TooFewMonths`] with fewer than [`MIN_TRADE_MONTHS`] months;
/// [`SupplyError::MonthsNotConsecutive`] if a month does not follow the one before;
/// [`SupplyError::NegativeAmount`] if an order, return, due, paid or receivable amount is
/// negative (net orders may be, when returns exceed orders).
pub fn trade_features(facts: &DistributorFacts) -> Result<TradeFeatures, SupplyError> {
    let months = facts.months.as_slice();
    let n = months.len();
    if n < MIN_TRADE_MONTHS {
        return Err(SupplyError::TooFewMonths {
            have: n,
            need: MIN_TRADE_MONTHS,
        });
    }
    for pair in months.windows(2) {
        if pair[1].month != pair[0].month.plus(1) {
            return Err(SupplyError::MonthsNotConsecutive {
                after: pair[0].month,
                found: pair[1].month,
            });
        }
    }
    for month in months {
        for (amount, field) in [
            (month.order_amount, "order_amount"),
            (month.return_amount, "return_amount"),
            (month.amount_due, "amount_due"),
            (month.amount_paid, "amount_paid"),
            (month.receivable, "receivable"),
        ] {
            if amount.is_negative() {
                return Err(SupplyError::NegativeAmount(field));
            }
        }
    }

    let last3 = &months[n - 3..];
    let before = &months[n - 3 - before_len(n)..n - 3];
    let last12 = &months[n - n.min(12)..];
    let (recent, earlier, year) = (sums(last3), sums(before), sums(last12));

    // Whole fen, rounded down (towards −∞ for a negative sum).
    let avg_fen = year.net.div_euclid(last12.len() as i128);
    let avg_net_orders_12m = Money::from_fen(i64::try_from(avg_fen).unwrap_or(i64::MAX));

    let orders_trend = ratio(
        recent.net * before.len() as i128,
        earlier.net * 3,
        Decimal::ZERO,
        true,
    );
    let orders_yoy = (n >= YOY_MONTHS).then(|| {
        let year_ago = sums(&months[n - 15..n - 12]);
        ratio(recent.net, year_ago.net, Decimal::ZERO, true)
    });
    let days: u32 = last3.iter().map(|month| month.days_late).sum();
    let last = &months[n - 1];
    Ok(TradeFeatures {
        months_of_data: u32::try_from(n).unwrap_or(u32::MAX),
        last_month: last.month,
        avg_net_orders_12m,
        orders_trend,
        orders_yoy,
        return_rate_3m: ratio(recent.returned, recent.ordered, Decimal::ZERO, false),
        return_rate_before: ratio(earlier.returned, earlier.ordered, Decimal::ZERO, false),
        pay_ratio_3m: ratio(recent.paid, recent.due, Decimal::ONE, false),
        avg_days_late_3m: ratio(i128::from(days), 3, Decimal::ZERO, false),
        max_days_late_3m: last3.iter().map(|month| month.days_late).max().unwrap_or(0),
        receivable_ratio: ratio(
            i128::from(last.receivable.fen()),
            i128::from(avg_net_orders_12m.fen()),
            Decimal::ZERO,
            true,
        ),
    })
}

// ---------------------------------------------------------------------------------------------
// Pre-approval
// ---------------------------------------------------------------------------------------------

/// A reason to decline, reduce or warn: a stable code and a Chinese text with the figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    /// Stable code, e.g. `"S04_PAY_RATIO"`.
    pub code: String,
    /// Shown to the distributor and staff, e.g. `"近3个月回款率93.50%，低于95%"`.
    pub text: String,
}

impl Reason {
    fn new(code: &str, text: String) -> Self {
        Self {
            code: code.to_owned(),
            text,
        }
    }
}

/// A pre-approved line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offer {
    /// The limit: a whole multiple of the rounding unit, at least the floor.
    pub limit: Money,
    /// Daily interest rate of the grade.
    pub daily_rate: Rate,
    /// The grade's name.
    pub grade: String,
    /// The points the grade came from.
    pub points: i32,
    /// Term of the line in months.
    pub term_months: u32,
}

/// Offer or decline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PreOutcome {
    /// A line may be offered.
    Offer(Offer),
    /// Every reason not to, in code order.
    Decline(Vec<Reason>),
}

/// The result of [`pre_approve`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreApproval {
    /// Offer or decline.
    pub outcome: PreOutcome,
    /// The features it was decided on (stored as the baseline of an approved line); `None`
    /// when the trade data could not give any.
    pub features: Option<TradeFeatures>,
    /// The [`SupplyPolicy::version`] applied.
    pub policy_version: String,
}

/// Points of `value` on a band table of `(threshold, points)` checked in order with
/// `reaches(value, threshold)`.
fn band<T: Copy>(value: T, bands: &[(T, i32)], reaches: impl Fn(T, T) -> bool) -> i32 {
    bands
        .iter()
        .find(|(threshold, _)| reaches(value, *threshold))
        .map_or(0, |&(_, points)| points)
}

/// Hundredths as a `Decimal`.
const fn hundredths(value: i64) -> Decimal {
    Decimal::from_parts(value as u32, 0, 0, false, 2)
}

/// Thousandths as a `Decimal`.
const fn thousandths(value: i64) -> Decimal {
    Decimal::from_parts(value as u32, 0, 0, false, 3)
}

/// The points of a distributor; see the [module documentation](self#points-and-grades).
pub fn points(facts: &DistributorFacts, features: &TradeFeatures) -> i32 {
    let at_least = |value: Decimal, threshold: Decimal| value >= threshold;
    let at_most = |value: Decimal, threshold: Decimal| value <= threshold;
    band(
        facts.tenure_months,
        &[(60, 25), (36, 20), (24, 15), (12, 10)],
        |value, threshold| value >= threshold,
    ) + band(
        features.orders_ratio(),
        &[
            (hundredths(110), 20),
            (hundredths(100), 15),
            (hundredths(90), 10),
            (hundredths(80), 5),
        ],
        at_least,
    ) + band(
        features.pay_ratio_3m,
        &[
            (hundredths(99), 25),
            (hundredths(98), 20),
            (hundredths(97), 15),
            (hundredths(95), 5),
        ],
        at_least,
    ) + band(
        features.avg_days_late_3m,
        &[
            (Decimal::from(1), 15),
            (Decimal::from(3), 12),
            (Decimal::from(5), 8),
            (Decimal::from(10), 3),
        ],
        at_most,
    ) + band(
        features.return_rate_3m,
        &[
            (thousandths(25), 10),
            (thousandths(40), 7),
            (thousandths(60), 3),
        ],
        at_most,
    ) + band(
        features.receivable_ratio,
        &[(hundredths(150), 5), (hundredths(250), 2)],
        at_most,
    ) + match facts.tier {
        DistributorTier::First => 5,
        DistributorTier::Second => 0,
    }
}

/// Pre-approves one distributor: every rule of the
/// [module documentation](self#pre-approval-rules), then the limit and grade.
///
/// Cheap: one pass over the months for the features and no allocation beyond the grade's
/// name on an offer (a decline allocates its reasons).
pub fn pre_approve(facts: &DistributorFacts, policy: &SupplyPolicy) -> PreApproval {
    let mut reasons = Vec::new();
    let (eligibility, limit_rule, hard) = (&policy.eligibility, &policy.limit, &policy.hard);

    if !eligibility.accepted_statuses.contains(&facts.status) {
        reasons.push(Reason::new(
            "S01_STATUS",
            format!(
                "A集团对该经销商的合作状态为“{}”，仅向“{}”的经销商授信",
                status_zh(facts.status),
                eligibility
                    .accepted_statuses
                    .iter()
                    .map(|status| status_zh(*status))
                    .collect::<Vec<_>>()
                    .join("、")
            ),
        ));
    }
    if facts.tenure_months < eligibility.min_tenure_months {
        reasons.push(Reason::new(
            "S02_TENURE",
            format!(
                "与A集团合作{}个月，不足{}个月",
                facts.tenure_months, eligibility.min_tenure_months
            ),
        ));
    }
    let features = if facts.months.len() < eligibility.min_months_of_data as usize {
        reasons.push(Reason::new(
            "S03_HISTORY",
            format!(
                "A集团提供的交易数据仅{}个月，不足{}个月",
                facts.months.len(),
                eligibility.min_months_of_data
            ),
        ));
        None
    } else {
        match trade_features(facts) {
            Ok(features) => Some(features),
            Err(_) => {
                reasons.push(Reason::new(
                    "S00_DATA",
                    "A集团提供的交易数据不连续或有误，无法评估".to_owned(),
                ));
                None
            }
        }
    };

    let mut offer = None;
    if let Some(features) = &features {
        if features.pay_ratio_3m < hard.min_pay_ratio_3m {
            reasons.push(Reason::new(
                "S04_PAY_RATIO",
                format!(
                    "近3个月回款率{}，低于{}",
                    percent(features.pay_ratio_3m, 2),
                    percent_plain(hard.min_pay_ratio_3m)
                ),
            ));
        }
        if features.max_days_late_3m > hard.max_days_late_3m {
            reasons.push(Reason::new(
                "S05_DAYS_LATE",
                format!(
                    "近3个月单月平均逾期最长{}天，超过{}天",
                    features.max_days_late_3m, hard.max_days_late_3m
                ),
            ));
        }
        let rise = features.return_rate_3m - features.return_rate_before;
        if features.return_rate_3m >= hard.max_return_rate_3m {
            reasons.push(Reason::new(
                "S06_RETURNS",
                format!(
                    "近3个月退货率{}，达到{}",
                    percent(features.return_rate_3m, 2),
                    percent_plain(hard.max_return_rate_3m)
                ),
            ));
        } else if rise >= hard.max_return_rise {
            reasons.push(Reason::new(
                "S06_RETURNS",
                format!(
                    "近3个月退货率{}，较前{}个月的{}上升{}个百分点",
                    percent(features.return_rate_3m, 2),
                    before_len(features.months_of_data as usize),
                    percent(features.return_rate_before, 2),
                    points_pp(rise)
                ),
            ));
        }
        let orders = features.orders_ratio();
        if orders < hard.min_orders_ratio {
            reasons.push(Reason::new(
                "S07_ORDERS",
                format!(
                    "近3个月净订货额较{}下降{}，降幅超过{}",
                    features.orders_basis(),
                    percent(Decimal::ONE - orders, 1),
                    percent_plain(Decimal::ONE - hard.min_orders_ratio)
                ),
            ));
        }
        let limit = policy.limit_for(features.avg_net_orders_12m, facts.core_limit);
        if limit < limit_rule.floor {
            reasons.push(Reason::new(
                "S08_LIMIT_FLOOR",
                format!(
                    "测算额度{}元，低于最低授信额度{}元",
                    yuan_plain(limit),
                    yuan_plain(limit_rule.floor)
                ),
            ));
        }
        let points = points(facts, features);
        match policy.grade_of(points) {
            Some(grade) => offer = Some((limit, points, grade)),
            None => reasons.push(Reason::new(
                "S09_SCORE",
                format!(
                    "综合评分{}分，低于准入分{}分",
                    points,
                    policy.grade.last().map_or(0, |grade| grade.min_points)
                ),
            )),
        }
    }

    let outcome = match offer {
        Some((limit, points, grade)) if reasons.is_empty() => PreOutcome::Offer(Offer {
            limit,
            daily_rate: grade.daily_rate,
            grade: grade.name.clone(),
            points,
            term_months: limit_rule.term_months,
        }),
        _ => PreOutcome::Decline(reasons),
    };
    PreApproval {
        outcome,
        features,
        policy_version: policy.version.clone(),
    }
}

// ---------------------------------------------------------------------------------------------
// Owner confirmation
// ---------------------------------------------------------------------------------------------

/// The result of [`confirm_owner`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OwnerCheck {
    /// The line may open with `limit` (the offer's, or reduced for the `notes`).
    Confirmed {
        /// The limit to open.
        limit: Money,
        /// Why it was reduced; empty when it was not.
        notes: Vec<Reason>,
    },
    /// Every reason the owner's records decline the offer.
    Declined(Vec<Reason>),
}

/// Checks the owner's own records before the line opens: see the
/// [module documentation](self#owner-confirmation). Age is counted on `today`.
///
/// Records that cannot be read — a birth date after `today`, a negative amount in the credit
/// report, which [`crate::features::from_records`] refuses — decline with `O00_DATA`
/// ([`try_confirm_owner`] returns the error instead).
pub fn confirm_owner(
    offer: &Offer,
    owner_birth_date: NaiveDate,
    credit: &CreditReportRecord,
    court: &CourtCases,
    today: NaiveDate,
    policy: &SupplyPolicy,
) -> OwnerCheck {
    try_confirm_owner(offer, owner_birth_date, credit, court, today, policy).unwrap_or_else(|_| {
        OwnerCheck::Declined(vec![Reason::new(
            "O00_DATA",
            "经营者的征信或身份数据有误，无法核实".to_owned(),
        )])
    })
}

/// [`confirm_owner`], with unreadable records as an error.
///
/// # Errors
///
/// [`SupplyError::Owner`] if the birth date is after `today` or an amount in the credit report
/// is negative.
pub fn try_confirm_owner(
    offer: &Offer,
    owner_birth_date: NaiveDate,
    credit: &CreditReportRecord,
    court: &CourtCases,
    today: NaiveDate,
    policy: &SupplyPolicy,
) -> Result<OwnerCheck, SupplyError> {
    let records = AgencyRecords {
        birth_date: owner_birth_date,
        hpf: None,
        si: None,
        tax: None,
        credit: credit.clone(),
        court: court.clone(),
    };
    let read = from_records(&records, today)?;
    let rules = &policy.owner;
    let mut declines = Vec::new();
    let mut notes = Vec::new();

    if !(rules.min_age..=rules.max_age).contains(&read.age) {
        declines.push(Reason::new(
            "O01_AGE",
            format!(
                "经营者年龄{}周岁，不在{}至{}周岁之间",
                read.age, rules.min_age, rules.max_age
            ),
        ));
    }
    if read.dishonest {
        declines.push(Reason::new(
            "O02_DISHONEST",
            "经营者被列为失信被执行人".to_owned(),
        ));
    }
    let enforcement = court
        .cases
        .iter()
        .filter(|case| {
            case.kind == CaseKind::Enforcement
                && case.role == Role::Debtor
                && case.status == CaseStatus::Open
        })
        .count();
    if enforcement > 0 {
        declines.push(Reason::new(
            "O03_ENFORCEMENT",
            format!("经营者有{enforcement}件未结的被执行案件"),
        ));
    }
    if read.overdue_days > rules.max_overdue_days {
        declines.push(Reason::new(
            "O04_OVERDUE",
            if rules.max_overdue_days == 0 {
                format!("经营者征信当前逾期{}天", read.overdue_days)
            } else {
                format!(
                    "经营者征信当前逾期{}天，超过{}天",
                    read.overdue_days, rules.max_overdue_days
                )
            },
        ));
    }
    if read.worst_status_24m >= rules.decline_worst_status {
        declines.push(Reason::new(
            "O05_WORST_STATUS",
            format!(
                "经营者近24个月征信最严重逾期{}期，达到{}期",
                read.worst_status_24m, rules.decline_worst_status
            ),
        ));
    } else if read.worst_status_24m >= 1 {
        notes.push(Reason::new(
            "O11_MINOR_DELINQUENCY",
            format!(
                "经营者近24个月有轻微逾期记录（最严重{}期），额度按{}%核定",
                read.worst_status_24m, rules.reduce_percent
            ),
        ));
    }
    if read.inquiries_6m > rules.max_inquiries_6m {
        declines.push(Reason::new(
            "O06_INQUIRIES",
            format!(
                "经营者近6个月征信查询{}次，超过{}次",
                read.inquiries_6m, rules.max_inquiries_6m
            ),
        ));
    } else if read.inquiries_6m > rules.reduce_inquiries_6m {
        notes.push(Reason::new(
            "O12_INQUIRIES",
            format!(
                "经营者近6个月征信查询{}次，超过{}次，额度按{}%核定",
                read.inquiries_6m, rules.reduce_inquiries_6m, rules.reduce_percent
            ),
        ));
    }
    if !declines.is_empty() {
        return Ok(OwnerCheck::Declined(declines));
    }
    if notes.is_empty() {
        return Ok(OwnerCheck::Confirmed {
            limit: offer.limit,
            notes,
        });
    }
    // Whole fen × percent ÷ 100 cannot overflow in i128; rounded down.
    let reduced_fen = i128::from(offer.limit.fen().max(0)) * i128::from(rules.reduce_percent) / 100;
    let reduced = round_down_to(
        Money::from_fen(i64::try_from(reduced_fen).unwrap_or(i64::MAX)),
        policy.limit.rounding_unit,
    );
    if reduced < policy.limit.floor {
        notes.push(Reason::new(
            "O07_LIMIT_FLOOR",
            format!(
                "核减后额度{}元，低于最低授信额度{}元",
                yuan_plain(reduced),
                yuan_plain(policy.limit.floor)
            ),
        ));
        return Ok(OwnerCheck::Declined(notes));
    }
    Ok(OwnerCheck::Confirmed {
        limit: reduced,
        notes,
    })
}

// ---------------------------------------------------------------------------------------------
// Early warning
// ---------------------------------------------------------------------------------------------

/// What an early warning is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    /// Net orders falling.
    OrdersFalling,
    /// Return rate rising.
    ReturnsRising,
    /// Paying A集团 less or later.
    PaymentsLate,
    /// A集团 changed the distributor's standing.
    StatusChanged,
}

/// How serious a warning is; ordered `Watch < Lower < Freeze`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// For the relationship manager; changes nothing.
    Watch,
    /// Lower the limit.
    Lower,
    /// Freeze the line.
    Freeze,
}

/// One early warning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    /// What it is about.
    pub signal: Signal,
    /// How serious.
    pub severity: Severity,
    /// Chinese, with the figures, e.g. `"近3个月净订货额较去年同期下降32.5%"`.
    pub text: String,
}

/// What to do with the line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum Action {
    /// Nothing changes.
    Keep,
    /// Lower the limit to `limit` ([`crate::ledger::CreditLine::change_limit`]).
    Lower {
        /// The new limit.
        limit: Money,
    },
    /// Freeze the line ([`crate::ledger::CreditLine::freeze`]) with `reason`.
    Freeze {
        /// The Freeze-level warnings' texts joined with "；".
        reason: String,
    },
}

/// The result of [`early_warning`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Monitoring {
    /// The current features.
    pub features: TradeFeatures,
    /// Every warning, in rule order.
    pub warnings: Vec<Warning>,
    /// What to do.
    pub action: Action,
}

fn warn(
    warnings: &mut Vec<Warning>,
    signal: Signal,
    severity: Option<Severity>,
    text: impl FnOnce() -> String,
) {
    if let Some(severity) = severity {
        warnings.push(Warning {
            signal,
            severity,
            text: text(),
        });
    }
}

/// Watches an open line: the rules of the [module documentation](self#early-warning) on the
/// `current` facts against the `baseline` stored at approval, with the line's
/// `current_limit`.
///
/// When the current trade gives no features (fewer than [`MIN_TRADE_MONTHS`] months, months
/// missing, a negative amount) nothing can be watched, so the line is frozen
/// ("A集团交易数据不完整或有误，无法监测") and `features` is a copy of the `baseline`;
/// [`try_early_warning`] returns the error instead. A negative `current_limit` counts as zero.
pub fn early_warning(
    baseline: &TradeFeatures,
    current: &DistributorFacts,
    current_limit: Money,
    policy: &SupplyPolicy,
) -> Monitoring {
    try_early_warning(baseline, current, current_limit.max(Money::ZERO), policy).unwrap_or_else(
        |_| {
            let text = "A集团交易数据不完整或有误，无法监测".to_owned();
            Monitoring {
                features: baseline.clone(),
                warnings: vec![Warning {
                    signal: Signal::StatusChanged,
                    severity: Severity::Freeze,
                    text: text.clone(),
                }],
                action: Action::Freeze { reason: text },
            }
        },
    )
}

/// [`early_warning`], with unusable data as an error.
///
/// # Errors
///
/// Those of [`trade_features`] on `current`; [`SupplyError::NegativeAmount`] if
/// `current_limit` is negative.
pub fn try_early_warning(
    baseline: &TradeFeatures,
    current: &DistributorFacts,
    current_limit: Money,
    policy: &SupplyPolicy,
) -> Result<Monitoring, SupplyError> {
    if current_limit.is_negative() {
        return Err(SupplyError::NegativeAmount("current_limit"));
    }
    let features = trade_features(current)?;
    let rules = &policy.warning;
    let mut warnings = Vec::new();

    let orders = features.orders_ratio();
    let severity = if orders < rules.orders_freeze {
        Some(Severity::Freeze)
    } else if orders < rules.orders_lower {
        Some(Severity::Lower)
    } else if orders < rules.orders_watch {
        Some(Severity::Watch)
    } else {
        None
    };
    warn(&mut warnings, Signal::OrdersFalling, severity, || {
        format!(
            "近3个月净订货额较{}下降{}",
            features.orders_basis(),
            percent(Decimal::ONE - orders, 1)
        )
    });
    let (now, then) = (features.avg_net_orders_12m, baseline.avg_net_orders_12m);
    let vs_baseline = ratio(
        i128::from(now.fen()),
        i128::from(then.fen()),
        Decimal::ONE,
        false,
    );
    warn(
        &mut warnings,
        Signal::OrdersFalling,
        (vs_baseline < rules.orders_vs_baseline_lower).then_some(Severity::Lower),
        || {
            format!(
                "近12个月月均净订货额{}元，较授信时{}元下降{}",
                yuan_plain(now),
                yuan_plain(then),
                percent(Decimal::ONE - vs_baseline, 1)
            )
        },
    );

    let returns = features.return_rate_3m;
    let severity = if returns >= rules.return_freeze {
        Some(Severity::Freeze)
    } else if returns >= rules.return_lower {
        Some(Severity::Lower)
    } else {
        None
    };
    let threshold = if returns >= rules.return_freeze {
        rules.return_freeze
    } else {
        rules.return_lower
    };
    warn(&mut warnings, Signal::ReturnsRising, severity, || {
        format!(
            "近3个月退货率{}，达到{}",
            percent(returns, 2),
            percent_plain(threshold)
        )
    });
    let rise = returns - baseline.return_rate_3m;
    let severity = if rise >= rules.return_rise_lower {
        Some(Severity::Lower)
    } else if rise >= rules.return_rise_watch {
        Some(Severity::Watch)
    } else {
        None
    };
    warn(&mut warnings, Signal::ReturnsRising, severity, || {
        format!(
            "近3个月退货率{}，较授信时{}上升{}个百分点",
            percent(returns, 2),
            percent(baseline.return_rate_3m, 2),
            points_pp(rise)
        )
    });

    let pay = features.pay_ratio_3m;
    let severity = if pay < rules.pay_ratio_freeze {
        Some(Severity::Freeze)
    } else if pay < rules.pay_ratio_lower {
        Some(Severity::Lower)
    } else {
        None
    };
    let threshold = if pay < rules.pay_ratio_freeze {
        rules.pay_ratio_freeze
    } else {
        rules.pay_ratio_lower
    };
    warn(&mut warnings, Signal::PaymentsLate, severity, || {
        format!(
            "近3个月回款率{}，低于{}",
            percent(pay, 2),
            percent_plain(threshold)
        )
    });
    let late = features.avg_days_late_3m;
    let severity = if late >= Decimal::from(rules.days_late_freeze) {
        Some(Severity::Freeze)
    } else if late >= Decimal::from(rules.days_late_lower) {
        Some(Severity::Lower)
    } else {
        None
    };
    let threshold = if late >= Decimal::from(rules.days_late_freeze) {
        rules.days_late_freeze
    } else {
        rules.days_late_lower
    };
    let average_triggered = severity.is_some();
    warn(&mut warnings, Signal::PaymentsLate, severity, || {
        format!(
            "近3个月平均逾期{:.1}天，达到{}天",
            late.round_dp_with_strategy(1, RoundingStrategy::MidpointAwayFromZero),
            threshold
        )
    });
    warn(
        &mut warnings,
        Signal::PaymentsLate,
        (!average_triggered && features.max_days_late_3m >= rules.days_late_watch)
            .then_some(Severity::Watch),
        || format!("近3个月单月平均逾期最长{}天", features.max_days_late_3m),
    );

    let severity = match current.status {
        DistributorStatus::Active => None,
        DistributorStatus::Watch => Some(Severity::Lower),
        DistributorStatus::Suspended => Some(Severity::Freeze),
    };
    warn(
        &mut warnings,
        Signal::StatusChanged,
        severity,
        || match current.status {
            DistributorStatus::Suspended => "A集团已暂停对该经销商供货".to_owned(),
            _ => "A集团已将该经销商列为重点关注".to_owned(),
        },
    );

    let joined = |severity: Severity| {
        warnings
            .iter()
            .filter(|warning| warning.severity == severity)
            .map(|warning| warning.text.as_str())
            .collect::<Vec<_>>()
            .join("；")
    };
    let worst = warnings.iter().map(|warning| warning.severity).max();
    let action = match worst {
        Some(Severity::Freeze) => Action::Freeze {
            reason: joined(Severity::Freeze),
        },
        Some(Severity::Lower) => {
            let recomputed = policy.limit_for(features.avg_net_orders_12m, current.core_limit);
            let factored = current_limit
                .to_yuan()
                .checked_mul(rules.lower_factor)
                .and_then(|yuan| Money::from_yuan(yuan, Rounding::Down).ok())
                .unwrap_or(current_limit);
            let limit = round_down_to(recomputed.min(factored), policy.limit.rounding_unit);
            if limit < policy.limit.floor {
                let mut reason = joined(Severity::Lower);
                let _ = write!(
                    reason,
                    "；下调后额度{}元，低于最低授信额度{}元",
                    yuan_plain(limit),
                    yuan_plain(policy.limit.floor)
                );
                Action::Freeze { reason }
            } else {
                Action::Lower { limit }
            }
        }
        Some(Severity::Watch) | None => Action::Keep,
    };
    Ok(Monitoring {
        features,
        warnings,
        action,
    })
}

// ---------------------------------------------------------------------------------------------
// Sweep
// ---------------------------------------------------------------------------------------------

/// The part of a sales `receipt` swept to repay the line: `share_percent` % of it (at most
/// 100 %), **rounded down to the fen**, and at most `owed`. A negative receipt or amount owed
/// sweeps nothing.
///
/// 30 % of 12,345.67 yuan is 3,703.701 → 3,703.70 yuan.
pub fn sweep_amount(receipt: Money, share_percent: u32, owed: Money) -> Money {
    let share = i128::from(share_percent.min(100));
    let fen = i128::from(receipt.fen().max(0)) * share / 100;
    // At most the receipt, so it fits in i64.
    let swept = Money::from_fen(i64::try_from(fen).unwrap_or(i64::MAX));
    swept.min(owed.max(Money::ZERO))
}

// ---------------------------------------------------------------------------------------------
// Texts
// ---------------------------------------------------------------------------------------------

fn status_zh(status: DistributorStatus) -> &'static str {
    match status {
        DistributorStatus::Active => "正常合作",
        DistributorStatus::Watch => "重点关注",
        DistributorStatus::Suspended => "暂停供货",
    }
}

/// `0.9254` with 2 places → `"92.54%"`: rounded half away from zero, padded.
fn percent(fraction: Decimal, places: u32) -> String {
    let value = (fraction * Decimal::ONE_HUNDRED)
        .round_dp_with_strategy(places, RoundingStrategy::MidpointAwayFromZero);
    format!("{value:.prec$}%", prec = places as usize)
}

/// `0.95` → `"95%"`, `0.085` → `"8.5%"`: exact, without trailing zeros.
fn percent_plain(fraction: Decimal) -> String {
    format!("{}%", (fraction * Decimal::ONE_HUNDRED).normalize())
}

/// A difference of fractions in percentage points with 2 places: `0.0312` → `"3.12"`.
fn points_pp(difference: Decimal) -> String {
    let value = (difference * Decimal::ONE_HUNDRED)
        .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    format!("{value:.2}")
}

/// `10000.00` → `"10000"`, `1234.50` → `"1234.50"`.
fn yuan_plain(amount: Money) -> String {
    let text = amount.to_string();
    match text.strip_suffix(".00") {
        Some(whole) => whole.to_owned(),
        None => text,
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Watch => "watch",
            Self::Lower => "lower",
            Self::Freeze => "freeze",
        })
    }
}
