// SPDX-License-Identifier: Apache-2.0
#include "src/commit/durable_watermark.h"

#include <boost/intrusive/list.hpp>

#include <algorithm>
#include <vector>

#include "src/foundation/futex.h"

namespace shardwal {

namespace bi = boost::intrusive;

namespace {
constexpr std::uint32_t kDurable = 1;
constexpr std::uint32_t kFailedWake = 2;
}  // namespace

// Lives on the waiting thread's stack for the duration of Wait().
struct DurableWatermark::Waiter : bi::list_base_hook<bi::link_mode<bi::normal_link>> {
  Lsn lsn = kNoLsn;
  WakeFlag flag;
  // Set by the publisher before it wakes this waiter: the waiters this one
  // wakes in turn (a binary tree over everyone the new W covers).
  Waiter* wake_next[2] = {nullptr, nullptr};
  std::uint32_t cohort_gen = 0;  // the CohortTracker generation it was woken in
};

struct alignas(64) DurableWatermark::Lane {
  Mutex mu;
  bi::list<Waiter, bi::constant_time_size<false>> waiters GUARDED_BY(mu);  // sorted by LSN
  // LSN of the first waiter, kNoPending if none: lets a publisher skip a
  // lane without taking its lock.
  std::atomic<Lsn> min_lsn{kNoPending};
};

DurableWatermark::DurableWatermark(std::uint32_t shards, const std::atomic<Lsn>* next_lsn)
    : next_lsn_(next_lsn),
      shards_(shards),
      lanes_(new Lane[shards]),
      lane_count_(shards),
      shard_lanes_(new Lane[shards]),
      floors_(new PaddedFloor[shards]),
      shard_published_(new PaddedFloor[shards]) {
  for (std::uint32_t s = 0; s < shards; ++s) shard_published_[s].value.store(kNoLsn);
}

DurableWatermark::~DurableWatermark() = default;

std::atomic<Lsn>& DurableWatermark::pending_floor(std::uint32_t shard) { return floors_[shard].value; }

void DurableWatermark::SetPublishHook(std::function<void(Lsn)> hook) { publish_hook_ = std::move(hook); }

Lsn DurableWatermark::Frontier(std::uint32_t shard) const {
  const Lsn counter = next_lsn_->load(std::memory_order_seq_cst);
  const Lsn floor = floors_[shard].value.load(std::memory_order_seq_cst);
  return floor == kNoPending ? counter - 1 : floor - 1;
}

// The order of the loads is the whole point: the counter first, then the
// floors. Any LSN below the counter value read here was handed out by a
// fetch_add that follows its shard's floor reservation in the single total
// order of seq_cst operations, so the floor loads below see that reservation
// (or a later value, which the flush thread only stores once the LSN is
// durable).
Lsn DurableWatermark::Compute() const {
  Lsn w = next_lsn_->load(std::memory_order_seq_cst) - 1;
  for (std::uint32_t s = 0; s < shards_; ++s) {
    const Lsn floor = floors_[s].value.load(std::memory_order_seq_cst);
    if (floor != kNoPending) w = std::min(w, floor - 1);
  }
  return w;
}

Lsn DurableWatermark::Advance() {
  const Lsn w = Compute();
  // seq_cst: this store and the lane.min_lsn loads in WakeCovered pair with
  // a waiter's min_lsn store and published load (see WaitOn).
  Lsn prev = published_.load(std::memory_order_seq_cst);
  while (prev < w && !published_.compare_exchange_weak(prev, w, std::memory_order_seq_cst)) {
  }
  if (prev >= w) return prev;  // someone published at least as much; they wake
  if (publish_hook_) publish_hook_(w);
  WakeCovered(lanes_.get(), lane_count_, w, cohort_);
  return w;
}

void DurableWatermark::AdvanceShard(std::uint32_t shard) {
  const Lsn f = Frontier(shard);
  std::atomic<Lsn>& published = shard_published_[shard].value;
  Lsn prev = published.load(std::memory_order_seq_cst);
  while (prev < f && !published.compare_exchange_weak(prev, f, std::memory_order_seq_cst)) {
  }
  if (prev >= f) return;
  if (shard_publish_hook_) shard_publish_hook_();
  WakeCovered(&shard_lanes_[shard], 1, f, cohort_);
}

Status DurableWatermark::WaitShard(Lsn lsn, std::uint32_t shard) {
  return WaitOn(shard_lanes_[shard], shard_published_[shard].value, lsn);
}

void DurableWatermark::WakeCovered(Lane* lanes, std::uint32_t count, Lsn w, CohortTracker* cohort) {
  // Reused across calls by each publishing (flush) thread: no allocation in
  // steady state.
  thread_local std::vector<Waiter*> ready;
  ready.clear();
  for (std::uint32_t i = 0; i < count; ++i) {
    Lane& lane = lanes[i];
    if (lane.min_lsn.load(std::memory_order_seq_cst) > w) continue;
    MutexLock lk(&lane.mu);
    auto& list = lane.waiters;
    while (!list.empty() && list.front().lsn <= w) {
      ready.push_back(&list.front());
      list.pop_front();
    }
    lane.min_lsn.store(list.empty() ? kNoPending : list.front().lsn, std::memory_order_seq_cst);
  }
  if (ready.empty()) return;
  const std::uint32_t gen = cohort != nullptr ? cohort->Woke(static_cast<std::uint32_t>(ready.size())) : 0;
  for (std::size_t i = 0; i < ready.size(); ++i) {
    const std::size_t left = 2 * i + 1, right = 2 * i + 2;
    ready[i]->cohort_gen = gen;
    ready[i]->wake_next[0] = left < ready.size() ? ready[left] : nullptr;
    ready[i]->wake_next[1] = right < ready.size() ? ready[right] : nullptr;
  }
  ready[0]->flag.Set(kDurable);
}

Status DurableWatermark::Wait(Lsn lsn, std::uint32_t lane_hint) {
  return WaitOn(lanes_[lane_hint % lane_count_], published_, lsn);
}

Status DurableWatermark::WaitOn(Lane& lane, const std::atomic<Lsn>& published, Lsn lsn) {
  if (published.load(std::memory_order_acquire) >= lsn) return Status::OK();
  Waiter self;
  self.lsn = lsn;
  {
    MutexLock lk(&lane.mu);
    if (failed_.load(std::memory_order_acquire)) {
      MutexLock elk(&error_mu_);
      return error_;
    }
    auto& list = lane.waiters;
    auto pos = list.end();
    while (pos != list.begin() && std::prev(pos)->lsn > lsn) --pos;
    list.insert(pos, self);
    // Publish our presence, then look at W again. A publisher stores W,
    // then reads min_lsn to decide whether to visit this lane (without the
    // lock). Both pairs are seq_cst, so at least one side sees the other:
    // either we see its W here and leave, or it sees our LSN and wakes us.
    lane.min_lsn.store(list.front().lsn, std::memory_order_seq_cst);
    if (published.load(std::memory_order_seq_cst) >= lsn) {
      list.erase(list.iterator_to(self));
      lane.min_lsn.store(list.empty() ? kNoPending : list.front().lsn, std::memory_order_seq_cst);
      return Status::OK();
    }
  }
  const std::uint32_t how = self.flag.Wait();
  if (how == kDurable) {
    if (cohort_ != nullptr) CohortTracker::ThisThread() = {cohort_, self.cohort_gen};
    // Pass the wake-up on before returning: our children are still asleep
    // (their nodes alive) until we set their flags.
    for (Waiter* next : self.wake_next) {
      if (next != nullptr) next->flag.Set(kDurable);
    }
    return Status::OK();
  }
  MutexLock elk(&error_mu_);
  return error_;
}

void DurableWatermark::Fail(const Status& error) {
  {
    MutexLock elk(&error_mu_);
    if (failed_.load(std::memory_order_relaxed)) return;
    error_ = error;
    failed_.store(true, std::memory_order_release);
  }
  for (std::uint32_t i = 0; i < 2 * lane_count_; ++i) {
    Lane& lane = i < lane_count_ ? lanes_[i] : shard_lanes_[i - lane_count_];
    std::vector<Waiter*> doomed;
    {
      MutexLock lk(&lane.mu);
      while (!lane.waiters.empty()) {
        doomed.push_back(&lane.waiters.front());
        lane.waiters.pop_front();
      }
      lane.min_lsn.store(kNoPending, std::memory_order_seq_cst);
    }
    for (Waiter* w : doomed) w->flag.Set(kFailedWake);
  }
}

}  // namespace shardwal
