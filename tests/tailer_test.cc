// SPDX-License-Identifier: Apache-2.0
// LogTailer (include/shardwal/tailer.h; docs/design.md, "Tailing"): every
// record delivered exactly once, in LSN order, never above W - with writers
// running, across rotation, recycling and checkpoints; checkpoints held back
// by a tailer, and the bound past which it falls behind (or appends get
// Backpressure); one-shard tailers; resuming; Close and Interrupt.
#include "shardwal/tailer.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "shardwal/metrics.h"
#include "shardwal/wal.h"
#include "tests/test_util.h"

namespace shardwal {
namespace {

using testing::OpenOrDie;
using testing::TempDir;

constexpr std::uint64_t kSeg = 64u << 10;  // the smallest segment_bytes: many rotations

Options SmallSegments(const std::string& dir, std::uint32_t shards) {
  Options o = testing::TestOptions(dir, shards);
  o.segment_bytes = kSeg;
  o.max_batch_bytes = 8u << 10;  // batches small enough to fill segments
  o.file_system = FileSystem::Default();
  o.log = [](LogLevel, std::string_view) {};
  return o;
}

std::string Payload(std::uint64_t id) { return "p" + std::to_string(id) + std::string(100 + id % 50, 'x'); }

// Appends `n` records (tags spread over the shards) without waiting, then
// waits until they are durable; returns LSN -> payload.
std::map<Lsn, std::string> AppendN(Wal& wal, int n, int first_id = 0, std::map<Lsn, std::uint32_t>* shard_of = nullptr) {
  std::map<Lsn, std::string> out;
  Lsn last = kNoLsn;
  for (int i = 0; i < n; ++i) {
    const std::string p = Payload(static_cast<std::uint64_t>(first_id + i));
    const std::string tag = "tag" + std::to_string((first_id + i) % 13);
    auto r = wal.Append(tag, p, {.durability = Durability::kAsync});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) break;
    if (shard_of != nullptr) (*shard_of)[*r] = wal.ShardForTag(tag);
    out[*r] = p;
    last = *r;
  }
  EXPECT_TRUE(wal.WaitDurable(last).ok());
  return out;
}

// What a tailer delivered, checked as it goes: in order, no gaps from
// `expect_next`, never above the WAL's W.
struct Collector {
  Wal* wal = nullptr;  // null: a closed or absent WAL (no W check)
  Lsn next = 1;
  bool gap_free = true;
  std::map<Lsn, std::string> got;
  std::string errors;

  ReplayCallback callback() {
    return [this](const ReplayRecord& r) {
      if (wal != nullptr && r.lsn > wal->DurableLsn()) errors += "LSN " + std::to_string(r.lsn) + " above W; ";
      if (gap_free ? r.lsn != next : r.lsn < next) {
        errors += "got LSN " + std::to_string(r.lsn) + ", expected " + std::to_string(next) + "; ";
      }
      next = r.lsn + 1;
      got[r.lsn] = std::string(r.payload);
      return true;
    };
  }
};

// Reads until `want` records arrived (or an error); returns the last status.
Status ReadUntil(LogTailer& t, Collector& c, std::size_t want, TailReadOptions read = {}) {
  while (c.got.size() < want) {
    auto n = t.Read(c.callback(), read);
    if (!n.ok()) return n.status();
  }
  return Status::OK();
}

// Segments the WAL holds now, all shards (released ones are not counted,
// whether deleted or pooled for recycling).
std::uint64_t HeldSegments(const Wal& wal) { return wal.Stats().total.segment_files; }

TEST(Tailer, ConcurrentWritersExactlyOnceInOrderNeverAboveW) {
  TempDir dir;
  auto wal = OpenOrDie(SmallSegments(dir.path(), 4));
  auto tailer = LogTailer::Attach(*wal, {.name = "all"});
  ASSERT_TRUE(tailer.ok()) << tailer.status().ToString();
  constexpr int kThreads = 4, kPerThread = 1500;
  std::mutex mu;
  std::map<Lsn, std::string> appended;
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string p = Payload(static_cast<std::uint64_t>(t * kPerThread + i));
        auto r = wal->Append("w" + std::to_string(t) + "-" + std::to_string(i % 7), p,
                             {.durability = i % 50 == 0 ? Durability::kGroup : Durability::kAsync});
        ASSERT_TRUE(r.ok()) << r.status().ToString();
        std::lock_guard lk(mu);
        appended[*r] = p;
      }
    });
  }
  Collector c{wal.get()};
  Status s = ReadUntil(**tailer, c, kThreads * kPerThread, {.timeout = std::chrono::milliseconds(5000), .max_records = 97});
  for (auto& w : writers) w.join();
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(c.errors, "");
  EXPECT_EQ(c.got, appended);
  EXPECT_EQ((*tailer)->position(), kThreads * kPerThread);
  EXPECT_GT(HeldSegments(*wal), 2u);  // it crossed rotations
}

