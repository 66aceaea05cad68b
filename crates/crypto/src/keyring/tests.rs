use std::sync::Arc;

use chrono::TimeZone as _;

use super::*;
use crate::envelope::{FieldAad, open_str, seal_str};
use crate::test_support::assert_no_key_material;

const ALICE: &[u8] = b"person:0190f3a4-7d1c-7000-8000-000000000042";
const BOB: &[u8] = b"person:0190f3a4-7d1c-7000-8000-000000000043";

fn at(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, day, 2, 0, 0)
        .single()
        .unwrap()
}

/// Every key in a key file's text: the hex strings between quotes.
fn keys_in(toml_text: &str) -> Vec<Vec<u8>> {
    toml_text
        .lines()
        .filter_map(|line| line.split_once(" = \""))
        .filter_map(|(_, value)| hex::decode(value.trim_end_matches('"')).ok())
        .collect()
}

#[test]
fn wrapped_data_key_unwraps_to_the_same_key() {
    let keyring = LocalKeyring::generate_new(at(1));
    let data_key = DataKey::generate();
    let wrapped = keyring.wrap(&data_key, ALICE).unwrap();
    assert_eq!(wrapped.kek_version, 1);
    assert_eq!(wrapped.bytes.len(), 12 + 16 + 16);

    let unwrapped = keyring.unwrap(&wrapped, ALICE).unwrap();
    assert_eq!(unwrapped.expose_bytes(), data_key.expose_bytes());
}

#[test]
fn wrapped_key_survives_storage_as_bytes() {
    let keyring = LocalKeyring::generate_new(at(1));
    let data_key = DataKey::generate();
    let here = FieldAad::new("person", "name", ALICE);
    let sealed_name = seal_str(&data_key, &here, "张三");

    let stored = keyring.wrap(&data_key, ALICE).unwrap().to_bytes();
    assert_eq!(stored.len(), 1 + 4 + 44);
    assert_eq!(stored[..5], [1, 0, 0, 0, 1]);

    let restored = keyring
        .unwrap(&WrappedKey::from_bytes(&stored).unwrap(), ALICE)
        .unwrap();
    assert_eq!(open_str(&restored, &here, &sealed_name).unwrap(), "张三");
}

#[test]
fn stored_wrapped_key_of_wrong_layout_is_refused() {
    assert_eq!(
        WrappedKey::from_bytes(&[]),
        Err(CryptoError::Malformed("wrapped data key is empty"))
    );
    assert_eq!(
        WrappedKey::from_bytes(&[2, 0, 0, 0, 1, 9]),
        Err(CryptoError::Malformed(
            "wrapped data key has an unknown format version"
        ))
    );
    for truncated in [&[1][..], &[1, 0, 0, 0], &[1, 0, 0, 0, 1]] {
        assert_eq!(
            WrappedKey::from_bytes(truncated),
            Err(CryptoError::Malformed("wrapped data key is truncated"))
        );
    }
}

#[test]
fn wrapped_key_does_not_unwrap_for_another_person() {
    let keyring = LocalKeyring::generate_new(at(1));
    let wrapped = keyring.wrap(&DataKey::generate(), ALICE).unwrap();
    assert_eq!(
        keyring.unwrap(&wrapped, BOB).err(),
        Some(CryptoError::DecryptionFailed)
    );
    assert_eq!(
        keyring.unwrap(&wrapped, b"").err(),
        Some(CryptoError::DecryptionFailed)
    );
}

#[test]
fn tampered_wrapped_key_does_not_unwrap() {
    let keyring = LocalKeyring::generate_new(at(1));
    let wrapped = keyring.wrap(&DataKey::generate(), ALICE).unwrap();
    for index in 0..wrapped.bytes.len() {
        let mut tampered = wrapped.clone();
        tampered.bytes[index] ^= 0x01;
        assert_eq!(
            keyring.unwrap(&tampered, ALICE).err(),
            Some(CryptoError::DecryptionFailed),
            "byte {index} flipped"
        );
    }
}

