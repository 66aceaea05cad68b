//! The canonical request: the text a device signs and the server verifies.
//!
//! ```text
//! bianmin.request.v1
//! <METHOD upper-case>
//! <path as in the request line, percent-encoding as sent, no query>
//! <canonical query>
//! <timestamp, as in x-bm-timestamp>
//! <nonce, lower-case>
//! <SM3 of the body bytes, 64 lower-case hexadecimal digits>
//! ```
//!
//! Lines are joined by `\n` with no trailing newline. Nothing is decoded or re-encoded: both
//! sides sign the bytes that travel, so a proxy that rewrites the path or the query breaks
//! signatures rather than changing what was signed.

use bianmin_crypto::sm3_digest;

use crate::SIGNATURE_CONTEXT;

/// The canonical form of a raw query string (as sent, without the leading `?`): split on
/// `&`, empty pieces dropped, the pieces sorted by byte value and joined with `&`. No
/// query, or one with nothing but separators, gives the empty string.
///
/// Sorting makes the signature independent of the order in which a client library writes
/// parameters; duplicates are kept, since `a=1&a=2` and `a=1` mean different things.
#[must_use]
pub fn canonical_query(raw: Option<&str>) -> String {
    let Some(raw) = raw else {
        return String::new();
    };
    let mut pieces: Vec<&str> = raw.split('&').filter(|piece| !piece.is_empty()).collect();
    // `str`'s order is the order of its UTF-8 bytes.
    pieces.sort_unstable();
    pieces.join("&")
}

/// SM3 of the exact body bytes as 64 lower-case hexadecimal digits; SM3 of empty input for
/// a request without a body.
#[must_use]
pub fn body_digest_hex(body: &[u8]) -> String {
    hex::encode(sm3_digest(body))
}

/// The canonical request of `docs/sdk.md` ("Signed requests"), which a device signs with
/// SM2 and the server verifies.
///
/// `method` is upper-cased and `nonce` lower-cased here; `path` and `query` must be exactly
/// as in the request line (still percent-encoded), `timestamp` the value of
/// `x-bm-timestamp` and `body` the exact bytes sent.
#[must_use]
pub fn canonical_request(
    method: &str,
    path: &str,
    query: Option<&str>,
    timestamp: i64,
    nonce: &str,
    body: &[u8],
) -> String {
    format!(
        "{SIGNATURE_CONTEXT}\n{}\n{path}\n{}\n{timestamp}\n{}\n{}",
        method.to_ascii_uppercase(),
        canonical_query(query),
        nonce.to_ascii_lowercase(),
        body_digest_hex(body),
    )
}