TEST(Tailer, CheckpointIsHeldBackUntilTheTailerPassesWithRecycling) {
  TempDir dir;
  Options o = SmallSegments(dir.path(), 2);
  o.recycle_segments = 4;
  auto wal = OpenOrDie(o);
  auto tailer = LogTailer::Attach(*wal, {.name = "slow"});
  ASSERT_TRUE(tailer.ok());
  auto appended = AppendN(*wal, 2000);
  Collector c{wal.get()};
  ASSERT_TRUE(ReadUntil(**tailer, c, 10, {.max_records = 10}).ok());
  const std::size_t before = HeldSegments(*wal);
  ASSERT_TRUE(wal->Checkpoint(wal->DurableLsn()).ok());
  // Nothing the tailer has not read was released (or recycled)...
  EXPECT_EQ(HeldSegments(*wal), before);
  // ... and more appends, rotating into the pool, leave it readable.
  for (auto& [lsn, p] : AppendN(*wal, 2000, 2000)) appended[lsn] = p;
  ASSERT_TRUE(ReadUntil(**tailer, c, appended.size()).ok());
  EXPECT_EQ(c.errors, "");
  EXPECT_EQ(c.got, appended);
  // Once it passed, a checkpoint releases them (and the pool recycles them).
  ASSERT_TRUE(wal->Checkpoint(wal->DurableLsn()).ok());
  EXPECT_LT(HeldSegments(*wal), before);
  for (auto& [lsn, p] : AppendN(*wal, 2000, 4000)) appended[lsn] = p;
  ASSERT_TRUE(ReadUntil(**tailer, c, appended.size()).ok());
  EXPECT_EQ(c.errors, "");
  EXPECT_EQ(c.got, appended);
}

