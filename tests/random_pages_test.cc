// SPDX-License-Identifier: Apache-2.0
// FaultInjectionFileSystem's page- and sector-level power losses:
// kRandomPages keeps any subset of a write's unsynced pages (a later page
// without an earlier one), never touches synced bytes, restores old bytes
// under undone overwrites; kTornSector mixes new and old bytes inside one
// sector.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <set>
#include <string>

#include "tests/fault_fs_fixture.h"

namespace shardwal {
namespace {

using namespace fs_test;

// The pages of `content`, each as the one byte it is filled with, or '?'
// when it mixes bytes.
std::string PageFills(const std::string& content) {
  std::string fills;
  for (std::size_t at = 0; at < content.size(); at += kPage) {
    const std::string page = content.substr(at, kPage);
    fills += page.find_first_not_of(page[0]) == std::string::npos ? page[0] : '?';
  }
  return fills;
}

TEST_F(FaultFileSystemTest, RandomPagesKeepAnySubsetOfAWritesPages) {
  // One unsynced write of four pages, 'a' to 'd', into an empty file: each
  // page survives or reads as zeros, the file ends with its last kept page,
  // and a later page can survive where an earlier one did not.
  const std::string data = std::string(kPage, 'a') + std::string(kPage, 'b') + std::string(kPage, 'c') +
                           std::string(kPage, 'd');
  bool non_prefix = false;
  std::set<std::string> outcomes;
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    const std::string name = "seg" + std::to_string(seed);
    auto file = Prepare(name, "", {data});
    ASSERT_TRUE(PowerLoss(LossMode::kRandomPages, seed).ok());
    const std::string fills = PageFills(ReadFileBytes(Path(name)));
    ASSERT_LE(fills.size(), 4u) << "seed " << seed;
    for (std::size_t page = 0; page < fills.size(); ++page) {
      EXPECT_TRUE(fills[page] == "abcd"[page] || fills[page] == '\0') << "seed " << seed << " page " << page;
    }
    if (!fills.empty()) {
      EXPECT_NE(fills.back(), '\0') << "seed " << seed << ": the file ends with a kept page";
    }
    if (fills.find('\0') != std::string::npos) non_prefix = true;  // a lost page below a kept one
    outcomes.insert(fills);
  }
  EXPECT_TRUE(non_prefix) << "some loss keeps a later page but not an earlier one";
  EXPECT_GT(outcomes.size(), 4u);
}

TEST_F(FaultFileSystemTest, RandomPagesNeverTouchSyncedBytes) {
  // The synced bytes end inside page 1, which the unsynced append shares.
  const std::string synced(kPage + 1000, 's'), unsynced(3 * kPage, 'u');
  std::set<std::size_t> sizes;
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    const std::string name = "seg" + std::to_string(seed);
    Prepare(name, synced, {unsynced});
    ASSERT_TRUE(PowerLoss(LossMode::kRandomPages, seed).ok());
    const std::string content = ReadFileBytes(Path(name));
    ASSERT_GE(content.size(), synced.size());
    EXPECT_EQ(content.substr(0, synced.size()), synced) << "seed " << seed;
    // Every page part of the append is all 'u' or all zeros.
    for (std::size_t at = synced.size(); at < content.size();) {
      const std::size_t end = std::min(content.size(), (at / kPage + 1) * kPage);
      const std::string part = content.substr(at, end - at);
      EXPECT_TRUE(part == std::string(part.size(), 'u') || part == std::string(part.size(), '\0'))
          << "seed " << seed << " at " << at;
      at = end;
    }
    sizes.insert(content.size());
  }
  EXPECT_GT(sizes.size(), 1u);
}

TEST_F(FaultFileSystemTest, RandomPagesRestoreOldBytesUnderOverwrites) {
  // A recycled file: three durable pages of 'o', overwritten (unsynced) with
  // 'n', then the first half of page 1 with 'm'. Each byte ends as its
  // newest kept write's, or as what lay under the undone ones; the size
  // stays. In page 1 that is m|n, m|o (the older write undone under a kept
  // newer one), n|n or o|o.
  const std::string old(3 * kPage, 'o');
  const std::size_t half = kPage / 2;
  auto halves = [&](char first, char second) { return std::string(half, first) + std::string(half, second); };
  const std::set<std::string> allowed_page1 = {halves('m', 'n'), halves('m', 'o'), halves('n', 'n'), halves('o', 'o')};
  std::set<std::string> page1;
  for (std::uint64_t seed = 1; seed <= 60; ++seed) {
    const std::string name = "seg" + std::to_string(seed);
    auto file = Prepare(name, old, {});
    ASSERT_TRUE(WriteAt(*file, 0, std::string(3 * kPage, 'n')).ok());
    ASSERT_TRUE(WriteAt(*file, kPage, std::string(half, 'm')).ok());
    ASSERT_TRUE(PowerLoss(LossMode::kRandomPages, seed).ok());
    const std::string content = ReadFileBytes(Path(name));
    ASSERT_EQ(content.size(), old.size()) << "seed " << seed;
    const std::string fills = PageFills(content);
    EXPECT_TRUE(fills[0] == 'n' || fills[0] == 'o') << "seed " << seed;
    EXPECT_TRUE(fills[2] == 'n' || fills[2] == 'o') << "seed " << seed;
    EXPECT_TRUE(allowed_page1.contains(content.substr(kPage, kPage))) << "seed " << seed;
    page1.insert(content.substr(kPage, kPage));
  }
  EXPECT_EQ(page1, allowed_page1) << "every combination shows up";
}

