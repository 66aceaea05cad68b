//! Vehicles, driving licences and traffic violations (交管).

use chrono::{Datelike, Days, Months, NaiveDate, NaiveDateTime, NaiveTime};
use rand::Rng;
use rand_distr::{Distribution, Poisson};
use serde::{Deserialize, Serialize};

use bianmin_core::{District, Money};

use super::{logistic, pick_weighted};
use crate::calendar::REFERENCE_DATE;

/// Letters used on plates (no I or O, which read as 1 and 0).
const PLATE_LETTERS: &[u8; 24] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";

/// Days after the penalty decision before the late fee starts (《行政处罚法》第七十二条).
const LATE_FEE_GRACE_DAYS: i64 = 15;

/// Log-odds of a licence being revoked (吊销) for a driver of average carelessness: about
/// 0.25 %, times `e^(0.8 c)`.
pub(crate) const REVOCATION_LOGIT: f64 = -6.0;

/// Kind of energy a vehicle runs on; new-energy vehicles carry eight-character green plates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Energy {
    /// Petrol or diesel.
    Fuel,
    /// Battery electric (plate letter D).
    Electric,
    /// Plug-in hybrid or range extender (plate letter F).
    Hybrid,
}

/// Registration state of a vehicle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VehicleStatus {
    /// 正常.
    Normal,
    /// 逾期未检验.
    InspectionOverdue,
    /// 抵押登记 (pledged to a car loan).
    Mortgaged,
}

/// A registered vehicle.
#[derive(Debug, Clone)]
pub struct Vehicle {
    /// 号牌号码, e.g. `川A12345` or `川AD12345`.
    pub plate: String,
    /// Energy type.
    pub energy: Energy,
    /// Make.
    pub brand: &'static str,
    /// Date of first registration.
    pub registered_on: NaiveDate,
    /// Date by which the next safety inspection is due.
    pub inspection_due: NaiveDate,
    /// Registration state.
    pub status: VehicleStatus,
}

/// Licence class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LicenceClass {
    /// Small car, manual.
    C1,
    /// Small car, automatic.
    C2,
    /// Heavy goods vehicle.
    B2,
    /// Tractor-trailer.
    A2,
}

/// State of a driving licence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LicenceStatus {
    /// 正常.
    Valid,
    /// 超分: 12 points or more in the current scoring cycle.
    PointsExceeded,
    /// 逾期未换证.
    Expired,
    /// 吊销 (e.g. drunk driving); overrides the other states.
    Revoked,
}

/// A driving licence.
#[derive(Debug, Clone)]
pub struct DrivingLicence {
    /// 档案编号, twelve digits.
    pub file_number: String,
    /// Class.
    pub class: LicenceClass,
    /// First issued.
    pub first_issued: NaiveDate,
    /// Valid until; `None` for a long-term (长期) licence.
    pub valid_until: Option<NaiveDate>,
    /// Points in the current scoring cycle.
    pub points: u32,
    /// State.
    pub status: LicenceStatus,
}

impl DrivingLicence {
    /// The current scoring cycle (记分周期) on [`REFERENCE_DATE`], first and last day: twelve
    /// months from the last anniversary of first issue. [`DrivingLicence::points`] are the
    /// points of the violations within it.
    pub fn scoring_cycle(&self) -> (NaiveDate, NaiveDate) {
        let start = anniversary_before(self.first_issued, REFERENCE_DATE);
        let end = start
            .checked_add_months(Months::new(12))
            .and_then(|next| next.pred_opt())
            .unwrap_or(start);
        (start, end)
    }
}

/// A traffic violation with its penalty.
#[derive(Debug, Clone)]
pub struct Violation {
    /// 处罚决定书编号.
    pub id: String,
    /// Plate of the vehicle.
    pub plate: String,
    /// When it happened (Beijing time).
    pub occurred_at: NaiveDateTime,
    /// Where.
    pub location: String,
    /// Violation code.
    pub code: u32,
    /// What was done.
    pub description: &'static str,
    /// Penalty points.
    pub points: u32,
    /// Fine.
    pub fine: Money,
    /// When paid, if paid.
    pub paid_on: Option<NaiveDate>,
}

