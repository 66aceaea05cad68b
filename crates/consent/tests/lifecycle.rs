//! Requests, decisions and revocations: who may make them, what they refuse, and what each
//! leaves in the audit log and the outbox.

mod common;

use bianmin_consent::{ConsentError, ConsentState, Purpose, audit_actions, event_kinds, kinds};
use chrono::Duration;
use common::{Fixture, HPF_SERVICE, OPERATOR, PLATFORM, at, request};
use uuid::Uuid;

#[tokio::test]
async fn a_consent_goes_pending_active_revoked_and_every_step_is_audited_and_published() {
    let f = Fixture::new().await;
    let zhang = &f.zhang;
    let requested = f
        .ledger
        .request(
            &request(zhang.id, Purpose::ServiceHpfQuery, &[kinds::HPF_ACCOUNT]),
            OPERATOR,
            at(0),
        )
        .await
        .unwrap();
    assert_eq!(requested.state, ConsentState::Pending);
    assert_eq!(requested.person_id, zhang.id);
    assert_eq!(requested.valid_from, at(0));
    assert_eq!(requested.valid_until, at(0) + Duration::days(30));
    assert_eq!(requested.consumer.to_string(), PLATFORM);
    assert_eq!(requested.use_count, 0);

    let approved = f
        .ledger
        .approve(
            requested.id,
            zhang.id,
            &zhang.resident_id,
            &zhang.actor,
            at(1),
        )
        .await
        .unwrap();
    assert_eq!(approved.state, ConsentState::Active);
    assert_eq!(approved.decided_at, Some(at(1)));

    f.ledger
        .authorize_use(
            requested.id,
            zhang.id,
            kinds::HPF_ACCOUNT,
            HPF_SERVICE,
            Uuid::now_v7(),
            at(2),
        )
        .await
        .unwrap();

    let revoked = f
        .ledger
        .revoke(requested.id, zhang.id, &zhang.actor, at(3))
        .await
        .unwrap();
    assert_eq!(revoked.state, ConsentState::Revoked);
    assert_eq!(revoked.revoked_at, Some(at(3)));
    assert_eq!(revoked.use_count, 1);
    assert_eq!(revoked.last_used_at, Some(at(2)));

    // Revoking again is accepted and records nothing more.
    let again = f
        .ledger
        .revoke(requested.id, zhang.id, &zhang.actor, at(4))
        .await
        .unwrap();
    assert_eq!(again.state, ConsentState::Revoked);
    assert_eq!(again.revoked_at, Some(at(3)));

    let audit = f.consent_audit().await;
    let steps: Vec<_> = audit
        .iter()
        .map(|entry| (entry.action.as_str(), entry.actor.as_str()))
        .collect();
    assert_eq!(
        steps,
        [
            (audit_actions::REQUEST, OPERATOR),
            (audit_actions::APPROVE, zhang.actor.as_str()),
            (audit_actions::REVOKE, zhang.actor.as_str()),
        ]
    );
    for entry in &audit {
        assert_eq!(entry.target, format!("consent:{}", requested.id));
        assert_eq!(entry.purpose.as_deref(), Some("SERVICE_HPF_QUERY"));
        assert_eq!(entry.details["person_id"], zhang.id.to_string());
    }
    assert_eq!(audit[1].details["from"], "PENDING");
    assert_eq!(audit[1].details["to"], "ACTIVE");

    let events = f.consent_events().await;
    let kinds_seen: Vec<_> = events.iter().map(|event| event.kind.as_str()).collect();
    assert_eq!(
        kinds_seen,
        [
            event_kinds::REQUESTED,
            event_kinds::APPROVED,
            event_kinds::REVOKED
        ]
    );
    for event in &events {
        assert_eq!(event.aggregate_id, requested.id.to_string());
        assert_eq!(event.payload.0["purpose_code"], "SERVICE_HPF_QUERY");
        assert_eq!(event.payload.0["data_kinds"][0], kinds::HPF_ACCOUNT);
        // Dimensions only: not even the person's id.
        let payload = event.payload.0.to_string();
        assert!(!payload.contains(&zhang.id.to_string()), "{payload}");
        assert!(!payload.contains(zhang.resident_id.as_str()), "{payload}");
    }
    f.assert_audit_chain_intact().await;
}

