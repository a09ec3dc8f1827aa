// SPDX-License-Identifier: Apache-2.0
// CompletionQueue: runs OnDurable callbacks, in LSN order, on one thread of
// its own once the durable watermark covers them (or with the WAL's error).
// The thread starts with the first callback and sleeps on a condition
// variable; publishers only touch it when a callback is due.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <queue>
#include <thread>
#include <vector>

#include "shardwal/status.h"
#include "shardwal/types.h"
#include "src/commit/wal_core.h"

namespace shardwal {

class CompletionQueue {
 public:
  using Callback = std::function<void(const Status&)>;

  explicit CompletionQueue(WalCore* core)
      : CompletionQueue(core, [core] { return core->watermark.published(); }, "durable") {}
  // The same over another watermark (the replicated one, R): `watermark`
  // reads it; `what` names it in errors ("became <what>").
  CompletionQueue(WalCore* core, std::function<Lsn()> watermark, const char* what)
      : core_(core), watermark_(std::move(watermark)), what_(what) {}
  ~CompletionQueue() { Stop(); }

  void Add(Lsn lsn, Callback done);

  // The watermark reached `w` (called by the publishing thread).
  void OnPublished(Lsn w);
  // The WAL failed: callbacks above the watermark get its error.
  void OnFailed();

  // Runs what is due, fails the rest with Closed (or the WAL's error), joins.
  void Stop();

 private:
  struct Entry {
    Lsn lsn;
    std::uint64_t seq;  // FIFO among equal LSNs
    Callback done;
    bool operator>(const Entry& o) const { return lsn != o.lsn ? lsn > o.lsn : seq > o.seq; }
  };
  void Run();
  bool DueLocked() const;

  WalCore* core_;
  const std::function<Lsn()> watermark_;
  const char* const what_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> pending_;
  std::atomic<Lsn> min_pending_{DurableWatermark::kNoPending};
  std::uint64_t seq_ = 0;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace shardwal
