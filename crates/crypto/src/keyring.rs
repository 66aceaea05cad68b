//! The keyring: versioned key-encryption keys (KEKs) that wrap the per-person
//! data keys, plus the blind-index and audit keys.
//!
//! [`Kms`] is the boundary the rest of the platform talks to; [`LocalKeyring`]
//! implements it from a key file or the `BIANMIN_KEYRING` environment
//! variable, and an HSM or cloud KMS can implement it instead.
//! See [`LocalKeyring`] for the key file and the rotation procedure.

mod file;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::path::Path;

use chrono::{DateTime, Utc};
use zeroize::Zeroizing;

use crate::blind_index::{BLIND_INDEX_KEY_LEN, BlindIndexer};
use crate::envelope::DataKey;
use crate::error::CryptoError;
use crate::hash::{SM3_OUTPUT_LEN, hmac_sm3, hmac_sm3_verify};
use crate::random::random_bytes;
use crate::sm4gcm::{SM4_KEY_LEN, Sm4Gcm};

/// Environment variable that may hold the whole key file, for deployments that
/// inject secrets as environment variables instead of files. Note that the
/// environment is inherited by child processes and readable in
/// `/proc/<pid>/environ` by the same user; a 0600 file is the stronger choice.
pub const KEYRING_ENV_VAR: &str = "BIANMIN_KEYRING";

/// Length in bytes of the audit-chain key.
pub const AUDIT_KEY_LEN: usize = 32;

/// Prefix of the associated data of a wrapped data key; the KEK version and
/// the caller's context follow. Fixed length, so the encoding is unambiguous.
const WRAP_LABEL: &[u8; 20] = b"bianmin data key v1\0";

/// A data key encrypted under one version of the key-encryption key.
///
/// `bytes` is opaque to everyone but the [`Kms`] that made it; for
/// [`LocalKeyring`] it is `nonce (12) || SM4-GCM ciphertext (16) || tag (16)`.
/// Store it with [`to_bytes`](Self::to_bytes). It is not secret in itself, but
/// whoever deletes it and every copy of it has erased the person's data
/// (crypto-shredding).
#[derive(Clone, PartialEq, Eq)]
pub struct WrappedKey {
    /// The KEK version that wrapped the data key.
    pub kek_version: u32,
    /// The wrapped key, in the format of the [`Kms`] that produced it.
    pub bytes: Vec<u8>,
}

impl WrappedKey {
    /// First byte of the stored layout.
    const FORMAT_V1: u8 = 1;

    /// The stored form: `0x01 || kek_version (4 bytes, big-endian) || bytes`,
    /// for a BLOB/BYTEA column. The leading format byte lets a later layout be
    /// told apart; the version is readable without any key, so a rewrap job
    /// can find the keys still wrapped under an old version.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(5 + self.bytes.len());
        out.push(Self::FORMAT_V1);
        out.extend_from_slice(&self.kek_version.to_be_bytes());
        out.extend_from_slice(&self.bytes);
        out
    }

    /// Parses the form written by [`to_bytes`](Self::to_bytes). Checks only
    /// the layout; whether the key unwraps is for [`Kms::unwrap`] to say.
    ///
    /// # Errors
    ///
    /// [`CryptoError::Malformed`] if the format byte is unknown or the input
    /// is too short to hold a version and a wrapped key.
    pub fn from_bytes(stored: &[u8]) -> Result<Self, CryptoError> {
        let Some((&format, rest)) = stored.split_first() else {
            return Err(CryptoError::Malformed("wrapped data key is empty"));
        };
        if format != Self::FORMAT_V1 {
            return Err(CryptoError::Malformed(
                "wrapped data key has an unknown format version",
            ));
        }
        match rest.split_first_chunk::<4>() {
            Some((version, bytes)) if !bytes.is_empty() => Ok(Self {
                kek_version: u32::from_be_bytes(*version),
                bytes: bytes.to_vec(),
            }),
            _ => Err(CryptoError::Malformed("wrapped data key is truncated")),
        }
    }
}

