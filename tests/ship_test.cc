// SPDX-License-Identifier: Apache-2.0
// Shipping a WAL to a real NATS JetStream server and restoring it
// (include/shardwal/ship.h, docs/replication.md). Every test starts its own
// nats-server -js (tests/nats_server.h: a free loopback port, a scratch
// store) and stops it.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "shardwal/file_system_wrapper.h"
#include "shardwal/recovery.h"
#include "shardwal/ship.h"
#include "shardwal/wal.h"
#include "src/foundation/format.h"
#include "src/foundation/manifest.h"
#include "src/ship/message_codec.h"
#include "src/ship/stream_client.h"
#include "tests/cli_util.h"
#include "tests/nats_server.h"
#include "tests/tagged_records.h"

namespace shardwal {
namespace {

using testing::NatsServer;
using testing::TempDir;

constexpr std::uint32_t kShards = 4;

Options WalOptions(const std::string& dir) {
  Options o;
  o.dir = dir;
  o.num_shards = kShards;
  o.routing = Routing::kTag;
  o.segment_bytes = 4u << 20;
  return o;
}

// Appends `n` records in batches of up to 1000 (tests/tagged_records.h);
// returns the last LSN.
Lsn AppendRecords(Wal& wal, std::uint64_t n, std::uint64_t seed) {
  return testing::AppendTaggedRecords(wal, n, seed, 1000);
}

// Writes a closed WAL of `n` records.
void MakeWal(const std::string& dir, std::uint64_t n) {
  auto wal = Wal::Open(WalOptions(dir));
  ASSERT_TRUE(wal.ok()) << wal.status().ToString();
  AppendRecords(**wal, n, 1);
  ASSERT_TRUE((*wal)->Close().ok());
}

std::string WalIdOf(const std::string& dir) {
  auto m = Manifest::Load(*FileSystem::Default(), dir);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return m.ok() ? WalIdHex(m->wal_id()) : "";
}

// What the stream holds: how often each LSN 1..max appears, and the checks
// of every message's body and chain.
struct StreamContents {
  std::vector<std::uint32_t> count;  // index: LSN
  std::uint64_t messages = 0;
  std::string error;
  // Every LSN 1..n exactly once, none above.
  ::testing::AssertionResult ExactlyOnce(Lsn n) const {
    if (!error.empty()) return ::testing::AssertionFailure() << error;
    if (count.size() != n + 1) return ::testing::AssertionFailure() << "highest LSN " << count.size() - 1 << ", want " << n;
    for (Lsn l = 1; l <= n; ++l) {
      if (count[l] != 1) return ::testing::AssertionFailure() << "LSN " << l << " is in the stream " << count[l] << " times";
    }
    return ::testing::AssertionSuccess();
  }
};

StreamContents ReadStream(const std::string& url, const std::string& stream) {
  StreamContents c;
  c.count.resize(1, 0);
  auto client = ship::StreamClient::Connect(url, std::chrono::milliseconds(200), std::chrono::seconds(5));
  if (!client.ok()) {
    c.error = client.status().ToString();
    return c;
  }
  auto st = (*client)->State(stream);
  if (!st.ok()) {
    c.error = st.status().ToString();
    return c;
  }
  std::vector<Lsn> last(kShards, kNoLsn);
  for (std::uint64_t seq = st->first_seq; seq <= st->last_seq && st->messages > 0; ++seq) {
    auto msg = (*client)->GetMessage(stream, seq);
    if (!msg.ok()) {
      c.error = msg.status().ToString();
      return c;
    }
    const std::string where = "sequence " + std::to_string(seq);
    auto meta = ship::GetHeaders(msg->get(), where);
    if (!meta.ok()) {
      c.error = meta.status().ToString();
      return c;
    }
    if (meta->prev_lsn != last[meta->shard]) {
      c.error = where + ": chain broken: prev " + std::to_string(meta->prev_lsn) + ", last " +
                std::to_string(last[meta->shard]);
      return c;
    }
    last[meta->shard] = meta->last_lsn;
    const std::string_view body(natsMsg_GetData(msg->get()), natsMsg_GetDataLength(msg->get()));
    Status s = ship::CheckBody(body, *meta, where, [&](const ship::BodyRecord& r) {
      if (c.count.size() <= r.lsn) c.count.resize(r.lsn + 1, 0);
      ++c.count[r.lsn];
      return Status::OK();
    });
    if (!s.ok()) {
      c.error = s.ToString();
      return c;
    }
    ++c.messages;
  }
  return c;
}

class ShipTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.Start().ok()); }

  ShipOptions Ship(const std::string& stream = "") const {
    ShipOptions o;
    o.nats_url = server_.client_url();
    o.stream = stream;
    o.max_backoff = std::chrono::milliseconds(200);
    return o;
  }
  RestoreOptions RestoreTo(const std::string& dir, const std::string& stream) const {
    RestoreOptions o;
    o.nats_url = server_.client_url();
    o.stream = stream;
    o.dir = dir;
    o.segment_bytes = 4u << 20;
    return o;
  }
  // Ships `dir` to the end (not following); the stats after.
  ShipStats ShipAll(const std::string& dir, const ShipOptions& so) {
    Options o;
    o.dir = dir;
    auto shipper = Shipper::Open(o, so, false);
    EXPECT_TRUE(shipper.ok()) << shipper.status().ToString();
    if (!shipper.ok()) return {};
    const Status s = (*shipper)->Wait();
    EXPECT_TRUE(s.ok()) << s.ToString();
    return (*shipper)->Stats();
  }
  testing::CliResult Cli(const std::string& args) const { return testing::RunCli(SHARDWAL_CLI_PATH, args); }
  // `shardwal dump --json --payload hex` of both WALs is identical: the same
  // records, LSNs, tags, payloads and commit times.
  ::testing::AssertionResult SameDump(const std::string& a_dir, const std::string& b_dir) const {
    const testing::CliResult a = Cli("dump --json --payload hex " + testing::Quote(a_dir));
    const testing::CliResult b = Cli("dump --json --payload hex " + testing::Quote(b_dir));
    if (a.code != 0) return ::testing::AssertionFailure() << testing::Describe(a);
    if (b.code != 0) return ::testing::AssertionFailure() << testing::Describe(b);
    if (a.out != b.out) {
      return ::testing::AssertionFailure() << "dumps differ (" << a.out.size() << " vs " << b.out.size() << " bytes)";
    }
    return ::testing::AssertionSuccess();
  }

  NatsServer server_;
  TempDir tmp_;
};

