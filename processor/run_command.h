// `enrich-processor run`: consume the change topics in the consumer group
// from the offsets stored in the database and rewrite the affected rows
// until SIGTERM. Exit 0 on a clean stop, 1 when a server refuses or fails,
// 2 on bad options.
#ifndef ENRICH_PROCESSOR_RUN_COMMAND_H_
#define ENRICH_PROCESSOR_RUN_COMMAND_H_

#include "cdc/common/log.h"
#include "processor/maintained_view.h"
#include "processor/processor_flags.h"

namespace enrich::processor {

int RunCommand(const ProcessorFlags& flags, MaintainedView& view, Logger& log);

}  // namespace enrich::processor

#endif  // ENRICH_PROCESSOR_RUN_COMMAND_H_
