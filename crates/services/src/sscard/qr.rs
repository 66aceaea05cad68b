//! Dynamic QR codes of the electronic social-security card (电子社保卡动态二维码).
//!
//! The citizen's phone shows a QR code that a hospital, pharmacy or service counter scans to
//! identify the card holder. The platform signs every code with SM2; a code names an opaque
//! card token and the device it was issued to, and is valid for one 60-second window (plus a
//! short grace). This module is pure logic: the caller stores cards, devices and keys, takes
//! "now" from a [`Clock`](bianmin_core::Clock), and speaks HTTP.
//!
//! - [`QrIssuer::issue`] makes the code for a card, a device and the current window.
//! - [`QrVerifier::verify`] checks its form, signature and time and returns what it says
//!   ([`VerifiedQr`]), or why it is refused ([`QrRejection`], with a stable
//!   [`code`](QrRejection::code) and a Chinese message).
//! - The caller then looks the card token up and decides revocation and device binding
//!   ([`VerifiedQr::check_device`], [`QrRejection::Revoked`]), and shows the holder's masked
//!   name (`bianmin_core::mask::mask_name`).
//!
//! # Format (version 1)
//!
//! The text is ASCII, always exactly [`QR_TEXT_LEN`] (156) characters, and fits a QR code of
//! version 9 (53 × 53 modules) at error-correction level M in byte mode:
//!
//! ```text
//! BMSS1.<payload>.<signature>
//!   "BMSS1."     6 chars   QR_PREFIX: scheme "BMSS" (Bianmin social security) and version 1
//!   <payload>   63 chars   base64url without padding (RFC 4648 §5) of the 47 payload bytes
//!   "."          1 char
//!   <signature> 86 chars   base64url without padding of the 64 signature bytes
//! ```
//!
//! Payload, 47 bytes, integers big-endian:
//!
//! | offset | length | field |
//! | --- | --- | --- |
//! | 0 | 1 | format version, `0x01` ([`QR_FORMAT_VERSION`]) |
//! | 1 | 2 | key id (`u16`) of the platform signing key, for rotation |
//! | 3 | 16 | card token: the opaque UUID the platform issued when the e-card was activated, in RFC 9562 byte order |
//! | 19 | 16 | device digest: the first 16 bytes of `SM3("bianmin.sscard.device" \|\| 0x00 \|\| device id in UTF-8)` ([`device_digest`]) |
//! | 35 | 4 | window number (`u32`): `floor(unix seconds / 60)` when the code was issued |
//! | 39 | 8 | nonce: 8 random bytes from the operating system's CSPRNG |
//!
//! Signature, 64 bytes: SM2 `r || s` (each 32 bytes big-endian) over the 47 payload bytes
//! exactly, with SM3 and the signer id [`QR_SIGNER_ID`] (`"bianmin.sscard.qr"`) in `Z_A`
//! (GB/T 32918.2-2016). The signer id is this format's own, so that a signature the same key
//! made for another purpose can never pass as a QR code (the platform should nevertheless give
//! QR codes a key of their own).
//!
//! Decoding is strict: the prefix is case-sensitive, padding and non-canonical base64 (stray
//! trailing bits) are refused, and both parts must decode to exactly 47 and 64 bytes, so each
//! code has a single spelling. Only leading and trailing ASCII whitespace (the carriage return
//! some keyboard-wedge scanners append) is ignored.
//!
//! # Validity in time
//!
//! A code issued in window `w` (`[60 w, 60 w + 60)` in unix seconds) is accepted from
//! `60 w − future skew` until just before `60 w + 60 + grace`, both taken from [`QrPolicy`]:
//! grace 10 s by default (at most 30 s) covers the time between display and scan and a
//! scanner clock slightly ahead; future skew 5 s by default (at most 30 s) covers a scanner
//! clock slightly behind. Earlier it is [`QrRejection::NotYetValid`], later
//! [`QrRejection::Expired`]. With the defaults no code is accepted more than 70 s after it was
//! issued, whatever second of its window it was issued in.
//!
//! **Re-scanning is allowed.** The same code shown twice within its validity verifies both
//! times: scanners misread, cashiers scan again, and a patient may be scanned at registration
//! and again at the pharmacy a few seconds later. The nonce makes every issued code distinct,
//! so a caller that wants to notice re-use (e.g. the same code at two institutions) can record
//! `(card_token, nonce)`; this module keeps no state and refuses nothing on that ground.
//!
//! # Security argument
//!
//! A QR code is a bearer token that anyone near the screen can copy: by looking over the
//! holder's shoulder, from a screenshot the holder sends to someone, or from a scanner that
//! keeps what it read. Such a **screenshot attacker** can:
//!
//! - present the copy as the holder's own while it is valid, at most 60 s + grace (70 s by
//!   default) after its window started. Nothing displayed on a screen can prevent that; the
//!   code identifies a card, it does not prove that its holder is present, so counters still
//!   look at the person for services that need it;
//! - read the card token and the device digest. Both are pseudonyms: they name no one without
//!   the platform's database, but they are the same in every code of the card, so scans of one
//!   card can be linked to one another.
//!
//! They cannot:
//!
//! - make a code for a later window, for another card or for another device, or change any
//!   byte of one: every byte of the payload is signed with the platform's SM2 key, which never
//!   leaves the platform, and any change gives [`QrRejection::Forged`];
//! - use the copy later: after the window and its grace it is [`QrRejection::Expired`]; a
//!   forwarded screenshot is useless a minute later;
//! - use it after the holder reports the card lost, the card is cancelled, or the holder moves
//!   the e-card to a new phone: the caller checks the card token against stored state at every
//!   scan, so that takes effect at once, without waiting for the window to end;
//! - learn the card number, the resident id (身份证号) or the name: none is in the code. Nor
//!   the device id, only its truncated SM3 digest; since SM3 is public, whoever can guess the
//!   device id can confirm the guess, so the device id registered at activation should be a
//!   random per-installation identifier (e.g. a UUID made by the app), never an IMEI or a
//!   phone number.
//!
//! **Why a 60-second window.** The window bounds what a copy is worth, so it should be short;
//! but every displayed card costs the platform one request and one SM2 signature per window,
//! the phone must fetch a new code before the old one ends (on a weak signal in a hospital
//! basement too), and the holder must get from their phone to the scanner. A minute meets
//! those needs, and numbering windows lets any verifier decide alone, with only the public
//! keys and a clock within a few seconds of the platform's: no record of issued codes is
//! looked up. Much shorter windows would turn ordinary clock skew and latency into refusals of
//! genuine codes.
//!
//! **Why bind to the device.** Codes are issued only to the device registered when the e-card
//! was activated, and each code carries that device's digest. When the caller compares it
//! with the device now registered for the card, codes still showing on an old or lost phone are
//! refused as soon as the card is moved to another phone ([`QrRejection::DeviceMismatch`]),
//! and every accepted scan records which device presented it. The binding is only as strong as
//! device registration: the platform signs, the device does not, so a device id is what the
//! app claims when it activates the card, and the phone must be online to get each code.
//!
//! # Keys and rotation
//!
//! The issuer signs with one key and writes its id into every code; a [`QrVerifier`] holds
//! any number of public keys by id. To rotate, add the new public key to every verifier,
//! switch the issuer, and drop the old public key once its last codes have expired (a little
//! over a minute later). A code signed by a key the verifier does not hold is
//! [`QrRejection::Forged`].

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bianmin_crypto::{SM2_SIGNATURE_LEN, Sm2SigningKey, Sm2VerifyingKey, random_bytes, sm3_digest};
use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

