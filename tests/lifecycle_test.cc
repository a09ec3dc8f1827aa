// The segment lifecycle: checkpoints, recycling, retention, the size cap, a
// full disk, MANIFEST and directory checks, and crash-at-every-step runs of
// rotation, checkpoint and recycling (docs/design.md, sections 11-14;
// docs/operations.md, "Checkpoints" to "Disk full").
//
// Every record this file writes is self-describing: its payload carries an
// id and a tag index, and the rest of it is derived from those, so a
// replayed record is either exactly one the test appended or it is caught.
// A Log holds what was appended (LSN -> record), what failed, what was
// acknowledged durable (a kGroup append or WaitDurable that returned OK
// covers every LSN at or below it) and which checkpoint was acknowledged;
// CheckRecovered compares a recovered log against it:
//
//  * the recovered checkpoint is the acknowledged one (or one whose
//    Checkpoint call failed, which may or may not have reached the MANIFEST);
//  * replay yields exactly checkpoint+1 .. cut, gap-free, nothing at or below
//    the checkpoint, no duplicates, every record byte-exact (a record whose
//    append failed may survive, at an LSN the test never learned, once);
//  * the cut covers every acknowledged LSN.
//
// The crash-at-every-step tests (CrashAtEveryStep.*) count a scenario's
// mutating file-system operations N, then rerun it from the same starting
// state with FaultInjectionFileSystem::CrashAfter(k) for k = 0..N, lose power
// (loss mode and seed vary with k), reopen in the default recovery mode and
// check the recovered log as above, then check that appends continue above
// everything acknowledged.
#include <gtest/gtest.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/null_sink.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "recovery/segment_reader.h"
#include "shardwal/testing/fault_injection_file_system.h"
#include "shardwal/recovery.h"
#include "shardwal/wal.h"
#include "shards/segment_set.h"
#include "src/foundation/format.h"
#include "src/foundation/manifest.h"
#include "tests/test_util.h"

namespace shardwal {
namespace {

namespace stdfs = std::filesystem;
using Fi = FaultInjectionFileSystem;
using Op = Fi::Op;
using Clock = std::chrono::steady_clock;

// A fresh directory, removed with everything in it. On tmpfs (/dev/shm) when
// there is one: the fault file system models what survives a power loss, so
// real fdatasyncs buy these tests nothing but time (the crash-at-every-step
// runs do thousands of them).
class TempDir {
 public:
  TempDir() {
    const char* tmpdir = std::getenv("TMPDIR");
    for (const char* base : {"/dev/shm", tmpdir, "/tmp"}) {
      if (base == nullptr || *base == '\0') continue;
      std::string tmpl = std::string(base) + "/shardwal-life-XXXXXX";
      if (mkdtemp(tmpl.data()) != nullptr) {
        path_ = tmpl;
        return;
      }
    }
    ADD_FAILURE() << "cannot create a temporary directory";
  }
  ~TempDir() {
    std::error_code ec;
    stdfs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }
  bool fast() const { return path_.starts_with("/dev/shm/"); }

