//! The audit chain, on SQLite and on PostgreSQL (`BIANMIN_TEST_DATABASE_URL=postgres://…`):
//! a clean chain verifies, and each way of tampering with the raw table is reported at the
//! first entry it breaks.

use std::sync::Arc;

use bianmin_crypto::AuditKey;
use bianmin_store::testing::TestDb;
use bianmin_store::{AuditEntry, AuditReport, Store, StoredAuditEntry, on_pool};
use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{Value, json};
use sqlx::types::Json;

/// Entries in the chains the tampering tests start from.
const N: i64 = 10;

fn key() -> AuditKey {
    AuditKey::new(&[0x5a; 32])
}

fn at(n: i64) -> DateTime<Utc> {
    // Nanoseconds on purpose: the chain keeps microseconds, as PostgreSQL does.
    Utc.with_ymd_and_hms(2026, 11, 29, 8, 0, 0).unwrap()
        + Duration::seconds(n)
        + Duration::nanoseconds(123_456_789)
}

fn entry(n: i64) -> AuditEntry {
    AuditEntry {
        actor: format!("principal:0190a5b2-0000-7000-8000-{n:012}"),
        action: "person.reveal".into(),
        target: format!("person:0190a5b2-1111-7000-8000-{n:012}"),
        purpose: (n % 2 == 1).then(|| "loan.review".to_string()),
        details: json!({ "fields": ["phone", "address"], "n": n }),
        occurred_at: at(n),
    }
}

/// A fresh database with entries 1..=N appended and committed.
async fn chain_of_n() -> TestDb {
    let db = TestDb::new().await;
    for n in 1..=N {
        assert_eq!(db.store.append_audit(&key(), &entry(n)).await.unwrap(), n);
    }
    db
}

async fn verify(store: &Store) -> AuditReport {
    store.verify_audit(&key()).await.unwrap()
}

/// Asserts that verification stops at `seq` and that the reason mentions `reason`.
async fn assert_broken_at(store: &Store, seq: i64, reason: &str) {
    let report = verify(store).await;
    let broken = report
        .first_broken
        .unwrap_or_else(|| panic!("tampering at {seq} went unnoticed"));
    assert_eq!(broken.seq, seq, "{}", broken.reason);
    assert!(broken.reason.contains(reason), "{}", broken.reason);
    assert_eq!(report.entries_checked, (seq - 1) as u64);
}

async fn stored(store: &Store, seq: i64) -> StoredAuditEntry {
    store.audit_entries(seq - 1, 1).await.unwrap().remove(0)
}

async fn delete_row(store: &Store, seq: i64) {
    on_pool!(store, pool => {
        sqlx::query("DELETE FROM audit_log WHERE seq = $1")
            .bind(seq)
            .execute(pool)
            .await
            .unwrap();
    });
}

/// Writes every column of row `seq` with `row`'s values, as someone with database access would.
async fn write_row(store: &Store, seq: i64, row: &StoredAuditEntry) {
    on_pool!(store, pool => {
        sqlx::query(
            "INSERT INTO audit_log (seq, occurred_at, actor, action, target, purpose, details, tag) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (seq) DO UPDATE SET occurred_at = excluded.occurred_at, \
             actor = excluded.actor, action = excluded.action, target = excluded.target, \
             purpose = excluded.purpose, details = excluded.details, tag = excluded.tag",
        )
        .bind(seq)
        .bind(row.occurred_at)
        .bind(&row.actor)
        .bind(&row.action)
        .bind(&row.target)
        .bind(row.purpose.as_deref())
        .bind(Json(&row.details))
        .bind(&row.tag)
        .execute(pool)
        .await
        .unwrap();
    });
}

