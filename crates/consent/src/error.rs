//! The crate's single error type.

use bianmin_people::PeopleError;
use bianmin_store::StoreError;

use crate::ConsentState;

/// Why a call on [`ConsentLedger`](crate::ConsentLedger) did not succeed.
///
/// Messages are fixed English text for logs; they name rules and states, never personal data.
/// [`ConsentError::code`] is the stable machine-readable part the server puts into its
/// problem+json body, next to a Chinese `detail`.
#[derive(Debug, thiserror::Error)]
pub enum ConsentError {
    /// No consent has this id.
    #[error("consent not found")]
    NotFound,

    /// The consent exists but belongs to another person. The server should answer as for
    /// [`ConsentError::NotFound`], so that ids of other people's consents cannot be probed.
    #[error("consent belongs to another person")]
    NotYours,

    /// The operation needs another state: e.g. approving a consent that is not pending, or
    /// using one that is still pending or was rejected.
    #[error("consent is {state}, not in a state that allows this")]
    NotActive {
        /// The consent's state.
        state: ConsentState,
    },

    /// The consent's validity has ended (it is now, or already was, `EXPIRED`).
    #[error("consent has expired")]
    Expired,

    /// The consent's validity has not started yet by this clock.
    #[error("consent is not yet valid")]
    NotYetValid,

    /// The person revoked the consent.
    #[error("consent has been revoked")]
    Revoked,

    /// The consent does not cover the data kind a service asked to use it for.
    #[error("consent does not cover data kind {kind}")]
    KindNotCovered {
        /// The data kind asked for.
        kind: String,
    },

    /// The consent was already used as often as its frequency allows in the current window
    /// (calendar day, month or year in China Standard Time); the next window allows again.
    #[error("consent used {max} times this {unit} already")]
    FrequencyExceeded {
        /// `day`, `month` or `year`.
        unit: &'static str,
        /// Uses allowed per window.
        max: u32,
    },

    /// The request asks for a data kind its purpose may not cover.
    #[error("purpose {purpose} may not cover data kind {kind}")]
    KindNotInPurpose {
        /// The purpose's code.
        purpose: &'static str,
        /// The refused data kind.
        kind: String,
    },

    /// Credit-report (征信) kinds were requested together with other kinds or under a purpose
    /// other than `LOAN_CREDIT_REPORT`. The PBoC requires a separate authorisation for them.
    #[error("credit-report data kinds must be requested alone, under LOAN_CREDIT_REPORT")]
    CreditNotSeparate,

    /// The purpose code is not in the catalogue.
    #[error("unknown purpose code")]
    UnknownPurpose,

    /// No person has the id the consent was requested for.
    #[error("person not found")]
    UnknownPerson,

    /// The consent's person has been erased: their data key is destroyed, so the consent's
    /// signed artefact, sealed under it, can no longer be opened (or, for a pending consent,
    /// sealed). Nothing was sent or changed. The consent's metadata stays readable through
    /// [`list_for`](crate::ConsentLedger::list_for) and [`get`](crate::ConsentLedger::get).
    #[error("the consent's person has been erased")]
    SubjectErased,

    /// An argument was refused before anything was read or written; the text names the rule
    /// it broke, never what it contained.
    #[error("invalid request: {0}")]
    InvalidRequest(&'static str),

    /// A stored consent does not read back as written (an unknown code, or a signed artefact
    /// that does not decrypt for its row, no longer verifies with the platform key or no
    /// longer matches its row). Nothing was sent under it. This is an integrity incident, not
    /// a user error.
    #[error("stored consent is corrupt: {0}")]
    Corrupt(&'static str),

    /// The person vault could not seal or open the consent's artefact for a reason other than
    /// erasure or an altered ciphertext: typically the person's data key is wrapped under a
    /// key-encryption-key version the key service no longer accepts. Nothing was sent or
    /// changed; this is an operations incident (key rotation), not a user error.
    #[error("person vault refused the consent's artefact: {0}")]
    Vault(#[source] PeopleError),

    /// The database failed.
    #[error("storage error: {0}")]
    Store(#[from] StoreError),
}

impl ConsentError {
    /// Stable machine-readable code, e.g. `consent.expired`; clients may match on it, so codes
    /// are never renamed.
    pub fn code(&self) -> &'static str {
        match self {
            ConsentError::NotFound => "consent.not_found",
            ConsentError::NotYours => "consent.not_yours",
            ConsentError::NotActive { .. } => "consent.not_active",
            ConsentError::Expired => "consent.expired",
            ConsentError::NotYetValid => "consent.not_yet_valid",
            ConsentError::Revoked => "consent.revoked",
            ConsentError::KindNotCovered { .. } => "consent.kind_not_covered",
            ConsentError::FrequencyExceeded { .. } => "consent.frequency_exceeded",
            ConsentError::KindNotInPurpose { .. } => "consent.kind_not_in_purpose",
            ConsentError::CreditNotSeparate => "consent.credit_not_separate",
            ConsentError::UnknownPurpose => "consent.unknown_purpose",
            ConsentError::UnknownPerson => "consent.unknown_person",
            ConsentError::SubjectErased => "consent.subject_erased",
            ConsentError::InvalidRequest(_) => "consent.invalid_request",
            ConsentError::Corrupt(_) => "consent.corrupt",
            ConsentError::Vault(_) => "consent.vault",
            ConsentError::Store(_) => "consent.storage",
        }
    }
}

impl From<sqlx::Error> for ConsentError {
    fn from(error: sqlx::Error) -> Self {
        ConsentError::Store(StoreError::Database(error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_namespaced_and_distinct() {
        let errors = [
            ConsentError::NotFound,
            ConsentError::NotYours,
            ConsentError::NotActive {
                state: ConsentState::Pending,
            },
            ConsentError::Expired,
            ConsentError::NotYetValid,
            ConsentError::Revoked,
            ConsentError::KindNotCovered { kind: "x".into() },
            ConsentError::FrequencyExceeded {
                unit: "day",
                max: 2,
            },
            ConsentError::KindNotInPurpose {
                purpose: "P",
                kind: "x".into(),
            },
            ConsentError::CreditNotSeparate,
            ConsentError::UnknownPurpose,
            ConsentError::UnknownPerson,
            ConsentError::SubjectErased,
            ConsentError::InvalidRequest("rule"),
            ConsentError::Corrupt("what"),
            ConsentError::Vault(PeopleError::Conflict),
            ConsentError::Store(StoreError::UnsupportedUrl(String::new())),
        ];
        let mut codes: Vec<_> = errors.iter().map(ConsentError::code).collect();
        assert!(codes.iter().all(|code| code.starts_with("consent.")));
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), errors.len());
        assert_eq!(ConsentError::Expired.code(), "consent.expired");
        assert_eq!(ConsentError::SubjectErased.code(), "consent.subject_erased");
    }
}
