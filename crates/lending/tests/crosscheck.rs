//! Cross-validation of the agencies' answers over the simulated population and on edited
//! records.

use bianmin_core::Money;
use bianmin_govsim::population::housing_fund::HousingFundStatus;
use bianmin_govsim::population::social_insurance::InsuredStatus;
use bianmin_govsim::population::tax::IncomeKind;
use bianmin_govsim::records::DateRange;
use bianmin_govsim::{Population, REFERENCE_DATE, YearMonth};
use bianmin_lending::crosscheck::{
    CrossCheck, CrosscheckRules, FlagCode, Severity, Source, crosscheck,
};
use bianmin_lending::features::AgencyRecords;
use chrono::NaiveDate;

const SEED: u64 = 20_261_129;
const POPULATION: u32 = 10_000;

fn all_records(population: &Population) -> Vec<AgencyRecords> {
    (0..POPULATION)
        .map(|index| {
            let person = population.person(index);
            AgencyRecords::simulated(population, &person, DateRange::ALL)
        })
        .collect()
}

fn check(records: &AgencyRecords) -> CrossCheck {
    crosscheck(records, REFERENCE_DATE, &CrosscheckRules::default())
}

/// Someone active in the housing fund and contributing to social insurance through the
/// same employer, with a wage return.
fn employed_with_both(population: &Population) -> AgencyRecords {
    (0..POPULATION)
        .map(|index| {
            let person = population.person(index);
            AgencyRecords::simulated(population, &person, DateRange::ALL)
        })
        .find(|records| {
            let result = check(records);
            records.hpf.as_ref().is_some_and(|hpf| {
                hpf.status == HousingFundStatus::Active && hpf.employer_uscc.is_some()
            }) && records.si.as_ref().is_some_and(|si| {
                si.status == InsuredStatus::Contributing && si.employer_uscc.is_some()
            }) && result.income.sources.len() == 3
                && result.flags.is_empty()
        })
        .expect("an employed person with clean answers")
}

fn codes(result: &CrossCheck) -> Vec<&'static str> {
    result.flags.iter().map(|flag| flag.code.as_str()).collect()
}

#[test]
fn never_panics_and_is_consistent_over_the_population() {
    let population = Population::new(SEED, POPULATION);
    let rules = CrosscheckRules::default();
    let mut flagged = std::collections::BTreeMap::new();
    for records in all_records(&population) {
        let result = crosscheck(&records, REFERENCE_DATE, &rules);
        for flag in &result.flags {
            *flagged.entry(flag.code.as_str()).or_insert(0u32) += 1;
            assert!(!flag.reason_zh.is_empty() && !flag.detail.is_empty());
            assert!(flag.code.as_str().starts_with('X'));
        }
        let income = &result.income;
        match income.monthly {
            Some(monthly) => {
                assert!(monthly.fen() > 0);
                let basis = income.basis.expect("a basis with an income");
                assert!(income.sources.contains(&(basis, monthly)));
                let lowest = income.sources.iter().map(|(_, amount)| *amount).min();
                let highest = income.sources.iter().map(|(_, amount)| *amount).max();
                assert!(Some(monthly) >= lowest && Some(monthly) <= highest);
                if result.has(FlagCode::IncomeMismatch) {
                    assert_eq!(Some(monthly), lowest);
                }
            }
            None => {
                assert!(income.sources.is_empty() && income.basis.is_none());
                assert!(result.has(FlagCode::NoIncomeEvidence));
            }
        }
        // Also on odd check dates: long after and before the data.
        for today in [
            NaiveDate::from_ymd_opt(2035, 1, 1).expect("date"),
            NaiveDate::from_ymd_opt(2000, 1, 1).expect("date"),
        ] {
            let _ = crosscheck(&records, today, &rules);
        }
    }
    eprintln!("flags over {POPULATION}: {flagged:?}");
    // The simulated answers are current on the reference date.
    assert!(!flagged.contains_key("X03_STALE_DATA"));
    assert!(!flagged.contains_key("X04_FUTURE_DATE"));
}

#[test]
fn most_employed_people_have_one_employer() {
    let population = Population::new(SEED, POPULATION);
    let mut both = 0u32;
    let mut mismatched = 0u32;
    for records in all_records(&population) {
        let has_both = records
            .hpf
            .as_ref()
            .is_some_and(|hpf| hpf.employer_uscc.is_some() || hpf.employer_name.is_some())
            && records
                .si
                .as_ref()
                .is_some_and(|si| si.employer_uscc.is_some() || si.employer_name.is_some());
        if has_both {
            both += 1;
            if check(&records).has(FlagCode::EmployerMismatch) {
                mismatched += 1;
            }
        }
    }
    eprintln!("employer mismatch: {mismatched} of {both}");
    assert!(both > 500, "{both}");
    assert!(mismatched * 20 <= both, "{mismatched} of {both}");
}

