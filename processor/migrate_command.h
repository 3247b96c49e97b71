// `enrich-processor migrate`: apply the migrations compiled in from sql/
// (idempotent; retried while a lock times out). Exit 0 when the schema is
// current, 1 when migrating failed, 2 on bad options.
#ifndef ENRICH_PROCESSOR_MIGRATE_COMMAND_H_
#define ENRICH_PROCESSOR_MIGRATE_COMMAND_H_

#include <string>

#include "cdc/common/log.h"

namespace enrich::processor {

int MigrateCommand(const std::string& pg_dsn, Logger& log);

}  // namespace enrich::processor

#endif  // ENRICH_PROCESSOR_MIGRATE_COMMAND_H_
