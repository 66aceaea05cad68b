//! SM2 public-key cryptography (GB/T 32918-2016): digital signatures with SM3
//! and the signer's identity hash `Z_A` (part 2), and public-key encryption
//! (part 4) in the `C1 || C3 || C2` layout of GM/T 0009-2012, all on the
//! recommended 256-bit curve of part 5.
//!
//! Built on the RustCrypto `sm2` crate; this module fixes the choices that the
//! assessment cares about (hedged random `k`, default user id, ciphertext
//! order, uncompressed points) so callers cannot get them wrong.

use std::fmt;

use ::sm2::dsa::signature::RandomizedSigner;
use ::sm2::dsa::{self, Signature};
use ::sm2::elliptic_curve::Generate;
use ::sm2::elliptic_curve::sec1::ToSec1Point;
use ::sm2::pke::{DecryptingKey, EncryptingKey, Mode};
use ::sm2::{PublicKey, SecretKey};
use getrandom::SysRng;
use zeroize::{Zeroize, Zeroizing};

use crate::error::CryptoError;
use crate::random::OS_RNG_FAILED;

/// The default distinguishing identifier of a signer, `"1234567812345678"`,
/// fixed by GB/T 35276-2017 (SM2 usage specification) for when the parties
/// agree on no other. Pass it as `user_id` unless an interface specification
/// names another.
pub const DEFAULT_SM2_USER_ID: &str = "1234567812345678";

/// Length in bytes of an SM2 signature, `r || s`.
pub const SM2_SIGNATURE_LEN: usize = 64;

/// Length in bytes of an SM2 secret key (a scalar below the curve order).
pub const SM2_SECRET_KEY_LEN: usize = 32;

/// Longest user id GB/T 32918.2 can encode: its bit length `ENTL` is a 16-bit
/// field.
const MAX_USER_ID_LEN: usize = (u16::MAX / 8) as usize;

/// Length of an uncompressed SEC1 point, `04 || x || y`.
const UNCOMPRESSED_POINT_LEN: usize = 65;
/// Length of a compressed SEC1 point, `02|03 || x`.
const COMPRESSED_POINT_LEN: usize = 33;
/// Length of the SM3 check value `C3` in an SM2 ciphertext.
const C3_LEN: usize = 32;

/// Fresh random data is mixed into every signature's `k`; a failure can only
/// come from the OS RNG or from a `k` that GB/T 32918.2 step A5/A6 rejects
/// (probability about 2^-255), so a few attempts settle the second case.
const SIGN_ATTEMPTS: usize = 4;

/// An SM2 private key, used to sign and to decrypt.
///
/// The secret scalar is zeroized when the key is dropped, and `Debug` prints
/// only the public key. The key is deliberately not `Clone`: share it behind an
/// `Arc` instead of copying secret material.
pub struct Sm2SigningKey {
    secret: SecretKey,
    verifying_key: Sm2VerifyingKey,
}

impl Sm2SigningKey {
    /// Generates a new key pair from the operating system's CSPRNG.
    ///
    /// # Panics
    ///
    /// If the operating system's RNG fails.
    #[must_use]
    pub fn generate() -> Self {
        match SecretKey::try_generate_from_rng(&mut SysRng) {
            Ok(secret) => Self::from_secret(secret),
            Err(_) => panic!("{OS_RNG_FAILED}"),
        }
    }