#[test]
fn relabelling_the_version_does_not_unwrap() {
    let mut keyring = LocalKeyring::generate_new(at(1));
    let mut wrapped = keyring.wrap(&DataKey::generate(), ALICE).unwrap();
    keyring.rotate(at(2)).unwrap();
    wrapped.kek_version = 2;
    assert_eq!(
        keyring.unwrap(&wrapped, ALICE).err(),
        Some(CryptoError::DecryptionFailed)
    );
}

#[test]
fn version_the_keyring_does_not_hold_is_reported() {
    let keyring = LocalKeyring::generate_new(at(1));
    let mut wrapped = keyring.wrap(&DataKey::generate(), ALICE).unwrap();
    wrapped.kek_version = 7;
    assert_eq!(
        keyring.unwrap(&wrapped, ALICE).err(),
        Some(CryptoError::UnknownKeyVersion { version: 7 })
    );
}

#[test]
fn keys_wrapped_before_a_rotation_still_unwrap_and_new_ones_use_the_new_version() {
    let mut keyring = LocalKeyring::generate_new(at(1));
    let old_key = DataKey::generate();
    let old = keyring.wrap(&old_key, ALICE).unwrap();

    assert_eq!(keyring.rotate(at(2)).unwrap(), 2);
    assert_eq!(keyring.current_version(), 2);
    assert_eq!(keyring.min_decrypt_version(), 1);

    assert_eq!(
        keyring.unwrap(&old, ALICE).unwrap().expose_bytes(),
        old_key.expose_bytes()
    );
    assert_eq!(
        keyring.wrap(&DataKey::generate(), BOB).unwrap().kek_version,
        2
    );
}

#[test]
fn rewrap_moves_a_key_to_the_current_version_so_the_old_one_can_retire() {
    let mut keyring = LocalKeyring::generate_new(at(1));
    let data_key = DataKey::generate();
    let under_v1 = keyring.wrap(&data_key, ALICE).unwrap();
    keyring.rotate(at(2)).unwrap();

    let under_v2 = keyring.rewrap(&under_v1, ALICE).unwrap();
    assert_eq!(under_v2.kek_version, 2);
    assert_ne!(under_v2.bytes, under_v1.bytes);

    keyring.retire_below(2).unwrap();
    assert_eq!(
        keyring.unwrap(&under_v2, ALICE).unwrap().expose_bytes(),
        data_key.expose_bytes()
    );
    assert_eq!(
        keyring.unwrap(&under_v1, ALICE).err(),
        Some(CryptoError::KeyVersionRetired { version: 1 })
    );
}

#[test]
fn rewrap_keeps_the_binding_to_the_person() {
    let mut keyring = LocalKeyring::generate_new(at(1));
    let under_v1 = keyring.wrap(&DataKey::generate(), ALICE).unwrap();
    keyring.rotate(at(2)).unwrap();
    assert_eq!(
        keyring.rewrap(&under_v1, BOB).err(),
        Some(CryptoError::DecryptionFailed)
    );
    let under_v2 = keyring.rewrap(&under_v1, ALICE).unwrap();
    assert_eq!(
        keyring.unwrap(&under_v2, BOB).err(),
        Some(CryptoError::DecryptionFailed)
    );
}

#[test]
fn after_retiring_version_1_its_keys_fail_and_version_2_keys_work() {
    let mut keyring = LocalKeyring::generate_new(at(1));
    let under_v1 = keyring.wrap(&DataKey::generate(), ALICE).unwrap();
    keyring.rotate(at(2)).unwrap();
    let under_v2 = keyring.wrap(&DataKey::generate(), BOB).unwrap();

    keyring.retire_below(2).unwrap();
    assert_eq!(keyring.min_decrypt_version(), 2);
    assert_eq!(
        keyring.unwrap(&under_v1, ALICE).err(),
        Some(CryptoError::KeyVersionRetired { version: 1 })
    );
    assert_eq!(
        keyring.rewrap(&under_v1, ALICE).err(),
        Some(CryptoError::KeyVersionRetired { version: 1 })
    );
    assert!(keyring.unwrap(&under_v2, BOB).is_ok());
}

