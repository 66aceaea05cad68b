//! A stateless proof-of-work challenge, answered by the SDK before a suspicious subject is
//! served again.
//!
//! The server issues a token and keeps nothing: everything it needs to check an answer is in
//! the token, under a MAC. The client searches for a counter that makes a hash of the token
//! start with enough zero bits, which costs it about `2^difficulty` hashes and the server one.
//! A browser doing this for every request of a crawl pays real CPU; a person pays once per
//! grace period (see [`crate::behaviour`]).
//!
//! # Token
//!
//! A token is 74 bytes, sent as 148 lowercase hexadecimal digits:
//!
//! | offset | length | field |
//! | --- | --- | --- |
//! | 0 | 1 | version, `0x01` |
//! | 1 | 16 | challenge id, random |
//! | 17 | 16 | subject binding: the first 16 bytes of HMAC-SM3 of the subject under a key derived from the deployment secret |
//! | 33 | 1 | difficulty `d`: leading zero bits required, 1 to 32 |
//! | 34 | 8 | expiry: Unix time in seconds, signed 64-bit big-endian |
//! | 42 | 32 | HMAC-SM3 of bytes 0 to 41 under another key derived from the deployment secret |
//!
//! # Answer
//!
//! The answer is a `counter` (unsigned 64-bit) such that
//!
//! ```text
//! SM3(token_bytes || counter as 8 bytes big-endian)
//! ```
//!
//! — an 82-byte input: the 74 token bytes (decoded from hex) followed by the counter — has at
//! least `d` leading zero bits, counting from the most significant bit of the digest's first
//! byte. A client tries 0, 1, 2 … and sends the first counter that works together with the
//! token (as received). It needs nothing but the token: `d` is its byte 33.
//!
//! Worked example for implementers: the token of 0x01 followed by 73 zero bytes (not a valid
//! token, but any 74 bytes hash the same way) at `d = 8` is answered by counter `143`, whose
//! digest begins `0095baa7`; with counter 0 the digest begins `a4f8849e`.
//!
//! The server checks, in this order: the layout and version, the MAC, the binding to the
//! subject asking, the expiry, the work, and that the token was not answered before (in this
//! instance's memory and, if configured, a [`SpentStore`] shared by all instances).
//!
//! The default difficulty is 16 bits: 65,536 hashes on average, which a phone browser running
//! SM3 in JavaScript does in roughly 50 to 300 ms, and this crate's [`solve`] in a few
//! milliseconds.

mod spent;

use std::sync::Arc;
use std::time::Duration;

use bianmin_core::SharedClock;
use bianmin_crypto::sm3_digest;
use chrono::{DateTime, TimeDelta, Utc};
use parking_lot::Mutex;
use serde::Serialize;

use self::spent::SpentSet;
pub use self::spent::{DEFAULT_SPENT_PREFIX, RedisSpentStore, SpentStore};
use crate::redis_link::OutageWarning;
use crate::secret::{PSEUDONYM_LEN, SubKey};
use crate::{GuardError, GuardSecret};

/// Leading zero bits asked for unless the issuer is given another difficulty.
pub const DEFAULT_DIFFICULTY_BITS: u8 = 16;
/// The most leading zero bits a challenge may ask for (about four billion hashes on average).
pub const MAX_DIFFICULTY_BITS: u8 = 32;
/// How long a token can be answered unless [`ChallengeIssuer::with_lifetime`] sets otherwise.
pub const DEFAULT_CHALLENGE_LIFETIME: Duration = Duration::from_secs(120);
/// Length in bytes of a decoded token.
pub const TOKEN_LEN: usize = 74;
/// Length in bytes of a challenge id.
pub const ID_LEN: usize = 16;