/// The text every code of this format starts with: scheme `BMSS` and version `1`, then `.`.
pub const QR_PREFIX: &str = "BMSS1.";

/// The format version, the first payload byte.
pub const QR_FORMAT_VERSION: u8 = 1;

/// The SM2 signer id (the `ID_A` hashed into `Z_A`, GB/T 32918.2-2016) of QR code signatures.
pub const QR_SIGNER_ID: &str = "bianmin.sscard.qr";

/// Length of a window, in seconds: a new code every minute.
pub const WINDOW_SECS: u32 = 60;

/// Length of a [`device_digest`], in bytes.
pub const DEVICE_DIGEST_LEN: usize = 16;

/// Length of the random nonce of a code, in bytes.
pub const NONCE_LEN: usize = 8;

/// Length of the binary payload, in bytes: version, key id, card token, device digest,
/// window, nonce.
pub const PAYLOAD_LEN: usize = 1 + 2 + 16 + DEVICE_DIGEST_LEN + 4 + NONCE_LEN;

/// Length of every code's text, in characters (all ASCII): the prefix, the base64url payload,
/// a dot, the base64url signature.
pub const QR_TEXT_LEN: usize =
    QR_PREFIX.len() + base64_len(PAYLOAD_LEN) + 1 + base64_len(SM2_SIGNATURE_LEN);

/// Grace after the end of a code's window, in seconds, unless a [`QrPolicy`] says otherwise.
pub const DEFAULT_GRACE_SECS: u32 = 10;

/// The largest grace a [`QrPolicy`] allows, in seconds.
pub const MAX_GRACE_SECS: u32 = 30;

/// How far ahead of the verifier's clock a code's window may start, in seconds, unless a
/// [`QrPolicy`] says otherwise.
pub const DEFAULT_FUTURE_SKEW_SECS: u32 = 5;

