// SPDX-License-Identifier: Apache-2.0
#include "bench/bench_progress.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ostream>
#include <utility>

#include "shardwal/wal.h"

namespace shardwal::tools {

namespace {

using Clock = ProgressReporter::Clock;

double Secs(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
double Div(double a, double b) { return b > 0 ? a / b : 0.0; }

// The q-quantile (0..1) of the values a histogram recorded between two
// snapshots of it, `before` and `after`: the upper bound of the bucket that
// holds it (so at most 25% above the true value, HistogramSnapshot's
// resolution), or after.max when it lies in the +Inf bucket. -1 when nothing
// was recorded in between. Both snapshots list cumulative counts on the same
// bucket grid, from their first to their last non-empty bucket, so the
// window's cumulative count at a bound is after's minus before's, where
// before's is that of its last bucket at or below the bound (0 below its
// first one; its total above its last). (The demo's progress line
// interpolates within the bucket instead: tools/demo_ingest.h.)
double WindowQuantile(const HistogramSnapshot& before, const HistogramSnapshot& after, double q) {
  if (after.count <= before.count) return -1;
  const std::uint64_t total = after.count - before.count;
  const auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(total)));
  std::size_t j = 0;
  std::uint64_t before_cumulative = 0;
  for (const auto& [le, cumulative] : after.buckets) {
    if (std::isinf(le)) break;
    while (j < before.buckets.size() && !std::isinf(before.buckets[j].first) &&
           before.buckets[j].first <= le * (1 + 1e-12)) {
      before_cumulative = before.buckets[j].second;
      ++j;
    }
    // Snapshots are taken while values are recorded: never below zero.
    const std::uint64_t in_window = cumulative > before_cumulative ? cumulative - before_cumulative : 0;
    if (in_window >= std::max<std::uint64_t>(rank, 1)) return le;
  }
  return after.max;
}

}  // namespace

ProgressReporter::ProgressReporter(const Wal& wal, std::ostream& out, Clock::time_point start, bool append_latency)
    : wal_(wal),
      out_(out),
      start_(start),
      append_latency_(append_latency),
      prev_time_(start),
      prev_latency_(append_latency ? wal.Metrics().append_to_durable_seconds : HistogramSnapshot{}),
      ticker_(start, std::chrono::seconds(1), [this](Clock::time_point now) { return Tick(now); }) {}

bool ProgressReporter::Tick(Clock::time_point now) {
  const WalStats st = wal_.Stats();
  const Lsn durable = wal_.DurableLsn();
  char p99[32] = "-";
  if (append_latency_) {
    HistogramSnapshot latency = wal_.Metrics().append_to_durable_seconds;
    const double q = WindowQuantile(prev_latency_, latency, 0.99);
    if (q >= 0) std::snprintf(p99, sizeof p99, "%.0fus", q * 1e6);
    prev_latency_ = std::move(latency);
  }
  const double dt = Secs(now - prev_time_);
  const std::uint64_t records = st.last_lsn, fsyncs = st.total.fsyncs, batches = st.total.batches;
  char line[256];
  std::snprintf(line, sizeof line,
                "[%6.1fs] records/s=%.0f fsyncs/s=%.0f avg_batch_records=%.1f p99=%s durable_lsn=%llu\n",
                Secs(now - start_), Div(static_cast<double>(records - prev_records_), dt),
                Div(static_cast<double>(fsyncs - prev_fsyncs_), dt),
                Div(static_cast<double>(records - prev_records_), static_cast<double>(batches - prev_batches_)),
                p99, static_cast<unsigned long long>(durable));
  out_ << line << std::flush;
  prev_records_ = records;
  prev_fsyncs_ = fsyncs;
  prev_batches_ = batches;
  prev_time_ = now;
  return true;
}

}  // namespace shardwal::tools
