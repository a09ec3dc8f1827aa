// RecoveredLog: the records recovery kept, ready to be replayed in LSN order
// (plain or transaction-aware). Backs both LogReader (read-only) and
// Wal::Replay.
#pragma once

#include <atomic>
#include <memory>
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

  // A checkpoint taken after recovery: replay starts after it too, and the
  // segments it released (maybe gone by now) are not opened.
  void SetCheckpoint(Lsn lsn) { checkpoint_.store(lsn, std::memory_order_release); }

 private:
  FileSystem* fs_;
  Manifest manifest_;
  RecoveryMode mode_;
  std::vector<ShardLayout> layouts_;
  Lsn cut_;
  std::atomic<Lsn> checkpoint_;
};

}  // namespace shardwal
