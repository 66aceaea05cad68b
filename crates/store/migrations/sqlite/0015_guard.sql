-- Anti-crawler state that must outlive a process (docs/security.md, "Signed requests" and
-- "Behaviour scoring").

-- Nonces of signed requests a device has used, kept for the 600-second replay window when no
-- Redis is configured (with Redis they live there). Purged as they expire.
CREATE TABLE request_nonces (
    device_id     BLOB NOT NULL,
    nonce         TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    PRIMARY KEY (device_id, nonce)
);
CREATE INDEX request_nonces_expiry ON request_nonces(expires_at);

-- Every raise of a subject's friction level (slow, challenge, block) with its evidence, for the
-- bank console. Subjects are pseudonyms (HMAC-SM3 under a key derived from the session key),
-- never session ids, device ids or addresses in clear; evidence never quotes an identifier.
CREATE TABLE guard_escalations (
    id            BLOB PRIMARY KEY NOT NULL,
    at            TEXT NOT NULL,
    subject_kind  TEXT NOT NULL CHECK (subject_kind IN ('session', 'device', 'ip')),
    subject       TEXT NOT NULL,
    from_level    TEXT NOT NULL,
    to_level      TEXT NOT NULL CHECK (to_level IN ('slow', 'challenge', 'block')),
    score         INTEGER NOT NULL,
    until         TEXT,
    class         TEXT NOT NULL,
    path          TEXT NOT NULL,
    evidence      TEXT NOT NULL
);
CREATE INDEX guard_escalations_at ON guard_escalations(at);
