#include "shards/batch_buffer.h"

#include <cassert>

namespace shardwal {

BatchBuffer::BatchBuffer(std::size_t max_body_bytes)
    // new char[] leaves the memory untouched: pages are only faulted in as
    // records fill them.
    : data_(new char[max_body_bytes + format::kBatchHeaderBytes]),
      capacity_(max_body_bytes + format::kBatchHeaderBytes),
      size_(format::kBatchHeaderBytes) {}

char* BatchBuffer::AddRecord(Lsn lsn, std::size_t bytes) {
  assert(bytes <= free_bytes());
  assert(lsn > last_lsn_);
  if (records_ == 0) {
    first_lsn_ = lsn;
    first_time_ = std::chrono::steady_clock::now();
  }
  last_lsn_ = lsn;
  ++records_;
  char* out = data_.get() + size_;
  size_ += bytes;
  return out;
}

std::span<const char> BatchBuffer::Seal(std::uint64_t commit_time_ns, std::uint64_t segment_seq) {
  format::BatchHeader h;
  h.body_bytes = static_cast<std::uint32_t>(body_bytes());
  h.record_count = records_;
  h.first_lsn = first_lsn_;
  h.last_lsn = last_lsn_;
  h.commit_time_ns = commit_time_ns;
  h.segment_seq = segment_seq;
  format::EncodeBatchHeader(h, data_.get());
  return {data_.get(), size_};
}

void BatchBuffer::Clear() {
  size_ = format::kBatchHeaderBytes;
  records_ = 0;
  first_lsn_ = last_lsn_ = kNoLsn;
}

}  // namespace shardwal
