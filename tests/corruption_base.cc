// SPDX-License-Identifier: Apache-2.0
// The corruption tests' intact WAL: built once, parsed with the tests' own
// reader (independent of SegmentReader, so that the two check each other),
// and copied for each damage (tests/corruption_harness.h).
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "src/foundation/manifest.h"
#include "tests/corruption_harness.h"

namespace shardwal::corruption {

namespace stdfs = std::filesystem;
using testing::ReadFileBytes;
using testing::WriteFileBytes;

std::map<std::string, std::string> Snapshot(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : stdfs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file() || e.path().filename() == "LOCK") continue;
    out[stdfs::relative(e.path(), dir).string()] = ReadFileBytes(e.path().string());
  }
  return out;
}

std::string SegPath(const std::string& wal, std::uint32_t shard, std::uint64_t seq) {
  return ShardDir(wal, shard) + "/" + format::SegmentFileName(shard, seq);
}

// ---- the intact WAL, parsed --------------------------------------------------

namespace {

std::string Payload(int i) {
  std::string s = "rec" + std::to_string(i) + "|";
  const int n = 40 + (i * 7919) % 200;
  for (int j = 0; j < n; ++j) s.push_back(static_cast<char>('a' + (i + j * 31) % 26));
  return s;
}

// Parses an intact segment file (the test's own reader, independent of
// SegmentReader, so that the two check each other).
SegmentLoc ParseSegment(std::uint32_t shard, std::uint64_t seq, std::string bytes) {
  SegmentLoc s;
  s.shard = shard;
  s.seq = seq;
  s.bytes = std::move(bytes);
  EXPECT_GE(s.bytes.size(), format::kSegmentHeaderBytes);
  EXPECT_TRUE(format::DecodeSegmentHeader(s.bytes.data(), s.bytes.size(), &s.header).ok());
  std::uint64_t at = format::kSegmentHeaderBytes;
  while (at < s.bytes.size()) {
    format::BatchHeader bh;
    Status st = format::DecodeBatchHeader(s.bytes.data() + at, &bh);
    EXPECT_TRUE(st.ok()) << st.ToString();
    if (!st.ok()) break;
    if (bh.seal) {  // the segment's end: rotated or closed
      s.seal_offset = at;
      s.seal_synced_offset = bh.synced_offset;
      at += format::kBatchHeaderBytes;
      break;
    }
    BatchLoc b;
    b.offset = at;
    b.synced_offset = bh.synced_offset;
    b.end = at + format::kBatchHeaderBytes + bh.body_bytes;
    std::uint64_t r = at + format::kBatchHeaderBytes;
    while (r < b.end) {
      format::RecordView rec;
      std::size_t consumed = 0;
      st = format::DecodeRecord(s.bytes.data() + r, b.end - r, &rec, &consumed);
      EXPECT_TRUE(st.ok()) << st.ToString();
      if (!st.ok()) break;
      b.lsns.push_back(rec.lsn);
      r += consumed;
    }
    s.batches.push_back(std::move(b));
    at = s.batches.back().end;
  }
  EXPECT_EQ(at, s.bytes.size());
  return s;
}

std::vector<std::vector<SegmentLoc>> ParseWal(const std::string& dir) {
  std::vector<std::vector<SegmentLoc>> shards(kShards);
  for (std::uint32_t i = 0; i < kShards; ++i) {
    std::map<std::uint64_t, std::string> by_seq;
    for (const auto& e : stdfs::directory_iterator(ShardDir(dir, i))) {
      std::uint32_t sh = 0;
      std::uint64_t seq = 0;
      if (format::ParseSegmentFileName(e.path().filename().string(), &sh, &seq)) by_seq[seq] = e.path().string();
    }
    for (const auto& [seq, path] : by_seq) shards[i].push_back(ParseSegment(i, seq, ReadFileBytes(path)));
  }
  return shards;
}

}  // namespace

