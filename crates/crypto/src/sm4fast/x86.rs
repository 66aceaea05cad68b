//! The x86_64 SIMD kernels of SM4.
//!
//! One family of kernels per instruction-set [`Level`]:
//!
//! | level | vectors | S-box | blocks per call |
//! | --- | --- | --- | --- |
//! | [`Level::Ssse3Aes`] | 128-bit (SSE) | `aesenclast` | 8 (two groups of 4) |
//! | [`Level::Avx2Aes`] | 256-bit (AVX2) | `aesenclast` on each 128-bit half | 16 (two groups of 8) |
//! | [`Level::Avx2Vaes`] | 256-bit (AVX2) | `vaesenclast` on the whole vector | 16 (two groups of 8) |
//! | [`Level::Avx2Gfni`] | 256-bit (AVX2) | `gf2p8affineqb`, `gf2p8affineinvqb` | 16 (two groups of 8) |
//!
//! Each level also has a 4-block 128-bit kernel for single blocks and short
//! tails.
//!
//! # Layout
//!
//! A group of blocks is transposed on load: vector `x[j]` holds word `j` of
//! every block of the group, byte-swapped so that each 32-bit lane holds the
//! big-endian word as a native integer (AVX2 transposes each 128-bit half on
//! its own, so a 256-bit group is two groups of 4 side by side). A round then
//! is the scalar round on whole vectors:
//! `x[i] ^= T(x[i+1] ^ x[i+2] ^ x[i+3] ^ rk)`.
//!
//! # The S-box
//!
//! The SM4 S-box is `Q(S_aes(P(x)))` for the affine maps of
//! [`super::affine`]. `aesenclast` with a zero round key computes
//! `SubBytes(ShiftRows(y))`; `P` and `Q` are each two `pshufb` look-ups in
//! 16-byte tables, one per nibble. The byte permutation of ShiftRows is undone
//! by the `pshufb` that the linear map L needs anyway: the rotations of L by 8,
//! 16 and 24 bits are byte shuffles, and each is composed with the inverse of
//! ShiftRows, so `B`, `B <<< 8`, `B <<< 16` and `B <<< 24` cost one shuffle
//! each. Then `L(B) = B ^ (B <<< 24) ^ ((B ^ (B <<< 8) ^ (B <<< 16)) <<< 2)`.
//!
//! With GFNI, the same maps are single instructions: `gf2p8affineqb` applies
//! `P`, and `gf2p8affineinvqb` inverts in the AES field and applies the
//! second map; the bytes stay in place.
//!
//! No memory access or branch depends on a key or data byte.
//!
//! # Unsafe code
//!
//! This is the only module of the crate that may use `unsafe`, for two
//! things only:
//!
//! - calling the `#[target_feature]` kernels from code compiled without those
//!   features: done only through a [`Simd`] value, which [`Simd::detect`]
//!   creates after the CPU reported every feature of its level and of the
//!   levels below it;
//! - unaligned vector loads and stores (`_mm_loadu_si128`,
//!   `_mm_storeu_si128`) from and to a block (`&[u8; 16]` /
//!   `&mut [u8; 16]`): always exactly the 16 in-bounds bytes of a live
//!   reference, with no alignment requirement.
//!
//! The intrinsics themselves are safe to call inside functions that enable
//! their features.

#![allow(unsafe_code)]

use core::arch::x86_64::{
    __m128i, __m256i, _mm_aesenclast_si128, _mm_and_si128, _mm_cvtsi128_si32,
    _mm_gf2p8affine_epi64_epi8, _mm_gf2p8affineinv_epi64_epi8, _mm_loadu_si128, _mm_or_si128,
    _mm_set_epi64x, _mm_set1_epi32, _mm_set1_epi64x, _mm_setzero_si128, _mm_shuffle_epi8,
    _mm_slli_epi32, _mm_srli_epi32, _mm_storeu_si128, _mm_unpackhi_epi32, _mm_unpackhi_epi64,
    _mm_unpacklo_epi32, _mm_unpacklo_epi64, _mm_xor_si128, _mm256_aesenclast_epi128,
    _mm256_and_si256, _mm256_broadcastsi128_si256, _mm256_castsi256_si128,
    _mm256_extracti128_si256, _mm256_gf2p8affine_epi64_epi8, _mm256_gf2p8affineinv_epi64_epi8,
    _mm256_or_si256, _mm256_set_m128i, _mm256_set1_epi32, _mm256_set1_epi64x, _mm256_setzero_si256,
    _mm256_shuffle_epi8, _mm256_slli_epi32, _mm256_srli_epi32, _mm256_unpackhi_epi32,
    _mm256_unpackhi_epi64, _mm256_unpacklo_epi32, _mm256_unpacklo_epi64, _mm256_xor_si256,
};
use std::sync::atomic::{AtomicU8, Ordering};

use cipher::consts::{U8, U16};
use cipher::{
    BlockCipherEncBackend, BlockCipherEncClosure, BlockSizeUser, InOut, InOutBuf, ParBlocks,
    ParBlocksSizeUser,
};
use zeroize::Zeroize;

use super::affine::{
    GFNI_POST_CONSTANT, GFNI_POST_MATRIX, GFNI_PRE_MATRIX, POST_HIGH, POST_LOW, PRE_CONSTANT,
    PRE_HIGH, PRE_LOW,
};
use super::scalar::{CK, FK, words};
use super::{Block, RoundKeys};

