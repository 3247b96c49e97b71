#include "tests/support/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

extern char** environ;

namespace enrich::testing {

ChildProcess::ChildProcess(std::vector<std::string> argv,
                           std::vector<std::string> env, std::string log_path)
    : program_(argv.empty() ? "" : argv[0]), log_path_(std::move(log_path)) {
  std::vector<std::string> environment;
  for (char** e = environ; *e != nullptr; ++e) environment.emplace_back(*e);
  environment.insert(environment.end(), env.begin(), env.end());
  // Truncate here, not in the child, so log() never shows an older run's
  // lines while the child is starting.
  int log_fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (log_fd >= 0) close(log_fd);
  pid_ = fork();
  if (pid_ == 0) {
    int fd = open(log_path_.c_str(), O_WRONLY | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, STDERR_FILENO);
      dup2(fd, STDOUT_FILENO);
    }
    std::vector<char*> args, envp;
    for (std::string& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    for (std::string& e : environment) envp.push_back(e.data());
    envp.push_back(nullptr);
    execve(args[0], args.data(), envp.data());
    _exit(127);
  }
}

ChildProcess::~ChildProcess() {
  if (running()) {
    kill(pid_, SIGKILL);
    Wait(absl::Seconds(10));
  }
  CheckForSanitizerReport();
}

void ChildProcess::Signal(int signal) { kill(pid_, signal); }

bool ChildProcess::running() {
  if (pid_ <= 0 || exit_code_ != -1) return false;
  int status = 0;
  pid_t done = waitpid(pid_, &status, WNOHANG);
  if (done == pid_) {
    exit_code_ =
        WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    CheckForSanitizerReport();
    return false;
  }
  return true;
}

int ChildProcess::Wait(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (running()) {
    if (absl::Now() > deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return exit_code_;
}

std::string ChildProcess::log() const {
  std::ifstream in(log_path_);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void ChildProcess::CheckForSanitizerReport() {
  if (report_checked_ || pid_ <= 0) return;
  report_checked_ = true;
  const std::string text = log();
  // UBSan's "<file>:<line>:<col>: runtime error: ...", ASan's and LSan's
  // "==<pid>==ERROR: AddressSanitizer: ..." / "ERROR: LeakSanitizer: ...".
  for (const char* marker : {": runtime error: ", "ERROR: AddressSanitizer",
                             "ERROR: LeakSanitizer"}) {
    if (absl::StrContains(text, marker)) {
      ADD_FAILURE() << program_ << " (pid " << pid_
                    << ") wrote a sanitizer report; its log " << log_path_
                    << ":\n"
                    << text;
      return;
    }
  }
}

std::string BinaryPath(const std::string& name) {
  return std::string(ENRICH_BINARY_DIR) + "/bin/" + name;
}

}  // namespace enrich::testing
