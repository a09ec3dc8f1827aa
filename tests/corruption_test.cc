// Corruption tests: build a WAL once (3 shards, 4000 records with known
// payloads, 64 KiB segments: 3-5 segments per shard), then damage copies of
// it in every way we can think of (bit flips in every structure,
// truncations, zeroed ranges, torn and zeroed tails, duplicated / missing /
// foreign / misplaced segments, garbage files, a broken or missing MANIFEST)
// and check, for every recovery mode, what LogReader::Open (read-only) and
// Wal::Open (read-write) make of each copy (docs/recovery.md):
//
//   tolerate-torn-tail  tail-only damage succeeds, anything else fails with a
//                       Corruption that names shard, file and offset;
//   absolute            any damage fails (files that are not segments are
//                       only reported, in every mode);
//   point-in-time       succeeds; the log is exactly the gap-free prefix 1..C
//                       before the first damage of any shard;
//   salvage             succeeds; every record outside a damaged batch is
//                       kept, with its exact payload, once; the LSNs lost
//                       are listed in missing_lsns.
//
// After a successful read-write open the test replays, appends one record,
// closes and reopens in the default mode: the damage must have been cut
// away and the log must be the same plus that record. Salvage leaves
// mid-log damage on disk, so after it the default reopen must fail with
// Corruption, and a salvage reopen must see the same log. A read-only open,
// and a read-write open that fails, must not change a byte.
//
// The expected outcome of byte-level damage (flips, truncations, zeroed
// ranges, many seeds) is derived from the bytes themselves: the test parses
// the intact WAL into segments, batches and records with its own reader,
// compares each damaged file with the original and works out which batches
// every mode must lose (Analyze).
//
// CorruptionRegression.* pin down library bugs these tests found, one
// minimal case each (all fixed).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "recovery/segment_reader.h"
#include "shardwal/recovery.h"
#include "shardwal/wal.h"
#include "src/foundation/format.h"
#include "src/foundation/manifest.h"
#include "tests/test_util.h"

namespace shardwal {
namespace {

namespace stdfs = std::filesystem;
using testing::TempDir;
using Kind = Anomaly::Kind;

constexpr std::uint32_t kShards = 3;
constexpr int kRecords = 4600;

constexpr RecoveryMode kModes[] = {RecoveryMode::kTolerateTornTail, RecoveryMode::kAbsolute,
                                   RecoveryMode::kPointInTime, RecoveryMode::kSalvage};

// ---- files -------------------------------------------------------------------

std::string ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  std::string bytes(static_cast<std::size_t>(std::max<std::streamoff>(in.tellg(), 0)), '\0');
  in.seekg(0);
  in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return bytes;
}

void WriteFileBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

// Every regular file under `dir` but the LOCK files, by relative path.
std::map<std::string, std::string> Snapshot(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : stdfs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file() || e.path().filename() == "LOCK") continue;
    out[stdfs::relative(e.path(), dir).string()] = ReadFileBytes(e.path().string());
  }
  return out;
}

std::string ShardDir(const std::string& wal, std::uint32_t shard) { return wal + "/shard-" + std::to_string(shard); }
std::string SegPath(const std::string& wal, std::uint32_t shard, std::uint64_t seq) {
  return ShardDir(wal, shard) + "/" + format::SegmentFileName(shard, seq);
}

// ---- the intact WAL, parsed --------------------------------------------------

struct BatchLoc {
  std::uint64_t offset = 0, end = 0;
  std::uint64_t synced_offset = 0;  // what its header says was synced before it
  std::vector<Lsn> lsns;
};
struct SegmentLoc {
  std::uint32_t shard = 0;
  std::uint64_t seq = 0;
  std::string bytes;  // the whole intact file
  format::SegmentHeader header;
  std::vector<BatchLoc> batches;
  std::uint64_t seal_offset = 0;  // 0: not sealed
  std::uint64_t seal_synced_offset = 0;
  std::vector<Lsn> Lsns() const {
    std::vector<Lsn> v;
    for (const auto& b : batches) v.insert(v.end(), b.lsns.begin(), b.lsns.end());
    return v;
  }
};

std::string Payload(int i) {
  std::string s = "rec" + std::to_string(i) + "|";
  const int n = 40 + (i * 7919) % 200;
  for (int j = 0; j < n; ++j) s.push_back(static_cast<char>('a' + (i + j * 31) % 26));
  return s;
}

