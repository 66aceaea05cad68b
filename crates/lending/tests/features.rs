//! The mapping from the agencies' answers to the scorecard's inputs.

use bianmin_core::Money;
use bianmin_govsim::REFERENCE_DATE;
use bianmin_govsim::population::Population;
use bianmin_govsim::population::court::CaseStatus;
use bianmin_govsim::records::DateRange;
use bianmin_lending::features::{AgencyRecords, FeatureError, from_records};
use bianmin_lending::scorecard::EmploymentKind;

const SEED: u64 = 20_261_129;
const POPULATION: u32 = 100_000;

#[test]
fn simulated_answers_map_to_the_persons_facts() {
    let population = Population::new(SEED, POPULATION);
    let mut kinds = std::collections::HashSet::new();
    for index in 0..2_000 {
        let person = population.person(index);
        let records = AgencyRecords::simulated(&population, &person, DateRange::ALL);
        let features = from_records(&records, REFERENCE_DATE).expect("maps");
        assert_eq!(features.age, person.age);
        assert_eq!(
            features.fund_months,
            person
                .housing_fund
                .as_ref()
                .map_or(0, |fund| fund.months_contributed)
        );
        assert_eq!(features.overdue_days, person.credit.overdue_days);
        assert_eq!(features.worst_status_24m, person.credit.worst_status());
        assert_eq!(features.inquiries_6m, person.credit.inquiries_6m);
        assert_eq!(features.dishonest, person.court.is_dishonest());
        let open = person
            .court
            .cases
            .iter()
            .filter(|case| case.status == CaseStatus::Open)
            .count();
        assert_eq!(features.open_court_cases as usize, open);
        assert!(features.dti_permille <= 2_000);
        assert!(features.card_utilisation_pct <= 200);
        kinds.insert(features.employment);
    }
    assert!(kinds.len() >= 4, "{kinds:?}");
}

#[test]
fn missing_answers_count_as_nothing_on_record() {
    let population = Population::new(SEED, POPULATION);
    let person = population.person(7);
    let mut records = AgencyRecords::simulated(&population, &person, DateRange::ALL);
    records.hpf = None;
    records.si = None;
    records.tax = None;
    let features = from_records(&records, REFERENCE_DATE).expect("maps");
    assert_eq!(features.fund_months, 0);
    assert_eq!(features.monthly_income_yuan, 0);
    assert_eq!(features.employment, EmploymentKind::NoIncomeRecord);
    // Debt over the 1,500-yuan floor.
    let repayment = records.credit.monthly_repayment.fen();
    assert_eq!(
        i64::from(features.dti_permille),
        (repayment * 1_000 / 150_000).min(2_000)
    );
}

#[test]
fn impossible_answers_are_rejected() {
    let population = Population::new(SEED, POPULATION);
    let person = population.person(11);
    let records = AgencyRecords::simulated(&population, &person, DateRange::ALL);
    let before_birth = person.birth_date.pred_opt().expect("a day earlier");
    assert_eq!(
        from_records(&records, before_birth),
        Err(FeatureError::BornAfterToday {
            birth_date: person.birth_date,
            today: before_birth,
        })
    );
    let mut negative = records.clone();
    negative.credit.monthly_repayment = Money::from_fen(-1);
    assert_eq!(
        from_records(&negative, REFERENCE_DATE),
        Err(FeatureError::NegativeAmount(
            "credit.report monthly_repayment"
        ))
    );
}
