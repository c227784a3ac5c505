-- The three-step authorization flow (RULES.md §4.2): request tokens and the nonce records of the
-- flow's own requests.

-- One row per request token: issued pending, then authorized (with who consented, for which
-- account and role, and a digest of the verifier handed to the callback) or denied, then
-- exchanged once. Kept until a while after it expires, then purged.
CREATE TABLE request_tokens (
    token_id             TEXT PRIMARY KEY,
    integration_id       INTEGER NOT NULL REFERENCES integrations (id),
    token_secret         BLOB NOT NULL,
    token_secret_key_id  TEXT NOT NULL,
    callback             TEXT NOT NULL,
    -- The account the request named in its realm, if it named one.
    realm                TEXT,
    created_at           INTEGER NOT NULL,
    expires_at           INTEGER NOT NULL,
    state                TEXT NOT NULL
        CHECK (state IN ('pending', 'authorized', 'denied', 'exchanged')),
    account_id           TEXT REFERENCES accounts (id),
    user_id              INTEGER REFERENCES users (id) ON DELETE CASCADE,
    role_id              INTEGER,
    verifier_digest      BLOB,
    CHECK (state <> 'authorized' OR (user_id IS NOT NULL AND verifier_digest IS NOT NULL))
) STRICT;
CREATE INDEX request_tokens_by_expiry ON request_tokens (expires_at);

-- Replay protection for requesttoken and accesstoken: few and checked in their own
-- transaction, so a plain unique key (unlike `nonces`, the hot path's).
CREATE TABLE flow_nonces (
    digest  BLOB PRIMARY KEY,
    ts      INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX flow_nonces_by_ts ON flow_nonces (ts);
