// SPDX-License-Identifier: Apache-2.0
// LatencyHistogram: a fixed-size, log-linear (HDR-style) histogram of
// latencies in nanoseconds, for the bench command's per-writer latencies.
//
// Values below 256 ns get one bucket each; above that every power-of-two
// range [2^k, 2^(k+1)) is split into 128 equal buckets, so a reported value is
// within 1/128 (< 0.8 %, better than two significant digits) of the recorded
// one. The range is 0 ns .. 100 s; larger values are clamped to 100 s (and
// counted in saturated()). Record() never allocates and never locks: give
// each thread its own histogram and Merge() them at the end.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>

namespace shardwal::tools {

class LatencyHistogram {
 public:
  static constexpr std::uint64_t kMaxTrackableNs = 100'000'000'000ull;  // 100 s

  LatencyHistogram() = default;

  void Record(std::uint64_t ns) noexcept;
  void Record(std::chrono::nanoseconds d) noexcept {
    Record(d.count() < 0 ? 0 : static_cast<std::uint64_t>(d.count()));
  }

  // Adds every value recorded in `other`.
  void Merge(const LatencyHistogram& other) noexcept;
  void Reset() noexcept;

  std::uint64_t count() const { return count_; }
  // Values above kMaxTrackableNs (recorded as kMaxTrackableNs).
  std::uint64_t saturated() const { return saturated_; }

  // The value at percentile p (0..100) in microseconds: the highest value
  // equivalent to the bucket holding the p-th percentile rank, clamped to
  // [min, max]. 0 when empty.
  double PercentileUs(double p) const;
  double MinUs() const { return count_ == 0 ? 0.0 : static_cast<double>(min_ns_) / 1e3; }
  double MaxUs() const { return static_cast<double>(max_ns_) / 1e3; }
  double MeanUs() const { return count_ == 0 ? 0.0 : sum_ns_ / static_cast<double>(count_) / 1e3; }

  // Bucket layout, exposed for tests.
  static std::size_t BucketIndex(std::uint64_t ns) noexcept;
  static std::uint64_t BucketLowest(std::size_t index) noexcept;
  static std::uint64_t BucketHighest(std::size_t index) noexcept;

 private:
  static constexpr unsigned kSubBucketBits = 8;                         // 256 sub-buckets
  static constexpr std::uint64_t kSubBuckets = 1ull << kSubBucketBits;  // exact below this
  static constexpr std::uint64_t kHalf = kSubBuckets / 2;               // buckets per octave
  // Octaves [2^8, 2^9) ... [2^36, 2^37); 100 s < 2^37 ns.
  static constexpr unsigned kMaxBit = 36;
  static constexpr std::size_t kBuckets = kSubBuckets + (kMaxBit - kSubBucketBits + 1) * kHalf;

  std::array<std::uint64_t, kBuckets> counts_{};
  std::uint64_t count_ = 0;
  std::uint64_t saturated_ = 0;
  std::uint64_t min_ns_ = ~std::uint64_t{0};
  std::uint64_t max_ns_ = 0;
  double sum_ns_ = 0;
};

}  // namespace shardwal::tools