TEST_F(FaultFileSystemTest, RandomPagesKeepOrLoseASizeChangeAsAWhole) {
  // Allocate four pages, then write page 2: the allocation decides the
  // size unless only the page survives, which makes the file end with it.
  std::set<std::string> outcomes;
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    const std::string name = "seg" + std::to_string(seed);
    auto file = Prepare(name, "", {});
    ASSERT_TRUE(file->Allocate(0, 4 * kPage).ok());
    ASSERT_TRUE(WriteAt(*file, 2 * kPage, std::string(kPage, 'x')).ok());
    ASSERT_TRUE(PowerLoss(LossMode::kRandomPages, seed).ok());
    const std::string fills = PageFills(ReadFileBytes(Path(name)));
    const std::set<std::string> allowed = {"", std::string(2, '\0') + "x", std::string(4, '\0'),
                                           std::string(2, '\0') + "x" + std::string(1, '\0')};
    EXPECT_TRUE(allowed.contains(fills)) << "seed " << seed << ": " << fills.size() << " pages";
    outcomes.insert(fills);
  }
  EXPECT_EQ(outcomes.size(), 4u) << "every combination shows up";
}

// Where `content` stops matching `fresh` at or after `from`.
std::size_t MismatchFrom(const std::string& content, const std::string& fresh, std::size_t from) {
  std::size_t at = from;
  while (at < content.size() && at - from < fresh.size() && content[at] == fresh[at - from]) ++at;
  return at;
}

TEST_F(FaultFileSystemTest, TornSectorMixesNewAndOldBytesInOneSector) {
  // An unsynced overwrite of [100, 1600) over durable bytes: the new bytes
  // stop strictly inside a sector, the old ones follow, the size stays.
  const std::string old(2048, 'o'), fresh(1500, 'n');
  std::set<std::size_t> torn_sectors;
  for (std::uint64_t seed = 1; seed <= 30; ++seed) {
    const std::string name = "seg" + std::to_string(seed);
    auto file = Prepare(name, old, {});
    ASSERT_TRUE(WriteAt(*file, 100, fresh).ok());
    ASSERT_TRUE(PowerLoss(LossMode::kTornSector, seed).ok());
    const std::string content = ReadFileBytes(Path(name));
    const std::size_t tear = MismatchFrom(content, fresh, 100);
    EXPECT_GT(tear, 100u) << "seed " << seed << ": at least one new byte in the torn sector";
    EXPECT_LT(tear, 1600u) << "seed " << seed << ": the write is torn";
    EXPECT_NE(tear % kSector, 0u) << "seed " << seed << ": the tear lies inside a sector";
    EXPECT_EQ(content, old.substr(0, 100) + fresh.substr(0, tear - 100) + old.substr(tear)) << "seed " << seed;
    torn_sectors.insert(tear / kSector);
  }
  EXPECT_GT(torn_sectors.size(), 1u) << "the torn sector is random";
}

TEST_F(FaultFileSystemTest, TornSectorAppendEndsWithItsSectorZeroFilled) {
  // An append of [100, 1100): the file ends where the torn sector's part of
  // the write does, new bytes then zeros; nothing after that sector stays.
  const std::string synced(100, 's'), fresh(1000, 'n');
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    const std::string name = "seg" + std::to_string(seed);
    Prepare(name, synced, {fresh});
    ASSERT_TRUE(PowerLoss(LossMode::kTornSector, seed).ok());
    const std::string content = ReadFileBytes(Path(name));
    const std::size_t tear = MismatchFrom(content, fresh, 100);
    ASSERT_NE(tear % kSector, 0u) << "seed " << seed;
    const std::size_t sector_end = std::min<std::size_t>(1100, (tear / kSector + 1) * kSector);
    EXPECT_EQ(content, synced + fresh.substr(0, tear - 100) + std::string(sector_end - tear, '\0'))
        << "seed " << seed;
  }
}

TEST_F(FaultFileSystemTest, TornSectorKeepsEarlierWritesAndFullySyncedFiles) {
  Prepare("synced", "all synced", {});
  auto file = Prepare("seg", std::string(20, 'o'), {});
  ASSERT_TRUE(WriteAt(*file, 0, "AAAA").ok());
  ASSERT_TRUE(WriteAt(*file, 10, "BBBB").ok());
  ASSERT_TRUE(PowerLoss(LossMode::kTornSector).ok());
  EXPECT_EQ(ReadFileBytes(Path("synced")), "all synced");
  const std::string content = ReadFileBytes(Path("seg"));
  ASSERT_EQ(content.size(), 20u);
  EXPECT_EQ(content.substr(0, 10), "AAAAoooooo") << "the write before the last one survives";
  EXPECT_NE(content.substr(10, 4), "BBBB") << "the last one is torn";
  EXPECT_EQ(content.substr(14), "oooooo");
}

}  // namespace
}  // namespace shardwal
