// Metrics and health: the lock-free histogram, Wal::Metrics() after real
// appends, errors by kind, health in the failed state, the Prometheus text
// format (parsed line by line), HealthJson, and the log events (slow
// fdatasync warning, checkpoint, rotation).
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <future>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "shardwal/testing/fault_injection_file_system.h"
#include "shardwal/wal.h"
#include "src/foundation/format.h"
#include "src/observability/histogram.h"
#include "tests/test_util.h"

namespace shardwal {
namespace {

using Op = FaultInjectionFileSystem::Op;
using testing::TempDir;
using testing::TestOptions;

// The bucket error: a percentile is within 25% of the true value.
constexpr double kBucketError = 0.25;

std::unique_ptr<Wal> OpenOrDie(const Options& o) {
  auto w = Wal::Open(o);
  EXPECT_TRUE(w.ok()) << w.status().ToString();
  return w.ok() ? std::move(*w) : nullptr;
}

// The exact nearest-rank quantile of sorted values.
double ExactQuantile(const std::vector<std::uint64_t>& sorted, double q) {
  const auto rank = std::max<std::size_t>(1, static_cast<std::size_t>(std::ceil(q * static_cast<double>(sorted.size()))));
  return static_cast<double>(sorted[rank - 1]);
}

void ExpectNear(double estimate, double truth, const char* what) {
  if (truth == 0) {
    EXPECT_EQ(estimate, 0) << what;
  } else {
    EXPECT_LE(std::abs(estimate - truth) / truth, kBucketError) << what << ": estimate " << estimate << " truth " << truth;
  }
}

void CheckAgainst(std::vector<std::uint64_t> values, const char* what) {
  Histogram h;
  std::uint64_t sum = 0;
  for (auto v : values) {
    h.Record(v);
    sum += v;
  }
  std::sort(values.begin(), values.end());
  const HistogramSnapshot s = h.Snapshot();
  SCOPED_TRACE(what);
  EXPECT_EQ(s.count, values.size());
  EXPECT_EQ(s.sum, static_cast<double>(sum));
  EXPECT_EQ(s.max, static_cast<double>(values.back()));
  ExpectNear(s.p50, ExactQuantile(values, 0.5), "p50");
  ExpectNear(s.p90, ExactQuantile(values, 0.9), "p90");
  ExpectNear(s.p99, ExactQuantile(values, 0.99), "p99");
  ExpectNear(s.p999, ExactQuantile(values, 0.999), "p999");
  EXPECT_LE(s.p50, s.p90);
  EXPECT_LE(s.p90, s.p99);
  EXPECT_LE(s.p99, s.p999);
  EXPECT_LE(s.p999, s.max);
}

// ---- Histogram -------------------------------------------------------------------

TEST(Histogram, BucketEdgesAreConsistent) {
  for (std::size_t i = 0; i + 1 < HistogramCounts::kBuckets; ++i) {
    const std::uint64_t upper = HistogramCounts::UpperBound(i);
    EXPECT_EQ(HistogramCounts::BucketOf(upper), i) << i;
    EXPECT_EQ(HistogramCounts::BucketOf(upper + 1), i + 1) << i;
    EXPECT_LT(upper, HistogramCounts::UpperBound(i + 1));
    if (upper >= 4) {  // at most 25% of the lower edge wide
      EXPECT_LE(HistogramCounts::UpperBound(i + 1) - upper, upper / 4 + 1) << i;
    }
  }
  EXPECT_EQ(HistogramCounts::BucketOf(~std::uint64_t{0}), HistogramCounts::kBuckets - 1);
  EXPECT_EQ(HistogramCounts::UpperBound(HistogramCounts::kBuckets - 1), ~std::uint64_t{0});
  // Small values are exact; powers of two are edges.
  for (std::uint64_t v = 0; v <= 4; ++v) EXPECT_EQ(HistogramCounts::UpperBound(HistogramCounts::BucketOf(v)), v);
  for (int k = 0; k < 64; ++k) {
    const std::uint64_t p = std::uint64_t{1} << k;
    EXPECT_EQ(HistogramCounts::UpperBound(HistogramCounts::BucketOf(p)), p) << k;
  }
}

TEST(Histogram, EmptySnapshot) {
  Histogram h;
  const HistogramSnapshot s = h.Snapshot();
  EXPECT_EQ(s.count, 0u);
  EXPECT_EQ(s.p99, 0);
  EXPECT_EQ(s.mean(), 0);
  ASSERT_EQ(s.buckets.size(), 1u);
  EXPECT_TRUE(std::isinf(s.buckets[0].first));
  EXPECT_EQ(s.buckets[0].second, 0u);
}

TEST(Histogram, SmallValuesAreExact) {
  Histogram h;
  for (int i = 0; i < 10; ++i) h.Record(3);
  h.Record(1);
  const HistogramSnapshot s = h.Snapshot();
  EXPECT_EQ(s.p50, 3);
  EXPECT_EQ(s.p999, 3);
  EXPECT_EQ(s.max, 3);
  EXPECT_EQ(s.count, 11u);
  // Buckets 1, 2 (empty, between) and 3, then +Inf.
  ASSERT_EQ(s.buckets.size(), 4u);
  EXPECT_EQ(s.buckets[0], (std::pair<double, std::uint64_t>(1, 1)));
  EXPECT_EQ(s.buckets[1], (std::pair<double, std::uint64_t>(2, 1)));
  EXPECT_EQ(s.buckets[2], (std::pair<double, std::uint64_t>(3, 11)));
  EXPECT_TRUE(std::isinf(s.buckets[3].first));
  EXPECT_EQ(s.buckets[3].second, 11u);
}

TEST(Histogram, PercentilesOfKnownDistributionsAreWithinTheBucketError) {
  std::mt19937_64 rng(7);
  {
    std::vector<std::uint64_t> v;
    for (std::uint64_t i = 1; i <= 100000; ++i) v.push_back(i);
    CheckAgainst(v, "uniform 1..100000");
  }
  {
    std::vector<std::uint64_t> v(5000, 1000);
    CheckAgainst(v, "constant 1000");
  }
  {
    // Latencies: log-normal around 200 us (in ns), a long tail.
    std::lognormal_distribution<double> d(std::log(200e3), 1.0);
    std::vector<std::uint64_t> v;
    for (int i = 0; i < 200000; ++i) v.push_back(static_cast<std::uint64_t>(d(rng)));
    CheckAgainst(v, "log-normal");
  }
  {
    // Bimodal: 99% fast, 1% very slow (a stalled device).
    std::vector<std::uint64_t> v;
    std::uniform_int_distribution<std::uint64_t> fast(50'000, 80'000), slow(400'000'000, 600'000'000);
    for (int i = 0; i < 100000; ++i) v.push_back(i % 100 == 0 ? slow(rng) : fast(rng));
    CheckAgainst(v, "bimodal");
  }
  {
    std::uniform_int_distribution<std::uint64_t> d(0, ~std::uint64_t{0} >> 8);
    std::vector<std::uint64_t> v;
    for (int i = 0; i < 50000; ++i) v.push_back(d(rng));
    CheckAgainst(v, "uniform over 2^56");
  }
}

TEST(Histogram, SnapshotInUnitsAndCumulativeBuckets) {
  Histogram h;
  for (std::uint64_t ns : {1'000u, 2'000u, 3'000u, 50'000u, 1'000'000u}) h.Record(ns);
  const HistogramSnapshot s = h.Snapshot(kNanosPerSecond);
  EXPECT_EQ(s.count, 5u);
  EXPECT_DOUBLE_EQ(s.sum, 1'056'000e-9);
  EXPECT_DOUBLE_EQ(s.max, 1e-3);
  EXPECT_NEAR(s.mean(), 211.2e-6, 1e-12);
  ASSERT_GE(s.buckets.size(), 2u);
  EXPECT_TRUE(std::isinf(s.buckets.back().first));
  EXPECT_EQ(s.buckets.back().second, 5u);
  for (std::size_t i = 1; i < s.buckets.size(); ++i) {
    EXPECT_LT(s.buckets[i - 1].first, s.buckets[i].first);
    EXPECT_LE(s.buckets[i - 1].second, s.buckets[i].second);
  }
  // The first bucket holds 1000 ns, the last finite one 1 ms.
  EXPECT_GE(s.buckets.front().first, 1e-6);
  EXPECT_LE(s.buckets.front().first, 1.25e-6);
  EXPECT_EQ(s.buckets.front().second, 1u);
  EXPECT_GE(s.buckets[s.buckets.size() - 2].first, 1e-3);
}

TEST(Histogram, MergedSnapshotsEqualOneHistogram) {
  std::mt19937_64 rng(11);
  std::lognormal_distribution<double> d(std::log(1e6), 2.0);
  Histogram parts[3], all;
  for (int i = 0; i < 30000; ++i) {
    const auto v = static_cast<std::uint64_t>(d(rng));
    parts[i % 3].Record(v);
    all.Record(v);
  }
  std::vector<HistogramSnapshot> snaps;
  for (auto& p : parts) snaps.push_back(p.Snapshot(kNanosPerSecond));
  const HistogramSnapshot merged = MergeSnapshots(snaps, kNanosPerSecond);
  const HistogramSnapshot direct = all.Snapshot(kNanosPerSecond);
  EXPECT_EQ(merged.count, direct.count);
  EXPECT_NEAR(merged.sum, direct.sum, direct.sum * 1e-12);
  EXPECT_EQ(merged.max, direct.max);
  EXPECT_EQ(merged.p50, direct.p50);
  EXPECT_EQ(merged.p99, direct.p99);
  EXPECT_EQ(merged.p999, direct.p999);
  EXPECT_EQ(merged.buckets, direct.buckets);
  // Counts merge exactly too.
  HistogramCounts c = parts[0].Counts();
  c.Merge(parts[1].Counts());
  c.Merge(parts[2].Counts());
  EXPECT_EQ(c.buckets, all.Counts().buckets);
}

TEST(Histogram, ConcurrentRecordsAreAllCounted) {
  Histogram h;
  constexpr int kThreads = 8;
  constexpr std::uint64_t kPerThread = 100000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&h, t] {
      for (std::uint64_t i = 0; i < kPerThread; ++i) h.Record(i % 1000 + static_cast<std::uint64_t>(t));
    });
  }
  // Snapshots taken meanwhile are well-formed.
  for (int i = 0; i < 20; ++i) {
    const HistogramSnapshot s = h.Snapshot();
    EXPECT_EQ(s.buckets.back().second, s.count);
    EXPECT_LE(s.count, kThreads * kPerThread);
  }
  for (auto& t : threads) t.join();
  const HistogramSnapshot s = h.Snapshot();
  EXPECT_EQ(s.count, kThreads * kPerThread);
  std::uint64_t sum = 0;
  for (int t = 0; t < kThreads; ++t) sum += (999 * 1000 / 2 + 1000 * static_cast<std::uint64_t>(t)) * (kPerThread / 1000);
  EXPECT_EQ(s.sum, static_cast<double>(sum));
  EXPECT_EQ(s.max, 999 + kThreads - 1);
}

