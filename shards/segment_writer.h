// SPDX-License-Identifier: Apache-2.0
// SegmentWriter: the segment files of one shard, from the flush thread's
// side. Gathers the batches queued since the last Flush into one pwritev
// (one flush's batches, or a group of them when ShardLog overlaps
// compression with writing) - a new segment's header rides along - and
// rotates once a segment reaches segment_bytes: seals the old segment (a
// seal batch, then fdatasync) and takes the next one, which the
// SegmentPreparer made ready in the background (created or recycled,
// preallocated, its directory entry durable). On a clean Close the last
// segment is sealed and trimmed to its data.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "shardwal/file_system.h"
#include "shardwal/status.h"
#include "shards/segment_set.h"
#include "src/foundation/format.h"

namespace shardwal {

class SegmentWriter {
 public:
  struct Identity {
    format::WalId wal_id{};
    std::uint32_t shard_id = 0;
    std::uint32_t shard_count = 0;
    std::uint32_t epoch = 0;
    Lsn epoch_first_lsn = kNoLsn;
    // The WAL's checkpoint LSN, read when a segment starts (its header keeps
    // it, so a lost MANIFEST can be rebuilt). Null: 0.
    const std::atomic<Lsn>* checkpoint_lsn = nullptr;
  };

  // New segments come from `segments` (the shard directory's SegmentSet).
  SegmentWriter(SegmentSet* segments, Identity id, std::uint64_t segment_bytes);
  ~SegmentWriter();

  // The segment the next batch of `bytes` bytes will go to (writing what is
  // queued and rotating to a new segment first if the current one is full;
  // the old one's seal records `durable_lsn`, the WAL's watermark). Its
  // sequence goes into the batch header, so call this before sealing.
  Result<std::uint64_t> SegmentFor(std::size_t bytes, Lsn first_lsn, Lsn durable_lsn);

  // Queues a sealed batch (header and body stay owned by the caller until
  // Flush) for the segment SegmentFor() chose.
  void Queue(std::span<const char> header, std::span<const char> body, Lsn last_lsn, std::uint64_t commit_time_ns);

  // Writes everything queued with one pwritev.
  Status Flush();

  // fdatasync of the current segment. Never retried by the caller.
  Status Sync();

  // `clean`: seal the current segment (recording `durable_lsn`), trim it to
  // its data and sync it (a normal shutdown). Otherwise (failed state) only
  // close the file.
  Status Close(bool clean = false, Lsn durable_lsn = kNoLsn);

  bool has_unsynced() const { return unsynced_; }
  // Bytes of the current segment the last successful Sync made durable (0
  // for a segment not synced since it started): goes into each batch header.
  std::uint64_t synced_offset() const { return synced_offset_; }
  std::uint64_t segments_created() const { return segments_created_.load(std::memory_order_relaxed); }
  const std::string& current_path() const;

 private:
  Status Rotate(Lsn first_lsn, Lsn durable_lsn);
  // Writes a seal after the current segment's data and syncs it.
  Status Seal(Lsn durable_lsn);
  // "shard 2 segment /d/shard-2/shard0002-000000000003.wal offset 4096"
  std::string Where() const;

  SegmentSet* set_;
  Identity id_;
  std::uint64_t segment_bytes_;
  std::uint64_t capacity_ = 0;  // of the current segment (PreparedSegment::capacity)
  std::unique_ptr<WritableFile> file_;
  std::uint64_t seq_ = 0;
  std::uint64_t offset_ = 0;         // bytes written to the current segment
  std::uint64_t synced_offset_ = 0;  // ... and made durable
  std::vector<iovec> queued_;        // reserved once; no allocation per flush
  std::uint64_t queued_bytes_ = 0;
  bool header_pending_ = false;
  bool unsynced_ = false;
  Lsn last_lsn_ = kNoLsn;                // of the current segment's last batch
  std::uint64_t last_commit_ns_ = 0;
  std::uint16_t flags_ = 0;              // of the current segment's header
  std::atomic<std::uint64_t> segments_created_{0};  // read by Stats()
  char header_[format::kSegmentHeaderBytes];
  char seal_[format::kBatchHeaderBytes];
};

}  // namespace shardwal
