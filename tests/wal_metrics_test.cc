// SPDX-License-Identifier: Apache-2.0
// Wal::Metrics() and health after real appends: group appends counted and
// timed (only the blocking ones), errors counted by kind, the failed state
// in health, and HealthJson.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cerrno>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "shardwal/testing/fault_injection_file_system.h"
#include "shardwal/wal.h"
#include "src/foundation/format.h"
#include "tests/test_util.h"

namespace shardwal {
namespace {

using Op = FaultInjectionFileSystem::Op;
using testing::OpenOrDie;
using testing::TempDir;
using testing::TestOptions;

TEST(WalMetrics, CountsGroupAppends) {
  TempDir dir;
  Options o = TestOptions(dir.path(), 2);
  auto wal = OpenOrDie(o);
  ASSERT_NE(wal, nullptr);
  constexpr int kWriters = 4, kPerWriter = 50, kN = kWriters * kPerWriter;
  std::atomic<std::uint64_t> bytes{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < kPerWriter; ++i) {
        const std::string tag = "tag" + std::to_string((w * kPerWriter + i) % 17);
        const std::string payload(10 + i, 'p');
        ASSERT_TRUE(wal->Append(tag, payload).ok());
        bytes += tag.size() + payload.size();
      }
    });
  }
  for (auto& t : writers) t.join();
  ASSERT_TRUE(wal->WaitDurable(wal->LastLsn()).ok());

  const WalMetrics m = wal->Metrics();
  EXPECT_EQ(m.num_shards, 2u);
  ASSERT_EQ(m.shards.size(), 2u);
  EXPECT_EQ(m.appends, static_cast<std::uint64_t>(kN));
  EXPECT_EQ(m.append_bytes, bytes.load());
  EXPECT_GT(m.fsyncs, 0u);
  EXPECT_GT(m.writes, 0u);
  EXPECT_GT(m.batches, 0u);
  EXPECT_GT(m.write_bytes, m.append_bytes);  // framing
  EXPECT_EQ(m.append_to_durable_seconds.count, static_cast<std::uint64_t>(kN));
  EXPECT_GT(m.append_to_durable_seconds.p50, 0);
  EXPECT_LE(m.append_to_durable_seconds.p50, m.append_to_durable_seconds.max);
  EXPECT_EQ(m.batch_records.sum, static_cast<double>(kN));
  EXPECT_EQ(m.batch_records.count, m.batches);
  EXPECT_EQ(m.batch_bytes.sum, static_cast<double>(m.write_bytes));
  EXPECT_EQ(m.fsync_seconds.count, m.fsyncs);
  EXPECT_GT(m.flush_seconds.count, 0u);
  EXPECT_GE(m.flush_seconds.sum, m.fsync_seconds.sum);
  EXPECT_EQ(m.last_lsn, static_cast<Lsn>(kN));
  EXPECT_EQ(m.durable_lsn, m.last_lsn);
  EXPECT_EQ(m.watermark_lag, 0u);
  EXPECT_EQ(m.buffered_bytes, 0u);
  EXPECT_EQ(m.buffered_records, 0u);
  EXPECT_TRUE(m.health.ok());
  EXPECT_GT(m.uptime_seconds, 0);
  const double unix_now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  EXPECT_GT(m.start_time_seconds, unix_now - 600) << "a Unix time, of the Open a moment ago";
  EXPECT_LE(m.start_time_seconds, unix_now);

  // Per-shard values add up to the totals.
  std::uint64_t appends = 0, append_bytes = 0, fsyncs = 0, batches = 0, batch_records_count = 0, flushes = 0;
  double batch_records_sum = 0;
  for (std::uint32_t i = 0; i < 2; ++i) {
    const ShardMetrics& s = m.shards[i];
    ASSERT_GT(s.appends, 0u) << "17 tags, all on one shard?";
    EXPECT_EQ(s.shard, i);
    EXPECT_EQ(s.dir, dir.path() + "/shard-" + std::to_string(i));
    appends += s.appends;
    append_bytes += s.append_bytes;
    fsyncs += s.fsyncs;
    batches += s.batches;
    batch_records_count += s.batch_records.count;
    batch_records_sum += s.batch_records.sum;
    flushes += s.flush_seconds.count;
    EXPECT_EQ(s.fsync_seconds.count, s.fsyncs);
    EXPECT_EQ(s.batch_records.sum, static_cast<double>(s.appends));
    EXPECT_GE(s.durable_frontier, m.durable_lsn);
    EXPECT_GE(s.segment_files, 1u);
    EXPECT_GE(s.rotations, 1u);
    // Health.
    EXPECT_TRUE(s.health.flush_thread_alive);
    EXPECT_GE(s.health.seconds_since_last_flush, 0);
    EXPECT_LT(s.health.seconds_since_last_flush, 30);
    // The same instant as a Unix time: after the Open, not in the future.
    EXPECT_GE(s.health.last_flush_timestamp_seconds, m.start_time_seconds - 0.01);
    EXPECT_LE(s.health.last_flush_timestamp_seconds, unix_now + 0.01);
    EXPECT_GE(s.health.buffer_utilization, 0);
    EXPECT_LE(s.health.buffer_utilization, 1);
    EXPECT_GT(s.health.device_free_bytes, 0);
    EXPECT_GE(s.health.device_total_bytes, s.health.device_free_bytes);
  }
  EXPECT_EQ(appends, m.appends);
  EXPECT_EQ(append_bytes, m.append_bytes);
  EXPECT_EQ(fsyncs, m.fsyncs);
  EXPECT_EQ(batches, m.batches);
  EXPECT_EQ(batch_records_count, m.batch_records.count);
  EXPECT_EQ(batch_records_sum, m.batch_records.sum);
  EXPECT_EQ(flushes, m.flush_seconds.count);

  // Nothing failed.
  for (const auto& [kind, n] : m.errors) EXPECT_EQ(n, 0u) << kind;
  EXPECT_EQ(m.errors.count("invalid_argument"), 1u);
  EXPECT_EQ(m.errors.count("backpressure"), 1u);
  EXPECT_EQ(m.errors.count("io_error"), 1u);
  EXPECT_EQ(m.errors.count("ok"), 0u);

  ASSERT_TRUE(wal->Close().ok());
  const WalMetrics closed = wal->Metrics();
  for (const auto& s : closed.shards) EXPECT_FALSE(s.health.flush_thread_alive);
}

