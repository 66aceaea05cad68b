//! The deployment secret and the purpose-bound keys derived from it.

use std::fmt;

use bianmin_crypto::hmac_sm3;
use zeroize::Zeroize;

use crate::GuardError;

/// The deployment secret of the guard: the one key from which every MAC and pseudonym in this
/// crate is derived.
///
/// Every instance of a deployment must use the same secret, so that they agree on rate-limit
/// keys in Redis and accept each other's challenge tokens. Each use gets its own key derived
/// as `HMAC-SM3(secret, "bianmin-guard:" || purpose)`, so a pseudonym of one kind can never be
/// confused with a MAC or a pseudonym of another. The secret is zeroized on drop and never
/// shown by `Debug`.
#[derive(Clone)]
pub struct GuardSecret(Box<[u8]>);

impl GuardSecret {
    /// The shortest secret accepted, in bytes.
    pub const MIN_LEN: usize = 32;

    /// Takes the secret's bytes (at least [`GuardSecret::MIN_LEN`], e.g. from
    /// `bianmin_crypto::random_bytes::<32>()` stored in the deployment's keyring).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, GuardError> {
        if bytes.len() < Self::MIN_LEN {
            return Err(GuardError::InvalidConfig(
                "the guard secret must be at least 32 bytes",
            ));
        }
        Ok(Self(bytes.into()))
    }

    /// The key for one `purpose`; different purposes give independent keys.
    pub(crate) fn derive(&self, purpose: &str) -> SubKey {
        let label = format!("bianmin-guard:{purpose}");
        SubKey(hmac_sm3(&self.0, label.as_bytes()))
    }
}

impl fmt::Debug for GuardSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("GuardSecret(..)")
    }
}

impl Drop for GuardSecret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// Length in bytes of a pseudonym: 128 bits, so that two different values of the same kind
/// collide with negligible probability even across billions of keys.
pub(crate) const PSEUDONYM_LEN: usize = 16;

/// A key derived from the [`GuardSecret`] for a single purpose.
pub(crate) struct SubKey([u8; 32]);

impl SubKey {
    /// The HMAC-SM3 of `data` under this key.
    pub(crate) fn mac(&self, data: &[u8]) -> [u8; 32] {
        hmac_sm3(&self.0, data)
    }

    /// Checks a MAC in constant time.
    pub(crate) fn verify(&self, data: &[u8], tag: &[u8]) -> bool {
        bianmin_crypto::hmac_sm3_verify(&self.0, data, tag)
    }

    /// A pseudonym for `value` of the kind `domain`: the HMAC-SM3 of `domain || 0x00 || value`
    /// truncated to 16 bytes. It identifies the value (equal values, equal pseudonyms) without
    /// revealing it to anyone who lacks the secret, which matters for addresses and account
    /// names: brute-forcing an unkeyed hash of an IPv4 address takes seconds.
    pub(crate) fn pseudonym(&self, domain: &str, value: &str) -> [u8; PSEUDONYM_LEN] {
        let mut input = Vec::with_capacity(domain.len() + 1 + value.len());
        input.extend_from_slice(domain.as_bytes());
        input.push(0);
        input.extend_from_slice(value.as_bytes());
        let tag = self.mac(&input);
        input.zeroize();
        let mut pseudonym = [0u8; PSEUDONYM_LEN];
        pseudonym.copy_from_slice(&tag[..PSEUDONYM_LEN]);
        pseudonym
    }
}

impl Drop for SubKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_secrets_are_refused() {
        assert!(GuardSecret::from_bytes(&[1u8; 31]).is_err());
        assert!(GuardSecret::from_bytes(&[1u8; 32]).is_ok());
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let secret = GuardSecret::from_bytes(&[0xabu8; 32]).unwrap();
        let shown = format!("{secret:?}");
        assert!(!shown.contains("ab") && !shown.contains("171"), "{shown}");
    }

    #[test]
    fn pseudonyms_depend_on_purpose_domain_and_secret() {
        let secret = GuardSecret::from_bytes(&[1u8; 32]).unwrap();
        let other_secret = GuardSecret::from_bytes(&[2u8; 32]).unwrap();
        let limits = secret.derive("limit");
        let value = "203.0.113.7";
        assert_eq!(limits.pseudonym("ip", value), limits.pseudonym("ip", value));
        assert_ne!(
            limits.pseudonym("ip", value),
            limits.pseudonym("user", value)
        );
        assert_ne!(
            limits.pseudonym("ip", value),
            secret.derive("login").pseudonym("ip", value)
        );
        assert_ne!(
            limits.pseudonym("ip", value),
            other_secret.derive("limit").pseudonym("ip", value)
        );
    }
}
