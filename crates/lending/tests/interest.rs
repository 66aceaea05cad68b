//! `lending::interest` against hand-checked figures, and its invariants as property tests.
//!
//! Every expected figure is derived in a comment next to it; the APR figures were worked by
//! series expansion and confirmed with `bc -l` to 12 digits.

use bianmin_core::{Money, Rate};
use bianmin_lending::interest::{
    CreditLineTerms, DailyRateQuote, DayCount, InterestError, LineEvent, UnroundedInterest, accrue,
    accrue_unrounded, apr_irr, daily_rate_for_apr, line_position,
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

fn day(offset: u64) -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 1, 1).unwrap() + Days::new(offset)
}

fn terms(rate: &str, day_count: DayCount) -> CreditLineTerms {
    CreditLineTerms {
        annual_rate: percent(rate),
        day_count,
    }
}

fn draw(offset: u64, amount: &str) -> LineEvent {
    LineEvent::Draw {
        date: day(offset),
        amount: yuan(amount),
    }
}

fn repay(offset: u64, amount: &str) -> LineEvent {
    LineEvent::Repayment {
        date: day(offset),
        amount: yuan(amount),
    }
}

fn assert_close(actual: Decimal, expected: Decimal, tolerance: Decimal) {
    assert!(
        (actual - expected).abs() < tolerance,
        "{actual} is not within {tolerance} of {expected}"
    );
}

#[test]
fn accrues_thirty_days_at_act_360() {
    // 10 000.00 × 0.072 × 30 / 360 = 10 000 × 0.006 = 60.00
    assert_eq!(
        accrue(
            yuan("10000.00"),
            percent("7.2%"),
            DayCount::Act360,
            day(0),
            day(30)
        ),
        Ok(yuan("60.00"))
    );
    // ACT/365 for the same days: 10 000 × 0.072 × 30 / 365 = 59.178082… → 59.18
    assert_eq!(
        accrue(
            yuan("10000.00"),
            percent("7.2%"),
            DayCount::Act365,
            day(0),
            day(30)
        ),
        Ok(yuan("59.18"))
    );
    assert_eq!(DayCount::default(), DayCount::Act360);
}

#[test]
fn accrual_rounds_half_up_once_per_period() {
    // 12 345.67 × 0.073 × 7 / 365 = 12 345.67 × 0.0014 = 17.283938 → 17.28
    assert_eq!(
        accrue(
            yuan("12345.67"),
            percent("7.3%"),
            DayCount::Act365,
            day(0),
            day(7)
        ),
        Ok(yuan("17.28"))
    );
    // 1 234.57 × 0.0005 = 0.617285 a day; 3 days = 1.851855 → 1.85, where rounding each
    // day would give 0.62 × 3 = 1.86.
    assert_eq!(
        accrue(
            yuan("1234.57"),
            percent("18.25%"),
            DayCount::Act365,
            day(0),
            day(3)
        ),
        Ok(yuan("1.85"))
    );
    // Exactly half a fen rounds up: 25.00 × 0.0002 = 0.005 → 0.01.
    assert_eq!(
        accrue(
            yuan("25.00"),
            percent("7.3%"),
            DayCount::Act365,
            day(0),
            day(1)
        ),
        Ok(yuan("0.01"))
    );
    // Non-terminating: 10 000 × 0.05 / 360 = 1.3888… → 1.39; 3 days = 4.1666… → 4.17.
    assert_eq!(
        accrue(
            yuan("10000"),
            percent("5%"),
            DayCount::Act360,
            day(0),
            day(1)
        ),
        Ok(yuan("1.39"))
    );
    assert_eq!(
        accrue(
            yuan("10000"),
            percent("5%"),
            DayCount::Act360,
            day(0),
            day(3)
        ),
        Ok(yuan("4.17"))
    );
    // An empty period accrues nothing.
    assert_eq!(
        accrue(
            yuan("10000"),
            percent("5%"),
            DayCount::Act360,
            day(3),
            day(3)
        ),
        Ok(Money::ZERO)
    );
}

