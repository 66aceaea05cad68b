//! 统一社会信用代码 (unified social credit code, GB 32100-2015) and the organisation code
//! (GB 11714-1997) embedded in it.
//!
//! Layout of the 18 characters: registration authority (1), organisation kind (1), region
//! code (6, GB/T 2260), organisation code (9: eight body characters and a GB 11714 check
//! character), and a GB 32100 check character. Every character comes from the 31-character
//! set `0-9A-Z` less `I O S V Z`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The 31 characters of GB 32100, in value order.
const CHARSET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

/// GB 32100 weights, `3^i mod 31`.
const WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// GB 11714 weights for the eight body characters of an organisation code.
const ORGANISATION_WEIGHTS: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];

/// Why a string is not a unified social credit code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsccError {
    /// Not 18 characters.
    #[error("统一社会信用代码应为 18 位")]
    BadLength,
    /// A character outside the GB 32100 character set.
    #[error("统一社会信用代码第 {0} 位字符无效")]
    InvalidCharacter(usize),
    /// The last character is not the one the first seventeen call for.
    #[error("统一社会信用代码校验位错误")]
    BadCheckCharacter,
}

/// A valid unified social credit code.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Uscc(String);

impl Uscc {
    /// Parses a code, checking the character set and the GB 32100 check character (the
    /// embedded GB 11714 check is not enforced: codes assigned without an old organisation
    /// code need not satisfy it).
    pub fn parse(input: &str) -> Result<Self, UsccError> {
        let code = input.trim().to_ascii_uppercase();
        if code.len() != 18 {
            return Err(UsccError::BadLength);
        }
        for (position, byte) in code.bytes().enumerate() {
            if value(byte).is_none() {
                return Err(UsccError::InvalidCharacter(position + 1));
            }
        }
        if check_character(&code[..17]) != Some(char::from(code.as_bytes()[17])) {
            return Err(UsccError::BadCheckCharacter);
        }
        Ok(Self(code))
    }

    /// The code made of `first17` (registration authority, organisation kind, region code and
    /// organisation code) and the GB 32100 check character they call for: how a registry that
    /// assigns codes completes one.
    ///
    /// # Errors
    ///
    /// As [`Uscc::parse`], for seventeen characters that are not of the set.
    pub fn with_check_character(first17: &str) -> Result<Self, UsccError> {
        let check = check_character(first17).ok_or(UsccError::BadLength)?;
        Self::parse(&format!("{first17}{check}"))
    }

    /// The code as 18 characters.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The six-digit region code of the registering authority.
    pub fn region_code(&self) -> &str {
        &self.0[2..8]
    }
}

impl fmt::Display for Uscc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Uscc {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Uscc {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

fn value(byte: u8) -> Option<u32> {
    CHARSET
        .iter()
        .position(|&c| c == byte)
        .and_then(|position| u32::try_from(position).ok())
}

/// The GB 32100 check character for the first seventeen characters, or `None` if `first17`
/// is not seventeen characters of the set.
pub fn check_character(first17: &str) -> Option<char> {
    if first17.len() != 17 {
        return None;
    }
    let mut sum = 0;
    for (byte, weight) in first17.bytes().zip(WEIGHTS) {
        sum += value(byte)? * weight;
    }
    let check = (31 - sum % 31) % 31;
    Some(char::from(CHARSET[check as usize]))
}

/// The GB 11714 check character for an organisation code's eight body characters (digits
/// and upper-case letters, A = 10 … Z = 35), or `None` for anything else.
pub fn organisation_check_character(body: &str) -> Option<char> {
    if body.len() != 8 {
        return None;
    }
    let mut sum = 0;
    for (byte, weight) in body.bytes().zip(ORGANISATION_WEIGHTS) {
        let value = match byte {
            b'0'..=b'9' => u32::from(byte - b'0'),
            b'A'..=b'Z' => u32::from(byte - b'A') + 10,
            _ => return None,
        };
        sum += value * weight;
    }
    Some(match 11 - sum % 11 {
        10 => 'X',
        11 => '0',
        digit => char::from(b'0' + digit as u8),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_codes_validate() {
        // The example code in the GB 32100 explanatory materials, and two large companies'
        // codes as printed on their business licences.
        for code in [
            "91350100M000100Y43",
            "914403001922038216",
            "9144030071526726XG",
        ] {
            assert!(Uscc::parse(code).is_ok(), "{code}");
        }
        assert_eq!(organisation_check_character("M000100Y"), Some('4'));
    }

    #[test]
    fn any_single_change_is_detected() {
        let code = "91350100M000100Y43";
        for position in 0..18 {
            for &replacement in CHARSET {
                if code.as_bytes()[position] == replacement {
                    continue;
                }
                let mut altered = code.as_bytes().to_vec();
                altered[position] = replacement;
                let altered = String::from_utf8(altered).unwrap();
                assert!(Uscc::parse(&altered).is_err(), "{altered}");
            }
        }
    }

    #[test]
    fn rejects_bad_shapes() {
        assert_eq!(Uscc::parse("9135010"), Err(UsccError::BadLength));
        assert_eq!(
            Uscc::parse("91350100I000100Y43"),
            Err(UsccError::InvalidCharacter(9))
        );
        assert_eq!(
            Uscc::parse("91350100M000100Y44"),
            Err(UsccError::BadCheckCharacter)
        );
    }
}