#[test]
fn a_different_si_employer_is_flagged() {
    let population = Population::new(SEED, POPULATION);
    let mut records = employed_with_both(&population);
    let si = records.si.as_mut().expect("si");
    si.employer_uscc = Some("91510100MA00000000".to_owned());
    si.employer_name = Some("成都某某科技有限公司".to_owned());
    let result = check(&records);
    let flag = result.flag(FlagCode::EmployerMismatch).expect("flagged");
    assert_eq!(flag.code.as_str(), "X02_EMPLOYER_MISMATCH");
    assert_eq!(flag.severity, Severity::Warn);
    assert!(flag.reason_zh.contains("不一致"), "{}", flag.reason_zh);
    assert!(flag.reason_zh.contains("成都某某科技有限公司"));
    assert!(flag.detail.contains("credit code"));
}

#[test]
fn employers_are_compared_by_code_first_then_by_name() {
    let population = Population::new(SEED, POPULATION);
    let base = employed_with_both(&population);

    // Same code, a differently written name: no flag (codes win).
    let mut records = base.clone();
    let si = records.si.as_mut().expect("si");
    si.employer_name = Some("另一个写法".to_owned());
    si.employer_uscc = si.employer_uscc.as_ref().map(|code| code.to_lowercase());
    assert!(!check(&records).has(FlagCode::EmployerMismatch));

    // No codes: the names decide, blanks and bracket widths aside.
    let mut records = base.clone();
    records.hpf.as_mut().expect("hpf").employer_uscc = None;
    records.hpf.as_mut().expect("hpf").employer_name = Some("成都（川）商贸 有限公司".to_owned());
    records.si.as_mut().expect("si").employer_name = Some("成都(川)商贸有限公司".to_owned());
    assert!(!check(&records).has(FlagCode::EmployerMismatch));
    records.si.as_mut().expect("si").employer_name = Some("重庆商贸有限公司".to_owned());
    let result = check(&records);
    let flag = result.flag(FlagCode::EmployerMismatch).expect("flagged");
    assert!(flag.detail.contains("name"));

    // Nothing to compare: no flag.
    let mut records = base;
    records.si.as_mut().expect("si").employer_uscc = None;
    records.si.as_mut().expect("si").employer_name = None;
    assert!(!check(&records).has(FlagCode::EmployerMismatch));
}

#[test]
fn a_doubled_hpf_base_is_an_income_mismatch() {
    let population = Population::new(SEED, POPULATION);
    let mut records = employed_with_both(&population);
    let before = check(&records);
    let hpf = records.hpf.as_mut().expect("hpf");
    hpf.deposit_base = Money::from_fen(hpf.deposit_base.fen() * 2);
    let result = check(&records);
    let flag = result.flag(FlagCode::IncomeMismatch).expect("flagged");
    assert_eq!(flag.code.as_str(), "X01_INCOME_MISMATCH");
    assert!(flag.severity >= Severity::Warn);
    assert!(flag.reason_zh.contains("差异超过30%"), "{}", flag.reason_zh);
    assert!(flag.reason_zh.contains("公积金"));
    // The lowest is retained, never the inflated base.
    let lowest = result
        .income
        .sources
        .iter()
        .map(|(_, amount)| *amount)
        .min();
    assert_eq!(result.income.monthly, lowest);
    assert_ne!(result.income.basis, Some(Source::HousingFund));
    assert!(result.income.monthly <= before.income.monthly.map(|m| Money::from_fen(m.fen() * 2)));
}

#[test]
fn an_old_last_deposit_while_insured_is_flagged() {
    let population = Population::new(SEED, POPULATION);
    let mut records = employed_with_both(&population);
    records.hpf.as_mut().expect("hpf").last_deposit = YearMonth::new(2026, 5);
    let result = check(&records);
    let flag = result.flag(FlagCode::HpfDepositsLapsed).expect("flagged");
    assert_eq!(flag.code.as_str(), "X05_HPF_DEPOSITS_LAPSED");
    assert_eq!(flag.severity, Severity::Warn);
    assert!(flag.reason_zh.contains("2026-05"), "{}", flag.reason_zh);
    assert!(flag.reason_zh.contains("6个月未缴存"), "{}", flag.reason_zh);
    assert!(flag.reason_zh.contains("社保显示正常缴费"));

    // Three months behind is within the default threshold.
    records.hpf.as_mut().expect("hpf").last_deposit = YearMonth::new(2026, 8);
    assert!(!check(&records).has(FlagCode::HpfDepositsLapsed));
}

