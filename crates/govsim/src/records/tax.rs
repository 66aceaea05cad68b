//! 税务局 `tax.income`.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use bianmin_core::Money;

use super::{DateRange, as_of};
use crate::population::tax::IncomeKind;
use crate::population::{Population, SyntheticPerson};

/// Request body of `tax.income` (besides `subject`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaxIncomeRequest {
    /// Tax years wanted; all available years (2021–2025) if absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub years: Option<Vec<i32>>,
}

/// One year of `tax.income`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaxIncomeYear {
    /// Tax year.
    pub year: i32,
    /// `wages` (工资薪金), `business` (经营所得) or `remuneration` (劳务报酬).
    pub income_kind: IncomeKind,
    /// Gross income reported.
    pub gross_income: Money,
    /// 基本减除费用 (60,000 a year).
    pub basic_deduction: Money,
    /// 专项扣除 (the employee's social insurance and housing fund).
    pub special_deduction: Money,
    /// 专项附加扣除.
    pub additional_deduction: Money,
    /// 应纳税所得额.
    pub taxable_income: Money,
    /// 应纳税额, by the comprehensive-income brackets.
    pub tax_payable: Money,
    /// 已缴税额.
    pub tax_paid: Money,
}

/// Response of `tax.income`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaxIncome {
    /// Years with a return, oldest first.
    pub years: Vec<TaxIncomeYear>,
    /// Date the data describe.
    pub as_of: NaiveDate,
}

impl TaxIncome {
    /// The returns of `person` for the years asked for, within `range`.
    pub fn of(
        population: &Population,
        person: &SyntheticPerson,
        request: &TaxIncomeRequest,
        range: DateRange,
    ) -> Self {
        let years = population
            .tax_returns(person)
            .into_iter()
            .filter(|year| {
                request
                    .years
                    .as_ref()
                    .is_none_or(|wanted| wanted.contains(&year.year))
                    && range.overlaps_year(year.year)
            })
            .map(|year| TaxIncomeYear {
                year: year.year,
                income_kind: year.kind,
                gross_income: year.gross_income,
                basic_deduction: year.basic_deduction,
                special_deduction: year.special_deduction,
                additional_deduction: year.additional_deduction,
                taxable_income: year.taxable_income,
                tax_payable: year.tax,
                tax_paid: year.tax,
            })
            .collect();
        Self {
            years,
            as_of: as_of(),
        }
    }
}
