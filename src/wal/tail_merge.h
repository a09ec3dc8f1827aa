// SPDX-License-Identifier: Apache-2.0
// TailMerge: delivers the records of a set of LiveShardCursors (one epoch's
// shards) in LSN order up to a limit, for both kinds of log tailer.
//
//   * all shards: LSN scanned+1 is delivered while it is <= the limit. The
//     limit is W, a gap-free prefix whose batches were completely written
//     before it was published, so that LSN is at the head of some cursor;
//     when none holds it the call fails with NotFound (where each cursor
//     stopped) and the tailer decides: FellBehind or Corruption;
//   * one shard: its records in order while they are <= the limit; none
//     visible at or below it means the shard has none left up to it.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "shardwal/recovery.h"
#include "shardwal/tailer.h"
#include "src/wal/live_shard_cursor.h"

namespace shardwal {

class TailMerge {
 public:
  // One Read call's progress against its TailReadOptions.
  struct Budget {
    explicit Budget(const TailReadOptions& r) : read(r) {}
    const TailReadOptions& read;
    std::size_t records = 0;
    std::size_t bytes = 0;
    bool stopped = false;  // the callback said stop, or a limit was reached
    // Whether a record of `bytes` may still be delivered in this call.
    bool Fits(std::size_t bytes_more) const {
      if (records >= read.max_records) return false;
      return records == 0 || bytes + bytes_more <= read.max_bytes;
    }
    // Delivers `r` (Fits was checked); false when the call must stop.
    bool Deliver(const ReplayCallback& cb, const ReplayRecord& r, std::atomic<Lsn>* position);
  };

  // `one_shard`: the cursors are one shard's (exactly one cursor).
  TailMerge(std::vector<std::unique_ptr<LiveShardCursor>> cursors, std::vector<std::uint32_t> shard_of,
            bool one_shard);

  // Delivers from *scanned + 1 up to `limit`, advancing *scanned (every
  // record of the cursors' shards at or below it was delivered) and
  // *position (the last LSN delivered). Stops early when `abort` is set.
  Status Deliver(const ReplayCallback& cb, Lsn limit, Lsn* scanned, std::atomic<Lsn>* position, Budget* b,
                 const std::atomic<bool>* abort);

 private:
  Status DeliverMerged(const ReplayCallback& cb, Lsn limit, Lsn* scanned, std::atomic<Lsn>* position, Budget* b,
                       const std::atomic<bool>* abort);
  Status DeliverShard(const ReplayCallback& cb, Lsn limit, Lsn* scanned, std::atomic<Lsn>* position, Budget* b,
                      const std::atomic<bool>* abort);
  // The cursor whose head is LSN `lsn`, or -1; re-reads cursors with no head.
  Result<int> FindHead(Lsn lsn);
  // NotFound naming where every cursor stopped.
  Status Missing(Lsn lsn, Lsn limit) const;

  std::vector<std::unique_ptr<LiveShardCursor>> cursors_;
  std::vector<const format::RecordView*> heads_;  // cursors_[i]'s next record, if peeked
  const std::vector<std::uint32_t> shard_of_;
  const bool one_shard_;
  std::size_t last_cursor_ = 0;  // where the last record came from: likely the next one too
};

}  // namespace shardwal
