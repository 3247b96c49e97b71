#include "processor/stop_signal.h"

#include <csignal>

namespace enrich::processor {
namespace {

std::atomic<bool> g_stop{false};

extern "C" void OnSignal(int) { g_stop.store(true); }

}  // namespace

void StopOnSigtermAndSigint() {
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);
}

const std::atomic<bool>& StopRequested() { return g_stop; }

}  // namespace enrich::processor