#[test]
fn the_current_version_cannot_be_retired() {
    let mut keyring = LocalKeyring::generate_new(at(1));
    keyring.rotate(at(2)).unwrap();
    assert_eq!(
        keyring.retire_below(3),
        Err(CryptoError::WouldRetireCurrentVersion { current: 2 })
    );
    assert_eq!(keyring.min_decrypt_version(), 1);
    // Retiring everything below the current version is the most allowed.
    keyring.retire_below(2).unwrap();
    let wrapped = keyring.wrap(&DataKey::generate(), ALICE).unwrap();
    assert!(keyring.unwrap(&wrapped, ALICE).is_ok());
}

#[test]
fn retirement_never_moves_backwards() {
    let mut keyring = LocalKeyring::generate_new(at(1));
    keyring.rotate(at(2)).unwrap();
    keyring.rotate(at(3)).unwrap();
    keyring.retire_below(3).unwrap();
    keyring.retire_below(1).unwrap();
    assert_eq!(keyring.min_decrypt_version(), 3);
}

#[test]
fn versions_list_creation_times_and_retirement() {
    let mut keyring = LocalKeyring::generate_new(at(1));
    keyring.rotate(at(2)).unwrap();
    keyring.rotate(at(3)).unwrap();
    keyring.retire_below(2).unwrap();
    assert_eq!(
        keyring.versions(),
        [
            KekInfo {
                version: 1,
                created_at: at(1),
                retired: true
            },
            KekInfo {
                version: 2,
                created_at: at(2),
                retired: false
            },
            KekInfo {
                version: 3,
                created_at: at(3),
                retired: false
            },
        ]
    );
}

#[test]
fn a_keyring_serves_as_a_shared_kms() {
    let kms: Arc<dyn Kms> = Arc::new(LocalKeyring::generate_new(at(1)));
    let data_key = DataKey::generate();
    let wrapped = kms.wrap(&data_key, ALICE).unwrap();
    let worker = Arc::clone(&kms);
    let unwrapped = std::thread::spawn(move || {
        worker
            .unwrap(&wrapped, ALICE)
            .map(|key| *key.expose_bytes())
    })
    .join()
    .unwrap()
    .unwrap();
    assert_eq!(&unwrapped, data_key.expose_bytes());
}

#[test]
fn audit_key_tags_and_verifies() {
    let keyring = LocalKeyring::generate_new(at(1));
    let audit = keyring.audit_key();
    let tag = audit.tag(b"entry 1");
    assert!(audit.verify(b"entry 1", &tag));
    assert!(!audit.verify(b"entry 2", &tag));
    assert!(
        !LocalKeyring::generate_new(at(1))
            .audit_key()
            .verify(b"entry 1", &tag)
    );
}

#[test]
fn blind_index_and_audit_keys_are_independent() {
    let keyring = LocalKeyring::generate_new(at(1));
    assert_ne!(
        keyring.blind_index().expose_bytes(),
        keyring.audit_key().expose_bytes()
    );
}

#[test]
fn rotation_changes_neither_blind_indexes_nor_audit_tags() {
    let mut keyring = LocalKeyring::generate_new(at(1));
    let index = keyring
        .blind_index()
        .index("resident_id", "11010119900307123X");
    let tag = keyring.audit_key().tag(b"entry");
    keyring.rotate(at(2)).unwrap();
    keyring.retire_below(2).unwrap();
    assert_eq!(
        keyring
            .blind_index()
            .index("resident_id", "11010119900307123X"),
        index
    );
    assert!(keyring.audit_key().verify(b"entry", &tag));
}

