// Where a consumer starts in each partition it is assigned: at the offset
// known for the partition (`run`: the one stored in the database's offsets
// table; `replay --from-offsets`: the operator's), else at the partition's
// beginning. Pure: the record source's assignment callback hands in the
// assigned partitions and the caller the offsets it read.
//
//   // On assignment (KafkaRecordSource::Options::start_offsets):
//   std::vector<PartitionOffset> stored = ...;  // from the offsets table
//   ResolveStartOffsets(stored, &assigned);
//
// Never backwards: a partition named more than once in `known` starts at
// the furthest of its offsets, never before one of them (the offsets table
// holds one row per partition; this keeps a merged list safe). Offsets for
// partitions that are not assigned are ignored.
#ifndef ENRICH_PROCESSOR_CORE_START_OFFSETS_H_
#define ENRICH_PROCESSOR_CORE_START_OFFSETS_H_

#include <vector>

#include "processor/core/consumed_batch.h"

namespace enrich::processor {

// Sets next_offset of every element of `assigned` (whatever it held) to the
// offset `known` gives for its topic and partition, or kOffsetBeginning.
void ResolveStartOffsets(const std::vector<PartitionOffset>& known,
                         std::vector<PartitionOffset>* assigned);

}  // namespace enrich::processor

#endif  // ENRICH_PROCESSOR_CORE_START_OFFSETS_H_
