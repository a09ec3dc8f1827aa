// SPDX-License-Identifier: Apache-2.0
// A one-shot wake-up flag for one sleeping thread, on a Linux futex.
//
// Why not std::atomic::wait/notify_one? The waker must be able to set the
// flag and wake the sleeper even if the sleeper returns - and destroys the
// flag, which lives on its stack - in between. Calling notify_one() on a
// dead atomic is undefined; FUTEX_WAKE only passes the address to the
// kernel, which hashes it and wakes whoever sleeps there (nobody, or at
// worst a spurious wake-up that every futex waiter tolerates).
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>

namespace shardwal {

class WakeFlag {
 public:
  static constexpr std::uint32_t kWaiting = 0;

  // Blocks until Set() published a value other than kWaiting; returns it.
  std::uint32_t Wait() {
    for (;;) {
      const std::uint32_t v = word_.load(std::memory_order_acquire);
      if (v != kWaiting) return v;
      syscall(SYS_futex, &word_, FUTEX_WAIT_PRIVATE, kWaiting, nullptr, nullptr, 0);
    }
  }

  // Publishes `value` (everything written before it is visible to the woken
  // thread) and wakes the sleeper. `this` may be destroyed by the sleeper as
  // soon as the store lands, so only its address is used afterwards.
  void Set(std::uint32_t value) {
    void* const addr = &word_;
    word_.store(value, std::memory_order_release);
    syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
  }

 private:
  std::atomic<std::uint32_t> word_{kWaiting};
};

}  // namespace shardwal
