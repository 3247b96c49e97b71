-- 002: the plain table enriched_support_conversations.
--
-- The first 33 columns are the reference view's
-- (../shared/contract/enriched_reference.sql), same names, order and types.
-- After them, the processor's bookkeeping:
--   source_commit_lsn  highest source commit LSN among the events of the batch
--                      that last changed the row
--   source_commit_at   that batch's latest source commit time
--   enriched_at        when the row was last written (freshness =
--                      enriched_at - source_commit_at)
--
-- Only id is NOT NULL: the writer inserts a bare (id) placeholder to take a
-- row lock on a conversation that has no enriched row yet and overwrites or
-- deletes it in the same statement-ordered transaction, so no reader ever
-- sees it (see processor/adapters/enriched_row_writer.h).
--
-- Three cases, decided at run time so the file is idempotent:
--   * A materialized view of this name exists (today's production): build the
--     table as enriched_support_conversations_next and backfill it here;
--     readers keep reading the materialized view meanwhile (nothing here locks
--     it). 003 swaps the names in one short transaction.
--   * Nothing of this name exists (fresh install): create the table under its
--     final name, empty. The processor builds every row once, set-based, when
--     it first consumes enrich-cdc's snapshot (or finds the table empty at
--     start): a backfill here would be a second full build of the same rows.
--   * A table of this name exists already: nothing to do.
-- The backfill drives a per-conversation LATERAL aggregate in key order, the
-- same computation the processor runs for a batch, so it streams instead of
-- hash-aggregating every message at once.
--
-- An earlier text of this file also backfilled the fresh install's table; a
-- database migrated with it has the same schema:
-- accepts-checksum: 1b0f6510fc5bd5dfdde2a790ad5c8ee3
DO $migration$
DECLARE
  kind   "char";
  target text;
BEGIN
  SELECT c.relkind INTO kind
    FROM pg_class c
   WHERE c.relname = 'enriched_support_conversations'
     AND c.relnamespace = current_schema()::regnamespace;
  IF kind = 'r' THEN
    RETURN;
  ELSIF kind = 'm' THEN
    target := 'enriched_support_conversations_next';
    EXECUTE 'DROP TABLE IF EXISTS enriched_support_conversations_next';
  ELSIF kind IS NULL THEN
    target := 'enriched_support_conversations';
  ELSE
    RAISE EXCEPTION 'enriched_support_conversations exists as relkind %, '
                    'expected a table or a materialized view', kind;
  END IF;

  EXECUTE format($ddl$
    CREATE TABLE %I (
      id                      uuid NOT NULL,
      source                  text,
      external_id             text,
      title                   text,
      description             text,
      status                  text,
      priority                text,
      created_at              timestamptz,
      updated_at              timestamptz,
      resolved_at             timestamptz,
      user_uuid               uuid,
      user_id                 text,
      assignee_id             text,
      tags                    text[],
      custom_fields           jsonb,
      raw_data                jsonb,
      synced_at               timestamptz,
      has_linear_ticket       boolean,
      linear_issue_id         text,
      linear_custom_field_id  text,
      income                  text,
      net_worth               text,
      investing_activity      text,
      total_copies            integer,
      total_subscriptions     integer,
      app_sessions            integer,
      message_count           integer,
      last_message_at         timestamptz,
      all_messages            text[],
      linear_identifier       text,
      linear_title            text,
      linear_state_name       text,
      linear_url              text,
      source_commit_lsn       pg_lsn,
      source_commit_at        timestamptz,
      enriched_at             timestamptz NOT NULL DEFAULT now()
    )$ddl$, target);

  -- Readers of the materialized view switch to a complete table in 003.
  IF kind = 'm' THEN
    EXECUTE format($backfill$
      INSERT INTO %I
      SELECT c.id, c.source, c.external_id, c.title, c.description,
             c.status, c.priority, c.created_at, c.updated_at, c.resolved_at,
             c.user_uuid, c.user_id, c.assignee_id, c.tags, c.custom_fields,
             c.raw_data, c.synced_at, c.has_linear_ticket, c.linear_issue_id,
             c.linear_custom_field_id,
             u.income, u.net_worth, u.investing_activity,
             u.total_copies, u.total_subscriptions, u.app_sessions,
             m.message_count, m.last_message_at, m.all_messages,
             li.identifier, li.title, li.state_name, li.url,
             pg_current_wal_lsn(), now(), now()
        FROM raw_support_conversations c
        LEFT JOIN subscribers_insights u ON u.distinct_id = c.user_id
        LEFT JOIN linear_issues li       ON li.id = c.linear_issue_id
       CROSS JOIN LATERAL (
         SELECT count(sm.id)::integer AS message_count,
                max(sm.created_at)    AS last_message_at,
                array_agg(sm.body ORDER BY sm.created_at, sm.id)
                  FILTER (WHERE sm.body IS NOT NULL) AS all_messages
           FROM support_conversation_messages sm
          WHERE sm.conversation_id = c.id) m
       ORDER BY c.id$backfill$, target);
  END IF;

  -- The primary key is added after the backfill: one sorted index build is
  -- much cheaper than maintaining the index row by row.
  EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I PRIMARY KEY (id)',
                 target, target || '_pkey');
  EXECUTE format('ANALYZE %I', target);
END
$migration$;
