// SPDX-License-Identifier: Apache-2.0
// Exposition of a WalMetrics snapshot: the Prometheus text format (0.0.4)
// and health as JSON. docs/observability.md describes every series.
#include "shardwal/metrics.h"
#include "shardwal/version.h"

#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>
#include <string_view>

namespace shardwal {

namespace {

// The "le" bounds every histogram of a family is exposed with: a fixed set
// (so series aggregate over shards and over time), each an edge of the
// internal log-linear buckets (so the cumulative counts are exact).
std::vector<double> PowersOfTwo(int from, int to, bool with_halves, double divisor) {
  std::vector<double> out;
  for (int k = from; k <= to; ++k) {
    out.push_back(static_cast<double>(std::uint64_t{1} << k) / divisor);
    if (with_halves && k < to && k >= 1) out.push_back(static_cast<double>(std::uint64_t{3} << (k - 1)) / divisor);
  }
  return out;
}
// Durations: 2^k and 1.5 * 2^k nanoseconds, ~1 us .. ~69 s.
const std::vector<double>& SecondsBounds() {
  static const std::vector<double> b = PowersOfTwo(10, 36, true, 1e9);
  return b;
}
// Records per batch: 1 .. 4Mi.
const std::vector<double>& RecordsBounds() {
  static const std::vector<double> b = PowersOfTwo(0, 22, false, 1);
  return b;
}
// Bytes per batch: 64 B .. 2 GiB.
const std::vector<double>& BytesBounds() {
  static const std::vector<double> b = PowersOfTwo(6, 31, false, 1);
  return b;
}

std::string Number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);  // shortest round-trip form
  return std::string(buf, r.ptr);
}
std::string Number(std::uint64_t v) { return std::to_string(v); }
std::string Number(std::int64_t v) { return std::to_string(v); }

