//! Login protection: brute force on one account, attacks spread over many addresses, credential
//! stuffing, and abuse of one-time passwords (OTP) sent by SMS.
//!
//! | threat | rule (defaults) | effect |
//! | --- | --- | --- |
//! | guessing one account from one source | 5 failures of the (account, source) pair within 15 minutes | that pair is locked 1 minute; each further failure before it has been quiet for 15 minutes locks it twice as long, up to 30 minutes; a success resets the pair |
//! | guessing one account from many sources | failures from 3 or more sources, or 10 or more failures, within an hour | the account is **not** locked (that would let anyone lock a victim out at will): every attempt on it must answer a challenge, which the owner does once and a botnet pays on every try |
//! | credential stuffing | one source failing against 5 or more distinct accounts within 10 minutes, with at least 80% of its attempts failing | the source is blocked for an hour ([`SourceBlock`] says why); a device known to the account it tries gets a challenge instead, since citizens share addresses behind carrier-grade NAT |
//! | OTP guessing | 5 wrong entries of one OTP | the OTP is dead; a new one must be requested |
//! | SMS pumping | 5 OTP sends per (account, source) pair and 20 per source within an hour | further requests from that pair or source are refused until the oldest send leaves the hour |
//! | denying an account its OTPs from many sources | 10 OTP sends per account within an hour, whatever their sources | the account is **not** locked: every further send must answer a challenge, so its owner can always get a code |
//!
//! A source is what the server trusts most about where an attempt comes from: the device id
//! when the request is signed by an enrolled device key, otherwise the address. Accounts and
//! sources are held only as pseudonyms (HMAC-SM3 under a key derived from the
//! [`GuardSecret`]), and all state is bounded: the least recently used accounts, pairs and
//! sources are forgotten first beyond [`LoginConfig::max_tracked`] each.
//!
//! The state is per instance. Deployments with several instances should route a login
//! session to one instance, or accept that each instance counts for itself (the limits then
//! multiply by the number of instances; the rate limits of [`crate::limit`] are shared).

use std::collections::{HashSet, VecDeque};
use std::hash::Hash;
use std::time::Duration;

use bianmin_core::SharedClock;
use chrono::{DateTime, TimeDelta, Utc};
use hashlink::LruCache;
use hashlink::linked_hash_map::Entry;
use parking_lot::Mutex;
use serde::Serialize;

use crate::secret::{PSEUDONYM_LEN, SubKey};
use crate::{GuardError, GuardSecret};

/// What to do with a login attempt (or a request for an OTP) before checking credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginVerdict {
    /// Check the credentials.
    Allow,
    /// Check the credentials only after a proof-of-work challenge is answered (see
    /// [`crate::challenge`]).
    Challenge,
    /// Refuse without checking; try again after `retry_after` (whole seconds, at least one).
    Locked {
        /// When to try again.
        retry_after: Duration,
    },
}

/// Whether a submitted OTP may be compared with the one sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtpAttempt {
    /// Compare it; this attempt has been counted, `attempts_left` remain after it.
    Compare {
        /// Wrong entries still allowed after this one.
        attempts_left: u32,
    },
    /// Do not compare: no OTP was sent, it expired, was used, or had all its attempts. A new
    /// one must be requested.
    Dead,
}

/// A source blocked for credential stuffing, with the evidence: the record to log and show in
/// the console.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceBlock {
    /// The source's pseudonym (32 hexadecimal digits); the caller knows which source it was.
    pub source: String,
    /// Distinct accounts that failed from the source within the window.
    pub distinct_accounts: usize,
    /// Failed attempts from the source within the window.
    pub failures: usize,
    /// All attempts from the source within the window.
    pub attempts: usize,
    /// When the block started.
    pub at: DateTime<Utc>,
    /// When it ends.
    pub until: DateTime<Utc>,
    /// What was seen, in Simplified Chinese.
    pub evidence: String,
}

