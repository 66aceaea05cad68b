//! The crate's single error type.

use bianmin_crypto::CryptoError;
use bianmin_store::StoreError;

/// Why a call on [`PersonVault`](crate::PersonVault) did not succeed.
///
/// Messages are fixed English text for logs and for the server's mapping; they never carry
/// personal data, key material or ciphertext. The server turns each variant into a
/// problem+json response with a Chinese `detail`.
#[derive(Debug, thiserror::Error)]
pub enum PeopleError {
    /// No person has this id.
    #[error("person not found")]
    NotFound,

    /// The person was erased: their data key is destroyed and nothing of theirs decrypts.
    #[error("person has been erased")]
    Erased,

    /// An argument was refused before anything was read or written; the text says which rule
    /// it broke, never what it contained.
    #[error("invalid input: {0}")]
    InvalidInput(&'static str),

    /// A stored ciphertext or wrapped key does not open for the row it is in: it was altered,
    /// or copied from another person, column or table. Nothing was decrypted. This is an
    /// integrity incident, not a user error.
    #[error("stored field {field} does not decrypt: it was altered or does not belong to this row")]
    Corrupt {
        /// `table.column` of the field, e.g. `persons.name_enc`.
        field: String,
    },

    /// The key service refused an operation for a reason other than a bad ciphertext, e.g.
    /// the data key is wrapped under a retired or unknown key-encryption-key version.
    #[error("key service refused the operation: {0}")]
    Crypto(#[from] CryptoError),

    /// The person's record kept changing under concurrent writes and the operation gave up
    /// after a few attempts; retrying later is safe.
    #[error("the person record changed concurrently too often; retry")]
    Conflict,

    /// A batch of key operations was cancelled because the runtime is shutting down. Nothing
    /// of that batch was written.
    #[error("key operations were interrupted by shutdown")]
    Interrupted,

    /// The database failed.
    #[error("storage error: {0}")]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for PeopleError {
    fn from(error: sqlx::Error) -> Self {
        PeopleError::Store(StoreError::Database(error))
    }
}
