//! Mainland China mobile numbers.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::mask::mask_phone;
use crate::serde_string::StringForm;

/// Why a string is not a mainland mobile number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    /// Nothing but whitespace was given.
    #[error("请输入手机号码")]
    Empty,
    /// Characters other than digits, single spaces or dashes between digits, and a leading
    /// `+` for the country code.
    #[error("手机号码格式无效，只能包含数字，可带 +86 前缀，数字之间可用空格或短横线分隔")]
    InvalidFormat,
    /// Not 11 digits once the country code is removed.
    #[error("手机号码应为 11 位数字，实际为 {found} 位")]
    BadLength {
        /// Digits found after removing the country code.
        found: usize,
    },
    /// 11 digits, but not starting with 13–19 as mainland mobile numbers do.
    #[error("手机号码应以 13 至 19 开头")]
    NotMobile,
}

impl PhoneError {
    /// Stable machine-readable code, e.g. `"phone.invalid"`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Empty => "phone.empty",
            Self::InvalidFormat => "phone.invalid",
            Self::BadLength { .. } => "phone.bad_length",
            Self::NotMobile => "phone.not_mobile",
        }
    }
}

/// A mainland China mobile number, stored as its 11 digits (`1[3-9]` followed by nine more).
///
/// Like [`ResidentId`](crate::ResidentId), `Debug` shows only the masked form and there is
/// no `Display`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// Parses a mobile number as people write it: `13812341234`, `138 1234 1234`,
    /// `138-1234-1234`, `+86 138 1234 1234`, `8613812341234` or `0086 13812341234`.
    ///
    /// Surrounding whitespace is ignored; a space or dash is allowed only between two digits.
    pub fn parse(input: &str) -> Result<Self, PhoneError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(PhoneError::Empty);
        }
        let (international, rest) = match trimmed.strip_prefix('+') {
            Some(rest) => (true, rest),
            None => (false, trimmed),
        };
        let mut digits = String::with_capacity(rest.len());
        let mut after_digit = false;
        for c in rest.chars() {
            match c {
                '0'..='9' => {
                    digits.push(c);
                    after_digit = true;
                }
                ' ' | '-' if after_digit => after_digit = false,
                _ => return Err(PhoneError::InvalidFormat),
            }
        }
        if !after_digit {
            return Err(PhoneError::InvalidFormat);
        }
        // Without a `+`, the prefix is recognised by the length it adds, since no mobile
        // number starts with 8 or 0 itself.
        let national = if international {
            digits.strip_prefix("86").ok_or(PhoneError::InvalidFormat)?
        } else if digits.len() == 15 {
            digits.strip_prefix("0086").unwrap_or(&digits)
        } else if digits.len() == 13 {
            digits.strip_prefix("86").unwrap_or(&digits)
        } else {
            &digits
        };
        if national.len() != 11 {
            return Err(PhoneError::BadLength {
                found: national.len(),
            });
        }
        match national.as_bytes() {
            [b'1', b'3'..=b'9', ..] => Ok(Self(national.to_owned())),
            _ => Err(PhoneError::NotMobile),
        }
    }

    /// The 11 digits. Handle with care: it is personal data.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The masked form for display and logs, e.g. `138****1234`.
    pub fn masked(&self) -> String {
        mask_phone(&self.0)
    }
}

impl FromStr for PhoneNumber {
    type Err = PhoneError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        Self::parse(input)
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PhoneNumber").field(&self.masked()).finish()
    }
}

impl Serialize for PhoneNumber {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for PhoneNumber {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        StringForm {
            expecting: "11 位手机号码字符串",
            not_a_string: "手机号码必须以字符串表示",
            parse: Self::parse,
        }
        .deserialize(deserializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_the_ways_people_write_numbers() {
        for input in [
            "13812341234",
            " 13812341234 ",
            "138 1234 1234",
            "138-1234-1234",
            "+86 138 1234 1234",
            "+86-13812341234",
            "+8613812341234",
            "8613812341234",
            "86 138 1234 1234",
            "0086 13812341234",
            "008613812341234",
        ] {
            let phone = PhoneNumber::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(phone.as_str(), "13812341234", "{input}");
        }
    }

    #[test]
    fn accepts_every_mobile_prefix() {
        for second in 3..=9 {
            assert!(PhoneNumber::parse(&format!("1{second}012345678")).is_ok());
        }
    }

    #[test]
    fn rejects_malformed_numbers() {
        let cases = [
            ("", PhoneError::Empty),
            ("1381234123", PhoneError::BadLength { found: 10 }),
            ("138123412345", PhoneError::BadLength { found: 12 }),
            ("12812341234", PhoneError::NotMobile),
            ("02812341234", PhoneError::NotMobile),
            ("138  1234 1234", PhoneError::InvalidFormat),
            ("138-1234-1234-", PhoneError::InvalidFormat),
            ("-13812341234", PhoneError::InvalidFormat),
            ("+1 138 1234 1234", PhoneError::InvalidFormat),
            ("+", PhoneError::InvalidFormat),
            ("+ 8613812341234", PhoneError::InvalidFormat),
            ("(028) 8765 4321", PhoneError::InvalidFormat),
            ("１３８１２３４１２３４", PhoneError::InvalidFormat),
            ("+0086 13812341234", PhoneError::InvalidFormat),
            ("8812341234567", PhoneError::BadLength { found: 13 }),
        ];
        for (input, expected) in cases {
            assert_eq!(PhoneNumber::parse(input), Err(expected), "{input:?}");
        }
        assert_eq!(PhoneError::InvalidFormat.code(), "phone.invalid");
        assert_eq!(
            PhoneError::BadLength { found: 10 }.to_string(),
            "手机号码应为 11 位数字，实际为 10 位"
        );
    }

    #[test]
    fn debug_and_masked_hide_the_middle() {
        let phone = PhoneNumber::parse("138 0000 1234").unwrap();
        assert_eq!(phone.masked(), "138****1234");
        assert_eq!(format!("{phone:?}"), r#"PhoneNumber("138****1234")"#);
    }

    #[test]
    fn serde_round_trips_and_validates() {
        let phone = PhoneNumber::parse("13812341234").unwrap();
        let json = serde_json::to_string(&phone).unwrap();
        assert_eq!(json, r#""13812341234""#);
        assert_eq!(serde_json::from_str::<PhoneNumber>(&json).unwrap(), phone);
        assert_eq!(
            serde_json::from_str::<PhoneNumber>(r#""+86 138-1234-1234""#).unwrap(),
            phone
        );
        let err = serde_json::from_str::<PhoneNumber>(r#""12812341234""#).unwrap_err();
        assert!(
            err.to_string().starts_with("手机号码应以 13 至 19 开头"),
            "{err}"
        );
    }

    proptest! {
        #[test]
        fn formatted_numbers_normalise(number in "1[3-9][0-9]{9}", prefix in prop::sample::select(vec!["", "+86 ", "86", "0086-"])) {
            let spaced = format!("{prefix}{} {} {}", &number[..3], &number[3..7], &number[7..]);
            let phone = PhoneNumber::parse(&spaced).unwrap();
            prop_assert_eq!(phone.as_str(), number.as_str());
            let debug = format!("{phone:?}");
            prop_assert!(!debug.contains(&number));
        }

        #[test]
        fn parse_never_panics(input in ".*") {
            let _ = PhoneNumber::parse(&input);
        }
    }
}
