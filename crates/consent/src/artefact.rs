//! The signed artefact at rest: sealed under its person's data key.
//!
//! The artefact names its subject by `SM3(consent_id ":" resident id)`, next to the consent
//! id. There are only about 10^11 resident ids, so whoever reads the artefact can try them
//! all and recover the person's resident id: the artefact is personal data. It is therefore
//! stored only as sealed by [`PersonVault::seal_for`](bianmin_people::PersonVault::seal_for),
//! bound to `consents.signed_artefact_enc` of its consent's row; a dump of the database shows
//! ciphertext, and erasing the person (crypto-shredding) makes it unreadable for good.
//!
//! The vault reads the person's data key on a pool connection of its own. Sealing and opening
//! therefore happen *before* a call begins its writing transaction, never while it holds one:
//! calls queued on one consent's lock each hold a connection, and a lock holder waiting for
//! one more could wait for the pool to run dry. The locked row then decides as before, and
//! a vault error is reported only once the locked row's own checks have passed, so that a
//! revoked consent reads as revoked whether or not its person was erased.

use bianmin_people::{FieldAad, PeopleError};
use uuid::Uuid;

use crate::{ConsentError, ConsentLedger, Result};

/// The table the artefact is stored in, as named in its associated data.
const TABLE: &str = "consents";
/// The column the artefact is stored in, as named in its associated data.
const COLUMN: &str = "signed_artefact_enc";

/// Where the artefact of consent `id` is stored: a ciphertext copied to another consent's row
/// does not open there.
fn place(id: &Uuid) -> FieldAad<'_> {
    FieldAad::new(TABLE, COLUMN, id.as_bytes())
}

impl ConsentLedger {
    /// The signed header `header` of consent `consent_id`, sealed under the data key of its
    /// person `person_id`, to store in `signed_artefact_enc`.
    ///
    /// # Errors
    ///
    /// As [`open_artefact`](Self::open_artefact).
    pub(crate) async fn seal_artefact(
        &self,
        person_id: Uuid,
        consent_id: Uuid,
        header: &str,
    ) -> Result<Vec<u8>> {
        self.vault
            .seal_for(person_id, &place(&consent_id), header.as_bytes())
            .await
            .map_err(from_vault)
    }

    /// The signed header stored sealed as `sealed` for consent `consent_id` of `person_id`.
    /// Not verified here: the caller verifies it with the platform's key and its row.
    ///
    /// # Errors
    ///
    /// - [`ConsentError::SubjectErased`] if the person has been erased.
    /// - [`ConsentError::Corrupt`] if `sealed` was altered, or belongs to another consent or
    ///   person.
    /// - [`ConsentError::Vault`] if the person's data key cannot be unwrapped.
    /// - [`ConsentError::Store`] if the database fails.
    pub(crate) async fn open_artefact(
        &self,
        person_id: Uuid,
        consent_id: Uuid,
        sealed: &[u8],
    ) -> Result<String> {
        let header = self
            .vault
            .open_for(person_id, &place(&consent_id), sealed)
            .await
            .map_err(from_vault)?;
        String::from_utf8(header).map_err(|_| ConsentError::Corrupt("signed artefact is not text"))
    }
}

/// The vault's answer in this crate's terms.
fn from_vault(error: PeopleError) -> ConsentError {
    match error {
        PeopleError::Erased => ConsentError::SubjectErased,
        PeopleError::Corrupt { field } if field.split_once('.') == Some((TABLE, COLUMN)) => {
            ConsentError::Corrupt("signed artefact does not decrypt for its consent")
        }
        PeopleError::Store(error) => ConsentError::Store(error),
        // A data key that does not unwrap, a key service refusing: not this crate's data.
        other => ConsentError::Vault(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_own_ciphertext_is_reported_as_a_corrupt_consent() {
        assert!(matches!(
            from_vault(PeopleError::Erased),
            ConsentError::SubjectErased
        ));
        assert!(matches!(
            from_vault(PeopleError::Corrupt {
                field: "consents.signed_artefact_enc".into()
            }),
            ConsentError::Corrupt(_)
        ));
        assert!(matches!(
            from_vault(PeopleError::Corrupt {
                field: "persons.data_key".into()
            }),
            ConsentError::Vault(_)
        ));
    }
}
