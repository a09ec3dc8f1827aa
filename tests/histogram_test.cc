// SPDX-License-Identifier: Apache-2.0
// The lock-free latency histogram (src/observability/histogram.h): bucket
// edges, exact small values, percentiles of known distributions within the
// bucket error, snapshots in units and cumulative buckets, merged snapshots,
// and concurrent records all counted.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <thread>
#include <vector>

#include "src/observability/histogram.h"

namespace shardwal {
namespace {

// The bucket error: a percentile is within 25% of the true value.
constexpr double kBucketError = 0.25;

// The exact nearest-rank quantile of sorted values.
double ExactQuantile(const std::vector<std::uint64_t>& sorted, double q) {
  const auto rank = std::max<std::size_t>(1, static_cast<std::size_t>(std::ceil(q * static_cast<double>(sorted.size()))));
  return static_cast<double>(sorted[rank - 1]);
}

void ExpectNear(double estimate, double truth, const char* what) {
  if (truth == 0) {
    EXPECT_EQ(estimate, 0) << what;
  } else {
    EXPECT_LE(std::abs(estimate - truth) / truth, kBucketError) << what << ": estimate " << estimate << " truth " << truth;
  }
}

void CheckAgainst(std::vector<std::uint64_t> values, const char* what) {
  Histogram h;
  std::uint64_t sum = 0;
  for (auto v : values) {
    h.Record(v);
    sum += v;
  }
  std::sort(values.begin(), values.end());
  const HistogramSnapshot s = h.Snapshot();
  SCOPED_TRACE(what);
  EXPECT_EQ(s.count, values.size());
  EXPECT_EQ(s.sum, static_cast<double>(sum));
  EXPECT_EQ(s.max, static_cast<double>(values.back()));
  ExpectNear(s.p50, ExactQuantile(values, 0.5), "p50");
  ExpectNear(s.p90, ExactQuantile(values, 0.9), "p90");
  ExpectNear(s.p99, ExactQuantile(values, 0.99), "p99");
  ExpectNear(s.p999, ExactQuantile(values, 0.999), "p999");
  EXPECT_LE(s.p50, s.p90);
  EXPECT_LE(s.p90, s.p99);
  EXPECT_LE(s.p99, s.p999);
  EXPECT_LE(s.p999, s.max);
}

TEST(Histogram, BucketEdgesAreConsistent) {
  for (std::size_t i = 0; i + 1 < HistogramCounts::kBuckets; ++i) {
    const std::uint64_t upper = HistogramCounts::UpperBound(i);
    EXPECT_EQ(HistogramCounts::BucketOf(upper), i) << i;
    EXPECT_EQ(HistogramCounts::BucketOf(upper + 1), i + 1) << i;
    EXPECT_LT(upper, HistogramCounts::UpperBound(i + 1));
    if (upper >= 4) {  // at most 25% of the lower edge wide
      EXPECT_LE(HistogramCounts::UpperBound(i + 1) - upper, upper / 4 + 1) << i;
    }
  }
  EXPECT_EQ(HistogramCounts::BucketOf(~std::uint64_t{0}), HistogramCounts::kBuckets - 1);
  EXPECT_EQ(HistogramCounts::UpperBound(HistogramCounts::kBuckets - 1), ~std::uint64_t{0});
  // Small values are exact; powers of two are edges.
  for (std::uint64_t v = 0; v <= 4; ++v) EXPECT_EQ(HistogramCounts::UpperBound(HistogramCounts::BucketOf(v)), v);
  for (int k = 0; k < 64; ++k) {
    const std::uint64_t p = std::uint64_t{1} << k;
    EXPECT_EQ(HistogramCounts::UpperBound(HistogramCounts::BucketOf(p)), p) << k;
  }
}

TEST(Histogram, EmptySnapshot) {
  Histogram h;
  const HistogramSnapshot s = h.Snapshot();
  EXPECT_EQ(s.count, 0u);
  EXPECT_EQ(s.p99, 0);
  EXPECT_EQ(s.mean(), 0);
  ASSERT_EQ(s.buckets.size(), 1u);
  EXPECT_TRUE(std::isinf(s.buckets[0].first));
  EXPECT_EQ(s.buckets[0].second, 0u);
}

TEST(Histogram, SmallValuesAreExact) {
  Histogram h;
  for (int i = 0; i < 10; ++i) h.Record(3);
  h.Record(1);
  const HistogramSnapshot s = h.Snapshot();
  EXPECT_EQ(s.p50, 3);
  EXPECT_EQ(s.p999, 3);
  EXPECT_EQ(s.max, 3);
  EXPECT_EQ(s.count, 11u);
  // Buckets 1, 2 (empty, between) and 3, then +Inf.
  ASSERT_EQ(s.buckets.size(), 4u);
  EXPECT_EQ(s.buckets[0], (std::pair<double, std::uint64_t>(1, 1)));
  EXPECT_EQ(s.buckets[1], (std::pair<double, std::uint64_t>(2, 1)));
  EXPECT_EQ(s.buckets[2], (std::pair<double, std::uint64_t>(3, 11)));
  EXPECT_TRUE(std::isinf(s.buckets[3].first));
  EXPECT_EQ(s.buckets[3].second, 11u);
}

TEST(Histogram, PercentilesOfKnownDistributionsAreWithinTheBucketError) {
  std::mt19937_64 rng(7);
  {
    std::vector<std::uint64_t> v;
    for (std::uint64_t i = 1; i <= 100000; ++i) v.push_back(i);
    CheckAgainst(v, "uniform 1..100000");
  }
  {
    std::vector<std::uint64_t> v(5000, 1000);
    CheckAgainst(v, "constant 1000");
  }
  {
    // Latencies: log-normal around 200 us (in ns), a long tail.
    std::lognormal_distribution<double> d(std::log(200e3), 1.0);
    std::vector<std::uint64_t> v;
    for (int i = 0; i < 200000; ++i) v.push_back(static_cast<std::uint64_t>(d(rng)));
    CheckAgainst(v, "log-normal");
  }
  {
    // Bimodal: 99% fast, 1% very slow (a stalled device).
    std::vector<std::uint64_t> v;
    std::uniform_int_distribution<std::uint64_t> fast(50'000, 80'000), slow(400'000'000, 600'000'000);
    for (int i = 0; i < 100000; ++i) v.push_back(i % 100 == 0 ? slow(rng) : fast(rng));
    CheckAgainst(v, "bimodal");
  }
  {
    std::uniform_int_distribution<std::uint64_t> d(0, ~std::uint64_t{0} >> 8);
    std::vector<std::uint64_t> v;
    for (int i = 0; i < 50000; ++i) v.push_back(d(rng));
    CheckAgainst(v, "uniform over 2^56");
  }
}

TEST(Histogram, SnapshotInUnitsAndCumulativeBuckets) {
  Histogram h;
  for (std::uint64_t ns : {1'000u, 2'000u, 3'000u, 50'000u, 1'000'000u}) h.Record(ns);
  const HistogramSnapshot s = h.Snapshot(kNanosPerSecond);
  EXPECT_EQ(s.count, 5u);
  EXPECT_DOUBLE_EQ(s.sum, 1'056'000e-9);
  EXPECT_DOUBLE_EQ(s.max, 1e-3);
  EXPECT_NEAR(s.mean(), 211.2e-6, 1e-12);
  ASSERT_GE(s.buckets.size(), 2u);
  EXPECT_TRUE(std::isinf(s.buckets.back().first));
  EXPECT_EQ(s.buckets.back().second, 5u);
  for (std::size_t i = 1; i < s.buckets.size(); ++i) {
    EXPECT_LT(s.buckets[i - 1].first, s.buckets[i].first);
    EXPECT_LE(s.buckets[i - 1].second, s.buckets[i].second);
  }
  // The first bucket holds 1000 ns, the last finite one 1 ms.
  EXPECT_GE(s.buckets.front().first, 1e-6);
  EXPECT_LE(s.buckets.front().first, 1.25e-6);
  EXPECT_EQ(s.buckets.front().second, 1u);
  EXPECT_GE(s.buckets[s.buckets.size() - 2].first, 1e-3);
}

TEST(Histogram, MergedSnapshotsEqualOneHistogram) {
  std::mt19937_64 rng(11);
  std::lognormal_distribution<double> d(std::log(1e6), 2.0);
  Histogram parts[3], all;
  for (int i = 0; i < 30000; ++i) {
    const auto v = static_cast<std::uint64_t>(d(rng));
    parts[i % 3].Record(v);
    all.Record(v);
  }
  std::vector<HistogramSnapshot> snaps;
  for (auto& p : parts) snaps.push_back(p.Snapshot(kNanosPerSecond));
  const HistogramSnapshot merged = MergeSnapshots(snaps, kNanosPerSecond);
  const HistogramSnapshot direct = all.Snapshot(kNanosPerSecond);
  EXPECT_EQ(merged.count, direct.count);
  EXPECT_NEAR(merged.sum, direct.sum, direct.sum * 1e-12);
  EXPECT_EQ(merged.max, direct.max);
  EXPECT_EQ(merged.p50, direct.p50);
  EXPECT_EQ(merged.p99, direct.p99);
  EXPECT_EQ(merged.p999, direct.p999);
  EXPECT_EQ(merged.buckets, direct.buckets);
  // Counts merge exactly too.
  HistogramCounts c = parts[0].Counts();
  c.Merge(parts[1].Counts());
  c.Merge(parts[2].Counts());
  EXPECT_EQ(c.buckets, all.Counts().buckets);
}

TEST(Histogram, ConcurrentRecordsAreAllCounted) {
  Histogram h;
  constexpr int kThreads = 8;
  constexpr std::uint64_t kPerThread = 100000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&h, t] {
      for (std::uint64_t i = 0; i < kPerThread; ++i) h.Record(i % 1000 + static_cast<std::uint64_t>(t));
    });
  }
  // Snapshots taken meanwhile are well-formed.
  for (int i = 0; i < 20; ++i) {
    const HistogramSnapshot s = h.Snapshot();
    EXPECT_EQ(s.buckets.back().second, s.count);
    EXPECT_LE(s.count, kThreads * kPerThread);
  }
  for (auto& t : threads) t.join();
  const HistogramSnapshot s = h.Snapshot();
  EXPECT_EQ(s.count, kThreads * kPerThread);
  std::uint64_t sum = 0;
  for (int t = 0; t < kThreads; ++t) sum += (999 * 1000 / 2 + 1000 * static_cast<std::uint64_t>(t)) * (kPerThread / 1000);
  EXPECT_EQ(s.sum, static_cast<double>(sum));
  EXPECT_EQ(s.max, 999 + kThreads - 1);
}

}  // namespace
}  // namespace shardwal
