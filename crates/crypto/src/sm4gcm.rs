//! SM4 (GB/T 32907-2016) in Galois/Counter Mode (NIST SP 800-38D), the
//! `SM4-GCM` AEAD of RFC 8998 and GB/T 36624-2018 (the standard listing the
//! modes for authenticated encryption with SM4).
//!
//! The GCM construction is the generic one of the RustCrypto `aes-gcm` crate
//! (GHASH with carry-less multiplication where the CPU has it), instantiated
//! with this crate's SM4 block cipher [`FastSm4`]. On x86_64 CPUs with AES-NI
//! and SSSE3, `FastSm4` computes the SM4 S-box with the AES instruction (or
//! with GFNI where present) and encrypts 8 or 16 counter blocks per call (16
//! with AVX2); on other CPUs it runs the portable algorithm. See the
//! `sm4fast` module for how the kernel works and is verified.
//!
//! The result reproduces the RFC 8998 vector byte for byte (see
//! `tests/official_vectors.rs`), and the tests compare it with `aes-gcm` over
//! the RustCrypto `sm4` crate, the implementation it replaced, byte for byte.

use aes_gcm::AesGcm;
use aes_gcm::aead::consts::U12;
use aes_gcm::aead::{Aead, KeyInit, Payload};

use crate::error::CryptoError;
use crate::random::random_bytes;
use crate::sm4fast::FastSm4;

/// SM4-GCM with a 96-bit nonce and a 128-bit tag.
type Sm4GcmCipher = AesGcm<FastSm4, U12>;

/// Length in bytes of an SM4 key.
pub const SM4_KEY_LEN: usize = 16;
/// Length in bytes of an SM4-GCM nonce.
pub const SM4_GCM_NONCE_LEN: usize = 12;
/// Length in bytes of an SM4-GCM authentication tag.
pub const SM4_GCM_TAG_LEN: usize = 16;

/// Longest plaintext GCM can protect under one nonce: 2^36 - 32 bytes
/// (NIST SP 800-38D §5.2.1.1).
const MAX_PLAINTEXT_LEN: u64 = (1 << 36) - 32;

/// An SM4-GCM key, ready to seal and open messages.
///
/// Holds only the expanded SM4 round keys and the GHASH key; both are zeroized
/// when the value is dropped, and `Debug` prints no key material.
///
/// # Nonces
///
/// A (key, nonce) pair must never seal two different messages: doing so leaks
/// the XOR of the plaintexts and lets anyone forge tags. Prefer
/// [`seal_with_random_nonce`](Self::seal_with_random_nonce), which draws a fresh
/// 96-bit nonce from the OS CSPRNG; NIST SP 800-38D §8.3 bounds random nonces
/// to 2^32 messages per key, after which the key must be rotated.
pub struct Sm4Gcm {
    cipher: Sm4GcmCipher,
}

impl Sm4Gcm {
    /// Prepares `key` for sealing and opening. The caller's copy of the key is
    /// left untouched; zeroizing it is the caller's business.
    #[must_use]
    pub fn new(key: &[u8; SM4_KEY_LEN]) -> Self {
        Self {
            cipher: Sm4GcmCipher::new(key.into()),
        }
    }

    /// Encrypts and authenticates `plaintext`, and authenticates `aad`, under
    /// `nonce`. Returns `ciphertext || 16-byte tag`.
    ///
    /// `aad` is bound to the result but not encrypted: use it for context the
    /// reader already knows (record id, column name, key version), so a
    /// ciphertext cannot be replayed into another place.
    ///
    /// # Panics
    ///
    /// If `plaintext` is longer than GCM's limit of 2^36 - 32 bytes (64 GiB).
    #[must_use]
    pub fn seal(&self, nonce: &[u8; SM4_GCM_NONCE_LEN], aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        assert!(
            u64::try_from(plaintext.len()).is_ok_and(|len| len <= MAX_PLAINTEXT_LEN),
            "SM4-GCM plaintext longer than 2^36 - 32 bytes"
        );
        match self.cipher.encrypt(
            nonce.into(),
            Payload {
                msg: plaintext,
                aad,
            },
        ) {
            Ok(sealed) => sealed,
            // Infallible: GCM refuses only plaintext over 2^36 - 32 bytes
            // (asserted above) or AAD over 2^61 - 1 bytes, more than any
            // address space can hold.
            Err(_) => unreachable!("SM4-GCM input within the GCM length limits"),
        }
    }

