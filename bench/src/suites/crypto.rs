//! `crypto`: what the 国密 primitives and field encryption at rest cost, each measured against
//! its international counterpart or its plaintext equivalent in the same run.
//!
//! - AEAD: [`Sm4Gcm::seal`] against AES-256-GCM from the same RustCrypto `aes-gcm` crate (the
//!   same GCM code, only the block cipher differs), on 16 KiB messages and on 256-byte ones, the
//!   size of a personal field;
//! - hash: [`sm3_digest`] against SHA-256 on 16 KiB messages;
//! - SM2: signatures made and verified per second (no baseline);
//! - a person's row through the real store: [`PersonVault::register`] followed by
//!   [`PersonVault::masked`], against the same three values inserted in clear into a plain table
//!   of the same shape and selected back, with the same statements and transactions.
//!
//! The primitives are CPU-bound: each loop runs on a blocking thread of the runtime, for the
//! warm-up and then the measured window of the settings. The rows go through the async store
//! on the runtime, as the application runs them, one row after the other.

use std::hint::black_box;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use anyhow::{Context, bail};
use bianmin_core::{PhoneNumber, ResidentId};
use bianmin_crypto::{
    DEFAULT_SM2_USER_ID, LocalKeyring, SM4_GCM_NONCE_LEN, Sm2SigningKey, Sm4Gcm, random_bytes,
    sm3_digest,
};
use bianmin_people::{MaskedPerson, NewPerson, PersonVault, RevealedPerson};
use bianmin_store::{Backend, Store, StoreOptions};
use chrono::Utc;
use sha2::{Digest, Sha256};
use sqlx::Connection as _;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use tempfile::TempDir;
use uuid::Uuid;

use super::Settings;
use crate::figure::Figures;

/// Size of the long messages the ciphers seal and the hashes digest.
const LONG_MESSAGE: usize = 16 * 1024;
/// Size of the short messages the ciphers seal: a personal field is tens of bytes, so the
/// per-message costs (key schedule use, GHASH of the lengths, the tag, the allocation) count.
const SHORT_MESSAGE: usize = 256;
/// Size of the message SM2 signs and verifies: a consent receipt or a similar document.
const SIGNED_MESSAGE: usize = 256;

/// Rows each side of the row measurement writes and reads back in the measured part.
const MEASURED_ROWS: usize = 2_000;
/// Rows each side writes and reads before, not recorded: fills the pool, the statement caches
/// and the table's first pages.
const WARMUP_ROWS: usize = 200;
/// The measured rows are split into this many rounds; in each, the plaintext side runs right
/// before the encrypted one, so both see the same table sizes and the same background load.
const ROUNDS: usize = 8;

/// The plaintext baseline's table: `persons` with the three personal values in clear, the
/// resident id itself as the unique lookup key, and no wrapped key or KEK version.
const PLAIN_TABLE_SQLITE: &str = "CREATE TABLE bench_plain_persons (\
     id BLOB PRIMARY KEY NOT NULL, \
     resident_id TEXT UNIQUE, \
     name TEXT NOT NULL, \
     phone TEXT, \
     created_at TEXT NOT NULL, \
     updated_at TEXT NOT NULL, \
     erased_at TEXT)";
/// [`PLAIN_TABLE_SQLITE`] in PostgreSQL's types, as the two `persons` migrations differ.
const PLAIN_TABLE_POSTGRES: &str = "CREATE TABLE bench_plain_persons (\
     id UUID PRIMARY KEY, \
     resident_id TEXT UNIQUE, \
     name TEXT NOT NULL, \
     phone TEXT, \
     created_at TIMESTAMPTZ NOT NULL, \
     updated_at TIMESTAMPTZ NOT NULL, \
     erased_at TIMESTAMPTZ)";

