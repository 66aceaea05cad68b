//! The hidden truth: each person's probability of default.
//!
//! `pd` is the probability of a 90+ days-past-due default within twelve months. It is a
//! logistic function of attributes the agencies report, plus a hidden fragility term that
//! the visible data reflect only indirectly (through overdue history, inquiries, card
//! utilisation, unpaid fines). A scorecard trained on the agencies' answers can therefore
//! approach, but never reach, the discrimination of the truth. The coefficients are listed
//! in `docs/govsim.md`.

use super::work::EmploymentStatus;

/// What the model reads.
pub(crate) struct RiskFactors {
    pub(crate) monthly_income: f64,
    pub(crate) monthly_repayment: f64,
    pub(crate) overdue_days: u32,
    pub(crate) worst_status: u32,
    pub(crate) dishonest: bool,
    pub(crate) status: EmploymentStatus,
    pub(crate) fund_months: u32,
    pub(crate) inquiries_6m: u32,
    pub(crate) age: u32,
    pub(crate) fragility: f64,
    pub(crate) shock: f64,
}

/// Intercept, calibrated so that the population's mean `pd` is about 3.5 %.
const INTERCEPT: f64 = -5.35;

/// Debt-to-income ratio: monthly repayments over monthly income, with incomes below 1,500
/// yuan counted as 1,500 and the ratio capped at 2.
pub(crate) fn debt_to_income(monthly_repayment: f64, monthly_income: f64) -> f64 {
    (monthly_repayment / monthly_income.max(1_500.0)).min(2.0)
}

/// The log-odds of default.
pub(crate) fn log_odds(factors: &RiskFactors) -> f64 {
    let dti = debt_to_income(factors.monthly_repayment, factors.monthly_income);
    let employment = match factors.status {
        EmploymentStatus::Employed => 0.0,
        EmploymentStatus::SelfEmployed => 0.25,
        EmploymentStatus::Flexible => 0.45,
        EmploymentStatus::Unemployed => 0.9,
        EmploymentStatus::Retired => -0.3,
    };
    let age = match factors.age {
        ..25 => 0.4,
        35..55 => -0.15,
        _ => 0.0,
    };
    let income = if factors.monthly_income > 0.0 {
        -0.25 * (factors.monthly_income / 6_000.0).ln().clamp(-2.0, 2.0)
    } else {
        0.0
    };
    INTERCEPT
        + 1.3 * dti
        + if factors.overdue_days > 0 { 1.4 } else { 0.0 }
        + 0.006 * f64::from(factors.overdue_days.min(180))
        + 0.35 * f64::from(factors.worst_status.min(4))
        + if factors.dishonest { 1.5 } else { 0.0 }
        + employment
        - 0.2 * (f64::from(factors.fund_months) / 60.0).min(2.0)
        + 0.07 * f64::from(factors.inquiries_6m.min(10))
        + age
        + income
        + 0.7 * factors.fragility
        + 0.7 * factors.shock
}

/// The twelve-month probability of default.
pub(crate) fn probability_of_default(factors: &RiskFactors) -> f64 {
    super::logistic(log_odds(factors))
}

/// Probability of default within `horizon_months` for a twelve-month `pd`, assuming a
/// constant hazard: `1 − (1 − pd)^(h/12)`.
pub fn default_probability_within(pd: f64, horizon_months: u32) -> f64 {
    1.0 - (1.0 - pd).powf(f64::from(horizon_months) / 12.0)
}
