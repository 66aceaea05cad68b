//! The right to erasure, by crypto-shredding.

use bianmin_store::AuditEntry;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::audit::{Accountable, accountable, actions, person_target};
use crate::{PeopleError, PersonVault, Result};

impl PersonVault {
    /// Erases the person `id`: deletes their wrapped data key and their blind index and
    /// records `erased_at`, in one transaction with an audit entry ([`actions::ERASE`], target
    /// `person:<id>`, `reason` as the purpose).
    ///
    /// Afterwards nothing sealed under the person's key decrypts: not their fields here, not
    /// the fields other domains sealed with [`seal_for`](Self::seal_for). Every read of them
    /// answers [`PeopleError::Erased`], [`find_by_resident_id`](Self::find_by_resident_id) no
    /// longer finds them, and the ciphertexts stay in place, unreadable. Other people are
    /// untouched. See the crate documentation for the copies of the key this cannot reach
    /// (backups, WAL) and when those become unreadable too.
    ///
    /// Erasing an already erased person returns `Ok(())` and writes no second audit entry:
    /// nothing changed, and a client retrying after a lost response gets the answer of the
    /// first call. The first entry stays the record of when and why the erasure happened.
    ///
    /// `reason` goes into the audit log as it is: pass a case or ticket reference, never
    /// personal data.
    ///
    /// # Errors
    ///
    /// - [`PeopleError::InvalidInput`] if `actor` or `reason` is blank, longer than 200
    ///   characters or contains control characters.
    /// - [`PeopleError::NotFound`] if no person has this id.
    /// - [`PeopleError::Store`] if the database fails; then nothing was erased.
    pub async fn erase(
        &self,
        id: Uuid,
        actor: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let actor = accountable(actor, Accountable::Actor)?;
        let reason = accountable(reason, Accountable::Reason)?;
        let mut tx = self.store.begin_write().await?;
        let shredded = bianmin_store::on_tx!(&mut tx, conn => {
            sqlx::query(
                "UPDATE persons SET data_key = NULL, kek_version = NULL, \
                 resident_id_index = NULL, erased_at = $1, updated_at = $1 \
                 WHERE id = $2 AND erased_at IS NULL",
            )
            .bind(now)
            .bind(id)
            .execute(conn)
            .await?
            .rows_affected()
        });
        if shredded == 0 {
            let exists = bianmin_store::on_tx!(&mut tx, conn => {
                sqlx::query_scalar::<_, Uuid>("SELECT id FROM persons WHERE id = $1")
                    .bind(id)
                    .fetch_optional(conn)
                    .await?
            });
            tx.rollback().await?;
            return match exists {
                Some(_) => Ok(()),
                None => Err(PeopleError::NotFound),
            };
        }
        let entry = AuditEntry {
            actor: actor.to_owned(),
            action: actions::ERASE.to_owned(),
            target: person_target(id),
            purpose: Some(reason.to_owned()),
            details: serde_json::json!({
                "shredded": ["data_key", "resident_id_index"],
            }),
            occurred_at: now,
        };
        tx.append_audit(&self.audit_key, &entry).await?;
        tx.commit().await?;
        Ok(())
    }
}
