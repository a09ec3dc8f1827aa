// Micro-benchmarks of shardwal's hot paths: CRC32C, record encode/decode, the
// Append call (no fsync) and tag routing.
//
//   build/dev/bench/shardwal_micro_bench --benchmark_min_time=0.05
#include <benchmark/benchmark.h>
#include <spdlog/logger.h>
#include <stdlib.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "shardwal/options.h"
#include "shardwal/wal.h"
#include "src/crc32c.h"
#include "src/format.h"
#include "src/routing.h"

namespace {

using shardwal::Lsn;

std::string Payload(std::size_t n) {
  std::string s(n, '\0');
  std::uint64_t x = 0x9E3779B97F4A7C15ull;
  for (char& c : s) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c = static_cast<char>(x >> 24);
  }
  return s;
}

std::vector<std::string> Tags(std::size_t n) {
  std::vector<std::string> tags;
  char buf[32];
  for (std::size_t i = 0; i < n; ++i) {
    std::snprintf(buf, sizeof buf, "sensor.%06zu", i);
    tags.emplace_back(buf);
  }
  return tags;
}

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

// ---- the Append hot path ------------------------------------------------------------

// One WAL per benchmark run, opened by thread 0 before the timed loop (the
// loop's start is a barrier for all threads) and closed by thread 0 after
// it. The object itself lives until the next run opens a new one, so a
// thread that is still finishing never touches a destroyed WAL.
struct AppendWal {
  std::unique_ptr<shardwal::Wal> wal;
  std::string dir;
  std::string error;

  void Open(std::uint32_t shards) {
    wal.reset();
    error.clear();
    const char* env = std::getenv("TMPDIR");
    std::string tmpl = std::string(env != nullptr && *env != '\0' ? env : "/tmp") + "/shardwal-microbench-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) {
      error = "mkdtemp " + tmpl + " failed";
      return;
    }
    dir = tmpl;
    shardwal::Options opt;
    opt.dir = dir;
    opt.num_shards = shards;
    opt.durability = shardwal::Durability::kNone;
    opt.routing = shardwal::Routing::kThread;
    opt.max_buffered_bytes = 64u << 20;
    // No sinks: the open/close lines would drown the benchmark table.
    opt.logger = std::make_shared<spdlog::logger>("micro_bench");
    auto r = shardwal::Wal::Open(opt);
    if (!r.ok()) {
      error = r.status().ToString();
      return;
    }
    wal = std::move(*r);
  }

  void Close() {
    if (wal) {
      if (shardwal::Status s = wal->Close(); !s.ok()) std::fprintf(stderr, "Close: %s\n", s.ToString().c_str());
    }
    if (!dir.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
      dir.clear();
    }
  }
};
AppendWal g_append;

// Args: shards, payload bytes.
void BM_Append(benchmark::State& state) {
  if (state.thread_index() == 0) g_append.Open(static_cast<std::uint32_t>(state.range(0)));
  const std::string payload = Payload(static_cast<std::size_t>(state.range(1)));
  for (auto _ : state) {
    if (!g_append.wal) {
      state.SkipWithError(g_append.error.c_str());
      break;
    }
    shardwal::Result<Lsn> r = g_append.wal->Append(payload);
    if (!r.ok()) {
      state.SkipWithError(r.status().ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(1));
  if (state.thread_index() == 0) g_append.Close();
}
BENCHMARK(BM_Append)
    ->ArgNames({"shards", "payload"})
    ->ArgsProduct({{1, 2}, {64, 256, 4096}})
    ->Threads(1)
    ->Threads(2)
    ->UseRealTime();

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

}  // namespace
