//! Exchange sessions (§5a of `docs/exchange-protocol.md`): a client and a provider agree on
//! keys once, by an ephemeral Diffie-Hellman exchange on the SM2 curve whose two messages are
//! the ordinary SM2-signed request and response of §5, and then protect each message with
//! HMAC-SM3 and SM4-GCM under those keys instead of two SM2 signatures and two SM2
//! encryptions. A session lives [`SESSION_LIFETIME_SECS`] and carries at most
//! [`SESSION_MAX_MESSAGES`] requests.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bianmin_crypto::{
    SM3_OUTPUT_LEN, SM4_KEY_LEN, Sm2Ephemeral, Sm2VerifyingKey, Sm4Gcm, hmac_sm3, hmac_sm3_verify,
    random_bytes,
};
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::wire::{decode_sealed, format_timestamp, payload_aad};
use crate::{ClientId, ExchangeError, ServiceId};

/// The code of the reserved service every provider offers for opening a session:
/// `{provider}/exchange.session/v1`.
pub const SESSION_SERVICE_CODE: &str = "exchange.session";
/// How long a session lives from the handshake.
pub const SESSION_LIFETIME_SECS: i64 = 3600;
/// Requests one session may carry. Each message draws a random 96-bit GCM nonce; this keeps
/// every key far below NIST SP 800-38D's 2^32 messages.
pub const SESSION_MAX_MESSAGES: u64 = 1 << 20;
/// A client stops starting requests in a session this long before it expires, so that none
/// arrives after it.
pub const SESSION_RENEW_MARGIN_SECS: i64 = 300;
/// Sessions one provider holds at once; past it, the one expiring first is dropped (its
/// client makes a new one on its next request).
pub const MAX_SESSIONS_PER_PROVIDER: usize = 10_000;
/// The `alg` of a payload encrypted under a session key.
pub const SESSION_ENCRYPTION_ALG: &str = "SM4-GCM";

/// First line of the key-derivation info (§5a).
const KEY_INFO_TAG: &str = "EXCHANGE-V1-SESSION";
/// Key material per session: two HMAC-SM3 keys, then two SM4 keys.
const OKM_LEN: usize = 2 * SM3_OUTPUT_LEN + 2 * SM4_KEY_LEN;

/// The reserved session service of `provider`.
#[must_use]
pub fn session_service(provider: &ClientId) -> ServiceId {
    ServiceId {
        provider: provider.clone(),
        code: SESSION_SERVICE_CODE.to_string(),
        version: "v1".to_string(),
    }
}

/// The handshake request body: the client's ephemeral public key.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionHello {
    /// Lower-case hex of the uncompressed SEC1 point (130 digits).
    pub ephemeral: String,
}

/// The handshake response body.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionGrant {
    /// The session id (UUID, lower-case hyphenated), sent in `X-Exchange-Session`.
    pub session: Uuid,
    /// Lower-case hex of the provider's ephemeral public key.
    pub ephemeral: String,
    /// RFC 3339 UTC, whole seconds: the end of the session.
    pub expires_at: String,
}

/// One direction's keys: the MAC key and the cipher.
struct Direction {
    mac: Zeroizing<[u8; SM3_OUTPUT_LEN]>,
    cipher: Sm4Gcm,
}

impl Direction {
    fn new(mac: &[u8], enc: &[u8]) -> Direction {
        let mut mac_key = Zeroizing::new([0u8; SM3_OUTPUT_LEN]);
        mac_key.copy_from_slice(mac);
        let mut enc_key = Zeroizing::new([0u8; SM4_KEY_LEN]);
        enc_key.copy_from_slice(enc);
        Direction {
            mac: mac_key,
            cipher: Sm4Gcm::new(&enc_key),
        }
    }

    fn mac(&self, text: &str) -> String {
        STANDARD.encode(hmac_sm3(self.mac.as_slice(), text.as_bytes()))
    }

    fn verify(&self, text: &str, mac_b64: &str) -> bool {
        STANDARD
            .decode(mac_b64)
            .is_ok_and(|tag| hmac_sm3_verify(self.mac.as_slice(), text.as_bytes(), &tag))
    }

