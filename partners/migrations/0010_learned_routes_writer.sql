-- Learned routes are read back by the transaction that wrote them: each replica asks only for rows
-- written by transactions at or after the oldest one still running at its last read
-- (partners.store.load_learned), instead of re-reading every row of the last few seconds.
ALTER TABLE learned_routes ADD COLUMN written_by bigint NOT NULL DEFAULT pg_current_xact_id()::text::bigint;
CREATE INDEX learned_routes_written_by ON learned_routes (written_by);
DROP INDEX IF EXISTS learned_routes_updated;
