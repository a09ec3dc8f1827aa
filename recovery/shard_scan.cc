// SPDX-License-Identifier: Apache-2.0
#include "recovery/shard_scan.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <set>

namespace shardwal {

namespace {

bool IsWalBookkeeping(const std::string& name) {
  return name == format::kLockFileName || name == Manifest::kFileName ||
         name == std::string(Manifest::kFileName) + ".tmp" || name == format::kShardIdentityFileName ||
         name == std::string(format::kShardIdentityFileName) + ".tmp";
}

struct HeaderCheck {
  Anomaly::Kind kind;
  std::string message;
  // This WAL's segment from an epoch the MANIFEST does not know (as it
  // knows it): the MANIFEST is older than the segments.
  bool manifest_older = false;
};

// Why a segment header does not belong in this shard directory, if it does not.
std::optional<HeaderCheck> CheckHeader(const ScanContext& ctx, const std::string& dir, std::uint64_t name_seq,
                                       std::uint32_t name_shard, const format::SegmentHeader& h) {
  const Manifest& m = *ctx.manifest;
  if (h.wal_id != m.wal_id()) {
    return HeaderCheck{Anomaly::Kind::kForeignSegment,
                       "segment of another WAL (id " + WalIdHex(h.wal_id) + ", this WAL is " + WalIdHex(m.wal_id()) + ")"};
  }
  const ManifestEpoch* epoch = m.FindEpoch(h.epoch);
  if (epoch == nullptr) {
    return HeaderCheck{Anomaly::Kind::kMisplacedSegment,
                       "written in epoch " + std::to_string(h.epoch) + ", which the MANIFEST does not know", true};
  }
  if (h.shard_count != epoch->shard_dirs.size()) {
    return HeaderCheck{Anomaly::Kind::kMisplacedSegment,
                       "written with " + std::to_string(h.shard_count) + " shards; epoch " + std::to_string(h.epoch) +
                           " had " + std::to_string(epoch->shard_dirs.size())};
  }
  if (h.shard_id >= epoch->shard_dirs.size() || epoch->shard_dirs[h.shard_id] != dir || h.shard_id != name_shard) {
    return HeaderCheck{Anomaly::Kind::kMisplacedSegment,
                       "segment of shard " + std::to_string(h.shard_id) + " (directory " +
                           (h.shard_id < epoch->shard_dirs.size() ? epoch->shard_dirs[h.shard_id] : "?") +
                           ") found in " + dir};
  }
  if (h.segment_seq != name_seq) {
    return HeaderCheck{Anomaly::Kind::kMisplacedSegment,
                       "header says segment " + std::to_string(h.segment_seq) + ", file name says " + std::to_string(name_seq)};
  }
  if (h.format_version >= 2 && h.epoch_first_lsn != epoch->first_lsn) {
    return HeaderCheck{Anomaly::Kind::kMisplacedSegment,
                       "written in epoch " + std::to_string(h.epoch) + " starting at LSN " +
                           std::to_string(h.epoch_first_lsn) + "; the MANIFEST says that epoch starts at LSN " +
                           std::to_string(epoch->first_lsn) + " (an older or another copy of the MANIFEST?)",
                       true};
  }
  return std::nullopt;
}

// What a crash during the first write into a preallocated (or recycled,
// whose header was zeroed first) file leaves: a prefix of a header - its
// magic, as far as it got - then zeros. Zeros alone count; garbage does not.
bool IsTornHeader(const char* buf, std::size_t n) {
  std::size_t end = n;
  while (end > 0 && buf[end - 1] == 0) --end;
  if (end == n) return false;  // whole, yet it did not decode
  char magic[8];
  format::Put<std::uint64_t>(magic, format::kSegmentMagic);
  return std::memcmp(buf, magic, std::min<std::size_t>(end, sizeof magic)) == 0;
}

// A segment file without a valid header (short, zeros, or a torn first
// write into preallocated space) and with no synced batch of its own:
// created or recycled, never (durably) written. Its first write may have
// reached the disk in part and out of order - a later batch without the
// header - but such batches say nothing of theirs was synced.
Result<bool> IsHeaderlessLeftover(const ScanContext& ctx, const std::string& path, std::uint64_t seq) {
  auto file = ctx.fs->NewReadableFile(path);
  if (!file.ok()) return file.status();
  auto size = (*file)->Size();
  if (!size.ok()) return size.status();
  char buf[format::kSegmentHeaderBytes] = {};
  if (*size < format::kSegmentHeaderBytesV1) return true;
  const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(*size, sizeof buf));
  auto r = (*file)->PRead(0, want, buf);
  if (!r.ok()) return r.status();
  format::SegmentHeader h;
  if (format::DecodeSegmentHeader(buf, *r, &h).ok()) return false;
  // No room for anything but (part of) a header: the first write was cut
  // short inside it.
  if (*size <= format::kSegmentHeaderBytes) return true;
  if (!IsTornHeader(buf, *r) && !std::all_of(buf, buf + *r, [](char c) { return c == 0; })) return false;
  auto content = SegmentReader::InspectHeaderless(ctx.fs, path, seq);
  if (!content.ok()) return content.status();
  return !content->synced_data;
}

// What the MANIFEST says a directory must hold, in words.
std::string Expected(const ShardInventory& inv) {
  std::string s = "segments " + std::to_string(inv.first_segment) + ".." + std::to_string(inv.last_segment);
  if (inv.durable_lsn != kNoLsn) s += " with records up to LSN " + std::to_string(inv.durable_lsn);
  return s;
}

constexpr std::string_view kShortHint =
    ": the directory came back short (a device not mounted, emptied, or restored from an older copy), which no crash "
    "does. Mount or restore the right device, or open with recovery_mode=salvage to give up what it lost (see "
    "docs/operations.md)";

// The directory's identity and what the MANIFEST says it must hold, checked
// before anything in it is scanned. Reported (and, but in salvage, fatal)
// as a missing segment: the shard's data is not where the MANIFEST says.
Status CheckDirectory(const ScanContext& ctx, std::uint32_t shard, const std::string& dir, bool has_segments,
                      std::vector<Anomaly>* anomalies, bool* skip) {
  const Manifest& m = *ctx.manifest;
  const ShardInventory& inv = m.Inventory(dir);
  // `wrong_device`: the directory holds another WAL's or another shard's
  // data. Salvage may read past it, but no open may write into it.
  auto report = [&](std::string why, bool wrong_device = false) {
    Anomaly a = MakeAnomaly(Anomaly::Kind::kMissingSegment, shard, dir, 0, 0, kNoLsn, std::move(why));
    anomalies->push_back(a);
    if (ctx.mode == RecoveryMode::kSalvage && (ctx.read_only || !wrong_device)) {
      *skip = true;  // salvage: read what is there (if anything), keep the other shards whole
      return Status::OK();
    }
    return RefusedBy(a, ctx.mode);
  };
  auto exists = ctx.fs->FileExists(dir);
  if (!exists.ok()) return exists.status();
  if (!*exists) {
    return report("shard directory is missing; the MANIFEST lists it" +
                  (m.tracks_inventory() ? " holding " + Expected(inv) : std::string()) + std::string(kShortHint));
  }
  if (!m.tracks_inventory()) {
    // A format 1 MANIFEST knows no identity files, but every directory of
    // its current epoch got a segment at its first open and keeps its last
    // one (only an older epoch's may all have been released).
    const auto& current = m.current().shard_dirs;
    const bool in_current = std::find(current.begin(), current.end(), dir) != current.end();
    if (!has_segments && in_current) {
      return report("shard directory holds no segment; the MANIFEST lists it" + std::string(kShortHint));
    }
    return Status::OK();
  }
  auto identity = ShardIdentity::Load(*ctx.fs, dir);
  if (!identity.ok() && !identity.status().IsNotFound()) return report(identity.status().message());
  if (!identity.ok()) {
    const std::string file(format::kShardIdentityFileName);
    return report((has_segments ? "shard directory has lost its identity file " + file
                                : "shard directory is empty (no identity file " + file + ", no segment)") +
                  "; the MANIFEST says it holds " + Expected(inv) + std::string(kShortHint));
  }
  if (identity->wal_id != m.wal_id()) {
    return report("shard directory belongs to WAL " + WalIdHex(identity->wal_id) + ", not to this WAL (" +
                      WalIdHex(m.wal_id()) + "): another WAL's directory is mounted here",
                  /*wrong_device=*/true);
  }
  const auto index = m.ShardIndexOf(dir);
  if (index && identity->shard != *index) {
    return report("shard directory holds shard " + std::to_string(identity->shard) +
                      " of this WAL, but the MANIFEST has it as shard " + std::to_string(*index) +
                      ": directories swapped (mount each device where it was)",
                  /*wrong_device=*/true);
  }
  return Status::OK();
}

}  // namespace

