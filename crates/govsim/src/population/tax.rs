//! Individual income tax (个人所得税) returns, 2021–2025.
//!
//! Tax is computed on yearly taxable income with the comprehensive-income (综合所得) brackets
//! in force since 2019 for everyone, including the self-employed, whose business income
//! (经营所得) is in reality taxed on its own 5–35 % scale: a simplification that keeps one
//! schedule for the scorecard to learn.

use rand::Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

use bianmin_core::Money;

use super::credit::LoanKind;
use super::work::EmploymentStatus;
use super::{SyntheticPerson, yuan};
use crate::calendar::LAST_CLOSED_MONTH;

/// Years with a filed annual return on the reference date.
pub const TAX_YEARS: std::ops::RangeInclusive<i32> = 2021..=2025;

/// The comprehensive-income brackets: upper bound of taxable income (yuan), rate (%),
/// quick deduction (yuan).
const BRACKETS: [(i64, i64, i64); 7] = [
    (36_000, 3, 0),
    (144_000, 10, 2_520),
    (300_000, 20, 16_920),
    (420_000, 25, 31_920),
    (660_000, 30, 52_920),
    (960_000, 35, 85_920),
    (i64::MAX, 45, 181_920),
];

/// Yearly basic deduction (基本减除费用), 5,000 a month.
const BASIC_DEDUCTION: Money = Money::from_fen(60_000 * 100);

/// Tax on a year's taxable comprehensive income.
pub fn comprehensive_income_tax(taxable: Money) -> Money {
    let fen = taxable.fen().max(0);
    let (_, rate, quick) = BRACKETS
        .iter()
        .copied()
        .find(|(upper, _, _)| fen <= upper.saturating_mul(100))
        .unwrap_or(BRACKETS[6]);
    Money::from_fen((fen * rate + 50) / 100 - quick * 100)
}

/// Kind of income reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncomeKind {
    /// 工资薪金.
    Wages,
    /// 经营所得.
    Business,
    /// 劳务报酬.
    Remuneration,
}

/// One year's return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaxYear {
    /// Tax year.
    pub year: i32,
    /// Main kind of income.
    pub kind: IncomeKind,
    /// Gross income reported.
    pub gross_income: Money,
    /// 基本减除费用.
    pub basic_deduction: Money,
    /// 专项扣除: the employee's social-insurance and housing-fund contributions.
    pub special_deduction: Money,
    /// 专项附加扣除: children, elderly parents, housing.
    pub additional_deduction: Money,
    /// Income after deductions.
    pub taxable_income: Money,
    /// Tax due and paid.
    pub tax: Money,
}

