//! Non-negative interest and fee rates.

use std::fmt;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{MoneyError, split_decimal};
use crate::serde_string::StringForm;

/// A non-negative rate as an exact decimal fraction: `0.0002` per day, `0.0730` per year.
///
/// Kept exactly as written (`0.0730` stays `0.0730` when serialised), compared by value
/// (`0.073 == 0.0730`). Serialises as a decimal string and deserialises from one only, for
/// the same reason as [`Money`](super::Money).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Rate(Decimal);

impl Rate {
    /// A rate of zero.
    pub const ZERO: Rate = Rate(Decimal::ZERO);

    /// Wraps an exact decimal fraction, rejecting negative values.
    pub fn from_decimal(rate: Decimal) -> Result<Self, MoneyError> {
        if rate < Decimal::ZERO {
            return Err(MoneyError::NegativeRate);
        }
        // `abs` drops the sign of a negative zero so that it prints as `0`.
        Ok(Self(rate.abs()))
    }

    /// Parses a decimal fraction such as `"0.0365"`, ignoring surrounding whitespace.
    pub fn parse(input: &str) -> Result<Self, MoneyError> {
        Self::from_decimal(parse_plain_decimal(input)?)
    }

    /// Parses a percentage such as `"7.3%"` or `"7.3"` into the fraction `0.073`, exactly.
    pub fn from_percent_str(input: &str) -> Result<Self, MoneyError> {
        let trimmed = input.trim();
        let mut rate = parse_plain_decimal(trimmed.strip_suffix('%').unwrap_or(trimmed))?;
        // Moving the decimal point instead of dividing by 100 keeps the value exact, and
        // fails rather than rounds past 28 decimal places.
        rate.set_scale(rate.scale() + 2)
            .map_err(|_| MoneyError::InvalidRate)?;
        Self::from_decimal(rate)
    }

    /// The rate as a decimal fraction.
    pub const fn as_decimal(self) -> Decimal {
        self.0
    }

    /// The rate as a percentage with exactly `decimal_places` decimals, rounded half up:
    /// `0.0730` with 2 → `"7.30%"`, `0.0365` with 0 → `"4%"`.
    ///
    /// `decimal_places` is capped at 26, which shows every rate exactly.
    pub fn to_percent_string(self, decimal_places: u32) -> String {
        let places = decimal_places.min(Decimal::MAX_SCALE - 2);
        // Rounding the fraction at `places + 2` is rounding the percentage at `places`; the
        // point is then moved in the digit string, which cannot overflow as `× 100` could.
        let rounded = self
            .0
            .round_dp_with_strategy(places + 2, RoundingStrategy::MidpointAwayFromZero);
        let zeros = (places + 2 - rounded.scale()) as usize;
        let digits = format!("{}{}", rounded.mantissa().unsigned_abs(), "0".repeat(zeros));
        // Without its leading zeros and padded back to one whole digit, however the zero
        // mantissa or a small rate came out of rounding.
        let places = places as usize;
        let digits = format!(
            "{:0>width$}",
            digits.trim_start_matches('0'),
            width = places + 1
        );
        let (whole, fraction) = digits.split_at(digits.len() - places);
        if fraction.is_empty() {
            format!("{whole}%")
        } else {
            format!("{whole}.{fraction}%")
        }
    }
}

/// Parses `[-]digits[.digits]` exactly; other shapes (exponents, `NaN`, separators) and more
/// than 28 decimal places are [`MoneyError::InvalidRate`].
fn parse_plain_decimal(input: &str) -> Result<Decimal, MoneyError> {
    let trimmed = input.trim();
    let unsigned = trimmed.strip_prefix('-').unwrap_or(trimmed);
    if split_decimal(unsigned).is_none() {
        return Err(MoneyError::InvalidRate);
    }
    Decimal::from_str_exact(trimmed).map_err(|_| MoneyError::InvalidRate)
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Rate({})", self.0)
    }
}

