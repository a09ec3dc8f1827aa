// SPDX-License-Identifier: Apache-2.0
// Recovery's k-way merge: MergeCursor (recovery/merge_cursor.h) over k
// ShardCursors, k = 1, 2, 4, 8, 16.
//
// MergeCursor merges ShardCursors, and a ShardCursor reads segment files
// through a FileSystem, so the input is a real WAL: kRecords records of
// kPayload bytes under 1024 tags (tag routing spreads them over the shards
// in hash order, so consecutive LSNs hop between shards), written once per
// shard count into /dev/shm (else $TMPDIR) before the first timed run and
// deleted when the binary exits. Listing the segments (ListShardSegments)
// is done once, outside the timing; one iteration is one whole merge pass:
// make the cursors, Next() through every record in LSN order.
//
//   BM_MergeCursor/shards:k/verify:v  the merge; verify:1 checks every
//                                     record's CRC32C as recovery does
//   BM_ShardCursorDrain/shards:k      the same cursors drained one after
//                                     the other, no merge: the difference
//                                     to BM_MergeCursor/verify:0 is the
//                                     heap's cost
#include <benchmark/benchmark.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "recovery/merge_cursor.h"
#include "recovery/shard_cursor.h"
#include "recovery/shard_scan.h"
#include "shardwal/file_system.h"
#include "shardwal/options.h"
#include "shardwal/wal.h"
#include "src/foundation/manifest.h"

namespace {

using shardwal::Lsn;

constexpr std::uint64_t kRecords = 1u << 16;
constexpr std::size_t kPayload = 100;
constexpr std::size_t kAppendBatch = 512;

struct MergeInput {
  shardwal::bench::TempDir dir;
  std::shared_ptr<shardwal::FileSystem> fs = shardwal::FileSystem::Default();
  std::optional<shardwal::Manifest> manifest;
  std::vector<shardwal::ShardLayout> layouts;
  std::string error;  // empty: ready

  shardwal::ScanContext Context(bool verify) const {
    return shardwal::ScanContext{fs.get(), &*manifest, shardwal::RecoveryMode::kTolerateTornTail, verify};
  }
};

std::string Build(MergeInput& in, std::uint32_t shards) {
  if (!in.dir.ok()) return in.dir.error();
  {
    shardwal::Options opt;
    opt.dir = in.dir.path();
    opt.num_shards = shards;
    opt.routing = shardwal::Routing::kTag;
    opt.durability = shardwal::Durability::kNone;
    opt.preallocation = shardwal::Preallocation::kNone;
    opt.segment_bytes = 4u << 20;  // several segments per shard at k = 1
    opt.log = shardwal::bench::SilentLog();
    auto wal = shardwal::Wal::Open(opt);
    if (!wal.ok()) return wal.status().ToString();
    const std::vector<std::string> tags = shardwal::bench::Tags(1024);
    const std::string payload = shardwal::bench::Payload(kPayload);
    std::vector<shardwal::RecordSpec> batch;
    for (std::uint64_t i = 0; i < kRecords; ++i) {
      batch.push_back(shardwal::RecordSpec{tags[i % tags.size()], payload});
      if (batch.size() == kAppendBatch || i + 1 == kRecords) {
        auto r = (*wal)->AppendBatch(batch);
        if (!r.ok()) return r.status().ToString();
        batch.clear();
      }
    }
    if (shardwal::Status s = (*wal)->Close(); !s.ok()) return s.ToString();
  }
  auto manifest = shardwal::Manifest::Load(*in.fs, in.dir.path());
  if (!manifest.ok()) return manifest.status().ToString();
  in.manifest = std::move(*manifest);
  const shardwal::ScanContext ctx = in.Context(true);
  const std::vector<std::string> dirs = in.manifest->AllShardDirs();
  std::vector<shardwal::Anomaly> anomalies;
  for (std::uint32_t s = 0; s < dirs.size(); ++s) {
    auto layout = shardwal::ListShardSegments(ctx, s, dirs[s], &anomalies);
    if (!layout.ok()) return layout.status().ToString();
    in.layouts.push_back(std::move(*layout));
  }
  if (!anomalies.empty()) return "unexpected anomaly: " + anomalies.front().ToString();
  return {};
}

// Built on first use, one per shard count; the map's destruction at exit
// deletes the directories.
const MergeInput& Input(std::uint32_t shards) {
  static std::map<std::uint32_t, std::unique_ptr<MergeInput>> inputs;
  auto& slot = inputs[shards];
  if (!slot) {
    slot = std::make_unique<MergeInput>();
    slot->error = Build(*slot, shards);
  }
  return *slot;
}

// One merge pass; returns the number of records, or sets *error.
std::uint64_t MergeOnce(const MergeInput& in, bool verify, std::string* error) {
  const shardwal::ScanContext ctx = in.Context(verify);
  std::vector<shardwal::Anomaly> anomalies;
  std::vector<std::unique_ptr<shardwal::ShardCursor>> cursors;
  std::vector<shardwal::ShardCursor*> raw;
  cursors.reserve(in.layouts.size());
  for (const auto& layout : in.layouts) {
    cursors.push_back(std::make_unique<shardwal::ShardCursor>(ctx, layout, &anomalies));
    raw.push_back(cursors.back().get());
  }
  shardwal::MergeCursor merge(std::move(raw));
  std::uint64_t n = 0;
  Lsn prev = shardwal::kNoLsn;
  while (merge.Next()) {
    const Lsn lsn = merge.current().record().lsn;
    if (lsn != prev + 1) {
      *error = "merge out of order: LSN " + std::to_string(lsn) + " after " + std::to_string(prev);
      return n;
    }
    prev = lsn;
    ++n;
  }
  if (shardwal::Status s = merge.status(); !s.ok()) *error = s.ToString();
  return n;
}

void BM_MergeCursor(benchmark::State& state) {
  const MergeInput& in = Input(static_cast<std::uint32_t>(state.range(0)));
  const bool verify = state.range(1) != 0;
  if (!in.error.empty()) {
    state.SkipWithError(in.error.c_str());
    return;
  }
  std::string error;
  for (auto _ : state) {
    const std::uint64_t n = MergeOnce(in, verify, &error);
    if (n != kRecords && error.empty()) error = "merged " + std::to_string(n) + " records";
    if (!error.empty()) {
      state.SkipWithError(error.c_str());
      break;
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kRecords));
}
BENCHMARK(BM_MergeCursor)
    ->ArgNames({"shards", "verify"})
    ->ArgsProduct({{1, 2, 4, 8, 16}, {0, 1}})
    ->Unit(benchmark::kMillisecond);

void BM_ShardCursorDrain(benchmark::State& state) {
  const MergeInput& in = Input(static_cast<std::uint32_t>(state.range(0)));
  if (!in.error.empty()) {
    state.SkipWithError(in.error.c_str());
    return;
  }
  const shardwal::ScanContext ctx = in.Context(false);
  for (auto _ : state) {
    std::vector<shardwal::Anomaly> anomalies;
    std::uint64_t n = 0;
    for (const auto& layout : in.layouts) {
      shardwal::ShardCursor cursor(ctx, layout, &anomalies);
      while (cursor.Next()) {
        benchmark::DoNotOptimize(cursor.record().lsn);
        ++n;
      }
    }
    if (n != kRecords) {
      state.SkipWithError(("drained " + std::to_string(n) + " records").c_str());
      break;
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kRecords));
}
BENCHMARK(BM_ShardCursorDrain)->ArgName("shards")->Arg(1)->Arg(2)->Arg(4)->Arg(8)->Arg(16)->Unit(benchmark::kMillisecond);

}  // namespace
