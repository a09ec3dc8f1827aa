// SPDX-License-Identifier: Apache-2.0
// ParallelFor: runs fn(0) ... fn(n - 1) on a few std::jthreads and returns
// when all are done. Recovery's pass 1 uses it, one shard per call (it
// replaced oneTBB's parallel_for: docs/benchmarks.md, "Recovery's parallel
// scan: std::jthread or oneTBB").
//
// Threads: min(n, max_threads) in all, the calling thread being one of
// them, each taking the next index from a shared counter until none is
// left - so a slow shard does not hold back the others' start. No polling:
// the caller joins. An exception thrown by fn stops the handing out of new
// indices (those already running finish) and the first one is rethrown to
// the caller after every thread has joined.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace shardwal {

// The default bound on ParallelFor's threads: the hardware's, at least 1.
inline std::size_t HardwareThreads() { return std::max(1u, std::thread::hardware_concurrency()); }

template <typename Fn>
void ParallelFor(std::size_t n, const Fn& fn, std::size_t max_threads = HardwareThreads()) {
  if (n == 0) return;
  std::atomic<std::size_t> next{0};
  std::atomic<bool> stop{false};
  std::mutex error_mu;
  std::exception_ptr error;
  auto work = [&] {
    for (std::size_t i; !stop.load(std::memory_order_relaxed) && (i = next.fetch_add(1)) < n;) {
      try {
        fn(i);
      } catch (...) {
        std::lock_guard lk(error_mu);
        if (!error) error = std::current_exception();
        stop.store(true, std::memory_order_relaxed);
      }
    }
  };
  const std::size_t threads = std::min(n, std::max<std::size_t>(1, max_threads));
  {
    std::vector<std::jthread> helpers;
    helpers.reserve(threads - 1);
    try {
      for (std::size_t t = 1; t < threads; ++t) helpers.emplace_back(work);
    } catch (...) {
      // No thread to be had (std::system_error): the ones there are, this
      // one included, do all the work.
    }
    work();
  }  // the jthreads join here
  if (error) std::rethrow_exception(error);
}

}  // namespace shardwal
