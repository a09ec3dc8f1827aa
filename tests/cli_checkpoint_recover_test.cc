// SPDX-License-Identifier: Apache-2.0
// `shardwal checkpoint` and `shardwal recover` on copies of the ToolsTest
// WAL (tests/tools_fixture.h): a checkpoint releases segments and replay
// starts after it; recover in point-in-time mode after damage leaves a clean
// prefix; both keep the WAL's own settings.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <string>

#include "tests/tools_fixture.h"

namespace shardwal {
namespace {

using namespace tools_test;
namespace stdfs = std::filesystem;

TEST_F(ToolsTest, CheckpointReleasesSegments) {
  const std::string wal = CopyWal("cp");
  const std::size_t before = CountSegments(wal);
  const Lsn lsn = N() * 2 / 3;
  const CliResult r = Cli("checkpoint --recycle 0 --json " + Quote(wal) + " " + std::to_string(lsn));
  ASSERT_EQ(r.code, 0) << Describe(r);
  const json j = json::parse(r.out);
  EXPECT_EQ(j["checkpoint_lsn"].get<Lsn>(), lsn);
  EXPECT_EQ(j["segment_files_before"].get<std::uint64_t>(), before);
  EXPECT_LT(j["segment_files_after"].get<std::uint64_t>(), before);
  EXPECT_GT(j["segments_released"].get<std::uint64_t>(), 0u);
  EXPECT_EQ(CountSegments(wal), j["segment_files_after"].get<std::uint64_t>());  // deleted (no recycling)

  const json s = json::parse(Cli("stats --json " + Quote(wal)).out);
  EXPECT_EQ(s["checkpoint_lsn"].get<Lsn>(), lsn);
  EXPECT_EQ(s["records"].get<std::uint64_t>(), N() - lsn);
  EXPECT_EQ(s["first_lsn"].get<Lsn>(), lsn + 1);
  EXPECT_EQ(s["cut_lsn"].get<Lsn>(), N());
  const auto lines = JsonLines(Cli("dump --json " + Quote(wal)).out);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.front()["lsn"].get<Lsn>(), lsn + 1);
  EXPECT_EQ(lines.back()["lsn"].get<Lsn>(), N());
  EXPECT_EQ(Cli("verify " + Quote(wal)).code, 0);

  // Text output; recycling keeps released segments for reuse.
  const std::string wal2 = CopyWal("cp2");
  const CliResult t = Cli("checkpoint " + Quote(wal2) + " " + std::to_string(lsn));
  ASSERT_EQ(t.code, 0) << Describe(t);
  EXPECT_NE(t.out.find("checkpoint " + wal2 + " at LSN " + std::to_string(lsn)), std::string::npos) << t.out;
  EXPECT_NE(t.out.find(" segment files; released "), std::string::npos) << t.out;

  // An LSN never assigned; a replay bound below the checkpoint.
  const CliResult bad = Cli("checkpoint " + Quote(wal) + " " + std::to_string(N() + 1000));
  EXPECT_EQ(bad.code, 1) << Describe(bad);
  EXPECT_NE(bad.err.find("never assigned"), std::string::npos) << bad.err;
  const CliResult below = Cli("replay " + Quote(wal) + " --until-lsn 5 --out " + Quote(dir_.Sub("x.swx")));
  EXPECT_EQ(below.code, 1) << Describe(below);
  EXPECT_NE(below.err.find("below the checkpoint"), std::string::npos) << below.err;
  // Replay starts after the checkpoint.
  const std::string out = dir_.Sub("after-cp.swx");
  ASSERT_EQ(Cli("replay " + Quote(wal) + " --until-lsn " + std::to_string(N()) + " --out " + Quote(out)).code, 0);
  const Export e = ParseExport(out);
  EXPECT_EQ(e.checkpoint_lsn, lsn);
  ASSERT_EQ(e.records.size(), N() - lsn);
  EXPECT_EQ(e.records.front().lsn, lsn + 1);
}

TEST_F(ToolsTest, RecoverPointInTimeAfterDamage) {
  const std::string wal = CopyWal("damaged");
  const std::string file = FlipMiddleByte(wal, BusiestShard(wal));
  const auto before = Snapshot(wal);
  const CliResult fail = Cli("recover " + Quote(wal));
  ASSERT_EQ(fail.code, 1) << Describe(fail);
  EXPECT_NE(fail.err.find("Corruption"), std::string::npos) << fail.err;
  EXPECT_NE(fail.err.find(file), std::string::npos) << fail.err;
  // A failed recovery changes no segment (Open takes the LOCK files, already there).
  EXPECT_TRUE(Snapshot(wal) == before);

  const CliResult r = Cli("recover --mode point-in-time " + Quote(wal));
  ASSERT_EQ(r.code, 0) << Describe(r);
  EXPECT_EQ(r.out.rfind("recovered ", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("mode point-in-time"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("corruption in shard"), std::string::npos) << r.out;

  // What is left is clean, and a prefix of what was written.
  const CliResult v = Cli("verify " + Quote(wal));
  EXPECT_EQ(v.code, 0) << Describe(v);
  const auto lines = JsonLines(Cli("dump --json --payload hex " + Quote(wal)).out);
  ASSERT_FALSE(lines.empty());
  EXPECT_LT(lines.size(), N());
  for (std::size_t i = 0; i < lines.size(); ++i) {
    ASSERT_EQ(lines[i]["lsn"].get<Lsn>(), i + 1);
    if (!lines[i].contains("tag_hex")) {
      EXPECT_EQ(lines[i]["tag"], (*written_)[i].tag);
    }
  }
  const json s = json::parse(Cli("stats --json " + Quote(wal)).out);
  EXPECT_EQ(s["cut_lsn"].get<Lsn>(), lines.size());
  EXPECT_EQ(s["epoch"].get<std::uint32_t>(), 2u);

  // recover on a clean WAL succeeds and keeps everything.
  const std::string clean = CopyWal("clean");
  const CliResult c = Cli("recover --json " + Quote(clean));
  ASSERT_EQ(c.code, 0) << Describe(c);
  EXPECT_EQ(json::parse(c.out)["cut_lsn"].get<Lsn>(), N());
}

// Before: checkpoint and recover opened a WAL of 64 KiB segments with the
// library's defaults, growing it from 1.4 MB to 194 MB.
TEST_F(ToolsTest, CheckpointAndRecoverKeepTheWalsSettings) {
  const std::string wal = CopyWal("settings");  // 64 KiB segments, 3 shards
  std::uintmax_t largest = 0;
  auto largest_segment = [&] {
    std::uintmax_t m = 0;
    for (std::uint32_t s = 0; s < kShards; ++s) {
      for (const auto& seg : testing::SegmentFiles(testing::ShardDir(wal, s))) m = std::max(m, stdfs::file_size(seg));
    }
    return m;
  };
  largest = largest_segment();
  ASSERT_LE(largest, 64u << 10);
  const CliResult c = Cli("checkpoint " + Quote(wal) + " " + std::to_string(N() / 2));
  ASSERT_EQ(c.code, 0) << Describe(c);
  const CliResult r = Cli("recover " + Quote(wal));
  ASSERT_EQ(r.code, 0) << Describe(r);
  EXPECT_LE(largest_segment(), 64u << 10) << "a segment grew past the WAL's segment size";
  // Still three shards: nothing resharded it.
  const json st = json::parse(Cli("stats --json " + Quote(wal)).out);
  EXPECT_EQ(st["shards"].size(), kShards);
}

}  // namespace
}  // namespace shardwal
