#include "cdc/core/spill_env.h"

#include <unistd.h>

#include <cerrno>
#include <utility>

#include "absl/strings/str_cat.h"

namespace enrich::cdc {
namespace {

absl::Status PosixError(absl::string_view what, const std::string& path,
                        int error_number) {
  return absl::ErrnoToStatus(error_number, absl::StrCat(what, " ", path));
}

class PosixSpillFile final : public SpillFile {
 public:
  PosixSpillFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~PosixSpillFile() override { close(fd_); }
  PosixSpillFile(const PosixSpillFile&) = delete;
  PosixSpillFile& operator=(const PosixSpillFile&) = delete;

  const std::string& path() const override { return path_; }

  absl::Status Append(absl::string_view data) override {
    while (!data.empty()) {
      const ssize_t wrote = write(fd_, data.data(), data.size());
      if (wrote < 0) {
        if (errno == EINTR) continue;
        return PosixError("cannot write", path_, errno);
      }
      // A short write is followed by another that reports why (ENOSPC).
      data.remove_prefix(static_cast<size_t>(wrote));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<size_t> Read(uint64_t offset, size_t n,
                              char* scratch) override {
    size_t got = 0;
    while (got < n) {
      const ssize_t read =
          pread(fd_, scratch + got, n - got, static_cast<off_t>(offset + got));
      if (read < 0) {
        if (errno == EINTR) continue;
        return PosixError("cannot read", path_, errno);
      }
      if (read == 0) break;  // end of file
      got += static_cast<size_t>(read);
    }
    return got;
  }

 private:
  const int fd_;
  const std::string path_;
};

class PosixSpillEnv final : public SpillEnv {
 public:
  absl::StatusOr<std::unique_ptr<SpillFile>> CreateTempFile(
      absl::string_view dir) override {
    std::string path = absl::StrCat(dir, "/enrich-cdc-tx-XXXXXX");
    const int fd = mkstemp(path.data());
    if (fd < 0) return PosixError("cannot create", path, errno);
    return std::make_unique<PosixSpillFile>(fd, std::move(path));
  }

  absl::Status RemoveFile(const std::string& path) override {
    if (unlink(path.c_str()) != 0) {
      return PosixError("cannot remove", path, errno);
    }
    return absl::OkStatus();
  }
};

}  // namespace

SpillEnv* SpillEnv::Default() {
  static SpillEnv* const env = new PosixSpillEnv();
  return env;
}

}  // namespace enrich::cdc
