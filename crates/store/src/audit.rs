//! The tamper-evident audit log: every read of personal data, consent change, admin action and
//! key operation appends an entry, and every entry is chained to the one before it with
//! HMAC-SM3 under the audit key ([`AuditKey`], held in the keyring, not in the database).
//!
//! # The chain
//!
//! Entry `n` (numbered from 1, without gaps) carries
//!
//! ```text
//! tag(n) = HMAC-SM3(audit key, "bianmin audit v1\0" || tag(n-1) || seq(n) as 8 bytes big-endian
//!                                || field(occurred_at) || field(actor) || field(action) || field(target)
//!                                || purpose || field(details))
//! ```
//!
//! where `tag(0)` is 32 zero bytes, `field(x)` is the byte length of `x` (8 bytes, big-endian)
//! followed by its UTF-8 bytes, `purpose` is `0x00` when absent and `0x01 || field(purpose)`
//! otherwise, `occurred_at` is RFC 3339 in UTC with exactly six fractional digits, and
//! `details` is canonical JSON: no whitespace, object keys sorted by their UTF-8 bytes, strings
//! escaped only where JSON requires it, and each number written as its exact decimal value,
//! `[-]digits e exponent` with no leading or trailing zeros in `digits` (`0` for zero). The
//! canonical form depends on the value only, not on how a backend spells it: PostgreSQL's
//! `JSONB` reorders keys and writes `1e16` as `10000000000000000`, and both still hash alike.
//!
//! The one-row table `audit_head` holds the last sequence number and its tag. An append updates
//! it *first*, inside the caller's transaction: in PostgreSQL that locks the row, so concurrent
//! appenders queue and the chain never forks; in SQLite it takes the database's write lock at
//! once. The entry and the new head commit or roll back with the caller's change, so a
//! rolled-back transaction leaves neither an entry nor a gap.
//!
//! # What a clean [`Store::verify_audit`] proves
//!
//! To someone who does not hold the audit key, a database change that edits, deletes, inserts
//! or reorders entries cannot go unnoticed: an edited entry's tag no longer matches; a deleted
//! one leaves a gap in the sequence; a forged one has no valid tag; a reordered one was tagged
//! with another sequence number and predecessor; a deleted tail leaves the head pointing past
//! the table. The first entry that fails is reported, with the reason.
//!
//! # What it does not prove
//!
//! - **Anyone holding the audit key can rewrite the chain**, from any entry onwards, and it
//!   will verify. The key lives in the keyring ([`bianmin_crypto::LocalKeyring`] or an HSM),
//!   apart from the database, so database administrators and a stolen backup cannot forge
//!   entries; whoever has both can.
//! - **Truncation together with a rewound head**: deleting the last entries *and* setting
//!   `audit_head` back to an earlier entry's `(seq, tag)` needs no key, and neither does
//!   restoring the whole database from an older backup. Both leave a shorter chain that
//!   verifies. **Recommendation:** export the head periodically (e.g. hourly, the newest
//!   entry's `seq` and `tag` from [`Store::audit_entries`]) to a witness outside the database's
//!   administrative domain (the bank's SIEM, a WORM store); a later check must find that entry
//!   with that tag. Anything before a witnessed entry is then fixed.
//! - That every audited act was logged (only that what was logged is intact), or that
//!   `occurred_at` is true: the caller's clock writes it.
//! - Confidentiality: entries are stored in clear, so `details` must never hold personal data.
//!
//! Replacing the audit key (it is not rotated with the KEKs) makes the existing chain
//! unverifiable with the new key; keep the old key for as long as the old entries must be
//! verifiable.

use bianmin_crypto::AuditKey;
use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::Row;
use sqlx::types::Json;

use crate::{Result, Store, Tx};

/// Domain separation: a tag of this chain never equals an HMAC-SM3 the audit key makes for
/// anything else, and a later layout can change the label.
const CHAIN_LABEL: &[u8; 17] = b"bianmin audit v1\0";

/// The predecessor of entry 1, as seeded in `audit_head` by the migration.
const GENESIS_TAG: [u8; 32] = [0; 32];

/// Rows read per query while verifying: memory stays bounded, and the runtime gets control back
/// between batches (HMAC-SM3 of a batch takes on the order of a millisecond).
const VERIFY_BATCH: i64 = 500;

