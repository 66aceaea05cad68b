-- no-transaction
-- Institution staff (hospital, pharmacy, employer) sign in with their own role. SQLite cannot
-- change a CHECK constraint in place, so `principals` is rebuilt the documented way (SQLite's
-- "making other kinds of table schema changes"): foreign keys off outside the transaction, copy,
-- drop, rename, check, on again. Hence this migration runs without sqlx's wrapping transaction.
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;
CREATE TABLE principals_new (
    id            BLOB PRIMARY KEY NOT NULL,
    -- Development personas only; NULL for identities asserted by the bank app.
    persona       TEXT UNIQUE,
    -- Issuer-scoped subject from the bank app's identity assertion ("iss|sub").
    subject       TEXT UNIQUE,
    role          TEXT NOT NULL CHECK (role IN ('citizen','enterprise','institution','government_officer','bank_operator','auditor','admin')),
    -- Already masked (JR/T 0171): the clear name never reaches this table.
    display_name  TEXT NOT NULL,
    -- Government department, or institution for institution staff.
    department    TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    person_id     BLOB REFERENCES persons(id)
);
INSERT INTO principals_new (id, persona, subject, role, display_name, department, created_at, updated_at, person_id)
    SELECT id, persona, subject, role, display_name, department, created_at, updated_at, person_id FROM principals;
DROP TABLE principals;
ALTER TABLE principals_new RENAME TO principals;
CREATE INDEX principals_person ON principals(person_id);
COMMIT;
PRAGMA foreign_keys = ON;
