-- People: one row per natural person, every personal field (JR/T 0171-2020 C2/C3) sealed with
-- SM4-GCM under that person's own data key (see bianmin-people). No column holds plaintext.

CREATE TABLE persons (
    id                 UUID PRIMARY KEY,
    -- HMAC-SM3 blind index of the resident id (purpose "resident_id"): find a person by ID
    -- number without decrypting. NULL once erased, so the same ID number can register afresh.
    resident_id_index  BYTEA UNIQUE CHECK (length(resident_id_index) = 32),
    -- The person's data key wrapped by the KMS (WrappedKey::to_bytes), bound to `id`.
    -- NULL once erased: without it nothing below decrypts (crypto-shredding).
    data_key           BYTEA,
    -- The KEK version inside `data_key`, as a column so a rewrap run finds old keys by index.
    -- BIGINT so that every u32 version fits and both backends decode it as i64.
    kek_version        BIGINT,
    -- SM4-GCM ciphertexts; associated data binds each to ('persons', column, id).
    resident_id_enc    BYTEA NOT NULL,
    name_enc           BYTEA NOT NULL,
    phone_enc          BYTEA,
    created_at         TIMESTAMPTZ NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL,
    erased_at          TIMESTAMPTZ,
    -- A person is either live (key and index present) or erased (both gone), never half-shredded.
    CHECK ((erased_at IS NULL AND data_key IS NOT NULL AND kek_version IS NOT NULL AND resident_id_index IS NOT NULL)
        OR (erased_at IS NOT NULL AND data_key IS NULL AND kek_version IS NULL AND resident_id_index IS NULL))
);
CREATE INDEX persons_kek_version ON persons(kek_version) WHERE kek_version IS NOT NULL;

-- The person a signed-in principal is (citizens); NULL for staff and not-yet-linked identities.
ALTER TABLE principals ADD COLUMN person_id UUID REFERENCES persons(id);
CREATE INDEX principals_person ON principals(person_id);
