//! 公积金贷款试算: schedules against hand-checked figures, the maximum-amount estimate, rule
//! validation, and properties of the schedules.
//!
//! Every fixed figure below is derived in its comment. The long schedules were also
//! recomputed, independently of this crate, with exact rational arithmetic (Python
//! `fractions`) under the same rules; those figures agree to the fen.

use bianmin_core::{Money, Rate};
use bianmin_services::hpf::loan::{
    BorrowerType, HomeOrder, HpfError, Instalment, LoanRules, LoanTerms, MAX_PRINCIPAL,
    MIN_PRINCIPAL, QuotaLimit, QuotaRequest, RepaymentMethod, schedule,
};
use proptest::prelude::*;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

fn yuan(text: &str) -> Money {
    Money::parse(text).unwrap()
}

fn rate(text: &str) -> Rate {
    Rate::parse(text).unwrap()
}

fn terms(principal: &str, months: u32, annual: &str, method: RepaymentMethod) -> LoanTerms {
    LoanTerms {
        principal: yuan(principal),
        term_months: months,
        annual_rate: rate(annual),
        method,
    }
}

/// `(payment, principal, interest, remaining)` in yuan, as written in the comments.
fn rows(instalments: &[Instalment]) -> Vec<(String, String, String, String)> {
    instalments
        .iter()
        .map(|i| {
            (
                i.payment.to_string(),
                i.principal.to_string(),
                i.interest.to_string(),
                i.remaining.to_string(),
            )
        })
        .collect()
}

fn expected(lines: &[(&str, &str, &str, &str)]) -> Vec<(String, String, String, String)> {
    lines
        .iter()
        .map(|(a, b, c, d)| (a.to_string(), b.to_string(), c.to_string(), d.to_string()))
        .collect()
}

// 12,000.00 元, 12 months, 12 % a year: r = 0.12 / 12 = 0.01 exactly.
//
// 等额本息: (1.01)^12 = 1.126825030131969720661201 (exact: 1.01² = 1.0201, ⁴ = 1.04060401,
// ⁸ = 1.0828567056280801, ¹² = ⁸ × ⁴ = 1.126825030131969720661201).
// A = 12000 × 0.01 × 1.126825030131969720661201 / 0.126825030131969720661201
//   = 135.21900361583636647934412 / 0.126825030131969720661201 = 1066.18546414… → 1066.19.
// Each month: interest = remaining × 0.01 half up; principal = 1066.19 − interest.
//   1: 12000.00 × 0.01 = 120.00       principal  946.19  remaining 11053.81
//   2: 110.5381 → 110.54               principal  955.65  remaining 10098.16
//   3: 100.9816 → 100.98               principal  965.21  remaining  9132.95
//   4:  91.3295 →  91.33               principal  974.86  remaining  8158.09
//   5:  81.5809 →  81.58               principal  984.61  remaining  7173.48
//   6:  71.7348 →  71.73               principal  994.46  remaining  6179.02
//   7:  61.7902 →  61.79               principal 1004.40  remaining  5174.62
//   8:  51.7462 →  51.75               principal 1014.44  remaining  4160.18
//   9:  41.6018 →  41.60               principal 1024.59  remaining  3135.59
//  10:  31.3559 →  31.36               principal 1034.83  remaining  2100.76
//  11:  21.0076 →  21.01               principal 1045.18  remaining  1055.58
//  12:  10.5558 →  10.56               principal 1055.58 (all that remains), payment 1066.14
// Total interest = 120.00 + 110.54 + 100.98 + 91.33 + 81.58 + 71.73 + 61.79 + 51.75
//                + 41.60 + 31.36 + 21.01 + 10.56 = 794.23; total paid 12794.23
//                (= 11 × 1066.19 + 1066.14).
#[test]
fn equal_instalment_small_case_line_by_line() {
    let s = schedule(&terms(
        "12000.00",
        12,
        "0.12",
        RepaymentMethod::EqualInstalment,
    ))
    .unwrap();
    assert_eq!(s.monthly_rate, dec!(0.01));
    assert_eq!(
        rows(&s.instalments),
        expected(&[
            ("1066.19", "946.19", "120.00", "11053.81"),
            ("1066.19", "955.65", "110.54", "10098.16"),
            ("1066.19", "965.21", "100.98", "9132.95"),
            ("1066.19", "974.86", "91.33", "8158.09"),
            ("1066.19", "984.61", "81.58", "7173.48"),
            ("1066.19", "994.46", "71.73", "6179.02"),
            ("1066.19", "1004.40", "61.79", "5174.62"),
            ("1066.19", "1014.44", "51.75", "4160.18"),
            ("1066.19", "1024.59", "41.60", "3135.59"),
            ("1066.19", "1034.83", "31.36", "2100.76"),
            ("1066.19", "1045.18", "21.01", "1055.58"),
            ("1066.14", "1055.58", "10.56", "0.00"),
        ])
    );
    let months: Vec<u32> = s.instalments.iter().map(|i| i.month).collect();
    assert_eq!(months, (1..=12).collect::<Vec<_>>());
    assert_eq!(s.total_interest, yuan("794.23"));
    assert_eq!(s.total_paid, yuan("12794.23"));
    assert_eq!(s.first_payment, yuan("1066.19"));
    assert_eq!(s.last_payment, yuan("1066.14"));
}

