//! Distinct people per cell: Apache DataSketches' HLL sketch (`datasketches`) at `lg_k` 12
//! (4,096 registers, about 1.6 % relative standard error once dense), over the events'
//! pseudonymous `subject`.
//!
//! Why this sketch: a year of cells holds a hundred thousand sketches, and a panel's query merges
//! thousands of them, so what matters is the stored size and the cost of a merge. DataSketches
//! keeps a small sketch as a list of 4-byte coupons (a cell of 30 people is 128 bytes) and a
//! large one as 4,096 one-byte registers, in a documented binary format that its Java, C++ and
//! Python libraries read too; a union of stored sketches is a byte-wise maximum. The hash is
//! DataSketches' own (MurmurHash3 x64/128, seed 9001) over the subject's UTF-8 bytes, fixed by
//! that format: a sketch stored today merges with one made next year. (The first cut used
//! `hyperloglogplus`, whose JSON encoding took up to 10 kB a sketch and whose merge decoded it.)

use datasketches::hash::value::raw_bytes;
pub use datasketches::hll::Coupon;
use datasketches::hll::{HllSketch, HllType, HllUnion};

use crate::InsightError;

/// log2 of the registers: 2^12.
pub const PRECISION: u8 = 12;
/// How a sketch is stored: one byte a register once dense (merging reads it without unpacking).
const STORED: HllType = HllType::Hll8;

/// The distinct subjects of a cell, or of any union of cells.
#[derive(Debug, Clone)]
pub struct Distinct(Inner);

/// A cell's own sketch takes subjects; once something is merged into it, it is a union.
#[derive(Debug, Clone)]
enum Inner {
    Sketch(HllSketch),
    Union(HllUnion),
}

impl Default for Distinct {
    fn default() -> Self {
        Distinct(Inner::Sketch(
            HllSketch::new(PRECISION, STORED).expect("precision 12 is valid"),
        ))
    }
}

/// The coupon (hash) of `subject`: compute it once and insert it into every cell the subject
/// counts in.
pub fn coupon(subject: &str) -> Coupon {
    Coupon::from_value(raw_bytes::from_str(subject))
}

impl Distinct {
    /// Counts `subject` (again: no change).
    pub fn insert(&mut self, subject: &str) {
        self.insert_coupon(coupon(subject));
    }

    /// Counts the subject whose [`coupon`] this is.
    pub fn insert_coupon(&mut self, coupon: Coupon) {
        if let Inner::Union(union) = &self.0 {
            self.0 = Inner::Sketch(union.to_sketch(STORED));
        }
        if let Inner::Sketch(sketch) = &mut self.0 {
            sketch.update_with_coupon(coupon);
        }
    }

    fn union(&mut self) -> &mut HllUnion {
        if let Inner::Sketch(sketch) = &self.0 {
            let mut union = HllUnion::new(PRECISION).expect("precision 12 is valid");
            union.update(sketch);
            self.0 = Inner::Union(union);
        }
        match &mut self.0 {
            Inner::Union(union) => union,
            Inner::Sketch(_) => unreachable!("made a union above"),
        }
    }

    /// Adds every subject of `other`.
    pub fn merge(&mut self, other: &Distinct) {
        match &other.0 {
            Inner::Sketch(sketch) => self.union().update(sketch),
            Inner::Union(union) => {
                let sketch = union.to_sketch(STORED);
                self.union().update(&sketch);
            }
        }
    }

    /// Adds every subject of a stored sketch without building a [`Distinct`] of it first.
    pub fn merge_bytes(&mut self, bytes: &[u8]) -> Result<(), InsightError> {
        let sketch = decode(bytes)?;
        self.union().update(&sketch);
        Ok(())
    }

    /// The estimated number of distinct subjects, rounded.
    pub fn count(&mut self) -> u64 {
        let estimate = match &self.0 {
            Inner::Sketch(sketch) => sketch.estimate(),
            Inner::Union(union) => union.estimate(),
        };
        estimate.round() as u64
    }