// ---- Wal::Metrics() -------------------------------------------------------------

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
  o.logger = std::make_shared<spdlog::logger>("metrics-test-quiet");  // no sinks: the error is expected
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
  ASSERT_EQ(j["shards"].size(), 2u);
  for (const auto& s : j["shards"]) {
    EXPECT_EQ(s["flush_thread_alive"], true);
    EXPECT_GT(s["device_free_bytes"].get<std::int64_t>(), 0);
    EXPECT_GE(s["buffer_utilization"].get<double>(), 0);
    EXPECT_LE(s["buffer_utilization"].get<double>(), 1);
    EXPECT_TRUE(s.contains("seconds_since_last_flush"));
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

// ---- Prometheus text format ---------------------------------------------------------

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  std::string label_text;  // as written, without le
  double value = 0;
  std::string raw_value;
};

struct Exposition {
  std::map<std::string, std::string> type;  // family -> counter|gauge|histogram
  std::set<std::string> help;
  std::vector<Sample> samples;
};

// Parses the text line by line; every line must be HELP, TYPE or a sample
// `name{labels} value`, and each sample's family must be declared first.
Exposition Parse(const std::string& text) {
  Exposition e;
  static const std::regex help_re(R"(^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) \S.*$)");
  static const std::regex type_re(R"(^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$)");
  static const std::regex sample_re(R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? (\S+)$)");
  static const std::regex label_re(R"(([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)\"(,|$))");
  std::istringstream in(text);
  std::string line;
  std::string current_family;
  std::set<std::string> finished;  // families whose samples ended (must be contiguous)
  EXPECT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  while (std::getline(in, line)) {
    std::smatch mt;
    if (std::regex_match(line, mt, help_re)) {
      EXPECT_TRUE(e.help.insert(mt[1]).second) << "HELP twice: " << line;
      continue;
    }
    if (std::regex_match(line, mt, type_re)) {
      EXPECT_TRUE(e.help.count(mt[1])) << "TYPE before HELP: " << line;
      EXPECT_TRUE(e.type.emplace(mt[1], mt[2]).second) << "TYPE twice: " << line;
      continue;
    }
    if (!std::regex_match(line, mt, sample_re)) {
      ADD_FAILURE() << "not a HELP, TYPE or sample line: '" << line << "'";
      continue;
    }
    Sample s;
    s.name = mt[1];
    s.raw_value = mt[4];
    const std::string labels = mt[3];
    for (std::sregex_iterator it(labels.begin(), labels.end(), label_re), end; it != end; ++it) {
      s.labels[(*it)[1]] = (*it)[2];
      if ((*it)[1] != "le") s.label_text += (*it)[0].str();
    }
    if (!s.label_text.empty() && s.label_text.back() == ',') s.label_text.pop_back();
    if (!labels.empty()) {
      // The label regex must have consumed everything.
      std::string rebuilt;
      for (std::sregex_iterator it(labels.begin(), labels.end(), label_re), end; it != end; ++it) rebuilt += (*it)[0];
      EXPECT_EQ(rebuilt, labels) << line;
    }
    if (s.raw_value == "+Inf") {
      s.value = HUGE_VAL;
    } else {
      std::size_t used = 0;
      s.value = std::stod(s.raw_value, &used);
      EXPECT_EQ(used, s.raw_value.size()) << line;
    }
    std::string family = s.name;
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      const std::string suf = suffix;
      if (family.size() > suf.size() && family.ends_with(suf) && e.type.count(family.substr(0, family.size() - suf.size())) &&
          e.type[family.substr(0, family.size() - suf.size())] == "histogram") {
        family = family.substr(0, family.size() - suf.size());
        break;
      }
    }
    EXPECT_TRUE(e.type.count(family)) << "sample without TYPE: " << line;
    EXPECT_TRUE(e.help.count(family)) << "sample without HELP: " << line;
    if (family != current_family) {
      EXPECT_FALSE(finished.count(family)) << "samples of " << family << " are not contiguous";
      if (!current_family.empty()) finished.insert(current_family);
      current_family = family;
    }
    e.samples.push_back(std::move(s));
  }
  return e;
}

