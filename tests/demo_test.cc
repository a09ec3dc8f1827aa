// SPDX-License-Identifier: Apache-2.0
// `shardwal demo` (tools/demo_command.h): the real binary (SHARDWAL_CLI_PATH)
// on short runs - every acknowledged point recovered after the SIGKILL, the
// JSON shape, --keep / --dir, the side-by-side step, usage errors - and the
// demo's verifier fed recovered sets with a lost, altered, reordered or
// unknown point directly (tools/demo_verify.cc is compiled into this test),
// so that a demo that says "0 missing" is known to be able to say otherwise.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "tests/cli_util.h"
#include "tests/test_util.h"
#include "tools/demo_ingest.h"
#include "tools/demo_verify.h"

#ifndef SHARDWAL_CLI_PATH
#error "SHARDWAL_CLI_PATH must name the shardwal binary (tests/CMakeLists.txt)"
#endif

namespace shardwal {
namespace {

namespace stdfs = std::filesystem;
using nlohmann::json;
using testing::TempDir;
using namespace tools::demo;

// ---- running the binary --------------------------------------------------------

using testing::CliResult;
using testing::Describe;
using testing::Quote;
using testing::ReadFile;

// Runs `shardwal <args>` with TMPDIR in a test directory, so a temporary
// directory the demo failed to remove would be seen (TmpLeftovers).
CliResult Cli(const std::string& args, const std::string& tmpdir) {
  return testing::RunCli(SHARDWAL_CLI_PATH, args, "TMPDIR=" + Quote(tmpdir) + " ");
}

// The JSON object on the last line of stdout.
json LastJson(const CliResult& r) {
  std::string last, line;
  std::istringstream in(r.out);
  while (std::getline(in, line)) {
    if (!line.empty()) last = line;
  }
  return json::parse(last);
}

class DemoCliTest : public ::testing::Test {
 protected:
  std::string Tmp() {
    const std::string t = dir_.Sub("tmp");
    stdfs::create_directories(t);
    return t;
  }
  // Entries left in the demo's TMPDIR (a temporary directory not removed).
  std::size_t TmpLeftovers() {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : stdfs::directory_iterator(Tmp())) ++n;
    return n;
  }
  TempDir dir_;
};

void ExpectCrashVerified(const json& crash) {
  ASSERT_TRUE(crash.is_object()) << crash.dump();
  EXPECT_GT(crash["acknowledged"].get<std::uint64_t>(), 0u) << crash.dump();
  EXPECT_EQ(crash["missing"].get<std::uint64_t>(), 0u) << crash.dump();
  EXPECT_EQ(crash["corrupted"].get<std::uint64_t>(), 0u) << crash.dump();
  EXPECT_EQ(crash["out_of_order"].get<std::uint64_t>(), 0u) << crash.dump();
  EXPECT_EQ(crash["lsn_gaps"].get<std::uint64_t>(), 0u) << crash.dump();
  EXPECT_GE(crash["recovered"].get<std::uint64_t>(), crash["acknowledged"].get<std::uint64_t>());
  EXPECT_EQ(crash["recovered"].get<std::uint64_t>(),
            crash["recovered_acknowledged"].get<std::uint64_t>() + crash["recovered_unacknowledged"].get<std::uint64_t>());
  EXPECT_EQ(crash["recovered_acknowledged"], crash["acknowledged"]);
  EXPECT_EQ(crash["first_lsn"].get<std::uint64_t>(), 1u);
  EXPECT_EQ(crash["last_lsn"], crash["cut_lsn"]);
  EXPECT_EQ(crash["recovered"], crash["cut_lsn"]);
  EXPECT_EQ(crash["next_lsn"].get<std::uint64_t>(), crash["cut_lsn"].get<std::uint64_t>() + 1);
  EXPECT_TRUE(crash["problems"].empty()) << crash.dump();
  EXPECT_TRUE(crash["ok"].get<bool>());
}

TEST_F(DemoCliTest, ShortRunRecoversEveryAcknowledgedPoint) {
  const CliResult r =
      Cli("demo --writers 8 --tags 100 --seconds 1 --crash-after 1 --skip-ship --skip-compare --json", Tmp());
  ASSERT_EQ(r.code, 0) << Describe(r);
  for (const char* header : {"1/4 time-series ingestion", "2/4 crash and recover", "summary", "verdict:"}) {
    EXPECT_NE(r.out.find(header), std::string::npos) << header << "\n" << Describe(r);
  }
  EXPECT_EQ(r.out.find("4/4 side by side"), std::string::npos) << Describe(r);
  const json j = LastJson(r);
  EXPECT_TRUE(j["ok"].get<bool>());
  EXPECT_TRUE(j["compare"].is_null());
  const json& ingest = j["ingest"];
  EXPECT_GT(ingest["points"].get<std::uint64_t>(), 0u);
  EXPECT_EQ(ingest["durable_lsn"], ingest["points"]);
  EXPECT_EQ(ingest["writers"], 8);
  EXPECT_EQ(ingest["tags"], 100);
  // Line protocol points (~360 bytes) and the WAL's write volume, uncompressed.
  EXPECT_NE(r.out.find("MB/s of line protocol"), std::string::npos) << Describe(r);
  EXPECT_GT(ingest["avg_point_bytes"].get<double>(), 250.0);
  EXPECT_LT(ingest["avg_point_bytes"].get<double>(), 512.0);
  EXPECT_NEAR(ingest["payload_bytes"].get<double>(),
              ingest["avg_point_bytes"].get<double>() * ingest["points"].get<double>(), 1.0);
  EXPECT_GT(ingest["segment_bytes"].get<std::uint64_t>(), ingest["payload_bytes"].get<std::uint64_t>());
  EXPECT_EQ(ingest["compression"], "none");
  ExpectCrashVerified(j["crash"]);
  EXPECT_GT(j["crash"]["tags_seen"].get<std::uint32_t>(), 0u);
  EXPECT_FALSE(j["dir_kept"].get<bool>());
  EXPECT_FALSE(stdfs::exists(j["dir"].get<std::string>()));
  EXPECT_EQ(TmpLeftovers(), 0u);
}

// Killed 50 ms into ingestion: few points, batches in flight everywhere.
TEST_F(DemoCliTest, ChildKilledEarlyStillVerifies) {
  const CliResult r =
      Cli("demo --writers 16 --tags 64 --seconds 0.2 --crash-after 0.05 --skip-ship --skip-compare --json", Tmp());
  ASSERT_EQ(r.code, 0) << Describe(r);
  ExpectCrashVerified(LastJson(r)["crash"]);
  EXPECT_LT(LastJson(r)["crash"]["ingest_seconds"].get<double>(), 1.0);
}

// --dir: the step sub-directories are made there; with --keep they stay and
// are ordinary WALs (`shardwal verify` accepts them; the crashed one was
// recovered by the demo, so it is clean too). Step 1's WAL is zstd-compressed
// here: line protocol text compresses, and the report says by how much.
TEST_F(DemoCliTest, KeepLeavesVerifiableWals) {
  const std::string d = dir_.Sub("kept");
  const CliResult r = Cli(
      "demo --writers 4 --tags 8 --seconds 0.3 --crash-after 0.3 --compression zstd --skip-ship --skip-compare "
      "--keep --json --dir " +
          Quote(d),
      Tmp());
  ASSERT_EQ(r.code, 0) << Describe(r);
  const json j = LastJson(r);
  const json& ingest = j["ingest"];
  EXPECT_EQ(ingest["compression"], "zstd");
  EXPECT_GT(ingest["uncompressed_bytes"].get<std::uint64_t>(), 2 * ingest["segment_bytes"].get<std::uint64_t>());
  EXPECT_NE(r.out.find(":1 ("), std::string::npos) << Describe(r);
  EXPECT_TRUE(LastJson(r)["dir_kept"].get<bool>());
  for (const char* step : {"ingest", "crash"}) {
    const CliResult v = Cli("verify " + Quote(d + "/" + step), Tmp());
    EXPECT_EQ(v.code, 0) << step << "\n" << Describe(v);
  }
  // Without --keep the sub-directories go, the given directory stays.
  const std::string d2 = dir_.Sub("not-kept");
  const CliResult r2 =
      Cli("demo --writers 2 --tags 2 --seconds 0.2 --skip-crash --skip-ship --skip-compare --dir " + Quote(d2), Tmp());
  ASSERT_EQ(r2.code, 0) << Describe(r2);
  EXPECT_TRUE(stdfs::exists(d2));
  EXPECT_TRUE(stdfs::is_empty(d2));
}

// Step 3: shipping while ingesting, the WAL deleted, restored from the
// stream, every acknowledged point checked. With NATS built in (and so
// nats-server installed: CMake requires it) the step runs a private server;
// without, it is skipped with a line saying why, and the demo still passes.
TEST_F(DemoCliTest, ShipAndRestore) {
  const std::string d = dir_.Sub("ship");
  const CliResult r = Cli(
      "demo --writers 8 --tags 100 --seconds 0.3 --skip-crash --ship-seconds 1 --skip-compare --keep --json --dir " +
          Quote(d),
      Tmp());
  ASSERT_EQ(r.code, 0) << Describe(r);
  EXPECT_NE(r.out.find("3/4 ship and restore"), std::string::npos) << Describe(r);
  const json j = LastJson(r);
  EXPECT_TRUE(j["ok"].get<bool>()) << j.dump();
  const json& ship = j["ship"];
  ASSERT_TRUE(ship.is_object()) << j.dump();
#ifdef SHARDWAL_TEST_WITH_NATS
  ASSERT_TRUE(ship["skipped"].is_null()) << ship.dump();
  EXPECT_GT(ship["acknowledged"].get<std::uint64_t>(), 0u) << ship.dump();
  EXPECT_EQ(ship["acknowledged"], ship["points"]);
  EXPECT_EQ(ship["recovered_acknowledged"], ship["acknowledged"]);
  EXPECT_EQ(ship["restored_records"], ship["points"]);
  EXPECT_EQ(ship["shipped_records"], ship["points"]);
  EXPECT_EQ(ship["last_lsn"], ship["points"]);
  EXPECT_EQ(ship["missing"].get<std::uint64_t>(), 0u);
  EXPECT_EQ(ship["corrupted"].get<std::uint64_t>(), 0u);
  EXPECT_EQ(ship["lsn_gaps"].get<std::uint64_t>(), 0u);
  EXPECT_TRUE(ship["ok"].get<bool>());
  for (const char* text : {"lost:", "restored:", "verdict:", "ship and restore:"}) {
    EXPECT_NE(r.out.find(text), std::string::npos) << text << "\n" << Describe(r);
  }
  // The WAL is gone, the restored one is an ordinary WAL, and the demo's
  // server is not running any more (reaped: its pid is free or reused).
  EXPECT_FALSE(stdfs::exists(d + "/ship/wal"));
  const CliResult v = Cli("verify " + Quote(d + "/ship/restored"), Tmp());
  EXPECT_EQ(v.code, 0) << Describe(v);
  const std::string comm = "/proc/" + std::to_string(ship["server_pid"].get<int>()) + "/comm";
  if (stdfs::exists(comm)) {
    EXPECT_EQ(ReadFile(comm).find("nats-server"), std::string::npos);
  }
#else
  EXPECT_TRUE(ship["skipped"].is_string()) << ship.dump();
  EXPECT_NE(r.out.find("skipped:"), std::string::npos) << Describe(r);
#endif
  EXPECT_EQ(TmpLeftovers(), 0u);
}

TEST_F(DemoCliTest, SideBySide) {
  // 1.2 s of ingestion: the progress line at 1.0 s comes before the end.
  const CliResult r = Cli(
      "demo --writers 4 --tags 16 --seconds 1.2 --skip-crash --skip-ship --compare-seconds 0.3 --probe-seconds 0 "
      "--peers shardwal,naive --json",
      Tmp());
  ASSERT_EQ(r.code, 0) << Describe(r);
  EXPECT_NE(r.out.find("4/4 side by side"), std::string::npos) << Describe(r);
  EXPECT_NE(r.err.find("] points/s"), std::string::npos) << "no progress line\n" << Describe(r);
  EXPECT_NE(r.err.find("p99 append->durable"), std::string::npos) << Describe(r);
  const json j = LastJson(r);
  EXPECT_TRUE(j["crash"].is_null());
  const json& results = j["compare"]["results"];
  ASSERT_EQ(results.size(), 2u) << j.dump();
  EXPECT_EQ(results[0]["peer"], "shardwal");
  EXPECT_EQ(results[1]["peer"], "naive");
  for (const json& p : results) EXPECT_GT(p["records"].get<std::uint64_t>(), 0u) << p.dump();
  EXPECT_EQ(j["compare"]["workload"]["writers"], 4);
  EXPECT_EQ(j["compare"]["workload"]["record_bytes"], 100);
  EXPECT_NE(r.out.find("side by side:"), std::string::npos) << "summary line\n" << Describe(r);
  EXPECT_EQ(TmpLeftovers(), 0u);
}

TEST_F(DemoCliTest, BadFlagsExitWithUsageError) {
  const std::string full = dir_.Sub("full");
  stdfs::create_directories(full);
  std::ofstream(full + "/x") << "x";
  for (const std::string& args :
       {std::string("demo --writers 0"), std::string("demo --bogus"), std::string("demo --tags 4 --writers 8"),
        std::string("demo --seconds 0"), std::string("demo --crash-after -1"), std::string("demo --peers nosuch"),
        std::string("demo --ship-seconds 0"), std::string("demo --compression gzip"),
        "demo --dir " + Quote(full), std::string("demo --seconds abc")}) {
    const CliResult r = Cli(args, Tmp());
    EXPECT_EQ(r.code, 2) << args << "\n" << Describe(r);
    EXPECT_EQ(r.out.find("1/4"), std::string::npos) << args << ": ran anyway";
  }
  EXPECT_EQ(TmpLeftovers(), 0u);
  EXPECT_TRUE(stdfs::exists(full + "/x"));
  // The child subcommand is hidden.
  const CliResult help = Cli("--help", Tmp());
  EXPECT_NE(help.out.find("demo"), std::string::npos);
  EXPECT_EQ(help.out.find("demo-child"), std::string::npos) << help.out;
}

// ---- the verifier --------------------------------------------------------------

struct Rec {
  Lsn lsn;
  std::string tag;
  std::string payload;
};

std::string PointBytes(std::uint32_t tag, std::uint32_t seq) { return EncodePoint(tag, seq); }

// 3 tags x 4 points, interleaved as the writers would: LSN 1..12.
std::vector<Rec> Recovered() {
  std::vector<Rec> recs;
  Lsn lsn = 1;
  for (std::uint32_t seq = 0; seq < 4; ++seq) {
    for (std::uint32_t tag = 0; tag < 3; ++tag) recs.push_back({lsn++, TagName(tag), PointBytes(tag, seq)});
  }
  return recs;
}

// Acknowledged: everything up to LSN `upto`.
std::vector<AckedPoint> Acked(const std::vector<Rec>& recs, Lsn upto) {
  std::vector<AckedPoint> acked;
  for (const Rec& r : recs) {
    Point p;
    if (r.lsn <= upto && DecodePoint(r.payload, &p)) acked.push_back({p.tag, p.seq, r.lsn});
  }
  return acked;
}

VerifyReport Verify(const std::vector<Rec>& recovered, const std::vector<AckedPoint>& acked, std::uint32_t tags = 3) {
  Verifier v(tags);
  for (const Rec& r : recovered) v.Add(r.lsn, r.tag, r.payload);
  return v.Finish(acked);
}

std::string Problems(const VerifyReport& r) {
  std::string s;
  for (const auto& p : r.problems) s += p + "\n";
  return s;
}

TEST(DemoVerifierTest, CleanRecoveryWithPointsInFlight) {
  const std::vector<Rec> recs = Recovered();
  const VerifyReport r = Verify(recs, Acked(recs, 9));
  EXPECT_TRUE(r.ok()) << Problems(r);
  EXPECT_EQ(r.acknowledged, 9u);
  EXPECT_EQ(r.recovered, 12u);
  EXPECT_EQ(r.recovered_acknowledged, 9u);
  EXPECT_EQ(r.recovered_unacknowledged, 3u);
  EXPECT_EQ(r.missing, 0u);
  EXPECT_EQ(r.corrupted, 0u);
  EXPECT_EQ(r.first_lsn, 1u);
  EXPECT_EQ(r.last_lsn, 12u);
  EXPECT_EQ(r.tags_seen, 3u);
  EXPECT_TRUE(r.problems.empty());
}

// The loss the demo exists to catch: an acknowledged point that recovery
// did not bring back (here the log ends one record early).
TEST(DemoVerifierTest, CatchesALostAcknowledgedPoint) {
  std::vector<Rec> recs = Recovered();
  const std::vector<AckedPoint> acked = Acked(recs, 12);
  recs.pop_back();  // LSN 12: tag 2, seq 3
  const VerifyReport r = Verify(recs, acked);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.missing, 1u);
  EXPECT_EQ(r.corrupted, 0u);
  EXPECT_EQ(r.recovered_acknowledged, 11u);
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_NE(r.problems[0].find("disk.host0000 seq 3 (LSN 12) was not recovered"), std::string::npos) << Problems(r);
}