// A label value with \, " and newline escaped.
std::string Escape(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string ShardLabel(std::uint32_t shard) { return "shard=\"" + std::to_string(shard) + "\""; }

class Exposition {
 public:
  void Family(std::string_view name, std::string_view type, std::string_view help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }

  template <typename T>
  void Sample(std::string_view name, const std::string& labels, T value) {
    out_ += name;
    if (!labels.empty()) {
      out_ += '{';
      out_ += labels;
      out_ += '}';
    }
    out_ += ' ';
    out_ += Number(value);
    out_ += '\n';
  }

  // A family with one sample and no labels.
  template <typename T>
  void Single(std::string_view name, std::string_view type, std::string_view help, T value) {
    Family(name, type, help);
    Sample(name, "", value);
  }

  // One histogram's _bucket (at `bounds`, then +Inf), _sum and _count.
  void Histogram(std::string_view name, const std::string& labels, const HistogramSnapshot& h,
                 const std::vector<double>& bounds) {
    const std::string bucket = std::string(name) + "_bucket";
    const std::string sep = labels.empty() ? "" : labels + ",";
    std::size_t i = 0;                // next snapshot bucket
    std::uint64_t cumulative = 0;     // of the snapshot buckets with le <= bound
    for (double bound : bounds) {
      while (i < h.buckets.size() && !std::isinf(h.buckets[i].first) && h.buckets[i].first <= bound * (1 + 1e-12)) {
        cumulative = std::max(cumulative, h.buckets[i].second);
        ++i;
      }
      Sample(bucket, sep + "le=\"" + Number(bound) + "\"", std::min(cumulative, h.count));
    }
    Sample(bucket, sep + "le=\"+Inf\"", h.count);
    Sample(std::string(name) + "_sum", labels, h.sum);
    Sample(std::string(name) + "_count", labels, h.count);
  }

  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

// A per-shard family: HELP/TYPE, then one sample per shard.
template <typename Get>
void PerShard(Exposition& e, const WalMetrics& m, std::string_view name, std::string_view type,
              std::string_view help, Get get) {
  e.Family(name, type, help);
  for (const ShardMetrics& s : m.shards) e.Sample(name, ShardLabel(s.shard), get(s));
}

template <typename Get>
void PerShardHistogram(Exposition& e, const WalMetrics& m, std::string_view name, std::string_view help,
                       const std::vector<double>& bounds, Get get) {
  e.Family(name, "histogram", help);
  for (const ShardMetrics& s : m.shards) e.Histogram(name, ShardLabel(s.shard), get(s), bounds);
}

}  // namespace

std::string PrometheusText(const WalMetrics& m) {
  Exposition e;
  const std::string none;

  // ---- WAL-level gauges ----
  e.Family("shardwal_build_info", "gauge", "Always 1; the version label is the linked library's (shardwal::Version()).");
  e.Sample("shardwal_build_info", "version=\"" + Escape(Version()) + "\"", std::uint64_t{1});
  e.Single("shardwal_up", "gauge",
           "1 while the WAL is healthy, 0 once it is in its failed state.", std::uint64_t{m.health.ok() ? 1u : 0u});
  e.Single("shardwal_start_time_seconds", "gauge",
           "Unix time (seconds) at which the WAL was opened; time() - this is the uptime.", m.start_time_seconds);
  e.Single("shardwal_shards", "gauge", "Number of shard logs.", std::uint64_t{m.num_shards});
  e.Single("shardwal_last_lsn", "gauge", "The last LSN assigned.", m.last_lsn);
  e.Single("shardwal_durable_lsn", "gauge",
           "The durable watermark W: every LSN <= W is on stable storage.", m.durable_lsn);
  e.Single("shardwal_replicated_lsn", "gauge",
           "The replicated watermark R: every LSN <= R is durable here and acknowledged by the replica "
           "(0 while no replicator reported).",
           m.replicated_lsn);
  e.Single("shardwal_watermark_lag", "gauge",
           "LSNs assigned but not yet durable (last_lsn - durable_lsn).", m.watermark_lag);
  e.Single("shardwal_checkpoint_lsn", "gauge", "LSN of the last checkpoint (0: none).", m.checkpoint_lsn);
  e.Single("shardwal_wal_bytes", "gauge",
           "Bytes of all segment files, recycled ones included (against max_wal_bytes).", m.wal_bytes);

  // ---- WAL-level counters ----
  e.Single("shardwal_checkpoints_total", "counter", "Checkpoint calls that succeeded.", m.checkpoints);
  e.Family("shardwal_errors_total", "counter",
           "Failed Append, TryAppend, AppendBatch, WaitDurable and Checkpoint calls, by error kind.");
  for (const auto& [kind, n] : m.errors) e.Sample("shardwal_errors_total", "kind=\"" + Escape(kind) + "\"", n);

  // ---- per-shard counters ----
  PerShard(e, m, "shardwal_appends_total", "counter", "Records appended.", [](const ShardMetrics& s) { return s.appends; });
  PerShard(e, m, "shardwal_append_bytes_total", "counter", "Tag and payload bytes appended.",
           [](const ShardMetrics& s) { return s.append_bytes; });
  PerShard(e, m, "shardwal_batches_total", "counter", "Batches written.", [](const ShardMetrics& s) { return s.batches; });
  PerShard(e, m, "shardwal_writes_total", "counter", "pwritev calls (one per flush).",
           [](const ShardMetrics& s) { return s.writes; });
  PerShard(e, m, "shardwal_write_bytes_total", "counter", "Bytes written to segment files, framing included.",
           [](const ShardMetrics& s) { return s.write_bytes; });
  PerShard(e, m, "shardwal_fsyncs_total", "counter", "fdatasync calls completed.",
           [](const ShardMetrics& s) { return s.fsyncs; });
  PerShard(e, m, "shardwal_backpressure_waits_total", "counter", "Appends that waited for buffer room.",
           [](const ShardMetrics& s) { return s.backpressure_waits; });
  PerShard(e, m, "shardwal_rotations_total", "counter", "Segments started.", [](const ShardMetrics& s) { return s.rotations; });
  PerShard(e, m, "shardwal_rotation_waits_total", "counter",
           "Rotations that found the next segment not yet prepared.",
           [](const ShardMetrics& s) { return s.rotation_waits; });

  // ---- per-shard gauges ----
  e.Family("shardwal_shard_info", "gauge", "Always 1: the directory of each shard.");
  for (const ShardMetrics& s : m.shards) {
    e.Sample("shardwal_shard_info", ShardLabel(s.shard) + ",dir=\"" + Escape(s.dir) + "\"", std::uint64_t{1});
  }
  PerShard(e, m, "shardwal_buffered_bytes", "gauge", "Bytes buffered, not yet written.",
           [](const ShardMetrics& s) { return s.buffered_bytes; });
  PerShard(e, m, "shardwal_buffered_records", "gauge", "Records buffered, not yet written.",
           [](const ShardMetrics& s) { return s.buffered_records; });
  PerShard(e, m, "shardwal_buffer_utilization_ratio", "gauge",
           "Buffered bytes / max_buffered_bytes, 0..1 (1: appends wait).",
           [](const ShardMetrics& s) { return s.health.buffer_utilization; });
  PerShard(e, m, "shardwal_durable_frontier", "gauge",
           "The shard's durable frontier F(s): every LSN <= F(s) of this shard is durable; the watermark is their minimum.",
           [](const ShardMetrics& s) { return s.durable_frontier; });
  PerShard(e, m, "shardwal_segment_files", "gauge", "Segment files held.",
           [](const ShardMetrics& s) { return s.segment_files; });
  PerShard(e, m, "shardwal_recycled_segments", "gauge", "Released segments waiting to be reused.",
           [](const ShardMetrics& s) { return s.recycled_pool; });
  PerShard(e, m, "shardwal_flush_thread_alive", "gauge", "1 while the shard's flush thread runs.",
           [](const ShardMetrics& s) { return std::uint64_t{s.health.flush_thread_alive ? 1u : 0u}; });
  e.Family("shardwal_last_flush_timestamp_seconds", "gauge",
           "Unix time (seconds) of the shard's last successful flush (absent before the first).");
  for (const ShardMetrics& s : m.shards) {
    if (s.health.last_flush_timestamp_seconds >= 0) {
      e.Sample("shardwal_last_flush_timestamp_seconds", ShardLabel(s.shard), s.health.last_flush_timestamp_seconds);
    }
  }
  e.Family("shardwal_device_free_bytes", "gauge",
           "Bytes still available to the WAL on the file system of the shard's directory.");
  for (const ShardMetrics& s : m.shards) {
    if (s.health.device_free_bytes >= 0) e.Sample("shardwal_device_free_bytes", ShardLabel(s.shard), s.health.device_free_bytes);
  }
  e.Family("shardwal_device_total_bytes", "gauge", "Size of the file system of the shard's directory.");
  for (const ShardMetrics& s : m.shards) {
    if (s.health.device_total_bytes >= 0) {
      e.Sample("shardwal_device_total_bytes", ShardLabel(s.shard), s.health.device_total_bytes);
    }
  }

  // ---- attached log tailers (none: no families) ----
  if (!m.tailers.empty()) {
    const auto label = [](const TailerMetrics& t) { return "tailer=\"" + Escape(t.name) + "\""; };
    e.Family("shardwal_tailer_position", "gauge",
             "Attached LogTailer: every record of its shards up to this LSN was delivered.");
    for (const auto& t : m.tailers) e.Sample("shardwal_tailer_position", label(t), t.position);
    e.Family("shardwal_tailer_retained_bytes", "gauge",
             "Attached LogTailer: checkpointed segment bytes it held back at the last release.");
    for (const auto& t : m.tailers) e.Sample("shardwal_tailer_retained_bytes", label(t), t.retained_bytes);
    e.Family("shardwal_tailer_fell_behind", "gauge", "Attached LogTailer: 1 once a checkpoint released past it.");
    for (const auto& t : m.tailers) {
      e.Sample("shardwal_tailer_fell_behind", label(t), std::uint64_t{t.fell_behind ? 1u : 0u});
    }
  }

  // ---- histograms ----
  e.Family("shardwal_append_to_durable_seconds", "histogram",
           "Blocking group-commit appends (Append, AppendBatch): from the call to the record being durable.");
  e.Histogram("shardwal_append_to_durable_seconds", none, m.append_to_durable_seconds, SecondsBounds());
  PerShardHistogram(e, m, "shardwal_flush_duration_seconds", "One flush: the write of a batch and its fdatasync.",
                    SecondsBounds(), [](const ShardMetrics& s) -> const HistogramSnapshot& { return s.flush_seconds; });
  PerShardHistogram(e, m, "shardwal_fsync_duration_seconds", "One fdatasync of a segment file.", SecondsBounds(),
                    [](const ShardMetrics& s) -> const HistogramSnapshot& { return s.fsync_seconds; });
  PerShardHistogram(e, m, "shardwal_batch_records", "Records per flushed batch.", RecordsBounds(),
                    [](const ShardMetrics& s) -> const HistogramSnapshot& { return s.batch_records; });
  PerShardHistogram(e, m, "shardwal_batch_bytes", "Bytes per flushed batch, framing included.", BytesBounds(),
                    [](const ShardMetrics& s) -> const HistogramSnapshot& { return s.batch_bytes; });
  return e.Take();
}

std::string HealthJson(const WalMetrics& m) {
  using nlohmann::json;
  json j;
  j["status"] = m.health.ok() ? "ok" : "failed";
  j["error"] = m.health.ok() ? json(nullptr) : json(m.health.ToString());
  j["uptime_seconds"] = m.uptime_seconds;
  j["start_time_seconds"] = m.start_time_seconds;
  j["num_shards"] = m.num_shards;
  j["last_lsn"] = m.last_lsn;
  j["durable_lsn"] = m.durable_lsn;
  j["replicated_lsn"] = m.replicated_lsn;
  j["watermark_lag"] = m.watermark_lag;
  j["checkpoint_lsn"] = m.checkpoint_lsn;
  json shards = json::array();
  for (const ShardMetrics& s : m.shards) {
    json o;
    o["shard"] = s.shard;
    o["dir"] = s.dir;
    o["flush_thread_alive"] = s.health.flush_thread_alive;
    o["seconds_since_last_flush"] =
        s.health.seconds_since_last_flush < 0 ? json(nullptr) : json(s.health.seconds_since_last_flush);
    o["last_flush_timestamp_seconds"] =
        s.health.last_flush_timestamp_seconds < 0 ? json(nullptr) : json(s.health.last_flush_timestamp_seconds);
    o["buffer_utilization"] = s.health.buffer_utilization;
    o["durable_frontier"] = s.durable_frontier;
    o["device_free_bytes"] = s.health.device_free_bytes < 0 ? json(nullptr) : json(s.health.device_free_bytes);
    o["device_total_bytes"] = s.health.device_total_bytes < 0 ? json(nullptr) : json(s.health.device_total_bytes);
    shards.push_back(std::move(o));
  }
  j["shards"] = std::move(shards);
  // Invalid UTF-8 in a directory name or error message must not throw.
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace shardwal
