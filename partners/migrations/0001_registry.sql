-- Platforms (one OCPI connection each) and the parties they host.
CREATE TABLE platforms (
    id              bigserial PRIMARY KEY,
    name            text        NOT NULL DEFAULT '',
    status          text        NOT NULL CHECK (status IN ('CONNECTED', 'OFFLINE', 'PLANNED', 'SUSPENDED')),
    -- SHA-256 of the token the platform presents to us (A while invited, then C or our B).
    token_hash      bytea       UNIQUE,
    -- The token we present to the platform (its B, or its C when we started the handshake).
    outbound_token  text,
    versions_url    text,
    version         text,
    endpoints       jsonb       NOT NULL DEFAULT '[]',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE parties (
    id               bigserial PRIMARY KEY,
    platform_id      bigint      NOT NULL REFERENCES platforms (id) ON DELETE CASCADE,
    country_code     text        NOT NULL CHECK (country_code = upper(country_code)),
    party_id         text        NOT NULL CHECK (party_id = upper(party_id)),
    role             text        NOT NULL,
    business_details jsonb       NOT NULL DEFAULT '{}',
    last_updated     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (country_code, party_id, role)
);
CREATE INDEX parties_platform ON parties (platform_id);

-- Secrets shared by every replica (e.g. the key that signs callback URLs).
CREATE TABLE hub_secrets (
    name  text  PRIMARY KEY,
    value bytea NOT NULL
);
