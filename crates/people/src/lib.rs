//! People: the one place where personal data about natural persons is stored and read.
//!
//! [`PersonVault`] keeps one row per person in the `persons` table. Every personal field of
//! classes C2/C3 in JR/T 0171-2020 (ID number, name, phone here; bank card numbers, balances,
//! income and credit data in the tables of later domains, through [`PersonVault::seal_for`])
//! is sealed with SM4-GCM under **that person's own data key**, with associated data naming
//! the table, column and row it is stored in, so a ciphertext opens only where it was
//! written. The data key itself is stored only wrapped by the [`Kms`], bound to the person's
//! id. Finding a person by ID number goes through an HMAC-SM3 blind index, never through a
//! decryption of every row.
//!
//! | capability | call | audited |
//! | --- | --- | --- |
//! | create or update a person | [`PersonVault::register`] | no: nothing is disclosed |
//! | find by ID number | [`PersonVault::find_by_resident_id`] | no: returns an id only |
//! | read, masked (the default) | [`PersonVault::masked`] | no: masked data |
//! | read, in clear | [`PersonVault::reveal`] | yes, in the same transaction |
//! | right to erasure | [`PersonVault::erase`] | yes, in the same transaction |
//! | KEK rotation | [`PersonVault::rewrap_all`] | yes, one summary entry per run |
//! | other tables' personal fields | [`PersonVault::seal_for`], [`PersonVault::open_for`] | the calling domain's duty |
//!
//! # Guarantees
//!
//! - **No plaintext at rest.** The `persons` table, and the audit entries this crate writes,
//!   hold ciphertexts, wrapped keys, blind indexes, UUIDs, field *names* and the caller's
//!   actor and purpose strings; never a personal value. `tests/at_rest.rs` reads the raw
//!   SQLite file and WAL (or every PostgreSQL row as JSON) and looks for each value.
//! - **Masked by default.** [`PersonVault::reveal`] is the only call that returns the clear
//!   values of this table, and it returns them only after the audit entry recording that
//!   read has committed in the same transaction as the read: a reveal that could not be
//!   audited did not happen. Which roles may call it for which purposes is the server's
//!   decision (this crate knows no roles); it records who asked and why.
//! - **Place binding.** A ciphertext copied to another person, column or table fails with
//!   [`PeopleError::Corrupt`]; it never decrypts to someone else's value.
//! - **Errors carry no personal data** (see [`PeopleError`]).
//!
//! # Erasure by crypto-shredding, and what it does not reach
//!
//! [`PersonVault::erase`] deletes the person's wrapped data key and blind index and stamps
//! `erased_at`; the ciphertexts stay where they are, unreadable, and so do the ciphertexts
//! other domains sealed with [`PersonVault::seal_for`]. Other people are untouched.
//!
//! At once, the platform and anyone using the live database with the current keyring can no
//! longer read the person. Not reached at once is every *other copy of the wrapped key*:
//! database backups and replicas taken before the erasure, PostgreSQL's WAL archive and
//! not-yet-vacuumed row versions, SQLite's WAL and free pages until they are overwritten.
//! Each such copy still decrypts the person's data for whoever also holds the
//! key-encryption-key (KEK) version that wrapped it (a copy without the key file never
//! decrypted anything). Erasure is final for those copies only once **every KEK version that
//! wrapped the person's data key has been destroyed**: rotate, rewrap
//! ([`PersonVault::rewrap_all`]), retire, then delete the old versions from the key file and
//! from every copy of it. Retiring alone (`LocalKeyring::retire_below`) is not destruction:
//! the retired key stays in the file and a hand edit re-enables it. The rotation period thus
//! bounds how long someone holding an old backup *and* the old key file can still read an
//! erased person.
//!
//! # Concurrency
//!
//! Writes start with `BEGIN IMMEDIATE` on SQLite, so a transaction that reads and then writes
//! (a reveal and its audit entry, a registration) never fails on a stale read snapshot.
//! Two registrations of one ID number racing on PostgreSQL meet at the unique blind index;
//! the loser retries as an update and both return the same id.
//!
//! Key-service calls for one person run inline (for [`LocalKeyring`](bianmin_crypto::LocalKeyring)
//! they are a few microseconds); a rewrap run hands each batch to a blocking thread so an
//! HSM or cloud KMS behind [`Kms`] never stalls the async runtime.
//!
//! *Architecture invariant:* knows no HTTP and no roles; owns every query on `persons`. Other
//! domains never read `persons` or hold a data key: they ask the vault.

#![warn(missing_docs)]

mod audit;
mod disclosure;
mod erasure;
mod error;
mod linked_fields;
mod record;
mod registry;
mod rotation;

use std::fmt;
use std::sync::Arc;

use bianmin_crypto::{AuditKey, BlindIndexer, Kms};
use bianmin_store::Store;

pub use audit::actions as audit_actions;
pub use bianmin_crypto::FieldAad;
pub use disclosure::{MaskedPerson, RevealedPerson};
pub use error::PeopleError;
pub use registry::NewPerson;
pub use rotation::RewrapReport;

/// Result type of this crate.
pub type Result<T, E = PeopleError> = std::result::Result<T, E>;

/// Stores and reads personal data, sealed under one data key per person. Cheap to clone:
/// clones share the store, the key service and the keys.
#[derive(Clone)]
pub struct PersonVault {
    store: Store,
    kms: Arc<dyn Kms>,
    blind_index: Arc<BlindIndexer>,
    audit_key: Arc<AuditKey>,
}

impl PersonVault {
    /// A vault over `store` (migrated), wrapping data keys with `kms`, indexing ID numbers with
    /// `blind_index` and chaining its audit entries with `audit_key`. The blind-index and
    /// audit keys must be the deployment's long-lived ones: a different blind-index key finds
    /// nobody registered before, a different audit key breaks the chain's verification.
    pub fn new(
        store: Store,
        kms: Arc<dyn Kms>,
        blind_index: BlindIndexer,
        audit_key: AuditKey,
    ) -> PersonVault {
        PersonVault {
            store,
            kms,
            blind_index: Arc::new(blind_index),
            audit_key: Arc::new(audit_key),
        }
    }
}

impl fmt::Debug for PersonVault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PersonVault")
            .field("backend", &self.store.backend())
            .field("kek_version", &self.kms.current_version())
            .finish_non_exhaustive()
    }
}
