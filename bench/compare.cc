// SPDX-License-Identifier: Apache-2.0
// The comparison engine behind `shardwal bench --compare` and `--sweep`
// (bench/compare.h): each peer runs the same workload in a fresh directory
// under one parent, one after the other, so they share the device and
// never each other's time. The peers' runs are in bench/compare_peers.cc,
// the table, JSON and CSV in bench/compare_report.cc.
#include "bench/compare.h"

#include <stdlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <ostream>
#include <system_error>
#include <utility>

#include "bench/bench_engine.h"
#include "bench/bench_limits.h"
#include "bench/compare_peers.h"
#include "bench/rocksdb_peer.h"
#include "bench/scratch_dir.h"
#include "bench/text_format.h"

namespace shardwal::tools {

namespace {

namespace fs = std::filesystem;

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
  if (Status s = ValidateCompression(w.compression, w.compression_level); !s.ok()) return s;
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
    case Peer::kSingleLog: return RunShardwalPeer(peer, workload, dir->path());
    case Peer::kNaive: return RunNaivePeer(workload, dir->path());
    case Peer::kRocksDb: return RunRocksPeer(workload, dir->path());
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

}  // namespace shardwal::tools
