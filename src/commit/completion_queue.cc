// SPDX-License-Identifier: Apache-2.0
#include "src/commit/completion_queue.h"

namespace shardwal {

void CompletionQueue::Add(Lsn lsn, Callback done) {
  std::unique_lock lk(mu_);
  if (stop_) {
    lk.unlock();
    const bool durable = watermark_() >= lsn;
    done(durable ? Status::OK() : core_->failed() ? core_->error() : Status::Closed(std::string("waiting for LSN ") + std::to_string(lsn) + " to become " + what_ + " after Close"));
    return;
  }
  if (!thread_.joinable()) thread_ = std::thread([this] { Run(); });
  pending_.push(Entry{lsn, seq_++, std::move(done)});
  min_pending_.store(pending_.top().lsn, std::memory_order_seq_cst);
  if (DueLocked()) cv_.notify_one();
}

bool CompletionQueue::DueLocked() const {
  // Pairs with OnPublished (Dekker): Add stores min_pending_ and then reads W
  // here, the publisher stores W and then reads min_pending_. Both sides
  // need store-load order, which acquire loads do not give on weakly ordered
  // CPUs: without this fence both could read the old values, and the
  // callback would sleep through the W that covers it.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  return !pending_.empty() && (pending_.top().lsn <= watermark_() || core_->failed());
}

void CompletionQueue::OnPublished(Lsn w) {
  if (min_pending_.load(std::memory_order_seq_cst) > w) return;
  std::lock_guard lk(mu_);
  cv_.notify_one();
}

void CompletionQueue::OnFailed() {
  std::lock_guard lk(mu_);
  cv_.notify_one();
}

void CompletionQueue::Run() {
  std::vector<Entry> due;
  std::unique_lock lk(mu_);
  for (;;) {
    cv_.wait(lk, [&] { return stop_ || DueLocked(); });
    const Lsn w = watermark_();
    const bool failed = core_->failed();
    while (!pending_.empty() && (pending_.top().lsn <= w || failed || stop_)) {
      // priority_queue::top is const; the entry is popped right after.
      due.push_back(std::move(const_cast<Entry&>(pending_.top())));
      pending_.pop();
    }
    min_pending_.store(pending_.empty() ? DurableWatermark::kNoPending : pending_.top().lsn,
                       std::memory_order_seq_cst);
    const bool stopping = stop_;
    lk.unlock();
    for (Entry& e : due) {
      if (e.lsn <= w) e.done(Status::OK());
      else e.done(failed ? core_->error() : Status::Closed("WAL closed before LSN " + std::to_string(e.lsn) +
                                                           " became " + what_));
    }
    due.clear();
    lk.lock();
    if (stopping && pending_.empty()) return;
  }
}

void CompletionQueue::Stop() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
    cv_.notify_one();
  }
  if (thread_.joinable()) thread_.join();
}

}  // namespace shardwal
