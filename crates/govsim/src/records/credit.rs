//! 人行征信 `credit.report`.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use bianmin_core::Money;

use super::as_of;
use crate::calendar::YearMonth;
use crate::population::SyntheticPerson;
use crate::population::credit::LoanKind;

/// A loan account in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoanRecord {
    /// `mortgage`, `car`, `consumer` or `business`.
    pub kind: LoanKind,
    /// Month opened.
    pub opened: YearMonth,
    /// Amount lent.
    pub principal: Money,
    /// Amount owed.
    pub outstanding: Money,
    /// Scheduled monthly repayment.
    pub monthly_repayment: Money,
}

/// Credit cards in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardsRecord {
    /// Number of active cards.
    pub count: u32,
    /// Sum of limits.
    pub total_limit: Money,
    /// Sum of balances used.
    pub used: Money,
}

/// What is past due now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverdueRecord {
    /// Amount past due.
    pub amount: Money,
    /// Days the oldest unpaid instalment is late.
    pub days: u32,
}

/// Response of `credit.report` (个人信用报告, summarised).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreditReportRecord {
    /// Report number.
    pub report_number: String,
    /// Whether the bureau has any account (false for a "白户").
    pub has_record: bool,
    /// Loan accounts, largest first.
    pub loans: Vec<LoanRecord>,
    /// Number of loan accounts.
    pub loan_count: u32,
    /// Credit cards.
    pub cards: CardsRecord,
    /// Loans plus card balances.
    pub total_outstanding: Money,
    /// Scheduled repayments plus card minimum payments.
    pub monthly_repayment: Money,
    /// Currently past due.
    pub overdue: OverdueRecord,
    /// Hard inquiries in the last six months.
    pub inquiries_6m: u32,
    /// Status of the last 24 months, oldest first: `N` on time, `1`–`7` months past due,
    /// `/` no account.
    pub repayment_status_24m: String,
    /// Worst status of the 24 months, 0–7.
    pub worst_status_24m: u32,
    /// Date the data describe.
    pub as_of: NaiveDate,
}

impl CreditReportRecord {
    /// The report of `person` (answered for everyone: a "白户" has an empty report).
    pub fn of(person: &SyntheticPerson) -> Self {
        let credit = &person.credit;
        Self {
            report_number: format!(
                "{}{:010}",
                as_of().format("%Y%m%d"),
                u64::from(person.index) * 7 + 3
            ),
            has_record: credit.has_record(),
            loans: credit
                .loans
                .iter()
                .map(|loan| LoanRecord {
                    kind: loan.kind,
                    opened: loan.opened,
                    principal: loan.principal,
                    outstanding: loan.outstanding,
                    monthly_repayment: loan.monthly_repayment,
                })
                .collect(),
            loan_count: u32::try_from(credit.loans.len()).unwrap_or(u32::MAX),
            cards: CardsRecord {
                count: credit.cards.count,
                total_limit: credit.cards.total_limit,
                used: credit.cards.used,
            },
            total_outstanding: credit.total_outstanding(),
            monthly_repayment: credit.monthly_repayment(),
            overdue: OverdueRecord {
                amount: credit.overdue_amount,
                days: credit.overdue_days,
            },
            inquiries_6m: credit.inquiries_6m,
            repayment_status_24m: credit.status_24m.clone(),
            worst_status_24m: credit.worst_status(),
            as_of: as_of(),
        }
    }
}
