// SPDX-License-Identifier: Apache-2.0
// ParallelFor (recovery/parallel_for.h), recovery's pass-1 pool: every index
// exactly once, at most max_threads threads (the caller one of them), the
// first exception rethrown after every thread joined, nothing for n = 0.
#include "recovery/parallel_for.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

namespace shardwal {
namespace {

TEST(ParallelFor, RunsEveryIndexOnceOnAtMostMaxThreads) {
  for (std::size_t max_threads : {1u, 2u, 4u, 16u}) {
    std::vector<std::atomic<int>> runs(100);
    std::mutex mu;
    std::set<std::thread::id> threads;
    ParallelFor(
        runs.size(),
        [&](std::size_t i) {
          runs[i].fetch_add(1);
          std::lock_guard lk(mu);
          threads.insert(std::this_thread::get_id());
        },
        max_threads);
    for (std::size_t i = 0; i < runs.size(); ++i) EXPECT_EQ(runs[i].load(), 1) << i;
    EXPECT_LE(threads.size(), max_threads);
    if (max_threads == 1) {
      EXPECT_TRUE(threads.contains(std::this_thread::get_id()));
    }
  }
}

TEST(ParallelFor, NoMoreThreadsThanIndices) {
  std::mutex mu;
  std::set<std::thread::id> threads;
  ParallelFor(
      2,
      [&](std::size_t) {
        std::lock_guard lk(mu);
        threads.insert(std::this_thread::get_id());
      },
      64);
  EXPECT_LE(threads.size(), 2u);
}

TEST(ParallelFor, NothingForZero) {
  bool called = false;
  ParallelFor(0, [&](std::size_t) { called = true; });
  EXPECT_FALSE(called);
}

TEST(ParallelFor, TheFirstExceptionReachesTheCaller) {
  std::atomic<int> done{0};
  try {
    ParallelFor(
        50,
        [&](std::size_t i) {
          if (i == 7) throw std::runtime_error("shard 7");
          done.fetch_add(1);
        },
        4);
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "shard 7");
  }
  EXPECT_LT(done.load(), 50);  // index 7 did not finish
}

}  // namespace
}  // namespace shardwal
