// SPDX-License-Identifier: Apache-2.0
// Unsynced pages persisted out of order (defect 2 of the device-loss issue;
// see device_loss_test.cc): lost unsynced bytes before valid batches are a
// torn tail, lost bytes that a later batch says were synced are corruption.
// The damage is done to a crashed WAL's last segment with test_util's
// ZeroBytes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "recovery/segment_reader.h"
#include "shardwal/recovery.h"
#include "shardwal/wal.h"
#include "src/foundation/format.h"
#include "tests/test_util.h"

namespace shardwal {
namespace {

using testing::Contains;
using testing::CrashPayload;
using testing::ReplayedPayloads;
using testing::SegmentFiles;
using testing::ShardDir;
using testing::TempDir;
using testing::TestOptions;
using testing::ZeroBytes;

struct BatchAt {
  std::uint64_t offset, end, synced_offset;
  Lsn first_lsn;
};
// The batches of a segment, in file order (none for a file without a
// header, as the one prepared ahead is).
std::vector<BatchAt> BatchesOf(const std::string& path) {
  std::vector<BatchAt> out;
  auto reader = SegmentReader::Open(FileSystem::Default().get(), path);
  if (!reader.ok()) return out;
  format::RecordView rec;
  while ((*reader)->Next(&rec)) {
    if (out.empty() || out.back().offset != (*reader)->batch_offset()) {
      out.push_back({(*reader)->batch_offset(), (*reader)->batch_end(), (*reader)->batch().synced_offset, rec.lsn});
    }
  }
  return out;
}

// The newest segment of a shard with records (a crash leaves the prepared
// next one empty).
std::string LastSegmentWithRecords(const std::string& dir) {
  auto segs = SegmentFiles(dir);
  while (!segs.empty() && BatchesOf(segs.back()).empty()) segs.pop_back();
  return segs.empty() ? std::string() : segs.back();
}

// Before: the valid batches after the lost bytes made it "corruption", and
// the default mode refused to open although nothing acknowledged was
// involved.
TEST(OutOfOrderPages, LostUnsyncedBytesBeforeValidBatchesAreATornTail) {
  TempDir t;
  Options o = TestOptions(t.Sub("wal"), 1);
  o.max_batch_bytes = 4096;  // one flush of the unsynced tail writes several batches
  constexpr int kAcked = 200, kUnacked = 60;
  testing::CrashAfterUnsyncedTail(o, kAcked, kUnacked);
  const std::string seg = LastSegmentWithRecords(ShardDir(o, 0));
  const auto batches = BatchesOf(seg);
  // The first batch of the unsynced tail, and valid batches after it.
  auto first_unsynced = std::find_if(batches.begin(), batches.end(), [](const BatchAt& b) { return b.first_lsn > kAcked; });
  ASSERT_NE(first_unsynced, batches.end());
  ASSERT_GE(batches.end() - first_unsynced, 2) << "the tail should span several batches";
  for (auto it = first_unsynced; it != batches.end(); ++it) EXPECT_LE(it->synced_offset, first_unsynced->offset);
  ZeroBytes(seg, first_unsynced->offset, first_unsynced->end - first_unsynced->offset);  // its pages never made it
  Options reopen;
  reopen.dir = o.dir;
  auto wal = Wal::Open(reopen);
  ASSERT_TRUE(wal.ok()) << wal.status().ToString();
  const auto& rep = (*wal)->recovery_report();
  EXPECT_EQ(rep.cut_lsn, first_unsynced->first_lsn - 1) << rep.Summary();
  const auto got = ReplayedPayloads(**wal);
  for (int i = 1; i <= kAcked; ++i) EXPECT_EQ(got.at(static_cast<Lsn>(i)), CrashPayload(i));
  const bool torn = std::any_of(rep.anomalies.begin(), rep.anomalies.end(), [](const Anomaly& a) {
    return a.kind == Anomaly::Kind::kZeroedTail || a.kind == Anomaly::Kind::kTornTail;
  });
  EXPECT_TRUE(torn) << rep.Summary();
}

// The other side: lost bytes that a later batch says were synced are
// corruption, and the default mode refuses.
TEST(OutOfOrderPages, LostSyncedBytesAreCorruption) {
  TempDir t;
  Options o = TestOptions(t.Sub("wal"), 1);
  o.max_batch_bytes = 4096;
  constexpr int kAcked = 200, kUnacked = 60;
  testing::CrashAfterUnsyncedTail(o, kAcked, kUnacked);
  const std::string seg = LastSegmentWithRecords(ShardDir(o, 0));
  const auto batches = BatchesOf(seg);
  auto first_unsynced = std::find_if(batches.begin(), batches.end(), [](const BatchAt& b) { return b.first_lsn > kAcked; });
  ASSERT_NE(first_unsynced, batches.end());
  ASSERT_NE(first_unsynced, batches.begin());
  const BatchAt& synced = *(first_unsynced - 1);  // acknowledged, and the batches after it say so
  ASSERT_GT(first_unsynced->synced_offset, synced.offset);
  ZeroBytes(seg, synced.offset + 8, 16);
  Options reopen;
  reopen.dir = o.dir;
  auto wal = Wal::Open(reopen);
  ASSERT_FALSE(wal.ok());
  EXPECT_TRUE(wal.status().IsCorruption()) << wal.status().ToString();
  EXPECT_TRUE(Contains(wal.status(), seg)) << wal.status().ToString();
  EXPECT_TRUE(Contains(wal.status(), "offset " + std::to_string(synced.offset))) << wal.status().ToString();
}

}  // namespace
}  // namespace shardwal
