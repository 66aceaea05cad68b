-- 供应链融资 supply-chain loans for a core enterprise's distributors (crates/server/src/supply/,
-- the pure rules in bianmin_lending::supply; docs/lending.md, "供应链融资").
--
-- A distributor is a company: its trade with the core enterprise (orders, returns, payments) is
-- the enterprise's business data, shared with the bank under the enterprise's data-sharing
-- agreement, and kept in clear. The owner is a natural person: only `owner_person_id` links a
-- line to them, and what is personal (the contract text, the owner check on credit report and
-- court records) is sealed under the owner's data key. The ledger is kept in clear by line id,
-- like the 闪电贷 ledger (ARCHITECTURE.md, "Lending data").

-- Core enterprises the bank works with.
CREATE TABLE scf_enterprises (
    id               UUID PRIMARY KEY,
    -- The exchange subsystem that serves its data, e.g. the simulator's A集团.
    subsystem        TEXT NOT NULL UNIQUE,
    uscc             TEXT NOT NULL UNIQUE,
    name             TEXT NOT NULL,
    -- The institution (department code) whose staff act for it, e.g. inst-agroup.
    institution      TEXT NOT NULL UNIQUE,
    created_at       TIMESTAMPTZ NOT NULL,
    created_by       TEXT NOT NULL
);

-- The enterprise's consent to share its distributors' data with the bank: scope (the services
-- the bank may call), purpose, expiry. The latest row in force governs.
CREATE TABLE scf_agreements (
    id               UUID PRIMARY KEY,
    enterprise_id    UUID NOT NULL REFERENCES scf_enterprises(id),
    -- JSON array of service codes.
    scope            TEXT NOT NULL,
    purpose          TEXT NOT NULL,
    granted_at       TIMESTAMPTZ NOT NULL,
    granted_by       TEXT NOT NULL,
    expires_at       TIMESTAMPTZ NOT NULL,
    revoked_at       TIMESTAMPTZ,
    revoked_by       TEXT
);
CREATE INDEX scf_agreements_enterprise ON scf_agreements(enterprise_id, granted_at);

-- Distributors as the enterprise's list gives them.
CREATE TABLE scf_distributors (
    id               UUID PRIMARY KEY,
    enterprise_id    UUID NOT NULL REFERENCES scf_enterprises(id),
    uscc             TEXT NOT NULL,
    name             TEXT NOT NULL,
    province         TEXT NOT NULL,
    city             TEXT NOT NULL,
    tier             TEXT NOT NULL,
    joined           TEXT NOT NULL,
    tenure_months    INTEGER NOT NULL,
    core_limit_fen   BIGINT NOT NULL,
    status           TEXT NOT NULL,
    synced_at        TIMESTAMPTZ NOT NULL,
    UNIQUE (enterprise_id, uscc)
);
CREATE INDEX scf_distributors_uscc ON scf_distributors(uscc);

-- Batch pre-approvals: what ran, on what, and how long each part took.
CREATE TABLE scf_batches (
    id               UUID PRIMARY KEY,
    enterprise_id    UUID NOT NULL REFERENCES scf_enterprises(id),
    policy_version   TEXT NOT NULL,
    closed_month     TEXT NOT NULL,
    distributors     INTEGER NOT NULL,
    offered          INTEGER NOT NULL,
    declined         INTEGER NOT NULL,
    total_limit_fen  BIGINT NOT NULL,
    fetch_ms         BIGINT NOT NULL,
    compute_ms       BIGINT NOT NULL,
    store_ms         BIGINT NOT NULL,
    started_at       TIMESTAMPTZ NOT NULL,
    finished_at      TIMESTAMPTZ NOT NULL,
    run_by           TEXT NOT NULL
);
CREATE INDEX scf_batches_enterprise ON scf_batches(enterprise_id, started_at);

-- Each distributor's latest pre-approval (one row per distributor, replaced by each batch while
-- no line is open).
CREATE TABLE scf_offers (
    distributor_id   UUID PRIMARY KEY REFERENCES scf_distributors(id),
    batch_id         UUID NOT NULL REFERENCES scf_batches(id),
    outcome          TEXT NOT NULL CHECK (outcome IN ('offered','declined')),
    limit_fen        BIGINT,
    daily_rate       TEXT,
    grade            TEXT,
    points           INTEGER,
    -- JSON: the reasons of a decline; the trade features the offer was made on.
    reasons          TEXT NOT NULL,
    features         TEXT,
    state            TEXT NOT NULL CHECK (state IN ('open','accepted','refused')),
    -- An owner whose check refused the offer, and that check's verdict, sealed under their key.
    refused_person_id UUID REFERENCES persons(id),
    refusal_enc      BYTEA,
    offered_on       DATE NOT NULL,
    expires_on       DATE NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);