std::vector<Sample> Find(const Exposition& e, const std::string& name) {
  std::vector<Sample> out;
  for (const auto& s : e.samples) {
    if (s.name == name) out.push_back(s);
  }
  return out;
}

// Every series of a histogram family: le buckets increasing up to +Inf,
// cumulative counts non-decreasing, +Inf == _count, _sum present.
void CheckHistogramFamily(const Exposition& e, const std::string& name, std::size_t series) {
  SCOPED_TRACE(name);
  ASSERT_EQ(e.type.count(name), 1u);
  EXPECT_EQ(e.type.at(name), "histogram");
  std::map<std::string, std::vector<Sample>> buckets;  // by the other labels
  for (const auto& s : Find(e, name + "_bucket")) {
    ASSERT_EQ(s.labels.count("le"), 1u);
    buckets[s.label_text].push_back(s);
  }
  EXPECT_EQ(buckets.size(), series);
  const auto counts = Find(e, name + "_count");
  const auto sums = Find(e, name + "_sum");
  EXPECT_EQ(counts.size(), series);
  EXPECT_EQ(sums.size(), series);
  for (const auto& [labels, bs] : buckets) {
    ASSERT_GE(bs.size(), 2u);
    EXPECT_EQ(bs.back().labels.at("le"), "+Inf");
    for (std::size_t i = 1; i < bs.size(); ++i) {
      EXPECT_LT(std::stod(bs[i - 1].labels.at("le")), bs[i].labels.at("le") == "+Inf" ? HUGE_VAL : std::stod(bs[i].labels.at("le")));
      EXPECT_LE(bs[i - 1].value, bs[i].value) << "not cumulative at le=" << bs[i].labels.at("le");
    }
    const auto count = std::find_if(counts.begin(), counts.end(), [&](const Sample& s) { return s.label_text == labels; });
    ASSERT_NE(count, counts.end());
    EXPECT_EQ(count->value, bs.back().value);
  }
}

