// SPDX-License-Identifier: Apache-2.0
// What FaultInjectionFileSystem's power loss does to directory entries:
// unsynced creations, renames and deletions are lost, kept, or either at
// random (DirEntryLoss); a lost rename reverts (as a chain or a swap), a
// deleted file comes back with its durable content, under its durable
// name, never displacing a file that stays.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "tests/fault_fs_fixture.h"

namespace shardwal {
namespace {

using namespace fs_test;

TEST_F(FaultFileSystemTest, PowerLossLosesEntriesOfUnsyncedDirectories) {
  ASSERT_TRUE(fs_.CreateDirs(Path("synced")).ok());
  ASSERT_TRUE(fs_.CreateDirs(Path("unsynced")).ok());
  auto kept = Create("synced/seg");
  auto lost = Create("unsynced/seg");
  for (auto* file : {kept.get(), lost.get()}) {
    ASSERT_TRUE(WriteAt(*file, 0, "data").ok());
    ASSERT_TRUE(file->Sync().ok());
  }
  ASSERT_TRUE(fs_.SyncDir(Path("synced")).ok());
  ASSERT_TRUE(fs_.SyncDir(dir_).ok()) << "syncing another directory does not help";

  ASSERT_TRUE(PowerLoss(LossMode::kDropUnsynced).ok());
  EXPECT_EQ(ReadFileBytes(Path("synced/seg")), "data");
  EXPECT_FALSE(std::filesystem::exists(Path("unsynced/seg")));
}

TEST_F(FaultFileSystemTest, PowerLossCanKeepUnsyncedEntries) {
  auto file = Create("seg");
  ASSERT_TRUE(WriteAt(*file, 0, "data").ok());
  ASSERT_TRUE(PowerLoss(LossMode::kDropUnsynced, 1, /*lose_entries=*/false).ok());
  EXPECT_TRUE(std::filesystem::exists(Path("seg")));
  EXPECT_EQ(ReadFileBytes(Path("seg")), "");
}

TEST_F(FaultFileSystemTest, RenameCarriesTracking) {
  auto file = Prepare("tmp", "synced", {"-unsynced"});
  ASSERT_TRUE(fs_.RenameFile(Path("tmp"), Path("final")).ok());
  EXPECT_EQ(fs_.SyncedBytes(Path("final")), 6u);
  EXPECT_EQ(fs_.SyncedBytes(Path("tmp")), 0u);
  ASSERT_TRUE(fs_.SyncDir(dir_).ok()) << "the rename is durable";
  ASSERT_TRUE(PowerLoss(LossMode::kDropUnsynced).ok());
  EXPECT_EQ(ReadFileBytes(Path("final")), "synced");
  EXPECT_FALSE(std::filesystem::exists(Path("tmp")));
}

// ---------------------------------------------------------------- renames

TEST_F(FaultFileSystemTest, RecycledSegmentRevertsToItsOldNameWhenTheRenameIsLost) {
  const std::string old = "HEADER" + std::string(50, 'r');
  for (const bool sync_rename : {false, true}) {
    SCOPED_TRACE(sync_rename ? "rename synced" : "rename not synced");
    {
      auto file = Prepare("seg-1", old, {});
      ASSERT_TRUE(file->Close().ok());
    }
    // Recycle: rename, then overwrite from the front.
    ASSERT_TRUE(fs_.RenameFile(Path("seg-1"), Path("seg-5")).ok());
    if (sync_rename) {
      ASSERT_TRUE(fs_.SyncDir(dir_).ok());
    }
    auto file = fs_.ReopenWritableFile(Path("seg-5"));
    ASSERT_TRUE(file.ok()) << file.status().ToString();
    EXPECT_EQ(fs_.SyncedBytes(Path("seg-5")), old.size());
    ASSERT_TRUE(WriteAt(**file, 0, std::string(6, '\0')).ok()) << "the header is zeroed first";
    ASSERT_TRUE((*file)->Sync().ok());
    ASSERT_TRUE(WriteAt(**file, 0, "NEWHDRrecord").ok());
    file->reset();

    ASSERT_TRUE(PowerLoss(LossMode::kDropUnsynced).ok());
    const std::string expected = std::string(6, '\0') + old.substr(6);
    if (sync_rename) {
      EXPECT_FALSE(std::filesystem::exists(Path("seg-1")));
      EXPECT_EQ(ReadFileBytes(Path("seg-5")), expected);
    } else {
      EXPECT_FALSE(std::filesystem::exists(Path("seg-5")));
      EXPECT_EQ(ReadFileBytes(Path("seg-1")), expected) << "the synced zeroing stays, the unsynced record is undone";
    }
    std::filesystem::remove(Path("seg-1"));
    std::filesystem::remove(Path("seg-5"));
  }
}

TEST_F(FaultFileSystemTest, UnsyncedRenameSurvivesWhenEntriesAreKept) {
  { auto file = Prepare("seg-1", "old", {}); }
  ASSERT_TRUE(fs_.RenameFile(Path("seg-1"), Path("seg-5")).ok());
  ASSERT_TRUE(PowerLoss(LossMode::kDropUnsynced, 1, /*lose_entries=*/false).ok());
  EXPECT_FALSE(std::filesystem::exists(Path("seg-1")));
  EXPECT_EQ(ReadFileBytes(Path("seg-5")), "old");
}

TEST_F(FaultFileSystemTest, UnsyncedRenamesRevertAsAChainAndASwap) {
  { auto f = Prepare("a", "A", {}); }
  { auto f = Prepare("x", "X", {}); }
  { auto f = Prepare("y", "Y", {}); }
  // a -> b -> c: back to a.
  ASSERT_TRUE(fs_.RenameFile(Path("a"), Path("b")).ok());
  ASSERT_TRUE(fs_.RenameFile(Path("b"), Path("c")).ok());
  // Swap x and y through a temporary name: each goes back to its own name.
  ASSERT_TRUE(fs_.RenameFile(Path("x"), Path("t")).ok());
  ASSERT_TRUE(fs_.RenameFile(Path("y"), Path("x")).ok());
  ASSERT_TRUE(fs_.RenameFile(Path("t"), Path("y")).ok());
  EXPECT_EQ(ReadFileBytes(Path("x")), "Y");

  ASSERT_TRUE(PowerLoss(LossMode::kDropUnsynced).ok());
  auto names = fs_.ListDir(dir_);
  ASSERT_TRUE(names.ok());
  std::sort(names->begin(), names->end());
  EXPECT_EQ(*names, (std::vector<std::string>{"a", "x", "y"}));
  EXPECT_EQ(ReadFileBytes(Path("a")), "A");
  EXPECT_EQ(ReadFileBytes(Path("x")), "X");
  EXPECT_EQ(ReadFileBytes(Path("y")), "Y");
}

TEST_F(FaultFileSystemTest, RenameBackToTheDurableNameIsNotReverted) {
  { auto f = Prepare("a", "A", {}); }
  ASSERT_TRUE(fs_.RenameFile(Path("a"), Path("b")).ok());
  ASSERT_TRUE(fs_.RenameFile(Path("b"), Path("a")).ok());
  ASSERT_TRUE(PowerLoss(LossMode::kDropUnsynced).ok());
  EXPECT_EQ(ReadFileBytes(Path("a")), "A");
  EXPECT_FALSE(std::filesystem::exists(Path("b")));
}

// ---------------------------------------------------------------- directory entries, deletions

TEST_F(FaultFileSystemTest, DirEntryPolicyDefaultsToTheOldSwitch) {
  FaultInjectionFileSystem::PowerLossOptions options;
  EXPECT_EQ(options.dir_entry_loss(), DirEntryLoss::kLoseAll);
  options.lose_unsynced_dir_entries = false;
  EXPECT_EQ(options.dir_entry_loss(), DirEntryLoss::kKeepAll);
  EXPECT_FALSE(options.may_undo_deletions());
  options.dir_entries = DirEntryLoss::kRandom;
  EXPECT_EQ(options.dir_entry_loss(), DirEntryLoss::kRandom) << "the policy wins over the switch";
  EXPECT_TRUE(options.may_undo_deletions());
}

TEST_F(FaultFileSystemTest, OldSwitchKeepsDeletionsDurable) {
  // lose_unsynced_dir_entries keeps its old meaning for existing callers.
  { auto file = Prepare("seg", "durable", {}); }
  ASSERT_TRUE(fs_.DeleteFile(Path("seg")).ok());
  ASSERT_TRUE(PowerLoss(LossMode::kDropUnsynced, 1, /*lose_entries=*/true).ok());
  EXPECT_FALSE(Exists("seg"));
}

TEST_F(FaultFileSystemTest, RandomDirEntriesAreKeptOrLostPerSeed) {
  // An unsynced creation and an unsynced rename per seed, each kept or lost
  // on its own.
  std::set<bool> created, renamed;
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    const std::string n = std::to_string(seed);
    { auto f = Prepare("old" + n, "R", {}); }
    ASSERT_TRUE(fs_.RenameFile(Path("old" + n), Path("new" + n)).ok());
    auto file = Create("created" + n);
    ASSERT_TRUE(WriteAt(*file, 0, "C").ok());
    ASSERT_TRUE(file->Sync().ok());
    ASSERT_TRUE(PowerLoss(LossMode::kDropUnsynced, seed, DirEntryLoss::kRandom).ok());
    created.insert(Exists("created" + n));
    if (Exists("created" + n)) {
      EXPECT_EQ(ReadFileBytes(Path("created" + n)), "C");
    }
    EXPECT_NE(Exists("old" + n), Exists("new" + n)) << "seed " << seed << ": exactly one name";
    renamed.insert(Exists("new" + n));
  }
  EXPECT_EQ(created, (std::set<bool>{false, true}));
  EXPECT_EQ(renamed, (std::set<bool>{false, true}));
}

TEST_F(FaultFileSystemTest, UnsyncedDeletionComesBackWithItsDurableContent) {
  auto file = Prepare("seg", "durable", {"-unsynced"});
  file.reset();
  ASSERT_TRUE(fs_.DeleteFile(Path("seg")).ok());
  EXPECT_FALSE(Exists("seg"));
  ASSERT_TRUE(PowerLoss(LossMode::kKeepRandomPrefix, 1, DirEntryLoss::kLoseAll).ok());
  EXPECT_EQ(ReadFileBytes(Path("seg")), "durable") << "what a power loss would have left of it";
}

TEST_F(FaultFileSystemTest, DeletionOfAnOverwrittenFileComesBackWithItsOldBytes) {
  auto file = Prepare("seg", "0123456789", {});
  ASSERT_TRUE(WriteAt(*file, 2, "ab").ok());
  ASSERT_TRUE(WriteAt(*file, 3, "XYZ").ok());
  file.reset();
  ASSERT_TRUE(fs_.DeleteFile(Path("seg")).ok());
  ASSERT_TRUE(PowerLoss(LossMode::kDropUnsynced, 1, DirEntryLoss::kLoseAll).ok());
  EXPECT_EQ(ReadFileBytes(Path("seg")), "0123456789");
}

TEST_F(FaultFileSystemTest, SyncedDeletionStaysDeleted) {
  { auto file = Prepare("seg", "durable", {}); }
  { auto file = Prepare("other", "durable", {}); }
  ASSERT_TRUE(fs_.DeleteFile(Path("seg")).ok());
  ASSERT_TRUE(fs_.SyncDir(dir_).ok());
  ASSERT_TRUE(fs_.DeleteFile(Path("other")).ok()) << "deleted after the directory sync";
  ASSERT_TRUE(PowerLoss(LossMode::kDropUnsynced, 1, DirEntryLoss::kLoseAll).ok());
  EXPECT_FALSE(Exists("seg"));
  EXPECT_EQ(ReadFileBytes(Path("other")), "durable");
}

TEST_F(FaultFileSystemTest, UnsyncedDeletionStaysDeletedWhenEntriesAreKept) {
  { auto file = Prepare("seg", "durable", {}); }
  ASSERT_TRUE(fs_.DeleteFile(Path("seg")).ok());
  ASSERT_TRUE(PowerLoss(LossMode::kDropUnsynced, 1, DirEntryLoss::kKeepAll).ok());
  EXPECT_FALSE(Exists("seg"));
}

TEST_F(FaultFileSystemTest, DeletionOfANeverDurableFileDoesNotComeBack) {
  auto file = Create("seg");
  ASSERT_TRUE(WriteAt(*file, 0, "data").ok());
  ASSERT_TRUE(file->Sync().ok());
  file.reset();
  ASSERT_TRUE(fs_.DeleteFile(Path("seg")).ok());
  ASSERT_TRUE(PowerLoss(LossMode::kDropUnsynced, 1, DirEntryLoss::kLoseAll).ok());
  EXPECT_FALSE(Exists("seg"));
}

TEST_F(FaultFileSystemTest, DeletedFileComesBackUnderItsDurableName) {
  { auto file = Prepare("seg-1", "old", {}); }
  ASSERT_TRUE(fs_.RenameFile(Path("seg-1"), Path("seg-5")).ok());
  ASSERT_TRUE(fs_.DeleteFile(Path("seg-5")).ok());
  ASSERT_TRUE(PowerLoss(LossMode::kDropUnsynced, 1, DirEntryLoss::kLoseAll).ok());
  EXPECT_EQ(ReadFileBytes(Path("seg-1")), "old");
  EXPECT_FALSE(Exists("seg-5"));
}

TEST_F(FaultFileSystemTest, RestoredDeletionNeverDisplacesAFileThatStays) {
  // Delete "seg", create a new "seg": after the loss it is the new one, the
  // old one, or none, never a mix.
  std::set<std::string> outcomes;
  for (std::uint64_t seed = 1; seed <= 30; ++seed) {
    { auto file = Prepare("seg", "old", {}); }
    ASSERT_TRUE(fs_.DeleteFile(Path("seg")).ok());
    auto file = Create("seg");
    ASSERT_TRUE(WriteAt(*file, 0, "new").ok());
    ASSERT_TRUE(file->Sync().ok());
    file.reset();
    ASSERT_TRUE(PowerLoss(LossMode::kDropUnsynced, seed, DirEntryLoss::kRandom).ok());
    const std::string outcome = Exists("seg") ? ReadFileBytes(Path("seg")) : "(none)";
    EXPECT_TRUE(outcome == "new" || outcome == "old" || outcome == "(none)") << "seed " << seed << ": " << outcome;
    outcomes.insert(outcome);
    std::filesystem::remove(Path("seg"));
  }
  EXPECT_EQ(outcomes, (std::set<std::string>{"new", "old", "(none)"}));
}

}  // namespace
}  // namespace shardwal
