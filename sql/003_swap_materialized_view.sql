-- 003: swap the backfilled table in for today's materialized view.
--
-- Runs only when a materialized view named enriched_support_conversations
-- exists (002 then built enriched_support_conversations_next). One short
-- transaction: it takes the view's ACCESS EXCLUSIVE lock only for the drop and
-- two renames, which touch the catalog and no data. lock_timeout keeps a long
-- running reader from making every other reader queue behind this lock: the
-- migration then fails with lock_not_available, nothing changes, and the
-- runner (or the operator) retries it.
--
-- Rows that changed between 002's backfill snapshot and the swap are caught up
-- by the processor, which must consume from offsets that predate the backfill
-- (start enrich-cdc first; a fresh consumer group starts from the earliest
-- offset). Re-applying older events is harmless: every write recomputes the
-- row from the current source state.
DO $migration$
BEGIN
  IF NOT EXISTS (
      SELECT 1 FROM pg_class c
       WHERE c.relname = 'enriched_support_conversations'
         AND c.relkind = 'm'
         AND c.relnamespace = current_schema()::regnamespace) THEN
    RETURN;
  END IF;
  IF to_regclass('enriched_support_conversations_next') IS NULL THEN
    RAISE EXCEPTION 'materialized view enriched_support_conversations exists '
                    'but enriched_support_conversations_next does not; '
                    'migration 002 must run first';
  END IF;
  SET LOCAL lock_timeout = '3s';
  -- Fails, and changes nothing, when another object depends on the view: the
  -- operator must move that dependency to the table first.
  DROP MATERIALIZED VIEW enriched_support_conversations;
  ALTER TABLE enriched_support_conversations_next
    RENAME TO enriched_support_conversations;
  ALTER INDEX enriched_support_conversations_next_pkey
    RENAME TO enriched_support_conversations_pkey;
END
$migration$;
