//! Named residents: people who are not generated (the platform's demo personas, say) but are
//! given the records of a generated person, their *template*.
//!
//! A named resident keeps their own resident id, name and mobile number, and what the id
//! encodes (birth date, age, sex, district); employment, housing fund, social insurance,
//! traffic, credit, court records and the hidden `pd` are the template's. See
//! [`Population::with_residents`](super::Population::with_residents).

use std::fmt;

use serde::{Deserialize, Serialize};

use bianmin_core::mask::mask_name;
use bianmin_core::region::district_by_code;
use bianmin_core::{PhoneNumber, ResidentId};

use crate::calendar::REFERENCE_DATE;

/// Longest accepted name, in characters.
const MAX_NAME_CHARS: usize = 30;

/// Most named residents a population takes (their serial numbers, after the generated
/// people's, must stay below 10⁸).
pub const MAX_NAMED_RESIDENTS: u32 = 1_000_000;

/// A person with a name of their own and the records of generated person `template`.
///
/// In configuration (TOML), one `[[residents]]` table each; the id and the phone are strings
/// and are checked as they are read:
///
/// ```toml
/// [[residents]]
/// resident_id = "510104198803120039"
/// name = "张伟"
/// phone = "13800000001"
/// template = 42
/// ```
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedResident {
    /// 居民身份证号码; must be of a current Chengdu district and not a generated person's.
    pub resident_id: ResidentId,
    /// Name, as `identity.verify` checks it (surrounding whitespace is dropped).
    pub name: String,
    /// Mobile number.
    pub phone: PhoneNumber,
    /// Index of the generated person whose records this resident has, `0..size`.
    pub template: u32,
}

impl fmt::Debug for NamedResident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NamedResident")
            .field("resident_id", &self.resident_id)
            .field("name", &mask_name(&self.name))
            .field("phone", &self.phone)
            .field("template", &self.template)
            .finish()
    }
}

/// Why a named resident was refused. Ids are shown masked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NamedResidentError {
    /// The template is not below the population's size.
    #[error(
        "named resident {resident_id}: template {template} is not below the population size {size}"
    )]
    TemplateOutOfRange {
        /// The resident's id, masked.
        resident_id: String,
        /// The template asked for.
        template: u32,
        /// The population's size.
        size: u32,
    },
    /// The same id was given twice.
    #[error("named resident {resident_id} is listed twice")]
    Duplicate {
        /// The id, masked.
        resident_id: String,
    },
    /// The id is a generated person's.
    #[error("named resident {resident_id}: the id belongs to generated person {index}")]
    Generated {
        /// The id, masked.
        resident_id: String,
        /// The generated person who has it.
        index: u32,
    },
    /// The id's region code is not one of Chengdu's current districts.
    #[error("named resident {resident_id}: region {region} is not a current Chengdu district")]
    OutsideChengdu {
        /// The id, masked.
        resident_id: String,
        /// The id's six-digit region code.
        region: String,
    },
    /// The id's birth date is after the reference date.
    #[error("named resident {resident_id}: born after the reference date {REFERENCE_DATE}")]
    NotBorn {
        /// The id, masked.
        resident_id: String,
    },
    /// More than [`MAX_NAMED_RESIDENTS`].
    #[error("more than {limit} named residents")]
    TooMany {
        /// [`MAX_NAMED_RESIDENTS`].
        limit: u32,
    },
    /// The name is empty, too long or contains control characters.
    #[error(
        "named resident {resident_id}: the name must be 1 to {MAX_NAME_CHARS} characters without control characters"
    )]
    InvalidName {
        /// The id, masked.
        resident_id: String,
    },
}

impl NamedResident {
    /// This resident with the name trimmed, if everything that can be checked without the
    /// population's numbering holds for a population of `size`.
    ///
    /// # Errors
    ///
    /// [`NamedResidentError::TemplateOutOfRange`], [`NamedResidentError::OutsideChengdu`],
    /// [`NamedResidentError::NotBorn`] or [`NamedResidentError::InvalidName`].
    pub fn checked(&self, size: u32) -> Result<NamedResident, NamedResidentError> {
        let masked = || self.resident_id.masked();
        if self.template >= size {
            return Err(NamedResidentError::TemplateOutOfRange {
                resident_id: masked(),
                template: self.template,
                size,
            });
        }
        if district_by_code(self.resident_id.region_code()).is_none() {
            return Err(NamedResidentError::OutsideChengdu {
                resident_id: masked(),
                region: self.resident_id.region_code().to_owned(),
            });
        }
        if !self.resident_id.is_born_by(REFERENCE_DATE) {
            return Err(NamedResidentError::NotBorn {
                resident_id: masked(),
            });
        }
        let name = self.name.trim();
        let length = name.chars().count();
        if !(1..=MAX_NAME_CHARS).contains(&length) || name.chars().any(char::is_control) {
            return Err(NamedResidentError::InvalidName {
                resident_id: masked(),
            });
        }
        Ok(NamedResident {
            name: name.to_owned(),
            ..self.clone()
        })
    }
}

/// Checks a list of named residents for a population of `size` without building it: each
/// with [`NamedResident::checked`], and no id twice.
///
/// # Errors
///
/// The first problem found.
pub fn check_residents(residents: &[NamedResident], size: u32) -> Result<(), NamedResidentError> {
    if residents.len() > MAX_NAMED_RESIDENTS as usize {
        return Err(NamedResidentError::TooMany {
            limit: MAX_NAMED_RESIDENTS,
        });
    }
    let mut seen = std::collections::HashSet::with_capacity(residents.len());
    for resident in residents {
        resident.checked(size)?;
        if !seen.insert(&resident.resident_id) {
            return Err(NamedResidentError::Duplicate {
                resident_id: resident.resident_id.masked(),
            });
        }
    }
    Ok(())
}
