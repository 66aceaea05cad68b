//! Blind indexes: equality lookups over encrypted columns, see [`BlindIndexer`].

use std::fmt;

use zeroize::Zeroizing;

use crate::hash::{SM3_OUTPUT_LEN, hmac_sm3_parts};

/// Length in bytes of a blind-index key.
pub const BLIND_INDEX_KEY_LEN: usize = 32;

/// Length in bytes of a blind index (an HMAC-SM3 tag).
pub const BLIND_INDEX_LEN: usize = SM3_OUTPUT_LEN;

/// Computes blind indexes, `HMAC-SM3(key, purpose || 0x00 || value)`.
///
/// Sealed fields differ every time (random nonces), so a database cannot find
/// a person by an encrypted ID number. Store the blind index of the value next
/// to its ciphertext and look rows up by the index of the value searched for.
/// Without the key an index reveals only equality: it cannot be reversed, and
/// unlike a plain hash it cannot be brute-forced over the small space of valid
/// ID or phone numbers by someone holding a database dump.
///
/// # Normalise first
///
/// The index is of the exact bytes given, so one value written two ways gets
/// two unrelated indexes and the lookup silently finds nothing. Callers pass
/// the canonical form their domain type produces: a `ResidentId` with its check
/// character as an uppercase `X`, a phone number without spaces or `+86`, and
/// so on. The same normalisation must be used when writing and when searching.
///
/// # Purposes
///
/// `purpose` names what is indexed (`"resident_id"`, `"phone"`). Indexes of the
/// same value under different purposes are unrelated, so a column of phone
/// indexes cannot be joined against a column of ID-number indexes even where
/// the strings coincide.
///
/// # Key
///
/// The key is a secret of its own, separate from every key-encryption key, and
/// is zeroized on drop; `Debug` prints no key material. Changing it changes
/// every index, so it is not rotated with the key-encryption keys (see
/// [`LocalKeyring::rotate`](crate::LocalKeyring::rotate)). `Clone` copies the
/// key into another zeroize-on-drop buffer, so a service can own an indexer
/// taken from the keyring; every copy is wiped when it drops.
#[derive(Clone)]
pub struct BlindIndexer {
    key: Zeroizing<[u8; BLIND_INDEX_KEY_LEN]>,
}

impl BlindIndexer {
    /// An indexer keyed with `key` (32 random bytes, normally loaded by
    /// [`LocalKeyring`](crate::LocalKeyring)). The caller's copy is left
    /// untouched; zeroizing it is the caller's business.
    #[must_use]
    pub fn new(key: &[u8; BLIND_INDEX_KEY_LEN]) -> Self {
        Self {
            key: Zeroizing::new(*key),
        }
    }

    /// The blind index of `normalized_value` for `purpose`. Deterministic: the
    /// same key, purpose and value always give the same 32 bytes.
    ///
    /// # Panics
    ///
    /// If `purpose` contains a NUL byte: the NUL separates purpose from value,
    /// so allowing it in `purpose` would let `("a\0b", "c")` and `("a", "b\0c")`
    /// collide. Purposes are constants in code, so this is a programming error.
    #[must_use]
    pub fn index(&self, purpose: &str, normalized_value: &str) -> [u8; BLIND_INDEX_LEN] {
        assert!(
            !purpose.contains('\0'),
            "a blind-index purpose must not contain a NUL byte"
        );
        hmac_sm3_parts(
            self.key.as_slice(),
            &[purpose.as_bytes(), &[0], normalized_value.as_bytes()],
        )
    }

    /// [`index`](Self::index) as 64 lowercase hex digits, for a text column.
    ///
    /// # Panics
    ///
    /// If `purpose` contains a NUL byte, as [`index`](Self::index).
    #[must_use]
    pub fn index_hex(&self, purpose: &str, normalized_value: &str) -> String {
        hex::encode(self.index(purpose, normalized_value))
    }

    /// The raw key, for writing the key file.
    pub(crate) fn expose_bytes(&self) -> &[u8; BLIND_INDEX_KEY_LEN] {
        &self.key
    }
}

impl fmt::Debug for BlindIndexer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlindIndexer").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hmac_sm3;

    const KEY: [u8; 32] = [0x5c; 32];

    #[test]
    fn index_is_hmac_sm3_of_purpose_nul_value() {
        let indexer = BlindIndexer::new(&KEY);
        assert_eq!(
            indexer.index("resident_id", "11010119900307123X"),
            hmac_sm3(&KEY, b"resident_id\x0011010119900307123X")
        );
    }

    #[test]
    fn same_key_purpose_and_value_give_the_same_index() {
        let a = BlindIndexer::new(&KEY);
        let b = BlindIndexer::new(&KEY);
        assert_eq!(
            a.index("resident_id", "11010119900307123X"),
            b.index("resident_id", "11010119900307123X")
        );
        assert_eq!(
            a.index_hex("phone", "13800138000"),
            b.index_hex("phone", "13800138000")
        );
    }

    #[test]
    fn other_value_purpose_or_key_gives_another_index() {
        let indexer = BlindIndexer::new(&KEY);
        let base = indexer.index("resident_id", "11010119900307123X");
        assert_ne!(base, indexer.index("resident_id", "110101199003071234"));
        assert_ne!(base, indexer.index("phone", "11010119900307123X"));
        let mut other_key = KEY;
        other_key[31] ^= 1;
        assert_ne!(
            base,
            BlindIndexer::new(&other_key).index("resident_id", "11010119900307123X")
        );
    }

    #[test]
    fn unnormalised_value_does_not_match() {
        // The reason callers must normalise: a lowercase check character is a
        // different index, so the lookup would find nobody.
        let indexer = BlindIndexer::new(&KEY);
        assert_ne!(
            indexer.index("resident_id", "11010119900307123X"),
            indexer.index("resident_id", "11010119900307123x")
        );
    }

    #[test]
    fn purpose_and_value_cannot_be_shifted_into_each_other() {
        let indexer = BlindIndexer::new(&KEY);
        assert_ne!(indexer.index("ab", "c"), indexer.index("a", "bc"));
    }

    #[test]
    #[should_panic(expected = "must not contain a NUL byte")]
    fn purpose_with_nul_is_a_programming_error() {
        let _ = BlindIndexer::new(&KEY).index("a\0b", "c");
    }

    #[test]
    fn hex_form_is_lowercase_hex_of_the_index() {
        let indexer = BlindIndexer::new(&KEY);
        let hex_index = indexer.index_hex("phone", "13800138000");
        assert_eq!(
            hex_index,
            hex::encode(indexer.index("phone", "13800138000"))
        );
        assert_eq!(hex_index.len(), 64);
        assert_eq!(hex_index, hex_index.to_lowercase());
    }

    #[test]
    fn debug_shows_no_key_material() {
        let key: [u8; 32] = core::array::from_fn(|i| u8::try_from(i).unwrap() + 0xa0);
        let rendered = format!("{:?}", BlindIndexer::new(&key));
        assert_eq!(rendered, "BlindIndexer { .. }");
        crate::test_support::assert_no_key_material(&rendered, &key);
    }
}
