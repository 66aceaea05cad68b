//! Ephemeral Diffie-Hellman on the SM2 curve (GB/T 32918.5), with the shared
//! secret turned into keys by HKDF (RFC 5869) over HMAC-SM3.
//!
//! This is the building block of an *authenticated* key agreement: the two
//! ephemeral public keys must be bound to their owners by some other means
//! (in the exchange protocol, each side SM2-signs the message carrying its
//! ephemeral key). On its own, an ephemeral exchange is open to a man in the
//! middle.
//!
//! It is not the SM2 key-exchange protocol of GB/T 32918.3, which
//! authenticates implicitly with both parties' static keys; that protocol has
//! no well-kept Rust implementation, and a signed ephemeral exchange gives the
//! same guarantees (plus forward secrecy) from parts that have one. Built on
//! the RustCrypto `elliptic-curve` ECDH and HKDF.

use std::fmt;

use ::sm2::elliptic_curve::Generate;
use ::sm2::elliptic_curve::ecdh::EphemeralSecret;
use ::sm2::{PublicKey, Sm2};
use getrandom::SysRng;
use sm3::Sm3;

use crate::error::CryptoError;
use crate::random::OS_RNG_FAILED;
use crate::sm2::Sm2VerifyingKey;

/// Longest key material one agreement can derive (HKDF-SM3's limit,
/// 255 × 32 bytes).
pub const SM2_ECDH_MAX_OKM: usize = 255 * 32;

/// One side's ephemeral SM2 key pair for a single key agreement.
///
/// The secret scalar never leaves it and is zeroized when it is dropped;
/// [`agree`](Self::agree) consumes it, so it serves exactly one agreement
/// (which is what gives forward secrecy). `Debug` shows the public key only.
pub struct Sm2Ephemeral {
    secret: EphemeralSecret<Sm2>,
    public: PublicKey,
}

impl Sm2Ephemeral {
    /// A fresh key pair from the operating system's CSPRNG.
    ///
    /// # Panics
    ///
    /// If the operating system's RNG fails.
    #[must_use]
    pub fn generate() -> Self {
        match EphemeralSecret::<Sm2>::try_generate_from_rng(&mut SysRng) {
            Ok(secret) => {
                let public = secret.public_key();
                Self { secret, public }
            }
            Err(_) => panic!("{OS_RNG_FAILED}"),
        }
    }

    /// The public half, to send to the peer.
    #[must_use]
    pub fn public_key(&self) -> Sm2VerifyingKey {
        Sm2VerifyingKey::from_public(self.public)
    }

    /// Agrees on a secret with `peer` (the x-coordinate of this secret times
    /// the peer's point), and fills `okm` with `HKDF-SM3(salt, secret, info)`.
    ///
    /// Both sides must pass the same `salt` and `info`; put everything the
    /// keys should be bound to (both identities, both public keys, a session
    /// identifier) into `info`.
    ///
    /// # Errors
    ///
    /// [`CryptoError::Malformed`] if `okm` is empty or longer than
    /// [`SM2_ECDH_MAX_OKM`]. (The peer's key is a valid point by construction
    /// of [`Sm2VerifyingKey`], and the curve has cofactor 1.)
    pub fn agree(
        self,
        peer: &Sm2VerifyingKey,
        salt: &[u8],
        info: &[u8],
        okm: &mut [u8],
    ) -> Result<(), CryptoError> {
        if okm.is_empty() || okm.len() > SM2_ECDH_MAX_OKM {
            return Err(CryptoError::Malformed(
                "HKDF-SM3 output must be 1 to 8160 bytes",
            ));
        }
        self.secret
            .diffie_hellman(peer.as_public())
            .extract::<Sm3>(Some(salt))
            .expand(info, okm)
            .map_err(|_| CryptoError::Malformed("HKDF-SM3 output too long"))
    }
}

impl fmt::Debug for Sm2Ephemeral {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sm2Ephemeral")
            .field("public", &self.public_key())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use ::sm2::elliptic_curve::ecdh::diffie_hellman;
    use ::sm2::{NonZeroScalar, SecretKey};

    use super::*;

    #[test]
    fn both_sides_derive_the_same_keys_and_others_do_not() {
        let (alice, bob, eve) = (
            Sm2Ephemeral::generate(),
            Sm2Ephemeral::generate(),
            Sm2Ephemeral::generate(),
        );
        let (alice_public, bob_public) = (alice.public_key(), bob.public_key());
        let mut from_alice = [0u8; 96];
        let mut from_bob = [0u8; 96];
        let mut from_eve = [0u8; 96];
        alice
            .agree(&bob_public, b"salt", b"info", &mut from_alice)
            .unwrap();
        bob.agree(&alice_public, b"salt", b"info", &mut from_bob)
            .unwrap();
        eve.agree(&alice_public, b"salt", b"info", &mut from_eve)
            .unwrap();
        assert_eq!(from_alice, from_bob);
        assert_ne!(from_alice, from_eve);
        assert_ne!(from_alice, [0u8; 96]);
    }

    #[test]
    fn output_length_is_checked() {
        let peer = Sm2Ephemeral::generate().public_key();
        let mut too_long = vec![0u8; SM2_ECDH_MAX_OKM + 1];
        assert!(
            Sm2Ephemeral::generate()
                .agree(&peer, b"", b"", &mut too_long)
                .is_err()
        );
        assert!(
            Sm2Ephemeral::generate()
                .agree(&peer, b"", b"", &mut [])
                .is_err()
        );
    }

    #[test]
    fn the_derivation_is_hkdf_over_hmac_sm3() {
        // HKDF-Expand's first block is HMAC(PRK, info || 0x01) with
        // PRK = HMAC(salt, IKM) (RFC 5869 §2.2–2.3). The check feeds a shared
        // secret made from a known scalar through both the library's HKDF and
        // our own HMAC-SM3, pinning the construction (the curve arithmetic is
        // the sm2 crate's to test).
        let secret = SecretKey::from_slice(&[7u8; 32]).unwrap();
        let peer = Sm2Ephemeral::generate().public_key();
        let shared = diffie_hellman(NonZeroScalar::from(&secret), *peer.as_public().as_affine());
        let prk = crate::hmac_sm3(b"salt", shared.raw_secret_bytes());
        let first_block = crate::hmac_sm3(&prk, b"info\x01");
        let mut okm = [0u8; 32];
        shared
            .extract::<Sm3>(Some(b"salt"))
            .expand(b"info", &mut okm)
            .unwrap();
        assert_eq!(okm, first_block);
    }
}
