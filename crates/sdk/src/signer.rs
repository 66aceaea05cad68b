//! A device's signature over one request, as the four `x-bm-*` headers.

use bianmin_crypto::{Sm2SigningKey, Sm2VerifyingKey, random_bytes};
use uuid::Uuid;

use crate::{
    HEADER_DEVICE, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP, NONCE_LEN, SIGNER_ID,
    canonical_request,
};

/// An enrolled device: its id (from `POST /api/v1/me/devices`) and its SM2 private key.
///
/// `Debug` shows the id and the public key only.
#[derive(Debug)]
pub struct DeviceSigner {
    device_id: Uuid,
    key: Sm2SigningKey,
}

impl DeviceSigner {
    /// The signer of device `device_id`, whose enrolled public key is `key`'s.
    #[must_use]
    pub fn new(device_id: Uuid, key: Sm2SigningKey) -> Self {
        Self { device_id, key }
    }

    /// The device id sent as `x-bm-device`.
    #[must_use]
    pub fn device_id(&self) -> Uuid {
        self.device_id
    }

    /// The public key the server checks this device's signatures with.
    #[must_use]
    pub fn verifying_key(&self) -> Sm2VerifyingKey {
        self.key.verifying_key()
    }

    /// Signs one request: the [`canonical_request`] of `method`, `path` and `query` exactly
    /// as in the request line, the exact `body` bytes, `timestamp` (Unix seconds) and `nonce`
    /// (16 to 64 hexadecimal digits, never used before; see [`new_nonce`]).
    ///
    /// The nonce header is sent lower-cased, as it is signed.
    #[must_use]
    pub fn sign(
        &self,
        method: &str,
        path: &str,
        query: Option<&str>,
        body: &[u8],
        timestamp: i64,
        nonce: &str,
    ) -> SignedHeaders {
        let message = canonical_request(method, path, query, timestamp, nonce, body);
        let signature = self.key.sign(SIGNER_ID, message.as_bytes());
        SignedHeaders {
            device: self.device_id.to_string(),
            timestamp: timestamp.to_string(),
            nonce: nonce.to_ascii_lowercase(),
            signature: hex::encode(signature),
        }
    }

    /// Signs one request now, with a fresh random nonce. `path_and_query` is the request
    /// target exactly as sent (percent-encoded), e.g. `/api/v1/me/traffic/violations?plate=%E5%B7%9DA12345`;
    /// the query is what follows the first `?`.
    ///
    /// Reads the system clock; [`sign`](Self::sign) takes the time from the caller.
    #[must_use]
    pub fn sign_now(&self, method: &str, path_and_query: &str, body: &[u8]) -> SignedHeaders {
        let (path, query) = match path_and_query.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (path_and_query, None),
        };
        let now = chrono::Utc::now().timestamp();
        self.sign(method, path, query, body, now, &new_nonce())
    }
}

/// A fresh nonce: 16 bytes from the operating system's CSPRNG as 32 lower-case hexadecimal
/// digits.
///
/// # Panics
///
/// If the operating system's RNG fails (see [`bianmin_crypto::random_bytes`]).
#[must_use]
pub fn new_nonce() -> String {
    hex::encode(random_bytes::<NONCE_LEN>())
}

/// The signature headers of one request, values ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    /// `x-bm-device`: the device id.
    pub device: String,
    /// `x-bm-timestamp`: Unix seconds in decimal.
    pub timestamp: String,
    /// `x-bm-nonce`: lower-case hexadecimal.
    pub nonce: String,
    /// `x-bm-signature`: `r || s`, 128 lower-case hexadecimal digits.
    pub signature: String,
}

impl SignedHeaders {
    /// The four headers as (lower-case name, value) pairs.
    #[must_use]
    pub fn pairs(&self) -> [(&'static str, String); 4] {
        [
            (HEADER_DEVICE, self.device.clone()),
            (HEADER_TIMESTAMP, self.timestamp.clone()),
            (HEADER_NONCE, self.nonce.clone()),
            (HEADER_SIGNATURE, self.signature.clone()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::is_valid_nonce;

    #[test]
    fn nonces_are_fresh_32_hex_digits() {
        let first = new_nonce();
        assert_eq!(first.len(), 32);
        assert!(is_valid_nonce(&first));
        assert_eq!(first, first.to_ascii_lowercase());
        assert_ne!(first, new_nonce());
    }

    #[test]
    fn sign_now_splits_the_query_at_the_first_question_mark() {
        let key = Sm2SigningKey::generate();
        let public = key.verifying_key();
        let signer = DeviceSigner::new(Uuid::nil(), key);
        let headers = signer.sign_now("get", "/api/v1/me/x?b=2?&a=1", b"");
        let message = canonical_request(
            "GET",
            "/api/v1/me/x",
            Some("b=2?&a=1"),
            headers.timestamp.parse().unwrap(),
            &headers.nonce,
            b"",
        );
        let signature = hex::decode(&headers.signature).unwrap();
        public
            .verify(SIGNER_ID, message.as_bytes(), &signature)
            .unwrap();
        let now = chrono::Utc::now().timestamp();
        assert!((now - headers.timestamp.parse::<i64>().unwrap()).abs() <= 5);
        assert_eq!(
            headers.pairs().map(|(name, _)| name),
            [
                "x-bm-device",
                "x-bm-timestamp",
                "x-bm-nonce",
                "x-bm-signature"
            ]
        );
    }
}