/// The largest future skew a [`QrPolicy`] allows, in seconds.
pub const MAX_FUTURE_SKEW_SECS: u32 = 30;

/// Domain-separation prefix of [`device_digest`].
const DEVICE_DIGEST_DOMAIN: &[u8] = b"bianmin.sscard.device\0";

/// Length of unpadded base64 of `bytes` bytes.
const fn base64_len(bytes: usize) -> usize {
    (bytes * 4).div_ceil(3)
}

/// The digest of a device id that codes carry and callers store: the first 16 bytes of
/// `SM3("bianmin.sscard.device" || 0x00 || device_id)`, the id taken as UTF-8 bytes exactly
/// as given (no trimming or case folding).
///
/// Store it when the e-card is activated on a device, and compare it with
/// [`VerifiedQr::device_digest`] (see [`VerifiedQr::check_device`]). Whoever can guess a
/// device id can confirm the guess against the digest, so device ids should be random.
#[must_use]
pub fn device_digest(device_id: &str) -> [u8; DEVICE_DIGEST_LEN] {
    let mut input = Vec::with_capacity(DEVICE_DIGEST_DOMAIN.len() + device_id.len());
    input.extend_from_slice(DEVICE_DIGEST_DOMAIN);
    input.extend_from_slice(device_id.as_bytes());
    let digest = sm3_digest(&input);
    let mut out = [0u8; DEVICE_DIGEST_LEN];
    for (target, source) in out.iter_mut().zip(digest) {
        *target = source;
    }
    out
}

/// The signed content of a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Payload {
    key_id: u16,
    card_token: Uuid,
    device_digest: [u8; DEVICE_DIGEST_LEN],
    window: u32,
    nonce: [u8; NONCE_LEN],
}

impl Payload {
    /// The 47 bytes laid out as the module documentation shows.
    fn to_bytes(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(PAYLOAD_LEN);
        out.push(QR_FORMAT_VERSION);
        out.extend_from_slice(&self.key_id.to_be_bytes());
        out.extend_from_slice(self.card_token.as_bytes());
        out.extend_from_slice(&self.device_digest);
        out.extend_from_slice(&self.window.to_be_bytes());
        out.extend_from_slice(&self.nonce);
        out
    }

    /// Parses exactly [`PAYLOAD_LEN`] bytes of format version 1.
    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        fn take<const N: usize>(rest: &mut &[u8]) -> Option<[u8; N]> {
            let (head, tail) = rest.split_first_chunk::<N>()?;
            *rest = tail;
            Some(*head)
        }
        let mut rest = bytes;
        let [version] = take::<1>(&mut rest)?;
        if version != QR_FORMAT_VERSION {
            return None;
        }
        let key_id = u16::from_be_bytes(take(&mut rest)?);
        let card_token = Uuid::from_bytes(take(&mut rest)?);
        let device_digest = take(&mut rest)?;
        let window = u32::from_be_bytes(take(&mut rest)?);
        let nonce = take(&mut rest)?;
        rest.is_empty().then_some(Self {
            key_id,
            card_token,
            device_digest,
            window,
            nonce,
        })
    }
}

/// The start of window `window`. Every `u32` window starts within chrono's range (before the
/// year 10137); `None` cannot happen but is not unwrapped.
fn window_start(window: u32) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(i64::from(window) * i64::from(WINDOW_SECS), 0)
}

/// Why a code could not be issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QrIssueError {
    /// `now` is before 1970 or after the last window a `u32` can number (in the year 10136): a
    /// broken clock, not a user error.
    #[error("系统时间超出二维码支持的范围（1970 年至 10136 年），无法生成二维码")]
    ClockOutOfRange,
}

impl QrIssueError {
    /// Stable machine-readable code, e.g. `sscard.qr_clock_out_of_range`; never renamed.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::ClockOutOfRange => "sscard.qr_clock_out_of_range",
        }
    }
}

/// A freshly issued code, for the phone to show.
///
/// `Debug` omits the text: within its validity it works as the holder's card, and it names the
/// card token, so it does not belong in logs.
#[derive(Clone, PartialEq, Eq)]
pub struct DynamicQr {
    /// What the QR code encodes: [`QR_TEXT_LEN`] ASCII characters starting with
    /// [`QR_PREFIX`].
    pub text: String,
    /// Start of the code's window (a whole minute, UTC).
    pub window_start: DateTime<Utc>,
    /// End of the code's window, 60 s after `window_start`: the phone should show a new code
    /// by then. Verifiers still accept this one for their grace (10 s by default) after it.
    pub expires_at: DateTime<Utc>,
}

