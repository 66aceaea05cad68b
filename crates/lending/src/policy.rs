//! The credit policy: hard rules and limits that an application must meet whatever its score.
//!
//! Rules are data: [`EMBEDDED_POLICY_TOML`] (the workspace's `config/lending-policy.toml`) is
//! parsed and validated once by [`CreditPolicy::embedded`]; another version in the same
//! layout is read with [`CreditPolicy::from_toml_str`]. Each policy carries a `version` and an
//! `effective_from` date, and every [`PolicyOutcome`] names the version that produced it.
//!
//! # Rules
//!
//! Every rule is evaluated, without stopping at the first failure, so that the decision
//! record lists every reason. Codes are stable.
//!
//! | Code | Fails when | Configured by |
//! |---|---|---|
//! | [`RuleCode::Age`] `P01_AGE` | age outside `[min_age, max_age]` (both included) | `hard.min_age`, `hard.max_age` |
//! | [`RuleCode::Dishonest`] `P02_DISHONEST` | the applicant is a 失信被执行人 | always on |
//! | [`RuleCode::Overdue`] `P03_OVERDUE` | current overdue days `> max_overdue_days` | `hard.max_overdue_days` |
//! | [`RuleCode::Inquiries`] `P04_INQUIRIES` | inquiries in 6 months `> max_inquiries_6m` | `hard.max_inquiries_6m` |
//! | [`RuleCode::DebtToIncome`] `P05_DTI` | debt-to-income `> max_dti_permille` ‰ | `hard.max_dti_permille` |
//! | [`RuleCode::CreditCap`] `P06_CREDIT_CAP` | no headroom left under the per-person/household cap | `limits.household_online_credit_cap` |
//! | [`RuleCode::MaxApr`] `P07_MAX_APR` | the offered APR is above the ceiling | `limits.max_apr` |
//!
//! `P07_MAX_APR` failing is a pricing or configuration error rather than something about the
//! applicant, but it is treated the same way: nothing is offered at that price.
//!
//! # Limit
//!
//! When every rule passes, [`PolicyOutcome::max_limit`] is the smallest of
//! - the headroom `household_online_credit_cap − existing_online_credit`,
//! - `product_max_limit`, and
//! - the amount the applicant asked for;
//!
//! when any rule fails it is zero. All of these are exact [`Money`] amounts, so no rounding
//! happens anywhere in this module.
//!
//! # Regulatory ceilings
//!
//! Two figures are regulatory and compiled in as ceilings that a configuration may tighten
//! but not loosen: [`REGULATORY_HOUSEHOLD_CAP`] (200,000.00 yuan of online consumer credit
//! per person/household) and [`REGULATORY_MAX_APR`] (24% APR). A policy file above either is
//! refused on parse.

use std::fmt;
use std::sync::OnceLock;

use bianmin_core::{Money, Rate};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::scorecard::Features;

/// The embedded policy: the workspace's `config/lending-policy.toml`.
pub const EMBEDDED_POLICY_TOML: &str = include_str!("../../../config/lending-policy.toml");

/// Highest total online consumer credit per person/household: 200,000.00 yuan.
pub const REGULATORY_HOUSEHOLD_CAP: Money = Money::from_fen(20_000_000);

/// Highest annualised rate, all fees included, that may be offered: 24% (`0.24`).
pub const REGULATORY_MAX_APR: Decimal = Decimal::from_parts(24, 0, 0, false, 2);

/// Youngest `min_age` a policy may set: full civil capacity.
const ADULT_AGE: u32 = 18;

/// Why a policy could not be loaded or applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The policy file does not parse, misses or misnames a key, or breaks a constraint
    /// (ages out of order, a cap above the regulatory ceiling…).
    #[error("invalid lending policy: {0}")]
    InvalidPolicy(String),
    /// The application's amounts cannot be evaluated (a negative existing credit, a requested
    /// amount that is not positive).
    #[error("invalid policy input: {0}")]
    InvalidInput(String),
}

