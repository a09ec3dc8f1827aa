// SPDX-License-Identifier: Apache-2.0
// `shardwal dump` and `shardwal stats` against the ToolsTest WAL
// (tests/tools_fixture.h): JSON lines in LSN order with every field, the
// filters (LSN range, tags, shard), text output, and stats whose numbers
// match what was appended and what lies on disk.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "tests/tools_fixture.h"

namespace shardwal {
namespace {

using namespace tools_test;
namespace stdfs = std::filesystem;

TEST_F(ToolsTest, DumpJsonLinesInLsnOrderWithEveryField) {
  const CliResult r = Cli("dump --json --payload hex " + Quote(wal_));
  ASSERT_EQ(r.code, 0) << Describe(r);
  const auto lines = JsonLines(r.out);
  ASSERT_EQ(lines.size(), N());
  const auto stored = testing::ReadWal(WalOptions(wal_));  // the test's own reader: which shard holds what
  ASSERT_EQ(stored.size(), N());
  std::set<std::uint64_t> times;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const json& l = lines[i];
    const Written& w = (*written_)[i];
    ASSERT_EQ(l["lsn"].get<Lsn>(), i + 1) << l.dump();
    if (!l.contains("tag_hex")) {
      EXPECT_EQ(l["tag"], w.tag);
    }
    EXPECT_EQ(l["bytes"].get<std::size_t>(), w.payload.size());
    EXPECT_EQ(l["payload"], [&] {
      std::string hex;
      char b[3];
      for (unsigned char c : w.payload) {
        std::snprintf(b, sizeof b, "%02x", c);
        hex += b;
      }
      return hex;
    }());
    EXPECT_EQ(l["shard"].get<std::uint32_t>(), stored[i].shard);
    if (w.txn != 0) {
      EXPECT_EQ(l["txn"].get<std::uint64_t>(), w.txn);
    } else {
      EXPECT_FALSE(l.contains("txn")) << l.dump();
    }
    const std::uint64_t t = l["commit_time_ns"].get<std::uint64_t>();
    EXPECT_GT(t, 1'600'000'000'000'000'000ull);
    times.insert(t);
    const std::string iso = l["commit_time"].get<std::string>();
    ASSERT_EQ(iso.size(), 30u) << iso;  // 2024-05-01T12:00:00.123456789Z
    EXPECT_EQ(iso.back(), 'Z');
    EXPECT_EQ(iso.substr(20, 9), [&] {
      char b[16];
      std::snprintf(b, sizeof b, "%09llu", static_cast<unsigned long long>(t % 1'000'000'000));
      return std::string(b);
    }());
    const std::time_t secs = static_cast<std::time_t>(t / 1'000'000'000);
    std::tm tm {};
    ::gmtime_r(&secs, &tm);
    char want[32];
    std::strftime(want, sizeof want, "%Y-%m-%dT%H:%M:%S", &tm);
    EXPECT_EQ(iso.substr(0, 19), want);
  }
  EXPECT_GT(times.size(), 1u);
  EXPECT_EQ(lines[0]["type"], "data");
  // The transaction and the user-typed record.
  const Lsn begin = 151;
  ASSERT_EQ((*written_)[begin - 1].type, RecordType::kTxnBegin);
  EXPECT_EQ(lines[begin - 1]["type"], "begin");
  EXPECT_EQ(lines[begin + 2]["type"], "commit");
  EXPECT_EQ(lines[begin + 3]["type"], "user:200");
  EXPECT_EQ(lines[begin]["txn"], 42);
  EXPECT_EQ(lines[begin + 4]["tag"], "raw\\xff");
  EXPECT_EQ(lines[begin + 4]["tag_hex"], "726177ff");
}

TEST_F(ToolsTest, DumpFilters) {
  auto lsns = [&](const std::string& args) {
    const CliResult r = Cli("dump --json " + args + " " + Quote(wal_));
    EXPECT_EQ(r.code, 0) << Describe(r);
    std::vector<Lsn> out;
    for (const auto& l : JsonLines(r.out)) out.push_back(l["lsn"].get<Lsn>());
    EXPECT_TRUE(std::is_sorted(out.begin(), out.end()));
    return out;
  };
  std::vector<Lsn> want;
  for (Lsn i = 100; i <= 200; ++i) want.push_back(i);
  EXPECT_EQ(lsns("--from 100 --to 200"), want);
  EXPECT_EQ(lsns("--from " + std::to_string(N())), std::vector<Lsn>{N()});
  EXPECT_TRUE(lsns("--from " + std::to_string(N() + 1)).empty());
  EXPECT_EQ(lsns("--to 3"), (std::vector<Lsn>{1, 2, 3}));

  want.clear();
  for (const auto& w : *written_) {
    if (w.tag == (*sensors_)[3] || w.tag == "orders") want.push_back(w.lsn);
  }
  EXPECT_EQ(lsns("--tag " + (*sensors_)[3] + " --tag orders"), want);
  want.clear();
  for (const auto& w : *written_) {
    if (w.tag == (*sensors_)[3] && w.lsn >= 50 && w.lsn <= 300) want.push_back(w.lsn);
  }
  EXPECT_EQ(lsns("--tag " + (*sensors_)[3] + " --from 50 --to 300"), want);

  const auto stored = testing::ReadWal(WalOptions(wal_));
  for (std::uint32_t s = 0; s < kShards; ++s) {
    want.clear();
    for (const auto& r : stored) {
      if (r.shard == s) want.push_back(r.lsn);
    }
    EXPECT_EQ(lsns("--shard " + std::to_string(s)), want) << "shard " << s;
  }

  // Text mode: one line per record, the payload escaped.
  const CliResult t = Cli("dump --payload text --tag orders " + Quote(wal_));
  ASSERT_EQ(t.code, 0) << Describe(t);
  std::istringstream in(t.out);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  ASSERT_EQ(lines.size(), 4u) << t.out;
  EXPECT_EQ(lines[0].rfind("lsn=151 shard=", 0), 0u) << lines[0];
  EXPECT_NE(lines[0].find(" type=begin txn=42 tag=\"orders\" bytes=5 payload=\"begin\""), std::string::npos)
      << lines[0];
  EXPECT_NE(lines[1].find(R"(payload="line 1\n\"quoted\"\t\x01")"), std::string::npos) << lines[1];
  EXPECT_NE(lines[0].find(" time=20"), std::string::npos) << lines[0];
}

// ---- stats ------------------------------------------------------------------------

TEST_F(ToolsTest, StatsMatchWhatWasWritten) {
  const CliResult r = Cli("stats --json --tags " + Quote(wal_));
  ASSERT_EQ(r.code, 0) << Describe(r);
  const json s = json::parse(r.out);
  EXPECT_EQ(s["records"].get<std::uint64_t>(), N());
  EXPECT_EQ(s["cut_lsn"].get<Lsn>(), N());
  EXPECT_EQ(s["first_lsn"].get<Lsn>(), 1u);
  EXPECT_EQ(s["checkpoint_lsn"].get<Lsn>(), 0u);
  EXPECT_EQ(s["shard_count"].get<std::uint32_t>(), kShards);
  EXPECT_EQ(s["epoch"].get<std::uint32_t>(), 1u);
  EXPECT_EQ(s["records_above_cut"].get<std::uint64_t>(), 0u);
  const auto stored = testing::ReadWal(WalOptions(wal_));
  ASSERT_EQ(s["shards"].size(), kShards);
  std::uint64_t segments = 0;
  for (std::uint32_t i = 0; i < kShards; ++i) {
    const json& sh = s["shards"][i];
    std::uint64_t records = 0;
    Lsn first = 0, last = 0;
    for (const auto& rec : stored) {
      if (rec.shard != i) continue;
      if (records++ == 0) first = rec.lsn;
      last = rec.lsn;
    }
    const std::string dir = wal_ + "/shard-" + std::to_string(i);
    std::uint64_t bytes = 0;
    for (const auto& f : testing::SegmentFiles(dir)) bytes += stdfs::file_size(f);
    EXPECT_EQ(sh["shard"].get<std::uint32_t>(), i);
    EXPECT_EQ(sh["dir"], dir);
    EXPECT_EQ(sh["records"].get<std::uint64_t>(), records) << i;
    EXPECT_EQ(sh["first_lsn"].get<Lsn>(), first) << i;
    EXPECT_EQ(sh["last_lsn"].get<Lsn>(), last) << i;
    EXPECT_EQ(sh["durable_frontier"].get<Lsn>(), last) << i;
    EXPECT_EQ(sh["segments"].get<std::uint64_t>(), testing::SegmentFiles(dir).size()) << i;
    EXPECT_GE(sh["segments"].get<std::uint64_t>(), 2u) << i;
    EXPECT_EQ(sh["bytes"].get<std::uint64_t>(), bytes) << i;
    segments += testing::SegmentFiles(dir).size();
  }
  EXPECT_EQ(s["segments"].get<std::uint64_t>(), segments);

  std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> tags;
  for (const auto& w : *written_) {
    tags[w.tag].first++;
    tags[w.tag].second += w.payload.size();
  }
  ASSERT_EQ(s["tags"].size(), tags.size());
  for (const auto& t : s["tags"]) {
    std::string tag = t["tag"].get<std::string>();
    if (t.contains("tag_hex")) {  // not UTF-8: the raw bytes in hex
      tag.clear();
      const std::string hex = t["tag_hex"].get<std::string>();
      for (std::size_t k = 0; k + 1 < hex.size(); k += 2) tag += static_cast<char>(std::stoi(hex.substr(k, 2), nullptr, 16));
    }
    const auto it = tags.find(tag);
    ASSERT_NE(it, tags.end()) << t.dump();
    EXPECT_EQ(t["records"].get<std::uint64_t>(), it->second.first) << t.dump();
    EXPECT_EQ(t["bytes"].get<std::uint64_t>(), it->second.second) << t.dump();
  }

  const CliResult text = Cli("stats --tags " + Quote(wal_));
  ASSERT_EQ(text.code, 0) << Describe(text);
  EXPECT_NE(text.out.find("consistent cut: " + std::to_string(N())), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("(untagged)"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("\"" + (*sensors_)[3] + "\""), std::string::npos) << text.out;
}

}  // namespace
}  // namespace shardwal
