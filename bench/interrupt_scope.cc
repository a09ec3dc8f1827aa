// SPDX-License-Identifier: Apache-2.0
#include "bench/interrupt_scope.h"

#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace shardwal::tools {

namespace {

std::atomic<bool> g_interrupted{false};
std::atomic<int> g_event_fd{-1};
static_assert(std::atomic<bool>::is_always_lock_free && std::atomic<int>::is_always_lock_free);

struct sigaction g_old_int {};
struct sigaction g_old_term {};

extern "C" void OnInterrupt(int) {
  g_interrupted.store(true, std::memory_order_relaxed);
  const int fd = g_event_fd.load(std::memory_order_relaxed);
  if (fd >= 0) {
    const int saved = errno;
    const std::uint64_t one = 1;
    (void)!::write(fd, &one, sizeof one);
    errno = saved;
  }
}

}  // namespace

InterruptScope::InterruptScope() {
  g_interrupted.store(false);
  g_event_fd.store(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  struct sigaction sa {};
  sa.sa_handler = OnInterrupt;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESETHAND;
  sigaction(SIGINT, &sa, &g_old_int);
  sigaction(SIGTERM, &sa, &g_old_term);
}

void InterruptScope::Restore() {
  if (restored_) return;
  restored_ = true;
  sigaction(SIGINT, &g_old_int, nullptr);
  sigaction(SIGTERM, &g_old_term, nullptr);
  const int fd = g_event_fd.exchange(-1);
  if (fd >= 0) ::close(fd);
}

const std::atomic<bool>& InterruptScope::Flag() { return g_interrupted; }

int InterruptScope::EventFd() { return g_event_fd.load(std::memory_order_relaxed); }

}  // namespace shardwal::tools
