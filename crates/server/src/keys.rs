//! The deployment's keyring: where it comes from, and the key operations of `bianmin keys`.
//!
//! The keyring (key-encryption keys by version, the blind-index key, the audit key) is read from
//! `BIANMIN_KEYRING` (TOML content, for secret managers) or from the key file
//! (`keys.keyring_file`, default `<data_dir>/keys/keyring.toml`), which is generated with mode
//! 0600 on first start. Every instance of a deployment needs the same keyring.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use bianmin_crypto::{Kms, LocalKeyring};
use bianmin_store::{AuditEntry, Store, on_pool};
use chrono::{DateTime, Utc};
use serde_json::json;

use crate::config::Config;

/// Where the keyring of this configuration lives.
#[derive(Debug, Clone)]
pub enum KeyringSource {
    /// `BIANMIN_KEYRING` holds it; rotation happens where that secret is managed.
    Environment,
    /// A key file.
    File(PathBuf),
}

/// The key file path for `config`.
pub fn keyring_file(config: &Config) -> PathBuf {
    config
        .keys
        .keyring_file
        .clone()
        .unwrap_or_else(|| config.data_dir.join("keys").join("keyring.toml"))
}

/// Loads the keyring (creating the key file on first use) and says where it came from.
pub fn load(config: &Config, now: DateTime<Utc>) -> anyhow::Result<(LocalKeyring, KeyringSource)> {
    if let Some(keyring) =
        LocalKeyring::from_env().context("BIANMIN_KEYRING is not a valid keyring")?
    {
        return Ok((keyring, KeyringSource::Environment));
    }
    let path = keyring_file(config);
    if path.exists() {
        let keyring = LocalKeyring::load(&path)
            .with_context(|| format!("cannot load the keyring {}", path.display()))?;
        return Ok((keyring, KeyringSource::File(path)));
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let keyring = LocalKeyring::generate_new(now);
    keyring
        .save(&path)
        .with_context(|| format!("cannot write the new keyring {}", path.display()))?;
    tracing::info!(path = %path.display(), "generated a new keyring");
    Ok((keyring, KeyringSource::File(path)))
}

/// Who runs a CLI key operation, for the audit log.
pub fn cli_actor() -> String {
    let user = std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "unknown".into());
    format!("cli:{user}")
}

/// How many live data keys each key-encryption-key version still wraps.
pub async fn data_keys_by_version(store: &Store) -> anyhow::Result<BTreeMap<u32, i64>> {
    let rows: Vec<(i64, i64)> = on_pool!(store, pool => {
        sqlx::query_as(
            "SELECT kek_version, COUNT(*) FROM persons WHERE kek_version IS NOT NULL \
             GROUP BY kek_version ORDER BY kek_version",
        )
        .fetch_all(pool)
        .await?
    });
    Ok(rows
        .into_iter()
        .map(|(version, count)| (u32::try_from(version).unwrap_or(u32::MAX), count))
        .collect())
}

/// `bianmin keys status`.
pub async fn status(
    keyring: &LocalKeyring,
    source: &KeyringSource,
    store: &Store,
) -> anyhow::Result<String> {
    let in_use = data_keys_by_version(store).await?;
    let mut out = match source {
        KeyringSource::Environment => "keyring: BIANMIN_KEYRING\n".to_string(),
        KeyringSource::File(path) => format!("keyring: {}\n", path.display()),
    };
    out.push_str(&format!(
        "current version: {}   minimum decryption version: {}\n",
        keyring.current_version(),
        keyring.min_decrypt_version()
    ));
    out.push_str("version  created                  state     data keys\n");
    for info in keyring.versions() {
        let state = if info.version == keyring.current_version() {
            "current"
        } else if info.retired {
            "retired"
        } else {
            "active"
        };
        out.push_str(&format!(
            "{:>7}  {:<23}  {:<8}  {:>9}\n",
            info.version,
            info.created_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            state,
            in_use.get(&info.version).copied().unwrap_or(0)
        ));
    }
    Ok(out)
}

fn require_file(source: &KeyringSource) -> anyhow::Result<&PathBuf> {
    match source {
        KeyringSource::File(path) => Ok(path),
        KeyringSource::Environment => {
            bail!("the keyring comes from BIANMIN_KEYRING: change it where that secret is managed")
        }
    }
}

/// `bianmin keys rotate`: adds a key-encryption key and makes it current. The audit entry and
/// the key file change together: the entry commits only after the file is saved.
pub async fn rotate(
    keyring: &mut LocalKeyring,
    source: &KeyringSource,
    store: &Store,
    now: DateTime<Utc>,
) -> anyhow::Result<u32> {
    let path = require_file(source)?;
    let previous = keyring.current_version();
    let version = keyring.rotate(now)?;
    let mut tx = store.begin_write().await?;
    tx.append_audit(
        keyring.audit_key(),
        &audit_entry(
            "keys.rotate",
            json!({ "previous": previous, "current": version }),
            now,
        ),
    )
    .await?;
    keyring
        .save(path)
        .with_context(|| format!("cannot save {}", path.display()))?;
    tx.commit().await?;
    Ok(version)
}

/// `bianmin keys retire --below N`: refuses while any data key is still wrapped under an older
/// version (run `keys rewrap` first), so retiring can never make data unreadable.
pub async fn retire(
    keyring: &mut LocalKeyring,
    source: &KeyringSource,
    store: &Store,
    below: u32,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let path = require_file(source)?;
    let stranded: i64 = data_keys_by_version(store)
        .await?
        .range(..below)
        .map(|(_, count)| count)
        .sum();
    if stranded > 0 {
        bail!(
            "{stranded} data keys are still wrapped under versions below {below}: run `bianmin keys rewrap` first"
        );
    }
    keyring.retire_below(below)?;
    let mut tx = store.begin_write().await?;
    tx.append_audit(
        keyring.audit_key(),
        &audit_entry("keys.retire", json!({ "below": below }), now),
    )
    .await?;
    keyring
        .save(path)
        .with_context(|| format!("cannot save {}", path.display()))?;
    tx.commit().await?;
    Ok(())
}

fn audit_entry(action: &str, details: serde_json::Value, now: DateTime<Utc>) -> AuditEntry {
    AuditEntry {
        actor: cli_actor(),
        action: action.into(),
        target: "keyring".into(),
        purpose: None,
        details,
        occurred_at: now,
    }
}

/// Writes a new file that only its owner can read (keys), refusing to overwrite one.
#[cfg(unix)]
pub(crate) fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents.as_bytes())
}

/// Writes a new file (no permission model to apply on this platform).
#[cfg(not(unix))]
pub(crate) fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    std::fs::write(path, contents)
}
