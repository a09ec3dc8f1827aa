// SPDX-License-Identifier: Apache-2.0
// The durable watermark: never ahead of stable storage, monotonic, not held
// back by idle shards, held back by a stalled one; and its waiters.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "shardwal/testing/fault_injection_file_system.h"
#include "shardwal/wal.h"
#include "src/commit/cohort_tracker.h"
#include "src/commit/durable_watermark.h"
#include "src/foundation/format.h"
#include "tests/test_util.h"

namespace shardwal {
namespace {

using testing::TempDir;
using testing::TestOptions;

constexpr Lsn kNone = DurableWatermark::kNoPending;

// ---- the publication protocol, step by step ----------------------------------

TEST(DurableWatermarkProtocol, PreemptedWriterHoldsTheWatermark) {
  std::atomic<Lsn> next{1};
  DurableWatermark wm(2, &next);
  // Shard 1: a writer reserved its floor and took LSN 1, then was preempted
  // before its record reached the buffer.
  wm.pending_floor(1).store(next.load());
  const Lsn stuck = next.fetch_add(1);
  // Shard 0 took LSN 2 and made it durable.
  wm.pending_floor(0).store(next.load());
  next.fetch_add(1);
  wm.pending_floor(0).store(kNone);
  EXPECT_EQ(wm.Advance(), stuck - 1) << "W covered an LSN that is not on disk";
  // The writer resumes; its shard syncs.
  wm.pending_floor(1).store(kNone);
  EXPECT_EQ(wm.Advance(), 2u);
}

TEST(DurableWatermarkProtocol, IdleShardsFollowTheCounter) {
  std::atomic<Lsn> next{1};
  DurableWatermark wm(4, &next);
  EXPECT_EQ(wm.Advance(), 0u);
  next.fetch_add(10);  // LSNs 1..10 went to shards that are all synced again
  EXPECT_EQ(wm.Advance(), 10u);
  wm.pending_floor(2).store(11);
  next.fetch_add(5);
  EXPECT_EQ(wm.Advance(), 10u);
  EXPECT_EQ(wm.Frontier(0), 15u);  // idle: every future LSN of it is > 15
  EXPECT_EQ(wm.Frontier(2), 10u);
}

TEST(DurableWatermarkProtocol, NeverMovesBackwards) {
  std::atomic<Lsn> next{1};
  DurableWatermark wm(2, &next);
  next.fetch_add(20);
  EXPECT_EQ(wm.Advance(), 20u);
  wm.pending_floor(0).store(5);  // a (bogus) lower floor cannot pull W back
  EXPECT_EQ(wm.Advance(), 20u);
  EXPECT_EQ(wm.published(), 20u);
}

// Waits until `pred` holds (test-side only), at most 10 s.
template <typename Pred>
bool Eventually(Pred pred) {
  for (int i = 0; i < 10000 && !pred(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return pred();
}

TEST(DurableWatermarkProtocol, WakesExactlyTheCoveredWaiters) {
  std::atomic<Lsn> next{1};
  DurableWatermark wm(2, &next);
  wm.pending_floor(0).store(1);
  next.fetch_add(64);
  std::atomic<int> woken{0};
  std::vector<std::thread> waiters;
  for (Lsn l = 1; l <= 64; ++l) {
    waiters.emplace_back([&, l] {
      EXPECT_TRUE(wm.Wait(l, static_cast<std::uint32_t>(l)).ok());
      EXPECT_GE(wm.published(), l);
      woken.fetch_add(1);
    });
  }
  wm.pending_floor(0).store(33);
  EXPECT_EQ(wm.Advance(), 32u);
  EXPECT_TRUE(Eventually([&] { return woken.load() == 32; })) << woken.load();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(woken.load(), 32) << "a waiter above W woke up";
  wm.pending_floor(0).store(kNone);
  EXPECT_EQ(wm.Advance(), 64u);
  for (auto& t : waiters) t.join();
  EXPECT_EQ(woken.load(), 64);
}

// ---- CohortTracker: the batch-cut heuristic's bookkeeping ------------------------

TEST(CohortTracker, OnlyTheLastReturnerOfACohortCompletesIt) {
  CohortTracker c;
  const std::uint32_t gen = c.Woke(3);
  EXPECT_EQ(c.outstanding(), 3u);
  EXPECT_FALSE(c.Returned(gen));
  EXPECT_FALSE(c.Returned(gen));
  EXPECT_EQ(c.outstanding(), 1u);
  EXPECT_TRUE(c.Returned(gen));
  EXPECT_EQ(c.outstanding(), 0u);
  EXPECT_FALSE(c.Returned(gen)) << "a cohort completes once";
}

TEST(CohortTracker, ANewCohortReplacesTheOldOneAndLateReturnersDoNotCount) {
  CohortTracker c;
  const std::uint32_t old_gen = c.Woke(5);
  const std::uint32_t gen = c.Woke(2);
  EXPECT_NE(gen, old_gen);
  EXPECT_EQ(c.outstanding(), 2u);
  EXPECT_FALSE(c.Returned(old_gen));
  EXPECT_EQ(c.outstanding(), 2u) << "a writer of the replaced cohort was counted against the new one";
  EXPECT_FALSE(c.Returned(gen));
  EXPECT_TRUE(c.Returned(gen));
}

TEST(CohortTracker, LearnsHowLongACohortTakesToReturn) {
  CohortTracker c;
  c.Woke(4);
  EXPECT_EQ(c.ExpectedReturn().count(), 0) << "nothing learned before a cohort came back";
  const std::uint32_t gen = c.Woke(2);
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  c.Returned(gen);
  EXPECT_TRUE(c.Returned(gen));
  c.Woke(10);
  // ~1 ms per writer learned, 10 outstanding: ~10 ms expected.
  EXPECT_GE(c.ExpectedReturn(), std::chrono::milliseconds(5));
}

TEST(CohortTracker, TheWatermarkEnrolsTheWaitersItWakes) {
  std::atomic<Lsn> next{1};
  DurableWatermark wm(1, &next);
  CohortTracker cohort;
  wm.SetCohortTracker(&cohort);
  wm.pending_floor(0).store(1);
  next.fetch_add(8);
  std::atomic<int> enrolled{0};
  std::mutex mu;
  std::vector<std::uint32_t> gens;
  std::vector<std::thread> waiters;
  for (Lsn l = 1; l <= 8; ++l) {
    waiters.emplace_back([&, l] {
      EXPECT_TRUE(wm.Wait(l, 0).ok());
      const CohortTracker::Membership m = CohortTracker::ThisThread();
      if (m.tracker == &cohort) {
        enrolled.fetch_add(1);
        std::lock_guard lk(mu);
        gens.push_back(m.gen);
      }
    });
  }
  // Let every waiter block (a waiter that sees W covered already is not
  // woken, so it is not part of the cohort: the test then only checks
  // that the woken ones all are).
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  wm.pending_floor(0).store(DurableWatermark::kNoPending);
  EXPECT_EQ(wm.Advance(), 8u);
  for (auto& t : waiters) t.join();
  // Normally all 8 (they had 50 ms to block); on a starved machine a late
  // one may have found W covered and never slept. Either way the count the
  // flush threads wait for is exactly the waiters that were woken.
  EXPECT_GE(enrolled.load(), 1);
  EXPECT_EQ(cohort.outstanding(), static_cast<std::uint32_t>(enrolled.load()));
  for (std::uint32_t g : gens) EXPECT_EQ(g, gens.front());
}

TEST(DurableWatermarkProtocol, FailWakesEveryoneWithTheError) {
  std::atomic<Lsn> next{1};
  DurableWatermark wm(1, &next);
  wm.pending_floor(0).store(1);
  next.fetch_add(8);
  std::vector<std::future<Status>> f;
  for (Lsn l = 1; l <= 8; ++l) f.push_back(std::async(std::launch::async, [&, l] { return wm.Wait(l, 0); }));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  wm.Fail(Status::IOError("fdatasync /x: Input/output error", EIO));
  for (auto& x : f) {
    Status s = x.get();
    EXPECT_TRUE(s.IsIOError());
    EXPECT_EQ(s.sys_errno(), EIO);
  }
  EXPECT_TRUE(wm.Wait(5, 0).IsIOError());  // later waiters too
}

// A waiter that registers while the watermark is being published must not
// miss the wake-up: with nothing published afterwards it would sleep
// forever. Many rounds of "waiters arrive, W moves exactly once".
TEST(DurableWatermarkProtocol, NoLostWakeUpWhenPublishingRacesRegistration) {
  constexpr int kRounds = 3000, kWaiters = 3;
  std::atomic<Lsn> next{1};
  DurableWatermark wm(2, &next);
  std::atomic<int> round{0}, done{0};
  std::vector<std::thread> waiters;
  for (int t = 0; t < kWaiters; ++t) {
    waiters.emplace_back([&, t] {
      for (int r = 1; r <= kRounds; ++r) {
        while (round.load() < r) std::this_thread::yield();
        EXPECT_TRUE(wm.Wait(Lsn(r), static_cast<std::uint32_t>(t)).ok());
        done.fetch_add(1);
      }
    });
  }
  for (int r = 1; r <= kRounds; ++r) {
    round.store(r);  // release the waiters for LSN r ...
    next.fetch_add(1);
    wm.Advance();    // ... and publish W = r exactly once, racing them
    const bool all_woke = Eventually([&] { return done.load() == r * kWaiters; });
    ASSERT_TRUE(all_woke) << "round " << r << ": a waiter slept through the only publication";
  }
  for (auto& w : waiters) w.join();
}

// ---- against what is really on stable storage ----------------------------------

// Tracks which LSNs are in synced bytes, by parsing each file's newly synced
// range from the fault-injecting file system's sync observer.
class SyncedLsnTracker {
 public:
  explicit SyncedLsnTracker(std::size_t max_lsn) : synced_(max_lsn + 1) {}

  // Only the shard's flush thread writes a segment, and it is the thread
  // syncing it: what the file holds now is what this sync made durable.
  // Batches are parsed from where the last sync left off to where valid
  // batches end (preallocated zeros, a seal), whatever the file's size.
  void OnSync(const std::string& path, std::uint64_t) {
    if (!path.ends_with(".wal")) return;  // the MANIFEST
    std::lock_guard lk(mu_);
    auto file = FileSystem::Default()->NewReadableFile(path);
    ASSERT_TRUE(file.ok());
    auto size = (*file)->Size();
    ASSERT_TRUE(size.ok());
    std::uint64_t& done = parsed_[path];
    if (done == 0) done = format::kSegmentHeaderBytes;
    if (*size <= done) return;
    std::string bytes(*size - done, '\0');
    auto n = (*file)->PRead(done, bytes.size(), bytes.data());
    ASSERT_TRUE(n.ok() && *n == bytes.size());
    std::size_t pos = 0;
    while (pos + format::kBatchHeaderBytes <= bytes.size()) {
      format::BatchHeader bh;
      if (!format::DecodeBatchHeader(bytes.data() + pos, &bh).ok() || bh.seal) break;
      if (pos + format::kBatchHeaderBytes + bh.body_bytes > bytes.size()) break;
      std::size_t rpos = pos + format::kBatchHeaderBytes;
      for (std::uint32_t i = 0; i < bh.record_count; ++i) {
        format::RecordView rec;
        std::size_t used = 0;
        ASSERT_TRUE(format::DecodeRecord(bytes.data() + rpos, bytes.size() - rpos, &rec, &used).ok());
        ASSERT_LT(rec.lsn, synced_.size());
        synced_[rec.lsn].store(1, std::memory_order_release);
        rpos += used;
      }
      pos = rpos;
    }
    done += pos;
  }

  // Called with each newly published W: every LSN <= W must be synced.
  void OnPublished(Lsn w) {
    std::lock_guard lk(check_mu_);
    for (; checked_ < w; ++checked_) {
      if (synced_[checked_ + 1].load(std::memory_order_acquire) == 0) {
        ++violations_;
        first_violation_ = first_violation_ ? first_violation_ : checked_ + 1;
      }
    }
  }

  int violations() const { return violations_; }
  Lsn first_violation() const { return first_violation_; }

 private:
  std::mutex mu_;
  std::map<std::string, std::uint64_t> parsed_;
  std::vector<std::atomic<std::uint8_t>> synced_;
  std::mutex check_mu_;
  Lsn checked_ = 0;
  int violations_ = 0;
  Lsn first_violation_ = 0;
};

// Eight writers, up to 4000 appends each: every writer does at least
// kMinPerThread, then goes on while the time budget lasts (under
// ThreadSanitizer on two busy cores the full count took 90 s and more).
void StressWatermark(Routing routing, std::uint32_t shards) {
  constexpr int kThreads = 8, kPerThread = 4000, kMinPerThread = 300;
  const testing::TimeBudget budget(testing::StressBudget(15));
  std::atomic<std::uint64_t> appended{0};
  TempDir dir;
  auto fs = std::make_shared<FaultInjectionFileSystem>();
  SyncedLsnTracker tracker(kThreads * kPerThread);
  fs->SetSyncObserver([&](const std::string& p, std::uint64_t n) { tracker.OnSync(p, n); });
  Options o = TestOptions(dir.path(), shards);
  o.file_system = fs;
  o.routing = routing;
  o.max_batch_bytes = 4096;  // many small batches
  o.max_batch_delay = std::chrono::microseconds(200);
  o.watermark_listener = [&](Lsn w) { tracker.OnPublished(w); };
  auto wal = Wal::Open(o);
  ASSERT_TRUE(wal.ok()) << wal.status().ToString();

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      Lsn seen_w = 0;
      const Durability modes[] = {Durability::kGroup, Durability::kGroup, Durability::kAsync, Durability::kNone};
      for (int i = 0; budget.KeepGoing(i, kMinPerThread, kPerThread); ++i) {
        AppendOptions ao;
        ao.durability = modes[rng() % 4];
        // Skewed tags: a few hot ones, many cold ones.
        const std::string tag = rng() % 2 ? "hot" + std::to_string(rng() % 3) : "cold" + std::to_string(rng() % 500);
        auto lsn = (*wal)->Append(tag, std::string(1 + rng() % 200, 'p'), ao);
        ASSERT_TRUE(lsn.ok()) << lsn.status().ToString();
        appended.fetch_add(1);
        const Lsn w = (*wal)->DurableLsn();
        ASSERT_GE(w, seen_w) << "watermark moved backwards";
        seen_w = w;
        if (ao.durability == Durability::kGroup) {
          ASSERT_GE(w, *lsn);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_TRUE((*wal)->Close().ok());
  testing::ReportStressWork("appends", appended.load(), kThreads * kPerThread, budget);
  EXPECT_GE(appended.load(), std::uint64_t{kThreads} * kMinPerThread);
  EXPECT_EQ((*wal)->DurableLsn(), Lsn(appended.load()));
  EXPECT_EQ(tracker.violations(), 0) << "first LSN published durable before it was synced: "
                                     << tracker.first_violation();
}

TEST(WatermarkStress, NeverAheadOfSyncedBytesByTag) { StressWatermark(Routing::kTag, 4); }
TEST(WatermarkStress, NeverAheadOfSyncedBytesByThread) { StressWatermark(Routing::kThread, 3); }

TEST(Watermark, IdleShardsDoNotHoldItBack) {
  TempDir dir;
  auto wal = Wal::Open(TestOptions(dir.path(), 8));
  ASSERT_TRUE(wal.ok());
  // Every append goes to one shard; the other seven never see a record.
  for (int i = 0; i < 200; ++i) {
    auto lsn = (*wal)->Append("the-only-tag", "x");
    ASSERT_TRUE(lsn.ok());
    ASSERT_GE((*wal)->DurableLsn(), *lsn);
  }
  const WalStats st = (*wal)->Stats();
  const std::uint32_t busy = (*wal)->ShardForTag("the-only-tag");
  for (std::uint32_t s = 0; s < 8; ++s) {
    if (s == busy) continue;
    EXPECT_EQ(st.shards[s].fsyncs, 0u) << "idle shard " << s << " had to sync";
    EXPECT_EQ(st.shards[s].durable_frontier, 200u) << "idle shard " << s << " frontier lags the counter";
  }
}

TEST(Watermark, AStalledShardHoldsItBack) {
  TempDir dir;
  auto fs = std::make_shared<FaultInjectionFileSystem>();
  Options o = TestOptions(dir.path(), 2);
  o.file_system = fs;
  auto opened = Wal::Open(o);
  ASSERT_TRUE(opened.ok());
  auto& wal = *opened;
  // Two tags on different shards.
  std::string slow_tag = "slow", fast_tag;
  for (int i = 0; fast_tag.empty(); ++i) {
    if (wal->ShardForTag("fast" + std::to_string(i)) != wal->ShardForTag(slow_tag)) fast_tag = "fast" + std::to_string(i);
  }
  const std::uint32_t slow = wal->ShardForTag(slow_tag), fast = wal->ShardForTag(fast_tag);
  ASSERT_TRUE(wal->Append(slow_tag, "warm").ok());
  ASSERT_TRUE(wal->Append(fast_tag, "warm").ok());
  const Lsn before = wal->DurableLsn();

  fs->StallSyncs("/shard-" + std::to_string(slow) + "/");
  auto slow_append = std::async(std::launch::async, [&] { return wal->Append(slow_tag, "stuck"); });
  // Wait until the slow shard's record has an LSN.
  for (int i = 0; i < 5000 && wal->LastLsn() == before; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const Lsn stuck = wal->LastLsn();
  auto fast_append = std::async(std::launch::async, [&] { return wal->Append(fast_tag, "behind"); });

  EXPECT_EQ(fast_append.wait_for(std::chrono::milliseconds(200)), std::future_status::timeout)
      << "a group append returned while a lower LSN was not durable";
  EXPECT_LT(wal->DurableLsn(), stuck);
  // The fast shard itself is done; only the global watermark waits.
  EXPECT_GT(wal->Stats().shards[fast].durable_frontier, stuck);

  fs->ResumeSyncs();
  auto s1 = slow_append.get();
  auto s2 = fast_append.get();
  ASSERT_TRUE(s1.ok() && s2.ok());
  EXPECT_GE(wal->DurableLsn(), std::max(*s1, *s2));
}

}  // namespace
}  // namespace shardwal
