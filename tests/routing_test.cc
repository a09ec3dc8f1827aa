// SPDX-License-Identifier: Apache-2.0
// Tag and thread routing.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <thread>
#include <vector>

#include "src/foundation/routing.h"

namespace shardwal {
namespace {

TEST(TagRouting, SameTagSameShard) {
  for (std::uint32_t shards : {1u, 2u, 7u, 16u}) {
    for (const char* tag : {"", "a", "cpu.host0001", "a much longer tag with spaces and such"}) {
      const std::uint32_t s = ShardForTag(tag, shards);
      EXPECT_LT(s, shards);
      EXPECT_EQ(s, ShardForTag(std::string(tag), shards));
    }
  }
}

// Real tag sets are skewed: long shared prefixes, sequential numbers. They
// must still spread evenly.
TEST(TagRouting, SkewedTagSetsSpreadEvenly) {
  const std::vector<const char*> patterns = {"cpu.host%05d", "sensor-%d", "region=eu,host=h%d,metric=temp",
                                             "%08d"};
  for (const char* pattern : patterns) {
    for (std::uint32_t shards : {2u, 4u, 8u, 16u}) {
      const int tags = 10000;
      std::vector<int> count(shards, 0);
      char buf[128];
      for (int i = 0; i < tags; ++i) {
        std::snprintf(buf, sizeof buf, pattern, i);
        ++count[ShardForTag(buf, shards)];
      }
      const double mean = double(tags) / shards;
      for (std::uint32_t s = 0; s < shards; ++s) {
        // 10000 random tags over 16 shards: sd ~ 24, so 10% (62) is > 2.5 sd.
        EXPECT_NEAR(count[s], mean, mean * 0.10) << pattern << " shards=" << shards << " shard " << s;
      }
    }
  }
}

TEST(ThreadRouting, EachThreadSticksToOneShardAndThreadsSpreadEvenly) {
  const std::uint32_t shards = 4;
  const int threads = 16;
  std::vector<std::uint32_t> first(threads), again(threads);
  // Threads started one after another get consecutive ordinals.
  for (int t = 0; t < threads; ++t) {
    std::thread([&, t] {
      first[t] = ShardForThisThread(shards);
      again[t] = ShardForThisThread(shards);
    }).join();
  }
  std::vector<int> count(shards, 0);
  for (int t = 0; t < threads; ++t) {
    EXPECT_EQ(first[t], again[t]);
    ++count[first[t]];
  }
  for (std::uint32_t s = 0; s < shards; ++s) EXPECT_EQ(count[s], threads / int(shards));
}

}  // namespace
}  // namespace shardwal
