// The stop request of enrich-processor's subcommands: SIGTERM and SIGINT set
// it; the processor loop, the connect retries and reconcile's walk poll it
// and finish cleanly. Process-wide, because a signal handler can reach
// nothing else.
//
//   StopOnSigtermAndSigint();
//   absl::Status s = loop.Run(StopRequested());
#ifndef ENRICH_PROCESSOR_STOP_SIGNAL_H_
#define ENRICH_PROCESSOR_STOP_SIGNAL_H_

#include <atomic>

namespace enrich::processor {

// Installs the handlers (idempotent).
void StopOnSigtermAndSigint();

// Set once SIGTERM or SIGINT arrived; never cleared.
const std::atomic<bool>& StopRequested();

}  // namespace enrich::processor

#endif  // ENRICH_PROCESSOR_STOP_SIGNAL_H_
