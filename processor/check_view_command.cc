#include "processor/check_view_command.h"

#include <cstdio>
#include <fstream>
#include <sstream>

#include "absl/status/statusor.h"
#include "processor/adapters/view_parser.h"
#include "processor/core/view_definition.h"

namespace enrich::processor {

int CheckViewCommand(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr, "enrich-processor check-view: cannot read %s\n",
                 path.c_str());
    return 2;
  }
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<ViewDefinition> view = ParseViewDefinition(text.str());
  if (!view.ok()) {
    std::fprintf(stderr, "enrich-processor check-view: %s: %s\n", path.c_str(),
                 std::string(view.status().message()).c_str());
    return 1;
  }
  std::fputs(DescribeViewDefinition(*view).c_str(), stdout);
  return 0;
}

}  // namespace enrich::processor
