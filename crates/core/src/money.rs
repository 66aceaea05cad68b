//! Renminbi amounts in integer fen, interest rates, and the rounding between them.
//!
//! Amounts are never floats: a [`Money`] is an `i64` count of fen (分), arithmetic is checked
//! and fails with [`MoneyError::Overflow`] instead of wrapping, and every conversion from an
//! exact [`Decimal`] back to fen names its [`Rounding`] — nothing here rounds implicitly.

mod rate;

use std::fmt;
use std::iter;
use std::str::FromStr;

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use rate::Rate;

use crate::serde_string::StringForm;

/// Why an amount or rate could not be parsed or computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// Nothing but whitespace was given.
    #[error("请输入金额")]
    Empty,
    /// Whitespace between the characters of an amount.
    #[error("金额中不能包含空格")]
    ContainsWhitespace,
    /// Thousands separators such as `1,234.56`.
    #[error("金额中不能包含千位分隔符，请输入如 1234.56 的格式")]
    ThousandsSeparator,
    /// Scientific notation such as `1e3`.
    #[error("金额不能使用科学计数法，请输入如 1234.56 的格式")]
    Exponent,
    /// Anything else that is not `[-]digits[.digits]` (`NaN`, `¥12`, `.5`, `+3`, …).
    #[error("金额格式无效，请输入以元为单位的数字，如 1234.56")]
    InvalidFormat,
    /// More than two decimal places; amounts are never rounded silently.
    #[error("金额最多保留 2 位小数，实际为 {found} 位")]
    TooManyDecimals {
        /// Decimal places given.
        found: usize,
    },
    /// The amount or a result does not fit in the representable range (about ±9.2 × 10¹⁶
    /// yuan).
    #[error("金额超出可计算的范围")]
    Overflow,
    /// A positive amount was required.
    #[error("金额必须大于 0")]
    NotPositive,
    /// A rate that is not a plain non-negative decimal, or has more than 28 decimal places.
    #[error("利率格式无效，请输入如 0.0365 或 3.65% 的格式")]
    InvalidRate,
    /// A negative rate.
    #[error("利率不能为负数")]
    NegativeRate,
}

impl MoneyError {
    /// Stable machine-readable code, e.g. `"money.too_many_decimals"`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Empty => "money.empty",
            Self::ContainsWhitespace => "money.contains_whitespace",
            Self::ThousandsSeparator => "money.thousands_separator",
            Self::Exponent => "money.exponent",
            Self::InvalidFormat => "money.invalid_format",
            Self::TooManyDecimals { .. } => "money.too_many_decimals",
            Self::Overflow => "money.overflow",
            Self::NotPositive => "money.not_positive",
            Self::InvalidRate => "rate.invalid",
            Self::NegativeRate => "rate.negative",
        }
    }
}

/// How an exact decimal is brought to whole fen. Always passed explicitly.
///
/// The names follow `java.math.RoundingMode`, which bank back ends share: "up" and "down"
/// mean away from and towards zero, for negative amounts too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Rounding {
    /// 四舍五入: halves go away from zero (0.125 → 0.13, -0.125 → -0.13). The rule for
    /// interest, hence the default.
    #[default]
    HalfUp,
    /// Banker's rounding: halves go to the even fen (0.125 → 0.12, 0.135 → 0.14).
    HalfEven,
    /// Truncation towards zero (0.129 → 0.12).
    Down,
    /// Away from zero (0.121 → 0.13).
    Up,
}

impl Rounding {
    fn strategy(self) -> RoundingStrategy {
        match self {
            Self::HalfUp => RoundingStrategy::MidpointAwayFromZero,
            Self::HalfEven => RoundingStrategy::MidpointNearestEven,
            Self::Down => RoundingStrategy::ToZero,
            Self::Up => RoundingStrategy::AwayFromZero,
        }
    }
}