#[test]
fn lapsed_si_payments_and_stale_or_future_answers_are_flagged() {
    let population = Population::new(SEED, POPULATION);
    let base = employed_with_both(&population);

    let mut records = base.clone();
    records.si.as_mut().expect("si").last_paid = Some(YearMonth::new(2025, 12));
    let flag = check(&records);
    let flag = flag.flag(FlagCode::SiPaymentsLapsed).expect("flagged");
    assert!(flag.reason_zh.contains("2025-12"));

    let mut records = base.clone();
    records.si.as_mut().expect("si").last_paid = None;
    assert!(check(&records).has(FlagCode::SiPaymentsLapsed));

    let mut records = base.clone();
    records.tax.as_mut().expect("tax").as_of = NaiveDate::from_ymd_opt(2026, 6, 30).expect("date");
    let result = check(&records);
    let flag = result.flag(FlagCode::StaleData).expect("flagged");
    assert_eq!(flag.code.as_str(), "X03_STALE_DATA");
    assert!(
        flag.reason_zh.starts_with("个税数据截至2026-06-30"),
        "{}",
        flag.reason_zh
    );

    let mut records = base;
    records.hpf.as_mut().expect("hpf").as_of = NaiveDate::from_ymd_opt(2027, 1, 1).expect("date");
    records.hpf.as_mut().expect("hpf").last_deposit = YearMonth::new(2027, 3);
    let result = check(&records);
    let future: Vec<_> = result
        .flags
        .iter()
        .filter(|flag| flag.code == FlagCode::FutureDate)
        .collect();
    assert_eq!(future.len(), 2, "{:?}", codes(&result));
    assert!(future[0].reason_zh.contains("晚于查询日"));
}

#[test]
fn missing_sources_are_information() {
    let population = Population::new(SEED, POPULATION);
    let mut records = employed_with_both(&population);
    records.hpf = None;
    records.si = None;
    records.tax = None;
    let result = check(&records);
    assert_eq!(
        codes(&result),
        [
            "X10_NO_HPF_ACCOUNT",
            "X11_NOT_INSURED",
            "X12_NO_TAX_RETURN",
            "X16_NO_INCOME_EVIDENCE"
        ]
    );
    for code in [
        FlagCode::NoHpfAccount,
        FlagCode::NotInsured,
        FlagCode::NoTaxReturn,
    ] {
        assert_eq!(result.flag(code).expect("flag").severity, Severity::Info);
    }
    assert_eq!(
        result.flag(FlagCode::NoHpfAccount).expect("flag").reason_zh,
        "未查询到公积金账户"
    );
    assert_eq!(result.income.monthly, None);
    assert_eq!(result.income.basis, None);
    assert_eq!(result.worst(), Some(Severity::Warn));
}

#[test]
fn recently_stopped_contributions_are_warnings() {
    let population = Population::new(SEED, POPULATION);
    let mut records = employed_with_both(&population);
    let hpf = records.hpf.as_mut().expect("hpf");
    hpf.status = HousingFundStatus::Sealed;
    hpf.last_deposit = YearMonth::new(2026, 9);
    let si = records.si.as_mut().expect("si");
    si.status = InsuredStatus::Suspended;
    si.last_paid = Some(YearMonth::new(2026, 9));
    let result = check(&records);
    let sealed = result.flag(FlagCode::HpfStopped).expect("sealed");
    assert_eq!(sealed.code.as_str(), "X13_HPF_STOPPED");
    assert_eq!(sealed.severity, Severity::Warn);
    assert!(
        sealed.reason_zh.contains("公积金账户已封存"),
        "{}",
        sealed.reason_zh
    );
    let suspended = result.flag(FlagCode::SiSuspended).expect("suspended");
    assert_eq!(suspended.severity, Severity::Warn);
    assert!(suspended.reason_zh.contains("社保已暂停缴费"));
    // Neither stopped source counts as income; only the tax return is left.
    assert_eq!(result.income.basis, Some(Source::Tax));
    assert_eq!(result.income.sources.len(), 1);

    // A stop long ago is information only.
    records.hpf.as_mut().expect("hpf").last_deposit = YearMonth::new(2020, 1);
    records.si.as_mut().expect("si").last_paid = Some(YearMonth::new(2020, 1));
    let result = check(&records);
    assert_eq!(
        result.flag(FlagCode::HpfStopped).expect("flag").severity,
        Severity::Info
    );
    assert_eq!(
        result.flag(FlagCode::SiSuspended).expect("flag").severity,
        Severity::Info
    );
}

