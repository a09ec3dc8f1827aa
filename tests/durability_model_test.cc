// SPDX-License-Identifier: Apache-2.0
// What FaultInjectionFileSystem's power loss keeps of a file's bytes: the
// unsynced bytes dropped, a random prefix of them, or the last write torn;
// overwrites of synced bytes undone, allocations kept only once synced, and
// a shrinking truncate durable at once.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <set>
#include <string>

#include "tests/fault_fs_fixture.h"

namespace shardwal {
namespace {

using namespace fs_test;

TEST_F(FaultFileSystemTest, PowerLossDropsUnsyncedBytes) {
  const std::string synced(100, 's');
  Prepare("seg", synced, {std::string(50, 'u')});
  EXPECT_EQ(fs_.SyncedBytes(Path("seg")), 100u);
  ASSERT_TRUE(PowerLoss(LossMode::kDropUnsynced).ok());
  EXPECT_EQ(ReadFileBytes(Path("seg")), synced);
  EXPECT_EQ(fs_.SyncedBytes(Path("seg")), 0u) << "tracking is forgotten";
}

TEST_F(FaultFileSystemTest, PowerLossKeepsRandomPrefixOfUnsyncedBytes) {
  const std::string synced(100, 's');
  const std::string unsynced = std::string(60, 'u') + std::string(40, 'v');
  std::set<std::size_t> lengths;
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    const std::string name = "seg" + std::to_string(seed);
    Prepare(name, synced, {unsynced.substr(0, 60), unsynced.substr(60)});
    ASSERT_TRUE(PowerLoss(LossMode::kKeepRandomPrefix, seed).ok());
    std::string content = ReadFileBytes(Path(name));
    ASSERT_GE(content.size(), synced.size());
    ASSERT_LE(content.size(), synced.size() + unsynced.size());
    EXPECT_EQ(content, (synced + unsynced).substr(0, content.size()));
    lengths.insert(content.size());
  }
  EXPECT_GT(lengths.size(), 1u) << "the surviving prefix is random";
}

TEST_F(FaultFileSystemTest, PowerLossTearsTheLastWrite) {
  const std::string synced(100, 's'), second(30, 'b'), last(50, 'c');
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    const std::string name = "seg" + std::to_string(seed);
    Prepare(name, synced, {second, last});
    ASSERT_TRUE(PowerLoss(LossMode::kTearLastWrite, seed).ok());
    std::string content = ReadFileBytes(Path(name));
    ASSERT_GE(content.size(), synced.size() + second.size()) << "writes before the last survive";
    ASSERT_LT(content.size(), synced.size() + second.size() + last.size()) << "the last write is torn";
    EXPECT_EQ(content, (synced + second + last).substr(0, content.size()));
  }
}

TEST_F(FaultFileSystemTest, TearLastWriteKeepsFullySyncedFile) {
  Prepare("seg", "all synced", {});
  ASSERT_TRUE(PowerLoss(LossMode::kTearLastWrite).ok());
  EXPECT_EQ(ReadFileBytes(Path("seg")), "all synced");
}

TEST_F(FaultFileSystemTest, ReopenedFileCountsItsSizeAsSynced) {
  {
    auto file = FileSystem::Default()->NewWritableFile(Path("seg"));
    ASSERT_TRUE(file.ok());
    ASSERT_TRUE(WriteAt(**file, 0, "0123456789").ok());
  }
  auto file = fs_.ReopenWritableFile(Path("seg"));
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(fs_.SyncedBytes(Path("seg")), 10u);
  ASSERT_TRUE(WriteAt(**file, 10, "abc").ok());
  ASSERT_TRUE(PowerLoss(LossMode::kDropUnsynced).ok());
  EXPECT_EQ(ReadFileBytes(Path("seg")), "0123456789") << "a reopened file's entry is not lost either";
}

// ---------------------------------------------------------------- overwrites, preallocation

