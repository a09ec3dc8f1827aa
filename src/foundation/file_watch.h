// SPDX-License-Identifier: Apache-2.0
// FileWatch: sleeps until something changes in a directory (inotify), a
// deadline passes, or another thread calls Interrupt (an eventfd in the same
// poll set). For log tailers in other processes, which follow a WAL through
// its <dir>/WATERMARK file without polling it.
//
// Events are queued from construction on, so a change made between a
// reader's last look at the file and its Wait is not lost: Wait returns at
// once. Linux only; the FileSystem seam does I/O, not notification, so this
// watches the real directory.
#pragma once

#include <chrono>
#include <string>

#include "shardwal/status.h"

namespace shardwal {

class FileWatch {
 public:
  // Watches `dir` for files created, modified, written and closed, or moved
  // into it.
  static Result<FileWatch> Open(const std::string& dir);
  FileWatch(FileWatch&& other) noexcept;
  FileWatch& operator=(FileWatch&&) = delete;
  FileWatch(const FileWatch&) = delete;
  ~FileWatch();

  enum class Woken { kChanged, kInterrupted, kTimeout };
  // Blocks until a change, Interrupt or `deadline`; consumes what woke it.
  Result<Woken> Wait(std::chrono::steady_clock::time_point deadline) const;
  // Wakes a Wait (or makes the next one return at once). Any thread.
  void Interrupt() const;

 private:
  FileWatch(int inotify_fd, int event_fd) : inotify_fd_(inotify_fd), event_fd_(event_fd) {}
  int inotify_fd_ = -1;
  int event_fd_ = -1;
};

}  // namespace shardwal