#[test]
fn unrounded_interest_exposes_the_exact_value() {
    // 10 000 × 0.05 × 3 / 360 = 4.1666…
    let interest = accrue_unrounded(
        yuan("10000"),
        percent("5%"),
        DayCount::Act360,
        day(0),
        day(3),
    )
    .unwrap();
    assert_close(interest.to_yuan(), dec!(4.1666666666666666666), dec!(1e-18));
    assert_eq!(UnroundedInterest::ZERO.post(), Ok(Money::ZERO));
}

#[test]
fn accrual_rejects_negative_principal_and_reversed_periods() {
    let err = accrue(yuan("-1"), percent("5%"), DayCount::Act360, day(0), day(1)).unwrap_err();
    assert_eq!(err.code(), "lending.invalid_amount");
    let err = accrue(yuan("1"), percent("5%"), DayCount::Act360, day(2), day(1)).unwrap_err();
    assert_eq!(
        err,
        InterestError::InvalidPeriod {
            from: day(2),
            to: day(1)
        }
    );
    assert_eq!(err.code(), "lending.invalid_period");
    assert_eq!(
        err.to_string(),
        "计息区间无效：结束日 2024-01-02 早于起始日 2024-01-03"
    );
}

#[test]
fn draw_partial_repayment_then_payoff() {
    let line = terms("7.2%", DayCount::Act360);
    // Days 0–9 on 10 000.00: 10 000 × 0.0002 × 10 = 20.00, posted on day 10. The 5 000.00
    // repaid pays 20.00 interest and 4 980.00 principal, leaving 5 020.00.
    // Days 10–29 on 5 020.00: 5 020 × 0.0002 × 20 = 20.08, so the payoff on day 30 is
    // 5 020.00 + 20.08 = 5 040.08, and total interest is 40.08.
    let mut events = vec![draw(0, "10000.00"), repay(10, "5000.00")];

    let mid = line_position(&line, &events, day(20)).unwrap();
    // Days 10–19 on 5 020.00 = 5 020 × 0.0002 × 10 = 10.04
    assert_eq!(mid.principal, yuan("5020.00"));
    assert_eq!(mid.accrued_interest, yuan("10.04"));
    assert_eq!(mid.interest_paid, yuan("20.00"));

    let before_payoff = line_position(&line, &events, day(30)).unwrap();
    assert_eq!(before_payoff.payoff_amount(), Ok(yuan("5040.08")));

    events.push(repay(30, "5040.08"));
    let settled = line_position(&line, &events, day(30)).unwrap();
    assert_eq!(settled.principal, Money::ZERO);
    assert_eq!(settled.accrued_interest, Money::ZERO);
    assert_eq!(settled.interest_paid, yuan("40.08"));
    assert_eq!(settled.principal_repaid, yuan("10000.00"));
    let splits: Vec<_> = settled
        .allocations
        .iter()
        .map(|a| (a.interest_due, a.to_interest, a.to_principal))
        .collect();
    assert_eq!(
        splits,
        [
            (yuan("20.00"), yuan("20.00"), yuan("4980.00")),
            (yuan("20.08"), yuan("20.08"), yuan("5020.00")),
        ]
    );

    // A settled line stays settled.
    let later = line_position(&line, &events, day(90)).unwrap();
    assert_eq!(later.payoff_amount(), Ok(Money::ZERO));
}

#[test]
fn ledger_posts_interest_only_on_repayment_and_as_of() {
    let line = terms("18.25%", DayCount::Act365);
    // No repayment: 3 days of 0.617285 summed unrounded = 1.851855 → 1.85.
    let position = line_position(&line, &[draw(0, "1234.57")], day(3)).unwrap();
    assert_eq!(position.accrued_interest, yuan("1.85"));

    // A repayment of 1.00 on day 1 posts day 0: 0.617285 → 0.62, then pays 0.62 interest and
    // 0.38 principal, leaving 1 234.19. Days 1–2: 1 234.19 × 0.0005 × 2 = 1.23419 → 1.23.
    let events = [draw(0, "1234.57"), repay(1, "1.00")];
    let position = line_position(&line, &events, day(3)).unwrap();
    assert_eq!(position.principal, yuan("1234.19"));
    assert_eq!(position.interest_paid, yuan("0.62"));
    assert_eq!(position.accrued_interest, yuan("1.23"));
}

