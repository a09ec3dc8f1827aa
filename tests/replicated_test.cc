// SPDX-License-Identifier: Apache-2.0
// Durability::kReplicated and the replicated watermark R without NATS: a
// fake replicator through the public interface (Wal::AttachReplicator)
// decides what "the replica acknowledged". R never passes W, only moves up,
// releases its waiters in LSN order; a kReplicated append without a
// replicator fails at once, and one the replica does not acknowledge fails
// after Options::replication_timeout with an error naming the replicator,
// R, W and the replicator's last error. The real-cluster tests are in
// tests/replicated_cluster_test.cc.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "shardwal/wal.h"
#include "src/commit/durable_watermark.h"
#include "src/commit/replicated_watermark.h"
#include "tests/test_util.h"

namespace shardwal {
namespace {

using testing::TempDir;
using testing::TestOptions;
using namespace std::chrono_literals;

// ---- the watermark itself ---------------------------------------------------------------

TEST(ReplicatedWatermark, NeverPassesTheDurableWatermark) {
  std::atomic<Lsn> next{11};  // LSNs 1..10 handed out
  DurableWatermark w(2, &next);
  w.pending_floor(1).store(6);  // shard 1 holds LSN 6.. unsynced: W = 5
  ASSERT_EQ(w.Advance(), 5u);
  ReplicatedWatermark r(2, &w, /*per_shard=*/false);
  ASSERT_TRUE(r.Attach("fake").ok());
  // The replicator claims more than is durable: R stops at W.
  r.Advance(0, 10);
  r.Advance(1, 10);
  EXPECT_EQ(r.published(), 5u);
  // W moves on; R follows at the next report, and never passes W.
  w.pending_floor(1).store(DurableWatermark::kNoPending);
  ASSERT_EQ(w.Advance(), 10u);
  r.Advance(0, 10);
  EXPECT_EQ(r.published(), 10u);
  EXPECT_LE(r.published(), w.published());
}

TEST(ReplicatedWatermark, OnlyMovesUpAndIsTheMinimumOverShards) {
  std::atomic<Lsn> next{101};
  DurableWatermark w(3, &next);
  ASSERT_EQ(w.Advance(), 100u);
  ReplicatedWatermark r(3, &w, false);
  ASSERT_TRUE(r.Attach("fake").ok());
  r.Advance(0, 50);
  r.Advance(1, 40);
  EXPECT_EQ(r.published(), 0u);  // shard 2 has reported nothing
  r.Advance(2, 60);
  EXPECT_EQ(r.published(), 40u);
  r.Advance(1, 30);  // lower than before: ignored
  EXPECT_EQ(r.published(), 40u);
  r.Advance(1, 90);
  EXPECT_EQ(r.published(), 50u);
  EXPECT_EQ(r.ShardPublished(1), 90u);
}

TEST(ReplicatedWatermark, ReleasesExactlyTheCoveredWaiters) {
  std::atomic<Lsn> next{101};
  DurableWatermark w(1, &next);
  ASSERT_EQ(w.Advance(), 100u);
  ReplicatedWatermark r(1, &w, false);
  ASSERT_TRUE(r.Attach("fake").ok());
  std::mutex mu;
  std::vector<Lsn> order;
  std::vector<std::thread> threads;
  const std::vector<Lsn> lsns = {70, 10, 50, 30, 90};
  std::atomic<int> started{0};
  for (Lsn l : lsns) {
    threads.emplace_back([&, l] {
      ++started;
      Status s = r.Wait(l, std::nullopt, std::chrono::steady_clock::now() + 30s, 30s);
      EXPECT_TRUE(s.ok()) << s.ToString();
      std::lock_guard lk(mu);
      order.push_back(l);
    });
  }
  while (started.load() < 5) std::this_thread::yield();
  // Covers 10, 30, 50 only; the rest stay asleep.
  std::this_thread::sleep_for(50ms);  // (test only) let every waiter enqueue
  r.Advance(0, 55);
  for (;;) {
    {
      std::lock_guard lk(mu);
      if (order.size() == 3) break;
    }
    std::this_thread::yield();
  }
  {
    std::lock_guard lk(mu);
    EXPECT_EQ(order.size(), 3u);
    for (Lsn l : order) EXPECT_LE(l, 55u);
  }
  r.Advance(0, 100);
  for (auto& t : threads) t.join();
  EXPECT_EQ(order.size(), 5u);
}

TEST(ReplicatedWatermark, PerShardWaitsForItsOwnShard) {
  std::atomic<Lsn> next{101};
  DurableWatermark w(2, &next);
  w.Advance();
  w.AdvanceShard(0);
  w.AdvanceShard(1);
  ReplicatedWatermark r(2, &w, /*per_shard=*/true);
  ASSERT_TRUE(r.Attach("fake").ok());
  r.Advance(1, 80);
  EXPECT_EQ(r.published(), 0u);  // shard 0 still holds the global R
  EXPECT_TRUE(r.Wait(80, 1u, std::chrono::steady_clock::now() + 1s, 1s).ok());
  Status s = r.Wait(80, 0u, std::chrono::steady_clock::now() + 20ms, 20ms);
  EXPECT_TRUE(s.IsBusy()) << s.ToString();
  EXPECT_NE(s.message().find("of shard 0"), std::string::npos) << s.ToString();
}

// ---- through the Wal ----------------------------------------------------------------------

AppendOptions Replicated() {
  AppendOptions o;
  o.durability = Durability::kReplicated;
  return o;
}

TEST(Replicated, ParsesAndNames) {
  EXPECT_EQ(ParseDurability("replicated"), Durability::kReplicated);
  EXPECT_EQ(DurabilityName(Durability::kReplicated), "replicated");
}

TEST(Replicated, TimeoutMustBePositive) {
  TempDir dir;
  Options o = TestOptions(dir.path());
  o.replication_timeout = 0ms;
  auto wal = Wal::Open(o);
  ASSERT_FALSE(wal.ok());
  EXPECT_TRUE(wal.status().IsInvalidArgument());
  EXPECT_NE(wal.status().message().find("replication_timeout"), std::string::npos) << wal.status().ToString();
}

TEST(Replicated, WithoutAReplicatorFailsAtOnceAndTakesNoLsn) {
  TempDir dir;
  auto wal = Wal::Open(TestOptions(dir.path()));
  ASSERT_TRUE(wal.ok()) << wal.status().ToString();
  const auto t0 = std::chrono::steady_clock::now();
  auto r = (*wal)->Append("t", "p", Replicated());
  ASSERT_FALSE(r.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
  EXPECT_TRUE(r.status().IsInvalidArgument()) << r.status().ToString();
  EXPECT_NE(r.status().message().find("durability replicated needs an attached replicator"), std::string::npos)
      << r.status().ToString();
  EXPECT_EQ((*wal)->LastLsn(), 0u);
  RecordSpec spec{"t", "p"};
  auto b = (*wal)->AppendBatch(std::span<const RecordSpec>(&spec, 1), Durability::kReplicated);
  EXPECT_TRUE(b.status().IsInvalidArgument()) << b.status().ToString();
  // kGroup is unaffected.
  auto g = (*wal)->Append("t", "p");
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  // WaitReplicated of a durable LSN with nobody to replicate it.
  Status w = (*wal)->WaitReplicated(*g, 100ms);
  EXPECT_TRUE(w.IsNotSupported()) << w.ToString();
  EXPECT_TRUE((*wal)->WaitReplicated(*g + 5, 100ms).IsInvalidArgument());
}

TEST(Replicated, AppendReturnsOnceTheReplicatorAdvances) {
  TempDir dir;
  auto wal = Wal::Open(TestOptions(dir.path(), 2));
  ASSERT_TRUE(wal.ok()) << wal.status().ToString();
  Wal& w = **wal;
  auto handle = w.AttachReplicator("fake-stream");
  ASSERT_TRUE(handle.ok()) << handle.status().ToString();
  // A second replicator is refused.
  auto second = w.AttachReplicator("other");
  EXPECT_TRUE(second.status().IsBusy()) << second.status().ToString();

  auto fut = std::async(std::launch::async, [&] { return w.Append("t", "payload", Replicated()); });
  // Durable, but not replicated: the append is still waiting.
  while (w.LastLsn() == 0) std::this_thread::yield();  // (test) the append took its LSN
  ASSERT_TRUE(w.WaitDurable(1).ok());
  EXPECT_EQ(fut.wait_for(100ms), std::future_status::timeout);
  EXPECT_EQ(w.ReplicatedLsn(), 0u);
  auto replicated = w.ReplicatedFuture(1);
  (*handle)->Advance(0, 1);
  (*handle)->Advance(1, 1);
  auto r = fut.get();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, 1u);
  EXPECT_EQ(w.ReplicatedLsn(), 1u);
  EXPECT_EQ(w.Stats().replicated_lsn, 1u);
  EXPECT_TRUE(replicated.get().ok());
  EXPECT_TRUE(w.WaitReplicated(1).ok());

  // A batch over both shards returns once R covers its last record.
  const RecordSpec specs[] = {{"a", "1"}, {"b", "2"}, {"c", "3"}, {"d", "4"}};
  auto batch = std::async(std::launch::async, [&] { return w.AppendBatch(specs, Durability::kReplicated); });
  while (w.LastLsn() < 5) std::this_thread::yield();  // (test) the batch took its LSNs
  ASSERT_TRUE(w.WaitDurable(5).ok());
  EXPECT_EQ(batch.wait_for(50ms), std::future_status::timeout);
  (*handle)->Advance(0, 5);
  EXPECT_EQ(batch.wait_for(50ms), std::future_status::timeout);  // shard 1 has not reported
  (*handle)->Advance(1, 5);
  auto range = batch.get();
  ASSERT_TRUE(range.ok()) << range.status().ToString();
  EXPECT_EQ(range->last, 5u);
  EXPECT_EQ(w.ReplicatedLsn(), 5u);
}

TEST(Replicated, TimesOutNamingTheReplicatorAndItsError) {
  TempDir dir;
  Options o = TestOptions(dir.path(), 1);
  o.replication_timeout = 200ms;
  auto wal = Wal::Open(o);
  ASSERT_TRUE(wal.ok()) << wal.status().ToString();
  Wal& w = **wal;
  auto handle = w.AttachReplicator("ship:WAL at nats://127.0.0.1:4222");
  ASSERT_TRUE(handle.ok());
  (*handle)->SetError(Status::IOError("no quorum"));
  const auto t0 = std::chrono::steady_clock::now();
  auto r = w.Append("t", "p", Replicated());
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsBusy()) << r.status().ToString();
  EXPECT_GE(took, 200ms);
  EXPECT_LT(took, 5s);
  const std::string m = r.status().message();
  EXPECT_NE(m.find("LSN 1 not acknowledged by replicator 'ship:WAL at nats://127.0.0.1:4222' within 200 ms"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("replicated LSN 0"), std::string::npos) << m;
  EXPECT_NE(m.find("durable LSN 1"), std::string::npos) << m;
  EXPECT_NE(m.find("no quorum"), std::string::npos) << m;
  // Local durability carried on: the record is durable, kGroup appends work.
  EXPECT_EQ(w.DurableLsn(), 1u);
  auto g = w.Append("t", "p");
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  // The replica comes back: R catches up and later waits succeed.
  (*handle)->SetError(Status::OK());
  (*handle)->Advance(0, 2);
  EXPECT_EQ(w.ReplicatedLsn(), 2u);
  EXPECT_TRUE(w.WaitReplicated(1, 1s).ok());
}

TEST(Replicated, DetachAndCloseEndTheWaits) {
  TempDir dir;
  Options o = TestOptions(dir.path(), 1);
  o.replication_timeout = 30s;
  auto wal = Wal::Open(o);
  ASSERT_TRUE(wal.ok()) << wal.status().ToString();
  Wal& w = **wal;
  auto handle = w.AttachReplicator("fake");
  ASSERT_TRUE(handle.ok());
  auto fut = std::async(std::launch::async, [&] { return w.Append("t", "p", Replicated()); });
  while (w.LastLsn() == 0) std::this_thread::yield();  // (test) the append took its LSN
  ASSERT_TRUE(w.WaitDurable(1).ok());
  auto cb = w.ReplicatedFuture(1);
  handle->reset();  // detached: the waiter is not left to its 30 s
  auto r = fut.get();
  EXPECT_TRUE(r.status().IsClosed()) << r.status().ToString();
  EXPECT_NE(r.status().message().find("replicator 'fake' detached"), std::string::npos) << r.status().ToString();
  // A new replicator may attach; OnReplicated callbacks still pending get
  // Closed at Close.
  auto again = w.AttachReplicator("fake2");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  again->reset();
  ASSERT_TRUE(w.Close().ok());
  Status s = cb.get();
  EXPECT_TRUE(s.IsClosed()) << s.ToString();
}

}  // namespace
}  // namespace shardwal
