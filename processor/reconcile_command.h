// `enrich-processor reconcile [--chunk-size N] [--max-ids-per-second N]
// [--chunk-pause-ms MS] [--dry-run]`: compare the enriched table with the
// reference in key-ordered chunks, repair the differences, report them
// (progress: ids, rate, ETA; a summary line on stdout). Exit 0 when the walk
// finished (whatever it repaired), 1 on a database error, 2 on bad options.
#ifndef ENRICH_PROCESSOR_RECONCILE_COMMAND_H_
#define ENRICH_PROCESSOR_RECONCILE_COMMAND_H_

#include "cdc/common/log.h"
#include "processor/maintained_view.h"
#include "processor/processor_flags.h"

namespace enrich::processor {

int ReconcileCommand(const ProcessorFlags& flags, MaintainedView& view,
                     Logger& log);

}  // namespace enrich::processor

#endif  // ENRICH_PROCESSOR_RECONCILE_COMMAND_H_
