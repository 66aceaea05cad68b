//! The 18-character 居民身份证号码 defined by GB 11643-1999.
//!
//! Layout: six digits of region code (GB/T 2260, where the id was first issued), eight digits
//! of birth date `YYYYMMDD`, three digits of sequence number whose last digit is odd for men
//! and even for women, and one ISO 7064 MOD 11-2 check character (`0`–`9` or `X`).

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::mask::mask_resident_id;
use crate::region::province_name;
use crate::serde_string::StringForm;

const LENGTH: usize = 18;

/// ISO 7064 MOD 11-2 weights, `2^(17 - i) mod 11` for the first seventeen positions.
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];

/// Check character indexed by the weighted sum modulo 11.
const CHECK_CHARACTERS: [u8; 11] = *b"10X98765432";

/// Ids for people born before 1900 were never issued, so such a date is a typo.
const EARLIEST_BIRTH_DATE: NaiveDate = match NaiveDate::from_ymd_opt(1900, 1, 1) {
    Some(date) => date,
    // Evaluated at compile time: a wrong literal fails the build, never a request.
    None => panic!("1900-01-01 is a calendar date"),
};

/// Why a string is not a valid resident id. Messages are addressed to the person who typed
/// it and never repeat the whole number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResidentIdError {
    /// Nothing but whitespace was given.
    #[error("请输入身份证号码")]
    Empty,
    /// The trimmed input is not 18 characters long.
    #[error("身份证号码长度应为 18 位，实际为 {found} 位")]
    BadLength {
        /// Characters (not bytes) found after trimming.
        found: usize,
    },
    /// A character other than a digit, or other than a digit or `X` in the last position.
    #[error("身份证号码第 {position} 位应为{}，实际为 {found:?}", expected_at(*.position))]
    InvalidCharacter {
        /// 1-based position of the offending character.
        position: usize,
        /// The character found there.
        found: char,
    },
    /// The first two digits name no province-level division.
    #[error("身份证号码前两位 {code} 不是有效的省级行政区划代码")]
    UnknownProvince {
        /// The two digits found.
        code: String,
    },
    /// Positions 7–14 are not a calendar date (e.g. a 13th month or 30 February).
    #[error("身份证号码中的出生日期不是有效日期")]
    InvalidBirthDate,
    /// The birth date is before 1900-01-01.
    #[error("身份证号码中的出生日期早于 1900 年 1 月 1 日")]
    BirthDateTooEarly,
    /// The last character does not match the check digit computed from the others.
    #[error("身份证号码校验位错误：应为 {expected}，实际为 {found}")]
    BadCheckDigit {
        /// The check character the first seventeen digits call for.
        expected: char,
        /// The check character given.
        found: char,
    },
}

fn expected_at(position: usize) -> &'static str {
    if position == LENGTH {
        "数字或 X"
    } else {
        "数字"
    }
}

impl ResidentIdError {
    /// Stable machine-readable code, e.g. `"resident_id.bad_check_digit"`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Empty => "resident_id.empty",
            Self::BadLength { .. } => "resident_id.bad_length",
            Self::InvalidCharacter { .. } => "resident_id.invalid_character",
            Self::UnknownProvince { .. } => "resident_id.unknown_province",
            Self::InvalidBirthDate => "resident_id.invalid_birth_date",
            Self::BirthDateTooEarly => "resident_id.birth_date_too_early",
            Self::BadCheckDigit { .. } => "resident_id.bad_check_digit",
        }
    }
}

/// Sex as encoded in the 17th digit of a resident id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Gender {
    /// Odd 17th digit.
    Male,
    /// Even 17th digit.
    Female,
}

impl Gender {
    /// The label shown to users: `"男"` or `"女"`.
    pub fn label_zh(self) -> &'static str {
        match self {
            Self::Male => "男",
            Self::Female => "女",
        }
    }
}

/// A valid 18-character resident id, stored normalised (upper-case `X`).
///
/// `Debug` prints only the masked form and there is no `Display`, so an id cannot end up in a
/// log by accident; use [`ResidentId::as_str`] where the full number is really needed.
/// Whether the birth date lies in the future depends on a clock, so it is checked by the
/// caller with [`ResidentId::is_born_by`].
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResidentId {
    id: String,
    // Parsed once so the accessors need no fallible re-parse; it is a function of `id`, so the
    // derived comparisons still order by the number alone.
    birth_date: NaiveDate,
}

