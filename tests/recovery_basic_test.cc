// SPDX-License-Identifier: Apache-2.0
// Recovery end to end: reopen, power loss, resharding, replay.
#include <gtest/gtest.h>

#include <map>

#include "shardwal/testing/fault_injection_file_system.h"
#include "shardwal/recovery.h"
#include "shardwal/wal.h"
#include "tests/test_util.h"

namespace shardwal {
namespace {

using testing::ReplayedPayloads;
using testing::TempDir;
using testing::TestOptions;

TEST(RecoveryBasic, ReopenAfterCloseKeepsEverythingAndContinues) {
  TempDir dir;
  Options o = TestOptions(dir.path(), 3);
  {
    auto wal = Wal::Open(o);
    ASSERT_TRUE(wal.ok());
    EXPECT_FALSE((*wal)->recovery_report().existing);
    for (int i = 1; i <= 100; ++i) ASSERT_TRUE((*wal)->Append("t" + std::to_string(i % 9), "v" + std::to_string(i)).ok());
  }
  for (int round = 0; round < 3; ++round) {
    auto wal = Wal::Open(o);
    ASSERT_TRUE(wal.ok()) << wal.status().ToString();
    const auto& rep = (*wal)->recovery_report();
    EXPECT_TRUE(rep.existing);
    EXPECT_EQ(rep.records, 100u + 10u * round);
    EXPECT_EQ(rep.cut_lsn, 100u + 10u * round);
    EXPECT_TRUE(rep.anomalies.empty()) << rep.Summary();
    auto all = ReplayedPayloads(**wal);
    ASSERT_EQ(all.size(), 100u + 10u * round);
    EXPECT_EQ(all[1], "v1");
    EXPECT_EQ(all[100], "v100");
    for (int i = 0; i < 10; ++i) {
      auto lsn = (*wal)->Append("x", "round" + std::to_string(round));
      ASSERT_TRUE(lsn.ok());
      EXPECT_EQ(*lsn, 101u + 10u * round + i);
    }
  }
}

TEST(RecoveryBasic, PowerLossKeepsEveryAcknowledgedRecord) {
  for (auto mode : {FaultInjectionFileSystem::LossMode::kDropUnsynced, FaultInjectionFileSystem::LossMode::kKeepRandomPrefix,
                    FaultInjectionFileSystem::LossMode::kTearLastWrite}) {
    TempDir dir;
    auto fs = std::make_shared<FaultInjectionFileSystem>();
    Options o = TestOptions(dir.path(), 3);
    o.file_system = fs;
    std::map<Lsn, std::string> acked;
    {
      auto wal = Wal::Open(o);
      ASSERT_TRUE(wal.ok());
      for (int i = 0; i < 300; ++i) {
        AppendOptions ao;
        ao.durability = i % 3 == 0 ? Durability::kGroup : Durability::kAsync;
        const std::string payload = "p" + std::to_string(i);
        auto lsn = (*wal)->Append("tag" + std::to_string(i % 11), payload, ao);
        ASSERT_TRUE(lsn.ok());
        if (ao.durability == Durability::kGroup) {
          for (Lsn l = 1; l <= *lsn; ++l) acked[l];  // everything <= it is acknowledged
          acked[*lsn] = payload;
        }
      }
      fs->Deactivate();
    }
    FaultInjectionFileSystem::PowerLossOptions plo;
    plo.mode = mode;
    plo.seed = 7;
    ASSERT_TRUE(fs->SimulatePowerLoss(plo).ok());
    auto wal = Wal::Open(o);
    ASSERT_TRUE(wal.ok()) << wal.status().ToString();
    auto all = ReplayedPayloads(**wal);
    for (const auto& [lsn, payload] : acked) {
      ASSERT_TRUE(all.count(lsn)) << "acknowledged LSN " << lsn << " lost\n" << (*wal)->recovery_report().Summary();
      if (!payload.empty()) {
        EXPECT_EQ(all[lsn], payload);
      }
    }
    // Gap-free from 1 to the cut, and appends continue right after it.
    Lsn expect = 1;
    for (const auto& [lsn, p] : all) EXPECT_EQ(lsn, expect++);
    EXPECT_EQ((*wal)->recovery_report().cut_lsn, all.size());
    auto next = (*wal)->Append("after", "crash");
    ASSERT_TRUE(next.ok());
    EXPECT_EQ(*next, all.size() + 1);
  }
}

TEST(RecoveryBasic, ReshardingKeepsOldShardsReadable) {
  TempDir dir;
  Options o = TestOptions(dir.path(), 4);
  {
    auto wal = Wal::Open(o);
    ASSERT_TRUE(wal.ok());
    for (int i = 0; i < 80; ++i) ASSERT_TRUE((*wal)->Append("t" + std::to_string(i), "four").ok());
  }
  o.num_shards = 2;
  o.routing = Routing::kThread;
  {
    auto wal = Wal::Open(o);
    ASSERT_TRUE(wal.ok()) << wal.status().ToString();
    EXPECT_EQ((*wal)->recovery_report().records, 80u);
    for (int i = 0; i < 20; ++i) ASSERT_TRUE((*wal)->Append("two").ok());
  }
  o.num_shards = 3;
  auto wal = Wal::Open(o);
  ASSERT_TRUE(wal.ok()) << wal.status().ToString();
  auto all = ReplayedPayloads(**wal);
  ASSERT_EQ(all.size(), 100u);
  EXPECT_EQ(all[80], "four");
  EXPECT_EQ(all[81], "two");
}

TEST(RecoveryBasic, ReadOnlyReaderSeesTheRecoveredLogWithoutChangingIt) {
  TempDir dir;
  Options o = TestOptions(dir.path(), 2);
  auto wal = Wal::Open(o);
  ASSERT_TRUE(wal.ok());
  for (int i = 0; i < 50; ++i) ASSERT_TRUE((*wal)->Append("t" + std::to_string(i), std::to_string(i)).ok());
  // While the writer still holds the directory.
  auto reader = LogReader::Open(o);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_EQ((*reader)->report().records, 50u);
  std::vector<Lsn> from40;
  ASSERT_TRUE((*reader)->Replay(40, [&](const ReplayRecord& r) {
                           from40.push_back(r.lsn);
                           return true;
                         }).ok());
  EXPECT_EQ(from40.size(), 11u);
  EXPECT_EQ(from40.front(), 40u);
}

TEST(RecoveryBasic, TransactionAwareReplay) {
  TempDir dir;
  Options o = TestOptions(dir.path(), 3);
  {
    auto wal = Wal::Open(o);
    ASSERT_TRUE(wal.ok());
    auto put = [&](RecordType type, std::uint64_t txn, const std::string& tag, const std::string& v) {
      AppendOptions ao;
      ao.type = type;
      ao.txn_id = txn;
      ASSERT_TRUE((*wal)->Append(tag, v, ao).ok());
    };
    put(RecordType::kTxnBegin, 1, "a", "");
    put(RecordType::kData, 1, "a", "t1-a");
    put(RecordType::kData, 1, "b", "t1-b");
    put(RecordType::kData, 0, "c", "plain");
    put(RecordType::kTxnBegin, 2, "a", "");
    put(RecordType::kData, 2, "c", "t2");
    put(RecordType::kTxnAbort, 2, "a", "");
    put(RecordType::kTxnCommit, 1, "z", "");
    put(RecordType::kData, 3, "d", "t3 never decided");
    put(RecordType::kData, 4, "e", "t4 prepared");
    put(RecordType::kTxnPrepare, 4, "e", "");
  }
  auto reader = LogReader::Open(o);
  ASSERT_TRUE(reader.ok());
  std::vector<std::string> got;
  TxnReplayReport rep;
  ASSERT_TRUE((*reader)->ReplayCommitted(0, [&](const ReplayRecord& r) {
                           got.emplace_back(r.payload);
                           return true;
                         }, &rep).ok());
  EXPECT_EQ(got, (std::vector<std::string>{"t1-a", "t1-b", "plain"}));
  EXPECT_EQ(rep.committed, 1u);
  EXPECT_EQ(rep.aborted, std::vector<std::uint64_t>{2});
  EXPECT_EQ(rep.incomplete, std::vector<std::uint64_t>{3});
  EXPECT_EQ(rep.in_doubt, std::vector<std::uint64_t>{4});
  EXPECT_EQ(rep.data_records_skipped, 3u);
}

}  // namespace
}  // namespace shardwal