TEST_F(ShipTest, ShipAndRestoreRoundTrip) {
  const std::uint64_t n = SHARDWAL_SHIP_TEST_RECORDS;
  const std::string src = tmp_.Sub("src"), dst = tmp_.Sub("dst");
  auto t0 = std::chrono::steady_clock::now();
  MakeWal(src, n);
  auto t1 = std::chrono::steady_clock::now();
  const ShipStats st = ShipAll(src, Ship());
  auto t2 = std::chrono::steady_clock::now();
  const std::string stream = "shardwal-" + WalIdOf(src);
  EXPECT_EQ(st.shipped_lsn, n);
  EXPECT_EQ(st.durable_lsn, n);
  EXPECT_EQ(st.records, n);
  EXPECT_EQ(st.lag_records, 0u);
  auto restored = Restore(RestoreTo(dst, stream));
  auto t3 = std::chrono::steady_clock::now();
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  EXPECT_EQ(restored->records, n);
  EXPECT_EQ(restored->first_lsn, 1u);
  EXPECT_EQ(restored->last_lsn, n);
  EXPECT_EQ(restored->wal_id, WalIdOf(src));
  const double ship_s = std::chrono::duration<double>(t2 - t1).count();
  std::printf("write %.2f s; ship %llu records, %llu bytes in %llu messages: %.2f s (%.0f records/s, %.1f MB/s); "
              "restore %.2f s\n",
              std::chrono::duration<double>(t1 - t0).count(), static_cast<unsigned long long>(st.records),
              static_cast<unsigned long long>(st.bytes), static_cast<unsigned long long>(st.messages), ship_s,
              st.records / ship_s, st.bytes / ship_s / 1e6, std::chrono::duration<double>(t3 - t2).count());
  EXPECT_TRUE(ReadStream(server_.client_url(), stream).ExactlyOnce(n));
  const std::string metrics = ShipPrometheusText(st, stream);
  EXPECT_NE(metrics.find("shardwal_ship_shipped_lsn{stream=\"" + stream + "\"} " + std::to_string(n)),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("shardwal_ship_publish_latency_seconds_count{stream=\"" + stream + "\"} " +
                         std::to_string(st.messages)),
            std::string::npos)
      << metrics;

  EXPECT_TRUE(SameDump(src, dst));

  // The restored WAL opens read-write and goes on from N.
  auto wal = Wal::Open(WalOptions(dst));
  ASSERT_TRUE(wal.ok()) << wal.status().ToString();
  auto lsn = (*wal)->Append("t0", "after restore");
  ASSERT_TRUE(lsn.ok()) << lsn.status().ToString();
  EXPECT_EQ(*lsn, n + 1);
  EXPECT_TRUE((*wal)->Close().ok());
}

// A WAL written with compressed batches (issue 16) ships through its
// tailer like any other: the stream and the restored WAL hold the same
// records (the restore writes them uncompressed).
TEST_F(ShipTest, CompressedWalShipsAndRestoresTheSameRecords) {
  const std::uint64_t n = 5000;
  const std::string src = tmp_.Sub("src"), dst = tmp_.Sub("dst");
  Options o = WalOptions(src);
  o.compression = Compression::kZstd;
  {
    auto wal = Wal::Open(o);
    ASSERT_TRUE(wal.ok()) << wal.status().ToString();
    AppendRecords(**wal, n, 1);
    const ShardStats total = (*wal)->Stats().total;
    EXPECT_LT(total.bytes, total.uncompressed_bytes);  // batches were stored compressed
    ASSERT_TRUE((*wal)->Close().ok());
  }
  const ShipStats st = ShipAll(src, Ship());
  EXPECT_EQ(st.shipped_lsn, n);
  const std::string stream = "shardwal-" + WalIdOf(src);
  EXPECT_TRUE(ReadStream(server_.client_url(), stream).ExactlyOnce(n));
  auto restored = Restore(RestoreTo(dst, stream));
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  EXPECT_EQ(restored->records, n);
  EXPECT_TRUE(SameDump(src, dst));
}

// `shardwal bench --ship`: the run ships every record exactly once, the
// report carries the shipped figures (and, with --ship-probe, the probe's);
// bad combinations are usage errors, an unreachable server a failure that
// names it.
TEST_F(ShipTest, BenchShipReportsShippedFiguresAndTheProbe) {
  const std::uint64_t n = 20000;
  const testing::CliResult r =
      Cli("bench --ship " + server_.client_url() +
          " --stream bench-test --ship-probe --ship-probe-seconds 0.1 --records 20000 --writers 2 --shards 2 "
          "--record-bytes 256 --wait-every 100 --json");
  ASSERT_EQ(r.code, 0) << testing::Describe(r);
  for (const char* text : {"probe:", "shipped/s:", "ship catch-up:", "ship lag max:", "publish latency:"}) {
    EXPECT_NE(r.out.find(text), std::string::npos) << text << "\n" << testing::Describe(r);
  }
  std::string last, line;
  std::istringstream lines(r.out);
  while (std::getline(lines, line)) {
    if (!line.empty()) last = line;
  }
  const nlohmann::json j = nlohmann::json::parse(last);
  ASSERT_TRUE(j["ship"].is_object()) << last;
  const nlohmann::json& ship = j["ship"];
  EXPECT_EQ(j["records"].get<std::uint64_t>(), n);
  EXPECT_EQ(ship["stream"], "bench-test");
  EXPECT_EQ(ship["records"].get<std::uint64_t>(), n) << ship.dump();
  EXPECT_GT(ship["messages"].get<std::uint64_t>(), 0u);
  EXPECT_GE(ship["catchup_seconds"].get<double>(), 0.0);
  EXPECT_GT(ship["records_per_s"].get<double>(), 0.0);
  EXPECT_GT(ship["publish_p50_us"].get<double>(), 0.0);
  EXPECT_GE(ship["publish_p99_us"].get<double>(), ship["publish_p50_us"].get<double>());
  EXPECT_TRUE(ship["outages"].empty()) << ship.dump();
  EXPECT_GT(ship["probe"]["sync_4k_msgs_per_s"].get<double>(), 0.0) << ship.dump();
  EXPECT_GT(ship["probe"]["async_256k_mb_per_s"].get<double>(), 0.0) << ship.dump();
  EXPECT_TRUE(ReadStream(server_.client_url(), "bench-test").ExactlyOnce(n));

  for (const char* args : {"bench --stream s --seconds 0.1", "bench --ship-probe --seconds 0.1",
                           "bench --ship nats://127.0.0.1:1 --compare"}) {
    const testing::CliResult u = Cli(args);
    EXPECT_EQ(u.code, 2) << args << "\n" << testing::Describe(u);
  }
  const testing::CliResult down = Cli("bench --ship nats://127.0.0.1:1 --seconds 0.1");
  EXPECT_EQ(down.code, 1) << testing::Describe(down);
  EXPECT_NE(down.err.find("nats://127.0.0.1:1"), std::string::npos) << testing::Describe(down);
}

