// SPDX-License-Identifier: Apache-2.0
// ShardLog: one shard of the WAL - its batch buffer, its flush thread and its
// segment files, in its own directory.
//
// Writers copy encoded records into the active buffer under the shard mutex
// (taking their LSNs from the global counter under that same mutex, which
// is what makes the shard's LSNs increase in buffer order). The flush thread
// swaps the active buffer for its empty twin, writes the batch with one
// pwritev (batch header + body) and, when anyone needs it durable, one
// fdatasync; meanwhile the
// next batch fills. It blocks on a condition variable when there is nothing
// to do: no polling.
//
// With compression, a flush of two or more batches is handed to the shard's
// CompressionWorker (shards/compression_worker.h): it compresses batch i+1
// while the flush thread writes batch i (one pwritev per group of batches
// compressed by then; still one fdatasync per flush). Headers, segment
// choice and rotation stay on the flush thread, in batch order. A flush of
// one batch (group commit) compresses inline, as without the worker.
//
// A batch is cut when
//   * a record someone waits for arrives (Durability::kGroup) or a waiter
//     asks for it (RequestSync) - at once when the flush thread is idle,
//     else as soon as it finishes the batch in flight (group commit);
//   * the buffer reaches max_batch_bytes;
//   * max_batch_delay has passed since the batch's first record.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <thread>

#include "shardwal/file_system.h"
#include "shardwal/options.h"
#include "shardwal/wal.h"
#include "shards/batch_buffer.h"
#include "shards/compression_worker.h"
#include "shards/segment_writer.h"
#include "src/foundation/batch_codec.h"
#include "src/observability/histogram.h"
#include "src/commit/wal_core.h"
#include "src/foundation/logger.h"
#include "src/foundation/mutex.h"

namespace shardwal {

struct ShardConfig {
  std::uint32_t id = 0;
  std::uint32_t count = 1;
  std::string dir;
  format::WalId wal_id{};
  std::uint32_t epoch = 0;
  Lsn epoch_first_lsn = kNoLsn;
  const std::atomic<Lsn>* checkpoint_lsn = nullptr;  // the WAL's, for segment headers
  SegmentSet* segment_set = nullptr;  // the shard directory's segments
  std::size_t max_batch_bytes = 0;
  std::chrono::microseconds max_batch_delay{0};
  std::uint64_t segment_bytes = 0;
  std::size_t max_buffered_bytes = 0;
  Compression compression = Compression::kNone;  // of batch bodies, by the flush thread
  int compression_level = 0;
  bool per_shard_consistency = false;  // publish F(shard) for WaitShard
  FileSystem* fs = nullptr;
  const Logger* log = nullptr;  // rotations (debug), slow fdatasyncs (warning); never per append
  std::chrono::microseconds slow_fsync_threshold{0};  // 0: never warn
};

class ShardLog {
 public:
  ShardLog(const ShardConfig& config, WalCore* core);
  ~ShardLog();  // Stops and joins the flush thread.

  // Starts the flush thread (and, with compression, the CompressionWorker,
  // before it). On the owner's thread, once.
  void Start();
  std::uint32_t id() const { return config_.id; }
  const std::string& dir() const { return config_.dir; }

  // ---- append path: the caller holds mu() ---------------------------------
  Mutex& mu() RETURN_CAPABILITY(mu_) { return mu_; }

  // OK when `bytes` more fit in the buffer; Closed / the WAL's error /
  // Backpressure otherwise. When `block`, waits up to `timeout` for room
  // (letting go of mu() meanwhile; `lk` holds it).
  Status WaitForRoomLocked(MutexLock& lk, std::size_t bytes, bool block, std::chrono::milliseconds timeout)
      REQUIRES(mu_);

  // Must be called before taking LSNs from the counter for this shard: if the
  // shard holds nothing pending, its floor becomes the counter's value.
  void ReserveFloorLocked() REQUIRES(mu_);

  // Encodes one record into the buffer. Returns true when the flush thread
  // must be woken (call WakeFlusher() after releasing the mutex).
  bool AddRecordLocked(Lsn lsn, const RecordSpec& rec, std::uint32_t body_crc, Durability durability)
      REQUIRES(mu_);

  void WakeFlusher() { flush_cv_.NotifyOne(); }

  // The cohort of writers the last watermark advance woke has appended
  // again: a flush thread waiting for it cuts its batch now.
  void CohortReturned() EXCLUDES(mu_);

  // Makes sure every record of this shard with an LSN <= lsn gets synced
  // soon, whatever its durability (someone waits for it).
  void RequestSync(Lsn lsn) EXCLUDES(mu_);

  // ---- lifecycle -------------------------------------------------------------
  // Stops accepting appends; the flush thread writes and syncs everything
  // buffered, then exits. Join() waits for that.
  void BeginStop() EXCLUDES(mu_);
  void Join();
  // Wakes writers blocked on backpressure and the flush thread (failed state).
  void WakeAll() EXCLUDES(mu_);

  ShardStats Stats() const;
  // What Stats() does not have: append bytes, buffered records, the
  // histograms and the flush thread's health (the rest of `m` is left as is).
  void FillMetrics(ShardMetrics& m) const;