    /// Restores a key from its 32-byte big-endian secret scalar, as returned by
    /// [`secret_bytes`](Self::secret_bytes).
    ///
    /// # Errors
    ///
    /// [`CryptoError::InvalidKey`] unless `bytes` is exactly 32 bytes encoding
    /// a scalar in `[1, n - 1]`.
    pub fn from_secret_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        if bytes.len() != SM2_SECRET_KEY_LEN {
            return Err(CryptoError::InvalidKey);
        }
        let secret = SecretKey::from_slice(bytes).map_err(|_| CryptoError::InvalidKey)?;
        Ok(Self::from_secret(secret))
    }

    fn from_secret(secret: SecretKey) -> Self {
        let verifying_key = Sm2VerifyingKey {
            public: secret.public_key(),
        };
        Self {
            secret,
            verifying_key,
        }
    }

    /// The 32-byte big-endian secret scalar, for sealing into a key store.
    /// The returned buffer is zeroized when dropped.
    #[must_use]
    pub fn secret_bytes(&self) -> Zeroizing<[u8; SM2_SECRET_KEY_LEN]> {
        let mut field_bytes = self.secret.to_bytes();
        let mut out = Zeroizing::new([0u8; SM2_SECRET_KEY_LEN]);
        out.copy_from_slice(&field_bytes);
        field_bytes.as_mut_slice().zeroize();
        out
    }

    /// The public half of this key.
    #[must_use]
    pub fn verifying_key(&self) -> Sm2VerifyingKey {
        self.verifying_key.clone()
    }

    /// Signs `message` as the signer identified by `user_id`
    /// (GB/T 32918.2-2016 §6.1): `e = SM3(Z_A || message)` with
    /// `Z_A = SM3(ENTL || user_id || a || b || x_G || y_G || x_A || y_A)`.
    /// Returns `r || s`, each 32 bytes big-endian.
    ///
    /// The per-signature `k` is hedged: derived as in RFC 6979 from the key and
    /// `e`, mixed with 32 fresh bytes from the OS CSPRNG, so signing the same
    /// message twice gives different signatures, and a weak RNG alone cannot
    /// leak the key.
    ///
    /// # Panics
    ///
    /// If `user_id` is longer than 8191 bytes (GB/T 32918.2 encodes its bit
    /// length in 16 bits), or the operating system's RNG fails.
    #[must_use]
    pub fn sign(&self, user_id: &str, message: &[u8]) -> [u8; SM2_SIGNATURE_LEN] {
        assert!(
            user_id.len() <= MAX_USER_ID_LEN,
            "SM2 user id longer than {MAX_USER_ID_LEN} bytes"
        );
        let signer = match dsa::SigningKey::new(user_id, &self.secret) {
            Ok(signer) => signer,
            // Infallible: `new` fails only when `Z_A` cannot be computed, i.e.
            // for a user id too long for ENTL, which the assert above excludes.
            Err(_) => unreachable!("SM2 user id within the ENTL limit"),
        };
        for _ in 0..SIGN_ATTEMPTS {
            if let Ok(signature) = signer.try_sign_with_rng(&mut SysRng, message) {
                return signature.to_bytes().into();
            }
        }
        panic!("{OS_RNG_FAILED}");
    }
}

impl fmt::Debug for Sm2SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sm2SigningKey")
            .field("verifying_key", &self.verifying_key)
            .finish_non_exhaustive()
    }
}

/// An SM2 public key, used to verify signatures and to encrypt.
///
/// Always a valid point of the SM2 curve other than the point at infinity:
/// every constructor checks it.
#[derive(Clone, PartialEq, Eq)]
pub struct Sm2VerifyingKey {
    public: PublicKey,
}

impl Sm2VerifyingKey {
    pub(crate) fn from_public(public: PublicKey) -> Self {
        Self { public }
    }

    pub(crate) fn as_public(&self) -> &PublicKey {
        &self.public
    }

