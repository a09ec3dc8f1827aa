// SPDX-License-Identifier: Apache-2.0
// Crash at every step of rotation, checkpoint and recycling: each test
// counts a scenario's mutating file-system operations N, then reruns it
// from the same starting state with FaultInjectionFileSystem::CrashAfter(k)
// for k = 0..N, loses power (loss mode and seed vary with k), reopens in the
// default recovery mode and checks the recovered log (CheckRecovered, in
// tests/lifecycle_fixture.h), then checks that appends continue above
// everything acknowledged.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/lifecycle_fixture.h"

namespace shardwal {
namespace {

using namespace lifecycle;
namespace stdfs = std::filesystem;

// Waits until the WAL's background work (the preparer) has stopped touching
// the file system.
void Quiesce(const Fi& fi) {
  std::uint64_t last = fi.mutating_op_count();
  int still = 0;
  const auto deadline = Clock::now() + std::chrono::seconds(2);
  while (still < 10 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    const std::uint64_t now = fi.mutating_op_count();
    still = now == last ? still + 1 : 0;
    last = now;
  }
}

struct CrashCase {
  std::string name;
  std::uint32_t shards = 2;
  Preallocation preallocation = Preallocation::kZeroFill;
  std::uint32_t recycle = 0;
  // On a fresh WAL (POSIX file system), closed afterwards: the state every
  // run starts from (copied).
  std::function<void(Wal&, Writer&)> golden;
  // After Open, before the crash point is armed.
  std::function<void(Wal&, Writer&)> setup;
  // Under the crash point. Must stop at the first failure.
  std::function<void(Wal&, Writer&)> scenario;
  // After a successful check: more work on the recovered WAL (optional).
  std::function<std::string(Wal&, Writer&, const Options&, Log&)> after;
  // On the count run, right after the scenario: did it do what it is meant
  // to (cross a boundary, recycle, release)? "" if so.
  std::function<std::string(Wal&, const Options&)> did_it;
  bool every_k = false;
  std::uint64_t max_runs = 80;
};

Options CaseOptions(const CrashCase& cc, const std::string& dir, std::shared_ptr<FileSystem> fs) {
  Options o = LifeOptions(dir, cc.shards, std::move(fs));
  o.preallocation = cc.preallocation;
  o.recycle_segments = cc.recycle;
  return o;
}

// Group batches until about `bytes` per shard were appended, stopping at the
// first failure.
void GroupBytes(Writer& w, std::uint64_t bytes) {
  constexpr std::uint32_t kPerShard = 8;  // ~3.7 KB per shard and batch
  for (std::uint64_t done = 0; done < bytes; done += kPerShard * 470) {
    if (!w.Batch(kPerShard, Durability::kGroup).ok()) return;
  }
}

struct RunResult {
  std::uint64_t ops = 0;  // mutating operations the scenario did
  std::string error;      // "" if every check passed
};

RunResult RunCrashCase(const CrashCase& cc, const std::string& golden_dir, const Log& golden_log,
                       std::optional<std::uint64_t> crash_after, std::uint64_t run) {
  RunResult res;
  TempDir dir;
  std::error_code ec;
  stdfs::copy(golden_dir, dir.path(), stdfs::copy_options::recursive | stdfs::copy_options::overwrite_existing, ec);
  if (ec) return {0, "copying the starting state: " + ec.message()};
  auto fi = std::make_shared<Fi>();
  const Options o = CaseOptions(cc, dir.path(), fi);
  Log log = golden_log;
  {
    auto wal = Wal::Open(o);
    if (!wal.ok()) return {0, "opening the starting state: " + wal.status().ToString()};
    Writer w(**wal, log, (run + 1) * 10'000'000);
    cc.setup(**wal, w);
    if (!(*wal)->health().ok()) return {0, "setup failed: " + (*wal)->health().ToString()};
    Quiesce(*fi);
    const std::uint64_t base = fi->mutating_op_count();
    if (crash_after) fi->CrashAfter(*crash_after);
    cc.scenario(**wal, w);
    res.ops = fi->mutating_op_count() - base;
    if (!crash_after && cc.did_it) {
      Quiesce(*fi);
      if (std::string e = cc.did_it(**wal, o); !e.empty()) return {res.ops, "the scenario missed its point: " + e};
    }
    fi->Deactivate();  // the process dies: whatever it does from here on fails
  }                    // (and is destroyed without a clean Close)
  // Every loss mode and directory-entry policy in turn.
  const Fi::PowerLossOptions loss = testing::CyclingPowerLoss(static_cast<std::uint64_t>(run), 1000 + run);
  if (Status s = fi->SimulatePowerLoss(loss); !s.ok()) {
    res.error = "power loss: " + s.ToString();
    return res;
  }
  const std::string how = " (" + testing::DescribePowerLoss(loss) + ")";
  auto wal = Wal::Open(o);
  if (!wal.ok()) {
    res.error = "reopen failed" + how + ": " + wal.status().ToString();
    return res;
  }
  res.error = CheckRecovered(**wal, log);
  if (!res.error.empty()) {
    res.error += how + "\n" + (*wal)->recovery_report().Summary();
    return res;
  }
  Writer w(**wal, log, (run + 1) * 10'000'000 + 5'000'000);
  const Lsn cut = (*wal)->recovery_report().cut_lsn;
  const Lsn acked = log.max_acked;
  auto next = w.One(0, Durability::kGroup);
  if (!next.ok()) {
    res.error = "append after recovery" + how + ": " + next.status().ToString();
  } else if (*next != cut + 1 || *next <= acked || *next <= log.ckpt) {
    res.error = "append after recovery got LSN " + std::to_string(*next) + " (cut " + std::to_string(cut) +
                ", acknowledged " + std::to_string(acked) + ")" + how;
  } else if (cc.after) {
    res.error = cc.after(**wal, w, o, log);
    if (!res.error.empty()) res.error += how;
  }
  return res;
}

void RunCrashMatrix(const CrashCase& cc) {
  const auto t0 = Clock::now();
  TempDir golden;
  Log golden_log;
  {
    const Options o = CaseOptions(cc, golden.path(), nullptr);
    auto wal = OpenOrDie(o);
    ASSERT_TRUE(wal);
    Writer w(*wal, golden_log, 1);
    cc.golden(*wal, w);
    ASSERT_TRUE(wal->health().ok()) << wal->health().ToString();
    ASSERT_TRUE(wal->Close().ok());
    golden_log.max_acked = golden_log.last();
  }
  // The count run: no crash point (the process dies after the scenario).
  const RunResult counted = RunCrashCase(cc, golden.path(), golden_log, std::nullopt, 0);
  ASSERT_EQ(counted.error, "") << cc.name << ", crash after the whole scenario";
  const std::uint64_t n = counted.ops;
  ASSERT_GT(n, 0u) << cc.name << ": the scenario did nothing";
  // Without tmpfs every run pays real fdatasyncs: sample fewer crash points
  // (the checkpoint cases still take every one).
  const std::uint64_t max_runs = golden.fast() ? cc.max_runs : std::min<std::uint64_t>(cc.max_runs, 16);
  std::uint64_t stride = 1;
  if (!cc.every_k && n + 2 > max_runs) stride = (n + 2 + max_runs - 1) / max_runs;
  std::vector<std::string> failures;
  std::uint64_t runs = 0;
  for (std::uint64_t k = 0; k <= n + 1; k += stride) {
    const RunResult r = RunCrashCase(cc, golden.path(), golden_log, k, ++runs);
    if (!r.error.empty()) {
      failures.push_back("crash after " + std::to_string(k) + " of " + std::to_string(n) + " ops: " + r.error);
    }
  }
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf("[ lifecycle ] %s: %llu mutating ops, %llu crash points (stride %llu), %zu failed, %.2f s\n",
              cc.name.c_str(), static_cast<unsigned long long>(n), static_cast<unsigned long long>(runs),
              static_cast<unsigned long long>(stride), failures.size(), secs);
  for (std::size_t i = 0; i < failures.size() && i < 5; ++i) ADD_FAILURE() << cc.name << ": " << failures[i];
  EXPECT_TRUE(failures.empty()) << cc.name << ": " << failures.size() << " of " << runs << " crash points failed";
}

// For did_it: every shard started `segments` segments since Open, and the
// one it writes now has (or lacks) the recycled flag.
std::string Rotated(Wal& wal, const Options& o, std::uint64_t segments, std::optional<bool> recycled) {
  const WalStats st = wal.Stats();
  for (std::uint32_t s = 0; s < wal.num_shards(); ++s) {
    if (st.shards[s].segments != segments) {
      return "shard " + std::to_string(s) + " started " + std::to_string(st.shards[s].segments) + " segments, not " +
             std::to_string(segments);
    }
    const auto segs = ListSegments(ShardDir(o, s));
    const SegOnDisk* cur = Current(segs);
    if (cur == nullptr) return "shard " + std::to_string(s) + " has no current segment";
    if (recycled && ((cur->header.flags & format::kSegmentRecycled) != 0) != *recycled) {
      return cur->path + (*recycled ? " is not" : " is") + " a recycled segment";
    }
  }
  return "";
}

// Leaves each shard's current segment with about `room` bytes to go.
void FillCurrentSegment(Writer& w, std::uint64_t room) {
  ASSERT_TRUE(w.Fill(kSeg - room).ok());
  ASSERT_TRUE(w.Ack().ok());
}

// After a crash in a checkpoint: the leftovers (pooled or half-deleted
// files, an unfinished MANIFEST.tmp) must not disturb the next rotations,
// checkpoints and reopens.
std::string ContinueAfterRecovery(Wal& wal, Writer& w, const Options& o, Log& log) {
  if (!w.Fill(kSeg * 5 / 2).ok() || !w.Ack().ok()) return "appending after recovery: " + wal.health().ToString();
  const Lsn c = wal.LastLsn() - 3;
  if (Status s = w.Checkpoint(c); !s.ok()) return "checkpoint after recovery: " + s.ToString();
  if (Status s = wal.Close(); !s.ok()) return "close after recovery: " + s.ToString();
  auto again = Wal::Open(o);
  if (!again.ok()) return "second reopen: " + again.status().ToString();
  std::string e = CheckRecovered(**again, log);
  return e.empty() ? "" : "second reopen: " + e;
}

// (a) Rotation: group appends cross a segment boundary (the seal, its sync,
// the new header over a zero-filled file) while the preparer zero-fills the
// segment after it.
TEST(CrashAtEveryStep, RotationIntoAZeroFilledSegment) {
  CrashCase cc;
  cc.name = "rotation into a zero-filled segment";
  cc.golden = [](Wal&, Writer& w) { ASSERT_TRUE(w.Batch(10, Durability::kGroup).ok()); };
  cc.setup = [](Wal&, Writer& w) { FillCurrentSegment(w, kSeg / 4); };
  cc.scenario = [](Wal&, Writer& w) { GroupBytes(w, kSeg / 4 + 8 * 1024); };
  cc.did_it = [](Wal& wal, const Options& o) { return Rotated(wal, o, 2, false); };
  RunCrashMatrix(cc);
}

TEST(CrashAtEveryStep, RotationWithoutPreallocation) {
  CrashCase cc;
  cc.name = "rotation, preallocation none";
  cc.preallocation = Preallocation::kNone;
  cc.golden = [](Wal&, Writer& w) { ASSERT_TRUE(w.Batch(10, Durability::kGroup).ok()); };
  cc.setup = [](Wal&, Writer& w) { FillCurrentSegment(w, kSeg / 4); };
  cc.scenario = [](Wal&, Writer& w) { GroupBytes(w, kSeg / 4 + 8 * 1024); };
  cc.max_runs = 40;
  cc.did_it = [](Wal& wal, const Options& o) { return Rotated(wal, o, 2, false); };
  RunCrashMatrix(cc);
}

// (a) Rotation into a recycled segment: the new header and batches go over
// the stale bytes of a released segment; the preparer then has to create a
// fresh one (the pool is empty).
TEST(CrashAtEveryStep, RotationIntoARecycledSegment) {
  CrashCase cc;
  cc.name = "rotation into a recycled segment";
  cc.recycle = 2;
  cc.golden = [](Wal& wal, Writer& w) {
    ASSERT_TRUE(w.Fill(kSeg * 7 / 2).ok());
    ASSERT_TRUE(w.Ack().ok());
    ASSERT_TRUE(w.Checkpoint(wal.LastLsn() - 20).ok());  // two pooled segments per shard
  };
  // Open recycled the first pooled file; the first rotation took it and the
  // preparer recycled the second, which the scenario rotates into.
  cc.setup = [](Wal&, Writer& w) { FillCurrentSegment(w, kSeg / 4); };
  cc.scenario = [](Wal&, Writer& w) { GroupBytes(w, kSeg / 4 + 8 * 1024); };
  cc.after = ContinueAfterRecovery;
  cc.did_it = [](Wal& wal, const Options& o) { return Rotated(wal, o, 2, true); };
  RunCrashMatrix(cc);
}

// (b) Checkpoint: the MANIFEST (temp file, write, sync, rename, directory
// sync), then the releases (pooled or deleted, directory synced), then a few
// more appends.
TEST(CrashAtEveryStep, CheckpointPoolingAndDeleting) {
  CrashCase cc;
  cc.name = "checkpoint, recycle 1";
  cc.recycle = 1;
  cc.every_k = true;
  cc.setup = [](Wal&, Writer& w) { ASSERT_TRUE(w.Batch(2, Durability::kGroup).ok()); };
  // The checkpoint LSN: 60% into the golden records, which releases two or
  // three segments per shard.
  auto golden_last = std::make_shared<Lsn>(0);
  cc.golden = [golden_last](Wal& wal, Writer& w) {
    ASSERT_TRUE(w.Fill(kSeg * 9 / 2).ok());
    *golden_last = wal.LastLsn();
  };
  cc.scenario = [golden_last](Wal&, Writer& w) {
    if (!w.Checkpoint(*golden_last * 3 / 5).ok()) return;
    for (int i = 0; i < 2; ++i) {
      if (!w.Batch(2, Durability::kGroup).ok()) return;
    }
  };
  cc.after = ContinueAfterRecovery;
  cc.did_it = [golden_last](Wal& wal, const Options&) -> std::string {
    const WalStats st = wal.Stats();
    if (st.checkpoint_lsn != *golden_last * 3 / 5) return "checkpoint_lsn " + std::to_string(st.checkpoint_lsn);
    for (const auto& sh : st.shards) {
      if (sh.recycled_pool != 1) return "a shard pooled " + std::to_string(sh.recycled_pool) + " segments";
    }
    return "";
  };
  RunCrashMatrix(cc);
}

TEST(CrashAtEveryStep, CheckpointOfEverythingDeleting) {
  CrashCase cc;
  cc.name = "checkpoint of everything, recycle 0";
  cc.recycle = 0;
  cc.every_k = true;
  cc.golden = [](Wal&, Writer& w) { ASSERT_TRUE(w.Fill(kSeg * 9 / 2).ok()); };
  cc.setup = [](Wal&, Writer& w) { ASSERT_TRUE(w.Batch(2, Durability::kGroup).ok()); };
  cc.scenario = [](Wal& wal, Writer& w) {
    if (!w.Checkpoint(wal.LastLsn()).ok()) return;
    for (int i = 0; i < 2; ++i) {
      if (!w.Batch(2, Durability::kGroup).ok()) return;
    }
  };
  cc.after = ContinueAfterRecovery;
  cc.did_it = [](Wal& wal, const Options&) -> std::string {
    for (const auto& sh : wal.Stats().shards) {
      if (sh.segment_files != 1) return "a shard still holds " + std::to_string(sh.segment_files) + " segments";
    }
    return "";
  };
  RunCrashMatrix(cc);
}

// (c) Recycling: group appends cross two segment boundaries after a
// checkpoint pooled released segments, so the preparer recycles one (header
// zeroed and synced, renamed, directory synced) and the shard rotates into it.
TEST(CrashAtEveryStep, RecyclingAReleasedSegment) {
  CrashCase cc;
  cc.name = "recycling a released segment";
  cc.recycle = 2;
  auto golden_last = std::make_shared<Lsn>(0);
  cc.golden = [golden_last](Wal& wal, Writer& w) {
    ASSERT_TRUE(w.Fill(kSeg * 7 / 2).ok());
    *golden_last = wal.LastLsn();
  };
  cc.setup = [golden_last](Wal&, Writer& w) {
    FillCurrentSegment(w, kSeg / 8);
    ASSERT_TRUE(w.Checkpoint(*golden_last).ok());  // pools two golden segments per shard
  };
  cc.scenario = [](Wal&, Writer& w) { GroupBytes(w, kSeg / 8 + kSeg + 4 * 1024); };
  cc.after = ContinueAfterRecovery;
  cc.did_it = [](Wal& wal, const Options& o) { return Rotated(wal, o, 3, true); };
  RunCrashMatrix(cc);
}

}  // namespace
}  // namespace shardwal
