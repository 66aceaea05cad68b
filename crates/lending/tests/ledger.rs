//! `lending::ledger` against hand-checked figures, and its invariants as property tests.
//!
//! Every expected figure is derived in a comment next to it.

use bianmin_core::{Money, Rate};
use bianmin_lending::interest::{CreditLineTerms, DayCount, LineEvent, line_position};
use bianmin_lending::ledger::{
    Bucket, CreditLine, DelinquencyBucket, Journal, JournalKind, LedgerAccount, LedgerError,
    LineStatus, LineTerms, trial_balance,
};
use chrono::{Days, NaiveDate};
use proptest::prelude::*;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

fn yuan(input: &str) -> Money {
    Money::parse(input).unwrap()
}

fn percent(input: &str) -> Rate {
    Rate::from_percent_str(input).unwrap()
}

fn date(input: &str) -> NaiveDate {
    input.parse().unwrap()
}

fn plus(day: NaiveDate, days: u64) -> NaiveDate {
    day + Days::new(days)
}

fn terms(limit: &str, rate: &str, day_count: DayCount) -> LineTerms {
    let mut terms = LineTerms::new(yuan(limit), percent(rate));
    terms.day_count = day_count;
    terms
}

fn open(limit: &str, rate: &str, day_count: DayCount, on: &str) -> CreditLine {
    CreditLine::open(terms(limit, rate, day_count), date(on)).unwrap()
}

/// Checks what must hold of any line and every journal it has returned.
fn assert_consistent(line: &CreditLine, journals: &[Journal]) {
    for journal in journals {
        assert!(journal.is_balanced(), "unbalanced journal {journal:?}");
        for posting in &journal.postings {
            assert!(!posting.debit.is_negative() && !posting.credit.is_negative());
        }
    }
    for pair in journals.windows(2) {
        assert!(pair[0].date <= pair[1].date, "journals out of date order");
    }
    let balances = trial_balance(journals).unwrap();
    let sum = Money::try_sum(balances.values().copied()).unwrap();
    assert_eq!(sum, Money::ZERO, "trial balance does not sum to zero");
    assert_eq!(
        balances,
        line.balances().unwrap(),
        "journals disagree with the line"
    );

    let totals = line.totals();
    let position = line.position().unwrap();
    assert_eq!(
        balances[&LedgerAccount::PrincipalReceivable],
        totals.drawn.checked_sub(totals.principal_repaid).unwrap()
    );
    assert_eq!(
        position.principal,
        balances[&LedgerAccount::PrincipalReceivable]
    );
    assert!(!position.principal.is_negative());
    assert!(!position.interest_receivable.is_negative());
    assert!(!position.penalty_receivable.is_negative());
    assert!(!totals.interest_posted.is_negative());

    // Posted interest never runs ahead of the exact interest by more than the rounding.
    assert!(position.unposted_interest >= -HALF_FEN);
    assert!(position.unposted_penalty >= -HALF_FEN);
    assert!(position.minimum_due <= line.payoff_amount(position.as_of).unwrap());
}

const HALF_FEN: Decimal = dec!(0.005);

/// Right after a posting (a repayment), posted interest is the exact total rounded: the
/// rounding residue is carried, so posted and exact never drift more than half a fen apart.
fn assert_carried(line: &CreditLine) {
    let totals = line.totals();
    let interest_gap = totals.interest_posted.to_yuan() - line.exact_interest().unwrap();
    let penalty_gap = totals.penalty_posted.to_yuan() - line.exact_penalty().unwrap();
    assert!(
        interest_gap.abs() <= HALF_FEN,
        "interest carry gap {interest_gap}"
    );
    assert!(
        penalty_gap.abs() <= HALF_FEN,
        "penalty carry gap {penalty_gap}"
    );
}

