// SPDX-License-Identifier: Apache-2.0
// ShipPrometheusText: a Shipper's Stats in the Prometheus text exposition
// format (0.0.4), beside the WAL's own PrometheusText (include/shardwal/metrics.h).
#include <cstdio>
#include <string>

#include "shardwal/ship.h"

namespace shardwal {

namespace {

void Metric(std::string* out, const char* name, const char* type, const char* help, const std::string& labels,
            double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", value);
  *out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" + name + "{" + labels +
          "} " + buf + "\n";
}

}  // namespace

std::string ShipPrometheusText(const ShipStats& s, const std::string& stream) {
  std::string out;
  const std::string l = "stream=\"" + stream + "\"";
  Metric(&out, "shardwal_ship_shipped_lsn", "gauge", "S: every LSN up to it is in the stream", l,
         static_cast<double>(s.shipped_lsn));
  Metric(&out, "shardwal_ship_durable_lsn", "gauge", "The local durable watermark W", l,
         static_cast<double>(s.durable_lsn));
  Metric(&out, "shardwal_ship_lag_records", "gauge", "W - S", l, static_cast<double>(s.lag_records));
  Metric(&out, "shardwal_ship_lag_bytes", "gauge", "Bytes read and not yet acknowledged", l,
         static_cast<double>(s.lag_bytes));
  Metric(&out, "shardwal_ship_lag_seconds", "gauge",
         "Since the oldest record read and not yet acknowledged was committed locally", l, s.lag_seconds);
  Metric(&out, "shardwal_ship_messages_total", "counter", "Messages published", l, static_cast<double>(s.messages));
  Metric(&out, "shardwal_ship_records_total", "counter", "Records published", l, static_cast<double>(s.records));
  Metric(&out, "shardwal_ship_bytes_total", "counter", "Record bytes published", l, static_cast<double>(s.bytes));
  Metric(&out, "shardwal_ship_reconnects_total", "counter", "Reconnections to NATS", l,
         static_cast<double>(s.reconnects));
  Metric(&out, "shardwal_ship_publish_errors_total", "counter", "Publishes (and reads) that failed and were retried",
         l, static_cast<double>(s.publish_errors));
  Metric(&out, "shardwal_ship_connected", "gauge", "1 while connected to NATS", l, s.connected ? 1 : 0);
  out += "# HELP shardwal_ship_shard_shipped_lsn The last LSN of the shard in the stream\n"
         "# TYPE shardwal_ship_shard_shipped_lsn gauge\n";
  for (const auto& sh : s.shards) {
    out += "shardwal_ship_shard_shipped_lsn{" + l + ",shard=\"" + std::to_string(sh.shard) + "\"} " +
           std::to_string(sh.shipped_lsn) + "\n";
  }
  out += "# HELP shardwal_ship_publish_latency_seconds From publish to acknowledgement\n"
         "# TYPE shardwal_ship_publish_latency_seconds histogram\n";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < s.publish_latency_ns_buckets.size(); ++i) {
    cumulative += s.publish_latency_ns_buckets[i];
    char le[32];
    std::snprintf(le, sizeof le, "%.9g", static_cast<double>(2ull << i) / 1e9);  // bucket i: [2^i, 2^(i+1)) ns
    out += "shardwal_ship_publish_latency_seconds_bucket{" + l + ",le=\"" + le + "\"} " + std::to_string(cumulative) +
           "\n";
  }
  out += "shardwal_ship_publish_latency_seconds_bucket{" + l + ",le=\"+Inf\"} " + std::to_string(cumulative) + "\n";
  out += "shardwal_ship_publish_latency_seconds_count{" + l + "} " + std::to_string(cumulative) + "\n";
  return out;
}

}  // namespace shardwal
