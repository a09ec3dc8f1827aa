// SPDX-License-Identifier: Apache-2.0
// `shardwal bench-recovery`: how fast a restart reads a WAL back.
//
// For each shard count it writes a WAL of R records (Durability::kNone,
// several writer threads, routing by tag, then Close), leaves it in the page
// cache (warm) and times, median of --repeat runs:
//   reader_open     LogReader::Open: scan + validate every shard (checksums
//                   on), merge by LSN, compute the cut
//   replay          LogReader::Replay(0, cb) over every record, the callback
//                   reading a byte of each payload
//   open_replay     the two together, per run (what a read-only restart costs)
//   wal_open_close  Wal::Open (read-write recovery, MANIFEST write) + Close
// records/s and MB/s (MB = 10^6 bytes of segment files scanned,
// RecoveryReport::bytes_scanned). With --rocksdb it also writes the same
// records into RocksDB (Put, sync=false, WAL on) so that nothing reaches an
// SST file, and times DB::Open, which replays the WAL into a new memtable
// (MB/s of WAL bytes).
//
// RunRecoveryBench() is the engine (config in, result out);
// bench/recovery_bench_command.cc wires it to the CLI, and
// bench/recovery_bench_report.cc prints its result.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "shardwal/logging.h"
#include "shardwal/status.h"

namespace shardwal::tools {

struct RecoveryBenchConfig {
  // Parent directory of the run's WALs (one sub-directory per shard count,
  // plus rocksdb/). Empty: a fresh mkdtemp directory
  // ($TMPDIR or /tmp)/shardwal-rbench-XXXXXX, removed afterwards unless
  // keep. A given directory must be empty or not exist and is never
  // removed; the sub-directories made in it are, unless keep.
  std::string dir;
  bool keep = false;
  std::vector<std::uint32_t> shards{1, 4};  // one measurement per value
  std::uint64_t records = 2'000'000;
  std::size_t record_bytes = 100;  // payload bytes per record
  std::uint32_t tags = 1000;       // distinct tags "sensor.%06u"
  std::uint32_t writers = 4;       // threads that build the WAL
  std::uint32_t repeat = 3;        // timed runs per phase; the median is reported
  bool rocksdb = false;            // also time RocksDB's WAL replay
  // Progress lines (stderr by the CLI); null: none.
  std::ostream* progress = nullptr;
  // Where the WALs' lifecycle events go (Options::log); null: warnings and
  // errors to stderr.
  LogCallback log;
  // Options::allow_group_access: the WALs' files 0640, directories 0750.
  bool allow_group_access = false;
};

Status ValidateRecoveryBenchConfig(const RecoveryBenchConfig& config);

// One row of the result table: one system, shard count and phase.
struct RecoveryPhaseResult {
  std::string system;         // "shardwal" or "rocksdb"
  std::uint32_t shards = 0;   // 0 for rocksdb
  std::string phase;          // reader_open, replay, open_replay, wal_open_close, db_open
  std::uint64_t records = 0;  // records recovered / replayed
  std::uint64_t bytes = 0;    // bytes scanned (segments, or RocksDB WAL files)
  double seconds = 0;         // median wall time of the runs
  double best_seconds = 0;    // fastest run
  double records_per_s = 0;   // records / seconds
  double mb_per_s = 0;        // bytes / seconds / 10^6
  // shardwal opens: RecoveryReport::seconds (scan + merge + cut), median.
  double report_seconds = 0;
  double cpu_seconds = 0;     // process user + sys time of the phase, median
  std::vector<double> runs;   // every run's wall seconds
};

// How one shard count's WAL was built (untimed for the table).
struct RecoveryBuildInfo {
  std::string system;
  std::uint32_t shards = 0;
  std::uint64_t records = 0;
  double seconds = 0;         // writers + Close
  std::uint64_t bytes = 0;    // on disk: segment bytes or RocksDB WAL bytes
  std::uint64_t batches = 0;  // shardwal batches written
  std::uint64_t segments = 0; // shardwal segment files
};

struct RecoveryBenchResult {
  std::vector<RecoveryPhaseResult> results;
  std::vector<RecoveryBuildInfo> builds;
  std::uint64_t records = 0;
  std::size_t record_bytes = 0;
  std::uint32_t tags = 0;
  std::uint32_t writers = 0;
  std::uint32_t repeat = 0;
  std::string rocksdb_version;  // "" unless measured
  std::uint64_t replay_checksum = 0;  // sum of a byte of every payload replayed
  std::string dir;
  bool dir_kept = false;
};

// Fails with the WAL's (or RocksDB's) Status, InvalidArgument for a bad
// config or a non-empty --dir, NotSupported for rocksdb without RocksDB, and
// Corruption when what was read back is not what was written.
Result<RecoveryBenchResult> RunRecoveryBench(const RecoveryBenchConfig& config);

// The table and its notes.
void PrintRecoveryBench(std::ostream& out, const RecoveryBenchResult& r);
nlohmann::json RecoveryBenchResultToJson(const RecoveryBenchResult& r);

}  // namespace shardwal::tools
