//! The credit decision on a govsim sample: hard declines, limits, prices, the default rate
//! among approved and declined applicants, and replay.

use bianmin_core::{Money, Rate};
use bianmin_govsim::REFERENCE_DATE;
use bianmin_govsim::population::Population;
use bianmin_govsim::records::DateRange;
use bianmin_lending::crosscheck::CrosscheckRules;
use bianmin_lending::decision::{
    Application, Decision, DecisionContext, DecisionError, Outcome, Pricing, ReasonSource,
    TERM_MONTHS, decide,
};
use bianmin_lending::features::{AgencyRecords, from_records};
use bianmin_lending::interest::apr_irr;
use bianmin_lending::policy::{CreditPolicy, REGULATORY_MAX_APR};
use bianmin_lending::scorecard::Scorecard;
use chrono::{Days, NaiveDate};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

const SEED: u64 = 20_261_129;
const POPULATION: u32 = 100_000;

fn context(rules: &CrosscheckRules) -> DecisionContext<'_> {
    DecisionContext {
        policy: CreditPolicy::embedded().expect("the shipped policy parses"),
        scorecard: Scorecard::embedded().expect("the shipped model parses"),
        crosscheck_rules: rules,
        pricing: Pricing::illustrative(),
    }
}

fn yuan(amount: i64) -> Money {
    Money::from_fen(amount * 100)
}

fn application(requested: i64, existing: i64) -> Application {
    Application {
        requested_amount: yuan(requested),
        existing_online_credit: yuan(existing),
        applied_on: REFERENCE_DATE,
    }
}

fn has_reason(decision: &Decision, code: &str) -> bool {
    match &decision.outcome {
        Outcome::Declined { reasons } => reasons.iter().any(|reason| reason.code == code),
        Outcome::Approved { .. } => false,
    }
}

