//! Daily interest on a revolving credit line (随借随还), repayment allocation and the annualised
//! rate (年化利率) a borrower must be shown.
//!
//! # Rounding rules
//!
//! Nothing here rounds implicitly, and amounts are never floats:
//!
//! * **Accrual** is kept exact as an [`UnroundedInterest`] (principal × annual rate × days ÷
//!   day-count basis, with the division deferred), so that adding periods never loses a digit.
//! * **[`accrue`]** rounds **once per accrual period**: the exact interest for the whole
//!   period `[from, to)` is brought to the fen half-up (四舍五入), never day by day.
//! * **[`line_position`]** accrues each calendar day on the end-of-day principal, sums the
//!   days unrounded and **posts** the sum — rounds it half-up to the fen — only when a
//!   repayment arrives and at the as-of date. Posted interest is then a whole-fen amount owed.
//! * **Rates** shown to people ([`DailyRateQuote`], [`Apr`]) are exact decimals; a quotient
//!   that does not terminate (7.3 % ÷ 360) is carried to `Decimal`'s 28 significant digits and
//!   rounded for display only, never for money.

use std::cmp::Ordering;
use std::fmt;

use bianmin_core::{Money, MoneyError, Rate};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Day counts per year under ACT/360 and ACT/365, and their least common multiple: unrounded
/// interest is held in units of 1/26 280 yuan so that both conventions add up exactly.
const DAYS_360: i64 = 360;
const DAYS_365: i64 = 365;
const COMMON_BASIS: i64 = 26_280;

/// Days in the year used to annualise an IRR: the calendar year, whatever the line's basis.
const DAYS_PER_YEAR_FOR_APR: u32 = 365;

/// Newton/bisection iterations allowed before [`apr_irr`] gives up.
pub const MAX_IRR_ITERATIONS: u32 = 200;

/// Why an interest, ledger or APR computation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InterestError {
    /// A draw or repayment that is not greater than zero, or a negative principal.
    #[error("金额无效：{amount} 元，借款和还款金额必须大于 0，本金不能为负")]
    InvalidAmount {
        /// The rejected amount.
        amount: Money,
    },
    /// An accrual period whose end is before its start.
    #[error("计息区间无效：结束日 {to} 早于起始日 {from}")]
    InvalidPeriod {
        /// First day of the period.
        from: NaiveDate,
        /// Day after the last day of the period.
        to: NaiveDate,
    },
    /// Ledger events not in date order.
    #[error("交易记录须按日期先后排列：{date} 的记录排在 {previous} 之后")]
    EventsOutOfOrder {
        /// Date of the event before.
        previous: NaiveDate,
        /// The earlier date that came after it.
        date: NaiveDate,
    },
    /// A repayment larger than everything owed on its date; it is refused rather than turned
    /// into a negative balance.
    #[error("还款金额 {offered} 元超过 {date} 的应还总额 {owed} 元（本金加利息）")]
    Overpayment {
        /// Date of the repayment.
        date: NaiveDate,
        /// Amount offered.
        offered: Money,
        /// Principal plus posted interest owed on that date.
        owed: Money,
    },
    /// Cash flows that cannot have an internal rate of return: none, or not both money
    /// received and money repaid.
    #[error("现金流无效：须同时包含借款人实际收到的款项（正数）和还款（负数）")]
    InvalidCashFlows,
    /// No non-negative daily rate up to the search limit makes the flows' present value zero.
    #[error("无法求得年化利率：在可计算的利率范围内现金流净现值不为零")]
    NoRoot,
    /// The borrower repays less than was received, so the annualised rate would be negative.
    #[error("还款总额低于借款人实际收到的金额，年化利率为负数，无法作为利率展示")]
    NegativeApr,
    /// The iteration did not settle within [`MAX_IRR_ITERATIONS`] steps.
    #[error("年化利率计算在 {iterations} 次迭代后仍未收敛")]
    NotConverged {
        /// Iterations performed.
        iterations: u32,
    },
    /// An amount, a rate or an intermediate result beyond the representable range.
    #[error("金额或利率超出可计算的范围")]
    Overflow,
}