// Counts the WAL's "released N segments" log lines, so a test can wait for
// a release the lifecycle thread does on its own (no polling).
class ReleaseWatch {
 public:
  LogCallback callback() {
    return [this](LogLevel, std::string_view m) {
      if (m.find(": released ") == std::string_view::npos) return;
      std::lock_guard lk(mu_);
      ++releases_;
      cv_.notify_all();
    };
  }
  int releases() {
    std::lock_guard lk(mu_);
    return releases_;
  }
  // Waits (up to 10 s) until more than `seen` releases happened.
  bool WaitBeyond(int seen) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, std::chrono::seconds(10), [&] { return releases_ > seen; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int releases_ = 0;
};

// The tailer passing what a checkpoint held back is enough: the lifecycle
// thread releases it then, with no further Checkpoint call.
TEST(Tailer, AHeldBackReleaseHappensOnceTheTailerPasses) {
  TempDir dir;
  ReleaseWatch watch;
  Options o = SmallSegments(dir.path(), 2);
  o.log = watch.callback();
  auto wal = OpenOrDie(o);
  auto tailer = LogTailer::Attach(*wal, {.name = "passing"});
  ASSERT_TRUE(tailer.ok());
  auto appended = AppendN(*wal, 3000);
  const std::uint64_t before = HeldSegments(*wal);
  ASSERT_TRUE(wal->Checkpoint(wal->DurableLsn()).ok());
  EXPECT_EQ(HeldSegments(*wal), before);
  const int seen = watch.releases();
  Collector c{wal.get()};
  ASSERT_TRUE(ReadUntil(**tailer, c, appended.size()).ok());
  ASSERT_TRUE(watch.WaitBeyond(seen));
  EXPECT_LT(HeldSegments(*wal), before);
  EXPECT_EQ(c.got, appended);
}

// Backpressure ends as the lagging tailer catches up (the lifecycle thread
// re-runs the release), and ends when the tailer goes away.
TEST(Tailer, BackpressureEndsWhenTheTailerCatchesUpOrDetaches) {
  TempDir dir;
  ReleaseWatch watch;
  Options o = SmallSegments(dir.path(), 1);
  o.log = watch.callback();
  auto wal = OpenOrDie(o);
  TailerOptions to{.name = "bp", .max_retained_bytes = kSeg, .lag_policy = LagPolicy::kBackpressure};
  auto tailer = LogTailer::Attach(*wal, to);
  ASSERT_TRUE(tailer.ok());
  auto appended = AppendN(*wal, 3000);
  ASSERT_TRUE(wal->Checkpoint(wal->DurableLsn()).ok());
  EXPECT_TRUE(wal->Append("t", "x").status().IsBackpressure());
  int seen = watch.releases();
  Collector c{wal.get()};
  ASSERT_TRUE(ReadUntil(**tailer, c, appended.size()).ok());
  ASSERT_TRUE(watch.WaitBeyond(seen));
  auto lsn = wal->Append("t", "x");
  ASSERT_TRUE(lsn.ok()) << lsn.status().ToString();
  // A second one lags, then is destroyed: appends flow again.
  tailer->reset();
  to.name = "bp2";
  to.from_lsn = *lsn + 1;
  auto second = LogTailer::Attach(*wal, to);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  AppendN(*wal, 3000, 3000);
  ASSERT_TRUE(wal->Checkpoint(wal->DurableLsn()).ok());
  auto refused = wal->Append("t", "x");
  ASSERT_TRUE(refused.status().IsBackpressure()) << refused.status().ToString();
  EXPECT_NE(refused.status().ToString().find("'bp2'"), std::string::npos) << refused.status().ToString();
  seen = watch.releases();
  second->reset();
  ASSERT_TRUE(watch.WaitBeyond(seen));
  EXPECT_TRUE(wal->Append("t", "x").ok());
}

// Per-shard consistency: a one-shard tailer reads up to its shard's own
// frontier, not the global W.
TEST(Tailer, PerShardConsistencyReadsUpToTheShardsFrontier) {
  TempDir dir;
  Options o = SmallSegments(dir.path(), 2);
  o.consistency = Consistency::kPerShard;
  auto wal = OpenOrDie(o);
  auto tailer = LogTailer::Attach(*wal, {.shard = 1, .name = "shard1"});
  ASSERT_TRUE(tailer.ok());
  std::map<Lsn, std::uint32_t> shard_of;
  auto appended = AppendN(*wal, 2000, 0, &shard_of);
  std::map<Lsn, std::string> want;
  for (const auto& [lsn, p] : appended) {
    if (shard_of[lsn] == 1) want[lsn] = p;
  }
  Collector c;
  c.gap_free = false;
  std::string above;
  auto check = c.callback();
  auto cb = [&](const ReplayRecord& r) {
    if (r.lsn > (*tailer)->durable_lsn()) above += std::to_string(r.lsn) + " ";
    return check(r);
  };
  while (c.got.size() < want.size()) {
    auto n = (*tailer)->Read(cb);
    ASSERT_TRUE(n.ok()) << n.status().ToString();
  }
  EXPECT_EQ(above, "");
  EXPECT_EQ(c.errors, "");
  EXPECT_EQ(c.got, want);
}

TEST(Tailer, FallsBehindPastTheBoundWithAClearError) {
  TempDir dir;
  auto wal = OpenOrDie(SmallSegments(dir.path(), 1));
  auto tailer = LogTailer::Attach(*wal, {.name = "laggard", .max_retained_bytes = kSeg,
                                         .lag_policy = LagPolicy::kFallBehind});
  ASSERT_TRUE(tailer.ok());
  AppendN(*wal, 3000);
  Collector c{wal.get()};
  ASSERT_TRUE(ReadUntil(**tailer, c, 5, {.max_records = 5}).ok());
  ASSERT_TRUE(wal->Checkpoint(wal->DurableLsn()).ok());  // releases past the tailer
  auto n = (*tailer)->Read(c.callback());
  ASSERT_FALSE(n.ok());
  const Status& s = n.status();
  EXPECT_TRUE(s.IsFellBehind()) << s.ToString();
  EXPECT_NE(s.ToString().find("tailer 'laggard'"), std::string::npos) << s.ToString();
  EXPECT_NE(s.ToString().find("shard0000-"), std::string::npos) << s.ToString();
  EXPECT_NE(s.ToString().find("max_retained_bytes"), std::string::npos) << s.ToString();
  EXPECT_NE(s.ToString().find("past LSN 5"), std::string::npos) << s.ToString();
  EXPECT_EQ(c.errors, "");
  EXPECT_EQ(c.got.size(), 5u);  // nothing after the loss was delivered
  // Sticky, and a new tailer cannot start below the checkpoint.
  EXPECT_TRUE((*tailer)->Read(c.callback()).status().IsFellBehind());
  auto again = LogTailer::Attach(*wal, {.from_lsn = 6, .name = "again"});
  EXPECT_TRUE(again.status().IsFellBehind()) << again.status().ToString();
}

// A consumer that copies records elsewhere after Read (a shipper awaiting
// the server's acknowledgement) must not lose what it read but had not yet
// made durable: with hold_until_acknowledged a checkpoint keeps everything
// above the last acknowledged LSN.
TEST(Tailer, CheckpointKeepsWhatWasDeliveredButNotAcknowledged) {
  TempDir dir;
  auto wal = OpenOrDie(SmallSegments(dir.path(), 1));
  auto tailer = LogTailer::Attach(*wal, {.name = "shipper", .hold_until_acknowledged = true});
  ASSERT_TRUE(tailer.ok());
  auto appended = AppendN(*wal, 3000);
  Collector c{wal.get()};
  ASSERT_TRUE(ReadUntil(**tailer, c, 2500, {.max_records = 2500}).ok());
  (*tailer)->Acknowledge(100);
  const std::uint64_t before = HeldSegments(*wal);
  ASSERT_TRUE(wal->Checkpoint(wal->DurableLsn()).ok());
  // Read up to 2500, acknowledged up to 100: only segments wholly at or
  // below LSN 100 may go (none: 100 records do not fill one).
  EXPECT_EQ(HeldSegments(*wal), before);
  (*tailer)->Acknowledge(2500);
  ASSERT_TRUE(wal->Checkpoint(wal->DurableLsn()).ok());
  EXPECT_LT(HeldSegments(*wal), before);
  ASSERT_TRUE(ReadUntil(**tailer, c, appended.size()).ok());
  EXPECT_EQ(c.errors, "");
  EXPECT_EQ(c.got, appended);
}

// What an attached tailer held back survives a restart: the next process's
// tailer may resume below the checkpoint, from the first unacknowledged
// record, but not from below what was really released.
TEST(Tailer, ResumesBelowTheCheckpointFromWhatAnEarlierProcessHeldBack) {
  TempDir dir;
  const Options o = SmallSegments(dir.path(), 2);
  std::map<Lsn, std::string> appended;
  {
    auto wal = OpenOrDie(o);
    auto tailer = LogTailer::Attach(*wal, {.name = "shipper", .hold_until_acknowledged = true});
    ASSERT_TRUE(tailer.ok());
    appended = AppendN(*wal, 4000);
    Collector c{wal.get()};
    ASSERT_TRUE(ReadUntil(**tailer, c, 3000, {.max_records = 3000}).ok());
    (*tailer)->Acknowledge(2000);  // 2001..3000 read, not yet acknowledged
    ASSERT_TRUE(wal->Checkpoint(wal->DurableLsn()).ok());
    tailer->reset();
    ASSERT_TRUE(wal->Close().ok());
  }
  auto wal = OpenOrDie(o);
  EXPECT_EQ(wal->Stats().checkpoint_lsn, 4000u);
  // Segments holding LSNs up to 2000 were released: starting there fails,
  // naming the directory and where to start.
  auto early = LogTailer::Attach(*wal, {.from_lsn = 1, .name = "early"});
  ASSERT_TRUE(early.status().IsFellBehind()) << early.status().ToString();
  EXPECT_NE(early.status().ToString().find("start above LSN"), std::string::npos) << early.status().ToString();
  auto resumed = LogTailer::Attach(*wal, {.from_lsn = 2001, .name = "shipper"});
  ASSERT_TRUE(resumed.ok()) << resumed.status().ToString();
  for (auto& [lsn, p] : AppendN(*wal, 500, 4000)) appended[lsn] = p;
  Collector c{wal.get(), 2001};
  ASSERT_TRUE(ReadUntil(**resumed, c, 4500 - 2000, {.max_records = 700}).ok());
  EXPECT_EQ(c.errors, "");
  const std::map<Lsn, std::string> want(appended.find(2001), appended.end());
  EXPECT_EQ(c.got, want);
}

TEST(Tailer, BackpressurePolicyHoldsAppendsUntilTheTailerCatchesUp) {
  TempDir dir;
  auto wal = OpenOrDie(SmallSegments(dir.path(), 1));
  auto tailer = LogTailer::Attach(*wal, {.name = "shipper", .max_retained_bytes = kSeg,
                                         .lag_policy = LagPolicy::kBackpressure});
  ASSERT_TRUE(tailer.ok());
  auto appended = AppendN(*wal, 3000);
  const std::size_t before = HeldSegments(*wal);
  ASSERT_TRUE(wal->Checkpoint(wal->DurableLsn()).ok());
  EXPECT_EQ(HeldSegments(*wal), before);  // nothing released
  const WalStats st = wal->Stats();
  ASSERT_EQ(st.tailers.size(), 1u);
  EXPECT_EQ(st.tailers[0].name, "shipper");
  EXPECT_EQ(st.tailers[0].position, 0u);
  EXPECT_GT(st.tailers[0].retained_bytes, kSeg);
  EXPECT_FALSE(st.tailers[0].fell_behind);
  const std::string prom = PrometheusText(wal->Metrics());
  EXPECT_NE(prom.find("shardwal_tailer_position{tailer=\"shipper\"} 0\n"), std::string::npos) << prom;
  EXPECT_NE(prom.find("shardwal_tailer_fell_behind{tailer=\"shipper\"} 0\n"), std::string::npos) << prom;
  EXPECT_NE(prom.find("shardwal_tailer_retained_bytes{tailer=\"shipper\"} "), std::string::npos) << prom;
  auto r = wal->Append("t", "x");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsBackpressure()) << r.status().ToString();
  EXPECT_NE(r.status().ToString().find("tailer 'shipper'"), std::string::npos) << r.status().ToString();
  Collector c{wal.get()};
  ASSERT_TRUE(ReadUntil(**tailer, c, appended.size()).ok());
  EXPECT_EQ(c.got, appended);
  // Caught up: the next checkpoint releases, and appends flow again.
  ASSERT_TRUE(wal->Checkpoint(wal->DurableLsn()).ok());
  EXPECT_LT(HeldSegments(*wal), before);
  EXPECT_TRUE(wal->Append("t", "x").ok());
}