    fn seal(
        &self,
        message_id: &Uuid,
        service: &ServiceId,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, ExchangeError> {
        let nonce = random_bytes::<12>();
        let sealed = self
            .cipher
            .seal(&nonce, &payload_aad(message_id, service), plaintext);
        serde_json::to_vec(&SessionPayload {
            alg: SESSION_ENCRYPTION_ALG.to_string(),
            nonce: STANDARD.encode(nonce),
            ciphertext: STANDARD.encode(sealed),
        })
        .map_err(|e| ExchangeError::Malformed(e.to_string()))
    }

    fn open(
        &self,
        message_id: &Uuid,
        service: &ServiceId,
        body: &[u8],
    ) -> Result<Vec<u8>, ExchangeError> {
        let undecryptable = || ExchangeError::Malformed("加密载荷无法解密".to_string());
        let envelope: SessionPayload = serde_json::from_slice(body)
            .map_err(|_| ExchangeError::Malformed("加密载荷格式错误".to_string()))?;
        if envelope.alg != SESSION_ENCRYPTION_ALG {
            return Err(ExchangeError::Malformed("不支持的加密算法".to_string()));
        }
        let (nonce, sealed) = decode_sealed(&envelope.nonce, &envelope.ciphertext)?;
        self.cipher
            .open(&nonce, &payload_aad(message_id, service), &sealed)
            .map_err(|_| undecryptable())
    }
}

/// The body of a message encrypted under a session key (§5a).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionPayload {
    /// Always [`SESSION_ENCRYPTION_ALG`].
    pub alg: String,
    /// Base64 of the 12-byte SM4-GCM nonce.
    pub nonce: String,
    /// Base64 of the SM4-GCM ciphertext followed by its tag.
    pub ciphertext: String,
}

/// The keys of one session, as both sides hold them: which client and provider, until when,
/// and a key pair per direction (client to provider, provider to client). `Debug` shows no key.
pub struct Session {
    /// The session id.
    pub id: Uuid,
    /// The client that opened it.
    pub client: ClientId,
    /// The provider that granted it.
    pub provider: ClientId,
    /// When it ends.
    pub expires_at: DateTime<Utc>,
    to_provider: Direction,
    to_client: Direction,
    requests: AtomicU64,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("id", &self.id)
            .field("client", &self.client)
            .field("provider", &self.provider)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// What goes into the key derivation besides the shared secret: everything both sides saw in
/// the handshake, as text exactly as sent, one item per line.
struct Transcript<'a> {
    client: &'a ClientId,
    provider: &'a ClientId,
    session: Uuid,
    client_ephemeral: &'a str,
    provider_ephemeral: &'a str,
    expires_at: &'a str,
}

impl Transcript<'_> {
    fn info(&self) -> String {
        [
            KEY_INFO_TAG,
            &self.client.to_string(),
            &self.provider.to_string(),
            &self.session.hyphenated().to_string(),
            self.client_ephemeral,
            self.provider_ephemeral,
            self.expires_at,
        ]
        .join("\n")
    }
}

impl Session {
    fn derive(
        ephemeral: Sm2Ephemeral,
        peer: &Sm2VerifyingKey,
        transcript: &Transcript<'_>,
        expires_at: DateTime<Utc>,
    ) -> Result<Session, ExchangeError> {
        let mut okm = Zeroizing::new([0u8; OKM_LEN]);
        ephemeral.agree(peer, b"", transcript.info().as_bytes(), okm.as_mut_slice())?;
        let (macs, encs) = okm.split_at(2 * SM3_OUTPUT_LEN);
        Ok(Session {
            id: transcript.session,
            client: transcript.client.clone(),
            provider: transcript.provider.clone(),
            expires_at,
            to_provider: Direction::new(&macs[..SM3_OUTPUT_LEN], &encs[..SM4_KEY_LEN]),
            to_client: Direction::new(&macs[SM3_OUTPUT_LEN..], &encs[SM4_KEY_LEN..]),
            requests: AtomicU64::new(0),
        })
    }

    /// The provider's side of a handshake: checks the client's ephemeral key, makes its own,
    /// and returns the session and the grant to send back (in a response signed as §5).
    ///
    /// # Errors
    ///
    /// [`ExchangeError::Malformed`] if the hello is not a valid SM2 point.
    pub fn grant(
        client: &ClientId,
        provider: &ClientId,
        hello: &SessionHello,
        now: DateTime<Utc>,
    ) -> Result<(Session, SessionGrant), ExchangeError> {
        let peer = Sm2VerifyingKey::from_hex(&hello.ephemeral)
            .ok()
            .filter(|_| hello.ephemeral.len() == 130)
            .ok_or_else(|| ExchangeError::Malformed("临时公钥应为未压缩的 SM2 点".to_string()))?;
        let ephemeral = Sm2Ephemeral::generate();
        let grant = SessionGrant {
            session: Uuid::now_v7(),
            ephemeral: ephemeral.public_key().to_hex(),
            expires_at: format_timestamp(now + TimeDelta::seconds(SESSION_LIFETIME_SECS)),
        };
        let expires_at = crate::wire::parse_timestamp(&grant.expires_at)?;
        let session = Session::derive(
            ephemeral,
            &peer,
            &Transcript {
                client,
                provider,
                session: grant.session,
                client_ephemeral: &hello.ephemeral,
                provider_ephemeral: &grant.ephemeral,
                expires_at: &grant.expires_at,
            },
            expires_at,
        )?;
        Ok((session, grant))
    }

