// SPDX-License-Identifier: Apache-2.0
// Whole segments gone wrong: a middle segment truncated or missing, a
// damaged segment header, a segment duplicated (as is, or with rewritten
// headers), the same LSNs in two shards, garbage files (some named like
// segments), a segment of another WAL and one moved into another shard.
// Checked in every recovery mode, read-only and read-write (RunCase, in
// tests/corruption_harness.h).
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "tests/corruption_harness.h"

namespace shardwal {
namespace {

using namespace corruption;
namespace stdfs = std::filesystem;
using testing::FlipBit;
using testing::ReadFileBytes;
using testing::ShrinkFile;
using testing::WriteFileBytes;

TEST_F(Corruption, MiddleSegmentTruncatedInsideABatch) {
  const std::uint32_t shard = 2;
  const SegmentLoc& seg = B().Seg(shard, 1);
  const std::uint64_t at = seg.batches[2].offset + 61;
  Damage d = [=](const std::string& dir) { ShrinkFile(SegPath(dir, shard, seg.seq), at); };
  auto e = Analyze(d);
  ASSERT_TRUE(e);
  EXPECT_FALSE(e->tolerate_ok);
  EXPECT_EQ(e->anomalies.front().first, Kind::kCorruption);
  RunCase("middle segment truncated", d, *e);
}

TEST_F(Corruption, SegmentHeaderDamage) {
  for (std::size_t seg : {std::size_t{0}, std::size_t{1}, B().Count(0) - 1}) {
    const std::uint64_t seq = B().Seg(0, seg).seq;
    Damage d = [=](const std::string& dir) { FlipBit(SegPath(dir, 0, seq), 44, 3); };
    auto e = Analyze(d);
    ASSERT_TRUE(e);
    EXPECT_FALSE(e->tolerate_ok);  // a bad header is never a torn write, not even in the last segment
    EXPECT_EQ(e->anomalies.front().first, Kind::kUnreadableSegment);
    RunCase("segment header flip in segment " + std::to_string(seq), d, *e);
  }
}

TEST_F(Corruption, MissingMiddleSegment) {
  const std::uint32_t shard = 1;
  const std::uint64_t seq = B().Seg(shard, 1).seq;
  Damage d = [=](const std::string& dir) { stdfs::remove(SegPath(dir, shard, seq)); };
  Expect e;
  e.tolerate_ok = false;
  e.pit_ok = false;  // files do not go missing in a crash: not even point-in-time cuts the other shards at it
  e.lost_pit = LsnsFrom(shard, 1, 0);
  e.lost_salvage = SegmentLsns(shard, 1);
  e.salvage_leaves_damage = true;  // the gap in the sequence stays
  const std::string next = "@/shard-1/" + format::SegmentFileName(shard, B().Seg(shard, 2).seq);
  e.anomalies = {{Kind::kMissingSegment, next}};
  e.fatal_files = {next};
  RunCase("missing middle segment", d, e);
}

TEST_F(Corruption, DuplicatedSegmentUnderANewSequenceNumber) {
  // Segment 2 of shard 0 copied as segment max+1: its header still says 2.
  const std::uint32_t shard = 0;
  const std::uint64_t seq = B().Seg(shard, 1).seq;
  const std::uint64_t new_seq = B().Last(shard).seq + 1;
  Damage d = [=](const std::string& dir) {
    stdfs::copy_file(SegPath(dir, shard, seq), SegPath(dir, shard, new_seq));
  };
  Expect e;
  e.tolerate_ok = false;
  e.salvage_leaves_damage = true;  // salvage skips the copy and leaves it there
  const std::string copy = "@/shard-0/" + format::SegmentFileName(shard, new_seq);
  e.anomalies = {{Kind::kMisplacedSegment, copy}};
  e.fatal_files = {copy};
  RunCase("duplicated segment", d, e);
}

// Rewrites an intact segment as segment `seq` of `shard`, keeping the
// records with an LSN above `above` (segment and batch headers re-encoded
// with valid checksums; records copied byte for byte).
std::string Reframe(const SegmentLoc& seg, std::uint32_t shard, std::uint64_t seq, Lsn above = 0) {
  format::SegmentHeader h = seg.header;
  h.shard_id = shard;
  h.segment_seq = seq;
  h.first_lsn = kNoLsn;
  std::string out(format::kSegmentHeaderBytes, '\0');
  for (const auto& b : seg.batches) {
    format::BatchHeader bh;
    EXPECT_TRUE(format::DecodeBatchHeader(seg.bytes.data() + b.offset, &bh).ok());
    std::string body;
    bh.record_count = 0;
    for (std::uint64_t r = b.offset + format::kBatchHeaderBytes; r < b.end;) {
      format::RecordView rec;
      std::size_t consumed = 0;
      EXPECT_TRUE(format::DecodeRecord(seg.bytes.data() + r, b.end - r, &rec, &consumed).ok());
      if (rec.lsn > above) {
        if (bh.record_count++ == 0) bh.first_lsn = rec.lsn;
        bh.last_lsn = rec.lsn;
        body.append(seg.bytes, r, consumed);
      }
      r += consumed;
    }
    if (bh.record_count == 0) continue;
    if (h.first_lsn == kNoLsn) h.first_lsn = bh.first_lsn;
    bh.body_bytes = static_cast<std::uint32_t>(body.size());
    bh.segment_seq = seq;
    // As written in its new place: everything before it synced (as the
    // fully synced original was).
    bh.synced_offset = out.size();
    char hdr[format::kBatchHeaderBytes];
    format::EncodeBatchHeader(bh, hdr);
    out.append(hdr, sizeof hdr);
    out += body;
  }
  format::EncodeSegmentHeader(h, out.data());
  return out;
}

TEST_F(Corruption, DuplicatedSegmentWithRewrittenHeaders) {
  // A perfect copy of segment 2 as segment max+1 (headers rewritten to fit):
  // its LSNs do not follow the shard's last LSN.
  const std::uint32_t shard = 2;
  const std::uint64_t new_seq = B().Last(shard).seq + 1;
  const std::string bytes = Reframe(B().Seg(shard, 1), shard, new_seq);
  Damage d = [=](const std::string& dir) { WriteFileBytes(SegPath(dir, shard, new_seq), bytes); };
  Expect e;
  e.tolerate_ok = false;
  e.salvage_leaves_damage = true;
  const std::string copy = "@/shard-2/" + format::SegmentFileName(shard, new_seq);
  e.anomalies = {{Kind::kCorruption, copy}};
  e.fatal_files = {copy};
  RunCase("duplicated segment, rewritten", d, e);
}

TEST_F(Corruption, SameLsnsInTwoShards) {
  // The last records of the shard that holds the highest LSN copied
  // (validly framed) into a new last segment of the shard whose last LSN is
  // lowest, keeping only records above that shard's last LSN so that it is
  // in order by itself: those LSNs are now in two shards.
  std::uint32_t donor = 0, target = 0;
  auto last_lsn = [](std::uint32_t s) { return B().Last(s).batches.back().lsns.back(); };
  for (std::uint32_t s = 0; s < kShards; ++s) {
    if (last_lsn(s) > last_lsn(donor)) donor = s;
    if (last_lsn(s) < last_lsn(target)) target = s;
  }
  ASSERT_NE(donor, target);
  const Lsn above = last_lsn(target);
  const std::uint64_t new_seq = B().Last(target).seq + 1;
  const std::string bytes = Reframe(B().Last(donor), target, new_seq, above);
  ASSERT_GT(bytes.size(), format::kSegmentHeaderBytes);
  format::BatchHeader first;
  ASSERT_TRUE(format::DecodeBatchHeader(bytes.data() + format::kSegmentHeaderBytes, &first).ok());
  Damage d = [=](const std::string& dir) { WriteFileBytes(SegPath(dir, target, new_seq), bytes); };
  Expect e;
  e.tolerate_ok = false;
  // Point-in-time keeps the first copy of the first duplicate and stops.
  for (Lsn l = first.first_lsn + 1; l <= static_cast<Lsn>(kRecords); ++l) e.lost_pit.insert(l);
  e.salvage_leaves_damage = true;  // the copies stay
  e.anomalies = {{Kind::kDuplicateLsn, ""}};
  RunCase("the same LSNs in two shards", d, e);
}

TEST_F(Corruption, GarbageFilesInShardDirectories) {
  // Files that are not segments are ignored (and reported) in every mode.
  std::mt19937_64 rng(11);
  std::vector<std::pair<std::string, std::string>> files;  // relative path, content
  for (int k = 0; k < 6; ++k) {
    std::string name;
    const int len = 1 + static_cast<int>(rng() % 20);
    for (int j = 0; j < len; ++j) name.push_back(static_cast<char>('a' + rng() % 26));
    if (k == 4) name = "shard0000-00000000000x.wal";  // almost a segment name
    if (k == 5) name = "shard0001-000000000002.wal.bak";
    std::string content(rng() % 5000, '\0');
    for (auto& c : content) c = static_cast<char>(rng());
    files.push_back({"/shard-" + std::to_string(k % kShards) + "/" + name, content});
  }
  Damage d = [=](const std::string& dir) {
    for (const auto& [rel, content] : files) WriteFileBytes(dir + rel, content);
  };
  Expect e;
  e.absolute_ok = true;  // nothing of the log is damaged
  for (const auto& f : files) e.anomalies.push_back({Kind::kIgnoredFile, "@" + f.first});
  RunCase("garbage files", d, e);
}

TEST_F(Corruption, GarbageFileNamedLikeASegment) {
  std::mt19937_64 rng(12);
  std::string junk(5000, '\0');
  for (auto& c : junk) c = static_cast<char>(rng());
  {
    // As the shard's next segment.
    const std::uint64_t seq = B().Last(2).seq + 1;
    Damage d = [=](const std::string& dir) { WriteFileBytes(SegPath(dir, 2, seq), junk); };
    Expect e;
    e.tolerate_ok = false;
    e.salvage_leaves_damage = true;
    const std::string f = "@/shard-2/" + format::SegmentFileName(2, seq);
    e.anomalies = {{Kind::kUnreadableSegment, f}};
    e.fatal_files = {f};
    RunCase("garbage as the next segment", d, e);
  }
  {
    // In place of a middle segment.
    const std::uint64_t seq = B().Seg(2, 1).seq;
    Damage d = [=](const std::string& dir) { WriteFileBytes(SegPath(dir, 2, seq), junk); };
    Expect e;
    e.tolerate_ok = false;
    e.salvage_leaves_damage = true;
    e.lost_pit = LsnsFrom(2, 1, 0);
    e.lost_salvage = SegmentLsns(2, 1);
    const std::string f = "@/shard-2/" + format::SegmentFileName(2, seq);
    e.anomalies = {{Kind::kUnreadableSegment, f}};
    e.fatal_files = {f};
    RunCase("garbage in place of a middle segment", d, e);
  }
}

TEST_F(Corruption, SegmentOfAnotherWal) {
  const std::string foreign = ReadFileBytes(SegPath(B().foreign_dir, 0, 1));
  ASSERT_GT(foreign.size(), format::kSegmentHeaderBytes);
  {
    const std::uint64_t seq = B().Last(0).seq + 1;
    // Renamed to fit, header and all: only the WAL id gives it away.
    format::SegmentHeader h;
    ASSERT_TRUE(format::DecodeSegmentHeader(foreign.data(), foreign.size(), &h).ok());
    h.segment_seq = seq;
    std::string bytes = foreign;
    format::EncodeSegmentHeader(h, bytes.data());
    Damage d = [=](const std::string& dir) { WriteFileBytes(SegPath(dir, 0, seq), bytes); };
    Expect e;
    e.tolerate_ok = false;
    e.salvage_leaves_damage = true;
    const std::string f = "@/shard-0/" + format::SegmentFileName(0, seq);
    e.anomalies = {{Kind::kForeignSegment, f}};
    e.fatal_files = {f};
    RunCase("foreign segment as the next segment", d, e);
  }
  {
    // In place of segment 1 (same name).
    Damage d = [=](const std::string& dir) { WriteFileBytes(SegPath(dir, 0, 1), foreign); };
    Expect e;
    e.tolerate_ok = false;
    e.salvage_leaves_damage = true;
    e.lost_pit = LsnsFrom(0, 0, 0);
    e.lost_salvage = SegmentLsns(0, 0);
    const std::string f = "@/shard-0/" + format::SegmentFileName(0, 1);
    e.anomalies = {{Kind::kForeignSegment, f}};
    e.fatal_files = {f};
    RunCase("foreign segment in place of segment 1", d, e);
  }
}

TEST_F(Corruption, SegmentMovedIntoAnotherShard) {
  // Shard 0's second segment moved into shard 1's directory, renamed as
  // shard 1's next segment: misplaced there, missing here.
  const std::uint64_t seq = B().Seg(0, 1).seq;
  const std::uint64_t new_seq = B().Last(1).seq + 1;
  Damage d = [=](const std::string& dir) {
    stdfs::rename(SegPath(dir, 0, seq), ShardDir(dir, 1) + "/" + format::SegmentFileName(1, new_seq));
  };
  Expect e;
  e.tolerate_ok = false;
  e.pit_ok = false;  // a segment missing from shard 0 (MissingMiddleSegment)
  e.salvage_leaves_damage = true;
  e.lost_pit = LsnsFrom(0, 1, 0);
  e.lost_salvage = SegmentLsns(0, 1);
  const std::string moved = "@/shard-1/" + format::SegmentFileName(1, new_seq);
  const std::string after_gap = "@/shard-0/" + format::SegmentFileName(0, B().Seg(0, 2).seq);
  e.anomalies = {{Kind::kMisplacedSegment, moved}, {Kind::kMissingSegment, after_gap}};
  e.fatal_files = {moved, after_gap};
  RunCase("segment moved into another shard", d, e);
}

}  // namespace
}  // namespace shardwal
