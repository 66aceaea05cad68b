//! Cross-validation of the agencies' answers: the income each source implies, whether the
//! sources agree (income, employer), whether they are fresh, and which are missing or have
//! stopped. Every inconsistency becomes a [`Flag`] with a stable code and a Chinese reason;
//! odd data (missing answers, zero or negative bases, dates in the future) is flagged, never
//! a panic.
//!
//! # Income each source implies
//!
//! | [`Source`] | Monthly income | Counted when |
//! |---|---|---|
//! | [`Source::Tax`] | `gross_income` of the latest `year` ÷ 12 (cut to the fen) | that return is `wages` (工资薪金) and its gross is above zero |
//! | [`Source::HousingFund`] | `deposit_base` | the account is `active` and the base is above zero |
//! | [`Source::SocialInsurance`] | `base` | `contributing` and the base is above zero |
//!
//! # Which income is used ([`IncomeEstimate::monthly`])
//!
//! A conservative choice among the counted sources:
//!
//! * the sources agree (the highest is at most `income_tolerance_pct` % above the lowest):
//!   the **lower median** (with three sources the middle one, with two the lower one);
//! * they disagree beyond the tolerance: the **lowest**;
//! * no source counts: `None`.
//!
//! Ties are broken in the order tax, housing fund, social insurance. All comparisons are on
//! integer fen; the tolerance is a percentage applied in [`Decimal`].
//!
//! # Flags
//!
//! See [`FlagCode`] for every code, its severity and when it is raised. Thresholds live in
//! [`CrosscheckRules`]; its defaults are illustrative, not a credit policy.

use std::fmt;

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;

use bianmin_core::Money;
use bianmin_govsim::YearMonth;
use bianmin_govsim::population::housing_fund::HousingFundStatus;
use bianmin_govsim::population::social_insurance::InsuredStatus;
use bianmin_govsim::population::tax::IncomeKind;

use crate::features::AgencyRecords;

/// A source of income evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Source {
    /// 税务局 `tax.income`.
    Tax,
    /// 公积金中心 `hpf.account`.
    HousingFund,
    /// 社保局 `si.status`.
    SocialInsurance,
}

impl Source {
    /// The data kind of the answer (`tax.income`, `hpf.account`, `si.status`).
    pub fn data_kind(self) -> &'static str {
        match self {
            Self::Tax => "tax.income",
            Self::HousingFund => "hpf.account",
            Self::SocialInsurance => "si.status",
        }
    }

    /// The Chinese name used in reasons (个税, 公积金, 社保).
    pub fn name_zh(self) -> &'static str {
        match self {
            Self::Tax => "个税",
            Self::HousingFund => "公积金",
            Self::SocialInsurance => "社保",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.data_kind())
    }
}

/// How serious a [`Flag`] is, least serious first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// For the record (a missing source).
    Info,
    /// Worth a look (stale data, stopped contributions, a mismatch within reason).
    Warn,
    /// A strong inconsistency (incomes differing by more than `income_severe_pct` %).
    Severe,
}

