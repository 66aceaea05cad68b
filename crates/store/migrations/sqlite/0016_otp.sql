-- Sign-in with a one-time password sent by SMS (crates/server/src/auth/otp.rs; docs/security.md,
-- "Login protection"). Mobile numbers appear only as blind indexes (HMAC-SM3 under the keyring's
-- blind-index key, purpose "phone"); codes only as HMAC-SM3 under a key derived from the session
-- key, bound to the number.

-- The number each principal signs in with by SMS: one per principal and one principal per number,
-- the last binding winning (carriers recycle numbers).
CREATE TABLE login_phones (
    phone_index   BLOB PRIMARY KEY NOT NULL CHECK (length(phone_index) = 32),
    principal_id  BLOB NOT NULL UNIQUE REFERENCES principals(id),
    bound_at      TEXT NOT NULL
);

-- The latest code sent to each number. Every valid number asked for gets a row, registered or
-- not (principal_id NULL), so that sends and the resend interval look the same for all; only a
-- registered number is texted. A new send replaces the row; expired rows are purged by sends.
CREATE TABLE otp_codes (
    phone_index   BLOB PRIMARY KEY NOT NULL CHECK (length(phone_index) = 32),
    principal_id  BLOB REFERENCES principals(id),
    code_mac      BLOB NOT NULL CHECK (length(code_mac) = 32),
    sent_at       TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    used_at       TEXT
);
CREATE INDEX otp_codes_expiry ON otp_codes(expires_at);
