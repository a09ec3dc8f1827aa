// SPDX-License-Identifier: Apache-2.0
// FaultInjectionFileSystem's whole-directory faults, the devices of the
// device-loss tests: a directory lost, emptied (a mount point without its
// device), snapshotted and restored to an older copy.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "tests/fault_fs_fixture.h"

namespace shardwal {
namespace {

using namespace fs_test;

TEST_F(FaultFileSystemTest, LoseDirectoryRemovesItAndForgetsItsTracking) {
  ASSERT_TRUE(fs_.CreateDirs(Path("dev/shard-0")).ok());
  auto file = Create("dev/shard-0/seg");  // an unsynced creation
  ASSERT_TRUE(WriteAt(*file, 0, "data").ok());
  file.reset();
  { auto other = Prepare("keep", "durable", {}); }
  ASSERT_TRUE(fs_.LoseDirectory(Path("dev")).ok());
  EXPECT_FALSE(Exists("dev"));
  EXPECT_EQ(fs_.SyncedBytes(Path("dev/shard-0/seg")), 0u);
  ASSERT_TRUE(PowerLoss(LossMode::kDropUnsynced).ok()) << "nothing left to roll back under it";
  EXPECT_FALSE(Exists("dev"));
  EXPECT_EQ(ReadFileBytes(Path("keep")), "durable");
  EXPECT_TRUE(fs_.LoseDirectory(Path("dev")).ok()) << "already gone";
}

TEST_F(FaultFileSystemTest, EmptyDirectoryLeavesAnEmptyMountPoint) {
  ASSERT_TRUE(fs_.CreateDirs(Path("dev/shard-0")).ok());
  { auto file = Prepare("dev/seg", "durable", {}); }
  ASSERT_TRUE(fs_.SyncDir(Path("dev")).ok());
  ASSERT_TRUE(fs_.DeleteFile(Path("dev/seg")).ok()) << "a pending deletion, forgotten with the rest";
  { auto file = Prepare("dev/shard-0/seg", "durable", {"more"}); }
  ASSERT_TRUE(fs_.EmptyDirectory(Path("dev")).ok());
  ASSERT_TRUE(fs_.EmptyDirectory(Path("missing")).ok());
  ASSERT_TRUE(PowerLoss(LossMode::kDropUnsynced).ok());
  for (const std::string dir : {"dev", "missing"}) {
    EXPECT_TRUE(std::filesystem::is_directory(Path(dir))) << dir;
    EXPECT_TRUE(std::filesystem::is_empty(Path(dir))) << dir;
  }
}

TEST_F(FaultFileSystemTest, RestoreDirectoryBringsBackExactlyTheOlderCopy) {
  ASSERT_TRUE(fs_.CreateDirs(Path("wal/shard-0")).ok());
  ASSERT_TRUE(fs_.CreateDirs(Path("wal/empty")).ok());
  { auto file = Prepare("wal/MANIFEST", "v1", {}); }
  { auto file = Prepare("wal/shard-0/seg-1", std::string(3, '\0') + "one", {}); }
  auto snapshot = fs_.SnapshotDirectory(Path("wal"));
  ASSERT_TRUE(snapshot.ok()) << snapshot.status().ToString();
  EXPECT_EQ(snapshot->subdirs, (std::vector<std::string>{"empty", "shard-0"}));
  EXPECT_EQ(snapshot->files.size(), 2u);

  // Newer state: overwritten, deleted, created.
  {
    auto manifest = fs_.ReopenWritableFile(Path("wal/MANIFEST"));
    ASSERT_TRUE(manifest.ok());
    ASSERT_TRUE(WriteAt(**manifest, 0, "v2").ok());
  }
  ASSERT_TRUE(fs_.DeleteFile(Path("wal/shard-0/seg-1")).ok());
  { auto file = Prepare("wal/shard-0/seg-2", "two", {}); }
  ASSERT_TRUE(std::filesystem::remove(Path("wal/empty")));

  ASSERT_TRUE(fs_.RestoreDirectory(*snapshot).ok());
  EXPECT_EQ(ReadFileBytes(Path("wal/MANIFEST")), "v1");
  EXPECT_EQ(ReadFileBytes(Path("wal/shard-0/seg-1")), std::string(3, '\0') + "one");
  EXPECT_FALSE(Exists("wal/shard-0/seg-2")) << "created after the snapshot";
  EXPECT_TRUE(std::filesystem::is_directory(Path("wal/empty")));
  ASSERT_TRUE(PowerLoss(LossMode::kDropUnsynced).ok()) << "the restored copy counts as durable";
  EXPECT_EQ(ReadFileBytes(Path("wal/MANIFEST")), "v1");
  EXPECT_EQ(ReadFileBytes(Path("wal/shard-0/seg-1")), std::string(3, '\0') + "one");
}

TEST_F(FaultFileSystemTest, RestoreDirectoryRecreatesALostDirectory) {
  ASSERT_TRUE(fs_.CreateDirs(Path("dev")).ok());
  { auto file = Prepare("dev/seg", "durable", {}); }
  auto snapshot = fs_.SnapshotDirectory(Path("dev"));
  ASSERT_TRUE(snapshot.ok());
  ASSERT_TRUE(fs_.LoseDirectory(Path("dev")).ok());
  ASSERT_TRUE(fs_.RestoreDirectory(*snapshot).ok());
  EXPECT_EQ(ReadFileBytes(Path("dev/seg")), "durable");
}

TEST_F(FaultFileSystemTest, SnapshotOfAMissingDirectoryFails) {
  auto snapshot = fs_.SnapshotDirectory(Path("missing"));
  ASSERT_FALSE(snapshot.ok());
  EXPECT_EQ(snapshot.status().sys_errno(), ENOENT);
  EXPECT_TRUE(Contains(snapshot.status().message(), Path("missing")));
}

}  // namespace
}  // namespace shardwal
