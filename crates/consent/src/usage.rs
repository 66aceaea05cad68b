//! Using a consent: the check a consumer makes before every request, and the record of it.

use std::sync::PoisonError;

use bianmin_core::clock::CHINA_STANDARD_TIME;
use bianmin_crypto::sm3_digest;
use bianmin_exchange::{FrequencyUnit, SignedConsent};
use bianmin_store::Tx;
use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeDelta, Utc};
use uuid::Uuid;

use crate::purpose::kinds;
use crate::record::{ConsentRow, expire, lock, read, stored_time, unit_str};
use crate::{ConsentError, ConsentLedger, ConsentState, Result, VERIFIED_CAPACITY};

/// Longest service identifier accepted, in characters (six parts of at most 64).
const MAX_SERVICE_CHARS: usize = 6 * 65;

/// One use to authorise: a request (`message_id`) to `service` for `data_kind`.
#[derive(Debug, Clone, Copy)]
pub struct NewUse<'a> {
    /// The data kind the request fetches.
    pub data_kind: &'a str,
    /// The service identifier.
    pub service: &'a str,
    /// The exchange message id of the request.
    pub message_id: Uuid,
}

/// The uses of one consent, for [`ConsentLedger::authorize_uses_of`].
#[derive(Debug, Clone, Copy)]
pub struct ConsentUses<'a> {
    /// The consent.
    pub consent_id: Uuid,
    /// What it is used for.
    pub uses: &'a [NewUse<'a>],
}

/// What the checks on a locked consent row found.
enum Checked<'u> {
    /// Usable: its signed artefact, and the uses to record (those not recorded before).
    Usable {
        signed: Box<SignedConsent>,
        new: Vec<&'u NewUse<'u>>,
    },
    /// Active but past its validity.
    Lapsed,
}

