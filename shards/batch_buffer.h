// BatchBuffer: one shard's batch under construction, laid out exactly as it
// goes to disk (batch header slot, then encoded records), so the flush thread
// writes it with a single pwrite and never copies.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>

#include "shardwal/types.h"
#include "src/format.h"

namespace shardwal {

class BatchBuffer {
 public:
  // `max_body_bytes`: the most record bytes it will ever hold (the shard's
  // backpressure bound). Memory is reserved once, touched as it fills.
  explicit BatchBuffer(std::size_t max_body_bytes);

  bool empty() const { return records_ == 0; }
  std::uint32_t records() const { return records_; }
  std::size_t body_bytes() const { return size_ - format::kBatchHeaderBytes; }
  std::size_t free_bytes() const { return capacity_ - size_; }
  Lsn first_lsn() const { return first_lsn_; }
  Lsn last_lsn() const { return last_lsn_; }
  std::chrono::steady_clock::time_point first_record_time() const { return first_time_; }

  // Room for one encoded record of `bytes` bytes carrying `lsn` (LSNs must
  // increase). The caller encodes into the returned pointer.
  char* AddRecord(Lsn lsn, std::size_t bytes);

  // Writes the batch header; returns header + records, ready for pwrite.
  std::span<const char> Seal(std::uint64_t commit_time_ns, std::uint64_t segment_seq);

  void Clear();

 private:
  std::unique_ptr<char[]> data_;
  std::size_t capacity_;
  std::size_t size_;
  std::uint32_t records_ = 0;
  Lsn first_lsn_ = kNoLsn;
  Lsn last_lsn_ = kNoLsn;
  std::chrono::steady_clock::time_point first_time_{};
};

}  // namespace shardwal
