//! Scoring of automated behaviour per subject: a session, a device or an address.
//!
//! The server reports each meaningful request (a lookup, not every asset or parallel API call
//! of one page) as an [`Observation`]; the [`BehaviourTracker`] keeps a short window of them
//! per subject, finds the [`Signal`]s of automation in it, and answers with an [`Assessment`]:
//! a score from 0 to 100 and the [`Level`] of friction to apply.
//!
//! | signal | looks for | default weight |
//! | --- | --- | --- |
//! | `enumeration` | a group of targets linked as neighbours: sequential ids or plates (differing in one run of at most four letters or digits), or sharing two thirds of their length as prefix; from a group of 4, full at 8 | 40 |
//! | `breadth` | distinct targets beyond the 5 a person looks up for themselves and family; full at 15 | 35 |
//! | `regular_timing` | over at least 8 requests, intervals with a coefficient of variation at most 0.1 (fading out by 0.2), or a mean interval under 400 ms | 25 |
//! | `error_ratio` | over at least 8 requests, a not-found or rejected share above 50%, full at 80% | 20 |
//! | `automation` | automation user agents (HeadlessChrome, python-requests, curl, Scrapy, okhttp without the app's marker …), `navigator.webdriver`, no `Accept-Language`, no signature where the class requires one | 60 |
//!
//! Each signal contributes `weight × strength`; the score is their sum, capped at 100.
//! [`Thresholds`] turn it into a level (defaults: 30 slow, 50 challenge, 80 block). The
//! automation weight alone stays below the block threshold on purpose: signatures can be
//! forged away or shown by a misconfigured app, so blocking takes behaviour as well.
//!
//! A block lasts 15 minutes, doubled for each repeat within 24 hours of the last one, up to
//! 24 hours, and while it lasts the level stays `Block`, whatever the score. A subject that
//! answers a challenge is lowered to `Slow` for a grace period (10 minutes) but keeps its
//! window, so a bot that pays the work and carries on still reaches `Block`.
//!
//! Subjects should be sessions or devices. Many citizens share an address behind carrier-grade
//! NAT, and their lookups together would look broad; addresses are for rate limits.

mod signals;

use std::collections::VecDeque;
use std::fmt;
use std::hash::BuildHasher;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use hashlink::LruCache;
use parking_lot::Mutex;
use serde::Serialize;

pub use self::signals::Signal;
use self::signals::{ClientTells, automation_tool};
use crate::GuardError;

/// One request of a subject, as the server saw it.
#[derive(Clone)]
pub struct Observation {
    /// When the request arrived.
    pub at: DateTime<Utc>,
    /// The endpoint class, e.g. "query" (the same classes as rate limits).
    pub class: String,
    /// The identifier looked up (a resident id, a plate number), normalised by the server so
    /// that equal identifiers compare equal; `None` for requests without one.
    pub target: Option<String>,
    /// How the request ended.
    pub outcome: Outcome,
    /// What the client said about itself.
    pub client: ClientSignals,
}

impl fmt::Debug for Observation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Observation")
            .field("at", &self.at)
            .field("class", &self.class)
            .field("target", &self.target.as_ref().map(|_| "<redacted>"))
            .field("outcome", &self.outcome)
            .field("client", &self.client)
            .finish()
    }
}

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Answered with data.
    Ok,
    /// The identifier exists nowhere (a guess or a typo).
    NotFound,
    /// Refused with a 4xx other than not found (bad input, no right to see it).
    Rejected,
    /// Failed on the server's side; says nothing about the client.
    Error,
}

/// What the client said about itself in one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientSignals {
    /// The `User-Agent` header, if any.
    pub user_agent: Option<String>,
    /// Whether an `Accept-Language` header came; every browser sends one.
    pub accept_language: bool,
    /// Whether the SDK reported `navigator.webdriver` as true.
    pub webdriver: bool,
    /// Whether the request carried a valid device signature.
    pub signed: bool,
}

/// The friction to apply to a subject, from none to refusal. Ordered: `Normal < Slow <
/// Challenge < Block`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Serve as usual.
    #[default]
    Normal,
    /// Serve after [`Assessment::delay`].
    Slow,
    /// Serve only after a proof-of-work challenge is answered.
    Challenge,
    /// Refuse until [`Assessment::until`].
    Block,
}

