-- Short hub URLs that stand for a partner's URL (issue #11): a command's or charging profile's
-- response_url, or a Location header the hub could not rebase. The hub issues '{id}.{mac}'; the row
-- says where it leads, who may use it and until when. Expired rows are deleted by the leader.
CREATE TABLE tickets (
    id                text        PRIMARY KEY,
    kind              text        NOT NULL CHECK (kind IN ('callback', 'location')),
    sender_platform   bigint      NOT NULL,
    sender_party      text        NOT NULL,
    receiver_platform bigint      NOT NULL,
    receiver_party    text        NOT NULL,
    url               text        NOT NULL,
    module            text        NOT NULL,
    expires_at        timestamptz NOT NULL
);
CREATE INDEX tickets_expires ON tickets (expires_at);

-- The last time a platform refused the hub's own credentials (HTTP 401/403 to a forward, delivery,
-- push or still-alive probe): the operator sees which platform's outbound token is broken.
ALTER TABLE platforms ADD COLUMN outbound_auth_failed_at timestamptz;
ALTER TABLE platforms ADD COLUMN outbound_auth_failed_status integer;

-- ClientInfo is never deleted (mod_hub_client_info: "deleting is not possible"): a party that leaves the
-- registry (its platform removed by the operator, or a role dropped by a credentials update) stays listed
-- as SUSPENDED in GET hubclientinfo. Triggers keep this table whatever statement removes a party, and a
-- party that registers again is live, not retired.
CREATE TABLE retired_parties (
    country_code text        NOT NULL,
    party_id     text        NOT NULL,
    role         text        NOT NULL,
    last_updated timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (country_code, party_id, role)
);

CREATE FUNCTION ocpihub_retire_party() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO retired_parties (country_code, party_id, role, last_updated)
    VALUES (OLD.country_code, OLD.party_id, OLD.role, now())
    ON CONFLICT (country_code, party_id, role) DO UPDATE SET last_updated = now();
    RETURN OLD;
END $$;

CREATE FUNCTION ocpihub_revive_party() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM retired_parties
     WHERE country_code = NEW.country_code AND party_id = NEW.party_id AND role = NEW.role;
    RETURN NEW;
END $$;

CREATE TRIGGER parties_retire AFTER DELETE ON parties FOR EACH ROW EXECUTE FUNCTION ocpihub_retire_party();
CREATE TRIGGER parties_revive AFTER INSERT ON parties FOR EACH ROW EXECUTE FUNCTION ocpihub_revive_party();
