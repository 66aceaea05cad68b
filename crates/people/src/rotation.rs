//! Key rotation: rewrapping every person's data key under the newest KEK version.

use std::sync::Arc;

use bianmin_crypto::{CryptoError, Kms, WrappedKey};
use bianmin_store::AuditEntry;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::audit::{Accountable, accountable, actions};
use crate::{PeopleError, PersonVault, Result};

/// What a [`PersonVault::rewrap_all`] run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RewrapReport {
    /// The KEK version keys were rewrapped to (the key service's current version at the start).
    pub kek_version: u32,
    /// Data keys moved to `kek_version` by this run.
    pub rewrapped: u64,
    /// Live data keys already at `kek_version` or newer when the run started.
    pub already_current: u64,
    /// People whose data key the key service would not rewrap, with its reason: a retired or
    /// missing KEK version, or a wrapped key that does not open for its row. Their data is
    /// already unreadable with this keyring, and retiring more versions does not make that
    /// worse; but each one is an incident to look into before any old key file is destroyed.
    pub failed: Vec<(Uuid, CryptoError)>,
}

/// One person's wrapped key as read for rewrapping, and the key service's answer.
struct Rewrap {
    id: Uuid,
    stored: Vec<u8>,
    outcome: Result<WrappedKey, CryptoError>,
}

impl PersonVault {
    /// Rewraps the data key of every live person whose key is wrapped under a KEK version
    /// older than the key service's current one, `batch_size` people per transaction, then
    /// appends one audit entry ([`actions::REWRAP`], target `persons`) with the counts.
    ///
    /// Only the wrapped keys change: [`Kms::rewrap`] turns an old wrapping into a new one
    /// inside the key service, so the data keys never reach this process in clear (for an
    /// HSM-backed key service) and no field is decrypted or re-sealed. The run is resumable:
    /// it picks up whatever is still below the current version, so a run interrupted midway
    /// is completed by running it again. Keys written or erased concurrently are left as
    /// they are (a write is guarded by the key read for it).
    ///
    /// This is step 2 of the rotation in `LocalKeyring`'s documentation: rotate and roll the
    /// key file out first; retire the old versions only once a run reports nothing `failed`
    /// that can still be saved.
    ///
    /// # Errors
    ///
    /// - [`PeopleError::InvalidInput`] if `batch_size` is 0 or `actor` is not fit for the
    ///   audit log.
    /// - [`PeopleError::Interrupted`] if the runtime shut down during a batch.
    /// - [`PeopleError::Store`] if the database fails; batches committed before stay
    ///   rewrapped, and no audit entry is written for the partial run.
    pub async fn rewrap_all(
        &self,
        batch_size: u32,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<RewrapReport> {
        let actor = accountable(actor, Accountable::Actor)?;
        if batch_size == 0 {
            return Err(PeopleError::InvalidInput("batch size must be at least 1"));
        }
        let kek_version = self.kms.current_version();
        let already_current = bianmin_store::on_pool!(&self.store, pool => {
            sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM persons WHERE data_key IS NOT NULL AND kek_version >= $1",
            )
            .bind(i64::from(kek_version))
            .fetch_one(pool)
            .await?
        });
        let mut report = RewrapReport {
            kek_version,
            rewrapped: 0,
            // A count is never negative.
            already_current: u64::try_from(already_current).unwrap_or_default(),
            failed: Vec::new(),
        };

        // Keyset pagination by id: every row is visited once, so a key that fails to rewrap
        // cannot make the run loop, and the ones that succeed drop out of the filter anyway.
        let mut after = Uuid::nil();
        loop {
            let batch = bianmin_store::on_pool!(&self.store, pool => {
                sqlx::query_as::<_, (Uuid, Vec<u8>)>(
                    "SELECT id, data_key FROM persons \
                     WHERE data_key IS NOT NULL AND kek_version < $1 AND id > $2 \
                     ORDER BY id LIMIT $3",
                )
                .bind(i64::from(kek_version))
                .bind(after)
                .bind(i64::from(batch_size))
                .fetch_all(pool)
                .await?
            });
            let Some(&(last, _)) = batch.last() else {
                break;
            };
            after = last;

            let rewraps = rewrap_batch(Arc::clone(&self.kms), batch).await?;
            let mut tx = self.store.begin_write().await?;
            for rewrap in rewraps {
                let wrapped = match rewrap.outcome {
                    Ok(wrapped) => wrapped,
                    Err(error) => {
                        report.failed.push((rewrap.id, error));
                        continue;
                    }
                };
                let updated = bianmin_store::on_tx!(&mut tx, conn => {
                    sqlx::query(
                        "UPDATE persons SET data_key = $1, kek_version = $2 \
                         WHERE id = $3 AND data_key = $4",
                    )
                    .bind(wrapped.to_bytes())
                    .bind(i64::from(wrapped.kek_version))
                    .bind(rewrap.id)
                    .bind(&rewrap.stored)
                    .execute(conn)
                    .await?
                    .rows_affected()
                });
                report.rewrapped += updated;
            }
            tx.commit().await?;
        }

        let entry = AuditEntry {
            actor: actor.to_owned(),
            action: actions::REWRAP.to_owned(),
            target: "persons".to_owned(),
            purpose: Some("key-encryption key rotation".to_owned()),
            details: serde_json::json!({
                "kek_version": report.kek_version,
                "rewrapped": report.rewrapped,
                "already_current": report.already_current,
                "failed": report.failed.len(),
                "failed_persons": report.failed.iter().map(|(id, _)| id).collect::<Vec<_>>(),
            }),
            occurred_at: now,
        };
        let mut tx = self.store.begin_write().await?;
        tx.append_audit(&self.audit_key, &entry).await?;
        tx.commit().await?;
        Ok(report)
    }
}

/// Asks the key service to rewrap each key of the batch, on a blocking thread: an HSM or
/// cloud KMS answers over the network, and a batch of such calls must not hold up the
/// async runtime.
async fn rewrap_batch(kms: Arc<dyn Kms>, batch: Vec<(Uuid, Vec<u8>)>) -> Result<Vec<Rewrap>> {
    let work = tokio::task::spawn_blocking(move || {
        batch
            .into_iter()
            .map(|(id, stored)| {
                let outcome = WrappedKey::from_bytes(&stored)
                    .and_then(|wrapped| kms.rewrap(&wrapped, id.as_bytes()));
                Rewrap {
                    id,
                    stored,
                    outcome,
                }
            })
            .collect()
    });
    match work.await {
        Ok(rewraps) => Ok(rewraps),
        // A panic inside the key service is a bug there: let it surface as the panic it was.
        Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
        Err(_) => Err(PeopleError::Interrupted),
    }
}