    /// Parses a SEC1 / GB/T 32918.1 encoded point: 65 bytes uncompressed
    /// (`04 || x || y`) or 33 bytes compressed (`02|03 || x`).
    ///
    /// # Errors
    ///
    /// [`CryptoError::InvalidKey`] for any other length or prefix, or if the
    /// point is not on the SM2 curve.
    pub fn from_sec1_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        let well_formed = matches!(
            (bytes.len(), bytes.first()),
            (UNCOMPRESSED_POINT_LEN, Some(0x04)) | (COMPRESSED_POINT_LEN, Some(0x02 | 0x03))
        );
        if !well_formed {
            return Err(CryptoError::InvalidKey);
        }
        let public = PublicKey::from_sec1_bytes(bytes).map_err(|_| CryptoError::InvalidKey)?;
        Ok(Self { public })
    }

    /// The 65-byte uncompressed encoding `04 || x || y`, the form GM/T 0009 and
    /// most 国密 interfaces exchange.
    #[must_use]
    pub fn to_sec1_bytes(&self) -> Vec<u8> {
        self.public.to_sec1_point(false).as_bytes().to_vec()
    }

    /// Lower-case hex of [`to_sec1_bytes`](Self::to_sec1_bytes) (130 characters).
    #[must_use]
    pub fn to_hex(&self) -> String {
        hex::encode(self.to_sec1_bytes())
    }

    /// Parses hex (either case) of a 65- or 33-byte SEC1 point.
    ///
    /// # Errors
    ///
    /// [`CryptoError::Malformed`] if `s` is not hex, otherwise as
    /// [`from_sec1_bytes`](Self::from_sec1_bytes).
    pub fn from_hex(s: &str) -> Result<Self, CryptoError> {
        let bytes =
            hex::decode(s).map_err(|_| CryptoError::Malformed("SM2 public key must be hex"))?;
        Self::from_sec1_bytes(&bytes)
    }

    /// Verifies an `r || s` signature over `message` by the signer identified
    /// by `user_id` (GB/T 32918.2-2016 §7.1).
    ///
    /// # Errors
    ///
    /// - [`CryptoError::Malformed`] if `signature` is not 64 bytes, or
    ///   `user_id` is longer than 8191 bytes.
    /// - [`CryptoError::InvalidSignature`] if `r` or `s` is outside
    ///   `[1, n - 1]`, or the signature does not match this key, user id and
    ///   message.
    pub fn verify(
        &self,
        user_id: &str,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), CryptoError> {
        if signature.len() != SM2_SIGNATURE_LEN {
            return Err(CryptoError::Malformed(
                "SM2 signature must be 64 bytes (r || s)",
            ));
        }
        if user_id.len() > MAX_USER_ID_LEN {
            return Err(CryptoError::Malformed("SM2 user id longer than 8191 bytes"));
        }
        let signature =
            Signature::from_slice(signature).map_err(|_| CryptoError::InvalidSignature)?;
        let verifier = dsa::VerifyingKey::new(user_id, self.public)
            .map_err(|_| CryptoError::Malformed("SM2 user id longer than 8191 bytes"))?;
        dsa::signature::Verifier::verify(&verifier, message, &signature)
            .map_err(|_| CryptoError::InvalidSignature)
    }
}

impl fmt::Debug for Sm2VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Sm2VerifyingKey")
            .field(&self.to_hex())
            .finish()
    }
}

/// Encrypts `plaintext` to `recipient` (GB/T 32918.4-2016) and returns
/// `C1 || C3 || C2`: the 65-byte uncompressed point `C1 = [k]G`, the 32-byte
/// SM3 check value `C3`, then `C2`, as long as the plaintext.
///
/// This is the component order of GM/T 0009-2012; the older `C1 || C2 || C3`
/// order is neither produced nor accepted. The output is 97 bytes longer than
/// the plaintext. SM2 encryption suits short secrets (keys, PINs); encrypt bulk
/// data with [`Sm4Gcm`](crate::Sm4Gcm) and SM2-encrypt only its key.
///
/// # Errors
///
/// - [`CryptoError::Malformed`] if `plaintext` is empty (GB/T 32918.4 has no
///   encoding for it).
/// - [`CryptoError::RandomnessUnavailable`] if the OS RNG fails.
pub fn sm2_encrypt(recipient: &Sm2VerifyingKey, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if plaintext.is_empty() {
        return Err(CryptoError::Malformed("SM2 plaintext must not be empty"));
    }
    EncryptingKey::new_with_mode(recipient.public, Mode::C1C3C2)
        .encrypt(&mut SysRng, plaintext)
        // With a non-empty plaintext and a validated public key, the only
        // remaining failure is drawing `k` from the OS RNG.
        .map_err(|_| CryptoError::RandomnessUnavailable)
}

