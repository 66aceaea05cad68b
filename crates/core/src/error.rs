//! The crate's error type, joining the errors of each primitive.

use crate::money::MoneyError;
use crate::phone::PhoneError;
use crate::resident_id::ResidentIdError;

/// Any error this crate produces. The HTTP layer turns it into `application/problem+json`,
/// with [`Error::code`] as the stable machine-readable part and `Display` (Simplified
/// Chinese) as the human one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// An invalid resident id.
    #[error(transparent)]
    ResidentId(#[from] ResidentIdError),
    /// An invalid amount or rate, or an amount out of range.
    #[error(transparent)]
    Money(#[from] MoneyError),
    /// An invalid mobile number.
    #[error(transparent)]
    Phone(#[from] PhoneError),
}

impl Error {
    /// Stable machine-readable code such as `"resident_id.bad_check_digit"`,
    /// `"money.too_many_decimals"` or `"phone.invalid"`; clients may match on it, so codes
    /// are never renamed.
    pub fn code(&self) -> &'static str {
        match self {
            Self::ResidentId(error) => error.code(),
            Self::Money(error) => error.code(),
            Self::Phone(error) => error.code(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Money, PhoneNumber, ResidentId};

    fn parse_all(id: &str, amount: &str, phone: &str) -> Result<(), Error> {
        ResidentId::parse(id)?;
        Money::parse(amount)?;
        PhoneNumber::parse(phone)?;
        Ok(())
    }

    #[test]
    fn wraps_each_error_with_its_code_and_message() {
        let err = parse_all("110105194912310025", "1", "13812341234").unwrap_err();
        assert_eq!(err.code(), "resident_id.bad_check_digit");
        assert_eq!(err.to_string(), "身份证号码校验位错误：应为 X，实际为 5");

        let err = parse_all("11010519491231002X", "1.001", "13812341234").unwrap_err();
        assert_eq!(err.code(), "money.too_many_decimals");
        assert_eq!(err.to_string(), "金额最多保留 2 位小数，实际为 3 位");

        let err = parse_all("11010519491231002X", "1", "138-1234-abcd").unwrap_err();
        assert_eq!(err.code(), "phone.invalid");
        assert!(err.to_string().starts_with("手机号码格式无效"));

        assert_eq!(parse_all("11010519491231002X", "1", "13812341234"), Ok(()));
    }

    #[test]
    fn codes_are_namespaced_and_unique() {
        let errors: Vec<Error> = vec![
            ResidentIdError::Empty.into(),
            ResidentIdError::BadLength { found: 1 }.into(),
            ResidentIdError::InvalidCharacter {
                position: 1,
                found: 'a',
            }
            .into(),
            ResidentIdError::UnknownProvince { code: "00".into() }.into(),
            ResidentIdError::InvalidBirthDate.into(),
            ResidentIdError::BirthDateTooEarly.into(),
            ResidentIdError::BadCheckDigit {
                expected: '1',
                found: '2',
            }
            .into(),
            MoneyError::Empty.into(),
            MoneyError::ContainsWhitespace.into(),
            MoneyError::ThousandsSeparator.into(),
            MoneyError::Exponent.into(),
            MoneyError::InvalidFormat.into(),
            MoneyError::TooManyDecimals { found: 3 }.into(),
            MoneyError::Overflow.into(),
            MoneyError::NotPositive.into(),
            MoneyError::InvalidRate.into(),
            MoneyError::NegativeRate.into(),
            PhoneError::Empty.into(),
            PhoneError::InvalidFormat.into(),
            PhoneError::BadLength { found: 3 }.into(),
            PhoneError::NotMobile.into(),
        ];
        let mut codes: Vec<&str> = errors.iter().map(Error::code).collect();
        for code in &codes {
            let (namespace, name) = code.split_once('.').unwrap();
            assert!(
                ["resident_id", "money", "rate", "phone"].contains(&namespace),
                "{code}"
            );
            assert!(
                name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{code}"
            );
        }
        for error in &errors {
            assert!(
                !error.to_string().is_ascii(),
                "message not in Chinese: {error}"
            );
        }
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), errors.len());
    }
}
