//! The revolving line's double-entry ledger (随借随还): a [`CreditLine`] is a serialisable state
//! machine, and every movement of money on it comes out as a balanced [`Journal`].
//!
//! # Accounts and entries
//!
//! | event | debit | credit |
//! |---|---|---|
//! | draw (借款) | `principal_receivable` | `customer_account` |
//! | interest posting (计息) | `interest_receivable` | `interest_income` |
//! | penalty posting (罚息) | `penalty_receivable` | `penalty_income` |
//! | repayment (还款) | `customer_account` | the receivables, per [`Allocation`] |
//!
//! Debits minus credits over all journals is zero for every line, and
//! [`CreditLine::balances`] is the same trial balance kept by the line itself.
//!
//! # Days and accrual
//!
//! The line is accrued for every day **before** [`CreditLine::accrued_until`]. A day's interest
//! is on that day's **end-of-day** principal, so the nightly job that runs just after midnight
//! calls [`CreditLine::accrue_through`] with the new day's date; a draw, repayment or any other
//! call may carry that date or a later one, never an earlier one. Every call accrues up to its
//! date first, so calling the nightly job is never required for correct figures — it only
//! closes statements and marks bills overdue on time.
//!
//! # Rounding carry
//!
//! Exact interest is summed unrounded ([`UnroundedInterest`]) over the whole life of the line.
//! Each posting books `round_half_up(exact so far) − posted so far`, so the rounding residue is
//! carried forward instead of being lost at every posting: at any moment total posted interest
//! differs from total exact interest by at most half a fen. Penalty interest is carried the
//! same way. Postings happen when a statement closes and when a repayment arrives.
//!
//! # Statements, minimum payment, overdue
//!
//! A statement closes every month on the opening day-of-month (the 31st becomes the last day of
//! shorter months), covering the days since the previous one. It bills all posted interest and
//! penalty not yet billed plus a principal part — `max(unbilled principal ×
//! min_principal_ratio, min_payment_floor)`, capped at the unbilled principal — due
//! `grace_days` after the statement date. A bill still unpaid after its due date is **past
//! due**: its principal stops bearing ordinary interest and, with its interest, bears penalty
//! interest at `penalty_multiplier ×` the contract rate (罚息 and 复利, 银发〔2003〕251号), and the
//! line takes no draws until every past-due bill is paid.

use std::collections::BTreeMap;
use std::fmt;

use bianmin_core::{Money, MoneyError, Rate, Rounding};
use chrono::{Days, Months, NaiveDate};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::interest::{DayCount, InterestError, UnroundedInterest, accrue_unrounded};

/// Why a ledger operation was refused. Nothing is changed when an operation fails.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    /// A draw or repayment that is not greater than zero.
    #[error("金额无效：{amount} 元，借款和还款金额必须大于 0")]
    InvalidAmount {
        /// The rejected amount.
        amount: Money,
    },
    /// A date earlier than the day the line has already been accrued to.
    #[error("日期 {date} 早于已计息日期 {accrued_until}，不能倒签")]
    DateBeforeAccrual {
        /// The date given.
        date: NaiveDate,
        /// Every day before this one has been accrued.
        accrued_until: NaiveDate,
    },
    /// A draw larger than the unused part of the limit.
    #[error("借款金额 {amount} 元超过可用额度 {available} 元")]
    ExceedsAvailable {
        /// Amount asked for.
        amount: Money,
        /// Limit minus principal outstanding.
        available: Money,
    },
    /// A draw on a frozen line.
    #[error("额度已冻结，暂不能借款（原因：{reason}）")]
    LineFrozen {
        /// Why it was frozen.
        reason: String,
    },
    /// A draw while a bill is past due.
    #[error("账户已逾期 {days_past_due} 天，结清逾期款项前不能借款")]
    LineOverdue {
        /// Days since the oldest unpaid due date.
        days_past_due: u32,
    },
    /// A draw on or after the expiry date, before the annual re-approval.
    #[error("额度已于 {expires_on} 到期，需重新审批（续期）后才能借款")]
    LineExpired {
        /// The day the line stopped taking draws.
        expires_on: NaiveDate,
    },
    /// Any change to a closed line.
    #[error("额度已于 {closed_on} 关闭")]
    LineClosed {
        /// The day it was closed.
        closed_on: NaiveDate,
    },
    /// A repayment larger than everything owed; refused rather than turned into a credit
    /// balance.
    #[error("还款金额 {offered} 元超过 {date} 的应还总额 {owed} 元（本金、利息与罚息）")]
    Overpayment {
        /// Date of the repayment.
        date: NaiveDate,
        /// Amount offered.
        offered: Money,
        /// Everything owed on that date.
        owed: Money,
    },
    /// Freezing a line that is already frozen.
    #[error("额度已处于冻结状态（原因：{reason}）")]
    AlreadyFrozen {
        /// The reason given when it was frozen.
        reason: String,
    },
    /// Unfreezing a line that is not frozen.
    #[error("额度未被冻结，无需解冻")]
    NotFrozen,
    /// Closing a line that still has something owed.
    #[error("尚有 {owed} 元未结清，不能关闭额度")]
    BalanceOutstanding {
        /// Everything owed.
        owed: Money,
    },
    /// Terms that cannot describe a line.
    #[error("额度条款无效：{reason}")]
    InvalidTerms {
        /// What is wrong, in words.
        reason: String,
    },
    /// An amount, a date or an intermediate result beyond the representable range.
    #[error("金额、日期或计算结果超出可计算的范围")]
    Overflow,
}

impl LedgerError {
    /// Stable machine-readable code, e.g. `"lending.ledger.exceeds_available"`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidAmount { .. } => "lending.ledger.invalid_amount",
            Self::DateBeforeAccrual { .. } => "lending.ledger.date_before_accrual",
            Self::ExceedsAvailable { .. } => "lending.ledger.exceeds_available",
            Self::LineFrozen { .. } => "lending.ledger.line_frozen",
            Self::LineOverdue { .. } => "lending.ledger.line_overdue",
            Self::LineExpired { .. } => "lending.ledger.line_expired",
            Self::LineClosed { .. } => "lending.ledger.line_closed",
            Self::Overpayment { .. } => "lending.ledger.overpayment",
            Self::AlreadyFrozen { .. } => "lending.ledger.already_frozen",
            Self::NotFrozen => "lending.ledger.not_frozen",
            Self::BalanceOutstanding { .. } => "lending.ledger.balance_outstanding",
            Self::InvalidTerms { .. } => "lending.ledger.invalid_terms",
            Self::Overflow => "lending.ledger.overflow",
        }
    }
}

impl From<MoneyError> for LedgerError {
    /// Only overflow comes out of the checked `Money` operations used here.
    fn from(_: MoneyError) -> Self {
        Self::Overflow
    }
}

impl From<InterestError> for LedgerError {
    /// The ledger only ever accrues non-negative amounts over forward periods, so the only
    /// interest error it can meet is overflow.
    fn from(_: InterestError) -> Self {
        Self::Overflow
    }
}