// Same loan, 等额本金: principal part = 12000 / 12 = 1000.00 exactly; interest = remaining ×
// 0.01 = 120.00, 110.00, …, 10.00; payments 1120.00 down to 1010.00.
// Total interest = 10 × (12 + 11 + … + 1) = 10 × 78 = 780.00.
#[test]
fn equal_principal_small_case_line_by_line() {
    let s = schedule(&terms(
        "12000.00",
        12,
        "0.12",
        RepaymentMethod::EqualPrincipal,
    ))
    .unwrap();
    let mut lines = Vec::new();
    for month in 1..=12u32 {
        let before = 12_000 - 1_000 * (month - 1);
        let interest = before / 100;
        lines.push((
            format!("{}.00", 1_000 + interest),
            "1000.00".to_owned(),
            format!("{interest}.00"),
            format!("{}.00", before - 1_000),
        ));
    }
    assert_eq!(rows(&s.instalments), lines);
    assert_eq!(s.instalments[0].payment, yuan("1120.00"));
    assert_eq!(s.instalments[11].payment, yuan("1010.00"));
    assert_eq!(s.total_interest, yuan("780.00"));
    assert_eq!(s.total_paid, yuan("12780.00"));
}

// 1,000,000.00 元, 360 months, 3.1 %, 等额本息.
// r = 0.031 / 12 = 0.0025833…; (1 + r)^360 = e^(360 × ln 1.0025833…) = e^0.928800… ≈ 2.5314717.
// A = 1,000,000 × r × g / (g − 1) = 2583.3333… × 2.5314717 / 1.5314717 = 4270.16399 → 4270.16.
// Month 1: interest = 1,000,000 × 0.031 / 12 = 2583.3333… → 2583.33; principal 4270.16 −
// 2583.33 = 1686.83; remaining 998,313.17.
// Because 4270.16 is 0.0040 below the exact payment, the shortfall compounds over 360 months
// (× ((1+r)^360 − 1) / r ≈ 592.8, i.e. about 2.4 元): the last payment is 4272.59
// (principal 4261.58 + interest 11.01), from the exact-rational cross-check.
// Total interest = 359 × 4270.16 + 4272.59 − 1,000,000 = 537,260.03.
#[test]
fn one_million_over_thirty_years_equal_instalment() {
    let s = schedule(&terms(
        "1000000.00",
        360,
        "0.031",
        RepaymentMethod::EqualInstalment,
    ))
    .unwrap();
    assert_eq!(s.first_payment, yuan("4270.16"));
    let first = s.instalments[0];
    assert_eq!(
        (first.interest, first.principal, first.remaining),
        (yuan("2583.33"), yuan("1686.83"), yuan("998313.17"))
    );
    assert!(
        s.instalments[..359]
            .iter()
            .all(|i| i.payment == yuan("4270.16"))
    );
    let last = s.instalments[359];
    assert_eq!(
        (last.payment, last.principal, last.interest, last.remaining),
        (yuan("4272.59"), yuan("4261.58"), yuan("11.01"), Money::ZERO)
    );
    assert_eq!(s.last_payment, yuan("4272.59"));
    assert_eq!(s.total_interest, yuan("537260.03"));
    assert_eq!(s.total_paid, yuan("1537260.03"));
}

// 1,000,000.00 元, 360 months, 3.1 %, 等额本金.
// Principal part = 1,000,000 / 360 = 2777.777… → 2777.78; the last takes
// 1,000,000 − 359 × 2777.78 = 1,000,000 − 997,223.02 = 2776.98.
// Month 1: interest 2583.33 (as above), payment 2777.78 + 2583.33 = 5361.11.
// Month 2: remaining 997,222.22 × 0.031 / 12 = 2576.157… → 2576.16, payment 5353.94.
// Month 360: interest 2776.98 × 0.031 / 12 = 7.1738… → 7.17, payment 2784.15.
// Total interest: Σ remaining = 360 × 1,000,000 − 2777.78 × (0 + 1 + … + 359)
// = 360,000,000 − 2777.78 × 64,620 = 180,499,856.40; × 0.031 / 12 = 466,291.2957 before the
// monthly roundings; the sum of the rounded months is 466,291.30.
#[test]
fn one_million_over_thirty_years_equal_principal() {
    let s = schedule(&terms(
        "1000000.00",
        360,
        "0.031",
        RepaymentMethod::EqualPrincipal,
    ))
    .unwrap();
    assert_eq!(s.first_payment, yuan("5361.11"));
    assert_eq!(s.instalments[1].interest, yuan("2576.16"));
    assert_eq!(s.instalments[1].payment, yuan("5353.94"));
    assert!(
        s.instalments[..359]
            .iter()
            .all(|i| i.principal == yuan("2777.78"))
    );
    let last = s.instalments[359];
    assert_eq!(
        (last.payment, last.principal, last.interest),
        (yuan("2784.15"), yuan("2776.98"), yuan("7.17"))
    );
    assert_eq!(s.total_interest, yuan("466291.30"));
    assert_eq!(s.total_paid, yuan("1466291.30"));
}

