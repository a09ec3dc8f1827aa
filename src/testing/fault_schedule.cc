// SPDX-License-Identifier: Apache-2.0
#include "shardwal/testing/fault_schedule.h"

#include <algorithm>
#include <cerrno>
#include <string_view>
#include <system_error>

namespace shardwal {
namespace {

using Op = FaultOp;

std::string_view OpName(Op op) {
  switch (op) {
    case Op::kWrite: return "write";
    case Op::kSync: return "sync";
    case Op::kCreate: return "create";
    case Op::kSyncDir: return "syncdir";
    case Op::kRename: return "rename";
    case Op::kDelete: return "delete";
    case Op::kCreateDir: return "createdirs";
    case Op::kLock: return "lock";
    case Op::kTruncate: return "truncate";
    case Op::kAllocate: return "allocate";
  }
  return "op";
}

// Everything but taking a lock changes what is on disk.
bool IsMutating(Op op) { return op != Op::kLock; }

// "<op> <path>: <what>", carrying `err`.
Status OpError(Op op, const std::string& path, std::string_view what, int err) {
  return Status::IOError(std::string(OpName(op)) + " " + path + ": " + std::string(what), err);
}

Status PowerLossError(Op op, const std::string& path) { return OpError(op, path, "simulated power loss", EIO); }

bool Contains(const std::string& path, const std::string& filter) { return path.find(filter) != std::string::npos; }

}  // namespace

void FaultSchedule::InjectFault(Op op, std::uint64_t nth, int err, std::string path_filter, bool sticky) {
  std::lock_guard lock(mu_);
  faults_.push_back(Fault{op, nth > 0 ? nth - 1 : 0, err, std::move(path_filter), sticky});
}

void FaultSchedule::ClearFaults() {
  std::lock_guard lock(mu_);
  faults_.clear();
}

void FaultSchedule::StallSyncs(std::string path_filter) {
  std::lock_guard lock(mu_);
  stall_filters_.push_back(std::move(path_filter));
}

void FaultSchedule::ResumeSyncs() {
  {
    std::lock_guard lock(mu_);
    stall_filters_.clear();
  }
  stall_cv_.notify_all();
}

void FaultSchedule::Deactivate() {
  std::lock_guard lock(mu_);
  DeactivateLocked();
}

void FaultSchedule::DeactivateLocked() {
  active_ = false;
  stall_cv_.notify_all();  // stalled syncs now fail
}

void FaultSchedule::Restart() {
  std::lock_guard lock(mu_);
  active_ = true;
  crash_at_.reset();
  stall_filters_.clear();  // a stalled device works again
  stall_cv_.notify_all();
}

bool FaultSchedule::active() const {
  std::lock_guard lock(mu_);
  return active_;
}

void FaultSchedule::CrashAfter(std::uint64_t mutating_ops) {
  std::lock_guard lock(mu_);
  crash_at_ = mutating_ops_ + mutating_ops;
  if (mutating_ops > 0) return;
  crash_at_.reset();
  DeactivateLocked();
}

std::uint64_t FaultSchedule::mutating_op_count() const {
  std::lock_guard lock(mu_);
  return mutating_ops_;
}

void FaultSchedule::MutationSucceeded() {
  std::lock_guard lock(mu_);
  ++mutating_ops_;
  if (!crash_at_ || mutating_ops_ < *crash_at_) return;
  crash_at_.reset();
  DeactivateLocked();  // the process "dies" right after this operation
}

// ---- failing and stalling ----

Status FaultSchedule::MaybeFail(Op op, const std::string& path) {
  std::lock_guard lock(mu_);
  if (!active_ && IsMutating(op)) return PowerLossError(op, path);
  std::optional<int> err = ConsumeFaultLocked(op, path);
  if (!err) return Status::OK();
  return OpError(op, path, "injected fault: " + std::generic_category().message(*err), *err);
}

std::optional<int> FaultSchedule::ConsumeFaultLocked(Op op, const std::string& path) {
  std::optional<int> fired;
  for (auto it = faults_.begin(); it != faults_.end();) {
    if (it->op != op || !Contains(path, it->filter)) {
      ++it;
    } else if (it->remaining > 0) {
      --it->remaining;
      ++it;
    } else {
      if (!fired) fired = it->err;
      it = it->sticky ? std::next(it) : faults_.erase(it);
    }
  }
  return fired;
}

Status FaultSchedule::WaitWhileStalled(const std::string& path) {
  std::unique_lock lock(mu_);
  stall_cv_.wait(lock, [&] {
    return !active_ || std::none_of(stall_filters_.begin(), stall_filters_.end(),
                                    [&](const std::string& filter) { return Contains(path, filter); });
  });
  return active_ ? Status::OK() : PowerLossError(Op::kSync, path);
}

}  // namespace shardwal
