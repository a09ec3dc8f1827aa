// SPDX-License-Identifier: Apache-2.0
#include "shards/shard_log.h"

#include <algorithm>
#include <cassert>

#include "shards/compression_worker.h"

namespace shardwal {

namespace {
// Adds to a counter that only mu_'s holder writes (readers load it without
// the lock): a load and a store, no locked read-modify-write.
void BumpLocked(std::atomic<std::uint64_t>& counter, std::uint64_t n) {
  counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

std::uint64_t WallClockNanos() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}
}  // namespace

ShardLog::ShardLog(const ShardConfig& config, WalCore* core)
    : config_(config),
      core_(core),
      floor_(core->watermark.pending_floor(config.id)),
      segments_(config.segment_set,
                SegmentWriter::Identity{config.wal_id, config.id, config.count, config.epoch, config.epoch_first_lsn,
                                        config.checkpoint_lsn},
                config.segment_bytes),
      active_(config.max_buffered_bytes, config.max_batch_bytes),
      flushing_(config.max_buffered_bytes, config.max_batch_bytes) {
  if (config.compression != Compression::kNone) {
    compressor_ = std::make_unique<BatchCompressor>(config.compression, config.compression_level);
    // Untouched until compressed bodies fill it, like the batch buffers.
    packed_.reset(new char[config.max_buffered_bytes]);
  }
}

ShardLog::~ShardLog() {
  BeginStop();
  Join();
}

void ShardLog::Start() {
  // The worker first: the flush thread reads overlap_ without a lock.
  if (compressor_ != nullptr) {
    overlap_ = std::make_unique<CompressionWorker>(
        config_.compression, config_.compression_level,
        BatchBuffer::MaxBatches(config_.max_buffered_bytes, config_.max_batch_bytes));
  }
  // Alive from here on, so health never shows a shard that was just opened
  // as dead while its thread is still being scheduled.
  flush_thread_alive_.store(true, std::memory_order_release);
  try {
    thread_ = std::thread([this] { FlushLoop(); });
  } catch (...) {
    flush_thread_alive_.store(false, std::memory_order_release);
    throw;
  }
}

std::string ShardLog::Describe() const {
  return "shard " + std::to_string(config_.id) + " (" + config_.dir + ")";
}

// ---- append path --------------------------------------------------------------

Status ShardLog::WaitForRoomLocked(MutexLock& lk, std::size_t bytes, bool block, std::chrono::milliseconds timeout) {
  bool counted = false;
  std::chrono::steady_clock::time_point deadline{};
  for (;;) {
    if (core_->failed()) return core_->error();
    if (stop_) return Status::Closed("append to " + Describe() + " after Close");
    if (bytes <= active_.free_bytes()) break;
    // The clock is only read once an append really has to wait.
    if (block && !counted) deadline = std::chrono::steady_clock::now() + timeout;
    if (!block || std::chrono::steady_clock::now() >= deadline) {
      if (counted) --room_waiters_;
      const std::string blocked = config_.segment_set->BlockedReason();
      return Status::Backpressure(Describe() + " buffer is full (" + std::to_string(active_.body_bytes()) +
                                  " of " + std::to_string(config_.max_buffered_bytes) +
                                  " bytes buffered, record needs " + std::to_string(bytes) + ")" +
                                  (!blocked.empty() ? ": " + blocked
                                   : block          ? "; waited the whole backpressure_timeout: the device is not "
                                                      "keeping up or is stalled"
                                                    : ""));
    }
    if (!counted) {
      counted = true;
      ++room_waiters_;
      BumpLocked(backpressure_waits_, 1);
    }
    // Waiting for room is reason enough to write what is buffered now.
    urgent_.store(true, std::memory_order_relaxed);
    if (flusher_idle_) flush_cv_.NotifyOne();
    room_cv_.WaitUntil(lk, deadline);
  }
  if (counted) --room_waiters_;
  return Status::OK();
}

void ShardLog::ReserveFloorLocked() {
  // Only this shard's mutex holders write floor_, so a relaxed read suffices;
  // the store must be seq_cst and precede the caller's fetch_add.
  if (floor_.load(std::memory_order_relaxed) == DurableWatermark::kNoPending) {
    floor_.store(core_->next_lsn.load(std::memory_order_seq_cst), std::memory_order_seq_cst);
  }
}

bool ShardLog::AddRecordLocked(Lsn lsn, const RecordSpec& rec, std::uint32_t body_crc, Durability durability) {
  const bool was_empty = active_.empty();
  const std::size_t bytes = format::RecordBytes(rec.tag.size(), rec.payload.size());
  char* out = active_.AddRecord(lsn, bytes);
  format::EncodeRecord(out, lsn, rec.type, rec.txn_id, rec.tag, rec.payload, body_crc);
  BumpLocked(records_, 1);
  buffered_.store(active_.body_bytes(), std::memory_order_relaxed);
  BumpLocked(append_bytes_, rec.tag.size() + rec.payload.size());
  BumpLocked(buffered_records_, 1);

  bool wake = was_empty || active_.body_bytes() >= config_.max_batch_bytes;
  if (durability != Durability::kNone) batch_needs_sync_ = true;
  if (durability == Durability::kGroup && !urgent_.load(std::memory_order_relaxed)) {
    urgent_.store(true, std::memory_order_seq_cst);
    wake = true;
  }
  return wake && flusher_idle_;
}

void ShardLog::RequestSync(Lsn lsn) {
  // Cheap filters first: nothing of ours at or below lsn is pending, or a
  // sync is already on its way.
  if (floor_.load(std::memory_order_seq_cst) > lsn || urgent_.load(std::memory_order_seq_cst)) return;
  MutexLock lk(&mu_);
  if (floor_.load(std::memory_order_relaxed) > lsn || urgent_.load(std::memory_order_relaxed)) return;
  // A sync already in flight covers everything written before it and then
  // sets the floor to the active buffer's first LSN exactly: only records
  // still buffered at or below lsn need another one. (Poking anyway would
  // make the next batch sync early for nothing.) Without a sync in flight
  // the floor may be lower than any LSN this shard holds (it is reserved
  // before the LSN is taken, and another shard may take that LSN), yet it
  // holds W below lsn all the same: whatever is pending must be synced.
  if (sync_in_flight_) {
    if (active_.empty() || active_.first_lsn() > lsn) return;
  } else if (active_.empty() && !flush_in_flight_ && !unsynced_written_) {
    return;
  }
  urgent_.store(true, std::memory_order_seq_cst);
  if (flusher_idle_) flush_cv_.NotifyOne();
}

// ---- lifecycle ------------------------------------------------------------------

void ShardLog::BeginStop() {
  MutexLock lk(&mu_);
  stop_ = true;
  flush_cv_.NotifyOne();
  room_cv_.NotifyAll();
}

void ShardLog::Join() {
  if (thread_.joinable()) thread_.join();
  overlap_.reset();  // idle: WriteBatch ends each flush it hands over
  // A clean stop seals the last segment; in the failed state nothing more
  // is written.
  Status s = segments_.Close(/*clean=*/!core_->failed(), core_->watermark.published());
  if (!s.ok()) core_->Fail(s.WithContext("closing " + Describe()));
}

void ShardLog::WakeAll() {
  MutexLock lk(&mu_);
  flush_cv_.NotifyOne();
  room_cv_.NotifyAll();
}

ShardStats ShardLog::Stats() const {
  ShardStats s;
  s.records = records_.load(std::memory_order_relaxed);
  s.bytes = bytes_.load(std::memory_order_relaxed);
  s.uncompressed_bytes = uncompressed_bytes_.load(std::memory_order_relaxed);
  s.payload_bytes = payload_bytes_.load(std::memory_order_relaxed);
  s.preparation_bytes = config_.segment_set->preparation_bytes();
  s.batches = batches_.load(std::memory_order_relaxed);
  s.writes = writes_.load(std::memory_order_relaxed);
  s.fsyncs = fsyncs_.load(std::memory_order_relaxed);
  s.fsync_nanos = fsync_nanos_.load(std::memory_order_relaxed);
  s.buffered_bytes = buffered_.load(std::memory_order_relaxed);
  s.backpressure_waits = backpressure_waits_.load(std::memory_order_relaxed);
  s.segments = segments_.segments_created();
  s.segment_files = config_.segment_set->segment_count();
  s.recycled_pool = config_.segment_set->pooled_count();
  s.rotation_waits = config_.segment_set->rotation_waits();
  s.zero_fills_skipped = config_.segment_set->zero_fills_skipped();
  s.durable_frontier = core_->watermark.Frontier(config_.id);
  return s;
}

void ShardLog::FillMetrics(ShardMetrics& m) const {
  m.append_bytes = append_bytes_.load(std::memory_order_relaxed);
  m.buffered_records = buffered_records_.load(std::memory_order_relaxed);
  m.flush_seconds = flush_ns_.Snapshot(kNanosPerSecond);
  m.fsync_seconds = fsync_ns_.Snapshot(kNanosPerSecond);
  m.batch_records = batch_records_.Snapshot();
  m.batch_bytes = batch_bytes_.Snapshot();
  m.health.flush_thread_alive = flush_thread_alive_.load(std::memory_order_acquire);
  const std::int64_t last = last_flush_ns_.load(std::memory_order_relaxed);
  if (last >= 0) {
    const std::int64_t now = std::chrono::steady_clock::now().time_since_epoch() / std::chrono::nanoseconds(1);
    m.health.seconds_since_last_flush = static_cast<double>(std::max<std::int64_t>(0, now - last)) / 1e9;
    // The same instant on the system clock: now (wall) minus the age.
    const double wall_now =
        std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    m.health.last_flush_timestamp_seconds = wall_now - m.health.seconds_since_last_flush;
  }
  m.health.buffer_utilization =
      config_.max_buffered_bytes == 0
          ? 0
          : std::min(1.0, static_cast<double>(buffered_.load(std::memory_order_relaxed)) /
                              static_cast<double>(config_.max_buffered_bytes));
}

// ---- flush thread ---------------------------------------------------------------

void ShardLog::CohortReturned() {
  MutexLock lk(&mu_);
  if (cohort_wait_) flush_cv_.NotifyOne();
}

bool ShardLog::AwaitingCohortLocked() const {
  return after_sync_ && active_.body_bytes() < config_.max_batch_bytes && core_->cohort.outstanding() > 0 &&
         core_->cohort.ExpectedReturn() < fsync_ewma_ && std::chrono::steady_clock::now() < cohort_deadline_;
}

void ShardLog::WaitForWorkLocked(MutexLock& lk) {
  for (;;) {
    if (core_->failed() || stop_) return;
    if (urgent_.load(std::memory_order_relaxed) || active_.body_bytes() >= config_.max_batch_bytes) {
      // A batch is due. Right after a sync, give the writers that sync woke
      // a moment (at most ~one fdatasync) to append again, so this batch
      // covers all of them rather than the few that were fastest; the last
      // of them wakes us (CohortReturned).
      if (!AwaitingCohortLocked()) return;
      flusher_idle_ = cohort_wait_ = true;
      flush_cv_.WaitUntil(lk, cohort_deadline_);
      flusher_idle_ = cohort_wait_ = false;
      continue;
    }
    flusher_idle_ = true;
    if (active_.empty()) {
      flush_cv_.Wait(lk);
    } else {
      const auto due = active_.first_record_time() + config_.max_batch_delay;
      if (std::chrono::steady_clock::now() >= due) {
        flusher_idle_ = false;
        return;
      }
      flush_cv_.WaitUntil(lk, due);
    }
    flusher_idle_ = false;
  }
}

void ShardLog::FlushLoop() {
  flush_thread_alive_.store(true, std::memory_order_release);  // (already, since Start)
  MutexLock lk(&mu_);
  for (;;) {
    WaitForWorkLocked(lk);
    if (core_->failed()) break;
    if (stop_ && active_.empty() && !unsynced_written_) break;

    // Cut the batch. Everything that needs a sync is in it or already
    // written; records arriving from now on go to the next batch.
    const bool sync = stop_ || urgent_.load(std::memory_order_relaxed) || batch_needs_sync_;
    std::swap(active_, flushing_);
    after_sync_ = false;
    urgent_.store(false, std::memory_order_seq_cst);
    batch_needs_sync_ = false;
    flush_in_flight_ = true;
    sync_in_flight_ = sync;
    buffered_.store(0, std::memory_order_relaxed);
    buffered_records_.store(0, std::memory_order_relaxed);
    if (room_waiters_ > 0) room_cv_.NotifyAll();
    lk.Unlock();

    const Status s = WriteBatch(sync);

    lk.Lock();
    flushing_.Clear();
    flush_in_flight_ = sync_in_flight_ = false;
    if (!s.ok()) {
      lk.Unlock();
      core_->Fail(s);
      lk.Lock();
      break;
    }
    last_flush_ns_.store(std::chrono::steady_clock::now().time_since_epoch() / std::chrono::nanoseconds(1),
                         std::memory_order_relaxed);
    if (!sync) {
      unsynced_written_ = true;
      continue;
    }
    unsynced_written_ = false;
    // Everything of this shard below the active buffer is durable now.
    floor_.store(active_.empty() ? DurableWatermark::kNoPending : active_.first_lsn(),
                 std::memory_order_seq_cst);
    lk.Unlock();
    core_->watermark.Advance();
    if (config_.per_shard_consistency) core_->watermark.AdvanceShard(config_.id);
    // Waiting longer than about one fdatasync for stragglers would cost more
    // than syncing them in the next batch; max_batch_delay caps it too.
    const auto wait = std::min<std::chrono::nanoseconds>(fsync_ewma_, config_.max_batch_delay);
    lk.Lock();
    after_sync_ = true;
    cohort_deadline_ = std::chrono::steady_clock::now() + wait;
  }
  // Failed or stopped: nothing more will be written. Wake anyone waiting for
  // room so they see why.
  room_cv_.NotifyAll();
  flush_thread_alive_.store(false, std::memory_order_release);
}

Status ShardLog::WriteBatch(bool sync) {
  const auto start = std::chrono::steady_clock::now();
  const Stamping stamping{WallClockNanos(), core_->watermark.published()};
  const std::uint64_t segments_before = segments_.segments_created();
  const std::size_t n = flushing_.batches().size();
  if (overlap_ != nullptr && n >= 2 && n <= overlap_->max_batches()) {
    if (Status s = WriteOverlapped(stamping); !s.ok()) return s;
  } else {
    std::size_t packed_used = 0;
    for (BatchBuffer::Batch& batch : flushing_.batches()) {
      const auto body = flushing_.body(batch);
      std::uint8_t codec = format::kCodecNone;
      // Compressed before the segment is chosen: rotation goes by what is stored.
      const auto stored = StoredBody(body, &packed_used, &codec);
      if (Status s = QueueBatch(batch, stored, codec, stamping); !s.ok()) return s;
    }
    if (!flushing_.empty()) {
      if (Status s = segments_.Flush(); !s.ok()) return s;
      writes_.fetch_add(1, std::memory_order_relaxed);
    }
  }
  if (config_.log != nullptr && segments_.segments_created() != segments_before) {
    config_.log->Debug("{} started segment {} ({} since Open)", Describe(), segments_.current_path(),
                       segments_.segments_created());
  }
  bool worked = !flushing_.empty();
  if (sync && segments_.has_unsynced()) {
    const auto t0 = std::chrono::steady_clock::now();
    if (Status s = segments_.Sync(); !s.ok()) return s;
    const std::chrono::nanoseconds took = std::chrono::steady_clock::now() - t0;
    fsync_nanos_.fetch_add(static_cast<std::uint64_t>(took.count()), std::memory_order_relaxed);
    fsyncs_.fetch_add(1, std::memory_order_relaxed);
    fsync_ns_.Record(static_cast<std::uint64_t>(took.count()));
    fsync_ewma_ = fsync_ewma_.count() == 0 ? took : fsync_ewma_ + (took - fsync_ewma_) / 8;
    if (config_.slow_fsync_threshold.count() > 0 && took > config_.slow_fsync_threshold) WarnSlowFsync(took);
    worked = true;
  }
  if (worked) {
    flush_ns_.Record(static_cast<std::uint64_t>((std::chrono::steady_clock::now() - start).count()));
  }
  return Status::OK();
}

Status ShardLog::WriteOverlapped(const Stamping& stamping) {
  const std::span<BatchBuffer::Batch> batches = flushing_.batches();
  overlap_->Begin(batches, flushing_.records(), packed_.get());
  // Whatever happens below, the worker lets go of this flush before
  // WriteBatch returns and the buffer is cleared.
  struct EndFlush {
    CompressionWorker* worker;
    ~EndFlush() { worker->End(); }
  } end_flush{overlap_.get()};
  const std::uint8_t compressed = compressor_->codec_byte();
  for (std::size_t i = 0; i < batches.size();) {
    // Batch i (waiting for it if need be), then every following one already
    // compressed: one pwritev for the group, while the worker goes on.
    do {
      BatchBuffer::Batch& batch = batches[i];
      const std::size_t n = overlap_->Take(i, *compressor_);
      const auto stored = n == 0 ? flushing_.body(batch) : std::span<const char>(packed_.get() + batch.begin, n);
      if (Status s = QueueBatch(batch, stored, n == 0 ? format::kCodecNone : compressed, stamping); !s.ok()) {
        return s;
      }
      ++i;
    } while (i < batches.size() && overlap_->Ready(i));
    if (Status s = segments_.Flush(); !s.ok()) return s;
    writes_.fetch_add(1, std::memory_order_relaxed);
  }
  return Status::OK();
}

Status ShardLog::QueueBatch(BatchBuffer::Batch& batch, std::span<const char> stored, std::uint8_t codec,
                            const Stamping& stamping) {
  const std::size_t raw = batch.end - batch.begin;
  auto seq = segments_.SegmentFor(format::kBatchHeaderBytes + stored.size(), batch.first_lsn, stamping.durable);
  if (!seq.ok()) return seq.status();
  BatchBuffer::Seal(batch,
                    BatchBuffer::Stamp{stamping.commit_time_ns, *seq, stamping.durable, segments_.synced_offset()},
                    stored.size(), codec);
  segments_.Queue(batch.header, stored, batch.last_lsn, stamping.commit_time_ns);
  bytes_.fetch_add(format::kBatchHeaderBytes + stored.size(), std::memory_order_relaxed);
  uncompressed_bytes_.fetch_add(format::kBatchHeaderBytes + raw, std::memory_order_relaxed);
  // Every record header is the same size, so the user's bytes (tag +
  // payload) are the uncompressed body less them: counted here, once per batch.
  payload_bytes_.fetch_add(raw - std::size_t{batch.records} * format::kRecordHeaderBytes, std::memory_order_relaxed);
  batches_.fetch_add(1, std::memory_order_relaxed);
  batch_records_.Record(batch.records);
  batch_bytes_.Record(format::kBatchHeaderBytes + stored.size());
  return Status::OK();
}

std::span<const char> ShardLog::StoredBody(std::span<const char> body, std::size_t* packed_used,
                                           std::uint8_t* codec) {
  *codec = format::kCodecNone;
  if (compressor_ == nullptr) return body;
  // The bodies of one flush stay in packed_ until its pwritev; each is
  // smaller than its records, so they fit (Compress writes at most
  // body.size() bytes).
  char* out = packed_.get() + *packed_used;
  const std::size_t n = compressor_->Compress(body, out);
  if (n == 0) return body;  // incompressible (or too large): stored raw
  *packed_used += n;
  *codec = compressor_->codec_byte();
  return {out, n};
}

void ShardLog::WarnSlowFsync(std::chrono::nanoseconds took) {
  ++slow_fsyncs_unreported_;
  const auto now = std::chrono::steady_clock::now();
  if (config_.log == nullptr || (last_slow_warning_ != std::chrono::steady_clock::time_point{} &&
                                 now - last_slow_warning_ < std::chrono::seconds(1))) {
    return;
  }
  const double ms = static_cast<double>(took.count()) / 1e6;
  const double threshold_ms = static_cast<double>(config_.slow_fsync_threshold.count()) / 1e3;
  if (slow_fsyncs_unreported_ > 1) {
    config_.log->Warn("slow fdatasync on {}: {} took {} ms (slow_fsync_threshold {} ms; {} slow "
                      "fdatasyncs on this shard since the last warning)",
                      Describe(), segments_.current_path(), Logger::Fixed(ms), Logger::Fixed(threshold_ms),
                      slow_fsyncs_unreported_);
  } else {
    config_.log->Warn("slow fdatasync on {}: {} took {} ms (slow_fsync_threshold {} ms)", Describe(),
                      segments_.current_path(), Logger::Fixed(ms), Logger::Fixed(threshold_ms));
  }
  last_slow_warning_ = now;
  slow_fsyncs_unreported_ = 0;
}

}  // namespace shardwal
