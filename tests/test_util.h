// Helpers shared by the tests: temporary directories and reading back what a
// WAL left on disk.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "shardwal/file_system.h"
#include "shardwal/options.h"
#include "shardwal/types.h"

namespace shardwal::testing {

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

struct StoredRecord {
  std::uint32_t shard = 0;
  std::uint64_t segment_seq = 0;
  Lsn lsn = kNoLsn;
  RecordType type = RecordType::kData;
  std::uint64_t txn_id = 0;
  std::string tag;
  std::string payload;
};

// Every valid record in the segments of one shard directory, in file order.
// Fails the calling test (ADD_FAILURE) on anything the reader rejects unless
// `allow_torn_tail`, in which case reading a segment stops at its first bad
// batch.
std::vector<StoredRecord> ReadShardDir(FileSystem& fs, const std::string& dir, bool allow_torn_tail = false);

// All shards of a WAL opened with `options` (resolved like Wal::Open does),
// merged by LSN.
std::vector<StoredRecord> ReadWal(const Options& options, bool allow_torn_tail = false);

// Options for a test WAL in `dir`: small, quick, POSIX unless `fs` is given.
Options TestOptions(const std::string& dir, std::uint32_t shards = 2);

// The records CrashAfterUnsyncedTail writes: record i (1-based) has LSN i.
std::string CrashTag(int i);
std::string CrashPayload(int i);

// What a SIGKILL leaves: writes a WAL with `options` (its file system
// wrapped in a FaultInjectionFileSystem) - `acked` records appended with
// group durability (acknowledged), then `unacked` with kNone, waited for
// until the flush threads have written them (unsynced) - then stops every
// further write and drops the WAL without a clean Close: no seal, no
// MANIFEST update, the unsynced tail in the files as written. Fails the
// test if that cannot be arranged.
void CrashAfterUnsyncedTail(Options options, int acked, int unacked);

}  // namespace shardwal::testing