#[test]
fn a_repayment_smaller_than_the_interest_pays_interest_only() {
    let line = terms("7.2%", DayCount::Act360);
    // 20.00 interest due on day 10; 15.00 pays 15.00 of it and no principal.
    let events = [draw(0, "10000"), repay(10, "15.00")];
    let position = line_position(&line, &events, day(10)).unwrap();
    assert_eq!(position.principal, yuan("10000"));
    assert_eq!(position.accrued_interest, yuan("5.00"));
    assert_eq!(position.allocations[0].to_principal, Money::ZERO);
}

#[test]
fn the_day_of_a_same_day_round_trip_accrues_nothing() {
    let line = terms("18.25%", DayCount::Act365);
    // End-of-day principal on day 0 is zero.
    let events = [draw(0, "1000"), repay(0, "1000")];
    let position = line_position(&line, &events, day(5)).unwrap();
    assert_eq!(position.payoff_amount(), Ok(Money::ZERO));
    assert_eq!(position.interest_paid, Money::ZERO);
}

#[test]
fn overpayment_is_refused_not_booked_as_a_negative_balance() {
    let line = terms("7.2%", DayCount::Act360);
    let events = [
        draw(0, "10000.00"),
        repay(10, "5000.00"),
        repay(30, "5040.09"),
    ];
    let err = line_position(&line, &events, day(30)).unwrap_err();
    assert_eq!(
        err,
        InterestError::Overpayment {
            date: day(30),
            offered: yuan("5040.09"),
            owed: yuan("5040.08"),
        }
    );
    assert_eq!(err.code(), "lending.overpayment");
    assert_eq!(
        err.to_string(),
        "还款金额 5040.09 元超过 2024-01-31 的应还总额 5040.08 元（本金加利息）"
    );
    // Repaying a line never drawn is an overpayment too.
    let err = line_position(&line, &[repay(0, "0.01")], day(0)).unwrap_err();
    assert_eq!(err.code(), "lending.overpayment");
}

#[test]
fn ledger_rejects_bad_events() {
    let line = terms("7.2%", DayCount::Act360);
    let err = line_position(&line, &[draw(0, "0")], day(1)).unwrap_err();
    assert_eq!(err.code(), "lending.invalid_amount");
    let err = line_position(&line, &[draw(5, "1"), draw(4, "1")], day(9)).unwrap_err();
    assert_eq!(
        err,
        InterestError::EventsOutOfOrder {
            previous: day(5),
            date: day(4)
        }
    );
    assert_eq!(err.code(), "lending.events_out_of_order");
    // Events after the as-of date are not counted.
    let position = line_position(&line, &[draw(0, "100"), draw(9, "100")], day(5)).unwrap();
    assert_eq!(position.principal, yuan("100"));
}

#[test]
fn apr_of_a_one_day_loan_at_five_ten_thousandths_a_day() {
    // 10 000 received, 10 005 repaid a day later: the daily IRR is exactly 0.0005.
    // nominal   = 0.0005 × 365 = 0.1825 → 18.25 %
    // effective = 1.0005^365 − 1: ln 1.0005 = 0.0005 − 0.000000125 + 0.0000000000417
    //           = 0.000499875042, × 365 = 0.182454390, e^0.182454390 = 1.200159411
    //           → 0.200159411 (bc: 0.2001594106777…) → 20.02 %, not 19.99 %.
    let apr = apr_irr(&[(day(0), yuan("10000")), (day(1), yuan("-10005"))]).unwrap();
    assert_close(apr.daily_irr, dec!(0.0005), dec!(1e-13));
    assert_close(apr.nominal.as_decimal(), dec!(0.1825), dec!(1e-10));
    assert_close(
        apr.effective.as_decimal(),
        dec!(0.2001594106777),
        dec!(1e-10),
    );
    assert_eq!(apr.annualised(), apr.nominal);
    assert_eq!(apr.annualised().to_percent_string(2), "18.25%");
    assert_eq!(apr.effective.to_percent_string(2), "20.02%");
}