const VERSION: u8 = 1;
const ID_AT: usize = 1;
const BINDING_AT: usize = ID_AT + ID_LEN;
const DIFFICULTY_AT: usize = BINDING_AT + PSEUDONYM_LEN;
const EXPIRY_AT: usize = DIFFICULTY_AT + 1;
const MAC_AT: usize = EXPIRY_AT + 8;
/// Answered ids remembered per instance; more answers than this within one token lifetime
/// start to forget the ones closest to expiry.
const SPENT_CAPACITY: usize = 100_000;

/// A challenge to send to the client: the token, and its fields decoded for convenience.
///
/// Serialises to JSON as `{"id", "subject_binding", "difficulty", "expires_at", "token"}`,
/// with the binary fields in hexadecimal. The token alone is authoritative; the other fields
/// repeat what it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Challenge {
    id: String,
    subject_binding: String,
    difficulty: u8,
    expires_at: DateTime<Utc>,
    token: String,
    #[serde(skip)]
    token_bytes: [u8; TOKEN_LEN],
}

impl Challenge {
    /// Reads a token as a client does (no secret needed): checks its layout and version and
    /// decodes its fields. It says nothing about whether the token is genuine; only
    /// [`ChallengeIssuer::verify`] can.
    pub fn parse(token: &str) -> Result<Self, GuardError> {
        let mut token_bytes = [0u8; TOKEN_LEN];
        hex::decode_to_slice(token, &mut token_bytes)
            .map_err(|_| GuardError::ChallengeMalformed)?;
        let difficulty = token_bytes[DIFFICULTY_AT];
        let mut expiry = [0u8; 8];
        expiry.copy_from_slice(&token_bytes[EXPIRY_AT..MAC_AT]);
        let expires_at = DateTime::from_timestamp(i64::from_be_bytes(expiry), 0);
        match expires_at {
            Some(expires_at)
                if token_bytes[0] == VERSION && (1..=MAX_DIFFICULTY_BITS).contains(&difficulty) =>
            {
                Ok(Self::from_parts(token_bytes, expires_at))
            }
            _ => Err(GuardError::ChallengeMalformed),
        }
    }

    fn from_parts(token_bytes: [u8; TOKEN_LEN], expires_at: DateTime<Utc>) -> Self {
        Self {
            id: hex::encode(&token_bytes[ID_AT..BINDING_AT]),
            subject_binding: hex::encode(&token_bytes[BINDING_AT..DIFFICULTY_AT]),
            difficulty: token_bytes[DIFFICULTY_AT],
            expires_at,
            token: hex::encode(token_bytes),
            token_bytes,
        }
    }

    /// The challenge id, 32 hexadecimal digits.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The keyed hash binding the challenge to its subject, 32 hexadecimal digits.
    pub fn subject_binding(&self) -> &str {
        &self.subject_binding
    }

    /// Leading zero bits the answer's digest must have.
    pub fn difficulty(&self) -> u8 {
        self.difficulty
    }

    /// After this instant the token is refused.
    pub fn expires_at(&self) -> DateTime<Utc> {
        self.expires_at
    }

    /// The token, 148 lowercase hexadecimal digits: what the client sends back.
    pub fn token(&self) -> &str {
        &self.token
    }

    fn challenge_id(&self) -> [u8; ID_LEN] {
        let mut id = [0u8; ID_LEN];
        id.copy_from_slice(&self.token_bytes[ID_AT..BINDING_AT]);
        id
    }
}

/// Finds the smallest counter answering `challenge`, as the SDK does.
///
/// Takes about `2^difficulty` SM3 hashes: milliseconds at the default difficulty, but keep it
/// off async executor threads (`spawn_blocking`) if it runs in a server.
pub fn solve(challenge: &Challenge) -> u64 {
    let mut input = work_input(&challenge.token_bytes);
    let mut counter = 0u64;
    // At most 32 bits of difficulty: a counter is found long before the u64 wraps.
    loop {
        if carries_work(&mut input, counter, challenge.difficulty) {
            return counter;
        }
        counter = counter.wrapping_add(1);
    }
}