TEST(Tailer, OneShardTailersSeeTheirShardInOrder) {
  TempDir dir;
  auto wal = OpenOrDie(SmallSegments(dir.path(), 4));
  std::vector<std::unique_ptr<LogTailer>> tailers;
  for (std::uint32_t s = 0; s < 4; ++s) {
    auto t = LogTailer::Attach(*wal, {.shard = s, .name = "shard" + std::to_string(s)});
    ASSERT_TRUE(t.ok());
    tailers.push_back(std::move(*t));
  }
  std::map<Lsn, std::uint32_t> shard_of;
  auto appended = AppendN(*wal, 3000, 0, &shard_of);
  std::map<Lsn, std::string> all;
  for (std::uint32_t s = 0; s < 4; ++s) {
    Collector c{wal.get()};
    c.gap_free = false;
    std::map<Lsn, std::string> want;
    for (const auto& [lsn, p] : appended) {
      if (shard_of[lsn] == s) want[lsn] = p;
    }
    ASSERT_TRUE(ReadUntil(*tailers[s], c, want.size()).ok());
    EXPECT_EQ(c.errors, "");
    EXPECT_EQ(c.got, want);
    auto none = tailers[s]->Read(c.callback(), {.timeout = std::chrono::milliseconds(0)});
    ASSERT_TRUE(none.ok());
    EXPECT_EQ(*none, 0u);
    all.insert(c.got.begin(), c.got.end());
  }
  EXPECT_EQ(all, appended);
}