TEST(Prometheus, TextFormatIsWellFormedAndNamedByConvention) {
  TempDir dir;
  auto wal = OpenOrDie(TestOptions(dir.path(), 2));
  ASSERT_NE(wal, nullptr);
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(wal->Append("tag" + std::to_string(i), "payload").ok());
  (void)wal->Append("t", std::string(128 << 10, 'x'));  // over max_record_bytes: counted as an error
  const WalMetrics m = wal->Metrics();
  const std::string text = PrometheusText(m);
  const Exposition e = Parse(text);

  // Naming: shardwal_ prefix, counters end in _total, no family declared twice.
  for (const auto& [family, type] : e.type) {
    EXPECT_TRUE(family.starts_with("shardwal_")) << family;
    EXPECT_EQ(type == "counter", family.ends_with("_total")) << family;
    EXPECT_TRUE(e.help.count(family)) << family;
  }

  const std::map<std::string, std::string> expected = {
      {"shardwal_appends_total", "counter"},       {"shardwal_append_bytes_total", "counter"},
      {"shardwal_fsyncs_total", "counter"},        {"shardwal_batches_total", "counter"},
      {"shardwal_writes_total", "counter"},        {"shardwal_write_bytes_total", "counter"},
      {"shardwal_errors_total", "counter"},        {"shardwal_checkpoints_total", "counter"},
      {"shardwal_backpressure_waits_total", "counter"},
      {"shardwal_fsync_duration_seconds", "histogram"},   {"shardwal_append_to_durable_seconds", "histogram"},
      {"shardwal_batch_records", "histogram"},            {"shardwal_batch_bytes", "histogram"},
      {"shardwal_flush_duration_seconds", "histogram"},   {"shardwal_last_lsn", "gauge"},
      {"shardwal_durable_lsn", "gauge"},           {"shardwal_watermark_lag", "gauge"},
      {"shardwal_buffered_bytes", "gauge"},        {"shardwal_buffered_records", "gauge"},
      {"shardwal_durable_frontier", "gauge"},      {"shardwal_up", "gauge"},
      {"shardwal_device_free_bytes", "gauge"},     {"shardwal_device_total_bytes", "gauge"},
      {"shardwal_flush_thread_alive", "gauge"},    {"shardwal_seconds_since_last_flush", "gauge"},
      {"shardwal_buffer_utilization", "gauge"},    {"shardwal_uptime_seconds", "gauge"},
      {"shardwal_shard_info", "gauge"},
  };
  for (const auto& [name, type] : expected) {
    ASSERT_TRUE(e.type.count(name)) << name << " missing";
    EXPECT_EQ(e.type.at(name), type) << name;
  }

  // Values agree with the snapshot.
  auto one = [&](const std::string& name, const std::string& labels = "") {
    std::vector<Sample> found;
    for (const auto& s : Find(e, name)) {
      if (s.label_text == labels) found.push_back(s);
    }
    EXPECT_EQ(found.size(), 1u) << name << "{" << labels << "}";
    return found.empty() ? -1.0 : found[0].value;
  };
  EXPECT_EQ(one("shardwal_up"), 1);
  EXPECT_EQ(one("shardwal_last_lsn"), static_cast<double>(m.last_lsn));
  EXPECT_EQ(one("shardwal_durable_lsn"), static_cast<double>(m.durable_lsn));
  EXPECT_EQ(one("shardwal_watermark_lag"), static_cast<double>(m.watermark_lag));
  EXPECT_EQ(one("shardwal_errors_total", "kind=\"invalid_argument\""), 1);
  EXPECT_EQ(one("shardwal_errors_total", "kind=\"backpressure\""), 0);
  double appends = 0;
  for (std::uint32_t i = 0; i < 2; ++i) {
    const std::string shard = "shard=\"" + std::to_string(i) + "\"";
    appends += one("shardwal_appends_total", shard);
    EXPECT_EQ(one("shardwal_durable_frontier", shard), static_cast<double>(m.shards[i].durable_frontier));
    EXPECT_EQ(one("shardwal_buffered_bytes", shard), static_cast<double>(m.shards[i].buffered_bytes));
    EXPECT_EQ(one("shardwal_fsyncs_total", shard), static_cast<double>(m.shards[i].fsyncs));
    EXPECT_GT(one("shardwal_device_free_bytes", shard), 0);
    EXPECT_EQ(one("shardwal_flush_thread_alive", shard), 1);
    EXPECT_EQ(one("shardwal_fsync_duration_seconds_count", shard), static_cast<double>(m.shards[i].fsyncs));
    EXPECT_EQ(one("shardwal_batch_records_sum", shard), static_cast<double>(m.shards[i].appends));
    EXPECT_EQ(one("shardwal_shard_info", shard + ",dir=\"" + m.shards[i].dir + "\""), 1);
  }
  EXPECT_EQ(appends, 40);
  EXPECT_EQ(one("shardwal_append_to_durable_seconds_count"), 40);

  CheckHistogramFamily(e, "shardwal_append_to_durable_seconds", 1);
  CheckHistogramFamily(e, "shardwal_fsync_duration_seconds", 2);
  CheckHistogramFamily(e, "shardwal_flush_duration_seconds", 2);
  CheckHistogramFamily(e, "shardwal_batch_records", 2);
  CheckHistogramFamily(e, "shardwal_batch_bytes", 2);

  // The buckets are a fixed set, the same for every shard.
  std::map<std::string, std::vector<std::string>> les;
  for (const auto& s : Find(e, "shardwal_fsync_duration_seconds_bucket")) les[s.label_text].push_back(s.labels.at("le"));
  ASSERT_EQ(les.size(), 2u);
  EXPECT_EQ(les.begin()->second, les.rbegin()->second);
}

