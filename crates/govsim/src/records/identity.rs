//! 公安 `identity.verify`: does this name (and phone) belong to this resident id?

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use bianmin_core::{Gender, PhoneNumber};

use super::as_of;
use crate::population::SyntheticPerson;

/// Request body (besides `subject`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityVerifyRequest {
    /// Name as the citizen gave it.
    pub name: String,
    /// Mobile number as the citizen gave it, to check too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

/// Outcome of a verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerifyResult {
    /// Id exists and the name matches (一致).
    Match,
    /// Id exists, the name does not match (不一致).
    Mismatch,
    /// No such id in the register (库中无此号).
    NoRecord,
}

/// Response of `identity.verify`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityVerification {
    /// Outcome.
    pub result: VerifyResult,
    /// Whether the name matches.
    pub name_match: bool,
    /// Whether the phone matches the one on record; `null` if none was given.
    pub phone_match: Option<bool>,
    /// Sex on record (only on a match).
    pub gender: Option<Gender>,
    /// Birth date on record (only on a match).
    pub birth_date: Option<NaiveDate>,
    /// District of household registration (only on a match).
    pub district_code: Option<String>,
    /// Date the register describes.
    pub as_of: NaiveDate,
}

impl IdentityVerification {
    /// Verifies `request` against `person` (`None` if the id is not in the register).
    pub fn check(person: Option<&SyntheticPerson>, request: &IdentityVerifyRequest) -> Self {
        let Some(person) = person else {
            return Self {
                result: VerifyResult::NoRecord,
                name_match: false,
                phone_match: None,
                gender: None,
                birth_date: None,
                district_code: None,
                as_of: as_of(),
            };
        };
        let name_match = request.name.trim() == person.name;
        let phone_match = request
            .phone
            .as_deref()
            .map(|phone| PhoneNumber::parse(phone).is_ok_and(|phone| phone == person.phone));
        Self {
            result: if name_match {
                VerifyResult::Match
            } else {
                VerifyResult::Mismatch
            },
            name_match,
            phone_match,
            gender: name_match.then_some(person.gender),
            birth_date: name_match.then_some(person.birth_date),
            district_code: name_match.then(|| person.district.code.to_owned()),
            as_of: as_of(),
        }
    }
}
