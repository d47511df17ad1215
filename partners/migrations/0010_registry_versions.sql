-- Incremental registry updates (issue #14).

-- 1. A version per platform that moves with every write to its row or to any of its parties' rows
--    (added, changed, moved away or removed): the safety-net reload compares these few bytes per
--    platform with each replica's snapshot and re-reads only the platforms that differ.
CREATE SEQUENCE registry_row_version;
ALTER TABLE platforms ADD COLUMN row_version bigint NOT NULL DEFAULT nextval('registry_row_version');

CREATE FUNCTION platforms_row_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.row_version := nextval('registry_row_version');
    RETURN NEW;
END $$;
CREATE TRIGGER platforms_row_version BEFORE UPDATE ON platforms
    FOR EACH ROW EXECUTE FUNCTION platforms_row_version();

-- Once per statement on parties, however many rows it wrote: each platform concerned is touched, and
-- the trigger above gives it a new version (a platform being deleted is gone already: no row).
CREATE FUNCTION parties_touch_platforms() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE platforms SET row_version = row_version WHERE id IN (SELECT platform_id FROM old_rows);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        UPDATE platforms SET row_version = row_version WHERE id IN (SELECT platform_id FROM new_rows);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER parties_inserted AFTER INSERT ON parties REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION parties_touch_platforms();
CREATE TRIGGER parties_updated AFTER UPDATE ON parties REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION parties_touch_platforms();
CREATE TRIGGER parties_deleted AFTER DELETE ON parties REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION parties_touch_platforms();

-- 2. Learned routes are read back by the transaction that wrote them: each replica asks only for rows
--    written by transactions at or after the oldest one still running at its last read
--    (partners.store.load_learned), instead of re-reading every row of the last few seconds.
ALTER TABLE learned_routes ADD COLUMN written_by bigint NOT NULL DEFAULT pg_current_xact_id()::text::bigint;
CREATE INDEX learned_routes_written_by ON learned_routes (written_by);
DROP INDEX IF EXISTS learned_routes_updated;