// `shardwal bench --durability replicated`: every append waits for the
// stream's ack (latency append_to_replicated), every record is shipped; the
// probe reports the small synchronous publish's round trip beside it.
// Without --ship it is a usage error.
TEST_F(ShipTest, BenchDurabilityReplicated) {
  const testing::CliResult r =
      Cli("bench --ship " + server_.client_url() +
          " --stream bench-replicated --ship-probe --ship-probe-seconds 0.1 --records 2000 --writers 4 --shards 2 "
          "--record-bytes 100 --durability replicated --json");
  ASSERT_EQ(r.code, 0) << testing::Describe(r);
  std::string last, line;
  std::istringstream lines(r.out);
  while (std::getline(lines, line)) {
    if (!line.empty()) last = line;
  }
  const nlohmann::json j = nlohmann::json::parse(last);
  EXPECT_EQ(j["records"].get<std::uint64_t>(), 2000u);
  EXPECT_EQ(j["latency"], "append_to_replicated") << last;
  EXPECT_EQ(j["latency_sampled_every"].get<std::uint32_t>(), 1u) << last;
  EXPECT_GT(j["p50_us"].get<double>(), 0.0) << last;
  EXPECT_GT(j["ship"]["probe"]["sync_100b_rtt_us"].get<double>(), 0.0) << last;
  EXPECT_EQ(j["ship"]["records"].get<std::uint64_t>(), 2000u) << last;
  EXPECT_TRUE(ReadStream(server_.client_url(), "bench-replicated").ExactlyOnce(2000));
  for (const char* args : {"bench --durability replicated --seconds 0.1",
                           "bench --ship nats://127.0.0.1:1 --durability replicated --wait-every 10 --seconds 0.1"}) {
    const testing::CliResult u = Cli(args);
    EXPECT_EQ(u.code, 2) << args << "\n" << testing::Describe(u);
    EXPECT_NE(u.err.find("durability replicated"), std::string::npos) << testing::Describe(u);
  }
}

TEST_F(ShipTest, ResumesAfterTheStreamsLastMessage) {
  const std::string src = tmp_.Sub("src");
  MakeWal(src, 5000);
  EXPECT_EQ(ShipAll(src, Ship()).records, 5000u);
  {
    auto wal = Wal::Open(WalOptions(src));
    ASSERT_TRUE(wal.ok()) << wal.status().ToString();
    AppendRecords(**wal, 3000, 2);
    ASSERT_TRUE((*wal)->Close().ok());
  }
  const ShipStats st = ShipAll(src, Ship());
  EXPECT_EQ(st.records, 3000u);  // only what was new
  EXPECT_EQ(st.shipped_lsn, 8000u);
  EXPECT_EQ(ShipAll(src, Ship()).records, 0u);  // nothing left
  EXPECT_TRUE(ReadStream(server_.client_url(), "shardwal-" + WalIdOf(src)).ExactlyOnce(8000));
}

TEST_F(ShipTest, StreamOfAnotherWalIsRefused) {
  const std::string a = tmp_.Sub("a"), b = tmp_.Sub("b");
  MakeWal(a, 100);
  MakeWal(b, 100);
  ShipAll(a, Ship("shared"));
  Options o;
  o.dir = b;
  auto shipper = Shipper::Open(o, Ship("shared"), false);
  ASSERT_FALSE(shipper.ok());
  EXPECT_TRUE(shipper.status().IsInvalidArgument()) << shipper.status().ToString();
  const std::string msg = shipper.status().ToString();
  EXPECT_NE(msg.find("stream shared"), std::string::npos) << msg;
  EXPECT_NE(msg.find(WalIdOf(a)), std::string::npos) << msg;
  EXPECT_NE(msg.find(WalIdOf(b)), std::string::npos) << msg;
  // The CLI says the same and exits 1.
  const testing::CliResult r =
      Cli("ship --nats " + server_.client_url() + " --stream shared " + testing::Quote(b));
  EXPECT_EQ(r.code, 1) << testing::Describe(r);
  EXPECT_NE(r.err.find("belongs to another WAL"), std::string::npos) << testing::Describe(r);
}

// `shardwal ship DIR` (not following) ships only what the writer made
// durable: up to its published watermark. A WAL that publishes none (an
// older version's, or publish_watermark off) is shipped only while no
// writer has it open (under the WAL's own lock).
TEST_F(ShipTest, ShippingOnceShipsOnlyWhatIsDurable) {
  const std::string src = tmp_.Sub("src");
  Options wo = WalOptions(src);
  wo.publish_watermark = false;
  auto wal = Wal::Open(wo);
  ASSERT_TRUE(wal.ok()) << wal.status().ToString();
  AppendRecords(**wal, 2000, 1);
  Options o;
  o.dir = src;
  auto live = Shipper::Open(o, Ship(), false);
  ASSERT_FALSE(live.ok());
  EXPECT_TRUE(live.status().IsBusy()) << live.status().ToString();
  EXPECT_NE(live.status().ToString().find("publishes no WATERMARK"), std::string::npos) << live.status().ToString();
  ASSERT_TRUE((*wal)->Close().ok());
  EXPECT_EQ(ShipAll(src, Ship()).records, 2000u);  // closed: all of it, by recovery
  // Published: shipping once beside the live writer stops at its W.
  Options wp = WalOptions(src);
  auto wal2 = Wal::Open(wp);
  ASSERT_TRUE(wal2.ok()) << wal2.status().ToString();
  AppendRecords(**wal2, 3000, 2);
  const Lsn durable = (*wal2)->DurableLsn();
  const ShipStats st = ShipAll(src, Ship());
  EXPECT_EQ(st.shipped_lsn, durable);
  EXPECT_EQ(st.records, durable - 2000);
  ASSERT_TRUE((*wal2)->Close().ok());
  EXPECT_TRUE(ReadStream(server_.client_url(), "shardwal-" + WalIdOf(src)).ExactlyOnce(durable));
}

