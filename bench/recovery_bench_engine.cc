// SPDX-License-Identifier: Apache-2.0
// `shardwal bench-recovery`'s engine: writes a WAL of R records per shard
// count and times reading it back from a warm page cache (LogReader::Open, a
// full Replay, Wal::Open + Close), optionally against RocksDB replaying the
// same records from its WAL. See bench/recovery_bench_engine.h; the table
// and JSON are in bench/recovery_bench_report.cc.
#include "bench/recovery_bench_engine.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "bench/bench_engine.h"
#include "bench/bench_limits.h"
#include "bench/payload.h"
#include "bench/rocksdb_peer.h"
#include "bench/scratch_dir.h"
#include "shardwal/options.h"
#include "shardwal/recovery.h"
#include "shardwal/wal.h"

namespace shardwal::tools {

namespace {

using Clock = std::chrono::steady_clock;

double Secs(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
double Div(double a, double b) { return b > 0 ? a / b : 0.0; }

double CpuSeconds() {
  struct rusage ru {};
  ::getrusage(RUSAGE_SELF, &ru);
  auto tv = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return tv(ru.ru_utime) + tv(ru.ru_stime);
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// Collects a phase's runs into one row.
struct PhaseRuns {
  std::vector<double> wall, report, cpu;

  RecoveryPhaseResult Row(std::string system, std::uint32_t shards, std::string phase, std::uint64_t records,
                          std::uint64_t bytes) const {
    RecoveryPhaseResult r;
    r.system = std::move(system);
    r.shards = shards;
    r.phase = std::move(phase);
    r.records = records;
    r.bytes = bytes;
    r.seconds = Median(wall);
    r.best_seconds = wall.empty() ? 0 : *std::min_element(wall.begin(), wall.end());
    r.records_per_s = Div(static_cast<double>(records), r.seconds);
    r.mb_per_s = Div(static_cast<double>(bytes), r.seconds) / 1e6;
    r.report_seconds = Median(report);
    r.cpu_seconds = Median(cpu);
    r.runs = wall;
    return r;
  }
};

void Progress(const RecoveryBenchConfig& c, const std::string& line) {
  if (c.progress != nullptr) *c.progress << line << std::endl;
}

Options WalOptions(const RecoveryBenchConfig& c, const std::string& dir, std::uint32_t shards,
                   const LogCallback& log) {
  Options opt;
  opt.dir = dir;
  opt.num_shards = shards;
  opt.routing = Routing::kTag;
  opt.durability = Durability::kNone;
  opt.log = log;
  opt.allow_group_access = c.allow_group_access;
  const std::size_t record_max = c.record_bytes + 64;  // as RunBench sizes them
  if (record_max > opt.max_record_bytes) {
    opt.max_record_bytes = static_cast<std::uint32_t>(record_max);
    opt.max_buffered_bytes = std::max(opt.max_buffered_bytes, 4 * (record_max + 64));
  }
  return opt;
}

// Read-back must match what was written, or the figures mean nothing.
Status CheckReport(const RecoveryReport& rep, std::uint64_t records, const char* what) {
  if (rep.records != records || rep.cut_lsn != records || !rep.anomalies.empty()) {
    return Status::Corruption(std::string(what) + " recovered " + std::to_string(rep.records) + " records (cut " +
                              std::to_string(rep.cut_lsn) + ", " + std::to_string(rep.anomalies.size()) +
                              " anomalies), expected " + std::to_string(records) + ":\n" + rep.Summary());
  }
  return Status::OK();
}

// ---- shardwal, one shard count -------------------------------------------------

Status MeasureShardwal(const RecoveryBenchConfig& c, const std::string& parent, std::uint32_t shards,
                       const LogCallback& log, RecoveryBenchResult* out) {
  const std::string dir = parent + "/wal-" + std::to_string(shards);
  Progress(c, "building a " + std::to_string(shards) + "-shard WAL of " + std::to_string(c.records) + " records in " +
                  dir);

  BenchConfig bc;
  bc.dir = dir;
  bc.keep = true;
  bc.shards = shards;
  bc.writers = c.writers;
  bc.record_bytes = c.record_bytes;
  bc.records = c.records;
  bc.durability = Durability::kNone;  // Close() syncs it all once
  bc.routing = Routing::kTag;
  bc.tags = c.tags;
  bc.log = log;
  bc.allow_group_access = c.allow_group_access;
  Result<BenchResult> built = RunBench(bc);
  if (!built.ok()) return built.status().WithContext("building the " + std::to_string(shards) + "-shard WAL");
  if (built->interrupted || built->records != c.records) return Status::Closed("interrupted while building the WAL");

  RecoveryBuildInfo info;
  info.system = "shardwal";
  info.shards = shards;
  info.records = built->records;
  info.seconds = built->seconds + built->close_seconds;
  info.bytes = built->bytes_written;
  info.batches = built->batches;

  const Options opt = WalOptions(c, dir, shards, log);
  PhaseRuns open_runs, replay_runs, both_runs, wal_runs;
  std::uint64_t bytes = 0;
  for (std::uint32_t i = 0; i < c.repeat; ++i) {
    const double cpu0 = CpuSeconds();
    const Clock::time_point t0 = Clock::now();
    auto reader = LogReader::Open(opt);
    const Clock::time_point t1 = Clock::now();
    const double cpu1 = CpuSeconds();
    if (!reader.ok()) return reader.status().WithContext("LogReader::Open");
    const RecoveryReport& rep = (*reader)->report();
    if (Status s = CheckReport(rep, c.records, "LogReader::Open"); !s.ok()) return s;
    bytes = rep.bytes_scanned;
    if (i == 0) {
      for (const ShardRecovery& sr : rep.shards) info.segments += sr.segments;
    }

    std::uint64_t n = 0, payload_bytes = 0, checksum = 0;
    Lsn expect = 1;
    bool in_order = true;
    const Clock::time_point t2 = Clock::now();
    Status s = (*reader)->Replay(0, [&](const ReplayRecord& r) {
      in_order &= r.lsn == expect++;
      if (!r.payload.empty()) checksum += static_cast<unsigned char>(r.payload[r.payload.size() / 2]);
      payload_bytes += r.payload.size();
      ++n;
      return true;
    });
    const Clock::time_point t3 = Clock::now();
    const double cpu3 = CpuSeconds();
    if (!s.ok()) return s.WithContext("Replay");
    if (n != c.records || payload_bytes != c.records * c.record_bytes || !in_order) {
      return Status::Corruption("Replay delivered " + std::to_string(n) + " records, " + std::to_string(payload_bytes) +
                                " payload bytes" + (in_order ? "" : ", out of LSN order") + "; expected " +
                                std::to_string(c.records) + " records");
    }
    out->replay_checksum += checksum;
    open_runs.wall.push_back(Secs(t1 - t0));
    open_runs.report.push_back(rep.seconds);
    open_runs.cpu.push_back(cpu1 - cpu0);
    replay_runs.wall.push_back(Secs(t3 - t2));
    replay_runs.cpu.push_back(cpu3 - cpu1);
    both_runs.wall.push_back(Secs(t1 - t0) + Secs(t3 - t2));
    both_runs.cpu.push_back(cpu3 - cpu0);
  }
  for (std::uint32_t i = 0; i < c.repeat; ++i) {
    const double cpu0 = CpuSeconds();
    const Clock::time_point t0 = Clock::now();
    auto wal = Wal::Open(opt);
    if (!wal.ok()) return wal.status().WithContext("Wal::Open");
    const double report_seconds = (*wal)->recovery_report().seconds;
    if (Status s = CheckReport((*wal)->recovery_report(), c.records, "Wal::Open"); !s.ok()) return s;
    if (Status s = (*wal)->Close(); !s.ok()) return s.WithContext("Wal::Close");
    const Clock::time_point t1 = Clock::now();
    wal_runs.wall.push_back(Secs(t1 - t0));
    wal_runs.report.push_back(report_seconds);
    wal_runs.cpu.push_back(CpuSeconds() - cpu0);
  }
  out->results.push_back(open_runs.Row("shardwal", shards, "reader_open", c.records, bytes));
  out->results.push_back(replay_runs.Row("shardwal", shards, "replay", c.records, bytes));
  out->results.push_back(both_runs.Row("shardwal", shards, "open_replay", c.records, bytes));
  out->results.push_back(wal_runs.Row("shardwal", shards, "wal_open_close", c.records, bytes));
  out->builds.push_back(info);
  if (!c.keep) ScratchDir::RemoveTree(dir);
  return Status::OK();
}

// ---- RocksDB ---------------------------------------------------------------------

// The same load as RunBench's writers: W threads, B-byte random payloads
// whose first bytes carry the sequence number, a tag per record
// (bench/payload.h).
Status LoadRocks(const RecoveryBenchConfig& c, RocksPeer& db) {
  std::mutex mu;
  Status first_error;
  std::vector<std::thread> threads;
  for (std::uint32_t w = 0; w < c.writers; ++w) {
    threads.emplace_back([&, w] {
      std::uint64_t rng = WriterSeed(w);
      std::string payload = MakePayload(c.record_bytes, rng);
      char key[kRocksKeyBytes];
      for (std::uint64_t seq = w; seq < c.records; seq += c.writers) {
        StampSequence(payload, seq);
        const auto tag = static_cast<std::uint32_t>(PickBelow(rng, c.tags));
        MakeRocksKey(key, tag, seq);
        if (Status s = db.Put(std::string_view(key, sizeof key), payload); !s.ok()) {
          std::lock_guard lk(mu);
          if (first_error.ok()) first_error = s;
          return;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  return first_error;
}

Status MeasureRocks(const RecoveryBenchConfig& c, const std::string& parent, RecoveryBenchResult* out) {
  RocksPeerOptions po;
  po.dir = parent + "/rocksdb";
  po.sync = false;
  po.disable_wal = false;
  po.memtable_only = true;
  // Room for everything in one memtable (skiplist nodes and keys included).
  po.write_buffer_bytes = std::max<std::uint64_t>(
      4ull << 30, 2 * c.records * (c.record_bytes + kRocksKeyBytes + 64));
  Progress(c, "building a RocksDB " + RocksDbVersion() + " WAL of " + std::to_string(c.records) + " records in " +
                  po.dir);

  RecoveryBuildInfo info;
  info.system = "rocksdb";
  info.records = c.records;
  const Clock::time_point t0 = Clock::now();
  {
    auto db = RocksPeer::Open(po);
    if (!db.ok()) return db.status();
    if (Status s = LoadRocks(c, **db); !s.ok()) return s;
    if (Status s = (*db)->Close(); !s.ok()) return s;
  }
  info.seconds = Secs(Clock::now() - t0);
  auto before = InspectRocksDir(po.dir);
  if (!before.ok()) return before.status();
  if (before->sst_files != 0 || before->wal_bytes == 0) {
    return Status::IOError("RocksDB flushed to SST files during the load (" + std::to_string(before->sst_files) +
                           " SST files, " + std::to_string(before->wal_bytes) +
                           " WAL bytes): its reopen would not replay the whole WAL");
  }
  info.bytes = before->wal_bytes;

  PhaseRuns runs;
  for (std::uint32_t i = 0; i < c.repeat; ++i) {
    const double cpu0 = CpuSeconds();
    const Clock::time_point a = Clock::now();
    auto db = RocksPeer::Open(po);  // replays the WAL into a new memtable
    const Clock::time_point b = Clock::now();
    const double cpu1 = CpuSeconds();
    if (!db.ok()) return db.status().WithContext("reopening RocksDB");
    auto entries = (*db)->MemtableEntries();
    auto ssts = (*db)->LiveSstFiles();
    if (!entries.ok()) return entries.status();
    if (!ssts.ok()) return ssts.status();
    if (*entries != c.records || *ssts != 0) {
      return Status::Corruption("RocksDB reopen: " + std::to_string(*entries) + " memtable entries and " +
                                std::to_string(*ssts) + " SST files, expected " + std::to_string(c.records) +
                                " entries replayed from the WAL and no SST file");
    }
    if (Status s = (*db)->Close(); !s.ok()) return s;
    runs.wall.push_back(Secs(b - a));
    runs.cpu.push_back(cpu1 - cpu0);
  }
  auto after = InspectRocksDir(po.dir);
  if (!after.ok()) return after.status();
  if (after->sst_files != 0) return Status::IOError("RocksDB wrote SST files while reopening");
  out->results.push_back(runs.Row("rocksdb", 0, "db_open", c.records, before->wal_bytes));
  out->builds.push_back(info);
  out->rocksdb_version = RocksDbVersion();
  if (!c.keep) ScratchDir::RemoveTree(po.dir);
  return Status::OK();
}

}  // namespace

// ---- the engine ---------------------------------------------------------------------

Status ValidateRecoveryBenchConfig(const RecoveryBenchConfig& c) {
  if (c.shards.empty()) return Status::InvalidArgument("shards: empty list");
  for (std::uint32_t s : c.shards) {
    if (s < 1 || s > kMaxShards) return Status::InvalidArgument("shards: " + std::to_string(s) + " (must be 1..256)");
  }
  if (c.records < 1) return Status::InvalidArgument("records: must be > 0");
  if (c.record_bytes > kMaxRecordBytes) {
    return Status::InvalidArgument("record-bytes: " + std::to_string(c.record_bytes) + " (max " +
                                   std::to_string(kMaxRecordBytes) + ")");
  }
  if (c.tags < 1 || c.tags > kMaxTags) return Status::InvalidArgument("tags: " + std::to_string(c.tags));
  if (c.writers < 1 || c.writers > kMaxWriters) return Status::InvalidArgument("writers: " + std::to_string(c.writers));
  if (c.repeat < 1 || c.repeat > kMaxRepeat) return Status::InvalidArgument("repeat: " + std::to_string(c.repeat));
  if (c.rocksdb && !HaveRocksDb()) return Status::NotSupported(std::string(kNoRocksDbMessage));
  return Status::OK();
}

Result<RecoveryBenchResult> RunRecoveryBench(const RecoveryBenchConfig& c) {
  if (Status s = ValidateRecoveryBenchConfig(c); !s.ok()) return s;
  auto dir = ScratchDir::Make(c.dir, c.keep, "shardwal-rbench",
                              c.allow_group_access ? FileAccess::kGroup : FileAccess::kOwner);
  if (!dir.ok()) return dir.status();

  RecoveryBenchResult r;
  r.records = c.records;
  r.record_bytes = c.record_bytes;
  r.tags = c.tags;
  r.writers = c.writers;
  r.repeat = c.repeat;
  r.dir = dir->path();
  for (std::uint32_t shards : c.shards) {
    if (Status s = MeasureShardwal(c, dir->path(), shards, c.log, &r); !s.ok()) return s;
  }
  if (c.rocksdb) {
    if (Status s = MeasureRocks(c, dir->path(), &r); !s.ok()) return s;
  }
  r.dir_kept = !dir->removed();
  return r;
}

}  // namespace shardwal::tools