TEST(Tailer, ResumesFromAnyLsnIncludingTheRecoveredPart) {
  TempDir dir;
  Options o = SmallSegments(dir.path(), 2);
  std::map<Lsn, std::string> appended;
  {
    auto wal = OpenOrDie(o);
    appended = AppendN(*wal, 1000);
    ASSERT_TRUE(wal->Close().ok());
  }
  auto wal = OpenOrDie(o);
  for (auto& [lsn, p] : AppendN(*wal, 1000, 1000)) appended[lsn] = p;
  for (Lsn from : {Lsn{1}, Lsn{250}, Lsn{1000}, Lsn{1001}, Lsn{1700}, Lsn{2000}}) {
    auto t = LogTailer::Attach(*wal, {.from_lsn = from, .name = "from" + std::to_string(from)});
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    Collector c{wal.get(), from};
    ASSERT_TRUE(ReadUntil(**t, c, 2000 - from + 1, {.max_records = 333}).ok());
    EXPECT_EQ(c.errors, "") << "from " << from;
    const std::map<Lsn, std::string> want(appended.find(from), appended.end());
    EXPECT_EQ(c.got, want) << "from " << from;
  }
}

TEST(Tailer, CloseWakesABlockedReadAfterTheRest) {
  TempDir dir;
  auto wal = OpenOrDie(SmallSegments(dir.path(), 2));
  auto tailer = LogTailer::Attach(*wal, {.name = "closing"});
  ASSERT_TRUE(tailer.ok());
  Collector c;  // W is not checked: Close may run meanwhile
  std::promise<void> caught_up;
  auto reader = std::async(std::launch::async, [&] {
    Status last;
    bool told = false;
    for (;;) {
      auto n = (*tailer)->Read(c.callback(), {.timeout = std::chrono::seconds(30)});
      if (!n.ok()) return n.status();
      if (!told && c.got.size() == 100) {
        told = true;
        caught_up.set_value();
      }
    }
  });
  auto appended = AppendN(*wal, 100);
  caught_up.get_future().wait();
  // Not synced for their own sake: Close makes them durable, the tailer gets them.
  for (int i = 0; i < 10; ++i) {
    auto r = wal->Append("late", Payload(static_cast<std::uint64_t>(i)), {.durability = Durability::kNone});
    ASSERT_TRUE(r.ok());
    appended[*r] = Payload(static_cast<std::uint64_t>(i));
  }
  ASSERT_TRUE(wal->Close().ok());
  Status s = reader.get();
  EXPECT_TRUE(s.IsClosed()) << s.ToString();
  EXPECT_EQ(c.errors, "");
  EXPECT_EQ(c.got, appended);
}

