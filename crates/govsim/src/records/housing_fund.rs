//! 公积金中心 `hpf.account` and `hpf.deposits`.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use bianmin_core::Money;

use super::{DateRange, as_of};
use crate::calendar::YearMonth;
use crate::population::housing_fund::{FundEntry, HousingFundStatus};
use crate::population::{Population, SyntheticPerson};

/// Response of `hpf.account`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HpfAccount {
    /// 12-digit account number.
    pub account_number: String,
    /// `active` (正常), `sealed` (封存) or `closed` (销户).
    pub status: HousingFundStatus,
    /// Employer making the deposits (active employee accounts only).
    pub employer_name: Option<String>,
    /// That employer's 统一社会信用代码.
    pub employer_uscc: Option<String>,
    /// First month with a deposit.
    pub opened: YearMonth,
    /// Current (or last) monthly deposit base.
    pub deposit_base: Money,
    /// Employer's rate in percent.
    pub employer_rate_percent: u8,
    /// Employee's rate in percent.
    pub employee_rate_percent: u8,
    /// Monthly deposit, both shares (zero unless active).
    pub monthly_deposit: Money,
    /// Balance.
    pub balance: Money,
    /// Months with a deposit over the account's life.
    pub months_contributed: u32,
    /// Last month with a deposit.
    pub last_deposit: YearMonth,
    /// Date the data describe.
    pub as_of: NaiveDate,
}

impl HpfAccount {
    /// The account of `person`, if they have one.
    pub fn of(population: &Population, person: &SyntheticPerson) -> Option<Self> {
        let fund = person.housing_fund.as_ref()?;
        let employer = fund.employer.and_then(|number| population.employer(number));
        Some(Self {
            account_number: fund.account_number.clone(),
            status: fund.status,
            employer_name: employer.map(|employer| employer.name.clone()),
            employer_uscc: employer.map(|employer| employer.uscc.as_str().to_owned()),
            opened: fund.opened,
            deposit_base: fund.base,
            employer_rate_percent: fund.rate_percent,
            employee_rate_percent: fund.rate_percent,
            monthly_deposit: fund.monthly_deposit(),
            balance: fund.balance,
            months_contributed: fund.months_contributed,
            last_deposit: fund.last_deposit,
            as_of: as_of(),
        })
    }
}

/// Request body of `hpf.deposits` (besides `subject`): an optional month range.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonthRangeRequest {
    /// First month wanted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<YearMonth>,
    /// Last month wanted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<YearMonth>,
}

impl MonthRangeRequest {
    /// Whether `month` is wanted.
    pub fn contains(&self, month: YearMonth) -> bool {
        self.from.is_none_or(|from| from <= month) && self.to.is_none_or(|to| month <= to)
    }
}

/// Kind of a fund entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// 汇缴: a monthly deposit.
    Deposit,
    /// 结息: yearly interest, credited in June.
    Interest,
}

/// One line of `hpf.deposits`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HpfEntry {
    /// Month.
    pub month: YearMonth,
    /// Deposit or interest.
    pub kind: EntryKind,
    /// Deposit base (deposits only).
    pub base: Option<Money>,
    /// Employer's share (deposits only).
    pub employer_amount: Option<Money>,
    /// Employee's share (deposits only).
    pub employee_amount: Option<Money>,
    /// Amount credited.
    pub amount: Money,
    /// Balance after the entry.
    pub balance: Money,
}

/// Response of `hpf.deposits`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HpfDeposits {
    /// Account number.
    pub account_number: String,
    /// Entries, oldest first.
    pub entries: Vec<HpfEntry>,
    /// Date the data describe.
    pub as_of: NaiveDate,
}

impl HpfDeposits {
    /// The deposit history of `person` within `range` and the months asked for.
    pub fn of(
        population: &Population,
        person: &SyntheticPerson,
        request: &MonthRangeRequest,
        range: DateRange,
    ) -> Option<Self> {
        let fund = person.housing_fund.as_ref()?;
        let entries = population
            .fund_history(person)
            .into_iter()
            .map(|entry| match entry {
                FundEntry::Deposit {
                    month,
                    base,
                    employer,
                    employee,
                    balance,
                } => HpfEntry {
                    month,
                    kind: EntryKind::Deposit,
                    base: Some(base),
                    employer_amount: Some(employer),
                    employee_amount: Some(employee),
                    amount: Money::from_fen(employer.fen() + employee.fen()),
                    balance,
                },
                FundEntry::Interest {
                    month,
                    amount,
                    balance,
                } => HpfEntry {
                    month,
                    kind: EntryKind::Interest,
                    base: None,
                    employer_amount: None,
                    employee_amount: None,
                    amount,
                    balance,
                },
            })
            .filter(|entry| request.contains(entry.month) && range.overlaps_month(entry.month))
            .collect();
        Some(Self {
            account_number: fund.account_number.clone(),
            entries,
            as_of: as_of(),
        })
    }
}
