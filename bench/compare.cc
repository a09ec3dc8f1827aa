// The comparison engine behind `shardwal bench --compare` and `--sweep`
// (tools/compare.h): each peer runs the same workload in a fresh directory
// under one parent, one after the other, so they share the device and
// never each other's time.
//
// shardwal and single-log run through RunBench (tools/bench_command.h);
// naive and rocksdb through RunWriters below, which copies RunBench's
// writer loop (a latch, one start signal, the same payloads and tag picks,
// per-writer latency histograms, nothing allocated in the loop), so the
// numbers of all four are taken the same way.
#include "bench/compare.h"

#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <ostream>
#include <system_error>
#include <thread>
#include <vector>

#include "bench/bench_engine.h"
#include "bench/latency_histogram.h"
#include "bench/naive_wal.h"
#include "bench/payload.h"
#include "bench/rocksdb_peer.h"
#include "bench/scratch_dir.h"
#include "bench/text_format.h"
#include "bench/writer_gate.h"

namespace shardwal::tools {

namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

constexpr std::uint32_t kMaxWriters = 4096;
constexpr std::size_t kMaxRecordBytes = 64u << 20;
constexpr std::uint32_t kMaxTags = 1'000'000;
constexpr std::uint32_t kMaxWaitEvery = 10'000'000;

double Secs(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
double Div(double a, double b) { return b > 0 ? a / b : 0.0; }

// "each append waits", "wait every 1000 appends", "appends never wait".
std::string WaitingText(const Workload& w) {
  if (w.wait_every > 1) return "waits once every " + std::to_string(w.wait_every) + " appends";
  return w.durability == Durability::kGroup ? "each append waits" : "appends never wait";
}

std::string LatencyKind(const Workload& w) {
  if (w.wait_every > 1) return "wait_every_" + std::to_string(w.wait_every);
  return w.durability == Durability::kGroup ? "append_to_durable" : "append_call";
}

// A fresh directory <parent>/<prefix>-XXXXXX for one peer's run, removed
// when this goes out of scope.
class PeerDir {
 public:
  static Result<PeerDir> Make(const std::string& parent, std::string_view prefix) {
    std::string tmpl = parent + "/" + std::string(prefix) + "-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) {
      const int err = errno;
      return Status::IOError("cannot create " + tmpl + ": " + std::strerror(err), err);
    }
    PeerDir d;
    d.path_ = tmpl;
    return d;
  }
  PeerDir(PeerDir&& o) noexcept : path_(std::exchange(o.path_, std::string())) {}
  PeerDir& operator=(PeerDir&&) = delete;
  ~PeerDir() {
    if (!path_.empty()) ScratchDir::RemoveTree(path_);
  }
  const std::string& path() const { return path_; }

 private:
  PeerDir() = default;
  std::string path_;
};

// ---- the writer loop for peers that are not shardwal ------------------------------------

// What a writer calls on the system under test. Implementations are
// thread-safe and allocate nothing on success.
class Target {
 public:
  virtual ~Target() = default;
  // One record; `sync`: durable before returning (group, wait_every 1).
  virtual Status Append(std::uint32_t tag, std::uint64_t seq, std::string_view payload, bool sync) = 0;
  // The pipelined wait: everything this writer appended is durable.
  virtual Status Wait() = 0;
};

struct alignas(64) WriterState {
  LatencyHistogram latency;
  std::uint64_t appended = 0;
};

struct WritersResult {
  std::uint64_t records = 0;
  double seconds = 0;
  LatencyHistogram latency;
};

// Runs workload.writers threads against `target` for workload.seconds,
// started together behind a latch. The first error stops every writer and
// is returned with `peer` in front.
Result<WritersResult> RunWriters(Target& target, const Workload& w, std::string_view peer) {
  WriterGate gate(w.writers);
  const bool sync_each = w.wait_every <= 1 && w.durability == Durability::kGroup;
  const std::uint32_t per_round = std::max<std::uint32_t>(1, w.wait_every);

  std::vector<WriterState> states(w.writers);
  auto writer = [&](std::uint32_t id) {
    WriterState& st = states[id];
    std::uint64_t rng = WriterSeed(id);
    std::string payload = MakePayload(w.record_bytes, rng);
    // The tags this writer owns, as RunBench assigns them: i, i + W, ...
    // with at least as many tags as writers; otherwise all of them.
    const bool owns = w.tags >= w.writers;
    const std::uint32_t base = owns ? id : 0, step = owns ? w.writers : 1;
    const std::uint64_t ntags = owns ? (w.tags - id + w.writers - 1) / w.writers : w.tags;
    gate.ready.count_down();
    const Clock::time_point end = gate.AwaitStart();
    // As in `shardwal bench`: appends that do not wait are timed 1 in 16
    // (the clock costs as much as such an append); all are counted.
    const std::uint64_t sample_mask = per_round == 1 && !sync_each ? 15 : 0;
    std::uint64_t seq = 0;
    while (!gate.Stopped()) {
      if ((seq & sample_mask) != 0) {
        StampSequence(payload, seq);
        const auto tag = static_cast<std::uint32_t>(base + step * PickBelow(rng, ntags));
        if (Status s = target.Append(tag, seq, payload, sync_each); !s.ok()) {
          gate.Fail(s);
          return;
        }
        ++seq;
        ++st.appended;
        continue;
      }
      const Clock::time_point t0 = Clock::now();
      std::uint32_t n = 0;
      for (; n < per_round; ++n, ++seq) {
        if (n != 0 && gate.Stopped()) break;
        StampSequence(payload, seq);
        const auto tag = static_cast<std::uint32_t>(base + step * PickBelow(rng, ntags));
        if (Status s = target.Append(tag, seq, payload, sync_each); !s.ok()) {
          gate.Fail(s);
          return;
        }
      }
      if (per_round > 1) {
        if (Status s = target.Wait(); !s.ok()) {
          gate.Fail(s);
          return;
        }
      }
      const Clock::time_point t1 = Clock::now();
      st.latency.Record(t1 - t0);
      st.appended += n;
      if (t1 >= end) break;
    }
  };

  std::vector<std::thread> threads;
  threads.reserve(w.writers);
  Status start_error;
  for (std::uint32_t i = 0; i < w.writers; ++i) {
    try {
      threads.emplace_back(writer, i);
    } catch (const std::system_error& e) {
      start_error = Status::IOError(std::string(peer) + ": cannot start writer thread " + std::to_string(i) + ": " +
                                        e.what(),
                                    e.code().value());
      gate.Stop();
      gate.ready.count_down(w.writers - i);
      break;
    }
  }
  gate.ready.wait();
  const Clock::time_point start = gate.Release(w.seconds);
  for (auto& t : threads) t.join();
  const Clock::time_point end = Clock::now();
  if (!start_error.ok()) return start_error;
  if (Status s = gate.FirstError(); !s.ok()) return s.WithContext(peer);

  WritersResult r;
  r.seconds = Secs(end - start);
  for (const WriterState& st : states) {
    r.latency.Merge(st.latency);
    r.records += st.appended;
  }
  return r;
}

void FillFromWriters(PeerResult& p, const WritersResult& wr, const Workload& w) {
  p.records = wr.records;
  p.seconds = wr.seconds;
  p.records_per_s = Div(static_cast<double>(wr.records), wr.seconds);
  p.mb_per_s = p.records_per_s * static_cast<double>(w.record_bytes) / 1e6;
  p.p50_us = wr.latency.PercentileUs(50);
  p.p99_us = wr.latency.PercentileUs(99);
  p.p999_us = wr.latency.PercentileUs(99.9);
  p.latency = LatencyKind(w);
}

void FillSyncs(PeerResult& p, std::uint64_t fsyncs) {
  p.fsyncs = fsyncs;
  p.fsyncs_per_s = Div(static_cast<double>(fsyncs), p.seconds);
  p.records_per_fsync = Div(static_cast<double>(p.records), static_cast<double>(fsyncs));
}

// ---- the peers ----------------------------------------------------------------------------

Result<PeerResult> RunShardwal(Peer peer, const Workload& w, const std::string& dir) {
  BenchConfig c;
  c.dir = dir;
  c.shards = peer == Peer::kSingleLog ? 1 : w.shards;
  c.writers = w.writers;
  c.record_bytes = w.record_bytes;
  c.seconds = w.seconds;
  c.durability = w.durability;
  c.wait_every = w.wait_every;
  c.routing = Routing::kTag;
  c.tags = w.tags;
  Result<BenchResult> b = RunBench(c);
  if (!b.ok()) return b.status().WithContext(PeerName(peer));
  PeerResult p;
  p.peer = peer;
  p.shards = b->shards;
  p.label = std::string(PeerName(peer)) + " (" + std::to_string(b->shards) + (b->shards == 1 ? " shard)" : " shards)");
  p.records = b->records;
  p.seconds = b->seconds;
  p.records_per_s = b->records_per_s;
  p.mb_per_s = b->mb_per_s;
  FillSyncs(p, b->fsyncs);
  p.p50_us = b->p50_us;
  p.p99_us = b->p99_us;
  p.p999_us = b->p999_us;
  p.latency = b->latency;
  const std::string common =
      " Records carry a global gap-free LSN, the tag and a CRC32C; one pwritev + fdatasync covers a whole batch "
      "(group commit) on preallocated, zero-filled segments (fdatasync writes no metadata).";
  if (peer == Peer::kSingleLog) {
    p.note = "shardwal with one shard: one buffer, one flush thread, one segment file at a time - the classic "
             "group-commit WAL." +
             common;
  } else {
    const std::string shard_count =
        b->shards == 1 ? std::string(w.shards == 0 ? "1 shard log (the library default here), with its own "
                                                   : "1 shard log, with its own ")
                       : std::to_string(b->shards) + " shard logs, each with its own ";
    p.note = shard_count +
             "buffer, flush thread and segment files; tag routing over " + std::to_string(w.tags) + " tags." + common;
  }
  if (w.wait_every <= 1 && w.durability == Durability::kAsync) {
    p.note += " Async: synced in the background within max_batch_delay; Close() syncs the rest (not timed).";
  }
  return p;
}

class NaiveTarget final : public Target {
 public:
  explicit NaiveTarget(NaiveWal& wal) : wal_(wal) {}
  Status Append(std::uint32_t, std::uint64_t, std::string_view payload, bool sync) override {
    return wal_.Append(payload, sync);
  }
  Status Wait() override { return wal_.Sync(); }

