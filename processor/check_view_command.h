// `enrich-processor check-view`: classify a view definition with
// PostgreSQL's parser (processor/core/VIEWS.md) and print the
// classification, or why the view is outside the supported class.
//
//   check-view FILE                   FILE holds one CREATE [MATERIALIZED]
//                                     VIEW ... AS SELECT; reads only FILE,
//                                     connects to nothing.
//   check-view --catalog-view NAME    reads NAME's definition from the
//                                     database (--pg-dsn) and also checks
//                                     its keys and join indexes against
//                                     the catalog (view_catalog.h).
//
// Exit 0 when supported (missing join indexes are listed, with the
// statements that create them), 1 when refused (the definition, or a key
// the catalog does not have), 2 when FILE cannot be read, NAME is not a
// view, or the database cannot be reached.
#ifndef ENRICH_PROCESSOR_CHECK_VIEW_COMMAND_H_
#define ENRICH_PROCESSOR_CHECK_VIEW_COMMAND_H_

#include <string>

namespace enrich::processor {

int CheckViewCommand(const std::string& path);
int CheckCatalogViewCommand(const std::string& pg_dsn, const std::string& name);

}  // namespace enrich::processor

#endif  // ENRICH_PROCESSOR_CHECK_VIEW_COMMAND_H_
