//! The key file: its TOML layout, and reading and writing it without exposing
//! the keys on disk or in error messages.
//!
//! Parse errors of the TOML library quote the offending line, which may hold a
//! key, so they are dropped and replaced by fixed messages. Key text is kept in
//! zeroizing buffers; copies the TOML parser makes internally are outside this
//! crate's control, so wiping is best effort.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use zeroize::{Zeroize, Zeroizing};

use super::{AUDIT_KEY_LEN, AuditKey, Kek, LocalKeyring};
use crate::blind_index::{BLIND_INDEX_KEY_LEN, BlindIndexer};
use crate::error::CryptoError;
use crate::random::random_bytes;
use crate::sm4gcm::SM4_KEY_LEN;

/// The key file as written, before validation.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    current: u32,
    min_decrypt_version: u32,
    blind_index_key: String,
    audit_key: String,
    kek: Vec<KekEntry>,
}

impl Drop for KeyFile {
    fn drop(&mut self) {
        self.blind_index_key.zeroize();
        self.audit_key.zeroize();
    }
}

/// One `[[kek]]` table.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KekEntry {
    version: u32,
    key: String,
    created_at: String,
}

impl Drop for KekEntry {
    fn drop(&mut self) {
        self.key.zeroize();
    }
}

/// Parses and validates key-file text.
pub(super) fn parse(text: &str) -> Result<LocalKeyring, CryptoError> {
    let raw: KeyFile = toml::from_str(text).map_err(|_| {
        CryptoError::Malformed(
            "key file is not valid keyring TOML: expected current, min_decrypt_version, \
             blind_index_key, audit_key and [[kek]] tables of version, key and created_at",
        )
    })?;

    let mut keks = BTreeMap::new();
    for entry in &raw.kek {
        if entry.version == 0 {
            return Err(CryptoError::Malformed("key file: kek versions start at 1"));
        }
        let kek = Kek {
            key: decode_hex::<SM4_KEY_LEN>(
                &entry.key,
                "key file: kek key must be 32 hex digits (16 bytes)",
            )?,
            created_at: DateTime::parse_from_rfc3339(&entry.created_at)
                .map_err(|_| {
                    CryptoError::Malformed("key file: kek created_at must be an RFC 3339 timestamp")
                })?
                .with_timezone(&Utc),
        };
        if keks.insert(entry.version, kek).is_some() {
            return Err(CryptoError::Malformed("key file lists a kek version twice"));
        }
    }
    if keks.last_key_value().map(|(&newest, _)| newest) != Some(raw.current) {
        return Err(CryptoError::Malformed(
            "key file: current must be the newest [[kek]] version",
        ));
    }
    if raw.min_decrypt_version == 0 || raw.min_decrypt_version > raw.current {
        return Err(CryptoError::Malformed(
            "key file: min_decrypt_version must be between 1 and current",
        ));
    }
    let blind_index_key = decode_hex::<BLIND_INDEX_KEY_LEN>(
        &raw.blind_index_key,
        "key file: blind_index_key must be 64 hex digits (32 bytes)",
    )?;
    let audit_key = decode_hex::<AUDIT_KEY_LEN>(
        &raw.audit_key,
        "key file: audit_key must be 64 hex digits (32 bytes)",
    )?;
    if *blind_index_key == *audit_key {
        return Err(CryptoError::Malformed(
            "key file: blind_index_key and audit_key must differ",
        ));
    }

    Ok(LocalKeyring {
        keks,
        current: raw.current,
        min_decrypt_version: raw.min_decrypt_version,
        blind_index: BlindIndexer::new(&blind_index_key),
        audit: AuditKey::new(&audit_key),
    })
}

/// Decodes exactly `N` bytes of hex (either case) into a zeroizing buffer.
fn decode_hex<const N: usize>(
    text: &str,
    wrong: &'static str,
) -> Result<Zeroizing<[u8; N]>, CryptoError> {
    let mut bytes = Zeroizing::new([0u8; N]);
    hex::decode_to_slice(text, bytes.as_mut_slice()).map_err(|_| CryptoError::Malformed(wrong))?;
    Ok(bytes)
}