TEST(Tailer, InterruptEndsABlockedRead) {
  TempDir dir;
  auto wal = OpenOrDie(SmallSegments(dir.path(), 2));
  auto tailer = LogTailer::Attach(*wal, {.name = "interrupted"});
  ASSERT_TRUE(tailer.ok());
  Collector c{wal.get()};
  auto reader = std::async(std::launch::async, [&] {
    return (*tailer)->Read(c.callback(), {.timeout = std::chrono::seconds(60)});
  });
  (*tailer)->Interrupt();  // whether Read is blocked yet or not
  auto n = reader.get();
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 0u);
}

// TailReadOptions::return_when_durable_moves: a one-shard tailer blocked
// in Read returns (0) once W moves past records of other shards only, not
// at its timeout; without the option it keeps waiting. (The shipper of an
// idle shard reports its replicated frontier that way.)
TEST(Tailer, ReturnWhenDurableMovesEndsAWaitWithNothingOfItsShard) {
  TempDir dir;
  auto wal = OpenOrDie(SmallSegments(dir.path(), 2));
  std::string other;  // a tag of shard 0
  for (int i = 0; other.empty(); ++i) {
    if (wal->ShardForTag("t" + std::to_string(i)) == 0) other = "t" + std::to_string(i);
  }
  auto tailer = LogTailer::Attach(*wal, {.shard = 1u, .name = "shard1"});
  ASSERT_TRUE(tailer.ok()) << tailer.status().ToString();
  Collector c{wal.get()};
  TailReadOptions read;
  read.timeout = std::chrono::seconds(30);
  read.return_when_durable_moves = true;
  const auto t0 = std::chrono::steady_clock::now();
  auto reader = std::async(std::launch::async, [&] { return (*tailer)->Read(c.callback(), read); });
  // Whether the Read is blocked yet or not: W moves past a shard-0 record
  // (appended until it returns, so a Read that started late sees a move).
  while (reader.wait_for(std::chrono::milliseconds(20)) != std::future_status::ready) {
    ASSERT_TRUE(wal->Append(other, "x").ok());
  }
  auto n = reader.get();
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 0u);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
  // Without it, the same wait runs to its timeout.
  read.return_when_durable_moves = false;
  read.timeout = std::chrono::milliseconds(300);
  const auto t1 = std::chrono::steady_clock::now();
  auto plain = std::async(std::launch::async, [&] { return (*tailer)->Read(c.callback(), read); });
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(wal->Append(other, "y").ok());
  ASSERT_TRUE(plain.get().ok());
  EXPECT_GE(std::chrono::steady_clock::now() - t1, std::chrono::milliseconds(300));
}

