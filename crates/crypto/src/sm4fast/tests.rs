//! Tests of [`FastSm4`]: the algebra behind the SIMD S-box, every kernel
//! against the `sm4` crate and the GB/T 32907 examples, and SM4-GCM over every
//! kernel against SM4-GCM over the `sm4` crate.

use aes_gcm::AesGcm;
use aes_gcm::aead::consts::U12;
use aes_gcm::aead::{Aead, Payload};
use cipher::{BlockCipherEncrypt, KeyInit};
use hex_literal::hex;
use proptest::prelude::*;

use super::affine::{
    AES_MATRIX, GFNI_POST_CONSTANT, GFNI_POST_MATRIX, GFNI_PRE_MATRIX, POST_CONSTANT, POST_HIGH,
    POST_LOW, POST_MATRIX, PRE_CONSTANT, PRE_HIGH, PRE_LOW, PRE_MATRIX, apply,
};
use super::scalar::{self, SBOX};
use super::{Block, FastSm4, Kernel};

// ---------------------------------------------------------------------------
// GF(2^8) and bit-matrix helpers, written independently of the code under test.

/// Product in GF(2^8) modulo `poly` (with its x^8 bit).
fn gf_mul(mut a: u8, mut b: u8, poly: u16) -> u8 {
    let mut product = 0_u8;
    while b != 0 {
        if b & 1 != 0 {
            product ^= a;
        }
        let carry = a & 0x80 != 0;
        a <<= 1;
        if carry {
            a ^= (poly & 0xff) as u8;
        }
        b >>= 1;
    }
    product
}

/// Inverse in GF(2^8) modulo `poly`, with 0 mapped to 0.
fn gf_inv(a: u8, poly: u16) -> u8 {
    (0..=255).find(|&b| gf_mul(a, b, poly) == 1).unwrap_or(0)
}

/// The matrix whose column `j` is `columns[j]`, as rows.
fn from_columns(columns: [u8; 8]) -> [u8; 8] {
    std::array::from_fn(|i| (0..8).fold(0, |row, j| row | (((columns[j] >> i) & 1) << j)))
}

/// The product `a · b` (b applied first).
fn compose(a: [u8; 8], b: [u8; 8]) -> [u8; 8] {
    from_columns(std::array::from_fn(|j| apply(a, apply(b, 1 << j))))
}

/// The inverse of an invertible matrix.
fn invert(m: [u8; 8]) -> [u8; 8] {
    let mut preimage = [0_u8; 256];
    let mut seen = [false; 256];
    for x in 0..=255_u8 {
        let y = usize::from(apply(m, x));
        assert!(!seen[y], "matrix is singular");
        seen[y] = true;
        preimage[y] = x;
    }
    from_columns(std::array::from_fn(|j| preimage[1 << j]))
}

/// SM4's field polynomial x^8 + x^7 + x^6 + x^5 + x^4 + x^2 + 1.
const SM4_POLY: u16 = 0x1f5;
/// AES's field polynomial x^8 + x^4 + x^3 + x + 1.
const AES_POLY: u16 = 0x11b;
/// SM4's affine matrix `A`: row `i` is 0xA7 rotated left by `i`.
const SM4_A: [u8; 8] = [0xa7, 0x4f, 0x9e, 0x3d, 0x7a, 0xf4, 0xe9, 0xd3];
/// SM4's affine constant `c`.
const SM4_C: u8 = 0xd3;

/// The AES S-box, from its definition (FIPS 197, 5.1.1).
fn aes_sbox(x: u8) -> u8 {
    let b = gf_inv(x, AES_POLY);
    b ^ b.rotate_left(1) ^ b.rotate_left(2) ^ b.rotate_left(3) ^ b.rotate_left(4) ^ 0x63
}

#[test]
fn a_is_the_circulant_of_0xa7() {
    for (i, row) in SM4_A.iter().enumerate() {
        assert_eq!(*row, 0xa7_u8.rotate_left(i as u32));
    }
}

#[test]
fn aes_sbox_model_is_right() {
    // FIPS 197, figure 7.
    assert_eq!(aes_sbox(0x00), 0x63);
    assert_eq!(aes_sbox(0x01), 0x7c);
    assert_eq!(aes_sbox(0x53), 0xed);
    assert_eq!(aes_sbox(0xff), 0x16);
}