namespace shardwal {
namespace {

// Per-shard consistency: a group append waits only for its own shard, and
// recovery keeps every valid record of every shard (gaps allowed).
TEST(PerShardConsistency, AppendsWaitForTheirOwnShardAndRecoveryKeepsEveryShard) {
  TempDir dir;
  auto fs = std::make_shared<FaultInjectionFileSystem>();
  Options o = TestOptions(dir.path(), 2);
  o.file_system = fs;
  o.consistency = Consistency::kPerShard;
  std::string slow_tag = "slow", fast_tag;
  std::map<Lsn, std::string> acked_fast;
  {
    auto opened = Wal::Open(o);
    ASSERT_TRUE(opened.ok());
    auto& wal = *opened;
    for (int i = 0; fast_tag.empty(); ++i) {
      const std::string t = "fast" + std::to_string(i);
      if (wal->ShardForTag(t) != wal->ShardForTag(slow_tag)) fast_tag = t;
    }
    ASSERT_TRUE(wal->Append(slow_tag, "warm").ok());
    fs->StallSyncs("/shard-" + std::to_string(wal->ShardForTag(slow_tag)) + "/");
    AppendOptions async;
    async.durability = Durability::kAsync;
    const Lsn stuck = *wal->Append(slow_tag, "never synced", async);
    // Group appends on the other shard return although a lower LSN is not
    // durable: their own shard is.
    for (int i = 0; i < 20; ++i) {
      auto lsn = wal->Append(fast_tag, "fast" + std::to_string(i));
      ASSERT_TRUE(lsn.ok());
      EXPECT_GT(*lsn, stuck);
      acked_fast[*lsn] = "fast" + std::to_string(i);
    }
    EXPECT_LT(wal->DurableLsn(), stuck);  // the global watermark still waits
    fs->Deactivate();                      // power fails with the slow shard stalled
  }
  ASSERT_TRUE(fs->SimulatePowerLoss({}).ok());
  fs->ResumeSyncs();  // the device works again after the restart
  auto wal = Wal::Open(o);
  ASSERT_TRUE(wal.ok()) << wal.status().ToString();
  std::map<Lsn, std::string> all;
  ASSERT_TRUE((*wal)->Replay(0, [&](const ReplayRecord& r) {
                       all[r.lsn] = std::string(r.payload);
                       return true;
                     }).ok());
  for (const auto& [lsn, payload] : acked_fast) {
    ASSERT_TRUE(all.count(lsn)) << "LSN " << lsn << " acknowledged by its shard was lost";
    EXPECT_EQ(all[lsn], payload);
  }
  const auto& rep = (*wal)->recovery_report();
  EXPECT_FALSE(rep.missing_lsns.empty()) << rep.Summary();  // the stalled record
  EXPECT_EQ(*(*wal)->Append("next", "x"), rep.max_lsn_seen + 1);
}

}  // namespace
}  // namespace shardwal

#include "src/foundation/manifest.h"

namespace shardwal {
namespace {

TEST(RecoveryBasic, ReopeningWithoutAppendsDoesNotGrowTheManifest) {
  TempDir dir;
  Options o = TestOptions(dir.path(), 2);
  {
    auto wal = Wal::Open(o);
    ASSERT_TRUE(wal.ok());
    ASSERT_TRUE((*wal)->Append("a", "1").ok());
  }
  for (int i = 0; i < 5; ++i) {
    auto wal = Wal::Open(o);
    ASSERT_TRUE(wal.ok()) << wal.status().ToString();
    EXPECT_EQ((*wal)->recovery_report().records, 1u);
  }
  auto m = Manifest::Load(*FileSystem::Default(), dir.path());
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  // Epoch 1 owns the segment; the current epoch is the only other one kept.
  EXPECT_EQ(m->epochs().size(), 2u);
  EXPECT_EQ(m->current().epoch, 6u);  // one create + five re-opens
  EXPECT_EQ(m->current().first_lsn, 2u);
}

}  // namespace
}  // namespace shardwal
