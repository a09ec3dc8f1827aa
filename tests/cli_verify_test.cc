// SPDX-License-Identifier: Apache-2.0
// `shardwal verify`, run as the real binary against copies of the ToolsTest
// WAL (tests/tools_fixture.h): a clean WAL in every mode, a torn tail after
// a crash (tolerated) and one of acknowledged records (damage), a flipped
// byte named by shard, file and offset, a damaged or lost MANIFEST.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include "tests/tools_fixture.h"

namespace shardwal {
namespace {

using namespace tools_test;
namespace stdfs = std::filesystem;

TEST_F(ToolsTest, VerifyCleanWal) {
  const CliResult r = Cli("verify " + Quote(wal_));
  ASSERT_EQ(r.code, 0) << Describe(r);
  EXPECT_NE(r.out.find("anomalies: none"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("result: clean"), std::string::npos) << r.out;

  const CliResult j = Cli("verify --json " + Quote(wal_));
  ASSERT_EQ(j.code, 0) << Describe(j);
  const json v = json::parse(j.out);
  EXPECT_TRUE(v["clean"].get<bool>());
  EXPECT_TRUE(v["error"].is_null());
  EXPECT_EQ(v["cut_lsn"].get<Lsn>(), N());
  EXPECT_EQ(v["records"].get<std::uint64_t>(), N());
  EXPECT_EQ(v["mode"], "tolerate-torn-tail");
  ASSERT_EQ(v["shards"].size(), kShards);
  std::uint64_t sum = 0;
  for (const auto& s : v["shards"]) sum += s["records"].get<std::uint64_t>();
  EXPECT_EQ(sum, N());
  EXPECT_TRUE(v["anomalies"].empty());
  // Every mode accepts a clean WAL.
  for (const char* mode : {"absolute", "point-in-time", "salvage"}) {
    EXPECT_EQ(Cli("verify --mode " + std::string(mode) + " " + Quote(wal_)).code, 0) << mode;
  }
}

// A WAL that crashed with an unsynced tail, the last batch of its busiest
// shard torn (cut 10 bytes short): what a crash during that write leaves.
// Returns that segment's path.
std::string CrashedWithTornTail(const std::string& wal, std::uint32_t* shard, Lsn* acked) {
  Options o;
  o.dir = wal;
  o.num_shards = kShards;
  o.segment_bytes = 64u << 10;
  o.preallocation = Preallocation::kNone;
  constexpr int kAcked = 400, kUnacked = 60;
  testing::CrashAfterUnsyncedTail(o, kAcked, kUnacked);
  *acked = kAcked;
  *shard = BusiestShard(wal);
  // Its last segment with data (the prepared next one is empty).
  auto segs = testing::SegmentFiles(testing::ShardDir(wal, *shard));
  while (!segs.empty() && stdfs::file_size(segs.back()) == 0) segs.pop_back();
  EXPECT_FALSE(segs.empty());
  if (segs.empty()) return {};
  testing::ShrinkFileBy(segs.back(), 10);
  return segs.back();
}

TEST_F(ToolsTest, VerifyReportsTornTailAsClean) {
  std::uint32_t shard = 0;
  Lsn acked = 0;
  const std::string wal = dir_.Sub("torn");
  const std::string file = CrashedWithTornTail(wal, &shard, &acked);
  const CliResult r = Cli("verify " + Quote(wal));
  ASSERT_EQ(r.code, 0) << Describe(r);
  EXPECT_NE(r.out.find("[tolerated] torn tail in shard " + std::to_string(shard) + " " + file), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("result: clean"), std::string::npos) << r.out;

  const json v = json::parse(Cli("verify --json " + Quote(wal)).out);
  EXPECT_TRUE(v["clean"].get<bool>());
  // The torn tail, and the empty segment each shard had prepared when the
  // crash came: every one tolerated.
  bool torn = false;
  for (const json& a : v["anomalies"]) {
    EXPECT_TRUE(a["benign"].get<bool>()) << a.dump();
    if (a["file"] != file) continue;
    torn = true;
    EXPECT_EQ(a["kind"], "torn tail");
    EXPECT_EQ(a["shard"].get<std::uint32_t>(), shard);
    EXPECT_GT(a["offset"].get<std::uint64_t>(), 0u);
    EXPECT_GT(a["last_good_lsn"].get<Lsn>(), 0u);
  }
  EXPECT_TRUE(torn) << v.dump(2);
  // Everything acknowledged is kept; the torn batch (never acknowledged) is not.
  EXPECT_GE(v["cut_lsn"].get<Lsn>(), acked);
  EXPECT_LT(v["cut_lsn"].get<Lsn>(), acked + 60);

  // Absolute accepts no torn tail.
  const CliResult abs = Cli("verify --mode absolute " + Quote(wal));
  EXPECT_EQ(abs.code, 1) << Describe(abs);
  EXPECT_NE(abs.out.find("torn tail"), std::string::npos) << abs.out;

  // stats: the torn shard lost its last batch, so the cut fell below what
  // the other shards hold; their last LSN is above their durable frontier.
  const CliResult st = Cli("stats --json " + Quote(wal));
  ASSERT_EQ(st.code, 0) << Describe(st);
  const json s = json::parse(st.out);
  EXPECT_EQ(s["cut_lsn"], v["cut_lsn"]);
  std::uint64_t above = 0;
  for (const auto& sh : s["shards"]) {
    EXPECT_LE(sh["durable_frontier"].get<Lsn>(), s["cut_lsn"].get<Lsn>());
    if (sh["records_above_cut"].get<std::uint64_t>() != 0) {
      EXPECT_GT(sh["last_lsn"].get<Lsn>(), s["cut_lsn"].get<Lsn>()) << sh.dump();
    } else {
      EXPECT_EQ(sh["last_lsn"], sh["durable_frontier"]) << sh.dump();
    }
    above += sh["records_above_cut"].get<std::uint64_t>();
  }
  EXPECT_GT(above, 0u);
  EXPECT_EQ(s["records_above_cut"].get<std::uint64_t>(), above);
}

TEST_F(ToolsTest, TornTailOfAcknowledgedRecordsIsDamage) {
  // The suite's WAL was closed cleanly: its last batches were acknowledged
  // and the MANIFEST records each shard's last LSN as durable. Cut short,
  // it is not a crash: verify says DAMAGED and names the shard.
  const std::string wal = CopyWal("acked");
  const std::uint32_t shard = BusiestShard(wal);
  const std::string file = TearTail(wal, shard);
  const CliResult r = Cli("verify " + Quote(wal));
  EXPECT_EQ(r.code, 1) << Describe(r);
  EXPECT_NE(r.out.find("DAMAGED"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("shard " + std::to_string(shard)), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("acknowledged records were lost"), std::string::npos) << r.out;
}

TEST_F(ToolsTest, VerifyNamesShardFileAndOffsetOfCorruption) {
  const std::string wal = CopyWal("flip");
  const std::uint32_t shard = BusiestShard(wal);
  const std::string file = FlipMiddleByte(wal, shard);
  const CliResult r = Cli("verify " + Quote(wal));
  ASSERT_EQ(r.code, 1) << Describe(r);
  EXPECT_NE(r.out.find("error: Corruption"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[damage] corruption in shard " + std::to_string(shard) + " " + file + " at offset "),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("result: DAMAGED"), std::string::npos) << r.out;

  const CliResult j = Cli("verify --json " + Quote(wal));
  ASSERT_EQ(j.code, 1) << Describe(j);
  const json v = json::parse(j.out);
  EXPECT_FALSE(v["clean"].get<bool>());
  ASSERT_TRUE(v["error"].is_string());
  EXPECT_NE(v["error"].get<std::string>().find(file), std::string::npos) << v["error"];
  EXPECT_EQ(v["report_mode"], "salvage");
  bool found = false;
  for (const auto& a : v["anomalies"]) {
    if (a["kind"] == "corruption" && a["file"] == file) {
      found = true;
      EXPECT_EQ(a["shard"].get<std::uint32_t>(), shard);
      EXPECT_GE(a["offset"].get<std::uint64_t>(), 64u);
      EXPECT_LT(a["offset"].get<std::uint64_t>(), stdfs::file_size(file));
      EXPECT_GT(a["last_good_lsn"].get<Lsn>(), 0u);
      EXPECT_FALSE(a["benign"].get<bool>());
    }
  }
  EXPECT_TRUE(found) << v.dump(2);
  // Salvage reads past the damage but still reports it as damage.
  EXPECT_EQ(Cli("verify --mode salvage " + Quote(wal)).code, 1);
  EXPECT_EQ(Cli("verify --mode point-in-time " + Quote(wal)).code, 1);
  // The other read-only commands refuse in the default mode, read in salvage.
  const CliResult d = Cli("dump " + Quote(wal));
  EXPECT_EQ(d.code, 1) << Describe(d);
  EXPECT_NE(d.err.find(file), std::string::npos) << d.err;
  EXPECT_EQ(Cli("dump --mode salvage " + Quote(wal)).code, 0);
}

TEST_F(ToolsTest, VerifyDamagedOrLostManifestExits1) {
  const std::string bad = CopyWal("bad-manifest");
  const std::string m = ReadFile(bad + "/MANIFEST");
  testing::SetByte(bad + "/MANIFEST", m.find("\"format\": 1") + 10, '7');  // the checksum no longer matches
  CliResult r = Cli("verify " + Quote(bad));
  EXPECT_EQ(r.code, 1) << Describe(r);
  EXPECT_NE(r.out.find("MANIFEST: checksum mismatch"), std::string::npos) << r.out;
  EXPECT_EQ(Cli("dump " + Quote(bad)).code, 1);
  EXPECT_EQ(Cli("recover --mode salvage " + Quote(bad)).code, 1);

  const std::string lost = CopyWal("lost-manifest");
  stdfs::remove(lost + "/MANIFEST");
  r = Cli("verify " + Quote(lost));
  EXPECT_EQ(r.code, 1) << Describe(r);
  EXPECT_NE(r.err.find("MANIFEST was lost"), std::string::npos) << r.err;
  r = Cli("recover " + Quote(lost));  // must not start a new, empty WAL over the old segments
  EXPECT_EQ(r.code, 1) << Describe(r);
  EXPECT_FALSE(stdfs::exists(lost + "/MANIFEST"));
}

}  // namespace
}  // namespace shardwal