#[test]
fn the_sm4_sbox_is_an_inversion_between_two_affine_maps() {
    for x in 0..=255_u8 {
        let inner = apply(SM4_A, x) ^ SM4_C;
        let expected = apply(SM4_A, gf_inv(inner, SM4_POLY)) ^ SM4_C;
        assert_eq!(SBOX[usize::from(x)], expected, "x = {x:#04x}");
    }
}

#[test]
fn the_affine_maps_are_derived_from_the_field_isomorphism() {
    // 0x23 is a root of SM4's polynomial in the AES field ...
    let root = 0x23_u8;
    let powers: [u8; 9] = {
        let mut powers = [1_u8; 9];
        for i in 1..9 {
            powers[i] = gf_mul(powers[i - 1], root, AES_POLY);
        }
        powers
    };
    let value = (0..9)
        .filter(|i| SM4_POLY >> i & 1 == 1)
        .fold(0, |sum, i| sum ^ powers[i]);
    assert_eq!(value, 0);

    // ... so T, with column j = 0x23^j, carries SM4's field into AES's.
    let t = from_columns(std::array::from_fn(|j| powers[j]));
    for y in 0..=255_u8 {
        assert_eq!(apply(t, gf_inv(y, SM4_POLY)), gf_inv(apply(t, y), AES_POLY));
    }

    // The AES affine map: S_aes(z) = M · I_aes(z) + 0x63.
    let m = from_columns(std::array::from_fn(|j| aes_sbox_affine(1 << j)));
    let p = compose(t, SM4_A);
    let p_constant = apply(t, SM4_C);
    let q = compose(SM4_A, compose(invert(t), invert(m)));
    let q_constant = apply(q, 0x63) ^ SM4_C;
    assert_eq!(PRE_MATRIX, p);
    assert_eq!(PRE_CONSTANT, p_constant);
    assert_eq!(POST_MATRIX, q);
    assert_eq!(POST_CONSTANT, q_constant);

    // GFNI's second map, after the inversion: A · T⁻¹, constant c.
    assert_eq!(AES_MATRIX, m);
    let gfni_post = compose(SM4_A, invert(t));
    let as_gfni = |rows: [u8; 8]| {
        (0..8).fold(0_u64, |matrix, i| {
            matrix | u64::from(rows[i]) << (8 * (7 - i))
        })
    };
    assert_eq!(GFNI_POST_MATRIX, as_gfni(gfni_post));
    assert_eq!(GFNI_POST_CONSTANT, SM4_C);
    assert_eq!(GFNI_PRE_MATRIX, as_gfni(p));
}

/// The linear part of the AES affine map.
fn aes_sbox_affine(b: u8) -> u8 {
    b ^ b.rotate_left(1) ^ b.rotate_left(2) ^ b.rotate_left(3) ^ b.rotate_left(4)
}

#[test]
fn the_nibble_tables_around_the_aes_sbox_give_the_sm4_sbox() {
    // A scalar model of what the SIMD kernel computes, byte by byte.
    for x in 0..=255_u8 {
        let (low, high) = (usize::from(x & 0x0f), usize::from(x >> 4));
        let y = aes_sbox(PRE_LOW[low] ^ PRE_HIGH[high]);
        let (low, high) = (usize::from(y & 0x0f), usize::from(y >> 4));
        assert_eq!(
            POST_LOW[low] ^ POST_HIGH[high],
            SBOX[usize::from(x)],
            "x = {x:#04x}"
        );
    }
}

#[test]
fn ck_follows_its_definition() {
    assert_eq!(scalar::CK[0], 0x0007_0e15);
    assert_eq!(scalar::CK[1], 0x1c23_2a31);
    assert_eq!(scalar::CK[31], 0x646b_7279);
}

// ---------------------------------------------------------------------------
// The kernels.

