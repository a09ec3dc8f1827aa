// SPDX-License-Identifier: Apache-2.0
// Histogram: a lock-free log-linear histogram of non-negative integers
// (nanoseconds, records, bytes), for the metrics the hot path records.
//
// Buckets. 0 has a bucket of its own, so do 1, 2, 3 and 4; above that each
// power of two is split into 4 equal sub-buckets. A bucket holds the values
// in (lower, upper] with upper one of
//
//   0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20, 24, 28, 32, 40, ...
//
// so every power of two (and 1.5 times one) is a bucket edge, a bucket is at
// most 25% of its lower edge wide, and a percentile read from the buckets is
// within that of the true value (usually much closer: it is interpolated
// inside its bucket and never above the largest value recorded). 253 buckets
// cover the whole uint64 range.
//
// Record() is two or three relaxed atomic read-modify-writes on counters the
// histogram owns (bucket, sum, and max only when it grows): no lock, no
// allocation, safe from any number of threads. Counts() and Snapshot() read
// the counters without stopping the writers, so a snapshot taken while
// values are recorded may be a few values behind in one field or another
// (count is always the sum of the buckets).
#pragma once

#include <array>
#include <atomic>
#include <bit>
#include <cstdint>
#include <vector>

#include "shardwal/metrics.h"

namespace shardwal {

// A histogram's plain (non-atomic) state: what Histogram::Counts() reads and
// what is merged across shards before it becomes a HistogramSnapshot.
struct HistogramCounts {
  static constexpr std::size_t kBuckets = 253;

  std::array<std::uint64_t, kBuckets> buckets{};
  std::uint64_t sum = 0;
  std::uint64_t max = 0;

  std::uint64_t count() const;
  // Adds `other` (the totals over shards).
  void Merge(const HistogramCounts& other);

  // The bucket that holds `value`.
  static std::size_t BucketOf(std::uint64_t value) {
    if (value <= 4) return static_cast<std::size_t>(value);
    const std::uint64_t u = value - 1;  // >= 4: buckets hold (lower, upper]
    const int e = std::bit_width(u) - 1;  // >= 2
    const std::uint64_t sub = (u >> (e - 2)) & 3;
    return 5 + static_cast<std::size_t>(e - 2) * 4 + static_cast<std::size_t>(sub);
  }
  // The largest value bucket `i` holds (its "le" bound).
  static std::uint64_t UpperBound(std::size_t i) {
    if (i <= 4) return i;
    const std::size_t e = (i - 5) / 4 + 2;
    const std::uint64_t sub = (i - 5) % 4;
    // (5 + sub) << (e - 2) overflows only for the very last bucket.
    if (e == 63 && sub == 3) return ~std::uint64_t{0};
    return (5 + sub) << (e - 2);
  }
  static std::uint64_t LowerBound(std::size_t i) { return i == 0 ? 0 : UpperBound(i - 1); }

  // The value at quantile q (0..1) estimated from the buckets, in recorded
  // units: interpolated inside its bucket, at most max. 0 when empty.
  double Quantile(double q) const;

  // In the unit of the metric: every value, the sum and the max are divided
  // by `divisor` (1e9: nanoseconds to seconds; 1: counts and bytes).
  HistogramSnapshot ToSnapshot(double divisor = 1) const;
  // The inverse, for a snapshot made by ToSnapshot with the same divisor
  // (its bounds are bucket edges): exact for counts and buckets, sum and max
  // rounded to whole recorded units.
  static HistogramCounts FromSnapshot(const HistogramSnapshot& s, double divisor = 1);
};

class Histogram {
 public:
  Histogram() = default;
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  void Record(std::uint64_t value) {
    buckets_[HistogramCounts::BucketOf(value)].fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(value, std::memory_order_relaxed);
    std::uint64_t seen = max_.load(std::memory_order_relaxed);
    while (value > seen && !max_.compare_exchange_weak(seen, value, std::memory_order_relaxed)) {
    }
  }

  HistogramCounts Counts() const;
  HistogramSnapshot Snapshot(double divisor = 1) const { return Counts().ToSnapshot(divisor); }

 private:
  std::array<std::atomic<std::uint64_t>, HistogramCounts::kBuckets> buckets_{};
  std::atomic<std::uint64_t> sum_{0};
  std::atomic<std::uint64_t> max_{0};
};

// Totals from parts: snapshots made with the same divisor (shards of one
// WAL, or several WALs) merged as if recorded into one histogram.
HistogramSnapshot MergeSnapshots(const std::vector<HistogramSnapshot>& parts, double divisor = 1);

// Nanoseconds to seconds, the divisor for duration histograms.
inline constexpr double kNanosPerSecond = 1e9;

}  // namespace shardwal