/// An instruction-set level of the kernels; each needs the features of the
/// levels before it, and more.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Level {
    /// SSSE3 and AES-NI: 128-bit vectors.
    Ssse3Aes,
    /// AVX2 and AES-NI: 256-bit vectors, the AES S-box on each half.
    Avx2Aes,
    /// AVX2, AES-NI and VAES: 256-bit vectors throughout.
    Avx2Vaes,
    /// AVX2, AES-NI, VAES and GFNI: the S-box with the GFNI instructions.
    Avx2Gfni,
}

/// Proof that the CPU running this process has the features of `level` (and
/// of every lower level). Only [`Simd::detect`] creates one from nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Simd {
    level: Level,
}

/// Detection result, cached for the process: [`NOT_DETECTED`], [`NO_SIMD`], or
/// a level's [`Level::code`].
static DETECTED: AtomicU8 = AtomicU8::new(NOT_DETECTED);
/// [`DETECTED`] before the first detection.
const NOT_DETECTED: u8 = 0;
/// [`DETECTED`] when the CPU lacks AES-NI or SSSE3.
const NO_SIMD: u8 = 1;

impl Level {
    /// This level's value in [`DETECTED`].
    fn code(self) -> u8 {
        match self {
            Level::Ssse3Aes => 2,
            Level::Avx2Aes => 3,
            Level::Avx2Vaes => 4,
            Level::Avx2Gfni => 5,
        }
    }

    /// The level whose [`code`](Self::code) is `code`.
    fn from_code(code: u8) -> Option<Level> {
        match code {
            2 => Some(Level::Ssse3Aes),
            3 => Some(Level::Avx2Aes),
            4 => Some(Level::Avx2Vaes),
            5 => Some(Level::Avx2Gfni),
            _ => None,
        }
    }
}

impl Simd {
    /// The best level this CPU supports, or `None` without AES-NI and SSSE3.
    /// The CPU is asked once per process.
    pub(crate) fn detect() -> Option<Simd> {
        let mut code = DETECTED.load(Ordering::Relaxed);
        if code == NOT_DETECTED {
            code = probe().map_or(NO_SIMD, Level::code);
            DETECTED.store(code, Ordering::Relaxed);
        }
        Level::from_code(code).map(|level| Simd { level })
    }

    /// The level of kernels this value allows.
    #[cfg(test)]
    pub(crate) fn level(self) -> Level {
        self.level
    }

    /// The same proof for a level no higher than `ceiling`: the lower levels'
    /// features are a subset of this one's. Tests use it to run every kernel.
    #[cfg(test)]
    pub(crate) fn capped(self, ceiling: Level) -> Simd {
        Simd {
            level: self.level.min(ceiling),
        }
    }

    /// The SM4 key schedule, with the SIMD S-box (no key-dependent table
    /// index).
    pub(crate) fn expand_key(self, key: &[u8; 16]) -> RoundKeys {
        // SAFETY: `self` exists only if the CPU has SSSE3 and AES-NI, the
        // features `sse::expand_key` is compiled for (every level has them).
        unsafe { sse::expand_key(key) }
    }

    /// Runs the `cipher` closure `f` with the backend of this level.
    pub(crate) fn encrypt_with_backend(
        self,
        round_keys: &RoundKeys,
        f: impl BlockCipherEncClosure<BlockSize = U16>,
    ) {
        match self.level {
            Level::Ssse3Aes => f.call(&SseBackend {
                round_keys,
                _simd: self,
            }),
            Level::Avx2Aes | Level::Avx2Vaes | Level::Avx2Gfni => f.call(&Avx2Backend {
                round_keys,
                simd: self,
            }),
        }
    }

    /// The SM4 S-box applied to each byte of `low` and `high` by the S-box
    /// code of this level (for 256-bit kernels, `low` and `high` are the two
    /// halves of one vector), the bytes put back in input order.
    #[cfg(test)]
    pub(crate) fn sbox_bytes(self, low: [u8; 16], high: [u8; 16]) -> [[u8; 16]; 2] {
        // SAFETY: `self` proves the features of its level's module, in each
        // arm.
        unsafe {
            match self.level {
                Level::Ssse3Aes => [sse::sbox_bytes(low), sse::sbox_bytes(high)],
                Level::Avx2Aes => avx2::sbox_bytes(low, high),
                Level::Avx2Vaes => vaes::sbox_bytes(low, high),
                Level::Avx2Gfni => gfni::sbox_bytes(low, high),
            }
        }
    }
}

/// Asks the CPU (through the standard library's cached detection) which level
/// it supports.
fn probe() -> Option<Level> {
    use std::arch::is_x86_feature_detected as has;
    if !(has!("aes") && has!("ssse3")) {
        return None;
    }
    if !(has!("avx") && has!("avx2")) {
        return Some(Level::Ssse3Aes);
    }
    if !has!("vaes") {
        return Some(Level::Avx2Aes);
    }
    if !has!("gfni") {
        return Some(Level::Avx2Vaes);
    }
    Some(Level::Avx2Gfni)
}

