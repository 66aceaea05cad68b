//! 住房公积金 accounts and their monthly deposits.

use rand::Rng;
use serde::{Deserialize, Serialize};

use bianmin_core::Money;

use super::employers::Employer;
use super::work::{Employment, EmploymentStatus};
use crate::calendar::{HISTORY_MONTHS, LAST_CLOSED_MONTH, YearMonth};

/// Lowest monthly deposit base in Chengdu for the 2026 fund year (July 2026 – June 2027):
/// the city's minimum wage. An illustrative figure, not the published one.
pub const HPF_BASE_MIN: Money = Money::from_fen(2_100 * 100);

/// Highest monthly deposit base for the 2026 fund year: about three times the city's
/// average monthly wage of the previous year. An illustrative figure, not the published one.
pub const HPF_BASE_MAX: Money = Money::from_fen(30_000 * 100);

/// Yearly interest on balances, credited on 30 June (the national rate for deposits since
/// 2016).
pub const HPF_INTEREST_RATE: f64 = 0.015;

/// State of a housing-fund account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HousingFundStatus {
    /// 正常: deposits are being made.
    Active,
    /// 封存: no deposits since leaving a job; the balance stays and earns interest.
    Sealed,
    /// 销户: withdrawn in full (usually on retirement).
    Closed,
}

/// One person's housing-fund account.
#[derive(Debug, Clone)]
pub struct HousingFund {
    /// 12-digit account number.
    pub account_number: String,
    /// State of the account.
    pub status: HousingFundStatus,
    /// First month with a deposit.
    pub opened: YearMonth,
    /// Current monthly deposit base (the last one for sealed and closed accounts).
    pub base: Money,
    /// Deposit rate in percent, paid once by the employer and once by the employee (5–12).
    pub rate_percent: u8,
    /// Months with a deposit over the account's life.
    pub months_contributed: u32,
    /// Last month with a deposit.
    pub last_deposit: YearMonth,
    /// Employer making the deposits, for active accounts of employees.
    pub employer: Option<u16>,
    /// Balance on the reference date.
    pub balance: Money,
    /// First month of the current (or last) unbroken run of deposits.
    pub(crate) run_start: YearMonth,
    /// Yearly growth of the base, applied each July.
    pub(crate) base_growth: f64,
    /// Balance at the start of the history window.
    pub(crate) opening_balance: Money,
}

/// One line of the deposit history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FundEntry {
    /// A monthly deposit.
    Deposit {
        /// Month deposited for.
        month: YearMonth,
        /// Base that month.
        base: Money,
        /// Employer's share.
        employer: Money,
        /// Employee's share.
        employee: Money,
        /// Balance after the deposit.
        balance: Money,
    },
    /// Yearly interest, credited in June.
    Interest {
        /// Month credited (June).
        month: YearMonth,
        /// Interest.
        amount: Money,
        /// Balance after crediting.
        balance: Money,
    },
}

impl HousingFund {
    /// What is deposited each month in total (both shares); zero unless active.
    pub fn monthly_deposit(&self) -> Money {
        if self.status == HousingFundStatus::Active {
            let share = share(self.base, self.rate_percent);
            Money::from_fen(2 * share.fen())
        } else {
            Money::ZERO
        }
    }

    /// The deposit base in `month`: the current base deflated by one year's growth for every
    /// July (the start of a fund year) between `month` and the last deposit.
    fn base_in(&self, month: YearMonth) -> Money {
        // Julys in (month, last_deposit]: July of year y has ordinal y*12 + 6.
        let julys = |m: YearMonth| (m.months_since(YearMonth::new(0, 7))).div_euclid(12);
        let adjustments = julys(self.last_deposit) - julys(month);
        let base = self.base.fen() as f64 / (1.0 + self.base_growth).powi(adjustments);
        clamp_base(Money::from_fen(((base / 100.0).round() * 100.0) as i64))
    }

    /// Walks the history window, oldest first, calling `visit` for every deposit and interest
    /// credit; returns the closing balance.
    pub(crate) fn walk(&self, mut visit: impl FnMut(FundEntry)) -> Money {
        if self.status == HousingFundStatus::Closed {
            return Money::ZERO;
        }
        let mut balance = self.opening_balance.fen();
        for month in YearMonth::window(LAST_CLOSED_MONTH, HISTORY_MONTHS) {
            if month >= self.run_start && month <= self.last_deposit {
                let base = self.base_in(month);
                let amount = share(base, self.rate_percent);
                balance += 2 * amount.fen();
                visit(FundEntry::Deposit {
                    month,
                    base,
                    employer: amount,
                    employee: amount,
                    balance: Money::from_fen(balance),
                });
            }
            if month.month() == 6 && balance > 0 {
                let interest = (balance as f64 * HPF_INTEREST_RATE).round() as i64;
                balance += interest;
                visit(FundEntry::Interest {
                    month,
                    amount: Money::from_fen(interest),
                    balance: Money::from_fen(balance),
                });
            }
        }
        Money::from_fen(balance)
    }
}

/// One side's deposit: `base × rate`, rounded half up to the fen.
fn share(base: Money, rate_percent: u8) -> Money {
    Money::from_fen((base.fen() * i64::from(rate_percent) + 50) / 100)
}

fn clamp_base(base: Money) -> Money {
    base.clamp(HPF_BASE_MIN, HPF_BASE_MAX)
}