 private:
  NaiveWal& wal_;
};

Result<PeerResult> RunNaive(const Workload& w, const std::string& dir) {
  auto wal = NaiveWal::Open(dir + "/naive.wal");
  if (!wal.ok()) return wal.status();
  NaiveTarget target(**wal);
  auto wr = RunWriters(target, w, "naive");
  if (!wr.ok()) return wr.status();
  // Whatever was not synced yet (async; a stop mid-round) is synced once,
  // untimed, as shardwal's Close() is.
  if (Status s = (*wal)->Sync(); !s.ok()) return s.WithContext("naive");
  if (Status s = (*wal)->Close(); !s.ok()) return s.WithContext("naive");
  PeerResult p;
  p.peer = Peer::kNaive;
  p.label = "naive (1 file + 1 mutex)";
  FillFromWriters(p, *wr, w);
  FillSyncs(p, (*wal)->fsyncs());
  p.note =
      "One file, one std::mutex; per append one writev of an 8-byte header (length, CRC32C) + the payload, no LSN "
      "or tag. No preallocation: the file grows with every write, so each fdatasync also writes the file size.";
  if (w.wait_every > 1) {
    p.note += " Pipelined: appends only write; the waiting writer calls fdatasync under the mutex.";
  } else if (w.durability == Durability::kGroup) {
    p.note += " fdatasync after every append, under the mutex: no group commit, one record per fdatasync.";
  } else {
    p.note += " Async: appends only write (page cache); nothing syncs in the background - one fdatasync at the "
              "end (not timed).";
  }
  return p;
}

class RocksTarget final : public Target {
 public:
  explicit RocksTarget(RocksPeer& db) : db_(db) {}
  Status Append(std::uint32_t tag, std::uint64_t seq, std::string_view payload, bool) override {
    char key[kRocksKeyBytes];  // the sync choice is in the DB's WriteOptions
    MakeRocksKey(key, tag, seq);
    return db_.Put(std::string_view(key, sizeof key), payload);
  }
  Status Wait() override { return db_.SyncWAL(); }