// Two shippers of one WAL directory: the second fails at once (Busy, naming
// the lock); once the first is gone another may start.
TEST_F(ShipTest, ASecondShipperOfTheSameDirectoryFails) {
  const std::string src = tmp_.Sub("src");
  MakeWal(src, 1000);
  Options o;
  o.dir = src;
  auto s1 = Shipper::Open(o, Ship(), true);
  ASSERT_TRUE(s1.ok()) << s1.status().ToString();
  auto s2 = Shipper::Open(o, Ship(), false);
  ASSERT_FALSE(s2.ok());
  EXPECT_TRUE(s2.status().IsBusy()) << s2.status().ToString();
  EXPECT_NE(s2.status().ToString().find("SHIPPER.LOCK"), std::string::npos) << s2.status().ToString();
  // The CLI says so too (exit 1).
  const testing::CliResult r = Cli("ship --nats " + server_.client_url() + " " + testing::Quote(src));
  EXPECT_EQ(r.code, 1) << testing::Describe(r);
  EXPECT_NE(r.err.find("another shipper"), std::string::npos) << testing::Describe(r);
  (*s1)->Stop();
  EXPECT_TRUE((*s1)->Wait().ok());
  s1->reset();
  auto s3 = Shipper::Open(o, Ship(), false);
  ASSERT_TRUE(s3.ok()) << s3.status().ToString();
  EXPECT_TRUE((*s3)->Wait().ok());
  EXPECT_TRUE(ReadStream(server_.client_url(), "shardwal-" + WalIdOf(src)).ExactlyOnce(1000));
}

// Two shippers that do race - two copies of one WAL (a restored backup
// beside the original), shipped at once to the stream of its WAL id: for
// each message one wins, the other re-reads the subject and goes on after
// it, so every LSN is in the stream exactly once.
TEST_F(ShipTest, TwoCopiesShippedAtOnceShipEachLsnOnce) {
  const std::string src = tmp_.Sub("src");
  const std::uint64_t n = 100000;
  MakeWal(src, n);
  const std::string copy = tmp_.Sub("copy");
  std::filesystem::remove_all(copy);
  std::filesystem::copy(src, copy, std::filesystem::copy_options::recursive);
  ShipOptions so = Ship();
  so.max_message_bytes = 4096;  // many messages: the two race on each
  Options o1, o2;
  o1.dir = src;
  o2.dir = copy;
  auto s1 = Shipper::Open(o1, so, false);
  auto s2 = Shipper::Open(o2, so, false);
  ASSERT_TRUE(s1.ok()) << s1.status().ToString();
  ASSERT_TRUE(s2.ok()) << s2.status().ToString();
  EXPECT_TRUE((*s1)->Wait().ok());
  EXPECT_TRUE((*s2)->Wait().ok());
  const ShipStats a = (*s1)->Stats(), b = (*s2)->Stats();
  EXPECT_EQ(a.shipped_lsn, n);
  EXPECT_EQ(b.shipped_lsn, n);
  std::printf("shipper 1: %llu messages, shipper 2: %llu\n", static_cast<unsigned long long>(a.messages),
              static_cast<unsigned long long>(b.messages));
  EXPECT_TRUE(ReadStream(server_.client_url(), "shardwal-" + WalIdOf(src)).ExactlyOnce(n));
}

TEST_F(ShipTest, ServerStoppedMidRunShipperCatchesUp) {
  const std::string src = tmp_.Sub("src");
  const std::uint64_t n = 100000;
  MakeWal(src, n);
  ShipOptions so = Ship();
  so.max_message_bytes = 2048;
  Options o;
  o.dir = src;
  auto shipper = Shipper::Open(o, so, false);
  ASSERT_TRUE(shipper.ok()) << shipper.status().ToString();
  ASSERT_TRUE(server_.Stop().ok());
  std::this_thread::sleep_for(std::chrono::seconds(2));  // the outage (libnats saw the disconnect long before)
  EXPECT_FALSE((*shipper)->health().ok());
  ASSERT_TRUE(server_.Restart().ok());
  EXPECT_TRUE((*shipper)->Wait().ok());
  const ShipStats st = (*shipper)->Stats();
  EXPECT_EQ(st.shipped_lsn, n);
  EXPECT_GE(st.reconnects, 1u);
  EXPECT_TRUE((*shipper)->health().ok()) << (*shipper)->health().ToString();
  EXPECT_TRUE(ReadStream(server_.client_url(), "shardwal-" + WalIdOf(src)).ExactlyOnce(n));
}

// Shipper::Attach in the WAL's own process: ships what is appended, while
// it is appended, and a later Attach resumes after the stream's end.
TEST_F(ShipTest, AttachedShipperShipsWhileAppending) {
  const std::string src = tmp_.Sub("src");
  Lsn last = kNoLsn;
  for (int round = 0; round < 2; ++round) {
    auto wal = Wal::Open(WalOptions(src));
    ASSERT_TRUE(wal.ok()) << wal.status().ToString();
    auto shipper = Shipper::Attach(**wal, Ship());
    ASSERT_TRUE(shipper.ok()) << shipper.status().ToString();
    std::thread a([&] { AppendRecords(**wal, 30000, 10 + round); });
    std::thread b([&] { AppendRecords(**wal, 30000, 20 + round); });
    a.join();
    b.join();
    last = (*wal)->LastLsn();
    const Status s = (*shipper)->WaitForShipped(last, std::chrono::seconds(30));
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_TRUE((*shipper)->health().ok()) << (*shipper)->health().ToString();
    (*shipper)->Stop();
    EXPECT_TRUE((*shipper)->Wait().ok());
    shipper->reset();
    ASSERT_TRUE((*wal)->Close().ok());
  }
  EXPECT_EQ(last, 120000u);
  EXPECT_TRUE(ReadStream(server_.client_url(), "shardwal-" + WalIdOf(src)).ExactlyOnce(last));
}