/// The stable code of a [`Flag`] ([`FlagCode::as_str`]); the severity is given per code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FlagCode {
    /// `X01_INCOME_MISMATCH` (Warn, or Severe beyond `income_severe_pct`): the highest
    /// counted income is more than `income_tolerance_pct` % above the lowest.
    IncomeMismatch,
    /// `X02_EMPLOYER_MISMATCH` (Warn): the housing fund and social insurance name different
    /// employers (credit codes compared when both give one, names otherwise).
    EmployerMismatch,
    /// `X03_STALE_DATA` (Warn): an answer's `as_of` is more than `max_answer_age_days` before
    /// the check date.
    StaleData,
    /// `X04_FUTURE_DATE` (Warn): an answer's `as_of`, last deposit, last contribution or tax
    /// year is after the check date.
    FutureDate,
    /// `X05_HPF_DEPOSITS_LAPSED` (Warn): the last housing-fund deposit is more than
    /// `max_payment_lag_months` months before the check month while the account is `active`
    /// or social insurance says `contributing`.
    HpfDepositsLapsed,
    /// `X06_SI_PAYMENTS_LAPSED` (Warn): social insurance says `contributing` but the last
    /// month paid is missing or more than `max_payment_lag_months` months before the check
    /// month.
    SiPaymentsLapsed,
    /// `X07_TAX_RETURN_OLD` (Warn): the latest return is more than `max_tax_year_lag` years
    /// before the check year.
    TaxReturnOld,
    /// `X08_INVALID_AMOUNT` (Warn): a base or gross income that should count is zero or
    /// negative; the source is left out of the estimate.
    InvalidAmount,
    /// `X10_NO_HPF_ACCOUNT` (Info): no housing-fund account.
    NoHpfAccount,
    /// `X11_NOT_INSURED` (Info): no social-insurance answer, or `not_insured`.
    NotInsured,
    /// `X12_NO_TAX_RETURN` (Info): no tax answer, or one without any year.
    NoTaxReturn,
    /// `X13_HPF_STOPPED` (Warn if the last deposit is within `recent_stop_months` months,
    /// Info otherwise): the housing-fund account is `sealed` or `closed`.
    HpfStopped,
    /// `X14_SI_SUSPENDED` (Warn if the last contribution is within `recent_stop_months`
    /// months or unknown, Info otherwise): social insurance is `suspended`.
    SiSuspended,
    /// `X15_TAX_NOT_WAGES` (Info): the latest return is business or remuneration income,
    /// which is not counted as a wage.
    TaxNotWages,
    /// `X16_NO_INCOME_EVIDENCE` (Warn): no source yields a monthly income.
    NoIncomeEvidence,
}

impl FlagCode {
    /// The stable code, e.g. `X01_INCOME_MISMATCH`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::IncomeMismatch => "X01_INCOME_MISMATCH",
            Self::EmployerMismatch => "X02_EMPLOYER_MISMATCH",
            Self::StaleData => "X03_STALE_DATA",
            Self::FutureDate => "X04_FUTURE_DATE",
            Self::HpfDepositsLapsed => "X05_HPF_DEPOSITS_LAPSED",
            Self::SiPaymentsLapsed => "X06_SI_PAYMENTS_LAPSED",
            Self::TaxReturnOld => "X07_TAX_RETURN_OLD",
            Self::InvalidAmount => "X08_INVALID_AMOUNT",
            Self::NoHpfAccount => "X10_NO_HPF_ACCOUNT",
            Self::NotInsured => "X11_NOT_INSURED",
            Self::NoTaxReturn => "X12_NO_TAX_RETURN",
            Self::HpfStopped => "X13_HPF_STOPPED",
            Self::SiSuspended => "X14_SI_SUSPENDED",
            Self::TaxNotWages => "X15_TAX_NOT_WAGES",
            Self::NoIncomeEvidence => "X16_NO_INCOME_EVIDENCE",
        }
    }
}

impl fmt::Display for FlagCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One inconsistency or gap found in the answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    /// Stable code.
    pub code: FlagCode,
    /// How serious it is.
    pub severity: Severity,
    /// The reason in Chinese, fit to show a reviewer (amounts in yuan).
    pub reason_zh: String,
    /// Machine-oriented detail (sources, values, thresholds), in English.
    pub detail: String,
}

/// The monthly income the sources imply and the one retained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomeEstimate {
    /// The retained monthly income (see the [module documentation](self)); `None` if no
    /// source counts.
    pub monthly: Option<Money>,
    /// Each counted source with the monthly income it implies, in the order tax, housing
    /// fund, social insurance.
    pub sources: Vec<(Source, Money)>,
    /// The source [`IncomeEstimate::monthly`] was taken from; `None` if no source counts.
    pub basis: Option<Source>,
}

/// The outcome of [`crosscheck`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrossCheck {
    /// Every flag raised, in the order of the checks (missing sources, stopped
    /// contributions, freshness, employer, income).
    pub flags: Vec<Flag>,
    /// The income estimate.
    pub income: IncomeEstimate,
}

impl CrossCheck {
    /// Whether a flag with `code` was raised.
    pub fn has(&self, code: FlagCode) -> bool {
        self.flags.iter().any(|flag| flag.code == code)
    }

    /// The first flag with `code`, if any.
    pub fn flag(&self, code: FlagCode) -> Option<&Flag> {
        self.flags.iter().find(|flag| flag.code == code)
    }

