// SPDX-License-Identifier: Apache-2.0
// `shardwal bench`'s write volume, run as the real binary: the JSON result's
// payload_bytes, device_bytes and write_amplification (and their split),
// --payload timeseries, --compression / --compression-level, --throttle-mbps,
// and the flags they refuse.
#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "tests/tools_fixture.h"

namespace shardwal {
namespace {

using namespace tools_test;

json LastJsonLine(const std::string& out) {
  std::istringstream in(out);
  std::string line, last;
  while (std::getline(in, line)) {
    if (!line.empty()) last = line;
  }
  return json::parse(last);
}

// The split adds up: device = payload + framing + preparation - saved + other.
void ExpectVolumeConsistent(const json& j) {
  ASSERT_TRUE(j.contains("write_volume")) << j.dump();
  const json& v = j["write_volume"];
  ASSERT_TRUE(v["measured"].get<bool>()) << "this kernel has /proc/self/io: " << j.dump();
  const auto payload = j["payload_bytes"].get<std::uint64_t>();
  const auto device = j["device_bytes"].get<std::uint64_t>();
  ASSERT_GT(payload, 0u);
  EXPECT_NEAR(j["write_amplification"].get<double>(), static_cast<double>(device) / static_cast<double>(payload),
              1e-9);
  EXPECT_EQ(v["payload_bytes"].get<std::uint64_t>(), payload);
  const auto sum = static_cast<std::int64_t>(payload + v["framing_bytes"].get<std::uint64_t>() +
                                             v["preparation_bytes"].get<std::uint64_t>()) -
                   static_cast<std::int64_t>(v["compression_saved_bytes"].get<std::uint64_t>()) +
                   v["other_bytes"].get<std::int64_t>();
  EXPECT_EQ(sum, static_cast<std::int64_t>(device)) << j.dump();
}

TEST(BenchVolumeTest, FixedRecordsWriteAtLeastTheirPayloadWithFraming) {
  // Group commit: everything is fdatasync'ed, so every byte reached the device.
  const CliResult r = Cli("bench --records 4000 --writers 2 --shards 2 --record-bytes 100 --tags 10 "
                          "--preallocation allocate --json");
  ASSERT_EQ(r.code, 0) << Describe(r);
  const json j = LastJsonLine(r.out);
  ExpectVolumeConsistent(j);
  // Payload: the 100 bytes and the tag ("sensor.000001": 13 bytes) of each record.
  EXPECT_EQ(j["payload_bytes"].get<std::uint64_t>(), 4000u * (100 + 13));
  EXPECT_EQ(j["appended_payload_bytes"].get<std::uint64_t>(), 4000u * 100);
  EXPECT_GE(j["device_bytes"].get<std::uint64_t>(), j["payload_bytes"].get<std::uint64_t>());
  // Framing: at least a 28-byte record header each, and a batch header per batch.
  EXPECT_GE(j["write_volume"]["framing_bytes"].get<std::uint64_t>(),
            4000u * 28 + j["batches"].get<std::uint64_t>() * 72);
  // kAllocate writes no zeros.
  EXPECT_EQ(j["write_volume"]["preparation_bytes"].get<std::uint64_t>(), 0u);
  EXPECT_EQ(j["compression"], "none");
  EXPECT_EQ(j["payload"], "fixed");
  EXPECT_NE(r.out.find("write amplification:"), std::string::npos) << r.out;
}

TEST(BenchVolumeTest, ZeroFillCountsItsPreparation) {
  const CliResult r = Cli("bench --records 1000 --writers 1 --shards 1 --preallocation zero-fill "
                          "--segment-bytes 1MiB --json");
  ASSERT_EQ(r.code, 0) << Describe(r);
  const json j = LastJsonLine(r.out);
  ExpectVolumeConsistent(j);
  // At least the first segment (1 MiB here) was zero-filled.
  EXPECT_GE(j["write_volume"]["preparation_bytes"].get<std::uint64_t>(), 1u << 20);
  EXPECT_GE(j["device_bytes"].get<std::uint64_t>(), j["write_volume"]["preparation_bytes"].get<std::uint64_t>());
}

TEST(BenchVolumeTest, TimeSeriesPoints) {
  const CliResult r = Cli("bench --payload timeseries --records 3000 --writers 3 --tags 30 --wait-every 100 --json");
  ASSERT_EQ(r.code, 0) << Describe(r);
  const json j = LastJsonLine(r.out);
  ExpectVolumeConsistent(j);
  EXPECT_EQ(j["payload"], "timeseries");
  EXPECT_EQ(j["records"], 3000);
  const double per_point = j["appended_payload_bytes"].get<double>() / 3000;
  EXPECT_GT(per_point, 250.0);
  EXPECT_LT(per_point, 450.0);
  // The WAL counted the tags (hostnames, "host_N") too.
  EXPECT_GT(j["payload_bytes"].get<std::uint64_t>(), j["appended_payload_bytes"].get<std::uint64_t>() + 3000 * 6);
  EXPECT_NE(r.out.find("TSBS cpu-only"), std::string::npos) << r.out;
}

TEST(BenchVolumeTest, CompressionAndThrottleFlagsReachTheResult) {
  const CliResult r =
      Cli("bench --records 500 --writers 1 --compression zstd --compression-level 5 --throttle-mbps 500 --json");
  ASSERT_EQ(r.code, 0) << Describe(r);
  const json j = LastJsonLine(r.out);
  EXPECT_EQ(j["compression"], "zstd");
  EXPECT_EQ(j["compression_level"], 5);
  EXPECT_DOUBLE_EQ(j["throttle_mbps"].get<double>(), 500.0);
  EXPECT_NE(r.out.find("zstd (level 5)"), std::string::npos) << r.out;
  ExpectVolumeConsistent(j);
}

TEST(BenchVolumeTest, BadFlagsAreRefused) {
  struct Case {
    std::string args, says;
  };
  const Case cases[] = {
      {"bench --compression gzip", "--compression"},
      {"bench --compression-level 3", "--compression-level"},
      {"bench --compression none --compression-level 3", "needs --compression lz4 or zstd"},
      {"bench --compression zstd --compression-level 20", "zstd: 1..19"},
      {"bench --payload json", "--payload"},
      {"bench --payload timeseries --record-bytes 64", "--record-bytes does not apply to --payload timeseries"},
      {"bench --throttle-mbps -1", "--throttle-mbps"},
      {"bench --sweep --payload timeseries", "--payload does not apply to --sweep"},
      {"bench --compare --payload timeseries --record-bytes 64", "--record-bytes does not apply"},
      {"bench --compare --compression zstd --compression-level 30", "zstd: 1..19"},
      {"bench --throttle-mbps 100 --compare", "--throttle-mbps does not apply to --compare"},
      {"bench --sweep --compression zstd", "--compression does not apply to --sweep"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.args);
    const CliResult r = Cli(c.args + " --seconds 0.1");
    EXPECT_EQ(r.code, 2) << Describe(r);
    EXPECT_NE(r.err.find(c.says), std::string::npos) << Describe(r);
  }
}

TEST(BenchVolumeTest, CompareShowsWriteAmplificationPerPeer) {
  const CliResult r = Cli("bench --compare --writers 2 --seconds 0.3 --peers shardwal,naive --no-probe --json");
  ASSERT_EQ(r.code, 0) << Describe(r);
  EXPECT_NE(r.out.find("write amplification (device bytes / payload bytes"), std::string::npos) << r.out;
  const json j = LastJsonLine(r.out);
  ASSERT_EQ(j["results"].size(), 2u);
  for (const json& row : j["results"]) {
    SCOPED_TRACE(row["peer"].get<std::string>());
    ExpectVolumeConsistent(row);
    // Every append was synced: the device saw at least the payload.
    EXPECT_GE(row["device_bytes"].get<std::uint64_t>(), row["payload_bytes"].get<std::uint64_t>());
  }
  // naive: the payload only (no tag), an 8-byte header each.
  const json& naive = j["results"][1];
  EXPECT_EQ(naive["payload_bytes"].get<std::uint64_t>(), naive["records"].get<std::uint64_t>() * 100);
  EXPECT_EQ(naive["write_volume"]["framing_bytes"].get<std::uint64_t>(), naive["records"].get<std::uint64_t>() * 8);
}

TEST(BenchVolumeTest, CompareTimeSeriesWithCompressionAcrossPeers) {
  const CliResult r = Cli("bench --compare --payload timeseries --tags 20 --compression zstd --writers 2 "
                          "--wait-every 100 --seconds 0.3 --peers shardwal,naive,rocksdb --no-probe --json");
  ASSERT_EQ(r.code, 0) << Describe(r);
  EXPECT_NE(r.out.find("time-series points (TSBS cpu-only, 20 hosts), compression zstd"), std::string::npos) << r.out;
  const json j = LastJsonLine(r.out);
  EXPECT_EQ(j["workload"]["payload"], "timeseries");
  EXPECT_EQ(j["workload"]["compression"], "zstd");
  for (const json& row : j["results"]) {
    SCOPED_TRACE(row["peer"].get<std::string>());
    ASSERT_GT(row["records"].get<std::uint64_t>(), 0u);
    // About 355 bytes a point, whoever appends it.
    const double per_record = row["mb_per_s"].get<double>() * 1e6 / row["records_per_s"].get<double>();
    EXPECT_GT(per_record, 250.0);
    EXPECT_LT(per_record, 450.0);
    ExpectVolumeConsistent(row);
    if (row["peer"] == "rocksdb") {
      EXPECT_NE(row["label"].get<std::string>().find("wal_compression=zstd"), std::string::npos) << row.dump();
    }
  }
  // rocksdb is skipped without RocksDB; the others always run.
  EXPECT_GE(j["results"].size(), 2u);
}

}  // namespace
}  // namespace shardwal
