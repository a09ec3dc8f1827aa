// SPDX-License-Identifier: Apache-2.0
// Damage at the end of a shard's log: torn and zeroed tails of the last
// segment (which a cleanly closed WAL does not excuse: its records were
// acknowledged), preallocated zeros and garbage after the last batch, bytes
// after a seal, and a last segment cut inside its header. Checked in every
// recovery mode, read-only and read-write (RunCase, in
// tests/corruption_harness.h).
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>

#include "tests/corruption_harness.h"

namespace shardwal {
namespace {

using namespace corruption;
using testing::AppendFileBytes;
using testing::ShrinkFile;
using testing::ZeroBytes;

TEST_F(Corruption, TornTailOfLastSegment) {
  const std::uint32_t shard = 1;
  const SegmentLoc& last = B().Last(shard);
  const auto& b = last.batches[last.batches.size() - 2];
  const std::uint64_t at = b.offset + 100;  // inside the second-to-last batch
  Damage d = [=](const std::string& dir) { ShrinkFile(SegPath(dir, shard, last.seq), at); };
  auto e = Analyze(d);
  ASSERT_TRUE(e);
  // It looks like a torn tail, but the WAL was closed cleanly: these
  // records were acknowledged (the MANIFEST records the shard's last LSN as
  // durable, later batches of other shards the watermark over them), so no
  // crash explains their loss. tolerate-torn-tail refuses; point-in-time
  // keeps the prefix. (Torn tails of what was never acknowledged:
  // CorruptionRegression.TornTailSeenOnlyByChecksumsIsNotCut and the
  // power-loss tests.)
  EXPECT_FALSE(e->tolerate_ok);
  e->anomalies = {{Kind::kTornTail, "@/shard-1/" + format::SegmentFileName(shard, last.seq)}};
  RunCase("torn tail", d, *e);

  // Full length, but a page of the last batch is lost: a hole of zeros,
  // which only its record checksums see. The seal after it says those bytes
  // had been synced: corruption, not a torn write.
  const auto& lb = last.batches.back();
  Damage hole = [=](const std::string& dir) { ZeroBytes(SegPath(dir, shard, last.seq), lb.end - 40, 20); };
  e = Analyze(hole);
  ASSERT_TRUE(e);
  EXPECT_FALSE(e->tolerate_ok);
  EXPECT_TRUE(e->checksum_only);
  EXPECT_EQ(e->anomalies.front().first, Kind::kCorruption);
  RunCase("hole in a synced last batch", hole, *e);
}

TEST_F(Corruption, ZeroedTailOfLastSegment) {
  const std::uint32_t shard = 2;
  const SegmentLoc& last = B().Last(shard);
  const std::uint64_t at = last.batches[last.batches.size() - 3].offset + 7;
  Damage d = [=](const std::string& dir) {
    ZeroBytes(SegPath(dir, shard, last.seq), at, last.bytes.size());
  };
  auto e = Analyze(d);
  ASSERT_TRUE(e);
  EXPECT_FALSE(e->tolerate_ok);  // acknowledged records (TornTailOfLastSegment)
  // The zeros start inside a batch: its first bytes are not zero, so this
  // is a torn tail, not a zeroed one.
  e->anomalies = {{Kind::kTornTail, "@/shard-2/" + format::SegmentFileName(shard, last.seq)}};
  RunCase("zeroed tail from inside a batch", d, *e);

  const std::uint64_t at2 = last.batches[last.batches.size() - 2].offset;
  Damage d2 = [=](const std::string& dir) {
    ZeroBytes(SegPath(dir, shard, last.seq), at2, last.bytes.size());
  };
  e = Analyze(d2);
  ASSERT_TRUE(e);
  e->anomalies = {{Kind::kZeroedTail, "@/shard-2/" + format::SegmentFileName(shard, last.seq)}};
  RunCase("zeroed tail from a batch boundary", d2, *e);
}

TEST_F(Corruption, PreallocatedZerosAfterLastSegment) {
  // Zeros appended after the last batch (a preallocated, never written
  // tail): nothing is lost, only absolute refuses it.
  // The seal goes too: a clean Close would have written one, and after a
  // seal nothing is data (SealedSegmentIgnoresWhatFollowsTheSeal).
  const std::uint32_t shard = 0;
  const std::uint64_t seq = B().Last(shard).seq;
  const std::uint64_t seal = B().Last(shard).seal_offset;
  ASSERT_NE(seal, 0u);
  Damage d = [=](const std::string& dir) {
    ShrinkFile(SegPath(dir, shard, seq), seal);
    AppendFileBytes(SegPath(dir, shard, seq), std::string(8192, '\0'));
  };
  Expect e;
  e.anomalies = {{Kind::kZeroedTail, "@/shard-0/" + format::SegmentFileName(shard, seq)}};
  e.fatal_files = {"@/shard-0/" + format::SegmentFileName(shard, seq)};
  RunCase("preallocated zeros", d, e);
}

TEST_F(Corruption, GarbageAfterLastSegment) {
  const std::uint32_t shard = 1;
  const std::uint64_t seq = B().Last(shard).seq;
  std::mt19937_64 rng(5);
  std::string junk(3000, '\0');
  for (auto& c : junk) c = static_cast<char>(rng());
  const std::uint64_t seal = B().Last(shard).seal_offset;  // a crash: no seal
  ASSERT_NE(seal, 0u);
  Damage d = [=](const std::string& dir) {
    ShrinkFile(SegPath(dir, shard, seq), seal);
    AppendFileBytes(SegPath(dir, shard, seq), junk);
  };
  Expect e;
  e.anomalies = {{Kind::kTornTail, "@/shard-1/" + format::SegmentFileName(shard, seq)}};
  e.fatal_files = {"@/shard-1/" + format::SegmentFileName(shard, seq)};
  RunCase("garbage after the last batch", d, e);
}

TEST_F(Corruption, SealedSegmentIgnoresWhatFollowsTheSeal) {
  // A clean Close sealed the last segment: whatever lies after the seal was
  // never written as data (preallocated space, a recycled file's old bytes),
  // so every mode accepts it and nothing is lost or cut.
  const std::uint32_t shard = 2;
  const std::uint64_t seq = B().Last(shard).seq;
  ASSERT_NE(B().Last(shard).seal_offset, 0u);
  std::mt19937_64 rng(9);
  std::string junk(3000, '\0');
  for (auto& c : junk) c = static_cast<char>(rng());
  Damage d = [=](const std::string& dir) {
    AppendFileBytes(SegPath(dir, shard, seq), junk + std::string(4096, '\0'));
  };
  Expect e;  // no anomalies, nothing lost
  e.absolute_ok = true;
  RunCase("bytes after the seal", d, e);
}

TEST_F(Corruption, LastSegmentCutInsideItsHeader) {
  // A crash right after creating the segment: the header is cut short. The
  // file is a leftover; every mode but absolute removes it.
  const std::uint32_t shard = 0;
  const std::uint64_t seq = B().Last(shard).seq;
  Damage d = [=](const std::string& dir) { ShrinkFile(SegPath(dir, shard, seq), 30); };
  auto e = Analyze(d);
  ASSERT_TRUE(e);
  EXPECT_FALSE(e->tolerate_ok);  // its records were acknowledged (TornTailOfLastSegment)
  EXPECT_EQ(e->anomalies.front().first, Kind::kTornTail);
  RunCase("last segment header cut short", d, *e);
  Damage empty = [=](const std::string& dir) { ShrinkFile(SegPath(dir, shard, seq), 0); };
  e = Analyze(empty);
  ASSERT_TRUE(e);
  RunCase("last segment empty", empty, *e);
}

}  // namespace
}  // namespace shardwal
