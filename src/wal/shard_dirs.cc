// SPDX-License-Identifier: Apache-2.0
#include "src/wal/shard_dirs.h"

#include <algorithm>
#include <filesystem>

#include "src/foundation/format.h"

namespace shardwal {

namespace {

// A directory this WAL never used must not hold segments: it belongs to
// another WAL (or lost its MANIFEST), and writing into it would mix logs.
// An identity file alone holds no records: an open that created the
// directory was interrupted before its MANIFEST was written, and the
// directory may be taken.
Status CheckUnclaimedDir(FileSystem& fs, const Options& options, const std::string& dir, const format::WalId* ours) {
  auto identity = ShardIdentity::Load(fs, dir);
  auto segments = SegmentFilesIn(fs, dir);
  if (!segments.ok()) return segments.status();
  if (identity.ok() && (ours == nullptr || identity->wal_id != *ours) && !segments->empty()) {
    // Without a MANIFEST, a directory of a WAL is most likely its own whose
    // MANIFEST was lost: corruption, not a mistake in the options.
    const std::string msg = "shard directory " + dir + " belongs to WAL " + WalIdHex(identity->wal_id) + "; " +
                            options.dir + (ours ? " is WAL " + WalIdHex(*ours) : " has no MANIFEST") +
                            ": give each WAL its own, empty shard directories" +
                            (ours ? "" : " (or rebuild a lost MANIFEST: shardwal recover --rebuild-manifest)");
    return ours ? Status::InvalidArgument(msg) : Status::Corruption(msg);
  }
  if (!identity.ok() && !identity.status().IsNotFound()) return identity.status();
  for (const auto& name : *segments) {
    const std::string path = dir + "/" + name;
    std::string whose = "a WAL whose segment header is unreadable";
    if (auto file = fs.NewReadableFile(path); file.ok()) {
      char buf[format::kSegmentHeaderBytes];
      format::SegmentHeader h;
      auto got = (*file)->PRead(0, sizeof buf, buf);
      if (got.ok() && format::DecodeSegmentHeader(buf, *got, &h).ok()) {
        whose = ours != nullptr && h.wal_id == *ours ? "this WAL (" + WalIdHex(h.wal_id) + "), but the MANIFEST does not list it"
                                                     : "WAL " + WalIdHex(h.wal_id);
      }
    }
    const std::string msg = "shard directory " + dir + " holds segment " + path + " of " + whose + "; " +
                            options.dir + (ours ? " is WAL " + WalIdHex(*ours) : " has no MANIFEST") +
                            ": not this WAL's directory, or its MANIFEST was lost. Give each WAL its own, empty "
                            "shard directories" +
                            (ours ? "" : " (a lost MANIFEST is rebuilt by: shardwal recover --rebuild-manifest)");
    return ours ? Status::InvalidArgument(msg) : Status::Corruption(msg);
  }
  return Status::OK();
}

}  // namespace

Result<std::unique_ptr<FileLock>> PrepareDir(FileSystem& fs, const std::string& dir, FileAccess access) {
  if (Status s = fs.CreateDirs(dir, access); !s.ok()) return s.WithContext("cannot create WAL directory " + dir);
  auto lock = fs.LockFile(dir + "/" + std::string(format::kLockFileName), access);
  if (!lock.ok()) return lock.status().WithContext("cannot lock WAL directory " + dir);
  return std::move(*lock);
}

std::string ParentOf(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  const std::string parent = std::filesystem::path(path).parent_path().string();
  return parent.empty() ? "." : parent;
}

Result<std::vector<std::string>> SegmentFilesIn(FileSystem& fs, const std::string& dir) {
  auto names = fs.ListDir(dir);
  if (!names.ok()) return names.status().WithContext("cannot list shard directory " + dir);
  std::vector<std::string> segments;
  for (auto& name : *names) {
    std::uint32_t shard;
    std::uint64_t seq;
    if (format::ParseSegmentFileName(name, &shard, &seq)) segments.push_back(std::move(name));
  }
  return segments;
}

Result<std::uint64_t> LastSegmentSeq(FileSystem& fs, const std::string& dir) {
  auto segments = SegmentFilesIn(fs, dir);
  if (!segments.ok()) return segments.status();
  std::uint64_t last = 0;
  for (const auto& name : *segments) {
    std::uint32_t shard;
    std::uint64_t seq;
    format::ParseSegmentFileName(name, &shard, &seq);
    last = std::max(last, seq);
  }
  return last;
}

Status CheckNotSwapped(const Manifest& m, const std::vector<std::string>& dirs) {
  const auto& prev = m.current().shard_dirs;
  for (std::size_t i = 0; i < dirs.size(); ++i) {
    auto it = std::find(prev.begin(), prev.end(), dirs[i]);
    if (it != prev.end() && static_cast<std::size_t>(it - prev.begin()) != i) {
      return Status::InvalidArgument("shard directory " + dirs[i] + " is given as shard " + std::to_string(i) +
                                     " but holds shard " + std::to_string(it - prev.begin()) +
                                     " of this WAL (swapped shard_dirs?)");
    }
  }
  return Status::OK();
}

Status LockShardDirs(FileSystem& fs, const Options& options, const std::optional<Manifest>& manifest,
                     std::vector<std::unique_ptr<FileLock>>* locks) {
  const std::vector<std::string> known = manifest ? manifest->AllShardDirs() : std::vector<std::string>{};
  std::vector<std::string> dirs = options.shard_dirs;
  for (const auto& d : known) {
    if (std::find(dirs.begin(), dirs.end(), d) == dirs.end()) dirs.push_back(d);
  }
  for (std::size_t i = 0; i < dirs.size(); ++i) {
    const std::string& dir = dirs[i];
    const bool listed = std::find(known.begin(), known.end(), dir) != known.end();
    const bool current = i < options.shard_dirs.size();
    if (listed) {
      auto exists = fs.FileExists(dir);
      if (!exists.ok()) return exists.status();
      if (!*exists) {
        if (!(current && options.recovery_mode == RecoveryMode::kSalvage)) continue;  // recovery reports it
        if (Status s = fs.CreateDirs(dir, AccessFor(options)); !s.ok()) {
          return s.WithContext("cannot recreate shard directory " + dir);
        }
      }
      auto lock = fs.LockFile(dir + "/" + std::string(format::kLockFileName), AccessFor(options));
      if (!lock.ok()) return lock.status().WithContext("cannot lock shard directory " + dir);
      locks->push_back(std::move(*lock));
      continue;
    }
    auto lock = PrepareDir(fs, dir, AccessFor(options));
    if (!lock.ok()) return lock.status();
    locks->push_back(std::move(*lock));
    if (Status s = CheckUnclaimedDir(fs, options, dir, manifest ? &manifest->wal_id() : nullptr); !s.ok()) return s;
  }
  return Status::OK();
}

Status EnsureIdentities(FileSystem& fs, const Options& options, const format::WalId& id) {
  for (std::size_t i = 0; i < options.shard_dirs.size(); ++i) {
    const std::string& dir = options.shard_dirs[i];
    auto have = ShardIdentity::Load(fs, dir);
    if (have.ok() && have->wal_id == id && have->shard == i) continue;
    if (!have.ok() && !have.status().IsNotFound()) return have.status();
    auto segments = SegmentFilesIn(fs, dir);
    if (!segments.ok()) return segments.status();
    if (have.ok() && have->wal_id != id && !segments->empty()) {
      // Not even salvage takes over another WAL's directory.
      return Status::InvalidArgument("shard directory " + dir + " belongs to WAL " + WalIdHex(have->wal_id) +
                                     ", not to this WAL (" + WalIdHex(id) + "): another WAL's directory is mounted "
                                     "there; refusing to write into it");
    }
    if (Status s = ShardIdentity{id, static_cast<std::uint32_t>(i)}.Save(fs, dir, AccessFor(options)); !s.ok()) return s;
    if (Status s = fs.SyncDir(ParentOf(dir)); !s.ok()) return s.WithContext("syncing the parent of " + dir);
  }
  return Status::OK();
}

}  // namespace shardwal
