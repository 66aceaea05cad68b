-- 智能客服 AI customer service (crates/server/src/assistant/): the knowledge base with every
-- version kept, the conversation turns (questions stored redacted: digits runs and plates
-- masked before they are written), feedback, follow-ups and the citizen's inbox.

-- The current version of each FAQ entry; `body` is bianmin_assistant::Entry as JSON.
CREATE TABLE kb_entries (
    id           TEXT PRIMARY KEY NOT NULL,
    version      INTEGER NOT NULL CHECK (version > 0),
    body         TEXT NOT NULL,
    deleted      INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
    updated_at   TEXT NOT NULL,
    updated_by   TEXT NOT NULL
);

-- Every version ever saved (the row of kb_entries is the last of these).
CREATE TABLE kb_entry_versions (
    entry_id     TEXT NOT NULL,
    version      INTEGER NOT NULL,
    action       TEXT NOT NULL CHECK (action IN ('import','create','update','delete')),
    body         TEXT NOT NULL,
    changed_at   TEXT NOT NULL,
    changed_by   TEXT NOT NULL,
    PRIMARY KEY (entry_id, version)
);

-- A conversation: whose it is, as the pseudonymous subject digest of the events (NULL for an
-- anonymous visitor: then only an anonymous caller may continue it), and the personal question
-- waiting for a slot (the plate), as JSON.
CREATE TABLE assistant_sessions (
    id           BLOB PRIMARY KEY NOT NULL,
    owner        TEXT,
    pending      TEXT,
    last_entry   TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);

-- One question and what the assistant did with it. `question` is redacted (runs of digits and
-- plates masked); it names no person.
CREATE TABLE assistant_turns (
    id           BLOB PRIMARY KEY NOT NULL,
    session_id   BLOB NOT NULL REFERENCES assistant_sessions(id),
    page         TEXT,
    question     TEXT NOT NULL,
    outcome      TEXT NOT NULL CHECK (outcome IN ('answer','clarify','handoff')),
    entry_id     TEXT,
    intent       TEXT,
    confidence   REAL NOT NULL,
    helpful      INTEGER CHECK (helpful IN (0, 1)),
    created_at   TEXT NOT NULL
);
CREATE INDEX assistant_turns_time ON assistant_turns(created_at);

-- A follow-up (自动回访) after a completed service, scheduled once per service event.
CREATE TABLE followups (
    id           BLOB PRIMARY KEY NOT NULL,
    person_id    BLOB NOT NULL REFERENCES persons(id),
    kind         TEXT NOT NULL,
    reference_id TEXT NOT NULL,
    source_at    TEXT NOT NULL,
    due_at       TEXT NOT NULL,
    delivered_at TEXT,
    channel      TEXT,
    UNIQUE (kind, reference_id)
);
CREATE INDEX followups_due ON followups(due_at) WHERE delivered_at IS NULL;

-- The in-app inbox; a follow-up's survey answer is kept on its message. The body (amounts,
-- receipt numbers) and the citizen's comment are sealed under the person's data key.
CREATE TABLE inbox_messages (
    id             BLOB PRIMARY KEY NOT NULL,
    person_id      BLOB NOT NULL REFERENCES persons(id),
    followup_id    BLOB UNIQUE REFERENCES followups(id),
    kind           TEXT NOT NULL,
    title          TEXT NOT NULL,
    body_enc       BLOB NOT NULL,
    created_at     TEXT NOT NULL,
    read_at        TEXT,
    survey_score   INTEGER CHECK (survey_score BETWEEN 1 AND 5),
    survey_comment_enc BLOB,
    answered_at    TEXT
);
CREATE INDEX inbox_messages_person ON inbox_messages(person_id, created_at);

-- The development SMS sink: what an SMS gateway would have been asked to send (sealed).
CREATE TABLE sms_outbox (
    id           BLOB PRIMARY KEY NOT NULL,
    person_id    BLOB NOT NULL REFERENCES persons(id),
    followup_id  BLOB UNIQUE REFERENCES followups(id),
    body_enc     BLOB NOT NULL,
    created_at   TEXT NOT NULL
);