-- Lines: one per distributor.
CREATE TABLE scf_lines (
    id               UUID PRIMARY KEY,
    distributor_id   UUID NOT NULL UNIQUE REFERENCES scf_distributors(id),
    owner_person_id  UUID NOT NULL REFERENCES persons(id),
    limit_fen        BIGINT NOT NULL CHECK (limit_fen >= 0),
    status           TEXT NOT NULL,
    status_reason    TEXT,
    -- Principal outstanding after the last movement (the ledger in state_json is the truth).
    principal_fen    BIGINT NOT NULL DEFAULT 0,
    -- Share of each sales receipt swept to repay, 0–100.
    sweep_percent    INTEGER NOT NULL CHECK (sweep_percent BETWEEN 0 AND 100),
    -- The trade features at approval (JSON): what monitoring compares with.
    baseline         TEXT NOT NULL,
    -- The contract as accepted, sealed under the owner's key; its SM3 in clear.
    contract_enc     BYTEA NOT NULL,
    contract_sm3     TEXT NOT NULL,
    -- The owner check (credit report and court records' verdict), sealed.
    owner_check_enc  BYTEA NOT NULL,
    accepted_device  UUID,
    opened_on        DATE NOT NULL,
    expires_on       DATE NOT NULL,
    accrued_through  DATE NOT NULL,
    monitored_at     TIMESTAMPTZ,
    -- bianmin_lending::ledger::CreditLine as JSON.
    state_json       TEXT NOT NULL,
    version          BIGINT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX scf_lines_owner ON scf_lines(owner_person_id);

-- The lines' double-entry ledger (same shape as ledger_journals / ledger_postings).
CREATE TABLE scf_journals (
    id               UUID PRIMARY KEY,
    line_id          UUID NOT NULL REFERENCES scf_lines(id),
    kind             TEXT NOT NULL,
    value_date       DATE NOT NULL,
    amount_fen       BIGINT NOT NULL CHECK (amount_fen >= 0),
    detail           TEXT,
    created_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX scf_journals_line ON scf_journals(line_id, value_date);

CREATE TABLE scf_postings (
    journal_id       UUID NOT NULL REFERENCES scf_journals(id),
    seq              BIGINT NOT NULL,
    line_id          UUID NOT NULL REFERENCES scf_lines(id),
    account          TEXT NOT NULL,
    debit_fen        BIGINT NOT NULL CHECK (debit_fen >= 0),
    credit_fen       BIGINT NOT NULL CHECK (credit_fen >= 0),
    PRIMARY KEY (journal_id, seq)
);
CREATE INDEX scf_postings_line ON scf_postings(line_id, account);

-- Entrusted payments (受托支付): each draw pays an order of the core enterprise directly.
CREATE TABLE scf_payments (
    id               UUID PRIMARY KEY,
    line_id          UUID NOT NULL REFERENCES scf_lines(id),
    journal_id       UUID NOT NULL UNIQUE REFERENCES scf_journals(id),
    order_no         TEXT NOT NULL,
    payee            TEXT NOT NULL,
    amount_fen       BIGINT NOT NULL CHECK (amount_fen > 0),
    state            TEXT NOT NULL CHECK (state IN ('pending','confirmed')),
    receipt_no       TEXT,
    created_at       TIMESTAMPTZ NOT NULL,
    confirmed_at     TIMESTAMPTZ
);
CREATE INDEX scf_payments_pending ON scf_payments(created_at) WHERE state = 'pending';
-- An order is paid by at most one draw of a line.
CREATE UNIQUE INDEX scf_payments_order ON scf_payments(line_id, order_no);

-- The distributor's settlement account at the bank, into which its sales receipts are paid.
CREATE TABLE scf_accounts (
    distributor_id   UUID PRIMARY KEY REFERENCES scf_distributors(id),
    balance_fen      BIGINT NOT NULL CHECK (balance_fen >= 0),
    updated_at       TIMESTAMPTZ NOT NULL
);

-- Sales receipts, once each by the payment system's reference, and what was swept.
CREATE TABLE scf_receipts (
    id               UUID PRIMARY KEY,
    distributor_id   UUID NOT NULL REFERENCES scf_distributors(id),
    reference        TEXT NOT NULL UNIQUE,
    amount_fen       BIGINT NOT NULL CHECK (amount_fen > 0),
    swept_fen        BIGINT NOT NULL CHECK (swept_fen >= 0),
    journal_id       UUID REFERENCES scf_journals(id),
    received_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX scf_receipts_distributor ON scf_receipts(distributor_id, received_at);

-- Idempotency keys of draws and repayments, per line.
CREATE TABLE scf_money_claims (
    line_id          UUID NOT NULL REFERENCES scf_lines(id),
    idempotency_key  TEXT NOT NULL,
    request_sm3      TEXT NOT NULL,
    claimed_at       TIMESTAMPTZ NOT NULL,
    journal_id       UUID NOT NULL REFERENCES scf_journals(id),
    PRIMARY KEY (line_id, idempotency_key)
);

-- Early warnings acted on: the signals, the action and the reason shown.
CREATE TABLE scf_warnings (
    id               UUID PRIMARY KEY,
    line_id          UUID NOT NULL REFERENCES scf_lines(id),
    closed_month     TEXT NOT NULL,
    action           TEXT NOT NULL CHECK (action IN ('lower','freeze')),
    old_limit_fen    BIGINT NOT NULL,
    new_limit_fen    BIGINT NOT NULL,
    reason           TEXT NOT NULL,
    -- JSON: every warning with its signal, severity and text; the features seen.
    signals          TEXT NOT NULL,
    at               TIMESTAMPTZ NOT NULL
);
CREATE INDEX scf_warnings_line ON scf_warnings(line_id, at);