#[test]
fn thirty_days_at_18_percent_act360_is_150_yuan() {
    // 10 000.00 × 0.18 ÷ 360 × 30 = 10 000 × 0.0005 × 30 = 150.00.
    let mut line = open("50000.00", "18", DayCount::Act360, "2026-01-05");
    let receipt = line.draw(date("2026-01-05"), yuan("10000.00")).unwrap();
    assert!(receipt.accrual.is_empty());
    assert_eq!(receipt.journal.kind, JournalKind::Draw);
    assert_eq!(
        receipt.journal.postings,
        vec![
            bianmin_lending::ledger::Posting::debit_to(
                LedgerAccount::PrincipalReceivable,
                yuan("10000.00")
            ),
            bianmin_lending::ledger::Posting::credit_to(
                LedgerAccount::CustomerAccount,
                yuan("10000.00")
            ),
        ]
    );
    // 2026-01-05 … 2026-02-03 are 30 days; the statement (2026-02-05) has not closed yet.
    assert_eq!(
        line.payoff_amount(date("2026-02-04")).unwrap(),
        yuan("10150.00")
    );
    assert_eq!(line.available(), yuan("40000.00"));

    let paid = line.repay(date("2026-02-04"), yuan("10150.00")).unwrap();
    assert_eq!(paid.allocation.interest, yuan("150.00"));
    assert_eq!(paid.allocation.principal, yuan("10000.00"));
    let position = line.position().unwrap();
    assert_eq!(position.principal, Money::ZERO);
    assert_eq!(position.interest_receivable, Money::ZERO);
    assert_eq!(line.totals().interest_posted, yuan("150.00"));
}

#[test]
fn first_statement_bills_interest_and_a_twelfth_of_principal() {
    // 18.25 % ACT/365 is 0.0005 a day: 10 000.00 accrues 5.00 a day. The first statement
    // closes on 2026-02-05 for 2026-01-05 … 2026-02-04, 31 days: 155.00 interest.
    // Minimum: 155.00 + max(10 000.00 ÷ 12 = 833.333… → 833.33, 100.00) = 988.33,
    // due 2026-02-05 + 20 days = 2026-02-25.
    let mut line = open("50000.00", "18.25", DayCount::Act365, "2026-01-05");
    line.draw(date("2026-01-05"), yuan("10000.00")).unwrap();
    let journals = line.accrue_through(date("2026-02-06")).unwrap();
    assert_eq!(journals.len(), 1);
    assert_eq!(journals[0].kind, JournalKind::InterestPosting);
    assert_eq!(journals[0].date, date("2026-02-04"));
    assert_eq!(journals[0].amount(), yuan("155.00"));

    let statement = &line.statements()[0];
    assert_eq!(statement.period_start, date("2026-01-05"));
    assert_eq!(statement.period_end, date("2026-02-04"));
    assert_eq!(statement.opening_balance, Money::ZERO);
    assert_eq!(statement.interest_charged, yuan("155.00"));
    assert_eq!(statement.closing_balance, yuan("10155.00"));
    assert_eq!(statement.minimum_due, yuan("988.33"));
    assert_eq!(statement.due_date, date("2026-02-25"));
    assert_eq!(statement.transactions.len(), 2);

    let position = line.position().unwrap();
    assert_eq!(position.minimum_due, yuan("988.33"));
    assert_eq!(position.due_date, Some(date("2026-02-25")));
    assert_eq!(position.delinquency, DelinquencyBucket::M0);
}

#[test]
fn statement_day_31_is_clamped_to_the_end_of_shorter_months() {
    let mut line = open("1000.00", "10", DayCount::Act360, "2026-01-31");
    line.accrue_through(date("2026-05-01")).unwrap();
    let dates: Vec<_> = line
        .statements()
        .iter()
        .map(|statement| statement.statement_date)
        .collect();
    assert_eq!(
        dates,
        [date("2026-02-28"), date("2026-03-31"), date("2026-04-30")]
    );
}

