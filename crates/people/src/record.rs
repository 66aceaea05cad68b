//! The stored shape of a person and the steps every capability shares: reading the row,
//! unwrapping the data key, opening and sealing fields in their place.

use bianmin_crypto::{CryptoError, DataKey, FieldAad, WrappedKey, open_str, seal_str};
use bianmin_store::{Store, Tx};
use uuid::Uuid;

use crate::{PeopleError, PersonVault, Result};

/// The table this crate owns; also the `table` of every field's associated data.
pub(crate) const TABLE: &str = "persons";

/// Columns holding sealed fields; each name is also the `column` of that field's associated
/// data, so a ciphertext opens only in the column it was written to.
pub(crate) const RESIDENT_ID_COLUMN: &str = "resident_id_enc";
pub(crate) const NAME_COLUMN: &str = "name_enc";
pub(crate) const PHONE_COLUMN: &str = "phone_enc";

/// Blind-index purpose of the resident id, over `ResidentId::as_str()` (18 characters,
/// upper-case `X`).
pub(crate) const RESIDENT_ID_PURPOSE: &str = "resident_id";

/// A row of `persons` as read for decryption.
#[derive(sqlx::FromRow)]
pub(crate) struct StoredPerson {
    pub(crate) id: Uuid,
    /// `None` once erased.
    pub(crate) data_key: Option<Vec<u8>>,
    pub(crate) resident_id_enc: Vec<u8>,
    pub(crate) name_enc: Vec<u8>,
    pub(crate) phone_enc: Option<Vec<u8>>,
}

const SELECT_BY_ID: &str = "SELECT id, data_key, resident_id_enc, name_enc, phone_enc \
                            FROM persons WHERE id = $1";

/// Reads the person `id` outside any transaction.
pub(crate) async fn fetch(store: &Store, id: Uuid) -> Result<Option<StoredPerson>> {
    Ok(bianmin_store::on_pool!(store, pool => {
        sqlx::query_as::<_, StoredPerson>(SELECT_BY_ID)
            .bind(id)
            .fetch_optional(pool)
            .await?
    }))
}

/// Reads the person `id` inside `tx`.
pub(crate) async fn fetch_in(tx: &mut Tx, id: Uuid) -> Result<Option<StoredPerson>> {
    Ok(bianmin_store::on_tx!(tx, conn => {
        sqlx::query_as::<_, StoredPerson>(SELECT_BY_ID)
            .bind(id)
            .fetch_optional(conn)
            .await?
    }))
}

/// The associated data of a `persons` field.
pub(crate) fn place<'a>(column: &'a str, id: &'a Uuid) -> FieldAad<'a> {
    FieldAad::new(TABLE, column, id.as_bytes())
}

pub(crate) fn seal_text(key: &DataKey, column: &str, id: &Uuid, text: &str) -> Vec<u8> {
    seal_str(key, &place(column, id), text)
}

pub(crate) fn open_text(key: &DataKey, column: &str, id: &Uuid, sealed: &[u8]) -> Result<String> {
    open_str(key, &place(column, id), sealed).map_err(|_| corrupt(TABLE, column))
}

/// Every way a field fails to open (wrong key, wrong place, altered bytes, unknown format,
/// not text) means the same to the caller: that ciphertext is not this row's value.
pub(crate) fn corrupt(table: &str, column: &str) -> PeopleError {
    PeopleError::Corrupt {
        field: format!("{table}.{column}"),
    }
}

impl PersonVault {
    /// The data key of the person `id` from its stored, wrapped form (`None`: erased).
    pub(crate) fn unwrap_data_key(&self, id: &Uuid, stored: Option<&[u8]>) -> Result<DataKey> {
        let stored = stored.ok_or(PeopleError::Erased)?;
        let wrapped = WrappedKey::from_bytes(stored).map_err(|_| corrupt(TABLE, "data_key"))?;
        self.kms
            .unwrap(&wrapped, id.as_bytes())
            .map_err(|error| match error {
                // Bound to another person's id, or altered: the same integrity failure as a
                // moved field. Retired or unknown KEK versions stay `Crypto`: the row is fine,
                // the keyring is not.
                CryptoError::DecryptionFailed => corrupt(TABLE, "data_key"),
                other => PeopleError::Crypto(other),
            })
    }
}
