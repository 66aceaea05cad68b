//! `lending::supply` against hand-checked figures, and its thresholds on the govsim population.
//!
//! Every expected figure is derived in a comment next to it.

use std::collections::BTreeMap;
use std::time::Instant;

use bianmin_core::{Money, Rate};
use bianmin_govsim::calendar::{LAST_CLOSED_MONTH, YearMonth};
use bianmin_govsim::enterprise::{Distributor, DistributorStatus, DistributorTier, Trend};
use bianmin_govsim::population::court::{CaseKind, CaseStatus, Role};
use bianmin_govsim::records::DateRange;
use bianmin_govsim::records::court::{CaseRecord, CourtCases};
use bianmin_govsim::records::credit::{CardsRecord, CreditReportRecord, OverdueRecord};
use bianmin_govsim::records::enterprise::{DistributorRecord, DistributorTrade, TradeMonthRecord};
use bianmin_govsim::{Population, REFERENCE_DATE};
use bianmin_lending::supply::{
    Action, DistributorFacts, Offer, OwnerCheck, PreOutcome, Severity, Signal, SupplyError,
    SupplyPolicy, early_warning, pre_approve, sweep_amount, trade_features, try_early_warning,
};
use chrono::NaiveDate;
use rust_decimal_macros::dec;

fn yuan(input: &str) -> Money {
    Money::parse(input).unwrap()
}

fn date(input: &str) -> NaiveDate {
    input.parse().unwrap()
}

fn policy() -> &'static SupplyPolicy {
    SupplyPolicy::embedded().unwrap()
}

/// A month of trade: `ordered` and `returned`, due = `due`, paid = `paid`.
fn month(
    month: YearMonth,
    ordered: &str,
    returned: &str,
    due: &str,
    paid: &str,
    days_late: u32,
) -> TradeMonthRecord {
    let (ordered, returned) = (yuan(ordered), yuan(returned));
    let net = ordered.checked_sub(returned).unwrap();
    TradeMonthRecord {
        month,
        order_count: 5,
        order_amount: ordered,
        return_amount: returned,
        net_amount: net,
        amount_due: yuan(due),
        amount_paid: yuan(paid),
        days_late,
        receivable: net,
    }
}

/// `count` steady months ending 2026-10: 100,000.00 ordered, 1,234.57 returned (net
/// 98,765.43), the same due and all of it paid, 2 days late.
fn steady(count: u32) -> Vec<TradeMonthRecord> {
    YearMonth::window(YearMonth::new(2026, 10), count)
        .map(|m| month(m, "100000.00", "1234.57", "98765.43", "98765.43", 2))
        .collect()
}

fn facts(months: Vec<TradeMonthRecord>) -> DistributorFacts {
    DistributorFacts {
        uscc: "91510100MA0000001X".to_owned(),
        name: "成都顺达商贸有限公司".to_owned(),
        tier: DistributorTier::Second,
        tenure_months: 40,
        core_limit: yuan("150000.00"),
        status: DistributorStatus::Active,
        months,
    }
}

fn offer_of(facts: &DistributorFacts) -> Offer {
    match pre_approve(facts, policy()).outcome {
        PreOutcome::Offer(offer) => offer,
        PreOutcome::Decline(reasons) => panic!("declined: {reasons:?}"),
    }
}

fn codes(outcome: &PreOutcome) -> Vec<&str> {
    match outcome {
        PreOutcome::Offer(_) => Vec::new(),
        PreOutcome::Decline(reasons) => reasons.iter().map(|r| r.code.as_str()).collect(),
    }
}

// ---------------------------------------------------------------------------------------------
// Policy
// ---------------------------------------------------------------------------------------------

#[test]
fn the_embedded_policy_loads_and_round_trips() {
    let policy = policy();
    assert_eq!(policy.version(), "supply-chain-policy-2026.1");
    assert_eq!(policy.limit().floor, yuan("10000.00"));
    assert_eq!(policy.limit().cap, yuan("1000000.00"));
    assert_eq!(policy.grades().len(), 4);
    assert_eq!(policy.grade_of(80).unwrap().name, "A");
    assert_eq!(policy.grade_of(79).unwrap().name, "B");
    assert_eq!(policy.grade_of(35).unwrap().name, "D");
    assert!(policy.grade_of(34).is_none());
    assert_eq!(policy.sweep().share_percent, 30);
    // Serialised in the file's layout and read back through the same validation.
    let text = toml::to_string(policy).unwrap();
    assert_eq!(&SupplyPolicy::from_toml_str(&text).unwrap(), policy);
    let json = serde_json::to_string(policy).unwrap();
    assert_eq!(
        &serde_json::from_str::<SupplyPolicy>(&json).unwrap(),
        policy
    );
}

