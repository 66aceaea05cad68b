//! `bianmin lending train` on a CSV file: the trainer finds a known signal, drops noise and
//! identifiers, writes a model that scores the same after a round trip, and fails clearly
//! on bad input.
//!
//! `tests/data/applicants.csv` is synthetic (Python `random.Random(20261129)`, 3,000 rows):
//! the log-odds of default are `−1.6 − 0.9·z(ln monthly_income) + region effect (−0.6 for
//! chengdu … +1.5 for aba, 2 % of rows) + 0.8 if the income is blank (4 %)`; `noise` (uniform
//! 0–100) and `colour` (four colours) carry no signal, `id` is unique per row, and `split`
//! holds out about 30 % of the rows.

use std::path::{Path, PathBuf};

use bianmin_lending::train::{
    BinRule, CandidateStatus, ColumnKind, CsvScorecard, CsvTrainOptions, train_csv,
};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn options(path: PathBuf) -> CsvTrainOptions {
    CsvTrainOptions {
        data: path,
        target: "default".into(),
        split_column: Some("split".into()),
        holdout_fraction: 0.3,
        seed: 7,
        model_version: "test-1".into(),
        out: None,
    }
}

/// Writes `contents` to a fresh file in the test scratch directory.
fn scratch(name: &str, contents: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("train-{name}"));
    std::fs::write(&path, contents).expect("scratch file");
    path
}

fn error_of(options: &CsvTrainOptions) -> String {
    train_csv(options)
        .expect_err("training must fail")
        .to_string()
}

#[test]
fn finds_the_signal_and_drops_noise_and_identifiers() {
    let report = train_csv(&options(data("applicants.csv"))).expect("trains");
    println!("{report}");
    let model = &report.model;
    let status = |name: &str| {
        model
            .candidates
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("{name} considered"))
            .status
            .clone()
    };
    assert_eq!(status("monthly_income"), CandidateStatus::InModel);
    assert_eq!(status("region"), CandidateStatus::InModel);
    assert_eq!(status("noise"), CandidateStatus::LowIv);
    assert_eq!(status("colour"), CandidateStatus::LowIv);
    assert_eq!(status("id"), CandidateStatus::Identifier);
    let names: Vec<&str> = model.variables.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names.len(), 2, "{names:?}");

    // The true model's AUC on this sample is about 0.73; noise would give 0.5.
    assert!(report.holdout_auc > 0.68, "{}", report.holdout_auc);
    assert!(report.holdout_ks > 0.25, "{}", report.holdout_ks);
    assert!(
        report.psi < 0.1,
        "split at random, so stable: {}",
        report.psi
    );

    // Income: numeric, a missing bin, points rising with income (monotone here).
    let income = model
        .variables
        .iter()
        .find(|v| v.name == "monthly_income")
        .expect("income in model");
    assert_eq!(income.kind, ColumnKind::Numeric);
    assert!(income.coefficient < 0.0);
    assert!(income.bins.len() <= 7);
    assert_eq!(income.bins.last().map(|b| &b.rule), Some(&BinRule::Missing));
    let ranges: Vec<i32> = income
        .bins
        .iter()
        .filter(|b| matches!(b.rule, BinRule::Range { .. }))
        .map(|b| b.points)
        .collect();
    assert!(ranges.windows(2).all(|w| w[0] <= w[1]), "{ranges:?}");
    assert!(ranges.first() < ranges.last(), "{ranges:?}");
    let training_rows = model.training.rows;
    assert!(
        income
            .bins
            .iter()
            .filter(|b| b.rule != BinRule::Missing)
            .all(|b| b.count * 20 >= training_rows),
        "every range holds 5 % of the rows"
    );

    // Region: the rare "aba" is pooled as other; safe chengdu scores above risky ganzi.
    let region = model
        .variables
        .iter()
        .find(|v| v.name == "region")
        .expect("region in model");
    let points = |value: &str| region.points_of(Some(value));
    assert!(points("chengdu") > points("ganzi"));
    assert!(region.bins.iter().any(|b| matches!(
        &b.rule,
        BinRule::Categories { values, other: true } if values.contains(&"aba".to_owned())
    )));
    // A region never seen in training scores as the other bin.
    assert_eq!(points("atlantis"), points("aba"));

    let text = report.to_string();
    for expected in ["information value", "monthly_income", "hold-out AUC", "PSI"] {
        assert!(text.contains(expected), "report lacks {expected}:\n{text}");
    }
}