TEST_F(FaultFileSystemTest, PowerLossRestoresOverwrittenSyncedBytes) {
  auto file = Prepare("seg", "0123456789", {});
  ASSERT_TRUE(WriteAt(*file, 0, "abcd").ok());
  ASSERT_TRUE(WriteAt(*file, 8, "XYZW").ok()) << "overwrites the end and grows the file";
  ASSERT_TRUE(WriteAt(*file, 2, "!!").ok()) << "overwrites an unsynced overwrite";
  EXPECT_EQ(ReadFileBytes(Path("seg")), "ab!!4567XYZW");
  EXPECT_EQ(fs_.SyncedBytes(Path("seg")), 10u);
  ASSERT_TRUE(PowerLoss(LossMode::kDropUnsynced).ok());
  EXPECT_EQ(ReadFileBytes(Path("seg")), "0123456789");
}

TEST_F(FaultFileSystemTest, SyncMakesOverwritesDurable) {
  auto file = Prepare("seg", "0123456789", {});
  ASSERT_TRUE(WriteAt(*file, 0, "abcd").ok());
  ASSERT_TRUE(file->Sync().ok());
  ASSERT_TRUE(WriteAt(*file, 4, "efgh").ok());
  ASSERT_TRUE(PowerLoss(LossMode::kDropUnsynced).ok());
  EXPECT_EQ(ReadFileBytes(Path("seg")), "abcd456789");
}

TEST_F(FaultFileSystemTest, UnsyncedAllocationIsLost) {
  auto file = Prepare("seg", "hdr", {});
  ASSERT_TRUE(file->Allocate(0, 64 << 10).ok());
  EXPECT_EQ(std::filesystem::file_size(Path("seg")), 64u << 10);
  EXPECT_EQ(fs_.SyncedBytes(Path("seg")), 3u);
  ASSERT_TRUE(WriteAt(*file, 3, "data").ok());
  ASSERT_TRUE(PowerLoss(LossMode::kDropUnsynced).ok());
  EXPECT_EQ(ReadFileBytes(Path("seg")), "hdr");
}

TEST_F(FaultFileSystemTest, SyncedAllocationIsDurable) {
  auto file = Prepare("seg", "", {});
  ASSERT_TRUE(file->Allocate(0, 64 << 10).ok());
  ASSERT_TRUE(file->Sync().ok());
  EXPECT_EQ(fs_.SyncedBytes(Path("seg")), 64u << 10);
  ASSERT_TRUE(WriteAt(*file, 0, "data").ok()) << "into the zero-filled range";
  ASSERT_TRUE(PowerLoss(LossMode::kDropUnsynced).ok());
  EXPECT_EQ(ReadFileBytes(Path("seg")), std::string(64 << 10, '\0')) << "the size stays, the write into it is lost";
}

TEST_F(FaultFileSystemTest, AllocationInsideTheFileChangesNothing) {
  auto file = Prepare("seg", "0123456789", {});
  ASSERT_TRUE(file->Allocate(2, 4).ok());
  ASSERT_TRUE(PowerLoss(LossMode::kKeepRandomPrefix).ok());
  EXPECT_EQ(ReadFileBytes(Path("seg")), "0123456789");
}

TEST_F(FaultFileSystemTest, RandomPrefixOfPreallocatedWrites) {
  // Allocate, then fill from the front: what survives is nothing, or the
  // allocation plus a prefix of the data (the rest reading as zeros).
  const std::string data = std::string(100, 'a') + std::string(100, 'b');
  std::set<std::size_t> kept_data;
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    const std::string name = "seg" + std::to_string(seed);
    auto file = Prepare(name, "", {});
    ASSERT_TRUE(file->Allocate(0, 4096).ok());
    ASSERT_TRUE(WriteAt(*file, 0, data.substr(0, 100)).ok());
    ASSERT_TRUE(WriteAt(*file, 100, data.substr(100)).ok());
    ASSERT_TRUE(PowerLoss(LossMode::kKeepRandomPrefix, seed).ok());
    std::string content = ReadFileBytes(Path(name));
    if (content.empty()) continue;  // the allocation did not survive
    ASSERT_EQ(content.size(), 4096u) << "seed " << seed;
    const std::size_t n = content.find_first_not_of("ab");
    ASSERT_LE(n, data.size());
    EXPECT_EQ(content.substr(0, n), data.substr(0, n)) << "seed " << seed;
    EXPECT_EQ(content.substr(n), std::string(4096 - n, '\0')) << "seed " << seed;
    kept_data.insert(n);
  }
  EXPECT_GT(kept_data.size(), 1u) << "the surviving prefix is random";
}