// A loss in the middle is also an LSN gap.
TEST(DemoVerifierTest, CatchesAHoleInTheLog) {
  std::vector<Rec> recs = Recovered();
  const std::vector<AckedPoint> acked = Acked(recs, 12);
  recs.erase(recs.begin() + 4);  // LSN 5: tag 1, seq 1
  const VerifyReport r = Verify(recs, acked);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.missing, 1u);
  EXPECT_EQ(r.lsn_gaps, 1u);
  // Tag 1's seq 2 (LSN 8) then comes where seq 1 was due: out of order,
  // but intact and at its LSN, so not missing itself.
  EXPECT_EQ(r.out_of_order, 1u) << Problems(r);
  EXPECT_EQ(r.corrupted, 0u) << Problems(r);
  EXPECT_EQ(r.recovered_acknowledged, 11u);
  EXPECT_NE(Problems(r).find("LSN 6 follows LSN 4"), std::string::npos) << Problems(r);
  EXPECT_NE(Problems(r).find("LSN 8 (tag mem.host0000): seq 2 where seq 1 was expected"), std::string::npos)
      << Problems(r);
}

TEST(DemoVerifierTest, CatchesAnAlteredByte) {
  std::vector<Rec> recs = Recovered();
  const std::vector<AckedPoint> acked = Acked(recs, 12);
  for (std::size_t byte : {0u, 5u, 12u, 20u, 31u}) {
    std::vector<Rec> damaged = recs;
    damaged[6].payload[byte] ^= 0x10;  // LSN 7: tag 0, seq 2
    const VerifyReport r = Verify(damaged, acked);
    EXPECT_FALSE(r.ok()) << byte;
    EXPECT_EQ(r.corrupted, 1u) << byte << "\n" << Problems(r);
    EXPECT_EQ(r.missing, 1u) << byte << ": the acknowledged point at LSN 7 is not intact";
    EXPECT_NE(Problems(r).find("LSN 7"), std::string::npos) << Problems(r);
  }
  // A damaged record nobody acknowledged is still corrupt.
  std::vector<Rec> damaged = recs;
  damaged[11].payload[16] ^= 1;
  const VerifyReport r = Verify(damaged, Acked(recs, 6));
  EXPECT_EQ(r.corrupted, 1u);
  EXPECT_EQ(r.missing, 0u);
  EXPECT_FALSE(r.ok());
}

