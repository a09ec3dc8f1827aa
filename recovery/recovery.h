// SPDX-License-Identifier: Apache-2.0
// Recovery: scan every shard of a WAL (in parallel), validate, k-way merge by
// LSN, and decide the consistent cut; then, for a read-write open, remove
// what lies above the cut. docs/recovery.md explains the modes and the cut.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "recovery/shard_scan.h"
#include "shardwal/recovery.h"
#include "src/foundation/manifest.h"

namespace shardwal {

struct RecoveryScan {
  RecoveryReport report;
  Lsn cut = kNoLsn;       // last LSN kept
  Lsn next_lsn = 1;       // where appends continue
  std::vector<ShardLayout> layouts;  // index = shard index in Manifest::AllShardDirs()
  struct Truncation {
    std::string path;
    std::uint64_t size;   // new length
  };
  std::vector<Truncation> truncations;
  std::vector<std::string> deletions;
};

// Reads and validates everything; modifies nothing. `read_only`: no lock is
// held, so another process may be appending (LogReader, the CLI's readers).
Result<RecoveryScan> ScanWal(FileSystem* fs, const Manifest& manifest, RecoveryMode mode, Consistency consistency,
                             bool read_only = false);

// Cuts torn tails and everything above the cut off the shard files (each
// change synced, then its directory), so nothing beyond the cut can
// resurface. Idempotent: a crash part way is finished by the next Open.
Status ApplyCut(FileSystem* fs, const RecoveryScan& scan);

// After ApplyCut: drops the deleted segments from the scan's layouts, so
// replay reads what is on disk now.
void ForgetRemoved(RecoveryScan* scan);

}  // namespace shardwal
