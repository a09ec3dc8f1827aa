// SPDX-License-Identifier: Apache-2.0
// The segment files of one restored shard, written front to back: a v2
// segment header (epoch 1), one batch per run of records that share a
// commit time (cut further so no segment passes segment_bytes), a seal at
// the end of every segment, each segment fdatasync'd. docs/format.md is the
// layout; recovery reads the result like a WAL closed cleanly.
//
// A follower (src/ship/follower.cc) appends to one incrementally: Sync
// after each round, Position to record where it got, ResumeAt to go on
// from a recorded position after a restart (what was written after it is
// truncated away).
//
// (shards/SegmentWriter writes a live WAL's segments, prepared ahead by the
// SegmentPreparer; a restore has no preparer, no concurrency and no
// preallocation, so it writes plain files itself.)
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "shardwal/file_system.h"
#include "shardwal/status.h"
#include "src/foundation/format.h"

namespace shardwal::ship {

class SegmentOutput {
 public:
  struct Identity {
    format::WalId wal_id{};
    std::uint32_t shard = 0;
    std::uint32_t shards = 0;
    Lsn checkpoint_lsn = kNoLsn;
  };
  SegmentOutput(FileSystem& fs, std::string dir, Identity id, std::uint64_t segment_bytes);

  // Appends one batch: `body` holds `records` records in the on-disk
  // framing, LSN first..last, all committed at `commit_time_ns`.
  Status AddBatch(std::string_view body, std::uint32_t records, Lsn first, Lsn last, std::uint64_t commit_time_ns);
  // Seals and syncs the last segment (an empty shard gets one segment with
  // a header and a seal), then syncs the directory.
  Status Finish();

  // Where the output stands: enough to go on after a restart.
  struct Position {
    std::uint64_t segment_seq = 0;  // 0: no segment yet
    std::uint64_t offset = 0;       // bytes of segment_seq written
    Lsn segment_last_lsn = kNoLsn;  // last LSN in segment_seq
    Lsn shard_last_lsn = kNoLsn;
    std::uint64_t last_commit_ns = 0;
  };
  Position position() const {
    return {seq_, offset_, segment_last_lsn_, shard_last_lsn_, last_commit_ns_};
  }
  // fdatasyncs the open segment, and the directory if a segment was created
  // since the last Sync.
  Status Sync();
  // Goes on from `p` (recorded after a Sync): reopens its segment cut back
  // to p.offset and deletes the segments after it (written after p was).
  Status ResumeAt(const Position& p);

  std::uint64_t segments() const { return seq_; }
  Lsn last_lsn() const { return shard_last_lsn_; }

 private:
  Status StartSegment(Lsn first_lsn);
  Status SealSegment();
  Status Write(const char* a, std::size_t an, const char* b, std::size_t bn);

  FileSystem& fs_;
  const std::string dir_;
  const Identity id_;
  const std::uint64_t segment_bytes_;
  std::unique_ptr<WritableFile> file_;
  std::uint64_t seq_ = 0;
  std::uint64_t offset_ = 0;
  Lsn segment_last_lsn_ = kNoLsn;
  Lsn shard_last_lsn_ = kNoLsn;
  std::uint64_t last_commit_ns_ = 0;
  bool dir_dirty_ = false;  // a segment was created since the last Sync
};

}  // namespace shardwal::ship
