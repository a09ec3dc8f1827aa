// SPDX-License-Identifier: Apache-2.0
// Random byte damage to copies of an intact WAL, many seeds each: bit flips
// in every structure (one shard or several), truncations and zeroed ranges.
// The expected outcome in every recovery mode is derived from the damaged
// bytes (Analyze) and checked read-only and read-write (RunCase); both are
// in tests/corruption_harness.h.
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "tests/corruption_harness.h"

namespace shardwal {
namespace {

using namespace corruption;
using testing::FlipBit;
using testing::ShrinkFile;
using testing::ZeroBytes;

TEST_F(Corruption, IntactCopyRecoversEverythingInEveryMode) {
  Expect e;
  e.absolute_ok = true;
  RunCase("intact", [](const std::string&) {}, e);
}

// ---- random byte damage, many seeds ----

void RunRandom(const std::string& family, int seeds, const std::function<Damage(std::mt19937_64&)>& make) {
  int ran = 0;
  for (int seed = 1; ran < seeds && seed < seeds * 4; ++seed) {
    std::mt19937_64 rng(static_cast<std::uint64_t>(seed) * 0x9E3779B97F4A7C15ull);
    Damage d = make(rng);
    auto e = Analyze(d);
    if (!e) continue;  // changed nothing, or undetectable
    ++ran;
    RunCase(family + " seed " + std::to_string(seed) + " (" + Describe(*e) + ")", d, *e);
    if (::testing::Test::HasFatalFailure()) return;
  }
  EXPECT_EQ(ran, seeds);
}

TEST_F(Corruption, RandomBitFlips) {
  const Region regions[] = {Region::kSegmentHeader, Region::kBatchHeader, Region::kRecordHeader, Region::kPayload,
                            Region::kAnywhere};
  int n = 0;
  RunRandom("bit flip", 30, [&](std::mt19937_64& rng) -> Damage {
    const Region region = regions[n++ % 5];
    const Spot s = RandomSpot(rng, region);
    const int bit = static_cast<int>(rng() % 8);
    const std::uint64_t seq = B().Seg(s.shard, s.seg).seq;
    return [=](const std::string& dir) { FlipBit(SegPath(dir, s.shard, seq), s.offset, bit); };
  });
}

TEST_F(Corruption, RandomBitFlipsInSeveralShards) {
  RunRandom("flips", 8, [&](std::mt19937_64& rng) -> Damage {
    std::vector<std::pair<std::string, std::uint64_t>> spots;  // (relative path, offset)
    std::vector<int> bits;
    const int count = 2 + static_cast<int>(rng() % 3);
    for (int k = 0; k < count; ++k) {
      const Spot s = RandomSpot(rng, Region::kAnywhere);
      spots.push_back({SegPath("", s.shard, B().Seg(s.shard, s.seg).seq), s.offset});
      bits.push_back(static_cast<int>(rng() % 8));
    }
    return [=](const std::string& dir) {
      for (std::size_t k = 0; k < spots.size(); ++k) FlipBit(dir + spots[k].first, spots[k].second, bits[k]);
    };
  });
}

TEST_F(Corruption, RandomTruncations) {
  RunRandom("truncation", 16, [&](std::mt19937_64& rng) -> Damage {
    // Half of them in the last segment of the shard: the torn tail.
    const bool last = rng() % 2 == 0;
    const Spot s = RandomSpot(rng, Region::kAnywhere, last);
    const SegmentLoc& seg = B().Seg(s.shard, s.seg);
    std::uint64_t at = rng() % seg.bytes.size();
    for (const auto& b : seg.batches) {
      if (b.offset == at) ++at;  // a cut exactly at a batch boundary is undetectable: tested below
    }
    return [=, seq = seg.seq](const std::string& dir) { ShrinkFile(SegPath(dir, s.shard, seq), at); };
  });
}

TEST_F(Corruption, RandomZeroedRanges) {
  RunRandom("zeroed range", 16, [&](std::mt19937_64& rng) -> Damage {
    const bool last = rng() % 3 == 0;
    const Spot s = RandomSpot(rng, Region::kAnywhere, last);
    const std::uint64_t seq = B().Seg(s.shard, s.seg).seq;
    const std::uint64_t n = 1 + rng() % (rng() % 2 ? 64 : 8192);
    return [=](const std::string& dir) { ZeroBytes(SegPath(dir, s.shard, seq), s.offset, n); };
  });
}

}  // namespace
}  // namespace shardwal