/// An audited act, about to be appended to the chain.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// Who acted: `principal:<uuid>`, `cli:root`, `system`.
    pub actor: String,
    /// What was done, dotted: `person.reveal`, `person.erase`, `keys.rotate`, `consent.revoke`.
    pub action: String,
    /// What it was done to: `person:<uuid>`, `keyring`.
    pub target: String,
    /// The declared purpose of a read of personal data, when there is one.
    pub purpose: Option<String>,
    /// Further facts (field names, counts, key versions): never personal data in clear.
    pub details: Value,
    /// When it happened, by the caller's clock; stored (and hashed) truncated to microseconds,
    /// the precision both backends keep.
    pub occurred_at: DateTime<Utc>,
}

/// An entry as stored: its place in the chain and its tag.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAuditEntry {
    /// Position in the chain: 1, 2, 3, … without gaps.
    pub seq: i64,
    /// Who acted.
    pub actor: String,
    /// What was done.
    pub action: String,
    /// What it was done to.
    pub target: String,
    /// The declared purpose, if any.
    pub purpose: Option<String>,
    /// Further facts, as stored (PostgreSQL returns object keys in its own order).
    pub details: Value,
    /// When it happened, to the microsecond.
    pub occurred_at: DateTime<Utc>,
    /// HMAC-SM3 over the previous tag and this entry (see the module documentation).
    pub tag: Vec<u8>,
}

/// The outcome of [`Store::verify_audit`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditReport {
    /// Entries found intact, in order, before the first broken one (all of them when the chain
    /// is whole).
    pub entries_checked: u64,
    /// The first place where the chain fails, or `None` when it verifies.
    pub first_broken: Option<BrokenEntry>,
}

impl AuditReport {
    /// True when every entry and the head verified.
    pub fn is_intact(&self) -> bool {
        self.first_broken.is_none()
    }
}

/// Where and why the chain first fails to verify.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BrokenEntry {
    /// The first entry that cannot be trusted: the edited, forged or misplaced entry; for
    /// deleted entries (in the middle or at the tail), the first missing number; for a missing
    /// head, the number after the last entry; for a head that disagrees with the last entry,
    /// that entry.
    pub seq: i64,
    /// What is wrong, in English, e.g. `tag mismatch (row edited or reordered)`.
    pub reason: String,
}

impl Tx {
    /// Appends `entry` to the audit chain inside this transaction and returns its sequence
    /// number. The entry exists exactly when the transaction commits.
    ///
    /// Appending locks the chain head until the transaction ends, so audited transactions
    /// queue behind one another from their append to their commit; in PostgreSQL, append as
    /// late as the transaction allows. In SQLite, as with any write, a transaction that has
    /// read before its first write fails with "database is locked" if another writer committed
    /// in between; appending (or writing) first avoids that.
    pub async fn append_audit(&mut self, key: &AuditKey, entry: &AuditEntry) -> Result<i64> {
        let occurred_at = entry.occurred_at.trunc_subsecs(6);
        crate::on_tx!(self, conn => {
            // First statement: takes the lock before anything is computed from the head.
            let (seq, prev_tag): (i64, Vec<u8>) = sqlx::query_as(
                "UPDATE audit_head SET last_seq = last_seq + 1 WHERE id = 1 \
                 RETURNING last_seq, last_tag",
            )
            .fetch_one(&mut *conn)
            .await?;
            let tag = key.tag(&chain_input(
                &prev_tag,
                &Chained {
                    seq,
                    occurred_at,
                    actor: &entry.actor,
                    action: &entry.action,
                    target: &entry.target,
                    purpose: entry.purpose.as_deref(),
                    details: &entry.details,
                },
            ));
            sqlx::query(
                "INSERT INTO audit_log \
                 (seq, occurred_at, actor, action, target, purpose, details, tag) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(seq)
            .bind(occurred_at)
            .bind(&entry.actor)
            .bind(&entry.action)
            .bind(&entry.target)
            .bind(entry.purpose.as_deref())
            .bind(Json(&entry.details))
            .bind(&tag[..])
            .execute(&mut *conn)
            .await?;
            sqlx::query("UPDATE audit_head SET last_tag = $1 WHERE id = 1")
                .bind(&tag[..])
                .execute(&mut *conn)
                .await?;
            Ok(seq)
        })
    }
}

impl Store {
    /// Appends `entry` in a transaction of its own (see [`Tx::append_audit`]); for acts that
    /// change nothing else in the database, such as a read or a key operation.
    pub async fn append_audit(&self, key: &AuditKey, entry: &AuditEntry) -> Result<i64> {
        let mut tx = self.begin_write().await?;
        let seq = tx.append_audit(key, entry).await?;
        tx.commit().await?;
        Ok(seq)
    }

