// SPDX-License-Identifier: Apache-2.0
// `shardwal demo`'s ingestion engine: W writer threads append time-series
// points (tools/demo_verify.h) to an open WAL, one Append per point with the
// WAL's default durability (the demo opens it with kGroup, so each Append
// returns once the point is durable).
//
// Each writer owns the tags i, i + W, i + 2W, ... and cycles through them,
// appending seq 0, 1, 2, ... of each, so every tag has exactly one writer and
// its points are appended (and, with tag routing, logged) in seq order.
// Used in-process by step 1 and by the crash child of step 2, which also
// reports every acknowledged point on a pipe.
#pragma once

#include <atomic>
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>

#include "shardwal/metrics.h"
#include "shardwal/options.h"
#include "shardwal/status.h"
#include "shardwal/types.h"

namespace shardwal {
class Wal;
}

namespace shardwal::tools::demo {

struct IngestConfig {
  Wal* wal = nullptr;
  std::uint32_t writers = 64;
  std::uint32_t tags = 10000;  // must be >= writers (each tag has one writer)
  double seconds = 10;         // <= 0: until *stop (the crash child: until SIGKILL)
  // Ends the run early when it becomes true (SIGINT); may be null.
  const std::atomic<bool>* stop = nullptr;
  // >= 0: each writer reports its acknowledged points here as AckedPoint
  // entries, in write(2)s of at most PIPE_BUF bytes (atomic on a pipe), at
  // the latest ~10 ms after the Append returned.
  int ack_fd = -1;
  // One progress line per second from Wal::Metrics(); null: none. With
  // progress_tty the line is rewritten in place (\r) instead.
  std::ostream* progress = nullptr;
  bool progress_tty = false;
};

struct IngestResult {
  std::uint64_t points = 0;  // Appends that returned OK
  std::uint64_t payload_bytes = 0;  // their payloads (line protocol text), summed
  double seconds = 0;        // from the start signal until the last writer stopped
  bool interrupted = false;  // *stop ended it
};

// Runs the writers on config.wal (which stays open). Fails with the first
// Append error (every writer is stopped first), or with the error of a
// write to ack_fd.
Result<IngestResult> RunIngest(const IngestConfig& config);

// The q-quantile (0..1) of the values recorded between two snapshots of the
// same histogram (`before` taken first), from the difference of their
// cumulative buckets, interpolated within the bucket; 0 when none were.
double WindowQuantile(const HistogramSnapshot& before, const HistogramSnapshot& after, double q);

// The WAL options every demo WAL uses (step 1, the crash child, and the
// recovery of what the child left): library defaults (group durability, tag
// routing, the default shard count), and the WAL's log - warnings and errors
// only - on stderr, so stdout carries only the demo's report.
Options DemoWalOptions(const std::string& dir);

// "420 us", "1.8 ms", "42 ms", "2.10 s".
std::string FormatSeconds(double seconds);

}  // namespace shardwal::tools::demo
