//! The stored shape of a consent and the steps every capability shares: starting a writing
//! transaction, reading a consent locked for update, turning a row into a [`Consent`], and
//! recording a state change in the audit log and the outbox.

use bianmin_crypto::AuditKey;
use bianmin_exchange::{Frequency, FrequencyUnit};
use bianmin_store::{AuditEntry, NewEvent, Store, Tx};
use chrono::{DateTime, NaiveDate, SubsecRound, Utc};
use serde_json::json;
use sqlx::types::Json;
use uuid::Uuid;

use crate::{Consent, ConsentError, ConsentState, Purpose, Result};

/// A row of `consents`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct ConsentRow {
    pub(crate) id: Uuid,
    pub(crate) person_id: Uuid,
    pub(crate) consumer: String,
    pub(crate) purpose_code: String,
    pub(crate) data_kinds: Json<Vec<String>>,
    pub(crate) data_from: NaiveDate,
    pub(crate) data_to: NaiveDate,
    pub(crate) frequency_unit: String,
    pub(crate) frequency_max: i64,
    pub(crate) valid_from: DateTime<Utc>,
    pub(crate) valid_until: DateTime<Utc>,
    pub(crate) data_life_days: i64,
    pub(crate) state: String,
    pub(crate) signed_artefact_enc: Option<Vec<u8>>,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) updated_at: DateTime<Utc>,
    pub(crate) decided_at: Option<DateTime<Utc>>,
    pub(crate) revoked_at: Option<DateTime<Utc>>,
}

/// A row of `consents` with its use count and last use, as the read queries return it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct ListedRow {
    #[sqlx(flatten)]
    pub(crate) row: ConsentRow,
    pub(crate) use_count: i64,
    pub(crate) last_used_at: Option<DateTime<Utc>>,
}

/// The columns of [`ConsentRow`], in one place for every query that reads them.
macro_rules! consent_columns {
    () => {
        "c.id, c.person_id, c.consumer, c.purpose_code, c.data_kinds, c.data_from, c.data_to, \
         c.frequency_unit, c.frequency_max, c.valid_from, c.valid_until, c.data_life_days, \
         c.state, c.signed_artefact_enc, c.created_at, c.updated_at, c.decided_at, c.revoked_at"
    };
}

/// [`consent_columns!`] plus the use summary of [`ListedRow`].
macro_rules! listed_columns {
    () => {
        concat!(
            $crate::record::consent_columns!(),
            ", (SELECT COUNT(DISTINCT u.message_id) FROM consent_uses u WHERE u.consent_id = c.id) \
             AS use_count, \
             (SELECT MAX(u.used_at) FROM consent_uses u WHERE u.consent_id = c.id) AS last_used_at"
        )
    };
}
pub(crate) use {consent_columns, listed_columns};

impl ConsentRow {
    pub(crate) fn state(&self) -> Result<ConsentState> {
        ConsentState::parse(&self.state).ok_or(ConsentError::Corrupt("unknown state"))
    }

    pub(crate) fn purpose(&self) -> Result<Purpose> {
        self.purpose_code
            .parse()
            .map_err(|_| ConsentError::Corrupt("unknown purpose code"))
    }

    pub(crate) fn frequency(&self) -> Result<Frequency> {
        Ok(Frequency {
            unit: parse_unit(&self.frequency_unit)
                .ok_or(ConsentError::Corrupt("unknown frequency unit"))?,
            max: u32::try_from(self.frequency_max)
                .map_err(|_| ConsentError::Corrupt("frequency out of range"))?,
        })
    }

    /// True when the consent's validity has ended by `now` (`valid_until` is exclusive).
    pub(crate) fn lapsed(&self, now: DateTime<Utc>) -> bool {
        now >= self.valid_until
    }

    /// The consent as its owner sees it at `now`.
    pub(crate) fn into_consent(
        self,
        use_count: i64,
        last_used_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Consent> {
        let stored = self.state()?;
        let state = match stored {
            ConsentState::Pending | ConsentState::Active if self.lapsed(now) => {
                ConsentState::Expired
            }
            other => other,
        };
        Ok(Consent {
            id: self.id,
            person_id: self.person_id,
            consumer: self
                .consumer
                .parse()
                .map_err(|_| ConsentError::Corrupt("consumer is not a client identifier"))?,
            purpose: self.purpose()?,
            frequency: self.frequency()?,
            data_life_days: u32::try_from(self.data_life_days)
                .map_err(|_| ConsentError::Corrupt("data life out of range"))?,
            data_kinds: self.data_kinds.0,
            data_from: self.data_from,
            data_to: self.data_to,
            valid_from: self.valid_from,
            valid_until: self.valid_until,
            state,
            created_at: self.created_at,
            updated_at: self.updated_at,
            decided_at: self.decided_at,
            revoked_at: self.revoked_at,
            use_count: u64::try_from(use_count).unwrap_or(0),
            last_used_at,
        })
    }
}

impl ListedRow {
    pub(crate) fn into_consent(self, now: DateTime<Utc>) -> Result<Consent> {
        self.row
            .into_consent(self.use_count, self.last_used_at, now)
    }
}

/// The stored spelling of a frequency unit; also the `unit` of the artefact's JSON.
pub(crate) fn unit_str(unit: FrequencyUnit) -> &'static str {
    match unit {
        FrequencyUnit::Day => "day",
        FrequencyUnit::Month => "month",
        FrequencyUnit::Year => "year",
    }
}