pub(crate) struct FundInputs<'a> {
    pub(crate) employment: &'a Employment,
    pub(crate) employer: Option<&'a Employer>,
    pub(crate) has_mortgage: bool,
    pub(crate) index: u32,
}

pub(crate) fn generate(rng: &mut impl Rng, inputs: &FundInputs<'_>) -> Option<HousingFund> {
    let work = inputs.employment;
    let window_start = LAST_CLOSED_MONTH.plus(1 - HISTORY_MONTHS as i32);
    let previous = work.since.plus(-1);
    let worked_before = previous > work.career_start;
    let (status, last_deposit, employer) = match work.status {
        EmploymentStatus::Employed => match inputs.employer {
            Some(employer) if rng.random_bool(employer.hpf_coverage) => (
                HousingFundStatus::Active,
                LAST_CLOSED_MONTH,
                Some(employer.number),
            ),
            _ if worked_before && rng.random_bool(work.formality * 0.5) => {
                (HousingFundStatus::Sealed, previous, None)
            }
            _ => return None,
        },
        EmploymentStatus::SelfEmployed | EmploymentStatus::Flexible => {
            if rng.random_bool(0.10) {
                (HousingFundStatus::Active, LAST_CLOSED_MONTH, None)
            } else if worked_before && rng.random_bool(work.formality * 0.8) {
                (HousingFundStatus::Sealed, previous, None)
            } else {
                return None;
            }
        }
        EmploymentStatus::Unemployed if worked_before && rng.random_bool(0.5) => {
            (HousingFundStatus::Sealed, previous, None)
        }
        EmploymentStatus::Unemployed => return None,
        EmploymentStatus::Retired if work.since > window_start && rng.random_bool(0.8) => {
            (HousingFundStatus::Sealed, previous, None)
        }
        EmploymentStatus::Retired if rng.random_bool(0.7) => (
            HousingFundStatus::Closed,
            previous.min(window_start.plus(-1)),
            None,
        ),
        EmploymentStatus::Retired => return None,
    };
    if last_deposit < work.career_start {
        return None;
    }
    let months_working =
        u32::try_from(last_deposit.months_since(work.career_start) + 1).unwrap_or(1);
    let run_length = if status == HousingFundStatus::Active {
        work.tenure_months().clamp(1, months_working)
    } else {
        rng.random_range(6..=60u32).min(months_working)
    };
    let share = work.formality * rng.random_range(0.7..1.0);
    let months_contributed =
        ((f64::from(months_working) * share).round() as u32).clamp(run_length, months_working);
    let run_start = last_deposit.plus(1 - run_length as i32);
    let gaps = (f64::from(months_working - months_contributed) * rng.random_range(0.0..1.0)) as i32;
    let opened = run_start.plus(-((months_contributed - run_length) as i32) - gaps);

    let wage = if status == HousingFundStatus::Active && work.status == EmploymentStatus::Employed {
        work.monthly_income.fen() as f64 / 100.0
    } else {
        work.potential_wage
    };
    let declared = if employer.is_none() || inputs.employer.is_some_and(|e| e.under_declares) {
        wage * rng.random_range(0.6..0.95)
    } else {
        wage
    };
    let base = clamp_base(Money::from_fen((declared.round() as i64) * 100));
    let rate_percent = match employer.and(inputs.employer) {
        Some(employer) => employer.hpf_rate_percent,
        None => rng.random_range(5..=12),
    };
    let base_growth: f64 = rng.random_range(0.0..0.07);

    // Deposits before the window, each deflated by the base's growth, less any withdrawals
    // (house purchase, mortgage repayment, rent).
    let in_window = if last_deposit < window_start {
        0
    } else {
        last_deposit.months_since(run_start.max(window_start)) + 1
    };
    let before_window = months_contributed.saturating_sub(u32::try_from(in_window).unwrap_or(0));
    let monthly = 2.0 * base.fen() as f64 * f64::from(rate_percent) / 100.0;
    let monthly_growth = (1.0 + base_growth).powf(1.0 / 12.0);
    let years_back = f64::from(
        LAST_CLOSED_MONTH
            .months_since(last_deposit.min(window_start))
            .max(0),
    ) / 12.0;
    let at_window = monthly / (1.0 + base_growth).powf(years_back);
    // Σ_{b=1..n} at_window / growth^b, a geometric series.
    let accumulated = if base_growth < 1e-9 {
        at_window * f64::from(before_window)
    } else {
        at_window * (1.0 - monthly_growth.powi(-(before_window as i32))) / (monthly_growth - 1.0)
    };
    let withdrawal_probability = if inputs.has_mortgage { 0.6 } else { 0.2 };
    let kept = if rng.random_bool(withdrawal_probability) {
        rng.random_range(0.05..0.5)
    } else {
        1.0
    };
    let mut fund = HousingFund {
        account_number: format!("51{:010}", u64::from(inputs.index) * 7919 % 10_000_000_000),
        status,
        opened,
        base,
        rate_percent,
        months_contributed,
        last_deposit,
        employer,
        balance: Money::ZERO,
        run_start,
        base_growth,
        opening_balance: Money::from_fen((accumulated * kept).round() as i64),
    };
    fund.balance = fund.walk(|_| {});
    Some(fund)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::population::yuan;

    #[test]
    fn shares_round_half_up() {
        assert_eq!(share(yuan(10_000.0), 12), yuan(1_200.0));
        assert_eq!(share(Money::from_fen(33_333), 5), Money::from_fen(1_667));
    }
}