#[test]
fn invalid_policies_are_refused() {
    let original = bianmin_lending::supply::EMBEDDED_SUPPLY_POLICY_TOML;
    let cases = [
        // A TOML float where a decimal string is required.
        ("net_orders_multiple = \"1.0\"", "net_orders_multiple = 1.0"),
        // Above the 24 % ceiling: 0.0007 × 365 = 25.55 %.
        ("daily_rate = \"0.00025\"", "daily_rate = \"0.0007\""),
        // Grades out of order.
        ("min_points = 65", "min_points = 85"),
        // Floor above the cap.
        ("floor = \"10000.00\"", "floor = \"2000000.00\""),
        // Freeze above lower.
        ("orders_freeze = \"0.65\"", "orders_freeze = \"0.90\""),
        // A misspelt key.
        ("share_percent = 30", "share_percnt = 30"),
        ("min_months_of_data = 6", "min_months_of_data = 5"),
        ("min_age = 18", "min_age = 16"),
        ("lower_factor = \"0.70\"", "lower_factor = \"1.20\""),
    ];
    for (from, to) in cases {
        assert!(original.contains(from), "{from}");
        let text = original.replacen(from, to, 1);
        let error = SupplyPolicy::from_toml_str(&text).unwrap_err();
        assert_eq!(
            error.code(),
            "lending.supply.invalid_policy",
            "{to}: {error}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Features
// ---------------------------------------------------------------------------------------------

#[test]
fn features_of_a_steady_distributor() {
    let features = trade_features(&facts(steady(12))).unwrap();
    assert_eq!(features.months_of_data, 12);
    assert_eq!(features.last_month, YearMonth::new(2026, 10));
    assert_eq!(features.avg_net_orders_12m, yuan("98765.43"));
    assert_eq!(features.orders_trend, dec!(1.0000));
    // 12 months: no year-on-year comparison (needs 15).
    assert_eq!(features.orders_yoy, None);
    assert_eq!(features.orders_ratio(), dec!(1));
    // 1,234.57 ÷ 100,000.00 = 0.0123457 → 0.0123.
    assert_eq!(features.return_rate_3m, dec!(0.0123));
    assert_eq!(features.return_rate_before, dec!(0.0123));
    assert_eq!(features.pay_ratio_3m, dec!(1));
    assert_eq!(features.avg_days_late_3m, dec!(2));
    assert_eq!(features.max_days_late_3m, 2);
    assert_eq!(features.receivable_ratio, dec!(1));
}

#[test]
fn features_round_as_stated() {
    let mut months = steady(15);
    // The average of 12 months with one fen more: 98,765.43 + 0.01 ÷ 12 → rounded down.
    months[14].net_amount = yuan("98765.44");
    // The same 3 months a year earlier (2025-08..10) at 100,000.00 net; the last 3
    // 2026-08..10 at 98,765.43, 98,765.43, 98,765.44: 296,296.30 ÷ 300,000.00 = 0.98765433
    // → 0.9877.
    for m in &mut months[..3] {
        m.net_amount = yuan("100000.00");
    }
    // Paid 95,000.00 + 95,000.00 + 95,000.01 of 3 × 98,765.43: 285,000.01 ÷ 296,296.29 =
    // 0.961875… → 0.9619.
    months[12].amount_paid = yuan("95000.00");
    months[13].amount_paid = yuan("95000.00");
    months[14].amount_paid = yuan("95000.01");
    months[12].days_late = 3;
    months[13].days_late = 4;
    months[14].days_late = 4;
    let features = trade_features(&facts(months)).unwrap();
    assert_eq!(features.avg_net_orders_12m, yuan("98765.43"));
    assert_eq!(features.orders_yoy, Some(dec!(0.9877)));
    // Against the 6 months before (all 98,765.43): 296,296.30 × 6 ÷ (592,592.58 × 3) =
    // 1.0000000337… → 1.0000.
    assert_eq!(features.orders_trend, dec!(1.0000));
    assert_eq!(features.pay_ratio_3m, dec!(0.9619));
    // (3 + 4 + 4) ÷ 3 = 3.6666… → 3.6667.
    assert_eq!(features.avg_days_late_3m, dec!(3.6667));
    assert_eq!(features.max_days_late_3m, 4);
}

#[test]
fn features_need_six_consecutive_non_negative_months() {
    assert_eq!(
        trade_features(&facts(steady(5))).unwrap_err(),
        SupplyError::TooFewMonths { have: 5, need: 6 }
    );
    let mut months = steady(8);
    months.remove(4);
    assert_eq!(
        trade_features(&facts(months)).unwrap_err().code(),
        "lending.supply.months_not_consecutive"
    );
    let mut months = steady(8);
    months[2].amount_paid = yuan("-1.00");
    assert_eq!(
        trade_features(&facts(months)).unwrap_err(),
        SupplyError::NegativeAmount("amount_paid")
    );
}

#[test]
fn facts_join_a_record_and_its_trade() {
    let record = DistributorRecord {
        uscc: "91510100MA0000001X".to_owned(),
        name: "成都顺达商贸有限公司".to_owned(),
        province: "四川省".to_owned(),
        city: "成都市".to_owned(),
        tier: DistributorTier::First,
        joined: YearMonth::new(2020, 1),
        tenure_months: 82,
        credit_limit: yuan("450000.00"),
        status: DistributorStatus::Active,
    };
    let trade = DistributorTrade {
        uscc: record.uscc.clone(),
        status: DistributorStatus::Watch,
        months: steady(24),
    };
    let facts = DistributorFacts::try_of(&record, &trade).unwrap();
    assert_eq!(DistributorFacts::of(&record, &trade), facts);
    assert_eq!(facts.tier, DistributorTier::First);
    assert_eq!(facts.core_limit, yuan("450000.00"));
    assert_eq!(
        facts.status,
        DistributorStatus::Watch,
        "the trade's standing"
    );
    assert_eq!(facts.months.len(), 24);
    let other = DistributorTrade {
        uscc: "91510100MA0000002X".to_owned(),
        ..trade
    };
    assert_eq!(
        DistributorFacts::try_of(&record, &other)
            .unwrap_err()
            .code(),
        "lending.supply.uscc_mismatch"
    );
}

// ---------------------------------------------------------------------------------------------
// Pre-approval
// ---------------------------------------------------------------------------------------------

#[test]
fn a_steady_distributor_gets_grade_a_and_a_limit_rounded_down() {
    let approval = pre_approve(&facts(steady(12)), policy());
    // Points: tenure 40 → 20; orders ratio 1.0000 → 15; paid 100 % → 25; 2 days late → 12;
    // returns 1.23 % → 10; receivable 1.0 × orders → 5; 二级 → 0. 87 ≥ 80: A, 万分之1.2.
    // Limit: 98,765.43 × 1.0, under A集团's 150,000.00 and the 1,000,000.00 cap, rounded
    // down to 1,000: 98,000.00.
    assert_eq!(
        approval.outcome,
        PreOutcome::Offer(Offer {
            limit: yuan("98000.00"),
            daily_rate: Rate::parse("0.00012").unwrap(),
            grade: "A".to_owned(),
            points: 87,
            term_months: 12,
        })
    );
    assert_eq!(approval.policy_version, "supply-chain-policy-2026.1");
    assert_eq!(
        approval.features.unwrap().avg_net_orders_12m,
        yuan("98765.43")
    );
}

#[test]
fn the_limit_is_capped_by_a_group_and_by_the_policy() {
    // A集团's own limit 50,500.00 → 50,000.00.
    let mut capped = facts(steady(12));
    capped.core_limit = yuan("50500.00");
    assert_eq!(offer_of(&capped).limit, yuan("50000.00"));

    // 1,234,567.89 a month, A集团 allows 2,000,000.00: the 1,000,000.00 cap.
    let mut large = facts(
        YearMonth::window(YearMonth::new(2026, 10), 12)
            .map(|m| month(m, "1234567.89", "0.00", "1234567.89", "1234567.89", 0))
            .collect(),
    );
    large.core_limit = yuan("2000000.00");
    large.tier = DistributorTier::First;
    let offer = offer_of(&large);
    assert_eq!(offer.limit, yuan("1000000.00"));
    // 20 + 15 + 25 + 15 (0 days) + 10 (no returns) + 5 + 5 (一级) = 95.
    assert_eq!(offer.points, 95);

    // 9,999.99 a month: 9,000.00 after rounding, below the 10,000.00 floor.
    let small = facts(
        YearMonth::window(YearMonth::new(2026, 10), 12)
            .map(|m| month(m, "9999.99", "0.00", "9999.99", "9999.99", 0))
            .collect(),
    );
    let approval = pre_approve(&small, policy());
    assert_eq!(codes(&approval.outcome), ["S08_LIMIT_FLOOR"]);
    let PreOutcome::Decline(reasons) = approval.outcome else {
        unreachable!()
    };
    assert_eq!(reasons[0].text, "测算额度9000元，低于最低授信额度10000元");
}

#[test]
fn grades_follow_points() {
    // Paid 97.5 %, 4 days late, 5 % returns, tenure 14, receivable 1.0:
    // 10 + 15 + 15 + 8 + 3 + 5 + 0 = 56 → C, 万分之2.0.
    let months: Vec<_> = YearMonth::window(YearMonth::new(2026, 10), 12)
        .map(|m| month(m, "100000.00", "5000.00", "95000.00", "92625.00", 4))
        .collect();
    let mut weak = facts(months);
    weak.tenure_months = 14;
    let offer = offer_of(&weak);
    assert_eq!((offer.grade.as_str(), offer.points), ("C", 56));
    assert_eq!(offer.daily_rate, Rate::parse("0.00020").unwrap());
    // 95,000.00 a month → 95,000.00.
    assert_eq!(offer.limit, yuan("95000.00"));
}

#[test]
fn every_decline_reason_is_listed() {
    let mut months = steady(12);
    for m in &mut months[9..] {
        // Last 3 months: 70,000.00 ordered, 7,000.00 returned (10 %), net 63,000.00; 90 %
        // paid of 98,765.43 due; 12 days late.
        *m = month(m.month, "70000.00", "7000.00", "98765.43", "88888.89", 12);
    }
    let mut bad = facts(months);
    bad.status = DistributorStatus::Watch;
    bad.tenure_months = 12;
    let approval = pre_approve(&bad, policy());
    assert_eq!(
        codes(&approval.outcome),
        [
            "S01_STATUS",
            "S04_PAY_RATIO",
            "S05_DAYS_LATE",
            "S06_RETURNS",
            "S07_ORDERS",
            "S09_SCORE"
        ]
    );
    let PreOutcome::Decline(reasons) = &approval.outcome else {
        unreachable!()
    };
    let texts: Vec<&str> = reasons.iter().map(|r| r.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "A集团对该经销商的合作状态为“重点关注”，仅向“正常合作”的经销商授信",
            // 3 × 88,888.89 ÷ 3 × 98,765.43 = 0.90000… → 90.00 %.
            "近3个月回款率90.00%，低于95%",
            "近3个月单月平均逾期最长12天，超过10天",
            "近3个月退货率10.00%，达到8%",
            // 63,000.00 ÷ 98,765.43 = 0.63787… → 0.6379: down 36.2 % on the 6 months before.
            "近3个月净订货额较前6个月下降36.2%，降幅超过20%",
            // Tenure 12 → 10; receivable 63,000.00 ÷ 89,824.07 → 5; nothing else: 15.
            "综合评分15分，低于准入分35分",
        ]
    );
    assert!(approval.features.is_some());

    // Too little of everything: status, tenure and history, and no features.
    let mut young = facts(steady(4));
    young.tenure_months = 4;
    young.status = DistributorStatus::Suspended;
    let approval = pre_approve(&young, policy());
    assert_eq!(
        codes(&approval.outcome),
        ["S01_STATUS", "S02_TENURE", "S03_HISTORY"]
    );
    assert!(approval.features.is_none());
    let PreOutcome::Decline(reasons) = &approval.outcome else {
        unreachable!()
    };
    assert_eq!(reasons[1].text, "与A集团合作4个月，不足6个月");
    assert_eq!(reasons[2].text, "A集团提供的交易数据仅4个月，不足6个月");
}

#[test]
fn rising_returns_decline_even_below_the_absolute_ceiling() {
    let mut months = steady(12);
    for m in &mut months[9..] {
        // 5,000.00 of 100,000.00: 5.00 %, 3.77 points above 1.23 %.
        *m = month(m.month, "100000.00", "5000.00", "98765.43", "98765.43", 2);
    }
    let approval = pre_approve(&facts(months), policy());
    let PreOutcome::Decline(reasons) = approval.outcome else {
        panic!("offered")
    };
    assert_eq!(reasons.len(), 1);
    assert_eq!(reasons[0].code, "S06_RETURNS");
    assert_eq!(
        reasons[0].text,
        "近3个月退货率5.00%，较前6个月的1.23%上升3.77个百分点"
    );
}

// ---------------------------------------------------------------------------------------------
// Owner
// ---------------------------------------------------------------------------------------------

fn clean_report() -> CreditReportRecord {
    CreditReportRecord {
        report_number: "20261129000000001".to_owned(),
        has_record: true,
        loans: Vec::new(),
        loan_count: 0,
        cards: CardsRecord {
            count: 1,
            total_limit: yuan("50000.00"),
            used: yuan("5000.00"),
        },
        total_outstanding: yuan("5000.00"),
        monthly_repayment: yuan("500.00"),
        overdue: OverdueRecord {
            amount: Money::ZERO,
            days: 0,
        },
        inquiries_6m: 2,
        repayment_status_24m: "N".repeat(24),
        worst_status_24m: 0,
        as_of: REFERENCE_DATE,
    }
}

fn no_cases() -> CourtCases {
    CourtCases {
        dishonest_debtor: false,
        dishonest_since: None,
        cases: Vec::new(),
        as_of: REFERENCE_DATE,
    }
}

fn an_offer(limit: &str) -> Offer {
    Offer {
        limit: yuan(limit),
        daily_rate: Rate::parse("0.00012").unwrap(),
        grade: "A".to_owned(),
        points: 87,
        term_months: 12,
    }
}

#[test]
fn a_clean_owner_confirms_the_offer() {
    let check = bianmin_lending::supply::try_confirm_owner(
        &an_offer("98000.00"),
        date("1980-05-01"),
        &clean_report(),
        &no_cases(),
        date("2026-11-29"),
        policy(),
    )
    .unwrap();
    assert_eq!(
        check,
        OwnerCheck::Confirmed {
            limit: yuan("98000.00"),
            notes: Vec::new()
        }
    );
}

#[test]
fn minor_delinquency_or_many_inquiries_halve_the_limit_once() {
    let mut report = clean_report();
    report.worst_status_24m = 1;
    report.inquiries_6m = 8;
    let check = bianmin_lending::supply::try_confirm_owner(
        &an_offer("97000.00"),
        date("1980-05-01"),
        &report,
        &no_cases(),
        date("2026-11-29"),
        policy(),
    )
    .unwrap();
    // 97,000.00 × 50 % = 48,500.00 → 48,000.00, once for both reasons.
    let OwnerCheck::Confirmed { limit, notes } = check else {
        panic!("{check:?}")
    };
    assert_eq!(limit, yuan("48000.00"));
    let codes: Vec<&str> = notes.iter().map(|n| n.code.as_str()).collect();
    assert_eq!(codes, ["O11_MINOR_DELINQUENCY", "O12_INQUIRIES"]);
    assert_eq!(
        notes[1].text,
        "经营者近6个月征信查询8次，超过6次，额度按50%核定"
    );

    // 19,000.00 halved is 9,500.00 → 9,000.00, below the floor: declined.
    let check = bianmin_lending::supply::try_confirm_owner(
        &an_offer("19000.00"),
        date("1980-05-01"),
        &report,
        &no_cases(),
        date("2026-11-29"),
        policy(),
    )
    .unwrap();
    let OwnerCheck::Declined(reasons) = check else {
        panic!("{check:?}")
    };
    assert_eq!(reasons.last().unwrap().code, "O07_LIMIT_FLOOR");
    assert_eq!(
        reasons.last().unwrap().text,
        "核减后额度9000元，低于最低授信额度10000元"
    );
}

#[test]
fn every_owner_decline_reason_is_listed() {
    let mut report = clean_report();
    report.overdue = OverdueRecord {
        amount: yuan("1200.00"),
        days: 15,
    };
    report.worst_status_24m = 3;
    report.inquiries_6m = 13;
    let mut court = no_cases();
    court.dishonest_debtor = true;
    court.cases.push(CaseRecord {
        case_number: "(2026)川0104执1234号".to_owned(),
        court: "成都市锦江区人民法院".to_owned(),
        kind: CaseKind::Enforcement,
        cause: "买卖合同纠纷".to_owned(),
        role: Role::Debtor,
        filed_on: date("2026-03-01"),
        status: CaseStatus::Open,
        closed_on: None,
        amount: yuan("80000.00"),
    });
    // Born 1960-11-29: 66 on 2026-11-29, above 65.
    let check = bianmin_lending::supply::try_confirm_owner(
        &an_offer("98000.00"),
        date("1960-11-29"),
        &report,
        &court,
        date("2026-11-29"),
        policy(),
    )
    .unwrap();
    let OwnerCheck::Declined(reasons) = check else {
        panic!("{check:?}")
    };
    let codes: Vec<&str> = reasons.iter().map(|r| r.code.as_str()).collect();
    assert_eq!(
        codes,
        [
            "O01_AGE",
            "O02_DISHONEST",
            "O03_ENFORCEMENT",
            "O04_OVERDUE",
            "O05_WORST_STATUS",
            "O06_INQUIRIES"
        ]
    );
    assert_eq!(reasons[0].text, "经营者年龄66周岁，不在18至65周岁之间");
    assert_eq!(reasons[2].text, "经营者有1件未结的被执行案件");
    assert_eq!(reasons[3].text, "经营者征信当前逾期15天");

    // Born after today: an input error, as the consumer product's reading refuses it.
    let error = bianmin_lending::supply::try_confirm_owner(
        &an_offer("98000.00"),
        date("2027-01-01"),
        &clean_report(),
        &no_cases(),
        date("2026-11-29"),
        policy(),
    )
    .unwrap_err();
    assert_eq!(error.code(), "lending.supply.owner_records");
}

// ---------------------------------------------------------------------------------------------
// Early warning
// ---------------------------------------------------------------------------------------------

#[test]
fn a_steady_line_is_kept() {
    let baseline = trade_features(&facts(steady(12))).unwrap();
    let monitoring =
        try_early_warning(&baseline, &facts(steady(18)), yuan("98000.00"), policy()).unwrap();
    assert!(monitoring.warnings.is_empty(), "{:?}", monitoring.warnings);
    assert_eq!(monitoring.action, Action::Keep);
    assert_eq!(monitoring.features.orders_yoy, Some(dec!(1)));
}

#[test]
fn falling_orders_freeze_with_the_figures() {
    let baseline = trade_features(&facts(steady(12))).unwrap();
    let mut months = steady(18);
    for m in &mut months[15..] {
        // Net 60,000.00 against 98,765.43 a year earlier: 0.60750… → 0.6075, down 39.3 %.
        *m = month(m.month, "61234.57", "1234.57", "98765.43", "98765.43", 2);
    }
    let monitoring =
        try_early_warning(&baseline, &facts(months), yuan("98000.00"), policy()).unwrap();
    let first = &monitoring.warnings[0];
    assert_eq!(
        (first.signal, first.severity),
        (Signal::OrdersFalling, Severity::Freeze)
    );
    assert_eq!(first.text, "近3个月净订货额较去年同期下降39.3%");
    // Returns 1,234.57 ÷ 61,234.57 = 2.02 %: 0.79 points above 1.23 %, no warning.
    assert_eq!(monitoring.warnings.len(), 1, "{:?}", monitoring.warnings);
    assert_eq!(
        monitoring.action,
        Action::Freeze {
            reason: "近3个月净订货额较去年同期下降39.3%".to_owned()
        }
    );
}

#[test]
fn slower_payments_lower_the_limit() {
    let baseline = trade_features(&facts(steady(12))).unwrap();
    let mut months = steady(18);
    for m in &mut months[15..] {
        // 92,839.50 of 98,765.43 = 0.93999… → 94.00 %, below 95 % but not 93 %.
        *m = month(m.month, "100000.00", "1234.57", "98765.43", "92839.50", 9);
    }
    let monitoring = try_early_warning(
        &baseline,
        &facts(months.clone()),
        yuan("98000.00"),
        policy(),
    )
    .unwrap();
    let found: Vec<(Signal, Severity, &str)> = monitoring
        .warnings
        .iter()
        .map(|w| (w.signal, w.severity, w.text.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (
                Signal::PaymentsLate,
                Severity::Lower,
                "近3个月回款率94.00%，低于95%"
            ),
            (
                Signal::PaymentsLate,
                Severity::Watch,
                "近3个月单月平均逾期最长9天"
            ),
        ]
    );
    // min(98,000.00 recomputed from 98,765.43, 98,000.00 × 0.7 = 68,600.00) → 68,000.00.
    assert_eq!(
        monitoring.action,
        Action::Lower {
            limit: yuan("68000.00")
        }
    );

    // The same on a 14,000.00 line: 9,800.00 → 9,000.00, below the floor: frozen.
    let monitoring =
        try_early_warning(&baseline, &facts(months), yuan("14000.00"), policy()).unwrap();
    assert_eq!(
        monitoring.action,
        Action::Freeze {
            reason: "近3个月回款率94.00%，低于95%；下调后额度9000元，低于最低授信额度10000元"
                .to_owned()
        }
    );
}

#[test]
fn late_payments_returns_and_status_freeze_together() {
    let baseline = trade_features(&facts(steady(12))).unwrap();
    let mut months = steady(18);
    for m in &mut months[15..] {
        // 13,000.00 of 100,000.00 returned (13 %); 90 % paid; 16 days late.
        *m = month(m.month, "100000.00", "13000.00", "98765.43", "88888.89", 16);
    }
    let mut current = facts(months);
    current.status = DistributorStatus::Suspended;
    let monitoring = try_early_warning(&baseline, &current, yuan("98000.00"), policy()).unwrap();
    let found: Vec<(Signal, Severity)> = monitoring
        .warnings
        .iter()
        .map(|w| (w.signal, w.severity))
        .collect();
    assert_eq!(
        found,
        [
            (Signal::ReturnsRising, Severity::Freeze),
            (Signal::ReturnsRising, Severity::Lower),
            (Signal::PaymentsLate, Severity::Freeze),
            (Signal::PaymentsLate, Severity::Freeze),
            (Signal::StatusChanged, Severity::Freeze),
        ]
    );
    assert_eq!(
        monitoring.action,
        Action::Freeze {
            reason: "近3个月退货率13.00%，达到12%；近3个月回款率90.00%，低于93%；\
                     近3个月平均逾期16.0天，达到15天；A集团已暂停对该经销商供货"
                .to_owned()
        }
    );
    assert_eq!(
        monitoring.warnings[1].text,
        "近3个月退货率13.00%，较授信时1.23%上升11.77个百分点"
    );
    assert_eq!(
        try_early_warning(&baseline, &current, yuan("-1.00"), policy())
            .unwrap_err()
            .code(),
        "lending.supply.negative_amount"
    );
}

// ---------------------------------------------------------------------------------------------
// Sweep
// ---------------------------------------------------------------------------------------------

#[test]
fn sweep_takes_a_share_rounded_down_and_at_most_what_is_owed() {
    // 12,345.67 × 30 % = 3,703.701 → 3,703.70.
    assert_eq!(
        sweep_amount(yuan("12345.67"), 30, yuan("50000.00")),
        yuan("3703.70")
    );
    // 0.03 × 30 % = 0.009 → 0.00.
    assert_eq!(sweep_amount(yuan("0.03"), 30, yuan("1.00")), Money::ZERO);
    // 99.99 × 33 % = 32.9967 → 32.99.
    assert_eq!(
        sweep_amount(yuan("99.99"), 33, yuan("100.00")),
        yuan("32.99")
    );
    assert_eq!(
        sweep_amount(yuan("12345.67"), 30, yuan("1000.00")),
        yuan("1000.00")
    );
    assert_eq!(
        sweep_amount(yuan("12345.67"), 150, yuan("1000000.00")),
        yuan("12345.67")
    );
    assert_eq!(sweep_amount(yuan("-5.00"), 30, yuan("100.00")), Money::ZERO);
    assert_eq!(sweep_amount(yuan("100.00"), 30, Money::ZERO), Money::ZERO);
    assert_eq!(
        sweep_amount(Money::from_fen(i64::MAX), 100, Money::from_fen(i64::MAX)),
        Money::from_fen(i64::MAX)
    );
}

// ---------------------------------------------------------------------------------------------
// The govsim population
// ---------------------------------------------------------------------------------------------

/// A distributor's trade months as `enterprise.trade` returns them.
fn records_of(distributor: &Distributor) -> Vec<TradeMonthRecord> {
    distributor
        .trade()
        .iter()
        .map(|m| TradeMonthRecord {
            month: m.month,
            order_count: m.order_count,
            order_amount: m.orders,
            return_amount: m.returns,
            net_amount: Money::from_fen(m.orders.fen() - m.returns.fen()),
            amount_due: m.due,
            amount_paid: m.paid,
            days_late: m.days_late,
            receivable: m.receivable,
        })
        .collect()
}

/// The facts as A集团 would have shared them with `months` (the first months of the trade),
/// with the standing `status`.
fn facts_of(
    distributor: &Distributor,
    months: &[TradeMonthRecord],
    status: DistributorStatus,
) -> DistributorFacts {
    let last = months.last().map_or(LAST_CLOSED_MONTH, |m| m.month);
    let behind = u32::try_from(LAST_CLOSED_MONTH.months_since(last)).unwrap();
    DistributorFacts {
        uscc: distributor.uscc.as_str().to_owned(),
        name: distributor.name.clone(),
        tier: distributor.tier,
        tenure_months: distributor.tenure_months() - behind,
        core_limit: distributor.credit_limit,
        status,
        months: months.to_vec(),
    }
}

/// Index in the 24-month history window of `month`.
fn window_index(month: YearMonth) -> i32 {
    23 - LAST_CLOSED_MONTH.months_since(month)
}

/// A deteriorating distributor's turning month (window index), read from its data: the first
/// month paying less than 96 % of what fell due is the month after the turn (healthy months
/// pay 97–100 %, the turn month 97.5 %, the next 95 %). `None` when the data start too late
/// to tell.
fn turn_of(months: &[TradeMonthRecord]) -> Option<i32> {
    let first_late = months.iter().position(|m| {
        i128::from(m.amount_paid.fen()) * 100 < i128::from(m.amount_due.fen()) * 96
    })?;
    (first_late >= 1).then(|| window_index(months[first_late].month) - 1)
}

/// govsim's standing rule (`Distributor::status`) at `months_past_turn`.
fn status_at(months_past_turn: i32) -> DistributorStatus {
    match months_past_turn {
        ..3 => DistributorStatus::Active,
        3..10 => DistributorStatus::Watch,
        _ => DistributorStatus::Suspended,
    }
}

fn is_lower_or_freeze(action: &Action) -> bool {
    !matches!(action, Action::Keep)
}

#[test]
fn supply_population() {
    let population = Population::new(20261129, 10_000);
    let policy = policy();
    let distributors = population.group().distributors();

    // Pre-approval at the end of the history.
    let mut active = 0;
    let mut offered = 0;
    let mut by_grade: BTreeMap<String, u32> = BTreeMap::new();
    let mut declines: BTreeMap<String, u32> = BTreeMap::new();
    let mut limits = Vec::new();
    let mut all_facts = Vec::new();
    for distributor in distributors {
        let facts = facts_of(distributor, &records_of(distributor), distributor.status());
        let approval = pre_approve(&facts, policy);
        if facts.status == DistributorStatus::Active {
            active += 1;
            if let PreOutcome::Offer(offer) = &approval.outcome {
                offered += 1;
                *by_grade.entry(offer.grade.clone()).or_default() += 1;
                limits.push(offer.limit);
            }
        }
        if let PreOutcome::Decline(reasons) = &approval.outcome {
            for reason in reasons {
                *declines.entry(reason.code.clone()).or_default() += 1;
            }
        }
        all_facts.push(facts);
    }
    limits.sort();
    println!(
        "pre-approval: {offered} offers of {active} active distributors ({:.1} %), of {} in all; \
         grades {by_grade:?}; decline reasons {declines:?}; limits min {} median {} max {}",
        f64::from(offered) * 100.0 / f64::from(active),
        distributors.len(),
        limits[0],
        limits[limits.len() / 2],
        limits[limits.len() - 1],
    );
    assert!(
        offered * 100 >= active * 80,
        "{offered} offers of {active} active"
    );

    // Timing (a debug build here: the release figure is far lower).
    let start = Instant::now();
    let rounds = 10;
    for _ in 0..rounds {
        for facts in &all_facts {
            std::hint::black_box(pre_approve(std::hint::black_box(facts), policy));
        }
    }
    let each = start.elapsed() / (rounds * all_facts.len() as u32);
    println!("pre_approve: {each:?} each (this build's profile)");

    // Early warning on the healthy: approved at the 12th month of the window on the first
    // 12 months, then watched every month for a year (every season, the Spring Festival
    // trough included); and the final snapshot, approved 6 months before the end.
    let (mut healthy, mut healthy_hit, mut healthy_months, mut healthy_month_hits) = (0, 0, 0, 0);
    let (mut final_watched, mut final_hit) = (0, 0);
    let mut healthy_signals: BTreeMap<String, u32> = BTreeMap::new();
    // Deteriorating: approved 6 months before the month 3 (or 4) months past the turn.
    let mut past_turn: BTreeMap<i32, (u32, u32, u32)> = BTreeMap::new();
    for distributor in distributors {
        let months = records_of(distributor);
        let n = months.len();
        if distributor.trend != Trend::Deteriorating {
            if n >= 18 {
                let baseline = trade_features(&facts_of(
                    distributor,
                    &months[..n - 6],
                    DistributorStatus::Active,
                ))
                .unwrap();
                let current = facts_of(distributor, &months, DistributorStatus::Active);
                let limit = offer_of_or_none(&current, policy);
                if let Some(limit) = limit {
                    final_watched += 1;
                    let monitoring = try_early_warning(&baseline, &current, limit, policy).unwrap();
                    if is_lower_or_freeze(&monitoring.action) {
                        final_hit += 1;
                    }
                }
            }
            if n < 24 {
                continue;
            }
            let approved = facts_of(distributor, &months[..12], DistributorStatus::Active);
            let approval = pre_approve(&approved, policy);
            let PreOutcome::Offer(offer) = approval.outcome else {
                continue;
            };
            let baseline = approval.features.unwrap();
            healthy += 1;
            let mut hit = false;
            for end in 13..=24 {
                let current = facts_of(distributor, &months[..end], DistributorStatus::Active);
                let monitoring =
                    try_early_warning(&baseline, &current, offer.limit, policy).unwrap();
                healthy_months += 1;
                if is_lower_or_freeze(&monitoring.action) {
                    healthy_month_hits += 1;
                    hit = true;
                    for warning in &monitoring.warnings {
                        if warning.severity >= Severity::Lower {
                            *healthy_signals
                                .entry(format!("{:?} {:?}", distributor.trend, warning.signal))
                                .or_default() += 1;
                        }
                    }
                }
            }
            if hit {
                healthy_hit += 1;
            }
        } else if let Some(turn) = turn_of(&months) {
            for k in 1..=6 {
                let last = turn + k;
                let Some(end) = months
                    .iter()
                    .position(|m| window_index(m.month) == last)
                    .map(|i| i + 1)
                else {
                    continue;
                };
                if end < 12 {
                    continue;
                }
                let baseline = trade_features(&facts_of(
                    distributor,
                    &months[..end - 6],
                    DistributorStatus::Active,
                ))
                .unwrap();
                let current = facts_of(distributor, &months[..end], status_at(k));
                let monitoring =
                    try_early_warning(&baseline, &current, distributor.credit_limit, policy)
                        .unwrap();
                let entry = past_turn.entry(k).or_default();
                entry.0 += 1;
                match monitoring.action {
                    Action::Freeze { .. } => entry.2 += 1,
                    Action::Lower { .. } => entry.1 += 1,
                    Action::Keep => {}
                }
            }
        }
    }
    println!(
        "healthy, watched monthly for 12 months: {healthy_hit} of {healthy} distributors ever \
         lowered or frozen; {healthy_month_hits} of {healthy_months} monthly checks \
         ({:.2} %); by trend and signal {healthy_signals:?}",
        f64::from(healthy_month_hits) * 100.0 / f64::from(healthy_months)
    );
    println!(
        "healthy, final month against approval 6 months earlier: {final_hit} of {final_watched} \
         lowered or frozen"
    );
    for (k, (count, lowered, frozen)) in &past_turn {
        println!(
            "deteriorating, {k} months past the turn: {count} checked, {lowered} lowered, {frozen} frozen"
        );
    }
    assert!(
        healthy_month_hits * 100 < healthy_months * 2,
        "{healthy_month_hits} of {healthy_months} healthy checks lowered or frozen"
    );
    assert!(
        final_hit * 100 < final_watched * 2,
        "{final_hit} of {final_watched} healthy lines lowered or frozen"
    );
    for k in [3, 4] {
        let (count, _, frozen) = past_turn[&k];
        assert!(count >= 20, "only {count} deteriorating at {k} months");
        assert!(
            frozen * 100 >= count * 95,
            "{frozen} of {count} frozen at {k} months past the turn"
        );
    }

    // The owners of the offered: their own records at confirmation.
    let (mut confirmed, mut reduced, mut declined) = (0, 0, 0);
    let mut owner_codes: BTreeMap<String, u32> = BTreeMap::new();
    for (distributor, facts) in distributors.iter().zip(&all_facts) {
        let PreOutcome::Offer(offer) = pre_approve(facts, policy).outcome else {
            continue;
        };
        let owner = population.person(distributor.owner);
        let check = bianmin_lending::supply::try_confirm_owner(
            &offer,
            owner.birth_date,
            &CreditReportRecord::of(&owner),
            &CourtCases::of(&owner, DateRange::ALL),
            REFERENCE_DATE,
            policy,
        )
        .unwrap();
        let reasons = match &check {
            OwnerCheck::Confirmed { limit, notes } => {
                if *limit < offer.limit {
                    reduced += 1;
                } else {
                    confirmed += 1;
                }
                notes
            }
            OwnerCheck::Declined(reasons) => {
                declined += 1;
                reasons
            }
        };
        for reason in reasons {
            *owner_codes.entry(reason.code.clone()).or_default() += 1;
        }
    }
    println!(
        "owners: {confirmed} confirmed, {reduced} reduced, {declined} declined; {owner_codes:?}"
    );
}

fn offer_of_or_none(facts: &DistributorFacts, policy: &SupplyPolicy) -> Option<Money> {
    match pre_approve(facts, policy).outcome {
        PreOutcome::Offer(offer) => Some(offer.limit),
        PreOutcome::Decline(_) => None,
    }
}

#[test]
fn ratios_are_decimals_not_floats() {
    // A guard on the serialised baseline: ratios are strings.
    let features = trade_features(&facts(steady(15))).unwrap();
    let json = serde_json::to_value(&features).unwrap();
    assert_eq!(json["orders_trend"], "1.0000");
    assert_eq!(json["avg_net_orders_12m"], "98765.43");
    assert_eq!(json["last_month"], "2026-10");
    let back: bianmin_lending::supply::TradeFeatures = serde_json::from_value(json).unwrap();
    assert_eq!(back, features);
}

#[test]
fn broken_data_and_a_watch_status() {
    // A month missing in the middle: no features, declined on the data.
    let mut months = steady(12);
    months.remove(6);
    let approval = pre_approve(&facts(months), policy());
    assert_eq!(codes(&approval.outcome), ["S00_DATA"]);
    assert!(approval.features.is_none());

    // A集团 puts a steady distributor on watch: 98,000.00 × 0.7 = 68,600.00 → 68,000.00.
    let baseline = trade_features(&facts(steady(12))).unwrap();
    let mut current = facts(steady(18));
    current.status = DistributorStatus::Watch;
    let monitoring = try_early_warning(&baseline, &current, yuan("98000.00"), policy()).unwrap();
    assert_eq!(monitoring.warnings.len(), 1);
    assert_eq!(monitoring.warnings[0].signal, Signal::StatusChanged);
    assert_eq!(monitoring.warnings[0].text, "A集团已将该经销商列为重点关注");
    assert_eq!(
        monitoring.action,
        Action::Lower {
            limit: yuan("68000.00")
        }
    );
}

#[test]
fn the_infallible_forms_decline_or_freeze_on_unusable_data() {
    let check = bianmin_lending::supply::confirm_owner(
        &an_offer("98000.00"),
        date("2027-01-01"),
        &clean_report(),
        &no_cases(),
        date("2026-11-29"),
        policy(),
    );
    let OwnerCheck::Declined(reasons) = check else {
        panic!("{check:?}")
    };
    assert_eq!(reasons[0].code, "O00_DATA");

    let baseline = trade_features(&facts(steady(12))).unwrap();
    let mut months = steady(18);
    months.remove(10);
    let monitoring = early_warning(&baseline, &facts(months), yuan("98000.00"), policy());
    assert_eq!(monitoring.features, baseline);
    assert_eq!(
        monitoring.action,
        Action::Freeze {
            reason: "A集团交易数据不完整或有误，无法监测".to_owned()
        }
    );
    // A steady line through the infallible form is the same as through the other.
    let current = facts(steady(18));
    assert_eq!(
        early_warning(&baseline, &current, yuan("98000.00"), policy()),
        try_early_warning(&baseline, &current, yuan("98000.00"), policy()).unwrap()
    );
}
