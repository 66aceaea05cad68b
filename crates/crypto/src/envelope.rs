//! Envelope encryption of personal fields: one [`DataKey`] per person, one
//! SM4-GCM ciphertext per field ([`seal_field`]), each bound to the table,
//! column and row it is stored in ([`FieldAad`]).

use std::fmt;

use zeroize::{ZeroizeOnDrop, Zeroizing};

use crate::error::CryptoError;
use crate::random::random_bytes;
use crate::sm4gcm::{SM4_GCM_NONCE_LEN, SM4_GCM_TAG_LEN, SM4_KEY_LEN, Sm4Gcm};

/// First byte of every sealed field in the current layout.
const FIELD_FORMAT_V1: u8 = 1;

/// Bytes a sealed field adds to its plaintext: format byte, nonce and tag.
/// Size columns as plaintext length plus this.
pub const SEALED_FIELD_OVERHEAD: usize = 1 + SM4_GCM_NONCE_LEN + SM4_GCM_TAG_LEN;

/// A person's data key: the 16-byte SM4 key that seals their fields.
///
/// It is stored only wrapped under a key-encryption key, via
/// [`Kms::wrap`](crate::Kms::wrap). Deleting the person's wrapped data key makes
/// every field sealed with it unreadable at once, including copies in replicas,
/// exports and backups (crypto-shredding), without touching those rows.
///
/// Zeroized on drop; `Debug` prints no key material. Deliberately not `Clone`:
/// pass it by reference.
pub struct DataKey {
    key: Zeroizing<[u8; SM4_KEY_LEN]>,
}

impl DataKey {
    /// A fresh random data key from the operating system's CSPRNG, for a person
    /// seen for the first time.
    ///
    /// # Panics
    ///
    /// If the operating system's RNG fails.
    #[must_use]
    pub fn generate() -> Self {
        Self {
            key: Zeroizing::new(random_bytes()),
        }
    }

    /// A data key from its raw bytes. Meant for [`Kms`](crate::Kms)
    /// implementations that unwrap keys themselves; everything else gets data
    /// keys from [`generate`](Self::generate) or [`Kms::unwrap`](crate::Kms::unwrap).
    /// The caller's copy is left untouched; zeroizing it is the caller's business.
    #[must_use]
    pub fn from_bytes(bytes: &[u8; SM4_KEY_LEN]) -> Self {
        Self {
            key: Zeroizing::new(*bytes),
        }
    }

    /// The raw key bytes, for [`Kms`](crate::Kms) implementations that must
    /// hand them to an HSM to wrap. Never log, store or return them.
    #[must_use]
    pub fn expose_bytes(&self) -> &[u8; SM4_KEY_LEN] {
        &self.key
    }

    fn cipher(&self) -> Sm4Gcm {
        Sm4Gcm::new(&self.key)
    }
}

// The only field is `Zeroizing`, which wipes the key when the `DataKey` drops.
impl ZeroizeOnDrop for DataKey {}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataKey").finish_non_exhaustive()
    }
}

/// Where a sealed field is stored: table, column and the row's id. Bound to
/// the ciphertext as SM4-GCM associated data, so the ciphertext opens only in
/// this place.
///
/// The three parts are length-prefixed in the associated data, so no two
/// different places encode alike (`("ab", "c")` differs from `("a", "bc")`).
/// The names are whatever the caller stores under; this crate attaches no
/// meaning to them. Use the row's stable primary key, never something that can
/// change, or the field becomes unreadable when it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldAad<'a> {
    /// The table (or collection) name.
    pub table: &'a str,
    /// The column (or attribute) name.
    pub column: &'a str,
    /// The row's primary key, as bytes (e.g. a UUID's 16 bytes).
    pub row_id: &'a [u8],
}

impl<'a> FieldAad<'a> {
    /// The place `table`.`column` of the row `row_id`.
    #[must_use]
    pub const fn new(table: &'a str, column: &'a str, row_id: &'a [u8]) -> Self {
        Self {
            table,
            column,
            row_id,
        }
    }

    /// `format || len(table) || table || len(column) || column || len(row_id)
    /// || row_id`, lengths as 8-byte big-endian.
    fn encode(&self, format: u8) -> Vec<u8> {
        let parts = [self.table.as_bytes(), self.column.as_bytes(), self.row_id];
        let mut out =
            Vec::with_capacity(1 + parts.iter().map(|part| 8 + part.len()).sum::<usize>());
        out.push(format);
        for part in parts {
            // Lossless: `usize` is at most 64 bits on every target Rust supports.
            out.extend_from_slice(&(part.len() as u64).to_be_bytes());
            out.extend_from_slice(part);
        }
        out
    }
}

