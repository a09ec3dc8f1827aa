// SPDX-License-Identifier: Apache-2.0
// RunSweep (bench/sweep.h): the grid, the files and the charts.
#include "bench/sweep.h"

#include <stdio.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <ostream>
#include <sstream>
#include <tuple>

#include "bench/scratch_dir.h"
#include "bench/text_format.h"

namespace shardwal::tools {

namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

double Secs(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

std::string Quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// "1:05" / "1:02:05".
std::string Clockish(double seconds) {
  const auto s = static_cast<long long>(std::llround(std::max(0.0, seconds)));
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%lld:%02lld", s / 60, s % 60);
  }
  return buf;
}

std::string PointName(const SweepPoint& p) {
  const Workload& w = p.workload;
  std::string name(PeerName(p.peer));
  if (p.peer == Peer::kShardwal) name += " shards=" + std::to_string(w.shards);
  return name + " writers=" + std::to_string(w.writers) + " bytes=" + std::to_string(w.record_bytes) + " " +
         std::string(DurabilityName(w.durability)) + " wait_every=" + std::to_string(w.wait_every);
}

constexpr const char* kCsvHeader =
    "peer,label,shards,writers,record_bytes,durability,wait_every,seconds,records,records_per_s,mb_per_s,p50_us,"
    "p99_us,p999_us,latency,fsyncs,fsyncs_per_s,records_per_fsync,probe_fdatasyncs_per_s,probe_fdatasync_p50_us,"
    "probe_fdatasync_p99_us,probe_synced_seq_mb_per_s,error,payload_bytes,device_bytes,write_amplification\n";

void WriteCsvRow(std::ostream& out, const SweepPoint& p, const std::optional<DeviceProbeResult>& probe) {
  const Workload& w = p.workload;
  const PeerResult* r = p.result ? &*p.result : nullptr;
  const std::uint32_t shards = r != nullptr ? r->shards : p.peer == Peer::kSingleLog ? 1 : w.shards;
  out << PeerName(p.peer) << ',' << CsvField(r != nullptr ? r->label : std::string()) << ',' << shards << ','
      << w.writers << ',' << w.record_bytes << ',' << DurabilityName(w.durability) << ',' << w.wait_every << ',';
  if (r != nullptr) {
    out << r->seconds << ',' << r->records << ',' << r->records_per_s << ',' << r->mb_per_s << ',' << r->p50_us << ','
        << r->p99_us << ',' << r->p999_us << ',' << r->latency << ',' << r->fsyncs << ',' << r->fsyncs_per_s << ','
        << r->records_per_fsync << ',';
  } else {
    out << ",,,,,,,,,,,";
  }
  if (probe) {
    out << probe->fdatasyncs_per_s << ',' << probe->fdatasync_p50_us << ',' << probe->fdatasync_p99_us << ','
        << probe->synced_seq_mb_per_s << ',';
  } else {
    out << ",,,,";
  }
  out << CsvField(p.error) << ',';
  if (r != nullptr && r->volume.measured) {
    out << r->volume.payload_bytes << ',' << r->volume.device_bytes << ',' << r->volume.write_amplification;
  } else {
    out << ",,";
  }
  out << '\n';
}

nlohmann::json PointJson(const SweepPoint& p) {
  const Workload& w = p.workload;
  nlohmann::json j = {{"peer", std::string(PeerName(p.peer))},
                      {"writers", w.writers},
                      {"record_bytes", w.record_bytes},
                      {"durability", std::string(DurabilityName(w.durability))},
                      {"wait_every", w.wait_every},
                      {"error", p.error}};
  if (const PeerResult* r = p.result ? &*p.result : nullptr) {
    j["label"] = r->label;
    j["shards"] = r->shards;
    j["seconds"] = r->seconds;
    j["records"] = r->records;
    j["records_per_s"] = r->records_per_s;
    j["mb_per_s"] = r->mb_per_s;
    j["p50_us"] = r->p50_us;
    j["p99_us"] = r->p99_us;
    j["p999_us"] = r->p999_us;
    j["latency"] = r->latency;
    j["fsyncs"] = r->fsyncs;
    j["fsyncs_per_s"] = r->fsyncs_per_s;
    j["records_per_fsync"] = r->records_per_fsync;
    AddWriteVolumeJson(j, r->volume);
  } else {
    j["shards"] = p.peer == Peer::kSingleLog ? 1 : w.shards;
  }
  return j;
}

// ---- charts -------------------------------------------------------------------------------

// Runs `command` (through the shell), its stdout and stderr captured.
// Returns the exit status (-1: could not run it).
int RunCaptured(const std::string& command, std::string* output) {
  FILE* f = ::popen((command + " 2>&1").c_str(), "r");
  if (f == nullptr) return -1;
  char buf[512];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) output->append(buf, n);
  const int st = ::pclose(f);
  return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

struct Chart {
  std::string base;    // file name without extension
  std::string title;
  std::string ylabel;
  // series title -> (writers, value), writers ascending.
  std::vector<std::pair<std::string, std::vector<std::pair<std::uint32_t, double>>>> series;
};

std::string ChartScript(const Chart& c, const std::string& png_terminal) {
  std::ostringstream gp;
  gp.precision(10);
  gp << "# Written by `shardwal bench --sweep`; re-render with: gnuplot " << c.base << ".gp\n"
     << "# (in this directory). One data block per line of the chart: writers, value.\n";
  for (std::size_t i = 0; i < c.series.size(); ++i) {
    gp << "$d" << i << " << EOD\n";
    for (const auto& [x, y] : c.series[i].second) gp << x << ' ' << y << '\n';
    gp << "EOD\n";
  }
  gp << "set title \"" << c.title << "\" noenhanced\n"
     << "set xlabel \"writers\"\nset ylabel \"" << c.ylabel << "\"\n"
     << "set logscale x 2\nset logscale y 10\nset grid\nset key outside right top noenhanced\n"
     << "set style data linespoints\n";
  std::string plot = "plot ";
  for (std::size_t i = 0; i < c.series.size(); ++i) {
    if (i != 0) plot += ", ";
    plot += "$d" + std::to_string(i) + " using 1:2 title \"" + c.series[i].first + "\" lw 2 pt 7";
  }
  gp << "set terminal " << png_terminal << " size 1100,650\nset output \"" << c.base << ".png\"\n" << plot << '\n'
     << "set terminal svg size 1100,650 dynamic\nset output \"" << c.base << ".svg\"\n" << plot << '\n'
     << "unset output\n";
  return gp.str();
}

// Writes the .gp scripts and renders them. Returns why there are no (or
// not all) charts, empty when every chart rendered.
std::string WriteCharts(const SweepConfig& config, const std::vector<SweepPoint>& points,
                        std::vector<std::string>* files) {
  std::string version;
  if (RunCaptured("gnuplot --version", &version) != 0) {
    return "gnuplot not found: plots skipped (Debian: apt-get install gnuplot-nox; scripts/setup.sh)";
  }
  std::string ignored;
  const std::string png = RunCaptured("gnuplot -e 'set terminal pngcairo'", &ignored) == 0 ? "pngcairo" : "png";

  // (record_bytes, durability, wait_every) -> the points of one chart pair.
  std::map<std::tuple<std::size_t, int, std::uint32_t>, std::vector<const SweepPoint*>> groups;
  for (const SweepPoint& p : points) {
    if (!p.result || p.result->records == 0) continue;
    groups[{p.workload.record_bytes, static_cast<int>(p.workload.durability), p.workload.wait_every}].push_back(&p);
  }
  std::string problems;
  for (const auto& [key, group] : groups) {
    const auto& [bytes, durability_int, wait_every] = key;
    const auto durability = static_cast<Durability>(durability_int);
    const std::string suffix = std::to_string(bytes) + "B-" + std::string(DurabilityName(durability)) + "-wait" +
                               std::to_string(wait_every);
    const std::string what = std::to_string(bytes) + "-byte records, durability " +
                             std::string(DurabilityName(durability)) +
                             (wait_every > 1 ? ", a wait every " + std::to_string(wait_every) + " appends"
                              : durability == Durability::kGroup ? ", each append waits"
                                                                 : ", appends never wait");
    // Series in a stable order: shardwal by shard count, then the others in peer order.
    std::map<std::pair<int, std::uint32_t>, std::pair<std::string, std::map<std::uint32_t, const SweepPoint*>>> lines;
    for (const SweepPoint* p : group) {
      const std::uint32_t shards = p->peer == Peer::kShardwal ? p->result->shards : 0;
      std::string title(PeerName(p->peer));
      if (p->peer == Peer::kShardwal) title += " " + std::to_string(shards) + (shards == 1 ? " shard" : " shards");
      auto& line = lines[{static_cast<int>(p->peer), shards}];
      line.first = title;
      line.second[p->workload.writers] = p;
    }
    for (int metric = 0; metric < 2; ++metric) {
      Chart c;
      c.base = (metric == 0 ? "throughput-" : "p99-") + suffix;
      c.title = (metric == 0 ? "records/s vs writers: " : "p99 latency vs writers: ") + what;
      c.ylabel = metric == 0 ? "records/s" : (wait_every > 1 ? "p99 per wait (us)" : "p99 per append (us)");
      for (const auto& [order, line] : lines) {
        std::vector<std::pair<std::uint32_t, double>> xy;
        for (const auto& [writers, p] : line.second) {
          const double v = metric == 0 ? p->result->records_per_s : p->result->p99_us;
          if (v > 0) xy.emplace_back(writers, v);  // log scale: no zeros
        }
        if (!xy.empty()) c.series.emplace_back(line.first, std::move(xy));
      }
      if (c.series.empty()) continue;
      const std::string script = config.out_dir + "/" + c.base + ".gp";
      {
        std::ofstream out(script);
        out << ChartScript(c, png);
        if (!out) {
          problems += "cannot write " + script + "; ";
          continue;
        }
      }
      files->push_back(script);
      std::string output;
      const int rc = RunCaptured("cd " + Quote(config.out_dir) + " && gnuplot " + Quote(c.base + ".gp"), &output);
      if (rc != 0) {
        problems += "gnuplot failed on " + script + " (exit " + std::to_string(rc) + "): " + output + "; ";
        continue;
      }
      files->push_back(config.out_dir + "/" + c.base + ".png");
      files->push_back(config.out_dir + "/" + c.base + ".svg");
    }
  }
  return problems;
}

}  // namespace