    /// The highest severity raised; `None` without flags.
    pub fn worst(&self) -> Option<Severity> {
        self.flags.iter().map(|flag| flag.severity).max()
    }
}

/// Thresholds of the cross-check. The defaults are illustrative.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrosscheckRules {
    /// Incomes disagree when the highest is more than this percentage above the lowest
    /// (default 30).
    pub income_tolerance_pct: Decimal,
    /// Beyond this percentage the disagreement is [`Severity::Severe`] (default 100, i.e.
    /// one source at least twice another).
    pub income_severe_pct: Decimal,
    /// An answer whose `as_of` is more than this many days old is stale (default 31).
    pub max_answer_age_days: u32,
    /// A last deposit or contribution more than this many months before the check month is
    /// lapsed (default 3).
    pub max_payment_lag_months: u32,
    /// A stop (sealed fund, suspended insurance) within this many months is recent and a
    /// warning; older stops are information (default 12).
    pub recent_stop_months: u32,
    /// A latest tax return more than this many years before the check year is old
    /// (default 2: in 2026 a 2024 return is fine, a 2023 one is not).
    pub max_tax_year_lag: u32,
}

impl Default for CrosscheckRules {
    fn default() -> Self {
        Self {
            income_tolerance_pct: Decimal::from(30),
            income_severe_pct: Decimal::from(100),
            max_answer_age_days: 31,
            max_payment_lag_months: 3,
            recent_stop_months: 12,
            max_tax_year_lag: 2,
        }
    }
}

/// Cross-validates the agencies' `records` on `today` under `rules`.
///
/// Never panics: missing answers, zero or negative amounts and future dates become flags.
/// See the [module documentation](self) for the income estimate and [`FlagCode`] for the
/// flags.
pub fn crosscheck(
    records: &AgencyRecords,
    today: NaiveDate,
    rules: &CrosscheckRules,
) -> CrossCheck {
    let mut flags = Vec::new();
    let this_month = YearMonth::of(today);
    let mut sources = Vec::new();

    presence(records, today, this_month, rules, &mut flags);
    freshness(records, today, this_month, rules, &mut flags);
    employer(records, &mut flags);

    // Tax: the latest year, if wages.
    if let Some(tax) = &records.tax
        && let Some(latest) = tax.years.iter().max_by_key(|year| year.year)
    {
        if latest.income_kind == IncomeKind::Wages {
            let gross = latest.gross_income.fen();
            if gross > 0 {
                sources.push((Source::Tax, Money::from_fen(gross / 12)));
            } else {
                flags.push(invalid(Source::Tax, "gross_income", latest.gross_income));
            }
        } else {
            flags.push(Flag {
                code: FlagCode::TaxNotWages,
                severity: Severity::Info,
                reason_zh: format!(
                    "{}年个税申报为{}，未计入工资收入",
                    latest.year,
                    kind_zh(latest.income_kind)
                ),
                detail: format!(
                    "latest tax.income year {} is {:?}, not wages",
                    latest.year, latest.income_kind
                ),
            });
        }
    }
    if let Some(hpf) = &records.hpf
        && hpf.status == HousingFundStatus::Active
    {
        if hpf.deposit_base.fen() > 0 {
            sources.push((Source::HousingFund, hpf.deposit_base));
        } else {
            flags.push(invalid(
                Source::HousingFund,
                "deposit_base",
                hpf.deposit_base,
            ));
        }
    }
    if let Some(si) = &records.si
        && si.status == InsuredStatus::Contributing
    {
        if si.base.fen() > 0 {
            sources.push((Source::SocialInsurance, si.base));
        } else {
            flags.push(invalid(Source::SocialInsurance, "base", si.base));
        }
    }

    let income = estimate(sources, rules, &mut flags);
    CrossCheck { flags, income }
}