// Rate 0: 10,000.00 / 360 = 27.777… → 27.78 a month; the last is
// 10,000 − 359 × 27.78 = 10,000 − 9,973.02 = 26.98. Both methods are the same split.
#[test]
fn zero_rate_is_a_pure_principal_split() {
    for method in [
        RepaymentMethod::EqualInstalment,
        RepaymentMethod::EqualPrincipal,
    ] {
        let s = schedule(&terms("10000.00", 360, "0", method)).unwrap();
        assert!(s.instalments.iter().all(|i| i.interest == Money::ZERO));
        assert!(
            s.instalments[..359]
                .iter()
                .all(|i| i.payment == yuan("27.78"))
        );
        assert_eq!(s.last_payment, yuan("26.98"));
        assert_eq!(s.total_interest, Money::ZERO);
        assert_eq!(s.total_paid, yuan("10000.00"));
        assert_eq!(s.monthly_rate, Decimal::ZERO);
    }
}

// With a rate far below any real one the two totals differ by less than the monthly
// roundings can move them: 10,000.00 元, 267 months, 0.01 %: 等额本金 pays 11.13 of interest,
// 等额本息 11.12 (both from the exact-rational cross-check). The property test below therefore
// starts at 2 %.
#[test]
fn at_tiny_rates_rounding_can_reverse_the_interest_comparison() {
    let ei = schedule(&terms(
        "10000.00",
        267,
        "0.0001",
        RepaymentMethod::EqualInstalment,
    ))
    .unwrap();
    let ep = schedule(&terms(
        "10000.00",
        267,
        "0.0001",
        RepaymentMethod::EqualPrincipal,
    ))
    .unwrap();
    assert_eq!(ei.total_interest, yuan("11.12"));
    assert_eq!(ep.total_interest, yuan("11.13"));
}

#[test]
fn rejects_terms_outside_the_accepted_range() {
    let method = RepaymentMethod::EqualInstalment;
    for months in [0, 11, 361, 480] {
        let err = schedule(&terms("100000.00", months, "0.026", method)).unwrap_err();
        assert_eq!(err.code(), "hpf.invalid_term");
        assert_eq!(
            err.to_string(),
            format!("贷款期限须为 12 至 360 个月，实际为 {months} 个月")
        );
    }
    let err = schedule(&terms("9999.99", 120, "0.026", method)).unwrap_err();
    assert_eq!(err.code(), "hpf.invalid_amount");
    assert_eq!(
        err.to_string(),
        "贷款金额须在 10,000.00 元至 100,000,000.00 元之间，实际为 9,999.99 元"
    );
    let err = schedule(&terms("100000000.01", 120, "0.026", method)).unwrap_err();
    assert_eq!(err.code(), "hpf.invalid_amount");
    let err = schedule(&terms("100000.00", 120, "0.1501", method)).unwrap_err();
    assert_eq!(err.code(), "hpf.invalid_rate");
    assert_eq!(err.to_string(), "年利率须在 0% 至 15% 之间，实际为 15.01%");
    assert!(schedule(&terms("100000.00", 120, "0.15", method)).is_ok());
    assert!(
        schedule(&LoanTerms {
            principal: MIN_PRINCIPAL,
            ..terms("1", 12, "0.15", method)
        })
        .is_ok()
    );
    assert!(
        schedule(&LoanTerms {
            principal: MAX_PRINCIPAL,
            ..terms("1", 360, "0.15", method)
        })
        .is_ok()
    );
}

#[test]
fn terms_and_schedules_serialise_with_string_amounts() {
    let t = terms("12000.00", 12, "0.12", RepaymentMethod::EqualPrincipal);
    let json = serde_json::to_value(t).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "principal": "12000.00",
            "term_months": 12,
            "annual_rate": "0.12",
            "method": "equal_principal",
        })
    );
    assert_eq!(serde_json::from_value::<LoanTerms>(json).unwrap(), t);
    let s = serde_json::to_value(schedule(&t).unwrap()).unwrap();
    assert_eq!(s["total_interest"], "780.00");
    assert_eq!(s["instalments"][0]["payment"], "1120.00");
}

// ---------------------------------------------------------------------------------------
// Maximum amount, with the embedded (illustrative) rules
// ---------------------------------------------------------------------------------------

fn rules() -> &'static LoanRules {
    LoanRules::embedded().unwrap()
}

/// A request where no limit binds below 700,000.00 元.
fn generous() -> QuotaRequest {
    QuotaRequest {
        borrower: BorrowerType::Single,
        home: HomeOrder::First,
        account_balance: yuan("100000.00"),
        monthly_deposit_base: yuan("30000.00"),
        house_price: yuan("2000000.00"),
        age: 30,
        term_months: None,
        annual_rate: None,
        method: RepaymentMethod::EqualInstalment,
    }
}

#[test]
fn embedded_rules_carry_their_version_and_notice() {
    let meta = rules().meta();
    assert_eq!(rules().version(), "chengdu-demo-2025.1");
    assert_eq!(meta.effective_from.to_string(), "2025-05-08");
    assert_eq!(meta.region, "成都");
    assert!(meta.notice.contains("演示配置"), "{}", meta.notice);
    assert_eq!(rules().rates_as_of().to_string(), "2025-05-08");
    assert!(std::ptr::eq(rules(), LoanRules::embedded().unwrap()));
}

