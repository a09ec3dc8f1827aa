// SPDX-License-Identifier: Apache-2.0
#include "tests/tools_fixture.h"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <optional>
#include <sstream>
#include <thread>

#include "src/foundation/crc32c.h"
#include "src/foundation/format.h"

namespace shardwal::tools_test {

namespace stdfs = std::filesystem;

std::vector<json> JsonLines(const std::string& text) {
  std::vector<json> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) lines.push_back(json::parse(line));
  }
  return lines;
}

namespace {

std::string Payload(Lsn i, std::size_t n) {
  std::string p(n, '\0');
  for (std::size_t k = 0; k < n; ++k) p[k] = static_cast<char>((i * 131 + k * 7) & 0xFF);
  return p;
}

}  // namespace

Options WalOptions(const std::string& dir) {
  Options o = testing::TestOptions(dir, kShards);
  o.segment_bytes = 64u << 10;  // several segments per shard
  return o;
}

void ToolsTest::SetUpTestSuite() {
  base_ = new TempDir();
  wal_ = base_->Sub("wal");
  written_ = new std::vector<Written>();
  auto wal = Wal::Open(WalOptions(wal_));
  ASSERT_TRUE(wal.ok()) << wal.status().ToString();
  Wal& w = **wal;
  auto add = [&](std::vector<Written> batch, std::optional<Durability> d) {
    std::vector<RecordSpec> specs;
    for (const auto& r : batch) specs.push_back(RecordSpec{r.tag, r.payload, r.type, r.txn});
    auto range = w.AppendBatch(specs, d);
    ASSERT_TRUE(range.ok()) << range.status().ToString();
    for (std::size_t i = 0; i < batch.size(); ++i) {
      batch[i].lsn = range->first + i;
      written_->push_back(std::move(batch[i]));
    }
  };
  // Tagged data in batches of 10 (three of every four kNone, the fourth
  // group-committed), a few untagged records, a transaction, a
  // user-typed record, payloads with non-printable bytes.
  // Seven sensor tags that cover every shard (tag routing hashes them).
  std::vector<std::string> sensors;
  std::vector<int> per_shard(kShards, 0);
  for (int i = 0; sensors.size() < 7; ++i) {
    const std::string tag = "sensor." + std::to_string(i);
    const std::uint32_t s = w.ShardForTag(tag);
    const bool covered = std::all_of(per_shard.begin(), per_shard.end(), [](int n) { return n >= 2; });
    if (per_shard[s] < 2 || covered) {
      sensors.push_back(tag);
      ++per_shard[s];
    }
  }
  sensors_ = new std::vector<std::string>(sensors);
  auto phase = [&](int batches) {
    for (int b = 0; b < batches; ++b) {
      std::vector<Written> batch;
      for (int k = 0; k < 10; ++k) {
        const Lsn i = written_->size() + batch.size() + 1;
        Written r;
        r.tag = k == 9 && b % 5 == 0 ? std::string() : sensors[i % 7];
        r.payload = Payload(i, 600 + (i % 5) * 100);
        batch.push_back(std::move(r));
      }
      add(std::move(batch), b % 4 == 3 ? std::nullopt : std::optional<Durability>(Durability::kNone));
    }
  };
  phase(15);
  add({Written{0, "orders", "begin", RecordType::kTxnBegin, 42},
       Written{0, "orders", "line 1\n\"quoted\"\t\x01", RecordType::kData, 42},
       Written{0, "orders", "line 2", RecordType::kData, 42}, Written{0, "orders", "", RecordType::kTxnCommit, 42},
       Written{0, "app", "custom", static_cast<RecordType>(200), 0},
       Written{0, std::string("raw\xff", 4), "a tag that is not UTF-8", RecordType::kData, 0}},
      std::nullopt);
  phase(15);
  ASSERT_TRUE(w.WaitDurable(w.LastLsn()).ok());
  mid_lsn_ = w.LastLsn();
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  mid_time_ns_ = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  phase(20);
  ASSERT_TRUE(w.Close().ok());
}

void ToolsTest::TearDownTestSuite() {
  delete sensors_;
  delete written_;
  delete base_;
}

std::string ToolsTest::CopyWal(const std::string& name) {
  const std::string dst = dir_.Sub(name);
  stdfs::copy(wal_, dst, stdfs::copy_options::recursive);
  return dst;
}

std::size_t CountSegments(const std::string& wal) {
  std::size_t n = 0;
  for (std::uint32_t s = 0; s < kShards; ++s) n += testing::SegmentFiles(testing::ShardDir(wal, s)).size();
  return n;
}