Options BaseOptions(const std::string& dir) {
  Options o = testing::TestOptions(dir, kShards);
  o.segment_bytes = 64u << 10;
  o.max_batch_bytes = 4096;
  o.durability = Durability::kNone;  // Close() syncs everything
  // Segments that end where their data (and seal) ends, so the damage below
  // can be placed by file size. Preallocated and recycled segments have
  // their own tests (recycling_test, crash_at_every_step_test).
  o.preallocation = Preallocation::kNone;
  o.recycle_segments = 0;
  return o;
}

Base* g_base = nullptr;

void BuildBase() {
  auto owned = std::make_unique<Base>();
  Base* b = owned.get();
  b->dir = b->tmp.Sub("base");
  b->foreign_dir = b->tmp.Sub("foreign");
  {
    // Appended in groups, each flushed before the next, so that batches are
    // cut by size alone: the same layout every run, so a seed always hits
    // the same spot. The test polls the watermark instead of waiting on it:
    // a group append's wait can miss its wake-up and hang (seen twice here
    // under ASan: DurableWatermark::WaitOn re-checks W before it stores its
    // lane's min_lsn, and WakeCovered skips a lane by min_lsn without taking
    // its lock, so a publish in between is lost).
    auto wal = Wal::Open(BaseOptions(b->dir));
    ASSERT_TRUE(wal.ok()) << wal.status().ToString();
    constexpr int kPerCall = 40;
    for (int i = 0; i < kRecords; i += kPerCall) {
      std::vector<std::string> tags, payloads;
      std::vector<RecordSpec> specs;
      for (int j = i; j < i + kPerCall; ++j) {
        tags.push_back("t" + std::to_string(j % 23));
        payloads.push_back(Payload(j));
      }
      for (int j = 0; j < kPerCall; ++j) specs.push_back(RecordSpec{tags[j], payloads[j]});
      auto range = (*wal)->AppendBatch(specs, Durability::kAsync);
      ASSERT_TRUE(range.ok()) << range.status().ToString();
      ASSERT_EQ(range->last - range->first + 1, static_cast<Lsn>(kPerCall));
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
      while ((*wal)->DurableLsn() < range->last) {
        ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "LSN " << range->last << " never became durable";
        std::this_thread::sleep_for(std::chrono::microseconds(50));
      }
      for (int j = 0; j < kPerCall; ++j) b->payloads[range->first + j] = payloads[j];
    }
    ASSERT_TRUE((*wal)->Close().ok());
  }
  {
    auto wal = Wal::Open(BaseOptions(b->foreign_dir));
    ASSERT_TRUE(wal.ok()) << wal.status().ToString();
    for (int i = 0; i < 600; ++i) ASSERT_TRUE((*wal)->Append("t" + std::to_string(i % 23), Payload(i)).ok());
    ASSERT_TRUE((*wal)->Close().ok());
  }
  auto m = Manifest::Load(*FileSystem::Default(), b->dir);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  b->wal_id = m->wal_id();
  b->shards = ParseWal(b->dir);
  std::set<Lsn> seen;
  for (std::uint32_t s = 0; s < kShards; ++s) {
    // Several segments per shard, several batches per segment.
    ASSERT_GE(b->shards[s].size(), 3u) << "shard " << s;
    for (std::size_t i = 0; i < b->shards[s].size(); ++i) {
      ASSERT_GE(b->shards[s][i].batches.size(), 3u) << "shard " << s << " segment " << i << " of " << b->shards[s].size();
      for (Lsn l : b->shards[s][i].Lsns()) {
        ASSERT_TRUE(seen.insert(l).second);
        b->where[l] = {s, i};
      }
    }
  }
  ASSERT_EQ(seen.size(), static_cast<std::size_t>(kRecords));
  ASSERT_EQ(*seen.rbegin(), static_cast<Lsn>(kRecords));
  g_base = owned.release();
}

void CopyBase(const std::string& dst) {
  stdfs::copy(B().dir, dst, stdfs::copy_options::recursive);
  std::vector<std::string> dirs;
  for (std::uint32_t i = 0; i < kShards; ++i) dirs.push_back(ShardDir(dst, i));
  WriteFileBytes(dst + "/MANIFEST", Manifest::Create(B().wal_id, dirs).Serialize());
}

}  // namespace shardwal::corruption
