//! 公积金贷款试算: repayment schedules and the maximum-amount estimate (可贷额度).
//!
//! # Repayment schedule ([`schedule`])
//!
//! Amounts are [`Money`] (whole fen); every intermediate value is an exact [`Decimal`] or,
//! where a division cannot be exact, a `Decimal` with 28 significant digits. Nothing is a
//! float. The rules, and every rounding in them:
//!
//! * **Monthly rate** `r = annual ÷ 12`. Each month's **interest** is
//!   `remaining × annual ÷ 12`, multiplied first so that only the division by 12 is inexact
//!   (at the 28th significant digit), then rounded **half up to the fen** (四舍五入).
//! * **等额本息** ([`RepaymentMethod::EqualInstalment`]): the regular payment
//!   `A = P·r·(1+r)ⁿ / ((1+r)ⁿ − 1)` is computed in `Decimal` (the power by repeated
//!   multiplication) and rounded **half up to the fen**. Each month the principal part is
//!   `A − interest`; the **last** month repays whatever principal remains, so its payment is
//!   `remaining + interest` and the remaining principal ends at exactly 0. Because `A` is
//!   off by up to ½ fen and the shortfall or excess compounds at `r` for the whole term, the
//!   last payment can differ from `A` by more than a few fen: for 1,000,000.00 元 over 360
//!   months at 3.1 % the regular payment is 4,270.16 元 (exactly 4,270.1639…) and the last
//!   4,272.59 元. The difference is bounded by `1 fen × ((1+r)ⁿ − 1) / r`.
//! * **等额本金** ([`RepaymentMethod::EqualPrincipal`]): the principal part is `P ÷ n`
//!   rounded **half up to the fen**; the last month takes the remainder. The payment is the
//!   principal part plus that month's interest.
//! * **Rate 0**: no interest; both methods split the principal into `P ÷ n` rounded half up
//!   to the fen, the last month taking the remainder.
//! * Totals are exact sums of the rounded monthly figures, so `total_paid = principal +
//!   total_interest` and the principal parts add up to the principal to the fen.
//!
//! The calculator accepts 10,000.00 元 to 100,000,000.00 元, 12 to 360 months and annual
//! rates from 0 to 15 %. Within that range the rounding drift above cannot make a principal
//! part or the remaining principal zero or negative before the last month: the drift bound
//! stays below the last month's principal for any principal above about 5,500 元 at the
//! worst corner, 15 % over 360 months. (Should it happen anyway, the result is
//! [`HpfError::ScheduleDegenerate`], never a wrong schedule.)
//!
//! # Maximum amount ([`LoanRules::estimate_quota`])
//!
//! The estimate is the smallest of four limits, each computed to the fen and rounded **down**
//! (a limit must never be exceeded), and then rounded down to a multiple of the configured
//! `amount_unit` (100 元 in the demo configuration):
//!
//! * (a) **最高贷款额度** — the cap for the household type ([`BorrowerType`]) and home order
//!   ([`HomeOrder`]);
//! * (b) **缴存余额倍数** — the account balance times a multiple;
//! * (c) **还款能力** — the monthly payment limit is the monthly deposit base (standing in
//!   for income) times a share, rounded down to the fen; the limit is the largest principal
//!   in fen whose regular payment (等额本息) or first payment (等额本金, its largest) does
//!   not exceed it, both before rounding and as rounded by the schedule's rules. It starts
//!   from the closed forms, in `Decimal` and rounded down to the fen:
//!   `limit × ((1+r)ⁿ − 1) / (r·(1+r)ⁿ)` for 等额本息, `limit × n / (1 + n·r)` for 等额本金,
//!   `limit × n` at rate 0;
//! * (d) **贷款成数** — the house price times the loan-to-value ratio.
//!
//! The binding limit is returned as a [`QuotaLimit`] with a stable code and a Chinese
//! reason; on a tie the earlier limit in the order above is named. The term is at most
//! `min(max_term_months, (max_age_at_maturity − age) × 12)` months, the age being in whole
//! years (周岁). The rate, unless the caller gives one, is the configured rate for the home
//! order and term (the first tier whose `up_to_months` covers the term).
//!
//! # Rules
//!
//! Rules are data: [`EMBEDDED_RULES_TOML`] (the workspace's `config/hpf-rules.toml`) is parsed
//! and validated once by [`LoanRules::embedded`]; [`LoanRules::from_toml_str`] parses an
//! alternative rule set in the same layout. Every figure in the embedded file except the
//! rates is **illustrative demo configuration, not the official rules** of the
//! 成都住房公积金管理中心; the rates are the announced 公积金 loan rates as of 2025-05-08
//! (首套 ≤5 年 2.1 %、>5 年 2.6 %；二套 ≤5 年 2.525 %、>5 年 3.075 %).
//!
//! This module also holds what the 公积金 modules share: the error type [`HpfError`] and the
//! rule-set header [`RulesMeta`].

use std::ops::Range;
use std::sync::LazyLock;

use bianmin_core::{Money, MoneyError, Rate, Rounding};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// The embedded rule set: the workspace's `config/hpf-rules.toml`, for loans and withdrawals.
pub const EMBEDDED_RULES_TOML: &str = include_str!("../../../../config/hpf-rules.toml");