fn parse_unit(text: &str) -> Option<FrequencyUnit> {
    match text {
        "day" => Some(FrequencyUnit::Day),
        "month" => Some(FrequencyUnit::Month),
        "year" => Some(FrequencyUnit::Year),
        _ => None,
    }
}

/// `now` as stored: microseconds, the precision both backends keep, so that a time read back
/// equals the time written and windows compare alike on both.
pub(crate) fn stored_time(now: DateTime<Utc>) -> DateTime<Utc> {
    now.trunc_subsecs(6)
}

/// Reads the consent `id` without a lock, and checks that it belongs to `person_id`: for the
/// vault work done before a writing transaction begins (see [`crate::artefact`]). What it
/// returns may change before the transaction locks the row; callers decide on the locked row.
pub(crate) async fn read(store: &Store, id: Uuid, person_id: Uuid) -> Result<ConsentRow> {
    let row = bianmin_store::on_pool!(store, pool => {
        sqlx::query_as::<_, ConsentRow>(concat!(
            "SELECT ",
            consent_columns!(),
            " FROM consents c WHERE c.id = $1"
        ))
        .bind(id)
        .fetch_optional(pool)
        .await?
    });
    owned(row, person_id)
}

/// Reads the consent `id` inside `tx`, locked until the transaction ends, and checks that it
/// belongs to `person_id`. Locking makes decisions, revocations and uses of one consent
/// queue, so two uses cannot both take the last one of a window, and a use cannot slip past
/// a revocation that committed first.
pub(crate) async fn lock(tx: &mut Tx, id: Uuid, person_id: Uuid) -> Result<ConsentRow> {
    // One query per backend: SQLite has no `FOR UPDATE` (its `BEGIN IMMEDIATE` already holds
    // the database's write lock), PostgreSQL needs it.
    let row = match tx {
        Tx::Sqlite(conn) => {
            sqlx::query_as::<_, ConsentRow>(concat!(
                "SELECT ",
                consent_columns!(),
                " FROM consents c WHERE c.id = $1"
            ))
            .bind(id)
            .fetch_optional(&mut **conn)
            .await?
        }
        Tx::Postgres(conn) => {
            sqlx::query_as::<_, ConsentRow>(concat!(
                "SELECT ",
                consent_columns!(),
                " FROM consents c WHERE c.id = $1 FOR UPDATE"
            ))
            .bind(id)
            .fetch_optional(&mut **conn)
            .await?
        }
    };
    owned(row, person_id)
}

/// `row` if it exists and belongs to `person_id`.
pub(crate) fn owned<R: AsRef<ConsentRow>>(row: Option<R>, person_id: Uuid) -> Result<R> {
    let row = row.ok_or(ConsentError::NotFound)?;
    if row.as_ref().person_id != person_id {
        return Err(ConsentError::NotYours);
    }
    Ok(row)
}

impl AsRef<ConsentRow> for ConsentRow {
    fn as_ref(&self) -> &ConsentRow {
        self
    }
}

impl AsRef<ConsentRow> for ListedRow {
    fn as_ref(&self) -> &ConsentRow {
        &self.row
    }
}

/// The consent `id` with its use summary, read inside `tx` (after a change, to return it).
pub(crate) async fn listed_in(tx: &mut Tx, id: Uuid, now: DateTime<Utc>) -> Result<Consent> {
    let row = bianmin_store::on_tx!(tx, conn => {
        sqlx::query_as::<_, ListedRow>(concat!(
            "SELECT ",
            listed_columns!(),
            " FROM consents c WHERE c.id = $1"
        ))
        .bind(id)
        .fetch_optional(conn)
        .await?
    });
    row.ok_or(ConsentError::NotFound)?.into_consent(now)
}

/// A change of a consent's state, as recorded in the audit log and the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    Requested,
    Approved,
    Rejected,
    Revoked,
    Expired,
}

impl Change {
    fn action(self) -> &'static str {
        match self {
            Change::Requested => crate::audit_actions::REQUEST,
            Change::Approved => crate::audit_actions::APPROVE,
            Change::Rejected => crate::audit_actions::REJECT,
            Change::Revoked => crate::audit_actions::REVOKE,
            Change::Expired => crate::audit_actions::EXPIRE,
        }
    }

    fn event_kind(self) -> &'static str {
        match self {
            Change::Requested => crate::event_kinds::REQUESTED,
            Change::Approved => crate::event_kinds::APPROVED,
            Change::Rejected => crate::event_kinds::REJECTED,
            Change::Revoked => crate::event_kinds::REVOKED,
            Change::Expired => crate::event_kinds::EXPIRED,
        }
    }
}

