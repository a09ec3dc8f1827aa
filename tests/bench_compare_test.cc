// SPDX-License-Identifier: Apache-2.0
// `shardwal bench --compare`, `--sweep` and `--wait-every`, run as the real
// binary (bench/compare.h, bench/sweep.h): a result row per peer with
// consistent figures, the device probe, the RocksDB peer (or its skip), the
// sweep's CSV, JSON and charts, the progress line's p99, and bad flags.
#include <gtest/gtest.h>

#include <cstdlib>
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

// The last line of stdout as JSON (--json puts it there, after the table).
json LastJsonLine(const std::string& out) {
  std::istringstream in(out);
  std::string line, last;
  while (std::getline(in, line)) {
    if (!line.empty()) last = line;
  }
  return json::parse(last);
}

std::vector<std::vector<std::string>> ReadCsv(const std::string& path) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(ReadFile(path));
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    std::string cell;
    bool quoted = false;
    for (char c : line) {
      if (c == '"') {
        quoted = !quoted;
      } else if (c == ',' && !quoted) {
        cells.push_back(cell);
        cell.clear();
      } else {
        cell += c;
      }
    }
    cells.push_back(cell);
    rows.push_back(std::move(cells));
  }
  return rows;
}

// Column name -> value, for each data row.
std::vector<std::map<std::string, std::string>> CsvRecords(const std::string& path) {
  const auto rows = ReadCsv(path);
  std::vector<std::map<std::string, std::string>> out;
  for (std::size_t i = 1; i < rows.size(); ++i) {
    std::map<std::string, std::string> r;
    for (std::size_t k = 0; k < rows[0].size() && k < rows[i].size(); ++k) r[rows[0][k]] = rows[i][k];
    out.push_back(std::move(r));
  }
  return out;
}

// The figures every result row must hold together.
void ExpectConsistentRow(const json& r, const std::string& latency) {
  SCOPED_TRACE(r.dump());
  EXPECT_GT(r["records"].get<std::uint64_t>(), 0u);
  const double seconds = r["seconds"].get<double>();
  EXPECT_GT(seconds, 0.0);
  EXPECT_NEAR(r["records_per_s"].get<double>(), r["records"].get<double>() / seconds,
              1e-6 * r["records_per_s"].get<double>());
  EXPECT_GT(r["fsyncs"].get<std::uint64_t>(), 0u);
  EXPECT_NEAR(r["records_per_fsync"].get<double>(), r["records"].get<double>() / r["fsyncs"].get<double>(), 1e-6);
  EXPECT_GT(r["p50_us"].get<double>(), 0.0);
  EXPECT_LE(r["p50_us"].get<double>(), r["p99_us"].get<double>());
  EXPECT_LE(r["p99_us"].get<double>(), r["p999_us"].get<double>());
  EXPECT_EQ(r["latency"], latency);
  EXPECT_FALSE(r["note"].get<std::string>().empty());
}

bool HaveGnuplot() { return std::system("gnuplot --version >/dev/null 2>&1") == 0; }

TEST(BenchCompareTest, CompareJsonHasARowPerPeerInOrder) {
  const TempDir dir;
  const std::string csv = dir.Sub("compare.csv");
  const CliResult r = Cli("bench --compare --writers 2 --seconds 0.3 --peers shardwal,single-log,naive --no-probe "
                          "--json --dir " + Quote(dir.Sub("runs")) + " --csv " + Quote(csv));
  ASSERT_EQ(r.code, 0) << Describe(r);
  EXPECT_NE(r.out.find("shardwal is"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("device probe: not run"), std::string::npos) << r.out;
  const json j = LastJsonLine(r.out);
  EXPECT_TRUE(j["probe"].is_null());
  EXPECT_EQ(j["workload"]["writers"], 2);
  EXPECT_EQ(j["workload"]["durability"], "group");
  EXPECT_TRUE(j["skipped"].empty());
  ASSERT_EQ(j["results"].size(), 3u);
  const std::vector<std::string> peers = {"shardwal", "single-log", "naive"};
  for (std::size_t i = 0; i < peers.size(); ++i) {
    const json& row = j["results"][i];
    EXPECT_EQ(row["peer"], peers[i]);
    ExpectConsistentRow(row, "append_to_durable");
    EXPECT_TRUE(row["p99_vs_probe_p50"].is_null());
  }
  EXPECT_DOUBLE_EQ(j["results"][0]["shardwal_speedup"].get<double>(), 1.0);
  EXPECT_NEAR(j["results"][2]["shardwal_speedup"].get<double>(),
              j["results"][0]["records_per_s"].get<double>() / j["results"][2]["records_per_s"].get<double>(), 1e-6);
  EXPECT_EQ(j["results"][1]["shards"], 1);
  // naive: one fdatasync per append (plus the untimed one at the end).
  EXPECT_EQ(j["results"][2]["fsyncs"].get<std::uint64_t>(), j["results"][2]["records"].get<std::uint64_t>() + 1);
  // The CSV: a row per peer, the same numbers.
  const auto rows = CsvRecords(csv);
  ASSERT_EQ(rows.size(), 3u) << ReadFile(csv);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i].at("peer"), peers[i]);
    EXPECT_EQ(rows[i].at("records"), std::to_string(j["results"][i]["records"].get<std::uint64_t>()));
    EXPECT_EQ(rows[i].at("writers"), "2");
  }
  // Every peer's directory is gone; the parent stays.
  EXPECT_TRUE(stdfs::is_empty(dir.Sub("runs")));
}