impl InterestError {
    /// Stable machine-readable code, e.g. `"lending.overpayment"`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidAmount { .. } => "lending.invalid_amount",
            Self::InvalidPeriod { .. } => "lending.invalid_period",
            Self::EventsOutOfOrder { .. } => "lending.events_out_of_order",
            Self::Overpayment { .. } => "lending.overpayment",
            Self::InvalidCashFlows => "lending.invalid_cash_flows",
            Self::NoRoot => "lending.no_root",
            Self::NegativeApr => "lending.negative_apr",
            Self::NotConverged { .. } => "lending.not_converged",
            Self::Overflow => "lending.overflow",
        }
    }
}

impl From<MoneyError> for InterestError {
    /// Only overflow can come out of the checked `Money` operations used here.
    fn from(_: MoneyError) -> Self {
        Self::Overflow
    }
}

/// How many days a year has when an annual rate is turned into a daily one.
///
/// Days themselves are always actual calendar days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum DayCount {
    /// Daily rate = annual rate ÷ 360, the usual convention of Chinese bank loans.
    #[default]
    #[serde(rename = "ACT/360")]
    Act360,
    /// Daily rate = annual rate ÷ 365.
    #[serde(rename = "ACT/365")]
    Act365,
}

impl DayCount {
    /// 360 or 365.
    pub const fn days_in_year(self) -> u32 {
        match self {
            Self::Act360 => 360,
            Self::Act365 => 365,
        }
    }

    /// How many 1/26 280 parts of a year one day is.
    const fn common_basis_factor(self) -> i64 {
        match self {
            Self::Act360 => COMMON_BASIS / DAYS_360,
            Self::Act365 => COMMON_BASIS / DAYS_365,
        }
    }

    /// The daily rate for an annual rate: `annual ÷ 360` or `÷ 365`.
    ///
    /// Exact when the quotient terminates (7.2 % / 360 = 0.02 %); otherwise carried to 28
    /// significant digits. Interest is never computed from this rounded figure (see
    /// [`UnroundedInterest`]).
    pub fn daily_rate(self, annual: Rate) -> Decimal {
        // Dividing a non-negative decimal by 360 or 365 can neither overflow nor divide by
        // zero, so plain division is infallible here.
        annual.as_decimal() / Decimal::from(self.days_in_year())
    }
}

impl fmt::Display for DayCount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Act360 => "ACT/360",
            Self::Act365 => "ACT/365",
        })
    }
}

/// Interest before it is rounded to the fen, held exactly.
///
/// Stored as principal (yuan) × annual rate × days × (26 280 ÷ basis), i.e. in units of
/// 1/26 280 yuan, so that ACT/360 and ACT/365 accruals add without a division: the sum of two
/// periods equals the whole period exactly. Products stay exact while they need at most 28
/// significant digits, which holds for any real-world principal, rate and term.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct UnroundedInterest {
    scaled_yuan: Decimal,
}

impl UnroundedInterest {
    /// No interest.
    pub const ZERO: UnroundedInterest = UnroundedInterest {
        scaled_yuan: Decimal::ZERO,
    };

    /// `self + other`, exactly, or [`InterestError::Overflow`].
    pub fn checked_add(self, other: UnroundedInterest) -> Result<Self, InterestError> {
        self.scaled_yuan
            .checked_add(other.scaled_yuan)
            .map(|scaled_yuan| Self { scaled_yuan })
            .ok_or(InterestError::Overflow)
    }

    /// The amount in yuan as a decimal, for display and inspection; a quotient that does not
    /// terminate is carried to 28 significant digits. Use [`UnroundedInterest::post`] for
    /// money.
    pub fn to_yuan(self) -> Decimal {
        // The divisor is a non-zero constant and the quotient is smaller than the dividend.
        self.scaled_yuan / Decimal::from(COMMON_BASIS)
    }