/// Runs the suite.
pub async fn run(settings: &Settings, figures: &mut Figures) -> anyhow::Result<()> {
    eprintln!(
        "crypto: CPU {}; each primitive {:.1} s measured after {:.1} s warm-up on one blocking \
         thread; rows: {WARMUP_ROWS} warm-up and {MEASURED_ROWS} measured per side, one at a time",
        cpu_features(),
        settings.duration.as_secs_f64(),
        settings.warmup.as_secs_f64(),
    );

    for (label, size) in [("", LONG_MESSAGE), ("_256b", SHORT_MESSAGE)] {
        announce(&format!(
            "AES-256-GCM, then SM4-GCM, sealing {size}-byte messages"
        ));
        let aes = rate_of(settings, seal_aes256_gcm(size)).await?;
        let aes_mb_s = aes.megabytes_per_second(size);
        figures.record(format!("aes256_gcm{label}.mb_s"), aes_mb_s, "MB/s");
        let sm4 = rate_of(settings, seal_sm4_gcm(size)).await?;
        figures.record_against(
            format!("sm4_gcm{label}.mb_s"),
            sm4.megabytes_per_second(size),
            "MB/s",
            aes_mb_s,
        );
    }

    announce(&format!(
        "SHA-256, then SM3, digesting {LONG_MESSAGE}-byte messages"
    ));
    let message = vec![0x5a_u8; LONG_MESSAGE];
    let sha256 = rate_of(settings, {
        let message = message.clone();
        move || {
            black_box(Sha256::digest(black_box(&message)));
        }
    })
    .await?;
    let sha256_mb_s = sha256.megabytes_per_second(LONG_MESSAGE);
    figures.record("sha256.mb_s", sha256_mb_s, "MB/s");
    let sm3 = rate_of(settings, move || {
        black_box(sm3_digest(black_box(&message)));
    })
    .await?;
    figures.record_against(
        "sm3.mb_s",
        sm3.megabytes_per_second(LONG_MESSAGE),
        "MB/s",
        sha256_mb_s,
    );

    announce(&format!(
        "SM2 signing, then verifying, {SIGNED_MESSAGE}-byte messages"
    ));
    let signer = Sm2SigningKey::generate();
    let verifier = signer.verifying_key();
    let document = vec![0x5a_u8; SIGNED_MESSAGE];
    let signature = signer.sign(DEFAULT_SM2_USER_ID, &document);
    // A signature that failed to verify would time the early rejection, not a verification.
    verifier
        .verify(DEFAULT_SM2_USER_ID, &document, &signature)
        .context("the SM2 signature made for the benchmark does not verify")?;
    let sign = rate_of(settings, {
        let document = document.clone();
        move || {
            black_box(signer.sign(DEFAULT_SM2_USER_ID, black_box(&document)));
        }
    })
    .await?;
    figures.record("sm2.sign_per_s", sign.per_second(), "ops/s");
    let verify = rate_of(settings, move || {
        let verified = verifier.verify(DEFAULT_SM2_USER_ID, black_box(&document), &signature);
        black_box(verified.is_ok());
    })
    .await?;
    figures.record("sm2.verify_per_s", verify.per_second(), "ops/s");

    let database = RowDatabase::open(settings.database_url.as_deref()).await?;
    announce(&format!(
        "a person's row in clear, then through PersonVault ({}), {MEASURED_ROWS} rows each",
        database.store.backend().name()
    ));
    let measured = measure_rows(&database.store, figures).await;
    let removed = database.remove().await;
    match (measured, removed) {
        // The measurement's error is the one to report; the failed clean-up is mentioned.
        (Err(error), Err(cleanup)) => {
            eprintln!("crypto: {cleanup:#}");
            Err(error)
        }
        (measured, removed) => measured.and(removed),
    }
}

/// Progress on stderr, so that stdout stays the table or the JSON lines.
fn announce(what: &str) {
    eprintln!("crypto: measuring {what}");
}

/// Whether the CPU has the instructions the baselines use when present (the `aes` and `sha2`
/// crates detect them at run time) and the 国密 crates do not: the ratios depend on them.
fn cpu_features() -> String {
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    {
        let has = |present: bool| if present { "yes" } else { "no" };
        format!(
            "AES-NI {}, PCLMULQDQ {}, SHA extensions {}",
            has(std::arch::is_x86_feature_detected!("aes")),
            has(std::arch::is_x86_feature_detected!("pclmulqdq")),
            has(std::arch::is_x86_feature_detected!("sha")),
        )
    }
    #[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
    {
        String::from("not x86: AES-NI does not apply")
    }
}

/// How often a CPU-bound operation ran in a measured window.
#[derive(Debug, Clone, Copy)]
struct Rate {
    operations: u64,
    elapsed: Duration,
}

