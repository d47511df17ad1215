-- What the version bridge learns about tokens from the traffic it translates: the uid and type of the
-- token behind a contract id, which a 2.1.1 Session or CDR names alone (auth_id) while 2.2 on need
-- all three. Shared by every replica and process, kept across restarts (routing/translation_memory.py).
CREATE TABLE token_facts (
    owner_country_code text        NOT NULL,
    owner_party_id     text        NOT NULL,
    contract_id        text        NOT NULL,
    uid                text        NOT NULL,
    token_type         text        NOT NULL,
    updated_at         timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (owner_country_code, owner_party_id, contract_id)
);
CREATE INDEX token_facts_updated ON token_facts (updated_at);

-- Open routing learns a fourth kind: 'contract', owner = the eMSP whose token has that contract id,
-- target = where the token went. A 2.1.1 Session or CDR is routed to its eMSP by it.
ALTER TABLE learned_routes DROP CONSTRAINT learned_routes_kind_check;
ALTER TABLE learned_routes ADD CONSTRAINT learned_routes_kind_check
    CHECK (kind IN ('location', 'session', 'token', 'contract'));