impl ResidentId {
    /// Parses a resident id, ignoring surrounding whitespace and accepting a lower-case `x`.
    ///
    /// Checks, in this order: length, characters, province code, birth date (a real date not
    /// before 1900-01-01) and the check digit, reporting the first failure.
    pub fn parse(input: &str) -> Result<Self, ResidentIdError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(ResidentIdError::Empty);
        }
        let length = trimmed.chars().count();
        if length != LENGTH {
            return Err(ResidentIdError::BadLength { found: length });
        }
        let mut id = String::with_capacity(LENGTH);
        for (index, found) in trimmed.chars().enumerate() {
            let position = index + 1;
            id.push(match found {
                '0'..='9' => found,
                'X' | 'x' if position == LENGTH => 'X',
                _ => return Err(ResidentIdError::InvalidCharacter { position, found }),
            });
        }
        // `id` is now 18 ASCII bytes, so byte ranges below are character ranges.
        let province = &id[..2];
        if province_name(province).is_none() {
            return Err(ResidentIdError::UnknownProvince {
                code: province.to_owned(),
            });
        }
        let birth_date = parse_birth_date(&id.as_bytes()[6..14])?;
        let expected = check_character(&id.as_bytes()[..17]);
        let found = char::from(id.as_bytes()[17]);
        if expected != found {
            return Err(ResidentIdError::BadCheckDigit { expected, found });
        }
        Ok(Self { id, birth_date })
    }

    /// Builds a valid id from its first seventeen digits by appending the check digit; meant
    /// for tests and synthetic populations.
    ///
    /// The other checks still apply. Errors describe the completed number: sixteen digits
    /// are reported as a length of 17.
    pub fn with_check_digit(first17: &str) -> Result<Self, ResidentIdError> {
        let first17 = first17.trim();
        let digits = first17.as_bytes();
        let check = if digits.len() == LENGTH - 1 && digits.iter().all(u8::is_ascii_digit) {
            check_character(digits)
        } else {
            // Any placeholder will do: `parse` rejects the number before reaching the check.
            '0'
        };
        Self::parse(&format!("{first17}{check}"))
    }

    /// The full, normalised 18-character number. Handle with care: it is personal data.
    pub fn as_str(&self) -> &str {
        &self.id
    }

    /// The six-digit region code of the place of first issue, e.g. `"510104"`.
    pub fn region_code(&self) -> &str {
        &self.id[..6]
    }

    /// The two-digit province code, e.g. `"51"`.
    pub fn province_code(&self) -> &str {
        &self.id[..2]
    }

    /// The birth date encoded in positions 7–14.
    pub fn birth_date(&self) -> NaiveDate {
        self.birth_date
    }

    /// Sex encoded by the parity of the 17th digit.
    pub fn gender(&self) -> Gender {
        if (self.id.as_bytes()[16] - b'0') % 2 == 1 {
            Gender::Male
        } else {
            Gender::Female
        }
    }

    /// Age in full years (周岁) on `date`; 0 if `date` is before the birth date.
    ///
    /// Someone born on 29 February comes of age on 1 March in common years, as Chinese civil
    /// law counts it.
    pub fn age_on(&self, date: NaiveDate) -> u32 {
        date.years_since(self.birth_date).unwrap_or(0)
    }

    /// Whether the holder was born on or before `date`; pass today's date to reject ids
    /// with a birth date in the future.
    pub fn is_born_by(&self, date: NaiveDate) -> bool {
        self.birth_date <= date
    }

    /// The masked form for display and logs, e.g. `510104********1234`.
    pub fn masked(&self) -> String {
        mask_resident_id(&self.id)
    }
}

fn parse_birth_date(digits: &[u8]) -> Result<NaiveDate, ResidentIdError> {
    let number = |range: std::ops::Range<usize>| {
        digits[range]
            .iter()
            .fold(0, |acc, digit| acc * 10 + u32::from(digit - b'0'))
    };
    let year = i32::try_from(number(0..4)).map_err(|_| ResidentIdError::InvalidBirthDate)?;
    let date = NaiveDate::from_ymd_opt(year, number(4..6), number(6..8))
        .ok_or(ResidentIdError::InvalidBirthDate)?;
    if date < EARLIEST_BIRTH_DATE {
        return Err(ResidentIdError::BirthDateTooEarly);
    }
    Ok(date)
}

/// Check character for seventeen ASCII digits.
fn check_character(first17: &[u8]) -> char {
    let sum: u32 = first17
        .iter()
        .zip(WEIGHTS)
        .map(|(digit, weight)| u32::from(digit - b'0') * weight)
        .sum();
    char::from(CHECK_CHARACTERS[(sum % 11) as usize])
}

impl FromStr for ResidentId {
    type Err = ResidentIdError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        Self::parse(input)
    }
}

impl fmt::Debug for ResidentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ResidentId").field(&self.masked()).finish()
    }
}

impl Serialize for ResidentId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.id)
    }
}