/// A crafted case: tax 2025 wages 180,000.12 → 15,000.01 a month; HPF base 14,000;
/// SI base 16,000. Within 30 %, so the median: the tax figure.
#[test]
fn income_estimate_matches_the_hand_computed_value() {
    let population = Population::new(SEED, POPULATION);
    let mut records = employed_with_both(&population);
    let tax = records.tax.as_mut().expect("tax");
    let latest = tax
        .years
        .iter_mut()
        .max_by_key(|year| year.year)
        .expect("a year");
    latest.year = 2025;
    latest.income_kind = IncomeKind::Wages;
    latest.gross_income = Money::from_fen(18_000_012);
    tax.years.retain(|year| year.year <= 2025);
    records.hpf.as_mut().expect("hpf").deposit_base = Money::from_fen(1_400_000);
    records.si.as_mut().expect("si").base = Money::from_fen(1_600_000);
    let result = check(&records);
    assert_eq!(
        result.income.sources,
        [
            (Source::Tax, Money::from_fen(1_500_001)),
            (Source::HousingFund, Money::from_fen(1_400_000)),
            (Source::SocialInsurance, Money::from_fen(1_600_000)),
        ]
    );
    assert_eq!(result.income.monthly, Some(Money::from_fen(1_500_001)));
    assert_eq!(result.income.basis, Some(Source::Tax));
    assert!(
        !result.has(FlagCode::IncomeMismatch),
        "{:?}",
        codes(&result)
    );

    // Exactly 30 % above the lowest still agrees; one fen more does not.
    records.si.as_mut().expect("si").base = Money::from_fen(1_820_000);
    assert!(!check(&records).has(FlagCode::IncomeMismatch));
    records.si.as_mut().expect("si").base = Money::from_fen(1_820_001);
    let result = check(&records);
    let flag = result.flag(FlagCode::IncomeMismatch).expect("flagged");
    assert_eq!(flag.severity, Severity::Warn);
    assert_eq!(result.income.monthly, Some(Money::from_fen(1_400_000)));
    assert_eq!(result.income.basis, Some(Source::HousingFund));
    assert!(
        flag.reason_zh.contains("按最低的公积金14000.00元计"),
        "{}",
        flag.reason_zh
    );

    // Two sources agreeing: the lower one.
    records.si = None;
    let result = check(&records);
    assert_eq!(result.income.monthly, Some(Money::from_fen(1_400_000)));

    // Twice the lowest and more: severe.
    records.hpf.as_mut().expect("hpf").deposit_base = Money::from_fen(700_000);
    let result = check(&records);
    assert_eq!(
        result
            .flag(FlagCode::IncomeMismatch)
            .expect("flag")
            .severity,
        Severity::Severe
    );
    assert_eq!(result.income.monthly, Some(Money::from_fen(700_000)));
}

#[test]
fn zero_and_negative_amounts_are_flagged_and_left_out() {
    let population = Population::new(SEED, POPULATION);
    let mut records = employed_with_both(&population);
    records.hpf.as_mut().expect("hpf").deposit_base = Money::ZERO;
    records.si.as_mut().expect("si").base = Money::from_fen(-100);
    if let Some(year) = records
        .tax
        .as_mut()
        .expect("tax")
        .years
        .iter_mut()
        .max_by_key(|year| year.year)
    {
        year.gross_income = Money::ZERO;
        year.income_kind = IncomeKind::Wages;
    }
    let result = check(&records);
    let invalid = result
        .flags
        .iter()
        .filter(|flag| flag.code == FlagCode::InvalidAmount)
        .count();
    assert_eq!(invalid, 3, "{:?}", codes(&result));
    assert_eq!(result.income.monthly, None);
    assert!(result.has(FlagCode::NoIncomeEvidence));
}

#[test]
fn non_wage_returns_and_odd_rules_do_not_panic() {
    let population = Population::new(SEED, POPULATION);
    let mut records = employed_with_both(&population);
    for year in &mut records.tax.as_mut().expect("tax").years {
        year.income_kind = IncomeKind::Business;
    }
    let result = check(&records);
    assert!(result.has(FlagCode::TaxNotWages));
    assert!(!result.income.sources.iter().any(|(s, _)| *s == Source::Tax));

    let rules = CrosscheckRules {
        income_tolerance_pct: rust_decimal::Decimal::MAX,
        income_severe_pct: rust_decimal::Decimal::MIN,
        max_answer_age_days: u32::MAX,
        max_payment_lag_months: u32::MAX,
        recent_stop_months: u32::MAX,
        max_tax_year_lag: u32::MAX,
    };
    let _ = crosscheck(&records, NaiveDate::MAX, &rules);
    let _ = crosscheck(&records, NaiveDate::MIN, &rules);
    let _ = crosscheck(&records, NaiveDate::MIN, &CrosscheckRules::default());
}