/// Missing sources and stopped contributions.
fn presence(
    records: &AgencyRecords,
    today: NaiveDate,
    this_month: YearMonth,
    rules: &CrosscheckRules,
    flags: &mut Vec<Flag>,
) {
    let recent = |last: Option<YearMonth>| {
        last.is_none_or(|last| this_month.months_since(last) <= lag(rules.recent_stop_months))
    };
    match &records.hpf {
        None => flags.push(Flag {
            code: FlagCode::NoHpfAccount,
            severity: Severity::Info,
            reason_zh: "未查询到公积金账户".to_owned(),
            detail: "hpf.account: not found".to_owned(),
        }),
        Some(hpf) if hpf.status != HousingFundStatus::Active => {
            let (state, state_zh) = match hpf.status {
                HousingFundStatus::Sealed => ("sealed", "封存"),
                _ => ("closed", "销户"),
            };
            flags.push(Flag {
                code: FlagCode::HpfStopped,
                severity: if recent(Some(hpf.last_deposit)) {
                    Severity::Warn
                } else {
                    Severity::Info
                },
                reason_zh: format!("公积金账户已{state_zh}，最后缴存月份{}", hpf.last_deposit),
                detail: format!(
                    "hpf.account status {state}, last_deposit {} (checked {today})",
                    hpf.last_deposit
                ),
            });
        }
        Some(_) => {}
    }
    match &records.si {
        None => flags.push(not_insured("si.status: not found")),
        Some(si) => match si.status {
            InsuredStatus::NotInsured => flags.push(not_insured("si.status: not_insured")),
            InsuredStatus::Suspended => {
                let last = si
                    .last_paid
                    .map_or_else(|| "未知".to_owned(), |month| month.to_string());
                flags.push(Flag {
                    code: FlagCode::SiSuspended,
                    severity: if recent(si.last_paid) {
                        Severity::Warn
                    } else {
                        Severity::Info
                    },
                    reason_zh: format!("社保已暂停缴费，最后缴费月份{last}"),
                    detail: format!(
                        "si.status suspended, last_paid {:?} (checked {today})",
                        si.last_paid.map(|month| month.to_string())
                    ),
                });
            }
            InsuredStatus::Contributing | InsuredStatus::Retired => {}
        },
    }
    if records.tax.as_ref().is_none_or(|tax| tax.years.is_empty()) {
        flags.push(Flag {
            code: FlagCode::NoTaxReturn,
            severity: Severity::Info,
            reason_zh: "未查询到个税申报记录".to_owned(),
            detail: "tax.income: no year".to_owned(),
        });
    }
}

