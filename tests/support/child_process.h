// Runs one of the project's executables as a child process for end-to-end
// tests: its stderr goes to a log file, and it is killed (SIGKILL) when the
// ChildProcess is destroyed if still running.
//
// A sanitizer report in the log (an ASan, LeakSanitizer or UBSan build,
// tests/sanitizers) fails the current test (ADD_FAILURE), checked once, when
// the exit is seen or at destruction, whatever the test expected of the exit
// code. Under tests/sanitizers/run_sanitized.sh ASan writes its reports to
// files that the script checks instead; UBSan, a runtime of its own under
// g++, always writes to stderr.
#ifndef ENRICH_TESTS_SUPPORT_CHILD_PROCESS_H_
#define ENRICH_TESTS_SUPPORT_CHILD_PROCESS_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/time/time.h"

namespace enrich::testing {

class ChildProcess {
 public:
  // `argv[0]` is a path; `env` entries are NAME=value added to the
  // environment the test runs with. `log_path` is truncated first.
  ChildProcess(std::vector<std::string> argv, std::vector<std::string> env,
               std::string log_path);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  void Signal(int signal);
  // Waits for the exit; returns the exit code, 128+signal when killed, or -1
  // on timeout.
  int Wait(absl::Duration timeout);
  bool running();
  std::string log() const;  // what the child wrote so far

 private:
  pid_t pid_ = -1;
  // ADD_FAILURE with the log when it holds a sanitizer report; only once.
  void CheckForSanitizerReport();

  std::string program_;
  std::string log_path_;
  int exit_code_ = -1;
  bool report_checked_ = false;
};

// Path of an executable in the build's bin/ directory.
std::string BinaryPath(const std::string& name);

}  // namespace enrich::testing

#endif  // ENRICH_TESTS_SUPPORT_CHILD_PROCESS_H_
