-- 007: the least-privilege role of enrich-cdc, and its snapshot record.
--
--   enrich_cdc   what enrich-cdc needs besides the REPLICATION attribute:
--                read the four published tables (its snapshot), and read
--                and write enrich_cdc_snapshots. No DDL, no other table.
--
-- enrich_cdc_snapshots is where enrich-cdc records the snapshot of each slot
-- (cdc/snapshot_publisher.h); the processor reads it to know which snapshots
-- exist (processor/adapters/enriched_row_writer.h, "Snapshot rebuilds").
-- enrich-cdc creates it at start when it is missing, which needs CREATE on
-- the schema; created here, enrich-cdc runs no DDL and its role needs no
-- more than the grants below. The columns are those enrich-cdc creates.
--
-- REPLICATION is an attribute of the login role itself (not inherited
-- through membership) and only a superuser can give it, so an administrator
-- creates the login role:
--   CREATE ROLE enrich_cdc_svc LOGIN REPLICATION PASSWORD '...' IN ROLE enrich_cdc;
-- The publication, which needs ownership of the tables, is created by their
-- owner too (deploy/README.md, "Install beside an existing database").
DO $migration$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'enrich_cdc') THEN
    CREATE ROLE enrich_cdc NOLOGIN;
  END IF;
EXCEPTION WHEN insufficient_privilege THEN
  RAISE EXCEPTION 'cannot create role enrich_cdc: %', SQLERRM
    USING HINT = 'Run this migration as a role with CREATEROLE, or have an '
                 'administrator run: CREATE ROLE enrich_cdc NOLOGIN;';
END
$migration$;

CREATE TABLE IF NOT EXISTS enrich_cdc_snapshots (
  slot_name       text PRIMARY KEY,
  consistent_lsn  pg_lsn NOT NULL,
  completed_at    timestamptz
);

DO $migration$
BEGIN
  EXECUTE format('GRANT USAGE ON SCHEMA %I TO enrich_cdc', current_schema());
END
$migration$;
GRANT SELECT ON raw_support_conversations, support_conversation_messages,
                subscribers_insights, linear_issues
   TO enrich_cdc;

-- A database where enrich-cdc created the table before this migration has it
-- owned by enrich-cdc's login role, whose grants this role may not be able to
-- give: then the table's owner gives them (the warning says which), and
-- meanwhile enrich-cdc, the owner, keeps working, and the processor only
-- rebuilds once more than needed.
DO $migration$
DECLARE
  owner name;
BEGIN
  SELECT pg_get_userbyid(relowner) INTO owner FROM pg_class
   WHERE oid = to_regclass('enrich_cdc_snapshots');
  IF pg_has_role(current_user, owner, 'USAGE') THEN
    GRANT SELECT, INSERT, UPDATE ON enrich_cdc_snapshots TO enrich_cdc;
    GRANT SELECT ON enrich_cdc_snapshots TO enrich_processor;
  ELSE
    RAISE WARNING 'enrich_cdc_snapshots is owned by %: as that role, run '
                  'GRANT SELECT, INSERT, UPDATE ON enrich_cdc_snapshots TO '
                  'enrich_cdc; GRANT SELECT ON enrich_cdc_snapshots TO '
                  'enrich_processor;', owner;
  END IF;
END
$migration$;
