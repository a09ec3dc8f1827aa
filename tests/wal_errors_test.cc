// SPDX-License-Identifier: Apache-2.0
// Error paths: I/O failures put the WAL into its failed state (never retried
// into a success), backpressure fails cleanly, bad input and bad directories
// get errors that say what and where.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <future>
#include <thread>

#include "shardwal/testing/fault_injection_file_system.h"
#include "shardwal/wal.h"
#include "src/foundation/format.h"
#include "tests/test_util.h"

namespace shardwal {
namespace {

using Op = FaultInjectionFileSystem::Op;
using testing::ReadWal;
using testing::TempDir;
using testing::TestOptions;

struct FaultyWal {
  TempDir dir;
  std::shared_ptr<FaultInjectionFileSystem> fs = std::make_shared<FaultInjectionFileSystem>();
  Options options;
  std::unique_ptr<Wal> wal;

  explicit FaultyWal(std::uint32_t shards = 2, void (*tweak)(Options&) = nullptr) {
    options = TestOptions(dir.path(), shards);
    options.file_system = fs;
    if (tweak != nullptr) tweak(options);
    auto w = Wal::Open(options);
    EXPECT_TRUE(w.ok()) << w.status().ToString();
    if (w.ok()) wal = std::move(*w);
  }
};

bool Contains(const Status& s, const std::string& what) { return s.message().find(what) != std::string::npos; }

TEST(WalErrors, FailedSyncFailsEveryWaiterAndEveryLaterAppend) {
  // One shard: with more, another shard's sync already in flight when this
  // one fails may still complete, which is fine but would blur the count.
  FaultyWal f(1);
  ASSERT_TRUE(f.wal->Append("a", "before").ok());
  // (The segment being written: the next one is prepared, and synced, in
  // the background.)
  const std::string segment = format::SegmentFileName(0, 1);
  std::atomic<int> segment_syncs{0};
  f.fs->SetSyncObserver([&](const std::string& path, std::uint64_t) {
    if (path.ends_with(segment)) ++segment_syncs;
  });
  f.fs->InjectFault(Op::kSync, 1, EIO, segment);

  // Many writers in flight when the sync fails: none may be told "durable"
  // for a record that is not.
  std::vector<std::future<Result<Lsn>>> writers;
  for (int i = 0; i < 8; ++i) {
    writers.push_back(std::async(std::launch::async, [&, i] { return f.wal->Append("t" + std::to_string(i), "x"); }));
  }
  int failed = 0;
  for (auto& w : writers) {
    auto r = w.get();
    if (r.ok()) {
      EXPECT_GE(f.wal->DurableLsn(), *r);
    } else {
      ++failed;
      EXPECT_TRUE(r.status().IsIOError()) << r.status().ToString();
      EXPECT_EQ(r.status().sys_errno(), EIO);
    }
  }
  EXPECT_GT(failed, 0);
  const Status health = f.wal->health();
  ASSERT_FALSE(health.ok());
  EXPECT_TRUE(Contains(health, "fdatasync")) << health.ToString();
  EXPECT_TRUE(Contains(health, "shard")) << health.ToString();
  EXPECT_TRUE(Contains(health, ".wal")) << health.ToString();  // names the segment file

  const int syncs_after_failure = segment_syncs.load();
  for (Durability d : {Durability::kNone, Durability::kAsync, Durability::kGroup}) {
    AppendOptions ao;
    ao.durability = d;
    auto r = f.wal->Append("later", "x", ao);
    ASSERT_FALSE(r.ok());
    EXPECT_TRUE(r.status().IsIOError()) << r.status().ToString();
  }
  EXPECT_TRUE(f.wal->WaitDurable(f.wal->LastLsn()).IsIOError());
  EXPECT_TRUE(f.wal->Close().IsIOError());
  EXPECT_EQ(segment_syncs.load(), syncs_after_failure) << "a failed WAL synced its segment again";
}

TEST(WalErrors, DiskFullOnWriteFailsTheWal) {
  FaultyWal f(1);
  ASSERT_TRUE(f.wal->Append("a", "fits").ok());
  f.fs->InjectFault(Op::kWrite, 1, ENOSPC, format::SegmentFileName(0, 1));  // not the zero fill of the next
  auto r = f.wal->Append("a", "does not fit");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().sys_errno(), ENOSPC) << r.status().ToString();
  EXPECT_TRUE(Contains(r.status(), "writing shard 0")) << r.status().ToString();
  EXPECT_TRUE(f.wal->Append("a", "x").status().IsIOError());
  EXPECT_FALSE(f.wal->Close().ok());  // the WAL failed: Close says so
  // What was acknowledged is still there.
  const auto recs = ReadWal(f.options);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].payload, "fits");
}

