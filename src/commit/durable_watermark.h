// SPDX-License-Identifier: Apache-2.0
// DurableWatermark: publishes W = min over shards of each shard's durable
// frontier, and wakes the threads waiting for it.
//
// Each shard keeps one atomic, its *pending floor*: a lower bound on the
// smallest LSN of that shard that is not yet durable, or kNoPending when the
// shard holds nothing unsynced. The floor is only written under the shard's
// lock, and a writer reserves it (stores the LSN counter's current value)
// *before* it takes an LSN from the counter. Then
//
//   W = min(next_lsn - 1, min over shards of (floor - 1))
//
// read in that order (counter first) can never cover an LSN that is
// assigned but not durable, even if the writer that took it was preempted
// before copying its record into the buffer. docs/design.md has the proof.
// An idle shard's floor is kNoPending, so it follows the counter and never
// holds W back.
//
// Waiters sleep on their own futex word in per-lane, LSN-sorted intrusive
// lists (no allocation): a publisher wakes only the waiters its new W covers,
// and wakes them as a binary tree - it wakes one, that one wakes two, ... -
// so the flush thread goes back to its next fdatasync after one wake-up
// instead of 64.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>

#include "shardwal/status.h"
#include "shardwal/types.h"
#include "src/commit/cohort_tracker.h"
#include "src/foundation/mutex.h"

namespace shardwal {

class DurableWatermark {
 public:
  static constexpr Lsn kNoPending = std::numeric_limits<Lsn>::max();

  // `next_lsn` is the WAL's LSN counter (the next LSN to hand out).
  DurableWatermark(std::uint32_t shards, const std::atomic<Lsn>* next_lsn);
  ~DurableWatermark();

  // The shard's pending floor; written only under that shard's lock.
  std::atomic<Lsn>& pending_floor(std::uint32_t shard);

  // Where wake-ups are counted (CohortTracker); null: nowhere. Set before
  // the first Wait.
  void SetCohortTracker(CohortTracker* cohort) { cohort_ = cohort; }

  // Called after every change of W (by the thread that raised it).
  void SetPublishHook(std::function<void(Lsn)> hook);

  // The published watermark W. Monotonic.
  Lsn published() const { return published_.load(std::memory_order_acquire); }

  // The durable frontier of one shard right now: every LSN <= it that
  // belongs (or will belong) to the shard is durable.
  Lsn Frontier(std::uint32_t shard) const;

  // Recomputes W, publishes it if it grew and wakes the waiters it covers.
  // Returns the published W.
  Lsn Advance();

  // Blocks until W >= lsn; returns OK, or the error given to Fail().
  // `lane` spreads waiters over lists to cut lock contention (any value).
  Status Wait(Lsn lsn, std::uint32_t lane) EXCLUDES(error_mu_);

  // Per-shard consistency: publishes the shard's own frontier F(shard) and
  // wakes the WaitShard waiters it covers. Called by the shard's flush
  // thread after each sync.
  void AdvanceShard(std::uint32_t shard);
  // F(shard) as last published by AdvanceShard.
  Lsn ShardPublished(std::uint32_t shard) const { return shard_published_[shard].value.load(std::memory_order_acquire); }
  // Called after AdvanceShard raised a shard's F (tailers of one shard wake
  // on it). Set before the first AdvanceShard that matters.
  void SetShardPublishHook(std::function<void()> hook) { shard_publish_hook_ = std::move(hook); }
  // Blocks until F(shard) >= lsn (lsn must belong to that shard).
  Status WaitShard(Lsn lsn, std::uint32_t shard) EXCLUDES(error_mu_);

  // W can no longer be trusted to advance: wakes every waiter with `error`
  // and makes every later Wait above W return it.
  void Fail(const Status& error) EXCLUDES(error_mu_);

 private:
  struct Waiter;
  struct Lane;

  Lsn Compute() const;
  static void WakeCovered(Lane* lanes, std::uint32_t count, Lsn w, CohortTracker* cohort);
  Status WaitOn(Lane& lane, const std::atomic<Lsn>& published, Lsn lsn) EXCLUDES(error_mu_);

  // Lock annotations (docs/design.md): every member says what guards it.
  // The lanes' waiter lists are guarded by each Lane's own mutex (in the .cc).
  const std::atomic<Lsn>* const next_lsn_;
  const std::uint32_t shards_;
  const std::unique_ptr<Lane[]> lanes_;        // waiters for W
  const std::uint32_t lane_count_;
  const std::unique_ptr<Lane[]> shard_lanes_;  // waiters for F(shard), per-shard consistency
  struct alignas(64) PaddedFloor {
    std::atomic<Lsn> value{kNoPending};
  };
  const std::unique_ptr<PaddedFloor[]> floors_;
  const std::unique_ptr<PaddedFloor[]> shard_published_;  // F(shard) as last published
  alignas(64) std::atomic<Lsn> published_{kNoLsn};
  std::atomic<bool> failed_{false};
  Mutex error_mu_;
  Status error_ GUARDED_BY(error_mu_);
  std::function<void(Lsn)> publish_hook_;  // unguarded: set before the first Advance
  std::function<void()> shard_publish_hook_;  // unguarded: set before the flush threads start
  CohortTracker* cohort_ = nullptr;        // unguarded: set before the first Wait
};

}  // namespace shardwal
