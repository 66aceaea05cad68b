-- Convenience services (bianmin-services): the citizen's current account at the bank (the
-- core banking system, simulated here for the demo) and traffic-fine payments from it.
-- Balances are personal financial data (JR/T 0171 C3): sealed with SM4-GCM under the person's
-- data key (PersonVault::seal_for), bound to this table, column and row; erasing the person
-- makes them unreadable. Times RFC 3339 UTC text, as elsewhere; amounts in fen.

CREATE TABLE bank_accounts (
    id               BLOB PRIMARY KEY NOT NULL,
    person_id        BLOB NOT NULL UNIQUE REFERENCES persons(id),
    -- Last four digits of the account number, shown as 尾号; the full number stays in the core.
    account_suffix   TEXT NOT NULL CHECK (length(account_suffix) = 4),
    balance_enc      BLOB NOT NULL,
    -- Incremented by every posting: a debit computed from a stale balance cannot commit.
    version          INTEGER NOT NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);

CREATE TABLE fine_payments (
    id               BLOB PRIMARY KEY NOT NULL,
    person_id        BLOB NOT NULL REFERENCES persons(id),
    -- The client's Idempotency-Key; one payment per key and person, whatever the retries.
    idempotency_key  TEXT NOT NULL,
    -- SM3 of the canonical request (sorted violation ids and the expected total): the same key
    -- with another request is refused, never silently answered with the first payment.
    request_sm3      TEXT NOT NULL,
    consent_id       BLOB NOT NULL REFERENCES consents(id),
    account_id       BLOB NOT NULL REFERENCES bank_accounts(id),
    amount_fen       INTEGER NOT NULL CHECK (amount_fen > 0),
    receipt_no       TEXT NOT NULL UNIQUE,
    -- The platform's SM2 signature (r || s) over the receipt's canonical text.
    receipt_signature BLOB NOT NULL,
    paid_at          TEXT NOT NULL,
    -- Reporting to the traffic police: 'pending' until every fine is acknowledged.
    notify_state     TEXT NOT NULL CHECK (notify_state IN ('pending','acknowledged')),
    notify_attempts  INTEGER NOT NULL DEFAULT 0,
    next_notify_at   TEXT NOT NULL,
    last_notify_error TEXT,
    acknowledged_at  TEXT,
    UNIQUE (person_id, idempotency_key)
);
CREATE INDEX fine_payments_person ON fine_payments(person_id, paid_at);
CREATE INDEX fine_payments_notify ON fine_payments(next_notify_at) WHERE notify_state = 'pending';

-- Idempotency keys of payment requests, claimed before anything is fetched or moved: one
-- request per (person, key) does the work, its twins wait for its outcome and answer with it.
-- A finished claim names the payment, or the refusal (code and detail) every retry repeats.
CREATE TABLE payment_claims (
    person_id        BLOB NOT NULL REFERENCES persons(id),
    idempotency_key  TEXT NOT NULL,
    request_sm3      TEXT NOT NULL,
    claimed_at       TEXT NOT NULL,
    payment_id       BLOB REFERENCES fine_payments(id),
    refusal_code     TEXT,
    refusal_detail   TEXT,
    PRIMARY KEY (person_id, idempotency_key)
);

CREATE TABLE fine_payment_items (
    payment_id       BLOB NOT NULL REFERENCES fine_payments(id),
    person_id        BLOB NOT NULL REFERENCES persons(id),
    -- 处罚决定书编号.
    violation_id     TEXT NOT NULL,
    fine_fen         INTEGER NOT NULL CHECK (fine_fen >= 0),
    late_fee_fen     INTEGER NOT NULL CHECK (late_fee_fen >= 0),
    notified_at      TEXT,
    PRIMARY KEY (payment_id, violation_id),
    -- A fine is paid once, whatever the key, the tab or the retry.
    UNIQUE (person_id, violation_id)
);
