//! Court cases and the list of dishonest judgment debtors (失信被执行人).

use chrono::{Days, NaiveDate};
use rand::Rng;
use rand_distr::{Distribution, Poisson};
use serde::{Deserialize, Serialize};

use bianmin_core::{District, Money};

use super::{logistic, yuan};
use crate::calendar::REFERENCE_DATE;

/// Kind of proceedings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseKind {
    /// 民事一审 (民初).
    Civil,
    /// 执行 (执).
    Enforcement,
}

/// The person's side in a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 原告 / 申请执行人.
    Plaintiff,
    /// 被告.
    Defendant,
    /// 被执行人.
    Debtor,
}

/// Where a case stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseStatus {
    /// 审理中 / 执行中.
    Open,
    /// 已结案.
    Closed,
}

/// One case.
#[derive(Debug, Clone)]
pub struct CourtCase {
    /// 案号, e.g. `（2025）川0104民初1234号`.
    pub number: String,
    /// Court.
    pub court: String,
    /// Kind.
    pub kind: CaseKind,
    /// 案由.
    pub cause: &'static str,
    /// The person's side.
    pub role: Role,
    /// Filing date.
    pub filed_on: NaiveDate,
    /// State.
    pub status: CaseStatus,
    /// Closing date.
    pub closed_on: Option<NaiveDate>,
    /// Amount in dispute or to be enforced.
    pub amount: Money,
}

/// A person's record with the courts.
#[derive(Debug, Clone, Default)]
pub struct CourtRecord {
    /// On the list of dishonest judgment debtors since this date.
    pub dishonest_since: Option<NaiveDate>,
    /// Cases, oldest first.
    pub cases: Vec<CourtCase>,
}

impl CourtRecord {
    /// Whether the person is a 失信被执行人.
    pub fn is_dishonest(&self) -> bool {
        self.dishonest_since.is_some()
    }
}

pub(crate) struct CourtInputs<'a> {
    pub(crate) district: &'a District,
    pub(crate) fragility: f64,
    pub(crate) overdue_days: u32,
    pub(crate) outstanding: Money,
    pub(crate) employed: bool,
    pub(crate) self_employed: bool,
    pub(crate) unemployed: bool,
    pub(crate) owns_vehicle: bool,
}

fn court_name(district: &District) -> String {
    if district.name.ends_with('区') {
        format!("成都市{}人民法院", district.name)
    } else {
        format!("{}人民法院", district.name)
    }
}

fn case_number(date: NaiveDate, district: &District, kind: CaseKind, serial: u64) -> String {
    let court = &district.code[2..6];
    let kind = match kind {
        CaseKind::Civil => "民初",
        CaseKind::Enforcement => "执",
    };
    format!("（{}）川{court}{kind}{serial}号", date.format("%Y"))
}

pub(crate) fn generate(rng: &mut impl Rng, inputs: &CourtInputs<'_>) -> CourtRecord {
    let mut record = CourtRecord::default();
    let serial = |rng: &mut dyn rand::RngCore| u64::from(rng.random_range(100..30_000u32));
    let dishonest = rng.random_bool(logistic(
        -6.0 + 1.2 * inputs.fragility
            + if inputs.overdue_days > 90 { 2.8 } else { 0.0 }
            + if inputs.self_employed { 0.8 } else { 0.0 }
            + if inputs.unemployed { 0.8 } else { 0.0 },
    ));
    if dishonest {
        let filed_on = REFERENCE_DATE - Days::new(rng.random_range(240..1_100));
        let judged_on = filed_on + Days::new(rng.random_range(60..180));
        let enforced_on = judged_on + Days::new(rng.random_range(30..120));
        let amount = yuan(
            (inputs.outstanding.fen() as f64 / 100.0 * rng.random_range(0.1..0.6))
                .max(rng.random_range(8_000.0..80_000.0)),
        );
        let cause = ["金融借款合同纠纷", "民间借贷纠纷", "买卖合同纠纷"][rng.random_range(0..3)];
        record.cases.push(CourtCase {
            number: case_number(filed_on, inputs.district, CaseKind::Civil, serial(rng)),
            court: court_name(inputs.district),
            kind: CaseKind::Civil,
            cause,
            role: Role::Defendant,
            filed_on,
            status: CaseStatus::Closed,
            closed_on: Some(judged_on),
            amount,
        });
        record.cases.push(CourtCase {
            number: case_number(
                enforced_on,
                inputs.district,
                CaseKind::Enforcement,
                serial(rng),
            ),
            court: court_name(inputs.district),
            kind: CaseKind::Enforcement,
            cause,
            role: Role::Debtor,
            filed_on: enforced_on,
            status: CaseStatus::Open,
            closed_on: None,
            amount,
        });
        record.dishonest_since =
            Some((enforced_on + Days::new(rng.random_range(30..90))).min(REFERENCE_DATE));
    }
    let rate = 0.02
        + if inputs.overdue_days > 30 { 0.05 } else { 0.0 }
        + if inputs.owns_vehicle { 0.02 } else { 0.0 };
    let other = Poisson::new(rate).map_or(0.0, |poisson| poisson.sample(rng)) as u32;
    for _ in 0..other.min(5) {
        let (cause, role) = match rng.random_range(0..4) {
            0 if inputs.employed => ("劳动争议", Role::Plaintiff),
            1 if inputs.owns_vehicle => ("机动车交通事故责任纠纷", Role::Defendant),
            2 => (
                "民间借贷纠纷",
                if inputs.fragility > 0.0 {
                    Role::Defendant
                } else {
                    Role::Plaintiff
                },
            ),
            _ => ("离婚纠纷", Role::Plaintiff),
        };
        let filed_on = REFERENCE_DATE - Days::new(rng.random_range(30..1_800));
        let closed = (REFERENCE_DATE - filed_on).num_days() > 200 || rng.random_bool(0.3);
        let closed_on =
            closed.then(|| (filed_on + Days::new(rng.random_range(40..200))).min(REFERENCE_DATE));
        record.cases.push(CourtCase {
            number: case_number(filed_on, inputs.district, CaseKind::Civil, serial(rng)),
            court: court_name(inputs.district),
            kind: CaseKind::Civil,
            cause,
            role,
            filed_on,
            status: if closed {
                CaseStatus::Closed
            } else {
                CaseStatus::Open
            },
            closed_on,
            amount: yuan(rng.random_range(5_000.0..200_000.0)),
        });
    }
    record.cases.sort_by_key(|case| case.filed_on);
    record
}