#[tokio::test]
async fn a_clean_chain_verifies_and_reads_back_as_written() {
    let db = chain_of_n().await;
    let report = verify(&db.store).await;
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.entries_checked, N as u64);

    let entries = db.store.audit_entries(0, 100).await.unwrap();
    assert_eq!(
        entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=N).collect::<Vec<_>>()
    );
    let third = &entries[2];
    let written = entry(3);
    assert_eq!(third.actor, written.actor);
    assert_eq!(third.action, written.action);
    assert_eq!(third.target, written.target);
    assert_eq!(third.purpose.as_deref(), Some("loan.review"));
    assert_eq!(entries[3].purpose, None);
    assert_eq!(third.details, written.details);
    assert_eq!(
        third.occurred_at,
        at(3) - Duration::nanoseconds(789),
        "kept to the microsecond"
    );
    assert_eq!(third.tag.len(), 32);
    assert_eq!(db.store.audit_entries(8, 100).await.unwrap().len(), 2);
}

#[tokio::test]
async fn an_empty_chain_verifies() {
    let db = TestDb::new().await;
    assert_eq!(
        verify(&db.store).await,
        AuditReport {
            entries_checked: 0,
            first_broken: None
        }
    );
}

#[tokio::test]
async fn a_chain_does_not_verify_under_another_key() {
    let db = chain_of_n().await;
    let report = db
        .store
        .verify_audit(&AuditKey::new(&[0xa5; 32]))
        .await
        .unwrap();
    assert_eq!(report.first_broken.map(|b| b.seq), Some(1));
}

#[tokio::test]
async fn an_edited_field_is_reported_at_its_row() {
    let db = chain_of_n().await;
    on_pool!(db.store, pool => {
        sqlx::query("UPDATE audit_log SET actor = 'cli:root' WHERE seq = 5")
            .execute(pool)
            .await
            .unwrap();
    });
    assert_broken_at(&db.store, 5, "tag mismatch").await;
}

#[tokio::test]
async fn every_hashed_column_is_protected() {
    let db = chain_of_n().await;
    let original = stored(&db.store, 4).await;
    let mut edits = Vec::new();
    let mut edit = original.clone();
    edit.occurred_at += Duration::microseconds(1);
    edits.push(("occurred_at", edit));
    let mut edit = original.clone();
    edit.action = "person.list".into();
    edits.push(("action", edit));
    let mut edit = original.clone();
    edit.target = "person:someone-else".into();
    edits.push(("target", edit));
    let mut edit = original.clone();
    edit.purpose = Some("loan.review".into());
    edits.push(("purpose (set where there was none)", edit));
    let mut edit = original.clone();
    edit.tag[0] ^= 1;
    edits.push(("tag", edit));
    for (column, edited) in edits {
        write_row(&db.store, 4, &edited).await;
        let report = verify(&db.store).await;
        assert_eq!(
            report.first_broken.map(|b| b.seq),
            Some(4),
            "edit of {column} not reported at 4"
        );
        write_row(&db.store, 4, &original).await;
        assert!(verify(&db.store).await.is_intact(), "restoring {column}");
    }
}

#[tokio::test]
async fn edited_details_are_reported_at_their_row() {
    let db = chain_of_n().await;
    on_pool!(db.store, pool => {
        sqlx::query(
            "UPDATE audit_log SET details = '{\"fields\": [\"phone\"], \"n\": 6}' WHERE seq = 6",
        )
        .execute(pool)
        .await
        .unwrap();
    });
    assert_broken_at(&db.store, 6, "tag mismatch").await;
}

#[tokio::test]
async fn details_rewritten_with_the_same_value_are_not_an_edit() {
    // What a dump and restore, or PostgreSQL's JSONB, may do: another key order and spacing.
    let db = chain_of_n().await;
    on_pool!(db.store, pool => {
        sqlx::query(
            "UPDATE audit_log SET details = '{ \"n\" : 6.0, \"fields\" : [\"phone\", \"address\"] }' \
             WHERE seq = 6",
        )
        .execute(pool)
        .await
        .unwrap();
    });
    let report = verify(&db.store).await;
    assert!(report.is_intact(), "{report:?}");
}

