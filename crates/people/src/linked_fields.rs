//! Personal fields of other tables (bank cards, balances, income, credit data), sealed under
//! the owner's data key so that erasing the person erases them too.

use bianmin_crypto::{DataKey, FieldAad, open_field, seal_field};
use bianmin_store::Tx;
use uuid::Uuid;

use crate::record::{TABLE, corrupt};
use crate::{PeopleError, PersonVault, Result};

impl PersonVault {
    /// Seals `plaintext` under the data key of the person `person_id`, for the place `place`
    /// (the caller's table, column and row id), and returns the bytes to store in a
    /// BLOB/BYTEA column.
    ///
    /// The key is looked up and unwrapped on every call and never handed out, so an erasure
    /// takes effect for every later call at once; no caller can keep a copy of the key past
    /// it. Use the row's stable primary key as `place.row_id`.
    ///
    /// # Errors
    ///
    /// - [`PeopleError::InvalidInput`] if the place has an empty table, column or row id, or
    ///   names the `persons` table (whose fields only this crate writes).
    /// - [`PeopleError::NotFound`], [`PeopleError::Erased`].
    /// - [`PeopleError::Corrupt`] / [`PeopleError::Crypto`] if the data key does not unwrap.
    /// - [`PeopleError::Store`] if the database fails.
    pub async fn seal_for(
        &self,
        person_id: Uuid,
        place: &FieldAad<'_>,
        plaintext: &[u8],
    ) -> Result<Vec<u8>> {
        check_place(place)?;
        let key = self.live_data_key(person_id).await?;
        Ok(seal_field(&key, place, plaintext))
    }

    /// Opens bytes sealed by [`seal_for`](Self::seal_for) for the same person and place.
    ///
    /// Returns the value in clear: the calling domain masks it for its responses, or audits
    /// the disclosure as [`reveal`](Self::reveal) does, in the transaction that reads it.
    ///
    /// # Errors
    ///
    /// - [`PeopleError::Corrupt`] if the bytes were sealed for another person or place, or
    ///   altered; nothing is decrypted.
    /// - As [`seal_for`](Self::seal_for).
    pub async fn open_for(
        &self,
        person_id: Uuid,
        place: &FieldAad<'_>,
        sealed: &[u8],
    ) -> Result<Vec<u8>> {
        check_place(place)?;
        let key = self.live_data_key(person_id).await?;
        open_field(&key, place, sealed).map_err(|_| corrupt(place.table, place.column))
    }

    /// As [`seal_for`](Self::seal_for), reading the person's wrapped key through `tx` (the
    /// caller's open transaction) instead of another connection: for a domain that must seal
    /// while it holds a write transaction (a pool of N connections would otherwise starve
    /// when N transactions each wait for a second connection).
    ///
    /// # Errors
    ///
    /// As [`seal_for`](Self::seal_for).
    pub async fn seal_for_in(
        &self,
        tx: &mut Tx,
        person_id: Uuid,
        place: &FieldAad<'_>,
        plaintext: &[u8],
    ) -> Result<Vec<u8>> {
        check_place(place)?;
        let key = self.live_data_key_in(tx, person_id).await?;
        Ok(seal_field(&key, place, plaintext))
    }

    /// As [`open_for`](Self::open_for), through the caller's transaction (see
    /// [`seal_for_in`](Self::seal_for_in)).
    ///
    /// # Errors
    ///
    /// As [`open_for`](Self::open_for).
    pub async fn open_for_in(
        &self,
        tx: &mut Tx,
        person_id: Uuid,
        place: &FieldAad<'_>,
        sealed: &[u8],
    ) -> Result<Vec<u8>> {
        check_place(place)?;
        let key = self.live_data_key_in(tx, person_id).await?;
        open_field(&key, place, sealed).map_err(|_| corrupt(place.table, place.column))
    }

    async fn live_data_key_in(&self, tx: &mut Tx, person_id: Uuid) -> Result<DataKey> {
        let stored = bianmin_store::on_tx!(tx, conn => {
            sqlx::query_scalar::<_, Option<Vec<u8>>>("SELECT data_key FROM persons WHERE id = $1")
                .bind(person_id)
                .fetch_optional(conn)
                .await?
        })
        .ok_or(PeopleError::NotFound)?;
        self.unwrap_data_key(&person_id, stored.as_deref())
    }

    /// The data key of a person who exists and is not erased.
    async fn live_data_key(&self, person_id: Uuid) -> Result<DataKey> {
        let stored = bianmin_store::on_pool!(&self.store, pool => {
            sqlx::query_scalar::<_, Option<Vec<u8>>>("SELECT data_key FROM persons WHERE id = $1")
                .bind(person_id)
                .fetch_optional(pool)
                .await?
        })
        .ok_or(PeopleError::NotFound)?;
        self.unwrap_data_key(&person_id, stored.as_deref())
    }
}

/// Another domain's field must name a place of its own: sealing "for" `persons` would let it
/// forge a value that opens as this person's name or ID number.
fn check_place(place: &FieldAad<'_>) -> Result<()> {
    if place.table.is_empty() || place.column.is_empty() || place.row_id.is_empty() {
        return Err(PeopleError::InvalidInput(
            "a sealed field's table, column and row id must not be empty",
        ));
    }
    if place.table == TABLE {
        return Err(PeopleError::InvalidInput(
            "fields of the persons table are sealed by the vault only",
        ));
    }
    Ok(())
}