/// Shortest term the calculator accepts, in months.
pub const MIN_TERM_MONTHS: u32 = 12;
/// Longest term the calculator accepts, in months (30 years).
pub const MAX_TERM_MONTHS: u32 = 360;
/// Smallest principal the calculator accepts: 10,000.00 元.
pub const MIN_PRINCIPAL: Money = Money::from_fen(1_000_000);
/// Largest principal the calculator accepts: 100,000,000.00 元.
pub const MAX_PRINCIPAL: Money = Money::from_fen(10_000_000_000);
/// Highest annual rate the calculator accepts: 0.15 (15 %).
pub const MAX_ANNUAL_RATE: Decimal = Decimal::from_parts(15, 0, 0, false, 2);

const TWELVE: Decimal = Decimal::from_parts(12, 0, 0, false, 0);

/// An error of the 公积金 calculators and rule sets. The HTTP layer maps it to
/// `application/problem+json`: [`HpfError::code`] is the stable machine-readable part and
/// `Display` (Simplified Chinese) the `detail`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HpfError {
    /// The term is outside the accepted range.
    #[error("贷款期限须为 {min} 至 {max} 个月，实际为 {found} 个月")]
    InvalidTerm {
        /// Term given, in months.
        found: u32,
        /// Shortest accepted term, in months.
        min: u32,
        /// Longest accepted term, in months.
        max: u32,
    },
    /// The term runs past the age limit at maturity.
    #[error("按借款人年龄，贷款期限最长为 {max} 个月，所选期限为 {requested} 个月")]
    TermExceedsAgeLimit {
        /// Term asked for, in months.
        requested: u32,
        /// Longest term the borrower's age allows, in months.
        max: u32,
    },
    /// An amount is out of range (zero, negative, too large).
    #[error("{field}{requirement}")]
    InvalidAmount {
        /// Which amount, in Chinese (e.g. `贷款金额`).
        field: &'static str,
        /// What it must be, in Chinese (e.g. `须大于 0`).
        requirement: String,
    },
    /// The annual rate is above [`MAX_ANNUAL_RATE`].
    #[error("年利率须在 0% 至 15% 之间，实际为 {}", percent(.found.as_decimal()))]
    InvalidRate {
        /// Rate given.
        found: Rate,
    },
    /// The borrower is too young, or too old for even the shortest term.
    #[error(
        "借款人年龄 {age} 周岁不符合贷款条件：须年满 {min_age} 周岁，且 {min_term} 个月的最短期限须在 {max_age} 周岁前到期"
    )]
    AgeNotEligible {
        /// Age given, in whole years.
        age: u32,
        /// Youngest age allowed.
        min_age: u32,
        /// Age by which the loan must be repaid.
        max_age: u32,
        /// Shortest term, in months.
        min_term: u32,
    },
    /// The account facts contradict each other or are out of range.
    #[error("账户信息无效：{detail}")]
    InvalidFacts {
        /// What is wrong, in Chinese.
        detail: String,
    },
    /// The rule set does not offer this withdrawal purpose.
    #[error("本地未开办{name}业务")]
    PurposeNotOffered {
        /// The purpose's Chinese name.
        name: String,
    },
    /// A rule set failed to parse or validate.
    #[error("公积金规则配置无效：{detail}")]
    InvalidRules {
        /// What is wrong and where, in Chinese.
        detail: String,
    },
    /// The schedule would pay off early or never amortise. Cannot happen within the
    /// calculator's accepted range; kept as an error rather than a panic.
    #[error("按此金额、期限和利率无法生成有效的还款计划")]
    ScheduleDegenerate,
    /// An amount left the representable range.
    #[error("金额超出可计算的范围")]
    Overflow,
}

impl HpfError {
    /// Stable machine-readable code, e.g. `"hpf.invalid_term"`; never renamed.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidTerm { .. } => "hpf.invalid_term",
            Self::TermExceedsAgeLimit { .. } => "hpf.term_exceeds_age_limit",
            Self::InvalidAmount { .. } => "hpf.invalid_amount",
            Self::InvalidRate { .. } => "hpf.invalid_rate",
            Self::AgeNotEligible { .. } => "hpf.age_not_eligible",
            Self::InvalidFacts { .. } => "hpf.invalid_facts",
            Self::PurposeNotOffered { .. } => "hpf.purpose_not_offered",
            Self::InvalidRules { .. } => "hpf.invalid_rules",
            Self::ScheduleDegenerate => "hpf.schedule_degenerate",
            Self::Overflow => "hpf.overflow",
        }
    }

    /// An [`HpfError::InvalidRules`] with the given detail.
    pub(super) fn rules(detail: impl Into<String>) -> Self {
        Self::InvalidRules {
            detail: detail.into(),
        }
    }
}

/// Checked arithmetic in this crate only fails by overflow.
fn overflow(_: MoneyError) -> HpfError {
    HpfError::Overflow
}

// ---------------------------------------------------------------------------------------
// Rule-set header, shared with `withdrawal`
// ---------------------------------------------------------------------------------------

/// The header of a rule set: which version, from when, for where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RulesMeta {
    /// Version label, e.g. `chengdu-demo-2025.1`; echoed in every result.
    pub version: String,
    /// First day the rules apply.
    pub effective_from: NaiveDate,
    /// Region the rules are for, e.g. `成都`.
    pub region: String,
    /// Notice to show with results (for the demo configuration: that the figures are
    /// illustrative).
    pub notice: String,
}