impl fmt::Debug for DynamicQr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynamicQr")
            .field(
                "text",
                &format_args!("<{} chars redacted>", self.text.len()),
            )
            .field("window_start", &self.window_start)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Issues codes: the platform's SM2 signing key for QR codes and its key id.
///
/// Issue a code only to the device registered for the card, in a session authenticated as the
/// card holder; the issuer itself checks neither.
#[derive(Debug)]
pub struct QrIssuer {
    key_id: u16,
    signing_key: Sm2SigningKey,
}

impl QrIssuer {
    /// An issuer signing with `signing_key`, whose public key verifiers know as `key_id`.
    #[must_use]
    pub fn new(key_id: u16, signing_key: Sm2SigningKey) -> Self {
        Self {
            key_id,
            signing_key,
        }
    }

    /// The id written into every code.
    #[must_use]
    pub fn key_id(&self) -> u16 {
        self.key_id
    }

    /// The public key verifiers need, to register under [`key_id`](Self::key_id).
    #[must_use]
    pub fn verifying_key(&self) -> Sm2VerifyingKey {
        self.signing_key.verifying_key()
    }

    /// Issues the code of the card `card_token` on the device `device_id` (as registered when
    /// the e-card was activated) for the window containing `now`, with a fresh random nonce.
    ///
    /// Two calls in the same window give two different codes, both valid.
    ///
    /// # Errors
    ///
    /// [`QrIssueError::ClockOutOfRange`] if `now` is before 1970 or after the year 10136.
    ///
    /// # Panics
    ///
    /// If the operating system's random number generator fails (nonce or signature).
    pub fn issue(
        &self,
        card_token: Uuid,
        device_id: &str,
        now: DateTime<Utc>,
    ) -> Result<DynamicQr, QrIssueError> {
        self.issue_for_digest(card_token, device_digest(device_id), now)
    }

    /// As [`issue`](Self::issue), for a caller that stored only the [`device_digest`] of the
    /// registered device.
    ///
    /// # Errors
    ///
    /// [`QrIssueError::ClockOutOfRange`] if `now` is before 1970 or after the year 10136.
    ///
    /// # Panics
    ///
    /// If the operating system's random number generator fails (nonce or signature).
    pub fn issue_for_digest(
        &self,
        card_token: Uuid,
        device_digest: [u8; DEVICE_DIGEST_LEN],
        now: DateTime<Utc>,
    ) -> Result<DynamicQr, QrIssueError> {
        let window = u32::try_from(now.timestamp().div_euclid(i64::from(WINDOW_SECS)))
            .map_err(|_| QrIssueError::ClockOutOfRange)?;
        let window_start = window_start(window).ok_or(QrIssueError::ClockOutOfRange)?;
        let expires_at = window_start
            .checked_add_signed(TimeDelta::seconds(i64::from(WINDOW_SECS)))
            .ok_or(QrIssueError::ClockOutOfRange)?;
        let payload = Payload {
            key_id: self.key_id,
            card_token,
            device_digest,
            window,
            nonce: random_bytes::<NONCE_LEN>(),
        }
        .to_bytes();
        let signature = self.signing_key.sign(QR_SIGNER_ID, &payload);
        let mut text = String::with_capacity(QR_TEXT_LEN);
        text.push_str(QR_PREFIX);
        URL_SAFE_NO_PAD.encode_string(&payload, &mut text);
        text.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut text);
        Ok(DynamicQr {
            text,
            window_start,
            expires_at,
        })
    }
}

/// How much time a verifier tolerates around a code's window: grace after its end, skew
/// before its start. Both are whole seconds, capped so that configuration cannot turn a
/// one-minute code into a long-lived one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QrPolicy {
    grace_secs: u32,
    future_skew_secs: u32,
}

impl QrPolicy {
    /// Grace [`DEFAULT_GRACE_SECS`] (10 s), future skew [`DEFAULT_FUTURE_SKEW_SECS`] (5 s).
    pub const DEFAULT: Self = Self {
        grace_secs: DEFAULT_GRACE_SECS,
        future_skew_secs: DEFAULT_FUTURE_SKEW_SECS,
    };

    /// This policy with a grace of `secs` seconds after the end of a code's window, at most
    /// [`MAX_GRACE_SECS`] (larger values are lowered to it). 0 accepts a code only within its
    /// own window.
    #[must_use]
    pub const fn with_grace_secs(self, secs: u32) -> Self {
        Self {
            grace_secs: if secs > MAX_GRACE_SECS {
                MAX_GRACE_SECS
            } else {
                secs
            },
            ..self
        }
    }