#[test]
fn apr_of_a_thirty_day_bullet_and_of_the_same_loan_with_an_upfront_fee() {
    // 30 days at 18.25 % ACT/365: 10 000 × 0.0005 × 30 = 150.00.
    let interest = accrue(
        yuan("10000"),
        percent("18.25%"),
        DayCount::Act365,
        day(0),
        day(30),
    )
    .unwrap();
    assert_eq!(interest, yuan("150.00"));
    let repaid = yuan("10000")
        .checked_add(interest)
        .unwrap()
        .checked_neg()
        .unwrap();

    // No fee: (1 + r)^30 = 10 150 / 10 000 = 1.015. ln 1.015 = 0.014888612,
    // / 30 = 0.000496287, r = e^that − 1 = 0.000496410; × 365 = 0.181190 → 18.12 %
    // (below 18.25 %: simple interest paid in one bullet).
    let plain = apr_irr(&[(day(0), yuan("10000")), (day(30), repaid)]).unwrap();
    assert_close(plain.daily_irr, dec!(0.000496410253935), dec!(1e-13));
    assert_close(
        plain.nominal.as_decimal(),
        dec!(0.181189742686),
        dec!(1e-10),
    );

    // A 100.00 fee taken upfront: 9 900 received. (1 + r)^30 = 10 150 / 9 900
    // = 1.0252525…; ln = 0.0252525 − 0.000318845 + 0.0000053678 − 0.00000010166
    // = 0.02493892, / 30 = 0.000831297, r = 0.000831644; × 365 = 0.303550 → 30.36 %.
    let with_fee = apr_irr(&[(day(0), yuan("9900")), (day(30), repaid)]).unwrap();
    assert_close(with_fee.daily_irr, dec!(0.000831643902421), dec!(1e-13));
    assert_close(
        with_fee.nominal.as_decimal(),
        dec!(0.303550024384),
        dec!(1e-10),
    );
    assert_eq!(with_fee.annualised().to_percent_string(2), "30.36%");
    assert_close(
        with_fee.effective.as_decimal(),
        dec!(0.354488471920),
        dec!(1e-10),
    );

    // The fee's annualised weight: 100 / 9 900 × 365 / 30 = 0.122896; the APR rises by
    // 0.303550 − 0.181190 = 0.122360, within a tenth of a percentage point of it.
    let fee_weight = dec!(100) / dec!(9900) * dec!(365) / dec!(30);
    let rise = with_fee.nominal.as_decimal() - plain.nominal.as_decimal();
    assert_close(rise, fee_weight, dec!(0.001));
}

#[test]
fn apr_of_the_revolving_example_is_close_to_its_nominal_rate() {
    // Flows of `draw_partial_repayment_then_payoff`: 7.2 % ACT/360 is 0.0002 a day, 7.30 %
    // over 365 days. Each period's interest is simple, so the daily-compounding IRR sits a
    // little below: solving 10 000 = 5 000 / (1 + r)^10 + 5 040.08 / (1 + r)^30 by bisection
    // in bc gives r = 0.000199720507, × 365 = 0.072897985.
    let apr = apr_irr(&[
        (day(0), yuan("10000.00")),
        (day(10), yuan("-5000.00")),
        (day(30), yuan("-5040.08")),
    ])
    .unwrap();
    assert_close(apr.daily_irr, dec!(0.000199720507079), dec!(1e-13));
    assert_close(
        apr.annualised().as_decimal(),
        dec!(0.072897985084),
        dec!(1e-10),
    );
}

