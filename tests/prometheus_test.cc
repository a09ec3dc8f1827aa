// SPDX-License-Identifier: Apache-2.0
// The Prometheus text format (PrometheusText), parsed line by line: well
// formed and named by convention, histogram buckets that match the snapshot,
// and label values escaped.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <cmath>
#include <cstdint>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "shardwal/version.h"
#include "shardwal/wal.h"
#include "src/observability/histogram.h"
#include "tests/test_util.h"

namespace shardwal {
namespace {

using testing::OpenOrDie;
using testing::TempDir;
using testing::TestOptions;

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
  // The names issue 12 retired (renamed to the conventional ones) are gone.
  for (const char* old_name : {"shardwal_uptime_seconds", "shardwal_seconds_since_last_flush",
                               "shardwal_buffer_utilization"}) {
    EXPECT_FALSE(e.type.count(old_name)) << old_name << " was renamed";
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
      {"shardwal_replicated_lsn", "gauge"},
      {"shardwal_buffered_bytes", "gauge"},        {"shardwal_buffered_records", "gauge"},
      {"shardwal_durable_frontier", "gauge"},      {"shardwal_up", "gauge"},
      {"shardwal_device_free_bytes", "gauge"},     {"shardwal_device_total_bytes", "gauge"},
      {"shardwal_flush_thread_alive", "gauge"},    {"shardwal_last_flush_timestamp_seconds", "gauge"},
      {"shardwal_buffer_utilization_ratio", "gauge"},    {"shardwal_start_time_seconds", "gauge"},
      {"shardwal_shard_info", "gauge"},            {"shardwal_build_info", "gauge"},
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
  EXPECT_EQ(one("shardwal_replicated_lsn"), static_cast<double>(m.replicated_lsn));
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

TEST(Prometheus, BuildInfoCarriesTheLibraryVersion) {
  WalMetrics m;
  const std::string text = PrometheusText(m);
  const std::string line = "shardwal_build_info{version=\"" + std::string(Version()) + "\"} 1\n";
  EXPECT_NE(text.find(line), std::string::npos) << "no '" << line << "' in:\n" << text.substr(0, 600);
  const Exposition e = Parse(text);
  ASSERT_EQ(Find(e, "shardwal_build_info").size(), 1u);
  EXPECT_EQ(e.type.at("shardwal_build_info"), "gauge");
}

double UnixNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// The names renamed by issue 12: Unix timestamps instead of ages, and a
// _ratio suffix on the 0..1 gauge.
TEST(Prometheus, StartTimeLastFlushTimestampAndUtilizationRatio) {
  TempDir dir;
  const double before_open = UnixNow();
  auto wal = OpenOrDie(TestOptions(dir.path(), 2));
  ASSERT_NE(wal, nullptr);
  const double after_open = UnixNow();
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(wal->Append("tag" + std::to_string(i), "payload").ok());
  const WalMetrics m = wal->Metrics();
  const double after_snapshot = UnixNow();
  const Exposition e = Parse(PrometheusText(m));

  const auto start = Find(e, "shardwal_start_time_seconds");
  ASSERT_EQ(start.size(), 1u);
  EXPECT_GE(start[0].value, before_open - 0.001);
  EXPECT_LE(start[0].value, after_open + 0.001);
  EXPECT_EQ(start[0].value, m.start_time_seconds);

  const auto flushed = Find(e, "shardwal_last_flush_timestamp_seconds");
  ASSERT_EQ(flushed.size(), 2u) << "both shards flushed (group appends of 20 tags)";
  for (const auto& s : flushed) {
    EXPECT_GE(s.value, start[0].value - 0.01) << s.label_text;
    EXPECT_LE(s.value, after_snapshot + 0.01) << s.label_text;
  }
  const auto ratio = Find(e, "shardwal_buffer_utilization_ratio");
  ASSERT_EQ(ratio.size(), 2u);
  for (const auto& s : ratio) {
    EXPECT_GE(s.value, 0) << s.label_text;
    EXPECT_LE(s.value, 1) << s.label_text;
  }
}

TEST(Prometheus, LastFlushTimestampIsAbsentBeforeTheFirstFlush) {
  WalMetrics m;
  ShardMetrics s;
  s.shard = 0;
  m.shards.push_back(s);  // last_flush_timestamp_seconds = -1: never flushed
  const Exposition e = Parse(PrometheusText(m));
  EXPECT_TRUE(e.type.count("shardwal_last_flush_timestamp_seconds"));
  EXPECT_TRUE(Find(e, "shardwal_last_flush_timestamp_seconds").empty());
}

#ifdef SHARDWAL_SOURCE_DIR
// Every metric name the shipped Grafana dashboard and alert rules use
// (contrib/) is one a real WAL exposes: a renamed metric cannot leave them
// silently empty.
TEST(Prometheus, ContribDashboardAndAlertsUseOnlyExposedMetrics) {
  TempDir dir;
  auto wal = OpenOrDie(TestOptions(dir.path(), 2));
  ASSERT_NE(wal, nullptr);
  ASSERT_TRUE(wal->Append("tag", "payload").ok());
  const Exposition e = Parse(PrometheusText(wal->Metrics()));
  std::set<std::string> exposed;  // families, and the series names of histograms
  for (const auto& [family, type] : e.type) {
    exposed.insert(family);
    if (type == "histogram") {
      for (const char* suffix : {"_bucket", "_sum", "_count"}) exposed.insert(family + suffix);
    }
  }
  const std::string root = SHARDWAL_SOURCE_DIR;
  for (const std::string rel : {"contrib/grafana/shardwal.json", "contrib/prometheus/shardwal-alerts.yml",
                                "contrib/prometheus/shardwal-alerts_test.yml"}) {
    SCOPED_TRACE(rel);
    std::ifstream in(root + "/" + rel);
    ASSERT_TRUE(in.good()) << root + "/" + rel << " missing";
    const std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    static const std::regex name_re(R"(\bshardwal_[a-z0-9_]*[a-z0-9])");
    std::set<std::string> used;
    for (auto it = std::sregex_iterator(body.begin(), body.end(), name_re); it != std::sregex_iterator(); ++it) {
      used.insert(it->str());
    }
    EXPECT_GE(used.size(), 5u) << "found too few metric names: is the regex right?";
    for (const std::string& name : used) EXPECT_TRUE(exposed.count(name)) << name << " is not in /metrics";
  }
}
#endif

}  // namespace
}  // namespace shardwal
