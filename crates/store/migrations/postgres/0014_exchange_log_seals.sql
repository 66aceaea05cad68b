-- Sealed message log (docs/exchange-protocol.md §8): a logging side signs one seal over the
-- digests of a batch of records instead of signing each record. Rows written before this
-- migration keep their own signature; new rows name their seal and their place in it.

CREATE TABLE exchange_log_seals (
    id            UUID PRIMARY KEY,
    -- The subsystem that wrote the records and signed the seal.
    logged_by     TEXT NOT NULL,
    -- Written already truncated to microseconds (part of the signed text).
    sealed_at     TIMESTAMPTZ NOT NULL,
    -- SM3 of each sealed record (bianmin_exchange::LogRecord::digest), 32 bytes each, in order.
    digests       BYTEA NOT NULL CHECK (length(digests) > 0 AND length(digests) % 32 = 0),
    -- SM2 signature (r || s) of `logged_by` over the seal (bianmin_exchange::LogSeal).
    signature     BYTEA NOT NULL
);
CREATE INDEX exchange_log_seals_sealed ON exchange_log_seals(sealed_at);

ALTER TABLE exchange_log
    ALTER COLUMN signature DROP NOT NULL,
    ADD COLUMN seal_id UUID REFERENCES exchange_log_seals(id),
    ADD COLUMN seal_index INTEGER,
    ADD CONSTRAINT exchange_log_proof CHECK (
        (signature IS NOT NULL AND seal_id IS NULL AND seal_index IS NULL)
        OR (signature IS NULL AND seal_id IS NOT NULL AND seal_index >= 0));
COMMENT ON COLUMN exchange_log.signature IS
    'SM2 signature of logged_by over the record alone (rows from before seals)';
CREATE INDEX exchange_log_seal ON exchange_log(seal_id) WHERE seal_id IS NOT NULL;
