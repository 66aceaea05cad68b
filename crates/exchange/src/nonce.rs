//! Replay protection (§5): a provider refuses a `(client, nonce)` pair seen in the last
//! [`REPLAY_WINDOW_SECS`] seconds.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;
use bianmin_store::{Store, on_tx};
use chrono::{DateTime, TimeDelta, Utc};

use crate::wire::REPLAY_WINDOW_SECS;
use crate::{ClientId, ExchangeError};

/// Remembers nonces for the replay window.
#[async_trait]
pub trait NonceStore: Send + Sync {
    /// Records `(client, nonce)` as used at `now`; true if it had not been used within the
    /// replay window, false for a replay.
    ///
    /// # Errors
    ///
    /// If the store cannot record it; the provider then refuses the request (503) rather than
    /// risk accepting a replay.
    async fn first_use(
        &self,
        client: &ClientId,
        nonce: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, ExchangeError>;
}

fn replay_window() -> TimeDelta {
    TimeDelta::seconds(REPLAY_WINDOW_SECS)
}

/// Nonces in memory, for one provider process (simulators, tests, a single instance).
///
/// Entries expire after the replay window; memory is bounded by a capacity. When the capacity
/// is reached, new nonces are refused ([`ExchangeError::Unavailable`]) rather than old ones
/// forgotten early, which would open a replay window.
#[derive(Debug)]
pub struct MemoryNonceStore {
    capacity: usize,
    inner: Mutex<NonceWindow>,
}

#[derive(Debug, Default)]
struct NonceWindow {
    expiry: HashMap<(ClientId, String), DateTime<Utc>>,
    // Insertion order, which is expiry order while the clock moves forward.
    queue: VecDeque<(DateTime<Utc>, (ClientId, String))>,
}

impl MemoryNonceStore {
    /// Default capacity: about 330 requests a second sustained over the replay window.
    pub const DEFAULT_CAPACITY: usize = 200_000;

    /// A store holding at most [`DEFAULT_CAPACITY`](Self::DEFAULT_CAPACITY) live nonces.
    #[must_use]
    pub fn new() -> MemoryNonceStore {
        MemoryNonceStore::with_capacity(MemoryNonceStore::DEFAULT_CAPACITY)
    }

    /// A store holding at most `capacity` live nonces.
    #[must_use]
    pub fn with_capacity(capacity: usize) -> MemoryNonceStore {
        MemoryNonceStore {
            capacity,
            inner: Mutex::new(NonceWindow::default()),
        }
    }

    /// Live nonces held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().expiry.len()
    }

    /// True when no live nonce is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, NonceWindow> {
        // Every update below leaves the maps consistent before it can panic, so a poisoned
        // lock still guards a usable window.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for MemoryNonceStore {
    fn default() -> Self {
        MemoryNonceStore::new()
    }
}

#[async_trait]
impl NonceStore for MemoryNonceStore {
    async fn first_use(
        &self,
        client: &ClientId,
        nonce: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, ExchangeError> {
        let mut window = self.lock();
        while let Some((expires, _)) = window.queue.front() {
            if *expires > now {
                break;
            }
            if let Some((expires, key)) = window.queue.pop_front()
                && window.expiry.get(&key) == Some(&expires)
            {
                window.expiry.remove(&key);
            }
        }
        let key = (client.clone(), nonce.to_ascii_lowercase());
        if window
            .expiry
            .get(&key)
            .is_some_and(|expires| *expires > now)
        {
            return Ok(false);
        }
        if window.expiry.len() >= self.capacity {
            tracing::error!(
                capacity = self.capacity,
                "nonce store full: refusing requests until nonces expire"
            );
            return Err(ExchangeError::Unavailable);
        }
        let expires = now + replay_window();
        window.expiry.insert(key.clone(), expires);
        window.queue.push_back((expires, key));
        Ok(true)
    }
}

/// Nonces in the `exchange_nonces` table, shared by every instance of a provider on one
/// database.
#[derive(Debug, Clone)]
pub struct StoreNonceStore {
    store: Store,
}

impl StoreNonceStore {
    /// Nonces kept in `store`.
    #[must_use]
    pub fn new(store: Store) -> StoreNonceStore {
        StoreNonceStore { store }
    }
}

#[async_trait]
impl NonceStore for StoreNonceStore {
    async fn first_use(
        &self,
        client: &ClientId,
        nonce: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, ExchangeError> {
        let client = client.to_string();
        let nonce = nonce.to_ascii_lowercase();
        let mut tx = self.store.begin_write().await?;
        let inserted = on_tx!(&mut tx, conn => {
            sqlx::query("DELETE FROM exchange_nonces WHERE expires_at <= $1")
                .bind(now)
                .execute(&mut *conn)
                .await?;
            sqlx::query(
                "INSERT INTO exchange_nonces (client, nonce, expires_at) VALUES ($1, $2, $3) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(&client)
            .bind(&nonce)
            .bind(now + replay_window())
            .execute(&mut *conn)
            .await?
            .rows_affected()
        });
        tx.commit().await?;
        Ok(inserted == 1)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn client() -> ClientId {
        "CN-CD/COM/bank/bianmin".parse().unwrap()
    }

    #[tokio::test]
    async fn a_nonce_is_accepted_once_within_the_window() {
        let store = MemoryNonceStore::new();
        let t0 = Utc.with_ymd_and_hms(2026, 11, 29, 8, 0, 0).unwrap();
        let nonce = "00112233445566778899aabbccddeeff";
        assert!(store.first_use(&client(), nonce, t0).await.unwrap());
        assert!(!store.first_use(&client(), nonce, t0).await.unwrap());
        assert!(
            !store
                .first_use(
                    &client(),
                    &nonce.to_uppercase(),
                    t0 + TimeDelta::seconds(599)
                )
                .await
                .unwrap()
        );
        let other: ClientId = "CN-CD/COM/other/app".parse().unwrap();
        assert!(store.first_use(&other, nonce, t0).await.unwrap());
        // After the window the entry is gone, and memory with it.
        assert!(
            store
                .first_use(&client(), nonce, t0 + TimeDelta::seconds(600))
                .await
                .unwrap()
        );
        assert_eq!(store.len(), 1);
    }

    #[tokio::test]
    async fn a_full_store_refuses_instead_of_forgetting() {
        let store = MemoryNonceStore::with_capacity(2);
        let t0 = Utc.with_ymd_and_hms(2026, 11, 29, 8, 0, 0).unwrap();
        assert!(store.first_use(&client(), "a", t0).await.unwrap());
        assert!(store.first_use(&client(), "b", t0).await.unwrap());
        assert!(matches!(
            store.first_use(&client(), "c", t0).await,
            Err(ExchangeError::Unavailable)
        ));
        assert!(!store.first_use(&client(), "a", t0).await.unwrap());
        let later = t0 + TimeDelta::seconds(601);
        assert!(store.first_use(&client(), "c", later).await.unwrap());
        assert_eq!(store.len(), 1);
    }
}
