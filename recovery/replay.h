// SPDX-License-Identifier: Apache-2.0
// RecoveredLog: the records recovery kept, ready to be replayed in LSN order
// (plain or transaction-aware). Backs both LogReader (read-only) and
// Wal::Replay.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <vector>

#include "recovery/recovery.h"
#include "shardwal/recovery.h"

namespace shardwal {

class RecoveredLog {
 public:
  RecoveredLog(FileSystem* fs, Manifest manifest, RecoveryMode mode, std::vector<ShardLayout> layouts, Lsn cut);

  // Records with LSN >= from_lsn, and above the checkpoint, in LSN order.
  Status Replay(Lsn from_lsn, const ReplayCallback& callback) const;
  Status ReplayCommitted(Lsn from_lsn, const ReplayCallback& callback, TxnReplayReport* report) const;

  // For a log tailer: records with LSN >= from_lsn, checkpointed or not (the
  // tailer's own hold keeps their segments; see src/wal/tailer_registry.h).
  Status ReplayForTailer(Lsn from_lsn, const ReplayCallback& callback) const;

  // ---- a live WAL's replays and its checkpoints -------------------------
  // A replay reads the segments that hold records above where it started,
  // and a checkpoint taken meanwhile must not release them (a recycled one
  // is overwritten from the front). Each replay pins its start LSN.

  // A checkpoint at `lsn`: replays that start from now on start after it.
  // Returns the highest LSN whose segments may be released now: below
  // every running replay's start (and at most `lsn`). Thread-safe.
  Lsn AdvanceCheckpoint(Lsn lsn);
  // Whether a release was held back by a replay that has ended since.
  bool ReleaseHeldBack();
  // Called (outside any lock) when a replay that held a release back ends.
  void SetUnpinHook(std::function<void()> hook) { unpin_hook_ = std::move(hook); }

 private:
  // Registers a replay from `from_lsn`; returns where it starts (above the
  // checkpoint unless `checkpointed`).
  Lsn Pin(Lsn from_lsn, bool checkpointed = false) const;
  Status ReplayFrom(Lsn from_lsn, bool checkpointed, const ReplayCallback& callback) const;
  void Unpin(Lsn start) const;

  FileSystem* fs_;
  Manifest manifest_;
  RecoveryMode mode_;
  std::vector<ShardLayout> layouts_;
  Lsn cut_;
  mutable std::mutex pins_mu_;
  Lsn checkpoint_;                       // under pins_mu_
  mutable std::multiset<Lsn> pins_;      // running replays' start LSNs
  mutable bool held_back_ = false;       // a release waits for a replay
  mutable bool release_due_ = false;     // ... which has ended
  std::function<void()> unpin_hook_;
};

}  // namespace shardwal
