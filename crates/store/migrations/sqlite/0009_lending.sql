-- 闪电贷 Lightning Loan (bianmin-lending, served by the server's `lending` module).
--
-- Applications and their decisions: the decision (points, limit, price, reasons) and the
-- agencies' answers it was made on are personal financial data (JR/T 0171 C3), sealed with
-- SM4-GCM under the applicant's data key and bound to table, column and row; the plain
-- columns say only what happened, when, and under which model, policy and pricing versions,
-- so a decision can be found, counted and replayed (open, re-decide, compare).
--
-- The credit line and its double-entry ledger are kept in clear by line id: the bank must be
-- able to sum its ledger (trial balance, reconciliation) and must keep credit records for the
-- retention period the law sets, so erasure does not shred them; the line is linked to the
-- person only through `credit_lines.person_id`. See ARCHITECTURE.md ("Lending data").
-- Times RFC 3339 UTC text; value dates YYYY-MM-DD; amounts in fen.

CREATE TABLE loan_applications (
    id               BLOB PRIMARY KEY NOT NULL,
    person_id        BLOB NOT NULL REFERENCES persons(id),
    requested_fen    INTEGER NOT NULL CHECK (requested_fen > 0),
    purpose          TEXT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN
                     ('awaiting_consent','processing','approved','declined','signed','failed')),
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    submitted_at     TEXT,
    decided_at       TEXT,
    -- Milliseconds from the start of processing to the recorded decision.
    decision_ms      INTEGER,
    outcome          TEXT CHECK (outcome IN ('approved','declined')),
    model_version    TEXT,
    policy_version   TEXT,
    pricing_version  TEXT,
    inputs_hash      TEXT,
    -- bianmin_lending::decision::Decision as JSON, sealed.
    decision_enc     BLOB,
    -- bianmin_lending::features::AgencyRecords as JSON, sealed: what the decision was made on.
    records_enc      BLOB,
    failure_code     TEXT
);
CREATE INDEX loan_applications_person ON loan_applications(person_id, created_at);
-- One application in progress per person at a time.
CREATE UNIQUE INDEX loan_applications_open ON loan_applications(person_id)
    WHERE state IN ('awaiting_consent','processing');

-- The process as the applicant sees it (the timeline): no personal data in `detail`.
CREATE TABLE loan_steps (
    application_id   BLOB NOT NULL REFERENCES loan_applications(id),
    seq              INTEGER NOT NULL,
    step             TEXT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('running','done','failed')),
    at               TEXT NOT NULL,
    detail           TEXT,
    PRIMARY KEY (application_id, seq)
);

-- Human review of an automated decline (PIPL art. 24), worked in the bank console.
CREATE TABLE loan_reviews (
    id               BLOB PRIMARY KEY NOT NULL,
    application_id   BLOB NOT NULL UNIQUE REFERENCES loan_applications(id),
    person_id        BLOB NOT NULL REFERENCES persons(id),
    -- The applicant's own words, sealed.
    reason_enc       BLOB NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('pending','upheld','overturned')),
    requested_at     TEXT NOT NULL,
    resolved_at      TEXT,
    reviewer         TEXT,
    note             TEXT,
    limit_fen        INTEGER CHECK (limit_fen IS NULL OR limit_fen > 0),
    -- The daily rate a reviewer's overturn offers (decimal text).
    daily_rate       TEXT
);
CREATE INDEX loan_reviews_pending ON loan_reviews(requested_at) WHERE state = 'pending';

-- The contract as presented and as signed with the applicant's device key (SM2).
CREATE TABLE loan_contracts (
    id               BLOB PRIMARY KEY NOT NULL,
    application_id   BLOB NOT NULL UNIQUE REFERENCES loan_applications(id),
    person_id        BLOB NOT NULL REFERENCES persons(id),
    version          TEXT NOT NULL,
    -- The rendered text, sealed; its SM3 (hex) in clear is what was signed.
    text_enc         BLOB NOT NULL,
    text_sm3         TEXT NOT NULL,
    presented_at     TEXT NOT NULL,
    signed_at        TEXT,
    device_id        BLOB,
    signature        BLOB
);

CREATE TABLE credit_lines (
    id               BLOB PRIMARY KEY NOT NULL,
    person_id        BLOB NOT NULL UNIQUE REFERENCES persons(id),
    application_id   BLOB NOT NULL REFERENCES loan_applications(id),
    contract_id      BLOB NOT NULL REFERENCES loan_contracts(id),
    limit_fen        INTEGER NOT NULL CHECK (limit_fen > 0),
    status           TEXT NOT NULL,
    opened_on        TEXT NOT NULL,
    expires_on       TEXT NOT NULL,
    accrued_through  TEXT NOT NULL,
    -- bianmin_lending::ledger::CreditLine as JSON.
    state_json       TEXT NOT NULL,
    version          INTEGER NOT NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);

-- The double-entry ledger: every journal's postings balance (debits = credits).
CREATE TABLE ledger_journals (
    id               BLOB PRIMARY KEY NOT NULL,
    line_id          BLOB NOT NULL REFERENCES credit_lines(id),
    kind             TEXT NOT NULL,
    value_date       TEXT NOT NULL,
    amount_fen       INTEGER NOT NULL CHECK (amount_fen >= 0),
    -- The allocation of a repayment, or other detail of the movement, as JSON.
    detail           TEXT,
    created_at       TEXT NOT NULL
);
CREATE INDEX ledger_journals_line ON ledger_journals(line_id, value_date);

CREATE TABLE ledger_postings (
    journal_id       BLOB NOT NULL REFERENCES ledger_journals(id),
    seq              INTEGER NOT NULL,
    line_id          BLOB NOT NULL REFERENCES credit_lines(id),
    account          TEXT NOT NULL,
    debit_fen        INTEGER NOT NULL CHECK (debit_fen >= 0),
    credit_fen       INTEGER NOT NULL CHECK (credit_fen >= 0),
    PRIMARY KEY (journal_id, seq)
);
CREATE INDEX ledger_postings_line ON ledger_postings(line_id, account);

-- Idempotency keys of draws and repayments: one movement per (person, key), whatever the
-- retries; the same key with another request is refused.
CREATE TABLE loan_money_claims (
    person_id        BLOB NOT NULL REFERENCES persons(id),
    idempotency_key  TEXT NOT NULL,
    request_sm3      TEXT NOT NULL,
    claimed_at       TEXT NOT NULL,
    journal_id       BLOB NOT NULL REFERENCES ledger_journals(id),
    PRIMARY KEY (person_id, idempotency_key)
);
