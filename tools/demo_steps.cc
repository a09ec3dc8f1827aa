// SPDX-License-Identifier: Apache-2.0
// The three steps of `shardwal demo` (tools/demo_steps.h).
#include "tools/demo_steps.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <system_error>

#include "bench/interrupt_scope.h"
#include "bench/scratch_dir.h"
#include "bench/text_format.h"
#include "shardwal/wal.h"
#include "tools/demo_crash.h"
#include "tools/demo_ingest.h"
#include "tools/demo_verify.h"

namespace shardwal::tools::demo {

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;
namespace fs = std::filesystem;

double Secs(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
double Div(double a, double b) { return b > 0 ? a / b : 0.0; }


}  // namespace

// "  name:              value": the report's aligned lines.
void Line(std::ostream& out, const std::string& name, const std::string& value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "  %-19s", (name + ":").c_str());
  out << buf << value << '\n';
}

// ---- step 1: time-series ingestion ----------------------------------------------------

json RunIngestStep(const DemoFlags& f, const std::string& root, const Progress& progress, std::string* summary,
                   bool* interrupted) {
  std::cout << "\n1/4 time-series ingestion\n";
  StepDir dir(root, "ingest", f.keep);
  Options options = demo::DemoWalOptions(dir.path());
  options.compression = *ParseCompression(f.compression);  // checked by the flag
  auto opened = Wal::Open(options);
  if (!opened.ok()) throw StepFailure{"1/4 ingestion", opened.status()};
  Wal& wal = **opened;
  std::cout << "  " << f.writers << " writer threads append points of " << Grouped(std::uint64_t{f.tags})
            << " tags (" << demo::TagName(0) << " .. " << demo::TagName(f.tags - 1) << "), routed by tag\n"
            << "  to " << wal.num_shards() << (wal.num_shards() == 1 ? " shard log, for " : " shard logs, for ") << Fixed(f.seconds, 1)
            << " s; each Append returns once its point is durable (group commit).\n"
            << "  WAL: " << dir.path() << "\n"
            << std::flush;

  demo::IngestConfig ic;
  ic.wal = &wal;
  ic.writers = f.writers;
  ic.tags = f.tags;
  ic.seconds = f.seconds;
  ic.stop = &InterruptScope::Flag();
  ic.progress = progress.out;
  ic.progress_tty = progress.tty;
  Result<demo::IngestResult> r = demo::RunIngest(ic);
  if (!r.ok()) {
    (void)wal.Close();
    throw StepFailure{"1/4 ingestion", r.status().WithContext("WAL " + dir.path())};
  }
  const Clock::time_point c0 = Clock::now();
  const Status closed = wal.Close();
  const double close_seconds = Secs(Clock::now() - c0);
  if (!closed.ok()) throw StepFailure{"1/4 ingestion", closed.WithContext("closing WAL " + dir.path())};
  const WalMetrics m = wal.Metrics();
  const ShardStats volume = wal.Stats().total;
  // Close returned OK: every appended point must be durable, LSNs 1..points.
  if (m.durable_lsn != m.last_lsn || m.last_lsn != r->points) {
    throw StepFailure{"1/4 ingestion",
                      Status::Corruption("inconsistent WAL " + dir.path() + " after Close: durable LSN " +
                                         std::to_string(m.durable_lsn) + ", last LSN " + std::to_string(m.last_lsn) +
                                         ", points appended " + std::to_string(r->points))};
  }
  *interrupted = r->interrupted;

  const HistogramSnapshot& lat = m.append_to_durable_seconds;
  const double points_per_s = Div(static_cast<double>(r->points), r->seconds);
  const double fsyncs_per_s = Div(static_cast<double>(m.fsyncs), r->seconds);
  const double per_fsync = Div(static_cast<double>(r->points), static_cast<double>(m.fsyncs));
  const double avg_batch = Div(static_cast<double>(r->points), static_cast<double>(m.batches));
  const double mb_per_s = Div(static_cast<double>(r->payload_bytes), r->seconds) / 1e6;
  const double avg_point_bytes = Div(static_cast<double>(r->payload_bytes), static_cast<double>(r->points));
  if (r->interrupted) std::cout << "  interrupted: the numbers cover the run up to the signal\n";
  Line(std::cout, "points", Grouped(r->points) + " in " + Fixed(r->seconds, 2) + " s = " + Grouped(points_per_s) +
                                " points/s (" + Fixed(mb_per_s, 1) + " MB/s of line protocol, " + Fixed(avg_point_bytes, 0) +
                                " bytes a point on average)");
  // payload_bytes counts tag + payload, bytes the segment writes (framing included).
  std::string written = Fixed(volume.bytes / 1e6, 1) + " MB written to segments (x" +
                        Fixed(Div(static_cast<double>(volume.bytes), static_cast<double>(volume.payload_bytes)), 2) + ")";
  if (options.compression != Compression::kNone) {
    written += "; " + std::string(CompressionName(options.compression)) + " " +
               Fixed(Div(static_cast<double>(volume.uncompressed_bytes), static_cast<double>(volume.bytes)), 2) +
               ":1 (" + Fixed(volume.uncompressed_bytes / 1e6, 1) + " MB uncompressed)";
  }
  Line(std::cout, "write volume", Fixed(volume.payload_bytes / 1e6, 1) + " MB appended (tags + points) -> " + written);
  Line(std::cout, "fsyncs", Grouped(m.fsyncs) + " = " + Grouped(fsyncs_per_s) + "/s; " + Fixed(per_fsync, 1) +
                                " points per fdatasync, " + Fixed(avg_batch, 1) + " per batch");
  Line(std::cout, "append->durable", "p50 " + demo::FormatSeconds(lat.p50) + ", p99 " + demo::FormatSeconds(lat.p99) +
                                         ", p99.9 " + demo::FormatSeconds(lat.p999) + ", max " +
                                         demo::FormatSeconds(lat.max) + " (" + Grouped(lat.count) + " appends)");
  Line(std::cout, "durable LSN", Grouped(m.durable_lsn) + " = every point appended (Close took " +
                                     demo::FormatSeconds(close_seconds) + "); " + Fixed(m.wal_bytes / 1e6, 1) +
                                     " MB of segment files");
  std::cout << std::flush;

  *summary = Grouped(points_per_s) + " points/s from " + std::to_string(f.writers) + " writers into " +
             std::to_string(wal.num_shards()) + (wal.num_shards() == 1 ? " shard, " : " shards, ") +
             Grouped(fsyncs_per_s) + " fsyncs/s (" + Fixed(per_fsync, 0) + " points each), p99 append->durable " +
             demo::FormatSeconds(lat.p99);
  return json{{"points", r->points},
              {"seconds", r->seconds},
              {"points_per_s", points_per_s},
              {"payload_mb_per_s", mb_per_s},
              {"payload_bytes", r->payload_bytes},
              {"avg_point_bytes", avg_point_bytes},
              {"segment_bytes", volume.bytes},
              {"uncompressed_bytes", volume.uncompressed_bytes},
              {"compression", f.compression},
              {"fsyncs", m.fsyncs},
              {"fsyncs_per_s", fsyncs_per_s},
              {"batches", m.batches},
              {"points_per_fsync", per_fsync},
              {"avg_batch_points", avg_batch},
              {"p50_us", lat.p50 * 1e6},
              {"p99_us", lat.p99 * 1e6},
              {"p999_us", lat.p999 * 1e6},
              {"max_us", lat.max * 1e6},
              {"durable_lsn", m.durable_lsn},
              {"last_lsn", m.last_lsn},
              {"close_seconds", close_seconds},
              {"wal_bytes", m.wal_bytes},
              {"shards", wal.num_shards()},
              {"writers", f.writers},
              {"tags", f.tags},
              {"interrupted", r->interrupted}};
}