fn work_input(token_bytes: &[u8; TOKEN_LEN]) -> [u8; TOKEN_LEN + 8] {
    let mut input = [0u8; TOKEN_LEN + 8];
    input[..TOKEN_LEN].copy_from_slice(token_bytes);
    input
}

/// Whether `counter` makes the digest of `input` (a token followed by room for the counter)
/// start with `difficulty` zero bits.
fn carries_work(input: &mut [u8; TOKEN_LEN + 8], counter: u64, difficulty: u8) -> bool {
    input[TOKEN_LEN..].copy_from_slice(&counter.to_be_bytes());
    leading_zero_bits(&sm3_digest(input)) >= u32::from(difficulty)
}

fn leading_zero_bits(digest: &[u8]) -> u32 {
    let mut bits = 0;
    for byte in digest {
        bits += byte.leading_zeros();
        if *byte != 0 {
            break;
        }
    }
    bits
}

/// Issues and verifies challenges for one deployment.
///
/// Every instance built from the same [`GuardSecret`] accepts the others' tokens. Answers are
/// refused a second time by the instance's own memory of answered ids, and across instances
/// if a [`SpentStore`] is given; if that store fails, the answer is judged by this instance's
/// memory alone and a warning is logged (at most once a minute).
pub struct ChallengeIssuer {
    mac_key: SubKey,
    subject_key: SubKey,
    clock: SharedClock,
    difficulty: u8,
    lifetime: TimeDelta,
    spent: Mutex<SpentSet>,
    shared_spent: Option<Arc<dyn SpentStore>>,
    outage: OutageWarning,
}

impl ChallengeIssuer {
    /// An issuer of challenges asking for `difficulty_bits` leading zero bits (1 to 32; see
    /// [`DEFAULT_DIFFICULTY_BITS`]), valid for [`DEFAULT_CHALLENGE_LIFETIME`], with time from
    /// `clock`. Challenge ids come from the operating system's CSPRNG, since they must be
    /// unguessable; nothing in a test depends on their value.
    pub fn new(
        secret: &GuardSecret,
        clock: SharedClock,
        difficulty_bits: u8,
    ) -> Result<Self, GuardError> {
        if !(1..=MAX_DIFFICULTY_BITS).contains(&difficulty_bits) {
            return Err(GuardError::InvalidConfig(
                "challenge difficulty must be between 1 and 32 bits",
            ));
        }
        Ok(Self {
            mac_key: secret.derive("challenge-mac"),
            subject_key: secret.derive("challenge-subject"),
            clock,
            difficulty: difficulty_bits,
            lifetime: TimeDelta::seconds(DEFAULT_CHALLENGE_LIFETIME.as_secs().cast_signed()),
            spent: Mutex::new(SpentSet::new(SPENT_CAPACITY)),
            shared_spent: None,
            outage: OutageWarning::new("challenge answers are checked for reuse per instance"),
        })
    }

    /// Sets how long a token can be answered: from 10 seconds to an hour, in whole seconds.
    pub fn with_lifetime(mut self, lifetime: Duration) -> Result<Self, GuardError> {
        if !(10..=3600).contains(&lifetime.as_secs()) {
            return Err(GuardError::InvalidConfig(
                "a challenge lifetime must be between 10 seconds and one hour",
            ));
        }
        self.lifetime = TimeDelta::seconds(lifetime.as_secs().cast_signed());
        Ok(self)
    }

    /// Adds a store of answered ids shared by all instances, e.g. [`RedisSpentStore`].
    pub fn with_spent_store(mut self, store: Arc<dyn SpentStore>) -> Self {
        self.shared_spent = Some(store);
        self
    }

    /// Leading zero bits asked of new challenges.
    pub fn difficulty(&self) -> u8 {
        self.difficulty
    }

