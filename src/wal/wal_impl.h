// SPDX-License-Identifier: Apache-2.0
// WalImpl: the Wal on top of the stack. It routes records to shard logs,
// hands out LSNs, waits on the durable watermark, and composes the pieces
// below it:
//   wal_impl.cc  construction, Start, Close
//   append.cc    Append, AppendBatch, WaitDurable, OnDurable
//   stats.cc     Stats and Metrics
//   lifecycle.h  checkpoints, retention and the MANIFEST after Open
//   open.cc      Wal::Open (recovery, then the shard directories' checks
//                in shard_dirs.h)
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "recovery/replay.h"
#include "shards/segment_preparer.h"
#include "shards/segment_set.h"
#include "shards/shard_log.h"
#include "shardwal/wal.h"
#include "src/commit/completion_queue.h"
#include "src/commit/replicated_watermark.h"
#include "src/commit/wal_core.h"
#include "src/foundation/logger.h"
#include "src/foundation/manifest.h"
#include "src/foundation/mutex.h"
#include "src/foundation/routing.h"
#include "src/observability/histogram.h"
#include "src/wal/lifecycle.h"
#include "src/wal/tailer_registry.h"
#include "src/wal/watermark_publisher.h"

namespace shardwal {

// What Open learned before the WAL starts: where appends continue, what was
// recovered, and per new-epoch shard the last segment sequence in its dir.
struct OpenState {
  Manifest manifest;  // with the new epoch begun
  RecoveryReport report;
  std::unique_ptr<RecoveredLog> recovered;
  Lsn next_lsn = 1;
  // The segments of every shard directory, the current epoch's first.
  std::vector<std::unique_ptr<SegmentSet>> sets;
  std::unique_ptr<WalSpace> space;
  // Per old shard directory: the last segment and LSN recovery kept.
  std::map<std::string, SegmentSet::Durable> kept;
};

// How many Status codes WalMetrics::errors counts (all but kOk).
inline constexpr std::size_t kStatusCodes = static_cast<std::size_t>(Status::Code::kFellBehind) + 1;

// Threading: every public method may be called from any thread, as wal.h
// states; Close is serialised with itself and with Checkpoint by close_mu_.
class WalImpl final : public Wal {
 public:
  WalImpl(Options options, OpenState state, std::vector<std::unique_ptr<FileLock>> locks);
  // A Wal destroyed without Close() still shuts down cleanly; an error is
  // logged, since nobody is left to return it to.
  ~WalImpl() override {
    if (Status s = Close(); !s.ok()) log_.Error("closing {} on destruction: {}", options_.dir, s.ToString());
  }

  // Prepares each shard's first segment (a full disk fails Open here), then
  // starts the preparers, the lifecycle chore and the flush threads.
  Status Start();

  Result<Lsn> Append(std::string_view tag, std::string_view payload, const AppendOptions& options) override {
    return Counted(AppendOne(RouteTag(tag), RecordSpec{tag, payload, options.type, options.txn_id},
                             options.durability.value_or(options_.durability), /*block=*/true));
  }
  Result<Lsn> Append(std::string_view payload, const AppendOptions& options) override {
    return Counted(AppendOne(ShardForThisThread(num_shards_), RecordSpec{{}, payload, options.type, options.txn_id},
                             options.durability.value_or(options_.durability), /*block=*/true));
  }
  Result<Lsn> TryAppend(std::string_view tag, std::string_view payload, const AppendOptions& options) override {
    return Counted(AppendOne(RouteTag(tag), RecordSpec{tag, payload, options.type, options.txn_id},
                             options.durability.value_or(options_.durability), /*block=*/false));
  }
  Result<LsnRange> AppendBatch(std::span<const RecordSpec> records, std::optional<Durability> durability) override {
    return Counted(AppendBatchUncounted(records, durability));
  }

  Status WaitDurable(Lsn lsn) override { return Counted(WaitDurableUncounted(lsn)); }
  void OnDurable(Lsn lsn, std::function<void(const Status&)> done) override;
  Lsn DurableLsn() const override { return core_.watermark.published(); }
  Lsn ReplicatedLsn() const override { return replicated_.published(); }
  Status WaitReplicated(Lsn lsn, std::optional<std::chrono::milliseconds> timeout) override {
    return Counted(WaitReplicatedUncounted(lsn, timeout.value_or(options_.replication_timeout)));
  }
  void OnReplicated(Lsn lsn, std::function<void(const Status&)> done) override;
  Result<std::unique_ptr<ReplicatorHandle>> AttachReplicator(std::string description) override;
  Lsn LastLsn() const override { return core_.next_lsn.load(std::memory_order_acquire) - 1; }
  Status health() const override { return core_.error(); }
  Status Close() override EXCLUDES(close_mu_);
  WalStats Stats() const override;
  WalMetrics Metrics() const override;
  Status Checkpoint(Lsn lsn) override {
    Status s = Counted(CheckpointUncounted(lsn));
    if (s.ok()) checkpoints_.fetch_add(1, std::memory_order_relaxed);
    return s;
  }
  std::uint32_t num_shards() const override { return num_shards_; }
  std::uint32_t ShardForTag(std::string_view tag) const override { return shardwal::ShardForTag(tag, num_shards_); }
  const Options& options() const override { return options_; }
  const RecoveryReport& recovery_report() const override { return report_; }
  Status Replay(Lsn from_lsn, const ReplayCallback& callback) const override {
    return recovered_ ? recovered_->Replay(from_lsn, callback) : Status::OK();
  }
  Status ReplayCommitted(Lsn from_lsn, const ReplayCallback& callback, TxnReplayReport* report) const override {
    if (recovered_) return recovered_->ReplayCommitted(from_lsn, callback, report);
    if (report != nullptr) *report = TxnReplayReport{};
    return Status::OK();
  }

