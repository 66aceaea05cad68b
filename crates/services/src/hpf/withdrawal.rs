//! 公积金提取条件: which withdrawal purposes (提取事项) an account qualifies for, by
//! configured rules.
//!
//! # Rules are data
//!
//! Each purpose in the `[withdrawal]` table of the rule file (the embedded
//! `config/hpf-rules.toml`, see [`EMBEDDED_RULES_TOML`]) lists its conditions with their
//! thresholds, whether it can be handled online, how much may be withdrawn, and whether the
//! account closes. No purpose is hard-coded: another city is another rule file, parsed and
//! validated by [`WithdrawalRules::from_toml_str`]. The condition kinds:
//!
//! | `kind` | passes when | fails with, e.g. |
//! | --- | --- | --- |
//! | `status_in` | the account status is listed | `账户状态须为正常缴存（当前为封存）` |
//! | `months_contributed_at_least` | months contributed ≥ `months` | `累计缴存未满 6 个月（已缴存 4 个月）` |
//! | `consecutive_months_at_least` | recent consecutive months ≥ `months` | `近期连续缴存未满 3 个月（已连续缴存 2 个月）` |
//! | `sealed_months_at_least` | sealed, and months since the last deposit ≥ `months` | `账户封存未满 6 个月（已封存 3 个月）` |
//! | `age_at_least` | age ≥ `years` | `年龄未满 60 周岁（现年 55 周岁）` |
//! | `balance_positive` | the balance is above 0 | `账户余额为 0，无可提取金额` |
//! | `fact_is` | a declared fact ([`Fact`]) has the given `value` | `名下已有住房` |
//!
//! A `fact_is` condition on a fact that is `None` in [`AccountFacts`] is *unknown*
//! (`尚未确认名下是否有住房`), never a failure.
//!
//! # Outcome
//!
//! For each purpose, [`Eligibility`] is decided in this order: any condition failed →
//! [`Eligibility::NotEligible`] (every failed condition is listed); else any fact unknown →
//! [`Eligibility::Unknown`]; else an offline purpose → [`Eligibility::NeedsOffline`] with the
//! configured explanation; else [`Eligibility::Eligible`] with the maximum amount. Amounts
//! are whole fen and never rounded: the balance, or for a monthly cap the smaller of the
//! balance and the cap.
//!
//! # Demo configuration
//!
//! The embedded purposes follow the style of the 成都住房公积金管理中心 rules, but every
//! threshold and limit in it (6 months contributed for 购房, 3 consecutive months and
//! 1,500 元/月 for 租房, 6 months sealed for 离职, …) is **illustrative demo configuration,
//! not an official figure**.

use std::collections::HashSet;
use std::sync::LazyLock;

use bianmin_core::Money;
use serde::{Deserialize, Serialize};

use super::loan::{EMBEDDED_RULES_TOML, HpfError, RawMeta, RulesMeta, parse_toml, yuan};

/// State of a 公积金 account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    /// 正常缴存: deposits are being made.
    Active,
    /// 封存: deposits have stopped (usually after leaving a job); the balance is kept.
    Sealed,
    /// 销户: closed.
    Closed,
}

impl AccountStatus {
    /// The Chinese name.
    pub fn name_zh(self) -> &'static str {
        match self {
            Self::Active => "正常缴存",
            Self::Sealed => "封存",
            Self::Closed => "销户",
        }
    }
}

/// The facts about an account and its holder that the rules look at, independent of where
/// they came from. Declared facts the citizen has not confirmed are `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountFacts {
    /// Account status.
    pub status: AccountStatus,
    /// Account balance; not negative.
    pub balance: Money,
    /// Months contributed in total.
    pub months_contributed: u32,
    /// Months contributed without interruption up to now (0 if the account is not active);
    /// at most `months_contributed`.
    pub consecutive_recent_months: u32,
    /// Months since the last deposit; for a sealed account, how long it has been sealed.
    pub months_since_last_deposit: u32,
    /// Age in whole years (周岁).
    pub age: u32,
    /// Whether the holder has reached the statutory retirement age, which depends on birth
    /// date, sex and the gradual-retirement rules and so is an input.
    pub reached_retirement_age: Option<bool>,
    /// Whether the holder (and spouse) own a home in the city.
    pub owns_home: Option<bool>,
    /// Whether the holder has an outstanding 公积金 loan.
    pub has_hpf_loan: Option<bool>,
    /// Whether the holder has taken up employment again.
    pub re_employed: Option<bool>,
}

