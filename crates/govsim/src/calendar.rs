//! The simulated world's calendar: the date the data describe and whole months.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, Months, NaiveDate};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The day the synthetic population describes: ages, balances and "last 24 months" are as of
/// this date, whatever the wall clock says, so the same seed always gives the same answers.
pub const REFERENCE_DATE: NaiveDate = match NaiveDate::from_ymd_opt(2026, 11, 29) {
    Some(date) => date,
    // Evaluated at compile time: a wrong literal fails the build, never a request.
    None => panic!("2026-11-29 is a calendar date"),
};

/// The last month whose deposits, contributions, orders and payments are complete on
/// [`REFERENCE_DATE`] (2026-10).
pub const LAST_CLOSED_MONTH: YearMonth = YearMonth::new(2026, 10);

/// How many months of history the agencies keep online (2024-11 to 2026-10).
pub const HISTORY_MONTHS: u32 = 24;

/// A calendar month, written `YYYY-MM` (ISO 8601) in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct YearMonth {
    // Months since year 0, so arithmetic and comparison are integer operations.
    ordinal: i32,
}

impl YearMonth {
    /// The month `month` (1–12) of `year`; months outside 1–12 roll into adjacent years.
    pub const fn new(year: i32, month: u32) -> Self {
        Self {
            ordinal: year * 12 + month as i32 - 1,
        }
    }

    /// The month containing `date`.
    pub fn of(date: NaiveDate) -> Self {
        Self::new(date.year(), date.month())
    }

    /// The year.
    pub const fn year(self) -> i32 {
        self.ordinal.div_euclid(12)
    }

    /// The month, 1–12.
    pub const fn month(self) -> u32 {
        // `rem_euclid(12)` is in 0..12, so the cast cannot truncate.
        self.ordinal.rem_euclid(12) as u32 + 1
    }

    /// This month moved by `months`, which may be negative.
    pub const fn plus(self, months: i32) -> Self {
        Self {
            ordinal: self.ordinal + months,
        }
    }

    /// Months from `earlier` to `self` (negative if `earlier` is later).
    pub const fn months_since(self, earlier: Self) -> i32 {
        self.ordinal - earlier.ordinal
    }

    /// The first day of the month.
    pub fn first_day(self) -> NaiveDate {
        // Every `YearMonth` names a real month and day 1 exists in each; the fallback is
        // unreachable but keeps this function total.
        NaiveDate::from_ymd_opt(self.year(), self.month(), 1).unwrap_or(REFERENCE_DATE)
    }

    /// The `day`-th day of the month, clamped to its last day.
    pub fn day(self, day: u32) -> NaiveDate {
        let first = self.first_day();
        let last = first
            .checked_add_months(Months::new(1))
            .and_then(|next| next.pred_opt())
            .unwrap_or(first);
        first.with_day(day.clamp(1, last.day())).unwrap_or(first)
    }

    /// The `count` months ending with `last`, oldest first.
    pub fn window(last: Self, count: u32) -> impl Iterator<Item = Self> {
        let count = i32::try_from(count).unwrap_or(i32::MAX);
        (0..count).map(move |back| last.plus(back - count + 1))
    }
}

impl fmt::Display for YearMonth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year(), self.month())
    }
}

/// A string that is not `YYYY-MM`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("月份应为 YYYY-MM 格式")]
pub struct YearMonthError;

impl FromStr for YearMonth {
    type Err = YearMonthError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let (year, month) = input.split_once('-').ok_or(YearMonthError)?;
        if year.len() != 4 || month.len() != 2 {
            return Err(YearMonthError);
        }
        let year: i32 = year.parse().map_err(|_| YearMonthError)?;
        let month: u32 = month.parse().map_err(|_| YearMonthError)?;
        if !(1..=12).contains(&month) {
            return Err(YearMonthError);
        }
        Ok(Self::new(year, month))
    }
}

impl Serialize for YearMonth {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for YearMonth {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_count_across_years() {
        let october = LAST_CLOSED_MONTH;
        assert_eq!(october.to_string(), "2026-10");
        assert_eq!(october.plus(3).to_string(), "2027-01");
        assert_eq!(october.plus(-22).to_string(), "2024-12");
        assert_eq!(october.months_since(YearMonth::new(2024, 11)), 23);
        let window: Vec<String> = YearMonth::window(october, HISTORY_MONTHS)
            .map(|m| m.to_string())
            .collect();
        assert_eq!(window.len(), 24);
        assert_eq!(window[0], "2024-11");
        assert_eq!(window[23], "2026-10");
    }

    #[test]
    fn parses_and_clamps_days() {
        assert_eq!("2025-02".parse(), Ok(YearMonth::new(2025, 2)));
        assert_eq!("2025-13".parse::<YearMonth>(), Err(YearMonthError));
        assert_eq!("25-02".parse::<YearMonth>(), Err(YearMonthError));
        assert_eq!(
            YearMonth::new(2025, 2).day(31),
            NaiveDate::from_ymd_opt(2025, 2, 28).unwrap()
        );
    }
}