impl fmt::Debug for WrappedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WrappedKey")
            .field("kek_version", &self.kek_version)
            .field("len", &self.bytes.len())
            .finish()
    }
}

/// A key management service: holds the key-encryption keys and wraps and
/// unwraps data keys with them, so that no caller ever holds a KEK.
///
/// [`LocalKeyring`] implements it from a key file; an HSM (GM/T 0018 SDF
/// interface) or a cloud KMS can implement it instead, behind the same calls.
///
/// `context` is associated data bound into the wrapping: pass the owner's id
/// (e.g. the person's id bytes). A wrapped key copied to another person then
/// fails to unwrap.
pub trait Kms: Send + Sync {
    /// The KEK version [`wrap`](Self::wrap) uses now.
    fn current_version(&self) -> u32;

    /// The oldest KEK version [`unwrap`](Self::unwrap) still accepts. Keys
    /// wrapped under older versions are refused with
    /// [`CryptoError::KeyVersionRetired`].
    fn min_decrypt_version(&self) -> u32;

    /// Wraps `key` under the current KEK version, bound to `context`.
    ///
    /// # Errors
    ///
    /// Whatever the KMS reports; [`LocalKeyring`] does not fail.
    fn wrap(&self, key: &DataKey, context: &[u8]) -> Result<WrappedKey, CryptoError>;

    /// Recovers the data key from `wrapped`, which must have been wrapped with
    /// the same `context`.
    ///
    /// # Errors
    ///
    /// - [`CryptoError::KeyVersionRetired`] if `wrapped.kek_version` is below
    ///   [`min_decrypt_version`](Self::min_decrypt_version).
    /// - [`CryptoError::UnknownKeyVersion`] if the KMS has no such version.
    /// - [`CryptoError::DecryptionFailed`] if the context differs or the
    ///   wrapped bytes were altered.
    fn unwrap(&self, wrapped: &WrappedKey, context: &[u8]) -> Result<DataKey, CryptoError>;

    /// Rewraps `wrapped` under the current KEK version, for rotation. The
    /// caller gets a new wrapped key and never the data key.
    ///
    /// The default unwraps and wraps again inside this implementation, so the
    /// plaintext data key exists only transiently within the KMS boundary (for
    /// [`LocalKeyring`], this process) and is zeroized when done. A real HSM or
    /// cloud KMS implements this natively (a re-encrypt operation), so the key
    /// never leaves the device at all.
    ///
    /// Callers can skip keys whose `kek_version` already equals
    /// [`current_version`](Self::current_version).
    ///
    /// # Errors
    ///
    /// As [`unwrap`](Self::unwrap): a key under a retired version can no longer
    /// be rewrapped, which is why rewrapping comes before retiring.
    fn rewrap(&self, wrapped: &WrappedKey, context: &[u8]) -> Result<WrappedKey, CryptoError> {
        let key = self.unwrap(wrapped, context)?;
        self.wrap(&key, context)
    }
}

/// The key of the tamper-evident audit chain (HMAC-SM3). The audit log that
/// uses it is built elsewhere; the key itself never leaves this type.
///
/// Zeroized on drop; `Debug` prints no key material. `Clone` copies the key
/// into another zeroize-on-drop buffer, so a service can own the key taken from
/// the keyring. Not rotated by [`LocalKeyring::rotate`]: replacing it means the
/// existing chain can no longer be verified with the new key.
#[derive(Clone)]
pub struct AuditKey {
    key: Zeroizing<[u8; AUDIT_KEY_LEN]>,
}

impl AuditKey {
    /// An audit key from 32 random bytes. The caller's copy is left untouched.
    #[must_use]
    pub fn new(key: &[u8; AUDIT_KEY_LEN]) -> Self {
        Self {
            key: Zeroizing::new(*key),
        }
    }

    /// HMAC-SM3 of `data` under the audit key, to chain audit entries.
    #[must_use]
    pub fn tag(&self, data: &[u8]) -> [u8; SM3_OUTPUT_LEN] {
        hmac_sm3(self.key.as_slice(), data)
    }

