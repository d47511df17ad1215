-- Open routing learns a fifth kind: 'reservation', owner = the CPO a RESERVE_NOW went to, target = the
-- eMSP that made it. The policy lets only that eMSP replace or cancel the reservation.
ALTER TABLE learned_routes DROP CONSTRAINT learned_routes_kind_check;
ALTER TABLE learned_routes ADD CONSTRAINT learned_routes_kind_check
    CHECK (kind IN ('location', 'session', 'token', 'contract', 'reservation'));