/// The header fields as written in TOML, before validation.
#[derive(Debug, Deserialize)]
pub(super) struct RawMeta {
    version: String,
    effective_from: String,
    region: String,
    notice: String,
}

impl RawMeta {
    pub(super) fn validate(self) -> Result<RulesMeta, HpfError> {
        let non_empty = |value: String, key: &str| {
            if value.trim().is_empty() {
                Err(HpfError::rules(format!("{key} 不能为空")))
            } else {
                Ok(value)
            }
        };
        Ok(RulesMeta {
            version: non_empty(self.version, "version")?,
            effective_from: parse_date(&self.effective_from, "effective_from")?,
            region: non_empty(self.region, "region")?,
            notice: non_empty(self.notice, "notice")?,
        })
    }
}

fn parse_date(value: &str, key: &str) -> Result<NaiveDate, HpfError> {
    NaiveDate::parse_from_str(value, "%Y-%m-%d").map_err(|_| {
        HpfError::rules(format!(
            "{key} 须为 YYYY-MM-DD 格式的日期，实际为 {value:?}"
        ))
    })
}

/// Deserialises a rule file, turning TOML and field errors into [`HpfError::InvalidRules`]
/// with the line number.
pub(super) fn parse_toml<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, HpfError> {
    toml::from_str(text).map_err(|error| {
        let line = error
            .span()
            .and_then(|Range { start, .. }| text.get(..start))
            .map(|before| before.matches('\n').count() + 1);
        let message = error.message().trim();
        HpfError::rules(match line {
            Some(line) => format!("第 {line} 行：{message}"),
            None => message.to_owned(),
        })
    })
}

/// `1234567.8` → `1,234,567.80 元`.
pub(super) fn yuan(amount: Money) -> String {
    format!("{} 元", amount.format_cny().replacen('¥', "", 1))
}

/// `0.026` → `2.6%`.
fn percent(fraction: Decimal) -> String {
    match fraction.checked_mul(Decimal::ONE_HUNDRED) {
        Some(hundredths) => format!("{}%", hundredths.normalize()),
        None => format!("{fraction}"),
    }
}

// ---------------------------------------------------------------------------------------
// Repayment schedule
// ---------------------------------------------------------------------------------------

/// How the loan is repaid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RepaymentMethod {
    /// 等额本息: equal monthly payments (the last one adjusted).
    EqualInstalment,
    /// 等额本金: equal principal parts, interest on the remaining principal.
    EqualPrincipal,
}

impl RepaymentMethod {
    /// The Chinese name: `等额本息` or `等额本金`.
    pub fn name_zh(self) -> &'static str {
        match self {
            Self::EqualInstalment => "等额本息",
            Self::EqualPrincipal => "等额本金",
        }
    }
}

/// What to compute a schedule for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoanTerms {
    /// Amount borrowed, [`MIN_PRINCIPAL`]..=[`MAX_PRINCIPAL`].
    pub principal: Money,
    /// Term in months, [`MIN_TERM_MONTHS`]..=[`MAX_TERM_MONTHS`].
    pub term_months: u32,
    /// Annual rate as a fraction (`0.031` for 3.1 %), at most [`MAX_ANNUAL_RATE`].
    pub annual_rate: Rate,
    /// Repayment method.
    pub method: RepaymentMethod,
}

impl LoanTerms {
    /// Checks the terms against the calculator's accepted range.
    pub fn validate(&self) -> Result<(), HpfError> {
        if !(MIN_TERM_MONTHS..=MAX_TERM_MONTHS).contains(&self.term_months) {
            return Err(HpfError::InvalidTerm {
                found: self.term_months,
                min: MIN_TERM_MONTHS,
                max: MAX_TERM_MONTHS,
            });
        }
        if !(MIN_PRINCIPAL..=MAX_PRINCIPAL).contains(&self.principal) {
            return Err(HpfError::InvalidAmount {
                field: "贷款金额",
                requirement: format!(
                    "须在 {}至 {}之间，实际为 {}",
                    yuan(MIN_PRINCIPAL),
                    yuan(MAX_PRINCIPAL),
                    yuan(self.principal)
                ),
            });
        }
        check_rate(self.annual_rate)
    }
}

fn check_rate(rate: Rate) -> Result<(), HpfError> {
    if rate.as_decimal() > MAX_ANNUAL_RATE {
        return Err(HpfError::InvalidRate { found: rate });
    }
    Ok(())
}

/// One month of a schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Instalment {
    /// Month number, from 1.
    pub month: u32,
    /// Payment this month: `principal + interest`.
    pub payment: Money,
    /// Principal repaid this month.
    pub principal: Money,
    /// Interest this month: the remaining principal before it × monthly rate, half up.
    pub interest: Money,
    /// Principal still owed after this month; 0 after the last.
    pub remaining: Money,
}

/// A complete repayment schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RepaymentSchedule {
    /// The terms it was computed for.
    pub terms: LoanTerms,
    /// `annual_rate ÷ 12`, to 28 significant digits (for display; interest is computed as
    /// `remaining × annual ÷ 12`).
    pub monthly_rate: Decimal,
    /// Every month, in order.
    pub instalments: Vec<Instalment>,
    /// Sum of the interest parts.
    pub total_interest: Money,
    /// Sum of the payments: principal + total interest.
    pub total_paid: Money,
    /// The first month's payment (the regular payment for 等额本息, the largest for 等额本金).
    pub first_payment: Money,
    /// The last month's payment, which absorbs the rounding.
    pub last_payment: Money,
}

