// SPDX-License-Identifier: Apache-2.0
// Retention: retain_segments, retain_bytes and retain_age keep the newest
// checkpointed segments (read past, not replayed, by recovery); aged
// segments are released without a further checkpoint, and a rotation
// re-applies retention (docs/operations.md, "Retention").
// The self-describing records and the Log they are checked against:
// tests/lifecycle_fixture.h.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "tests/lifecycle_fixture.h"

namespace shardwal {
namespace {

using namespace lifecycle;

// Per shard: the finished segments whose records are all <= c (on disk now).
std::vector<std::uint64_t> CheckpointedOnDisk(const std::string& dir, Lsn c) {
  const auto segs = ListSegments(dir);
  const SegOnDisk* cur = Current(segs);
  std::vector<std::uint64_t> out;
  for (const auto& s : segs) {
    if (s.header_ok && (cur == nullptr || s.seq != cur->seq) && s.records > 0 && s.last_lsn <= c) out.push_back(s.seq);
  }
  return out;
}

void RunRetention(void (*rule)(Options&), std::size_t expect_kept) {
  TempDir dir;
  Options o = LifeOptions(dir.path(), 2);
  rule(o);
  auto wal = OpenOrDie(o);
  ASSERT_TRUE(wal);
  Log log;
  Writer w(*wal, log, 1);
  ASSERT_TRUE(w.Fill(kSeg * 11 / 2).ok());
  ASSERT_TRUE(w.Ack().ok());
  std::vector<std::vector<std::uint64_t>> before;
  for (std::uint32_t s = 0; s < 2; ++s) {
    before.push_back(CheckpointedOnDisk(ShardDir(o, s), wal->LastLsn()));
    ASSERT_GT(before.back().size(), expect_kept) << "shard " << s;
  }
  ASSERT_TRUE(w.Checkpoint(wal->LastLsn()).ok());
  for (std::uint32_t s = 0; s < 2; ++s) {
    const auto kept = CheckpointedOnDisk(ShardDir(o, s), wal->LastLsn());
    // The newest ones are kept.
    const auto first_kept = before[s].end() - static_cast<std::ptrdiff_t>(expect_kept);
    const std::vector<std::uint64_t> newest(first_kept, before[s].end());
    EXPECT_EQ(kept, newest) << "shard " << s;
    EXPECT_EQ(wal->Stats().shards[s].segment_files, expect_kept + 1) << "shard " << s;
  }
  ASSERT_TRUE(wal->Close().ok());
  // Retained segments are read past, not replayed.
  wal = OpenOrDie(o);
  ASSERT_TRUE(wal);
  EXPECT_EQ(CheckRecovered(*wal, log), "");
  EXPECT_GT(wal->recovery_report().records_checkpointed, 0u);
}

TEST(Retention, RetainSegmentsKeepsTheNewestCheckpointedSegmentsPerShard) {
  RunRetention([](Options& o) { o.retain_segments = 2; }, 2);
}

TEST(Retention, RetainBytesKeepsTheNewestCheckpointedSegmentsThatFit) {
  // Finished preallocated segments count segment_bytes each.
  RunRetention([](Options& o) { o.retain_bytes = 3 * kSeg + kSeg / 2; }, 3);
}

// Regression (found by this test, fixed): nothing armed the age deadline
// after a Checkpoint - RetentionChore (which computes it) only ran when a
// rotation of a shard other than 0 poked it, so on a WAL that went quiet
// after the checkpoint, aged segments were never released.
TEST(Retention, RetainAgeKeepsYoungSegmentsAndReleasesThemLaterWithoutACheckpoint) {
  TempDir dir;
  Options o = LifeOptions(dir.path(), 2);
  o.retain_age = std::chrono::seconds(1);
  auto wal = OpenOrDie(o);
  ASSERT_TRUE(wal);
  Log log;
  Writer w(*wal, log, 1);
  ASSERT_TRUE(w.Fill(kSeg * 7 / 2).ok());
  ASSERT_TRUE(w.Ack().ok());
  const auto written = Clock::now();
  const Lsn c = wal->LastLsn();
  std::vector<std::vector<std::uint64_t>> before;
  for (std::uint32_t s = 0; s < 2; ++s) before.push_back(CheckpointedOnDisk(ShardDir(o, s), c));
  ASSERT_TRUE(w.Checkpoint(c).ok());
  const bool in_time = Clock::now() - written < std::chrono::milliseconds(800);
  for (std::uint32_t s = 0; s < 2; ++s) {
    ASSERT_GE(before[s].size(), 2u);
    if (in_time) {
      EXPECT_EQ(CheckpointedOnDisk(ShardDir(o, s), c), before[s]) << "shard " << s << ": released too young";
    }
  }
  // Released by the preparer's timed chore, with no further call.
  const bool released = WaitFor(
      [&] {
        return CheckpointedOnDisk(ShardDir(o, 0), c).empty() && CheckpointedOnDisk(ShardDir(o, 1), c).empty();
      },
      std::chrono::seconds(5));
  EXPECT_TRUE(released) << "checkpointed segments older than retain_age were never released";
  EXPECT_GE(Clock::now() - written, std::chrono::milliseconds(900)) << "released before retain_age passed";
  for (std::uint32_t s = 0; s < 2; ++s) EXPECT_EQ(wal->Stats().shards[s].segment_files, 1u) << "shard " << s;
  ASSERT_TRUE(wal->Close().ok());
  wal = OpenOrDie(o);
  ASSERT_TRUE(wal);
  EXPECT_EQ(CheckRecovered(*wal, log), "");
}

// A rotation can finish a segment whose records are all at or below the
// checkpoint (they were still buffered when Checkpoint ran): that pushes an
// older checkpointed segment out of a retain_segments window, and
// docs/operations.md says retention is re-applied "at every rotation".
// `shard` is the one that rotates; `shards` how many the WAL has.
void RotationReappliesRetention(std::uint32_t shards, std::uint32_t shard) {
  TempDir dir;
  Options o = LifeOptions(dir.path(), shards);
  o.retain_segments = 1;
  o.max_batch_delay = std::chrono::seconds(2);  // kNone records stay buffered until someone waits
  auto wal = OpenOrDie(o);
  ASSERT_TRUE(wal);
  Log log;
  Writer w(*wal, log, 1);
  const std::string sdir = ShardDir(o, shard);
  // Three segments, then the current one filled to just under 3200 bytes
  // free: a 3.7 KB batch will not fit.
  for (int i = 0; i < 3 * 150; ++i) ASSERT_TRUE(w.One(shard, Durability::kNone, false, 400).ok());
  ASSERT_TRUE(w.Ack().ok());
  for (;;) {
    const auto segs = ListSegments(sdir);
    const SegOnDisk* cur = Current(segs);
    ASSERT_NE(cur, nullptr);
    if (kSeg - cur->data_end < 3200) break;
    ASSERT_TRUE(w.One(shard, Durability::kGroup, false, 400).ok());
  }
  const auto segs = ListSegments(sdir);
  const std::uint64_t n = Current(segs)->seq;
  ASSERT_GE(n, 3u);
  // Buffered, not yet written: 7 records of 534 bytes.
  for (int i = 0; i < 7; ++i) ASSERT_TRUE(w.One(shard, Durability::kNone, false, 500).ok());
  ASSERT_TRUE(w.Checkpoint(wal->LastLsn()).ok());
  // Segment n is still being written: n - 1 is the newest checkpointed one.
  auto seqs = Seqs(ListSegments(sdir));
  ASSERT_TRUE(seqs.count(n - 1)) << "retain_segments=1 released the newest checkpointed segment";
  ASSERT_FALSE(seqs.count(n - 2)) << "retain_segments=1 kept two checkpointed segments";
  // Writing the buffer rotates: n is finished, all of it <= the checkpoint.
  ASSERT_TRUE(w.Ack().ok());
  ASSERT_TRUE(Seqs(ListSegments(sdir)).count(n + 1)) << "the buffered batch did not rotate";
  const bool released = WaitFor([&] { return !Seqs(ListSegments(sdir)).count(n - 1); }, std::chrono::seconds(3));
  EXPECT_TRUE(released) << "shard " << shard << " of " << shards << ": after the rotation finished segment " << n
                        << " (all <= checkpoint " << log.ckpt << "), segment " << n - 1
                        << " is a second checkpointed segment under retain_segments=1 but was not released";
  ASSERT_TRUE(wal->Close().ok());
}

TEST(Retention, RotationOfAnotherShardThanShardZeroReappliesRetention) { RotationReappliesRetention(2, 1); }

// Regression (found by this test, fixed): a rotation of shard 0 poked its
// preparer without the retention chore (shards 1.. did run it), so with one
// shard retention was re-applied only by the next Checkpoint.
TEST(Retention, RotationOfShardZeroReappliesRetention) { RotationReappliesRetention(1, 0); }

}  // namespace
}  // namespace shardwal