/// An amount of renminbi in fen (1 yuan = 100 fen); negative amounts are allowed.
///
/// Displays as yuan with exactly two decimals (`1234.56`, `-3.50`) and serialises as that
/// string. It deserialises from a string only: JSON numbers are floats to most clients, and a
/// float cannot hold every fen.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(i64);

const FEN_PER_YUAN: u64 = 100;

impl Money {
    /// No money.
    pub const ZERO: Money = Money(0);

    /// The amount of `fen` fen.
    pub const fn from_fen(fen: i64) -> Self {
        Self(fen)
    }

    /// The amount in fen.
    pub const fn fen(self) -> i64 {
        self.0
    }

    /// Parses a yuan amount such as `"1234.56"`, `"-3.5"` or `"100"`, ignoring surrounding
    /// whitespace.
    ///
    /// At most two decimal places are accepted; more is an error, never a rounding.
    /// Thousands separators, exponents, signs other than a leading `-`, and anything that is
    /// not a plain decimal (`NaN`, `inf`, `¥12`, `.5`, `5.`) are rejected.
    pub fn parse(input: &str) -> Result<Self, MoneyError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(MoneyError::Empty);
        }
        if trimmed.chars().any(char::is_whitespace) {
            return Err(MoneyError::ContainsWhitespace);
        }
        if trimmed.contains([',', '，']) {
            return Err(MoneyError::ThousandsSeparator);
        }
        let (negative, unsigned) = match trimmed.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, trimmed),
        };
        let Some((whole, fraction)) = split_decimal(unsigned) else {
            let looks_scientific = trimmed.contains(['e', 'E'])
                && trimmed
                    .chars()
                    .all(|c| c.is_ascii_digit() || matches!(c, '.' | '+' | '-' | 'e' | 'E'));
            return Err(if looks_scientific {
                MoneyError::Exponent
            } else {
                MoneyError::InvalidFormat
            });
        };
        if fraction.len() > 2 {
            return Err(MoneyError::TooManyDecimals {
                found: fraction.len(),
            });
        }
        // Accumulated in i128 so that the magnitude of i64::MIN fits before the sign is
        // applied; the final conversion catches everything out of range.
        let padding = iter::repeat_n(b'0', 2 - fraction.len());
        let mut fen: i128 = 0;
        for digit in whole.bytes().chain(fraction.bytes()).chain(padding) {
            fen = fen
                .checked_mul(10)
                .and_then(|fen| fen.checked_add(i128::from(digit - b'0')))
                .ok_or(MoneyError::Overflow)?;
        }
        if negative {
            fen = -fen;
        }
        i64::try_from(fen)
            .map(Self)
            .map_err(|_| MoneyError::Overflow)
    }

    /// Like [`Money::parse`], but the amount must be greater than zero (transfers, limits,
    /// loan amounts).
    pub fn parse_positive(input: &str) -> Result<Self, MoneyError> {
        let amount = Self::parse(input)?;
        if amount.is_positive() {
            Ok(amount)
        } else {
            Err(MoneyError::NotPositive)
        }
    }

    /// Whether the amount is greater than zero.
    pub const fn is_positive(self) -> bool {
        self.0 > 0
    }

    /// Whether the amount is less than zero.
    pub const fn is_negative(self) -> bool {
        self.0 < 0
    }

    /// `self + other`, or [`MoneyError::Overflow`].
    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.0
            .checked_add(other.0)
            .map(Self)
            .ok_or(MoneyError::Overflow)
    }

    /// `self - other`, or [`MoneyError::Overflow`].
    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.0
            .checked_sub(other.0)
            .map(Self)
            .ok_or(MoneyError::Overflow)
    }

    /// `-self`, or [`MoneyError::Overflow`] for the most negative amount.
    pub fn checked_neg(self) -> Result<Money, MoneyError> {
        self.0.checked_neg().map(Self).ok_or(MoneyError::Overflow)
    }

    /// `self × factor` (e.g. a monthly instalment times the number of months), or
    /// [`MoneyError::Overflow`].
    pub fn checked_mul_int(self, factor: i64) -> Result<Money, MoneyError> {
        self.0
            .checked_mul(factor)
            .map(Self)
            .ok_or(MoneyError::Overflow)
    }

    /// Sum of all amounts, or [`MoneyError::Overflow`] as soon as a partial sum overflows.
    pub fn try_sum<I: IntoIterator<Item = Money>>(amounts: I) -> Result<Money, MoneyError> {
        amounts.into_iter().try_fold(Self::ZERO, Self::checked_add)
    }

    /// The exact amount in yuan, with two decimal places.
    pub fn to_yuan(self) -> Decimal {
        Decimal::new(self.0, 2)
    }

    /// Brings an exact yuan amount to whole fen with the given rounding, or
    /// [`MoneyError::Overflow`] if it is out of range.
    pub fn from_yuan(yuan: Decimal, rounding: Rounding) -> Result<Money, MoneyError> {
        yuan.round_dp_with_strategy(2, rounding.strategy())
            .checked_mul(Decimal::ONE_HUNDRED)
            .and_then(|fen| fen.to_i64())
            .map(Self)
            .ok_or(MoneyError::Overflow)
    }

    /// `self × rate`, brought to fen with the given rounding: the interest on a principal, a
    /// fee, a discount.
    ///
    /// The product is exact as long as it needs at most 28 significant digits, which holds
    /// for any real-world amount and rate; beyond that `Decimal` rounds before `rounding`
    /// does.
    pub fn apply_rate(self, rate: Rate, rounding: Rounding) -> Result<Money, MoneyError> {
        let exact = self
            .to_yuan()
            .checked_mul(rate.as_decimal())
            .ok_or(MoneyError::Overflow)?;
        Self::from_yuan(exact, rounding)
    }

    /// The amount for people: `¥1,234.56`, `-¥0.50`.
    pub fn format_cny(self) -> String {
        let whole = (self.0.unsigned_abs() / FEN_PER_YUAN).to_string();
        let mut grouped = String::with_capacity(whole.len() * 4 / 3);
        for (index, digit) in whole.chars().enumerate() {
            if index > 0 && (whole.len() - index).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(digit);
        }
        let sign = if self.is_negative() { "-" } else { "" };
        let fen = self.0.unsigned_abs() % FEN_PER_YUAN;
        format!("{sign}¥{grouped}.{fen:02}")
    }
}

