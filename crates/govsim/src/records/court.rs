//! 法院 `court.cases`.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use bianmin_core::Money;

use super::{DateRange, as_of};
use crate::population::SyntheticPerson;
use crate::population::court::{CaseKind, CaseStatus, Role};

/// One case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseRecord {
    /// 案号.
    pub case_number: String,
    /// Court.
    pub court: String,
    /// `civil` or `enforcement`.
    pub kind: CaseKind,
    /// 案由.
    pub cause: String,
    /// `plaintiff`, `defendant` or `debtor`.
    pub role: Role,
    /// Filed.
    pub filed_on: NaiveDate,
    /// `open` or `closed`.
    pub status: CaseStatus,
    /// Closed.
    pub closed_on: Option<NaiveDate>,
    /// Amount in dispute or to enforce.
    pub amount: Money,
}

/// Response of `court.cases`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CourtCases {
    /// Whether the person is on the list of dishonest judgment debtors (失信被执行人).
    pub dishonest_debtor: bool,
    /// Listed since.
    pub dishonest_since: Option<NaiveDate>,
    /// Cases filed within the range, oldest first.
    pub cases: Vec<CaseRecord>,
    /// Date the data describe.
    pub as_of: NaiveDate,
}

impl CourtCases {
    /// The court record of `person` (answered for everyone: no case is an answer).
    pub fn of(person: &SyntheticPerson, range: DateRange) -> Self {
        let court = &person.court;
        Self {
            dishonest_debtor: court.is_dishonest(),
            dishonest_since: court.dishonest_since,
            cases: court
                .cases
                .iter()
                .filter(|case| range.contains(case.filed_on))
                .map(|case| CaseRecord {
                    case_number: case.number.clone(),
                    court: case.court.clone(),
                    kind: case.kind,
                    cause: case.cause.to_owned(),
                    role: case.role,
                    filed_on: case.filed_on,
                    status: case.status,
                    closed_on: case.closed_on,
                    amount: case.amount,
                })
                .collect(),
            as_of: as_of(),
        }
    }
}
