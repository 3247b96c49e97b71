// `enrich-processor replay --from-beginning|--from-timestamp T|
// --from-offsets t:p:o,...`: re-apply the topics' history up to the ends
// they had when it started, then exit, with progress lines (consumed,
// applied, remaining, rate, ETA) and one line per batch. Its offsets go to
// the group "<group-id>.replay", so `run`'s never move. Exit 0 when done
// (or stopped cleanly), 1 when a server refuses or fails, 2 on bad options.
#ifndef ENRICH_PROCESSOR_REPLAY_COMMAND_H_
#define ENRICH_PROCESSOR_REPLAY_COMMAND_H_

#include "cdc/common/log.h"
#include "processor/maintained_view.h"
#include "processor/processor_flags.h"

namespace enrich::processor {

int ReplayCommand(const ProcessorFlags& flags, MaintainedView& view,
                  Logger& log);

}  // namespace enrich::processor

#endif  // ENRICH_PROCESSOR_REPLAY_COMMAND_H_
