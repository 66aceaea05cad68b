-- Sealed message log (docs/exchange-protocol.md §8): a logging side signs one seal over the
-- digests of a batch of records instead of signing each record. Rows written before this
-- migration keep their own signature; new rows name their seal and their place in it.

CREATE TABLE exchange_log_seals (
    id            BLOB PRIMARY KEY,
    -- The subsystem that wrote the records and signed the seal.
    logged_by     TEXT NOT NULL,
    -- RFC 3339, UTC, microsecond precision (part of the signed text).
    sealed_at     TEXT NOT NULL,
    -- SM3 of each sealed record (bianmin_exchange::LogRecord::digest), 32 bytes each, in order.
    digests       BLOB NOT NULL CHECK (length(digests) > 0 AND length(digests) % 32 = 0),
    -- SM2 signature (r || s) of `logged_by` over the seal (bianmin_exchange::LogSeal).
    signature     BLOB NOT NULL
);
CREATE INDEX exchange_log_seals_sealed ON exchange_log_seals(sealed_at);

-- SQLite cannot relax a NOT NULL column in place: the table is rebuilt with `signature`
-- optional and the seal columns, its rows copied as they are.
CREATE TABLE exchange_log_sealed (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id    BLOB NOT NULL,
    side          TEXT NOT NULL CHECK (side IN ('client','provider')),
    -- The subsystem that wrote the row and signed it or its seal.
    logged_by     TEXT NOT NULL,
    client        TEXT NOT NULL,
    service       TEXT NOT NULL,
    consent_id    BLOB,
    request_sm3   TEXT NOT NULL,
    response_sm3  TEXT,
    -- RFC 3339, UTC, at most microsecond precision (the same instant PostgreSQL would keep).
    started_at    TEXT NOT NULL,
    duration_ms   INTEGER NOT NULL,
    status        INTEGER,
    outcome       TEXT NOT NULL,
    -- SM2 signature (r || s) of `logged_by` over the record alone (rows from before seals).
    signature     BLOB,
    -- The seal listing this record's digest, and its place in the seal's list.
    seal_id       BLOB REFERENCES exchange_log_seals(id),
    seal_index    INTEGER,
    CHECK ((signature IS NOT NULL AND seal_id IS NULL AND seal_index IS NULL)
        OR (signature IS NULL AND seal_id IS NOT NULL AND seal_index >= 0))
);
INSERT INTO exchange_log_sealed (seq, message_id, side, logged_by, client, service, consent_id,
    request_sm3, response_sm3, started_at, duration_ms, status, outcome, signature)
SELECT seq, message_id, side, logged_by, client, service, consent_id, request_sm3,
    response_sm3, started_at, duration_ms, status, outcome, signature
FROM exchange_log;
DROP TABLE exchange_log;
ALTER TABLE exchange_log_sealed RENAME TO exchange_log;
CREATE INDEX exchange_log_message ON exchange_log(message_id);
CREATE INDEX exchange_log_started ON exchange_log(started_at);
CREATE INDEX exchange_log_consent ON exchange_log(consent_id) WHERE consent_id IS NOT NULL;
CREATE INDEX exchange_log_seal ON exchange_log(seal_id) WHERE seal_id IS NOT NULL;
