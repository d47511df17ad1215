-- What open routing learns from forwarded traffic (token uid -> eMSP, location id -> CPO, ...),
-- shared by every replica and kept across restarts.
CREATE TABLE learned_routes (
    kind         text        NOT NULL,
    object_id    text        NOT NULL,
    country_code text        NOT NULL,
    party_id     text        NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (kind, object_id)
);
CREATE INDEX learned_routes_updated ON learned_routes (updated_at);
