// enrich-processor's options, shared by its subcommands: every flag with
// its environment variable, default and help text (`enrich-processor
// --help` lists them in the order they are added here).
//
//   ProcessorFlags flags;
//   OptionSet opts("enrich-processor", summary);
//   AddProcessorFlags(&opts, &flags);
//   opts.Parse(args, getenv);  // fills `flags`
#ifndef ENRICH_PROCESSOR_PROCESSOR_FLAGS_H_
#define ENRICH_PROCESSOR_PROCESSOR_FLAGS_H_

#include <cstdint>
#include <string>

#include "cdc/common/options.h"

namespace enrich::processor {

struct ProcessorFlags {
  std::string pg_dsn;
  std::string kafka_brokers;
  std::string topic_prefix;
  // Empty: DefaultGroupId of the view (maintained_view.h), set by main.
  std::string group_id;
  // A declared view's definition file; empty: today's built-in view.
  std::string view_file;
  std::string metrics_addr;
  std::string source_schema;
  std::string kafka_properties;
  int64_t batch_max_records = 5000;
  int64_t batch_max_wait_ms = 200;
  int64_t replay_batch_max_records = 500000;
  int64_t replay_batch_max_wait_ms = 300000;
  // reconcile only
  int64_t chunk_size = 1000;
  int64_t max_ids_per_second = 0;
  int64_t chunk_pause_ms = 0;
  bool dry_run = false;
  // replay only
  bool from_beginning = false;
  std::string from_timestamp;
  std::string from_offsets;
  // check-view only
  std::string catalog_view;
};

// Adds every option to `opts`, writing into `flags`; both must outlive
// opts.Parse().
void AddProcessorFlags(OptionSet* opts, ProcessorFlags* flags);

}  // namespace enrich::processor

#endif  // ENRICH_PROCESSOR_PROCESSOR_FLAGS_H_
