// SpillEnvs for tests, after LevelDB's memenv and fault injection:
// MemorySpillEnv keeps files in memory; FailingSpillEnv wraps another and
// fails the Nth append (a full disk) or every create (a directory that cannot
// be written). Not thread-safe.
#ifndef ENRICH_TESTS_UNIT_CORE_FAKE_SPILL_ENV_H_
#define ENRICH_TESTS_UNIT_CORE_FAKE_SPILL_ENV_H_

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "cdc/core/spill_env.h"

namespace enrich::cdc::testing {

class MemorySpillEnv : public SpillEnv {
 public:
  absl::StatusOr<std::unique_ptr<SpillFile>> CreateTempFile(
      absl::string_view dir) override {
    std::string path = absl::StrCat(dir, "/enrich-cdc-tx-", ++created_);
    auto contents = std::make_shared<std::string>();
    files_[path] = contents;
    return std::make_unique<File>(std::move(path), std::move(contents));
  }

  absl::Status RemoveFile(const std::string& path) override {
    if (files_.erase(path) == 0) {
      return absl::NotFoundError(absl::StrCat("cannot remove ", path));
    }
    return absl::OkStatus();
  }

  // Files created and not removed, by path.
  const std::map<std::string, std::shared_ptr<std::string>>& files() const {
    return files_;
  }
  int created() const { return created_; }

 private:
  class File : public SpillFile {
   public:
    File(std::string path, std::shared_ptr<std::string> contents)
        : path_(std::move(path)), contents_(std::move(contents)) {}
    const std::string& path() const override { return path_; }
    absl::Status Append(absl::string_view data) override {
      contents_->append(data.data(), data.size());
      return absl::OkStatus();
    }
    absl::StatusOr<size_t> Read(uint64_t offset, size_t n,
                                char* scratch) override {
      if (offset >= contents_->size()) return 0;
      const size_t got = std::min<uint64_t>(n, contents_->size() - offset);
      std::memcpy(scratch, contents_->data() + offset, got);
      return got;
    }

   private:
    const std::string path_;
    // Shared with the env, so a removed file stays readable while open.
    std::shared_ptr<std::string> contents_;
  };

  std::map<std::string, std::shared_ptr<std::string>> files_;
  int created_ = 0;
};

class FailingSpillEnv : public SpillEnv {
 public:
  explicit FailingSpillEnv(SpillEnv* base) : base_(base) {}

  // The `n`th Append from now on (1-based, counted over all files) and every
  // one after it fail with ENOSPC, the failing one after writing half its
  // bytes, as a disk that fills up mid-write does.
  void FailAppendsFrom(int n) { fail_from_append_ = appends_ + n; }
  // Every CreateTempFile fails with EACCES.
  void FailCreates() { fail_creates_ = true; }
  // Appends attempted so far, failed ones included.
  int appends() const { return appends_; }

  absl::StatusOr<std::unique_ptr<SpillFile>> CreateTempFile(
      absl::string_view dir) override {
    if (fail_creates_) {
      return absl::ErrnoToStatus(
          EACCES, absl::StrCat("cannot create ", dir, "/enrich-cdc-tx-XXXXXX"));
    }
    absl::StatusOr<std::unique_ptr<SpillFile>> file =
        base_->CreateTempFile(dir);
    if (!file.ok()) return file.status();
    return std::make_unique<File>(this, *std::move(file));
  }

  absl::Status RemoveFile(const std::string& path) override {
    return base_->RemoveFile(path);
  }

 private:
  class File : public SpillFile {
   public:
    File(FailingSpillEnv* env, std::unique_ptr<SpillFile> base)
        : env_(env), base_(std::move(base)) {}
    const std::string& path() const override { return base_->path(); }
    absl::Status Append(absl::string_view data) override {
      if (++env_->appends_ < env_->fail_from_append_) {
        return base_->Append(data);
      }
      base_->Append(data.substr(0, data.size() / 2)).IgnoreError();
      return absl::ErrnoToStatus(ENOSPC, absl::StrCat("cannot write ", path()));
    }
    absl::StatusOr<size_t> Read(uint64_t offset, size_t n,
                                char* scratch) override {
      return base_->Read(offset, n, scratch);
    }

   private:
    FailingSpillEnv* env_;
    std::unique_ptr<SpillFile> base_;
  };

  SpillEnv* base_;
  int appends_ = 0;
  int fail_from_append_ = std::numeric_limits<int>::max();
  bool fail_creates_ = false;
};

}  // namespace enrich::cdc::testing

#endif  // ENRICH_TESTS_UNIT_CORE_FAKE_SPILL_ENV_H_