// ---- step 2: crash and recover -----------------------------------------------------------

json RunCrashStep(const DemoFlags& f, const std::string& root, const Progress& progress, std::string* summary,
                  bool* verified, bool* interrupted) {
  std::cout << "\n2/4 crash and recover\n";
  StepDir dir(root, "crash", f.keep);
  std::cout << "  A child process (`shardwal demo-child`) ingests the same way into a fresh WAL and reports\n"
            << "  each acknowledged point (its Append returned OK) on a pipe. " << Fixed(f.crash_after, 1)
            << " s in, it gets SIGKILL; then\n"
            << "  Wal::Open recovers the WAL and every recovered record is checked against the acknowledged ones.\n"
            << "  WAL: " << dir.path() << "\n"
            << std::flush;
  demo::CrashConfig cc;
  cc.dir = dir.path();
  cc.writers = f.writers;
  cc.tags = f.tags;
  cc.crash_after = f.crash_after;
  cc.progress = progress.out;
  cc.progress_tty = progress.tty;
  cc.stop = &InterruptScope::Flag();
  cc.stop_fd = InterruptScope::EventFd();
  Result<demo::CrashResult> r = demo::RunCrash(cc);
  if (!r.ok()) throw StepFailure{"2/4 crash and recover", r.status()};
  const demo::VerifyReport& v = r->verify;
  *interrupted = r->interrupted;
  *verified = v.ok() && r->next_lsn == r->cut_lsn + 1;

  if (r->interrupted) std::cout << "  interrupted: the child was killed at the signal\n";
  Line(std::cout, "killed", "pid " + std::to_string(r->child_pid) + " by SIGKILL after " +
                                Fixed(r->ingest_seconds, 2) + " s of ingestion");
  if (r->kill_late_seconds > 0.5) {
    std::cout << "    (" << Fixed(r->kill_late_seconds, 1)
              << " s later than planned: the demo process itself did not get to run - a heavily loaded machine)\n";
  }
  Line(std::cout, "acknowledged", Grouped(v.acknowledged) + " points (Append returned OK and the child reported it)");
  Line(std::cout, "recovered", Grouped(v.recovered) + " records, LSNs " + Grouped(v.first_lsn) + ".." +
                                   Grouped(v.last_lsn) +
                                   (v.lsn_gaps == 0 ? " without gaps" : ", " + Grouped(v.lsn_gaps) + " GAPS") +
                                   ", from " + Grouped(std::uint64_t{v.tags_seen}) + " tags, " +
                                   (v.out_of_order == 0 ? std::string("each in seq order")
                                                        : Grouped(v.out_of_order) + " points OUT OF their tag's ORDER"));
  Line(std::cout, "in flight at kill", Grouped(v.recovered_unacknowledged) +
                                           " recovered but never acknowledged (appended, not yet reported: allowed)");
  Line(std::cout, "missing", Grouped(v.missing) + " (acknowledged, not recovered byte-identical at its LSN; must be 0)");
  Line(std::cout, "corrupted", Grouped(v.corrupted) + " (recovered, not an intact point of a known tag; must be 0)");
  Line(std::cout, "recovery", "Wal::Open " + demo::FormatSeconds(r->recovery_seconds) + " (" +
                                  std::to_string(r->shards) + (r->shards == 1 ? " shard, " : " shards, ") + Grouped(r->segments_scanned) +
                                  " segments, " + Fixed(r->bytes_scanned / 1e6, 1) + " MB scanned); replay + verify " +
                                  demo::FormatSeconds(r->replay_seconds));
  Line(std::cout, "recovery found",
       Grouped(r->torn_tails) + " torn tail(s), " + Grouped(r->zeroed_tails) +
           " zeroed tail(s) (never-written zeros, e.g. a prepared next segment), " +
           Grouped(r->anomaly_count - r->torn_tails - r->zeroed_tails) + " other anomalies");
  std::string cut = "at LSN " + Grouped(r->cut_lsn);
  if (r->max_lsn_seen > r->cut_lsn) {
    cut += "; highest LSN seen " + Grouped(r->max_lsn_seen) + ": " + Grouped(r->records_cut) +
           " records above the cut removed (a lower LSN never reached its shard)";
  } else {
    cut += " = the highest LSN seen (no records above the cut)";
  }
  Line(std::cout, "cut", cut);
  Line(std::cout, "cut off", Fixed(r->bytes_truncated / 1e6, 1) + " MB (zeroed or torn tails truncated, " +
                                 Grouped(r->segments_removed) + " never-written segment file(s) removed)");
  for (const std::string& a : r->anomalies) std::cout << "    " << a << '\n';
  Line(std::cout, "after recovery", "the next Append got LSN " + Grouped(r->next_lsn) +
                                        (r->next_lsn == r->cut_lsn + 1 ? " = cut + 1" : " (expected cut + 1!)"));
  for (const std::string& p : v.problems) std::cout << "    problem: " << p << '\n';
  Line(std::cout, "verdict", *verified ? "OK - every acknowledged point came back, at its LSN, byte for byte"
                                       : "FAILED - see the problems above");
  std::cout << std::flush;

  *summary = "SIGKILL after " + Fixed(r->ingest_seconds, 1) + " s: " + Grouped(v.acknowledged) + " acknowledged, " +
             Grouped(v.recovered) + " recovered (" + Grouped(v.recovered_unacknowledged) + " in flight), " +
             Grouped(v.missing) + " missing, " + Grouped(v.corrupted) + " corrupted; recovery " +
             demo::FormatSeconds(r->recovery_seconds);
  return json{{"child_pid", r->child_pid},
              {"ingest_seconds", r->ingest_seconds},
              {"startup_seconds", r->startup_seconds},
              {"kill_late_seconds", r->kill_late_seconds},
              {"acknowledged", v.acknowledged},
              {"recovered", v.recovered},
              {"recovered_acknowledged", v.recovered_acknowledged},
              {"recovered_unacknowledged", v.recovered_unacknowledged},
              {"missing", v.missing},
              {"corrupted", v.corrupted},
              {"out_of_order", v.out_of_order},
              {"lsn_gaps", v.lsn_gaps},
              {"duplicate_acks", v.duplicate_acks},
              {"first_lsn", v.first_lsn},
              {"last_lsn", v.last_lsn},
              {"tags_seen", v.tags_seen},
              {"cut_lsn", r->cut_lsn},
              {"max_lsn_seen", r->max_lsn_seen},
              {"records_cut", r->records_cut},
              {"bytes_truncated", r->bytes_truncated},
              {"segments_removed", r->segments_removed},
              {"torn_tails", r->torn_tails},
              {"zeroed_tails", r->zeroed_tails},
              {"anomalies", r->anomalies},
              {"recovery_seconds", r->recovery_seconds},
              {"replay_seconds", r->replay_seconds},
              {"segments_scanned", r->segments_scanned},
              {"bytes_scanned", r->bytes_scanned},
              {"shards", r->shards},
              {"next_lsn", r->next_lsn},
              {"problems", v.problems},
              {"interrupted", r->interrupted},
              {"ok", *verified}};
}

