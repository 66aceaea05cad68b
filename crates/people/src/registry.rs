//! Registering people and finding them by ID number.

use bianmin_core::{PhoneNumber, ResidentId};
use bianmin_crypto::DataKey;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::record::{
    NAME_COLUMN, PHONE_COLUMN, RESIDENT_ID_COLUMN, RESIDENT_ID_PURPOSE, StoredPerson, seal_text,
};
use crate::{PeopleError, PersonVault, Result};

/// Longest accepted name, in characters. Generous for transliterated minority and foreign
/// names with `·` separators; a longer string is an input error, not a name.
const NAME_MAX_CHARS: usize = 64;

/// How often a registration retries after losing a race (a concurrent registration of the
/// same ID number, or an erasure of the person it was updating).
const REGISTER_ATTEMPTS: usize = 4;

/// A person as the caller knows them, to [`PersonVault::register`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPerson {
    /// The resident id; registration is idempotent on it.
    pub resident_id: ResidentId,
    /// The legal name; surrounding whitespace is dropped.
    pub name: String,
    /// The mobile number, if known.
    pub phone: Option<PhoneNumber>,
}

impl PersonVault {
    /// Creates the person, or updates the name and phone of the live person with the same
    /// resident id, and returns their id.
    ///
    /// A new person gets a fresh data key, wrapped by the key service and bound to the new id;
    /// an existing one keeps their id and data key, and their name and phone are replaced by
    /// the given ones (`phone: None` clears it), sealed afresh under that key. After an
    /// erasure the resident id is free again: registering it creates a new person with a new
    /// id and key, and the erased row stays shredded.
    ///
    /// # Errors
    ///
    /// - [`PeopleError::InvalidInput`] if the name is empty, longer than 64 characters or
    ///   contains control characters.
    /// - [`PeopleError::Corrupt`] / [`PeopleError::Crypto`] if the existing person's data key
    ///   does not unwrap.
    /// - [`PeopleError::Conflict`] if concurrent writes to the same person kept winning.
    /// - [`PeopleError::Store`] if the database fails.
    pub async fn register(&self, person: &NewPerson, now: DateTime<Utc>) -> Result<Uuid> {
        let name = checked_name(&person.name)?;
        let phone = person.phone.as_ref().map(PhoneNumber::as_str);
        let index = self
            .blind_index
            .index(RESIDENT_ID_PURPOSE, person.resident_id.as_str());
        for _ in 0..REGISTER_ATTEMPTS {
            let mut tx = self.store.begin_write().await?;
            let existing = bianmin_store::on_tx!(&mut tx, conn => {
                sqlx::query_as::<_, StoredPerson>(
                    "SELECT id, data_key, resident_id_enc, name_enc, phone_enc \
                     FROM persons WHERE resident_id_index = $1",
                )
                .bind(&index[..])
                .fetch_optional(conn)
                .await?
            });
            if let Some(existing) = existing {
                let key = self.unwrap_data_key(&existing.id, existing.data_key.as_deref())?;
                let id = existing.id;
                let name_enc = seal_text(&key, NAME_COLUMN, &id, name);
                let phone_enc = phone.map(|phone| seal_text(&key, PHONE_COLUMN, &id, phone));
                // Guarded by the data key read above: on PostgreSQL an erasure may commit
                // between the read and this write, and must not be overwritten by fields
                // sealed under the destroyed key.
                let updated = bianmin_store::on_tx!(&mut tx, conn => {
                    sqlx::query(
                        "UPDATE persons SET name_enc = $1, phone_enc = $2, updated_at = $3 \
                         WHERE id = $4 AND data_key = $5",
                    )
                    .bind(&name_enc)
                    .bind(&phone_enc)
                    .bind(now)
                    .bind(id)
                    .bind(&existing.data_key)
                    .execute(conn)
                    .await?
                    .rows_affected()
                });
                if updated == 1 {
                    tx.commit().await?;
                    return Ok(id);
                }
                tx.rollback().await?;
                continue;
            }

            let id = bianmin_core::id::new_id();
            let key = DataKey::generate();
            let wrapped = self.kms.wrap(&key, id.as_bytes())?;
            let inserted = bianmin_store::on_tx!(&mut tx, conn => {
                sqlx::query(
                    "INSERT INTO persons (id, resident_id_index, data_key, kek_version, \
                     resident_id_enc, name_enc, phone_enc, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
                )
                .bind(id)
                .bind(&index[..])
                .bind(wrapped.to_bytes())
                .bind(i64::from(wrapped.kek_version))
                .bind(seal_text(&key, RESIDENT_ID_COLUMN, &id, person.resident_id.as_str()))
                .bind(seal_text(&key, NAME_COLUMN, &id, name))
                .bind(phone.map(|phone| seal_text(&key, PHONE_COLUMN, &id, phone)))
                .bind(now)
                .execute(conn)
                .await
                .map(|_| ())
            });
            match inserted {
                Ok(()) => {
                    tx.commit().await?;
                    return Ok(id);
                }
                // Another registration of this resident id committed first (PostgreSQL; on
                // SQLite the write lock serialises registrations): try again as an update.
                Err(error)
                    if error
                        .as_database_error()
                        .is_some_and(|db| db.is_unique_violation()) =>
                {
                    tx.rollback().await?;
                }
                Err(error) => return Err(error.into()),
            }
        }
        Err(PeopleError::Conflict)
    }

    /// The id of the live person with this resident id, if any. Erased people are not found:
    /// their blind index was deleted with their key.
    ///
    /// # Errors
    ///
    /// [`PeopleError::Store`] if the database fails.
    pub async fn find_by_resident_id(&self, resident_id: &ResidentId) -> Result<Option<Uuid>> {
        let index = self
            .blind_index
            .index(RESIDENT_ID_PURPOSE, resident_id.as_str());
        Ok(bianmin_store::on_pool!(&self.store, pool => {
            sqlx::query_scalar::<_, Uuid>("SELECT id FROM persons WHERE resident_id_index = $1")
                .bind(&index[..])
                .fetch_optional(pool)
                .await?
        }))
    }
}

/// The name as stored: trimmed, non-empty, bounded, free of control characters (which would
/// let a stored name rewrite a terminal or a log line when shown).
fn checked_name(name: &str) -> Result<&str> {
    let name = name.trim();
    if name.is_empty() {
        return Err(PeopleError::InvalidInput("name is empty"));
    }
    if name.chars().count() > NAME_MAX_CHARS {
        return Err(PeopleError::InvalidInput(
            "name is longer than 64 characters",
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(PeopleError::InvalidInput(
            "name contains control characters",
        ));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(checked_name("  张三 ").unwrap(), "张三");
        assert_eq!(checked_name("阿依古丽·买买提").unwrap(), "阿依古丽·买买提");
        assert!(checked_name(" \t ").is_err());
        assert!(checked_name(&"名".repeat(65)).is_err());
        assert!(checked_name(&"名".repeat(64)).is_ok());
        assert!(checked_name("张\u{1b}[2J三").is_err());
    }

    #[test]
    fn refusals_do_not_echo_the_name() {
        let error = checked_name("王\u{7}五").unwrap_err();
        assert!(!error.to_string().contains('王'));
    }
}
