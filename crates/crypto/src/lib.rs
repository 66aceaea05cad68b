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
//! | [`Sm2Ephemeral`] | ephemeral Diffie-Hellman on the SM2 curve, keys by HKDF (RFC 5869) with HMAC-SM3; authenticated by the caller's SM2 signatures |
//! | [`random_bytes`] | the operating system's CSPRNG (`getrandom`) |
//!
//! All SM2 operations use the recommended curve of GB/T 32918.5-2017.
//!
//! # Field encryption at rest
//!
//! Personal fields (C2/C3) are protected by a three-level key hierarchy:
//!
//! ```text
//!  key file / BIANMIN_KEYRING            (LocalKeyring, or an HSM / cloud KMS behind `Kms`)
//!  ├── KEK v1, v2, … v(current)          16-byte SM4 keys; rotate adds one, retire_below retires old ones
//!  │     └── wraps ─► per-person DataKey  SM4-GCM, bound to the person's id; stored as a WrappedKey
//!  │                    └── seals ─► field ciphertexts   SM4-GCM, bound to table, column and row
//!  ├── blind-index key (32 bytes)        HMAC-SM3 indexes for equality lookups; not rotated
//!  └── audit key (32 bytes)              HMAC-SM3 of the audit chain; not rotated
//! ```
//!
//! | item | role |
//! | --- | --- |
//! | [`Kms`], [`LocalKeyring`] | key-encryption keys (KEKs) by version: [`Kms::wrap`], [`Kms::unwrap`], [`Kms::rewrap`] to the current version, a minimum decryption version; key file load/save |
//! | [`DataKey`], [`WrappedKey`] | one data key per person, stored only wrapped. Deleting a person's wrapped key erases all of their fields at once (crypto-shredding) |
//! | [`seal_field`], [`open_field`], [`FieldAad`] | SM4-GCM of one field under the person's data key; a ciphertext moved to another table, column or row does not open |
//! | [`BlindIndexer`] | `HMAC-SM3(key, purpose \|\| 0x00 \|\| normalised value)`: find a person by ID number without decrypting every row |
//! | [`AuditKey`] | the key of the tamper-evident audit chain |
//!
//! Rotating a KEK never re-encrypts fields: only the small wrapped data keys are
//! rewrapped (see [`LocalKeyring`] for the procedure).
//!
//! # Guarantees
//!
//! - Secret keys ([`Sm4Gcm`], [`Sm2SigningKey`], [`DataKey`], the keys inside
//!   [`LocalKeyring`], [`BlindIndexer`] and [`AuditKey`]) are zeroized on drop
//!   and never appear in `Debug` output.
//! - [`CryptoError`] messages are fixed strings and numbers (key versions):
//!   never key material, plaintext or input bytes. Failed decryption says only
//!   that it failed; a bad key file says which setting is wrong, never its value.
//! - Randomness comes only from the OS. Where an API has no error channel
//!   (key generation, random nonces, signing), an OS RNG failure panics rather
//!   than continuing with weak values.
//!
//! The crate knows nothing of storage or HTTP: it knows no table. Table and
//! column names reach it only as the caller's [`FieldAad`], and which key
//! protects which column is the caller's decision.
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
//!
//! The key hierarchy, from a new keyring to finding and reading a person:
//!
//! ```
//! use bianmin_crypto::{DataKey, FieldAad, Kms, LocalKeyring, WrappedKey, open_str, seal_str};
//!
//! let keyring = LocalKeyring::generate_new(chrono::Utc::now());
//! let person_id = b"0190f3a4-7d1c-7000-8000-000000000042";
//!
//! // First sight of a person: a data key, stored wrapped next to the person.
//! let data_key = DataKey::generate();
//! let stored_key = keyring.wrap(&data_key, person_id)?.to_bytes();
//! let here = FieldAad::new("person", "id_number", person_id);
//! let stored_id_number = seal_str(&data_key, &here, "11010119900307123X");
//! let lookup = keyring.blind_index().index("resident_id", "11010119900307123X");
//!
//! // Later: found by `lookup`, then read.
//! assert_eq!(lookup, keyring.blind_index().index("resident_id", "11010119900307123X"));
//! let data_key = keyring.unwrap(&WrappedKey::from_bytes(&stored_key)?, person_id)?;
//! assert_eq!(open_str(&data_key, &here, &stored_id_number)?, "11010119900307123X");
//! # Ok::<(), bianmin_crypto::CryptoError>(())
//! ```

#![warn(missing_docs)]

mod blind_index;
mod ecdh;
mod envelope;
mod error;
mod hash;
mod keyring;
mod random;
mod sm2;
mod sm4fast;
mod sm4gcm;

pub use self::blind_index::{BLIND_INDEX_KEY_LEN, BLIND_INDEX_LEN, BlindIndexer};
pub use self::ecdh::{SM2_ECDH_MAX_OKM, Sm2Ephemeral};
pub use self::envelope::{
    DataKey, FieldAad, SEALED_FIELD_OVERHEAD, open_field, open_str, seal_field, seal_str,
};
pub use self::error::CryptoError;
pub use self::hash::{SM3_OUTPUT_LEN, hmac_sm3, hmac_sm3_verify, sm3_digest};
pub use self::keyring::{
    AUDIT_KEY_LEN, AuditKey, KEYRING_ENV_VAR, KekInfo, Kms, LocalKeyring, WrappedKey,
};
pub use self::random::random_bytes;
pub use self::sm2::{
    DEFAULT_SM2_USER_ID, SM2_SECRET_KEY_LEN, SM2_SIGNATURE_LEN, Sm2SigningKey, Sm2VerifyingKey,
    sm2_decrypt, sm2_encrypt,
};
pub use self::sm4gcm::{SM4_GCM_NONCE_LEN, SM4_GCM_TAG_LEN, SM4_KEY_LEN, Sm4Gcm};

#[cfg(test)]
mod test_support {
    /// Fails if `rendered` (a `Debug` or `Display` output) shows any part of
    /// `key`: four consecutive bytes in hex of either case, or in the decimal
    /// list form `Debug` gives byte arrays.
    pub(crate) fn assert_no_key_material(rendered: &str, key: &[u8]) {
        let lowercase = rendered.to_lowercase();
        for window in key.windows(4) {
            let hex_window = hex::encode(window);
            assert!(
                !lowercase.contains(&hex_window),
                "{rendered:?} shows key bytes {hex_window}"
            );
            let list = format!("{window:?}");
            let decimal = &list[1..list.len() - 1];
            assert!(
                !rendered.contains(decimal),
                "{rendered:?} shows key bytes {decimal}"
            );
        }
    }
}