/// One signal's contribution to a score, for logs and the operators' console.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    /// Which signal.
    pub signal: Signal,
    /// Points added to the score: the signal's weight times its strength.
    pub points: u32,
    /// What was seen, in Simplified Chinese; never quotes an identifier.
    pub detail: String,
}

/// A subject's level went up: the record to log and show in the console.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Escalation {
    /// The subject, as the caller named it.
    pub subject: String,
    /// The level before.
    pub from: Level,
    /// The level now.
    pub to: Level,
    /// The score that led here.
    pub score: u32,
    /// Why.
    pub evidence: Vec<Evidence>,
    /// When.
    pub at: DateTime<Utc>,
}

/// The verdict on a subject at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    /// From 0 (nothing suspicious) to 100.
    pub score: u32,
    /// The friction to apply.
    pub level: Level,
    /// How long to hold the response at [`Level::Slow`]: from
    /// [`BehaviourConfig::slow_delay_min`] at the slow threshold, growing with the score, to
    /// [`BehaviourConfig::slow_delay_max`] at the challenge threshold; zero at other levels.
    pub delay: Duration,
    /// The signals behind the score, in the order of [`Signal`]'s variants.
    pub evidence: Vec<Evidence>,
    /// When a time-bound level ends: the block, or the grace after a challenge.
    pub until: Option<DateTime<Utc>>,
    /// Set when this assessment raised the subject's level.
    pub escalation: Option<Escalation>,
}

impl Assessment {
    fn unseen() -> Self {
        Self {
            score: 0,
            level: Level::Normal,
            delay: Duration::ZERO,
            evidence: Vec::new(),
            until: None,
            escalation: None,
        }
    }
}

/// Scores at which each level starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    /// From this score, [`Level::Slow`] (default 30).
    pub slow: u32,
    /// From this score, [`Level::Challenge`] (default 50).
    pub challenge: u32,
    /// From this score, [`Level::Block`] (default 80).
    pub block: u32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            slow: 30,
            challenge: 50,
            block: 80,
        }
    }
}

impl Thresholds {
    /// The level a score reaches.
    pub fn level(&self, score: u32) -> Level {
        if score >= self.block {
            Level::Block
        } else if score >= self.challenge {
            Level::Challenge
        } else if score >= self.slow {
            Level::Slow
        } else {
            Level::Normal
        }
    }
}

/// Points each signal gives at full strength.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Weights {
    /// [`Signal::Enumeration`] (default 40).
    pub enumeration: u32,
    /// [`Signal::Breadth`] (default 35).
    pub breadth: u32,
    /// [`Signal::RegularTiming`] (default 25).
    pub regular_timing: u32,
    /// [`Signal::ErrorRatio`] (default 20).
    pub error_ratio: u32,
    /// [`Signal::Automation`] (default 60).
    pub automation: u32,
}

impl Default for Weights {
    fn default() -> Self {
        Self {
            enumeration: 40,
            breadth: 35,
            regular_timing: 25,
            error_ratio: 20,
            automation: 60,
        }
    }
}

impl Weights {
    fn of(&self, signal: Signal) -> u32 {
        match signal {
            Signal::Enumeration => self.enumeration,
            Signal::Breadth => self.breadth,
            Signal::RegularTiming => self.regular_timing,
            Signal::ErrorRatio => self.error_ratio,
            Signal::Automation => self.automation,
        }
    }
}

