-- The signature debugger: until when a token, or an integration record in one account (its
-- installation), has what the server computes for refused signatures kept; and what was kept,
-- with the audit row of the refusal (a masked base string and how the request was read, as
-- JSON; never a secret or a signature).
ALTER TABLE access_tokens ADD COLUMN signature_debug_until BIGINT;
ALTER TABLE installations ADD COLUMN signature_debug_until BIGINT;
ALTER TABLE login_audit ADD COLUMN signature_capture TEXT;
