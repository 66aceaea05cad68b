//! The client's response cache: answers of idempotent services fetched under a consent, keyed
//! by (consent, service, SM3 of the request), kept no longer than the consent allows, and
//! dropped at once when the consent is revoked.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use crate::ServiceId;

/// Most entries held at once; beyond it new answers are simply not cached.
const CAPACITY: usize = 10_000;

type Key = (ServiceId, [u8; 32]);

#[derive(Debug)]
struct Entry {
    value: Value,
    expires: DateTime<Utc>,
}

#[derive(Debug, Default)]
pub(crate) struct ResponseCache {
    // Grouped by consent so that revocation drops a consent's entries in one step.
    by_consent: Mutex<HashMap<Uuid, HashMap<Key, Entry>>>,
}

impl ResponseCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, HashMap<Key, Entry>>> {
        // Inserts and removals are single map operations; a poisoned map is still whole.
        self.by_consent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn get(
        &self,
        consent: &Uuid,
        service: &ServiceId,
        request: &[u8; 32],
        now: DateTime<Utc>,
    ) -> Option<Value> {
        let mut map = self.lock();
        let entries = map.get_mut(consent)?;
        let key = (service.clone(), *request);
        match entries.get(&key) {
            Some(entry) if entry.expires > now => Some(entry.value.clone()),
            Some(_) => {
                entries.remove(&key);
                if entries.is_empty() {
                    map.remove(consent);
                }
                None
            }
            None => None,
        }
    }

    pub(crate) fn insert(
        &self,
        consent: Uuid,
        service: &ServiceId,
        request: [u8; 32],
        value: Value,
        expires: DateTime<Utc>,
        now: DateTime<Utc>,
    ) {
        if expires <= now {
            return;
        }
        let mut map = self.lock();
        if map.values().map(HashMap::len).sum::<usize>() >= CAPACITY {
            map.retain(|_, entries| {
                entries.retain(|_, entry| entry.expires > now);
                !entries.is_empty()
            });
            if map.values().map(HashMap::len).sum::<usize>() >= CAPACITY {
                return;
            }
        }
        map.entry(consent)
            .or_default()
            .insert((service.clone(), request), Entry { value, expires });
    }

    pub(crate) fn forget(&self, consent: &Uuid) {
        self.lock().remove(consent);
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;
    use serde_json::json;

    use super::*;

    #[test]
    fn entries_expire_and_are_forgotten_with_their_consent() {
        let cache = ResponseCache::default();
        let service: ServiceId = "CN-CD/GOV/hpf-center/accounts/hpf.account/v1"
            .parse()
            .unwrap();
        let consent = Uuid::now_v7();
        let now = Utc::now();
        cache.insert(
            consent,
            &service,
            [1; 32],
            json!({"a": 1}),
            now + TimeDelta::hours(1),
            now,
        );
        assert_eq!(
            cache.get(&consent, &service, &[1; 32], now),
            Some(json!({"a": 1}))
        );
        assert_eq!(cache.get(&consent, &service, &[2; 32], now), None);
        assert_eq!(
            cache.get(&consent, &service, &[1; 32], now + TimeDelta::hours(1)),
            None
        );
        cache.insert(
            consent,
            &service,
            [1; 32],
            json!({"a": 2}),
            now + TimeDelta::hours(1),
            now,
        );
        cache.forget(&consent);
        assert_eq!(cache.get(&consent, &service, &[1; 32], now), None);
        cache.insert(consent, &service, [1; 32], json!({}), now, now);
        assert_eq!(cache.get(&consent, &service, &[1; 32], now), None);
    }
}