impl AccountFacts {
    /// Checks that the facts are consistent: balance not negative, consecutive months not
    /// above months contributed, a plausible age.
    pub fn validate(&self) -> Result<(), HpfError> {
        let invalid = |detail: String| Err(HpfError::InvalidFacts { detail });
        if self.balance.is_negative() {
            return invalid(format!("账户余额不能为负数（{}）", yuan(self.balance)));
        }
        if self.consecutive_recent_months > self.months_contributed {
            return invalid(format!(
                "近期连续缴存月数（{}）不能大于累计缴存月数（{}）",
                self.consecutive_recent_months, self.months_contributed
            ));
        }
        if self.age > 150 {
            return invalid(format!("年龄无效（{} 周岁）", self.age));
        }
        Ok(())
    }

    fn fact(&self, fact: Fact) -> Option<bool> {
        match fact {
            Fact::OwnsHome => self.owns_home,
            Fact::HasHpfLoan => self.has_hpf_loan,
            Fact::ReachedRetirementAge => self.reached_retirement_age,
            Fact::ReEmployed => self.re_employed,
        }
    }
}

/// A yes/no fact declared by the citizen or confirmed by an agency, which may be unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fact {
    /// [`AccountFacts::owns_home`].
    OwnsHome,
    /// [`AccountFacts::has_hpf_loan`].
    HasHpfLoan,
    /// [`AccountFacts::reached_retirement_age`].
    ReachedRetirementAge,
    /// [`AccountFacts::re_employed`].
    ReEmployed,
}

impl Fact {
    /// Stable code, e.g. `"owns_home"`.
    pub fn code(self) -> &'static str {
        match self {
            Self::OwnsHome => "owns_home",
            Self::HasHpfLoan => "has_hpf_loan",
            Self::ReachedRetirementAge => "reached_retirement_age",
            Self::ReEmployed => "re_employed",
        }
    }

    /// The question to ask, e.g. `名下是否有住房`.
    pub fn question_zh(self) -> &'static str {
        match self {
            Self::OwnsHome => "名下是否有住房",
            Self::HasHpfLoan => "是否有公积金贷款",
            Self::ReachedRetirementAge => "是否已达到法定退休年龄",
            Self::ReEmployed => "是否已重新就业",
        }
    }

    /// The fact stated in Chinese, e.g. `名下已有住房` for `(OwnsHome, true)`.
    pub fn statement_zh(self, value: bool) -> &'static str {
        match (self, value) {
            (Self::OwnsHome, true) => "名下已有住房",
            (Self::OwnsHome, false) => "名下无住房",
            (Self::HasHpfLoan, true) => "有公积金贷款",
            (Self::HasHpfLoan, false) => "无公积金贷款",
            (Self::ReachedRetirementAge, true) => "已达到法定退休年龄",
            (Self::ReachedRetirementAge, false) => "未达到法定退休年龄",
            (Self::ReEmployed, true) => "已重新就业",
            (Self::ReEmployed, false) => "未重新就业",
        }
    }

    fn failed_code(self) -> &'static str {
        match self {
            Self::OwnsHome => "hpf.withdrawal.owns_home",
            Self::HasHpfLoan => "hpf.withdrawal.has_hpf_loan",
            Self::ReachedRetirementAge => "hpf.withdrawal.reached_retirement_age",
            Self::ReEmployed => "hpf.withdrawal.re_employed",
        }
    }

    fn unknown_code(self) -> &'static str {
        match self {
            Self::OwnsHome => "hpf.withdrawal.owns_home_unknown",
            Self::HasHpfLoan => "hpf.withdrawal.has_hpf_loan_unknown",
            Self::ReachedRetirementAge => "hpf.withdrawal.reached_retirement_age_unknown",
            Self::ReEmployed => "hpf.withdrawal.re_employed_unknown",
        }
    }
}

