//! What an attacker with the database but not the keys sees of consents: the consent tables,
//! the audit log and the outbox never hold a resident id, nor the artefact's subject digest
//! (from which trying every resident id recovers it), nor the artefact itself: it is stored
//! sealed under the person's data key.

mod common;

use base64::Engine as _;
use bianmin_consent::{Purpose, kinds};
use bianmin_exchange::ConsentArtefact;
use bianmin_store::Backend;
use common::{Fixture, HPF_SERVICE, OPERATOR, at, request};
use uuid::Uuid;

#[tokio::test]
async fn no_resident_id_digest_or_artefact_is_stored_in_clear() {
    let f = Fixture::new().await;
    let zhang = &f.zhang;
    let mut ids = Vec::new();
    let mut needles: Vec<(String, Vec<u8>)> = vec![(
        "resident id".into(),
        zhang.resident_id.as_str().as_bytes().to_vec(),
    )];
    for (purpose, kind) in [
        (Purpose::ServiceHpfQuery, kinds::HPF_ACCOUNT),
        (Purpose::LoanCreditReport, kinds::CREDIT_REPORT),
    ] {
        let consent = f
            .ledger
            .request(&request(zhang.id, purpose, &[kind]), OPERATOR, at(0))
            .await
            .unwrap();
        f.ledger
            .approve(
                consent.id,
                zhang.id,
                &zhang.resident_id,
                &zhang.actor,
                at(1),
            )
            .await
            .unwrap();
        let signed = f
            .ledger
            .authorize_use(
                consent.id,
                zhang.id,
                kind,
                HPF_SERVICE,
                Uuid::now_v7(),
                at(2),
            )
            .await
            .unwrap();

        // The artefact handed out names its subject by digest, never by resident id.
        let (payload, signature) = signed.header.split_once('.').unwrap();
        let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap();
        let json = String::from_utf8(json).unwrap();
        let digest = ConsentArtefact::subject_digest(&consent.id, &zhang.resident_id);
        assert_eq!(signed.artefact.subject_digest, digest);
        assert!(json.contains(&digest), "{json}");
        assert!(!json.contains(zhang.resident_id.as_str()), "{json}");

        // None of it may be found at rest: not the digest (in either case, as text or as
        // the hex a BLOB/BYTEA dump shows), not the artefact, its payload or its signature.
        needles.push((
            format!("subject digest of {purpose}"),
            digest.clone().into(),
        ));
        needles.push((
            format!("subject digest of {purpose}, upper case"),
            digest.to_uppercase().into(),
        ));
        needles.push((
            format!("subject digest of {purpose}, as bytes"),
            hex::decode(&digest).unwrap(),
        ));
        needles.push((
            format!("artefact of {purpose}"),
            signed.header.clone().into(),
        ));
        needles.push((format!("artefact payload of {purpose}"), payload.into()));
        needles.push((format!("artefact signature of {purpose}"), signature.into()));
        needles.push((format!("artefact JSON of {purpose}"), json.into()));
        ids.push(consent.id);
    }
    f.ledger
        .revoke(ids[0], zhang.id, &zhang.actor, at(3))
        .await
        .unwrap();

    // Both artefacts are stored, sealed.
    let sealed: Vec<Vec<u8>> = bianmin_store::on_pool!(f.store(), pool => {
        sqlx::query_scalar(
            "SELECT signed_artefact_enc FROM consents WHERE signed_artefact_enc IS NOT NULL",
        )
        .fetch_all(pool)
        .await
        .unwrap()
    });
    assert_eq!(sealed.len(), 2);

    match f.store().backend() {
        Backend::Sqlite => {
            let path = f.db.url.strip_prefix("sqlite:").unwrap();
            let mut bytes = std::fs::read(path).unwrap();
            bytes.extend(std::fs::read(format!("{path}-wal")).unwrap_or_default());
            // Positive controls: the consents, their uses, their audit entries and their
            // sealed artefacts are in the files, so the search below looks in the right place.
            for (what, needle) in [
                ("a consent's id", ids[0].as_bytes().as_slice()),
                ("a purpose", b"LOAN_CREDIT_REPORT".as_slice()),
                ("a use's service", HPF_SERVICE.as_bytes()),
                ("an audit entry", b"consent.revoke".as_slice()),
                ("a sealed artefact", sealed[0].as_slice()),
            ] {
                assert!(contains(&bytes, needle), "{what} not in the files");
            }
            for (what, needle) in &needles {
                assert!(
                    !contains(&bytes, needle),
                    "{what} found in the SQLite file or WAL"
                );
            }
        }
        Backend::Postgres => {
            let mut rows = Vec::new();
            for query in [
                "SELECT row_to_json(t)::text FROM consents t",
                "SELECT row_to_json(t)::text FROM consent_uses t",
                "SELECT row_to_json(t)::text FROM audit_log t",
                "SELECT row_to_json(t)::text FROM outbox_events t",
            ] {
                rows.extend(bianmin_store::on_pool!(f.store(), pool => {
                    sqlx::query_scalar::<_, String>(query)
                        .fetch_all(pool)
                        .await
                        .unwrap()
                }));
            }
            let dump = rows.join("\n");
            // Positive controls, as above; BYTEA renders as hex in JSON.
            assert!(dump.contains(&ids[0].to_string()));
            assert!(dump.contains("SERVICE_HPF_QUERY") && dump.contains("LOAN_CREDIT_REPORT"));
            assert!(dump.contains(HPF_SERVICE));
            assert!(dump.contains("consent.revoke"));
            assert!(dump.contains(&hex::encode(&sealed[0])));
            for (what, needle) in &needles {
                if let Ok(text) = std::str::from_utf8(needle) {
                    assert!(!dump.contains(text), "{what} found in PostgreSQL rows");
                }
                assert!(
                    !dump.contains(&hex::encode(needle)),
                    "{what} found as hex in PostgreSQL rows"
                );
            }
        }
    }
    f.assert_audit_chain_intact().await;
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}
