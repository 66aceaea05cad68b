//! The portable SM4 path: the algorithm as GB/T 32907-2016 states it, one
//! block at a time, with the S-box as a table.
//!
//! Used where the SIMD kernel is not available, and as the reference that the
//! SIMD kernel is compared with in tests. The table look-ups are indexed by
//! key- and data-dependent bytes, as in the `sm4` crate this path replaces.

use cipher::consts::{U1, U16};
use cipher::{BlockCipherEncBackend, BlockSizeUser, InOut, ParBlocksSizeUser};
use zeroize::Zeroize;

use super::{Block, RoundKeys};

/// The SM4 S-box (GB/T 32907-2016, 6.2).
pub(crate) const SBOX: [u8; 256] = [
    0xd6, 0x90, 0xe9, 0xfe, 0xcc, 0xe1, 0x3d, 0xb7, 0x16, 0xb6, 0x14, 0xc2, 0x28, 0xfb, 0x2c, 0x05,
    0x2b, 0x67, 0x9a, 0x76, 0x2a, 0xbe, 0x04, 0xc3, 0xaa, 0x44, 0x13, 0x26, 0x49, 0x86, 0x06, 0x99,
    0x9c, 0x42, 0x50, 0xf4, 0x91, 0xef, 0x98, 0x7a, 0x33, 0x54, 0x0b, 0x43, 0xed, 0xcf, 0xac, 0x62,
    0xe4, 0xb3, 0x1c, 0xa9, 0xc9, 0x08, 0xe8, 0x95, 0x80, 0xdf, 0x94, 0xfa, 0x75, 0x8f, 0x3f, 0xa6,
    0x47, 0x07, 0xa7, 0xfc, 0xf3, 0x73, 0x17, 0xba, 0x83, 0x59, 0x3c, 0x19, 0xe6, 0x85, 0x4f, 0xa8,
    0x68, 0x6b, 0x81, 0xb2, 0x71, 0x64, 0xda, 0x8b, 0xf8, 0xeb, 0x0f, 0x4b, 0x70, 0x56, 0x9d, 0x35,
    0x1e, 0x24, 0x0e, 0x5e, 0x63, 0x58, 0xd1, 0xa2, 0x25, 0x22, 0x7c, 0x3b, 0x01, 0x21, 0x78, 0x87,
    0xd4, 0x00, 0x46, 0x57, 0x9f, 0xd3, 0x27, 0x52, 0x4c, 0x36, 0x02, 0xe7, 0xa0, 0xc4, 0xc8, 0x9e,
    0xea, 0xbf, 0x8a, 0xd2, 0x40, 0xc7, 0x38, 0xb5, 0xa3, 0xf7, 0xf2, 0xce, 0xf9, 0x61, 0x15, 0xa1,
    0xe0, 0xae, 0x5d, 0xa4, 0x9b, 0x34, 0x1a, 0x55, 0xad, 0x93, 0x32, 0x30, 0xf5, 0x8c, 0xb1, 0xe3,
    0x1d, 0xf6, 0xe2, 0x2e, 0x82, 0x66, 0xca, 0x60, 0xc0, 0x29, 0x23, 0xab, 0x0d, 0x53, 0x4e, 0x6f,
    0xd5, 0xdb, 0x37, 0x45, 0xde, 0xfd, 0x8e, 0x2f, 0x03, 0xff, 0x6a, 0x72, 0x6d, 0x6c, 0x5b, 0x51,
    0x8d, 0x1b, 0xaf, 0x92, 0xbb, 0xdd, 0xbc, 0x7f, 0x11, 0xd9, 0x5c, 0x41, 0x1f, 0x10, 0x5a, 0xd8,
    0x0a, 0xc1, 0x31, 0x88, 0xa5, 0xcd, 0x7b, 0xbd, 0x2d, 0x74, 0xd0, 0x12, 0xb8, 0xe5, 0xb4, 0xb0,
    0x89, 0x69, 0x97, 0x4a, 0x0c, 0x96, 0x77, 0x7e, 0x65, 0xb9, 0xf1, 0x09, 0xc5, 0x6e, 0xc6, 0x84,
    0x18, 0xf0, 0x7d, 0xec, 0x3a, 0xdc, 0x4d, 0x20, 0x79, 0xee, 0x5f, 0x3e, 0xd7, 0xcb, 0x39, 0x48,
];