/// Everything the tracker can be tuned by; [`Default`] gives the documented defaults.
#[derive(Debug, Clone)]
pub struct BehaviourConfig {
    /// Scores at which levels start.
    pub thresholds: Thresholds,
    /// Points per signal.
    pub weights: Weights,
    /// Most observations kept per subject (default 64).
    pub window_observations: usize,
    /// Oldest observation kept per subject (default 10 minutes).
    pub window_age: Duration,
    /// Most subjects tracked; the least recently seen are forgotten first (default 100,000).
    pub max_subjects: usize,
    /// Length of a first block (default 15 minutes).
    pub block_for: Duration,
    /// Longest block, however often a subject repeats (default 24 hours).
    pub longest_block: Duration,
    /// A block that starts within this time after the previous one ended counts as a repeat
    /// and lasts twice as long (default 24 hours).
    pub repeat_within: Duration,
    /// How long a subject that answered a challenge stays at `Slow` at most (default 10
    /// minutes).
    pub challenge_grace: Duration,
    /// Delay at the slow threshold (default 500 ms).
    pub slow_delay_min: Duration,
    /// Delay just below the challenge threshold (default 2 s).
    pub slow_delay_max: Duration,
    /// Endpoint classes whose requests must be signed by a device key; an unsigned request
    /// of one of them is a sign of automation (default none, until signing is rolled out).
    pub signed_classes: Vec<String>,
    /// The token the bank's app puts in its user agent, telling its okhttp stack apart from
    /// scripts built on okhttp (default "BianminApp").
    pub app_marker: String,
    /// How many escalations [`BehaviourTracker::recent_escalations`] keeps (default 256).
    pub escalations_kept: usize,
}

impl Default for BehaviourConfig {
    fn default() -> Self {
        Self {
            thresholds: Thresholds::default(),
            weights: Weights::default(),
            window_observations: 64,
            window_age: Duration::from_secs(10 * 60),
            max_subjects: 100_000,
            block_for: Duration::from_secs(15 * 60),
            longest_block: Duration::from_secs(24 * 3600),
            repeat_within: Duration::from_secs(24 * 3600),
            challenge_grace: Duration::from_secs(10 * 60),
            slow_delay_min: Duration::from_millis(500),
            slow_delay_max: Duration::from_secs(2),
            signed_classes: Vec::new(),
            app_marker: "BianminApp".to_owned(),
            escalations_kept: 256,
        }
    }
}

/// The configuration checked, with durations in the arithmetic of timestamps.
struct Settings {
    config: BehaviourConfig,
    window_age: TimeDelta,
    block_for: TimeDelta,
    longest_block: TimeDelta,
    repeat_within: TimeDelta,
    challenge_grace: TimeDelta,
}

impl Settings {
    fn new(config: BehaviourConfig) -> Result<Self, GuardError> {
        let Thresholds {
            slow,
            challenge,
            block,
        } = config.thresholds;
        if !(0 < slow && slow < challenge && challenge < block && block <= 100) {
            return Err(GuardError::InvalidConfig(
                "behaviour thresholds must rise strictly: 0 < slow < challenge < block <= 100",
            ));
        }
        if !(8..=4096).contains(&config.window_observations) {
            return Err(GuardError::InvalidConfig(
                "the behaviour window must keep between 8 and 4096 observations",
            ));
        }
        if config.max_subjects == 0 {
            return Err(GuardError::InvalidConfig(
                "the behaviour tracker must track at least one subject",
            ));
        }
        if config.slow_delay_min > config.slow_delay_max || config.block_for > config.longest_block
        {
            return Err(GuardError::InvalidConfig(
                "slow_delay_min must not exceed slow_delay_max, nor block_for longest_block",
            ));
        }
        let span = |duration: Duration| {
            TimeDelta::from_std(duration)
                .ok()
                .filter(|span| *span > TimeDelta::zero() && *span <= TimeDelta::days(366))
                .ok_or(GuardError::InvalidConfig(
                    "behaviour durations must be positive and at most 366 days",
                ))
        };
        Ok(Self {
            window_age: span(config.window_age)?,
            block_for: span(config.block_for)?,
            longest_block: span(config.longest_block)?,
            repeat_within: span(config.repeat_within)?,
            challenge_grace: span(config.challenge_grace)?,
            config,
        })
    }

    fn delay_at(&self, score: u32) -> Duration {
        let Thresholds {
            slow, challenge, ..
        } = self.config.thresholds;
        let position = f64::from(score.saturating_sub(slow)) / f64::from(challenge - slow);
        let extra = self
            .config
            .slow_delay_max
            .saturating_sub(self.config.slow_delay_min)
            .mul_f64(position.clamp(0.0, 1.0));
        self.config.slow_delay_min + extra
    }
}

