//! The invertible map between a person's index and their 居民身份证号码.
//!
//! An index `i` in `0..size` becomes an id in four steps, each a bijection:
//!
//! 1. `p = π(i)`, a keyed pseudo-random permutation of `0..size` (so consecutive indexes are
//!    scattered over districts and ages rather than filling 锦江区 first).
//! 2. `0..size` is cut into twenty consecutive ranges, one per district, sized by the
//!    district's share of the population; `p` falls into district `d` at offset `r`.
//! 3. District `d`'s range is cut into 53 ranges, one per age 18–70, sized by the age weights;
//!    `r` falls into age `a` at offset `s`. The birth dates of people aged `a` on the
//!    reference date form a run of `L` = 365 or 366 consecutive days starting at `start(a)`.
//!    The birth date is `start(a) + s mod L` and `k = s div L` counts the people of that
//!    district born that day.
//! 4. The three-digit sequence number is `(k + b) mod 1000`, with `b` a hash of the seed,
//!    district and birth date, so the 17th digit (the sex) is not always even for the first
//!    person born on a day.
//!
//! `k` must stay below 1000; with the weights used, the busiest (district, day) holds about
//! 60 people per ten million, so populations up to [`MAX_POPULATION`] fit with a wide margin
//! (checked when the codec is built). Decoding runs the steps backwards and rejects any id
//! that no index produces.

use chrono::{Datelike, Days, Months, NaiveDate};

use bianmin_core::region::{CHENGDU_DISTRICTS, District};
use bianmin_core::{Gender, ResidentId};

use crate::calendar::REFERENCE_DATE;
use crate::seeding::{Permutation, mix};

/// The largest population the numbering supports.
pub const MAX_POPULATION: u32 = 10_000_000;

/// Youngest age in the population, on the reference date.
pub const MIN_AGE: u32 = 18;
/// Oldest age in the population, on the reference date.
pub const MAX_AGE: u32 = 70;
const AGES: usize = (MAX_AGE - MIN_AGE + 1) as usize;

/// Resident population of each district in thousands, in the order of `CHENGDU_DISTRICTS`
/// (approximately the 2020 census figures, rounded).
const DISTRICT_WEIGHTS: [u64; 20] = [
    903, 956, 1265, 1206, 1381, 1346, 491, 1559, 968, 1466, 1392, 363, 800, 516, 256, 710, 781,
    603, 736, 1119,
];

/// Relative number of adults at each age 18–70 in Chengdu: fewer teenagers, a large
/// 25–40 working-age bulge from in-migration, and a thinner band past 60.
fn age_weight(age: u32) -> u64 {
    match age {
        18..=22 => 60,
        23..=29 => 95,
        30..=39 => 100,
        40..=49 => 85,
        50..=59 => 90,
        _ => 70,
    }
}

/// Where an index lands: district, birth date and sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IdentitySlot {
    pub(crate) district: &'static District,
    pub(crate) birth_date: NaiveDate,
    pub(crate) sequence: u32,
}

impl IdentitySlot {
    pub(crate) fn gender(&self) -> Gender {
        if self.sequence % 2 == 1 {
            Gender::Male
        } else {
            Gender::Female
        }
    }

    pub(crate) fn resident_id(&self) -> ResidentId {
        let first17 = format!(
            "{}{:04}{:02}{:02}{:03}",
            self.district.code,
            self.birth_date.year(),
            self.birth_date.month(),
            self.birth_date.day(),
            self.sequence
        );
        // The region is a Chengdu district, the date a real one after 1900 and the rest
        // digits, so the number is valid by construction.
        ResidentId::with_check_digit(&first17)
            .unwrap_or_else(|error| unreachable!("generated id {first17} is invalid: {error}"))
    }
}

/// Encodes and decodes indexes for one (seed, size).
#[derive(Debug, Clone)]
pub(crate) struct IdCodec {
    seed: u64,
    size: u64,
    permutation: Permutation,
    /// `district_starts[d]..district_starts[d + 1]` is district `d`'s range of `p`.
    district_starts: [u64; 21],
    /// `age_starts[d][a]..age_starts[d][a + 1]` is the range of offsets of age `18 + a`.
    age_starts: Vec<[u64; AGES + 1]>,
    /// First birth date and number of birth dates for each age.
    age_bands: [(NaiveDate, u64); AGES],
}

impl IdCodec {
    pub(crate) fn new(seed: u64, size: u32) -> Self {
        assert!(
            (1..=MAX_POPULATION).contains(&size),
            "population size must be 1..={MAX_POPULATION}, got {size}"
        );
        let size = u64::from(size);
        let district_starts = cumulative_split(size, &DISTRICT_WEIGHTS);
        let age_weights: Vec<u64> = (MIN_AGE..=MAX_AGE).map(age_weight).collect();
        let age_starts = district_starts
            .windows(2)
            .map(|range| cumulative_split(range[1] - range[0], &age_weights))
            .collect();
        let age_bands = std::array::from_fn(|offset| {
            let age = MIN_AGE + offset as u32;
            let first = years_before(REFERENCE_DATE, age + 1)
                .succ_opt()
                .unwrap_or(REFERENCE_DATE);
            let last = years_before(REFERENCE_DATE, age);
            let days = u64::try_from((last - first).num_days() + 1).unwrap_or(365);
            (first, days)
        });
        let codec = Self {
            seed,
            size,
            permutation: Permutation::new(size, mix(seed ^ 0x1D_C0DE)),
            district_starts,
            age_starts,
            age_bands,
        };
        codec.assert_sequence_capacity();
        codec
    }