/// What a change says about its consent: ids, codes and kinds, never personal data.
pub(crate) struct ChangeFacts<'a> {
    pub(crate) id: Uuid,
    pub(crate) person_id: Uuid,
    pub(crate) consumer: &'a str,
    pub(crate) purpose_code: &'a str,
    pub(crate) data_kinds: &'a [String],
    pub(crate) from: Option<ConsentState>,
    pub(crate) to: ConsentState,
}

impl<'a> ChangeFacts<'a> {
    /// The facts of a change of the stored `row` to `to`.
    pub(crate) fn of(row: &'a ConsentRow, to: ConsentState) -> Result<ChangeFacts<'a>> {
        Ok(ChangeFacts {
            id: row.id,
            person_id: row.person_id,
            consumer: &row.consumer,
            purpose_code: &row.purpose_code,
            data_kinds: &row.data_kinds.0,
            from: Some(row.state()?),
            to,
        })
    }
}

/// Records `change` inside `tx`: a domain event in the outbox and an entry in the audit
/// chain, so both exist exactly when the change commits. The audit entry comes last because
/// it locks the chain head until the transaction ends.
pub(crate) async fn record_change(
    tx: &mut Tx,
    audit_key: &AuditKey,
    change: Change,
    facts: &ChangeFacts<'_>,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    tx.append_event(&NewEvent::new(
        change.event_kind(),
        "consent",
        facts.id.to_string(),
        json!({
            "purpose_code": facts.purpose_code,
            "data_kinds": facts.data_kinds,
            "consumer": facts.consumer,
        }),
        now,
    ))
    .await?;
    tx.append_audit(
        audit_key,
        &AuditEntry {
            actor: actor.to_owned(),
            action: change.action().to_owned(),
            target: format!("consent:{}", facts.id),
            purpose: Some(facts.purpose_code.to_owned()),
            details: json!({
                "person_id": facts.person_id,
                "consumer": facts.consumer,
                "data_kinds": facts.data_kinds,
                "from": facts.from.map(ConsentState::as_str),
                "to": facts.to.as_str(),
            }),
            occurred_at: now,
        },
    )
    .await?;
    Ok(())
}

/// Longest accepted actor, in characters.
const ACTOR_MAX_CHARS: usize = 200;

/// The actor trimmed, if it is fit for an audit entry: present, bounded and without control
/// characters (which could forge line breaks in an exported log).
pub(crate) fn accountable(actor: &str) -> Result<&str> {
    let actor = actor.trim();
    if actor.is_empty() {
        return Err(ConsentError::InvalidRequest("actor is required"));
    }
    if actor.chars().count() > ACTOR_MAX_CHARS || actor.chars().any(char::is_control) {
        return Err(ConsentError::InvalidRequest(
            "actor must be at most 200 characters, without control characters",
        ));
    }
    Ok(actor)
}

/// The actor of changes nobody asked for: a consent found past its validity is expired by
/// the platform, whichever call found it.
pub(crate) const SYSTEM_ACTOR: &str = "system";

/// Moves the locked `row`, found past its validity, to `EXPIRED` and records the change.
/// The caller commits, then reports [`ConsentError::Expired`] or returns the consent.
pub(crate) async fn expire(
    tx: &mut Tx,
    audit_key: &AuditKey,
    row: &ConsentRow,
    now: DateTime<Utc>,
) -> Result<()> {
    let now = stored_time(now);
    bianmin_store::on_tx!(&mut *tx, conn => {
        sqlx::query(
            "UPDATE consents SET state = 'EXPIRED', updated_at = $1 \
             WHERE id = $2 AND state IN ('PENDING', 'ACTIVE')",
        )
        .bind(now)
        .bind(row.id)
        .execute(conn)
        .await
        .map(|_| ())?
    });
    let facts = ChangeFacts::of(row, ConsentState::Expired)?;
    record_change(tx, audit_key, Change::Expired, &facts, SYSTEM_ACTOR, now).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_round_trip() {
        for unit in [
            FrequencyUnit::Day,
            FrequencyUnit::Month,
            FrequencyUnit::Year,
        ] {
            assert_eq!(parse_unit(unit_str(unit)), Some(unit));
        }
        assert_eq!(parse_unit("week"), None);
    }

    #[test]
    fn actors_are_checked() {
        assert_eq!(accountable(" principal:1 ").unwrap(), "principal:1");
        assert!(accountable("  ").is_err());
        assert!(accountable("a\nb").is_err());
        assert!(accountable(&"a".repeat(201)).is_err());
    }
}
