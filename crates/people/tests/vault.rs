//! The vault as its callers use it, on the backend `BIANMIN_TEST_DATABASE_URL` selects:
//! registration, lookup, masked and revealed reads, erasure, fields of other tables and KEK
//! rotation, each ending with an intact audit chain.

mod common;

use std::sync::Arc;

use bianmin_core::ResidentId;
use bianmin_crypto::CryptoError;
use bianmin_people::{FieldAad, PeopleError, audit_actions};
use common::{Fixture, at, person};
use serde_json::json;
use tokio::sync::Barrier;
use uuid::Uuid;

#[tokio::test]
async fn registered_person_reads_back_masked_and_revealed() {
    let f = Fixture::new().await;
    let zhang = person("11010519491231002", "张三丰", Some("139 1234 5678"));
    let id = f.vault.register(&zhang, at(1)).await.unwrap();

    let masked = f.vault.masked(id).await.unwrap();
    assert_eq!(masked.id, id);
    assert_eq!(
        masked.resident_id,
        format!("110105********{}", &zhang.resident_id.as_str()[14..])
    );
    assert_eq!(masked.name, "**丰");
    assert_eq!(masked.phone.as_deref(), Some("139****5678"));

    let revealed = f
        .vault
        .reveal(id, "principal:officer-1", "loan.kyc", at(2))
        .await
        .unwrap();
    assert_eq!(revealed.id, id);
    assert_eq!(revealed.resident_id, zhang.resident_id);
    assert_eq!(revealed.name, "张三丰");
    assert_eq!(revealed.phone, zhang.phone);
    assert_eq!(revealed.masked(), masked);
    f.assert_audit_chain_intact().await;
}

#[tokio::test]
async fn person_without_phone_has_none_masked_or_revealed() {
    let f = Fixture::new().await;
    let id = f
        .vault
        .register(&person("51010419880101234", "Alice Zhou", None), at(1))
        .await
        .unwrap();
    let masked = f.vault.masked(id).await.unwrap();
    assert_eq!(masked.name, "A*********");
    assert_eq!(masked.phone, None);
    let revealed = f.vault.reveal(id, "op", "support", at(2)).await.unwrap();
    assert_eq!(revealed.phone, None);
    let entry = f.audit_of(audit_actions::REVEAL).await.remove(0);
    assert_eq!(entry.details, json!({ "fields": ["resident_id", "name"] }));
}

#[tokio::test]
async fn registering_the_same_resident_id_again_updates_the_person_and_keeps_the_id() {
    let f = Fixture::new().await;
    let first = f
        .vault
        .register(
            &person("11010519491231002", "张三", Some("13912345678")),
            at(1),
        )
        .await
        .unwrap();
    let again = f
        .vault
        .register(&person("11010519491231002", "张三丰", None), at(2))
        .await
        .unwrap();
    assert_eq!(again, first);

    let revealed = f.vault.reveal(first, "op", "support", at(3)).await.unwrap();
    assert_eq!(revealed.name, "张三丰");
    assert_eq!(revealed.phone, None);
    let rows: i64 = bianmin_store::on_pool!(f.store(), pool => {
        sqlx::query_scalar("SELECT COUNT(*) FROM persons").fetch_one(pool).await.unwrap()
    });
    assert_eq!(rows, 1);
}