/// `pshufb` indices that reverse the bytes of each 32-bit word: big-endian
/// block words to native integers, and back.
const BSWAP_WORDS: [u8; 16] = [3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12];

/// `pshufb` indices that take S-box results to input order with each 32-bit
/// word rotated left by `8 * rotation` bits; if `shift_rows`, the results are
/// in the order `aesenclast` leaves them.
///
/// ShiftRows moves the byte in row `r`, column `c` (index `r + 4c`) to
/// column `c - r`; rotating a native word left by 8 bits moves its byte `b`
/// to byte `b + 1`.
const fn reorder(rotation: usize, shift_rows: bool) -> [u8; 16] {
    let mut indices = [0_u8; 16];
    let mut j = 0;
    while j < 16 {
        // Byte `j` of the rotated word comes from this byte in input order ...
        let source = j / 4 * 4 + (j % 4 + 4 - rotation) % 4;
        // ... which ShiftRows has moved here.
        let (row, column) = (source % 4, source / 4);
        indices[j] = if shift_rows {
            (row + 4 * ((column + 4 - row) % 4)) as u8
        } else {
            source as u8
        };
        j += 1;
    }
    indices
}

/// The shuffles giving `B`, `B <<< 8`, `B <<< 16` and `B <<< 24` from the
/// output of the AES-NI S-box.
const AES_ORDER: [[u8; 16]; 4] = [
    reorder(0, true),
    reorder(1, true),
    reorder(2, true),
    reorder(3, true),
];

/// The shuffles giving `B`, `B <<< 8`, `B <<< 16` and `B <<< 24` from the
/// output of the GFNI S-box (the first is the identity).
const GFNI_ORDER: [[u8; 16]; 4] = [
    reorder(0, false),
    reorder(1, false),
    reorder(2, false),
    reorder(3, false),
];

/// The nibble mask `0x0f` in every byte.
const LOW_NIBBLES: [u8; 16] = [0x0f; 16];

/// The constant operand of `gf2p8affineqb` for `P`.
const GFNI_PRE_CONSTANT: i32 = PRE_CONSTANT as i32;
/// The constant operand of `gf2p8affineinvqb` for the second map.
const GFNI_INV_CONSTANT: i32 = GFNI_POST_CONSTANT as i32;

/// Defines, for one vector type `V` and one set of target features, the SM4
/// rounds on top of the primitives the invoking module provides (`xor`,
/// `shuffle`, `splat`, `pattern`, `rotate_left`, `transpose`) and of its
/// S-box (`SboxConstants`, `sbox_constants`, `sbox_reordered`, `SBOX_ORDER`).
macro_rules! sm4_rounds {
    ($features:literal) => {
        /// The constant vectors of the kernel, built once per call.
        struct Constants {
            sbox: SboxConstants,
            order: [V; 4],
            bswap_words: V,
        }

        #[inline]
        #[target_feature(enable = $features)]
        fn constants() -> Constants {
            Constants {
                sbox: sbox_constants(),
                order: SBOX_ORDER.map(|indices| pattern(indices)),
                bswap_words: pattern(BSWAP_WORDS),
            }
        }

        /// T of the round function: τ, then L.
        #[inline]
        #[target_feature(enable = $features)]
        fn round_t(c: &Constants, x: V) -> V {
            let s = sbox_reordered(&c.sbox, x);
            let b = shuffle(s, c.order[0]);
            let b8 = shuffle(s, c.order[1]);
            let b16 = shuffle(s, c.order[2]);
            let b24 = shuffle(s, c.order[3]);
            let t = xor(xor(b, b8), b16);
            xor(xor(b, b24), rotate_left::<2, 30>(t))
        }

        /// One round: `a ^ T(b ^ d ^ e ^ rk)`, with `e` (the word the
        /// previous round computed) XORed last, so the rest can be ready
        /// before it.
        #[inline]
        #[target_feature(enable = $features)]
        fn round(c: &Constants, a: V, b: V, d: V, e: V, round_key: V) -> V {
            xor(a, round_t(c, xor(xor(xor(b, d), round_key), e)))
        }

        /// The 32 rounds on one group, four at a time so that the words stay
        /// in registers.
        #[inline]
        #[target_feature(enable = $features)]
        fn rounds(c: &Constants, round_keys: &RoundKeys, x: &mut [V; 4]) {
            let [mut x0, mut x1, mut x2, mut x3] = *x;
            for &[k0, k1, k2, k3] in round_keys.as_chunks::<4>().0 {
                x0 = round(c, x0, x1, x2, x3, splat(k0));
                x1 = round(c, x1, x2, x3, x0, splat(k1));
                x2 = round(c, x2, x3, x0, x1, splat(k2));
                x3 = round(c, x3, x0, x1, x2, splat(k3));
            }
            *x = [x0, x1, x2, x3];
        }

        /// The 32 rounds on two independent groups, interleaved so that one
        /// group's instructions fill the other's latencies.
        #[inline]
        #[target_feature(enable = $features)]
        fn rounds2(c: &Constants, round_keys: &RoundKeys, x: &mut [V; 4], y: &mut [V; 4]) {
            let [mut x0, mut x1, mut x2, mut x3] = *x;
            let [mut y0, mut y1, mut y2, mut y3] = *y;
            for &[k0, k1, k2, k3] in round_keys.as_chunks::<4>().0 {
                let k = splat(k0);
                x0 = round(c, x0, x1, x2, x3, k);
                y0 = round(c, y0, y1, y2, y3, k);
                let k = splat(k1);
                x1 = round(c, x1, x2, x3, x0, k);
                y1 = round(c, y1, y2, y3, y0, k);
                let k = splat(k2);
                x2 = round(c, x2, x3, x0, x1, k);
                y2 = round(c, y2, y3, y0, y1, k);
                let k = splat(k3);
                x3 = round(c, x3, x0, x1, x2, k);
                y3 = round(c, y3, y0, y1, y2, k);
            }
            *x = [x0, x1, x2, x3];
            *y = [y0, y1, y2, y3];
        }

        /// Four vectors loaded from memory into the transposed layout.
        #[inline]
        #[target_feature(enable = $features)]
        fn to_words(c: &Constants, loaded: [V; 4]) -> [V; 4] {
            let [a, b, d, e] = loaded.map(|v| shuffle(v, c.bswap_words));
            transpose(a, b, d, e)
        }

        /// The final state, with the reverse transform R, back to the
        /// memory layout.
        #[inline]
        #[target_feature(enable = $features)]
        fn from_words(c: &Constants, x: [V; 4]) -> [V; 4] {
            transpose(x[3], x[2], x[1], x[0]).map(|v| shuffle(v, c.bswap_words))
        }
    };
}

