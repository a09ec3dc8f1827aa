// SPDX-License-Identifier: Apache-2.0
#include "recovery/manifest_rebuild.h"

#include <algorithm>
#include <charconv>
#include <map>

#include "recovery/recovery.h"
#include "src/foundation/format.h"

namespace shardwal {

namespace {

// <dir>/shard-<i> directories, by i.
Result<std::vector<std::string>> DefaultShardDirs(FileSystem& fs, const std::string& dir) {
  auto names = fs.ListDir(dir);
  if (!names.ok()) return names.status().WithContext("listing " + dir);
  std::map<std::uint32_t, std::string> by_index;
  for (const auto& name : *names) {
    constexpr std::string_view kPrefix = "shard-";
    if (!name.starts_with(kPrefix)) continue;
    std::uint32_t i = 0;
    const char* first = name.data() + kPrefix.size();
    const char* last = name.data() + name.size();
    auto [p, ec] = std::from_chars(first, last, i);
    if (ec != std::errc() || p != last) continue;
    if (fs.ListDir(dir + "/" + name).ok()) by_index[i] = dir + "/" + name;
  }
  std::vector<std::string> out;
  for (auto& [i, d] : by_index) out.push_back(std::move(d));
  return out;
}

struct EpochSeen {
  Lsn first_lsn = kNoLsn;
  std::uint32_t shard_count = 0;
  std::map<std::uint32_t, std::string> dirs;  // shard id -> directory
  std::string seen_in;                        // a segment that names it
};

class Rebuilder {
 public:
  explicit Rebuilder(FileSystem& fs) : fs_(fs) {}

  Status AddDirectory(const std::string& dir) {
    auto identity = ShardIdentity::Load(fs_, dir);
    if (identity.ok()) {
      if (Status s = SameWal(identity->wal_id, dir + "/" + std::string(format::kShardIdentityFileName)); !s.ok()) {
        return s;
      }
      auto [it, fresh] = claimed_.try_emplace(identity->shard, dir);
      if (!fresh && it->second != dir) {
        return Status::Corruption(dir + " and " + it->second + " both say they hold shard " +
                                  std::to_string(identity->shard));
      }
    } else if (!identity.status().IsNotFound()) {
      return identity.status();
    }
    auto names = fs_.ListDir(dir);
    if (!names.ok()) return names.status().WithContext("listing " + dir);
    std::map<std::uint64_t, std::string> by_seq;
    for (const auto& name : *names) {
      std::uint32_t shard;
      std::uint64_t seq;
      if (format::ParseSegmentFileName(name, &shard, &seq)) by_seq[seq] = dir + "/" + name;
    }
    for (const auto& [seq, path] : by_seq) {
      if (Status s = AddSegment(dir, seq, path); !s.ok()) return s;
    }
    return Status::OK();
  }

  Result<Manifest> Build(std::optional<Lsn> checkpoint_override, bool accept_gaps) {
    if (!id_ || epochs_.empty()) return Status::NotFound("no segment with a readable header: nothing to rebuild from");
    std::vector<ManifestEpoch> epochs;
    for (auto& [number, seen] : epochs_) {
      ManifestEpoch e;
      e.epoch = number;
      e.first_lsn = seen.first_lsn;
      if (accept_gaps) e.consistency = Consistency::kPerShard;
      for (std::uint32_t i = 0; i < seen.shard_count; ++i) {
        auto it = seen.dirs.find(i);
        if (it == seen.dirs.end()) {
          // No segment of this shard left in this epoch: the directory whose
          // identity says it holds the shard.
          auto claimed = claimed_.find(i);
          if (claimed == claimed_.end()) {
            return Status::Corruption("epoch " + std::to_string(number) + " (seen in " + seen.seen_in + ") had " +
                                      std::to_string(seen.shard_count) + " shards, but no segment and no directory "
                                      "identity names its shard " + std::to_string(i) +
                                      ": give every shard directory (--shard-dir)");
          }
          e.shard_dirs.push_back(claimed->second);
        } else {
          e.shard_dirs.push_back(it->second);
        }
      }
      epochs.push_back(std::move(e));
    }
    Manifest m = Manifest::Rebuilt(*id_, std::move(epochs), checkpoint_override.value_or(checkpoint_));
    for (const auto& [dir, seq] : first_segment_) m.SetInventory(dir, ShardInventory{seq, 0, kNoLsn});
    return m;
  }

 private:
  Status SameWal(const format::WalId& id, const std::string& where) {
    if (!id_) {
      id_ = id;
      id_from_ = where;
      return Status::OK();
    }
    if (*id_ == id) return Status::OK();
    return Status::Corruption(where + " belongs to WAL " + WalIdHex(id) + ", but " + id_from_ + " to WAL " +
                              WalIdHex(*id_) + ": the directories are of different WALs");
  }

