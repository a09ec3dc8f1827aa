// SPDX-License-Identifier: Apache-2.0
// Manifest: the small self-describing file at <dir>/MANIFEST that says what a
// WAL is - its id, and for every epoch (every Open) the LSN it started at
// and the shard directories it wrote to. Replaced atomically (write a temp
// file, fsync, rename, fsync the directory), so it is always either the old
// or the new version.
//
// Epochs make recovery's cut durable without rewriting old batches: epoch
// e+1 starts at first_lsn = C + 1, where C is the cut recovery chose, and any
// record of an earlier epoch with LSN >= that is void - it was never
// acknowledged, and its LSN is handed out again to a new record.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <chrono>
#include <optional>

#include "shardwal/file_system.h"
#include "shardwal/options.h"
#include "shardwal/status.h"
#include "shardwal/types.h"
#include "src/foundation/format.h"

namespace shardwal {

struct ManifestEpoch {
  std::uint32_t epoch = 0;
  Lsn first_lsn = 1;
  std::vector<std::string> shard_dirs;  // index = shard id in this epoch
  // Opened by a recovery that kept LSN gaps (salvage or per-shard
  // consistency): gaps below first_lsn are accepted from now on.
  bool gaps_accepted = false;
  // What this epoch acknowledged under: a per-shard epoch acknowledged
  // records with lower LSNs of other shards still pending, so gaps among its
  // records are never cut at, whatever consistency a later open asks for.
  Consistency consistency = Consistency::kGlobal;
};

// What one shard directory must hold: its segments first..last (none below
// first_segment, which a checkpoint released) and, durably, its records up
// to durable_lsn. Kept current at rotations, checkpoints, Close and every
// open - not per batch. A directory found holding less came back short (a
// device not mounted, emptied, or restored from an older copy), which no
// crash does.
struct ShardInventory {
  std::uint64_t first_segment = 1;
  std::uint64_t last_segment = 0;  // 0: none known (a MANIFEST of format 1)
  Lsn durable_lsn = kNoLsn;        // 0: none known
  // Every record of the directory above this LSN is still held: the
  // segments released so far held only records at or below it. A log
  // tailer (a shipper) that resumes after a restart may start below the
  // checkpoint as long as it starts above this. 0 with first_segment > 1:
  // not known (a MANIFEST written before it was recorded).
  Lsn released_through = kNoLsn;
  bool operator==(const ShardInventory&) const = default;
};

// The settings a later open needs to write the WAL as it was written, so an
// admin command run with default options neither grows 64 KiB segments to
// 64 MiB nor releases what retention keeps. An option given explicitly wins.
struct WalSettings {
  std::uint64_t segment_bytes = 0;
  Preallocation preallocation = Preallocation::kZeroFill;
  std::uint32_t recycle_segments = 0;
  std::uint32_t retain_segments = 0;
  std::uint64_t retain_bytes = 0;
  std::chrono::seconds retain_age{0};
  std::uint64_t max_wal_bytes = 0;
  // Taken from resolved options (every optional engaged).
  static WalSettings From(const Options& resolved);
  // Fills the options left unset from these.
  void FillUnset(Options* options) const;
};

// <shard dir>/SHARD: which WAL and shard a directory belongs to. Written
// (and its directory synced) before a MANIFEST ever lists the directory.
struct ShardIdentity {
  format::WalId wal_id{};
  std::uint32_t shard = 0;  // its index in the epochs that use it
  std::string Serialize() const;
  static Result<ShardIdentity> Parse(const std::string& text, const std::string& path);
  // NotFound when there is none.
  static Result<ShardIdentity> Load(FileSystem& fs, const std::string& dir);
  // Durably writes <dir>/SHARD (temp file, sync, rename, sync dir).
  // `access`: of the file (and its temporary) if created (Options::allow_group_access).
  Status Save(FileSystem& fs, const std::string& dir, FileAccess access = FileAccess::kOwner) const;
};

// Writes `text` to <dir>/<name> atomically and durably: a temp file,
// fdatasync, rename over the old one, fsync of the directory.
Status ReplaceFileDurably(FileSystem& fs, const std::string& dir, std::string_view name, const std::string& text,
                          FileAccess access = FileAccess::kOwner);

class Manifest {
 public:
  static constexpr std::string_view kFileName = "MANIFEST";
  // Format 2 adds the shard inventory, the settings and each epoch's
  // consistency; format 1 (no inventory: nothing to check against) is read.
  static constexpr std::uint32_t kFormatVersion = 2;

  // NotFound when the directory has no manifest; Corruption (naming the
  // file) when it is unreadable.
  static Result<Manifest> Load(FileSystem& fs, const std::string& dir);

  // A MANIFEST put together from what the segments say (a lost one rebuilt,
  // recovery/manifest_rebuild.h): epochs in increasing order.
  static Manifest Rebuilt(const format::WalId& id, std::vector<ManifestEpoch> epochs, Lsn checkpoint_lsn);