/// Seals `plaintext` under the person's data key for the place `aad`.
///
/// Returns `format byte (0x01) || nonce (12) || ciphertext || tag (16)`,
/// [`SEALED_FIELD_OVERHEAD`] bytes longer than the plaintext, to store as a
/// BLOB/BYTEA. Each call draws a fresh random nonce, so sealing the same value
/// twice gives different bytes; look values up through a
/// [`BlindIndexer`](crate::BlindIndexer) instead of comparing ciphertexts.
///
/// # Panics
///
/// If the operating system's RNG fails, or `plaintext` is longer than
/// 2^36 - 32 bytes.
#[must_use]
pub fn seal_field(key: &DataKey, aad: &FieldAad<'_>, plaintext: &[u8]) -> Vec<u8> {
    let body = key
        .cipher()
        .seal_with_random_nonce(&aad.encode(FIELD_FORMAT_V1), plaintext);
    let mut sealed = Vec::with_capacity(1 + body.len());
    sealed.push(FIELD_FORMAT_V1);
    sealed.extend_from_slice(&body);
    sealed
}

/// Opens a field sealed by [`seal_field`] with the same data key and place.
///
/// # Errors
///
/// - [`CryptoError::Malformed`] if the first byte names no known format (data
///   written by a newer version of this crate).
/// - [`CryptoError::DecryptionFailed`] if the data key differs, the field was
///   sealed for another table, column or row, or any byte was altered or cut
///   off. No plaintext is released.
pub fn open_field(
    key: &DataKey,
    aad: &FieldAad<'_>,
    sealed: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let Some((&format, body)) = sealed.split_first() else {
        return Err(CryptoError::DecryptionFailed);
    };
    if format != FIELD_FORMAT_V1 {
        return Err(CryptoError::Malformed(
            "sealed field has an unknown format version",
        ));
    }
    key.cipher()
        .open_with_nonce_prefix(&aad.encode(format), body)
}

/// [`seal_field`] for text (names, addresses, ID numbers).
///
/// # Panics
///
/// As [`seal_field`].
#[must_use]
pub fn seal_str(key: &DataKey, aad: &FieldAad<'_>, plaintext: &str) -> Vec<u8> {
    seal_field(key, aad, plaintext.as_bytes())
}