    /// A new challenge for `subject` (the session, device or address that must answer it).
    pub fn issue(&self, subject: &str) -> Challenge {
        let expires_at = self.clock.now() + self.lifetime;
        let mut token_bytes = [0u8; TOKEN_LEN];
        token_bytes[0] = VERSION;
        token_bytes[ID_AT..BINDING_AT].copy_from_slice(&bianmin_crypto::random_bytes::<ID_LEN>());
        token_bytes[BINDING_AT..DIFFICULTY_AT].copy_from_slice(&self.binding(subject));
        token_bytes[DIFFICULTY_AT] = self.difficulty;
        token_bytes[EXPIRY_AT..MAC_AT].copy_from_slice(&expires_at.timestamp().to_be_bytes());
        let mac = self.mac_key.mac(&token_bytes[..MAC_AT]);
        token_bytes[MAC_AT..].copy_from_slice(&mac);
        // The token holds whole seconds; the challenge reports what the token says.
        let expires_at = DateTime::from_timestamp(expires_at.timestamp(), 0).unwrap_or(expires_at);
        Challenge::from_parts(token_bytes, expires_at)
    }

    /// Accepts `counter` as `subject`'s answer to `token`, once.
    ///
    /// Refused with the matching [`GuardError`] when the token is malformed
    /// ([`GuardError::ChallengeMalformed`]), not genuine (`ChallengeForged`), issued to
    /// another subject (`ChallengeWrongSubject`), expired (`ChallengeExpired`), not answered
    /// by `counter` (`ChallengeInsufficientWork`) or answered before (`ChallengeReused`).
    pub async fn verify(&self, subject: &str, token: &str, counter: u64) -> Result<(), GuardError> {
        let challenge = Challenge::parse(token)?;
        let bytes = &challenge.token_bytes;
        if !self.mac_key.verify(&bytes[..MAC_AT], &bytes[MAC_AT..]) {
            return Err(GuardError::ChallengeForged);
        }
        if bytes[BINDING_AT..DIFFICULTY_AT] != self.binding(subject) {
            return Err(GuardError::ChallengeWrongSubject);
        }
        let now = self.clock.now();
        if now >= challenge.expires_at {
            return Err(GuardError::ChallengeExpired);
        }
        if !carries_work(&mut work_input(bytes), counter, challenge.difficulty) {
            return Err(GuardError::ChallengeInsufficientWork);
        }
        let id = challenge.challenge_id();
        if !self.spent.lock().insert(id, challenge.expires_at, now) {
            return Err(GuardError::ChallengeReused);
        }
        if let Some(store) = &self.shared_spent {
            let keep_for = (challenge.expires_at - now)
                .to_std()
                .unwrap_or(Duration::ZERO);
            match store.mark_spent(&id, keep_for).await {
                Ok(true) => {}
                Ok(false) => return Err(GuardError::ChallengeReused),
                Err(error) => self.outage.report(&error),
            }
        }
        Ok(())
    }