/// The S-box of the AES-NI levels: the nibble-table maps around the module's
/// `aes_sbox` (`SubBytes(ShiftRows(x))`).
macro_rules! aes_sbox {
    ($features:literal) => {
        /// The look-up tables of the two affine maps.
        struct SboxConstants {
            low_nibbles: V,
            pre_low: V,
            pre_high: V,
            post_low: V,
            post_high: V,
        }

        #[inline]
        #[target_feature(enable = $features)]
        fn sbox_constants() -> SboxConstants {
            SboxConstants {
                low_nibbles: pattern(LOW_NIBBLES),
                pre_low: pattern(PRE_LOW),
                pre_high: pattern(PRE_HIGH),
                post_low: pattern(POST_LOW),
                post_high: pattern(POST_HIGH),
            }
        }

        /// An affine map on each byte, as two nibble look-ups.
        #[inline]
        #[target_feature(enable = $features)]
        fn affine(x: V, low_table: V, high_table: V, low_nibbles: V) -> V {
            xor(
                shuffle(low_table, and(x, low_nibbles)),
                shuffle(high_table, and(shift_right_4(x), low_nibbles)),
            )
        }

        /// The SM4 S-box on each byte, the bytes in the order ShiftRows
        /// leaves them.
        #[inline]
        #[target_feature(enable = $features)]
        fn sbox_reordered(s: &SboxConstants, x: V) -> V {
            let y = affine(x, s.pre_low, s.pre_high, s.low_nibbles);
            affine(aes_sbox(y), s.post_low, s.post_high, s.low_nibbles)
        }

        /// Where the S-box results are, and how to rotate them.
        const SBOX_ORDER: [[u8; 16]; 4] = AES_ORDER;
    };
}

/// The S-box of the GFNI level: two affine instructions, `$affine` and
/// `$affine_inverse`, with matrices broadcast by `$splat64`.
macro_rules! gfni_sbox {
    ($features:literal, $affine:ident, $affine_inverse:ident, $splat64:ident) => {
        /// The matrix operands of the two instructions.
        struct SboxConstants {
            pre: V,
            post: V,
        }

        #[inline]
        #[target_feature(enable = $features)]
        fn sbox_constants() -> SboxConstants {
            SboxConstants {
                pre: $splat64(GFNI_PRE_MATRIX.cast_signed()),
                post: $splat64(GFNI_POST_MATRIX.cast_signed()),
            }
        }

        /// The SM4 S-box on each byte, in place.
        #[inline]
        #[target_feature(enable = $features)]
        fn sbox_reordered(s: &SboxConstants, x: V) -> V {
            $affine_inverse::<GFNI_INV_CONSTANT>($affine::<GFNI_PRE_CONSTANT>(x, s.pre), s.post)
        }

        /// Where the S-box results are, and how to rotate them.
        const SBOX_ORDER: [[u8; 16]; 4] = GFNI_ORDER;
    };
}

