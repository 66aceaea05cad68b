//! What the ledger hands out: consents, their states and their uses, and what a consumer asks
//! for.

use std::fmt;

use bianmin_exchange::{ClientId, Frequency};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Serialize, Serializer};
use uuid::Uuid;

use crate::Purpose;

/// Where a consent is in its life.
///
/// ```text
///            approve            revoke
/// PENDING ────────────► ACTIVE ────────► REVOKED
///    │  reject             │
///    ├──────────► REJECTED │ valid_until passed
///    │ valid_until passed  ▼
///    └───────────────► EXPIRED
/// ```
///
/// Only `ACTIVE` consents are used; the other four never change again once reached, except
/// that revoking a `REVOKED` consent is accepted and changes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConsentState {
    /// Requested by a consumer, waiting for the person to decide.
    Pending,
    /// Approved: signed, and usable within its validity, kinds and frequency.
    Active,
    /// Refused by the person.
    Rejected,
    /// Withdrawn by the person after approval.
    Revoked,
    /// Its validity ended (before or after approval).
    Expired,
}

impl ConsentState {
    /// The stored spelling: `PENDING`, `ACTIVE`, `REJECTED`, `REVOKED`, `EXPIRED`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentState::Pending => "PENDING",
            ConsentState::Active => "ACTIVE",
            ConsentState::Rejected => "REJECTED",
            ConsentState::Revoked => "REVOKED",
            ConsentState::Expired => "EXPIRED",
        }
    }

    /// The state stored as `text`, if it is one.
    pub(crate) fn parse(text: &str) -> Option<ConsentState> {
        [
            ConsentState::Pending,
            ConsentState::Active,
            ConsentState::Rejected,
            ConsentState::Revoked,
            ConsentState::Expired,
        ]
        .into_iter()
        .find(|state| state.as_str() == text)
    }
}

impl fmt::Display for ConsentState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ConsentState {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// What a consumer asks a person to allow, to [`ConsentLedger::request`](crate::ConsentLedger::request).
#[derive(Debug, Clone)]
pub struct ConsentRequest {
    /// The person whose data would be fetched (a `persons` id).
    pub person_id: Uuid,
    /// The client subsystem that would fetch it, e.g. `CN-CD/COM/bank/bianmin`.
    pub consumer: ClientId,
    /// Why; limits which data kinds may be asked for.
    pub purpose: Purpose,
    /// What: one or more kinds the purpose allows, each at most once.
    pub data_kinds: Vec<String>,
    /// First day of the data covered.
    pub data_from: NaiveDate,
    /// Last day of the data covered (not before `data_from`).
    pub data_to: NaiveDate,
    /// How often it may be used: at least once, at most 1,000 times per day, month or year.
    pub frequency: Frequency,
    /// How long it stays valid, counted from the request: positive, at most 365 days.
    pub valid_for: Duration,
    /// How long the consumer may keep fetched data, in days (0: not beyond the request);
    /// at most 365.
    pub data_life_days: u32,
}

/// A consent as its person (or the consumer) sees it.
#[derive(Debug, Clone, Serialize)]
pub struct Consent {
    /// The consent's id (`consent_id` in the artefact).
    pub id: Uuid,
    /// The person it belongs to.
    pub person_id: Uuid,
    /// The client allowed to use it.
    pub consumer: ClientId,
    /// Why it was given.
    pub purpose: Purpose,
    /// The data kinds it covers.
    pub data_kinds: Vec<String>,
    /// First day of the data covered.
    pub data_from: NaiveDate,
    /// Last day of the data covered.
    pub data_to: NaiveDate,
    /// Uses allowed per calendar day, month or year (China Standard Time).
    pub frequency: Frequency,
    /// Start of validity (the time of the request).
    pub valid_from: DateTime<Utc>,
    /// End of validity (exclusive).
    pub valid_until: DateTime<Utc>,
    /// How long the consumer may keep fetched data, in days.
    pub data_life_days: u32,
    /// The state as of the `now` of the call that returned it: an `ACTIVE` or `PENDING`
    /// consent whose validity has ended reads as `EXPIRED` even before a write records it.
    pub state: ConsentState,
    /// When it was requested.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// When the person approved or rejected it.
    pub decided_at: Option<DateTime<Utc>>,
    /// When the person revoked it.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Requests made under it so far (a request covering several data kinds counts once).
    pub use_count: u64,
    /// When it was last used.
    pub last_used_at: Option<DateTime<Utc>>,
}

/// One recorded use of a consent: a request to a service under it, for one data kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct ConsentUse {
    /// The use's id.
    pub id: Uuid,
    /// The consent it was made under.
    pub consent_id: Uuid,
    /// The data kind fetched.
    pub data_kind: String,
    /// The service identifier it was fetched from.
    pub service: String,
    /// The exchange message id of the request.
    pub message_id: Uuid,
    /// When it was authorised.
    pub used_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_through_their_stored_spelling() {
        for text in ["PENDING", "ACTIVE", "REJECTED", "REVOKED", "EXPIRED"] {
            assert_eq!(ConsentState::parse(text).unwrap().as_str(), text);
        }
        assert_eq!(ConsentState::parse("active"), None);
    }
}