    fn assert_sequence_capacity(&self) {
        for starts in &self.age_starts {
            for (age, range) in starts.windows(2).enumerate() {
                let per_day = (range[1] - range[0]).div_ceil(self.age_bands[age].1);
                assert!(
                    per_day <= 1000,
                    "more than 1000 people per district and day"
                );
            }
        }
    }

    pub(crate) fn encode(&self, index: u32) -> IdentitySlot {
        let p = self.permutation.forward(u64::from(index));
        let district = upper_bound(&self.district_starts, p);
        let r = p - self.district_starts[district];
        let starts = &self.age_starts[district];
        let age = upper_bound(starts, r);
        let s = r - starts[age];
        let (first, days) = self.age_bands[age];
        let birth_date = first + Days::new(s % days);
        let k = s / days;
        let district = &CHENGDU_DISTRICTS[district];
        let sequence = ((k + self.sequence_offset(district, birth_date)) % 1000) as u32;
        IdentitySlot {
            district,
            birth_date,
            sequence,
        }
    }

    /// The index whose id this is, or `None` if no index of this population has it.
    pub(crate) fn decode(&self, id: &ResidentId) -> Option<u32> {
        let district = CHENGDU_DISTRICTS
            .iter()
            .position(|district| district.code == id.region_code())?;
        let birth_date = id.birth_date();
        let age = REFERENCE_DATE.years_since(birth_date)?;
        let age = usize::try_from(age.checked_sub(MIN_AGE)?).ok()?;
        let (first, days) = *self.age_bands.get(age)?;
        let day = u64::try_from((birth_date - first).num_days()).ok()?;
        if day >= days {
            return None;
        }
        let sequence: u64 = id.as_str().get(14..17)?.parse().ok()?;
        let offset = self.sequence_offset(&CHENGDU_DISTRICTS[district], birth_date);
        let k = (sequence + 1000 - offset) % 1000;
        let s = k * days + day;
        let starts = &self.age_starts[district];
        if s >= starts[age + 1] - starts[age] {
            return None;
        }
        let p = self.district_starts[district] + starts[age] + s;
        if p >= self.size {
            return None;
        }
        u32::try_from(self.permutation.inverse(p)).ok()
    }

    fn sequence_offset(&self, district: &District, birth_date: NaiveDate) -> u64 {
        let district: u64 = district.code.parse().unwrap_or(0);
        let day = u64::try_from(birth_date.num_days_from_ce()).unwrap_or(0);
        mix(self.seed ^ mix(district << 32 | day)) % 1000
    }
}

/// `years` years before `date`, clamping 29 February to the 28th.
fn years_before(date: NaiveDate, years: u32) -> NaiveDate {
    date.checked_sub_months(Months::new(12 * years))
        .unwrap_or(date)
}

/// Splits `0..total` into consecutive ranges proportional to `weights`; returns the
/// `weights.len() + 1` boundaries, first 0 and last `total`.
fn cumulative_split<const N: usize>(total: u64, weights: &[u64]) -> [u64; N] {
    debug_assert_eq!(weights.len() + 1, N);
    let sum: u64 = weights.iter().sum();
    let mut starts = [0u64; N];
    let mut acc = 0u64;
    for (position, weight) in weights.iter().enumerate() {
        acc += weight;
        // `total` ≤ 10^7 and `acc` ≤ a few thousand, so the product fits easily.
        starts[position + 1] = total * acc / sum;
    }
    starts
}

/// The `i` with `starts[i] <= x < starts[i + 1]`, skipping empty ranges.
fn upper_bound(starts: &[u64], x: u64) -> usize {
    starts.partition_point(|&start| start <= x) - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_index_of_a_small_population_round_trips() {
        let codec = IdCodec::new(7, 5000);
        let mut ids = std::collections::HashSet::new();
        for index in 0..5000 {
            let slot = codec.encode(index);
            let id = slot.resident_id();
            assert!(ids.insert(id.as_str().to_owned()), "duplicate id");
            assert_eq!(codec.decode(&id), Some(index));
            let age = id.age_on(REFERENCE_DATE);
            assert!((MIN_AGE..=MAX_AGE).contains(&age), "age {age}");
            assert_eq!(id.gender(), slot.gender());
        }
    }

    #[test]
    fn ids_of_other_populations_are_not_found() {
        let codec = IdCodec::new(7, 1000);
        let other = IdCodec::new(8, 1000);
        let found = (0..1000)
            .filter(|&index| codec.decode(&other.encode(index).resident_id()).is_some())
            .count();
        // A foreign id decodes only if it happens to land on a used slot.
        assert!(found < 200, "{found}");
        let outsider = ResidentId::with_check_digit("11010519900307123").unwrap();
        assert_eq!(codec.decode(&outsider), None);
    }
}
