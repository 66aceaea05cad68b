//! Rollups: facts folded into cells keyed by cube, time bucket (minute, hour, day — days are
//! China calendar days) and the cube's dimensions, each cell holding its count, a latency
//! histogram (so percentiles can be read from any sum of cells) and, where the cube counts
//! people, the sketch of its distinct people. Cells add: a query sums the cells of one cube over
//! its range and filters.
//!
//! A **cube** is a set of dimensions kept together (a dimension a cube does not keep is left
//! empty in its cells). A query reads the smallest cube that has every dimension it filters or
//! groups by, so a year of a department's trend reads a few thousand cells, not every
//! combination of district, age band and channel:
//!
//! | cube | dimensions | buckets | people |
//! | --- | --- | --- | --- |
//! | `service` | metric, service, department, outcome | minute, hour, day | day |
//! | `district` | metric, department, district | hour, day | day |
//! | `people` | metric, department, channel, age band | day | day |

use std::collections::HashMap;

use chrono::{DateTime, DurationRound, FixedOffset, TimeDelta, Utc};

use crate::InsightError;
use crate::distinct::Distinct;
use crate::fact::{Fact, Metric};

/// A bucket's length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Granularity {
    /// One minute.
    Minute,
    /// One hour.
    Hour,
    /// One calendar day in China (UTC+8).
    Day,
}

impl Granularity {
    /// Every granularity, finest first.
    pub const ALL: [Granularity; 3] = [Granularity::Minute, Granularity::Hour, Granularity::Day];

    /// Its stable name (stored).
    pub fn name(self) -> &'static str {
        match self {
            Granularity::Minute => "minute",
            Granularity::Hour => "hour",
            Granularity::Day => "day",
        }
    }

    /// The granularity named `name`.
    pub fn parse(name: &str) -> Option<Granularity> {
        Granularity::ALL
            .into_iter()
            .find(|granularity| granularity.name() == name)
    }

    /// The start of the bucket holding `at`.
    pub fn bucket(self, at: DateTime<Utc>) -> DateTime<Utc> {
        let china = FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset");
        let (step, local) = match self {
            Granularity::Minute => (TimeDelta::minutes(1), at.with_timezone(&china)),
            Granularity::Hour => (TimeDelta::hours(1), at.with_timezone(&china)),
            Granularity::Day => (TimeDelta::days(1), at.with_timezone(&china)),
        };
        // Rounding in local time: a China day starts at 00:00 UTC+8.
        let shifted = local.naive_local().and_utc();
        let start = shifted
            .duration_trunc(step)
            .expect("buckets are far from the limits");
        start - TimeDelta::hours(8)
    }
}

/// A set of dimensions kept together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Cube {
    /// Metric, service, department, outcome.
    Service,
    /// Metric, department, district.
    District,
    /// Metric, department, channel, age band.
    People,
}

impl Cube {
    /// Every cube.
    pub const ALL: [Cube; 3] = [Cube::Service, Cube::District, Cube::People];

    /// Its stable name (stored).
    pub fn name(self) -> &'static str {
        match self {
            Cube::Service => "service",
            Cube::District => "district",
            Cube::People => "people",
        }
    }

    /// The cube named `name`.
    pub fn parse(name: &str) -> Option<Cube> {
        Cube::ALL.into_iter().find(|cube| cube.name() == name)
    }

    /// The granularities it is written at.
    pub fn granularities(self) -> &'static [Granularity] {
        match self {
            Cube::Service => &[Granularity::Minute, Granularity::Hour, Granularity::Day],
            Cube::District => &[Granularity::Hour, Granularity::Day],
            Cube::People => &[Granularity::Day],
        }
    }

    /// Whether it keeps `dimension` (`service`, `department`, `district`, `channel`,
    /// `outcome`, `age_band`; `metric` is in every cube).
    pub fn keeps(self, dimension: &str) -> bool {
        match self {
            Cube::Service => matches!(dimension, "metric" | "service" | "department" | "outcome"),
            Cube::District => matches!(dimension, "metric" | "department" | "district"),
            Cube::People => matches!(dimension, "metric" | "department" | "channel" | "age_band"),
        }
    }

    /// The smallest cube keeping every one of `dimensions`, if any does.
    pub fn for_dimensions(dimensions: &[&str]) -> Option<Cube> {
        Cube::ALL
            .into_iter()
            .find(|cube| dimensions.iter().all(|dimension| cube.keeps(dimension)))
    }
}

