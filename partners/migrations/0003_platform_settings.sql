-- Per-platform settings an operator sets through the admin API (limits, pins, allow-lists, ...): one
-- JSON object validated by partners.model.PlatformSettings, so a new setting needs no new column.
ALTER TABLE platforms ADD COLUMN settings jsonb NOT NULL DEFAULT '{}';