TEST_F(FaultFileSystemTest, RandomPrefixOfOverlappingOverwrites) {
  // Two unsynced writes, the second over part of the first, on top of
  // durable bytes: every outcome is "A's first k bytes" or "all of A, then
  // B's first k bytes", each over the old content.
  const std::string old(100, 'o'), a(40, 'a'), b(40, 'b');
  std::set<std::string> allowed;
  for (std::size_t k = 0; k <= a.size(); ++k) allowed.insert(a.substr(0, k) + old.substr(k));
  const std::string with_a = a + old.substr(a.size());
  for (std::size_t k = 0; k <= b.size(); ++k) allowed.insert(with_a.substr(0, 30) + b.substr(0, k) + with_a.substr(30 + k));
  std::set<std::string> seen;
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    const std::string name = "seg" + std::to_string(seed);
    auto file = Prepare(name, old, {});
    ASSERT_TRUE(WriteAt(*file, 0, a).ok());
    ASSERT_TRUE(WriteAt(*file, 30, b).ok());
    ASSERT_TRUE(PowerLoss(LossMode::kKeepRandomPrefix, seed).ok());
    std::string content = ReadFileBytes(Path(name));
    EXPECT_TRUE(allowed.contains(content)) << "seed " << seed << ": " << content;
    seen.insert(content);
  }
  EXPECT_GT(seen.size(), 1u);
}

TEST_F(FaultFileSystemTest, TornOverwriteKeepsNewPrefixThenOldBytes) {
  const std::string old(100, 'o'), fresh(50, 'n');
  std::set<std::size_t> torn_at;
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    const std::string name = "seg" + std::to_string(seed);
    auto file = Prepare(name, old, {});
    ASSERT_TRUE(WriteAt(*file, 10, fresh).ok());
    ASSERT_TRUE(PowerLoss(LossMode::kTearLastWrite, seed).ok());
    std::string content = ReadFileBytes(Path(name));
    ASSERT_EQ(content.size(), old.size()) << "an overwrite does not change the size";
    const std::size_t k = content.find_first_not_of('n', 10) - 10;
    ASSERT_LT(k, fresh.size()) << "the write is torn";
    EXPECT_EQ(content, old.substr(0, 10) + fresh.substr(0, k) + old.substr(10 + k)) << "seed " << seed;
    torn_at.insert(k);
  }
  EXPECT_GT(torn_at.size(), 1u) << "the tear is random";
}

TEST_F(FaultFileSystemTest, TearLastWriteKeepsEarlierOverwrites) {
  auto file = Prepare("seg", std::string(20, 'o'), {});
  ASSERT_TRUE(WriteAt(*file, 0, "AAAA").ok());
  ASSERT_TRUE(WriteAt(*file, 10, "BBBB").ok());
  ASSERT_TRUE(PowerLoss(LossMode::kTearLastWrite).ok());
  std::string content = ReadFileBytes(Path("seg"));
  ASSERT_EQ(content.size(), 20u);
  EXPECT_EQ(content.substr(0, 10), "AAAAoooooo") << "the write before the last one survives";
  EXPECT_NE(content.substr(10, 4), "BBBB") << "the last one is torn";
  EXPECT_EQ(content.substr(14), "oooooo");
}

TEST_F(FaultFileSystemTest, ShrinkingTruncateIsDurableAtOnce) {
  auto file = Prepare("seg", std::string(100, 'o'), {});
  ASSERT_TRUE(WriteAt(*file, 0, std::string(10, 'n')).ok());
  ASSERT_TRUE(WriteAt(*file, 100, std::string(10, 'x')).ok());
  ASSERT_TRUE(file->Truncate(50).ok());
  EXPECT_EQ(fs_.SyncedBytes(Path("seg")), 50u);
  ASSERT_TRUE(PowerLoss(LossMode::kDropUnsynced).ok());
  EXPECT_EQ(ReadFileBytes(Path("seg")), std::string(50, 'o')) << "the overwrite is undone, the cut bytes stay cut";
}

}  // namespace
}  // namespace shardwal