// Blocked on an idle WAL, a Read sleeps: its thread burns (almost) no CPU
// over the whole timeout.
TEST(Tailer, AnIdleWaitTakesNoCpu) {
  TempDir dir;
  auto wal = OpenOrDie(SmallSegments(dir.path(), 2));
  AppendN(*wal, 10);
  auto tailer = LogTailer::Attach(*wal, {.name = "idle"});
  ASSERT_TRUE(tailer.ok());
  Collector c{wal.get()};
  ASSERT_TRUE(ReadUntil(**tailer, c, 10).ok());
  timespec t0{}, t1{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
  const auto w0 = std::chrono::steady_clock::now();
  auto n = (*tailer)->Read(c.callback(), {.timeout = std::chrono::milliseconds(300)});
  const auto wall = std::chrono::steady_clock::now() - w0;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 0u);
  EXPECT_GE(wall, std::chrono::milliseconds(300));
  const double cpu_ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
  EXPECT_LT(cpu_ms, 30.0);
}

// ---- another process's tailer (LogTailer::Open) -----------------------------------
// The writer runs in this test process, but the tailer takes the other
// process's path: MANIFEST, <dir>/WATERMARK, inotify, no registration.

TEST(OpenedTailer, FollowsAWriterThroughItsWatermarkFile) {
  TempDir dir;
  Options o = SmallSegments(dir.path(), 4);
  std::map<Lsn, std::string> appended;
  {
    auto wal = OpenOrDie(o);
    appended = AppendN(*wal, 500);
    ASSERT_TRUE(wal->Close().ok());
  }
  auto wal = OpenOrDie(o);  // a second epoch: the first one's records are read too
  auto tailer = LogTailer::Open(o, {.from_lsn = 1, .name = "remote"});
  ASSERT_TRUE(tailer.ok()) << tailer.status().ToString();
  Collector c{wal.get()};
  auto reader = std::async(std::launch::async, [&] {
    return ReadUntil(**tailer, c, 500 + 3000, {.timeout = std::chrono::seconds(10), .max_records = 211});
  });
  std::mutex mu;
  std::vector<std::thread> writers;
  for (int t = 0; t < 3; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < 1000; ++i) {
        const std::string p = Payload(static_cast<std::uint64_t>(t * 1000 + i));
        auto r = wal->Append("r" + std::to_string(t) + "-" + std::to_string(i % 5), p,
                             {.durability = i % 100 == 0 ? Durability::kGroup : Durability::kAsync});
        ASSERT_TRUE(r.ok()) << r.status().ToString();
        std::lock_guard lk(mu);
        appended[*r] = p;
      }
    });
  }
  for (auto& w : writers) w.join();
  ASSERT_TRUE(wal->WaitDurable(wal->LastLsn()).ok());
  Status s = reader.get();
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(c.errors, "");
  EXPECT_EQ(c.got, appended);
  EXPECT_EQ((*tailer)->durable_lsn(), wal->DurableLsn());
  // Interrupt wakes it from inotify.
  auto blocked = std::async(std::launch::async, [&] { return (*tailer)->Read(c.callback(), {.timeout = std::chrono::seconds(60)}); });
  (*tailer)->Interrupt();
  auto n = blocked.get();
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 0u);
}

// The real thing: the writer is a forked child process.
TEST(OpenedTailer, FollowsAWriterInAnotherProcess) {
  TempDir dir;
  Options o = SmallSegments(dir.path(), 2);
  constexpr int kRecords = 3000;
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(ready[0]);
    auto wal = Wal::Open(o);
    if (!wal.ok()) _exit(2);
    if (write(ready[1], "x", 1) != 1) _exit(3);
    for (int i = 0; i < kRecords; ++i) {
      const auto d = i % 100 == 99 ? Durability::kGroup : Durability::kAsync;
      if (!(*wal)->Append("c" + std::to_string(i % 3), Payload(static_cast<std::uint64_t>(i)), {.durability = d}).ok()) {
        _exit(4);
      }
    }
    _exit((*wal)->Close().ok() ? 0 : 5);
  }
  close(ready[1]);
  char byte;
  ASSERT_EQ(read(ready[0], &byte, 1), 1);  // the WAL exists (MANIFEST, WATERMARK)
  close(ready[0]);
  auto t = LogTailer::Open(o, {.name = "other-process"});
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  Collector c;
  Status s = ReadUntil(**t, c, kRecords, {.timeout = std::chrono::seconds(10)});
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_EQ(c.errors, "");
  ASSERT_EQ(c.got.size(), static_cast<std::size_t>(kRecords));
  for (const auto& [lsn, p] : c.got) EXPECT_EQ(p, Payload(lsn - 1)) << lsn;
}