    /// Whether `tag` is the audit key's HMAC-SM3 of `data`, compared in
    /// constant time.
    #[must_use]
    pub fn verify(&self, data: &[u8], tag: &[u8]) -> bool {
        hmac_sm3_verify(self.key.as_slice(), data, tag)
    }

    fn expose_bytes(&self) -> &[u8; AUDIT_KEY_LEN] {
        &self.key
    }
}

impl fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditKey").finish_non_exhaustive()
    }
}

/// One version of the key-encryption key.
struct Kek {
    key: Zeroizing<[u8; SM4_KEY_LEN]>,
    created_at: DateTime<Utc>,
}

/// What may be shown about a KEK version: everything but the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KekInfo {
    /// The version number.
    pub version: u32,
    /// When the version was created.
    pub created_at: DateTime<Utc>,
    /// Whether the version is below the minimum decryption version.
    pub retired: bool,
}

/// A [`Kms`] whose keys live in this process, loaded from a TOML key file or
/// from [`KEYRING_ENV_VAR`].
///
/// # Key file
///
/// ```toml
/// current = 2
/// min_decrypt_version = 1
/// blind_index_key = "<64 hex digits>"
/// audit_key = "<64 hex digits>"
///
/// [[kek]]
/// version = 1
/// key = "<32 hex digits>"
/// created_at = "2026-01-05T02:00:00Z"
///
/// [[kek]]
/// version = 2
/// key = "<32 hex digits>"
/// created_at = "2026-07-05T02:00:00Z"
/// ```
///
/// `current` must be the newest `[[kek]]` version and `min_decrypt_version`
/// between 1 and `current`; versions below the minimum may be listed or
/// removed. Unknown keys are refused, so a misspelt setting is not ignored.
/// [`generate_new`](Self::generate_new), [`rotate`](Self::rotate),
/// [`retire_below`](Self::retire_below) and [`save`](Self::save) maintain the
/// file, so it need never be edited by hand.
///
/// # Rotation
///
/// 1. [`rotate`](Self::rotate) adds KEK version N+1 and makes it current;
///    [`save`](Self::save) the file and roll it out to every instance. New
///    data keys are now wrapped under N+1; keys wrapped under older versions
///    keep unwrapping.
/// 2. Rewrap every stored data key whose `kek_version` is below N+1 with
///    [`Kms::rewrap`]. The caller never sees the data key, and the sealed
///    fields are not touched: only the small wrapped key changes.
/// 3. When no wrapped key below N+1 remains, [`retire_below`](Self::retire_below)
///    (N+1) and save: the old versions no longer decrypt anything.
///
/// Rewrap only after the rotated file has been saved and distributed: a
/// rewrapped key is readable only with the new version, so losing that file
/// loses the data, and an instance still on the old file cannot read it
/// ([`CryptoError::UnknownKeyVersion`]).
///
/// # Keys
///
/// - KEKs (16-byte SM4 keys), versioned, wrap data keys with SM4-GCM.
/// - The blind-index key (32 bytes) keys [`BlindIndexer`]. It is **not**
///   rotated by [`rotate`](Self::rotate): a new key changes every blind index,
///   so rotating it means recomputing every index from the decrypted values.
///   Nothing here does that yet.
/// - The audit key (32 bytes), see [`AuditKey`]; not rotated either.
///
/// Every key is zeroized on drop. `Debug` prints only the versions, and the
/// type does not implement `Serialize`, so it cannot end up in a configuration
/// dump; [`to_toml`](Self::to_toml) is the one way to get the keys out.
pub struct LocalKeyring {
    keks: BTreeMap<u32, Kek>,
    current: u32,
    min_decrypt_version: u32,
    blind_index: BlindIndexer,
    audit: AuditKey,
}