TEST(WalErrors, SegmentCreationFailureAtOpenNamesTheShard) {
  // Open prepares each shard's first segment: a failure there fails Open.
  TempDir dir;
  auto fs = std::make_shared<FaultInjectionFileSystem>();
  Options options = TestOptions(dir.path(), 1);
  options.file_system = fs;
  fs->InjectFault(Op::kCreate, 1, EACCES, "shard0000-");
  auto w = Wal::Open(options);
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().sys_errno(), EACCES);
  EXPECT_TRUE(Contains(w.status(), "of shard 0")) << w.status().ToString();
  EXPECT_TRUE(Contains(w.status(), "shard0000-000000000001.wal")) << w.status().ToString();
}

TEST(WalErrors, SegmentCreationFailureAtRotationFailsTheWalNamingTheShard) {
  // The background preparation of the next segment fails, and so does the
  // retry at rotation: the WAL fails, and says which segment of which shard.
  FaultyWal f(1, [](Options& o) {
    o.segment_bytes = 64u << 10;
    o.max_batch_bytes = 4096;
  });
  f.fs->InjectFault(Op::kCreate, 1, EACCES, "shard0000-", /*sticky=*/true);
  const std::string payload(1000, 'p');
  Status failure;
  for (int i = 0; i < 200 && failure.ok(); ++i) {
    auto r = f.wal->Append("a", payload);
    if (!r.ok()) failure = r.status();
  }
  ASSERT_FALSE(failure.ok()) << "64 KiB segments filled without a second segment";
  EXPECT_EQ(failure.sys_errno(), EACCES);
  EXPECT_TRUE(Contains(failure, "of shard 0")) << failure.ToString();
  EXPECT_FALSE(f.wal->health().ok());
}

void SmallBuffer(Options& o) {
  o.max_record_bytes = 1000;
  o.max_buffered_bytes = 8192;
  o.max_batch_bytes = 4096;
  o.backpressure_timeout = std::chrono::milliseconds(100);
}

// Stalls shard 0's syncs and fills its buffer while the flush thread is stuck
// in a sync; returns the last LSN taken.
Lsn FillWhileStalled(FaultyWal& f) {
  f.fs->StallSyncs("/shard-0/");
  AppendOptions async;
  async.durability = Durability::kAsync;
  const std::string rec(900, 'r');
  auto fill = [&] {
    for (int i = 0; i < 100; ++i) {
      auto r = f.wal->TryAppend("t", rec, async);
      if (!r.ok()) {
        EXPECT_TRUE(r.status().IsBackpressure()) << r.status().ToString();
        return true;
      }
    }
    return false;
  };
  EXPECT_TRUE(fill()) << "the buffer never filled";
  // The flush thread may not have taken its first batch yet: wait until it
  // has written one (it is then blocked in that batch's sync), and fill the
  // buffer it left behind.
  for (int i = 0; i < 5000 && f.wal->Stats().total.writes == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(f.wal->Stats().total.writes, 1u);
  EXPECT_TRUE(fill()) << "the buffer never filled";
  return f.wal->LastLsn();
}

TEST(WalErrors, BackpressureTryAppendFailsAtOnceAndAppendTimesOut) {
  FaultyWal f(1, SmallBuffer);
  const Lsn last = FillWhileStalled(f);
  const std::string rec(900, 'r');

  const auto t0 = std::chrono::steady_clock::now();
  auto now = f.wal->TryAppend("t", rec);
  EXPECT_TRUE(now.status().IsBackpressure());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(50));

  const auto t1 = std::chrono::steady_clock::now();
  auto later = f.wal->Append("t", rec);
  const auto waited = std::chrono::steady_clock::now() - t1;
  ASSERT_TRUE(later.status().IsBackpressure()) << later.status().ToString();
  EXPECT_GE(waited, std::chrono::milliseconds(100));
  EXPECT_TRUE(Contains(later.status(), "shard 0")) << later.status().ToString();
  EXPECT_TRUE(Contains(later.status(), "buffer is full")) << later.status().ToString();
  EXPECT_EQ(f.wal->LastLsn(), last) << "a rejected append took an LSN";
  EXPECT_GT(f.wal->Stats().total.backpressure_waits, 0u);

  f.fs->ResumeSyncs();
  auto after = f.wal->Append("t", rec);
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_EQ(*after, last + 1);
  EXPECT_TRUE(f.wal->health().ok());
}

