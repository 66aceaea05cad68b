//! `lending::simulate` on the example scenario files and on scenarios that must be refused.

use std::path::Path;

use bianmin_core::Money;
use bianmin_lending::ledger::{DelinquencyBucket, LedgerAccount, LineStatus};
use bianmin_lending::simulate::run;

fn yuan(input: &str) -> Money {
    Money::parse(input).unwrap()
}

fn scenario(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name);
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn every_example_scenario_runs_and_balances() {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut count = 0;
    for entry in std::fs::read_dir(directory).unwrap() {
        let path = entry.unwrap().path();
        if path
            .extension()
            .is_some_and(|extension| extension == "json")
        {
            let report = run(&std::fs::read_to_string(&path).unwrap())
                .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
            assert!(report.is_balanced(), "{} does not balance", path.display());
            let sum = Money::try_sum(report.trial_balance().values().copied()).unwrap();
            assert_eq!(sum, Money::ZERO);
            count += 1;
        }
    }
    assert!(count >= 2, "expected the example scenarios");
}

#[test]
fn draw_and_repay_is_paid_off_and_reported() {
    let report = run(&scenario("draw-and-repay.json")).unwrap();
    let position = report.position();
    assert_eq!(position.principal, Money::ZERO);
    assert_eq!(position.interest_receivable, Money::ZERO);
    assert_eq!(position.delinquency, DelinquencyBucket::M0);
    assert_eq!(position.status, LineStatus::Active);
    let totals = report.totals();
    assert_eq!(totals.drawn, yuan("28000.00"));
    assert_eq!(totals.principal_repaid, yuan("28000.00"));
    assert_eq!(totals.penalty_posted, Money::ZERO);
    assert_eq!(
        totals.repaid,
        totals.drawn.checked_add(totals.interest_posted).unwrap()
    );
    // Statements close on the 5th: February through July.
    assert_eq!(report.statements().len(), 6);
    // First statement: 20 000.00 drawn on 2026-01-10 at 18.25 % ACT/360 until 2026-02-04,
    // 26 days: 20 000 × 0.1825 ÷ 360 × 26 = 263.6111… → 263.61. Minimum: 263.61 +
    // 20 000 ÷ 12 = 1 666.666… → 1 666.67, i.e. 1 930.28, due 2026-02-25.
    let first = &report.statements()[0];
    assert_eq!(first.interest_charged, yuan("263.61"));
    assert_eq!(first.minimum_due, yuan("1930.28"));
    assert_eq!(first.due_date.to_string(), "2026-02-25");

    let text = report.to_string();
    for heading in [
        "闪电贷模拟 Lightning Loan simulation",
        "账单 Statement 1 · 2026-01-05 – 2026-02-04",
        "最低还款额 Minimum due",
        "¥1,930.28",
        "到期还款日 Due date 2026-02-25",
        "最终状态 Final position",
        "合计 Totals",
        "试算平衡 Trial balance",
        "借贷平衡 Balanced",
    ] {
        assert!(text.contains(heading), "missing {heading:?} in\n{text}");
    }
}

#[test]
fn a_missed_payment_shows_overdue_and_penalty() {
    let report = run(&scenario("missed-payment.json")).unwrap();
    let position = report.position();
    // Bills due 2026-07-21 and 2026-08-21 are unpaid; at the end of 2026-08-31 the oldest is
    // 2026-09-01 − 2026-07-21 = 42 days past due.
    assert_eq!(position.days_past_due, 42);
    assert_eq!(position.delinquency, DelinquencyBucket::M2);
    assert!(position.past_due.is_positive());
    assert!(report.totals().penalty_posted.is_positive());
    // The missed 2026-05-21 bill is carried on the June statement as past due.
    let june = report
        .statements()
        .iter()
        .find(|statement| statement.statement_date.to_string() == "2026-06-01")
        .unwrap();
    assert!(june.past_due.is_positive());
    assert!(june.penalty_charged.is_positive());
    let text = report.to_string();
    assert!(text.contains("M2"), "{text}");
    assert!(text.contains("其中逾期 Past due"), "{text}");
    assert!(report.trial_balance()[&LedgerAccount::PenaltyIncome].is_negative());
}

#[test]
fn a_draw_above_the_available_limit_names_the_event() {
    let json = r#"{
        "limit": "30000.00", "annual_rate": "0.18", "opened_on": "2026-01-05",
        "until": "2026-03-31",
        "events": [
            { "date": "2026-01-10", "draw": "20000.00" },
            { "date": "2026-02-01", "draw": "15000.00" }
        ]
    }"#;
    let error = run(json).unwrap_err().to_string();
    assert!(error.contains("第 2 个事件"), "{error}");
    assert!(error.contains("2026-02-01"), "{error}");
    assert!(error.contains("借款 draw 15000.00"), "{error}");
    assert!(error.contains("可用额度 10000.00"), "{error}");
    assert!(
        error.contains("lending.ledger.exceeds_available"),
        "{error}"
    );
}