/// Primitives and kernels on 128-bit vectors, for the features `$features`.
macro_rules! vectors_128 {
    ($features:literal) => {
        type V = __m128i;

        #[inline]
        #[target_feature(enable = $features)]
        fn xor(a: V, b: V) -> V {
            _mm_xor_si128(a, b)
        }

        #[inline]
        #[target_feature(enable = $features)]
        #[allow(dead_code, reason = "used by the AES-NI S-box only")]
        fn and(a: V, b: V) -> V {
            _mm_and_si128(a, b)
        }

        /// `table[index[i] & 0x0f]` in each byte (`index[i]` below 0x80).
        #[inline]
        #[target_feature(enable = $features)]
        fn shuffle(table: V, index: V) -> V {
            _mm_shuffle_epi8(table, index)
        }

        #[inline]
        #[target_feature(enable = $features)]
        fn splat(word: u32) -> V {
            _mm_set1_epi32(word.cast_signed())
        }

        /// A 16-byte constant.
        #[inline]
        #[target_feature(enable = $features)]
        fn pattern(bytes: [u8; 16]) -> V {
            let value = u128::from_le_bytes(bytes);
            let (low, high) = (value as u64, (value >> 64) as u64);
            _mm_set_epi64x(high.cast_signed(), low.cast_signed())
        }

        /// Each 32-bit lane shifted right by 4 bits.
        #[inline]
        #[target_feature(enable = $features)]
        #[allow(dead_code, reason = "used by the AES-NI S-box only")]
        fn shift_right_4(x: V) -> V {
            _mm_srli_epi32::<4>(x)
        }

        /// Each 32-bit lane rotated left by `LEFT` bits (`RIGHT` is
        /// `32 - LEFT`).
        #[inline]
        #[target_feature(enable = $features)]
        fn rotate_left<const LEFT: i32, const RIGHT: i32>(x: V) -> V {
            _mm_or_si128(_mm_slli_epi32::<LEFT>(x), _mm_srli_epi32::<RIGHT>(x))
        }

        /// The 4×4 transpose of 32-bit lanes.
        #[inline]
        #[target_feature(enable = $features)]
        fn transpose(a: V, b: V, c: V, d: V) -> [V; 4] {
            let ab_low = _mm_unpacklo_epi32(a, b);
            let cd_low = _mm_unpacklo_epi32(c, d);
            let ab_high = _mm_unpackhi_epi32(a, b);
            let cd_high = _mm_unpackhi_epi32(c, d);
            [
                _mm_unpacklo_epi64(ab_low, cd_low),
                _mm_unpackhi_epi64(ab_low, cd_low),
                _mm_unpacklo_epi64(ab_high, cd_high),
                _mm_unpackhi_epi64(ab_high, cd_high),
            ]
        }

        #[inline]
        #[target_feature(enable = $features)]
        fn load(block: &Block) -> V {
            // SAFETY: reads the 16 bytes of a live `&[u8; 16]`; the
            // unaligned load has no alignment requirement.
            unsafe { _mm_loadu_si128(block.0.as_ptr().cast()) }
        }

        #[inline]
        #[target_feature(enable = $features)]
        fn store(block: &mut Block, v: V) {
            // SAFETY: writes the 16 bytes of a live `&mut [u8; 16]`; the
            // unaligned store has no alignment requirement.
            unsafe { _mm_storeu_si128(block.0.as_mut_ptr().cast(), v) }
        }

        /// Encrypts 4 blocks in place.
        #[target_feature(enable = $features)]
        pub(super) fn encrypt4(round_keys: &RoundKeys, blocks: &mut [Block; 4]) {
            let c = constants();
            let mut x = to_words(&c, [0, 1, 2, 3].map(|i| load(&blocks[i])));
            rounds(&c, round_keys, &mut x);
            for (block, v) in blocks.iter_mut().zip(from_words(&c, x)) {
                store(block, v);
            }
        }

        /// Encrypts 8 blocks in place, as two interleaved groups of 4.
        #[target_feature(enable = $features)]
        #[allow(
            dead_code,
            reason = "the AVX2 levels encrypt 8 blocks with 256-bit vectors"
        )]
        pub(super) fn encrypt8(round_keys: &RoundKeys, blocks: &mut [Block; 8]) {
            let c = constants();
            let mut x = to_words(&c, [0, 1, 2, 3].map(|i| load(&blocks[i])));
            let mut y = to_words(&c, [4, 5, 6, 7].map(|i| load(&blocks[i])));
            rounds2(&c, round_keys, &mut x, &mut y);
            let (first, second) = blocks.split_at_mut(4);
            for (block, v) in first.iter_mut().zip(from_words(&c, x)) {
                store(block, v);
            }
            for (block, v) in second.iter_mut().zip(from_words(&c, y)) {
                store(block, v);
            }
        }

        /// The S-box of this module on each of 16 bytes, in input order.
        #[cfg(test)]
        #[target_feature(enable = $features)]
        #[allow(dead_code, reason = "tested for the 128-bit-only level")]
        pub(super) fn sbox_bytes(bytes: [u8; 16]) -> [u8; 16] {
            let c = constants();
            let mut block = Block::from(bytes);
            let s = shuffle(sbox_reordered(&c.sbox, load(&block)), c.order[0]);
            store(&mut block, s);
            block.0
        }

        sm4_rounds!($features);
    };
}

