//! `bianmin lending simulate`: replays a scenario of draws and repayments on a fresh line,
//! day by day with the nightly accrual, and reports its statements, final position and trial
//! balance.
//!
//! The scenario format is described in `docs/lending.md`, "Scenario format".

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};

use bianmin_core::{Money, Rate};
use chrono::{Days, NaiveDate};
use serde::Deserialize;

use crate::interest::DayCount;
use crate::ledger::{
    Bucket, CreditLine, Journal, LedgerAccount, LedgerError, LineTerms, LineTotals, Position,
    Statement, trial_balance,
};

/// Why a scenario could not be simulated: the message names the offending field or event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SimulateError(pub String);

/// The outcome of a simulated scenario: the figures, and the text report its `Display` prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimulationReport {
    text: String,
    position: Position,
    statements: Vec<Statement>,
    totals: LineTotals,
    journals: Vec<Journal>,
    trial_balance: BTreeMap<LedgerAccount, Money>,
    balanced: bool,
}

impl SimulationReport {
    /// The position at the end of the scenario's last day.
    pub fn position(&self) -> &Position {
        &self.position
    }

    /// Every statement closed during the scenario.
    pub fn statements(&self) -> &[Statement] {
        &self.statements
    }

    /// Drawn, repaid, interest and penalty over the scenario.
    pub fn totals(&self) -> LineTotals {
        self.totals
    }

    /// Every journal booked, in order.
    pub fn journals(&self) -> &[Journal] {
        &self.journals
    }

    /// Balance per account over all journals.
    pub fn trial_balance(&self) -> &BTreeMap<LedgerAccount, Money> {
        &self.trial_balance
    }

    /// Whether every journal balanced, the trial balance sums to zero and it agrees with the
    /// line's own balances.
    pub fn is_balanced(&self) -> bool {
        self.balanced
    }
}

impl fmt::Display for SimulationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A scenario file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Scenario {
    limit: Money,
    annual_rate: Rate,
    #[serde(default)]
    day_count: ScenarioDayCount,
    opened_on: NaiveDate,
    until: NaiveDate,
    grace_days: Option<u32>,
    penalty_multiplier: Option<Rate>,
    min_principal_ratio: Option<Rate>,
    min_payment_floor: Option<Money>,
    allocation: Option<Vec<Bucket>>,
    #[serde(default)]
    events: Vec<Event>,
}

/// The day count as scenarios spell it.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
enum ScenarioDayCount {
    #[default]
    #[serde(rename = "act360", alias = "ACT/360")]
    Act360,
    #[serde(rename = "act365", alias = "ACT/365")]
    Act365,
}

impl From<ScenarioDayCount> for DayCount {
    fn from(day_count: ScenarioDayCount) -> Self {
        match day_count {
            ScenarioDayCount::Act360 => DayCount::Act360,
            ScenarioDayCount::Act365 => DayCount::Act365,
        }
    }
}

/// One dated event: exactly one action field besides `date`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Event {
    date: NaiveDate,
    draw: Option<Money>,
    repay: Option<RepayAmount>,
    freeze: Option<String>,
    #[serde(default)]
    unfreeze: bool,
    renew: Option<Renewal>,
    #[serde(default)]
    close: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Renewal {
    limit: Money,
    annual_rate: Rate,
}

/// A repayment amount: yuan, `"due"` (what brings every bill current) or `"payoff"`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(try_from = "String")]
enum RepayAmount {
    Amount(Money),
    Due,
    Payoff,
}

impl TryFrom<String> for RepayAmount {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        match text.trim() {
            "due" => Ok(Self::Due),
            "payoff" => Ok(Self::Payoff),
            amount => Money::parse(amount).map(Self::Amount).map_err(|error| {
                format!("{error}（还款金额也可写 \"due\" 应还款额 或 \"payoff\" 全部结清）")
            }),
        }
    }
}

/// What an event does, once checked.
enum Action<'a> {
    Draw(Money),
    Repay(RepayAmount),
    Freeze(&'a str),
    Unfreeze,
    Renew(&'a Renewal),
    Close,
}

impl Event {
    fn action(&self) -> Result<Action<'_>, String> {
        let mut actions = Vec::new();
        if let Some(amount) = self.draw {
            actions.push(Action::Draw(amount));
        }
        if let Some(amount) = self.repay {
            actions.push(Action::Repay(amount));
        }
        if let Some(reason) = &self.freeze {
            actions.push(Action::Freeze(reason));
        }
        if self.unfreeze {
            actions.push(Action::Unfreeze);
        }
        if let Some(renewal) = &self.renew {
            actions.push(Action::Renew(renewal));
        }
        if self.close {
            actions.push(Action::Close);
        }
        match actions.len() {
            1 => Ok(actions.remove(0)),
            0 => Err(
                "没有动作 no action: 需要 draw、repay、freeze、unfreeze、renew 或 close 之一"
                    .into(),
            ),
            _ => Err("一个事件只能有一个动作 one action per event".into()),
        }
    }
}

