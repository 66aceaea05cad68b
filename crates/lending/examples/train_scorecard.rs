//! Trains the application scorecard on a govsim population and writes the shipped model.
//!
//! ```text
//! cargo run --release -p bianmin-lending --example train_scorecard
//! ```
//!
//! Population: seed 20261129, 100,000 people; people 0..60,000 are the sample (the first 70 %
//! to train, the other 30 % to validate), labelled by `draw_default(i, 12)`. Features are
//! built only from what the agencies report (identity, tax, housing fund, social insurance,
//! credit report, courts); the hidden `true_pd()` is used only as the ceiling on the
//! validation part. Writes `crates/lending/models/scorecard-v1.json`.

use std::path::Path;

use bianmin_govsim::population::{Population, SyntheticPerson};
use bianmin_lending::scorecard::{
    EmploymentKind, Features, TrainingConfig, Validation, auc, ks, train,
};

const SEED: u64 = 20_261_129;
const POPULATION: u32 = 100_000;
const SAMPLE: u32 = 60_000;

/// What the decision engine would extract from the agencies' answers about `person`.
fn features_of(population: &Population, person: &SyntheticPerson) -> Features {
    use bianmin_govsim::population::court::CaseStatus;
    use bianmin_govsim::population::social_insurance::{InsuredStatus, Scheme};
    use bianmin_govsim::population::tax::IncomeKind;

    let returns = population.tax_returns(person);
    let latest = returns.iter().max_by_key(|year| year.year);
    let fund = person.housing_fund.as_ref();
    let income_fen = match latest {
        Some(year) if year.gross_income.fen() > 0 => year.gross_income.fen() / 12,
        _ => fund.map_or(0, |fund| fund.base.fen()),
    };
    let income_yuan = u32::try_from(income_fen / 100).unwrap_or(u32::MAX);
    let si = &person.social_insurance;
    let employment = match (si.status, si.scheme, latest.map(|year| year.kind)) {
        (InsuredStatus::Retired, _, _) => EmploymentKind::Retired,
        (InsuredStatus::Contributing, Scheme::Employee, _) => EmploymentKind::Employed,
        (_, _, Some(IncomeKind::Business)) => EmploymentKind::SelfEmployed,
        (InsuredStatus::Contributing, Scheme::Flexible, _) => EmploymentKind::Flexible,
        (_, _, Some(IncomeKind::Remuneration)) => EmploymentKind::Flexible,
        (_, _, Some(IncomeKind::Wages)) if income_yuan > 0 => EmploymentKind::Employed,
        _ => EmploymentKind::NoIncomeRecord,
    };
    let credit = &person.credit;
    let repayment_fen = credit.monthly_repayment().fen();
    let dti = (repayment_fen * 1_000 / (income_fen.max(150_000))).min(2_000);
    let limit = credit.cards.total_limit.fen();
    let utilisation = if limit > 0 {
        (credit.cards.used.fen() * 100 / limit).min(200)
    } else {
        0
    };
    Features {
        age: person.age,
        monthly_income_yuan: income_yuan,
        fund_months: fund.map_or(0, |fund| fund.months_contributed),
        employment,
        dti_permille: u32::try_from(dti).unwrap_or(2_000),
        overdue_days: credit.overdue_days,
        worst_status_24m: credit.worst_status(),
        inquiries_6m: credit.inquiries_6m,
        card_utilisation_pct: u32::try_from(utilisation).unwrap_or(200),
        dishonest: person.court.is_dishonest(),
        open_court_cases: person
            .court
            .cases
            .iter()
            .filter(|case| case.status == CaseStatus::Open)
            .count() as u32,
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let started = std::time::Instant::now();
    let population = Population::new(SEED, POPULATION);
    let mut samples = Vec::with_capacity(SAMPLE as usize);
    let mut truth = Vec::with_capacity(SAMPLE as usize);
    for index in 0..SAMPLE {
        let person = population.person(index);
        let defaulted = population.draw_default(index, 12);
        samples.push((features_of(&population, &person), defaulted));
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
