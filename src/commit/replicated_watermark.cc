// SPDX-License-Identifier: Apache-2.0
#include "src/commit/replicated_watermark.h"

#include <algorithm>
#include <limits>

namespace shardwal {

// Lives on the waiting thread's stack for the duration of Wait().
struct ReplicatedWatermark::Waiter {
  Lsn lsn = kNoLsn;
  CondVar cv;
  bool done = false;  // guarded by the watermark's mu_ (set before cv is signalled)
  Status result;      // guarded by the watermark's mu_
};

ReplicatedWatermark::ReplicatedWatermark(std::uint32_t shards, const DurableWatermark* durable, bool per_shard)
    : shard_count_(shards), durable_(durable), per_shard_(per_shard), shards_(new ShardState[shards]) {
  MutexLock lk(&mu_);
  waiting_.resize(1 + shards);
  for (auto& list : waiting_) list.reserve(64);
}

ReplicatedWatermark::~ReplicatedWatermark() = default;

Result<std::uint64_t> ReplicatedWatermark::Attach(std::string description) {
  MutexLock lk(&mu_);
  if (shut_down_) return Status::Closed("attaching replicator '" + description + "': the WAL is closed");
  if (token_ != 0) {
    return Status::Busy("attaching replicator '" + description + "': replicator '" + description_ +
                        "' is attached already (one replicator per WAL)");
  }
  token_ = next_token_++;
  description_ = std::move(description);
  last_error_ = Status::OK();
  detached_ = Status::OK();
  attached_.store(true, std::memory_order_release);
  return token_;
}

void ReplicatedWatermark::Detach(std::uint64_t token) {
  MutexLock lk(&mu_);
  if (token_ != token || token == 0) return;
  token_ = 0;
  attached_.store(false, std::memory_order_release);
  detached_ = Status::Closed("replicator '" + description_ + "' detached at replicated LSN " +
                             std::to_string(published()) + " (durable LSN " + std::to_string(durable_->published()) +
                             ")");
  FailAllLocked(detached_);
}

void ReplicatedWatermark::Shutdown() {
  MutexLock lk(&mu_);
  shut_down_ = true;
  FailAllLocked(Status::Closed("WAL closed at replicated LSN " + std::to_string(published())));
}

std::string ReplicatedWatermark::description() const {
  MutexLock lk(&mu_);
  return token_ != 0 ? description_ : std::string();
}

void ReplicatedWatermark::SetError(const Status& error) {
  MutexLock lk(&mu_);
  last_error_ = error;
}

Lsn ReplicatedWatermark::DurableBound(std::uint32_t shard) const {
  return per_shard_ ? durable_->ShardPublished(shard) : durable_->published();
}

void ReplicatedWatermark::Advance(std::uint32_t shard, Lsn lsn) {
  if (shard >= shard_count_) return;
  ShardState& st = shards_[shard];
  // f(s) only moves up; a report at or below it changes nothing.
  Lsn cur = st.frontier.load(std::memory_order_acquire);
  while (cur < lsn && !st.frontier.compare_exchange_weak(cur, lsn, std::memory_order_acq_rel)) {
  }
  MutexLock lk(&mu_);
  // R(s) and R are recomputed under mu_: two advancing threads publish in
  // turn, so neither can lower what the other published.
  const Lsn shard_r = std::min(st.frontier.load(std::memory_order_acquire), DurableBound(shard));
  if (shard_r > st.published.load(std::memory_order_relaxed)) {
    st.published.store(shard_r, std::memory_order_release);
    ReleaseLocked(waiting_[1 + shard], shard_r);
  }
  Lsn r = durable_->published();
  for (std::uint32_t s = 0; s < shard_count_; ++s) r = std::min(r, shards_[s].frontier.load(std::memory_order_acquire));
  if (r <= published_.load(std::memory_order_relaxed)) return;
  published_.store(r, std::memory_order_release);
  ReleaseLocked(waiting_[0], r);
  // Under mu_: the hook sees R rise in order (it only signals a queue).
  if (publish_hook_) publish_hook_(r);
}

void ReplicatedWatermark::ReleaseLocked(std::vector<Waiter*>& list, Lsn upto) {
  // The list is sorted: the covered waiters are a prefix, signalled in LSN
  // order.
  std::size_t n = 0;
  while (n < list.size() && list[n]->lsn <= upto) {
    list[n]->done = true;
    list[n]->cv.NotifyOne();
    ++n;
  }
  list.erase(list.begin(), list.begin() + static_cast<std::ptrdiff_t>(n));
}

void ReplicatedWatermark::FailAllLocked(const Status& why) {
  for (auto& list : waiting_) {
    for (Waiter* w : list) {
      w->done = true;
      w->result = why;
      w->cv.NotifyOne();
    }
    list.clear();
  }
}

Status ReplicatedWatermark::TimeoutError(Lsn lsn, std::optional<std::uint32_t> shard,
                                         std::chrono::milliseconds timeout) const {
  const Lsn r = shard ? ShardPublished(*shard) : published();
  std::string msg = "durability replicated: LSN " + std::to_string(lsn) + " not acknowledged by replicator '" +
                    description_ + "' within " + std::to_string(timeout.count()) + " ms (replicated LSN " +
                    (shard ? "of shard " + std::to_string(*shard) + " " : std::string()) + std::to_string(r) +
                    ", durable LSN " + std::to_string(durable_->published()) + ")";
  if (!last_error_.ok()) msg += "; last replication error: " + last_error_.ToString();
  msg += "; the record is durable locally";
  return Status::Busy(std::move(msg));
}

Status ReplicatedWatermark::Wait(Lsn lsn, std::optional<std::uint32_t> shard,
                                 std::chrono::steady_clock::time_point deadline, std::chrono::milliseconds timeout) {
  auto covered = [&] { return (shard ? ShardPublished(*shard) : published()) >= lsn; };
  if (covered()) return Status::OK();
  Waiter self;
  self.lsn = lsn;
  MutexLock lk(&mu_);
  if (covered()) return Status::OK();  // R rose before we took the lock
  if (shut_down_) return Status::Closed("WAL closed at replicated LSN " + std::to_string(published()));
  if (token_ == 0) {
    // An append that found the replicator attached and got here after it
    // detached ends as the waiters it would have joined did.
    if (!detached_.ok()) return detached_;
    return Status::NotSupported("durability replicated: LSN " + std::to_string(lsn) +
                                " cannot be replicated: no replicator is attached (attach one, e.g. Shipper::Attach)");
  }
  std::vector<Waiter*>& list = waiting_[shard ? 1 + *shard : 0];
  list.insert(std::upper_bound(list.begin(), list.end(), lsn, [](Lsn l, const Waiter* w) { return l < w->lsn; }),
              &self);
  while (!self.done) {
    if (self.cv.WaitUntil(lk, deadline) == std::cv_status::timeout && !self.done) {
      list.erase(std::find(list.begin(), list.end(), &self));
      return TimeoutError(lsn, shard, timeout);
    }
  }
  return self.result;
}

}  // namespace shardwal
