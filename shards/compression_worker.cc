// SPDX-License-Identifier: Apache-2.0
#include "shards/compression_worker.h"

#include <algorithm>
#include <cassert>

namespace shardwal {

CompressionWorker::CompressionWorker(Compression codec, int level, std::size_t max_batches)
    : compressor_(codec, level), slots_capacity_(max_batches) {
  {
    MutexLock lk(&mu_);
    // Reserved once, here: Begin only overwrites slots.
    sizes_.assign(max_batches, kPending);
  }
  thread_ = std::thread([this] { Run(); });
}

CompressionWorker::~CompressionWorker() {
  {
    MutexLock lk(&mu_);
    stop_ = true;
    work_cv_.NotifyOne();
  }
  if (thread_.joinable()) thread_.join();
}

void CompressionWorker::Begin(std::span<const BatchBuffer::Batch> batches, const char* records, char* packed) {
  MutexLock lk(&mu_);
  assert(batches_.empty() && !busy_ && batches.size() <= sizes_.size());
  std::fill_n(sizes_.begin(), batches.size(), kPending);
  batches_ = batches;
  records_ = records;
  packed_ = packed;
  next_ = 0;
  work_cv_.NotifyOne();
}

std::size_t CompressionWorker::Take(std::size_t i, BatchCompressor& own) {
  MutexLock lk(&mu_);
  assert(i < batches_.size());
  while (sizes_[i] == kPending) {
    if (next_ >= batches_.size()) {
      done_cv_.Wait(lk);  // the worker is on batch i, and nothing is left to claim
      continue;
    }
    // Rather than wait, compress the first batch nobody has claimed: batch
    // i itself when the worker has not started it (it is still waking up),
    // else a later one - when compressing is slower than writing, both
    // cores compress, as two shards would.
    const std::size_t j = next_++;
    const BatchBuffer::Batch& b = batches_[j];
    const std::span<const char> raw{records_ + b.begin, b.end - b.begin};
    char* out = packed_ + b.begin;
    lk.Unlock();
    const std::size_t n = own.Compress(raw, out);
    lk.Lock();
    sizes_[j] = n;
  }
  return sizes_[i];
}

bool CompressionWorker::Ready(std::size_t i) {
  MutexLock lk(&mu_);
  return i < batches_.size() && sizes_[i] != kPending;
}

void CompressionWorker::End() {
  MutexLock lk(&mu_);
  // No batch left to claim; the one the worker holds (if any) it finishes
  // first - a bounded wait, one batch's compression.
  batches_ = {};
  records_ = nullptr;
  packed_ = nullptr;
  next_ = 0;
  while (busy_) done_cv_.Wait(lk);
}

void CompressionWorker::Run() {
  MutexLock lk(&mu_);
  for (;;) {
    while (!stop_ && next_ >= batches_.size()) work_cv_.Wait(lk);
    if (stop_) return;
    const std::size_t i = next_++;
    const BatchBuffer::Batch& b = batches_[i];
    const std::span<const char> raw{records_ + b.begin, b.end - b.begin};
    char* out = packed_ + b.begin;
    busy_ = true;
    lk.Unlock();
    const std::size_t n = compressor_.Compress(raw, out);
    lk.Lock();
    busy_ = false;
    // End() may have ended the flush meanwhile: then nobody reads the slot.
    sizes_[i] = n;
    done_cv_.NotifyOne();
  }
}

}  // namespace shardwal
