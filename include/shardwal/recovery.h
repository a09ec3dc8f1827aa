// SPDX-License-Identifier: Apache-2.0
// What recovery found and did, and how to read a WAL back (replay).
//
// Wal::Open recovers an existing WAL before it accepts appends;
// Wal::recovery_report() says what happened. LogReader opens a WAL read-only
// (no lock, nothing modified: safe while another process appends) and
// replays its records in LSN order.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "shardwal/export.h"
#include "shardwal/options.h"
#include "shardwal/status.h"
#include "shardwal/types.h"

namespace shardwal {

// One thing recovery found wrong, with where it is.
struct SHARDWAL_EXPORT Anomaly {
  enum class Kind : std::uint8_t {
    kTornTail,           // a partial last write at the end of a shard's last segment
    kZeroedTail,         // zeros (preallocated or never written) at the end of the last segment
    kCorruption,         // bad checksum, framing or LSN order with valid data after it
    kMissingSegment,     // a gap in a shard's segment sequence numbers
    kForeignSegment,     // a segment of another WAL (different WAL id)
    kMisplacedSegment,   // a segment of another shard, epoch or shard count
    kUnreadableSegment,  // the segment header itself is bad or cut short
    kDuplicateLsn,       // the same LSN in two shards
    kMissingRecords,     // an LSN is missing while every shard holds later ones
    kIgnoredFile,        // a file in a shard directory that is not a segment
  };
  Kind kind = Kind::kCorruption;
  std::uint32_t shard = 0;
  std::string file;          // the segment (or other file) concerned
  std::uint64_t offset = 0;  // byte offset in the file where it starts
  std::uint64_t bytes = 0;   // bytes not accepted from there on (0 if unknown)
  Lsn last_good_lsn = kNoLsn;  // the shard's last valid LSN before it
  std::string message;

  // "torn tail in shard 2 /w/shard-2/shard0002-000000000003.wal at offset
  //  4096 (512 bytes) after LSN 1234: batch header cut short"
  std::string ToString() const;
};
SHARDWAL_EXPORT std::string_view AnomalyKindName(Anomaly::Kind k);

struct ShardRecovery {
  std::uint32_t shard = 0;
  std::string dir;
  std::uint64_t segments = 0;       // segment files scanned
  std::uint64_t records = 0;        // valid records kept (<= cut)
  std::uint64_t bytes = 0;          // bytes of segments scanned
  Lsn first_lsn = kNoLsn, last_lsn = kNoLsn;  // of the records kept
  std::uint64_t records_cut = 0;    // valid records above the cut, removed
  std::uint64_t bytes_truncated = 0;  // bytes cut off the shard's files
  std::uint64_t segments_removed = 0;  // whole segments removed
};

struct SHARDWAL_EXPORT RecoveryReport {
  RecoveryMode mode = RecoveryMode::kTolerateTornTail;
  Consistency consistency = Consistency::kGlobal;
  bool existing = false;            // false: a new WAL, nothing to recover
  Lsn first_lsn = kNoLsn;           // first LSN retained
  Lsn cut_lsn = kNoLsn;             // C: every LSN first..C is present (global mode)
  Lsn max_lsn_seen = kNoLsn;        // the highest valid LSN found anywhere
  Lsn checkpoint_lsn = kNoLsn;      // recovery and replay start after it
  std::uint64_t records = 0;        // records kept (above the checkpoint)
  std::uint64_t records_checkpointed = 0;  // valid records at or below the checkpoint, read past
  std::uint64_t bytes_scanned = 0;
  double seconds = 0;
  std::vector<ShardRecovery> shards;
  std::vector<Anomaly> anomalies;   // everything found, in discovery order
  std::vector<Lsn> missing_lsns;    // salvage / per-shard: LSN gaps below the max (first 1000)

  std::string Summary() const;      // a few human-readable lines
};

// One record as replay hands it out. Views are valid during the callback.
struct ReplayRecord {
  Lsn lsn = kNoLsn;
  RecordType type = RecordType::kData;
  std::uint64_t txn_id = 0;
  std::string_view tag;
  std::string_view payload;
  std::uint32_t shard = 0;
  std::uint64_t commit_time_ns = 0;  // wall clock when its batch was written
};

// Return false from a replay callback to stop early (Replay then returns OK).
using ReplayCallback = std::function<bool(const ReplayRecord&)>;

// What transaction-aware replay decided about each transaction it saw.
struct TxnReplayReport {
  std::uint64_t committed = 0;
  std::vector<std::uint64_t> aborted;      // abort record <= cut
  std::vector<std::uint64_t> incomplete;   // begun or written, never decided: rolled back
  std::vector<std::uint64_t> in_doubt;     // prepared, neither committed nor aborted
  std::uint64_t data_records_delivered = 0;
  std::uint64_t data_records_skipped = 0;  // of aborted, incomplete or in-doubt transactions
};

// A read-only view of a WAL's recovered records.
//
// Threading: Open from any thread; after it, every method may be called
// from any thread concurrently (the reader only reads: pread on files it
// opened). It may run beside a live writer of the same WAL: Open's scans
// tell a writer that is ahead from a shard that came back short
// (docs/design.md, "What was acknowledged"), and the reader sees the records
// up to the cut it computed at Open.
class SHARDWAL_EXPORT LogReader {
 public:
  // Scans and validates every shard (in parallel) and computes the cut,
  // modifying nothing and taking no lock. Uses options.dir (the MANIFEST
  // lists the shard directories), recovery_mode, consistency, file_system.
  static Result<std::unique_ptr<LogReader>> Open(const Options& options);
  virtual ~LogReader() = default;

  virtual const RecoveryReport& report() const = 0;  // immutable after Open

  // Every recovered record with LSN >= from_lsn, in LSN order, up to the cut.
  // The callback runs on the caller's thread (see ReplayCallback).
  virtual Status Replay(Lsn from_lsn, const ReplayCallback& callback) const = 0;

  // Data records of committed transactions (commit record <= cut) and data
  // records outside transactions (txn_id 0), in LSN order; transaction
  // control records are not delivered. Memory: one entry per transaction.
  virtual Status ReplayCommitted(Lsn from_lsn, const ReplayCallback& callback,
                                 TxnReplayReport* report = nullptr) const = 0;
};

}  // namespace shardwal