/// Every kernel this machine can run, with a name: the scalar path and each
/// SIMD level up to the detected one.
fn kernels() -> Vec<(&'static str, Kernel)> {
    let scalar = ("scalar", Kernel::Scalar);
    #[cfg(target_arch = "x86_64")]
    if let Some(simd) = super::x86::Simd::detect() {
        use super::x86::Level;
        let levels = [
            ("ssse3+aes", Level::Ssse3Aes),
            ("avx2+aes", Level::Avx2Aes),
            ("avx2+vaes", Level::Avx2Vaes),
            ("avx2+gfni", Level::Avx2Gfni),
        ];
        let simd_kernels = levels
            .into_iter()
            .filter(|&(_, level)| level <= simd.level())
            .map(|(name, level)| (name, Kernel::Simd(simd.capped(level))));
        return std::iter::once(scalar).chain(simd_kernels).collect();
    }
    vec![scalar]
}

#[test]
fn the_best_kernel_is_chosen() {
    let cipher = FastSm4::new(&[7; 16].into());
    #[cfg(target_arch = "x86_64")]
    {
        use super::x86::Level;
        use std::arch::is_x86_feature_detected as has;
        let expected = if !(has!("aes") && has!("ssse3")) {
            None
        } else if !(has!("avx") && has!("avx2")) {
            Some(Level::Ssse3Aes)
        } else if !has!("vaes") {
            Some(Level::Avx2Aes)
        } else if !has!("gfni") {
            Some(Level::Avx2Vaes)
        } else {
            Some(Level::Avx2Gfni)
        };
        let chosen = match cipher.kernel {
            Kernel::Scalar => None,
            Kernel::Simd(simd) => Some(simd.level()),
        };
        assert_eq!(chosen, expected);
    }
    #[cfg(not(target_arch = "x86_64"))]
    assert_eq!(cipher.kernel, Kernel::Scalar);
}

#[test]
fn the_scalar_path_can_be_forced() {
    assert_eq!(FastSm4::new_scalar(&[7; 16]).kernel, Kernel::Scalar);
}

#[cfg(target_arch = "x86_64")]
#[test]
fn every_simd_sbox_matches_the_table_for_all_256_inputs() {
    let Some(simd) = super::x86::Simd::detect() else {
        eprintln!("no AES-NI and SSSE3 on this CPU: SIMD S-box not tested");
        return;
    };
    for (name, kernel) in kernels() {
        let Kernel::Simd(simd) = kernel else {
            continue;
        };
        for start in (0..=255_u8).step_by(16) {
            // Each input once in ascending order, and once in a scrambled
            // order, so that every byte position sees several values.
            let ascending: [u8; 16] = std::array::from_fn(|i| start + i as u8);
            let scrambled: [u8; 16] = std::array::from_fn(|i| start + ((i * 7 + 3) % 16) as u8);
            let expected = [ascending, scrambled].map(|input| input.map(|x| SBOX[usize::from(x)]));
            assert_eq!(
                simd.sbox_bytes(ascending, scrambled),
                expected,
                "{name}, inputs from {start:#04x}"
            );
        }
    }
    assert!(simd.level() >= super::x86::Level::Ssse3Aes);
}

/// GB/T 32907-2016, appendix A: key and first plaintext.
const GBT_KEY: [u8; 16] = hex!("0123456789abcdeffedcba9876543210");

#[test]
fn every_kernel_passes_the_gbt32907_single_block_example() {
    for (name, kernel) in kernels() {
        let cipher = FastSm4::with_kernel(&GBT_KEY, kernel);
        let mut block = Block::from(GBT_KEY);
        cipher.encrypt_block(&mut block);
        assert_eq!(block.0, hex!("681edf34d206965e86b3e94f536e4246"), "{name}");
    }
}

#[test]
fn scalar_and_best_kernels_pass_the_gbt32907_million_encryptions_example() {
    // The chain is sequential: one block, encrypted 10^6 times. Run for the
    // scalar path and the kernel `FastSm4::new` picks on this machine; the
    // lower SIMD levels (each ~7 s in a debug build) are compared with the
    // `sm4` crate below instead.
    let mut chosen = vec![("scalar", Kernel::Scalar)];
    let best = Kernel::detect();
    if best != Kernel::Scalar {
        chosen.push(("best", best));
    }
    for (name, kernel) in chosen {
        let cipher = FastSm4::with_kernel(&GBT_KEY, kernel);
        let mut block = Block::from(GBT_KEY);
        for _ in 0..1_000_000 {
            cipher.encrypt_block(&mut block);
        }
        assert_eq!(block.0, hex!("595298c7c6fd271f0402f804c33d3f66"), "{name}");
    }
}

