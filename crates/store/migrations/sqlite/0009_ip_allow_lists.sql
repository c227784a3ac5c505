-- IP allow-lists (RULES.md R17, Tessera's choice): per account, and per integration record in
-- one account (its installation), canonical networks joined by commas (NULL: no list); and the
-- address a token was last used from, written with its last use.
ALTER TABLE accounts ADD COLUMN ip_allow TEXT;
ALTER TABLE installations ADD COLUMN ip_allow TEXT;
ALTER TABLE token_usage ADD COLUMN last_ip TEXT;
