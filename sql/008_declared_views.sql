-- 008: the registry of declared views (processor/core/VIEWS.md, slice 4).
--
-- enrich_processor_views holds one row per declared view whose table the
-- processor created from its definition (processor/adapters/view_tables.h):
--   name            the view's name as its definition writes it, which is
--                   its table's name
--   definition      the definition's text, exactly: creating the view again
--                   with another text is refused (drop it first)
--   consumer_group  the Kafka consumer group that maintains the table; its
--                   rows in enrich_processor_offsets and
--                   enrich_processor_snapshots belong to this view and are
--                   deleted with it. Unique: offsets are kept per group, so
--                   two views in one group would share (and drop) them.
--
-- A relation of a registered name is the view's table; one that is not
-- registered (a table or materialized view someone else owns, such as
-- today's enriched_support_conversations from 002) is never created over or
-- dropped.
CREATE TABLE IF NOT EXISTS enrich_processor_views (
  name            text        PRIMARY KEY,
  definition      text        NOT NULL,
  consumer_group  text        NOT NULL UNIQUE,
  created_at      timestamptz NOT NULL DEFAULT now()
);

GRANT SELECT ON enrich_processor_views TO enrich_processor;