/// Primitives and kernels on 256-bit vectors (AVX2), for the features
/// `$features`.
macro_rules! vectors_256 {
    ($features:literal) => {
        type V = __m256i;

        #[inline]
        #[target_feature(enable = $features)]
        fn xor(a: V, b: V) -> V {
            _mm256_xor_si256(a, b)
        }

        #[inline]
        #[target_feature(enable = $features)]
        #[allow(dead_code, reason = "used by the AES-NI S-box only")]
        fn and(a: V, b: V) -> V {
            _mm256_and_si256(a, b)
        }

        /// `table[index[i] & 0x0f]` in each byte, within each 128-bit half.
        #[inline]
        #[target_feature(enable = $features)]
        fn shuffle(table: V, index: V) -> V {
            _mm256_shuffle_epi8(table, index)
        }

        #[inline]
        #[target_feature(enable = $features)]
        fn splat(word: u32) -> V {
            _mm256_set1_epi32(word.cast_signed())
        }

        /// A 16-byte constant in both halves.
        #[inline]
        #[target_feature(enable = $features)]
        fn pattern(bytes: [u8; 16]) -> V {
            let value = u128::from_le_bytes(bytes);
            let (low, high) = (value as u64, (value >> 64) as u64);
            _mm256_broadcastsi128_si256(_mm_set_epi64x(high.cast_signed(), low.cast_signed()))
        }

        /// Each 32-bit lane shifted right by 4 bits.
        #[inline]
        #[target_feature(enable = $features)]
        #[allow(dead_code, reason = "used by the AES-NI S-box only")]
        fn shift_right_4(x: V) -> V {
            _mm256_srli_epi32::<4>(x)
        }

        /// Each 32-bit lane rotated left by `LEFT` bits (`RIGHT` is
        /// `32 - LEFT`).
        #[inline]
        #[target_feature(enable = $features)]
        fn rotate_left<const LEFT: i32, const RIGHT: i32>(x: V) -> V {
            _mm256_or_si256(_mm256_slli_epi32::<LEFT>(x), _mm256_srli_epi32::<RIGHT>(x))
        }

        /// The 4×4 transpose of 32-bit lanes, in each 128-bit half.
        #[inline]
        #[target_feature(enable = $features)]
        fn transpose(a: V, b: V, c: V, d: V) -> [V; 4] {
            let ab_low = _mm256_unpacklo_epi32(a, b);
            let cd_low = _mm256_unpacklo_epi32(c, d);
            let ab_high = _mm256_unpackhi_epi32(a, b);
            let cd_high = _mm256_unpackhi_epi32(c, d);
            [
                _mm256_unpacklo_epi64(ab_low, cd_low),
                _mm256_unpackhi_epi64(ab_low, cd_low),
                _mm256_unpacklo_epi64(ab_high, cd_high),
                _mm256_unpackhi_epi64(ab_high, cd_high),
            ]
        }

        /// Blocks `low` and `high` as the two halves of one vector.
        #[inline]
        #[target_feature(enable = $features)]
        fn load(low: &Block, high: &Block) -> V {
            // SAFETY: each load reads the 16 bytes of a live `&[u8; 16]`;
            // unaligned loads have no alignment requirement.
            let (low, high) = unsafe {
                (
                    _mm_loadu_si128(low.0.as_ptr().cast()),
                    _mm_loadu_si128(high.0.as_ptr().cast()),
                )
            };
            _mm256_set_m128i(high, low)
        }

        /// The two halves of `v` to blocks `low` and `high`.
        #[inline]
        #[target_feature(enable = $features)]
        fn store(low: &mut Block, high: &mut Block, v: V) {
            // SAFETY: each store writes the 16 bytes of a live
            // `&mut [u8; 16]`; unaligned stores have no alignment requirement.
            unsafe {
                _mm_storeu_si128(low.0.as_mut_ptr().cast(), _mm256_castsi256_si128(v));
                _mm_storeu_si128(high.0.as_mut_ptr().cast(), _mm256_extracti128_si256::<1>(v));
            }
        }

        /// Encrypts 8 blocks in place: blocks 0–3 in the low halves, 4–7 in
        /// the high halves.
        #[target_feature(enable = $features)]
        pub(super) fn encrypt8(round_keys: &RoundKeys, blocks: &mut [Block; 8]) {
            let c = constants();
            let mut x = to_words(&c, [0, 1, 2, 3].map(|i| load(&blocks[i], &blocks[i + 4])));
            rounds(&c, round_keys, &mut x);
            let out = from_words(&c, x);
            let (low, high) = blocks.split_at_mut(4);
            for ((low, high), v) in low.iter_mut().zip(high.iter_mut()).zip(out) {
                store(low, high, v);
            }
        }

        /// Encrypts 16 blocks in place, as two interleaved groups of 8.
        #[target_feature(enable = $features)]
        pub(super) fn encrypt16(round_keys: &RoundKeys, blocks: &mut [Block; 16]) {
            let c = constants();
            let mut x = to_words(&c, [0, 1, 2, 3].map(|i| load(&blocks[i], &blocks[i + 4])));
            let mut y = to_words(&c, [8, 9, 10, 11].map(|i| load(&blocks[i], &blocks[i + 4])));
            rounds2(&c, round_keys, &mut x, &mut y);
            let (first, second) = blocks.split_at_mut(8);
            for (group, state) in [(first, x), (second, y)] {
                let out = from_words(&c, state);
                let (low, high) = group.split_at_mut(4);
                for ((low, high), v) in low.iter_mut().zip(high.iter_mut()).zip(out) {
                    store(low, high, v);
                }
            }
        }

        /// The S-box of this module on each byte of `low` and `high`, the two
        /// halves of one vector, in input order.
        #[cfg(test)]
        #[target_feature(enable = $features)]
        pub(super) fn sbox_bytes(low: [u8; 16], high: [u8; 16]) -> [[u8; 16]; 2] {
            let c = constants();
            let mut blocks = [Block::from(low), Block::from(high)];
            let s = shuffle(
                sbox_reordered(&c.sbox, load(&blocks[0], &blocks[1])),
                c.order[0],
            );
            let [low, high] = &mut blocks;
            store(low, high, s);
            blocks.map(|block| block.0)
        }

        sm4_rounds!($features);
    };
}