TEST(Prometheus, HistogramBucketsMatchTheSnapshot) {
  WalMetrics m;
  m.num_shards = 0;
  Histogram h;
  // 1 us, 10 us, 100 us, 1 ms, 10 ms.
  for (std::uint64_t ns = 1000; ns <= 10'000'000; ns *= 10) h.Record(ns);
  m.append_to_durable_seconds = h.Snapshot(kNanosPerSecond);
  const Exposition e = Parse(PrometheusText(m));
  CheckHistogramFamily(e, "shardwal_append_to_durable_seconds", 1);
  // Cumulative count at each le equals the number of values <= le.
  for (const auto& s : Find(e, "shardwal_append_to_durable_seconds_bucket")) {
    if (s.labels.at("le") == "+Inf") {
      EXPECT_EQ(s.value, 5);
      continue;
    }
    const double le = std::stod(s.labels.at("le"));
    int expect = 0;
    for (double v = 1e-6; v <= 1e-2 * 1.0001; v *= 10) expect += v <= le * (1 + 1e-9) ? 1 : 0;
    EXPECT_EQ(s.value, expect) << "le=" << s.labels.at("le");
  }
  EXPECT_EQ(Find(e, "shardwal_append_to_durable_seconds_count")[0].value, 5);
  EXPECT_NEAR(Find(e, "shardwal_append_to_durable_seconds_sum")[0].value, 0.011111, 1e-9);
}