 private:
  void FlushLoop() EXCLUDES(mu_);
  void WaitForWorkLocked(MutexLock& lk) REQUIRES(mu_);
  // True while cutting should wait for the cohort of writers woken by the
  // last sync (see CohortTracker): bounded by cohort_deadline_.
  bool AwaitingCohortLocked() const REQUIRES(mu_);
  Status WriteBatch(bool sync);
  // What every batch header of one flush carries besides its own fields.
  struct Stamping {
    std::uint64_t commit_time_ns = 0;
    // Every LSN up to W was acknowledged as durable: recorded in each batch,
    // it lets recovery tell a shard that came back short from a crash.
    Lsn durable = kNoLsn;
  };
  // Flush thread: writes flushing_'s batches (two or more, compression on)
  // while overlap_ compresses the later ones: one pwritev per group of
  // batches compressed by then. Returns only once the worker let go of
  // flushing_, also on error. No fdatasync (WriteBatch's).
  Status WriteOverlapped(const Stamping& stamping);
  // Flush thread: picks the segment for `batch` stored as `stored` (rotating
  // if it is full), seals its header and queues it; bumps the batch stats.
  Status QueueBatch(BatchBuffer::Batch& batch, std::span<const char> stored, std::uint8_t codec,
                    const Stamping& stamping);
  // The bytes to store for `body` (compressed into packed_ at *packed_used
  // when that makes it smaller, else `body` itself) and their codec byte.
  std::span<const char> StoredBody(std::span<const char> body, std::size_t* packed_used, std::uint8_t* codec);
  std::string Describe() const;  // "shard 3 (/dir/shard-3)"
  // Logs a slow fdatasync, at most once a second (flush thread only).
  void WarnSlowFsync(std::chrono::nanoseconds took);

  // Lock annotations (docs/design.md): every member says what guards it.
  const ShardConfig config_;
  WalCore* const core_;      // unguarded: WalCore synchronises itself
  std::atomic<Lsn>& floor_;  // this shard's pending floor in the watermark (an atomic; stored under mu_)
  SegmentWriter segments_;   // unguarded: flush thread only (Stats reads its atomic counter)
  // Compression (null without): the compressor and where one flush's
  // compressed bodies go until its pwritev. Each stored body is smaller
  // than its records, so max_buffered_bytes always holds a whole flush;
  // with the worker, each goes at its batch's offset in the buffer.
  std::unique_ptr<BatchCompressor> compressor_;  // unguarded: flush thread only
  // (overlap_'s thread writes the slots of the batches it claimed, between Begin and End.)
  std::unique_ptr<char[]> packed_;  // unguarded: flush thread only, but see above
  // Compresses the later batches of a flush of several while the flush
  // thread writes (null without compression, or before Start).
  // unguarded: set in Start before the flush thread starts, reset in Join after it ended
  std::unique_ptr<CompressionWorker> overlap_;

  Mutex mu_;
  CondVar flush_cv_;                              // the flush thread waits here
  CondVar room_cv_;                               // writers waiting for buffer room
  BatchBuffer active_ GUARDED_BY(mu_);            // filled by writers
  BatchBuffer flushing_;                          // unguarded: flush thread only (swapped with active_ under mu_)
  std::atomic<bool> urgent_{false};               // cut the batch now and sync it
  bool batch_needs_sync_ GUARDED_BY(mu_) = false;  // holds an async/group record
  bool unsynced_written_ GUARDED_BY(mu_) = false;  // kNone records written, not synced
  bool flush_in_flight_ GUARDED_BY(mu_) = false;   // a batch is being written (and maybe synced)
  bool sync_in_flight_ GUARDED_BY(mu_) = false;    // ... and it ends with an fdatasync
  bool flusher_idle_ GUARDED_BY(mu_) = false;      // the flush thread waits on flush_cv_
  bool cohort_wait_ GUARDED_BY(mu_) = false;       // ... for the woken cohort to re-append
  bool after_sync_ GUARDED_BY(mu_) = false;        // no batch cut since the last sync
  std::chrono::steady_clock::time_point cohort_deadline_ GUARDED_BY(mu_){};
  std::chrono::nanoseconds fsync_ewma_{0};  // unguarded: flush thread only (recent fdatasync time)
  bool stop_ GUARDED_BY(mu_) = false;
  std::uint32_t room_waiters_ GUARDED_BY(mu_) = 0;
  std::thread thread_;  // unguarded: Start and Join only, on the owner's thread

  // Stats and metrics: relaxed atomics, read without the lock while the
  // shard runs. Those bumped by appenders are written only under mu_, so
  // BumpLocked adds with a load and a store, not a locked fetch_add. The
  // flush thread's counters are bumped once per batch (fetch_add).
  std::atomic<std::uint64_t> records_{0}, append_bytes_{0}, buffered_records_{0}, backpressure_waits_{0};
  std::atomic<std::uint64_t> bytes_{0}, batches_{0}, writes_{0}, fsyncs_{0}, fsync_nanos_{0}, buffered_{0};
  std::atomic<std::uint64_t> uncompressed_bytes_{0};  // what bytes_ would be without compression
  std::atomic<std::uint64_t> payload_bytes_{0};  // tag + payload of the records written (per batch)
  Histogram flush_ns_, fsync_ns_, batch_records_, batch_bytes_;  // unguarded: relaxed atomics inside
  std::atomic<std::int64_t> last_flush_ns_{-1};  // steady_clock, of the last successful flush; -1: none
  std::atomic<bool> flush_thread_alive_{false};
  // Slow-fsync warnings.
  std::chrono::steady_clock::time_point last_slow_warning_{};  // unguarded: flush thread only
  std::uint64_t slow_fsyncs_unreported_ = 0;                   // unguarded: flush thread only
};

}  // namespace shardwal