impl Rate {
    fn per_second(self) -> f64 {
        self.operations as f64 / self.elapsed.as_secs_f64()
    }

    /// Throughput in millions of bytes per second, when each operation processed `bytes`.
    fn megabytes_per_second(self, bytes: usize) -> f64 {
        self.per_second() * bytes as f64 / 1e6
    }
}

/// Runs `operation` on a blocking thread, for the warm-up unrecorded and then for the measured
/// window, and returns how often it ran in the window.
async fn rate_of<F>(settings: &Settings, mut operation: F) -> anyhow::Result<Rate>
where
    F: FnMut() + Send + 'static,
{
    let (warmup, duration) = (settings.warmup, settings.duration);
    tokio::task::spawn_blocking(move || {
        repeat_for(warmup, &mut operation);
        repeat_for(duration, &mut operation)
    })
    .await
    .context("a measurement thread panicked")
}

/// Repeats `operation` until `window` has passed, at least once.
fn repeat_for(window: Duration, operation: &mut impl FnMut()) -> Rate {
    // Reading the clock costs tens of nanoseconds, as much as a short operation: read it after
    // batches that double until one takes a millisecond.
    const BATCH_TIME: Duration = Duration::from_millis(1);
    let start = Instant::now();
    let mut operations = 0_u64;
    let mut batch = 1_u64;
    loop {
        let batch_start = Instant::now();
        for _ in 0..batch {
            operation();
        }
        operations += batch;
        let elapsed = start.elapsed();
        if elapsed >= window {
            return Rate {
                operations,
                elapsed,
            };
        }
        if batch_start.elapsed() < BATCH_TIME {
            batch *= 2;
        }
    }
}

/// A distinct nonce per message, as GCM requires of a key. The benchmark's key is random and
/// thrown away, so counting nonces up from zero is safe.
fn nonce(counter: u64) -> [u8; SM4_GCM_NONCE_LEN] {
    let mut nonce = [0_u8; SM4_GCM_NONCE_LEN];
    nonce[..8].copy_from_slice(&counter.to_be_bytes());
    nonce
}

/// Seals one `size`-byte message with SM4-GCM under a random key, without associated data.
fn seal_sm4_gcm(size: usize) -> impl FnMut() + Send + 'static {
    let cipher = Sm4Gcm::new(&random_bytes::<16>());
    let message = vec![0x5a_u8; size];
    let mut counter = 0_u64;
    move || {
        counter += 1;
        black_box(cipher.seal(&nonce(counter), &[], black_box(&message)));
    }
}

/// [`seal_sm4_gcm`] with AES-256-GCM.
fn seal_aes256_gcm(size: usize) -> impl FnMut() + Send + 'static {
    let cipher = Aes256Gcm::new(&random_bytes::<32>().into());
    let message = vec![0x5a_u8; size];
    let mut counter = 0_u64;
    move || {
        counter += 1;
        let payload = Payload {
            msg: black_box(&message[..]),
            aad: &[],
        };
        // Sealing fails only for messages over 64 GiB; either way the result counts as used.
        let sealed = cipher.encrypt(&nonce(counter).into(), payload);
        black_box(&sealed);
    }
}

