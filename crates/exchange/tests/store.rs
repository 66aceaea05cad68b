//! The message log and the nonce store in the database, on SQLite or on PostgreSQL when
//! `BIANMIN_TEST_DATABASE_URL` is set.

mod common;

use std::sync::Arc;

use bianmin_exchange::{
    LogRecord, LogSide, MessageLog, NonceStore, StoreMessageLog, StoreNonceStore,
};
use bianmin_store::testing::TestDb;
use bianmin_store::{Backend, on_pool};
use chrono::TimeDelta;
use common::*;
use serde_json::json;
use uuid::Uuid;

/// Every row of `exchange_log`, each as one line of text, whatever the column types.
async fn dump_log(db: &TestDb) -> Vec<String> {
    let query = match db.store.backend() {
        Backend::Postgres => "SELECT row_to_json(e)::text FROM exchange_log e ORDER BY seq",
        Backend::Sqlite => {
            "SELECT json_object('seq', seq, 'message_id', hex(message_id), 'side', side, \
             'logged_by', logged_by, 'client', client, 'service', service, \
             'consent_id', hex(consent_id), 'request_sm3', request_sm3, \
             'response_sm3', response_sm3, 'started_at', started_at, \
             'duration_ms', duration_ms, 'status', status, 'outcome', outcome, \
             'signature', hex(signature), 'seal_id', hex(seal_id), 'seal_index', seal_index) \
             FROM exchange_log ORDER BY seq"
        }
    };
    on_pool!(db.store, pool => {
        sqlx::query_scalar::<_, String>(query).fetch_all(pool).await.unwrap()
    })
}

#[tokio::test]
async fn both_sides_log_signed_records_without_personal_data() {
    let db = TestDb::new().await;
    let clock = bianmin_core::TestClock::at(t0());
    let (store, provider_clock) = (db.store.clone(), clock.clone());
    let world = World::start_logging(Some(Box::new(move |hpf| {
        Arc::new(StoreMessageLog::new(
            store,
            Arc::clone(hpf),
            Arc::new(provider_clock),
        ))
    })))
    .await;
    let bank_log = Arc::new(StoreMessageLog::new(
        db.store.clone(),
        Arc::clone(&world.bank),
        Arc::new(clock.clone()),
    ));
    let client = world.client_with(
        fast_config(),
        bank_log.clone(),
        Arc::new(world.clock.clone()),
    );

    let consent = world.consent(&subject());
    let answer = client
        .call(
            &world.services.account,
            Some(&consent),
            Some(&subject()),
            json!({"fields": ["balance"]}),
        )
        .await
        .unwrap();
    assert_eq!(answer["holder_name"], HOLDER_NAME);
    // And one refusal: a consent of someone else, sent by hand.
    let theirs = world.consent(&other_subject());
    let (refused, response) = world
        .send(
            &world.bank,
            &world.services.account,
            Some(&theirs),
            &account_body(&subject()),
            true,
        )
        .await;
    assert_eq!(response.status, 403);

    // One record per side for the exchange, signed by that side, agreeing on the digests.
    let first = bank_log.records_for(
        world
            .handler
            .last
            .lock()
            .unwrap()
            .as_ref()
            .unwrap()
            .message_id,
    );
    let records = first.await.unwrap();
    assert_eq!(records.len(), 2, "{records:?}");
    let side = |which| records.iter().find(|r| r.record.side == which).unwrap();
    let (client_side, provider_side) = (side(LogSide::Client), side(LogSide::Provider));
    client_side
        .verify(&world.bank.sign.verifying_key())
        .unwrap();
    provider_side
        .verify(&world.hpf.sign.verifying_key())
        .unwrap();
    assert!(
        provider_side
            .verify(&world.bank.sign.verifying_key())
            .is_err()
    );
    assert_eq!(
        client_side.record.request_sm3,
        provider_side.record.request_sm3
    );
    assert_eq!(
        client_side.record.response_sm3,
        provider_side.record.response_sm3
    );
    for side in [client_side, provider_side] {
        assert_eq!(side.record.consent_id, Some(consent.artefact.consent_id));
        assert_eq!(side.record.status, Some(200));
        assert_eq!(side.record.outcome, "ok");
        assert_eq!(side.record.service, world.services.account.to_string());
        assert_eq!(side.record.client, world.bank.id.to_string());
    }

    let refusal = bank_log.records_for(refused.message_id).await.unwrap();
    assert_eq!(refusal.len(), 1);
    assert_eq!(refusal[0].record.outcome, "exchange.consent_invalid");
    assert_eq!(refusal[0].record.status, Some(403));
    refusal[0].verify(&world.hpf.sign.verifying_key()).unwrap();

    // Nothing personal anywhere in the table: not the number, its masked form's digits, nor
    // the name in any encoding.
    let rows = dump_log(&db).await;
    // The session handshake (§5a) and the call, each logged by both sides, and the refusal.
    assert_eq!(rows.len(), 5);
    let id = subject();
    let forbidden = [
        id.as_str().to_string(),
        id.as_str()[6..14].to_string(),
        HOLDER_NAME.to_string(),
        hex::encode(HOLDER_NAME.as_bytes()),
        serde_json::to_string(HOLDER_NAME).unwrap(),
        "\\u738b".to_string(),
        "balance_fen".to_string(),
    ];
    for row in &rows {
        let lower = row.to_lowercase();
        for needle in &forbidden {
            assert!(!lower.contains(&needle.to_lowercase()), "{needle} in {row}");
        }
    }
}

