//! The application scorecard: what the agencies report about an applicant, turned into
//! integer points, an estimated probability of default and the reasons that cost the most.
//!
//! # The model
//!
//! Each [`Feature`] is cut into bins (equal-frequency cut points, 6 at most, then, for the
//! features whose risk should move one way only, adjacent bins pooled until the bad rate is
//! monotone). Each bin carries its *weight of evidence*
//!
//! ```text
//! WOE = ln( ((good_i + c) / (G + c·k)) / ((bad_i + c) / (B + c·k)) )
//! ```
//!
//! (`G`, `B` the totals, `k` the number of bins, `c` the smoothing constant, 0.5 by default),
//! and the feature its *information value* `IV = Σ (%good_i − %bad_i) · WOE_i`. A logistic
//! regression of the default flag on the WOE values, `logit(pd) = α + Σ β_j · WOE_j`, is fitted
//! by iteratively reweighted least squares in `f64`; a feature whose coefficient comes out
//! non-negative (against its own WOE) is dropped and the rest refitted.
//!
//! # Points
//!
//! A score is `offset + factor · ln(odds)`, odds good:bad, scaled so that `base` points mean
//! odds of `base_odds`:1 and every `pdo` more points double the odds:
//!
//! ```text
//! factor = pdo / ln 2
//! offset = base − factor · ln(base_odds)
//! points per attribute = round( −(β_j · WOE_ij + α / n) · factor + offset / n )
//! ```
//!
//! with `n` the number of features in the model; base 600 at 50:1 and PDO 20 for version 1.
//! The score of an applicant is the sum of the integer points of their attributes, so the same
//! [`Scorecard`] (by [`Scorecard::version`]) and the same [`Features`] always give the same
//! points; [`inputs_hash`] fingerprints the inputs so a decision can be replayed.
//!
//! Training uses floats; scoring uses only the integer points stored in the model (the
//! probability estimate is derived from the points).

use std::sync::OnceLock;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// How an applicant earns a living, as the agencies' answers show it (社保 status and
/// scheme, the kind of income on the latest tax return).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmploymentKind {
    /// Employee social insurance being paid (职工参保缴费).
    Employed,
    /// Business income (经营所得) on the latest tax return.
    SelfEmployed,
    /// Flexible-employment social insurance (灵活就业) or remuneration income (劳务报酬).
    Flexible,
    /// No current contributions and no income on record.
    NoIncomeRecord,
    /// Drawing a pension (社保 status 退休).
    Retired,
}

impl EmploymentKind {
    /// The code the bins use (0–4, in declaration order).
    pub fn code(self) -> i64 {
        match self {
            Self::Employed => 0,
            Self::SelfEmployed => 1,
            Self::Flexible => 2,
            Self::NoIncomeRecord => 3,
            Self::Retired => 4,
        }
    }
}

/// The applicant's inputs to the scorecard: plain numbers and flags the decision engine
/// extracts from the agencies' answers (never a hidden field).
///
/// Field order is the canonical order of [`Features::canonical_json`]; all fields are
/// integers, flags or an enum, so the JSON is canonical.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Features {
    /// Age in whole years (公安 identity).
    pub age: u32,
    /// Monthly income in yuan: the latest year's gross income on the tax return over 12, or
    /// the housing-fund deposit base when there is no return; 0 when neither exists.
    pub monthly_income_yuan: u32,
    /// Months contributed to the housing fund (公积金), 0 without an account.
    pub fund_months: u32,
    /// How the applicant earns a living.
    pub employment: EmploymentKind,
    /// Monthly repayments on the credit report over monthly income, in per mille, with
    /// incomes below 1,500 yuan counted as 1,500 and the ratio capped at 2,000 ‰.
    pub dti_permille: u32,
    /// Days currently overdue on the credit report (0: nothing overdue).
    pub overdue_days: u32,
    /// Worst repayment status of the 24-month history on the credit report, 0–7.
    pub worst_status_24m: u32,
    /// Credit inquiries in the last six months.
    pub inquiries_6m: u32,
    /// Credit-card utilisation in percent of the total limit (0 without cards), capped at 200.
    pub card_utilisation_pct: u32,
    /// Listed as 失信被执行人 by the courts.
    pub dishonest: bool,
    /// Court cases not yet closed.
    pub open_court_cases: u32,
}

