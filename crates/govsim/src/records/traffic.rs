//! 交管局 `traffic.vehicles`, `traffic.violations`, `traffic.licence` and
//! `traffic.fine.notify`.

use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::{Deserialize, Serialize};

use bianmin_core::Money;

use super::{DateRange, as_of, beijing};
use crate::population::SyntheticPerson;
use crate::population::traffic::{Energy, LicenceClass, LicenceStatus, VehicleStatus, Violation};

/// A driving licence in `traffic.vehicles`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LicenceRecord {
    /// 档案编号.
    pub file_number: String,
    /// Class (`C1`, `C2`, `B2`, `A2`).
    pub class: LicenceClass,
    /// First issued.
    pub first_issued: NaiveDate,
    /// Valid until; `null` for a long-term licence.
    pub valid_until: Option<NaiveDate>,
    /// Points in the current scoring cycle.
    pub points: u32,
    /// `valid`, `points_exceeded`, `expired` or `revoked`.
    pub status: LicenceStatus,
}

/// A vehicle in `traffic.vehicles`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VehicleRecord {
    /// 号牌号码.
    pub plate: String,
    /// `fuel`, `electric` or `hybrid`.
    pub energy: Energy,
    /// Make.
    pub brand: String,
    /// First registered.
    pub registered_on: NaiveDate,
    /// Next safety inspection due.
    pub inspection_due: NaiveDate,
    /// `normal`, `inspection_overdue` or `mortgaged`.
    pub status: VehicleStatus,
}

/// Response of `traffic.vehicles`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrafficVehicles {
    /// Driving licence, if any.
    pub licence: Option<LicenceRecord>,
    /// Vehicles registered to the person.
    pub vehicles: Vec<VehicleRecord>,
    /// Date the data describe.
    pub as_of: NaiveDate,
}

impl TrafficVehicles {
    /// Licence and vehicles of `person` (answered for everyone: none is an answer).
    pub fn of(person: &SyntheticPerson) -> Self {
        let traffic = &person.traffic;
        Self {
            licence: traffic.licence.as_ref().map(|licence| LicenceRecord {
                file_number: licence.file_number.clone(),
                class: licence.class,
                first_issued: licence.first_issued,
                valid_until: licence.valid_until,
                points: licence.points,
                status: licence.status,
            }),
            vehicles: traffic
                .vehicles
                .iter()
                .map(|vehicle| VehicleRecord {
                    plate: vehicle.plate.clone(),
                    energy: vehicle.energy,
                    brand: vehicle.brand.to_owned(),
                    registered_on: vehicle.registered_on,
                    inspection_due: vehicle.inspection_due,
                    status: vehicle.status,
                })
                .collect(),
            as_of: as_of(),
        }
    }
}

/// Whether a fine is paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FineStatus {
    /// 未缴款.
    Unpaid,
    /// 已缴款.
    Paid,
}

/// One violation in `traffic.violations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ViolationRecord {
    /// 处罚决定书编号; the `violation_id` of `traffic.fine.notify`.
    pub id: String,
    /// Plate of the vehicle.
    pub plate: String,
    /// When (RFC 3339, Beijing time).
    pub occurred_at: DateTime<FixedOffset>,
    /// Where.
    pub location: String,
    /// Violation code.
    pub code: u32,
    /// What was done.
    pub description: String,
    /// Penalty points.
    pub points: u32,
    /// Fine.
    pub fine: Money,
    /// 加处罚款 accrued (3 % a day after 15 days, at most the fine).
    pub late_fee: Money,
    /// Fine plus late fee still to pay (zero once paid).
    pub amount_due: Money,
    /// `unpaid` or `paid`.
    pub status: FineStatus,
    /// When paid.
    pub paid_on: Option<NaiveDate>,
}

/// Response of `traffic.violations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrafficViolations {
    /// Violations of the last 24 months, oldest first.
    pub violations: Vec<ViolationRecord>,
    /// Sum of `amount_due`.
    pub unpaid_total: Money,
    /// Date the data describe.
    pub as_of: NaiveDate,
}

impl ViolationRecord {
    /// The record of `violation`, counting it paid on `paid_on` if a payment was notified.
    pub fn of(violation: &Violation, notified_paid_on: Option<NaiveDate>) -> Self {
        let paid_on = violation.paid_on.or(notified_paid_on);
        let late_fee = match paid_on {
            Some(date) => {
                let unpaid = Violation {
                    paid_on: None,
                    ..violation.clone()
                };
                unpaid.late_fee_on(date)
            }
            None => violation.late_fee_on(as_of()),
        };
        Self {
            id: violation.id.clone(),
            plate: violation.plate.clone(),
            occurred_at: beijing(violation.occurred_at),
            location: violation.location.clone(),
            code: violation.code,
            description: violation.description.to_owned(),
            points: violation.points,
            fine: violation.fine,
            late_fee,
            amount_due: if paid_on.is_some() {
                Money::ZERO
            } else {
                Money::from_fen(violation.fine.fen() + late_fee.fen())
            },
            status: if paid_on.is_some() {
                FineStatus::Paid
            } else {
                FineStatus::Unpaid
            },
            paid_on,
        }
    }
}

