//! The agencies' answers: one type per data kind, serialised exactly as the JSON Schemas in
//! `docs/schemas/` describe (money as yuan strings `"1234.56"`, dates `YYYY-MM-DD`, months
//! `YYYY-MM`), and built from the population.
//!
//! Every answer carries `as_of`, the date the data describe ([`REFERENCE_DATE`]; for A集团,
//! whose books close with the clock, [`books_date`](crate::enterprise::books_date)). Histories
//! are cut to the consent's `data_from..=data_to` range by the caller passing a
//! [`DateRange`].

pub mod court;
pub mod credit;
pub mod enterprise;
pub mod housing_fund;
pub mod identity;
pub mod social_insurance;
pub mod tax;
pub mod traffic;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime};

use bianmin_core::clock::CHINA_STANDARD_TIME;

use crate::calendar::{REFERENCE_DATE, YearMonth};

/// The data kinds the simulated agencies serve: what a consent lists. Every service's data
/// kind is its code, except `si.card.activate` (kind `si.card`) and `traffic.fine.notify` (kind
/// `traffic.violations`).
pub const DATA_KINDS: [&str; 20] = [
    "identity.verify",
    "hpf.account",
    "hpf.deposits",
    "si.status",
    "si.contributions",
    "si.card",
    "si.employer.staff",
    "tax.income",
    "traffic.vehicles",
    "traffic.violations",
    "traffic.licence",
    "credit.report",
    "court.cases",
    "enterprise.distributors",
    "enterprise.orders",
    "enterprise.payments",
    "enterprise.network",
    "enterprise.trade",
    "enterprise.orders.open",
    "enterprise.order.pay",
];

/// The codes of every service the simulated agencies provide, each with a request schema
/// `docs/schemas/{code}.request.json` and a response schema `docs/schemas/{code}.json`.
pub const SERVICE_CODES: [&str; 22] = [
    "identity.verify",
    "hpf.account",
    "hpf.deposits",
    "si.status",
    "si.contributions",
    "si.card",
    "si.card.activate",
    "si.employer.staff",
    "tax.income",
    "traffic.vehicles",
    "traffic.violations",
    "traffic.licence",
    "traffic.fine.notify",
    "credit.report",
    "court.cases",
    "enterprise.distributors",
    "enterprise.orders",
    "enterprise.payments",
    "enterprise.network",
    "enterprise.trade",
    "enterprise.orders.open",
    "enterprise.order.pay",
];

/// The dates a caller may see (a consent's `data_from..=data_to`); unbounded by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateRange {
    /// First date included.
    pub from: NaiveDate,
    /// Last date included.
    pub to: NaiveDate,
}

impl DateRange {
    /// Every date.
    pub const ALL: DateRange = DateRange {
        from: NaiveDate::MIN,
        to: NaiveDate::MAX,
    };

    /// Whether `date` is inside.
    pub fn contains(&self, date: NaiveDate) -> bool {
        self.from <= date && date <= self.to
    }

    /// Whether any day of `month` is inside.
    pub fn overlaps_month(&self, month: YearMonth) -> bool {
        let first = month.first_day();
        let last = month.day(31);
        first <= self.to && last >= self.from
    }

    /// Whether any day of `year` is inside.
    pub fn overlaps_year(&self, year: i32) -> bool {
        YearMonth::new(year, 1).first_day() <= self.to
            && YearMonth::new(year, 12).day(31) >= self.from
    }
}

impl Default for DateRange {
    fn default() -> Self {
        Self::ALL
    }
}

/// The date every answer describes.
pub(crate) fn as_of() -> NaiveDate {
    REFERENCE_DATE
}

/// A Beijing local time as an RFC 3339 instant with `+08:00`.
pub(crate) fn beijing(time: NaiveDateTime) -> DateTime<FixedOffset> {
    time.and_local_timezone(CHINA_STANDARD_TIME)
        .single()
        // A fixed offset maps every local time to exactly one instant.
        .unwrap_or_else(|| time.and_utc().fixed_offset())
}
