// SPDX-License-Identifier: Apache-2.0
// The peers of bench/compare.h, one run each, inside bench/compare*.cc:
// shardwal and single-log through RunBench (bench/bench_engine.h); naive
// and rocksdb through a writer loop that copies RunBench's (a latch, one
// start signal, the same payloads and tag picks, per-writer latency
// histograms, nothing allocated in the loop), so the numbers of all four are
// taken the same way. Each runs in `dir`, which exists and is empty.
#pragma once

#include <string>

#include "bench/compare.h"
#include "shardwal/status.h"

namespace shardwal::tools {

// `peer` is kShardwal or kSingleLog (one shard).
Result<PeerResult> RunShardwalPeer(Peer peer, const Workload& workload, const std::string& dir);
Result<PeerResult> RunNaivePeer(const Workload& workload, const std::string& dir);
// NotSupported without RocksDB.
Result<PeerResult> RunRocksPeer(const Workload& workload, const std::string& dir);

// What the latency percentiles of `workload` time (PeerResult::latency):
// "append_to_durable", "append_call" or "wait_every_N".
std::string LatencyKind(const Workload& workload);

}  // namespace shardwal::tools
