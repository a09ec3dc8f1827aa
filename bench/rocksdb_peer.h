// SPDX-License-Identifier: Apache-2.0
// RocksDB as a comparison peer for the benchmarks of the `shardwal` tool.
//
// RocksPeer wraps a rocksdb::DB opened for WAL comparisons: Put() with
// WriteOptions (sync, disableWAL) chosen once, and, with memtable_only, a
// configuration under which nothing is flushed to an SST file — not while
// writing (one huge memtable), not on Close() (avoid_flush_during_shutdown),
// not on reopen (avoid_flush_during_recovery) — so that the data lives only
// in the memtable and the WAL, and reopening replays the WAL into a new
// memtable. `bench-recovery --rocksdb` times that reopen; a Put(sync=true)
// comparison of the write path can reuse the same class.
//
// RocksDB is optional: the tool links it only when CMake found it
// (SHARDWAL_HAVE_ROCKSDB). Without it HaveRocksDb() is false and Open()
// fails with NotSupported; the header never includes RocksDB's.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "shardwal/status.h"

namespace shardwal::tools {

// True when this build links RocksDB.
bool HaveRocksDb();
// "7.8.3", or "" without RocksDB.
std::string RocksDbVersion();
// Why --rocksdb cannot run here (for the error message).
inline constexpr std::string_view kNoRocksDbMessage =
    "this shardwal was built without RocksDB: install librocksdb-dev (scripts/setup.sh) and re-run CMake";

struct RocksPeerOptions {
  std::string dir;            // created if missing
  bool sync = false;          // WriteOptions::sync for Put
  bool disable_wal = false;   // WriteOptions::disableWAL for Put
  // Keep everything in the memtable and the WAL (see above). The memtable
  // must hold the whole data set: write_buffer_bytes bounds it.
  bool memtable_only = true;
  std::uint64_t write_buffer_bytes = 4ull << 30;
  // RocksDB's own background threads (flush, compaction).
  int background_jobs = 2;
  // Collect rocksdb::Statistics tickers (cheapest level: no histograms or
  // timers), so WalSyncs() can count the WAL's syncs.
  bool statistics = false;
  // DBOptions::wal_compression = kZSTD (the only codec its WAL takes).
  bool wal_compression_zstd = false;
};

class RocksPeer {
 public:
  // Opens (or creates) the DB; an existing WAL is replayed into the
  // memtable here, so this is what a recovery benchmark times.
  static Result<std::unique_ptr<RocksPeer>> Open(const RocksPeerOptions& options);
  ~RocksPeer();  // Close()
  RocksPeer(const RocksPeer&) = delete;
  RocksPeer& operator=(const RocksPeer&) = delete;

  // One DB::Put with the configured WriteOptions. Thread-safe.
  Status Put(std::string_view key, std::string_view value);

  // DB::SyncWAL: makes every Put so far durable (the pipelined wait of
  // `bench --compare`). Thread-safe.
  Status SyncWAL();

  // The WAL_FILE_SYNCED ticker (syncs of the WAL, Put(sync=true) groups and
  // SyncWAL calls alike); 0 without RocksPeerOptions::statistics.
  std::uint64_t WalSyncs() const;
  // The WAL_FILE_BYTES ticker: bytes written to the WAL (record framing
  // included); 0 without RocksPeerOptions::statistics.
  std::uint64_t WalBytes() const;

  // Closes the DB (with memtable_only: without flushing the memtable, so
  // the data stays in the WAL only). Idempotent.
  Status Close();

  // Entries in the memtables (active + immutable): after a reopen with
  // memtable_only, the records the WAL replay put back.
  Result<std::uint64_t> MemtableEntries() const;
  // SST files over all levels, as the DB sees them.
  Result<std::uint64_t> LiveSstFiles() const;

 private:
  struct Impl;
  explicit RocksPeer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// What a RocksDB directory holds on disk (file names only; works without
// RocksDB): WAL files (*.log) and SST files (*.sst).
struct RocksDirStats {
  std::uint64_t wal_files = 0;
  std::uint64_t wal_bytes = 0;
  std::uint64_t sst_files = 0;
  std::uint64_t sst_bytes = 0;
};
Result<RocksDirStats> InspectRocksDir(const std::string& dir);

// A 16-byte key: the tag index in 6 decimal digits, then the record's
// sequence number in 10 ("000042" "0000001234"). Sorts by tag, then seq.
inline constexpr std::size_t kRocksKeyBytes = 16;
void MakeRocksKey(char out[kRocksKeyBytes], std::uint32_t tag, std::uint64_t seq);

}  // namespace shardwal::tools