/// The accounts a line's journals post to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LedgerAccount {
    /// 应收本金: principal drawn and not repaid.
    PrincipalReceivable,
    /// 应收利息: interest posted and not paid.
    InterestReceivable,
    /// 应收罚息: penalty interest posted and not paid.
    PenaltyReceivable,
    /// 客户结算账户: the borrower's account that draws go to and repayments come from.
    CustomerAccount,
    /// 利息收入: interest earned.
    InterestIncome,
    /// 罚息收入: penalty interest earned.
    PenaltyIncome,
}

impl LedgerAccount {
    /// Every account, in chart-of-accounts order.
    pub const ALL: [LedgerAccount; 6] = [
        Self::PrincipalReceivable,
        Self::InterestReceivable,
        Self::PenaltyReceivable,
        Self::CustomerAccount,
        Self::InterestIncome,
        Self::PenaltyIncome,
    ];

    /// The account's name in Chinese, e.g. `"应收本金"`.
    pub const fn name_zh(self) -> &'static str {
        match self {
            Self::PrincipalReceivable => "应收本金",
            Self::InterestReceivable => "应收利息",
            Self::PenaltyReceivable => "应收罚息",
            Self::CustomerAccount => "客户结算账户",
            Self::InterestIncome => "利息收入",
            Self::PenaltyIncome => "罚息收入",
        }
    }

    /// The account's identifier, as serialised: `"principal_receivable"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::PrincipalReceivable => "principal_receivable",
            Self::InterestReceivable => "interest_receivable",
            Self::PenaltyReceivable => "penalty_receivable",
            Self::CustomerAccount => "customer_account",
            Self::InterestIncome => "interest_income",
            Self::PenaltyIncome => "penalty_income",
        }
    }
}

impl fmt::Display for LedgerAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One line of a journal: a non-negative debit or credit to one account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Posting {
    /// The account posted to.
    pub account: LedgerAccount,
    /// Amount debited; zero on a credit line.
    pub debit: Money,
    /// Amount credited; zero on a debit line.
    pub credit: Money,
}

impl Posting {
    /// A debit of `amount` to `account`.
    pub const fn debit_to(account: LedgerAccount, amount: Money) -> Self {
        Self {
            account,
            debit: amount,
            credit: Money::ZERO,
        }
    }

    /// A credit of `amount` to `account`.
    pub const fn credit_to(account: LedgerAccount, amount: Money) -> Self {
        Self {
            account,
            debit: Money::ZERO,
            credit: amount,
        }
    }

    /// Debit minus credit: the posting's effect on the account's balance.
    pub fn signed(&self) -> Result<Money, LedgerError> {
        Ok(self.debit.checked_sub(self.credit)?)
    }
}

/// What a journal records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JournalKind {
    /// 借款: money lent to the borrower.
    Draw,
    /// 还款: money repaid by the borrower.
    Repayment,
    /// 计息: accrued interest booked as owed.
    InterestPosting,
    /// 罚息: accrued penalty interest booked as owed.
    PenaltyPosting,
}

impl JournalKind {
    /// The kind in Chinese and English, for statements: `"借款 Draw"`.
    pub const fn label(self) -> &'static str {
        match self {
            Self::Draw => "借款 Draw",
            Self::Repayment => "还款 Repayment",
            Self::InterestPosting => "计息 Interest",
            Self::PenaltyPosting => "罚息 Penalty",
        }
    }
}

/// A balanced set of postings made on one date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journal {
    /// Value date.
    pub date: NaiveDate,
    /// What happened.
    pub kind: JournalKind,
    /// Debits and credits; every journal made by a [`CreditLine`] balances.
    pub postings: Vec<Posting>,
}

impl Journal {
    /// Total of the debits, or `None` on overflow.
    pub fn total_debits(&self) -> Option<Money> {
        Money::try_sum(self.postings.iter().map(|posting| posting.debit)).ok()
    }

    /// Total of the credits, or `None` on overflow.
    pub fn total_credits(&self) -> Option<Money> {
        Money::try_sum(self.postings.iter().map(|posting| posting.credit)).ok()
    }

    /// Whether debits equal credits and no amount is negative.
    pub fn is_balanced(&self) -> bool {
        let non_negative = self
            .postings
            .iter()
            .all(|posting| !posting.debit.is_negative() && !posting.credit.is_negative());
        non_negative
            && matches!(
                (self.total_debits(), self.total_credits()),
                (Some(debits), Some(credits)) if debits == credits
            )
    }

    /// The amount the journal moves: its total debits (zero on overflow, which a journal made
    /// by a [`CreditLine`] cannot reach).
    pub fn amount(&self) -> Money {
        self.total_debits().unwrap_or(Money::ZERO)
    }

    /// Two-line journal: debit `debit`, credit `credit`, both by `amount`.
    fn pair(
        date: NaiveDate,
        kind: JournalKind,
        debit: LedgerAccount,
        credit: LedgerAccount,
        amount: Money,
    ) -> Self {
        Self {
            date,
            kind,
            postings: vec![
                Posting::debit_to(debit, amount),
                Posting::credit_to(credit, amount),
            ],
        }
    }
}

/// Balances (debits minus credits) per account over `journals`; every account is present.
/// For any set of balanced journals the balances add up to zero.
pub fn trial_balance<'a>(
    journals: impl IntoIterator<Item = &'a Journal>,
) -> Result<BTreeMap<LedgerAccount, Money>, LedgerError> {
    let mut balances: BTreeMap<LedgerAccount, Money> = LedgerAccount::ALL
        .iter()
        .map(|account| (*account, Money::ZERO))
        .collect();
    for journal in journals {
        for posting in &journal.postings {
            let balance = balances.entry(posting.account).or_default();
            *balance = balance.checked_add(posting.signed()?)?;
        }
    }
    Ok(balances)
}

/// A part of what is owed that a repayment can be put to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bucket {
    /// Interest of past-due bills (逾期利息).
    OverdueInterest,
    /// Principal of past-due bills (逾期本金).
    OverduePrincipal,
    /// All penalty interest owed (罚息).
    Penalty,
    /// All interest owed: billed first, oldest bill first, then posted but not yet billed.
    Interest,
    /// All principal owed: billed first, oldest bill first, then the rest.
    Principal,
}

impl Bucket {
    /// The default order: overdue interest → penalty → interest → principal.
    pub fn default_order() -> Vec<Bucket> {
        vec![
            Self::OverdueInterest,
            Self::Penalty,
            Self::Interest,
            Self::Principal,
        ]
    }
}