// A valid point, but not the one acknowledged at that LSN; and a tag whose
// points come back out of order.
TEST(DemoVerifierTest, CatchesWrongPointAndReordering) {
  std::vector<Rec> recs = Recovered();
  const std::vector<AckedPoint> acked = Acked(recs, 12);
  std::swap(recs[0].payload, recs[3].payload);  // tag 0: seq 1 at LSN 1, seq 0 at LSN 4
  const VerifyReport r = Verify(recs, acked);
  EXPECT_FALSE(r.ok());
  EXPECT_GE(r.out_of_order, 1u) << Problems(r);
  EXPECT_EQ(r.corrupted, 0u) << Problems(r);
  EXPECT_EQ(r.missing, 2u) << Problems(r);  // LSN 1 and 4 hold each other's point
  EXPECT_NE(Problems(r).find("per-tag order"), std::string::npos) << Problems(r);

  // Acknowledged with an LSN whose record is another (intact) point.
  std::vector<Rec> ok = Recovered();
  std::vector<AckedPoint> wrong = Acked(ok, 3);
  wrong[1].lsn = 3;  // tag 1 seq 0 claims LSN 3, which holds tag 2 seq 0
  wrong.pop_back();
  const VerifyReport r2 = Verify(ok, wrong);
  EXPECT_EQ(r2.missing, 1u) << Problems(r2);
  EXPECT_NE(Problems(r2).find("the record recovered at that LSN is disk.host0000 seq 0"), std::string::npos)
      << Problems(r2);
}

