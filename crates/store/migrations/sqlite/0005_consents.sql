-- Consents (授权, see bianmin-consent and docs/exchange-protocol.md §6): what a person allowed a
-- consumer to fetch about them, for which purpose, how often and until when; and every use.
-- No column holds the resident id in clear, nor anything from which it can be worked out: the
-- signed artefact names its subject by SM3(consent_id ":" resident id), which trying every
-- possible resident id reverses, so it is stored sealed under the person's data key (by
-- bianmin-people's PersonVault::seal_for), and erasing the person makes it unreadable.
-- Dates are 'YYYY-MM-DD' text (DATE in PostgreSQL); times RFC 3339 UTC text, as elsewhere.

CREATE TABLE consents (
    id               BLOB PRIMARY KEY NOT NULL,
    person_id        BLOB NOT NULL REFERENCES persons(id),
    -- Client identifier allowed to use the consent, e.g. 'CN-CD/COM/bank/bianmin'.
    consumer         TEXT NOT NULL,
    purpose_code     TEXT NOT NULL,
    -- JSON array of data kinds, e.g. ["hpf.account","si.status"].
    data_kinds       TEXT NOT NULL,
    data_from        TEXT NOT NULL,
    data_to          TEXT NOT NULL,
    frequency_unit   TEXT NOT NULL CHECK (frequency_unit IN ('day','month','year')),
    frequency_max    INTEGER NOT NULL CHECK (frequency_max > 0),
    valid_from       TEXT NOT NULL,
    valid_until      TEXT NOT NULL,
    data_life_days   INTEGER NOT NULL CHECK (data_life_days >= 0),
    state            TEXT NOT NULL CHECK (state IN ('PENDING','ACTIVE','REJECTED','REVOKED','EXPIRED')),
    -- The X-Exchange-Consent header value, signed by the platform at approval, sealed with
    -- SM4-GCM under the person's data key, bound to this table, column and row id.
    signed_artefact_enc BLOB,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    decided_at       TEXT,
    revoked_at       TEXT,
    CHECK (data_from <= data_to),
    CHECK (valid_from < valid_until),
    -- Approved consents carry their artefact, undecided and refused ones none; a consent
    -- can expire before or after approval.
    CHECK ((state IN ('PENDING','REJECTED') AND signed_artefact_enc IS NULL AND revoked_at IS NULL)
        OR (state = 'ACTIVE' AND signed_artefact_enc IS NOT NULL AND revoked_at IS NULL)
        OR (state = 'REVOKED' AND signed_artefact_enc IS NOT NULL AND revoked_at IS NOT NULL)
        OR (state = 'EXPIRED' AND revoked_at IS NULL))
);
-- A person's consents, newest first (list_for).
CREATE INDEX consents_person ON consents(person_id, created_at);

CREATE TABLE consent_uses (
    id               BLOB PRIMARY KEY NOT NULL,
    consent_id       BLOB NOT NULL REFERENCES consents(id),
    data_kind        TEXT NOT NULL,
    -- Service identifier the data was fetched from.
    service          TEXT NOT NULL,
    -- X-Exchange-Message-Id of the request made under the consent; a request returning several
    -- data kinds has one row per kind and counts once towards the frequency.
    message_id       BLOB NOT NULL,
    used_at          TEXT NOT NULL
);
-- Uses of a consent in a frequency window, its use count and last use.
CREATE INDEX consent_uses_window ON consent_uses(consent_id, used_at);
-- A retried request (same message id) is one use, not several.
CREATE UNIQUE INDEX consent_uses_message ON consent_uses(consent_id, message_id, data_kind);
