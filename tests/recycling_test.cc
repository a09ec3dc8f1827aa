// SPDX-License-Identifier: Apache-2.0
// Segment preparation end to end: the short zero-filled first segment and
// full-size ones after it, a rotation that takes the next segment while it
// is being zero-filled, a recycled first segment, and recycled segments
// (released by a checkpoint, renamed, written over from the front) that
// replay exactly after a clean close and survive a crash and a power loss
// in every loss mode (docs/design.md, sections 12-13).
// The self-describing records and the Log they are checked against:
// tests/lifecycle_fixture.h.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "shards/segment_set.h"
#include "shardwal/file_system_wrapper.h"
#include "src/foundation/format.h"
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

// Holds the zero fill of one segment file at its first chunk until Release(),
// and remembers the order of that file's writes: zero chunks, then records.
class GatedZeroFill final : public FileSystemWrapper {
 public:
  explicit GatedZeroFill(std::string file_name) : file_name_(std::move(file_name)) {}

  // Blocks until the preparer is inside the gated chunk.
  void WaitUntilHeld() {
    std::unique_lock lk(mu_);
    cv_.wait(lk, [&] { return held_; });
  }
  void Release() {
    std::lock_guard lk(mu_);
    released_ = true;
    cv_.notify_all();
  }
  std::uint64_t zero_bytes() const {
    std::lock_guard lk(mu_);
    return zero_bytes_;
  }
  // A zero chunk written after the file held records: the preparer wrote
  // over the shard.
  bool zeros_after_records() const {
    std::lock_guard lk(mu_);
    return zeros_after_records_;
  }

 protected:
  std::unique_ptr<WritableFile> WrapWritableFile(std::unique_ptr<WritableFile> file) override {
    if (file->path().find(file_name_) == std::string::npos) return file;
    return std::make_unique<File>(this, std::move(file));
  }

 private:
  class File final : public WritableFileWrapper {
   public:
    File(GatedZeroFill* fs, std::unique_ptr<WritableFile> file) : WritableFileWrapper(std::move(file)), fs_(fs) {}
    Status PWritev(const struct iovec* iov, int iovcnt, std::uint64_t offset) override {
      fs_->BeforeWrite(iov, iovcnt);
      return WritableFileWrapper::PWritev(iov, iovcnt, offset);
    }

   private:
    GatedZeroFill* fs_;
  };

  static bool IsZeroChunk(const struct iovec* iov, int iovcnt) {
    if (iovcnt != 1 || iov[0].iov_len != kZeroFillChunkBytes) return false;
    const auto* p = static_cast<const char*>(iov[0].iov_base);
    return p[0] == 0 && std::memcmp(p, p + 1, iov[0].iov_len - 1) == 0;
  }
  void BeforeWrite(const struct iovec* iov, int iovcnt) {
    std::unique_lock lk(mu_);
    if (!IsZeroChunk(iov, iovcnt)) {
      records_written_ = true;
      return;
    }
    zeros_after_records_ = zeros_after_records_ || records_written_;
    zero_bytes_ += iov[0].iov_len;
    held_ = true;
    cv_.notify_all();
    cv_.wait(lk, [&] { return released_; });
  }

  const std::string file_name_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool held_ = false;
  bool released_ = false;
  bool records_written_ = false;
  bool zeros_after_records_ = false;
  std::uint64_t zero_bytes_ = 0;
};

// With kZeroFill the preparer publishes a fresh segment once its size and
// directory entry are durable, then zero-fills it. A rotation that comes
// meanwhile takes it after the chunk in flight: it waits neither for the
// rest of the fill (which would double-write what the shard is about to
// write) nor lets the preparer write zeros over its records. The gate holds
// the preparer inside the first chunk of segment 2 until the flush thread
// has asked for the segment (its debug line), which pins the interleaving.
TEST(Preallocation, ARotationTakesASegmentMidFillAfterTheChunkInFlight) {
  TempDir dir;
  auto fs = std::make_shared<GatedZeroFill>(format::SegmentFileName(0, 2));
  Options o = LifeOptions(dir.path(), 1, fs);
  o.segment_bytes = 16 * kZeroFillChunkBytes;
  std::mutex log_mu;
  std::vector<std::string> lines;
  o.log_level = LogLevel::kDebug;
  o.log = [&](LogLevel, std::string_view message) {
    if (message.find("zero-filled") == std::string_view::npos) return;
    {
      std::lock_guard lk(log_mu);
      lines.emplace_back(message);
    }
    if (message.find("rotates into") != std::string_view::npos) fs->Release();
  };
  Log log;
  {
    auto wal = OpenOrDie(o);
    ASSERT_TRUE(wal);
    Writer w(*wal, log, 1);
    ASSERT_TRUE(w.One(0, Durability::kGroup).ok());  // segment 1 taken: the preparer starts on segment 2
    fs->WaitUntilHeld();
    ASSERT_TRUE(w.Fill(kFirstSegmentBytes + kFirstSegmentBytes / 2).ok());
    ASSERT_TRUE(w.Ack().ok());
    ASSERT_GE(ListSegments(ShardDir(o, 0)).size(), 2u);
    ASSERT_TRUE(wal->Close().ok());
  }
  EXPECT_EQ(fs->zero_bytes(), kZeroFillChunkBytes) << "the fill went on after the rotation asked for the segment";
  EXPECT_FALSE(fs->zeros_after_records()) << "the preparer wrote zeros over the shard's records";
  {
    std::lock_guard lk(log_mu);
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_NE(lines[1].find("after " + std::to_string(kZeroFillChunkBytes) + " of its " +
                            std::to_string(*o.segment_bytes) + " bytes"),
              std::string::npos)
        << lines[1];
  }
  auto wal = OpenOrDie(o);
  ASSERT_TRUE(wal);
  EXPECT_EQ(CheckRecovered(*wal, log), "");
}