/// How a credit line is priced and serviced.
///
/// Build with [`LineTerms::new`] and override fields; [`CreditLine::open`] checks them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineTerms {
    /// Credit limit (授信额度): principal outstanding may not exceed it after a draw.
    pub limit: Money,
    /// Nominal annual interest rate.
    pub annual_rate: Rate,
    /// How the annual rate becomes a daily one; ACT/360 by default.
    #[serde(default)]
    pub day_count: DayCount,
    /// Penalty rate as a multiple of the contract rate, on past-due principal and interest;
    /// 1.5 by default (contract rate plus 50 %).
    #[serde(default = "default_penalty_multiplier")]
    pub penalty_multiplier: Decimal,
    /// Order in which a repayment pays what is owed; must name `penalty`, `interest` and
    /// `principal`, each bucket at most once.
    #[serde(default = "Bucket::default_order")]
    pub allocation: Vec<Bucket>,
    /// Days from the statement date to the payment due date; 20 by default.
    #[serde(default = "default_grace_days")]
    pub grace_days: u32,
    /// Share of the unbilled principal that a statement bills; 1/12 by default.
    #[serde(default = "default_min_principal_ratio")]
    pub min_principal_ratio: Decimal,
    /// Least principal a statement bills (when that much is owed); 100.00 yuan by default.
    #[serde(default = "default_min_payment_floor")]
    pub min_payment_floor: Money,
}

fn default_penalty_multiplier() -> Decimal {
    Decimal::new(15, 1)
}

const fn default_grace_days() -> u32 {
    20
}

fn default_min_principal_ratio() -> Decimal {
    // 1 ÷ 12 does not terminate; it is carried to 28 digits and the billed principal is then
    // rounded half-up to the fen, so the figure is exact to the fen for any real balance.
    Decimal::ONE / Decimal::from(12)
}

const fn default_min_payment_floor() -> Money {
    Money::from_fen(10_000)
}

/// Longest grace period accepted, so that a due date can never run past the next year.
const MAX_GRACE_DAYS: u32 = 366;

impl LineTerms {
    /// Terms with the given limit and rate and every other field at its default.
    pub fn new(limit: Money, annual_rate: Rate) -> Self {
        Self {
            limit,
            annual_rate,
            day_count: DayCount::default(),
            penalty_multiplier: default_penalty_multiplier(),
            allocation: Bucket::default_order(),
            grace_days: default_grace_days(),
            min_principal_ratio: default_min_principal_ratio(),
            min_payment_floor: default_min_payment_floor(),
        }
    }

    /// The annual penalty rate: contract rate × penalty multiplier.
    pub fn penalty_rate(&self) -> Result<Rate, LedgerError> {
        penalty_rate(self.annual_rate, self.penalty_multiplier)
    }

    /// Checks the terms, naming the first thing wrong.
    pub fn validate(&self) -> Result<(), LedgerError> {
        let invalid = |reason: &str| {
            Err(LedgerError::InvalidTerms {
                reason: reason.to_owned(),
            })
        };
        if self.limit.is_negative() {
            return invalid("授信额度不能为负数");
        }
        if self.penalty_multiplier < Decimal::ZERO {
            return invalid("罚息倍数不能为负数");
        }
        self.penalty_rate()?;
        if self.grace_days > MAX_GRACE_DAYS {
            return invalid("还款宽限期不能超过 366 天");
        }
        if self.min_principal_ratio < Decimal::ZERO || self.min_principal_ratio > Decimal::ONE {
            return invalid("最低还款本金比例须在 0 到 1 之间");
        }
        if self.min_payment_floor.is_negative() {
            return invalid("最低还款额下限不能为负数");
        }
        for (index, bucket) in self.allocation.iter().enumerate() {
            if self.allocation[..index].contains(bucket) {
                return invalid("还款顺序中同一科目出现了两次");
            }
        }
        for required in [Bucket::Penalty, Bucket::Interest, Bucket::Principal] {
            if !self.allocation.contains(&required) {
                return invalid(
                    "还款顺序须包含罚息（penalty）、利息（interest）和本金（principal）",
                );
            }
        }
        Ok(())
    }
}

fn penalty_rate(annual_rate: Rate, multiplier: Decimal) -> Result<Rate, LedgerError> {
    let product = annual_rate
        .as_decimal()
        .checked_mul(multiplier)
        .ok_or(LedgerError::Overflow)?;
    Rate::from_decimal(product).map_err(|_| LedgerError::InvalidTerms {
        reason: "罚息倍数不能为负数".to_owned(),
    })
}

/// How far behind a line is, by days past due (逾期天数).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum DelinquencyBucket {
    /// Current: nothing past due.
    M0,
    /// 1–30 days past due.
    M1,
    /// 31–60 days past due.
    M2,
    /// 61–90 days past due.
    M3,
    /// More than 90 days past due.
    #[serde(rename = "M4+")]
    M4Plus,
}

impl DelinquencyBucket {
    /// The bucket for a number of days past due.
    pub const fn from_days_past_due(days: u32) -> Self {
        match days {
            0 => Self::M0,
            1..=30 => Self::M1,
            31..=60 => Self::M2,
            61..=90 => Self::M3,
            _ => Self::M4Plus,
        }
    }
}

impl fmt::Display for DelinquencyBucket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::M0 => "M0",
            Self::M1 => "M1",
            Self::M2 => "M2",
            Self::M3 => "M3",
            Self::M4Plus => "M4+",
        })
    }
}

/// Whether a line can be drawn on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineStatus {
    /// Open for draws (overdue bills aside).
    Active,
    /// Frozen by the bank; repayments are still taken.
    Frozen,
    /// Past its expiry date and not yet renewed.
    Expired,
    /// Paid off and closed.
    Closed,
}

impl LineStatus {
    /// The status in Chinese and English: `"正常 active"`.
    pub const fn label(self) -> &'static str {
        match self {
            Self::Active => "正常 active",
            Self::Frozen => "冻结 frozen",
            Self::Expired => "已到期 expired",
            Self::Closed => "已关闭 closed",
        }
    }
}

/// How a repayment was split, bucket by bucket; the parts add up to `amount`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Allocation {
    /// Amount repaid.
    pub amount: Money,
    /// Paid to interest of past-due bills.
    pub overdue_interest: Money,
    /// Paid to principal of past-due bills.
    pub overdue_principal: Money,
    /// Paid to penalty interest.
    pub penalty: Money,
    /// Paid to other interest (billed but not past due, then unbilled).
    pub interest: Money,
    /// Paid to other principal.
    pub principal: Money,
}

impl Allocation {
    /// All interest paid, overdue or not.
    pub fn total_interest(&self) -> Result<Money, LedgerError> {
        Ok(self.overdue_interest.checked_add(self.interest)?)
    }

    /// All principal paid, overdue or not.
    pub fn total_principal(&self) -> Result<Money, LedgerError> {
        Ok(self.overdue_principal.checked_add(self.principal)?)
    }
}

/// What [`CreditLine::draw`] booked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DrawReceipt {
    /// Journals of the accrual up to the draw date (statements closed on the way).
    pub accrual: Vec<Journal>,
    /// The draw: Dr `principal_receivable`, Cr `customer_account`.
    pub journal: Journal,
}

impl DrawReceipt {
    /// Every journal booked, in order.
    pub fn journals(&self) -> impl Iterator<Item = &Journal> {
        self.accrual.iter().chain(std::iter::once(&self.journal))
    }
}

/// What [`CreditLine::repay`] booked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RepaymentReceipt {
    /// Journals of the accrual up to the repayment date, including the interest and penalty
    /// posted on that date.
    pub accrual: Vec<Journal>,
    /// The repayment: Dr `customer_account`, Cr the receivables paid.
    pub journal: Journal,
    /// How the amount was split.
    pub allocation: Allocation,
}