impl Features {
    /// The canonical JSON of these inputs: the fields in declaration order, no whitespace.
    pub fn canonical_json(&self) -> String {
        // A struct of integers, flags and a unit enum always serialises.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The SM3 digest, in lower-case hex, of [`Features::canonical_json`]: recorded with a
/// decision so that it can be replayed (same scorecard version, same inputs, same points).
pub fn inputs_hash(features: &Features) -> String {
    hex::encode(bianmin_crypto::sm3_digest(
        features.canonical_json().as_bytes(),
    ))
}

/// One input of the scorecard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Feature {
    /// [`Features::overdue_days`].
    OverdueDays,
    /// [`Features::worst_status_24m`].
    WorstStatus24m,
    /// [`Features::dishonest`].
    Dishonest,
    /// [`Features::dti_permille`].
    DebtToIncome,
    /// [`Features::inquiries_6m`].
    Inquiries6m,
    /// [`Features::card_utilisation_pct`].
    CardUtilisation,
    /// [`Features::monthly_income_yuan`].
    MonthlyIncome,
    /// [`Features::fund_months`].
    FundMonths,
    /// [`Features::employment`].
    Employment,
    /// [`Features::age`].
    Age,
    /// [`Features::open_court_cases`].
    OpenCourtCases,
}

impl Feature {
    /// Every feature, in reason-code order.
    pub const ALL: [Feature; 11] = [
        Feature::OverdueDays,
        Feature::WorstStatus24m,
        Feature::Dishonest,
        Feature::DebtToIncome,
        Feature::Inquiries6m,
        Feature::CardUtilisation,
        Feature::MonthlyIncome,
        Feature::FundMonths,
        Feature::Employment,
        Feature::Age,
        Feature::OpenCourtCases,
    ];

    /// The feature's value for `features`, as the bins read it.
    pub fn value(self, features: &Features) -> i64 {
        match self {
            Self::OverdueDays => i64::from(features.overdue_days),
            Self::WorstStatus24m => i64::from(features.worst_status_24m),
            Self::Dishonest => i64::from(features.dishonest),
            Self::DebtToIncome => i64::from(features.dti_permille),
            Self::Inquiries6m => i64::from(features.inquiries_6m),
            Self::CardUtilisation => i64::from(features.card_utilisation_pct),
            Self::MonthlyIncome => i64::from(features.monthly_income_yuan),
            Self::FundMonths => i64::from(features.fund_months),
            Self::Employment => features.employment.code(),
            Self::Age => i64::from(features.age),
            Self::OpenCourtCases => i64::from(features.open_court_cases),
        }
    }

    /// The stable reason code (`R01`…`R11`) and its Chinese text, given when the feature
    /// costs the applicant points.
    pub fn reason(self) -> (&'static str, &'static str) {
        match self {
            Self::OverdueDays => ("R01", "近期有逾期记录"),
            Self::WorstStatus24m => ("R02", "近24个月有逾期还款记录"),
            Self::Dishonest => ("R03", "被列为失信被执行人"),
            Self::DebtToIncome => ("R04", "负债收入比偏高"),
            Self::Inquiries6m => ("R05", "近6个月征信查询次数较多"),
            Self::CardUtilisation => ("R06", "信用卡额度使用率偏高"),
            Self::MonthlyIncome => ("R07", "收入水平偏低"),
            Self::FundMonths => ("R08", "公积金缴存时间较短"),
            Self::Employment => ("R09", "就业状况稳定性不足"),
            Self::Age => ("R10", "年龄段风险较高"),
            Self::OpenCourtCases => ("R11", "有未结诉讼案件"),
        }
    }

