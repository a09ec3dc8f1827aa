// SPDX-License-Identifier: Apache-2.0
// Time-series points for `shardwal bench --payload timeseries` and the
// demo: what a metrics pipeline hands its WAL, so that compression is
// measured on data that looks like users' data rather than random bytes.
//
// The points are those of the TSBS "cpu-only" use case, as InfluxDB line
// protocol text:
//
//   cpu,hostname=host_12,region=eu-west-1,datacenter=eu-west-1b,rack=34,
//   os=Ubuntu16.04LTS,arch=x64,team=NYC,service=7,service_version=0,
//   service_environment=staging usage_user=58.1,usage_system=2.3,...
//   (10 fields) 1451606400000000000
//
// (one line, no line breaks). Each host's tags are fixed (derived from its
// number); its 10 fields are random walks in [0, 100] with one decimal;
// its timestamps start at 2016-01-01T00:00:00Z and step by interval_ns.
// Everything is derived from the seed: the same writer gets the same
// points in every run. The WAL tag of a point is its hostname ("host_12"),
// so routing by tag keeps a host's points in one shard, in time order.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace shardwal::tools {

// What benchmark writers append: fixed-size pseudo-random records
// (bench/payload.h) or these time-series points.
enum class PayloadKind : std::uint8_t { kFixed, kTimeSeries };
std::string_view PayloadKindName(PayloadKind k);  // "fixed", "timeseries"
std::optional<PayloadKind> ParsePayloadKind(std::string_view s);

class TimeSeriesPoints {
 public:
  static constexpr std::size_t kFields = 10;
  static constexpr std::uint64_t kStartNs = 1451606400000000000ull;  // 2016-01-01T00:00:00Z, as TSBS
  static constexpr std::uint64_t kDefaultIntervalNs = 10'000'000'000ull;  // TSBS's 10 s
  // The longest line Next() formats (tags are bounded, numbers too).
  static constexpr std::size_t kMaxLineBytes = 512;

  // The hosts of writer `writer` of `writers`: host_i for i = writer,
  // writer + writers, ... below `hosts` (at least host_<writer> when
  // hosts < writers). All memory is allocated here.
  TimeSeriesPoints(std::uint32_t writer, std::uint32_t writers, std::uint32_t hosts,
                   std::uint64_t interval_ns = kDefaultIntervalNs);

  struct Point {
    std::uint32_t host = 0;  // its number: tag == "host_<host>"
    std::string_view tag;   // the hostname
    std::string_view line;  // the line protocol text (no trailing newline)
  };
  // The next point: the writer's hosts in turn, each one interval later
  // than its previous point. The views stay valid until the next call.
  // Never allocates.
  Point Next();

  std::size_t hosts() const { return hosts_.size(); }

 private:
  struct Host {
    std::uint32_t number = 0;
    std::string name;    // "host_12"
    std::string prefix;  // "cpu,hostname=host_12,...,service_environment=staging "
    std::array<std::uint16_t, kFields> tenths{};  // the fields, in tenths (0..1000)
    std::uint64_t timestamp_ns = kStartNs;
  };

  std::vector<Host> hosts_;
  std::size_t next_ = 0;
  std::uint64_t interval_ns_;
  std::uint64_t rng_;
  std::array<char, kMaxLineBytes> line_{};
};

// The host a writer's points name, for tests: "host_<n>".
std::string TimeSeriesHostName(std::uint32_t n);

// The pieces of a line, for points whose values come from elsewhere (the
// demo derives them from (tag, seq) so that its verifier can regenerate a
// point's exact bytes):
//
// Host n's measurement and tag set, "cpu,hostname=host_<n>,...,
// service_environment=staging " (with the trailing space), the same as
// TimeSeriesPoints uses for host n: written at `out` (room for
// TimeSeriesPoints::kMaxLineBytes; returns the end; never allocates), or
// returned.
char* FormatTimeSeriesHostPrefix(char* out, std::uint32_t n);
std::string TimeSeriesHostPrefix(std::uint32_t n);
// Writes prefix, the 10 fields "usage_user=58.1,..." (values in tenths,
// 0..1000) and " <timestamp_ns>" at `out`, which must have room for
// TimeSeriesPoints::kMaxLineBytes; returns the end of what it wrote.
char* FormatTimeSeriesLine(char* out, std::string_view prefix,
                           const std::array<std::uint16_t, TimeSeriesPoints::kFields>& tenths,
                           std::uint64_t timestamp_ns);
// The same without the prefix: the 10 fields and " <timestamp_ns>".
char* FormatTimeSeriesFields(char* out, const std::array<std::uint16_t, TimeSeriesPoints::kFields>& tenths,
                             std::uint64_t timestamp_ns);

}  // namespace shardwal::tools
