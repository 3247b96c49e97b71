// The figures of `enrich-processor replay`'s progress: the records between
// where the replay's partitions are and the ends they had when it started,
// and the progress line (consumed, applied, remaining, rate, ETA). Pure:
// the caller hands in offsets and counts.
//
//   const int64_t total = RecordsRemaining(ends, source.Assignment());
//   ...  // every few seconds:
//   ReplayProgress p = ReplayProgressAt(total, replay.RecordsShortOfEnd(),
//                                       applied, now - start);
#ifndef ENRICH_PROCESSOR_CORE_REPLAY_PROGRESS_H_
#define ENRICH_PROCESSOR_CORE_REPLAY_PROGRESS_H_

#include <cstdint>
#include <vector>

#include "absl/time/time.h"
#include "cdc/common/progress_estimate.h"
#include "processor/core/consumed_batch.h"

namespace enrich::processor {

// Records still below the ends: the sum, over the partitions in both `ends`
// and `positions` (each partition named once in each), of end - next offset
// (a negative next offset, e.g. kOffsetBeginning, counts as 0; a partition
// at or past its end counts 0). Partitions in only one list count nothing.
int64_t RecordsRemaining(const std::vector<PartitionOffset>& ends,
                         const std::vector<PartitionOffset>& positions);

struct ReplayProgress {
  int64_t consumed = 0;   // records polled so far
  int64_t applied = 0;    // records of committed batches
  int64_t remaining = 0;  // records left to consume
  // Consuming rate (records per second) and the time left at that rate.
  ProgressEstimate estimate;
};

// `total`: the records to replay when it started; `short_of_end`: those not
// consumed yet (ReplaySource::RecordsShortOfEnd, at most `total`);
// `applied`: records of committed batches; `elapsed`: since the start.
ReplayProgress ReplayProgressAt(int64_t total, int64_t short_of_end,
                                int64_t applied, absl::Duration elapsed);

}  // namespace enrich::processor

#endif  // ENRICH_PROCESSOR_CORE_REPLAY_PROGRESS_H_
