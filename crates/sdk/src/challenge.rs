//! Answering the server's proof-of-work challenge (`428 guard.challenge`).

use bianmin_guard::{Challenge, solve};

use crate::SdkError;

/// The `x-bm-challenge` value answering `token` (the `challenge.token` of a 428 answer):
/// `<token>:<counter>`, the token as received and the first counter that gives
/// `SM3(token bytes || counter as 8 bytes big-endian)` the token's number of leading zero
/// bits (see `bianmin_guard::challenge`).
///
/// This is CPU work, about `2^difficulty` SM3 hashes (65,536 at the default 16 bits, a few
/// milliseconds); from async code, run it on a blocking thread.
///
/// # Errors
///
/// [`SdkError::MalformedChallenge`] if `token` is not a challenge token of the documented
/// layout.
pub fn answer_challenge(token: &str) -> Result<String, SdkError> {
    let challenge = Challenge::parse(token).map_err(|_| SdkError::MalformedChallenge)?;
    Ok(format!("{token}:{}", solve(&challenge)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_tokens_are_refused() {
        for token in [
            "",
            "01",
            &"zz".repeat(74),
            &format!("02{}", "00".repeat(73)),
        ] {
            assert!(matches!(
                answer_challenge(token),
                Err(SdkError::MalformedChallenge)
            ));
        }
    }
}
