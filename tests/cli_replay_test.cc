// SPDX-License-Identifier: Apache-2.0
// `shardwal replay`: the export round-trips every record (read back with
// the independent ParseExport of tests/tools_fixture.h), --until-lsn and
// --until-time cut where they say, and a bound before the first record
// gives an empty export.
#include <gtest/gtest.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/tools_fixture.h"

namespace shardwal {
namespace {

using namespace tools_test;
namespace stdfs = std::filesystem;

TEST_F(ToolsTest, ReplayExportRoundTrips) {
  const std::string out = dir_.Sub("all.swx");
  const CliResult r = Cli("replay " + Quote(wal_) + " --until-lsn " + std::to_string(N()) + " --out " + Quote(out));
  ASSERT_EQ(r.code, 0) << Describe(r);
  EXPECT_FALSE(stdfs::exists(out + ".tmp"));
  const Export e = ParseExport(out);
  EXPECT_EQ(e.record_count, N());
  EXPECT_EQ(e.first_lsn, 1u);
  EXPECT_EQ(e.last_lsn, N());
  EXPECT_EQ(e.cut_lsn, N());
  EXPECT_EQ(e.checkpoint_lsn, 0u);
  EXPECT_EQ(e.until_lsn, N());
  EXPECT_EQ(e.until_time_ns, 0u);
  ASSERT_EQ(e.records.size(), N());
  const auto dump = JsonLines(Cli("dump --json " + Quote(wal_)).out);
  ASSERT_EQ(dump.size(), N());
  for (std::size_t i = 0; i < N(); ++i) {
    const Written& w = (*written_)[i];
    const Export::Rec& x = e.records[i];
    ASSERT_EQ(x.lsn, w.lsn);
    EXPECT_EQ(x.tag, w.tag);
    EXPECT_EQ(x.payload, w.payload);
    EXPECT_EQ(x.type, static_cast<std::uint8_t>(w.type));
    EXPECT_EQ(x.txn, w.txn);
    EXPECT_EQ(x.commit_time_ns, dump[i]["commit_time_ns"].get<std::uint64_t>());
    EXPECT_EQ(x.shard, dump[i]["shard"].get<std::uint32_t>());
  }

  // --until-lsn cuts exactly there; a bound past the cut exports everything.
  const CliResult part = Cli("replay --json " + Quote(wal_) + " --until-lsn 123 --out " + Quote(out));
  ASSERT_EQ(part.code, 0) << Describe(part);
  EXPECT_EQ(json::parse(part.out)["next_lsn"].get<Lsn>(), 124u);
  Export p = ParseExport(out);
  ASSERT_EQ(p.records.size(), 123u);
  EXPECT_EQ(p.records.back().lsn, 123u);
  EXPECT_EQ(p.until_lsn, 123u);
  const CliResult past = Cli("replay " + Quote(wal_) + " --until-lsn 999999 --out " + Quote(out));
  ASSERT_EQ(past.code, 0) << Describe(past);
  EXPECT_NE(past.err.find("above the consistent cut"), std::string::npos) << past.err;
  EXPECT_EQ(ParseExport(out).records.size(), N());

  // --until-time: everything written before the pause, nothing after; as
  // nanoseconds and as ISO-8601.
  for (const std::string& t : std::vector<std::string>{std::to_string(mid_time_ns_), [] {
                                const std::time_t secs = static_cast<std::time_t>(mid_time_ns_ / 1'000'000'000);
                                std::tm tm {};
                                ::gmtime_r(&secs, &tm);
                                char b[64];
                                std::strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%S", &tm);
                                char f[32];
                                std::snprintf(f, sizeof f, ".%09lluZ",
                                              static_cast<unsigned long long>(mid_time_ns_ % 1'000'000'000));
                                return std::string(b) + f;
                              }()}) {
    const CliResult tr = Cli("replay " + Quote(wal_) + " --until-time " + t + " --out " + Quote(out));
    ASSERT_EQ(tr.code, 0) << t << "\n" << Describe(tr);
    const Export te = ParseExport(out);
    EXPECT_EQ(te.until_time_ns, mid_time_ns_) << t;
    EXPECT_EQ(te.until_lsn, 0u);
    ASSERT_EQ(te.records.size(), mid_lsn_) << t;
    EXPECT_EQ(te.last_lsn, mid_lsn_);
    for (const auto& x : te.records) EXPECT_LE(x.commit_time_ns, mid_time_ns_);
  }
  // Before the first record: an empty export, said so.
  const CliResult early = Cli("replay " + Quote(wal_) + " --until-time 2000-01-01T00:00:00Z --out " + Quote(out));
  ASSERT_EQ(early.code, 0) << Describe(early);
  EXPECT_NE(early.err.find("no record"), std::string::npos) << early.err;
  EXPECT_EQ(ParseExport(out).records.size(), 0u);
  EXPECT_EQ(stdfs::file_size(out), 80u);
}

}  // namespace
}  // namespace shardwal
