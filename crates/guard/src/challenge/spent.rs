//! Remembering answered challenges, so that one answer is accepted once.

use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use redis::aio::ConnectionManager;

use super::ID_LEN;
use crate::GuardError;
use crate::redis_link::{lazy_connection, within_deadline};

/// The prefix of answered-challenge keys in Redis unless [`RedisSpentStore::with_prefix`]
/// sets another.
pub const DEFAULT_SPENT_PREFIX: &str = "bianmin:pow:";

/// A store of answered challenge ids shared by every instance, so that an answer accepted by
/// one instance is refused by all others.
///
/// The issuer always keeps its own in-memory set as well; this store adds the refusal across
/// instances.
#[async_trait]
pub trait SpentStore: Send + Sync {
    /// Records `challenge_id` as answered for `keep_for` (until its token expires). Returns
    /// `true` if it was not recorded before, `false` if it was: the answer is a replay.
    async fn mark_spent(
        &self,
        challenge_id: &[u8; ID_LEN],
        keep_for: Duration,
    ) -> Result<bool, GuardError>;
}

/// A [`SpentStore`] in Redis: one `SET key 1 NX EX seconds` per answer, which records the id
/// and tells whether it was there in one atomic step. Challenge ids are random, not personal
/// data, so they are stored in clear as `prefix + hex(id)`.
pub struct RedisSpentStore {
    connection: ConnectionManager,
    prefix: String,
}

impl RedisSpentStore {
    /// A store on the Redis at `url`; connects on first use. Must be called inside a Tokio
    /// runtime.
    pub fn new(url: &str) -> Result<Self, GuardError> {
        Ok(Self {
            connection: lazy_connection(url)?,
            prefix: DEFAULT_SPENT_PREFIX.to_owned(),
        })
    }

    /// Sets the key prefix (default [`DEFAULT_SPENT_PREFIX`]); instances must share it.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }
}

#[async_trait]
impl SpentStore for RedisSpentStore {
    async fn mark_spent(
        &self,
        challenge_id: &[u8; ID_LEN],
        keep_for: Duration,
    ) -> Result<bool, GuardError> {
        let key = format!("{}{}", self.prefix, hex::encode(challenge_id));
        let seconds = keep_for.as_secs().max(1);
        let mut connection = self.connection.clone();
        let mut command = redis::cmd("SET");
        command.arg(key).arg(1).arg("NX").arg("EX").arg(seconds);
        let stored: Option<String> = within_deadline(command.query_async(&mut connection)).await?;
        Ok(stored.is_some())
    }
}

/// The issuer's own bounded set of answered challenge ids, each kept until its token expires.
pub(super) struct SpentSet {
    ids: HashSet<[u8; ID_LEN]>,
    by_expiry: BTreeSet<(DateTime<Utc>, [u8; ID_LEN])>,
    capacity: usize,
}

impl SpentSet {
    pub(super) fn new(capacity: usize) -> Self {
        Self {
            ids: HashSet::new(),
            by_expiry: BTreeSet::new(),
            capacity: capacity.max(1),
        }
    }

    /// Records `id`, whose token expires at `expires_at`; `false` if it was already recorded.
    ///
    /// Ids of expired tokens are dropped first: an expired token is refused for its expiry
    /// anyway. If the set is still full, the id closest to expiry goes, which reopens only
    /// that token and only for the little time it has left; it takes more than `capacity`
    /// answers within one token lifetime to get there.
    pub(super) fn insert(
        &mut self,
        id: [u8; ID_LEN],
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> bool {
        while let Some(&(expiry, expired)) = self.by_expiry.first() {
            if expiry > now {
                break;
            }
            self.by_expiry.pop_first();
            self.ids.remove(&expired);
        }
        if self.ids.contains(&id) {
            return false;
        }
        if self.ids.len() >= self.capacity
            && let Some((_, closest_to_expiry)) = self.by_expiry.pop_first()
        {
            self.ids.remove(&closest_to_expiry);
        }
        self.ids.insert(id);
        self.by_expiry.insert((expires_at, id));
        true
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(second: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_750_000_000 + second, 0).unwrap()
    }

    #[test]
    fn an_id_is_accepted_once_until_it_expires() {
        let mut spent = SpentSet::new(10);
        assert!(spent.insert([1; ID_LEN], at(120), at(0)));
        assert!(!spent.insert([1; ID_LEN], at(120), at(60)));
        assert!(spent.insert([2; ID_LEN], at(180), at(60)));
        // After its expiry the token itself is refused; the set may forget it.
        assert!(spent.insert([1; ID_LEN], at(300), at(121)));
    }

    #[test]
    fn a_full_set_forgets_the_id_closest_to_expiry() {
        let mut spent = SpentSet::new(2);
        assert!(spent.insert([1; ID_LEN], at(100), at(0)));
        assert!(spent.insert([2; ID_LEN], at(200), at(0)));
        assert!(spent.insert([3; ID_LEN], at(300), at(0)));
        assert!(!spent.insert([2; ID_LEN], at(200), at(1)));
        assert!(!spent.insert([3; ID_LEN], at(300), at(1)));
        assert_eq!(spent.ids.len(), 2);
    }
}
