-- Foundation: who can sign in, their sessions, replay protection for identity assertions, and the outbox.
-- Times are UTC (sqlx stores chrono DateTime<Utc> as RFC 3339 text in SQLite); ids are UUIDv7 blobs.

CREATE TABLE principals (
    id            BLOB PRIMARY KEY NOT NULL,
    -- Development personas only; NULL for identities asserted by the bank app.
    persona       TEXT UNIQUE,
    -- Issuer-scoped subject from the bank app's identity assertion ("iss|sub").
    subject       TEXT UNIQUE,
    role          TEXT NOT NULL CHECK (role IN ('citizen','enterprise','government_officer','bank_operator','auditor','admin')),
    -- Already masked (JR/T 0171): the clear name never reaches this table.
    display_name  TEXT NOT NULL,
    department    TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);

CREATE TABLE sessions (
    id            BLOB PRIMARY KEY NOT NULL,
    principal_id  BLOB NOT NULL REFERENCES principals(id),
    created_at    TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    revoked_at    TEXT
);
CREATE INDEX sessions_principal ON sessions(principal_id);

CREATE TABLE used_assertions (
    issuer        TEXT NOT NULL,
    nonce         TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    PRIMARY KEY (issuer, nonce)
);

CREATE TABLE outbox_events (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id      BLOB NOT NULL UNIQUE,
    kind          TEXT NOT NULL,
    aggregate     TEXT NOT NULL,
    aggregate_id  TEXT NOT NULL,
    payload       TEXT NOT NULL,
    occurred_at   TEXT NOT NULL
);
CREATE INDEX outbox_events_kind ON outbox_events(kind, seq);
