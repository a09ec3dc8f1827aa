// SPDX-License-Identifier: Apache-2.0
// A crash (or an I/O error) during recovery itself, then a power loss: the
// Nth write, sync, truncate, delete, rename or directory sync of the Open
// that recovers a crashed WAL fails (sticky EIO); Open must fail cleanly, and
// after a power loss an undisturbed Open must recover the same cut with
// everything acknowledged. Then bugs these tests found in removing the
// segments above the cut: an interrupted removal, Replay after it, and
// deletions that come back after a power loss.
// The writers, the model and the checks after every recovery:
// tests/power_loss_util.h.
#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "shardwal/recovery.h"
#include "src/foundation/format.h"
#include "tests/power_loss_util.h"

namespace shardwal {
namespace {

using namespace power_loss;

// ---- a crash during recovery ---------------------------------------------------------

// Replaces `dir`'s contents with `snapshot`'s.
void Restore(const std::string& snapshot, const std::string& dir) {
  std::filesystem::remove_all(dir);
  std::filesystem::copy(snapshot, dir, std::filesystem::copy_options::recursive);
}

std::string OpName(Fi::Op op) {
  switch (op) {
    case Fi::Op::kWrite: return "write";
    case Fi::Op::kSync: return "sync";
    case Fi::Op::kTruncate: return "truncate";
    case Fi::Op::kDelete: return "delete";
    case Fi::Op::kRename: return "rename";
    case Fi::Op::kSyncDir: return "syncdir";
    default: return "op";
  }
}

// The snapshots are made by a power loss in each LossMode in turn (and a
// DirEntryLoss policy each); the power loss after each interrupted Open
// cycles through every (mode, policy) pair.
TEST(PowerLoss, CrashDuringRecoveryThenPowerLossKeepsEverything) {
  const Fi::Op ops[] = {Fi::Op::kWrite, Fi::Op::kSync, Fi::Op::kTruncate, Fi::Op::kDelete, Fi::Op::kRename,
                        Fi::Op::kSyncDir};
  // Under a sanitizer (the TSan stage runs this test) the first three
  // operations of each kind only.
  constexpr int kMaxNth = kSanitizedBuild ? 3 : 6;
  constexpr int kSnapshots = 5;  // one per LossMode
  Counters c;
  PowerLossTally tally;
  std::map<std::string, int> failed_opens;  // per op, over all snapshots and N
  int first_op_failed[6] = {};              // N = 1 made Open fail, per op
  int truncating_snapshots = 0, deleting_snapshots = 0;
  int reopen_failures = 0;
  for (int snap = 1; snap <= kSnapshots; ++snap) {
    TempDir dir, saved;
    std::string snapshot_loss;
    Config cfg;
    cfg.shards = 3;
    cfg.segment_bytes = 64u << 10;
    cfg.writers = 4;
    // A crashed WAL: torn tails, records above the cut, whole segments above it.
    Model m;
    Advance(&m, m.truth, kNoLsn);
    {
      auto fs = std::make_shared<Fi>();
      auto wal = Wal::Open(MakeOptions(dir.path(), cfg, fs));
      ASSERT_TRUE(wal.ok()) << wal.status().ToString();
      // Mostly async/none appends, a long stall of one shard: the other
      // shards run far ahead of the cut (whole segments above it).
      Plan plan;
      plan.group_pct = 0;  // writers never block on the stalled shard ...
      plan.wait_durable_pct = 100;  // ... what comes before the stall is acknowledged by WaitDurable
      plan.stall_pct = 100;
      plan.stall_for = std::chrono::milliseconds(40);
      plan.stall_appends = 3000;
      plan.max_per_writer = 1500;
      AppendUntilPowerFails(**wal, *fs, &m, Mix(0xDEAD0000u + static_cast<std::uint64_t>(snap)), cfg.writers, plan);
      wal->reset();
      Fi::PowerLossOptions plo;
      plo.mode = kAllLossModes[static_cast<std::size_t>(snap - 1) % kAllLossModes.size()];
      plo.dir_entries = kAllDirEntryLosses[static_cast<std::size_t>(snap - 1) % kAllDirEntryLosses.size()];
      plo.seed = static_cast<std::uint64_t>(snap);
      ASSERT_TRUE(fs->SimulatePowerLoss(plo).ok()) << DescribePowerLoss(plo);
      fs->ResumeSyncs();
      tally.Add(plo);
      snapshot_loss = DescribePowerLoss(plo);
    }
    const std::string snapshot = saved.Sub("wal");
    std::filesystem::copy(dir.path(), snapshot, std::filesystem::copy_options::recursive);

    // What an undisturbed recovery decides (read-only: changes nothing).
    auto reader = LogReader::Open(MakeOptions(dir.path(), cfg, nullptr));
    ASSERT_TRUE(reader.ok()) << "snapshot " << snap << " (power loss " << snapshot_loss
                             << "): " << reader.status().ToString();
    const Lsn cut0 = (*reader)->report().cut_lsn;
    ASSERT_GE(cut0, m.max_acked) << "snapshot " << snap << " (power loss " << snapshot_loss << ")\n"
                                 << (*reader)->report().Summary();
    bool truncates = false, deletes = false;
    for (const auto& s : (*reader)->report().shards) {
      if (s.segments_removed > 0) deletes = true;
      if (s.bytes_truncated > 0) truncates = true;
    }
    truncating_snapshots += truncates;
    deleting_snapshots += deletes;

    for (std::size_t oi = 0; oi < std::size(ops); ++oi) {
      const Fi::Op op = ops[oi];
      for (int nth = 1; nth <= kMaxNth; ++nth) {
        // The power loss after this Open: every (mode, policy) pair in turn.
        const Fi::PowerLossOptions plo = CyclingPowerLoss(
            static_cast<std::uint64_t>(snap) * 7 + oi * kMaxNth + static_cast<std::uint64_t>(nth - 1),
            static_cast<std::uint64_t>(snap) * 1000 + oi * 10 + static_cast<std::uint64_t>(nth));
        const std::string where = "snapshot " + std::to_string(snap) + " (power loss " + snapshot_loss + "), " +
                                  OpName(op) + " #" + std::to_string(nth) + " fails during Open, then power loss " +
                                  DescribePowerLoss(plo);
        Restore(snapshot, dir.path());
        auto fs = std::make_shared<Fi>();
        fs->InjectFault(op, static_cast<std::uint64_t>(nth), EIO, "", /*sticky=*/true);
        {
          auto wal = Wal::Open(MakeOptions(dir.path(), cfg, fs));
          if (!wal.ok()) {
            // A clean failure: an I/O error naming the injected fault.
            EXPECT_TRUE(wal.status().IsIOError()) << where << ": " << wal.status().ToString();
            EXPECT_NE(wal.status().ToString().find("injected"), std::string::npos) << where;
            ++failed_opens[OpName(op)];
            if (nth == 1) ++first_op_failed[oi];
          } else {
            // The fault lies beyond Open's operations: it recovered normally.
            auto truth = CheckRecovered(**wal, m, &c, where + " (Open succeeded)");
            ASSERT_TRUE(truth.has_value());
            EXPECT_EQ(truth->size() - 1, cut0) << where;
          }
        }
        // The power fails right there; then an undisturbed Open.
        fs->ClearFaults();
        // (A MANIFEST renamed over the old one whose directory sync failed
        // used to need its entry kept here: FaultInjectionFileSystem lost
        // both files. It now keeps such a rename - a real file system shows
        // the old or the new MANIFEST, see
        // FaultInjectionModel.LostRenameOverADurableFileLeavesOneOfThem - so
        // every policy applies.)
        ASSERT_TRUE(fs->SimulatePowerLoss(plo).ok()) << where;
        tally.Add(plo);
        auto fresh = std::make_shared<Fi>();
        auto wal = Wal::Open(MakeOptions(dir.path(), cfg, fresh));
        // (No ASSERT: go on with the other cases, so that one run shows them all.)
        if (!wal.ok()) {
          ADD_FAILURE() << where << ", then reopened: " << wal.status().ToString();
          ++reopen_failures;
          continue;
        }
        auto truth = CheckRecovered(**wal, m, &c, where + ", then reopened");
        if (!truth.has_value()) {
          ++reopen_failures;
          continue;
        }
        // Recovery is idempotent: the interrupted one changed nothing it decided.
        EXPECT_EQ(truth->size() - 1, cut0) << where;
        Model after = m;
        Advance(&after, std::move(*truth), (*wal)->recovery_report().max_lsn_seen);
        ASSERT_NO_FATAL_FAILURE(Probe(**wal, &after, where));
        EXPECT_TRUE((*wal)->Close().ok());
      }
    }
  }
  std::printf("power_loss_test crash-during-recovery: %d snapshots (%d needing truncation, %d segment removal), "
              "failed opens by op:", kSnapshots, truncating_snapshots, deleting_snapshots);
  for (const auto& [op, n] : failed_opens) std::printf(" %s=%d", op.c_str(), n);
  std::printf("; %llu recoveries checked, %llu acknowledged records verified, %d reopens failed\n",
              static_cast<unsigned long long>(c.recoveries), static_cast<unsigned long long>(c.acked_verified),
              reopen_failures);
  tally.Report("power_loss_test crash-during-recovery");
  tally.ExpectEveryModeAndPolicy("power_loss_test crash-during-recovery");
  // Every Open saves the MANIFEST: write, sync, rename, directory sync.
  for (std::size_t oi : {0u, 1u, 4u, 5u}) EXPECT_EQ(first_op_failed[oi], kSnapshots) << OpName(ops[oi]);
  // Truncation and removal happen whenever the cut needs them.
  EXPECT_LE(first_op_failed[2], truncating_snapshots);
  EXPECT_GT(first_op_failed[2], 0) << "no snapshot needed a truncation";
  EXPECT_GE(first_op_failed[3], deleting_snapshots);
  EXPECT_GT(deleting_snapshots, 0) << "no snapshot needed a segment removed";
  EXPECT_EQ(reopen_failures, 0);
}

// A 2-shard WAL (64 KiB segments) whose recovery cut is LSN 2 and that has
// whole segments of shard 1 above the cut: LSNs 1 (shard 0) and 2 (shard 1)
// are durable; shard 0 stops syncing, so LSN 3 (shard 0) is written but not
// synced, while shard 1 syncs 600 KB of records above it; then the power
// fails (`plo`: a mode that loses LSN 3, the last write of its segment -
// kDropUnsynced, kTearLastWrite or kTornSector; the other two may keep it,
// and there would be nothing above the cut). `tag0`/`tag1` route to shard 0/1.
void BuildSegmentsAboveTheCut(const Options& o, Fi* fs, const Fi::PowerLossOptions& plo, std::string* tag0,
                              std::string* tag1) {
  {
    auto wal = Wal::Open(o);
    // However this block ends, the stalled sync must fail first, or the
    // WAL's destructor waits for it forever.
    struct PowerOff {
      Fi* fs;
      ~PowerOff() { fs->Deactivate(); }
    } power_off{fs};
    ASSERT_TRUE(wal.ok()) << wal.status().ToString();
    for (int i = 0; tag0->empty() || tag1->empty(); ++i) {
      const std::string t = "t" + std::to_string(i);
      *((*wal)->ShardForTag(t) == 0 ? tag0 : tag1) = t;
    }
    ASSERT_TRUE((*wal)->Append(*tag0, "durable 1").ok());  // LSN 1, group
    ASSERT_TRUE((*wal)->Append(*tag1, "durable 2").ok());  // LSN 2, group
    // Shard 0 stops syncing: LSN 3 is written there but never synced ...
    fs->StallSyncs("/shard-0/");
    AppendOptions async;
    async.durability = Durability::kAsync;
    ASSERT_TRUE((*wal)->Append(*tag0, "lost", async).ok());
    // ... while shard 1 syncs several segments' worth of records above it.
    const std::string kb(1000, 'x');
    Lsn last = kNoLsn;
    for (int i = 0; i < 600; ++i) {
      auto lsn = (*wal)->Append(*tag1, kb, async);
      ASSERT_TRUE(lsn.ok());
      last = *lsn;
    }
    const auto start = std::chrono::steady_clock::now();
    while ((*wal)->Stats().shards[1].durable_frontier < last &&
           std::chrono::steady_clock::now() - start < std::chrono::seconds(10)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ASSERT_GE((*wal)->Stats().shards[1].segments, 4u);
  }
  ASSERT_TRUE(fs->SimulatePowerLoss(plo).ok());  // LSN 3 is gone: the cut is 2
  fs->ResumeSyncs();
  auto reader = LogReader::Open(o);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  ASSERT_EQ((*reader)->report().cut_lsn, 2u);
  ASSERT_GE((*reader)->report().shards[1].segments_removed, 2u) << (*reader)->report().Summary();
}

// Recovery bug: ApplyCut deletes the segments above the cut in ascending
// path order, i.e. lowest sequence number first. A crash part way through
// (here: the 2nd deletion fails) leaves a shard with segments 1, 2, 4, ...:
// a hole in the sequence, which the next Open rejects as a missing segment
// (Corruption, in the default mode). ApplyCut promises "Idempotent: a crash
// part way is finished by the next Open." Deleting each shard's segments
// from the highest sequence number down would keep every intermediate state
// a valid one.
// The power losses BuildSegmentsAboveTheCut can use: the modes that lose the
// last write of a file, with every DirEntryLoss policy.
std::vector<Fi::PowerLossOptions> LosingTheLastWrite() {
  std::vector<Fi::PowerLossOptions> out;
  for (std::uint64_t n = 0; n < kAllLossModes.size() * kAllDirEntryLosses.size(); ++n) {
    Fi::PowerLossOptions plo = CyclingPowerLoss(n, 200 + n);
    if (plo.mode == Fi::LossMode::kKeepRandomPrefix || plo.mode == Fi::LossMode::kRandomPages) continue;
    out.push_back(plo);
  }
  return out;
}

void InterruptedSegmentRemoval(const Fi::PowerLossOptions& plo) {
  TempDir dir;
  auto fs = std::make_shared<Fi>();
  Options o = TestOptions(dir.path(), 2);
  o.segment_bytes = 64u << 10;  // the minimum
  o.file_system = fs;
  std::string tag0, tag1;
  ASSERT_NO_FATAL_FAILURE(BuildSegmentsAboveTheCut(o, fs.get(), plo, &tag0, &tag1));
  // Recovery crashes at its second segment removal ...
  fs->InjectFault(Fi::Op::kDelete, 2, EIO, "", /*sticky=*/true);
  {
    auto wal = Wal::Open(o);
    ASSERT_FALSE(wal.ok());
    EXPECT_TRUE(wal.status().IsIOError()) << wal.status().ToString();
  }
  fs->ClearFaults();
  // ... and the next Open must finish the job.
  auto wal = Wal::Open(o);
  ASSERT_TRUE(wal.ok()) << wal.status().ToString();
  EXPECT_EQ((*wal)->recovery_report().cut_lsn, 2u);
  auto next = (*wal)->Append(tag0, "next");
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(*next, 3u);
}

TEST(CrashDuringRecovery, InterruptedSegmentRemovalLeavesAnOpenableWal) {
  PowerLossTally tally;
  for (const Fi::PowerLossOptions& plo : LosingTheLastWrite()) {
    SCOPED_TRACE(DescribePowerLoss(plo));
    ASSERT_NO_FATAL_FAILURE(InterruptedSegmentRemoval(plo));
    tally.Add(plo);
  }
  tally.Report("InterruptedSegmentRemovalLeavesAnOpenableWal");
}

// Recovery bug: Wal::Replay fails with IOError ENOENT after a recovery that
// removed whole segments. Wal::Open hands the RecoveredLog the layouts that
// ScanWal listed *before* ApplyCut deleted the segments above the cut. When
// a shard's kept data ends at a batch boundary (the first record above the
// cut started a batch, which ApplyCut truncated away), the replay cursor of
// that shard runs past its last kept record into the next listed segment,
// which no longer exists. (When the first record above the cut shares a
// batch with kept records, the batch stays and the cursor stops on it, so
// this shows only for some crash timings.) Fixed in the working tree while
// these tests were written (ForgetRemoved after ApplyCut); kept as a
// regression test.
void ReplayAfterSegmentsAboveTheCut(const Fi::PowerLossOptions& plo) {
  TempDir dir;
  auto fs = std::make_shared<Fi>();
  Options o = TestOptions(dir.path(), 2);
  o.segment_bytes = 64u << 10;
  o.file_system = fs;
  std::string tag0, tag1;
  ASSERT_NO_FATAL_FAILURE(BuildSegmentsAboveTheCut(o, fs.get(), plo, &tag0, &tag1));
  auto wal = Wal::Open(o);
  ASSERT_TRUE(wal.ok()) << wal.status().ToString();
  ASSERT_EQ((*wal)->recovery_report().cut_lsn, 2u);
  std::vector<std::pair<Lsn, std::string>> got;
  Status s = (*wal)->Replay(0, [&](const ReplayRecord& r) {
    got.emplace_back(r.lsn, std::string(r.payload));
    return true;
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(got, (std::vector<std::pair<Lsn, std::string>>{{1, "durable 1"}, {2, "durable 2"}}));
}

TEST(RecoveryAfterPowerLoss, ReplayAfterSegmentsAboveTheCutWereRemoved) {
  PowerLossTally tally;
  for (const Fi::PowerLossOptions& plo : LosingTheLastWrite()) {
    SCOPED_TRACE(DescribePowerLoss(plo));
    ASSERT_NO_FATAL_FAILURE(ReplayAfterSegmentsAboveTheCut(plo));
    tally.Add(plo);
  }
  tally.Report("ReplayAfterSegmentsAboveTheCutWereRemoved");
}


// Recovery bug found by the widened crash model (DirEntryLoss::kRandom):
// ApplyCut deletes a shard's segments above the cut highest first and syncs
// the directory once, after all of them, counting on "a crash part way thus
// leaves each shard a prefix of itself: no holes". That holds when unsynced
// deletions persist in the order they were made, but not in a crash model
// without the prefix assumption, where each unsynced deletion may be undone
// on its own: a crash before the directory sync, then a power loss that
// brings back segment 5 but not segment 4, leaves shard 1 with segments
// 1, 2, 3, 5. The next Open rejects that as a missing segment ("segments
// 4..4 are missing before this one", kMissingSegment, Corruption in the
// default mode), although only segments wholly above the cut - records
// nobody was promised, void in the MANIFEST's new epoch - are involved.
//
// Setup: BuildSegmentsAboveTheCut (cut 2; shard 1 has at least two whole
// segments above it); the Open that recovers it fails at its first
// directory sync of shard 1 (sticky EIO) - with today's ApplyCut, after
// deleting all of them; the power fails with kRandom directory entries,
// seeds 1..12. Then an undisturbed Open must succeed with cut 2 and LSNs
// 1..2 intact, and the void records in a segment that came back must never
// reappear. On the code this was written against, about half the seeds
// (typically 1, 2, 3, ...; the segment count varies with timing) leave
// shard 1 with a hole (1 2 3 5, 1 2 4, ...) and that Open fails. The test does not insist on a hole: a fix that syncs the directory
// after each removal never leaves one, and passes as well as a fix that
// accepts a hole whose segments above it hold only void records.
TEST(CrashDuringRecovery, DeletionsThatComeBackLeaveNoHole) {
  constexpr std::uint64_t kSeeds = 12;
  int holes = 0, seeds = 0;
  PowerLossTally tally;
  for (std::uint64_t seed = 1; seed <= kSeeds; ++seed) {
    ++seeds;
    TempDir dir;
    auto fs = std::make_shared<Fi>();
    Options o = TestOptions(dir.path(), 2);
    o.segment_bytes = 64u << 10;
    o.file_system = fs;
    std::string tag0, tag1;
    Fi::PowerLossOptions build;  // kDropUnsynced
    build.dir_entries = Fi::DirEntryLoss::kLoseAll;
    ASSERT_NO_FATAL_FAILURE(BuildSegmentsAboveTheCut(o, fs.get(), build, &tag0, &tag1));
    tally.Add(build);
    fs->InjectFault(Fi::Op::kSyncDir, 1, EIO, "/shard-1", /*sticky=*/true);
    {
      auto wal = Wal::Open(o);
      ASSERT_FALSE(wal.ok()) << "the Open should fail syncing shard 1's directory after removing its segments";
      ASSERT_NE(wal.status().ToString().find("injected"), std::string::npos) << wal.status().ToString();
    }
    fs->ClearFaults();
    Fi::PowerLossOptions plo;
    plo.mode = Fi::LossMode::kDropUnsynced;
    plo.dir_entries = Fi::DirEntryLoss::kRandom;
    plo.seed = seed;
    ASSERT_TRUE(fs->SimulatePowerLoss(plo).ok());
    tally.Add(plo);
    // Shard 1's segment sequence numbers after the power loss.
    auto names = fs->ListDir(dir.Sub("shard-1"));
    ASSERT_TRUE(names.ok()) << names.status().ToString();
    std::set<std::uint64_t> seqs;
    std::string listing;
    for (const auto& name : *names) {
      std::uint32_t shard = 0;
      std::uint64_t seq = 0;
      if (format::ParseSegmentFileName(name, &shard, &seq)) seqs.insert(seq);
    }
    for (std::uint64_t seq : seqs) listing += " " + std::to_string(seq);
    const bool hole = !seqs.empty() && *seqs.rbegin() != seqs.size();
    holes += hole;
    const std::string where = "power loss " + DescribePowerLoss(plo) + ", shard 1 holds segments" + listing +
                              (hole ? " (a hole)" : "");
    auto wal = Wal::Open(o);
    // (No ASSERT: go on with the other seeds, so that one run shows them all.)
    if (!wal.ok()) {
      ADD_FAILURE() << where << ": " << wal.status().ToString();
      continue;
    }
    EXPECT_EQ((*wal)->recovery_report().cut_lsn, 2u) << where << "\n" << (*wal)->recovery_report().Summary();
    std::vector<std::pair<Lsn, std::string>> got;
    ASSERT_TRUE((*wal)->Replay(kNoLsn, [&](const ReplayRecord& r) {
                         got.emplace_back(r.lsn, std::string(r.payload));
                         return true;
                       }).ok());
    EXPECT_EQ(got, (std::vector<std::pair<Lsn, std::string>>{{1, "durable 1"}, {2, "durable 2"}})) << where;
    auto next = (*wal)->Append(tag1, "next");
    ASSERT_TRUE(next.ok()) << where << ": " << next.status().ToString();
    EXPECT_EQ(*next, 3u) << where;
    ASSERT_TRUE((*wal)->Close().ok()) << where;
    wal->reset();
    auto again = Wal::Open(o);
    ASSERT_TRUE(again.ok()) << where << ", reopened: " << again.status().ToString();
    got.clear();
    ASSERT_TRUE((*again)->Replay(kNoLsn, [&](const ReplayRecord& r) {
                           got.emplace_back(r.lsn, std::string(r.payload));
                           return true;
                         }).ok());
    EXPECT_EQ(got, (std::vector<std::pair<Lsn, std::string>>{{1, "durable 1"}, {2, "durable 2"}, {3, "next"}}))
        << where << ", reopened";
  }
  std::printf("power_loss_test deletions that come back: %d seeds, %d left a hole in shard 1's segments\n", seeds,
              holes);
  tally.Report("power_loss_test deletions that come back");
}

}  // namespace
}  // namespace shardwal