#[test]
fn apr_errors_are_specific() {
    let only_in = apr_irr(&[(day(0), yuan("100"))]).unwrap_err();
    assert_eq!(only_in, InterestError::InvalidCashFlows);
    assert_eq!(only_in.code(), "lending.invalid_cash_flows");
    assert_eq!(apr_irr(&[]), Err(InterestError::InvalidCashFlows));

    let cheaper = apr_irr(&[(day(0), yuan("100")), (day(30), yuan("-99"))]).unwrap_err();
    assert_eq!(cheaper.code(), "lending.negative_apr");

    // Repaying before receiving, and receiving less: the present value stays negative.
    let backwards = apr_irr(&[(day(0), yuan("-100")), (day(1), yuan("50"))]).unwrap_err();
    assert_eq!(backwards, InterestError::NoRoot);
    assert_eq!(backwards.code(), "lending.no_root");
    assert_eq!(
        backwards.to_string(),
        "无法求得年化利率：在可计算的利率范围内现金流净现值不为零"
    );
    assert_eq!(
        InterestError::NotConverged { iterations: 200 }.code(),
        "lending.not_converged"
    );

    // Interest-free: APR zero.
    let free = apr_irr(&[(day(0), yuan("100")), (day(30), yuan("-100"))]).unwrap();
    assert_eq!(free.annualised(), Rate::ZERO);
}

#[test]
fn daily_rates_are_quoted_with_their_annual_rate() {
    // 7.3 % / 365 = 0.0002 = 0.02 % = 万分之二
    let quote = daily_rate_for_apr(percent("7.3%"), DayCount::Act365).unwrap();
    assert_eq!(quote.daily.as_decimal(), dec!(0.0002));
    assert_eq!(
        quote.to_string(),
        "日利率 0.02%（万分之二），年化利率 7.30%（单利，ACT/365）"
    );
    // 7.2 % / 360 = 0.0002 too.
    let quote = daily_rate_for_apr(percent("7.2%"), DayCount::Act360).unwrap();
    assert_eq!(quote.daily.as_decimal(), dec!(0.0002));
    // 18.25 % / 365 = 0.0005 = 万分之五
    let quote = daily_rate_for_apr(percent("18.25%"), DayCount::Act365).unwrap();
    assert_eq!(quote.per_ten_thousand(), "万分之五");
    // 0.015 % a day × 360 = 5.4 %
    let quote =
        DailyRateQuote::from_daily(Rate::parse("0.00015").unwrap(), DayCount::Act360).unwrap();
    assert_eq!(quote.annual.as_decimal(), dec!(0.054));
    assert_eq!(
        quote.to_string(),
        "日利率 0.015%（万分之1.5），年化利率 5.40%（单利，ACT/360）"
    );
    for (daily, words) in [
        ("0.0012", "万分之十二"),
        ("0.002", "万分之二十"),
        ("0.001", "万分之十"),
    ] {
        let quote =
            DailyRateQuote::from_daily(Rate::parse(daily).unwrap(), DayCount::Act365).unwrap();
        assert_eq!(quote.per_ten_thousand(), words);
    }
}

