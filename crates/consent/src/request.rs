//! Asking a person for a consent.

use std::collections::HashSet;

use bianmin_exchange::is_credit_kind;
use chrono::{DateTime, Duration, Utc};
use sqlx::types::Json;

use crate::purpose::kinds;
use crate::record::{
    Change, ChangeFacts, accountable, listed_in, record_change, stored_time, unit_str,
};
use crate::{Consent, ConsentError, ConsentLedger, ConsentRequest, ConsentState, Purpose, Result};

/// Longest validity a consent may be requested for.
pub(crate) const MAX_VALIDITY: Duration = Duration::days(365);

/// Most uses a consent may allow per frequency window.
const MAX_FREQUENCY: u32 = 1_000;

/// Longest a consumer may be allowed to keep fetched data, in days.
const MAX_DATA_LIFE_DAYS: u32 = 365;

/// Most data kinds one consent may cover.
const MAX_KINDS: usize = 16;

impl ConsentLedger {
    /// Records `request` as a `PENDING` consent of its person, valid from `now` for
    /// `request.valid_for`, and returns it. The person decides with [`approve`](Self::approve)
    /// or [`reject`](Self::reject); a consent still pending at the end of its validity
    /// expires.
    ///
    /// `actor` (e.g. `principal:<uuid>` of the operator or citizen who started the request)
    /// goes into the audit entry.
    ///
    /// # Errors
    ///
    /// - [`ConsentError::CreditNotSeparate`] if a credit-report kind is asked for together with
    ///   any other kind, or under a purpose other than `LOAN_CREDIT_REPORT`.
    /// - [`ConsentError::KindNotInPurpose`] if a kind is outside what the purpose allows.
    /// - [`ConsentError::InvalidRequest`] if no kinds, a malformed or repeated kind,
    ///   `data_from` after `data_to`, a frequency outside 1..=1000, a validity not in
    ///   (0, 365 days], a data life over 365 days, or a missing actor.
    /// - [`ConsentError::UnknownPerson`] if `person_id` names nobody.
    /// - [`ConsentError::Store`] if the database fails.
    pub async fn request(
        &self,
        request: &ConsentRequest,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<Consent> {
        let actor = accountable(actor)?;
        check_kinds(request.purpose, &request.data_kinds)?;
        check_terms(request)?;

        let now = stored_time(now);
        let id = bianmin_core::id::new_id();
        let valid_until = now + request.valid_for;
        let consumer = request.consumer.to_string();
        let mut tx = self.store.begin_write().await?;
        let inserted = bianmin_store::on_tx!(&mut tx, conn => {
            sqlx::query(
                "INSERT INTO consents (id, person_id, consumer, purpose_code, data_kinds, \
                 data_from, data_to, frequency_unit, frequency_max, valid_from, valid_until, \
                 data_life_days, state, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'PENDING', $10, $10)",
            )
            .bind(id)
            .bind(request.person_id)
            .bind(&consumer)
            .bind(request.purpose.code())
            .bind(Json(&request.data_kinds))
            .bind(request.data_from)
            .bind(request.data_to)
            .bind(unit_str(request.frequency.unit))
            .bind(i64::from(request.frequency.max))
            .bind(now)
            .bind(valid_until)
            .bind(i64::from(request.data_life_days))
            .execute(conn)
            .await
            .map(|_| ())
        });
        if let Err(error) = inserted {
            if error
                .as_database_error()
                .is_some_and(|db| db.is_foreign_key_violation())
            {
                return Err(ConsentError::UnknownPerson);
            }
            return Err(error.into());
        }
        let facts = ChangeFacts {
            id,
            person_id: request.person_id,
            consumer: &consumer,
            purpose_code: request.purpose.code(),
            data_kinds: &request.data_kinds,
            from: None,
            to: ConsentState::Pending,
        };
        record_change(
            &mut tx,
            &self.audit_key,
            Change::Requested,
            &facts,
            actor,
            now,
        )
        .await?;
        let consent = listed_in(&mut tx, id, now).await?;
        tx.commit().await?;
        Ok(consent)
    }
}

/// The data kinds are well-formed, distinct, kept apart if they are credit kinds, and within
/// the purpose.
fn check_kinds(purpose: Purpose, data_kinds: &[String]) -> Result<()> {
    if data_kinds.is_empty() {
        return Err(ConsentError::InvalidRequest(
            "at least one data kind is required",
        ));
    }
    if data_kinds.len() > MAX_KINDS {
        return Err(ConsentError::InvalidRequest(
            "at most 16 data kinds per consent",
        ));
    }
    let mut seen = HashSet::new();
    for kind in data_kinds {
        if !kinds::well_formed(kind) {
            return Err(ConsentError::InvalidRequest(
                "a data kind is 1 to 64 ASCII letters, digits, '.', '_' or '-'",
            ));
        }
        if !seen.insert(kind.as_str()) {
            return Err(ConsentError::InvalidRequest("a data kind is listed twice"));
        }
    }
    // Checked before the catalogue so that mixing credit with other data is named as what it
    // is, whichever purpose it was attempted under.
    let credit = data_kinds
        .iter()
        .filter(|kind| is_credit_kind(kind))
        .count();
    if credit > 0 && (credit < data_kinds.len() || purpose != Purpose::LoanCreditReport) {
        return Err(ConsentError::CreditNotSeparate);
    }
    if let Some(kind) = data_kinds.iter().find(|kind| !purpose.allows(kind)) {
        return Err(ConsentError::KindNotInPurpose {
            purpose: purpose.code(),
            kind: kind.clone(),
        });
    }
    Ok(())
}

/// Date range, frequency, validity and data life are within bounds.
fn check_terms(request: &ConsentRequest) -> Result<()> {
    if request.data_from > request.data_to {
        return Err(ConsentError::InvalidRequest("data_from is after data_to"));
    }
    if !(1..=MAX_FREQUENCY).contains(&request.frequency.max) {
        return Err(ConsentError::InvalidRequest(
            "frequency must allow between 1 and 1000 uses per window",
        ));
    }
    if request.valid_for <= Duration::zero() || request.valid_for > MAX_VALIDITY {
        return Err(ConsentError::InvalidRequest(
            "validity must be positive and at most 365 days",
        ));
    }
    if request.data_life_days > MAX_DATA_LIFE_DAYS {
        return Err(ConsentError::InvalidRequest(
            "data life must be at most 365 days",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(kinds: &[&str]) -> Vec<String> {
        kinds.iter().map(|kind| (*kind).to_owned()).collect()
    }

    #[test]
    fn kinds_must_be_within_the_purpose() {
        assert!(check_kinds(Purpose::ServiceHpfQuery, &strings(&["hpf.account"])).is_ok());
        assert!(matches!(
            check_kinds(Purpose::ServiceHpfQuery, &strings(&["hpf.account", "si.status"])),
            Err(ConsentError::KindNotInPurpose { purpose: "SERVICE_HPF_QUERY", kind }) if kind == "si.status"
        ));
    }

    #[test]
    fn credit_kinds_stand_alone_under_their_purpose() {
        assert!(check_kinds(Purpose::LoanCreditReport, &strings(&["credit.report"])).is_ok());
        for (purpose, requested) in [
            (
                Purpose::LoanCreditReport,
                &["credit.report", "hpf.account"][..],
            ),
            (
                Purpose::LoanUnderwriting,
                &["hpf.account", "credit.report"][..],
            ),
            (Purpose::LoanUnderwriting, &["credit.report"][..]),
            (Purpose::ServiceHpfQuery, &["credit.other"][..]),
        ] {
            assert!(
                matches!(
                    check_kinds(purpose, &strings(requested)),
                    Err(ConsentError::CreditNotSeparate)
                ),
                "{purpose} {requested:?}"
            );
        }
        assert!(matches!(
            check_kinds(Purpose::LoanCreditReport, &strings(&["hpf.account"])),
            Err(ConsentError::KindNotInPurpose { .. })
        ));
    }

    #[test]
    fn malformed_empty_and_repeated_kinds_are_refused_without_echo() {
        for requested in [
            &[][..],
            &["hpf.account", "hpf.account"][..],
            &["hpf/account"][..],
            &["hpf account"][..],
            &[""][..],
        ] {
            assert!(
                matches!(
                    check_kinds(Purpose::ServiceHpfQuery, &strings(requested)),
                    Err(ConsentError::InvalidRequest(_))
                ),
                "{requested:?}"
            );
        }
        let long = "a".repeat(65);
        assert!(check_kinds(Purpose::ServiceHpfQuery, &[long]).is_err());
    }
}