    /// Whether the risk may only move one way with the value (bins pooled until monotone);
    /// age and employment are binned as they come.
    fn monotone(self) -> bool {
        !matches!(self, Self::Employment | Self::Age)
    }

    /// Whether every value is its own bin (a category code).
    fn categorical(self) -> bool {
        matches!(self, Self::Employment)
    }
}

/// One attribute (bin) of a feature: the values up to `upper` (inclusive) above the
/// previous bin's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bin {
    /// Largest value in the bin; `None` for the last bin (no upper limit).
    pub upper: Option<i64>,
    /// Training applicants in the bin.
    pub count: u64,
    /// Of them, defaults.
    pub bads: u64,
    /// Weight of evidence, `ln(%good / %bad)` (smoothed): above 0 is safer than average.
    pub woe: f64,
    /// Points of the attribute.
    pub points: i32,
}

/// A feature's part of the scorecard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureCard {
    /// The feature.
    pub feature: Feature,
    /// Information value on the training sample.
    pub iv: f64,
    /// Logistic-regression coefficient on the WOE (negative).
    pub coefficient: f64,
    /// The bins, in increasing order of `upper`; the last has no upper limit.
    pub bins: Vec<Bin>,
}

impl FeatureCard {
    /// The bin a value falls in (the last bin if no `upper` holds it).
    pub fn bin_of(&self, value: i64) -> Option<&Bin> {
        self.bins
            .iter()
            .find(|bin| bin.upper.is_none_or(|upper| value <= upper))
            .or(self.bins.last())
    }

    fn best_points(&self) -> i32 {
        self.bins.iter().map(|bin| bin.points).max().unwrap_or(0)
    }
}

/// Points scaling: `base` points at odds `base_odds`:1, `pdo` points to double the odds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Scaling {
    /// Score at the base odds (600).
    pub base: f64,
    /// Good:bad odds at the base score (50).
    pub base_odds: f64,
    /// Points to double the odds (20).
    pub pdo: f64,
}

impl Scaling {
    /// `pdo / ln 2`.
    pub fn factor(&self) -> f64 {
        self.pdo / std::f64::consts::LN_2
    }

    /// `base − factor · ln(base_odds)`.
    pub fn offset(&self) -> f64 {
        self.base - self.factor() * self.base_odds.ln()
    }
}

impl Default for Scaling {
    fn default() -> Self {
        Self {
            base: 600.0,
            base_odds: 50.0,
            pdo: 20.0,
        }
    }
}

/// Where the training sample came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrainingInfo {
    /// Free description of the source (e.g. `govsim seed 20261129, population 100000`).
    pub source: String,
    /// Seed of the source.
    pub seed: u64,
    /// Applicants trained on.
    pub size: u64,
    /// Of them, defaults.
    pub bads: u64,
}

/// Performance measured on a hold-out sample, recorded with the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Validation {
    /// Description of the hold-out sample.
    pub sample: String,
    /// Applicants in it.
    pub size: u64,
    /// AUC of the points (Mann–Whitney).
    pub auc: f64,
    /// Kolmogorov–Smirnov statistic of the points.
    pub ks: f64,
    /// AUC of the source's hidden true PD on the same sample, if known (the ceiling).
    pub ceiling_auc: Option<f64>,
}

/// A trained, versioned scorecard. Serialisable: the shipped model is
/// `crates/lending/models/scorecard-v1.json` ([`Scorecard::embedded`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scorecard {
    /// Model version (`scorecard-v1`); a decision records it with [`inputs_hash`].
    pub version: String,
    /// The training sample.
    pub training: TrainingInfo,
    /// Points scaling.
    pub scaling: Scaling,
    /// Logistic-regression intercept α.
    pub intercept: f64,
    /// The features in the model with their bins and points.
    pub features: Vec<FeatureCard>,
    /// Information value of every feature considered (including any dropped from the model).
    pub iv: Vec<(Feature, f64)>,
    /// Hold-out performance, if measured.
    pub validation: Option<Validation>,
}

