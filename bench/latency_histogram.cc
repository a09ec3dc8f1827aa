// SPDX-License-Identifier: Apache-2.0
#include "bench/latency_histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace shardwal::tools {

std::size_t LatencyHistogram::BucketIndex(std::uint64_t ns) noexcept {
  if (ns < kSubBuckets) return static_cast<std::size_t>(ns);
  const unsigned bit = 63u - static_cast<unsigned>(std::countl_zero(ns));  // >= kSubBucketBits
  const unsigned shift = bit - (kSubBucketBits - 1);                      // ns >> shift in [kHalf, kSubBuckets)
  const std::uint64_t sub = ns >> shift;
  return static_cast<std::size_t>(kSubBuckets + (bit - kSubBucketBits) * kHalf + (sub - kHalf));
}

std::uint64_t LatencyHistogram::BucketLowest(std::size_t index) noexcept {
  if (index < kSubBuckets) return index;
  const std::uint64_t octave = (index - kSubBuckets) / kHalf;  // 0 for [2^8, 2^9)
  const std::uint64_t sub = kHalf + (index - kSubBuckets) % kHalf;
  return sub << (octave + 1);
}

std::uint64_t LatencyHistogram::BucketHighest(std::size_t index) noexcept {
  if (index < kSubBuckets) return index;
  const std::uint64_t octave = (index - kSubBuckets) / kHalf;
  return BucketLowest(index) + (std::uint64_t{1} << (octave + 1)) - 1;
}

void LatencyHistogram::Record(std::uint64_t ns) noexcept {
  if (ns > kMaxTrackableNs) {
    ns = kMaxTrackableNs;
    ++saturated_;
  }
  ++counts_[BucketIndex(ns)];
  ++count_;
  min_ns_ = std::min(min_ns_, ns);
  max_ns_ = std::max(max_ns_, ns);
  sum_ns_ += static_cast<double>(ns);
}

void LatencyHistogram::Merge(const LatencyHistogram& other) noexcept {
  for (std::size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  saturated_ += other.saturated_;
  min_ns_ = std::min(min_ns_, other.min_ns_);
  max_ns_ = std::max(max_ns_, other.max_ns_);
  sum_ns_ += other.sum_ns_;
}

void LatencyHistogram::Reset() noexcept { *this = LatencyHistogram(); }

double LatencyHistogram::PercentileUs(double p) const {
  if (count_ == 0) return 0.0;
  p = std::clamp(p, 0.0, 100.0);
  // Rank of the value at percentile p, 1-based: at least the first value.
  const auto rank = std::max<std::uint64_t>(
      1, static_cast<std::uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count_))));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      const std::uint64_t v = std::clamp(BucketHighest(i), min_ns_, max_ns_);
      return static_cast<double>(v) / 1e3;
    }
  }
  return MaxUs();
}

}  // namespace shardwal::tools