 private:
  RocksPeer& db_;
};

Result<PeerResult> RunRocks(const Workload& w, const std::string& dir) {
  if (!HaveRocksDb()) return Status::NotSupported(std::string(kNoRocksDbMessage));
  const bool sync = w.wait_every <= 1 && w.durability == Durability::kGroup;
  RocksPeerOptions o;
  o.dir = dir;
  o.sync = sync;
  // A stock memtable (RocksDB's default write buffer, flushed to SST files
  // in the background when full): what a user of RocksDB as a log gets.
  o.memtable_only = false;
  o.statistics = true;
  auto db = RocksPeer::Open(o);
  if (!db.ok()) return db.status().WithContext("rocksdb");
  RocksTarget target(**db);
  auto wr = RunWriters(target, w, "rocksdb");
  if (!wr.ok()) return wr.status();
  if (!sync) {
    if (Status s = (*db)->SyncWAL(); !s.ok()) return s.WithContext("rocksdb");  // untimed, as Close() is
  }
  const std::uint64_t syncs = (*db)->WalSyncs();
  if (Status s = (*db)->Close(); !s.ok()) return s.WithContext("rocksdb");
  PeerResult p;
  p.peer = Peer::kRocksDb;
  const std::string version = RocksDbVersion();
  p.label = "rocksdb " + version +
            (sync ? " (sync=true)" : w.wait_every > 1 ? " (sync=false + SyncWAL)" : " (sync=false)");
  FillFromWriters(p, *wr, w);
  FillSyncs(p, syncs);
  p.note = "RocksDB " + version + " DB::Put with a 16-byte key: it also fills a memtable (and flushes it to SST " +
           "files in the background when full), which a WAL does not. Concurrent writers are grouped by its " +
           "write-group leader, so one WAL write + sync can cover many. fsyncs: its WAL_FILE_SYNCED ticker.";
  if (w.wait_every > 1) {
    p.note += " Pipelined: Put(sync=false), then SyncWAL() per wait.";
  } else if (!sync) {
    p.note += " Async: Put(sync=false), nothing synced in the background; one SyncWAL at the end (not timed).";
  }
  return p;
}

const PeerResult* ShardwalResult(const CompareReport& report) {
  for (const PeerResult& r : report.results) {
    if (r.peer == Peer::kShardwal) return &r;
  }
  return nullptr;
}

}  // namespace