Anomaly MakeAnomaly(Anomaly::Kind kind, std::uint32_t shard, std::string file, std::uint64_t offset,
                    std::uint64_t bytes, Lsn last_good, std::string message) {
  Anomaly a;
  a.kind = kind;
  a.shard = shard;
  a.file = std::move(file);
  a.offset = offset;
  a.bytes = bytes;
  a.last_good_lsn = last_good;
  a.message = std::move(message);
  return a;
}

Status RefusedBy(const Anomaly& a, RecoveryMode mode) {
  return Status::Corruption(a.ToString() + " (recovery mode " + std::string(RecoveryModeName(mode)) +
                            " does not accept this; see docs/recovery.md)");
}

const Anomaly* FirstDamage(const std::vector<Anomaly>& anomalies) {
  for (const Anomaly& a : anomalies) {
    if (a.kind != Anomaly::Kind::kIgnoredFile) return &a;
  }
  return nullptr;
}

Result<ShardLayout> ListShardSegments(const ScanContext& ctx, std::uint32_t shard, const std::string& dir,
                                      std::vector<Anomaly>* anomalies) {
  ShardLayout layout;
  layout.shard = shard;
  layout.dir = dir;
  std::map<std::uint64_t, std::pair<std::string, std::uint32_t>> by_seq;  // seq -> (name, shard in name)
  auto exists = ctx.fs->FileExists(dir);
  if (!exists.ok()) return exists.status();
  if (*exists) {
    auto names = ctx.fs->ListDir(dir);
    if (!names.ok()) return names.status().WithContext("listing shard directory " + dir);
    for (const auto& name : *names) {
      if (IsWalBookkeeping(name)) continue;
      std::uint32_t name_shard = 0;
      std::uint64_t seq = 0;
      if (!format::ParseSegmentFileName(name, &name_shard, &seq)) {
        anomalies->push_back(MakeAnomaly(Anomaly::Kind::kIgnoredFile, shard, dir + "/" + name, 0, 0, kNoLsn,
                                         "not a segment file; ignored"));
        continue;
      }
      by_seq[seq] = {name, name_shard};
    }
  }
  const ShardInventory& inv = ctx.manifest->Inventory(dir);
  const std::uint64_t first_seq = inv.first_segment;
  bool skip = false;
  if (Status s = CheckDirectory(ctx, shard, dir, by_seq.lower_bound(first_seq) != by_seq.end(), anomalies, &skip);
      !s.ok()) {
    return s;
  }
  if (!*exists) return layout;

  // Segments below the manifest's first segment were released by a
  // checkpoint (a crash came before they were deleted, or they wait to be
  // recycled): not read, whatever their state.
  while (!by_seq.empty() && by_seq.begin()->first < first_seq) {
    layout.released.push_back(dir + "/" + by_seq.begin()->second.first);
    by_seq.erase(by_seq.begin());
  }
  // Every segment up to the last one the MANIFEST knows was synced must be
  // here: fewer means the directory came back short, not a crash.
  const std::uint64_t last_present = by_seq.empty() ? first_seq - 1 : by_seq.rbegin()->first;
  if (!skip && inv.last_segment >= first_seq && last_present < inv.last_segment) {
    Anomaly a = MakeAnomaly(Anomaly::Kind::kMissingSegment, shard, dir, 0, 0, kNoLsn,
                            "segments " + std::to_string(last_present + 1) + ".." + std::to_string(inv.last_segment) +
                                " are missing; the MANIFEST records " + Expected(inv) + std::string(kShortHint));
    anomalies->push_back(a);
    if (ctx.mode != RecoveryMode::kSalvage) return RefusedBy(a, ctx.mode);
  }
  // A crash between creating (or recycling) a segment and the first sync of
  // its header leaves a file without a header or batches of its own; the one
  // prepared ahead of it may be such a file too. The run of those at the end
  // of the shard held nothing acknowledged.
  std::set<std::uint64_t> creation_tail_seqs;
  for (auto it = by_seq.rbegin(); it != by_seq.rend(); ++it) {
    auto empty = IsHeaderlessLeftover(ctx, dir + "/" + it->second.first, it->first);
    if (!empty.ok()) return empty.status();
    if (!*empty) break;
    creation_tail_seqs.insert(it->first);
  }

  // Sequence numbers start at the first segment and have no holes:
  // anything else means a segment went missing.
  std::uint64_t prev_seq = first_seq - 1;
  bool stop = false;
  for (auto it = by_seq.begin(); it != by_seq.end(); ++it) {
    const auto& [seq, entry] = *it;
    const std::string path = dir + "/" + entry.first;
    if (stop) {
      layout.removable.push_back(path);
      continue;
    }
    if (seq != prev_seq + 1) {
      // Files do not go missing in a crash (their directory entries were
      // synced before they held anything): this directory came back short,
      // and point-in-time must not cut the other shards at it either.
      Anomaly a = MakeAnomaly(Anomaly::Kind::kMissingSegment, shard, path, 0, 0, kNoLsn,
                              "segments " + std::to_string(prev_seq + 1) + ".." + std::to_string(seq - 1) +
                                  " are missing before this one" + std::string(kShortHint));
      anomalies->push_back(a);
      if (ctx.mode != RecoveryMode::kSalvage) return RefusedBy(a, ctx.mode);
    }
    prev_seq = seq;

    auto file = ctx.fs->NewReadableFile(path);
    if (!file.ok()) return file.status();
    auto size = (*file)->Size();
    if (!size.ok()) return size.status();
    char buf[format::kSegmentHeaderBytes] = {};
    std::size_t got = 0;
    if (*size > 0) {
      auto r = (*file)->PRead(0, std::min<std::uint64_t>(*size, sizeof buf), buf);
      if (!r.ok()) return r.status();
      got = *r;
    }
    layout.bytes += *size;
    format::SegmentHeader h;
    std::optional<HeaderCheck> problem;
    bool creation_tail = false;  // created, header never (fully) written
    if (got < format::kSegmentHeaderBytesV1 || std::all_of(buf, buf + got, [](char c) { return c == 0; })) {
      // Without a header: a leftover of a crash mid-rotation at the end of
      // the shard; anywhere else (or with valid batches behind it), damage
      // to synced data.
      creation_tail = creation_tail_seqs.count(seq) > 0;
      problem = HeaderCheck{got < format::kSegmentHeaderBytesV1 ? Anomaly::Kind::kTornTail : Anomaly::Kind::kZeroedTail,
                            "segment header missing or cut short (" + std::to_string(*size) + " bytes)"};
      if (!creation_tail) problem->kind = Anomaly::Kind::kUnreadableSegment;
    } else if (Status s = format::DecodeSegmentHeader(buf, got, &h); !s.ok()) {
      // A torn first write into a preallocated file at the shard's end is
      // a creation leftover too.
      creation_tail = creation_tail_seqs.count(seq) > 0;
      problem = HeaderCheck{creation_tail ? Anomaly::Kind::kTornTail : Anomaly::Kind::kUnreadableSegment, s.message()};
    } else {
      problem = CheckHeader(ctx, dir, seq, entry.second, h);
    }
    if (!problem) {
      layout.segments.push_back(SegmentFile{seq, path, *size, h, ctx.manifest->VoidFrom(h.epoch)});
      continue;
    }
    Anomaly a = MakeAnomaly(problem->kind, shard, path, 0, *size, kNoLsn, problem->message);
    anomalies->push_back(a);
    if (problem->manifest_older && (!ctx.read_only || ctx.mode != RecoveryMode::kSalvage)) {
      // A segment of this WAL from an epoch the MANIFEST does not know: the
      // MANIFEST is older than the segments, and what they hold after it is
      // not a crash's loss. A new epoch would take that number again: not
      // even salvage writes on top of it (a salvage read skips them).
      return Status::Corruption(a.ToString() + ": the MANIFEST is older than this segment (restored from a backup?); "
                                               "rebuild it from the segments with shardwal recover --rebuild-manifest");
    }
    if (creation_tail && ctx.mode != RecoveryMode::kAbsolute) {
      layout.removable.push_back(path);  // an empty leftover of a crash mid-rotation
      continue;
    }
    switch (ctx.mode) {
      case RecoveryMode::kSalvage:
        continue;  // skip the file, keep it on disk
      case RecoveryMode::kPointInTime:
        stop = true;
        layout.removable.push_back(path);
        continue;
      default:
        return RefusedBy(a, ctx.mode);
    }
  }
  return layout;
}

}  // namespace shardwal
