-- Foundation: who can sign in, their sessions, replay protection for identity assertions, and the outbox.

CREATE TABLE principals (
    id            UUID PRIMARY KEY,
    -- Development personas only; NULL for identities asserted by the bank app.
    persona       TEXT UNIQUE,
    -- Issuer-scoped subject from the bank app's identity assertion ("iss|sub").
    subject       TEXT UNIQUE,
    role          TEXT NOT NULL CHECK (role IN ('citizen','enterprise','government_officer','bank_operator','auditor','admin')),
    -- Already masked (JR/T 0171): the clear name never reaches this table.
    display_name  TEXT NOT NULL,
    department    TEXT,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
);

CREATE TABLE sessions (
    id            UUID PRIMARY KEY,
    principal_id  UUID NOT NULL REFERENCES principals(id),
    created_at    TIMESTAMPTZ NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL,
    revoked_at    TIMESTAMPTZ
);
CREATE INDEX sessions_principal ON sessions(principal_id);

CREATE TABLE used_assertions (
    issuer        TEXT NOT NULL,
    nonce         TEXT NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (issuer, nonce)
);

CREATE TABLE outbox_events (
    seq           BIGSERIAL PRIMARY KEY,
    event_id      UUID NOT NULL UNIQUE,
    kind          TEXT NOT NULL,
    aggregate     TEXT NOT NULL,
    aggregate_id  TEXT NOT NULL,
    payload       JSONB NOT NULL,
    occurred_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX outbox_events_kind ON outbox_events(kind, seq);