/// Every rule's numbers; [`Default`] gives the documented defaults.
#[derive(Debug, Clone)]
pub struct LoginConfig {
    /// Failures of one (account, source) pair that lock it (default 5).
    pub pair_failures: usize,
    /// Window for those failures, and the quiet time after a lock that resets the doubling
    /// (default 15 minutes).
    pub pair_window: Duration,
    /// Length of a pair's first lock (default 1 minute).
    pub first_lock: Duration,
    /// Longest lock of a pair (default 30 minutes).
    pub longest_lock: Duration,
    /// Window for an account's failures over all sources (default 1 hour).
    pub account_window: Duration,
    /// Distinct failing sources that make an account require a challenge (default 3).
    pub account_challenge_sources: usize,
    /// Failures over all sources that make an account require a challenge (default 10).
    pub account_challenge_failures: usize,
    /// Window in which credential stuffing is judged (default 10 minutes).
    pub stuffing_window: Duration,
    /// Distinct accounts failing from one source that count as stuffing (default 5).
    pub stuffing_accounts: usize,
    /// Share of the source's attempts that must have failed (default 0.8).
    pub stuffing_failure_share: f64,
    /// How long a stuffing source is blocked (default 1 hour).
    pub stuffing_block: Duration,
    /// Entries allowed per OTP (default 5).
    pub otp_attempts: u32,
    /// How long an OTP can be entered (default 5 minutes).
    pub otp_lifetime: Duration,
    /// Window of the OTP send limits (default 1 hour).
    pub otp_send_window: Duration,
    /// OTP sends per (account, source) pair within the window (default 5).
    pub otp_sends_per_account: usize,
    /// OTP sends per account within the window, over all sources, after which every further
    /// send must answer a challenge (default 10).
    pub otp_sends_before_challenge: usize,
    /// OTP sends per source within the window (default 20).
    pub otp_sends_per_source: usize,
    /// Most accounts, pairs and sources tracked, each (default 100,000).
    pub max_tracked: usize,
}

impl Default for LoginConfig {
    fn default() -> Self {
        Self {
            pair_failures: 5,
            pair_window: Duration::from_secs(15 * 60),
            first_lock: Duration::from_secs(60),
            longest_lock: Duration::from_secs(30 * 60),
            account_window: Duration::from_secs(3600),
            account_challenge_sources: 3,
            account_challenge_failures: 10,
            stuffing_window: Duration::from_secs(10 * 60),
            stuffing_accounts: 5,
            stuffing_failure_share: 0.8,
            stuffing_block: Duration::from_secs(3600),
            otp_attempts: 5,
            otp_lifetime: Duration::from_secs(5 * 60),
            otp_send_window: Duration::from_secs(3600),
            otp_sends_per_account: 5,
            otp_sends_before_challenge: 10,
            otp_sends_per_source: 20,
            max_tracked: 100_000,
        }
    }
}

/// The configuration checked, with durations in the arithmetic of timestamps.
struct Settings {
    config: LoginConfig,
    pair_window: TimeDelta,
    first_lock: TimeDelta,
    longest_lock: TimeDelta,
    account_window: TimeDelta,
    stuffing_window: TimeDelta,
    stuffing_block: TimeDelta,
    otp_lifetime: TimeDelta,
    otp_send_window: TimeDelta,
}

impl Settings {
    fn new(config: LoginConfig) -> Result<Self, GuardError> {
        let counts = [
            config.pair_failures,
            config.account_challenge_sources,
            config.account_challenge_failures,
            config.stuffing_accounts,
            config.otp_sends_per_account,
            config.otp_sends_before_challenge,
            config.otp_sends_per_source,
            config.max_tracked,
        ];
        if counts.contains(&0) || config.otp_attempts == 0 {
            return Err(GuardError::InvalidConfig(
                "login thresholds and bounds must be at least 1",
            ));
        }
        if !(config.stuffing_failure_share > 0.0 && config.stuffing_failure_share <= 1.0) {
            return Err(GuardError::InvalidConfig(
                "the stuffing failure share must be above 0 and at most 1",
            ));
        }
        if config.first_lock > config.longest_lock {
            return Err(GuardError::InvalidConfig(
                "a pair's first lock must not exceed its longest lock",
            ));
        }
        let span = |duration: Duration| {
            TimeDelta::from_std(duration)
                .ok()
                .filter(|span| *span > TimeDelta::zero() && *span <= TimeDelta::days(366))
                .ok_or(GuardError::InvalidConfig(
                    "login durations must be positive and at most 366 days",
                ))
        };
        Ok(Self {
            pair_window: span(config.pair_window)?,
            first_lock: span(config.first_lock)?,
            longest_lock: span(config.longest_lock)?,
            account_window: span(config.account_window)?,
            stuffing_window: span(config.stuffing_window)?,
            stuffing_block: span(config.stuffing_block)?,
            otp_lifetime: span(config.otp_lifetime)?,
            otp_send_window: span(config.otp_send_window)?,
            config,
        })
    }
}

type Pseudonym = [u8; PSEUDONYM_LEN];