TEST(BenchCompareTest, CompareWithProbePipelined) {
  const TempDir dir;
  const CliResult r = Cli("bench --compare --writers 2 --seconds 0.3 --peers shardwal,naive --wait-every 10 "
                          "--probe-seconds 0.4 --json --dir " + Quote(dir.path()));
  ASSERT_EQ(r.code, 0) << Describe(r);
  const json j = LastJsonLine(r.out);
  ASSERT_TRUE(j["probe"].is_object()) << j.dump();
  EXPECT_GT(j["probe"]["fdatasyncs_per_s"].get<double>(), 0.0);
  EXPECT_GT(j["probe"]["fdatasync_p50_us"].get<double>(), 0.0);
  EXPECT_LE(j["probe"]["fdatasync_p50_us"].get<double>(), j["probe"]["fdatasync_p99_us"].get<double>());
  EXPECT_GT(j["probe"]["synced_seq_mb_per_s"].get<double>(), 0.0);
  EXPECT_EQ(j["probe"]["dir"], dir.path());
  EXPECT_NE(r.out.find("device probe ("), std::string::npos) << r.out;
  ASSERT_EQ(j["results"].size(), 2u);
  for (const json& row : j["results"]) {
    ExpectConsistentRow(row, "wait_every_10");
    EXPECT_EQ(row["records"].get<std::uint64_t>() % 10, 0u) << "whole rounds of 10: " << row.dump();
    EXPECT_GT(row["p99_vs_probe_p50"].get<double>(), 0.0);
  }
  EXPECT_TRUE(stdfs::is_empty(dir.path())) << "the probe file or a peer directory was left behind";
}

TEST(BenchCompareTest, RocksDbPeerRunsOrIsSkipped) {
  const CliResult r = Cli("bench --compare --writers 2 --seconds 0.3 --peers shardwal,rocksdb --no-probe --json");
  ASSERT_EQ(r.code, 0) << Describe(r);
  const json j = LastJsonLine(r.out);
  if (!j["skipped"].empty()) {
    ASSERT_EQ(j["results"].size(), 1u);
    EXPECT_NE(j["skipped"][0].get<std::string>().find("RocksDB"), std::string::npos) << j.dump();
    GTEST_SKIP() << "built without RocksDB: " << j["skipped"][0].get<std::string>();
  }
  ASSERT_EQ(j["results"].size(), 2u);
  const json& rocks = j["results"][1];
  EXPECT_EQ(rocks["peer"], "rocksdb");
  ExpectConsistentRow(rocks, "append_to_durable");  // fsyncs > 0: the WAL_FILE_SYNCED ticker is counted
  EXPECT_NE(rocks["label"].get<std::string>().find("sync=true"), std::string::npos);
  EXPECT_NE(rocks["note"].get<std::string>().find("memtable"), std::string::npos);
}

