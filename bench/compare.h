// SPDX-License-Identifier: Apache-2.0
// Side-by-side comparisons: shardwal against the systems a user would pick
// instead, run in the same process, on the same directory's device, with the
// same writers, record size and durability.
//
//   shardwal     the sharded WAL (Workload::shards, 0 = library default)
//   single-log   shardwal with one shard and one flush thread: the classic
//                group-commit WAL the seeds describe
//   naive        one file, one mutex, write + fdatasync per append (the
//                seeds' synchronous mode)
//   rocksdb      RocksDB DB::Put with WriteOptions::sync (it also fills a
//                memtable, which a WAL does not)
//
// and a device probe (fdatasyncs per second, synced sequential MB/s): the
// physical limit the others are measured against.
//
// A workload's "wait_every" says how often a writer blocks until its
// records are durable:
//   durability kGroup, wait_every 1   each append waits (shardwal: Append
//                                     with kGroup; naive: write + fdatasync;
//                                     rocksdb: Put(sync=true))
//   wait_every N > 1                  pipelined: N appends that do not wait
//                                     (shardwal: kAsync; naive: write only;
//                                     rocksdb: Put(sync=false)), then one wait
//                                     for all of them (WaitDurable; fdatasync;
//                                     SyncWAL)
//   durability kAsync, wait_every 1   appends never wait for durability
//                                     (shardwal: background sync within
//                                     max_batch_delay; naive: write only;
//                                     rocksdb: Put(sync=false)); everything
//                                     is made durable once at the end
// Latency percentiles are per append call, except with wait_every N > 1,
// where they are per wait (N appends + the wait): PeerResult::latency says.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "bench/timeseries_payload.h"
#include "bench/write_volume.h"
#include "shardwal/status.h"
#include "shardwal/types.h"

namespace shardwal::tools {

enum class Peer : std::uint8_t { kShardwal, kSingleLog, kNaive, kRocksDb };
std::string_view PeerName(Peer p);                      // "shardwal", "single-log", "naive", "rocksdb"
std::optional<Peer> ParsePeer(std::string_view name);   // the inverse

struct Workload {
  std::uint32_t writers = 64;
  std::size_t record_bytes = 100;          // payload bytes per record
  Durability durability = Durability::kGroup;  // kGroup or kAsync
  std::uint32_t wait_every = 1;            // see above
  double seconds = 3.0;                    // per peer
  std::uint32_t shards = 0;                // shardwal only; 0: Options::DefaultShardCount()
  std::uint32_t tags = 10000;              // tag routing over this many tags (shardwal, single-log)
  // kTimeSeries: every peer appends the same points (record_bytes unused;
  // the tags are the hosts). --compare only; --sweep runs fixed records.
  PayloadKind payload = PayloadKind::kFixed;
  // shardwal, single-log: Options::compression / compression_level;
  // rocksdb: wal_compression = zstd for kZstd (its WAL has no other
  // codec), none otherwise; naive: never compressed.
  Compression compression = Compression::kNone;
  int compression_level = 0;
};

struct PeerResult {
  Peer peer = Peer::kShardwal;
  std::string label;            // e.g. "shardwal (2 shards)", "rocksdb 7.8.3 (sync=true)"
  std::uint64_t records = 0;    // appends that succeeded
  double seconds = 0;           // writers' wall time
  double records_per_s = 0;
  double mb_per_s = 0;          // payload, 10^6 bytes
  std::uint64_t fsyncs = 0;     // fdatasyncs (RocksDB: its WAL syncs, from its statistics)
  double fsyncs_per_s = 0;
  double p50_us = 0, p99_us = 0, p999_us = 0;
  std::string latency;          // what the percentiles time: "append_to_durable", "append_call", "wait_every_N"
  std::string note;             // what this peer does differently (printed under the table)
  double records_per_fsync = 0;  // records / fsyncs: how much one sync covered (0: no syncs counted)
  std::uint32_t shards = 0;      // shard logs used (shardwal, single-log); 0 for the others
  // Device bytes per payload byte over the peer's whole run (open to
  // close), split (bench/write_volume.h). Payload: what the peer was given
  // (shardwal: tag + payload; rocksdb: key + value; naive: payload).
  WriteVolume volume;
};

struct DeviceProbeResult {
  std::string dir;                   // where it ran
  double fdatasyncs_per_s = 0;       // pwrite(4 KiB over a preallocated region) + fdatasync, back to back
  double fdatasync_p50_us = 0;       // median pwrite + fdatasync latency
  double fdatasync_p99_us = 0;
  double synced_seq_mb_per_s = 0;    // sequential writes of synced_write_bytes, each followed by fdatasync
  std::size_t synced_write_bytes = 0;
  double seconds = 0;                // how long the probe ran
};

// Probes the device under `dir` (a scratch file in it, removed afterwards).
Result<DeviceProbeResult> ProbeDevice(const std::string& dir, double seconds);

// Runs one peer on `workload` in a fresh directory under `parent_dir`
// (removed afterwards). NotSupported for rocksdb without RocksDB.
Result<PeerResult> RunPeer(Peer peer, const Workload& workload, const std::string& parent_dir);

struct CompareConfig {
  Workload workload;
  std::vector<Peer> peers = {Peer::kShardwal, Peer::kSingleLog, Peer::kNaive, Peer::kRocksDb};
  bool probe = true;              // run ProbeDevice first
  double probe_seconds = 2.0;
  // An unmeasured run of the first peer before the measured ones, at most
  // this long (and no longer than workload.seconds): without it the first
  // peer paid for the probe's aftermath (its scratch file's blocks being
  // discarded) and a cold process, measuring ~10% below the same
  // configuration run second. 0: none.
  double warmup_seconds = 1.0;
  std::string dir;                // parent directory; empty: a fresh temporary one, removed afterwards
  std::ostream* progress = nullptr;  // one line per finished step; null: quiet
};

struct CompareReport {
  Workload workload;
  std::optional<DeviceProbeResult> probe;
  std::vector<PeerResult> results;  // in CompareConfig::peers order; a peer that cannot run here is skipped,
  std::vector<std::string> skipped;  // ... with the reason ("rocksdb: built without RocksDB")
};

Result<CompareReport> RunCompare(const CompareConfig& config);

// The side-by-side table: throughput, p50 / p99, fsyncs/s, and ratios
// against shardwal; the probe's figures above it; each peer's note below.
void PrintCompareTable(std::ostream& out, const CompareReport& report);
nlohmann::json CompareReportToJson(const CompareReport& report);
// The probe's fields under their JSON names (used by --compare and --sweep).
nlohmann::json DeviceProbeToJson(const DeviceProbeResult& probe);
// One CSV row per result (header first): the workload, the peer's figures,
// the ratio to shardwal and the probe's figures (empty without a probe).
void WriteCompareCsv(std::ostream& out, const CompareReport& report);

// What `--compare` / `--sweep` accept: InvalidArgument naming the field.
Status ValidateWorkload(const Workload& workload);

}  // namespace shardwal::tools
