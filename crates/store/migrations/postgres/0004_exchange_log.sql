-- The exchange message log (docs/exchange-protocol.md §8) and the providers' replay window (§5).
-- Never personal data in clear: bodies appear only as SM3 digests of the bytes as sent
-- (ciphertexts for personal-data services); subjects not at all.

CREATE TABLE exchange_log (
    seq           BIGSERIAL PRIMARY KEY,
    message_id    UUID NOT NULL,
    side          TEXT NOT NULL CHECK (side IN ('client','provider')),
    -- The subsystem that wrote and signed the row.
    logged_by     TEXT NOT NULL,
    client        TEXT NOT NULL,
    service       TEXT NOT NULL,
    consent_id    UUID,
    request_sm3   TEXT NOT NULL,
    response_sm3  TEXT,
    -- Written already truncated to microseconds, the precision TIMESTAMPTZ keeps.
    started_at    TIMESTAMPTZ NOT NULL,
    duration_ms   BIGINT NOT NULL,
    status        INTEGER,
    outcome       TEXT NOT NULL,
    -- SM2 signature (r || s) of `logged_by` over the record (bianmin_exchange::LogRecord).
    signature     BYTEA NOT NULL
);
CREATE INDEX exchange_log_message ON exchange_log(message_id);
CREATE INDEX exchange_log_started ON exchange_log(started_at);
CREATE INDEX exchange_log_consent ON exchange_log(consent_id) WHERE consent_id IS NOT NULL;

-- (client, nonce) pairs a provider has accepted, kept for the 600-second replay window.
CREATE TABLE exchange_nonces (
    client        TEXT NOT NULL,
    nonce         TEXT NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (client, nonce)
);
CREATE INDEX exchange_nonces_expiry ON exchange_nonces(expires_at);
