// SPDX-License-Identifier: Apache-2.0
// kReplicated appends from many threads while a fake replicator (through the
// public Wal::AttachReplicator) advances R behind W, per shard: every append
// returns with its LSN covered by R, R is observed monotone and never above
// W. Label concurrency: ThreadSanitizer runs it.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "shardwal/wal.h"
#include "tests/test_util.h"

namespace shardwal {
namespace {

using testing::TempDir;
using testing::TestOptions;
using namespace std::chrono_literals;

void RunWriters(Consistency consistency) {
  TempDir dir;
  Options o = TestOptions(dir.path(), 3);
  o.consistency = consistency;
  o.replication_timeout = 30s;
  auto opened = Wal::Open(o);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  Wal& w = **opened;
  auto handle = w.AttachReplicator("fake");
  ASSERT_TRUE(handle.ok()) << handle.status().ToString();
  ReplicatorHandle& rep = **handle;

  std::atomic<bool> stop{false};
  std::atomic<int> violations{0};
  // The replicator: "ships" what is durable, one shard at a time, so the
  // shards' frontiers differ while R is computed.
  std::thread replicator([&] {
    while (!stop.load()) {
      const Lsn d = w.DurableLsn();
      for (std::uint32_t s = 0; s < w.num_shards(); ++s) {
        const Lsn f = w.Stats().shards[s].durable_frontier;
        rep.Advance(s, std::min(d, f));
      }
      std::this_thread::sleep_for(100us);  // (test only) a replica round trip
    }
  });
  // The observer: R monotone, R <= W (R read first: W only grows).
  std::thread observer([&] {
    Lsn last = 0;
    while (!stop.load()) {
      const Lsn r = w.ReplicatedLsn();
      const Lsn d = w.DurableLsn();
      if (r < last || r > d) violations.fetch_add(1);
      last = r;
      std::this_thread::yield();
    }
  });
  constexpr int kWriters = 8, kEach = 300;
  std::vector<std::thread> writers;
  for (int t = 0; t < kWriters; ++t) {
    writers.emplace_back([&, t] {
      AppendOptions a;
      a.durability = Durability::kReplicated;
      for (int i = 0; i < kEach; ++i) {
        auto r = w.Append("tag" + std::to_string(t * 7 + i % 5), "payload", a);
        if (!r.ok()) {
          ADD_FAILURE() << r.status().ToString();
          return;
        }
        if (consistency == Consistency::kGlobal && w.ReplicatedLsn() < *r) violations.fetch_add(1);
      }
    });
  }
  for (auto& t : writers) t.join();
  stop.store(true);
  replicator.join();
  observer.join();
  EXPECT_EQ(violations.load(), 0);
  EXPECT_EQ(w.LastLsn(), static_cast<Lsn>(kWriters * kEach));
  EXPECT_LE(w.ReplicatedLsn(), w.DurableLsn());
  handle->reset();
  ASSERT_TRUE(w.Close().ok());
}

TEST(ReplicatedConcurrency, GlobalConsistency) { RunWriters(Consistency::kGlobal); }
TEST(ReplicatedConcurrency, PerShardConsistency) { RunWriters(Consistency::kPerShard); }

}  // namespace
}  // namespace shardwal