/// The key file's text for `keyring`, in the layout [`parse`] reads.
pub(super) fn render(keyring: &LocalKeyring) -> Zeroizing<String> {
    // Sized up front so the buffer is never reallocated, which would leave an
    // unwiped copy of the keys behind.
    let mut out = Zeroizing::new(String::with_capacity(512 + 128 * keyring.keks.len()));
    out.push_str(
        "# Bianmin keyring. SECRET: keep it readable by its owner only (mode 0600)\n\
         # and out of version control and backups of the database.\n",
    );
    push_line(&mut out, format_args!("current = {}", keyring.current));
    push_line(
        &mut out,
        format_args!("min_decrypt_version = {}", keyring.min_decrypt_version),
    );
    push_hex_line(
        &mut out,
        "blind_index_key",
        keyring.blind_index.expose_bytes(),
    );
    push_hex_line(&mut out, "audit_key", keyring.audit.expose_bytes());
    for (version, kek) in &keyring.keks {
        out.push_str("\n[[kek]]\n");
        push_line(&mut out, format_args!("version = {version}"));
        push_hex_line(&mut out, "key", kek.key.as_slice());
        push_line(
            &mut out,
            format_args!(
                "created_at = \"{}\"",
                kek.created_at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
            ),
        );
    }
    out
}

fn push_line(out: &mut String, line: std::fmt::Arguments<'_>) {
    // Infallible: writing to a `String` never fails.
    let _ = writeln!(out, "{line}");
}

fn push_hex_line(out: &mut String, name: &str, key: &[u8]) {
    let hex_key = Zeroizing::new(hex::encode(key));
    push_line(out, format_args!("{name} = \"{}\"", hex_key.as_str()));
}

/// Reads the key file at `path`, refusing one that other users can access.
pub(super) fn read(path: &Path) -> Result<Zeroizing<String>, CryptoError> {
    let mut file = File::open(path).map_err(io_error)?;
    // Checked on the open file, not the path, so the file read is the file checked.
    let metadata = file.metadata().map_err(io_error)?;
    refuse_if_exposed(&metadata)?;
    let len = usize::try_from(metadata.len()).unwrap_or(0);
    let mut text = Zeroizing::new(String::with_capacity(len));
    file.read_to_string(&mut text).map_err(|error| {
        if error.kind() == io::ErrorKind::InvalidData {
            CryptoError::Malformed("key file is not UTF-8")
        } else {
            io_error(error)
        }
    })?;
    Ok(text)
}

#[cfg(unix)]
fn refuse_if_exposed(metadata: &fs::Metadata) -> Result<(), CryptoError> {
    use std::os::unix::fs::PermissionsExt as _;
    if metadata.permissions().mode() & 0o007 != 0 {
        return Err(CryptoError::KeyFileExposed);
    }
    Ok(())
}

#[cfg(not(unix))]
fn refuse_if_exposed(_metadata: &fs::Metadata) -> Result<(), CryptoError> {
    // No portable notion of "other users" here; protect the file with the
    // platform's ACLs.
    Ok(())
}

/// Writes `contents` to `path` through a 0600 temporary file and a rename.
pub(super) fn write_atomically(path: &Path, contents: &[u8]) -> Result<(), CryptoError> {
    let file_name = path
        .file_name()
        .ok_or(CryptoError::KeyFileIo(io::ErrorKind::InvalidInput))?;
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(file_name);
    temp_name.push(format!(".{}.tmp", hex::encode(random_bytes::<8>())));
    let temp = dir.join(temp_name);

    let written = write_new_private_file(&temp, contents)
        .and_then(|()| fs::rename(&temp, path))
        .and_then(|()| sync_dir(&dir));
    if written.is_err() {
        // Best effort: the temporary file may not exist, or already be renamed.
        let _ = fs::remove_file(&temp);
    }
    written.map_err(io_error)
}

fn write_new_private_file(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

/// Makes the rename durable: without it a crash can bring back the old file
/// after data keys were already rewrapped under the new version.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

fn io_error(error: io::Error) -> CryptoError {
    CryptoError::KeyFileIo(error.kind())
}