#[test]
fn configured_rates_as_of_2025_05_08() {
    let cases = [
        (HomeOrder::First, 12, "0.021"),
        (HomeOrder::First, 60, "0.021"),
        (HomeOrder::First, 61, "0.026"),
        (HomeOrder::First, 360, "0.026"),
        (HomeOrder::Second, 60, "0.02525"),
        (HomeOrder::Second, 61, "0.03075"),
        (HomeOrder::Second, 360, "0.03075"),
    ];
    for (home, months, expected) in cases {
        assert_eq!(
            rules().annual_rate(home, months),
            Ok(rate(expected)),
            "{home:?} {months}"
        );
    }
    assert_eq!(
        rules().annual_rate(HomeOrder::First, 6).unwrap_err().code(),
        "hpf.invalid_term"
    );
}

// Max term = min(360, (68 − age) × 12): 30 → 360; 50 → 216; 60 → 96; 67 → 12; 68 → none.
#[test]
fn term_is_limited_by_age_at_maturity() {
    assert_eq!(rules().max_term_months(18), Ok(360));
    assert_eq!(rules().max_term_months(38), Ok(360));
    assert_eq!(rules().max_term_months(39), Ok(348));
    assert_eq!(rules().max_term_months(50), Ok(216));
    assert_eq!(rules().max_term_months(60), Ok(96));
    assert_eq!(rules().max_term_months(67), Ok(12));
    for age in [17, 68, 80] {
        let err = rules().max_term_months(age).unwrap_err();
        assert_eq!(err.code(), "hpf.age_not_eligible");
        assert!(
            err.to_string()
                .starts_with(&format!("借款人年龄 {age} 周岁不符合贷款条件"))
        );
    }
    let request = QuotaRequest {
        age: 50,
        ..generous()
    };
    assert_eq!(rules().estimate_quota(&request).unwrap().term_months, 216);
    let err = rules()
        .estimate_quota(&QuotaRequest {
            term_months: Some(240),
            ..request
        })
        .unwrap_err();
    assert_eq!(err.code(), "hpf.term_exceeds_age_limit");
    assert_eq!(
        err.to_string(),
        "按借款人年龄，贷款期限最长为 216 个月，所选期限为 240 个月"
    );
}

// (a) binds: 400,000.00 for a single borrower's first home, below balance × 15 =
// 1,500,000.00, house 2,000,000 × 0.8 = 1,600,000.00 and the capacity of 15,000.00 a month.
// Payment of 400,000.00 at 2.6 %, 360 months: 400,000 × 0.0021667 × 2.1796324 / 1.1796324
// = 1601.36 (cross-checked exactly).
#[test]
fn household_cap_binds() {
    let estimate = rules().estimate_quota(&generous()).unwrap();
    assert_eq!(estimate.max_amount, yuan("400000.00"));
    assert_eq!(estimate.binding, QuotaLimit::HouseholdCap);
    assert_eq!(estimate.reason_code, "hpf.quota.household_cap");
    assert_eq!(
        estimate.reason,
        "可贷额度受最高贷款额度限制：单人借款购买首套住房最高可贷 400,000.00 元"
    );
    assert_eq!(estimate.term_months, 360);
    assert_eq!(estimate.max_term_months, 360);
    assert_eq!(estimate.annual_rate, rate("0.026"));
    assert_eq!(estimate.monthly_payment_limit, yuan("15000.00"));
    assert_eq!(estimate.first_payment, yuan("1601.36"));
    assert_eq!(estimate.rules_version, "chengdu-demo-2025.1");
    let amounts: Vec<(QuotaLimit, Money)> = estimate
        .constraints
        .iter()
        .map(|c| (c.limit, c.amount))
        .collect();
    assert_eq!(amounts[0], (QuotaLimit::HouseholdCap, yuan("400000.00")));
    assert_eq!(
        amounts[1],
        (QuotaLimit::BalanceMultiple, yuan("1500000.00"))
    );
    assert_eq!(amounts[3], (QuotaLimit::LoanToValue, yuan("1600000.00")));
    let couple = rules()
        .estimate_quota(&QuotaRequest {
            borrower: BorrowerType::Couple,
            ..generous()
        })
        .unwrap();
    assert_eq!(couple.max_amount, yuan("700000.00"));
    assert_eq!(couple.binding, QuotaLimit::HouseholdCap);
}

// (b) binds: 20,000.00 × 15 = 300,000.00. Payment at 2.6 %/360: 1201.02 (cross-checked).
#[test]
fn balance_multiple_binds() {
    let estimate = rules()
        .estimate_quota(&QuotaRequest {
            account_balance: yuan("20000.00"),
            ..generous()
        })
        .unwrap();
    assert_eq!(estimate.max_amount, yuan("300000.00"));
    assert_eq!(estimate.binding, QuotaLimit::BalanceMultiple);
    assert_eq!(estimate.reason_code, "hpf.quota.balance_multiple");
    assert_eq!(
        estimate.reason,
        "可贷额度受缴存余额倍数限制：缴存余额 20,000.00 元 × 15 倍 = 300,000.00 元"
    );
    assert_eq!(estimate.first_payment, yuan("1201.02"));
}

