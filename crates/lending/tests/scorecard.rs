//! The scorecard: determinism, monotonicity, reasons, the inputs hash, and the shipped
//! model's discrimination on a fresh govsim sample.

use bianmin_govsim::REFERENCE_DATE;
use bianmin_govsim::population::Population;
use bianmin_govsim::records::DateRange;
use bianmin_lending::features::{AgencyRecords, from_records};
use bianmin_lending::scorecard::{
    EmploymentKind, Feature, Features, Scorecard, TrainingConfig, inputs_hash, train,
};

const SEED: u64 = 20_261_129;
const POPULATION: u32 = 100_000;

fn card() -> &'static Scorecard {
    Scorecard::embedded().expect("the shipped model parses")
}

fn clean() -> Features {
    Features {
        age: 40,
        monthly_income_yuan: 9_000,
        fund_months: 120,
        employment: EmploymentKind::Employed,
        dti_permille: 150,
        overdue_days: 0,
        worst_status_24m: 0,
        inquiries_6m: 0,
        card_utilisation_pct: 10,
        dishonest: false,
        open_court_cases: 0,
    }
}

fn risky() -> Features {
    Features {
        age: 23,
        monthly_income_yuan: 2_000,
        fund_months: 0,
        employment: EmploymentKind::NoIncomeRecord,
        dti_permille: 1_500,
        overdue_days: 75,
        worst_status_24m: 3,
        inquiries_6m: 6,
        card_utilisation_pct: 95,
        dishonest: true,
        open_court_cases: 2,
    }
}

/// Mann–Whitney AUC of `risk` (higher = riskier), ties counted half.
fn mann_whitney(scored: &[(f64, bool)]) -> f64 {
    let bads: Vec<f64> = scored.iter().filter(|s| s.1).map(|s| s.0).collect();
    let mut goods: Vec<f64> = scored.iter().filter(|s| !s.1).map(|s| s.0).collect();
    goods.sort_by(f64::total_cmp);
    let mut wins = 0.0;
    for &bad in &bads {
        let below = goods.partition_point(|&g| g < bad) as f64;
        let not_above = goods.partition_point(|&g| g <= bad) as f64;
        wins += below + (not_above - below) / 2.0;
    }
    wins / (bads.len() as f64 * goods.len() as f64)
}

#[test]
fn embedded_model_is_versioned_and_round_trips() {
    let card = card();
    assert_eq!(card.version, "scorecard-v1");
    assert_eq!(card.training.seed, SEED);
    assert!(card.features.len() >= 8);
    assert!(card.validation.is_some());
    let json = card.to_json().expect("serialises");
    assert_eq!(&Scorecard::from_json(&json).expect("parses"), card);
    assert!(Scorecard::from_json("{}").is_err());
}

#[test]
fn scoring_is_deterministic_and_ranks_sensibly() {
    let card = card();
    let first = card.score(&clean());
    assert_eq!(first, card.score(&clean()));
    let bad = card.score(&risky());
    assert!(
        first.points > bad.points + 100,
        "{} vs {}",
        first.points,
        bad.points
    );
    assert!(first.pd_estimate < bad.pd_estimate);
    // The points are the sum of the attributes' points.
    let sum: i32 = card
        .features
        .iter()
        .map(|c| c.bin_of(c.feature.value(&clean())).map_or(0, |b| b.points))
        .sum();
    assert_eq!(first.points, sum);
}

#[test]
fn adverse_flags_never_add_points() {
    let card = card();
    let bases = [
        clean(),
        risky(),
        Features { age: 30, ..clean() },
        Features {
            overdue_days: 0,
            dishonest: false,
            ..risky()
        },
    ];
    for base in bases {
        let points = |f: Features| card.score(&f).points;
        let honest = points(Features {
            dishonest: false,
            ..base
        });
        assert!(
            points(Features {
                dishonest: true,
                ..base
            }) <= honest
        );
        let current = points(Features {
            overdue_days: 0,
            ..base
        });
        for days in [1, 15, 45, 120, 400] {
            assert!(
                points(Features {
                    overdue_days: days,
                    ..base
                }) <= current
            );
        }
        // Monotone features: more debt, inquiries or delinquency never adds points.
        let mut previous = i32::MAX;
        for dti in (0..=2_000).step_by(50) {
            let now = points(Features {
                dti_permille: dti,
                ..base
            });
            assert!(now <= previous, "dti {dti}");
            previous = now;
        }
        let mut previous = i32::MAX;
        for inquiries in 0..15 {
            let now = points(Features {
                inquiries_6m: inquiries,
                ..base
            });
            assert!(now <= previous);
            previous = now;
        }
        let mut previous = i32::MAX;
        for status in 0..=7 {
            let now = points(Features {
                worst_status_24m: status,
                ..base
            });
            assert!(now <= previous);
            previous = now;
        }
    }
}