impl Violation {
    /// The late fee (加处罚款) on `date` if still unpaid: 3 % of the fine per day from the
    /// 16th day after the decision, never more than the fine itself.
    pub fn late_fee_on(&self, date: NaiveDate) -> Money {
        if self.paid_on.is_some() {
            return Money::ZERO;
        }
        let days = (date - self.occurred_at.date()).num_days() - LATE_FEE_GRACE_DAYS;
        if days <= 0 {
            return Money::ZERO;
        }
        let fee = self.fine.fen() * 3 * days / 100;
        Money::from_fen(fee.min(self.fine.fen()))
    }
}

/// Everything traffic police know about a person.
#[derive(Debug, Clone, Default)]
pub struct TrafficRecord {
    /// Driving licence.
    pub licence: Option<DrivingLicence>,
    /// Registered vehicles.
    pub vehicles: Vec<Vehicle>,
    /// Violations of the last 24 months, oldest first.
    pub violations: Vec<Violation>,
}

const FUEL_BRANDS: [&str; 11] = [
    "大众", "丰田", "本田", "日产", "别克", "吉利", "长安", "哈弗", "奥迪", "宝马", "奔驰",
];
const ELECTRIC_BRANDS: [&str; 6] = ["比亚迪", "特斯拉", "蔚来", "小鹏", "极氪", "五菱"];
const HYBRID_BRANDS: [&str; 4] = ["比亚迪", "理想", "问界", "深蓝"];

/// Violation codes with description, points, fine in yuan and relative frequency;
/// illustrative of the 2022 code table and Sichuan's fines.
const VIOLATION_KINDS: [(u32, &str, u32, i64, u32); 8] = [
    (
        1039,
        "机动车违反规定停放、临时停车，妨碍其他车辆、行人通行",
        0,
        150,
        40,
    ),
    (1344, "机动车违反禁令标志指示", 3, 200, 10),
    (1352, "驾驶机动车超过规定时速10%以上未达20%", 3, 200, 14),
    (1625, "驾驶机动车违反道路交通信号灯通行", 6, 200, 8),
    (1345, "机动车不按规定车道行驶", 2, 100, 12),
    (
        1357,
        "驾驶机动车行经人行横道，不按规定减速、停车、避让行人",
        3,
        200,
        8,
    ),
    (1223, "驾驶机动车时拨打接听手持电话", 3, 200, 4),
    (6011, "驾驶人未按规定使用安全带", 1, 50, 4),
];

const ROADS: [&str; 16] = [
    "人民南路",
    "天府大道",
    "一环路",
    "二环路高架",
    "蜀都大道",
    "红星路",
    "科华北路",
    "府青路",
    "剑南大道",
    "交子大道",
    "金府路",
    "双楠路",
    "驿都大道",
    "光华大道",
    "成温邛高速",
    "川藏路",
];

pub(crate) struct TrafficInputs<'a> {
    pub(crate) age: u32,
    pub(crate) male: bool,
    pub(crate) monthly_income: f64,
    pub(crate) outer_district: bool,
    pub(crate) district: &'a District,
    pub(crate) carelessness: f64,
    pub(crate) fragility: f64,
    pub(crate) index: u32,
}

