-- The three-step authorization flow (RULES.md §4.2): request tokens and the nonce records of the
-- flow's own requests.

-- One row per request token: issued pending, then authorized (with who consented, for which
-- account and role, and a digest of the verifier handed to the callback) or denied, then
-- exchanged once. Kept until a while after it expires, then purged.
CREATE TABLE request_tokens (
    token_id             TEXT PRIMARY KEY,
    integration_id       BIGINT NOT NULL REFERENCES integrations (id),
    token_secret         BYTEA NOT NULL,
    token_secret_key_id  TEXT NOT NULL,
    callback             TEXT NOT NULL,
    -- The account the request named in its realm, if it named one.
    realm                TEXT,
    created_at           BIGINT NOT NULL,
    expires_at           BIGINT NOT NULL,
    state                TEXT NOT NULL
        CHECK (state IN ('pending', 'authorized', 'denied', 'exchanged')),
    account_id           TEXT REFERENCES accounts (id),
    user_id              BIGINT REFERENCES users (id) ON DELETE CASCADE,
    role_id              BIGINT,
    verifier_digest      BYTEA,
    CHECK (state <> 'authorized' OR (user_id IS NOT NULL AND verifier_digest IS NOT NULL))
);
CREATE INDEX request_tokens_by_expiry ON request_tokens (expires_at);

-- Replay protection for requesttoken and accesstoken: few and checked in their own
-- transaction, so a plain unique key (unlike `nonces`, the hot path's).
CREATE TABLE flow_nonces (
    digest  BYTEA PRIMARY KEY,
    ts      BIGINT NOT NULL
);
CREATE INDEX flow_nonces_by_ts ON flow_nonces (ts);
