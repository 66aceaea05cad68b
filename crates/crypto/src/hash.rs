//! SM3 (GB/T 32905-2016) and HMAC-SM3 (RFC 2104 / GB/T 15852.2 with SM3, as
//! profiled by GM/T 0042-2015).

use hmac::{Hmac, KeyInit, Mac};
use sm3::{Digest, Sm3};

/// HMAC instantiated with SM3 (64-byte block, 32-byte tag).
type HmacSm3 = Hmac<Sm3>;

/// Length in bytes of an SM3 digest and of an HMAC-SM3 tag.
pub const SM3_OUTPUT_LEN: usize = 32;

/// SM3 digest of `data` (GB/T 32905-2016).
///
/// Use it for integrity of stored data where no key is involved; to
/// authenticate data against tampering by someone who can recompute a plain
/// hash, use [`hmac_sm3`].
#[must_use]
pub fn sm3_digest(data: &[u8]) -> [u8; SM3_OUTPUT_LEN] {
    Sm3::digest(data).into()
}

/// HMAC-SM3 tag of `data` under `key`.
///
/// Any key length is accepted (keys longer than 64 bytes are hashed first, as
/// RFC 2104 prescribes); use at least 32 random bytes, e.g. from
/// [`random_bytes`](crate::random_bytes).
#[must_use]
pub fn hmac_sm3(key: &[u8], data: &[u8]) -> [u8; SM3_OUTPUT_LEN] {
    keyed(key).chain_update(data).finalize().into_bytes().into()
}

/// HMAC-SM3 tag under `key` of the concatenation of `parts`, without copying
/// them into one buffer (the parts may be personal data).
pub(crate) fn hmac_sm3_parts(key: &[u8], parts: &[&[u8]]) -> [u8; SM3_OUTPUT_LEN] {
    let mut mac = keyed(key);
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// Checks `tag` against the HMAC-SM3 of `data` under `key`, in constant time.
///
/// Returns `false` for a tag of any length other than 32 bytes: truncated tags
/// are not accepted. The comparison time depends only on the tag's length,
/// never on how many of its bytes match.
#[must_use]
pub fn hmac_sm3_verify(key: &[u8], data: &[u8], tag: &[u8]) -> bool {
    keyed(key).chain_update(data).verify_slice(tag).is_ok()
}

/// An HMAC-SM3 instance keyed with `key`.
fn keyed(key: &[u8]) -> HmacSm3 {
    match HmacSm3::new_from_slice(key) {
        Ok(mac) => mac,
        // Infallible: HMAC is defined for keys of every length, and hmac 0.13's
        // `new_from_slice` hashes or pads the key and always returns `Ok`.
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_round_trip_verifies() {
        let key = [7u8; 32];
        let tag = hmac_sm3(&key, b"resident 110101199003071234");
        assert!(hmac_sm3_verify(&key, b"resident 110101199003071234", &tag));
    }

    #[test]
    fn hmac_rejects_other_data_key_or_tag() {
        let key = [7u8; 32];
        let tag = hmac_sm3(&key, b"amount=100.00");
        assert!(!hmac_sm3_verify(&key, b"amount=900.00", &tag));
        assert!(!hmac_sm3_verify(&[8u8; 32], b"amount=100.00", &tag));

        let mut flipped = tag;
        flipped[31] ^= 0x01;
        assert!(!hmac_sm3_verify(&key, b"amount=100.00", &flipped));
    }

    #[test]
    fn hmac_rejects_truncated_or_extended_tags() {
        let key = [7u8; 32];
        let tag = hmac_sm3(&key, b"data");
        assert!(!hmac_sm3_verify(&key, b"data", &tag[..16]));
        assert!(!hmac_sm3_verify(&key, b"data", &[]));
        let mut extended = tag.to_vec();
        extended.push(0);
        assert!(!hmac_sm3_verify(&key, b"data", &extended));
    }

    #[test]
    fn hmac_accepts_long_and_empty_keys() {
        // Keys longer than the 64-byte block are hashed first (RFC 2104 §2), so
        // a long key equals its SM3 digest used as the key.
        let long_key = [0x5au8; 100];
        assert_eq!(
            hmac_sm3(&long_key, b"x"),
            hmac_sm3(&sm3_digest(&long_key), b"x")
        );
        let tag = hmac_sm3(&[], b"x");
        assert!(hmac_sm3_verify(&[], b"x", &tag));
    }

    #[test]
    fn hmac_of_parts_equals_hmac_of_their_concatenation() {
        let key = [9u8; 32];
        assert_eq!(
            hmac_sm3_parts(&key, &[b"resident_id", b"\x00", b"11010119900307123X"]),
            hmac_sm3(&key, b"resident_id\x0011010119900307123X")
        );
        assert_eq!(hmac_sm3_parts(&key, &[]), hmac_sm3(&key, b""));
    }

    #[test]
    fn sm3_of_empty_input_is_the_known_value() {
        // SM3("") as published with GmSSL, OpenSSL and the RustCrypto sm3 crate.
        assert_eq!(
            hex::encode(sm3_digest(b"")),
            "1ab21d8355cfa17f8e61194831e81a8f22bec8c728fefb747ed035eb5082aa2b"
        );
    }
}