  // A new WAL's manifest: epoch 1 starting at LSN 1.
  static Manifest Create(const format::WalId& id, std::vector<std::string> shard_dirs,
                         Consistency consistency = Consistency::kGlobal);

  // Durably replaces <dir>/MANIFEST.
  // `access`: of the file (and its temporary) if created (Options::allow_group_access).
  Status Save(FileSystem& fs, const std::string& dir, FileAccess access = FileAccess::kOwner) const;

  const format::WalId& wal_id() const { return wal_id_; }
  const std::vector<ManifestEpoch>& epochs() const { return epochs_; }
  const ManifestEpoch& current() const { return epochs_.back(); }
  const ManifestEpoch* FindEpoch(std::uint32_t epoch) const;

  // Every shard directory any epoch used, in first-use order.
  std::vector<std::string> AllShardDirs() const;

  // Records of `epoch` with an LSN >= this are void (a later epoch started
  // below them); kNoPending-like max when nothing voids them.
  Lsn VoidFrom(std::uint32_t epoch) const;

  // The LSN below which gaps were accepted by a salvage or per-shard open
  // (0 if none ever was).
  Lsn GapsAcceptedBelow() const;
  // Whether a gap at `lsn` is accepted: below GapsAcceptedBelow(), or among
  // the LSNs a per-shard epoch handed out.
  bool GapAcceptedAt(Lsn lsn) const;

  // The format this MANIFEST was read in (kFormatVersion once saved).
  std::uint32_t format() const { return format_; }
  // Whether it records what each shard directory must hold (format 2):
  // its inventory and identity files can be checked.
  bool tracks_inventory() const { return format_ >= 2; }
  // Once every shard directory has its identity file and the inventory is
  // filled in: saved in (and checked as) the current format from now on.
  void UpgradeFormat() { format_ = kFormatVersion; }
  const ShardInventory& Inventory(const std::string& dir) const;
  void SetInventory(const std::string& dir, const ShardInventory& inventory);
  // The shard index a directory holds (from the latest epoch that lists it).
  std::optional<std::uint32_t> ShardIndexOf(const std::string& dir) const;

  // The settings it was last written with (nullopt for format 1).
  const std::optional<WalSettings>& settings() const { return settings_; }
  void SetSettings(const WalSettings& s) { settings_ = s; }

  // Everything <= checkpoint_lsn() is persisted elsewhere (Wal::Checkpoint):
  // recovery and replay start after it. 0 until the first checkpoint.
  Lsn checkpoint_lsn() const { return checkpoint_lsn_; }
  // The lowest segment sequence a shard directory still holds. Segments
  // below it were released by a checkpoint (deleted, or kept to be
  // recycled): recovery does not read them. 1 for a directory never
  // checkpointed.
  std::uint64_t FirstSegment(const std::string& dir) const;
  // Records a checkpoint and the segments it released. `first_segment` maps
  // shard directories to their new lowest sequence (directories not named
  // keep theirs). Epochs that own no segment any more (`in_use`, after the
  // release) and that voiding no longer needs are dropped.
  // `released_through` maps directories to the highest LSN of what they
  // released (ShardInventory::released_through).
  void SetCheckpoint(Lsn lsn, const std::map<std::string, std::uint64_t>& first_segment,
                     const std::set<std::uint32_t>& in_use, const std::map<std::string, Lsn>& released_through = {});
  // ShardInventory::released_through, with "not known" read as the
  // checkpoint (the most a release ever took).
  Lsn ReleasedThrough(const std::string& dir) const;

  // Starts the next epoch. Earlier epochs that own no segment any more
  // (`in_use` lists those that do) and whose cut a later epoch repeats are
  // dropped, so re-opening without appending does not grow the manifest.
  void BeginEpoch(Lsn first_lsn, std::vector<std::string> shard_dirs, const std::set<std::uint32_t>& in_use,
                  bool gaps_accepted, Consistency consistency = Consistency::kGlobal);

  // Shard directories inside `base_dir` (the WAL's own directory) are
  // written relative to it, so a WAL directory can be moved or copied whole.
  std::string Serialize(const std::string& base_dir = "") const;
  static Result<Manifest> Parse(const std::string& text, const std::string& path, const std::string& base_dir = "");

 private:
  std::uint32_t format_ = kFormatVersion;
  format::WalId wal_id_{};
  std::vector<ManifestEpoch> epochs_;
  Lsn checkpoint_lsn_ = 0;
  std::map<std::string, ShardInventory> inventory_;  // directories not listed: the default
  std::optional<WalSettings> settings_;
};

// Parses 32 hex digits.
bool ParseWalIdHex(const std::string& hex, format::WalId* out);

std::string WalIdHex(const format::WalId& id);

}  // namespace shardwal
