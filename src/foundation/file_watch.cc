// SPDX-License-Identifier: Apache-2.0
#include "src/foundation/file_watch.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>

namespace shardwal {

namespace {
Status Errno(const std::string& what) { return Status::IOError(what + ": " + std::strerror(errno)); }
}  // namespace

Result<FileWatch> FileWatch::Open(const std::string& dir) {
  const int in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (in < 0) return Errno("inotify_init1 for " + dir);
  if (inotify_add_watch(in, dir.c_str(), IN_MODIFY | IN_CLOSE_WRITE | IN_CREATE | IN_MOVED_TO) < 0) {
    Status s = Errno("inotify_add_watch " + dir);
    ::close(in);
    return s;
  }
  const int ev = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (ev < 0) {
    Status s = Errno("eventfd");
    ::close(in);
    return s;
  }
  return FileWatch(in, ev);
}

FileWatch::FileWatch(FileWatch&& other) noexcept
    : inotify_fd_(std::exchange(other.inotify_fd_, -1)), event_fd_(std::exchange(other.event_fd_, -1)) {}

FileWatch::~FileWatch() {
  if (inotify_fd_ >= 0) ::close(inotify_fd_);
  if (event_fd_ >= 0) ::close(event_fd_);
}

void FileWatch::Interrupt() const {
  const std::uint64_t one = 1;
  // A full counter (it never is) would still leave the fd readable.
  [[maybe_unused]] ssize_t n = ::write(event_fd_, &one, sizeof one);
}

Result<FileWatch::Woken> FileWatch::Wait(std::chrono::steady_clock::time_point deadline) const {
  pollfd fds[2] = {{inotify_fd_, POLLIN, 0}, {event_fd_, POLLIN, 0}};
  for (;;) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    const int timeout = static_cast<int>(std::clamp<std::int64_t>(left.count(), 0, 1 << 30));
    const int n = ::poll(fds, 2, timeout);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno("poll (waiting for the WAL to change)");
    if (n == 0) return Woken::kTimeout;
    if (fds[1].revents & POLLIN) {
      std::uint64_t count;
      [[maybe_unused]] ssize_t r = ::read(event_fd_, &count, sizeof count);
      return Woken::kInterrupted;
    }
    // Drain every queued event: the caller re-reads what it watches anyway.
    alignas(inotify_event) char buf[4096];
    while (::read(inotify_fd_, buf, sizeof buf) > 0) {
    }
    return Woken::kChanged;
  }
}

}  // namespace shardwal