std::string_view PeerName(Peer p) {
  switch (p) {
    case Peer::kShardwal: return "shardwal";
    case Peer::kSingleLog: return "single-log";
    case Peer::kNaive: return "naive";
    case Peer::kRocksDb: return "rocksdb";
  }
  return "?";
}

std::optional<Peer> ParsePeer(std::string_view name) {
  for (Peer p : {Peer::kShardwal, Peer::kSingleLog, Peer::kNaive, Peer::kRocksDb}) {
    if (PeerName(p) == name) return p;
  }
  return std::nullopt;
}

Status ValidateWorkload(const Workload& w) {
  if (w.writers < 1 || w.writers > kMaxWriters) {
    return Status::InvalidArgument("writers: " + std::to_string(w.writers) + " (must be 1.." +
                                   std::to_string(kMaxWriters) + ")");
  }
  if (w.record_bytes > kMaxRecordBytes) {
    return Status::InvalidArgument("record-bytes: " + std::to_string(w.record_bytes) + " (max " +
                                   std::to_string(kMaxRecordBytes) + ")");
  }
  if (w.durability != Durability::kGroup && w.durability != Durability::kAsync) {
    return Status::InvalidArgument("durability: " + std::string(DurabilityName(w.durability)) +
                                   " (a comparison takes group or async)");
  }
  if (w.wait_every < 1 || w.wait_every > kMaxWaitEvery) {
    return Status::InvalidArgument("wait-every: " + std::to_string(w.wait_every) + " (must be 1.." +
                                   std::to_string(kMaxWaitEvery) + ")");
  }
  if (!(w.seconds > 0) || w.seconds > 1e6) {
    return Status::InvalidArgument("seconds: " + std::to_string(w.seconds) + " (must be > 0)");
  }
  if (w.shards > 256) return Status::InvalidArgument("shards: " + std::to_string(w.shards) + " (max 256)");
  if (w.tags < 1 || w.tags > kMaxTags) {
    return Status::InvalidArgument("tags: " + std::to_string(w.tags) + " (must be 1.." + std::to_string(kMaxTags) +
                                   ")");
  }
  return Status::OK();
}

