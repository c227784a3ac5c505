-- Expiring tokens (RULES.md R16, Tessera's choice): an optional expiry per access token, and a
-- per-account maximum lifetime for new tokens, in days.
ALTER TABLE access_tokens ADD COLUMN expires_at BIGINT;
ALTER TABLE accounts ADD COLUMN token_max_lifetime_days BIGINT;
-- "Expiring within N days" and "expired" look only at tokens that have an expiry.
CREATE INDEX access_tokens_by_expiry ON access_tokens (account_id, expires_at)
    WHERE expires_at IS NOT NULL;