impl PolicyError {
    /// Stable machine-readable code: `"lending.invalid_policy"` or
    /// `"lending.invalid_policy_input"`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidPolicy(_) => "lending.invalid_policy",
            Self::InvalidInput(_) => "lending.invalid_policy_input",
        }
    }
}

/// The hard rules (`[hard]`): failing any one rejects the application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HardRules {
    /// Youngest accepted age in whole years (included); at least 18.
    pub min_age: u32,
    /// Oldest accepted age in whole years (included); at least `min_age`.
    pub max_age: u32,
    /// Current overdue days above this reject; 0 rejects any current overdue.
    pub max_overdue_days: u32,
    /// Credit-report inquiries in the last 6 months above this reject.
    pub max_inquiries_6m: u32,
    /// Debt-to-income ratio (‰) above this rejects; at most 2,000 (the feature's cap).
    pub max_dti_permille: u32,
}

/// The limit and price rules (`[limits]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitRules {
    /// Total online consumer credit limits per person/household at this bank; positive and
    /// at most [`REGULATORY_HOUSEHOLD_CAP`].
    pub household_online_credit_cap: Money,
    /// Highest single line of this product; positive and at most the household cap.
    pub product_max_limit: Money,
    /// Highest APR (fees included) that may be offered; positive and at most
    /// [`REGULATORY_MAX_APR`].
    pub max_apr: Rate,
}

/// The file layout; `deny_unknown_fields` refuses misspelt keys.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    version: String,
    effective_from: NaiveDate,
    hard: HardRules,
    limits: LimitRules,
}

/// A validated, versioned credit policy.
///
/// Only [`CreditPolicy::from_toml_str`] and [`CreditPolicy::embedded`] make one, so every
/// policy that exists has passed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditPolicy {
    version: String,
    effective_from: NaiveDate,
    hard: HardRules,
    limits: LimitRules,
}

/// What the policy needs to know about one application.
///
/// The applicant fields mean what the [`Features`] of the same name mean (see
/// [`crate::features`] for their sources); [`PolicyInput::from_features`] copies them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolicyInput {
    /// Age in whole years on the application date.
    pub age: u32,
    /// Listed as a 失信被执行人 (dishonest judgment debtor).
    pub dishonest: bool,
    /// Days the worst current overdue has run; 0 if nothing is overdue.
    pub overdue_days: u32,
    /// Credit-report inquiries in the last 6 months.
    pub inquiries_6m: u32,
    /// Monthly debt repayments over monthly income, per mille.
    pub dti_permille: u32,
    /// The applicant's (and household's, where known) current online consumer credit limits
    /// at this bank: granted limits, not drawn balances. Not negative.
    pub existing_online_credit: Money,
    /// The line the applicant asked for. Positive.
    pub requested_amount: Money,
    /// The price to be offered as an annualised rate with every fee included (the APR of
    /// [`crate::interest::apr_irr`]), not the nominal rate.
    pub annual_rate: Rate,
}

impl PolicyInput {
    /// The applicant fields from the scorecard's `features`, with the application's amounts
    /// and price.
    pub fn from_features(
        features: &Features,
        existing_online_credit: Money,
        requested_amount: Money,
        annual_rate: Rate,
    ) -> Self {
        Self {
            age: features.age,
            dishonest: features.dishonest,
            overdue_days: features.overdue_days,
            inquiries_6m: features.inquiries_6m,
            dti_permille: features.dti_permille,
            existing_online_credit,
            requested_amount,
            annual_rate,
        }
    }
}

/// A policy rule's stable code; serialised as the code string (`"P01_AGE"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum RuleCode {
    /// `P01_AGE`: age within the accepted band.
    #[serde(rename = "P01_AGE")]
    Age,
    /// `P02_DISHONEST`: not a 失信被执行人.
    #[serde(rename = "P02_DISHONEST")]
    Dishonest,
    /// `P03_OVERDUE`: no current overdue beyond the allowed days.
    #[serde(rename = "P03_OVERDUE")]
    Overdue,
    /// `P04_INQUIRIES`: not too many recent credit inquiries.
    #[serde(rename = "P04_INQUIRIES")]
    Inquiries,
    /// `P05_DTI`: debt-to-income within the ceiling.
    #[serde(rename = "P05_DTI")]
    DebtToIncome,
    /// `P06_CREDIT_CAP`: headroom left under the per-person/household online credit cap.
    #[serde(rename = "P06_CREDIT_CAP")]
    CreditCap,
    /// `P07_MAX_APR`: the offered price within the APR ceiling.
    #[serde(rename = "P07_MAX_APR")]
    MaxApr,
}

