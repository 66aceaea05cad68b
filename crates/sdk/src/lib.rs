//! The client side of Bianmin's signed requests, and the one definition of what is signed.
//!
//! A citizen's device (the bank app, or the H5 pages in a browser) enrols an SM2 key
//! (`POST /api/v1/me/devices`) and from then on signs every request under `/api/v1/me/` with
//! it, so that a session token copied into a crawler is not enough to use the API. The
//! server may also ask a client it finds suspicious for a proof of work before serving it.
//! `docs/sdk.md` ("Signed requests") is the specification; this crate implements it:
//!
//! | item | for |
//! | --- | --- |
//! | [`canonical_request`], [`canonical_query`], [`body_digest_hex`], [`is_valid_nonce`], [`parse_timestamp`], [`is_signed_path`] | both sides: the exact text a device signs and the server verifies |
//! | [`DeviceSigner`], [`SignedHeaders`] | a device: the four `x-bm-*` signature headers of one request |
//! | [`answer_challenge`] | a device: the `x-bm-challenge` answer to a `428 guard.challenge` |
//! | `Client` (feature `client`) | tests, the bench and tools: an HTTP client that behaves like the bank app |
//!
//! Without the `client` feature the crate is pure: no I/O, no clock, no HTTP. The server
//! depends on it that way and verifies with the same [`canonical_request`] the clients sign.
//!
//! ```
//! use bianmin_crypto::Sm2SigningKey;
//! use bianmin_sdk::{DeviceSigner, SIGNER_ID, canonical_request};
//!
//! let key = Sm2SigningKey::generate();
//! let verifying_key = key.verifying_key();
//! let signer = DeviceSigner::new(uuid::Uuid::now_v7(), key);
//! let body = r#"{"plate":"川A12345"}"#.as_bytes();
//! let headers = signer.sign(
//!     "POST", "/api/v1/me/traffic/payments", None, body,
//!     1_750_000_000, "00112233445566778899aabbccddeeff",
//! );
//!
//! // What the server does with the headers it received:
//! let message = canonical_request(
//!     "POST", "/api/v1/me/traffic/payments", None,
//!     headers.timestamp.parse()?, &headers.nonce, body,
//! );
//! let signature = hex::decode(&headers.signature)?;
//! verifying_key.verify(SIGNER_ID, message.as_bytes(), &signature)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

mod canonical;
mod challenge;
#[cfg(feature = "client")]
mod client;
mod error;
mod signer;

pub use self::canonical::{
    body_digest_hex, canonical_query, canonical_request, is_signed_path, is_valid_nonce,
    parse_timestamp,
};
pub use self::challenge::answer_challenge;
#[cfg(feature = "client")]
pub use self::client::{Client, DEFAULT_USER_AGENT, Refusal};
pub use self::error::SdkError;
pub use self::signer::{DeviceSigner, SignedHeaders, new_nonce};

/// Header carrying the id of the enrolled device whose key signed the request.
pub const HEADER_DEVICE: &str = "x-bm-device";
/// Header carrying the signing time, Unix seconds in decimal.
pub const HEADER_TIMESTAMP: &str = "x-bm-timestamp";
/// Header carrying the request's nonce, hexadecimal.
pub const HEADER_NONCE: &str = "x-bm-nonce";
/// Header carrying the SM2 signature `r || s`, 128 hexadecimal digits.
pub const HEADER_SIGNATURE: &str = "x-bm-signature";
/// Optional header in which the client names itself: `h5`, `app` or `sdk-rust`, with
/// `; webdriver` appended by a browser driven by automation.
pub const HEADER_CLIENT: &str = "x-bm-client";
/// Header answering a proof-of-work challenge: `<token>:<counter>`.
pub const HEADER_CHALLENGE: &str = "x-bm-challenge";

/// The first line of every canonical request, so that a request signature is never valid
/// as a signature of anything else a device signs (a loan contract, say).
pub const SIGNATURE_CONTEXT: &str = "bianmin.request.v1";
/// How far, in seconds, a request's timestamp may be from the server's clock, either way.
pub const MAX_CLOCK_SKEW_SECS: i64 = 300;
/// How long, in seconds, the server remembers a nonce. It is longer than the whole window
/// of accepted timestamps (twice [`MAX_CLOCK_SKEW_SECS`]), so a replay is refused as
/// `signature.replayed` or `signature.stale`, never accepted.
pub const NONCE_WINDOW_SECS: i64 = 600;
/// The SM2 signer id `ID_A` of device signatures: the default of GB/T 35276-2017.
pub const SIGNER_ID: &str = bianmin_crypto::DEFAULT_SM2_USER_ID;

/// Length in bytes of the nonces this crate makes (32 hexadecimal digits).
pub const NONCE_LEN: usize = 16;