/// A reason the applicant lost points.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReasonCode {
    /// Stable code, `R01`–`R11` (see [`Feature::reason`]).
    pub code: &'static str,
    /// Chinese text for the applicant, e.g. 近期有逾期记录.
    pub text: &'static str,
    /// The feature.
    pub feature: Feature,
    /// Points below the feature's best attribute.
    pub points_lost: i32,
}

/// The result of scoring an applicant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Scored {
    /// Total points (higher is safer).
    pub points: i32,
    /// Estimated 12-month probability of default implied by the points,
    /// `1 / (1 + exp((points − offset) / factor))`, to 6 decimal places.
    pub pd_estimate: Decimal,
    /// Up to four features that cost the most points relative to their best attribute,
    /// worst first (ties in reason-code order); features at their best are not listed.
    pub reasons: Vec<ReasonCode>,
}

/// Why a scorecard could not be trained or loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScorecardError {
    /// The model JSON does not parse.
    #[error("scorecard JSON: {0}")]
    Json(String),
    /// The model is inconsistent (bins out of order, a feature without bins…).
    #[error("invalid scorecard: {0}")]
    Invalid(String),
    /// The training sample is empty, one-sided or of mismatched lengths.
    #[error("cannot train: {0}")]
    Training(String),
}

const EMBEDDED_JSON: &str = include_str!("../models/scorecard-v1.json");

impl Scorecard {
    /// The shipped model (`models/scorecard-v1.json`, compiled in), parsed once.
    ///
    /// # Errors
    ///
    /// If the compiled-in file is not a valid scorecard (a build problem, not an input one).
    pub fn embedded() -> Result<&'static Scorecard, ScorecardError> {
        static EMBEDDED: OnceLock<Result<Scorecard, ScorecardError>> = OnceLock::new();
        EMBEDDED
            .get_or_init(|| Scorecard::from_json(EMBEDDED_JSON))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Parses and checks a model.
    ///
    /// # Errors
    ///
    /// [`ScorecardError::Json`] if it does not parse, [`ScorecardError::Invalid`] if a
    /// feature has no bins, appears twice, or its bins are not in increasing order ending with
    /// an open bin.
    pub fn from_json(json: &str) -> Result<Scorecard, ScorecardError> {
        let card: Scorecard =
            serde_json::from_str(json).map_err(|error| ScorecardError::Json(error.to_string()))?;
        card.validate()?;
        Ok(card)
    }

    /// The model as pretty JSON.
    ///
    /// # Errors
    ///
    /// If a statistic is not finite (JSON has no NaN).
    pub fn to_json(&self) -> Result<String, ScorecardError> {
        serde_json::to_string_pretty(self).map_err(|error| ScorecardError::Json(error.to_string()))
    }

    fn validate(&self) -> Result<(), ScorecardError> {
        if self.features.is_empty() {
            return Err(ScorecardError::Invalid("no features".into()));
        }
        for (position, card) in self.features.iter().enumerate() {
            let name = format!("{:?}", card.feature);
            if self.features[..position]
                .iter()
                .any(|other| other.feature == card.feature)
            {
                return Err(ScorecardError::Invalid(format!("{name} twice")));
            }
            let Some((last, rest)) = card.bins.split_last() else {
                return Err(ScorecardError::Invalid(format!("{name} has no bins")));
            };
            if last.upper.is_some() {
                return Err(ScorecardError::Invalid(format!(
                    "{name}: the last bin must be open"
                )));
            }
            let mut previous = None;
            for bin in rest {
                let Some(upper) = bin.upper else {
                    return Err(ScorecardError::Invalid(format!(
                        "{name}: only the last bin may be open"
                    )));
                };
                if previous.is_some_and(|previous| upper <= previous) {
                    return Err(ScorecardError::Invalid(format!(
                        "{name}: bins out of order"
                    )));
                }
                previous = Some(upper);
            }
        }
        Ok(())
    }

