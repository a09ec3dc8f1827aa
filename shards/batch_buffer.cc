// SPDX-License-Identifier: Apache-2.0
#include "shards/batch_buffer.h"

#include <algorithm>
#include <cassert>

namespace shardwal {

BatchBuffer::BatchBuffer(std::size_t max_body_bytes, std::size_t max_batch_bytes)
    // new char[] leaves the memory untouched: pages are faulted in as
    // records fill them.
    : data_(new char[max_body_bytes]), capacity_(max_body_bytes), max_batch_bytes_(max_batch_bytes) {
  batches_.reserve(MaxBatches(max_body_bytes, max_batch_bytes));
}

std::size_t BatchBuffer::MaxBatches(std::size_t max_body_bytes, std::size_t max_batch_bytes) {
  // A batch is only closed when the next record would take it past
  // max_batch_bytes, so any two neighbours together exceed it: at most
  // 2 * capacity / max_batch_bytes + 1 batches fit (and never more than
  // there are records).
  return std::min(2 * (max_body_bytes / max_batch_bytes) + 2, max_body_bytes / format::kRecordHeaderBytes + 1);
}

char* BatchBuffer::AddRecord(Lsn lsn, std::size_t bytes) {
  assert(bytes <= free_bytes());
  if (batches_.empty()) first_time_ = std::chrono::steady_clock::now();
  if (batches_.empty() || (batches_.back().end - batches_.back().begin + bytes > max_batch_bytes_)) {
    Batch& b = batches_.emplace_back();
    b.begin = b.end = size_;
    b.first_lsn = lsn;
  }
  Batch& b = batches_.back();
  assert(lsn > b.last_lsn);
  b.last_lsn = lsn;
  ++b.records;
  b.end += bytes;
  char* out = data_.get() + size_;
  size_ += bytes;
  return out;
}

void BatchBuffer::Seal(Batch& b, const Stamp& stamp, std::size_t stored_bytes, std::uint8_t codec) {
  format::BatchHeader h;
  h.body_bytes = static_cast<std::uint32_t>(stored_bytes);
  h.raw_bytes = static_cast<std::uint32_t>(b.end - b.begin);
  h.codec = codec;
  h.record_count = b.records;
  h.first_lsn = b.first_lsn;
  h.last_lsn = b.last_lsn;
  h.commit_time_ns = stamp.commit_time_ns;
  h.segment_seq = stamp.segment_seq;
  h.durable_lsn = stamp.durable_lsn;
  h.synced_offset = stamp.synced_offset;
  format::EncodeBatchHeader(h, b.header);
}

void BatchBuffer::Clear() {
  size_ = 0;
  batches_.clear();
}

}  // namespace shardwal
