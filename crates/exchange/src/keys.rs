//! A subsystem's own private keys.

use std::fmt;

use bianmin_crypto::Sm2SigningKey;

use crate::{ClientId, ExchangeError, Subsystem};

/// The two SM2 key pairs of one subsystem: `sign` signs its requests, responses, consents and
/// log records; `enc` decrypts the payloads others encrypt to it. Their public halves are what
/// the registry lists for [`id`](Self::id).
///
/// `Debug` shows the identifier and public keys only. The keys are not `Clone` (secret
/// material is shared, not copied): the client, provider and message log take them as
/// `impl Into<Arc<MemberKeys>>`, so one `Arc` can serve all three.
pub struct MemberKeys {
    /// Whose keys these are.
    pub id: ClientId,
    /// The signing key (signer id = `id`).
    pub sign: Sm2SigningKey,
    /// The encryption key pair (payloads are encrypted to its public half).
    pub enc: Sm2SigningKey,
}

impl MemberKeys {
    /// Fresh keys from the OS random generator, for tests, simulators and first set-up.
    #[must_use]
    pub fn generate(id: ClientId) -> MemberKeys {
        MemberKeys {
            id,
            sign: Sm2SigningKey::generate(),
            enc: Sm2SigningKey::generate(),
        }
    }

    /// Keys restored from their 32-byte secret scalars (as kept in a key store).
    ///
    /// # Errors
    ///
    /// [`ExchangeError::Crypto`] if either is not a valid SM2 secret key.
    pub fn from_secret_bytes(
        id: ClientId,
        sign: &[u8],
        enc: &[u8],
    ) -> Result<MemberKeys, ExchangeError> {
        Ok(MemberKeys {
            id,
            sign: Sm2SigningKey::from_secret_bytes(sign)?,
            enc: Sm2SigningKey::from_secret_bytes(enc)?,
        })
    }

    /// The registry entry for this subsystem: its public keys, with `name` and `base_url`.
    #[must_use]
    pub fn subsystem(&self, name: impl Into<String>, base_url: Option<String>) -> Subsystem {
        Subsystem {
            id: self.id.clone(),
            name: name.into(),
            sign_key: self.sign.verifying_key(),
            enc_key: self.enc.verifying_key(),
            base_url,
        }
    }
}

impl fmt::Debug for MemberKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemberKeys")
            .field("id", &self.id)
            .field("sign", &self.sign.verifying_key())
            .field("enc", &self.enc.verifying_key())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_no_secret() {
        let keys = MemberKeys::generate("CN-CD/COM/bank/bianmin".parse().unwrap());
        let rendered = format!("{keys:?}");
        for secret in [keys.sign.secret_bytes(), keys.enc.secret_bytes()] {
            assert!(!rendered.contains(&hex::encode(&secret[..8])));
        }
        assert!(rendered.contains("CN-CD/COM/bank/bianmin"));
    }

    #[test]
    fn restored_keys_are_the_same_keys() {
        let keys = MemberKeys::generate("CN-CD/COM/bank/bianmin".parse().unwrap());
        let restored = MemberKeys::from_secret_bytes(
            keys.id.clone(),
            keys.sign.secret_bytes().as_slice(),
            keys.enc.secret_bytes().as_slice(),
        )
        .unwrap();
        assert_eq!(restored.sign.verifying_key(), keys.sign.verifying_key());
        assert_eq!(restored.enc.verifying_key(), keys.enc.verifying_key());
        assert!(MemberKeys::from_secret_bytes(keys.id.clone(), &[0; 32], &[1; 32]).is_err());
    }
}
