//! Repository tests that run unchanged on SQLite and on PostgreSQL
//! (`BIANMIN_TEST_DATABASE_URL=postgres://…` selects the latter).

use bianmin_store::testing::TestDb;
use bianmin_store::{NewEvent, Store, StoreError, StoreOptions, on_pool, on_tx};
use chrono::{TimeZone, Utc};
use serde_json::json;

fn event(kind: &str, n: i64) -> NewEvent {
    NewEvent::new(
        kind,
        "test",
        n.to_string(),
        json!({ "n": n, "district": "510104" }),
        Utc.with_ymd_and_hms(2026, 11, 29, 8, 0, 0).unwrap(),
    )
}

#[tokio::test]
async fn migrations_are_idempotent_and_reported() {
    let db = TestDb::new().await;
    db.store.migrate().await.unwrap();
    let status = db.store.migration_status().await.unwrap();
    assert!(!status.is_empty());
    assert!(status.iter().all(|(_, _, applied)| *applied), "{status:?}");
    db.store.ping().await.unwrap();
}

#[tokio::test]
async fn committed_events_are_visible_in_order_with_their_payload() {
    let db = TestDb::new().await;
    let mut tx = db.store.begin().await.unwrap();
    let first = tx.append_event(&event("a.happened", 1)).await.unwrap();
    let second = tx.append_event(&event("b.happened", 2)).await.unwrap();
    assert!(second > first);
    tx.commit().await.unwrap();

    let events = db.store.events_after(0, 10).await.unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].kind, "a.happened");
    assert_eq!(events[1].payload.0, json!({ "n": 2, "district": "510104" }));
    assert_eq!(
        events[0].occurred_at,
        Utc.with_ymd_and_hms(2026, 11, 29, 8, 0, 0).unwrap()
    );
    assert_eq!(db.store.events_after(first, 10).await.unwrap().len(), 1);
    assert!(db.store.events_after(second, 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_batch_of_events_is_appended_in_order_with_multi_row_inserts() {
    let db = TestDb::new().await;
    let batch: Vec<NewEvent> = (0..250).map(|n| event("batch.item", n)).collect();
    let mut tx = db.store.begin().await.unwrap();
    tx.append_events(&batch).await.unwrap();
    tx.append_events(&[]).await.unwrap();
    tx.commit().await.unwrap();
    let events = db.store.events_after(0, 1_000).await.unwrap();
    assert_eq!(events.len(), 250);
    for (n, stored) in events.iter().enumerate() {
        assert_eq!(stored.event_id, batch[n].event_id);
        assert_eq!(stored.payload.0["n"], n);
    }
}

#[tokio::test]
async fn a_rolled_back_change_leaves_no_event_behind() {
    let db = TestDb::new().await;
    let mut tx = db.store.begin().await.unwrap();
    tx.append_event(&event("x", 1)).await.unwrap();
    tx.rollback().await.unwrap();

    // Dropping an uncommitted transaction rolls back too.
    {
        let mut tx = db.store.begin().await.unwrap();
        tx.append_event(&event("y", 2)).await.unwrap();
    }
    assert!(db.store.events_after(0, 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn the_change_and_its_event_commit_together() {
    let db = TestDb::new().await;
    let now = Utc::now();
    let mut tx = db.store.begin().await.unwrap();
    let id = uuid::Uuid::now_v7();
    on_tx!(&mut tx, conn => {
        sqlx::query(
            "INSERT INTO principals (id, persona, role, display_name, created_at, updated_at) \
             VALUES ($1, $2, 'citizen', '*伟', $3, $3)",
        )
        .bind(id)
        .bind("p-1")
        .bind(now)
        .execute(conn)
        .await
        .unwrap();
    });
    tx.append_event(&event("principal.created", 1))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let count: i64 = on_pool!(db.store, pool => {
        sqlx::query_scalar("SELECT COUNT(*) FROM principals WHERE id = $1")
            .bind(id)
            .fetch_one(pool)
            .await
            .unwrap()
    });
    assert_eq!(count, 1);
    assert_eq!(db.store.events_after(0, 10).await.unwrap().len(), 1);
}

#[tokio::test]
async fn duplicate_keys_are_reported_as_unique_violations() {
    let db = TestDb::new().await;
    let e = event("dup", 1);
    let mut tx = db.store.begin().await.unwrap();
    tx.append_event(&e).await.unwrap();
    let err = tx.append_event(&e).await.unwrap_err();
    assert!(err.is_unique_violation(), "{err}");
}

#[tokio::test]
async fn unknown_url_schemes_are_refused_without_leaking_passwords() {
    let err = Store::connect("mysql://bank:s3cret@db/x", &StoreOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::UnsupportedUrl(_)));
    assert!(!err.to_string().contains("s3cret"), "{err}");
    let err = Store::connect("sqlite::memory:", &StoreOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::UnsupportedUrl(_)));
}

#[tokio::test]
async fn sqlite_creates_its_data_directory_and_uses_wal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/data/bianmin.db");
    let store = Store::connect(
        &format!("sqlite:{}", path.display()),
        &StoreOptions::default(),
    )
    .await
    .unwrap();
    store.migrate().await.unwrap();
    let mode: String = on_pool!(store, pool => {
        sqlx::query_scalar("PRAGMA journal_mode").fetch_one(pool).await.unwrap()
    });
    assert_eq!(mode, "wal");
    assert!(path.exists());
}