#[test]
fn rounding_residue_is_carried_not_lost() {
    // 100.00 at 10 % ACT/360 accrues 100 × 0.10 ÷ 360 = 0.02777… a day. Repaying 0.01 on
    // each of the next three days posts the running total rounded: 0.0278 → 0.03, then
    // 0.0556 → 0.06 (posts 0.03), then 0.0833 → 0.08 (posts 0.02): 0.08 in all, the exact
    // 0.0833… to the fen. Rounding each posting on its own (as `line_position` does) would
    // charge 0.03 three times, 0.09.
    let mut line = open("1000.00", "10", DayCount::Act360, "2026-01-05");
    line.draw(date("2026-01-05"), yuan("100.00")).unwrap();
    let mut posted = Vec::new();
    for day in 1..=3 {
        let receipt = line
            .repay(plus(date("2026-01-05"), day), yuan("0.01"))
            .unwrap();
        let interest: Vec<_> = receipt
            .accrual
            .iter()
            .filter(|journal| journal.kind == JournalKind::InterestPosting)
            .map(Journal::amount)
            .collect();
        posted.extend(interest);
    }
    assert_eq!(posted, [yuan("0.03"), yuan("0.03"), yuan("0.02")]);
    assert_eq!(line.totals().interest_posted, yuan("0.08"));

    let events = [
        LineEvent::Draw {
            date: date("2026-01-05"),
            amount: yuan("100.00"),
        },
        LineEvent::Repayment {
            date: date("2026-01-06"),
            amount: yuan("0.01"),
        },
        LineEvent::Repayment {
            date: date("2026-01-07"),
            amount: yuan("0.01"),
        },
        LineEvent::Repayment {
            date: date("2026-01-08"),
            amount: yuan("0.01"),
        },
    ];
    let reference = line_position(
        &CreditLineTerms {
            annual_rate: percent("10"),
            day_count: DayCount::Act360,
        },
        &events,
        date("2026-01-08"),
    )
    .unwrap();
    assert_eq!(
        reference
            .interest_paid
            .checked_add(reference.accrued_interest)
            .unwrap(),
        yuan("0.09")
    );
}

#[test]
fn a_missed_minimum_goes_m1_accrues_penalty_and_paying_cures_it() {
    // As in `first_statement_bills_interest_and_a_twelfth_of_principal`: 988.33 due on
    // 2026-02-25 (155.00 interest + 833.33 principal), nothing paid.
    let mut line = open("50000.00", "18.25", DayCount::Act365, "2026-01-05");
    line.draw(date("2026-01-05"), yuan("10000.00")).unwrap();

    line.accrue_through(date("2026-02-26")).unwrap();
    let position = line.position().unwrap();
    assert_eq!(position.days_past_due, 1);
    assert_eq!(position.delinquency, DelinquencyBucket::M1);
    assert_eq!(position.past_due, yuan("988.33"));
    assert_eq!(
        line.draw(date("2026-02-26"), yuan("1.00")).unwrap_err(),
        LedgerError::LineOverdue { days_past_due: 1 }
    );

    // On 2026-03-02, with 2026-02-26 … 2026-03-01 (4 days) past due:
    // * penalty: 988.33 × 18.25 % × 1.5 ÷ 365 = 988.33 × 0.00075 = 0.7412475 a day,
    //   × 4 = 2.96499 → 2.96;
    // * interest since the statement: 2026-02-05 … 02-25 (21 days) on 10 000.00 at 5.00 a
    //   day = 105.00, then 4 days on the 9 166.67 not past due at 0.0005 = 4.583335 a day,
    //   18.33334: 123.33334, so the life total 278.33334 posts to 278.33 — 123.33 now.
    // Settling every bill with the default order (overdue interest, penalty, interest,
    // principal) takes 155.00 + 2.96 + 123.33 + 833.33 = 1 114.62.
    let repay_on = date("2026-03-02");
    assert_eq!(line.amount_due(repay_on).unwrap(), yuan("1114.62"));
    let receipt = line.repay(repay_on, yuan("1114.62")).unwrap();
    assert_eq!(receipt.allocation.overdue_interest, yuan("155.00"));
    assert_eq!(receipt.allocation.penalty, yuan("2.96"));
    assert_eq!(receipt.allocation.interest, yuan("123.33"));
    assert_eq!(receipt.allocation.principal, yuan("833.33"));
    let penalty: Vec<_> = receipt
        .accrual
        .iter()
        .filter(|journal| journal.kind == JournalKind::PenaltyPosting)
        .map(Journal::amount)
        .collect();
    assert_eq!(penalty, [yuan("2.96")]);

    let position = line.position().unwrap();
    assert_eq!(position.delinquency, DelinquencyBucket::M0);
    assert_eq!(position.days_past_due, 0);
    assert_eq!(position.past_due, Money::ZERO);
    assert_eq!(position.principal, yuan("9166.67"));
    line.draw(repay_on, yuan("100.00")).unwrap();
}

