// SPDX-License-Identifier: Apache-2.0
#include "tools/demo_verify.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <climits>
#include <cstdio>
#include <cstring>

namespace shardwal::tools::demo {

namespace {

constexpr std::array<std::string_view, 4> kMetrics = {"cpu", "mem", "disk", "net"};
constexpr std::string_view kHost = ".host";
constexpr std::uint64_t kEpochNs = 1'704'067'200'000'000'000;  // 2024-01-01T00:00:00Z
constexpr std::uint64_t kIntervalNs = 10'000'000'000;           // one point per tag every 10 s
constexpr std::string_view kLineStart = "cpu,hostname=host_";
// The fields' wave: one period per hour of points (360 x 10 s).
constexpr std::uint32_t kWavePeriod = 360;

// splitmix64's finalizer: a well-spread value from (tag, seq).
std::uint64_t Mix(std::uint32_t tag, std::uint32_t seq) {
  std::uint64_t z = (static_cast<std::uint64_t>(tag) << 32 | seq) + 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Tag t's first timestamp: tags start 100 us apart (< one interval), so
// that the tags' points interleave in time as a real fleet's do.
std::uint64_t FirstTimestampNs(std::uint32_t tag) { return kEpochNs + std::uint64_t{tag % 10000} * 100'000; }

// Decimal digits without sign or leading zeros, <= max.
bool ParseNumber(std::string_view s, std::uint64_t max, std::uint64_t* v) {
  if (s.empty() || s.size() > 19 || (s.size() > 1 && s[0] == '0')) return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
  return ec == std::errc() && end == s.data() + s.size() && *v <= max;
}

std::string Printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 40)) {
    if (c >= 0x20 && c < 0x7f) {
      out += c;
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned char>(c));
      out += buf;
    }
  }
  return s.size() > 40 ? out + "..." : out;
}

}  // namespace

std::size_t EncodePoint(std::uint32_t tag, std::uint32_t seq, char* out) {
  const std::uint64_t noise = Mix(tag, seq);
  std::array<std::uint16_t, TimeSeriesPoints::kFields> tenths;
  for (std::size_t i = 0; i < tenths.size(); ++i) {
    // Per (tag, field): a base level of 15.0 .. 65.0 % and a phase (the seq
    // argument is beyond what real points reach). Around the base, a
    // triangle wave of +-6.0 and +-1.6 of noise (6 bits of the hash each).
    const std::uint64_t m = Mix(tag, 0xFFFF'FF00u + static_cast<std::uint32_t>(i));
    const auto base = static_cast<int>(150 + m % 501);
    const std::uint32_t at = static_cast<std::uint32_t>((seq % kWavePeriod + (m >> 32) % kWavePeriod) % kWavePeriod);
    const int wave = static_cast<int>(at < kWavePeriod / 2 ? at : kWavePeriod - at) * 2 / 3 - 60;
    const int jitter = static_cast<int>((noise >> (6 * i)) & 31) - 16;
    tenths[i] = static_cast<std::uint16_t>(std::clamp(base + wave + jitter, 0, 1000));
  }
  // Seqs past ~7.5e8 (240 years of points) would overflow the timestamp.
  const std::uint64_t ts = FirstTimestampNs(tag) + std::uint64_t{seq} * kIntervalNs;
  char* const fields = FormatTimeSeriesHostPrefix(out, tag);
  return static_cast<std::size_t>(FormatTimeSeriesFields(fields, tenths, ts) - out);
}

std::string TagName(std::uint32_t index) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%s.host%04u", kMetrics[index % kMetrics.size()].data(),
                static_cast<unsigned>(index / kMetrics.size()));
  return buf;
}

bool ParseTagName(std::string_view name, std::uint32_t tags, std::uint32_t* index) {
  const std::size_t dot = name.find(kHost);
  if (dot == std::string_view::npos) return false;
  const auto metric = std::find(kMetrics.begin(), kMetrics.end(), name.substr(0, dot));
  if (metric == kMetrics.end()) return false;
  const std::string_view digits = name.substr(dot + kHost.size());
  if (digits.size() < 4 || digits.size() > 9) return false;
  std::uint64_t host = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
    host = host * 10 + static_cast<std::uint64_t>(c - '0');
  }
  const std::uint64_t i = host * kMetrics.size() + static_cast<std::uint64_t>(metric - kMetrics.begin());
  // Leading zeros beyond the 4-digit padding would name the same index twice.
  if (i >= tags || TagName(static_cast<std::uint32_t>(i)) != name) return false;
  *index = static_cast<std::uint32_t>(i);
  return true;
}

std::string EncodePoint(std::uint32_t tag, std::uint32_t seq) {
  std::array<char, kMaxPointBytes> buf;
  return std::string(buf.data(), EncodePoint(tag, seq, buf.data()));
}