Options BaseOptions(const std::string& dir) {
  Options o = testing::TestOptions(dir, kShards);
  o.segment_bytes = 64u << 10;
  o.max_batch_bytes = 4096;
  o.durability = Durability::kNone;  // Close() syncs everything
  // Segments that end where their data (and seal) ends, so the damage below
  // can be placed by file size. Preallocated and recycled segments have
  // their own tests (lifecycle_test).
  o.preallocation = Preallocation::kNone;
  o.recycle_segments = 0;
  return o;
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

struct Base {
  TempDir tmp;
  std::string dir;          // the intact WAL
  std::string foreign_dir;  // another, smaller WAL (another WAL id)
  format::WalId wal_id{};
  std::map<Lsn, std::string> payloads;
  std::vector<std::vector<SegmentLoc>> shards;  // [shard][segment index]
  std::map<Lsn, std::pair<std::uint32_t, std::size_t>> where;  // LSN -> (shard, segment index)

  const SegmentLoc& Seg(std::uint32_t shard, std::size_t i) const { return shards[shard][i]; }
  const SegmentLoc& Last(std::uint32_t shard) const { return shards[shard].back(); }
  std::size_t Count(std::uint32_t shard) const { return shards[shard].size(); }
};

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

const Base& B() { return *g_base; }

// A copy of the intact WAL at `dst`. The MANIFEST names the shard
// directories by absolute path, so the copy gets its own MANIFEST.
void CopyBase(const std::string& dst) {
  stdfs::copy(B().dir, dst, stdfs::copy_options::recursive);
  std::vector<std::string> dirs;
  for (std::uint32_t i = 0; i < kShards; ++i) dirs.push_back(ShardDir(dst, i));
  WriteFileBytes(dst + "/MANIFEST", Manifest::Create(B().wal_id, dirs).Serialize());
}

// ---- damage and what each mode must make of it ------------------------------

using Damage = std::function<void(const std::string& wal_dir)>;

struct Expect {
  bool tolerate_ok = true;
  bool absolute_ok = false;
  // Point-in-time cuts at damage inside files; a segment file gone from the
  // middle of a shard (a directory that came back short) it refuses.
  bool pit_ok = true;
  // Records point-in-time (and tolerate, when it succeeds) cannot keep:
  // each damaged shard from its first anomaly on. The recovered log is
  // 1..min(lost_pit)-1.
  std::set<Lsn> lost_pit;
  // Records salvage cannot keep (damaged batches, unreadable segments).
  std::set<Lsn> lost_salvage;
  // Salvage skips damage in the middle of the log but leaves it on disk, so
  // a default-mode reopen after a read-write salvage open fails.
  bool salvage_leaves_damage = false;
  // A damaged batch whose framing is intact (a flipped payload or record
  // checksum byte): only checksums notice it.
  bool checksum_only = false;
  // Anomalies a successful open must report (kind, file; "" = any file).
  std::vector<std::pair<Kind, std::string>> anomalies;
  // Files one of which a failing open's message must name (empty: not checked).
  std::vector<std::string> fatal_files;
  // The MANIFEST itself is bad: every open fails with this.
  std::optional<Status::Code> manifest_error;
};

std::string ModeName(RecoveryMode m) { return std::string(RecoveryModeName(m)); }

Options ModeOptions(const std::string& dir, RecoveryMode mode) {
  Options o = BaseOptions(dir);
  o.recovery_mode = mode;
  return o;
}

// What a successful open in `mode` must replay.
std::map<Lsn, std::string> Expected(const Expect& e, RecoveryMode mode) {
  std::map<Lsn, std::string> out;
  if (mode == RecoveryMode::kSalvage) {
    for (const auto& [l, p] : B().payloads) {
      if (!e.lost_salvage.count(l)) out[l] = p;
    }
    return out;
  }
  const Lsn cut = e.lost_pit.empty() ? static_cast<Lsn>(kRecords) : *e.lost_pit.begin() - 1;
  for (const auto& [l, p] : B().payloads) {
    if (l <= cut) out[l] = p;
  }
  return out;
}

bool ModeShouldSucceed(const Expect& e, RecoveryMode mode) {
  if (e.manifest_error) return false;
  switch (mode) {
    case RecoveryMode::kTolerateTornTail: return e.tolerate_ok;
    case RecoveryMode::kAbsolute: return e.absolute_ok;
    case RecoveryMode::kPointInTime: return e.pit_ok;
    default: return true;
  }
}

// Replays everything; LSNs must come strictly increasing (no duplicates).
template <typename Log>
Status TryReplay(const Log& log, std::map<Lsn, std::string>* out) {
  Lsn prev = 0;
  return log.Replay(0, [&](const ReplayRecord& r) {
    EXPECT_GT(r.lsn, prev) << "replay out of order or duplicated";
    prev = r.lsn;
    (*out)[r.lsn] = std::string(r.payload);
    return true;
  });
}
template <typename Log>
std::map<Lsn, std::string> ReplayAll(const Log& log) {
  std::map<Lsn, std::string> out;
  Status s = TryReplay(log, &out);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

// Compares a replay with the expected records, briefly.
void ExpectSameLog(const std::map<Lsn, std::string>& got, const std::map<Lsn, std::string>& want) {
  EXPECT_EQ(got.size(), want.size());
  std::size_t shown = 0;
  for (const auto& [l, p] : want) {
    auto it = got.find(l);
    if (it == got.end()) {
      if (shown++ < 5) ADD_FAILURE() << "LSN " << l << " missing";
    } else if (it->second != p) {
      if (shown++ < 5) ADD_FAILURE() << "LSN " << l << " has the wrong payload";
    }
  }
  for (const auto& [l, p] : got) {
    if (!want.count(l) && shown++ < 10) ADD_FAILURE() << "LSN " << l << " replayed but not expected";
  }
}

void CheckReport(const RecoveryReport& rep, const Expect& e, RecoveryMode mode,
                 const std::map<Lsn, std::string>& want) {
  EXPECT_EQ(rep.records, want.size()) << rep.Summary();
  const Lsn max_kept = want.empty() ? 0 : want.rbegin()->first;
  EXPECT_EQ(rep.cut_lsn, max_kept) << rep.Summary();
  for (const auto& expected : e.anomalies) {
    const bool found = std::any_of(rep.anomalies.begin(), rep.anomalies.end(), [&](const Anomaly& a) {
      return a.kind == expected.first && (expected.second.empty() || a.file == expected.second);
    });
    EXPECT_TRUE(found) << "no " << AnomalyKindName(expected.first) << " anomaly for " << expected.second << "\n"
                       << rep.Summary();
  }
  if (mode == RecoveryMode::kSalvage) {
    std::vector<Lsn> missing;
    for (Lsn l : e.lost_salvage) {
      if (l < max_kept && missing.size() < 1000) missing.push_back(l);
    }
    EXPECT_EQ(rep.missing_lsns, missing) << rep.Summary();
  }
}

void CheckFailure(const Status& s, const Expect& e, RecoveryMode mode) {
  if (e.manifest_error) {
    EXPECT_EQ(s.code(), *e.manifest_error) << s.ToString();
    EXPECT_NE(s.message().find("MANIFEST"), std::string::npos) << s.ToString();
    return;
  }
  EXPECT_TRUE(s.IsCorruption()) << ModeName(mode) << ": " << s.ToString();
  EXPECT_NE(s.message().find("shard"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("offset"), std::string::npos) << s.ToString();
  if (!e.fatal_files.empty()) {
    const bool named = std::any_of(e.fatal_files.begin(), e.fatal_files.end(),
                                   [&](const std::string& f) { return s.message().find(f) != std::string::npos; });
    EXPECT_TRUE(named) << "the error names none of the damaged files: " << s.ToString();
  }
}

std::vector<std::string> Rebased(const std::vector<std::string>& files, const std::string& from,
                                 const std::string& to) {
  std::vector<std::string> out;
  for (const auto& f : files) out.push_back(f.rfind(from, 0) == 0 ? to + f.substr(from.size()) : f);
  return out;
}

Expect Rebase(Expect e, const std::string& from, const std::string& to) {
  e.fatal_files = Rebased(e.fatal_files, from, to);
  for (auto& [k, f] : e.anomalies) {
    if (f.rfind(from, 0) == 0) f = to + f.substr(from.size());
  }
  return e;
}

void CheckReadOnly(const Damage& damage, const Expect& expect_at_placeholder, RecoveryMode mode) {
  TempDir t;
  const std::string dir = t.Sub("wal");
  CopyBase(dir);
  damage(dir);
  const Expect e = Rebase(expect_at_placeholder, "@", dir);
  const auto before = Snapshot(dir);
  auto reader = LogReader::Open(ModeOptions(dir, mode));
  if (ModeShouldSucceed(e, mode)) {
    ASSERT_TRUE(reader.ok()) << ModeName(mode) << ": " << reader.status().ToString();
    const auto want = Expected(e, mode);
    const auto got = ReplayAll(**reader);
    ExpectSameLog(got, want);
    CheckReport((*reader)->report(), e, mode, want);
  } else {
    ASSERT_FALSE(reader.ok()) << ModeName(mode) << " accepted the damage:\n" << (*reader)->report().Summary();
    CheckFailure(reader.status(), e, mode);
  }
  EXPECT_TRUE(Snapshot(dir) == before) << "LogReader::Open modified the WAL";
}

void CheckReadWrite(const Damage& damage, const Expect& expect_at_placeholder, RecoveryMode mode) {
  TempDir t;
  const std::string dir = t.Sub("wal");
  CopyBase(dir);
  damage(dir);
  const Expect e = Rebase(expect_at_placeholder, "@", dir);
  const auto before = Snapshot(dir);
  auto wal = Wal::Open(ModeOptions(dir, mode));
  if (!ModeShouldSucceed(e, mode)) {
    ASSERT_FALSE(wal.ok()) << ModeName(mode) << " accepted the damage:\n" << (*wal)->recovery_report().Summary();
    CheckFailure(wal.status(), e, mode);
    EXPECT_TRUE(Snapshot(dir) == before) << "a failed Wal::Open modified the WAL";
    return;
  }
  ASSERT_TRUE(wal.ok()) << ModeName(mode) << ": " << wal.status().ToString();
  const RecoveryReport& rep = (*wal)->recovery_report();
  auto want = Expected(e, mode);
  std::map<Lsn, std::string> got;
  const Status replayed = TryReplay(**wal, &got);
  EXPECT_TRUE(replayed.ok()) << replayed.ToString();
  ExpectSameLog(got, want);
  CheckReport(rep, e, mode, want);
  const Lsn max_kept = rep.cut_lsn;
  // Not waited for (Close() syncs it): a group append's wait on the
  // durable watermark can miss its wake-up (see BuildBase), and this test
  // is not about that.
  AppendOptions async;
  async.durability = Durability::kAsync;
  auto lsn = (*wal)->Append("after", "after-" + ModeName(mode), async);
  ASSERT_TRUE(lsn.ok()) << lsn.status().ToString();
  EXPECT_EQ(*lsn, max_kept + 1);
  ASSERT_TRUE((*wal)->Close().ok());
  wal = Result<std::unique_ptr<Wal>>(Status::Closed("reopening"));
  want[*lsn] = "after-" + ModeName(mode);

  // Reopen in the default mode: the damage was cut away. Salvage keeps
  // damaged bytes in the middle of the log: a default reopen refuses them,
  // a salvage reopen sees the same log. A salvaged log with LSN gaps but no
  // damage left reopens in the default mode: the MANIFEST records that the
  // gaps were accepted (CorruptionRegression.DefaultReopenAfterSalvageCutsAtTheFirstGap).
  RecoveryMode reopen_mode = RecoveryMode::kTolerateTornTail;
  if (mode == RecoveryMode::kSalvage) {
    if (e.salvage_leaves_damage) {
      auto refused = Wal::Open(ModeOptions(dir, RecoveryMode::kTolerateTornTail));
      ASSERT_FALSE(refused.ok()) << "default reopen after salvage accepted:\n"
                                 << (*refused)->recovery_report().Summary();
      EXPECT_TRUE(refused.status().IsCorruption()) << refused.status().ToString();
    }
    if (e.salvage_leaves_damage) reopen_mode = RecoveryMode::kSalvage;
  }
  auto again = Wal::Open(ModeOptions(dir, reopen_mode));
  ASSERT_TRUE(again.ok()) << "reopen after " << ModeName(mode) << ": " << again.status().ToString();
  ExpectSameLog(ReplayAll(**again), want);
  if (mode != RecoveryMode::kSalvage) {
    for (const auto& a : (*again)->recovery_report().anomalies) {
      EXPECT_EQ(a.kind, Kind::kIgnoredFile) << "left behind by " << ModeName(mode) << ": " << a.ToString();
    }
  }
}

// Runs a damage through all four modes, read-only and read-write, each on
// its own copy. Paths in `e` start with "@" for the WAL directory.
void RunCase(const std::string& what, const Damage& damage, const Expect& e) {
  SCOPED_TRACE(what);
  for (RecoveryMode mode : kModes) {
    SCOPED_TRACE(ModeName(mode));
    CheckReadOnly(damage, e, mode);
    CheckReadWrite(damage, e, mode);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

// ---- expectations derived from the bytes -------------------------------------

std::set<Lsn> LsnsFrom(std::uint32_t shard, std::size_t seg, std::size_t batch) {
  std::set<Lsn> out;
  const auto& segs = B().shards[shard];
  for (std::size_t i = seg; i < segs.size(); ++i) {
    for (std::size_t b = i == seg ? batch : 0; b < segs[i].batches.size(); ++b) {
      out.insert(segs[i].batches[b].lsns.begin(), segs[i].batches[b].lsns.end());
    }
  }
  return out;
}
std::set<Lsn> SegmentLsns(std::uint32_t shard, std::size_t seg) {
  auto v = B().shards[shard][seg].Lsns();
  return std::set<Lsn>(v.begin(), v.end());
}

// Whether the batch at `at` of `bytes` passes every check but the record
// checksums (what recovery's second pass, which reads without checksums,
// accepts).
bool FramingIntact(const std::string& bytes, std::uint64_t at, std::uint64_t seq) {
  format::BatchHeader bh;
  if (at + format::kBatchHeaderBytes > bytes.size() || !format::DecodeBatchHeader(bytes.data() + at, &bh).ok() ||
      bh.segment_seq != seq || bh.body_bytes > bytes.size() - at - format::kBatchHeaderBytes) {
    return false;
  }
  const char* body = bytes.data() + at + format::kBatchHeaderBytes;
  std::size_t pos = 0;
  std::uint32_t count = 0;
  Lsn prev = bh.first_lsn - 1, first = kNoLsn;
  while (pos < bh.body_bytes) {
    format::RecordView rec;
    std::size_t consumed = 0;
    if (!format::DecodeRecord(body + pos, bh.body_bytes - pos, &rec, &consumed, /*verify_crc=*/false).ok() ||
        rec.lsn <= prev || rec.lsn > bh.last_lsn) {
      return false;
    }
    if (count++ == 0) first = rec.lsn;
    prev = rec.lsn;
    pos += consumed;
  }
  return count == bh.record_count && first == bh.first_lsn && prev == bh.last_lsn;
}

// For damage that only changes bytes of existing segment files (flips,
// truncations, zeroed ranges): applies it to a scratch copy and works out,
// file by file and batch by batch, what every mode must do. Returns nullopt
// when the damage changed nothing or cut a segment exactly at a batch
// boundary (undetectable: see TruncationAtBatchBoundary).
std::optional<Expect> Analyze(const Damage& damage) {
  TempDir t;
  const std::string dir = t.Sub("wal");
  CopyBase(dir);
  damage(dir);
  Expect e;
  bool any = false;
  for (std::uint32_t s = 0; s < kShards; ++s) {
    const auto& segs = B().shards[s];
    bool shard_damaged = false;
    for (std::size_t i = 0; i < segs.size(); ++i) {
      const std::string path = SegPath(dir, s, segs[i].seq);
      const std::string rel = "@" + path.substr(dir.size());
      const std::string now = ReadFileBytes(path);
      const std::string& was = segs[i].bytes;
      if (now == was) continue;
      if (now.size() > was.size()) return std::nullopt;  // not the kind of damage this handles
      any = true;
      const bool last = i + 1 == segs.size();
      const auto differs = [&](std::uint64_t from, std::uint64_t to) {
        return now.size() < to || std::memcmp(now.data() + from, was.data() + from, to - from) != 0;
      };
      // Whether an intact batch (or the seal) after `at` says `at` had been
      // synced: then damage there is corruption, never a torn tail.
      const auto synced_past = [&](std::uint64_t at) {
        for (const auto& bl : segs[i].batches) {
          if (bl.offset > at && !differs(bl.offset, bl.end) && bl.synced_offset > at) return true;
        }
        const std::uint64_t seal = segs[i].seal_offset;
        return seal > at && !differs(seal, seal + format::kBatchHeaderBytes) && segs[i].seal_synced_offset > at;
      };
      if (differs(0, format::kSegmentHeaderBytes)) {
        const bool zero_header =
            now.size() >= format::kSegmentHeaderBytes &&
            std::all_of(now.begin(), now.begin() + format::kSegmentHeaderBytes, [](char c) { return c == 0; });
        // Without its header, a file at the end of its shard is a leftover
        // of a crash mid-rotation - unless an intact batch of it says the
        // segment (its header with it) had been synced.
        bool synced_batch = false;
        for (const auto& bl : segs[i].batches) {
          synced_batch = synced_batch || (!differs(bl.offset, bl.end) && bl.synced_offset > 0);
        }
        const bool creation_tail =
            last && (now.size() <= format::kSegmentHeaderBytes || (zero_header && !synced_batch));
        auto lost = SegmentLsns(s, i);
        e.lost_salvage.insert(lost.begin(), lost.end());
        if (!shard_damaged) {
          shard_damaged = true;
          auto pit = LsnsFrom(s, i, 0);
          e.lost_pit.insert(pit.begin(), pit.end());
          e.fatal_files.push_back(rel);
          if (creation_tail) {
            e.anomalies.push_back({now.size() < format::kSegmentHeaderBytes ? Kind::kTornTail : Kind::kZeroedTail, rel});
          } else {
            e.tolerate_ok = false;
            e.anomalies.push_back({Kind::kUnreadableSegment, rel});
          }
        }
        if (!creation_tail) e.salvage_leaves_damage = true;  // salvage skips the file and keeps it
        continue;
      }
      std::optional<std::size_t> first_bad;
      for (std::size_t b = 0; b < segs[i].batches.size(); ++b) {
        const auto& bl = segs[i].batches[b];
        if (differs(bl.offset, bl.end)) {
          if (FramingIntact(now, bl.offset, segs[i].seq)) e.checksum_only = true;
          if (!first_bad) first_bad = b;
          e.lost_salvage.insert(bl.lsns.begin(), bl.lsns.end());
        }
      }
      if (!first_bad) continue;
      const std::uint64_t at = segs[i].batches[*first_bad].offset;
      if (now.size() == at) return std::nullopt;  // clean end at a batch boundary
      // Format 2: damage is a tail unless something after it says it was
      // synced (unsynced pages reach the disk in any order).
      const bool tail = last && !synced_past(at);
      // Salvage never cuts inside a shard: damage with valid batches after
      // it, or in a middle segment, stays on disk.
      if (!tail) e.salvage_leaves_damage = true;
      if (shard_damaged) continue;
      shard_damaged = true;
      auto pit = LsnsFrom(s, i, *first_bad);
      e.lost_pit.insert(pit.begin(), pit.end());
      e.fatal_files.push_back(rel);
      if (tail) {
        const bool zero = std::all_of(now.begin() + static_cast<std::ptrdiff_t>(at), now.end(), [](char c) { return c == 0; });
        e.anomalies.push_back({zero ? Kind::kZeroedTail : Kind::kTornTail, rel});
      } else {
        e.tolerate_ok = false;
        e.anomalies.push_back({Kind::kCorruption, rel});
      }
    }
  }
  if (!any) return std::nullopt;
  // The intact WAL was closed cleanly: every record in it was acknowledged,
  // and its MANIFEST records each shard's last LSN as durable. Damage that
  // loses any of them is not what a crash leaves, whatever it looks like,
  // and tolerate-torn-tail refuses it; point-in-time cuts at it.
  if (!e.lost_pit.empty()) e.tolerate_ok = false;
  return e;
}

// Where a random damage lands.
struct Spot {
  std::uint32_t shard;
  std::size_t seg;
  std::uint64_t offset;
};

enum class Region { kSegmentHeader, kBatchHeader, kRecordHeader, kPayload, kAnywhere };

Spot RandomSpot(std::mt19937_64& rng, Region region, bool last_segment = false) {
  Spot s;
  s.shard = static_cast<std::uint32_t>(rng() % kShards);
  s.seg = rng() % B().Count(s.shard);
  if (last_segment) s.seg = B().Count(s.shard) - 1;
  const SegmentLoc& seg = B().Seg(s.shard, s.seg);
  const auto& batch = seg.batches[rng() % seg.batches.size()];
  switch (region) {
    case Region::kSegmentHeader: s.offset = rng() % format::kSegmentHeaderBytes; break;
    case Region::kBatchHeader: s.offset = batch.offset + rng() % format::kBatchHeaderBytes; break;
    case Region::kRecordHeader:
    case Region::kPayload: {
      // Walk the batch's records to one of them.
      std::uint64_t r = batch.offset + format::kBatchHeaderBytes;
      const std::size_t pick = rng() % batch.lsns.size();
      for (std::size_t k = 0;; ++k) {
        format::RecordView rec;
        std::size_t consumed = 0;
        EXPECT_TRUE(format::DecodeRecord(seg.bytes.data() + r, batch.end - r, &rec, &consumed).ok());
        if (k == pick) {
          s.offset = region == Region::kRecordHeader ? r + rng() % format::kRecordHeaderBytes
                                                     : r + consumed - 1 - rng() % (rec.payload.size() + rec.tag.size());
          break;
        }
        r += consumed;
      }
      break;
    }
    case Region::kAnywhere: s.offset = rng() % seg.bytes.size(); break;
  }
  return s;
}

void FlipBit(const std::string& path, std::uint64_t offset, int bit) {
  std::string bytes = ReadFileBytes(path);
  ASSERT_LT(offset, bytes.size());
  bytes[offset] = static_cast<char>(bytes[offset] ^ (1 << bit));
  WriteFileBytes(path, bytes);
}
void TruncateTo(const std::string& path, std::uint64_t size) { stdfs::resize_file(path, size); }
void ZeroRange(const std::string& path, std::uint64_t from, std::uint64_t n) {
  std::string bytes = ReadFileBytes(path);
  ASSERT_LE(from, bytes.size());
  n = std::min<std::uint64_t>(n, bytes.size() - from);
  std::memset(bytes.data() + from, 0, n);
  WriteFileBytes(path, bytes);
}

std::string Describe(const Expect& e) {
  std::string s = "tolerate " + std::string(e.tolerate_ok ? "ok" : "fails") + ", PIT keeps 1.." +
                  std::to_string(e.lost_pit.empty() ? kRecords : *e.lost_pit.begin() - 1) + ", salvage loses " +
                  std::to_string(e.lost_salvage.size());
  return s;
}

// ---- the tests ------------------------------------------------------------------

class Corruption : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (g_base == nullptr) BuildBase();
  }
  static void TearDownTestSuite() {
    delete g_base;
    g_base = nullptr;
  }
  void SetUp() override { ASSERT_NE(g_base, nullptr) << "building the base WAL failed"; }
};

TEST_F(Corruption, IntactCopyRecoversEverythingInEveryMode) {
  Expect e;
  e.absolute_ok = true;
  RunCase("intact", [](const std::string&) {}, e);
}

// ---- random byte damage, many seeds ----

void RunRandom(const std::string& family, int seeds, const std::function<Damage(std::mt19937_64&)>& make) {
  int ran = 0;
  for (int seed = 1; ran < seeds && seed < seeds * 4; ++seed) {
    std::mt19937_64 rng(static_cast<std::uint64_t>(seed) * 0x9E3779B97F4A7C15ull);
    Damage d = make(rng);
    auto e = Analyze(d);
    if (!e) continue;  // changed nothing, or undetectable
    ++ran;
    RunCase(family + " seed " + std::to_string(seed) + " (" + Describe(*e) + ")", d, *e);
    if (::testing::Test::HasFatalFailure()) return;
  }
  EXPECT_EQ(ran, seeds);
}

TEST_F(Corruption, RandomBitFlips) {
  const Region regions[] = {Region::kSegmentHeader, Region::kBatchHeader, Region::kRecordHeader, Region::kPayload,
                            Region::kAnywhere};
  int n = 0;
  RunRandom("bit flip", 30, [&](std::mt19937_64& rng) -> Damage {
    const Region region = regions[n++ % 5];
    const Spot s = RandomSpot(rng, region);
    const int bit = static_cast<int>(rng() % 8);
    const std::uint64_t seq = B().Seg(s.shard, s.seg).seq;
    return [=](const std::string& dir) { FlipBit(SegPath(dir, s.shard, seq), s.offset, bit); };
  });
}

TEST_F(Corruption, RandomBitFlipsInSeveralShards) {
  RunRandom("flips", 8, [&](std::mt19937_64& rng) -> Damage {
    std::vector<std::pair<std::string, std::uint64_t>> spots;  // (relative path, offset)
    std::vector<int> bits;
    const int count = 2 + static_cast<int>(rng() % 3);
    for (int k = 0; k < count; ++k) {
      const Spot s = RandomSpot(rng, Region::kAnywhere);
      spots.push_back({SegPath("", s.shard, B().Seg(s.shard, s.seg).seq), s.offset});
      bits.push_back(static_cast<int>(rng() % 8));
    }
    return [=](const std::string& dir) {
      for (std::size_t k = 0; k < spots.size(); ++k) FlipBit(dir + spots[k].first, spots[k].second, bits[k]);
    };
  });
}

TEST_F(Corruption, RandomTruncations) {
  RunRandom("truncation", 16, [&](std::mt19937_64& rng) -> Damage {
    // Half of them in the last segment of the shard: the torn tail.
    const bool last = rng() % 2 == 0;
    const Spot s = RandomSpot(rng, Region::kAnywhere, last);
    const SegmentLoc& seg = B().Seg(s.shard, s.seg);
    std::uint64_t at = rng() % seg.bytes.size();
    for (const auto& b : seg.batches) {
      if (b.offset == at) ++at;  // a cut exactly at a batch boundary is undetectable: tested below
    }
    return [=, seq = seg.seq](const std::string& dir) { TruncateTo(SegPath(dir, s.shard, seq), at); };
  });
}

TEST_F(Corruption, RandomZeroedRanges) {
  RunRandom("zeroed range", 16, [&](std::mt19937_64& rng) -> Damage {
    const bool last = rng() % 3 == 0;
    const Spot s = RandomSpot(rng, Region::kAnywhere, last);
    const std::uint64_t seq = B().Seg(s.shard, s.seg).seq;
    const std::uint64_t n = 1 + rng() % (rng() % 2 ? 64 : 8192);
    return [=](const std::string& dir) { ZeroRange(SegPath(dir, s.shard, seq), s.offset, n); };
  });
}

// ---- targeted damage ----

TEST_F(Corruption, TornTailOfLastSegment) {
  const std::uint32_t shard = 1;
  const SegmentLoc& last = B().Last(shard);
  const auto& b = last.batches[last.batches.size() - 2];
  const std::uint64_t at = b.offset + 100;  // inside the second-to-last batch
  Damage d = [=](const std::string& dir) { TruncateTo(SegPath(dir, shard, last.seq), at); };
  auto e = Analyze(d);
  ASSERT_TRUE(e);
  // It looks like a torn tail, but the WAL was closed cleanly: these
  // records were acknowledged (the MANIFEST records the shard's last LSN as
  // durable, later batches of other shards the watermark over them), so no
  // crash explains their loss. tolerate-torn-tail refuses; point-in-time
  // keeps the prefix. (Torn tails of what was never acknowledged:
  // TornTailAfterACrash below and the power-loss tests.)
  EXPECT_FALSE(e->tolerate_ok);
  e->anomalies = {{Kind::kTornTail, "@/shard-1/" + format::SegmentFileName(shard, last.seq)}};
  RunCase("torn tail", d, *e);

  // Full length, but a page of the last batch is lost: a hole of zeros,
  // which only its record checksums see. The seal after it says those bytes
  // had been synced: corruption, not a torn write.
  const auto& lb = last.batches.back();
  Damage hole = [=](const std::string& dir) { ZeroRange(SegPath(dir, shard, last.seq), lb.end - 40, 20); };
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
    ZeroRange(SegPath(dir, shard, last.seq), at, last.bytes.size());
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
    ZeroRange(SegPath(dir, shard, last.seq), at2, last.bytes.size());
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
    TruncateTo(SegPath(dir, shard, seq), seal);
    std::ofstream(SegPath(dir, shard, seq), std::ios::binary | std::ios::app) << std::string(8192, '\0');
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
    TruncateTo(SegPath(dir, shard, seq), seal);
    std::ofstream(SegPath(dir, shard, seq), std::ios::binary | std::ios::app) << junk;
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
    std::ofstream(SegPath(dir, shard, seq), std::ios::binary | std::ios::app) << junk << std::string(4096, '\0');
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
  Damage d = [=](const std::string& dir) { TruncateTo(SegPath(dir, shard, seq), 30); };
  auto e = Analyze(d);
  ASSERT_TRUE(e);
  EXPECT_FALSE(e->tolerate_ok);  // its records were acknowledged (TornTailOfLastSegment)
  EXPECT_EQ(e->anomalies.front().first, Kind::kTornTail);
  RunCase("last segment header cut short", d, *e);
  Damage empty = [=](const std::string& dir) { TruncateTo(SegPath(dir, shard, seq), 0); };
  e = Analyze(empty);
  ASSERT_TRUE(e);
  RunCase("last segment empty", empty, *e);
}

TEST_F(Corruption, MiddleSegmentTruncatedInsideABatch) {
  const std::uint32_t shard = 2;
  const SegmentLoc& seg = B().Seg(shard, 1);
  const std::uint64_t at = seg.batches[2].offset + 61;
  Damage d = [=](const std::string& dir) { TruncateTo(SegPath(dir, shard, seg.seq), at); };
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

TEST_F(Corruption, BrokenManifest) {
  // Without a readable MANIFEST nothing can be trusted: every mode fails,
  // read-only and read-write, and a failed Wal::Open must not replace it.
  TempDir t;
  CopyBase(t.Sub("probe"));
  const std::string text = ReadFileBytes(t.Sub("probe") + "/MANIFEST");
  ASSERT_GT(text.size(), 20u);
  std::vector<std::pair<std::string, std::string>> variants;
  std::mt19937_64 rng(21);
  for (int k = 0; k < 6; ++k) {
    // Truncations (all but the final newline, which the parser does not need).
    const std::size_t at = k == 0 ? 0 : rng() % (text.size() - 1);
    variants.push_back({"truncated to " + std::to_string(at), text.substr(0, at)});
  }
  for (int k = 0; k < 6; ++k) {
    std::string s = text;
    const std::size_t at = rng() % (text.size() - 1);
    s[at] = static_cast<char>(s[at] ^ (1 << (rng() % 8)));
    variants.push_back({"bit flip at " + std::to_string(at), s});
  }
  std::string junk(300, '\0');
  for (auto& c : junk) c = static_cast<char>(rng());
  variants.push_back({"garbage", junk});
  for (const auto& [what, bytes] : variants) {
    if (Manifest::Parse(bytes, "MANIFEST").ok()) continue;  // e.g. a hex digit flipped to upper case
    Damage d = [bytes = bytes](const std::string& dir) { WriteFileBytes(dir + "/MANIFEST", bytes); };
    Expect e;
    e.manifest_error = Status::Code::kCorruption;
    RunCase("MANIFEST " + what, d, e);
    if (HasFatalFailure()) return;
  }
}

TEST_F(Corruption, MissingManifest) {
  for (RecoveryMode mode : kModes) {
    SCOPED_TRACE(ModeName(mode));
    TempDir t;
    const std::string dir = t.Sub("wal");
    CopyBase(dir);
    stdfs::remove(dir + "/MANIFEST");
    const auto before = Snapshot(dir);
    auto reader = LogReader::Open(ModeOptions(dir, mode));
    ASSERT_FALSE(reader.ok());
    EXPECT_TRUE(reader.status().IsNotFound()) << reader.status().ToString();
    auto wal = Wal::Open(ModeOptions(dir, mode));
    ASSERT_FALSE(wal.ok()) << "a WAL without its MANIFEST was opened as a new one";
    EXPECT_TRUE(wal.status().IsCorruption()) << wal.status().ToString();
    EXPECT_NE(wal.status().message().find("MANIFEST"), std::string::npos) << wal.status().ToString();
    EXPECT_TRUE(Snapshot(dir) == before);
  }
}

// ---- regressions: damage recovery once got wrong (all fixed) ----
// Each comment describes the bug as it was when the test was written.

// A middle segment cut exactly at a batch boundary reads as a clean, shorter
// segment. Its lost batches leave an LSN gap in the middle of the log, which
// the global merge takes for the end of the gap-free prefix: the default
// mode then "recovers" silently and a read-write open deletes everything
// above the gap, in every shard, with no anomaly reported.
TEST(CorruptionRegression, MiddleSegmentTruncatedAtBatchBoundaryIsNotReported) {
  if (g_base == nullptr) BuildBase();
  ASSERT_NE(g_base, nullptr);
  const std::uint32_t shard = 1;
  const SegmentLoc& seg = B().Seg(shard, 1);
  const std::uint64_t at = seg.batches[2].offset;
  for (RecoveryMode mode : {RecoveryMode::kTolerateTornTail, RecoveryMode::kAbsolute}) {
    SCOPED_TRACE(ModeName(mode));
    TempDir t;
    const std::string dir = t.Sub("wal");
    CopyBase(dir);
    TruncateTo(SegPath(dir, shard, seg.seq), at);
    auto reader = LogReader::Open(ModeOptions(dir, mode));
    EXPECT_FALSE(reader.ok()) << "mid-log loss of " << (seg.Lsns().size() - 2) << "+ records accepted:\n"
                              << (*reader)->report().Summary();
  }
}

// Segment 1 of a shard deleted: the sequence gap check starts at the first
// segment present, so nothing reports the loss; the missing LSNs again look
// like the end of the log and everything after them is cut.
TEST(CorruptionRegression, MissingFirstSegmentIsNotReported) {
  if (g_base == nullptr) BuildBase();
  ASSERT_NE(g_base, nullptr);
  for (RecoveryMode mode : {RecoveryMode::kTolerateTornTail, RecoveryMode::kAbsolute}) {
    SCOPED_TRACE(ModeName(mode));
    TempDir t;
    const std::string dir = t.Sub("wal");
    CopyBase(dir);
    stdfs::remove(SegPath(dir, 2, 1));
    auto reader = LogReader::Open(ModeOptions(dir, mode));
    EXPECT_FALSE(reader.ok()) << "loss of segment 1 accepted:\n" << (*reader)->report().Summary();
  }
}

// Salvage: report.missing_lsns lists the LSN gaps below the highest LSN
// found, but a lost LSN 1 (and any lost LSNs before the first one found)
// is never listed.
TEST(CorruptionRegression, SalvageMissingLsnsIncludeTheFirstLsns) {
  if (g_base == nullptr) BuildBase();
  ASSERT_NE(g_base, nullptr);
  const auto [shard, seg] = B().where.at(1);
  const SegmentLoc& s = B().Seg(shard, seg);
  TempDir t;
  const std::string dir = t.Sub("wal");
  CopyBase(dir);
  FlipBit(SegPath(dir, shard, s.seq), s.batches[0].offset + 60, 2);  // a record of the batch holding LSN 1
  auto reader = LogReader::Open(ModeOptions(dir, RecoveryMode::kSalvage));
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  const auto& missing = (*reader)->report().missing_lsns;
  EXPECT_TRUE(!missing.empty() && missing.front() == 1) << (*reader)->report().Summary();
}

// The last segment's header zeroed while its batches are intact: recovery
// takes the file for an empty leftover of a crash during rotation and the
// default mode deletes it, batches and all. A crash cannot produce this
// (the first batch is written with the header, in the same page); the
// records were synced and acknowledged.
TEST(CorruptionRegression, ZeroedHeaderOfLastSegmentWithIntactBatchesIsNotATornTail) {
  if (g_base == nullptr) BuildBase();
  ASSERT_NE(g_base, nullptr);
  TempDir t;
  const std::string dir = t.Sub("wal");
  CopyBase(dir);
  ZeroRange(SegPath(dir, 0, B().Last(0).seq), 0, format::kSegmentHeaderBytes);
  auto reader = LogReader::Open(ModeOptions(dir, RecoveryMode::kTolerateTornTail));
  EXPECT_FALSE(reader.ok()) << "a segment of " << B().Last(0).Lsns().size()
                            << " valid records taken for a torn tail:\n"
                            << (*reader)->report().Summary();
}

// Salvage, a middle segment whose last batch is damaged (here: cut short):
// no valid batch follows in that segment, so HandleAnomaly treats it like a
// tail and stops the whole shard: every later segment of the shard, intact,
// is dropped (and left on disk, so a later open finds its records again).
TEST(CorruptionRegression, SalvageSkipsTheRestOfAShard) {
  if (g_base == nullptr) BuildBase();
  ASSERT_NE(g_base, nullptr);
  const std::uint32_t shard = 2;
  const SegmentLoc& seg = B().Seg(shard, 1);
  TempDir t;
  const std::string dir = t.Sub("wal");
  CopyBase(dir);
  TruncateTo(SegPath(dir, shard, seg.seq), seg.batches.back().offset + 61);
  auto reader = LogReader::Open(ModeOptions(dir, RecoveryMode::kSalvage));
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  const auto got = ReplayAll(**reader);
  std::size_t lost = 0;
  for (std::size_t i = 2; i < B().Count(shard); ++i) {
    for (Lsn l : B().Seg(shard, i).Lsns()) lost += got.count(l) == 0;
  }
  EXPECT_EQ(lost, 0u) << "records of intact later segments of shard " << shard << " dropped\n"
                      << (*reader)->report().Summary();
}

// Wal::Replay after a read-write open that removed segments (point-in-time
// stop in a middle segment, or a cut that drops later segments): the
// RecoveredLog keeps the layouts scanned before ApplyCut, so its cursors
// run past the truncated segment into a deleted one and Replay fails with
// IOError (No such file or directory). LogReader, which cuts nothing, and a
// reopen are fine.
TEST(CorruptionRegression, WalReplayAfterCutFindsRemovedSegments) {
  if (g_base == nullptr) BuildBase();
  ASSERT_NE(g_base, nullptr);
  const std::uint32_t shard = 1;
  const SegmentLoc& seg = B().Seg(shard, 1);
  TempDir t;
  const std::string dir = t.Sub("wal");
  CopyBase(dir);
  FlipBit(SegPath(dir, shard, seg.seq), seg.batches[2].offset + 10, 1);  // a batch header's body size
  auto wal = Wal::Open(ModeOptions(dir, RecoveryMode::kPointInTime));
  ASSERT_TRUE(wal.ok()) << wal.status().ToString();
  std::map<Lsn, std::string> got;
  Status s = TryReplay(**wal, &got);
  EXPECT_TRUE(s.ok()) << s.ToString() << "\n" << (*wal)->recovery_report().Summary();
  EXPECT_EQ(got.size(), (*wal)->recovery_report().records);
}

// Recovery's second pass (the k-way merge that decides the cut) reads with
// verify_checksums = false and relies on meeting "the same anomalies" as the
// first pass. A batch whose framing is intact but whose record checksum
// fails (a flipped payload bit) is an anomaly only in pass 1: in
// point-in-time mode pass 2 merges straight through it, so the cut (and for
// a read-write open, what is kept: no truncation is planned) covers the
// whole log, while Replay (checksums on) stops that shard at the damage and
// delivers a log with holes. Salvage likewise counts the corrupt records.
TEST(CorruptionRegression, PointInTimeIgnoresChecksumOnlyDamage) {
  if (g_base == nullptr) BuildBase();
  ASSERT_NE(g_base, nullptr);
  const std::uint32_t shard = 0;
  const SegmentLoc& seg = B().Seg(shard, 1);
  const BatchLoc& batch = seg.batches[3];
  TempDir t;
  const std::string dir = t.Sub("wal");
  CopyBase(dir);
  FlipBit(SegPath(dir, shard, seg.seq), batch.end - 1, 0);  // the last payload byte of the batch
  auto reader = LogReader::Open(ModeOptions(dir, RecoveryMode::kPointInTime));
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  const Lsn first_lost = batch.lsns.front();
  EXPECT_EQ((*reader)->report().cut_lsn, first_lost - 1) << (*reader)->report().Summary();
  const auto got = ReplayAll(**reader);
  EXPECT_EQ(got.size(), first_lost - 1) << "the replayed log has holes";
  auto salvage = LogReader::Open(ModeOptions(dir, RecoveryMode::kSalvage));
  ASSERT_TRUE(salvage.ok()) << salvage.status().ToString();
  EXPECT_EQ((*salvage)->report().records, static_cast<std::uint64_t>(kRecords) - batch.lsns.size())
      << (*salvage)->report().Summary();
}

// The same blind spot in the default mode, on the most ordinary damage
// there is: a torn tail whose batch is full length but has a hole in it (a
// page of the last write never reached the disk). Pass 1 calls it a torn
// tail; pass 2 merges its records into the cut, so the read-write open
// neither truncates it nor excludes its LSNs, Wal::Replay skips them (the
// recovered log has a hole at the end of one shard), appends continue in a
// new segment behind the damaged batch, and the next default open fails: the
// torn tail is now corruption in the middle of the shard.
// The last batch of the shard `shard` in a crashed WAL: its segment, offset
// and end, and its first LSN.
struct LastBatch {
  std::string path;
  std::uint64_t offset = 0, end = 0;
  Lsn first_lsn = kNoLsn;
};
LastBatch FindLastBatch(const std::string& shard_dir) {
  std::map<std::uint64_t, std::string> by_seq;
  for (const auto& e : stdfs::directory_iterator(shard_dir)) {
    std::uint32_t sh = 0;
    std::uint64_t seq = 0;
    if (format::ParseSegmentFileName(e.path().filename().string(), &sh, &seq)) by_seq[seq] = e.path().string();
  }
  // The newest segment with a record (the one prepared after it is empty).
  for (auto it = by_seq.rbegin(); it != by_seq.rend(); ++it) {
    auto reader = SegmentReader::Open(FileSystem::Default().get(), it->second);
    if (!reader.ok()) continue;
    LastBatch b;
    b.path = it->second;
    format::RecordView rec;
    while ((*reader)->Next(&rec)) {
      if (b.first_lsn == kNoLsn || (*reader)->batch_offset() != b.offset) {
        b.offset = (*reader)->batch_offset();
        b.end = (*reader)->batch_end();
        b.first_lsn = rec.lsn;
      }
    }
    if (b.first_lsn != kNoLsn) return b;
  }
  ADD_FAILURE() << "no record in " << shard_dir;
  return {};
}

TEST(CorruptionRegression, TornTailSeenOnlyByChecksumsIsNotCut) {
  // A crash left an unsynced last batch with a page of it missing: a hole
  // of zeros inside its last record, framing intact, which only the record
  // checksums see. Nobody was promised it: a torn tail, cut.
  TempDir t;
  Options o = BaseOptions(t.Sub("wal"));
  o.durability = Durability::kGroup;
  constexpr int kAcked = 300, kUnacked = 40;
  testing::CrashAfterUnsyncedTail(o, kAcked, kUnacked);
  const LastBatch batch = FindLastBatch(ShardDir(o.dir, 1));
  ASSERT_GT(batch.first_lsn, static_cast<Lsn>(kAcked)) << "shard 1's last batch should be unacknowledged";
  ZeroRange(batch.path, batch.end - 40, 20);
  {
    auto wal = Wal::Open(ModeOptions(o.dir, RecoveryMode::kTolerateTornTail));
    ASSERT_TRUE(wal.ok()) << wal.status().ToString();
    const auto& rep = (*wal)->recovery_report();
    EXPECT_LT(rep.cut_lsn, batch.first_lsn) << rep.Summary();
    EXPECT_GE(rep.cut_lsn, static_cast<Lsn>(kAcked)) << rep.Summary();
    std::map<Lsn, std::string> got;
    EXPECT_TRUE(TryReplay(**wal, &got).ok());
    EXPECT_EQ(got.size(), rep.records) << "replay and report disagree\n" << rep.Summary();
    for (int i = 1; i <= kAcked; ++i) EXPECT_EQ(got[static_cast<Lsn>(i)], testing::CrashPayload(i)) << "LSN " << i;
    AppendOptions async;  // Close() syncs it
    async.durability = Durability::kAsync;
    ASSERT_TRUE((*wal)->Append("after", "after", async).ok());
    ASSERT_TRUE((*wal)->Close().ok());
  }
  auto again = Wal::Open(ModeOptions(o.dir, RecoveryMode::kTolerateTornTail));
  EXPECT_TRUE(again.ok()) << again.status().ToString();
}

// A salvage open keeps every valid record and starts a new epoch above the
// highest one, leaving permanent LSN gaps below it. A later open in the
// default mode takes the first gap for the end of the log and cuts there:
// every record above it, including those appended (and acknowledged) after
// the salvage open, is deleted.
TEST(CorruptionRegression, DefaultReopenAfterSalvageCutsAtTheFirstGap) {
  if (g_base == nullptr) BuildBase();
  ASSERT_NE(g_base, nullptr);
  const SegmentLoc& last = B().Last(1);
  TempDir t;
  const std::string dir = t.Sub("wal");
  CopyBase(dir);
  // A torn tail: shard 1 loses its last two batches, other shards hold
  // higher LSNs.
  TruncateTo(SegPath(dir, 1, last.seq), last.batches[last.batches.size() - 2].offset + 100);
  Lsn appended = 0;
  std::uint64_t kept = 0;
  {
    auto wal = Wal::Open(ModeOptions(dir, RecoveryMode::kSalvage));
    ASSERT_TRUE(wal.ok()) << wal.status().ToString();
    ASSERT_FALSE((*wal)->recovery_report().missing_lsns.empty()) << "no gap below the highest LSN";
    kept = (*wal)->recovery_report().records;
    AppendOptions async;  // Close() syncs it
    async.durability = Durability::kAsync;
    auto lsn = (*wal)->Append("after", "appended after salvage", async);
    ASSERT_TRUE(lsn.ok());
    appended = *lsn;
    ASSERT_TRUE((*wal)->Close().ok());
  }
  auto wal = Wal::Open(ModeOptions(dir, RecoveryMode::kTolerateTornTail));
  ASSERT_TRUE(wal.ok()) << wal.status().ToString();
  auto all = ReplayAll(**wal);
  EXPECT_EQ(all.size(), kept + 1) << (*wal)->recovery_report().Summary();
  EXPECT_TRUE(all.count(appended)) << "acknowledged LSN " << appended << " lost\n"
                                   << (*wal)->recovery_report().Summary();
}

}  // namespace
}  // namespace shardwal
