// SPDX-License-Identifier: Apache-2.0
// What each recovery mode must make of a damaged copy of the intact WAL:
// RunCase checks it, read-only and read-write; Analyze derives it from the
// damaged bytes (tests/corruption_harness.h).
#include <algorithm>
#include <cstring>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "tests/corruption_harness.h"

namespace shardwal::corruption {

using testing::ReadFileBytes;

std::string ModeName(RecoveryMode m) { return std::string(RecoveryModeName(m)); }

Options ModeOptions(const std::string& dir, RecoveryMode mode) {
  Options o = BaseOptions(dir);
  o.recovery_mode = mode;
  return o;
}

namespace {

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

}  // namespace

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

namespace {

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

}  // namespace

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

Spot RandomSpot(std::mt19937_64& rng, Region region, bool last_segment) {
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

std::string Describe(const Expect& e) {
  std::string s = "tolerate " + std::string(e.tolerate_ok ? "ok" : "fails") + ", PIT keeps 1.." +
                  std::to_string(e.lost_pit.empty() ? kRecords : *e.lost_pit.begin() - 1) + ", salvage loses " +
                  std::to_string(e.lost_salvage.size());
  return s;
}

}  // namespace shardwal::corruption
