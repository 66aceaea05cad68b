//! `bianmin lending train`: fits a scorecard on any CSV file.
//!
//! The general counterpart of [`crate::scorecard::train`], which knows the fixed applicant
//! [`Features`](crate::scorecard::Features): here the columns are whatever the file has.
//!
//! # Steps
//!
//! 1. **Read** the CSV (header row). The target column holds `1`/`0`, `true`/`false` or
//!    `bad`/`good` (`1`, `true`, `bad` = default). Rows are split into a training and a
//!    hold-out part by a `train`/`test` column or by a seeded random draw.
//! 2. **Type** every other column: *numeric* when every non-blank value parses as a finite
//!    number, *categorical* otherwise. Blanks (and `NA`, `N/A`, `NaN`, `null`) are missing
//!    and get a bin of their own. A categorical column with a distinct value for most rows is
//!    an identifier and is skipped.
//! 3. **Bin** on the training rows only. Numeric: fine equal-frequency classes (20), then
//!    the greedy best split on information value, one cut at a time, each bin holding at least
//!    5 % of the rows, until 6 bins or a split adds less than 10 % to the IV; the same search
//!    restricted to monotone WOE is preferred when it loses at most 10 % of the IV.
//!    Categorical: categories under 2 % of the rows are pooled into an *other* group (which
//!    also takes categories never seen in training), groups are ordered by bad rate and cut by
//!    the same search, so that categories of similar WOE end up together.
//! 4. **WOE** `ln(%good / %bad)` with smoothing 0.5 (as in [`crate::scorecard`]) and **IV**
//!    per column. Columns under IV 0.02 are dropped, then, strongest first, any column whose
//!    WOE correlates above |0.7| with a stronger one kept.
//! 5. **Logistic regression** of the default flag on the WOE values by Newton–Raphson with a
//!    small L2 ridge; a column whose coefficient is not negative (against its own WOE) is
//!    dropped, the weakest first, and the rest refitted.
//! 6. **Points**: the [`Scaling`] of the application scorecard (600 at 50:1, PDO 20), integer
//!    points per bin; a value no bin holds scores the points of WOE 0.
//! 7. **Validation** on the hold-out rows: AUC and KS of the points, and the population
//!    stability index of the score between training and hold-out (training score deciles).
//!
//! The model ([`CsvScorecard`]) is JSON and scores rows by column name
//! ([`CsvScorecard::score`], [`CsvScorecard::score_file`]) with the same integer points the
//! report was measured with.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::scorecard::{Scaling, auc, fit_logistic_ridge, ks};

/// What to train on and where to write the model.
#[derive(Debug, Clone, PartialEq)]
pub struct CsvTrainOptions {
    /// The CSV file, with a header row.
    pub data: PathBuf,
    /// The 0/1 (or good/bad) target column.
    pub target: String,
    /// Column that says which rows are `train` and which are `test`; random split otherwise.
    pub split_column: Option<String>,
    /// Share of rows held out when there is no split column.
    pub holdout_fraction: f64,
    /// Seed of the random split.
    pub seed: u64,
    /// Version written into the model.
    pub model_version: String,
    /// Where to write the model JSON.
    pub out: Option<PathBuf>,
}

/// The knobs of binning, selection and scaling; [`train_csv`] uses [`TrainSettings::default`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainSettings {
    /// Equal-frequency classes a numeric column starts from (20).
    pub fine_bins: usize,
    /// Most bins per column, the missing bin not counted (6).
    pub max_bins: usize,
    /// Least share of the training rows in a bin (0.05).
    pub min_bin_share: f64,
    /// A further cut is kept only if it raises the column's IV by this share (0.1).
    pub split_min_gain: f64,
    /// A cut must separate bad rates with at least this chi-square statistic (one degree
    /// of freedom) between the two halves of the bin it cuts.
    pub split_min_chi2: f64,
    /// Monotone WOE is preferred when it costs at most this share of the IV (0.1).
    pub monotone_max_iv_loss: f64,
    /// Categories under this share of the training rows are pooled as *other* (0.02).
    pub rare_category_share: f64,
    /// Smoothing constant added to the good and bad counts of every bin (0.5).
    pub smoothing: f64,
    /// Columns under this information value are dropped (0.02).
    pub min_iv: f64,
    /// Of two columns whose WOE correlates above this (in absolute value), the weaker is
    /// dropped (0.7).
    pub max_correlation: f64,
    /// L2 penalty `λ/2 · Σβ²` on the coefficients (not the intercept) of the regression (1.0).
    pub ridge: f64,
    /// Points scaling (600 at 50:1, PDO 20).
    pub scaling: Scaling,
}

impl Default for TrainSettings {
    fn default() -> Self {
        Self {
            fine_bins: 20,
            max_bins: 6,
            min_bin_share: 0.05,
            split_min_gain: 0.1,
            split_min_chi2: 3.84,
            monotone_max_iv_loss: 0.1,
            rare_category_share: 0.02,
            smoothing: 0.5,
            min_iv: 0.02,
            max_correlation: 0.7,
            ridge: 1.0,
            scaling: Scaling::default(),
        }
    }
}

/// Why training failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TrainError(pub String);

/// What training produced: the report printed by the CLI.
#[derive(Debug, Clone, PartialEq)]
pub struct CsvTrainReport {
    /// Hold-out AUC.
    pub holdout_auc: f64,
    /// Hold-out Kolmogorov–Smirnov statistic.
    pub holdout_ks: f64,
    /// Population stability index of the score, training → hold-out.
    pub psi: f64,
    /// The model (also written to [`CsvTrainOptions::out`] when given).
    pub model: CsvScorecard,
    text: String,
}

