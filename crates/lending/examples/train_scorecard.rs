//! Trains the application scorecard on a govsim population and writes the shipped model.
//!
//! ```text
//! cargo run --release -p bianmin-lending --example train_scorecard
//! ```
//!
//! Population: seed 20261129, 100,000 people; people 0..60,000 are the sample (the first 70 %
//! to train, the other 30 % to validate), labelled by `draw_default(i, 12)`. Features are
//! built only from what the agencies answer (identity, tax, housing fund, social insurance,
//! credit report, courts); the hidden `true_pd()` is used only as the ceiling on the
//! validation part. The answers are built with the govsim record constructors
//! ([`AgencyRecords::simulated`]) and mapped by [`from_records`], the same mapping the decision
//! engine uses. Writes `crates/lending/models/scorecard-v1.json`.

use std::path::Path;

use bianmin_govsim::REFERENCE_DATE;
use bianmin_govsim::population::Population;
use bianmin_govsim::records::DateRange;
use bianmin_lending::features::{AgencyRecords, from_records};
use bianmin_lending::scorecard::{TrainingConfig, Validation, auc, ks, train};

const SEED: u64 = 20_261_129;
const POPULATION: u32 = 100_000;
const SAMPLE: u32 = 60_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let started = std::time::Instant::now();
    let population = Population::new(SEED, POPULATION);
    let mut samples = Vec::with_capacity(SAMPLE as usize);
    let mut truth = Vec::with_capacity(SAMPLE as usize);
    for index in 0..SAMPLE {
        let person = population.person(index);
        let defaulted = population.draw_default(index, 12);
        samples.push((
            from_records(
                &AgencyRecords::simulated(&population, &person, DateRange::ALL),
                REFERENCE_DATE,
            )?,
            defaulted,
        ));
        truth.push(person.true_pd());
    }
    let split = SAMPLE as usize * 7 / 10;
    let (training, holdout) = samples.split_at(split);
    let config = TrainingConfig {
        source: format!("govsim seed {SEED}, population {POPULATION}, people 0..{split}"),
        seed: SEED,
        ..TrainingConfig::default()
    };
    let mut card = train(training, &config)?;

    let scored: Vec<(f64, bool)> = holdout
        .iter()
        .map(|(features, bad)| (-f64::from(card.score(features).points), *bad))
        .collect();
    let ceiling: Vec<(f64, bool)> = truth[split..]
        .iter()
        .zip(holdout)
        .map(|(&pd, (_, bad))| (pd, *bad))
        .collect();
    let train_scored: Vec<(f64, bool)> = training
        .iter()
        .map(|(features, bad)| (-f64::from(card.score(features).points), *bad))
        .collect();
    let validation = Validation {
        sample: format!("govsim seed {SEED}, population {POPULATION}, people {split}..{SAMPLE}"),
        size: holdout.len() as u64,
        auc: round4(auc(&scored)),
        ks: round4(ks(&scored)),
        ceiling_auc: Some(round4(auc(&ceiling))),
    };
    let ceiling_ks = ks(&ceiling);

    println!(
        "trained on {} people ({} defaults), validated on {} ({} defaults)",
        training.len(),
        card.training.bads,
        holdout.len(),
        holdout.iter().filter(|(_, bad)| *bad).count()
    );
    println!("intercept {:.4}", card.intercept);
    for (feature, iv) in &card.iv {
        let coefficient = card
            .features
            .iter()
            .find(|c| c.feature == *feature)
            .map(|c| {
                format!(
                    "β {:+.3}, {} bins, points {:?}",
                    c.coefficient,
                    c.bins.len(),
                    c.bins
                        .iter()
                        .map(|b| (b.upper, b.points))
                        .collect::<Vec<_>>()
                )
            });
        println!(
            "  {feature:?}: IV {iv:.3}; {}",
            coefficient.unwrap_or_else(|| "dropped".into())
        );
    }
    println!("training AUC {:.4}", auc(&train_scored));
    println!(
        "hold-out: scorecard AUC {:.4}, KS {:.4}; true-PD ceiling AUC {:.4}, KS {:.4}",
        validation.auc,
        validation.ks,
        validation.ceiling_auc.unwrap_or(f64::NAN),
        ceiling_ks
    );
    card.validation = Some(validation);

    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/scorecard-v1.json");
    std::fs::write(&path, card.to_json()? + "\n")?;
    println!(
        "wrote {} in {:.1} s",
        path.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}