// 12,345.67 × 15 = 185,185.05, rounded down to a multiple of 100.00: 185,100.00.
#[test]
fn the_estimate_is_rounded_down_to_the_amount_unit() {
    let estimate = rules()
        .estimate_quota(&QuotaRequest {
            account_balance: yuan("12345.67"),
            ..generous()
        })
        .unwrap();
    assert_eq!(estimate.constraints[1].amount, yuan("185185.05"));
    assert_eq!(estimate.max_amount, yuan("185100.00"));
    assert_eq!(
        estimate.reason,
        "可贷额度受缴存余额倍数限制：缴存余额 12,345.67 元 × 15 倍 = 185,185.05 元，按 100.00 元向下取整为 185,100.00 元"
    );
}

// (c) binds. Deposit base 2,000.00 × 50 % = 1,000.00 a month.
// 等额本息 at 2.6 %, 360 months: r = 0.0021666…, g = (1+r)^360 = 2.1796323560725569884…,
// (g − 1) / (r·g) = 249.78786045539633893…; × 1000 = 249,787.860455 → 249,787.86 (its payment
// 999.99999… rounds to 1000.00 ≤ 1000.00); estimate 249,700.00, whose payment is 999.65.
// 等额本金: 1000 × 360 / (1 + 360 × 0.026 / 12) = 360,000 / 1.78 = 202,247.191… → 202,247.19;
// estimate 202,200.00, first payment 202,200 / 360 = 561.67 + 202,200 × 0.026 / 12 = 438.10
// → 999.77.
#[test]
fn repayment_capacity_binds() {
    let request = QuotaRequest {
        monthly_deposit_base: yuan("2000.00"),
        ..generous()
    };
    let estimate = rules().estimate_quota(&request).unwrap();
    assert_eq!(estimate.monthly_payment_limit, yuan("1000.00"));
    assert_eq!(estimate.constraints[2].amount, yuan("249787.86"));
    assert_eq!(estimate.max_amount, yuan("249700.00"));
    assert_eq!(estimate.binding, QuotaLimit::RepaymentCapacity);
    assert_eq!(estimate.reason_code, "hpf.quota.repayment_capacity");
    assert_eq!(
        estimate.reason,
        "可贷额度受还款能力限制：月缴存基数 2,000.00 元 × 50% = 月还款上限 1,000.00 元，按年利率 2.6%、360 个月等额本息计算最多可贷 249,787.86 元，按 100.00 元向下取整为 249,700.00 元"
    );
    assert_eq!(estimate.first_payment, yuan("999.65"));

    let estimate = rules()
        .estimate_quota(&QuotaRequest {
            method: RepaymentMethod::EqualPrincipal,
            ..request
        })
        .unwrap();
    assert_eq!(estimate.constraints[2].amount, yuan("202247.19"));
    assert_eq!(estimate.max_amount, yuan("202200.00"));
    assert_eq!(estimate.first_payment, yuan("999.77"));
    assert!(
        estimate
            .reason
            .contains("360 个月等额本金计算最多可贷 202,247.19 元")
    );
}

// (d) binds: a couple's second home at 500,000.00 × 70 % = 350,000.00, below the 700,000.00
// cap; rate 3.075 % for a second home over 5 years; payment 1489.81 (cross-checked).
#[test]
fn loan_to_value_binds() {
    let estimate = rules()
        .estimate_quota(&QuotaRequest {
            borrower: BorrowerType::Couple,
            home: HomeOrder::Second,
            house_price: yuan("500000.00"),
            ..generous()
        })
        .unwrap();
    assert_eq!(estimate.max_amount, yuan("350000.00"));
    assert_eq!(estimate.binding, QuotaLimit::LoanToValue);
    assert_eq!(estimate.reason_code, "hpf.quota.loan_to_value");
    assert_eq!(
        estimate.reason,
        "可贷额度受贷款成数限制：房屋总价 500,000.00 元 × 70%（第二套住房贷款成数）= 350,000.00 元"
    );
    assert_eq!(estimate.annual_rate, rate("0.03075"));
    assert_eq!(estimate.first_payment, yuan("1489.81"));
}

// A 5-year term takes the ≤5-year rate; 400,000.00 at 2.1 % over 60 months pays 7028.62.
#[test]
fn chosen_term_and_rate_are_used() {
    let estimate = rules()
        .estimate_quota(&QuotaRequest {
            term_months: Some(60),
            ..generous()
        })
        .unwrap();
    assert_eq!(estimate.annual_rate, rate("0.021"));
    assert_eq!(estimate.first_payment, yuan("7028.62"));
    let estimate = rules()
        .estimate_quota(&QuotaRequest {
            annual_rate: Some(rate("0.031")),
            ..generous()
        })
        .unwrap();
    assert_eq!(estimate.annual_rate, rate("0.031"));
    let err = rules()
        .estimate_quota(&QuotaRequest {
            annual_rate: Some(rate("0.2")),
            ..generous()
        })
        .unwrap_err();
    assert_eq!(err.code(), "hpf.invalid_rate");
}

