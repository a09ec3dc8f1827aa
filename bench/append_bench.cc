// SPDX-License-Identifier: Apache-2.0
// The Append hot path: Wal::Append(tag, payload) by payload size, durability
// none / async, from 1 or 2 threads.
//
// One WAL per benchmark run (one call of the benchmark function), opened by
// thread 0 before the timed loop and closed by it after the loop: the
// loop's start and end are barriers for all threads, so no thread appends to
// a WAL that is not open yet or already closed, and neither Open nor Close
// (which flushes what is still buffered) is timed. The WAL lives in
// /dev/shm (else $TMPDIR) and is deleted after each run.
//
// Each writer thread uses a tag that routes it to shard (thread index mod
// shards), so BM_Append gives every writer its own shard and
// BM_AppendSharedShard puts both writers on one shard lock.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <memory>
#include <string>

#include "bench/bench_util.h"
#include "shardwal/options.h"
#include "shardwal/wal.h"
#include "src/foundation/routing.h"

namespace {

using shardwal::Lsn;
using shardwal::bench::Payload;
using shardwal::bench::TempDir;

struct AppendWal {
  std::unique_ptr<TempDir> dir;
  std::unique_ptr<shardwal::Wal> wal;
  std::string error;

  void Open(std::uint32_t shards, shardwal::Durability durability) {
    wal.reset();
    error.clear();
    dir = std::make_unique<TempDir>();
    if (!dir->ok()) {
      error = dir->error();
      return;
    }
    shardwal::Options opt;
    opt.dir = dir->path();
    opt.num_shards = shards;
    opt.durability = durability;
    opt.routing = shardwal::Routing::kTag;
    // Segments grow with each write: no background zero-filling competing
    // with the writers for the CPU (the rest are defaults: 1 MiB batches,
    // 16 MiB of buffer per shard, 64 MiB segments).
    opt.preallocation = shardwal::Preallocation::kNone;
    opt.log = shardwal::bench::SilentLog();
    auto r = shardwal::Wal::Open(opt);
    if (!r.ok()) {
      error = r.status().ToString();
      return;
    }
    wal = std::move(*r);
  }

  // Returns the backpressure waits of the run (appends that found the
  // buffer full and waited for the flush thread).
  std::uint64_t Close() {
    std::uint64_t waits = 0;
    if (wal) {
      waits = wal->Stats().total.backpressure_waits;
      if (shardwal::Status s = wal->Close(); !s.ok()) std::fprintf(stderr, "Close: %s\n", s.ToString().c_str());
    }
    wal.reset();
    dir.reset();  // removes the directory
    return waits;
  }
};
// The object outlives each run; only thread 0 opens and closes it, outside
// the timed loop.
AppendWal g_append;

// A short tag that Routing::kTag sends to `shard`. Pure: each thread
// computes its own without touching shared state.
std::string TagForShard(std::uint32_t shard, std::uint32_t shards) {
  for (int i = 0;; ++i) {
    std::string tag = "w" + std::to_string(i);
    if (shardwal::ShardForTag(tag, shards) == shard) return tag;
  }
}

// Args: payload bytes, async (0: Durability::kNone, 1: kAsync).
void RunAppend(benchmark::State& state, std::uint32_t shards) {
  const auto durability = state.range(1) != 0 ? shardwal::Durability::kAsync : shardwal::Durability::kNone;
  if (state.thread_index() == 0) g_append.Open(shards, durability);
  const std::string payload = Payload(static_cast<std::size_t>(state.range(0)));
  const std::string tag = TagForShard(static_cast<std::uint32_t>(state.thread_index()) % shards, shards);
  for (auto _ : state) {
    if (!g_append.wal) {
      state.SkipWithError(g_append.error.c_str());
      break;
    }
    shardwal::Result<Lsn> r = g_append.wal->Append(tag, payload);
    if (!r.ok()) {
      state.SkipWithError(r.status().ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
  if (state.thread_index() == 0) {
    state.counters["bp_waits"] = static_cast<double>(g_append.Close());
  }
}

// One shard per writer thread.
void BM_Append(benchmark::State& state) { RunAppend(state, static_cast<std::uint32_t>(state.threads())); }
BENCHMARK(BM_Append)
    ->ArgNames({"payload", "async"})
    ->ArgsProduct({{16, 100, 1024, 4096}, {0, 1}})
    ->Threads(1)
    ->Threads(2)
    ->UseRealTime();

// Two writers on one shard: contention on the shard mutex.
void BM_AppendSharedShard(benchmark::State& state) { RunAppend(state, 1); }
BENCHMARK(BM_AppendSharedShard)
    ->ArgNames({"payload", "async"})
    ->ArgsProduct({{100, 4096}, {0}})
    ->Threads(2)
    ->UseRealTime();

}  // namespace