/// Most failures kept per account and attempts per source: far above every threshold, so the
/// rules see all they need while an attack cannot grow the state.
const HISTORY_KEPT: usize = 256;

/// Guards logins and OTPs of one instance (see the module documentation for the rules).
///
/// The server calls [`LoginGuard::before_attempt`] before checking credentials and
/// [`LoginGuard::record`] after; for OTP logins also [`LoginGuard::request_otp`] before
/// sending one, [`LoginGuard::begin_otp_attempt`] before comparing an entry and
/// [`LoginGuard::otp_accepted`] once it matched. Thread-safe; time comes from the injected
/// clock.
pub struct LoginGuard {
    ids: SubKey,
    clock: SharedClock,
    settings: Settings,
    state: Mutex<LoginState>,
}

struct LoginState {
    pairs: LruCache<(Pseudonym, Pseudonym), PairState>,
    accounts: LruCache<Pseudonym, AccountState>,
    sources: LruCache<Pseudonym, SourceState>,
}

impl LoginGuard {
    /// A guard with `config`, keying pseudonyms with `secret` and reading time from `clock`.
    /// Refused if a threshold or bound is zero or a duration is not positive.
    pub fn new(
        secret: &GuardSecret,
        clock: SharedClock,
        config: LoginConfig,
    ) -> Result<Self, GuardError> {
        let settings = Settings::new(config)?;
        let bound = settings.config.max_tracked;
        Ok(Self {
            ids: secret.derive("login"),
            clock,
            settings,
            state: Mutex::new(LoginState {
                pairs: LruCache::new(bound),
                accounts: LruCache::new(bound),
                sources: LruCache::new(bound),
            }),
        })
    }

    /// Whether to check the credentials of `account` tried from `source`; `known_device` says
    /// whether the source is a device enrolled by that account.
    ///
    /// Locked while the pair is locked, or while the source is blocked for stuffing (a known
    /// device gets a challenge instead); a challenge while the account is under attack from
    /// many sources. An attack on an account never locks its owner's known device out.
    pub fn before_attempt(&self, account: &str, source: &str, known_device: bool) -> LoginVerdict {
        let now = self.clock.now();
        let (account, source) = (self.account_id(account), self.source_id(source));
        let state = self.state.lock();
        if let Some(end) = state
            .pairs
            .peek(&(account, source))
            .and_then(|pair| pair.locked_until)
            .filter(|end| *end > now)
        {
            return locked_until(end, now);
        }
        if let Some(end) = state
            .sources
            .peek(&source)
            .and_then(|source| source.blocked_until)
            .filter(|end| *end > now)
        {
            return if known_device {
                LoginVerdict::Challenge
            } else {
                locked_until(end, now)
            };
        }
        let under_attack = state
            .accounts
            .peek(&account)
            .is_some_and(|account| account.requires_challenge(now, &self.settings));
        if under_attack {
            LoginVerdict::Challenge
        } else {
            LoginVerdict::Allow
        }
    }

    /// Records the outcome of a credentials check of `account` from `source`.
    ///
    /// A success resets the pair; a failure counts towards the pair's lock, the account's
    /// challenge and the source's stuffing rule. Returns the block when this failure made the
    /// source a credential stuffer.
    pub fn record(&self, account: &str, source: &str, success: bool) -> Option<SourceBlock> {
        let now = self.clock.now();
        let settings = &self.settings;
        let (account, source) = (self.account_id(account), self.source_id(source));
        let mut state = self.state.lock();
        if success {
            state.pairs.remove(&(account, source));
        } else {
            touch(&mut state.pairs, (account, source)).record_failure(now, settings);
            let account_state = touch(&mut state.accounts, account);
            account_state.failures.push_back((now, source));
            forget_before(
                &mut account_state.failures,
                now - settings.account_window,
                |f| f.0,
            );
        }
        let source_state = touch(&mut state.sources, source);
        source_state.attempts.push_back(Attempt {
            at: now,
            account,
            success,
        });
        forget_before(
            &mut source_state.attempts,
            now - settings.stuffing_window,
            |a| a.at,
        );
        source_state
            .detect_stuffing(now, settings)
            .map(|mut block| {
                block.source = hex::encode(source);
                block
            })
    }

    /// Whether `account` currently requires a challenge because of failures from many
    /// sources (or many failures).
    pub fn requires_challenge(&self, account: &str) -> bool {
        let now = self.clock.now();
        let account = self.account_id(account);
        self.state
            .lock()
            .accounts
            .peek(&account)
            .is_some_and(|account| account.requires_challenge(now, &self.settings))
    }

