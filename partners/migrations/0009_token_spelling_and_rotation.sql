-- How the hub spells its token towards each platform (partners.token_encoding), learned at registration:
-- one spelling for the platform's versions endpoint (some 2.1.1 stacks base64-decode there only), one
-- for every other call. Rows from before keep what the hub always sent: base64.
ALTER TABLE platforms
    ADD COLUMN token_encoding text NOT NULL DEFAULT 'base64' CHECK (token_encoding IN ('base64', 'plain')),
    ADD COLUMN versions_token_encoding text NOT NULL DEFAULT 'base64'
        CHECK (versions_token_encoding IN ('base64', 'plain'));

-- The platform's token before its last credentials update (its old token C, or the old token B the hub
-- gave it): still accepted until the platform uses the new one or previous_token_until passes, so that
-- an update whose answer was lost does not lock the platform out (OCPI issue #568).
ALTER TABLE platforms
    ADD COLUMN previous_token_hash bytea,
    ADD COLUMN previous_token_until timestamptz;
CREATE INDEX platforms_previous_token ON platforms (previous_token_hash) WHERE previous_token_hash IS NOT NULL;
