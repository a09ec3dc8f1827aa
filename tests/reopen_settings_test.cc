// SPDX-License-Identifier: Apache-2.0
// What a reopen with other options keeps (defects 3, 5 and 6 of the
// device-loss issue; see device_loss_test.cc): per-shard acknowledgements
// survive a reopen with global consistency, and an open with default
// options keeps the WAL's own shard count, segment size, preallocation and
// retention (from the MANIFEST) while an explicit option wins.
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "shardwal/testing/fault_injection_file_system.h"
#include "shardwal/wal.h"
#include "tests/test_util.h"

namespace shardwal {
namespace {

namespace stdfs = std::filesystem;
using testing::CrashPayload;
using testing::CrashTag;
using testing::ReplayedPayloads;
using testing::SegmentFiles;
using testing::ShardDir;
using testing::TempDir;
using testing::TestOptions;

// ---- defect 3: switching consistency ---------------------------------------------

// Before: per-shard acknowledged LSN 2 while LSN 1 (other shard) was lost;
// a global reopen cut at the gap and removed LSN 2.
TEST(Consistency, PerShardAcknowledgementsSurviveAGlobalReopen) {
  TempDir t;
  Options o = TestOptions(t.Sub("wal"), 2);
  o.consistency = Consistency::kPerShard;
  auto fs = std::make_shared<FaultInjectionFileSystem>();
  o.file_system = fs;
  std::string tag0, tag1;  // tags routed to shard 0 and shard 1
  {
    auto wal = Wal::Open(o);
    ASSERT_TRUE(wal.ok()) << wal.status().ToString();
    for (int i = 0; tag0.empty() || tag1.empty(); ++i) {
      const std::string tag = "tag" + std::to_string(i);
      (((*wal)->ShardForTag(tag) == 0) ? tag0 : tag1) = tag;
    }
    fs->StallSyncs("/shard-1/");  // shard 1's device hangs
    AppendOptions async;
    async.durability = Durability::kAsync;
    auto lost = (*wal)->Append(tag1, "never synced", async);
    ASSERT_TRUE(lost.ok());
    auto acked = (*wal)->Append(tag0, "acknowledged by its shard");  // group: per-shard returns once shard 0 synced
    ASSERT_TRUE(acked.ok()) << acked.status().ToString();
    ASSERT_GT(*acked, *lost);
    fs->Deactivate();  // power loss
  }
  FaultInjectionFileSystem::PowerLossOptions loss;
  loss.mode = FaultInjectionFileSystem::LossMode::kDropUnsynced;
  ASSERT_TRUE(fs->SimulatePowerLoss(loss).ok());
  Options global;
  global.dir = o.dir;
  global.file_system = fs;
  global.consistency = Consistency::kGlobal;
  auto wal = Wal::Open(global);
  ASSERT_TRUE(wal.ok()) << wal.status().ToString();
  bool found = false;
  ASSERT_TRUE((*wal)->Replay(0, [&](const ReplayRecord& r) {
                    found = found || r.payload == "acknowledged by its shard";
                    return true;
                  }).ok());
  EXPECT_TRUE(found) << (*wal)->recovery_report().Summary();
  ASSERT_TRUE((*wal)->Close().ok());
  // And it stays: the global epoch records that the gap was accepted.
  auto again = Wal::Open(global);
  ASSERT_TRUE(again.ok());
  found = false;
  ASSERT_TRUE((*again)->Replay(0, [&](const ReplayRecord& r) {
                      found = found || r.payload == "acknowledged by its shard";
                      return true;
                    }).ok());
  EXPECT_TRUE(found);
}

// ---- defects 5 and 6: an open with default options keeps the WAL's own -------------

// Before: num_shards 0 meant the machine's default (1 here), and Open began
// a 1-shard epoch over the 3-shard WAL.
TEST(WalsOwnSettings, DefaultShardCountKeepsTheWalsShards) {
  TempDir t;
  Options o = TestOptions(t.Sub("wal"), 3);
  {
    auto wal = Wal::Open(o);
    ASSERT_TRUE(wal.ok());
    for (int i = 1; i <= 50; ++i) ASSERT_TRUE((*wal)->Append(CrashTag(i), CrashPayload(i)).ok());
    ASSERT_TRUE((*wal)->Close().ok());
  }
  Options defaults;
  defaults.dir = o.dir;
  auto wal = Wal::Open(defaults);
  ASSERT_TRUE(wal.ok()) << wal.status().ToString();
  EXPECT_EQ((*wal)->num_shards(), 3u);
  EXPECT_EQ((*wal)->options().shard_dirs, (std::vector<std::string>{ShardDir(o, 0), ShardDir(o, 1), ShardDir(o, 2)}));
  // Asked for explicitly, another count still wins.
  ASSERT_TRUE((*wal)->Close().ok());
  Options two;
  two.dir = o.dir;
  two.num_shards = 2;
  auto resharded = Wal::Open(two);
  ASSERT_TRUE(resharded.ok()) << resharded.status().ToString();
  EXPECT_EQ((*resharded)->num_shards(), 2u);
  EXPECT_EQ(ReplayedPayloads(**resharded).size(), 50u);
}

// Before: an open with default options wrote 64 MiB zero-filled segments
// into a WAL of 64 KiB ones and forgot its retention.
TEST(WalsOwnSettings, SegmentSizePreallocationAndRetentionComeFromTheManifest) {
  TempDir t;
  Options o = TestOptions(t.Sub("wal"), 2);
  o.segment_bytes = 64u << 10;
  o.preallocation = Preallocation::kAllocate;
  o.recycle_segments = 1;
  o.retain_segments = 3;
  o.max_wal_bytes = 8u << 20;
  {
    auto wal = Wal::Open(o);
    ASSERT_TRUE(wal.ok());
    ASSERT_TRUE((*wal)->Append("a", "b").ok());
    ASSERT_TRUE((*wal)->Close().ok());
  }
  Options defaults;
  defaults.dir = o.dir;
  auto wal = Wal::Open(defaults);
  ASSERT_TRUE(wal.ok()) << wal.status().ToString();
  const Options& got = (*wal)->options();
  EXPECT_EQ(*got.segment_bytes, 64u << 10);
  EXPECT_EQ(*got.preallocation, Preallocation::kAllocate);
  EXPECT_EQ(*got.recycle_segments, 1u);
  EXPECT_EQ(*got.retain_segments, 3u);
  EXPECT_EQ(*got.max_wal_bytes, 8u << 20);
  for (const auto& seg : SegmentFiles(ShardDir(o, 0))) EXPECT_LE(stdfs::file_size(seg), 64u << 10) << seg;
  ASSERT_TRUE((*wal)->Close().ok());
  // An explicit option wins, and becomes the WAL's.
  Options bigger;
  bigger.dir = o.dir;
  bigger.segment_bytes = 128u << 10;
  auto w2 = Wal::Open(bigger);
  ASSERT_TRUE(w2.ok()) << w2.status().ToString();
  EXPECT_EQ(*(*w2)->options().segment_bytes, 128u << 10);
  EXPECT_EQ(*(*w2)->options().retain_segments, 3u);
}

}  // namespace
}  // namespace shardwal