/// `as_of` ages, future dates, lapsed deposits and contributions, old returns.
fn freshness(
    records: &AgencyRecords,
    today: NaiveDate,
    this_month: YearMonth,
    rules: &CrosscheckRules,
    flags: &mut Vec<Flag>,
) {
    let mut as_ofs = Vec::new();
    if let Some(tax) = &records.tax {
        as_ofs.push((Source::Tax, tax.as_of));
    }
    if let Some(hpf) = &records.hpf {
        as_ofs.push((Source::HousingFund, hpf.as_of));
    }
    if let Some(si) = &records.si {
        as_ofs.push((Source::SocialInsurance, si.as_of));
    }
    for (source, as_of) in as_ofs {
        let age = today.signed_duration_since(as_of).num_days();
        if age < 0 {
            flags.push(future(source, "as_of", &as_of.to_string(), today));
        } else if age > i64::from(rules.max_answer_age_days) {
            flags.push(Flag {
                code: FlagCode::StaleData,
                severity: Severity::Warn,
                reason_zh: format!("{}数据截至{as_of}，已超过{}天", source.name_zh(), age),
                detail: format!(
                    "{source} as_of {as_of} is {age} days old (max {})",
                    rules.max_answer_age_days
                ),
            });
        }
    }

    let max_lag = lag(rules.max_payment_lag_months);
    let si_contributing = records
        .si
        .as_ref()
        .is_some_and(|si| si.status == InsuredStatus::Contributing);
    if let Some(hpf) = &records.hpf {
        let behind = this_month.months_since(hpf.last_deposit);
        if behind < 0 {
            flags.push(future(
                Source::HousingFund,
                "last_deposit",
                &hpf.last_deposit.to_string(),
                today,
            ));
        } else if behind > max_lag && (hpf.status == HousingFundStatus::Active || si_contributing) {
            let si_zh = if si_contributing {
                "，而社保显示正常缴费"
            } else {
                ""
            };
            flags.push(Flag {
                code: FlagCode::HpfDepositsLapsed,
                severity: Severity::Warn,
                reason_zh: format!(
                    "公积金最后缴存月份为{}，已{behind}个月未缴存{si_zh}",
                    hpf.last_deposit
                ),
                detail: format!(
                    "hpf.account last_deposit {} is {behind} months before {this_month} (max {max_lag}); status {:?}, si contributing {si_contributing}",
                    hpf.last_deposit, hpf.status
                ),
            });
        }
    }
    if let Some(si) = &records.si {
        match si.last_paid {
            Some(last) if this_month.months_since(last) < 0 => {
                flags.push(future(
                    Source::SocialInsurance,
                    "last_paid",
                    &last.to_string(),
                    today,
                ));
            }
            last if si_contributing => {
                let behind = last.map(|last| this_month.months_since(last));
                if behind.is_none_or(|behind| behind > max_lag) {
                    let (zh, months) = match (last, behind) {
                        (Some(last), Some(behind)) => (
                            format!(
                                "社保显示正常缴费，但最后缴费月份为{last}，已{behind}个月未缴费"
                            ),
                            format!("{behind} months"),
                        ),
                        _ => (
                            "社保显示正常缴费，但无最后缴费月份".to_owned(),
                            "unknown".to_owned(),
                        ),
                    };
                    flags.push(Flag {
                        code: FlagCode::SiPaymentsLapsed,
                        severity: Severity::Warn,
                        reason_zh: zh,
                        detail: format!(
                            "si.status contributing, last_paid behind {this_month}: {months} (max {max_lag})"
                        ),
                    });
                }
            }
            _ => {}
        }
    }
    if let Some(tax) = &records.tax
        && let Some(latest) = tax.years.iter().map(|year| year.year).max()
    {
        let behind = i64::from(today.year()) - i64::from(latest);
        if behind < 0 {
            flags.push(future(Source::Tax, "year", &latest.to_string(), today));
        } else if behind > i64::from(rules.max_tax_year_lag) {
            flags.push(Flag {
                code: FlagCode::TaxReturnOld,
                severity: Severity::Warn,
                reason_zh: format!("最近的个税申报为{latest}年，已超过{behind}年"),
                detail: format!(
                    "tax.income latest year {latest} is {behind} years before {} (max {})",
                    today.year(),
                    rules.max_tax_year_lag
                ),
            });
        }
    }
}

/// The housing fund's employer against social insurance's.
fn employer(records: &AgencyRecords, flags: &mut Vec<Flag>) {
    let (Some(hpf), Some(si)) = (&records.hpf, &records.si) else {
        return;
    };
    let codes = (
        hpf.employer_uscc.as_deref().map(normalise_code),
        si.employer_uscc.as_deref().map(normalise_code),
    );
    let names = (
        hpf.employer_name.as_deref().map(normalise_name),
        si.employer_name.as_deref().map(normalise_name),
    );
    let (what, differ) = match (codes, names) {
        ((Some(a), Some(b)), _) if !a.is_empty() && !b.is_empty() => ("credit code", a != b),
        (_, (Some(a), Some(b))) if !a.is_empty() && !b.is_empty() => ("name", a != b),
        _ => return,
    };
    if differ {
        let show = |name: &Option<String>, code: &Option<String>| {
            format!(
                "{}（{}）",
                name.as_deref().unwrap_or("未知"),
                code.as_deref().unwrap_or("无代码")
            )
        };
        flags.push(Flag {
            code: FlagCode::EmployerMismatch,
            severity: Severity::Warn,
            reason_zh: format!(
                "公积金缴存单位{}与社保参保单位{}不一致",
                show(&hpf.employer_name, &hpf.employer_uscc),
                show(&si.employer_name, &si.employer_uscc)
            ),
            detail: format!(
                "employer {what} differs: hpf.account {:?}/{:?}, si.status {:?}/{:?}",
                hpf.employer_name, hpf.employer_uscc, si.employer_name, si.employer_uscc
            ),
        });
    }
}

