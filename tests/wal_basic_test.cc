// SPDX-License-Identifier: Apache-2.0
// The write path end to end: appends land on disk intact, in LSN order, with
// the durability each asked for; the lifecycle behaves.
#include <gtest/gtest.h>

#include <future>
#include <set>
#include <thread>

#include "shardwal/testing/fault_injection_file_system.h"
#include "shardwal/wal.h"
#include "src/foundation/format.h"
#include "tests/test_util.h"

namespace shardwal {
namespace {

using testing::ReadWal;
using testing::TempDir;
using testing::TestOptions;

std::unique_ptr<Wal> OpenOrDie(const Options& o) {
  auto wal = Wal::Open(o);
  EXPECT_TRUE(wal.ok()) << wal.status().ToString();
  return wal.ok() ? std::move(*wal) : nullptr;
}

TEST(WalBasic, AppendsGetLsnsFromOneAndLandOnDisk) {
  TempDir dir;
  const Options o = TestOptions(dir.path(), 3);
  auto wal = OpenOrDie(o);
  ASSERT_NE(wal, nullptr);
  EXPECT_EQ(wal->LastLsn(), 0u);
  EXPECT_EQ(wal->DurableLsn(), 0u);
  for (int i = 1; i <= 50; ++i) {
    auto lsn = wal->Append("tag" + std::to_string(i % 7), "payload " + std::to_string(i));
    ASSERT_TRUE(lsn.ok()) << lsn.status().ToString();
    EXPECT_EQ(*lsn, Lsn(i));
    EXPECT_GE(wal->DurableLsn(), *lsn);  // group durability: durable on return
  }
  AppendOptions txn;
  txn.type = RecordType::kTxnCommit;
  txn.txn_id = 77;
  ASSERT_EQ(*wal->Append("tx", "", txn), 51u);
  ASSERT_TRUE(wal->Close().ok());

  const auto recs = ReadWal(o);
  ASSERT_EQ(recs.size(), 51u);
  for (int i = 1; i <= 50; ++i) {
    const auto& r = recs[i - 1];
    EXPECT_EQ(r.lsn, Lsn(i));
    EXPECT_EQ(r.tag, "tag" + std::to_string(i % 7));
    EXPECT_EQ(r.payload, "payload " + std::to_string(i));
    EXPECT_EQ(r.type, RecordType::kData);
    EXPECT_EQ(r.shard, wal->ShardForTag(r.tag));
  }
  EXPECT_EQ(recs[50].type, RecordType::kTxnCommit);
  EXPECT_EQ(recs[50].txn_id, 77u);
}

TEST(WalBasic, AsyncAppendsBecomeDurableWithoutWaitingAndWaitDurableWaits) {
  TempDir dir;
  Options o = TestOptions(dir.path(), 2);
  o.durability = Durability::kAsync;
  o.max_batch_delay = std::chrono::milliseconds(50);
  auto wal = OpenOrDie(o);
  Lsn last = 0;
  for (int i = 0; i < 1000; ++i) last = *wal->Append("t" + std::to_string(i % 10), "x");
  EXPECT_EQ(last, 1000u);
  ASSERT_TRUE(wal->WaitDurable(last).ok());
  EXPECT_GE(wal->DurableLsn(), last);
  EXPECT_TRUE(wal->WaitDurable(last + 1).IsInvalidArgument());
  EXPECT_TRUE(wal->WaitDurable(0).ok());
}

TEST(WalBasic, NoneRecordsAreSyncedOnlyWhenSomeoneWaitsOrAtClose) {
  TempDir dir;
  auto fs = std::make_shared<FaultInjectionFileSystem>();
  Options o = TestOptions(dir.path(), 2);
  o.file_system = fs;
  o.durability = Durability::kNone;
  o.max_batch_delay = std::chrono::microseconds(100);
  auto wal = OpenOrDie(o);
  Lsn last = 0;
  for (int i = 0; i < 100; ++i) last = *wal->Append("t" + std::to_string(i), "none");
  // Nobody waits: the watermark does not claim what was never synced.
  EXPECT_EQ(wal->DurableLsn(), 0u);
  // A waiter makes the shards sync whatever lies below its LSN.
  ASSERT_TRUE(wal->WaitDurable(last).ok());
  EXPECT_GE(wal->DurableLsn(), last);
  const auto syncs = fs->sync_count();
  EXPECT_GT(syncs, 0u);
  last = *wal->Append("later", "none");
  ASSERT_TRUE(wal->Close().ok());
  EXPECT_EQ(wal->DurableLsn(), last);  // Close syncs everything
  EXPECT_EQ(ReadWal(o).size(), 101u);
}

TEST(WalBasic, MixedDurabilityOnOneShardStillOrdersByLsn) {
  TempDir dir;
  const Options o = TestOptions(dir.path(), 1);
  auto wal = OpenOrDie(o);
  const Durability modes[] = {Durability::kNone, Durability::kAsync, Durability::kGroup};
  for (int i = 0; i < 300; ++i) {
    AppendOptions ao;
    ao.durability = modes[i % 3];
    ASSERT_TRUE(wal->Append("same", std::to_string(i), ao).ok());
  }
  EXPECT_GE(wal->DurableLsn(), 300u);  // the last one was a group append
  ASSERT_TRUE(wal->Close().ok());
  const auto recs = ReadWal(o);
  ASSERT_EQ(recs.size(), 300u);
  for (int i = 0; i < 300; ++i) EXPECT_EQ(recs[i].payload, std::to_string(i));
}

TEST(WalBasic, BatchAppendIsConsecutiveAcrossShards) {
  TempDir dir;
  const Options o = TestOptions(dir.path(), 4);
  auto wal = OpenOrDie(o);
  ASSERT_EQ(*wal->Append("before", "x"), 1u);
  std::vector<std::string> tags, payloads;
  for (int i = 0; i < 100; ++i) {
    tags.push_back("series-" + std::to_string(i % 13));
    payloads.push_back("point " + std::to_string(i));
  }
  std::vector<RecordSpec> batch;
  for (int i = 0; i < 100; ++i) batch.push_back(RecordSpec{tags[i], payloads[i]});
  auto range = wal->AppendBatch(batch);
  ASSERT_TRUE(range.ok()) << range.status().ToString();
  EXPECT_EQ(range->first, 2u);
  EXPECT_EQ(range->last, 101u);
  EXPECT_GE(wal->DurableLsn(), 101u);
  EXPECT_TRUE(wal->AppendBatch({}).status().IsInvalidArgument());
  ASSERT_TRUE(wal->Close().ok());
  const auto recs = ReadWal(o);
  ASSERT_EQ(recs.size(), 101u);
  std::set<std::uint32_t> shards;
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(recs[i + 1].lsn, Lsn(i + 2));
    EXPECT_EQ(recs[i + 1].payload, payloads[i]);
    EXPECT_EQ(recs[i + 1].shard, wal->ShardForTag(tags[i]));
    shards.insert(recs[i + 1].shard);
  }
  EXPECT_GT(shards.size(), 1u);
}

TEST(WalBasic, BatchWithABadRecordTakesNoLsn) {
  TempDir dir;
  Options o = TestOptions(dir.path(), 2);
  o.max_record_bytes = 100;
  auto wal = OpenOrDie(o);
  const std::string big(200, 'b');
  std::vector<RecordSpec> batch = {{"a", "ok"}, {"b", big}};
  auto r = wal->AppendBatch(batch);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("record 1"), std::string::npos) << r.status().ToString();
  EXPECT_EQ(wal->LastLsn(), 0u);
  EXPECT_EQ(*wal->Append("a", "ok"), 1u);
}

