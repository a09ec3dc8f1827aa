// SPDX-License-Identifier: Apache-2.0
// The results of `shardwal bench --compare` (bench/compare.h): the
// side-by-side table, the JSON object and the CSV rows.
#include "bench/compare.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>

#include "bench/compare_peers.h"
#include "bench/text_format.h"

namespace shardwal::tools {

namespace {

// "each append waits", "wait every 1000 appends", "appends never wait".
std::string WaitingText(const Workload& w) {
  if (w.wait_every > 1) return "waits once every " + std::to_string(w.wait_every) + " appends";
  return w.durability == Durability::kGroup ? "each append waits" : "appends never wait";
}

const PeerResult* ShardwalResult(const CompareReport& report) {
  for (const PeerResult& r : report.results) {
    if (r.peer == Peer::kShardwal) return &r;
  }
  return nullptr;
}

// Device bytes per payload byte, per peer (bench/write_volume.h).
void PrintCompareVolume(std::ostream& out, const CompareReport& report) {
  out << "write amplification (device bytes / payload bytes over each peer's run, from open to close):\n";
  for (const PeerResult& r : report.results) {
    const WriteVolume& v = r.volume;
    if (!v.measured || v.payload_bytes == 0) {
      out << "  " << PeerName(r.peer) << ": not measured\n";
      continue;
    }
    const double p = static_cast<double>(v.payload_bytes);
    out << "  " << PeerName(r.peer) << ": " << Fixed(v.write_amplification, 3) << " (" << Grouped(v.device_bytes)
        << " bytes for " << Grouped(v.payload_bytes) << "; framing " << Fixed(static_cast<double>(v.framing_bytes) / p, 3)
        << ", preparation " << Fixed(static_cast<double>(v.preparation_bytes) / p, 3) << ", other "
        << Fixed(static_cast<double>(v.other_bytes) / p, 3) << " per payload byte)\n";
  }
}

}  // namespace

void PrintCompareTable(std::ostream& out, const CompareReport& report) {
  const Workload& w = report.workload;
  out << "workload: " << w.writers << " writers, "
      << (w.payload == PayloadKind::kTimeSeries ? std::string("time-series points")
                                                : std::to_string(w.record_bytes) + "-byte records")
      << ", durability "
      << DurabilityName(w.durability) << ", " << WaitingText(w) << ", " << Fixed(w.seconds, 1)
      << " s per peer, tag routing over " << w.tags << " tags";
  if (w.payload == PayloadKind::kTimeSeries) out << ", time-series points (TSBS cpu-only, " << w.tags << " hosts)";
  if (w.compression != Compression::kNone) {
    out << ", compression " << CompressionName(w.compression) << " (level " << w.compression_level << ")";
  }
  out << '\n';
  const std::optional<DeviceProbeResult>& probe = report.probe;
  if (probe) {
    out << "device probe (" << probe->dir << ", " << Fixed(probe->seconds, 1) << " s): 4 KiB pwrite + fdatasync "
        << Grouped(probe->fdatasyncs_per_s) << "/s, p50 " << Micros(probe->fdatasync_p50_us) << ", p99 "
        << Micros(probe->fdatasync_p99_us) << "; " << (probe->synced_write_bytes >> 20) << " MiB writes + fdatasync "
        << Fixed(probe->synced_seq_mb_per_s, 0) << " MB/s\n";
  } else {
    out << "device probe: not run\n";
  }
  out << '\n';

  const PeerResult* base = ShardwalResult(report);
  std::size_t label_width = 4;
  for (const PeerResult& r : report.results) label_width = std::max(label_width, r.label.size());
  char line[512];
  const int lw = static_cast<int>(label_width);
  std::snprintf(line, sizeof line, "%-*s %12s %12s %9s %9s %9s %10s %10s %13s", lw, "peer", "records/s",
                "shardwal is", "MB/s", "p50", "p99", "p99/probe", "fsyncs/s", "records/fsync");
  out << line << '\n';
  for (const PeerResult& r : report.results) {
    const std::string ratio = base != nullptr && r.records_per_s > 0 ? Ratio(base->records_per_s / r.records_per_s) : "-";
    const std::string vs_probe =
        probe && probe->fdatasync_p50_us > 0 ? Ratio(r.p99_us / probe->fdatasync_p50_us) : std::string("-");
    std::snprintf(line, sizeof line, "%-*s %12s %12s %9s %9s %9s %10s %10s %13s", lw, r.label.c_str(),
                  Grouped(r.records_per_s).c_str(), ratio.c_str(), Fixed(r.mb_per_s, 2).c_str(),
                  Micros(r.p50_us).c_str(), Micros(r.p99_us).c_str(), vs_probe.c_str(),
                  Grouped(r.fsyncs_per_s).c_str(),
                  r.fsyncs != 0 ? Fixed(r.records_per_fsync, r.records_per_fsync < 10 ? 2 : 0).c_str() : "-");
    out << line << '\n';
  }
  out << '\n';
  if (base != nullptr) {
    std::string sentence;
    for (const PeerResult& r : report.results) {
      if (r.peer == Peer::kShardwal || !(r.records_per_s > 0)) continue;
      if (!sentence.empty()) sentence += ", ";
      sentence += Ratio(base->records_per_s / r.records_per_s) + " " + std::string(PeerName(r.peer));
    }
    if (!sentence.empty()) out << "records/s: shardwal is " << sentence << " (below 1x: that peer is faster)\n";
  }
  out << "latency: " << (report.results.empty() ? LatencyKind(w) : report.results.front().latency)
      << (w.wait_every > 1 ? " (per wait: " + std::to_string(w.wait_every) + " appends + the wait)"
          : w.durability == Durability::kGroup ? " (per append: call until durable)"
                                               : " (per append call; not durable on return)");
  if (probe) out << "; p99/probe: p99 over the probe's median 4 KiB fdatasync";
  out << '\n';
  PrintCompareVolume(out, report);
  out << "notes:\n";
  for (const PeerResult& r : report.results) out << "  " << PeerName(r.peer) << ": " << r.note << '\n';
  for (const std::string& s : report.skipped) out << "  skipped " << s << '\n';
  out << std::flush;
}

nlohmann::json DeviceProbeToJson(const DeviceProbeResult& p) {
  return {{"dir", p.dir},
          {"fdatasyncs_per_s", p.fdatasyncs_per_s},
          {"fdatasync_p50_us", p.fdatasync_p50_us},
          {"fdatasync_p99_us", p.fdatasync_p99_us},
          {"synced_seq_mb_per_s", p.synced_seq_mb_per_s},
          {"synced_write_bytes", p.synced_write_bytes},
          {"seconds", p.seconds}};
}

nlohmann::json CompareReportToJson(const CompareReport& report) {
  nlohmann::json j;
  const Workload& w = report.workload;
  j["workload"] = {{"writers", w.writers},
                   {"record_bytes", w.record_bytes},
                   {"durability", std::string(DurabilityName(w.durability))},
                   {"wait_every", w.wait_every},
                   {"seconds", w.seconds},
                   {"shards", w.shards},
                   {"tags", w.tags},
                   {"payload", std::string(PayloadKindName(w.payload))},
                   {"compression", std::string(CompressionName(w.compression))},
                   {"compression_level", w.compression_level}};
  if (report.probe) {
    j["probe"] = DeviceProbeToJson(*report.probe);
  } else {
    j["probe"] = nullptr;
  }
  const PeerResult* base = ShardwalResult(report);
  nlohmann::json results = nlohmann::json::array();
  for (const PeerResult& r : report.results) {
    nlohmann::json x = {{"peer", std::string(PeerName(r.peer))},
                        {"label", r.label},
                        {"records", r.records},
                        {"seconds", r.seconds},
                        {"records_per_s", r.records_per_s},
                        {"mb_per_s", r.mb_per_s},
                        {"fsyncs", r.fsyncs},
                        {"fsyncs_per_s", r.fsyncs_per_s},
                        {"records_per_fsync", r.records_per_fsync},
                        {"p50_us", r.p50_us},
                        {"p99_us", r.p99_us},
                        {"p999_us", r.p999_us},
                        {"latency", r.latency},
                        {"shards", r.shards},
                        {"note", r.note}};
    AddWriteVolumeJson(x, r.volume);
    // shardwal's records/s over this peer's (1 for shardwal; null without a shardwal row).
    x["shardwal_speedup"] = base != nullptr && r.records_per_s > 0 ? nlohmann::json(base->records_per_s / r.records_per_s)
                                                                   : nlohmann::json(nullptr);
    x["p99_vs_probe_p50"] = report.probe && report.probe->fdatasync_p50_us > 0
                                ? nlohmann::json(r.p99_us / report.probe->fdatasync_p50_us)
                                : nlohmann::json(nullptr);
    results.push_back(std::move(x));
  }
  j["results"] = std::move(results);
  j["skipped"] = report.skipped;
  return j;
}

void WriteCompareCsv(std::ostream& out, const CompareReport& report) {
  const Workload& w = report.workload;
  const PeerResult* base = ShardwalResult(report);
  const std::streamsize precision = out.precision(10);  // full figures, not 2.08959e+06
  out << "peer,label,shards,writers,record_bytes,durability,wait_every,seconds,records,records_per_s,mb_per_s,"
         "p50_us,p99_us,p999_us,latency,fsyncs,fsyncs_per_s,records_per_fsync,shardwal_speedup,"
         "probe_fdatasyncs_per_s,probe_fdatasync_p50_us,probe_fdatasync_p99_us,probe_synced_seq_mb_per_s,"
         "payload_bytes,device_bytes,write_amplification\n";
  for (const PeerResult& r : report.results) {
    out << PeerName(r.peer) << ',' << CsvField(r.label) << ',' << r.shards << ',' << w.writers << ','
        << w.record_bytes << ',' << DurabilityName(w.durability) << ',' << w.wait_every << ',' << r.seconds << ','
        << r.records << ',' << r.records_per_s << ',' << r.mb_per_s << ',' << r.p50_us << ',' << r.p99_us << ','
        << r.p999_us << ',' << r.latency << ',' << r.fsyncs << ',' << r.fsyncs_per_s << ',' << r.records_per_fsync
        << ',';
    if (base != nullptr && r.records_per_s > 0) out << base->records_per_s / r.records_per_s;
    out << ',';
    if (report.probe) {
      out << report.probe->fdatasyncs_per_s << ',' << report.probe->fdatasync_p50_us << ','
          << report.probe->fdatasync_p99_us << ',' << report.probe->synced_seq_mb_per_s;
    } else {
      out << ",,,";
    }
    out << ',';
    if (r.volume.measured) {
      out << r.volume.payload_bytes << ',' << r.volume.device_bytes << ',' << r.volume.write_amplification;
    } else {
      out << ",,";
    }
    out << '\n';
  }
  out.precision(precision);
  out << std::flush;
}

}  // namespace shardwal::tools