Result<std::vector<SweepPoint>> PlanSweep(const SweepConfig& c) {
  auto empty = [](const char* axis) { return Status::InvalidArgument(std::string(axis) + ": no values"); };
  if (c.writers.empty()) return empty("sweep-writers");
  if (c.record_bytes.empty()) return empty("sweep-record-bytes");
  if (c.durability.empty()) return empty("sweep-durability");
  if (c.wait_every.empty()) return empty("sweep-wait-every");
  if (c.peers.empty()) return empty("sweep-peers");
  const bool has_shardwal = std::find(c.peers.begin(), c.peers.end(), Peer::kShardwal) != c.peers.end();
  if (has_shardwal && c.shards.empty()) return empty("sweep-shards");
  const bool has_group = std::find(c.durability.begin(), c.durability.end(), Durability::kGroup) != c.durability.end();

  // Each axis once, in the order given.
  auto unique = [](auto v) {
    std::vector<typename decltype(v)::value_type> out;
    for (const auto& x : v) {
      if (std::find(out.begin(), out.end(), x) == out.end()) out.push_back(x);
    }
    return out;
  };
  std::vector<SweepPoint> plan;
  for (std::size_t bytes : unique(c.record_bytes)) {
    for (Durability d : unique(c.durability)) {
      for (std::uint32_t wait : unique(c.wait_every)) {
        if (d == Durability::kAsync && wait > 1 && has_group) continue;  // the same as group with this wait
        for (std::uint32_t writers : unique(c.writers)) {
          for (Peer peer : unique(c.peers)) {
            Workload w;
            w.writers = writers;
            w.record_bytes = bytes;
            w.durability = d;
            w.wait_every = wait;
            w.seconds = c.seconds;
            w.tags = c.tags;
            w.shards = 0;
            const std::vector<std::uint32_t> shard_axis =
                peer == Peer::kShardwal ? unique(c.shards) : std::vector<std::uint32_t>{0};
            for (std::uint32_t shards : shard_axis) {
              if (peer == Peer::kShardwal && shards == 0) {
                return Status::InvalidArgument("sweep-shards: 0 (give shard counts >= 1)");
              }
              w.shards = shards;
              if (Status s = ValidateWorkload(w); !s.ok()) return s;
              SweepPoint p;
              p.peer = peer;
              p.workload = w;
              plan.push_back(std::move(p));
            }
          }
        }
      }
    }
  }
  return plan;
}