#[test]
fn decides_a_sample_of_two_thousand() {
    let rules = CrosscheckRules::default();
    let context = context(&rules);
    let population = Population::new(SEED, POPULATION);
    let requests = [20_000, 50_000, 100_000, 200_000];
    let existing = [0, 0, 0, 50_000, 195_000];

    let (mut approved, mut declined) = (0u32, 0u32);
    let (mut approved_defaults, mut declined_defaults) = (0u32, 0u32);
    let (mut dishonest, mut overdue) = (0u32, 0u32);
    let mut bands = std::collections::BTreeMap::<String, u32>::new();
    let mut reason_counts = std::collections::BTreeMap::<String, u32>::new();
    let (mut min_points, mut max_points) = (i32::MAX, i32::MIN);
    for (n, index) in (96_000..98_000u32).enumerate() {
        let person = population.person(index);
        let records = AgencyRecords::simulated(&population, &person, DateRange::ALL);
        let features = from_records(&records, REFERENCE_DATE).expect("features");
        let app = application(requests[n % requests.len()], existing[n % existing.len()]);
        let decision = decide(&app, &records, &context).expect("a decision");
        let defaulted = population.draw_default(index, 12);

        assert_eq!(decision.decided_on, REFERENCE_DATE);
        assert_eq!(decision.model_version, context.scorecard.version);
        assert_eq!(decision.policy_version, context.policy.version());
        assert_eq!(decision.policy_results.len(), 7);
        min_points = min_points.min(decision.points);
        max_points = max_points.max(decision.points);

        if features.dishonest {
            dishonest += 1;
            assert!(!decision.outcome.is_approved(), "{index}");
            assert!(has_reason(&decision, "P02_DISHONEST"), "{index}");
        }
        if features.overdue_days > 0 {
            overdue += 1;
            assert!(!decision.outcome.is_approved(), "{index}");
            assert!(has_reason(&decision, "P03_OVERDUE"), "{index}");
        }
        match &decision.outcome {
            Outcome::Approved {
                limit,
                daily_rate,
                apr,
                term_months,
            } => {
                approved += 1;
                approved_defaults += u32::from(defaulted);
                assert!(*limit >= yuan(1_000) && *limit <= yuan(200_000), "{limit}");
                assert_eq!(limit.fen() % 10_000, 0, "{limit}");
                assert!(*limit <= app.requested_amount);
                let headroom = yuan(200_000)
                    .checked_sub(app.existing_online_credit)
                    .expect("fits");
                assert!(*limit <= headroom);
                let income = decision.income.expect("approved with an income");
                assert!(limit.fen() <= income.fen() * 3);
                assert!(apr.as_decimal() <= REGULATORY_MAX_APR);
                assert_eq!(apr.as_decimal(), daily_rate.as_decimal() * dec!(365));
                assert_eq!(*term_months, TERM_MONTHS);
                assert!(decision.points >= context.pricing.cutoff);
                *bands.entry(daily_rate.to_string()).or_default() += 1;
            }
            Outcome::Declined { reasons } => {
                declined += 1;
                declined_defaults += u32::from(defaulted);
                assert!(!reasons.is_empty());
                for reason in reasons {
                    *reason_counts.entry(reason.code.clone()).or_default() += 1;
                }
                if decision.points < context.pricing.cutoff {
                    assert!(
                        reasons
                            .iter()
                            .any(|reason| reason.source == ReasonSource::Scorecard)
                    );
                }
            }
        }

        // Replay: the same answers and versions give the same record.
        assert!(decision.replay(&records, &context), "{index}");
        let again = decide(&app, &records, &context).expect("a decision");
        assert_eq!(again.outcome, decision.outcome);
        assert_eq!(again.points, decision.points);
        assert_eq!(again.inputs_hash, decision.inputs_hash);
        if n % 100 == 0 {
            let json = serde_json::to_string(&decision).expect("serialises");
            let back: Decision = serde_json::from_str(&json).expect("deserialises");
            assert_eq!(back, decision);
            assert!(back.replay(&records, &context));
        }
    }

    let total = approved + declined;
    let rate = f64::from(approved) / f64::from(total);
    let approved_dr = f64::from(approved_defaults) / f64::from(approved.max(1));
    let declined_dr = f64::from(declined_defaults) / f64::from(declined.max(1));
    println!(
        "decisions: {total}, approved {approved} ({:.1}%), declined {declined}; \
         失信 {dishonest}, current overdue {overdue}",
        rate * 100.0
    );
    println!(
        "12-month default rate: approved {approved_defaults}/{approved} = {:.2}%, \
         declined {declined_defaults}/{declined} = {:.2}%",
        approved_dr * 100.0,
        declined_dr * 100.0
    );
    println!("approved by daily rate: {bands:?}; points {min_points}..={max_points}");
    println!("decline reasons: {reason_counts:?}");
    assert!((0.20..=0.95).contains(&rate), "approval rate {rate}");
    assert!(approved_dr < declined_dr, "{approved_dr} vs {declined_dr}");
}

#[test]
fn dishonest_applicant_is_declined_with_the_reason() {
    let rules = CrosscheckRules::default();
    let context = context(&rules);
    let population = Population::new(SEED, POPULATION);
    // The first approved applicant of the sample, then listed as 失信.
    let (records, app) = (96_000..98_000u32)
        .find_map(|index| {
            let person = population.person(index);
            let records = AgencyRecords::simulated(&population, &person, DateRange::ALL);
            let app = application(50_000, 0);
            decide(&app, &records, &context)
                .expect("a decision")
                .outcome
                .is_approved()
                .then_some((records, app))
        })
        .expect("someone is approved");
    let mut listed = records.clone();
    listed.court.dishonest_debtor = true;
    let decision = decide(&app, &listed, &context).expect("a decision");
    assert!(has_reason(&decision, "P02_DISHONEST"));
    let Outcome::Declined { reasons } = &decision.outcome else {
        panic!("approved a 失信 applicant");
    };
    assert!(reasons.iter().any(|r| r.reason_zh.contains("失信被执行人")));

    // No headroom under the cap: declined by the policy.
    let full = decide(&application(50_000, 200_000), &records, &context).expect("a decision");
    assert!(has_reason(&full, "P06_CREDIT_CAP"));

    // A different pricing version does not replay.
    let approved = decide(&app, &records, &context).expect("a decision");
    let mut repriced = context.clone();
    repriced.pricing.version = "other".to_owned();
    assert!(!approved.replay(&records, &repriced));
    assert!(approved.replay(&records, &context));
}

