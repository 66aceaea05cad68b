//! Rollups: facts folded into cells keyed by cube, time bucket (minute, hour, day, month — days
//! and months are China calendar ones) and the cube's dimensions, each cell holding its count, a
//! latency histogram (so percentiles can be read from any sum of cells) and, in day and month
//! cells, the sketch of its distinct people. Cells add: a query sums the cells of one cube over
//! its range and filters.
//!
//! A **cube** is a set of dimensions kept together (a dimension a cube does not keep is left
//! empty in its cells). A query reads the smallest cube that has every dimension it filters or
//! groups by and its granularity, so a year of a department's trend reads a few hundred cells,
//! not every combination of district, age band and channel:
//!
//! | cube | dimensions | buckets |
//! | --- | --- | --- |
//! | `reach` | metric, department | hour, day, month |
//! | `service` | metric, service, department, outcome | minute, hour, day, month |
//! | `district` | metric, department, district | hour, day, month |
//! | `people` | metric, department, channel, age band | day, month |
//!
//! A total over a range reads month cells for the whole months inside it and day cells for the
//! rest ([`cover`]), so a year is about 12 + 30 cells a group. Minute cells are kept for
//! [`Granularity::retention`] (3 days) and hour cells for 35 days; days and months are kept.

use rustc_hash::FxHashMap as HashMap;

use chrono::{DateTime, Datelike, Months, NaiveTime, TimeDelta, Utc};

use crate::distinct::{Coupon, Distinct, coupon};
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
    /// One calendar month in China.
    Month,
}

impl Granularity {
    /// Every granularity, finest first.
    pub const ALL: [Granularity; 4] = [
        Granularity::Minute,
        Granularity::Hour,
        Granularity::Day,
        Granularity::Month,
    ];

    /// Its stable name (stored).
    pub fn name(self) -> &'static str {
        match self {
            Granularity::Minute => "minute",
            Granularity::Hour => "hour",
            Granularity::Day => "day",
            Granularity::Month => "month",
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
        // China is UTC+8 all year, so minutes and hours start where UTC's do, and a China day
        // starts at 16:00 UTC the day before.
        let seconds = at.timestamp();
        let start = match self {
            Granularity::Minute => seconds - seconds.rem_euclid(60),
            Granularity::Hour => seconds - seconds.rem_euclid(3_600),
            Granularity::Day => seconds - (seconds + CHINA_OFFSET).rem_euclid(86_400),
            Granularity::Month => {
                let local = (at + TimeDelta::seconds(CHINA_OFFSET)).date_naive();
                let first = local.with_day(1).expect("every month has a first day");
                first.and_time(NaiveTime::MIN).and_utc().timestamp() - CHINA_OFFSET
            }
        };
        DateTime::from_timestamp(start, 0).expect("buckets are far from the limits")
    }

    /// The start of the bucket after the one starting at `bucket`.
    pub fn next(self, bucket: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Granularity::Minute => bucket + TimeDelta::minutes(1),
            Granularity::Hour => bucket + TimeDelta::hours(1),
            Granularity::Day => bucket + TimeDelta::days(1),
            Granularity::Month => {
                let local = (bucket + TimeDelta::seconds(CHINA_OFFSET)).date_naive();
                let next = local
                    .checked_add_months(Months::new(1))
                    .expect("months are far from the limits");
                next.and_time(NaiveTime::MIN).and_utc() - TimeDelta::seconds(CHINA_OFFSET)
            }
        }
    }

    /// Whether its cells count people (day and month cells do; finer ones would multiply the
    /// sketches for figures nobody reads by the minute).
    pub fn counts_people(self) -> bool {
        matches!(self, Granularity::Day | Granularity::Month)
    }

    /// How long its cells are kept (`None`: always): minutes 3 days and hours 35, a little more
    /// than the longest range the query API reads at them (2 and 31 days).
    pub fn retention(self) -> Option<TimeDelta> {
        match self {
            Granularity::Minute => Some(TimeDelta::days(3)),
            Granularity::Hour => Some(TimeDelta::days(35)),
            Granularity::Day | Granularity::Month => None,
        }
    }
}

