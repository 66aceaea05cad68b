//! What every test of the vault starts from: a fresh database on the backend under test, a
//! new keyring that the test can rotate, and a vault over both.

#![allow(dead_code)] // each test binary uses its own part of this module

use std::sync::{Arc, RwLock};

use bianmin_core::{PhoneNumber, ResidentId};
use bianmin_crypto::{AuditKey, CryptoError, DataKey, Kms, LocalKeyring, WrappedKey};
use bianmin_people::{NewPerson, PersonVault};
use bianmin_store::testing::TestDb;
use bianmin_store::{Store, StoredAuditEntry};
use chrono::{DateTime, TimeZone as _, Utc};

/// A [`LocalKeyring`] the test can rotate and retire while the vault holds it, as a server
/// reloading its key file would see it.
pub struct SharedKeyring(RwLock<LocalKeyring>);

impl SharedKeyring {
    pub fn rotate(&self, now: DateTime<Utc>) -> u32 {
        self.0.write().unwrap().rotate(now).unwrap()
    }

    pub fn retire_below(&self, version: u32) {
        self.0.write().unwrap().retire_below(version).unwrap();
    }
}

impl Kms for SharedKeyring {
    fn current_version(&self) -> u32 {
        self.0.read().unwrap().current_version()
    }

    fn min_decrypt_version(&self) -> u32 {
        self.0.read().unwrap().min_decrypt_version()
    }

    fn wrap(&self, key: &DataKey, context: &[u8]) -> Result<WrappedKey, CryptoError> {
        self.0.read().unwrap().wrap(key, context)
    }

    fn unwrap(&self, wrapped: &WrappedKey, context: &[u8]) -> Result<DataKey, CryptoError> {
        self.0.read().unwrap().unwrap(wrapped, context)
    }
}

pub struct Fixture {
    pub db: TestDb,
    pub keyring: Arc<SharedKeyring>,
    pub audit_key: AuditKey,
    pub vault: PersonVault,
}

impl Fixture {
    pub async fn new() -> Fixture {
        let db = TestDb::new().await;
        let keyring = LocalKeyring::generate_new(at(0));
        let blind_index = keyring.blind_index().clone();
        let audit_key = keyring.audit_key().clone();
        let keyring = Arc::new(SharedKeyring(RwLock::new(keyring)));
        let vault = PersonVault::new(
            db.store.clone(),
            keyring.clone(),
            blind_index,
            audit_key.clone(),
        );
        Fixture {
            db,
            keyring,
            audit_key,
            vault,
        }
    }

    pub fn store(&self) -> &Store {
        &self.db.store
    }

    /// Every audit entry, oldest first.
    pub async fn audit(&self) -> Vec<StoredAuditEntry> {
        self.store().audit_entries(0, 10_000).await.unwrap()
    }

    /// Audit entries with this action.
    pub async fn audit_of(&self, action: &str) -> Vec<StoredAuditEntry> {
        let mut entries = self.audit().await;
        entries.retain(|entry| entry.action == action);
        entries
    }

    pub async fn assert_audit_chain_intact(&self) {
        let report = self.store().verify_audit(&self.audit_key).await.unwrap();
        assert!(report.is_intact(), "{report:?}");
    }
}

/// A fixed instant plus `minutes`: tests do not read the system clock.
pub fn at(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).single().unwrap() + chrono::Duration::minutes(minutes)
}

/// A person with a valid resident id built from its first seventeen digits.
pub fn person(first17: &str, name: &str, phone: Option<&str>) -> NewPerson {
    NewPerson {
        resident_id: ResidentId::with_check_digit(first17).unwrap(),
        name: name.to_owned(),
        phone: phone.map(|phone| PhoneNumber::parse(phone).unwrap()),
    }
}