// The writer closes and reopens (a new epoch) while the tailer follows.
TEST(OpenedTailer, FollowsTheWriterAcrossAReopen) {
  TempDir dir;
  Options o = SmallSegments(dir.path(), 2);
  auto wal = OpenOrDie(o);
  auto appended = AppendN(*wal, 700);
  auto t = LogTailer::Open(o, {.name = "across"});
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  Collector c;
  ASSERT_TRUE(ReadUntil(**t, c, 300, {.max_records = 300}).ok());
  ASSERT_TRUE(wal->Close().ok());
  wal.reset();
  wal = OpenOrDie(o);
  for (auto& [lsn, p] : AppendN(*wal, 700, 700)) appended[lsn] = p;
  ASSERT_TRUE(ReadUntil(**t, c, appended.size(), {.timeout = std::chrono::seconds(10)}).ok());
  EXPECT_EQ(c.errors, "");
  EXPECT_EQ(c.got, appended);
}

TEST(OpenedTailer, OneShardAndResumeInTheMiddle) {
  TempDir dir;
  Options o = SmallSegments(dir.path(), 2);
  auto wal = OpenOrDie(o);
  std::map<Lsn, std::uint32_t> shard_of;
  auto appended = AppendN(*wal, 2000, 0, &shard_of);
  auto t = LogTailer::Open(o, {.from_lsn = 777, .shard = 1, .name = "remote1"});
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  Collector c{wal.get(), 777};
  c.gap_free = false;
  std::map<Lsn, std::string> want;
  for (const auto& [lsn, p] : appended) {
    if (lsn >= 777 && shard_of[lsn] == 1) want[lsn] = p;
  }
  ASSERT_TRUE(ReadUntil(**t, c, want.size()).ok());
  EXPECT_EQ(c.errors, "");
  EXPECT_EQ(c.got, want);
}

TEST(OpenedTailer, FallsBehindWhenTheWriterReleasesWhatItNeeds) {
  TempDir dir;
  Options o = SmallSegments(dir.path(), 1);
  o.recycle_segments = 2;
  auto wal = OpenOrDie(o);
  AppendN(*wal, 3000);
  auto t = LogTailer::Open(o, {.name = "remote-slow"});
  ASSERT_TRUE(t.ok());
  Collector c{wal.get()};
  ASSERT_TRUE(ReadUntil(**t, c, 5, {.max_records = 5}).ok());
  ASSERT_TRUE(wal->Checkpoint(wal->DurableLsn()).ok());  // it does not wait for another process
  AppendN(*wal, 3000, 3000);                                // recycles the released segments
  Status s;
  while (s.ok()) {
    auto n = (*t)->Read(c.callback());
    if (!n.ok()) s = n.status();
  }
  EXPECT_TRUE(s.IsFellBehind()) << s.ToString();
  EXPECT_NE(s.ToString().find("tailer 'remote-slow'"), std::string::npos) << s.ToString();
  EXPECT_EQ(c.errors, "");  // what it delivered was in order, with no gap
}

TEST(OpenedTailer, AWalWithoutAWatermarkIsNotSupported) {
  TempDir dir;
  Options o = SmallSegments(dir.path(), 1);
  {
    auto wal = OpenOrDie(o);
    AppendN(*wal, 10);
    ASSERT_TRUE(wal->Close().ok());
  }
  ASSERT_TRUE(o.file_system->DeleteFile(dir.path() + "/WATERMARK").ok());
  auto t = LogTailer::Open(o, {.name = "old"});
  EXPECT_TRUE(t.status().IsNotSupported()) << t.status().ToString();
  EXPECT_NE(t.status().ToString().find("WATERMARK"), std::string::npos) << t.status().ToString();
}

TEST(Tailer, RejectsBadOptions) {
  TempDir dir;
  auto wal = OpenOrDie(SmallSegments(dir.path(), 2));
  EXPECT_TRUE(LogTailer::Attach(*wal, {.from_lsn = 0}).status().IsInvalidArgument());
  EXPECT_TRUE(LogTailer::Attach(*wal, {.shard = 2}).status().IsInvalidArgument());
}

}  // namespace
}  // namespace shardwal