    /// This policy accepting codes whose window starts up to `secs` seconds after the
    /// verifier's `now`, at most [`MAX_FUTURE_SKEW_SECS`] (larger values are lowered to it).
    #[must_use]
    pub const fn with_future_skew_secs(self, secs: u32) -> Self {
        Self {
            future_skew_secs: if secs > MAX_FUTURE_SKEW_SECS {
                MAX_FUTURE_SKEW_SECS
            } else {
                secs
            },
            ..self
        }
    }

    /// Grace after the end of a code's window, in seconds.
    #[must_use]
    pub const fn grace_secs(&self) -> u32 {
        self.grace_secs
    }

    /// Tolerated lead of a code's window over the verifier's clock, in seconds.
    #[must_use]
    pub const fn future_skew_secs(&self) -> u32 {
        self.future_skew_secs
    }
}

impl Default for QrPolicy {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Why a scanned code is refused. [`code`](Self::code) is stable and machine-readable;
/// `Display` is a Chinese message for the scanning institution's operator, naming no personal
/// data.
///
/// [`QrVerifier::verify`] returns the first four; the caller returns [`Revoked`](Self::Revoked)
/// and [`DeviceMismatch`](Self::DeviceMismatch) after checking the verified code against the
/// stored card, so that every refusal of a code uses the same codes and messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QrRejection {
    /// Not a code of this format: wrong prefix or version, bad base64, wrong length.
    #[error("无法识别的二维码，请出示电子社保卡二维码")]
    Malformed,

    /// Well-formed, but the signature does not verify, or names a key this verifier does not
    /// hold: altered, forged, or signed by a key that has been retired.
    #[error("二维码验签失败，可能是伪造或被篡改的二维码")]
    Forged,

    /// Genuine, but its window and grace are over: an old code or a screenshot.
    #[error("二维码已过期，请持卡人刷新后重新出示")]
    Expired,

    /// Genuine, but its window starts later than the verifier's clock allows: usually the
    /// scanner's clock is behind.
    #[error("二维码尚未生效，请检查扫码设备的系统时间")]
    NotYetValid,

    /// Returned by the caller, never by [`QrVerifier::verify`]: the card token is unknown, or
    /// the card is reported lost, suspended or cancelled, or its e-card was deactivated.
    #[error("该电子社保卡已失效或暂停使用，二维码无效")]
    Revoked,

    /// Returned by the caller (see [`VerifiedQr::check_device`]), never by
    /// [`QrVerifier::verify`]: the code was issued to a device other than the one now
    /// registered for the card.
    #[error("二维码不是由持卡人当前绑定的设备生成，请在已绑定的手机上重新出示")]
    DeviceMismatch,
}

impl QrRejection {
    /// Stable machine-readable code, e.g. `sscard.qr_expired`; clients may match on it, so
    /// codes are never renamed.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed => "sscard.qr_malformed",
            Self::Forged => "sscard.qr_forged",
            Self::Expired => "sscard.qr_expired",
            Self::NotYetValid => "sscard.qr_not_yet_valid",
            Self::Revoked => "sscard.qr_revoked",
            Self::DeviceMismatch => "sscard.qr_device_mismatch",
        }
    }
}

/// What a genuine, current code says. The caller still looks up [`card_token`](Self::card_token)
/// to decide revocation and device binding before answering "valid".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifiedQr {
    /// Id of the platform key that signed the code.
    pub key_id: u16,
    /// The opaque card token issued when the e-card was activated.
    pub card_token: Uuid,
    /// [`device_digest`] of the device the code was issued to.
    pub device_digest: [u8; DEVICE_DIGEST_LEN],
    /// The code's window number, `floor(unix seconds / 60)` at issue.
    pub window: u32,
    /// Start of that window.
    pub window_start: DateTime<Utc>,
    /// The code's random nonce; with `card_token` it identifies one issued code.
    pub nonce: [u8; NONCE_LEN],
    /// Whether the code was accepted only thanks to the grace, after its window ended.
    pub in_grace: bool,
}

impl VerifiedQr {
    /// Checks that the code was issued to the device now registered for the card, given that
    /// device's stored [`device_digest`].
    ///
    /// # Errors
    ///
    /// [`QrRejection::DeviceMismatch`] if the digests differ.
    pub fn check_device(
        &self,
        registered_digest: &[u8; DEVICE_DIGEST_LEN],
    ) -> Result<(), QrRejection> {
        if &self.device_digest == registered_digest {
            Ok(())
        } else {
            Err(QrRejection::DeviceMismatch)
        }
    }
}

/// Verifies codes: the platform's public keys for QR codes, by key id.
///
/// Holds no state about codes: verification depends only on the keys, the text, the clock and
/// the [`QrPolicy`], so a code re-scanned within its validity verifies again.
#[derive(Debug, Clone, Default)]
pub struct QrVerifier {
    keys: BTreeMap<u16, Sm2VerifyingKey>,
}