/// Decrypts a `C1 || C3 || C2` ciphertext produced by [`sm2_encrypt`] (or by
/// any GB/T 32918.4 implementation using that order with an uncompressed
/// `C1`).
///
/// # Errors
///
/// [`CryptoError::DecryptionFailed`] whatever the cause: too short, `C1` not an
/// uncompressed curve point, or the `C3` check failing (wrong key or tampered
/// data). No partial plaintext is released.
pub fn sm2_decrypt(key: &Sm2SigningKey, ciphertext: &[u8]) -> Result<Vec<u8>, CryptoError> {
    // `C1` must be uncompressed and `C2` non-empty; the sm2 crate would also
    // take a compressed `C1` or an empty `C2`, neither of which we produce.
    if ciphertext.len() <= UNCOMPRESSED_POINT_LEN + C3_LEN || ciphertext[0] != 0x04 {
        return Err(CryptoError::DecryptionFailed);
    }
    DecryptingKey::new_with_mode(key.secret.to_nonzero_scalar(), Mode::C1C3C2)
        .decrypt(ciphertext)
        .map_err(|_| CryptoError::DecryptionFailed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_round_trip_with_default_user_id() {
        let key = Sm2SigningKey::generate();
        let signature = key.sign(DEFAULT_SM2_USER_ID, b"consent 2024-001");
        assert_eq!(
            key.verifying_key()
                .verify(DEFAULT_SM2_USER_ID, b"consent 2024-001", &signature),
            Ok(())
        );
    }

    #[test]
    fn signatures_are_randomised() {
        let key = Sm2SigningKey::generate();
        let first = key.sign(DEFAULT_SM2_USER_ID, b"same message");
        let second = key.sign(DEFAULT_SM2_USER_ID, b"same message");
        assert_ne!(first, second);
        let public = key.verifying_key();
        assert!(
            public
                .verify(DEFAULT_SM2_USER_ID, b"same message", &first)
                .is_ok()
        );
        assert!(
            public
                .verify(DEFAULT_SM2_USER_ID, b"same message", &second)
                .is_ok()
        );
    }

    #[test]
    fn wrong_user_id_is_rejected() {
        let key = Sm2SigningKey::generate();
        let signature = key.sign("alice@bank.example", b"message");
        assert!(
            key.verifying_key()
                .verify("alice@bank.example", b"message", &signature)
                .is_ok()
        );
        assert_eq!(
            key.verifying_key()
                .verify(DEFAULT_SM2_USER_ID, b"message", &signature),
            Err(CryptoError::InvalidSignature)
        );
    }

    #[test]
    fn wrong_message_is_rejected() {
        let key = Sm2SigningKey::generate();
        let signature = key.sign(DEFAULT_SM2_USER_ID, b"amount=100");
        assert_eq!(
            key.verifying_key()
                .verify(DEFAULT_SM2_USER_ID, b"amount=900", &signature),
            Err(CryptoError::InvalidSignature)
        );
    }

    #[test]
    fn wrong_key_is_rejected() {
        let signature = Sm2SigningKey::generate().sign(DEFAULT_SM2_USER_ID, b"message");
        assert_eq!(
            Sm2SigningKey::generate().verifying_key().verify(
                DEFAULT_SM2_USER_ID,
                b"message",
                &signature
            ),
            Err(CryptoError::InvalidSignature)
        );
    }

    #[test]
    fn tampered_signature_is_rejected() {
        let key = Sm2SigningKey::generate();
        let signature = key.sign(DEFAULT_SM2_USER_ID, b"message");
        for index in [0, 31, 32, 63] {
            let mut tampered = signature;
            tampered[index] ^= 0x01;
            assert_eq!(
                key.verifying_key()
                    .verify(DEFAULT_SM2_USER_ID, b"message", &tampered),
                Err(CryptoError::InvalidSignature),
                "byte {index} flipped"
            );
        }
    }

    #[test]
    fn out_of_range_signature_scalars_are_rejected() {
        let public = Sm2SigningKey::generate().verifying_key();
        // r = 0 and r = 2^256 - 1 (above the order n) are outside [1, n - 1].
        let mut zero_r = [0x11u8; 64];
        zero_r[..32].fill(0);
        let mut huge_s = [0x11u8; 64];
        huge_s[32..].fill(0xff);
        for signature in [zero_r, huge_s] {
            assert_eq!(
                public.verify(DEFAULT_SM2_USER_ID, b"message", &signature),
                Err(CryptoError::InvalidSignature)
            );
        }
    }

    #[test]
    fn signature_of_wrong_length_is_malformed() {
        let key = Sm2SigningKey::generate();
        let signature = key.sign(DEFAULT_SM2_USER_ID, b"message");
        assert!(matches!(
            key.verifying_key()
                .verify(DEFAULT_SM2_USER_ID, b"message", &signature[..63]),
            Err(CryptoError::Malformed(_))
        ));
        assert!(matches!(
            key.verifying_key()
                .verify(DEFAULT_SM2_USER_ID, b"message", &[]),
            Err(CryptoError::Malformed(_))
        ));
    }

    #[test]
    fn over_long_user_id_is_malformed_on_verify() {
        let key = Sm2SigningKey::generate();
        let signature = key.sign(DEFAULT_SM2_USER_ID, b"message");
        let long_id = "x".repeat(MAX_USER_ID_LEN + 1);
        assert!(matches!(
            key.verifying_key().verify(&long_id, b"message", &signature),
            Err(CryptoError::Malformed(_))
        ));
    }

    #[test]
    fn longest_user_id_signs_and_verifies() {
        let key = Sm2SigningKey::generate();
        let longest = "y".repeat(MAX_USER_ID_LEN);
        let signature = key.sign(&longest, b"message");
        assert!(
            key.verifying_key()
                .verify(&longest, b"message", &signature)
                .is_ok()
        );
    }

    #[test]
    #[should_panic(expected = "SM2 user id longer than")]
    fn over_long_user_id_panics_on_sign() {
        let _ = Sm2SigningKey::generate().sign(&"x".repeat(MAX_USER_ID_LEN + 1), b"message");
    }

    #[test]
    fn secret_bytes_restore_the_same_key() {
        let key = Sm2SigningKey::generate();
        let restored = Sm2SigningKey::from_secret_bytes(key.secret_bytes().as_ref()).unwrap();
        assert_eq!(restored.verifying_key(), key.verifying_key());
        let signature = restored.sign(DEFAULT_SM2_USER_ID, b"message");
        assert!(
            key.verifying_key()
                .verify(DEFAULT_SM2_USER_ID, b"message", &signature)
                .is_ok()
        );
    }

    #[test]
    fn invalid_secret_bytes_are_rejected() {
        // Zero, the curve order n itself, all-ones (above n), and wrong lengths.
        let order = hex::decode("fffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123")
            .unwrap();
        for bytes in [
            vec![0u8; 32],
            order,
            vec![0xff; 32],
            vec![1u8; 31],
            vec![1u8; 33],
            vec![],
        ] {
            assert_eq!(
                Sm2SigningKey::from_secret_bytes(&bytes).err(),
                Some(CryptoError::InvalidKey),
                "{} bytes",
                bytes.len()
            );
        }
    }

    #[test]
    fn public_key_encodings_round_trip() {
        let public = Sm2SigningKey::generate().verifying_key();
        let sec1 = public.to_sec1_bytes();
        assert_eq!(sec1.len(), 65);
        assert_eq!(sec1[0], 0x04);
        assert_eq!(Sm2VerifyingKey::from_sec1_bytes(&sec1).unwrap(), public);

        let hex = public.to_hex();
        assert_eq!(hex.len(), 130);
        assert_eq!(Sm2VerifyingKey::from_hex(&hex).unwrap(), public);
        assert_eq!(
            Sm2VerifyingKey::from_hex(&hex.to_uppercase()).unwrap(),
            public
        );

        let compressed = public.public.to_sec1_point(true);
        assert_eq!(compressed.as_bytes().len(), 33);
        assert_eq!(
            Sm2VerifyingKey::from_sec1_bytes(compressed.as_bytes()).unwrap(),
            public
        );
    }

    #[test]
    fn invalid_public_keys_are_rejected() {
        let sec1 = Sm2SigningKey::generate().verifying_key().to_sec1_bytes();

        let mut off_curve = sec1.clone();
        off_curve[64] ^= 0x01;
        let mut wrong_prefix = sec1.clone();
        wrong_prefix[0] = 0x02;
        for bytes in [
            off_curve,
            wrong_prefix,
            sec1[1..].to_vec(),
            vec![0x00],
            vec![],
        ] {
            assert_eq!(
                Sm2VerifyingKey::from_sec1_bytes(&bytes).err(),
                Some(CryptoError::InvalidKey),
                "{} bytes",
                bytes.len()
            );
        }
        assert!(matches!(
            Sm2VerifyingKey::from_hex("not hex"),
            Err(CryptoError::Malformed(_))
        ));
    }

    #[test]
    fn secret_scalar_is_zeroized_on_drop() {
        // Compile-time check: the long-lived copy of the secret lives in a
        // `SecretKey`, which wipes itself when dropped.
        fn wiped_on_drop<T: zeroize::ZeroizeOnDrop>() {}
        wiped_on_drop::<SecretKey>();
    }

    #[test]
    fn debug_prints_only_the_public_key() {
        let key = Sm2SigningKey::generate();
        let secret_hex = hex::encode(key.secret_bytes().as_ref());
        let rendered = format!("{key:?}");
        assert!(rendered.contains(&key.verifying_key().to_hex()));
        assert!(!rendered.to_lowercase().contains(&secret_hex));
    }

    #[test]
    fn encrypt_decrypt_round_trip() {
        let key = Sm2SigningKey::generate();
        let ciphertext = sm2_encrypt(&key.verifying_key(), b"SM4 data key 16B").unwrap();
        assert_eq!(ciphertext.len(), 97 + 16);
        assert_eq!(ciphertext[0], 0x04);
        assert_eq!(sm2_decrypt(&key, &ciphertext).unwrap(), b"SM4 data key 16B");
    }

    #[test]
    fn encryption_is_randomised() {
        let public = Sm2SigningKey::generate().verifying_key();
        assert_ne!(
            sm2_encrypt(&public, b"same").unwrap(),
            sm2_encrypt(&public, b"same").unwrap()
        );
    }

    #[test]
    fn c1_c2_c3_order_is_not_accepted() {
        // The same ciphertext re-ordered to the pre-2012 C1 || C2 || C3 layout
        // must not decrypt: the order is part of the format, not a guess.
        let key = Sm2SigningKey::generate();
        let plaintext = [0xabu8; 40];
        let ciphertext = sm2_encrypt(&key.verifying_key(), &plaintext).unwrap();
        let (c1, rest) = ciphertext.split_at(65);
        let (c3, c2) = rest.split_at(32);
        assert_eq!(c2.len(), plaintext.len());
        let reordered = [c1, c2, c3].concat();
        assert_eq!(
            sm2_decrypt(&key, &reordered),
            Err(CryptoError::DecryptionFailed)
        );
        assert_eq!(sm2_decrypt(&key, &ciphertext).unwrap(), plaintext);
    }

    #[test]
    fn tampered_ciphertext_is_rejected() {
        let key = Sm2SigningKey::generate();
        let ciphertext = sm2_encrypt(&key.verifying_key(), b"secret pin 123456").unwrap();
        // A byte of C1's y coordinate, of C3, and of C2.
        for index in [64, 65, 96, 97, ciphertext.len() - 1] {
            let mut tampered = ciphertext.clone();
            tampered[index] ^= 0x01;
            assert_eq!(
                sm2_decrypt(&key, &tampered),
                Err(CryptoError::DecryptionFailed),
                "byte {index} flipped"
            );
        }
    }

    #[test]
    fn wrong_key_or_short_input_fails_to_decrypt() {
        let ciphertext =
            sm2_encrypt(&Sm2SigningKey::generate().verifying_key(), b"secret").unwrap();
        assert_eq!(
            sm2_decrypt(&Sm2SigningKey::generate(), &ciphertext),
            Err(CryptoError::DecryptionFailed)
        );
        let key = Sm2SigningKey::generate();
        for len in [0, 1, 65, 97] {
            assert_eq!(
                sm2_decrypt(&key, &ciphertext[..len]),
                Err(CryptoError::DecryptionFailed),
                "{len} bytes"
            );
        }
    }

    #[test]
    fn empty_plaintext_cannot_be_encrypted() {
        let public = Sm2SigningKey::generate().verifying_key();
        assert!(matches!(
            sm2_encrypt(&public, b""),
            Err(CryptoError::Malformed(_))
        ));
    }
}
