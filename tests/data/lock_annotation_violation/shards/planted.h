// SPDX-License-Identifier: Apache-2.0
// A planted violation for LockAnnotationCheckCatchesUnguardedMember: a class
// owning a Mutex with one member (count_) that states no guard. Everything
// else here is a form the lint accepts. Never compiled.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <thread>

#include "src/foundation/mutex.h"

namespace shardwal {

class Planted {
 public:
  struct Config {
    int plain = 0;  // a class without a Mutex: not checked
  };
  Mutex& mu() RETURN_CAPABILITY(mu_) { return mu_; }
  void AddLocked(int n) REQUIRES(mu_) { total_ += n; }
  std::uint64_t total() const { return total_; }

 private:
  const Config config_;
  mutable Mutex mu_;
  CondVar cv_;
  std::uint64_t total_ GUARDED_BY(mu_) = 0;
  int* const cell_ = nullptr;
  std::atomic<std::uint64_t> hits_{0}, misses_{0};
  std::function<void(int)> hook_;  // unguarded: set before Start
  // unguarded: Start and Join only
  std::thread thread_;
  std::uint64_t count_;
};

}  // namespace shardwal