impl Action<'_> {
    fn describe(&self) -> String {
        match self {
            Self::Draw(amount) => format!("借款 draw {amount}"),
            Self::Repay(RepayAmount::Amount(amount)) => format!("还款 repay {amount}"),
            Self::Repay(RepayAmount::Due) => "还款 repay due".into(),
            Self::Repay(RepayAmount::Payoff) => "还款 repay payoff".into(),
            Self::Freeze(reason) => format!("冻结 freeze（{reason}）"),
            Self::Unfreeze => "解冻 unfreeze".into(),
            Self::Renew(renewal) => format!(
                "续期 renew limit {} rate {}",
                renewal.limit, renewal.annual_rate
            ),
            Self::Close => "关闭 close".into(),
        }
    }
}

/// Longest scenario accepted, about ten years: the simulation runs every night.
const MAX_SCENARIO_DAYS: i64 = 3_660;

/// Runs the scenario given as JSON text.
pub fn run(scenario_json: &str) -> Result<SimulationReport, SimulateError> {
    let scenario: Scenario = serde_json::from_str(scenario_json)
        .map_err(|error| SimulateError(format!("场景文件无效 invalid scenario: {error}")))?;
    let terms = scenario_terms(&scenario);
    if scenario.until < scenario.opened_on {
        return Err(SimulateError(format!(
            "结束日 until {} 早于开立日 opened_on {}",
            scenario.until, scenario.opened_on
        )));
    }
    if (scenario.until - scenario.opened_on).num_days() > MAX_SCENARIO_DAYS {
        return Err(SimulateError(format!(
            "模拟期不能超过 {MAX_SCENARIO_DAYS} 天 the scenario may span at most {MAX_SCENARIO_DAYS} days"
        )));
    }
    let mut line = CreditLine::open(terms, scenario.opened_on)
        .map_err(|error| SimulateError(format!("无法开立额度 cannot open the line: {error}")))?;
    let mut journals = Vec::new();

    let mut previous = scenario.opened_on;
    for (index, event) in scenario.events.iter().enumerate() {
        let number = index + 1;
        let action = event.action().map_err(|message| {
            SimulateError(format!(
                "第 {number} 个事件 event #{number}（{}）: {message}",
                event.date
            ))
        })?;
        let name = || {
            format!(
                "第 {number} 个事件 event #{number}（{} {}）",
                event.date,
                action.describe()
            )
        };
        if event.date < previous {
            return Err(SimulateError(format!(
                "{}: 日期早于前一事件或开立日 {previous}，事件须按日期排列 events must be in date order",
                name()
            )));
        }
        if event.date > scenario.until {
            return Err(SimulateError(format!(
                "{}: 晚于模拟结束日 after until {}",
                name(),
                scenario.until
            )));
        }
        previous = event.date;
        nightly_until(&mut line, event.date, &mut journals).map_err(|error| {
            SimulateError(format!("{}: 计息失败 accrual failed: {error}", name()))
        })?;
        apply(&mut line, event.date, &action, &mut journals).map_err(|error| {
            SimulateError(format!(
                "{} 被拒绝 rejected: {error} [{}]",
                name(),
                error.code()
            ))
        })?;
    }
    let end = next_day(scenario.until)?;
    nightly_until(&mut line, end, &mut journals)
        .map_err(|error| SimulateError(format!("计息失败 accrual failed: {error}")))?;

    report(&scenario, &line, journals)
        .map_err(|error| SimulateError(format!("无法生成报告 cannot build the report: {error}")))
}

fn scenario_terms(scenario: &Scenario) -> LineTerms {
    let mut terms = LineTerms::new(scenario.limit, scenario.annual_rate);
    terms.day_count = scenario.day_count.into();
    if let Some(grace_days) = scenario.grace_days {
        terms.grace_days = grace_days;
    }
    if let Some(multiplier) = scenario.penalty_multiplier {
        terms.penalty_multiplier = multiplier.as_decimal();
    }
    if let Some(ratio) = scenario.min_principal_ratio {
        terms.min_principal_ratio = ratio.as_decimal();
    }
    if let Some(floor) = scenario.min_payment_floor {
        terms.min_payment_floor = floor;
    }
    if let Some(allocation) = &scenario.allocation {
        terms.allocation = allocation.clone();
    }
    terms
}

