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
-- Amounts in fen.

CREATE TABLE loan_applications (
    id               UUID PRIMARY KEY,
    person_id        UUID NOT NULL REFERENCES persons(id),
    requested_fen    BIGINT NOT NULL CHECK (requested_fen > 0),
    purpose          TEXT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN
                     ('awaiting_consent','processing','approved','declined','signed','failed')),
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    submitted_at     TIMESTAMPTZ,
    decided_at       TIMESTAMPTZ,
    -- Milliseconds from the start of processing to the recorded decision.
    decision_ms      BIGINT,
    outcome          TEXT CHECK (outcome IN ('approved','declined')),
    model_version    TEXT,
    policy_version   TEXT,
    pricing_version  TEXT,
    inputs_hash      TEXT,
    -- bianmin_lending::decision::Decision as JSON, sealed.
    decision_enc     BYTEA,
    -- bianmin_lending::features::AgencyRecords as JSON, sealed: what the decision was made on.
    records_enc      BYTEA,
    failure_code     TEXT
);
CREATE INDEX loan_applications_person ON loan_applications(person_id, created_at);
-- One application in progress per person at a time.
CREATE UNIQUE INDEX loan_applications_open ON loan_applications(person_id)
    WHERE state IN ('awaiting_consent','processing');

-- The process as the applicant sees it (the timeline): no personal data in `detail`.
CREATE TABLE loan_steps (
    application_id   UUID NOT NULL REFERENCES loan_applications(id),
    seq              BIGINT NOT NULL,
    step             TEXT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('running','done','failed')),
    at               TIMESTAMPTZ NOT NULL,
    detail           TEXT,
    PRIMARY KEY (application_id, seq)
);

-- Human review of an automated decline (PIPL art. 24), worked in the bank console.
CREATE TABLE loan_reviews (
    id               UUID PRIMARY KEY,
    application_id   UUID NOT NULL UNIQUE REFERENCES loan_applications(id),
    person_id        UUID NOT NULL REFERENCES persons(id),
    -- The applicant's own words, sealed.
    reason_enc       BYTEA NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('pending','upheld','overturned')),
    requested_at     TIMESTAMPTZ NOT NULL,
    resolved_at      TIMESTAMPTZ,
    reviewer         TEXT,
    note             TEXT,
    limit_fen        BIGINT CHECK (limit_fen IS NULL OR limit_fen > 0),
    -- The daily rate a reviewer's overturn offers (decimal text).
    daily_rate       TEXT
);
CREATE INDEX loan_reviews_pending ON loan_reviews(requested_at) WHERE state = 'pending';

-- The contract as presented and as signed with the applicant's device key (SM2).
CREATE TABLE loan_contracts (
    id               UUID PRIMARY KEY,
    application_id   UUID NOT NULL UNIQUE REFERENCES loan_applications(id),
    person_id        UUID NOT NULL REFERENCES persons(id),
    version          TEXT NOT NULL,
    -- The rendered text, sealed; its SM3 (hex) in clear is what was signed.
    text_enc         BYTEA NOT NULL,
    text_sm3         TEXT NOT NULL,
    presented_at     TIMESTAMPTZ NOT NULL,
    signed_at        TIMESTAMPTZ,
    device_id        UUID,
    signature        BYTEA
);

CREATE TABLE credit_lines (
    id               UUID PRIMARY KEY,
    person_id        UUID NOT NULL UNIQUE REFERENCES persons(id),
    application_id   UUID NOT NULL REFERENCES loan_applications(id),
    contract_id      UUID NOT NULL REFERENCES loan_contracts(id),
    limit_fen        BIGINT NOT NULL CHECK (limit_fen > 0),
    status           TEXT NOT NULL,
    opened_on        DATE NOT NULL,
    expires_on       DATE NOT NULL,
    accrued_through  DATE NOT NULL,
    -- bianmin_lending::ledger::CreditLine as JSON.
    state_json       TEXT NOT NULL,
    version          BIGINT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);

-- The double-entry ledger: every journal's postings balance (debits = credits).
CREATE TABLE ledger_journals (
    id               UUID PRIMARY KEY,
    line_id          UUID NOT NULL REFERENCES credit_lines(id),
    kind             TEXT NOT NULL,
    value_date       DATE NOT NULL,
    amount_fen       BIGINT NOT NULL CHECK (amount_fen >= 0),
    -- The allocation of a repayment, or other detail of the movement, as JSON.
    detail           TEXT,
    created_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX ledger_journals_line ON ledger_journals(line_id, value_date);

CREATE TABLE ledger_postings (
    journal_id       UUID NOT NULL REFERENCES ledger_journals(id),
    seq              BIGINT NOT NULL,
    line_id          UUID NOT NULL REFERENCES credit_lines(id),
    account          TEXT NOT NULL,
    debit_fen        BIGINT NOT NULL CHECK (debit_fen >= 0),
    credit_fen       BIGINT NOT NULL CHECK (credit_fen >= 0),
    PRIMARY KEY (journal_id, seq)
);
CREATE INDEX ledger_postings_line ON ledger_postings(line_id, account);

-- Idempotency keys of draws and repayments: one movement per (person, key), whatever the
-- retries; the same key with another request is refused.
CREATE TABLE loan_money_claims (
    person_id        UUID NOT NULL REFERENCES persons(id),
    idempotency_key  TEXT NOT NULL,
    request_sm3      TEXT NOT NULL,
    claimed_at       TIMESTAMPTZ NOT NULL,
    journal_id       UUID NOT NULL REFERENCES ledger_journals(id),
    PRIMARY KEY (person_id, idempotency_key)
);