 private:
  // LogTailer::Attach's tailer reads the segment sets, the recovered log
  // and the watermark directly (src/wal/tailer.cc).
  friend class AttachedTailer;
  friend class LogTailer;

  std::uint32_t RouteTag(std::string_view tag) const {
    return options_.routing == Routing::kTag && !tag.empty() ? shardwal::ShardForTag(tag, num_shards_)
                                                             : ShardForThisThread(num_shards_);
  }
  // Counts a failed call in errors_ (by its Status code).
  void CountError(Status::Code code) {
    errors_[static_cast<std::size_t>(code)].fetch_add(1, std::memory_order_relaxed);
  }
  template <typename T>
  Result<T> Counted(Result<T> r) {
    if (!r.ok()) CountError(r.status().code());
    return r;
  }
  Status Counted(Status s) {
    if (!s.ok()) CountError(s.code());
    return s;
  }
  // append.cc
  Result<LsnRange> AppendBatchUncounted(std::span<const RecordSpec> records, std::optional<Durability> durability);
  Status WaitDurableUncounted(Lsn lsn);
  Status CheckReplicator() const;
  // kReplicated waits for local durability as kGroup does; the shard log
  // treats it as kGroup (flushed at once, synced).
  static bool WaitsForDurable(Durability d) { return d == Durability::kGroup || d == Durability::kReplicated; }
  static Durability LocalDurability(Durability d) { return d == Durability::kReplicated ? Durability::kGroup : d; }
  Status WaitReplicatedUncounted(Lsn lsn, std::chrono::milliseconds timeout);
  // A kReplicated append's wait after its record is durable: R (or R(s)
  // with per-shard consistency) must cover it within the timeout.
  Status WaitReplicatedFor(Lsn lsn, std::uint32_t shard, std::chrono::steady_clock::time_point start);  Status ValidateRecord(const RecordSpec& rec) const;
  Result<Lsn> AppendOne(std::uint32_t shard, const RecordSpec& rec, Durability durability, bool block);
  // Blocks until W >= lsn, first asking every shard holding unsynced records
  // <= lsn to sync them (they may be kNone records nobody else waits for).
  Status WaitCovered(Lsn lsn, std::uint32_t lane);
  // After an append: if a watermark advance woke this thread, it is back;
  // the last of its cohort wakes the flush threads waiting for it.
  void ReturnFromCohort();
  // What a group append waits for: the global watermark, or with per-shard
  // consistency only its own shard's frontier.
  Status WaitGroup(Lsn lsn, std::uint32_t shard) {
    if (options_.consistency == Consistency::kPerShard) return core_.watermark.WaitShard(lsn, shard);
    return WaitCovered(lsn, shard);
  }
  // wal_impl.cc
  Status CheckpointUncounted(Lsn lsn) EXCLUDES(close_mu_);
  WalLifecycle::Config LifecycleConfig();
  ShardConfig ShardConfigFor(std::uint32_t shard, const Manifest& manifest);
  void OnFirstFailure(const Status& error);
  // Creates <dir>/WATERMARK at the recovered cut and starts its publisher.
  void PublishWatermark();

  // Lock annotations (docs/design.md): every member says what guards it.
  // Most are built by the constructor and Start and then only used: each of
  // those objects synchronises itself.
  const Options options_;
  const std::uint32_t num_shards_;
  const std::uint32_t epoch_;  // this open's
  const Lsn epoch_first_lsn_;  // this open's first LSN (recovered records are below it)
  const format::WalId wal_id_;
  const RecoveryReport report_;
  std::unique_ptr<RecoveredLog> recovered_;  // unguarded: set by the constructor; locks itself
  const Logger log_;
  WalCore core_;                             // unguarded: atomics and its own lock
  CompletionQueue completions_;              // unguarded: locks itself
  ReplicatedWatermark replicated_;           // unguarded: atomics and its own lock
  CompletionQueue replicated_completions_;   // unguarded: locks itself (OnReplicated)
  TailerRegistry tailers_;                   // unguarded: locks itself
  std::unique_ptr<WalSpace> space_;          // unguarded: set by the constructor; atomic
  std::vector<std::unique_ptr<SegmentSet>> sets_;  // unguarded: set by the constructor; shard i's is sets_[i]
  // One per shard, so a slow or stalled device delays only its own shard's
  // next segment.
  std::vector<std::unique_ptr<SegmentPreparer>> preparers_;  // unguarded: set by the constructor
  std::unique_ptr<WalLifecycle> lifecycle_;                  // unguarded: set by the constructor
  std::vector<std::unique_ptr<ShardLog>> shards_;            // unguarded: set by the constructor
  // <dir>/WATERMARK for other processes' tailers; null if it could not be
  // created (logged).
  std::unique_ptr<WatermarkPublisher> watermark_file_;  // unguarded: set by Start, before the flush threads
  std::vector<std::unique_ptr<FileLock>> locks_ GUARDED_BY(close_mu_);

  // Serialises Close with itself and with Checkpoint.
  Mutex close_mu_;
  bool closed_ GUARDED_BY(close_mu_) = false;
  Status close_status_ GUARDED_BY(close_mu_);

  // Metrics kept at the WAL level (relaxed atomics).
  const std::chrono::steady_clock::time_point opened_ = std::chrono::steady_clock::now();
  const std::chrono::system_clock::time_point opened_wall_ = std::chrono::system_clock::now();
  Histogram append_to_durable_ns_;  // unguarded: relaxed atomics inside (blocking group appends: call -> durable)
  std::array<std::atomic<std::uint64_t>, kStatusCodes> errors_{};
  std::atomic<std::uint64_t> checkpoints_{0};
};

}  // namespace shardwal