/// 128-bit kernels in legacy SSE encoding, for CPUs without AVX2; also the key
/// schedule of every level.
mod sse {
    use super::*;

    vectors_128!("sse2,ssse3,aes");
    aes_sbox!("sse2,ssse3,aes");

    /// `SubBytes(ShiftRows(x))`.
    #[inline]
    #[target_feature(enable = "sse2,ssse3,aes")]
    fn aes_sbox(x: V) -> V {
        _mm_aesenclast_si128(x, _mm_setzero_si128())
    }

    /// The SM4 key schedule on one vector lane (the others compute the same):
    /// the cipher's structure with `CK_i` for round keys and L' for L.
    #[target_feature(enable = "sse2,ssse3,aes")]
    pub(super) fn expand_key(key: &[u8; 16]) -> RoundKeys {
        let c = constants();
        let mut mk = words(key);
        let mut k = [0, 1, 2, 3].map(|i| splat(mk[i] ^ FK[i]));
        mk.zeroize();
        let mut round_keys = [0_u32; 32];
        for (i, (rk, ck)) in round_keys.iter_mut().zip(CK).enumerate() {
            let input = xor(
                xor(xor(k[(i + 1) % 4], k[(i + 2) % 4]), splat(ck)),
                k[(i + 3) % 4],
            );
            let b = shuffle(sbox_reordered(&c.sbox, input), c.order[0]);
            let l = xor(xor(b, rotate_left::<13, 19>(b)), rotate_left::<23, 9>(b));
            k[i % 4] = xor(k[i % 4], l);
            *rk = _mm_cvtsi128_si32(k[i % 4]).cast_unsigned();
        }
        round_keys
    }
}

/// 128-bit AES-NI kernels in VEX encoding, for single blocks and short tails
/// on AVX2 machines without GFNI.
mod avx128 {
    use super::*;

    vectors_128!("avx2,aes");
    aes_sbox!("avx2,aes");

    /// `SubBytes(ShiftRows(x))`.
    #[inline]
    #[target_feature(enable = "avx2,aes")]
    fn aes_sbox(x: V) -> V {
        _mm_aesenclast_si128(x, _mm_setzero_si128())
    }
}

/// 256-bit kernels with the AES S-box computed on each 128-bit half.
mod avx2 {
    use super::*;

    vectors_256!("avx2,aes");
    aes_sbox!("avx2,aes");

    /// `SubBytes(ShiftRows(x))` on each 128-bit half.
    #[inline]
    #[target_feature(enable = "avx2,aes")]
    fn aes_sbox(x: V) -> V {
        let zero = _mm_setzero_si128();
        let low = _mm_aesenclast_si128(_mm256_castsi256_si128(x), zero);
        let high = _mm_aesenclast_si128(_mm256_extracti128_si256::<1>(x), zero);
        _mm256_set_m128i(high, low)
    }
}

/// 256-bit kernels with VAES.
mod vaes {
    use super::*;

    vectors_256!("avx2,aes,vaes");
    aes_sbox!("avx2,aes,vaes");

    /// `SubBytes(ShiftRows(x))` on each 128-bit half.
    #[inline]
    #[target_feature(enable = "avx2,aes,vaes")]
    fn aes_sbox(x: V) -> V {
        _mm256_aesenclast_epi128(x, _mm256_setzero_si256())
    }
}

/// 128-bit GFNI kernels, for single blocks and short tails.
mod gfni128 {
    use super::*;

    vectors_128!("avx2,gfni");
    gfni_sbox!(
        "avx2,gfni",
        _mm_gf2p8affine_epi64_epi8,
        _mm_gf2p8affineinv_epi64_epi8,
        _mm_set1_epi64x
    );
}

/// 256-bit GFNI kernels.
mod gfni {
    use super::*;

    vectors_256!("avx2,gfni");
    gfni_sbox!(
        "avx2,gfni",
        _mm256_gf2p8affine_epi64_epi8,
        _mm256_gf2p8affineinv_epi64_epi8,
        _mm256_set1_epi64x
    );
}

/// Encrypts one block with `kernel`, which encrypts 4 (the others are zero).
fn encrypt_single(mut block: InOut<'_, '_, Block>, kernel: impl FnOnce(&mut [Block; 4])) {
    let mut buffer = [Block::default(); 4];
    buffer[0] = block.clone_in();
    kernel(&mut buffer);
    *block.get_out() = buffer[0];
}

/// Encrypts the `n < N` blocks of `blocks` with `kernel`, which encrypts
/// `N` blocks: the blocks are copied into a zero-padded buffer and back.
fn encrypt_partial<const N: usize>(
    mut blocks: InOutBuf<'_, '_, Block>,
    kernel: impl FnOnce(&mut [Block; N]),
) {
    let n = blocks.len();
    if n == 0 {
        return;
    }
    let mut buffer = [Block::default(); N];
    buffer[..n].copy_from_slice(blocks.get_in());
    kernel(&mut buffer);
    blocks.get_out().copy_from_slice(&buffer[..n]);
}

