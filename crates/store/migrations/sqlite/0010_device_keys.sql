-- A citizen's device keys (SM2): the key pair is created on the phone or in the browser, only the
-- public key is enrolled here, and signatures made with it (a loan contract, later signed API
-- requests) are verified against it (crates/server/src/devices.rs). Rows are never deleted: a
-- revoked key stays so that old signatures can still be attributed and the key cannot return.

CREATE TABLE device_keys (
    id            BLOB PRIMARY KEY NOT NULL,
    person_id     BLOB NOT NULL REFERENCES persons(id),
    -- SEC1 uncompressed point 04 || x || y on the SM2 curve; one person's, once, for ever.
    public_key    BLOB NOT NULL UNIQUE CHECK (length(public_key) = 65),
    -- SM3 of public_key: what people compare and logs name.
    fingerprint   BLOB NOT NULL CHECK (length(fingerprint) = 32),
    label         TEXT NOT NULL,
    -- Which of the person's five places an active key holds: the unique index below makes
    -- "at most 5 active keys per person" a rule the database keeps, even under concurrent enrolment.
    slot          INTEGER NOT NULL CHECK (slot BETWEEN 1 AND 5),
    created_at    TEXT NOT NULL,
    last_used_at  TEXT,
    revoked_at    TEXT
);
CREATE UNIQUE INDEX device_keys_active_slot ON device_keys(person_id, slot) WHERE revoked_at IS NULL;
CREATE INDEX device_keys_person ON device_keys(person_id, created_at);