/// The system parameters `FK` of the key schedule (GB/T 32907-2016, 7.3).
pub(crate) const FK: [u32; 4] = [0xa3b1_bac6, 0x56aa_3350, 0x677d_9197, 0xb270_22dc];

/// The fixed parameters `CK` of the key schedule: byte `j` of `CK_i` is
/// `(4i + j) · 7 mod 256` (GB/T 32907-2016, 7.3).
pub(crate) const CK: [u32; 32] = {
    let mut ck = [0_u32; 32];
    let mut i = 0;
    while i < 32 {
        let mut j = 0;
        while j < 4 {
            ck[i] = (ck[i] << 8) | (((4 * i + j) * 7) % 256) as u32;
            j += 1;
        }
        i += 1;
    }
    ck
};

/// The four big-endian words of a 16-byte block or key.
pub(crate) fn words(bytes: &[u8; 16]) -> [u32; 4] {
    let mut words = [0_u32; 4];
    for (word, chunk) in words.iter_mut().zip(bytes.chunks_exact(4)) {
        *word = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
    }
    words
}

/// τ: the S-box applied to each byte of a word.
fn tau(word: u32) -> u32 {
    u32::from_be_bytes(word.to_be_bytes().map(|byte| SBOX[usize::from(byte)]))
}

/// T of the round function: τ, then the linear map L.
fn round_t(word: u32) -> u32 {
    let b = tau(word);
    b ^ b.rotate_left(2) ^ b.rotate_left(10) ^ b.rotate_left(18) ^ b.rotate_left(24)
}

/// T' of the key schedule: τ, then the linear map L'.
fn key_t(word: u32) -> u32 {
    let b = tau(word);
    b ^ b.rotate_left(13) ^ b.rotate_left(23)
}

/// The key schedule: `rk_i = K_{i+4} = K_i ^ T'(K_{i+1} ^ K_{i+2} ^ K_{i+3} ^ CK_i)`,
/// starting from `K_i = MK_i ^ FK_i`.
pub(crate) fn expand_key(key: &[u8; 16]) -> RoundKeys {
    let mut k = words(key);
    for (word, fk) in k.iter_mut().zip(FK) {
        *word ^= fk;
    }
    let mut round_keys = [0_u32; 32];
    for (i, (rk, ck)) in round_keys.iter_mut().zip(CK).enumerate() {
        let next = k[i % 4] ^ key_t(k[(i + 1) % 4] ^ k[(i + 2) % 4] ^ k[(i + 3) % 4] ^ ck);
        k[i % 4] = next;
        *rk = next;
    }
    k.zeroize();
    round_keys
}

/// Encrypts one block in place: 32 rounds
/// `X_{i+4} = X_i ^ T(X_{i+1} ^ X_{i+2} ^ X_{i+3} ^ rk_i)`, then the reverse
/// transform R.
pub(crate) fn encrypt_block(round_keys: &RoundKeys, block: &mut [u8; 16]) {
    let mut x = words(block);
    for (i, rk) in round_keys.iter().enumerate() {
        x[i % 4] ^= round_t(x[(i + 1) % 4] ^ x[(i + 2) % 4] ^ x[(i + 3) % 4] ^ rk);
    }
    for (chunk, word) in block.chunks_exact_mut(4).zip(x.iter().rev()) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
}

/// The `cipher` backend of the portable path: one block at a time.
pub(crate) struct Backend<'a> {
    round_keys: &'a RoundKeys,
}

impl<'a> Backend<'a> {
    pub(crate) fn new(round_keys: &'a RoundKeys) -> Self {
        Backend { round_keys }
    }
}

impl BlockSizeUser for Backend<'_> {
    type BlockSize = U16;
}

impl ParBlocksSizeUser for Backend<'_> {
    type ParBlocksSize = U1;
}

impl BlockCipherEncBackend for Backend<'_> {
    #[inline]
    fn encrypt_block(&self, block: InOut<'_, '_, Block>) {
        encrypt_block(self.round_keys, &mut block.into_out_with_copied_in().0);
    }
}
