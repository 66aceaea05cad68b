//! What an attacker with the database but not the keys sees: the raw SQLite file and WAL, or
//! every PostgreSQL row, hold no personal value; and a ciphertext moved to another person's
//! row is refused rather than read as theirs.

mod common;

use bianmin_people::{PeopleError, audit_actions};
use bianmin_store::Backend;
use common::{Fixture, at, person};
use uuid::Uuid;

/// People with values distinctive enough that finding one of them anywhere is a leak.
const PEOPLE: [(&str, &str, &str); 4] = [
    ("11010519491231002", "欧阳锦绣", "13912345678"),
    ("44030520000101123", "司马相如", "18698765432"),
    ("51010419880101234", "Aurelia Quimby", "15011112222"),
    ("32010619750615001", "阿依古丽·买买提", "17733334444"),
];

#[tokio::test]
async fn no_personal_value_is_stored_in_clear_anywhere() {
    let f = Fixture::new().await;
    let mut ids = Vec::new();
    let mut needles: Vec<(String, Vec<u8>)> = Vec::new();
    for (first17, name, phone) in PEOPLE {
        let new = person(first17, name, Some(phone));
        ids.push(f.vault.register(&new, at(1)).await.unwrap());
        needles.push((
            format!("resident id of {name}"),
            new.resident_id.as_str().into(),
        ));
        needles.push((format!("name {name}"), name.into()));
        needles.push((format!("phone of {name}"), phone.into()));
    }
    // Exercise every path that writes: an update, reveals, an erasure, a rewrap.
    let (first17, name, _) = PEOPLE[0];
    f.vault
        .register(&person(first17, name, Some("13600006666")), at(2))
        .await
        .unwrap();
    needles.push(("updated phone".into(), "13600006666".into()));
    for id in &ids {
        f.vault
            .reveal(*id, "principal:officer", "loan.kyc", at(3))
            .await
            .unwrap();
    }
    f.vault
        .erase(ids[1], "principal:dpo", "ticket-7", at(4))
        .await
        .unwrap();
    f.keyring.rotate(at(5));
    f.vault.rewrap_all(2, "cli:root", at(6)).await.unwrap();
    assert_eq!(f.audit_of(audit_actions::REVEAL).await.len(), PEOPLE.len());

    match f.store().backend() {
        Backend::Sqlite => {
            let canary = "明文金丝雀-canary-7f3a";
            // Positive control: a value stored in clear (in a column meant for masked text)
            // is found by the same search, so the search below cannot pass by looking in the
            // wrong place.
            bianmin_store::on_pool!(f.store(), pool => {
                sqlx::query(
                    "INSERT INTO principals (id, persona, role, display_name, created_at, updated_at) \
                     VALUES ($1, 'canary', 'citizen', $2, $3, $3)",
                )
                .bind(Uuid::now_v7())
                .bind(canary)
                .bind(at(7))
                .execute(pool)
                .await
                .unwrap();
            });
            let path = f.db.url.strip_prefix("sqlite:").unwrap();
            let mut bytes = std::fs::read(path).unwrap();
            bytes.extend(std::fs::read(format!("{path}-wal")).unwrap_or_default());
            assert!(
                contains(&bytes, canary.as_bytes()),
                "positive control not found"
            );
            assert!(
                contains(&bytes, ids[0].as_bytes()),
                "person rows not in the files"
            );
            for (what, needle) in &needles {
                assert!(
                    !contains(&bytes, needle),
                    "{what} found in the SQLite file or WAL"
                );
            }
        }
        Backend::Postgres => {
            let persons: Vec<String> = bianmin_store::on_pool!(f.store(), pool => {
                sqlx::query_scalar("SELECT row_to_json(p)::text FROM persons p")
                    .fetch_all(pool)
                    .await
                    .unwrap()
            });
            let audit: Vec<String> = bianmin_store::on_pool!(f.store(), pool => {
                sqlx::query_scalar("SELECT row_to_json(a)::text FROM audit_log a")
                    .fetch_all(pool)
                    .await
                    .unwrap()
            });
            assert_eq!(persons.len(), PEOPLE.len());
            let dump = format!("{}\n{}", persons.join("\n"), audit.join("\n"));
            // Positive controls: the rows are in the dump, and the reveals are.
            assert!(dump.contains(&ids[0].to_string()));
            assert!(dump.contains(audit_actions::REVEAL));
            for (what, needle) in &needles {
                // BYTEA renders as hex in JSON, so look for the hex spelling too.
                let text = std::str::from_utf8(needle).unwrap();
                assert!(!dump.contains(text), "{what} found in PostgreSQL rows");
                assert!(!dump.contains(&hex::encode(needle)), "{what} found as hex");
            }
        }
    }
    f.assert_audit_chain_intact().await;
}

