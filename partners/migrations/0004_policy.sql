-- Party-level authorization (issue #9).

-- 1. Suspension is the operator's: a flag of its own, so that nothing else that writes a platform's
--    connection status (a credentials PUT, a still-alive probe) can lift it. Until now an operator
--    suspension was status 'SUSPENDED' on a platform that still holds a token.
ALTER TABLE platforms ADD COLUMN suspended boolean NOT NULL DEFAULT false;
UPDATE platforms
   SET suspended = true,
       status = CASE WHEN outbound_token IS NULL THEN 'PLANNED' ELSE 'CONNECTED' END
 WHERE status = 'SUSPENDED' AND token_hash IS NOT NULL;

-- 2. Learned routes keyed by owner and id: two CPOs may both have a location LOC1 or a session S1.
--    kind 'location' and 'token': the owner is the party that pushed the object, target = where it went
--    (a party, or the hub for a broadcast); kind 'session': owner = the CPO, target = the eMSP it went to.
ALTER TABLE learned_routes RENAME TO learned_routes_0002;
CREATE TABLE learned_routes (
    kind               text        NOT NULL CHECK (kind IN ('location', 'session', 'token')),
    owner_country_code text        NOT NULL,
    owner_party_id     text        NOT NULL,
    object_id          text        NOT NULL,
    country_code       text        NOT NULL,
    party_id           text        NOT NULL,
    updated_at         timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (kind, owner_country_code, owner_party_id, object_id)
);
DROP INDEX IF EXISTS learned_routes_updated;
CREATE INDEX learned_routes_updated ON learned_routes (updated_at);
-- Rows of the old shape stay usable: an owner learned for an id is that id's owner. A session's two
-- rows (its CPO, and the eMSP it went to) become one; half a session cannot be used and is dropped.
INSERT INTO learned_routes (kind, owner_country_code, owner_party_id, object_id, country_code, party_id, updated_at)
SELECT CASE kind WHEN 'location_cpo' THEN 'location' ELSE 'token' END,
       country_code, party_id, object_id, country_code, party_id, updated_at
  FROM learned_routes_0002 WHERE kind IN ('location_cpo', 'token_emsp');
INSERT INTO learned_routes (kind, owner_country_code, owner_party_id, object_id, country_code, party_id, updated_at)
SELECT 'session', c.country_code, c.party_id, c.object_id, e.country_code, e.party_id, greatest(c.updated_at, e.updated_at)
  FROM learned_routes_0002 c JOIN learned_routes_0002 e ON e.object_id = c.object_id AND e.kind = 'session_emsp'
 WHERE c.kind = 'session_cpo';
DROP TABLE learned_routes_0002;

-- 3. Roaming agreements: one CPO party and one eMSP-side party, for some modules (NULL: all), from
--    valid_from until valid_until (NULL: open-ended). Ended agreements are kept for audit.
CREATE TABLE agreements (
    id                bigserial   PRIMARY KEY,
    cpo_country_code  text        NOT NULL CHECK (cpo_country_code = upper(cpo_country_code)),
    cpo_party_id      text        NOT NULL CHECK (cpo_party_id = upper(cpo_party_id)),
    emsp_country_code text        NOT NULL CHECK (emsp_country_code = upper(emsp_country_code)),
    emsp_party_id     text        NOT NULL CHECK (emsp_party_id = upper(emsp_party_id)),
    modules           text[],
    valid_from        timestamptz NOT NULL DEFAULT now(),
    valid_until       timestamptz CHECK (valid_until IS NULL OR valid_until > valid_from),
    status            text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'ended')),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    ended_at          timestamptz
);
CREATE INDEX agreements_pair ON agreements (cpo_country_code, cpo_party_id, emsp_country_code, emsp_party_id);
CREATE INDEX agreements_emsp ON agreements (emsp_country_code, emsp_party_id);