/// What the money is withdrawn for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WithdrawalPurpose {
    /// 购房提取: buying a home.
    HomePurchase,
    /// 租房提取: paying rent.
    Renting,
    /// 退休提取: retirement.
    Retirement,
    /// 离职提取: having left a job.
    LeavingJob,
    /// 偿还公积金贷款提取: repaying a 公积金 loan.
    LoanRepayment,
    /// 大病提取: serious illness.
    SeriousIllness,
    /// 出境定居提取: settling abroad.
    Emigration,
}

impl WithdrawalPurpose {
    /// Every purpose.
    pub const ALL: [WithdrawalPurpose; 7] = [
        Self::HomePurchase,
        Self::Renting,
        Self::Retirement,
        Self::LeavingJob,
        Self::LoanRepayment,
        Self::SeriousIllness,
        Self::Emigration,
    ];

    /// Stable code, as in the rule file: e.g. `"home_purchase"`.
    pub fn code(self) -> &'static str {
        match self {
            Self::HomePurchase => "home_purchase",
            Self::Renting => "renting",
            Self::Retirement => "retirement",
            Self::LeavingJob => "leaving_job",
            Self::LoanRepayment => "loan_repayment",
            Self::SeriousIllness => "serious_illness",
            Self::Emigration => "emigration",
        }
    }

    /// The usual Chinese name (a rule file may name it differently).
    pub fn name_zh(self) -> &'static str {
        match self {
            Self::HomePurchase => "购房提取",
            Self::Renting => "租房提取",
            Self::Retirement => "退休提取",
            Self::LeavingJob => "离职提取",
            Self::LoanRepayment => "偿还公积金贷款提取",
            Self::SeriousIllness => "大病提取",
            Self::Emigration => "出境定居提取",
        }
    }
}

/// The answer for one purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Eligibility {
    /// Every condition holds; can be applied for online.
    Eligible,
    /// At least one condition fails.
    NotEligible,
    /// No condition fails, but the purpose is handled at a service counter (需线下办理).
    NeedsOffline,
    /// No condition fails, but a fact needed to decide is unknown.
    Unknown,
}

/// One reason, with a stable code for the page and a Chinese message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reason {
    /// Stable code, e.g. `"hpf.withdrawal.sealed_months"`.
    pub code: &'static str,
    /// Chinese text, e.g. `账户封存未满 6 个月（已封存 3 个月）`.
    pub message: String,
}

impl Reason {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// The assessment of one purpose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Assessment {
    /// The purpose.
    pub purpose: WithdrawalPurpose,
    /// Its name in the rule file.
    pub name: String,
    /// The answer.
    pub eligibility: Eligibility,
    /// Why: every failed condition for [`Eligibility::NotEligible`], what is unconfirmed for
    /// [`Eligibility::Unknown`], the explanation for [`Eligibility::NeedsOffline`]; empty
    /// when eligible.
    pub reasons: Vec<Reason>,
    /// Facts that were needed but unknown (also listed when another condition failed).
    pub missing_facts: Vec<Fact>,
    /// The most that can be withdrawn, only when eligible.
    pub max_amount: Option<Money>,
    /// How the amount is limited, in Chinese, only when eligible.
    pub amount_note: Option<String>,
    /// Whether the withdrawal closes the account (销户).
    pub closes_account: bool,
    /// Version of the rules used.
    pub rules_version: String,
}

/// How a purpose is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Handling {
    Online,
    Offline,
}

/// How much may be withdrawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum AmountRule {
    /// Up to the balance. (A struct variant so that unknown fields are rejected.)
    Balance {},
    /// Up to `cap` per month, and not above the balance.
    MonthlyCap { cap: Money },
}