impl Serialize for Rate {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        StringForm {
            expecting: "小数形式的利率字符串，如 \"0.0365\"",
            not_a_string: "利率必须以字符串表示，如 \"0.0365\"：数字形式的利率会按浮点数处理，可能失去精度",
            parse: Rate::parse,
        }
        .deserialize(deserializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    #[test]
    fn parses_fractions_exactly() {
        assert_eq!(Rate::parse("0.0365").unwrap().as_decimal(), dec!(0.0365));
        assert_eq!(Rate::parse(" 0.0002 ").unwrap().as_decimal(), dec!(0.0002));
        assert_eq!(Rate::parse("0").unwrap(), Rate::ZERO);
        assert_eq!(Rate::parse("0.0730").unwrap().to_string(), "0.0730");
        assert_eq!(
            Rate::parse("0.073").unwrap(),
            Rate::parse("0.0730").unwrap()
        );
    }

    #[test]
    fn parses_percentages_exactly() {
        assert_eq!(
            Rate::from_percent_str("7.3%").unwrap().as_decimal(),
            dec!(0.073)
        );
        assert_eq!(
            Rate::from_percent_str("3.65").unwrap().as_decimal(),
            dec!(0.0365)
        );
        assert_eq!(
            Rate::from_percent_str(" 0.02% ").unwrap().as_decimal(),
            dec!(0.0002)
        );
        assert_eq!(
            Rate::from_percent_str("100%").unwrap().as_decimal(),
            dec!(1)
        );
        assert_eq!(
            Rate::from_percent_str(&format!("0.{}1%", "0".repeat(26))),
            Err(MoneyError::InvalidRate)
        );
    }

    #[test]
    fn rejects_negative_and_malformed_rates() {
        assert_eq!(Rate::parse("-0.01"), Err(MoneyError::NegativeRate));
        assert_eq!(Rate::from_percent_str("-1%"), Err(MoneyError::NegativeRate));
        assert_eq!(Rate::parse("-0").unwrap().to_string(), "0");
        assert_eq!(
            Rate::from_decimal(dec!(-0.5)),
            Err(MoneyError::NegativeRate)
        );
        for input in [
            "", "%", "abc", "1e-3", "NaN", "0.1.2", ".5", "1,5", "5%%", "+0.1", "0.1 %x",
        ] {
            let parsed = Rate::parse(input).or_else(|_| Rate::from_percent_str(input));
            assert_eq!(parsed, Err(MoneyError::InvalidRate), "{input:?}");
        }
        assert_eq!(MoneyError::NegativeRate.code(), "rate.negative");
        assert_eq!(MoneyError::NegativeRate.to_string(), "利率不能为负数");
    }

    #[test]
    fn formats_as_percentages() {
        let rate = |s| Rate::parse(s).unwrap();
        assert_eq!(rate("0.0730").to_percent_string(2), "7.30%");
        assert_eq!(rate("0.073").to_percent_string(0), "7%");
        assert_eq!(rate("0.0365").to_percent_string(0), "4%");
        assert_eq!(rate("0.0365").to_percent_string(1), "3.7%");
        assert_eq!(rate("0.0002").to_percent_string(3), "0.020%");
        assert_eq!(rate("0.00001").to_percent_string(2), "0.00%");
        assert_eq!(rate("0").to_percent_string(2), "0.00%");
        assert_eq!(rate("12.5").to_percent_string(1), "1250.0%");
        assert_eq!(
            Rate(Decimal::MAX).to_percent_string(0),
            format!("{}00%", Decimal::MAX)
        );
        assert_eq!(
            rate("0.1").to_percent_string(100).len(),
            "10.".len() + 26 + "%".len()
        );
    }

    #[test]
    fn serde_uses_decimal_strings_only() {
        let rate = Rate::parse("0.0730").unwrap();
        assert_eq!(serde_json::to_string(&rate).unwrap(), r#""0.0730""#);
        assert_eq!(serde_json::from_str::<Rate>(r#""0.0730""#).unwrap(), rate);
        let err = serde_json::from_str::<Rate>("0.073")
            .unwrap_err()
            .to_string();
        assert!(err.contains("利率必须以字符串表示"), "{err}");
        let err = serde_json::from_str::<Rate>(r#""-1""#)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("利率不能为负数"), "{err}");
    }

    proptest! {
        #[test]
        fn display_then_parse_round_trips(mantissa in 0i64..=i64::MAX, scale in 0u32..=18) {
            let rate = Rate::from_decimal(Decimal::new(mantissa, scale)).unwrap();
            prop_assert_eq!(Rate::parse(&rate.to_string()), Ok(rate));
        }

        #[test]
        fn percent_string_parses_back_to_the_same_rate(mantissa in 0i64..=1_000_000_000, scale in 0u32..=12) {
            let rate = Rate::from_decimal(Decimal::new(mantissa, scale)).unwrap();
            let percent = rate.to_percent_string(scale);
            prop_assert_eq!(Rate::from_percent_str(&percent), Ok(rate));
        }

        #[test]
        fn parse_never_panics(input in ".*") {
            let _ = (Rate::parse(&input), Rate::from_percent_str(&input));
        }
    }
}