// ------------------------------------------------------------------ key file

#[test]
fn generated_key_file_reads_back_as_the_same_keyring() {
    let keyring = LocalKeyring::generate_new(at(1));
    let text = keyring.to_toml();
    let again = LocalKeyring::from_toml_str(&text).unwrap();
    assert_eq!(*again.to_toml(), *text);
    assert_eq!(again.current_version(), 1);
    assert_eq!(again.min_decrypt_version(), 1);
    // 1 KEK + blind-index key + audit key.
    assert_eq!(keys_in(&text).len(), 3);
    let wrapped = keyring.wrap(&DataKey::generate(), ALICE).unwrap();
    assert!(again.unwrap(&wrapped, ALICE).is_ok());
}

#[test]
fn key_file_has_the_documented_layout() {
    let text = "\
        current = 2\n\
        min_decrypt_version = 2\n\
        blind_index_key = \"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\"\n\
        audit_key = \"202122232425262728292A2B2C2D2E2F303132333435363738393A3B3C3D3E3F\"\n\
        [[kek]]\n\
        version = 1\n\
        key = \"404142434445464748494a4b4c4d4e4f\"\n\
        created_at = \"2026-01-01T10:00:00+08:00\"\n\
        [[kek]]\n\
        version = 2\n\
        key = \"505152535455565758595a5b5c5d5e5f\"\n\
        created_at = \"2026-07-01T02:00:00Z\"\n";
    let keyring = LocalKeyring::from_toml_str(text).unwrap();
    assert_eq!(keyring.current_version(), 2);
    assert_eq!(keyring.min_decrypt_version(), 2);
    assert_eq!(
        keyring.versions()[0],
        KekInfo {
            version: 1,
            created_at: at(1),
            retired: true
        }
    );
    assert_eq!(
        keyring.blind_index().index("phone", "13800138000"),
        BlindIndexer::new(&core::array::from_fn(|i| u8::try_from(i).unwrap()))
            .index("phone", "13800138000")
    );
    assert_eq!(
        keyring.audit_key().expose_bytes(),
        &core::array::from_fn::<u8, 32, _>(|i| u8::try_from(i + 0x20).unwrap())
    );
}

