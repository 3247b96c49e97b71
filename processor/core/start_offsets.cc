#include "processor/core/start_offsets.h"

#include <algorithm>

namespace enrich::processor {

void ResolveStartOffsets(const std::vector<PartitionOffset>& known,
                         std::vector<PartitionOffset>* assigned) {
  for (PartitionOffset& a : *assigned) {
    a.next_offset = kOffsetBeginning;
    for (const PartitionOffset& k : known) {
      if (k.topic == a.topic && k.partition == a.partition) {
        a.next_offset = std::max(a.next_offset, k.next_offset);
      }
    }
  }
}

}  // namespace enrich::processor