#[tokio::test]
async fn details_that_are_no_longer_json_are_reported_not_fatal() {
    let db = chain_of_n().await;
    // Only SQLite stores details as text that can be made invalid; PostgreSQL refuses it.
    if let bianmin_store::Pool::Sqlite(pool) = db.store.pool() {
        sqlx::query("UPDATE audit_log SET details = '{not json' WHERE seq = 7")
            .execute(pool)
            .await
            .unwrap();
        assert_broken_at(&db.store, 7, "cannot be decoded").await;
        assert!(db.store.audit_entries(6, 1).await.is_err());
    }
}

#[tokio::test]
async fn a_deleted_middle_row_is_reported_as_a_gap() {
    let db = chain_of_n().await;
    delete_row(&db.store, 5).await;
    assert_broken_at(&db.store, 5, "sequence gap: expected 5, found 6").await;
}

#[tokio::test]
async fn a_deleted_last_row_is_reported_by_the_head() {
    let db = chain_of_n().await;
    delete_row(&db.store, N).await;
    assert_broken_at(
        &db.store,
        N,
        &format!(
            "chain head says {N} entries, table ends at {} (tail deleted)",
            N - 1
        ),
    )
    .await;
}

#[tokio::test]
async fn a_forged_row_appended_at_the_end_is_reported() {
    let db = chain_of_n().await;
    // A copy of the last entry, tag included, under the next number.
    let last = stored(&db.store, N).await;
    write_row(&db.store, N + 1, &last).await;
    assert_broken_at(&db.store, N + 1, "beyond the chain head").await;

    // The forger also moves the head along: the tag still gives the row away.
    on_pool!(db.store, pool => {
        sqlx::query("UPDATE audit_head SET last_seq = $1, last_tag = $2 WHERE id = 1")
            .bind(N + 1)
            .bind(&last.tag)
            .execute(pool)
            .await
            .unwrap();
    });
    assert_broken_at(&db.store, N + 1, "tag mismatch").await;
}

#[tokio::test]
async fn a_forged_row_in_the_gap_of_a_deleted_one_is_reported() {
    let db = chain_of_n().await;
    // The deleted row's own tag over changed content: the gap is closed, the tag is not valid.
    let mut forged = stored(&db.store, 5).await;
    delete_row(&db.store, 5).await;
    forged.purpose = Some("marketing".into());
    write_row(&db.store, 5, &forged).await;
    assert_broken_at(&db.store, 5, "tag mismatch").await;

    // Nor does a neighbour's valid row, moved into the gap.
    let neighbour = stored(&db.store, 6).await;
    write_row(&db.store, 5, &neighbour).await;
    assert_broken_at(&db.store, 5, "tag mismatch").await;
}

#[tokio::test]
async fn swapped_rows_are_reported_at_the_earlier_one() {
    let db = chain_of_n().await;
    let third = stored(&db.store, 3).await;
    let seventh = stored(&db.store, 7).await;
    write_row(&db.store, 3, &seventh).await;
    write_row(&db.store, 7, &third).await;
    assert_broken_at(&db.store, 3, "tag mismatch (row edited or reordered)").await;
}

#[tokio::test]
async fn a_rewound_or_missing_head_is_reported() {
    let db = chain_of_n().await;
    on_pool!(db.store, pool => {
        sqlx::query("UPDATE audit_head SET last_tag = $1 WHERE id = 1")
            .bind(vec![0u8; 32])
            .execute(pool)
            .await
            .unwrap();
    });
    let report = verify(&db.store).await;
    // Every entry is intact; it is the head that disagrees with the last one.
    assert_eq!(report.entries_checked, N as u64);
    let broken = report.first_broken.unwrap();
    assert_eq!(broken.seq, N);
    assert!(broken.reason.contains("head edited"), "{}", broken.reason);
    on_pool!(db.store, pool => {
        sqlx::query("DELETE FROM audit_head").execute(pool).await.unwrap();
    });
    let report = verify(&db.store).await;
    assert_eq!(report.first_broken.map(|b| b.seq), Some(N + 1));
    assert!(db.store.append_audit(&key(), &entry(N + 1)).await.is_err());
}

