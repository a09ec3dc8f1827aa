// SPDX-License-Identifier: Apache-2.0
// BatchBuffer: the records a shard has buffered, already encoded, cut into
// batches of at most max_batch_bytes (a single larger record gets a batch of
// its own). The flush thread writes all of them with one pwritev - each
// batch's header from its own slot, each body straight from the buffer - so
// records are copied exactly once, by the writer that appended them.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "shardwal/types.h"
#include "src/foundation/format.h"

namespace shardwal {

class BatchBuffer {
 public:
  // One batch: a contiguous run of records in the buffer plus its header.
  struct Batch {
    std::size_t begin = 0;  // offset of the first record in the buffer
    std::size_t end = 0;    // one past the last record
    std::uint32_t records = 0;
    Lsn first_lsn = kNoLsn;
    Lsn last_lsn = kNoLsn;
    char header[format::kBatchHeaderBytes];
  };

  // `max_body_bytes`: the most record bytes it will ever hold (the shard's
  // backpressure bound). Memory is reserved once and touched as it fills.
  BatchBuffer(std::size_t max_body_bytes, std::size_t max_batch_bytes);

  // The most batches a buffer of `max_body_bytes` can hold.
  static std::size_t MaxBatches(std::size_t max_body_bytes, std::size_t max_batch_bytes);

  bool empty() const { return size_ == 0; }
  std::size_t body_bytes() const { return size_; }
  std::size_t free_bytes() const { return capacity_ - size_; }
  Lsn first_lsn() const { return batches_.empty() ? kNoLsn : batches_.front().first_lsn; }
  std::chrono::steady_clock::time_point first_record_time() const { return first_time_; }

  // Room for one encoded record of `bytes` bytes carrying `lsn` (LSNs must
  // increase). The caller encodes into the returned pointer.
  char* AddRecord(Lsn lsn, std::size_t bytes);

  std::span<Batch> batches() { return batches_; }
  std::span<const char> body(const Batch& b) const { return {data_.get() + b.begin, b.end - b.begin}; }
  // Where the records start: Batch::begin and end are offsets from here.
  const char* records() const { return data_.get(); }

  // What the flush thread knows when it writes a batch, for its header.
  struct Stamp {
    std::uint64_t commit_time_ns = 0;
    std::uint64_t segment_seq = 0;
    Lsn durable_lsn = kNoLsn;         // the WAL's durable watermark W
    std::uint64_t synced_offset = 0;  // bytes of the segment already durable
  };
  // Fills in a batch's header for a body stored as `stored_bytes` bytes
  // with `codec` (format::kCodecNone: the records as they are).
  static void Seal(Batch& b, const Stamp& stamp, std::size_t stored_bytes, std::uint8_t codec);

  void Clear();

 private:
  std::unique_ptr<char[]> data_;
  std::size_t capacity_;
  std::size_t max_batch_bytes_;
  std::size_t size_ = 0;
  std::vector<Batch> batches_;  // reserved up front: no allocation on append
  std::chrono::steady_clock::time_point first_time_{};
};

}  // namespace shardwal
