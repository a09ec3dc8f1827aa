// SPDX-License-Identifier: Apache-2.0
// `shardwal bench --sweep`: RunPeer (bench/compare.h) over a grid of
// workloads - writers x shards x record bytes x durability x wait_every -
// for each peer, with results.csv, results.json and gnuplot charts in an
// output directory.
//
// The shards axis applies to the shardwal peer only; single-log, naive and
// rocksdb run once per point of the other axes. durability async with
// wait_every N > 1 is the same workload as group with N (pipelined appends
// are async in both, see compare.h), so when group is on the durability
// axis too it runs once, as group.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "bench/compare.h"
#include "shardwal/status.h"
#include "shardwal/types.h"

namespace shardwal::tools {

struct SweepConfig {
  std::vector<std::uint32_t> writers = {1, 4, 16, 64, 256};
  std::vector<std::uint32_t> shards = {1, 2, 4, 8};
  std::vector<std::size_t> record_bytes = {64, 256, 4096};
  std::vector<Durability> durability = {Durability::kGroup, Durability::kAsync};
  std::vector<std::uint32_t> wait_every = {1, 1000};
  std::vector<Peer> peers = {Peer::kShardwal, Peer::kSingleLog, Peer::kNaive, Peer::kRocksDb};
  double seconds = 1.0;            // per point
  std::uint32_t tags = 10000;
  bool probe = true;               // ProbeDevice once, before the first point
  double probe_seconds = 2.0;
  std::string out_dir = "sweep-results";  // results.csv, results.json, plots (created)
  std::string dir;                 // where the runs happen; empty: a fresh temporary directory
  bool plots = true;               // false: no gnuplot even when it is installed
  std::ostream* progress = nullptr;  // one line per point, with an ETA; null: quiet
};

struct SweepPoint {
  Peer peer = Peer::kShardwal;
  Workload workload;               // workload.shards: the shard count (shardwal), else 0
  std::optional<PeerResult> result;
  std::string error;               // why this point failed (empty: it ran)
};

struct SweepReport {
  std::vector<SweepPoint> points;  // in run order
  std::optional<DeviceProbeResult> probe;
  std::vector<std::string> skipped;  // peers that cannot run here, with the reason
  std::vector<std::string> files;    // everything written to out_dir
  std::string plots_note;            // why there are no plots (empty when there are)
  std::uint64_t failed = 0;          // points with an error
  double seconds = 0;                // the whole sweep
};

// The points a config runs, in order (results unset). InvalidArgument for an
// empty axis or a value a workload does not accept.
Result<std::vector<SweepPoint>> PlanSweep(const SweepConfig& config);

// Runs every point (a point's failure is recorded and the sweep goes on),
// then writes out_dir/results.csv, results.json and, with gnuplot, for each
// (record_bytes, durability, wait_every) throughput-*.{gp,png,svg} and
// p99-*.{gp,png,svg} against writers. Fails only when out_dir cannot be
// written or the config is invalid.
Result<SweepReport> RunSweep(const SweepConfig& config);

}  // namespace shardwal::tools