// House 500,000.00 × 80 % = 400,000.00 equals the single-borrower cap: on a tie the earlier
// limit, (a) the cap, is named. A zero balance allows nothing (0 × 15 = 0).
#[test]
fn ties_name_the_earlier_limit_and_zero_balance_gives_zero() {
    let request = QuotaRequest {
        house_price: yuan("500000.00"),
        ..generous()
    };
    let estimate = rules().estimate_quota(&request).unwrap();
    assert_eq!(estimate.constraints[3].amount, yuan("400000.00"));
    assert_eq!(estimate.binding, QuotaLimit::HouseholdCap);

    let estimate = rules()
        .estimate_quota(&QuotaRequest {
            account_balance: Money::ZERO,
            ..generous()
        })
        .unwrap();
    assert_eq!(estimate.max_amount, Money::ZERO);
    assert_eq!(estimate.binding, QuotaLimit::BalanceMultiple);
    assert_eq!(estimate.first_payment, Money::ZERO);
}

#[test]
fn quota_rejects_invalid_amounts() {
    let cases = [
        (
            QuotaRequest {
                account_balance: yuan("-1"),
                ..generous()
            },
            "缴存余额不能为负数",
        ),
        (
            QuotaRequest {
                monthly_deposit_base: yuan("-0.01"),
                ..generous()
            },
            "月缴存基数不能为负数",
        ),
        (
            QuotaRequest {
                house_price: Money::ZERO,
                ..generous()
            },
            "房屋总价须大于 0",
        ),
    ];
    for (request, message) in cases {
        let err = rules().estimate_quota(&request).unwrap_err();
        assert_eq!(err.code(), "hpf.invalid_amount");
        assert_eq!(err.to_string(), message);
    }
    let err = rules()
        .estimate_quota(&QuotaRequest {
            term_months: Some(400),
            ..generous()
        })
        .unwrap_err();
    assert_eq!(err.code(), "hpf.invalid_term");
}

// ---------------------------------------------------------------------------------------
// Alternative rule sets and their validation
// ---------------------------------------------------------------------------------------

const HEADER: &str = r#"
version = "test-1"
effective_from = "2026-01-01"
region = "测试市"
notice = "测试配置"
"#;

const LOAN: &str = r#"
[loan]
min_term_months = 12
max_term_months = 240
min_borrower_age = 18
max_age_at_maturity = 65
balance_multiple = "10"
repayment_income_share = "0.4"
amount_unit = "1000.00"

[loan.caps.single]
first = "300000.00"
second = "200000.00"

[loan.caps.couple]
first = "600000.00"
second = "400000.00"

[loan.loan_to_value]
first = "0.7"
second = "0.6"

[loan.rates]
as_of = "2025-05-08"
first = [{ up_to_months = 240, annual_rate = "0.025" }]
second = [{ up_to_months = 240, annual_rate = "0.03" }]
"#;

fn parse(text: &str) -> Result<LoanRules, HpfError> {
    LoanRules::from_toml_str(text)
}

fn invalid(text: &str) -> String {
    match parse(text) {
        Err(err) => {
            assert_eq!(err.code(), "hpf.invalid_rules", "{err}");
            err.to_string()
        }
        Ok(_) => panic!("accepted invalid rules:\n{text}"),
    }
}

#[test]
fn alternative_rules_are_parsed_and_used() {
    let rules = parse(&format!("{HEADER}{LOAN}")).unwrap();
    assert_eq!(rules.version(), "test-1");
    assert_eq!(rules.max_term_months(30), Ok(240));
    assert_eq!(rules.max_term_months(50), Ok(180));
    let estimate = rules
        .estimate_quota(&QuotaRequest {
            home: HomeOrder::Second,
            ..generous()
        })
        .unwrap();
    assert_eq!(estimate.term_months, 240);
    assert_eq!(estimate.annual_rate, rate("0.03"));
    assert_eq!(estimate.max_amount, yuan("200000.00"));
    assert_eq!(estimate.rules_version, "test-1");
    // The embedded file parses with its withdrawal table ignored here, and vice versa.
    assert!(parse(bianmin_services::hpf::loan::EMBEDDED_RULES_TOML).is_ok());
}

