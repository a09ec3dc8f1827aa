// SPDX-License-Identifier: Apache-2.0
// Metrics and health: one consistent-enough snapshot of everything a WAL
// counts, taken by Wal::Metrics() without stopping or locking the hot path
// (counters and histogram buckets are relaxed atomics the appenders and flush
// threads bump; the snapshot reads them).
//
// Exposition: PrometheusText() renders a snapshot in the Prometheus text
// format (names and units per Prometheus conventions, see
// docs/observability.md); HealthJson() renders the health part as JSON.
//
// Threading: a snapshot is a plain value owned by the caller; the renderers
// are pure functions, callable from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "shardwal/export.h"
#include "shardwal/status.h"
#include "shardwal/types.h"

namespace shardwal {

// A histogram's state: log-linear buckets (each power of two split into 4),
// so percentiles are within ~19% of the true value at any scale. Values are
// in the unit the name says (seconds, records, bytes).
struct HistogramSnapshot {
  std::uint64_t count = 0;
  double sum = 0;
  double max = 0;
  double p50 = 0, p90 = 0, p99 = 0, p999 = 0;
  // (upper bound, cumulative count) for every non-empty bucket and the ones
  // between, ending with +Inf (Prometheus "le" buckets).
  std::vector<std::pair<double, std::uint64_t>> buckets;
  double mean() const { return count == 0 ? 0 : sum / static_cast<double>(count); }
};

struct ShardHealth {
  bool flush_thread_alive = false;
  double seconds_since_last_flush = -1;   // -1: never flushed since Open
  // Unix time (system clock, seconds) of the last successful flush; -1:
  // none since Open. Derived at snapshot time from the same steady-clock
  // stamp as seconds_since_last_flush (the flush path reads no extra clock).
  double last_flush_timestamp_seconds = -1;
  double buffer_utilization = 0;          // buffered bytes / max_buffered_bytes
  std::int64_t device_free_bytes = -1;    // free space on the shard directory's file system (-1: unknown)
  std::int64_t device_total_bytes = -1;
};

struct ShardMetrics {
  std::uint32_t shard = 0;
  std::string dir;
  // Counters (since Open).
  std::uint64_t appends = 0;          // records appended
  std::uint64_t append_bytes = 0;     // tag + payload bytes appended
  std::uint64_t batches = 0;
  std::uint64_t writes = 0;           // pwritev calls
  std::uint64_t write_bytes = 0;      // bytes written to segments (framing included)
  std::uint64_t fsyncs = 0;
  std::uint64_t backpressure_waits = 0;
  std::uint64_t rotations = 0;        // segments started
  std::uint64_t rotation_waits = 0;
  // Gauges.
  std::uint64_t buffered_bytes = 0;
  std::uint64_t buffered_records = 0;
  Lsn durable_frontier = kNoLsn;
  std::uint64_t segment_files = 0;
  std::uint64_t recycled_pool = 0;
  // Histograms.
  HistogramSnapshot flush_seconds;    // one flush: write (+ fdatasync)
  HistogramSnapshot fsync_seconds;    // one fdatasync
  HistogramSnapshot batch_records;    // records per flushed batch
  HistogramSnapshot batch_bytes;      // bytes per flushed batch (framing included)
  ShardHealth health;
};

// An attached LogTailer (WalStats::tailers).
struct TailerMetrics {
  std::string name;
  Lsn position = kNoLsn;             // everything of its shards up to here was delivered
  std::uint64_t retained_bytes = 0;  // checkpointed segments it held back at the last release
  bool fell_behind = false;
};

struct WalMetrics {
  // Counters, summed over shards (and the WAL-level ones).
  std::uint64_t appends = 0;
  std::uint64_t append_bytes = 0;
  std::uint64_t batches = 0;
  std::uint64_t writes = 0;
  std::uint64_t write_bytes = 0;
  std::uint64_t fsyncs = 0;
  std::uint64_t backpressure_waits = 0;
  std::uint64_t checkpoints = 0;
  // Failed calls by kind: "invalid_argument", "backpressure", "closed",
  // "io_error", ... (Status code names in snake case).
  std::map<std::string, std::uint64_t> errors;
  // Gauges.
  Lsn last_lsn = kNoLsn;
  Lsn durable_lsn = kNoLsn;           // the watermark W
  Lsn replicated_lsn = kNoLsn;        // the replicated watermark R (Durability::kReplicated; <= W)
  std::uint64_t watermark_lag = 0;    // last_lsn - durable_lsn
  Lsn checkpoint_lsn = kNoLsn;
  std::uint64_t wal_bytes = 0;
  std::uint64_t buffered_bytes = 0;
  std::uint64_t buffered_records = 0;
  // Histograms over all shards.
  HistogramSnapshot append_to_durable_seconds;  // group appends: call -> durable
  HistogramSnapshot flush_seconds;
  HistogramSnapshot fsync_seconds;
  HistogramSnapshot batch_records;
  HistogramSnapshot batch_bytes;
  std::vector<ShardMetrics> shards;
  // Attached log tailers; their families are left out while there are none.
  std::vector<TailerMetrics> tailers;
  // Health: OK, or the first error of the failed state.
  Status health;
  double uptime_seconds = 0;
  // Unix time (system clock, seconds) at which the WAL was opened, as
  // Prometheus' process_start_time_seconds: constant for the WAL's life.
  double start_time_seconds = 0;
  std::uint32_t num_shards = 0;
};

// The Prometheus text exposition format (version 0.0.4) of a snapshot:
// shardwal_appends_total, shardwal_fsync_duration_seconds (histogram), ...
// with a shard="<i>" label for per-shard series.
SHARDWAL_EXPORT std::string PrometheusText(const WalMetrics& m);

// {"status": "ok"|"failed", "error": ..., "shards": [{...health...}], ...}
SHARDWAL_EXPORT std::string HealthJson(const WalMetrics& m);

}  // namespace shardwal
