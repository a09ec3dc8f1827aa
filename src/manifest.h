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

#include "shardwal/file_system.h"
#include "shardwal/status.h"
#include "shardwal/types.h"
#include "src/format.h"

namespace shardwal {

struct ManifestEpoch {
  std::uint32_t epoch = 0;
  Lsn first_lsn = 1;
  std::vector<std::string> shard_dirs;  // index = shard id in this epoch
  // Opened by a recovery that kept LSN gaps (salvage or per-shard
  // consistency): gaps below first_lsn are accepted from now on.
  bool gaps_accepted = false;
};

class Manifest {
 public:
  static constexpr std::string_view kFileName = "MANIFEST";
  static constexpr std::uint32_t kFormatVersion = 1;

  // NotFound when the directory has no manifest; Corruption (naming the
  // file) when it is unreadable.
  static Result<Manifest> Load(FileSystem& fs, const std::string& dir);

  // A new WAL's manifest: epoch 1 starting at LSN 1.
  static Manifest Create(const format::WalId& id, std::vector<std::string> shard_dirs);

  // Durably replaces <dir>/MANIFEST.
  Status Save(FileSystem& fs, const std::string& dir) const;

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
  void SetCheckpoint(Lsn lsn, const std::map<std::string, std::uint64_t>& first_segment,
                     const std::set<std::uint32_t>& in_use);

  // Starts the next epoch. Earlier epochs that own no segment any more
  // (`in_use` lists those that do) and whose cut a later epoch repeats are
  // dropped, so re-opening without appending does not grow the manifest.
  void BeginEpoch(Lsn first_lsn, std::vector<std::string> shard_dirs, const std::set<std::uint32_t>& in_use,
                  bool gaps_accepted);

  // Shard directories inside `base_dir` (the WAL's own directory) are
  // written relative to it, so a WAL directory can be moved or copied whole.
  std::string Serialize(const std::string& base_dir = "") const;
  static Result<Manifest> Parse(const std::string& text, const std::string& path, const std::string& base_dir = "");

 private:
  format::WalId wal_id_{};
  std::vector<ManifestEpoch> epochs_;
  Lsn checkpoint_lsn_ = 0;
  std::map<std::string, std::uint64_t> first_segment_;  // only directories above 1
};

std::string WalIdHex(const format::WalId& id);

}  // namespace shardwal