impl RepaymentReceipt {
    /// Every journal booked, in order.
    pub fn journals(&self) -> impl Iterator<Item = &Journal> {
        self.accrual.iter().chain(std::iter::once(&self.journal))
    }
}

/// A monthly statement (账单).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statement {
    /// 出账日: the day the statement closed; the period ends the day before.
    pub statement_date: NaiveDate,
    /// First day of the period.
    pub period_start: NaiveDate,
    /// Last day of the period.
    pub period_end: NaiveDate,
    /// Everything owed (principal, interest, penalty) at the start of the period.
    pub opening_balance: Money,
    /// Everything owed at the end of the period, after the closing postings.
    pub closing_balance: Money,
    /// Principal outstanding at the end of the period.
    pub closing_principal: Money,
    /// Every journal of the period, in order, ending with the closing postings.
    pub transactions: Vec<Journal>,
    /// Drawn in the period.
    pub drawn: Money,
    /// Repaid in the period.
    pub repaid: Money,
    /// Interest posted in the period (at repayments and at closing).
    pub interest_charged: Money,
    /// Penalty interest posted in the period.
    pub penalty_charged: Money,
    /// Of `minimum_due`, what was already past due from earlier statements.
    pub past_due: Money,
    /// 最低还款额: what must be paid by `due_date` to stay current — this statement's bill and
    /// every earlier bill still unpaid.
    pub minimum_due: Money,
    /// 到期还款日: statement date + grace days.
    pub due_date: NaiveDate,
}

/// A line's position (额度状态) at the start of [`CreditLine::accrued_until`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Position {
    /// Every day before this one is accrued.
    pub as_of: NaiveDate,
    /// Credit limit.
    pub limit: Money,
    /// Limit minus principal, never below zero.
    pub available: Money,
    /// Principal outstanding.
    pub principal: Money,
    /// Interest posted and unpaid.
    pub interest_receivable: Money,
    /// Penalty interest posted and unpaid.
    pub penalty_receivable: Money,
    /// Exact interest accrued minus interest posted, in yuan: what the next posting will
    /// round. Between −0.005 and the interest of the days since the last posting.
    pub unposted_interest: Decimal,
    /// The same for penalty interest.
    pub unposted_penalty: Decimal,
    /// Unpaid amount of every open bill: what must be paid by `due_date` to be current.
    pub minimum_due: Money,
    /// Due date of the oldest open bill, if any.
    pub due_date: Option<NaiveDate>,
    /// Unpaid amount of the past-due bills, included in `minimum_due`.
    pub past_due: Money,
    /// Days since the oldest past-due bill's due date; 0 when current.
    pub days_past_due: u32,
    /// M0 … M4+.
    pub delinquency: DelinquencyBucket,
    /// Active, frozen, expired or closed.
    pub status: LineStatus,
    /// Why the line is frozen, when it is.
    pub frozen_reason: Option<String>,
    /// First day on which draws are refused until [`CreditLine::renew`].
    pub expires_on: NaiveDate,
}

/// Running totals over the life of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LineTotals {
    /// Sum of draws.
    pub drawn: Money,
    /// Sum of repayments.
    pub repaid: Money,
    /// Principal repaid.
    pub principal_repaid: Money,
    /// Interest paid.
    pub interest_paid: Money,
    /// Penalty interest paid.
    pub penalty_paid: Money,
    /// Interest posted (charged).
    pub interest_posted: Money,
    /// Penalty interest posted (charged).
    pub penalty_posted: Money,
}

/// A stretch of days at one pair of rates: the sum over its days of the balances that bore
/// interest, in fen-days. Exact interest of the stretch is one day's interest on that sum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct AccrualSegment {
    annual_rate: Rate,
    penalty_rate: Rate,
    interest_fen_days: i64,
    penalty_fen_days: i64,
}

/// What a statement billed and is still unpaid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Bill {
    statement_date: NaiveDate,
    due_date: NaiveDate,
    interest: Money,
    penalty: Money,
    principal: Money,
    past_due: bool,
}

impl Bill {
    fn total(&self) -> Result<Money, LedgerError> {
        Ok(Money::try_sum([
            self.interest,
            self.penalty,
            self.principal,
        ])?)
    }
}

/// The statement period in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Cycle {
    start: NaiveDate,
    opening_balance: Money,
    journals: Vec<Journal>,
    drawn: Money,
    repaid: Money,
    interest_charged: Money,
    penalty_charged: Money,
}

