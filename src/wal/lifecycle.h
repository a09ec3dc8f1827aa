// SPDX-License-Identifier: Apache-2.0
// WalLifecycle: an open WAL's MANIFEST and everything that rewrites it after
// Open - checkpoints, retention, and the inventory of what each shard
// directory holds durably. It owns the lifecycle lock and the MANIFEST, and
// runs its chore (inventory after rotations, retention by age, releases a
// replay held back) on a thread of its own, off the flush path.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "recovery/replay.h"
#include "shards/segment_preparer.h"
#include "shards/segment_set.h"
#include "shardwal/file_system.h"
#include "shardwal/status.h"
#include "src/commit/wal_core.h"
#include "src/foundation/logger.h"
#include "src/foundation/manifest.h"
#include "src/foundation/mutex.h"
#include "src/wal/tailer_registry.h"

namespace shardwal {

class WalLifecycle {
 public:
  struct Config {
    FileSystem* fs = nullptr;
    std::string dir;  // the WAL directory (its MANIFEST)
    RetentionRules retention;
    FileAccess access = FileAccess::kOwner;  // of the MANIFEST when rewritten
    const Logger* log = nullptr;
    // Every shard directory's segments, the current epoch's first.
    std::vector<SegmentSet*> sets;
    RecoveredLog* recovered = nullptr;  // null for a new WAL
    const WalCore* core = nullptr;      // a failed WAL rewrites nothing
    // Attached log tailers: a release keeps what they have not read.
    TailerRegistry* tailers = nullptr;
    // Released segments made room: wake whoever prepares new ones.
    std::function<void()> on_released;
  };

  WalLifecycle(Config config, Manifest manifest);
  ~WalLifecycle() { Stop(); }

  // Starts / stops the chore thread. Stop is idempotent; called by Close
  // after the flush threads have joined.
  void Start() { chore_->Start(); }
  void Stop() { chore_->Stop(); }
  // The WAL failed: the chore runs no more (the thread idles until Stop).
  void Halt() { chore_->Halt(); }
  // A rotation sealed a segment, or a replay ended: run the chore soon.
  // Any thread; never blocks on the lifecycle lock.
  void Poke() { chore_->Poke(/*chore=*/true); }

  // Raises the checkpoint to `lsn` (never lowers it) and releases what it
  // and the retention rules let go: the MANIFEST is saved first, then the
  // files are removed. The caller checked that `lsn` was assigned and that
  // the WAL is open. Any thread; serialised by the lifecycle lock.
  Status Checkpoint(Lsn lsn) EXCLUDES(mu_);
  // Saves the MANIFEST if what the shards hold durably grew since it was
  // last saved. Called by Close once nothing writes any more.
  Status SaveInventory() EXCLUDES(mu_);

  // The checkpoint LSN. Lock-free: flush threads read it for new segments'
  // headers (checkpoint_cell()), Stats for its report.
  Lsn checkpoint_lsn() const { return checkpoint_lsn_.load(std::memory_order_acquire); }
  const std::atomic<Lsn>* checkpoint_cell() const { return &checkpoint_lsn_; }

 private:
  Status ReleaseLocked(Lsn checkpoint) REQUIRES(mu_);
  // Per segment set, how far it may be released: `releasable`, less what
  // attached tailers still need.
  std::vector<Lsn> ReleaseLimits(Lsn checkpoint, Lsn releasable, std::chrono::system_clock::time_point now) const
      REQUIRES(mu_);
  // `m` with what each shard directory now holds durably; true if that
  // changed what `m` recorded.
  bool UpdateInventory(Manifest* m) const;
  Status SaveInventoryLocked() REQUIRES(mu_);
  std::optional<std::chrono::system_clock::time_point> Chore() EXCLUDES(mu_);
  // The log line for one release: what it freed, and where.
  void LogRelease(Lsn checkpoint, Lsn previous, std::size_t released, std::uint64_t bytes,
                  const std::string& where) const;

  // Lock annotations (docs/design.md): every member says what guards it.
  const Config config_;
  // The lifecycle lock: the MANIFEST, and releases (held while one runs).
  mutable Mutex mu_;
  Manifest manifest_ GUARDED_BY(mu_);
  // Written under mu_ whenever manifest_'s checkpoint changes.
  std::atomic<Lsn> checkpoint_lsn_{kNoLsn};
  // A preparer of no segments: it runs Chore() on its thread.
  std::unique_ptr<SegmentPreparer> chore_;  // unguarded: set in the constructor; SegmentPreparer locks itself
};

}  // namespace shardwal