impl QrVerifier {
    /// A verifier holding no key yet: every code is [`QrRejection::Forged`] until keys are
    /// added.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// This verifier also accepting codes signed by `key` under `key_id` (replacing any key
    /// held under that id).
    #[must_use]
    pub fn with_key(mut self, key_id: u16, key: Sm2VerifyingKey) -> Self {
        self.add_key(key_id, key);
        self
    }

    /// Accepts codes signed by `key` under `key_id` from now on; returns the key previously
    /// held under that id, if any.
    pub fn add_key(&mut self, key_id: u16, key: Sm2VerifyingKey) -> Option<Sm2VerifyingKey> {
        self.keys.insert(key_id, key)
    }

    /// Stops accepting codes signed under `key_id` (they become [`QrRejection::Forged`]);
    /// returns the key removed, if any.
    pub fn remove_key(&mut self, key_id: u16) -> Option<Sm2VerifyingKey> {
        self.keys.remove(&key_id)
    }

    /// The ids of the keys held, in increasing order.
    pub fn key_ids(&self) -> impl Iterator<Item = u16> + '_ {
        self.keys.keys().copied()
    }

    /// Verifies the scanned `text` at `now` (the verifier's clock) under `policy`: form, then
    /// signature, then time.
    ///
    /// Leading and trailing ASCII whitespace is ignored. Verification keeps no state: the same
    /// code verifies as often as it is scanned within its validity.
    ///
    /// # Errors
    ///
    /// - [`QrRejection::Malformed`] if `text` is not a code of this format;
    /// - [`QrRejection::Forged`] if its key id is not held or its signature does not verify;
    /// - [`QrRejection::Expired`] if `now` is at or after the end of its window plus the
    ///   policy's grace;
    /// - [`QrRejection::NotYetValid`] if its window starts more than the policy's future skew
    ///   after `now`.
    pub fn verify(
        &self,
        text: &str,
        now: DateTime<Utc>,
        policy: &QrPolicy,
    ) -> Result<VerifiedQr, QrRejection> {
        let (payload_bytes, signature) = split_text(text).ok_or(QrRejection::Malformed)?;
        let payload = Payload::from_bytes(&payload_bytes).ok_or(QrRejection::Malformed)?;

        let key = self.keys.get(&payload.key_id).ok_or(QrRejection::Forged)?;
        key.verify(QR_SIGNER_ID, &payload_bytes, &signature)
            .map_err(|_| QrRejection::Forged)?;

        // Whole seconds are exact here: every bound is a whole second, and for a whole `b`,
        // `now < b` exactly when `floor(now) < b`. No overflow: a window start is below 2^38
        // and chrono's timestamps below 2^43.
        let now_secs = now.timestamp();
        let start = i64::from(payload.window) * i64::from(WINDOW_SECS);
        let end = start + i64::from(WINDOW_SECS);
        if now_secs < start - i64::from(policy.future_skew_secs) {
            return Err(QrRejection::NotYetValid);
        }
        if now_secs >= end + i64::from(policy.grace_secs) {
            return Err(QrRejection::Expired);
        }
        Ok(VerifiedQr {
            key_id: payload.key_id,
            card_token: payload.card_token,
            device_digest: payload.device_digest,
            window: payload.window,
            window_start: window_start(payload.window).ok_or(QrRejection::Malformed)?,
            nonce: payload.nonce,
            in_grace: now_secs >= end,
        })
    }
}