#[test]
fn rule_validation_errors_are_clear() {
    let full = format!("{HEADER}{LOAN}");
    let with = |from: &str, to: &str| {
        assert!(full.contains(from), "{from}");
        full.replacen(from, to, 1)
    };
    let cases = [
        (
            with(r#"balance_multiple = "10""#, r#"balance_multiple = "0""#),
            "loan.balance_multiple 须大于 0 且不超过 1000，实际为 0",
        ),
        (
            with(
                r#"repayment_income_share = "0.4""#,
                r#"repayment_income_share = "1.5""#,
            ),
            "loan.repayment_income_share 须大于 0 且不超过 1，实际为 1.5",
        ),
        (
            with("max_term_months = 240", "max_term_months = 480"),
            "loan.min_term_months 与 loan.max_term_months 须满足 12 ≤ 最短 ≤ 最长 ≤ 360，实际为 12 与 480",
        ),
        (
            with("max_age_at_maturity = 65", "max_age_at_maturity = 18"),
            "loan.min_borrower_age 与 loan.max_age_at_maturity 须满足 0 < 最低年龄 < 到期年龄 ≤ 100，实际为 18 与 18",
        ),
        (
            with(r#"first = "300000.00""#, r#"first = "0.00""#),
            "loan.caps.single.first 须大于 0 且不超过 100,000,000.00 元，实际为 0.00",
        ),
        (
            with(r#"second = "0.6""#, r#"second = "0""#),
            "loan.loan_to_value.second 须大于 0 且不超过 1，实际为 0",
        ),
        (
            with(
                r#"first = [{ up_to_months = 240, annual_rate = "0.025" }]"#,
                r#"first = [{ up_to_months = 120, annual_rate = "0.025" }]"#,
            ),
            "loan.rates.first 的最后一档 up_to_months 须覆盖最长期限 240 个月，实际为 120",
        ),
        (
            with(
                r#"second = [{ up_to_months = 240, annual_rate = "0.03" }]"#,
                r#"second = [{ up_to_months = 240, annual_rate = "0.03" }, { up_to_months = 60, annual_rate = "0.02" }]"#,
            ),
            "loan.rates.second[1].up_to_months 须大于 0 且逐档递增，实际为 60",
        ),
        (
            with(r#"annual_rate = "0.025""#, r#"annual_rate = "0.25""#),
            "loan.rates.first[0].annual_rate 不能超过 0.15，实际为 0.25",
        ),
        (
            with(r#"amount_unit = "1000.00""#, r#"amount_unit = "0""#),
            "loan.amount_unit 须大于 0 且不超过 1,000,000.00 元，实际为 0.00",
        ),
        (
            with(
                r#"effective_from = "2026-01-01""#,
                r#"effective_from = "2026-13-01""#,
            ),
            "effective_from 须为 YYYY-MM-DD 格式的日期，实际为 \"2026-13-01\"",
        ),
        (
            with(r#"version = "test-1""#, r#"version = " ""#),
            "version 不能为空",
        ),
    ];
    for (text, detail) in cases {
        assert_eq!(invalid(&text), format!("公积金规则配置无效：{detail}"));
    }
}

#[test]
fn toml_and_field_errors_name_the_line() {
    let full = format!("{HEADER}{LOAN}");
    // A float where a decimal string is required (line 12 of `full`).
    let text = full.replacen(r#"balance_multiple = "10""#, "balance_multiple = 10.5", 1);
    let message = invalid(&text);
    assert!(
        message.starts_with("公积金规则配置无效：第 12 行："),
        "{message}"
    );
    // An unknown key.
    let message = invalid(&full.replacen("[loan]\n", "[loan]\nmax_amount = 1\n", 1));
    assert!(message.contains("max_amount"), "{message}");
    // A number where an amount string is required.
    let message = invalid(&full.replacen(r#"first = "300000.00""#, "first = 300000", 1));
    assert!(message.contains("金额必须以字符串表示"), "{message}");
    // Broken TOML.
    let message = invalid(&format!("{full}\n[loan\n"));
    assert!(message.contains("行："), "{message}");
    // Missing tables and keys.
    assert!(invalid(HEADER).contains("loan"));
    assert!(invalid(LOAN).contains("version"));
    assert!(
        invalid(&full.replacen(
            "[loan.loan_to_value]\nfirst = \"0.7\"\n",
            "[loan.loan_to_value]\n",
            1
        ))
        .contains("first")
    );
}

#[test]
fn error_codes_are_stable_and_messages_chinese() {
    let errors = [
        HpfError::InvalidTerm {
            found: 1,
            min: 12,
            max: 360,
        },
        HpfError::TermExceedsAgeLimit {
            requested: 1,
            max: 1,
        },
        HpfError::InvalidAmount {
            field: "贷款金额",
            requirement: "须大于 0".to_owned(),
        },
        HpfError::InvalidRate { found: rate("0.2") },
        HpfError::AgeNotEligible {
            age: 70,
            min_age: 18,
            max_age: 68,
            min_term: 12,
        },
        HpfError::InvalidFacts {
            detail: "x".to_owned(),
        },
        HpfError::PurposeNotOffered {
            name: "租房提取".to_owned(),
        },
        HpfError::InvalidRules {
            detail: "x".to_owned(),
        },
        HpfError::ScheduleDegenerate,
        HpfError::Overflow,
    ];
    let mut codes: Vec<&str> = errors.iter().map(HpfError::code).collect();
    for (error, code) in errors.iter().zip(&codes) {
        let name = code.strip_prefix("hpf.").unwrap();
        assert!(
            name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
            "{code}"
        );
        assert!(!error.to_string().is_ascii(), "{error}");
    }
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), errors.len());
    assert_eq!(errors[0].code(), "hpf.invalid_term");
    assert_eq!(errors[2].code(), "hpf.invalid_amount");
}

// ---------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------

/// 10,000.00 to 10,000,000.00 元, 12 to 360 months, and an annual rate in
/// `rates` thousandths of a percent (`15_000` → 0.15000).
fn any_terms(rates: std::ops::RangeInclusive<i64>) -> impl Strategy<Value = LoanTerms> {
    (MIN_PRINCIPAL.fen()..=1_000_000_000i64, 12u32..=360, rates).prop_map(|(fen, months, rate)| {
        LoanTerms {
            principal: Money::from_fen(fen),
            term_months: months,
            annual_rate: Rate::from_decimal(Decimal::new(rate, 5)).unwrap(),
            method: RepaymentMethod::EqualInstalment,
        }
    })
}

/// `1 fen × Σ_{j<n} (1+r)^j`: how far rounding the payment and the interest (each by at most
/// ½ fen a month) can move the last 等额本息 payment away from the regular one.
fn drift_bound(terms: &LoanTerms) -> Money {
    let r = terms.annual_rate.as_decimal() / dec!(12);
    let mut power = Decimal::ONE;
    let mut sum = Decimal::ZERO;
    for _ in 0..terms.term_months {
        sum += power;
        power *= Decimal::ONE + r;
    }
    Money::from_yuan(sum / dec!(100), bianmin_core::Rounding::Up).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(192))]

    #[test]
    fn schedules_repay_exactly_the_principal(terms in any_terms(0..=15_000), principal_method in any::<bool>()) {
        let terms = LoanTerms {
            method: if principal_method { RepaymentMethod::EqualPrincipal } else { RepaymentMethod::EqualInstalment },
            ..terms
        };
        let s = schedule(&terms).unwrap();
        prop_assert_eq!(s.instalments.len(), terms.term_months as usize);
        let principal_sum = Money::try_sum(s.instalments.iter().map(|i| i.principal)).unwrap();
        prop_assert_eq!(principal_sum, terms.principal);
        prop_assert_eq!(s.instalments.last().unwrap().remaining, Money::ZERO);
        prop_assert_eq!(s.total_paid, terms.principal.checked_add(s.total_interest).unwrap());
        let mut before = terms.principal;
        for i in &s.instalments {
            prop_assert!(i.principal.is_positive());
            prop_assert!(!i.interest.is_negative());
            prop_assert_eq!(i.payment, i.principal.checked_add(i.interest).unwrap());
            prop_assert_eq!(i.remaining, before.checked_sub(i.principal).unwrap());
            prop_assert!(i.remaining.is_positive() || i.month == terms.term_months);
            before = i.remaining;
        }
    }

    #[test]
    fn equal_instalment_payments_are_equal_but_the_last(terms in any_terms(0..=15_000)) {
        let s = schedule(&terms).unwrap();
        let regular = s.first_payment;
        let n = s.instalments.len();
        prop_assert!(s.instalments[..n - 1].iter().all(|i| i.payment == regular));
        let gap = (s.last_payment.fen() - regular.fen()).abs();
        prop_assert!(gap <= drift_bound(&terms).fen(), "gap {} fen, bound {}", gap, drift_bound(&terms));
    }

    #[test]
    fn equal_instalment_payments_stay_within_a_few_yuan_at_hpf_rates(
        terms in any_terms(2_100..=4_000),
    ) {
        // At 2.1 %–4 % over at most 360 months Σ(1+r)^j ≤ 694, so the last payment is within
        // 6.94 元 of the others (1,000,000.00 at 3.1 % over 360 months: 2.43 元).
        let s = schedule(&terms).unwrap();
        prop_assert!((s.last_payment.fen() - s.first_payment.fen()).abs() <= 694);
    }

    #[test]
    fn equal_principal_interest_never_exceeds_equal_instalment(terms in any_terms(2_000..=15_000)) {
        // From 2 % up, 等额本息 costs more interest by more than the monthly roundings can
        // move either total; see `at_tiny_rates_rounding_can_reverse_the_interest_comparison`.
        let ei = schedule(&terms).unwrap();
        let ep = schedule(&LoanTerms { method: RepaymentMethod::EqualPrincipal, ..terms }).unwrap();
        prop_assert!(ep.total_interest <= ei.total_interest, "{} > {}", ep.total_interest, ei.total_interest);
        prop_assert!(ep.first_payment >= ei.first_payment);
    }

    #[test]
    fn quota_never_exceeds_a_limit_and_its_payment_fits(
        balance in 0i64..=20_000_000,
        base in 0i64..=5_000_000,
        price in 1i64..=500_000_000,
        age in 18u32..=67,
        couple in any::<bool>(),
        second in any::<bool>(),
        principal_method in any::<bool>(),
    ) {
        let rules = LoanRules::embedded().unwrap();
        let request = QuotaRequest {
            borrower: if couple { BorrowerType::Couple } else { BorrowerType::Single },
            home: if second { HomeOrder::Second } else { HomeOrder::First },
            account_balance: Money::from_fen(balance),
            monthly_deposit_base: Money::from_fen(base),
            house_price: Money::from_fen(price),
            age,
            term_months: None,
            annual_rate: None,
            method: if principal_method { RepaymentMethod::EqualPrincipal } else { RepaymentMethod::EqualInstalment },
        };
        let estimate = rules.estimate_quota(&request).unwrap();
        prop_assert_eq!(estimate.constraints.len(), 4);
        for constraint in &estimate.constraints {
            prop_assert!(estimate.max_amount <= constraint.amount);
        }
        prop_assert_eq!(estimate.max_amount.fen() % 10_000, 0);
        prop_assert!(estimate.first_payment <= estimate.monthly_payment_limit);
        let capacity = estimate.constraints[2].amount;
        if capacity >= MIN_PRINCIPAL {
            let s = schedule(&LoanTerms {
                principal: capacity,
                term_months: estimate.term_months,
                annual_rate: estimate.annual_rate,
                method: request.method,
            }).unwrap();
            prop_assert!(s.first_payment <= estimate.monthly_payment_limit);
        }
    }
}