#[tokio::test]
async fn old_records_are_purged_after_the_retention_period() {
    let db = TestDb::new().await;
    let clock = bianmin_core::TestClock::at(t0());
    let keys = Arc::new(bianmin_exchange::MemberKeys::generate(client_id(
        "CN-CD/COM/bank/bianmin",
    )));
    let log = StoreMessageLog::new(db.store.clone(), keys, Arc::new(clock.clone()));
    let record = |days_ago: i64| LogRecord {
        message_id: Uuid::now_v7(),
        side: LogSide::Client,
        client: "CN-CD/COM/bank/bianmin".into(),
        service: "CN-CD/GOV/hpf-center/accounts/hpf.rates/v1".into(),
        consent_id: None,
        request_sm3: "00".repeat(32),
        response_sm3: None,
        started_at: t0() - TimeDelta::days(days_ago) + TimeDelta::microseconds(123_457),
        duration_ms: 5,
        status: None,
        outcome: "exchange.timeout".into(),
    };
    let kept = record(10);
    for r in [record(400), record(181), kept.clone()] {
        log.record(&r).await.unwrap();
    }
    assert_eq!(log.purge_older_than(180).await.unwrap(), 2);
    assert_eq!(dump_log(&db).await.len(), 1);
    let stored = log.records_for(kept.message_id).await.unwrap();
    assert_eq!(stored[0].record, kept);
}

#[tokio::test]
async fn the_database_nonce_store_refuses_a_replay_within_the_window() {
    let db = TestDb::new().await;
    let nonces = StoreNonceStore::new(db.store.clone());
    let bank = client_id("CN-CD/COM/bank/bianmin");
    let other = client_id("CN-CD/COM/insurer/claims");
    let nonce = "00112233445566778899AABBCCDDEEFF";
    assert!(nonces.first_use(&bank, nonce, t0()).await.unwrap());
    assert!(
        !nonces
            .first_use(&bank, &nonce.to_lowercase(), t0() + TimeDelta::seconds(599))
            .await
            .unwrap()
    );
    assert!(nonces.first_use(&other, nonce, t0()).await.unwrap());
    assert!(
        nonces
            .first_use(&bank, nonce, t0() + TimeDelta::seconds(600))
            .await
            .unwrap()
    );
}

/// The bank's keys and its log in `db`, on a test clock.
fn bank_log(db: &TestDb) -> (Arc<bianmin_exchange::MemberKeys>, StoreMessageLog) {
    let keys = Arc::new(bianmin_exchange::MemberKeys::generate(client_id(
        "CN-CD/COM/bank/bianmin",
    )));
    let log = StoreMessageLog::new(
        db.store.clone(),
        Arc::clone(&keys),
        Arc::new(bianmin_core::TestClock::at(t0())),
    );
    (keys, log)
}

