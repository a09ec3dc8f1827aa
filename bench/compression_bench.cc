// SPDX-License-Identifier: Apache-2.0
// Batch compression (Options::compression) as the flush thread does it: one
// BatchCompressor per shard, one 1 MiB batch of encoded records at a time.
// Payloads:
//   bench   the records of one `shardwal bench` writer: one pseudo-random
//           payload per writer, its first 8 bytes stamped with the sequence
//           (bench/payload.h) - repeated, so an LZ matcher finds it
//   random  a fresh pseudo-random payload per record: incompressible (the
//           compressor gives up, the batch is stored raw)
//   text    log-line-like text with counters
// Counters: ratio = stored / raw bytes; bytes/s over the raw batch.
//
//   build/release/bench/shardwal_micro_bench --benchmark_filter=CompressBatch
#include <benchmark/benchmark.h>

#include <string>

#include "bench/payload.h"
#include "src/foundation/batch_codec.h"
#include "src/foundation/format.h"

namespace {

using shardwal::BatchCompressor;
using shardwal::BatchDecompressor;
using shardwal::Compression;
namespace format = shardwal::format;

constexpr std::size_t kBatchBytes = 1u << 20;
constexpr std::size_t kPayloadBytes = 256;

// 1 MiB (or just under) of encoded records of kind 0 bench, 1 random, 2 text.
std::string MakeBatch(int kind, std::uint32_t* records) {
  std::uint64_t rng = shardwal::tools::WriterSeed(0);
  std::string fixed = shardwal::tools::MakePayload(kPayloadBytes, rng);
  std::string batch;
  *records = 0;
  for (std::uint64_t seq = 1;; ++seq) {
    std::string payload;
    if (kind == 0) {
      shardwal::tools::StampSequence(fixed, seq);
      payload = fixed;
    } else if (kind == 1) {
      payload = shardwal::tools::MakePayload(kPayloadBytes, rng);
    } else {
      payload = "ts=" + std::to_string(1700000000000 + seq * 7) + " host=web-" + std::to_string(seq % 16) +
                " status=" + (seq % 50 == 0 ? "500" : "200") + " bytes=" + std::to_string(rng % 9000) +
                " path=/api/v1/items/" + std::to_string(shardwal::tools::XorShift(rng) % 100000);
    }
    const std::string tag = "sensor.0000" + std::to_string(seq % 8);
    std::string rec(format::RecordBytes(tag.size(), payload.size()), '\0');
    if (batch.size() + rec.size() > kBatchBytes) break;
    format::EncodeRecord(rec.data(), seq, shardwal::RecordType::kData, 0, tag, payload, format::BodyCrc(tag, payload));
    batch += rec;
    ++*records;
  }
  return batch;
}

const char* kKinds[] = {"bench", "random", "text"};

// range(0): payload kind; range(1): codec (1 lz4, 2 zstd); range(2): level.
void BM_CompressBatch(benchmark::State& state) {
  std::uint32_t records = 0;
  const std::string raw = MakeBatch(static_cast<int>(state.range(0)), &records);
  BatchCompressor c(static_cast<Compression>(state.range(1)), static_cast<int>(state.range(2)));
  std::string out(raw.size(), '\0');
  std::size_t stored = 0;
  for (auto _ : state) {
    stored = c.Compress(raw, out.data());
    benchmark::DoNotOptimize(stored);
  }
  state.SetLabel(std::string(kKinds[state.range(0)]) + " " +
                 std::string(shardwal::CompressionName(c.codec())) + (stored == 0 ? " (stored raw)" : ""));
  state.counters["ratio"] = stored == 0 ? 1.0 : static_cast<double>(stored) / static_cast<double>(raw.size());
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * raw.size()));
}
BENCHMARK(BM_CompressBatch)
    ->ArgNames({"payload", "codec", "level"})
    ->ArgsProduct({{0, 1, 2}, {2}, {1, 3}})
    ->ArgsProduct({{0, 1, 2}, {1}, {0}})
    ->Unit(benchmark::kMicrosecond);

// What a reader pays: CRC of the stored bytes plus decompression.
void BM_DecompressBatch(benchmark::State& state) {
  std::uint32_t records = 0;
  const std::string raw = MakeBatch(static_cast<int>(state.range(0)), &records);
  BatchCompressor c(static_cast<Compression>(state.range(1)), static_cast<int>(state.range(2)));
  std::string stored(raw.size(), '\0');
  const std::size_t n = c.Compress(raw, stored.data());
  if (n == 0) {
    state.SkipWithError("stored raw: nothing to decompress");
    return;
  }
  format::BatchHeader h;
  h.codec = c.codec_byte();
  h.body_bytes = static_cast<std::uint32_t>(n);
  h.raw_bytes = static_cast<std::uint32_t>(raw.size());
  h.record_count = records;
  BatchDecompressor d;
  for (auto _ : state) {
    auto got = d.Records(h, stored.data());
    benchmark::DoNotOptimize(got);
  }
  state.SetLabel(std::string(kKinds[state.range(0)]) + " " + std::string(shardwal::CompressionName(c.codec())));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * raw.size()));
}
BENCHMARK(BM_DecompressBatch)
    ->ArgNames({"payload", "codec", "level"})
    ->ArgsProduct({{0, 2}, {1, 2}, {1}})
    ->Unit(benchmark::kMicrosecond);

}  // namespace