impl RuleCode {
    /// Every rule, in evaluation (and code) order.
    pub const ALL: [RuleCode; 7] = [
        Self::Age,
        Self::Dishonest,
        Self::Overdue,
        Self::Inquiries,
        Self::DebtToIncome,
        Self::CreditCap,
        Self::MaxApr,
    ];

    /// The stable code, e.g. `"P01_AGE"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Age => "P01_AGE",
            Self::Dishonest => "P02_DISHONEST",
            Self::Overdue => "P03_OVERDUE",
            Self::Inquiries => "P04_INQUIRIES",
            Self::DebtToIncome => "P05_DTI",
            Self::CreditCap => "P06_CREDIT_CAP",
            Self::MaxApr => "P07_MAX_APR",
        }
    }
}

impl fmt::Display for RuleCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One rule's verdict on one application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleResult {
    /// Which rule.
    pub code: RuleCode,
    /// Whether the application meets it.
    pub passed: bool,
    /// The reason shown to the applicant when the rule failed, e.g.
    /// "年龄不在 22 至 55 周岁之间"; `None` when it passed.
    pub reason_zh: Option<String>,
    /// The values compared, for the decision record and staff (never shown to the applicant):
    /// e.g. `"age 21, accepted 22..=55"`.
    pub detail: String,
}

/// The policy's verdict on one application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyOutcome {
    /// Whether every rule passed.
    pub passed: bool,
    /// Every rule's result, in [`RuleCode::ALL`] order, passed or not.
    pub results: Vec<RuleResult>,
    /// The highest line that may be offered (see the [module documentation](self)); zero
    /// unless [`PolicyOutcome::passed`].
    pub max_limit: Money,
    /// The [`CreditPolicy::version`] that was applied.
    pub policy_version: String,
}

impl PolicyOutcome {
    /// The rules that failed, in code order: the reasons to record and show.
    pub fn failed(&self) -> Vec<&RuleResult> {
        self.results
            .iter()
            .filter(|result| !result.passed)
            .collect()
    }
}

impl CreditPolicy {
    /// The shipped policy ([`EMBEDDED_POLICY_TOML`], compiled in), parsed once.
    ///
    /// # Errors
    ///
    /// If the compiled-in file is not a valid policy (a build problem, not an input one).
    pub fn embedded() -> Result<&'static CreditPolicy, PolicyError> {
        static EMBEDDED: OnceLock<Result<CreditPolicy, PolicyError>> = OnceLock::new();
        EMBEDDED
            .get_or_init(|| CreditPolicy::from_toml_str(EMBEDDED_POLICY_TOML))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Parses and validates a policy in the layout of `config/lending-policy.toml`.
    ///
    /// # Errors
    ///
    /// [`PolicyError::InvalidPolicy`] (code `lending.invalid_policy`) if the text is not TOML,
    /// a value has a float where amounts and rates must be strings (`max_apr = "0.24"`), a
    /// key is missing or unknown, a value has the wrong type or
    /// format, or a constraint fails: `version` empty, `min_age` below 18 or above `max_age`,
    /// `max_dti_permille` above 2,000, a cap not positive, `household_online_credit_cap`
    /// above [`REGULATORY_HOUSEHOLD_CAP`], `product_max_limit` above the household cap,
    /// `max_apr` zero or above [`REGULATORY_MAX_APR`].
    pub fn from_toml_str(text: &str) -> Result<CreditPolicy, PolicyError> {
        let file: PolicyFile =
            toml::from_str(text).map_err(|error| PolicyError::InvalidPolicy(error.to_string()))?;
        let policy = CreditPolicy {
            version: file.version,
            effective_from: file.effective_from,
            hard: file.hard,
            limits: file.limits,
        };
        policy.validate()?;
        Ok(policy)
    }

