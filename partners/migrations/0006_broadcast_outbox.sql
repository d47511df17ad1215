-- Broadcast deliveries still waiting when a hub process stopped: written in one transaction at
-- shutdown, taken over (each row exactly once) by the next process or another replica, in id order.
-- A body shared by many deliveries (one push, many receivers) is stored once.
CREATE TABLE broadcast_outbox_bodies (
    id   bigserial PRIMARY KEY,
    body bytea     NOT NULL
);

CREATE TABLE broadcast_outbox (
    id             bigserial        PRIMARY KEY,
    body_id        bigint,          -- NULL: no body (DELETE)
    platform_id    bigint           NOT NULL,
    country_code   text             NOT NULL,
    party_id       text             NOT NULL,
    module         text             NOT NULL,
    method         text             NOT NULL,
    path           text             NOT NULL,
    query          text             NOT NULL DEFAULT '',
    correlation_id text             NOT NULL DEFAULT '',
    sender         text             NOT NULL DEFAULT '',
    -- When the oldest push this delivery carries was accepted (epoch seconds): it still expires.
    accepted_at    double precision NOT NULL,
    persisted_at   timestamptz      NOT NULL DEFAULT now()
);
CREATE INDEX broadcast_outbox_body ON broadcast_outbox (body_id);