    /// Brings the interest to whole fen, half-up (四舍五入, halves away from zero).
    ///
    /// The rounding is decided in exact integer arithmetic on the stored value, so a result
    /// that is exactly half a fen rounds up and one a hair below it rounds down, however many
    /// digits the hair needs.
    pub fn post(self) -> Result<Money, InterestError> {
        let mantissa = self.scaled_yuan.mantissa();
        let scale = self.scaled_yuan.scale();
        // fen = mantissa × 100 / (10^scale × 26 280); move the factor 100 to whichever side
        // keeps both integers. `scale` ≤ 28, so 10^26 × 26 280 < 2^127 and
        // |mantissa| × 100 < 2^96 × 100 fit in i128.
        let (numerator, denominator) = if scale >= 2 {
            (mantissa, 10_i128.pow(scale - 2) * i128::from(COMMON_BASIS))
        } else {
            (mantissa * 10_i128.pow(2 - scale), i128::from(COMMON_BASIS))
        };
        let magnitude = numerator.unsigned_abs();
        let denominator = denominator.unsigned_abs();
        let mut fen = magnitude / denominator;
        if 2 * (magnitude % denominator) >= denominator {
            fen += 1;
        }
        let fen = i64::try_from(fen).map_err(|_| InterestError::Overflow)?;
        Ok(Money::from_fen(if numerator < 0 { -fen } else { fen }))
    }
}

/// Exact interest on a constant `principal` for the days in `[from, to)`: `to - from` days,
/// the first day counted and the last not, as when money drawn on `from` is repaid on `to`.
///
/// The result is not rounded; [`accrue`] rounds it. Errors on a negative principal
/// ([`InterestError::InvalidAmount`]) and on `to < from` ([`InterestError::InvalidPeriod`]).
pub fn accrue_unrounded(
    principal: Money,
    annual_rate: Rate,
    day_count: DayCount,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<UnroundedInterest, InterestError> {
    if principal.is_negative() {
        return Err(InterestError::InvalidAmount { amount: principal });
    }
    if to < from {
        return Err(InterestError::InvalidPeriod { from, to });
    }
    let scaled_days = (to - from)
        .num_days()
        .checked_mul(day_count.common_basis_factor())
        .ok_or(InterestError::Overflow)?;
    principal
        .to_yuan()
        .checked_mul(annual_rate.as_decimal())
        .and_then(|product| product.checked_mul(Decimal::from(scaled_days)))
        .map(|scaled_yuan| UnroundedInterest { scaled_yuan })
        .ok_or(InterestError::Overflow)
}

/// Interest on a constant `principal` for the days in `[from, to)`, as whole fen.
///
/// Computed as principal × (annual rate ÷ basis) × days exactly and rounded half-up to the
/// fen **once for the whole period**, not per day: 10 000.00 at 7.2 % ACT/360 for 30 days is
/// 10 000 × 0.072 × 30 ÷ 360 = 60.00. Errors as [`accrue_unrounded`].
pub fn accrue(
    principal: Money,
    annual_rate: Rate,
    day_count: DayCount,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Money, InterestError> {
    accrue_unrounded(principal, annual_rate, day_count, from, to)?.post()
}

/// The pricing of a credit line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditLineTerms {
    /// Nominal annual interest rate.
    pub annual_rate: Rate,
    /// How the annual rate becomes a daily one.
    #[serde(default)]
    pub day_count: DayCount,
}

/// Something that happened on a credit line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LineEvent {
    /// The borrower drew `amount` (借款) on `date`; it accrues interest from that day.
    Draw {
        /// Value date.
        date: NaiveDate,
        /// Amount drawn, greater than zero.
        amount: Money,
    },
    /// The borrower repaid `amount` (还款) on `date`: interest first, then principal.
    Repayment {
        /// Value date.
        date: NaiveDate,
        /// Amount repaid, greater than zero.
        amount: Money,
    },
}

impl LineEvent {
    /// The value date.
    pub const fn date(&self) -> NaiveDate {
        match self {
            Self::Draw { date, .. } | Self::Repayment { date, .. } => *date,
        }
    }
}

/// How one repayment was split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RepaymentAllocation {
    /// Value date.
    pub date: NaiveDate,
    /// Amount repaid.
    pub amount: Money,
    /// Interest owed just before the repayment, including the interest posted on its date.
    pub interest_due: Money,
    /// Part of `amount` that paid interest: `min(amount, interest_due)`.
    pub to_interest: Money,
    /// The rest, which paid principal.
    pub to_principal: Money,
}

