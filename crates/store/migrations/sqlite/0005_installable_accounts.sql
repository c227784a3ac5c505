-- The accounts an integration record's owner lets install it by its internal id (as a bundle
-- would); any other account finds no such record. Removing an account from the list leaves an
-- installation already made in place (uninstalling is that account's business). An account id
-- need not exist yet: the owner may name a customer's account before it is set up here (and
-- the list says nothing about which accounts exist).
CREATE TABLE installable_accounts (
    integration_id  INTEGER NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    account_id      TEXT NOT NULL,
    PRIMARY KEY (integration_id, account_id)
) STRICT;