  Status AddSegment(const std::string& dir, std::uint64_t seq, const std::string& path) {
    auto file = fs_.NewReadableFile(path);
    if (!file.ok()) return file.status();
    char buf[format::kSegmentHeaderBytes] = {};
    auto got = (*file)->PRead(0, sizeof buf, buf);
    if (!got.ok()) return got.status();
    format::SegmentHeader h;
    if (!format::DecodeSegmentHeader(buf, *got, &h).ok()) return Status::OK();  // recovery rules on it
    if (h.format_version < 2) {
      return Status::NotSupported(path + ": a format 1 segment does not record its epoch's first LSN, so its "
                                         "MANIFEST cannot be rebuilt from the segments");
    }
    if (Status s = SameWal(h.wal_id, path); !s.ok()) return s;
    EpochSeen& e = epochs_[h.epoch];
    if (e.seen_in.empty()) {
      e.first_lsn = h.epoch_first_lsn;
      e.shard_count = h.shard_count;
      e.seen_in = path;
    } else if (e.first_lsn != h.epoch_first_lsn || e.shard_count != h.shard_count) {
      return Status::Corruption(path + " says epoch " + std::to_string(h.epoch) + " started at LSN " +
                                std::to_string(h.epoch_first_lsn) + " with " + std::to_string(h.shard_count) +
                                " shards; " + e.seen_in + " says LSN " + std::to_string(e.first_lsn) + " with " +
                                std::to_string(e.shard_count));
    }
    auto [it, fresh] = e.dirs.try_emplace(h.shard_id, dir);
    if (!fresh && it->second != dir) {
      return Status::Corruption(path + " is shard " + std::to_string(h.shard_id) + " of epoch " +
                                std::to_string(h.epoch) + ", which " + it->second + " holds too");
    }
    checkpoint_ = std::max(checkpoint_, h.checkpoint_lsn);
    auto [first, inserted] = first_segment_.try_emplace(dir, seq);
    if (!inserted) first->second = std::min(first->second, seq);
    return Status::OK();
  }

  FileSystem& fs_;
  std::optional<format::WalId> id_;
  std::string id_from_;
  std::map<std::uint32_t, EpochSeen> epochs_;
  std::map<std::uint32_t, std::string> claimed_;  // shard index -> directory, from identities
  std::map<std::string, std::uint64_t> first_segment_;
  Lsn checkpoint_ = kNoLsn;
};

}  // namespace

Status InstallRebuiltManifest(FileSystem& fs, const std::string& dir, const Manifest& manifest) {
  auto exists = fs.FileExists(dir + "/" + std::string(Manifest::kFileName));
  if (!exists.ok()) return exists.status();
  if (*exists) return Status::InvalidArgument(dir + " has a MANIFEST: a rebuilt one only replaces a lost one");
  for (const auto& d : manifest.AllShardDirs()) {
    auto have = ShardIdentity::Load(fs, d);
    if (have.ok()) continue;
    if (!have.status().IsNotFound()) return have.status();
    const std::uint32_t index = manifest.ShardIndexOf(d).value_or(0);
    if (Status s = ShardIdentity{manifest.wal_id(), index}.Save(fs, d); !s.ok()) return s;
  }
  return manifest.Save(fs, dir);
}

Result<Manifest> RebuildManifest(FileSystem& fs, const RebuildOptions& options) {
  std::vector<std::string> dirs = options.shard_dirs;
  if (dirs.empty()) {
    auto found = DefaultShardDirs(fs, options.dir);
    if (!found.ok()) return found.status();
    dirs = std::move(*found);
  }
  if (dirs.empty()) return Status::NotFound(options.dir + " has no shard-<i> directory: give them (--shard-dir)");
  Rebuilder rebuilder(fs);
  for (const auto& d : dirs) {
    if (Status s = rebuilder.AddDirectory(d); !s.ok()) return s.WithContext("rebuilding the MANIFEST of " + options.dir);
  }
  auto manifest = rebuilder.Build(options.checkpoint_lsn, options.accept_gaps);
  if (!manifest.ok()) return manifest.status().WithContext("rebuilding the MANIFEST of " + options.dir);
  // Nothing is guessed: the rebuilt log must open in the default mode and
  // keep every valid record it finds. (Its inventory is not known: the
  // first open records it.)
  auto scan = ScanWal(&fs, *manifest, RecoveryMode::kTolerateTornTail, Consistency::kGlobal, /*read_only=*/true);
  if (!scan.ok()) {
    return scan.status().WithContext("the MANIFEST rebuilt from the segments of " + options.dir + " does not recover");
  }
  if (scan->cut < scan->report.max_lsn_seen) {
    return Status::Corruption(
        "the MANIFEST rebuilt from the segments of " + options.dir + " would cut records: LSN " +
        std::to_string(scan->cut + 1) + " is missing below LSN " + std::to_string(scan->report.max_lsn_seen) +
        " (checkpoint LSN " + std::to_string(manifest->checkpoint_lsn()) +
        " as the segment headers record it). If a later checkpoint released the segments that held it, give that "
        "checkpoint (--checkpoint-lsn); if the WAL was salvaged or written with per-shard consistency, or the gap is "
        "damage to give up, accept the gaps (--accept-gaps)");
  }
  return manifest;
}

}  // namespace shardwal
