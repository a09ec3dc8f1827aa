// SPDX-License-Identifier: Apache-2.0
#include "src/wal/tailer_registry.h"

#include <algorithm>

namespace shardwal {

Status TailerRegistry::Register(const std::shared_ptr<Entry>& e, Lsn from) {
  MutexLock lk(&mu_);
  // Under mu_: a release computes its limits under it too, so it either saw
  // this tailer's hold or had raised checkpoint_ before we look at it.
  if (from <= checkpoint_) {
    return Status::FellBehind("tailer '" + e->options.name + "' cannot start at LSN " + std::to_string(from) +
                              ": the WAL is checkpointed up to LSN " + std::to_string(checkpoint_) +
                              ", whose segments may be released (start above it)");
  }
  e->hold.store(from - 1, std::memory_order_release);
  entries_.push_back(e);
  return Status::OK();
}

void TailerRegistry::Unregister(const Entry* e) {
  bool was_blocking = false;
  {
    MutexLock lk(&mu_);
    auto it = std::find_if(entries_.begin(), entries_.end(), [&](const auto& p) { return p.get() == e; });
    if (it == entries_.end()) return;
    was_blocking = (*it)->blocking.load(std::memory_order_acquire) || (*it)->retained_bytes.load() > 0;
    entries_.erase(it);
  }
  // What it held back (and any backpressure it caused) goes now.
  if (was_blocking) {
    release_due_.store(true, std::memory_order_release);
    if (poke_) poke_();
  }
}

void TailerRegistry::Wake() {
  MutexLock lk(&wait_mu_);
  cv_.NotifyAll();
}

void TailerRegistry::Wait(const std::function<bool()>& ready, std::chrono::steady_clock::time_point deadline) {
  // Announce the waiter before the last look at `ready`: a publisher raises
  // W, then reads waiting_ (both seq_cst), so either it sees this waiter and
  // wakes it, or this look sees its W.
  waiting_.fetch_add(1, std::memory_order_seq_cst);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  {
    MutexLock lk(&wait_mu_);
    while (!ready()) {
      if (cv_.WaitUntil(lk, deadline) == std::cv_status::timeout) break;
    }
  }
  waiting_.fetch_sub(1, std::memory_order_seq_cst);
}

void TailerRegistry::Advanced(Entry& e) {
  if (!e.blocking.load(std::memory_order_acquire)) return;
  release_due_.store(true, std::memory_order_release);
  if (poke_) poke_();
}

std::vector<Lsn> TailerRegistry::Limit(Lsn checkpoint, Lsn releasable, std::size_t sets, const PlanFn& plan) {
  MutexLock lk(&mu_);
  checkpoint_ = std::max(checkpoint_, checkpoint);
  std::vector<Lsn> limit(sets, releasable);
  bool lagging = false;
  std::string lag;
  for (const auto& e : entries_) {
    if (e->fell_behind.load(std::memory_order_acquire)) continue;
    const Lsn hold = e->hold.load(std::memory_order_acquire);
    std::uint64_t retained = 0;
    SegmentInfo first_lost;
    for (std::size_t i = 0; i < sets && hold < releasable; ++i) {
      if (!Covers(*e, i)) continue;
      const std::vector<SegmentInfo> all = plan(i, releasable);
      const std::size_t kept = plan(i, hold).size();
      for (std::size_t k = kept; k < all.size(); ++k) retained += all[k].bytes;
      if (kept < all.size() && first_lost.path.empty()) first_lost = all[kept];
    }
    e->retained_bytes.store(retained, std::memory_order_relaxed);
    e->blocking.store(retained > 0, std::memory_order_release);
    if (!ApplyBound(*e, checkpoint, retained, first_lost)) continue;
    if (e->options.max_retained_bytes != 0 && retained > e->options.max_retained_bytes && lag.empty()) {
      lagging = true;
      lag = "tailer '" + e->options.name + "' lags: at LSN " + std::to_string(hold) + " it holds back " +
            std::to_string(retained) + " bytes of segments checkpointed up to LSN " + std::to_string(checkpoint) +
            " (from " + first_lost.path + "), more than its max_retained_bytes=" +
            std::to_string(e->options.max_retained_bytes) +
            " (LagPolicy::kBackpressure: appends resume once it catches up)";
    }
    for (std::size_t i = 0; i < sets; ++i) {
      if (Covers(*e, i)) limit[i] = std::min(limit[i], hold);
    }
  }
  lag_message_ = lag;
  lagging_.store(lagging, std::memory_order_relaxed);
  return limit;
}

bool TailerRegistry::ApplyBound(Entry& e, Lsn checkpoint, std::uint64_t retained, const SegmentInfo& first_lost) {
  const std::uint64_t bound = e.options.max_retained_bytes;
  if (bound == 0 || retained <= bound || e.options.lag_policy != LagPolicy::kFallBehind) return true;
  std::string msg = "tailer '" + e.options.name + "'" +
                    (e.options.shard ? " (shard " + std::to_string(*e.options.shard) + ")" : std::string()) +
                    " fell behind: a checkpoint at LSN " + std::to_string(checkpoint) + " released segment " +
                    first_lost.path + " (LSNs " + std::to_string(first_lost.first_lsn) + ".." +
                    std::to_string(first_lost.last_lsn) + ") before the tailer read past LSN " +
                    std::to_string(e.hold.load(std::memory_order_acquire)) + ": keeping it would have held back " +
                    std::to_string(retained) + " bytes, more than max_retained_bytes=" + std::to_string(bound) +
                    " (LagPolicy::kFallBehind); re-attach above the checkpoint";
  {
    MutexLock lk(&e.mu);
    e.fell_behind_message = std::move(msg);
  }
  e.blocking.store(false, std::memory_order_release);
  // Set before the release removes anything: a tailer that then finds the
  // segment gone or rewritten sees the flag.
  e.fell_behind.store(true, std::memory_order_seq_cst);
  Wake();
  return false;
}

Status TailerRegistry::LagStatus() const {
  MutexLock lk(&mu_);
  return Status::Backpressure(lag_message_.empty() ? "a log tailer lags" : lag_message_);
}

std::vector<TailerRegistry::Info> TailerRegistry::Snapshot() const {
  MutexLock lk(&mu_);
  std::vector<Info> out;
  for (const auto& e : entries_) {
    out.push_back(Info{e->options.name, e->hold.load(std::memory_order_acquire),
                       e->retained_bytes.load(std::memory_order_relaxed),
                       e->fell_behind.load(std::memory_order_acquire)});
  }
  return out;
}

}  // namespace shardwal
