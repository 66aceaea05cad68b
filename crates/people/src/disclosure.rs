//! Reading a person: masked by default, in clear only through an audited reveal.

use std::fmt;

use bianmin_core::mask::{mask_name, mask_phone};
use bianmin_core::{PhoneNumber, ResidentId};
use bianmin_store::AuditEntry;
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::audit::{Accountable, accountable, actions, person_target};
use crate::record::{
    NAME_COLUMN, PHONE_COLUMN, RESIDENT_ID_COLUMN, StoredPerson, TABLE, corrupt, fetch, fetch_in,
    open_text,
};
use crate::{PeopleError, PersonVault, Result};

/// A person as every API response shows them by default: masked after JR/T 0171-2020.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MaskedPerson {
    /// The person's id.
    pub id: Uuid,
    /// First 6 and last 4 characters, e.g. `110105********0023`.
    pub resident_id: String,
    /// Chinese names keep the last character (`*三`), Latin ones the first letter.
    pub name: String,
    /// First 3 and last 4 digits, e.g. `138****1234`.
    pub phone: Option<String>,
}

/// A person in clear, as returned by [`PersonVault::reveal`] once the read is audited.
///
/// `Debug` shows the masked form only, so a revealed person logged by mistake leaks nothing
/// more than a masked one. There is deliberately no `Serialize`: an endpoint that is allowed
/// to return clear values builds its response from the fields explicitly.
#[derive(Clone, PartialEq, Eq)]
pub struct RevealedPerson {
    /// The person's id.
    pub id: Uuid,
    /// The resident id in clear.
    pub resident_id: ResidentId,
    /// The name in clear.
    pub name: String,
    /// The mobile number in clear, if known.
    pub phone: Option<PhoneNumber>,
}

impl RevealedPerson {
    /// The same person, masked.
    pub fn masked(&self) -> MaskedPerson {
        MaskedPerson {
            id: self.id,
            resident_id: self.resident_id.masked(),
            name: mask_name(&self.name),
            phone: self.phone.as_ref().map(|phone| mask_phone(phone.as_str())),
        }
    }

    /// The names of the fields this value carries in clear, for the audit entry.
    fn field_names(&self) -> Vec<&'static str> {
        let mut fields = vec!["resident_id", "name"];
        if self.phone.is_some() {
            fields.push("phone");
        }
        fields
    }
}

impl fmt::Debug for RevealedPerson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let masked = self.masked();
        f.debug_struct("RevealedPerson")
            .field("id", &masked.id)
            .field("resident_id", &masked.resident_id)
            .field("name", &masked.name)
            .field("phone", &masked.phone)
            .finish()
    }
}

impl PersonVault {
    /// The person `id`, masked. Not audited: nothing personal is disclosed.
    ///
    /// # Errors
    ///
    /// - [`PeopleError::NotFound`], [`PeopleError::Erased`].
    /// - [`PeopleError::Corrupt`] if a stored field or the data key does not open for this
    ///   row; [`PeopleError::Crypto`] if the key service refuses (e.g. a retired KEK).
    /// - [`PeopleError::Store`] if the database fails.
    pub async fn masked(&self, id: Uuid) -> Result<MaskedPerson> {
        let stored = fetch(&self.store, id).await?.ok_or(PeopleError::NotFound)?;
        Ok(self.open_person(&stored)?.masked())
    }

    /// The resident id of person `id`, to name them as the subject of a request to an agency
    /// made under their own consent. Not audited here: that disclosure is recorded as the
    /// consent's use (`consent_uses`, with the message id) and in the signed exchange message
    /// log, and the id is only ever sent encrypted to the agency. Never return it to a client.
    ///
    /// # Errors
    ///
    /// As [`masked`](Self::masked).
    pub async fn subject_of(&self, id: Uuid) -> Result<ResidentId> {
        let stored = fetch(&self.store, id).await?.ok_or(PeopleError::NotFound)?;
        Ok(self.open_person(&stored)?.resident_id)
    }

