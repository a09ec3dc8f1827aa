// SPDX-License-Identifier: Apache-2.0
// Power loss with FaultInjectionFileSystem, many seeds, every loss mode,
// several generations per directory; plus bugs these tests found in the
// fault model and in recovery after a process crash.
//
// The crash model makes no prefix assumption: every simulation cycles
// through all five LossModes (kDropUnsynced, kKeepRandomPrefix,
// kTearLastWrite, kRandomPages - unsynced pages persist as any subset, a
// later one without an earlier one - and kTornSector) and the three
// DirEntryLoss policies (unsynced creations, renames and deletions lost,
// kept, or either at random; a deleted file may come back), with batches
// uncompressed, lz4 or zstd. Each test prints
// and records (RecordProperty) how many power losses of each it simulated.
// The writers, the model and the checks after every recovery:
// tests/power_loss_util.h.
#include <gtest/gtest.h>
#include <sys/uio.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "shardwal/recovery.h"
#include "src/foundation/format.h"
#include "tests/power_loss_util.h"

namespace shardwal {
namespace {

using namespace power_loss;

// ---- every loss mode, many seeds, several generations per directory ------------------

// Directory seed s runs kGenerations power losses, numbered
// (s - 1) * kGenerations + gen: successive ones cycle through every LossMode
// and, every five, every DirEntryLoss policy (CyclingPowerLoss), so each
// directory lives through several modes and policies, and every 15
// consecutive losses cover every pair. A release build runs every directory
// seed (kDirSeeds x kGenerations power losses: the CI's count); under a
// sanitizer at least kMinSanitizedDirSeeds (each pair twice), then as many
// as fit kSanitizedBudget. SHARDWAL_POWER_LOSS_SEED=s runs directory seed s
// alone (the same power losses; the writers' timing differs run to run).
TEST(PowerLoss, EveryModeManySeedsSeveralGenerations) {
  constexpr int kDirSeeds = 90;
  constexpr int kGenerations = 3;  // power losses per directory
  constexpr int kMinSanitizedDirSeeds = 10;
  constexpr auto kSanitizedBudget = std::chrono::seconds(25);
  const int only = static_cast<int>(EnvOr("SHARDWAL_POWER_LOSS_SEED", 0));
  const auto t0 = std::chrono::steady_clock::now();
  Counters c;
  PowerLossTally tally;
  int dirs = 0;
  for (int seed = only != 0 ? only : 1; seed <= (only != 0 ? only : kDirSeeds); ++seed) {
    if (kSanitizedBuild && only == 0 && dirs >= kMinSanitizedDirSeeds &&
        std::chrono::steady_clock::now() - t0 > kSanitizedBudget) {
      break;
    }
    ++dirs;
    TempDir dir;
    Config cfg;
    cfg.shards = 1 + static_cast<std::uint32_t>(seed % 4);
    cfg.segment_bytes = seed % 2 == 1 ? (64u << 10) : (1u << 20);
    cfg.routing = seed % 5 == 0 ? Routing::kThread : Routing::kTag;
    // Compressed batches go through every loss mode too (seed % 3: none,
    // lz4, zstd; with 1 + seed % 4 shards every pairing comes up).
    cfg.compression = seed % 3 == 0 ? Compression::kNone : seed % 3 == 1 ? Compression::kLz4 : Compression::kZstd;
    auto fs = std::make_shared<Fi>();
    const Options o = MakeOptions(dir.path(), cfg, fs);
    Model m;
    std::string history;  // the power losses this directory went through
    for (int gen = 0; gen <= kGenerations; ++gen) {
      const std::string where = "directory seed " + std::to_string(seed) + " (SHARDWAL_POWER_LOSS_SEED=" +
                                std::to_string(seed) + ") generation " + std::to_string(gen) + history;
      auto wal = Wal::Open(o);
      ASSERT_TRUE(wal.ok()) << where << ": " << wal.status().ToString();
      if (gen > 0) {
        auto truth = CheckRecovered(**wal, m, &c, where);
        ASSERT_TRUE(truth.has_value());
        Advance(&m, std::move(*truth), (*wal)->recovery_report().max_lsn_seen);
      } else {
        Advance(&m, m.truth, kNoLsn);
      }
      if (gen == kGenerations) {
        ASSERT_NO_FATAL_FAILURE(Probe(**wal, &m, where));
        EXPECT_TRUE((*wal)->Close().ok());
        break;
      }
      ASSERT_NO_FATAL_FAILURE(Probe(**wal, &m, where));
      AppendUntilPowerFails(**wal, *fs, &m,
                            Mix(static_cast<std::uint64_t>(seed) * 1000 + static_cast<std::uint64_t>(gen) * 10), cfg.writers);
      wal->reset();
      const Fi::PowerLossOptions plo =
          CyclingPowerLoss(static_cast<std::uint64_t>((seed - 1) * kGenerations + gen),
                           static_cast<std::uint64_t>(seed) * 7919 + static_cast<std::uint64_t>(gen));
      history += (gen == 0 ? ", after power losses: " : ", ") + DescribePowerLoss(plo);
      ASSERT_TRUE(fs->SimulatePowerLoss(plo).ok()) << where;
      fs->ResumeSyncs();  // stalls outlive a power loss
      ++c.power_losses;
      tally.Add(plo);
    }
  }
  std::printf("power_loss_test every-mode: %llu power losses (%d directories x %d generations) in %.1f s, %llu "
              "recoveries, %llu acknowledged records verified, %llu records cut by recovery, %llu voided LSNs reused "
              "and verified, %llu records of failed group appends recovered, %llu torn/zeroed tails\n",
              static_cast<unsigned long long>(c.power_losses), dirs, kGenerations,
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
              static_cast<unsigned long long>(c.recoveries), static_cast<unsigned long long>(c.acked_verified),
              static_cast<unsigned long long>(c.records_cut), static_cast<unsigned long long>(c.reused_lsns_verified),
              static_cast<unsigned long long>(c.failed_append_recovered),
              static_cast<unsigned long long>(c.torn_or_zeroed));
  tally.Report("power_loss_test every-mode");
  if (only != 0) return;
  tally.ExpectEveryModeAndPolicy("power_loss_test every-mode");
  EXPECT_GT(c.acked_verified, 0u);
  EXPECT_GT(c.records_cut, 0u) << "no power loss left records above the cut: epochs were not exercised";
  EXPECT_GT(c.reused_lsns_verified, 0u) << "no voided LSN was reused and recovered";
  EXPECT_GT(c.torn_or_zeroed, 0u);
}

// ---- bugs found by these tests -------------------------------------------------------

// FaultInjectionFileSystem bug: RenameFile over a file whose directory entry
// is durable moves the source's "created, directory not synced" mark onto the
// destination, so SimulatePowerLoss(lose_unsynced_dir_entries) deletes the
// destination. A real file system shows the old or the new file after a power
// loss that lost the rename (rename is atomic), never neither. Consequence:
// an Open that fails (or loses power) between installing the new MANIFEST
// (write tmp, sync, rename) and syncing the directory leaves, in simulation,
// a WAL with segments but no MANIFEST, which then refuses to open
// ("holds WAL segments but ... has no MANIFEST").
//
// Checked with the older switch and with every (mode, DirEntryLoss) pair:
// the file under the name is "old" or "new", whole.
TEST(FaultInjectionModel, LostRenameOverADurableFileLeavesOneOfThem) {
  std::vector<Fi::PowerLossOptions> losses;
  Fi::PowerLossOptions old_switch;
  old_switch.lose_unsynced_dir_entries = true;
  losses.push_back(old_switch);
  for (std::uint64_t n = 0; n < kAllLossModes.size() * kAllDirEntryLosses.size(); ++n) {
    losses.push_back(CyclingPowerLoss(n, n + 1));
  }
  PowerLossTally tally;
  for (const Fi::PowerLossOptions& plo : losses) {
    SCOPED_TRACE(DescribePowerLoss(plo));
    TempDir dir;
    Fi fs;
    auto write_file = [&](const std::string& path, const std::string& text) {
      auto f = fs.NewWritableFile(path);
      ASSERT_TRUE(f.ok()) << f.status().ToString();
      iovec iov{const_cast<char*>(text.data()), text.size()};
      ASSERT_TRUE((*f)->PWritev(&iov, 1, 0).ok());
      ASSERT_TRUE((*f)->Sync().ok());
      ASSERT_TRUE((*f)->Close().ok());
    };
    const std::string final_path = dir.Sub("MANIFEST"), tmp = dir.Sub("MANIFEST.tmp");
    ASSERT_NO_FATAL_FAILURE(write_file(final_path, "old"));
    ASSERT_TRUE(fs.SyncDir(dir.path()).ok());  // "old" is durable, entry and data
    ASSERT_NO_FATAL_FAILURE(write_file(tmp, "new"));
    ASSERT_TRUE(fs.RenameFile(tmp, final_path).ok());
    // The power fails before the directory is synced.
    ASSERT_TRUE(fs.SimulatePowerLoss(plo).ok());
    tally.Add(plo);
    auto exists = fs.FileExists(final_path);
    ASSERT_TRUE(exists.ok());
    ASSERT_TRUE(*exists) << "a power loss that loses the rename must leave the old MANIFEST, not none";
    auto f = fs.NewReadableFile(final_path);
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    char buf[8] = {};
    auto got = (*f)->PRead(0, sizeof buf, buf);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    const std::string content(buf, *got);
    EXPECT_TRUE(content == "old" || content == "new") << "MANIFEST holds '" << content << "'";
  }
  tally.Report("LostRenameOverADurableFileLeavesOneOfThem");
}

// Recovery bug: after a process crash (no power loss) recovery keeps records
// that were written but never fdatasync'd - they are in the page cache - and
// starts the new epoch at the cut + 1 without syncing them. New appends go
// to new segment files, so a later group append is acknowledged once ITS
// segment is synced, while the older records below it are still not durable.
// A power loss then takes them, and the acknowledged record cannot come
// back: the next recovery either cuts below it (the LSN is lost and handed
// out again) or, since the "records missing mid-log" check, refuses to open
// the WAL (Corruption) although nothing but a crash and a power loss
// happened. Recovery has to sync what it keeps (at least each shard's last
// segment of the previous epoch) before the new epoch acknowledges anything.
//
// Modelled with two FaultInjectionFileSystems: `crashed` tracks generation
// 1's files (what it really synced); generation 2 runs on a fresh one, as
// after a process restart. The power loss then cuts generation 1's segment
// back to what was synced, as nobody synced it since; generation 2's files
// go through a simulated power loss of every (mode, DirEntryLoss) pair.
void RecoveryMakesWhatItKeepsDurable(const Fi::PowerLossOptions& plo) {
  TempDir dir;
  auto crashed = std::make_shared<Fi>();
  Options o = TestOptions(dir.path(), 1);
  // File sizes below tell written from synced bytes: no preallocation.
  o.preallocation = Preallocation::kNone;
  std::string segment;
  std::uint64_t synced_when_crashed = 0;
  {
    o.file_system = crashed;
    auto wal = Wal::Open(o);
    ASSERT_TRUE(wal.ok()) << wal.status().ToString();
    for (int i = 1; i <= 5; ++i) ASSERT_TRUE((*wal)->Append("t", "group-" + std::to_string(i)).ok());  // durable
    auto names = crashed->ListDir(dir.Sub("shard-0"));
    ASSERT_TRUE(names.ok());
    for (const auto& name : *names) {
      // (The next segment, prepared ahead, holds nothing.)
      if (name == format::SegmentFileName(0, 1)) segment = dir.Sub("shard-0") + "/" + name;
    }
    ASSERT_FALSE(segment.empty());
    auto durable_size = crashed->FileSize(segment);
    ASSERT_TRUE(durable_size.ok());
    AppendOptions none;
    none.durability = Durability::kNone;
    // The kNone records fill the segment by at least this much once they are
    // all written: one batch header (more if the flush thread splits them)
    // and their records.
    std::uint64_t none_bytes = format::kBatchHeaderBytes;
    for (int i = 6; i <= 10; ++i) {
      const std::string payload = "none-" + std::to_string(i);
      none_bytes += format::RecordBytes(1, payload.size());
      ASSERT_TRUE((*wal)->Append("t", payload, none).ok());
    }
    // Wait until every kNone record is written (not synced): the flush thread
    // writes them within max_batch_delay, in one batch or (on a loaded
    // machine) several; the file grows once each pwritev has returned.
    const auto start = std::chrono::steady_clock::now();
    auto written = [&] {
      auto size = crashed->FileSize(segment);
      return size.ok() && *size >= *durable_size + none_bytes;
    };
    while (!written() && std::chrono::steady_clock::now() - start < std::chrono::seconds(10)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ASSERT_TRUE(written()) << "the kNone records were not written within 10 s";
    synced_when_crashed = crashed->SyncedBytes(segment);
    auto size = crashed->FileSize(segment);
    ASSERT_TRUE(size.ok());
    ASSERT_GT(*size, synced_when_crashed) << "the kNone records should be written but not synced";
    // The process dies: nothing more reaches the files, written data stays.
    crashed->Deactivate();
  }
  Lsn acknowledged = kNoLsn;
  bool old_segment_synced = false;
  {
    auto restarted = std::make_shared<Fi>();
    restarted->SetSyncObserver([&](const std::string& path, std::uint64_t) {
      if (path == segment) old_segment_synced = true;
    });
    o.file_system = restarted;
    auto wal = Wal::Open(o);
    ASSERT_TRUE(wal.ok()) << wal.status().ToString();
    ASSERT_EQ((*wal)->recovery_report().cut_lsn, 10u) << "the written records are recovered from the page cache";
    auto lsn = (*wal)->Append("t", "acknowledged after recovery");  // kGroup
    ASSERT_TRUE(lsn.ok()) << lsn.status().ToString();
    ASSERT_EQ(*lsn, 11u);
    acknowledged = *lsn;
    restarted->Deactivate();
    wal->reset();
    // Power loss: what generation 2 wrote and synced survives ...
    ASSERT_TRUE(restarted->SimulatePowerLoss(plo).ok());
  }
  // ... and generation 1's segment loses what nobody synced since it was
  // written (if the restarted WAL synced it, it is all durable).
  if (!old_segment_synced) testing::ShrinkFile(segment, synced_when_crashed);

  o.file_system = nullptr;
  auto wal = Wal::Open(o);
  ASSERT_TRUE(wal.ok()) << wal.status().ToString();
  EXPECT_GE((*wal)->recovery_report().cut_lsn, acknowledged)
      << "acknowledged LSN " << acknowledged << " lost\n" << (*wal)->recovery_report().Summary();
  std::map<Lsn, std::string> got;
  ASSERT_TRUE((*wal)->Replay(0, [&](const ReplayRecord& r) {
                       got[r.lsn] = std::string(r.payload);
                       return true;
                     }).ok());
  EXPECT_EQ(got[acknowledged], "acknowledged after recovery");
}

TEST(PowerLossAfterProcessCrash, RecoveryMakesWhatItKeepsDurableBeforeAcknowledgingMore) {
  PowerLossTally tally;
  for (std::uint64_t n = 0; n < kAllLossModes.size() * kAllDirEntryLosses.size(); ++n) {
    const Fi::PowerLossOptions plo = CyclingPowerLoss(n, 100 + n);
    SCOPED_TRACE(DescribePowerLoss(plo));
    ASSERT_NO_FATAL_FAILURE(RecoveryMakesWhatItKeepsDurable(plo));
    tally.Add(plo);
  }
  tally.Report("RecoveryMakesWhatItKeepsDurableBeforeAcknowledgingMore");
}

}  // namespace
}  // namespace shardwal