impl fmt::Display for CsvTrainReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

// ----------------------------------------------------------------------------------------
// The model.

/// A scorecard trained on a CSV file: serialisable, scores rows by column name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CsvScorecard {
    /// Model version ([`CsvTrainOptions::model_version`]).
    pub version: String,
    /// The target column it was trained on.
    pub target: String,
    /// The training sample.
    pub training: CsvTrainingInfo,
    /// Points scaling.
    pub scaling: Scaling,
    /// Logistic-regression intercept α.
    pub intercept: f64,
    /// The columns in the model, with their bins and points.
    pub variables: Vec<VariableCard>,
    /// Every column considered, with its IV and what became of it.
    pub candidates: Vec<Candidate>,
    /// Hold-out performance.
    pub validation: CsvValidation,
}

/// Where the training rows came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CsvTrainingInfo {
    /// The data file's name.
    pub source: String,
    /// How the rows were split (`column split` or `random 30 %, seed …`).
    pub split: String,
    /// Training rows.
    pub rows: u64,
    /// Of them, defaults.
    pub bads: u64,
}

/// Performance of the integer points.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CsvValidation {
    /// Hold-out rows.
    pub rows: u64,
    /// Of them, defaults.
    pub bads: u64,
    /// Hold-out AUC.
    pub auc: f64,
    /// Hold-out KS.
    pub ks: f64,
    /// Training AUC (compare with [`CsvValidation::auc`] for overfitting).
    pub train_auc: f64,
    /// Training KS.
    pub train_ks: f64,
    /// Population stability index of the score, training deciles → hold-out.
    pub psi: f64,
}

/// How a column was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnKind {
    /// Every non-missing value is a number.
    Numeric,
    /// Text values.
    Categorical,
}

/// A column considered for the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// Column name.
    pub name: String,
    /// How it was read.
    pub kind: ColumnKind,
    /// Information value of its bins on the training rows (0 for an identifier).
    pub iv: f64,
    /// Bins, the missing bin included.
    pub bins: usize,
    /// In the model, or why not.
    pub status: CandidateStatus,
}

/// What became of a candidate column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CandidateStatus {
    /// In the model.
    InModel,
    /// A distinct value for most rows: an identifier, not binned.
    Identifier,
    /// IV under [`TrainSettings::min_iv`].
    LowIv,
    /// WOE too correlated with a stronger column's.
    Correlated {
        /// The stronger column kept.
        with: String,
        /// Pearson correlation of the two WOE columns on the training rows.
        r: f64,
    },
    /// Coefficient of the wrong sign in the regression.
    WrongSign,
}

impl fmt::Display for CandidateStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InModel => f.write_str("in model"),
            Self::Identifier => f.write_str("dropped: identifier"),
            Self::LowIv => f.write_str("dropped: IV < min"),
            Self::Correlated { with, r } => write!(f, "dropped: r = {r:+.2} with {with}"),
            Self::WrongSign => f.write_str("dropped: wrong sign"),
        }
    }
}

/// A column's part of the scorecard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariableCard {
    /// Column name.
    pub name: String,
    /// How the column is read.
    pub kind: ColumnKind,
    /// Information value on the training rows.
    pub iv: f64,
    /// Regression coefficient on the WOE (negative).
    pub coefficient: f64,
    /// The bins: numeric ranges in increasing order, or category sets; a missing bin last.
    pub bins: Vec<VariableBin>,
    /// Points of a value no bin holds (missing with no missing bin, a number in a
    /// categorical column, a category unseen in training without an *other* bin): WOE 0.
    pub unmatched_points: i32,
}

/// One bin (attribute) of a column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariableBin {
    /// Which values fall in it.
    pub rule: BinRule,
    /// Training rows in the bin.
    pub count: u64,
    /// Of them, defaults.
    pub bads: u64,
    /// Weight of evidence `ln(%good / %bad)` (smoothed): above 0 is safer than average.
    pub woe: f64,
    /// Points of the attribute.
    pub points: i32,
}

/// The values of a bin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BinRule {
    /// Numbers with `lower ≤ x < upper` (an absent bound is unbounded).
    Range {
        /// Inclusive lower bound.
        lower: Option<f64>,
        /// Exclusive upper bound.
        upper: Option<f64>,
    },
    /// These categories, and with `other` every category no other bin lists.
    Categories {
        /// The categories, sorted.
        values: Vec<String>,
        /// Also holds the rare categories and those unseen in training.
        other: bool,
    },
    /// Missing values (blank, `NA`, `N/A`, `#N/A`, `NaN`, `nan`, `null`, `NULL`).
    Missing,
}

impl fmt::Display for BinRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Range {
                lower: None,
                upper: None,
            } => f.write_str("any"),
            Self::Range {
                lower: None,
                upper: Some(upper),
            } => write!(f, "< {upper}"),
            Self::Range {
                lower: Some(lower),
                upper: None,
            } => write!(f, ">= {lower}"),
            Self::Range {
                lower: Some(lower),
                upper: Some(upper),
            } => write!(f, "[{lower}, {upper})"),
            Self::Categories { values, other } => {
                f.write_str(&values.join(" | "))?;
                if *other {
                    f.write_str(if values.is_empty() {
                        "(other)"
                    } else {
                        " | (other)"
                    })?;
                }
                Ok(())
            }
            Self::Missing => f.write_str("(missing)"),
        }
    }
}

