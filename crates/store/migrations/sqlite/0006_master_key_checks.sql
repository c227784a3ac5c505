-- One row per master key that seals (or sealed) this database's secrets: a known value sealed
-- with that key. A node whose keys cannot open every row is missing a key the secrets need,
-- and refuses to start instead of answering 503 to every signed request.
CREATE TABLE master_key_checks (
    key_id      TEXT PRIMARY KEY,
    check_value BLOB NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT;