    /// Scores an applicant: integer points, the implied PD and the top four reasons.
    /// Deterministic: depends only on the model and `features`.
    pub fn score(&self, features: &Features) -> Scored {
        let mut points = 0i32;
        let mut losses = Vec::new();
        for card in &self.features {
            let Some(bin) = card.bin_of(card.feature.value(features)) else {
                continue;
            };
            points = points.saturating_add(bin.points);
            let lost = card.best_points().saturating_sub(bin.points);
            if lost > 0 {
                losses.push((card.feature, lost));
            }
        }
        // Worst first; ties in reason-code order (the order of `Feature::ALL`).
        losses.sort_by_key(|&(feature, lost)| {
            let rank = Feature::ALL.iter().position(|&f| f == feature);
            (std::cmp::Reverse(lost), rank)
        });
        let reasons = losses
            .into_iter()
            .take(4)
            .map(|(feature, points_lost)| {
                let (code, text) = feature.reason();
                ReasonCode {
                    code,
                    text,
                    feature,
                    points_lost,
                }
            })
            .collect();
        Scored {
            points,
            pd_estimate: self.pd_of_points(points),
            reasons,
        }
    }

    /// The probability of default implied by `points`: `1 / (1 + odds)` with
    /// `odds = exp((points − offset) / factor)`, to 6 decimal places.
    pub fn pd_of_points(&self, points: i32) -> Decimal {
        let odds = ((f64::from(points) - self.scaling.offset()) / self.scaling.factor()).exp();
        let pd = 1.0 / (1.0 + odds);
        Decimal::from_f64_retain(pd)
            .unwrap_or(Decimal::ONE)
            .round_dp(6)
    }
}

// ----------------------------------------------------------------------------------------
// Training.

/// Settings of [`train`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingConfig {
    /// Version string of the model produced.
    pub version: String,
    /// Description of the source, for [`TrainingInfo::source`].
    pub source: String,
    /// Seed of the source.
    pub seed: u64,
    /// Most bins per feature before pooling (5–8 is usual).
    pub max_bins: usize,
    /// Smoothing constant `c` added to the good and bad counts of every bin.
    pub smoothing: f64,
    /// Points scaling.
    pub scaling: Scaling,
}

impl Default for TrainingConfig {
    fn default() -> Self {
        Self {
            version: "scorecard-v1".into(),
            source: String::new(),
            seed: 0,
            max_bins: 6,
            smoothing: 0.5,
            scaling: Scaling::default(),
        }
    }
}