/// The `cipher` backend of [`Level::Ssse3Aes`]: 8 blocks in parallel.
struct SseBackend<'a> {
    round_keys: &'a RoundKeys,
    /// The proof that the CPU has SSSE3 and AES-NI.
    _simd: Simd,
}

impl BlockSizeUser for SseBackend<'_> {
    type BlockSize = U16;
}

impl ParBlocksSizeUser for SseBackend<'_> {
    type ParBlocksSize = U8;
}

impl SseBackend<'_> {
    fn encrypt4(&self, blocks: &mut [Block; 4]) {
        // SAFETY: `_simd` proves SSSE3 and AES-NI, the features of `sse`.
        unsafe { sse::encrypt4(self.round_keys, blocks) }
    }

    fn encrypt8(&self, blocks: &mut [Block; 8]) {
        // SAFETY: `_simd` proves SSSE3 and AES-NI, the features of `sse`.
        unsafe { sse::encrypt8(self.round_keys, blocks) }
    }
}

impl BlockCipherEncBackend for SseBackend<'_> {
    #[inline]
    fn encrypt_block(&self, block: InOut<'_, '_, Block>) {
        encrypt_single(block, |buffer| self.encrypt4(buffer));
    }

    #[inline]
    fn encrypt_par_blocks(&self, blocks: InOut<'_, '_, ParBlocks<Self>>) {
        self.encrypt8(&mut blocks.into_out_with_copied_in().0);
    }

    #[inline]
    fn encrypt_tail_blocks(&self, blocks: InOutBuf<'_, '_, Block>) {
        if blocks.len() <= 4 {
            encrypt_partial::<4>(blocks, |buffer| self.encrypt4(buffer));
        } else {
            encrypt_partial::<8>(blocks, |buffer| self.encrypt8(buffer));
        }
    }
}

/// The `cipher` backend of the AVX2 levels: 16 blocks in parallel.
struct Avx2Backend<'a> {
    round_keys: &'a RoundKeys,
    /// The proof that the CPU has the features of `simd.level`, at least
    /// AVX2 and AES-NI.
    simd: Simd,
}

impl BlockSizeUser for Avx2Backend<'_> {
    type BlockSize = U16;
}

impl ParBlocksSizeUser for Avx2Backend<'_> {
    type ParBlocksSize = U16;
}

impl Avx2Backend<'_> {
    fn encrypt4(&self, blocks: &mut [Block; 4]) {
        let rk = self.round_keys;
        // SAFETY: in each arm, `simd` proves the features of the module
        // called: SSSE3 and AES-NI (`sse`), AVX2 and AES-NI (`avx128`), AVX2
        // and GFNI (`gfni128`).
        unsafe {
            match self.simd.level {
                Level::Ssse3Aes => sse::encrypt4(rk, blocks),
                Level::Avx2Aes | Level::Avx2Vaes => avx128::encrypt4(rk, blocks),
                Level::Avx2Gfni => gfni128::encrypt4(rk, blocks),
            }
        }
    }

    fn encrypt8(&self, blocks: &mut [Block; 8]) {
        let rk = self.round_keys;
        // SAFETY: in each arm, `simd` proves the features of the module
        // called: SSSE3 and AES-NI (`sse`), AVX2 and AES-NI (`avx2`), AVX2,
        // AES-NI and VAES (`vaes`), AVX2 and GFNI (`gfni`).
        unsafe {
            match self.simd.level {
                Level::Ssse3Aes => sse::encrypt8(rk, blocks),
                Level::Avx2Aes => avx2::encrypt8(rk, blocks),
                Level::Avx2Vaes => vaes::encrypt8(rk, blocks),
                Level::Avx2Gfni => gfni::encrypt8(rk, blocks),
            }
        }
    }

    fn encrypt16(&self, blocks: &mut [Block; 16]) {
        let rk = self.round_keys;
        // SAFETY: as in `encrypt8`, each arm calls the module whose features
        // `simd` proves.
        unsafe {
            match self.simd.level {
                Level::Ssse3Aes => {
                    for half in blocks.as_chunks_mut::<8>().0 {
                        sse::encrypt8(rk, half);
                    }
                }
                Level::Avx2Aes => avx2::encrypt16(rk, blocks),
                Level::Avx2Vaes => vaes::encrypt16(rk, blocks),
                Level::Avx2Gfni => gfni::encrypt16(rk, blocks),
            }
        }
    }
}

impl BlockCipherEncBackend for Avx2Backend<'_> {
    #[inline]
    fn encrypt_block(&self, block: InOut<'_, '_, Block>) {
        encrypt_single(block, |buffer| self.encrypt4(buffer));
    }

    #[inline]
    fn encrypt_par_blocks(&self, blocks: InOut<'_, '_, ParBlocks<Self>>) {
        self.encrypt16(&mut blocks.into_out_with_copied_in().0);
    }

    #[inline]
    fn encrypt_tail_blocks(&self, blocks: InOutBuf<'_, '_, Block>) {
        match blocks.len() {
            0..=4 => encrypt_partial::<4>(blocks, |buffer| self.encrypt4(buffer)),
            5..=8 => encrypt_partial::<8>(blocks, |buffer| self.encrypt8(buffer)),
            _ => encrypt_partial::<16>(blocks, |buffer| self.encrypt16(buffer)),
        }
    }
}