#[test]
fn limit_is_capped_by_the_request_and_rounded_down() {
    let rules = CrosscheckRules::default();
    let context = context(&rules);
    let population = Population::new(SEED, POPULATION);
    for index in 96_000..96_300u32 {
        let person = population.person(index);
        let records = AgencyRecords::simulated(&population, &person, DateRange::ALL);
        let app = Application {
            requested_amount: Money::from_fen(1_234_567),
            ..application(0, 0)
        };
        let decision = decide(&app, &records, &context).expect("a decision");
        if let Outcome::Approved { limit, .. } = decision.outcome {
            assert!(limit <= Money::from_fen(1_230_000), "{limit}");
            assert_eq!(limit.fen() % 10_000, 0);
        }
    }
}

#[test]
fn pricing_bands_and_apr() {
    let pricing = Pricing::illustrative();
    pricing.validate().expect("valid");
    let rate = |points| pricing.band_for(points).expect("a band").daily_rate;
    assert_eq!(rate(700), Rate::parse("0.0002").expect("rate"));
    assert_eq!(rate(680), Rate::parse("0.0002").expect("rate"));
    assert_eq!(rate(679), Rate::parse("0.0003").expect("rate"));
    assert_eq!(rate(600), Rate::parse("0.00045").expect("rate"));
    assert_eq!(rate(599), Rate::parse("0.0006").expect("rate"));
    assert_eq!(rate(-5_000), Rate::parse("0.0006").expect("rate"));

    // With no fees, the APR of a one-day draw repaid with a day's interest is daily × 365.
    for band in &pricing.bands {
        let day0 = NaiveDate::from_ymd_opt(2026, 1, 1).expect("date");
        let day1 = day0.checked_add_days(Days::new(1)).expect("date");
        let principal = yuan(10_000);
        let interest = principal
            .apply_rate(band.daily_rate, bianmin_core::Rounding::HalfUp)
            .expect("interest");
        let repaid = principal.checked_add(interest).expect("sum");
        let apr = apr_irr(&[
            (day0, principal),
            (day1, repaid.checked_neg().expect("neg")),
        ])
        .expect("apr");
        let expected = band.daily_rate.as_decimal() * Decimal::from(365);
        assert!(
            (apr.nominal.as_decimal() - expected).abs() < dec!(0.000001),
            "{} vs {expected}",
            apr.nominal
        );
        assert!(expected <= REGULATORY_MAX_APR);
    }

    let mut broken = Pricing::illustrative();
    broken.bands.swap(0, 1);
    assert!(matches!(
        broken.validate(),
        Err(DecisionError::InvalidPricing(_))
    ));
    let mut empty = Pricing::illustrative();
    empty.bands.clear();
    assert!(empty.validate().is_err());
}

#[test]
fn errors_are_errors_not_declines() {
    let rules = CrosscheckRules::default();
    let mut context = context(&rules);
    let population = Population::new(SEED, POPULATION);
    let person = population.person(96_000);
    let records = AgencyRecords::simulated(&population, &person, DateRange::ALL);

    let early = Application {
        applied_on: NaiveDate::from_ymd_opt(2020, 1, 1).expect("date"),
        ..application(50_000, 0)
    };
    let error = decide(&early, &records, &context).expect_err("policy not yet in force");
    assert_eq!(error.code(), "lending.policy_not_effective");

    let negative = Application {
        existing_online_credit: Money::from_fen(-1),
        ..application(50_000, 0)
    };
    let error = decide(&negative, &records, &context).expect_err("invalid input");
    assert_eq!(error.code(), "lending.invalid_policy_input");

    context.pricing.bands.clear();
    let error = decide(&application(50_000, 0), &records, &context).expect_err("no bands");
    assert_eq!(error.code(), "lending.invalid_pricing");
}
