// SPDX-License-Identifier: Apache-2.0
#include "bench/timeseries_payload.h"

#include <algorithm>
#include <charconv>
#include <cstring>

#include "bench/payload.h"

namespace shardwal::tools {

namespace {

// TSBS cpu-only's tag values (its devops generator's lists).
constexpr std::string_view kRegions[] = {"us-east-1", "us-west-1", "us-west-2", "eu-west-1", "eu-central-1",
                                         "ap-southeast-1", "ap-southeast-2", "ap-northeast-1", "sa-east-1"};
constexpr std::string_view kDatacenterSuffixes[] = {"a", "b", "c"};
constexpr std::string_view kOses[] = {"Ubuntu16.10", "Ubuntu16.04LTS", "Ubuntu15.10"};
constexpr std::string_view kArches[] = {"x64", "x86"};
constexpr std::string_view kTeams[] = {"SF", "NYC", "LON", "CHI"};
constexpr std::string_view kEnvironments[] = {"production", "staging", "test"};
constexpr std::string_view kFieldNames[TimeSeriesPoints::kFields] = {
    "usage_user",   "usage_system", "usage_idle",  "usage_nice",  "usage_iowait",
    "usage_irq",    "usage_softirq", "usage_steal", "usage_guest", "usage_guest_nice"};

template <std::size_t N>
std::string_view Pick(const std::string_view (&values)[N], std::uint64_t& rng) {
  return values[PickBelow(rng, N)];
}

char* Put(char* out, std::string_view s) {
  std::memcpy(out, s.data(), s.size());
  return out + s.size();
}

char* PutNumber(char* out, std::uint64_t v) { return std::to_chars(out, out + 20, v).ptr; }

// Host n's measurement and tags, drawn from rng in TSBS's order.
char* PutHostPrefix(char* out, std::uint32_t n, std::uint64_t& rng) {
  const std::string_view region = Pick(kRegions, rng);
  out = PutNumber(Put(out, "cpu,hostname=host_"), n);
  out = Put(Put(out, ",region="), region);
  out = Put(Put(Put(out, ",datacenter="), region), Pick(kDatacenterSuffixes, rng));
  out = PutNumber(Put(out, ",rack="), PickBelow(rng, 100));
  out = Put(Put(out, ",os="), Pick(kOses, rng));
  out = Put(Put(out, ",arch="), Pick(kArches, rng));
  out = Put(Put(out, ",team="), Pick(kTeams, rng));
  out = PutNumber(Put(out, ",service="), PickBelow(rng, 20));
  out = PutNumber(Put(out, ",service_version="), PickBelow(rng, 2));
  out = Put(Put(out, ",service_environment="), Pick(kEnvironments, rng));
  *out++ = ' ';
  return out;
}

// Host n's own random stream: its tags, then its fields' starting values.
std::uint64_t HostSeed(std::uint32_t n) { return WriterSeed(n) ^ 0xC2B2AE3D27D4EB4Full; }

}  // namespace

std::string TimeSeriesHostName(std::uint32_t n) { return "host_" + std::to_string(n); }

char* FormatTimeSeriesHostPrefix(char* out, std::uint32_t n) {
  std::uint64_t rng = HostSeed(n);
  return PutHostPrefix(out, n, rng);
}

std::string TimeSeriesHostPrefix(std::uint32_t n) {
  std::array<char, TimeSeriesPoints::kMaxLineBytes> buf;
  return std::string(buf.data(), FormatTimeSeriesHostPrefix(buf.data(), n));
}

char* FormatTimeSeriesLine(char* out, std::string_view prefix,
                           const std::array<std::uint16_t, TimeSeriesPoints::kFields>& tenths,
                           std::uint64_t timestamp_ns) {
  return FormatTimeSeriesFields(Put(out, prefix), tenths, timestamp_ns);
}

char* FormatTimeSeriesFields(char* out, const std::array<std::uint16_t, TimeSeriesPoints::kFields>& tenths,
                             std::uint64_t timestamp_ns) {
  char* const end = out + TimeSeriesPoints::kMaxLineBytes;
  for (std::size_t i = 0; i < TimeSeriesPoints::kFields; ++i) {
    if (i != 0) *out++ = ',';
    out = Put(out, kFieldNames[i]);
    *out++ = '=';
    out = std::to_chars(out, end, tenths[i] / 10).ptr;
    *out++ = '.';
    *out++ = static_cast<char>('0' + tenths[i] % 10);
  }
  *out++ = ' ';
  return std::to_chars(out, end, timestamp_ns).ptr;
}

std::string_view PayloadKindName(PayloadKind k) { return k == PayloadKind::kTimeSeries ? "timeseries" : "fixed"; }

std::optional<PayloadKind> ParsePayloadKind(std::string_view s) {
  if (s == "fixed") return PayloadKind::kFixed;
  if (s == "timeseries") return PayloadKind::kTimeSeries;
  return std::nullopt;
}

TimeSeriesPoints::TimeSeriesPoints(std::uint32_t writer, std::uint32_t writers, std::uint32_t hosts,
                                   std::uint64_t interval_ns)
    : interval_ns_(interval_ns), rng_(WriterSeed(writer)) {
  const std::uint32_t step = std::max<std::uint32_t>(1, writers);
  for (std::uint32_t h = writer; h < hosts || hosts_.empty(); h += step) {
    // A host's tags depend on its number only, whichever writer owns it.
    std::uint64_t host_rng = HostSeed(h);
    Host host;
    host.number = h;
    host.name = TimeSeriesHostName(h);
    std::array<char, kMaxLineBytes> prefix;
    host.prefix.assign(prefix.data(), PutHostPrefix(prefix.data(), h, host_rng));
    for (std::uint16_t& v : host.tenths) v = static_cast<std::uint16_t>(PickBelow(host_rng, 1001));
    hosts_.push_back(std::move(host));
    if (h >= hosts) break;  // the one host of a writer beyond `hosts`
  }
}

TimeSeriesPoints::Point TimeSeriesPoints::Next() {
  Host& h = hosts_[next_];
  next_ = next_ + 1 == hosts_.size() ? 0 : next_ + 1;
  for (std::uint16_t& v : h.tenths) {
    // A random walk: -2.0 .. +2.0 per point, clamped to [0, 100].
    const int step = static_cast<int>(PickBelow(rng_, 41)) - 20;
    v = static_cast<std::uint16_t>(std::clamp(static_cast<int>(v) + step, 0, 1000));
  }
  char* const out = FormatTimeSeriesLine(line_.data(), h.prefix, h.tenths, h.timestamp_ns);
  h.timestamp_ns += interval_ns_;
  return Point{h.number, h.name, std::string_view(line_.data(), static_cast<std::size_t>(out - line_.data()))};
}

}  // namespace shardwal::tools
