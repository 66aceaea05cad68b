-- The tamper-evident audit log (see `bianmin_store::audit`): one row per audited act, each
-- carrying HMAC-SM3(audit key, previous tag || canonical entry), and the chain head.
-- Rows are only ever appended; `seq` is handed out by `audit_head`, not by the engine, so a
-- rolled-back append leaves no gap.

CREATE TABLE audit_log (
    seq           INTEGER PRIMARY KEY NOT NULL,
    -- RFC 3339, UTC, at most microsecond precision (the same instant PostgreSQL would keep).
    occurred_at   TEXT NOT NULL,
    actor         TEXT NOT NULL,
    action        TEXT NOT NULL,
    target        TEXT NOT NULL,
    purpose       TEXT,
    -- JSON text; never personal data in clear.
    details       TEXT NOT NULL,
    tag           BLOB NOT NULL
);

-- One row: the last sequence number handed out and the tag of that entry (32 zero bytes
-- before the first). Every append updates it first, which takes SQLite's write lock at once.
CREATE TABLE audit_head (
    id            INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    last_seq      INTEGER NOT NULL,
    last_tag      BLOB NOT NULL
);
INSERT INTO audit_head (id, last_seq, last_tag) VALUES (1, 0, zeroblob(32));