TEST(WalBasic, OnDurableAndFutureComplete) {
  TempDir dir;
  Options o = TestOptions(dir.path(), 2);
  o.durability = Durability::kAsync;
  auto wal = OpenOrDie(o);
  std::promise<Status> done;
  Lsn last = 0;
  for (int i = 0; i < 2000; ++i) last = *wal->Append("t" + std::to_string(i % 50), "pipelined");
  wal->OnDurable(last, [&](const Status& s) { done.set_value(s); });
  auto f = done.get_future();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_TRUE(f.get().ok());
  EXPECT_GE(wal->DurableLsn(), last);
  auto fut = wal->DurableFuture(*wal->Append("one", "more"));
  ASSERT_EQ(fut.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_TRUE(fut.get().ok());
  std::promise<Status> never;
  wal->OnDurable(last + 100, [&](const Status& s) { never.set_value(s); });
  EXPECT_TRUE(never.get_future().get().IsInvalidArgument());
}

TEST(WalBasic, TryAppendDoesNotWaitForDurability) {
  TempDir dir;
  auto fs = std::make_shared<FaultInjectionFileSystem>();
  Options o = TestOptions(dir.path(), 1);
  o.file_system = fs;
  auto wal = OpenOrDie(o);
  ASSERT_TRUE(wal->Append("warm", "up").ok());  // first segment exists
  fs->StallSyncs("shard-0");
  auto lsn = wal->TryAppend("t", "x");  // group durability, but returns at once
  ASSERT_TRUE(lsn.ok()) << lsn.status().ToString();
  EXPECT_LT(wal->DurableLsn(), *lsn);
  fs->ResumeSyncs();
  EXPECT_TRUE(wal->WaitDurable(*lsn).ok());
}

TEST(WalBasic, SegmentsRotateAtSegmentBytes) {
  TempDir dir;
  Options o = TestOptions(dir.path(), 1);
  o.segment_bytes = 64 * 1024;
  // Group appends, one at a time: small batches, so rotation points are many
  // (a batch never spans two segments).
  auto wal = OpenOrDie(o);
  const std::string payload(1000, 'r');
  for (int i = 0; i < 500; ++i) ASSERT_TRUE(wal->Append("t", payload).ok());
  ASSERT_TRUE(wal->Close().ok());
  EXPECT_GE(wal->Stats().total.segments, 7u);
  const auto recs = ReadWal(o);
  ASSERT_EQ(recs.size(), 500u);
  std::uint64_t seq = 0;
  for (std::size_t i = 0; i < recs.size(); ++i) {
    EXPECT_EQ(recs[i].lsn, i + 1);
    EXPECT_GE(recs[i].segment_seq, seq);
    seq = recs[i].segment_seq;
  }
  EXPECT_GE(seq, 7u);
}

TEST(WalBasic, ShardsLiveInTheirOwnDirectories) {
  TempDir dir;
  Options o;
  o.dir = dir.Sub("home");
  o.shard_dirs = {dir.Sub("dev0/wal"), dir.Sub("dev1/wal")};
  auto wal = OpenOrDie(o);
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(wal->Append("tag" + std::to_string(i), "v").ok());
  ASSERT_TRUE(wal->Close().ok());
  auto fs = FileSystem::Default();
  for (const auto& d : o.shard_dirs) {
    auto names = fs->ListDir(d);
    ASSERT_TRUE(names.ok());
    int segments = 0;
    for (const auto& n : *names) segments += n.ends_with(".wal");
    EXPECT_EQ(segments, 1) << d;
  }
  EXPECT_EQ(ReadWal(o).size(), 40u);
}

TEST(WalBasic, CloseIsIdempotentAndAppendsAfterItFail) {
  TempDir dir;
  auto wal = OpenOrDie(TestOptions(dir.path()));
  ASSERT_TRUE(wal->Append("a", "b").ok());
  EXPECT_TRUE(wal->Close().ok());
  EXPECT_TRUE(wal->Close().ok());
  auto r = wal->Append("a", "b");
  EXPECT_TRUE(r.status().IsClosed()) << r.status().ToString();
  EXPECT_TRUE(wal->TryAppend("a", "b").status().IsClosed());
  EXPECT_TRUE(wal->AppendBatch(std::vector<RecordSpec>{{"a", "b"}}).status().IsClosed());
  EXPECT_EQ(wal->LastLsn(), 1u);
}

TEST(WalBasic, DestructorClosesAndReleasesTheLock) {
  TempDir dir;
  const Options o = TestOptions(dir.path());
  {
    auto wal = OpenOrDie(o);
    for (int i = 0; i < 10; ++i) {
      AppendOptions ao;
      ao.durability = Durability::kNone;
      ASSERT_TRUE(wal->Append("a", "b", ao).ok());
    }
  }
  EXPECT_EQ(ReadWal(o).size(), 10u);  // flushed by the destructor
  // The directory is free again, and the records come back.
  auto again = Wal::Open(o);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ((*again)->recovery_report().records, 10u);
  EXPECT_EQ((*again)->LastLsn(), 10u);
  EXPECT_EQ((*again)->DurableLsn(), 10u);
  EXPECT_EQ(*(*again)->Append("a", "b"), 11u);
}

TEST(WalBasic, SecondOpenOfALockedDirectoryIsBusy) {
  TempDir dir;
  const Options o = TestOptions(dir.path());
  auto wal = OpenOrDie(o);
  auto second = Wal::Open(o);
  ASSERT_FALSE(second.ok());
  EXPECT_TRUE(second.status().IsBusy()) << second.status().ToString();
  EXPECT_NE(second.status().message().find(dir.path()), std::string::npos);
}

TEST(WalBasic, StatsCountWhatHappened) {
  TempDir dir;
  auto wal = OpenOrDie(TestOptions(dir.path(), 2));
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(wal->Append("t" + std::to_string(i), "0123456789").ok());
  const WalStats st = wal->Stats();
  EXPECT_EQ(st.total.records, 20u);
  EXPECT_EQ(st.last_lsn, 20u);
  EXPECT_EQ(st.durable_lsn, 20u);
  EXPECT_GE(st.total.fsyncs, 1u);
  EXPECT_LE(st.total.fsyncs, 20u);
  EXPECT_GE(st.total.batches, st.total.fsyncs);
  EXPECT_EQ(st.shards.size(), 2u);
  EXPECT_EQ(st.shards[0].records + st.shards[1].records, 20u);
  EXPECT_GE(st.total.bytes, 20u * (format::kRecordHeaderBytes + 10));
}

}  // namespace
}  // namespace shardwal