// A zero fill that fails (here: its first write) discards the published
// segment - an error on that file could belong to pages the shard would
// write next - and the next preparation makes the file again under the same
// sequence number: no gap between segments, nothing lost, the WAL healthy.
TEST(Preallocation, AFailedZeroFillDiscardsTheSegmentAndReusesItsNumber) {
  TempDir dir;
  auto fs = std::make_shared<Fi>();
  const std::string second = format::SegmentFileName(0, 2);
  fs->InjectFault(FaultOp::kWrite, 1, EIO, second);
  Options o = LifeOptions(dir.path(), 1, fs);
  o.segment_bytes = 2 * kFirstSegmentBytes;
  std::mutex mu;
  std::condition_variable cv;
  bool fill_failed = false;
  o.log = [&](LogLevel level, std::string_view message) {
    if (level != LogLevel::kWarning || message.find(second) == std::string_view::npos) return;
    std::lock_guard lk(mu);
    fill_failed = true;
    cv.notify_all();
  };
  Log log;
  {
    auto wal = OpenOrDie(o);
    ASSERT_TRUE(wal);
    Writer w(*wal, log, 1);
    ASSERT_TRUE(w.One(0, Durability::kGroup).ok());  // segment 1 taken: the preparer starts on segment 2
    {
      std::unique_lock lk(mu);
      cv.wait(lk, [&] { return fill_failed; });
    }
    ASSERT_TRUE(w.Fill(kFirstSegmentBytes + kFirstSegmentBytes / 2).ok());
    ASSERT_TRUE(w.Ack().ok());
    EXPECT_TRUE(wal->health().ok()) << wal->health().ToString();
    std::vector<std::uint64_t> seqs;
    for (const SegOnDisk& seg : ListSegments(ShardDir(o, 0))) seqs.push_back(seg.seq);
    ASSERT_GE(seqs.size(), 2u);
    EXPECT_EQ(seqs[0], 1u);
    EXPECT_EQ(seqs[1], 2u) << "the failed segment's number was skipped";
    ASSERT_TRUE(wal->Close().ok());
  }
  auto wal = OpenOrDie(o);
  ASSERT_TRUE(wal);
  EXPECT_EQ(CheckRecovered(*wal, log), "");
}

// kZeroFill writes zeros only where they pay: for a shard whose fdatasyncs
// are small (group commit), where they spare each fdatasync an extent
// conversion; not for one that syncs large batches (pipelined ingestion),
// where they would double the bytes written for a saving of one metadata
// commit per many MiB (kZeroFillPaysBelowSyncBytes).
TEST(Preallocation, ZeroFillOnlyForAShardThatSyncsSmallBatches) {
  constexpr std::uint64_t kSegment = 128u << 10;
  {
    // Small syncs: one kGroup record of ~2 KiB at a time.
    TempDir dir;
    Options o = LifeOptions(dir.path(), 1);
    o.segment_bytes = kSegment;
    Log log;
    auto wal = OpenOrDie(o);
    ASSERT_TRUE(wal);
    Writer w(*wal, log, 1);
    while (wal->Stats().total.segments < 5) ASSERT_TRUE(w.One(0, Durability::kGroup, false, 2000).ok());
    const ShardStats st = wal->Stats().total;
    EXPECT_EQ(st.zero_fills_skipped, 0u);
    // Every fresh segment started so far was zero-filled, in full or until taken.
    EXPECT_GE(st.preparation_bytes, 4 * kZeroFillChunkBytes / 8) << "preparation_bytes " << st.preparation_bytes;
    ASSERT_TRUE(wal->Close().ok());
    auto again = OpenOrDie(o);
    ASSERT_TRUE(again);
    EXPECT_EQ(CheckRecovered(*again, log), "");
  }
  {
    // Large syncs: each 1 MiB segment written whole before its (sealing)
    // fdatasync.
    TempDir dir;
    Options o = LifeOptions(dir.path(), 1);
    o.segment_bytes = 8 * kSegment;
    o.max_buffered_bytes = 4 * *o.segment_bytes;  // no sync for lack of room
    Log log;
    auto wal = OpenOrDie(o);
    ASSERT_TRUE(wal);
    Writer w(*wal, log, 1);
    ASSERT_TRUE(w.Fill(12 * *o.segment_bytes).ok());
    ASSERT_TRUE(w.Ack().ok());
    const ShardStats st = wal->Stats().total;
    ASSERT_GE(st.segments, 10u);
    // The average of the sync sizes needs three seals to pass 256 KiB, and
    // two segments were prepared before any seal.
    EXPECT_GE(st.zero_fills_skipped + 5, st.segments) << "segments " << st.segments;
    ASSERT_TRUE(wal->Close().ok());
    auto again = OpenOrDie(o);
    ASSERT_TRUE(again);
    EXPECT_EQ(CheckRecovered(*again, log), "");
  }
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
