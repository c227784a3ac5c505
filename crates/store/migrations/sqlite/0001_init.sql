-- Tessera schema, SQLite. Times are Unix milliseconds; flags are 0/1 integers.
-- Secrets are stored sealed (XChaCha20-Poly1305) with the id of the master key that sealed them.

CREATE TABLE accounts (
    id                TEXT PRIMARY KEY NOT NULL,
    name              TEXT NOT NULL,
    tba_enabled       INTEGER NOT NULL,
    require_approval  INTEGER NOT NULL,
    next_role_id      INTEGER NOT NULL DEFAULT 1001,
    created_at        INTEGER NOT NULL
) STRICT;

CREATE TABLE roles (
    account_id         TEXT NOT NULL REFERENCES accounts (id),
    id                 INTEGER NOT NULL,
    name               TEXT NOT NULL,
    permissions        TEXT NOT NULL,
    inactive           INTEGER NOT NULL,
    web_services_only  INTEGER NOT NULL,
    PRIMARY KEY (account_id, id)
) STRICT;

CREATE TABLE users (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id     TEXT NOT NULL REFERENCES accounts (id),
    name           TEXT NOT NULL,
    email          TEXT NOT NULL,
    active         INTEGER NOT NULL,
    password_hash  TEXT,
    created_at     INTEGER NOT NULL,
    CONSTRAINT users_email_unique UNIQUE (account_id, email)
) STRICT;

CREATE TABLE user_roles (
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    account_id  TEXT NOT NULL,
    role_id     INTEGER NOT NULL,
    PRIMARY KEY (user_id, role_id),
    FOREIGN KEY (account_id, role_id) REFERENCES roles (account_id, id)
) STRICT;

CREATE TABLE integrations (
    id                      INTEGER PRIMARY KEY AUTOINCREMENT,
    application_id          TEXT NOT NULL UNIQUE,
    owner_account_id        TEXT NOT NULL REFERENCES accounts (id),
    name                    TEXT NOT NULL,
    description             TEXT NOT NULL,
    tba                     INTEGER NOT NULL,
    tba_authorization_flow  INTEGER NOT NULL,
    callback_url            TEXT,
    tba_issuetoken          INTEGER NOT NULL,
    user_credentials        INTEGER NOT NULL,
    consumer_key            TEXT UNIQUE,
    consumer_secret         BLOB,
    consumer_secret_key_id  TEXT,
    credentials_issued_at   INTEGER,
    created_at              INTEGER NOT NULL,
    modified_at             INTEGER NOT NULL,
    deleted_at              INTEGER
) STRICT;

CREATE TABLE installations (
    integration_id     INTEGER NOT NULL REFERENCES integrations (id),
    account_id         TEXT NOT NULL REFERENCES accounts (id),
    state              TEXT NOT NULL CHECK (state IN ('enabled', 'blocked', 'waiting_for_approval')),
    note               TEXT NOT NULL,
    concurrency_limit  INTEGER CHECK (concurrency_limit > 0),
    origin             TEXT NOT NULL CHECK (origin IN ('created', 'bundle', 'auto')),
    installed_at       INTEGER NOT NULL,
    state_changed_at   INTEGER NOT NULL,
    state_changed_by   TEXT NOT NULL,
    PRIMARY KEY (integration_id, account_id)
) STRICT;
CREATE INDEX installations_by_account ON installations (account_id);

CREATE TABLE access_tokens (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id           TEXT NOT NULL REFERENCES accounts (id),
    integration_id       INTEGER NOT NULL REFERENCES integrations (id),
    user_id              INTEGER NOT NULL REFERENCES users (id),
    role_id              INTEGER NOT NULL,
    name                 TEXT NOT NULL,
    name_key             TEXT NOT NULL,
    token_id             TEXT NOT NULL UNIQUE,
    token_secret         BLOB NOT NULL,
    token_secret_key_id  TEXT NOT NULL,
    inactive             INTEGER NOT NULL DEFAULT 0,
    revoked              INTEGER NOT NULL DEFAULT 0,
    revoked_at           INTEGER,
    revoked_by           INTEGER,
    revoked_by_name      TEXT,
    created_at           INTEGER NOT NULL,
    created_by           INTEGER,
    created_by_name      TEXT NOT NULL,
    last_used_at         INTEGER,
    -- Token, application, user and role names, for the list's search (kept current on renames).
    search_text          TEXT NOT NULL,
    FOREIGN KEY (account_id, role_id) REFERENCES roles (account_id, id),
    CHECK (revoked = 0 OR revoked_at IS NOT NULL)
) STRICT;
CREATE INDEX access_tokens_by_account ON access_tokens (account_id, id);
CREATE INDEX access_tokens_by_revoked ON access_tokens (account_id, revoked, id);
CREATE INDEX access_tokens_by_name ON access_tokens (account_id, name_key, id);
CREATE INDEX access_tokens_by_integration ON access_tokens (integration_id, id);
CREATE INDEX access_tokens_by_user ON access_tokens (user_id, id);
CREATE INDEX access_tokens_by_role ON access_tokens (account_id, role_id, id);

-- Substring search over search_text: a trigram index kept in step by triggers.
CREATE VIRTUAL TABLE access_tokens_search USING fts5 (
    search_text, content = 'access_tokens', content_rowid = 'id', tokenize = 'trigram'
);
CREATE TRIGGER access_tokens_search_insert AFTER INSERT ON access_tokens BEGIN
    INSERT INTO access_tokens_search (rowid, search_text) VALUES (new.id, new.search_text);
END;
CREATE TRIGGER access_tokens_search_delete AFTER DELETE ON access_tokens BEGIN
    INSERT INTO access_tokens_search (access_tokens_search, rowid, search_text)
        VALUES ('delete', old.id, old.search_text);
END;
CREATE TRIGGER access_tokens_search_update AFTER UPDATE OF search_text ON access_tokens BEGIN
    INSERT INTO access_tokens_search (access_tokens_search, rowid, search_text)
        VALUES ('delete', old.id, old.search_text);
    INSERT INTO access_tokens_search (rowid, search_text) VALUES (new.id, new.search_text);
END;

CREATE TABLE system_notes (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    at                 INTEGER NOT NULL,
    account_id         TEXT NOT NULL,
    actor_user_id      INTEGER,
    actor_name         TEXT NOT NULL,
    context            TEXT NOT NULL,
    record_type        TEXT NOT NULL CHECK (record_type IN ('integration', 'installation', 'token')),
    record_id          INTEGER NOT NULL,
    record_account_id  TEXT NOT NULL DEFAULT '',
    field              TEXT NOT NULL,
    old_value          TEXT,
    new_value          TEXT
) STRICT;
CREATE INDEX system_notes_by_record ON system_notes (record_type, record_id, record_account_id, id);

-- System notes are history: nothing may change or remove them.
CREATE TRIGGER system_notes_no_update BEFORE UPDATE ON system_notes BEGIN
    SELECT RAISE(ABORT, 'system notes are immutable');
END;
CREATE TRIGGER system_notes_no_delete BEFORE DELETE ON system_notes BEGIN
    SELECT RAISE(ABORT, 'system notes are immutable');
END;
