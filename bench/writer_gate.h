// SPDX-License-Identifier: Apache-2.0
// WriterGate: what the writer threads of a benchmark run share to start
// together and to stop on the first error (bench, compare, demo).
//
//   each writer: set up, ready.count_down(), AwaitStart(), then loop while
//                !Stopped(); on an error Fail(status) and return;
//   the runner:  ready.wait(), Release(seconds) (the start time), join,
//                then FirstError().
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <latch>
#include <mutex>

#include "shardwal/status.h"

namespace shardwal::tools {

class WriterGate {
 public:
  using Clock = std::chrono::steady_clock;

  explicit WriterGate(std::ptrdiff_t writers) : ready(writers) {}

  // Counted down once by each writer when it is set up (and for a writer
  // that never starts), so the start does not wait for thread creation.
  std::latch ready;

  // Blocks until Release(); returns the deadline.
  Clock::time_point AwaitStart() const {
    go_.wait(false, std::memory_order_acquire);
    return deadline_;
  }

  // Starts every writer; they run until `seconds` from now (deadline()).
  // Returns the start time.
  Clock::time_point Release(double seconds) {
    const Clock::time_point start = Clock::now();
    deadline_ = seconds > 0 ? start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds))
                            : Clock::time_point::max();
    go_.store(true, std::memory_order_release);
    go_.notify_all();
    return start;
  }

  // Keeps the first error and stops every writer.
  void Fail(const Status& s) {
    {
      std::lock_guard lk(mu_);
      if (first_error_.ok()) first_error_ = s;
    }
    Stop();
  }
  void Stop() { stop_.store(true, std::memory_order_relaxed); }
  bool Stopped() const { return stop_.load(std::memory_order_relaxed); }

  Status FirstError() const {
    std::lock_guard lk(mu_);
    return first_error_;
  }

 private:
  std::atomic<bool> go_{false};
  Clock::time_point deadline_ = Clock::time_point::max();  // written before go_
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  Status first_error_;
};

}  // namespace shardwal::tools