TEST(BenchCompareTest, SweepWritesCsvJsonAndCharts) {
  const TempDir dir;
  const std::string out = dir.Sub("sweep");
  const CliResult r =
      Cli("bench --sweep --sweep-writers 1,2 --sweep-shards 1 --sweep-record-bytes 64 --sweep-durability group "
          "--sweep-wait-every 1 --sweep-peers shardwal,naive --seconds 0.2 --probe-seconds 0.2 --json --out " +
          Quote(out));
  ASSERT_EQ(r.code, 0) << Describe(r);
  EXPECT_NE(r.err.find("[4/4]"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("ETA"), std::string::npos) << r.err;
  const auto rows = CsvRecords(out + "/results.csv");
  ASSERT_EQ(rows.size(), 4u) << ReadFile(out + "/results.csv");
  std::set<std::pair<std::string, std::string>> seen;
  for (const auto& row : rows) {
    SCOPED_TRACE(row.at("peer") + " writers=" + row.at("writers"));
    seen.emplace(row.at("peer"), row.at("writers"));
    EXPECT_EQ(row.at("error"), "");
    EXPECT_GT(std::stoull(row.at("records")), 0u);
    EXPECT_GT(std::stod(row.at("records_per_s")), 0.0);
    EXPECT_GT(std::stod(row.at("p99_us")), 0.0);
    EXPECT_EQ(row.at("record_bytes"), "64");
    EXPECT_EQ(row.at("durability"), "group");
    EXPECT_EQ(row.at("wait_every"), "1");
    EXPECT_EQ(row.at("shards"), row.at("peer") == "shardwal" ? "1" : "0");
    EXPECT_GT(std::stod(row.at("probe_fdatasyncs_per_s")), 0.0);
  }
  const std::set<std::pair<std::string, std::string>> want = {
      {"shardwal", "1"}, {"shardwal", "2"}, {"naive", "1"}, {"naive", "2"}};
  EXPECT_EQ(seen, want);
  const json results = json::parse(ReadFile(out + "/results.json"));
  EXPECT_EQ(results["rows"].size(), 4u);
  EXPECT_EQ(results["failed"], 0);
  EXPECT_TRUE(results["probe"].is_object());
  const json summary = LastJsonLine(r.out);
  EXPECT_EQ(summary["points"], 4);
  if (HaveGnuplot()) {
    EXPECT_EQ(results["plots_note"], "") << results["plots_note"];
    for (const char* chart : {"throughput-64B-group-wait1", "p99-64B-group-wait1"}) {
      for (const char* ext : {".gp", ".png", ".svg"}) {
        const std::string f = out + "/" + chart + ext;
        ASSERT_TRUE(stdfs::exists(f)) << f;
        EXPECT_GT(stdfs::file_size(f), 0u) << f;
      }
    }
    EXPECT_EQ(ReadFile(out + "/throughput-64B-group-wait1.png").substr(1, 3), "PNG");
    EXPECT_NE(ReadFile(out + "/p99-64B-group-wait1.svg").find("<svg"), std::string::npos);
  } else {
    EXPECT_NE(results["plots_note"].get<std::string>().find("plots skipped"), std::string::npos);
  }
}

TEST(BenchCompareTest, WaitEveryAndProgressP99) {
  CliResult r = Cli("bench --writers 2 --seconds 1.5 --json");  // one progress line at 1 s, with margin
  ASSERT_EQ(r.code, 0) << Describe(r);
  // The per-second line carries the window's p99 of append-to-durable.
  EXPECT_NE(r.err.find(" p99="), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find(" p99=-"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("us durable_lsn="), std::string::npos) << r.err;
  json j = LastJsonLine(r.out);
  EXPECT_EQ(j["wait_every"], 1);
  EXPECT_EQ(j["latency"], "append_to_durable");

  r = Cli("bench --writers 2 --seconds 1.3 --wait-every 25 --json");
  ASSERT_EQ(r.code, 0) << Describe(r);
  EXPECT_NE(r.err.find(" p99=-"), std::string::npos) << r.err;
  j = LastJsonLine(r.out);
  EXPECT_EQ(j["wait_every"], 25);
  EXPECT_EQ(j["latency"], "wait_every_25");
  EXPECT_EQ(j["records"].get<std::uint64_t>() % 25, 0u);
  EXPECT_EQ(j["durable_lsn"], j["records"]);
}

TEST(BenchCompareTest, BadCompareAndSweepFlagsExit2) {
  const TempDir dir;
  for (const std::string& args : std::vector<std::string>{
           "bench --compare --peers shardwal,bogus",
           "bench --compare --durability none",
           "bench --compare --records 100",
           "bench --compare --http 0",
           "bench --compare --sweep",
           "bench --compare --seconds 0",
           "bench --compare --wait-every 0",
           "bench --compare --csv " + Quote(dir.Sub("no/such/dir/x.csv")),
           "bench --peers naive",
           "bench --csv x.csv",
           "bench --no-probe",
           "bench --wait-every 0",
           "bench --sweep --writers 4",
           "bench --sweep --sweep-writers 0",
           "bench --sweep --sweep-writers 1,x",
           "bench --sweep --sweep-durability sometimes",
           "bench --sweep --sweep-peers naive,nope",
           "bench --sweep-writers 1,2",
           "bench --out " + Quote(dir.Sub("o")),
       }) {
    const CliResult r = Cli(args);
    EXPECT_EQ(r.code, 2) << "shardwal " << args << "\n" << Describe(r);
    EXPECT_FALSE(r.err.empty()) << "shardwal " << args;
  }
  EXPECT_NE(Cli("bench --compare --peers shardwal,bogus").err.find("bogus"), std::string::npos);
  EXPECT_NE(Cli("bench --compare --records 100").err.find("--records does not apply to --compare"),
            std::string::npos);
  EXPECT_NE(Cli("bench --sweep --writers 4").err.find("--sweep-writers"), std::string::npos);
  EXPECT_FALSE(stdfs::exists(dir.Sub("o")));
}

}  // namespace
}  // namespace shardwal
