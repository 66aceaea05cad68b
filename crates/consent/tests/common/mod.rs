//! What every test of the ledger starts from: a fresh database on the backend under test, two
//! people registered in a vault, the platform's keys, and a ledger over them.

#![allow(dead_code)] // each test binary uses its own part of this module

use std::sync::Arc;

use bianmin_consent::{ConsentLedger, ConsentRequest, Purpose};
use bianmin_core::ResidentId;
use bianmin_crypto::{AuditKey, LocalKeyring};
use bianmin_exchange::{ClientId, Frequency, FrequencyUnit, MemberKeys};
use bianmin_people::{NewPerson, PersonVault};
use bianmin_store::testing::TestDb;
use bianmin_store::{Store, StoredAuditEntry, StoredEvent};
use chrono::{DateTime, Duration, NaiveDate, TimeZone as _, Utc};
use uuid::Uuid;

/// The platform's client identifier: signer of every artefact, and the usual consumer.
pub const PLATFORM: &str = "CN-CD/COM/bank/bianmin";

/// A service identifier, as the exchange names the one a use fetches from.
pub const HPF_SERVICE: &str = "CN-CD/GOV/hpf-center/accounts/hpf.account/v1";

pub struct Person {
    pub id: Uuid,
    pub resident_id: ResidentId,
    /// `principal:<uuid>`, the actor of this person's own decisions.
    pub actor: String,
}

pub struct Fixture {
    pub db: TestDb,
    pub audit_key: AuditKey,
    /// The vault the people are registered in, and the ledger seals artefacts with.
    pub vault: PersonVault,
    pub platform: Arc<MemberKeys>,
    pub ledger: ConsentLedger,
    pub zhang: Person,
    pub li: Person,
}

impl Fixture {
    pub async fn new() -> Fixture {
        let db = TestDb::new().await;
        let keyring = LocalKeyring::generate_new(at(0));
        let audit_key = keyring.audit_key().clone();
        let blind_index = keyring.blind_index().clone();
        let vault = PersonVault::new(
            db.store.clone(),
            Arc::new(keyring),
            blind_index,
            audit_key.clone(),
        );
        let zhang = register(&vault, "11010519491231002", "张三").await;
        let li = register(&vault, "44030520000101123", "李四").await;
        let platform = Arc::new(MemberKeys::generate(client(PLATFORM)));
        let ledger = ConsentLedger::new(
            db.store.clone(),
            vault.clone(),
            platform.clone(),
            audit_key.clone(),
        );
        Fixture {
            db,
            audit_key,
            vault,
            platform,
            ledger,
            zhang,
            li,
        }
    }

    pub fn store(&self) -> &Store {
        &self.db.store
    }

    /// Audit entries of this crate (`consent.*`), oldest first.
    pub async fn consent_audit(&self) -> Vec<StoredAuditEntry> {
        let mut entries = self.store().audit_entries(0, 10_000).await.unwrap();
        entries.retain(|entry| entry.action.starts_with("consent."));
        entries
    }

    /// Outbox events of this crate, oldest first.
    pub async fn consent_events(&self) -> Vec<StoredEvent> {
        let mut events = self.store().events_after(0, 10_000).await.unwrap();
        events.retain(|event| event.aggregate == "consent");
        events
    }

    pub async fn assert_audit_chain_intact(&self) {
        let report = self.store().verify_audit(&self.audit_key).await.unwrap();
        assert!(report.is_intact(), "{report:?}");
    }

    /// The stored state of a consent, as the table holds it (not as views derive it).
    pub async fn stored_state(&self, consent_id: Uuid) -> String {
        bianmin_store::on_pool!(self.store(), pool => {
            sqlx::query_scalar::<_, String>("SELECT state FROM consents WHERE id = $1")
                .bind(consent_id)
                .fetch_one(pool)
                .await
                .unwrap()
        })
    }
}

async fn register(vault: &PersonVault, first17: &str, name: &str) -> Person {
    let resident_id = ResidentId::with_check_digit(first17).unwrap();
    let id = vault
        .register(
            &NewPerson {
                resident_id: resident_id.clone(),
                name: name.to_owned(),
                phone: None,
            },
            at(0),
        )
        .await
        .unwrap();
    Person {
        id,
        resident_id,
        actor: format!("principal:{id}"),
    }
}

pub fn client(id: &str) -> ClientId {
    id.parse().unwrap()
}

/// A fixed instant plus `minutes`: 2026-03-01 09:00 UTC, 17:00 in Beijing. Tests never read
/// the system clock.
pub fn at(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).single().unwrap() + Duration::minutes(minutes)
}

pub fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// A request by the platform for `purpose` and `kinds`: data of 2025, five uses a day, valid
/// for 30 days, data kept for 7.
pub fn request(person_id: Uuid, purpose: Purpose, kinds: &[&str]) -> ConsentRequest {
    ConsentRequest {
        person_id,
        consumer: client(PLATFORM),
        purpose,
        data_kinds: kinds.iter().map(|kind| (*kind).to_owned()).collect(),
        data_from: date(2025, 1, 1),
        data_to: date(2025, 12, 31),
        frequency: Frequency {
            unit: FrequencyUnit::Day,
            max: 5,
        },
        valid_for: Duration::days(30),
        data_life_days: 7,
    }
}

/// The operator actor that starts requests in these tests.
pub const OPERATOR: &str = "principal:operator";
