//! `authorize_use`, the check before every request: what it refuses, what it counts, and the
//! artefact it hands out.

mod common;

use bianmin_consent::{
    Consent, ConsentError, ConsentState, ConsentUses, NewUse, Purpose, audit_actions, kinds,
};
use bianmin_exchange::{ConsentArtefact, FrequencyUnit, SignedConsent};
use chrono::Duration;
use common::{Fixture, HPF_SERVICE, OPERATOR, PLATFORM, at, request};
use uuid::Uuid;

/// An approved consent of Zhang's for his provident-fund account.
async fn active(f: &Fixture, max_per_day: u32) -> Consent {
    let mut hpf = request(
        f.zhang.id,
        Purpose::ServiceHpfQuery,
        &[kinds::HPF_ACCOUNT, kinds::HPF_DEPOSITS],
    );
    hpf.frequency.max = max_per_day;
    let consent = f.ledger.request(&hpf, OPERATOR, at(0)).await.unwrap();
    f.ledger
        .approve(
            consent.id,
            f.zhang.id,
            &f.zhang.resident_id,
            &f.zhang.actor,
            at(1),
        )
        .await
        .unwrap()
}

async fn use_at(
    f: &Fixture,
    consent: &Consent,
    kind: &str,
    minutes: i64,
) -> Result<SignedConsent, ConsentError> {
    f.ledger
        .authorize_use(
            consent.id,
            consent.person_id,
            kind,
            HPF_SERVICE,
            Uuid::now_v7(),
            at(minutes),
        )
        .await
}

#[tokio::test]
async fn the_artefact_handed_out_verifies_with_the_platform_key_and_names_the_subject() {
    let f = Fixture::new().await;
    let consent = active(&f, 5).await;
    let signed = use_at(&f, &consent, kinds::HPF_ACCOUNT, 2).await.unwrap();

    let verified = SignedConsent::parse_and_verify(
        &signed.header,
        &f.platform.sign.verifying_key(),
        &f.platform.id,
    )
    .unwrap();
    let artefact = &verified.artefact;
    assert_eq!(artefact.consent_id, consent.id);
    assert_eq!(
        artefact.subject_digest,
        ConsentArtefact::subject_digest(&consent.id, &f.zhang.resident_id)
    );
    assert_ne!(
        artefact.subject_digest,
        ConsentArtefact::subject_digest(&consent.id, &f.li.resident_id)
    );
    assert_eq!(artefact.consumer.to_string(), PLATFORM);
    assert_eq!(artefact.purpose_code, "SERVICE_HPF_QUERY");
    assert_eq!(artefact.purpose_text, "公积金查询");
    assert_eq!(artefact.data_kinds, consent.data_kinds);
    assert_eq!(artefact.data_from, consent.data_from);
    assert_eq!(artefact.data_to, consent.data_to);
    assert_eq!(artefact.frequency.unit, FrequencyUnit::Day);
    assert_eq!(artefact.frequency.max, 5);
    assert_eq!(artefact.valid_from, consent.valid_from);
    assert_eq!(artefact.valid_until, consent.valid_until);
    assert_eq!(artefact.data_life_days, 7);
    assert_eq!(artefact.issued_at, at(1));
    assert_eq!(&signed.artefact, artefact);

    // Another key does not verify it.
    let stranger = bianmin_crypto::Sm2SigningKey::generate().verifying_key();
    assert!(SignedConsent::parse_and_verify(&signed.header, &stranger, &f.platform.id).is_err());
}

