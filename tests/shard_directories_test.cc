// SPDX-License-Identifier: Apache-2.0
// The MANIFEST and the shard directories: a shard directory of another WAL,
// swapped directories and segments without a MANIFEST are refused; the
// MANIFEST records the checkpoint and each shard's first segment
// (docs/design.md, section 14).
// The self-describing records and the Log they are checked against:
// tests/lifecycle_fixture.h.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <regex>
#include <string>
#include <utility>

#include "tests/lifecycle_fixture.h"

namespace shardwal {
namespace {

using namespace lifecycle;
namespace stdfs = std::filesystem;
using testing::ReadFileBytes;

std::string WalIdOf(const std::string& dir) {
  std::smatch m;
  const std::string text = ReadFileBytes(dir + "/MANIFEST");
  return std::regex_search(text, m, std::regex("\"wal_id\":\\s*\"([0-9a-f]{32})\"")) ? m[1].str() : "";
}

TEST(Directories, ShardDirectoryOfAnotherWalIsRefusedNamingBoth) {
  TempDir a, b;
  Log log_a, log_b;
  for (auto [d, log] : {std::pair{&a, &log_a}, std::pair{&b, &log_b}}) {
    auto wal = OpenOrDie(LifeOptions(d->path(), 2));
    ASSERT_TRUE(wal);
    Writer w(*wal, *log, 1);
    ASSERT_TRUE(w.Batch(3, Durability::kGroup).ok());
    ASSERT_TRUE(wal->Close().ok());
  }
  const std::string id_a = WalIdOf(a.path());
  ASSERT_EQ(id_a.size(), 32u);
  Options mixed = LifeOptions(b.path(), 2);
  mixed.shard_dirs = {b.path() + "/shard-0", a.path() + "/shard-1"};
  auto w = Wal::Open(mixed);
  ASSERT_FALSE(w.ok());
  EXPECT_TRUE(w.status().IsInvalidArgument()) << w.status().ToString();
  EXPECT_TRUE(Contains(w.status(), a.path() + "/shard-1")) << w.status().ToString();
  EXPECT_TRUE(Contains(w.status(), id_a)) << w.status().ToString();
  // Neither WAL was harmed.
  for (auto [d, log] : {std::pair{&a, &log_a}, std::pair{&b, &log_b}}) {
    auto wal = OpenOrDie(LifeOptions(d->path(), 2));
    ASSERT_TRUE(wal);
    EXPECT_EQ(CheckRecovered(*wal, *log), "") << d->path();
  }
}

TEST(Directories, SwappedShardDirectoriesAreRefused) {
  TempDir d;
  Options o = LifeOptions(d.path(), 2);
  {
    auto wal = OpenOrDie(o);
    ASSERT_TRUE(wal);
    ASSERT_TRUE(wal->Append("a", "x").ok());
  }
  o.shard_dirs = {d.Sub("shard-1"), d.Sub("shard-0")};
  auto w = Wal::Open(o);
  ASSERT_FALSE(w.ok());
  EXPECT_TRUE(w.status().IsInvalidArgument()) << w.status().ToString();
  EXPECT_TRUE(Contains(w.status(), "swapped")) << w.status().ToString();
}

TEST(Directories, NewWalOverSegmentsWithoutAManifestIsCorruption) {
  TempDir a, c;
  {
    auto wal = OpenOrDie(LifeOptions(a.path(), 2));
    ASSERT_TRUE(wal);
    ASSERT_TRUE(wal->Append("a", "x").ok());
  }
  Options o = LifeOptions(c.path(), 2);
  o.shard_dirs = {c.Sub("shard-0"), a.path() + "/shard-1"};
  auto w = Wal::Open(o);
  ASSERT_FALSE(w.ok());
  EXPECT_TRUE(w.status().IsCorruption()) << w.status().ToString();
  EXPECT_TRUE(Contains(w.status(), a.path() + "/shard-1")) << w.status().ToString();
  // The same WAL directory whose MANIFEST was lost.
  stdfs::remove(a.path() + "/MANIFEST");
  auto again = Wal::Open(LifeOptions(a.path(), 2));
  ASSERT_FALSE(again.ok());
  EXPECT_TRUE(again.status().IsCorruption()) << again.status().ToString();
}

TEST(Directories, ManifestRecordsTheCheckpointAndFirstSegments) {
  TempDir d;
  const Options o = LifeOptions(d.path(), 2);
  auto wal = OpenOrDie(o);
  ASSERT_TRUE(wal);
  Log log;
  Writer w(*wal, log, 1);
  ASSERT_TRUE(w.Fill(kSeg * 7 / 2).ok());
  ASSERT_TRUE(w.Ack().ok());
  const Lsn c = wal->LastLsn() / 2;
  ASSERT_TRUE(w.Checkpoint(c).ok());
  const std::string text = ReadFileBytes(d.path() + "/MANIFEST");
  for (const char* key : {"\"checkpoint_lsn\"", "\"shard_count\"", "\"wal_id\"", "\"first_segment\""}) {
    EXPECT_TRUE(Contains(text, key)) << key << " missing from\n" << text;
  }
  std::smatch m;
  ASSERT_TRUE(std::regex_search(text, m, std::regex("\"checkpoint_lsn\":\\s*(\\d+)"))) << text;
  EXPECT_EQ(std::stoull(m[1].str()), c);
  // "shards" names each shard directory (relative) with its lowest segment
  // still held (first_segment).
  for (std::uint32_t s = 0; s < 2; ++s) {
    const auto segs = ListSegments(ShardDir(o, s));
    ASSERT_FALSE(segs.empty());
    ASSERT_TRUE(std::regex_search(
        text, m, std::regex("\"shard-" + std::to_string(s) + "\":\\s*\\{[^}]*\"first_segment\":\\s*(\\d+)")))
        << "no first_segment entry for shard-" << s << " in\n" << text;
    EXPECT_EQ(std::stoull(m[1].str()), segs.front().seq) << "shard " << s;
    EXPECT_GT(segs.front().seq, 1u) << "shard " << s;
  }
  ASSERT_TRUE(wal->Close().ok());
}

}  // namespace
}  // namespace shardwal