fn next_day(date: NaiveDate) -> Result<NaiveDate, SimulateError> {
    date.checked_add_days(Days::new(1))
        .ok_or_else(|| SimulateError(format!("日期超出范围 date out of range: {date}")))
}

/// Runs the nightly job for every day before `date`, one night at a time.
fn nightly_until(
    line: &mut CreditLine,
    date: NaiveDate,
    journals: &mut Vec<Journal>,
) -> Result<(), LedgerError> {
    while line.accrued_until() < date {
        let night = line
            .accrued_until()
            .checked_add_days(Days::new(1))
            .ok_or(LedgerError::Overflow)?;
        journals.extend(line.accrue_through(night)?);
    }
    Ok(())
}

fn apply(
    line: &mut CreditLine,
    date: NaiveDate,
    action: &Action<'_>,
    journals: &mut Vec<Journal>,
) -> Result<(), LedgerError> {
    match action {
        Action::Draw(amount) => {
            let receipt = line.draw(date, *amount)?;
            journals.extend(receipt.journals().cloned());
        }
        Action::Repay(repay) => {
            let amount = match repay {
                RepayAmount::Amount(amount) => *amount,
                RepayAmount::Due => line.amount_due(date)?,
                RepayAmount::Payoff => line.payoff_amount(date)?,
            };
            if amount.is_positive() || matches!(repay, RepayAmount::Amount(_)) {
                let receipt = line.repay(date, amount)?;
                journals.extend(receipt.journals().cloned());
            }
        }
        Action::Freeze(reason) => journals.extend(line.freeze(date, *reason)?),
        Action::Unfreeze => journals.extend(line.unfreeze(date)?),
        Action::Renew(renewal) => {
            journals.extend(line.renew(date, renewal.limit, renewal.annual_rate)?);
        }
        Action::Close => journals.extend(line.close(date)?),
    }
    Ok(())
}

/// An exact yuan amount with its sign before the currency sign: `-¥0.0021`.
fn signed_yuan(yuan: rust_decimal::Decimal) -> String {
    if yuan.is_sign_negative() && !yuan.is_zero() {
        format!("-¥{}", yuan.abs())
    } else {
        format!("¥{}", yuan.abs())
    }
}

/// Right-aligned amount column.
fn amount(money: Money) -> String {
    format!("{:>16}", money.format_cny())
}

fn transaction_line(out: &mut String, journal: &Journal) -> fmt::Result {
    writeln!(
        out,
        "    {}  {:<16}{}",
        journal.date,
        journal.kind.label(),
        amount(journal.amount())
    )
}

fn report(
    scenario: &Scenario,
    line: &CreditLine,
    journals: Vec<Journal>,
) -> Result<SimulationReport, LedgerError> {
    let terms = line.terms();
    let position = line.position()?;
    let totals = line.totals();
    let balances = trial_balance(&journals)?;
    let sum = Money::try_sum(balances.values().copied())?;
    let balanced = journals.iter().all(Journal::is_balanced)
        && sum == Money::ZERO
        && balances == line.balances()?;

    let mut out = String::new();
    // Writing to a `String` cannot fail; the `fmt::Result`s are folded into one and ignored
    // below for that reason.
    let _ = write_report(
        &mut out, scenario, line, &position, &balances, sum, balanced, terms,
    );
    Ok(SimulationReport {
        text: out,
        position,
        statements: line.statements().to_vec(),
        totals,
        journals,
        trial_balance: balances,
        balanced,
    })
}

