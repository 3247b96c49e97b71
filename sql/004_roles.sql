-- 004: least-privilege roles (NOLOGIN groups: grant them to login roles).
--
--   enrich_processor  what enrich-processor run/replay/reconcile needs:
--                     read the four source tables; read and write the
--                     enriched rows and its own offsets. No DDL, no TRUNCATE.
--   enrich_reader     what readers of enriched_support_conversations need:
--                     SELECT on that table only.
--
-- Migrations themselves run as the owner of the tables (the role that can
-- CREATE in the schema and, for 003, owns the materialized view). Creating
-- roles needs CREATEROLE; a migrating role without it gets an actionable
-- error, and an administrator can create the two roles beforehand, after
-- which this file only grants.
DO $migration$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'enrich_processor') THEN
    CREATE ROLE enrich_processor NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'enrich_reader') THEN
    CREATE ROLE enrich_reader NOLOGIN;
  END IF;
EXCEPTION WHEN insufficient_privilege THEN
  RAISE EXCEPTION 'cannot create roles enrich_processor/enrich_reader: %', SQLERRM
    USING HINT = 'Run this migration as a role with CREATEROLE, or have an '
                 'administrator run: CREATE ROLE enrich_processor NOLOGIN; '
                 'CREATE ROLE enrich_reader NOLOGIN;';
END
$migration$;

DO $migration$
BEGIN
  EXECUTE format('GRANT USAGE ON SCHEMA %I TO enrich_processor, enrich_reader',
                 current_schema());
END
$migration$;
GRANT SELECT ON raw_support_conversations, support_conversation_messages,
                subscribers_insights, linear_issues
   TO enrich_processor;
GRANT SELECT, INSERT, UPDATE, DELETE ON enriched_support_conversations
   TO enrich_processor;
GRANT SELECT, INSERT, UPDATE ON enrich_processor_offsets TO enrich_processor;
GRANT SELECT ON enrich_schema_migrations TO enrich_processor;
GRANT SELECT ON enriched_support_conversations TO enrich_reader;