    /// The sketch as bytes, to store (DataSketches' compact HLL format).
    pub fn to_bytes(&self) -> Vec<u8> {
        match &self.0 {
            Inner::Sketch(sketch) => sketch.serialize(),
            Inner::Union(union) => union.to_sketch(STORED).serialize(),
        }
    }

    /// A stored sketch.
    pub fn from_bytes(bytes: &[u8]) -> Result<Distinct, InsightError> {
        Ok(Distinct(Inner::Sketch(decode(bytes)?)))
    }
}

fn decode(bytes: &[u8]) -> Result<HllSketch, InsightError> {
    let sketch =
        HllSketch::deserialize(bytes).map_err(|error| InsightError::Sketch(error.to_string()))?;
    if sketch.lg_config_k() != PRECISION {
        return Err(InsightError::Sketch(format!(
            "a sketch of lg_k {} where {PRECISION} is kept",
            sketch.lg_config_k()
        )));
    }
    Ok(sketch)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject(n: u64) -> String {
        format!("{:032x}", n.wrapping_mul(0x9e37_79b9_7f4a_7c15))
    }

    #[test]
    fn small_counts_are_exact_and_repeats_do_not_count() {
        let mut distinct = Distinct::default();
        for n in 0..100 {
            distinct.insert(&subject(n));
            distinct.insert(&subject(n));
        }
        assert_eq!(distinct.count(), 100);
        assert!(
            distinct.to_bytes().len() <= 8 + 4 * 128,
            "a small sketch is a short list of coupons: {} bytes",
            distinct.to_bytes().len()
        );
    }

    #[test]
    fn large_counts_are_within_three_percent_and_sketches_merge_and_round_trip() {
        let (mut left, mut right) = (Distinct::default(), Distinct::default());
        for n in 0..60_000 {
            left.insert(&subject(n));
        }
        for n in 40_000..120_000 {
            right.insert(&subject(n));
        }
        left.merge(&right);
        let estimate = left.count() as f64;
        assert!(
            (estimate - 120_000.0).abs() / 120_000.0 < 0.03,
            "{estimate}"
        );
        let bytes = left.to_bytes();
        assert!(bytes.len() < 4_200, "dense: a byte a register");
        let mut back = Distinct::from_bytes(&bytes).unwrap();
        assert_eq!(back.count(), left.count());
        let mut via_bytes = Distinct::default();
        via_bytes.merge_bytes(&right.to_bytes()).unwrap();
        via_bytes.merge_bytes(&bytes).unwrap();
        assert_eq!(via_bytes.count(), left.count(), "a union is idempotent");
        // A merged sketch still takes subjects.
        let before = via_bytes.count();
        via_bytes.insert_coupon(coupon("someone new"));
        via_bytes.insert("someone new");
        assert!(via_bytes.count() >= before);
        assert!(Distinct::from_bytes(b"not a sketch").is_err());
        let mut other_precision = HllSketch::new(10, HllType::Hll8).unwrap();
        other_precision.update(raw_bytes::from_str("x"));
        assert!(Distinct::from_bytes(&other_precision.serialize()).is_err());
    }

    /// The stored form of a sketch holding only "bianmin": DataSketches' 8-byte list-mode
    /// preamble, then the one coupon `0x09c711c9` (register value 2 over slot bits), computed
    /// independently from MurmurHash3 x64/128 with seed 9001 of the 7 bytes.
    const PINNED: &str = "0201070c03080108c911c709";

    #[test]
    fn the_hash_and_format_are_stable() {
        let mut distinct = Distinct::default();
        distinct.insert("bianmin");
        let hex: String = distinct
            .to_bytes()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        // Pinned: a change here would make stored sketches unmergeable.
        assert_eq!(hex, PINNED);
    }
}