/// Splits `digits[.digits]` into its whole and fractional parts; `None` if `input` has any
/// other shape.
fn split_decimal(input: &str) -> Option<(&str, &str)> {
    let is_digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    let (whole, fraction) = match input.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (input, None),
    };
    (is_digits(whole) && fraction.is_none_or(is_digits)).then_some((whole, fraction.unwrap_or("")))
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.is_negative() { "-" } else { "" };
        let fen = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", fen / FEN_PER_YUAN, fen % FEN_PER_YUAN)
    }
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Money({self})")
    }
}

impl FromStr for Money {
    type Err = MoneyError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        Self::parse(input)
    }
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        StringForm {
            expecting: "以元为单位的金额字符串，如 \"1234.56\"",
            not_a_string: "金额必须以字符串表示，如 \"1234.56\"：数字形式的金额会按浮点数处理，可能丢失分",
            parse: Money::parse,
        }
        .deserialize(deserializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    fn yuan(input: &str) -> Money {
        Money::parse(input).unwrap()
    }

    #[test]
    fn parses_yuan_strings_into_fen() {
        assert_eq!(yuan("1234.56").fen(), 123_456);
        assert_eq!(yuan("-3.5").fen(), -350);
        assert_eq!(yuan("100").fen(), 10_000);
        assert_eq!(yuan("0.01").fen(), 1);
        assert_eq!(yuan("  7.00\n").fen(), 700);
        assert_eq!(yuan("-0").fen(), 0);
        assert_eq!(yuan("007.5").fen(), 750);
    }

    #[test]
    fn parses_the_whole_i64_range() {
        assert_eq!(yuan("92233720368547758.07").fen(), i64::MAX);
        assert_eq!(yuan("-92233720368547758.08").fen(), i64::MIN);
        assert_eq!(
            Money::parse("92233720368547758.08"),
            Err(MoneyError::Overflow)
        );
        assert_eq!(Money::parse(&"9".repeat(100)), Err(MoneyError::Overflow));
    }

    #[test]
    fn rejects_more_than_two_decimals_instead_of_rounding() {
        let err = Money::parse("1.005").unwrap_err();
        assert_eq!(err, MoneyError::TooManyDecimals { found: 3 });
        assert_eq!(err.code(), "money.too_many_decimals");
        assert_eq!(err.to_string(), "金额最多保留 2 位小数，实际为 3 位");
        assert_eq!(
            Money::parse("1.000"),
            Err(MoneyError::TooManyDecimals { found: 3 })
        );
    }

    #[test]
    fn rejects_malformed_amounts_with_specific_errors() {
        let cases = [
            ("", MoneyError::Empty),
            ("   ", MoneyError::Empty),
            ("1 000", MoneyError::ContainsWhitespace),
            ("1\u{3000}000", MoneyError::ContainsWhitespace),
            ("1,234.56", MoneyError::ThousandsSeparator),
            ("1，234", MoneyError::ThousandsSeparator),
            ("1e3", MoneyError::Exponent),
            ("1.5E+2", MoneyError::Exponent),
            ("NaN", MoneyError::InvalidFormat),
            ("inf", MoneyError::InvalidFormat),
            ("-", MoneyError::InvalidFormat),
            (".5", MoneyError::InvalidFormat),
            ("5.", MoneyError::InvalidFormat),
            ("+5", MoneyError::InvalidFormat),
            ("--5", MoneyError::InvalidFormat),
            ("1.2.3", MoneyError::InvalidFormat),
            ("¥12", MoneyError::InvalidFormat),
            ("１２", MoneyError::InvalidFormat),
            ("0x10", MoneyError::InvalidFormat),
        ];
        for (input, expected) in cases {
            assert_eq!(Money::parse(input), Err(expected), "{input:?}");
        }
    }

    #[test]
    fn parse_positive_rejects_zero_and_negatives() {
        assert_eq!(Money::parse_positive("0.01"), Ok(Money::from_fen(1)));
        assert_eq!(Money::parse_positive("0"), Err(MoneyError::NotPositive));
        assert_eq!(Money::parse_positive("-1"), Err(MoneyError::NotPositive));
        assert_eq!(Money::parse_positive("x"), Err(MoneyError::InvalidFormat));
    }

    #[test]
    fn displays_two_decimals() {
        assert_eq!(yuan("1234.56").to_string(), "1234.56");
        assert_eq!(yuan("-3.5").to_string(), "-3.50");
        assert_eq!(Money::from_fen(-5).to_string(), "-0.05");
        assert_eq!(Money::ZERO.to_string(), "0.00");
        assert_eq!(
            Money::from_fen(i64::MIN).to_string(),
            "-92233720368547758.08"
        );
        assert_eq!(format!("{:?}", yuan("12")), "Money(12.00)");
    }

    #[test]
    fn formats_for_people_with_grouping() {
        assert_eq!(yuan("1234.56").format_cny(), "¥1,234.56");
        assert_eq!(yuan("-1234567.8").format_cny(), "-¥1,234,567.80");
        assert_eq!(yuan("999").format_cny(), "¥999.00");
        assert_eq!(yuan("100000").format_cny(), "¥100,000.00");
        assert_eq!(Money::ZERO.format_cny(), "¥0.00");
    }

    #[test]
    fn arithmetic_reports_overflow() {
        let max = Money::from_fen(i64::MAX);
        assert_eq!(
            max.checked_add(Money::from_fen(1)),
            Err(MoneyError::Overflow)
        );
        assert_eq!(
            Money::from_fen(i64::MIN).checked_sub(Money::from_fen(1)),
            Err(MoneyError::Overflow)
        );
        assert_eq!(
            Money::from_fen(i64::MIN).checked_neg(),
            Err(MoneyError::Overflow)
        );
        assert_eq!(max.checked_mul_int(2), Err(MoneyError::Overflow));
        assert_eq!(yuan("1.5").checked_mul_int(-3), Ok(yuan("-4.5")));
        assert_eq!(yuan("1.5").checked_neg(), Ok(yuan("-1.5")));
    }

    #[test]
    fn try_sum_adds_or_reports_overflow() {
        assert_eq!(Money::try_sum([]), Ok(Money::ZERO));
        assert_eq!(
            Money::try_sum([yuan("1.10"), yuan("2.20"), yuan("-0.30")]),
            Ok(yuan("3"))
        );
        assert_eq!(
            Money::try_sum([Money::from_fen(i64::MAX), Money::from_fen(1)]),
            Err(MoneyError::Overflow)
        );
    }

    #[test]
    fn converts_to_and_from_yuan_decimals() {
        assert_eq!(yuan("1234.56").to_yuan(), dec!(1234.56));
        assert_eq!(
            Money::from_yuan(dec!(1234.56), Rounding::Down),
            Ok(yuan("1234.56"))
        );
        assert_eq!(
            Money::from_yuan(Decimal::MAX, Rounding::HalfUp),
            Err(MoneyError::Overflow)
        );
        assert_eq!(
            Money::from_yuan(dec!(92233720368547758.08), Rounding::HalfUp),
            Err(MoneyError::Overflow)
        );
    }

    #[test]
    fn each_rounding_mode_is_explicit_and_distinct() {
        let cases = [
            (dec!(0.125), [13, 12, 12, 13]),
            (dec!(0.135), [14, 14, 13, 14]),
            (dec!(0.121), [12, 12, 12, 13]),
            (dec!(0.129), [13, 13, 12, 13]),
            (dec!(-0.125), [-13, -12, -12, -13]),
            (dec!(-0.121), [-12, -12, -12, -13]),
        ];
        let modes = [
            Rounding::HalfUp,
            Rounding::HalfEven,
            Rounding::Down,
            Rounding::Up,
        ];
        for (amount, expected) in cases {
            for (mode, fen) in modes.into_iter().zip(expected) {
                assert_eq!(
                    Money::from_yuan(amount, mode),
                    Ok(Money::from_fen(fen)),
                    "{amount} {mode:?}"
                );
            }
        }
        assert_eq!(Rounding::default(), Rounding::HalfUp);
    }

    #[test]
    fn applies_rates_with_the_chosen_rounding() {
        let daily = Rate::parse("0.0002").unwrap();
        // 10 000.33 × 0.0002 = 2.000066
        assert_eq!(
            yuan("10000.33").apply_rate(daily, Rounding::HalfUp),
            Ok(yuan("2.00"))
        );
        assert_eq!(
            yuan("10000.33").apply_rate(daily, Rounding::Up),
            Ok(yuan("2.01"))
        );
        let apr = Rate::from_percent_str("7.3%").unwrap();
        assert_eq!(
            yuan("12345.67").apply_rate(apr, Rounding::HalfUp),
            Ok(yuan("901.23"))
        );
        assert_eq!(
            Money::from_fen(i64::MAX).apply_rate(Rate::parse("2").unwrap(), Rounding::HalfUp),
            Err(MoneyError::Overflow)
        );
    }

    #[test]
    fn serialises_as_a_two_decimal_string() {
        assert_eq!(
            serde_json::to_string(&yuan("1234.5")).unwrap(),
            r#""1234.50""#
        );
        assert_eq!(serde_json::to_string(&yuan("-0.01")).unwrap(), r#""-0.01""#);
        assert_eq!(
            serde_json::from_str::<Money>(r#""1234.56""#).unwrap(),
            yuan("1234.56")
        );
        assert_eq!(
            serde_json::from_str::<Money>(r#""100""#).unwrap(),
            yuan("100")
        );
    }

    #[test]
    fn deserialising_rejects_json_numbers_with_an_explanation() {
        for json in ["1234.56", "100", "-3"] {
            let err = serde_json::from_str::<Money>(json).unwrap_err().to_string();
            assert!(err.contains("金额必须以字符串表示"), "{json}: {err}");
        }
        let err = serde_json::from_str::<Money>(r#""1.005""#)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("金额最多保留 2 位小数"), "{err}");
        assert!(serde_json::from_str::<Money>("null").is_err());
    }

    proptest! {
        #[test]
        fn display_then_parse_round_trips(fen in any::<i64>()) {
            let money = Money::from_fen(fen);
            prop_assert_eq!(Money::parse(&money.to_string()), Ok(money));
            let json = serde_json::to_string(&money).unwrap();
            prop_assert_eq!(serde_json::from_str::<Money>(&json).unwrap(), money);
        }

        #[test]
        fn add_then_sub_round_trips(a in any::<i64>(), b in any::<i64>()) {
            let (a, b) = (Money::from_fen(a), Money::from_fen(b));
            if let Ok(sum) = a.checked_add(b) {
                prop_assert_eq!(sum.checked_sub(b), Ok(a));
                prop_assert_eq!(sum, b.checked_add(a).unwrap());
            }
            if let Ok(difference) = a.checked_sub(b) {
                prop_assert_eq!(difference.checked_add(b), Ok(a));
            }
        }

        #[test]
        fn checked_ops_agree_with_wide_arithmetic(a in any::<i64>(), b in any::<i64>()) {
            let (ma, mb) = (Money::from_fen(a), Money::from_fen(b));
            let in_range = |wide: i128| i64::try_from(wide).ok().map(Money::from_fen).ok_or(MoneyError::Overflow);
            prop_assert_eq!(ma.checked_add(mb), in_range(i128::from(a) + i128::from(b)));
            prop_assert_eq!(ma.checked_sub(mb), in_range(i128::from(a) - i128::from(b)));
            prop_assert_eq!(ma.checked_mul_int(b), in_range(i128::from(a) * i128::from(b)));
            prop_assert_eq!(ma.checked_neg(), in_range(-i128::from(a)));
            prop_assert_eq!(Money::try_sum([ma, mb]), in_range(i128::from(a) + i128::from(b)));
        }

        #[test]
        fn yuan_decimal_round_trips(fen in any::<i64>()) {
            let money = Money::from_fen(fen);
            for rounding in [Rounding::HalfUp, Rounding::HalfEven, Rounding::Down, Rounding::Up] {
                prop_assert_eq!(Money::from_yuan(money.to_yuan(), rounding), Ok(money));
            }
        }

        #[test]
        fn interest_is_never_negative_on_a_non_negative_principal(
            fen in 0i64..=1_000_000_000_000,
            rate_ten_thousandths in 0u32..=100_000,
        ) {
            let rate = Rate::from_decimal(Decimal::new(i64::from(rate_ten_thousandths), 4)).unwrap();
            for rounding in [Rounding::HalfUp, Rounding::HalfEven, Rounding::Down, Rounding::Up] {
                let interest = Money::from_fen(fen).apply_rate(rate, rounding).unwrap();
                prop_assert!(!interest.is_negative());
            }
        }

        #[test]
        fn parse_never_panics(input in ".*") {
            let _ = Money::parse(&input);
        }
    }
}
