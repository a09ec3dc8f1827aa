// SPDX-License-Identifier: Apache-2.0
// `shardwal demo`'s data model and its verifier, kept free of any WAL or I/O
// so that tests can feed the verifier hand-made (and deliberately damaged)
// input.
//
// Tags: point tag i is "<metric>.host<NNNN>" with metric = cpu, mem, disk,
// net for i % 4 and host number i / 4 ("cpu.host0042" is tag 168).
//
// A point's payload is one line of InfluxDB line protocol, a point of the
// TSBS cpu-only use case (bench/timeseries_payload.h formats it):
//
//   cpu,hostname=host_42,region=...,service_environment=staging usage_user=31.4,usage_system=47.0,...
//   (10 fields) 1704067204200000000
//
//  * hostname: host_<tag index> (the WAL tag stays "<metric>.host<NNNN>",
//    the routing key; the line names the tag's own host). Its tag set is
//    that of TSBS host <tag index> in `shardwal bench --payload timeseries`.
//  * the 10 fields, CPU percentages with one decimal: per (tag, field) a
//    base level and a phase, plus a triangle wave of period 1 h (360 points)
//    and hash noise of (tag, seq);
//  * timestamp, ns: 2024-01-01 + seq * 10 s + tag % 10000 * 100 us, so each
//    tag's timestamps increase by 10 s per point.
//
// All a function of (tag index, seq) alone, so a reader can tell from a
// recovered record whether it is exactly what was appended: it parses the
// tag and seq back out of the hostname and timestamp, formats that point
// again and compares the bytes.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bench/timeseries_payload.h"
#include "shardwal/types.h"

namespace shardwal::tools::demo {

// The longest point line.
inline constexpr std::size_t kMaxPointBytes = TimeSeriesPoints::kMaxLineBytes;

// "cpu.host0042"-style name of tag `index`.
std::string TagName(std::uint32_t index);
// The index of a tag name TagName made, if it is one (and < `tags`).
bool ParseTagName(std::string_view name, std::uint32_t tags, std::uint32_t* index);

// Writes the payload of point (tag, seq) at out[0..kMaxPointBytes) and
// returns its size. Never allocates: the writers' loop formats each point
// into one reused buffer.
std::size_t EncodePoint(std::uint32_t tag, std::uint32_t seq, char* out);
// The same, returned (for tests and one-offs).
std::string EncodePoint(std::uint32_t tag, std::uint32_t seq);

struct Point {
  std::uint32_t tag = 0;
  std::uint32_t seq = 0;
  std::int64_t timestamp_ns = 0;
};
// Parses the tag index (hostname) and seq (timestamp) out of a payload;
// false when it does not start "cpu,hostname=host_<n>," or does not end
// " <timestamp>" with a timestamp of one of host n's points. It does not
// look at the rest: the payload is that point only if it equals
// EncodePoint(point->tag, point->seq) byte for byte (the Verifier checks).
bool DecodePoint(std::string_view payload, Point* point);

// What the crash child reports through the pipe for each point whose
// group-durability Append returned OK. Fixed-size, so a write(2) of whole
// entries (<= PIPE_BUF bytes) arrives whole or not at all.
struct AckedPoint {
  std::uint32_t tag = 0;
  std::uint32_t seq = 0;
  Lsn lsn = kNoLsn;
};
static_assert(sizeof(AckedPoint) == 16);

struct VerifyReport {
  std::uint64_t acknowledged = 0;              // distinct acknowledged points given to Finish
  std::uint64_t recovered = 0;                 // records replayed
  std::uint64_t recovered_acknowledged = 0;    // acknowledged and recovered intact at their LSN
  std::uint64_t recovered_unacknowledged = 0;  // recovered, never acknowledged: in flight at the kill (allowed)
  std::uint64_t missing = 0;     // acknowledged, but not recovered intact at the LSN it was given
  std::uint64_t corrupted = 0;   // recovered records that are not an intact point of a known tag
  std::uint64_t out_of_order = 0;  // intact points whose seq is not the one after their tag's previous point
  std::uint64_t lsn_gaps = 0;    // places where the recovered LSNs are not 1, 2, 3, ...
  std::uint64_t duplicate_acks = 0;  // the same LSN acknowledged twice (a broken report stream)
  Lsn first_lsn = kNoLsn, last_lsn = kNoLsn;  // of the recovered records
  std::uint32_t tags_seen = 0;   // tags with at least one recovered point
  // The first few problems, each naming the LSN, tag and seq concerned.
  std::vector<std::string> problems;

  bool ok() const {
    return missing == 0 && corrupted == 0 && out_of_order == 0 && lsn_gaps == 0 && duplicate_acks == 0;
  }
};

// Checks a recovered WAL against the acknowledged points:
//  * the recovered LSNs are exactly 1..N;
//  * each recovered record has a known tag and a payload byte-identical to
//    EncodePoint(tag, seq) of that tag, and each tag's seqs come in order
//    0, 1, 2, ... (each tag has one writer, which appends them in order);
//  * every acknowledged point is recovered at its LSN with its exact bytes.
class Verifier {
 public:
  explicit Verifier(std::uint32_t tags);

  // One recovered record, in replay (LSN) order. Copies what it keeps.
  void Add(Lsn lsn, std::string_view tag, std::string_view payload);
  // Compares with the acknowledged points (any order). Call once.
  VerifyReport Finish(std::span<const AckedPoint> acked);

 private:
  static constexpr std::size_t kMaxProblems = 10;
  struct Entry {
    Lsn lsn;
    std::uint32_t tag;
    std::uint32_t seq;
    bool intact;
  };
  void Problem(std::string text);

  std::uint32_t tags_;
  std::vector<std::uint32_t> next_seq_;  // per tag: the seq its next record must have
  std::vector<Entry> recovered_;         // in LSN order
  Lsn expected_lsn_ = 1;
  VerifyReport report_;
};

}  // namespace shardwal::tools::demo
