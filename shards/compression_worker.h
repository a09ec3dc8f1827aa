// SPDX-License-Identifier: Apache-2.0
// CompressionWorker: a shard's second compressor, on a thread of its own, so
// that one shard's flush thread can write batch i while batch i+1 is being
// compressed (with a single shard, compression and the device's write time
// otherwise add up).
//
// Only flushes of two or more batches are handed over (ShardLog::WriteBatch):
// a flush of one batch - the group-commit case - still compresses inline,
// with no handoff on its latency path. The worker never sees an appender:
// it only reads the records of the buffer the flush thread swapped out.
//
// One flush at a time, all of it driven by the flush thread:
//   Begin(batches)   the worker starts compressing them in order, each into
//                    its own slot of `packed` (at the batch's offset in the
//                    record buffer: a stored body is never larger than its
//                    records, so no slot overlaps the next: the flush
//                    thread writes batch i while batch i+1 is compressed);
//   Take(i) ...      batch i's stored size, in order. While batch i is not
//                    compressed yet, the flush thread compresses the first
//                    batch nobody has claimed (batch i itself while the
//                    worker wakes, else a later one: when compressing is
//                    slower than writing, both cores compress) and waits
//                    only when none is left;
//   End()            the worker takes no more batches of this flush; returns
//                    once it holds no pointer into them (before the buffer is
//                    cleared), also after an error left batches untaken.
// The codec decision and bytes are the same as inline: both compressors use
// the same codec and level, and compression does not depend on history.
//
// Waits on condition variables only (no polling). Nothing is allocated per
// flush or per batch: the result slots are sized for the most batches one
// buffer can hold (BatchBuffer::MaxBatches).
#pragma once

#include <cstdint>
#include <span>
#include <thread>
#include <vector>

#include "shards/batch_buffer.h"
#include "src/foundation/batch_codec.h"
#include "src/foundation/mutex.h"

namespace shardwal {

class CompressionWorker {
 public:
  // Starts the thread (RAII: the destructor stops and joins it). `max_batches`:
  // the most batches one flush can hand over.
  CompressionWorker(Compression codec, int level, std::size_t max_batches);
  ~CompressionWorker() EXCLUDES(mu_);  // (not copyable: its Mutex is not)

  std::size_t max_batches() const { return slots_capacity_; }

  // Flush thread: hands over one flush's batches (at most max_batches(), and
  // no flush already begun). `records`: the start of the record buffer they
  // point into (Batch::begin / end are offsets in it); `packed`: where each
  // stored body goes, at the batch's own offset. Both, and `batches`, must
  // stay valid until End().
  void Begin(std::span<const BatchBuffer::Batch> batches, const char* records, char* packed) EXCLUDES(mu_);

  // Flush thread, in batch order: the stored size of batch i, whose stored
  // body is at packed + batches[i].begin (0: not worth compressing, store
  // the records raw). Until batch i is done, compresses unclaimed batches
  // with `own` (the flush thread's compressor); waits for the worker only
  // when none is left.
  std::size_t Take(std::size_t i, BatchCompressor& own) EXCLUDES(mu_);

  // Flush thread: whether batch i is compressed already (Take would not wait).
  bool Ready(std::size_t i) EXCLUDES(mu_);

  // Flush thread: ends the flush Begin started (a no-op without one). On
  // return the worker neither works on nor points into its batches.
  void End() EXCLUDES(mu_);

 private:
  static constexpr std::size_t kPending = static_cast<std::size_t>(-1);

  void Run() EXCLUDES(mu_);

  BatchCompressor compressor_;  // unguarded: the worker thread only
  const std::size_t slots_capacity_;

  Mutex mu_;
  CondVar work_cv_;  // the worker waits for batches to compress
  CondVar done_cv_;  // the flush thread waits for a batch, or for the worker to let go (End)
  std::span<const BatchBuffer::Batch> batches_ GUARDED_BY(mu_);  // the flush begun; empty: none
  const char* records_ GUARDED_BY(mu_) = nullptr;
  char* packed_ GUARDED_BY(mu_) = nullptr;
  std::size_t next_ GUARDED_BY(mu_) = 0;        // the first batch nobody has claimed
  std::vector<std::size_t> sizes_ GUARDED_BY(mu_);  // per batch: stored size, or kPending
  bool busy_ GUARDED_BY(mu_) = false;           // the worker compresses a batch of batches_
  bool stop_ GUARDED_BY(mu_) = false;
  std::thread thread_;  // unguarded: constructor and destructor only, on the owner's thread
};

}  // namespace shardwal