TEST(WalMetrics, OnlyBlockingGroupAppendsAreTimed) {
  TempDir dir;
  auto wal = OpenOrDie(TestOptions(dir.path(), 2));
  ASSERT_NE(wal, nullptr);
  AppendOptions async;
  async.durability = Durability::kAsync;
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(wal->Append("a", "x", async).ok());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(wal->TryAppend("t", "x").ok());  // group, but does not wait
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(wal->Append("g", "x").ok());
  const RecordSpec batch[] = {{"b1", "x"}, {"b2", "y"}, {"b3", "z"}};
  ASSERT_TRUE(wal->AppendBatch(batch).ok());  // one observation per call
  ASSERT_TRUE(wal->WaitDurable(wal->LastLsn()).ok());
  const WalMetrics m = wal->Metrics();
  EXPECT_EQ(m.appends, 21u);
  EXPECT_EQ(m.append_to_durable_seconds.count, 4u);
  EXPECT_EQ(m.batch_records.sum, 21);
}

TEST(WalMetrics, CountsErrorsByKind) {
  TempDir dir;
  auto fs = std::make_shared<FaultInjectionFileSystem>();
  Options o = TestOptions(dir.path(), 1);
  o.file_system = fs;
  o.max_record_bytes = 1024;
  o.max_batch_bytes = 4096;
  o.max_buffered_bytes = 8192;
  auto wal = OpenOrDie(o);
  ASSERT_NE(wal, nullptr);

  // An oversized record.
  EXPECT_TRUE(wal->Append("t", std::string(2000, 'x')).status().IsInvalidArgument());
  EXPECT_EQ(wal->Metrics().errors.at("invalid_argument"), 1u);
  EXPECT_EQ(wal->Metrics().appends, 0u);

  // Backpressure: the device stalls, the buffer fills, TryAppend gives up.
  ASSERT_TRUE(wal->Append("warm", "up").ok());
  const std::uint64_t writes = wal->Metrics().shards[0].writes;
  fs->StallSyncs("shard-0");
  ASSERT_TRUE(wal->TryAppend("t", "first").ok());
  // Once the flush wrote that record it is stuck in its fdatasync: nothing
  // leaves the buffer from now on.
  for (int i = 0; i < 5000 && wal->Metrics().shards[0].writes == writes; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_GT(wal->Metrics().shards[0].writes, writes);
  Status bp;
  for (int i = 0; i < 100 && bp.ok(); ++i) bp = wal->TryAppend("t", std::string(900, 'b')).status();
  EXPECT_TRUE(bp.IsBackpressure()) << bp.ToString();
  WalMetrics m = wal->Metrics();
  EXPECT_EQ(m.errors.at("backpressure"), 1u);
  EXPECT_GT(m.buffered_bytes, 0u);
  EXPECT_GT(m.buffered_records, 0u);
  EXPECT_GT(m.watermark_lag, 0u);
  EXPECT_GT(m.shards[0].health.buffer_utilization, 0.5);
  EXPECT_LE(m.shards[0].health.buffer_utilization, 1.0);
  fs->ResumeSyncs();
  ASSERT_TRUE(wal->WaitDurable(wal->LastLsn()).ok());

  // WaitDurable, Checkpoint and AppendBatch with bad arguments.
  EXPECT_TRUE(wal->WaitDurable(wal->LastLsn() + 100).IsInvalidArgument());
  EXPECT_TRUE(wal->Checkpoint(wal->LastLsn() + 100).IsInvalidArgument());
  EXPECT_TRUE(wal->AppendBatch({}).status().IsInvalidArgument());
  ASSERT_TRUE(wal->Checkpoint(wal->LastLsn()).ok());
  m = wal->Metrics();
  EXPECT_EQ(m.errors.at("invalid_argument"), 4u);
  EXPECT_EQ(m.errors.at("backpressure"), 1u);
  EXPECT_EQ(m.checkpoints, 1u);
  EXPECT_EQ(m.checkpoint_lsn, m.last_lsn);
  EXPECT_EQ(m.watermark_lag, 0u);
  EXPECT_EQ(m.buffered_bytes, 0u);
  EXPECT_EQ(m.buffered_records, 0u);

  ASSERT_TRUE(wal->Close().ok());
  EXPECT_TRUE(wal->Append("t", "late").status().IsClosed());
  EXPECT_EQ(wal->Metrics().errors.at("closed"), 1u);
}

TEST(WalMetrics, FailedStateShowsInHealth) {
  TempDir dir;
  auto fs = std::make_shared<FaultInjectionFileSystem>();
  Options o = TestOptions(dir.path(), 1);
  o.file_system = fs;
  o.log = [](LogLevel, std::string_view) {};  // the error is expected
  auto wal = OpenOrDie(o);
  ASSERT_NE(wal, nullptr);
  ASSERT_TRUE(wal->Append("a", "before").ok());
  EXPECT_TRUE(wal->Metrics().health.ok());
  EXPECT_NE(PrometheusText(wal->Metrics()).find("\nshardwal_up 1\n"), std::string::npos);

  fs->InjectFault(Op::kSync, 1, EIO, format::SegmentFileName(0, 1));
  const auto r = wal->Append("a", "after");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsIOError());
  // The flush thread exits once the WAL failed.
  for (int i = 0; i < 500 && wal->Metrics().shards[0].health.flush_thread_alive; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const WalMetrics m = wal->Metrics();
  ASSERT_FALSE(m.health.ok());
  EXPECT_TRUE(m.health.IsIOError());
  EXPECT_FALSE(m.shards[0].health.flush_thread_alive);
  EXPECT_GE(m.errors.at("io_error"), 1u);
  EXPECT_GT(m.watermark_lag, 0u);

  const auto health = nlohmann::json::parse(HealthJson(m));
  EXPECT_EQ(health["status"], "failed");
  ASSERT_TRUE(health["error"].is_string());
  EXPECT_NE(health["error"].get<std::string>().find("fdatasync"), std::string::npos) << health.dump();
  EXPECT_NE(health["error"].get<std::string>().find("injected"), std::string::npos) << health.dump();
  ASSERT_EQ(health["shards"].size(), 1u);
  EXPECT_EQ(health["shards"][0]["flush_thread_alive"], false);

  const std::string text = PrometheusText(m);
  EXPECT_NE(text.find("\nshardwal_up 0\n"), std::string::npos);
  EXPECT_NE(text.find("shardwal_errors_total{kind=\"io_error\"} "), std::string::npos);
  EXPECT_FALSE(wal->Close().ok());
}

TEST(WalMetrics, HealthJsonWhenHealthy) {
  TempDir dir;
  auto wal = OpenOrDie(TestOptions(dir.path(), 2));
  ASSERT_NE(wal, nullptr);
  ASSERT_TRUE(wal->Append("t", "x").ok());
  const auto j = nlohmann::json::parse(HealthJson(wal->Metrics()));
  EXPECT_EQ(j["status"], "ok");
  EXPECT_TRUE(j["error"].is_null());
  EXPECT_EQ(j["num_shards"], 2);
  EXPECT_EQ(j["last_lsn"], 1);
  EXPECT_GT(j["start_time_seconds"].get<double>(), 1.7e9) << "a Unix time";
  ASSERT_EQ(j["shards"].size(), 2u);
  for (const auto& s : j["shards"]) {
    EXPECT_EQ(s["flush_thread_alive"], true);
    EXPECT_GT(s["device_free_bytes"].get<std::int64_t>(), 0);
    EXPECT_GE(s["buffer_utilization"].get<double>(), 0);
    EXPECT_LE(s["buffer_utilization"].get<double>(), 1);
    EXPECT_TRUE(s.contains("seconds_since_last_flush"));
    EXPECT_TRUE(s.contains("last_flush_timestamp_seconds"));
    EXPECT_EQ(s["seconds_since_last_flush"].is_null(), s["last_flush_timestamp_seconds"].is_null());
    EXPECT_TRUE(s.contains("durable_frontier"));
    EXPECT_TRUE(s["dir"].is_string());
  }
  // The shard that took the append flushed; a number, and small.
  bool any_flushed = false;
  for (const auto& s : j["shards"]) {
    if (s["seconds_since_last_flush"].is_number()) {
      any_flushed = true;
      EXPECT_LT(s["seconds_since_last_flush"].get<double>(), 30);
    }
  }
  EXPECT_TRUE(any_flushed);
}

}  // namespace
}  // namespace shardwal
