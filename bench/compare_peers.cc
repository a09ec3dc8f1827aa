// SPDX-License-Identifier: Apache-2.0
// The peers of `shardwal bench --compare` (bench/compare_peers.h): the
// writer loop for the peers that are not shardwal, and each peer's run.
#include "bench/compare_peers.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include "bench/bench_engine.h"
#include "bench/latency_histogram.h"
#include "bench/naive_wal.h"
#include "bench/payload.h"
#include "bench/rocksdb_peer.h"
#include "bench/writer_gate.h"

namespace shardwal::tools {

namespace {

using Clock = std::chrono::steady_clock;

double Secs(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
double Div(double a, double b) { return b > 0 ? a / b : 0.0; }

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
  std::uint64_t payload_bytes = 0;
};

struct WritersResult {
  std::uint64_t records = 0;
  std::uint64_t payload_bytes = 0;  // of the records appended
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
    // Time-series points: this writer's hosts, as RunBench assigns them.
    std::optional<TimeSeriesPoints> points;
    if (w.payload == PayloadKind::kTimeSeries) points.emplace(id, w.writers, w.tags);
    auto append = [&](std::uint64_t seq) {
      if (points) {
        const TimeSeriesPoints::Point p = points->Next();
        st.payload_bytes += p.line.size();
        return target.Append(p.host, seq, p.line, sync_each);
      }
      StampSequence(payload, seq);
      st.payload_bytes += payload.size();
      const auto tag = static_cast<std::uint32_t>(base + step * PickBelow(rng, ntags));
      return target.Append(tag, seq, payload, sync_each);
    };
    gate.ready.count_down();
    const Clock::time_point end = gate.AwaitStart();
    // As in `shardwal bench`: appends that do not wait are timed 1 in 16
    // (the clock costs as much as such an append); all are counted.
    const std::uint64_t sample_mask = per_round == 1 && !sync_each ? 15 : 0;
    std::uint64_t seq = 0;
    while (!gate.Stopped()) {
      if ((seq & sample_mask) != 0) {
        if (Status s = append(seq); !s.ok()) {
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
        if (Status s = append(seq); !s.ok()) {
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
    r.payload_bytes += st.payload_bytes;
  }
  return r;
}

void FillFromWriters(PeerResult& p, const WritersResult& wr, const Workload& w) {
  p.records = wr.records;
  p.seconds = wr.seconds;
  p.records_per_s = Div(static_cast<double>(wr.records), wr.seconds);
  p.mb_per_s = Div(static_cast<double>(wr.payload_bytes), wr.seconds) / 1e6;
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

}  // namespace

std::string LatencyKind(const Workload& w) {
  if (w.wait_every > 1) return "wait_every_" + std::to_string(w.wait_every);
  return w.durability == Durability::kGroup ? "append_to_durable" : "append_call";
}

// ---- the peers ----------------------------------------------------------------------------

Result<PeerResult> RunShardwalPeer(Peer peer, const Workload& w, const std::string& dir) {
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
  c.payload = w.payload;
  c.compression = w.compression;
  c.compression_level = w.compression_level;
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
  p.volume = b->volume;
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

Result<PeerResult> RunNaivePeer(const Workload& w, const std::string& dir) {
  const DeviceWriteCounter device(dir);
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
  p.volume.measured = device.available();
  p.volume.source = device.source();
  p.volume.device_bytes = device.Bytes();
  p.volume.payload_bytes = wr->payload_bytes;
  p.volume.framing_bytes = p.records * kNaiveHeaderBytes;
  p.volume.Finish();
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

Result<PeerResult> RunRocksPeer(const Workload& w, const std::string& dir) {
  if (!HaveRocksDb()) return Status::NotSupported(std::string(kNoRocksDbMessage));
  const bool sync = w.wait_every <= 1 && w.durability == Durability::kGroup;
  const DeviceWriteCounter device(dir);
  RocksPeerOptions o;
  o.dir = dir;
  o.sync = sync;
  // A stock memtable (RocksDB's default write buffer, flushed to SST files
  // in the background when full): what a user of RocksDB as a log gets.
  o.memtable_only = false;
  o.statistics = true;
  o.wal_compression_zstd = w.compression == Compression::kZstd;
  auto db = RocksPeer::Open(o);
  if (!db.ok()) return db.status().WithContext("rocksdb");
  RocksTarget target(**db);
  auto wr = RunWriters(target, w, "rocksdb");
  if (!wr.ok()) return wr.status();
  if (!sync) {
    if (Status s = (*db)->SyncWAL(); !s.ok()) return s.WithContext("rocksdb");  // untimed, as Close() is
  }
  const std::uint64_t syncs = (*db)->WalSyncs();
  const std::uint64_t wal_bytes = (*db)->WalBytes();
  if (Status s = (*db)->Close(); !s.ok()) return s.WithContext("rocksdb");
  PeerResult p;
  p.peer = Peer::kRocksDb;
  const std::string version = RocksDbVersion();
  p.label = "rocksdb " + version +
            (sync ? " (sync=true" : w.wait_every > 1 ? " (sync=false + SyncWAL" : " (sync=false") +
            (o.wal_compression_zstd ? ", wal_compression=zstd)" : ")");
  FillFromWriters(p, *wr, w);
  FillSyncs(p, syncs);
  p.volume.measured = device.available();
  p.volume.source = device.source();
  p.volume.device_bytes = device.Bytes();
  p.volume.payload_bytes = wr->payload_bytes + p.records * kRocksKeyBytes;
  // Its WAL's own framing (compressed: what the WAL wrote below the payload
  // is what compression saved, less the framing, which it cannot tell
  // apart); "other" holds the memtable flushes to SST files.
  if (wal_bytes >= p.volume.payload_bytes) {
    p.volume.framing_bytes = wal_bytes - p.volume.payload_bytes;
  } else {
    p.volume.compression_saved_bytes = p.volume.payload_bytes - wal_bytes;
  }
  p.volume.Finish();
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

}  // namespace shardwal::tools