/// Times both sides of the row measurement on `store` and records their figures.
async fn measure_rows(store: &Store, figures: &mut Figures) -> anyhow::Result<()> {
    let plain_table = match store.backend() {
        Backend::Sqlite => PLAIN_TABLE_SQLITE,
        Backend::Postgres => PLAIN_TABLE_POSTGRES,
    };
    bianmin_store::on_pool!(store, pool => {
        sqlx::query(plain_table).execute(pool).await?;
    });

    let keyring = LocalKeyring::generate_new(Utc::now());
    let blind_index = keyring.blind_index().clone();
    let audit_key = keyring.audit_key().clone();
    let vault = PersonVault::new(store.clone(), Arc::new(keyring), blind_index, audit_key);

    let people = (0..WARMUP_ROWS + MEASURED_ROWS)
        .map(synthetic_person)
        .collect::<anyhow::Result<Vec<NewPerson>>>()?;
    let (warmup, measured) = people.split_at(WARMUP_ROWS);

    for person in warmup {
        black_box(plaintext_row(store, person).await?);
        black_box(encrypted_row(&vault, person).await?);
    }
    let mut plaintext_time = Duration::ZERO;
    let mut encrypted_time = Duration::ZERO;
    for round in measured.chunks(MEASURED_ROWS.div_ceil(ROUNDS)) {
        let start = Instant::now();
        for person in round {
            black_box(plaintext_row(store, person).await?);
        }
        plaintext_time += start.elapsed();
        let start = Instant::now();
        for person in round {
            black_box(encrypted_row(&vault, person).await?);
        }
        encrypted_time += start.elapsed();
    }

    // Every registration must have created a person: an update of an existing one, or a row
    // the baseline skipped, would time other work than the figures claim.
    let (persons, plain_persons): (i64, i64) = bianmin_store::on_pool!(store, pool => {
        (
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM persons")
                .fetch_one(pool)
                .await?,
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM bench_plain_persons")
                .fetch_one(pool)
                .await?,
        )
    });
    let expected = i64::try_from(people.len())?;
    if persons != expected || plain_persons != expected {
        bail!(
            "expected {expected} rows on each side, found {persons} persons and {plain_persons} \
             plaintext rows"
        );
    }

    let rows = measured.len() as f64;
    let plaintext_per_s = rows / plaintext_time.as_secs_f64();
    figures.record("plaintext_row.per_s", plaintext_per_s, "rows/s");
    figures.record_against(
        "encrypted_row.per_s",
        rows / encrypted_time.as_secs_f64(),
        "rows/s",
        plaintext_per_s,
    );
    figures.record(
        "encrypted_row.overhead_us",
        (encrypted_time.as_secs_f64() - plaintext_time.as_secs_f64()) / rows * 1e6,
        "us",
    );
    Ok(())
}

/// The `index`th of a population of distinct, valid people: a Beijing resident id whose birth
/// date and sequence number count up, a two- or three-character name and a mobile number.
fn synthetic_person(index: usize) -> anyhow::Result<NewPerson> {
    const SURNAMES: [&str; 8] = ["王", "李", "张", "刘", "陈", "杨", "赵", "黄"];
    const GIVEN: [&str; 10] = ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋"];
    let sequence = index % 1000;
    let day = index / 1000 % 28 + 1;
    let month = index / 28_000 % 12 + 1;
    let year = 1950 + index / 336_000;
    let resident_id =
        ResidentId::with_check_digit(&format!("110105{year:04}{month:02}{day:02}{sequence:03}"))
            .context("a synthetic resident id is invalid")?;
    let given = if index.is_multiple_of(3) {
        GIVEN[index / 8 % 10].to_owned()
    } else {
        format!("{}{}", GIVEN[index / 8 % 10], GIVEN[index / 80 % 10])
    };
    Ok(NewPerson {
        resident_id,
        name: format!("{}{given}", SURNAMES[index % 8]),
        phone: Some(
            PhoneNumber::parse(&format!("139{:08}", index % 100_000_000))
                .context("a synthetic phone number is invalid")?,
        ),
    })
}

/// Registers `person` and reads them back masked: a fresh data key wrapped by the keyring, the
/// blind index, three sealed fields in one write transaction, then one select, the unwrap and
/// three opens.
async fn encrypted_row(vault: &PersonVault, person: &NewPerson) -> anyhow::Result<MaskedPerson> {
    let id = vault.register(person, Utc::now()).await?;
    Ok(vault.masked(id).await?)
}

