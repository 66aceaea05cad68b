//! The 人行征信 credit report.

use rand::Rng;
use rand_distr::{Distribution, Poisson, StandardNormal};
use serde::{Deserialize, Serialize};

use bianmin_core::Money;

use super::work::EmploymentStatus;
use super::{logistic, yuan};
use crate::calendar::{HISTORY_MONTHS, LAST_CLOSED_MONTH, YearMonth};

/// Kind of loan on a credit report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoanKind {
    /// 个人住房贷款.
    Mortgage,
    /// 个人汽车贷款.
    Car,
    /// 个人消费贷款 (including online lenders).
    Consumer,
    /// 个人经营性贷款.
    Business,
}

/// One loan account.
#[derive(Debug, Clone)]
pub struct LoanAccount {
    /// Kind.
    pub kind: LoanKind,
    /// Month opened.
    pub opened: YearMonth,
    /// Amount lent.
    pub principal: Money,
    /// Amount still owed.
    pub outstanding: Money,
    /// Scheduled monthly repayment.
    pub monthly_repayment: Money,
}

/// Credit cards, summed.
#[derive(Debug, Clone, Copy, Default)]
pub struct CardSummary {
    /// Number of active cards.
    pub count: u32,
    /// Sum of credit limits.
    pub total_limit: Money,
    /// Sum of balances used.
    pub used: Money,
}

/// A person's credit report, summarised.
#[derive(Debug, Clone, Default)]
pub struct CreditReport {
    /// Loans, largest first.
    pub loans: Vec<LoanAccount>,
    /// Credit cards.
    pub cards: CardSummary,
    /// Amount currently past due.
    pub overdue_amount: Money,
    /// Days the oldest unpaid instalment is past due.
    pub overdue_days: u32,
    /// Hard inquiries (loan and card applications) in the last six months.
    pub inquiries_6m: u32,
    /// Repayment status of the last 24 months, oldest first: `N` paid on time, `1`–`7`
    /// months past due, `/` no account.
    pub status_24m: String,
}

impl CreditReport {
    /// Whether the bureau has any account for the person (a "白户" has none).
    pub fn has_record(&self) -> bool {
        !self.loans.is_empty() || self.cards.count > 0
    }

    /// Outstanding loans plus card balances.
    pub fn total_outstanding(&self) -> Money {
        Money::from_fen(
            self.loans
                .iter()
                .map(|loan| loan.outstanding.fen())
                .sum::<i64>()
                + self.cards.used.fen(),
        )
    }

    /// Scheduled loan repayments plus the card minimum payment (10 % of the balance).
    pub fn monthly_repayment(&self) -> Money {
        Money::from_fen(
            self.loans
                .iter()
                .map(|loan| loan.monthly_repayment.fen())
                .sum::<i64>()
                + self.cards.used.fen() / 10,
        )
    }

    /// Worst status of the last 24 months: 0 for always on time, 1–7 months past due.
    pub fn worst_status(&self) -> u32 {
        self.status_24m
            .bytes()
            .filter(u8::is_ascii_digit)
            .map(|digit| u32::from(digit - b'0'))
            .max()
            .unwrap_or(0)
    }
}

pub(crate) struct CreditInputs {
    pub(crate) age: u32,
    pub(crate) status: EmploymentStatus,
    pub(crate) monthly_income: f64,
    pub(crate) owns_vehicle: bool,
    pub(crate) distributor: bool,
    pub(crate) fragility: f64,
}

/// Monthly payment of an annuity of `principal` over `months` at 4 % a year.
fn annuity(principal: f64, months: u32) -> f64 {
    let rate: f64 = 0.04 / 12.0;
    principal * rate / (1.0 - (1.0 + rate).powi(-(months as i32)))
}

fn loan(rng: &mut impl Rng, kind: LoanKind, principal: f64, term_months: u32) -> LoanAccount {
    let elapsed = rng.random_range(0..term_months.max(2));
    let remaining = term_months - elapsed;
    let monthly = annuity(principal, term_months);
    // Balance of an annuity: the present value of the remaining payments.
    let rate: f64 = 0.04 / 12.0;
    let outstanding = monthly * (1.0 - (1.0 + rate).powi(-(remaining as i32))) / rate;
    LoanAccount {
        kind,
        opened: LAST_CLOSED_MONTH.plus(-(elapsed as i32)),
        principal: yuan(principal),
        outstanding: yuan(outstanding),
        monthly_repayment: yuan(monthly),
    }
}

