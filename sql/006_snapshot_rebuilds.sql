-- 006: the snapshots each consumer group has rebuilt the table for.
--
-- enrich-cdc publishes a snapshot as SNAPSHOT_READ events whose commit_lsn is
-- the slot's consistent point. The first batch of a consumer group that holds
-- such events rebuilds every enriched row from the source (deleting rows whose
-- conversation no longer exists) and records the snapshot here, in the same
-- transaction as the rows and the batch's offsets; the snapshot's remaining
-- events are then redundant and only move offsets
-- (processor/adapters/enriched_row_writer.h, "Snapshot rebuilds").
CREATE TABLE IF NOT EXISTS enrich_processor_snapshots (
  consumer_group  text        NOT NULL,
  snapshot_lsn    pg_lsn      NOT NULL,
  rebuilt_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer_group, snapshot_lsn)
);

GRANT SELECT, INSERT ON enrich_processor_snapshots TO enrich_processor;
