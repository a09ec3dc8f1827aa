// SPDX-License-Identifier: Apache-2.0
// The per-second progress line of `shardwal bench` (on stderr by the CLI).
#pragma once

#include <chrono>
#include <cstdint>
#include <iosfwd>

#include "bench/ticker.h"
#include "shardwal/metrics.h"

namespace shardwal {
class Wal;
}

namespace shardwal::tools {

// One line per second until Stop() (a Ticker). With `append_latency`
// (group appends, one per call) the line carries the p99 of
// append-to-durable over the last second, from the change in
// Metrics().append_to_durable_seconds; otherwise "p99=-" (that histogram
// only sees group appends).
class ProgressReporter {
 public:
  using Clock = std::chrono::steady_clock;

  ProgressReporter(const Wal& wal, std::ostream& out, Clock::time_point start, bool append_latency);

  void Stop() { ticker_.Stop(); }

 private:
  bool Tick(Clock::time_point now);

  const Wal& wal_;
  std::ostream& out_;
  const Clock::time_point start_;
  const bool append_latency_;
  std::uint64_t prev_records_ = 0, prev_fsyncs_ = 0, prev_batches_ = 0;
  Clock::time_point prev_time_;
  HistogramSnapshot prev_latency_;
  Ticker ticker_;  // last: starts once the rest is initialised
};

}  // namespace shardwal::tools
