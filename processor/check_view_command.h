// `enrich-processor check-view FILE`: parse a view definition file (one
// CREATE [MATERIALIZED] VIEW ... AS SELECT) with PostgreSQL's parser and
// print its classification (processor/core/VIEWS.md), or why it is outside
// the supported class. Reads only FILE; connects to nothing. Exit 0 when
// supported, 1 when refused, 2 when FILE cannot be read.
#ifndef ENRICH_PROCESSOR_CHECK_VIEW_COMMAND_H_
#define ENRICH_PROCESSOR_CHECK_VIEW_COMMAND_H_

#include <string>

namespace enrich::processor {

int CheckViewCommand(const std::string& path);

}  // namespace enrich::processor

#endif  // ENRICH_PROCESSOR_CHECK_VIEW_COMMAND_H_
