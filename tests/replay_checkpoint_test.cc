// SPDX-License-Identifier: Apache-2.0
// A checkpoint taken while Replay reads a segment must not let a rotation
// recycle (overwrite) that segment under it (defect 7 of the device-loss
// issue; see device_loss_test.cc).
#include <gtest/gtest.h>

#include <string>

#include "shardwal/wal.h"
#include "tests/test_util.h"

namespace shardwal {
namespace {

using testing::CrashPayload;
using testing::CrashTag;
using testing::SegmentFiles;
using testing::ShardDir;
using testing::TempDir;
using testing::TestOptions;

TEST(ReplayAndCheckpoint, ACheckpointDuringReplayDoesNotRecycleWhatReplayReads) {
  TempDir t;
  Options o = TestOptions(t.Sub("wal"), 1);
  o.segment_bytes = 64u << 10;
  o.recycle_segments = 8;
  o.preallocation = Preallocation::kNone;
  constexpr int kBefore = 3000;
  {
    auto wal = Wal::Open(o);
    ASSERT_TRUE(wal.ok());
    for (int i = 1; i <= kBefore; ++i) ASSERT_TRUE((*wal)->Append(CrashTag(i), CrashPayload(i)).ok());
    ASSERT_TRUE((*wal)->Close().ok());
  }
  ASSERT_GE(SegmentFiles(ShardDir(o, 0)).size(), 4u);
  auto wal = Wal::Open(o);
  ASSERT_TRUE(wal.ok()) << wal.status().ToString();
  int seen = 0;
  Status s = (*wal)->Replay(0, [&](const ReplayRecord& r) {
    EXPECT_EQ(r.payload, CrashPayload(static_cast<int>(r.lsn)));
    if (++seen == 1) {
      // Everything recovered is persisted elsewhere now; new appends rotate
      // through several segments, recycling whatever was released.
      EXPECT_TRUE((*wal)->Checkpoint(kBefore).ok());
      for (int i = 0; i < 1500; ++i) EXPECT_TRUE((*wal)->Append("new", std::string(200, 'n')).ok());
    }
    return true;
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(seen, kBefore);
  ASSERT_TRUE((*wal)->Close().ok());
  // Once replay ended, the held-back release happened (or happens at the
  // next open): the WAL reopens with the checkpoint.
  auto reopened = Wal::Open(o);
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  EXPECT_EQ((*reopened)->recovery_report().checkpoint_lsn, static_cast<Lsn>(kBefore));
}

}  // namespace
}  // namespace shardwal