/// A credit line's position at the end of an as-of date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinePosition {
    /// The date the position is for.
    pub as_of: NaiveDate,
    /// Principal outstanding after the as-of date's events; never negative.
    pub principal: Money,
    /// Interest accrued and not yet paid, posted (rounded) at the as-of date. It covers every
    /// day before `as_of`; the as-of day's own interest depends on its end-of-day principal and
    /// belongs to the next day's view.
    pub accrued_interest: Money,
    /// Interest paid by repayments up to and including the as-of date.
    pub interest_paid: Money,
    /// Principal paid by repayments up to and including the as-of date.
    pub principal_repaid: Money,
    /// How each repayment up to the as-of date was split, in order.
    pub allocations: Vec<RepaymentAllocation>,
}

impl LinePosition {
    /// Everything owed: principal plus accrued interest. Repaying exactly this on `as_of`
    /// clears the line.
    pub fn payoff_amount(&self) -> Result<Money, InterestError> {
        Ok(self.principal.checked_add(self.accrued_interest)?)
    }
}

/// Replays a credit line's events up to and including `as_of` and returns its position.
///
/// # Scheme
///
/// * Each calendar day accrues interest on that day's **end-of-day principal** (after all of
///   the day's events), at annual rate ÷ basis. So the day of a draw accrues, and the day of
///   a full repayment does not: money drawn on D and repaid on D + n accrues n days, the same
///   as [`accrue`] over `[D, D + n)`.
/// * Daily interest is summed **unrounded** ([`UnroundedInterest`]) and **posted** — rounded
///   half-up to the fen and added to interest owed — only on a repayment date (covering the
///   days before it) and at `as_of` (covering the days before it).
/// * A repayment pays posted interest first, then principal. One that exceeds principal plus
///   interest owed is refused with [`InterestError::Overpayment`]; the balance never goes
///   negative.
///
/// Events must be in date order; several on one date apply in the order given. Events after
/// `as_of` are checked for order and amount but otherwise ignored.
pub fn line_position(
    terms: &CreditLineTerms,
    events: &[LineEvent],
    as_of: NaiveDate,
) -> Result<LinePosition, InterestError> {
    for pair in events.windows(2) {
        if pair[1].date() < pair[0].date() {
            return Err(InterestError::EventsOutOfOrder {
                previous: pair[0].date(),
                date: pair[1].date(),
            });
        }
    }
    if let Some(amount) = events.iter().find_map(|event| match event {
        LineEvent::Draw { amount, .. } | LineEvent::Repayment { amount, .. } => {
            (!amount.is_positive()).then_some(*amount)
        }
    }) {
        return Err(InterestError::InvalidAmount { amount });
    }

    let mut position = LinePosition {
        as_of,
        principal: Money::ZERO,
        accrued_interest: Money::ZERO,
        interest_paid: Money::ZERO,
        principal_repaid: Money::ZERO,
        allocations: Vec::new(),
    };
    let mut unposted = UnroundedInterest::ZERO;
    // Interest has been accrued for every day before `accrued_until`.
    let mut accrued_until: Option<NaiveDate> = None;
    let accrue_to = |position: &LinePosition,
                     unposted: UnroundedInterest,
                     accrued_until: Option<NaiveDate>,
                     date: NaiveDate| match accrued_until {
        Some(from) => unposted.checked_add(accrue_unrounded(
            position.principal,
            terms.annual_rate,
            terms.day_count,
            from,
            date,
        )?),
        None => Ok(unposted),
    };

    for event in events.iter().take_while(|event| event.date() <= as_of) {
        let date = event.date();
        unposted = accrue_to(&position, unposted, accrued_until, date)?;
        accrued_until = Some(date);
        match *event {
            LineEvent::Draw { amount, .. } => {
                position.principal = position.principal.checked_add(amount)?;
            }
            LineEvent::Repayment { amount, .. } => {
                position.accrued_interest =
                    position.accrued_interest.checked_add(unposted.post()?)?;
                unposted = UnroundedInterest::ZERO;
                let owed = position.payoff_amount()?;
                if amount > owed {
                    return Err(InterestError::Overpayment {
                        date,
                        offered: amount,
                        owed,
                    });
                }
                let interest_due = position.accrued_interest;
                let to_interest = amount.min(interest_due);
                let to_principal = amount.checked_sub(to_interest)?;
                position.accrued_interest = interest_due.checked_sub(to_interest)?;
                position.principal = position.principal.checked_sub(to_principal)?;
                position.interest_paid = position.interest_paid.checked_add(to_interest)?;
                position.principal_repaid = position.principal_repaid.checked_add(to_principal)?;
                position.allocations.push(RepaymentAllocation {
                    date,
                    amount,
                    interest_due,
                    to_interest,
                    to_principal,
                });
            }
        }
    }
    unposted = accrue_to(&position, unposted, accrued_until, as_of)?;
    position.accrued_interest = position.accrued_interest.checked_add(unposted.post()?)?;
    Ok(position)
}

