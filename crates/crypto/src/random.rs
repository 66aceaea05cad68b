//! Randomness from the operating system's CSPRNG.
//!
//! Keys, nonces and the SM2 per-signature / per-encryption values all come
//! from here (`getrandom`, i.e. `getrandom(2)` on Linux), never from a
//! user-space or seeded generator.

/// Message of the panic raised when the OS RNG fails where the API has no error
/// channel. Carrying on without randomness would mean repeated nonces or
/// guessable keys, which is worse than stopping.
pub(crate) const OS_RNG_FAILED: &str = "the operating system's random number generator failed; refusing to continue without randomness";

/// Returns `N` bytes from the operating system's cryptographically secure
/// random number generator.
///
/// Use it for keys, nonces and salts. Tests that need reproducible bytes should
/// use fixed values instead of mocking this function.
///
/// # Panics
///
/// If the operating system's RNG fails (on Linux only before the entropy pool
/// is first initialised, or when `getrandom(2)` is forbidden by a sandbox).
#[must_use]
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    if getrandom::fill(&mut bytes).is_err() {
        panic!("{OS_RNG_FAILED}");
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::random_bytes;

    #[test]
    fn successive_calls_differ() {
        // Two equal 32-byte draws happen with probability 2^-256: equality means a broken source.
        assert_ne!(random_bytes::<32>(), random_bytes::<32>());
    }

    #[test]
    fn zero_length_is_allowed() {
        assert_eq!(random_bytes::<0>(), [0u8; 0]);
    }
}