impl TrafficViolations {
    /// The violations of `person` within `range`; `notified(id)` is the payment date of a
    /// fine paid through `traffic.fine.notify`.
    pub fn of(
        person: &SyntheticPerson,
        range: DateRange,
        notified: impl Fn(&str) -> Option<NaiveDate>,
    ) -> Self {
        let violations: Vec<ViolationRecord> = person
            .traffic
            .violations
            .iter()
            .filter(|violation| range.contains(violation.occurred_at.date()))
            .map(|violation| ViolationRecord::of(violation, notified(&violation.id)))
            .collect();
        let unpaid_total = Money::from_fen(violations.iter().map(|v| v.amount_due.fen()).sum());
        Self {
            violations,
            unpaid_total,
            as_of: as_of(),
        }
    }
}

/// Request body of `traffic.fine.notify` (besides `subject`): the bank collected a fine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FineNotifyRequest {
    /// The 处罚决定书编号 paid.
    pub violation_id: String,
    /// The bank's payment id; notifying the same id twice records one payment.
    pub payment_id: String,
    /// Amount collected: fine plus late fee on the payment date.
    pub amount: Money,
    /// When the citizen paid.
    pub paid_at: DateTime<FixedOffset>,
}

/// Whether a notification was new.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyOutcome {
    /// First notification of this payment: recorded.
    Recorded,
    /// This payment id was already recorded; nothing changed.
    Duplicate,
}

/// Response of `traffic.fine.notify`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FineNotification {
    /// The payment id.
    pub payment_id: String,
    /// The violation paid.
    pub violation_id: String,
    /// Amount recorded.
    pub amount: Money,
    /// `recorded` or `duplicate`.
    pub outcome: NotifyOutcome,
    /// Date the violation counts as paid.
    pub paid_on: NaiveDate,
}

/// State of a driving licence in `traffic.licence`, as the 12123 app shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DrivingLicenceStatus {
    /// 正常.
    Valid,
    /// 暂扣: 12 points or more in the scoring cycle (until re-examined).
    Suspended,
    /// 吊销.
    Revoked,
    /// 逾期未换证.
    Expired,
}

impl From<LicenceStatus> for DrivingLicenceStatus {
    fn from(status: LicenceStatus) -> Self {
        match status {
            LicenceStatus::Valid => Self::Valid,
            LicenceStatus::PointsExceeded => Self::Suspended,
            LicenceStatus::Revoked => Self::Revoked,
            LicenceStatus::Expired => Self::Expired,
        }
    }
}

/// Response of `traffic.licence`: the person's driving licence (驾驶证).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrafficLicence {
    /// 驾驶证号: for a licence issued in China, the holder's resident id.
    pub licence_number: String,
    /// 档案编号, twelve digits.
    pub file_number: String,
    /// 准驾车型: `C1`, `C2`, `B2` or `A2`.
    pub class: LicenceClass,
    /// `valid`, `suspended` (12 points reached), `revoked` or `expired`.
    pub status: DrivingLicenceStatus,
    /// 初次领证日期.
    pub first_issued: NaiveDate,
    /// 有效期至; `null` for a long-term (长期) licence.
    pub valid_until: Option<NaiveDate>,
    /// Points of the violations in the current scoring cycle (of 12).
    pub points_deducted: u32,
    /// First day of the current scoring cycle (the last anniversary of first issue).
    pub cycle_start: NaiveDate,
    /// Last day of the current scoring cycle.
    pub cycle_end: NaiveDate,
    /// Date the data describe.
    pub as_of: NaiveDate,
}

impl TrafficLicence {
    /// The driving licence of `person`; `None` if they have none.
    pub fn of(person: &SyntheticPerson) -> Option<Self> {
        let licence = person.traffic.licence.as_ref()?;
        let (cycle_start, cycle_end) = licence.scoring_cycle();
        Some(Self {
            licence_number: person.resident_id.as_str().to_owned(),
            file_number: licence.file_number.clone(),
            class: licence.class,
            status: licence.status.into(),
            first_issued: licence.first_issued,
            valid_until: licence.valid_until,
            points_deducted: licence.points,
            cycle_start,
            cycle_end,
            as_of: as_of(),
        })
    }
}