    /// Asks to send `account` a new OTP from `source`. On `Allow`, send it: it replaces any
    /// earlier OTP, which is dead from now on. `Locked` when the (account, source) pair or the
    /// source has had its sends for the window, or the source is blocked for stuffing;
    /// `Challenge` when the account has had [`LoginConfig::otp_sends_before_challenge`] sends
    /// from all sources and `challenge_answered` is false (ask again with `true` once the
    /// caller answered one). Nothing is counted unless the verdict is `Allow`.
    ///
    /// Nobody can deny an account its OTPs: an attacker's sends spend only their own pair's
    /// and source's allowance, and past the account's overall count the owner pays a proof of
    /// work rather than waiting.
    pub fn request_otp(
        &self,
        account: &str,
        source: &str,
        challenge_answered: bool,
    ) -> LoginVerdict {
        let now = self.clock.now();
        let settings = &self.settings;
        let (account, source) = (self.account_id(account), self.source_id(source));
        let window_start = now - settings.otp_send_window;
        let mut state = self.state.lock();

        let source_state = touch(&mut state.sources, source);
        if let Some(end) = source_state.blocked_until.filter(|end| *end > now) {
            return locked_until(end, now);
        }
        forget_before(&mut source_state.otp_sends, window_start, |at| *at);
        if let Some(oldest) = full_window(
            &source_state.otp_sends,
            settings.config.otp_sends_per_source,
        ) {
            return locked_until(oldest + settings.otp_send_window, now);
        }
        let pair_state = touch(&mut state.pairs, (account, source));
        forget_before(&mut pair_state.otp_sends, window_start, |at| *at);
        if let Some(oldest) =
            full_window(&pair_state.otp_sends, settings.config.otp_sends_per_account)
        {
            return locked_until(oldest + settings.otp_send_window, now);
        }
        let account_state = touch(&mut state.accounts, account);
        forget_before(&mut account_state.otp_sends, window_start, |at| *at);
        if !challenge_answered
            && account_state.otp_sends.len() >= settings.config.otp_sends_before_challenge
        {
            return LoginVerdict::Challenge;
        }
        account_state.otp_sends.push_back(now);
        account_state.otp = Some(LiveOtp {
            expires_at: now + settings.otp_lifetime,
            attempts_left: settings.config.otp_attempts,
        });
        touch(&mut state.sources, source).otp_sends.push_back(now);
        touch(&mut state.pairs, (account, source))
            .otp_sends
            .push_back(now);
        LoginVerdict::Allow
    }

    /// Counts one entry of `account`'s OTP before it is compared, so that concurrent entries
    /// cannot exceed the allowance.
    pub fn begin_otp_attempt(&self, account: &str) -> OtpAttempt {
        let now = self.clock.now();
        let account = self.account_id(account);
        let mut state = self.state.lock();
        let live = state
            .accounts
            .get_mut(&account)
            .and_then(|account| account.otp.as_mut())
            .filter(|otp| otp.expires_at > now && otp.attempts_left > 0);
        match live {
            Some(otp) => {
                otp.attempts_left -= 1;
                OtpAttempt::Compare {
                    attempts_left: otp.attempts_left,
                }
            }
            None => OtpAttempt::Dead,
        }
    }

    /// Marks `account`'s OTP as used: an OTP logs in once.
    pub fn otp_accepted(&self, account: &str) {
        let account = self.account_id(account);
        if let Some(account) = self.state.lock().accounts.get_mut(&account) {
            account.otp = None;
        }
    }

    fn account_id(&self, account: &str) -> Pseudonym {
        self.ids.pseudonym("account", account)
    }

    fn source_id(&self, source: &str) -> Pseudonym {
        self.ids.pseudonym("source", source)
    }
}

/// `Locked` until `end`.
fn locked_until(end: DateTime<Utc>, now: DateTime<Utc>) -> LoginVerdict {
    LoginVerdict::Locked {
        retry_after: crate::retry_after((end - now).to_std().unwrap_or_default()),
    }
}

/// The entry for `key`, created empty if missing, marked as the most recently used.
fn touch<K: Hash + Eq, V: Default>(cache: &mut LruCache<K, V>, key: K) -> &mut V {
    match cache.entry(key) {
        Entry::Occupied(mut occupied) => {
            occupied.to_back();
            occupied.into_mut()
        }
        Entry::Vacant(vacant) => vacant.insert(V::default()),
    }
}