TEST(Prometheus, LabelValuesAreEscaped) {
  WalMetrics m;
  ShardMetrics s;
  s.shard = 0;
  s.dir = "/data/we\"ird\\dir\nname";
  m.shards.push_back(s);
  m.num_shards = 1;
  const std::string text = PrometheusText(m);
  EXPECT_NE(text.find(R"(dir="/data/we\"ird\\dir\nname")"), std::string::npos) << text;
  Parse(text);
}

// ---- logging ----------------------------------------------------------------------

struct CapturedLog {
  std::ostringstream out;
  std::shared_ptr<spdlog::logger> logger;
  explicit CapturedLog(spdlog::level::level_enum level = spdlog::level::info) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
    sink->set_pattern("%l %v");
    logger = std::make_shared<spdlog::logger>("metrics-test", sink);
    logger->set_level(level);
    logger->flush_on(spdlog::level::trace);
  }
  std::vector<std::string> Lines(const std::string& containing) {
    std::vector<std::string> found;
    std::istringstream in(out.str());
    for (std::string line; std::getline(in, line);) {
      if (line.find(containing) != std::string::npos) found.push_back(line);
    }
    return found;
  }
};

TEST(Logging, SlowFsyncIsWarnedNamingTheShard) {
  TempDir dir;
  CapturedLog log;
  auto fs = std::make_shared<FaultInjectionFileSystem>();
  Options o = TestOptions(dir.path(), 2);
  o.file_system = fs;
  o.logger = log.logger;
  o.slow_fsync_threshold = std::chrono::milliseconds(1);
  auto wal = OpenOrDie(o);
  ASSERT_NE(wal, nullptr);
  const std::string tag = "slow-tag";
  const std::uint32_t shard = wal->ShardForTag(tag);
  ASSERT_TRUE(wal->Append(tag, "warm").ok());
  const auto start = std::chrono::steady_clock::now();
  // Two stalled syncs in a row: one warning (at most one per shard per second).
  for (int i = 0; i < 2; ++i) {
    fs->StallSyncs("/shard-" + std::to_string(shard) + "/");
    const std::uint64_t writes = wal->Metrics().shards[shard].writes;
    auto pending = std::async(std::launch::async, [&] { return wal->Append(tag, "stalled"); });
    // Once the flush wrote the record its fdatasync comes next (and stalls):
    // hold it there a while, however loaded the machine is.
    for (int spin = 0; spin < 5000 && wal->Metrics().shards[shard].writes == writes; ++spin) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    fs->ResumeSyncs();
    ASSERT_TRUE(pending.get().ok());
  }
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto warnings = log.Lines("slow fdatasync");
  ASSERT_FALSE(warnings.empty()) << log.out.str();
  for (const auto& w : warnings) {
    EXPECT_TRUE(w.starts_with("warning ")) << w;
    EXPECT_NE(w.find("shard " + std::to_string(shard) + " ("), std::string::npos) << w;
    EXPECT_NE(w.find(".wal"), std::string::npos) << w;  // the segment file
    EXPECT_NE(w.find(" ms"), std::string::npos) << w;
  }
  EXPECT_LE(static_cast<double>(warnings.size()), std::ceil(elapsed) + 1) << log.out.str();
  EXPECT_GE(wal->Metrics().shards[shard].fsync_seconds.max, 0.02);
  ASSERT_TRUE(wal->Close().ok());
}

