// SPDX-License-Identifier: Apache-2.0
// The file-system seam. Every byte shardwal reads or writes, every directory
// it creates, syncs or lists, and every lock it takes goes through a
// FileSystem, so tests (and embedders) can inject write/sync errors, a full
// disk, stalls and power loss (see fault_injection_file_system.h).
//
// The interface is deliberately small: the WAL writes segment files front to
// back with positional writes (into space reserved with Allocate, or over the
// stale bytes of a recycled segment), syncs them with fdatasync, renames
// recycled segments, and syncs the directories whose entries it changed.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "shardwal/export.h"
#include "shardwal/status.h"

namespace shardwal {

// A file open for writing. Not thread-safe: one shard flush thread owns it.
class SHARDWAL_EXPORT WritableFile {
 public:
  virtual ~WritableFile() = default;

  // Writes every buffer of `iov`, in order, starting at `offset`. Loops over
  // short writes and EINTR; any other failure is returned (errno kept).
  virtual Status PWritev(const struct iovec* iov, int iovcnt, std::uint64_t offset) = 0;

  // fdatasync(2). A failure is final: the caller must not retry it into a
  // success (the kernel may already have dropped the dirty pages).
  virtual Status Sync() = 0;

  virtual Status Truncate(std::uint64_t size) = 0;

  // Reserves [offset, offset + len) on the device (fallocate(2), mode 0: the
  // file grows to cover the range, which reads as zeros), so later writes
  // inside it need no block allocation. A full disk shows up here, early,
  // as IOError with errno ENOSPC. The new size is durable after Sync().
  virtual Status Allocate(std::uint64_t offset, std::uint64_t len) = 0;

  // Idempotent. The destructor closes too, ignoring errors.
  virtual Status Close() = 0;

  virtual const std::string& path() const = 0;
};

// A file open for reading at arbitrary offsets. Thread-safe.
class SHARDWAL_EXPORT ReadableFile {
 public:
  virtual ~ReadableFile() = default;

  // Reads up to `n` bytes at `offset` into `scratch`; returns how many were
  // read (fewer than n only at end of file).
  virtual Result<std::size_t> PRead(std::uint64_t offset, std::size_t n, char* scratch) const = 0;

  virtual Result<std::uint64_t> Size() const = 0;

  virtual const std::string& path() const = 0;
};

// The space of the file system a path lives on (statvfs(3)).
struct SpaceInfo {
  std::uint64_t total = 0;      // size of the file system, in bytes
  std::uint64_t free = 0;       // free bytes, the blocks reserved for root included
  std::uint64_t available = 0;  // free bytes an unprivileged process may still use
};

// Who may access a file or directory the WAL creates (Options::
// allow_group_access): the owner alone - files 0600, directories 0700 - or
// the owner's group too - 0640 and 0750. The process umask still applies on
// top. Only creation uses it: an existing file or directory keeps its mode.
enum class FileAccess { kOwner, kGroup };

// The mode bits for a new file, or directory, with `access`.
constexpr unsigned FileModeFor(FileAccess access) { return access == FileAccess::kGroup ? 0640u : 0600u; }
constexpr unsigned DirModeFor(FileAccess access) { return access == FileAccess::kGroup ? 0750u : 0700u; }

// An exclusive advisory lock (flock) held until this object is destroyed.
class SHARDWAL_EXPORT FileLock {
 public:
  virtual ~FileLock() = default;
  virtual const std::string& path() const = 0;
};

// The file-system seam: every byte shardwal reads or writes goes through one
// (Options::file_system; FileSystem::Default() when unset), so tests can
// inject errors, stalls and power losses (shardwal/testing/).
//
// Threading: an implementation must accept calls from many threads at once
// (each shard's flush thread, the preparers, recovery's parallel scan); the
// files it returns follow their own class's rule above.
class SHARDWAL_EXPORT FileSystem {
 public:
  virtual ~FileSystem() = default;

  // The real thing: POSIX calls on the local file system.
  static std::shared_ptr<FileSystem> Default();

  // The calls that create something take a FileAccess. Its default argument
  // is kOwner here and must be kOwner in every override too (a default
  // argument is chosen by the static type of the call).

  // Creates `path` for writing with FileModeFor(access); fails if it already
  // exists (segments are never silently overwritten).
  virtual Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path,
                                                                FileAccess access = FileAccess::kOwner) = 0;

  // Opens an existing file for writing without truncating it (recovery uses
  // this to cut a torn tail).
  virtual Result<std::unique_ptr<WritableFile>> ReopenWritableFile(const std::string& path) = 0;

  virtual Result<std::unique_ptr<ReadableFile>> NewReadableFile(const std::string& path) = 0;

  // mkdir -p, each directory it creates with DirModeFor(access). Every
  // directory it creates is made durable (its parent is fsync'd), so a power
  // loss cannot lose a shard directory.
  virtual Status CreateDirs(const std::string& path, FileAccess access = FileAccess::kOwner) = 0;

  // Names (not paths) of the entries of a directory, without "." and "..".
  virtual Result<std::vector<std::string>> ListDir(const std::string& path) = 0;

  virtual Result<bool> FileExists(const std::string& path) = 0;
  virtual Result<std::uint64_t> FileSize(const std::string& path) = 0;
  virtual Status DeleteFile(const std::string& path) = 0;
  virtual Status RenameFile(const std::string& from, const std::string& to) = 0;

  // fsync(2) on a directory: makes creations, renames and deletions of its
  // entries durable.
  virtual Status SyncDir(const std::string& path) = 0;

  // Takes an exclusive lock on `path` (created if missing, with
  // FileModeFor(access)) without waiting. Busy when another process, or
  // another open WAL in this process, holds it.
  virtual Result<std::unique_ptr<FileLock>> LockFile(const std::string& path,
                                                     FileAccess access = FileAccess::kOwner) = 0;

  // Total and free space of the file system holding `path` (for metrics and
  // health; the WAL never needs it to work). The default says NotSupported,
  // so a FileSystem that cannot tell need not implement it.
  virtual Result<SpaceInfo> GetSpace(const std::string& path) {
    return Status::NotSupported("GetSpace(" + path + "): not supported by this FileSystem");
  }
};

}  // namespace shardwal