/// Tracks subjects' recent requests and assesses how automated they look.
///
/// Thread-safe: subjects are spread over 16 independently locked shards, each a least
/// recently used map holding a sixteenth of [`BehaviourConfig::max_subjects`] (rounded up),
/// so memory is bounded and a flood of new subjects forgets the quietest ones first. All time comes from
/// the caller (`at`), so a replay gives the same assessments.
pub struct BehaviourTracker {
    settings: Settings,
    shards: Box<[Mutex<LruCache<String, SubjectState>>]>,
    shard_hasher: std::hash::RandomState,
    escalations: Mutex<VecDeque<Escalation>>,
}

const SHARDS: usize = 16;

impl BehaviourTracker {
    /// A tracker with `config`, refused if the thresholds do not rise strictly, a duration is
    /// not positive, or a bound is zero.
    pub fn new(config: BehaviourConfig) -> Result<Self, GuardError> {
        let settings = Settings::new(config)?;
        let per_shard = settings.config.max_subjects.div_ceil(SHARDS);
        Ok(Self {
            settings,
            shards: (0..SHARDS)
                .map(|_| Mutex::new(LruCache::new(per_shard)))
                .collect(),
            shard_hasher: std::hash::RandomState::new(),
            escalations: Mutex::new(VecDeque::new()),
        })
    }

    /// Adds `observation` to `subject`'s window and assesses the subject.
    ///
    /// When the assessment raises the subject's level it carries an [`Escalation`], which is
    /// also kept for [`BehaviourTracker::recent_escalations`].
    pub fn observe(&self, subject: &str, observation: Observation) -> Assessment {
        let config = &self.settings.config;
        let tells = ClientTells {
            tool: automation_tool(observation.client.user_agent.as_deref(), &config.app_marker),
            webdriver: observation.client.webdriver,
            no_accept_language: !observation.client.accept_language,
            unsigned_where_required: !observation.client.signed
                && config.signed_classes.contains(&observation.class),
        };
        let at = observation.at;
        let seen = Seen {
            at,
            target: observation.target,
            outcome: observation.outcome,
            tells,
        };
        let mut shard = self.shard(subject).lock();
        let mut state = shard.remove(subject).unwrap_or_default();
        state.window.push_back(seen);
        let assessment = state.settle(subject, at, &self.settings);
        // Re-inserting makes the subject the most recently seen, evicting the least recently
        // seen one if the shard is full.
        shard.insert(subject.to_owned(), state);
        drop(shard);
        self.remember(&assessment);
        assessment
    }

    /// Assesses `subject` at `at` without adding an observation: what the server checks
    /// before serving a request. An unknown subject is `Normal`.
    pub fn standing(&self, subject: &str, at: DateTime<Utc>) -> Assessment {
        let assessment = match self.shard(subject).lock().get_mut(subject) {
            Some(state) => state.settle(subject, at, &self.settings),
            None => Assessment::unseen(),
        };
        self.remember(&assessment);
        assessment
    }

    /// Records that `subject` answered a challenge at `at`: unless it is blocked, its level is
    /// at most `Slow` for the grace period, while its window (and so its score) is kept.
    pub fn challenge_passed(&self, subject: &str, at: DateTime<Utc>) -> Assessment {
        let assessment = match self.shard(subject).lock().get_mut(subject) {
            Some(state) => {
                if !state.is_blocked_at(at) {
                    state.grace_until = at.checked_add_signed(self.settings.challenge_grace);
                }
                state.settle(subject, at, &self.settings)
            }
            None => Assessment::unseen(),
        };
        self.remember(&assessment);
        assessment
    }

    /// The latest escalations, oldest first, at most [`BehaviourConfig::escalations_kept`].
    pub fn recent_escalations(&self) -> Vec<Escalation> {
        self.escalations.lock().iter().cloned().collect()
    }

    /// The number of subjects currently tracked.
    pub fn tracked_subjects(&self) -> usize {
        self.shards.iter().map(|shard| shard.lock().len()).sum()
    }

    fn shard(&self, subject: &str) -> &Mutex<LruCache<String, SubjectState>> {
        // The modulo keeps the index below SHARDS, so the cast back from u64 cannot truncate.
        let index = (self.shard_hasher.hash_one(subject) % SHARDS as u64) as usize;
        &self.shards[index]
    }