/// The buckets that together cover `[from, to)` most cheaply for a total: whole months inside
/// the range as month buckets, the days before and after them as day buckets. `from` is taken
/// to start a day; the last day bucket may reach past `to` (the day in progress).
pub fn cover(from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<(Granularity, DateTime<Utc>)> {
    let mut buckets = Vec::new();
    let mut at = Granularity::Day.bucket(from);
    while at < to {
        if Granularity::Month.bucket(at) == at && Granularity::Month.next(at) <= to {
            buckets.push((Granularity::Month, at));
            at = Granularity::Month.next(at);
        } else {
            buckets.push((Granularity::Day, at));
            at = Granularity::Day.next(at);
        }
    }
    buckets
}

/// China's offset from UTC, in seconds.
const CHINA_OFFSET: i64 = 8 * 3_600;

/// A set of dimensions kept together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Cube {
    /// Metric, department.
    Reach,
    /// Metric, service, department, outcome.
    Service,
    /// Metric, department, district.
    District,
    /// Metric, department, channel, age band.
    People,
}

impl Cube {
    /// Every cube.
    pub const ALL: [Cube; 4] = [Cube::Reach, Cube::Service, Cube::District, Cube::People];

    /// Its stable name (stored).
    pub fn name(self) -> &'static str {
        match self {
            Cube::Reach => "reach",
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
        use Granularity::{Day, Hour, Minute, Month};
        match self {
            Cube::Reach => &[Hour, Day, Month],
            Cube::Service => &[Minute, Hour, Day, Month],
            Cube::District => &[Hour, Day, Month],
            Cube::People => &[Day, Month],
        }
    }

    /// Whether it keeps `dimension` (`service`, `department`, `district`, `channel`,
    /// `outcome`, `age_band`; `metric` is in every cube).
    pub fn keeps(self, dimension: &str) -> bool {
        match self {
            Cube::Reach => matches!(dimension, "metric" | "department"),
            Cube::Service => matches!(dimension, "metric" | "service" | "department" | "outcome"),
            Cube::District => matches!(dimension, "metric" | "department" | "district"),
            Cube::People => matches!(dimension, "metric" | "department" | "channel" | "age_band"),
        }
    }