    fn binding(&self, subject: &str) -> [u8; PSEUDONYM_LEN] {
        self.subject_key.pseudonym("subject", subject)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use bianmin_core::{Clock, TestClock};
    use chrono::TimeZone;

    use super::*;

    fn clock() -> TestClock {
        TestClock::at(Utc.with_ymd_and_hms(2025, 3, 1, 9, 0, 0).unwrap())
    }

    fn issuer_with(clock: &TestClock, secret_byte: u8, difficulty: u8) -> ChallengeIssuer {
        let secret = GuardSecret::from_bytes(&[secret_byte; 32]).unwrap();
        ChallengeIssuer::new(&secret, Arc::new(clock.clone()), difficulty).unwrap()
    }

    fn issuer(clock: &TestClock) -> ChallengeIssuer {
        // Low difficulty keeps the tests fast; the default is measured separately.
        issuer_with(clock, 5, 8)
    }

    #[tokio::test]
    async fn a_solved_challenge_is_accepted_once() {
        let clock = clock();
        let issuer = issuer(&clock);
        let challenge = issuer.issue("session-1");
        let counter = solve(&challenge);
        issuer
            .verify("session-1", challenge.token(), counter)
            .await
            .unwrap();
        assert!(matches!(
            issuer.verify("session-1", challenge.token(), counter).await,
            Err(GuardError::ChallengeReused)
        ));
    }

    #[tokio::test]
    async fn verification_runs_on_spawned_tasks() {
        let clock = clock();
        let issuer = Arc::new(issuer(&clock));
        let challenge = issuer.issue("session-1");
        let counter = solve(&challenge);
        // `tokio::spawn` takes only futures that may move between threads, as a server's are.
        let verifying = Arc::clone(&issuer);
        let token = challenge.token().to_owned();
        tokio::spawn(async move { verifying.verify("session-1", &token, counter).await })
            .await
            .unwrap()
            .unwrap();
    }

    #[tokio::test]
    async fn a_counter_without_the_work_is_refused() {
        let clock = clock();
        let issuer = issuer(&clock);
        let challenge = issuer.issue("session-1");
        let mut input = work_input(&challenge.token_bytes);
        let lazy = (0..)
            .find(|counter| !carries_work(&mut input, *counter, challenge.difficulty()))
            .unwrap();
        assert!(matches!(
            issuer.verify("session-1", challenge.token(), lazy).await,
            Err(GuardError::ChallengeInsufficientWork)
        ));
    }

    #[tokio::test]
    async fn a_challenge_answers_only_for_its_subject() {
        let clock = clock();
        let issuer = issuer(&clock);
        let challenge = issuer.issue("session-1");
        let counter = solve(&challenge);
        assert!(matches!(
            issuer.verify("session-2", challenge.token(), counter).await,
            Err(GuardError::ChallengeWrongSubject)
        ));
        issuer
            .verify("session-1", challenge.token(), counter)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn an_expired_challenge_is_refused() {
        let clock = clock();
        let issuer = issuer(&clock);
        let challenge = issuer.issue("session-1");
        assert_eq!(
            challenge.expires_at(),
            clock.now() + TimeDelta::seconds(120)
        );
        let counter = solve(&challenge);
        clock.advance(TimeDelta::seconds(120));
        assert!(matches!(
            issuer.verify("session-1", challenge.token(), counter).await,
            Err(GuardError::ChallengeExpired)
        ));
    }

    #[tokio::test]
    async fn altered_or_foreign_tokens_are_refused() {
        let clock = clock();
        let issuer = issuer(&clock);
        let challenge = issuer.issue("session-1");

        // Lowering the difficulty to 1 bit would make the work trivial.
        let mut easier = challenge.token_bytes;
        easier[DIFFICULTY_AT] = 1;
        let easier = Challenge::parse(&hex::encode(easier)).unwrap();
        assert!(matches!(
            issuer
                .verify("session-1", easier.token(), solve(&easier))
                .await,
            Err(GuardError::ChallengeForged)
        ));

        // Extending the expiry by an hour.
        let mut later = challenge.token_bytes;
        let extended = challenge.expires_at().timestamp() + 3600;
        later[EXPIRY_AT..MAC_AT].copy_from_slice(&extended.to_be_bytes());
        let later = Challenge::parse(&hex::encode(later)).unwrap();
        assert!(matches!(
            issuer
                .verify("session-1", later.token(), solve(&later))
                .await,
            Err(GuardError::ChallengeForged)
        ));

        let foreign = issuer_with(&clock, 6, 8).issue("session-1");
        assert!(matches!(
            issuer
                .verify("session-1", foreign.token(), solve(&foreign))
                .await,
            Err(GuardError::ChallengeForged)
        ));
    }

    #[tokio::test]
    async fn malformed_tokens_are_refused() {
        let clock = clock();
        let issuer = issuer(&clock);
        let valid = issuer.issue("session-1");
        let mut other_version = valid.token_bytes;
        other_version[0] = 2;
        for token in [
            String::new(),
            "zz".repeat(TOKEN_LEN),
            valid.token()[..TOKEN_LEN * 2 - 2].to_owned(),
            format!("{}00", valid.token()),
            hex::encode(other_version),
        ] {
            assert!(
                matches!(
                    issuer.verify("session-1", &token, 0).await,
                    Err(GuardError::ChallengeMalformed)
                ),
                "{token:?} accepted as well-formed"
            );
        }
    }

    #[test]
    fn a_client_reads_the_same_challenge_from_the_token() {
        let clock = clock();
        let challenge = issuer(&clock).issue("session-1");
        assert_eq!(Challenge::parse(challenge.token()).unwrap(), challenge);
        assert_eq!(challenge.token().len(), TOKEN_LEN * 2);
        assert_eq!(challenge.difficulty(), 8);
        assert_eq!(challenge.id().len(), 32);

        let json = serde_json::to_value(&challenge).unwrap();
        assert_eq!(json["token"], challenge.token());
        assert_eq!(json["difficulty"], 8);
        assert_eq!(json["id"], challenge.id());
        assert_eq!(json["subject_binding"], challenge.subject_binding());
        assert_eq!(json["expires_at"], "2025-03-01T09:02:00Z");
    }

    #[test]
    fn subject_binding_does_not_show_the_subject() {
        let clock = clock();
        let challenge = issuer(&clock).issue("203.0.113.7");
        assert!(!challenge.token().contains(&hex::encode("203.0.113.7")));
        assert_ne!(
            challenge.subject_binding(),
            hex::encode(&sm3_digest(b"203.0.113.7")[..PSEUDONYM_LEN])
        );
    }

    #[test]
    fn the_documented_example_holds() {
        let mut example = [0u8; TOKEN_LEN];
        example[0] = 1;
        let mut input = work_input(&example);
        let first = (0..).find(|c| carries_work(&mut input, *c, 8)).unwrap();
        assert_eq!(first, 143);
        input[TOKEN_LEN..].copy_from_slice(&143u64.to_be_bytes());
        assert!(hex::encode(sm3_digest(&input)).starts_with("0095baa7"));
        input[TOKEN_LEN..].copy_from_slice(&0u64.to_be_bytes());
        assert!(hex::encode(sm3_digest(&input)).starts_with("a4f8849e"));
    }

    #[test]
    fn difficulty_and_lifetime_are_bounded() {
        let clock = clock();
        let secret = GuardSecret::from_bytes(&[5; 32]).unwrap();
        let shared: SharedClock = Arc::new(clock.clone());
        assert!(ChallengeIssuer::new(&secret, shared.clone(), 0).is_err());
        assert!(ChallengeIssuer::new(&secret, shared.clone(), 33).is_err());
        let issuer = ChallengeIssuer::new(&secret, shared, DEFAULT_DIFFICULTY_BITS).unwrap();
        assert!(issuer.with_lifetime(Duration::from_secs(5)).is_err());
    }

    #[tokio::test]
    async fn solving_at_the_default_difficulty_takes_milliseconds() {
        let clock = clock();
        let issuer = issuer_with(&clock, 5, DEFAULT_DIFFICULTY_BITS);
        let rounds: u32 = 20;
        let mut total = Duration::ZERO;
        let mut slowest = Duration::ZERO;
        let mut hashes = 0u64;
        for round in 0..rounds {
            let subject = format!("session-{round}");
            let challenge = issuer.issue(&subject);
            let started = Instant::now();
            let counter = solve(&challenge);
            let took = started.elapsed();
            total += took;
            slowest = slowest.max(took);
            hashes += counter + 1;
            issuer
                .verify(&subject, challenge.token(), counter)
                .await
                .unwrap();
        }
        let mean = total / rounds;
        let per_hash = total / u32::try_from(hashes).unwrap_or(u32::MAX);
        println!(
            "solve at {DEFAULT_DIFFICULTY_BITS} bits: mean {mean:?}, slowest {slowest:?} over {rounds} challenges, {per_hash:?} per SM3 hash ({:.0} hashes per solve)",
            hashes as f64 / f64::from(rounds)
        );
    }
}