impl LocalKeyring {
    /// A new keyring with KEK version 1 and fresh blind-index and audit keys,
    /// all from the operating system's CSPRNG. Write it out with
    /// [`save`](Self::save) or [`to_toml`](Self::to_toml).
    ///
    /// # Panics
    ///
    /// If the operating system's RNG fails.
    #[must_use]
    pub fn generate_new(now: DateTime<Utc>) -> Self {
        let first = Kek {
            key: Zeroizing::new(random_bytes()),
            created_at: now,
        };
        // Two independent draws; equal only if the RNG is broken.
        let blind_index_key = Zeroizing::new(random_bytes::<BLIND_INDEX_KEY_LEN>());
        let audit_key = Zeroizing::new(random_bytes::<AUDIT_KEY_LEN>());
        Self {
            keks: BTreeMap::from([(1, first)]),
            current: 1,
            min_decrypt_version: 1,
            blind_index: BlindIndexer::new(&blind_index_key),
            audit: AuditKey::new(&audit_key),
        }
    }

    /// Parses key-file text (see the type's documentation).
    ///
    /// # Errors
    ///
    /// [`CryptoError::Malformed`] naming the setting that is missing or wrong.
    /// The message never quotes the text, which holds the keys.
    pub fn from_toml_str(text: &str) -> Result<Self, CryptoError> {
        file::parse(text)
    }

    /// The keyring in [`KEYRING_ENV_VAR`], or `None` if the variable is unset.
    ///
    /// # Errors
    ///
    /// [`CryptoError::Malformed`] if the variable is not UTF-8 or not a valid
    /// key file.
    pub fn from_env() -> Result<Option<Self>, CryptoError> {
        Self::from_env_value(std::env::var_os(KEYRING_ENV_VAR))
    }

    fn from_env_value(value: Option<OsString>) -> Result<Option<Self>, CryptoError> {
        let Some(value) = value else {
            return Ok(None);
        };
        let text = Zeroizing::new(value.into_string().map_err(|not_text| {
            drop(Zeroizing::new(not_text.into_encoded_bytes()));
            CryptoError::Malformed("BIANMIN_KEYRING is not UTF-8")
        })?);
        Self::from_toml_str(&text).map(Some)
    }

    /// Loads the key file at `path`.
    ///
    /// # Errors
    ///
    /// - [`CryptoError::KeyFileExposed`] (on Unix) if other users have any
    ///   access to the file. Group access is allowed, so a deployment can share
    ///   the file with a service group (mode 0640 or 0440).
    /// - [`CryptoError::KeyFileIo`] if it cannot be read.
    /// - [`CryptoError::Malformed`] if it is not UTF-8 or not a valid key file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, CryptoError> {
        let text = file::read(path.as_ref())?;
        file::parse(&text)
    }

    /// Writes the key file to `path` atomically: a temporary file in the same
    /// directory, created with mode 0600 on Unix, flushed to disk, then renamed
    /// over `path` and the directory synced. A reader sees either the old file
    /// or the new one, never a partial write.
    ///
    /// # Errors
    ///
    /// [`CryptoError::KeyFileIo`] if any step fails. `path` then holds either
    /// the old file or the complete new one (the rename may have happened
    /// before syncing the directory failed); treat the rotation as not saved.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), CryptoError> {
        file::write_atomically(path.as_ref(), self.to_toml().as_bytes())
    }

    /// The key file's text, with every key in it. For [`save`](Self::save) and
    /// for filling [`KEYRING_ENV_VAR`]; the string is zeroized on drop.
    #[must_use]
    pub fn to_toml(&self) -> Zeroizing<String> {
        file::render(self)
    }

    /// Adds KEK version `current + 1`, created at `now`, and makes it current.
    /// Returns the new version. Older versions stay usable for unwrapping until
    /// [`retire_below`](Self::retire_below); see the module documentation for
    /// the whole procedure.
    ///
    /// Only KEKs rotate: the blind-index and audit keys stay as they are.
    ///
    /// # Errors
    ///
    /// [`CryptoError::Malformed`] if the version number would overflow `u32`.
    ///
    /// # Panics
    ///
    /// If the operating system's RNG fails.
    pub fn rotate(&mut self, now: DateTime<Utc>) -> Result<u32, CryptoError> {
        let next = self
            .current
            .checked_add(1)
            .ok_or(CryptoError::Malformed("no KEK version left after u32::MAX"))?;
        self.keks.insert(
            next,
            Kek {
                key: Zeroizing::new(random_bytes()),
                created_at: now,
            },
        );
        self.current = next;
        Ok(next)
    }

    /// Retires every KEK version below `version`: keys wrapped under them no
    /// longer unwrap ([`CryptoError::KeyVersionRetired`]). Rewrap first.
    ///
    /// Retirement only moves forward: asking for a version at or below the
    /// present minimum changes nothing.
    ///
    /// # Errors
    ///
    /// [`CryptoError::WouldRetireCurrentVersion`] if `version` is above the
    /// current version; nothing changes.
    pub fn retire_below(&mut self, version: u32) -> Result<(), CryptoError> {
        if version > self.current {
            return Err(CryptoError::WouldRetireCurrentVersion {
                current: self.current,
            });
        }
        self.min_decrypt_version = self.min_decrypt_version.max(version);
        Ok(())
    }

    /// Every KEK version held, oldest first, without the keys.
    #[must_use]
    pub fn versions(&self) -> Vec<KekInfo> {
        self.keks
            .iter()
            .map(|(&version, kek)| KekInfo {
                version,
                created_at: kek.created_at,
                retired: version < self.min_decrypt_version,
            })
            .collect()
    }

    /// The blind indexer, keyed with this keyring's blind-index key.
    #[must_use]
    pub fn blind_index(&self) -> &BlindIndexer {
        &self.blind_index
    }

    /// The audit-chain key.
    #[must_use]
    pub fn audit_key(&self) -> &AuditKey {
        &self.audit
    }

    /// The KEK of `version` as a cipher, if it may decrypt.
    fn kek_for_unwrap(&self, version: u32) -> Result<Sm4Gcm, CryptoError> {
        if version < self.min_decrypt_version {
            return Err(CryptoError::KeyVersionRetired { version });
        }
        self.keks
            .get(&version)
            .map(|kek| Sm4Gcm::new(&kek.key))
            .ok_or(CryptoError::UnknownKeyVersion { version })
    }
}