#[tokio::test]
async fn person_is_found_by_resident_id_and_only_by_their_own() {
    let f = Fixture::new().await;
    let zhang = person("11010519491231002", "张三", None);
    let li = person("44030520000101123", "李四", None);
    let zhang_id = f.vault.register(&zhang, at(1)).await.unwrap();
    let li_id = f.vault.register(&li, at(1)).await.unwrap();
    assert_ne!(zhang_id, li_id);

    assert_eq!(
        f.vault
            .find_by_resident_id(&zhang.resident_id)
            .await
            .unwrap(),
        Some(zhang_id)
    );
    assert_eq!(
        f.vault.find_by_resident_id(&li.resident_id).await.unwrap(),
        Some(li_id)
    );
    let stranger = ResidentId::with_check_digit("51010419900307123").unwrap();
    assert_eq!(f.vault.find_by_resident_id(&stranger).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_registrations_of_one_resident_id_make_one_person() {
    let f = Fixture::new().await;
    for (round, first17) in [
        "32010619750615001",
        "33010219920202020",
        "45010319851111222",
    ]
    .into_iter()
    .enumerate()
    {
        let newcomer = person(first17, &format!("王{round}"), Some("13700001111"));
        // Each task holds a connection before the barrier, so all of them reach the lookup
        // together and most find nobody, insert, and all but one lose on the unique index.
        let barrier = Arc::new(Barrier::new(6));
        let attempts: Vec<_> = (0..6)
            .map(|_| {
                let (vault, store, newcomer, barrier) = (
                    f.vault.clone(),
                    f.store().clone(),
                    newcomer.clone(),
                    barrier.clone(),
                );
                tokio::spawn(async move {
                    let warm = store.begin().await.unwrap();
                    barrier.wait().await;
                    warm.rollback().await.unwrap();
                    vault.register(&newcomer, at(1)).await
                })
            })
            .collect();
        let mut ids = Vec::new();
        for attempt in attempts {
            ids.push(attempt.await.unwrap().unwrap());
        }
        assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
        assert_eq!(
            f.vault
                .find_by_resident_id(&newcomer.resident_id)
                .await
                .unwrap(),
            Some(ids[0])
        );
        assert_eq!(
            f.vault.masked(ids[0]).await.unwrap().name,
            format!("*{round}")
        );
    }
    let rows: i64 = bianmin_store::on_pool!(f.store(), pool => {
        sqlx::query_scalar("SELECT COUNT(*) FROM persons").fetch_one(pool).await.unwrap()
    });
    assert_eq!(rows, 3);
}

#[tokio::test]
async fn invalid_registrations_are_refused_without_echoing_the_input() {
    let f = Fixture::new().await;
    for name in ["", "   ", "张\n三"] {
        let error = f
            .vault
            .register(&person("11010519491231002", name, None), at(1))
            .await
            .unwrap_err();
        assert!(matches!(error, PeopleError::InvalidInput(_)), "{error}");
    }
    assert_eq!(
        f.vault
            .find_by_resident_id(&person("11010519491231002", "x", None).resident_id)
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn every_reveal_writes_exactly_one_audit_entry_and_masked_reads_none_nor_subjects() {
    let f = Fixture::new().await;
    let id = f
        .vault
        .register(
            &person("11010519491231002", "张三", Some("13912345678")),
            at(1),
        )
        .await
        .unwrap();
    f.vault.masked(id).await.unwrap();
    assert!(f.audit().await.is_empty(), "masked reads are not audited");
    // What goes to an agency under the person's own consent is recorded as that consent's
    // use and in the exchange log, not here.
    let for_agency = f.vault.subject_person(id).await.unwrap();
    assert_eq!(
        (for_agency.name.as_str(), for_agency.resident_id.as_str()),
        ("张三", "11010519491231002X")
    );
    assert!(
        f.audit().await.is_empty(),
        "subjects sent to agencies are not audited here"
    );

    f.vault
        .reveal(id, "principal:0190-officer", "loan.credit_review", at(5))
        .await
        .unwrap();
    let entries = f.audit().await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    let entry = &entries[0];
    assert_eq!(entry.action, audit_actions::REVEAL);
    assert_eq!(entry.actor, "principal:0190-officer");
    assert_eq!(entry.target, format!("person:{id}"));
    assert_eq!(entry.purpose.as_deref(), Some("loan.credit_review"));
    assert_eq!(
        entry.details,
        json!({ "fields": ["resident_id", "name", "phone"] })
    );
    assert_eq!(entry.occurred_at, at(5));

    f.vault.reveal(id, "op-2", "support", at(6)).await.unwrap();
    assert_eq!(f.audit_of(audit_actions::REVEAL).await.len(), 2);
    f.assert_audit_chain_intact().await;
}

#[tokio::test]
async fn refused_reveals_disclose_nothing_and_write_no_audit_entry() {
    let f = Fixture::new().await;
    let id = f
        .vault
        .register(&person("11010519491231002", "张三", None), at(1))
        .await
        .unwrap();
    for (actor, purpose) in [("", "support"), ("op", " "), ("op", "a\nb")] {
        assert!(matches!(
            f.vault.reveal(id, actor, purpose, at(2)).await,
            Err(PeopleError::InvalidInput(_))
        ));
    }
    assert!(matches!(
        f.vault.reveal(Uuid::now_v7(), "op", "support", at(2)).await,
        Err(PeopleError::NotFound)
    ));
    assert!(matches!(
        f.vault.masked(Uuid::now_v7()).await,
        Err(PeopleError::NotFound)
    ));
    assert!(f.audit().await.is_empty());
}

#[tokio::test]
async fn erased_person_no_longer_decrypts_anywhere_and_others_are_untouched() {
    let f = Fixture::new().await;
    let zhang = person("11010519491231002", "张三", Some("13912345678"));
    let li = person("44030520000101123", "李四", Some("13800002222"));
    let zhang_id = f.vault.register(&zhang, at(1)).await.unwrap();
    let li_id = f.vault.register(&li, at(1)).await.unwrap();

    // Another domain's personal fields, sealed under each person's key.
    let card_row = Uuid::now_v7();
    let card = FieldAad::new("bank_cards", "number_enc", card_row.as_bytes());
    let zhang_card = f
        .vault
        .seal_for(zhang_id, &card, b"6222020200112233445")
        .await
        .unwrap();
    let li_card = f
        .vault
        .seal_for(li_id, &card, b"6222020200998877665")
        .await
        .unwrap();
    assert_eq!(
        f.vault
            .open_for(zhang_id, &card, &zhang_card)
            .await
            .unwrap(),
        b"6222020200112233445"
    );

    f.vault
        .erase(
            zhang_id,
            "principal:dpo",
            "erasure-request-2026-031",
            at(10),
        )
        .await
        .unwrap();

    assert!(matches!(
        f.vault.masked(zhang_id).await,
        Err(PeopleError::Erased)
    ));
    assert!(matches!(
        f.vault.reveal(zhang_id, "op", "support", at(11)).await,
        Err(PeopleError::Erased)
    ));
    assert!(matches!(
        f.vault.open_for(zhang_id, &card, &zhang_card).await,
        Err(PeopleError::Erased)
    ));
    assert!(matches!(
        f.vault.seal_for(zhang_id, &card, b"x").await,
        Err(PeopleError::Erased)
    ));
    assert_eq!(
        f.vault
            .find_by_resident_id(&zhang.resident_id)
            .await
            .unwrap(),
        None
    );

    // Li is untouched.
    assert_eq!(f.vault.masked(li_id).await.unwrap().name, "*四");
    assert_eq!(
        f.vault.find_by_resident_id(&li.resident_id).await.unwrap(),
        Some(li_id)
    );
    assert_eq!(
        f.vault.open_for(li_id, &card, &li_card).await.unwrap(),
        b"6222020200998877665"
    );

    // The key and the index are gone from the row; the ciphertext stays, unreadable.
    let (data_key, index, name_enc): (Option<Vec<u8>>, Option<Vec<u8>>, Vec<u8>) = bianmin_store::on_pool!(f.store(), pool => {
        sqlx::query_as(
            "SELECT data_key, resident_id_index, name_enc FROM persons WHERE id = $1",
        )
        .bind(zhang_id)
        .fetch_one(pool)
        .await
        .unwrap()
    });
    assert_eq!((data_key, index), (None, None));
    assert!(!name_enc.is_empty());

    // Audited once, with who and why; only reveals of Li would add entries now.
    let erasures = f.audit_of(audit_actions::ERASE).await;
    assert_eq!(erasures.len(), 1);
    assert_eq!(erasures[0].actor, "principal:dpo");
    assert_eq!(erasures[0].target, format!("person:{zhang_id}"));
    assert_eq!(
        erasures[0].purpose.as_deref(),
        Some("erasure-request-2026-031")
    );
    assert!(f.audit_of(audit_actions::REVEAL).await.is_empty());
    f.assert_audit_chain_intact().await;
}

#[tokio::test]
async fn erasing_twice_succeeds_without_a_second_audit_entry() {
    let f = Fixture::new().await;
    let id = f
        .vault
        .register(&person("11010519491231002", "张三", None), at(1))
        .await
        .unwrap();
    f.vault.erase(id, "dpo", "ticket-1", at(2)).await.unwrap();
    f.vault.erase(id, "dpo", "ticket-1", at(3)).await.unwrap();
    assert_eq!(f.audit_of(audit_actions::ERASE).await.len(), 1);
    assert!(matches!(
        f.vault
            .erase(Uuid::now_v7(), "dpo", "ticket-2", at(4))
            .await,
        Err(PeopleError::NotFound)
    ));
    f.assert_audit_chain_intact().await;
}

#[tokio::test]
async fn an_erased_resident_id_registers_as_a_new_person() {
    let f = Fixture::new().await;
    let zhang = person("11010519491231002", "张三", None);
    let old = f.vault.register(&zhang, at(1)).await.unwrap();
    f.vault.erase(old, "dpo", "ticket-1", at(2)).await.unwrap();

    let new = f
        .vault
        .register(&person("11010519491231002", "张三丰", None), at(3))
        .await
        .unwrap();
    assert_ne!(new, old);
    assert_eq!(f.vault.masked(new).await.unwrap().name, "**丰");
    assert!(matches!(
        f.vault.masked(old).await,
        Err(PeopleError::Erased)
    ));
    assert_eq!(
        f.vault
            .find_by_resident_id(&zhang.resident_id)
            .await
            .unwrap(),
        Some(new)
    );
}

#[tokio::test]
async fn fields_of_other_tables_open_only_for_their_person_and_place() {
    let f = Fixture::new().await;
    let zhang_id = f
        .vault
        .register(&person("11010519491231002", "张三", None), at(1))
        .await
        .unwrap();
    let li_id = f
        .vault
        .register(&person("44030520000101123", "李四", None), at(1))
        .await
        .unwrap();
    let row = Uuid::now_v7();
    let balance = FieldAad::new("hpf_accounts", "balance_enc", row.as_bytes());
    let sealed = f
        .vault
        .seal_for(zhang_id, &balance, b"1234567")
        .await
        .unwrap();

    let other_row = Uuid::now_v7();
    for (owner, place) in [
        (li_id, balance),
        (
            zhang_id,
            FieldAad::new("hpf_accounts", "balance_enc", other_row.as_bytes()),
        ),
        (
            zhang_id,
            FieldAad::new("hpf_accounts", "income_enc", row.as_bytes()),
        ),
    ] {
        match f.vault.open_for(owner, &place, &sealed).await {
            Err(PeopleError::Corrupt { field }) => {
                assert_eq!(field, format!("hpf_accounts.{}", place.column))
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(matches!(
        f.vault.open_for(Uuid::now_v7(), &balance, &sealed).await,
        Err(PeopleError::NotFound)
    ));

    // The vault's own table is off limits: a value sealed "for" persons could pose as a name.
    let forged = FieldAad::new("persons", "name_enc", zhang_id.as_bytes());
    assert!(matches!(
        f.vault.seal_for(zhang_id, &forged, "假名".as_bytes()).await,
        Err(PeopleError::InvalidInput(_))
    ));
}

#[tokio::test]
async fn rotation_rewraps_every_key_and_the_old_version_can_be_retired() {
    let f = Fixture::new().await;
    let mut ids = Vec::new();
    for (i, first17) in [
        "11010519491231002",
        "44030520000101123",
        "51010419880101234",
        "32010619750615001",
        "33010219920202020",
    ]
    .into_iter()
    .enumerate()
    {
        let name = format!("测试{i}");
        ids.push(
            f.vault
                .register(&person(first17, &name, None), at(1))
                .await
                .unwrap(),
        );
    }
    let row = Uuid::now_v7();
    let income = FieldAad::new("credit_profiles", "income_enc", row.as_bytes());
    let sealed_income = f.vault.seal_for(ids[0], &income, b"250000").await.unwrap();
    // Erased people have no key left to rewrap.
    f.vault
        .erase(ids[4], "dpo", "ticket-9", at(2))
        .await
        .unwrap();
    let v1_key_of_first: Vec<u8> = bianmin_store::on_pool!(f.store(), pool => {
        sqlx::query_scalar("SELECT data_key FROM persons WHERE id = $1")
            .bind(ids[0])
            .fetch_one(pool)
            .await
            .unwrap()
    });

    assert_eq!(f.keyring.rotate(at(3)), 2);
    let late = f
        .vault
        .register(&person("45010319851111222", "新人", None), at(4))
        .await
        .unwrap();

    let report = f.vault.rewrap_all(2, "cli:root", at(5)).await.unwrap();
    assert_eq!(report.kek_version, 2);
    assert_eq!(report.rewrapped, 4);
    assert_eq!(report.already_current, 1);
    assert!(report.failed.is_empty(), "{:?}", report.failed);

    let versions: Vec<Option<i64>> = bianmin_store::on_pool!(f.store(), pool => {
        sqlx::query_scalar("SELECT kek_version FROM persons ORDER BY id")
            .fetch_all(pool)
            .await
            .unwrap()
    });
    assert_eq!(versions.iter().filter(|v| **v == Some(2)).count(), 5);
    assert_eq!(versions.iter().filter(|v| v.is_none()).count(), 1);

    f.keyring.retire_below(2);
    for id in ids[..4].iter().chain([&late]) {
        f.vault.masked(*id).await.unwrap();
    }
    assert_eq!(
        f.vault
            .open_for(ids[0], &income, &sealed_income)
            .await
            .unwrap(),
        b"250000"
    );
    assert!(matches!(
        f.vault.masked(ids[4]).await,
        Err(PeopleError::Erased)
    ));

    // A second run finds nothing to do; each run is audited with its counts.
    let again = f.vault.rewrap_all(100, "cli:root", at(6)).await.unwrap();
    assert_eq!((again.rewrapped, again.already_current), (0, 5));
    assert_eq!(again.failed.len(), 0);
    let runs = f.audit_of(audit_actions::REWRAP).await;
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].actor, "cli:root");
    assert_eq!(runs[0].target, "persons");
    assert_eq!(runs[0].details["rewrapped"], json!(4));
    assert_eq!(runs[0].details["already_current"], json!(1));
    assert_eq!(runs[0].details["kek_version"], json!(2));
    // A copy of a key from before the rewrap (a backup) no longer opens anything.
    bianmin_store::on_pool!(f.store(), pool => {
        sqlx::query("UPDATE persons SET data_key = $1 WHERE id = $2")
            .bind(&v1_key_of_first)
            .bind(ids[0])
            .execute(pool)
            .await
            .unwrap();
    });
    assert!(matches!(
        f.vault.masked(ids[0]).await,
        Err(PeopleError::Crypto(CryptoError::KeyVersionRetired {
            version: 1
        }))
    ));

    f.assert_audit_chain_intact().await;
}

#[tokio::test]
async fn keys_that_cannot_be_rewrapped_are_reported_not_fatal() {
    let f = Fixture::new().await;
    let good = f
        .vault
        .register(&person("11010519491231002", "张三", None), at(1))
        .await
        .unwrap();
    let bad = f
        .vault
        .register(&person("44030520000101123", "李四", None), at(1))
        .await
        .unwrap();
    // Li's row gets Zhang's wrapped key: bound to Zhang's id, it unwraps for nobody else.
    bianmin_store::on_pool!(f.store(), pool => {
        sqlx::query(
            "UPDATE persons SET data_key = (SELECT data_key FROM persons WHERE id = $1) \
             WHERE id = $2",
        )
        .bind(good)
        .bind(bad)
        .execute(pool)
        .await
        .unwrap();
    });
    f.keyring.rotate(at(2));
    let report = f.vault.rewrap_all(10, "cli:root", at(3)).await.unwrap();
    assert_eq!(report.rewrapped, 1);
    assert_eq!(report.failed, vec![(bad, CryptoError::DecryptionFailed)]);
    let run = f.audit_of(audit_actions::REWRAP).await.remove(0);
    assert_eq!(run.details["failed"], json!(1));
    assert_eq!(run.details["failed_persons"], json!([bad]));
    assert!(matches!(
        f.vault.rewrap_all(0, "cli:root", at(4)).await,
        Err(PeopleError::InvalidInput(_))
    ));
}