/// An annualised rate found as an internal rate of return (IRR) over daily periods.
///
/// 中国人民银行公告〔2021〕第 3 号 requires loan products to show the 年化利率: all borrowing
/// costs (interest and every loan-related fee) over the principal the borrower actually had
/// the use of, annualised; when computed with compounding it must be the IRR method. In that
/// announcement's worked example the periodic IRR is annualised by multiplying by the number
/// of periods in a year, so the figure to display is [`Apr::nominal`] — daily IRR × 365 —
/// returned by [`Apr::annualised`]. [`Apr::effective`], (1 + daily IRR)^365 − 1, is there for
/// comparison and is always at least as large.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Apr {
    /// The daily IRR, unrounded.
    pub daily_irr: Decimal,
    /// Daily IRR × 365: the 年化利率 to display.
    pub nominal: Rate,
    /// (1 + daily IRR)^365 − 1: the compounded annual rate.
    pub effective: Rate,
}

impl Apr {
    /// The annualised rate to show the borrower (PBoC 2021 No. 3): [`Apr::nominal`].
    pub const fn annualised(&self) -> Rate {
        self.nominal
    }
}

/// The annualised rate that makes the present value of `cash_flows` zero.
///
/// Flows are from the borrower's view: **positive** for money received (a draw net of any
/// upfront fee), **negative** for repayments (principal, interest and fees). Each flow is
/// discounted by (1 + r)^days from the earliest date; r is the daily IRR.
///
/// The root is sought among non-negative daily rates up to 1 000 % a day: the search
/// brackets a sign change of the present value, then refines it with Newton steps that fall
/// back to bisection whenever a step would leave the bracket, all in `Decimal`. It has
/// converged when the daily rate moves by less than 10⁻¹⁰ ÷ 365, i.e. the nominal annual
/// rate is settled to 10⁻¹⁰; after [`MAX_IRR_ITERATIONS`] steps it fails with
/// [`InterestError::NotConverged`]. Flows whose sign changes more than once can have several
/// IRRs; the smallest bracketed one is returned.
///
/// Errors: [`InterestError::InvalidCashFlows`] without both a positive and a negative flow,
/// [`InterestError::NegativeApr`] when the borrower repays less than was received,
/// [`InterestError::NoRoot`] when no rate in range fits.
pub fn apr_irr(cash_flows: &[(NaiveDate, Money)]) -> Result<Apr, InterestError> {
    if !cash_flows.iter().any(|(_, amount)| amount.is_positive())
        || !cash_flows.iter().any(|(_, amount)| amount.is_negative())
    {
        return Err(InterestError::InvalidCashFlows);
    }
    let start = cash_flows
        .iter()
        .map(|(date, _)| *date)
        .min()
        .ok_or(InterestError::InvalidCashFlows)?;
    let flows = cash_flows
        .iter()
        .map(|(date, amount)| {
            let days =
                u32::try_from((*date - start).num_days()).map_err(|_| InterestError::Overflow)?;
            Ok((days, amount.to_yuan()))
        })
        .collect::<Result<Vec<_>, InterestError>>()?;

    let daily_irr = find_root(&flows)?;
    let nominal = daily_irr
        .checked_mul(Decimal::from(DAYS_PER_YEAR_FOR_APR))
        .ok_or(InterestError::Overflow)?;
    let effective = power(Decimal::ONE + daily_irr, DAYS_PER_YEAR_FOR_APR)
        .and_then(|growth| growth.checked_sub(Decimal::ONE))
        .ok_or(InterestError::Overflow)?;
    Ok(Apr {
        daily_irr,
        nominal: Rate::from_decimal(nominal).map_err(|_| InterestError::NegativeApr)?,
        effective: Rate::from_decimal(effective).map_err(|_| InterestError::NegativeApr)?,
    })
}