// NATS down: local appends go on unaffected (none fails, all durable); the
// attached shipper says it is degraded, reconnects and catches up.
TEST_F(ShipTest, NatsDownLocalAppendsUnaffectedShipperCatchesUp) {
  const std::string src = tmp_.Sub("src");
  auto wal = Wal::Open(WalOptions(src));
  ASSERT_TRUE(wal.ok()) << wal.status().ToString();
  ShipOptions so = Ship();
  so.max_message_bytes = 4096;
  auto shipper = Shipper::Attach(**wal, so);
  ASSERT_TRUE(shipper.ok()) << shipper.status().ToString();
  AppendRecords(**wal, 10000, 1);
  ASSERT_TRUE((*shipper)->WaitForShipped((*wal)->LastLsn(), std::chrono::seconds(30)).ok());
  ASSERT_TRUE(server_.Stop().ok());
  const auto t0 = std::chrono::steady_clock::now();
  AppendRecords(**wal, 50000, 2);  // EXPECTs every append OK
  const double append_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ((*wal)->DurableLsn(), 60000u);
  // Nothing can be shipped now; by then the shipper knows it is disconnected.
  const Status down = (*shipper)->WaitForShipped(60000, std::chrono::milliseconds(500));
  EXPECT_TRUE(down.IsBusy()) << down.ToString();
  EXPECT_FALSE((*shipper)->health().ok());
  EXPECT_LT((*shipper)->Stats().shipped_lsn, 60000u);
  ASSERT_TRUE(server_.Restart().ok());
  const Status s = (*shipper)->WaitForShipped(60000, std::chrono::seconds(30));
  ASSERT_TRUE(s.ok()) << s.ToString();
  const ShipStats st = (*shipper)->Stats();
  EXPECT_GE(st.reconnects, 1u);
  std::printf("50000 appends with NATS down: %.3f s; %llu publish errors, %llu reconnects\n", append_s,
              static_cast<unsigned long long>(st.publish_errors), static_cast<unsigned long long>(st.reconnects));
  shipper->reset();
  ASSERT_TRUE((*wal)->Close().ok());
  EXPECT_TRUE(ReadStream(server_.client_url(), "shardwal-" + WalIdOf(src)).ExactlyOnce(60000));
}

// The WAL's process restarts while NATS is down and the application keeps
// checkpointing: what the shipper had not shipped stays on disk (its hold
// outlives it and the MANIFEST records how far each shard released), and
// the next process's shipper resumes below the checkpoint and ships it all.
TEST_F(ShipTest, UnshippedRecordsSurviveARestartWithCheckpoints) {
  const std::string src = tmp_.Sub("src");
  Options wo = WalOptions(src);
  wo.segment_bytes = 64u << 10;  // many segments, so checkpoints could release some
  ShipOptions so = Ship();
  so.max_message_bytes = 4096;
  {
    auto wal = Wal::Open(wo);
    ASSERT_TRUE(wal.ok()) << wal.status().ToString();
    auto shipper = Shipper::Attach(**wal, so);
    ASSERT_TRUE(shipper.ok()) << shipper.status().ToString();
    AppendRecords(**wal, 5000, 1);
    ASSERT_TRUE((*shipper)->WaitForShipped((*wal)->LastLsn(), std::chrono::seconds(30)).ok());
    ASSERT_TRUE(server_.Stop().ok());
    AppendRecords(**wal, 20000, 2);
    ASSERT_TRUE((*wal)->Checkpoint((*wal)->DurableLsn()).ok());
    shipper->reset();  // shut down with 20000 records unshipped
    ASSERT_TRUE((*wal)->Checkpoint((*wal)->DurableLsn()).ok());
    ASSERT_TRUE((*wal)->Close().ok());
  }
  ASSERT_TRUE(server_.Restart().ok());
  auto wal = Wal::Open(wo);
  ASSERT_TRUE(wal.ok()) << wal.status().ToString();
  EXPECT_EQ((*wal)->Stats().checkpoint_lsn, 25000u);
  auto shipper = Shipper::Attach(**wal, so);
  ASSERT_TRUE(shipper.ok()) << shipper.status().ToString();
  AppendRecords(**wal, 1000, 3);
  const Status s = (*shipper)->WaitForShipped(26000, std::chrono::seconds(30));
  ASSERT_TRUE(s.ok()) << s.ToString();
  shipper->reset();
  ASSERT_TRUE((*wal)->Close().ok());
  EXPECT_TRUE(ReadStream(server_.client_url(), "shardwal-" + WalIdOf(src)).ExactlyOnce(26000));
}

// The lag policy: an attached shipper that cannot ship (NATS down) keeps a
// checkpoint from releasing what it has not shipped; past
// max_unshipped_bytes appends get Backpressure naming the shipper, until it
// catches up.
TEST_F(ShipTest, UnshippedSegmentsAreKeptAndBackpressureNamesTheShipper) {
  const std::string src = tmp_.Sub("src");
  Options wo = WalOptions(src);
  wo.num_shards = 1;
  wo.segment_bytes = 64u << 10;
  auto wal = Wal::Open(wo);
  ASSERT_TRUE(wal.ok()) << wal.status().ToString();
  ShipOptions so = Ship("lagging");
  so.max_unshipped_bytes = 64u << 10;
  so.lag_policy = LagPolicy::kBackpressure;
  so.max_message_bytes = 4096;
  auto shipper = Shipper::Attach(**wal, so);
  ASSERT_TRUE(shipper.ok()) << shipper.status().ToString();
  ASSERT_TRUE(server_.Stop().ok());
  AppendRecords(**wal, 6000, 1);  // ~280 KB: several segments
  const Lsn last = (*wal)->LastLsn();
  ASSERT_TRUE((*wal)->Checkpoint(last).ok());
  auto r = (*wal)->Append("t0", "more");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsBackpressure()) << r.status().ToString();
  EXPECT_NE(r.status().ToString().find("ship:lagging"), std::string::npos) << r.status().ToString();
  ASSERT_TRUE(server_.Restart().ok());
  const Status s = (*shipper)->WaitForShipped(last, std::chrono::seconds(30));
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_TRUE((*wal)->Checkpoint(last).ok());
  auto again = (*wal)->Append("t0", "more");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  ASSERT_TRUE((*shipper)->WaitForShipped(*again, std::chrono::seconds(30)).ok());
  shipper->reset();
  ASSERT_TRUE((*wal)->Close().ok());
  EXPECT_TRUE(ReadStream(server_.client_url(), "lagging").ExactlyOnce(*again));
}

