// `enrich-cdc inspect`: prints the change events of a topic as JSON lines
// (protobuf's JSON mapping), for people and scripts.
#ifndef ENRICH_CDC_INSPECT_COMMAND_H_
#define ENRICH_CDC_INSPECT_COMMAND_H_

#include <string>
#include <vector>

namespace enrich::cdc {

// Returns the process exit code.
int RunInspect(const std::vector<std::string>& args);

}  // namespace enrich::cdc

#endif  // ENRICH_CDC_INSPECT_COMMAND_H_
