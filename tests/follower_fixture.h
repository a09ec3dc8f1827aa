// SPDX-License-Identifier: Apache-2.0
// What the follower tests share (tests/follower_test.cc, one server;
// tests/follower_cluster_test.cc, three): a primary's options and appends,
// a follower process (the CLI) to SIGKILL, a LogTailer checking a
// replica's directory, and record-by-record comparison of two WALs.
#pragma once

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "shardwal/follower.h"
#include "shardwal/recovery.h"
#include "shardwal/ship.h"
#include "shardwal/tailer.h"
#include "shardwal/wal.h"
#include "tests/cli_util.h"
#include "tests/nats_server.h"
#include "tests/tagged_records.h"

namespace shardwal::follower_test {

inline constexpr std::uint32_t kShards = 4;

inline Options WalOptions(const std::string& dir) {
  Options o;
  o.dir = dir;
  o.num_shards = kShards;
  o.routing = Routing::kTag;
  o.segment_bytes = 1u << 20;
  return o;
}

inline ShipOptions Ship(const std::string& url, const std::string& stream, int replicas = 1) {
  ShipOptions o;
  o.nats_url = url;
  o.stream = stream;
  o.replicas = replicas;
  o.max_backoff = std::chrono::milliseconds(200);
  o.max_message_bytes = 16384;  // many messages: the follower's rounds cut them at every point
  return o;
}

inline FollowerOptions Follow(const std::string& url, const std::string& stream, const std::string& dir) {
  FollowerOptions o;
  o.nats_url = url;
  o.stream = stream;
  o.dir = dir;
  o.segment_bytes = 256u << 10;  // rotations too
  o.max_backoff = std::chrono::milliseconds(200);
  return o;
}

// Appends `n` records in batches of up to 100 (tests/tagged_records.h);
// returns the last LSN.
inline Lsn AppendRecords(Wal& wal, std::uint64_t n, std::uint64_t seed) {
  return testing::AppendTaggedRecords(wal, n, seed, 100);
}

// `shardwal follow` as a child process (stdout to /dev/null).
inline pid_t SpawnFollow(const std::string& url, const std::string& stream, const std::string& dir) {
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  if (std::freopen("/dev/null", "w", stdout) == nullptr) ::_exit(126);
  const char* argv[] = {"shardwal", "follow", "--nats", url.c_str(), "--stream", stream.c_str(), dir.c_str(),
                        nullptr};
  ::execv(SHARDWAL_CLI_PATH, const_cast<char* const*>(argv));
  ::_exit(127);
}

// Every record of both WALs (closed, or a follower's directory), compared
// one by one: LSN, type, transaction, tag, payload, commit time.
inline ::testing::AssertionResult SameRecords(const std::string& a, const std::string& b, Lsn n) {
  std::vector<std::string> recs[2];
  const std::string dirs[2] = {a, b};
  for (int i = 0; i < 2; ++i) {
    Options o;
    o.dir = dirs[i];
    o.recovery_mode = RecoveryMode::kTolerateTornTail;
    auto reader = LogReader::Open(o);
    if (!reader.ok()) return ::testing::AssertionFailure() << dirs[i] << ": " << reader.status().ToString();
    Status s = (*reader)->Replay(1, [&](const ReplayRecord& r) {
      if (r.lsn > n) return false;
      recs[i].push_back(std::to_string(r.lsn) + "/" + std::to_string(static_cast<int>(r.type)) + "/" +
                        std::to_string(r.txn_id) + "/" + std::string(r.tag) + "/" + std::string(r.payload) + "/" +
                        std::to_string(r.commit_time_ns));
      return true;
    });
    if (!s.ok()) return ::testing::AssertionFailure() << dirs[i] << ": " << s.ToString();
  }
  if (recs[0].size() != n || recs[1].size() != n) {
    return ::testing::AssertionFailure() << a << " has " << recs[0].size() << " records up to LSN " << n << ", " << b
                                         << " " << recs[1].size();
  }
  for (std::size_t i = 0; i < recs[0].size(); ++i) {
    if (recs[0][i] != recs[1][i]) {
      return ::testing::AssertionFailure() << "record " << i << " differs: " << recs[0][i] << " vs " << recs[1][i];
    }
  }
  return ::testing::AssertionSuccess();
}

// A LogTailer on a replica's directory, on a thread: checks that records
// come in LSN order with no gap, never above the watermark it read.
class TailCheck {
 public:
  explicit TailCheck(std::string dir) : dir_(std::move(dir)) {}
  ~TailCheck() { Stop(); }

  void Start() {
    thread_ = std::thread([this] { Run(); });
  }
  void Stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  // Waits (bounded) for the tailer to have delivered up to `lsn`.
  void WaitFor(Lsn lsn) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (delivered_.load() < lsn && std::chrono::steady_clock::now() < deadline && error().empty()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  Lsn delivered() const { return delivered_.load(); }
  std::string error() const {
    std::lock_guard<std::mutex> lk(mu_);
    return error_;
  }

 private:
  void Fail(const std::string& e) {
    std::lock_guard<std::mutex> lk(mu_);
    if (error_.empty()) error_ = e;
  }
  void Run() {
    Options o;
    o.dir = dir_;
    TailerOptions t;
    t.name = "replica-check";
    std::unique_ptr<LogTailer> tailer;
    // The follower creates the directory's MANIFEST and WATERMARK once it
    // received every shard's first message: retry the open until then.
    for (int i = 0; i < 200 && !stop_.load(); ++i) {
      auto opened = LogTailer::Open(o, t);
      if (opened.ok()) {
        tailer = std::move(*opened);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (!tailer) {
      if (!stop_.load()) Fail("LogTailer::Open on " + dir_ + " never succeeded");
      return;
    }
    TailReadOptions read;
    read.timeout = std::chrono::milliseconds(100);
    while (!stop_.load()) {
      auto n = tailer->Read([&](const ReplayRecord& r) {
        if (r.lsn != delivered_.load() + 1) Fail("LSN " + std::to_string(r.lsn) + " after " + std::to_string(delivered_.load()));
        if (r.lsn > tailer->durable_lsn()) Fail("LSN " + std::to_string(r.lsn) + " above the watermark " + std::to_string(tailer->durable_lsn()));
        delivered_.store(r.lsn);
        return true;
      }, read);
      if (!n.ok()) {
        Fail("tailer: " + n.status().ToString());
        return;
      }
    }
  }

  const std::string dir_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<Lsn> delivered_{kNoLsn};
  mutable std::mutex mu_;
  std::string error_;
};

}  // namespace shardwal::follower_test