Result<PeerResult> RunPeer(Peer peer, const Workload& workload, const std::string& parent_dir) {
  if (Status s = ValidateWorkload(workload); !s.ok()) return s;
  if (peer == Peer::kRocksDb && !HaveRocksDb()) return Status::NotSupported(std::string(kNoRocksDbMessage));
  auto dir = PeerDir::Make(parent_dir, PeerName(peer));
  if (!dir.ok()) return dir.status().WithContext(PeerName(peer));
  switch (peer) {
    case Peer::kShardwal:
    case Peer::kSingleLog: return RunShardwal(peer, workload, dir->path());
    case Peer::kNaive: return RunNaive(workload, dir->path());
    case Peer::kRocksDb: return RunRocks(workload, dir->path());
  }
  return Status::InvalidArgument("unknown peer");
}

Result<CompareReport> RunCompare(const CompareConfig& config) {
  if (Status s = ValidateWorkload(config.workload); !s.ok()) return s;
  if (config.peers.empty()) return Status::InvalidArgument("peers: none given");
  if (config.probe && !(config.probe_seconds > 0)) {
    return Status::InvalidArgument("probe-seconds: " + std::to_string(config.probe_seconds) + " (must be > 0)");
  }
  std::optional<ScratchDir> scratch;
  std::string parent = config.dir;
  if (parent.empty()) {
    auto made = ScratchDir::Make("", false, "shardwal-compare");
    if (!made.ok()) return made.status();
    scratch.emplace(std::move(*made));
    parent = scratch->path();
  } else {
    std::error_code ec;
    fs::create_directories(parent, ec);
    if (ec) return Status::IOError("cannot create " + parent + ": " + ec.message(), ec.value());
  }
  auto say = [&](const std::string& line) {
    if (config.progress != nullptr) *config.progress << "compare: " << line << std::endl;
  };

  CompareReport report;
  report.workload = config.workload;
  if (config.probe) {
    auto probe = ProbeDevice(parent, config.probe_seconds);
    if (!probe.ok()) return probe.status();
    report.probe = *probe;
    say("device probe: " + Grouped(probe->fdatasyncs_per_s) + " fdatasyncs/s (4 KiB, p50 " +
        Micros(probe->fdatasync_p50_us) + ", p99 " + Micros(probe->fdatasync_p99_us) + "), synced sequential " +
        Fixed(probe->synced_seq_mb_per_s, 0) + " MB/s");
  }
  if (config.warmup_seconds > 0) {
    Workload warm = config.workload;
    warm.seconds = std::min(config.warmup_seconds, warm.seconds);
    Result<PeerResult> r = RunPeer(config.peers.front(), warm, parent);
    if (!r.ok() && !r.status().IsNotSupported()) return r.status().WithContext("warm-up");
    if (r.ok()) say("warm-up: " + r->label + " for " + Fixed(warm.seconds, 1) + " s (not counted)");
  }
  for (Peer peer : config.peers) {
    if (std::any_of(report.results.begin(), report.results.end(), [&](const PeerResult& r) { return r.peer == peer; })) {
      continue;  // named twice: run once
    }
    Result<PeerResult> r = RunPeer(peer, config.workload, parent);
    if (!r.ok()) {
      if (r.status().IsNotSupported()) {
        report.skipped.push_back(std::string(PeerName(peer)) + ": " + r.status().message());
        say(report.skipped.back());
        continue;
      }
      return r.status();
    }
    say(r->label + ": " + Grouped(r->records_per_s) + " records/s, p50 " + Micros(r->p50_us) + ", p99 " +
        Micros(r->p99_us) + ", " + Grouped(r->fsyncs_per_s) + " fsyncs/s");
    report.results.push_back(std::move(*r));
  }
  return report;
}

void PrintCompareTable(std::ostream& out, const CompareReport& report) {
  const Workload& w = report.workload;
  out << "workload: " << w.writers << " writers, " << w.record_bytes << "-byte records, durability "
      << DurabilityName(w.durability) << ", " << WaitingText(w) << ", " << Fixed(w.seconds, 1)
      << " s per peer, tag routing over " << w.tags << " tags\n";
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
                   {"tags", w.tags}};
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
         "probe_fdatasyncs_per_s,probe_fdatasync_p50_us,probe_fdatasync_p99_us,probe_synced_seq_mb_per_s\n";
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
    out << '\n';
  }
  out.precision(precision);
  out << std::flush;
}

}  // namespace shardwal::tools