#[tokio::test]
async fn a_ciphertext_copied_to_another_persons_row_is_refused() {
    let f = Fixture::new().await;
    let zhang = f
        .vault
        .register(
            &person("11010519491231002", "张三", Some("13912345678")),
            at(1),
        )
        .await
        .unwrap();
    let li = f
        .vault
        .register(
            &person("44030520000101123", "李四", Some("13800002222")),
            at(1),
        )
        .await
        .unwrap();

    // Zhang's name copied into Li's row, as someone with write access to the table might.
    bianmin_store::on_pool!(f.store(), pool => {
        sqlx::query(
            "UPDATE persons SET name_enc = (SELECT name_enc FROM persons WHERE id = $1) \
             WHERE id = $2",
        )
        .bind(zhang)
        .bind(li)
        .execute(pool)
        .await
        .unwrap();
    });
    let error = f.vault.masked(li).await.unwrap_err();
    assert!(
        matches!(&error, PeopleError::Corrupt { field } if field == "persons.name_enc"),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "stored field persons.name_enc does not decrypt: it was altered or does not belong to this row"
    );
    assert!(matches!(
        f.vault.reveal(li, "op", "support", at(2)).await,
        Err(PeopleError::Corrupt { .. })
    ));
    assert!(
        f.audit().await.is_empty(),
        "a refused reveal is not audited"
    );

    // Within one row, a field moved to another column is refused as well.
    bianmin_store::on_pool!(f.store(), pool => {
        sqlx::query("UPDATE persons SET name_enc = phone_enc WHERE id = $1")
            .bind(zhang)
            .execute(pool)
            .await
            .unwrap();
    });
    assert!(matches!(
        f.vault.masked(zhang).await,
        Err(PeopleError::Corrupt { field }) if field == "persons.name_enc"
    ));
}

#[tokio::test]
async fn a_wrapped_key_copied_to_another_persons_row_is_refused() {
    let f = Fixture::new().await;
    let zhang = f
        .vault
        .register(&person("11010519491231002", "张三", None), at(1))
        .await
        .unwrap();
    let li = f
        .vault
        .register(&person("44030520000101123", "李四", None), at(1))
        .await
        .unwrap();
    // With Zhang's key *and* Zhang's ciphertexts, Li's row still does not open as Zhang:
    // the key is bound to Zhang's id, the fields to Zhang's row.
    bianmin_store::on_pool!(f.store(), pool => {
        sqlx::query(
            "UPDATE persons SET (data_key, resident_id_enc, name_enc) = \
             (SELECT data_key, resident_id_enc, name_enc FROM persons WHERE id = $1) \
             WHERE id = $2",
        )
        .bind(zhang)
        .bind(li)
        .execute(pool)
        .await
        .unwrap();
    });
    assert!(matches!(
        f.vault.masked(li).await,
        Err(PeopleError::Corrupt { field }) if field == "persons.data_key"
    ));
    assert_eq!(f.vault.masked(zhang).await.unwrap().name, "*三");
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}