#[tokio::test]
async fn concurrent_appends_form_one_unbroken_chain() {
    const TASKS: i64 = 8;
    const EACH: i64 = 25;
    let db = TestDb::new().await;
    let key = Arc::new(key());
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let (store, key) = (db.store.clone(), Arc::clone(&key));
        tasks.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for i in 0..EACH {
                let mut tx = store.begin().await.unwrap();
                seqs.push(tx.append_audit(&key, &entry(t * EACH + i)).await.unwrap());
                tx.commit().await.unwrap();
            }
            seqs
        }));
    }
    let mut seqs = Vec::new();
    for task in tasks {
        seqs.extend(task.await.unwrap());
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=TASKS * EACH).collect::<Vec<_>>());

    let report = db.store.verify_audit(&key).await.unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.entries_checked, (TASKS * EACH) as u64);
}

#[tokio::test]
async fn a_rolled_back_append_leaves_no_entry_and_no_gap() {
    let db = TestDb::new().await;
    db.store.append_audit(&key(), &entry(1)).await.unwrap();
    let mut tx = db.store.begin().await.unwrap();
    assert_eq!(tx.append_audit(&key(), &entry(2)).await.unwrap(), 2);
    tx.rollback().await.unwrap();
    {
        // Dropped without commit: rolled back as well.
        let mut tx = db.store.begin().await.unwrap();
        tx.append_audit(&key(), &entry(3)).await.unwrap();
    }
    assert_eq!(db.store.audit_entries(0, 10).await.unwrap().len(), 1);
    assert!(verify(&db.store).await.is_intact());

    assert_eq!(db.store.append_audit(&key(), &entry(4)).await.unwrap(), 2);
    let report = verify(&db.store).await;
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.entries_checked, 2);
}

#[tokio::test]
async fn nested_chinese_details_round_trip_and_verify() {
    let db = TestDb::new().await;
    let details = json!({
        "事项": "住房公积金提取",
        "区县": { "代码": "510107", "名称": "武侯区", "街道": ["浆洗街", "望江路"] },
        "fields": [{ "name": "phone", "masked": "138****0000" }, { "name": "address" }],
        "quote\"and\\slash": "line\nbreak\ttab",
        "emoji": "👍",
        "n": 3, "rate": 0.0325, "none": null, "yes": true
    });
    let mut written = entry(1);
    written.details = details.clone();
    written.purpose = Some("公积金.提取审核".into());
    db.store.append_audit(&key(), &written).await.unwrap();
    db.store.append_audit(&key(), &entry(2)).await.unwrap();

    let back = stored(&db.store, 1).await;
    assert_eq!(back.details, details);
    assert_eq!(back.purpose.as_deref(), Some("公积金.提取审核"));
    let report = verify(&db.store).await;
    assert!(report.is_intact(), "{report:?}");
}

#[tokio::test]
async fn numbers_a_backend_respells_still_verify() {
    // PostgreSQL prints 1e16 as 10000000000000000 (an integer to serde_json) and -0.0 as 0.0.
    let db = TestDb::new().await;
    let awkward: Vec<Value> = vec![
        json!(1e16),
        json!(1e-7),
        json!(-0.0),
        json!(100.0),
        json!(0.1 + 0.2),
        json!(f64::MAX),
        json!(f64::MIN_POSITIVE),
        json!(5e-324),
        json!(u64::MAX),
        json!(i64::MIN),
        json!(123_456_789.012_345_68),
    ];
    let mut written = entry(1);
    written.details = json!({ "numbers": awkward });
    db.store.append_audit(&key(), &written).await.unwrap();
    let report = verify(&db.store).await;
    assert!(report.is_intact(), "{report:?}");
}

#[tokio::test]
async fn verification_reads_in_batches_across_a_long_chain() {
    // Longer than one verification batch, so the walk continues across queries.
    let db = TestDb::new().await;
    let mut tx = db.store.begin().await.unwrap();
    for n in 1..=1_200 {
        tx.append_audit(&key(), &entry(n)).await.unwrap();
    }
    tx.commit().await.unwrap();
    assert_eq!(verify(&db.store).await.entries_checked, 1_200);
    delete_row(&db.store, 1_001).await;
    assert_broken_at(&db.store, 1_001, "sequence gap").await;
}