impl VariableCard {
    /// The index of the bin holding `raw` (the column's text in a row; `None` when the
    /// column is absent), or `None` when no bin holds it.
    pub fn bin_of(&self, raw: Option<&str>) -> Option<usize> {
        let Some(value) = raw.map(str::trim).filter(|value| !is_missing(value)) else {
            return self
                .bins
                .iter()
                .position(|bin| bin.rule == BinRule::Missing);
        };
        match self.kind {
            ColumnKind::Numeric => {
                let number = parse_number(value)?;
                self.bins.iter().position(|bin| match bin.rule {
                    BinRule::Range { lower, upper } => {
                        lower.is_none_or(|lower| number >= lower)
                            && upper.is_none_or(|upper| number < upper)
                    }
                    _ => false,
                })
            }
            ColumnKind::Categorical => self
                .bins
                .iter()
                .position(|bin| {
                    matches!(&bin.rule, BinRule::Categories { values, .. }
                        if values.iter().any(|v| v == value))
                })
                .or_else(|| {
                    self.bins
                        .iter()
                        .position(|bin| matches!(bin.rule, BinRule::Categories { other: true, .. }))
                }),
        }
    }

    /// The points of `raw` (see [`VariableCard::bin_of`]).
    pub fn points_of(&self, raw: Option<&str>) -> i32 {
        self.bin_of(raw)
            .map_or(self.unmatched_points, |bin| self.bins[bin].points)
    }
}

impl CsvScorecard {
    /// Parses and checks a model.
    ///
    /// # Errors
    ///
    /// If the JSON does not parse or the model has no variables or a variable without bins.
    pub fn from_json(json: &str) -> Result<CsvScorecard, TrainError> {
        let card: CsvScorecard = serde_json::from_str(json)
            .map_err(|error| TrainError(format!("scorecard JSON: {error}")))?;
        if card.variables.is_empty() {
            return Err(TrainError("invalid scorecard: no variables".into()));
        }
        if let Some(variable) = card.variables.iter().find(|v| v.bins.is_empty()) {
            return Err(TrainError(format!(
                "invalid scorecard: {} has no bins",
                variable.name
            )));
        }
        Ok(card)
    }

    /// The model as pretty JSON.
    ///
    /// # Errors
    ///
    /// If a statistic is not finite (JSON has no NaN).
    pub fn to_json(&self) -> Result<String, TrainError> {
        serde_json::to_string_pretty(self)
            .map_err(|error| TrainError(format!("scorecard JSON: {error}")))
    }

    /// The points of a row, given each column's text by name (`None`: column absent, scored
    /// as missing). Higher is safer.
    pub fn score<'a>(&self, value_of: impl Fn(&str) -> Option<&'a str>) -> i32 {
        self.variables
            .iter()
            .map(|variable| variable.points_of(value_of(&variable.name)))
            .fold(0i32, i32::saturating_add)
    }

    /// The points of every row of a CSV file (header row; columns found by name).
    ///
    /// # Errors
    ///
    /// If the file cannot be read or lacks a column of the model.
    pub fn score_file(&self, path: &Path) -> Result<Vec<i32>, TrainError> {
        let table = Table::read(path)?;
        let columns = self
            .variables
            .iter()
            .map(|variable| table.column(&variable.name))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(table
            .rows
            .iter()
            .map(|row| {
                self.variables
                    .iter()
                    .zip(&columns)
                    .map(|(variable, &column)| variable.points_of(Some(&row[column])))
                    .fold(0i32, i32::saturating_add)
            })
            .collect())
    }
}

// ----------------------------------------------------------------------------------------
// Training.

/// Trains a scorecard on a CSV file with the default [`TrainSettings`].
///
/// # Errors
///
/// See [`train_csv_with`].
pub fn train_csv(options: &CsvTrainOptions) -> Result<CsvTrainReport, TrainError> {
    train_csv_with(options, &TrainSettings::default())
}

