// SPDX-License-Identifier: Apache-2.0
// ReplicatedWatermark: R, the highest LSN such that every LSN <= R is durable
// here and acknowledged by the replica (a JetStream stream), and the threads
// waiting for it (Durability::kReplicated, Wal::WaitReplicated).
//
// The core library knows nothing of NATS: a replicator (the shipper, above
// it) attaches through Wal::AttachReplicator and reports, per shard, the
// frontier f(s): every LSN <= f(s) that belongs to shard s is in the
// replica. Then
//
//   R = min(W, min over shards of f(s))     (per shard: R(s) = min(F(s), f(s)))
//
// R only moves up (a lower report is ignored), never passes W (clamped on
// every advance; the replicator reads durable records only, so the clamp is
// a guard, not a source of lag), and every waiter its advance covers is
// released, in LSN order, by the advancing (shipping) thread.
//
// Waiters are rare compared with W's (one per kReplicated append, sleeping a
// network round trip), so one mutex and a condition variable per waiter are
// enough; the fast path (R already covers it) is one atomic load. Waits are
// bounded (Options::replication_timeout): while the replica cannot
// acknowledge, a kReplicated append fails with Busy naming the replicator,
// R and its last error, and local durability is unaffected.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "shardwal/status.h"
#include "shardwal/types.h"
#include "src/commit/durable_watermark.h"
#include "src/foundation/mutex.h"

namespace shardwal {

class ReplicatedWatermark {
 public:
  // `durable` bounds R; `per_shard`: Consistency::kPerShard (a shard's R(s)
  // is bounded by its own F(s) instead of W).
  ReplicatedWatermark(std::uint32_t shards, const DurableWatermark* durable, bool per_shard);
  ~ReplicatedWatermark();

  // Registers the replicator; Busy if one is attached already. Returns a
  // token for Detach.
  Result<std::uint64_t> Attach(std::string description) EXCLUDES(mu_);
  // Fails the waiters with Closed (nobody will advance R for them now).
  void Detach(std::uint64_t token) EXCLUDES(mu_);
  bool attached() const { return attached_.load(std::memory_order_acquire); }

  // Shard `shard`'s records up to `lsn` are in the replica.
  void Advance(std::uint32_t shard, Lsn lsn) EXCLUDES(mu_);
  // What keeps the replica from acknowledging (OK clears it): named in the
  // timeout error.
  void SetError(const Status& error) EXCLUDES(mu_);

  // R. Monotonic.
  Lsn published() const { return published_.load(std::memory_order_acquire); }
  // R(s).
  Lsn ShardPublished(std::uint32_t shard) const { return shards_[shard].published.load(std::memory_order_acquire); }

  // Blocks until R >= lsn (or R(shard) >= lsn, with `shard`), the deadline,
  // or a detach. Busy on timeout, NotSupported if no replicator was ever
  // attached, Closed after a detach (also for a wait that starts after it,
  // until another attaches), Closed after Close (Shutdown).
  Status Wait(Lsn lsn, std::optional<std::uint32_t> shard, std::chrono::steady_clock::time_point deadline,
              std::chrono::milliseconds timeout) EXCLUDES(mu_);

  // Called after R rose, by the advancing thread (OnReplicated callbacks).
  void SetPublishHook(std::function<void(Lsn)> hook) { publish_hook_ = std::move(hook); }

  // The WAL is closing: every waiter gets Closed, later waits too.
  void Shutdown() EXCLUDES(mu_);

  // The replicator's description ("" when none is attached).
  std::string description() const EXCLUDES(mu_);

 private:
  struct Waiter;
  struct ShardState {
    std::atomic<Lsn> frontier{kNoLsn};   // f(s), as reported
    std::atomic<Lsn> published{kNoLsn};  // R(s) = min(f(s), bound)
  };

  // The bound of shard s: F(s) with per-shard consistency, W otherwise.
  Lsn DurableBound(std::uint32_t shard) const;
  void ReleaseLocked(std::vector<Waiter*>& list, Lsn upto) REQUIRES(mu_);
  void FailAllLocked(const Status& why) REQUIRES(mu_);
  Status TimeoutError(Lsn lsn, std::optional<std::uint32_t> shard, std::chrono::milliseconds timeout) const
      REQUIRES(mu_);

  const std::uint32_t shard_count_;
  const DurableWatermark* const durable_;
  const bool per_shard_;
  const std::unique_ptr<ShardState[]> shards_;
  std::atomic<Lsn> published_{kNoLsn};
  std::atomic<bool> attached_{false};
  std::function<void(Lsn)> publish_hook_;  // unguarded: set before the first Attach

  mutable Mutex mu_;
  // Sorted by LSN (few: one per kReplicated append in flight). waiting_[0]:
  // for R; waiting_[1 + s]: for R(s).
  std::vector<std::vector<Waiter*>> waiting_ GUARDED_BY(mu_);
  std::uint64_t token_ GUARDED_BY(mu_) = 0;  // the attached replicator's, 0: none
  std::uint64_t next_token_ GUARDED_BY(mu_) = 1;
  std::string description_ GUARDED_BY(mu_);
  Status last_error_ GUARDED_BY(mu_);
  // Closed naming the last replicator that detached (OK while one is
  // attached, or none ever was): what a wait finding none gets.
  Status detached_ GUARDED_BY(mu_);
  bool shut_down_ GUARDED_BY(mu_) = false;
};

}  // namespace shardwal
