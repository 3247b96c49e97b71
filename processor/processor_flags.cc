#include "processor/processor_flags.h"

namespace enrich::processor {
namespace {

void AddConnectionFlags(OptionSet* opts, ProcessorFlags* flags) {
  opts->AddString("pg-dsn", "ENRICH_PG_DSN", "",
                  "libpq connection string of the target database.",
                  &flags->pg_dsn,
                  /*secret=*/true);
  opts->AddString("kafka-brokers", "ENRICH_KAFKA_BROKERS", "localhost:9092",
                  "Kafka bootstrap servers, comma-separated.",
                  &flags->kafka_brokers);
  opts->AddString("topic-prefix", "ENRICH_TOPIC_PREFIX", "support",
                  "Topics are named <prefix>.<schema>.<table>.",
                  &flags->topic_prefix);
  opts->AddString("group-id", "ENRICH_GROUP_ID", "",
                  "Kafka consumer group, also the key of the offsets stored "
                  "in the database (default: enrich-processor, or "
                  "enrich-processor.<view name> with --view).",
                  &flags->group_id);
  opts->AddString("view", "ENRICH_VIEW", "",
                  "A declared view to maintain instead of the built-in "
                  "enriched_support_conversations: a file with one CREATE "
                  "[MATERIALIZED] VIEW name AS SELECT ... (processor/core/"
                  "VIEWS.md has the supported class). Its table is the "
                  "view's name, created by `migrate --view`; enrich-cdc "
                  "must publish every table it reads (--tables).",
                  &flags->view_file);
  opts->AddString("metrics-addr", "ENRICH_METRICS_ADDR", "127.0.0.1:9188",
                  "host:port of the /metrics endpoint; port 0 picks a free "
                  "port.",
                  &flags->metrics_addr);
  opts->AddString("source-schema", "ENRICH_SOURCE_SCHEMA", "public",
                  "Schema of the source tables (the topics' middle part).",
                  &flags->source_schema);
  opts->AddString("kafka-properties", "ENRICH_KAFKA_PROPERTIES", "",
                  "Extra librdkafka properties, key=value;key2=value2.",
                  &flags->kafka_properties);
}

void AddBatchFlags(OptionSet* opts, ProcessorFlags* flags) {
  opts->AddInt("batch-max-records", "ENRICH_BATCH_MAX_RECORDS", 5000,
               "A batch closes after this many records...",
               &flags->batch_max_records);
  opts->AddInt("batch-max-wait-ms", "ENRICH_BATCH_MAX_WAIT_MS", 200,
               "...or this long after its first record.",
               &flags->batch_max_wait_ms);
  opts->AddInt("replay-batch-max-records", "ENRICH_REPLAY_BATCH_MAX_RECORDS",
               500000,
               "replay: a batch closes after this many records (or later, "
               "while the previous batch is still being written), when "
               "every partition was consumed to its end...",
               &flags->replay_batch_max_records);
  opts->AddInt("replay-batch-max-wait-ms", "ENRICH_REPLAY_BATCH_MAX_WAIT_MS",
               300000, "replay: ...or this long after its first record.",
               &flags->replay_batch_max_wait_ms);
}

void AddReconcileFlags(OptionSet* opts, ProcessorFlags* flags) {
  opts->AddInt("chunk-size", "ENRICH_RECONCILE_CHUNK_SIZE", 1000,
               "reconcile: ids compared (and repaired) per chunk.",
               &flags->chunk_size);
  opts->AddInt("max-ids-per-second", "ENRICH_RECONCILE_MAX_IDS_PER_SECOND", 0,
               "reconcile: rate limit in ids per second (0: none).",
               &flags->max_ids_per_second);
  opts->AddInt("chunk-pause-ms", "ENRICH_RECONCILE_CHUNK_PAUSE_MS", 0,
               "reconcile: pause after every chunk.", &flags->chunk_pause_ms);
  opts->AddBool("dry-run", "ENRICH_RECONCILE_DRY_RUN", false,
                "reconcile: report the differences, repair nothing.",
                &flags->dry_run);
}

void AddReplayFlags(OptionSet* opts, ProcessorFlags* flags) {
  opts->AddBool("from-beginning", "", false,
                "replay: from the first retained record of every partition "
                "(enrich-cdc's snapshot events make this a full rebuild).",
                &flags->from_beginning);
  opts->AddString("from-timestamp", "", "",
                  "replay: from the first record at or after this RFC 3339 "
                  "time.",
                  &flags->from_timestamp);
  opts->AddString("from-offsets", "", "",
                  "replay: topic:partition:offset,... (other partitions are "
                  "not replayed).",
                  &flags->from_offsets);
}

void AddCheckViewFlags(OptionSet* opts, ProcessorFlags* flags) {
  opts->AddString("catalog-view", "", "",
                  "check-view: read this view or materialized view's "
                  "definition from the database of --pg-dsn and check its "
                  "keys and join indexes against the catalog (instead of "
                  "FILE).",
                  &flags->catalog_view);
}

}  // namespace

void AddProcessorFlags(OptionSet* opts, ProcessorFlags* flags) {
  AddConnectionFlags(opts, flags);
  AddBatchFlags(opts, flags);
  AddReconcileFlags(opts, flags);
  AddReplayFlags(opts, flags);
  AddCheckViewFlags(opts, flags);
}

}  // namespace enrich::processor