    /// The client's side of a handshake, once the provider's signed grant has been verified.
    ///
    /// # Errors
    ///
    /// [`ExchangeError::BadResponse`] if the grant's key or expiry is not valid.
    pub fn accept(
        ephemeral: Sm2Ephemeral,
        client: &ClientId,
        provider: &ClientId,
        hello: &SessionHello,
        grant: &SessionGrant,
    ) -> Result<Session, ExchangeError> {
        let bad = |why: &str| ExchangeError::BadResponse(why.to_string());
        let peer = Sm2VerifyingKey::from_hex(&grant.ephemeral)
            .ok()
            .filter(|_| grant.ephemeral.len() == 130)
            .ok_or_else(|| bad("the session grant's key is not an SM2 point"))?;
        let expires_at = crate::wire::parse_timestamp(&grant.expires_at)
            .map_err(|_| bad("the session grant's expiry is not a timestamp"))?;
        Session::derive(
            ephemeral,
            &peer,
            &Transcript {
                client,
                provider,
                session: grant.session,
                client_ephemeral: &hello.ephemeral,
                provider_ephemeral: &grant.ephemeral,
                expires_at: &grant.expires_at,
            },
            expires_at,
        )
    }

    /// Whether a client should start another request in this session at `now`: more than
    /// [`SESSION_RENEW_MARGIN_SECS`] before its end, and below its message limit.
    #[must_use]
    pub fn usable(&self, now: DateTime<Utc>) -> bool {
        now + TimeDelta::seconds(SESSION_RENEW_MARGIN_SECS) < self.expires_at
            && self.requests.load(Ordering::Relaxed) < SESSION_MAX_MESSAGES
    }

    /// Counts one request against the session's limit; false once the limit is passed.
    pub(crate) fn count_request(&self) -> bool {
        self.requests.fetch_add(1, Ordering::Relaxed) < SESSION_MAX_MESSAGES
    }

    /// `X-Exchange-Mac` of a request's signing string (client to provider).
    #[must_use]
    pub fn request_mac(&self, signing_string: &str) -> String {
        self.to_provider.mac(signing_string)
    }

    /// Whether `mac` is the request MAC of `signing_string`.
    #[must_use]
    pub fn verify_request_mac(&self, signing_string: &str, mac: &str) -> bool {
        self.to_provider.verify(signing_string, mac)
    }

    /// `X-Exchange-Mac` of a response's signing string (provider to client).
    #[must_use]
    pub fn response_mac(&self, signing_string: &str) -> String {
        self.to_client.mac(signing_string)
    }

    /// Whether `mac` is the response MAC of `signing_string`.
    #[must_use]
    pub fn verify_response_mac(&self, signing_string: &str, mac: &str) -> bool {
        self.to_client.verify(signing_string, mac)
    }

