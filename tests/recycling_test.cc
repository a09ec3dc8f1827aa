// SPDX-License-Identifier: Apache-2.0
// Segment preparation end to end: the short zero-filled first segment and
// full-size ones after it, a recycled first segment, and recycled segments
// (released by a checkpoint, renamed, written over from the front) that
// replay exactly after a clean close and survive a crash and a power loss
// in every loss mode (docs/design.md, sections 12-13).
// The self-describing records and the Log they are checked against:
// tests/lifecycle_fixture.h.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "shards/segment_set.h"
#include "tests/lifecycle_fixture.h"

namespace shardwal {
namespace {

using namespace lifecycle;

// Open prepares the first segment inline; zero-filling a full one there
// would write segment_bytes per shard, so with kZeroFill the first segment
// is a short zero-filled one (kFirstSegmentBytes) and the next ones are
// full size. Writes into zero-filled blocks need no extent conversion at
// fdatasync (docs/design.md, "The first segment").
TEST(Preallocation, ZeroFillStartsWithAShortZeroFilledSegmentThenFullSizeOnes) {
  TempDir dir;
  Options o = LifeOptions(dir.path(), 1);
  o.segment_bytes = 2 * kFirstSegmentBytes;
  Log log;
  {
    auto wal = OpenOrDie(o);
    ASSERT_TRUE(wal);
    std::vector<SegOnDisk> segs = ListSegments(ShardDir(o, 0));
    ASSERT_FALSE(segs.empty());
    EXPECT_EQ(segs.front().size, kFirstSegmentBytes) << segs.front().path;
    Writer w(*wal, log, 1);
    ASSERT_TRUE(w.Fill(kFirstSegmentBytes + kFirstSegmentBytes / 2).ok());
    ASSERT_TRUE(w.Ack().ok());
    segs = ListSegments(ShardDir(o, 0));
    ASSERT_GE(segs.size(), 2u);
    EXPECT_EQ(segs[0].size, kFirstSegmentBytes) << segs[0].path << ": the first segment outgrew its capacity";
    EXPECT_EQ(segs[1].size, o.segment_bytes) << segs[1].path;
    ASSERT_TRUE(wal->Close().ok());
  }
  auto wal = OpenOrDie(o);
  ASSERT_TRUE(wal);
  EXPECT_EQ(CheckRecovered(*wal, log), "");
}

// The short first segment is only for a fresh file: when Open finds
// released segments to recycle, the first one is a recycled, full-size file
// (already written, so it needs no zero-fill), used to its full size.
TEST(Preallocation, ARecycledFirstSegmentKeepsItsFullSize) {
  TempDir dir;
  Options o = LifeOptions(dir.path(), 1);
  o.segment_bytes = 2 * kFirstSegmentBytes;
  o.recycle_segments = 2;
  Log log;
  {
    auto wal = OpenOrDie(o);
    ASSERT_TRUE(wal);
    Writer w(*wal, log, 1);
    ASSERT_TRUE(w.Fill(3 * *o.segment_bytes).ok());
    ASSERT_TRUE(w.Ack().ok());
    ASSERT_TRUE(w.Checkpoint(wal->LastLsn()).ok());
    ASSERT_GE(wal->Stats().total.recycled_pool, 1u);
    ASSERT_TRUE(wal->Close().ok());
  }
  auto wal = OpenOrDie(o);
  ASSERT_TRUE(wal);
  std::uint64_t newest = 0;
  for (const SegOnDisk& seg : ListSegments(ShardDir(o, 0))) newest = std::max(newest, seg.seq);
  Writer w(*wal, log, 10'000'000);
  ASSERT_TRUE(w.Fill(kFirstSegmentBytes + kFirstSegmentBytes / 2).ok());
  ASSERT_TRUE(w.Ack().ok());
  std::vector<SegOnDisk> started;
  for (const SegOnDisk& seg : ListSegments(ShardDir(o, 0))) {
    if (seg.seq > newest) started.push_back(seg);
  }
  ASSERT_EQ(started.size(), 1u) << "the recycled first segment rotated early, at the short first-segment size";
  EXPECT_EQ(started[0].size, o.segment_bytes) << started[0].path;
  ASSERT_TRUE(wal->Close().ok());
  auto reopened = OpenOrDie(o);
  ASSERT_TRUE(reopened);
  EXPECT_EQ(CheckRecovered(*reopened, log), "");
}

TEST(Recycling, ManyRecycledSegmentsReplayExactlyAfterCleanClose) {
  TempDir dir;
  Options o = LifeOptions(dir.path(), 2);
  o.recycle_segments = 2;
  Log log;
  std::uint64_t recycled_seen = 0;
  std::set<std::string> counted;
  {
    auto wal = OpenOrDie(o);
    ASSERT_TRUE(wal);
    Writer w(*wal, log, 1);
    for (int round = 0; round < 8; ++round) {
      ASSERT_TRUE(w.Fill(kSeg * 3 / 2).ok());
      ASSERT_TRUE(w.Ack().ok());
      // Not at a segment boundary: some retained segment straddles it.
      ASSERT_TRUE(w.Checkpoint(wal->LastLsn() - 7).ok());
      for (std::uint32_t s = 0; s < 2; ++s) {
        for (const auto& seg : ListSegments(ShardDir(o, s))) {
          if (seg.header_ok && (seg.header.flags & format::kSegmentRecycled) &&
              counted.insert(seg.path + "#" + std::to_string(seg.header.first_lsn)).second) {
            ++recycled_seen;
          }
        }
      }
    }
    EXPECT_EQ(wal->Stats().checkpoint_lsn, log.ckpt);
    ASSERT_TRUE(wal->Close().ok());
  }
  EXPECT_GE(recycled_seen, 6u) << "too few segments were recycled for the test to mean much";
  auto reader = LogReader::Open(o);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_EQ(CheckRecovered(**reader, log), "");
  EXPECT_TRUE((*reader)->report().anomalies.empty()) << (*reader)->report().Summary();
  auto wal = OpenOrDie(o);
  ASSERT_TRUE(wal);
  EXPECT_EQ(CheckRecovered(*wal, log), "");
  EXPECT_EQ(wal->recovery_report().checkpoint_lsn, log.ckpt);
}

// Every loss mode, pages persisted out of order and torn sectors included.
constexpr auto& kModes = testing::kAllLossModes;
const char* ModeName(Fi::LossMode m) { return testing::LossModeName(m); }

TEST(Recycling, RecycledSegmentsSurviveACrashAndPowerLossInEveryMode) {
  std::uint64_t recycled_before_crash = 0;
  for (Fi::LossMode mode : kModes) {
    for (std::uint64_t seed = 1; seed <= 3; ++seed) {
      const std::string where = std::string(ModeName(mode)) + " seed " + std::to_string(seed);
      SCOPED_TRACE(where);
      TempDir dir;
      auto fi = std::make_shared<Fi>();
      Options o = LifeOptions(dir.path(), 2, fi);
      o.recycle_segments = 2;
      Log log;
      auto wal = OpenOrDie(o);
      ASSERT_TRUE(wal);
      // A second thread checkpoints at the durable watermark while the
      // main thread appends, until the power fails.
      std::atomic<bool> stop{false};
      Log ckpts;
      std::thread checkpointer([&] {
        while (!stop.load()) {
          const Lsn d = wal->DurableLsn();
          if (d > kNoLsn) {
            const Status s = wal->Checkpoint(d);
            ckpts.Checkpointed(d, s);
            if (!s.ok()) return;
          }
          std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
      });
      Writer w(*wal, log, 1);
      // The main thread checkpoints too, after each group batch, so that
      // segments are released (and recycled) however the threads are
      // scheduled on a loaded machine.
      Log main_ckpts;
      const int rounds = 45 + static_cast<int>(Mix(seed) % 20);
      for (int r = 0; r < rounds; ++r) {
        const bool group = r % 4 == 3;
        if (!w.Batch(8, group ? Durability::kGroup : Durability::kNone).ok()) break;
        if (group) {
          const Lsn d = wal->DurableLsn();
          main_ckpts.Checkpointed(d, wal->Checkpoint(d));
        }
      }
      for (std::uint32_t s = 0; s < 2; ++s) {
        for (const auto& seg : ListSegments(ShardDir(o, s))) {
          if (seg.header_ok && (seg.header.flags & format::kSegmentRecycled)) ++recycled_before_crash;
        }
      }
      fi->Deactivate();  // the process dies here: nothing more reaches the disk
      // Appends may still succeed into the buffer; a group append finds out.
      for (int i = 0; i < 3; ++i) (void)w.One(i % 2, Durability::kGroup);
      stop = true;
      checkpointer.join();
      log.ckpt = std::max(ckpts.ckpt, main_ckpts.ckpt);
      log.maybe_ckpts = ckpts.maybe_ckpts;
      log.maybe_ckpts.insert(main_ckpts.maybe_ckpts.begin(), main_ckpts.maybe_ckpts.end());
      wal.reset();
      ASSERT_TRUE(fi->SimulatePowerLoss({mode, seed, true}).ok());
      wal = OpenOrDie(o);
      ASSERT_TRUE(wal);
      EXPECT_EQ(CheckRecovered(*wal, log), "") << wal->recovery_report().Summary();
      const Lsn acked = log.max_acked;
      Writer w2(*wal, log, 1'000'000);
      auto next = w2.One(0, Durability::kGroup);
      ASSERT_TRUE(next.ok()) << next.status().ToString();
      EXPECT_EQ(*next, wal->recovery_report().cut_lsn + 1);
      EXPECT_GT(*next, acked);
    }
  }
  EXPECT_GT(recycled_before_crash, 0u) << "no recycled segment was written before a crash";
}

}  // namespace
}  // namespace shardwal