/// Refuses an empty list of uses, a malformed data kind or service identifier.
fn check_uses(uses: &[NewUse<'_>]) -> Result<()> {
    if uses.is_empty() {
        return Err(ConsentError::InvalidRequest("no use to authorise"));
    }
    for new in uses {
        if !kinds::well_formed(new.data_kind) {
            return Err(ConsentError::InvalidRequest(
                "a data kind is 1 to 64 ASCII letters, digits, '.', '_' or '-'",
            ));
        }
        let service = new.service;
        if service.is_empty()
            || service.chars().count() > MAX_SERVICE_CHARS
            || service.chars().any(|c| c.is_control() || c.is_whitespace())
        {
            return Err(ConsentError::InvalidRequest(
                "service must be a service identifier",
            ));
        }
    }
    Ok(())
}

impl ConsentLedger {
    /// Authorises one request to `service` for `data_kind` under consent `consent_id` of
    /// `person_id`, records the use, and returns the signed consent to send with it
    /// (`SignedConsent::header` is the `X-Exchange-Consent` value).
    ///
    /// The consent must be `ACTIVE`, within its validity at `now`, cover `data_kind`, and have
    /// a use left in the current frequency window: the calendar day, month or year in China
    /// Standard Time that `now` falls in. The use is recorded in the same transaction as the
    /// checks, so it counts against the window as soon as this returns.
    ///
    /// `message_id` is the exchange message id of the request. Calling again with the same
    /// message id (a retry) or for another kind of the same request is the same use: it is not
    /// counted again, but every other check is made again, so a retry after a revocation is
    /// refused.
    ///
    /// # Errors
    ///
    /// - [`ConsentError::NotFound`], [`ConsentError::NotYours`]: no such consent of this person.
    /// - [`ConsentError::Revoked`]; [`ConsentError::NotActive`] if pending or rejected.
    /// - [`ConsentError::Expired`] if its validity has ended; an `ACTIVE` consent is then moved
    ///   to `EXPIRED` (audited, actor `system`).
    /// - [`ConsentError::NotYetValid`] if `now` is before its validity (a clock behind the one
    ///   that recorded the request).
    /// - [`ConsentError::KindNotCovered`] if `data_kind` is not among its kinds.
    /// - [`ConsentError::FrequencyExceeded`] if the window's uses are spent.
    /// - [`ConsentError::InvalidRequest`] for a malformed data kind or service identifier.
    /// - [`ConsentError::SubjectErased`] if the person has been erased: the artefact no
    ///   longer opens, nothing is recorded or sent.
    /// - [`ConsentError::Corrupt`] if the stored artefact does not decrypt for its row, no
    ///   longer verifies with the platform's key or no longer matches its row; nothing is
    ///   then sent.
    /// - [`ConsentError::Vault`] if the person's data key cannot be used.
    /// - [`ConsentError::Store`] if the database fails.
    pub async fn authorize_use(
        &self,
        consent_id: Uuid,
        person_id: Uuid,
        data_kind: &str,
        service: &str,
        message_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<SignedConsent> {
        self.authorize_uses(
            consent_id,
            person_id,
            &[NewUse {
                data_kind,
                service,
                message_id,
            }],
            now,
        )
        .await
    }

    /// Authorises several uses of consent `consent_id` of `person_id` at once, as
    /// [`authorize_use`](Self::authorize_use) does one: the same checks, made once on the
    /// locked row, and every use recorded in one transaction. All are authorised or none: if
    /// the window has fewer uses left than the batch has new requests (distinct message ids
    /// not recorded before), the whole batch is refused with
    /// [`ConsentError::FrequencyExceeded`] and nothing is recorded. A journey that asks
    /// several agencies at once (a loan decision) pays one transaction instead of one per
    /// agency.
    ///
    /// # Errors
    ///
    /// As [`authorize_use`](Self::authorize_use); [`ConsentError::InvalidRequest`] also for an
    /// empty batch.
    pub async fn authorize_uses(
        &self,
        consent_id: Uuid,
        person_id: Uuid,
        uses: &[NewUse<'_>],
        now: DateTime<Utc>,
    ) -> Result<SignedConsent> {
        let mut signed = self
            .authorize_uses_of(person_id, &[ConsentUses { consent_id, uses }], now)
            .await?;
        signed
            .pop()
            .ok_or(ConsentError::InvalidRequest("no use to authorise"))
    }

    /// Authorises uses of several consents of `person_id` in one transaction, each as
    /// [`authorize_uses`](Self::authorize_uses) would: a loan decision asks under a consent
    /// for government data and another for the credit report, and pays one commit (one turn
    /// at SQLite's write lock) for both. All are authorised or none: one consent's refusal
    /// refuses every use, and nothing is recorded. Returns each consent's signed artefact, in
    /// the order given.
    ///
    /// # Errors
    ///
    /// As [`authorize_use`](Self::authorize_use), for the first consent refused;
    /// [`ConsentError::InvalidRequest`] also for no consent, a consent without uses, or the
    /// same consent twice.
    pub async fn authorize_uses_of(
        &self,
        person_id: Uuid,
        batches: &[ConsentUses<'_>],
        now: DateTime<Utc>,
    ) -> Result<Vec<SignedConsent>> {
        if batches.is_empty() {
            return Err(ConsentError::InvalidRequest("no use to authorise"));
        }
        for (index, batch) in batches.iter().enumerate() {
            if batches[..index]
                .iter()
                .any(|other| other.consent_id == batch.consent_id)
            {
                return Err(ConsentError::InvalidRequest("a consent named twice"));
            }
            check_uses(batch.uses)?;
        }
        let now = stored_time(now);
        // Opened before the transaction (see `crate::artefact`); the locked rows decide.
        let mut opened = Vec::with_capacity(batches.len());
        for batch in batches {
            let before = read(&self.store, batch.consent_id, person_id).await?;
            let header = match &before.signed_artefact_enc {
                Some(sealed) => Some(
                    self.open_artefact(person_id, batch.consent_id, sealed)
                        .await,
                ),
                None => None,
            };
            opened.push((before, header));
        }
        let mut tx = self.store.begin_write().await?;
        let mut signed_all = Vec::with_capacity(batches.len());
        let mut to_record: Vec<(Uuid, &NewUse<'_>)> = Vec::new();
        for (batch, (before, header)) in batches.iter().zip(opened) {
            match self
                .check_locked(&mut tx, person_id, batch, &before, header, now)
                .await?
            {
                Checked::Usable { signed, new } => {
                    signed_all.push(*signed);
                    to_record.extend(new.into_iter().map(|use_| (batch.consent_id, use_)));
                }
                Checked::Lapsed => {
                    tx.rollback().await?;
                    self.expire_lapsed(batch.consent_id, person_id, now).await?;
                    return Err(ConsentError::Expired);
                }
            }
        }
        if to_record.is_empty() {
            tx.rollback().await?;
            return Ok(signed_all);
        }
        bianmin_store::on_tx!(&mut tx, conn => {
            let mut insert = sqlx::QueryBuilder::new(
                "INSERT INTO consent_uses (id, consent_id, data_kind, service, message_id, \
                 used_at) ",
            );
            insert.push_values(&to_record, |mut row, (consent_id, new)| {
                row.push_bind(bianmin_core::id::new_id())
                    .push_bind(*consent_id)
                    .push_bind(new.data_kind)
                    .push_bind(new.service)
                    .push_bind(new.message_id)
                    .push_bind(now);
            });
            insert.build().execute(conn).await?;
        });
        tx.commit().await?;
        Ok(signed_all)
    }

    /// The checks of one consent's uses on its locked row: its signed artefact and the uses
    /// not recorded before, or that its validity has ended.
    async fn check_locked<'u>(
        &self,
        tx: &mut Tx,
        person_id: Uuid,
        batch: &ConsentUses<'u>,
        before: &ConsentRow,
        opened: Option<Result<String>>,
        now: DateTime<Utc>,
    ) -> Result<Checked<'u>> {
        let (consent_id, uses) = (batch.consent_id, batch.uses);
        let row = lock(tx, consent_id, person_id).await?;
        match row.state()? {
            ConsentState::Active => {}
            ConsentState::Revoked => return Err(ConsentError::Revoked),
            ConsentState::Expired => return Err(ConsentError::Expired),
            state => return Err(ConsentError::NotActive { state }),
        }
        if row.lapsed(now) {
            return Ok(Checked::Lapsed);
        }
        if now < row.valid_from {
            return Err(ConsentError::NotYetValid);
        }
        if let Some(new) = uses
            .iter()
            .find(|new| !row.data_kinds.0.iter().any(|kind| kind == new.data_kind))
        {
            return Err(ConsentError::KindNotCovered {
                kind: new.data_kind.to_owned(),
            });
        }
        let header = match opened {
            Some(header) if row.signed_artefact_enc == before.signed_artefact_enc => header?,
            // Approved between the read above and the lock: this use began while the consent
            // was still pending, and is answered as such.
            None if row.signed_artefact_enc.is_some() => {
                return Err(ConsentError::NotActive {
                    state: ConsentState::Pending,
                });
            }
            None => {
                return Err(ConsentError::Corrupt(
                    "active consent without a signed artefact",
                ));
            }
            // An approved artefact is never rewritten: someone edited the row meanwhile.
            Some(_) => {
                return Err(ConsentError::Corrupt(
                    "signed artefact changed while being used",
                ));
            }
        };
        let signed = self.verified_artefact(&row, &header)?;

        // What is already recorded: a retry of a use, or another kind of a request already
        // counted, is the same use.
        let mut message_ids: Vec<Uuid> = uses.iter().map(|new| new.message_id).collect();
        message_ids.sort_unstable();
        message_ids.dedup();
        let stored = kinds_used_by(tx, consent_id, &message_ids).await?;
        let recorded: Vec<(Uuid, Vec<String>)> = message_ids
            .into_iter()
            .map(|id| {
                let kinds = stored
                    .iter()
                    .filter(|(message, _)| *message == id)
                    .map(|(_, kind)| kind.clone())
                    .collect();
                (id, kinds)
            })
            .collect();
        let mut new: Vec<&'u NewUse<'u>> = Vec::new();
        for use_ in uses {
            let already = recorded.iter().any(|(id, kinds)| {
                *id == use_.message_id && kinds.iter().any(|kind| kind == use_.data_kind)
            }) || new.iter().any(|other| {
                other.message_id == use_.message_id && other.data_kind == use_.data_kind
            });
            if !already {
                new.push(use_);
            }
        }
        let new_requests = recorded
            .iter()
            .filter(|(_, kinds)| kinds.is_empty())
            .count();
        if !new.is_empty() && new_requests > 0 {
            let frequency = row.frequency()?;
            let since = window_start(frequency.unit, now);
            let used = requests_since(tx, consent_id, since).await?;
            let wanted = used.saturating_add(i64::try_from(new_requests).unwrap_or(i64::MAX));
            if wanted > i64::from(frequency.max) {
                return Err(ConsentError::FrequencyExceeded {
                    unit: unit_str(frequency.unit),
                    max: frequency.max,
                });
            }
        }
        Ok(Checked::Usable {
            signed: Box::new(signed),
            new,
        })
    }

    /// Moves the `ACTIVE` consent `consent_id`, found past its validity, to `EXPIRED` in a
    /// transaction of its own (audited, actor `system`), if it still is.
    async fn expire_lapsed(
        &self,
        consent_id: Uuid,
        person_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.store.begin_write().await?;
        let row = lock(&mut tx, consent_id, person_id).await?;
        if row.state()? == ConsentState::Active && row.lapsed(now) {
            expire(&mut tx, &self.audit_key, &row, now).await?;
            tx.commit().await?;
        }
        Ok(())
    }

    /// Keeps `signed`, whose text has the SM3 `digest`, as verified: its signature was checked,
    /// or the ledger made it itself.
    pub(crate) fn remember_verified(&self, digest: [u8; 32], signed: &SignedConsent) {
        // Poisoning leaves the map whole (inserts and clears are single operations).
        let mut verified = self.verified.lock().unwrap_or_else(PoisonError::into_inner);
        if verified.len() >= VERIFIED_CAPACITY {
            verified.clear();
        }
        verified.insert(digest, signed.clone());
    }

    /// The artefact `header` opened from `row`, verified with the platform's key and matched
    /// against the row: an artefact edited before it was sealed does not verify, and one
    /// signed for another consent does not match.
    fn verified_artefact(&self, row: &ConsentRow, header: &str) -> Result<SignedConsent> {
        let digest = sm3_digest(header.as_bytes());
        // Poisoning leaves the map whole (inserts and clears are single operations).
        let known = self
            .verified
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&digest)
            .cloned();
        let signed = match known {
            Some(signed) => signed,
            None => {
                let signed = SignedConsent::parse_and_verify(
                    header,
                    &self.platform_public,
                    &self.platform.id,
                )
                .map_err(|_| {
                    ConsentError::Corrupt("signed artefact does not verify with the platform key")
                })?;
                self.remember_verified(digest, &signed);
                signed
            }
        };
        let artefact = &signed.artefact;
        let matches = artefact.consent_id == row.id
            && artefact.consumer.to_string() == row.consumer
            && artefact.purpose_code == row.purpose_code
            && artefact.data_kinds == row.data_kinds.0
            && artefact.data_from == row.data_from
            && artefact.data_to == row.data_to
            && artefact.valid_from == row.valid_from
            && artefact.valid_until == row.valid_until;
        if !matches {
            return Err(ConsentError::Corrupt(
                "signed artefact does not match its consent",
            ));
        }
        Ok(signed)
    }
}

/// The data kinds already recorded for request `message_id` under `consent_id`.
/// The kinds already recorded under `consent_id` for each of `message_ids`, in one query (a
/// round trip per message would be made while holding the write lock).
async fn kinds_used_by(
    tx: &mut Tx,
    consent_id: Uuid,
    message_ids: &[Uuid],
) -> Result<Vec<(Uuid, String)>> {
    Ok(bianmin_store::on_tx!(tx, conn => {
        let mut query = sqlx::QueryBuilder::new(
            "SELECT message_id, data_kind FROM consent_uses WHERE consent_id = ",
        );
        query.push_bind(consent_id).push(" AND message_id IN (");
        let mut ids = query.separated(", ");
        for id in message_ids {
            ids.push_bind(*id);
        }
        query.push(")");
        query.build_query_as::<(Uuid, String)>().fetch_all(conn).await?
    }))
}

/// Requests (distinct message ids) made under `consent_id` at or after `since`.
async fn requests_since(tx: &mut Tx, consent_id: Uuid, since: DateTime<Utc>) -> Result<i64> {
    Ok(bianmin_store::on_tx!(tx, conn => {
        sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(DISTINCT message_id) FROM consent_uses \
             WHERE consent_id = $1 AND used_at >= $2",
        )
        .bind(consent_id)
        .bind(since)
        .fetch_one(conn)
        .await?
    }))
}

/// The start of the frequency window `now` falls in: midnight in China Standard Time of the
/// day, of the first of the month, or of the first of January.
pub(crate) fn window_start(unit: FrequencyUnit, now: DateTime<Utc>) -> DateTime<Utc> {
    let today = now.with_timezone(&CHINA_STANDARD_TIME).date_naive();
    let first = match unit {
        FrequencyUnit::Day => Some(today),
        FrequencyUnit::Month => NaiveDate::from_ymd_opt(today.year(), today.month(), 1),
        FrequencyUnit::Year => NaiveDate::from_ymd_opt(today.year(), 1, 1),
    };
    let offset = TimeDelta::seconds(i64::from(CHINA_STANDARD_TIME.local_minus_utc()));
    first
        .and_then(|date| date.and_time(NaiveTime::MIN).checked_sub_signed(offset))
        .map(|start| start.and_utc())
        // Unreachable (the first of a month of a valid date exists, and the dates are far
        // from chrono's limits); if it were reached, every use would count, which refuses
        // rather than allows.
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).single().unwrap()
    }

    #[test]
    fn windows_start_at_midnight_in_china() {
        // 2026-03-15 01:30 UTC is 09:30 in Beijing: the day began at 16:00 UTC the day before.
        let now = utc(2026, 3, 15, 1, 30);
        assert_eq!(
            window_start(FrequencyUnit::Day, now),
            utc(2026, 3, 14, 16, 0)
        );
        assert_eq!(
            window_start(FrequencyUnit::Month, now),
            utc(2026, 2, 28, 16, 0)
        );
        assert_eq!(
            window_start(FrequencyUnit::Year, now),
            utc(2025, 12, 31, 16, 0)
        );
        // 2026-03-31 17:00 UTC is already 1 April in Beijing.
        let now = utc(2026, 3, 31, 17, 0);
        assert_eq!(
            window_start(FrequencyUnit::Day, now),
            utc(2026, 3, 31, 16, 0)
        );
        assert_eq!(
            window_start(FrequencyUnit::Month, now),
            utc(2026, 3, 31, 16, 0)
        );
    }
}