#[tokio::test]
async fn a_rejected_consent_is_final_and_audited() {
    let f = Fixture::new().await;
    let zhang = &f.zhang;
    let consent = f
        .ledger
        .request(
            &request(zhang.id, Purpose::ServiceSsCard, &[kinds::SI_CARD]),
            OPERATOR,
            at(0),
        )
        .await
        .unwrap();
    let rejected = f
        .ledger
        .reject(consent.id, zhang.id, &zhang.actor, at(1))
        .await
        .unwrap();
    assert_eq!(rejected.state, ConsentState::Rejected);
    assert_eq!(rejected.decided_at, Some(at(1)));
    assert_eq!(f.stored_state(consent.id).await, "REJECTED");

    assert!(matches!(
        f.ledger
            .approve(
                consent.id,
                zhang.id,
                &zhang.resident_id,
                &zhang.actor,
                at(2)
            )
            .await,
        Err(ConsentError::NotActive {
            state: ConsentState::Rejected
        })
    ));
    // Rejecting twice, or revoking a rejected consent, changes nothing and succeeds.
    for result in [
        f.ledger
            .reject(consent.id, zhang.id, &zhang.actor, at(3))
            .await,
        f.ledger
            .revoke(consent.id, zhang.id, &zhang.actor, at(3))
            .await,
    ] {
        assert_eq!(result.unwrap().state, ConsentState::Rejected);
    }

    let actions: Vec<_> = f
        .consent_audit()
        .await
        .into_iter()
        .map(|entry| entry.action)
        .collect();
    assert_eq!(actions, [audit_actions::REQUEST, audit_actions::REJECT]);
    let events: Vec<_> = f
        .consent_events()
        .await
        .into_iter()
        .map(|event| event.kind)
        .collect();
    assert_eq!(events, [event_kinds::REQUESTED, event_kinds::REJECTED]);
    f.assert_audit_chain_intact().await;
}

#[tokio::test]
async fn only_the_subject_decides_and_revokes() {
    let f = Fixture::new().await;
    let (zhang, li) = (&f.zhang, &f.li);
    let consent = f
        .ledger
        .request(
            &request(zhang.id, Purpose::ServiceHpfQuery, &[kinds::HPF_ACCOUNT]),
            OPERATOR,
            at(0),
        )
        .await
        .unwrap();

    // Li, signed in as himself, tries to approve Zhang's consent (with either id number).
    for subject in [&li.resident_id, &zhang.resident_id] {
        assert!(matches!(
            f.ledger
                .approve(consent.id, li.id, subject, &li.actor, at(1))
                .await,
            Err(ConsentError::NotYours)
        ));
    }
    assert!(matches!(
        f.ledger.reject(consent.id, li.id, &li.actor, at(1)).await,
        Err(ConsentError::NotYours)
    ));
    assert!(matches!(
        f.ledger.get(consent.id, li.id, at(1)).await,
        Err(ConsentError::NotYours)
    ));
    assert!(matches!(
        f.ledger.uses(consent.id, li.id).await,
        Err(ConsentError::NotYours)
    ));
    assert!(f.ledger.list_for(li.id, at(1)).await.unwrap().is_empty());
    assert_eq!(f.stored_state(consent.id).await, "PENDING");

    f.ledger
        .approve(
            consent.id,
            zhang.id,
            &zhang.resident_id,
            &zhang.actor,
            at(2),
        )
        .await
        .unwrap();
    assert!(matches!(
        f.ledger.revoke(consent.id, li.id, &li.actor, at(3)).await,
        Err(ConsentError::NotYours)
    ));
    assert_eq!(f.stored_state(consent.id).await, "ACTIVE");

    // An id nobody has is not found, for its owner and anyone else.
    let unknown = Uuid::now_v7();
    assert!(matches!(
        f.ledger
            .approve(unknown, zhang.id, &zhang.resident_id, &zhang.actor, at(4))
            .await,
        Err(ConsentError::NotFound)
    ));
    assert!(matches!(
        f.ledger.get(unknown, zhang.id, at(4)).await,
        Err(ConsentError::NotFound)
    ));

    let actions: Vec<_> = f
        .consent_audit()
        .await
        .into_iter()
        .map(|entry| entry.action)
        .collect();
    assert_eq!(actions, [audit_actions::REQUEST, audit_actions::APPROVE]);
    f.assert_audit_chain_intact().await;
}

