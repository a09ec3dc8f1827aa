// SPDX-License-Identifier: Apache-2.0
// A planted thread-safety violation: ThreadSafetyCatchesUnlockedAccess
// compiles this with clang's -Werror=thread-safety and expects the build to
// fail, naming count_ - so we know the analysis really runs. Not part of any
// build otherwise.
#include "src/foundation/mutex.h"

namespace shardwal {

class Counter {
 public:
  void Add() EXCLUDES(mu_) {
    MutexLock lk(&mu_);
    ++count_;  // fine: mu_ is held
  }
  void AddUnlocked() { ++count_; }  // the violation: mu_ is not held

 private:
  Mutex mu_;
  int count_ GUARDED_BY(mu_) = 0;
};

void Use() {
  Counter c;
  c.Add();
  c.AddUnlocked();
}

}  // namespace shardwal