#[test]
fn delinquency_buckets_follow_days_past_due() {
    for (days, bucket) in [
        (0, DelinquencyBucket::M0),
        (1, DelinquencyBucket::M1),
        (30, DelinquencyBucket::M1),
        (31, DelinquencyBucket::M2),
        (60, DelinquencyBucket::M2),
        (61, DelinquencyBucket::M3),
        (90, DelinquencyBucket::M3),
        (91, DelinquencyBucket::M4Plus),
    ] {
        assert_eq!(DelinquencyBucket::from_days_past_due(days), bucket);
    }
    // Unpaid from the first statement: due 2026-02-25, 100 days later 2026-06-05 is M4+.
    let mut line = open("50000.00", "18.25", DayCount::Act365, "2026-01-05");
    line.draw(date("2026-01-05"), yuan("10000.00")).unwrap();
    line.accrue_through(date("2026-06-05")).unwrap();
    let position = line.position().unwrap();
    assert_eq!(position.days_past_due, 100);
    assert_eq!(position.delinquency, DelinquencyBucket::M4Plus);
    assert!(position.penalty_receivable.is_positive());
}

#[test]
fn refused_draws_name_the_reason_and_change_nothing() {
    let mut line = open("1000.00", "18", DayCount::Act360, "2026-01-05");
    line.draw(date("2026-01-06"), yuan("600.00")).unwrap();
    let before = line.clone();

    let error = line.draw(date("2026-01-07"), yuan("400.01")).unwrap_err();
    assert_eq!(
        error,
        LedgerError::ExceedsAvailable {
            amount: yuan("400.01"),
            available: yuan("400.00"),
        }
    );
    assert_eq!(error.code(), "lending.ledger.exceeds_available");
    assert!(error.to_string().contains("可用额度 400.00"));
    assert_eq!(
        line, before,
        "a refused draw must not accrue or change anything"
    );

    for amount in ["0.00", "-1.00"] {
        let error = line.draw(date("2026-01-07"), yuan(amount)).unwrap_err();
        assert_eq!(error.code(), "lending.ledger.invalid_amount");
        let error = line.repay(date("2026-01-07"), yuan(amount)).unwrap_err();
        assert_eq!(error.code(), "lending.ledger.invalid_amount");
    }
    let error = line.draw(date("2026-01-05"), yuan("1.00")).unwrap_err();
    assert_eq!(
        error,
        LedgerError::DateBeforeAccrual {
            date: date("2026-01-05"),
            accrued_until: date("2026-01-06"),
        }
    );
    let error = line.repay(date("2026-01-08"), yuan("700.00")).unwrap_err();
    assert_eq!(error.code(), "lending.ledger.overpayment");
    assert_eq!(line, before);
}

#[test]
fn freeze_blocks_draws_until_unfrozen_but_takes_repayments() {
    let mut line = open("1000.00", "18", DayCount::Act360, "2026-01-05");
    line.draw(date("2026-01-05"), yuan("500.00")).unwrap();
    line.freeze(date("2026-01-10"), "供应链核心企业风险预警")
        .unwrap();
    let position = line.position().unwrap();
    assert_eq!(position.status, LineStatus::Frozen);
    assert_eq!(
        position.frozen_reason.as_deref(),
        Some("供应链核心企业风险预警")
    );
    let error = line.draw(date("2026-01-11"), yuan("1.00")).unwrap_err();
    assert_eq!(error.code(), "lending.ledger.line_frozen");
    assert!(error.to_string().contains("供应链核心企业风险预警"));
    assert_eq!(
        line.freeze(date("2026-01-11"), "again").unwrap_err().code(),
        "lending.ledger.already_frozen"
    );
    line.repay(date("2026-01-12"), yuan("100.00")).unwrap();
    line.unfreeze(date("2026-01-13")).unwrap();
    assert_eq!(
        line.unfreeze(date("2026-01-13")).unwrap_err(),
        LedgerError::NotFrozen
    );
    line.draw(date("2026-01-13"), yuan("1.00")).unwrap();
}