/// Opens a field sealed by [`seal_str`].
///
/// # Errors
///
/// As [`open_field`], and [`CryptoError::Malformed`] if the field opens but
/// is not UTF-8 (it was sealed as bytes, not with [`seal_str`]).
pub fn open_str(key: &DataKey, aad: &FieldAad<'_>, sealed: &[u8]) -> Result<String, CryptoError> {
    String::from_utf8(open_field(key, aad, sealed)?).map_err(|not_text| {
        // Wipe the plaintext that is not going to be returned.
        drop(Zeroizing::new(not_text.into_bytes()));
        CryptoError::Malformed("sealed field is not UTF-8 text")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ROW: &[u8] = b"0190f3a4-7d1c-7000-8000-000000000042";
    const HERE: FieldAad<'static> = FieldAad::new("person", "id_number", ROW);

    #[test]
    fn sealed_field_opens_with_the_same_key_and_place() {
        let key = DataKey::generate();
        let sealed = seal_str(&key, &HERE, "11010119900307123X");
        assert_eq!(sealed.len(), 18 + SEALED_FIELD_OVERHEAD);
        assert_eq!(sealed[0], FIELD_FORMAT_V1);
        assert_eq!(
            open_str(&key, &HERE, &sealed).unwrap(),
            "11010119900307123X"
        );
    }

    #[test]
    fn sealing_twice_gives_different_bytes() {
        let key = DataKey::generate();
        assert_ne!(seal_str(&key, &HERE, "张三"), seal_str(&key, &HERE, "张三"));
    }

    #[test]
    fn field_moved_to_another_row_column_or_table_does_not_open() {
        let key = DataKey::generate();
        let sealed = seal_str(&key, &HERE, "11010119900307123X");
        for elsewhere in [
            FieldAad::new(
                "person",
                "id_number",
                b"0190f3a4-7d1c-7000-8000-000000000043",
            ),
            FieldAad::new("person", "phone", ROW),
            FieldAad::new("applicant", "id_number", ROW),
            FieldAad::new("person", "id_number", b""),
        ] {
            assert_eq!(
                open_str(&key, &elsewhere, &sealed),
                Err(CryptoError::DecryptionFailed),
                "{elsewhere:?}"
            );
        }
    }

    #[test]
    fn places_differing_only_in_where_names_split_do_not_share_ciphertexts() {
        let key = DataKey::generate();
        let sealed = seal_field(&key, &FieldAad::new("ab", "c", b"1"), b"x");
        assert_eq!(
            open_field(&key, &FieldAad::new("a", "bc", b"1"), &sealed),
            Err(CryptoError::DecryptionFailed)
        );
        assert_eq!(
            open_field(&key, &FieldAad::new("ab", "", b"c1"), &sealed),
            Err(CryptoError::DecryptionFailed)
        );
    }

    #[test]
    fn other_persons_data_key_does_not_open_the_field() {
        let sealed = seal_str(&DataKey::generate(), &HERE, "11010119900307123X");
        assert_eq!(
            open_str(&DataKey::generate(), &HERE, &sealed),
            Err(CryptoError::DecryptionFailed)
        );
    }

    #[test]
    fn tampered_or_truncated_field_does_not_open() {
        let key = DataKey::generate();
        let sealed = seal_str(&key, &HERE, "四川省成都市锦江区");
        for index in 1..sealed.len() {
            let mut tampered = sealed.clone();
            tampered[index] ^= 0x01;
            assert_eq!(
                open_field(&key, &HERE, &tampered),
                Err(CryptoError::DecryptionFailed),
                "byte {index} flipped"
            );
        }
        for len in 0..sealed.len() {
            assert!(
                open_field(&key, &HERE, &sealed[..len]).is_err(),
                "cut to {len}"
            );
        }
    }

    #[test]
    fn unknown_format_byte_is_reported_as_such() {
        let key = DataKey::generate();
        let mut sealed = seal_str(&key, &HERE, "x");
        sealed[0] = 2;
        assert_eq!(
            open_field(&key, &HERE, &sealed),
            Err(CryptoError::Malformed(
                "sealed field has an unknown format version"
            ))
        );
    }

    #[test]
    fn bytes_that_are_not_text_are_refused_by_open_str() {
        let key = DataKey::generate();
        let sealed = seal_field(&key, &HERE, &[0xff, 0xfe]);
        assert_eq!(
            open_str(&key, &HERE, &sealed),
            Err(CryptoError::Malformed("sealed field is not UTF-8 text"))
        );
    }

    #[test]
    fn data_key_round_trips_through_its_bytes() {
        let key = DataKey::generate();
        let same = DataKey::from_bytes(key.expose_bytes());
        let sealed = seal_str(&key, &HERE, "x");
        assert_eq!(open_str(&same, &HERE, &sealed).unwrap(), "x");
    }

    #[test]
    fn data_key_is_zeroized_on_drop_and_not_in_debug() {
        fn wiped_on_drop<T: ZeroizeOnDrop>() {}
        wiped_on_drop::<DataKey>();

        let key = DataKey::generate();
        let rendered = format!("{key:?}");
        assert_eq!(rendered, "DataKey { .. }");
        crate::test_support::assert_no_key_material(&rendered, key.expose_bytes());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn any_bytes_round_trip(
            plaintext in proptest::collection::vec(any::<u8>(), 0..512),
            table in "[a-z_]{0,12}",
            column in "[a-z_]{0,12}",
            row_id in proptest::collection::vec(any::<u8>(), 0..40),
        ) {
            let key = DataKey::generate();
            let aad = FieldAad::new(&table, &column, &row_id);
            let sealed = seal_field(&key, &aad, &plaintext);
            prop_assert_eq!(sealed.len(), plaintext.len() + SEALED_FIELD_OVERHEAD);
            prop_assert_eq!(open_field(&key, &aad, &sealed).unwrap(), plaintext);
        }

        #[test]
        fn any_other_place_is_refused(
            a in ("[a-c]{0,3}", "[a-c]{0,3}", proptest::collection::vec(0u8..3, 0..3)),
            b in ("[a-c]{0,3}", "[a-c]{0,3}", proptest::collection::vec(0u8..3, 0..3)),
        ) {
            prop_assume!(a != b);
            let key = DataKey::generate();
            let sealed = seal_field(&key, &FieldAad::new(&a.0, &a.1, &a.2), b"value");
            prop_assert_eq!(
                open_field(&key, &FieldAad::new(&b.0, &b.1, &b.2), &sealed),
                Err(CryptoError::DecryptionFailed)
            );
        }
    }
}