    /// A request body encrypted to the provider (the JSON of [`SessionPayload`]).
    ///
    /// # Errors
    ///
    /// [`ExchangeError::Malformed`] only if the envelope cannot be serialised.
    pub fn seal_request(
        &self,
        message_id: &Uuid,
        service: &ServiceId,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, ExchangeError> {
        self.to_provider.seal(message_id, service, plaintext)
    }

    /// Opens a request body sealed by [`seal_request`](Self::seal_request).
    ///
    /// # Errors
    ///
    /// [`ExchangeError::Malformed`] if it is not an envelope or does not decrypt.
    pub fn open_request(
        &self,
        message_id: &Uuid,
        service: &ServiceId,
        body: &[u8],
    ) -> Result<Vec<u8>, ExchangeError> {
        self.to_provider.open(message_id, service, body)
    }

    /// A response body encrypted to the client.
    ///
    /// # Errors
    ///
    /// As [`seal_request`](Self::seal_request).
    pub fn seal_response(
        &self,
        message_id: &Uuid,
        service: &ServiceId,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, ExchangeError> {
        self.to_client.seal(message_id, service, plaintext)
    }

    /// Opens a response body sealed by [`seal_response`](Self::seal_response).
    ///
    /// # Errors
    ///
    /// As [`open_request`](Self::open_request).
    pub fn open_response(
        &self,
        message_id: &Uuid,
        service: &ServiceId,
        body: &[u8],
    ) -> Result<Vec<u8>, ExchangeError> {
        self.to_client.open(message_id, service, body)
    }
}

/// The sessions a provider holds, by id.
#[derive(Debug, Default)]
pub(crate) struct SessionTable {
    sessions: Mutex<HashMap<Uuid, Arc<Session>>>,
}

impl SessionTable {
    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Arc<Session>>> {
        // Inserts and removals are single map operations; a poisoned map is still whole.
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Keeps `session`, first dropping expired ones, and the one ending first if the table is
    /// full.
    pub(crate) fn insert(&self, session: Session, now: DateTime<Utc>) {
        let mut sessions = self.sessions();
        if sessions.len() >= MAX_SESSIONS_PER_PROVIDER {
            sessions.retain(|_, kept| kept.expires_at > now);
        }
        if sessions.len() >= MAX_SESSIONS_PER_PROVIDER
            && let Some(first) = sessions
                .values()
                .min_by_key(|kept| kept.expires_at)
                .map(|kept| kept.id)
        {
            sessions.remove(&first);
        }
        sessions.insert(session.id, Arc::new(session));
    }

    /// The live session `id` of `client`. The caller counts the request against it
    /// ([`Session::count_request`]) once its MAC has verified, so that forged requests cannot
    /// use a session up.
    pub(crate) fn find(
        &self,
        id: &Uuid,
        client: &ClientId,
        now: DateTime<Utc>,
    ) -> Option<Arc<Session>> {
        let mut sessions = self.sessions();
        let session = sessions.get(id)?;
        if session.expires_at <= now {
            sessions.remove(id);
            return None;
        }
        (&session.client == client).then(|| Arc::clone(session))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> (ClientId, ClientId) {
        (
            "CN-CD/COM/bank/bianmin".parse().unwrap(),
            "CN-CD/GOV/hpf-center/accounts".parse().unwrap(),
        )
    }

    fn handshake(now: DateTime<Utc>) -> (Session, Session) {
        let (client, provider) = ids();
        let ephemeral = Sm2Ephemeral::generate();
        let hello = SessionHello {
            ephemeral: ephemeral.public_key().to_hex(),
        };
        let (granted, grant) = Session::grant(&client, &provider, &hello, now).unwrap();
        let accepted = Session::accept(ephemeral, &client, &provider, &hello, &grant).unwrap();
        (accepted, granted)
    }

    #[test]
    fn both_sides_hold_the_same_keys_one_per_direction() {
        let now = Utc::now();
        let (client, provider) = handshake(now);
        assert_eq!(client.id, provider.id);
        assert_eq!(client.expires_at, provider.expires_at);
        let mac = client.request_mac("text");
        assert!(provider.verify_request_mac("text", &mac));
        assert!(!provider.verify_request_mac("other text", &mac));
        // A request MAC is no response MAC: a provider cannot reflect a request back.
        assert!(!client.verify_response_mac("text", &mac));
        let service: ServiceId = "CN-CD/GOV/hpf-center/accounts/hpf.account/v1"
            .parse()
            .unwrap();
        let message = Uuid::now_v7();
        let sealed = client.seal_request(&message, &service, b"{}").unwrap();
        assert_eq!(
            provider.open_request(&message, &service, &sealed).unwrap(),
            b"{}"
        );
        assert!(provider.open_response(&message, &service, &sealed).is_err());
        assert!(
            provider
                .open_request(&Uuid::now_v7(), &service, &sealed)
                .is_err()
        );
        // Another session's keys open nothing.
        let (_, stranger) = handshake(now);
        assert!(stranger.open_request(&message, &service, &sealed).is_err());
        assert!(!stranger.verify_request_mac("text", &mac));
    }

    #[test]
    fn a_grant_with_a_bad_key_is_refused() {
        let (client, provider) = ids();
        let hello = SessionHello {
            ephemeral: "04".repeat(65),
        };
        assert!(matches!(
            Session::grant(&client, &provider, &hello, Utc::now()),
            Err(ExchangeError::Malformed(_))
        ));
    }

    #[test]
    fn the_table_finds_live_sessions_of_their_own_client_only() {
        let now = Utc::now();
        let (_, session) = handshake(now);
        let id = session.id;
        let (client, _) = ids();
        let table = SessionTable::default();
        table.insert(session, now);
        assert!(table.find(&id, &client, now).is_some());
        let other: ClientId = "CN-CD/COM/other/app".parse().unwrap();
        assert!(table.find(&id, &other, now).is_none());
        assert!(table.find(&Uuid::now_v7(), &client, now).is_none());
        let later = now + TimeDelta::seconds(SESSION_LIFETIME_SECS + 1);
        assert!(table.find(&id, &client, later).is_none());
        // Gone for good once seen expired.
        assert!(table.find(&id, &client, now).is_none());
    }

    #[test]
    fn a_client_renews_before_the_end() {
        let now = Utc::now();
        let (session, _) = handshake(now);
        assert!(session.usable(now));
        let late = now + TimeDelta::seconds(SESSION_LIFETIME_SECS - SESSION_RENEW_MARGIN_SECS);
        assert!(!session.usable(late));
    }
}
