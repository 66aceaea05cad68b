//! SIGTERM under load: the real `bianmin` binary stops accepting, finishes what it accepted, and
//! every write it acknowledged is in the database afterwards.

#![cfg(unix)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bianmin_store::testing::{TEST_DATABASE_URL_VAR, TestDb};
use bianmin_store::{Store, StoreOptions, on_pool};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_loses_no_acknowledged_write() {
    let data_dir = tempfile::tempdir().unwrap();
    // On PostgreSQL the binary uses a fresh schema; on SQLite its own file in the data dir.
    let postgres = std::env::var(TEST_DATABASE_URL_VAR).is_ok_and(|u| !u.trim().is_empty());
    let (database_url, _db) = if postgres {
        let db = TestDb::new().await;
        (db.url.clone(), Some(db))
    } else {
        (
            format!("sqlite:{}", data_dir.path().join("bianmin.db").display()),
            None,
        )
    };

    let mut child = Command::new(env!("CARGO_BIN_EXE_bianmin"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir.path())
        .env("BIANMIN_DATABASE_URL", &database_url)
        .env("BIANMIN_AUTH__DEV_LOGIN", "true")
        .env("BIANMIN_LOG__FORMAT", "json")
        // A load test: 16 clients signing in as fast as they can from one address.
        .env("BIANMIN_GUARD__ENABLED", "false")
        .env_remove("BIANMIN_CONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let stderr = child.stderr.take().unwrap();
    let (address_tx, address_rx) = std::sync::mpsc::channel();
    let log = std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("\"address\":\"").nth(1) {
                let _ = address_tx.send(rest.split('"').next().unwrap_or_default().to_string());
            }
            lines.push(line);
        }
        lines
    });
    let address = address_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the server logs its listening address");
    let base = format!("http://{address}");

    let client = reqwest::Client::new();
    let acknowledged = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for _ in 0..16 {
        let (client, base, acknowledged, stop) = (
            client.clone(),
            base.clone(),
            acknowledged.clone(),
            stop.clone(),
        );
        workers.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let sent = client
                    .post(format!("{base}/api/v1/auth/dev-login"))
                    .json(&json!({ "persona": "citizen-zhang" }))
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status() == 200 => {
                        acknowledged.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(r) => panic!("unexpected status {} before shutdown finished", r.status()),
                    // Refused or reset once the server stops accepting: never acknowledged.
                    Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    let before_signal = acknowledged.load(Ordering::SeqCst);
    assert!(before_signal > 0, "no write succeeded before the signal");
    let killed = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());

    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }
    let logs = log.join().unwrap();
    assert!(
        status.success(),
        "exit status {status}; logs:\n{}",
        logs.join("\n")
    );
    assert!(
        logs.iter().any(|l| l.contains("shutdown requested")),
        "{logs:?}"
    );

    let store = Store::connect(&database_url, &StoreOptions::default())
        .await
        .unwrap();
    let (sessions, events): (i64, i64) = on_pool!(store, pool => {
        let s = sqlx::query_scalar("SELECT COUNT(*) FROM sessions").fetch_one(pool).await.unwrap();
        let e = sqlx::query_scalar("SELECT COUNT(*) FROM outbox_events WHERE kind = 'auth.login'")
            .fetch_one(pool)
            .await
            .unwrap();
        (s, e)
    });
    let acknowledged = acknowledged.load(Ordering::SeqCst);
    // Every acknowledged sign-in is stored with its event, and nothing was stored that the
    // client was not told about (in-flight requests finished and answered).
    assert_eq!(sessions as u64, acknowledged, "sessions vs acknowledged");
    assert_eq!(events as u64, acknowledged, "events vs acknowledged");
}