    /// Walks the whole chain in sequence order, in batches, and reports the first entry that
    /// fails to verify under `key` (see the module documentation for what that proves).
    ///
    /// Reads one consistent snapshot (a read-only repeatable-read transaction in PostgreSQL, a
    /// read transaction in SQLite), so appends running meanwhile neither block nor confuse it.
    /// A row that can no longer be decoded is reported as broken, not returned as an error;
    /// `Err` means the database could not be read.
    pub async fn verify_audit(&self, key: &AuditKey) -> Result<AuditReport> {
        let mut tx = self.begin().await?;
        if let Tx::Postgres(pg) = &mut tx {
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .execute(&mut **pg)
                .await?;
        }
        let head: Option<(i64, Vec<u8>)> = crate::on_tx!(&mut tx, conn => {
            sqlx::query_as("SELECT last_seq, last_tag FROM audit_head WHERE id = 1")
                .fetch_optional(conn)
                .await?
        });
        let mut walk = ChainWalk::new(key, head);
        // Below any sequence number, so rows forged with seq <= 0 are seen too.
        let mut after = i64::MIN;
        let broken = 'walk: loop {
            let batch = read_batch(&mut tx, after, VERIFY_BATCH).await?;
            let Some((last, _)) = batch.last() else {
                break walk.finish();
            };
            after = *last;
            for (seq, row) in batch {
                if let Some(broken) = walk.check(seq, row) {
                    break 'walk Some(broken);
                }
            }
        };
        tx.rollback().await?;
        Ok(AuditReport {
            entries_checked: walk.intact,
            first_broken: broken,
        })
    }

    /// Up to `limit` entries with `seq > after_seq`, in sequence order, for display and export
    /// (none when `limit` is not positive). Fails if a row in range can no longer be decoded
    /// (an edited row; see [`verify_audit`](Self::verify_audit)).
    pub async fn audit_entries(&self, after_seq: i64, limit: i64) -> Result<Vec<StoredAuditEntry>> {
        let mut tx = self.begin().await?;
        // PostgreSQL refuses a negative LIMIT where SQLite reads it as "no limit".
        let rows = read_batch(&mut tx, after_seq, limit.max(0)).await?;
        tx.rollback().await?;
        rows.into_iter()
            .map(|(_, row)| row.map_err(Into::into))
            .collect()
    }
}