#[test]
fn day_count_is_configurable_by_name() {
    let line: CreditLineTerms =
        serde_json::from_str(r#"{"annual_rate":"0.073","day_count":"ACT/365"}"#).unwrap();
    assert_eq!(line.day_count, DayCount::Act365);
    let line: CreditLineTerms = serde_json::from_str(r#"{"annual_rate":"0.072"}"#).unwrap();
    assert_eq!(line.day_count, DayCount::Act360);
    assert_eq!(DayCount::Act360.daily_rate(percent("7.2%")), dec!(0.0002));
}

/// A random revolving history: draws, and repayments capped at the payoff amount so that
/// the history is valid.
fn build_history(
    line: &CreditLineTerms,
    steps: &[(u64, bool, i64)],
) -> (Vec<LineEvent>, NaiveDate) {
    let mut events = Vec::new();
    let mut offset = 0;
    for &(gap, is_draw, fen) in steps {
        offset += gap;
        let date = day(offset);
        if is_draw {
            events.push(LineEvent::Draw {
                date,
                amount: Money::from_fen(fen),
            });
        } else {
            let owed = line_position(line, &events, date)
                .unwrap()
                .payoff_amount()
                .unwrap();
            let amount = Money::from_fen(fen).min(owed);
            if amount.is_positive() {
                events.push(LineEvent::Repayment { date, amount });
            }
        }
    }
    (events, day(offset))
}

fn line_strategy() -> impl Strategy<Value = CreditLineTerms> {
    (0i64..=3_600, prop::bool::ANY).prop_map(|(basis_points, act365)| CreditLineTerms {
        annual_rate: Rate::from_decimal(Decimal::new(basis_points, 4)).unwrap(),
        day_count: if act365 {
            DayCount::Act365
        } else {
            DayCount::Act360
        },
    })
}

proptest! {
    #[test]
    fn principal_never_goes_negative_and_the_books_balance(
        line in line_strategy(),
        steps in prop::collection::vec((0u64..45, prop::bool::ANY, 1i64..=5_000_000), 1..16),
        tail in 0u64..60,
    ) {
        let (events, last) = build_history(&line, &steps);
        let as_of = last + Days::new(tail);
        let position = line_position(&line, &events, as_of).unwrap();
        prop_assert!(!position.principal.is_negative());
        prop_assert!(!position.accrued_interest.is_negative());

        let drawn = Money::try_sum(events.iter().filter_map(|e| match e {
            LineEvent::Draw { amount, .. } => Some(*amount),
            LineEvent::Repayment { .. } => None,
        })).unwrap();
        let repaid = Money::try_sum(events.iter().filter_map(|e| match e {
            LineEvent::Repayment { amount, .. } => Some(*amount),
            LineEvent::Draw { .. } => None,
        })).unwrap();
        prop_assert_eq!(drawn, position.principal.checked_add(position.principal_repaid).unwrap());
        prop_assert_eq!(repaid, position.interest_paid.checked_add(position.principal_repaid).unwrap());

        // Paying off exactly clears the line; one fen more is refused.
        let payoff = position.payoff_amount().unwrap();
        if payoff.is_positive() {
            let mut settled = events.clone();
            settled.push(LineEvent::Repayment { date: as_of, amount: payoff });
            let cleared = line_position(&line, &settled, as_of).unwrap();
            prop_assert_eq!(cleared.payoff_amount().unwrap(), Money::ZERO);

            let mut over = events.clone();
            over.push(LineEvent::Repayment {
                date: as_of,
                amount: payoff.checked_add(Money::from_fen(1)).unwrap(),
            });
            let refused = line_position(&line, &over, as_of);
            prop_assert!(matches!(refused, Err(InterestError::Overpayment { .. })), "{:?}", refused);
        }
    }

    #[test]
    fn repayments_pay_interest_before_principal(
        line in line_strategy(),
        steps in prop::collection::vec((0u64..45, prop::bool::ANY, 1i64..=5_000_000), 1..16),
    ) {
        let (events, last) = build_history(&line, &steps);
        let position = line_position(&line, &events, last).unwrap();
        for allocation in &position.allocations {
            prop_assert_eq!(allocation.to_interest, allocation.amount.min(allocation.interest_due));
            prop_assert_eq!(
                allocation.to_interest.checked_add(allocation.to_principal).unwrap(),
                allocation.amount
            );
            if allocation.to_principal.is_positive() {
                prop_assert_eq!(allocation.to_interest, allocation.interest_due);
            }
        }
    }

    #[test]
    fn accrual_is_additive_over_adjacent_periods_before_rounding(
        fen in 0i64..=1_000_000_000_000,
        rate_mantissa in 0i64..=1_000_000,
        rate_scale in 4u32..=8,
        act365 in prop::bool::ANY,
        first in 0u64..400,
        second in 0u64..400,
    ) {
        let principal = Money::from_fen(fen);
        let rate = Rate::from_decimal(Decimal::new(rate_mantissa, rate_scale)).unwrap();
        let basis = if act365 { DayCount::Act365 } else { DayCount::Act360 };
        let (a, b, c) = (day(0), day(first), day(first + second));
        let whole = accrue_unrounded(principal, rate, basis, a, c).unwrap();
        let parts = accrue_unrounded(principal, rate, basis, a, b)
            .unwrap()
            .checked_add(accrue_unrounded(principal, rate, basis, b, c).unwrap())
            .unwrap();
        prop_assert_eq!(whole, parts);
        let posted = whole.post().unwrap();
        prop_assert!(!posted.is_negative());
        // Posting is the half-up rounding of the exact value.
        let exact = whole.to_yuan();
        prop_assert!((posted.to_yuan() - exact).abs() <= dec!(0.005));
    }
}
