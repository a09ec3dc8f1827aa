// SPDX-License-Identifier: Apache-2.0
// WalCore: the state every shard shares - the global LSN counter, the durable
// watermark and the failed state.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>

#include "shardwal/status.h"
#include "shardwal/types.h"
#include "src/commit/cohort_tracker.h"
#include "src/commit/durable_watermark.h"

namespace shardwal {

class WalCore {
 public:
  // `next_lsn`: the first LSN to hand out (recovery's cut + 1); everything
  // below it is durable already.
  WalCore(std::uint32_t shards, Lsn first_lsn) : next_lsn(first_lsn), watermark(shards, &next_lsn) {
    watermark.SetCohortTracker(&cohort);
    watermark.Advance();
    for (std::uint32_t s = 0; s < shards; ++s) watermark.AdvanceShard(s);
  }

  // The next LSN to hand out. Only ever advanced by fetch_add under the lock
  // of the shard the new records go to, after that shard reserved its floor.
  std::atomic<Lsn> next_lsn;
  DurableWatermark watermark;
  // Writers the last watermark advance woke that have not appended again:
  // a flush thread that just synced waits (bounded) for them before it cuts
  // the next batch.
  CohortTracker cohort;

  bool failed() const { return failed_.load(std::memory_order_acquire); }

  // The first error, or OK.
  Status error() const {
    std::lock_guard lk(mu_);
    return error_;
  }

  // Puts the WAL into its failed state. Only the first error is kept (the
  // one that explains the rest); it is never cleared: an fsync failure is
  // not retried into a success.
  void Fail(const Status& error) {
    {
      std::lock_guard lk(mu_);
      if (!error_.ok()) return;
      error_ = error.WithContext("WAL failed");
      failed_.store(true, std::memory_order_release);
    }
    watermark.Fail(this->error());
    if (on_first_failure) on_first_failure(this->error());
  }

  // Wakes everything that could be blocked on the WAL (set before the first
  // flush thread starts).
  std::function<void(const Status&)> on_first_failure;

 private:
  mutable std::mutex mu_;
  Status error_;
  std::atomic<bool> failed_{false};
};

}  // namespace shardwal
