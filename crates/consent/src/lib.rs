//! The consent ledger (授权): no data about a person is fetched from a government or partner
//! system without that person's live consent for that purpose and that data kind.
//!
//! Modelled on India's Account Aggregator. A consumer (a client subsystem such as
//! `CN-CD/COM/bank/bianmin`) **requests** a consent for one [`Purpose`] of a fixed catalogue,
//! naming the data kinds, the date range of the data, how often it may be used and for how
//! long; the person **approves** or **rejects** it; an approved consent is a signed
//! [`ConsentArtefact`](bianmin_exchange::ConsentArtefact) (docs/exchange-protocol.md §6) that
//! travels with every request made under it; the person may **revoke** it at any time, and it
//! **expires** at the end of its validity. Before every request the consumer asks the ledger
//! to **authorise the use** ([`ConsentLedger::authorize_use`]), which checks everything a
//! provider cannot see (revocation, frequency), records the use, and hands back the artefact
//! to send.
//!
//! | capability | call | audited + event |
//! | --- | --- | --- |
//! | ask a person | [`ConsentLedger::request`] | `consent.request` / `consent.requested` |
//! | decide | [`ConsentLedger::approve`], [`ConsentLedger::reject`] | `consent.approve`, `consent.reject` |
//! | withdraw | [`ConsentLedger::revoke`], [`ConsentLedger::revoke_all_for`] | `consent.revoke` |
//! | use | [`ConsentLedger::authorize_use`] | no: each use is a `consent_uses` row |
//! | see | [`ConsentLedger::list_for`], [`ConsentLedger::get`], [`ConsentLedger::uses`] | no |
//!
//! A consent found past its validity by any call is moved to `EXPIRED` there and then, with
//! its own audit entry and event (`consent.expire`, actor `system`).
//!
//! # Guarantees
//!
//! - **Every state change is accountable.** Its audit entry (HMAC-SM3 chain, see
//!   [`bianmin_store::audit`]) and its domain event commit in the same transaction as the
//!   change, or none of them does.
//! - **Revocation is immediate.** A use authorised after `revoke` returned is refused: uses,
//!   decisions and revocations of one consent take its row lock and queue.
//! - **Frequency holds under concurrency.** Two uses racing for the last one of a window
//!   cannot both get it (same lock). Windows are calendar days, months or years in China
//!   Standard Time; a retry with the same message id is the same use.
//! - **Credit data is always separate.** Credit-report (征信) kinds are only ever covered
//!   by a `LOAN_CREDIT_REPORT` consent covering nothing else, as the PBoC requires.
//! - **No resident id is stored, in clear or recoverable.** The artefact names its subject by
//!   `SM3(consent_id ":" resident id)`; the resident id given to [`ConsentLedger::approve`]
//!   is used for that digest and dropped. The digest is pseudonymous, not anonymous: with the
//!   consent id, the ~10^11 resident ids can be tried one by one. So the artefact is stored
//!   only sealed (SM4-GCM) under the person's own data key through the [`PersonVault`],
//!   bound to its consent's row: a database dump holds neither the artefact nor its digest.
//!   `tests/at_rest.rs` reads the raw SQLite file and WAL (or every PostgreSQL row as JSON)
//!   and looks for the resident id, the digest and the artefact.
//! - **Erasing the person erases their artefacts.** After [`PersonVault::erase`], no artefact
//!   of theirs opens: [`ConsentLedger::authorize_use`] (and [`ConsentLedger::approve`]) answer
//!   [`ConsentError::SubjectErased`] and nothing is sent. What the consent was (purpose,
//!   kinds, consumer, dates, state, uses) stays readable through [`ConsentLedger::list_for`],
//!   as the record of what was done with the person's consent.
//! - **What is sent is what was approved.** The artefact is opened, verified with the
//!   platform's key and matched against its row before each use; an edited row, or a
//!   ciphertext copied from another consent, is [`ConsentError::Corrupt`], never sent.
//! - **Errors and audit entries carry no personal data**: ids, codes, kinds and states only.
//!
//! *Architecture invariant:* knows no HTTP, no roles and no service; owns every query on
//! `consents` and `consent_uses`. It does not read `persons` and holds no data key: it asks
//! the [`PersonVault`] to seal and open artefacts. Whether the resident id given to
//! [`ConsentLedger::approve`] is that person's is the caller's duty (a wrong one yields an
//! artefact every provider refuses, never access to someone else's data).

