// SPDX-License-Identifier: Apache-2.0
#include "shards/segment_preparer.h"

namespace shardwal {

SegmentPreparer::SegmentPreparer(std::vector<SegmentSet*> sets, Chore chore,
                                 std::function<void(const Status&)> on_error)
    : sets_(std::move(sets)), chore_(std::move(chore)), on_error_(std::move(on_error)) {
  for (SegmentSet* set : sets_) set->SetPreparerWake([this] { Poke(); });
}

SegmentPreparer::~SegmentPreparer() { Stop(); }

void SegmentPreparer::Start() {
  poked_ = true;
  thread_ = std::thread([this] { Loop(); });
}

void SegmentPreparer::Poke(bool chore) {
  std::lock_guard lk(mu_);
  poked_ = true;
  chore_due_ = chore_due_ || chore;
  cv_.notify_one();
}

void SegmentPreparer::Stop() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
    cv_.notify_one();
  }
  // A zero fill in progress ends at its next chunk (Close discards the
  // segment; a filled one is not needed to close).
  for (SegmentSet* set : sets_) set->InterruptFill();
  if (thread_.joinable()) thread_.join();
}

void SegmentPreparer::Halt() {
  std::lock_guard lk(mu_);
  halted_ = true;
}

void SegmentPreparer::Loop() {
  std::optional<std::chrono::system_clock::time_point> deadline;
  std::unique_lock lk(mu_);
  for (;;) {
    if (stop_) return;
    const bool due = deadline && std::chrono::system_clock::now() >= *deadline;
    if (!poked_ && !chore_due_ && !due) {
      if (deadline) {
        cv_.wait_until(lk, *deadline);
      } else {
        cv_.wait(lk);
      }
      continue;
    }
    const bool run_chore = chore_due_ || due;
    poked_ = chore_due_ = false;
    if (halted_) {
      deadline.reset();
      continue;
    }
    lk.unlock();
    for (SegmentSet* set : sets_) {
      if (!set->WantsPreparation()) continue;
      Status s = set->PrepareNext();
      if (!s.ok() && !s.IsBackpressure() && on_error_) on_error_(s);
    }
    if (run_chore && chore_) deadline = chore_();
    lk.lock();
  }
}

}  // namespace shardwal
