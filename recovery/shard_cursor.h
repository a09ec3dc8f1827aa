// SPDX-License-Identifier: Apache-2.0
// ShardCursor: one shard's valid records in LSN order, over the segments
// ListShardSegments found (shard_scan.h), applying the recovery mode to every
// anomaly its SegmentReader meets: torn tail, zeroed tail, damage to synced
// bytes, a missing seal.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "recovery/segment_reader.h"
#include "recovery/shard_scan.h"

namespace shardwal {

// Where a record is on disk.
struct RecordPosition {
  std::size_t segment_index = 0;  // into ShardLayout::segments
  std::uint64_t batch_offset = 0;
  std::uint64_t batch_end = 0;
  bool first_in_batch = false;
};

// The valid, non-void records of one shard in LSN order.
class ShardCursor {
 public:
  ShardCursor(const ScanContext& ctx, const ShardLayout& layout, std::vector<Anomaly>* anomalies);

  // Advances to the next record. False at the end of the shard's valid
  // records, or when an anomaly the mode does not tolerate stopped it
  // (status() then says why).
  bool Next();
  const format::RecordView& record() const { return rec_; }
  const RecordPosition& position() const { return pos_; }
  std::uint64_t commit_time_ns() const { return reader_->batch().commit_time_ns; }
  const Status& status() const { return status_; }
  std::uint32_t shard() const { return layout_.shard; }

  // Where the valid data of each segment ends (for truncating torn tails):
  // (segment index, end offset) of segments that had an anomaly at the end.
  struct TailCut {
    std::size_t segment_index;
    std::uint64_t valid_end;
  };
  const std::vector<TailCut>& tail_cuts() const { return tail_cuts_; }
  // What the cursor learned of each segment (last_lsn, last_commit_ns,
  // sealed), by index into the layout's segments.
  const std::vector<SegmentFile>& summaries() const { return summaries_; }

  // Set when point-in-time mode stopped this shard: nothing after counts.
  bool stopped_early() const { return stopped_early_; }
  std::size_t stopped_at_segment() const { return segment_; }

  // The highest durable watermark W that a (non-void) batch or seal of this
  // shard recorded: every LSN up to it had been acknowledged.
  Lsn max_durable_lsn() const { return max_durable_lsn_; }

 private:
  bool OpenSegment();
  // Rules on the anomaly that stopped the current segment's reader. True to
  // keep going (next segment or resynced), false to stop the shard.
  bool HandleAnomaly();
  // Rules on how a segment's data ended without an anomaly (a non-last
  // segment must have been sealed). False to stop the shard.
  bool EndOfSegment();
  void Report(Anomaly::Kind kind, std::uint64_t offset, std::uint64_t bytes, const std::string& msg);
  // Done with the current segment: notes where its data ended and the W its
  // seal recorded, and moves on to the next.
  void EndSegmentRead();

  ScanContext ctx_;
  const ShardLayout& layout_;
  std::vector<Anomaly>* anomalies_;
  std::unique_ptr<SegmentReader> reader_;
  std::size_t segment_ = 0;
  format::RecordView rec_;
  RecordPosition pos_;
  Lsn last_lsn_ = kNoLsn;
  std::uint64_t last_batch_offset_ = ~0ull;
  std::vector<TailCut> tail_cuts_;
  std::vector<SegmentFile> summaries_;
  Lsn max_durable_lsn_ = kNoLsn;
  bool stopped_early_ = false;
  bool done_ = false;
  Status status_;
};

}  // namespace shardwal