TEST(DemoVerifierTest, CatchesUnknownTagsAndPayloadOfAnotherTag) {
  std::vector<Rec> recs = Recovered();
  recs.push_back({13, "gpu.host0000", PointBytes(0, 4)});
  recs.push_back({14, TagName(1), PointBytes(2, 4)});  // tag 2's point under tag 1
  recs.push_back({15, TagName(7), PointBytes(7, 0)});  // beyond --tags 3
  const VerifyReport r = Verify(recs, Acked(recs, 12));
  EXPECT_EQ(r.corrupted, 3u) << Problems(r);
  EXPECT_EQ(r.missing, 0u);
  EXPECT_FALSE(r.ok());
}

TEST(DemoVerifierTest, DuplicateAcknowledgementIsReported) {
  const std::vector<Rec> recs = Recovered();
  std::vector<AckedPoint> acked = Acked(recs, 4);
  acked.push_back(acked[2]);
  const VerifyReport r = Verify(recs, acked);
  EXPECT_EQ(r.duplicate_acks, 1u);
  EXPECT_EQ(r.acknowledged, 4u);
  EXPECT_FALSE(r.ok());
}

TEST(DemoPointTest, TagNamesRoundTrip) {
  EXPECT_EQ(TagName(0), "cpu.host0000");
  EXPECT_EQ(TagName(168), "cpu.host0042");
  EXPECT_EQ(TagName(9999), "net.host2499");
  EXPECT_EQ(TagName(40001), "mem.host10000");
  for (std::uint32_t i : {0u, 1u, 2u, 3u, 168u, 9999u, 40001u, 999999u}) {
    std::uint32_t back = 0;
    ASSERT_TRUE(ParseTagName(TagName(i), 1'000'000, &back)) << TagName(i);
    EXPECT_EQ(back, i);
  }
  std::uint32_t x = 0;
  for (const char* bad : {"cpu.host042", "cpu.host00042", "gpu.host0001", "cpu.host", "cpu.hostabcd", "cpu0001",
                          "cpu.host0001x", "", "net.host2500"}) {
    EXPECT_FALSE(ParseTagName(bad, 10000, &x)) << bad;
  }
}

