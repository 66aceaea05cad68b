//! The `bianmin` binary's operational commands, run as an operator would: key rotation, rewrap
//! and retirement, erasure, audit and exchange-log verification (and their failure on a tampered
//! row), config.

use std::process::{Command, Output};

use bianmin_exchange::MessageLog;
use bianmin_server::Config;
use bianmin_store::testing::{TEST_DATABASE_URL_VAR, TestDb};
use bianmin_store::{Store, on_pool};
use uuid::Uuid;

struct Cli {
    data_dir: tempfile::TempDir,
    database_url: String,
    _db: Option<TestDb>,
}

impl Cli {
    async fn new() -> Cli {
        let data_dir = tempfile::tempdir().unwrap();
        let postgres = std::env::var(TEST_DATABASE_URL_VAR).is_ok_and(|u| !u.trim().is_empty());
        let (database_url, db) = if postgres {
            let db = TestDb::new().await;
            (db.url.clone(), Some(db))
        } else {
            (
                format!("sqlite:{}", data_dir.path().join("bianmin.db").display()),
                None,
            )
        };
        Cli {
            data_dir,
            database_url,
            _db: db,
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_bianmin"))
            .args(args)
            .arg("--data-dir")
            .arg(self.data_dir.path())
            .env("BIANMIN_DATABASE_URL", &self.database_url)
            .env("BIANMIN_LOG", "warn")
            .env_remove("BIANMIN_CONFIG")
            .env_remove("BIANMIN_KEYRING")
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(!out.status.success(), "{args:?} should fail");
        String::from_utf8(out.stderr).unwrap()
    }

    /// Starts the application once in-process with demo personas, so the database holds people.
    async fn seed_people(&self) -> Store {
        let mut config = Config {
            data_dir: self.data_dir.path().to_path_buf(),
            database_url: Some(bianmin_server::config::Secret::new(
                self.database_url.clone(),
            )),
            ..Config::default()
        };
        config.auth.dev_login = true;
        let state = bianmin_server::build_default_state(config).await.unwrap();
        state.store().clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_rotate_rewrap_retire_erase_and_verify_from_the_cli() {
    let cli = Cli::new().await;
    let store = cli.seed_people().await;
    assert!(cli.data_dir.path().join("keys/keyring.toml").exists());

    let status = cli.ok(&["keys", "status"]);
    assert!(status.contains("current version: 1"), "{status}");

    let rotated = cli.ok(&["keys", "rotate"]);
    assert!(rotated.contains("version 2 is now current"), "{rotated}");
    let refused = cli.fails(&["keys", "retire", "--below", "2"]);
    assert!(refused.contains("keys rewrap"), "{refused}");

    // One data key per persona with a person record: 张伟, 李娜, 陈刚, 赵敏.
    let rewrapped = cli.ok(&["keys", "rewrap"]);
    assert!(
        rewrapped.contains("rewrapped 4 data keys to version 2"),
        "{rewrapped}"
    );
    cli.ok(&["keys", "retire", "--below", "2"]);
    let status = cli.ok(&["keys", "status"]);
    assert!(status.contains("minimum decryption version: 2"), "{status}");

    let person: Uuid = on_pool!(store, pool => {
        sqlx::query_scalar("SELECT person_id FROM principals WHERE persona = 'citizen-li'")
            .fetch_one(pool)
            .await
            .unwrap()
    });
    let erased = cli.ok(&[
        "person",
        "erase",
        &person.to_string(),
        "--reason",
        "PIPL-47 T-7",
    ]);
    assert!(erased.contains("erased"), "{erased}");
    let key_left: Option<Vec<u8>> = on_pool!(store, pool => {
        sqlx::query_scalar("SELECT data_key FROM persons WHERE id = $1")
            .bind(person)
            .fetch_one(pool)
            .await
            .unwrap()
    });
    assert!(key_left.is_none(), "the data key must be destroyed");

    // rotate, retire, rewrap and erase are each in the chain.
    let verified = cli.ok(&["audit", "verify"]);
    assert!(verified.contains("intact: 4 entries"), "{verified}");

    on_pool!(store, pool => {
        sqlx::query("UPDATE audit_log SET actor = 'cli:mallory' WHERE seq = 2")
            .execute(pool)
            .await
            .unwrap();
    });
    let broken = cli.fails(&["audit", "verify"]);
    assert!(broken.contains("BROKEN at entry 2"), "{broken}");
    store.close().await;
}

#[tokio::test]
async fn config_show_masks_secrets_and_migrate_reports_status() {
    let cli = Cli::new().await;
    let out = Command::new(env!("CARGO_BIN_EXE_bianmin"))
        .args(["config", "show"])
        .env(
            "BIANMIN_DATABASE_URL",
            "postgres://bank:hunter2@db.internal/bianmin",
        )
        .env("BIANMIN_AUTH__SESSION_SECRET", "ab".repeat(32))
        .env_remove("BIANMIN_CONFIG")
        .output()
        .unwrap();
    assert!(out.status.success());
    let shown = String::from_utf8(out.stdout).unwrap();
    assert!(
        !shown.contains("hunter2") && !shown.contains(&"ab".repeat(32)),
        "{shown}"
    );
    assert!(shown.contains("********"), "{shown}");

    let migrated = cli.ok(&["migrate"]);
    assert!(
        migrated.lines().all(|l| l.contains("applied")),
        "{migrated}"
    );
    let status = cli.ok(&["migrate", "--status"]);
    assert_eq!(status, migrated);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_exchange_log_is_verified_from_the_cli() {
    let cli = Cli::new().await;
    let store = cli.seed_people().await;
    let config = Config {
        data_dir: cli.data_dir.path().to_path_buf(),
        ..Config::default()
    };
    // Records as the server's exchange client writes them, sealed with the platform's keys.
    let keys = bianmin_server::exchange::platform_keys(&config).unwrap();
    let client = keys.id.to_string();
    let log = bianmin_exchange::StoreMessageLog::new(
        store.clone(),
        keys,
        std::sync::Arc::new(bianmin_core::SystemClock),
    );
    let ids: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
    for id in &ids {
        log.record(&bianmin_exchange::LogRecord {
            message_id: *id,
            side: bianmin_exchange::LogSide::Client,
            client: client.clone(),
            service: "CN-CD/GOV/hpf-center/accounts/hpf.account/v1".into(),
            consent_id: None,
            request_sm3: "00".repeat(32),
            response_sm3: None,
            started_at: chrono::Utc::now(),
            duration_ms: 12,
            status: Some(200),
            outcome: "ok".into(),
        })
        .await
        .unwrap();
    }
    let verified = cli.ok(&["audit", "exchange-log"]);
    assert!(
        verified.contains("exchange log intact: 3 records and 3 seals verified"),
        "{verified}"
    );

    // An answer someone rewrites as a failure no longer verifies.
    on_pool!(store, pool => {
        sqlx::query("UPDATE exchange_log SET outcome = 'exchange.timeout' WHERE message_id = $1")
            .bind(ids[1])
            .execute(pool)
            .await
            .unwrap();
    });
    let broken = cli.fails(&["audit", "exchange-log"]);
    assert!(broken.contains(&ids[1].to_string()), "{broken}");
    assert!(broken.contains("1 of 3 records do not verify"), "{broken}");
}

#[test]
fn every_subcommand_has_help() {
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["demo", "--help"],
        vec!["migrate", "--help"],
        vec!["config", "show", "--help"],
        vec!["keys", "rotate", "--help"],
        vec!["person", "erase", "--help"],
        vec!["audit", "verify", "--help"],
        vec!["audit", "exchange-log", "--help"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_bianmin"))
            .args(&args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}");
        assert!(
            String::from_utf8(out.stdout).unwrap().contains("Usage"),
            "{args:?}"
        );
    }
}
