//! 国密 (ShangMi) primitives for Bianmin, built on the RustCrypto crates.
//!
//! Every primitive here is one that the commercial cryptography assessment
//! (GB/T 39786-2021) accepts, and each is checked in `tests/official_vectors.rs`
//! against the examples published with its standard:
//!
//! | item | standard |
//! | --- | --- |
//! | [`sm3_digest`] | SM3 hash, GB/T 32905-2016 |
//! | [`hmac_sm3`], [`hmac_sm3_verify`] | HMAC (GB/T 15852.2-2012, RFC 2104) with SM3; vectors of GM/T 0042-2015 |
//! | [`Sm4Gcm`] | SM4 block cipher (GB/T 32907-2016) in GCM (GB/T 36624-2018, NIST SP 800-38D), as `SM4-GCM` of RFC 8998 |
//! | [`Sm2SigningKey::sign`], [`Sm2VerifyingKey::verify`] | SM2 signature with SM3 and `Z_A`, GB/T 32918.2-2016; default user id of GB/T 35276-2017 |
//! | [`sm2_encrypt`], [`sm2_decrypt`] | SM2 public-key encryption, GB/T 32918.4-2016, `C1 \|\| C3 \|\| C2` as GM/T 0009-2012 orders it |
//! | [`random_bytes`] | the operating system's CSPRNG (`getrandom`) |
//!
//! All SM2 operations use the recommended curve of GB/T 32918.5-2017.
//!
//! # Guarantees
//!
//! - Secret keys ([`Sm4Gcm`], [`Sm2SigningKey`]) are zeroized on drop and never
//!   appear in `Debug` output.
//! - [`CryptoError`] messages are fixed strings: never key material, plaintext
//!   or input bytes. Failed decryption says only that it failed.
//! - Randomness comes only from the OS. Where an API has no error channel
//!   (key generation, random nonces, signing), an OS RNG failure panics rather
//!   than continuing with weak values.
//!
//! The crate knows nothing of storage or HTTP; which key protects which column
//! is the caller's decision.
//!
//! ```
//! use bianmin_crypto::{DEFAULT_SM2_USER_ID, Sm2SigningKey, Sm4Gcm, random_bytes};
//!
//! let data_key = Sm4Gcm::new(&random_bytes::<16>());
//! let stored = data_key.seal_with_random_nonce(b"residents.id_number#42", b"110101199003071234");
//! let id_number = data_key.open_with_nonce_prefix(b"residents.id_number#42", &stored)?;
//! assert_eq!(id_number, b"110101199003071234");
//!
//! let signer = Sm2SigningKey::generate();
//! let signature = signer.sign(DEFAULT_SM2_USER_ID, b"consent receipt");
//! signer.verifying_key().verify(DEFAULT_SM2_USER_ID, b"consent receipt", &signature)?;
//! # Ok::<(), bianmin_crypto::CryptoError>(())
//! ```

#![warn(missing_docs)]

mod error;
mod hash;
mod random;
mod sm2;
mod sm4gcm;

pub use self::error::CryptoError;
pub use self::hash::{SM3_OUTPUT_LEN, hmac_sm3, hmac_sm3_verify, sm3_digest};
pub use self::random::random_bytes;
pub use self::sm2::{
    DEFAULT_SM2_USER_ID, SM2_SECRET_KEY_LEN, SM2_SIGNATURE_LEN, Sm2SigningKey, Sm2VerifyingKey,
    sm2_decrypt, sm2_encrypt,
};
pub use self::sm4gcm::{SM4_GCM_NONCE_LEN, SM4_GCM_TAG_LEN, SM4_KEY_LEN, Sm4Gcm};