/// Present value of `flows` at daily rate `rate` ≥ 0, and its derivative with respect to
/// `rate`.
fn present_value(
    flows: &[(u32, Decimal)],
    rate: Decimal,
) -> Result<(Decimal, Decimal), InterestError> {
    let one_plus = Decimal::ONE + rate;
    // `rate` ≥ 0, so the discount factor is in (0, 1] and its powers only shrink.
    let discount = Decimal::ONE
        .checked_div(one_plus)
        .ok_or(InterestError::Overflow)?;
    let mut value = Decimal::ZERO;
    let mut slope = Decimal::ZERO;
    for &(days, amount) in flows {
        let factor = power(discount, days).ok_or(InterestError::Overflow)?;
        let discounted = amount.checked_mul(factor).ok_or(InterestError::Overflow)?;
        value = value
            .checked_add(discounted)
            .ok_or(InterestError::Overflow)?;
        // d/dr [a (1 + r)^-t] = -t a (1 + r)^-(t + 1)
        let term = discounted
            .checked_mul(Decimal::from(days))
            .and_then(|term| term.checked_mul(discount))
            .ok_or(InterestError::Overflow)?;
        slope = slope.checked_sub(term).ok_or(InterestError::Overflow)?;
    }
    Ok((value, slope))
}

/// Daily IRR of `flows` (days from start, yuan), following [`apr_irr`]'s contract.
fn find_root(flows: &[(u32, Decimal)]) -> Result<Decimal, InterestError> {
    let (at_zero, _) = present_value(flows, Decimal::ZERO)?;
    let sign_at_zero = at_zero.cmp(&Decimal::ZERO);
    if sign_at_zero == Ordering::Equal {
        return Ok(Decimal::ZERO);
    }
    // Bracket: grow the upper bound from 0.1 % a day until the present value changes sign.
    let search_limit = Decimal::from(10);
    let mut low = Decimal::ZERO;
    let mut high = Decimal::new(1, 3);
    loop {
        let (value, _) = present_value(flows, high)?;
        match value.cmp(&Decimal::ZERO) {
            Ordering::Equal => return Ok(high),
            sign if sign != sign_at_zero => break,
            _ => {}
        }
        if high >= search_limit {
            return Err(if sign_at_zero == Ordering::Greater {
                InterestError::NegativeApr
            } else {
                InterestError::NoRoot
            });
        }
        low = high;
        high = (high * Decimal::TWO).min(search_limit);
    }

    let tolerance = Decimal::new(1, 10) / Decimal::from(DAYS_PER_YEAR_FOR_APR);
    let mut rate = (low + high) / Decimal::TWO;
    for _ in 0..MAX_IRR_ITERATIONS {
        let (value, slope) = present_value(flows, rate)?;
        let sign = value.cmp(&Decimal::ZERO);
        if sign == Ordering::Equal {
            return Ok(rate);
        }
        if sign == sign_at_zero {
            low = rate;
        } else {
            high = rate;
        }
        let newton = if slope.is_zero() {
            None
        } else {
            value
                .checked_div(slope)
                .and_then(|step| rate.checked_sub(step))
        };
        let next = match newton {
            Some(next) if next > low && next < high => next,
            _ => (low + high) / Decimal::TWO,
        };
        let moved = (next - rate).abs();
        rate = next;
        if moved < tolerance || high - low < tolerance {
            return Ok(rate);
        }
    }
    Err(InterestError::NotConverged {
        iterations: MAX_IRR_ITERATIONS,
    })
}