/// Up to `limit` rows with `seq > after`, oldest first. Each row's fields are decoded apart from
/// its `seq`, so that verification can report an undecodable row at its place in the chain.
async fn read_batch(
    tx: &mut Tx,
    after: i64,
    limit: i64,
) -> Result<Vec<(i64, Result<StoredAuditEntry, sqlx::Error>)>> {
    crate::on_tx!(tx, conn => {
        // `details` as text on both backends: a row edited into invalid JSON is then a broken
        // entry rather than a failed query.
        let rows = sqlx::query(
            "SELECT seq, occurred_at, actor, action, target, purpose, \
             CAST(details AS TEXT) AS details, tag \
             FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(conn)
        .await?;
        rows.iter()
            .map(|row| {
                let seq: i64 = row.try_get("seq")?;
                let entry = (|| -> Result<StoredAuditEntry, sqlx::Error> {
                    let details: String = row.try_get("details")?;
                    Ok(StoredAuditEntry {
                        seq,
                        actor: row.try_get("actor")?,
                        action: row.try_get("action")?,
                        target: row.try_get("target")?,
                        purpose: row.try_get("purpose")?,
                        details: serde_json::from_str(&details)
                            .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
                        occurred_at: row.try_get("occurred_at")?,
                        tag: row.try_get("tag")?,
                    })
                })();
                Ok((seq, entry))
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(Into::into)
    })
}

/// The state of a verification as it walks the rows in sequence order.
struct ChainWalk<'k> {
    key: &'k AuditKey,
    /// `(last_seq, last_tag)` of `audit_head`, if the row exists.
    head: Option<(i64, Vec<u8>)>,
    /// The sequence number the next row must carry.
    expected: i64,
    /// The stored tag of the previous row: each row is checked against its stored predecessor,
    /// so one edit is reported at the edited row and nowhere else.
    prev_tag: Vec<u8>,
    intact: u64,
}

impl<'k> ChainWalk<'k> {
    fn new(key: &'k AuditKey, head: Option<(i64, Vec<u8>)>) -> Self {
        ChainWalk {
            key,
            head,
            expected: 1,
            prev_tag: GENESIS_TAG.to_vec(),
            intact: 0,
        }
    }

    /// Checks the next row; `Some` if it is where the chain breaks.
    fn check(
        &mut self,
        seq: i64,
        row: Result<StoredAuditEntry, sqlx::Error>,
    ) -> Option<BrokenEntry> {
        let expected = self.expected;
        if seq > expected {
            return Some(broken(
                expected,
                format!("sequence gap: expected {expected}, found {seq} (rows deleted)"),
            ));
        }
        if seq < expected {
            return Some(broken(
                seq,
                format!("unexpected sequence number {seq} before {expected} (row inserted)"),
            ));
        }
        if let Some((head_seq, _)) = &self.head
            && seq > *head_seq
        {
            return Some(broken(
                seq,
                format!("entry beyond the chain head, which ends at {head_seq} (row inserted)"),
            ));
        }
        let entry = match row {
            Ok(entry) => entry,
            Err(e) => {
                return Some(broken(
                    seq,
                    format!("entry cannot be decoded (row edited): {e}"),
                ));
            }
        };
        let input = chain_input(
            &self.prev_tag,
            &Chained {
                seq,
                occurred_at: entry.occurred_at,
                actor: &entry.actor,
                action: &entry.action,
                target: &entry.target,
                purpose: entry.purpose.as_deref(),
                details: &entry.details,
            },
        );
        if !self.key.verify(&input, &entry.tag) {
            return Some(broken(seq, "tag mismatch (row edited or reordered)".into()));
        }
        self.prev_tag = entry.tag;
        self.expected += 1;
        self.intact += 1;
        None
    }

    /// After the last row: the head must name that row, or the tail was deleted.
    fn finish(&self) -> Option<BrokenEntry> {
        let last = self.expected - 1;
        let Some((head_seq, head_tag)) = &self.head else {
            return Some(broken(
                last + 1,
                "chain head is missing (audit_head row deleted)".into(),
            ));
        };
        if *head_seq > last {
            return Some(broken(
                last + 1,
                format!("chain head says {head_seq} entries, table ends at {last} (tail deleted)"),
            ));
        }
        // `check` refuses rows beyond the head, so here the head names the last row.
        if *head_tag != self.prev_tag {
            return Some(broken(
                last,
                format!("chain head tag does not match entry {last} (head edited)"),
            ));
        }
        None
    }
}

fn broken(seq: i64, reason: String) -> BrokenEntry {
    BrokenEntry { seq, reason }
}

/// The hashed content of one entry, borrowed from a new or a stored entry.
struct Chained<'a> {
    seq: i64,
    occurred_at: DateTime<Utc>,
    actor: &'a str,
    action: &'a str,
    target: &'a str,
    purpose: Option<&'a str>,
    details: &'a Value,
}

/// The HMAC input of an entry: see the module documentation for the layout.
fn chain_input(prev_tag: &[u8], entry: &Chained<'_>) -> Vec<u8> {
    let occurred_at = entry
        .occurred_at
        .trunc_subsecs(6)
        .to_rfc3339_opts(SecondsFormat::Micros, true);
    let details = canonical_json(entry.details);
    let mut out = Vec::with_capacity(
        CHAIN_LABEL.len() + prev_tag.len() + 128 + entry.actor.len() + details.len(),
    );
    out.extend_from_slice(CHAIN_LABEL);
    out.extend_from_slice(prev_tag);
    out.extend_from_slice(&entry.seq.to_be_bytes());
    push_field(&mut out, &occurred_at);
    push_field(&mut out, entry.actor);
    push_field(&mut out, entry.action);
    push_field(&mut out, entry.target);
    match entry.purpose {
        None => out.push(0),
        Some(purpose) => {
            out.push(1);
            push_field(&mut out, purpose);
        }
    }
    push_field(&mut out, &details);
    out
}

fn push_field(out: &mut Vec<u8>, field: &str) {
    // usize is at most 64 bits on every target Rust supports, so the length always fits.
    out.extend_from_slice(&(field.len() as u64).to_be_bytes());
    out.extend_from_slice(field.as_bytes());
}

/// `value` in the canonical JSON of the module documentation.
fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(&mut out, value);
    out
}

