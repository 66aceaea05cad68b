//! `bianmin lending train`: fits a scorecard on any CSV file.

use std::fmt;
use std::path::PathBuf;

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

/// Why training failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TrainError(pub String);

/// What training produced: the report printed by the CLI.
#[derive(Debug, Clone, PartialEq)]
pub struct CsvTrainReport {
    /// Hold-out AUC.
    pub holdout_auc: f64,
    text: String,
}

impl fmt::Display for CsvTrainReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Trains a scorecard on a CSV file.
pub fn train_csv(options: &CsvTrainOptions) -> Result<CsvTrainReport, TrainError> {
    let _ = options;
    Err(TrainError("not built yet".into()))
}