bool DecodePoint(std::string_view payload, Point* point) {
  if (!payload.starts_with(kLineStart)) return false;
  const std::size_t comma = payload.find(',', kLineStart.size());
  const std::size_t space = payload.rfind(' ');
  std::uint64_t tag = 0, ts = 0;
  if (comma == std::string_view::npos || space == std::string_view::npos || space < comma ||
      !ParseNumber(payload.substr(kLineStart.size(), comma - kLineStart.size()), UINT32_MAX, &tag) ||
      !ParseNumber(payload.substr(space + 1), INT64_MAX, &ts)) {
    return false;
  }
  const std::uint64_t first = FirstTimestampNs(static_cast<std::uint32_t>(tag));
  if (ts < first || (ts - first) % kIntervalNs != 0 || (ts - first) / kIntervalNs > UINT32_MAX) return false;
  point->tag = static_cast<std::uint32_t>(tag);
  point->seq = static_cast<std::uint32_t>((ts - first) / kIntervalNs);
  point->timestamp_ns = static_cast<std::int64_t>(ts);
  return true;
}

Verifier::Verifier(std::uint32_t tags) : tags_(tags), next_seq_(tags, 0) {}

void Verifier::Problem(std::string text) {
  if (report_.problems.size() < kMaxProblems) report_.problems.push_back(std::move(text));
}

void Verifier::Add(Lsn lsn, std::string_view tag, std::string_view payload) {
  ++report_.recovered;
  if (report_.first_lsn == kNoLsn) report_.first_lsn = lsn;
  report_.last_lsn = lsn;
  if (lsn != expected_lsn_) {
    ++report_.lsn_gaps;
    Problem("LSN " + std::to_string(lsn) + " follows LSN " + std::to_string(expected_lsn_ - 1) +
            " (recovered LSNs must be 1, 2, 3, ... without gaps)");
  }
  expected_lsn_ = lsn + 1;

  Entry e{lsn, 0, 0, false};
  std::uint32_t tag_index = 0;
  Point p;
  std::array<char, kMaxPointBytes> expected;
  if (!ParseTagName(tag, tags_, &tag_index)) {
    Problem("LSN " + std::to_string(lsn) + ": unknown tag '" + Printable(tag) + "'");
  } else if (!DecodePoint(payload, &p) || p.tag != tag_index) {
    Problem("LSN " + std::to_string(lsn) + " (tag " + std::string(tag) + "): payload of " +
            std::to_string(payload.size()) + " bytes is not a point of this tag (hostname or timestamp): '" +
            Printable(payload) + "'");
  } else if (std::string_view(expected.data(), EncodePoint(p.tag, p.seq, expected.data())) != payload) {
    Problem("LSN " + std::to_string(lsn) + " (tag " + std::string(tag) + " seq " + std::to_string(p.seq) +
            "): payload differs from the point that was appended");
  } else {
    if (p.seq != next_seq_[tag_index]) {
      // Each tag has one writer that appends seq 0, 1, 2, ... and waits
      // for each: a tag's recovered points must be exactly a prefix of that.
      ++report_.out_of_order;
      Problem("LSN " + std::to_string(lsn) + " (tag " + std::string(tag) + "): seq " + std::to_string(p.seq) +
              " where seq " + std::to_string(next_seq_[tag_index]) + " was expected (per-tag order broken)");
    }
    if (next_seq_[tag_index] == 0) ++report_.tags_seen;
    next_seq_[tag_index] = p.seq + 1;  // resynchronise: one hole is reported once
    e.tag = tag_index;
    e.seq = p.seq;
    e.intact = true;
  }
  if (!e.intact) ++report_.corrupted;
  recovered_.push_back(e);
}

VerifyReport Verifier::Finish(std::span<const AckedPoint> acked) {
  std::vector<AckedPoint> sorted(acked.begin(), acked.end());
  std::sort(sorted.begin(), sorted.end(), [](const AckedPoint& a, const AckedPoint& b) { return a.lsn < b.lsn; });
  // recovered_ is in LSN order (replay order); walk both together.
  auto it = recovered_.begin();
  Lsn previous = kNoLsn;
  for (const AckedPoint& a : sorted) {
    if (a.lsn == previous && previous != kNoLsn) {
      ++report_.duplicate_acks;
      Problem("LSN " + std::to_string(a.lsn) + " was acknowledged twice");
      continue;
    }
    previous = a.lsn;
    ++report_.acknowledged;
    it = std::lower_bound(it, recovered_.end(), a.lsn, [](const Entry& e, Lsn l) { return e.lsn < l; });
    const std::string what =
        "acknowledged point " + TagName(a.tag) + " seq " + std::to_string(a.seq) + " (LSN " + std::to_string(a.lsn) + ")";
    if (it == recovered_.end() || it->lsn != a.lsn) {
      ++report_.missing;
      Problem(what + " was not recovered (recovered LSNs " + std::to_string(report_.first_lsn) + ".." +
              std::to_string(report_.last_lsn) + ")");
    } else if (!it->intact || it->tag != a.tag || it->seq != a.seq) {
      ++report_.missing;
      Problem(what + ": the record recovered at that LSN is " +
              (it->intact ? TagName(it->tag) + " seq " + std::to_string(it->seq) : std::string("damaged")));
    } else {
      ++report_.recovered_acknowledged;
    }
  }
  // Intact records nobody was told about: appended, maybe written, but the
  // child was killed before it reported them (or before Append returned).
  report_.recovered_unacknowledged = report_.recovered - report_.corrupted - report_.recovered_acknowledged;
  return report_;
}

}  // namespace shardwal::tools::demo