/// `base^exponent` by repeated squaring, or `None` on overflow.
fn power(base: Decimal, exponent: u32) -> Option<Decimal> {
    let mut result = Decimal::ONE;
    let mut square = base;
    let mut remaining = exponent;
    while remaining > 0 {
        if remaining & 1 == 1 {
            result = result.checked_mul(square)?;
        }
        remaining >>= 1;
        if remaining > 0 {
            square = square.checked_mul(square)?;
        }
    }
    Some(result)
}

/// A daily rate together with the annual rate it corresponds to, for showing both: a daily
/// rate (日利率) may not be shown without its annualised rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DailyRateQuote {
    /// Rate per day, e.g. 0.0002 (0.02 %, 万分之二).
    pub daily: Rate,
    /// Annual rate, `daily × days in year` (simple, not compounded).
    pub annual: Rate,
    /// The basis linking the two.
    pub day_count: DayCount,
}

impl DailyRateQuote {
    /// The quote for a daily rate: `annual = daily × 360` or `× 365`, exactly.
    pub fn from_daily(daily: Rate, day_count: DayCount) -> Result<Self, InterestError> {
        let annual = daily
            .as_decimal()
            .checked_mul(Decimal::from(day_count.days_in_year()))
            .ok_or(InterestError::Overflow)?;
        Ok(Self {
            daily,
            annual: Rate::from_decimal(annual)?,
            day_count,
        })
    }

    /// The daily rate in ten-thousandths (万分之), e.g. `"万分之二"`, `"万分之1.5"`: whole
    /// numbers from 1 to 99 in Chinese numerals, anything else in digits.
    pub fn per_ten_thousand(&self) -> String {
        let Some(parts) = self.daily.as_decimal().checked_mul(Decimal::from(10_000)) else {
            return format!("每日 {}", self.daily.to_percent_string(4));
        };
        let parts = parts.normalize();
        match u32::try_from(parts.mantissa()) {
            Ok(whole) if parts.scale() == 0 && (1..100).contains(&whole) => {
                format!("万分之{}", chinese_numeral(whole))
            }
            _ => format!("万分之{parts}"),
        }
    }
}

impl fmt::Display for DailyRateQuote {
    /// `日利率 0.02%（万分之二），年化利率 7.30%（单利，ACT/365）`: the daily rate as a
    /// percentage with up to four decimals and the annual rate with two, both rounded half up
    /// for display.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let daily_percent = self.daily.to_percent_string(4);
        let daily_percent = daily_percent
            .trim_end_matches('%')
            .trim_end_matches('0')
            .trim_end_matches('.');
        write!(
            f,
            "日利率 {daily_percent}%（{}），年化利率 {}（单利，{}）",
            self.per_ten_thousand(),
            self.annual.to_percent_string(2),
            self.day_count
        )
    }
}

/// The daily rate that corresponds to an annual rate (`apr ÷ 360` or `÷ 365`), quoted with it.
///
/// 7.3 % under ACT/365 is 0.02 % a day (万分之二). A quotient that does not terminate is
/// carried to 28 significant digits (see [`DayCount::daily_rate`]); the quote keeps the
/// given `apr` as its annual rate rather than multiplying the rounded daily rate back.
pub fn daily_rate_for_apr(apr: Rate, day_count: DayCount) -> Result<DailyRateQuote, InterestError> {
    Ok(DailyRateQuote {
        daily: Rate::from_decimal(day_count.daily_rate(apr))?,
        annual: apr,
        day_count,
    })
}

/// 1..=99 in Chinese numerals: 二, 十五, 二十.
fn chinese_numeral(number: u32) -> String {
    const DIGITS: [&str; 10] = ["零", "一", "二", "三", "四", "五", "六", "七", "八", "九"];
    let (tens, units) = ((number / 10) as usize, (number % 10) as usize);
    let mut text = String::new();
    if tens > 1 {
        text.push_str(DIGITS[tens]);
    }
    if tens > 0 {
        text.push('十');
    }
    if units > 0 || tens == 0 {
        text.push_str(DIGITS[units]);
    }
    text
}