#[tokio::test]
async fn a_kind_outside_the_purpose_is_refused_and_nothing_is_stored() {
    let f = Fixture::new().await;
    let zhang = &f.zhang;
    let error = f
        .ledger
        .request(
            &request(
                zhang.id,
                Purpose::ServiceHpfQuery,
                &[kinds::HPF_ACCOUNT, kinds::TAX_INCOME],
            ),
            OPERATOR,
            at(0),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ConsentError::KindNotInPurpose { purpose: "SERVICE_HPF_QUERY", kind } if kind == "tax.income"),
        "{error:?}"
    );
    assert_eq!(error.code(), "consent.kind_not_in_purpose");
    assert!(f.ledger.list_for(zhang.id, at(0)).await.unwrap().is_empty());
    assert!(f.consent_audit().await.is_empty());
    assert!(f.consent_events().await.is_empty());
}

#[tokio::test]
async fn credit_report_kinds_are_never_mixed_with_government_data() {
    let f = Fixture::new().await;
    let zhang = &f.zhang;
    for (purpose, requested) in [
        (
            Purpose::LoanCreditReport,
            &[kinds::CREDIT_REPORT, kinds::HPF_ACCOUNT][..],
        ),
        (
            Purpose::LoanUnderwriting,
            &[kinds::HPF_ACCOUNT, kinds::SI_STATUS, kinds::CREDIT_REPORT][..],
        ),
        (Purpose::LoanUnderwriting, &[kinds::CREDIT_REPORT][..]),
    ] {
        let error = f
            .ledger
            .request(&request(zhang.id, purpose, requested), OPERATOR, at(0))
            .await
            .unwrap_err();
        assert!(
            matches!(error, ConsentError::CreditNotSeparate),
            "{purpose} {requested:?}: {error:?}"
        );
        assert_eq!(error.code(), "consent.credit_not_separate");
    }
    assert!(f.ledger.list_for(zhang.id, at(0)).await.unwrap().is_empty());

    // Two separate consents are the way: government data for underwriting, and the credit
    // report alone.
    f.ledger
        .request(
            &request(
                zhang.id,
                Purpose::LoanUnderwriting,
                &[kinds::HPF_ACCOUNT, kinds::SI_STATUS],
            ),
            OPERATOR,
            at(0),
        )
        .await
        .unwrap();
    let credit = f
        .ledger
        .request(
            &request(zhang.id, Purpose::LoanCreditReport, &[kinds::CREDIT_REPORT]),
            OPERATOR,
            at(1),
        )
        .await
        .unwrap();
    assert_eq!(credit.data_kinds, [kinds::CREDIT_REPORT]);
    let listed = f.ledger.list_for(zhang.id, at(2)).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].id, credit.id, "newest first");
}

#[tokio::test]
async fn requests_outside_the_bounds_are_refused() {
    let f = Fixture::new().await;
    let zhang = &f.zhang;
    let base = request(zhang.id, Purpose::ServiceHpfQuery, &[kinds::HPF_ACCOUNT]);
    let mut cases = Vec::new();
    let mut long = base.clone();
    long.valid_for = Duration::days(366);
    cases.push(("validity over a year", long));
    let mut none = base.clone();
    none.valid_for = Duration::zero();
    cases.push(("no validity", none));
    let mut backwards = base.clone();
    backwards.data_from = common::date(2026, 1, 1);
    cases.push(("dates backwards", backwards));
    let mut never = base.clone();
    never.frequency.max = 0;
    cases.push(("zero uses", never));
    let mut empty = base.clone();
    empty.data_kinds.clear();
    cases.push(("no kinds", empty));
    let mut twice = base.clone();
    twice.data_kinds.push(kinds::HPF_ACCOUNT.to_owned());
    cases.push(("kind twice", twice));
    let mut kept = base.clone();
    kept.data_life_days = 366;
    cases.push(("data kept too long", kept));
    for (what, bad) in cases {
        assert!(
            matches!(
                f.ledger.request(&bad, OPERATOR, at(0)).await,
                Err(ConsentError::InvalidRequest(_))
            ),
            "{what}"
        );
    }
    assert!(matches!(
        f.ledger.request(&base, " ", at(0)).await,
        Err(ConsentError::InvalidRequest("actor is required"))
    ));
    let mut nobody = base.clone();
    nobody.person_id = Uuid::now_v7();
    assert!(matches!(
        f.ledger.request(&nobody, OPERATOR, at(0)).await,
        Err(ConsentError::UnknownPerson)
    ));
    let mut a_year = base;
    a_year.valid_for = Duration::days(365);
    f.ledger.request(&a_year, OPERATOR, at(0)).await.unwrap();
    assert_eq!(f.consent_audit().await.len(), 1);
}

