//! What a person sees of their consents. Reads only: nothing here is audited or changes state.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use bianmin_exchange::ClientId;

use crate::record::{ConsentRow, ListedRow, consent_columns, listed_columns, owned, stored_time};
use crate::{Consent, ConsentError, ConsentLedger, ConsentUse, Purpose, Result};

impl ConsentLedger {
    /// Every consent of `person_id`, newest first, each with its use count and last use, in
    /// its state as of `now` (one past its validity reads as `EXPIRED`).
    ///
    /// # Errors
    ///
    /// [`ConsentError::Corrupt`] if a stored consent does not read back;
    /// [`ConsentError::Store`] if the database fails.
    pub async fn list_for(&self, person_id: Uuid, now: DateTime<Utc>) -> Result<Vec<Consent>> {
        let rows = bianmin_store::on_pool!(&self.store, pool => {
            sqlx::query_as::<_, ListedRow>(concat!(
                "SELECT ",
                listed_columns!(),
                " FROM consents c WHERE c.person_id = $1 ORDER BY c.created_at DESC, c.id DESC"
            ))
            .bind(person_id)
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(|row| row.into_consent(now)).collect()
    }

    /// The newest consent of `person_id` for `purpose` that `consumer` may use now (its
    /// `use_count` and `last_used_at` are not read here: 0 and `None`): `ACTIVE`,
    /// within its validity at `now`, and covering every kind of `data_kinds`. `None` when there
    /// is none (never asked, pending, rejected, revoked, expired or too narrow): the consumer
    /// must then ask the person. Whether a use is left in its frequency window is for
    /// [`authorize_use`](Self::authorize_use) to say.
    ///
    /// # Errors
    ///
    /// [`ConsentError::Corrupt`], [`ConsentError::Store`] as for `list_for`.
    pub async fn find_usable(
        &self,
        person_id: Uuid,
        consumer: &ClientId,
        purpose: Purpose,
        data_kinds: &[String],
        now: DateTime<Utc>,
    ) -> Result<Option<Consent>> {
        let now = stored_time(now);
        // Plain rows (no use counts): this runs before every fetch.
        let rows = bianmin_store::on_pool!(&self.store, pool => {
            sqlx::query_as::<_, ConsentRow>(concat!(
                "SELECT ",
                consent_columns!(),
                " FROM consents c WHERE c.person_id = $1 AND c.consumer = $2 \
                 AND c.purpose_code = $3 AND c.state = 'ACTIVE' AND c.valid_from <= $4 \
                 AND c.valid_until > $4 ORDER BY c.created_at DESC, c.id DESC"
            ))
            .bind(person_id)
            .bind(consumer.to_string())
            .bind(purpose.code())
            .bind(now)
            .fetch_all(pool)
            .await?
        });
        for row in rows {
            let consent = row.into_consent(0, None, now)?;
            if data_kinds
                .iter()
                .all(|kind| consent.data_kinds.contains(kind))
            {
                return Ok(Some(consent));
            }
        }
        Ok(None)
    }

    /// The consent `consent_id` of `person_id`, as in [`list_for`](Self::list_for).
    ///
    /// # Errors
    ///
    /// [`ConsentError::NotFound`], [`ConsentError::NotYours`]: no such consent of this person;
    /// [`ConsentError::Corrupt`], [`ConsentError::Store`] as for `list_for`.
    pub async fn get(
        &self,
        consent_id: Uuid,
        person_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Consent> {
        let row = bianmin_store::on_pool!(&self.store, pool => {
            sqlx::query_as::<_, ListedRow>(concat!(
                "SELECT ",
                listed_columns!(),
                " FROM consents c WHERE c.id = $1"
            ))
            .bind(consent_id)
            .fetch_optional(pool)
            .await?
        });
        owned(row, person_id)?.into_consent(now)
    }

    /// Every recorded use of consent `consent_id` of `person_id`, oldest first: which data
    /// kind was fetched from which service, when, in which request.
    ///
    /// # Errors
    ///
    /// [`ConsentError::NotFound`], [`ConsentError::NotYours`]: no such consent of this person;
    /// [`ConsentError::Store`] if the database fails.
    pub async fn uses(&self, consent_id: Uuid, person_id: Uuid) -> Result<Vec<ConsentUse>> {
        let owner = bianmin_store::on_pool!(&self.store, pool => {
            sqlx::query_scalar::<_, Uuid>("SELECT person_id FROM consents WHERE id = $1")
                .bind(consent_id)
                .fetch_optional(pool)
                .await?
        });
        match owner {
            None => return Err(ConsentError::NotFound),
            Some(owner) if owner != person_id => return Err(ConsentError::NotYours),
            Some(_) => {}
        }
        Ok(bianmin_store::on_pool!(&self.store, pool => {
            sqlx::query_as::<_, ConsentUse>(
                "SELECT id, consent_id, data_kind, service, message_id, used_at \
                 FROM consent_uses WHERE consent_id = $1 ORDER BY used_at, id",
            )
            .bind(consent_id)
            .fetch_all(pool)
            .await?
        }))
    }
}