/// Trains a scorecard on a CSV file, writes the model to [`CsvTrainOptions::out`] when given
/// and returns the report.
///
/// # Errors
///
/// The file cannot be read or is empty; the target or split column is missing; a target
/// value is not 1/0, true/false or bad/good; the training rows hold one class only; a split
/// value is not `train`/`test` or one side is empty; the hold-out fraction is not in (0, 1);
/// no column is predictive; the model cannot be written.
pub fn train_csv_with(
    options: &CsvTrainOptions,
    settings: &TrainSettings,
) -> Result<CsvTrainReport, TrainError> {
    let table = Table::read(&options.data)?;
    let target = table.column(&options.target)?;
    let labels = table
        .rows
        .iter()
        .enumerate()
        .map(|(i, row)| {
            parse_target(&row[target]).ok_or_else(|| {
                TrainError(format!(
                    "line {}: target {:?} is {:?}, not 1/0, true/false or bad/good",
                    i + 2,
                    options.target,
                    row[target]
                ))
            })
        })
        .collect::<Result<Vec<bool>, _>>()?;
    let all_bads = labels.iter().filter(|&&bad| bad).count();
    if all_bads == 0 || all_bads == labels.len() {
        return Err(TrainError(format!(
            "target {:?} has one class only ({all_bads} bad of {} rows)",
            options.target,
            labels.len()
        )));
    }
    let (is_train, split) = split_rows(&table, options)?;
    let train_rows: Vec<usize> = (0..labels.len()).filter(|&i| is_train[i]).collect();
    let test_rows: Vec<usize> = (0..labels.len()).filter(|&i| !is_train[i]).collect();
    let train_bads = train_rows.iter().filter(|&&i| labels[i]).count();
    if train_bads == 0 || train_bads == train_rows.len() {
        return Err(TrainError(format!(
            "the training rows hold one class only ({train_bads} bad of {})",
            train_rows.len()
        )));
    }

    let skip: Vec<usize> = [Some(target), split.column].into_iter().flatten().collect();
    let mut candidates = Vec::new();
    let mut binned = Vec::new();
    for (index, name) in table.headers.iter().enumerate() {
        if skip.contains(&index) {
            continue;
        }
        let values: Vec<&str> = table.rows.iter().map(|row| row[index].as_str()).collect();
        match bin_column(name, &values, &labels, &is_train, settings) {
            Some(column) => binned.push(column),
            None => candidates.push(Candidate {
                name: name.clone(),
                kind: ColumnKind::Categorical,
                iv: 0.0,
                bins: 0,
                status: CandidateStatus::Identifier,
            }),
        }
    }

    // IV filter, then the correlation filter, strongest first.
    binned.sort_by(|a, b| b.iv.total_cmp(&a.iv).then_with(|| a.name.cmp(&b.name)));
    let mut statuses: Vec<CandidateStatus> = vec![CandidateStatus::InModel; binned.len()];
    let woe_columns: Vec<Vec<f64>> = binned
        .iter()
        .map(|column| column.woe_of_rows(&train_rows))
        .collect();
    for j in 0..binned.len() {
        if binned[j].iv < settings.min_iv || binned[j].bins.len() < 2 {
            statuses[j] = CandidateStatus::LowIv;
            continue;
        }
        let stronger = (0..j)
            .filter(|&k| statuses[k] == CandidateStatus::InModel)
            .map(|k| (k, correlation(&woe_columns[j], &woe_columns[k])))
            .find(|(_, r)| r.abs() > settings.max_correlation);
        if let Some((k, r)) = stronger {
            statuses[j] = CandidateStatus::Correlated {
                with: binned[k].name.clone(),
                r,
            };
        }
    }

    // Regression; drop the weakest wrong-signed column and refit until none is left.
    let train_labels: Vec<bool> = train_rows.iter().map(|&i| labels[i]).collect();
    let (intercept, coefficients, in_model) = loop {
        let in_model: Vec<usize> = (0..binned.len())
            .filter(|&j| statuses[j] == CandidateStatus::InModel)
            .collect();
        if in_model.is_empty() {
            return Err(TrainError(format!(
                "no column predicts {:?}: every candidate is under IV {}, correlated or of \
                 the wrong sign",
                options.target, settings.min_iv
            )));
        }
        let design: Vec<Vec<f64>> = (0..train_rows.len())
            .map(|r| in_model.iter().map(|&j| woe_columns[j][r]).collect())
            .collect();
        let beta = fit_logistic(&design, &train_labels, settings.ridge)?;
        let wrong = (0..in_model.len())
            .filter(|&m| beta[m + 1] >= 0.0)
            .min_by(|&a, &b| binned[in_model[a]].iv.total_cmp(&binned[in_model[b]].iv));
        match wrong {
            Some(m) => statuses[in_model[m]] = CandidateStatus::WrongSign,
            None => break (beta[0], beta[1..].to_vec(), in_model),
        }
    };

    let factor = settings.scaling.factor();
    let offset = settings.scaling.offset();
    let n = in_model.len() as f64;
    let points_of_woe = |beta: f64, woe: f64| -> i32 {
        (-(beta * woe + intercept / n) * factor + offset / n).round() as i32
    };
    let variables: Vec<VariableCard> = in_model
        .iter()
        .zip(&coefficients)
        .map(|(&j, &beta)| {
            let column = &binned[j];
            VariableCard {
                name: column.name.clone(),
                kind: column.kind,
                iv: column.iv,
                coefficient: beta,
                bins: column
                    .bins
                    .iter()
                    .map(|bin| VariableBin {
                        rule: bin.rule.clone(),
                        count: bin.counts.count,
                        bads: bin.counts.bads,
                        woe: bin.woe,
                        points: points_of_woe(beta, bin.woe),
                    })
                    .collect(),
                unmatched_points: points_of_woe(beta, 0.0),
            }
        })
        .collect();

    // Scores of every row from the integer points, as the model will score them.
    let scores: Vec<i32> = (0..labels.len())
        .map(|row| {
            in_model
                .iter()
                .zip(&variables)
                .map(|(&j, variable)| {
                    binned[j].row_bin[row]
                        .map_or(variable.unmatched_points, |bin| variable.bins[bin].points)
                })
                .fold(0i32, i32::saturating_add)
        })
        .collect();
    let risk = |rows: &[usize]| -> Vec<(f64, bool)> {
        rows.iter()
            .map(|&i| (-f64::from(scores[i]), labels[i]))
            .collect()
    };
    let (train_risk, test_risk) = (risk(&train_rows), risk(&test_rows));
    let train_scores: Vec<i32> = train_rows.iter().map(|&i| scores[i]).collect();
    let test_scores: Vec<i32> = test_rows.iter().map(|&i| scores[i]).collect();
    let validation = CsvValidation {
        rows: test_rows.len() as u64,
        bads: test_rows.iter().filter(|&&i| labels[i]).count() as u64,
        auc: auc(&test_risk),
        ks: ks(&test_risk),
        train_auc: auc(&train_risk),
        train_ks: ks(&train_risk),
        psi: psi(&train_scores, &test_scores),
    };

    candidates.extend(
        binned
            .iter()
            .zip(statuses)
            .map(|(column, status)| Candidate {
                name: column.name.clone(),
                kind: column.kind,
                iv: column.iv,
                bins: column.bins.len(),
                status,
            }),
    );
    candidates.sort_by(|a, b| b.iv.total_cmp(&a.iv).then_with(|| a.name.cmp(&b.name)));

    let model = CsvScorecard {
        version: options.model_version.clone(),
        target: options.target.clone(),
        training: CsvTrainingInfo {
            source: options.data.file_name().map_or_else(
                || options.data.display().to_string(),
                |name| name.to_string_lossy().into_owned(),
            ),
            split: split.description,
            rows: train_rows.len() as u64,
            bads: train_bads as u64,
        },
        scaling: settings.scaling,
        intercept,
        variables,
        candidates,
        validation,
    };
    if let Some(out) = &options.out {
        let json = model.to_json()?;
        std::fs::write(out, json + "\n")
            .map_err(|error| TrainError(format!("writing {}: {error}", out.display())))?;
    }
    let text = report_text(&model, options.out.as_deref());
    Ok(CsvTrainReport {
        holdout_auc: model.validation.auc,
        holdout_ks: model.validation.ks,
        psi: model.validation.psi,
        model,
        text,
    })
}