Result<SweepReport> RunSweep(const SweepConfig& c) {
  auto planned = PlanSweep(c);
  if (!planned.ok()) return planned.status();
  if (c.probe && !(c.probe_seconds > 0)) {
    return Status::InvalidArgument("probe-seconds: " + std::to_string(c.probe_seconds) + " (must be > 0)");
  }
  SweepReport report;
  report.points = std::move(*planned);
  auto say = [&](const std::string& line) {
    if (c.progress != nullptr) *c.progress << "sweep: " << line << std::endl;
  };

  std::error_code ec;
  fs::create_directories(c.out_dir, ec);
  if (ec) return Status::IOError("cannot create " + c.out_dir + ": " + ec.message(), ec.value());
  const std::string csv_path = c.out_dir + "/results.csv";
  std::ofstream csv(csv_path, std::ios::trunc);
  if (!csv) return Status::IOError("cannot write " + csv_path);

  std::optional<ScratchDir> scratch;
  std::string parent = c.dir;
  if (parent.empty()) {
    auto made = ScratchDir::Make("", false, "shardwal-sweep");
    if (!made.ok()) return made.status();
    scratch.emplace(std::move(*made));
    parent = scratch->path();
  } else {
    fs::create_directories(parent, ec);
    if (ec) return Status::IOError("cannot create " + parent + ": " + ec.message(), ec.value());
  }

  const Clock::time_point start = Clock::now();
  if (c.probe) {
    auto probe = ProbeDevice(parent, c.probe_seconds);
    if (!probe.ok()) return probe.status();
    report.probe = *probe;
    say("device probe: " + std::to_string(std::lround(probe->fdatasyncs_per_s)) + " fdatasyncs/s (4 KiB, p50 " +
        std::to_string(std::lround(probe->fdatasync_p50_us)) + " us), synced sequential " +
        std::to_string(std::lround(probe->synced_seq_mb_per_s)) + " MB/s");
  }
  csv.precision(10);  // full figures, not 2.08959e+06
  csv << kCsvHeader << std::flush;

  // A peer that cannot run here (rocksdb without RocksDB) is left out of
  // every point, said once.
  std::map<Peer, std::string> unavailable;  // peer -> why
  const std::size_t total = report.points.size();
  const Clock::time_point points_start = Clock::now();
  std::size_t done = 0;
  for (SweepPoint& p : report.points) {
    ++done;
    if (auto it = unavailable.find(p.peer); it != unavailable.end()) {
      p.error = "skipped: " + it->second;
    } else {
      Result<PeerResult> r = RunPeer(p.peer, p.workload, parent);
      if (r.ok()) {
        p.result = std::move(*r);
      } else if (r.status().IsNotSupported()) {
        unavailable[p.peer] = r.status().message();
        report.skipped.push_back(std::string(PeerName(p.peer)) + ": " + r.status().message());
        p.error = "skipped: " + r.status().message();
        say("skipping " + report.skipped.back());
      } else {
        p.error = r.status().ToString();
        ++report.failed;
      }
    }
    WriteCsvRow(csv, p, report.probe);
    csv.flush();
    const double elapsed = Secs(Clock::now() - points_start);
    const double eta = elapsed / static_cast<double>(done) * static_cast<double>(total - done);
    char figures[160];
    if (p.result) {
      std::snprintf(figures, sizeof figures, "%.0f records/s, p99 %.1f us, %.0f fsyncs/s", p.result->records_per_s,
                    p.result->p99_us, p.result->fsyncs_per_s);
    } else {
      std::snprintf(figures, sizeof figures, "%s", p.error.c_str());
    }
    say("[" + std::to_string(done) + "/" + std::to_string(total) + "] " + PointName(p) + ": " + figures +
        " (elapsed " + Clockish(elapsed) + ", ETA " + Clockish(eta) + ")");
  }
  csv.close();
  if (!csv) return Status::IOError("writing " + csv_path + " failed");
  report.files.push_back(csv_path);

  if (c.plots) {
    report.plots_note = WriteCharts(c, report.points, &report.files);
  } else {
    report.plots_note = "plots not requested";
  }
  report.seconds = Secs(Clock::now() - start);

  nlohmann::json j;
  j["axes"] = {{"writers", c.writers},
               {"shards", c.shards},
               {"record_bytes", c.record_bytes},
               {"wait_every", c.wait_every},
               {"seconds", c.seconds},
               {"tags", c.tags}};
  nlohmann::json durability = nlohmann::json::array(), peers = nlohmann::json::array();
  for (Durability d : c.durability) durability.push_back(std::string(DurabilityName(d)));
  for (Peer p : c.peers) peers.push_back(std::string(PeerName(p)));
  j["axes"]["durability"] = durability;
  j["axes"]["peers"] = peers;
  if (report.probe) {
    j["probe"] = DeviceProbeToJson(*report.probe);
  } else {
    j["probe"] = nullptr;
  }
  nlohmann::json rows = nlohmann::json::array();
  for (const SweepPoint& p : report.points) rows.push_back(PointJson(p));
  j["rows"] = std::move(rows);
  j["skipped"] = report.skipped;
  j["failed"] = report.failed;
  j["seconds"] = report.seconds;
  j["plots_note"] = report.plots_note;
  const std::string json_path = c.out_dir + "/results.json";
  report.files.insert(report.files.begin() + 1, json_path);
  j["files"] = report.files;
  std::ofstream out(json_path, std::ios::trunc);
  out << j.dump(2) << '\n';
  out.close();
  if (!out) return Status::IOError("writing " + json_path + " failed");
  return report;
}

}  // namespace shardwal::tools