/// Splits a code's text into its decoded payload and signature, checking only lengths.
fn split_text(text: &str) -> Option<(Vec<u8>, Vec<u8>)> {
    let text = text.trim_ascii();
    if text.len() != QR_TEXT_LEN {
        return None;
    }
    let (payload, signature) = text.strip_prefix(QR_PREFIX)?.split_once('.')?;
    let payload = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
    (payload.len() == PAYLOAD_LEN && signature.len() == SM2_SIGNATURE_LEN)
        .then_some((payload, signature))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// 2025-03-01 08:00:00 UTC, a whole minute.
    fn minute() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 1, 8, 0, 0).unwrap()
    }

    fn at(offset_secs: i64) -> DateTime<Utc> {
        minute() + TimeDelta::seconds(offset_secs)
    }

    fn setup() -> (QrIssuer, QrVerifier) {
        let issuer = QrIssuer::new(7, Sm2SigningKey::generate());
        let verifier = QrVerifier::new().with_key(7, issuer.verifying_key());
        (issuer, verifier)
    }

    /// Signs arbitrary payload bytes as a code, bypassing `Payload`.
    fn sign_raw(issuer: &QrIssuer, payload: &[u8]) -> String {
        let signature = issuer.signing_key.sign(QR_SIGNER_ID, payload);
        format!(
            "{QR_PREFIX}{}.{}",
            URL_SAFE_NO_PAD.encode(payload),
            URL_SAFE_NO_PAD.encode(signature)
        )
    }

    #[test]
    fn lengths_are_as_documented() {
        assert_eq!(PAYLOAD_LEN, 47);
        assert_eq!(base64_len(PAYLOAD_LEN), 63);
        assert_eq!(base64_len(SM2_SIGNATURE_LEN), 86);
        assert_eq!(QR_TEXT_LEN, 156);
    }

    #[test]
    fn payload_layout_round_trips() {
        let payload = Payload {
            key_id: 0x0102,
            card_token: Uuid::from_bytes([0x11; 16]),
            device_digest: [0x22; 16],
            window: 0x0304_0506,
            nonce: [0x33; 8],
        };
        let bytes = payload.to_bytes();
        let mut expected = vec![0x01, 0x01, 0x02];
        expected.extend([0x11; 16]);
        expected.extend([0x22; 16]);
        expected.extend([0x03, 0x04, 0x05, 0x06]);
        expected.extend([0x33; 8]);
        assert_eq!(bytes, expected);
        assert_eq!(Payload::from_bytes(&bytes), Some(payload));
        assert_eq!(Payload::from_bytes(&bytes[..46]), None);
        assert_eq!(
            Payload::from_bytes(&[bytes.clone(), vec![0]].concat()),
            None
        );
        let mut version_2 = bytes;
        version_2[0] = 2;
        assert_eq!(Payload::from_bytes(&version_2), None);
    }

    #[test]
    fn validly_signed_unknown_version_is_malformed() {
        let (issuer, verifier) = setup();
        let mut payload = Payload {
            key_id: 7,
            card_token: Uuid::new_v4(),
            device_digest: device_digest("d"),
            window: u32::try_from(minute().timestamp() / 60).unwrap(),
            nonce: [0; 8],
        }
        .to_bytes();
        let genuine = sign_raw(&issuer, &payload);
        assert!(verifier.verify(&genuine, at(1), &QrPolicy::DEFAULT).is_ok());
        payload[0] = 2;
        let text = sign_raw(&issuer, &payload);
        assert_eq!(
            verifier.verify(&text, at(1), &QrPolicy::DEFAULT),
            Err(QrRejection::Malformed)
        );
    }

    #[test]
    fn non_canonical_base64_is_malformed_not_forged() {
        let (issuer, verifier) = setup();
        let qr = issuer.issue(Uuid::new_v4(), "device", at(0)).unwrap();
        let payload_end = QR_PREFIX.len() + 63;
        // The last payload character carries 2 unused bits and the last signature character
        // 4: setting one gives a second spelling of the same bytes, which is refused.
        for index in [payload_end - 1, QR_TEXT_LEN - 1] {
            let mut chars: Vec<char> = qr.text.chars().collect();
            let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
            let value = alphabet.find(chars[index]).unwrap();
            chars[index] = alphabet.chars().nth(value ^ 1).unwrap();
            let text: String = chars.into_iter().collect();
            assert_eq!(
                verifier.verify(&text, at(1), &QrPolicy::DEFAULT),
                Err(QrRejection::Malformed),
                "index {index}"
            );
        }
    }

    #[test]
    fn padding_prefix_case_and_extra_parts_are_malformed() {
        let (issuer, verifier) = setup();
        let qr = issuer.issue(Uuid::new_v4(), "device", at(0)).unwrap();
        let policy = QrPolicy::DEFAULT;
        let lower = qr.text.replacen("BMSS1", "bmss1", 1);
        let v2 = qr.text.replacen("BMSS1", "BMSS2", 1);
        let padded = format!("{}=", qr.text);
        let extra = format!("{}.", &qr.text[..QR_TEXT_LEN - 1]);
        let standard_alphabet = qr.text.replace('-', "+").replace('_', "/");
        for text in [lower, v2, padded, extra, String::new(), "BMSS1.".into()] {
            assert_eq!(
                verifier.verify(&text, at(1), &policy),
                Err(QrRejection::Malformed),
                "{text}"
            );
        }
        if standard_alphabet != qr.text {
            assert_eq!(
                verifier.verify(&standard_alphabet, at(1), &policy),
                Err(QrRejection::Malformed)
            );
        }
    }

    #[test]
    fn surrounding_whitespace_is_ignored() {
        let (issuer, verifier) = setup();
        let qr = issuer.issue(Uuid::new_v4(), "device", at(0)).unwrap();
        let scanned = format!(" {}\r\n", qr.text);
        assert!(verifier.verify(&scanned, at(1), &QrPolicy::DEFAULT).is_ok());
    }

    #[test]
    fn time_bounds_are_exact_to_the_second() {
        let (issuer, verifier) = setup();
        let qr = issuer.issue(Uuid::new_v4(), "device", at(59)).unwrap();
        assert_eq!(qr.window_start, minute());
        assert_eq!(qr.expires_at, at(60));
        let policy = QrPolicy::DEFAULT;
        let check = |secs: i64, nanos: i64| {
            verifier.verify(&qr.text, at(secs) + TimeDelta::nanoseconds(nanos), &policy)
        };
        assert_eq!(check(-6, 999_999_999), Err(QrRejection::NotYetValid));
        assert!(check(-5, 0).is_ok());
        assert!(!check(59, 999_999_999).unwrap().in_grace);
        assert!(check(60, 0).unwrap().in_grace);
        assert!(check(69, 999_999_999).is_ok());
        assert_eq!(check(70, 0), Err(QrRejection::Expired));
        assert_eq!(
            verifier.verify(&qr.text, at(60), &policy.with_grace_secs(0)),
            Err(QrRejection::Expired)
        );
        assert_eq!(
            verifier.verify(&qr.text, at(-1), &policy.with_future_skew_secs(0)),
            Err(QrRejection::NotYetValid)
        );
    }

    #[test]
    fn policy_is_capped() {
        let policy = QrPolicy::default()
            .with_grace_secs(3600)
            .with_future_skew_secs(u32::MAX);
        assert_eq!(policy.grace_secs(), MAX_GRACE_SECS);
        assert_eq!(policy.future_skew_secs(), MAX_FUTURE_SKEW_SECS);
        assert_eq!(QrPolicy::default(), QrPolicy::DEFAULT);
        assert_eq!(QrPolicy::DEFAULT.grace_secs(), 10);
        assert_eq!(QrPolicy::DEFAULT.future_skew_secs(), 5);
    }

    #[test]
    fn clock_out_of_range_is_refused_at_issue() {
        let (issuer, _) = setup();
        let before_epoch = Utc.with_ymd_and_hms(1969, 12, 31, 23, 59, 59).unwrap();
        let far_future = Utc.with_ymd_and_hms(10137, 1, 1, 0, 0, 0).unwrap();
        for now in [before_epoch, far_future] {
            let error = issuer.issue(Uuid::new_v4(), "d", now).unwrap_err();
            assert_eq!(error, QrIssueError::ClockOutOfRange);
            assert_eq!(error.code(), "sscard.qr_clock_out_of_range");
        }
        let epoch = DateTime::<Utc>::UNIX_EPOCH;
        assert!(issuer.issue(Uuid::new_v4(), "d", epoch).is_ok());
    }

    #[test]
    fn last_window_verifies() {
        let (issuer, verifier) = setup();
        let last = window_start(u32::MAX).unwrap() + TimeDelta::seconds(30);
        let qr = issuer.issue(Uuid::new_v4(), "d", last).unwrap();
        assert_eq!(
            verifier
                .verify(&qr.text, last, &QrPolicy::DEFAULT)
                .unwrap()
                .window,
            u32::MAX
        );
    }

    #[test]
    fn device_digest_is_domain_separated_sm3() {
        let digest = device_digest("device-1");
        let plain = sm3_digest(b"device-1");
        assert_ne!(digest[..], plain[..16]);
        let expected = sm3_digest(b"bianmin.sscard.device\0device-1");
        assert_eq!(digest[..], expected[..16]);
        assert_ne!(device_digest("device-1"), device_digest("device-2"));
    }

    #[test]
    fn debug_of_an_issued_code_hides_the_text() {
        let (issuer, _) = setup();
        let qr = issuer.issue(Uuid::new_v4(), "device", at(0)).unwrap();
        let rendered = format!("{qr:?}");
        assert!(!rendered.contains(&qr.text[QR_PREFIX.len()..QR_PREFIX.len() + 20]));
        assert!(rendered.contains("156 chars redacted"));
    }

    #[test]
    fn rejection_codes_are_namespaced_distinct_and_messages_chinese() {
        let all = [
            QrRejection::Malformed,
            QrRejection::Forged,
            QrRejection::Expired,
            QrRejection::NotYetValid,
            QrRejection::Revoked,
            QrRejection::DeviceMismatch,
        ];
        let mut codes: Vec<&str> = all.iter().map(QrRejection::code).collect();
        for (rejection, code) in all.iter().zip(&codes) {
            let name = code.strip_prefix("sscard.qr_").unwrap();
            assert!(name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
            assert!(!rejection.to_string().is_ascii(), "{rejection:?}");
        }
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), all.len());
    }
}
