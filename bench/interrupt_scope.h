// SPDX-License-Identifier: Apache-2.0
// InterruptScope: SIGINT / SIGTERM for the duration of a tool's run.
//
// The handler sets a flag and writes an eventfd (both async-signal-safe),
// so a thread can test the flag between steps or block on the fd (poll)
// instead of polling the flag. SA_RESETHAND: a second Ctrl-C kills the
// process as usual. The previous handlers come back on Restore() or at the
// end of the scope. One scope at a time (the state is process-wide, as
// signal dispositions are).
#pragma once

#include <atomic>

namespace shardwal::tools {

class InterruptScope {
 public:
  InterruptScope();
  ~InterruptScope() { Restore(); }
  InterruptScope(const InterruptScope&) = delete;
  InterruptScope& operator=(const InterruptScope&) = delete;

  // Puts the previous handlers back (idempotent).
  void Restore();

  // True once a signal arrived in the current (or the last) scope.
  static const std::atomic<bool>& Flag();
  static bool Interrupted() { return Flag().load(std::memory_order_relaxed); }
  // Readable once a signal arrived; -1 outside a scope.
  static int EventFd();

 private:
  bool restored_ = false;
};

}  // namespace shardwal::tools