/// The retained income from the counted `sources`, flagging a disagreement.
fn estimate(
    sources: Vec<(Source, Money)>,
    rules: &CrosscheckRules,
    flags: &mut Vec<Flag>,
) -> IncomeEstimate {
    let mut sorted = sources.clone();
    sorted.sort_by_key(|&(source, amount)| (amount, source));
    let (Some(&(low_source, low)), Some(&(high_source, high))) = (sorted.first(), sorted.last())
    else {
        flags.push(Flag {
            code: FlagCode::NoIncomeEvidence,
            severity: Severity::Warn,
            reason_zh: "个税、公积金、社保均无可用的收入依据".to_owned(),
            detail: "no source yields a monthly income".to_owned(),
        });
        return IncomeEstimate {
            monthly: None,
            sources,
            basis: None,
        };
    };
    let tolerance = rules.income_tolerance_pct.max(Decimal::ZERO);
    let severe = rules.income_severe_pct.max(tolerance);
    let disagree = exceeds(high, low, tolerance);
    let chosen = if disagree {
        (low_source, low)
    } else {
        // Lower median: index (n - 1) / 2 of the ascending list.
        sorted
            .get((sorted.len() - 1) / 2)
            .copied()
            .unwrap_or((low_source, low))
    };
    if disagree {
        let listed: Vec<String> = sources
            .iter()
            .map(|(source, amount)| format!("{}{}元", source.name_zh(), amount))
            .collect();
        let listed_en: Vec<String> = sources
            .iter()
            .map(|(source, amount)| format!("{source} {amount}"))
            .collect();
        flags.push(Flag {
            code: FlagCode::IncomeMismatch,
            severity: if exceeds(high, low, severe) {
                Severity::Severe
            } else {
                Severity::Warn
            },
            reason_zh: format!(
                "各来源月收入差异超过{}%（{}），按最低的{}{}元计",
                tolerance.normalize(),
                listed.join("、"),
                low_source.name_zh(),
                low
            ),
            detail: format!(
                "monthly incomes {}: {high_source} is more than {}% above {low_source}; lowest retained",
                listed_en.join(", "),
                tolerance.normalize()
            ),
        });
    }
    IncomeEstimate {
        monthly: Some(chosen.1),
        sources,
        basis: Some(chosen.0),
    }
}

/// Whether `high` is more than `pct` % above `low` (both positive fen); an overflow of the
/// threshold counts as not exceeded.
fn exceeds(high: Money, low: Money, pct: Decimal) -> bool {
    let factor = (Decimal::ONE_HUNDRED.checked_add(pct))
        .and_then(|sum| sum.checked_div(Decimal::ONE_HUNDRED));
    match factor.and_then(|factor| Decimal::from(low.fen()).checked_mul(factor)) {
        Some(limit) => Decimal::from(high.fen()) > limit,
        None => false,
    }
}

/// A month count as a signed lag, saturating.
fn lag(months: u32) -> i32 {
    i32::try_from(months).unwrap_or(i32::MAX)
}

fn invalid(source: Source, field: &str, amount: Money) -> Flag {
    Flag {
        code: FlagCode::InvalidAmount,
        severity: Severity::Warn,
        reason_zh: format!("{}金额异常（{}元），未计入收入", source.name_zh(), amount),
        detail: format!("{source} {field} is {amount}, not above zero; source left out"),
    }
}

fn future(source: Source, field: &str, value: &str, today: NaiveDate) -> Flag {
    Flag {
        code: FlagCode::FutureDate,
        severity: Severity::Warn,
        reason_zh: format!("{}数据日期{value}晚于查询日{today}", source.name_zh()),
        detail: format!("{source} {field} {value} is after {today}"),
    }
}

fn not_insured(detail: &str) -> Flag {
    Flag {
        code: FlagCode::NotInsured,
        severity: Severity::Info,
        reason_zh: "未查询到社保参保记录".to_owned(),
        detail: detail.to_owned(),
    }
}

fn kind_zh(kind: IncomeKind) -> &'static str {
    match kind {
        IncomeKind::Wages => "工资薪金",
        IncomeKind::Business => "经营所得",
        IncomeKind::Remuneration => "劳务报酬",
    }
}

/// A credit code without surrounding blanks, upper-case.
fn normalise_code(code: &str) -> String {
    code.trim().to_ascii_uppercase()
}

/// A name without blanks and with full-width brackets as ASCII ones.
fn normalise_name(name: &str) -> String {
    name.chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            '（' => '(',
            '）' => ')',
            other => other,
        })
        .collect()
}
