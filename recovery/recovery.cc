// SPDX-License-Identifier: Apache-2.0
#include "recovery/recovery.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "recovery/merge_cursor.h"
#include "recovery/parallel_for.h"
#include "recovery/shard_cursor.h"

namespace shardwal {

namespace {

constexpr std::size_t kMaxMissingReported = 1000;

// Pass 1, one task per shard: list, check headers, read every record with
// checksums on. Records counts, anomalies and where each segment's data
// ends; later passes read no further.
struct ShardPass {
  Status status;
  ShardLayout layout;
  std::vector<Anomaly> anomalies;
  std::uint64_t records = 0;
  Lsn max_lsn = kNoLsn;          // the highest valid, non-void LSN
  Lsn max_durable_lsn = kNoLsn;  // the highest W a batch or seal recorded
  std::vector<ShardCursor::TailCut> tail_cuts;
  // Point-in-time stopped the shard: segments after this index are not
  // read, and recovery removes them.
  std::optional<std::size_t> stopped_at;
  // Its first anomaly other than an ignored file: damage that
  // point-in-time may cut at. Null when there is none.
  const Anomaly* damage() const { return FirstDamage(anomalies); }
};

ShardPass ValidateShard(const ScanContext& ctx, std::uint32_t shard, const std::string& dir) {
  ShardPass p;
  auto layout = ListShardSegments(ctx, shard, dir, &p.anomalies);
  if (!layout.ok()) {
    p.status = layout.status();
    return p;
  }
  p.layout = std::move(*layout);
  ShardCursor cursor(ctx, p.layout, &p.anomalies);
  while (cursor.Next()) {
    ++p.records;
    p.max_lsn = cursor.record().lsn;
  }
  p.status = cursor.status();
  for (std::size_t i = 0; i < p.layout.segments.size(); ++i) {
    const SegmentFile& seen = cursor.summaries()[i];
    p.layout.segments[i].last_lsn = seen.last_lsn;
    p.layout.segments[i].last_commit_ns = seen.last_commit_ns;
    p.layout.segments[i].sealed = seen.sealed;
    p.layout.segments[i].read_limit = seen.read_limit;
  }
  p.max_durable_lsn = cursor.max_durable_lsn();
  p.tail_cuts = cursor.tail_cuts();
  if (cursor.stopped_early()) p.stopped_at = cursor.stopped_at_segment();
  return p;
}

// A shard whose records end below what the MANIFEST recorded as durable in
// it came back short (its last segments lost or rolled back), which no
// crash does.
Status CheckDurableInventory(const Manifest& m, const ShardPass& p, RecoveryMode mode, std::vector<Anomaly>* anomalies) {
  if (!m.tracks_inventory() || mode == RecoveryMode::kSalvage) return Status::OK();
  // Point-in-time was asked to stop at the damage it finds.
  if (mode == RecoveryMode::kPointInTime && p.damage() != nullptr) return Status::OK();
  const ShardInventory& inv = m.Inventory(p.layout.dir);
  if (inv.durable_lsn == kNoLsn || inv.durable_lsn <= m.checkpoint_lsn() || p.max_lsn >= inv.durable_lsn) {
    return Status::OK();
  }
  Anomaly a;
  a.kind = Anomaly::Kind::kMissingRecords;
  a.shard = p.layout.shard;
  a.file = p.layout.dir;
  a.last_good_lsn = p.max_lsn;
  const std::string damage = p.damage() != nullptr ? " It has a " + p.damage()->ToString() + "." : "";
  a.message = "shard holds records only up to LSN " + std::to_string(p.max_lsn) +
              ", but the MANIFEST records LSN " + std::to_string(inv.durable_lsn) + " as durable in it (segment " +
              std::to_string(inv.last_segment) +
              "): acknowledged records were lost, which no crash does - the directory came back short (an older "
              "copy, or its last segments lost) or synced data was damaged." +
              damage +
              " Restore the right copy; or open with recovery_mode=point-in-time to cut at the damage, or salvage "
              "to give up what it lost";
  anomalies->push_back(a);
  return RefusedBy(a, mode);
}

// True when every shard still has a record pending in the merge (above the
// point where it stopped). A shard whose records ended below it - or that
// has none, maybe because it lost its only ones - could own the missing LSN.
bool EveryShardGoesOn(MergeCursor& merge, std::size_t shards) {
  return merge.Pending().size() == shards;
}

// Plans to cut `path` back to `at` bytes (the lowest of all plans wins).
void LowerCut(std::map<std::string, std::uint64_t>* truncate_at, const std::string& path, std::uint64_t at) {
  auto [it, fresh] = truncate_at->try_emplace(path, at);
  if (!fresh) it->second = std::min(it->second, at);
}

// Where shard data above the cut starts: truncate there, drop later segments.
void PlanCutAbove(const ShardCursor& head, const ShardLayout& layout,
                  std::map<std::string, std::uint64_t>* truncate_at, std::set<std::string>* remove) {
  const RecordPosition& pos = head.position();
  // A batch whose first record is above the cut goes whole; a batch that
  // straddles the cut stays (its records above the cut are void: the new
  // epoch in the MANIFEST starts below them).
  const std::uint64_t at = pos.first_in_batch ? pos.batch_offset : pos.batch_end;
  LowerCut(truncate_at, layout.segments[pos.segment_index].path, at);
  for (std::size_t i = pos.segment_index + 1; i < layout.segments.size(); ++i) remove->insert(layout.segments[i].path);
}

}  // namespace

// What one scan learned that a second one may need.
struct ScanAttempt {
  Lsn acknowledged = kNoLsn;  // the highest W a batch or seal recorded
  std::uint32_t acknowledged_by = 0;
  bool acknowledged_check_failed = false;
};

// One scan. `acknowledged_override`: the W to check the cut against,
// instead of the highest one this scan reads.
Result<RecoveryScan> ScanOnce(FileSystem* fs, const Manifest& manifest, RecoveryMode mode, Consistency consistency,
                              bool read_only, const std::optional<ScanAttempt>& acknowledged_override,
                              ScanAttempt* attempt) {
  const auto t0 = std::chrono::steady_clock::now();
  RecoveryScan scan;
  RecoveryReport& rep = scan.report;
  rep.mode = mode;
  rep.consistency = consistency;
  rep.existing = true;
  const std::vector<std::string> dirs = manifest.AllShardDirs();
  ScanContext ctx{fs, &manifest, mode, /*verify_checksums=*/true, read_only};

  // Pass 1: validate every shard in parallel.
  std::vector<ShardPass> passes(dirs.size());
  auto validate = [&](std::size_t i) { passes[i] = ValidateShard(ctx, static_cast<std::uint32_t>(i), dirs[i]); };
  ParallelFor(dirs.size(), validate);
  for (auto& p : passes) {
    rep.anomalies.insert(rep.anomalies.end(), p.anomalies.begin(), p.anomalies.end());
  }
  for (auto& p : passes) {
    if (!p.status.ok()) return p.status;
  }
  for (auto& p : passes) {
    if (Status s = CheckDurableInventory(manifest, p, mode, &rep.anomalies); !s.ok()) return s;
  }
  // What the passes after this one read: each shard up to where pass 1
  // stopped. Segments after a point-in-time stop are removed, not read.
  std::set<std::string> remove;
  // Every file a plan may name: its shard and size (0 for removable
  // leftovers, which are not segments).
  std::map<std::string, std::pair<std::uint32_t, std::uint64_t>> files;
  // Every LSN up to it was acknowledged as durable.
  Lsn acknowledged = kNoLsn;
  std::uint32_t acknowledged_by = 0;
  bool any_damaged = false;
  for (auto& p : passes) {
    rep.bytes_scanned += p.layout.bytes;
    for (const auto& seg : p.layout.segments) files[seg.path] = {p.layout.shard, seg.size};
    for (const auto& path : p.layout.removable) files[path] = {p.layout.shard, 0};
    if (p.max_durable_lsn > acknowledged) {
      acknowledged = p.max_durable_lsn;
      acknowledged_by = p.layout.shard;
    }
    any_damaged = any_damaged || p.damage() != nullptr;
    if (p.stopped_at) {
      auto& segs = p.layout.segments;
      for (std::size_t i = *p.stopped_at + 1; i < segs.size(); ++i) remove.insert(segs[i].path);
      segs.resize(std::min(segs.size(), *p.stopped_at + 1));
    }
    scan.layouts.push_back(std::move(p.layout));
  }

  // Pass 2: merge by LSN and find the cut. Checksums stay on: a batch that
  // is whole in its framing but fails a record checksum is an anomaly only
  // with them, and the cursors must stop exactly where pass 1's did.
  std::vector<Anomaly> again;  // pass 2 meets the same anomalies; pass 1 reported them
  std::vector<std::unique_ptr<ShardCursor>> cursors;
  std::vector<ShardCursor*> raw;
  for (const auto& layout : scan.layouts) {
    cursors.push_back(std::make_unique<ShardCursor>(ctx, layout, &again));
    raw.push_back(cursors.back().get());
  }
  rep.shards.resize(dirs.size());
  for (std::size_t i = 0; i < dirs.size(); ++i) {
    rep.shards[i].shard = static_cast<std::uint32_t>(i);
    rep.shards[i].dir = dirs[i];
    rep.shards[i].segments = scan.layouts[i].segments.size();
    rep.shards[i].bytes = scan.layouts[i].bytes;
  }

  const bool gap_free = consistency == Consistency::kGlobal && mode != RecoveryMode::kSalvage;
  auto note_missing = [&](Lsn from, Lsn to) {  // [from, to)
    for (Lsn m = from; m < to && rep.missing_lsns.size() < kMaxMissingReported; ++m) rep.missing_lsns.push_back(m);
  };
  MergeCursor merge(raw);
  // Recovery starts after the checkpoint: what lies at or below it is
  // persisted elsewhere, and segments that still hold some of it (retained,
  // or shared with newer records) are read past.
  const Lsn checkpoint = manifest.checkpoint_lsn();
  rep.checkpoint_lsn = checkpoint;
  const Lsn start = std::max(manifest.epochs().front().first_lsn, checkpoint + 1);
  Lsn expected = start;
  bool stopped = false;
  while (merge.Next()) {
    ShardCursor& c = merge.current();
    const Lsn lsn = c.record().lsn;
    if (lsn <= checkpoint) {
      ++rep.records_checkpointed;
      continue;
    }
    if (lsn < expected) {
      Anomaly a;
      a.kind = Anomaly::Kind::kDuplicateLsn;
      a.shard = c.shard();
      a.file = scan.layouts[c.shard()].segments[c.position().segment_index].path;
      a.offset = c.position().batch_offset;
      a.last_good_lsn = expected - 1;
      a.message = "LSN " + std::to_string(lsn) + " also appears in another shard";
      rep.anomalies.push_back(a);
      if (mode == RecoveryMode::kSalvage) continue;  // keep the first copy
      if (mode != RecoveryMode::kPointInTime) return Status::Corruption(a.ToString());
      stopped = any_damaged = true;  // point-in-time stops at it
      break;
    }
    // A gap is cut at - unless an earlier salvage or per-shard open
    // accepted it, or a per-shard epoch handed out its LSNs (it
    // acknowledged records above gaps: they are not cut at, whatever
    // consistency this open asks for).
    while (expected < lsn) {
      const bool accepted = !gap_free || manifest.GapAcceptedAt(expected);
      if (!accepted) break;
      note_missing(expected, expected + 1);
      ++expected;
    }
    if (lsn > expected) {
      stopped = true;  // the gap-free prefix ends at expected - 1
      break;
    }
    ShardRecovery& sr = rep.shards[c.shard()];
    if (sr.records++ == 0) sr.first_lsn = lsn;
    sr.last_lsn = lsn;
    if (rep.records++ == 0) rep.first_lsn = lsn;
    rep.max_lsn_seen = std::max(rep.max_lsn_seen, lsn);
    expected = lsn + 1;
  }
  if (Status s = merge.status(); !s.ok()) return s;
  if (stopped && mode != RecoveryMode::kPointInTime && EveryShardGoesOn(merge, scan.layouts.size())) {
    // A crash only loses the unsynced end of a shard. If every shard holds
    // records above the missing LSN, the one it belonged to lost it from the
    // middle: storage damage, not a torn tail.
    Anomaly a;
    a.kind = Anomaly::Kind::kMissingRecords;
    a.shard = merge.current().shard();
    a.file = scan.layouts[a.shard].dir;
    a.last_good_lsn = expected - 1;
    a.message = "LSN " + std::to_string(expected) +
                " is missing although every shard holds later records: records were lost from the middle of a "
                "shard";
    rep.anomalies.push_back(a);
    return RefusedBy(a, mode);
  }
  scan.cut = expected - 1;
  if (rep.records == 0) scan.cut = start - 1;
  // Every LSN up to `acknowledged` was acknowledged as durable. A cut below
  // it means a shard lost what it had synced - a shard that came back short,
  // not a crash - and cutting would destroy the other shards' acknowledged
  // records. Only point-in-time, told to stop at damage it found, may.
  if (attempt != nullptr) *attempt = ScanAttempt{acknowledged, acknowledged_by, false};
  if (acknowledged_override) {
    acknowledged = acknowledged_override->acknowledged;
    acknowledged_by = acknowledged_override->acknowledged_by;
  }
  if (stopped && gap_free && scan.cut < acknowledged && !(mode == RecoveryMode::kPointInTime && any_damaged)) {
    if (attempt != nullptr) attempt->acknowledged_check_failed = true;
    // The shards that could own the missing LSN, with the damage each
    // showed, if any.
    std::string idle;
    const auto pending = merge.Pending();
    for (std::size_t i = 0; i < scan.layouts.size(); ++i) {
      const bool goes_on = std::any_of(pending.begin(), pending.end(), [&](ShardCursor* p) { return p->shard() == i; });
      if (goes_on) continue;
      idle += (idle.empty() ? "" : "; ") + std::to_string(i) + " (" + scan.layouts[i].dir + ")";
      if (passes[i].damage() != nullptr) idle += ", which has a " + passes[i].damage()->ToString();
    }
    Anomaly a;
    a.kind = Anomaly::Kind::kMissingRecords;
    a.shard = acknowledged_by;
    a.file = scan.layouts[acknowledged_by].dir;
    a.last_good_lsn = scan.cut;
    a.message = "LSN " + std::to_string(scan.cut + 1) + " is missing, but every LSN up to " +
                std::to_string(acknowledged) + " was acknowledged as durable (recorded by shard " +
                std::to_string(acknowledged_by) +
                "): acknowledged records were lost, which no crash does - a shard that came back short (an older "
                "copy, a lost last segment) or damage to synced data. Shards holding nothing above LSN " +
                std::to_string(scan.cut) + ": " + (idle.empty() ? "none" : idle) +
                ". Restore the right device or copy; or open with recovery_mode=point-in-time to cut at the damage, "
                "or salvage to keep every shard's records";
    rep.anomalies.push_back(a);
    return RefusedBy(a, mode);
  }
  rep.cut_lsn = scan.cut;

  // Everything above the cut: plan its removal, count it.
  std::map<std::string, std::uint64_t> truncate_at;
  if (stopped) {
    for (ShardCursor* head : merge.Pending()) {
      PlanCutAbove(*head, scan.layouts[head->shard()], &truncate_at, &remove);
      ShardRecovery& sr = rep.shards[head->shard()];
      do {
        ++sr.records_cut;
        rep.max_lsn_seen = std::max(rep.max_lsn_seen, head->record().lsn);
      } while (head->Next());
    }
  }
  // Torn tails and point-in-time stops found in pass 1.
  for (std::size_t i = 0; i < passes.size(); ++i) {
    const ShardLayout& layout = scan.layouts[i];
    for (const auto& tc : passes[i].tail_cuts) {
      if (tc.segment_index < layout.segments.size()) {
        LowerCut(&truncate_at, layout.segments[tc.segment_index].path, tc.valid_end);
      }
    }
    for (const auto& path : layout.removable) remove.insert(path);
  }
  for (const auto& [path, size] : truncate_at) {
    const auto& [shard, old_size] = files.at(path);
    if (remove.count(path) || size >= old_size) continue;
    scan.truncations.push_back({path, size});
    rep.shards[shard].bytes_truncated += old_size - size;
  }
  for (const auto& path : remove) {
    const auto& [shard, size] = files.at(path);
    scan.deletions.push_back(path);
    ++rep.shards[shard].segments_removed;
    rep.shards[shard].bytes_truncated += size;
  }

  // Without a gap-free cut (salvage, per-shard) every valid record stays and
  // appends continue above the highest LSN found.
  if (!gap_free) scan.cut = std::max(scan.cut, rep.max_lsn_seen);
  scan.next_lsn = scan.cut + 1;
  rep.cut_lsn = scan.cut;
  rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return scan;
}

Result<RecoveryScan> ScanWal(FileSystem* fs, const Manifest& manifest, RecoveryMode mode, Consistency consistency,
                             bool read_only) {
  if (!read_only) return ScanOnce(fs, manifest, mode, consistency, read_only, std::nullopt, nullptr);
  ScanAttempt first;
  auto scan = ScanOnce(fs, manifest, mode, consistency, read_only, std::nullopt, &first);
  if (!first.acknowledged_check_failed) return scan;
  // A live writer: the shards were read at different moments, and one read
  // later may record a W that covers records another, read earlier, did not
  // hold yet. Every LSN up to the W that first scan read was durable before
  // a second scan reads anything: it must find them all.
  return ScanOnce(fs, manifest, mode, consistency, read_only, first, nullptr);
}

void ForgetRemoved(RecoveryScan* scan) {
  for (auto& layout : scan->layouts) {
    auto& segs = layout.segments;
    segs.erase(std::remove_if(segs.begin(), segs.end(),
                              [&](const SegmentFile& f) {
                                return std::find(scan->deletions.begin(), scan->deletions.end(), f.path) !=
                                       scan->deletions.end();
                              }),
               segs.end());
  }
}

namespace {

Status TruncateAndSync(FileSystem* fs, const std::string& path, std::optional<std::uint64_t> size) {
  auto file = fs->ReopenWritableFile(path);
  if (!file.ok()) return file.status().WithContext("recovery");
  if (size) {
    if (Status s = (*file)->Truncate(*size); !s.ok()) return s.WithContext("recovery: truncating " + path);
  }
  if (Status s = (*file)->Sync(); !s.ok()) return s.WithContext("recovery: syncing " + path);
  return (*file)->Close();
}

}  // namespace

Status ApplyCut(FileSystem* fs, const RecoveryScan& scan) {
  auto dir_of = [](const std::string& path) { return path.substr(0, path.rfind('/')); };
  // Whole segments first, highest sequence first (names sort by it within a
  // shard), then the truncations - which only ever apply to what is then a
  // shard's last segment. A crash part way thus leaves each shard a prefix
  // of itself: no holes, and only the last segment without its seal.
  // Each deletion is made durable before the next: unsynced unlinks may
  // reach the disk in any order, and a lower segment gone while a higher
  // one came back would leave a hole.
  std::vector<std::string> doomed = scan.deletions;
  std::sort(doomed.rbegin(), doomed.rend());
  for (const auto& path : doomed) {
    if (Status s = fs->DeleteFile(path); !s.ok()) return s.WithContext("recovery: removing");
    if (Status s = fs->SyncDir(dir_of(path)); !s.ok()) return s.WithContext("recovery");
  }
  for (const auto& t : scan.truncations) {
    if (Status s = TruncateAndSync(fs, t.path, t.size); !s.ok()) return s;
  }
  // What recovery keeps may still be only in the page cache (the process
  // that wrote it crashed before syncing, e.g. kNone records). Sync each
  // shard's last kept segment - older ones were synced when they rotated -
  // before new appends can be acknowledged on top of it.
  // (A segment cut above was synced then already.)
  auto truncated = [&](const std::string& path) {
    return std::any_of(scan.truncations.begin(), scan.truncations.end(), [&](const auto& t) { return t.path == path; });
  };
  for (const auto& layout : scan.layouts) {
    for (auto it = layout.segments.rbegin(); it != layout.segments.rend(); ++it) {
      if (std::find(doomed.begin(), doomed.end(), it->path) != doomed.end()) continue;
      if (!truncated(it->path)) {
        if (Status s = TruncateAndSync(fs, it->path, std::nullopt); !s.ok()) return s;
      }
      break;
    }
  }
  return Status::OK();
}

}  // namespace shardwal
