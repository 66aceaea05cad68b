//! The person's decisions: approve, reject, revoke.

use bianmin_core::ResidentId;
use bianmin_crypto::sm3_digest;
use bianmin_exchange::ConsentArtefact;
use bianmin_store::Tx;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::record::{
    Change, ChangeFacts, ConsentRow, accountable, consent_columns, expire, listed_in, lock, read,
    record_change, stored_time,
};
use crate::{Consent, ConsentError, ConsentLedger, ConsentState, Result};

impl ConsentLedger {
    /// The person `person_id` approves their `PENDING` consent `consent_id`: it becomes
    /// `ACTIVE`, and its artefact is issued (`issued_at` = `now`), signed with the platform's
    /// key and stored sealed under the person's data key, ready to be sent with every use.
    ///
    /// `subject` must be the resident id of `person_id` (the caller knows it from the
    /// person's verified identity); it is used for the artefact's `subject_digest` only and
    /// is not stored. `actor` is the person's principal, e.g. `principal:<uuid>`.
    ///
    /// # Errors
    ///
    /// - [`ConsentError::NotFound`], [`ConsentError::NotYours`]: no such consent of this person.
    /// - [`ConsentError::Expired`] if its validity has ended (it is moved to `EXPIRED`).
    /// - [`ConsentError::NotActive`] if it is not pending (already decided or revoked).
    /// - [`ConsentError::SubjectErased`] if the person has been erased; it stays pending.
    /// - [`ConsentError::InvalidRequest`] without an actor; [`ConsentError::Corrupt`] if the
    ///   stored consent does not read back; [`ConsentError::Vault`] if the person's data key
    ///   cannot be used; [`ConsentError::Store`] if the database fails.
    pub async fn approve(
        &self,
        consent_id: Uuid,
        person_id: Uuid,
        subject: &ResidentId,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<Consent> {
        let actor = accountable(actor)?;
        let now = stored_time(now);
        // Issued and sealed before the transaction (see `crate::artefact`). Its terms are
        // fixed at the request and a consent never returns to pending, so the locked row
        // below only has to be pending still; an error waits until that is known.
        let before = read(&self.store, consent_id, person_id).await?;
        let issued = match before.state()? {
            ConsentState::Pending if !before.lapsed(now) => {
                Some(self.issue(&before, subject, now).await)
            }
            _ => None,
        };
        let mut tx = self.store.begin_write().await?;
        let row = lock(&mut tx, consent_id, person_id).await?;
        match row.state()? {
            ConsentState::Pending if row.lapsed(now) => {
                expire(&mut tx, &self.audit_key, &row, now).await?;
                tx.commit().await?;
                return Err(ConsentError::Expired);
            }
            ConsentState::Pending => {}
            ConsentState::Expired => return Err(ConsentError::Expired),
            state => return Err(ConsentError::NotActive { state }),
        }
        let sealed = issued.ok_or(ConsentError::Corrupt("consent returned to pending"))??;
        bianmin_store::on_tx!(&mut tx, conn => {
            sqlx::query(
                "UPDATE consents SET state = 'ACTIVE', signed_artefact_enc = $1, decided_at = $2, \
                 updated_at = $2 WHERE id = $3 AND state = 'PENDING'",
            )
            .bind(&sealed)
            .bind(now)
            .bind(consent_id)
            .execute(conn)
            .await
            .map(|_| ())?
        });
        let facts = ChangeFacts::of(&row, ConsentState::Active)?;
        record_change(
            &mut tx,
            &self.audit_key,
            Change::Approved,
            &facts,
            actor,
            now,
        )
        .await?;
        let consent = listed_in(&mut tx, consent_id, now).await?;
        tx.commit().await?;
        Ok(consent)
    }

    /// The artefact of the pending consent `row` approved at `now` by the person whose
    /// resident id is `subject`: signed with the platform's key, then sealed under the
    /// person's data key, as stored.
    async fn issue(
        &self,
        row: &ConsentRow,
        subject: &ResidentId,
        now: DateTime<Utc>,
    ) -> Result<Vec<u8>> {
        let consent = row.clone().into_consent(0, None, now)?;
        let artefact = ConsentArtefact {
            consent_id: consent.id,
            subject_digest: ConsentArtefact::subject_digest(&consent.id, subject),
            consumer: consent.consumer,
            purpose_code: consent.purpose.code().to_owned(),
            purpose_text: consent.purpose.text_zh().to_owned(),
            data_kinds: consent.data_kinds,
            data_from: consent.data_from,
            data_to: consent.data_to,
            frequency: consent.frequency,
            valid_from: consent.valid_from,
            valid_until: consent.valid_until,
            data_life_days: consent.data_life_days,
            issued_at: now,
        };
        let signed = artefact.sign(&self.platform);
        // The ledger has just made this text, so its first use need not verify it again; an
        // edited copy in the database has another digest and is still verified (and refused).
        self.remember_verified(sm3_digest(signed.header.as_bytes()), &signed);
        self.seal_artefact(row.person_id, row.id, &signed.header)
            .await
    }

    /// The person `person_id` refuses their `PENDING` consent `consent_id`: it becomes
    /// `REJECTED` and can never be used. Rejecting a consent that can no longer be used anyway
    /// (rejected, revoked or expired) changes nothing and succeeds; one found past its
    /// validity is moved to `EXPIRED` instead.
    ///
    /// # Errors
    ///
    /// - [`ConsentError::NotFound`], [`ConsentError::NotYours`]: no such consent of this person.
    /// - [`ConsentError::NotActive`] with state `ACTIVE`: an approved consent is revoked, not
    ///   rejected.
    /// - [`ConsentError::InvalidRequest`] without an actor; [`ConsentError::Store`] if the
    ///   database fails.
    pub async fn reject(
        &self,
        consent_id: Uuid,
        person_id: Uuid,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<Consent> {
        self.withdraw(consent_id, person_id, Withdrawal::Reject, actor, now)
            .await
    }

    /// The person `person_id` withdraws their `ACTIVE` consent `consent_id`: it becomes
    /// `REVOKED`, and from the moment this returns no use of it is authorised (a use racing
    /// with it either committed before, or is refused). Revoking a consent that can no longer
    /// be used anyway (revoked, rejected or expired) changes nothing and succeeds; one found
    /// past its validity is moved to `EXPIRED` instead.
    ///
    /// Caches of data fetched under the consent are the consumer's to drop (protocol §9); the
    /// `consent.revoked` event tells it.
    ///
    /// # Errors
    ///
    /// - [`ConsentError::NotFound`], [`ConsentError::NotYours`]: no such consent of this person.
    /// - [`ConsentError::NotActive`] with state `PENDING`: an undecided consent is rejected,
    ///   not revoked.
    /// - [`ConsentError::InvalidRequest`] without an actor; [`ConsentError::Store`] if the
    ///   database fails.
    pub async fn revoke(
        &self,
        consent_id: Uuid,
        person_id: Uuid,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<Consent> {
        self.withdraw(consent_id, person_id, Withdrawal::Revoke, actor, now)
            .await
    }

    /// Ends every consent of `person_id` that could still be used: `ACTIVE` ones are revoked,
    /// `PENDING` ones rejected (those past their validity expire), each with its own audit
    /// entry and event, all in one transaction. For the person's erasure or a "withdraw
    /// everything" button; returns the ids of the consents that changed (a consumer drops
    /// whatever it cached under them).
    ///
    /// # Errors
    ///
    /// [`ConsentError::InvalidRequest`] without an actor; [`ConsentError::Corrupt`] if a
    /// stored consent does not read back; [`ConsentError::Store`] if the database fails.
    pub async fn revoke_all_for(
        &self,
        person_id: Uuid,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<Uuid>> {
        let actor = accountable(actor)?;
        let now = stored_time(now);
        let mut tx = self.store.begin_write().await?;
        let rows = live_of(&mut tx, person_id).await?;
        for row in &rows {
            let way = match row.state()? {
                ConsentState::Active => Withdrawal::Revoke,
                _ => Withdrawal::Reject,
            };
            self.end(&mut tx, row, way, actor, now).await?;
        }
        tx.commit().await?;
        Ok(rows.iter().map(|row| row.id).collect())
    }

    async fn withdraw(
        &self,
        consent_id: Uuid,
        person_id: Uuid,
        way: Withdrawal,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<Consent> {
        let actor = accountable(actor)?;
        let now = stored_time(now);
        let mut tx = self.store.begin_write().await?;
        let row = lock(&mut tx, consent_id, person_id).await?;
        let state = row.state()?;
        if !matches!(state, ConsentState::Pending | ConsentState::Active) {
            // Already unusable: nothing to record, the caller's intent holds.
            let consent = listed_in(&mut tx, consent_id, now).await?;
            tx.rollback().await?;
            return Ok(consent);
        }
        if state != way.from() && !row.lapsed(now) {
            return Err(ConsentError::NotActive { state });
        }
        self.end(&mut tx, &row, way, actor, now).await?;
        let consent = listed_in(&mut tx, consent_id, now).await?;
        tx.commit().await?;
        Ok(consent)
    }

    /// Moves the locked, live `row` out of use inside `tx`: expired if past its validity,
    /// otherwise rejected or revoked as `way` says; records the change.
    async fn end(
        &self,
        tx: &mut Tx,
        row: &ConsentRow,
        way: Withdrawal,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        if row.lapsed(now) {
            return expire(tx, &self.audit_key, row, now).await;
        }
        bianmin_store::on_tx!(&mut *tx, conn => {
            match way {
                Withdrawal::Reject => sqlx::query(
                    "UPDATE consents SET state = 'REJECTED', decided_at = $1, updated_at = $1 \
                     WHERE id = $2 AND state = 'PENDING'",
                ),
                Withdrawal::Revoke => sqlx::query(
                    "UPDATE consents SET state = 'REVOKED', revoked_at = $1, updated_at = $1 \
                     WHERE id = $2 AND state = 'ACTIVE'",
                ),
            }
            .bind(now)
            .bind(row.id)
            .execute(conn)
            .await
            .map(|_| ())?
        });
        if way == Withdrawal::Revoke
            && let Tx::Postgres(conn) = tx
        {
            // Other instances drop what they hold under it when this commits (see
            // `REVOKED_CHANNEL`); SQLite has one process, which the caller tells itself.
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(crate::REVOKED_CHANNEL)
                .bind(row.id.to_string())
                .execute(&mut **conn)
                .await
                .map_err(bianmin_store::StoreError::from)?;
        }
        let facts = ChangeFacts::of(row, way.to())?;
        record_change(tx, &self.audit_key, way.change(), &facts, actor, now).await
    }
}

/// How a person takes a consent out of use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Withdrawal {
    /// Refuse it before approval.
    Reject,
    /// Withdraw it after approval.
    Revoke,
}

impl Withdrawal {
    fn from(self) -> ConsentState {
        match self {
            Withdrawal::Reject => ConsentState::Pending,
            Withdrawal::Revoke => ConsentState::Active,
        }
    }

    fn to(self) -> ConsentState {
        match self {
            Withdrawal::Reject => ConsentState::Rejected,
            Withdrawal::Revoke => ConsentState::Revoked,
        }
    }

    fn change(self) -> Change {
        match self {
            Withdrawal::Reject => Change::Rejected,
            Withdrawal::Revoke => Change::Revoked,
        }
    }
}

/// The person's `PENDING` and `ACTIVE` consents, locked until `tx` ends.
async fn live_of(tx: &mut Tx, person_id: Uuid) -> Result<Vec<ConsentRow>> {
    Ok(match tx {
        Tx::Sqlite(conn) => {
            sqlx::query_as::<_, ConsentRow>(concat!(
                "SELECT ",
                consent_columns!(),
                " FROM consents c WHERE c.person_id = $1 AND c.state IN ('PENDING', 'ACTIVE') \
                 ORDER BY c.created_at, c.id"
            ))
            .bind(person_id)
            .fetch_all(&mut **conn)
            .await?
        }
        Tx::Postgres(conn) => {
            sqlx::query_as::<_, ConsentRow>(concat!(
                "SELECT ",
                consent_columns!(),
                " FROM consents c WHERE c.person_id = $1 AND c.state IN ('PENDING', 'ACTIVE') \
                 ORDER BY c.created_at, c.id FOR UPDATE"
            ))
            .bind(person_id)
            .fetch_all(&mut **conn)
            .await?
        }
    })
}
