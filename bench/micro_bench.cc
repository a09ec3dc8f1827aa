// SPDX-License-Identifier: Apache-2.0
// Micro-benchmarks of shardwal's hot paths, all in one binary:
//   micro_bench.cc      CRC32C, record encode/decode, tag routing
//   append_bench.cc     Wal::Append by payload size, durability, threads
//   recovery_bench.cc   recovery's k-way MergeCursor
//   watermark_bench.cc  DurableWatermark Advance / Wait / wake-up
//
//   build/release/bench/shardwal_micro_bench --benchmark_min_time=0.05
//   build/release/bench/shardwal_micro_bench --benchmark_filter='Merge|Watermark'
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "src/foundation/crc32c.h"
#include "src/foundation/format.h"
#include "src/foundation/routing.h"

namespace {

using shardwal::Lsn;
using shardwal::bench::Payload;
using shardwal::bench::Tags;

// ---- CRC32C ----------------------------------------------------------------------

void BM_Crc32c(benchmark::State& state) {
  const std::string data = Payload(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    benchmark::DoNotOptimize(shardwal::crc32c::Value(data.data(), data.size()));
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_Crc32c)->ArgName("bytes")->Arg(64)->Arg(256)->Arg(4096)->Arg(65536);

// ---- record encode / decode -----------------------------------------------------

constexpr std::string_view kTag = "sensor.000042";

// BodyCrc (outside the shard lock in the WAL) plus EncodeRecord (under it).
void BM_EncodeRecord(benchmark::State& state) {
  const std::string payload = Payload(static_cast<std::size_t>(state.range(0)));
  std::string out(shardwal::format::RecordBytes(kTag.size(), payload.size()), '\0');
  Lsn lsn = 1;
  for (auto _ : state) {
    const std::uint32_t body_crc = shardwal::format::BodyCrc(kTag, payload);
    shardwal::format::EncodeRecord(out.data(), lsn++, shardwal::RecordType::kData, 0, kTag, payload, body_crc);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * out.size()));
}
BENCHMARK(BM_EncodeRecord)->ArgName("payload")->Arg(64)->Arg(256)->Arg(4096);

void BM_DecodeRecord(benchmark::State& state) {
  const std::string payload = Payload(static_cast<std::size_t>(state.range(0)));
  std::string rec(shardwal::format::RecordBytes(kTag.size(), payload.size()), '\0');
  shardwal::format::EncodeRecord(rec.data(), 7, shardwal::RecordType::kData, 0, kTag, payload,
                                 shardwal::format::BodyCrc(kTag, payload));
  for (auto _ : state) {
    shardwal::format::RecordView view;
    std::size_t consumed = 0;
    const shardwal::Status s = shardwal::format::DecodeRecord(rec.data(), rec.size(), &view, &consumed);
    if (!s.ok()) {
      state.SkipWithError(s.ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(view);
    benchmark::DoNotOptimize(consumed);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * rec.size()));
}
BENCHMARK(BM_DecodeRecord)->ArgName("payload")->Arg(64)->Arg(256)->Arg(4096);

// ---- tag routing ----------------------------------------------------------------------

void BM_ShardForTag(benchmark::State& state) {
  const std::vector<std::string> owned = Tags(1024);
  const std::vector<std::string_view> tags(owned.begin(), owned.end());
  const auto shards = static_cast<std::uint32_t>(state.range(0));
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(shardwal::ShardForTag(tags[i++ & 1023], shards));
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_ShardForTag)->ArgName("shards")->Arg(2)->Arg(8);

// Routing::kThread and untagged appends: a thread_local ordinal mod shards.
void BM_ShardForThisThread(benchmark::State& state) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(shardwal::ShardForThisThread(8));
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_ShardForThisThread);

}  // namespace