#[tokio::test]
async fn uses_are_refused_unless_the_consent_is_live_for_that_person_and_kind() {
    let f = Fixture::new().await;
    let (zhang, li) = (&f.zhang, &f.li);

    // Pending.
    let pending = f
        .ledger
        .request(
            &request(zhang.id, Purpose::ServiceHpfQuery, &[kinds::HPF_ACCOUNT]),
            OPERATOR,
            at(0),
        )
        .await
        .unwrap();
    assert!(matches!(
        use_at(&f, &pending, kinds::HPF_ACCOUNT, 1).await,
        Err(ConsentError::NotActive {
            state: ConsentState::Pending
        })
    ));

    // Rejected.
    f.ledger
        .reject(pending.id, zhang.id, &zhang.actor, at(1))
        .await
        .unwrap();
    let error = use_at(&f, &pending, kinds::HPF_ACCOUNT, 2)
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        ConsentError::NotActive {
            state: ConsentState::Rejected
        }
    ));
    assert_eq!(error.code(), "consent.not_active");

    let consent = active(&f, 5).await;
    // Another person's.
    assert!(matches!(
        f.ledger
            .authorize_use(
                consent.id,
                li.id,
                kinds::HPF_ACCOUNT,
                HPF_SERVICE,
                Uuid::now_v7(),
                at(2)
            )
            .await,
        Err(ConsentError::NotYours)
    ));
    // A kind it does not cover.
    let error = use_at(&f, &consent, kinds::SI_STATUS, 2).await.unwrap_err();
    assert!(matches!(&error, ConsentError::KindNotCovered { kind } if kind == "si.status"));
    assert_eq!(error.code(), "consent.kind_not_covered");
    // Not a consent at all.
    assert!(matches!(
        f.ledger
            .authorize_use(
                Uuid::now_v7(),
                zhang.id,
                kinds::HPF_ACCOUNT,
                HPF_SERVICE,
                Uuid::now_v7(),
                at(2)
            )
            .await,
        Err(ConsentError::NotFound)
    ));

    // Revoked: refused from the very next call.
    use_at(&f, &consent, kinds::HPF_ACCOUNT, 3).await.unwrap();
    f.ledger
        .revoke(consent.id, zhang.id, &zhang.actor, at(3))
        .await
        .unwrap();
    let error = use_at(&f, &consent, kinds::HPF_ACCOUNT, 3)
        .await
        .unwrap_err();
    assert!(matches!(error, ConsentError::Revoked));
    assert_eq!(error.code(), "consent.revoked");

    // Only the one use made while it was live is recorded.
    let uses = f.ledger.uses(consent.id, zhang.id).await.unwrap();
    assert_eq!(uses.len(), 1);
    assert_eq!(uses[0].data_kind, kinds::HPF_ACCOUNT);
    assert_eq!(uses[0].service, HPF_SERVICE);
    assert_eq!(uses[0].used_at, at(3));
    assert!(
        f.ledger
            .uses(pending.id, zhang.id)
            .await
            .unwrap()
            .is_empty()
    );
    f.assert_audit_chain_intact().await;
}

#[tokio::test]
async fn an_expired_consent_is_refused_and_recorded_as_expired() {
    let f = Fixture::new().await;
    let consent = active(&f, 5).await;
    use_at(&f, &consent, kinds::HPF_ACCOUNT, 2).await.unwrap();

    // One minute before the end it still works; at the end it does not.
    let last_minute = (consent.valid_until - at(0)).num_minutes() - 1;
    use_at(&f, &consent, kinds::HPF_ACCOUNT, last_minute)
        .await
        .unwrap();
    let end = last_minute + 1;
    let error = use_at(&f, &consent, kinds::HPF_ACCOUNT, end)
        .await
        .unwrap_err();
    assert!(matches!(error, ConsentError::Expired), "{error:?}");
    assert_eq!(error.code(), "consent.expired");
    assert_eq!(f.stored_state(consent.id).await, "EXPIRED");
    assert!(matches!(
        use_at(&f, &consent, kinds::HPF_ACCOUNT, end + 1).await,
        Err(ConsentError::Expired)
    ));
    let expired: Vec<_> = f
        .consent_audit()
        .await
        .into_iter()
        .filter(|entry| entry.action == audit_actions::EXPIRE)
        .collect();
    assert_eq!(expired.len(), 1, "expired once, however often it is tried");
    assert_eq!(expired[0].actor, "system");
    assert_eq!(expired[0].details["from"], "ACTIVE");
    let events = f.consent_events().await;
    assert_eq!(events.last().unwrap().kind, "consent.expired");

    // Revoking an expired consent succeeds without a change.
    let revoked = f
        .ledger
        .revoke(consent.id, f.zhang.id, &f.zhang.actor, at(end + 2))
        .await
        .unwrap();
    assert_eq!(revoked.state, ConsentState::Expired);
    assert_eq!(revoked.use_count, 2);
    f.assert_audit_chain_intact().await;
}

