-- The tamper-evident audit log (see `bianmin_store::audit`): one row per audited act, each
-- carrying HMAC-SM3(audit key, previous tag || canonical entry), and the chain head.
-- Rows are only ever appended; `seq` is handed out by `audit_head`, not by a sequence, so a
-- rolled-back append leaves no gap.

CREATE TABLE audit_log (
    seq           BIGINT PRIMARY KEY,
    -- Written already truncated to microseconds, the precision TIMESTAMPTZ keeps.
    occurred_at   TIMESTAMPTZ NOT NULL,
    actor         TEXT NOT NULL,
    action        TEXT NOT NULL,
    target        TEXT NOT NULL,
    purpose       TEXT,
    -- Never personal data in clear. JSONB reorders object keys; the chain hashes a canonical form.
    details       JSONB NOT NULL,
    tag           BYTEA NOT NULL
);

-- One row: the last sequence number handed out and the tag of that entry (32 zero bytes
-- before the first). Every append updates it first; the row lock makes concurrent appenders
-- queue, so the chain never forks.
CREATE TABLE audit_head (
    id            SMALLINT PRIMARY KEY CHECK (id = 1),
    last_seq      BIGINT NOT NULL,
    last_tag      BYTEA NOT NULL
);
INSERT INTO audit_head (id, last_seq, last_tag) VALUES (1, 0, decode(repeat('00', 32), 'hex'));