impl Cycle {
    fn new(start: NaiveDate, opening_balance: Money) -> Self {
        Self {
            start,
            opening_balance,
            journals: Vec::new(),
            drawn: Money::ZERO,
            repaid: Money::ZERO,
            interest_charged: Money::ZERO,
            penalty_charged: Money::ZERO,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Freeze {
    since: NaiveDate,
    reason: String,
}

/// A revolving credit line (随借随还) and its ledger.
///
/// Serialisable so that a server can keep it as JSON; every method that changes it either
/// succeeds and returns the journals it booked, or fails and leaves it as it was. Closed
/// statements are kept in the line (one a month).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditLine {
    terms: LineTerms,
    opened_on: NaiveDate,
    expires_on: NaiveDate,
    accrued_until: NaiveDate,
    principal: Money,
    interest_receivable: Money,
    penalty_receivable: Money,
    segments: Vec<AccrualSegment>,
    totals: LineTotals,
    bills: Vec<Bill>,
    statements_closed: u32,
    cycle: Cycle,
    statements: Vec<Statement>,
    frozen: Option<Freeze>,
    closed_on: Option<NaiveDate>,
}

fn next_day(date: NaiveDate) -> Result<NaiveDate, LedgerError> {
    date.checked_add_days(Days::new(1))
        .ok_or(LedgerError::Overflow)
}

/// Exact minus posted, in yuan.
fn unposted(exact: UnroundedInterest, posted: Money) -> Result<Decimal, LedgerError> {
    exact
        .to_yuan()
        .checked_sub(posted.to_yuan())
        .ok_or(LedgerError::Overflow)
}

fn one_year_after(date: NaiveDate) -> Result<NaiveDate, LedgerError> {
    date.checked_add_months(Months::new(12))
        .ok_or(LedgerError::Overflow)
}

impl CreditLine {
    /// Opens a line on `opened_on` with nothing drawn. It expires one year later; statements
    /// close on the opening day-of-month.
    pub fn open(terms: LineTerms, opened_on: NaiveDate) -> Result<Self, LedgerError> {
        terms.validate()?;
        let segment = AccrualSegment {
            annual_rate: terms.annual_rate,
            penalty_rate: terms.penalty_rate()?,
            interest_fen_days: 0,
            penalty_fen_days: 0,
        };
        Ok(Self {
            expires_on: one_year_after(opened_on)?,
            terms,
            opened_on,
            accrued_until: opened_on,
            principal: Money::ZERO,
            interest_receivable: Money::ZERO,
            penalty_receivable: Money::ZERO,
            segments: vec![segment],
            totals: LineTotals::default(),
            bills: Vec::new(),
            statements_closed: 0,
            cycle: Cycle::new(opened_on, Money::ZERO),
            statements: Vec::new(),
            frozen: None,
            closed_on: None,
        })
    }

    /// The current terms (limit and rate as last renewed).
    pub fn terms(&self) -> &LineTerms {
        &self.terms
    }

    /// The day the line was opened.
    pub fn opened_on(&self) -> NaiveDate {
        self.opened_on
    }

    /// First day on which draws are refused until the line is renewed.
    pub fn expires_on(&self) -> NaiveDate {
        self.expires_on
    }

    /// Every day before this one has been accrued; no operation may carry an earlier date.
    pub fn accrued_until(&self) -> NaiveDate {
        self.accrued_until
    }

    /// Limit minus principal outstanding, never below zero. Whether a draw is allowed also
    /// depends on [`Position::status`] and on nothing being past due.
    pub fn available(&self) -> Money {
        self.terms
            .limit
            .checked_sub(self.principal)
            .map_or(Money::ZERO, |headroom| headroom.max(Money::ZERO))
    }

    /// Closed statements, oldest first.
    pub fn statements(&self) -> &[Statement] {
        &self.statements
    }

    /// The statement period in progress: its first day and the journals booked in it so far
    /// (they go on the next statement).
    pub fn current_period(&self) -> (NaiveDate, &[Journal]) {
        (self.cycle.start, &self.cycle.journals)
    }

    /// Totals over the life of the line.
    pub fn totals(&self) -> LineTotals {
        self.totals
    }

    /// The line's own trial balance, from its state: equal to [`trial_balance`] over every
    /// journal it has returned.
    pub fn balances(&self) -> Result<BTreeMap<LedgerAccount, Money>, LedgerError> {
        let customer = self.totals.repaid.checked_sub(self.totals.drawn)?;
        Ok(BTreeMap::from([
            (LedgerAccount::PrincipalReceivable, self.principal),
            (LedgerAccount::InterestReceivable, self.interest_receivable),
            (LedgerAccount::PenaltyReceivable, self.penalty_receivable),
            (LedgerAccount::CustomerAccount, customer),
            (
                LedgerAccount::InterestIncome,
                self.totals.interest_posted.checked_neg()?,
            ),
            (
                LedgerAccount::PenaltyIncome,
                self.totals.penalty_posted.checked_neg()?,
            ),
        ]))
    }

    /// Exact interest accrued over the life of the line, in yuan (for inspection; 28
    /// significant digits).
    pub fn exact_interest(&self) -> Result<Decimal, LedgerError> {
        Ok(self.exact_totals()?.0.to_yuan())
    }

    /// Exact penalty interest accrued over the life of the line, in yuan.
    pub fn exact_penalty(&self) -> Result<Decimal, LedgerError> {
        Ok(self.exact_totals()?.1.to_yuan())
    }

    /// The position at the start of [`CreditLine::accrued_until`].
    pub fn position(&self) -> Result<Position, LedgerError> {
        let (exact_interest, exact_penalty) = self.exact_totals()?;
        let past_due = self.past_due_amount()?;
        let days_past_due = self.days_past_due()?;
        let status = if self.closed_on.is_some() {
            LineStatus::Closed
        } else if self.frozen.is_some() {
            LineStatus::Frozen
        } else if self.accrued_until >= self.expires_on {
            LineStatus::Expired
        } else {
            LineStatus::Active
        };
        Ok(Position {
            as_of: self.accrued_until,
            limit: self.terms.limit,
            available: self.available(),
            principal: self.principal,
            interest_receivable: self.interest_receivable,
            penalty_receivable: self.penalty_receivable,
            unposted_interest: unposted(exact_interest, self.totals.interest_posted)?,
            unposted_penalty: unposted(exact_penalty, self.totals.penalty_posted)?,
            minimum_due: self.open_bills_total()?,
            due_date: self.bills.first().map(|bill| bill.due_date),
            past_due,
            days_past_due,
            delinquency: DelinquencyBucket::from_days_past_due(days_past_due),
            status,
            frozen_reason: self.frozen.as_ref().map(|freeze| freeze.reason.clone()),
            expires_on: self.expires_on,
        })
    }

    /// The nightly job: accrues every day before `date`, closing statements and marking bills
    /// past due as their dates pass, and returns the journals booked (the interest and
    /// penalty postings of the statements closed).
    pub fn accrue_through(&mut self, date: NaiveDate) -> Result<Vec<Journal>, LedgerError> {
        self.transact(|line| {
            let mut journals = Vec::new();
            line.advance(date, &mut journals)?;
            Ok(journals)
        })
    }

    /// Lends `amount` on `date`. Refused when it is not positive, exceeds
    /// [`CreditLine::available`], or the line is frozen, overdue, expired or closed.
    pub fn draw(&mut self, date: NaiveDate, amount: Money) -> Result<DrawReceipt, LedgerError> {
        self.transact(|line| {
            if !amount.is_positive() {
                return Err(LedgerError::InvalidAmount { amount });
            }
            line.ensure_not_closed()?;
            let mut accrual = Vec::new();
            line.advance(date, &mut accrual)?;
            if let Some(freeze) = &line.frozen {
                return Err(LedgerError::LineFrozen {
                    reason: freeze.reason.clone(),
                });
            }
            if date >= line.expires_on {
                return Err(LedgerError::LineExpired {
                    expires_on: line.expires_on,
                });
            }
            if line.bills.iter().any(|bill| bill.past_due) {
                return Err(LedgerError::LineOverdue {
                    days_past_due: line.days_past_due()?,
                });
            }
            let available = line.available();
            if amount > available {
                return Err(LedgerError::ExceedsAvailable { amount, available });
            }
            line.principal = line.principal.checked_add(amount)?;
            line.totals.drawn = line.totals.drawn.checked_add(amount)?;
            line.cycle.drawn = line.cycle.drawn.checked_add(amount)?;
            let journal = Journal::pair(
                date,
                JournalKind::Draw,
                LedgerAccount::PrincipalReceivable,
                LedgerAccount::CustomerAccount,
                amount,
            );
            line.cycle.journals.push(journal.clone());
            Ok(DrawReceipt { accrual, journal })
        })
    }

    /// Takes a repayment of `amount` on `date`: accrues to the date, posts interest and
    /// penalty with the rounding carry, and pays what is owed in the order of
    /// [`LineTerms::allocation`]. More than everything owed is refused.
    pub fn repay(
        &mut self,
        date: NaiveDate,
        amount: Money,
    ) -> Result<RepaymentReceipt, LedgerError> {
        self.transact(|line| {
            if !amount.is_positive() {
                return Err(LedgerError::InvalidAmount { amount });
            }
            line.ensure_not_closed()?;
            let mut accrual = Vec::new();
            line.advance(date, &mut accrual)?;
            line.post_accrued(date, &mut accrual)?;
            let owed = line.owed()?;
            if amount > owed {
                return Err(LedgerError::Overpayment {
                    date,
                    offered: amount,
                    owed,
                });
            }
            let allocation = line.allocate(amount)?;
            let journal = line.apply_allocation(date, &allocation)?;
            Ok(RepaymentReceipt {
                accrual,
                journal,
                allocation,
            })
        })
    }

    /// Everything owed on `date` — principal, interest and penalty including what accrues up
    /// to that date — i.e. the repayment on `date` that clears the line.
    pub fn payoff_amount(&self, date: NaiveDate) -> Result<Money, LedgerError> {
        let mut line = self.clone();
        line.advance(date, &mut Vec::new())?;
        line.post_accrued(date, &mut Vec::new())?;
        line.owed()
    }

    /// The repayment on `date` that settles every open bill, past due or not, under the
    /// line's allocation order: the minimum due plus whatever the order pays first (with the
    /// default order, penalty and interest accrued since the statement).
    pub fn amount_due(&self, date: NaiveDate) -> Result<Money, LedgerError> {
        let mut line = self.clone();
        line.advance(date, &mut Vec::new())?;
        line.post_accrued(date, &mut Vec::new())?;
        line.settling_amount()
    }

    /// Freezes the line from `date`: no draws until [`CreditLine::unfreeze`]. Interest and
    /// repayments carry on.
    pub fn freeze(
        &mut self,
        date: NaiveDate,
        reason: impl Into<String>,
    ) -> Result<Vec<Journal>, LedgerError> {
        let reason = reason.into();
        self.transact(|line| {
            line.ensure_not_closed()?;
            let mut journals = Vec::new();
            line.advance(date, &mut journals)?;
            if let Some(freeze) = &line.frozen {
                return Err(LedgerError::AlreadyFrozen {
                    reason: freeze.reason.clone(),
                });
            }
            line.frozen = Some(Freeze {
                since: date,
                reason,
            });
            Ok(journals)
        })
    }

    /// Lifts a freeze from `date`.
    pub fn unfreeze(&mut self, date: NaiveDate) -> Result<Vec<Journal>, LedgerError> {
        self.transact(|line| {
            line.ensure_not_closed()?;
            let mut journals = Vec::new();
            line.advance(date, &mut journals)?;
            if line.frozen.take().is_none() {
                return Err(LedgerError::NotFrozen);
            }
            Ok(journals)
        })
    }

    /// The date the current freeze started, if frozen.
    pub fn frozen_since(&self) -> Option<NaiveDate> {
        self.frozen.as_ref().map(|freeze| freeze.since)
    }

    /// The annual re-approval: from `date` the line has `new_limit` and `new_rate` (penalty
    /// at the same multiple) and expires one year later. Days before `date` keep the old
    /// rate. A limit below the principal outstanding leaves nothing available until repaid.
    pub fn renew(
        &mut self,
        date: NaiveDate,
        new_limit: Money,
        new_rate: Rate,
    ) -> Result<Vec<Journal>, LedgerError> {
        self.transact(|line| {
            line.ensure_not_closed()?;
            let mut journals = Vec::new();
            line.advance(date, &mut journals)?;
            let mut terms = line.terms.clone();
            terms.limit = new_limit;
            terms.annual_rate = new_rate;
            terms.validate()?;
            line.segments.push(AccrualSegment {
                annual_rate: new_rate,
                penalty_rate: terms.penalty_rate()?,
                interest_fen_days: 0,
                penalty_fen_days: 0,
            });
            line.terms = terms;
            line.expires_on = one_year_after(date)?;
            Ok(journals)
        })
    }

    /// Changes the limit from `date` (a supply-chain line lowered on an early warning, or
    /// raised): rate, penalty and expiry are unchanged, and so is everything owed. A limit
    /// below the principal outstanding leaves nothing available until enough is repaid; a
    /// negative limit is refused ([`LedgerError::InvalidTerms`]).
    pub fn change_limit(
        &mut self,
        date: NaiveDate,
        new_limit: Money,
    ) -> Result<Vec<Journal>, LedgerError> {
        self.transact(|line| {
            line.ensure_not_closed()?;
            let mut journals = Vec::new();
            line.advance(date, &mut journals)?;
            let mut terms = line.terms.clone();
            terms.limit = new_limit;
            terms.validate()?;
            line.terms = terms;
            Ok(journals)
        })
    }

    /// Closes a line with nothing owed on `date`; afterwards it accepts no operation.
    pub fn close(&mut self, date: NaiveDate) -> Result<Vec<Journal>, LedgerError> {
        self.transact(|line| {
            line.ensure_not_closed()?;
            let mut journals = Vec::new();
            line.advance(date, &mut journals)?;
            line.post_accrued(date, &mut journals)?;
            let owed = line.owed()?;
            if owed.is_positive() {
                return Err(LedgerError::BalanceOutstanding { owed });
            }
            line.closed_on = Some(date);
            Ok(journals)
        })
    }

    /// Runs `change` on a copy and keeps the copy only if it succeeds, so that a refused
    /// operation leaves the line — and the journals it has returned — consistent.
    fn transact<T>(
        &mut self,
        change: impl FnOnce(&mut Self) -> Result<T, LedgerError>,
    ) -> Result<T, LedgerError> {
        let mut next = self.clone();
        let outcome = change(&mut next)?;
        *self = next;
        Ok(outcome)
    }

    fn ensure_not_closed(&self) -> Result<(), LedgerError> {
        match self.closed_on {
            Some(closed_on) => Err(LedgerError::LineClosed { closed_on }),
            None => Ok(()),
        }
    }

    /// Principal, interest and penalty owed, as posted.
    fn owed(&self) -> Result<Money, LedgerError> {
        Ok(Money::try_sum([
            self.principal,
            self.interest_receivable,
            self.penalty_receivable,
        ])?)
    }

    fn open_bills_total(&self) -> Result<Money, LedgerError> {
        self.bills
            .iter()
            .try_fold(Money::ZERO, |sum, bill| Ok(sum.checked_add(bill.total()?)?))
    }

    fn past_due_amount(&self) -> Result<Money, LedgerError> {
        self.bills
            .iter()
            .filter(|bill| bill.past_due)
            .try_fold(Money::ZERO, |sum, bill| Ok(sum.checked_add(bill.total()?)?))
    }

    /// Sum of one component over the open bills, or over the past-due ones only.
    fn billed(
        &self,
        part: impl Fn(&Bill) -> Money,
        past_due_only: bool,
    ) -> Result<Money, LedgerError> {
        Ok(Money::try_sum(
            self.bills
                .iter()
                .filter(|bill| bill.past_due || !past_due_only)
                .map(part),
        )?)
    }

    fn days_past_due(&self) -> Result<u32, LedgerError> {
        match self.bills.iter().find(|bill| bill.past_due) {
            Some(bill) => u32::try_from((self.accrued_until - bill.due_date).num_days().max(0))
                .map_err(|_| LedgerError::Overflow),
            None => Ok(0),
        }
    }

    /// The statement date after the last one closed: the opening day-of-month, clamped to
    /// the month's end. Counted from the opening date each time so that a line opened on the
    /// 31st returns to the 31st after February.
    fn next_statement_date(&self) -> Result<NaiveDate, LedgerError> {
        let months = self
            .statements_closed
            .checked_add(1)
            .ok_or(LedgerError::Overflow)?;
        self.opened_on
            .checked_add_months(Months::new(months))
            .ok_or(LedgerError::Overflow)
    }

    /// Accrues every day before `date`, in stretches between statement dates and due dates.
    fn advance(&mut self, date: NaiveDate, journals: &mut Vec<Journal>) -> Result<(), LedgerError> {
        if date < self.accrued_until {
            return Err(LedgerError::DateBeforeAccrual {
                date,
                accrued_until: self.accrued_until,
            });
        }
        if self.closed_on.is_some() {
            // Nothing is owed on a closed line, so nothing accrues and no statement closes.
            self.accrued_until = date;
            return Ok(());
        }
        while self.accrued_until < date {
            let from = self.accrued_until;
            let statement_date = self.next_statement_date()?;
            let mut to = date.min(statement_date);
            for bill in self.bills.iter().filter(|bill| !bill.past_due) {
                // A bill becomes past due at the start of the day after its due date.
                to = to.min(next_day(bill.due_date)?);
            }
            // Both bounds are after `from` by construction; the floor guards a state that
            // was edited by hand so that the loop always moves.
            let to = to.max(next_day(from)?);
            self.accrue_days(from, to)?;
            self.accrued_until = to;
            for bill in &mut self.bills {
                if bill.due_date < to {
                    bill.past_due = true;
                }
            }
            if to >= statement_date {
                self.close_statement(statement_date, journals)?;
            }
        }
        Ok(())
    }

    /// Adds the balances of the days in `[from, to)` to the current segment: principal not
    /// past due bears interest, past-due principal and interest bear penalty.
    fn accrue_days(&mut self, from: NaiveDate, to: NaiveDate) -> Result<(), LedgerError> {
        let days = (to - from).num_days();
        let overdue_principal = self.billed(|bill| bill.principal, true)?;
        let overdue_interest = self.billed(|bill| bill.interest, true)?;
        let interest_base = self
            .principal
            .checked_sub(overdue_principal)?
            .max(Money::ZERO);
        let penalty_base = overdue_principal.checked_add(overdue_interest)?;
        let fen_days = |base: Money| base.fen().checked_mul(days).ok_or(LedgerError::Overflow);
        let interest_fen_days = fen_days(interest_base)?;
        let penalty_fen_days = fen_days(penalty_base)?;
        let segment = self.segments.last_mut().ok_or(LedgerError::Overflow)?;
        segment.interest_fen_days = segment
            .interest_fen_days
            .checked_add(interest_fen_days)
            .ok_or(LedgerError::Overflow)?;
        segment.penalty_fen_days = segment
            .penalty_fen_days
            .checked_add(penalty_fen_days)
            .ok_or(LedgerError::Overflow)?;
        Ok(())
    }

    /// Exact interest and penalty over the life of the line.
    fn exact_totals(&self) -> Result<(UnroundedInterest, UnroundedInterest), LedgerError> {
        // Interest is linear in principal × days, so a segment's exact interest is one day's
        // interest on its fen-days; the dates only fix that one day.
        let from = self.opened_on;
        let to = next_day(from)?;
        let day_count = self.terms.day_count;
        let mut interest = UnroundedInterest::ZERO;
        let mut penalty = UnroundedInterest::ZERO;
        for segment in &self.segments {
            interest = interest.checked_add(accrue_unrounded(
                Money::from_fen(segment.interest_fen_days),
                segment.annual_rate,
                day_count,
                from,
                to,
            )?)?;
            penalty = penalty.checked_add(accrue_unrounded(
                Money::from_fen(segment.penalty_fen_days),
                segment.penalty_rate,
                day_count,
                from,
                to,
            )?)?;
        }
        Ok((interest, penalty))
    }

    /// Posts accrued interest and penalty on `date` with the rounding carry: each brings the
    /// posted total to the exact total rounded half-up.
    fn post_accrued(
        &mut self,
        date: NaiveDate,
        journals: &mut Vec<Journal>,
    ) -> Result<(), LedgerError> {
        let (exact_interest, exact_penalty) = self.exact_totals()?;
        let interest = exact_interest
            .post()?
            .checked_sub(self.totals.interest_posted)?;
        if interest.is_positive() {
            self.interest_receivable = self.interest_receivable.checked_add(interest)?;
            self.totals.interest_posted = self.totals.interest_posted.checked_add(interest)?;
            self.cycle.interest_charged = self.cycle.interest_charged.checked_add(interest)?;
            let journal = Journal::pair(
                date,
                JournalKind::InterestPosting,
                LedgerAccount::InterestReceivable,
                LedgerAccount::InterestIncome,
                interest,
            );
            self.cycle.journals.push(journal.clone());
            journals.push(journal);
        }
        let penalty = exact_penalty
            .post()?
            .checked_sub(self.totals.penalty_posted)?;
        if penalty.is_positive() {
            self.penalty_receivable = self.penalty_receivable.checked_add(penalty)?;
            self.totals.penalty_posted = self.totals.penalty_posted.checked_add(penalty)?;
            self.cycle.penalty_charged = self.cycle.penalty_charged.checked_add(penalty)?;
            let journal = Journal::pair(
                date,
                JournalKind::PenaltyPosting,
                LedgerAccount::PenaltyReceivable,
                LedgerAccount::PenaltyIncome,
                penalty,
            );
            self.cycle.journals.push(journal.clone());
            journals.push(journal);
        }
        Ok(())
    }

    /// Closes the statement dated `statement_date`: posts to the period's last day, bills
    /// what is unbilled and starts the next period.
    fn close_statement(
        &mut self,
        statement_date: NaiveDate,
        journals: &mut Vec<Journal>,
    ) -> Result<(), LedgerError> {
        let period_end = statement_date.pred_opt().ok_or(LedgerError::Overflow)?;
        self.post_accrued(period_end, journals)?;
        let past_due = self.past_due_amount()?;

        let interest = self
            .interest_receivable
            .checked_sub(self.billed(|bill| bill.interest, false)?)?
            .max(Money::ZERO);
        let penalty = self
            .penalty_receivable
            .checked_sub(self.billed(|bill| bill.penalty, false)?)?
            .max(Money::ZERO);
        let unbilled_principal = self
            .principal
            .checked_sub(self.billed(|bill| bill.principal, false)?)?
            .max(Money::ZERO);
        let share = Money::from_yuan(
            unbilled_principal
                .to_yuan()
                .checked_mul(self.terms.min_principal_ratio)
                .ok_or(LedgerError::Overflow)?,
            Rounding::HalfUp,
        )?;
        let principal = share
            .max(self.terms.min_payment_floor)
            .min(unbilled_principal);
        let due_date = statement_date
            .checked_add_days(Days::new(u64::from(self.terms.grace_days)))
            .ok_or(LedgerError::Overflow)?;
        let bill = Bill {
            statement_date,
            due_date,
            interest,
            penalty,
            principal,
            past_due: false,
        };
        if bill.total()?.is_positive() {
            self.bills.push(bill);
        }

        let closing_balance = self.owed()?;
        let cycle = std::mem::replace(&mut self.cycle, Cycle::new(statement_date, closing_balance));
        self.statements.push(Statement {
            statement_date,
            period_start: cycle.start,
            period_end,
            opening_balance: cycle.opening_balance,
            closing_balance,
            closing_principal: self.principal,
            transactions: cycle.journals,
            drawn: cycle.drawn,
            repaid: cycle.repaid,
            interest_charged: cycle.interest_charged,
            penalty_charged: cycle.penalty_charged,
            past_due,
            minimum_due: self.open_bills_total()?,
            due_date,
        });
        self.statements_closed = self
            .statements_closed
            .checked_add(1)
            .ok_or(LedgerError::Overflow)?;
        Ok(())
    }

    /// Splits `amount` (at most everything owed) over the buckets in allocation order.
    fn allocate(&self, amount: Money) -> Result<Allocation, LedgerError> {
        let overdue_interest = self.billed(|bill| bill.interest, true)?;
        let overdue_principal = self.billed(|bill| bill.principal, true)?;
        let mut allocation = Allocation {
            amount,
            ..Allocation::default()
        };
        let mut remaining = amount;
        for bucket in &self.terms.allocation {
            let interest_taken = allocation.total_interest()?;
            let principal_taken = allocation.total_principal()?;
            let (available, slot) = match bucket {
                Bucket::OverdueInterest => (
                    overdue_interest.checked_sub(interest_taken)?,
                    &mut allocation.overdue_interest,
                ),
                Bucket::OverduePrincipal => (
                    overdue_principal.checked_sub(principal_taken)?,
                    &mut allocation.overdue_principal,
                ),
                Bucket::Penalty => (
                    self.penalty_receivable.checked_sub(allocation.penalty)?,
                    &mut allocation.penalty,
                ),
                Bucket::Interest => (
                    self.interest_receivable.checked_sub(interest_taken)?,
                    &mut allocation.interest,
                ),
                Bucket::Principal => (
                    self.principal.checked_sub(principal_taken)?,
                    &mut allocation.principal,
                ),
            };
            let take = remaining.min(available.max(Money::ZERO));
            *slot = slot.checked_add(take)?;
            remaining = remaining.checked_sub(take)?;
        }
        if remaining.is_positive() {
            // Unreachable with validated terms and `amount` ≤ owed; refused rather than lost.
            return Err(LedgerError::Overpayment {
                date: self.accrued_until,
                offered: amount,
                owed: amount.checked_sub(remaining)?,
            });
        }
        Ok(allocation)
    }

    /// Books an allocation: reduces the receivables and the open bills (oldest first) and
    /// returns the repayment journal.
    fn apply_allocation(
        &mut self,
        date: NaiveDate,
        allocation: &Allocation,
    ) -> Result<Journal, LedgerError> {
        let interest = allocation.total_interest()?;
        let principal = allocation.total_principal()?;
        let penalty = allocation.penalty;
        self.interest_receivable = self.interest_receivable.checked_sub(interest)?;
        self.penalty_receivable = self.penalty_receivable.checked_sub(penalty)?;
        self.principal = self.principal.checked_sub(principal)?;
        self.totals.repaid = self.totals.repaid.checked_add(allocation.amount)?;
        self.totals.interest_paid = self.totals.interest_paid.checked_add(interest)?;
        self.totals.penalty_paid = self.totals.penalty_paid.checked_add(penalty)?;
        self.totals.principal_repaid = self.totals.principal_repaid.checked_add(principal)?;
        self.cycle.repaid = self.cycle.repaid.checked_add(allocation.amount)?;

        let (mut interest_left, mut penalty_left, mut principal_left) =
            (interest, penalty, principal);
        for bill in &mut self.bills {
            for (part, left) in [
                (&mut bill.interest, &mut interest_left),
                (&mut bill.penalty, &mut penalty_left),
                (&mut bill.principal, &mut principal_left),
            ] {
                let paid = (*part).min(*left);
                *part = part.checked_sub(paid)?;
                *left = left.checked_sub(paid)?;
            }
        }
        self.bills.retain(|bill| {
            bill.interest.is_positive()
                || bill.penalty.is_positive()
                || bill.principal.is_positive()
        });

        let mut postings = vec![Posting::debit_to(
            LedgerAccount::CustomerAccount,
            allocation.amount,
        )];
        for (account, amount) in [
            (LedgerAccount::PenaltyReceivable, penalty),
            (LedgerAccount::InterestReceivable, interest),
            (LedgerAccount::PrincipalReceivable, principal),
        ] {
            if amount.is_positive() {
                postings.push(Posting::credit_to(account, amount));
            }
        }
        let journal = Journal {
            date,
            kind: JournalKind::Repayment,
            postings,
        };
        self.cycle.journals.push(journal.clone());
        Ok(journal)
    }

    /// The payment that settles every open bill under the allocation order; see
    /// [`CreditLine::amount_due`].
    fn settling_amount(&self) -> Result<Money, LedgerError> {
        let mut need_interest = self.billed(|bill| bill.interest, false)?;
        let mut need_penalty = self.billed(|bill| bill.penalty, false)?;
        let mut need_principal = self.billed(|bill| bill.principal, false)?;
        let overdue_interest = self.billed(|bill| bill.interest, true)?;
        let overdue_principal = self.billed(|bill| bill.principal, true)?;
        let (mut interest_taken, mut penalty_taken, mut principal_taken) =
            (Money::ZERO, Money::ZERO, Money::ZERO);
        let mut total = Money::ZERO;
        for bucket in &self.terms.allocation {
            if !(need_interest.is_positive()
                || need_penalty.is_positive()
                || need_principal.is_positive())
            {
                break;
            }
            // Within a component, payments settle bills before anything unbilled, so the
            // bills' share of a bucket is the first part of it.
            let (available, need, taken) = match bucket {
                Bucket::OverdueInterest => (
                    overdue_interest.checked_sub(interest_taken)?,
                    &mut need_interest,
                    &mut interest_taken,
                ),
                Bucket::OverduePrincipal => (
                    overdue_principal.checked_sub(principal_taken)?,
                    &mut need_principal,
                    &mut principal_taken,
                ),
                Bucket::Penalty => (
                    self.penalty_receivable.checked_sub(penalty_taken)?,
                    &mut need_penalty,
                    &mut penalty_taken,
                ),
                Bucket::Interest => (
                    self.interest_receivable.checked_sub(interest_taken)?,
                    &mut need_interest,
                    &mut interest_taken,
                ),
                Bucket::Principal => (
                    self.principal.checked_sub(principal_taken)?,
                    &mut need_principal,
                    &mut principal_taken,
                ),
            };
            let available = available.max(Money::ZERO);
            let for_bills = available.min(*need);
            *need = need.checked_sub(for_bills)?;
            let done = !(need_interest.is_positive()
                || need_penalty.is_positive()
                || need_principal.is_positive());
            let take = if done { for_bills } else { available };
            *taken = taken.checked_add(take)?;
            total = total.checked_add(take)?;
        }
        Ok(total)
    }
}