/// The person's returns for [`TAX_YEARS`], oldest first; years without reportable income
/// (not yet working, unemployed, retired on a tax-free pension) are absent.
pub(crate) fn returns(rng: &mut impl Rng, person: &SyntheticPerson) -> Vec<TaxYear> {
    let work = &person.employment;
    let monthly = work.monthly_income.fen() as f64 / 100.0;
    let growth: f64 = rng.random_range(0.02..0.07);
    let bonus_months = rng.random_range(0.0..2.0);
    let reporting = match work.status {
        EmploymentStatus::SelfEmployed => rng.random_range(0.45..0.9),
        EmploymentStatus::Flexible => rng.random_range(0.3..0.8),
        _ => 1.0,
    };
    let children = if (28..=50).contains(&person.age) {
        rng.random_range(0..=2)
    } else {
        0
    };
    let supports_parents = (35..=60).contains(&person.age);
    let parents_share = rng.random_range(0.5..=1.0);
    let has_mortgage = person
        .credit
        .loans
        .iter()
        .any(|loan| loan.kind == LoanKind::Mortgage);
    let rents = !has_mortgage && person.age < 35 && rng.random_bool(0.5);
    let contributions = person.social_insurance.employee_share().fen() as f64 / 100.0
        + person
            .housing_fund
            .as_ref()
            .map_or(0.0, |fund| fund.monthly_deposit().fen() as f64 / 200.0);

    let mut years = Vec::new();
    for year in TAX_YEARS {
        let noise: f64 = rng.sample(StandardNormal);
        let deflator = (1.0 + growth).powi(year - LAST_CLOSED_MONTH.year()) * (0.06 * noise).exp();
        let working_months = |from: i32, to: i32| -> f64 {
            // Months of `year` between the months numbered `from` and `to` (inclusive).
            let first = year * 12;
            let last = first + 11;
            f64::from((to.min(last) - from.max(first) + 1).clamp(0, 12))
        };
        let career = work.career_start.year() * 12 + work.career_start.month() as i32 - 1;
        let since = work.since.year() * 12 + work.since.month() as i32 - 1;
        let (kind, gross) = match work.status {
            EmploymentStatus::Employed => (
                IncomeKind::Wages,
                monthly * deflator * (working_months(career, i32::MAX) + bonus_months),
            ),
            EmploymentStatus::SelfEmployed => (
                IncomeKind::Business,
                monthly * deflator * working_months(since, i32::MAX) * reporting
                    + work.potential_wage * deflator * working_months(career, since - 1),
            ),
            EmploymentStatus::Flexible => (
                IncomeKind::Remuneration,
                monthly * deflator * working_months(since, i32::MAX) * reporting
                    + work.potential_wage
                        * deflator
                        * working_months(career, since - 1)
                        * work.formality,
            ),
            EmploymentStatus::Unemployed | EmploymentStatus::Retired => (
                IncomeKind::Wages,
                work.potential_wage * deflator * working_months(career, since - 1) * work.formality,
            ),
        };
        if gross < 1.0 {
            continue;
        }
        let new_rates = year >= 2023;
        let monthly_additional = f64::from(children) * if new_rates { 2_000.0 } else { 1_000.0 }
            + if supports_parents {
                parents_share * if new_rates { 3_000.0 } else { 2_000.0 }
            } else {
                0.0
            }
            + if has_mortgage { 1_000.0 } else { 0.0 }
            + if rents { 1_500.0 } else { 0.0 };
        let special = yuan(contributions * deflator * 12.0);
        let additional = yuan(monthly_additional * 12.0);
        let gross = yuan(gross);
        let taxable = Money::from_fen(
            (gross.fen() - BASIC_DEDUCTION.fen() - special.fen() - additional.fen()).max(0),
        );
        years.push(TaxYear {
            year,
            kind,
            gross_income: gross,
            basic_deduction: BASIC_DEDUCTION,
            special_deduction: special,
            additional_deduction: additional,
            taxable_income: taxable,
            tax: comprehensive_income_tax(taxable),
        });
    }
    years
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yuan(amount: i64) -> Money {
        Money::from_fen(amount * 100)
    }

    #[test]
    fn brackets_match_the_published_quick_deductions() {
        assert_eq!(comprehensive_income_tax(Money::ZERO), Money::ZERO);
        assert_eq!(comprehensive_income_tax(yuan(36_000)), yuan(1_080));
        assert_eq!(
            comprehensive_income_tax(yuan(36_001)),
            Money::from_fen(108_010)
        );
        assert_eq!(comprehensive_income_tax(yuan(144_000)), yuan(11_880));
        assert_eq!(comprehensive_income_tax(yuan(300_000)), yuan(43_080));
        assert_eq!(comprehensive_income_tax(yuan(1_000_000)), yuan(268_080));
    }

    #[test]
    fn tax_is_continuous_at_every_bracket_boundary() {
        for (upper, _, _) in &BRACKETS[..6] {
            let at = comprehensive_income_tax(yuan(*upper)).fen();
            let above = comprehensive_income_tax(Money::from_fen(upper * 100 + 100)).fen();
            assert!(above > at && above - at <= 45, "{upper}: {at} → {above}");
        }
    }
}
