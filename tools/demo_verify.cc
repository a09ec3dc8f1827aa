// SPDX-License-Identifier: Apache-2.0
#include "tools/demo_verify.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>

namespace shardwal::tools::demo {

namespace {

constexpr std::array<std::string_view, 4> kMetrics = {"cpu", "mem", "disk", "net"};
constexpr std::string_view kHost = ".host";
constexpr std::int64_t kEpochNs = 1'704'067'200'000'000'000;  // 2024-01-01T00:00:00Z
constexpr std::int64_t kIntervalNs = 10'000'000'000;           // one point per tag every 10 s

std::uint64_t Fnv1a64(const char* p, std::size_t n) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (std::size_t i = 0; i < n; ++i) {
    h ^= static_cast<unsigned char>(p[i]);
    h *= 0x100000001b3ull;
  }
  return h;
}

// splitmix64's finalizer: a well-spread value from (tag, seq).
std::uint64_t Mix(std::uint32_t tag, std::uint32_t seq) {
  std::uint64_t z = (static_cast<std::uint64_t>(tag) << 32 | seq) + 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
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

void EncodePoint(std::uint32_t tag, std::uint32_t seq, char* out) {
  const std::int64_t ts = kEpochNs + static_cast<std::int64_t>(seq) * kIntervalNs +
                          static_cast<std::int64_t>(tag % 10000) * 100'000;
  const double value = static_cast<double>(Mix(tag, seq) % 100000) / 100.0;
  std::memcpy(out, &tag, 4);
  std::memcpy(out + 4, &seq, 4);
  std::memcpy(out + 8, &ts, 8);
  std::memcpy(out + 16, &value, 8);
  const std::uint64_t sum = Fnv1a64(out, 24);
  std::memcpy(out + 24, &sum, 8);
}

bool DecodePoint(std::string_view payload, Point* point) {
  if (payload.size() != kPointBytes) return false;
  std::uint64_t sum = 0;
  std::memcpy(&sum, payload.data() + 24, 8);
  if (sum != Fnv1a64(payload.data(), 24)) return false;
  std::memcpy(&point->tag, payload.data(), 4);
  std::memcpy(&point->seq, payload.data() + 4, 4);
  std::memcpy(&point->timestamp_ns, payload.data() + 8, 8);
  std::memcpy(&point->value, payload.data() + 16, 8);
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
  std::array<char, kPointBytes> expected;
  if (!ParseTagName(tag, tags_, &tag_index)) {
    Problem("LSN " + std::to_string(lsn) + ": unknown tag '" + Printable(tag) + "'");
  } else if (!DecodePoint(payload, &p) || p.tag != tag_index) {
    Problem("LSN " + std::to_string(lsn) + " (tag " + std::string(tag) + "): payload of " +
            std::to_string(payload.size()) + " bytes is not a valid point of this tag (checksum, size or tag field)");
  } else if (EncodePoint(p.tag, p.seq, expected.data());
             std::memcmp(expected.data(), payload.data(), kPointBytes) != 0) {
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
