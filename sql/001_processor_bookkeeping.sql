-- 001: the processor's own bookkeeping.
--
-- enrich_processor_offsets holds, per consumer group and Kafka partition, the
-- offset of the next record to consume. The processor writes it in the same
-- transaction as the enriched rows that record produced, so a crash can never
-- separate "rows written" from "offset stored" (exactly-once effect), and on
-- partition assignment it seeks to these offsets, not to Kafka's.
--
-- enrich_schema_migrations (which migrations ran) is created by the migration
-- runner itself before it applies this file, because it must exist to decide
-- whether this file runs; it is repeated here so the file also stands alone.
CREATE TABLE IF NOT EXISTS enrich_schema_migrations (
  version     integer PRIMARY KEY,
  name        text        NOT NULL,
  checksum    text        NOT NULL,
  applied_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS enrich_processor_offsets (
  consumer_group  text        NOT NULL,
  topic           text        NOT NULL,
  partition       integer     NOT NULL CHECK (partition >= 0),
  next_offset     bigint      NOT NULL CHECK (next_offset >= 0),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer_group, topic, partition)
);