/// Trains a scorecard on `samples` (inputs and whether the applicant defaulted).
///
/// # Errors
///
/// [`ScorecardError::Training`] if the sample has no defaults or no non-defaults, or the
/// regression does not converge to finite coefficients.
pub fn train(
    samples: &[(Features, bool)],
    config: &TrainingConfig,
) -> Result<Scorecard, ScorecardError> {
    let bads = samples.iter().filter(|(_, bad)| *bad).count();
    let goods = samples.len() - bads;
    if bads == 0 || goods == 0 {
        return Err(ScorecardError::Training(format!(
            "{bads} defaults and {goods} non-defaults"
        )));
    }
    let labels: Vec<bool> = samples.iter().map(|(_, bad)| *bad).collect();
    let mut cards: Vec<FeatureCard> = Feature::ALL
        .iter()
        .map(|&feature| {
            let values: Vec<i64> = samples.iter().map(|(f, _)| feature.value(f)).collect();
            bin_feature(feature, &values, &labels, config)
        })
        .collect();
    let iv: Vec<(Feature, f64)> = cards.iter().map(|card| (card.feature, card.iv)).collect();
    // A feature with a single bin says nothing.
    cards.retain(|card| card.bins.len() > 1);

    // Fit, drop features with a non-negative coefficient, refit.
    let (intercept, coefficients) = loop {
        let design: Vec<Vec<f64>> = samples
            .iter()
            .map(|(features, _)| {
                cards
                    .iter()
                    .map(|card| {
                        card.bin_of(card.feature.value(features))
                            .map_or(0.0, |bin| bin.woe)
                    })
                    .collect()
            })
            .collect();
        let beta = fit_logistic(&design, &labels)?;
        // Drop one wrong-signed feature at a time (the weakest), since dropping a feature
        // can set right the sign of a correlated one.
        let wrong = (0..cards.len())
            .filter(|&j| beta[j + 1] >= 0.0)
            .min_by(|&a, &b| cards[a].iv.total_cmp(&cards[b].iv));
        match wrong {
            Some(j) if cards.len() > 1 => {
                cards.remove(j);
            }
            _ => break (beta[0], beta[1..].to_vec()),
        }
    };

    let factor = config.scaling.factor();
    let offset = config.scaling.offset();
    let n = cards.len() as f64;
    for (card, &beta) in cards.iter_mut().zip(&coefficients) {
        card.coefficient = beta;
        for bin in &mut card.bins {
            let points = -(beta * bin.woe + intercept / n) * factor + offset / n;
            bin.points = points.round() as i32;
        }
    }
    let card = Scorecard {
        version: config.version.clone(),
        training: TrainingInfo {
            source: config.source.clone(),
            seed: config.seed,
            size: samples.len() as u64,
            bads: bads as u64,
        },
        scaling: config.scaling,
        intercept,
        features: cards,
        iv,
        validation: None,
    };
    card.validate()?;
    Ok(card)
}

/// Good/bad counts of consecutive value ranges.
struct RawBin {
    upper: Option<i64>,
    count: u64,
    bads: u64,
}

fn bin_feature(
    feature: Feature,
    values: &[i64],
    labels: &[bool],
    config: &TrainingConfig,
) -> FeatureCard {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let max = sorted.last().copied().unwrap_or(0);
    let mut uppers: Vec<i64> = if feature.categorical() {
        let mut codes = sorted.clone();
        codes.dedup();
        codes
    } else {
        let bins = config.max_bins.max(2);
        (1..bins)
            .filter_map(|i| sorted.get(i * sorted.len() / bins).copied())
            .collect()
    };
    uppers.dedup();
    uppers.retain(|&upper| upper < max);

    let mut raw: Vec<RawBin> = uppers
        .iter()
        .map(|&upper| Some(upper))
        .chain([None])
        .map(|upper| RawBin {
            upper,
            count: 0,
            bads: 0,
        })
        .collect();
    for (&value, &bad) in values.iter().zip(labels) {
        let position = raw
            .iter()
            .position(|bin| bin.upper.is_none_or(|upper| value <= upper))
            .unwrap_or(raw.len() - 1);
        raw[position].count += 1;
        raw[position].bads += u64::from(bad);
    }
    raw.retain(|bin| bin.count > 0 || bin.upper.is_none());

    if feature.monotone() {
        pool_adjacent_violators(&mut raw);
    }

    let total_bads: u64 = raw.iter().map(|bin| bin.bads).sum();
    let total_goods: u64 = raw.iter().map(|bin| bin.count - bin.bads).sum();
    let c = config.smoothing;
    let k = raw.len() as f64;
    let mut iv = 0.0;
    let bins = raw
        .iter()
        .map(|bin| {
            let good_share = ((bin.count - bin.bads) as f64 + c) / (total_goods as f64 + c * k);
            let bad_share = (bin.bads as f64 + c) / (total_bads as f64 + c * k);
            let woe = (good_share / bad_share).ln();
            iv += (good_share - bad_share) * woe;
            Bin {
                upper: bin.upper,
                count: bin.count,
                bads: bin.bads,
                woe,
                points: 0,
            }
        })
        .collect();
    FeatureCard {
        feature,
        iv,
        coefficient: 0.0,
        bins,
    }
}

