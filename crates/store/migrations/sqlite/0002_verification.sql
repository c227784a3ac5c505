-- Verification at run time: replay protection, the login audit trail, governance.

-- Whether holders of the role may log in with access tokens (R11), kept by the store from the
-- role's permissions so the nonce claim can check it in SQL.
ALTER TABLE roles ADD COLUMN token_login INTEGER NOT NULL DEFAULT 0;
UPDATE roles SET token_login = CASE
    WHEN id = 3
      OR ',' || permissions || ',' LIKE '%,LOG_IN_USING_ACCESS_TOKENS,%'
      OR ',' || permissions || ',' LIKE '%,USER_ACCESS_TOKENS,%'
    THEN 1 ELSE 0 END;

-- The account's concurrency limit (SPEC §5); NULL means the server's default.
ALTER TABLE accounts ADD COLUMN concurrency_limit INTEGER CHECK (concurrency_limit > 0);

-- One row per accepted (consumer key, token, nonce, timestamp), identified by a 128-bit digest
-- of the four. Kept until the timestamp is older than the acceptance window plus a margin.
-- Appended in arrival order: uniqueness is checked by the one process that holds the data
-- directory, against the records it loads from here at start-up (a unique index on random
-- digests would make every insert write a different page).
CREATE TABLE nonces (
    id        INTEGER PRIMARY KEY,
    ts        INTEGER NOT NULL,
    digest    BLOB NOT NULL,
    token_id  INTEGER NOT NULL
) STRICT;
CREATE INDEX nonces_by_ts ON nonces (ts);

CREATE TABLE login_audit (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
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
CREATE INDEX login_audit_by_account ON login_audit (account_id, id);

-- When each token was last used, apart from the token: written in token order from memory every
-- few seconds, so a request never rewrites a page of `access_tokens` (its rows are wide and a
-- million tokens' pages are spread wide). Replaces `access_tokens.last_used_at`.
CREATE TABLE token_usage (
    token_id      INTEGER PRIMARY KEY REFERENCES access_tokens (id) ON DELETE CASCADE,
    last_used_at  INTEGER NOT NULL
) STRICT;
INSERT INTO token_usage (token_id, last_used_at)
    SELECT id, last_used_at FROM access_tokens WHERE last_used_at IS NOT NULL;
ALTER TABLE access_tokens DROP COLUMN last_used_at;