pub(crate) fn generate(rng: &mut impl Rng, inputs: &TrafficInputs<'_>) -> TrafficRecord {
    let age = f64::from(inputs.age);
    let licence_probability = match inputs.age {
        ..26 => 0.45,
        26..56 => 0.72,
        _ => 0.45,
    } + if inputs.male { 0.1 } else { -0.1 };
    if !rng.random_bool(licence_probability) {
        return TrafficRecord::default();
    }
    let licensed_years = rng.random_range(0.0..(age - 18.0).max(0.1));
    let first_issued = REFERENCE_DATE - Days::new((licensed_years * 365.0) as u64 + 1);
    let class = match rng.random_range(0..100) {
        0..85 => LicenceClass::C1,
        85..95 => LicenceClass::C2,
        95..98 => LicenceClass::B2,
        _ => LicenceClass::A2,
    };
    // Valid 6 years, renewed for 10, then long-term; 2 % forget to renew.
    let valid_until = match licensed_years {
        y if y < 6.0 => first_issued.checked_add_months(Months::new(72)),
        y if y < 16.0 => first_issued.checked_add_months(Months::new(192)),
        _ => None,
    };
    let expired = rng.random_bool(0.02);

    let income_factor = (inputs.monthly_income.max(1_000.0) / 6_000.0).ln();
    let owns = logistic(
        -0.6 + 0.8 * income_factor
            + if inputs.outer_district { 0.3 } else { 0.0 }
            + if (28..56).contains(&inputs.age) {
                0.4
            } else {
                0.0
            },
    );
    let count = if rng.random_bool(owns) {
        if rng.random_bool(0.12) { 2 } else { 1 }
    } else {
        0
    };
    let vehicles: Vec<Vehicle> = (0..count).map(|_| vehicle(rng, first_issued)).collect();

    let mut violations = Vec::new();
    if !vehicles.is_empty() {
        let rate = 1.6 * (0.5 * inputs.carelessness).exp() * vehicles.len() as f64;
        let count = Poisson::new(rate).map_or(0.0, |poisson| poisson.sample(rng)) as u32;
        for number in 0..count.min(40) {
            violations.push(violation(rng, inputs, &vehicles, number));
        }
        violations.sort_by_key(|violation| violation.occurred_at);
    }

    // Points count from the last anniversary of first issue.
    let cycle_start = anniversary_before(first_issued, REFERENCE_DATE);
    let points = violations
        .iter()
        .filter(|violation| violation.occurred_at.date() >= cycle_start)
        .map(|violation| violation.points)
        .sum();
    let status = if points >= 12 {
        LicenceStatus::PointsExceeded
    } else if expired && valid_until.is_some() {
        LicenceStatus::Expired
    } else {
        LicenceStatus::Valid
    };
    let file_number = format!("5101{:08}", u64::from(inputs.index) * 9_973 % 100_000_000);
    TrafficRecord {
        licence: Some(DrivingLicence {
            file_number,
            class,
            first_issued,
            valid_until: if expired {
                valid_until.map(|date| date.min(REFERENCE_DATE - Days::new(30)))
            } else {
                valid_until
            },
            points,
            status,
        }),
        vehicles,
        violations,
    }
}

fn anniversary_before(first: NaiveDate, date: NaiveDate) -> NaiveDate {
    let years = date.years_since(first).unwrap_or(0);
    first
        .checked_add_months(Months::new(12 * years))
        .unwrap_or(first)
}

fn vehicle(rng: &mut impl Rng, licensed: NaiveDate) -> Vehicle {
    let registered_on = licensed
        + Days::new(rng.random_range(0..=(REFERENCE_DATE - licensed).num_days().max(0) as u64));
    let recent = registered_on.year() >= 2021;
    let energy = match rng.random_range(0..100) {
        n if n < if recent { 30 } else { 5 } => Energy::Electric,
        n if n < if recent { 42 } else { 7 } => Energy::Hybrid,
        _ => Energy::Fuel,
    };
    let letter = |rng: &mut dyn rand::RngCore| {
        char::from(PLATE_LETTERS[rng.random_range(0..PLATE_LETTERS.len())])
    };
    let digit = |rng: &mut dyn rand::RngCore| char::from(b'0' + rng.random_range(0..10u8));
    let mut plate = String::from("川A");
    let brand = match energy {
        Energy::Fuel => {
            match rng.random_range(0..10) {
                0..3 => (0..5).for_each(|_| plate.push(digit(rng))),
                3..8 => {
                    plate.push(letter(rng));
                    (0..4).for_each(|_| plate.push(digit(rng)));
                }
                _ => {
                    plate.push(letter(rng));
                    plate.push(letter(rng));
                    (0..3).for_each(|_| plate.push(digit(rng)));
                }
            }
            FUEL_BRANDS[rng.random_range(0..FUEL_BRANDS.len())]
        }
        Energy::Electric | Energy::Hybrid => {
            plate.push(if energy == Energy::Electric { 'D' } else { 'F' });
            if rng.random_bool(0.5) {
                plate.push(letter(rng));
            } else {
                plate.push(digit(rng));
            }
            (0..4).for_each(|_| plate.push(digit(rng)));
            if energy == Energy::Electric {
                ELECTRIC_BRANDS[rng.random_range(0..ELECTRIC_BRANDS.len())]
            } else {
                HYBRID_BRANDS[rng.random_range(0..HYBRID_BRANDS.len())]
            }
        }
    };
    // Private cars are exempt for six years, then inspected every two years.
    let mut inspection_due = registered_on
        .checked_add_months(Months::new(72))
        .unwrap_or(registered_on);
    while inspection_due < REFERENCE_DATE {
        inspection_due = inspection_due
            .checked_add_months(Months::new(24))
            .unwrap_or(REFERENCE_DATE);
    }
    let overdue =
        REFERENCE_DATE.years_since(registered_on).unwrap_or(0) >= 6 && rng.random_bool(0.06);
    let status = if overdue {
        inspection_due = inspection_due
            .checked_sub_months(Months::new(24))
            .unwrap_or(inspection_due);
        VehicleStatus::InspectionOverdue
    } else {
        VehicleStatus::Normal
    };
    Vehicle {
        plate,
        energy,
        brand,
        registered_on,
        inspection_due,
        status,
    }
}