#[tokio::test]
async fn the_frequency_limits_requests_per_china_day_and_retries_are_one_use() {
    let f = Fixture::new().await;
    // at(0) is 17:00 in Beijing; the next Beijing day starts at at(420).
    let consent = active(&f, 2).await;
    let first = Uuid::now_v7();
    let authorize = |kind: &'static str, message: Uuid, minutes: i64| {
        let f = &f;
        let consent = &consent;
        async move {
            f.ledger
                .authorize_use(
                    consent.id,
                    consent.person_id,
                    kind,
                    HPF_SERVICE,
                    message,
                    at(minutes),
                )
                .await
        }
    };
    authorize(kinds::HPF_ACCOUNT, first, 2).await.unwrap();
    // The same request fetching a second kind, and a retry of it, are the same use.
    authorize(kinds::HPF_DEPOSITS, first, 2).await.unwrap();
    authorize(kinds::HPF_ACCOUNT, first, 3).await.unwrap();
    authorize(kinds::HPF_ACCOUNT, Uuid::now_v7(), 4)
        .await
        .unwrap();

    let error = authorize(kinds::HPF_ACCOUNT, Uuid::now_v7(), 5)
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            ConsentError::FrequencyExceeded {
                unit: "day",
                max: 2
            }
        ),
        "{error:?}"
    );
    assert_eq!(error.code(), "consent.frequency_exceeded");
    // Still the same Beijing day a minute before midnight.
    assert!(matches!(
        authorize(kinds::HPF_ACCOUNT, Uuid::now_v7(), 419).await,
        Err(ConsentError::FrequencyExceeded { .. })
    ));
    // A retry of a counted request is still answered.
    authorize(kinds::HPF_ACCOUNT, first, 419).await.unwrap();

    // The next day allows again.
    authorize(kinds::HPF_ACCOUNT, Uuid::now_v7(), 420)
        .await
        .unwrap();
    authorize(kinds::HPF_ACCOUNT, Uuid::now_v7(), 421)
        .await
        .unwrap();
    assert!(matches!(
        authorize(kinds::HPF_ACCOUNT, Uuid::now_v7(), 422).await,
        Err(ConsentError::FrequencyExceeded { .. })
    ));

    let seen = f.ledger.get(consent.id, f.zhang.id, at(423)).await.unwrap();
    assert_eq!(seen.use_count, 4);
    assert_eq!(seen.last_used_at, Some(at(421)));
    let uses = f.ledger.uses(consent.id, f.zhang.id).await.unwrap();
    assert_eq!(uses.len(), 5, "four requests, one of them for two kinds");
    assert!(
        uses.windows(2)
            .all(|pair| pair[0].used_at <= pair[1].used_at)
    );
}

#[tokio::test]
async fn concurrent_uses_never_exceed_the_frequency() {
    let f = Fixture::new().await;
    let consent = active(&f, 3).await;
    let attempts = (0..8).map(|_| {
        let ledger = f.ledger.clone();
        let (id, person) = (consent.id, consent.person_id);
        tokio::spawn(async move {
            ledger
                .authorize_use(
                    id,
                    person,
                    kinds::HPF_ACCOUNT,
                    HPF_SERVICE,
                    Uuid::now_v7(),
                    at(2),
                )
                .await
        })
    });
    let mut allowed = 0;
    for attempt in attempts.collect::<Vec<_>>() {
        match attempt.await.unwrap() {
            Ok(_) => allowed += 1,
            Err(ConsentError::FrequencyExceeded { .. }) => {}
            Err(other) => panic!("unexpected refusal: {other:?}"),
        }
    }
    assert_eq!(allowed, 3);
    assert_eq!(
        f.ledger.uses(consent.id, f.zhang.id).await.unwrap().len(),
        3
    );
}