/// `WRAP_LABEL || kek_version (4 bytes, big-endian) || context`.
fn wrap_aad(kek_version: u32, context: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(WRAP_LABEL.len() + 4 + context.len());
    aad.extend_from_slice(WRAP_LABEL);
    aad.extend_from_slice(&kek_version.to_be_bytes());
    aad.extend_from_slice(context);
    aad
}

impl Kms for LocalKeyring {
    fn current_version(&self) -> u32 {
        self.current
    }

    fn min_decrypt_version(&self) -> u32 {
        self.min_decrypt_version
    }

    fn wrap(&self, key: &DataKey, context: &[u8]) -> Result<WrappedKey, CryptoError> {
        // Present by construction: every constructor and `rotate` insert the
        // current version's KEK, and nothing removes one.
        let kek = self
            .keks
            .get(&self.current)
            .ok_or(CryptoError::UnknownKeyVersion {
                version: self.current,
            })?;
        let bytes = Sm4Gcm::new(&kek.key)
            .seal_with_random_nonce(&wrap_aad(self.current, context), key.expose_bytes());
        Ok(WrappedKey {
            kek_version: self.current,
            bytes,
        })
    }

    fn unwrap(&self, wrapped: &WrappedKey, context: &[u8]) -> Result<DataKey, CryptoError> {
        let kek = self.kek_for_unwrap(wrapped.kek_version)?;
        let plain = Zeroizing::new(
            kek.open_with_nonce_prefix(&wrap_aad(wrapped.kek_version, context), &wrapped.bytes)?,
        );
        let bytes: &[u8; SM4_KEY_LEN] = plain
            .as_slice()
            .try_into()
            .map_err(|_| CryptoError::DecryptionFailed)?;
        Ok(DataKey::from_bytes(bytes))
    }
}

impl fmt::Debug for LocalKeyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalKeyring")
            .field("versions", &self.keks.keys().collect::<Vec<_>>())
            .field("current", &self.current)
            .field("min_decrypt_version", &self.min_decrypt_version)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