    /// The person `id` in clear, to send to an agency under their own consent: the name and
    /// phone of a real-name check (`identity.verify`). Not audited here, for the reason
    /// [`subject_of`](Self::subject_of) gives: the disclosure is the consent's recorded use
    /// and a signed record of the exchange log, and the values travel to the agency only
    /// encrypted. Never return it to a client; use [`reveal`](Self::reveal) for that.
    ///
    /// # Errors
    ///
    /// As [`masked`](Self::masked).
    pub async fn subject_person(&self, id: Uuid) -> Result<RevealedPerson> {
        let stored = fetch(&self.store, id).await?.ok_or(PeopleError::NotFound)?;
        self.open_person(&stored)
    }

    /// The person `id` in clear, for an endpoint whose role and purpose require it.
    ///
    /// Appends an audit entry ([`actions::REVEAL`], target `person:<id>`, the `purpose`, and
    /// the names of the fields returned) in the same transaction as the read, and returns the
    /// values only after that transaction has committed: if the audit entry cannot be
    /// written, nothing is revealed. A failed reveal (not found, erased, undecryptable) writes
    /// no entry, because nothing was disclosed. Whether `actor` may reveal for `purpose` is
    /// for the caller to decide before calling.
    ///
    /// # Errors
    ///
    /// - [`PeopleError::InvalidInput`] if `actor` or `purpose` is blank, longer than 200
    ///   characters or contains control characters.
    /// - As [`masked`](Self::masked).
    pub async fn reveal(
        &self,
        id: Uuid,
        actor: &str,
        purpose: &str,
        now: DateTime<Utc>,
    ) -> Result<RevealedPerson> {
        let actor = accountable(actor, Accountable::Actor)?;
        let purpose = accountable(purpose, Accountable::Purpose)?;
        let mut tx = self.store.begin_write().await?;
        let stored = fetch_in(&mut tx, id).await?.ok_or(PeopleError::NotFound)?;
        let person = self.open_person(&stored)?;
        let entry = AuditEntry {
            actor: actor.to_owned(),
            action: actions::REVEAL.to_owned(),
            target: person_target(id),
            purpose: Some(purpose.to_owned()),
            details: serde_json::json!({ "fields": person.field_names() }),
            occurred_at: now,
        };
        tx.append_audit(&self.audit_key, &entry).await?;
        tx.commit().await?;
        Ok(person)
    }

    /// Decrypts a stored person. The clear values parse back into their domain types; a value
    /// that decrypts but does not parse was never written by this crate and counts as corrupt.
    fn open_person(&self, stored: &StoredPerson) -> Result<RevealedPerson> {
        let id = stored.id;
        let key = self.unwrap_data_key(&id, stored.data_key.as_deref())?;
        let resident_id = open_text(&key, RESIDENT_ID_COLUMN, &id, &stored.resident_id_enc)?;
        let resident_id =
            ResidentId::parse(&resident_id).map_err(|_| corrupt(TABLE, RESIDENT_ID_COLUMN))?;
        let name = open_text(&key, NAME_COLUMN, &id, &stored.name_enc)?;
        let phone = match &stored.phone_enc {
            Some(sealed) => {
                let phone = open_text(&key, PHONE_COLUMN, &id, sealed)?;
                Some(PhoneNumber::parse(&phone).map_err(|_| corrupt(TABLE, PHONE_COLUMN))?)
            }
            None => None,
        };
        Ok(RevealedPerson {
            id,
            resident_id,
            name,
            phone,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revealed_person_debug_is_masked() {
        let person = RevealedPerson {
            id: Uuid::nil(),
            resident_id: ResidentId::with_check_digit("11010519491231002").unwrap(),
            name: "张三丰".to_owned(),
            phone: Some(PhoneNumber::parse("13912345678").unwrap()),
        };
        let rendered = format!("{person:?}");
        assert!(rendered.contains("110105********"), "{rendered}");
        assert!(rendered.contains("**丰"), "{rendered}");
        assert!(rendered.contains("139****5678"), "{rendered}");
        for clear in [person.resident_id.as_str(), "张三", "13912345678"] {
            assert!(!rendered.contains(clear), "{rendered} shows {clear}");
        }
    }
}