#[test]
fn debug_shows_no_round_keys() {
    let key = [0x5a_u8; 16];
    for (_, kernel) in kernels() {
        let cipher = FastSm4::with_kernel(&key, kernel);
        let rendered = format!("{cipher:?}");
        assert!(rendered.starts_with("FastSm4 { kernel: "), "{rendered}");
        for rk in cipher.round_keys {
            crate::test_support::assert_no_key_material(&rendered, &rk.to_be_bytes());
        }
        crate::test_support::assert_no_key_material(&rendered, &key);
    }
}

#[test]
fn round_keys_are_zeroized_on_drop() {
    fn wiped_on_drop<T: zeroize::ZeroizeOnDrop>() {}
    wiped_on_drop::<FastSm4>();
}

/// SM4-GCM as it was before our own SM4: `aes-gcm` over the `sm4` crate.
type ReferenceGcm = AesGcm<sm4::Sm4, U12>;

#[test]
fn sm4_gcm_over_every_kernel_matches_the_sm4_crate() {
    let key = hex!("0f1e2d3c4b5a69788796a5b4c3d2e1f0");
    let nonce = hex!("00112233445566778899aabb");
    let reference = ReferenceGcm::new(&key.into());
    let lengths = (0..300).chain([16 * 1024 - 1, 16 * 1024, 16 * 1024 + 17]);
    for (name, kernel) in kernels() {
        let gcm = AesGcm::<FastSm4, U12>::from(FastSm4::with_kernel(&key, kernel));
        for len in lengths.clone() {
            let plaintext: Vec<u8> = (0..len).map(|i| (i * 13 + len) as u8).collect();
            let payload = || Payload {
                msg: &plaintext[..],
                aad: b"aad",
            };
            let sealed = gcm.encrypt(&nonce.into(), payload()).unwrap();
            let expected = reference.encrypt(&nonce.into(), payload()).unwrap();
            assert_eq!(sealed, expected, "{name}, {len} bytes");
            let opened = gcm
                .decrypt(
                    &nonce.into(),
                    Payload {
                        msg: &sealed,
                        aad: b"aad",
                    },
                )
                .unwrap();
            assert_eq!(opened, plaintext, "{name}, {len} bytes");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_kernel_matches_the_sm4_crate(
        key in any::<[u8; 16]>(),
        blocks in proptest::collection::vec(any::<[u8; 16]>(), 1..=33),
    ) {
        let reference = sm4::Sm4::new(&key.into());
        let mut expected: Vec<sm4::cipher::Block<sm4::Sm4>> =
            blocks.iter().map(|&block| block.into()).collect();
        reference.encrypt_blocks(&mut expected);
        let expected: Vec<[u8; 16]> = expected.iter().map(|block| block.0).collect();

        for (name, kernel) in kernels() {
            let cipher = FastSm4::with_kernel(&key, kernel);
            prop_assert_eq!(cipher.round_keys, scalar::expand_key(&key), "{}", name);

            // In place, as many blocks at once as the kernel takes, then the tail.
            let mut in_place: Vec<Block> = blocks.iter().map(|&block| block.into()).collect();
            cipher.encrypt_blocks(&mut in_place);
            let in_place: Vec<[u8; 16]> = in_place.iter().map(|block| block.0).collect();
            prop_assert_eq!(&in_place, &expected, "{} in place", name);

            // From one buffer to another.
            let input: Vec<Block> = blocks.iter().map(|&block| block.into()).collect();
            let mut output = vec![Block::default(); input.len()];
            cipher.encrypt_blocks_b2b(&input, &mut output).unwrap();
            let output: Vec<[u8; 16]> = output.iter().map(|block| block.0).collect();
            prop_assert_eq!(&output, &expected, "{} buffer to buffer", name);

            // One block at a time.
            for (block, expected) in blocks.iter().zip(&expected) {
                let mut single = Block::from(*block);
                cipher.encrypt_block(&mut single);
                prop_assert_eq!(&single.0, expected, "{} one block", name);
            }
        }
    }
}