// Open(follow = true): another process's (here: another object's) appends
// are shipped as they become durable.
TEST_F(ShipTest, FollowingShipperShipsAnotherWritersAppends) {
  const std::string src = tmp_.Sub("src");
  auto wal = Wal::Open(WalOptions(src));
  ASSERT_TRUE(wal.ok()) << wal.status().ToString();
  AppendRecords(**wal, 5000, 1);
  Options o;
  o.dir = src;
  auto shipper = Shipper::Open(o, Ship(), true);
  ASSERT_TRUE(shipper.ok()) << shipper.status().ToString();
  AppendRecords(**wal, 20000, 2);
  const Status s = (*shipper)->WaitForShipped((*wal)->LastLsn(), std::chrono::seconds(30));
  ASSERT_TRUE(s.ok()) << s.ToString();
  (*shipper)->Stop();
  EXPECT_TRUE((*shipper)->Wait().ok());
  shipper->reset();
  ASSERT_TRUE((*wal)->Close().ok());
  EXPECT_TRUE(ReadStream(server_.client_url(), "shardwal-" + WalIdOf(src)).ExactlyOnce(25000));
}

// A WAL checkpointed before it was first shipped: the stream starts after
// the checkpoint, and the restored WAL has it as its checkpoint.
TEST_F(ShipTest, CheckpointedWalRestoresFromItsFirstRetainedLsn) {
  const std::string src = tmp_.Sub("src"), dst = tmp_.Sub("dst");
  {
    Options o = WalOptions(src);
    o.segment_bytes = 64u << 10;  // small segments: the checkpoint releases some
    auto wal = Wal::Open(o);
    ASSERT_TRUE(wal.ok()) << wal.status().ToString();
    AppendRecords(**wal, 20000, 1);
    ASSERT_TRUE((*wal)->Checkpoint(12000).ok());
    ASSERT_TRUE((*wal)->Close().ok());
  }
  const ShipStats st = ShipAll(src, Ship("ckpt"));
  EXPECT_EQ(st.shipped_lsn, 20000u);
  auto r = Restore(RestoreTo(dst, "ckpt"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->first_lsn, 12001u);
  EXPECT_EQ(r->last_lsn, 20000u);
  EXPECT_TRUE(SameDump(src, dst));
  auto wal = Wal::Open(WalOptions(dst));
  ASSERT_TRUE(wal.ok()) << wal.status().ToString();
  EXPECT_EQ((*wal)->recovery_report().checkpoint_lsn, 12000u);
  EXPECT_TRUE((*wal)->Close().ok());
}

// Shards that never got a record have no subject in the stream: the restore
// still gives them a (sealed, empty) segment, and the restored WAL opens and
// appends to them.
TEST_F(ShipTest, ShardsWithoutRecordsRestoreEmpty) {
  const std::string src = tmp_.Sub("src"), dst = tmp_.Sub("dst");
  {
    auto wal = Wal::Open(WalOptions(src));
    ASSERT_TRUE(wal.ok()) << wal.status().ToString();
    for (int i = 0; i < 100; ++i) ASSERT_TRUE((*wal)->Append("only-tag", "x" + std::to_string(i)).ok());
    ASSERT_TRUE((*wal)->Close().ok());
  }
  ShipAll(src, Ship("sparse"));
  auto r = Restore(RestoreTo(dst, "sparse"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->shards, kShards);
  EXPECT_EQ(r->records, 100u);
  auto wal = Wal::Open(WalOptions(dst));
  ASSERT_TRUE(wal.ok()) << wal.status().ToString();
  for (int i = 0; i < 16; ++i) {
    auto lsn = (*wal)->Append("tag" + std::to_string(i), "after");  // some land in the empty shards
    ASSERT_TRUE(lsn.ok()) << lsn.status().ToString();
    EXPECT_EQ(*lsn, 101u + i);
  }
  ASSERT_TRUE((*wal)->Close().ok());
}

TEST_F(ShipTest, RestoreUntilLsn) {
  const std::string src = tmp_.Sub("src"), dst = tmp_.Sub("dst");
  MakeWal(src, 10000);
  ShipAll(src, Ship("pit"));
  RestoreOptions ro = RestoreTo(dst, "pit");
  ro.until_lsn = 4321;
  auto r = Restore(ro);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->records, 4321u);
  EXPECT_EQ(r->last_lsn, 4321u);
  Options o;
  o.dir = dst;
  auto reader = LogReader::Open(o);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_EQ((*reader)->report().cut_lsn, 4321u);
}

// Publishes a hand-made message to `subject`.
void PublishRaw(jsCtx* js, const std::string& subject, const ship::MessageMeta& meta, const std::string& body) {
  natsMsg* raw = nullptr;
  ASSERT_EQ(natsMsg_Create(&raw, subject.c_str(), nullptr, body.data(), static_cast<int>(body.size())), NATS_OK);
  ship::NatsMsgPtr msg(raw);
  ASSERT_EQ(ship::SetHeaders(msg.get(), meta), NATS_OK);
  jsPubAck* ack = nullptr;
  jsErrCode err = static_cast<jsErrCode>(0);
  ASSERT_EQ(js_PublishMsg(&ack, js, msg.get(), nullptr, &err), NATS_OK) << err;
  jsPubAck_Destroy(ack);
}

std::string OneRecord(Lsn lsn, bool bad_crc) {
  std::string body(format::RecordBytes(2, 5), '\0');
  format::EncodeRecord(body.data(), lsn, RecordType::kData, 0, "t0", "hello", format::BodyCrc("t0", "hello"));
  if (bad_crc) body.back() ^= 1;
  return body;
}

// The headers of a hand-made message: one shard of a made-up WAL, one
// record (the LSNs are the caller's).
ship::MessageMeta HandMadeMeta() {
  ship::MessageMeta m;
  m.wal_id = "00112233445566778899aabbccddeeff";
  m.shards = 1;
  m.records = 1;
  return m;
}

TEST_F(ShipTest, RestoreOfDamagedStreamNamesSubjectAndSequence) {
  auto conn = testing::NatsConnect(server_.client_url());
  ASSERT_TRUE(conn.ok());
  auto js = testing::JetStream(conn->get());
  ASSERT_TRUE(js.ok());
  ship::MessageMeta m = HandMadeMeta();
  // Broken chain: the second message claims to follow LSN 5.
  ASSERT_TRUE(testing::AddStream(js->get(), "chain", "chain.shard.*").ok());
  m.first_lsn = m.last_lsn = 1;
  m.prev_lsn = 0;
  PublishRaw(js->get(), "chain.shard.0", m, OneRecord(1, false));
  m.first_lsn = m.last_lsn = 6;
  m.prev_lsn = 5;
  PublishRaw(js->get(), "chain.shard.0", m, OneRecord(6, false));
  auto r = Restore(RestoreTo(tmp_.Sub("chain"), "chain"));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsCorruption()) << r.status().ToString();
  EXPECT_NE(r.status().message().find("stream chain subject chain.shard.0 sequence 2"), std::string::npos)
      << r.status().ToString();
  EXPECT_NE(r.status().message().find("broken chain"), std::string::npos) << r.status().ToString();

  // A bad CRC.
  ASSERT_TRUE(testing::AddStream(js->get(), "crc", "crc.shard.*").ok());
  m.first_lsn = m.last_lsn = 1;
  m.prev_lsn = 0;
  PublishRaw(js->get(), "crc.shard.0", m, OneRecord(1, true));
  r = Restore(RestoreTo(tmp_.Sub("crc"), "crc"));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsCorruption()) << r.status().ToString();
  EXPECT_NE(r.status().message().find("stream crc subject crc.shard.0 sequence 1"), std::string::npos)
      << r.status().ToString();
  // The CLI names it too, and exits 1.
  const testing::CliResult c =
      Cli("restore --nats " + server_.client_url() + " --stream crc " + testing::Quote(tmp_.Sub("crc2")));
  EXPECT_EQ(c.code, 1) << testing::Describe(c);
  EXPECT_NE(c.err.find("crc.shard.0 sequence 1"), std::string::npos) << testing::Describe(c);
}

