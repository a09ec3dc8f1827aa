// SPDX-License-Identifier: Apache-2.0
// Wal::Open: resolve the options against the MANIFEST, lock and check the
// shard directories (shard_dirs.h), recover (scan, begin the new epoch
// durably, apply the cut), and start the WalImpl on what recovery kept.
#include <algorithm>
#include <cstring>
#include <random>
#include <set>

#include "recovery/recovery.h"
#include "src/foundation/format.h"
#include "src/foundation/options_internal.h"
#include "src/wal/shard_dirs.h"
#include "src/wal/wal_impl.h"

namespace shardwal {

namespace {

format::WalId NewWalId() {
  std::random_device rd;
  format::WalId id;
  for (std::size_t i = 0; i < id.size(); i += 4) {
    const std::uint32_t v = rd();
    std::memcpy(id.data() + i, &v, 4);
  }
  return id;
}

// One SegmentSet per shard directory: the current epoch's shards first (in
// shard order), then directories only older epochs used.
Status BuildSegmentSets(FileSystem& fs, const Options& options, const Manifest& manifest,
                        const std::vector<std::string>& old_dirs, const std::vector<ShardLayout>& layouts,
                        OpenState* state) {
  std::vector<std::string> dirs = options.shard_dirs;
  for (const auto& d : manifest.AllShardDirs()) {
    if (std::find(dirs.begin(), dirs.end(), d) == dirs.end()) dirs.push_back(d);
  }
  std::uint64_t used = 0;
  struct Pending {
    SegmentSet::Config config;
    std::vector<SegmentInfo> segments;
    std::vector<std::string> released;
    std::uint64_t last_seq = 0;
  };
  std::vector<Pending> pending;
  for (std::size_t i = 0; i < dirs.size(); ++i) {
    const std::string& dir = dirs[i];
    Pending p;
    p.config.fs = &fs;
    p.config.dir = dir;
    p.config.writable = i < options.shard_dirs.size();
    p.config.shard_id = p.config.writable ? static_cast<std::uint32_t>(i) : 0;
    p.config.segment_bytes = *options.segment_bytes;
    p.config.preallocation = *options.preallocation;
    p.config.recycle_limit = *options.recycle_segments;
    p.config.access = AccessFor(options);
    const auto old = std::find(old_dirs.begin(), old_dirs.end(), dir);
    if (old != old_dirs.end()) {
      const ShardLayout& layout = layouts[static_cast<std::size_t>(old - old_dirs.begin())];
      for (const auto& f : layout.segments) {
        SegmentInfo info;
        info.seq = f.seq;
        info.path = f.path;
        info.epoch = f.header.epoch;
        info.first_lsn = f.header.first_lsn;
        info.last_lsn = f.last_lsn;
        info.bytes = f.size;
        info.last_commit_ns = f.last_commit_ns;
        info.finished = true;  // a new epoch writes new segments
        used += f.size;
        p.segments.push_back(std::move(info));
      }
      p.released = layout.released;
      for (const auto& path : p.released) {
        if (auto size = fs.FileSize(path); size.ok()) used += *size;
      }
    }
    // Never reuse a sequence a checkpoint already released. (A directory
    // only an older epoch used may be gone: salvage gave it up.)
    p.last_seq = manifest.FirstSegment(dir) - 1;
    auto exists = fs.FileExists(dir);
    if (!exists.ok()) return exists.status();
    if (*exists) {
      auto last = LastSegmentSeq(fs, dir);
      if (!last.ok()) return last.status();
      p.last_seq = std::max(*last, p.last_seq);
    }
    pending.push_back(std::move(p));
  }
  state->space = std::make_unique<WalSpace>(*options.max_wal_bytes, used);
  for (auto& p : pending) {
    const std::string dir = p.config.dir;
    state->sets.push_back(std::make_unique<SegmentSet>(std::move(p.config), std::move(p.segments),
                                                       std::move(p.released), p.last_seq, state->space.get()));
    // What recovery kept is durable once the cut is applied.
    if (auto it = state->kept.find(dir); it != state->kept.end()) state->sets.back()->SetDurable(it->second);
  }
  return Status::OK();
}

// The MANIFEST and options of the WAL at in.dir (nullopt manifest: a new
// WAL), resolved and validated.
Result<Options> ResolveAndValidate(const Options& in, FileSystem& fs, std::optional<Manifest>* manifest) {
  manifest->reset();
  if (!in.dir.empty()) {
    auto loaded = Manifest::Load(fs, in.dir);
    if (!loaded.ok() && !loaded.status().IsNotFound()) return loaded.status();
    if (loaded.ok()) *manifest = std::move(*loaded);
  }
  Options options = ResolveOptions(in, *manifest ? &**manifest : nullptr);
  if (Status s = ValidateOptions(options); !s.ok()) return s;
  return options;
}

// What each old shard directory must hold once recovery's cut is applied:
// never more than before (what recovery keeps may not be synced until the
// cut is applied), less where the cut removed segments or records.
void LowerInventory(const RecoveryScan& scan, const Manifest& old, Manifest* next, OpenState* state) {
  for (std::size_t i = 0; i < scan.layouts.size(); ++i) {
    const ShardLayout& layout = scan.layouts[i];
    ShardInventory inv = old.Inventory(layout.dir);
    SegmentSet::Durable kept{inv.first_segment - 1, kNoLsn};
    for (const auto& seg : layout.segments) {
      if (std::find(scan.deletions.begin(), scan.deletions.end(), seg.path) == scan.deletions.end()) {
        kept.last_segment = seg.seq;
      }
    }
    kept.last_lsn = scan.report.shards[i].last_lsn;
    inv.last_segment = std::min(inv.last_segment, kept.last_segment);
    inv.durable_lsn = std::min(inv.durable_lsn, std::max(kept.last_lsn, old.checkpoint_lsn()));
    next->SetInventory(layout.dir, inv);
    state->kept[layout.dir] = kept;
  }
}

}  // namespace

Result<std::unique_ptr<Wal>> Wal::Open(const Options& in) {
  std::shared_ptr<FileSystem> fs_owner = in.file_system ? in.file_system : FileSystem::Default();
  FileSystem& fs = *fs_owner;
  // A read replica's directory (shardwal::Follower, src/ship/follower.cc)
  // mirrors a stream: writable only once promoted (which removes FOLLOWER).
  if (!in.dir.empty()) {
    auto follower = fs.FileExists(in.dir + "/FOLLOWER");
    if (!follower.ok()) return follower.status().WithContext("opening " + in.dir);
    if (*follower) {
      return Status::InvalidArgument(in.dir + " is a read replica (" + in.dir + "/FOLLOWER: it follows a NATS " +
                                     "stream): promote it first (`shardwal promote " + in.dir +
                                     "`, docs/replication.md) to write to it");
    }
  }
  std::optional<Manifest> manifest;
  // Validated before anything is created; again under the lock, where the
  // MANIFEST read is the one that counts.
  if (auto pre = ResolveAndValidate(in, fs, &manifest); !pre.ok()) return pre.status();
  std::vector<std::unique_ptr<FileLock>> locks;
  auto main_lock = PrepareDir(fs, in.dir, AccessFor(in));
  if (!main_lock.ok()) return main_lock.status();
  locks.push_back(std::move(*main_lock));
  auto resolved = ResolveAndValidate(in, fs, &manifest);
  if (!resolved.ok()) return resolved.status();
  Options options = std::move(*resolved);
  const bool existing = manifest.has_value();
  if (existing) {
    if (Status s = CheckNotSwapped(*manifest, options.shard_dirs); !s.ok()) return s;
  }
  if (Status s = LockShardDirs(fs, options, manifest, &locks); !s.ok()) return s;

  OpenState state;
  std::vector<ShardLayout> layouts;  // by Manifest::AllShardDirs() of the old manifest
  std::vector<std::string> old_dirs;
  std::optional<RecoveryScan> scan;
  if (existing) {
    old_dirs = manifest->AllShardDirs();
    auto scanned = ScanWal(&fs, *manifest, options.recovery_mode, options.consistency);
    if (!scanned.ok()) return scanned.status().WithContext("recovering " + options.dir);
    scan = std::move(*scanned);
    // The new epoch starts at the cut + 1: anything older above it is void,
    // durably, before a single new LSN is handed out - and before the cut
    // is applied, so that what the MANIFEST says each shard holds is true
    // at every step of applying it.
    std::set<std::uint32_t> in_use;
    for (const auto& layout : scan->layouts) {
      for (const auto& seg : layout.segments) in_use.insert(seg.header.epoch);
    }
    state.manifest = *manifest;
    const bool gaps_kept =
        options.recovery_mode == RecoveryMode::kSalvage || options.consistency == Consistency::kPerShard;
    state.manifest.BeginEpoch(scan->next_lsn, options.shard_dirs, in_use, gaps_kept, options.consistency);
    LowerInventory(*scan, *manifest, &state.manifest, &state);
  } else {
    state.manifest = Manifest::Create(NewWalId(), options.shard_dirs, options.consistency);
    state.report.mode = options.recovery_mode;
    state.report.consistency = options.consistency;
  }
  if (Status s = EnsureIdentities(fs, options, state.manifest.wal_id()); !s.ok()) {
    return s.WithContext("opening " + options.dir);
  }
  state.manifest.SetSettings(WalSettings::From(options));
  state.manifest.UpgradeFormat();
  if (Status s = state.manifest.Save(fs, options.dir, AccessFor(options)); !s.ok()) {
    return s.WithContext("opening " + options.dir);
  }
  if (!existing) {
    // The WAL directory may have been made by the caller (mkdtemp, mkdir)
    // without making its entry durable: a power loss must not take the
    // whole WAL with it once records are acknowledged.
    if (Status s = fs.SyncDir(ParentOf(options.dir)); !s.ok()) {
      return s.WithContext("opening " + options.dir + ": syncing its parent directory");
    }
  }
  if (scan) {
    if (Status s = ApplyCut(&fs, *scan); !s.ok()) return s.WithContext("recovering " + options.dir);
    ForgetRemoved(&*scan);
    state.next_lsn = scan->next_lsn;
    state.report = std::move(scan->report);
    layouts = scan->layouts;
    state.recovered = std::make_unique<RecoveredLog>(&fs, state.manifest, options.recovery_mode,
                                                     std::move(scan->layouts), scan->cut);
  }
  if (Status s = BuildSegmentSets(fs, options, state.manifest, old_dirs, layouts, &state); !s.ok()) return s;
  auto wal = std::make_unique<WalImpl>(std::move(options), std::move(state), std::move(locks));
  if (Status s = wal->Start(); !s.ok()) return s;
  return std::unique_ptr<Wal>(std::move(wal));
}

}  // namespace shardwal
