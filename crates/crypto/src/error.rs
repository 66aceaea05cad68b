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

    /// The data key was wrapped under a key-encryption key older than the
    /// keyring's minimum decryption version. It must have been rewrapped before
    /// that version was retired; otherwise the data it protects is lost, which
    /// is exactly what retirement is for.
    #[error(
        "key-encryption key version {version} is retired (below the minimum decryption version)"
    )]
    KeyVersionRetired {
        /// The retired version the wrapped key names.
        version: u32,
    },

    /// The wrapped key names a key-encryption key version that the keyring does
    /// not hold, e.g. one created by a newer key file than this process loaded.
    #[error("key-encryption key version {version} is not in the keyring")]
    UnknownKeyVersion {
        /// The version the wrapped key names.
        version: u32,
    },

    /// Retiring the requested versions would retire the current one, after
    /// which nothing newly wrapped could be unwrapped. Rotate first.
    #[error("refusing to retire the current key-encryption key version {current}; rotate first")]
    WouldRetireCurrentVersion {
        /// The keyring's current version.
        current: u32,
    },

    /// The key file can be read or written by users other than its owner, so
    /// the keys in it must be considered exposed to them; it is not loaded.
    #[error("key file is accessible to other users; restrict it to its owner (chmod 600)")]
    KeyFileExposed,

    /// The key file could not be read or written. Carries only the kind of I/O
    /// failure; the caller knows the path and adds it to its own message.
    #[error("key file could not be read or written: {0}")]
    KeyFileIo(std::io::ErrorKind),
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
        assert_eq!(
            CryptoError::KeyVersionRetired { version: 1 }.to_string(),
            "key-encryption key version 1 is retired (below the minimum decryption version)"
        );
        assert_eq!(
            CryptoError::KeyFileIo(std::io::ErrorKind::NotFound).to_string(),
            "key file could not be read or written: entity not found"
        );
    }
}
