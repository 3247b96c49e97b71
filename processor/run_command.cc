#include "processor/run_command.h"

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "processor/core/start_offsets.h"
#include "processor/pipeline_wiring.h"

namespace enrich::processor {
namespace {

// On assignment: every assigned partition starts at the offset stored for
// it in the database (read once per topic), else at its beginning.
absl::Status StartAtStoredOffsets(EnrichedRowWriter& writer,
                                  std::vector<PartitionOffset>* assigned) {
  std::vector<PartitionOffset> stored;
  std::set<std::string> topics_read;
  for (const PartitionOffset& a : *assigned) {
    if (!topics_read.insert(a.topic).second) continue;
    auto offsets = writer.StoredOffsets(a.topic);
    if (!offsets.ok()) return offsets.status();
    stored.insert(stored.end(), offsets->begin(), offsets->end());
  }
  ResolveStartOffsets(stored, assigned);
  return absl::OkStatus();
}

}  // namespace

int RunCommand(const ProcessorFlags& flags, Logger& log) {
  PipelineWiring wiring(flags, &log);
  if (auto exit = wiring.Start()) return *exit;
  if (auto exit = wiring.ConnectDatabase(flags.group_id,
                                         /*rewrite_each_id_once=*/false)) {
    return *exit;
  }
  if (auto exit = wiring.StartDeadLetters()) return *exit;
  KafkaRecordSource::Options source_options = wiring.SourceOptions();
  EnrichedRowWriter* writer = wiring.writer();
  source_options.start_offsets =
      [writer](std::vector<PartitionOffset>* assigned) {
        return StartAtStoredOffsets(*writer, assigned);
      };
  std::unique_ptr<KafkaRecordSource> source =
      wiring.CreateSource(std::move(source_options));
  if (source == nullptr) return 2;
  ProcessorProbe probe(wiring.metrics());
  absl::Status status =
      wiring.Consume(source.get(), source.get(), &probe, wiring.LoopOptions());
  if (!status.ok()) return LogLoopFailure(status, log);
  LogStopped(probe, log);
  return 0;
}

}  // namespace enrich::processor
