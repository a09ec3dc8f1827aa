// SPDX-License-Identifier: Apache-2.0
// FaultSchedule: which file-system operations fail, stall or "crash", for
// FaultInjectionFileSystem (fault_injection_file_system.h), which asks it
// before every operation it forwards:
//
//  * fail the Nth write / sync / allocate / create / ... (optionally only on
//    paths that contain a substring) with a chosen errno, once or from then on;
//  * stall syncs on matching paths until released (a shard that stops making
//    progress);
//  * "kill the process" after the Nth mutating operation (CrashAfter), for
//    crash-at-every-step tests; Deactivate() does it at once.
//
// Threading: every method may be called from any thread (one mutex).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "shardwal/status.h"
#include "shardwal/testing/export.h"

namespace shardwal {

// The operations a fault can target. kRename matches a filter against
// "<from> -> <to>".
enum class FaultOp { kWrite, kSync, kCreate, kSyncDir, kRename, kDelete, kCreateDir, kLock, kTruncate, kAllocate };

class SHARDWAL_TESTING_EXPORT FaultSchedule {
 public:
  using Op = FaultOp;

  // Make the `nth` (1-based, counted from this call) `op` on a path containing
  // `path_filter` ("" matches all) fail with `err`. With `sticky`, that one
  // and every later matching op fails. Returns IOError carrying `err` and a
  // message naming the path and "injected".
  void InjectFault(Op op, std::uint64_t nth, int err, std::string path_filter = "", bool sticky = false);
  void ClearFaults();

  // While stalled, Sync() on a path containing `path_filter` blocks (on a
  // condition variable) until ResumeSyncs() is called, or fails with EIO when
  // Deactivate() is called (so a stalled WAL can be torn down).
  void StallSyncs(std::string path_filter);
  void ResumeSyncs();

  // Power loss, step 1: from now on every mutating operation (write, sync,
  // allocate, truncate, create, rename, delete, dir sync, dir creation) fails
  // with EIO ("simulated power loss"), so the code under test can be torn
  // down without it persisting anything more.
  void Deactivate();
  bool active() const;

  // A crash point: after `mutating_ops` more mutating operations (as listed
  // for Deactivate) have succeeded, the schedule deactivates itself, so the
  // next one fails as after Deactivate(). 0 deactivates at once. Count a
  // scenario's operations with mutating_op_count(), then rerun it with
  // CrashAfter(k) for every k. With several threads, an operation that had
  // already started when the count was reached may still complete (as a
  // syscall racing with a real crash would). Restart disarms it.
  void CrashAfter(std::uint64_t mutating_ops);
  // Mutating operations that succeeded since construction (failed ones,
  // injected or not, do not count).
  std::uint64_t mutating_op_count() const;

  // The machine restarted after a power loss: active again, no crash point
  // armed, no sync stalled. Injected faults stay.
  void Restart();

  // Before an operation: the injected (or power-loss) failure for `op` on
  // `path`, or OK. Counts the op against the matching faults.
  Status MaybeFail(Op op, const std::string& path);
  // Blocks while a stall filter matches `path`; fails if the schedule is
  // deactivated meanwhile.
  Status WaitWhileStalled(const std::string& path);
  // After a mutating operation succeeded: counts it; fires the crash point.
  void MutationSucceeded();

 private:
  struct Fault {
    Op op;
    std::uint64_t remaining;  // matching ops to let through before failing
    int err;
    std::string filter;
    bool sticky;
  };
  // The errno of the fault that fires for this op, if one does. Needs mu_.
  std::optional<int> ConsumeFaultLocked(Op op, const std::string& path);
  // active_ = false, and stalled syncs fail. Needs mu_.
  void DeactivateLocked();

  mutable std::mutex mu_;
  std::condition_variable stall_cv_;
  std::vector<Fault> faults_;
  std::vector<std::string> stall_filters_;
  bool active_ = true;
  std::uint64_t mutating_ops_ = 0;
  std::optional<std::uint64_t> crash_at_;  // mutating_ops_ value that deactivates
};

}  // namespace shardwal