/// Where a cell sits: its cube, its bucket and the cube's dimensions.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CellKey {
    /// The cube.
    pub cube: Cube,
    /// The bucket's length.
    pub granularity: Granularity,
    /// The bucket's start (UTC).
    pub bucket: DateTime<Utc>,
    /// What is counted.
    pub metric: Metric,
    /// The service.
    pub service: String,
    /// The department.
    pub department: String,
    /// The district (empty: unknown).
    pub district: String,
    /// The channel.
    pub channel: String,
    /// The outcome.
    pub outcome: String,
    /// The age band (empty: unknown).
    pub age_band: String,
}

/// Latency histogram buckets: bucket `i` holds latencies in [2^(i-1), 2^i) ms (bucket 0: under
/// 1 ms); the last holds everything from about 36 minutes up.
pub const LATENCY_BUCKETS: usize = 22;

/// What a cell holds.
#[derive(Debug, Clone, Default)]
pub struct Cell {
    /// Facts.
    pub count: u64,
    /// Facts with a latency.
    pub timed: u64,
    /// Their latencies summed, in ms.
    pub latency_sum_ms: u64,
    /// Their latencies, in power-of-two buckets.
    pub latency: [u64; LATENCY_BUCKETS],
    /// The distinct subjects (day cells only).
    pub people: Option<Distinct>,
}

fn latency_bucket(ms: u64) -> usize {
    ((u64::BITS - ms.leading_zeros()) as usize).min(LATENCY_BUCKETS - 1)
}

impl Cell {
    /// Adds one fact.
    fn add(&mut self, fact: &Fact, with_people: bool) {
        self.count += 1;
        if let Some(ms) = fact.latency_ms {
            self.timed += 1;
            self.latency_sum_ms += ms;
            self.latency[latency_bucket(ms)] += 1;
        }
        if with_people && let Some(subject) = &fact.subject {
            self.people
                .get_or_insert_with(Distinct::default)
                .insert(subject);
        }
    }

    /// Adds `other` into this cell.
    pub fn merge(&mut self, other: &Cell) -> Result<(), InsightError> {
        self.count += other.count;
        self.timed += other.timed;
        self.latency_sum_ms += other.latency_sum_ms;
        for (mine, theirs) in self.latency.iter_mut().zip(other.latency.iter()) {
            *mine += theirs;
        }
        if let Some(people) = &other.people {
            match &mut self.people {
                Some(mine) => mine.merge(people)?,
                None => self.people = Some(people.clone()),
            }
        }
        Ok(())
    }

    /// The latency at `quantile` (0–1), as the upper edge of its histogram bucket, in ms;
    /// `None` without timed facts.
    pub fn latency_quantile_ms(&self, quantile: f64) -> Option<u64> {
        if self.timed == 0 {
            return None;
        }
        let rank = ((quantile.clamp(0.0, 1.0) * self.timed as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (bucket, count) in self.latency.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Some(if bucket == 0 { 1 } else { 1u64 << bucket });
            }
        }
        Some(1u64 << (LATENCY_BUCKETS - 1))
    }
}

/// Facts folded into cells of every granularity, in memory, until written.
#[derive(Debug, Default)]
pub struct Aggregator {
    cells: HashMap<CellKey, Cell>,
    facts: u64,
}

impl Aggregator {
    /// Folds `fact` into its cell of every cube and granularity.
    pub fn add(&mut self, fact: &Fact) {
        self.facts += 1;
        for cube in Cube::ALL {
            let keep = |dimension: &str, value: &str| {
                if cube.keeps(dimension) {
                    value.to_owned()
                } else {
                    String::new()
                }
            };
            for granularity in cube.granularities() {
                let key = CellKey {
                    cube,
                    granularity: *granularity,
                    bucket: granularity.bucket(fact.at),
                    metric: fact.metric,
                    service: keep("service", &fact.service),
                    department: keep("department", &fact.department),
                    district: keep("district", fact.district.as_deref().unwrap_or_default()),
                    channel: keep("channel", &fact.channel),
                    outcome: keep("outcome", &fact.outcome),
                    age_band: keep("age_band", fact.age_band.as_deref().unwrap_or_default()),
                };
                self.cells
                    .entry(key)
                    .or_default()
                    .add(fact, *granularity == Granularity::Day);
            }
        }
    }

    /// Facts folded so far.
    pub fn facts(&self) -> u64 {
        self.facts
    }

