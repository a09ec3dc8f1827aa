// SPDX-License-Identifier: Apache-2.0
// `shardwal bench-recovery`'s report: the table and its notes, and the JSON
// object (bench/recovery_bench_engine.h).
#include "bench/recovery_bench_engine.h"

#include <cstdio>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <thread>

namespace shardwal::tools {

namespace {

double Div(double a, double b) { return b > 0 ? a / b : 0.0; }

const char* PhaseLabel(const std::string& phase) {
  if (phase == "reader_open") return "LogReader::Open";
  if (phase == "replay") return "Replay(0), all payloads";
  if (phase == "open_replay") return "Open + Replay";
  if (phase == "wal_open_close") return "Wal::Open + Close";
  if (phase == "db_open") return "DB::Open (WAL->memtable)";
  return phase.c_str();
}

}  // namespace

void PrintRecoveryBench(std::ostream& out, const RecoveryBenchResult& r) {
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "recovery from a warm page cache: %llu records, %zu-byte payloads, %u tags, "
                "median of %u runs (%u hardware threads)\n",
                static_cast<unsigned long long>(r.records), r.record_bytes, r.tags, r.repeat,
                std::thread::hardware_concurrency());
  out << buf;
  std::snprintf(buf, sizeof buf, "%-9s %6s  %-26s %9s %9s %12s %9s %9s %9s\n", "system", "shards", "phase",
                "seconds", "best s", "records/s", "MB/s", "cpu s", "scan s");
  out << buf;
  for (const RecoveryPhaseResult& p : r.results) {
    const std::string shards = p.system == "rocksdb" ? "-" : std::to_string(p.shards);
    const bool has_scan = p.phase == "reader_open" || p.phase == "wal_open_close";
    char scan[32] = "-";
    if (has_scan) std::snprintf(scan, sizeof scan, "%.3f", p.report_seconds);
    std::snprintf(buf, sizeof buf, "%-9s %6s  %-26s %9.3f %9.3f %12.0f %9.1f %9.3f %9s\n", p.system.c_str(),
                  shards.c_str(), PhaseLabel(p.phase), p.seconds, p.best_seconds, p.records_per_s, p.mb_per_s,
                  p.cpu_seconds, scan);
    out << buf;
  }
  out << "\n";
  for (const RecoveryBuildInfo& b : r.builds) {
    if (b.system == "shardwal") {
      std::snprintf(buf, sizeof buf,
                    "built  shardwal %3u shards: %.2f s, %.1f MB in %llu segments, %llu batches (%.0f records/batch)\n",
                    b.shards, b.seconds, static_cast<double>(b.bytes) / 1e6,
                    static_cast<unsigned long long>(b.segments), static_cast<unsigned long long>(b.batches),
                    Div(static_cast<double>(b.records), static_cast<double>(b.batches)));
    } else {
      std::snprintf(buf, sizeof buf,
                    "built  rocksdb %s: %.2f s, %.1f MB of WAL, no SST file (Put, sync=false, WAL on)\n",
                    r.rocksdb_version.c_str(), b.seconds, static_cast<double>(b.bytes) / 1e6);
    }
    out << buf;
  }
  out << "MB = 10^6 bytes of segment files scanned (RecoveryReport::bytes_scanned, framing included); "
         "rocksdb: bytes of its WAL files.\n"
         "scan s = RecoveryReport::seconds (scan + validate + merge + cut); cpu s = process user+sys time.\n"
         "Replay re-reads and re-verifies every record; Open + Replay adds the two per run.\n";
  if (!r.rocksdb_version.empty()) {
    out << "RocksDB's DB::Open replays its WAL AND rebuilds a memtable (a skiplist insert per record); "
           "shardwal's open scans, validates and merges without building an index.\n";
  }
  out << "dir: " << r.dir << (r.dir_kept ? "" : " (removed)") << "\n" << std::flush;
}

nlohmann::json RecoveryBenchResultToJson(const RecoveryBenchResult& r) {
  nlohmann::json j;
  j["command"] = "bench-recovery";
  j["records"] = r.records;
  j["record_bytes"] = r.record_bytes;
  j["tags"] = r.tags;
  j["writers"] = r.writers;
  j["repeat"] = r.repeat;
  j["hardware_threads"] = std::thread::hardware_concurrency();
  j["rocksdb_version"] = r.rocksdb_version;
  j["replay_checksum"] = r.replay_checksum;
  j["dir"] = r.dir;
  j["dir_kept"] = r.dir_kept;
  nlohmann::json results = nlohmann::json::array();
  for (const RecoveryPhaseResult& p : r.results) {
    nlohmann::json e;
    e["system"] = p.system;
    e["shards"] = p.shards;
    e["phase"] = p.phase;
    e["records"] = p.records;
    e["bytes"] = p.bytes;
    e["seconds"] = p.seconds;
    e["best_seconds"] = p.best_seconds;
    e["records_per_s"] = p.records_per_s;
    e["mb_per_s"] = p.mb_per_s;
    e["cpu_seconds"] = p.cpu_seconds;
    e["report_seconds"] = p.report_seconds;
    e["runs"] = p.runs;
    results.push_back(std::move(e));
  }
  j["results"] = std::move(results);
  nlohmann::json builds = nlohmann::json::array();
  for (const RecoveryBuildInfo& b : r.builds) {
    builds.push_back({{"system", b.system},
                      {"shards", b.shards},
                      {"records", b.records},
                      {"seconds", b.seconds},
                      {"bytes", b.bytes},
                      {"batches", b.batches},
                      {"segments", b.segments}});
  }
  j["builds"] = std::move(builds);
  return j;
}

}  // namespace shardwal::tools