// ----------------------------------------------------------------------------------------
// Reading.

/// The CSV file: header and rows of trimmed text, every row as long as the header.
struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn read(path: &Path) -> Result<Table, TrainError> {
        let at = |error: csv::Error| TrainError(format!("{}: {error}", path.display()));
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_path(path)
            .map_err(at)?;
        let headers: Vec<String> = reader
            .headers()
            .map_err(at)?
            .iter()
            .map(str::to_owned)
            .collect();
        if headers.iter().all(String::is_empty) {
            return Err(TrainError(format!(
                "{}: empty file (no header row)",
                path.display()
            )));
        }
        let mut seen = BTreeSet::new();
        if let Some(duplicate) = headers.iter().find(|name| !seen.insert(name.as_str())) {
            return Err(TrainError(format!(
                "{}: column {duplicate:?} appears twice",
                path.display()
            )));
        }
        let rows = reader
            .records()
            .map(|record| record.map(|r| r.iter().map(str::to_owned).collect()))
            .collect::<Result<Vec<Vec<String>>, _>>()
            .map_err(at)?;
        if rows.is_empty() {
            return Err(TrainError(format!("{}: no data rows", path.display())));
        }
        Ok(Table { headers, rows })
    }

    fn column(&self, name: &str) -> Result<usize, TrainError> {
        self.headers
            .iter()
            .position(|header| header == name)
            .ok_or_else(|| {
                TrainError(format!(
                    "no column {name:?}; the columns are {}",
                    self.headers.join(", ")
                ))
            })
    }
}

fn parse_target(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "bad" => Some(true),
        "0" | "false" | "good" => Some(false),
        _ => None,
    }
}

/// The missing-value markers of pandas' CSV reader, less `None`, which in data such as
/// German credit is a category ("none": no other debtors).
fn is_missing(value: &str) -> bool {
    ["", "NA", "N/A", "n/a", "#N/A", "NaN", "nan", "null", "NULL"].contains(&value)
}

fn parse_number(value: &str) -> Option<f64> {
    value.parse::<f64>().ok().filter(|x| x.is_finite())
}

struct Split {
    column: Option<usize>,
    description: String,
}

/// Which rows train (`true`) and which are held out.
fn split_rows(table: &Table, options: &CsvTrainOptions) -> Result<(Vec<bool>, Split), TrainError> {
    let (is_train, split) = if let Some(name) = &options.split_column {
        let column = table.column(name)?;
        let is_train = table
            .rows
            .iter()
            .enumerate()
            .map(|(i, row)| match row[column].to_ascii_lowercase().as_str() {
                "train" => Ok(true),
                "test" => Ok(false),
                other => Err(TrainError(format!(
                    "line {}: split column {name:?} is {other:?}, not train or test",
                    i + 2
                ))),
            })
            .collect::<Result<Vec<bool>, _>>()?;
        let split = Split {
            column: Some(column),
            description: format!("column {name}"),
        };
        (is_train, split)
    } else {
        let fraction = options.holdout_fraction;
        if !(fraction > 0.0 && fraction < 1.0) {
            return Err(TrainError(format!(
                "hold-out fraction {fraction} is not between 0 and 1"
            )));
        }
        // A seeded Fisher–Yates shuffle; the first `holdout` rows of it are held out.
        let n = table.rows.len();
        let holdout = ((n as f64 * fraction).round() as usize).clamp(1, n);
        let mut order: Vec<usize> = (0..n).collect();
        let mut state = options.seed;
        for i in (1..n).rev() {
            let j = (split_mix(&mut state) % (i as u64 + 1)) as usize;
            order.swap(i, j);
        }
        let mut is_train = vec![true; n];
        for &i in &order[..holdout] {
            is_train[i] = false;
        }
        let split = Split {
            column: None,
            description: format!(
                "random, {:.0} % held out, seed {}",
                fraction * 100.0,
                options.seed
            ),
        };
        (is_train, split)
    };
    check_sides(&is_train)?;
    Ok((is_train, split))
}

fn check_sides(is_train: &[bool]) -> Result<(), TrainError> {
    let train = is_train.iter().filter(|&&t| t).count();
    if train == 0 || train == is_train.len() {
        return Err(TrainError(format!(
            "the split leaves {train} training and {} hold-out rows; both must be non-empty",
            is_train.len() - train
        )));
    }
    Ok(())
}

/// SplitMix64: a small, well-mixed generator for the seeded split.
fn split_mix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

// ----------------------------------------------------------------------------------------
// Binning.

#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Counts {
    count: u64,
    bads: u64,
}

impl Counts {
    fn add(&mut self, bad: bool) {
        self.count += 1;
        self.bads += u64::from(bad);
    }

    fn goods(self) -> u64 {
        self.count - self.bads
    }

    fn merged(self, other: Counts) -> Counts {
        Counts {
            count: self.count + other.count,
            bads: self.bads + other.bads,
        }
    }
}

struct ColumnBin {
    rule: BinRule,
    counts: Counts,
    woe: f64,
}

