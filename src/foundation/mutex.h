// SPDX-License-Identifier: Apache-2.0
// Mutex, MutexLock and CondVar: std::mutex, std::unique_lock and
// std::condition_variable with clang's thread-safety attributes
// (thread_annotations.h), which libstdc++'s own types do not carry. Each
// wraps the standard type and forwards to it inline: the generated code is
// the standard library's (the append path and the flush thread lock and wait
// exactly as they did with std::mutex).
//
//   Mutex mu_;
//   CondVar cv_;
//   int n_ GUARDED_BY(mu_) = 0;
//
//   void Add() EXCLUDES(mu_) {
//     MutexLock lk(&mu_);       // held until the end of the scope
//     ++n_;
//     cv_.NotifyOne();
//   }
//   void WaitPositive() EXCLUDES(mu_) {
//     MutexLock lk(&mu_);
//     while (n_ <= 0) cv_.Wait(lk);  // lets go of mu_ while asleep
//   }
//
// MutexLock may be let go of and taken again inside its scope (Unlock /
// Lock, as std::unique_lock): the analysis follows that too.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "src/foundation/thread_annotations.h"

namespace shardwal {

class CondVar;
class MutexLock;

class CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ACQUIRE() { mu_.lock(); }
  void Unlock() RELEASE() { mu_.unlock(); }
  bool TryLock() TRY_ACQUIRE(true) { return mu_.try_lock(); }
  // Tells the analysis that the caller holds this mutex where it cannot see
  // it taken (e.g. several locks kept in a container). Checks nothing at run
  // time.
  void AssertHeld() const ASSERT_CAPABILITY(this) {}

 private:
  friend class MutexLock;
  std::mutex mu_;
};

// Holds a Mutex for its scope (std::unique_lock underneath).
class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ACQUIRE(mu) : lk_(mu->mu_) {}
  ~MutexLock() RELEASE() {}
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;
  // Movable, so that a caller can hold several (AppendBatch keeps one per
  // shard in a vector); the analysis cannot follow a moved lock, so such a
  // caller states what it holds with Mutex::AssertHeld.
  MutexLock(MutexLock&&) noexcept = default;

  // Lets go of the mutex before the end of the scope; Lock takes it again.
  void Unlock() RELEASE() { lk_.unlock(); }
  void Lock() ACQUIRE() { lk_.lock(); }

 private:
  friend class CondVar;
  std::unique_lock<std::mutex> lk_;
};

// A condition variable waited on with a MutexLock held: std::condition_variable
// on the Mutex's std::mutex (no extra lock, unlike std::condition_variable_any).
// The caller holds the lock before and after each wait, as the analysis
// assumes; spurious wake-ups happen, so wait in a loop.
class CondVar {
 public:
  void Wait(MutexLock& lk) { cv_.wait(lk.lk_); }
  template <typename Clock, typename Duration>
  std::cv_status WaitUntil(MutexLock& lk, const std::chrono::time_point<Clock, Duration>& deadline) {
    return cv_.wait_until(lk.lk_, deadline);
  }
  void NotifyOne() noexcept { cv_.notify_one(); }
  void NotifyAll() noexcept { cv_.notify_all(); }

 private:
  std::condition_variable cv_;
};

}  // namespace shardwal