#[test]
fn reasons_list_the_worst_attributes() {
    let card = card();
    let scored = card.score(&risky());
    assert_eq!(scored.reasons.len(), 4);
    // Sorted by points lost, and no feature outside the list lost more.
    for pair in scored.reasons.windows(2) {
        assert!(pair[0].points_lost >= pair[1].points_lost);
    }
    let smallest = scored.reasons[3].points_lost;
    for c in &card.features {
        let best = c.bins.iter().map(|b| b.points).max().unwrap_or(0);
        let lost = best - c.bin_of(c.feature.value(&risky())).map_or(0, |b| b.points);
        if !scored.reasons.iter().any(|r| r.feature == c.feature) {
            assert!(lost <= smallest, "{:?} lost {lost}", c.feature);
        }
    }
    for reason in &scored.reasons {
        assert_eq!((reason.code, reason.text), reason.feature.reason());
        assert!(reason.points_lost > 0);
    }
    // A current overdue costs the most here, with its stable code and text.
    let overdue = card.score(&Features {
        overdue_days: 60,
        ..clean()
    });
    assert_eq!(overdue.reasons[0].code, "R01");
    assert_eq!(overdue.reasons[0].text, "近期有逾期记录");
    // Codes are unique and stable.
    let codes: Vec<&str> = Feature::ALL.iter().map(|f| f.reason().0).collect();
    assert_eq!(
        codes,
        [
            "R01", "R02", "R03", "R04", "R05", "R06", "R07", "R08", "R09", "R10", "R11"
        ]
    );
}

#[test]
fn inputs_hash_is_stable_and_sensitive_to_every_field() {
    let base = clean();
    let hash = inputs_hash(&base);
    assert_eq!(hash.len(), 64);
    assert_eq!(hash, inputs_hash(&base.clone()));
    assert_eq!(
        base.canonical_json(),
        r#"{"age":40,"monthly_income_yuan":9000,"fund_months":120,"employment":"employed","dti_permille":150,"overdue_days":0,"worst_status_24m":0,"inquiries_6m":0,"card_utilisation_pct":10,"dishonest":false,"open_court_cases":0}"#
    );
    let variants = [
        Features { age: 41, ..base },
        Features {
            monthly_income_yuan: 9_001,
            ..base
        },
        Features {
            fund_months: 121,
            ..base
        },
        Features {
            employment: EmploymentKind::Flexible,
            ..base
        },
        Features {
            dti_permille: 151,
            ..base
        },
        Features {
            overdue_days: 1,
            ..base
        },
        Features {
            worst_status_24m: 1,
            ..base
        },
        Features {
            inquiries_6m: 1,
            ..base
        },
        Features {
            card_utilisation_pct: 11,
            ..base
        },
        Features {
            dishonest: true,
            ..base
        },
        Features {
            open_court_cases: 1,
            ..base
        },
    ];
    let mut seen = std::collections::HashSet::from([hash]);
    for variant in variants {
        assert!(seen.insert(inputs_hash(&variant)), "{variant:?}");
    }
}

#[test]
fn training_is_reproducible_on_a_small_sample() {
    let population = Population::new(SEED, POPULATION);
    let samples: Vec<(Features, bool)> = (80_000..84_000)
        .map(|index| {
            let person = population.person(index);
            (
                from_records(
                    &AgencyRecords::simulated(&population, &person, DateRange::ALL),
                    REFERENCE_DATE,
                )
                .expect("govsim answers map to features"),
                population.draw_default(index, 12),
            )
        })
        .collect();
    let config = TrainingConfig {
        seed: SEED,
        ..TrainingConfig::default()
    };
    let first = train(&samples, &config).expect("trains");
    let second = train(&samples, &config).expect("trains");
    assert_eq!(first, second);
    for c in &first.features {
        assert!(c.coefficient < 0.0, "{:?}", c.feature);
        assert!(c.iv >= 0.0);
    }
    let none: Vec<(Features, bool)> = samples.iter().map(|(f, _)| (*f, false)).collect();
    assert!(train(&none, &config).is_err());
}

#[test]
fn embedded_model_discriminates_on_a_fresh_sample() {
    let card = card();
    let population = Population::new(SEED, POPULATION);
    let mut scored = Vec::new();
    let mut truth = Vec::new();
    for index in 90_000..95_000 {
        let person = population.person(index);
        let defaulted = population.draw_default(index, 12);
        let points = card
            .score(
                &from_records(
                    &AgencyRecords::simulated(&population, &person, DateRange::ALL),
                    REFERENCE_DATE,
                )
                .expect("govsim answers map to features"),
            )
            .points;
        scored.push((-f64::from(points), defaulted));
        truth.push((person.true_pd(), defaulted));
    }
    let auc = mann_whitney(&scored);
    let ceiling = mann_whitney(&truth);
    let defaults = scored.iter().filter(|s| s.1).count();
    println!("fresh sample: {defaults} defaults, scorecard AUC {auc:.4}, true-PD AUC {ceiling:.4}");
    assert!(auc >= 0.75, "AUC {auc}");
    assert!(auc <= ceiling + 0.02);
    // The library's AUC agrees with this one.
    assert!((bianmin_lending::scorecard::auc(&scored) - auc).abs() < 1e-9);
}