    /// The cells, emptied out of the aggregator.
    pub fn drain(&mut self) -> Vec<(CellKey, Cell)> {
        self.facts = 0;
        self.cells.drain().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn fact(at: DateTime<Utc>, subject: &str, latency: u64) -> Fact {
        Fact {
            metric: Metric::ServiceUse,
            at,
            service: "hpf.account".into(),
            department: "hpf".into(),
            district: Some("锦江区".into()),
            channel: "h5".into(),
            outcome: "ok".into(),
            age_band: Some("25-34".into()),
            subject: Some(subject.into()),
            latency_ms: Some(latency),
        }
    }

    #[test]
    fn buckets_follow_the_china_calendar() {
        // 2026-11-28 23:30 UTC is 2026-11-29 07:30 in 成都.
        let at = Utc.with_ymd_and_hms(2026, 11, 28, 23, 30, 45).unwrap();
        assert_eq!(
            Granularity::Day.bucket(at),
            Utc.with_ymd_and_hms(2026, 11, 28, 16, 0, 0).unwrap()
        );
        assert_eq!(
            Granularity::Hour.bucket(at),
            Utc.with_ymd_and_hms(2026, 11, 28, 23, 0, 0).unwrap()
        );
        assert_eq!(
            Granularity::Minute.bucket(at),
            Utc.with_ymd_and_hms(2026, 11, 28, 23, 30, 0).unwrap()
        );
        // 15:59 UTC is still the same China day as 16:00 UTC the day before.
        let late = Utc.with_ymd_and_hms(2026, 11, 29, 15, 59, 0).unwrap();
        assert_eq!(Granularity::Day.bucket(late), Granularity::Day.bucket(at));
    }

    #[test]
    fn facts_fold_into_every_granularity_and_cells_merge() {
        let at = Utc.with_ymd_and_hms(2026, 11, 29, 2, 0, 0).unwrap();
        let mut aggregator = Aggregator::default();
        for (n, latency) in [3u64, 40, 40, 900].iter().enumerate() {
            aggregator.add(&fact(
                at + TimeDelta::minutes(n as i64 * 20),
                &format!("s{}", n % 3),
                *latency,
            ));
        }
        let cells = aggregator.drain();
        let of = |granularity| {
            cells
                .iter()
                .filter(|(key, _)| key.cube == Cube::Service && key.granularity == granularity)
                .map(|(_, cell)| cell.count)
                .collect::<Vec<_>>()
        };
        assert_eq!(of(Granularity::Minute).len(), 4);
        assert!(
            cells
                .iter()
                .filter(|(key, _)| key.cube == Cube::Service)
                .all(|(key, _)| key.district.is_empty() && key.age_band.is_empty()),
            "the service cube keeps no district or age band"
        );
        let district_day: Vec<&(CellKey, Cell)> = cells
            .iter()
            .filter(|(key, _)| key.cube == Cube::District && key.granularity == Granularity::Day)
            .collect();
        assert_eq!(district_day.len(), 1);
        assert_eq!(district_day[0].0.district, "锦江区");
        assert!(district_day[0].0.service.is_empty());
        assert!(
            !cells
                .iter()
                .any(|(key, _)| key.cube == Cube::People && key.granularity != Granularity::Day)
        );
        assert_eq!(
            Cube::for_dimensions(&["department", "district"]),
            Some(Cube::District)
        );
        assert_eq!(Cube::for_dimensions(&["service"]), Some(Cube::Service));
        assert_eq!(
            Cube::for_dimensions(&["age_band", "channel"]),
            Some(Cube::People)
        );
        assert_eq!(Cube::for_dimensions(&["district", "service"]), None);
        assert_eq!(of(Granularity::Hour).iter().sum::<u64>(), 4);
        assert_eq!(of(Granularity::Day), vec![4]);
        let (_, day) = cells
            .iter()
            .find(|(key, _)| key.cube == Cube::Service && key.granularity == Granularity::Day)
            .unwrap();
        assert_eq!(day.people.clone().unwrap().count(), 3);
        assert_eq!(day.latency_sum_ms, 983);
        assert_eq!(
            day.latency_quantile_ms(0.5),
            Some(64),
            "the 2nd of 4: 40 ms, bucket [32, 64)"
        );
        assert_eq!(day.latency_quantile_ms(0.99), Some(1024));
        let (_, minute) = cells
            .iter()
            .find(|(key, _)| key.granularity == Granularity::Minute)
            .unwrap();
        assert!(minute.people.is_none(), "people are counted in day cells");
        let mut sum = Cell::default();
        sum.merge(day).unwrap();
        sum.merge(day).unwrap();
        assert_eq!(sum.count, 8);
        assert_eq!(
            sum.people.unwrap().count(),
            3,
            "the same people twice are the same people"
        );
        assert_eq!(Cell::default().latency_quantile_ms(0.5), None);
    }
}
