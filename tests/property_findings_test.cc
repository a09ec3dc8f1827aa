// SPDX-License-Identifier: Apache-2.0
// Minimal reproductions of library bugs the recovery property test
// (recovery_property_test.cc) ran into: a group append sleeping through the
// watermark that covers it (a lost wake-up), Replay after recovery deleted
// a segment, and undefined behaviour in an untagged append.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "shardwal/recovery.h"
#include "shardwal/testing/fault_injection_file_system.h"
#include "shardwal/wal.h"
#include "tests/jitter_sync_file_system.h"
#include "tests/test_util.h"

namespace shardwal {
namespace {

using testing::JitterSyncFileSystem;
using testing::TempDir;
using LossMode = FaultInjectionFileSystem::LossMode;

// A lost wake-up in DurableWatermark, end to end. Found by the property test,
// which hung in AppendBatch(kGroup) with DurableLsn() == LastLsn() == the
// batch's last LSN: a waiter checked W under its lane's lock and only then
// stored lane.min_lsn, while a publisher (Advance -> WakeCovered) stored W
// and skipped the lane *without its lock* when lane.min_lsn > W. When the
// publisher's CAS and min_lsn load both fell between the waiter's check and
// its store, the waiter slept with its LSN covered and nothing left to wake
// it. Fixed in 028c2e0 (the waiter stores min_lsn, then re-checks W, both
// seq_cst), which also added the unit-level
// DurableWatermarkProtocol.NoLostWakeUpWhenPublishingRacesRegistration; this
// is the same race through Wal::Append.
//
// Single writer, one shard, syncs of random 0..20 us: a watchdog reports an
// append still blocked 500 ms after everything assigned became durable, and
// un-sticks it with an async append. Before the fix this failed within 0.5
// to 4 s under ASan (60k-125k appends).
TEST(PropertyFindings, GroupAppendNeverSleepsThroughTheWatermarkCoveringIt) {
  TempDir dir;
  Options o = testing::TestOptions(dir.path(), 1);
  o.file_system = std::make_shared<JitterSyncFileSystem>(20'000);
  o.durability = Durability::kGroup;
  auto wal = Wal::Open(o);
  ASSERT_TRUE(wal.ok()) << wal.status().ToString();
  Wal& w = **wal;

  using Clock = std::chrono::steady_clock;
  std::atomic<std::int64_t> append_started{0};  // ns since t0; 0: not in an append
  std::atomic<bool> done{false};
  std::atomic<int> lost{0};
  std::string lost_detail;
  const auto t0 = Clock::now();
  auto now_ns = [&] { return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count() + 1; };
  std::thread watchdog([&] {
    int covered = 0;  // consecutive checks that found the same append stuck and covered
    while (!done.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      const std::int64_t started = append_started.load();
      const Lsn last = w.LastLsn(), durable = w.DurableLsn();
      if (started == 0 || now_ns() - started < 500'000'000 || durable < last || append_started.load() != started) {
        covered = 0;
        continue;
      }
      if (++covered < 4) continue;
      covered = 0;
      if (lost++ == 0) {
        lost_detail = "a group Append has been blocked for 500+ ms although DurableLsn() " + std::to_string(durable) +
                      " >= LastLsn() " + std::to_string(last);
      }
      // Its sync publishes a higher watermark, which wakes the stuck waiter.
      (void)w.Append("rescue", "un-sticks the waiter", AppendOptions{Durability::kAsync});
    }
  });
  const auto deadline = Clock::now() + std::chrono::seconds(3);
  int appends = 0;
  while (Clock::now() < deadline && lost.load() == 0) {
    append_started.store(now_ns());
    auto lsn = w.Append("t", "payload");
    append_started.store(0);
    ASSERT_TRUE(lsn.ok()) << lsn.status().ToString();
    ++appends;
  }
  done.store(true);
  watchdog.join();
  EXPECT_EQ(lost.load(), 0) << lost_detail << " (after " << appends << " appends)";
  std::cout << appends << " group appends, lost wake-ups: " << lost.load() << "\n";
}

// Replay after a recovery that deleted segments. Found by the property test:
// Wal::Replay failed with IOError "open <segment>: No such file or
// directory" right after a successful Open. Wal::Open handed RecoveredLog
// the shard layouts of the scan, but ApplyCut had just deleted the segments
// that lie wholly above the cut (RecoveryScan::deletions, from PlanCutAbove);
// they were still listed, and a shard cursor running past its last kept
// segment tried to open them. (Recovery itself was right: a LogReader or a
// second re-open read the log fine.) Fails deterministically on 3bf5a9e;
// passes once Wal::Open drops the deleted segments from the layouts it
// keeps (ForgetRemoved after ApplyCut).
//
// Setup: shard 1's syncs stall, so its LSN 1 is never durable and is lost
// in the power loss; shard 0 fills two segments with LSNs 2..41, all
// synced. Recovery cuts at 0: it truncates shard 0's first segment to its
// header and deletes the second.
TEST(PropertyFindings, ReplayWorksAfterRecoveryDeletedASegment) {
  TempDir dir;
  auto fs = std::make_shared<FaultInjectionFileSystem>();
  Options o = testing::TestOptions(dir.path(), 2);
  o.file_system = fs;
  o.segment_bytes = 64 << 10;  // the minimum: shard 0 rotates quickly
  o.max_batch_bytes = 4096;    // small batches (a batch never spans two segments)
  {
    auto wal = Wal::Open(o);
    ASSERT_TRUE(wal.ok()) << wal.status().ToString();
    std::string tag0, tag1;  // a tag of each shard
    for (int i = 0; tag0.empty() || tag1.empty(); ++i) {
      const std::string t = "t" + std::to_string(i);
      ((*wal)->ShardForTag(t) == 0 ? tag0 : tag1) = t;
    }
    fs->StallSyncs(o.dir + "/shard-1/");
    const AppendOptions async{Durability::kAsync};
    ASSERT_EQ(*(*wal)->Append(tag1, "lost: never synced", async), 1u);
    const std::string big(3000, 'x');
    for (int i = 0; i < 40; ++i) ASSERT_TRUE((*wal)->Append(tag0, big, async).ok());  // ~120 KiB: 2 segments
    // Shard 0 syncs on its own; wait until all of it is on stable storage.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while ((*wal)->Stats().shards[0].durable_frontier < 41 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ASSERT_GE((*wal)->Stats().shards[0].durable_frontier, 41u) << "shard 0 did not sync";
    EXPECT_EQ((*wal)->DurableLsn(), 0u);  // LSN 1 (shard 1) holds the watermark down
    fs->Deactivate();  // the stalled sync fails; nothing more reaches the disk
  }
  FaultInjectionFileSystem::PowerLossOptions plo;
  plo.mode = LossMode::kDropUnsynced;
  ASSERT_TRUE(fs->SimulatePowerLoss(plo).ok());
  fs->ResumeSyncs();  // stalls outlive the power loss

  auto wal = Wal::Open(o);
  ASSERT_TRUE(wal.ok()) << wal.status().ToString();
  const RecoveryReport& rep = (*wal)->recovery_report();
  ASSERT_EQ(rep.cut_lsn, 0u) << rep.Summary();
  ASSERT_GE(rep.shards[0].segments_removed, 1u) << "the setup should make recovery delete a segment\n"
                                                << rep.Summary();
  std::size_t n = 0;
  Status s = (*wal)->Replay(kNoLsn, [&](const ReplayRecord&) { return ++n, true; });
  EXPECT_TRUE(s.ok()) << s.ToString() << "\n" << rep.Summary();
  EXPECT_EQ(n, 0u);
  TxnReplayReport txn;
  s = (*wal)->ReplayCommitted(kNoLsn, [&](const ReplayRecord&) { return true; }, &txn);
  EXPECT_TRUE(s.ok()) << s.ToString();
  // Appends go on at the cut + 1 all the same, and a later re-open is fine.
  auto next = (*wal)->Append("after", "recovery");
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_EQ(*next, 1u);
}

// Minimal reproduction of a library bug found by the property test: the
// untagged Append(payload) builds its record with a default-constructed tag
// (data() == nullptr) and format::EncodeRecord memcpy's from it:
// memcpy(dst, nullptr, 0) is undefined behaviour, and the ASan+UBSan stage
// (-fno-sanitize-recover) aborts here with "null pointer passed as argument
// 2, which is declared to never be null" (src/format.cc, EncodeRecord). The
// same holds for an empty payload given as std::string_view{}. Passes in
// builds without UBSan.
TEST(RecoveryProperty, UntaggedAppendIsUndefinedBehaviourFree) {
  TempDir dir;
  Options o = testing::TestOptions(dir.path(), 2);
  {
    auto wal = Wal::Open(o);
    ASSERT_TRUE(wal.ok()) << wal.status().ToString();
    auto lsn = (*wal)->Append("untagged payload");
    ASSERT_TRUE(lsn.ok()) << lsn.status().ToString();
    EXPECT_EQ(*lsn, 1u);
    auto empty = (*wal)->Append("tag", std::string_view{});
    ASSERT_TRUE(empty.ok()) << empty.status().ToString();
    EXPECT_EQ(*empty, 2u);
  }
  auto reader = LogReader::Open(o);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  std::vector<std::pair<std::string, std::string>> got;
  ASSERT_TRUE((*reader)->Replay(kNoLsn, [&](const ReplayRecord& r) {
                         got.emplace_back(r.tag, r.payload);
                         return true;
                       }).ok());
  EXPECT_EQ(got, (std::vector<std::pair<std::string, std::string>>{{"", "untagged payload"}, {"tag", ""}}));
}

}  // namespace
}  // namespace shardwal