/// Merges adjacent bins until the bad rate moves one way only, the way of the
/// count-weighted trend of the bins.
fn pool_adjacent_violators(raw: &mut Vec<RawBin>) {
    let rate = |bin: &RawBin| bin.bads as f64 / (bin.count as f64).max(1.0);
    let (first, last) = match (raw.first(), raw.last()) {
        (Some(first), Some(last)) => (rate(first), rate(last)),
        _ => return,
    };
    let increasing = last >= first;
    loop {
        let violation = raw.windows(2).position(|pair| {
            let (a, b) = (rate(&pair[0]), rate(&pair[1]));
            if increasing { b < a } else { b > a }
        });
        let Some(i) = violation else { break };
        let next = raw.remove(i + 1);
        raw[i].upper = next.upper;
        raw[i].count += next.count;
        raw[i].bads += next.bads;
    }
}

/// Logistic regression by iteratively reweighted least squares (Newton–Raphson):
/// `β ← β + (XᵀWX)⁻¹ Xᵀ(y − p)`, with a tiny jitter for stability. Returns `[α, β…]`.
fn fit_logistic(design: &[Vec<f64>], labels: &[bool]) -> Result<Vec<f64>, ScorecardError> {
    fit_logistic_ridge(design, labels, 0.0, 1e-6).map_err(|e| ScorecardError::Training(e.into()))
}

/// Logistic regression by Newton–Raphson (IRLS) with step halving, maximising
/// `Σ log-likelihood − ridge/2 · Σ_{j≥1} β_j²`; `jitter` is added to every diagonal entry of
/// the information matrix to keep it invertible. Returns `[α, β…]`. Shared by [`train`] (no
/// ridge) and [`crate::train`] (a ridge).
#[allow(clippy::needless_range_loop)] // matrix arithmetic reads best with indices
pub(crate) fn fit_logistic_ridge(
    design: &[Vec<f64>],
    labels: &[bool],
    ridge: f64,
    jitter: f64,
) -> Result<Vec<f64>, &'static str> {
    let k = design.first().map_or(0, Vec::len) + 1;
    let mean = labels.iter().filter(|&&bad| bad).count() as f64 / labels.len().max(1) as f64;
    let mut beta = vec![0.0; k];
    beta[0] = (mean / (1.0 - mean)).ln();
    let objective = |beta: &[f64]| -> f64 {
        let likelihood: f64 = design
            .iter()
            .zip(labels)
            .map(|(x, &bad)| {
                let eta = beta[0] + x.iter().zip(&beta[1..]).map(|(a, b)| a * b).sum::<f64>();
                // ln p = −ln(1 + e^−η), ln(1 − p) = −ln(1 + e^η)
                if bad {
                    -(-eta).exp().ln_1p()
                } else {
                    -eta.exp().ln_1p()
                }
            })
            .sum();
        likelihood - ridge / 2.0 * beta[1..].iter().map(|b| b * b).sum::<f64>()
    };
    let mut current = objective(&beta);
    let mut row = vec![0.0; k];
    for _ in 0..100 {
        let mut hessian = vec![vec![0.0; k]; k];
        let mut gradient = vec![0.0; k];
        for (x, &bad) in design.iter().zip(labels) {
            row[0] = 1.0;
            row[1..].copy_from_slice(x);
            let eta: f64 = row.iter().zip(&beta).map(|(a, b)| a * b).sum();
            let p = 1.0 / (1.0 + (-eta).exp());
            let w = (p * (1.0 - p)).max(1e-10);
            let residual = f64::from(u8::from(bad)) - p;
            for a in 0..k {
                gradient[a] += row[a] * residual;
                for b in 0..=a {
                    hessian[a][b] += w * row[a] * row[b];
                }
            }
        }
        for a in 0..k {
            hessian[a][a] += jitter;
            if a > 0 {
                hessian[a][a] += ridge;
                gradient[a] -= ridge * beta[a];
            }
            for b in 0..a {
                hessian[b][a] = hessian[a][b];
            }
        }
        let step = solve(hessian, gradient).ok_or("singular information matrix")?;
        // Step halving: never accept a step that lowers the objective.
        let mut scale = 1.0;
        let mut accepted = None;
        for _ in 0..30 {
            let candidate: Vec<f64> = beta.iter().zip(&step).map(|(b, s)| b + scale * s).collect();
            let value = objective(&candidate);
            if value.is_finite() && value >= current - 1e-12 {
                accepted = Some((candidate, value));
                break;
            }
            scale /= 2.0;
        }
        let Some((candidate, value)) = accepted else {
            break;
        };
        let change = step.iter().fold(0.0f64, |m, s| m.max((scale * s).abs()));
        beta = candidate;
        current = value;
        if !beta.iter().all(|b| b.is_finite()) {
            return Err("coefficients diverged");
        }
        if change < 1e-9 {
            break;
        }
    }
    Ok(beta)
}