TEST(WalErrors, FailureWakesWritersBlockedOnBackpressure) {
  FaultyWal f(1, [](Options& o) {
    SmallBuffer(o);
    o.backpressure_timeout = std::chrono::seconds(30);
  });
  FillWhileStalled(f);
  auto blocked = std::async(std::launch::async, [&] { return f.wal->Append("t", std::string(900, 'r')); });
  EXPECT_EQ(blocked.wait_for(std::chrono::milliseconds(100)), std::future_status::timeout);
  f.fs->Deactivate();  // the stalled sync now fails with EIO
  ASSERT_EQ(blocked.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  auto r = blocked.get();
  EXPECT_TRUE(r.status().IsIOError()) << r.status().ToString();
}

TEST(WalErrors, BadInputIsRejectedWithoutTakingAnLsn) {
  FaultyWal f(2, [](Options& o) { o.max_record_bytes = 100; });
  auto big = f.wal->Append("tag", std::string(98, 'x'));
  EXPECT_TRUE(big.status().IsInvalidArgument());
  EXPECT_TRUE(Contains(big.status(), "max_record_bytes=100")) << big.status().ToString();
  auto long_tag = f.wal->Append(std::string(70000, 't'), "");
  EXPECT_TRUE(long_tag.status().IsInvalidArgument());
  EXPECT_TRUE(Contains(long_tag.status(), "tag of 70000 bytes")) << long_tag.status().ToString();
  AppendOptions bad_type;
  bad_type.type = static_cast<RecordType>(77);
  EXPECT_TRUE(f.wal->Append("t", "x", bad_type).status().IsInvalidArgument());
  EXPECT_EQ(f.wal->LastLsn(), 0u);
  EXPECT_EQ(*f.wal->Append("tag", std::string(97, 'x')), 1u);  // exactly the limit
  EXPECT_TRUE(f.wal->WaitDurable(5).IsInvalidArgument());
}

TEST(WalErrors, UnwritableDirectoryIsNamed) {
  TempDir dir;
  auto fs = std::make_shared<FaultInjectionFileSystem>();
  Options o = TestOptions(dir.Sub("wal"), 2);
  o.file_system = fs;
  fs->InjectFault(Op::kCreateDir, 1, EACCES);
  auto r = Wal::Open(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().sys_errno(), EACCES);
  EXPECT_TRUE(Contains(r.status(), dir.Sub("wal"))) << r.status().ToString();

  fs->ClearFaults();
  fs->InjectFault(Op::kLock, 1, EROFS);
  r = Wal::Open(o);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Contains(r.status(), "cannot lock WAL directory")) << r.status().ToString();
}

TEST(WalErrors, DirectoryUnderAFileIsNamed) {
  TempDir dir;
  const std::string file = dir.Sub("plain-file");
  ::close(::open(file.c_str(), O_CREAT | O_WRONLY, 0644));
  auto r = Wal::Open(TestOptions(file + "/wal", 1));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsIOError()) << r.status().ToString();
  EXPECT_TRUE(Contains(r.status(), file)) << r.status().ToString();
}

TEST(WalErrors, AppendsRacingCloseAreEitherDurableOrRejected) {
  TempDir dir;
  const Options o = TestOptions(dir.path(), 3);
  auto opened = Wal::Open(o);
  ASSERT_TRUE(opened.ok());
  auto& wal = *opened;
  std::atomic<bool> go{false};
  std::vector<std::vector<Lsn>> acked(6);
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      while (!go.load()) std::this_thread::yield();
      for (int i = 0;; ++i) {
        AppendOptions ao;
        ao.durability = i % 2 ? Durability::kGroup : Durability::kAsync;
        auto r = wal->Append("t" + std::to_string(t), "x", ao);
        if (!r.ok()) {
          EXPECT_TRUE(r.status().IsClosed()) << r.status().ToString();
          return;
        }
        acked[t].push_back(*r);
      }
    });
  }
  go = true;
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(wal->Close().ok());
  for (auto& th : threads) th.join();
  std::size_t total = 0;
  for (auto& a : acked) total += a.size();
  EXPECT_GT(total, 0u);
  EXPECT_EQ(wal->DurableLsn(), wal->LastLsn());
  EXPECT_EQ(ReadWal(o).size(), wal->LastLsn());
  EXPECT_GE(wal->LastLsn(), total);
}

}  // namespace
}  // namespace shardwal