#[tokio::test]
async fn an_artefact_altered_in_the_database_is_never_sent() {
    let f = Fixture::new().await;
    let hpf = active(&f, 5).await;
    let mut broad = request(
        f.zhang.id,
        Purpose::LoanUnderwriting,
        &[kinds::HPF_ACCOUNT, kinds::TAX_INCOME],
    );
    broad.valid_for = Duration::days(300);
    let other = f.ledger.request(&broad, OPERATOR, at(2)).await.unwrap();
    f.ledger
        .approve(
            other.id,
            f.zhang.id,
            &f.zhang.resident_id,
            &f.zhang.actor,
            at(3),
        )
        .await
        .unwrap();

    // Someone with write access copies the broader consent's sealed artefact onto the narrow
    // one: it is sealed for the other row and does not open here.
    bianmin_store::on_pool!(f.store(), pool => {
        sqlx::query(
            "UPDATE consents SET signed_artefact_enc = \
             (SELECT signed_artefact_enc FROM consents WHERE id = $1) WHERE id = $2",
        )
        .bind(other.id)
        .bind(hpf.id)
        .execute(pool)
        .await
        .unwrap();
    });
    let error = use_at(&f, &hpf, kinds::HPF_ACCOUNT, 4).await.unwrap_err();
    assert!(matches!(error, ConsentError::Corrupt(_)), "{error:?}");

    // Or overwrites the ciphertext: it no longer decrypts.
    bianmin_store::on_pool!(f.store(), pool => {
        sqlx::query("UPDATE consents SET signed_artefact_enc = $1 WHERE id = $2")
            .bind(vec![0_u8; 64])
            .bind(other.id)
            .execute(pool)
            .await
            .unwrap();
    });
    assert!(matches!(
        use_at(&f, &other, kinds::HPF_ACCOUNT, 4).await,
        Err(ConsentError::Corrupt(_))
    ));
    assert!(f.ledger.uses(hpf.id, f.zhang.id).await.unwrap().is_empty());
    assert!(
        f.ledger
            .uses(other.id, f.zhang.id)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn erasing_the_person_makes_their_artefacts_unreadable_but_keeps_the_record() {
    let f = Fixture::new().await;
    let (zhang, li) = (&f.zhang, &f.li);
    let consent = active(&f, 5).await;
    use_at(&f, &consent, kinds::HPF_ACCOUNT, 2).await.unwrap();
    let revoked = active(&f, 5).await;
    f.ledger
        .revoke(revoked.id, zhang.id, &zhang.actor, at(2))
        .await
        .unwrap();
    let pending = f
        .ledger
        .request(
            &request(zhang.id, Purpose::ServiceSsCard, &[kinds::SI_CARD]),
            OPERATOR,
            at(2),
        )
        .await
        .unwrap();
    let lis = f
        .ledger
        .request(
            &request(li.id, Purpose::ServiceHpfQuery, &[kinds::HPF_ACCOUNT]),
            OPERATOR,
            at(2),
        )
        .await
        .unwrap();
    f.ledger
        .approve(lis.id, li.id, &li.resident_id, &li.actor, at(2))
        .await
        .unwrap();
    let audit_before = f.consent_audit().await.len();

    f.vault
        .erase(zhang.id, "principal:dpo", "erasure-request-2026-042", at(3))
        .await
        .unwrap();

    // The active consent can no longer be used: nothing is sent, nothing is recorded.
    let error = use_at(&f, &consent, kinds::HPF_ACCOUNT, 4)
        .await
        .unwrap_err();
    assert!(matches!(error, ConsentError::SubjectErased), "{error:?}");
    assert_eq!(error.code(), "consent.subject_erased");
    // A retry of the use made before the erasure is refused as well.
    let first = f.ledger.uses(consent.id, zhang.id).await.unwrap();
    assert!(matches!(
        f.ledger
            .authorize_use(
                consent.id,
                zhang.id,
                kinds::HPF_ACCOUNT,
                HPF_SERVICE,
                first[0].message_id,
                at(4)
            )
            .await,
        Err(ConsentError::SubjectErased)
    ));
    assert_eq!(f.ledger.uses(consent.id, zhang.id).await.unwrap(), first);
    // The pending one cannot be approved: there is no key to seal its artefact under.
    assert!(matches!(
        f.ledger
            .approve(
                pending.id,
                zhang.id,
                &zhang.resident_id,
                &zhang.actor,
                at(4)
            )
            .await,
        Err(ConsentError::SubjectErased)
    ));
    assert_eq!(f.stored_state(pending.id).await, "PENDING");
    // Refusals that do not need the artefact keep their own reason.
    assert!(matches!(
        use_at(&f, &revoked, kinds::HPF_ACCOUNT, 4).await,
        Err(ConsentError::Revoked)
    ));
    assert!(matches!(
        use_at(&f, &consent, kinds::SI_STATUS, 4).await,
        Err(ConsentError::KindNotCovered { .. })
    ));
    assert_eq!(f.consent_audit().await.len(), audit_before);

    // What was consented to, and what was done under it, stays on record.
    let listed = f.ledger.list_for(zhang.id, at(5)).await.unwrap();
    assert_eq!(listed.len(), 3);
    let seen = listed.iter().find(|c| c.id == consent.id).unwrap();
    assert_eq!(seen.state, ConsentState::Active);
    assert_eq!(seen.data_kinds, consent.data_kinds);
    assert_eq!(seen.use_count, 1);
    assert_eq!(seen.last_used_at, Some(at(2)));
    assert_eq!(
        f.ledger
            .get(revoked.id, zhang.id, at(5))
            .await
            .unwrap()
            .state,
        ConsentState::Revoked
    );
    // And the person's consents can still be withdrawn.
    assert_eq!(
        f.ledger
            .revoke_all_for(zhang.id, "principal:dpo", at(6))
            .await
            .unwrap()
            .len(),
        2
    );

    // Another person is untouched.
    use_at(&f, &lis, kinds::HPF_ACCOUNT, 7).await.unwrap();
    f.assert_audit_chain_intact().await;
}

#[tokio::test]
async fn a_batch_of_uses_is_recorded_together_or_not_at_all() {
    let f = Fixture::new().await;
    let consent = active(&f, 3).await;
    let (one, two) = (Uuid::now_v7(), Uuid::now_v7());
    let batch = [
        NewUse {
            data_kind: kinds::HPF_ACCOUNT,
            service: HPF_SERVICE,
            message_id: one,
        },
        NewUse {
            data_kind: kinds::HPF_DEPOSITS,
            service: HPF_SERVICE,
            message_id: one,
        },
        NewUse {
            data_kind: kinds::HPF_ACCOUNT,
            service: HPF_SERVICE,
            message_id: two,
        },
    ];
    f.ledger
        .authorize_uses(consent.id, consent.person_id, &batch, at(2))
        .await
        .unwrap();
    let uses = f.ledger.uses(consent.id, consent.person_id).await.unwrap();
    assert_eq!(uses.len(), 3);
    // The same batch again (a retry) records nothing more.
    f.ledger
        .authorize_uses(consent.id, consent.person_id, &batch, at(3))
        .await
        .unwrap();
    assert_eq!(
        f.ledger
            .uses(consent.id, consent.person_id)
            .await
            .unwrap()
            .len(),
        3
    );
    // Two requests counted of three a day: a batch of two new requests is refused whole.
    let fresh = |message_id| NewUse {
        data_kind: kinds::HPF_ACCOUNT,
        service: HPF_SERVICE,
        message_id,
    };
    let refused = f
        .ledger
        .authorize_uses(
            consent.id,
            consent.person_id,
            &[fresh(Uuid::now_v7()), fresh(Uuid::now_v7())],
            at(4),
        )
        .await;
    assert!(
        matches!(refused, Err(ConsentError::FrequencyExceeded { max: 3, .. })),
        "{refused:?}"
    );
    assert_eq!(
        f.ledger
            .uses(consent.id, consent.person_id)
            .await
            .unwrap()
            .len(),
        3
    );
    // A kind the consent does not cover refuses the batch, and an empty batch is no request.
    let uncovered = f
        .ledger
        .authorize_uses(
            consent.id,
            consent.person_id,
            &[
                fresh(Uuid::now_v7()),
                NewUse {
                    data_kind: "tax.income",
                    service: HPF_SERVICE,
                    message_id: Uuid::now_v7(),
                },
            ],
            at(5),
        )
        .await;
    assert!(
        matches!(uncovered, Err(ConsentError::KindNotCovered { .. })),
        "{uncovered:?}"
    );
    assert!(matches!(
        f.ledger
            .authorize_uses(consent.id, consent.person_id, &[], at(5))
            .await,
        Err(ConsentError::InvalidRequest(_))
    ));
    // One new request still fits.
    f.ledger
        .authorize_uses(
            consent.id,
            consent.person_id,
            &[fresh(Uuid::now_v7())],
            at(6),
        )
        .await
        .unwrap();
    assert_eq!(
        f.ledger
            .uses(consent.id, consent.person_id)
            .await
            .unwrap()
            .len(),
        4
    );
}

#[tokio::test]
async fn uses_of_several_consents_are_recorded_together_or_not_at_all() {
    let f = Fixture::new().await;
    let roomy = active(&f, 5).await;
    let full = active(&f, 1).await;
    let fresh = || NewUse {
        data_kind: kinds::HPF_ACCOUNT,
        service: HPF_SERVICE,
        message_id: Uuid::now_v7(),
    };
    let count = |consent: Consent| {
        let ledger = f.ledger.clone();
        async move {
            ledger
                .uses(consent.id, consent.person_id)
                .await
                .unwrap()
                .len()
        }
    };
    let uses = |consent: &Consent, uses| ConsentUses {
        consent_id: consent.id,
        uses,
    };
    let (one, two) = ([fresh()], [fresh()]);
    let signed = f
        .ledger
        .authorize_uses_of(f.zhang.id, &[uses(&roomy, &one), uses(&full, &two)], at(2))
        .await
        .unwrap();
    // Each consent's own artefact, in the order asked.
    let ids: Vec<Uuid> = signed.iter().map(|s| s.artefact.consent_id).collect();
    assert_eq!(ids, [roomy.id, full.id]);
    assert_eq!(
        (count(roomy.clone()).await, count(full.clone()).await),
        (1, 1)
    );

    // The second consent's day is spent: the first's use is refused with it.
    let (three, four) = ([fresh()], [fresh()]);
    let refused = f
        .ledger
        .authorize_uses_of(
            f.zhang.id,
            &[uses(&roomy, &three), uses(&full, &four)],
            at(3),
        )
        .await;
    assert!(
        matches!(refused, Err(ConsentError::FrequencyExceeded { max: 1, .. })),
        "{refused:?}"
    );
    assert_eq!(
        (count(roomy.clone()).await, count(full.clone()).await),
        (1, 1)
    );

    // The same consent twice, or none, is not a request.
    for batches in [vec![uses(&roomy, &three), uses(&roomy, &four)], Vec::new()] {
        assert!(matches!(
            f.ledger
                .authorize_uses_of(f.zhang.id, &batches, at(4))
                .await,
            Err(ConsentError::InvalidRequest(_))
        ));
    }
    assert_eq!(count(roomy).await, 1);
}