/// A column cut into bins on the training rows, and the bin of every row.
struct BinnedColumn {
    name: String,
    kind: ColumnKind,
    bins: Vec<ColumnBin>,
    iv: f64,
    /// Bin of each row of the file (training and hold-out); `None` if no bin holds it.
    row_bin: Vec<Option<usize>>,
}

impl BinnedColumn {
    fn woe_of_rows(&self, rows: &[usize]) -> Vec<f64> {
        rows.iter()
            .map(|&row| self.row_bin[row].map_or(0.0, |bin| self.bins[bin].woe))
            .collect()
    }
}

/// Bins a column; `None` for an identifier.
fn bin_column(
    name: &str,
    values: &[&str],
    labels: &[bool],
    is_train: &[bool],
    settings: &TrainSettings,
) -> Option<BinnedColumn> {
    let present = || values.iter().filter(|value| !is_missing(value));
    let numeric =
        present().next().is_some() && present().all(|value| parse_number(value).is_some());
    let (kind, rules, row_bin) = if numeric {
        let numbers: Vec<Option<f64>> = values
            .iter()
            .map(|value| {
                if is_missing(value) {
                    None
                } else {
                    parse_number(value)
                }
            })
            .collect();
        let (rules, row_bin) = bin_numeric(&numbers, labels, is_train, settings);
        (ColumnKind::Numeric, rules, row_bin)
    } else {
        let (rules, row_bin) = bin_categorical(values, labels, is_train, settings)?;
        (ColumnKind::Categorical, rules, row_bin)
    };
    let mut counts = vec![Counts::default(); rules.len()];
    for ((bin, &bad), &train) in row_bin.iter().zip(labels).zip(is_train) {
        if let (Some(bin), true) = (bin, train) {
            counts[*bin].add(bad);
        }
    }
    let (woe, iv) = woe_iv(&counts, settings.smoothing);
    Some(BinnedColumn {
        name: name.to_owned(),
        kind,
        bins: rules
            .into_iter()
            .zip(counts)
            .zip(woe)
            .map(|((rule, counts), woe)| ColumnBin { rule, counts, woe })
            .collect(),
        iv,
        row_bin,
    })
}

fn min_count(is_train: &[bool], settings: &TrainSettings) -> u64 {
    let rows = is_train.iter().filter(|&&t| t).count();
    ((rows as f64 * settings.min_bin_share).ceil() as u64).max(1)
}

type Binning = (Vec<BinRule>, Vec<Option<usize>>);

fn bin_numeric(
    numbers: &[Option<f64>],
    labels: &[bool],
    is_train: &[bool],
    settings: &TrainSettings,
) -> Binning {
    let mut sorted: Vec<(f64, bool)> = numbers
        .iter()
        .zip(labels)
        .zip(is_train)
        .filter_map(|((&number, &bad), &train)| number.filter(|_| train).map(|x| (x, bad)))
        .collect();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut distinct: Vec<f64> = sorted.iter().map(|&(x, _)| x).collect();
    distinct.dedup();
    // Fine classes: every distinct value when there are few, else equal-frequency cuts.
    let fine_cuts: Vec<f64> = if distinct.len() <= settings.fine_bins.max(2) {
        distinct.iter().skip(1).copied().collect()
    } else {
        let fine = settings.fine_bins.max(2);
        let mut cuts: Vec<f64> = (1..fine)
            .map(|q| sorted[q * sorted.len() / fine].0)
            .filter(|&cut| cut > distinct[0])
            .collect();
        cuts.dedup();
        cuts
    };
    let mut groups = vec![Counts::default(); fine_cuts.len() + 1];
    for &(x, bad) in &sorted {
        groups[fine_cuts.partition_point(|&cut| cut <= x)].add(bad);
    }
    let least = min_count(is_train, settings);
    let (free, free_iv) = choose_cuts(&groups, least, settings, false);
    let (monotone, monotone_iv) = choose_cuts(&groups, least, settings, true);
    let chosen = if monotone_iv >= (1.0 - settings.monotone_max_iv_loss) * free_iv {
        monotone
    } else {
        free
    };
    let cuts: Vec<f64> = chosen
        .iter()
        .map(|&boundary| fine_cuts[boundary - 1])
        .collect();
    let mut rules: Vec<BinRule> = (0..=cuts.len())
        .map(|i| BinRule::Range {
            lower: i.checked_sub(1).map(|j| cuts[j]),
            upper: cuts.get(i).copied(),
        })
        .collect();
    let missing_bin = numbers
        .iter()
        .zip(is_train)
        .any(|(number, &train)| train && number.is_none())
        .then(|| {
            rules.push(BinRule::Missing);
            rules.len() - 1
        });
    let row_bin = numbers
        .iter()
        .map(|number| match number {
            Some(x) => Some(cuts.partition_point(|&cut| cut <= *x)),
            None => missing_bin,
        })
        .collect();
    (rules, row_bin)
}

