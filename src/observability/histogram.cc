// SPDX-License-Identifier: Apache-2.0
#include "src/observability/histogram.h"

#include <algorithm>
#include <cmath>

namespace shardwal {

namespace {
// A non-negative double rounded to the nearest uint64 (saturating).
std::uint64_t RoundToU64(double v) {
  if (!(v > 0)) return 0;
  if (v >= 18446744073709551615.0) return ~std::uint64_t{0};
  return static_cast<std::uint64_t>(std::round(v));
}
}  // namespace

std::uint64_t HistogramCounts::count() const {
  std::uint64_t n = 0;
  for (std::uint64_t b : buckets) n += b;
  return n;
}

void HistogramCounts::Merge(const HistogramCounts& other) {
  for (std::size_t i = 0; i < kBuckets; ++i) buckets[i] += other.buckets[i];
  sum += other.sum;
  max = std::max(max, other.max);
}

double HistogramCounts::Quantile(double q) const {
  const std::uint64_t n = count();
  if (n == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  // The rank-th smallest value (1-based), as the nearest-rank method picks it.
  const auto rank = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(n))));
  std::uint64_t below = 0;
  for (std::size_t i = 0; i < kBuckets; ++i) {
    if (buckets[i] == 0) continue;
    if (below + buckets[i] >= rank) {
      // The bucket holds the integers lower+1 .. upper; spread its values
      // evenly over them.
      const double first = i == 0 ? 0.0 : static_cast<double>(LowerBound(i)) + 1;
      const double last = static_cast<double>(UpperBound(i));
      const double pos = static_cast<double>(rank - below) / static_cast<double>(buckets[i]);
      const double v = first + (last - first) * pos;
      return std::min(v, static_cast<double>(max));
    }
    below += buckets[i];
  }
  return static_cast<double>(max);
}

HistogramSnapshot HistogramCounts::ToSnapshot(double divisor) const {
  HistogramSnapshot s;
  s.count = count();
  s.sum = static_cast<double>(sum) / divisor;
  s.max = static_cast<double>(max) / divisor;
  if (s.count != 0) {
    s.p50 = Quantile(0.50) / divisor;
    s.p90 = Quantile(0.90) / divisor;
    s.p99 = Quantile(0.99) / divisor;
    s.p999 = Quantile(0.999) / divisor;
    std::size_t first = 0;
    while (buckets[first] == 0) ++first;
    std::size_t last = kBuckets - 1;
    while (buckets[last] == 0) --last;
    std::uint64_t cumulative = 0;
    s.buckets.reserve(last - first + 2);
    for (std::size_t i = first; i <= last; ++i) {
      cumulative += buckets[i];
      s.buckets.emplace_back(static_cast<double>(UpperBound(i)) / divisor, cumulative);
    }
  }
  s.buckets.emplace_back(HUGE_VAL, s.count);
  return s;
}

HistogramCounts HistogramCounts::FromSnapshot(const HistogramSnapshot& s, double divisor) {
  HistogramCounts c;
  std::uint64_t previous = 0;
  for (const auto& [le, cumulative] : s.buckets) {
    if (std::isinf(le)) break;
    // le = upper / divisor with upper a bucket edge: back to the edge, whose
    // bucket is the one ending there (nudged down a little, so that rounding
    // errors of large edges cannot land in the next bucket up).
    c.buckets[BucketOf(RoundToU64(le * divisor * (1 - 1e-12)))] += cumulative - std::min(cumulative, previous);
    previous = std::max(previous, cumulative);
  }
  // Anything counted only under +Inf (not made by ToSnapshot) goes into the
  // bucket of the max.
  c.max = RoundToU64(s.max * divisor);
  if (s.count > previous) c.buckets[BucketOf(c.max)] += s.count - previous;
  c.sum = RoundToU64(s.sum * divisor);
  return c;
}

HistogramCounts Histogram::Counts() const {
  HistogramCounts c;
  for (std::size_t i = 0; i < HistogramCounts::kBuckets; ++i) c.buckets[i] = buckets_[i].load(std::memory_order_relaxed);
  c.sum = sum_.load(std::memory_order_relaxed);
  c.max = max_.load(std::memory_order_relaxed);
  return c;
}

HistogramSnapshot MergeSnapshots(const std::vector<HistogramSnapshot>& parts, double divisor) {
  HistogramCounts total;
  for (const auto& p : parts) total.Merge(HistogramCounts::FromSnapshot(p, divisor));
  return total.ToSnapshot(divisor);
}

}  // namespace shardwal