#![warn(missing_docs)]

mod artefact;
mod decision;
mod error;
mod model;
mod purpose;
mod record;
mod request;
mod usage;
mod views;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use bianmin_crypto::{AuditKey, Sm2VerifyingKey};
use bianmin_exchange::{MemberKeys, SignedConsent};
use bianmin_people::PersonVault;
use bianmin_store::Store;

pub use error::ConsentError;
pub use model::{Consent, ConsentRequest, ConsentState, ConsentUse};
pub use purpose::{Purpose, kinds};
pub use usage::{ConsentUses, NewUse};

/// Result type of this crate.
pub type Result<T, E = ConsentError> = std::result::Result<T, E>;

/// The `action` of the audit entries this crate writes, for filtering the audit log.
pub mod audit_actions {
    /// A consumer asked a person for a consent.
    pub const REQUEST: &str = "consent.request";
    /// The person approved it.
    pub const APPROVE: &str = "consent.approve";
    /// The person rejected it.
    pub const REJECT: &str = "consent.reject";
    /// The person revoked it.
    pub const REVOKE: &str = "consent.revoke";
    /// Its validity ended (actor `system`).
    pub const EXPIRE: &str = "consent.expire";
}

/// The `kind` of the domain events this crate writes to the outbox (aggregate `consent`,
/// aggregate id the consent id; payload `purpose_code`, `data_kinds`, `consumer`).
pub mod event_kinds {
    /// A consent was requested.
    pub const REQUESTED: &str = "consent.requested";
    /// A consent was approved.
    pub const APPROVED: &str = "consent.approved";
    /// A consent was rejected.
    pub const REJECTED: &str = "consent.rejected";
    /// A consent was revoked.
    pub const REVOKED: &str = "consent.revoked";
    /// A consent expired.
    pub const EXPIRED: &str = "consent.expired";
}

/// The PostgreSQL notification channel on which every revocation is announced, with the
/// consent id as payload, when its transaction commits: instances of the platform that hold
/// answers under a consent listen and drop them (SQLite deployments are one process).
pub const REVOKED_CHANNEL: &str = "bianmin_consent_revoked";

/// Consents and their uses. Cheap to clone: clones share the store, the vault and the keys.
#[derive(Clone)]
pub struct ConsentLedger {
    store: Store,
    /// Seals and opens artefacts under their person's data key.
    vault: PersonVault,
    platform: Arc<MemberKeys>,
    /// The platform's public signing key, derived once: every use verifies the stored
    /// artefact with it.
    platform_public: Arc<Sm2VerifyingKey>,
    /// Artefacts whose signature has verified, by the SM3 of their exact text: the same
    /// bytes verify the same way, so each is checked once rather than on every use.
    verified: Arc<Mutex<HashMap<[u8; 32], SignedConsent>>>,
    audit_key: Arc<AuditKey>,
}

/// Verified artefacts kept at most; past it the memory starts again empty.
const VERIFIED_CAPACITY: usize = 4096;

impl ConsentLedger {
    /// A ledger over `store` (migrated), sealing artefacts at rest with `vault` (over the same
    /// database), signing them as the `platform` member (its client id is the artefact's
    /// signer id) and chaining audit entries with `audit_key`, which must be the deployment's
    /// long-lived audit key.
    pub fn new(
        store: Store,
        vault: PersonVault,
        platform: Arc<MemberKeys>,
        audit_key: AuditKey,
    ) -> ConsentLedger {
        let platform_public = Arc::new(platform.sign.verifying_key());
        ConsentLedger {
            store,
            vault,
            platform,
            platform_public,
            verified: Arc::default(),
            audit_key: Arc::new(audit_key),
        }
    }
}

impl fmt::Debug for ConsentLedger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsentLedger")
            .field("backend", &self.store.backend())
            .field("platform", &self.platform.id.to_string())
            .finish_non_exhaustive()
    }
}