#[test]
fn the_model_round_trips_and_scores_the_same() {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("train-model.json");
    let report = train_csv(&CsvTrainOptions {
        out: Some(out.clone()),
        ..options(data("applicants.csv"))
    })
    .expect("trains");
    let json = std::fs::read_to_string(&out).expect("model written");
    let loaded = CsvScorecard::from_json(&json).expect("parses");
    assert_eq!(loaded, report.model);

    let scores = loaded.score_file(&data("applicants.csv")).expect("scores");
    assert_eq!(
        scores,
        report
            .model
            .score_file(&data("applicants.csv"))
            .expect("scores")
    );
    assert_eq!(scores.len(), 3000);

    // The hold-out AUC recomputed from the reloaded model's scores is the reported one.
    let text = std::fs::read_to_string(data("applicants.csv")).expect("data");
    let holdout: Vec<(f64, bool)> = text
        .lines()
        .skip(1)
        .zip(&scores)
        .filter(|(line, _)| line.ends_with(",test"))
        .map(|(line, &score)| (-f64::from(score), line.contains(",1,test")))
        .collect();
    let auc = bianmin_lending::scorecard::auc(&holdout);
    assert!(
        (auc - report.holdout_auc).abs() < 1e-12,
        "{auc} vs {}",
        report.holdout_auc
    );

    // Scoring by name: a blank income takes the missing bin's points.
    let income = &loaded
        .variables
        .iter()
        .find(|v| v.name == "monthly_income")
        .expect("income");
    let missing = income.points_of(Some(""));
    assert_eq!(
        Some(missing),
        income
            .bins
            .iter()
            .find(|b| b.rule == BinRule::Missing)
            .map(|b| b.points)
    );
    let row = |name: &str| match name {
        "monthly_income" => Some(""),
        "region" => Some("chengdu"),
        _ => None,
    };
    let region = loaded
        .variables
        .iter()
        .find(|v| v.name == "region")
        .expect("region");
    assert_eq!(
        loaded.score(row),
        missing + region.points_of(Some("chengdu"))
    );
}

#[test]
fn a_random_split_is_seeded() {
    let random = |seed| CsvTrainOptions {
        split_column: None,
        seed,
        ..options(data("applicants.csv"))
    };
    let first = train_csv(&random(1)).expect("trains");
    let again = train_csv(&random(1)).expect("trains");
    let other = train_csv(&random(2)).expect("trains");
    assert_eq!(first, again);
    assert_ne!(first.model.training, other.model.training);
    assert_eq!(first.model.validation.rows, 900);
    assert!(first.holdout_auc > 0.65);
}

#[test]
fn bad_input_fails_with_a_clear_error() {
    let missing_target = CsvTrainOptions {
        target: "defaulted".into(),
        ..options(data("applicants.csv"))
    };
    assert!(error_of(&missing_target).contains("no column \"defaulted\""));

    let missing_split = CsvTrainOptions {
        split_column: Some("fold".into()),
        ..options(data("applicants.csv"))
    };
    assert!(error_of(&missing_split).contains("no column \"fold\""));

    let empty = options(scratch("empty.csv", ""));
    assert!(
        error_of(&empty).contains("empty file"),
        "{}",
        error_of(&empty)
    );

    let header_only = options(scratch("header.csv", "x,default,split\n"));
    assert!(error_of(&header_only).contains("no data rows"));

    let one_class = options(scratch(
        "one-class.csv",
        "x,default,split\n1,0,train\n2,0,train\n3,0,test\n",
    ));
    assert!(
        error_of(&one_class).contains("one class"),
        "{}",
        error_of(&one_class)
    );

    let not_binary = options(scratch(
        "not-binary.csv",
        "x,default,split\n1,0,train\n2,1,train\n3,2,test\n",
    ));
    let message = error_of(&not_binary);
    assert!(
        message.contains("line 4") && message.contains("\"2\""),
        "{message}"
    );

    let bad_split = options(scratch(
        "bad-split.csv",
        "x,default,split\n1,0,train\n2,1,train\n3,1,validate\n",
    ));
    let message = error_of(&bad_split);
    assert!(
        message.contains("line 4") && message.contains("validate"),
        "{message}"
    );

    let no_holdout = options(scratch(
        "no-holdout.csv",
        "x,default,split\n1,0,train\n2,1,train\n",
    ));
    assert!(error_of(&no_holdout).contains("both must be non-empty"));

    let bad_fraction = CsvTrainOptions {
        split_column: None,
        holdout_fraction: 1.5,
        ..options(data("applicants.csv"))
    };
    assert!(error_of(&bad_fraction).contains("not between 0 and 1"));

    // Targets in words are read too; a column with no signal cannot make a model.
    let mut rows = String::from("x,default,split\n");
    for i in 0..40 {
        let target = if i % 2 == 0 { "bad" } else { "good" };
        let split = if i % 4 < 3 { "train" } else { "test" };
        rows.push_str(&format!("7,{target},{split}\n"));
    }
    let message = error_of(&options(scratch("no-signal.csv", &rows)));
    assert!(message.contains("no column predicts"), "{message}");

    let not_json = CsvScorecard::from_json("{}").expect_err("rejects");
    assert!(not_json.to_string().contains("scorecard JSON"));
}