pub(crate) fn generate(rng: &mut impl Rng, inputs: &CreditInputs) -> CreditReport {
    let income = inputs.monthly_income;
    let income_factor = (income.max(1_500.0) / 8_000.0).ln();
    let z = inputs.fragility;
    let mut loans = Vec::new();

    let age_term = match inputs.age {
        ..25 => -2.0,
        25..30 => -0.6,
        30..50 => 0.4,
        50..60 => -0.2,
        _ => -1.5,
    };
    let status_term = match inputs.status {
        EmploymentStatus::Unemployed => -1.5,
        EmploymentStatus::Retired => -1.0,
        EmploymentStatus::Flexible => -0.6,
        _ => 0.0,
    };
    if rng.random_bool(logistic(
        -1.0 + 1.3 * income_factor + age_term + status_term,
    )) {
        // Repayment of 20–50 % of income, on 10–30 years.
        let monthly = income.max(3_000.0) * rng.random_range(0.2..0.5);
        let term = 12 * rng.random_range(10..=30u32);
        let principal = monthly / annuity(1.0, term);
        loans.push(loan(rng, LoanKind::Mortgage, principal, term));
    }
    if inputs.owns_vehicle && inputs.age < 55 && rng.random_bool(0.3) {
        let principal =
            rng.random_range(50_000.0..200_000.0) * (income.max(3_000.0) / 8_000.0).powf(0.3);
        let term = 12 * rng.random_range(2..=5u32);
        loans.push(loan(rng, LoanKind::Car, principal, term));
    }
    let consumer_rate = 0.35 * (0.6 * z).exp() + if inputs.age < 35 { 0.2 } else { 0.0 };
    let consumer = Poisson::new(consumer_rate).map_or(0.0, |poisson| poisson.sample(rng)) as u32;
    for _ in 0..consumer.min(8) {
        let normal: f64 = rng.sample(StandardNormal);
        let principal =
            (30_000f64.ln() + 0.5 * (income.max(2_000.0) / 6_000.0).ln() + 0.6 * normal).exp();
        let term = [6, 12, 24, 36][rng.random_range(0..4)];
        loans.push(loan(rng, LoanKind::Consumer, principal, term));
    }
    let business_probability = match (inputs.distributor, inputs.status) {
        (true, _) => 0.6,
        (false, EmploymentStatus::SelfEmployed) => 0.3,
        _ => 0.0,
    };
    if business_probability > 0.0 && rng.random_bool(business_probability) {
        let normal: f64 = rng.sample(StandardNormal);
        let principal = (300_000f64.ln() + 0.7 * normal).exp();
        let term = 12 * rng.random_range(1..=3u32);
        loans.push(loan(rng, LoanKind::Business, principal, term));
    }
    loans.sort_by_key(|loan| std::cmp::Reverse(loan.outstanding));

    let mut cards = CardSummary::default();
    if inputs.age < 66 {
        let card_rate = 0.4 + if income > 5_000.0 { 1.0 } else { 0.3 } + 0.3 * z.max(0.0);
        cards.count = Poisson::new(card_rate).map_or(0.0, |poisson| poisson.sample(rng)) as u32;
        cards.count = cards.count.min(12);
        if cards.count > 0 {
            let limit = f64::from(cards.count) * income.max(3_000.0) * rng.random_range(0.5..2.0);
            let normal: f64 = rng.sample(StandardNormal);
            let utilisation = logistic(-1.0 + 0.9 * z + 0.5 * normal);
            cards.total_limit = yuan((limit / 1_000.0).round() * 1_000.0);
            cards.used = yuan(limit * utilisation);
        }
    }

    let mut report = CreditReport {
        loans,
        cards,
        ..CreditReport::default()
    };
    let has_record = report.has_record();
    let dti = report.monthly_repayment().fen() as f64 / 100.0 / income.max(1_500.0);
    let mut status: Vec<u8> = vec![if has_record { b'N' } else { b'/' }; HISTORY_MONTHS as usize];
    if has_record {
        let unemployed = if inputs.status == EmploymentStatus::Unemployed {
            0.8
        } else {
            0.0
        };
        if rng.random_bool(logistic(-4.9 + 1.2 * z + 1.2 * dti.min(2.0) + unemployed)) {
            let normal: f64 = rng.sample(StandardNormal);
            let days = ((20f64.ln() + normal).exp().round() as u32).clamp(1, 720);
            let months_behind = days.div_ceil(30);
            report.overdue_days = days;
            let overdue = report.monthly_repayment().fen() * i64::from(months_behind);
            report.overdue_amount =
                Money::from_fen(overdue.min(report.total_outstanding().fen()).max(100));
            for back in 0..months_behind.min(HISTORY_MONTHS) {
                let bucket = (months_behind - back).min(7);
                status[(HISTORY_MONTHS - 1 - back) as usize] = b'0' + bucket as u8;
            }
        }
        if rng.random_bool(logistic(-3.2 + 1.1 * z)) {
            let length = rng.random_range(1..=2u32);
            let end = rng.random_range(2..HISTORY_MONTHS - 3) as usize;
            for (offset, month) in (end + 1 - length as usize..=end).enumerate() {
                if status[month] == b'N' {
                    status[month] = b'1' + offset as u8;
                }
            }
        }
    }
    report.status_24m = String::from_utf8(status).unwrap_or_default();
    let inquiry_rate = 0.6 * (0.5 * z).exp()
        + if consumer > 0 { 0.6 } else { 0.0 }
        + if report.overdue_days > 0 { 0.4 } else { 0.0 };
    report.inquiries_6m =
        (Poisson::new(inquiry_rate).map_or(0.0, |poisson| poisson.sample(rng)) as u32).min(30);
    report
}