/// Drops the entries of a time-ordered history older than `start`, and the oldest beyond
/// [`HISTORY_KEPT`].
fn forget_before<T>(
    history: &mut VecDeque<T>,
    start: DateTime<Utc>,
    time_of: impl Fn(&T) -> DateTime<Utc>,
) {
    while history
        .front()
        .is_some_and(|oldest| time_of(oldest) <= start || history.len() > HISTORY_KEPT)
    {
        history.pop_front();
    }
}

/// The oldest send if `sends` (within the window) already holds `limit` of them.
fn full_window(sends: &VecDeque<DateTime<Utc>>, limit: usize) -> Option<DateTime<Utc>> {
    if sends.len() >= limit {
        sends.front().copied()
    } else {
        None
    }
}

#[derive(Default)]
struct PairState {
    failures: VecDeque<DateTime<Utc>>,
    otp_sends: VecDeque<DateTime<Utc>>,
    /// The end of the current or last lock.
    locked_until: Option<DateTime<Utc>>,
    locks_in_a_row: u32,
}

impl PairState {
    fn record_failure(&mut self, now: DateTime<Utc>, settings: &Settings) {
        forget_before(&mut self.failures, now - settings.pair_window, |at| *at);
        let cooled_down = self
            .locked_until
            .is_none_or(|end| now - end >= settings.pair_window);
        if cooled_down {
            self.locks_in_a_row = 0;
        }
        self.failures.push_back(now);
        if self.locks_in_a_row > 0 || self.failures.len() >= settings.config.pair_failures {
            let mut length = settings.first_lock;
            // Doubling past 2^20 would pass any cap of at most 366 days from at least a second.
            for _ in 0..self.locks_in_a_row.min(20) {
                length = (length * 2).min(settings.longest_lock);
            }
            self.locks_in_a_row = self.locks_in_a_row.saturating_add(1);
            self.locked_until = Some(now + length);
            self.failures.clear();
        }
    }
}

#[derive(Default)]
struct AccountState {
    /// Failures over all sources, with the source of each.
    failures: VecDeque<(DateTime<Utc>, Pseudonym)>,
    otp: Option<LiveOtp>,
    otp_sends: VecDeque<DateTime<Utc>>,
}

impl AccountState {
    fn requires_challenge(&self, now: DateTime<Utc>, settings: &Settings) -> bool {
        let start = now - settings.account_window;
        let recent: Vec<&Pseudonym> = self
            .failures
            .iter()
            .filter(|(at, _)| *at > start)
            .map(|(_, source)| source)
            .collect();
        let sources: HashSet<&Pseudonym> = recent.iter().copied().collect();
        recent.len() >= settings.config.account_challenge_failures
            || sources.len() >= settings.config.account_challenge_sources
    }
}

struct LiveOtp {
    expires_at: DateTime<Utc>,
    attempts_left: u32,
}

struct Attempt {
    at: DateTime<Utc>,
    account: Pseudonym,
    success: bool,
}

#[derive(Default)]
struct SourceState {
    attempts: VecDeque<Attempt>,
    blocked_until: Option<DateTime<Utc>>,
    otp_sends: VecDeque<DateTime<Utc>>,
}

impl SourceState {
    /// Blocks the source if its attempts within the window are credential stuffing, and
    /// returns the block (its `source` left for the caller to fill in).
    fn detect_stuffing(&mut self, now: DateTime<Utc>, settings: &Settings) -> Option<SourceBlock> {
        if self.blocked_until.is_some_and(|end| end > now) {
            return None;
        }
        let failed_accounts: Vec<&Pseudonym> = self
            .attempts
            .iter()
            .filter(|attempt| !attempt.success)
            .map(|attempt| &attempt.account)
            .collect();
        let distinct_accounts = failed_accounts.iter().collect::<HashSet<_>>().len();
        let failures = failed_accounts.len();
        let attempts = self.attempts.len();
        let share = failures as f64 / attempts.max(1) as f64;
        let config = &settings.config;
        if distinct_accounts < config.stuffing_accounts || share < config.stuffing_failure_share {
            return None;
        }
        let until = now + settings.stuffing_block;
        self.blocked_until = Some(until);
        Some(SourceBlock {
            source: String::new(),
            distinct_accounts,
            failures,
            attempts,
            at: now,
            until,
            evidence: format!(
                "{} 分钟内对 {distinct_accounts} 个不同账户登录失败 {failures} 次（共 {attempts} 次尝试，失败率 {:.0}%），疑似撞库",
                settings.stuffing_window.num_minutes(),
                share * 100.0
            ),
        })
    }
}

#[cfg(test)]
mod tests;