#[test]
fn invalid_key_files_are_refused_without_quoting_them() {
    const KEK: &str = "404142434445464748494a4b4c4d4e4f";
    const BLIND: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    const AUDIT: &str = "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f";
    let file = |current: &str, min: &str, blind: &str, audit: &str, keks: &str| {
        format!(
            "current = {current}\nmin_decrypt_version = {min}\nblind_index_key = \"{blind}\"\n\
             audit_key = \"{audit}\"\n{keks}"
        )
    };
    let kek = |version: u32, key: &str, created_at: &str| {
        format!("[[kek]]\nversion = {version}\nkey = \"{key}\"\ncreated_at = \"{created_at}\"\n")
    };
    let v1 = kek(1, KEK, "2026-01-01T00:00:00Z");
    let cases = [
        (
            format!("{} {KEK}", file("1", "1", BLIND, AUDIT, &v1)),
            "not valid keyring TOML",
        ),
        (
            format!("{}typo = 1\n", file("1", "1", BLIND, AUDIT, "")) + &v1,
            "not valid keyring TOML",
        ),
        (file("1", "1", BLIND, AUDIT, ""), "not valid keyring TOML"),
        (
            file(
                "1",
                "1",
                BLIND,
                AUDIT,
                &kek(1, &KEK[2..], "2026-01-01T00:00:00Z"),
            ),
            "kek key must be 32 hex digits",
        ),
        (
            file("1", "1", BLIND, AUDIT, &kek(1, KEK, "1 January 2026")),
            "created_at must be an RFC 3339 timestamp",
        ),
        (
            file("0", "1", BLIND, AUDIT, &kek(0, KEK, "2026-01-01T00:00:00Z")),
            "kek versions start at 1",
        ),
        (
            file("1", "1", BLIND, AUDIT, &format!("{v1}{v1}")),
            "lists a kek version twice",
        ),
        (
            file("1", "1", BLIND, AUDIT, &kek(2, KEK, "2026-01-01T00:00:00Z")),
            "current must be the newest",
        ),
        (
            file("2", "1", BLIND, AUDIT, &v1),
            "current must be the newest",
        ),
        (
            file("1", "0", BLIND, AUDIT, &v1),
            "min_decrypt_version must be between 1 and current",
        ),
        (
            file("1", "2", BLIND, AUDIT, &v1),
            "min_decrypt_version must be between 1 and current",
        ),
        (
            file("1", "1", &BLIND[..62], AUDIT, &v1),
            "blind_index_key must be 64 hex digits",
        ),
        (
            file("1", "1", BLIND, &format!("{}zz", &AUDIT[..62]), &v1),
            "audit_key must be 64 hex digits",
        ),
        (
            file("1", "1", BLIND, BLIND, &v1),
            "blind_index_key and audit_key must differ",
        ),
    ];
    for (text, expected) in cases {
        let Err(error) = LocalKeyring::from_toml_str(&text) else {
            panic!("accepted:\n{text}");
        };
        let message = error.to_string();
        assert!(message.contains(expected), "{message:?} for\n{text}");
        for key in [KEK, BLIND, AUDIT] {
            assert_no_key_material(&message, &hex::decode(key).unwrap());
            assert_no_key_material(&format!("{error:?}"), &hex::decode(key).unwrap());
        }
    }
}

#[test]
fn keyring_is_read_from_the_environment_variable_text() {
    assert!(LocalKeyring::from_env_value(None).unwrap().is_none());

    let keyring = LocalKeyring::generate_new(at(1));
    let text = keyring.to_toml();
    let from_env = LocalKeyring::from_env_value(Some(OsString::from(text.as_str())))
        .unwrap()
        .unwrap();
    assert_eq!(*from_env.to_toml(), *text);

    assert_eq!(
        LocalKeyring::from_env_value(Some(OsString::from("current = 1"))).err(),
        Some(CryptoError::Malformed(
            "key file is not valid keyring TOML: expected current, min_decrypt_version, \
             blind_index_key, audit_key and [[kek]] tables of version, key and created_at"
        ))
    );
}

#[cfg(unix)]
#[test]
fn keyring_in_a_non_utf8_environment_variable_is_refused() {
    use std::os::unix::ffi::OsStringExt as _;
    assert_eq!(
        LocalKeyring::from_env_value(Some(OsString::from_vec(vec![0xff, 0xfe]))).err(),
        Some(CryptoError::Malformed("BIANMIN_KEYRING is not UTF-8"))
    );
}

#[test]
fn saved_key_file_loads_back_with_every_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyring.toml");

    let mut keyring = LocalKeyring::generate_new(at(1));
    let under_v1 = keyring.wrap(&DataKey::generate(), ALICE).unwrap();
    keyring.rotate(at(2)).unwrap();
    let under_v2 = keyring.wrap(&DataKey::generate(), BOB).unwrap();
    keyring.save(&path).unwrap();

    let loaded = LocalKeyring::load(&path).unwrap();
    assert_eq!(*loaded.to_toml(), *keyring.to_toml());
    assert_eq!(loaded.versions(), keyring.versions());
    assert!(loaded.unwrap(&under_v1, ALICE).is_ok());
    assert!(loaded.unwrap(&under_v2, BOB).is_ok());
    assert_eq!(
        loaded
            .blind_index()
            .index("resident_id", "11010119900307123X"),
        keyring
            .blind_index()
            .index("resident_id", "11010119900307123X")
    );
}

