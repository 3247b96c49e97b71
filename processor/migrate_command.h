// `enrich-processor migrate`: apply the migrations compiled in from sql/
// (idempotent; retried while a lock times out). With --view, then create
// and register the declared view's table (view_tables.h) for the consumer
// group that will maintain it, and create the join indexes it lacks
// (CONCURRENTLY; one that cannot be created is reported with its statement,
// not fatal). Exit 0 when the schema (and the view's table) is current, 1
// when migrating failed or the view is refused, 2 on bad options.
//
// `enrich-processor drop-view NAME`: drop a declared view's table, its
// registry row and its group's stored offsets and snapshot records
// (view_tables.h). Exit 0 when dropped, 1 when no such view is registered
// or the drop failed, 2 on bad options.
#ifndef ENRICH_PROCESSOR_MIGRATE_COMMAND_H_
#define ENRICH_PROCESSOR_MIGRATE_COMMAND_H_

#include <string>

#include "cdc/common/log.h"
#include "processor/maintained_view.h"
#include "processor/processor_flags.h"

namespace enrich::processor {

int MigrateCommand(const ProcessorFlags& flags, MaintainedView& view,
                   Logger& log);

int DropViewCommand(const ProcessorFlags& flags, const std::string& name,
                    Logger& log);

}  // namespace enrich::processor

#endif  // ENRICH_PROCESSOR_MIGRATE_COMMAND_H_