#[allow(clippy::too_many_arguments)]
fn write_report(
    out: &mut String,
    scenario: &Scenario,
    line: &CreditLine,
    position: &Position,
    balances: &BTreeMap<LedgerAccount, Money>,
    sum: Money,
    balanced: bool,
    terms: &LineTerms,
) -> fmt::Result {
    let totals = line.totals();
    writeln!(out, "闪电贷模拟 Lightning Loan simulation")?;
    writeln!(out, "==================================")?;
    writeln!(
        out,
        "授信额度 Limit {} · 年利率 Annual rate {} ({}) · 罚息倍数 Penalty ×{}",
        scenario.limit.format_cny(),
        scenario.annual_rate.to_percent_string(2),
        terms.day_count,
        terms.penalty_multiplier.normalize()
    )?;
    writeln!(
        out,
        "开立 Opened {} · 到期 Expires {} · 模拟至 Until {} · 宽限 Grace {} 天 days",
        line.opened_on(),
        position.expires_on,
        scenario.until,
        terms.grace_days
    )?;

    for (index, statement) in line.statements().iter().enumerate() {
        writeln!(out)?;
        writeln!(
            out,
            "账单 Statement {} · {} – {} (出账日 statement date {})",
            index + 1,
            statement.period_start,
            statement.period_end,
            statement.statement_date
        )?;
        writeln!(
            out,
            "  期初余额 Opening balance     {}",
            amount(statement.opening_balance)
        )?;
        if statement.transactions.is_empty() {
            writeln!(out, "  本期无交易 No transactions")?;
        } else {
            writeln!(out, "  交易 Transactions")?;
            for journal in &statement.transactions {
                transaction_line(out, journal)?;
            }
        }
        writeln!(
            out,
            "  本期利息 Interest charged    {}",
            amount(statement.interest_charged)
        )?;
        writeln!(
            out,
            "  本期罚息 Penalty charged     {}",
            amount(statement.penalty_charged)
        )?;
        writeln!(
            out,
            "  期末余额 Closing balance     {}",
            amount(statement.closing_balance)
        )?;
        if statement.past_due.is_positive() {
            writeln!(
                out,
                "  其中逾期 Past due            {}",
                amount(statement.past_due)
            )?;
        }
        writeln!(
            out,
            "  最低还款额 Minimum due      {}   到期还款日 Due date {}",
            amount(statement.minimum_due),
            statement.due_date
        )?;
    }

    let (period_start, unbilled) = line.current_period();
    if !unbilled.is_empty() {
        writeln!(out)?;
        writeln!(out, "未出账交易 Unbilled transactions since {period_start}")?;
        for journal in unbilled {
            transaction_line(out, journal)?;
        }
    }

    writeln!(out)?;
    writeln!(
        out,
        "最终状态 Final position (截至 {} 日终 end of day)",
        scenario.until
    )?;
    writeln!(
        out,
        "  状态 Status                  {}",
        position.status.label()
    )?;
    if let Some(reason) = &position.frozen_reason {
        writeln!(out, "  冻结原因 Frozen because      {reason}")?;
    }
    writeln!(
        out,
        "  本金 Principal               {}",
        amount(position.principal)
    )?;
    writeln!(
        out,
        "  应收利息 Interest receivable {}",
        amount(position.interest_receivable)
    )?;
    writeln!(
        out,
        "  应收罚息 Penalty receivable  {}",
        amount(position.penalty_receivable)
    )?;
    writeln!(
        out,
        "  未入账利息 Unposted interest  {:>16}",
        signed_yuan(position.unposted_interest.round_dp(4))
    )?;
    writeln!(
        out,
        "  可用额度 Available           {}",
        amount(position.available)
    )?;
    writeln!(
        out,
        "  最低还款额 Minimum due       {}",
        amount(position.minimum_due)
    )?;
    if let Some(due_date) = position.due_date {
        writeln!(out, "  到期还款日 Due date            {due_date}")?;
    }
    writeln!(
        out,
        "  逾期金额 Past due            {}",
        amount(position.past_due)
    )?;
    writeln!(
        out,
        "  逾期天数 Days past due       {:>16}   分类 Bucket {}",
        position.days_past_due, position.delinquency
    )?;

    writeln!(out)?;
    writeln!(out, "合计 Totals")?;
    writeln!(
        out,
        "  借款 Drawn                   {}",
        amount(totals.drawn)
    )?;
    writeln!(
        out,
        "  还款 Repaid                  {}",
        amount(totals.repaid)
    )?;
    writeln!(
        out,
        "    其中本金 of which principal {}",
        amount(totals.principal_repaid)
    )?;
    writeln!(
        out,
        "    其中利息 of which interest  {}",
        amount(totals.interest_paid)
    )?;
    writeln!(
        out,
        "    其中罚息 of which penalty   {}",
        amount(totals.penalty_paid)
    )?;
    writeln!(
        out,
        "  利息 Interest charged        {}",
        amount(totals.interest_posted)
    )?;
    writeln!(
        out,
        "  罚息 Penalty charged         {}",
        amount(totals.penalty_posted)
    )?;

    writeln!(out)?;
    writeln!(out, "试算平衡 Trial balance (借方为正 debit +)")?;
    for (account, balance) in balances {
        writeln!(
            out,
            "  {:<22}{:<8}{}",
            account.as_str(),
            account.name_zh(),
            amount(*balance)
        )?;
    }
    writeln!(out, "  {:<22}{:<8}{}", "total", "合计", amount(sum))?;
    writeln!(
        out,
        "  {}",
        if balanced {
            "借贷平衡 Balanced: every journal balances and the accounts sum to zero ✓"
        } else {
            "借贷不平衡 NOT BALANCED ✗"
        }
    )?;
    Ok(())
}