#[test]
fn saving_replaces_the_file_and_leaves_no_temporary_behind() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyring.toml");
    let mut keyring = LocalKeyring::generate_new(at(1));
    keyring.save(&path).unwrap();
    keyring.rotate(at(2)).unwrap();
    keyring.retire_below(2).unwrap();
    keyring.save(&path).unwrap();

    let loaded = LocalKeyring::load(&path).unwrap();
    assert_eq!(loaded.current_version(), 2);
    assert_eq!(loaded.min_decrypt_version(), 2);
    let names: Vec<_> = fs_names(dir.path());
    assert_eq!(names, ["keyring.toml"]);
}

fn fs_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[test]
fn loading_a_missing_file_says_so() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        LocalKeyring::load(dir.path().join("absent.toml")).err(),
        Some(CryptoError::KeyFileIo(std::io::ErrorKind::NotFound))
    );
}

#[test]
fn saving_into_a_missing_directory_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no such dir").join("keyring.toml");
    assert_eq!(
        LocalKeyring::generate_new(at(1)).save(&path).err(),
        Some(CryptoError::KeyFileIo(std::io::ErrorKind::NotFound))
    );
}

#[cfg(unix)]
mod permissions {
    use std::fs;
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn saved_key_file_is_readable_by_its_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyring.toml");
        LocalKeyring::generate_new(at(1)).save(&path).unwrap();
        assert_eq!(mode(&path), 0o600);
    }

    #[test]
    fn saving_over_a_looser_file_tightens_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyring.toml");
        fs::write(&path, "placeholder").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        LocalKeyring::generate_new(at(1)).save(&path).unwrap();
        assert_eq!(mode(&path), 0o600);
    }

    #[test]
    fn key_file_other_users_can_access_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyring.toml");
        LocalKeyring::generate_new(at(1)).save(&path).unwrap();
        for exposed in [0o644, 0o604, 0o602, 0o666] {
            fs::set_permissions(&path, fs::Permissions::from_mode(exposed)).unwrap();
            assert_eq!(
                LocalKeyring::load(&path).err(),
                Some(CryptoError::KeyFileExposed),
                "mode {exposed:o}"
            );
        }
    }

    #[test]
    fn key_file_shared_with_the_group_only_is_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyring.toml");
        LocalKeyring::generate_new(at(1)).save(&path).unwrap();
        for shared in [0o400, 0o440, 0o640] {
            fs::set_permissions(&path, fs::Permissions::from_mode(shared)).unwrap();
            assert!(LocalKeyring::load(&path).is_ok(), "mode {shared:o}");
        }
    }
}

// ------------------------------------------------------------------ no key in Debug

#[test]
fn debug_of_key_holding_types_shows_no_key_material() {
    let mut keyring = LocalKeyring::generate_new(at(1));
    keyring.rotate(at(2)).unwrap();
    let text = keyring.to_toml();
    let keys = keys_in(&text);
    assert_eq!(keys.len(), 4, "two KEKs, blind-index key, audit key");

    let data_key = DataKey::generate();
    let wrapped = keyring.wrap(&data_key, ALICE).unwrap();
    let renderings = [
        format!("{keyring:?}"),
        format!("{keyring:#?}"),
        format!("{:?}", keyring.blind_index()),
        format!("{:?}", keyring.audit_key()),
        format!("{data_key:?}"),
        format!("{wrapped:?}"),
    ];
    assert_eq!(
        renderings[0],
        "LocalKeyring { versions: [1, 2], current: 2, min_decrypt_version: 1, .. }"
    );
    assert_eq!(renderings[3], "AuditKey { .. }");
    assert_eq!(renderings[5], "WrappedKey { kek_version: 2, len: 44 }");
    for rendered in &renderings {
        for key in keys
            .iter()
            .map(Vec::as_slice)
            .chain([&data_key.expose_bytes()[..]])
        {
            assert_no_key_material(rendered, key);
        }
    }
}