TEST(Logging, NoSlowFsyncWarningWhenOff) {
  TempDir dir;
  CapturedLog log;
  auto fs = std::make_shared<FaultInjectionFileSystem>();
  Options o = TestOptions(dir.path(), 1);
  o.file_system = fs;
  o.logger = log.logger;
  o.slow_fsync_threshold = std::chrono::microseconds(0);
  auto wal = OpenOrDie(o);
  ASSERT_NE(wal, nullptr);
  ASSERT_TRUE(wal->Append("t", "warm").ok());
  fs->StallSyncs("/shard-0/");
  auto pending = std::async(std::launch::async, [&] { return wal->Append("t", "stalled"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  fs->ResumeSyncs();
  ASSERT_TRUE(pending.get().ok());
  ASSERT_TRUE(wal->Close().ok());
  EXPECT_TRUE(log.Lines("slow fdatasync").empty()) << log.out.str();
}

TEST(Logging, CheckpointAtInfoRotationAtDebug) {
  TempDir dir;
  CapturedLog log(spdlog::level::debug);
  Options o = TestOptions(dir.path(), 1);
  o.segment_bytes = 64 * 1024;
  o.logger = log.logger;
  auto wal = OpenOrDie(o);
  ASSERT_NE(wal, nullptr);
  const std::string payload(4000, 'r');
  for (int i = 0; i < 60; ++i) ASSERT_TRUE(wal->Append("t", payload).ok());
  ASSERT_TRUE(wal->Checkpoint(wal->LastLsn()).ok());
  ASSERT_TRUE(wal->Close().ok());
  const auto rotations = log.Lines("started segment");
  EXPECT_GE(rotations.size(), 3u) << log.out.str();
  for (const auto& l : rotations) EXPECT_TRUE(l.starts_with("debug ")) << l;
  const auto checkpoints = log.Lines("checkpoint at LSN");
  ASSERT_EQ(checkpoints.size(), 1u) << log.out.str();
  EXPECT_TRUE(checkpoints[0].starts_with("info ")) << checkpoints[0];
  EXPECT_NE(checkpoints[0].find("released"), std::string::npos) << checkpoints[0];
  // Nothing is logged per append: far fewer lines than appends.
  EXPECT_LT(log.Lines("").size(), 30u) << log.out.str();
}

TEST(Options, NegativeSlowFsyncThresholdIsRejected) {
  TempDir dir;
  Options o = TestOptions(dir.path(), 1);
  o.slow_fsync_threshold = std::chrono::microseconds(-1);
  auto w = Wal::Open(o);
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().message().find("slow_fsync_threshold"), std::string::npos) << w.status().ToString();
}

}  // namespace
}  // namespace shardwal