    /// The smallest cube keeping every one of `dimensions` at every one of `granularities`, if
    /// any does.
    pub fn for_query(dimensions: &[&str], granularities: &[Granularity]) -> Option<Cube> {
        Cube::ALL.into_iter().find(|cube| {
            dimensions.iter().all(|dimension| cube.keeps(dimension))
                && granularities
                    .iter()
                    .all(|granularity| cube.granularities().contains(granularity))
        })
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
    /// Adds one fact, and its subject's coupon where the cell counts people.
    fn add(&mut self, fact: &Fact, person: Option<Coupon>) {
        self.count += 1;
        if let Some(ms) = fact.latency_ms {
            self.timed += 1;
            self.latency_sum_ms += ms;
            self.latency[latency_bucket(ms)] += 1;
        }
        if let Some(coupon) = person {
            self.people
                .get_or_insert_with(Distinct::default)
                .insert_coupon(coupon);
        }
    }

    /// Adds `other` into this cell.
    pub fn merge(&mut self, other: &Cell) {
        self.count += other.count;
        self.timed += other.timed;
        self.latency_sum_ms += other.latency_sum_ms;
        for (mine, theirs) in self.latency.iter_mut().zip(other.latency.iter()) {
            *mine += theirs;
        }
        if let Some(people) = &other.people {
            match &mut self.people {
                Some(mine) => mine.merge(people),
                None => self.people = Some(people.clone()),
            }
        }
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

/// A cell's place within its cube, without its time.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Place {
    cube: Cube,
    metric: Metric,
    service: String,
    department: String,
    district: String,
    channel: String,
    outcome: String,
    age_band: String,
}

/// Facts folded into cells of every granularity, in memory, until written.
#[derive(Debug, Default)]
pub struct Aggregator {
    /// Cells by place, then by granularity and bucket: a fact builds its place once a cube.
    cells: HashMap<Place, HashMap<(Granularity, DateTime<Utc>), Cell>>,
    facts: u64,
    /// Per granularity, the oldest bucket still kept (history skips what retention would drop).
    horizon: HashMap<Granularity, DateTime<Utc>>,
}

impl Aggregator {
    /// An aggregator that leaves out the minute and hour cells that would already be past their
    /// [`Granularity::retention`] at `now` (for loading history).
    pub fn retaining(now: DateTime<Utc>) -> Aggregator {
        let horizon: HashMap<Granularity, DateTime<Utc>> = Granularity::ALL
            .into_iter()
            .filter_map(|granularity| {
                granularity
                    .retention()
                    .map(|kept| (granularity, granularity.bucket(now - kept)))
            })
            .collect();
        Aggregator {
            horizon,
            ..Aggregator::default()
        }
    }

    /// Folds `fact` into its cell of every cube and granularity.
    pub fn add(&mut self, fact: &Fact) {
        self.facts += 1;
        let person = fact.subject.as_deref().map(coupon);
        let buckets = Granularity::ALL.map(|granularity| granularity.bucket(fact.at));
        for cube in Cube::ALL {
            let keep = |dimension: &str, value: &str| {
                if cube.keeps(dimension) {
                    value.to_owned()
                } else {
                    String::new()
                }
            };
            let place = Place {
                cube,
                metric: fact.metric,
                service: keep("service", &fact.service),
                department: keep("department", &fact.department),
                district: keep("district", fact.district.as_deref().unwrap_or_default()),
                channel: keep("channel", &fact.channel),
                outcome: keep("outcome", &fact.outcome),
                age_band: keep("age_band", fact.age_band.as_deref().unwrap_or_default()),
            };
            let cells = self.cells.entry(place).or_default();
            for granularity in cube.granularities() {
                let bucket = buckets[*granularity as usize];
                if self
                    .horizon
                    .get(granularity)
                    .is_some_and(|oldest| bucket < *oldest)
                {
                    continue;
                }
                cells
                    .entry((*granularity, bucket))
                    .or_default()
                    .add(fact, person.filter(|_| granularity.counts_people()));
            }
        }
    }

    /// Facts folded so far.
    pub fn facts(&self) -> u64 {
        self.facts
    }

    /// Cells held.
    pub fn cells(&self) -> usize {
        self.cells.values().map(HashMap::len).sum()
    }

    /// The cells, emptied out of the aggregator.
    pub fn drain(&mut self) -> Vec<(CellKey, Cell)> {
        self.facts = 0;
        let mut out = Vec::with_capacity(self.cells());
        for (place, cells) in std::mem::take(&mut self.cells) {
            for ((granularity, bucket), cell) in cells {
                out.push((
                    CellKey {
                        cube: place.cube,
                        granularity,
                        bucket,
                        metric: place.metric,
                        service: place.service.clone(),
                        department: place.department.clone(),
                        district: place.district.clone(),
                        channel: place.channel.clone(),
                        outcome: place.outcome.clone(),
                        age_band: place.age_band.clone(),
                    },
                    cell,
                ));
            }
        }
        out
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
        // 2026-11-30 17:00 UTC is already 1 December in 成都.
        let december = Utc.with_ymd_and_hms(2026, 11, 30, 17, 0, 0).unwrap();
        let first = Utc.with_ymd_and_hms(2026, 11, 30, 16, 0, 0).unwrap();
        assert_eq!(Granularity::Month.bucket(december), first);
        assert_eq!(
            Granularity::Month.bucket(at),
            Utc.with_ymd_and_hms(2026, 10, 31, 16, 0, 0).unwrap()
        );
        assert_eq!(
            Granularity::Month.next(Granularity::Month.bucket(at)),
            first
        );
        assert_eq!(
            Granularity::Month.next(first),
            Utc.with_ymd_and_hms(2026, 12, 31, 16, 0, 0).unwrap()
        );
        assert_eq!(Granularity::Day.next(first), first + TimeDelta::days(1));
    }

    #[test]
    fn a_total_reads_whole_months_and_the_days_around_them() {
        let day =
            |m, d| Granularity::Day.bucket(Utc.with_ymd_and_hms(2026, m, d, 4, 0, 0).unwrap());
        // 28 Sep → 3 Dec (in progress): 3 days of September, October and November, 3 days.
        let to = Utc.with_ymd_and_hms(2026, 12, 3, 4, 0, 0).unwrap();
        let buckets = cover(day(9, 28), to);
        let months: Vec<_> = buckets
            .iter()
            .filter(|(granularity, _)| *granularity == Granularity::Month)
            .map(|(_, at)| *at)
            .collect();
        assert_eq!(months, vec![day(10, 1), day(11, 1)]);
        let days: Vec<_> = buckets
            .iter()
            .filter(|(granularity, _)| *granularity == Granularity::Day)
            .map(|(_, at)| *at)
            .collect();
        assert_eq!(
            days,
            vec![
                day(9, 28),
                day(9, 29),
                day(9, 30),
                day(12, 1),
                day(12, 2),
                day(12, 3)
            ]
        );
        // Within a month: days only; the month in progress is never read whole.
        assert!(
            cover(day(11, 1), to - TimeDelta::days(5))
                .iter()
                .all(|(granularity, _)| *granularity == Granularity::Day)
        );
        assert!(cover(day(11, 1), day(11, 1)).is_empty());
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
        assert!(!cells.iter().any(|(key, _)| key.cube == Cube::People
            && !matches!(key.granularity, Granularity::Day | Granularity::Month)));
        let reach: Vec<_> = cells
            .iter()
            .filter(|(key, _)| key.cube == Cube::Reach)
            .map(|(key, cell)| (key.granularity, key.service.as_str(), cell.count))
            .collect();
        assert_eq!(reach.len(), 2 + 1 + 1, "two hours, one day, one month");
        let day_only = [Granularity::Day];
        assert_eq!(Cube::for_query(&[], &day_only), Some(Cube::Reach));
        assert_eq!(
            Cube::for_query(&["department", "district"], &day_only),
            Some(Cube::District)
        );
        assert_eq!(
            Cube::for_query(&["service"], &day_only),
            Some(Cube::Service)
        );
        assert_eq!(
            Cube::for_query(&[], &[Granularity::Minute]),
            Some(Cube::Service),
            "the smallest cube with minutes"
        );
        assert_eq!(
            Cube::for_query(&["age_band", "channel"], &day_only),
            Some(Cube::People)
        );
        assert_eq!(Cube::for_query(&["age_band"], &[Granularity::Hour]), None);
        assert_eq!(Cube::for_query(&["district", "service"], &day_only), None);
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
        assert!(
            minute.people.is_none(),
            "people are counted in day and month cells"
        );
        let (_, month) = cells
            .iter()
            .find(|(key, _)| key.cube == Cube::Service && key.granularity == Granularity::Month)
            .unwrap();
        assert_eq!(month.people.clone().unwrap().count(), 3);
        let mut sum = Cell::default();
        sum.merge(day);
        sum.merge(day);
        assert_eq!(sum.count, 8);
        assert_eq!(
            sum.people.unwrap().count(),
            3,
            "the same people twice are the same people"
        );
        assert_eq!(Cell::default().latency_quantile_ms(0.5), None);
    }

    #[test]
    fn history_leaves_out_the_minutes_and_hours_retention_would_drop() {
        let now = Utc.with_ymd_and_hms(2026, 11, 29, 4, 0, 0).unwrap();
        let mut aggregator = Aggregator::retaining(now);
        aggregator.add(&fact(now - TimeDelta::days(10), "old", 5));
        aggregator.add(&fact(now - TimeDelta::days(40), "older", 5));
        aggregator.add(&fact(now - TimeDelta::hours(1), "new", 5));
        let cells = aggregator.drain();
        let buckets = |granularity| {
            cells
                .iter()
                .filter(|(key, _)| key.cube == Cube::Service && key.granularity == granularity)
                .count()
        };
        assert_eq!(buckets(Granularity::Minute), 1, "only the last hour's");
        assert_eq!(
            buckets(Granularity::Hour),
            2,
            "10 days ago and the last hour"
        );
        assert_eq!(buckets(Granularity::Day), 3);
    }
}
