//! The key hierarchy used the way the platform uses it: a key file on disk,
//! people's fields sealed under their own data keys, a KEK rotation carried
//! out with `load → rotate → save → rewrap → retire`, and crypto-shredding.
//! Only the public API is used; the "database" is a vector of rows.

use bianmin_crypto::{
    CryptoError, DataKey, FieldAad, Kms, LocalKeyring, WrappedKey, open_str, seal_str,
};
use chrono::{TimeZone as _, Utc};

/// What a store would keep for one person: no plaintext anywhere.
struct PersonRow {
    id: Vec<u8>,
    wrapped_key: Vec<u8>,
    id_number: Vec<u8>,
    id_number_index: [u8; 32],
}

fn onboard(keyring: &LocalKeyring, id: &str, id_number: &str) -> PersonRow {
    let data_key = DataKey::generate();
    let id = id.as_bytes().to_vec();
    PersonRow {
        wrapped_key: keyring.wrap(&data_key, &id).unwrap().to_bytes(),
        id_number: seal_str(
            &data_key,
            &FieldAad::new("person", "id_number", &id),
            id_number,
        ),
        id_number_index: keyring.blind_index().index("resident_id", id_number),
        id,
    }
}

fn read_id_number(keyring: &LocalKeyring, row: &PersonRow) -> Result<String, CryptoError> {
    let data_key = keyring.unwrap(&WrappedKey::from_bytes(&row.wrapped_key)?, &row.id)?;
    open_str(
        &data_key,
        &FieldAad::new("person", "id_number", &row.id),
        &row.id_number,
    )
}

fn find<'a>(
    keyring: &LocalKeyring,
    rows: &'a [PersonRow],
    id_number: &str,
) -> Option<&'a PersonRow> {
    let wanted = keyring.blind_index().index("resident_id", id_number);
    rows.iter().find(|row| row.id_number_index == wanted)
}

#[test]
fn rotation_runbook_keeps_every_person_readable_and_retires_the_old_key() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("keyring.toml");
    let day = |d| Utc.with_ymd_and_hms(2026, 1, d, 2, 0, 0).single().unwrap();

    // Install: a new key file.
    LocalKeyring::generate_new(day(1)).save(&key_file).unwrap();

    // The server runs and onboards people under KEK v1.
    let server = LocalKeyring::load(&key_file).unwrap();
    let mut rows = vec![
        onboard(&server, "p-1", "11010119900307123X"),
        onboard(&server, "p-2", "510104198801012345"),
    ];

    // `bianmin keys rotate`: load, rotate, save.
    let mut operator = LocalKeyring::load(&key_file).unwrap();
    assert_eq!(operator.rotate(day(2)).unwrap(), 2);
    operator.save(&key_file).unwrap();

    // Servers reload; old rows still read, new ones use v2.
    let server = LocalKeyring::load(&key_file).unwrap();
    rows.push(onboard(&server, "p-3", "440305200001011234"));
    assert_eq!(
        read_id_number(&server, &rows[0]).unwrap(),
        "11010119900307123X"
    );

    // The rewrap job touches only the wrapped keys below the current version.
    let sealed_before: Vec<Vec<u8>> = rows.iter().map(|row| row.id_number.clone()).collect();
    for row in &mut rows {
        let wrapped = WrappedKey::from_bytes(&row.wrapped_key).unwrap();
        if wrapped.kek_version < server.current_version() {
            row.wrapped_key = server.rewrap(&wrapped, &row.id).unwrap().to_bytes();
        }
    }
    assert!(rows.iter().all(|row| {
        WrappedKey::from_bytes(&row.wrapped_key)
            .unwrap()
            .kek_version
            == 2
    }));
    let sealed_after: Vec<Vec<u8>> = rows.iter().map(|row| row.id_number.clone()).collect();
    assert_eq!(sealed_after, sealed_before, "fields are never re-encrypted");

    // Retire v1 and save; everyone is still readable and findable.
    let mut operator = LocalKeyring::load(&key_file).unwrap();
    operator.retire_below(2).unwrap();
    operator.save(&key_file).unwrap();
    let server = LocalKeyring::load(&key_file).unwrap();
    assert_eq!(server.min_decrypt_version(), 2);
    let found = find(&server, &rows, "510104198801012345").unwrap();
    assert_eq!(found.id, b"p-2");
    assert_eq!(
        read_id_number(&server, found).unwrap(),
        "510104198801012345"
    );
    assert!(find(&server, &rows, "510104198801012346").is_none());
}

#[test]
fn a_backup_row_wrapped_under_a_retired_version_is_refused() {
    let day = |d| Utc.with_ymd_and_hms(2026, 1, d, 2, 0, 0).single().unwrap();
    let mut keyring = LocalKeyring::generate_new(day(1));
    let backup = onboard(&keyring, "p-1", "11010119900307123X");
    keyring.rotate(day(2)).unwrap();
    keyring.retire_below(2).unwrap();
    assert_eq!(
        read_id_number(&keyring, &backup),
        Err(CryptoError::KeyVersionRetired { version: 1 })
    );
}

#[test]
fn deleting_a_persons_wrapped_key_erases_their_fields_and_nobody_elses() {
    let keyring = LocalKeyring::generate_new(Utc::now());
    let mut erased = onboard(&keyring, "p-1", "11010119900307123X");
    let kept = onboard(&keyring, "p-2", "510104198801012345");

    // Crypto-shredding: the wrapped key goes; the sealed field may linger in a
    // backup, and nothing else in the hierarchy can open it.
    erased.wrapped_key.clear();
    assert!(read_id_number(&keyring, &erased).is_err());
    let other_persons_key = keyring
        .unwrap(
            &WrappedKey::from_bytes(&kept.wrapped_key).unwrap(),
            &kept.id,
        )
        .unwrap();
    assert_eq!(
        open_str(
            &other_persons_key,
            &FieldAad::new("person", "id_number", &erased.id),
            &erased.id_number
        ),
        Err(CryptoError::DecryptionFailed)
    );
    assert_eq!(
        read_id_number(&keyring, &kept).unwrap(),
        "510104198801012345"
    );
}

#[test]
fn a_wrapped_key_copied_to_another_person_does_not_open_their_fields() {
    let keyring = LocalKeyring::generate_new(Utc::now());
    let victim = onboard(&keyring, "p-1", "11010119900307123X");
    let mut attacker = onboard(&keyring, "p-2", "510104198801012345");
    attacker.wrapped_key.clone_from(&victim.wrapped_key);
    attacker.id_number.clone_from(&victim.id_number);
    assert_eq!(
        read_id_number(&keyring, &attacker),
        Err(CryptoError::DecryptionFailed)
    );
}

#[test]
fn nothing_from_the_key_file_shows_in_debug_output() {
    let mut keyring = LocalKeyring::generate_new(Utc::now());
    keyring.rotate(Utc::now()).unwrap();
    let text = keyring.to_toml();
    let rendered = format!(
        "{keyring:?} {:?} {:?}",
        keyring.blind_index(),
        keyring.audit_key()
    )
    .to_lowercase();
    let secrets: Vec<&str> = text
        .lines()
        .filter(|line| line.starts_with("key = ") || line.contains("_key = "))
        .filter_map(|line| line.split('"').nth(1))
        .collect();
    assert_eq!(secrets.len(), 4, "two KEKs, blind-index key, audit key");
    for secret in secrets {
        assert!(!rendered.contains(&secret[..16]), "{rendered}");
    }
}