TEST(DemoPointTest, PayloadIsDeterministicAndChecked) {
  const std::string a = EncodePoint(42, 7);
  EXPECT_EQ(a, EncodePoint(42, 7));
  // The writers' allocation-free form gives the same bytes.
  std::array<char, kMaxPointBytes> buf{};
  EXPECT_EQ(std::string_view(buf.data(), EncodePoint(42, 7, buf.data())), a);
  Point p;
  ASSERT_TRUE(DecodePoint(a, &p)) << a;
  EXPECT_EQ(p.tag, 42u);
  EXPECT_EQ(p.seq, 7u);
  EXPECT_EQ(p.timestamp_ns, 1'704'067'200'000'000'000 + 7 * 10'000'000'000LL + 42 * 100'000);
  EXPECT_NE(EncodePoint(42, 8), a);
  EXPECT_NE(EncodePoint(43, 7), a);
  // Damage DecodePoint must reject (and never read past the end of).
  std::string bad = a;
  bad[a.find("host_42") + 5] = 'x';  // hostname host_x2
  EXPECT_FALSE(DecodePoint(bad, &p));
  bad = a;
  bad.back() = static_cast<char>(bad.back() + 1);  // timestamp 1 ns off
  EXPECT_FALSE(DecodePoint(bad, &p));
  for (std::size_t n = 0; n < a.size(); ++n) {
    if (DecodePoint(std::string_view(a).substr(0, n), &p)) {
      // A cut that still ends in a valid timestamp: not the point's bytes.
      EXPECT_NE(EncodePoint(p.tag, p.seq), a.substr(0, n)) << n;
    }
  }
  for (const char* junk : {"", "cpu", "cpu,hostname=host_", "cpu,hostname=host_1", "cpu,hostname=host_1, 5",
                           "cpu,hostname=host_01,x y 1704067200000100000", "cpu,hostname=host_-1,x y 1",
                           "cpu,hostname=host_99999999999,x y 1", "cpu,hostname=host_1,x y 99999999999999999999",
                           "cpu,hostname=host_1,x y -1704067200000100000", "\xff\x00\x01"}) {
    EXPECT_FALSE(DecodePoint(junk, &p)) << junk;
  }
}

