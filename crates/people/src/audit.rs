//! What this crate writes to the audit log, and the checks on what callers put into it.

use uuid::Uuid;

use crate::{PeopleError, Result};

/// The `action` of the audit entries this crate writes, for filtering the audit log.
pub mod actions {
    /// A person's fields were read in clear ([`PersonVault::reveal`](crate::PersonVault::reveal)).
    pub const REVEAL: &str = "person.reveal";
    /// A person was erased ([`PersonVault::erase`](crate::PersonVault::erase)).
    pub const ERASE: &str = "person.erase";
    /// A rewrap run finished ([`PersonVault::rewrap_all`](crate::PersonVault::rewrap_all)).
    pub const REWRAP: &str = "keys.rewrap";
}

/// Longest accepted actor, purpose or reason, in characters.
const MAX_CHARS: usize = 200;

/// The audit `target` of a person: `person:<uuid>`, an id that is not personal data by itself.
pub(crate) fn person_target(id: Uuid) -> String {
    format!("person:{id}")
}

/// `value` trimmed, if it is fit for an audit entry: present, bounded and without control
/// characters (which could forge line breaks in an exported log). `what` names the argument
/// in the refusal.
pub(crate) fn accountable(value: &str, what: Accountable) -> Result<&str> {
    let value = value.trim();
    if value.is_empty() {
        return Err(PeopleError::InvalidInput(what.missing()));
    }
    if value.chars().count() > MAX_CHARS || value.chars().any(char::is_control) {
        return Err(PeopleError::InvalidInput(what.malformed()));
    }
    Ok(value)
}

/// The caller-supplied strings that go into an audit entry.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Accountable {
    Actor,
    Purpose,
    Reason,
}

impl Accountable {
    fn missing(self) -> &'static str {
        match self {
            Accountable::Actor => "actor is required",
            Accountable::Purpose => "purpose is required",
            Accountable::Reason => "reason is required",
        }
    }

    fn malformed(self) -> &'static str {
        match self {
            Accountable::Actor => {
                "actor must be at most 200 characters, without control characters"
            }
            Accountable::Purpose => {
                "purpose must be at most 200 characters, without control characters"
            }
            Accountable::Reason => {
                "reason must be at most 200 characters, without control characters"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_strings_must_be_present_short_and_single_line() {
        assert_eq!(accountable(" op-7 ", Accountable::Actor).unwrap(), "op-7");
        assert!(matches!(
            accountable("  ", Accountable::Purpose),
            Err(PeopleError::InvalidInput("purpose is required"))
        ));
        assert!(accountable("a\nforged entry", Accountable::Reason).is_err());
        assert!(accountable(&"x".repeat(201), Accountable::Actor).is_err());
    }
}
