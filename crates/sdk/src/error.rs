//! The crate's one error type.

/// Everything that can go wrong in `bianmin-sdk`.
///
/// Messages never contain a session token, a key or a challenge token.
#[derive(Debug, thiserror::Error)]
pub enum SdkError {
    /// The challenge token is not a token of the documented layout (148 hexadecimal digits,
    /// version 1, difficulty from 1 to 32 bits).
    #[error("malformed challenge token")]
    MalformedChallenge,

    /// The search for a challenge's answer did not finish (its task panicked or was
    /// cancelled).
    #[error("the proof-of-work search did not finish")]
    SolverInterrupted,

    /// The base URL, or a path joined to it, is not a valid URL.
    #[cfg(feature = "client")]
    #[error("invalid URL: {0}")]
    InvalidUrl(String),

    /// The request could not be sent or its answer not read.
    #[cfg(feature = "client")]
    #[error("HTTP request failed: {0}")]
    Http(#[from] reqwest::Error),

    /// A body could not be serialised, or an answer the client needs to read is not the
    /// documented JSON.
    #[cfg(feature = "client")]
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),

    /// The server refused in a way the client does not get past by itself: blocked (403
    /// `guard.blocked`), rate limited (429), a challenge still asked after it was answered
    /// once, or a failed enrolment.
    #[cfg(feature = "client")]
    #[error("refused by the server: HTTP {} {}", .0.status, .0.code)]
    Refused(Box<crate::Refusal>),
}