/// Categorical bins; `None` for an identifier (more than 20 categories, over half the rows).
fn bin_categorical(
    values: &[&str],
    labels: &[bool],
    is_train: &[bool],
    settings: &TrainSettings,
) -> Option<Binning> {
    let mut by_category: BTreeMap<&str, Counts> = BTreeMap::new();
    let mut train_rows = 0usize;
    let mut has_missing = false;
    for ((&value, &bad), &train) in values.iter().zip(labels).zip(is_train) {
        if !train {
            continue;
        }
        train_rows += 1;
        if is_missing(value) {
            has_missing = true;
        } else {
            by_category.entry(value).or_default().add(bad);
        }
    }
    if by_category.len() > 20 && by_category.len() * 2 > train_rows {
        return None;
    }
    // Groups of categories: each common category alone, the rare ones pooled as "other".
    let rare = settings.rare_category_share * train_rows as f64;
    let mut groups: Vec<(Vec<&str>, bool, Counts)> = Vec::new();
    let mut other: (Vec<&str>, bool, Counts) = (Vec::new(), true, Counts::default());
    for (&category, &counts) in &by_category {
        if (counts.count as f64) < rare {
            other.0.push(category);
            other.2 = other.2.merged(counts);
        } else {
            groups.push((vec![category], false, counts));
        }
    }
    if !other.0.is_empty() {
        groups.push(other);
    }
    // In order of bad rate (smoothed), so that neighbours have similar WOE.
    let c = settings.smoothing;
    let odds = |counts: &Counts| (counts.bads as f64 + c) / (counts.goods() as f64 + c);
    groups.sort_by(|a, b| odds(&a.2).total_cmp(&odds(&b.2)));

    let mut rules = Vec::new();
    if !groups.is_empty() {
        let counts: Vec<Counts> = groups.iter().map(|group| group.2).collect();
        let (chosen, _) = choose_cuts(&counts, min_count(is_train, settings), settings, false);
        let bounds: Vec<usize> = [0]
            .into_iter()
            .chain(chosen)
            .chain([groups.len()])
            .collect();
        for pair in bounds.windows(2) {
            let members = &groups[pair[0]..pair[1]];
            let mut values: Vec<String> = members
                .iter()
                .flat_map(|group| group.0.iter().map(|&v| v.to_owned()))
                .collect();
            values.sort();
            rules.push(BinRule::Categories {
                values,
                other: members.iter().any(|group| group.1),
            });
        }
    }
    let mut bin_of_category: HashMap<String, usize> = HashMap::new();
    let mut other_bin = None;
    for (bin, rule) in rules.iter().enumerate() {
        if let BinRule::Categories { values, other } = rule {
            for value in values {
                bin_of_category.insert(value.clone(), bin);
            }
            if *other {
                other_bin = Some(bin);
            }
        }
    }
    let missing_bin = has_missing.then(|| {
        rules.push(BinRule::Missing);
        rules.len() - 1
    });
    let row_bin = values
        .iter()
        .map(|&value| {
            if is_missing(value) {
                missing_bin
            } else {
                bin_of_category.get(value).copied().or(other_bin)
            }
        })
        .collect();
    Some((rules, row_bin))
}

/// The greedy best split on IV over ordered groups: boundaries (indices `1..groups.len()`,
/// a boundary `b` cuts between groups `b − 1` and `b`) and the IV they reach.
fn choose_cuts(
    groups: &[Counts],
    least: u64,
    settings: &TrainSettings,
    monotone: bool,
) -> (Vec<usize>, f64) {
    let mut chosen: Vec<usize> = Vec::new();
    let mut current = 0.0;
    while chosen.len() + 1 < settings.max_bins {
        let mut best: Option<(Vec<usize>, f64)> = None;
        for boundary in 1..groups.len() {
            if chosen.contains(&boundary) {
                continue;
            }
            // The halves of the bin this boundary cuts must differ.
            let start = chosen
                .iter()
                .copied()
                .filter(|&b| b < boundary)
                .max()
                .unwrap_or(0);
            let end = chosen
                .iter()
                .copied()
                .filter(|&b| b > boundary)
                .min()
                .unwrap_or(groups.len());
            let half = |range: std::ops::Range<usize>| {
                groups[range]
                    .iter()
                    .fold(Counts::default(), |sum, &group| sum.merged(group))
            };
            if chi_square(half(start..boundary), half(boundary..end)) < settings.split_min_chi2 {
                continue;
            }
            let mut candidate = chosen.clone();
            candidate.push(boundary);
            candidate.sort_unstable();
            let bins = merge_groups(groups, &candidate);
            if bins.iter().any(|bin| bin.count < least) {
                continue;
            }
            let (woe, iv) = woe_iv(&bins, settings.smoothing);
            if monotone && !is_monotone(&woe) {
                continue;
            }
            if best.as_ref().is_none_or(|(_, best_iv)| iv > *best_iv) {
                best = Some((candidate, iv));
            }
        }
        let Some((candidate, iv)) = best else { break };
        let gain = iv - current;
        if gain <= 0.0 || (current > 0.0 && gain < settings.split_min_gain * current) {
            break;
        }
        chosen = candidate;
        current = iv;
    }
    (chosen, current)
}

/// Pearson's chi-square of the 2×2 table good/bad × `a`/`b` (0 when a margin is empty).
fn chi_square(a: Counts, b: Counts) -> f64 {
    let n = (a.count + b.count) as f64;
    let bads = (a.bads + b.bads) as f64;
    let goods = n - bads;
    if a.count == 0 || b.count == 0 || bads == 0.0 || goods == 0.0 {
        return 0.0;
    }
    let cross = a.bads as f64 * b.goods() as f64 - a.goods() as f64 * b.bads as f64;
    n * cross * cross / (a.count as f64 * b.count as f64 * bads * goods)
}

fn merge_groups(groups: &[Counts], boundaries: &[usize]) -> Vec<Counts> {
    let mut bins = vec![Counts::default(); boundaries.len() + 1];
    let mut bin = 0;
    for (i, &group) in groups.iter().enumerate() {
        if boundaries.get(bin) == Some(&i) {
            bin += 1;
        }
        bins[bin] = bins[bin].merged(group);
    }
    bins
}

fn is_monotone(woe: &[f64]) -> bool {
    woe.windows(2).all(|pair| pair[1] >= pair[0]) || woe.windows(2).all(|pair| pair[1] <= pair[0])
}

