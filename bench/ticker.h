// SPDX-License-Identifier: Apache-2.0
// Ticker: a thread that calls tick(now) once per period - the first at
// start + period; ticks missed while one ran late are skipped - until Stop()
// or until tick returns false. It waits on a condition variable with the
// next tick as deadline, so Stop() ends it at once. Shared by the progress
// lines of `bench` and `demo` and by bench's --checkpoint-every thread.
//
// It starts in its constructor: make it the last member of its owner, so
// everything tick touches is initialised first.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace shardwal::tools {

class Ticker {
 public:
  using Clock = std::chrono::steady_clock;

  Ticker(Clock::time_point start, Clock::duration period, std::function<bool(Clock::time_point now)> tick)
      : start_(start), period_(period), tick_(std::move(tick)), thread_([this] { Loop(); }) {}
  ~Ticker() { Stop(); }
  Ticker(const Ticker&) = delete;
  Ticker& operator=(const Ticker&) = delete;

  // Ends the thread (at once, unless a tick is running) and joins it.
  void Stop() {
    {
      std::lock_guard lk(mu_);
      done_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void Loop() {
    Clock::time_point next = start_ + period_;
    std::unique_lock lk(mu_);
    while (!cv_.wait_until(lk, next, [this] { return done_; })) {
      lk.unlock();
      const Clock::time_point now = Clock::now();
      if (!tick_(now)) return;
      lk.lock();
      next += period_;
      if (next <= now) next = now + period_;  // fell behind: skip ticks
    }
  }

  const Clock::time_point start_;
  const Clock::duration period_;
  const std::function<bool(Clock::time_point)> tick_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;  // last: starts once the rest is initialised
};

}  // namespace shardwal::tools
