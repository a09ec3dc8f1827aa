// SPDX-License-Identifier: Apache-2.0
// Scanning one shard directory: which segments it holds and whether they
// belong (ListShardSegments, checked against the MANIFEST). The cursor over
// its valid records is ShardCursor (shard_cursor.h).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "recovery/segment_reader.h"
#include "shardwal/file_system.h"
#include "shardwal/recovery.h"
#include "src/foundation/format.h"
#include "src/foundation/manifest.h"

namespace shardwal {

struct ScanContext {
  FileSystem* fs = nullptr;
  const Manifest* manifest = nullptr;
  RecoveryMode mode = RecoveryMode::kTolerateTornTail;
  bool verify_checksums = true;
  // A read-only scan (no lock): another process may be appending, so the
  // end of a shard's last segment may be half written while it is read.
  // Otherwise the scan is for a read-write open, which will write.
  bool read_only = false;
};

struct SegmentFile {
  std::uint64_t seq = 0;
  std::string path;
  std::uint64_t size = 0;
  format::SegmentHeader header;
  Lsn void_from = 0;  // records with LSN >= this were cut by a later epoch
  // Filled by recovery's validation pass: the segment's last valid record
  // and its batch's commit time (0 / 0 when it holds none).
  Lsn last_lsn = kNoLsn;
  std::uint64_t last_commit_ns = 0;
  bool sealed = false;
  // Where the validation pass stopped reading: later passes and replay read
  // no further, so they see exactly the bytes it validated even while a
  // live writer appends.
  std::uint64_t read_limit = ~0ull;
};

// The usable segments of one shard directory, in sequence order, after the
// recovery mode has ruled on every file-level anomaly.
struct ShardLayout {
  std::uint32_t shard = 0;  // index into Manifest::AllShardDirs()
  std::string dir;
  std::vector<SegmentFile> segments;
  // Files past a point-in-time stop or empty leftovers: recovery may remove.
  std::vector<std::string> removable;
  // Segments below the manifest's first segment: released by a checkpoint,
  // not read; the WAL recycles or deletes them.
  std::vector<std::string> released;
  std::uint64_t bytes = 0;
};

// The error for an anomaly that `mode` does not accept: Corruption, with
// the anomaly's shard, file, offset and LSN and the mode named.
Status RefusedBy(const Anomaly& a, RecoveryMode mode);

// The first anomaly that is damage (not an ignored file), or null.
const Anomaly* FirstDamage(const std::vector<Anomaly>& anomalies);

// Lists `dir`, reads every segment header and checks it against the
// manifest. Anomalies go to *anomalies; a fatal one (per mode) is returned
// as the error.
Result<ShardLayout> ListShardSegments(const ScanContext& ctx, std::uint32_t shard, const std::string& dir,
                                      std::vector<Anomaly>* anomalies);

// An Anomaly with every field set (what both the listing and the cursor
// report).
Anomaly MakeAnomaly(Anomaly::Kind kind, std::uint32_t shard, std::string file, std::uint64_t offset,
                    std::uint64_t bytes, Lsn last_good, std::string message);

}  // namespace shardwal
