// SPDX-License-Identifier: Apache-2.0
// Damage recovery once got wrong (all fixed), one minimal case each, on
// copies of the corruption tests' intact WAL (tests/corruption_harness.h):
// a middle segment cut at a batch boundary, a missing first segment,
// salvage's missing LSNs and skipped shards, a zeroed header before intact
// batches, Wal::Replay after a cut, checksum-only damage in point-in-time
// and in a torn tail, and a default reopen after salvage.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

#include "recovery/segment_reader.h"
#include "tests/corruption_harness.h"

namespace shardwal {
namespace {

using namespace corruption;
namespace stdfs = std::filesystem;
using testing::FlipBit;
using testing::ShrinkFile;
using testing::ZeroBytes;

// Each comment describes the bug as it was when the test was written.

// A middle segment cut exactly at a batch boundary reads as a clean, shorter
// segment. Its lost batches leave an LSN gap in the middle of the log, which
// the global merge takes for the end of the gap-free prefix: the default
// mode then "recovers" silently and a read-write open deletes everything
// above the gap, in every shard, with no anomaly reported.
TEST(CorruptionRegression, MiddleSegmentTruncatedAtBatchBoundaryIsNotReported) {
  if (g_base == nullptr) BuildBase();
  ASSERT_NE(g_base, nullptr);
  const std::uint32_t shard = 1;
  const SegmentLoc& seg = B().Seg(shard, 1);
  const std::uint64_t at = seg.batches[2].offset;
  for (RecoveryMode mode : {RecoveryMode::kTolerateTornTail, RecoveryMode::kAbsolute}) {
    SCOPED_TRACE(ModeName(mode));
    TempDir t;
    const std::string dir = t.Sub("wal");
    CopyBase(dir);
    ShrinkFile(SegPath(dir, shard, seg.seq), at);
    auto reader = LogReader::Open(ModeOptions(dir, mode));
    EXPECT_FALSE(reader.ok()) << "mid-log loss of " << (seg.Lsns().size() - 2) << "+ records accepted:\n"
                              << (*reader)->report().Summary();
  }
}

// Segment 1 of a shard deleted: the sequence gap check starts at the first
// segment present, so nothing reports the loss; the missing LSNs again look
// like the end of the log and everything after them is cut.
TEST(CorruptionRegression, MissingFirstSegmentIsNotReported) {
  if (g_base == nullptr) BuildBase();
  ASSERT_NE(g_base, nullptr);
  for (RecoveryMode mode : {RecoveryMode::kTolerateTornTail, RecoveryMode::kAbsolute}) {
    SCOPED_TRACE(ModeName(mode));
    TempDir t;
    const std::string dir = t.Sub("wal");
    CopyBase(dir);
    stdfs::remove(SegPath(dir, 2, 1));
    auto reader = LogReader::Open(ModeOptions(dir, mode));
    EXPECT_FALSE(reader.ok()) << "loss of segment 1 accepted:\n" << (*reader)->report().Summary();
  }
}

// Salvage: report.missing_lsns lists the LSN gaps below the highest LSN
// found, but a lost LSN 1 (and any lost LSNs before the first one found)
// is never listed.
TEST(CorruptionRegression, SalvageMissingLsnsIncludeTheFirstLsns) {
  if (g_base == nullptr) BuildBase();
  ASSERT_NE(g_base, nullptr);
  const auto [shard, seg] = B().where.at(1);
  const SegmentLoc& s = B().Seg(shard, seg);
  TempDir t;
  const std::string dir = t.Sub("wal");
  CopyBase(dir);
  FlipBit(SegPath(dir, shard, s.seq), s.batches[0].offset + 60, 2);  // a record of the batch holding LSN 1
  auto reader = LogReader::Open(ModeOptions(dir, RecoveryMode::kSalvage));
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  const auto& missing = (*reader)->report().missing_lsns;
  EXPECT_TRUE(!missing.empty() && missing.front() == 1) << (*reader)->report().Summary();
}

// The last segment's header zeroed while its batches are intact: recovery
// takes the file for an empty leftover of a crash during rotation and the
// default mode deletes it, batches and all. A crash cannot produce this
// (the first batch is written with the header, in the same page); the
// records were synced and acknowledged.
TEST(CorruptionRegression, ZeroedHeaderOfLastSegmentWithIntactBatchesIsNotATornTail) {
  if (g_base == nullptr) BuildBase();
  ASSERT_NE(g_base, nullptr);
  TempDir t;
  const std::string dir = t.Sub("wal");
  CopyBase(dir);
  ZeroBytes(SegPath(dir, 0, B().Last(0).seq), 0, format::kSegmentHeaderBytes);
  auto reader = LogReader::Open(ModeOptions(dir, RecoveryMode::kTolerateTornTail));
  EXPECT_FALSE(reader.ok()) << "a segment of " << B().Last(0).Lsns().size()
                            << " valid records taken for a torn tail:\n"
                            << (*reader)->report().Summary();
}

// Salvage, a middle segment whose last batch is damaged (here: cut short):
// no valid batch follows in that segment, so HandleAnomaly treats it like a
// tail and stops the whole shard: every later segment of the shard, intact,
// is dropped (and left on disk, so a later open finds its records again).
TEST(CorruptionRegression, SalvageSkipsTheRestOfAShard) {
  if (g_base == nullptr) BuildBase();
  ASSERT_NE(g_base, nullptr);
  const std::uint32_t shard = 2;
  const SegmentLoc& seg = B().Seg(shard, 1);
  TempDir t;
  const std::string dir = t.Sub("wal");
  CopyBase(dir);
  ShrinkFile(SegPath(dir, shard, seg.seq), seg.batches.back().offset + 61);
  auto reader = LogReader::Open(ModeOptions(dir, RecoveryMode::kSalvage));
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  const auto got = ReplayAll(**reader);
  std::size_t lost = 0;
  for (std::size_t i = 2; i < B().Count(shard); ++i) {
    for (Lsn l : B().Seg(shard, i).Lsns()) lost += got.count(l) == 0;
  }
  EXPECT_EQ(lost, 0u) << "records of intact later segments of shard " << shard << " dropped\n"
                      << (*reader)->report().Summary();
}

// Wal::Replay after a read-write open that removed segments (point-in-time
// stop in a middle segment, or a cut that drops later segments): the
// RecoveredLog keeps the layouts scanned before ApplyCut, so its cursors
// run past the truncated segment into a deleted one and Replay fails with
// IOError (No such file or directory). LogReader, which cuts nothing, and a
// reopen are fine.
TEST(CorruptionRegression, WalReplayAfterCutFindsRemovedSegments) {
  if (g_base == nullptr) BuildBase();
  ASSERT_NE(g_base, nullptr);
  const std::uint32_t shard = 1;
  const SegmentLoc& seg = B().Seg(shard, 1);
  TempDir t;
  const std::string dir = t.Sub("wal");
  CopyBase(dir);
  FlipBit(SegPath(dir, shard, seg.seq), seg.batches[2].offset + 10, 1);  // a batch header's body size
  auto wal = Wal::Open(ModeOptions(dir, RecoveryMode::kPointInTime));
  ASSERT_TRUE(wal.ok()) << wal.status().ToString();
  std::map<Lsn, std::string> got;
  Status s = TryReplay(**wal, &got);
  EXPECT_TRUE(s.ok()) << s.ToString() << "\n" << (*wal)->recovery_report().Summary();
  EXPECT_EQ(got.size(), (*wal)->recovery_report().records);
}

// Recovery's second pass (the k-way merge that decides the cut) reads with
// verify_checksums = false and relies on meeting "the same anomalies" as the
// first pass. A batch whose framing is intact but whose record checksum
// fails (a flipped payload bit) is an anomaly only in pass 1: in
// point-in-time mode pass 2 merges straight through it, so the cut (and for
// a read-write open, what is kept: no truncation is planned) covers the
// whole log, while Replay (checksums on) stops that shard at the damage and
// delivers a log with holes. Salvage likewise counts the corrupt records.
TEST(CorruptionRegression, PointInTimeIgnoresChecksumOnlyDamage) {
  if (g_base == nullptr) BuildBase();
  ASSERT_NE(g_base, nullptr);
  const std::uint32_t shard = 0;
  const SegmentLoc& seg = B().Seg(shard, 1);
  const BatchLoc& batch = seg.batches[3];
  TempDir t;
  const std::string dir = t.Sub("wal");
  CopyBase(dir);
  FlipBit(SegPath(dir, shard, seg.seq), batch.end - 1, 0);  // the last payload byte of the batch
  auto reader = LogReader::Open(ModeOptions(dir, RecoveryMode::kPointInTime));
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  const Lsn first_lost = batch.lsns.front();
  EXPECT_EQ((*reader)->report().cut_lsn, first_lost - 1) << (*reader)->report().Summary();
  const auto got = ReplayAll(**reader);
  EXPECT_EQ(got.size(), first_lost - 1) << "the replayed log has holes";
  auto salvage = LogReader::Open(ModeOptions(dir, RecoveryMode::kSalvage));
  ASSERT_TRUE(salvage.ok()) << salvage.status().ToString();
  EXPECT_EQ((*salvage)->report().records, static_cast<std::uint64_t>(kRecords) - batch.lsns.size())
      << (*salvage)->report().Summary();
}

// The same blind spot in the default mode, on the most ordinary damage
// there is: a torn tail whose batch is full length but has a hole in it (a
// page of the last write never reached the disk). Pass 1 calls it a torn
// tail; pass 2 merges its records into the cut, so the read-write open
// neither truncates it nor excludes its LSNs, Wal::Replay skips them (the
// recovered log has a hole at the end of one shard), appends continue in a
// new segment behind the damaged batch, and the next default open fails: the
// torn tail is now corruption in the middle of the shard.
// The last batch of the shard `shard` in a crashed WAL: its segment, offset
// and end, and its first LSN.
struct LastBatch {
  std::string path;
  std::uint64_t offset = 0, end = 0;
  Lsn first_lsn = kNoLsn;
};
LastBatch FindLastBatch(const std::string& shard_dir) {
  std::map<std::uint64_t, std::string> by_seq;
  for (const auto& e : stdfs::directory_iterator(shard_dir)) {
    std::uint32_t sh = 0;
    std::uint64_t seq = 0;
    if (format::ParseSegmentFileName(e.path().filename().string(), &sh, &seq)) by_seq[seq] = e.path().string();
  }
  // The newest segment with a record (the one prepared after it is empty).
  for (auto it = by_seq.rbegin(); it != by_seq.rend(); ++it) {
    auto reader = SegmentReader::Open(FileSystem::Default().get(), it->second);
    if (!reader.ok()) continue;
    LastBatch b;
    b.path = it->second;
    format::RecordView rec;
    while ((*reader)->Next(&rec)) {
      if (b.first_lsn == kNoLsn || (*reader)->batch_offset() != b.offset) {
        b.offset = (*reader)->batch_offset();
        b.end = (*reader)->batch_end();
        b.first_lsn = rec.lsn;
      }
    }
    if (b.first_lsn != kNoLsn) return b;
  }
  ADD_FAILURE() << "no record in " << shard_dir;
  return {};
}

TEST(CorruptionRegression, TornTailSeenOnlyByChecksumsIsNotCut) {
  // A crash left an unsynced last batch with a page of it missing: a hole
  // of zeros inside its last record, framing intact, which only the record
  // checksums see. Nobody was promised it: a torn tail, cut.
  TempDir t;
  Options o = BaseOptions(t.Sub("wal"));
  o.durability = Durability::kGroup;
  constexpr int kAcked = 300, kUnacked = 40;
  testing::CrashAfterUnsyncedTail(o, kAcked, kUnacked);
  const LastBatch batch = FindLastBatch(ShardDir(o.dir, 1));
  ASSERT_GT(batch.first_lsn, static_cast<Lsn>(kAcked)) << "shard 1's last batch should be unacknowledged";
  ZeroBytes(batch.path, batch.end - 40, 20);
  {
    auto wal = Wal::Open(ModeOptions(o.dir, RecoveryMode::kTolerateTornTail));
    ASSERT_TRUE(wal.ok()) << wal.status().ToString();
    const auto& rep = (*wal)->recovery_report();
    EXPECT_LT(rep.cut_lsn, batch.first_lsn) << rep.Summary();
    EXPECT_GE(rep.cut_lsn, static_cast<Lsn>(kAcked)) << rep.Summary();
    std::map<Lsn, std::string> got;
    EXPECT_TRUE(TryReplay(**wal, &got).ok());
    EXPECT_EQ(got.size(), rep.records) << "replay and report disagree\n" << rep.Summary();
    for (int i = 1; i <= kAcked; ++i) EXPECT_EQ(got[static_cast<Lsn>(i)], testing::CrashPayload(i)) << "LSN " << i;
    AppendOptions async;  // Close() syncs it
    async.durability = Durability::kAsync;
    ASSERT_TRUE((*wal)->Append("after", "after", async).ok());
    ASSERT_TRUE((*wal)->Close().ok());
  }
  auto again = Wal::Open(ModeOptions(o.dir, RecoveryMode::kTolerateTornTail));
  EXPECT_TRUE(again.ok()) << again.status().ToString();
}

// A salvage open keeps every valid record and starts a new epoch above the
// highest one, leaving permanent LSN gaps below it. A later open in the
// default mode takes the first gap for the end of the log and cuts there:
// every record above it, including those appended (and acknowledged) after
// the salvage open, is deleted.
TEST(CorruptionRegression, DefaultReopenAfterSalvageCutsAtTheFirstGap) {
  if (g_base == nullptr) BuildBase();
  ASSERT_NE(g_base, nullptr);
  const SegmentLoc& last = B().Last(1);
  TempDir t;
  const std::string dir = t.Sub("wal");
  CopyBase(dir);
  // A torn tail: shard 1 loses its last two batches, other shards hold
  // higher LSNs.
  ShrinkFile(SegPath(dir, 1, last.seq), last.batches[last.batches.size() - 2].offset + 100);
  Lsn appended = 0;
  std::uint64_t kept = 0;
  {
    auto wal = Wal::Open(ModeOptions(dir, RecoveryMode::kSalvage));
    ASSERT_TRUE(wal.ok()) << wal.status().ToString();
    ASSERT_FALSE((*wal)->recovery_report().missing_lsns.empty()) << "no gap below the highest LSN";
    kept = (*wal)->recovery_report().records;
    AppendOptions async;  // Close() syncs it
    async.durability = Durability::kAsync;
    auto lsn = (*wal)->Append("after", "appended after salvage", async);
    ASSERT_TRUE(lsn.ok());
    appended = *lsn;
    ASSERT_TRUE((*wal)->Close().ok());
  }
  auto wal = Wal::Open(ModeOptions(dir, RecoveryMode::kTolerateTornTail));
  ASSERT_TRUE(wal.ok()) << wal.status().ToString();
  auto all = ReplayAll(**wal);
  EXPECT_EQ(all.size(), kept + 1) << (*wal)->recovery_report().Summary();
  EXPECT_TRUE(all.count(appended)) << "acknowledged LSN " << appended << " lost\n"
                                   << (*wal)->recovery_report().Summary();
}

}  // namespace
}  // namespace shardwal
