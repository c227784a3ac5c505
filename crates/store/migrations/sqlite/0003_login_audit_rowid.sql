-- The login audit trail without AUTOINCREMENT: the hot path inserts a row per statement, and
-- AUTOINCREMENT rewrote sqlite_sequence with each. Rows are only appended (the newest are never
-- deleted), so a plain rowid never reuses an id either. Existing rows keep their ids.
CREATE TABLE login_audit_rowid (
    id                INTEGER PRIMARY KEY,
    at                INTEGER NOT NULL,
    account_id        TEXT,
    user_id           INTEGER,
    user_name         TEXT,
    email             TEXT,
    role_id           INTEGER,
    role_name         TEXT,
    ip                TEXT NOT NULL,
    user_agent        TEXT NOT NULL,
    method            TEXT NOT NULL,
    request_uri       TEXT NOT NULL,
    surface           TEXT NOT NULL,
    success           INTEGER NOT NULL,
    detail            TEXT NOT NULL,
    detail_note       TEXT NOT NULL,
    integration_id    INTEGER,
    application_name  TEXT,
    token_key         INTEGER,
    token_name        TEXT
) STRICT;

INSERT INTO login_audit_rowid SELECT * FROM login_audit;
DROP TABLE login_audit;
ALTER TABLE login_audit_rowid RENAME TO login_audit;
CREATE INDEX login_audit_by_account ON login_audit (account_id, id);
