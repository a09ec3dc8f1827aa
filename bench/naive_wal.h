// SPDX-License-Identifier: Apache-2.0
// NaiveWal: the write-ahead log a first implementation would be, and the
// `naive` peer of `shardwal bench --compare`: one file, one std::mutex, and
// per append one writev() of an 8-byte header + the payload; a synchronous
// append also calls fdatasync() before it lets go of the mutex, so nothing
// is ever shared between two appends' syncs (no group commit). The file is
// not preallocated: it grows with every write, so each fdatasync also has
// the file size (metadata) to make durable.
//
// Record format (little-endian):  u32 payload length | u32 CRC32C(payload) | payload
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "shardwal/status.h"

namespace shardwal::tools {

inline constexpr std::size_t kNaiveHeaderBytes = 8;

class NaiveWal {
 public:
  // Creates `path` (truncating any file there).
  static Result<std::unique_ptr<NaiveWal>> Open(const std::string& path);
  ~NaiveWal();  // Close()
  NaiveWal(const NaiveWal&) = delete;
  NaiveWal& operator=(const NaiveWal&) = delete;

  // Writes one record at the end of the file; with `sync`, fdatasync()s
  // before returning (under the mutex). Thread-safe; never allocates. After
  // a failed write or sync every call fails with that error.
  Status Append(std::string_view payload, bool sync);
  // fdatasync() under the mutex: everything appended before is durable.
  Status Sync();
  // Closes the file (no sync of its own). Idempotent.
  Status Close();

  const std::string& path() const { return path_; }
  std::uint64_t records() const { return records_.load(std::memory_order_relaxed); }
  std::uint64_t fsyncs() const { return fsyncs_.load(std::memory_order_relaxed); }
  std::uint64_t bytes() const { return bytes_.load(std::memory_order_relaxed); }

 private:
  NaiveWal(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  Status SyncLocked();

  const std::string path_;
  std::mutex mu_;
  int fd_;                 // -1 once closed; guarded by mu_
  std::uint64_t offset_ = 0;  // end of the file; guarded by mu_
  Status failed_;          // guarded by mu_
  std::atomic<std::uint64_t> records_{0}, fsyncs_{0}, bytes_{0};
};

// Reads a NaiveWal file back: the payloads in file order. Corruption
// naming the file and offset for a bad length or checksum; a partial last
// record (a torn tail) is Corruption too, since a closed NaiveWal has none.
Result<std::vector<std::string>> ReadNaiveWal(const std::string& path);

}  // namespace shardwal::tools