fn write_canonical(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_canonical_number(out, &n.to_string()),
        Value::String(s) => write_canonical_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            // Sorted here rather than trusting the map: serde_json's `preserve_order` feature,
            // switched on by any crate in the build, would keep insertion order instead.
            let mut members: Vec<_> = map.iter().collect();
            members.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, item)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical_string(out, key);
                out.push(':');
                write_canonical(out, item);
            }
            out.push('}');
        }
    }
}

fn write_canonical_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c < ' ' => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Writes the JSON number `text` (as serde_json prints it: `12`, `-0.5`, `1e16`, `1.5e-7`) as
/// `[-]digits e exponent` with no leading or trailing zeros in `digits`, so that one value has
/// one spelling whichever way it was written (`100`, `100.0`, `1e2` → `1e2`).
///
/// This is exact only if reading a float back from its stored text gives the same float, which
/// is why this crate turns on serde_json's `float_roundtrip`.
fn write_canonical_number(out: &mut String, text: &str) {
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.trim_start_matches('+').parse::<i64>().unwrap_or(0)),
        None => (unsigned, 0),
    };
    let (integer, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all_digits = format!("{integer}{fraction}");
    let significant = all_digits.trim_start_matches('0');
    let digits = significant.trim_end_matches('0');
    if digits.is_empty() {
        // Zero, including `-0.0`: PostgreSQL's numeric has no negative zero.
        out.push('0');
        return;
    }
    let trailing_zeros = (significant.len() - digits.len()) as i64;
    let exponent = exponent - fraction.len() as i64 + trailing_zeros;
    if negative {
        out.push('-');
    }
    out.push_str(digits);
    out.push('e');
    out.push_str(&exponent.to_string());
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn number(text: &str) -> String {
        let mut out = String::new();
        write_canonical_number(&mut out, text);
        out
    }

    #[test]
    fn one_number_has_one_spelling() {
        for (spellings, canonical) in [
            (&["100", "100.0", "1e2", "1.00E+2", "0100"][..], "1e2"),
            (&["1e16", "10000000000000000"][..], "1e16"),
            (&["1e-7", "0.0000001", "1.0e-7"][..], "1e-7"),
            (&["-12.5", "-1.25e1"][..], "-125e-1"),
            (&["0", "-0.0", "0.000", "0e5"][..], "0"),
        ] {
            for text in spellings {
                assert_eq!(number(text), canonical, "{text}");
            }
        }
        assert_ne!(number("0.1"), number("0.10000000000000002"));
        assert_ne!(number("12"), number("-12"));
    }

    #[test]
    fn key_order_and_whitespace_do_not_change_the_canonical_form() {
        let a: Value =
            serde_json::from_str(r#"{"b": [1, {"y": 2, "x": "成都"}], "a": null}"#).unwrap();
        let b: Value =
            serde_json::from_str(r#"{"a":null,"b":[1.0,{"x":"成都","y":2e0}]}"#).unwrap();
        assert_eq!(
            canonical_json(&a),
            r#"{"a":null,"b":[1e0,{"x":"成都","y":2e0}]}"#
        );
        assert_eq!(canonical_json(&a), canonical_json(&b));
        assert_eq!(
            canonical_json(&json!({"q": "say \"hi\"\\\n"})),
            r#"{"q":"say \"hi\"\\\u000a"}"#
        );
    }

    #[test]
    fn moving_bytes_between_fields_changes_the_input() {
        let details = json!({});
        let entry = |actor, action, purpose| Chained {
            seq: 1,
            occurred_at: DateTime::<Utc>::UNIX_EPOCH,
            actor,
            action,
            target: "t",
            purpose,
            details: &details,
        };
        let a = chain_input(&GENESIS_TAG, &entry("ab", "c", None));
        let b = chain_input(&GENESIS_TAG, &entry("a", "bc", None));
        let c = chain_input(&GENESIS_TAG, &entry("a", "bc", Some("")));
        assert_ne!(a, b);
        assert_ne!(b, c);
    }

    proptest! {
        /// PostgreSQL keeps a number's exact decimal value and prints it without an exponent
        /// (as Rust's `Display` for f64 does); read back, it must hash as the value written.
        #[test]
        fn a_float_hashes_alike_however_the_backend_prints_it(x in any::<f64>()) {
            prop_assume!(x.is_finite());
            let written = json!(x);
            let as_postgres_prints: Value = serde_json::from_str(&format!("{x}"))
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let as_sqlite_stores: Value = serde_json::from_str(&written.to_string())
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(canonical_json(&as_postgres_prints), canonical_json(&written));
            prop_assert_eq!(canonical_json(&as_sqlite_stores), canonical_json(&written));
        }

    }
}