/// Computes the full repayment schedule under the rules in the [module docs](self).
///
/// Fails with [`HpfError::InvalidTerm`], [`HpfError::InvalidAmount`] or
/// [`HpfError::InvalidRate`] outside the accepted range.
pub fn schedule(terms: &LoanTerms) -> Result<RepaymentSchedule, HpfError> {
    terms.validate()?;
    let LoanTerms {
        principal,
        term_months,
        annual_rate,
        method,
    } = *terms;
    let annual = annual_rate.as_decimal();
    let regular = match method {
        RepaymentMethod::EqualInstalment => level_payment(principal, term_months, annual)?,
        RepaymentMethod::EqualPrincipal => principal_split(principal, term_months)?,
    };
    let mut remaining = principal;
    let mut instalments = Vec::with_capacity(term_months as usize);
    for month in 1..=term_months {
        let interest = monthly_interest(remaining, annual)?;
        let principal_part = if month == term_months {
            remaining
        } else if method == RepaymentMethod::EqualInstalment && !annual.is_zero() {
            regular.checked_sub(interest).map_err(overflow)?
        } else {
            regular
        };
        let last = month == term_months;
        if !principal_part.is_positive() || principal_part > remaining {
            return Err(HpfError::ScheduleDegenerate);
        }
        if !last && principal_part == remaining {
            return Err(HpfError::ScheduleDegenerate);
        }
        remaining = remaining.checked_sub(principal_part).map_err(overflow)?;
        instalments.push(Instalment {
            month,
            payment: principal_part.checked_add(interest).map_err(overflow)?,
            principal: principal_part,
            interest,
            remaining,
        });
    }
    let total_interest =
        Money::try_sum(instalments.iter().map(|i| i.interest)).map_err(overflow)?;
    let total_paid = Money::try_sum(instalments.iter().map(|i| i.payment)).map_err(overflow)?;
    let first_payment = instalments.first().map_or(Money::ZERO, |i| i.payment);
    let last_payment = instalments.last().map_or(Money::ZERO, |i| i.payment);
    Ok(RepaymentSchedule {
        terms: *terms,
        monthly_rate: annual.checked_div(TWELVE).ok_or(HpfError::Overflow)?,
        instalments,
        total_interest,
        total_paid,
        first_payment,
        last_payment,
    })
}

/// `remaining × annual ÷ 12`, half up to the fen.
fn monthly_interest(remaining: Money, annual: Decimal) -> Result<Money, HpfError> {
    let exact = remaining
        .to_yuan()
        .checked_mul(annual)
        .and_then(|yearly| yearly.checked_div(TWELVE))
        .ok_or(HpfError::Overflow)?;
    Money::from_yuan(exact, Rounding::HalfUp).map_err(overflow)
}

/// `principal ÷ months`, half up to the fen.
fn principal_split(principal: Money, months: u32) -> Result<Money, HpfError> {
    let exact = principal
        .to_yuan()
        .checked_div(Decimal::from(months))
        .ok_or(HpfError::Overflow)?;
    Money::from_yuan(exact, Rounding::HalfUp).map_err(overflow)
}

/// The 等额本息 payment `P·r·(1+r)ⁿ / ((1+r)ⁿ − 1)`, half up to the fen; `P ÷ n` at rate 0.
fn level_payment(principal: Money, months: u32, annual: Decimal) -> Result<Money, HpfError> {
    if annual.is_zero() {
        return principal_split(principal, months);
    }
    let rate = annual.checked_div(TWELVE).ok_or(HpfError::Overflow)?;
    let growth = growth_factor(rate, months)?;
    let exact = principal
        .to_yuan()
        .checked_mul(rate)
        .and_then(|p| p.checked_mul(growth))
        .and_then(|p| p.checked_div(growth.checked_sub(Decimal::ONE)?))
        .ok_or(HpfError::Overflow)?;
    Money::from_yuan(exact, Rounding::HalfUp).map_err(overflow)
}

/// `(1 + rate)^months` by repeated squaring, in `Decimal`.
fn growth_factor(rate: Decimal, months: u32) -> Result<Decimal, HpfError> {
    let mut base = Decimal::ONE.checked_add(rate).ok_or(HpfError::Overflow)?;
    let mut exponent = months;
    let mut result = Decimal::ONE;
    while exponent > 0 {
        if exponent & 1 == 1 {
            result = result.checked_mul(base).ok_or(HpfError::Overflow)?;
        }
        exponent >>= 1;
        if exponent > 0 {
            base = base.checked_mul(base).ok_or(HpfError::Overflow)?;
        }
    }
    Ok(result)
}

/// The largest monthly payment of a loan: the regular payment for 等额本息, the first for
/// 等额本金. Defined for any non-negative principal (the quota may be below
/// [`MIN_PRINCIPAL`]).
fn peak_payment(
    principal: Money,
    months: u32,
    annual: Decimal,
    method: RepaymentMethod,
) -> Result<Money, HpfError> {
    match method {
        RepaymentMethod::EqualInstalment => level_payment(principal, months, annual),
        RepaymentMethod::EqualPrincipal => principal_split(principal, months)?
            .checked_add(monthly_interest(principal, annual)?)
            .map_err(overflow),
    }
}