/// Smoothed WOE of every bin and the IV of them all.
fn woe_iv(bins: &[Counts], c: f64) -> (Vec<f64>, f64) {
    let goods: u64 = bins.iter().map(|bin| bin.goods()).sum();
    let bads: u64 = bins.iter().map(|bin| bin.bads).sum();
    let k = bins.len() as f64;
    let mut iv = 0.0;
    let woe = bins
        .iter()
        .map(|bin| {
            let good_share = (bin.goods() as f64 + c) / (goods as f64 + c * k);
            let bad_share = (bin.bads as f64 + c) / (bads as f64 + c * k);
            let woe = (good_share / bad_share).ln();
            iv += (good_share - bad_share) * woe;
            woe
        })
        .collect();
    (woe, iv)
}

// ----------------------------------------------------------------------------------------
// Statistics.

fn correlation(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (mean_a, mean_b) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut cov, mut var_a, mut var_b) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        cov += (x - mean_a) * (y - mean_b);
        var_a += (x - mean_a) * (x - mean_a);
        var_b += (y - mean_b) * (y - mean_b);
    }
    if var_a <= 0.0 || var_b <= 0.0 {
        0.0
    } else {
        cov / (var_a * var_b).sqrt()
    }
}

/// Population stability index of `actual` against `expected`, over the deciles of
/// `expected` (ties kept together); empty shares count as 0.0001.
fn psi(expected: &[i32], actual: &[i32]) -> f64 {
    let mut sorted = expected.to_vec();
    sorted.sort_unstable();
    let mut cuts: Vec<i32> = (1..10).map(|q| sorted[q * sorted.len() / 10]).collect();
    cuts.dedup();
    let shares = |scores: &[i32]| -> Vec<f64> {
        let mut counts = vec![0usize; cuts.len() + 1];
        for &score in scores {
            counts[cuts.partition_point(|&cut| cut <= score)] += 1;
        }
        counts
            .iter()
            .map(|&count| (count as f64 / scores.len().max(1) as f64).max(1e-4))
            .collect()
    };
    let (e, a) = (shares(expected), shares(actual));
    e.iter().zip(&a).map(|(e, a)| (a - e) * (a / e).ln()).sum()
}

/// Logistic regression with an L2 ridge on the coefficients (the scorecard's solver):
/// maximises `Σ log-likelihood − λ/2 · Σ_{j≥1} β_j²`. Returns `[α, β…]`.
fn fit_logistic(design: &[Vec<f64>], labels: &[bool], ridge: f64) -> Result<Vec<f64>, TrainError> {
    fit_logistic_ridge(design, labels, ridge, 1e-9)
        .map_err(|e| TrainError(format!("regression: {e}")))
}

// ----------------------------------------------------------------------------------------
// The report.

fn report_text(model: &CsvScorecard, out: Option<&Path>) -> String {
    let mut text = String::new();
    let training = &model.training;
    let validation = &model.validation;
    let rate = |bads: u64, rows: u64| 100.0 * bads as f64 / rows.max(1) as f64;
    // Writing to a String cannot fail.
    let _ = writeln!(
        text,
        "scorecard {} on {} (target {}; split: {})",
        model.version, training.source, model.target, training.split
    );
    let _ = writeln!(
        text,
        "training {} rows, {} bad ({:.1} %); hold-out {} rows, {} bad ({:.1} %)",
        training.rows,
        training.bads,
        rate(training.bads, training.rows),
        validation.rows,
        validation.bads,
        rate(validation.bads, validation.rows),
    );
    let width = model
        .candidates
        .iter()
        .map(|c| c.name.chars().count())
        .max()
        .unwrap_or(8)
        .max(8);
    let _ = writeln!(text, "\ninformation value");
    let _ = writeln!(
        text,
        "  {:<width$}  {:<11}  {:>4}  {:>6}  status",
        "column", "type", "bins", "IV"
    );
    for candidate in &model.candidates {
        let kind = match candidate.kind {
            ColumnKind::Numeric => "numeric",
            ColumnKind::Categorical => "categorical",
        };
        let _ = writeln!(
            text,
            "  {:<width$}  {kind:<11}  {:>4}  {:>6.3}  {}",
            candidate.name, candidate.bins, candidate.iv, candidate.status
        );
    }
    let scaling = &model.scaling;
    let _ = writeln!(
        text,
        "\nscorecard: {} variables; {} points at odds {}:1, {} points to double; intercept {:.4}",
        model.variables.len(),
        scaling.base,
        scaling.base_odds,
        scaling.pdo,
        model.intercept
    );
    for variable in &model.variables {
        let _ = writeln!(
            text,
            "  {} (IV {:.3}, coefficient {:.3})",
            variable.name, variable.iv, variable.coefficient
        );
        for bin in &variable.bins {
            let _ = writeln!(
                text,
                "    {:<40}  {:>6} rows  {:>5.1} % bad  WOE {:>+6.3}  {:>4} points",
                bin.rule.to_string(),
                bin.count,
                rate(bin.bads, bin.count),
                bin.woe,
                bin.points
            );
        }
        let _ = writeln!(
            text,
            "    {:<40}  {:>55} points",
            "(no bin)", variable.unmatched_points
        );
    }
    let _ = writeln!(
        text,
        "\nhold-out AUC {:.4}  KS {:.4}  (training AUC {:.4}  KS {:.4});  PSI training → hold-out {:.4}",
        validation.auc, validation.ks, validation.train_auc, validation.train_ks, validation.psi
    );
    if let Some(out) = out {
        let _ = writeln!(text, "model written to {}", out.display());
    }
    text
}