/// Whether `nonce` is acceptable: 16 to 64 hexadecimal digits, either case.
///
/// The canonical request holds the nonce lower-cased, so `ABCD…` and `abcd…` sign the same
/// text: whoever remembers nonces against replay must remember them lower-cased.
#[must_use]
pub fn is_valid_nonce(nonce: &str) -> bool {
    (16..=64).contains(&nonce.len()) && nonce.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Reads an `x-bm-timestamp` value: whole Unix seconds in plain decimal, without sign,
/// spaces or leading zeros, so that the text the client signed and the number the server
/// formats back into the canonical request are the same. `None` for anything else.
#[must_use]
pub fn parse_timestamp(value: &str) -> Option<i64> {
    let canonical = !value.is_empty()
        && value.bytes().all(|b| b.is_ascii_digit())
        && (value == "0" || !value.starts_with('0'));
    if canonical { value.parse().ok() } else { None }
}

/// Whether requests to `path` (the path of the request line, without the query) are signed:
/// questions to the assistant (`/api/v1/assistant/ask`, which answers a citizen's personal
/// questions from their own data) and everything under `/api/v1/me/` except the device
/// enrolment endpoints under
/// `/api/v1/me/devices`, which a device needs before it has an enrolled key, and event streams
/// (paths ending in `/events`), which browsers open with `EventSource` and cannot add headers
/// to; a stream only reports the steps of something the citizen started with a signed request.
/// `/api/v1/me` itself (who is signed in) is not under `/api/v1/me/` and is not signed.
#[must_use]
pub fn is_signed_path(path: &str) -> bool {
    const SIGNED: &str = "/api/v1/me/";
    const ASSISTANT: &str = "/api/v1/assistant/ask";
    if path == ASSISTANT {
        return true;
    }
    const ENROLMENT: &str = "/api/v1/me/devices";
    let enrolment = path
        .strip_prefix(ENROLMENT)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
    path.starts_with(SIGNED) && !enrolment && !path.ends_with("/events")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_is_sorted_by_bytes_with_empty_pieces_dropped() {
        assert_eq!(canonical_query(None), "");
        assert_eq!(canonical_query(Some("")), "");
        assert_eq!(canonical_query(Some("&&")), "");
        assert_eq!(
            canonical_query(Some("b=2&&a=1&")),
            "a=1&b=2",
            "empty pieces dropped"
        );
        // Byte order: upper case before lower case, `%` before digits, shorter prefix first.
        assert_eq!(
            canonical_query(Some("page=2&plate=%E5%B7%9DA12345&Page=1&p=&p")),
            "Page=1&p&p=&page=2&plate=%E5%B7%9DA12345"
        );
        assert_eq!(
            canonical_query(Some("a=2&a=1&a=1")),
            "a=1&a=1&a=2",
            "duplicates kept"
        );
    }

    #[test]
    fn nothing_is_decoded_or_re_encoded() {
        assert_eq!(canonical_query(Some("q=a+b")), "q=a+b");
        assert_eq!(canonical_query(Some("q=a%20b")), "q=a%20b");
        assert_eq!(canonical_query(Some("q=%e5%b7%9d")), "q=%e5%b7%9d");
        let request = canonical_request("get", "/api/v1/me/a%2Fb", None, 1, "AB", b"");
        assert!(request.contains("\n/api/v1/me/a%2Fb\n"));
        assert!(request.starts_with("bianmin.request.v1\nGET\n"));
        assert!(request.contains("\nab\n"));
    }

    #[test]
    fn the_empty_body_has_the_digest_of_empty_input() {
        assert_eq!(
            body_digest_hex(b""),
            "1ab21d8355cfa17f8e61194831e81a8f22bec8c728fefb747ed035eb5082aa2b"
        );
        // GB/T 32905-2016, example 1.
        assert_eq!(
            body_digest_hex(b"abc"),
            "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
        );
    }

    #[test]
    fn the_canonical_request_has_the_documented_layout() {
        let request = canonical_request(
            "post",
            "/api/v1/me/traffic/payments",
            Some("b=2&a=1"),
            1_750_000_000,
            "00112233445566778899AABBCCDDEEFF",
            b"",
        );
        assert_eq!(
            request,
            "bianmin.request.v1\n\
             POST\n\
             /api/v1/me/traffic/payments\n\
             a=1&b=2\n\
             1750000000\n\
             00112233445566778899aabbccddeeff\n\
             1ab21d8355cfa17f8e61194831e81a8f22bec8c728fefb747ed035eb5082aa2b"
        );
        let no_query = canonical_request("GET", "/api/v1/me/hpf/account", None, 0, "00", b"");
        assert!(
            no_query.contains("/api/v1/me/hpf/account\n\n0\n"),
            "an empty line for no query"
        );
        assert!(!no_query.ends_with('\n'));
    }

    #[test]
    fn nonces_are_16_to_64_hex_digits() {
        assert!(is_valid_nonce(&"a".repeat(16)));
        assert!(is_valid_nonce(&"0F".repeat(32)));
        assert!(!is_valid_nonce(&"a".repeat(15)));
        assert!(!is_valid_nonce(&"a".repeat(65)));
        assert!(!is_valid_nonce("0123456789abcdefg"));
        assert!(!is_valid_nonce("0123456789abcde "));
        assert!(!is_valid_nonce(""));
    }

    #[test]
    fn only_plain_decimal_timestamps_are_read() {
        assert_eq!(parse_timestamp("1750000000"), Some(1_750_000_000));
        assert_eq!(parse_timestamp("0"), Some(0));
        for odd in [
            "",
            "+1750000000",
            "-1",
            "01750000000",
            " 1750000000",
            "1750000000.0",
            "1e9",
            "99999999999999999999",
        ] {
            assert_eq!(parse_timestamp(odd), None, "{odd:?}");
        }
    }

    #[test]
    fn requests_under_me_are_signed_except_enrolment() {
        assert!(is_signed_path("/api/v1/me/traffic/violations"));
        assert!(is_signed_path("/api/v1/me/devicesx"));
        assert!(!is_signed_path("/api/v1/me"));
        assert!(!is_signed_path("/api/v1/me/devices"));
        assert!(!is_signed_path("/api/v1/me/devices/0197/revoke"));
        assert!(!is_signed_path("/api/v1/auth/logout"));
        assert!(!is_signed_path("/api/v1/meta/"));
        assert!(!is_signed_path("/api/v1/me/loan/applications/0197/events"));
        assert!(is_signed_path("/api/v1/me/loan/applications/0197/submit"));
        assert!(is_signed_path("/api/v1/assistant/ask"));
        assert!(!is_signed_path("/api/v1/assistant/suggest"));
    }
}
