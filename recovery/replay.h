// RecoveredLog: the records recovery kept, ready to be replayed in LSN order
// (plain or transaction-aware). Backs both LogReader (read-only) and
// Wal::Replay.
#pragma once

#include <memory>
#include <vector>

#include "recovery/recovery.h"
#include "shardwal/recovery.h"

namespace shardwal {

class RecoveredLog {
 public:
  RecoveredLog(FileSystem* fs, Manifest manifest, RecoveryMode mode, std::vector<ShardLayout> layouts, Lsn cut);

  Status Replay(Lsn from_lsn, const ReplayCallback& callback) const;
  Status ReplayCommitted(Lsn from_lsn, const ReplayCallback& callback, TxnReplayReport* report) const;

 private:
  FileSystem* fs_;
  Manifest manifest_;
  RecoveryMode mode_;
  std::vector<ShardLayout> layouts_;
  Lsn cut_;
};

}  // namespace shardwal