fn timeout_record(message_id: Uuid) -> LogRecord {
    LogRecord {
        message_id,
        side: LogSide::Client,
        client: "CN-CD/COM/bank/bianmin".into(),
        service: "CN-CD/GOV/hpf-center/accounts/hpf.rates/v1".into(),
        consent_id: None,
        request_sm3: "00".repeat(32),
        response_sm3: None,
        started_at: t0(),
        duration_ms: 5,
        status: None,
        outcome: "exchange.timeout".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_records_are_each_written_once_before_they_return() {
    let db = TestDb::new().await;
    let (keys, log) = bank_log(&db);
    let ids: Vec<Uuid> = (0..300).map(|_| Uuid::now_v7()).collect();
    let mut writers = tokio::task::JoinSet::new();
    for id in &ids {
        let (log, id) = (log.clone(), *id);
        writers.spawn(async move {
            log.record(&timeout_record(id)).await.unwrap();
            // Returned: the record is committed and readable by anyone.
            assert_eq!(log.records_for(id).await.unwrap().len(), 1);
            id
        });
    }
    let mut written = Vec::new();
    while let Some(id) = writers.join_next().await {
        written.push(id.unwrap());
    }
    assert_eq!(written.len(), ids.len());
    assert_eq!(dump_log(&db).await.len(), ids.len());
    for id in ids.iter().step_by(37) {
        let stored = log.records_for(*id).await.unwrap();
        stored[0].verify(&keys.sign.verifying_key()).unwrap();
    }
    // Records that waited together share a seal: fewer signatures than records.
    let seals: i64 = on_pool!(db.store, pool => {
        sqlx::query_scalar("SELECT COUNT(*) FROM exchange_log_seals")
            .fetch_one(pool)
            .await
            .unwrap()
    });
    assert!((2..300).contains(&seals), "{seals} seals");

    // A record edited in the database no longer verifies against its seal.
    let edited = ids[150];
    on_pool!(db.store, pool => {
        sqlx::query("UPDATE exchange_log SET outcome = 'ok' WHERE message_id = $1")
            .bind(edited)
            .execute(pool)
            .await
            .unwrap();
    });
    let stored = log.records_for(edited).await.unwrap();
    assert_eq!(stored[0].record.outcome, "ok");
    assert!(stored[0].verify(&keys.sign.verifying_key()).is_err());
}

#[tokio::test]
async fn a_record_the_database_refuses_is_reported_unwritten() {
    let db = TestDb::new().await;
    let (_, log) = bank_log(&db);
    log.record(&timeout_record(Uuid::now_v7())).await.unwrap();
    on_pool!(db.store, pool => {
        sqlx::query("DROP TABLE exchange_log").execute(pool).await.unwrap();
    });
    let refused = log.record(&timeout_record(Uuid::now_v7())).await;
    assert!(
        matches!(refused, Err(bianmin_exchange::ExchangeError::Store(_))),
        "{refused:?}"
    );
}

#[tokio::test]
async fn verifying_the_whole_log_finds_edited_and_deleted_records() {
    let db = TestDb::new().await;
    let (keys, log) = bank_log(&db);
    let ids: Vec<Uuid> = (0..40).map(|_| Uuid::now_v7()).collect();
    let mut writers = tokio::task::JoinSet::new();
    for id in &ids {
        let (log, id) = (log.clone(), *id);
        writers.spawn(async move { log.record(&timeout_record(id)).await.unwrap() });
    }
    while let Some(written) = writers.join_next().await {
        written.unwrap();
    }
    let key = keys.sign.verifying_key();
    let clean = log.verify_all(&key, None).await.unwrap();
    assert!(clean.intact(), "{clean:?}");
    assert_eq!(clean.records_checked, 40);
    assert!(clean.seals_checked >= 1);

    // Another subsystem's key verifies nothing.
    let stranger = bianmin_exchange::MemberKeys::generate(client_id("CN-CD/COM/insurer/claims"));
    let foreign = log
        .verify_all(&stranger.sign.verifying_key(), None)
        .await
        .unwrap();
    assert_eq!(foreign.bad_records, 40);

    // One record edited, another deleted (to hide an exchange).
    on_pool!(db.store, pool => {
        sqlx::query("UPDATE exchange_log SET duration_ms = 1 WHERE message_id = $1")
            .bind(ids[3])
            .execute(pool)
            .await
            .unwrap();
        sqlx::query("DELETE FROM exchange_log WHERE message_id = $1")
            .bind(ids[17])
            .execute(pool)
            .await
            .unwrap();
    });
    let report = log.verify_all(&key, None).await.unwrap();
    assert!(!report.intact());
    assert_eq!(report.records_checked, 39);
    assert_eq!(report.bad_records, 1);
    assert_eq!(report.bad_records_listed[0].1, ids[3]);
    assert_eq!(report.incomplete_seals, 1);
    let (_, listed, present) = report.incomplete_seals_listed[0];
    assert_eq!(listed, present + 1);

    // Seals older than the retention period may have lost records to the purge.
    let after_purge = log
        .verify_all(&key, Some(t0() + TimeDelta::days(1)))
        .await
        .unwrap();
    assert_eq!(
        (after_purge.bad_records, after_purge.incomplete_seals),
        (1, 0)
    );
}
