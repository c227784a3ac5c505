-- Sessions of the admin web UI. The id is stored only as its SHA-256 digest: whoever reads the
-- database cannot take over a signed-in browser. A user's sessions go with the user.
CREATE TABLE web_sessions (
    id_digest   TEXT PRIMARY KEY,
    account_id  TEXT,
    user_id     INTEGER REFERENCES users (id) ON DELETE CASCADE,
    data        TEXT NOT NULL,
    expires_at  INTEGER NOT NULL
) STRICT;

CREATE INDEX web_sessions_by_user ON web_sessions (account_id, user_id);
CREATE INDEX web_sessions_by_expiry ON web_sessions (expires_at);