// ---- step 3: side by side --------------------------------------------------------------------

json RunCompareStep(const DemoFlags& f, const std::vector<Peer>& peers, const std::string& root,
                    std::string* summary) {
  std::cout << "\n4/4 side by side\n";
  StepDir dir(root, "compare", f.keep);
  std::error_code ec;
  fs::create_directories(dir.path(), ec);
  if (ec) throw StepFailure{"4/4 side by side", Status::IOError("cannot create " + dir.path() + ": " + ec.message())};
  std::cout << "  The same " << f.writers << " writers, now with 100-byte records and each append waiting until\n"
            << "  durable, against the systems one would use instead, " << Fixed(f.compare_seconds, 1)
            << " s each, on the same device.\n"
            << "  Dir: " << dir.path() << "\n\n"
            << std::flush;
  CompareConfig cc;
  cc.workload.writers = f.writers;
  cc.workload.record_bytes = 100;
  cc.workload.durability = Durability::kGroup;
  cc.workload.wait_every = 1;
  cc.workload.seconds = f.compare_seconds;
  cc.workload.tags = f.tags;
  cc.peers = peers;
  cc.probe = f.probe_seconds > 0;
  cc.probe_seconds = f.probe_seconds;
  cc.dir = dir.path();
  cc.progress = &std::cerr;
  Result<CompareReport> r = RunCompare(cc);
  if (!r.ok()) throw StepFailure{"4/4 side by side", r.status().WithContext("in " + dir.path())};
  PrintCompareTable(std::cout, *r);
  std::cout << std::flush;

  const PeerResult* base = nullptr;
  for (const PeerResult& p : r->results) {
    if (p.peer == Peer::kShardwal) base = &p;
  }
  // Ratios read like the table's "shardwal is" column: shardwal / peer.
  std::string s;
  if (base != nullptr) s = "shardwal " + Grouped(base->records_per_s) + " records/s";
  std::string others;
  for (const PeerResult& p : r->results) {
    if (&p == base) continue;
    if (!others.empty()) others += ", ";
    if (base != nullptr && p.records_per_s > 0) {
      const double x = base->records_per_s / p.records_per_s;
      others += Fixed(x, x < 10 ? 2 : x < 100 ? 1 : 0) + "x ";
    }
    others += std::string(PeerName(p.peer)) + " (" + Grouped(p.records_per_s) + "/s)";
  }
  if (!others.empty()) s += (base != nullptr ? ": " : "") + others;
  for (const std::string& k : r->skipped) s += "; skipped " + k;
  *summary = s.empty() ? "no peer ran" : s;
  return CompareReportToJson(*r);
}

}  // namespace shardwal::tools::demo
