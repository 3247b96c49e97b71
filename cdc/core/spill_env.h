// SpillEnv is everything TransactionBuffer needs from a file system, in the
// manner of LevelDB's Env: create a temporary file in a directory, append to
// it, read it back at an offset, remove it. SpillEnv::Default() is the POSIX
// implementation the process uses; tests substitute one in memory, or one
// that fails the Nth write (a full disk) or the create (a directory that
// cannot be written), to try the failure paths without a real file system.
//
//   SpillEnv* env = SpillEnv::Default();
//   ASSIGN_OR_RETURN(std::unique_ptr<SpillFile> file,
//                    env->CreateTempFile("/var/tmp"));
//   RETURN_IF_ERROR(file->Append(chunk));         // a chunk, not a record
//   ASSIGN_OR_RETURN(size_t got, file->Read(0, n, scratch));
//   const std::string path = file->path();
//   file.reset();                                 // closes
//   env->RemoveFile(path);
//
// Calls are few and large: the buffer writes and reads in chunks of about a
// megabyte, so a virtual call costs nothing measurable.
//
// Errors carry the operating system's reason (strerror) and the path; their
// code is absl::ErrnoToStatusCode's (ResourceExhausted for ENOSPC,
// PermissionDenied for EACCES, NotFound for ENOENT, ...). TransactionBuffer
// decides what the caller does with them (see transaction_buffer.h).
//
// Thread-safety: Default() may be used from any thread; one SpillFile from
// one thread at a time.
#ifndef ENRICH_CDC_CORE_SPILL_ENV_H_
#define ENRICH_CDC_CORE_SPILL_ENV_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace enrich::cdc {

// One temporary file, open for appending and reading. Destroying it closes
// it and does not remove it (SpillEnv::RemoveFile does).
class SpillFile {
 public:
  virtual ~SpillFile() = default;

  // Where the file lives, for messages and for RemoveFile.
  virtual const std::string& path() const = 0;

  // Appends all of `data` at the end of the file, or fails. After a failure
  // a prefix of `data` may have been written (a disk filling up mid-write):
  // the file's contents are then unspecified and it should be dropped.
  virtual absl::Status Append(absl::string_view data) = 0;

  // Reads up to `n` bytes at `offset` into `scratch`, every byte appended so
  // far being visible. Returns how many were read: fewer than `n` only at
  // the end of the file (0 past it).
  virtual absl::StatusOr<size_t> Read(uint64_t offset, size_t n,
                                      char* scratch) = 0;
};

class SpillEnv {
 public:
  virtual ~SpillEnv() = default;

  // The POSIX implementation: files `<dir>/enrich-cdc-tx-XXXXXX` made by
  // mkstemp(3) (mode 0600, a fresh name each time), written with write(2)
  // and read with pread(2), removed with unlink(2). Never destroyed.
  static SpillEnv* Default();

  // Creates an empty file of a new name in directory `dir`, which must exist
  // and be writable.
  virtual absl::StatusOr<std::unique_ptr<SpillFile>> CreateTempFile(
      absl::string_view dir) = 0;

  // Removes the file at `path` (open or closed; its open SpillFile, if any,
  // may still be read until destroyed, as with unlink).
  virtual absl::Status RemoveFile(const std::string& path) = 0;
};

}  // namespace enrich::cdc

#endif  // ENRICH_CDC_CORE_SPILL_ENV_H_