// Deleted messages are skipped by the restore's consumer: one in the
// middle breaks its shard's chain (named), one at the end of the stream
// only ends the restore earlier - it must not wait for a message that will
// never come (the stream's last sequence still counts the deleted one).
TEST_F(ShipTest, RestoreOfStreamWithDeletedMessages) {
  auto conn = testing::NatsConnect(server_.client_url());
  ASSERT_TRUE(conn.ok());
  auto js = testing::JetStream(conn->get());
  ASSERT_TRUE(js.ok());
  ship::MessageMeta m = HandMadeMeta();
  for (const std::string stream : {"tail", "middle"}) {
    ASSERT_TRUE(testing::AddStream(js->get(), stream, stream + ".shard.*").ok());
    for (Lsn lsn = 1; lsn <= 3; ++lsn) {
      m.first_lsn = m.last_lsn = lsn;
      m.prev_lsn = lsn - 1;
      PublishRaw(js->get(), stream + ".shard.0", m, OneRecord(lsn, false));
    }
    jsErrCode err = static_cast<jsErrCode>(0);
    ASSERT_EQ(js_DeleteMsg(js->get(), stream.c_str(), stream == "tail" ? 3 : 2, nullptr, &err), NATS_OK) << err;
  }
  const auto t0 = std::chrono::steady_clock::now();
  auto r = Restore(RestoreTo(tmp_.Sub("tail"), "tail"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->first_lsn, 1u);
  EXPECT_EQ(r->last_lsn, 2u);
  EXPECT_EQ(r->messages, 2u);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5)) << "waited for the deleted message";

  r = Restore(RestoreTo(tmp_.Sub("middle"), "middle"));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsCorruption()) << r.status().ToString();
  EXPECT_NE(r.status().message().find("stream middle subject middle.shard.0 sequence 3: broken chain"),
            std::string::npos)
      << r.status().ToString();
}

// Calls `hook` once, at the first directory the restore creates (before
// it subscribes) or at its first file (after its first message arrived,
// before it writes it): on the test's thread, so the hook may stop and
// restart the server (tests/nats_server.h).
class RestoreHookFileSystem : public FileSystemWrapper {
 public:
  enum class At { kFirstDirectory, kFirstFile };
  RestoreHookFileSystem(At at, std::function<void()> hook) : at_(at), hook_(std::move(hook)) {}
  Status CreateDirs(const std::string& path, FileAccess access) override {
    if (at_ == At::kFirstDirectory && hook_) std::exchange(hook_, nullptr)();
    return FileSystemWrapper::CreateDirs(path, access);
  }
  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path, FileAccess access) override {
    if (at_ == At::kFirstFile && hook_) std::exchange(hook_, nullptr)();
    return FileSystemWrapper::NewWritableFile(path, access);
  }

 private:
  const At at_;
  std::function<void()> hook_;
};

// A WAL of 20000 records shipped as ~600 small messages into `stream`.
ShipStats ShipSmallMessages(const std::string& src, const ShipOptions& base, std::uint64_t n) {
  MakeWal(src, n);
  ShipOptions so = base;
  so.max_message_bytes = 2048;
  Options o;
  o.dir = src;
  auto shipper = Shipper::Open(o, so, false);
  EXPECT_TRUE(shipper.ok()) << shipper.status().ToString();
  if (!shipper.ok()) return {};
  EXPECT_TRUE((*shipper)->Wait().ok());
  return (*shipper)->Stats();
}

