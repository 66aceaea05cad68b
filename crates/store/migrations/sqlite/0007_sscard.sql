-- Electronic social-security cards (电子社保卡) bound to a device: the dynamic QR code names
-- the card by an opaque token and the device by a digest (bianmin_services::sscard::qr), never
-- by card number or resident id. One live binding per person; revoking one (a lost phone)
-- makes every code of it fail verification at once.

CREATE TABLE sscard_bindings (
    card_token       BLOB PRIMARY KEY NOT NULL,
    person_id        BLOB NOT NULL REFERENCES persons(id),
    -- First 16 bytes of SM3("bianmin.sscard.device" 0x00 device id).
    device_digest    BLOB NOT NULL CHECK (length(device_digest) = 16),
    activated_at     TEXT NOT NULL,
    revoked_at       TEXT,
    revoked_reason   TEXT
);
CREATE UNIQUE INDEX sscard_bindings_live ON sscard_bindings(person_id) WHERE revoked_at IS NULL;
