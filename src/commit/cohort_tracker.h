// SPDX-License-Identifier: Apache-2.0
// CohortTracker: how many of the writers a watermark advance just woke have
// not appended again yet.
//
// Why: with W writers that each wait for their record to be durable, the
// flush thread used to cut the next batch the moment its fdatasync
// returned. The writers it had just woken were still being scheduled, so
// that batch held only the few that had already come back; the rest missed
// it and waited a whole extra fdatasync. The writers split into two
// alternating cohorts, each batch covered half of them and each append
// took two fdatasyncs. Instead, a flush thread that has just synced waits -
// on its condition variable, at most about one fdatasync's time - until the
// cohort it woke has re-appended (or given up appending), so one fdatasync
// covers everyone. docs/design.md, "Cutting the batch after a sync", has the
// argument and the measurements.
//
// Waiting pays only while the cohort comes back faster than an fdatasync:
// on 2 cores, 64 woken writers need ~250 us to be scheduled, append and
// block again, more than the ~110 us fdatasync they would wait for, and
// then two alternating cohorts, each re-appending while the other's batch
// syncs, are faster. So the tracker also learns how long a cohort takes
// to return, per writer (ExpectedReturn), and the flush thread waits only
// when the expected return is shorter than its recent fdatasync.
//
// It is a heuristic, never a correctness condition: a writer that never
// comes back only costs the bounded wait, and a new wake-up replaces the
// previous cohort (its generation changes, so late returners of an old
// cohort are not counted against the new one).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace shardwal {

class CohortTracker {
 public:
  // The publisher woke `n` waiters; they form the current cohort. Returns
  // the cohort's generation, which each woken waiter carries back.
  std::uint32_t Woke(std::uint32_t n) {
    woke_ns_.store(NowNs(), std::memory_order_relaxed);
    woke_n_.store(n, std::memory_order_relaxed);
    std::uint64_t cur = state_.load(std::memory_order_relaxed);
    std::uint64_t next;
    do {
      const auto gen = static_cast<std::uint32_t>(cur >> 32) + 1;
      next = (std::uint64_t{gen} << 32) | n;
    } while (!state_.compare_exchange_weak(cur, next, std::memory_order_acq_rel, std::memory_order_relaxed));
    return static_cast<std::uint32_t>(next >> 32);
  }

  // A writer woken in cohort `gen` appended again. Returns true when it was
  // the last of its cohort still outstanding (the caller then wakes the
  // flush threads waiting for it); false if the cohort was replaced.
  bool Returned(std::uint32_t gen) {
    std::uint64_t cur = state_.load(std::memory_order_relaxed);
    for (;;) {
      if (static_cast<std::uint32_t>(cur >> 32) != gen || (cur & 0xffffffffu) == 0) return false;
      if (state_.compare_exchange_weak(cur, cur - 1, std::memory_order_acq_rel, std::memory_order_relaxed)) {
        if ((cur & 0xffffffffu) != 1) return false;
        LearnReturnTime();
        return true;
      }
    }
  }

  // Writers of the current cohort that have not appended again.
  std::uint32_t outstanding() const {
    return static_cast<std::uint32_t>(state_.load(std::memory_order_acquire) & 0xffffffffu);
  }

  // How long the writers still outstanding will probably take to be back,
  // from the return times of earlier cohorts (0 until one came back).
  std::chrono::nanoseconds ExpectedReturn() const {
    return std::chrono::nanoseconds(per_writer_ns_.load(std::memory_order_relaxed) * outstanding());
  }

  // The calling thread's membership: set when a wait of this thread ended
  // by a wake-up, consumed by its next append.
  struct Membership {
    const CohortTracker* tracker = nullptr;
    std::uint32_t gen = 0;
  };
  static Membership& ThisThread() {
    thread_local Membership m;
    return m;
  }

 private:
  static std::int64_t NowNs() {
    return std::chrono::steady_clock::now().time_since_epoch() / std::chrono::nanoseconds(1);
  }

  // The whole cohort is back: fold its per-writer return time into the
  // running average (1/4 weight). Racy by design (relaxed, last writer
  // wins): it only steers a heuristic.
  void LearnReturnTime() {
    const std::int64_t n = woke_n_.load(std::memory_order_relaxed);
    if (n <= 0) return;
    const std::int64_t per = (NowNs() - woke_ns_.load(std::memory_order_relaxed)) / n;
    if (per < 0) return;
    const std::int64_t old = per_writer_ns_.load(std::memory_order_relaxed);
    per_writer_ns_.store(old == 0 ? per : old + (per - old) / 4, std::memory_order_relaxed);
  }

  // generation << 32 | outstanding writers
  std::atomic<std::uint64_t> state_{0};
  std::atomic<std::int64_t> woke_ns_{0};       // when the current cohort was woken
  std::atomic<std::int64_t> woke_n_{0};        // its size
  std::atomic<std::int64_t> per_writer_ns_{0};  // learned return time per writer
};

}  // namespace shardwal