// The server restarted while the restore consumes the stream: the restore
// finishes with every record, none twice. At its first file (after the
// first message) the restart may fall anywhere in the delivery - the
// client may have received the rest already (it buffers up to 64 MiB), or
// libnats recreates the ordered consumer; before it subscribes, the
// subscription is refused until the client has reconnected, and retried.
TEST_F(ShipTest, RestoreGoesOnAcrossAServerRestart) {
  for (const auto at : {RestoreHookFileSystem::At::kFirstFile, RestoreHookFileSystem::At::kFirstDirectory}) {
    SCOPED_TRACE(at == RestoreHookFileSystem::At::kFirstFile ? "at the first file" : "before subscribing");
    const std::string name = at == RestoreHookFileSystem::At::kFirstFile ? "file" : "dir";
    const std::string src = tmp_.Sub("src-" + name), dst = tmp_.Sub("dst-" + name);
    const std::uint64_t n = 20000;
    const ShipStats shipped = ShipSmallMessages(src, Ship("restart-" + name), n);
    ASSERT_EQ(shipped.shipped_lsn, n);
    RestoreOptions ro = RestoreTo(dst, "restart-" + name);
    bool restarted = false;
    ro.file_system = std::make_shared<RestoreHookFileSystem>(at, [&] {
      restarted = server_.Stop().ok() && server_.Restart().ok();
    });
    auto r = Restore(ro);
    ASSERT_TRUE(restarted);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->records, n);
    EXPECT_EQ(r->messages, shipped.messages);
    EXPECT_TRUE(SameDump(src, dst));
  }
}

// The server gone for good before the restore subscribed: it gives up after
// RestoreOptions::stall_timeout, naming the stream and the sequence reached
// and the last error, and opens nothing as a WAL.
TEST_F(ShipTest, RestoreFromAServerThatIsGoneFailsNamingWhereItStopped) {
  const std::string src = tmp_.Sub("src"), dst = tmp_.Sub("dst");
  ASSERT_EQ(ShipSmallMessages(src, Ship("gone"), 2000).shipped_lsn, 2000u);
  RestoreOptions ro = RestoreTo(dst, "gone");
  ro.stall_timeout = std::chrono::seconds(2);
  ro.file_system = std::make_shared<RestoreHookFileSystem>(RestoreHookFileSystem::At::kFirstDirectory,
                                                           [&] { ASSERT_TRUE(server_.Stop().ok()); });
  const auto t0 = std::chrono::steady_clock::now();
  auto r = Restore(ro);
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsIOError()) << r.status().ToString();
  EXPECT_NE(r.status().message().find("no message from stream gone for 2000 ms after sequence 0 of "),
            std::string::npos)
      << r.status().ToString();
  EXPECT_NE(r.status().message().find("last error"), std::string::npos) << r.status().ToString();
  EXPECT_NE(r.status().message().find("into " + dst), std::string::npos) << r.status().ToString();
  EXPECT_GE(took, std::chrono::seconds(2));
  EXPECT_LT(took, std::chrono::seconds(10));
  EXPECT_FALSE(std::filesystem::exists(dst + "/MANIFEST"));
  ASSERT_TRUE(server_.Restart().ok());  // the fixture's teardown stops it
}

// Shard directories without a MANIFEST (a restore that failed half way,
// here: a finished one whose MANIFEST is deleted) are refused by name
// before anything is written, not at the first segment file that exists.
TEST_F(ShipTest, RestoreRefusesADirectoryLeftByAnUnfinishedOne) {
  const std::string src = tmp_.Sub("src"), dst = tmp_.Sub("dst");
  MakeWal(src, 1000);
  ShipAll(src, Ship("again"));
  auto r = Restore(RestoreTo(dst, "again"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  std::filesystem::remove(dst + "/MANIFEST");
  r = Restore(RestoreTo(dst, "again"));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsInvalidArgument()) << r.status().ToString();
  EXPECT_NE(r.status().message().find(dst + " already holds shard-"), std::string::npos) << r.status().ToString();
  std::filesystem::remove_all(dst);
  r = Restore(RestoreTo(dst, "again"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->records, 1000u);
}

// `shardwal ship` SIGKILLed at random moments while a writer appends, and
// restarted: the stream ends up with every LSN exactly once.
TEST_F(ShipTest, ShipProcessKilledAtRandomMomentsShipsEachLsnOnce) {
  const std::string src = tmp_.Sub("src");
  auto wal = Wal::Open(WalOptions(src));
  ASSERT_TRUE(wal.ok()) << wal.status().ToString();
  AppendRecords(**wal, 20000, 1);
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> appended{20000};
  std::thread writer([&] {
    for (std::uint64_t round = 2; !stop.load() && appended.load() < 200000; ++round) {
      AppendRecords(**wal, 1000, round);
      appended.fetch_add(1000);
    }
  });
  std::mt19937_64 rng(::testing::UnitTest::GetInstance()->random_seed());
  const std::string url = server_.client_url();
  int killed_running = 0;
  for (int i = 0; i < 20; ++i) {
    const bool follow = i % 2 == 1;  // half tail with --follow (LogTailer::Open), half ship what is there
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      if (std::freopen("/dev/null", "w", stdout) == nullptr) ::_exit(126);
      std::vector<const char*> argv = {"shardwal", "ship", "--nats", url.c_str(), "--max-message-bytes", "2048"};
      if (follow) argv.push_back("--follow");
      argv.push_back(src.c_str());
      argv.push_back(nullptr);
      ::execv(SHARDWAL_CLI_PATH, const_cast<char* const*>(argv.data()));
      ::_exit(127);
    }
    // A random moment: anywhere from before it connected to mid-publish.
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 250));
    if (i == 10) {
      // The server goes away for a while under a running shipper, and comes
      // back; the shipper is killed after it reconnected (or while it waits).
      ASSERT_TRUE(server_.Stop().ok());
      std::this_thread::sleep_for(std::chrono::milliseconds(1500));
      ASSERT_TRUE(server_.Restart().ok());
      std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 500));
    }
    ::kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status)) ++killed_running;
  }
  stop.store(true);
  writer.join();
  ASSERT_TRUE((*wal)->Close().ok());
  const std::uint64_t n = appended.load();
  std::printf("%d of 20 ship processes were killed while running; %llu records\n", killed_running,
              static_cast<unsigned long long>(n));
  const testing::CliResult r = Cli("ship --nats " + url + " --json " + testing::Quote(src));
  ASSERT_EQ(r.code, 0) << testing::Describe(r);
  EXPECT_TRUE(ReadStream(url, "shardwal-" + WalIdOf(src)).ExactlyOnce(n));
  EXPECT_GE(killed_running, 10);
}

}  // namespace
}  // namespace shardwal