 private:
  std::string path_;
};

constexpr std::uint64_t kSeg = 64u << 10;  // the smallest segment_bytes Open accepts

std::shared_ptr<spdlog::logger> QuietLogger() {
  static const auto logger =
      std::make_shared<spdlog::logger>("lifecycle-test", std::make_shared<spdlog::sinks::null_sink_mt>());
  return logger;
}

bool Contains(const std::string& s, const std::string& what) { return s.find(what) != std::string::npos; }
bool Contains(const Status& s, const std::string& what) { return Contains(s.message(), what); }

// ---- self-describing records ------------------------------------------------------

std::uint64_t Mix(std::uint64_t x) {  // splitmix64
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

constexpr std::size_t kIdentBytes = 12;  // id u64, tag index u32

std::string TagName(std::uint32_t tag) { return "tag-" + std::to_string(tag); }

std::size_t DefaultPayloadSize(std::uint64_t id) { return kIdentBytes + Mix(id * 31 + 7) % 900; }

std::string PayloadFor(std::uint64_t id, std::uint32_t tag, std::size_t size) {
  std::string p(std::max(size, kIdentBytes), '\0');
  std::memcpy(p.data(), &id, 8);
  std::memcpy(p.data() + 8, &tag, 4);
  std::uint64_t state = Mix(id ^ (std::uint64_t{tag} << 40) ^ p.size());
  for (std::size_t i = kIdentBytes; i < p.size(); ++i) {
    if ((i - kIdentBytes) % 8 == 0) state = Mix(state);
    p[i] = static_cast<char>(state >> (8 * ((i - kIdentBytes) % 8)));
  }
  return p;
}

struct Ident {
  std::uint64_t id = 0;
  std::uint32_t tag = 0;
  std::uint32_t size = 0;
  bool operator==(const Ident&) const = default;
};

// The record's identity, if it is exactly a record this test writes.
std::optional<Ident> Decode(std::string_view tag, std::string_view payload) {
  if (payload.size() < kIdentBytes) return std::nullopt;
  Ident id;
  std::memcpy(&id.id, payload.data(), 8);
  std::memcpy(&id.tag, payload.data() + 8, 4);
  id.size = static_cast<std::uint32_t>(payload.size());
  if (tag != TagName(id.tag) || PayloadFor(id.id, id.tag, payload.size()) != payload) return std::nullopt;
  return id;
}

// ---- what the test appended ----------------------------------------------------------

struct Log {
  std::map<Lsn, Ident> at;           // appends that returned an LSN
  std::set<std::uint64_t> failed;    // ids of appends that failed (they may still hold an LSN)
  Lsn max_acked = kNoLsn;            // every LSN <= this was acknowledged durable
  Lsn ckpt = kNoLsn;                 // the last acknowledged checkpoint
  std::set<Lsn> maybe_ckpts;         // Checkpoint calls that failed: in the MANIFEST or not

  Lsn last() const { return at.empty() ? kNoLsn : at.rbegin()->first; }
  void Checkpointed(Lsn lsn, const Status& s) {
    if (s.ok()) {
      ckpt = std::max(ckpt, lsn);
    } else {
      maybe_ckpts.insert(lsn);
    }
  }
};

// Appends self-describing records to chosen shards (by tag) and logs them.
class Writer {
 public:
  Writer(Wal& wal, Log& log, std::uint64_t first_id) : wal_(wal), log_(log), next_id_(first_id) {
    tags_.resize(wal.num_shards());
    for (std::uint32_t t = 0; t < 100000; ++t) {
      auto& mine = tags_[wal.ShardForTag(TagName(t))];
      if (mine.size() < 4) mine.push_back(t);
      if (std::all_of(tags_.begin(), tags_.end(), [](const auto& v) { return v.size() == 4; })) break;
    }
  }

  std::uint32_t shards() const { return static_cast<std::uint32_t>(tags_.size()); }

  // One record for `shard`; `size` 0 picks a size from the id.
  Result<Lsn> One(std::uint32_t shard, Durability d, bool try_append = false, std::size_t size = 0) {
    const std::uint64_t id = next_id_++;
    const std::uint32_t tag = tags_[shard][id % tags_[shard].size()];
    const std::string payload = PayloadFor(id, tag, size != 0 ? size : DefaultPayloadSize(id));
    AppendOptions ao;
    ao.durability = d;
    Result<Lsn> r = try_append ? wal_.TryAppend(TagName(tag), payload, ao) : wal_.Append(TagName(tag), payload, ao);
    if (r.ok()) {
      log_.at[*r] = Ident{id, tag, static_cast<std::uint32_t>(payload.size())};
      if (d == Durability::kGroup) log_.max_acked = std::max(log_.max_acked, *r);
    } else {
      log_.failed.insert(id);
    }
    return r;
  }

  // One AppendBatch with `per_shard` records for every shard.
  Status Batch(std::uint32_t per_shard, Durability d) {
    std::vector<std::string> payloads;
    std::vector<std::string> tags;
    std::vector<Ident> ids;
    for (std::uint32_t i = 0; i < per_shard; ++i) {
      for (std::uint32_t s = 0; s < shards(); ++s) {
        const std::uint64_t id = next_id_++;
        const std::uint32_t tag = tags_[s][id % tags_[s].size()];
        payloads.push_back(PayloadFor(id, tag, DefaultPayloadSize(id)));
        tags.push_back(TagName(tag));
        ids.push_back(Ident{id, tag, static_cast<std::uint32_t>(payloads.back().size())});
      }
    }
    std::vector<RecordSpec> specs;
    for (std::size_t i = 0; i < ids.size(); ++i) specs.push_back(RecordSpec{tags[i], payloads[i]});
    auto r = wal_.AppendBatch(specs, d);
    if (!r.ok()) {
      for (const auto& id : ids) log_.failed.insert(id.id);
      return r.status();
    }
    for (std::size_t i = 0; i < ids.size(); ++i) log_.at[r->first + i] = ids[i];
    if (d == Durability::kGroup) log_.max_acked = std::max(log_.max_acked, r->last);
    return Status::OK();
  }

  // kNone appends until every shard got about `bytes` more record bytes.
  Status Fill(std::uint64_t bytes) {
    std::vector<std::uint64_t> got(shards(), 0);
    for (;;) {
      bool any = false;
      for (std::uint32_t s = 0; s < shards(); ++s) {
        if (got[s] >= bytes) continue;
        any = true;
        auto r = One(s, Durability::kNone);
        if (!r.ok()) return r.status();
        const Ident& id = log_.at[*r];
        got[s] += format::RecordBytes(TagName(id.tag).size(), id.size);
      }
      if (!any) return Status::OK();
    }
  }

  // Waits until everything appended is durable.
  Status Ack() {
    const Lsn last = wal_.LastLsn();
    Status s = wal_.WaitDurable(last);
    if (s.ok()) log_.max_acked = std::max(log_.max_acked, last);
    return s;
  }

  Status Checkpoint(Lsn lsn) {
    Status s = wal_.Checkpoint(lsn);
    log_.Checkpointed(lsn, s);
    return s;
  }

 private:
  Wal& wal_;
  Log& log_;
  std::uint64_t next_id_;
  std::vector<std::vector<std::uint32_t>> tags_;  // per shard: tag indices routed there
};

// Checks a recovered log against what the test appended. Returns "" if it
// matches, else what is wrong.
std::string CheckRecovered(const RecoveryReport& rep,
                           const std::function<Status(Lsn, const ReplayCallback&)>& replay, const Log& log) {
  std::ostringstream err;
  const Lsn ckpt = rep.checkpoint_lsn;
  if (ckpt != log.ckpt && !(ckpt > log.ckpt && log.maybe_ckpts.count(ckpt))) {
    err << "recovered checkpoint " << ckpt << ", acknowledged " << log.ckpt << "; ";
  }
  if (rep.cut_lsn < log.max_acked) err << "cut " << rep.cut_lsn << " below acknowledged LSN " << log.max_acked << "; ";
  if (rep.cut_lsn < ckpt) err << "cut " << rep.cut_lsn << " below checkpoint " << ckpt << "; ";
  Lsn expect = ckpt + 1;
  std::set<std::uint64_t> unknown_seen;
  std::string bad;
  Status s = replay(0, [&](const ReplayRecord& r) {
    std::ostringstream b;
    if (r.lsn <= ckpt) {
      b << "LSN " << r.lsn << " replayed although the checkpoint is " << ckpt;
    } else if (r.lsn != expect) {
      b << "replay yields LSN " << r.lsn << " where " << expect << " was expected";
    }
    const auto id = Decode(r.tag, r.payload);
    if (b.str().empty()) {
      auto it = log.at.find(r.lsn);
      if (!id) {
        b << "LSN " << r.lsn << " is not a record this test wrote (" << r.payload.size() << " bytes, tag '" << r.tag
          << "')";
      } else if (it != log.at.end()) {
        if (!(it->second == *id)) {
          b << "LSN " << r.lsn << " holds record " << id->id << ", appended was " << it->second.id;
        }
      } else if (!log.failed.count(id->id) || !unknown_seen.insert(id->id).second) {
        b << "LSN " << r.lsn << " holds record " << id->id << ", which was not appended at an unknown LSN (or twice)";
      }
    }
    if (!b.str().empty()) {
      bad = b.str();
      return false;
    }
    ++expect;
    return true;
  });
  if (!s.ok()) err << "replay failed: " << s.ToString() << "; ";
  if (!bad.empty()) {
    err << bad << "; ";
  } else if (s.ok() && expect - 1 != rep.cut_lsn) {
    err << "replay ended at LSN " << expect - 1 << ", the cut is " << rep.cut_lsn << "; ";
  }
  if (rep.records != rep.cut_lsn - std::min(rep.cut_lsn, ckpt)) {
    err << "report counts " << rep.records << " records for " << ckpt + 1 << ".." << rep.cut_lsn << "; ";
  }
  return err.str();
}

std::string CheckRecovered(const Wal& wal, const Log& log) {
  return CheckRecovered(wal.recovery_report(),
                        [&](Lsn from, const ReplayCallback& cb) { return wal.Replay(from, cb); }, log);
}

std::string CheckRecovered(const LogReader& reader, const Log& log) {
  return CheckRecovered(reader.report(),
                        [&](Lsn from, const ReplayCallback& cb) { return reader.Replay(from, cb); }, log);
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// ---- options and what is on disk -------------------------------------------------------

Options LifeOptions(const std::string& dir, std::uint32_t shards, std::shared_ptr<FileSystem> fs = nullptr) {
  Options o = testing::TestOptions(dir, shards);
  o.segment_bytes = kSeg;
  o.max_batch_bytes = 4096;
  o.max_record_bytes = 4096;
  o.max_buffered_bytes = 256u << 10;
  o.preallocation = Preallocation::kZeroFill;
  o.recycle_segments = 0;
  o.logger = QuietLogger();
  if (fs) o.file_system = std::move(fs);
  return o;
}

std::string ShardDir(const Options& o, std::uint32_t shard) { return o.dir + "/shard-" + std::to_string(shard); }

struct SegOnDisk {
  std::uint64_t seq = 0;
  std::string path;
  std::uint64_t size = 0;
  bool header_ok = false;
  format::SegmentHeader header;
  std::uint64_t records = 0;
  Lsn first_lsn = kNoLsn, last_lsn = kNoLsn;
  std::uint64_t data_end = 0;  // past the last valid batch (or seal)
  bool sealed = false;
};

std::optional<format::SegmentHeader> ReadHeader(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char buf[format::kSegmentHeaderBytes];
  if (!in.read(buf, sizeof buf)) return std::nullopt;
  format::SegmentHeader h;
  if (!format::DecodeSegmentHeader(buf, sizeof buf, &h).ok()) return std::nullopt;
  return h;
}

// The segment files of a shard directory, by sequence, with what a reader
// finds in each (reads only; safe while the WAL runs).
std::vector<SegOnDisk> ListSegments(const std::string& dir) {
  std::vector<SegOnDisk> out;
  std::error_code ec;
  for (const auto& e : stdfs::directory_iterator(dir, ec)) {
    std::uint32_t shard;
    std::uint64_t seq;
    if (!format::ParseSegmentFileName(e.path().filename().string(), &shard, &seq)) continue;
    SegOnDisk s;
    s.seq = seq;
    s.path = e.path().string();
    s.size = stdfs::file_size(e.path(), ec);
    if (auto h = ReadHeader(s.path)) {
      s.header_ok = true;
      s.header = *h;
      auto reader = SegmentReader::Open(FileSystem::Default().get(), s.path);
      if (reader.ok()) {
        format::RecordView rec;
        while ((*reader)->Next(&rec)) {
          if (s.records++ == 0) s.first_lsn = rec.lsn;
          s.last_lsn = rec.lsn;
        }
        s.data_end = (*reader)->valid_bytes();
        s.sealed = (*reader)->sealed();
      }
    }
    out.push_back(std::move(s));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.seq < b.seq; });
  return out;
}

std::set<std::uint64_t> Seqs(const std::vector<SegOnDisk>& segs) {
  std::set<std::uint64_t> out;
  for (const auto& s : segs) out.insert(s.seq);
  return out;
}

// The segment the shard writes now: the highest sequence with a header.
const SegOnDisk* Current(const std::vector<SegOnDisk>& segs) {
  for (auto it = segs.rbegin(); it != segs.rend(); ++it) {
    if (it->header_ok) return &*it;
  }
  return nullptr;
}

template <typename Pred>
bool WaitFor(Pred pred, std::chrono::milliseconds limit) {
  const auto deadline = Clock::now() + limit;
  while (!pred()) {
    if (Clock::now() >= deadline) return pred();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

std::unique_ptr<Wal> OpenOrDie(const Options& o) {
  auto w = Wal::Open(o);
  EXPECT_TRUE(w.ok()) << w.status().ToString();
  return w.ok() ? std::move(*w) : nullptr;
}

// =========================================================================================
// 1. Checkpoint basics
// =========================================================================================

TEST(Checkpoint, DeletesEverySegmentWhollyAtOrBelowItAndNothingElse) {
  TempDir dir;
  const Options o = LifeOptions(dir.path(), 3);
  auto wal = OpenOrDie(o);
  ASSERT_TRUE(wal);
  Log log;
  Writer w(*wal, log, 1);
  ASSERT_TRUE(w.Fill(kSeg * 9 / 2).ok());
  ASSERT_TRUE(w.Ack().ok());
  EXPECT_EQ(wal->Stats().checkpoint_lsn, kNoLsn);

  std::vector<std::vector<SegOnDisk>> before;
  for (std::uint32_t s = 0; s < 3; ++s) before.push_back(ListSegments(ShardDir(o, s)));
  const WalStats st0 = wal->Stats();
  const Lsn c = wal->LastLsn() * 3 / 5;

  // What must go: per shard, the leading segments (not the one being
  // written) whose records are all <= c.
  std::vector<std::set<std::uint64_t>> released(3);
  for (std::uint32_t s = 0; s < 3; ++s) {
    const SegOnDisk* cur = Current(before[s]);
    ASSERT_NE(cur, nullptr);
    for (const auto& seg : before[s]) {
      if (!seg.header_ok || seg.seq == cur->seq || seg.last_lsn > c) break;
      released[s].insert(seg.seq);
    }
    ASSERT_GE(released[s].size(), 1u) << "shard " << s << ": the test needs a releasable segment";
  }

  ASSERT_TRUE(w.Checkpoint(c).ok());
  const WalStats st1 = wal->Stats();
  EXPECT_EQ(st1.checkpoint_lsn, c);
  EXPECT_EQ(st1.total.recycled_pool, 0u);
  std::uint64_t released_total = 0;
  for (std::uint32_t s = 0; s < 3; ++s) {
    const auto after = Seqs(ListSegments(ShardDir(o, s)));
    for (const auto& seg : before[s]) {
      if (released[s].count(seg.seq)) {
        EXPECT_FALSE(after.count(seg.seq)) << "shard " << s << " segment " << seg.seq << " (LSNs " << seg.first_lsn
                                           << ".." << seg.last_lsn << ") survived Checkpoint(" << c << ")";
      } else {
        EXPECT_TRUE(after.count(seg.seq)) << "shard " << s << " segment " << seg.seq << " (LSNs " << seg.first_lsn
                                          << ".." << seg.last_lsn << ") was released by Checkpoint(" << c << ")";
      }
    }
    EXPECT_EQ(st1.shards[s].segment_files + released[s].size(), st0.shards[s].segment_files) << "shard " << s;
    released_total += released[s].size();
  }
  // The released bytes left the account; a shard's preparer may have
  // reserved its next segment in between (at most one per shard).
  const std::uint64_t reserved_meanwhile = st1.wal_bytes + released_total * kSeg - st0.wal_bytes;
  EXPECT_EQ(reserved_meanwhile % kSeg, 0u);
  EXPECT_LE(reserved_meanwhile, 3 * kSeg) << "st0 " << st0.wal_bytes << ", st1 " << st1.wal_bytes;

  // An LSN never assigned is refused; an older one changes nothing.
  const Status bad = wal->Checkpoint(wal->LastLsn() + 1);
  EXPECT_TRUE(bad.IsInvalidArgument()) << bad.ToString();
  EXPECT_EQ(wal->Stats().checkpoint_lsn, c);
  ASSERT_TRUE(w.Checkpoint(c / 2).ok());
  EXPECT_EQ(wal->Stats().checkpoint_lsn, c);

  // Everything checkpointed: the segment each shard writes stays.
  const Lsn all = wal->LastLsn();
  ASSERT_TRUE(w.Checkpoint(all).ok());
  EXPECT_EQ(wal->Stats().checkpoint_lsn, all);
  for (std::uint32_t s = 0; s < 3; ++s) {
    const auto segs = ListSegments(ShardDir(o, s));
    const SegOnDisk* cur = Current(segs);
    ASSERT_NE(cur, nullptr) << "shard " << s << " lost the segment it writes";
    EXPECT_EQ(cur->seq, Current(before[s])->seq) << "shard " << s;
    EXPECT_GT(cur->records, 0u);
    EXPECT_EQ(wal->Stats().shards[s].segment_files, 1u) << "shard " << s;
    for (const auto& seg : segs) EXPECT_GE(seg.seq, cur->seq) << "shard " << s << ": " << seg.path;
  }
  ASSERT_TRUE(wal->Close().ok());

  // Reopened: nothing to replay, appends continue after the last LSN.
  wal = OpenOrDie(o);
  ASSERT_TRUE(wal);
  EXPECT_EQ(wal->recovery_report().checkpoint_lsn, all);
  EXPECT_EQ(CheckRecovered(*wal, log), "");
  auto next = wal->Append("x", "after");
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_EQ(*next, all + 1);
}

TEST(Checkpoint, PoolsReleasedSegmentsUnderTheirOldNamesAndRotationReusesThem) {
  TempDir dir;
  Options o = LifeOptions(dir.path(), 2);
  o.recycle_segments = 2;
  auto wal = OpenOrDie(o);
  ASSERT_TRUE(wal);
  Log log;
  Writer w(*wal, log, 1);
  ASSERT_TRUE(w.Fill(kSeg * 9 / 2).ok());
  ASSERT_TRUE(w.Ack().ok());
  std::vector<std::vector<SegOnDisk>> before;
  for (std::uint32_t s = 0; s < 2; ++s) before.push_back(ListSegments(ShardDir(o, s)));

  const Lsn c = wal->LastLsn();
  ASSERT_TRUE(w.Checkpoint(c).ok());
  // All finished segments are released: the two oldest pooled (under their
  // old names), the rest deleted.
  WalStats st = wal->Stats();
  EXPECT_EQ(st.total.recycled_pool, 4u);
  std::vector<std::set<std::uint64_t>> pooled(2);
  for (std::uint32_t s = 0; s < 2; ++s) {
    const SegOnDisk* cur = Current(before[s]);
    ASSERT_NE(cur, nullptr);
    ASSERT_GE(cur->seq, 4u) << "shard " << s << " has too few finished segments";
    EXPECT_EQ(st.shards[s].recycled_pool, 2u) << "shard " << s;
    EXPECT_EQ(st.shards[s].segment_files, 1u) << "shard " << s;
    const auto after = ListSegments(ShardDir(o, s));
    for (const auto& seg : after) {
      if (seg.seq < cur->seq) {
        pooled[s].insert(seg.seq);
        EXPECT_TRUE(seg.header_ok) << seg.path << ": a pooled segment is untouched until it is recycled";
      }
    }
    EXPECT_EQ(pooled[s], (std::set<std::uint64_t>{1, 2})) << "shard " << s;
  }

  // More appends: the next rotations recycle the pool.
  ASSERT_TRUE(w.Fill(kSeg * 3).ok());
  ASSERT_TRUE(w.Ack().ok());
  st = wal->Stats();
  EXPECT_LT(st.total.recycled_pool, 4u);
  std::uint64_t recycled_headers = 0;
  for (std::uint32_t s = 0; s < 2; ++s) {
    const auto segs = ListSegments(ShardDir(o, s));
    const auto now = Seqs(segs);
    std::uint64_t gone = 0;
    for (auto seq : pooled[s]) gone += now.count(seq) ? 0 : 1;
    EXPECT_EQ(gone + st.shards[s].recycled_pool, 2u) << "shard " << s << ": a pooled file neither reused nor left";
    for (const auto& seg : segs) {
      if (seg.header_ok && (seg.header.flags & format::kSegmentRecycled)) {
        ++recycled_headers;
        EXPECT_GT(seg.seq, Current(before[s])->seq) << seg.path;
        EXPECT_TRUE(seg.header.flags & format::kSegmentPreallocated) << seg.path;
        EXPECT_EQ(seg.header.segment_seq, seg.seq) << seg.path;
        EXPECT_GT(seg.records, 0u) << seg.path;
      }
    }
  }
  EXPECT_GE(recycled_headers, 2u) << "no segment was written over a recycled file";
  ASSERT_TRUE(wal->Close().ok());

  wal = OpenOrDie(o);
  ASSERT_TRUE(wal);
  EXPECT_EQ(CheckRecovered(*wal, log), "");
}

// A closed WAL holds no lock any more: another Wal may own the directory by
// now, so a Checkpoint must not write the (stale) MANIFEST it remembers.
// Regression (found by this test, fixed): WalImpl::Checkpoint checked only
// core_.failed(), not closed_: after Close it saved its stale MANIFEST (and
// deleted files), dropping the next owner's epoch; the next Open then failed
// with Corruption ("written in epoch 2, which the MANIFEST does not know").
TEST(Checkpoint, AfterCloseItFailsAndLeavesTheNextOwnersManifestAlone) {
  TempDir dir;
  const Options o = LifeOptions(dir.path(), 2);
  Log log;
  auto first = OpenOrDie(o);
  ASSERT_TRUE(first);
  {
    Writer w(*first, log, 1);
    ASSERT_TRUE(w.Fill(kSeg * 3 / 2).ok());
    ASSERT_TRUE(w.Ack().ok());
  }
  ASSERT_TRUE(first->Close().ok());
  auto second = OpenOrDie(o);  // the next owner: a new epoch in the MANIFEST
  ASSERT_TRUE(second);
  Writer w2(*second, log, 1'000'000);
  ASSERT_TRUE(w2.Batch(4, Durability::kGroup).ok());
  // (The next owner itself may save its MANIFEST meanwhile - its lifecycle
  // thread records each shard's synced segments - but never a checkpoint, nor
  // another epoch.)
  auto owner = [&] {
    auto m = Manifest::Load(*FileSystem::Default(), dir.path());
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    std::string epochs;
    for (const auto& e : m->epochs()) epochs += std::to_string(e.epoch) + "@" + std::to_string(e.first_lsn) + " ";
    return "checkpoint " + std::to_string(m->checkpoint_lsn()) + ", epochs " + epochs;
  };
  const std::string before = owner();
  const Status s = first->Checkpoint(first->LastLsn());
  EXPECT_FALSE(s.ok()) << "Checkpoint on a closed WAL succeeded";
  EXPECT_TRUE(s.IsClosed()) << s.ToString();
  EXPECT_EQ(owner(), before) << "a closed WAL rewrote the MANIFEST of the next owner";
  ASSERT_TRUE(second->Close().ok());
  second.reset();
  first.reset();
  auto again = Wal::Open(o);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(CheckRecovered(**again, log), "");
}

// =========================================================================================
// 2. Recovery and replay start after the checkpoint
// =========================================================================================

TEST(Checkpoint, RecoveryAndReplayStartAfterItAndLsnsContinue) {
  TempDir dir;
  Options o = LifeOptions(dir.path(), 2);
  o.recycle_segments = 1;
  auto wal = OpenOrDie(o);
  ASSERT_TRUE(wal);
  Log log;
  Writer w(*wal, log, 1);
  ASSERT_TRUE(w.Fill(kSeg * 7 / 2).ok());
  ASSERT_TRUE(w.Ack().ok());
  // A checkpoint inside shard 0's second segment: that segment stays (it
  // holds later records too) and recovery must read past its first part.
  const auto segs0 = ListSegments(ShardDir(o, 0));
  ASSERT_GE(segs0.size(), 3u);
  const Lsn c = (segs0[1].first_lsn + segs0[1].last_lsn) / 2;
  ASSERT_TRUE(w.Checkpoint(c).ok());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(w.Batch(3, Durability::kGroup).ok());
  const Lsn last = wal->LastLsn();
  ASSERT_TRUE(wal->Close().ok());

  {
    auto reader = LogReader::Open(o);
    ASSERT_TRUE(reader.ok()) << reader.status().ToString();
    EXPECT_EQ((*reader)->report().checkpoint_lsn, c);
    EXPECT_EQ((*reader)->report().cut_lsn, last);
    EXPECT_EQ(CheckRecovered(**reader, log), "");
  }

  wal = OpenOrDie(o);
  ASSERT_TRUE(wal);
  const RecoveryReport& rep = wal->recovery_report();
  EXPECT_EQ(rep.checkpoint_lsn, c);
  EXPECT_EQ(rep.cut_lsn, last);
  EXPECT_EQ(rep.first_lsn, c + 1);
  EXPECT_GT(rep.records_checkpointed, 0u) << "shard 0's second segment holds records <= the checkpoint";
  EXPECT_EQ(rep.records, last - c);
  EXPECT_EQ(CheckRecovered(*wal, log), "");
  // A start inside the window, and one below the checkpoint.
  std::vector<Lsn> got;
  ASSERT_TRUE(wal->Replay(c + 5, [&](const ReplayRecord& r) { return got.push_back(r.lsn), true; }).ok());
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got.front(), c + 5);
  EXPECT_EQ(got.back(), last);
  got.clear();
  ASSERT_TRUE(wal->Replay(c / 2, [&](const ReplayRecord& r) { return got.push_back(r.lsn), true; }).ok());
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got.front(), c + 1);

  Writer w2(*wal, log, 1'000'000);
  auto next = w2.One(0, Durability::kGroup);
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_EQ(*next, last + 1);
}

TEST(Checkpoint, ReplayOnALiveWalSkipsSegmentsALaterCheckpointReleased) {
  for (std::uint32_t recycle : {0u, 2u}) {
    SCOPED_TRACE("recycle_segments=" + std::to_string(recycle));
    TempDir dir;
    Options o = LifeOptions(dir.path(), 2);
    o.recycle_segments = recycle;
    Log log;
    {
      auto wal = OpenOrDie(o);
      ASSERT_TRUE(wal);
      Writer w(*wal, log, 1);
      ASSERT_TRUE(w.Fill(kSeg * 4).ok());
      ASSERT_TRUE(w.Checkpoint(wal->LastLsn() / 5).ok());
      ASSERT_TRUE(wal->Close().ok());
      log.max_acked = wal->LastLsn();
    }
    auto wal = OpenOrDie(o);
    ASSERT_TRUE(wal);
    const Lsn cut = wal->recovery_report().cut_lsn;
    ASSERT_EQ(cut, log.last());
    EXPECT_EQ(CheckRecovered(*wal, log), "");

    // A later checkpoint releases recovered segments the replay would
    // otherwise open; new appends rotate into recycled files meanwhile.
    Writer w(*wal, log, 1'000'000);
    const Lsn c2 = log.ckpt + (cut - log.ckpt) * 2 / 3;
    const auto files_before = ListSegments(ShardDir(o, 0)).size() + ListSegments(ShardDir(o, 1)).size();
    ASSERT_TRUE(w.Checkpoint(c2).ok());
    ASSERT_TRUE(w.Fill(kSeg * 2).ok());
    ASSERT_TRUE(w.Ack().ok());
    EXPECT_LT(wal->Stats().total.segment_files, files_before) << "the checkpoint released nothing";
    std::vector<Lsn> got;
    Status s = wal->Replay(0, [&](const ReplayRecord& r) { return got.push_back(r.lsn), true; });
    ASSERT_TRUE(s.ok()) << s.ToString();
    ASSERT_EQ(got.size(), cut - c2);
    EXPECT_EQ(got.front(), c2 + 1);
    EXPECT_EQ(got.back(), cut);
    for (std::size_t i = 1; i < got.size(); ++i) ASSERT_EQ(got[i], got[i - 1] + 1);

    // Everything recovered is checkpointed: replay yields nothing, and fails not.
    ASSERT_TRUE(w.Checkpoint(cut).ok());
    ASSERT_TRUE(w.Fill(kSeg).ok());
    got.clear();
    s = wal->Replay(0, [&](const ReplayRecord& r) { return got.push_back(r.lsn), true; });
    EXPECT_TRUE(s.ok()) << s.ToString();
    EXPECT_TRUE(got.empty());
    ASSERT_TRUE(wal->Close().ok());
  }
}

// =========================================================================================
// 3. Recycled segments end to end
// =========================================================================================

// Open prepares the first segment inline; zero-filling a full one there
// would write segment_bytes per shard, so with kZeroFill the first segment
// is a short zero-filled one (kFirstSegmentBytes) and the next ones are
// full size. Writes into zero-filled blocks need no extent conversion at
// fdatasync (docs/design.md, "The first segment").
TEST(Preallocation, ZeroFillStartsWithAShortZeroFilledSegmentThenFullSizeOnes) {
  TempDir dir;
  Options o = LifeOptions(dir.path(), 1);
  o.segment_bytes = 2 * kFirstSegmentBytes;
  Log log;
  {
    auto wal = OpenOrDie(o);
    ASSERT_TRUE(wal);
    std::vector<SegOnDisk> segs = ListSegments(ShardDir(o, 0));
    ASSERT_FALSE(segs.empty());
    EXPECT_EQ(segs.front().size, kFirstSegmentBytes) << segs.front().path;
    Writer w(*wal, log, 1);
    ASSERT_TRUE(w.Fill(kFirstSegmentBytes + kFirstSegmentBytes / 2).ok());
    ASSERT_TRUE(w.Ack().ok());
    segs = ListSegments(ShardDir(o, 0));
    ASSERT_GE(segs.size(), 2u);
    EXPECT_EQ(segs[0].size, kFirstSegmentBytes) << segs[0].path << ": the first segment outgrew its capacity";
    EXPECT_EQ(segs[1].size, o.segment_bytes) << segs[1].path;
    ASSERT_TRUE(wal->Close().ok());
  }
  auto wal = OpenOrDie(o);
  ASSERT_TRUE(wal);
  EXPECT_EQ(CheckRecovered(*wal, log), "");
}

// The short first segment is only for a fresh file: when Open finds
// released segments to recycle, the first one is a recycled, full-size file
// (already written, so it needs no zero-fill), used to its full size.
TEST(Preallocation, ARecycledFirstSegmentKeepsItsFullSize) {
  TempDir dir;
  Options o = LifeOptions(dir.path(), 1);
  o.segment_bytes = 2 * kFirstSegmentBytes;
  o.recycle_segments = 2;
  Log log;
  {
    auto wal = OpenOrDie(o);
    ASSERT_TRUE(wal);
    Writer w(*wal, log, 1);
    ASSERT_TRUE(w.Fill(3 * *o.segment_bytes).ok());
    ASSERT_TRUE(w.Ack().ok());
    ASSERT_TRUE(w.Checkpoint(wal->LastLsn()).ok());
    ASSERT_GE(wal->Stats().total.recycled_pool, 1u);
    ASSERT_TRUE(wal->Close().ok());
  }
  auto wal = OpenOrDie(o);
  ASSERT_TRUE(wal);
  std::uint64_t newest = 0;
  for (const SegOnDisk& seg : ListSegments(ShardDir(o, 0))) newest = std::max(newest, seg.seq);
  Writer w(*wal, log, 10'000'000);
  ASSERT_TRUE(w.Fill(kFirstSegmentBytes + kFirstSegmentBytes / 2).ok());
  ASSERT_TRUE(w.Ack().ok());
  std::vector<SegOnDisk> started;
  for (const SegOnDisk& seg : ListSegments(ShardDir(o, 0))) {
    if (seg.seq > newest) started.push_back(seg);
  }
  ASSERT_EQ(started.size(), 1u) << "the recycled first segment rotated early, at the short first-segment size";
  EXPECT_EQ(started[0].size, o.segment_bytes) << started[0].path;
  ASSERT_TRUE(wal->Close().ok());
  auto reopened = OpenOrDie(o);
  ASSERT_TRUE(reopened);
  EXPECT_EQ(CheckRecovered(*reopened, log), "");
}

TEST(Recycling, ManyRecycledSegmentsReplayExactlyAfterCleanClose) {
  TempDir dir;
  Options o = LifeOptions(dir.path(), 2);
  o.recycle_segments = 2;
  Log log;
  std::uint64_t recycled_seen = 0;
  std::set<std::string> counted;
  {
    auto wal = OpenOrDie(o);
    ASSERT_TRUE(wal);
    Writer w(*wal, log, 1);
    for (int round = 0; round < 8; ++round) {
      ASSERT_TRUE(w.Fill(kSeg * 3 / 2).ok());
      ASSERT_TRUE(w.Ack().ok());
      // Not at a segment boundary: some retained segment straddles it.
      ASSERT_TRUE(w.Checkpoint(wal->LastLsn() - 7).ok());
      for (std::uint32_t s = 0; s < 2; ++s) {
        for (const auto& seg : ListSegments(ShardDir(o, s))) {
          if (seg.header_ok && (seg.header.flags & format::kSegmentRecycled) &&
              counted.insert(seg.path + "#" + std::to_string(seg.header.first_lsn)).second) {
            ++recycled_seen;
          }
        }
      }
    }
    EXPECT_EQ(wal->Stats().checkpoint_lsn, log.ckpt);
    ASSERT_TRUE(wal->Close().ok());
  }
  EXPECT_GE(recycled_seen, 6u) << "too few segments were recycled for the test to mean much";
  auto reader = LogReader::Open(o);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_EQ(CheckRecovered(**reader, log), "");
  EXPECT_TRUE((*reader)->report().anomalies.empty()) << (*reader)->report().Summary();
  auto wal = OpenOrDie(o);
  ASSERT_TRUE(wal);
  EXPECT_EQ(CheckRecovered(*wal, log), "");
  EXPECT_EQ(wal->recovery_report().checkpoint_lsn, log.ckpt);
}

// Every loss mode, pages persisted out of order and torn sectors included.
constexpr auto& kModes = testing::kAllLossModes;
const char* ModeName(Fi::LossMode m) { return testing::LossModeName(m); }

TEST(Recycling, RecycledSegmentsSurviveACrashAndPowerLossInEveryMode) {
  std::uint64_t recycled_before_crash = 0;
  for (Fi::LossMode mode : kModes) {
    for (std::uint64_t seed = 1; seed <= 3; ++seed) {
      const std::string where = std::string(ModeName(mode)) + " seed " + std::to_string(seed);
      SCOPED_TRACE(where);
      TempDir dir;
      auto fi = std::make_shared<Fi>();
      Options o = LifeOptions(dir.path(), 2, fi);
      o.recycle_segments = 2;
      Log log;
      auto wal = OpenOrDie(o);
      ASSERT_TRUE(wal);
      // A second thread checkpoints at the durable watermark while the
      // main thread appends, until the power fails.
      std::atomic<bool> stop{false};
      Log ckpts;
      std::thread checkpointer([&] {
        while (!stop.load()) {
          const Lsn d = wal->DurableLsn();
          if (d > kNoLsn) {
            const Status s = wal->Checkpoint(d);
            ckpts.Checkpointed(d, s);
            if (!s.ok()) return;
          }
          std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
      });
      Writer w(*wal, log, 1);
      // The main thread checkpoints too, after each group batch, so that
      // segments are released (and recycled) however the threads are
      // scheduled on a loaded machine.
      Log main_ckpts;
      const int rounds = 45 + static_cast<int>(Mix(seed) % 20);
      for (int r = 0; r < rounds; ++r) {
        const bool group = r % 4 == 3;
        if (!w.Batch(8, group ? Durability::kGroup : Durability::kNone).ok()) break;
        if (group) {
          const Lsn d = wal->DurableLsn();
          main_ckpts.Checkpointed(d, wal->Checkpoint(d));
        }
      }
      for (std::uint32_t s = 0; s < 2; ++s) {
        for (const auto& seg : ListSegments(ShardDir(o, s))) {
          if (seg.header_ok && (seg.header.flags & format::kSegmentRecycled)) ++recycled_before_crash;
        }
      }
      fi->Deactivate();  // the process dies here: nothing more reaches the disk
      // Appends may still succeed into the buffer; a group append finds out.
      for (int i = 0; i < 3; ++i) (void)w.One(i % 2, Durability::kGroup);
      stop = true;
      checkpointer.join();
      log.ckpt = std::max(ckpts.ckpt, main_ckpts.ckpt);
      log.maybe_ckpts = ckpts.maybe_ckpts;
      log.maybe_ckpts.insert(main_ckpts.maybe_ckpts.begin(), main_ckpts.maybe_ckpts.end());
      wal.reset();
      ASSERT_TRUE(fi->SimulatePowerLoss({mode, seed, true}).ok());
      wal = OpenOrDie(o);
      ASSERT_TRUE(wal);
      EXPECT_EQ(CheckRecovered(*wal, log), "") << wal->recovery_report().Summary();
      const Lsn acked = log.max_acked;
      Writer w2(*wal, log, 1'000'000);
      auto next = w2.One(0, Durability::kGroup);
      ASSERT_TRUE(next.ok()) << next.status().ToString();
      EXPECT_EQ(*next, wal->recovery_report().cut_lsn + 1);
      EXPECT_GT(*next, acked);
    }
  }
  EXPECT_GT(recycled_before_crash, 0u) << "no recycled segment was written before a crash";
}

// =========================================================================================
// 4. Retention
// =========================================================================================

// Per shard: the finished segments whose records are all <= c (on disk now).
std::vector<std::uint64_t> CheckpointedOnDisk(const std::string& dir, Lsn c) {
  const auto segs = ListSegments(dir);
  const SegOnDisk* cur = Current(segs);
  std::vector<std::uint64_t> out;
  for (const auto& s : segs) {
    if (s.header_ok && (cur == nullptr || s.seq != cur->seq) && s.records > 0 && s.last_lsn <= c) out.push_back(s.seq);
  }
  return out;
}

void RunRetention(void (*rule)(Options&), std::size_t expect_kept) {
  TempDir dir;
  Options o = LifeOptions(dir.path(), 2);
  rule(o);
  auto wal = OpenOrDie(o);
  ASSERT_TRUE(wal);
  Log log;
  Writer w(*wal, log, 1);
  ASSERT_TRUE(w.Fill(kSeg * 11 / 2).ok());
  ASSERT_TRUE(w.Ack().ok());
  std::vector<std::vector<std::uint64_t>> before;
  for (std::uint32_t s = 0; s < 2; ++s) {
    before.push_back(CheckpointedOnDisk(ShardDir(o, s), wal->LastLsn()));
    ASSERT_GT(before.back().size(), expect_kept) << "shard " << s;
  }
  ASSERT_TRUE(w.Checkpoint(wal->LastLsn()).ok());
  for (std::uint32_t s = 0; s < 2; ++s) {
    const auto kept = CheckpointedOnDisk(ShardDir(o, s), wal->LastLsn());
    // The newest ones are kept.
    const auto first_kept = before[s].end() - static_cast<std::ptrdiff_t>(expect_kept);
    const std::vector<std::uint64_t> newest(first_kept, before[s].end());
    EXPECT_EQ(kept, newest) << "shard " << s;
    EXPECT_EQ(wal->Stats().shards[s].segment_files, expect_kept + 1) << "shard " << s;
  }
  ASSERT_TRUE(wal->Close().ok());
  // Retained segments are read past, not replayed.
  wal = OpenOrDie(o);
  ASSERT_TRUE(wal);
  EXPECT_EQ(CheckRecovered(*wal, log), "");
  EXPECT_GT(wal->recovery_report().records_checkpointed, 0u);
}

TEST(Retention, RetainSegmentsKeepsTheNewestCheckpointedSegmentsPerShard) {
  RunRetention([](Options& o) { o.retain_segments = 2; }, 2);
}

TEST(Retention, RetainBytesKeepsTheNewestCheckpointedSegmentsThatFit) {
  // Finished preallocated segments count segment_bytes each.
  RunRetention([](Options& o) { o.retain_bytes = 3 * kSeg + kSeg / 2; }, 3);
}

// Regression (found by this test, fixed): nothing armed the age deadline
// after a Checkpoint - RetentionChore (which computes it) only ran when a
// rotation of a shard other than 0 poked it, so on a WAL that went quiet
// after the checkpoint, aged segments were never released.
TEST(Retention, RetainAgeKeepsYoungSegmentsAndReleasesThemLaterWithoutACheckpoint) {
  TempDir dir;
  Options o = LifeOptions(dir.path(), 2);
  o.retain_age = std::chrono::seconds(1);
  auto wal = OpenOrDie(o);
  ASSERT_TRUE(wal);
  Log log;
  Writer w(*wal, log, 1);
  ASSERT_TRUE(w.Fill(kSeg * 7 / 2).ok());
  ASSERT_TRUE(w.Ack().ok());
  const auto written = Clock::now();
  const Lsn c = wal->LastLsn();
  std::vector<std::vector<std::uint64_t>> before;
  for (std::uint32_t s = 0; s < 2; ++s) before.push_back(CheckpointedOnDisk(ShardDir(o, s), c));
  ASSERT_TRUE(w.Checkpoint(c).ok());
  const bool in_time = Clock::now() - written < std::chrono::milliseconds(800);
  for (std::uint32_t s = 0; s < 2; ++s) {
    ASSERT_GE(before[s].size(), 2u);
    if (in_time) {
      EXPECT_EQ(CheckpointedOnDisk(ShardDir(o, s), c), before[s]) << "shard " << s << ": released too young";
    }
  }
  // Released by the preparer's timed chore, with no further call.
  const bool released = WaitFor(
      [&] {
        return CheckpointedOnDisk(ShardDir(o, 0), c).empty() && CheckpointedOnDisk(ShardDir(o, 1), c).empty();
      },
      std::chrono::seconds(5));
  EXPECT_TRUE(released) << "checkpointed segments older than retain_age were never released";
  EXPECT_GE(Clock::now() - written, std::chrono::milliseconds(900)) << "released before retain_age passed";
  for (std::uint32_t s = 0; s < 2; ++s) EXPECT_EQ(wal->Stats().shards[s].segment_files, 1u) << "shard " << s;
  ASSERT_TRUE(wal->Close().ok());
  wal = OpenOrDie(o);
  ASSERT_TRUE(wal);
  EXPECT_EQ(CheckRecovered(*wal, log), "");
}

// A rotation can finish a segment whose records are all at or below the
// checkpoint (they were still buffered when Checkpoint ran): that pushes an
// older checkpointed segment out of a retain_segments window, and
// docs/operations.md says retention is re-applied "at every rotation".
// `shard` is the one that rotates; `shards` how many the WAL has.
void RotationReappliesRetention(std::uint32_t shards, std::uint32_t shard) {
  TempDir dir;
  Options o = LifeOptions(dir.path(), shards);
  o.retain_segments = 1;
  o.max_batch_delay = std::chrono::seconds(2);  // kNone records stay buffered until someone waits
  auto wal = OpenOrDie(o);
  ASSERT_TRUE(wal);
  Log log;
  Writer w(*wal, log, 1);
  const std::string sdir = ShardDir(o, shard);
  // Three segments, then the current one filled to just under 3200 bytes
  // free: a 3.7 KB batch will not fit.
  for (int i = 0; i < 3 * 150; ++i) ASSERT_TRUE(w.One(shard, Durability::kNone, false, 400).ok());
  ASSERT_TRUE(w.Ack().ok());
  for (;;) {
    const auto segs = ListSegments(sdir);
    const SegOnDisk* cur = Current(segs);
    ASSERT_NE(cur, nullptr);
    if (kSeg - cur->data_end < 3200) break;
    ASSERT_TRUE(w.One(shard, Durability::kGroup, false, 400).ok());
  }
  const auto segs = ListSegments(sdir);
  const std::uint64_t n = Current(segs)->seq;
  ASSERT_GE(n, 3u);
  // Buffered, not yet written: 7 records of 534 bytes.
  for (int i = 0; i < 7; ++i) ASSERT_TRUE(w.One(shard, Durability::kNone, false, 500).ok());
  ASSERT_TRUE(w.Checkpoint(wal->LastLsn()).ok());
  // Segment n is still being written: n - 1 is the newest checkpointed one.
  auto seqs = Seqs(ListSegments(sdir));
  ASSERT_TRUE(seqs.count(n - 1)) << "retain_segments=1 released the newest checkpointed segment";
  ASSERT_FALSE(seqs.count(n - 2)) << "retain_segments=1 kept two checkpointed segments";
  // Writing the buffer rotates: n is finished, all of it <= the checkpoint.
  ASSERT_TRUE(w.Ack().ok());
  ASSERT_TRUE(Seqs(ListSegments(sdir)).count(n + 1)) << "the buffered batch did not rotate";
  const bool released = WaitFor([&] { return !Seqs(ListSegments(sdir)).count(n - 1); }, std::chrono::seconds(3));
  EXPECT_TRUE(released) << "shard " << shard << " of " << shards << ": after the rotation finished segment " << n
                        << " (all <= checkpoint " << log.ckpt << "), segment " << n - 1
                        << " is a second checkpointed segment under retain_segments=1 but was not released";
  ASSERT_TRUE(wal->Close().ok());
}

TEST(Retention, RotationOfAnotherShardThanShardZeroReappliesRetention) { RotationReappliesRetention(2, 1); }

// Regression (found by this test, fixed): a rotation of shard 0 poked its
// preparer without the retention chore (shards 1.. did run it), so with one
// shard retention was re-applied only by the next Checkpoint.
TEST(Retention, RotationOfShardZeroReappliesRetention) { RotationReappliesRetention(1, 0); }

// =========================================================================================
// 5. max_wal_bytes
// =========================================================================================

TEST(SizeCap, OpenRejectsACapBelowTwoSegmentsPerShard) {
  TempDir dir;
  Options o = LifeOptions(dir.path(), 2);
  o.max_wal_bytes = 2 * kSeg * 2 - 1;
  auto w = Wal::Open(o);
  ASSERT_FALSE(w.ok());
  EXPECT_TRUE(w.status().IsInvalidArgument()) << w.status().ToString();
  EXPECT_TRUE(Contains(w.status(), "max_wal_bytes")) << w.status().ToString();
  o.max_wal_bytes = 2 * kSeg * 2;
  auto ok = Wal::Open(o);
  EXPECT_TRUE(ok.ok()) << ok.status().ToString();
}

Options CapOptions(const std::string& dir) {
  Options o = LifeOptions(dir, 2);
  o.max_wal_bytes = 2 * 3 * kSeg;
  o.max_buffered_bytes = 16u << 10;
  o.backpressure_timeout = std::chrono::milliseconds(20);
  return o;
}

// TryAppend kNone records on every shard until one keeps failing with the
// cap's Backpressure (the preparer may hit the cap while the shard still has
// room in its current segment: that one drains); returns that status (OK if
// it never came).
Status AppendUntilCapped(Writer& w) {
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  std::vector<int> capped(w.shards(), 0);
  while (Clock::now() < deadline) {
    for (std::uint32_t s = 0; s < w.shards(); ++s) {
      auto r = w.One(s, Durability::kNone, /*try_append=*/true);
      if (r.ok()) {
        capped[s] = 0;
        continue;
      }
      if (!r.status().IsBackpressure()) return r.status();
      if (Contains(r.status(), "max_wal_bytes") && ++capped[s] == 50) return r.status();
      std::this_thread::sleep_for(std::chrono::milliseconds(1));  // the flush thread is behind
    }
  }
  return Status::OK();
}

TEST(SizeCap, AppendsStopAtTheCapUntilACheckpointFreesRoom) {
  TempDir dir;
  const Options o = CapOptions(dir.path());
  auto wal = OpenOrDie(o);
  ASSERT_TRUE(wal);
  Log log;
  Writer w(*wal, log, 1);
  const Status capped = AppendUntilCapped(w);
  ASSERT_TRUE(capped.IsBackpressure()) << "never reached the cap: " << capped.ToString();
  EXPECT_TRUE(Contains(capped, "max_wal_bytes")) << capped.ToString();
  EXPECT_TRUE(Contains(capped, "Checkpoint")) << capped.ToString();
  EXPECT_LE(wal->Stats().wal_bytes, o.max_wal_bytes);
  // Still capped a moment later: nothing frees room by itself.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  bool still = false;
  for (int i = 0; i < 50 && !still; ++i) {
    for (std::uint32_t s = 0; s < 2 && !still; ++s) {
      auto r = w.One(s, Durability::kNone, true);
      still = !r.ok() && Contains(r.status(), "max_wal_bytes");
    }
  }
  EXPECT_TRUE(still);

  const std::uint64_t used = wal->Stats().wal_bytes;
  ASSERT_TRUE(w.Checkpoint(wal->LastLsn()).ok());
  EXPECT_LT(wal->Stats().wal_bytes, used);
  // Appends proceed: another segment's worth per shard goes through.
  std::vector<std::uint64_t> bytes(2, 0);
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  Status last_failure;
  while ((bytes[0] < kSeg || bytes[1] < kSeg) && Clock::now() < deadline) {
    for (std::uint32_t s = 0; s < 2; ++s) {
      auto r = w.One(s, Durability::kNone, true);
      if (r.ok()) {
        bytes[s] += log.at[*r].size;
        continue;
      }
      last_failure = r.status();
      ASSERT_FALSE(Contains(r.status(), "max_wal_bytes"))
          << "still capped after the checkpoint: " << r.status().ToString();
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  ASSERT_TRUE(bytes[0] >= kSeg && bytes[1] >= kSeg) << last_failure.ToString();
  ASSERT_TRUE(w.Ack().ok());
  ASSERT_TRUE(wal->Close().ok());
  log.max_acked = log.last();
  wal = OpenOrDie(o);
  ASSERT_TRUE(wal);
  EXPECT_EQ(CheckRecovered(*wal, log), "");
}

TEST(SizeCap, CloseWhileCappedWritesEverythingAccepted) {
  TempDir dir;
  const Options o = CapOptions(dir.path());
  auto wal = OpenOrDie(o);
  ASSERT_TRUE(wal);
  Log log;
  Writer w(*wal, log, 1);
  const Status capped = AppendUntilCapped(w);
  ASSERT_TRUE(capped.IsBackpressure()) << "never reached the cap: " << capped.ToString();
  ASSERT_TRUE(wal->Close().ok());
  log.max_acked = log.last();  // Close wrote and synced everything accepted
  auto reader = LogReader::Open(o);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_EQ(CheckRecovered(**reader, log), "");
}

// Runs `f` on its own thread and waits up to `limit` for it. On a timeout
// the thread is left behind (detached, still blocked) and false returned:
// the caller must then leak whatever the thread uses.
bool FinishesWithin(std::function<void()> f, std::chrono::seconds limit) {
  auto done = std::make_shared<std::promise<void>>();
  std::future<void> fut = done->get_future();
  std::thread([f = std::move(f), done] {
    f();
    done->set_value();
  }).detach();
  return fut.wait_for(limit) == std::future_status::ready;
}

// Regression (found by this test, fixed): a shard whose flush thread waited
// in SegmentSet::TakeNext for room under max_wal_bytes was never woken when
// the WAL failed meanwhile (an I/O error on another shard): the failure
// halted the preparers, so TakeNext waited forever and Close never returned.
// The failure now reaches TakeNext (SegmentSet::Fail).
TEST(SizeCap, CloseOfAWalThatFailedWhileCappedReturns) {
  TempDir dir;
  auto fi = std::make_shared<Fi>();
  Options o = CapOptions(dir.path());
  o.file_system = fi;
  o.max_wal_bytes = 2 * 2 * kSeg;  // the smallest cap: each shard gets two segments
  auto wal = OpenOrDie(o);
  ASSERT_TRUE(wal);
  Log log;
  Writer w(*wal, log, 1);
  ASSERT_TRUE(w.One(1, Durability::kGroup).ok());
  // Shard 0 alone until it waits for room.
  Status capped;
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  for (int streak = 0; streak < 50 && Clock::now() < deadline;) {
    auto r = w.One(0, Durability::kNone, /*try_append=*/true);
    if (r.ok()) {
      streak = 0;
      continue;
    }
    ASSERT_TRUE(r.status().IsBackpressure()) << r.status().ToString();
    if (Contains(r.status(), "max_wal_bytes")) {
      capped = r.status();
      ++streak;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_TRUE(Contains(capped, "max_wal_bytes")) << "shard 0 never waited for room: " << capped.ToString();
  // Shard 1 fails.
  fi->InjectFault(Op::kSync, 1, EIO, "/shard-1/", /*sticky=*/true);
  auto r = w.One(1, Durability::kGroup);
  ASSERT_FALSE(r.ok());
  ASSERT_FALSE(wal->health().ok());
  Wal* raw = wal.get();
  const bool closed = FinishesWithin([raw] { (void)raw->Close(); }, std::chrono::seconds(5));
  EXPECT_TRUE(closed) << "Close() of a WAL that failed while shard 0 waited for room under max_wal_bytes did not "
                         "return within 5 s (shard 0's flush thread is stuck in SegmentSet::TakeNext)";
  if (!closed) {
    (void)wal.release();  // still in use by the stuck Close: leaked on purpose
    return;
  }
  fi->ClearFaults();
  wal.reset();
  wal = OpenOrDie(o);
  ASSERT_TRUE(wal);
  EXPECT_EQ(CheckRecovered(*wal, log), "");
}

// Regression (found by this test, fixed): a WAL that Close left at (or, as
// documented, one segment per shard past) max_wal_bytes could not be opened
// again with the same options: Open's first segment per shard hit the cap,
// so the application could not open it to Checkpoint. Open's first segment
// may now exceed the cap, like Close's last.
TEST(SizeCap, AWalClosedAtTheCapOpensAgainAndACheckpointFreesRoom) {
  TempDir dir;
  const Options o = CapOptions(dir.path());
  Log log;
  {
    auto wal = OpenOrDie(o);
    ASSERT_TRUE(wal);
    Writer w(*wal, log, 1);
    const Status capped = AppendUntilCapped(w);
    ASSERT_TRUE(capped.IsBackpressure()) << "never reached the cap: " << capped.ToString();
    ASSERT_TRUE(wal->Close().ok());
    log.max_acked = log.last();
  }
  auto wal = Wal::Open(o);
  ASSERT_TRUE(wal.ok()) << "reopening a WAL at its cap: " << wal.status().ToString();
  EXPECT_EQ(CheckRecovered(**wal, log), "");
  Writer w(**wal, log, 1'000'000);
  ASSERT_TRUE(w.Checkpoint((*wal)->LastLsn()).ok());
  ASSERT_TRUE(w.Fill(kSeg).ok());
  ASSERT_TRUE(w.Ack().ok());
}

// =========================================================================================
// 6. Disk full
// =========================================================================================

TEST(DiskFull, EnospcPreparingTheFirstSegmentFailsOpenAndALaterOpenWorks) {
  TempDir dir;
  auto fi = std::make_shared<Fi>();
  const Options o = LifeOptions(dir.path(), 2, fi);
  fi->InjectFault(Op::kAllocate, 1, ENOSPC, "shard0000-", /*sticky=*/true);
  auto w = Wal::Open(o);
  ASSERT_FALSE(w.ok());
  EXPECT_TRUE(w.status().IsIOError()) << w.status().ToString();
  EXPECT_EQ(w.status().sys_errno(), ENOSPC) << w.status().ToString();
  EXPECT_TRUE(Contains(w.status(), "shard0000-000000000001.wal")) << w.status().ToString();
  EXPECT_TRUE(Contains(w.status(), "shard 0")) << w.status().ToString();
  fi->ClearFaults();
  Log log;
  {
    auto wal = OpenOrDie(o);
    ASSERT_TRUE(wal);
    Writer wr(*wal, log, 1);
    ASSERT_TRUE(wr.Batch(4, Durability::kGroup).ok());
    ASSERT_TRUE(wal->Close().ok());
  }
  auto wal = OpenOrDie(o);
  ASSERT_TRUE(wal);
  EXPECT_EQ(CheckRecovered(*wal, log), "");
}

TEST(DiskFull, EnospcPreparingTheNextSegmentFailsTheWalAndLosesNothingAcknowledged) {
  TempDir dir;
  auto fi = std::make_shared<Fi>();
  const Options o = LifeOptions(dir.path(), 2, fi);
  Log log;
  auto wal = OpenOrDie(o);
  ASSERT_TRUE(wal);
  Writer w(*wal, log, 1);
  ASSERT_TRUE(w.Batch(2, Durability::kGroup).ok());  // rotates into segment 1; segment 2 gets prepared
  ASSERT_TRUE(WaitFor([&] { return stdfs::exists(ShardDir(o, 0) + "/" + format::SegmentFileName(0, 2)); },
                      std::chrono::seconds(5)));
  const std::string third = format::SegmentFileName(0, 3);
  fi->InjectFault(Op::kAllocate, 1, ENOSPC, third, /*sticky=*/true);
  fi->InjectFault(Op::kWrite, 1, ENOSPC, third, /*sticky=*/true);
  Status failure;
  for (int i = 0; i < 200 && failure.ok(); ++i) failure = w.Batch(8, Durability::kGroup);
  ASSERT_FALSE(failure.ok()) << "three segments filled without segment 3";
  EXPECT_TRUE(failure.IsIOError()) << failure.ToString();
  EXPECT_EQ(failure.sys_errno(), ENOSPC) << failure.ToString();
  EXPECT_TRUE(Contains(failure, third)) << failure.ToString();
  EXPECT_TRUE(Contains(failure, "shard 0")) << failure.ToString();
  EXPECT_EQ(wal->health().sys_errno(), ENOSPC) << wal->health().ToString();
  EXPECT_FALSE(w.Batch(1, Durability::kNone).ok());
  EXPECT_FALSE(wal->Close().ok());
  wal.reset();
  fi->ClearFaults();
  wal = OpenOrDie(o);
  ASSERT_TRUE(wal);
  EXPECT_EQ(CheckRecovered(*wal, log), "") << wal->recovery_report().Summary();
  const Lsn acked = log.max_acked;
  Writer w2(*wal, log, 1'000'000);
  auto next = w2.One(0, Durability::kGroup);
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_EQ(*next, wal->recovery_report().cut_lsn + 1);
  EXPECT_GT(*next, acked);
}

// =========================================================================================
// 7. MANIFEST and directories
// =========================================================================================

std::string WalIdOf(const std::string& dir) {
  std::smatch m;
  const std::string text = ReadText(dir + "/MANIFEST");
  return std::regex_search(text, m, std::regex("\"wal_id\":\\s*\"([0-9a-f]{32})\"")) ? m[1].str() : "";
}

TEST(Directories, ShardDirectoryOfAnotherWalIsRefusedNamingBoth) {
  TempDir a, b;
  Log log_a, log_b;
  for (auto [d, log] : {std::pair{&a, &log_a}, std::pair{&b, &log_b}}) {
    auto wal = OpenOrDie(LifeOptions(d->path(), 2));
    ASSERT_TRUE(wal);
    Writer w(*wal, *log, 1);
    ASSERT_TRUE(w.Batch(3, Durability::kGroup).ok());
    ASSERT_TRUE(wal->Close().ok());
  }
  const std::string id_a = WalIdOf(a.path());
  ASSERT_EQ(id_a.size(), 32u);
  Options mixed = LifeOptions(b.path(), 2);
  mixed.shard_dirs = {b.path() + "/shard-0", a.path() + "/shard-1"};
  auto w = Wal::Open(mixed);
  ASSERT_FALSE(w.ok());
  EXPECT_TRUE(w.status().IsInvalidArgument()) << w.status().ToString();
  EXPECT_TRUE(Contains(w.status(), a.path() + "/shard-1")) << w.status().ToString();
  EXPECT_TRUE(Contains(w.status(), id_a)) << w.status().ToString();
  // Neither WAL was harmed.
  for (auto [d, log] : {std::pair{&a, &log_a}, std::pair{&b, &log_b}}) {
    auto wal = OpenOrDie(LifeOptions(d->path(), 2));
    ASSERT_TRUE(wal);
    EXPECT_EQ(CheckRecovered(*wal, *log), "") << d->path();
  }
}

TEST(Directories, SwappedShardDirectoriesAreRefused) {
  TempDir d;
  Options o = LifeOptions(d.path(), 2);
  {
    auto wal = OpenOrDie(o);
    ASSERT_TRUE(wal);
    ASSERT_TRUE(wal->Append("a", "x").ok());
  }
  o.shard_dirs = {d.Sub("shard-1"), d.Sub("shard-0")};
  auto w = Wal::Open(o);
  ASSERT_FALSE(w.ok());
  EXPECT_TRUE(w.status().IsInvalidArgument()) << w.status().ToString();
  EXPECT_TRUE(Contains(w.status(), "swapped")) << w.status().ToString();
}

TEST(Directories, NewWalOverSegmentsWithoutAManifestIsCorruption) {
  TempDir a, c;
  {
    auto wal = OpenOrDie(LifeOptions(a.path(), 2));
    ASSERT_TRUE(wal);
    ASSERT_TRUE(wal->Append("a", "x").ok());
  }
  Options o = LifeOptions(c.path(), 2);
  o.shard_dirs = {c.Sub("shard-0"), a.path() + "/shard-1"};
  auto w = Wal::Open(o);
  ASSERT_FALSE(w.ok());
  EXPECT_TRUE(w.status().IsCorruption()) << w.status().ToString();
  EXPECT_TRUE(Contains(w.status(), a.path() + "/shard-1")) << w.status().ToString();
  // The same WAL directory whose MANIFEST was lost.
  stdfs::remove(a.path() + "/MANIFEST");
  auto again = Wal::Open(LifeOptions(a.path(), 2));
  ASSERT_FALSE(again.ok());
  EXPECT_TRUE(again.status().IsCorruption()) << again.status().ToString();
}

TEST(Directories, ManifestRecordsTheCheckpointAndFirstSegments) {
  TempDir d;
  const Options o = LifeOptions(d.path(), 2);
  auto wal = OpenOrDie(o);
  ASSERT_TRUE(wal);
  Log log;
  Writer w(*wal, log, 1);
  ASSERT_TRUE(w.Fill(kSeg * 7 / 2).ok());
  ASSERT_TRUE(w.Ack().ok());
  const Lsn c = wal->LastLsn() / 2;
  ASSERT_TRUE(w.Checkpoint(c).ok());
  const std::string text = ReadText(d.path() + "/MANIFEST");
  for (const char* key : {"\"checkpoint_lsn\"", "\"shard_count\"", "\"wal_id\"", "\"first_segment\""}) {
    EXPECT_TRUE(Contains(text, key)) << key << " missing from\n" << text;
  }
  std::smatch m;
  ASSERT_TRUE(std::regex_search(text, m, std::regex("\"checkpoint_lsn\":\\s*(\\d+)"))) << text;
  EXPECT_EQ(std::stoull(m[1].str()), c);
  // "shards" names each shard directory (relative) with its lowest segment
  // still held (first_segment).
  for (std::uint32_t s = 0; s < 2; ++s) {
    const auto segs = ListSegments(ShardDir(o, s));
    ASSERT_FALSE(segs.empty());
    ASSERT_TRUE(std::regex_search(
        text, m, std::regex("\"shard-" + std::to_string(s) + "\":\\s*\\{[^}]*\"first_segment\":\\s*(\\d+)")))
        << "no first_segment entry for shard-" << s << " in\n" << text;
    EXPECT_EQ(std::stoull(m[1].str()), segs.front().seq) << "shard " << s;
    EXPECT_GT(segs.front().seq, 1u) << "shard " << s;
  }
  ASSERT_TRUE(wal->Close().ok());
}

// =========================================================================================
// 8. Crash at every step
// =========================================================================================

// Waits until the WAL's background work (the preparer) has stopped touching
// the file system.
void Quiesce(const Fi& fi) {
  std::uint64_t last = fi.mutating_op_count();
  int still = 0;
  const auto deadline = Clock::now() + std::chrono::seconds(2);
  while (still < 10 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    const std::uint64_t now = fi.mutating_op_count();
    still = now == last ? still + 1 : 0;
    last = now;
  }
}

struct CrashCase {
  std::string name;
  std::uint32_t shards = 2;
  Preallocation preallocation = Preallocation::kZeroFill;
  std::uint32_t recycle = 0;
  // On a fresh WAL (POSIX file system), closed afterwards: the state every
  // run starts from (copied).
  std::function<void(Wal&, Writer&)> golden;
  // After Open, before the crash point is armed.
  std::function<void(Wal&, Writer&)> setup;
  // Under the crash point. Must stop at the first failure.
  std::function<void(Wal&, Writer&)> scenario;
  // After a successful check: more work on the recovered WAL (optional).
  std::function<std::string(Wal&, Writer&, const Options&, Log&)> after;
  // On the count run, right after the scenario: did it do what it is meant
  // to (cross a boundary, recycle, release)? "" if so.
  std::function<std::string(Wal&, const Options&)> did_it;
  bool every_k = false;
  std::uint64_t max_runs = 80;
};

Options CaseOptions(const CrashCase& cc, const std::string& dir, std::shared_ptr<FileSystem> fs) {
  Options o = LifeOptions(dir, cc.shards, std::move(fs));
  o.preallocation = cc.preallocation;
  o.recycle_segments = cc.recycle;
  return o;
}

// Group batches until about `bytes` per shard were appended, stopping at the
// first failure.
void GroupBytes(Writer& w, std::uint64_t bytes) {
  constexpr std::uint32_t kPerShard = 8;  // ~3.7 KB per shard and batch
  for (std::uint64_t done = 0; done < bytes; done += kPerShard * 470) {
    if (!w.Batch(kPerShard, Durability::kGroup).ok()) return;
  }
}

struct RunResult {
  std::uint64_t ops = 0;  // mutating operations the scenario did
  std::string error;      // "" if every check passed
};

RunResult RunCrashCase(const CrashCase& cc, const std::string& golden_dir, const Log& golden_log,
                       std::optional<std::uint64_t> crash_after, std::uint64_t run) {
  RunResult res;
  TempDir dir;
  std::error_code ec;
  stdfs::copy(golden_dir, dir.path(), stdfs::copy_options::recursive | stdfs::copy_options::overwrite_existing, ec);
  if (ec) return {0, "copying the starting state: " + ec.message()};
  auto fi = std::make_shared<Fi>();
  const Options o = CaseOptions(cc, dir.path(), fi);
  Log log = golden_log;
  {
    auto wal = Wal::Open(o);
    if (!wal.ok()) return {0, "opening the starting state: " + wal.status().ToString()};
    Writer w(**wal, log, (run + 1) * 10'000'000);
    cc.setup(**wal, w);
    if (!(*wal)->health().ok()) return {0, "setup failed: " + (*wal)->health().ToString()};
    Quiesce(*fi);
    const std::uint64_t base = fi->mutating_op_count();
    if (crash_after) fi->CrashAfter(*crash_after);
    cc.scenario(**wal, w);
    res.ops = fi->mutating_op_count() - base;
    if (!crash_after && cc.did_it) {
      Quiesce(*fi);
      if (std::string e = cc.did_it(**wal, o); !e.empty()) return {res.ops, "the scenario missed its point: " + e};
    }
    fi->Deactivate();  // the process dies: whatever it does from here on fails
  }                    // (and is destroyed without a clean Close)
  // Every loss mode and directory-entry policy in turn.
  const Fi::PowerLossOptions loss = testing::CyclingPowerLoss(static_cast<std::uint64_t>(run), 1000 + run);
  if (Status s = fi->SimulatePowerLoss(loss); !s.ok()) {
    res.error = "power loss: " + s.ToString();
    return res;
  }
  const std::string how = " (" + testing::DescribePowerLoss(loss) + ")";
  auto wal = Wal::Open(o);
  if (!wal.ok()) {
    res.error = "reopen failed" + how + ": " + wal.status().ToString();
    return res;
  }
  res.error = CheckRecovered(**wal, log);
  if (!res.error.empty()) {
    res.error += how + "\n" + (*wal)->recovery_report().Summary();
    return res;
  }
  Writer w(**wal, log, (run + 1) * 10'000'000 + 5'000'000);
  const Lsn cut = (*wal)->recovery_report().cut_lsn;
  const Lsn acked = log.max_acked;
  auto next = w.One(0, Durability::kGroup);
  if (!next.ok()) {
    res.error = "append after recovery" + how + ": " + next.status().ToString();
  } else if (*next != cut + 1 || *next <= acked || *next <= log.ckpt) {
    res.error = "append after recovery got LSN " + std::to_string(*next) + " (cut " + std::to_string(cut) +
                ", acknowledged " + std::to_string(acked) + ")" + how;
  } else if (cc.after) {
    res.error = cc.after(**wal, w, o, log);
    if (!res.error.empty()) res.error += how;
  }
  return res;
}

void RunCrashMatrix(const CrashCase& cc) {
  const auto t0 = Clock::now();
  TempDir golden;
  Log golden_log;
  {
    const Options o = CaseOptions(cc, golden.path(), nullptr);
    auto wal = OpenOrDie(o);
    ASSERT_TRUE(wal);
    Writer w(*wal, golden_log, 1);
    cc.golden(*wal, w);
    ASSERT_TRUE(wal->health().ok()) << wal->health().ToString();
    ASSERT_TRUE(wal->Close().ok());
    golden_log.max_acked = golden_log.last();
  }
  // The count run: no crash point (the process dies after the scenario).
  const RunResult counted = RunCrashCase(cc, golden.path(), golden_log, std::nullopt, 0);
  ASSERT_EQ(counted.error, "") << cc.name << ", crash after the whole scenario";
  const std::uint64_t n = counted.ops;
  ASSERT_GT(n, 0u) << cc.name << ": the scenario did nothing";
  // Without tmpfs every run pays real fdatasyncs: sample fewer crash points
  // (the checkpoint cases still take every one).
  const std::uint64_t max_runs = golden.fast() ? cc.max_runs : std::min<std::uint64_t>(cc.max_runs, 16);
  std::uint64_t stride = 1;
  if (!cc.every_k && n + 2 > max_runs) stride = (n + 2 + max_runs - 1) / max_runs;
  std::vector<std::string> failures;
  std::uint64_t runs = 0;
  for (std::uint64_t k = 0; k <= n + 1; k += stride) {
    const RunResult r = RunCrashCase(cc, golden.path(), golden_log, k, ++runs);
    if (!r.error.empty()) {
      failures.push_back("crash after " + std::to_string(k) + " of " + std::to_string(n) + " ops: " + r.error);
    }
  }
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf("[ lifecycle ] %s: %llu mutating ops, %llu crash points (stride %llu), %zu failed, %.2f s\n",
              cc.name.c_str(), static_cast<unsigned long long>(n), static_cast<unsigned long long>(runs),
              static_cast<unsigned long long>(stride), failures.size(), secs);
  for (std::size_t i = 0; i < failures.size() && i < 5; ++i) ADD_FAILURE() << cc.name << ": " << failures[i];
  EXPECT_TRUE(failures.empty()) << cc.name << ": " << failures.size() << " of " << runs << " crash points failed";
}

// For did_it: every shard started `segments` segments since Open, and the
// one it writes now has (or lacks) the recycled flag.
std::string Rotated(Wal& wal, const Options& o, std::uint64_t segments, std::optional<bool> recycled) {
  const WalStats st = wal.Stats();
  for (std::uint32_t s = 0; s < wal.num_shards(); ++s) {
    if (st.shards[s].segments != segments) {
      return "shard " + std::to_string(s) + " started " + std::to_string(st.shards[s].segments) + " segments, not " +
             std::to_string(segments);
    }
    const auto segs = ListSegments(ShardDir(o, s));
    const SegOnDisk* cur = Current(segs);
    if (cur == nullptr) return "shard " + std::to_string(s) + " has no current segment";
    if (recycled && ((cur->header.flags & format::kSegmentRecycled) != 0) != *recycled) {
      return cur->path + (*recycled ? " is not" : " is") + " a recycled segment";
    }
  }
  return "";
}

// Leaves each shard's current segment with about `room` bytes to go.
void FillCurrentSegment(Writer& w, std::uint64_t room) {
  ASSERT_TRUE(w.Fill(kSeg - room).ok());
  ASSERT_TRUE(w.Ack().ok());
}

// After a crash in a checkpoint: the leftovers (pooled or half-deleted
// files, an unfinished MANIFEST.tmp) must not disturb the next rotations,
// checkpoints and reopens.
std::string ContinueAfterRecovery(Wal& wal, Writer& w, const Options& o, Log& log) {
  if (!w.Fill(kSeg * 5 / 2).ok() || !w.Ack().ok()) return "appending after recovery: " + wal.health().ToString();
  const Lsn c = wal.LastLsn() - 3;
  if (Status s = w.Checkpoint(c); !s.ok()) return "checkpoint after recovery: " + s.ToString();
  if (Status s = wal.Close(); !s.ok()) return "close after recovery: " + s.ToString();
  auto again = Wal::Open(o);
  if (!again.ok()) return "second reopen: " + again.status().ToString();
  std::string e = CheckRecovered(**again, log);
  return e.empty() ? "" : "second reopen: " + e;
}

// (a) Rotation: group appends cross a segment boundary (the seal, its sync,
// the new header over a zero-filled file) while the preparer zero-fills the
// segment after it.
TEST(CrashAtEveryStep, RotationIntoAZeroFilledSegment) {
  CrashCase cc;
  cc.name = "rotation into a zero-filled segment";
  cc.golden = [](Wal&, Writer& w) { ASSERT_TRUE(w.Batch(10, Durability::kGroup).ok()); };
  cc.setup = [](Wal&, Writer& w) { FillCurrentSegment(w, kSeg / 4); };
  cc.scenario = [](Wal&, Writer& w) { GroupBytes(w, kSeg / 4 + 8 * 1024); };
  cc.did_it = [](Wal& wal, const Options& o) { return Rotated(wal, o, 2, false); };
  RunCrashMatrix(cc);
}

TEST(CrashAtEveryStep, RotationWithoutPreallocation) {
  CrashCase cc;
  cc.name = "rotation, preallocation none";
  cc.preallocation = Preallocation::kNone;
  cc.golden = [](Wal&, Writer& w) { ASSERT_TRUE(w.Batch(10, Durability::kGroup).ok()); };
  cc.setup = [](Wal&, Writer& w) { FillCurrentSegment(w, kSeg / 4); };
  cc.scenario = [](Wal&, Writer& w) { GroupBytes(w, kSeg / 4 + 8 * 1024); };
  cc.max_runs = 40;
  cc.did_it = [](Wal& wal, const Options& o) { return Rotated(wal, o, 2, false); };
  RunCrashMatrix(cc);
}

// (a) Rotation into a recycled segment: the new header and batches go over
// the stale bytes of a released segment; the preparer then has to create a
// fresh one (the pool is empty).
TEST(CrashAtEveryStep, RotationIntoARecycledSegment) {
  CrashCase cc;
  cc.name = "rotation into a recycled segment";
  cc.recycle = 2;
  cc.golden = [](Wal& wal, Writer& w) {
    ASSERT_TRUE(w.Fill(kSeg * 7 / 2).ok());
    ASSERT_TRUE(w.Ack().ok());
    ASSERT_TRUE(w.Checkpoint(wal.LastLsn() - 20).ok());  // two pooled segments per shard
  };
  // Open recycled the first pooled file; the first rotation took it and the
  // preparer recycled the second, which the scenario rotates into.
  cc.setup = [](Wal&, Writer& w) { FillCurrentSegment(w, kSeg / 4); };
  cc.scenario = [](Wal&, Writer& w) { GroupBytes(w, kSeg / 4 + 8 * 1024); };
  cc.after = ContinueAfterRecovery;
  cc.did_it = [](Wal& wal, const Options& o) { return Rotated(wal, o, 2, true); };
  RunCrashMatrix(cc);
}

// (b) Checkpoint: the MANIFEST (temp file, write, sync, rename, directory
// sync), then the releases (pooled or deleted, directory synced), then a few
// more appends.
TEST(CrashAtEveryStep, CheckpointPoolingAndDeleting) {
  CrashCase cc;
  cc.name = "checkpoint, recycle 1";
  cc.recycle = 1;
  cc.every_k = true;
  cc.setup = [](Wal&, Writer& w) { ASSERT_TRUE(w.Batch(2, Durability::kGroup).ok()); };
  // The checkpoint LSN: 60% into the golden records, which releases two or
  // three segments per shard.
  auto golden_last = std::make_shared<Lsn>(0);
  cc.golden = [golden_last](Wal& wal, Writer& w) {
    ASSERT_TRUE(w.Fill(kSeg * 9 / 2).ok());
    *golden_last = wal.LastLsn();
  };
  cc.scenario = [golden_last](Wal&, Writer& w) {
    if (!w.Checkpoint(*golden_last * 3 / 5).ok()) return;
    for (int i = 0; i < 2; ++i) {
      if (!w.Batch(2, Durability::kGroup).ok()) return;
    }
  };
  cc.after = ContinueAfterRecovery;
  cc.did_it = [golden_last](Wal& wal, const Options&) -> std::string {
    const WalStats st = wal.Stats();
    if (st.checkpoint_lsn != *golden_last * 3 / 5) return "checkpoint_lsn " + std::to_string(st.checkpoint_lsn);
    for (const auto& sh : st.shards) {
      if (sh.recycled_pool != 1) return "a shard pooled " + std::to_string(sh.recycled_pool) + " segments";
    }
    return "";
  };
  RunCrashMatrix(cc);
}

TEST(CrashAtEveryStep, CheckpointOfEverythingDeleting) {
  CrashCase cc;
  cc.name = "checkpoint of everything, recycle 0";
  cc.recycle = 0;
  cc.every_k = true;
  cc.golden = [](Wal&, Writer& w) { ASSERT_TRUE(w.Fill(kSeg * 9 / 2).ok()); };
  cc.setup = [](Wal&, Writer& w) { ASSERT_TRUE(w.Batch(2, Durability::kGroup).ok()); };
  cc.scenario = [](Wal& wal, Writer& w) {
    if (!w.Checkpoint(wal.LastLsn()).ok()) return;
    for (int i = 0; i < 2; ++i) {
      if (!w.Batch(2, Durability::kGroup).ok()) return;
    }
  };
  cc.after = ContinueAfterRecovery;
  cc.did_it = [](Wal& wal, const Options&) -> std::string {
    for (const auto& sh : wal.Stats().shards) {
      if (sh.segment_files != 1) return "a shard still holds " + std::to_string(sh.segment_files) + " segments";
    }
    return "";
  };
  RunCrashMatrix(cc);
}

// (c) Recycling: group appends cross two segment boundaries after a
// checkpoint pooled released segments, so the preparer recycles one (header
// zeroed and synced, renamed, directory synced) and the shard rotates into it.
TEST(CrashAtEveryStep, RecyclingAReleasedSegment) {
  CrashCase cc;
  cc.name = "recycling a released segment";
  cc.recycle = 2;
  auto golden_last = std::make_shared<Lsn>(0);
  cc.golden = [golden_last](Wal& wal, Writer& w) {
    ASSERT_TRUE(w.Fill(kSeg * 7 / 2).ok());
    *golden_last = wal.LastLsn();
  };
  cc.setup = [golden_last](Wal&, Writer& w) {
    FillCurrentSegment(w, kSeg / 8);
    ASSERT_TRUE(w.Checkpoint(*golden_last).ok());  // pools two golden segments per shard
  };
  cc.scenario = [](Wal&, Writer& w) { GroupBytes(w, kSeg / 8 + kSeg + 4 * 1024); };
  cc.after = ContinueAfterRecovery;
  cc.did_it = [](Wal& wal, const Options& o) { return Rotated(wal, o, 3, true); };
  RunCrashMatrix(cc);
}

}  // namespace
}  // namespace shardwal
