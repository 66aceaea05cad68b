//! The crate's one error type.

use std::time::Duration;

/// Everything that can go wrong in `bianmin-guard`.
///
/// Messages are fixed strings and numbers: never a key, a subject, an account or a token, so
/// an error can be logged as it is. The challenge variants tell the server why an answer was
/// refused; what the client is told is the server's decision (one generic refusal is usual).
#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    /// A constructor was given a value outside its documented range.
    #[error("invalid guard configuration: {0}")]
    InvalidConfig(&'static str),

    /// Redis answered with an error or could not be reached.
    #[error("Redis error: {0}")]
    Redis(#[from] redis::RedisError),

    /// Redis did not answer within the deadline the crate allows a request to wait.
    #[error("Redis did not answer within {0:?}")]
    RedisTimeout(Duration),

    /// The challenge token is not a token of this format (wrong length, encoding or version).
    #[error("malformed challenge token")]
    ChallengeMalformed,

    /// The token's MAC does not verify: it was not issued under this deployment's secret, or
    /// it was altered.
    #[error("challenge token was not issued by this deployment")]
    ChallengeForged,

    /// The token was issued to another subject (session, device or address).
    #[error("challenge was issued to another subject")]
    ChallengeWrongSubject,

    /// The token's expiry time has passed.
    #[error("challenge has expired")]
    ChallengeExpired,

    /// The counter does not give a digest with the required number of leading zero bits.
    #[error("challenge answer does not carry the required work")]
    ChallengeInsufficientWork,

    /// The token has already been answered once.
    #[error("challenge has already been answered")]
    ChallengeReused,
}