// ---------------------------------------------------------------------------------------
// Rules and the maximum-amount estimate
// ---------------------------------------------------------------------------------------

/// Who borrows: the household type the cap depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BorrowerType {
    /// 单人借款: one borrower.
    Single,
    /// 夫妻共同借款: a married couple borrowing together.
    Couple,
}

impl BorrowerType {
    /// The Chinese name.
    pub fn name_zh(self) -> &'static str {
        match self {
            Self::Single => "单人借款",
            Self::Couple => "夫妻共同借款",
        }
    }
}

/// Which home of the household this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HomeOrder {
    /// 首套住房.
    First,
    /// 第二套住房.
    Second,
}

impl HomeOrder {
    /// The Chinese name.
    pub fn name_zh(self) -> &'static str {
        match self {
            Self::First => "首套住房",
            Self::Second => "第二套住房",
        }
    }
}

/// A value per home order, as written in the rules (`first = …`, `second = …`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct PerHome<T> {
    first: T,
    second: T,
}

impl<T> PerHome<T> {
    fn get(&self, home: HomeOrder) -> &T {
        match home {
            HomeOrder::First => &self.first,
            HomeOrder::Second => &self.second,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Caps {
    single: PerHome<Money>,
    couple: PerHome<Money>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct RateTier {
    up_to_months: u32,
    annual_rate: Rate,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct RateTable {
    as_of: String,
    first: Vec<RateTier>,
    second: Vec<RateTier>,
}

impl RateTable {
    fn get(&self, home: HomeOrder) -> &[RateTier] {
        match home {
            HomeOrder::First => &self.first,
            HomeOrder::Second => &self.second,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLoan {
    min_term_months: u32,
    max_term_months: u32,
    min_borrower_age: u32,
    max_age_at_maturity: u32,
    #[serde(deserialize_with = "decimal_string")]
    balance_multiple: Decimal,
    #[serde(deserialize_with = "decimal_string")]
    repayment_income_share: Decimal,
    amount_unit: Money,
    caps: Caps,
    loan_to_value: PerHome<DecimalStr>,
    rates: RateTable,
}

/// A decimal that must be written as a string in the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
struct DecimalStr(#[serde(deserialize_with = "decimal_string")] Decimal);

/// A non-negative plain decimal written as a TOML string (`"0.8"`): never a TOML float,
/// which could not hold every decimal exactly.
fn decimal_string<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
    let text = String::deserialize(deserializer)?;
    Rate::parse(&text).map(Rate::as_decimal).map_err(|_| {
        serde::de::Error::custom(format!(
            "须为非负小数的字符串形式，如 \"0.8\"，实际为 {text:?}"
        ))
    })
}

#[derive(Debug, Deserialize)]
struct RawLoanFile {
    #[serde(flatten)]
    meta: RawMeta,
    loan: RawLoan,
}

/// Validated loan rules: term and age limits, caps, multiples, ratios and rates. See the
/// [module docs](self) and `config/hpf-rules.toml` for their meaning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoanRules {
    meta: RulesMeta,
    rates_as_of: NaiveDate,
    rules: RawLoan,
}

static EMBEDDED: LazyLock<Result<LoanRules, HpfError>> =
    LazyLock::new(|| LoanRules::from_toml_str(EMBEDDED_RULES_TOML));

impl LoanRules {
    /// The embedded rules ([`EMBEDDED_RULES_TOML`]), parsed and validated on first use.
    pub fn embedded() -> Result<&'static LoanRules, HpfError> {
        EMBEDDED.as_ref().map_err(Clone::clone)
    }

    /// Parses and validates a rule set in the layout of `config/hpf-rules.toml` (its header
    /// and `[loan]` table; other tables are ignored here). Fails with
    /// [`HpfError::InvalidRules`] naming the line or the offending key.
    pub fn from_toml_str(text: &str) -> Result<LoanRules, HpfError> {
        let RawLoanFile { meta, loan } = parse_toml(text)?;
        let meta = meta.validate()?;
        let rates_as_of = parse_date(&loan.rates.as_of, "loan.rates.as_of")?;
        validate_loan(&loan)?;
        Ok(LoanRules {
            meta,
            rates_as_of,
            rules: loan,
        })
    }

    /// The rule set's header.
    pub fn meta(&self) -> &RulesMeta {
        &self.meta
    }

    /// The rule set's version label.
    pub fn version(&self) -> &str {
        &self.meta.version
    }

    /// The date the configured rates were announced for.
    pub fn rates_as_of(&self) -> NaiveDate {
        self.rates_as_of
    }

    /// The configured annual rate for a home order and term: the first tier whose
    /// `up_to_months` is at least `term_months`.
    pub fn annual_rate(&self, home: HomeOrder, term_months: u32) -> Result<Rate, HpfError> {
        self.check_term(term_months)?;
        self.rules
            .rates
            .get(home)
            .iter()
            .find(|tier| term_months <= tier.up_to_months)
            .map(|tier| tier.annual_rate)
            // Validation guarantees that the last tier covers `max_term_months`.
            .ok_or(HpfError::InvalidTerm {
                found: term_months,
                min: self.rules.min_term_months,
                max: self.rules.max_term_months,
            })
    }

    /// The longest term allowed for a borrower of `age` whole years:
    /// `min(max_term_months, (max_age_at_maturity − age) × 12)`. Fails with
    /// [`HpfError::AgeNotEligible`] if the borrower is too young or that is shorter than the
    /// shortest term.
    pub fn max_term_months(&self, age: u32) -> Result<u32, HpfError> {
        let rules = &self.rules;
        let by_age = rules
            .max_age_at_maturity
            .saturating_sub(age)
            .saturating_mul(12);
        if age < rules.min_borrower_age || by_age < rules.min_term_months {
            return Err(HpfError::AgeNotEligible {
                age,
                min_age: rules.min_borrower_age,
                max_age: rules.max_age_at_maturity,
                min_term: rules.min_term_months,
            });
        }
        Ok(by_age.min(rules.max_term_months))
    }

    /// Estimates the maximum loan (可贷额度) and names the binding limit; see the
    /// [module docs](self) for the four limits and their rounding.
    pub fn estimate_quota(&self, request: &QuotaRequest) -> Result<QuotaEstimate, HpfError> {
        let rules = &self.rules;
        non_negative("缴存余额", request.account_balance)?;
        non_negative("月缴存基数", request.monthly_deposit_base)?;
        if !request.house_price.is_positive() {
            return Err(HpfError::InvalidAmount {
                field: "房屋总价",
                requirement: "须大于 0".to_owned(),
            });
        }
        let max_term_months = self.max_term_months(request.age)?;
        let term_months = match request.term_months {
            Some(term) => {
                self.check_term(term)?;
                if term > max_term_months {
                    return Err(HpfError::TermExceedsAgeLimit {
                        requested: term,
                        max: max_term_months,
                    });
                }
                term
            }
            None => max_term_months,
        };
        let annual_rate = match request.annual_rate {
            Some(rate) => rate,
            None => self.annual_rate(request.home, term_months)?,
        };
        check_rate(annual_rate)?;
        let annual = annual_rate.as_decimal();

        let cap = *rules.caps_for(request.borrower).get(request.home);
        let household = QuotaConstraint::new(
            QuotaLimit::HouseholdCap,
            cap,
            format!(
                "{}购买{}最高可贷 {}",
                request.borrower.name_zh(),
                request.home.name_zh(),
                yuan(cap)
            ),
        );

        let by_balance = times_down(request.account_balance, rules.balance_multiple)?;
        let balance = QuotaConstraint::new(
            QuotaLimit::BalanceMultiple,
            by_balance,
            format!(
                "缴存余额 {} × {} 倍 = {}",
                yuan(request.account_balance),
                rules.balance_multiple.normalize(),
                yuan(by_balance)
            ),
        );

        let payment_limit = times_down(request.monthly_deposit_base, rules.repayment_income_share)?;
        let by_capacity = capacity_principal(payment_limit, term_months, annual, request.method)?;
        let capacity = QuotaConstraint::new(
            QuotaLimit::RepaymentCapacity,
            by_capacity,
            format!(
                "月缴存基数 {} × {} = 月还款上限 {}，按年利率 {}、{} 个月{}计算最多可贷 {}",
                yuan(request.monthly_deposit_base),
                percent(rules.repayment_income_share),
                yuan(payment_limit),
                percent(annual),
                term_months,
                request.method.name_zh(),
                yuan(by_capacity)
            ),
        );

        let ltv = rules.loan_to_value.get(request.home).0;
        let by_price = times_down(request.house_price, ltv)?;
        let price = QuotaConstraint::new(
            QuotaLimit::LoanToValue,
            by_price,
            format!(
                "房屋总价 {} × {}（{}贷款成数）= {}",
                yuan(request.house_price),
                percent(ltv),
                request.home.name_zh(),
                yuan(by_price)
            ),
        );

        let constraints = vec![household, balance, capacity, price];
        // `min_by_key` keeps the first of equal elements: ties name the earlier limit.
        let binding = constraints
            .iter()
            .min_by_key(|constraint| constraint.amount)
            .cloned()
            .ok_or(HpfError::Overflow)?;
        let max_amount = round_down_to_unit(binding.amount, rules.amount_unit)?;
        let mut reason = format!(
            "可贷额度受{}限制：{}",
            binding.limit.name_zh(),
            binding.detail
        );
        if max_amount != binding.amount {
            reason.push_str(&format!(
                "，按 {}向下取整为 {}",
                yuan(rules.amount_unit),
                yuan(max_amount)
            ));
        }
        Ok(QuotaEstimate {
            max_amount,
            binding: binding.limit,
            reason_code: binding.code,
            reason,
            constraints,
            term_months,
            max_term_months,
            annual_rate,
            method: request.method,
            monthly_payment_limit: payment_limit,
            first_payment: peak_payment(max_amount, term_months, annual, request.method)?,
            rules_version: self.meta.version.clone(),
        })
    }

    fn check_term(&self, term_months: u32) -> Result<(), HpfError> {
        let (min, max) = (self.rules.min_term_months, self.rules.max_term_months);
        if (min..=max).contains(&term_months) {
            Ok(())
        } else {
            Err(HpfError::InvalidTerm {
                found: term_months,
                min,
                max,
            })
        }
    }
}

impl RawLoan {
    fn caps_for(&self, borrower: BorrowerType) -> &PerHome<Money> {
        match borrower {
            BorrowerType::Single => &self.caps.single,
            BorrowerType::Couple => &self.caps.couple,
        }
    }
}

fn validate_loan(loan: &RawLoan) -> Result<(), HpfError> {
    let fail = |detail: String| Err(HpfError::rules(detail));
    if loan.min_term_months < MIN_TERM_MONTHS
        || loan.max_term_months > MAX_TERM_MONTHS
        || loan.min_term_months > loan.max_term_months
    {
        return fail(format!(
            "loan.min_term_months 与 loan.max_term_months 须满足 {MIN_TERM_MONTHS} ≤ 最短 ≤ 最长 ≤ {MAX_TERM_MONTHS}，实际为 {} 与 {}",
            loan.min_term_months, loan.max_term_months
        ));
    }
    if loan.min_borrower_age == 0
        || loan.max_age_at_maturity > 100
        || loan.min_borrower_age >= loan.max_age_at_maturity
    {
        return fail(format!(
            "loan.min_borrower_age 与 loan.max_age_at_maturity 须满足 0 < 最低年龄 < 到期年龄 ≤ 100，实际为 {} 与 {}",
            loan.min_borrower_age, loan.max_age_at_maturity
        ));
    }
    if loan.balance_multiple <= Decimal::ZERO || loan.balance_multiple > Decimal::from(1000) {
        return fail(format!(
            "loan.balance_multiple 须大于 0 且不超过 1000，实际为 {}",
            loan.balance_multiple
        ));
    }
    if !is_share(loan.repayment_income_share) {
        return fail(format!(
            "loan.repayment_income_share 须大于 0 且不超过 1，实际为 {}",
            loan.repayment_income_share
        ));
    }
    if !loan.amount_unit.is_positive() || loan.amount_unit > Money::from_fen(100_000_000) {
        return fail(format!(
            "loan.amount_unit 须大于 0 且不超过 1,000,000.00 元，实际为 {}",
            loan.amount_unit
        ));
    }
    let caps = [
        ("single.first", loan.caps.single.first),
        ("single.second", loan.caps.single.second),
        ("couple.first", loan.caps.couple.first),
        ("couple.second", loan.caps.couple.second),
    ];
    for (key, cap) in caps {
        if !cap.is_positive() || cap > MAX_PRINCIPAL {
            return fail(format!(
                "loan.caps.{key} 须大于 0 且不超过 {}，实际为 {cap}",
                yuan(MAX_PRINCIPAL)
            ));
        }
    }
    for (key, ratio) in [
        ("first", loan.loan_to_value.first.0),
        ("second", loan.loan_to_value.second.0),
    ] {
        if !is_share(ratio) {
            return fail(format!(
                "loan.loan_to_value.{key} 须大于 0 且不超过 1，实际为 {ratio}"
            ));
        }
    }
    for (key, tiers) in [("first", &loan.rates.first), ("second", &loan.rates.second)] {
        let mut previous = 0;
        for (index, tier) in tiers.iter().enumerate() {
            if tier.up_to_months <= previous {
                return fail(format!(
                    "loan.rates.{key}[{index}].up_to_months 须大于 0 且逐档递增，实际为 {}",
                    tier.up_to_months
                ));
            }
            if tier.annual_rate.as_decimal() > MAX_ANNUAL_RATE {
                return fail(format!(
                    "loan.rates.{key}[{index}].annual_rate 不能超过 0.15，实际为 {}",
                    tier.annual_rate
                ));
            }
            previous = tier.up_to_months;
        }
        if previous < loan.max_term_months {
            return fail(format!(
                "loan.rates.{key} 的最后一档 up_to_months 须覆盖最长期限 {} 个月，实际为 {previous}",
                loan.max_term_months
            ));
        }
    }
    Ok(())
}

fn is_share(value: Decimal) -> bool {
    value > Decimal::ZERO && value <= Decimal::ONE
}

fn non_negative(field: &'static str, amount: Money) -> Result<(), HpfError> {
    if amount.is_negative() {
        return Err(HpfError::InvalidAmount {
            field,
            requirement: "不能为负数".to_owned(),
        });
    }
    Ok(())
}

/// `amount × factor`, rounded down to the fen.
fn times_down(amount: Money, factor: Decimal) -> Result<Money, HpfError> {
    let exact = amount
        .to_yuan()
        .checked_mul(factor)
        .ok_or(HpfError::Overflow)?;
    Money::from_yuan(exact, Rounding::Down).map_err(overflow)
}

fn round_down_to_unit(amount: Money, unit: Money) -> Result<Money, HpfError> {
    if !unit.is_positive() {
        return Ok(amount);
    }
    let units = amount.fen() / unit.fen();
    unit.checked_mul_int(units).map_err(overflow)
}

/// The largest principal, in fen, whose peak payment does not exceed `limit`, both before
/// and after rounding.
///
/// The closed form (`limit × ((1+r)ⁿ − 1) / (r·(1+r)ⁿ)` for 等额本息,
/// `limit × n / (1 + n·r)` for 等额本金, `limit × n` at rate 0) rounded down to the fen is
/// the largest principal whose unrounded payment fits. For 等额本息 its payment rounded half
/// up then fits too; for 等额本金 the two roundings (principal part and interest) can add a
/// fen, so the principal steps down a fen at a time while the rounded payment is above the
/// limit: at most about `n` steps, as a fen of principal moves the payment by at least
/// `1/n` fen.
fn capacity_principal(
    limit: Money,
    months: u32,
    annual: Decimal,
    method: RepaymentMethod,
) -> Result<Money, HpfError> {
    let n = Decimal::from(months);
    let rate = annual.checked_div(TWELVE).ok_or(HpfError::Overflow)?;
    let multiplier = if annual.is_zero() {
        n
    } else {
        match method {
            RepaymentMethod::EqualInstalment => {
                let growth = growth_factor(rate, months)?;
                growth
                    .checked_sub(Decimal::ONE)
                    .and_then(|excess| excess.checked_div(rate.checked_mul(growth)?))
                    .ok_or(HpfError::Overflow)?
            }
            RepaymentMethod::EqualPrincipal => n
                .checked_mul(rate)
                .and_then(|nr| n.checked_div(Decimal::ONE.checked_add(nr)?))
                .ok_or(HpfError::Overflow)?,
        }
    };
    let mut principal = times_down(limit, multiplier)?;
    while principal.is_positive() && peak_payment(principal, months, annual, method)? > limit {
        principal = principal
            .checked_sub(Money::from_fen(1))
            .map_err(overflow)?;
    }
    Ok(principal)
}

/// What to estimate the maximum loan for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaRequest {
    /// Single borrower or couple.
    pub borrower: BorrowerType,
    /// First or second home.
    pub home: HomeOrder,
    /// 公积金 account balance (for a couple, both accounts together); not negative.
    pub account_balance: Money,
    /// Monthly deposit base (缴存基数; for a couple, both together), used as the monthly
    /// income; not negative.
    pub monthly_deposit_base: Money,
    /// Total price of the home; positive.
    pub house_price: Money,
    /// Age of the (older) borrower in whole years (周岁).
    pub age: u32,
    /// Term in months; `None` for the longest allowed.
    pub term_months: Option<u32>,
    /// Annual rate; `None` for the configured rate for the home order and term.
    pub annual_rate: Option<Rate>,
    /// Repayment method the capacity limit is computed for.
    pub method: RepaymentMethod,
}

/// One of the four limits on the loan amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QuotaLimit {
    /// (a) 最高贷款额度: the cap for the household type and home order.
    HouseholdCap,
    /// (b) 缴存余额倍数: balance × multiple.
    BalanceMultiple,
    /// (c) 还款能力: the payment must fit in a share of the income.
    RepaymentCapacity,
    /// (d) 贷款成数: house price × loan-to-value.
    LoanToValue,
}

impl QuotaLimit {
    /// Stable code, e.g. `"hpf.quota.repayment_capacity"`.
    pub fn code(self) -> &'static str {
        match self {
            Self::HouseholdCap => "hpf.quota.household_cap",
            Self::BalanceMultiple => "hpf.quota.balance_multiple",
            Self::RepaymentCapacity => "hpf.quota.repayment_capacity",
            Self::LoanToValue => "hpf.quota.loan_to_value",
        }
    }

    /// The Chinese name, e.g. `还款能力`.
    pub fn name_zh(self) -> &'static str {
        match self {
            Self::HouseholdCap => "最高贷款额度",
            Self::BalanceMultiple => "缴存余额倍数",
            Self::RepaymentCapacity => "还款能力",
            Self::LoanToValue => "贷款成数",
        }
    }
}

/// One limit and how it was computed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuotaConstraint {
    /// Which limit.
    pub limit: QuotaLimit,
    /// Its stable code ([`QuotaLimit::code`]).
    pub code: &'static str,
    /// The highest loan this limit allows, to the fen (rounded down).
    pub amount: Money,
    /// The computation in Chinese, e.g. `缴存余额 20,000.00 元 × 15 倍 = 300,000.00 元`.
    pub detail: String,
}

impl QuotaConstraint {
    fn new(limit: QuotaLimit, amount: Money, detail: String) -> Self {
        Self {
            limit,
            code: limit.code(),
            amount,
            detail,
        }
    }
}

/// The maximum-amount estimate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuotaEstimate {
    /// The estimate: the smallest limit, rounded down to the rules' amount unit.
    pub max_amount: Money,
    /// The limit that decided it.
    pub binding: QuotaLimit,
    /// Its stable code, for the page to choose an explanation.
    pub reason_code: &'static str,
    /// Why, in Chinese, e.g. `可贷额度受缴存余额倍数限制：缴存余额 …`.
    pub reason: String,
    /// All four limits, in the order (a)–(d).
    pub constraints: Vec<QuotaConstraint>,
    /// Term used, in months.
    pub term_months: u32,
    /// Longest term the borrower's age allows, in months.
    pub max_term_months: u32,
    /// Annual rate used.
    pub annual_rate: Rate,
    /// Repayment method used.
    pub method: RepaymentMethod,
    /// Highest monthly payment the income allows (deposit base × share, rounded down).
    pub monthly_payment_limit: Money,
    /// First monthly payment of a loan of `max_amount` (0 if that is 0).
    pub first_payment: Money,
    /// Version of the rules used.
    pub rules_version: String,
}