#[tokio::test]
async fn a_request_left_pending_past_its_validity_expires_and_cannot_be_approved() {
    let f = Fixture::new().await;
    let zhang = &f.zhang;
    let mut short = request(
        zhang.id,
        Purpose::ServiceTraffic,
        &[kinds::TRAFFIC_VIOLATIONS],
    );
    short.valid_for = Duration::hours(1);
    let consent = f.ledger.request(&short, OPERATOR, at(0)).await.unwrap();

    // Views show it expired at once; the table changes when a decision finds it.
    let seen = f.ledger.get(consent.id, zhang.id, at(60)).await.unwrap();
    assert_eq!(seen.state, ConsentState::Expired);
    assert_eq!(f.stored_state(consent.id).await, "PENDING");

    assert!(matches!(
        f.ledger
            .approve(
                consent.id,
                zhang.id,
                &zhang.resident_id,
                &zhang.actor,
                at(60)
            )
            .await,
        Err(ConsentError::Expired)
    ));
    assert_eq!(f.stored_state(consent.id).await, "EXPIRED");
    let audit = f.consent_audit().await;
    let last = audit.last().unwrap();
    assert_eq!(last.action, audit_actions::EXPIRE);
    assert_eq!(last.actor, "system");
    // Rejecting it now changes nothing more.
    let rejected = f
        .ledger
        .reject(consent.id, zhang.id, &zhang.actor, at(61))
        .await
        .unwrap();
    assert_eq!(rejected.state, ConsentState::Expired);
    assert_eq!(f.consent_audit().await.len(), audit.len());
    f.assert_audit_chain_intact().await;
}

#[tokio::test]
async fn revoke_all_ends_every_live_consent_of_a_person_only() {
    let f = Fixture::new().await;
    let (zhang, li) = (&f.zhang, &f.li);
    let hpf = request(zhang.id, Purpose::ServiceHpfQuery, &[kinds::HPF_ACCOUNT]);
    let active = f.ledger.request(&hpf, OPERATOR, at(0)).await.unwrap();
    f.ledger
        .approve(active.id, zhang.id, &zhang.resident_id, &zhang.actor, at(1))
        .await
        .unwrap();
    let pending = f.ledger.request(&hpf, OPERATOR, at(2)).await.unwrap();
    let rejected = f.ledger.request(&hpf, OPERATOR, at(3)).await.unwrap();
    f.ledger
        .reject(rejected.id, zhang.id, &zhang.actor, at(4))
        .await
        .unwrap();
    let lis = f
        .ledger
        .request(
            &request(li.id, Purpose::ServiceHpfQuery, &[kinds::HPF_ACCOUNT]),
            OPERATOR,
            at(5),
        )
        .await
        .unwrap();

    let changed = f
        .ledger
        .revoke_all_for(zhang.id, "principal:dpo", at(6))
        .await
        .unwrap();
    let mut expected = vec![active.id, pending.id];
    expected.sort();
    let mut changed = changed;
    changed.sort();
    assert_eq!(changed, expected);
    assert_eq!(f.stored_state(active.id).await, "REVOKED");
    assert_eq!(f.stored_state(pending.id).await, "REJECTED");
    assert_eq!(f.stored_state(rejected.id).await, "REJECTED");
    assert_eq!(f.stored_state(lis.id).await, "PENDING");
    let dpo: Vec<_> = f
        .consent_audit()
        .await
        .into_iter()
        .filter(|entry| entry.actor == "principal:dpo")
        .map(|entry| entry.action)
        .collect();
    assert_eq!(dpo, [audit_actions::REVOKE, audit_actions::REJECT]);
    assert_eq!(
        f.ledger
            .revoke_all_for(zhang.id, "principal:dpo", at(7))
            .await
            .unwrap()
            .len(),
        0
    );
    f.assert_audit_chain_intact().await;
}
