//! Where every random number in the simulator comes from.
//!
//! Each person, employer, distributor and history has its own ChaCha8 stream keyed by
//! `(population seed, entity number, stream)`, so any one of them can be regenerated alone,
//! in any order, on any machine, and two streams never overlap. The key is the concatenation
//! of the three numbers rather than `seed ⊕ index`: with a XOR, person 3 of seed 1 would be
//! person 1 of seed 3.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Which independent stream of random numbers an entity draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u64)]
pub(crate) enum Stream {
    /// A person's attributes: everything in `SyntheticPerson`.
    Person = 1,
    /// The uniform number that decides whether a person defaults.
    Default = 2,
    /// Yearly tax returns.
    TaxHistory = 5,
    /// The list of employers.
    Employer = 6,
    /// A distributor of A集团 and its monthly figures.
    Distributor = 7,
    /// Per-call latency and fault draws of a simulated agency.
    Agency = 8,
    /// A social-security card: number, bank, issue date, electronic card (keyed by the
    /// person's serial, so a named resident's card is their own).
    SiCard = 9,
    /// Whether a driving licence was revoked (吊销), drawn apart so that adding it left the
    /// person stream, and so every other record, unchanged.
    Licence = 10,
    /// Whether a deteriorating distributor turns after the reference date, drawn apart so
    /// that the distributor stream stayed unchanged.
    DistributorTurn = 11,
    /// A distributor's open purchase orders at a closed month.
    OpenOrders = 12,
}

/// A generator for one entity's stream.
pub(crate) fn stream_rng(seed: u64, entity: u64, stream: Stream) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&entity.to_le_bytes());
    key[16..24].copy_from_slice(&(stream as u64).to_le_bytes());
    key[24..].copy_from_slice(b"govsim-1");
    ChaCha8Rng::from_seed(key)
}

/// SplitMix64's finaliser: a fast, well-mixed 64-bit hash of one number.
pub(crate) fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A keyed pseudo-random permutation of `0..n`.
///
/// A four-round balanced Feistel network over the smallest even number of bits that covers
/// `n`, restricted to `0..n` by cycle walking (re-encrypt until the value falls inside). The
/// Feistel domain is less than four times `n`, so a walk takes fewer than four steps on
/// average. Used to scatter consecutive indexes over districts and ages, and to pick distinct
/// people as distributor owners.
#[derive(Debug, Clone)]
pub(crate) struct Permutation {
    n: u64,
    half_bits: u32,
    keys: [u64; 4],
}

impl Permutation {
    /// A permutation of `0..n` chosen by `key`; `n` must be at least 1.
    pub(crate) fn new(n: u64, key: u64) -> Self {
        let bits = (64 - (n.max(2) - 1).leading_zeros()).max(2);
        let half_bits = bits.div_ceil(2);
        let keys = [1u64, 2, 3, 4].map(|round| mix(key ^ mix(round)));
        Self { n, half_bits, keys }
    }

    /// The image of `x`, which must be below `n`.
    pub(crate) fn forward(&self, x: u64) -> u64 {
        let mut y = self.encrypt(x);
        while y >= self.n {
            y = self.encrypt(y);
        }
        y
    }

    /// The `x` with `forward(x) == y`; `y` must be below `n`.
    pub(crate) fn inverse(&self, y: u64) -> u64 {
        let mut x = self.decrypt(y);
        while x >= self.n {
            x = self.decrypt(x);
        }
        x
    }

    fn mask(&self) -> u64 {
        (1u64 << self.half_bits) - 1
    }

    fn round(&self, half: u64, key: u64) -> u64 {
        mix(half ^ key) & self.mask()
    }

    fn encrypt(&self, x: u64) -> u64 {
        let (mut left, mut right) = (x >> self.half_bits, x & self.mask());
        for key in self.keys {
            (left, right) = (right, left ^ self.round(right, key));
        }
        (left << self.half_bits) | right
    }

    fn decrypt(&self, y: u64) -> u64 {
        let (mut left, mut right) = (y >> self.half_bits, y & self.mask());
        for key in self.keys.iter().rev() {
            (left, right) = (right ^ self.round(left, *key), left);
        }
        (left << self.half_bits) | right
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn permutations_are_bijections_on_small_domains() {
        for n in [1u64, 2, 3, 7, 100, 1000, 4097] {
            let permutation = Permutation::new(n, 42);
            let mut seen = vec![false; n as usize];
            for x in 0..n {
                let y = permutation.forward(x);
                assert!(y < n);
                assert!(!seen[y as usize], "n={n}: {y} hit twice");
                seen[y as usize] = true;
                assert_eq!(permutation.inverse(y), x);
            }
        }
    }

    #[test]
    fn keys_give_different_permutations() {
        let a = Permutation::new(1_000_000, 1);
        let b = Permutation::new(1_000_000, 2);
        let same = (0..1000).filter(|&x| a.forward(x) == b.forward(x)).count();
        assert!(same < 5, "{same}");
    }

    #[test]
    fn streams_are_independent_and_reproducible() {
        let a: u64 = stream_rng(1, 3, Stream::Person).random();
        let b: u64 = stream_rng(3, 1, Stream::Person).random();
        let c: u64 = stream_rng(1, 3, Stream::Default).random();
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_eq!(a, stream_rng(1, 3, Stream::Person).random::<u64>());
    }
}