fn violation(
    rng: &mut impl Rng,
    inputs: &TrafficInputs<'_>,
    vehicles: &[Vehicle],
    number: u32,
) -> Violation {
    let kind = VIOLATION_KINDS[pick_weighted(rng, &VIOLATION_KINDS.map(|kind| kind.4))];
    let vehicle = &vehicles[rng.random_range(0..vehicles.len())];
    let days_ago = rng.random_range(1..=730u64);
    let date = (REFERENCE_DATE - Days::new(days_ago)).max(vehicle.registered_on);
    let seconds = rng.random_range(6 * 3600..23 * 3600u32);
    let time = NaiveTime::from_num_seconds_from_midnight_opt(seconds / 60 * 60, 0)
        .unwrap_or(NaiveTime::MIN);
    let age_days = (REFERENCE_DATE - date).num_days();
    let unpaid = if age_days <= LATE_FEE_GRACE_DAYS {
        rng.random_bool(0.7)
    } else {
        rng.random_bool(logistic(-2.8 + 0.9 * inputs.fragility))
    };
    let paid_on = (!unpaid).then(|| {
        let delay = rng.random_range(0..=age_days.clamp(0, 30) as u64);
        date + Days::new(delay)
    });
    let road = ROADS[rng.random_range(0..ROADS.len())];
    Violation {
        id: format!(
            "51010{}{:07}",
            date.format("%Y%m%d"),
            (u64::from(inputs.index) * 41 + u64::from(number)) % 10_000_000
        ),
        plate: vehicle.plate.clone(),
        occurred_at: NaiveDateTime::new(date, time),
        location: format!(
            "{}{}{}号附近",
            inputs.district.name,
            road,
            rng.random_range(1..400)
        ),
        code: kind.0,
        description: kind.1,
        points: kind.2,
        fine: Money::from_fen(kind.3 * 100),
        paid_on,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unpaid(fine_yuan: i64, days_ago: u64) -> Violation {
        Violation {
            id: "1".into(),
            plate: "川A12345".into(),
            occurred_at: NaiveDateTime::new(REFERENCE_DATE - Days::new(days_ago), NaiveTime::MIN),
            location: String::new(),
            code: 1039,
            description: "",
            points: 0,
            fine: Money::from_fen(fine_yuan * 100),
            paid_on: None,
        }
    }

    #[test]
    fn late_fee_is_three_percent_a_day_after_fifteen_days_capped_at_the_fine() {
        assert_eq!(unpaid(200, 15).late_fee_on(REFERENCE_DATE), Money::ZERO);
        assert_eq!(
            unpaid(200, 16).late_fee_on(REFERENCE_DATE),
            Money::from_fen(600)
        );
        assert_eq!(
            unpaid(200, 25).late_fee_on(REFERENCE_DATE),
            Money::from_fen(6_000)
        );
        assert_eq!(
            unpaid(200, 400).late_fee_on(REFERENCE_DATE),
            Money::from_fen(20_000)
        );
    }
}