// A point is one line of InfluxDB line protocol, a TSBS cpu-only point:
// "cpu,<10 tags> <10 fields> <timestamp>", each tag's timestamps 10 s apart.
TEST(DemoPointTest, PointIsTsbsCpuOnlyLineProtocol) {
  for (std::uint32_t tag : {0u, 1u, 42u, 9999u, 123456u}) {
    std::int64_t previous_ts = 0;
    for (std::uint32_t seq : {0u, 1u, 2u, 359u, 360u, 100000u}) {
      const std::string line = EncodePoint(tag, seq);
      SCOPED_TRACE(line);
      ASSERT_LE(line.size(), kMaxPointBytes);
      EXPECT_EQ(line.find('\n'), std::string::npos);
      const std::size_t s1 = line.find(' '), s2 = line.find(' ', s1 + 1);
      ASSERT_NE(s2, std::string::npos);
      EXPECT_EQ(line.find(' ', s2 + 1), std::string::npos) << "exactly 3 space-separated parts";
      const std::string series = line.substr(0, s1), fields = line.substr(s1 + 1, s2 - s1 - 1);
      EXPECT_TRUE(series.starts_with("cpu,hostname=host_" + std::to_string(tag) + ",region="));
      EXPECT_EQ(std::count(series.begin(), series.end(), ','), 10) << "10 tags, TSBS cpu-only's";
      EXPECT_NE(series.find(",service_environment="), std::string::npos);
      std::vector<std::string> kv;
      for (std::size_t at = 0; at <= fields.size();) {
        const std::size_t end = std::min(fields.find(',', at), fields.size());
        kv.push_back(fields.substr(at, end - at));
        at = end + 1;
      }
      ASSERT_EQ(kv.size(), 10u);
      EXPECT_TRUE(kv[0].starts_with("usage_user="));
      EXPECT_TRUE(kv[9].starts_with("usage_guest_nice="));
      for (const std::string& f : kv) {
        const std::size_t eq = f.find('=');
        ASSERT_NE(eq, std::string::npos) << f;
        const double v = std::stod(f.substr(eq + 1));
        EXPECT_GE(v, 0.0) << f;
        EXPECT_LE(v, 100.0) << f;
      }
      const std::int64_t ts = std::stoll(line.substr(s2 + 1));
      if (seq == 1) {
        EXPECT_EQ(ts - previous_ts, 10'000'000'000LL);
      }
      EXPECT_GT(ts, previous_ts);
      previous_ts = ts;
      Point p;
      ASSERT_TRUE(DecodePoint(line, &p));
      EXPECT_EQ(p.tag, tag);
      EXPECT_EQ(p.seq, seq);
      EXPECT_EQ(p.timestamp_ns, ts);
    }
  }
  // The tag set is the bench's for the same host number.
  EXPECT_TRUE(EncodePoint(12, 0).starts_with(shardwal::tools::TimeSeriesHostPrefix(12)));
}

// Every single damaged byte of a recovered point is reported as corrupted
// (and its acknowledged point as missing), never as intact.
TEST(DemoVerifierTest, CatchesEveryDamagedByteOfALine) {
  const std::vector<Rec> recs = Recovered();
  const std::vector<AckedPoint> acked = Acked(recs, 12);
  const std::size_t size = recs[6].payload.size();
  for (std::size_t byte = 0; byte < size; ++byte) {
    std::vector<Rec> damaged = recs;
    damaged[6].payload[byte] ^= 0x01;  // LSN 7: tag 0, seq 2
    const VerifyReport r = Verify(damaged, acked);
    ASSERT_EQ(r.corrupted, 1u) << byte << "\n" << Problems(r);
    ASSERT_EQ(r.missing, 1u) << byte << "\n" << Problems(r);
  }
  std::vector<Rec> cut = recs;
  cut[6].payload.pop_back();
  EXPECT_EQ(Verify(cut, acked).corrupted, 1u);
}

// The progress line's p99 over one second: from two snapshots' cumulative
// buckets (the later one also holding everything before the window).
TEST(DemoProgressTest, WindowQuantileUsesOnlyTheWindow) {
  HistogramSnapshot before, after;
  // Before: 100 values at <= 1 ms. After: those, plus 100 at (1, 2] ms
  // and 1 at (8, 10] ms.
  before.count = 100;
  before.max = 0.001;
  before.buckets = {{0.001, 100}, {HUGE_VAL, 100}};
  after.count = 201;
  after.max = 0.009;
  after.buckets = {{0.001, 100}, {0.002, 200}, {0.004, 200}, {0.008, 200}, {0.010, 201}, {HUGE_VAL, 201}};
  const double p50 = WindowQuantile(before, after, 0.50);
  EXPECT_GT(p50, 0.001);
  EXPECT_LE(p50, 0.002);
  const double p99 = WindowQuantile(before, after, 0.99);
  EXPECT_GT(p99, 0.001) << "the window's p99 must ignore the 100 older values";
  EXPECT_LE(p99, 0.002);
  EXPECT_GT(WindowQuantile(before, after, 1.0), 0.008);
  EXPECT_LE(WindowQuantile(before, after, 1.0), 0.009);  // never above the max
  EXPECT_EQ(WindowQuantile(after, after, 0.99), 0.0);    // nothing recorded in the window
  // A window that starts from an empty histogram.
  HistogramSnapshot empty;
  empty.buckets = {{HUGE_VAL, 0}};
  EXPECT_LE(WindowQuantile(empty, after, 0.4), 0.001);
}

}  // namespace
}  // namespace shardwal