    /// Checks and decrypts `sealed` (`ciphertext || tag`, as produced by
    /// [`seal`](Self::seal)) under `nonce` and `aad`.
    ///
    /// # Errors
    ///
    /// [`CryptoError::DecryptionFailed`] if the input is shorter than a tag, or
    /// if the tag does not match because the ciphertext, tag, nonce, AAD or key
    /// differ from those used to seal. No plaintext is released in that case.
    pub fn open(
        &self,
        nonce: &[u8; SM4_GCM_NONCE_LEN],
        aad: &[u8],
        sealed: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        if sealed.len() < SM4_GCM_TAG_LEN {
            return Err(CryptoError::DecryptionFailed);
        }
        self.cipher
            .decrypt(nonce.into(), Payload { msg: sealed, aad })
            .map_err(|_| CryptoError::DecryptionFailed)
    }

    /// Seals `plaintext` under a fresh random nonce and returns
    /// `nonce (12 bytes) || ciphertext || tag (16 bytes)`, a self-contained
    /// value to store or send. Open it with
    /// [`open_with_nonce_prefix`](Self::open_with_nonce_prefix).
    ///
    /// # Panics
    ///
    /// If the operating system's RNG fails, or `plaintext` is longer than
    /// 2^36 - 32 bytes.
    #[must_use]
    pub fn seal_with_random_nonce(&self, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let nonce = random_bytes::<SM4_GCM_NONCE_LEN>();
        let sealed = self.seal(&nonce, aad, plaintext);
        let mut out = Vec::with_capacity(SM4_GCM_NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// Opens a value produced by
    /// [`seal_with_random_nonce`](Self::seal_with_random_nonce):
    /// `nonce || ciphertext || tag`.
    ///
    /// # Errors
    ///
    /// [`CryptoError::DecryptionFailed`] if `data` is shorter than nonce plus
    /// tag (28 bytes) or does not authenticate under this key and `aad`.
    pub fn open_with_nonce_prefix(&self, aad: &[u8], data: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let Some((nonce, sealed)) = data.split_first_chunk::<SM4_GCM_NONCE_LEN>() else {
            return Err(CryptoError::DecryptionFailed);
        };
        self.open(nonce, aad, sealed)
    }
}

impl std::fmt::Debug for Sm4Gcm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sm4Gcm").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const KEY: [u8; 16] = [0x42; 16];
    const NONCE: [u8; 12] = [0x24; 12];

    #[test]
    fn round_trip_with_explicit_nonce() {
        let gcm = Sm4Gcm::new(&KEY);
        let sealed = gcm.seal(&NONCE, b"citizen:42", b"110101199003071234");
        assert_eq!(sealed.len(), 18 + SM4_GCM_TAG_LEN);
        assert_eq!(
            gcm.open(&NONCE, b"citizen:42", &sealed).unwrap(),
            b"110101199003071234"
        );
    }

    #[test]
    fn empty_plaintext_still_gets_a_tag() {
        let gcm = Sm4Gcm::new(&KEY);
        let sealed = gcm.seal(&NONCE, b"aad", b"");
        assert_eq!(sealed.len(), SM4_GCM_TAG_LEN);
        assert_eq!(gcm.open(&NONCE, b"aad", &sealed).unwrap(), b"");
        assert_eq!(
            gcm.open(&NONCE, b"other", &sealed),
            Err(CryptoError::DecryptionFailed)
        );
    }

    #[test]
    fn tampered_ciphertext_is_rejected() {
        let gcm = Sm4Gcm::new(&KEY);
        let mut sealed = gcm.seal(&NONCE, b"aad", b"transfer 100.00 CNY");
        sealed[3] ^= 0x01;
        assert_eq!(
            gcm.open(&NONCE, b"aad", &sealed),
            Err(CryptoError::DecryptionFailed)
        );
    }

    #[test]
    fn tampered_tag_is_rejected() {
        let gcm = Sm4Gcm::new(&KEY);
        let mut sealed = gcm.seal(&NONCE, b"aad", b"transfer 100.00 CNY");
        let last = sealed.len() - 1;
        sealed[last] ^= 0x80;
        assert_eq!(
            gcm.open(&NONCE, b"aad", &sealed),
            Err(CryptoError::DecryptionFailed)
        );
    }

    #[test]
    fn other_aad_is_rejected() {
        let gcm = Sm4Gcm::new(&KEY);
        let sealed = gcm.seal(&NONCE, b"citizen:42", b"secret");
        assert_eq!(
            gcm.open(&NONCE, b"citizen:43", &sealed),
            Err(CryptoError::DecryptionFailed)
        );
        assert_eq!(
            gcm.open(&NONCE, b"", &sealed),
            Err(CryptoError::DecryptionFailed)
        );
    }

    #[test]
    fn other_nonce_is_rejected() {
        let gcm = Sm4Gcm::new(&KEY);
        let sealed = gcm.seal(&NONCE, b"aad", b"secret");
        let mut nonce = NONCE;
        nonce[11] ^= 0x01;
        assert_eq!(
            gcm.open(&nonce, b"aad", &sealed),
            Err(CryptoError::DecryptionFailed)
        );
    }

    #[test]
    fn other_key_is_rejected() {
        let sealed = Sm4Gcm::new(&KEY).seal(&NONCE, b"aad", b"secret");
        let mut key = KEY;
        key[0] ^= 0x01;
        assert_eq!(
            Sm4Gcm::new(&key).open(&NONCE, b"aad", &sealed),
            Err(CryptoError::DecryptionFailed)
        );
    }

    #[test]
    fn truncated_input_is_rejected() {
        let gcm = Sm4Gcm::new(&KEY);
        let sealed = gcm.seal(&NONCE, b"aad", b"secret");
        for len in 0..sealed.len() {
            assert_eq!(
                gcm.open(&NONCE, b"aad", &sealed[..len]),
                Err(CryptoError::DecryptionFailed),
                "prefix of {len} bytes"
            );
        }
    }

    #[test]
    fn random_nonce_round_trip_and_layout() {
        let gcm = Sm4Gcm::new(&KEY);
        let data = gcm.seal_with_random_nonce(b"aad", b"plaintext");
        assert_eq!(data.len(), SM4_GCM_NONCE_LEN + 9 + SM4_GCM_TAG_LEN);
        // The prefix really is the nonce the body was sealed under.
        let (nonce, sealed) = data.split_first_chunk::<SM4_GCM_NONCE_LEN>().unwrap();
        assert_eq!(gcm.open(nonce, b"aad", sealed).unwrap(), b"plaintext");
        assert_eq!(
            gcm.open_with_nonce_prefix(b"aad", &data).unwrap(),
            b"plaintext"
        );
    }

    #[test]
    fn random_nonces_differ_between_seals() {
        let gcm = Sm4Gcm::new(&KEY);
        let a = gcm.seal_with_random_nonce(b"", b"same");
        let b = gcm.seal_with_random_nonce(b"", b"same");
        assert_ne!(a[..SM4_GCM_NONCE_LEN], b[..SM4_GCM_NONCE_LEN]);
        assert_ne!(a, b);
    }

    #[test]
    fn nonce_prefixed_tampering_is_rejected() {
        let gcm = Sm4Gcm::new(&KEY);
        let data = gcm.seal_with_random_nonce(b"aad", b"plaintext");
        for index in [0, SM4_GCM_NONCE_LEN, data.len() - 1] {
            let mut tampered = data.clone();
            tampered[index] ^= 0x01;
            assert_eq!(
                gcm.open_with_nonce_prefix(b"aad", &tampered),
                Err(CryptoError::DecryptionFailed),
                "byte {index} flipped"
            );
        }
        assert_eq!(
            gcm.open_with_nonce_prefix(b"aad", &data[..SM4_GCM_NONCE_LEN + SM4_GCM_TAG_LEN - 1]),
            Err(CryptoError::DecryptionFailed)
        );
        assert_eq!(
            gcm.open_with_nonce_prefix(b"aad", &[]),
            Err(CryptoError::DecryptionFailed)
        );
    }

    #[test]
    fn key_schedule_is_zeroized_on_drop() {
        // Compile-time check: the SM4 round keys and the GHASH key are wiped
        // when an `Sm4Gcm` is dropped (`FastSm4` zeroizes its round keys; the
        // GHASH key needs aes-gcm's `zeroize` feature, and dropping it breaks
        // this test's build).
        fn wiped_on_drop<T: zeroize::ZeroizeOnDrop>() {}
        wiped_on_drop::<Sm4GcmCipher>();
    }

    #[test]
    fn debug_shows_no_key_material() {
        let rendered = format!("{:?}", Sm4Gcm::new(&KEY));
        assert_eq!(rendered, "Sm4Gcm { .. }");
    }

    /// SM4-GCM as it was before our own SM4: `aes-gcm` over the `sm4` crate.
    type ReferenceGcm = AesGcm<sm4::Sm4, U12>;

    /// A message of `len` bytes that differs from position to position.
    fn message(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 + 7) as u8).collect()
    }

    /// Seals `plaintext` with `Sm4Gcm` and with the reference, checks that both
    /// give the same bytes and that each opens the other's output.
    fn assert_same_as_reference(key: &[u8; 16], nonce: &[u8; 12], aad: &[u8], plaintext: &[u8]) {
        let gcm = Sm4Gcm::new(key);
        let reference = ReferenceGcm::new(key.into());
        let sealed = gcm.seal(nonce, aad, plaintext);
        let expected = reference
            .encrypt(
                nonce.into(),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .unwrap();
        assert_eq!(sealed, expected, "{} bytes", plaintext.len());
        assert_eq!(gcm.open(nonce, aad, &expected).unwrap(), plaintext);
        let reopened = reference
            .decrypt(nonce.into(), Payload { msg: &sealed, aad })
            .unwrap();
        assert_eq!(reopened, plaintext);
    }

    #[test]
    fn every_length_up_to_300_bytes_matches_the_sm4_crate() {
        for len in 0..300 {
            assert_same_as_reference(&KEY, &NONCE, b"citizen:42", &message(len));
        }
    }

    #[test]
    fn sixteen_kib_match_the_sm4_crate() {
        for len in [16 * 1024 - 1, 16 * 1024, 16 * 1024 + 5] {
            assert_same_as_reference(&KEY, &NONCE, b"", &message(len));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn any_message_matches_the_sm4_crate(
            key in any::<[u8; 16]>(),
            nonce in any::<[u8; 12]>(),
            aad in proptest::collection::vec(any::<u8>(), 0..40),
            plaintext in proptest::collection::vec(any::<u8>(), 0..700),
        ) {
            assert_same_as_reference(&key, &nonce, &aad, &plaintext);
        }

        #[test]
        fn any_message_round_trips(
            key in any::<[u8; 16]>(),
            aad in proptest::collection::vec(any::<u8>(), 0..64),
            plaintext in proptest::collection::vec(any::<u8>(), 0..300),
        ) {
            let gcm = Sm4Gcm::new(&key);
            let data = gcm.seal_with_random_nonce(&aad, &plaintext);
            prop_assert_eq!(gcm.open_with_nonce_prefix(&aad, &data).unwrap(), plaintext);
        }

        #[test]
        fn any_single_bit_flip_is_rejected(
            plaintext in proptest::collection::vec(any::<u8>(), 0..100),
            position in any::<prop::sample::Index>(),
            bit in 0u8..8,
        ) {
            let gcm = Sm4Gcm::new(&KEY);
            let mut data = gcm.seal_with_random_nonce(b"aad", &plaintext);
            let index = position.index(data.len());
            data[index] ^= 1 << bit;
            prop_assert_eq!(
                gcm.open_with_nonce_prefix(b"aad", &data),
                Err(CryptoError::DecryptionFailed)
            );
        }
    }
}