// The shard with the most segments (at least 2, so its first one has a
// successor: damage there is mid-log corruption, not a tail).
std::uint32_t BusiestShard(const std::string& wal) {
  std::uint32_t best = 0;
  for (std::uint32_t s = 1; s < kShards; ++s) {
    if (testing::SegmentFiles(testing::ShardDir(wal, s)).size() >
        testing::SegmentFiles(testing::ShardDir(wal, best)).size()) {
      best = s;
    }
  }
  return best;
}

// Flips one byte in the middle of `shard`'s first segment; returns its path.
std::string FlipMiddleByte(const std::string& wal, std::uint32_t shard) {
  const auto segs = testing::SegmentFiles(testing::ShardDir(wal, shard));
  EXPECT_GE(segs.size(), 2u);
  testing::XorByte(segs.front(), stdfs::file_size(segs.front()) / 2, 0x5A);
  return segs.front();
}

// Cuts `shard`'s last segment short inside its last batch (the seal and 10
// bytes of the last record): what a crash during a write leaves.
std::string TearTail(const std::string& wal, std::uint32_t shard) {
  const auto segs = testing::SegmentFiles(testing::ShardDir(wal, shard));
  const std::string last = segs.back();
  testing::ShrinkFileBy(last, format::kBatchHeaderBytes + 10);
  return last;
}

// Path -> size, mtime and bytes of every file (LOCK files included).
std::map<std::string, std::tuple<std::uintmax_t, std::int64_t, std::string>> Snapshot(const std::string& dir) {
  std::map<std::string, std::tuple<std::uintmax_t, std::int64_t, std::string>> out;
  for (const auto& e : stdfs::recursive_directory_iterator(dir)) {
    struct stat st {};
    ::stat(e.path().c_str(), &st);
    const std::int64_t mtime = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
    out[e.path().string()] = {e.is_regular_file() ? e.file_size() : 0, mtime,
                              e.is_regular_file() ? ReadFile(e.path().string()) : std::string()};
  }
  return out;
}

// ---- the replay export, parsed per docs/tools.md ---------------------------------

namespace {

template <typename T>
T Get(const std::string& b, std::size_t at) {
  T v{};
  std::memcpy(&v, b.data() + at, sizeof(T));
  return v;
}

}  // namespace

Export ParseExport(const std::string& path) {
  const std::string b = ReadFile(path);
  Export e;
  EXPECT_GE(b.size(), 80u);
  if (b.size() < 80) return e;
  EXPECT_EQ(b.substr(0, 8), std::string("SHRDEXP\x01", 8));
  EXPECT_EQ(Get<std::uint32_t>(b, 8), 1u);
  EXPECT_EQ(Get<std::uint32_t>(b, 12), 80u);
  e.record_count = Get<std::uint64_t>(b, 16);
  e.first_lsn = Get<std::uint64_t>(b, 24);
  e.last_lsn = Get<std::uint64_t>(b, 32);
  e.checkpoint_lsn = Get<std::uint64_t>(b, 40);
  e.cut_lsn = Get<std::uint64_t>(b, 48);
  e.until_lsn = Get<std::uint64_t>(b, 56);
  e.until_time_ns = Get<std::uint64_t>(b, 64);
  EXPECT_EQ(Get<std::uint32_t>(b, 72), 0u);
  EXPECT_EQ(Get<std::uint32_t>(b, 76), crc32c::Value(b.data(), 76));
  std::size_t at = 80;
  while (at < b.size()) {
    EXPECT_LE(at + 40, b.size());
    if (at + 40 > b.size()) break;
    Export::Rec r;
    r.lsn = Get<std::uint64_t>(b, at);
    r.txn = Get<std::uint64_t>(b, at + 8);
    r.commit_time_ns = Get<std::uint64_t>(b, at + 16);
    r.shard = Get<std::uint32_t>(b, at + 24);
    const auto payload_bytes = Get<std::uint32_t>(b, at + 28);
    const auto tag_bytes = Get<std::uint16_t>(b, at + 32);
    r.type = Get<std::uint8_t>(b, at + 34);
    EXPECT_EQ(Get<std::uint8_t>(b, at + 35), 0u);
    const auto crc = Get<std::uint32_t>(b, at + 36);
    EXPECT_LE(at + 40 + tag_bytes + payload_bytes, b.size());
    if (at + 40 + tag_bytes + payload_bytes > b.size()) break;
    r.tag = b.substr(at + 40, tag_bytes);
    r.payload = b.substr(at + 40 + tag_bytes, payload_bytes);
    std::uint32_t want = crc32c::Extend(0, b.data() + at, 36);
    want = crc32c::Extend(want, r.tag.data(), r.tag.size());
    want = crc32c::Extend(want, r.payload.data(), r.payload.size());
    EXPECT_EQ(crc, want) << "record at offset " << at;
    e.records.push_back(std::move(r));
    at += 40 + tag_bytes + payload_bytes;
  }
  EXPECT_EQ(e.records.size(), e.record_count);
  return e;
}

}  // namespace shardwal::tools_test