#[test]
fn an_expired_line_takes_draws_again_only_after_renewal() {
    let mut line = open("1000.00", "18", DayCount::Act360, "2026-01-05");
    assert_eq!(line.expires_on(), date("2027-01-05"));
    line.draw(date("2027-01-04"), yuan("100.00")).unwrap();
    line.repay(date("2027-01-04"), yuan("100.00")).unwrap();
    let error = line.draw(date("2027-01-05"), yuan("100.00")).unwrap_err();
    assert_eq!(
        error,
        LedgerError::LineExpired {
            expires_on: date("2027-01-05")
        }
    );
    line.accrue_through(date("2027-01-05")).unwrap();
    assert_eq!(line.position().unwrap().status, LineStatus::Expired);

    line.renew(date("2027-01-06"), yuan("2000.00"), percent("7.2"))
        .unwrap();
    assert_eq!(line.expires_on(), date("2028-01-06"));
    line.draw(date("2027-01-06"), yuan("2000.00")).unwrap();
    // 2 000.00 at the new 7.2 % ACT/360 for 10 days: 2 000 × 0.072 ÷ 360 × 10 = 4.00.
    assert_eq!(
        line.payoff_amount(date("2027-01-16")).unwrap(),
        yuan("2004.00")
    );
}

#[test]
fn paying_off_clears_everything_and_the_line_closes() {
    let mut line = open("5000.00", "18", DayCount::Act360, "2026-01-05");
    line.draw(date("2026-01-05"), yuan("3000.00")).unwrap();
    assert_eq!(
        line.close(date("2026-01-20")).unwrap_err().code(),
        "lending.ledger.balance_outstanding"
    );
    // Closing refused: nothing changed, so the 15 days still accrue to the payoff:
    // 3 000 × 0.0005 × 15 = 22.50.
    let payoff = line.payoff_amount(date("2026-01-20")).unwrap();
    assert_eq!(payoff, yuan("3022.50"));
    line.repay(date("2026-01-20"), payoff).unwrap();
    line.close(date("2026-01-20")).unwrap();
    assert_eq!(line.position().unwrap().status, LineStatus::Closed);
    assert_eq!(
        line.draw(date("2026-01-21"), yuan("1.00"))
            .unwrap_err()
            .code(),
        "lending.ledger.line_closed"
    );
}

#[test]
fn terms_are_checked_when_the_line_opens() {
    let mut bad = terms("1000.00", "18", DayCount::Act360);
    bad.allocation = vec![Bucket::Interest, Bucket::Principal];
    assert_eq!(
        CreditLine::open(bad, date("2026-01-05"))
            .unwrap_err()
            .code(),
        "lending.ledger.invalid_terms"
    );
    let mut bad = terms("1000.00", "18", DayCount::Act360);
    bad.allocation = vec![
        Bucket::Penalty,
        Bucket::Interest,
        Bucket::Principal,
        Bucket::Interest,
    ];
    assert!(CreditLine::open(bad, date("2026-01-05")).is_err());
    let mut bad = terms("1000.00", "18", DayCount::Act360);
    bad.penalty_multiplier = dec!(-1);
    assert!(CreditLine::open(bad, date("2026-01-05")).is_err());
    let mut bad = terms("1000.00", "18", DayCount::Act360);
    bad.min_principal_ratio = dec!(1.5);
    assert!(CreditLine::open(bad, date("2026-01-05")).is_err());
    assert!(CreditLine::open(terms("-1.00", "18", DayCount::Act360), date("2026-01-05")).is_err());
}

#[test]
fn the_line_round_trips_through_json() {
    let mut line = open("50000.00", "18.25", DayCount::Act365, "2026-01-05");
    line.draw(date("2026-01-05"), yuan("10000.00")).unwrap();
    line.accrue_through(date("2026-03-02")).unwrap();
    let json = serde_json::to_string(&line).unwrap();
    let restored: CreditLine = serde_json::from_str(&json).unwrap();
    assert_eq!(restored, line);
    let value: serde_json::Value = serde_json::to_value(&line).unwrap();
    assert_eq!(value["terms"]["limit"], "50000.00");
    assert_eq!(value["terms"]["allocation"][0], "overdue_interest");
}

/// One step of a random scenario.
#[derive(Debug, Clone)]
enum Step {
    Draw { wait: u64, fen: i64 },
    Repay { wait: u64, fen: i64 },
    RepayDue { wait: u64 },
    Wait { days: u64 },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (0..20_u64, 1..=3_000_000_i64).prop_map(|(wait, fen)| Step::Draw { wait, fen }),
        3 => (0..20_u64, 1..=2_000_000_i64).prop_map(|(wait, fen)| Step::Repay { wait, fen }),
        1 => (0..40_u64).prop_map(|wait| Step::RepayDue { wait }),
        1 => (1..90_u64).prop_map(|days| Step::Wait { days }),
    ]
}

