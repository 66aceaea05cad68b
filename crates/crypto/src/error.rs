//! The crate's single error type.

/// Why a cryptographic operation was refused.
///
/// Messages are fixed strings: no variant ever carries key material, plaintext,
/// or any byte of the input, so an error can be logged or returned to a client
/// as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// The bytes do not encode a usable key: wrong length, an SM2 secret scalar
    /// that is zero or not below the curve order, or a public key that is not a
    /// point on the SM2 curve.
    #[error("invalid key")]
    InvalidKey,

    /// The signature is well-formed but does not verify for this public key,
    /// user id and message.
    #[error("invalid signature")]
    InvalidSignature,

    /// Authenticated decryption failed. Deliberately says nothing more (tag
    /// mismatch, truncated input and wrong key all look the same), so the error
    /// cannot serve as a decryption oracle.
    #[error("decryption failed")]
    DecryptionFailed,

    /// The input is not in the expected encoding; the text names what was
    /// expected, never what was received.
    #[error("malformed input: {0}")]
    Malformed(&'static str),

    /// The operating system's random number generator failed. Nothing was
    /// produced: this crate never falls back to a weaker source.
    #[error("the operating system's random number generator is unavailable")]
    RandomnessUnavailable,
}

#[cfg(test)]
mod tests {
    use super::CryptoError;

    #[test]
    fn messages_are_fixed_and_decryption_failure_gives_no_reason() {
        assert_eq!(
            CryptoError::DecryptionFailed.to_string(),
            "decryption failed"
        );
        assert_eq!(CryptoError::InvalidKey.to_string(), "invalid key");
        assert_eq!(
            CryptoError::Malformed("SM2 public key must be hex").to_string(),
            "malformed input: SM2 public key must be hex"
        );
    }
}