/// One condition, as written in the rule file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum Condition {
    StatusIn { statuses: Vec<AccountStatus> },
    MonthsContributedAtLeast { months: u32 },
    ConsecutiveMonthsAtLeast { months: u32 },
    SealedMonthsAtLeast { months: u32 },
    AgeAtLeast { years: u32 },
    // A struct variant so that unknown fields are rejected.
    BalancePositive {},
    FactIs { fact: Fact, value: bool },
}

enum Outcome {
    Pass,
    Fail(Reason),
    Unknown(Fact),
}

impl Condition {
    /// Identifies the condition for the duplicate check: two conditions of the same kind
    /// (or two on the same fact) would contradict or repeat each other.
    fn key(&self) -> String {
        match self {
            Self::StatusIn { .. } => "status_in".to_owned(),
            Self::MonthsContributedAtLeast { .. } => "months_contributed_at_least".to_owned(),
            Self::ConsecutiveMonthsAtLeast { .. } => "consecutive_months_at_least".to_owned(),
            Self::SealedMonthsAtLeast { .. } => "sealed_months_at_least".to_owned(),
            Self::AgeAtLeast { .. } => "age_at_least".to_owned(),
            Self::BalancePositive {} => "balance_positive".to_owned(),
            Self::FactIs { fact, .. } => format!("fact_is {}", fact.code()),
        }
    }

    fn validate(&self) -> Result<(), String> {
        let months = |months: u32| {
            if (1..=600).contains(&months) {
                Ok(())
            } else {
                Err(format!("months 须在 1 至 600 之间，实际为 {months}"))
            }
        };
        match self {
            Self::StatusIn { statuses } => {
                let distinct: HashSet<_> = statuses.iter().collect();
                if statuses.is_empty() || distinct.len() != statuses.len() {
                    return Err("statuses 须至少列出一种账户状态且不能重复".to_owned());
                }
                Ok(())
            }
            Self::MonthsContributedAtLeast { months: m }
            | Self::ConsecutiveMonthsAtLeast { months: m }
            | Self::SealedMonthsAtLeast { months: m } => months(*m),
            Self::AgeAtLeast { years } => {
                if (1..=150).contains(years) {
                    Ok(())
                } else {
                    Err(format!("years 须在 1 至 150 之间，实际为 {years}"))
                }
            }
            Self::BalancePositive {} | Self::FactIs { .. } => Ok(()),
        }
    }