fn rate() -> impl Strategy<Value = Rate> {
    prop_oneof![
        Just(percent("18")),
        Just(percent("7.3")),
        Just(percent("18.25")),
        Just(percent("23.99")),
        (1..=2_400_u32).prop_map(|bp| Rate::from_decimal(Decimal::new(i64::from(bp), 4)).unwrap()),
    ]
}

fn day_count() -> impl Strategy<Value = DayCount> {
    prop_oneof![Just(DayCount::Act360), Just(DayCount::Act365)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn the_ledger_always_balances(
        rate in rate(),
        day_count in day_count(),
        open_offset in 0..365_u64,
        steps in prop::collection::vec(step(), 1..40),
    ) {
        let opened_on = plus(date("2025-01-01"), open_offset);
        let mut terms = LineTerms::new(yuan("50000.00"), rate);
        terms.day_count = day_count;
        let mut line = CreditLine::open(terms, opened_on).unwrap();
        let mut journals: Vec<Journal> = Vec::new();
        let mut today = opened_on;
        for step in steps {
            match step {
                Step::Draw { wait, fen } => {
                    today = plus(today, wait);
                    let before = line.clone();
                    match line.draw(today, Money::from_fen(fen)) {
                        Ok(receipt) => journals.extend(receipt.journals().cloned()),
                        Err(error) => {
                            prop_assert!(matches!(
                                error,
                                LedgerError::ExceedsAvailable { .. }
                                    | LedgerError::LineOverdue { .. }
                                    | LedgerError::LineExpired { .. }
                            ), "unexpected {error:?}");
                            prop_assert_eq!(&line, &before);
                        }
                    }
                }
                Step::Repay { wait, fen } => {
                    today = plus(today, wait);
                    let payoff = line.payoff_amount(today).unwrap();
                    let amount = Money::from_fen(fen).min(payoff);
                    if amount.is_positive() {
                        let receipt = line.repay(today, amount).unwrap();
                        prop_assert_eq!(
                            Money::try_sum([
                                receipt.allocation.overdue_interest,
                                receipt.allocation.overdue_principal,
                                receipt.allocation.penalty,
                                receipt.allocation.interest,
                                receipt.allocation.principal,
                            ]).unwrap(),
                            amount
                        );
                        journals.extend(receipt.journals().cloned());
                        assert_carried(&line);
                    }
                    if payoff.is_positive() {
                        let error = line.repay(today, line.payoff_amount(today).unwrap()
                            .checked_add(Money::from_fen(1)).unwrap()).unwrap_err();
                        prop_assert_eq!(error.code(), "lending.ledger.overpayment");
                    }
                }
                Step::RepayDue { wait } => {
                    today = plus(today, wait);
                    let due = line.amount_due(today).unwrap();
                    if due.is_positive() {
                        journals.extend(line.repay(today, due).unwrap().journals().cloned());
                        assert_carried(&line);
                        let position = line.position().unwrap();
                        prop_assert_eq!(position.minimum_due, Money::ZERO);
                        prop_assert_eq!(position.delinquency, DelinquencyBucket::M0);
                    }
                }
                Step::Wait { days } => {
                    today = plus(today, days);
                    journals.extend(line.accrue_through(today).unwrap());
                }
            }
            assert_consistent(&line, &journals);
        }

        let payoff = line.payoff_amount(today).unwrap();
        if payoff.is_positive() {
            journals.extend(line.repay(today, payoff).unwrap().journals().cloned());
        }
        journals.extend(line.close(today).unwrap());
        assert_consistent(&line, &journals);
        assert_carried(&line);
        let position = line.position().unwrap();
        prop_assert_eq!(position.principal, Money::ZERO);
        prop_assert_eq!(position.interest_receivable, Money::ZERO);
        prop_assert_eq!(position.penalty_receivable, Money::ZERO);
        prop_assert_eq!(position.minimum_due, Money::ZERO);
        prop_assert_eq!(position.status, LineStatus::Closed);
        let balances = trial_balance(&journals).unwrap();
        prop_assert_eq!(balances[&LedgerAccount::PrincipalReceivable], Money::ZERO);
        prop_assert_eq!(balances[&LedgerAccount::InterestReceivable], Money::ZERO);
        prop_assert_eq!(balances[&LedgerAccount::PenaltyReceivable], Money::ZERO);
        // What the customer paid beyond what was drawn is exactly the income.
        let income = balances[&LedgerAccount::InterestIncome]
            .checked_add(balances[&LedgerAccount::PenaltyIncome]).unwrap();
        prop_assert_eq!(balances[&LedgerAccount::CustomerAccount], income.checked_neg().unwrap());

        let json = serde_json::to_string(&line).unwrap();
        prop_assert_eq!(serde_json::from_str::<CreditLine>(&json).unwrap(), line);
    }

    /// While nothing is overdue the ledger charges the interest `line_position` computes for
    /// the same draws and repayments. `line_position` rounds each posting separately and the
    /// ledger carries the residue, so they may differ by half a fen per `line_position`
    /// posting; with a single posting (no repayments) they agree exactly.
    #[test]
    fn interest_agrees_with_line_position_while_current(
        rate in rate(),
        day_count in day_count(),
        steps in prop::collection::vec(
            (0..15_u64, any::<bool>(), 10_000..=2_000_000_i64), 1..25),
    ) {
        let opened_on = date("2026-01-05");
        let mut terms = LineTerms::new(yuan("50000.00"), rate);
        terms.day_count = day_count;
        // `line_position` rounds each posting on its own, so near a full repayment it may
        // owe a fen or two less than the ledger and refuse the ledger's payoff as an
        // overpayment. Without a payment floor the minimum never bills all the principal,
        // and random repayments below leave a yuan outstanding, so both accept every event.
        terms.min_payment_floor = Money::ZERO;
        let margin = yuan("1.00");
        let mut line = CreditLine::open(terms, opened_on).unwrap();
        let mut events = Vec::new();
        let mut today = opened_on;
        // Walks day by day to `target`, paying what is due on each due date so that nothing
        // ever goes overdue.
        let walk = |line: &mut CreditLine, events: &mut Vec<LineEvent>, from: NaiveDate, target: NaiveDate| {
            let mut day = from;
            while day <= target {
                line.accrue_through(day).unwrap();
                let position = line.position().unwrap();
                if position.due_date == Some(day) && position.minimum_due.is_positive() {
                    let due = line.amount_due(day).unwrap();
                    line.repay(day, due).unwrap();
                    events.push(LineEvent::Repayment { date: day, amount: due });
                }
                day = plus(day, 1);
            }
        };
        for (wait, is_draw, fen) in steps {
            let target = plus(today, wait);
            walk(&mut line, &mut events, today, target);
            today = target;
            let amount = Money::from_fen(fen);
            if is_draw {
                if line.draw(today, amount).is_ok() {
                    events.push(LineEvent::Draw { date: today, amount });
                }
            } else {
                let payoff = line.payoff_amount(today).unwrap();
                let amount = amount.min(payoff.checked_sub(margin).unwrap());
                if amount.is_positive() {
                    line.repay(today, amount).unwrap();
                    events.push(LineEvent::Repayment { date: today, amount });
                }
            }
            prop_assert_eq!(line.position().unwrap().delinquency, DelinquencyBucket::M0);
        }
        let as_of = plus(today, 3);
        walk(&mut line, &mut events, today, as_of);
        prop_assert_eq!(line.totals().penalty_posted, Money::ZERO);

        let reference = line_position(
            &CreditLineTerms { annual_rate: rate, day_count },
            &events,
            as_of,
        ).unwrap();
        let reference_interest = reference.interest_paid.checked_add(reference.accrued_interest).unwrap();
        let payoff = line.payoff_amount(as_of).unwrap();
        let position = line.position().unwrap();
        let ledger_interest = line.totals().interest_paid
            .checked_add(payoff.checked_sub(position.principal).unwrap()).unwrap();
        let repayments = events
            .iter()
            .filter(|event| matches!(event, LineEvent::Repayment { .. }))
            .count() as i64;
        let gap = (ledger_interest.fen() - reference_interest.fen()).abs();
        if repayments == 0 {
            prop_assert_eq!(gap, 0);
        } else {
            // Half a fen per posting of `line_position` (each repayment and the as-of date)
            // plus one fen for the principal paths drifting apart by those fen.
            prop_assert!(gap <= (repayments + 2) / 2 + 1,
                "ledger {ledger_interest} vs line_position {reference_interest}");
        }
    }
}

#[test]
fn change_limit_lowers_and_raises_the_limit_and_keeps_rate_and_expiry() {
    let mut line = open("1000.00", "18", DayCount::Act360, "2026-01-05");
    let mut journals = Vec::new();
    journals.push(
        line.draw(date("2026-01-05"), yuan("800.00"))
            .unwrap()
            .journal,
    );

    // Lowered below the 800.00 principal: nothing available, nothing owed changes.
    let booked = line
        .change_limit(date("2026-01-10"), yuan("500.00"))
        .unwrap();
    assert!(booked.is_empty(), "no statement closes before 2026-02-05");
    assert_eq!(line.terms().limit, yuan("500.00"));
    assert_eq!(line.available(), Money::ZERO);
    assert_eq!(line.expires_on(), date("2027-01-05"));
    assert_eq!(line.terms().annual_rate, percent("18"));
    let error = line.draw(date("2026-01-10"), yuan("1.00")).unwrap_err();
    assert_eq!(
        error,
        LedgerError::ExceedsAvailable {
            amount: yuan("1.00"),
            available: Money::ZERO,
        }
    );

    // 800.00 × 0.18 ÷ 360 = 0.40 a day, 5 days: 2.00 interest; 402.00 pays it and 400.00
    // principal, leaving 400.00 of principal under the 500.00 limit: 100.00 available.
    let receipt = line.repay(date("2026-01-10"), yuan("402.00")).unwrap();
    journals.extend(receipt.journals().cloned());
    assert_eq!(line.available(), yuan("100.00"));
    // The rate did not change: 400.00 × 0.0005 × 10 days = 2.00.
    assert_eq!(
        line.payoff_amount(date("2026-01-20")).unwrap(),
        yuan("402.00")
    );

    // Raised again; crossing the 2026-02-05 statement date books its interest posting.
    let booked = line
        .change_limit(date("2026-02-06"), yuan("2000.00"))
        .unwrap();
    assert!(
        booked
            .iter()
            .any(|journal| journal.kind == JournalKind::InterestPosting),
        "{booked:?}"
    );
    journals.extend(booked);
    assert_eq!(line.available(), yuan("1600.00"));
    assert_eq!(line.expires_on(), date("2027-01-05"));
    assert_consistent(&line, &journals);

    // Zero is a valid limit (nothing available); a negative one is refused unchanged.
    line.change_limit(date("2026-02-06"), Money::ZERO).unwrap();
    assert_eq!(line.available(), Money::ZERO);
    let before = line.clone();
    let error = line
        .change_limit(date("2026-02-07"), yuan("-1.00"))
        .unwrap_err();
    assert_eq!(error.code(), "lending.ledger.invalid_terms");
    assert_eq!(
        line, before,
        "a refused change must not accrue or change anything"
    );
    let error = line
        .change_limit(date("2026-02-05"), yuan("100.00"))
        .unwrap_err();
    assert_eq!(
        error,
        LedgerError::DateBeforeAccrual {
            date: date("2026-02-05"),
            accrued_until: date("2026-02-06"),
        }
    );
}

#[test]
fn change_limit_on_a_frozen_line_keeps_the_freeze_and_a_closed_line_refuses() {
    let mut line = open("1000.00", "18", DayCount::Act360, "2026-01-05");
    line.freeze(date("2026-01-06"), "供应链预警").unwrap();
    line.change_limit(date("2026-01-07"), yuan("300.00"))
        .unwrap();
    let position = line.position().unwrap();
    assert_eq!(position.status, LineStatus::Frozen);
    assert_eq!(position.limit, yuan("300.00"));
    line.unfreeze(date("2026-01-08")).unwrap();
    line.close(date("2026-01-08")).unwrap();
    let error = line
        .change_limit(date("2026-01-09"), yuan("100.00"))
        .unwrap_err();
    assert_eq!(error.code(), "lending.ledger.line_closed");
}
