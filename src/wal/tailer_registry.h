// SPDX-License-Identifier: Apache-2.0
// TailerRegistry: the log tailers attached to an open WAL (LogTailer::Attach),
// as the rest of the WAL sees them:
//   * waking: the watermark's publish hooks call Notify, which costs one
//     atomic load while no tailer waits; Close, Interrupt and failures Wake;
//   * checkpoints: Limit tells a release how far each shard directory may be
//     released so that no tailer loses a segment it has not read, applying
//     TailerOptions::max_retained_bytes and the LagPolicy;
//   * backpressure: lagging() is the append path's one relaxed load.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "shards/segment_set.h"
#include "shardwal/tailer.h"
#include "src/foundation/mutex.h"

namespace shardwal {

class TailerRegistry {
 public:
  // One attached tailer's state shared with the WAL.
  struct Entry {
    explicit Entry(TailerOptions o) : options(std::move(o)) {}
    const TailerOptions options;
    // Everything at or below it the tailer no longer needs (its position,
    // or for a one-shard tailer how far it has read its shard).
    std::atomic<Lsn> hold{kNoLsn};
    std::atomic<bool> interrupted{false};
    std::atomic<bool> fell_behind{false};
    // Its hold kept segments from a release: moving on should retry it.
    std::atomic<bool> blocking{false};
    std::atomic<std::uint64_t> retained_bytes{0};
    Mutex mu;
    std::string fell_behind_message GUARDED_BY(mu);
  };

  // `shards`: the current epoch's shard count (the first `shards` segment
  // sets are its shards, in order); `checkpoint`: the MANIFEST's.
  TailerRegistry(std::uint32_t shards, Lsn checkpoint) : shards_(shards), checkpoint_(checkpoint) {}

  // Registers `e` to read from `from`; FellBehind if a checkpoint at or
  // above `from` may have released what it needs.
  Status Register(const std::shared_ptr<Entry>& e, Lsn from) EXCLUDES(mu_);
  void Unregister(const Entry* e) EXCLUDES(mu_);

  // ---- waking ------------------------------------------------------------------
  // W (or a shard's frontier) rose. Any thread; cheap when nobody waits.
  void Notify() EXCLUDES(wait_mu_) {
    if (waiting_.load(std::memory_order_seq_cst) == 0) return;
    Wake();
  }
  // Wakes every waiting tailer (they re-check their conditions).
  void Wake() EXCLUDES(wait_mu_);
  // The WAL closed: its final W is published. Wakes everyone.
  void Close() EXCLUDES(wait_mu_) {
    closed_.store(true, std::memory_order_release);
    Wake();
  }
  bool closed() const { return closed_.load(std::memory_order_acquire); }
  // Blocks until `ready()` or the deadline. `ready` is re-checked after every
  // wake; whatever makes it true must be followed by Notify or Wake.
  void Wait(const std::function<bool()>& ready, std::chrono::steady_clock::time_point deadline) EXCLUDES(wait_mu_);

  // ---- releases (under the lifecycle lock) -------------------------------------
  // What segment set `set` would release with everything <= lsn released.
  using PlanFn = std::function<std::vector<SegmentInfo>(std::size_t set, Lsn lsn)>;
  // Per segment set, the highest LSN it may be released up to (at most
  // `releasable`) for a checkpoint at `checkpoint`. Marks tailers that fell
  // behind the bound (kFallBehind) and sets lagging() (kBackpressure).
  std::vector<Lsn> Limit(Lsn checkpoint, Lsn releasable, std::size_t sets, const PlanFn& plan) EXCLUDES(mu_);
  // Whether a tailer that held a release back has moved on since.
  bool ReleaseDue() { return release_due_.exchange(false, std::memory_order_acq_rel); }
  // A tailer's hold rose. If it was holding a release back, `poke` (the
  // lifecycle chore) is told.
  void Advanced(Entry& e);
  void SetPoke(std::function<void()> poke) { poke_ = std::move(poke); }

  // ---- backpressure ----------------------------------------------------------------
  bool lagging() const { return lagging_.load(std::memory_order_relaxed); }
  Status LagStatus() const EXCLUDES(mu_);

  struct Info {
    std::string name;
    Lsn hold = kNoLsn;
    std::uint64_t retained_bytes = 0;
    bool fell_behind = false;
  };
  std::vector<Info> Snapshot() const EXCLUDES(mu_);

 private:
  bool Covers(const Entry& e, std::size_t set) const {
    return !e.options.shard || set >= shards_ || set == *e.options.shard;
  }
  // Applies the bound to `e` holding back `retained` bytes; false if it
  // fell behind (its hold no longer counts).
  bool ApplyBound(Entry& e, Lsn checkpoint, std::uint64_t retained, const SegmentInfo& first_lost) REQUIRES(mu_);

  const std::uint32_t shards_;
  mutable Mutex mu_;
  std::vector<std::shared_ptr<Entry>> entries_ GUARDED_BY(mu_);
  Lsn checkpoint_ GUARDED_BY(mu_);  // the highest a release was computed for
  std::string lag_message_ GUARDED_BY(mu_);
  std::atomic<bool> lagging_{false};
  std::atomic<bool> release_due_{false};
  std::function<void()> poke_;  // unguarded: set before any tailer attaches

  Mutex wait_mu_;
  CondVar cv_;
  std::atomic<int> waiting_{0};
  std::atomic<bool> closed_{false};
};

}  // namespace shardwal
