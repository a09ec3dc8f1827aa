// SPDX-License-Identifier: Apache-2.0
// `shardwal bench`'s report: the summary a person reads and the JSON object
// scripts parse (bench/bench_engine.h).
#include "bench/bench_engine.h"
#include "bench/text_format.h"

#include <cstdio>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>

namespace shardwal::tools {

void PrintBenchSummary(std::ostream& out, const BenchResult& r) {
  auto line = [&](const char* name, const char* fmt, auto... args) { PrintField(out, name, fmt, args...); };
  using ull = unsigned long long;
  if (r.interrupted) out << "interrupted: results cover the run up to the signal\n";
  line("records:", "%llu", static_cast<ull>(r.records));
  line("seconds:", "%.3f (writers; close took %.3f s more)", r.seconds, r.close_seconds);
  line("records/s:", "%.0f", r.records_per_s);
  line("MB/s:", "%.2f (payload, 10^6 bytes)", r.mb_per_s);
  line("batches:", "%llu", static_cast<ull>(r.batches));
  line("writes:", "%llu", static_cast<ull>(r.writes));
  line("records/fsync:", "%.1f", r.records_per_fsync);
  line("fsyncs:", "%llu", static_cast<ull>(r.fsyncs));
  line("fsyncs/s:", "%.1f", r.fsyncs_per_s);
  line("avg batch records:", "%.1f", r.avg_batch_records);
  line("fsync avg us:", "%.1f (time in fdatasync / fsyncs)", r.fsync_avg_us);
  const std::string sampled =
      r.latency_sampled_every > 1 ? ", 1 in " + std::to_string(r.latency_sampled_every) + " calls timed" : "";
  line("latency us:", "p50=%.1f p99=%.1f p999=%.1f max=%.1f mean=%.1f (%s%s)", r.p50_us, r.p99_us, r.p999_us,
       r.max_us, r.mean_us, r.latency.c_str(), sampled.c_str());
  line("durable_lsn:", "%llu (last_lsn %llu)", static_cast<ull>(r.durable_lsn), static_cast<ull>(r.last_lsn));
  line("shards:", "%u", r.shards);
  line("writers:", "%u", r.writers);
  if (r.payload == PayloadKind::kTimeSeries) {
    line("payload:", "timeseries (TSBS cpu-only points as line protocol, %.0f bytes each on average)",
         r.records > 0 ? static_cast<double>(r.appended_payload_bytes) / static_cast<double>(r.records) : 0.0);
  } else {
    line("record bytes:", "%zu (payload)", r.record_bytes);
  }
  if (r.compression == Compression::kNone) {
    line("compression:", "none");
  } else {
    line("compression:", "%s (level %d)", std::string(CompressionName(r.compression)).c_str(), r.compression_level);
  }
  if (r.throttle_mbps > 0) line("throttle:", "%.0f MB/s (writes through ThrottledFileSystem)", r.throttle_mbps);
  PrintWriteVolume(out, r.volume);
  line("durability:", "%s", std::string(DurabilityName(r.durability)).c_str());
  if (r.rate > 0) line("rate:", "%.0f records/s asked (paced)", r.rate);
  if (r.wait_every > 1) line("wait every:", "%u (async appends, then one WaitDurable)", r.wait_every);
  if (r.routing == Routing::kTag) {
    line("routing:", "tag (%u tags)", r.tags);
  } else {
    line("routing:", "%s", std::string(RoutingName(r.routing)).c_str());
  }
  line("preallocation:", "%s", std::string(PreallocationName(r.preallocation)).c_str());
  line("recycle:", "%u (segments per shard)", r.recycle);
  line("segment bytes:", "%llu", static_cast<ull>(r.segment_bytes));
  line("segments started:", "%llu (rotation waits %llu, zero fills skipped %llu)",
       static_cast<ull>(r.segments_started), static_cast<ull>(r.rotation_waits),
       static_cast<ull>(r.zero_fills_skipped));
  line("segment files:", "%llu (recycled pool %llu, wal bytes %llu)", static_cast<ull>(r.segment_files),
       static_cast<ull>(r.recycled_pool), static_cast<ull>(r.wal_bytes));
  if (r.checkpoint_every != 0) {
    line("checkpoints:", "%llu (every %llu bytes; checkpoint_lsn %llu)", static_cast<ull>(r.checkpoints),
         static_cast<ull>(r.checkpoint_every), static_cast<ull>(r.checkpoint_lsn));
  } else {
    line("checkpoints:", "none (checkpoint_lsn %llu)", static_cast<ull>(r.checkpoint_lsn));
  }
  line("dir:", "%s%s", r.dir.c_str(), r.dir_kept ? "" : " (removed)");
  if (!r.http_url.empty()) line("http:", "%s", r.http_url.c_str());
  if (r.ship) PrintShipSummary(out, *r.ship);
  out << std::flush;
}

// Keys other tools parse; add new ones freely, never rename these.
nlohmann::json BenchResultToJson(const BenchResult& r) {
  nlohmann::json j;
  j["records"] = r.records;
  j["seconds"] = r.seconds;
  j["records_per_s"] = r.records_per_s;
  j["mb_per_s"] = r.mb_per_s;
  j["batches"] = r.batches;
  j["writes"] = r.writes;
  j["records_per_fsync"] = r.records_per_fsync;
  j["fsyncs"] = r.fsyncs;
  j["fsyncs_per_s"] = r.fsyncs_per_s;
  j["avg_batch_records"] = r.avg_batch_records;
  j["latency"] = r.latency;
  j["latency_sampled_every"] = r.latency_sampled_every;
  j["p50_us"] = r.p50_us;
  j["p99_us"] = r.p99_us;
  j["p999_us"] = r.p999_us;
  j["max_us"] = r.max_us;
  j["mean_us"] = r.mean_us;
  j["durable_lsn"] = r.durable_lsn;
  j["last_lsn"] = r.last_lsn;
  j["shards"] = r.shards;
  j["writers"] = r.writers;
  j["record_bytes"] = r.record_bytes;
  j["payload"] = std::string(PayloadKindName(r.payload));
  j["appended_payload_bytes"] = r.appended_payload_bytes;
  j["compression"] = std::string(CompressionName(r.compression));
  j["compression_level"] = r.compression_level;
  if (r.throttle_mbps > 0) j["throttle_mbps"] = r.throttle_mbps;
  AddWriteVolumeJson(j, r.volume);
  j["durability"] = std::string(DurabilityName(r.durability));
  j["routing"] = std::string(RoutingName(r.routing));
  j["tags"] = r.tags;
  j["wait_every"] = r.wait_every;
  if (r.rate > 0) j["rate"] = r.rate;
  j["bytes_written"] = r.bytes_written;
  j["backpressure_waits"] = r.backpressure_waits;
  j["close_seconds"] = r.close_seconds;
  j["dir"] = r.dir;
  j["dir_kept"] = r.dir_kept;
  j["interrupted"] = r.interrupted;
  j["fsync_avg_us"] = r.fsync_avg_us;
  j["fsync_nanos"] = r.fsync_nanos;
  j["segments_started"] = r.segments_started;
  j["segment_files"] = r.segment_files;
  j["rotation_waits"] = r.rotation_waits;
  j["zero_fills_skipped"] = r.zero_fills_skipped;
  j["recycled_pool"] = r.recycled_pool;
  j["wal_bytes"] = r.wal_bytes;
  j["checkpoint_lsn"] = r.checkpoint_lsn;
  j["checkpoints"] = r.checkpoints;
  j["checkpoint_every"] = r.checkpoint_every;
  j["segment_bytes"] = r.segment_bytes;
  j["preallocation"] = std::string(PreallocationName(r.preallocation));
  j["recycle"] = r.recycle;
  if (!r.http_url.empty()) j["http_url"] = r.http_url;
  if (r.ship) j["ship"] = ShipResultToJson(*r.ship);
  return j;
}

}  // namespace shardwal::tools