    fn remember(&self, assessment: &Assessment) {
        let Some(escalation) = &assessment.escalation else {
            return;
        };
        let kept = self.settings.config.escalations_kept;
        let mut escalations = self.escalations.lock();
        escalations.push_back(escalation.clone());
        while escalations.len() > kept {
            escalations.pop_front();
        }
    }
}

/// One observation as kept in a window: the user agent reduced to what it tells.
struct Seen {
    at: DateTime<Utc>,
    target: Option<String>,
    outcome: Outcome,
    tells: ClientTells,
}

#[derive(Default)]
struct SubjectState {
    window: VecDeque<Seen>,
    /// The level of the last assessment, to tell escalations apart.
    level: Level,
    /// The end of the current or last block.
    block_until: Option<DateTime<Utc>>,
    /// Blocks in a row, each starting within `repeat_within` of the previous one's end.
    repeated_blocks: u32,
    grace_until: Option<DateTime<Utc>>,
}

impl SubjectState {
    fn is_blocked_at(&self, at: DateTime<Utc>) -> bool {
        self.block_until.is_some_and(|end| end > at)
    }

    /// Forgets observations outside the window, scores the rest and decides the level at
    /// `at`, starting a block if the score reaches it.
    fn settle(&mut self, subject: &str, at: DateTime<Utc>, settings: &Settings) -> Assessment {
        let config = &settings.config;
        if let Some(horizon) = at.checked_sub_signed(settings.window_age) {
            while self
                .window
                .front()
                .is_some_and(|oldest| oldest.at <= horizon)
            {
                self.window.pop_front();
            }
        }
        while self.window.len() > config.window_observations {
            self.window.pop_front();
        }

        let mut score = 0u32;
        let evidence: Vec<Evidence> = signals::findings(
            self.window.make_contiguous(),
            settings.window_age.num_minutes(),
        )
        .into_iter()
        .map(|finding| {
            let weight = f64::from(config.weights.of(finding.signal));
            // Strength is within [0, 1], so the points fit the weight's u32.
            let points = (weight * finding.strength).round() as u32;
            score = score.saturating_add(points);
            Evidence {
                signal: finding.signal,
                points,
                detail: finding.detail,
            }
        })
        .filter(|evidence| evidence.points > 0)
        .collect();
        let score = score.min(100);

        let scored = config.thresholds.level(score);
        let (level, until) = if self.is_blocked_at(at) {
            (Level::Block, self.block_until)
        } else if scored == Level::Block {
            (Level::Block, Some(self.start_block(at, settings)))
        } else {
            match self.grace_until.filter(|end| *end > at) {
                Some(end) => (scored.min(Level::Slow), Some(end)),
                None => (scored, None),
            }
        };

        let escalation = (level > self.level).then(|| Escalation {
            subject: subject.to_owned(),
            from: self.level,
            to: level,
            score,
            evidence: evidence.clone(),
            at,
        });
        self.level = level;
        Assessment {
            score,
            level,
            delay: if level == Level::Slow {
                settings.delay_at(score)
            } else {
                Duration::ZERO
            },
            evidence,
            until,
            escalation,
        }
    }

    /// Starts a block at `at` and returns its end: the first block's length, doubled for each
    /// repeat in a row, capped at the longest block.
    fn start_block(&mut self, at: DateTime<Utc>, settings: &Settings) -> DateTime<Utc> {
        let repeat = self
            .block_until
            .is_some_and(|previous_end| at - previous_end < settings.repeat_within);
        self.repeated_blocks = if repeat {
            self.repeated_blocks.saturating_add(1)
        } else {
            0
        };
        let mut length = settings.block_for;
        // Doubling past 2^20 would pass any cap of at most 366 days from at least a second.
        for _ in 0..self.repeated_blocks.min(20) {
            length = (length * 2).min(settings.longest_block);
        }
        let end = at
            .checked_add_signed(length)
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        self.block_until = Some(end);
        self.grace_until = None;
        end
    }
}

#[cfg(test)]
mod tests;