#[test]
fn malformed_scenarios_are_refused_with_a_reason() {
    let cases = [
        // Money as a JSON number.
        (
            r#"{"limit": 50000, "annual_rate": "0.18", "opened_on": "2026-01-05", "until": "2026-02-01"}"#,
            "字符串",
        ),
        // Unknown day count.
        (
            r#"{"limit": "1.00", "annual_rate": "0.18", "day_count": "30/360", "opened_on": "2026-01-05", "until": "2026-02-01"}"#,
            "invalid scenario",
        ),
        // Two actions in one event.
        (
            r#"{"limit": "100.00", "annual_rate": "0.18", "opened_on": "2026-01-05", "until": "2026-02-01",
             "events": [{"date": "2026-01-06", "draw": "1.00", "repay": "1.00"}]}"#,
            "one action per event",
        ),
        // No action.
        (
            r#"{"limit": "100.00", "annual_rate": "0.18", "opened_on": "2026-01-05", "until": "2026-02-01",
             "events": [{"date": "2026-01-06"}]}"#,
            "no action",
        ),
        // Out of order.
        (
            r#"{"limit": "100.00", "annual_rate": "0.18", "opened_on": "2026-01-05", "until": "2026-02-01",
             "events": [{"date": "2026-01-09", "draw": "1.00"}, {"date": "2026-01-08", "repay": "1.00"}]}"#,
            "date order",
        ),
        // Before opening.
        (
            r#"{"limit": "100.00", "annual_rate": "0.18", "opened_on": "2026-01-05", "until": "2026-02-01",
             "events": [{"date": "2026-01-01", "draw": "1.00"}]}"#,
            "date order",
        ),
        // After `until`.
        (
            r#"{"limit": "100.00", "annual_rate": "0.18", "opened_on": "2026-01-05", "until": "2026-02-01",
             "events": [{"date": "2026-03-01", "draw": "1.00"}]}"#,
            "after until",
        ),
        // Overpayment.
        (
            r#"{"limit": "100.00", "annual_rate": "0.18", "opened_on": "2026-01-05", "until": "2026-02-01",
             "events": [{"date": "2026-01-06", "draw": "10.00"}, {"date": "2026-01-07", "repay": "20.00"}]}"#,
            "lending.ledger.overpayment",
        ),
        // A bad repayment keyword.
        (
            r#"{"limit": "100.00", "annual_rate": "0.18", "opened_on": "2026-01-05", "until": "2026-02-01",
             "events": [{"date": "2026-01-06", "repay": "everything"}]}"#,
            "payoff",
        ),
        // Invalid terms.
        (
            r#"{"limit": "100.00", "annual_rate": "0.18", "opened_on": "2026-01-05", "until": "2026-02-01",
             "allocation": ["interest", "principal"]}"#,
            "还款顺序",
        ),
        // `until` before opening.
        (
            r#"{"limit": "100.00", "annual_rate": "0.18", "opened_on": "2026-01-05", "until": "2025-02-01"}"#,
            "早于开立日",
        ),
        // Decades of nightly runs.
        (
            r#"{"limit": "100.00", "annual_rate": "0.18", "opened_on": "2026-01-05", "until": "2126-02-01"}"#,
            "at most 3660 days",
        ),
        (r#"not json"#, "invalid scenario"),
    ];
    for (json, expected) in cases {
        let error = run(json).unwrap_err().to_string();
        assert!(error.contains(expected), "{json}\n→ {error}");
    }
}

#[test]
fn freeze_renew_and_close_events_run() {
    let json = r#"{
        "limit": "10000.00", "annual_rate": "0.073", "day_count": "act365",
        "opened_on": "2026-01-05", "until": "2027-02-10",
        "events": [
            { "date": "2026-01-05", "draw": "1000.00" },
            { "date": "2026-01-20", "freeze": "核心企业预警" },
            { "date": "2026-01-25", "repay": "payoff" },
            { "date": "2026-02-01", "unfreeze": true },
            { "date": "2027-01-10", "renew": { "limit": "20000.00", "annual_rate": "0.0365" } },
            { "date": "2027-01-10", "draw": "15000.00" },
            { "date": "2027-01-30", "repay": "payoff" },
            { "date": "2027-01-30", "close": true }
        ]
    }"#;
    let report = run(json).unwrap();
    assert!(report.is_balanced());
    // 1 000.00 at 7.3 % ACT/365 is 0.20 a day; 2026-01-05 … 2026-01-24 is 20 days: 4.00.
    // 15 000.00 at 3.65 % ACT/365 is 1.50 a day; 2027-01-10 … 2027-01-29 is 20 days: 30.00.
    assert_eq!(report.totals().interest_posted, yuan("34.00"));
    assert_eq!(report.position().status, LineStatus::Closed);
    assert_eq!(report.position().limit, yuan("20000.00"));
}