    fn validate(&self) -> Result<(), PolicyError> {
        let invalid = |message: String| Err(PolicyError::InvalidPolicy(message));
        let (hard, limits) = (&self.hard, &self.limits);
        if self.version.trim().is_empty() {
            return invalid("`version` is empty".into());
        }
        if hard.min_age < ADULT_AGE {
            return invalid(format!(
                "`hard.min_age` {} is below {ADULT_AGE}",
                hard.min_age
            ));
        }
        if hard.min_age > hard.max_age {
            return invalid(format!(
                "`hard.min_age` {} is above `hard.max_age` {}",
                hard.min_age, hard.max_age
            ));
        }
        if hard.max_dti_permille > 2_000 {
            return invalid(format!(
                "`hard.max_dti_permille` {} is above 2000 (the feature's cap)",
                hard.max_dti_permille
            ));
        }
        if !limits.household_online_credit_cap.is_positive() {
            return invalid("`limits.household_online_credit_cap` must be positive".into());
        }
        if limits.household_online_credit_cap > REGULATORY_HOUSEHOLD_CAP {
            return invalid(format!(
                "`limits.household_online_credit_cap` {} is above the regulatory {}",
                limits.household_online_credit_cap, REGULATORY_HOUSEHOLD_CAP
            ));
        }
        if !limits.product_max_limit.is_positive() {
            return invalid("`limits.product_max_limit` must be positive".into());
        }
        if limits.product_max_limit > limits.household_online_credit_cap {
            return invalid(format!(
                "`limits.product_max_limit` {} is above `limits.household_online_credit_cap` {}",
                limits.product_max_limit, limits.household_online_credit_cap
            ));
        }
        if limits.max_apr == Rate::ZERO {
            return invalid("`limits.max_apr` must be positive".into());
        }
        if limits.max_apr.as_decimal() > REGULATORY_MAX_APR {
            return invalid(format!(
                "`limits.max_apr` {} is above the regulatory {REGULATORY_MAX_APR}",
                limits.max_apr
            ));
        }
        Ok(())
    }

    /// The policy's version, e.g. `"shandiandai-policy-2025.1"`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The first day the policy applies.
    pub fn effective_from(&self) -> NaiveDate {
        self.effective_from
    }

    /// Whether the policy applies on `date` (on or after [`CreditPolicy::effective_from`]).
    pub fn is_effective_on(&self, date: NaiveDate) -> bool {
        date >= self.effective_from
    }

    /// The hard rules.
    pub fn hard(&self) -> &HardRules {
        &self.hard
    }

    /// The limit and price rules.
    pub fn limits(&self) -> &LimitRules {
        &self.limits
    }

