// SPDX-License-Identifier: Apache-2.0
// What `shardwal bench --payload timeseries`, `--throttle-mbps` and the
// write-volume report are built on, in-process: the time-series points
// (deterministic, valid line protocol, per-host timestamps increasing), the
// throttle's token bucket (its arithmetic, on given times: no clock), and
// the split of a WAL's write volume.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "bench/throttled_file_system.h"
#include "bench/timeseries_payload.h"
#include "bench/write_volume.h"

namespace shardwal::tools {
namespace {

// One line of InfluxDB line protocol, taken apart (no escapes: the
// generator writes none).
struct Line {
  std::string measurement;
  std::map<std::string, std::string> tags;
  std::map<std::string, double> fields;
  std::uint64_t timestamp = 0;
};

bool ParseLine(std::string_view s, Line* out) {
  const std::size_t sp1 = s.find(' ');
  if (sp1 == std::string_view::npos) return false;
  const std::size_t sp2 = s.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || s.find(' ', sp2 + 1) != std::string_view::npos) return false;
  auto split = [](std::string_view part, auto&& each) {
    for (std::size_t at = 0; at <= part.size();) {
      const std::size_t end = std::min(part.find(',', at), part.size());
      if (!each(part.substr(at, end - at))) return false;
      at = end + 1;
    }
    return true;
  };
  bool first = true;
  const bool tags_ok = split(s.substr(0, sp1), [&](std::string_view kv) {
    if (first) {
      first = false;
      out->measurement = std::string(kv);
      return !kv.empty();
    }
    const std::size_t eq = kv.find('=');
    if (eq == std::string_view::npos || eq == 0 || eq + 1 == kv.size()) return false;
    out->tags[std::string(kv.substr(0, eq))] = std::string(kv.substr(eq + 1));
    return true;
  });
  const bool fields_ok = split(s.substr(sp1 + 1, sp2 - sp1 - 1), [&](std::string_view kv) {
    const std::size_t eq = kv.find('=');
    if (eq == std::string_view::npos || eq == 0) return false;
    const std::string value(kv.substr(eq + 1));
    char* end = nullptr;
    const double d = std::strtod(value.c_str(), &end);
    if (value.empty() || *end != '\0') return false;
    out->fields[std::string(kv.substr(0, eq))] = d;
    return true;
  });
  const std::string ts(s.substr(sp2 + 1));
  char* end = nullptr;
  out->timestamp = std::strtoull(ts.c_str(), &end, 10);
  return tags_ok && fields_ok && !ts.empty() && *end == '\0';
}

TEST(TimeSeriesPoints, AreValidLineProtocolOfTsbsCpuOnly) {
  TimeSeriesPoints points(/*writer=*/1, /*writers=*/4, /*hosts=*/40);
  EXPECT_EQ(points.hosts(), 10u);  // host_1, host_5, ..., host_37
  std::map<std::string, std::uint64_t> last_ts;
  for (int i = 0; i < 1000; ++i) {
    const TimeSeriesPoints::Point p = points.Next();
    ASSERT_LE(p.line.size(), TimeSeriesPoints::kMaxLineBytes);
    Line l;
    ASSERT_TRUE(ParseLine(p.line, &l)) << p.line;
    EXPECT_EQ(l.measurement, "cpu");
    EXPECT_EQ(l.tags.size(), 10u) << p.line;
    EXPECT_EQ(l.tags["hostname"], std::string(p.tag));
    const int host = std::stoi(l.tags["hostname"].substr(5));
    EXPECT_EQ(host % 4, 1) << "writer 1 of 4 owns hosts 1, 5, 9, ...";
    EXPECT_LT(host, 40);
    EXPECT_EQ(l.tags["datacenter"].rfind(l.tags["region"], 0), 0u) << "a datacenter is in its region";
    ASSERT_EQ(l.fields.size(), 10u) << p.line;
    for (const char* f : {"usage_user", "usage_system", "usage_idle", "usage_nice", "usage_iowait", "usage_irq",
                          "usage_softirq", "usage_steal", "usage_guest", "usage_guest_nice"}) {
      ASSERT_TRUE(l.fields.count(f)) << f << " in " << p.line;
      EXPECT_GE(l.fields[f], 0.0);
      EXPECT_LE(l.fields[f], 100.0);
    }
    // Each host's timestamps increase, 10 s apart, from 2016-01-01.
    auto [it, fresh] = last_ts.try_emplace(l.tags["hostname"], 0);
    if (fresh) {
      EXPECT_EQ(l.timestamp, TimeSeriesPoints::kStartNs);
    } else {
      EXPECT_EQ(l.timestamp, it->second + TimeSeriesPoints::kDefaultIntervalNs);
    }
    it->second = l.timestamp;
  }
  EXPECT_EQ(last_ts.size(), 10u);
}

TEST(TimeSeriesPoints, AreDeterministicAndAHostKeepsItsTags) {
  TimeSeriesPoints a(0, 2, 8), b(0, 2, 8);
  for (int i = 0; i < 200; ++i) {
    const auto pa = a.Next();
    const auto pb = b.Next();
    ASSERT_EQ(pa.line, pb.line);
  }
  // host_3's tags do not depend on which writer owns it (or how many there are).
  TimeSeriesPoints one(3, 4, 8), other(0, 1, 8);
  const std::string line3(one.Next().line);
  std::string other3;
  for (int i = 0; i < 8; ++i) {
    const auto p = other.Next();
    if (p.tag == "host_3") other3 = std::string(p.line);
  }
  ASSERT_FALSE(other3.empty());
  EXPECT_EQ(line3.substr(0, line3.find(' ')), other3.substr(0, other3.find(' ')));
  // A writer beyond the hosts still has one (its own number).
  TimeSeriesPoints lone(5, 8, 2);
  EXPECT_EQ(lone.hosts(), 1u);
  EXPECT_EQ(lone.Next().tag, "host_5");
}

TEST(TokenBucket, PassesTheRateAndOneBurst) {
  using namespace std::chrono;
  const TokenBucket::Clock::time_point t0{seconds(1000)};
  TokenBucket bucket(/*bytes_per_second=*/100e6, /*burst_bytes=*/1e6);
  // The burst goes through at once.
  EXPECT_EQ(bucket.Take(1'000'000, t0), t0);
  // 1 GB more at the same instant: 10 s at 100 MB/s.
  TokenBucket::Clock::time_point until = t0;
  for (int i = 0; i < 1000; ++i) until = bucket.Take(1'000'000, t0);
  EXPECT_NEAR(duration<double>(until - t0).count(), 10.0, 1e-3);
  // Taken at the time it said, the next MB waits 10 ms more: the rate holds.
  EXPECT_NEAR(duration<double>(bucket.Take(1'000'000, until) - until).count(), 0.01, 1e-4);
}

TEST(TokenBucket, AnIdleBucketFillsOnlyToItsBurst) {
  using namespace std::chrono;
  const TokenBucket::Clock::time_point t0{seconds(50)};
  TokenBucket bucket(10e6, 2e6);
  EXPECT_EQ(bucket.Take(1'000'000, t0), t0);
  // An hour idle earns no more than the 2 MB burst.
  const auto later = t0 + hours(1);
  EXPECT_EQ(bucket.Take(2'000'000, later), later);
  EXPECT_NEAR(duration<double>(bucket.Take(1'000'000, later) - later).count(), 0.1, 1e-6);
}

TEST(WriteVolume, SplitsAWalsBytes) {
  WalStats st;
  st.total.payload_bytes = 1000;
  st.total.bytes = 1300;  // + record and batch headers
  st.total.segments = 2;
  st.total.preparation_bytes = 4096;
  const WriteVolume v = WalWriteVolume(st, 10000);
  EXPECT_TRUE(v.measured);
  EXPECT_EQ(v.framing_bytes, 300u + 2 * (96 + 72));
  EXPECT_EQ(v.preparation_bytes, 4096u);
  EXPECT_EQ(v.compression_saved_bytes, 0u);
  EXPECT_EQ(v.other_bytes, 10000 - (1000 + 636 + 4096));
  EXPECT_DOUBLE_EQ(v.write_amplification, 10.0);
  // Compressed: framed bytes before compression are uncompressed_bytes.
  st.total.uncompressed_bytes = 1300;
  st.total.bytes = 500;
  const WriteVolume c = WalWriteVolume(st, 5000);
  EXPECT_EQ(c.framing_bytes, 636u);
  EXPECT_EQ(c.compression_saved_bytes, 800u);
  EXPECT_EQ(c.other_bytes, 5000 - (1000 + 636 + 4096 - 800));
  // Not measured: no amplification claimed.
  const WriteVolume n = WalWriteVolume(st, std::nullopt);
  EXPECT_FALSE(n.measured);
  EXPECT_EQ(n.write_amplification, 0.0);
}

}  // namespace
}  // namespace shardwal::tools