impl<'de> Deserialize<'de> for ResidentId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        StringForm {
            expecting: "18 位身份证号码字符串",
            not_a_string: "身份证号码必须以字符串表示",
            parse: Self::parse,
        }
        .deserialize(deserializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn date(year: i32, month: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(year, month, day).unwrap()
    }

    fn id(first17: &str) -> ResidentId {
        ResidentId::with_check_digit(first17).unwrap()
    }

    #[test]
    fn accepts_the_standard_example() {
        let id = ResidentId::parse("11010519491231002X").unwrap();
        assert_eq!(id.as_str(), "11010519491231002X");
        assert_eq!(id.region_code(), "110105");
        assert_eq!(id.province_code(), "11");
        assert_eq!(id.birth_date(), date(1949, 12, 31));
        assert_eq!(id.gender(), Gender::Female);
        assert_eq!(id.masked(), "110105********002X");
    }

    #[test]
    fn check_digit_algorithm_matches_the_standard_example() {
        assert_eq!(id("11010519491231002").as_str(), "11010519491231002X");
    }

    #[test]
    fn trims_and_normalises_lower_case_x() {
        let id = ResidentId::parse("  11010519491231002x\n").unwrap();
        assert_eq!(id.as_str(), "11010519491231002X");
    }

    #[test]
    fn chengdu_ids_expose_region_gender_and_birth_date() {
        let man = id("51010419900307123");
        assert_eq!(man.region_code(), "510104");
        assert_eq!(
            crate::region::district_by_code(man.region_code()).map(|d| d.name),
            Some("锦江区")
        );
        assert_eq!(man.gender(), Gender::Male);
        assert_eq!(man.birth_date(), date(1990, 3, 7));
        assert_eq!(ResidentId::parse(man.as_str()), Ok(man));
    }

    #[test]
    fn rejects_empty_input() {
        assert_eq!(ResidentId::parse(" \t"), Err(ResidentIdError::Empty));
    }

    #[test]
    fn reports_the_length_found_in_characters() {
        let err = ResidentId::parse("11010519491231002").unwrap_err();
        assert_eq!(err, ResidentIdError::BadLength { found: 17 });
        assert_eq!(err.to_string(), "身份证号码长度应为 18 位，实际为 17 位");
        assert_eq!(
            ResidentId::parse("１１０１０５１９４９１２３１００２Ｘ"),
            Err(ResidentIdError::InvalidCharacter {
                position: 1,
                found: '１'
            })
        );
        assert_eq!(
            ResidentId::parse("11010519491231002X1"),
            Err(ResidentIdError::BadLength { found: 19 })
        );
    }

    #[test]
    fn reports_the_position_of_a_bad_character() {
        let err = ResidentId::parse("1101051949123100X2").unwrap_err();
        assert_eq!(
            err,
            ResidentIdError::InvalidCharacter {
                position: 17,
                found: 'X'
            }
        );
        assert_eq!(err.to_string(), "身份证号码第 17 位应为数字，实际为 'X'");
        let err = ResidentId::parse("11010519491231002Y").unwrap_err();
        assert_eq!(
            err.to_string(),
            "身份证号码第 18 位应为数字或 X，实际为 'Y'"
        );
        assert_eq!(err.code(), "resident_id.invalid_character");
    }

    #[test]
    fn rejects_unknown_provinces() {
        for first17 in [
            "00010519491231002",
            "16010519491231002",
            "91010519491231002",
        ] {
            let err = ResidentId::with_check_digit(first17).unwrap_err();
            assert_eq!(
                err,
                ResidentIdError::UnknownProvince {
                    code: first17[..2].to_owned()
                }
            );
        }
        for province in ["71", "81", "82", "65"] {
            assert!(ResidentId::with_check_digit(&format!("{province}010519491231002")).is_ok());
        }
    }

    #[test]
    fn rejects_impossible_birth_dates() {
        for birth in ["19491331", "19490230", "19000229", "19490100", "00000000"] {
            let err = ResidentId::with_check_digit(&format!("510104{birth}123")).unwrap_err();
            assert_eq!(err, ResidentIdError::InvalidBirthDate, "{birth}");
        }
        assert_eq!(id("51010420000229123").birth_date(), date(2000, 2, 29));
    }

    #[test]
    fn rejects_birth_dates_before_1900() {
        let err = ResidentId::with_check_digit("51010418991231123").unwrap_err();
        assert_eq!(err, ResidentIdError::BirthDateTooEarly);
        assert_eq!(err.code(), "resident_id.birth_date_too_early");
        assert!(ResidentId::with_check_digit("51010419000101123").is_ok());
    }

    #[test]
    fn reports_expected_and_found_check_digit() {
        let err = ResidentId::parse("110105194912310025").unwrap_err();
        assert_eq!(
            err,
            ResidentIdError::BadCheckDigit {
                expected: 'X',
                found: '5'
            }
        );
        assert_eq!(err.to_string(), "身份证号码校验位错误：应为 X，实际为 5");
        assert_eq!(err.code(), "resident_id.bad_check_digit");
    }

    #[test]
    fn with_check_digit_reports_problems_of_the_completed_number() {
        assert_eq!(
            ResidentId::with_check_digit("1101051949123100"),
            Err(ResidentIdError::BadLength { found: 17 })
        );
        assert_eq!(
            ResidentId::with_check_digit("11010519491231a02"),
            Err(ResidentIdError::InvalidCharacter {
                position: 15,
                found: 'a'
            })
        );
    }

    #[test]
    fn age_counts_full_years() {
        let id = id("51010419900307123");
        assert_eq!(id.age_on(date(2008, 3, 6)), 17);
        assert_eq!(id.age_on(date(2008, 3, 7)), 18);
        assert_eq!(id.age_on(date(1990, 3, 7)), 0);
        assert_eq!(id.age_on(date(1980, 1, 1)), 0);
    }

    #[test]
    fn leap_day_birthdays_come_of_age_on_first_of_march() {
        let id = id("51010420000229123");
        assert_eq!(id.age_on(date(2018, 2, 28)), 17);
        assert_eq!(id.age_on(date(2018, 3, 1)), 18);
        assert_eq!(id.age_on(date(2020, 2, 29)), 20);
    }

    #[test]
    fn future_birth_dates_are_caught_with_a_clock() {
        let id = id("51010420300101123");
        let today = date(2025, 6, 1);
        assert!(!id.is_born_by(today));
        assert!(id.is_born_by(date(2030, 1, 1)));
    }

    #[test]
    fn debug_never_shows_the_full_number() {
        let id = id("51010419900307123");
        let debug = format!("{id:?}");
        assert_eq!(
            debug,
            format!("ResidentId(\"510104********{}\")", &id.as_str()[14..])
        );
        assert!(!debug.contains(id.as_str()));
    }

    #[test]
    fn serde_round_trips_the_full_number() {
        let id = ResidentId::parse("11010519491231002X").unwrap();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, r#""11010519491231002X""#);
        assert_eq!(serde_json::from_str::<ResidentId>(&json).unwrap(), id);
    }

    #[test]
    fn deserialising_an_invalid_number_fails_with_the_parse_message() {
        let err = serde_json::from_str::<ResidentId>(r#""110105194912310025""#).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("身份证号码校验位错误：应为 X，实际为 5"),
            "{err}"
        );
    }

    #[test]
    fn deserialising_a_json_number_does_not_echo_it() {
        let err = serde_json::from_str::<ResidentId>("110105194912310021")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("身份证号码必须以字符串表示"), "{err}");
        assert!(!err.contains("110105"), "{err}");
    }

    #[test]
    fn from_str_parses() {
        let id: ResidentId = "11010519491231002X".parse().unwrap();
        assert_eq!(id.gender().label_zh(), "女");
    }

    fn valid_first17() -> impl Strategy<Value = String> {
        (
            prop::sample::select(vec!["110105", "310104", "510104", "510185", "820000"]),
            1900i32..=2099,
            1u32..=12,
            1u32..=28,
            0u32..1000,
        )
            .prop_map(|(region, year, month, day, sequence)| {
                format!("{region}{year:04}{month:02}{day:02}{sequence:03}")
            })
    }

    proptest! {
        #[test]
        fn generated_ids_round_trip(first17 in valid_first17()) {
            let id = ResidentId::with_check_digit(&first17).unwrap();
            prop_assert_eq!(&id.as_str()[..17], first17.as_str());
            prop_assert_eq!(ResidentId::parse(id.as_str()), Ok(id.clone()));
            let json = serde_json::to_string(&id).unwrap();
            prop_assert_eq!(serde_json::from_str::<ResidentId>(&json).unwrap(), id);
        }

        #[test]
        fn any_single_digit_change_is_detected(first17 in valid_first17(), position in 0usize..18, delta in 1u8..10) {
            let id = ResidentId::with_check_digit(&first17).unwrap();
            let mut bytes = id.as_str().as_bytes().to_vec();
            bytes[position] = if bytes[position] == b'X' {
                b'0' + delta
            } else {
                b'0' + (bytes[position] - b'0' + delta) % 10
            };
            let altered = String::from_utf8(bytes).unwrap();
            // A change may also break the province or date check first; it must never pass.
            prop_assert!(ResidentId::parse(&altered).is_err(), "{altered}");
        }

        #[test]
        fn debug_is_always_masked(first17 in valid_first17()) {
            let id = ResidentId::with_check_digit(&first17).unwrap();
            let debug = format!("{id:?}");
            prop_assert!(!debug.contains(id.as_str()));
        }

        #[test]
        fn parse_never_panics(input in ".*") {
            let _ = ResidentId::parse(&input);
        }
    }
}