    /// Applies every rule to `input`; see the [module documentation](self).
    ///
    /// # Errors
    ///
    /// [`PolicyError::InvalidInput`] if `existing_online_credit` is negative or
    /// `requested_amount` is not positive.
    pub fn evaluate(&self, input: &PolicyInput) -> Result<PolicyOutcome, PolicyError> {
        if input.existing_online_credit.is_negative() {
            return Err(PolicyError::InvalidInput(format!(
                "existing_online_credit {} is negative",
                input.existing_online_credit
            )));
        }
        if !input.requested_amount.is_positive() {
            return Err(PolicyError::InvalidInput(format!(
                "requested_amount {} is not positive",
                input.requested_amount
            )));
        }
        let (hard, limits) = (&self.hard, &self.limits);

        // Both amounts are in [0, i64::MAX], so the difference cannot overflow.
        let headroom = limits
            .household_online_credit_cap
            .checked_sub(input.existing_online_credit)
            .map_err(|error| PolicyError::InvalidInput(error.to_string()))?
            .max(Money::ZERO);

        let results = vec![
            rule(
                RuleCode::Age,
                (hard.min_age..=hard.max_age).contains(&input.age),
                || format!("年龄不在 {} 至 {} 周岁之间", hard.min_age, hard.max_age),
                format!(
                    "age {}, accepted {}..={}",
                    input.age, hard.min_age, hard.max_age
                ),
            ),
            rule(
                RuleCode::Dishonest,
                !input.dishonest,
                || "申请人被列为失信被执行人".to_owned(),
                format!("dishonest {}", input.dishonest),
            ),
            rule(
                RuleCode::Overdue,
                input.overdue_days <= hard.max_overdue_days,
                || {
                    if hard.max_overdue_days == 0 {
                        "当前有逾期未还的款项".to_owned()
                    } else {
                        format!("当前逾期超过 {} 天", hard.max_overdue_days)
                    }
                },
                format!(
                    "overdue_days {}, at most {}",
                    input.overdue_days, hard.max_overdue_days
                ),
            ),
            rule(
                RuleCode::Inquiries,
                input.inquiries_6m <= hard.max_inquiries_6m,
                || format!("近 6 个月征信查询次数超过 {} 次", hard.max_inquiries_6m),
                format!(
                    "inquiries_6m {}, at most {}",
                    input.inquiries_6m, hard.max_inquiries_6m
                ),
            ),
            rule(
                RuleCode::DebtToIncome,
                input.dti_permille <= hard.max_dti_permille,
                || {
                    format!(
                        "月还款额占收入比例超过 {}",
                        permille_as_percent(hard.max_dti_permille)
                    )
                },
                format!(
                    "dti_permille {}, at most {}",
                    input.dti_permille, hard.max_dti_permille
                ),
            ),
            rule(
                RuleCode::CreditCap,
                headroom.is_positive(),
                || {
                    format!(
                        "您在本行的网络消费贷款额度已达 {} 元上限",
                        yuan_plain(limits.household_online_credit_cap)
                    )
                },
                format!(
                    "existing_online_credit {}, cap {}, headroom {}",
                    input.existing_online_credit, limits.household_online_credit_cap, headroom
                ),
            ),
            rule(
                RuleCode::MaxApr,
                input.annual_rate <= limits.max_apr,
                || {
                    format!(
                        "本次定价超过年化利率 {} 的上限，暂无法提供借款",
                        rate_as_percent(limits.max_apr)
                    )
                },
                format!(
                    "annual_rate {}, at most {}",
                    input.annual_rate, limits.max_apr
                ),
            ),
        ];

        let passed = results.iter().all(|result| result.passed);
        let max_limit = if passed {
            headroom
                .min(limits.product_max_limit)
                .min(input.requested_amount)
        } else {
            Money::ZERO
        };
        Ok(PolicyOutcome {
            passed,
            results,
            max_limit,
            policy_version: self.version.clone(),
        })
    }
}

fn rule(
    code: RuleCode,
    passed: bool,
    reason_zh: impl FnOnce() -> String,
    detail: String,
) -> RuleResult {
    RuleResult {
        code,
        passed,
        reason_zh: (!passed).then(reason_zh),
        detail,
    }
}

/// `500` → `"50%"`, `555` → `"55.5%"`.
fn permille_as_percent(permille: u32) -> String {
    match permille % 10 {
        0 => format!("{}%", permille / 10),
        tenth => format!("{}.{tenth}%", permille / 10),
    }
}

/// `0.24` → `"24%"`, `0.235` → `"23.5%"`: exact, without trailing zeros.
fn rate_as_percent(rate: Rate) -> String {
    let shown = rate.to_percent_string(26);
    let number = shown.trim_end_matches('%');
    let number = if number.contains('.') {
        number.trim_end_matches('0').trim_end_matches('.')
    } else {
        number
    };
    format!("{number}%")
}

/// `200000.00` → `"200000"`, `1234.50` → `"1234.50"`: whole yuan without the decimals.
fn yuan_plain(amount: Money) -> String {
    let text = amount.to_string();
    match text.strip_suffix(".00") {
        Some(whole) => whole.to_owned(),
        None => text,
    }
}