/// What [`encrypted_row`] does, in clear: the same write transaction (a lookup by resident id,
/// then an insert), the same select by id on the pool, and the same parsing and masking of the
/// values read.
async fn plaintext_row(store: &Store, person: &NewPerson) -> anyhow::Result<MaskedPerson> {
    let now = Utc::now();
    let mut tx = store.begin_write().await?;
    let existing = bianmin_store::on_tx!(&mut tx, conn => {
        sqlx::query_as::<_, (Uuid, Option<String>, String, Option<String>)>(
            "SELECT id, resident_id, name, phone FROM bench_plain_persons WHERE resident_id = $1",
        )
        .bind(person.resident_id.as_str())
        .fetch_optional(conn)
        .await?
    });
    if existing.is_some() {
        bail!("a synthetic resident id was used twice");
    }
    let id = bianmin_core::id::new_id();
    bianmin_store::on_tx!(&mut tx, conn => {
        sqlx::query(
            "INSERT INTO bench_plain_persons (id, resident_id, name, phone, created_at, \
             updated_at) VALUES ($1, $2, $3, $4, $5, $5)",
        )
        .bind(id)
        .bind(person.resident_id.as_str())
        .bind(person.name.trim())
        .bind(person.phone.as_ref().map(PhoneNumber::as_str))
        .bind(now)
        .execute(conn)
        .await?;
    });
    tx.commit().await?;

    let (id, resident_id, name, phone) = bianmin_store::on_pool!(store, pool => {
        sqlx::query_as::<_, (Uuid, Option<String>, String, Option<String>)>(
            "SELECT id, resident_id, name, phone FROM bench_plain_persons WHERE id = $1",
        )
        .bind(id)
        .fetch_one(pool)
        .await?
    });
    let resident_id =
        ResidentId::parse(&resident_id.context("a plaintext row has no resident id")?)
            .context("a plaintext row holds an invalid resident id")?;
    let phone = phone
        .map(|phone| PhoneNumber::parse(&phone))
        .transpose()
        .context("a plaintext row holds an invalid phone number")?;
    let person = RevealedPerson {
        id,
        resident_id,
        name,
        phone,
    };
    Ok(person.masked())
}

/// The database both sides of the row measurement use: a SQLite file in a temporary directory,
/// or a fresh schema in the `--database-url` PostgreSQL database, so that the benchmark's
/// thousands of rows never land next to real ones. Either is migrated, and removed afterwards.
struct RowDatabase {
    store: Store,
    place: RowPlace,
}

/// Where a [`RowDatabase`] lives, to remove it.
enum RowPlace {
    Sqlite(TempDir),
    Postgres {
        server: Box<PgConnectOptions>,
        schema: String,
    },
}

impl RowDatabase {
    async fn open(database_url: Option<&str>) -> anyhow::Result<RowDatabase> {
        // Durability off on both sides: the figures compare the work of a row, not the disk's
        // fsync latency (PostgreSQL keeps its own settings).
        let options = StoreOptions {
            sqlite_durable: false,
            ..StoreOptions::default()
        };
        let (store, place) = match database_url {
            None => {
                let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
                let store = Store::open_sqlite(&dir.path().join("bianmin.db"), &options)
                    .await
                    .context("cannot open the temporary SQLite database")?;
                (store, RowPlace::Sqlite(dir))
            }
            Some(url) => {
                let server = PgConnectOptions::from_str(url).context("invalid --database-url")?;
                let schema = format!("bench_crypto_{}", Uuid::new_v4().simple());
                let mut admin = PgConnection::connect_with(&server)
                    .await
                    .context("cannot connect to --database-url")?;
                // The name is a prefix and 32 hex digits made here: nothing from outside
                // reaches the SQL.
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                    .execute(&mut admin)
                    .await
                    .context("cannot create the benchmark's schema")?;
                admin.close().await?;
                let store = Store::connect_postgres(
                    server.clone().options([("search_path", schema.as_str())]),
                    &options,
                )
                .await
                .context("cannot connect to the benchmark's schema")?;
                (
                    store,
                    RowPlace::Postgres {
                        server: Box::new(server),
                        schema,
                    },
                )
            }
        };
        let database = RowDatabase { store, place };
        if let Err(error) = database.store.migrate().await {
            // The migration's error is the one to report; a failed clean-up is only mentioned.
            if let Err(cleanup) = database.remove().await {
                eprintln!("crypto: {cleanup:#}");
            }
            return Err(error).context("cannot migrate the benchmark's database");
        }
        Ok(database)
    }

    /// Closes the store and deletes the database.
    async fn remove(self) -> anyhow::Result<()> {
        self.store.close().await;
        match self.place {
            RowPlace::Sqlite(dir) => dir
                .close()
                .context("cannot remove the temporary SQLite database")?,
            RowPlace::Postgres { server, schema } => {
                let mut admin = PgConnection::connect_with(&server).await?;
                sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                    .execute(&mut admin)
                    .await
                    .with_context(|| format!("cannot drop the benchmark's schema {schema}"))?;
                admin.close().await?;
            }
        }
        Ok(())
    }
}
