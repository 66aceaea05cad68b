-- 智能客服 AI customer service (crates/server/src/assistant/): the knowledge base with every
-- version kept, the conversation turns (questions stored redacted: digits runs and plates
-- masked before they are written), feedback, follow-ups and the citizen's inbox.

-- The current version of each FAQ entry; `body` is bianmin_assistant::Entry as JSON.
CREATE TABLE kb_entries (
    id           TEXT PRIMARY KEY NOT NULL,
    version      BIGINT NOT NULL CHECK (version > 0),
    body         TEXT NOT NULL,
    deleted      BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at   TIMESTAMPTZ NOT NULL,
    updated_by   TEXT NOT NULL
);

-- Every version ever saved (the row of kb_entries is the last of these).
CREATE TABLE kb_entry_versions (
    entry_id     TEXT NOT NULL,
    version      BIGINT NOT NULL,
    action       TEXT NOT NULL CHECK (action IN ('import','create','update','delete')),
    body         TEXT NOT NULL,
    changed_at   TIMESTAMPTZ NOT NULL,
    changed_by   TEXT NOT NULL,
    PRIMARY KEY (entry_id, version)
);

-- A conversation: whose it is, as the pseudonymous subject digest of the events (NULL for an
-- anonymous visitor: then only an anonymous caller may continue it), and the personal question
-- waiting for a slot (the plate), as JSON.
CREATE TABLE assistant_sessions (
    id           UUID PRIMARY KEY,
    owner        TEXT,
    pending      TEXT,
    last_entry   TEXT,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL
);

-- One question and what the assistant did with it. `question` is redacted (runs of digits and
-- plates masked); it names no person.
CREATE TABLE assistant_turns (
    id           UUID PRIMARY KEY,
    session_id   UUID NOT NULL REFERENCES assistant_sessions(id),
    page         TEXT,
    question     TEXT NOT NULL,
    outcome      TEXT NOT NULL CHECK (outcome IN ('answer','clarify','handoff')),
    entry_id     TEXT,
    intent       TEXT,
    confidence   DOUBLE PRECISION NOT NULL,
    helpful      BOOLEAN,
    created_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX assistant_turns_time ON assistant_turns(created_at);

-- A follow-up (自动回访) after a completed service, scheduled once per service event.
CREATE TABLE followups (
    id           UUID PRIMARY KEY,
    person_id    UUID NOT NULL REFERENCES persons(id),
    kind         TEXT NOT NULL,
    reference_id TEXT NOT NULL,
    source_at    TIMESTAMPTZ NOT NULL,
    due_at       TIMESTAMPTZ NOT NULL,
    delivered_at TIMESTAMPTZ,
    channel      TEXT,
    UNIQUE (kind, reference_id)
);
CREATE INDEX followups_due ON followups(due_at) WHERE delivered_at IS NULL;

-- The in-app inbox; a follow-up's survey answer is kept on its message. The body (amounts,
-- receipt numbers) and the citizen's comment are sealed under the person's data key.
CREATE TABLE inbox_messages (
    id             UUID PRIMARY KEY,
    person_id      UUID NOT NULL REFERENCES persons(id),
    followup_id    UUID UNIQUE REFERENCES followups(id),
    kind           TEXT NOT NULL,
    title          TEXT NOT NULL,
    body_enc       BYTEA NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    read_at        TIMESTAMPTZ,
    survey_score   BIGINT CHECK (survey_score BETWEEN 1 AND 5),
    survey_comment_enc BYTEA,
    answered_at    TIMESTAMPTZ
);
CREATE INDEX inbox_messages_person ON inbox_messages(person_id, created_at);

-- The development SMS sink: what an SMS gateway would have been asked to send (sealed).
CREATE TABLE sms_outbox (
    id           UUID PRIMARY KEY,
    person_id    UUID NOT NULL REFERENCES persons(id),
    followup_id  UUID UNIQUE REFERENCES followups(id),
    body_enc     BYTEA NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL
);