/// Solves `a · x = b` by Gaussian elimination with partial pivoting.
#[allow(clippy::needless_range_loop)] // matrix arithmetic reads best with indices
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    for col in 0..n {
        let pivot = (col..n).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, pivot);
        b.swap(col, pivot);
        for row in col + 1..n {
            let f = a[row][col] / a[col][col];
            for c in col..n {
                a[row][c] -= f * a[col][c];
            }
            b[row] -= f * b[col];
        }
    }
    let mut x = vec![0.0; n];
    for row in (0..n).rev() {
        let s: f64 = (row + 1..n).map(|c| a[row][c] * x[c]).sum();
        x[row] = (b[row] - s) / a[row][row];
    }
    Some(x)
}

// ----------------------------------------------------------------------------------------
// Metrics.

/// Area under the ROC curve (Mann–Whitney, ties counted half) of `risk` (higher = riskier)
/// against the default flags; 0.5 if either class is empty. For points, pass `−points`.
pub fn auc(scored: &[(f64, bool)]) -> f64 {
    let mut sorted = scored.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let bads = sorted.iter().filter(|(_, bad)| *bad).count() as f64;
    let goods = sorted.len() as f64 - bads;
    if bads == 0.0 || goods == 0.0 {
        return 0.5;
    }
    // Sum of the (average) ranks of the defaults.
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i;
        while j < sorted.len() && sorted[j].0 == sorted[i].0 {
            j += 1;
        }
        let average_rank = (i + 1 + j) as f64 / 2.0;
        rank_sum += average_rank * sorted[i..j].iter().filter(|(_, bad)| *bad).count() as f64;
        i = j;
    }
    (rank_sum - bads * (bads + 1.0) / 2.0) / (bads * goods)
}

/// Kolmogorov–Smirnov statistic: the largest gap between the cumulative shares of defaults
/// and non-defaults over thresholds of `risk`; 0 if either class is empty.
pub fn ks(scored: &[(f64, bool)]) -> f64 {
    let mut sorted = scored.to_vec();
    sorted.sort_by(|a, b| b.0.total_cmp(&a.0));
    let bads = sorted.iter().filter(|(_, bad)| *bad).count() as f64;
    let goods = sorted.len() as f64 - bads;
    if bads == 0.0 || goods == 0.0 {
        return 0.0;
    }
    let (mut cum_bad, mut cum_good, mut best) = (0.0, 0.0, 0.0f64);
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i;
        while j < sorted.len() && sorted[j].0 == sorted[i].0 {
            if sorted[j].1 {
                cum_bad += 1.0;
            } else {
                cum_good += 1.0;
            }
            j += 1;
        }
        best = best.max((cum_bad / bads - cum_good / goods).abs());
        i = j;
    }
    best
}