    fn evaluate(&self, facts: &AccountFacts) -> Outcome {
        let fail = |code, message: String| Outcome::Fail(Reason::new(code, message));
        match self {
            Self::StatusIn { statuses } => {
                if statuses.contains(&facts.status) {
                    return Outcome::Pass;
                }
                let allowed: Vec<&str> = statuses.iter().map(|s| s.name_zh()).collect();
                fail(
                    "hpf.withdrawal.account_status",
                    format!(
                        "账户状态须为{}（当前为{}）",
                        allowed.join("或"),
                        facts.status.name_zh()
                    ),
                )
            }
            Self::MonthsContributedAtLeast { months } => {
                if facts.months_contributed >= *months {
                    return Outcome::Pass;
                }
                fail(
                    "hpf.withdrawal.months_contributed",
                    format!(
                        "累计缴存未满 {months} 个月（已缴存 {} 个月）",
                        facts.months_contributed
                    ),
                )
            }
            Self::ConsecutiveMonthsAtLeast { months } => {
                if facts.consecutive_recent_months >= *months {
                    return Outcome::Pass;
                }
                fail(
                    "hpf.withdrawal.consecutive_months",
                    format!(
                        "近期连续缴存未满 {months} 个月（已连续缴存 {} 个月）",
                        facts.consecutive_recent_months
                    ),
                )
            }
            Self::SealedMonthsAtLeast { months } => {
                if facts.status != AccountStatus::Sealed {
                    return fail(
                        "hpf.withdrawal.sealed_months",
                        format!("账户未封存（当前为{}）", facts.status.name_zh()),
                    );
                }
                if facts.months_since_last_deposit >= *months {
                    return Outcome::Pass;
                }
                fail(
                    "hpf.withdrawal.sealed_months",
                    format!(
                        "账户封存未满 {months} 个月（已封存 {} 个月）",
                        facts.months_since_last_deposit
                    ),
                )
            }
            Self::AgeAtLeast { years } => {
                if facts.age >= *years {
                    return Outcome::Pass;
                }
                fail(
                    "hpf.withdrawal.age",
                    format!("年龄未满 {years} 周岁（现年 {} 周岁）", facts.age),
                )
            }
            Self::BalancePositive {} => {
                if facts.balance.is_positive() {
                    return Outcome::Pass;
                }
                fail(
                    "hpf.withdrawal.balance",
                    "账户余额为 0，无可提取金额".to_owned(),
                )
            }
            Self::FactIs { fact, value } => match facts.fact(*fact) {
                None => Outcome::Unknown(*fact),
                Some(actual) if actual == *value => Outcome::Pass,
                Some(actual) => fail(fact.failed_code(), fact.statement_zh(actual).to_owned()),
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct PurposeRule {
    purpose: WithdrawalPurpose,
    name: String,
    handling: Handling,
    #[serde(default)]
    closes_account: bool,
    amount: Option<AmountRule>,
    offline_note: Option<String>,
    conditions: Vec<Condition>,
}

impl PurposeRule {
    fn validate(&self) -> Result<(), String> {
        if self.name.trim().is_empty() {
            return Err("name 不能为空".to_owned());
        }
        match self.handling {
            Handling::Online => {
                if self.amount.is_none() {
                    return Err("在线办理的事项须配置 amount".to_owned());
                }
                if self.offline_note.is_some() {
                    return Err("在线办理的事项不应配置 offline_note".to_owned());
                }
                if self.conditions.is_empty() {
                    return Err("在线办理的事项须至少配置一项条件".to_owned());
                }
            }
            Handling::Offline => {
                if self
                    .offline_note
                    .as_deref()
                    .is_none_or(|n| n.trim().is_empty())
                {
                    return Err("线下办理的事项须配置 offline_note（办理说明）".to_owned());
                }
                if self.amount.is_some() {
                    return Err("线下办理的事项不应配置 amount（金额由柜台审核确定）".to_owned());
                }
            }
        }
        if let Some(AmountRule::MonthlyCap { cap }) = self.amount
            && !cap.is_positive()
        {
            return Err(format!("amount.cap 须大于 0，实际为 {cap}"));
        }
        let mut seen = HashSet::new();
        for (index, condition) in self.conditions.iter().enumerate() {
            condition
                .validate()
                .map_err(|detail| format!("conditions[{index}]：{detail}"))?;
            if !seen.insert(condition.key()) {
                return Err(format!(
                    "conditions[{index}]：条件 {} 重复配置",
                    condition.key()
                ));
            }
        }
        Ok(())
    }

    fn assess(&self, facts: &AccountFacts, version: &str) -> Assessment {
        let mut failed = Vec::new();
        let mut missing_facts = Vec::new();
        for condition in &self.conditions {
            match condition.evaluate(facts) {
                Outcome::Pass => {}
                Outcome::Fail(reason) => failed.push(reason),
                Outcome::Unknown(fact) => missing_facts.push(fact),
            }
        }
        let (eligibility, reasons) = if !failed.is_empty() {
            (Eligibility::NotEligible, failed)
        } else if !missing_facts.is_empty() {
            let unknown = missing_facts
                .iter()
                .map(|fact| {
                    Reason::new(
                        fact.unknown_code(),
                        format!("尚未确认{}", fact.question_zh()),
                    )
                })
                .collect();
            (Eligibility::Unknown, unknown)
        } else if self.handling == Handling::Offline {
            let note = self.offline_note.as_deref().unwrap_or_default();
            let reason = Reason::new("hpf.withdrawal.offline", format!("需线下办理：{note}"));
            (Eligibility::NeedsOffline, vec![reason])
        } else {
            (Eligibility::Eligible, Vec::new())
        };
        let (max_amount, amount_note) = match (eligibility, self.amount) {
            (Eligibility::Eligible, Some(AmountRule::Balance {})) => (
                Some(facts.balance),
                Some(format!("最多可提取账户余额 {}", yuan(facts.balance))),
            ),
            (Eligibility::Eligible, Some(AmountRule::MonthlyCap { cap })) => (
                Some(facts.balance.min(cap)),
                Some(format!(
                    "每月最多提取 {}，且不超过账户余额 {}",
                    yuan(cap),
                    yuan(facts.balance)
                )),
            ),
            _ => (None, None),
        };
        Assessment {
            purpose: self.purpose,
            name: self.name.clone(),
            eligibility,
            reasons,
            missing_facts,
            max_amount,
            amount_note,
            closes_account: self.closes_account,
            rules_version: version.to_owned(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWithdrawal {
    purposes: Vec<PurposeRule>,
}

#[derive(Debug, Deserialize)]
struct RawWithdrawalFile {
    #[serde(flatten)]
    meta: RawMeta,
    withdrawal: RawWithdrawal,
}

/// Validated withdrawal rules: the configured purposes, in the order of the rule file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WithdrawalRules {
    meta: RulesMeta,
    purposes: Vec<PurposeRule>,
}

static EMBEDDED: LazyLock<Result<WithdrawalRules, HpfError>> =
    LazyLock::new(|| WithdrawalRules::from_toml_str(EMBEDDED_RULES_TOML));

impl WithdrawalRules {
    /// The embedded rules ([`EMBEDDED_RULES_TOML`]), parsed and validated on first use.
    pub fn embedded() -> Result<&'static WithdrawalRules, HpfError> {
        EMBEDDED.as_ref().map_err(Clone::clone)
    }

    /// Parses and validates a rule set in the layout of `config/hpf-rules.toml` (its header
    /// and `[withdrawal]` table; other tables are ignored here). Fails with
    /// [`HpfError::InvalidRules`] naming the line, or the purpose and condition at fault.
    pub fn from_toml_str(text: &str) -> Result<WithdrawalRules, HpfError> {
        let RawWithdrawalFile { meta, withdrawal } = parse_toml(text)?;
        let meta = meta.validate()?;
        if withdrawal.purposes.is_empty() {
            return Err(HpfError::rules(
                "withdrawal.purposes 至少需要配置一项提取事项",
            ));
        }
        let mut seen = HashSet::new();
        for (index, rule) in withdrawal.purposes.iter().enumerate() {
            let location = format!("withdrawal.purposes[{index}]（{}）", rule.purpose.code());
            if !seen.insert(rule.purpose) {
                return Err(HpfError::rules(format!("{location}：提取事项重复配置")));
            }
            rule.validate()
                .map_err(|detail| HpfError::rules(format!("{location}：{detail}")))?;
        }
        Ok(WithdrawalRules {
            meta,
            purposes: withdrawal.purposes,
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

    /// The purposes offered, in the order of the rule file.
    pub fn purposes(&self) -> impl Iterator<Item = WithdrawalPurpose> + '_ {
        self.purposes.iter().map(|rule| rule.purpose)
    }

    /// Assesses one purpose. Fails with [`HpfError::InvalidFacts`] for inconsistent facts
    /// and [`HpfError::PurposeNotOffered`] if the rules do not configure the purpose.
    pub fn assess(
        &self,
        purpose: WithdrawalPurpose,
        facts: &AccountFacts,
    ) -> Result<Assessment, HpfError> {
        facts.validate()?;
        self.purposes
            .iter()
            .find(|rule| rule.purpose == purpose)
            .map(|rule| rule.assess(facts, &self.meta.version))
            .ok_or_else(|| HpfError::PurposeNotOffered {
                name: purpose.name_zh().to_owned(),
            })
    }

    /// Assesses every configured purpose, in the order of the rule file.
    pub fn assess_all(&self, facts: &AccountFacts) -> Result<Vec<Assessment>, HpfError> {
        facts.validate()?;
        Ok(self
            .purposes
            .iter()
            .map(|rule| rule.assess(facts, &self.meta.version))
            .collect())
    }
}
